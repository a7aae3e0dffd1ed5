//! GraphQL object types: views of one account snapshot, built from domain state at the edge.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_authz::AccountModel;
use iam_domain::{
    AccessKey, AccessKeyOwner, Group, InstanceProfile, ManagedPolicy, PolicyVersion, PrincipalKind, Role, User,
};
use iam_types::IamArn;

use crate::guard::authorize_nested_unless;
use iam_domain::Read;

/// A tag.
#[derive(SimpleObject, Clone)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

pub(crate) fn tags(tags: &[iam_types::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: t.key().to_string(),
            value: t.value().to_string(),
        })
        .collect()
}

/// A managed policy attached to a principal.
#[derive(SimpleObject, Clone)]
pub struct AttachedPolicy {
    /// Its name.
    pub policy_name: String,
    /// Its ARN.
    pub policy_arn: String,
}

/// An inline policy.
#[derive(Clone)]
pub struct InlinePolicy {
    policy_name: String,
    policy_document: String,
    /// The owner's ARN and the action that reads the document (`iam:GetUserPolicy`, ...).
    owner_kind: PrincipalKind,
    owner_name: String,
    coverage: Coverage,
}

impl InlinePolicy {
    /// The call that reads its document: `Get{User,Group,Role}Policy` of its owner.
    fn document_read(&self) -> Read {
        let policy_name = self.policy_name.clone();
        match self.owner_kind {
            PrincipalKind::User => Read::GetUserPolicy {
                user_name: self.owner_name.clone(),
                policy_name,
            },
            PrincipalKind::Group => Read::GetGroupPolicy {
                group_name: self.owner_name.clone(),
                policy_name,
            },
            PrincipalKind::Role => Read::GetRolePolicy {
                role_name: self.owner_name.clone(),
                policy_name,
            },
        }
    }
}

#[Object]
impl InlinePolicy {
    /// Its name.
    async fn policy_name(&self) -> &str {
        &self.policy_name
    }
    /// The document (JSON text); needs `iam:Get{User,Group,Role}Policy` on the owner.
    async fn policy_document(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        authorize_nested_unless(self.coverage.details(), ctx, || self.document_read())?;
        Ok(Some(self.policy_document.clone()))
    }
}

/// A permissions boundary.
#[derive(SimpleObject, Clone)]
pub struct PermissionsBoundary {
    /// `Policy`.
    pub permissions_boundary_type: String,
    /// The managed policy's ARN.
    pub permissions_boundary_arn: String,
}

fn boundary(arn: Option<&IamArn>) -> Option<PermissionsBoundary> {
    arn.map(|arn| PermissionsBoundary {
        permissions_boundary_type: "PermissionsBoundaryPolicy".into(),
        permissions_boundary_arn: arn.to_string(),
    })
}

fn attached(model: &AccountModel, kind: PrincipalKind, name: &str) -> Vec<AttachedPolicy> {
    model
        .state()
        .attached_policies(kind, name)
        .unwrap_or_default()
        .iter()
        .map(|arn| AttachedPolicy {
            policy_name: arn.name().map(|n| n.as_str().to_string()).unwrap_or_default(),
            policy_arn: arn.to_string(),
        })
        .collect()
}

fn inline(model: &AccountModel, kind: PrincipalKind, owner: &str, coverage: Coverage) -> Vec<InlinePolicy> {
    model
        .state()
        .inline_policies(kind, owner)
        .map(|policies| {
            policies
                .iter()
                .map(|(name, document)| InlinePolicy {
                    policy_name: name.clone(),
                    policy_document: document.clone(),
                    owner_kind: kind,
                    owner_name: owner.to_owned(),
                    coverage,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What authorized an object's nested fields along with the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Nothing: each nested field is authorized as the IAM call that reads it.
    Own,
    /// `accountAuthorizationDetails`, whose one action covers what AWS's
    /// `GetAccountAuthorizationDetails` returns of it.
    Details,
    /// `memberAccount`: a member account's read-only central view, authorized whole (as
    /// `organizations:DescribeAccount`) for the management account or a delegated
    /// administrator; the caller's own IAM reads name its own account's resources, not these.
    MemberView,
}

impl Coverage {
    /// Whether what `GetAccountAuthorizationDetails` returns is covered.
    pub(crate) fn details(self) -> bool {
        self != Coverage::Own
    }

    /// Whether every nested field is covered.
    pub(crate) fn everything(self) -> bool {
        self == Coverage::MemberView
    }
}

/// The largest page a list returns.
pub(crate) const MAX_PAGE: i32 = 1_000;

/// The nested lists one object can page through: `first` defaults to this, and complexity
/// counts `first` × the selection below, so nesting lists multiplies into the limit.
pub(crate) const DEFAULT_PAGE: i32 = 100;

/// The complexity of a page of `first` items of `child` complexity each.
pub(crate) fn page_complexity(first: Option<i32>, child: usize) -> usize {
    let first = first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    first.max(1).saturating_mul(child)
}

/// An IAM user.
#[derive(Clone)]
pub struct UserObject {
    pub(crate) model: Arc<AccountModel>,
    pub(crate) user: User,
    /// What authorized the object's nested fields along with it.
    pub(crate) coverage: Coverage,
}

impl UserObject {
    pub(crate) fn new(model: Arc<AccountModel>, user: User) -> Self {
        UserObject {
            model,
            user,
            coverage: Coverage::Own,
        }
    }

    /// The same object as part of a read that covers its nested fields.
    pub(crate) fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }
}

#[Object(name = "User")]
impl UserObject {
    /// `arn:aws:iam::<account>:user<path><name>`.
    async fn arn(&self) -> String {
        self.user.arn.to_string()
    }
    /// `AIDA...`; a re-created user gets a new one.
    async fn user_id(&self) -> String {
        self.user.user_id.to_string()
    }
    /// The name.
    async fn user_name(&self) -> String {
        self.user.user_name.to_string()
    }
    /// The path.
    async fn path(&self) -> String {
        self.user.path.to_string()
    }
    /// When created.
    async fn create_date(&self) -> DateTime<Utc> {
        self.user.create_date
    }
    /// Tags; needs `iam:ListUserTags`.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Option<Vec<Tag>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListUserTags {
            user_name: self.user.user_name.to_string(),
        })?;
        Ok(Some(tags(&self.user.tags)))
    }
    /// The permissions boundary.
    async fn permissions_boundary(&self) -> Option<PermissionsBoundary> {
        boundary(self.user.permissions_boundary.as_deref())
    }
    /// Groups the user belongs to, a page at a time; needs `iam:ListGroupsForUser`.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<Option<Connection<String, GroupObject, EmptyFields, EmptyFields>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListGroupsForUser {
            user_name: self.user.user_name.to_string(),
        })?;
        let items = self
            .model
            .state()
            .groups_for_user(self.user.user_name.as_str())
            .into_iter()
            .map(|g| {
                (
                    g.group_name.as_str().to_lowercase(),
                    GroupObject::new(self.model.clone(), g.clone()).covered(self.coverage),
                )
            })
            .collect();
        Ok(Some(paginate(items, after, first)))
    }
    /// Managed policies attached to the user; needs `iam:ListAttachedUserPolicies`.
    async fn attached_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<AttachedPolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListAttachedUserPolicies {
            user_name: self.user.user_name.to_string(),
        })?;
        Ok(Some(attached(
            &self.model,
            PrincipalKind::User,
            self.user.user_name.as_str(),
        )))
    }
    /// Inline policies of the user; needs `iam:ListUserPolicies` (and `iam:GetUserPolicy` for
    /// their documents).
    async fn inline_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<InlinePolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListUserPolicies {
            user_name: self.user.user_name.to_string(),
        })?;
        Ok(Some(inline(
            &self.model,
            PrincipalKind::User,
            self.user.user_name.as_str(),
            self.coverage,
        )))
    }
    /// The user's access keys (metadata only; secrets are never shown again); needs
    /// `iam:ListAccessKeys`.
    async fn access_keys(&self, ctx: &Context<'_>) -> Result<Option<Vec<AccessKeyMetadata>>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::ListAccessKeys {
            user_name: self.user.user_name.to_string(),
        })?;
        Ok(Some(
            self.model
                .state()
                .access_keys_for_user(self.user.user_name.as_str())
                .into_iter()
                .map(|k| AccessKeyMetadata::of(k, Some(self.user.user_name.to_string())))
                .collect(),
        ))
    }
    /// When the user last signed in with its password (as `GetUser` shows it).
    async fn password_last_used(&self) -> Option<DateTime<Utc>> {
        self.user.login_profile.as_deref().and_then(|p| p.password_last_used)
    }
    /// The user's console password, without the password (absent when it has none); needs
    /// `iam:GetLoginProfile`.
    async fn login_profile(&self, ctx: &Context<'_>) -> Result<Option<crate::credentials::LoginProfile>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::GetLoginProfile {
            user_name: self.user.user_name.to_string(),
        })?;
        Ok(crate::credentials::LoginProfile::of(&self.user))
    }
    /// The MFA devices enabled for the user; needs `iam:ListMFADevices`.
    async fn mfa_devices(&self, ctx: &Context<'_>) -> Result<Vec<crate::credentials::VirtualMfaDevice>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::ListMFADevices {
            user_name: self.user.user_name.to_string(),
        })?;
        let state = self.model.state();
        Ok(state
            .mfa_devices_for_user(&self.user.user_id)
            .into_iter()
            .map(|d| crate::credentials::VirtualMfaDevice::of(state, d))
            .collect())
    }
}

/// An IAM group.
#[derive(Clone)]
pub struct GroupObject {
    pub(crate) model: Arc<AccountModel>,
    pub(crate) group: Group,
    /// What authorized the object's nested fields along with it.
    pub(crate) coverage: Coverage,
}

impl GroupObject {
    pub(crate) fn new(model: Arc<AccountModel>, group: Group) -> Self {
        GroupObject {
            model,
            group,
            coverage: Coverage::Own,
        }
    }

    /// The same object as part of a read that covers its nested fields.
    pub(crate) fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }
}

#[Object(name = "Group")]
impl GroupObject {
    /// The ARN.
    async fn arn(&self) -> String {
        self.group.arn.to_string()
    }
    /// `AGPA...`.
    async fn group_id(&self) -> String {
        self.group.group_id.to_string()
    }
    /// The name.
    async fn group_name(&self) -> String {
        self.group.group_name.to_string()
    }
    /// The path.
    async fn path(&self) -> String {
        self.group.path.to_string()
    }
    /// When created.
    async fn create_date(&self) -> DateTime<Utc> {
        self.group.create_date
    }
    /// Members, a page at a time; needs `iam:GetGroup`.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<Option<Connection<String, UserObject, EmptyFields, EmptyFields>>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::GetGroup {
            group_name: self.group.group_name.to_string(),
        })?;
        let items = self
            .model
            .state()
            .users_in_group(self.group.group_name.as_str())
            .into_iter()
            .map(|u| {
                (
                    u.user_name.as_str().to_lowercase(),
                    UserObject::new(self.model.clone(), u.clone()).covered(self.coverage),
                )
            })
            .collect();
        Ok(Some(paginate(items, after, first)))
    }
    /// Managed policies attached to the group; needs `iam:ListAttachedGroupPolicies`.
    async fn attached_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<AttachedPolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListAttachedGroupPolicies {
            group_name: self.group.group_name.to_string(),
        })?;
        Ok(Some(attached(
            &self.model,
            PrincipalKind::Group,
            self.group.group_name.as_str(),
        )))
    }
    /// Inline policies of the group; needs `iam:ListGroupPolicies`.
    async fn inline_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<InlinePolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListGroupPolicies {
            group_name: self.group.group_name.to_string(),
        })?;
        Ok(Some(inline(
            &self.model,
            PrincipalKind::Group,
            self.group.group_name.as_str(),
            self.coverage,
        )))
    }
}

/// An IAM role.
#[derive(Clone)]
pub struct RoleObject {
    pub(crate) model: Arc<AccountModel>,
    pub(crate) role: Role,
    /// What authorized the object's nested fields along with it.
    pub(crate) coverage: Coverage,
}

impl RoleObject {
    pub(crate) fn new(model: Arc<AccountModel>, role: Role) -> Self {
        RoleObject {
            model,
            role,
            coverage: Coverage::Own,
        }
    }

    /// The same object as part of a read that covers its nested fields.
    pub(crate) fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }
}

#[Object(name = "Role")]
impl RoleObject {
    /// The ARN.
    async fn arn(&self) -> String {
        self.role.arn.to_string()
    }
    /// `AROA...`.
    async fn role_id(&self) -> String {
        self.role.role_id.to_string()
    }
    /// The name.
    async fn role_name(&self) -> String {
        self.role.role_name.to_string()
    }
    /// The path.
    async fn path(&self) -> String {
        self.role.path.to_string()
    }
    /// When created.
    async fn create_date(&self) -> DateTime<Utc> {
        self.role.create_date
    }
    /// The trust policy.
    async fn assume_role_policy_document(&self) -> String {
        self.role.assume_role_policy_document.clone()
    }
    /// The description.
    async fn description(&self) -> Option<String> {
        self.role.description.clone()
    }
    /// Maximum session length in seconds.
    async fn max_session_duration(&self) -> u32 {
        self.role.max_session_duration
    }
    /// Tags; needs `iam:ListRoleTags`.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Option<Vec<Tag>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListRoleTags {
            role_name: self.role.role_name.to_string(),
        })?;
        Ok(Some(tags(&self.role.tags)))
    }
    /// The permissions boundary.
    async fn permissions_boundary(&self) -> Option<PermissionsBoundary> {
        boundary(self.role.permissions_boundary.as_deref())
    }
    /// Managed policies attached to the role; needs `iam:ListAttachedRolePolicies`.
    async fn attached_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<AttachedPolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListAttachedRolePolicies {
            role_name: self.role.role_name.to_string(),
        })?;
        Ok(Some(attached(
            &self.model,
            PrincipalKind::Role,
            self.role.role_name.as_str(),
        )))
    }
    /// The instance profiles holding the role; needs `iam:ListInstanceProfilesForRole`.
    async fn instance_profiles(&self, ctx: &Context<'_>) -> Result<Option<Vec<InstanceProfileObject>>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::ListInstanceProfilesForRole {
            role_name: self.role.role_name.to_string(),
        })?;
        let state = self.model.state();
        Ok(Some(
            state
                .instance_profiles_for_role(self.role.role_name.as_str())
                .into_iter()
                .map(|p| InstanceProfileObject::new(self.model.clone(), p.clone()).covered(self.coverage))
                .collect(),
        ))
    }
    /// Inline policies of the role; needs `iam:ListRolePolicies`.
    async fn inline_policies(&self, ctx: &Context<'_>) -> Result<Option<Vec<InlinePolicy>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListRolePolicies {
            role_name: self.role.role_name.to_string(),
        })?;
        Ok(Some(inline(
            &self.model,
            PrincipalKind::Role,
            self.role.role_name.as_str(),
            self.coverage,
        )))
    }
}

/// An instance profile: the container through which EC2 hands a role to an instance.
#[derive(Clone)]
pub struct InstanceProfileObject {
    pub(crate) model: Arc<AccountModel>,
    pub(crate) profile: InstanceProfile,
    /// What authorized the object's nested fields along with it.
    pub(crate) coverage: Coverage,
}

impl InstanceProfileObject {
    pub(crate) fn new(model: Arc<AccountModel>, profile: InstanceProfile) -> Self {
        InstanceProfileObject {
            model,
            profile,
            coverage: Coverage::Own,
        }
    }

    /// The same object as part of a read that covers its nested fields.
    pub(crate) fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }
}

#[Object(name = "InstanceProfile")]
impl InstanceProfileObject {
    /// The ARN.
    async fn arn(&self) -> String {
        self.profile.arn.to_string()
    }
    /// `AIPA...`.
    async fn instance_profile_id(&self) -> String {
        self.profile.instance_profile_id.to_string()
    }
    /// The name.
    async fn instance_profile_name(&self) -> String {
        self.profile.instance_profile_name.to_string()
    }
    /// The path.
    async fn path(&self) -> String {
        self.profile.path.to_string()
    }
    /// When created.
    async fn create_date(&self) -> DateTime<Utc> {
        self.profile.create_date
    }
    /// The role it holds (AWS allows one), as `GetInstanceProfile` returns it.
    async fn roles(&self) -> Vec<RoleObject> {
        let state = self.model.state();
        self.profile
            .roles
            .iter()
            .filter_map(|id| state.role_by_id(id))
            .map(|role| RoleObject::new(self.model.clone(), role.clone()).covered(self.coverage))
            .collect()
    }
    /// Tags; needs `iam:ListInstanceProfileTags`.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Option<Vec<Tag>>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::ListInstanceProfileTags {
            instance_profile_name: self.profile.instance_profile_name.to_string(),
        })?;
        Ok(Some(tags(&self.profile.tags)))
    }
}

/// A managed policy (customer-managed or AWS-managed).
#[derive(Clone)]
pub struct PolicyObject {
    pub(crate) model: Arc<AccountModel>,
    pub(crate) policy: ManagedPolicy,
    /// What authorized the object's nested fields along with it.
    pub(crate) coverage: Coverage,
}

impl PolicyObject {
    pub(crate) fn new(model: Arc<AccountModel>, policy: ManagedPolicy) -> Self {
        PolicyObject {
            model,
            policy,
            coverage: Coverage::Own,
        }
    }

    /// The same object as part of a read that covers its nested fields.
    pub(crate) fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }
}

#[Object(name = "Policy")]
impl PolicyObject {
    /// The ARN.
    async fn arn(&self) -> String {
        self.policy.arn.to_string()
    }
    /// `ANPA...`.
    async fn policy_id(&self) -> String {
        self.policy.policy_id.to_string()
    }
    /// The name.
    async fn policy_name(&self) -> String {
        self.policy.policy_name.to_string()
    }
    /// The path.
    async fn path(&self) -> String {
        self.policy.path.to_string()
    }
    /// The description.
    async fn description(&self) -> Option<String> {
        self.policy.description.clone()
    }
    /// The default version's id.
    async fn default_version_id(&self) -> String {
        self.policy.default_version_id.clone()
    }
    /// How many users, groups and roles it is attached to.
    async fn attachment_count(&self) -> usize {
        self.model.state().attachment_count(&self.policy.arn)
    }
    /// How many users and roles use it as their permissions boundary.
    async fn permissions_boundary_usage_count(&self) -> usize {
        self.model.state().boundary_usage_count(&self.policy.arn)
    }
    /// Whether it can be attached.
    async fn is_attachable(&self) -> bool {
        true
    }
    /// When created.
    async fn create_date(&self) -> DateTime<Utc> {
        self.policy.create_date
    }
    /// When last changed.
    async fn update_date(&self) -> DateTime<Utc> {
        self.policy.update_date
    }
    /// Tags; needs `iam:ListPolicyTags`.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Option<Vec<Tag>>> {
        authorize_nested_unless(self.coverage.everything(), ctx, || Read::ListPolicyTags {
            policy_arn: self.policy.arn.to_string(),
        })?;
        Ok(Some(tags(&self.policy.tags)))
    }
    /// The default version; needs `iam:GetPolicyVersion`.
    async fn default_version(&self, ctx: &Context<'_>) -> Result<Option<PolicyVersionObject>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::GetPolicyVersion {
            policy_arn: self.policy.arn.to_string(),
            version_id: self.policy.default_version_id.clone(),
        })?;
        Ok(self.policy.default_version().map(|v| {
            PolicyVersionObject::of(v, &self.policy.default_version_id, &self.policy.arn).covered(self.coverage)
        }))
    }
    /// Every version, oldest first (at most five); needs `iam:ListPolicyVersions`.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Option<Vec<PolicyVersionObject>>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::ListPolicyVersions {
            policy_arn: self.policy.arn.to_string(),
        })?;
        Ok(Some(
            self.policy
                .versions
                .iter()
                .map(|v| {
                    PolicyVersionObject::of(v, &self.policy.default_version_id, &self.policy.arn).covered(self.coverage)
                })
                .collect(),
        ))
    }
}

/// One version of a managed policy.
#[derive(SimpleObject, Clone)]
#[graphql(name = "PolicyVersion", complex)]
pub struct PolicyVersionObject {
    /// `v1`, `v2`, ...
    pub version_id: String,
    #[graphql(skip)]
    pub(crate) document: String,
    #[graphql(skip)]
    pub(crate) policy_arn: String,
    #[graphql(skip)]
    pub(crate) coverage: Coverage,
    /// Whether it is the default version.
    pub is_default_version: bool,
    /// When created.
    pub create_date: DateTime<Utc>,
}

#[async_graphql::ComplexObject]
impl PolicyVersionObject {
    /// The document (JSON text); needs `iam:GetPolicyVersion` on the policy.
    async fn document(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        authorize_nested_unless(self.coverage.details(), ctx, || Read::GetPolicyVersion {
            policy_arn: self.policy_arn.clone(),
            version_id: self.version_id.clone(),
        })?;
        Ok(Some(self.document.clone()))
    }
}

impl PolicyVersionObject {
    fn covered(mut self, coverage: Coverage) -> Self {
        self.coverage = coverage;
        self
    }

    pub(crate) fn of(version: &PolicyVersion, default_id: &str, policy_arn: &IamArn) -> Self {
        PolicyVersionObject {
            version_id: version.version_id.clone(),
            document: version.document.clone(),
            policy_arn: policy_arn.to_string(),
            coverage: Coverage::Own,
            is_default_version: version.version_id == default_id,
            create_date: version.create_date,
        }
    }
}

/// An access key's metadata; the secret is never part of it.
#[derive(SimpleObject, Clone)]
pub struct AccessKeyMetadata {
    /// `AKIA...`.
    pub access_key_id: String,
    /// The owning user's name; absent for the root user's keys.
    pub user_name: Option<String>,
    /// `Active` or `Inactive`.
    pub status: String,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// When last used.
    pub last_used_date: Option<DateTime<Utc>>,
    /// The service it was last used with.
    pub last_used_service: Option<String>,
}

impl AccessKeyMetadata {
    pub(crate) fn of(key: &AccessKey, user_name: Option<String>) -> Self {
        let user_name = match key.owner {
            AccessKeyOwner::Root => None,
            AccessKeyOwner::User { .. } => user_name,
        };
        AccessKeyMetadata {
            access_key_id: key.access_key_id.to_string(),
            user_name,
            status: key.status.as_str().to_string(),
            create_date: key.create_date,
            last_used_date: key.last_used.as_ref().map(|u| u.last_used_date),
            last_used_service: key.last_used.as_ref().map(|u| u.service_name.clone()),
        }
    }
}

/// Relay pagination over a list already in its stable order; cursors are the sort keys.
pub(crate) fn paginate<T: async_graphql::OutputType>(
    items: Vec<(String, T)>,
    after: Option<String>,
    first: Option<i32>,
) -> Connection<String, T, EmptyFields, EmptyFields> {
    let first = first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    // A cursor is a key: the page is in key order whatever order the items came in.
    let mut items = items;
    items.sort_by(|(a, _), (b, _)| a.cmp(b));
    let start = match &after {
        Some(cursor) => items.iter().position(|(key, _)| key > cursor).unwrap_or(items.len()),
        None => 0,
    };
    let total = items.len();
    let end = (start + first).min(total);
    let mut connection = Connection::new(start > 0, end < total);
    connection.edges.extend(
        items
            .into_iter()
            .skip(start)
            .take(end - start)
            .map(|(key, node)| Edge::new(key, node)),
    );
    connection
}
