//! The console's policies: the list of the account's customer managed policies and the policy
//! editor. The editor shows the document with line numbers and, next to the lines they name, the
//! findings of `validate-policy` (checked here, as `iamctl validate-policy` does: a pure function
//! of the text); its simulator decides one request against the draft (`simulateCustomPolicy`) and
//! marks the statements that decided it; before a change to an existing policy is saved, its
//! impact on recent audited decisions is previewed (`previewChange`). Saving is `createPolicy`, or
//! `createPolicyVersion` as the new default.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_policy::validate::{validate_policy, PolicyKind};
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{self, Frame, Notice};
use super::{csrf_holds, csrf_refused, page, run, signed_in, Signed};
use crate::Gateway;

/// The largest document the editor takes (AWS's managed policy limit).
const MAX_DOCUMENT: usize = 6_144;

const POLICIES: &str = "query($scope: PolicyScope!, $prefix: String, $after: String, $first: Int) {
  policies(scope: $scope, pathPrefix: $prefix, after: $after, first: $first) {
    nodes { policyName arn defaultVersionId attachmentCount updateDate }
    pageInfo { hasNextPage endCursor }
  }
}";

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    after: Option<String>,
    /// Part of the name, any case.
    #[serde(default)]
    search: String,
    #[serde(default)]
    path_prefix: String,
    /// `LOCAL` (customer managed, the default), `AWS` or `ALL`.
    #[serde(default)]
    scope: String,
}

pub(super) async fn list(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<ListQuery>) -> Response {
    let scope = match query.scope.as_str() {
        "AWS" => "AWS",
        "ALL" => "ALL",
        _ => "LOCAL",
    };
    let found = super::list_nodes(
        &gateway,
        &signed,
        super::Listing {
            query: POLICIES,
            variables: json!({"scope": scope}),
            field: "policies",
            name_field: "policyName",
            prefix: Some(query.path_prefix.trim()).filter(|p| !p.is_empty()),
            search: &query.search,
            after: query.after.clone(),
        },
    )
    .await
    .map(|(nodes, next)| {
        let rows = nodes
            .iter()
            .map(|p| pages::PolicyRow {
                name: p["policyName"].as_str().unwrap_or_default().to_owned(),
                arn: p["arn"].as_str().unwrap_or_default().to_owned(),
                version: p["defaultVersionId"].as_str().unwrap_or_default().to_owned(),
                attachments: p["attachmentCount"].as_i64().unwrap_or(0),
                updated: p["updateDate"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        (rows, next)
    });
    let filters = pages::PolicyFilters {
        search: &query.search,
        path_prefix: &query.path_prefix,
        scope,
    };
    page(StatusCode::OK, pages::policies(&frame(&signed), &filters, found))
}

fn frame(signed: &Signed) -> Frame<'_> {
    signed.frame()
}

#[derive(Deserialize, Default)]
pub(super) struct EditQuery {
    arn: Option<String>,
}

/// The editor, on an existing policy's default version or on a new document.
pub(super) async fn edit(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<EditQuery>) -> Response {
    let mut draft = Draft {
        arn: query.arn.clone().filter(|a| !a.is_empty()),
        name: String::new(),
        document: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"s3:GetObject\",\n      \"Resource\": \"arn:aws:s3:::example-bucket/*\"\n    }\n  ]\n}".into(),
        action: String::new(),
        resource: String::new(),
        user: String::new(),
        context: String::new(),
    };
    let mut outcome = Outcome::default();
    if let Some(arn) = &draft.arn {
        match run(
            &gateway,
            &signed.caller,
            "query($arn: String!) { policy(policyArn: $arn) { policyName defaultVersion { document } } }",
            json!({"arn": arn}),
        )
        .await
        {
            Ok(data) => {
                draft.name = data["policy"]["policyName"].as_str().unwrap_or_default().to_owned();
                if let Some(document) = data["policy"]["defaultVersion"]["document"].as_str() {
                    draft.document = pretty(document);
                }
            }
            Err(refusal) => outcome.notice = Some(Notice::Refused(refusal)),
        }
    }
    render(&signed, draft, outcome)
}

/// A stored document as people edit it: indented, one element a line.
fn pretty(document: &str) -> String {
    serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

/// What the editor holds.
pub(super) struct Draft {
    pub(super) arn: Option<String>,
    pub(super) name: String,
    pub(super) document: String,
    pub(super) action: String,
    pub(super) resource: String,
    /// A user of the account to simulate as (with every policy it has), and to attach the policy to.
    pub(super) user: String,
    /// The request's context, one `key = value[, value...]` a line (`aws:SourceIp = 203.0.113.7`).
    pub(super) context: String,
}

/// What the last button produced.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) notice: Option<Notice>,
    pub(super) simulation: Option<pages::Simulation>,
    pub(super) preview: Option<pages::Preview>,
}

fn render(signed: &Signed, draft: Draft, outcome: Outcome) -> Response {
    let findings = findings_of(&draft.document);
    page(
        StatusCode::OK,
        pages::policy_editor(&frame(signed), &draft, &findings, &outcome),
    )
}

/// The findings of `validate-policy`, each with the line it names (a document that does not
/// parse is one finding, at the place the parser stopped).
fn findings_of(document: &str) -> Vec<pages::FindingRow> {
    if let Err(error) = iam_policy::parse_policy(document) {
        return vec![pages::FindingRow {
            line: None,
            kind: "ERROR".into(),
            code: error.aws_code().to_owned(),
            details: error.to_string(),
        }];
    }
    validate_policy(document, PolicyKind::Identity)
        .into_iter()
        .map(|finding| pages::FindingRow {
            line: finding.locations.first().map(|l| l.span.start.line),
            kind: format!("{:?}", finding.finding_type).to_uppercase(),
            code: finding.issue_code,
            details: finding.finding_details,
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct ValidateForm {
    #[serde(default)]
    csrf: String,
    document: String,
}

/// `validate-policy` on a draft, for the editor's findings as one types (`console.js`):
/// `{"findings": [{"line", "kind", "code", "details"}]}`. Needs the session and its CSRF token
/// like any form, though it changes nothing.
pub(super) async fn validate(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ValidateForm>,
) -> Response {
    use axum::response::IntoResponse;
    let Some(signed) = signed_in(&gateway, &headers, peer) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !csrf_holds(&signed, &form.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if form.document.len() > MAX_DOCUMENT {
        return axum::Json(
            json!({"findings": [{"line": null, "kind": "ERROR", "code": "LimitExceeded",
            "details": format!("the document is longer than {MAX_DOCUMENT} characters")}]}),
        )
        .into_response();
    }
    let findings: Vec<Value> = findings_of(&form.document.replace("\r\n", "\n"))
        .into_iter()
        .map(|f| json!({"line": f.line, "kind": f.kind, "code": f.code, "details": f.details}))
        .collect();
    axum::Json(json!({ "findings": findings })).into_response()
}

#[derive(Deserialize)]
pub(super) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    arn: String,
    #[serde(default)]
    name: String,
    document: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    context: String,
    /// `check`, `simulate`, `preview`, `save` or `attach`.
    intent: String,
}

pub(super) async fn submit(State(gateway): State<Gateway>, signed: Signed, Form(form): Form<EditForm>) -> Response {
    if !csrf_holds(&signed, &form.csrf) {
        return csrf_refused();
    }
    let mut draft = Draft {
        arn: Some(form.arn.trim().to_owned()).filter(|a| !a.is_empty()),
        name: form.name.trim().to_owned(),
        document: form.document.replace("\r\n", "\n"),
        action: form.action.trim().to_owned(),
        resource: form.resource.trim().to_owned(),
        user: form.user.trim().to_owned(),
        context: form.context,
    };
    let mut outcome = Outcome::default();
    if draft.document.len() > MAX_DOCUMENT {
        outcome.notice = Some(Notice::Refused(format!(
            "LimitExceeded: the document is {} characters; a managed policy holds {MAX_DOCUMENT} at most",
            draft.document.len()
        )));
        return render(&signed, draft, outcome);
    }
    match form.intent.as_str() {
        "simulate" => outcome.simulation = Some(simulate(&gateway, &signed, &draft).await),
        "preview" => match &draft.arn {
            Some(arn) => outcome.preview = Some(preview(&gateway, &signed, arn, &draft.document).await),
            None => {
                outcome.notice = Some(Notice::Refused(
                    "A new policy is attached to no one yet: there is nothing to preview.".into(),
                ))
            }
        },
        "delete" => {
            let deleted = match &draft.arn {
                Some(arn) => {
                    run(
                        &gateway,
                        &signed.caller,
                        "mutation($arn: String!) { deletePolicy(policyArn: $arn) { sequence } }",
                        json!({"arn": arn}),
                    )
                    .await
                }
                None => Err("InvalidInput: a new policy is not saved yet".to_owned()),
            };
            match deleted {
                Ok(_) => return axum::response::Redirect::to("/console/policies").into_response(),
                Err(refusal) => outcome.notice = Some(Notice::Refused(refusal)),
            }
        }
        "attach" => {
            let attached = match (&draft.arn, draft.user.is_empty()) {
                (Some(arn), false) => run(
                    &gateway,
                    &signed.caller,
                    "mutation($u: String!, $arn: String!) { attachUserPolicy(input: {userName: $u, policyArn: $arn}) { sequence } }",
                    json!({"u": draft.user, "arn": arn}),
                )
                .await
                .map(|_| format!("Attached to user {}.", draft.user)),
                _ => Err("Save the policy, then name the user to attach it to.".to_owned()),
            };
            outcome.notice = Some(match attached {
                Ok(text) => Notice::Done(text),
                Err(refusal) => Notice::Refused(refusal),
            });
        }
        "save" => {
            let saved = match &draft.arn {
                Some(arn) => run(
                    &gateway,
                    &signed.caller,
                    "mutation($arn: String!, $d: String!) { createPolicyVersion(input: {policyArn: $arn, policyDocument: $d, setAsDefault: true}) { policyVersion { versionId } } }",
                    json!({"arn": arn, "d": draft.document}),
                )
                .await
                .map(|data| format!("Saved as version {}, now the default.", data["createPolicyVersion"]["policyVersion"]["versionId"].as_str().unwrap_or("?"))),
                None => run(
                    &gateway,
                    &signed.caller,
                    "mutation($n: String!, $d: String!) { createPolicy(input: {policyName: $n, policyDocument: $d}) { policy { arn } } }",
                    json!({"n": draft.name, "d": draft.document}),
                )
                .await
                .map(|data| {
                    let arn = data["createPolicy"]["policy"]["arn"].as_str().unwrap_or("?").to_owned();
                    let text = format!("Policy created: {arn}.");
                    // The editor goes on with the saved policy.
                    draft.arn = Some(arn);
                    text
                }),
            };
            outcome.notice = Some(match saved {
                Ok(text) => Notice::Done(text),
                Err(refusal) => Notice::Refused(refusal),
            });
        }
        _ => {}
    }
    render(&signed, draft, outcome)
}

/// The simulator's context lines as the API's context entries: `key = value[, value...]`; the
/// type is read from the values (an address, a date, a number, a boolean), else a string.
fn context_entries(text: &str) -> Result<Vec<Value>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(50)
        .map(|line| {
            let (key, values) = line
                .split_once('=')
                .ok_or_else(|| format!("InvalidInput: context line {line:?} is not `key = value`"))?;
            let values: Vec<&str> = values.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
            let kind = match values.first() {
                Some(v)
                    if v.parse::<std::net::IpAddr>().is_ok()
                        || v.contains('/')
                            && v.split('/')
                                .next()
                                .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok()) =>
                {
                    "ip"
                }
                Some(v) if chrono::DateTime::parse_from_rfc3339(v).is_ok() => "date",
                Some(v) if v.parse::<f64>().is_ok() => "numeric",
                Some(v) if *v == "true" || *v == "false" => "boolean",
                _ => "string",
            };
            let kind = if values.len() > 1 {
                format!("{kind}List")
            } else {
                kind.to_owned()
            };
            Ok(json!({"contextKeyName": key.trim(), "contextKeyValues": values, "contextKeyType": kind}))
        })
        .collect()
}

async fn simulate(gateway: &Gateway, signed: &Signed, draft: &Draft) -> pages::Simulation {
    if draft.action.is_empty() {
        return pages::Simulation::Refused("Name an action to simulate (e.g. s3:GetObject).".into());
    }
    let context = match context_entries(&draft.context) {
        Ok(entries) => entries,
        Err(message) => return pages::Simulation::Refused(message),
    };
    let resource = if draft.resource.is_empty() {
        "*"
    } else {
        draft.resource.as_str()
    };
    if !draft.user.is_empty() {
        // As the user is now: every policy it has, the saved ones, not the draft.
        let arn = format!("arn:aws:iam::{}:user/{}", signed.caller.account_id, draft.user);
        let answer = run(
            gateway,
            &signed.caller,
            "query($p: String!, $a: String!, $r: String!, $c: [SimulationContextEntry!]!) { simulatePrincipalPolicy(input: {policySourceArn: $p, actionNames: [$a], resourceArns: [$r], contextEntries: $c}) { evaluationResults { evalDecision } } }",
            json!({"p": arn, "a": draft.action, "r": resource, "c": context}),
        )
        .await;
        return match answer {
            Ok(data) => pages::Simulation::Decided {
                decision: format!(
                    "{} (as user {})",
                    data["simulatePrincipalPolicy"]["evaluationResults"][0]["evalDecision"]
                        .as_str()
                        .unwrap_or("?"),
                    draft.user
                ),
                lines: Vec::new(),
            },
            Err(refusal) => pages::Simulation::Refused(refusal),
        };
    }
    let answer = run(
        gateway,
        &signed.caller,
        "query($d: String!, $a: String!, $r: String!, $c: [SimulationContextEntry!]!) { simulateCustomPolicy(input: {policyInputList: [$d], actionNames: [$a], resourceArns: [$r], contextEntries: $c}) { evaluationResults { evalDecision evaluationResult } } }",
        json!({"d": draft.document, "a": draft.action, "r": resource, "c": context}),
    )
    .await;
    match answer {
        Ok(data) => {
            let result = &data["simulateCustomPolicy"]["evaluationResults"][0];
            let lines = result["evaluationResult"]["MatchedStatements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let start = m["StartPosition"]["Line"].as_u64()?;
                    let end = m["EndPosition"]["Line"].as_u64().unwrap_or(start);
                    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
                })
                .collect();
            pages::Simulation::Decided {
                decision: result["evalDecision"].as_str().unwrap_or("?").to_owned(),
                lines,
            }
        }
        Err(refusal) => pages::Simulation::Refused(refusal),
    }
}

async fn preview(gateway: &Gateway, signed: &Signed, arn: &str, document: &str) -> pages::Preview {
    let answer = run(
        gateway,
        &signed.caller,
        "query($arn: String!, $d: String!) { previewChange(changes: [{createPolicyVersion: {policyArn: $arn, policyDocument: $d}}]) {
            decisions allowToDeny denyToAllow groups { principalArn action resource flip count } } }",
        json!({"arn": arn, "d": document}),
    )
    .await;
    match answer {
        Ok(data) => {
            let p = &data["previewChange"];
            pages::Preview::Flips {
                decisions: p["decisions"].as_i64().unwrap_or(0),
                allow_to_deny: p["allowToDeny"].as_i64().unwrap_or(0),
                deny_to_allow: p["denyToAllow"].as_i64().unwrap_or(0),
                groups: p["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|g| {
                        let text = |k: &str| g[k].as_str().unwrap_or_default().to_owned();
                        (
                            text("principalArn"),
                            text("action"),
                            text("resource"),
                            text("flip"),
                            g["count"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect(),
            }
        }
        Err(refusal) => pages::Preview::Refused(refusal),
    }
}
