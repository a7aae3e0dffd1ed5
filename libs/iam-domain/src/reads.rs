//! The read-only IAM calls (`Get*`, `List*`, simulations) and the permission each needs, as
//! [`crate::requirements`] is for changes: every door that reads (GraphQL's queries and nested
//! fields, AWS's wire protocol) asks the same question of the same function.

use crate::authorization::Requirement;
use crate::error::DomainError;
use crate::state::{AccountState, Group, ManagedPolicy, Role, User};

/// A read-only IAM call, with AWS's parameter names. It serializes as CloudTrail's
/// `requestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
#[allow(missing_docs)] // fields are AWS's request parameters, named as AWS names them
pub enum Read {
    GetUser {
        user_name: String,
    },
    ListUsers {
        path_prefix: Option<String>,
    },
    ListGroupsForUser {
        user_name: String,
    },
    ListAttachedUserPolicies {
        user_name: String,
    },
    ListUserPolicies {
        user_name: String,
    },
    GetUserPolicy {
        user_name: String,
        policy_name: String,
    },
    ListAccessKeys {
        user_name: String,
    },
    GetAccessKeyLastUsed {
        access_key_id: String,
    },
    ListUserTags {
        user_name: String,
    },
    GetGroup {
        group_name: String,
    },
    ListGroups {
        path_prefix: Option<String>,
    },
    ListAttachedGroupPolicies {
        group_name: String,
    },
    ListGroupPolicies {
        group_name: String,
    },
    GetGroupPolicy {
        group_name: String,
        policy_name: String,
    },
    GetRole {
        role_name: String,
    },
    ListRoles {
        path_prefix: Option<String>,
    },
    ListAttachedRolePolicies {
        role_name: String,
    },
    ListRolePolicies {
        role_name: String,
    },
    GetRolePolicy {
        role_name: String,
        policy_name: String,
    },
    ListRoleTags {
        role_name: String,
    },
    GetPolicy {
        policy_arn: String,
    },
    ListPolicies {
        path_prefix: Option<String>,
    },
    ListPolicyVersions {
        policy_arn: String,
    },
    GetPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    ListPolicyTags {
        policy_arn: String,
    },
    GetInstanceProfile {
        instance_profile_name: String,
    },
    ListInstanceProfiles {
        path_prefix: Option<String>,
    },
    ListInstanceProfilesForRole {
        role_name: String,
    },
    ListInstanceProfileTags {
        instance_profile_name: String,
    },
    // A user's other credentials. Gatehouse keeps no signing certificates, SSH keys or
    // service-specific credentials, so those lists answer as AWS does for a user without any
    // (tools read them before deleting a user).
    ListSigningCertificates {
        user_name: String,
    },
    ListSSHPublicKeys {
        user_name: String,
    },
    ListServiceSpecificCredentials {
        user_name: String,
    },
    ListMFADevices {
        user_name: String,
    },
    GetLoginProfile {
        user_name: String,
    },
    ListVirtualMFADevices {
        assignment_status: Option<String>,
    },
    GetContextKeysForCustomPolicy {},
    GetContextKeysForPrincipalPolicy {
        policy_source_arn: String,
    },
    GetAccountAuthorizationDetails {},
    GetAccountSummary {},
    GetAccountPasswordPolicy {},
    GetOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
    },
    ListOpenIDConnectProviders {},
    ListOpenIDConnectProviderTags {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
    },
    ListMFADeviceTags {
        serial_number: String,
    },
    ListAccountAliases {},
    ListEntitiesForPolicy {
        policy_arn: String,
    },
    SimulateCustomPolicy {
        action_names: Vec<String>,
        resource_arns: Vec<String>,
    },
    SimulatePrincipalPolicy {
        policy_source_arn: String,
        action_names: Vec<String>,
        resource_arns: Vec<String>,
    },
}

impl Read {
    /// The AWS action name (`GetUser`), authorized as `iam:<name>`.
    #[must_use]
    pub fn action_name(&self) -> &'static str {
        match self {
            Read::GetUser { .. } => "GetUser",
            Read::ListUsers { .. } => "ListUsers",
            Read::ListGroupsForUser { .. } => "ListGroupsForUser",
            Read::ListAttachedUserPolicies { .. } => "ListAttachedUserPolicies",
            Read::ListUserPolicies { .. } => "ListUserPolicies",
            Read::GetUserPolicy { .. } => "GetUserPolicy",
            Read::ListAccessKeys { .. } => "ListAccessKeys",
            Read::GetAccessKeyLastUsed { .. } => "GetAccessKeyLastUsed",
            Read::ListUserTags { .. } => "ListUserTags",
            Read::GetGroup { .. } => "GetGroup",
            Read::ListGroups { .. } => "ListGroups",
            Read::ListAttachedGroupPolicies { .. } => "ListAttachedGroupPolicies",
            Read::ListGroupPolicies { .. } => "ListGroupPolicies",
            Read::GetGroupPolicy { .. } => "GetGroupPolicy",
            Read::GetRole { .. } => "GetRole",
            Read::ListRoles { .. } => "ListRoles",
            Read::ListAttachedRolePolicies { .. } => "ListAttachedRolePolicies",
            Read::ListRolePolicies { .. } => "ListRolePolicies",
            Read::GetRolePolicy { .. } => "GetRolePolicy",
            Read::ListRoleTags { .. } => "ListRoleTags",
            Read::GetPolicy { .. } => "GetPolicy",
            Read::ListPolicies { .. } => "ListPolicies",
            Read::ListPolicyVersions { .. } => "ListPolicyVersions",
            Read::GetPolicyVersion { .. } => "GetPolicyVersion",
            Read::ListPolicyTags { .. } => "ListPolicyTags",
            Read::GetInstanceProfile { .. } => "GetInstanceProfile",
            Read::ListInstanceProfiles { .. } => "ListInstanceProfiles",
            Read::ListInstanceProfilesForRole { .. } => "ListInstanceProfilesForRole",
            Read::ListInstanceProfileTags { .. } => "ListInstanceProfileTags",
            Read::ListSigningCertificates { .. } => "ListSigningCertificates",
            Read::ListSSHPublicKeys { .. } => "ListSSHPublicKeys",
            Read::ListServiceSpecificCredentials { .. } => "ListServiceSpecificCredentials",
            Read::ListMFADevices { .. } => "ListMFADevices",
            Read::GetLoginProfile { .. } => "GetLoginProfile",
            Read::ListVirtualMFADevices { .. } => "ListVirtualMFADevices",
            Read::GetContextKeysForCustomPolicy {} => "GetContextKeysForCustomPolicy",
            Read::GetContextKeysForPrincipalPolicy { .. } => "GetContextKeysForPrincipalPolicy",
            Read::GetAccountAuthorizationDetails {} => "GetAccountAuthorizationDetails",
            Read::GetAccountSummary {} => "GetAccountSummary",
            Read::GetAccountPasswordPolicy {} => "GetAccountPasswordPolicy",
            Read::GetOpenIDConnectProvider { .. } => "GetOpenIDConnectProvider",
            Read::ListOpenIDConnectProviders {} => "ListOpenIDConnectProviders",
            Read::ListOpenIDConnectProviderTags { .. } => "ListOpenIDConnectProviderTags",
            Read::ListMFADeviceTags { .. } => "ListMFADeviceTags",
            Read::ListAccountAliases {} => "ListAccountAliases",
            Read::ListEntitiesForPolicy { .. } => "ListEntitiesForPolicy",
            Read::SimulateCustomPolicy { .. } => "SimulateCustomPolicy",
            Read::SimulatePrincipalPolicy { .. } => "SimulatePrincipalPolicy",
        }
    }

    /// The permission the call needs in `account` as of `state`: the action on the entity's ARN
    /// as IAM resolves it (its path included), on `<kind><path prefix>` for lists, `*` for the
    /// account-wide calls.
    #[must_use]
    pub fn requirement(&self, state: &AccountState, account: &str) -> Requirement {
        let action = format!("iam:{}", self.action_name());
        let entity = |kind: &str, name: &str| -> String {
            let found = match kind {
                "user" => state.user(name).map(|u| u.arn.to_string()),
                "group" => state.group(name).map(|g| g.arn.to_string()),
                "instance-profile" => state.instance_profile(name).map(|p| p.arn.to_string()),
                _ => state.role(name).map(|r| r.arn.to_string()),
            };
            found.unwrap_or_else(|| format!("arn:aws:iam::{account}:{kind}/{name}"))
        };
        let under = |kind: &str, prefix: &Option<String>| {
            format!("arn:aws:iam::{account}:{kind}{}", prefix.as_deref().unwrap_or("/"))
        };
        let resource = match self {
            Read::GetUser { user_name }
            | Read::ListGroupsForUser { user_name }
            | Read::ListAttachedUserPolicies { user_name }
            | Read::ListUserPolicies { user_name }
            | Read::GetUserPolicy { user_name, .. }
            | Read::ListAccessKeys { user_name }
            | Read::ListUserTags { user_name }
            | Read::ListSigningCertificates { user_name }
            | Read::ListSSHPublicKeys { user_name }
            | Read::ListServiceSpecificCredentials { user_name }
            | Read::ListMFADevices { user_name }
            | Read::GetLoginProfile { user_name } => entity("user", user_name),
            Read::GetInstanceProfile { instance_profile_name }
            | Read::ListInstanceProfileTags { instance_profile_name } => {
                entity("instance-profile", instance_profile_name)
            }
            Read::ListInstanceProfiles { path_prefix } => under("instance-profile", path_prefix),
            Read::GetGroup { group_name }
            | Read::ListAttachedGroupPolicies { group_name }
            | Read::ListGroupPolicies { group_name }
            | Read::GetGroupPolicy { group_name, .. } => entity("group", group_name),
            Read::GetRole { role_name }
            | Read::ListAttachedRolePolicies { role_name }
            | Read::ListRolePolicies { role_name }
            | Read::GetRolePolicy { role_name, .. }
            | Read::ListRoleTags { role_name }
            | Read::ListInstanceProfilesForRole { role_name } => entity("role", role_name),
            Read::ListUsers { path_prefix } => under("user", path_prefix),
            Read::ListGroups { path_prefix } => under("group", path_prefix),
            Read::ListRoles { path_prefix } => under("role", path_prefix),
            Read::ListPolicies { path_prefix } => under("policy", path_prefix),
            Read::GetPolicy { policy_arn }
            | Read::ListPolicyVersions { policy_arn }
            | Read::GetPolicyVersion { policy_arn, .. }
            | Read::ListPolicyTags { policy_arn }
            | Read::ListEntitiesForPolicy { policy_arn } => policy_arn.clone(),
            Read::SimulatePrincipalPolicy { policy_source_arn, .. }
            | Read::GetContextKeysForPrincipalPolicy { policy_source_arn } => policy_source_arn.clone(),
            // On the key's owner: a user, or the account's root user.
            Read::GetAccessKeyLastUsed { access_key_id } => match state.access_key(access_key_id).map(|k| &k.owner) {
                Some(crate::state::AccessKeyOwner::User { user_id }) => state
                    .user_by_id(user_id)
                    .map_or_else(|| format!("arn:aws:iam::{account}:root"), |u| u.arn.to_string()),
                _ => format!("arn:aws:iam::{account}:root"),
            },
            Read::ListMFADeviceTags { serial_number } => crate::authorization::mfa_arn(state, account, serial_number),
            Read::GetOpenIDConnectProvider {
                open_id_connect_provider_arn,
            }
            | Read::ListOpenIDConnectProviderTags {
                open_id_connect_provider_arn,
            } => open_id_connect_provider_arn.clone(),
            Read::GetAccountAuthorizationDetails {}
            | Read::ListOpenIDConnectProviders {}
            | Read::GetAccountPasswordPolicy {}
            | Read::GetAccountSummary {}
            | Read::ListAccountAliases {}
            | Read::SimulateCustomPolicy { .. }
            | Read::ListVirtualMFADevices { .. }
            | Read::GetContextKeysForCustomPolicy {} => "*".to_owned(),
        };
        Requirement::named(&action, resource)
    }

    /// The request parameters as CloudTrail's `requestParameters` records them.
    #[must_use]
    pub fn request_parameters(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// An entity type `GetAccountAuthorizationDetails` can be filtered to (its `Filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    /// `User`.
    User,
    /// `Group`.
    Group,
    /// `Role`.
    Role,
    /// `LocalManagedPolicy`: the account's own managed policies.
    LocalManagedPolicy,
    /// `AWSManagedPolicy`: the AWS-managed policies the account uses.
    AwsManagedPolicy,
}

impl EntityType {
    /// Parses AWS's name of an entity type.
    ///
    /// # Errors
    /// `ValidationError` for any other name.
    pub fn parse(name: &str) -> Result<EntityType, DomainError> {
        Ok(match name {
            "User" => EntityType::User,
            "Group" => EntityType::Group,
            "Role" => EntityType::Role,
            "LocalManagedPolicy" => EntityType::LocalManagedPolicy,
            "AWSManagedPolicy" => EntityType::AwsManagedPolicy,
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(DomainError::Validation(format!(
                    "Filter {shown:?} is not one of User, Role, Group, LocalManagedPolicy, AWSManagedPolicy"
                )));
            }
        })
    }
}

/// One entry of `GetAccountAuthorizationDetails`.
#[derive(Debug, Clone, Copy)]
pub enum AuthorizationDetail<'s> {
    /// A user.
    User(&'s User),
    /// A group.
    Group(&'s Group),
    /// A role.
    Role(&'s Role),
    /// A managed policy (the account's own, or an AWS-managed one it uses).
    Policy(&'s ManagedPolicy),
}

/// `GetAccountAuthorizationDetails`' entries in AWS's order (users, groups, roles, then managed
/// policies), limited to `filter`'s types (every type when it is empty). A page's marker is a
/// position in this list, so every door pages it alike.
#[must_use]
pub fn authorization_details<'s>(state: &'s AccountState, filter: &[EntityType]) -> Vec<AuthorizationDetail<'s>> {
    let wants = |kind: EntityType| filter.is_empty() || filter.contains(&kind);
    let mut entries = Vec::new();
    if wants(EntityType::User) {
        entries.extend(state.users().map(AuthorizationDetail::User));
    }
    if wants(EntityType::Group) {
        entries.extend(state.groups().map(AuthorizationDetail::Group));
    }
    if wants(EntityType::Role) {
        entries.extend(state.roles().map(AuthorizationDetail::Role));
    }
    if wants(EntityType::LocalManagedPolicy) {
        entries.extend(state.customer_policies().map(AuthorizationDetail::Policy));
    }
    if wants(EntityType::AwsManagedPolicy) {
        let in_use = state
            .aws_managed_policies()
            .iter()
            .filter(|p| state.attachment_count(&p.arn) > 0);
        entries.extend(in_use.map(AuthorizationDetail::Policy));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decide, evolve, Command, DecideContext};
    use chrono::TimeZone;

    #[test]
    fn reads_need_their_action_on_the_entity_as_iam_names_it() {
        let mut state = AccountState::new();
        for (i, command) in [
            Command::CreateAccount {
                account_id: "111122223333".into(),
                account_alias: None,
            },
            Command::CreateUser {
                user_name: "Alice".into(),
                path: Some("/eng/".into()),
                permissions_boundary: None,
                tags: vec![],
            },
        ]
        .iter()
        .enumerate()
        {
            let now = chrono::Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap();
            let ctx = DecideContext::new(now, [i as u8; 16], "arn:aws:iam::111122223333:root");
            for event in decide(&state, command, &ctx).unwrap() {
                evolve(&mut state, &event);
            }
        }
        let read = Read::ListGroupsForUser {
            user_name: "alice".into(),
        };
        let needed = read.requirement(&state, "111122223333");
        assert_eq!(needed.action, "iam:ListGroupsForUser");
        assert_eq!(needed.resource, "arn:aws:iam::111122223333:user/eng/Alice");
        assert_eq!(read.request_parameters(), serde_json::json!({"userName": "alice"}));
        let listed = Read::ListRoles {
            path_prefix: Some("/app/".into()),
        }
        .requirement(&state, "111122223333");
        assert_eq!(listed.resource, "arn:aws:iam::111122223333:role/app/");
        assert_eq!(
            Read::GetAccountAuthorizationDetails {}.request_parameters(),
            serde_json::json!({})
        );
    }
}
