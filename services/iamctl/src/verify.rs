//! `iamctl audit verify-replay`: replays every audited decision of a time range at `RECORDED`
//! (the `auditReplayCheck` query, page by page) and reports each record the replay disagrees
//! with. Exit code 1 when any does: the history is then not a faithful account of its decisions.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::client::{interpret_response, request_body, send, signed_request, ClientError, Endpoint, DEFAULT_ENDPOINT};
use crate::credentials;

/// Arguments of `iamctl audit verify-replay`.
#[derive(Debug, clap::Args)]
pub struct VerifyReplayArgs {
    /// Base URL of the gateway.
    #[arg(long, env = "GATEHOUSE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Decisions at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Decisions before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// Another account of the caller's organization (for its management account or a delegated
    /// administrator).
    #[arg(long)]
    pub account_id: Option<String>,
    /// Profile of the shared credentials and config files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Signing region.
    #[arg(long)]
    pub region: Option<String>,
}

const PAGE: &str = "query($account: String, $from: DateTime, $to: DateTime, $after: String) {
  auditReplayCheck(accountId: $account, from: $from, to: $to, after: $after, first: 5000) {
    checked matched inexact skipped nextCursor
    mismatches { eventID eventTime replay { decision recordedDecision statementsAdded statementsRemoved } }
  }
}";

/// What the check found over the whole range.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    pub(crate) report: Value,
    pub(crate) faithful: bool,
}

/// Runs the check over the range; the report is JSON (`checked`, `matched`, `inexact`,
/// `skipped`, `mismatches`).
pub(crate) fn verify_replay(
    args: &VerifyReplayArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Verified, ClientError> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let resolved = credentials::resolve(env, args.profile.as_deref(), args.region.as_deref())?;
    let (mut checked, mut matched, mut inexact, mut skipped) = (0, 0, 0, 0);
    let mut mismatches: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let variables =
            json!({"account": args.account_id, "from": args.from, "to": args.to, "after": after}).to_string();
        let body = request_body(PAGE, Some(&variables))?;
        let request = signed_request(&endpoint, body, &resolved, Utc::now())?;
        let (status, text) = send(&endpoint, &request)?;
        interpret_response(status, &text)?;
        let page: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let check = &page["data"]["auditReplayCheck"];
        let count = |key: &str| check[key].as_u64().unwrap_or(0);
        checked += count("checked");
        matched += count("matched");
        inexact += count("inexact");
        skipped += count("skipped");
        mismatches.extend(check["mismatches"].as_array().cloned().unwrap_or_default());
        match check["nextCursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let faithful = mismatches.is_empty();
    Ok(Verified {
        report: json!({
            "checked": checked,
            "matched": matched,
            "inexact": inexact,
            "skipped": skipped,
            "mismatches": mismatches,
        }),
        faithful,
    })
}
