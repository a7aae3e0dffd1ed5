//! Decisions replayed: an audited decision re-evaluated on the state of a chosen point, with the
//! request it recorded (principal, action, resource, context, resource policy and owner) and at
//! the instant of that point.
//!
//! At [`ReplayPoint::Recorded`] the state is exactly the one the decision was made on: the
//! account at the record's `accountSequence` and its organization (and the resource owner's) at
//! the recorded organization sequences, rebuilt from the log ([`crate::history`]); the clock is
//! the record's `eventTime`. The same evaluation code as the decision API then has to give the
//! same decision and the same statements: a difference means the record is not faithful (or the
//! evaluator changed), which `iamctl audit verify-replay` reports.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_audit::{AuditRecord, EVENT_SOURCE_AUTHZ};
use iam_authz::AccountModel;
use iam_policy::{DecisionEffect, MatchedStatement};
use iam_types::ErrorCode;
use serde_json::Value;

use crate::access::{
    context_entry, decision_name, evaluate_access, matched_statement_json, AccessRequest, OrgGuardrails,
};
use crate::history::AsOf;
use crate::organizations::OrgModel;
use crate::{AppError, Gatehouse};

/// Where to replay a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayPoint {
    /// On the state and at the instant it was made.
    Recorded,
    /// On the state now, at this instant.
    Now,
    /// On the state at an instant, at that instant.
    At(DateTime<Utc>),
}

/// A replayed decision, beside the recorded one.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The instant the request was evaluated at (`aws:CurrentTime`).
    pub evaluated_at: DateTime<Utc>,
    /// The account's sequence of the state it was evaluated on.
    pub account_sequence: u64,
    /// The principal's organization and its sequence, when the account was a member.
    pub organization: Option<(String, u64)>,
    /// The decision now made, or the refusal (an unknown principal, a malformed policy).
    pub outcome: Result<(DecisionEffect, Vec<MatchedStatement>), AppError>,
    /// The recorded decision (`Allow`, `ImplicitDeny`, `ExplicitDeny`), or the recorded error
    /// code of a refused request.
    pub recorded: String,
    /// `Allow`, ... or the error code, of the replay.
    pub replayed: String,
    /// Statements the replay rests on that the record does not name (CloudTrail's shape).
    pub statements_added: Vec<Value>,
    /// Statements the record names that the replay does not rest on.
    pub statements_removed: Vec<Value>,
    /// Whether the guardrails were found exactly (by recorded sequences) rather than by time
    /// (records written before they carried organization sequences).
    pub exact: bool,
}

impl Replay {
    /// Whether the replay agrees with the record: the same decision on the same statements.
    #[must_use]
    pub fn matches(&self) -> bool {
        self.recorded == self.replayed && self.statements_added.is_empty() && self.statements_removed.is_empty()
    }
}

/// Replays decisions, keeping the models it rebuilt so that decisions made on the same state are
/// replayed without rebuilding it again (a range of records shares a few states).
pub struct Replayer<'a> {
    gatehouse: &'a Gatehouse,
    accounts: HashMap<(String, u64), Arc<AccountModel>>,
    organizations: HashMap<(String, u64), Arc<OrgModel>>,
    evaluator: Evaluator,
}

/// How a replay decides: the decision API's own evaluation, or (to show that the check catches
/// an evaluator that breaks a rule) another.
pub type Evaluator = fn(&AccountModel, &str, &AccessRequest, OrgGuardrails<'_>, DateTime<Utc>) -> Evaluated;

/// A decision and the statements it rests on, or the refusal.
pub type Evaluated = Result<(DecisionEffect, Vec<MatchedStatement>), AppError>;

/// The decision API's evaluation, as a replay's [`Evaluator`].
///
/// # Errors
/// The refusals of the decision API's evaluation (an unknown principal, a malformed policy).
pub fn decision_api_evaluation(
    model: &AccountModel,
    account_id: &str,
    request: &AccessRequest,
    guardrails: OrgGuardrails<'_>,
    now: DateTime<Utc>,
) -> Evaluated {
    evaluate_access(model, account_id, request, guardrails, now).map(|(effect, matched, _)| (effect, matched))
}

/// Models a replayer keeps before it starts over.
const KEPT_MODELS: usize = 64;

impl Gatehouse {
    /// A replayer over this service's log.
    #[must_use]
    pub fn replayer(&self) -> Replayer<'_> {
        Replayer {
            gatehouse: self,
            accounts: HashMap::new(),
            organizations: HashMap::new(),
            evaluator: decision_api_evaluation,
        }
    }
}

impl Replayer<'_> {
    /// The same replayer deciding with `evaluator` instead of the decision API's evaluation: a
    /// test's deliberately broken evaluator must make the check fail.
    #[must_use]
    pub fn with_evaluator(mut self, evaluator: Evaluator) -> Self {
        self.evaluator = evaluator;
        self
    }
}

/// What a decision record asked, and what it was made on.
pub(crate) struct Recorded {
    pub(crate) account_id: String,
    pub(crate) request: AccessRequest,
    pub(crate) event_time: DateTime<Utc>,
    pub(crate) account_sequence: u64,
    pub(crate) organization_id: Option<String>,
    pub(crate) organization_sequence: Option<u64>,
    pub(crate) resource_organization: Option<(String, u64)>,
    pub(crate) outcome: String,
    pub(crate) statements: Vec<Value>,
}

pub(crate) fn recorded(record: &AuditRecord) -> Result<Recorded, AppError> {
    let not_a_decision = || {
        AppError::new(
            ErrorCode::InvalidInput,
            format!("audit record {} is not an access decision", record.event_id),
        )
    };
    if record.event_source != EVENT_SOURCE_AUTHZ {
        return Err(not_a_decision());
    }
    // A caller refused `gatehouse:Authorize` got no decision: there is nothing to replay.
    if record.error_code.as_deref() == Some(ErrorCode::AccessDenied.as_str()) {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            format!(
                "audit record {} is a refused request (the caller may not ask about the principal): no decision was made",
                record.event_id
            ),
        ));
    }
    let parameters = &record.request_parameters;
    let text = |key: &str| parameters.get(key).and_then(Value::as_str).map(str::to_owned);
    let context = parameters
        .get("context")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| {
                    context_entry(
                        entry["key"].as_str().unwrap_or_default().to_owned(),
                        entry["values"]
                            .as_array()
                            .map(|values| values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default(),
                        entry["type"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let request = AccessRequest {
        principal_arn: text("principalArn").ok_or_else(not_a_decision)?,
        action: text("action").ok_or_else(not_a_decision)?,
        resource: text("resource").ok_or_else(not_a_decision)?,
        context,
        resource_policy: text("resourcePolicy"),
        resource_owner: text("resourceOwner"),
        ..AccessRequest::default()
    };
    let detail = record.additional_event_data.clone().unwrap_or(Value::Null);
    let number = |key: &str| detail.get(key).and_then(Value::as_u64);
    let outcome = match (&record.error_code, detail.get("decision").and_then(Value::as_str)) {
        (Some(code), _) => code.clone(),
        (None, Some(decision)) => decision.to_owned(),
        (None, None) => return Err(not_a_decision()),
    };
    Ok(Recorded {
        account_id: record.recipient_account_id.clone(),
        request,
        event_time: record.event_time,
        account_sequence: number("accountSequence").ok_or_else(not_a_decision)?,
        organization_id: detail
            .get(iam_audit::ORGANIZATION_ID_KEY)
            .and_then(Value::as_str)
            .map(str::to_owned),
        organization_sequence: number("organizationSequence"),
        resource_organization: detail
            .get("resourceOrganizationId")
            .and_then(Value::as_str)
            .zip(number("resourceOrganizationSequence"))
            .map(|(id, sequence)| (id.to_owned(), sequence)),
        outcome,
        statements: detail
            .get("matchedStatements")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    })
}

impl Replayer<'_> {
    /// Replays one decision record at `point`.
    ///
    /// # Errors
    /// `InvalidInput` for a record that is not a decision (or a request refused before any
    /// decision); the errors of [`Gatehouse::account_state_at`] for a point the account's log does
    /// not have (`NoSuchEntity` before the account existed, `InvalidInput` in the future).
    pub async fn replay(&mut self, record: &AuditRecord, point: ReplayPoint) -> Result<Replay, AppError> {
        let asked = recorded(record)?;
        let account = asked.account_id.as_str();
        let (model, evaluated_at) = match point {
            ReplayPoint::Recorded => (
                self.account_model(account, AsOf::Sequence(asked.account_sequence))
                    .await?,
                asked.event_time,
            ),
            ReplayPoint::Now => {
                let model = self.gatehouse.account(account).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::NoSuchEntity,
                        format!("The account {account} does not exist."),
                    )
                })?;
                (model, Utc::now())
            }
            ReplayPoint::At(at) => (self.account_model(account, AsOf::Time(at)).await?, at),
        };
        let owner_account = asked.request.resource_owner.clone().filter(|owner| owner != account);
        let mut exact = true;
        let (own, owner) = match point {
            ReplayPoint::Now => {
                let own = self.gatehouse.guardrails_of(account);
                let owner = match &owner_account {
                    Some(owner) => self.gatehouse.guardrails_of(owner),
                    None => own.clone(),
                };
                (own, owner)
            }
            ReplayPoint::Recorded | ReplayPoint::At(_) => {
                let when = match point {
                    ReplayPoint::At(at) => at,
                    _ => asked.event_time,
                };
                let own_org = match (&asked.organization_id, asked.organization_sequence, point) {
                    (Some(id), Some(sequence), ReplayPoint::Recorded) => {
                        Some(self.org_model(id, AsOf::Sequence(sequence)).await?)
                    }
                    (Some(id), _, _) => {
                        exact &= !matches!(point, ReplayPoint::Recorded);
                        self.org_model_at_time(id, when).await?
                    }
                    (None, _, ReplayPoint::At(_)) => match self.gatehouse.organization_of(account) {
                        Some(id) => self.org_model_at_time(&id, when).await?,
                        None => None,
                    },
                    (None, _, _) => None,
                };
                let own = own_org.as_ref().and_then(|org| org.guardrails_of(account));
                let owner = match &owner_account {
                    None => own.clone(),
                    Some(owner) => {
                        let owner_org = match (&asked.resource_organization, point) {
                            (Some((id, sequence)), ReplayPoint::Recorded) => {
                                Some(self.org_model(id, AsOf::Sequence(*sequence)).await?)
                            }
                            (Some((id, _)), _) => self.org_model_at_time(id, when).await?,
                            (None, _) => own_org.clone(),
                        };
                        owner_org.as_ref().and_then(|org| org.guardrails_of(owner))
                    }
                };
                (own, owner)
            }
        };
        let organization = own
            .as_ref()
            .map(|g| (g.organization_id.clone(), g.organization_sequence));
        let outcome = (self.evaluator)(
            &model,
            account,
            &asked.request,
            (own.as_deref(), owner.as_deref()),
            evaluated_at,
        );
        let (replayed, statements) = match &outcome {
            Ok((effect, matched)) => (
                decision_name(*effect).to_owned(),
                matched.iter().map(matched_statement_json).collect::<Vec<_>>(),
            ),
            Err(error) => (error.code.as_str().to_owned(), Vec::new()),
        };
        let statements_added = difference(&statements, &asked.statements);
        let statements_removed = difference(&asked.statements, &statements);
        Ok(Replay {
            evaluated_at,
            account_sequence: model.state().version(),
            organization,
            outcome,
            recorded: asked.outcome,
            replayed,
            statements_added,
            statements_removed,
            exact,
        })
    }

    async fn account_model(&mut self, account: &str, as_of: AsOf) -> Result<Arc<AccountModel>, AppError> {
        let sequence = match as_of {
            AsOf::Sequence(sequence) => sequence,
            AsOf::Time(_) => self.gatehouse.account_sequence_at(account, as_of).await?,
        };
        let key = (account.to_owned(), sequence);
        if let Some(model) = self.accounts.get(&key) {
            return Ok(model.clone());
        }
        let state = self
            .gatehouse
            .account_state_at(account, AsOf::Sequence(sequence))
            .await?;
        let model = Arc::new(AccountModel::new(state));
        if self.accounts.len() >= KEPT_MODELS {
            self.accounts.clear();
        }
        self.accounts.insert(key, model.clone());
        Ok(model)
    }

    async fn org_model(&mut self, organization_id: &str, as_of: AsOf) -> Result<Arc<OrgModel>, AppError> {
        let AsOf::Sequence(sequence) = as_of else {
            return Err(AppError::new(
                ErrorCode::ServiceFailure,
                "an organization is found by sequence",
            ));
        };
        let key = (organization_id.to_owned(), sequence);
        if let Some(model) = self.organizations.get(&key) {
            return Ok(model.clone());
        }
        let state = self.gatehouse.organization_state_at(organization_id, as_of).await?;
        let model = Arc::new(self.gatehouse.detached_org_model(state));
        if self.organizations.len() >= KEPT_MODELS {
            self.organizations.clear();
        }
        self.organizations.insert(key, model.clone());
        Ok(model)
    }

    /// The organization as it was at `at`; `None` if it did not exist yet.
    async fn org_model_at_time(
        &mut self,
        organization_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Arc<OrgModel>>, AppError> {
        match self
            .gatehouse
            .organization_sequence_at(organization_id, AsOf::Time(at))
            .await
        {
            Ok(sequence) => Ok(Some(self.org_model(organization_id, AsOf::Sequence(sequence)).await?)),
            Err(e) if e.code == ErrorCode::NoSuchEntity => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The items of `of` not in `minus`, counting repeats.
fn difference(of: &[Value], minus: &[Value]) -> Vec<Value> {
    let mut left: Vec<&Value> = minus.iter().collect();
    let mut out = Vec::new();
    for item in of {
        match left.iter().position(|candidate| *candidate == item) {
            Some(at) => {
                left.swap_remove(at);
            }
            None => out.push(item.clone()),
        }
    }
    out
}
