//! `evolve`: applies one event to the account state. Infallible: events are facts, and an event
//! that names something missing (which `decide` never produces) changes nothing but the version.

use std::sync::Arc;

use iam_types::{EntityName, Tag};

use crate::credentials::{self, LoginProfile, MfaDevice};
use crate::event::*;
use crate::oidc::OidcProvider;
use crate::state::*;

/// Applies `event` to `state` and advances the stream version by one.
pub fn evolve(state: &mut AccountState, event: &DomainEvent) {
    state.version += 1;
    match event {
        DomainEvent::AccountCreated(e) => {
            state.account = Some(AccountInfo {
                account_id: e.account_id.clone(),
                account_alias: e.account_alias.clone(),
                create_date: e.create_date,
            });
        }
        DomainEvent::UserCreated(e) => {
            state.issued_ids.insert(e.user_id.clone());
            state.users.insert(
                e.user_name.key(),
                Arc::new(User {
                    user_id: e.user_id.clone(),
                    user_name: e.user_name.clone(),
                    path: e.path.clone(),
                    arn: e.arn.clone(),
                    create_date: e.create_date,
                    permissions_boundary: e.permissions_boundary.clone().map(Box::new),
                    tags: e.tags.clone(),
                    permissions: Permissions::default(),
                    login_profile: None,
                }),
            );
        }
        DomainEvent::UserUpdated(e) => {
            if let Some(mut user) = state.users.remove(&e.name.key()).map(Arc::unwrap_or_clone) {
                user.user_name = e.new_name.clone();
                user.path = e.new_path.clone();
                user.arn = e.new_arn.clone();
                state.users.insert(e.new_name.key(), Arc::new(user));
            }
        }
        DomainEvent::UserDeleted(e) => {
            state.users.remove(&e.name.key());
            for group in state.groups.values_mut() {
                // Only groups the user was in are copied (the others stay shared).
                if group.members.contains(&e.id) {
                    Arc::make_mut(group).members.remove(&e.id);
                }
            }
        }
        DomainEvent::UserTagged(e) => {
            if let Some(user) = state.users.get_mut(&e.name.key()).map(Arc::make_mut) {
                add_tags(&mut user.tags, &e.tags);
            }
        }
        DomainEvent::UserUntagged(e) => {
            if let Some(user) = state.users.get_mut(&e.name.key()).map(Arc::make_mut) {
                user.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        DomainEvent::UserPermissionsBoundaryPut(e) => {
            if let Some(user) = state.users.get_mut(&e.name.key()).map(Arc::make_mut) {
                user.permissions_boundary = Some(Box::new(e.permissions_boundary.clone()));
            }
        }
        DomainEvent::UserPermissionsBoundaryDeleted(e) => {
            if let Some(user) = state.users.get_mut(&e.name.key()).map(Arc::make_mut) {
                user.permissions_boundary = None;
            }
        }
        DomainEvent::UserPolicyAttached(e) => attach(state, PrincipalKind::User, e),
        DomainEvent::UserPolicyDetached(e) => detach(state, PrincipalKind::User, e),
        DomainEvent::UserInlinePolicyPut(e) => put_inline(state, PrincipalKind::User, e),
        DomainEvent::UserInlinePolicyDeleted(e) => delete_inline(state, PrincipalKind::User, e),
        DomainEvent::GroupCreated(e) => {
            state.issued_ids.insert(e.group_id.clone());
            state.groups.insert(
                e.group_name.key(),
                Arc::new(Group {
                    group_id: e.group_id.clone(),
                    group_name: e.group_name.clone(),
                    path: e.path.clone(),
                    arn: e.arn.clone(),
                    create_date: e.create_date,
                    members: Default::default(),
                    permissions: Permissions::default(),
                }),
            );
        }
        DomainEvent::GroupUpdated(e) => {
            if let Some(mut group) = state.groups.remove(&e.name.key()).map(Arc::unwrap_or_clone) {
                group.group_name = e.new_name.clone();
                group.path = e.new_path.clone();
                group.arn = e.new_arn.clone();
                state.groups.insert(e.new_name.key(), Arc::new(group));
            }
        }
        DomainEvent::GroupDeleted(e) => {
            state.groups.remove(&e.name.key());
        }
        DomainEvent::GroupMemberAdded(e) => {
            if let Some(group) = state.groups.get_mut(&e.group_name.key()).map(Arc::make_mut) {
                group.members.insert(e.user_id.clone());
            }
        }
        DomainEvent::GroupMemberRemoved(e) => {
            if let Some(group) = state.groups.get_mut(&e.group_name.key()).map(Arc::make_mut) {
                group.members.remove(&e.user_id);
            }
        }
        DomainEvent::GroupPolicyAttached(e) => attach(state, PrincipalKind::Group, e),
        DomainEvent::GroupPolicyDetached(e) => detach(state, PrincipalKind::Group, e),
        DomainEvent::GroupInlinePolicyPut(e) => put_inline(state, PrincipalKind::Group, e),
        DomainEvent::GroupInlinePolicyDeleted(e) => delete_inline(state, PrincipalKind::Group, e),
        DomainEvent::RoleCreated(e) => {
            state.issued_ids.insert(e.role_id.clone());
            state.roles.insert(
                e.role_name.key(),
                Arc::new(Role {
                    role_id: e.role_id.clone(),
                    role_name: e.role_name.clone(),
                    path: e.path.clone(),
                    arn: e.arn.clone(),
                    create_date: e.create_date,
                    assume_role_policy_document: e.assume_role_policy_document.clone(),
                    description: e.description.clone(),
                    max_session_duration: e.max_session_duration,
                    permissions_boundary: e.permissions_boundary.clone().map(Box::new),
                    tags: e.tags.clone(),
                    permissions: Permissions::default(),
                }),
            );
        }
        DomainEvent::RoleUpdated(e) => {
            if let Some(role) = state.roles.get_mut(&e.role_name.key()).map(Arc::make_mut) {
                role.description = e.description.clone();
                role.max_session_duration = e.max_session_duration;
            }
        }
        DomainEvent::RoleTrustPolicyUpdated(e) => {
            if let Some(role) = state.roles.get_mut(&e.role_name.key()).map(Arc::make_mut) {
                role.assume_role_policy_document = e.policy_document.clone();
            }
        }
        DomainEvent::RoleDeleted(e) => {
            state.roles.remove(&e.name.key());
        }
        DomainEvent::RoleTagged(e) => {
            if let Some(role) = state.roles.get_mut(&e.name.key()).map(Arc::make_mut) {
                add_tags(&mut role.tags, &e.tags);
            }
        }
        DomainEvent::RoleUntagged(e) => {
            if let Some(role) = state.roles.get_mut(&e.name.key()).map(Arc::make_mut) {
                role.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        DomainEvent::RolePermissionsBoundaryPut(e) => {
            if let Some(role) = state.roles.get_mut(&e.name.key()).map(Arc::make_mut) {
                role.permissions_boundary = Some(Box::new(e.permissions_boundary.clone()));
            }
        }
        DomainEvent::RolePermissionsBoundaryDeleted(e) => {
            if let Some(role) = state.roles.get_mut(&e.name.key()).map(Arc::make_mut) {
                role.permissions_boundary = None;
            }
        }
        DomainEvent::RolePolicyAttached(e) => attach(state, PrincipalKind::Role, e),
        DomainEvent::RolePolicyDetached(e) => detach(state, PrincipalKind::Role, e),
        DomainEvent::RoleInlinePolicyPut(e) => put_inline(state, PrincipalKind::Role, e),
        DomainEvent::RoleInlinePolicyDeleted(e) => delete_inline(state, PrincipalKind::Role, e),
        DomainEvent::InstanceProfileCreated(e) => {
            state.issued_ids.insert(e.instance_profile_id.clone());
            state.instance_profiles.insert(
                e.instance_profile_name.key(),
                Arc::new(InstanceProfile {
                    instance_profile_id: e.instance_profile_id.clone(),
                    instance_profile_name: e.instance_profile_name.clone(),
                    path: e.path.clone(),
                    arn: e.arn.clone(),
                    create_date: e.create_date,
                    roles: Vec::new(),
                    tags: e.tags.clone(),
                }),
            );
        }
        DomainEvent::InstanceProfileDeleted(e) => {
            state.instance_profiles.remove(&e.name.key());
        }
        DomainEvent::InstanceProfileRoleAdded(e) => {
            if let Some(profile) = state
                .instance_profiles
                .get_mut(&e.instance_profile_name.key())
                .map(Arc::make_mut)
            {
                if !profile.roles.contains(&e.role_id) {
                    profile.roles.push(e.role_id.clone());
                }
            }
        }
        DomainEvent::InstanceProfileRoleRemoved(e) => {
            if let Some(profile) = state
                .instance_profiles
                .get_mut(&e.instance_profile_name.key())
                .map(Arc::make_mut)
            {
                profile.roles.retain(|id| id != &e.role_id);
            }
        }
        DomainEvent::InstanceProfileTagged(e) => {
            if let Some(profile) = state.instance_profiles.get_mut(&e.name.key()).map(Arc::make_mut) {
                add_tags(&mut profile.tags, &e.tags);
            }
        }
        DomainEvent::InstanceProfileUntagged(e) => {
            if let Some(profile) = state.instance_profiles.get_mut(&e.name.key()).map(Arc::make_mut) {
                profile.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        DomainEvent::PolicyCreated(e) => {
            state.issued_ids.insert(e.policy_id.clone());
            state.policies.insert(
                e.policy_name.key(),
                Arc::new(ManagedPolicy {
                    policy_id: e.policy_id.clone(),
                    policy_name: e.policy_name.clone(),
                    path: e.path.clone(),
                    arn: e.arn.clone(),
                    description: e.description.clone(),
                    create_date: e.create_date,
                    update_date: e.create_date,
                    default_version_id: e.default_version_id.clone(),
                    versions: vec![PolicyVersion {
                        version_id: e.default_version_id.clone(),
                        document: e.policy_document.clone(),
                        create_date: e.create_date,
                    }],
                    next_version: version_number(&e.default_version_id).saturating_add(1),
                    tags: e.tags.clone(),
                }),
            );
        }
        DomainEvent::PolicyDeleted(e) => {
            state.policies.remove(&e.policy_name.key());
        }
        DomainEvent::PolicyVersionCreated(e) => {
            if let Some(policy) = state.policies.get_mut(&e.policy_name.key()).map(Arc::make_mut) {
                policy.versions.push(PolicyVersion {
                    version_id: e.version_id.clone(),
                    document: e.policy_document.clone(),
                    create_date: e.create_date,
                });
                policy.next_version = policy.next_version.max(version_number(&e.version_id).saturating_add(1));
                if e.set_as_default {
                    policy.default_version_id = e.version_id.clone();
                    policy.update_date = e.create_date;
                }
            }
        }
        DomainEvent::PolicyVersionDeleted(e) => {
            if let Some(policy) = state.policies.get_mut(&e.policy_name.key()).map(Arc::make_mut) {
                policy.versions.retain(|v| v.version_id != e.version_id);
            }
        }
        DomainEvent::PolicyDefaultVersionSet(e) => {
            if let Some(policy) = state.policies.get_mut(&e.policy_name.key()).map(Arc::make_mut) {
                policy.default_version_id = e.version_id.clone();
                policy.update_date = e.update_date;
            }
        }
        DomainEvent::PolicyTagged(e) => {
            if let Some(policy) = state.policies.get_mut(&e.name.key()).map(Arc::make_mut) {
                add_tags(&mut policy.tags, &e.tags);
            }
        }
        DomainEvent::PolicyUntagged(e) => {
            if let Some(policy) = state.policies.get_mut(&e.name.key()).map(Arc::make_mut) {
                policy.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        DomainEvent::AccessKeyCreated(e) => {
            state.issued_ids.insert(e.access_key_id.clone());
            state.access_keys.insert(
                e.access_key_id.clone(),
                AccessKey {
                    access_key_id: e.access_key_id.clone(),
                    owner: e.owner.clone(),
                    status: e.status,
                    create_date: e.create_date,
                    secret_ciphertext: e.secret_ciphertext.clone(),
                    last_used: None,
                },
            );
        }
        DomainEvent::AccessKeyStatusUpdated(e) => {
            if let Some(key) = state.access_keys.get_mut(&e.access_key_id) {
                key.status = e.status;
            }
        }
        DomainEvent::AccessKeyDeleted(e) => {
            state.access_keys.remove(&e.access_key_id);
        }
        DomainEvent::AccessKeyUsed(e) => {
            if let Some(key) = state.access_keys.get_mut(&e.access_key_id) {
                key.last_used = Some(AccessKeyLastUsed {
                    last_used_date: e.last_used_date,
                    service_name: e.service_name.clone(),
                    region: e.region.clone(),
                });
            }
        }
        DomainEvent::LoginProfileCreated(e) => {
            if let Some(user) = state.users.get_mut(&e.user_name.key()).map(Arc::make_mut) {
                user.login_profile = Some(Box::new(LoginProfile {
                    create_date: e.create_date,
                    password_ciphertext: e.password_ciphertext.clone(),
                    password_set_date: e.create_date,
                    password_reset_required: e.password_reset_required,
                    password_last_used: None,
                    previous_passwords: Vec::new(),
                }));
            }
        }
        DomainEvent::LoginProfileUpdated(e) => {
            if let Some(profile) = login_profile_mut(state, &e.user_name) {
                if let Some(ciphertext) = &e.password_ciphertext {
                    let previous = std::mem::replace(&mut profile.password_ciphertext, ciphertext.clone());
                    profile.previous_passwords.insert(0, previous);
                    profile
                        .previous_passwords
                        .truncate(usize::from(credentials::MAX_REUSE_PREVENTION));
                    profile.password_set_date = e.update_date;
                }
                if let Some(required) = e.password_reset_required {
                    profile.password_reset_required = required;
                }
            }
        }
        DomainEvent::LoginProfileDeleted(e) => {
            if let Some(user) = state.users.get_mut(&e.name.key()).map(Arc::make_mut) {
                user.login_profile = None;
            }
        }
        DomainEvent::LoginProfileUsed(e) => {
            if let Some(profile) = login_profile_mut(state, &e.user_name) {
                profile.password_last_used = Some(e.date);
            }
        }
        DomainEvent::PasswordPolicyUpdated(policy) => state.password_policy = Some(policy.clone()),
        DomainEvent::PasswordPolicyDeleted(_) => state.password_policy = None,
        DomainEvent::MfaDeviceCreated(e) => {
            state.mfa_devices.insert(
                e.name.key(),
                Arc::new(MfaDevice {
                    serial_number: e.serial_number.clone(),
                    name: e.name.clone(),
                    path: e.path.clone(),
                    seed_ciphertext: e.seed_ciphertext.clone(),
                    create_date: e.create_date,
                    tags: e.tags.clone(),
                    assignment: None,
                    last_step: 0,
                    drift_steps: 0,
                }),
            );
        }
        DomainEvent::MfaDeviceEnabled(e) => {
            if let Some(device) = mfa_device_mut(state, &e.serial_number) {
                device.assignment = Some((e.user_id.clone(), e.date));
                device.last_step = device.last_step.max(e.step);
                device.drift_steps = 0;
            }
        }
        DomainEvent::MfaDeviceDeactivated(e) => {
            if let Some(device) = mfa_device_mut(state, &e.serial_number) {
                device.assignment = None;
            }
        }
        DomainEvent::MfaDeviceResynced(e) | DomainEvent::MfaCodeUsed(e) => {
            if let Some(device) = mfa_device_mut(state, &e.serial_number) {
                device.last_step = device.last_step.max(e.step);
                device.drift_steps = e.drift_steps;
            }
        }
        DomainEvent::MfaDeviceDeleted(e) => {
            if let Some(name) = e.serial_number.name() {
                state.mfa_devices.remove(&name.key());
            }
        }
        DomainEvent::MfaDeviceTagged(e) => {
            if let Some(device) = mfa_device_mut(state, &e.serial_number) {
                add_tags(&mut device.tags, &e.tags);
            }
        }
        DomainEvent::MfaDeviceUntagged(e) => {
            if let Some(device) = mfa_device_mut(state, &e.serial_number) {
                device.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        DomainEvent::OidcProviderCreated(e) => {
            let provider = OidcProvider {
                arn: e.arn.clone(),
                url: e.url.clone(),
                client_ids: e.client_ids.clone(),
                thumbprints: e.thumbprints.clone(),
                jwks: e.jwks.clone(),
                create_date: e.create_date,
                tags: e.tags.clone(),
            };
            state
                .oidc_providers
                .insert(provider.name().to_owned(), Arc::new(provider));
        }
        DomainEvent::OidcProviderUpdated(e) => {
            if let Some(provider) = oidc_provider_mut(state, &e.arn) {
                provider.client_ids = e.client_ids.clone();
                provider.thumbprints = e.thumbprints.clone();
            }
        }
        DomainEvent::OidcProviderDeleted(e) => {
            state.oidc_providers.retain(|_, p| p.arn != e.arn);
        }
        DomainEvent::OidcProviderTagged(e) => {
            if let Some(provider) = oidc_provider_mut(state, &e.arn) {
                add_tags(&mut provider.tags, &e.tags);
            }
        }
        DomainEvent::OidcProviderUntagged(e) => {
            if let Some(provider) = oidc_provider_mut(state, &e.arn) {
                provider.tags.retain(|t| !e.tag_keys.iter().any(|k| k == t.key()));
            }
        }
        // An organization's events live in its own stream (`evolve_organization`).
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
        | DomainEvent::OrganizationDelegatedAdministratorDeregistered(_) => {}
    }
}

fn login_profile_mut<'a>(state: &'a mut AccountState, user_name: &EntityName) -> Option<&'a mut LoginProfile> {
    let user = state.users.get_mut(&user_name.key()).map(Arc::make_mut)?;
    user.login_profile.as_deref_mut()
}

fn oidc_provider_mut<'a>(state: &'a mut AccountState, arn: &str) -> Option<&'a mut OidcProvider> {
    let name = arn.split_once(":oidc-provider/")?.1;
    state.oidc_providers.get_mut(name).map(Arc::make_mut)
}

fn mfa_device_mut<'a>(state: &'a mut AccountState, serial_number: &iam_types::IamArn) -> Option<&'a mut MfaDevice> {
    let name = serial_number.name()?;
    state.mfa_devices.get_mut(&name.key()).map(Arc::make_mut)
}

/// The number in `vN`; 0 for anything else.
pub(crate) fn version_number(version_id: &str) -> u32 {
    version_id.strip_prefix('v').and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn add_tags(tags: &mut Vec<Tag>, new: &[Tag]) {
    for tag in new {
        match tags.iter_mut().find(|t| t.key() == tag.key()) {
            Some(existing) => *existing = tag.clone(),
            None => tags.push(tag.clone()),
        }
    }
}

fn permissions_mut<'a>(
    state: &'a mut AccountState,
    kind: PrincipalKind,
    name: &EntityName,
) -> Option<&'a mut Permissions> {
    let key = name.key();
    match kind {
        PrincipalKind::User => state.users.get_mut(&key).map(|u| &mut Arc::make_mut(u).permissions),
        PrincipalKind::Group => state.groups.get_mut(&key).map(|g| &mut Arc::make_mut(g).permissions),
        PrincipalKind::Role => state.roles.get_mut(&key).map(|r| &mut Arc::make_mut(r).permissions),
    }
}

fn attach(state: &mut AccountState, kind: PrincipalKind, e: &PolicyAttachment) {
    if let Some(p) = permissions_mut(state, kind, &e.principal_name) {
        if !p.attached_policies.contains(&e.policy_arn) {
            p.attached_policies.push(e.policy_arn.clone());
        }
    }
}

fn detach(state: &mut AccountState, kind: PrincipalKind, e: &PolicyAttachment) {
    if let Some(p) = permissions_mut(state, kind, &e.principal_name) {
        p.attached_policies.retain(|arn| arn != &e.policy_arn);
    }
}

fn put_inline(state: &mut AccountState, kind: PrincipalKind, e: &InlinePolicyPut) {
    if let Some(p) = permissions_mut(state, kind, &e.principal_name) {
        p.inline_policies
            .insert(e.policy_name.to_string(), e.policy_document.clone());
    }
}

fn delete_inline(state: &mut AccountState, kind: PrincipalKind, e: &InlinePolicyDeleted) {
    if let Some(p) = permissions_mut(state, kind, &e.principal_name) {
        p.inline_policies.remove(e.policy_name.as_str());
    }
}
