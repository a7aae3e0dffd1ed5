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
    record_hash, verify_chain, ChainHash, ChainLink, Digest, PublicKey, StoredRecord, TrustedKeys,
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
const DIGESTS: &str = "query($account: String) { auditDigests(accountId: $account) auditSigningKeys }";

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
    let signed = call(DIGESTS, json!({ "account": args.account_id }))?;
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
    let intact = report.intact;
    let mut report = serde_json::to_value(&report).unwrap_or(Value::Null);
    report["trustedKey"] = json!({ "keyId": anchor.key_id, "source": source });
    report["keysRefused"] = json!(keys
        .refused
        .iter()
        .map(|(key, why)| json!({ "keyId": key, "why": why }))
        .collect::<Vec<_>>());
    Ok(ChainVerdict { report, intact })
}
