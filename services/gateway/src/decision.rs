//! The decision endpoints for policy enforcement points: Gatehouse's lean JSON API
//! (`POST /v1/authorize`, `POST /v1/authorize/batch`) and OpenID AuthZEN 1.0's
//! (`POST /access/v1/evaluation`, `POST /access/v1/evaluations`). Both map onto one use case,
//! `Gatehouse::decide_many`, which records every decision before it is answered.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iam_app::access::{
    context_entry, matched_statement_json, AccessDecision, AccessRequest, ApiCaller, MatchedStatementJson,
};
use iam_app::{AppError, Gatehouse};
use iam_policy::simulate::ContextEntry;
use iam_types::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Most requests one batch may carry.
pub const MAX_BATCH: usize = 1_000;

/// A context key in Gatehouse's API: `{key, values, type}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextInput {
    key: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default, rename = "type")]
    key_type: Option<String>,
}

/// `POST /v1/authorize` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeInput {
    principal_arn: String,
    action: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    context: Vec<ContextInput>,
    #[serde(default)]
    resource_policy: Option<String>,
    #[serde(default)]
    resource_owner: Option<String>,
    /// A consistency token: decide on a model at least this fresh.
    #[serde(default)]
    min_sequence: Option<u64>,
    /// An organization consistency token: its guardrails are at least this fresh.
    #[serde(default)]
    org_sequence: Option<u64>,
}

impl From<AuthorizeInput> for AccessRequest {
    fn from(input: AuthorizeInput) -> Self {
        AccessRequest {
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
            min_org_sequence: input.org_sequence,
        }
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
        ErrorCode::NoSuchEntity => StatusCode::NOT_FOUND,
        ErrorCode::ServiceFailure => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An error body in the decision API's shape.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn app_error(error: &AppError) -> Response {
    json_response(status_of(error.code), &error_body(error.code.as_str(), &error.message))
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &error_body(ErrorCode::InvalidInput.as_str(), message),
    )
}

/// One decision as `/v1/authorize` answers it, serialized without building JSON values.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecisionJson<'a> {
    decision: &'static str,
    allowed: bool,
    matched_statements: Vec<MatchedStatementJson<'a>>,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    sequence: u64,
}

fn decision_view(decision: &AccessDecision) -> DecisionJson<'_> {
    DecisionJson {
        decision: decision.decision_name(),
        allowed: decision.effect == iam_policy::DecisionEffect::Allowed,
        matched_statements: decision.matched.iter().map(MatchedStatementJson::from).collect(),
        event_id: &decision.event_id,
        sequence: decision.sequence,
    }
}

fn decision_json(decision: &AccessDecision) -> Value {
    serde_json::to_value(decision_view(decision)).unwrap_or(Value::Null)
}

fn outcome_json(outcome: &Result<AccessDecision, AppError>) -> Value {
    match outcome {
        Ok(decision) => decision_json(decision),
        Err(error) => error_body(error.code.as_str(), &error.message),
    }
}

/// `POST /v1/authorize`.
pub async fn authorize_one(gatehouse: &Gatehouse, caller: &ApiCaller, body: &[u8]) -> Response {
    let input: AuthorizeInput = match serde_json::from_slice(body) {
        Ok(input) => input,
        Err(e) => return bad_request(&format!("the body is not an authorize request: {e}")),
    };
    match gatehouse.decide_access(caller, &input.into()).await {
        Ok(decision) => json_response(StatusCode::OK, &decision_view(&decision)),
        Err(error) => app_error(&error),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchInput {
    requests: Vec<AuthorizeInput>,
}

/// `POST /v1/authorize/batch`: `{"requests": [...]}` to `{"results": [...]}` in order.
pub async fn authorize_batch(gatehouse: &Gatehouse, caller: &ApiCaller, body: &[u8]) -> Response {
    let input: BatchInput = match serde_json::from_slice(body) {
        Ok(input) => input,
        Err(e) => return bad_request(&format!("the body is not a batch authorize request: {e}")),
    };
    if input.requests.len() > MAX_BATCH {
        return json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                ErrorCode::LimitExceeded.as_str(),
                &format!("a batch holds at most {MAX_BATCH} requests"),
            ),
        );
    }
    let requests: Vec<AccessRequest> = input.requests.into_iter().map(Into::into).collect();
    match gatehouse.decide_many(caller, &requests).await {
        Ok(outcomes) => json_response(
            StatusCode::OK,
            &json!({"results": outcomes.iter().map(outcome_json).collect::<Vec<_>>()}),
        ),
        Err(error) => app_error(&error),
    }
}

// --- AuthZEN 1.0 -------------------------------------------------------------------------------

/// AuthZEN's subject, action and resource: an entity with a type, an id and properties.
#[derive(Debug, Clone, Default, Deserialize)]
struct Entity {
    #[serde(default, rename = "type")]
    entity_type: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Evaluation {
    #[serde(default)]
    subject: Option<Entity>,
    #[serde(default)]
    action: Option<Entity>,
    #[serde(default)]
    resource: Option<Entity>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
}

/// A JSON value as a typed context entry (`string`, `numeric`, `boolean` or their lists).
fn json_context_entry(key: &str, value: &Value) -> Option<ContextEntry> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some((s.clone(), "string")),
        Value::Number(n) => Some((n.to_string(), "numeric")),
        Value::Bool(b) => Some((b.to_string(), "boolean")),
        _ => None,
    };
    let (values, key_type) = match value {
        Value::Array(items) => {
            let scalars: Vec<(String, &str)> = items.iter().filter_map(scalar).collect();
            let key_type = format!("{}List", scalars.first().map_or("string", |(_, t)| *t));
            (scalars.into_iter().map(|(v, _)| v).collect(), key_type)
        }
        other => {
            let (v, t) = scalar(other)?;
            (vec![v], t.to_owned())
        }
    };
    Some(ContextEntry {
        context_key_name: key.to_owned(),
        context_key_values: values,
        context_key_type: key_type,
    })
}

/// Maps an AuthZEN evaluation onto an access request. The subject's `id` is a principal ARN (or,
/// with `type` `user`/`role`, a name in the caller's account); the action's `name` is the IAM
/// action; the resource's `id` is the resource ARN; `context` and the resource's properties
/// become condition keys, and a resource property `policy` is its resource-based policy.
fn access_request(caller: &ApiCaller, evaluation: &Evaluation) -> Result<AccessRequest, String> {
    let subject = evaluation.subject.as_ref().ok_or("an evaluation needs a subject")?;
    let subject_id = subject.id.as_deref().ok_or("the subject needs an id")?;
    let principal_arn = if subject_id.starts_with("arn:") {
        subject_id.to_owned()
    } else {
        match subject.entity_type.as_deref() {
            Some("role") => format!("arn:aws:iam::{}:role/{subject_id}", caller.account_id),
            _ => format!("arn:aws:iam::{}:user/{subject_id}", caller.account_id),
        }
    };
    let action = evaluation
        .action
        .as_ref()
        .and_then(|a| a.name.clone())
        .ok_or("an evaluation needs an action with a name")?;
    let resource = evaluation.resource.clone().unwrap_or_default();
    let mut context: Vec<ContextEntry> = Vec::new();
    for (key, value) in evaluation.context.iter().flatten() {
        context.extend(json_context_entry(key, value));
    }
    let mut resource_policy = None;
    for (key, value) in &resource.properties {
        if key == "policy" {
            resource_policy = Some(match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
        } else {
            context.extend(json_context_entry(key, value));
        }
    }
    Ok(AccessRequest {
        principal_arn,
        action,
        resource: resource.id.unwrap_or_else(|| "*".into()),
        context,
        resource_policy,
        resource_owner: None,
        min_sequence: None,
        min_org_sequence: None,
    })
}

fn authzen_result(outcome: &Result<AccessDecision, AppError>) -> Value {
    match outcome {
        Ok(decision) => json!({
            "decision": decision.effect == iam_policy::DecisionEffect::Allowed,
            "context": {
                "id": decision.event_id,
                "reason_admin": {"decision": decision.decision_name(),
                    "matchedStatements": decision.matched.iter().map(matched_statement_json).collect::<Vec<_>>()},
            }
        }),
        Err(error) => json!({
            "decision": false,
            "context": {"error": {"status": status_of(error.code).as_u16(), "code": error.code.as_str(), "message": error.message}}
        }),
    }
}

/// `POST /access/v1/evaluation`.
pub async fn authzen_evaluation(gatehouse: &Gatehouse, caller: &ApiCaller, body: &[u8]) -> Response {
    let evaluation: Evaluation = match serde_json::from_slice(body) {
        Ok(evaluation) => evaluation,
        Err(e) => return bad_request(&format!("the body is not an AuthZEN evaluation request: {e}")),
    };
    let request = match access_request(caller, &evaluation) {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    match gatehouse.decide_many(caller, &[request]).await {
        Ok(outcomes) => match outcomes.first() {
            Some(Err(error)) if error.code == ErrorCode::AccessDenied => app_error(error),
            Some(outcome) => json_response(StatusCode::OK, &authzen_result(outcome)),
            None => json_response(StatusCode::OK, &json!({"decision": false})),
        },
        Err(error) => app_error(&error),
    }
}

#[derive(Deserialize)]
struct Evaluations {
    #[serde(flatten)]
    defaults: Evaluation,
    #[serde(default)]
    evaluations: Vec<Evaluation>,
    #[serde(default)]
    options: Map<String, Value>,
}

/// `POST /access/v1/evaluations`: top-level subject/action/resource/context are defaults each
/// evaluation may override; `options.evaluations_semantic` is `execute_all` (default),
/// `deny_on_first_deny` or `permit_on_first_permit`.
pub async fn authzen_evaluations(gatehouse: &Gatehouse, caller: &ApiCaller, body: &[u8]) -> Response {
    let batch: Evaluations = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(e) => return bad_request(&format!("the body is not an AuthZEN evaluations request: {e}")),
    };
    let items = if batch.evaluations.is_empty() {
        vec![Evaluation::default()]
    } else {
        batch.evaluations
    };
    if items.len() > MAX_BATCH {
        return bad_request(&format!("a batch holds at most {MAX_BATCH} evaluations"));
    }
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        let merged = Evaluation {
            subject: item.subject.or_else(|| batch.defaults.subject.clone()),
            action: item.action.or_else(|| batch.defaults.action.clone()),
            resource: item.resource.or_else(|| batch.defaults.resource.clone()),
            context: item.context.or_else(|| batch.defaults.context.clone()),
        };
        match access_request(caller, &merged) {
            Ok(request) => requests.push(request),
            Err(message) => return bad_request(&message),
        }
    }
    let semantic = batch
        .options
        .get("evaluations_semantic")
        .and_then(Value::as_str)
        .unwrap_or("execute_all");
    let stop_on: Option<bool> = match semantic {
        "execute_all" => None,
        "deny_on_first_deny" => Some(false),
        "permit_on_first_permit" => Some(true),
        other => return bad_request(&format!("unknown evaluations_semantic {other:?}")),
    };
    // Evaluations after the one that decides the batch are neither made nor recorded.
    let allowed = |outcome: &Result<AccessDecision, AppError>| {
        outcome
            .as_ref()
            .is_ok_and(|d| d.effect == iam_policy::DecisionEffect::Allowed)
    };
    let outcomes = match gatehouse
        .decide_until(caller, &requests, |outcome| stop_on == Some(allowed(outcome)))
        .await
    {
        Ok(outcomes) => outcomes,
        Err(error) => return app_error(&error),
    };
    let results: Vec<Value> = outcomes.iter().map(authzen_result).collect();
    json_response(StatusCode::OK, &json!({"evaluations": results}))
}
