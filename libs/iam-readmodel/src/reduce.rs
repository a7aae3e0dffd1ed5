//! The reducer: one domain event in, the row changes it implies out. Pure.
//!
//! It mirrors `iam_domain::evolve` table by table for an account's stream, and
//! `evolve_organization` for an organization's ([`organization`]); the tests
//! `live_projection_equals_rebuild_and_domain_state` and `organization_read_model_equals_domain_state`
//! check they agree.

mod organization;

pub use organization::reduce_organization;

use iam_domain::{
    AccessKeyOwner, BoundaryPut, DomainEvent, EntityRef, InlinePolicyDeleted, InlinePolicyPut, PolicyAttachment,
    Tagged, Untagged,
};
use iam_types::{Tag, UniqueId};

use crate::change::{timestamp, Columns, RowChange, SqlValue};

fn text(value: impl AsRef<str>) -> SqlValue {
    SqlValue::Text(value.as_ref().to_owned())
}

fn key(account: &str, columns: &[(&'static str, &str)]) -> Columns {
    let mut key = vec![("account_id", text(account))];
    key.extend(columns.iter().map(|(column, value)| (*column, text(value))));
    key
}

fn upsert(table: &'static str, key: Columns, values: Columns) -> RowChange {
    RowChange::Upsert { table, key, values }
}

fn update(table: &'static str, filter: Columns, set: Columns) -> RowChange {
    RowChange::Update { table, filter, set }
}

fn delete(table: &'static str, filter: Columns) -> RowChange {
    RowChange::Delete { table, filter }
}

fn tag_rows(account: &str, resource: &UniqueId, tags: &[Tag]) -> Vec<RowChange> {
    tags.iter()
        .map(|tag| {
            upsert(
                "rm_tags",
                key(account, &[("resource_id", resource.as_str()), ("tag_key", tag.key())]),
                vec![("tag_value", text(tag.value()))],
            )
        })
        .collect()
}

/// Everything that hangs off an entity and disappears with it.
fn delete_dependents(account: &str, id: &UniqueId) -> Vec<RowChange> {
    vec![
        delete("rm_tags", key(account, &[("resource_id", id.as_str())])),
        delete("rm_attached_policies", key(account, &[("principal_id", id.as_str())])),
        delete("rm_inline_policies", key(account, &[("principal_id", id.as_str())])),
    ]
}

fn tagged(account: &str, e: &Tagged) -> Vec<RowChange> {
    tag_rows(account, &e.id, &e.tags)
}

fn untagged(account: &str, e: &Untagged) -> Vec<RowChange> {
    e.tag_keys
        .iter()
        .map(|k| {
            delete(
                "rm_tags",
                key(account, &[("resource_id", e.id.as_str()), ("tag_key", k)]),
            )
        })
        .collect()
}

fn boundary(table: &'static str, id_column: &'static str, account: &str, id: &UniqueId, arn: SqlValue) -> RowChange {
    update(
        table,
        key(account, &[(id_column, id.as_str())]),
        vec![("permissions_boundary_arn", arn)],
    )
}

fn boundary_put(table: &'static str, id_column: &'static str, account: &str, e: &BoundaryPut) -> Vec<RowChange> {
    vec![boundary(
        table,
        id_column,
        account,
        &e.id,
        text(e.permissions_boundary.to_string()),
    )]
}

fn boundary_deleted(table: &'static str, id_column: &'static str, account: &str, e: &EntityRef) -> Vec<RowChange> {
    vec![boundary(table, id_column, account, &e.id, SqlValue::Null)]
}

fn attached(account: &str, e: &PolicyAttachment) -> Vec<RowChange> {
    vec![upsert(
        "rm_attached_policies",
        key(
            account,
            &[
                ("principal_id", e.principal_id.as_str()),
                ("policy_arn", &e.policy_arn.to_string()),
            ],
        ),
        vec![],
    )]
}

fn detached(account: &str, e: &PolicyAttachment) -> Vec<RowChange> {
    vec![delete(
        "rm_attached_policies",
        key(
            account,
            &[
                ("principal_id", e.principal_id.as_str()),
                ("policy_arn", &e.policy_arn.to_string()),
            ],
        ),
    )]
}

fn inline_put(account: &str, e: &InlinePolicyPut) -> Vec<RowChange> {
    vec![upsert(
        "rm_inline_policies",
        key(
            account,
            &[
                ("principal_id", e.principal_id.as_str()),
                ("policy_name", e.policy_name.as_str()),
            ],
        ),
        vec![("document", text(&e.policy_document))],
    )]
}

fn inline_deleted(account: &str, e: &InlinePolicyDeleted) -> Vec<RowChange> {
    vec![delete(
        "rm_inline_policies",
        key(
            account,
            &[
                ("principal_id", e.principal_id.as_str()),
                ("policy_name", e.policy_name.as_str()),
            ],
        ),
    )]
}

/// The row changes `event` makes in the read model of its stream, `account` (an account id, or an
/// organization id for an organization's events).
#[must_use]
pub fn reduce(account: &str, event: &DomainEvent) -> Vec<RowChange> {
    match event {
        DomainEvent::AccountCreated(e) => vec![upsert(
            "rm_accounts",
            key(account, &[]),
            vec![
                ("account_alias", e.account_alias.as_deref().into()),
                ("create_date", timestamp(e.create_date)),
            ],
        )],
        DomainEvent::UserCreated(e) => {
            let mut changes = vec![upsert(
                "rm_users",
                key(account, &[("user_id", e.user_id.as_str())]),
                vec![
                    ("user_name", text(e.user_name.as_str())),
                    ("path", text(e.path.as_str())),
                    ("arn", text(e.arn.to_string())),
                    ("create_date", timestamp(e.create_date)),
                    (
                        "permissions_boundary_arn",
                        e.permissions_boundary.as_ref().map(ToString::to_string).into(),
                    ),
                ],
            )];
            changes.extend(tag_rows(account, &e.user_id, &e.tags));
            changes
        }
        DomainEvent::UserUpdated(e) => vec![update(
            "rm_users",
            key(account, &[("user_id", e.id.as_str())]),
            vec![
                ("user_name", text(e.new_name.as_str())),
                ("path", text(e.new_path.as_str())),
                ("arn", text(e.new_arn.to_string())),
            ],
        )],
        DomainEvent::UserDeleted(e) => {
            let mut changes = vec![
                delete("rm_users", key(account, &[("user_id", e.id.as_str())])),
                delete("rm_group_members", key(account, &[("user_id", e.id.as_str())])),
            ];
            changes.extend(delete_dependents(account, &e.id));
            changes
        }
        DomainEvent::UserTagged(e)
        | DomainEvent::RoleTagged(e)
        | DomainEvent::PolicyTagged(e)
        | DomainEvent::InstanceProfileTagged(e) => tagged(account, e),
        DomainEvent::UserUntagged(e)
        | DomainEvent::RoleUntagged(e)
        | DomainEvent::PolicyUntagged(e)
        | DomainEvent::InstanceProfileUntagged(e) => untagged(account, e),
        DomainEvent::InstanceProfileCreated(e) => {
            let mut changes = vec![upsert(
                "rm_instance_profiles",
                key(account, &[("instance_profile_id", e.instance_profile_id.as_str())]),
                vec![
                    ("instance_profile_name", text(e.instance_profile_name.as_str())),
                    ("path", text(e.path.as_str())),
                    ("arn", text(e.arn.to_string())),
                    ("create_date", timestamp(e.create_date)),
                ],
            )];
            changes.extend(tag_rows(account, &e.instance_profile_id, &e.tags));
            changes
        }
        DomainEvent::InstanceProfileDeleted(e) => vec![
            delete(
                "rm_instance_profiles",
                key(account, &[("instance_profile_id", e.id.as_str())]),
            ),
            delete(
                "rm_instance_profile_roles",
                key(account, &[("instance_profile_id", e.id.as_str())]),
            ),
            delete("rm_tags", key(account, &[("resource_id", e.id.as_str())])),
        ],
        DomainEvent::InstanceProfileRoleAdded(e) => vec![upsert(
            "rm_instance_profile_roles",
            key(
                account,
                &[
                    ("instance_profile_id", e.instance_profile_id.as_str()),
                    ("role_id", e.role_id.as_str()),
                ],
            ),
            vec![],
        )],
        DomainEvent::InstanceProfileRoleRemoved(e) => vec![delete(
            "rm_instance_profile_roles",
            key(
                account,
                &[
                    ("instance_profile_id", e.instance_profile_id.as_str()),
                    ("role_id", e.role_id.as_str()),
                ],
            ),
        )],
        DomainEvent::UserPermissionsBoundaryPut(e) => boundary_put("rm_users", "user_id", account, e),
        DomainEvent::UserPermissionsBoundaryDeleted(e) => boundary_deleted("rm_users", "user_id", account, e),
        DomainEvent::RolePermissionsBoundaryPut(e) => boundary_put("rm_roles", "role_id", account, e),
        DomainEvent::RolePermissionsBoundaryDeleted(e) => boundary_deleted("rm_roles", "role_id", account, e),
        DomainEvent::UserPolicyAttached(e)
        | DomainEvent::GroupPolicyAttached(e)
        | DomainEvent::RolePolicyAttached(e) => attached(account, e),
        DomainEvent::UserPolicyDetached(e)
        | DomainEvent::GroupPolicyDetached(e)
        | DomainEvent::RolePolicyDetached(e) => detached(account, e),
        DomainEvent::UserInlinePolicyPut(e)
        | DomainEvent::GroupInlinePolicyPut(e)
        | DomainEvent::RoleInlinePolicyPut(e) => inline_put(account, e),
        DomainEvent::UserInlinePolicyDeleted(e)
        | DomainEvent::GroupInlinePolicyDeleted(e)
        | DomainEvent::RoleInlinePolicyDeleted(e) => inline_deleted(account, e),
        DomainEvent::GroupCreated(e) => vec![upsert(
            "rm_groups",
            key(account, &[("group_id", e.group_id.as_str())]),
            vec![
                ("group_name", text(e.group_name.as_str())),
                ("path", text(e.path.as_str())),
                ("arn", text(e.arn.to_string())),
                ("create_date", timestamp(e.create_date)),
            ],
        )],
        DomainEvent::GroupUpdated(e) => vec![update(
            "rm_groups",
            key(account, &[("group_id", e.id.as_str())]),
            vec![
                ("group_name", text(e.new_name.as_str())),
                ("path", text(e.new_path.as_str())),
                ("arn", text(e.new_arn.to_string())),
            ],
        )],
        DomainEvent::GroupDeleted(e) => {
            let mut changes = vec![
                delete("rm_groups", key(account, &[("group_id", e.id.as_str())])),
                delete("rm_group_members", key(account, &[("group_id", e.id.as_str())])),
            ];
            changes.extend(delete_dependents(account, &e.id));
            changes
        }
        DomainEvent::GroupMemberAdded(e) => vec![upsert(
            "rm_group_members",
            key(
                account,
                &[("group_id", e.group_id.as_str()), ("user_id", e.user_id.as_str())],
            ),
            vec![],
        )],
        DomainEvent::GroupMemberRemoved(e) => vec![delete(
            "rm_group_members",
            key(
                account,
                &[("group_id", e.group_id.as_str()), ("user_id", e.user_id.as_str())],
            ),
        )],
        DomainEvent::RoleCreated(e) => {
            let mut changes = vec![upsert(
                "rm_roles",
                key(account, &[("role_id", e.role_id.as_str())]),
                vec![
                    ("role_name", text(e.role_name.as_str())),
                    ("path", text(e.path.as_str())),
                    ("arn", text(e.arn.to_string())),
                    ("create_date", timestamp(e.create_date)),
                    ("assume_role_policy_document", text(&e.assume_role_policy_document)),
                    ("description", e.description.as_deref().into()),
                    ("max_session_duration", i64::from(e.max_session_duration).into()),
                    (
                        "permissions_boundary_arn",
                        e.permissions_boundary.as_ref().map(ToString::to_string).into(),
                    ),
                ],
            )];
            changes.extend(tag_rows(account, &e.role_id, &e.tags));
            changes
        }
        DomainEvent::RoleUpdated(e) => vec![update(
            "rm_roles",
            key(account, &[("role_id", e.role_id.as_str())]),
            vec![
                ("description", e.description.as_deref().into()),
                ("max_session_duration", i64::from(e.max_session_duration).into()),
            ],
        )],
        DomainEvent::RoleTrustPolicyUpdated(e) => vec![update(
            "rm_roles",
            key(account, &[("role_id", e.role_id.as_str())]),
            vec![("assume_role_policy_document", text(&e.policy_document))],
        )],
        DomainEvent::RoleDeleted(e) => {
            let mut changes = vec![delete("rm_roles", key(account, &[("role_id", e.id.as_str())]))];
            changes.extend(delete_dependents(account, &e.id));
            changes
        }
        DomainEvent::PolicyCreated(e) => {
            let mut changes = vec![
                upsert(
                    "rm_policies",
                    key(account, &[("policy_id", e.policy_id.as_str())]),
                    vec![
                        ("policy_name", text(e.policy_name.as_str())),
                        ("path", text(e.path.as_str())),
                        ("arn", text(e.arn.to_string())),
                        ("description", e.description.as_deref().into()),
                        ("create_date", timestamp(e.create_date)),
                        ("update_date", timestamp(e.create_date)),
                        ("default_version_id", text(&e.default_version_id)),
                    ],
                ),
                upsert(
                    "rm_policy_versions",
                    key(
                        account,
                        &[
                            ("policy_id", e.policy_id.as_str()),
                            ("version_id", &e.default_version_id),
                        ],
                    ),
                    vec![
                        ("document", text(&e.policy_document)),
                        ("create_date", timestamp(e.create_date)),
                    ],
                ),
            ];
            changes.extend(tag_rows(account, &e.policy_id, &e.tags));
            changes
        }
        DomainEvent::PolicyDeleted(e) => vec![
            delete("rm_policies", key(account, &[("policy_id", e.policy_id.as_str())])),
            delete(
                "rm_policy_versions",
                key(account, &[("policy_id", e.policy_id.as_str())]),
            ),
            delete("rm_tags", key(account, &[("resource_id", e.policy_id.as_str())])),
        ],
        DomainEvent::PolicyVersionCreated(e) => {
            let mut changes = vec![upsert(
                "rm_policy_versions",
                key(
                    account,
                    &[("policy_id", e.policy_id.as_str()), ("version_id", &e.version_id)],
                ),
                vec![
                    ("document", text(&e.policy_document)),
                    ("create_date", timestamp(e.create_date)),
                ],
            )];
            if e.set_as_default {
                changes.push(update(
                    "rm_policies",
                    key(account, &[("policy_id", e.policy_id.as_str())]),
                    vec![
                        ("default_version_id", text(&e.version_id)),
                        ("update_date", timestamp(e.create_date)),
                    ],
                ));
            }
            changes
        }
        DomainEvent::PolicyVersionDeleted(e) => vec![delete(
            "rm_policy_versions",
            key(
                account,
                &[("policy_id", e.policy_id.as_str()), ("version_id", &e.version_id)],
            ),
        )],
        DomainEvent::PolicyDefaultVersionSet(e) => vec![update(
            "rm_policies",
            key(account, &[("policy_id", e.policy_id.as_str())]),
            vec![
                ("default_version_id", text(&e.version_id)),
                ("update_date", timestamp(e.update_date)),
            ],
        )],
        DomainEvent::AccessKeyCreated(e) => vec![upsert(
            "rm_access_keys",
            key(account, &[("access_key_id", e.access_key_id.as_str())]),
            vec![
                ("user_id", owner_id(&e.owner)),
                ("status", text(e.status.as_str())),
                ("create_date", timestamp(e.create_date)),
                ("last_used_date", SqlValue::Null),
                ("last_used_service", SqlValue::Null),
                ("last_used_region", SqlValue::Null),
            ],
        )],
        DomainEvent::AccessKeyStatusUpdated(e) => vec![update(
            "rm_access_keys",
            key(account, &[("access_key_id", e.access_key_id.as_str())]),
            vec![("status", text(e.status.as_str()))],
        )],
        DomainEvent::AccessKeyDeleted(e) => vec![delete(
            "rm_access_keys",
            key(account, &[("access_key_id", e.access_key_id.as_str())]),
        )],
        DomainEvent::AccessKeyUsed(e) => vec![update(
            "rm_access_keys",
            key(account, &[("access_key_id", e.access_key_id.as_str())]),
            vec![
                ("last_used_date", timestamp(e.last_used_date)),
                ("last_used_service", text(&e.service_name)),
                ("last_used_region", text(&e.region)),
            ],
        )],
        // Console passwords, the password policy and MFA devices are credentials: the
        // in-memory model serves them (sign-in and the MFA checks need the sealed values, which
        // no SQL table should copy), and no SQL table holds them yet.
        DomainEvent::LoginProfileCreated(_)
        | DomainEvent::LoginProfileUpdated(_)
        | DomainEvent::LoginProfileDeleted(_)
        | DomainEvent::LoginProfileUsed(_)
        | DomainEvent::PasswordPolicyUpdated(_)
        | DomainEvent::PasswordPolicyDeleted(_)
        | DomainEvent::MfaDeviceCreated(_)
        | DomainEvent::MfaDeviceEnabled(_)
        | DomainEvent::MfaDeviceDeactivated(_)
        | DomainEvent::MfaDeviceResynced(_)
        | DomainEvent::MfaCodeUsed(_)
        | DomainEvent::MfaDeviceDeleted(_)
        | DomainEvent::MfaDeviceTagged(_)
        | DomainEvent::MfaDeviceUntagged(_) => Vec::new(),
        // OIDC providers are served from the in-memory model too (AssumeRoleWithWebIdentity
        // reads them there); no SQL table holds them yet.
        DomainEvent::OidcProviderCreated(_)
        | DomainEvent::OidcProviderUpdated(_)
        | DomainEvent::OidcProviderDeleted(_)
        | DomainEvent::OidcProviderTagged(_)
        | DomainEvent::OidcProviderUntagged(_) => Vec::new(),
        // Organizations' events come from their own streams, keyed by the organization.
        DomainEvent::OrganizationCreated(_)
        | DomainEvent::OrganizationDeleted(_)
        | DomainEvent::OrganizationalUnitCreated(_)
        | DomainEvent::OrganizationalUnitRenamed(_)
        | DomainEvent::OrganizationalUnitDeleted(_)
        | DomainEvent::OrganizationAccountJoined(_)
        | DomainEvent::OrganizationAccountCreationStarted(_)
        | DomainEvent::OrganizationAccountCreationFailed(_)
        | DomainEvent::OrganizationAccountMoved(_)
        | DomainEvent::OrganizationAccountRemoved(_)
        | DomainEvent::OrganizationAccountClosed(_)
        | DomainEvent::OrganizationPolicyCreated(_)
        | DomainEvent::OrganizationPolicyUpdated(_)
        | DomainEvent::OrganizationPolicyDeleted(_)
        | DomainEvent::OrganizationPolicyAttached(_)
        | DomainEvent::OrganizationPolicyDetached(_)
        | DomainEvent::OrganizationPolicyTypeEnabled(_)
        | DomainEvent::OrganizationPolicyTypeDisabled(_)
        | DomainEvent::OrganizationHandshakeOpened(_)
        | DomainEvent::OrganizationHandshakeDeclined(_)
        | DomainEvent::OrganizationHandshakeCanceled(_)
        | DomainEvent::OrganizationDelegatedAdministratorRegistered(_)
        | DomainEvent::OrganizationDelegatedAdministratorDeregistered(_) => {
            reduce_organization(account, event).unwrap_or_default()
        }
    }
}

/// The user id of a key's owner; `NULL` for the root user.
fn owner_id(owner: &AccessKeyOwner) -> SqlValue {
    match owner {
        AccessKeyOwner::Root => SqlValue::Null,
        AccessKeyOwner::User { user_id } => text(user_id.as_str()),
    }
}
