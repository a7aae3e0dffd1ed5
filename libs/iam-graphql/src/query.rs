//! Queries: entities by name or ARN with their relations, Relay-paginated lists with
//! `pathPrefix` filters, and `accountAuthorizationDetails`.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Object, Result, SimpleObject};
use iam_authz::AccountModel;
use iam_domain::{authorization_details, AuthorizationDetail, EntityType, Read};
use iam_types::{ErrorCode, IamArn};

use crate::error::aws_error;
use crate::guard::{AsOfInput, Scope};
use crate::types::{
    page_complexity, paginate, Coverage, GroupObject, InstanceProfileObject, PolicyObject, RoleObject, UserObject,
    DEFAULT_PAGE, MAX_PAGE,
};

/// The root of queries.
#[derive(Default)]
pub struct CoreQuery;

/// Who the caller is (like STS GetCallerIdentity).
#[derive(SimpleObject)]
pub struct CallerIdentity {
    /// The caller's account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
    /// The access key that signed the request.
    pub access_key_id: String,
}

/// One page of the account's users, groups, roles and managed policies (its own, and the
/// AWS-managed ones it uses), with their policies: AWS's `GetAccountAuthorizationDetails`.
#[derive(SimpleObject)]
pub struct AccountAuthorizationDetails {
    /// Users.
    pub user_detail_list: Vec<UserObject>,
    /// Groups.
    pub group_detail_list: Vec<GroupObject>,
    /// Roles.
    pub role_detail_list: Vec<RoleObject>,
    /// Managed policies in use or owned by the account.
    pub policies: Vec<PolicyObject>,
    /// Whether more entries follow; pass `marker` as `after` for the next page.
    pub is_truncated: bool,
    /// Where the next page starts (the same marker as the AWS wire API's `Marker`).
    pub marker: Option<String>,
}

/// The entity types `accountAuthorizationDetails` can be limited to (AWS's `Filter`).
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum EntityTypeFilter {
    /// Users.
    User,
    /// Groups.
    Group,
    /// Roles.
    Role,
    /// The account's own managed policies.
    LocalManagedPolicy,
    /// AWS-managed policies the account uses.
    #[graphql(name = "AWS_MANAGED_POLICY")]
    AwsManagedPolicy,
}

impl From<EntityTypeFilter> for EntityType {
    fn from(filter: EntityTypeFilter) -> Self {
        match filter {
            EntityTypeFilter::User => EntityType::User,
            EntityTypeFilter::Group => EntityType::Group,
            EntityTypeFilter::Role => EntityType::Role,
            EntityTypeFilter::LocalManagedPolicy => EntityType::LocalManagedPolicy,
            EntityTypeFilter::AwsManagedPolicy => EntityType::AwsManagedPolicy,
        }
    }
}

/// Which managed policies `policies` lists.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum PolicyScope {
    /// AWS-managed and customer-managed.
    All,
    /// AWS-managed only.
    Aws,
    /// Customer-managed only.
    Local,
}

fn path_matches(path: &str, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|prefix| path.starts_with(prefix))
}

/// A page of an account's users (`ListUsers`), for the caller's own account and a member view.
pub(crate) fn users_of(
    model: &Arc<AccountModel>,
    coverage: Coverage,
    path_prefix: Option<&str>,
    after: Option<String>,
    first: Option<i32>,
) -> Connection<String, UserObject, EmptyFields, EmptyFields> {
    let items = model
        .state()
        .users()
        .filter(|u| path_matches(u.path.as_str(), path_prefix))
        .map(|u| {
            (
                u.user_name.as_str().to_lowercase(),
                UserObject::new(model.clone(), u.clone()).covered(coverage),
            )
        })
        .collect();
    paginate(items, after, first)
}

/// A page of an account's groups (`ListGroups`).
pub(crate) fn groups_of(
    model: &Arc<AccountModel>,
    coverage: Coverage,
    path_prefix: Option<&str>,
    after: Option<String>,
    first: Option<i32>,
) -> Connection<String, GroupObject, EmptyFields, EmptyFields> {
    let items = model
        .state()
        .groups()
        .filter(|g| path_matches(g.path.as_str(), path_prefix))
        .map(|g| {
            (
                g.group_name.as_str().to_lowercase(),
                GroupObject::new(model.clone(), g.clone()).covered(coverage),
            )
        })
        .collect();
    paginate(items, after, first)
}

/// A page of an account's roles (`ListRoles`).
pub(crate) fn roles_of(
    model: &Arc<AccountModel>,
    coverage: Coverage,
    path_prefix: Option<&str>,
    after: Option<String>,
    first: Option<i32>,
) -> Connection<String, RoleObject, EmptyFields, EmptyFields> {
    let items = model
        .state()
        .roles()
        .filter(|r| path_matches(r.path.as_str(), path_prefix))
        .map(|r| {
            (
                r.role_name.as_str().to_lowercase(),
                RoleObject::new(model.clone(), r.clone()).covered(coverage),
            )
        })
        .collect();
    paginate(items, after, first)
}

/// Which managed policies a `ListPolicies` page holds.
pub(crate) struct PolicyFilter<'a> {
    pub(crate) scope: PolicyScope,
    pub(crate) only_attached: bool,
    pub(crate) path_prefix: Option<&'a str>,
}

/// A page of the managed policies an account owns or may use (`ListPolicies`).
pub(crate) fn policies_of(
    model: &Arc<AccountModel>,
    coverage: Coverage,
    filter: PolicyFilter<'_>,
    after: Option<String>,
    first: Option<i32>,
) -> Connection<String, PolicyObject, EmptyFields, EmptyFields> {
    let state = model.state();
    let aws = state
        .aws_managed_policies()
        .iter()
        .filter(|_| filter.scope != PolicyScope::Local);
    let local = state.customer_policies().filter(|_| filter.scope != PolicyScope::Aws);
    let items = aws
        .chain(local)
        .filter(|p| path_matches(p.path.as_str(), filter.path_prefix))
        .filter(|p| !filter.only_attached || state.attachment_count(&p.arn) > 0)
        .map(|p| {
            (
                p.arn.to_string(),
                PolicyObject::new(model.clone(), p.clone()).covered(coverage),
            )
        })
        .collect();
    paginate(items, after, first)
}

#[Object]
impl CoreQuery {
    /// The caller's own identity.
    async fn caller_identity(&self, ctx: &Context<'_>) -> Result<CallerIdentity> {
        let scope = Scope::of(ctx)?;
        Ok(CallerIdentity {
            account: scope.caller.account_id.clone(),
            arn: scope.caller.principal_arn.clone(),
            access_key_id: scope.caller.access_key_id.clone().unwrap_or_default(),
        })
    }

    /// STS `GetAccessKeyInfo`: the account an access key id belongs to (needs
    /// `sts:GetAccessKeyInfo`).
    async fn access_key_info(&self, ctx: &Context<'_>, access_key_id: String) -> Result<String> {
        let scope = Scope::of(ctx)?;
        scope
            .gatehouse
            .get_access_key_info(&scope.caller, &access_key_id)
            .await
            .map_err(crate::error::from_app)
    }

    /// STS `DecodeAuthorizationMessage`: the detail of an `AccessDenied` this account was given
    /// (needs `sts:DecodeAuthorizationMessage`).
    async fn decode_authorization_message(&self, ctx: &Context<'_>, encoded_message: String) -> Result<String> {
        let scope = Scope::of(ctx)?;
        scope
            .gatehouse
            .decode_authorization_message(&scope.caller, &encoded_message)
            .await
            .map_err(crate::error::from_app)
    }

    /// A user by name (`GetUser`); with `asOf`, as it was then.
    async fn user(&self, ctx: &Context<'_>, user_name: String, as_of: Option<AsOfInput>) -> Result<UserObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetUser {
            user_name: user_name.clone(),
        })?;
        let model = scope.model_as_of(as_of).await?;
        let user = model.state().user(&user_name).cloned();
        let user = user.ok_or_else(|| {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!("The user with name {user_name} cannot be found."),
            )
        })?;
        Ok(UserObject::new(model, user))
    }

    /// Users, optionally under a path (`ListUsers`); with `asOf`, as they were then.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        as_of: Option<AsOfInput>,
    ) -> Result<Connection<String, UserObject, EmptyFields, EmptyFields>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::ListUsers {
            path_prefix: path_prefix.clone(),
        })?;
        Ok(users_of(
            &scope.model_as_of(as_of).await?,
            Coverage::Own,
            path_prefix.as_deref(),
            after,
            first,
        ))
    }

    /// A group by name (`GetGroup`); with `asOf`, as it was then.
    async fn group(&self, ctx: &Context<'_>, group_name: String, as_of: Option<AsOfInput>) -> Result<GroupObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetGroup {
            group_name: group_name.clone(),
        })?;
        let model = scope.model_as_of(as_of).await?;
        let group = model.state().group(&group_name).cloned();
        let group = group.ok_or_else(|| {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!("The group with name {group_name} cannot be found."),
            )
        })?;
        Ok(GroupObject::new(model, group))
    }

    /// Groups (`ListGroups`); with `asOf`, as they were then.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        as_of: Option<AsOfInput>,
    ) -> Result<Connection<String, GroupObject, EmptyFields, EmptyFields>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::ListGroups {
            path_prefix: path_prefix.clone(),
        })?;
        Ok(groups_of(
            &scope.model_as_of(as_of).await?,
            Coverage::Own,
            path_prefix.as_deref(),
            after,
            first,
        ))
    }

    /// A role by name (`GetRole`); with `asOf`, as it was then.
    async fn role(&self, ctx: &Context<'_>, role_name: String, as_of: Option<AsOfInput>) -> Result<RoleObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetRole {
            role_name: role_name.clone(),
        })?;
        let model = scope.model_as_of(as_of).await?;
        let role = model.state().role(&role_name).cloned();
        let role = role.ok_or_else(|| {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!("The role with name {role_name} cannot be found."),
            )
        })?;
        Ok(RoleObject::new(model, role))
    }

    /// Roles (`ListRoles`); with `asOf`, as they were then.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        as_of: Option<AsOfInput>,
    ) -> Result<Connection<String, RoleObject, EmptyFields, EmptyFields>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::ListRoles {
            path_prefix: path_prefix.clone(),
        })?;
        Ok(roles_of(
            &scope.model_as_of(as_of).await?,
            Coverage::Own,
            path_prefix.as_deref(),
            after,
            first,
        ))
    }

    /// An instance profile by name (`GetInstanceProfile`).
    async fn instance_profile(
        &self,
        ctx: &Context<'_>,
        instance_profile_name: String,
    ) -> Result<InstanceProfileObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetInstanceProfile {
            instance_profile_name: instance_profile_name.clone(),
        })?;
        let profile = scope.model.state().instance_profile(&instance_profile_name).cloned();
        let profile = profile.ok_or_else(|| {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!("Instance Profile {instance_profile_name} cannot be found."),
            )
        })?;
        Ok(InstanceProfileObject::new(scope.model.clone(), profile))
    }

    /// Instance profiles (`ListInstanceProfiles`).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn instance_profiles(
        &self,
        ctx: &Context<'_>,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<Connection<String, InstanceProfileObject, EmptyFields, EmptyFields>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::ListInstanceProfiles {
            path_prefix: path_prefix.clone(),
        })?;
        let items = scope
            .model
            .state()
            .instance_profiles()
            .filter(|p| path_matches(p.path.as_str(), path_prefix.as_deref()))
            .map(|p| {
                (
                    p.instance_profile_name.as_str().to_lowercase(),
                    InstanceProfileObject::new(scope.model.clone(), p.clone()),
                )
            })
            .collect();
        Ok(paginate(items, after, first))
    }

    /// A managed policy by ARN (`GetPolicy`), customer- or AWS-managed; with `asOf`, as it was
    /// then (its versions and default version included).
    async fn policy(&self, ctx: &Context<'_>, policy_arn: String, as_of: Option<AsOfInput>) -> Result<PolicyObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetPolicy {
            policy_arn: policy_arn.clone(),
        })?;
        let not_found = || {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!("Policy {policy_arn} does not exist or is not attachable."),
            )
        };
        let arn = IamArn::parse(&policy_arn).map_err(|_| not_found())?;
        let model = scope.model_as_of(as_of).await?;
        let policy = model.state().managed_policy(&arn).cloned().ok_or_else(not_found)?;
        Ok(PolicyObject::new(model, policy))
    }

    /// Managed policies (`ListPolicies`); with `asOf`, as they were then.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // GraphQL arguments
    async fn policies(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "PolicyScope::All")] scope: PolicyScope,
        #[graphql(default)] only_attached: bool,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
        as_of: Option<AsOfInput>,
    ) -> Result<Connection<String, PolicyObject, EmptyFields, EmptyFields>> {
        let account = Scope::of(ctx)?;
        account.read(Read::ListPolicies {
            path_prefix: path_prefix.clone(),
        })?;
        Ok(policies_of(
            &account.model_as_of(as_of).await?,
            Coverage::Own,
            PolicyFilter {
                scope,
                only_attached,
                path_prefix: path_prefix.as_deref(),
            },
            after,
            first,
        ))
    }

    /// Everything about the account's principals and policies (`GetAccountAuthorizationDetails`);
    /// with `asOf`, as it was then.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn account_authorization_details(
        &self,
        ctx: &Context<'_>,
        filter: Option<Vec<EntityTypeFilter>>,
        after: Option<String>,
        first: Option<i32>,
        as_of: Option<AsOfInput>,
    ) -> Result<AccountAuthorizationDetails> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetAccountAuthorizationDetails {})?;
        let filter: Vec<EntityType> = filter.unwrap_or_default().into_iter().map(EntityType::from).collect();
        let model = &scope.model_as_of(as_of).await?;
        let entries = authorization_details(model.state(), &filter);
        // The marker is the position of the page's last entry, as the wire API's `Marker` is.
        let start = match after.as_deref() {
            None => 0,
            Some(marker) => marker
                .parse::<usize>()
                .map(|last| last + 1)
                .map_err(|_| aws_error(ErrorCode::InvalidInput, "`after` is not a marker this listing gave"))?,
        };
        let first = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
        let end = start.saturating_add(first).min(entries.len());
        let marker = (end < entries.len()).then(|| format!("{:010}", end - 1));
        let mut details = AccountAuthorizationDetails {
            user_detail_list: Vec::new(),
            group_detail_list: Vec::new(),
            role_detail_list: Vec::new(),
            policies: Vec::new(),
            is_truncated: marker.is_some(),
            marker,
        };
        for entry in entries.into_iter().take(end).skip(start) {
            match entry {
                AuthorizationDetail::User(u) => details
                    .user_detail_list
                    .push(UserObject::new(model.clone(), u.clone()).covered(Coverage::Details)),
                AuthorizationDetail::Group(g) => details
                    .group_detail_list
                    .push(GroupObject::new(model.clone(), g.clone()).covered(Coverage::Details)),
                AuthorizationDetail::Role(r) => details
                    .role_detail_list
                    .push(RoleObject::new(model.clone(), r.clone()).covered(Coverage::Details)),
                AuthorizationDetail::Policy(p) => details
                    .policies
                    .push(PolicyObject::new(model.clone(), p.clone()).covered(Coverage::Details)),
            }
        }
        Ok(details)
    }

    /// One audit record by its `eventID` (null when the history the caller may read has none),
    /// authorized as `auditEvents` is.
    async fn audit_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "eventID")] event_id: String,
        account_id: Option<String>,
        #[graphql(default)] organization_trail: bool,
    ) -> Result<Option<crate::history::AuditEvent>> {
        crate::history::audit_event(ctx, event_id, account_id, organization_trail).await
    }

    /// Replays every audited decision of `from`..`to` on the state it was made on and reports
    /// each record the replay disagrees with: the check that the history is faithful. At most
    /// `first` records (1,000 by default, 10,000 at most) per call; continue with `after`
    /// (`nextCursor`). Authorized as `auditEvents` is (`cloudtrail:LookupEvents`).
    #[graphql(complexity = 1000)]
    async fn audit_replay_check(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<crate::replay::ReplayCheck> {
        crate::history::audit_replay_check(ctx, account_id, from, to, after, first).await
    }

    /// The last allowed decision about a principal of the caller's account, per service and per
    /// action, since `since` (the whole history without it), exactly, from the decision log.
    /// Needs `iam:GenerateServiceLastAccessedDetails` on the principal.
    #[graphql(complexity = 200)]
    async fn last_accessed(
        &self,
        ctx: &Context<'_>,
        principal_arn: String,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<crate::usage::ServiceLastAccessed>> {
        crate::usage::last_accessed(ctx, principal_arn, since).await
    }

    /// The `Allow` statements of a user's or role's identity policies (as they are now) that
    /// allowed none of the decisions about it since `since`. Needs
    /// `iam:GenerateServiceLastAccessedDetails` on the principal.
    #[graphql(complexity = 1000)]
    async fn unused_permissions(
        &self,
        ctx: &Context<'_>,
        principal_arn: String,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<crate::usage::UnusedPermissions> {
        crate::usage::unused_permissions(ctx, principal_arn, since).await
    }

    /// The permissions a user or role gained and lost between two points of the account's
    /// history (`{time}` or `{sequence}` each), over the actions its policies name at either
    /// point and those of its audited decisions, each explained by the statements (policy and
    /// version) that made the difference. Needs `iam:SimulatePrincipalPolicy` on the principal
    /// and `cloudtrail:LookupEvents`.
    #[graphql(complexity = 1000)]
    async fn permission_diff(
        &self,
        ctx: &Context<'_>,
        principal_arn: String,
        from: crate::guard::AsOfInput,
        to: crate::guard::AsOfInput,
    ) -> Result<crate::usage::PermissionDiff> {
        crate::usage::permission_diff(ctx, principal_arn, from, to).await
    }

    /// Previews one or several policy-affecting changes against the account's audited decisions
    /// in `from`..`to`, without applying them: the decisions that would flip (allow to deny, deny
    /// to allow), grouped by principal, action and resource. Evaluated on the account as it is
    /// now, with and without the changes. Reads at most `limit` records (200,000 by default);
    /// continue with `after` (`nextCursor`). Needs `cloudtrail:LookupEvents` and
    /// `iam:SimulatePrincipalPolicy`.
    #[graphql(complexity = 1000)]
    async fn preview_change(
        &self,
        ctx: &Context<'_>,
        changes: Vec<crate::preview::PolicyChangeInput>,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
        after: Option<String>,
        limit: Option<i32>,
    ) -> Result<crate::preview::ChangePreview> {
        crate::preview::preview_change(ctx, changes, from, to, after, limit).await
    }

    /// Decides whether a principal of the caller's account may perform an action on a resource,
    /// with AWS's evaluation logic, and records the decision in the audit history. The caller
    /// needs `gatehouse:Authorize` on the principal's ARN.
    async fn authorize(
        &self,
        ctx: &Context<'_>,
        input: crate::history::AuthorizeInput,
    ) -> Result<crate::history::AuthorizeResult> {
        crate::history::authorize(ctx, input).await
    }

    /// The account's audit history (every decision and management call), newest first.
    /// Authorized as `cloudtrail:LookupEvents`. `accountId` reads another account's: for the
    /// management account or a delegated administrator of `gatehouse.amazonaws.com`, any account
    /// of the organization. `organizationTrail: true` reads the organization trail instead (for
    /// them only): the records of every account written while it was a member, merged newest
    /// first, narrowed to `accountId` when given.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        #[graphql(default)] organization_trail: bool,
        filter: Option<crate::history::AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, crate::history::AuditEvent, EmptyFields, EmptyFields>> {
        crate::history::audit_events(ctx, account_id, organization_trail, filter, first, after).await
    }

    /// How many audit records match, grouped by a field, largest group first (for dashboards);
    /// `accountId` and `organizationTrail` as in `auditEvents`.
    async fn audit_event_counts(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        #[graphql(default)] organization_trail: bool,
        filter: Option<crate::history::AuditEventFilter>,
        group_by: crate::history::AuditGroupBy,
    ) -> Result<Vec<crate::history::AuditEventCount>> {
        crate::history::audit_event_counts(ctx, account_id, organization_trail, filter, group_by).await
    }

    /// AWS's `GetContextKeysForCustomPolicy`: the context keys the given policies read (their
    /// condition keys and policy variables), which a simulation may need values for.
    async fn context_keys_for_custom_policy(
        &self,
        ctx: &Context<'_>,
        policy_input_list: Vec<String>,
    ) -> Result<Vec<String>> {
        crate::simulation::context_keys_for_custom(ctx, policy_input_list)
    }

    /// AWS's `GetContextKeysForPrincipalPolicy`: the context keys a user's or role's policies
    /// (a user's groups' included) and the extra `policyInputList` read.
    async fn context_keys_for_principal_policy(
        &self,
        ctx: &Context<'_>,
        policy_source_arn: String,
        policy_input_list: Option<Vec<String>>,
    ) -> Result<Vec<String>> {
        crate::simulation::context_keys_for_principal(ctx, policy_source_arn, policy_input_list.unwrap_or_default())
    }

    /// AWS's `SimulateCustomPolicy`: evaluates the given policies (not the account's) on the
    /// same code path as `iamctl simulate-custom-policy`.
    async fn simulate_custom_policy(
        &self,
        ctx: &Context<'_>,
        input: crate::simulation::SimulateCustomPolicyInput,
    ) -> Result<crate::simulation::SimulationResponse> {
        crate::simulation::simulate_custom(ctx, input)
    }

    /// AWS's `SimulatePrincipalPolicy`: evaluates a user's or role's own policies and boundary.
    async fn simulate_principal_policy(
        &self,
        ctx: &Context<'_>,
        input: crate::simulation::SimulatePrincipalPolicyInput,
    ) -> Result<crate::simulation::SimulationResponse> {
        crate::simulation::simulate_principal(ctx, input)
    }
}
