//! Mutations: AWS IAM actions in lowerCamelCase with AWS's parameter names. Each is authorized
//! as its IAM action on the ARN it touches, decided by the domain, appended to the log, and
//! answered with the entity as of the new state plus the account's sequence (a consistency token).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use iam_app::Executed;
use iam_domain::session::AssumeRoleRequest;
use iam_domain::{AccessKeyStatus, Command, TagInput};
use iam_types::{ErrorCode, IamArn};

use crate::error::{aws_error, from_app};
use crate::guard::Scope;
use crate::types::{
    AccessKeyMetadata, GroupObject, InstanceProfileObject, PolicyObject, PolicyVersionObject, RoleObject, UserObject,
};

/// The root of mutations.
#[derive(Default)]
pub struct CoreMutation;

/// A tag in a request.
#[derive(InputObject, Clone)]
#[graphql(name = "TagInput")]
pub struct TagIn {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

pub(crate) fn tags_in(tags: Option<Vec<TagIn>>) -> Vec<TagInput> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| TagInput::new(t.key, t.value))
        .collect()
}

/// `createUser` input.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The name.
    pub user_name: String,
    /// The path (default `/`).
    pub path: Option<String>,
    /// A managed policy ARN to use as permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagIn>>,
}

/// `updateUser` input.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user.
    pub user_name: String,
    /// A new name.
    pub new_user_name: Option<String>,
    /// A new path.
    pub new_path: Option<String>,
}

/// `createGroup` input.
#[derive(InputObject)]
pub struct CreateGroupInput {
    /// The name.
    pub group_name: String,
    /// The path.
    pub path: Option<String>,
}

/// `updateGroup` input.
#[derive(InputObject)]
pub struct UpdateGroupInput {
    /// The group.
    pub group_name: String,
    /// A new name.
    pub new_group_name: Option<String>,
    /// A new path.
    pub new_path: Option<String>,
}

/// `addUserToGroup` / `removeUserFromGroup` input.
#[derive(InputObject)]
pub struct GroupMembershipInput {
    /// The group.
    pub group_name: String,
    /// The user.
    pub user_name: String,
}

/// `createRole` input.
#[derive(InputObject)]
pub struct CreateRoleInput {
    /// The name.
    pub role_name: String,
    /// The path.
    pub path: Option<String>,
    /// The trust policy.
    pub assume_role_policy_document: String,
    /// A description.
    pub description: Option<String>,
    /// Maximum session length in seconds (3600 to 43200).
    pub max_session_duration: Option<u32>,
    /// A managed policy ARN to use as permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagIn>>,
}

/// `updateRole` input.
#[derive(InputObject)]
pub struct UpdateRoleInput {
    /// The role.
    pub role_name: String,
    /// A new description.
    pub description: Option<String>,
    /// A new maximum session length.
    pub max_session_duration: Option<u32>,
}

/// `updateAssumeRolePolicy` input.
#[derive(InputObject)]
pub struct UpdateAssumeRolePolicyInput {
    /// The role.
    pub role_name: String,
    /// The new trust policy.
    pub policy_document: String,
}

/// `createPolicy` input.
#[derive(InputObject)]
pub struct CreatePolicyInput {
    /// The name.
    pub policy_name: String,
    /// The path.
    pub path: Option<String>,
    /// The document (version 2012-10-17).
    pub policy_document: String,
    /// A description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagIn>>,
}

/// `createPolicyVersion` input.
#[derive(InputObject)]
pub struct CreatePolicyVersionInput {
    /// The policy.
    pub policy_arn: String,
    /// The new document.
    pub policy_document: String,
    /// Make it the default version.
    #[graphql(default)]
    pub set_as_default: bool,
}

/// `deletePolicyVersion` / `setDefaultPolicyVersion` input.
#[derive(InputObject)]
pub struct PolicyVersionInput {
    /// The policy.
    pub policy_arn: String,
    /// `v1`, `v2`, ...
    pub version_id: String,
}

/// `attachUserPolicy` / `detachUserPolicy` input.
#[derive(InputObject)]
pub struct UserPolicyArnInput {
    /// The user.
    pub user_name: String,
    /// The managed policy.
    pub policy_arn: String,
}

/// `attachGroupPolicy` / `detachGroupPolicy` input.
#[derive(InputObject)]
pub struct GroupPolicyArnInput {
    /// The group.
    pub group_name: String,
    /// The managed policy.
    pub policy_arn: String,
}

/// `attachRolePolicy` / `detachRolePolicy` input.
#[derive(InputObject)]
pub struct RolePolicyArnInput {
    /// The role.
    pub role_name: String,
    /// The managed policy.
    pub policy_arn: String,
}

/// `putUserPolicy` input.
#[derive(InputObject)]
pub struct PutUserPolicyInput {
    /// The user.
    pub user_name: String,
    /// The inline policy's name.
    pub policy_name: String,
    /// The document.
    pub policy_document: String,
}

/// `putGroupPolicy` input.
#[derive(InputObject)]
pub struct PutGroupPolicyInput {
    /// The group.
    pub group_name: String,
    /// The inline policy's name.
    pub policy_name: String,
    /// The document.
    pub policy_document: String,
}

/// `putRolePolicy` input.
#[derive(InputObject)]
pub struct PutRolePolicyInput {
    /// The role.
    pub role_name: String,
    /// The inline policy's name.
    pub policy_name: String,
    /// The document.
    pub policy_document: String,
}

/// `deleteUserPolicy` input.
#[derive(InputObject)]
pub struct DeleteUserPolicyInput {
    /// The user.
    pub user_name: String,
    /// The inline policy's name.
    pub policy_name: String,
}

/// `deleteGroupPolicy` input.
#[derive(InputObject)]
pub struct DeleteGroupPolicyInput {
    /// The group.
    pub group_name: String,
    /// The inline policy's name.
    pub policy_name: String,
}

/// `deleteRolePolicy` input.
#[derive(InputObject)]
pub struct DeleteRolePolicyInput {
    /// The role.
    pub role_name: String,
    /// The inline policy's name.
    pub policy_name: String,
}

/// `tagUser` input.
#[derive(InputObject)]
pub struct TagUserInput {
    /// The user.
    pub user_name: String,
    /// Tags to add or overwrite.
    pub tags: Vec<TagIn>,
}

/// `untagUser` input.
#[derive(InputObject)]
pub struct UntagUserInput {
    /// The user.
    pub user_name: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// `tagRole` input.
#[derive(InputObject)]
pub struct TagRoleInput {
    /// The role.
    pub role_name: String,
    /// Tags.
    pub tags: Vec<TagIn>,
}

/// `untagRole` input.
#[derive(InputObject)]
pub struct UntagRoleInput {
    /// The role.
    pub role_name: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// `createInstanceProfile` input.
#[derive(InputObject)]
pub struct CreateInstanceProfileInput {
    /// The name.
    pub instance_profile_name: String,
    /// The path (default `/`).
    pub path: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagIn>>,
}

/// `addRoleToInstanceProfile` / `removeRoleFromInstanceProfile` input.
#[derive(InputObject)]
pub struct InstanceProfileRoleInput {
    /// The instance profile.
    pub instance_profile_name: String,
    /// The role.
    pub role_name: String,
}

/// `tagInstanceProfile` input.
#[derive(InputObject)]
pub struct TagInstanceProfileInput {
    /// The instance profile.
    pub instance_profile_name: String,
    /// Tags.
    pub tags: Vec<TagIn>,
}

/// `untagInstanceProfile` input.
#[derive(InputObject)]
pub struct UntagInstanceProfileInput {
    /// The instance profile.
    pub instance_profile_name: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// `tagPolicy` input.
#[derive(InputObject)]
pub struct TagPolicyInput {
    /// The policy.
    pub policy_arn: String,
    /// Tags.
    pub tags: Vec<TagIn>,
}

/// `untagPolicy` input.
#[derive(InputObject)]
pub struct UntagPolicyInput {
    /// The policy.
    pub policy_arn: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// `putUserPermissionsBoundary` input.
#[derive(InputObject)]
pub struct PutUserPermissionsBoundaryInput {
    /// The user.
    pub user_name: String,
    /// The managed policy ARN.
    pub permissions_boundary: String,
}

/// `putRolePermissionsBoundary` input.
#[derive(InputObject)]
pub struct PutRolePermissionsBoundaryInput {
    /// The role.
    pub role_name: String,
    /// The managed policy ARN.
    pub permissions_boundary: String,
}

/// An access key's status.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(rename_items = "PascalCase")]
pub enum StatusType {
    /// Usable.
    Active,
    /// Kept but refused.
    Inactive,
}

/// `updateAccessKey` input.
#[derive(InputObject)]
pub struct UpdateAccessKeyInput {
    /// The owner; absent for the caller's own keys.
    pub user_name: Option<String>,
    /// The key.
    pub access_key_id: String,
    /// The new status.
    pub status: StatusType,
}

/// `deleteAccessKey` input.
#[derive(InputObject)]
pub struct DeleteAccessKeyInput {
    /// The owner; absent for the caller's own keys.
    pub user_name: Option<String>,
    /// The key.
    pub access_key_id: String,
}

/// A result carrying a user.
#[derive(SimpleObject)]
pub struct UserPayload {
    /// The user after the change.
    pub user: UserObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A result carrying a group.
#[derive(SimpleObject)]
pub struct GroupPayload {
    /// The group after the change.
    pub group: GroupObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A result carrying a role.
#[derive(SimpleObject)]
pub struct RolePayload {
    /// The role after the change.
    pub role: RoleObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// `assumeRole` input: STS `AssumeRole`'s parameters.
#[derive(InputObject)]
pub struct AssumeRoleInput {
    /// The role to assume.
    pub role_arn: String,
    /// A name for the session (2 to 64 of `[A-Za-z0-9+=,.@_-]`).
    pub role_session_name: String,
    /// How long the credentials last: 900 s up to the role's maximum (one hour when a role
    /// session assumes a role); one hour by default.
    pub duration_seconds: Option<u32>,
    /// `sts:ExternalId`, when the trust policy asks for one.
    pub external_id: Option<String>,
    /// An inline session policy: it narrows what the role's policies grant.
    pub policy: Option<String>,
    /// Managed session policies (at most 10).
    pub policy_arns: Option<Vec<String>>,
    /// Session tags (`aws:PrincipalTag/*`).
    pub tags: Option<Vec<TagIn>>,
    /// Session tags that pass on when this session assumes another role.
    pub transitive_tag_keys: Option<Vec<String>>,
    /// `sts:SourceIdentity`; once set it stays through chaining.
    pub source_identity: Option<String>,
    /// `SerialNumber`: the caller's MFA device, for trust policies that want MFA.
    pub serial_number: Option<String>,
    /// `TokenCode`: the device's current code.
    #[graphql(secret)]
    pub token_code: Option<String>,
}

/// `getFederationToken`'s answer.
#[derive(SimpleObject)]
pub struct FederationTokenPayload {
    /// The credentials (shown this once).
    pub credentials: TemporaryCredentials,
    /// `<account>:<name>`.
    pub federated_user_id: String,
    /// `arn:aws:sts::<account>:federated-user/<name>`.
    pub arn: String,
    /// The session policy's share of what a token carries, in percent.
    pub packed_policy_size: i32,
}

/// Temporary credentials. The secret and the token are shown this once.
#[derive(SimpleObject)]
pub struct TemporaryCredentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token (`X-Amz-Security-Token`).
    pub session_token: String,
    /// When they stop working.
    pub expiration: chrono::DateTime<chrono::Utc>,
}

/// The role session `assumeRole` made.
#[derive(SimpleObject)]
pub struct AssumedRoleUser {
    /// `<role id>:<session name>`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
}

/// `assumeRole` result.
#[derive(SimpleObject)]
pub struct AssumeRolePayload {
    /// The credentials.
    pub credentials: TemporaryCredentials,
    /// Who they sign as.
    pub assumed_role_user: AssumedRoleUser,
}

/// A result carrying an instance profile.
#[derive(SimpleObject)]
pub struct InstanceProfilePayload {
    /// The instance profile after the change.
    pub instance_profile: InstanceProfileObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A result carrying a policy.
#[derive(SimpleObject)]
pub struct PolicyPayload {
    /// The policy after the change.
    pub policy: PolicyObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A result carrying a policy version.
#[derive(SimpleObject)]
pub struct PolicyVersionPayload {
    /// The version.
    pub policy_version: PolicyVersionObject,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// The result of a deletion.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A new access key; the only time its secret is ever shown.
#[derive(SimpleObject)]
pub struct AccessKeyWithSecret {
    /// `AKIA...`.
    pub access_key_id: String,
    /// The secret access key. Store it now: it cannot be retrieved again.
    pub secret_access_key: String,
    /// The owner; absent for root keys.
    pub user_name: Option<String>,
    /// `Active`.
    pub status: String,
}

/// `createAccessKey` result.
#[derive(SimpleObject)]
pub struct CreateAccessKeyPayload {
    /// The key with its secret.
    pub access_key: AccessKeyWithSecret,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// An access key's metadata after a change.
#[derive(SimpleObject)]
pub struct AccessKeyPayload {
    /// The key.
    pub access_key: AccessKeyMetadata,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// A new account with its root access key.
#[derive(SimpleObject)]
pub struct CreateAccountPayload {
    /// The 12-digit account id.
    pub account_id: String,
    /// The root user's first access key (secret shown once).
    pub root_access_key: AccessKeyWithSecret,
}

/// Runs a command as the caller's use case (authorized, executed and recorded in `iam-app`).
async fn run(scope: &Scope, command: Command) -> Result<Executed> {
    scope.gatehouse.manage(&scope.caller, command).await.map_err(from_app)
}

fn missing(what: &str) -> async_graphql::Error {
    aws_error(ErrorCode::NoSuchEntity, format!("The {what} cannot be found."))
}

fn user_payload(executed: Executed, name: &str) -> Result<UserPayload> {
    let user = executed
        .model
        .state()
        .user(name)
        .cloned()
        .ok_or_else(|| missing(&format!("user with name {name}")))?;
    Ok(UserPayload {
        user: UserObject::new(executed.model.clone(), user),
        sequence: executed.sequence,
    })
}

fn group_payload(executed: Executed, name: &str) -> Result<GroupPayload> {
    let group = executed
        .model
        .state()
        .group(name)
        .cloned()
        .ok_or_else(|| missing(&format!("group with name {name}")))?;
    Ok(GroupPayload {
        group: GroupObject::new(executed.model.clone(), group),
        sequence: executed.sequence,
    })
}

fn role_payload(executed: Executed, name: &str) -> Result<RolePayload> {
    let role = executed
        .model
        .state()
        .role(name)
        .cloned()
        .ok_or_else(|| missing(&format!("role with name {name}")))?;
    Ok(RolePayload {
        role: RoleObject::new(executed.model.clone(), role),
        sequence: executed.sequence,
    })
}

fn policy_payload(executed: Executed, arn: &str) -> Result<PolicyPayload> {
    let policy = IamArn::parse(arn)
        .ok()
        .and_then(|arn| executed.model.state().managed_policy(&arn).cloned())
        .ok_or_else(|| missing(&format!("policy {arn}")))?;
    Ok(PolicyPayload {
        policy: PolicyObject::new(executed.model.clone(), policy),
        sequence: executed.sequence,
    })
}

fn instance_profile_payload(executed: Executed, name: &str) -> Result<InstanceProfilePayload> {
    let profile = executed
        .model
        .state()
        .instance_profile(name)
        .cloned()
        .ok_or_else(|| missing(&format!("instance profile {name}")))?;
    Ok(InstanceProfilePayload {
        instance_profile: InstanceProfileObject::new(executed.model.clone(), profile),
        sequence: executed.sequence,
    })
}

fn deleted(executed: Executed) -> DeletePayload {
    DeletePayload {
        sequence: executed.sequence,
    }
}

#[Object]
impl CoreMutation {
    /// `CreateUser`.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::CreateUser {
            user_name: input.user_name,
            path: input.path,
            permissions_boundary: input.permissions_boundary,
            tags: tags_in(input.tags),
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `UpdateUser`: rename or move.
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.new_user_name.clone().unwrap_or_else(|| input.user_name.clone());
        let command = Command::UpdateUser {
            user_name: input.user_name,
            new_user_name: input.new_user_name,
            new_path: input.new_path,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteUser`.
    async fn delete_user(&self, ctx: &Context<'_>, user_name: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        Ok(deleted(run(&scope, Command::DeleteUser { user_name }).await?))
    }

    /// `CreateGroup`.
    async fn create_group(&self, ctx: &Context<'_>, input: CreateGroupInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::CreateGroup {
            group_name: input.group_name,
            path: input.path,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `UpdateGroup`.
    async fn update_group(&self, ctx: &Context<'_>, input: UpdateGroupInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.new_group_name.clone().unwrap_or_else(|| input.group_name.clone());
        let command = Command::UpdateGroup {
            group_name: input.group_name,
            new_group_name: input.new_group_name,
            new_path: input.new_path,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteGroup`.
    async fn delete_group(&self, ctx: &Context<'_>, group_name: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        Ok(deleted(run(&scope, Command::DeleteGroup { group_name }).await?))
    }

    /// `AddUserToGroup`.
    async fn add_user_to_group(&self, ctx: &Context<'_>, input: GroupMembershipInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::AddUserToGroup {
            group_name: input.group_name,
            user_name: input.user_name,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `RemoveUserFromGroup`.
    async fn remove_user_from_group(&self, ctx: &Context<'_>, input: GroupMembershipInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::RemoveUserFromGroup {
            group_name: input.group_name,
            user_name: input.user_name,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `CreateRole`.
    async fn create_role(&self, ctx: &Context<'_>, input: CreateRoleInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::CreateRole {
            role_name: input.role_name,
            path: input.path,
            assume_role_policy_document: input.assume_role_policy_document,
            description: input.description,
            max_session_duration: input.max_session_duration,
            permissions_boundary: input.permissions_boundary,
            tags: tags_in(input.tags),
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `UpdateRole`.
    async fn update_role(&self, ctx: &Context<'_>, input: UpdateRoleInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::UpdateRole {
            role_name: input.role_name,
            description: input.description,
            max_session_duration: input.max_session_duration,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `UpdateAssumeRolePolicy`.
    async fn update_assume_role_policy(
        &self,
        ctx: &Context<'_>,
        input: UpdateAssumeRolePolicyInput,
    ) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::UpdateAssumeRolePolicy {
            role_name: input.role_name,
            policy_document: input.policy_document,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteRole`.
    async fn delete_role(&self, ctx: &Context<'_>, role_name: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        Ok(deleted(run(&scope, Command::DeleteRole { role_name }).await?))
    }

    /// `CreatePolicy`.
    async fn create_policy(&self, ctx: &Context<'_>, input: CreatePolicyInput) -> Result<PolicyPayload> {
        let scope = Scope::of(ctx)?;
        let resource = scope.arn(&format!(
            "policy{}{}",
            input.path.as_deref().unwrap_or("/"),
            input.policy_name
        ));
        let command = Command::CreatePolicy {
            policy_name: input.policy_name,
            path: input.path,
            policy_document: input.policy_document,
            description: input.description,
            tags: tags_in(input.tags),
        };
        policy_payload(run(&scope, command).await?, &resource)
    }

    /// `DeletePolicy`.
    async fn delete_policy(&self, ctx: &Context<'_>, policy_arn: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        Ok(deleted(run(&scope, Command::DeletePolicy { policy_arn }).await?))
    }

    /// `CreatePolicyVersion`.
    async fn create_policy_version(
        &self,
        ctx: &Context<'_>,
        input: CreatePolicyVersionInput,
    ) -> Result<PolicyVersionPayload> {
        let scope = Scope::of(ctx)?;
        let resource = input.policy_arn.clone();
        let command = Command::CreatePolicyVersion {
            policy_arn: input.policy_arn,
            policy_document: input.policy_document,
            set_as_default: input.set_as_default,
        };
        let executed = run(&scope, command).await?;
        let policy = policy_payload(executed, &resource)?;
        let newest = policy
            .policy
            .policy
            .versions
            .last()
            .ok_or_else(|| missing("policy version"))?;
        Ok(PolicyVersionPayload {
            policy_version: PolicyVersionObject::of(
                newest,
                &policy.policy.policy.default_version_id,
                &policy.policy.policy.arn,
            ),
            sequence: policy.sequence,
        })
    }

    /// `DeletePolicyVersion`.
    async fn delete_policy_version(&self, ctx: &Context<'_>, input: PolicyVersionInput) -> Result<PolicyPayload> {
        let scope = Scope::of(ctx)?;
        let resource = input.policy_arn.clone();
        let command = Command::DeletePolicyVersion {
            policy_arn: input.policy_arn,
            version_id: input.version_id,
        };
        policy_payload(run(&scope, command).await?, &resource)
    }

    /// `SetDefaultPolicyVersion`.
    async fn set_default_policy_version(&self, ctx: &Context<'_>, input: PolicyVersionInput) -> Result<PolicyPayload> {
        let scope = Scope::of(ctx)?;
        let resource = input.policy_arn.clone();
        let command = Command::SetDefaultPolicyVersion {
            policy_arn: input.policy_arn,
            version_id: input.version_id,
        };
        policy_payload(run(&scope, command).await?, &resource)
    }

    /// `AttachUserPolicy`.
    async fn attach_user_policy(&self, ctx: &Context<'_>, input: UserPolicyArnInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::AttachUserPolicy {
            user_name: input.user_name,
            policy_arn: input.policy_arn,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `DetachUserPolicy`.
    async fn detach_user_policy(&self, ctx: &Context<'_>, input: UserPolicyArnInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::DetachUserPolicy {
            user_name: input.user_name,
            policy_arn: input.policy_arn,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `AttachGroupPolicy`.
    async fn attach_group_policy(&self, ctx: &Context<'_>, input: GroupPolicyArnInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::AttachGroupPolicy {
            group_name: input.group_name,
            policy_arn: input.policy_arn,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `DetachGroupPolicy`.
    async fn detach_group_policy(&self, ctx: &Context<'_>, input: GroupPolicyArnInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::DetachGroupPolicy {
            group_name: input.group_name,
            policy_arn: input.policy_arn,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `AttachRolePolicy`.
    async fn attach_role_policy(&self, ctx: &Context<'_>, input: RolePolicyArnInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::AttachRolePolicy {
            role_name: input.role_name,
            policy_arn: input.policy_arn,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `DetachRolePolicy`.
    async fn detach_role_policy(&self, ctx: &Context<'_>, input: RolePolicyArnInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::DetachRolePolicy {
            role_name: input.role_name,
            policy_arn: input.policy_arn,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `PutUserPolicy` (inline).
    async fn put_user_policy(&self, ctx: &Context<'_>, input: PutUserPolicyInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::PutUserPolicy {
            user_name: input.user_name,
            policy_name: input.policy_name,
            policy_document: input.policy_document,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteUserPolicy` (inline).
    async fn delete_user_policy(&self, ctx: &Context<'_>, input: DeleteUserPolicyInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::DeleteUserPolicy {
            user_name: input.user_name,
            policy_name: input.policy_name,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `PutGroupPolicy` (inline).
    async fn put_group_policy(&self, ctx: &Context<'_>, input: PutGroupPolicyInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::PutGroupPolicy {
            group_name: input.group_name,
            policy_name: input.policy_name,
            policy_document: input.policy_document,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteGroupPolicy` (inline).
    async fn delete_group_policy(&self, ctx: &Context<'_>, input: DeleteGroupPolicyInput) -> Result<GroupPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.group_name.clone();
        let command = Command::DeleteGroupPolicy {
            group_name: input.group_name,
            policy_name: input.policy_name,
        };
        group_payload(run(&scope, command).await?, &name)
    }

    /// `PutRolePolicy` (inline).
    async fn put_role_policy(&self, ctx: &Context<'_>, input: PutRolePolicyInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::PutRolePolicy {
            role_name: input.role_name,
            policy_name: input.policy_name,
            policy_document: input.policy_document,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteRolePolicy` (inline).
    async fn delete_role_policy(&self, ctx: &Context<'_>, input: DeleteRolePolicyInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::DeleteRolePolicy {
            role_name: input.role_name,
            policy_name: input.policy_name,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `TagUser`.
    async fn tag_user(&self, ctx: &Context<'_>, input: TagUserInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::TagUser {
            user_name: input.user_name,
            tags: tags_in(Some(input.tags)),
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `UntagUser`.
    async fn untag_user(&self, ctx: &Context<'_>, input: UntagUserInput) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::UntagUser {
            user_name: input.user_name,
            tag_keys: input.tag_keys,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `TagRole`.
    async fn tag_role(&self, ctx: &Context<'_>, input: TagRoleInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::TagRole {
            role_name: input.role_name,
            tags: tags_in(Some(input.tags)),
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `UntagRole`.
    async fn untag_role(&self, ctx: &Context<'_>, input: UntagRoleInput) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::UntagRole {
            role_name: input.role_name,
            tag_keys: input.tag_keys,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `CreateInstanceProfile`.
    async fn create_instance_profile(
        &self,
        ctx: &Context<'_>,
        input: CreateInstanceProfileInput,
    ) -> Result<InstanceProfilePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.instance_profile_name.clone();
        let command = Command::CreateInstanceProfile {
            instance_profile_name: input.instance_profile_name,
            path: input.path,
            tags: tags_in(input.tags),
        };
        instance_profile_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteInstanceProfile` (only when it holds no role).
    async fn delete_instance_profile(&self, ctx: &Context<'_>, instance_profile_name: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::DeleteInstanceProfile { instance_profile_name };
        Ok(deleted(run(&scope, command).await?))
    }

    /// `AddRoleToInstanceProfile` (one role per instance profile; needs `iam:PassRole` on it).
    async fn add_role_to_instance_profile(
        &self,
        ctx: &Context<'_>,
        input: InstanceProfileRoleInput,
    ) -> Result<InstanceProfilePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.instance_profile_name.clone();
        let command = Command::AddRoleToInstanceProfile {
            instance_profile_name: input.instance_profile_name,
            role_name: input.role_name,
        };
        instance_profile_payload(run(&scope, command).await?, &name)
    }

    /// `RemoveRoleFromInstanceProfile`.
    async fn remove_role_from_instance_profile(
        &self,
        ctx: &Context<'_>,
        input: InstanceProfileRoleInput,
    ) -> Result<InstanceProfilePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.instance_profile_name.clone();
        let command = Command::RemoveRoleFromInstanceProfile {
            instance_profile_name: input.instance_profile_name,
            role_name: input.role_name,
        };
        instance_profile_payload(run(&scope, command).await?, &name)
    }

    /// `TagInstanceProfile`.
    async fn tag_instance_profile(
        &self,
        ctx: &Context<'_>,
        input: TagInstanceProfileInput,
    ) -> Result<InstanceProfilePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.instance_profile_name.clone();
        let command = Command::TagInstanceProfile {
            instance_profile_name: input.instance_profile_name,
            tags: tags_in(Some(input.tags)),
        };
        instance_profile_payload(run(&scope, command).await?, &name)
    }

    /// `UntagInstanceProfile`.
    async fn untag_instance_profile(
        &self,
        ctx: &Context<'_>,
        input: UntagInstanceProfileInput,
    ) -> Result<InstanceProfilePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.instance_profile_name.clone();
        let command = Command::UntagInstanceProfile {
            instance_profile_name: input.instance_profile_name,
            tag_keys: input.tag_keys,
        };
        instance_profile_payload(run(&scope, command).await?, &name)
    }

    /// `TagPolicy`.
    async fn tag_policy(&self, ctx: &Context<'_>, input: TagPolicyInput) -> Result<PolicyPayload> {
        let scope = Scope::of(ctx)?;
        let resource = input.policy_arn.clone();
        let command = Command::TagPolicy {
            policy_arn: input.policy_arn,
            tags: tags_in(Some(input.tags)),
        };
        policy_payload(run(&scope, command).await?, &resource)
    }

    /// `UntagPolicy`.
    async fn untag_policy(&self, ctx: &Context<'_>, input: UntagPolicyInput) -> Result<PolicyPayload> {
        let scope = Scope::of(ctx)?;
        let resource = input.policy_arn.clone();
        let command = Command::UntagPolicy {
            policy_arn: input.policy_arn,
            tag_keys: input.tag_keys,
        };
        policy_payload(run(&scope, command).await?, &resource)
    }

    /// `PutUserPermissionsBoundary`.
    async fn put_user_permissions_boundary(
        &self,
        ctx: &Context<'_>,
        input: PutUserPermissionsBoundaryInput,
    ) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let name = input.user_name.clone();
        let command = Command::PutUserPermissionsBoundary {
            user_name: input.user_name,
            permissions_boundary: input.permissions_boundary,
        };
        user_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteUserPermissionsBoundary`.
    async fn delete_user_permissions_boundary(&self, ctx: &Context<'_>, user_name: String) -> Result<UserPayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::DeleteUserPermissionsBoundary {
            user_name: user_name.clone(),
        };
        user_payload(run(&scope, command).await?, &user_name)
    }

    /// `PutRolePermissionsBoundary`.
    async fn put_role_permissions_boundary(
        &self,
        ctx: &Context<'_>,
        input: PutRolePermissionsBoundaryInput,
    ) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let name = input.role_name.clone();
        let command = Command::PutRolePermissionsBoundary {
            role_name: input.role_name,
            permissions_boundary: input.permissions_boundary,
        };
        role_payload(run(&scope, command).await?, &name)
    }

    /// `DeleteRolePermissionsBoundary`.
    async fn delete_role_permissions_boundary(&self, ctx: &Context<'_>, role_name: String) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::DeleteRolePermissionsBoundary {
            role_name: role_name.clone(),
        };
        role_payload(run(&scope, command).await?, &role_name)
    }

    /// `CreateAccessKey`: for the named user, or without `userName` for the caller itself (the
    /// root user's keys only when the caller is the root user, as in AWS). The secret is returned
    /// here once and never again.
    async fn create_access_key(&self, ctx: &Context<'_>, user_name: Option<String>) -> Result<CreateAccessKeyPayload> {
        let scope = Scope::of(ctx)?;
        let created = scope
            .gatehouse
            .create_access_key_for(&scope.caller, user_name)
            .await
            .map_err(from_app)?;
        Ok(CreateAccessKeyPayload {
            access_key: AccessKeyWithSecret {
                access_key_id: created.key.access_key_id,
                secret_access_key: created.key.secret_access_key.to_string(),
                user_name: created.user_name,
                status: "Active".into(),
            },
            sequence: created.key.executed.sequence,
        })
    }

    /// `UpdateAccessKey`: make a key `Active` or `Inactive`. Without `userName`, one of the
    /// caller's own keys.
    async fn update_access_key(&self, ctx: &Context<'_>, input: UpdateAccessKeyInput) -> Result<AccessKeyPayload> {
        let scope = Scope::of(ctx)?;
        let status = match input.status {
            StatusType::Active => AccessKeyStatus::Active,
            StatusType::Inactive => AccessKeyStatus::Inactive,
        };
        let command = Command::UpdateAccessKey {
            user_name: input.user_name,
            access_key_id: input.access_key_id.clone(),
            status,
        };
        let executed = run(&scope, command).await?;
        let state = executed.model.state();
        let key = state
            .access_key(&input.access_key_id)
            .map(|k| {
                let owner = match &k.owner {
                    iam_domain::AccessKeyOwner::User { user_id } => {
                        state.user_by_id(user_id).map(|u| u.user_name.to_string())
                    }
                    iam_domain::AccessKeyOwner::Root => None,
                };
                AccessKeyMetadata::of(k, owner)
            })
            .ok_or_else(|| missing(&format!("access key {}", input.access_key_id)))?;
        Ok(AccessKeyPayload {
            access_key: key,
            sequence: executed.sequence,
        })
    }

    /// `DeleteAccessKey`. Without `userName`, one of the caller's own keys.
    async fn delete_access_key(&self, ctx: &Context<'_>, input: DeleteAccessKeyInput) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::DeleteAccessKey {
            user_name: input.user_name,
            access_key_id: input.access_key_id,
        };
        Ok(deleted(run(&scope, command).await?))
    }

    /// STS `AssumeRole`: temporary credentials of a role session, when the caller's policies
    /// and the role's trust policy allow `sts:AssumeRole` (cross-account too). The root user
    /// cannot assume roles, as in AWS.
    async fn assume_role(&self, ctx: &Context<'_>, input: AssumeRoleInput) -> Result<AssumeRolePayload> {
        let scope = Scope::of(ctx)?;
        let request = AssumeRoleRequest {
            role_arn: input.role_arn,
            role_session_name: input.role_session_name,
            duration_seconds: input.duration_seconds,
            external_id: input.external_id,
            policy: input.policy,
            policy_arns: input.policy_arns.unwrap_or_default(),
            tags: tags_in(input.tags),
            transitive_tag_keys: input.transitive_tag_keys.unwrap_or_default(),
            source_identity: input.source_identity,
            serial_number: input.serial_number,
            token_code: input.token_code,
        };
        let issued = scope
            .gatehouse
            .assume_role(&scope.caller, &request)
            .await
            .map_err(from_app)?;
        Ok(AssumeRolePayload {
            credentials: TemporaryCredentials {
                access_key_id: issued.access_key_id,
                secret_access_key: issued.secret_access_key.to_string(),
                session_token: issued.session_token.to_string(),
                expiration: issued.expiration,
            },
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: issued.assumed_role_id,
                arn: issued.assumed_role_arn,
            },
        })
    }

    /// STS `GetSessionToken`: temporary credentials of the caller itself (an IAM user, 900 s to
    /// 36 h, 12 h by default; the root user, at most one hour). Needs no permission. With
    /// `serialNumber` and `tokenCode` (the caller's MFA device and its current code) the session
    /// carries `aws:MultiFactorAuthPresent`; without, it cannot call the IAM API, as in AWS.
    async fn get_session_token(
        &self,
        ctx: &Context<'_>,
        duration_seconds: Option<u32>,
        serial_number: Option<String>,
        #[graphql(secret)] token_code: Option<String>,
    ) -> Result<TemporaryCredentials> {
        let scope = Scope::of(ctx)?;
        let mfa = match (serial_number.as_deref(), token_code.as_deref()) {
            (None, None) => None,
            (serial_number, token_code) => Some((serial_number.unwrap_or_default(), token_code.unwrap_or_default())),
        };
        let issued = scope
            .gatehouse
            .get_session_token(&scope.caller, duration_seconds, mfa)
            .await
            .map_err(from_app)?;
        Ok(TemporaryCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key.to_string(),
            session_token: issued.session_token.to_string(),
            expiration: issued.expiration,
        })
    }

    /// STS `GetFederationToken`: temporary credentials for a federated user
    /// (`arn:aws:sts::<account>:federated-user/<name>`) with the calling IAM user's permissions
    /// narrowed by the session policies (`policy`, `policyArns`); none without one, as in AWS.
    async fn get_federation_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        duration_seconds: Option<u32>,
        policy: Option<String>,
        policy_arns: Option<Vec<String>>,
        tags: Option<Vec<TagIn>>,
    ) -> Result<FederationTokenPayload> {
        let scope = Scope::of(ctx)?;
        let request = iam_domain::session::FederationTokenRequest {
            name,
            duration_seconds,
            policy,
            policy_arns: policy_arns.unwrap_or_default(),
            tags: tags_in(tags),
        };
        let issued = scope
            .gatehouse
            .get_federation_token(&scope.caller, &request)
            .await
            .map_err(from_app)?;
        Ok(FederationTokenPayload {
            credentials: TemporaryCredentials {
                access_key_id: issued.access_key_id,
                secret_access_key: issued.secret_access_key.to_string(),
                session_token: issued.session_token.to_string(),
                expiration: issued.expiration,
            },
            federated_user_id: issued.assumed_role_id,
            arn: issued.assumed_role_arn,
            packed_policy_size: i32::try_from(request.packed_policy_size()).unwrap_or(100),
        })
    }

    /// Revokes the role's active sessions, as AWS's console does: sessions issued before now are
    /// denied everything (the role's inline policy `AWSRevokeOlderSessions`, written with
    /// `iam:PutRolePolicy`); sessions issued afterwards work.
    async fn revoke_role_sessions(&self, ctx: &Context<'_>, role_name: String) -> Result<RolePayload> {
        let scope = Scope::of(ctx)?;
        let executed = scope
            .gatehouse
            .revoke_role_sessions(&scope.caller, &role_name)
            .await
            .map_err(from_app)?;
        role_payload(executed, &role_name)
    }

    /// Creates a new tenant account with its root access key. Only the root user of the first
    /// (management) account may do this.
    async fn create_account(&self, ctx: &Context<'_>, account_alias: Option<String>) -> Result<CreateAccountPayload> {
        let scope = Scope::of(ctx)?;
        let created = scope
            .gatehouse
            .create_account_for(&scope.caller, account_alias)
            .await
            .map_err(from_app)?;
        Ok(CreateAccountPayload {
            account_id: created.account_id,
            root_access_key: AccessKeyWithSecret {
                access_key_id: created.root_key.access_key_id,
                secret_access_key: created.root_key.secret_access_key.to_string(),
                user_name: None,
                status: "Active".into(),
            },
        })
    }
}
