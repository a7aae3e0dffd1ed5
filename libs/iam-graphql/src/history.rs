//! The decision API and the audit history in GraphQL: `authorize`, `auditEvents` (newest first,
//! Relay cursors), `auditEvent` (one record by its `eventID`) and `auditEventCounts`, of the
//! caller's account or, for its organization's management account and a delegated
//! administrator, of any account of the organization, or of the whole organization trail
//! (`organizationTrail: true`: every record written while its account was a member, CloudTrail's
//! organization trail).

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Json, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_app::access::{context_entry, AccessRequest, ApiCaller};
use iam_audit::{AuditFilter, AuditRecord, GroupBy};
use iam_types::ErrorCode;

use crate::error::{aws_error, from_app};
use crate::guard::Scope;

/// A condition key sent with a decision request.
#[derive(InputObject, Clone)]
pub struct ContextEntryInput {
    /// The key, such as `aws:SourceIp` or `s3:prefix`.
    pub key: String,
    /// Its values.
    pub values: Vec<String>,
    /// `string` (default), `stringList`, `numeric`, `boolean`, `ip`, `date`, `binary` or their
    /// `List` forms.
    #[graphql(name = "type")]
    pub key_type: Option<String>,
}

/// `authorize` input.
#[derive(InputObject)]
pub struct AuthorizeInput {
    /// The principal asking (user, role or root ARN of the caller's account).
    pub principal_arn: String,
    /// The action, such as `s3:GetObject`.
    pub action: String,
    /// The resource ARN; `*` when omitted.
    pub resource: Option<String>,
    /// Extra condition keys.
    #[graphql(default)]
    pub context: Vec<ContextEntryInput>,
    /// The resource's resource-based policy (JSON text).
    pub resource_policy: Option<String>,
    /// The account owning the resource, when not the principal's.
    pub resource_owner: Option<String>,
    /// A consistency token (the `sequence` a mutation returned): the decision is made on a model
    /// at least this fresh.
    pub min_sequence: Option<u64>,
    /// An organization consistency token (the `orgSequence` an Organizations mutation returned):
    /// the decision is made under the caller's organization's policies at least this fresh.
    pub org_sequence: Option<u64>,
}

/// A statement that decided a request.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct MatchedStatementObject {
    /// Policy ARN or inline policy id.
    pub source_policy_id: String,
    /// `user`, `group`, `role`, `aws-managed`, `user-managed`, `resource`.
    pub source_policy_type: String,
    /// The managed policy version.
    pub version_id: Option<String>,
    /// 0-based index of the statement.
    pub statement_index: i32,
    /// The statement's `Sid`.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: String,
}

/// The answer to `authorize`.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthorizeResult {
    /// `Allow`, `ImplicitDeny` or `ExplicitDeny`.
    pub decision: String,
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The statements that decided it.
    pub matched_statements: Vec<MatchedStatementObject>,
    /// The audit record of this decision.
    #[graphql(name = "eventID")]
    pub event_id: String,
    /// The account's sequence the decision was made at.
    pub sequence: u64,
}

fn api_caller(ctx: &Context<'_>) -> Result<ApiCaller> {
    ctx.data_opt::<ApiCaller>()
        .cloned()
        .ok_or_else(|| aws_error(ErrorCode::AccessDenied, "the request is not authenticated"))
}

pub(crate) async fn authorize(ctx: &Context<'_>, input: AuthorizeInput) -> Result<AuthorizeResult> {
    let scope = Scope::of(ctx)?;
    let caller = api_caller(ctx)?;
    if let Some(token) = input.org_sequence {
        // A lagging replica catches up with the organization before deciding under its SCPs.
        scope
            .gatehouse
            .organization_at_token(scope.account(), token)
            .await
            .map_err(from_app)?;
    }
    let request = AccessRequest {
        principal_arn: input.principal_arn,
        action: input.action,
        resource: input.resource.unwrap_or_else(|| "*".into()),
        context: input
            .context
            .into_iter()
            .map(|c| context_entry(c.key, c.values, c.key_type))
            .collect(),
        resource_policy: input.resource_policy,
        resource_owner: input.resource_owner,
        min_sequence: input.min_sequence,
        min_org_sequence: None,
    };
    let decision = scope
        .gatehouse
        .decide_access(&caller, &request)
        .await
        .map_err(from_app)?;
    Ok(AuthorizeResult {
        decision: decision.decision_name().to_owned(),
        allowed: decision.effect == iam_policy::DecisionEffect::Allowed,
        matched_statements: decision.matched.iter().map(MatchedStatementObject::from).collect(),
        event_id: decision.event_id,
        sequence: decision.sequence,
    })
}

/// Which audit records to return.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// `userIdentity.arn`: the caller (for a decision, the application that asked).
    pub principal_arn: Option<String>,
    /// The principal a record is about, `requestParameters.principalArn`: for a decision, the
    /// principal decided on ("every decision about alice").
    pub decided_principal_arn: Option<String>,
    /// `eventID`, a UUID: the one record with that id.
    pub event_id: Option<String>,
    /// `eventName`, such as `CreateUser` or `Authorize`.
    pub event_name: Option<String>,
    /// `eventSource`: `iam.amazonaws.com` or `authz.gatehouse.dev`.
    pub event_source: Option<String>,
    /// The action decided or called (`s3:GetObject`, `iam:CreateUser`).
    pub action: Option<String>,
    /// The resource decided or touched.
    pub resource_arn: Option<String>,
    /// `Allow`, `ImplicitDeny` or `ExplicitDeny`.
    pub decision: Option<String>,
    /// `errorCode`, such as `AccessDenied`.
    pub error_code: Option<String>,
}

/// CloudTrail's `userIdentity`.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuditUserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`.
    #[graphql(name = "type")]
    pub identity_type: String,
    /// The principal's unique id.
    pub principal_id: String,
    /// The principal's ARN.
    pub arn: String,
    /// The principal's account.
    pub account_id: String,
    /// The signing access key.
    pub access_key_id: Option<String>,
    /// The IAM user name.
    pub user_name: Option<String>,
}

/// One audit record, with CloudTrail's field names.
pub struct AuditEvent(AuditRecord);

#[async_graphql::Object]
impl AuditEvent {
    /// The record's id.
    #[graphql(name = "eventID")]
    async fn event_id(&self) -> &str {
        &self.0.event_id
    }
    /// When.
    async fn event_time(&self) -> DateTime<Utc> {
        self.0.event_time
    }
    /// CloudTrail's record version.
    async fn event_version(&self) -> &str {
        &self.0.event_version
    }
    /// The API action.
    async fn event_name(&self) -> &str {
        &self.0.event_name
    }
    /// The service.
    async fn event_source(&self) -> &str {
        &self.0.event_source
    }
    /// `AwsApiCall` or `GatehouseAuthorization`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The region.
    async fn aws_region(&self) -> &str {
        &self.0.aws_region
    }
    /// The caller's address.
    #[graphql(name = "sourceIPAddress")]
    async fn source_ip_address(&self) -> &str {
        &self.0.source_ip_address
    }
    /// The caller's user agent.
    async fn user_agent(&self) -> &str {
        &self.0.user_agent
    }
    /// Who.
    async fn user_identity(&self) -> AuditUserIdentity {
        let u = &self.0.user_identity;
        AuditUserIdentity {
            identity_type: u.identity_type.clone(),
            principal_id: u.principal_id.clone(),
            arn: u.arn.clone(),
            account_id: u.account_id.clone(),
            access_key_id: u.access_key_id.clone(),
            user_name: u.user_name.clone(),
        }
    }
    /// The request's parameters (secrets hidden).
    async fn request_parameters(&self) -> Json<serde_json::Value> {
        Json(self.0.request_parameters.clone())
    }
    /// The response (secrets hidden).
    async fn response_elements(&self) -> Json<serde_json::Value> {
        Json(self.0.response_elements.clone())
    }
    /// AWS's error code of a failed call.
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }
    /// The error message.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// The request.
    #[graphql(name = "requestID")]
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }
    /// Whether the call only read.
    async fn read_only(&self) -> bool {
        self.0.read_only
    }
    /// The account the record belongs to.
    async fn recipient_account_id(&self) -> &str {
        &self.0.recipient_account_id
    }
    /// The decision, for decision records.
    async fn decision(&self) -> Option<&str> {
        self.0.decision()
    }
    /// The action decided or called.
    async fn action(&self) -> String {
        self.0.action()
    }
    /// The resource decided or touched.
    async fn resource_arn(&self) -> Option<String> {
        self.0.resource_arn()
    }
    /// Gatehouse's additions: matched statements, policies and sequence of a decision; sequence
    /// before and after, events and the entity before and after of a change.
    async fn additional_event_data(&self) -> Json<serde_json::Value> {
        Json(self.0.additional_event_data.clone().unwrap_or(serde_json::Value::Null))
    }
    /// The whole record as CloudTrail JSON.
    async fn cloud_trail_record(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(&self.0).unwrap_or(serde_json::Value::Null))
    }
    /// For a decision: the same request evaluated again, `at: RECORDED` (default) on the state it
    /// was made on and at its `eventTime`, `NOW` on the state now, or at `time` on the state
    /// then; with the difference from what was recorded. `InvalidInput` for a record that is not
    /// a decision.
    #[graphql(complexity = 50)]
    async fn replay(
        &self,
        ctx: &Context<'_>,
        at: Option<crate::replay::ReplayAt>,
        time: Option<DateTime<Utc>>,
    ) -> Result<crate::replay::DecisionReplay> {
        crate::replay::replay_record(ctx, &self.0, at, time).await
    }
}

impl From<&iam_policy::MatchedStatement> for MatchedStatementObject {
    fn from(m: &iam_policy::MatchedStatement) -> Self {
        MatchedStatementObject {
            source_policy_id: m.source.id.to_string(),
            source_policy_type: m.source.policy_type.as_str().to_owned(),
            version_id: m.source.version_id.as_deref().map(str::to_owned),
            statement_index: i32::try_from(m.statement_index).unwrap_or(i32::MAX),
            sid: m.sid.as_deref().map(str::to_owned),
            effect: if m.effect == iam_policy::Effect::Allow {
                "Allow"
            } else {
                "Deny"
            }
            .to_owned(),
        }
    }
}

/// Replays at `RECORDED` every decision of the caller's account (or, for the management account
/// and a delegated administrator, of `account_id`) in `from`..`to`, a page of records at a time.
pub(crate) async fn audit_replay_check(
    ctx: &Context<'_>,
    account_id: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<String>,
    first: Option<i32>,
) -> Result<crate::replay::ReplayCheck> {
    let (scope, history, log) = readable_history(ctx, account_id, false).await?;
    let filter = AuditEventFilter {
        from,
        to,
        event_source: Some(iam_audit::EVENT_SOURCE_AUTHZ.to_owned()),
        ..AuditEventFilter::default()
    };
    let first = first.map_or(1_000, |n| n.clamp(1, 10_000)) as usize;
    let page = log
        .query(&filter_of(history, Some(filter)), first, after.as_deref())
        .await
        .map_err(history_error)?;
    crate::replay::check_page(&scope, page.records, page.has_next_page).await
}

/// A field to count audit records by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuditGroupBy {
    /// `eventName`.
    EventName,
    /// `eventSource`.
    EventSource,
    /// `userIdentity.arn`.
    PrincipalArn,
    /// The decision.
    Decision,
    /// `errorCode`.
    ErrorCode,
    /// The action.
    Action,
}

/// How many records share a value.
#[derive(SimpleObject)]
pub struct AuditEventCount {
    /// The value (`null`: records without the field).
    pub value: Option<String>,
    /// How many.
    pub count: u64,
}

fn filter_of(history: History, filter: Option<AuditEventFilter>) -> AuditFilter {
    let f = filter.unwrap_or_default();
    AuditFilter {
        account_id: history.account_id,
        organization_id: history.organization_id,
        from: f.from,
        to: f.to,
        principal_arn: f.principal_arn,
        decided_principal_arn: f.decided_principal_arn,
        event_id: f.event_id,
        event_name: f.event_name,
        event_source: f.event_source,
        action: f.action,
        resource_arn: f.resource_arn,
        decision: f.decision,
        error_code: f.error_code,
    }
}

/// The caller's scope, the history it asked for (authorized as `LookupEvents`, and as
/// [`history_of`] decides), and the audit log to read it from.
pub(crate) async fn readable_history(
    ctx: &Context<'_>,
    account_id: Option<String>,
    organization_trail: bool,
) -> Result<(Scope, History, std::sync::Arc<dyn iam_audit::AuditLog>)> {
    let scope = Scope::of(ctx)?;
    scope.authorize(LOOKUP_ACTION, "*")?;
    let history = history_of(&scope, account_id, organization_trail).await?;
    let log = scope
        .gatehouse
        .audit_log()
        .cloned()
        .ok_or_else(|| aws_error(ErrorCode::ServiceFailure, "no audit log is configured"))?;
    Ok((scope, history, log))
}

/// Reading the history is authorized as CloudTrail's own `LookupEvents`.
const LOOKUP_ACTION: &str = "cloudtrail:LookupEvents";

/// An audit-log failure as AWS words it: a malformed cursor or event id is the caller's.
fn history_error(error: iam_audit::AuditError) -> async_graphql::Error {
    match error {
        iam_audit::AuditError::Invalid(message) => aws_error(ErrorCode::InvalidInput, message),
        other => aws_error(ErrorCode::ServiceFailure, other.to_string()),
    }
}

/// Whose records a query reads.
pub(crate) struct History {
    /// The account; empty for a whole organization trail.
    pub(crate) account_id: String,
    /// The organization trail, when the query reads one.
    organization_id: Option<String>,
}

/// The history the caller reads: an account's ([`history_account`]), or with
/// `organization_trail` its organization's trail, narrowed to `account_id` when one is named.
/// Only the organization's management account and a delegated administrator of the views
/// ([`iam_app::organizations::VIEWS_SERVICE_PRINCIPAL`]) may read the trail.
async fn history_of(scope: &Scope, account_id: Option<String>, organization_trail: bool) -> Result<History> {
    if !organization_trail {
        return Ok(History {
            account_id: history_account(scope, account_id).await?,
            organization_id: None,
        });
    }
    let denied = |why: &str| {
        aws_error(
            ErrorCode::AccessDenied,
            format!(
                "User: {} is not authorized to read the organization trail: {why}",
                scope.caller.principal_arn
            ),
        )
    };
    let organization = scope
        .gatehouse
        .organization_model_of(scope.account())
        .ok_or_else(|| denied("its account is not a member of an organization"))?;
    let state = organization.state();
    let info = state
        .info()
        .ok_or_else(|| denied("its account is not a member of an organization"))?;
    let central = info.management_account_id == scope.account()
        || state.is_delegated_administrator(scope.account(), iam_app::organizations::VIEWS_SERVICE_PRINCIPAL);
    if !central {
        return Err(denied(
            "only the organization's management account or a delegated administrator may",
        ));
    }
    // Any account id narrows the trail: a former member's records from its membership are in
    // it, and no other account's record carries the organization.
    Ok(History {
        account_id: account_id.unwrap_or_default(),
        organization_id: Some(info.id.clone()),
    })
}

/// The account whose history the caller reads: its own, or (`account_id`) one of the accounts it
/// may view centrally (the management account and a delegated administrator of the views: every
/// account of the organization).
async fn history_account(scope: &Scope, account_id: Option<String>) -> Result<String> {
    let own = scope.account().to_owned();
    let Some(account_id) = account_id.filter(|a| *a != own) else {
        return Ok(own);
    };
    let viewable = scope
        .gatehouse
        .viewable_accounts(&scope.caller, None)
        .await
        .map_err(from_app)?;
    if viewable.contains(&account_id) {
        Ok(account_id)
    } else {
        Err(aws_error(
            ErrorCode::AccessDenied,
            format!(
                "User: {} is not authorized to read the history of account `{account_id}`: only its organization's management account or a delegated administrator may",
                scope.caller.principal_arn
            ),
        ))
    }
}

pub(crate) async fn audit_events(
    ctx: &Context<'_>,
    account_id: Option<String>,
    organization_trail: bool,
    filter: Option<AuditEventFilter>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, AuditEvent, EmptyFields, EmptyFields>> {
    let (_, history, log) = readable_history(ctx, account_id, organization_trail).await?;
    let first = first.map_or(50, |n| n.clamp(0, 1_000)) as usize;
    let page = log
        .query(&filter_of(history, filter), first, after.as_deref())
        .await
        .map_err(history_error)?;
    let mut connection = Connection::new(after.is_some(), page.has_next_page);
    connection.edges.extend(
        page.records
            .into_iter()
            .map(|(cursor, record)| Edge::new(cursor, AuditEvent(record))),
    );
    Ok(connection)
}

/// One record by its `eventID`, from the history `auditEvents` would read with the same
/// `accountId` and `organizationTrail` (and authorized as it is); `None` when that history holds
/// no such record, another account's included.
pub(crate) async fn audit_event(
    ctx: &Context<'_>,
    event_id: String,
    account_id: Option<String>,
    organization_trail: bool,
) -> Result<Option<AuditEvent>> {
    let (_, history, log) = readable_history(ctx, account_id, organization_trail).await?;
    let filter = AuditEventFilter {
        event_id: Some(event_id),
        ..AuditEventFilter::default()
    };
    let page = log
        .query(&filter_of(history, Some(filter)), 1, None)
        .await
        .map_err(history_error)?;
    Ok(page.records.into_iter().next().map(|(_, record)| AuditEvent(record)))
}

pub(crate) async fn audit_event_counts(
    ctx: &Context<'_>,
    account_id: Option<String>,
    organization_trail: bool,
    filter: Option<AuditEventFilter>,
    group_by: AuditGroupBy,
) -> Result<Vec<AuditEventCount>> {
    let (_, history, log) = readable_history(ctx, account_id, organization_trail).await?;
    let group_by = match group_by {
        AuditGroupBy::EventName => GroupBy::EventName,
        AuditGroupBy::EventSource => GroupBy::EventSource,
        AuditGroupBy::PrincipalArn => GroupBy::PrincipalArn,
        AuditGroupBy::Decision => GroupBy::Decision,
        AuditGroupBy::ErrorCode => GroupBy::ErrorCode,
        AuditGroupBy::Action => GroupBy::Action,
    };
    let counts = log
        .count_by(&filter_of(history, filter), group_by)
        .await
        .map_err(history_error)?;
    Ok(counts
        .into_iter()
        .map(|(value, count)| AuditEventCount { value, count })
        .collect())
}
