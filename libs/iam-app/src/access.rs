//! The decision use case: may this principal do this action on this resource? Decided from the
//! in-memory model (no database read), recorded durably in the audit log before it is answered.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_audit::{AuditRecord, EncodedRecord, UserIdentity};
use iam_authz::{authorize_guarded, AccountModel, CompiledPrincipal, Guardrails, RequestFacts};
use iam_domain::session::{SessionClaims, SessionKind};
use iam_domain::{AccessKeyOwner, AccountState};
use iam_policy::simulate::{context_from_entries, ContextEntry};
use iam_policy::{ContextValue, DecisionEffect, MatchedStatement, PolicySet, PolicySource, PolicyType};
use iam_types::{ErrorCode, IamArn, ResourceKind};
use serde::Serialize;
use serde_json::Value;

use crate::decision_record::{self, DecisionFacts};
use crate::organizations::{insert_organization_keys, AccountGuardrails};
use crate::{AppError, Gatehouse};

/// The action a caller needs to ask for decisions about a principal.
pub const AUTHORIZE_ACTION: &str = "gatehouse:Authorize";

/// The most context one access request may carry (keys and values, in bytes): every byte of it
/// is kept in the decision's audit record.
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;
/// The most context and resource policy text all the requests of one batch may carry together,
/// so a batch whose evaluations inherit a large default cannot write more history than a
/// request body can hold.
pub const MAX_BATCH_INPUT_BYTES: usize = 1024 * 1024;

/// The bytes of a request's context: what its record keeps.
fn context_bytes(request: &AccessRequest) -> usize {
    request
        .context
        .iter()
        .map(|entry| {
            entry.context_key_name.len()
                + entry.context_key_type.len()
                + entry.context_key_values.iter().map(String::len).sum::<usize>()
        })
        .sum()
}

/// Refuses, before anything is decided or recorded, a request whose context (or a batch whose
/// contexts and resource policies) would make oversized records.
fn check_input_sizes(requests: &[AccessRequest]) -> Result<(), AppError> {
    let mut batch = 0usize;
    for request in requests {
        let context = context_bytes(request);
        if context > MAX_CONTEXT_BYTES {
            return Err(AppError::new(
                ErrorCode::LimitExceeded,
                format!("a request's context may hold at most {MAX_CONTEXT_BYTES} bytes; this one holds {context}"),
            ));
        }
        batch += context + request.resource_policy.as_ref().map_or(0, String::len);
    }
    if batch > MAX_BATCH_INPUT_BYTES {
        return Err(AppError::new(
            ErrorCode::LimitExceeded,
            format!(
                "the requests of one batch may carry at most {MAX_BATCH_INPUT_BYTES} bytes of context and resource policies together; these carry {batch}"
            ),
        ));
    }
    Ok(())
}

/// Who is calling the API, as authentication established it.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The caller's account.
    pub account_id: String,
    /// The caller's ARN.
    pub principal_arn: String,
    /// The access key that signed the request.
    pub access_key_id: Option<String>,
    /// The caller's address.
    pub source_ip: Option<String>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: String,
    /// The region the request was signed for.
    pub region: String,
    /// The API version a call through AWS's wire protocol named (`Version=2010-05-08`).
    pub api_version: Option<String>,
    /// For temporary credentials: the session the request was signed with (from its token).
    pub session: Option<Arc<SessionClaims>>,
}

/// One access question.
#[derive(Debug, Clone, Default)]
pub struct AccessRequest {
    /// The principal (a user, a role or the root user of the caller's account).
    pub principal_arn: String,
    /// The action, such as `s3:GetObject`.
    pub action: String,
    /// The resource ARN (`*` when the action takes none).
    pub resource: String,
    /// Extra context keys, typed as in `SimulateCustomPolicy` (`string`, `ipList`, ...).
    pub context: Vec<ContextEntry>,
    /// The resource's resource-based policy, as JSON text.
    pub resource_policy: Option<String>,
    /// The account owning the resource, when it is not the principal's.
    pub resource_owner: Option<String>,
    /// A consistency token (a sequence a mutation returned): decide on a model at least this
    /// fresh, so a change made through any replica is never decided against its past.
    pub min_sequence: Option<u64>,
    /// An organization consistency token (an organization's sequence an org change returned): the
    /// guardrails of the principal's (and the resource's) organization are at least this fresh.
    pub min_org_sequence: Option<u64>,
}

/// A condition key as the decision APIs take it (`{key, values, type}`): without a type, one value
/// is a `string` and several a `stringList`.
#[must_use]
pub fn context_entry(key: String, values: Vec<String>, key_type: Option<String>) -> ContextEntry {
    let key_type = key_type.unwrap_or_else(|| if values.len() > 1 { "stringList" } else { "string" }.into());
    ContextEntry {
        context_key_name: key,
        context_key_values: values,
        context_key_type: key_type,
    }
}

/// The answer.
#[derive(Debug, Clone)]
pub struct AccessDecision {
    /// Allowed, explicit deny or implicit deny.
    pub effect: DecisionEffect,
    /// The statements that decided it.
    pub matched: Vec<MatchedStatement>,
    /// The audit record's id.
    pub event_id: String,
    /// The account's sequence the decision was made at.
    pub sequence: u64,
}

impl AccessDecision {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    #[must_use]
    pub fn decision_name(&self) -> &'static str {
        decision_name(self.effect)
    }
}

/// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
#[must_use]
pub fn decision_name(effect: DecisionEffect) -> &'static str {
    match effect {
        DecisionEffect::Allowed => "Allow",
        DecisionEffect::ExplicitDeny => "ExplicitDeny",
        DecisionEffect::ImplicitDeny => "ImplicitDeny",
    }
}

/// A matched statement as the API and the audit record show it, borrowed for serializing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchedStatementJson<'a> {
    source_policy_id: &'a str,
    source_policy_type: &'static str,
    version_id: Option<&'a str>,
    statement_index: usize,
    sid: Option<&'a str>,
    effect: &'static str,
}

impl<'a> From<&'a MatchedStatement> for MatchedStatementJson<'a> {
    fn from(statement: &'a MatchedStatement) -> Self {
        MatchedStatementJson {
            source_policy_id: &statement.source.id,
            source_policy_type: statement.source.policy_type.as_str(),
            version_id: statement.source.version_id.as_deref(),
            statement_index: statement.statement_index,
            sid: statement.sid.as_deref(),
            effect: if statement.effect == iam_policy::Effect::Allow {
                "Allow"
            } else {
                "Deny"
            },
        }
    }
}

/// [`MatchedStatementJson`] as a JSON value.
#[must_use]
pub fn matched_statement_json(statement: &MatchedStatement) -> Value {
    serde_json::to_value(MatchedStatementJson::from(statement)).unwrap_or(Value::Null)
}

/// CloudTrail's `userIdentity` for a principal of `state`'s account.
#[must_use]
pub fn user_identity(state: &AccountState, principal_arn: &str, access_key_id: Option<&str>) -> UserIdentity {
    let account_id = state.account_id().map(ToString::to_string).unwrap_or_default();
    let mut identity = UserIdentity {
        identity_type: "Unknown".into(),
        principal_id: String::new(),
        arn: principal_arn.to_owned(),
        account_id: account_id.clone(),
        access_key_id: access_key_id.map(str::to_owned),
        user_name: None,
        session_context: None,
        identity_provider: None,
    };
    let Ok(arn) = IamArn::parse(principal_arn) else {
        return identity;
    };
    match arn.kind() {
        None => {
            identity.identity_type = "Root".into();
            identity.principal_id = account_id;
        }
        Some(ResourceKind::User) => {
            identity.identity_type = "IAMUser".into();
            if let Some(user) = arn.name().and_then(|n| state.user(n.as_str())) {
                identity.principal_id = user.user_id.to_string();
                identity.user_name = Some(user.user_name.to_string());
            }
        }
        Some(ResourceKind::Role) => {
            identity.identity_type = "AssumedRole".into();
            if let Some(role) = arn.name().and_then(|n| state.role(n.as_str())) {
                identity.principal_id = role.role_id.to_string();
            }
        }
        Some(_) => {}
    }
    identity
}

/// The principal `caller` acts as, compiled: a role session's (the role's policies limited by
/// the session's) or the caller's own. `None` when it no longer exists.
#[must_use]
pub fn caller_principal(model: &AccountModel, caller: &ApiCaller) -> Option<Arc<CompiledPrincipal>> {
    match &caller.session {
        Some(claims) => model.session_principal(claims),
        None => model.principal(&caller.principal_arn),
    }
}

/// The condition keys a role session sets, over what the model says of its principal: the
/// role's ARN as `aws:PrincipalArn`, `<role id>:<session>` as `aws:userid`, the role's tags then
/// the session's as `aws:PrincipalTag/*`, the issue time, MFA and source identity.
#[must_use]
pub fn session_keys(state: &AccountState, claims: &SessionClaims, now: DateTime<Utc>) -> Vec<(String, ContextValue)> {
    let single = |value: &str| ContextValue::single(value.to_owned());
    let mut keys = Vec::new();
    // A user session is the user: the model says who it is; the session adds when and how.
    if claims.is_role_session() {
        keys.extend([
            ("aws:PrincipalArn".to_owned(), single(&claims.issuer_arn)),
            ("aws:PrincipalType".to_owned(), single("AssumedRole")),
            ("aws:userid".to_owned(), single(&claims.user_id())),
        ]);
    }
    if claims.kind == SessionKind::FederatedUser {
        keys.extend([
            ("aws:PrincipalArn".to_owned(), single(&claims.principal_arn)),
            ("aws:PrincipalType".to_owned(), single("FederatedUser")),
            ("aws:userid".to_owned(), single(&claims.user_id())),
        ]);
        for tag in &claims.tags {
            keys.push((format!("aws:PrincipalTag/{}", tag.key()), single(tag.value())));
        }
    }
    keys.extend([
        (
            "aws:TokenIssueTime".to_owned(),
            // To the millisecond, so a revocation (`DateLessThan` on this key) a moment after a
            // session was issued still tells the two apart.
            single(&claims.issued_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        ),
        (
            "aws:MultiFactorAuthPresent".to_owned(),
            single(if claims.mfa_authenticated { "true" } else { "false" }),
        ),
    ]);
    if claims.mfa_authenticated {
        let age = (now - claims.issued_at).num_seconds().max(0);
        keys.push(("aws:MultiFactorAuthAge".to_owned(), single(&age.to_string())));
    }
    if let Some(source_identity) = &claims.source_identity {
        keys.push(("aws:SourceIdentity".to_owned(), single(source_identity)));
    }
    if !claims.is_role_session() {
        return keys;
    }
    let role_name = IamArn::parse(&claims.issuer_arn)
        .ok()
        .and_then(|arn| arn.name().map(|n| n.as_str().to_owned()));
    let role_tags = role_name.and_then(|name| state.role(&name).map(|r| r.tags.clone()));
    for tag in role_tags.iter().flatten().chain(&claims.tags) {
        keys.push((format!("aws:PrincipalTag/{}", tag.key()), single(tag.value())));
    }
    keys
}

/// CloudTrail's `userIdentity` of a session: `AssumedRole` with its `sessionContext` for a role
/// session; for a user session the user's own identity, with the session's attributes.
#[must_use]
pub fn session_identity(state: &AccountState, claims: &SessionClaims) -> UserIdentity {
    if claims.kind == SessionKind::FederatedUser {
        let issuer = user_identity(state, &claims.issuer_arn, None);
        return UserIdentity {
            identity_type: "FederatedUser".into(),
            principal_id: claims.user_id(),
            arn: claims.principal_arn.clone(),
            account_id: claims.account_id.clone(),
            access_key_id: Some(claims.access_key_id.clone()),
            user_name: None,
            session_context: Some(serde_json::json!({
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": issuer.principal_id,
                    "arn": claims.issuer_arn,
                    "accountId": claims.account_id,
                    "userName": issuer.user_name,
                },
                "attributes": {
                    "creationDate": claims.issued_at,
                    "mfaAuthenticated": "false",
                },
            })),
            identity_provider: None,
        };
    }
    if !claims.is_role_session() {
        let mut identity = user_identity(state, &claims.issuer_arn, Some(&claims.access_key_id));
        identity.session_context = Some(serde_json::json!({
            "attributes": {
                "creationDate": claims.issued_at,
                "mfaAuthenticated": if claims.mfa_authenticated { "true" } else { "false" },
            },
        }));
        return identity;
    }
    let role_name = IamArn::parse(&claims.issuer_arn)
        .ok()
        .and_then(|arn| arn.name().map(|n| n.as_str().to_owned()));
    let mut context = serde_json::json!({
        "sessionIssuer": {
            "type": "Role",
            "principalId": claims.issuer_id,
            "arn": claims.issuer_arn,
            "accountId": claims.account_id,
            "userName": role_name,
        },
        "attributes": {
            "creationDate": claims.issued_at,
            "mfaAuthenticated": if claims.mfa_authenticated { "true" } else { "false" },
        },
    });
    if let (Some(source_identity), Some(object)) = (&claims.source_identity, context.as_object_mut()) {
        object.insert("sourceIdentity".into(), Value::String(source_identity.clone()));
    }
    // A web-identity session says whose token it came from, as CloudTrail's does.
    if let (Some(web), Some(object)) = (&claims.web_identity, context.as_object_mut()) {
        object.insert(
            "webIdFederationData".into(),
            serde_json::json!({
                "federatedProvider": web.provider_arn,
                "attributes": {"sub": web.subject, "aud": web.audience},
            }),
        );
    }
    UserIdentity {
        identity_type: "AssumedRole".into(),
        principal_id: claims.user_id(),
        arn: claims.principal_arn.clone(),
        account_id: claims.account_id.clone(),
        access_key_id: Some(claims.access_key_id.clone()),
        user_name: None,
        session_context: Some(context),
        identity_provider: None,
    }
}

/// CloudTrail's `userIdentity` of `caller`: a role session's, or [`user_identity`].
#[must_use]
pub fn caller_identity(state: &AccountState, caller: &ApiCaller) -> UserIdentity {
    match &caller.session {
        Some(claims) => session_identity(state, claims),
        None => user_identity(state, &caller.principal_arn, caller.access_key_id.as_deref()),
    }
}

/// Whether an access key belongs to the root user.
#[must_use]
pub fn is_root_owner(owner: &AccessKeyOwner) -> bool {
    matches!(owner, AccessKeyOwner::Root)
}

impl Gatehouse {
    /// Decides one access request for `caller`, records it in the audit log and returns it.
    ///
    /// The caller must be allowed [`AUTHORIZE_ACTION`] on the principal's ARN, and the principal
    /// must belong to the caller's account. A refusal is recorded too.
    ///
    /// # Errors
    /// `AccessDenied` (the caller may not ask), `NoSuchEntity` (no such principal),
    /// `InvalidInput` / `MalformedPolicyDocument` (bad context or resource policy), and
    /// `ServiceFailure` when the record cannot be made durable: then no decision is returned.
    pub async fn decide_access(&self, caller: &ApiCaller, request: &AccessRequest) -> Result<AccessDecision, AppError> {
        let mut decisions = self.decide_many(caller, std::slice::from_ref(request)).await?;
        decisions
            .pop()
            .unwrap_or_else(|| Err(AppError::new(ErrorCode::ServiceFailure, "no decision was made")))
    }

    /// Decides several requests at once (one model snapshot, one durable append of all their
    /// records). The outer error means nothing was recorded and nothing may be answered.
    ///
    /// # Errors
    /// `AccessDenied` if the caller's account is gone; `ServiceFailure` if the records cannot
    /// be made durable.
    pub async fn decide_many(
        &self,
        caller: &ApiCaller,
        requests: &[AccessRequest],
    ) -> Result<Vec<Result<AccessDecision, AppError>>, AppError> {
        self.decide_until(caller, requests, |_| false).await
    }

    /// [`Gatehouse::decide_many`] that stops after the first answer for which `stop` holds (the
    /// AuthZEN short-circuit semantics): requests after it are neither decided nor recorded.
    ///
    /// # Errors
    /// As [`Gatehouse::decide_many`].
    pub async fn decide_until(
        &self,
        caller: &ApiCaller,
        requests: &[AccessRequest],
        stop: impl Fn(&Result<AccessDecision, AppError>) -> bool,
    ) -> Result<Vec<Result<AccessDecision, AppError>>, AppError> {
        check_input_sizes(requests)?;
        let now = Utc::now();
        let min_sequence = requests.iter().filter_map(|r| r.min_sequence).max().unwrap_or(0);
        let model = if min_sequence > 0 {
            self.account_at_least(&caller.account_id, min_sequence).await?
        } else {
            self.account(&caller.account_id)
                .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?
        };
        let min_org_sequence = requests.iter().filter_map(|r| r.min_org_sequence).max().unwrap_or(0);
        if min_org_sequence > 0 {
            // The token is a sequence of the caller's organization; a resource owner in another
            // organization has no token here, so its organization is brought to the log's head.
            self.organization_at_token(&caller.account_id, min_org_sequence).await?;
            let own = self.organization_of(&caller.account_id);
            let owners: BTreeSet<&str> = requests.iter().filter_map(|r| r.resource_owner.as_deref()).collect();
            for owner in owners {
                if self.organization_of(owner) != own {
                    self.organization_current(owner).await?;
                }
            }
        }
        // The caller is the same for the whole batch: its identity and its organization (whose
        // trail holds the records) are worked out once.
        let identity = caller_identity(model.state(), caller);
        let own = self.guardrails_of(&caller.account_id);
        let organization = own.as_ref().map(|g| g.organization_id.as_str());
        let mut records = Vec::with_capacity(requests.len());
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            // The resource's account's guardrails (its RCPs): the principal's own unless another
            // account owns the resource.
            let other_owner = match request.resource_owner.as_deref() {
                Some(owner) if owner != caller.account_id => Some(self.guardrails_of(owner)),
                _ => None,
            };
            let owner = other_owner.as_ref().map_or(own.as_deref(), |owner| owner.as_deref());
            let outcome = decide(self, &model, caller, request, (own.as_deref(), owner), now);
            let event_id = uuid::Uuid::now_v7().to_string();
            // The decided principal came with the outcome; only a refusal looks it up again.
            let refused_principal = match &outcome {
                Ok(_) => None,
                Err(_) => model.principal(&request.principal_arn),
            };
            let principal = match &outcome {
                Ok((_, _, principal)) => Some(principal),
                Err(_) => refused_principal.as_ref(),
            };
            records.push(decision_record::encode(&DecisionFacts {
                caller,
                identity: &identity,
                request,
                verdict: match &outcome {
                    Ok((effect, matched, _)) => Ok((*effect, matched.as_slice())),
                    Err(error) => Err(error),
                },
                policies: principal.map(|p| p.policy_sources().collect()).unwrap_or_default(),
                event_id: &event_id,
                now,
                account_sequence: model.state().version(),
                organization_id: organization,
                organization_sequence: own.as_ref().map(|g| g.organization_sequence),
                resource_organization: owner
                    .filter(|o| Some(o.organization_id.as_str()) != organization)
                    .map(|o| (o.organization_id.as_str(), o.organization_sequence)),
            })?);
            let answer = outcome.map(|(effect, matched, _)| AccessDecision {
                effect,
                matched,
                event_id,
                sequence: model.state().version(),
            });
            let done = stop(&answer);
            answers.push(answer);
            if done {
                break;
            }
        }
        self.record_encoded(records).await?;
        for answer in &answers {
            match answer {
                Ok(decision) => self.metrics.decided(decision.effect),
                Err(_) => self.metrics.decision_failed(),
            }
        }
        Ok(answers)
    }

    /// Appends audit records durably.
    ///
    /// # Errors
    /// `ServiceFailure` if there is no audit log or it cannot make the records durable.
    pub async fn record(&self, records: Vec<AuditRecord>) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let appended = self.configured_audit()?.append(records).await;
        self.metrics.audit_appended(started.elapsed(), appended.is_ok());
        appended.map_err(not_durable)
    }

    /// Appends audit records already encoded (decisions') durably.
    async fn record_encoded(&self, records: Vec<EncodedRecord>) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let appended = self.configured_audit()?.append_encoded(records).await;
        self.metrics.audit_appended(started.elapsed(), appended.is_ok());
        appended.map_err(not_durable)
    }

    /// Whether the service can answer: its accounts are loaded (they are before it is built) and
    /// its audit log accepts appends.
    ///
    /// # Errors
    /// `ServiceFailure` saying why not.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.configured_audit()?.ready().await.map_err(|e| {
            AppError::new(
                ErrorCode::ServiceFailure,
                format!("the audit log does not accept appends: {e}"),
            )
        })
    }

    fn configured_audit(&self) -> Result<&Arc<dyn iam_audit::AuditLog>, AppError> {
        self.audit
            .as_ref()
            .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "no audit log is configured"))
    }

    /// The audit log, for queries.
    #[must_use]
    pub fn audit_log(&self) -> Option<&Arc<dyn iam_audit::AuditLog>> {
        self.audit.as_ref()
    }
}

fn not_durable(error: iam_audit::AuditError) -> AppError {
    AppError::new(
        ErrorCode::ServiceFailure,
        format!("the audit record could not be made durable, so the request was not answered: {error}"),
    )
}

/// A decision with the principal it was made for (whose policies the audit record lists).
type Outcome = Result<(DecisionEffect, Vec<MatchedStatement>, Arc<CompiledPrincipal>), AppError>;

/// The organizations' part of a decision: the guardrails of the principal's account and of the
/// resource's account (`None` outside any organization).
pub type OrgGuardrails<'a> = (Option<&'a AccountGuardrails>, Option<&'a AccountGuardrails>);

fn decide(
    gatehouse: &Gatehouse,
    model: &AccountModel,
    caller: &ApiCaller,
    request: &AccessRequest,
    guardrails: OrgGuardrails<'_>,
    now: DateTime<Utc>,
) -> Outcome {
    // May the caller ask about this principal at all?
    gatehouse.authorize_action(model, caller, AUTHORIZE_ACTION, &request.principal_arn, &[], now)?;
    evaluate_access(model, &caller.account_id, request, guardrails, now)
}

/// The decision itself, on a given model and given guardrails at a given instant: what the
/// decision API answers and what a replay recomputes (on the state the record names).
pub(crate) fn evaluate_access(
    model: &AccountModel,
    account_id: &str,
    request: &AccessRequest,
    (own, owner): OrgGuardrails<'_>,
    now: DateTime<Utc>,
) -> Outcome {
    // No ARN or action name holds a control character; refusing them here keeps them out of
    // every index the records are found by.
    if [&request.action, &request.resource, &request.principal_arn]
        .iter()
        .any(|text| text.chars().any(char::is_control))
    {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            "the action, resource and principal may not contain control characters",
        ));
    }
    if request.action.is_empty() || !request.action.contains(':') {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            format!("action {:?} is not of the form service:Action", request.action),
        ));
    }
    let principal = model.principal(&request.principal_arn).ok_or_else(|| {
        AppError::new(
            ErrorCode::NoSuchEntity,
            format!(
                "{} is not a user, role or root user of account {account_id}",
                request.principal_arn
            ),
        )
    })?;
    let extra =
        context_from_entries(&request.context).map_err(|e| AppError::new(ErrorCode::InvalidInput, e.to_string()))?;
    let mut context = model.request_context(
        &principal,
        &RequestFacts {
            source_ip: None,
            ..RequestFacts::default()
        },
        now,
    );
    // Keys the application sends (its end user's address, tags of the resource, ...) come last
    // and may not overwrite what Gatehouse knows of the principal.
    for (key, value) in extra.iter() {
        let lower = key.to_ascii_lowercase();
        // Nor what its organizations say of the principal and the resource.
        if lower.starts_with("aws:principal")
            || lower.starts_with("aws:resourceorg")
            || lower == "aws:resourceaccount"
            || lower == "aws:username"
            || lower == "aws:userid"
        {
            continue;
        }
        context.insert(key, value.clone());
    }
    // The policy stored for the resource: a role's trust policy is its resource-based policy.
    let stored_policy = match &request.resource_policy {
        Some(_) => None,
        None => IamArn::parse(&request.resource)
            .ok()
            .filter(|arn| arn.kind() == Some(ResourceKind::Role))
            .and_then(|arn| arn.name().and_then(|name| model.state().role(name.as_str())).cloned())
            .filter(|role| role.arn.to_string() == request.resource)
            .map(|role| role.assume_role_policy_document),
    };
    let resource_policy = match request.resource_policy.as_ref().or(stored_policy.as_ref()) {
        Some(text) => {
            let parsed = iam_policy::parse_policy(text)
                .map_err(|e| AppError::new(ErrorCode::MalformedPolicyDocument, format!("resourcePolicy: {e}")))?;
            let mut set = PolicySet::new();
            let id = if stored_policy.is_some() {
                request.resource.as_str()
            } else {
                "resourcePolicy"
            };
            set.add(PolicySource::new(id, PolicyType::Resource), &parsed)
                .map_err(|e| AppError::new(ErrorCode::MalformedPolicyDocument, format!("resourcePolicy: {e}")))?;
            Some(set)
        }
        None => None,
    };
    // The organizations' keys and guardrails: the principal's account's SCPs, the resource's
    // account's RCPs. A closed account's principals are refused everything.
    let resource_account = request.resource_owner.as_deref().unwrap_or(account_id);
    insert_organization_keys(&mut context, own, owner, resource_account);
    let none = Guardrails::none();
    let mut decision = if own.is_some_and(|g| g.suspended) {
        iam_policy::Decision {
            effect: DecisionEffect::ImplicitDeny,
            matched: Vec::new(),
            guardrails: Default::default(),
            details: iam_policy::DecisionDetails::default(),
        }
    } else {
        authorize_guarded(
            &principal,
            &request.action,
            &request.resource,
            request.resource_owner.as_deref(),
            resource_policy.as_ref(),
            own.map_or(&none, |g| &g.guardrails),
            owner.map_or(&none, |g| &g.guardrails),
            &context,
        )
    };
    // The organization's statements that let it through are part of what it rests on.
    let mut matched = std::mem::take(&mut decision.matched);
    matched.extend(decision.guardrails.iter().cloned());
    Ok((decision.effect, matched, principal))
}
