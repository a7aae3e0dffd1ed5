//! `decide`: checks a command against the account state and AWS's rules, and answers with the
//! events that record it. Pure: the clock, new ids and the actor come in the [`DecideContext`].

use chrono::{DateTime, Utc};
use iam_policy::validate::{check_size, SizeLimit};
use iam_policy::{parse_policy, ParsedPolicy, Version};
use iam_types::{
    validate_tag_set, AccountId, EntityName, IamArn, IamPath, IdKind, NameKind, ResourceKind, Tag, UniqueId, MAX_TAGS,
};

use crate::command::{Command, TagInput};

mod credentials;
mod oidc;
use crate::error::DomainError;
use crate::event::*;
use crate::state::*;

/// AWS's fixed and default quotas that `decide` enforces.
pub mod quota {
    /// Users per account (fixed).
    pub const USERS_PER_ACCOUNT: usize = 5000;
    /// Groups per account (default).
    pub const GROUPS_PER_ACCOUNT: usize = 300;
    /// Roles per account (default).
    pub const ROLES_PER_ACCOUNT: usize = 1000;
    /// Instance profiles per account (default).
    pub const INSTANCE_PROFILES_PER_ACCOUNT: usize = 1000;
    /// Roles in one instance profile (fixed).
    pub const ROLES_PER_INSTANCE_PROFILE: usize = 1;
    /// Customer-managed policies per account (default).
    pub const POLICIES_PER_ACCOUNT: usize = 1500;
    /// Groups a user may be in.
    pub const GROUPS_PER_USER: usize = 10;
    /// Managed policies attached to one user, group or role (default).
    pub const MANAGED_POLICIES_PER_PRINCIPAL: usize = 10;
    /// Stored versions of one managed policy.
    pub const VERSIONS_PER_POLICY: usize = 5;
    /// Access keys per user (and per root user).
    pub const ACCESS_KEYS_PER_USER: usize = 2;
    /// Longest role or policy description.
    pub const DESCRIPTION_LEN: usize = 1000;
    /// `MaxSessionDuration` bounds and default, in seconds.
    pub const MIN_SESSION_DURATION: u32 = 3600;
    /// Upper bound of `MaxSessionDuration`.
    pub const MAX_SESSION_DURATION: u32 = 43200;
}

/// What `decide` needs besides the state and command: the time, pre-drawn randomness, the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideContext {
    /// The time the command is decided at; becomes create dates and last-used dates.
    pub now: DateTime<Utc>,
    /// Random bytes for the id of an entity the command creates (user, group, role, policy).
    pub id_bytes: [u8; 16],
    /// The ARN of the caller (an IAM user, role session or root).
    pub actor: String,
}

impl DecideContext {
    /// A context.
    pub fn new(now: DateTime<Utc>, id_bytes: [u8; 16], actor: impl Into<String>) -> Self {
        DecideContext {
            now,
            id_bytes,
            actor: actor.into(),
        }
    }
}

type Decision = Result<Vec<DomainEvent>, DomainError>;

/// Decides a command: `Ok(events)` (possibly none, for idempotent no-ops) or the AWS error.
pub fn decide(state: &AccountState, command: &Command, ctx: &DecideContext) -> Decision {
    if let Command::CreateAccount {
        account_id,
        account_alias,
    } = command
    {
        return create_account(state, account_id, account_alias.as_deref(), ctx);
    }
    let Some(account) = state.account.as_ref() else {
        return Err(DomainError::NoSuchEntity("The account cannot be found.".to_owned()));
    };
    let d = Decider {
        state,
        ctx,
        account: &account.account_id,
    };
    match command {
        Command::CreateAccount { .. } => Ok(Vec::new()),
        Command::CreateUser {
            user_name,
            path,
            permissions_boundary,
            tags,
        } => d.create_user(user_name, path.as_deref(), permissions_boundary.as_deref(), tags),
        Command::UpdateUser {
            user_name,
            new_user_name,
            new_path,
        } => d.update_user(user_name, new_user_name.as_deref(), new_path.as_deref()),
        Command::DeleteUser { user_name } => d.delete_user(user_name),
        Command::CreateGroup { group_name, path } => d.create_group(group_name, path.as_deref()),
        Command::UpdateGroup {
            group_name,
            new_group_name,
            new_path,
        } => d.update_group(group_name, new_group_name.as_deref(), new_path.as_deref()),
        Command::DeleteGroup { group_name } => d.delete_group(group_name),
        Command::AddUserToGroup { group_name, user_name } => d.add_user_to_group(group_name, user_name),
        Command::RemoveUserFromGroup { group_name, user_name } => d.remove_user_from_group(group_name, user_name),
        Command::CreateRole {
            role_name,
            path,
            assume_role_policy_document,
            description,
            max_session_duration,
            permissions_boundary,
            tags,
        } => d.create_role(
            role_name,
            path.as_deref(),
            assume_role_policy_document,
            description.as_deref(),
            *max_session_duration,
            permissions_boundary.as_deref(),
            tags,
        ),
        Command::UpdateRole {
            role_name,
            description,
            max_session_duration,
        } => d.update_role(role_name, description.as_deref(), *max_session_duration),
        Command::UpdateAssumeRolePolicy {
            role_name,
            policy_document,
        } => d.update_assume_role_policy(role_name, policy_document),
        Command::DeleteRole { role_name } => d.delete_role(role_name),
        Command::UpdateRoleDescription { role_name, description } => d.update_role(role_name, Some(description), None),
        Command::CreateLoginProfile {
            user_name,
            password_reset_required,
            password_ciphertext,
        } => d.create_login_profile(user_name, *password_reset_required, password_ciphertext),
        Command::UpdateLoginProfile {
            user_name,
            password_reset_required,
            password_ciphertext,
        } => d.update_login_profile(user_name, *password_reset_required, password_ciphertext.as_deref()),
        Command::DeleteLoginProfile { user_name } => d.delete_login_profile(user_name),
        Command::ChangePassword {
            user_name,
            password_ciphertext,
        } => d.change_password(user_name, password_ciphertext),
        Command::RecordSignIn { user_name } => d.record_sign_in(user_name),
        Command::UpdateAccountPasswordPolicy(input) => d.update_password_policy(input),
        Command::DeleteAccountPasswordPolicy {} => d.delete_password_policy(),
        Command::CreateVirtualMFADevice {
            virtual_mfa_device_name,
            path,
            tags,
            seed_ciphertext,
        } => d.create_virtual_mfa_device(virtual_mfa_device_name, path.as_deref(), tags, seed_ciphertext),
        Command::EnableMFADevice {
            user_name,
            serial_number,
            step,
        } => d.enable_mfa_device(user_name, serial_number, *step),
        Command::DeactivateMFADevice {
            user_name,
            serial_number,
        } => d.deactivate_mfa_device(user_name, serial_number),
        Command::ResyncMFADevice {
            user_name,
            serial_number,
            step,
            drift_steps,
        } => d.resync_mfa_device(user_name, serial_number, *step, *drift_steps),
        Command::DeleteVirtualMFADevice { serial_number } => d.delete_virtual_mfa_device(serial_number),
        Command::TagMFADevice { serial_number, tags } => d.tag_mfa_device(serial_number, tags),
        Command::UntagMFADevice {
            serial_number,
            tag_keys,
        } => d.untag_mfa_device(serial_number, tag_keys),
        Command::RecordMfaCodeUse { serial_number, step } => d.record_mfa_code_use(serial_number, *step),
        Command::CreateOpenIDConnectProvider {
            url,
            client_id_list,
            thumbprint_list,
            tags,
            jwks,
        } => d.create_oidc_provider(url, client_id_list, thumbprint_list, tags, jwks.as_deref()),
        Command::AddClientIDToOpenIDConnectProvider {
            open_id_connect_provider_arn,
            client_id,
        } => d.add_oidc_client_id(open_id_connect_provider_arn, client_id),
        Command::RemoveClientIDFromOpenIDConnectProvider {
            open_id_connect_provider_arn,
            client_id,
        } => d.remove_oidc_client_id(open_id_connect_provider_arn, client_id),
        Command::UpdateOpenIDConnectProviderThumbprint {
            open_id_connect_provider_arn,
            thumbprint_list,
        } => {
            let provider = d.oidc_provider(open_id_connect_provider_arn)?;
            d.update_oidc_provider(
                open_id_connect_provider_arn,
                provider.client_ids.clone(),
                thumbprint_list.clone(),
            )
        }
        Command::DeleteOpenIDConnectProvider {
            open_id_connect_provider_arn,
        } => d.delete_oidc_provider(open_id_connect_provider_arn),
        Command::TagOpenIDConnectProvider {
            open_id_connect_provider_arn,
            tags,
        } => d.tag_oidc_provider(open_id_connect_provider_arn, tags),
        Command::UntagOpenIDConnectProvider {
            open_id_connect_provider_arn,
            tag_keys,
        } => d.untag_oidc_provider(open_id_connect_provider_arn, tag_keys),
        Command::CreateInstanceProfile {
            instance_profile_name,
            path,
            tags,
        } => d.create_instance_profile(instance_profile_name, path.as_deref(), tags),
        Command::DeleteInstanceProfile { instance_profile_name } => d.delete_instance_profile(instance_profile_name),
        Command::AddRoleToInstanceProfile {
            instance_profile_name,
            role_name,
        } => d.add_role_to_instance_profile(instance_profile_name, role_name),
        Command::RemoveRoleFromInstanceProfile {
            instance_profile_name,
            role_name,
        } => d.remove_role_from_instance_profile(instance_profile_name, role_name),
        Command::TagInstanceProfile {
            instance_profile_name,
            tags,
        } => {
            let profile = d.instance_profile(instance_profile_name)?;
            let tags = d.merge_tags(&profile.tags, tags)?;
            Ok(
                tagged(&profile.instance_profile_id, &profile.instance_profile_name, tags)
                    .map(DomainEvent::InstanceProfileTagged)
                    .into_iter()
                    .collect(),
            )
        }
        Command::UntagInstanceProfile {
            instance_profile_name,
            tag_keys,
        } => {
            let profile = d.instance_profile(instance_profile_name)?;
            Ok(untagged(
                &profile.instance_profile_id,
                &profile.instance_profile_name,
                &profile.tags,
                tag_keys,
            )?
            .map(DomainEvent::InstanceProfileUntagged)
            .into_iter()
            .collect())
        }
        Command::CreatePolicy {
            policy_name,
            path,
            policy_document,
            description,
            tags,
        } => d.create_policy(
            policy_name,
            path.as_deref(),
            policy_document,
            description.as_deref(),
            tags,
        ),
        Command::DeletePolicy { policy_arn } => d.delete_policy(policy_arn),
        Command::CreatePolicyVersion {
            policy_arn,
            policy_document,
            set_as_default,
        } => d.create_policy_version(policy_arn, policy_document, *set_as_default),
        Command::DeletePolicyVersion { policy_arn, version_id } => d.delete_policy_version(policy_arn, version_id),
        Command::SetDefaultPolicyVersion { policy_arn, version_id } => {
            d.set_default_policy_version(policy_arn, version_id)
        }
        Command::AttachUserPolicy { user_name, policy_arn } => d.attach(PrincipalKind::User, user_name, policy_arn),
        Command::DetachUserPolicy { user_name, policy_arn } => d.detach(PrincipalKind::User, user_name, policy_arn),
        Command::AttachGroupPolicy { group_name, policy_arn } => d.attach(PrincipalKind::Group, group_name, policy_arn),
        Command::DetachGroupPolicy { group_name, policy_arn } => d.detach(PrincipalKind::Group, group_name, policy_arn),
        Command::AttachRolePolicy { role_name, policy_arn } => d.attach(PrincipalKind::Role, role_name, policy_arn),
        Command::DetachRolePolicy { role_name, policy_arn } => d.detach(PrincipalKind::Role, role_name, policy_arn),
        Command::PutUserPolicy {
            user_name,
            policy_name,
            policy_document,
        } => d.put_inline(PrincipalKind::User, user_name, policy_name, policy_document),
        Command::DeleteUserPolicy { user_name, policy_name } => {
            d.delete_inline(PrincipalKind::User, user_name, policy_name)
        }
        Command::PutGroupPolicy {
            group_name,
            policy_name,
            policy_document,
        } => d.put_inline(PrincipalKind::Group, group_name, policy_name, policy_document),
        Command::DeleteGroupPolicy {
            group_name,
            policy_name,
        } => d.delete_inline(PrincipalKind::Group, group_name, policy_name),
        Command::PutRolePolicy {
            role_name,
            policy_name,
            policy_document,
        } => d.put_inline(PrincipalKind::Role, role_name, policy_name, policy_document),
        Command::DeleteRolePolicy { role_name, policy_name } => {
            d.delete_inline(PrincipalKind::Role, role_name, policy_name)
        }
        Command::TagUser { user_name, tags } => {
            let user = d.user(user_name)?;
            let tags = d.merge_tags(&user.tags, tags)?;
            Ok(tagged(&user.user_id, &user.user_name, tags)
                .map(DomainEvent::UserTagged)
                .into_iter()
                .collect())
        }
        Command::UntagUser { user_name, tag_keys } => {
            let user = d.user(user_name)?;
            Ok(untagged(&user.user_id, &user.user_name, &user.tags, tag_keys)?
                .map(DomainEvent::UserUntagged)
                .into_iter()
                .collect())
        }
        Command::TagRole { role_name, tags } => {
            let role = d.role(role_name)?;
            let tags = d.merge_tags(&role.tags, tags)?;
            Ok(tagged(&role.role_id, &role.role_name, tags)
                .map(DomainEvent::RoleTagged)
                .into_iter()
                .collect())
        }
        Command::UntagRole { role_name, tag_keys } => {
            let role = d.role(role_name)?;
            Ok(untagged(&role.role_id, &role.role_name, &role.tags, tag_keys)?
                .map(DomainEvent::RoleUntagged)
                .into_iter()
                .collect())
        }
        Command::TagPolicy { policy_arn, tags } => {
            let policy = d.customer_policy(policy_arn)?;
            let tags = d.merge_tags(&policy.tags, tags)?;
            Ok(tagged(&policy.policy_id, &policy.policy_name, tags)
                .map(DomainEvent::PolicyTagged)
                .into_iter()
                .collect())
        }
        Command::UntagPolicy { policy_arn, tag_keys } => {
            let policy = d.customer_policy(policy_arn)?;
            Ok(
                untagged(&policy.policy_id, &policy.policy_name, &policy.tags, tag_keys)?
                    .map(DomainEvent::PolicyUntagged)
                    .into_iter()
                    .collect(),
            )
        }
        Command::PutUserPermissionsBoundary {
            user_name,
            permissions_boundary,
        } => {
            let user = d.user(user_name)?;
            let boundary = d.boundary(permissions_boundary)?;
            Ok(vec![DomainEvent::UserPermissionsBoundaryPut(BoundaryPut {
                id: user.user_id.clone(),
                name: user.user_name.clone(),
                permissions_boundary: boundary,
            })])
        }
        Command::DeleteUserPermissionsBoundary { user_name } => {
            let user = d.user(user_name)?;
            Ok(match user.permissions_boundary {
                Some(_) => vec![DomainEvent::UserPermissionsBoundaryDeleted(EntityRef {
                    id: user.user_id.clone(),
                    name: user.user_name.clone(),
                })],
                None => Vec::new(),
            })
        }
        Command::PutRolePermissionsBoundary {
            role_name,
            permissions_boundary,
        } => {
            let role = d.role(role_name)?;
            let boundary = d.boundary(permissions_boundary)?;
            Ok(vec![DomainEvent::RolePermissionsBoundaryPut(BoundaryPut {
                id: role.role_id.clone(),
                name: role.role_name.clone(),
                permissions_boundary: boundary,
            })])
        }
        Command::DeleteRolePermissionsBoundary { role_name } => {
            let role = d.role(role_name)?;
            Ok(match role.permissions_boundary {
                Some(_) => vec![DomainEvent::RolePermissionsBoundaryDeleted(EntityRef {
                    id: role.role_id.clone(),
                    name: role.role_name.clone(),
                })],
                None => Vec::new(),
            })
        }
        Command::CreateAccessKey {
            user_name,
            access_key_id,
            secret_ciphertext,
        } => d.create_access_key(user_name.as_deref(), access_key_id, secret_ciphertext),
        Command::UpdateAccessKey {
            user_name,
            access_key_id,
            status,
        } => {
            let key = d.owned_key(user_name.as_deref(), access_key_id)?;
            if key.status == *status {
                return Ok(Vec::new());
            }
            Ok(vec![DomainEvent::AccessKeyStatusUpdated(AccessKeyStatusUpdated {
                access_key_id: key.access_key_id.clone(),
                owner: key.owner.clone(),
                status: *status,
            })])
        }
        Command::DeleteAccessKey {
            user_name,
            access_key_id,
        } => {
            let key = d.owned_key(user_name.as_deref(), access_key_id)?;
            Ok(vec![DomainEvent::AccessKeyDeleted(AccessKeyDeleted {
                access_key_id: key.access_key_id.clone(),
                owner: key.owner.clone(),
            })])
        }
        Command::RecordAccessKeyUse {
            access_key_id,
            service_name,
            region,
        } => {
            let key = state
                .access_key(access_key_id)
                .ok_or_else(|| no_such_key(access_key_id))?;
            if service_name.is_empty() || region.is_empty() {
                return Err(DomainError::Validation(
                    "service name and region must not be empty".to_owned(),
                ));
            }
            Ok(vec![DomainEvent::AccessKeyUsed(AccessKeyUsed {
                access_key_id: key.access_key_id.clone(),
                last_used_date: ctx.now,
                service_name: service_name.clone(),
                region: region.clone(),
            })])
        }
    }
}

fn create_account(state: &AccountState, account_id: &str, alias: Option<&str>, ctx: &DecideContext) -> Decision {
    if let Some(existing) = &state.account {
        return Err(DomainError::EntityAlreadyExists(format!(
            "The account {} already exists.",
            existing.account_id
        )));
    }
    let account_id = AccountId::parse(account_id)?;
    if let Some(alias) = alias {
        check_alias(alias)?;
    }
    Ok(vec![DomainEvent::AccountCreated(AccountCreated {
        account_id,
        account_alias: alias.map(str::to_owned),
        create_date: ctx.now,
    })])
}

/// AWS's alias rule: `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`.
fn check_alias(alias: &str) -> Result<(), DomainError> {
    let ok = (3..=63).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !alias.starts_with('-')
        && !alias.ends_with('-')
        && !alias.contains("--");
    if ok {
        Ok(())
    } else {
        Err(DomainError::Validation(format!(
            "account alias `{alias}` is not valid: it must be 3 to 63 lowercase letters, digits and single hyphens"
        )))
    }
}

struct Decider<'a> {
    state: &'a AccountState,
    ctx: &'a DecideContext,
    account: &'a AccountId,
}

fn no_such_key(access_key_id: &str) -> DomainError {
    DomainError::NoSuchEntity(format!("The Access Key with id {access_key_id} cannot be found."))
}

fn parse_name(kind: NameKind, text: &str) -> Result<EntityName, DomainError> {
    Ok(EntityName::parse(kind, text)?)
}

fn parse_path(text: Option<&str>) -> Result<IamPath, DomainError> {
    Ok(text.map(IamPath::parse).transpose()?.unwrap_or_default())
}

fn parse_tags(inputs: &[TagInput]) -> Result<Vec<Tag>, DomainError> {
    let tags = inputs
        .iter()
        .map(|t| Tag::new(&t.key, &t.value))
        .collect::<Result<Vec<_>, _>>()?;
    validate_tag_set(&tags)?;
    Ok(tags)
}

fn check_description(description: Option<&str>) -> Result<(), DomainError> {
    match description {
        Some(d) if d.chars().count() > quota::DESCRIPTION_LEN => Err(DomainError::Validation(format!(
            "description is {} characters long; at most {} are allowed",
            d.chars().count(),
            quota::DESCRIPTION_LEN
        ))),
        _ => Ok(()),
    }
}

fn malformed(error: impl std::fmt::Display) -> DomainError {
    DomainError::MalformedPolicyDocument(error.to_string())
}

/// Parses an identity-based policy (managed or inline) and applies AWS's rules for those.
fn identity_document(text: &str) -> Result<ParsedPolicy, DomainError> {
    let parsed = parse_policy(text).map_err(malformed)?;
    if parsed.policy.version != Some(Version::V2012_10_17) {
        return Err(malformed("Policy document must be version 2012-10-17 or greater."));
    }
    for statement in &parsed.policy.statements {
        if statement.principal.is_some() {
            return Err(malformed("Policy document should not specify a principal."));
        }
        if statement.resource.is_none() {
            return Err(malformed("Policy statement must contain resources."));
        }
    }
    Ok(parsed)
}

/// Parses a trust policy: every statement names a principal and no resource.
fn trust_document(text: &str) -> Result<ParsedPolicy, DomainError> {
    let parsed = parse_policy(text).map_err(malformed)?;
    for statement in &parsed.policy.statements {
        if statement.principal.is_none() {
            return Err(malformed("Missing required field Principal"));
        }
        if statement.resource.is_some() {
            return Err(malformed("Has prohibited field Resource"));
        }
    }
    check_size(&parsed, SizeLimit::RoleTrust).map_err(|_| {
        DomainError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {}",
            SizeLimit::RoleTrust.chars()
        ))
    })?;
    Ok(parsed)
}

fn managed_document(text: &str) -> Result<ParsedPolicy, DomainError> {
    let parsed = identity_document(text)?;
    check_size(&parsed, SizeLimit::ManagedPolicy).map_err(|_| {
        DomainError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {}",
            SizeLimit::ManagedPolicy.chars()
        ))
    })?;
    Ok(parsed)
}

fn tagged(id: &UniqueId, name: &EntityName, tags: Vec<Tag>) -> Option<Tagged> {
    Some(Tagged {
        id: id.clone(),
        name: name.clone(),
        tags,
    })
}

/// The keys to remove that the entity has; `None` when there are none (no event).
fn untagged(
    id: &UniqueId,
    name: &EntityName,
    current: &[Tag],
    keys: &[String],
) -> Result<Option<Untagged>, DomainError> {
    for key in keys {
        Tag::check_key(key)?;
    }
    let present: Vec<String> = keys
        .iter()
        .filter(|k| current.iter().any(|t| t.key() == k.as_str()))
        .cloned()
        .collect();
    Ok((!present.is_empty()).then(|| Untagged {
        id: id.clone(),
        name: name.clone(),
        tag_keys: present,
    }))
}

fn quota_exceeded(what: &str, limit: usize) -> DomainError {
    DomainError::LimitExceeded(format!("Cannot exceed quota for {what}: {limit}"))
}

impl<'a> Decider<'a> {
    fn user(&self, name: &str) -> Result<&'a User, DomainError> {
        self.state
            .user(name)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("The user with name {name} cannot be found.")))
    }

    fn group(&self, name: &str) -> Result<&'a Group, DomainError> {
        self.state
            .group(name)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("The group with name {name} cannot be found.")))
    }

    fn role(&self, name: &str) -> Result<&'a Role, DomainError> {
        self.state
            .role(name)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("The role with name {name} cannot be found.")))
    }

    fn instance_profile(&self, name: &str) -> Result<&'a InstanceProfile, DomainError> {
        self.state
            .instance_profile(name)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("Instance Profile {name} cannot be found.")))
    }

    fn principal(
        &self,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<(UniqueId, EntityName, &'a Permissions), DomainError> {
        Ok(match kind {
            PrincipalKind::User => {
                let u = self.user(name)?;
                (u.user_id.clone(), u.user_name.clone(), &u.permissions)
            }
            PrincipalKind::Group => {
                let g = self.group(name)?;
                (g.group_id.clone(), g.group_name.clone(), &g.permissions)
            }
            PrincipalKind::Role => {
                let r = self.role(name)?;
                (r.role_id.clone(), r.role_name.clone(), &r.permissions)
            }
        })
    }

    fn policy_arn(&self, text: &str) -> Result<IamArn, DomainError> {
        let arn = IamArn::parse(text).map_err(|_| DomainError::InvalidInput(format!("ARN {text} is not valid.")))?;
        if arn.kind() != Some(ResourceKind::Policy) {
            return Err(DomainError::InvalidInput(format!("ARN {text} is not a policy ARN.")));
        }
        Ok(arn)
    }

    /// A managed policy (customer or AWS) that must exist.
    fn policy(&self, text: &str) -> Result<&'a ManagedPolicy, DomainError> {
        let arn = self.policy_arn(text)?;
        self.state
            .managed_policy(&arn)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("Policy {text} does not exist or is not attachable.")))
    }

    /// A customer-managed policy of this account: AWS-managed ones are read-only.
    fn customer_policy(&self, text: &str) -> Result<&'a ManagedPolicy, DomainError> {
        let policy = self.policy(text)?;
        if policy.is_aws_managed() {
            return Err(DomainError::InvalidInput(format!(
                "Policy {text} is an AWS managed policy and cannot be modified."
            )));
        }
        Ok(policy)
    }

    fn boundary(&self, text: &str) -> Result<IamArn, DomainError> {
        let arn = self.policy_arn(text)?;
        if self.state.managed_policy(&arn).is_none() {
            return Err(DomainError::NoSuchEntity(format!(
                "Scope ARN: {text} does not exist or is not attachable."
            )));
        }
        Ok(arn)
    }

    fn optional_boundary(&self, text: Option<&str>) -> Result<Option<IamArn>, DomainError> {
        text.map(|t| self.boundary(t)).transpose()
    }

    fn new_id(&self, kind: IdKind) -> Result<UniqueId, DomainError> {
        let id = UniqueId::generate(kind, self.ctx.id_bytes);
        if self.state.issued_ids.contains(&id) {
            return Err(DomainError::ServiceFailure(format!(
                "the generated id `{id}` was issued before; retry with new random bytes"
            )));
        }
        Ok(id)
    }

    fn merge_tags(&self, current: &[Tag], inputs: &[TagInput]) -> Result<Vec<Tag>, DomainError> {
        if inputs.is_empty() {
            return Err(DomainError::Validation("at least one tag is required".to_owned()));
        }
        let tags = parse_tags(inputs)?;
        let added = tags
            .iter()
            .filter(|t| !current.iter().any(|c| c.key() == t.key()))
            .count();
        if current.len() + added > MAX_TAGS {
            return Err(DomainError::LimitExceeded(
                "The number of tags has reached the maximum limit.".to_owned(),
            ));
        }
        Ok(tags)
    }

    fn create_user(&self, user_name: &str, path: Option<&str>, boundary: Option<&str>, tags: &[TagInput]) -> Decision {
        let user_name = parse_name(NameKind::User, user_name)?;
        let path = parse_path(path)?;
        let tags = parse_tags(tags)?;
        if self.state.users.contains_key(&user_name.key()) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "User with name {user_name} already exists."
            )));
        }
        if self.state.users.len() >= quota::USERS_PER_ACCOUNT {
            return Err(quota_exceeded("UsersPerAccount", quota::USERS_PER_ACCOUNT));
        }
        let permissions_boundary = self.optional_boundary(boundary)?;
        Ok(vec![DomainEvent::UserCreated(UserCreated {
            user_id: self.new_id(IdKind::User)?,
            arn: IamArn::user(self.account, &path, &user_name),
            user_name,
            path,
            create_date: self.ctx.now,
            permissions_boundary,
            tags,
        })])
    }

    fn update_user(&self, user_name: &str, new_name: Option<&str>, new_path: Option<&str>) -> Decision {
        let user = self.user(user_name)?;
        let new_name = new_name.map(|n| parse_name(NameKind::User, n)).transpose()?;
        let new_path = new_path.map(IamPath::parse).transpose()?;
        if let Some(name) = &new_name {
            if name.key() != user.user_name.key() && self.state.users.contains_key(&name.key()) {
                return Err(DomainError::EntityAlreadyExists(format!(
                    "User with name {name} already exists."
                )));
            }
        }
        let new_name = new_name.unwrap_or_else(|| user.user_name.clone());
        let new_path = new_path.unwrap_or_else(|| user.path.clone());
        if new_name == user.user_name && new_path == user.path {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::UserUpdated(EntityRenamed {
            id: user.user_id.clone(),
            name: user.user_name.clone(),
            new_arn: IamArn::user(self.account, &new_path, &new_name),
            new_name,
            new_path,
        })])
    }

    fn delete_user(&self, user_name: &str) -> Decision {
        let user = self.user(user_name)?;
        let conflict = |what: &str| {
            Err(DomainError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !self.state.groups_for_user(user_name).is_empty() {
            return conflict("remove users from group");
        }
        if !user.permissions.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        if !user.permissions.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !self.state.access_keys_for_user(user_name).is_empty() {
            return conflict("delete access keys");
        }
        if user.login_profile.is_some() {
            return conflict("delete login profile");
        }
        if !self.state.mfa_devices_for_user(&user.user_id).is_empty() {
            return conflict("delete MFA devices");
        }
        Ok(vec![DomainEvent::UserDeleted(EntityRef {
            id: user.user_id.clone(),
            name: user.user_name.clone(),
        })])
    }

    fn create_group(&self, group_name: &str, path: Option<&str>) -> Decision {
        let group_name = parse_name(NameKind::Group, group_name)?;
        let path = parse_path(path)?;
        if self.state.groups.contains_key(&group_name.key()) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Group with name {group_name} already exists."
            )));
        }
        if self.state.groups.len() >= quota::GROUPS_PER_ACCOUNT {
            return Err(quota_exceeded("GroupsPerAccount", quota::GROUPS_PER_ACCOUNT));
        }
        Ok(vec![DomainEvent::GroupCreated(GroupCreated {
            group_id: self.new_id(IdKind::Group)?,
            arn: IamArn::group(self.account, &path, &group_name),
            group_name,
            path,
            create_date: self.ctx.now,
        })])
    }

    fn update_group(&self, group_name: &str, new_name: Option<&str>, new_path: Option<&str>) -> Decision {
        let group = self.group(group_name)?;
        let new_name = new_name.map(|n| parse_name(NameKind::Group, n)).transpose()?;
        let new_path = new_path.map(IamPath::parse).transpose()?;
        if let Some(name) = &new_name {
            if name.key() != group.group_name.key() && self.state.groups.contains_key(&name.key()) {
                return Err(DomainError::EntityAlreadyExists(format!(
                    "Group with name {name} already exists."
                )));
            }
        }
        let new_name = new_name.unwrap_or_else(|| group.group_name.clone());
        let new_path = new_path.unwrap_or_else(|| group.path.clone());
        if new_name == group.group_name && new_path == group.path {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::GroupUpdated(EntityRenamed {
            id: group.group_id.clone(),
            name: group.group_name.clone(),
            new_arn: IamArn::group(self.account, &new_path, &new_name),
            new_name,
            new_path,
        })])
    }

    fn delete_group(&self, group_name: &str) -> Decision {
        let group = self.group(group_name)?;
        let conflict = |what: &str| {
            Err(DomainError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !group.members.is_empty() {
            return conflict("remove users from group");
        }
        if !group.permissions.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        if !group.permissions.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        Ok(vec![DomainEvent::GroupDeleted(EntityRef {
            id: group.group_id.clone(),
            name: group.group_name.clone(),
        })])
    }

    fn membership(&self, group: &Group, user: &User) -> GroupMembership {
        GroupMembership {
            group_id: group.group_id.clone(),
            group_name: group.group_name.clone(),
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
        }
    }

    fn add_user_to_group(&self, group_name: &str, user_name: &str) -> Decision {
        let group = self.group(group_name)?;
        let user = self.user(user_name)?;
        if group.members.contains(&user.user_id) {
            return Ok(Vec::new());
        }
        if self.state.groups_for_user(user_name).len() >= quota::GROUPS_PER_USER {
            return Err(quota_exceeded("GroupsPerUser", quota::GROUPS_PER_USER));
        }
        Ok(vec![DomainEvent::GroupMemberAdded(self.membership(group, user))])
    }

    fn remove_user_from_group(&self, group_name: &str, user_name: &str) -> Decision {
        let group = self.group(group_name)?;
        let user = self.user(user_name)?;
        if !group.members.contains(&user.user_id) {
            return Err(DomainError::NoSuchEntity(format!(
                "The user with name {user_name} is not a member of group {group_name}."
            )));
        }
        Ok(vec![DomainEvent::GroupMemberRemoved(self.membership(group, user))])
    }

    #[allow(clippy::too_many_arguments)] // one argument per AWS request parameter
    fn create_role(
        &self,
        role_name: &str,
        path: Option<&str>,
        trust: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
        boundary: Option<&str>,
        tags: &[TagInput],
    ) -> Decision {
        let role_name = parse_name(NameKind::Role, role_name)?;
        let path = parse_path(path)?;
        check_description(description)?;
        let max_session_duration = check_session_duration(max_session_duration)?;
        let tags = parse_tags(tags)?;
        trust_document(trust)?;
        if self.state.roles.contains_key(&role_name.key()) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Role with name {role_name} already exists."
            )));
        }
        if self.state.roles.len() >= quota::ROLES_PER_ACCOUNT {
            return Err(quota_exceeded("RolesPerAccount", quota::ROLES_PER_ACCOUNT));
        }
        let permissions_boundary = self.optional_boundary(boundary)?;
        Ok(vec![DomainEvent::RoleCreated(RoleCreated {
            role_id: self.new_id(IdKind::Role)?,
            arn: IamArn::role(self.account, &path, &role_name),
            role_name,
            path,
            create_date: self.ctx.now,
            assume_role_policy_document: trust.to_owned(),
            description: description.map(str::to_owned),
            max_session_duration,
            permissions_boundary,
            tags,
        })])
    }

    fn update_role(&self, role_name: &str, description: Option<&str>, max_session_duration: Option<u32>) -> Decision {
        let role = self.role(role_name)?;
        check_description(description)?;
        let max_session_duration = match max_session_duration {
            Some(seconds) => check_session_duration(Some(seconds))?,
            None => role.max_session_duration,
        };
        Ok(vec![DomainEvent::RoleUpdated(RoleUpdated {
            role_id: role.role_id.clone(),
            role_name: role.role_name.clone(),
            description: description.map(str::to_owned).or_else(|| role.description.clone()),
            max_session_duration,
        })])
    }

    fn update_assume_role_policy(&self, role_name: &str, document: &str) -> Decision {
        let role = self.role(role_name)?;
        trust_document(document)?;
        Ok(vec![DomainEvent::RoleTrustPolicyUpdated(TrustPolicyUpdated {
            role_id: role.role_id.clone(),
            role_name: role.role_name.clone(),
            policy_document: document.to_owned(),
        })])
    }

    fn delete_role(&self, role_name: &str) -> Decision {
        let role = self.role(role_name)?;
        let conflict = |what: &str| {
            Err(DomainError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !role.permissions.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        if !role.permissions.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if self.state.instance_profiles().any(|p| p.roles.contains(&role.role_id)) {
            return conflict("remove roles from instance profile");
        }
        Ok(vec![DomainEvent::RoleDeleted(EntityRef {
            id: role.role_id.clone(),
            name: role.role_name.clone(),
        })])
    }

    fn create_instance_profile(&self, name: &str, path: Option<&str>, tags: &[TagInput]) -> Decision {
        let name = parse_name(NameKind::InstanceProfile, name)?;
        let path = parse_path(path)?;
        let tags = parse_tags(tags)?;
        if self.state.instance_profiles.contains_key(&name.key()) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Instance Profile {name} already exists."
            )));
        }
        if self.state.instance_profiles.len() >= quota::INSTANCE_PROFILES_PER_ACCOUNT {
            return Err(quota_exceeded(
                "InstanceProfilesPerAccount",
                quota::INSTANCE_PROFILES_PER_ACCOUNT,
            ));
        }
        Ok(vec![DomainEvent::InstanceProfileCreated(InstanceProfileCreated {
            instance_profile_id: self.new_id(IdKind::InstanceProfile)?,
            arn: IamArn::instance_profile(self.account, &path, &name),
            instance_profile_name: name,
            path,
            create_date: self.ctx.now,
            tags,
        })])
    }

    fn delete_instance_profile(&self, name: &str) -> Decision {
        let profile = self.instance_profile(name)?;
        if !profile.roles.is_empty() {
            return Err(DomainError::DeleteConflict(
                "Cannot delete entity, must remove roles from instance profile first.".to_owned(),
            ));
        }
        Ok(vec![DomainEvent::InstanceProfileDeleted(EntityRef {
            id: profile.instance_profile_id.clone(),
            name: profile.instance_profile_name.clone(),
        })])
    }

    fn add_role_to_instance_profile(&self, profile_name: &str, role_name: &str) -> Decision {
        let profile = self.instance_profile(profile_name)?;
        let role = self.role(role_name)?;
        if profile.roles.len() >= quota::ROLES_PER_INSTANCE_PROFILE {
            return Err(quota_exceeded(
                "InstanceSessionsPerInstanceProfile",
                quota::ROLES_PER_INSTANCE_PROFILE,
            ));
        }
        Ok(vec![DomainEvent::InstanceProfileRoleAdded(InstanceProfileRole {
            instance_profile_id: profile.instance_profile_id.clone(),
            instance_profile_name: profile.instance_profile_name.clone(),
            role_id: role.role_id.clone(),
            role_name: role.role_name.clone(),
        })])
    }

    fn remove_role_from_instance_profile(&self, profile_name: &str, role_name: &str) -> Decision {
        let profile = self.instance_profile(profile_name)?;
        let role = self.role(role_name)?;
        if !profile.roles.contains(&role.role_id) {
            return Err(DomainError::NoSuchEntity(format!(
                "The role with name {} cannot be found in instance profile {}.",
                role.role_name, profile.instance_profile_name
            )));
        }
        Ok(vec![DomainEvent::InstanceProfileRoleRemoved(InstanceProfileRole {
            instance_profile_id: profile.instance_profile_id.clone(),
            instance_profile_name: profile.instance_profile_name.clone(),
            role_id: role.role_id.clone(),
            role_name: role.role_name.clone(),
        })])
    }

    fn create_policy(
        &self,
        policy_name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
        tags: &[TagInput],
    ) -> Decision {
        let policy_name = parse_name(NameKind::Policy, policy_name)?;
        let path = path.map(IamPath::parse_policy_path).transpose()?.unwrap_or_default();
        check_description(description)?;
        let tags = parse_tags(tags)?;
        managed_document(document)?;
        if self.state.policies.contains_key(&policy_name.key()) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "A policy called {policy_name} already exists. Duplicate names are not allowed."
            )));
        }
        if self.state.policies.len() >= quota::POLICIES_PER_ACCOUNT {
            return Err(quota_exceeded("PoliciesPerAccount", quota::POLICIES_PER_ACCOUNT));
        }
        Ok(vec![DomainEvent::PolicyCreated(PolicyCreated {
            policy_id: self.new_id(IdKind::Policy)?,
            arn: IamArn::policy(self.account, &path, &policy_name),
            policy_name,
            path,
            description: description.map(str::to_owned),
            create_date: self.ctx.now,
            default_version_id: "v1".to_owned(),
            policy_document: document.to_owned(),
            tags,
        })])
    }

    fn delete_policy(&self, policy_arn: &str) -> Decision {
        let policy = self.customer_policy(policy_arn)?;
        if self.state.attachment_count(&policy.arn) > 0 {
            return Err(DomainError::DeleteConflict(
                "Cannot delete a policy attached to entities.".to_owned(),
            ));
        }
        if self.state.boundary_usage_count(&policy.arn) > 0 {
            return Err(DomainError::DeleteConflict(
                "Cannot delete a policy used as a permissions boundary.".to_owned(),
            ));
        }
        if policy.versions.len() > 1 {
            return Err(DomainError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's \
                 versions. The default version is deleted with the policy."
                    .to_owned(),
            ));
        }
        Ok(vec![DomainEvent::PolicyDeleted(PolicyDeleted {
            policy_id: policy.policy_id.clone(),
            policy_name: policy.policy_name.clone(),
            arn: policy.arn.clone(),
        })])
    }

    fn create_policy_version(&self, policy_arn: &str, document: &str, set_as_default: bool) -> Decision {
        let policy = self.customer_policy(policy_arn)?;
        managed_document(document)?;
        if policy.versions.len() >= quota::VERSIONS_PER_POLICY {
            return Err(DomainError::LimitExceeded(format!(
                "A managed policy can have up to {} versions. Before you create a new version, you must delete \
                 an existing version.",
                quota::VERSIONS_PER_POLICY
            )));
        }
        Ok(vec![DomainEvent::PolicyVersionCreated(PolicyVersionCreated {
            policy_id: policy.policy_id.clone(),
            policy_name: policy.policy_name.clone(),
            version_id: format!("v{}", policy.next_version),
            policy_document: document.to_owned(),
            set_as_default,
            create_date: self.ctx.now,
        })])
    }

    fn version<'p>(&self, policy: &'p ManagedPolicy, version_id: &str) -> Result<&'p PolicyVersion, DomainError> {
        policy.version(version_id).ok_or_else(|| {
            DomainError::NoSuchEntity(format!("Policy {} version {version_id} does not exist.", policy.arn))
        })
    }

    fn delete_policy_version(&self, policy_arn: &str, version_id: &str) -> Decision {
        let policy = self.customer_policy(policy_arn)?;
        let version = self.version(policy, version_id)?;
        if version.version_id == policy.default_version_id {
            return Err(DomainError::DeleteConflict(
                "Cannot delete the default version of a policy.".to_owned(),
            ));
        }
        Ok(vec![DomainEvent::PolicyVersionDeleted(PolicyVersionDeleted {
            policy_id: policy.policy_id.clone(),
            policy_name: policy.policy_name.clone(),
            version_id: version.version_id.clone(),
        })])
    }

    fn set_default_policy_version(&self, policy_arn: &str, version_id: &str) -> Decision {
        let policy = self.customer_policy(policy_arn)?;
        let version = self.version(policy, version_id)?;
        Ok(vec![DomainEvent::PolicyDefaultVersionSet(DefaultVersionSet {
            policy_id: policy.policy_id.clone(),
            policy_name: policy.policy_name.clone(),
            version_id: version.version_id.clone(),
            update_date: self.ctx.now,
        })])
    }

    fn attach(&self, kind: PrincipalKind, name: &str, policy_arn: &str) -> Decision {
        let (principal_id, principal_name, permissions) = self.principal(kind, name)?;
        let policy = self.policy(policy_arn)?;
        if permissions.attached_policies.contains(&policy.arn) {
            return Ok(Vec::new());
        }
        if permissions.attached_policies.len() >= quota::MANAGED_POLICIES_PER_PRINCIPAL {
            let what = match kind {
                PrincipalKind::User => "PoliciesPerUser",
                PrincipalKind::Group => "PoliciesPerGroup",
                PrincipalKind::Role => "PoliciesPerRole",
            };
            return Err(quota_exceeded(what, quota::MANAGED_POLICIES_PER_PRINCIPAL));
        }
        let payload = PolicyAttachment {
            principal_id,
            principal_name,
            policy_arn: policy.arn.clone(),
        };
        Ok(vec![match kind {
            PrincipalKind::User => DomainEvent::UserPolicyAttached(payload),
            PrincipalKind::Group => DomainEvent::GroupPolicyAttached(payload),
            PrincipalKind::Role => DomainEvent::RolePolicyAttached(payload),
        }])
    }

    fn detach(&self, kind: PrincipalKind, name: &str, policy_arn: &str) -> Decision {
        let (principal_id, principal_name, permissions) = self.principal(kind, name)?;
        let arn = self.policy_arn(policy_arn)?;
        if !permissions.attached_policies.contains(&arn) {
            return Err(DomainError::NoSuchEntity(format!("Policy {policy_arn} was not found.")));
        }
        let payload = PolicyAttachment {
            principal_id,
            principal_name,
            policy_arn: arn,
        };
        Ok(vec![match kind {
            PrincipalKind::User => DomainEvent::UserPolicyDetached(payload),
            PrincipalKind::Group => DomainEvent::GroupPolicyDetached(payload),
            PrincipalKind::Role => DomainEvent::RolePolicyDetached(payload),
        }])
    }

    fn put_inline(&self, kind: PrincipalKind, name: &str, policy_name: &str, document: &str) -> Decision {
        let (principal_id, principal_name, permissions) = self.principal(kind, name)?;
        let policy_name = parse_name(NameKind::InlinePolicy, policy_name)?;
        let parsed = identity_document(document)?;
        let replaced = permissions
            .inline_policies
            .get(policy_name.as_str())
            .map_or(0, |old| non_whitespace_len(old));
        let total = permissions.inline_size() - replaced + parsed.source.length_without_whitespace;
        let limit = kind.inline_size_limit();
        if total > limit {
            return Err(DomainError::LimitExceeded(format!(
                "Maximum policy size of {limit} bytes exceeded for {} {principal_name}",
                kind.as_str()
            )));
        }
        let payload = InlinePolicyPut {
            principal_id,
            principal_name,
            policy_name,
            policy_document: document.to_owned(),
        };
        Ok(vec![match kind {
            PrincipalKind::User => DomainEvent::UserInlinePolicyPut(payload),
            PrincipalKind::Group => DomainEvent::GroupInlinePolicyPut(payload),
            PrincipalKind::Role => DomainEvent::RoleInlinePolicyPut(payload),
        }])
    }

    fn delete_inline(&self, kind: PrincipalKind, name: &str, policy_name: &str) -> Decision {
        let (principal_id, principal_name, permissions) = self.principal(kind, name)?;
        let policy_name = parse_name(NameKind::InlinePolicy, policy_name)?;
        if !permissions.inline_policies.contains_key(policy_name.as_str()) {
            return Err(DomainError::NoSuchEntity(format!(
                "The {} policy with name {policy_name} cannot be found.",
                kind.as_str()
            )));
        }
        let payload = InlinePolicyDeleted {
            principal_id,
            principal_name,
            policy_name,
        };
        Ok(vec![match kind {
            PrincipalKind::User => DomainEvent::UserInlinePolicyDeleted(payload),
            PrincipalKind::Group => DomainEvent::GroupInlinePolicyDeleted(payload),
            PrincipalKind::Role => DomainEvent::RoleInlinePolicyDeleted(payload),
        }])
    }

    fn key_owner(&self, user_name: Option<&str>) -> Result<(AccessKeyOwner, Option<EntityName>), DomainError> {
        match user_name {
            None => Ok((AccessKeyOwner::Root, None)),
            Some(name) => {
                let user = self.user(name)?;
                Ok((
                    AccessKeyOwner::User {
                        user_id: user.user_id.clone(),
                    },
                    Some(user.user_name.clone()),
                ))
            }
        }
    }

    fn create_access_key(&self, user_name: Option<&str>, access_key_id: &str, secret_ciphertext: &str) -> Decision {
        let (owner, owner_name) = self.key_owner(user_name)?;
        let id = UniqueId::parse(access_key_id)
            .ok()
            .filter(|id| id.kind() == Some(IdKind::AccessKey) && id.as_str().len() == IdKind::AccessKey.generated_len())
            .ok_or_else(|| DomainError::InvalidInput(format!("Access key id {access_key_id} is not valid.")))?;
        if secret_ciphertext.is_empty() {
            return Err(DomainError::InvalidInput(
                "the secret ciphertext must not be empty".to_owned(),
            ));
        }
        if self.state.issued_ids.contains(&id) {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Access key {access_key_id} already exists."
            )));
        }
        if self.state.keys_of(&owner).len() >= quota::ACCESS_KEYS_PER_USER {
            return Err(quota_exceeded("AccessKeysPerUser", quota::ACCESS_KEYS_PER_USER));
        }
        Ok(vec![DomainEvent::AccessKeyCreated(AccessKeyCreated {
            access_key_id: id,
            owner,
            user_name: owner_name,
            secret_ciphertext: secret_ciphertext.to_owned(),
            status: AccessKeyStatus::Active,
            create_date: self.ctx.now,
        })])
    }

    fn owned_key(&self, user_name: Option<&str>, access_key_id: &str) -> Result<&'a AccessKey, DomainError> {
        let (owner, _) = self.key_owner(user_name)?;
        self.state
            .access_key(access_key_id)
            .filter(|k| k.owner == owner)
            .ok_or_else(|| no_such_key(access_key_id))
    }
}

fn check_session_duration(seconds: Option<u32>) -> Result<u32, DomainError> {
    let seconds = seconds.unwrap_or(quota::MIN_SESSION_DURATION);
    if (quota::MIN_SESSION_DURATION..=quota::MAX_SESSION_DURATION).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(DomainError::Validation(format!(
            "MaxSessionDuration {seconds} is not valid: it must be between {} and {} seconds",
            quota::MIN_SESSION_DURATION,
            quota::MAX_SESSION_DURATION
        )))
    }
}
