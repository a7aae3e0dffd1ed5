//! AWS Organizations in GraphQL, and the central views it opens to the management account and a
//! delegated administrator.
//!
//! Each field is one AWS operation: it builds an `OrgOperation`, makes the one call
//! `Gatehouse::organizations` (which authorizes, executes and records it) and reads its typed
//! answer back from AWS's JSON response shape. Every answer carries the organization's sequence
//! (`orgSequence`), a consistency token any query here takes back. Errors are Organizations' own
//! (`AccessDeniedException`, `InvalidInputException`, ...), as its json door names them.
//!
//! The central views (`memberAccount`, `organizationAccountCounts`) read member accounts' models
//! through `Gatehouse::member_account_view`, the one rule for who may see another account.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Object, OutputType, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_app::management::MemberAccountRequest;
use iam_app::organizations::{OrgAnswer, OrgOperation, OrgRead, Page};
use iam_authz::AccountModel;
use iam_domain::organization::{OrgCommand, OrgPolicyType};
use iam_domain::Read;
use iam_types::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{aws_error, from_org};
use crate::guard::{AsOfInput, Scope};
use crate::query::{groups_of, policies_of, roles_of, users_of, PolicyFilter, PolicyScope};
use crate::types::{page_complexity, Coverage, GroupObject, PolicyObject, RoleObject, UserObject};

/// AWS's timestamps (epoch seconds, fractional) as times.
fn epoch_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    #[allow(clippy::cast_possible_truncation)] // bounded by the check below
    let millis = (seconds * 1000.0).round() as i64;
    DateTime::from_timestamp_millis(millis)
        .filter(|_| seconds.is_finite())
        .ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
}

fn optional_epoch_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    epoch_seconds(deserializer).map(Some)
}

/// A policy type's status on the organization or a root.
#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyTypeSummary {
    /// `SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`, `TAG_POLICY`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub policy_type: String,
    /// `ENABLED`.
    pub status: String,
}

/// An organization (`DescribeOrganization`).
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Organization {
    /// `o-...`.
    pub id: String,
    /// The organization's ARN.
    pub arn: String,
    /// `ALL`.
    pub feature_set: String,
    /// The management account's ARN in the organization.
    pub master_account_arn: String,
    /// The management account.
    pub master_account_id: String,
    /// The management account's address.
    pub master_account_email: String,
    /// The policy types and whether they are enabled (on the root).
    pub available_policy_types: Vec<PolicyTypeSummary>,
}

/// The root of the organization's tree.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Root {
    /// `r-...`.
    pub id: String,
    /// The root's ARN.
    pub arn: String,
    /// `Root`.
    pub name: String,
    /// The policy types enabled on it.
    pub policy_types: Vec<PolicyTypeSummary>,
}

/// An organizational unit.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationalUnit {
    /// `ou-...`.
    pub id: String,
    /// The OU's ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
}

/// A member account, as Organizations describes it.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationAccount {
    /// The 12-digit account id.
    pub id: String,
    /// The account's ARN in the organization.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its root user's address.
    pub email: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
    /// `ACTIVE` or `SUSPENDED`.
    pub state: String,
    /// `CREATED` or `INVITED`.
    pub joined_method: String,
    /// When it joined.
    #[serde(deserialize_with = "epoch_seconds")]
    pub joined_timestamp: DateTime<Utc>,
}

/// A child of a root or OU.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationChild {
    /// The child's id.
    pub id: String,
    /// `ACCOUNT` or `ORGANIZATIONAL_UNIT`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub child_type: String,
}

/// The parent of an OU or account.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationParent {
    /// The parent's id.
    pub id: String,
    /// `ROOT` or `ORGANIZATIONAL_UNIT`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub parent_type: String,
}

/// An organization policy without its document.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationPolicySummary {
    /// `p-...` (`p-FullAWSAccess` for the AWS-managed SCP).
    pub id: String,
    /// The policy's ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// `SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`, `TAG_POLICY`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub policy_type: String,
    /// Whether AWS manages it.
    pub aws_managed: bool,
}

/// An organization policy with its document.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationPolicy {
    /// What it is.
    pub policy_summary: OrganizationPolicySummary,
    /// The document (JSON text).
    pub content: String,
}

/// A root, OU or account a policy is attached to.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyTargetSummary {
    /// The target's id.
    pub target_id: String,
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// `ROOT`, `ORGANIZATIONAL_UNIT` or `ACCOUNT`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub target_type: String,
}

/// A party to a handshake.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeParty {
    /// The organization's or account's id.
    pub id: String,
    /// `ORGANIZATION` or `ACCOUNT`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub party_type: String,
}

/// What a handshake is about.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeResource {
    /// `ORGANIZATION`, `ACCOUNT`, `NOTES`.
    #[graphql(name = "type")]
    #[serde(rename = "Type")]
    pub resource_type: String,
    /// Its value.
    pub value: String,
}

/// An invitation to join the organization.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Handshake {
    /// `h-...`.
    pub id: String,
    /// The handshake's ARN.
    pub arn: String,
    /// The organization and the invited account.
    pub parties: Vec<HandshakeParty>,
    /// `OPEN`, `ACCEPTED`, `DECLINED`, `CANCELED`, `EXPIRED`.
    pub state: String,
    /// When it was sent.
    #[serde(deserialize_with = "epoch_seconds")]
    pub requested_timestamp: DateTime<Utc>,
    /// When it expires.
    #[serde(deserialize_with = "epoch_seconds")]
    pub expiration_timestamp: DateTime<Utc>,
    /// `INVITE`.
    pub action: String,
    /// The organization, the account and the notes.
    pub resources: Vec<HandshakeResource>,
}

/// A member account registered as a delegated administrator.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DelegatedAdministrator {
    /// The account.
    pub id: String,
    /// Its ARN in the organization.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its root user's address.
    pub email: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
    /// `CREATED` or `INVITED`.
    pub joined_method: String,
    /// When it joined.
    #[serde(deserialize_with = "epoch_seconds")]
    pub joined_timestamp: DateTime<Utc>,
    /// When it was first registered.
    #[serde(deserialize_with = "epoch_seconds")]
    pub delegation_enabled_date: DateTime<Utc>,
    /// The services it administers (`gatehouse.amazonaws.com` opens the central views).
    #[serde(default)]
    pub service_principals: Vec<String>,
}

/// A policy of one level of the SCP chain.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EffectivePolicyRef {
    /// `p-...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The version the chain was built with.
    pub version: String,
}

/// One level of the SCP chain: a node from the root down to the account, and its policies; an
/// action must be allowed at every level.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EffectivePolicyLevel {
    /// The root, OU or account.
    pub target_id: String,
    /// `ROOT`, `ORGANIZATIONAL_UNIT` or `ACCOUNT`.
    pub target_type: String,
    /// The SCPs attached there.
    pub policies: Vec<EffectivePolicyRef>,
}

/// The SCPs that apply to an account (`DescribeEffectivePolicy`).
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EffectivePolicy {
    /// The account.
    pub target_id: String,
    /// `SERVICE_CONTROL_POLICY`.
    pub policy_type: String,
    /// When it was computed.
    #[serde(deserialize_with = "epoch_seconds")]
    pub last_updated_timestamp: DateTime<Utc>,
    /// The levels, root first (none for the management account, which SCPs never restrict).
    pub levels: Vec<EffectivePolicyLevel>,
    /// Whether any SCP restricts the account.
    pub restricted: bool,
}

/// AWS Organizations' `CreateAccountStatus`.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccountStatus {
    /// `car-...`.
    pub id: String,
    /// The account's name.
    pub account_name: String,
    /// `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub state: String,
    /// When it was asked for.
    #[serde(deserialize_with = "epoch_seconds")]
    pub requested_timestamp: DateTime<Utc>,
    /// When it ended (absent while in progress).
    #[serde(default, deserialize_with = "optional_epoch_seconds")]
    pub completed_timestamp: Option<DateTime<Utc>>,
    /// The new account's 12-digit id, once it succeeded.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Why it failed (AWS's `CreateAccountFailureReason`).
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// The administrator role created in it.
    #[serde(default)]
    pub role_name: String,
    /// The organization's sequence after the account joined.
    #[serde(default)]
    pub org_sequence: u64,
}

/// One page of a list; pass `nextToken` back for the next.
#[derive(SimpleObject)]
#[graphql(concrete(name = "OrganizationRootPage", params(Root)))]
#[graphql(concrete(name = "OrganizationalUnitPage", params(OrganizationalUnit)))]
#[graphql(concrete(name = "OrganizationChildPage", params(OrganizationChild)))]
#[graphql(concrete(name = "OrganizationParentPage", params(OrganizationParent)))]
#[graphql(concrete(name = "OrganizationAccountPage", params(OrganizationAccount)))]
#[graphql(concrete(name = "OrganizationPolicySummaryPage", params(OrganizationPolicySummary)))]
#[graphql(concrete(name = "PolicyTargetSummaryPage", params(PolicyTargetSummary)))]
#[graphql(concrete(name = "HandshakePage", params(Handshake)))]
#[graphql(concrete(name = "DelegatedAdministratorPage", params(DelegatedAdministrator)))]
pub struct OrgPage<T: OutputType> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; absent on the last page.
    pub next_token: Option<String>,
    /// The organization's sequence the page was read at.
    pub org_sequence: u64,
}

/// The answer to a change that returns nothing but the organization's new sequence.
#[derive(SimpleObject)]
pub struct OrgChangePayload {
    /// The organization's sequence after the change: a consistency token.
    pub org_sequence: u64,
}

/// The answer to `createOrganization`.
#[derive(SimpleObject)]
pub struct OrganizationPayload {
    /// The new organization.
    pub organization: Organization,
    /// The organization's sequence after the change.
    pub org_sequence: u64,
}

/// The answer to a change of an OU.
#[derive(SimpleObject)]
pub struct OrganizationalUnitPayload {
    /// The OU after the change.
    pub organizational_unit: OrganizationalUnit,
    /// The organization's sequence after the change.
    pub org_sequence: u64,
}

/// The answer to a change of a handshake.
#[derive(SimpleObject)]
pub struct HandshakePayload {
    /// The handshake after the change.
    pub handshake: Handshake,
    /// The organization's sequence after the change.
    pub org_sequence: u64,
}

/// The answer to a change of a policy.
#[derive(SimpleObject)]
pub struct OrganizationPolicyPayload {
    /// The policy after the change.
    pub policy: OrganizationPolicy,
    /// The organization's sequence after the change.
    pub org_sequence: u64,
}

/// The answer to enabling or disabling a policy type.
#[derive(SimpleObject)]
pub struct RootPayload {
    /// The root after the change.
    pub root: Root,
    /// The organization's sequence after the change.
    pub org_sequence: u64,
}

/// How many IAM entities one account holds (a read-only summary for the central view).
#[derive(SimpleObject)]
pub struct AccountEntityCounts {
    /// The account.
    pub account_id: String,
    /// Users.
    pub users: u64,
    /// Roles.
    pub roles: u64,
    /// Groups.
    pub groups: u64,
    /// Customer-managed policies.
    pub policies: u64,
}

/// The organization policy types.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "OrganizationPolicyType")]
#[allow(clippy::enum_variant_names)] // AWS's names
pub enum PolicyTypeArg {
    /// SCPs: the most a member account's principals may do.
    ServiceControlPolicy,
    /// RCPs: the most that may be done to a member account's resources.
    ResourceControlPolicy,
    /// Tag policies (stored, not enforced).
    TagPolicy,
}

impl From<PolicyTypeArg> for OrgPolicyType {
    fn from(arg: PolicyTypeArg) -> Self {
        match arg {
            PolicyTypeArg::ServiceControlPolicy => OrgPolicyType::ServiceControlPolicy,
            PolicyTypeArg::ResourceControlPolicy => OrgPolicyType::ResourceControlPolicy,
            PolicyTypeArg::TagPolicy => OrgPolicyType::TagPolicy,
        }
    }
}

/// What `organizationChildren` lists.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "OrganizationChildType")]
pub enum ChildTypeArg {
    /// Member accounts.
    Account,
    /// Organizational units.
    OrganizationalUnit,
}

/// An organization's feature set.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "OrganizationFeatureSet")]
pub enum FeatureSetArg {
    /// Every feature, policies included (Gatehouse's only set).
    All,
    /// Consolidated billing only (refused: Gatehouse has no billing).
    ConsolidatedBilling,
}

/// `createOrganizationAccount` input: AWS Organizations' `CreateAccount` parameters.
#[derive(InputObject)]
pub struct CreateOrganizationAccountInput {
    /// `AccountName`: 1 to 50 printable ASCII characters.
    pub account_name: String,
    /// `Email`: the new account's root user's address (never recorded).
    pub email: String,
    /// The administrator role to create (`OrganizationAccountAccessRole` by default).
    pub role_name: Option<String>,
    /// The root or OU to put the account in (the root by default).
    pub parent_id: Option<String>,
}

/// Makes one Organizations call for the caller. The call records itself, so the request's
/// audit of read-only fields leaves it alone.
async fn call(ctx: &Context<'_>, operation: OrgOperation, org_sequence: Option<u64>) -> Result<OrgAnswer> {
    let scope = Scope::of(ctx)?;
    scope.records_itself();
    scope
        .gatehouse
        .organizations(&scope.caller, operation, org_sequence)
        .await
        .map_err(from_org)
}

async fn change(ctx: &Context<'_>, command: OrgCommand) -> Result<OrgAnswer> {
    call(ctx, OrgOperation::Change(command), None).await
}

/// The answer's member `key`, typed.
fn member<T: DeserializeOwned>(answer: &OrgAnswer, key: &str) -> Result<T> {
    let value = answer.response.get(key).cloned().unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| {
        aws_error(
            ErrorCode::ServiceFailure,
            format!("the answer's `{key}` does not have its shape: {e}"),
        )
    })
}

/// The list under `key` of a page answer, with its `NextToken`.
fn page<T: DeserializeOwned + OutputType>(answer: &OrgAnswer, key: &str) -> Result<OrgPage<T>> {
    Ok(OrgPage {
        items: member(answer, key)?,
        next_token: answer
            .response
            .get("NextToken")
            .and_then(|t| t.as_str())
            .map(str::to_owned),
        org_sequence: answer.sequence,
    })
}

/// `MaxResults` and `NextToken`; a negative `maxResults` is refused as AWS refuses 0.
fn page_of(max_results: Option<i32>, next_token: Option<String>) -> Page {
    Page {
        max_results: max_results.map(|n| usize::try_from(n).unwrap_or(0)),
        next_token,
    }
}

async fn read_page<T: DeserializeOwned + OutputType>(
    ctx: &Context<'_>,
    read: OrgRead,
    key: &str,
    org_sequence: Option<u64>,
    as_of: Option<AsOfInput>,
) -> Result<OrgPage<T>> {
    page(&read_at(ctx, read, org_sequence, as_of).await?, key)
}

async fn read_one<T: DeserializeOwned>(
    ctx: &Context<'_>,
    read: OrgRead,
    key: &str,
    org_sequence: Option<u64>,
    as_of: Option<AsOfInput>,
) -> Result<T> {
    member(&read_at(ctx, read, org_sequence, as_of).await?, key)
}

/// A read now (at least as fresh as `org_sequence`), or of the organization as it was at
/// `as_of` (a time, or an organization sequence).
async fn read_at(
    ctx: &Context<'_>,
    read: OrgRead,
    org_sequence: Option<u64>,
    as_of: Option<AsOfInput>,
) -> Result<OrgAnswer> {
    let Some(as_of) = as_of else {
        return call(ctx, OrgOperation::Read(read), org_sequence).await;
    };
    let scope = Scope::of(ctx)?;
    scope.records_itself();
    scope
        .gatehouse
        .organization_read_as_of(&scope.caller, read, as_of.into())
        .await
        .map_err(from_org)
}

fn changed(answer: &OrgAnswer) -> OrgChangePayload {
    OrgChangePayload {
        org_sequence: answer.sequence,
    }
}

/// A member account's IAM entities, read-only, as the management account or a delegated
/// administrator sees them: the same types as the caller's own account's queries.
pub struct MemberAccount {
    model: Arc<AccountModel>,
    account_id: String,
}

/// A member account's IAM entities, read-only, as the management account or a delegated
/// administrator sees them: the same types as the caller's own account's queries.
#[Object]
impl MemberAccount {
    /// The account.
    async fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Its alias, if it has one.
    async fn account_alias(&self) -> Option<String> {
        self.model.state().account().and_then(|a| a.account_alias.clone())
    }

    /// Its users.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Connection<String, UserObject, EmptyFields, EmptyFields> {
        users_of(&self.model, Coverage::MemberView, path_prefix.as_deref(), after, first)
    }

    /// Its groups.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn groups(
        &self,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Connection<String, GroupObject, EmptyFields, EmptyFields> {
        groups_of(&self.model, Coverage::MemberView, path_prefix.as_deref(), after, first)
    }

    /// Its roles (`OrganizationAccountAccessRole` among them for a created account).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn roles(
        &self,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Connection<String, RoleObject, EmptyFields, EmptyFields> {
        roles_of(&self.model, Coverage::MemberView, path_prefix.as_deref(), after, first)
    }

    /// The managed policies it owns or may use.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn policies(
        &self,
        #[graphql(default_with = "PolicyScope::All")] scope: PolicyScope,
        #[graphql(default)] only_attached: bool,
        path_prefix: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Connection<String, PolicyObject, EmptyFields, EmptyFields> {
        let filter = PolicyFilter {
            scope,
            only_attached,
            path_prefix: path_prefix.as_deref(),
        };
        policies_of(&self.model, Coverage::MemberView, filter, after, first)
    }
}

/// The Organizations queries, merged into `Query`.
#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// `DescribeOrganization`: the caller's organization. `orgSequence` (any `orgSequence` an
    /// answer gave) makes every query here read an organization at least that fresh; `asOf` (a
    /// time, or an organization sequence) reads it as it was then, with the caller's standing
    /// and permissions of now.
    async fn organization(
        &self,
        ctx: &Context<'_>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<Organization> {
        read_one(ctx, OrgRead::DescribeOrganization, "Organization", org_sequence, as_of).await
    }

    /// `ListRoots`.
    async fn organization_roots(
        &self,
        ctx: &Context<'_>,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<Root>> {
        let read = OrgRead::ListRoots(page_of(max_results, next_token));
        read_page(ctx, read, "Roots", org_sequence, as_of).await
    }

    /// `ListOrganizationalUnitsForParent`.
    async fn organizational_units_for_parent(
        &self,
        ctx: &Context<'_>,
        parent_id: String,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationalUnit>> {
        let read = OrgRead::ListOrganizationalUnitsForParent(parent_id, page_of(max_results, next_token));
        read_page(ctx, read, "OrganizationalUnits", org_sequence, as_of).await
    }

    /// `ListChildren`.
    #[allow(clippy::too_many_arguments)] // GraphQL arguments
    async fn organization_children(
        &self,
        ctx: &Context<'_>,
        parent_id: String,
        child_type: ChildTypeArg,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationChild>> {
        let child_type = match child_type {
            ChildTypeArg::Account => "ACCOUNT",
            ChildTypeArg::OrganizationalUnit => "ORGANIZATIONAL_UNIT",
        };
        let read = OrgRead::ListChildren(parent_id, child_type.to_owned(), page_of(max_results, next_token));
        read_page(ctx, read, "Children", org_sequence, as_of).await
    }

    /// `ListParents`.
    async fn organization_parents(
        &self,
        ctx: &Context<'_>,
        child_id: String,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationParent>> {
        let read = OrgRead::ListParents(child_id, page_of(max_results, next_token));
        read_page(ctx, read, "Parents", org_sequence, as_of).await
    }

    /// `DescribeOrganizationalUnit`.
    async fn organizational_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrganizationalUnit> {
        read_one(
            ctx,
            OrgRead::DescribeOrganizationalUnit(id),
            "OrganizationalUnit",
            org_sequence,
            as_of,
        )
        .await
    }

    /// `ListAccounts`.
    async fn organization_accounts(
        &self,
        ctx: &Context<'_>,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationAccount>> {
        let read = OrgRead::ListAccounts(page_of(max_results, next_token));
        read_page(ctx, read, "Accounts", org_sequence, as_of).await
    }

    /// `ListAccountsForParent`.
    async fn organization_accounts_for_parent(
        &self,
        ctx: &Context<'_>,
        parent_id: String,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationAccount>> {
        let read = OrgRead::ListAccountsForParent(parent_id, page_of(max_results, next_token));
        read_page(ctx, read, "Accounts", org_sequence, as_of).await
    }

    /// `DescribeAccount`.
    async fn organization_account(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrganizationAccount> {
        read_one(
            ctx,
            OrgRead::DescribeAccount(account_id),
            "Account",
            org_sequence,
            as_of,
        )
        .await
    }

    /// `ListPolicies` of one type.
    async fn organization_policies(
        &self,
        ctx: &Context<'_>,
        filter: PolicyTypeArg,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationPolicySummary>> {
        let read = OrgRead::ListPolicies(filter.into(), page_of(max_results, next_token));
        read_page(ctx, read, "Policies", org_sequence, as_of).await
    }

    /// `DescribePolicy`: the policy with its document.
    async fn organization_policy(
        &self,
        ctx: &Context<'_>,
        policy_id: String,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrganizationPolicy> {
        read_one(ctx, OrgRead::DescribePolicy(policy_id), "Policy", org_sequence, as_of).await
    }

    /// `ListPoliciesForTarget`: the policies of one type attached directly to a root, OU or
    /// account.
    #[allow(clippy::too_many_arguments)] // GraphQL arguments
    async fn organization_policies_for_target(
        &self,
        ctx: &Context<'_>,
        target_id: String,
        filter: PolicyTypeArg,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<OrganizationPolicySummary>> {
        let read = OrgRead::ListPoliciesForTarget(target_id, filter.into(), page_of(max_results, next_token));
        read_page(ctx, read, "Policies", org_sequence, as_of).await
    }

    /// `ListTargetsForPolicy`.
    async fn organization_targets_for_policy(
        &self,
        ctx: &Context<'_>,
        policy_id: String,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<PolicyTargetSummary>> {
        let read = OrgRead::ListTargetsForPolicy(policy_id, page_of(max_results, next_token));
        read_page(ctx, read, "Targets", org_sequence, as_of).await
    }

    /// `ListHandshakesForOrganization`.
    async fn handshakes_for_organization(
        &self,
        ctx: &Context<'_>,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<Handshake>> {
        let read = OrgRead::ListHandshakesForOrganization(page_of(max_results, next_token));
        read_page(ctx, read, "Handshakes", org_sequence, as_of).await
    }

    /// `ListHandshakesForAccount`: the invitations the caller's account received.
    async fn handshakes_for_account(
        &self,
        ctx: &Context<'_>,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<Handshake>> {
        let read = OrgRead::ListHandshakesForAccount(page_of(max_results, next_token));
        read_page(ctx, read, "Handshakes", org_sequence, as_of).await
    }

    /// `DescribeHandshake`.
    async fn handshake(
        &self,
        ctx: &Context<'_>,
        id: String,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<Handshake> {
        read_one(ctx, OrgRead::DescribeHandshake(id), "Handshake", org_sequence, as_of).await
    }

    /// `ListDelegatedAdministrators`.
    async fn delegated_administrators(
        &self,
        ctx: &Context<'_>,
        max_results: Option<i32>,
        next_token: Option<String>,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<OrgPage<DelegatedAdministrator>> {
        let read = OrgRead::ListDelegatedAdministrators(page_of(max_results, next_token));
        read_page(ctx, read, "DelegatedAdministrators", org_sequence, as_of).await
    }

    /// `DescribeEffectivePolicy` for SCPs: the chain of SCPs that applies to an account (a member
    /// account may ask about itself only).
    async fn effective_policy(
        &self,
        ctx: &Context<'_>,
        target_id: String,
        org_sequence: Option<u64>,
        as_of: Option<AsOfInput>,
    ) -> Result<EffectivePolicy> {
        read_one(
            ctx,
            OrgRead::DescribeEffectivePolicy(target_id),
            "EffectivePolicy",
            org_sequence,
            as_of,
        )
        .await
    }

    /// A member account's users, groups, roles and policies, read-only: for the management
    /// account and a delegated administrator of `gatehouse.amazonaws.com`, whose own policies
    /// must allow `organizations:DescribeAccount`. Any account may view itself this way (with
    /// `iam:GetAccountAuthorizationDetails`).
    async fn member_account(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        org_sequence: Option<u64>,
    ) -> Result<MemberAccount> {
        let scope = Scope::of(ctx)?;
        if account_id == scope.account() {
            scope.read(Read::GetAccountAuthorizationDetails {})?;
        } else {
            scope.note(
                "organizations:DescribeAccount",
                &account_arn(&scope, &account_id).unwrap_or_else(|| "*".to_owned()),
            );
        }
        let model = scope
            .gatehouse
            .member_account_view(&scope.caller, &account_id, org_sequence)
            .await
            .map_err(from_org)?;
        Ok(MemberAccount { model, account_id })
    }

    /// How many users, roles, groups and customer-managed policies each account the caller may
    /// view holds: every account of the organization for the management account and a delegated
    /// administrator, the caller's own otherwise. Needs `iam:GetAccountSummary`, and for each
    /// other account what `memberAccount` needs.
    async fn organization_account_counts(
        &self,
        ctx: &Context<'_>,
        org_sequence: Option<u64>,
    ) -> Result<Vec<AccountEntityCounts>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetAccountSummary {})?;
        let accounts = scope
            .gatehouse
            .viewable_accounts(&scope.caller, org_sequence)
            .await
            .map_err(from_org)?;
        let mut counts = Vec::with_capacity(accounts.len());
        for account_id in accounts {
            let model = if account_id == scope.account() {
                scope.model.clone()
            } else {
                scope
                    .gatehouse
                    .member_account_view(&scope.caller, &account_id, org_sequence)
                    .await
                    .map_err(from_org)?
            };
            let state = model.state();
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            counts.push(AccountEntityCounts {
                account_id,
                users: count(state.users().count()),
                roles: count(state.roles().count()),
                groups: count(state.groups().count()),
                policies: count(state.customer_policies().count()),
            });
        }
        Ok(counts)
    }
}

/// A member account's ARN in the caller's organization, for the record of a central read.
fn account_arn(scope: &Scope, account_id: &str) -> Option<String> {
    let org = scope.gatehouse.organization_model_of(scope.account())?;
    let info = org.state().info()?;
    Some(info.arn_of("account", account_id))
}

/// The Organizations mutations, merged into `Mutation`.
#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// `CreateOrganization`: the caller's account becomes the management account of a new
    /// organization with a root.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        feature_set: Option<FeatureSetArg>,
    ) -> Result<OrganizationPayload> {
        let command = OrgCommand::CreateOrganization {
            management_account_id: String::new(),
            management_account_email: String::new(),
            feature_set: feature_set.map(|set| {
                match set {
                    FeatureSetArg::All => "ALL",
                    FeatureSetArg::ConsolidatedBilling => "CONSOLIDATED_BILLING",
                }
                .to_owned()
            }),
        };
        let answer = change(ctx, command).await?;
        Ok(OrganizationPayload {
            organization: member(&answer, "Organization")?,
            org_sequence: answer.sequence,
        })
    }

    /// `DeleteOrganization`: only when the management account is its only member.
    async fn delete_organization(&self, ctx: &Context<'_>) -> Result<OrgChangePayload> {
        Ok(changed(&change(ctx, OrgCommand::DeleteOrganization {}).await?))
    }

    /// `CreateOrganizationalUnit` under a root or OU.
    async fn create_organizational_unit(
        &self,
        ctx: &Context<'_>,
        parent_id: String,
        name: String,
    ) -> Result<OrganizationalUnitPayload> {
        let answer = change(ctx, OrgCommand::CreateOrganizationalUnit { parent_id, name }).await?;
        Ok(OrganizationalUnitPayload {
            organizational_unit: member(&answer, "OrganizationalUnit")?,
            org_sequence: answer.sequence,
        })
    }

    /// `UpdateOrganizationalUnit`: renames an OU.
    async fn update_organizational_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: String,
    ) -> Result<OrganizationalUnitPayload> {
        let command = OrgCommand::UpdateOrganizationalUnit {
            organizational_unit_id: id,
            name,
        };
        let answer = change(ctx, command).await?;
        Ok(OrganizationalUnitPayload {
            organizational_unit: member(&answer, "OrganizationalUnit")?,
            org_sequence: answer.sequence,
        })
    }

    /// `DeleteOrganizationalUnit`: only an empty one.
    async fn delete_organizational_unit(&self, ctx: &Context<'_>, id: String) -> Result<OrgChangePayload> {
        let command = OrgCommand::DeleteOrganizationalUnit {
            organizational_unit_id: id,
        };
        Ok(changed(&change(ctx, command).await?))
    }

    /// AWS Organizations' `CreateAccount`: a member account with no credentials of its own and
    /// an administrator role (`OrganizationAccountAccessRole` unless `roleName` says otherwise)
    /// that trusts the management account, under the root or `parentId`. Only the management
    /// account may do this.
    async fn create_organization_account(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationAccountInput,
    ) -> Result<CreateAccountStatus> {
        let role_name = input
            .role_name
            .clone()
            .unwrap_or_else(|| MemberAccountRequest::DEFAULT_ROLE_NAME.to_owned());
        let request = MemberAccountRequest {
            account_name: input.account_name,
            email: input.email,
            role_name: input.role_name,
            parent_id: input.parent_id,
        };
        let answer = call(ctx, OrgOperation::CreateAccount(request), None).await?;
        let mut status: CreateAccountStatus = member(&answer, "CreateAccountStatus")?;
        status.role_name = role_name;
        status.org_sequence = answer.sequence;
        Ok(status)
    }

    /// `InviteAccountToOrganization`: an invitation (handshake) the account accepts or declines.
    async fn invite_account_to_organization(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        notes: Option<String>,
    ) -> Result<HandshakePayload> {
        let command = OrgCommand::InviteAccount {
            target_account_id: account_id,
            notes,
            target_in_other_organization: false,
        };
        handshake_payload(&change(ctx, command).await?)
    }

    /// `AcceptHandshake`, by the invited account: it joins the organization.
    async fn accept_handshake(&self, ctx: &Context<'_>, id: String) -> Result<HandshakePayload> {
        let command = OrgCommand::AcceptHandshake {
            handshake_id: id,
            caller_account_id: String::new(),
            account_name: String::new(),
            in_other_organization: false,
        };
        handshake_payload(&change(ctx, command).await?)
    }

    /// `DeclineHandshake`, by the invited account.
    async fn decline_handshake(&self, ctx: &Context<'_>, id: String) -> Result<HandshakePayload> {
        let command = OrgCommand::DeclineHandshake {
            handshake_id: id,
            caller_account_id: String::new(),
        };
        handshake_payload(&change(ctx, command).await?)
    }

    /// `CancelHandshake`, by the management account.
    async fn cancel_handshake(&self, ctx: &Context<'_>, id: String) -> Result<HandshakePayload> {
        handshake_payload(&change(ctx, OrgCommand::CancelHandshake { handshake_id: id }).await?)
    }

    /// `MoveAccount` from one root or OU to another.
    async fn move_account(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        source_parent_id: String,
        destination_parent_id: String,
    ) -> Result<OrgChangePayload> {
        let command = OrgCommand::MoveAccount {
            account_id,
            source_parent_id,
            destination_parent_id,
        };
        Ok(changed(&change(ctx, command).await?))
    }

    /// `RemoveAccountFromOrganization`.
    async fn remove_account_from_organization(
        &self,
        ctx: &Context<'_>,
        account_id: String,
    ) -> Result<OrgChangePayload> {
        Ok(changed(&change(ctx, OrgCommand::RemoveAccount { account_id }).await?))
    }

    /// `LeaveOrganization`, by a member account itself.
    async fn leave_organization(&self, ctx: &Context<'_>) -> Result<OrgChangePayload> {
        let command = OrgCommand::LeaveOrganization {
            account_id: String::new(),
        };
        Ok(changed(&change(ctx, command).await?))
    }

    /// `CloseAccount`: the member account is suspended; nothing of it authenticates any more.
    async fn close_account(&self, ctx: &Context<'_>, account_id: String) -> Result<OrgChangePayload> {
        Ok(changed(&change(ctx, OrgCommand::CloseAccount { account_id }).await?))
    }

    /// `CreatePolicy`: an SCP, RCP or tag policy (`content` is its JSON document).
    async fn create_organization_policy(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: String,
        #[graphql(name = "type")] policy_type: PolicyTypeArg,
        content: String,
    ) -> Result<OrganizationPolicyPayload> {
        let command = OrgCommand::CreatePolicy {
            name,
            description,
            policy_type: policy_type.into(),
            content,
        };
        policy_payload(&change(ctx, command).await?)
    }

    /// `UpdatePolicy`: a new name, description or document (the others stay).
    async fn update_organization_policy(
        &self,
        ctx: &Context<'_>,
        policy_id: String,
        name: Option<String>,
        description: Option<String>,
        content: Option<String>,
    ) -> Result<OrganizationPolicyPayload> {
        let command = OrgCommand::UpdatePolicy {
            policy_id,
            name,
            description,
            content,
        };
        policy_payload(&change(ctx, command).await?)
    }

    /// `DeletePolicy`: only one attached nowhere.
    async fn delete_organization_policy(&self, ctx: &Context<'_>, policy_id: String) -> Result<OrgChangePayload> {
        Ok(changed(&change(ctx, OrgCommand::DeletePolicy { policy_id }).await?))
    }

    /// `AttachPolicy` to a root, OU or account.
    async fn attach_organization_policy(
        &self,
        ctx: &Context<'_>,
        policy_id: String,
        target_id: String,
    ) -> Result<OrgChangePayload> {
        Ok(changed(
            &change(ctx, OrgCommand::AttachPolicy { policy_id, target_id }).await?,
        ))
    }

    /// `DetachPolicy` (a node keeps at least one SCP while SCPs are enabled).
    async fn detach_organization_policy(
        &self,
        ctx: &Context<'_>,
        policy_id: String,
        target_id: String,
    ) -> Result<OrgChangePayload> {
        Ok(changed(
            &change(ctx, OrgCommand::DetachPolicy { policy_id, target_id }).await?,
        ))
    }

    /// `EnablePolicyType` on the root (SCPs start with `FullAWSAccess` attached everywhere).
    async fn enable_policy_type(
        &self,
        ctx: &Context<'_>,
        root_id: String,
        #[graphql(name = "type")] policy_type: PolicyTypeArg,
    ) -> Result<RootPayload> {
        let command = OrgCommand::EnablePolicyType {
            root_id,
            policy_type: policy_type.into(),
        };
        root_payload(&change(ctx, command).await?)
    }

    /// `DisablePolicyType` on the root: its policies are detached everywhere.
    async fn disable_policy_type(
        &self,
        ctx: &Context<'_>,
        root_id: String,
        #[graphql(name = "type")] policy_type: PolicyTypeArg,
    ) -> Result<RootPayload> {
        let command = OrgCommand::DisablePolicyType {
            root_id,
            policy_type: policy_type.into(),
        };
        root_payload(&change(ctx, command).await?)
    }

    /// `RegisterDelegatedAdministrator`: a member account administers a service for the
    /// organization (`gatehouse.amazonaws.com`: the central views).
    async fn register_delegated_administrator(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        service_principal: String,
    ) -> Result<OrgChangePayload> {
        let command = OrgCommand::RegisterDelegatedAdministrator {
            account_id,
            service_principal,
        };
        Ok(changed(&change(ctx, command).await?))
    }

    /// `DeregisterDelegatedAdministrator`.
    async fn deregister_delegated_administrator(
        &self,
        ctx: &Context<'_>,
        account_id: String,
        service_principal: String,
    ) -> Result<OrgChangePayload> {
        let command = OrgCommand::DeregisterDelegatedAdministrator {
            account_id,
            service_principal,
        };
        Ok(changed(&change(ctx, command).await?))
    }
}

fn handshake_payload(answer: &OrgAnswer) -> Result<HandshakePayload> {
    Ok(HandshakePayload {
        handshake: member(answer, "Handshake")?,
        org_sequence: answer.sequence,
    })
}

fn policy_payload(answer: &OrgAnswer) -> Result<OrganizationPolicyPayload> {
    Ok(OrganizationPolicyPayload {
        policy: member(answer, "Policy")?,
        org_sequence: answer.sequence,
    })
}

fn root_payload(answer: &OrgAnswer) -> Result<RootPayload> {
    Ok(RootPayload {
        root: member(answer, "Root")?,
        org_sequence: answer.sequence,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_read_from_epoch_seconds() {
        let account: OrganizationAccount = serde_json::from_value(json!({
            "Id": "111122223333", "Arn": "arn", "Email": "a@example.com", "Name": "a",
            "Status": "ACTIVE", "State": "ACTIVE", "JoinedMethod": "CREATED",
            "JoinedTimestamp": 1_700_000_000.25,
        }))
        .unwrap();
        assert_eq!(account.joined_timestamp.timestamp_millis(), 1_700_000_000_250);
    }

    #[test]
    fn a_page_carries_its_next_token_and_sequence() {
        let answer = OrgAnswer {
            response: json!({"Roots": [{"Id": "r-ab12", "Arn": "arn", "Name": "Root",
                "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}]}],
                "NextToken": "gh1-1"}),
            sequence: 7,
        };
        let roots: OrgPage<Root> = page(&answer, "Roots").unwrap();
        assert_eq!(roots.items[0].policy_types[0].policy_type, "SERVICE_CONTROL_POLICY");
        assert_eq!(roots.next_token.as_deref(), Some("gh1-1"));
        assert_eq!(roots.org_sequence, 7);
    }
}
