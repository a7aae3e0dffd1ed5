//! `iamctl audit verify`: checks that an account's live audit history is the one that was
//! written. It reads the account's records in storage order with their chain links
//! (`auditChain`), its signed digests (`auditDigests`) and the signing keys
//! (`auditSigningKeys`), and checks them here, on the client (`iam_audit::integrity`): the
//! first record edited, deleted, inserted or reordered, and the last digest that holds. Exit
//! code 1 when anything is wrong.
//!
//! Trust starts from one key: `--trusted-key` (a key's JSON as the well-known route publishes
//! it, saved when the deployment was set up), or else the first key the server publishes, which
//! the report names so it can be compared with a copy kept elsewhere.

use std::path::PathBuf;

use chrono::Utc;
use iam_audit::integrity::{
    record_hash, verify_chain, verify_events, ChainHash, ChainLink, Digest, PublicKey, StoredRecord, TrustedKeys,
};
use serde_json::{json, Value};

use crate::client::{interpret_response, request_body, send, signed_request, ClientError, Endpoint, DEFAULT_ENDPOINT};
use crate::credentials;

/// Arguments of `iamctl audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyChainArgs {
    /// Base URL of the gateway.
    #[arg(long, env = "GATEHOUSE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Another account of the caller's organization (for its management account or a delegated
    /// administrator); by default the caller's.
    #[arg(long)]
    pub account_id: Option<String>,
    /// The key to trust: a file holding one key's JSON (`{"keyId": ..., "publicKey": ...}`).
    #[arg(long)]
    pub trusted_key: Option<PathBuf>,
    /// A digest kept from earlier (its JSON, as `createAuditDigest` or `auditDigests` gave it):
    /// it must still hold, so a history cut back together with the digests after the cut is
    /// found.
    #[arg(long)]
    pub expect_digest: Option<PathBuf>,
    /// Check an exported set (`iamctl audit export-trail`'s directory) instead of the live
    /// history: no request is made.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Profile of the shared credentials and config files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Signing region.
    #[arg(long)]
    pub region: Option<String>,
}

const CHAIN: &str = "query($account: String, $after: String) {
  auditChain(accountId: $account, after: $after, first: 5000) { records { position sequence hash record } nextCursor }
}";
const DIGESTS: &str = "query($account: String, $after: String) {
  auditDigests(accountId: $account, after: $after, first: 5000) { digests nextCursor } auditSigningKeys
}";
const EVENTS: &str = "query($account: String, $after: String) {
  eventChain(accountId: $account, after: $after, first: 10000) { sequence eventHash }
}";

/// The verdict, as JSON, and whether the history is intact.
pub(crate) struct ChainVerdict {
    pub(crate) report: Value,
    pub(crate) intact: bool,
}

fn malformed(what: &str) -> ClientError {
    failed(format!("the gateway's answer is not what iamctl expects: {what}"))
}

fn failed(summary: String) -> ClientError {
    ClientError::Failed {
        pretty: String::new(),
        summary,
    }
}

/// Every digest of the account, page after page, and the signing keys: `{"auditDigests": [...],
/// "auditSigningKeys": [...]}`, each entry a JSON text as the gateway gives it.
fn signed_material(
    call: &dyn Fn(&str, Value) -> Result<Value, ClientError>,
    account: Option<&str>,
) -> Result<Value, ClientError> {
    let mut digests: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut data = call(DIGESTS, json!({ "account": account, "after": cursor }))?;
        let page = &data["auditDigests"];
        digests.extend(
            page["digests"]
                .as_array()
                .cloned()
                .ok_or_else(|| malformed("auditDigests"))?,
        );
        match page["nextCursor"].as_str().map(str::to_owned) {
            Some(next) => cursor = Some(next),
            None => return Ok(json!({ "auditDigests": digests, "auditSigningKeys": data["auditSigningKeys"].take() })),
        }
    }
}

pub(crate) fn verify_chain_live(
    args: &VerifyChainArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ChainVerdict, ClientError> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let resolved = credentials::resolve(env, args.profile.as_deref(), args.region.as_deref())?;
    let call = |query: &str, variables: Value| -> Result<Value, ClientError> {
        let body = request_body(query, Some(&variables.to_string()))?;
        let request = signed_request(&endpoint, body, &resolved, Utc::now())?;
        let (status, text) = send(&endpoint, &request)?;
        interpret_response(status, &text)?;
        Ok(serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)["data"].take())
    };
    let trusted_key: Option<PublicKey> = match &args.trusted_key {
        Some(path) => {
            let unreadable = |message: String| ClientError::QueryFile {
                path: path.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
            Some(serde_json::from_str(&text).map_err(|e| unreadable(format!("not a signing key: {e}")))?)
        }
        None => None,
    };

    // Digests first: records stored after this read are simply not covered by them.
    let signed = signed_material(&call, args.account_id.as_deref())?;
    let parse_all = |key: &str| -> Result<Vec<Value>, ClientError> {
        signed[key]
            .as_array()
            .ok_or_else(|| malformed(key))?
            .iter()
            .map(|text| serde_json::from_str(text.as_str().unwrap_or_default()).map_err(|_| malformed(key)))
            .collect()
    };
    let digests: Vec<Digest> = parse_all("auditDigests")?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|_| malformed("a digest"))?;
    let published: Vec<PublicKey> = parse_all("auditSigningKeys")?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|_| malformed("a signing key"))?;
    let (anchor, source) = match (trusted_key, published.first()) {
        (Some(key), _) => (key, "--trusted-key"),
        (None, Some(first)) => (first.clone(), "the first key the gateway publishes"),
        (None, None) => {
            return Err(failed(
                "the gateway publishes no audit signing key: its history is not signed".into(),
            ))
        }
    };
    let keys = TrustedKeys::from_anchor(&anchor, &published);
    let mut digests = digests;
    if let Some(path) = &args.expect_digest {
        let unreadable = |message: String| ClientError::QueryFile {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let kept: Digest = serde_json::from_str(&text).map_err(|e| unreadable(format!("not a digest: {e}")))?;
        // Missing from the history: checked as its last digest, which it then must be able to be.
        if !digests.iter().any(|d| d.hash() == kept.hash()) {
            digests.push(kept);
        }
    }

    let mut records: Vec<StoredRecord> = Vec::new();
    let mut account_id: Option<String> = args.account_id.clone();
    let mut after: Option<String> = None;
    loop {
        let data = call(CHAIN, json!({ "account": args.account_id, "after": after }))?;
        let page = &data["auditChain"];
        for record in page["records"]
            .as_array()
            .ok_or_else(|| malformed("auditChain.records"))?
        {
            let text = record["record"].as_str().ok_or_else(|| malformed("a record"))?;
            let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if account_id.is_none() {
                account_id = parsed["recipientAccountId"].as_str().map(str::to_owned);
            }
            let number = |key: &str| record[key].as_str().and_then(|n| n.parse::<u64>().ok());
            let link = match (number("sequence"), record["hash"].as_str()) {
                (Some(sequence), Some(hash)) => Some(ChainLink {
                    sequence,
                    hash: hash.parse::<ChainHash>().map_err(|_| malformed("a chain hash"))?,
                }),
                _ => None,
            };
            records.push(StoredRecord {
                position: number("position").unwrap_or(0),
                event_id: parsed["eventID"].as_str().unwrap_or_default().to_owned(),
                link,
                record_hash: record_hash(text.as_bytes()),
            });
        }
        match page["nextCursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let account_id = account_id
        .or_else(|| digests.first().map(|d| d.body.account_id.clone()))
        .unwrap_or_default();
    let report = verify_chain(&account_id, &records, &digests, &keys);

    // The event log: each event's hash as the log reads it now, against the signed heads.
    let mut events: Vec<(u64, [u8; 32])> = Vec::new();
    loop {
        let after = events.last().map(|(sequence, _)| sequence.to_string());
        let data = call(EVENTS, json!({ "account": args.account_id, "after": after }))?;
        let page = data["eventChain"].as_array().ok_or_else(|| malformed("eventChain"))?;
        for entry in page {
            let sequence = entry["sequence"].as_str().and_then(|s| s.parse().ok());
            let hash = entry["eventHash"].as_str().and_then(|h| h.parse::<ChainHash>().ok());
            match (sequence, hash) {
                (Some(sequence), Some(hash)) => events.push((sequence, hash.0)),
                _ => return Err(malformed("an eventChain entry")),
            }
        }
        if page.len() < 10_000 {
            break;
        }
    }
    let event_report = verify_events(&events, &digests, &keys, &account_id);

    let intact = report.intact && event_report.intact;
    let mut report = serde_json::to_value(&report).unwrap_or(Value::Null);
    report["intact"] = json!(intact);
    report["eventLog"] = serde_json::to_value(&event_report).unwrap_or(Value::Null);
    report["trustedKey"] = json!({ "keyId": anchor.key_id, "source": source });
    report["keysRefused"] = json!(keys
        .refused
        .iter()
        .map(|(key, why)| json!({ "keyId": key, "why": why }))
        .collect::<Vec<_>>());
    Ok(ChainVerdict { report, intact })
}

// ---------------------------------------------------------------------------------------------
// Exported sets: the chain beside the CloudTrail files

/// Where an account's exported chain segments go, under the export directory.
fn chain_dir(account: &str) -> PathBuf {
    PathBuf::from(format!("AWSLogs/{account}/CloudTrail-Digest/gatehouse-chain"))
}

/// One page of `auditChain` with the account's digests and the keys, as the export writes them.
pub(crate) struct ChainSegment {
    pub(crate) account_id: String,
    pub(crate) last_position: u64,
    pub(crate) file: Value,
}

/// Everything of the account's chain after position `after` (all of it for `None`), with its
/// digests and the signing keys: the segment an export writes beside its CloudTrail files.
/// `None` when nothing was stored since.
pub(crate) fn chain_segment(
    endpoint: &Endpoint,
    resolved: &credentials::Resolved,
    account: Option<&str>,
    after: Option<u64>,
) -> Result<Option<ChainSegment>, ClientError> {
    let call = |query: &str, variables: Value| -> Result<Value, ClientError> {
        let body = request_body(query, Some(&variables.to_string()))?;
        let request = signed_request(endpoint, body, resolved, Utc::now())?;
        let (status, text) = send(endpoint, &request)?;
        interpret_response(status, &text)?;
        Ok(serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)["data"].take())
    };
    // Digests first, then records: every digest covers records the segment holds.
    let signed = signed_material(&call, account)?;
    let mut records: Vec<Value> = Vec::new();
    let mut cursor = after.map(|p| p.to_string());
    loop {
        let data = call(CHAIN, json!({ "account": account, "after": cursor }))?;
        let page = &data["auditChain"];
        records.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let Some(last) = records.last() else { return Ok(None) };
    let last_position = last["position"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
    let account_id = match account {
        Some(account) => account.to_owned(),
        None => serde_json::from_str::<Value>(last["record"].as_str().unwrap_or("{}"))
            .ok()
            .and_then(|r| r["recipientAccountId"].as_str().map(str::to_owned))
            .ok_or_else(|| malformed("a record without recipientAccountId"))?,
    };
    let parse_all = |key: &str| -> Vec<Value> {
        signed[key]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|t| serde_json::from_str(t.as_str()?).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let file = json!({
        "accountId": account_id,
        "records": records,
        "digests": parse_all("auditDigests"),
        "signingKeys": parse_all("auditSigningKeys"),
    });
    Ok(Some(ChainSegment {
        account_id,
        last_position,
        file,
    }))
}

/// The segment's file name, relative to the export directory: positions zero-padded, so names
/// sort in chain order.
pub(crate) fn segment_file(segment: &ChainSegment) -> PathBuf {
    let first = segment.file["records"][0]["position"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    chain_dir(&segment.account_id).join(format!(
        "{}_gatehouse-chain_{first:020}-{:020}.json.gz",
        segment.account_id, segment.last_position
    ))
}

/// The `eventID`s of a segment's records.
pub(crate) fn segment_event_ids(segment: &Value) -> impl Iterator<Item = String> + '_ {
    segment["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| {
            let parsed: Value = serde_json::from_str(record["record"].as_str()?).ok()?;
            parsed["eventID"].as_str().map(str::to_owned)
        })
}

/// The `eventID`s of every chain segment already exported under `dir`.
pub(crate) fn exported_event_ids(dir: &std::path::Path) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    let Ok(accounts) = std::fs::read_dir(dir.join("AWSLogs")) else {
        return ids;
    };
    for account in accounts.flatten() {
        let account = account.file_name().to_string_lossy().into_owned();
        for path in files_under(&dir.join(chain_dir(&account))) {
            if let Ok(segment) = read_gzip_json(&path) {
                ids.extend(segment_event_ids(&segment));
            }
        }
    }
    ids
}

fn read_gzip_json(path: &std::path::Path) -> Result<Value, String> {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).map_err(|e| e.to_string())?)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Checks an exported set (`iamctl audit export-trail`'s directory): each account's chain
/// segments against their signed digests, then every CloudTrail file against the chain: a
/// record in a file that the chain does not hold, or holds with other bytes, and a record of the
/// chain missing from the file of its hour.
pub(crate) fn verify_export(dir: &std::path::Path, trusted_key: Option<&PathBuf>) -> Result<ChainVerdict, ClientError> {
    let unreadable = |path: &std::path::Path, message: String| ClientError::QueryFile {
        path: path.display().to_string(),
        message,
    };
    let trusted: Option<PublicKey> = match trusted_key {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e.to_string()))?;
            Some(serde_json::from_str(&text).map_err(|e| unreadable(path, format!("not a signing key: {e}")))?)
        }
        None => None,
    };
    let logs = dir.join("AWSLogs");
    let accounts: Vec<String> = std::fs::read_dir(&logs)
        .map_err(|e| unreadable(&logs, e.to_string()))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut reports = Vec::new();
    let mut all_intact = true;
    for account in accounts {
        let mut records: Vec<StoredRecord> = Vec::new();
        // eventID -> (record hash, eventTime's hour "yyyymmddThh")
        let mut by_event: std::collections::HashMap<String, ([u8; 32], String)> = std::collections::HashMap::new();
        let (mut digests, mut published): (Vec<Digest>, Vec<PublicKey>) = (Vec::new(), Vec::new());
        for path in files_under(&dir.join(chain_dir(&account))) {
            let segment = read_gzip_json(&path).map_err(|e| unreadable(&path, e))?;
            for record in segment["records"].as_array().into_iter().flatten() {
                let text = record["record"].as_str().unwrap_or_default();
                let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                let number = |key: &str| record[key].as_str().and_then(|n| n.parse::<u64>().ok());
                let link = match (
                    number("sequence"),
                    record["hash"].as_str().and_then(|h| h.parse::<ChainHash>().ok()),
                ) {
                    (Some(sequence), Some(hash)) => Some(ChainLink { sequence, hash }),
                    _ => None,
                };
                let event_id = parsed["eventID"].as_str().unwrap_or_default().to_owned();
                let hash = record_hash(text.as_bytes());
                let hour = hour_of(parsed["eventTime"].as_str().unwrap_or_default());
                by_event.insert(event_id.clone(), (hash, hour));
                records.push(StoredRecord {
                    position: number("position").unwrap_or(0),
                    event_id,
                    link,
                    record_hash: hash,
                });
            }
            // The last segment's digests and keys are the latest: each segment holds them all.
            digests = serde_json::from_value(segment["digests"].clone()).unwrap_or_default();
            published = serde_json::from_value(segment["signingKeys"].clone()).unwrap_or_default();
        }
        let anchor = match (&trusted, published.first()) {
            (Some(key), _) => key.clone(),
            (None, Some(first)) => first.clone(),
            (None, None) => {
                all_intact = false;
                reports.push(json!({ "accountId": account, "intact": false,
                    "problem": { "kind": "DIGEST_MISSING", "detail": "the export holds no chain segment or signing key for this account" } }));
                continue;
            }
        };
        let keys = TrustedKeys::from_anchor(&anchor, &published);
        let report = verify_chain(&account, &records, &digests, &keys);
        let mut intact = report.intact;
        let mut report = serde_json::to_value(&report).unwrap_or(Value::Null);
        report["trustedKey"] = json!({ "keyId": anchor.key_id });

        // The CloudTrail files against the chain.
        let mut file_problem: Option<Value> = None;
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut hours: std::collections::HashSet<String> = std::collections::HashSet::new();
        let trail_files = files_under(&logs.join(&account).join("CloudTrail"));
        for path in &trail_files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(hour) = name.split('_').nth(3) {
                hours.insert(hour.trim_end_matches("00Z").to_owned());
            }
            let file = read_gzip_json(path).map_err(|e| unreadable(path, e))?;
            for record in file["Records"].as_array().into_iter().flatten() {
                let event_id = record["eventID"].as_str().unwrap_or_default().to_owned();
                let bytes = serde_json::to_vec(record).unwrap_or_default();
                let problem = match by_event.get(&event_id) {
                    None => Some(("INSERTED", "a record the chain does not hold")),
                    Some((hash, _)) if *hash != record_hash(&bytes) => {
                        Some(("EDITED", "a record whose bytes differ from the chain's"))
                    }
                    Some(_) => None,
                };
                if let (Some((kind, what)), None) = (problem, &file_problem) {
                    file_problem = Some(
                        json!({ "kind": kind, "eventId": event_id, "file": path.strip_prefix(dir).unwrap_or(path),
                        "detail": format!("{what}, in {}", path.display()) }),
                    );
                }
                seen.insert(event_id);
            }
        }
        if file_problem.is_none() {
            let missing = records.iter().find(|r| {
                !seen.contains(&r.event_id) && by_event.get(&r.event_id).is_some_and(|(_, hour)| hours.contains(hour))
            });
            if let Some(record) = missing {
                file_problem = Some(
                    json!({ "kind": "DELETED", "eventId": record.event_id, "sequence": record.link.map(|l| l.sequence),
                    "detail": "a record of the chain is missing from the CloudTrail file of its hour" }),
                );
            }
        }
        if let Some(problem) = file_problem {
            if intact {
                report["problem"] = problem;
            } else {
                report["fileProblem"] = problem;
            }
            intact = false;
            report["intact"] = json!(false);
        }
        report["trailFiles"] = json!(trail_files.len());
        all_intact &= intact;
        reports.push(report);
    }
    Ok(ChainVerdict {
        report: json!({ "intact": all_intact, "accounts": reports }),
        intact: all_intact,
    })
}

/// `2026-03-03T07:12:00Z` -> `20260303T07`, as in the CloudTrail file names.
fn hour_of(event_time: &str) -> String {
    let digits: String = event_time.chars().take(13).filter(|c| *c != '-').collect();
    digits
}
