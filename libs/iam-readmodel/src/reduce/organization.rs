//! The reducer of an organization's stream: one `organizations.*` event in, its row changes out.
//! Pure, and it mirrors `evolve_organization` table by table (the test
//! `organization_read_model_equals_domain_state` checks the two agree after every event).
//!
//! Some events change rows they do not name: enabling a policy type attaches the type's
//! AWS-managed full-access policy (`p-FullAWSAccess`, `p-RCPFullAWSAccess`) to the root and to
//! every OU and account; creating an OU or adding an account attaches the full-access policy of
//! every enabled type to it; disabling a type detaches every policy of that type. The reducer
//! sees one event and no rows, so these become set-based changes:
//!
//! - the copies are [`RowChange::Insert`]s that select what they attach to: the OU and account
//!   rows for "everywhere", the enabled-type row for "if the type is enabled" (no row selected,
//!   nothing attached);
//! - an attachment carries its policy's type (copied from the policy row when it is attached),
//!   so "every attachment of the type" is a delete by key columns.
//!
//! The implicit attachments are therefore ordinary rows: `rm_organization_policy_attachments`
//! is exactly `targets_for_policy` for every policy, and readers need no rule of their own. (The
//! alternative, leaving them out and having every reader add "full access wherever the type is
//! enabled", breaks as soon as `FullAWSAccess` is detached from one node, which AWS allows.)
//!
//! Where an event only makes sense in a state `decide` checked (attaching a policy that exists),
//! a stream that broke that rule would project differently from `evolve`; streams written
//! through `decide_organization` do not break it.

use iam_domain::organization::{
    AwsManagedOrgPolicy, Handshake, MemberAccount, OrgPolicy, OrgPolicyType, OrganizationalUnit,
    AWS_MANAGED_ORG_POLICIES,
};
use iam_domain::DomainEvent;

use crate::change::{timestamp, Columns, RowChange, Select, Source, SqlValue};

const ORGANIZATIONS: &str = "rm_organizations";
const ROOTS: &str = "rm_organization_roots";
const POLICY_TYPES: &str = "rm_organization_policy_types";
const UNITS: &str = "rm_organizational_units";
const ACCOUNTS: &str = "rm_organization_accounts";
const POLICIES: &str = "rm_organization_policies";
const ATTACHMENTS: &str = "rm_organization_policy_attachments";
const HANDSHAKES: &str = "rm_organization_handshakes";
const DELEGATES: &str = "rm_organization_delegated_administrators";

fn text(value: impl AsRef<str>) -> SqlValue {
    SqlValue::Text(value.as_ref().to_owned())
}

fn flag(value: bool) -> SqlValue {
    SqlValue::Int(i64::from(value))
}

/// The organization's key with more columns.
fn key(org: &str, columns: &[(&'static str, &str)]) -> Columns {
    let mut key = vec![("organization_id", text(org))];
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

fn unit_row(org: &str, unit: &OrganizationalUnit) -> RowChange {
    upsert(
        UNITS,
        key(org, &[("ou_id", &unit.id)]),
        vec![
            ("arn", text(&unit.arn)),
            ("name", text(&unit.name)),
            ("parent_id", text(&unit.parent_id)),
        ],
    )
}

fn account_row(org: &str, account: &MemberAccount) -> RowChange {
    upsert(
        ACCOUNTS,
        key(org, &[("account_id", &account.id)]),
        vec![
            ("arn", text(&account.arn)),
            ("name", text(&account.name)),
            ("email", text(&account.email)),
            ("parent_id", text(&account.parent_id)),
            ("status", text(account.status.as_str())),
            ("joined_method", text(account.joined_method.as_str())),
            ("joined", timestamp(account.joined)),
        ],
    )
}

fn policy_row(org: &str, policy: &OrgPolicy) -> RowChange {
    upsert(
        POLICIES,
        key(org, &[("policy_id", &policy.id)]),
        vec![
            ("arn", text(&policy.arn)),
            ("name", text(&policy.name)),
            ("description", text(&policy.description)),
            ("policy_type", text(policy.policy_type.as_str())),
            ("content", text(&policy.content)),
            ("aws_managed", flag(policy.aws_managed)),
            ("revision", i64::from(policy.revision).into()),
        ],
    )
}

/// An AWS-managed policy's row, as `evolve_organization` makes it when the organization is created.
fn aws_managed_row(org: &str, policy: &AwsManagedOrgPolicy) -> RowChange {
    upsert(
        POLICIES,
        key(org, &[("policy_id", policy.id)]),
        vec![
            ("arn", text(policy.arn())),
            ("name", text(policy.name)),
            ("description", text(policy.description)),
            ("policy_type", text(policy.policy_type.as_str())),
            ("content", text(policy.content)),
            ("aws_managed", flag(true)),
            ("revision", SqlValue::Int(1)),
        ],
    )
}

fn handshake_row(org: &str, handshake: &Handshake) -> RowChange {
    upsert(
        HANDSHAKES,
        key(org, &[("handshake_id", &handshake.id)]),
        vec![
            ("arn", text(&handshake.arn)),
            ("target_account_id", text(&handshake.target_account_id)),
            ("notes", handshake.notes.as_deref().into()),
            ("state", text(handshake.state.as_str())),
            ("requested", timestamp(handshake.requested)),
            ("expiration", timestamp(handshake.expiration)),
        ],
    )
}

fn handshake_state(org: &str, id: &str, state: &str) -> RowChange {
    update(
        HANDSHAKES,
        key(org, &[("handshake_id", id)]),
        vec![("state", text(state))],
    )
}

/// Attaches to `target` the full-access policy of every type that is enabled: per type with such
/// a policy, one attachment per enabled-type row selected (none or one).
fn full_access_if_enabled(org: &str, target: &str) -> Vec<RowChange> {
    OrgPolicyType::ALL
        .into_iter()
        .filter_map(|policy_type| Some((policy_type, policy_type.full_access_policy()?)))
        .map(|(policy_type, full)| RowChange::Insert {
            table: ATTACHMENTS,
            columns: vec![
                ("organization_id", Source::Column("organization_id")),
                ("policy_id", Source::Value(text(full.id))),
                ("target_id", Source::Value(text(target))),
                ("policy_type", Source::Column("policy_type")),
            ],
            from: Some(Select {
                table: POLICY_TYPES,
                filter: key(org, &[("policy_type", policy_type.as_str())]),
            }),
        })
        .collect()
}

/// Attaches `policy_id` of `policy_type` to every row of `table`, whose id is in `id_column`.
fn attach_to_every(
    org: &str,
    policy_id: &str,
    policy_type: OrgPolicyType,
    table: &'static str,
    id_column: &'static str,
) -> RowChange {
    RowChange::Insert {
        table: ATTACHMENTS,
        columns: vec![
            ("organization_id", Source::Column("organization_id")),
            ("policy_id", Source::Value(text(policy_id))),
            ("target_id", Source::Column(id_column)),
            ("policy_type", Source::Value(text(policy_type.as_str()))),
        ],
        from: Some(Select {
            table,
            filter: key(org, &[]),
        }),
    }
}

/// The row changes an organization event makes in organization `org`'s read model; `None` for an
/// event that is not an organization's.
#[must_use]
pub fn reduce_organization(org: &str, event: &DomainEvent) -> Option<Vec<RowChange>> {
    let changes = match event {
        DomainEvent::OrganizationCreated(e) => {
            let info = &e.organization;
            let mut changes = vec![
                upsert(
                    ORGANIZATIONS,
                    key(org, &[]),
                    vec![
                        ("arn", text(&info.arn)),
                        ("management_account_id", text(&info.management_account_id)),
                        ("management_account_email", text(&info.management_account_email)),
                        ("feature_set", text(&info.feature_set)),
                        ("created", timestamp(info.created)),
                        ("deleted", flag(false)),
                    ],
                ),
                upsert(
                    ROOTS,
                    key(org, &[("root_id", &e.root_id)]),
                    vec![("arn", text(&e.root_arn)), ("name", text("Root"))],
                ),
            ];
            changes.extend(AWS_MANAGED_ORG_POLICIES.iter().map(|p| aws_managed_row(org, p)));
            changes.push(account_row(org, &e.management_account));
            changes
        }
        // The organization stays, flagged, with its policies and handshakes; its tree goes.
        DomainEvent::OrganizationDeleted(_) => {
            let mut changes = vec![update(ORGANIZATIONS, key(org, &[]), vec![("deleted", flag(true))])];
            changes.extend(
                [ROOTS, POLICY_TYPES, UNITS, ACCOUNTS, ATTACHMENTS, DELEGATES]
                    .into_iter()
                    .map(|table| delete(table, key(org, &[]))),
            );
            changes
        }
        DomainEvent::OrganizationalUnitCreated(e) => {
            let mut changes = vec![unit_row(org, &e.unit)];
            changes.extend(full_access_if_enabled(org, &e.unit.id));
            changes
        }
        DomainEvent::OrganizationalUnitRenamed(e) => vec![unit_row(org, &e.unit)],
        DomainEvent::OrganizationalUnitDeleted(e) => vec![
            delete(UNITS, key(org, &[("ou_id", &e.id)])),
            delete(ATTACHMENTS, key(org, &[("target_id", &e.id)])),
        ],
        DomainEvent::OrganizationAccountJoined(e) => {
            let mut changes = vec![account_row(org, &e.account)];
            changes.extend(full_access_if_enabled(org, &e.account.id));
            if let Some(handshake) = &e.handshake_id {
                changes.push(handshake_state(org, handshake, "ACCEPTED"));
            }
            changes
        }
        DomainEvent::OrganizationAccountMoved(e) => vec![update(
            ACCOUNTS,
            key(org, &[("account_id", &e.account_id)]),
            vec![("parent_id", text(&e.destination_parent_id))],
        )],
        DomainEvent::OrganizationAccountRemoved(e) => vec![
            delete(ACCOUNTS, key(org, &[("account_id", &e.account_id)])),
            delete(ATTACHMENTS, key(org, &[("target_id", &e.account_id)])),
            delete(DELEGATES, key(org, &[("account_id", &e.account_id)])),
        ],
        DomainEvent::OrganizationAccountClosed(e) => vec![update(
            ACCOUNTS,
            key(org, &[("account_id", &e.account_id)]),
            vec![("status", text("SUSPENDED"))],
        )],
        DomainEvent::OrganizationPolicyCreated(e) | DomainEvent::OrganizationPolicyUpdated(e) => {
            vec![policy_row(org, &e.policy)]
        }
        DomainEvent::OrganizationPolicyDeleted(e) => vec![delete(POLICIES, key(org, &[("policy_id", &e.policy_id)]))],
        // The attachment takes the policy's type from its row.
        DomainEvent::OrganizationPolicyAttached(e) => vec![RowChange::Insert {
            table: ATTACHMENTS,
            columns: vec![
                ("organization_id", Source::Column("organization_id")),
                ("policy_id", Source::Column("policy_id")),
                ("target_id", Source::Value(text(&e.target_id))),
                ("policy_type", Source::Column("policy_type")),
            ],
            from: Some(Select {
                table: POLICIES,
                filter: key(org, &[("policy_id", &e.policy_id)]),
            }),
        }],
        DomainEvent::OrganizationPolicyDetached(e) => vec![delete(
            ATTACHMENTS,
            key(org, &[("policy_id", &e.policy_id), ("target_id", &e.target_id)]),
        )],
        DomainEvent::OrganizationPolicyTypeEnabled(e) => {
            let policy_type = e.policy_type;
            let mut changes = vec![upsert(
                POLICY_TYPES,
                key(org, &[("root_id", &e.root_id), ("policy_type", policy_type.as_str())]),
                vec![],
            )];
            if let Some(full) = policy_type.full_access_policy() {
                changes.push(upsert(
                    ATTACHMENTS,
                    key(org, &[("policy_id", full.id), ("target_id", &e.root_id)]),
                    vec![("policy_type", text(policy_type.as_str()))],
                ));
                changes.push(attach_to_every(org, full.id, policy_type, UNITS, "ou_id"));
                changes.push(attach_to_every(org, full.id, policy_type, ACCOUNTS, "account_id"));
            }
            changes
        }
        DomainEvent::OrganizationPolicyTypeDisabled(e) => {
            let of_type = key(org, &[("policy_type", e.policy_type.as_str())]);
            vec![delete(POLICY_TYPES, of_type.clone()), delete(ATTACHMENTS, of_type)]
        }
        DomainEvent::OrganizationHandshakeOpened(e) => vec![handshake_row(org, &e.handshake)],
        DomainEvent::OrganizationHandshakeDeclined(e) => vec![handshake_state(org, &e.handshake_id, "DECLINED")],
        DomainEvent::OrganizationHandshakeCanceled(e) => vec![handshake_state(org, &e.handshake_id, "CANCELED")],
        // An account already delegated keeps the time it first was: the new service's row copies
        // it from the account's other rows; only a first registration takes the event's time.
        DomainEvent::OrganizationDelegatedAdministratorRegistered(e) => vec![
            RowChange::Insert {
                table: DELEGATES,
                columns: vec![
                    ("organization_id", Source::Column("organization_id")),
                    ("account_id", Source::Column("account_id")),
                    ("service_principal", Source::Value(text(&e.service_principal))),
                    ("registered", Source::Column("registered")),
                ],
                from: Some(Select {
                    table: DELEGATES,
                    filter: key(org, &[("account_id", &e.account_id)]),
                }),
            },
            RowChange::Insert {
                table: DELEGATES,
                columns: vec![
                    ("organization_id", Source::Value(text(org))),
                    ("account_id", Source::Value(text(&e.account_id))),
                    ("service_principal", Source::Value(text(&e.service_principal))),
                    ("registered", Source::Value(timestamp(e.at))),
                ],
                from: None,
            },
        ],
        DomainEvent::OrganizationDelegatedAdministratorDeregistered(e) => vec![delete(
            DELEGATES,
            key(
                org,
                &[
                    ("account_id", &e.account_id),
                    ("service_principal", &e.service_principal),
                ],
            ),
        )],
        _ => return None,
    };
    Some(changes)
}
