//! `iamctl audit-export`: a time range of the account's audit history as a CloudTrail log file
//! (`{"Records": [...]}`, oldest first), paged through the `auditEvents` query.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::client::{interpret_response, request_body, send, signed_request, ClientError, Endpoint, DEFAULT_ENDPOINT};
use crate::credentials;

/// Arguments of `iamctl audit-export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Base URL of the gateway.
    #[arg(long, env = "GATEHOUSE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Records at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Records before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// Only records of this principal.
    #[arg(long)]
    pub principal_arn: Option<String>,
    /// Profile of the shared credentials and config files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Signing region.
    #[arg(long)]
    pub region: Option<String>,
}

const PAGE: &str = "query($account: String, $f: AuditEventFilter, $after: String) {
  auditEvents(accountId: $account, filter: $f, first: 1000, after: $after) {
    edges { cursor node { cloudTrailRecord } }
    pageInfo { hasNextPage }
  }
}";

/// Fetches every matching record and renders the CloudTrail log file.
pub(crate) fn export(args: &ExportArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ClientError> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let resolved = credentials::resolve(env, args.profile.as_deref(), args.region.as_deref())?;
    let filter = json!({"from": args.from, "to": args.to, "principalArn": args.principal_arn});
    let records = records_oldest_first(&endpoint, &resolved, None, &filter)?;
    Ok(serde_json::to_string_pretty(&json!({ "Records": records })).unwrap_or_default())
}

/// Every record of the history (of `account`, when given) that `filter` (an `AuditEventFilter`)
/// selects, as CloudTrail JSON, oldest first: `auditEvents` paged through.
pub(crate) fn records_oldest_first(
    endpoint: &Endpoint,
    resolved: &credentials::Resolved,
    account: Option<&str>,
    filter: &Value,
) -> Result<Vec<Value>, ClientError> {
    let mut after: Option<String> = None;
    let mut records: Vec<Value> = Vec::new();
    loop {
        let variables = json!({"account": account, "f": filter, "after": after}).to_string();
        let body = request_body(PAGE, Some(&variables))?;
        let request = signed_request(endpoint, body, resolved, Utc::now())?;
        let (status, text) = send(endpoint, &request)?;
        interpret_response(status, &text)?;
        let page: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let connection = &page["data"]["auditEvents"];
        let edges = connection["edges"].as_array().cloned().unwrap_or_default();
        records.extend(edges.iter().map(|edge| edge["node"]["cloudTrailRecord"].clone()));
        match (connection["pageInfo"]["hasNextPage"].as_bool(), edges.last()) {
            (Some(true), Some(last)) => after = last["cursor"].as_str().map(str::to_owned),
            _ => break,
        }
    }
    records.reverse();
    Ok(records)
}
