//! What a management call touches, as IAM authorizes it: the action, every ARN it needs
//! permission on, and the condition keys AWS sets for that action (the IAM service
//! authorization reference). Pure: the command and the state it is decided against say it all,
//! so every door (GraphQL, the AWS wire protocols) authorizes a command the same way.

use std::collections::BTreeSet;

use iam_policy::ContextValue;
use iam_types::{IamArn, ResourceKind, Tag};

use crate::command::{Command, TagInput};
use crate::error::DomainError;
use crate::state::AccountState;

/// One permission a call needs: `action` on `resource`, with the request's condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `iam:CreateUser`, ...
    pub action: String,
    /// The ARN the action is authorized on.
    pub resource: String,
    /// Condition keys this request sets (`iam:PolicyARN`, `aws:RequestTag/team`, ...).
    pub context: Vec<(String, ContextValue)>,
}

impl Requirement {
    /// `action` (with its service prefix) on `resource`, with no condition keys of its own.
    #[must_use]
    pub fn named(action: &str, resource: impl Into<String>) -> Self {
        Requirement {
            action: action.to_owned(),
            resource: resource.into(),
            context: Vec::new(),
        }
    }

    fn new(action: &str, resource: String) -> Self {
        Requirement {
            action: format!("iam:{action}"),
            resource,
            context: Vec::new(),
        }
    }

    fn key(mut self, key: impl Into<String>, value: ContextValue) -> Self {
        self.context.push((key.into(), value));
        self
    }

    fn keys(mut self, keys: impl IntoIterator<Item = (String, ContextValue)>) -> Self {
        self.context.extend(keys);
        self
    }
}

/// `arn:aws:iam::<account>:<kind><path><name>`, spelled as IAM spells a new entity's ARN
/// (the path is not validated here: `decide` refuses a bad one with its own error).
fn arn_of(account: &str, kind: &str, path: Option<&str>, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{}{name}", path.unwrap_or("/"))
}

fn user_arn(state: &AccountState, account: &str, name: &str) -> String {
    state
        .user(name)
        .map_or_else(|| arn_of(account, "user", None, name), |u| u.arn.to_string())
}

fn group_arn(state: &AccountState, account: &str, name: &str) -> String {
    state
        .group(name)
        .map_or_else(|| arn_of(account, "group", None, name), |g| g.arn.to_string())
}

fn role_arn(state: &AccountState, account: &str, name: &str) -> String {
    state
        .role(name)
        .map_or_else(|| arn_of(account, "role", None, name), |r| r.arn.to_string())
}

fn instance_profile_arn(state: &AccountState, account: &str, name: &str) -> String {
    state.instance_profile(name).map_or_else(
        || arn_of(account, "instance-profile", None, name),
        |p| p.arn.to_string(),
    )
}

fn instance_profile_tags(state: &AccountState, name: &str) -> Vec<(String, ContextValue)> {
    state
        .instance_profile(name)
        .map(|p| resource_tags(&p.tags))
        .unwrap_or_default()
}

/// `aws:ResourceTag/<key>` and `iam:ResourceTag/<key>` for the tags an existing resource carries.
fn resource_tags(tags: &[Tag]) -> Vec<(String, ContextValue)> {
    tags.iter()
        .flat_map(|tag| {
            [
                (
                    format!("aws:ResourceTag/{}", tag.key()),
                    ContextValue::single(tag.value()),
                ),
                (
                    format!("iam:ResourceTag/{}", tag.key()),
                    ContextValue::single(tag.value()),
                ),
            ]
        })
        .collect()
}

fn user_tags(state: &AccountState, name: &str) -> Vec<(String, ContextValue)> {
    state.user(name).map(|u| resource_tags(&u.tags)).unwrap_or_default()
}

fn role_tags(state: &AccountState, name: &str) -> Vec<(String, ContextValue)> {
    state.role(name).map(|r| resource_tags(&r.tags)).unwrap_or_default()
}

fn policy_tags(state: &AccountState, arn: &str) -> Vec<(String, ContextValue)> {
    IamArn::parse(arn)
        .ok()
        .and_then(|arn| state.managed_policy(&arn).map(|p| resource_tags(&p.tags)))
        .unwrap_or_default()
}

/// `aws:RequestTag/<key>` per tag and `aws:TagKeys` with every key of the request.
fn request_tags(tags: &[TagInput]) -> Vec<(String, ContextValue)> {
    let mut keys: Vec<(String, ContextValue)> = tags
        .iter()
        .map(|t| {
            (
                format!("aws:RequestTag/{}", t.key),
                ContextValue::single(t.value.clone()),
            )
        })
        .collect();
    if !tags.is_empty() {
        keys.push(tag_keys(tags.iter().map(|t| t.key.as_str())));
    }
    keys
}

fn tag_keys<'k>(keys: impl Iterator<Item = &'k str>) -> (String, ContextValue) {
    ("aws:TagKeys".to_owned(), ContextValue::list(keys.map(str::to_owned)))
}

/// `iam:PermissionsBoundary` with the boundary an existing user or role has, when it has one.
fn current_boundary(boundary: Option<&IamArn>) -> Vec<(String, ContextValue)> {
    boundary
        .map(|arn| vec![boundary_key(&arn.to_string())])
        .unwrap_or_default()
}

fn boundary_key(arn: &str) -> (String, ContextValue) {
    ("iam:PermissionsBoundary".to_owned(), ContextValue::single(arn))
}

fn user_boundary(state: &AccountState, name: &str) -> Vec<(String, ContextValue)> {
    current_boundary(state.user(name).and_then(|u| u.permissions_boundary.as_deref()))
}

fn role_boundary(state: &AccountState, name: &str) -> Vec<(String, ContextValue)> {
    current_boundary(state.role(name).and_then(|r| r.permissions_boundary.as_deref()))
}

fn policy_arn_key(arn: &str) -> (String, ContextValue) {
    ("iam:PolicyARN".to_owned(), ContextValue::single(arn))
}

/// The permissions `command` needs in `account` as of `state`, in the order they are checked.
/// A rename or move needs the action on the entity's ARN before and after, as in AWS.
/// `CreateAccount` (an Organizations action) and `RecordAccessKeyUse` (internal) need none here.
#[must_use]
pub fn requirements(state: &AccountState, account: &str, command: &Command) -> Vec<Requirement> {
    let action = command.action_name();
    let one = |resource: String| vec![Requirement::new(action, resource)];
    match command {
        Command::CreateAccount { .. }
        | Command::RecordAccessKeyUse { .. }
        | Command::RecordMfaCodeUse { .. }
        | Command::RecordSignIn { .. } => Vec::new(),
        Command::UpdateAccountPasswordPolicy(_) | Command::DeleteAccountPasswordPolicy {} => one("*".to_owned()),
        Command::CreateLoginProfile { user_name, .. }
        | Command::UpdateLoginProfile { user_name, .. }
        | Command::ChangePassword { user_name, .. }
        | Command::EnableMFADevice { user_name, .. }
        | Command::DeactivateMFADevice { user_name, .. }
        | Command::ResyncMFADevice { user_name, .. } => {
            vec![Requirement::new(action, user_arn(state, account, user_name)).keys(user_tags(state, user_name))]
        }
        Command::CreateVirtualMFADevice {
            virtual_mfa_device_name,
            path,
            tags,
            ..
        } => vec![
            Requirement::new(action, arn_of(account, "mfa", path.as_deref(), virtual_mfa_device_name))
                .keys(request_tags(tags)),
        ],
        Command::DeleteVirtualMFADevice { serial_number } => one(mfa_arn(state, account, serial_number)),
        Command::CreateOpenIDConnectProvider { url, tags, .. } => {
            let name = iam_oidc::ProviderUrl::parse(url).map_or_else(|_| url.clone(), |u| u.as_str().to_owned());
            vec![
                Requirement::new(action, format!("arn:aws:iam::{account}:oidc-provider/{name}"))
                    .keys(request_tags(tags)),
            ]
        }
        Command::AddClientIDToOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            ..
        }
        | Command::RemoveClientIDFromOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            ..
        }
        | Command::UpdateOpenIDConnectProviderThumbprint {
            open_id_connect_provider_arn: arn,
            ..
        }
        | Command::DeleteOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
        } => one(arn.clone()),
        Command::TagOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            tags,
        } => vec![Requirement::new(action, arn.clone()).keys(request_tags(tags))],
        Command::UntagOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![Requirement::new(action, arn.clone()).key(key, value)]
        }
        Command::TagMFADevice { serial_number, tags } => {
            vec![Requirement::new(action, mfa_arn(state, account, serial_number)).keys(request_tags(tags))]
        }
        Command::UntagMFADevice {
            serial_number,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![Requirement::new(action, mfa_arn(state, account, serial_number)).key(key, value)]
        }
        Command::CreateUser {
            user_name,
            path,
            permissions_boundary,
            tags,
        } => {
            let mut requirement =
                Requirement::new(action, arn_of(account, "user", path.as_deref(), user_name)).keys(request_tags(tags));
            if let Some(boundary) = permissions_boundary {
                let (key, value) = boundary_key(boundary);
                requirement = requirement.key(key, value);
            }
            vec![requirement]
        }
        Command::UpdateUser {
            user_name,
            new_user_name,
            new_path,
        } => {
            let current = state.user(user_name);
            let old = user_arn(state, account, user_name);
            let mut needed = vec![Requirement::new(action, old.clone()).keys(user_tags(state, user_name))];
            if new_user_name.is_some() || new_path.is_some() {
                let path = new_path.clone().or_else(|| current.map(|u| u.path.as_str().to_owned()));
                let name = new_user_name.as_deref().unwrap_or(user_name);
                let new = arn_of(account, "user", path.as_deref(), name);
                if new != old {
                    needed.push(Requirement::new(action, new));
                }
            }
            needed
        }
        Command::DeleteUser { user_name } => {
            vec![Requirement::new(action, user_arn(state, account, user_name))
                .keys(user_tags(state, user_name))
                .keys(user_boundary(state, user_name))]
        }
        Command::CreateGroup { group_name, path } => one(arn_of(account, "group", path.as_deref(), group_name)),
        Command::UpdateGroup {
            group_name,
            new_group_name,
            new_path,
        } => {
            let current = state.group(group_name);
            let old = group_arn(state, account, group_name);
            let mut needed = vec![Requirement::new(action, old.clone())];
            if new_group_name.is_some() || new_path.is_some() {
                let path = new_path.clone().or_else(|| current.map(|g| g.path.as_str().to_owned()));
                let name = new_group_name.as_deref().unwrap_or(group_name);
                let new = arn_of(account, "group", path.as_deref(), name);
                if new != old {
                    needed.push(Requirement::new(action, new));
                }
            }
            needed
        }
        Command::DeleteGroup { group_name }
        | Command::AddUserToGroup { group_name, .. }
        | Command::RemoveUserFromGroup { group_name, .. }
        | Command::PutGroupPolicy { group_name, .. }
        | Command::DeleteGroupPolicy { group_name, .. } => one(group_arn(state, account, group_name)),
        Command::AttachGroupPolicy { group_name, policy_arn }
        | Command::DetachGroupPolicy { group_name, policy_arn } => {
            let (key, value) = policy_arn_key(policy_arn);
            vec![Requirement::new(action, group_arn(state, account, group_name)).key(key, value)]
        }
        Command::CreateRole {
            role_name,
            path,
            permissions_boundary,
            tags,
            ..
        } => {
            let mut requirement =
                Requirement::new(action, arn_of(account, "role", path.as_deref(), role_name)).keys(request_tags(tags));
            if let Some(boundary) = permissions_boundary {
                let (key, value) = boundary_key(boundary);
                requirement = requirement.key(key, value);
            }
            vec![requirement]
        }
        Command::UpdateRole { role_name, .. }
        | Command::UpdateRoleDescription { role_name, .. }
        | Command::UpdateAssumeRolePolicy { role_name, .. }
        | Command::DeleteRole { role_name }
        | Command::PutRolePolicy { role_name, .. }
        | Command::DeleteRolePolicy { role_name, .. }
        | Command::DeleteRolePermissionsBoundary { role_name } => {
            vec![Requirement::new(action, role_arn(state, account, role_name))
                .keys(role_tags(state, role_name))
                .keys(role_boundary(state, role_name))]
        }
        Command::AttachRolePolicy { role_name, policy_arn } | Command::DetachRolePolicy { role_name, policy_arn } => {
            let (key, value) = policy_arn_key(policy_arn);
            vec![Requirement::new(action, role_arn(state, account, role_name))
                .key(key, value)
                .keys(role_tags(state, role_name))
                .keys(role_boundary(state, role_name))]
        }
        Command::PutRolePermissionsBoundary {
            role_name,
            permissions_boundary,
        } => {
            let (key, value) = boundary_key(permissions_boundary);
            vec![Requirement::new(action, role_arn(state, account, role_name))
                .key(key, value)
                .keys(role_tags(state, role_name))]
        }
        Command::TagRole { role_name, tags } => vec![Requirement::new(action, role_arn(state, account, role_name))
            .keys(request_tags(tags))
            .keys(role_tags(state, role_name))],
        Command::UntagRole {
            role_name,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![Requirement::new(action, role_arn(state, account, role_name))
                .key(key, value)
                .keys(role_tags(state, role_name))]
        }
        Command::CreateInstanceProfile {
            instance_profile_name,
            path,
            tags,
        } => vec![Requirement::new(
            action,
            arn_of(account, "instance-profile", path.as_deref(), instance_profile_name),
        )
        .keys(request_tags(tags))],
        Command::DeleteInstanceProfile { instance_profile_name }
        | Command::RemoveRoleFromInstanceProfile {
            instance_profile_name, ..
        } => vec![
            Requirement::new(action, instance_profile_arn(state, account, instance_profile_name))
                .keys(instance_profile_tags(state, instance_profile_name)),
        ],
        // As in AWS, putting a role in an instance profile also passes the role.
        Command::AddRoleToInstanceProfile {
            instance_profile_name,
            role_name,
        } => vec![
            Requirement::new(action, instance_profile_arn(state, account, instance_profile_name))
                .keys(instance_profile_tags(state, instance_profile_name)),
            Requirement::new("PassRole", role_arn(state, account, role_name)),
        ],
        Command::TagInstanceProfile {
            instance_profile_name,
            tags,
        } => vec![
            Requirement::new(action, instance_profile_arn(state, account, instance_profile_name))
                .keys(request_tags(tags))
                .keys(instance_profile_tags(state, instance_profile_name)),
        ],
        Command::UntagInstanceProfile {
            instance_profile_name,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![
                Requirement::new(action, instance_profile_arn(state, account, instance_profile_name))
                    .key(key, value)
                    .keys(instance_profile_tags(state, instance_profile_name)),
            ]
        }
        Command::CreatePolicy {
            policy_name,
            path,
            tags,
            ..
        } => vec![
            Requirement::new(action, arn_of(account, "policy", path.as_deref(), policy_name)).keys(request_tags(tags)),
        ],
        Command::DeletePolicy { policy_arn }
        | Command::CreatePolicyVersion { policy_arn, .. }
        | Command::DeletePolicyVersion { policy_arn, .. }
        | Command::SetDefaultPolicyVersion { policy_arn, .. } => {
            vec![Requirement::new(action, policy_arn.clone()).keys(policy_tags(state, policy_arn))]
        }
        Command::TagPolicy { policy_arn, tags } => vec![Requirement::new(action, policy_arn.clone())
            .keys(request_tags(tags))
            .keys(policy_tags(state, policy_arn))],
        Command::UntagPolicy {
            policy_arn,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![Requirement::new(action, policy_arn.clone())
                .key(key, value)
                .keys(policy_tags(state, policy_arn))]
        }
        Command::AttachUserPolicy { user_name, policy_arn } | Command::DetachUserPolicy { user_name, policy_arn } => {
            let (key, value) = policy_arn_key(policy_arn);
            vec![Requirement::new(action, user_arn(state, account, user_name))
                .key(key, value)
                .keys(user_tags(state, user_name))
                .keys(user_boundary(state, user_name))]
        }
        Command::PutUserPolicy { user_name, .. }
        | Command::DeleteUserPolicy { user_name, .. }
        | Command::DeleteLoginProfile { user_name }
        | Command::DeleteUserPermissionsBoundary { user_name } => {
            vec![Requirement::new(action, user_arn(state, account, user_name))
                .keys(user_tags(state, user_name))
                .keys(user_boundary(state, user_name))]
        }
        Command::PutUserPermissionsBoundary {
            user_name,
            permissions_boundary,
        } => {
            let (key, value) = boundary_key(permissions_boundary);
            vec![Requirement::new(action, user_arn(state, account, user_name))
                .key(key, value)
                .keys(user_tags(state, user_name))]
        }
        Command::TagUser { user_name, tags } => vec![Requirement::new(action, user_arn(state, account, user_name))
            .keys(request_tags(tags))
            .keys(user_tags(state, user_name))],
        Command::UntagUser {
            user_name,
            tag_keys: keys,
        } => {
            let (key, value) = tag_keys(keys.iter().map(String::as_str));
            vec![Requirement::new(action, user_arn(state, account, user_name))
                .key(key, value)
                .keys(user_tags(state, user_name))]
        }
        Command::CreateAccessKey { user_name, .. }
        | Command::UpdateAccessKey { user_name, .. }
        | Command::DeleteAccessKey { user_name, .. } => match user_name {
            Some(name) => vec![Requirement::new(action, user_arn(state, account, name)).keys(user_tags(state, name))],
            None => one(format!("arn:aws:iam::{account}:root")),
        },
    }
}

/// A virtual MFA device's ARN (its serial number) as IAM resolves it: the device's own, or the
/// text given when no such device exists (then the call fails with `NoSuchEntity` after
/// authorization, as AWS answers).
pub(crate) fn mfa_arn(state: &AccountState, account: &str, serial_number: &str) -> String {
    match state.mfa_device(serial_number) {
        Some(device) => device.serial_number.to_string(),
        None if serial_number.starts_with("arn:") => serial_number.to_owned(),
        None => format!("arn:aws:iam::{account}:mfa/{serial_number}"),
    }
}

/// Whose access keys a call without `UserName` manages: as in AWS, the caller's own. `Ok(None)`
/// means the root user's keys, which only the root user itself manages; a caller that is
/// neither the root user nor an IAM user must name the user.
///
/// # Errors
/// `ValidationError` when the caller is not a user of `state`'s account nor its root user.
pub fn access_key_user(
    state: &AccountState,
    caller_arn: &str,
    user_name: Option<String>,
) -> Result<Option<String>, DomainError> {
    if user_name.is_some() {
        return Ok(user_name);
    }
    let must_name = || DomainError::Validation("Must specify userName when calling with non-User credentials".into());
    let arn = IamArn::parse(caller_arn).map_err(|_| must_name())?;
    if arn.account() != state.account_id() {
        return Err(must_name());
    }
    match arn.kind() {
        None => Ok(None),
        Some(ResourceKind::User) => {
            let name = arn.name().ok_or_else(must_name)?;
            Ok(Some(name.as_str().to_owned()))
        }
        Some(_) => Err(must_name()),
    }
}

/// Whether the caller is the root user of `state`'s account.
#[must_use]
pub fn is_account_root(state: &AccountState, caller_arn: &str) -> bool {
    IamArn::parse(caller_arn).is_ok_and(|arn| arn.kind().is_none() && arn.account() == state.account_id())
}

/// The names unique within an account, as `(scope, lowercased name)`: IAM's names are unique
/// case-insensitively per kind.
#[must_use]
pub fn unique_names(state: &AccountState) -> BTreeSet<(&'static str, String)> {
    let mut names = BTreeSet::new();
    names.extend(state.users().map(|u| ("user", u.user_name.as_str().to_lowercase())));
    names.extend(state.groups().map(|g| ("group", g.group_name.as_str().to_lowercase())));
    names.extend(state.roles().map(|r| ("role", r.role_name.as_str().to_lowercase())));
    names.extend(
        state
            .customer_policies()
            .map(|p| ("policy", p.policy_name.as_str().to_lowercase())),
    );
    names.extend(
        state
            .instance_profiles()
            .map(|p| ("instance-profile", p.instance_profile_name.as_str().to_lowercase())),
    );
    names
}

/// A unique name a change takes or gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClaim {
    /// The name is no longer used.
    Release(&'static str, String),
    /// The name is newly used.
    Claim(&'static str, String),
}

/// The names that taking `before` to `after` releases and claims, releases first (so a rename
/// that changes only the case releases before it claims).
#[must_use]
pub fn name_claims(before: &AccountState, after: &AccountState) -> Vec<NameClaim> {
    // The entity maps are keyed by the lower-cased name, in order: walking the two states' keys
    // side by side finds the differences without copying any name that did not change (a
    // change's cost must not grow with the account's size). Scopes in `unique_names`' order.
    let mut release = Vec::new();
    let mut claim = Vec::new();
    key_changes("group", &before.groups, &after.groups, &mut release, &mut claim);
    key_changes(
        "instance-profile",
        &before.instance_profiles,
        &after.instance_profiles,
        &mut release,
        &mut claim,
    );
    key_changes("policy", &before.policies, &after.policies, &mut release, &mut claim);
    key_changes("role", &before.roles, &after.roles, &mut release, &mut claim);
    key_changes("user", &before.users, &after.users, &mut release, &mut claim);
    release.extend(claim);
    release
}

/// The keys only `before` has (released) and only `after` has (claimed), in key order.
fn key_changes<V>(
    scope: &'static str,
    before: &std::collections::BTreeMap<String, V>,
    after: &std::collections::BTreeMap<String, V>,
    release: &mut Vec<NameClaim>,
    claim: &mut Vec<NameClaim>,
) {
    use std::cmp::Ordering;
    let (mut old, mut new) = (before.keys().peekable(), after.keys().peekable());
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => return,
            (Some(key), None) => {
                release.push(NameClaim::Release(scope, (*key).clone()));
                old.next();
            }
            (None, Some(key)) => {
                claim.push(NameClaim::Claim(scope, (*key).clone()));
                new.next();
            }
            (Some(a), Some(b)) => match a.cmp(b) {
                Ordering::Equal => {
                    old.next();
                    new.next();
                }
                Ordering::Less => {
                    release.push(NameClaim::Release(scope, (*a).clone()));
                    old.next();
                }
                Ordering::Greater => {
                    claim.push(NameClaim::Claim(scope, (*b).clone()));
                    new.next();
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decide, evolve, DecideContext};
    use chrono::TimeZone;

    const ACCOUNT: &str = "111122223333";

    fn state_with(commands: &[Command]) -> AccountState {
        let mut state = AccountState::new();
        let mut all = vec![Command::CreateAccount {
            account_id: ACCOUNT.into(),
            account_alias: None,
        }];
        all.extend_from_slice(commands);
        for (i, command) in all.iter().enumerate() {
            let now = chrono::Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap();
            let ctx = DecideContext::new(now, [i as u8; 16], "arn:aws:iam::111122223333:root");
            for event in decide(&state, command, &ctx).unwrap() {
                evolve(&mut state, &event);
            }
        }
        state
    }

    fn keys(requirement: &Requirement) -> Vec<(&str, Vec<&str>)> {
        requirement
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.values().iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn attaching_a_policy_names_it_and_the_users_boundary() {
        let boundary = "arn:aws:iam::aws:policy/PowerUserAccess";
        let state = state_with(&[Command::CreateUser {
            user_name: "dev".into(),
            path: Some("/eng/".into()),
            permissions_boundary: Some(boundary.into()),
            tags: vec![TagInput::new("team", "db")],
        }]);
        let needed = requirements(
            &state,
            ACCOUNT,
            &Command::AttachUserPolicy {
                user_name: "dev".into(),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
        );
        assert_eq!(needed.len(), 1);
        assert_eq!(needed[0].action, "iam:AttachUserPolicy");
        assert_eq!(needed[0].resource, "arn:aws:iam::111122223333:user/eng/dev");
        assert_eq!(
            keys(&needed[0]),
            vec![
                ("iam:PolicyARN", vec!["arn:aws:iam::aws:policy/AdministratorAccess"]),
                ("aws:ResourceTag/team", vec!["db"]),
                ("iam:ResourceTag/team", vec!["db"]),
                ("iam:PermissionsBoundary", vec![boundary]),
            ]
        );
    }

    #[test]
    fn a_rename_or_move_needs_the_old_and_the_new_arn() {
        let state = state_with(&[
            Command::CreateUser {
                user_name: "bob".into(),
                path: Some("/staff/".into()),
                permissions_boundary: None,
                tags: vec![],
            },
            Command::CreateGroup {
                group_name: "ops".into(),
                path: None,
            },
        ]);
        let moved = requirements(
            &state,
            ACCOUNT,
            &Command::UpdateUser {
                user_name: "bob".into(),
                new_user_name: None,
                new_path: Some("/admins/".into()),
            },
        );
        let resources: Vec<&str> = moved.iter().map(|r| r.resource.as_str()).collect();
        assert_eq!(
            resources,
            vec![
                "arn:aws:iam::111122223333:user/staff/bob",
                "arn:aws:iam::111122223333:user/admins/bob"
            ]
        );
        let renamed = requirements(
            &state,
            ACCOUNT,
            &Command::UpdateGroup {
                group_name: "ops".into(),
                new_group_name: Some("root-ops".into()),
                new_path: None,
            },
        );
        let resources: Vec<&str> = renamed.iter().map(|r| r.resource.as_str()).collect();
        assert_eq!(
            resources,
            vec![
                "arn:aws:iam::111122223333:group/ops",
                "arn:aws:iam::111122223333:group/root-ops"
            ]
        );
    }

    #[test]
    fn creating_with_tags_and_a_boundary_sets_request_keys() {
        let needed = requirements(
            &state_with(&[]),
            ACCOUNT,
            &Command::CreateRole {
                role_name: "app".into(),
                path: None,
                assume_role_policy_document: "{}".into(),
                description: None,
                max_session_duration: None,
                permissions_boundary: Some("arn:aws:iam::111122223333:policy/b".into()),
                tags: vec![TagInput::new("env", "prod"), TagInput::new("team", "web")],
            },
        );
        assert_eq!(
            keys(&needed[0]),
            vec![
                ("aws:RequestTag/env", vec!["prod"]),
                ("aws:RequestTag/team", vec!["web"]),
                ("aws:TagKeys", vec!["env", "team"]),
                ("iam:PermissionsBoundary", vec!["arn:aws:iam::111122223333:policy/b"]),
            ]
        );
    }

    #[test]
    fn access_keys_without_a_user_name_are_the_callers_own() {
        let state = state_with(&[]);
        assert_eq!(
            access_key_user(&state, "arn:aws:iam::111122223333:user/ops/alice", None).unwrap(),
            Some("alice".to_owned())
        );
        assert_eq!(
            access_key_user(&state, "arn:aws:iam::111122223333:root", None).unwrap(),
            None
        );
        assert!(access_key_user(&state, "arn:aws:iam::111122223333:role/r", None).is_err());
        assert!(access_key_user(&state, "arn:aws:iam::999999999999:root", None).is_err());
        assert_eq!(
            access_key_user(&state, "arn:aws:iam::111122223333:user/alice", Some("bob".into())).unwrap(),
            Some("bob".to_owned())
        );
    }

    #[test]
    fn name_claims_release_before_they_claim() {
        let before = state_with(&[Command::CreateUser {
            user_name: "Carol".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        }]);
        let after = state_with(&[Command::CreateUser {
            user_name: "dave".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        }]);
        assert_eq!(
            name_claims(&before, &after),
            vec![
                NameClaim::Release("user", "carol".into()),
                NameClaim::Claim("user", "dave".into())
            ]
        );
    }

    #[test]
    fn request_parameters_are_awss_and_never_hold_a_key_or_its_secret() {
        let create = Command::CreateAccessKey {
            user_name: Some("alice".into()),
            access_key_id: "AKIAEXAMPLE".into(),
            secret_ciphertext: "sealed".into(),
        };
        assert_eq!(create.request_parameters(), serde_json::json!({"userName": "alice"}));
        let tag = Command::TagUser {
            user_name: "alice".into(),
            tags: vec![TagInput::new("team", "db")],
        };
        assert_eq!(
            tag.request_parameters(),
            serde_json::json!({"userName": "alice", "tags": [{"key": "team", "value": "db"}]})
        );
    }
}
