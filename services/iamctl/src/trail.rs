//! `iamctl audit export-trail`: the audit history written in CloudTrail's own layout, for the
//! long term: one gzip file per account, region and hour,
//! `AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmdd>T<hh>00Z_gatehouse.json.gz`,
//! each `{"Records": [...]}` oldest first, as CloudTrail delivers them to S3.
//!
//! Resumable: `<dir>/.gatehouse-export.json` says up to which hour the account's history is
//! written; a later run (a daily cron) starts there. Only hours that have ended are written and
//! remembered; `--through-now` also writes the current hour, which the next run writes again
//! whole (same file name, replaced). A file is written to a temporary name, synced, then renamed,
//! and the state is saved only after the hour's files are in place, so an interrupted run loses
//! nothing and duplicates nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use serde_json::{json, Value};

use crate::client::{ClientError, Endpoint, DEFAULT_ENDPOINT};
use crate::credentials;
use crate::export::records_oldest_first;

/// Arguments of `iamctl audit export-trail`.
#[derive(Debug, clap::Args)]
pub struct ExportTrailArgs {
    /// Base URL of the gateway.
    #[arg(long, env = "GATEHOUSE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The directory to write `AWSLogs/...` under (and its state file).
    #[arg(long)]
    pub dir: PathBuf,
    /// Where to start when the directory has no state yet (RFC 3339; rounded down to the hour).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Also write the hour that has not ended (written again, whole, by the next run).
    #[arg(long)]
    pub through_now: bool,
    /// Another account of the caller's organization (management account or delegated
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

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// The request failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The directory cannot be written or its state read.
    #[error("{0}")]
    Io(String),
    /// Nothing says where to start.
    #[error("{0}")]
    Input(String),
}

impl TrailError {
    /// Whether this is the caller's mistake (exit code 2).
    pub fn is_malformed_input(&self) -> bool {
        match self {
            TrailError::Client(e) => e.is_malformed_input(),
            TrailError::Input(_) => true,
            TrailError::Io(_) => false,
        }
    }
}

const STATE_FILE: &str = ".gatehouse-export.json";

fn io(what: &str, path: &Path, e: std::io::Error) -> TrailError {
    TrailError::Io(format!("cannot {what} `{}`: {e}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file, synced before the rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrailError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let temporary = path.with_extension("partial");
    let mut file = std::fs::File::create(&temporary).map_err(|e| io("create", &temporary, e))?;
    file.write_all(bytes).map_err(|e| io("write", &temporary, e))?;
    file.sync_all().map_err(|e| io("sync", &temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| io("rename", &temporary, e))
}

fn gzip(json: &[u8]) -> Result<Vec<u8>, TrailError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(json)
        .and_then(|()| encoder.finish())
        .map_err(|e| TrailError::Io(format!("cannot compress: {e}")))
}

/// The file of one account, region and hour, relative to the export directory.
pub(crate) fn trail_file(account: &str, region: &str, hour: DateTime<Utc>) -> PathBuf {
    PathBuf::from(format!(
        "AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/{account}_CloudTrail_{region}_{:04}{:02}{:02}T{:02}00Z_gatehouse.json.gz",
        hour.year(),
        hour.month(),
        hour.day(),
        hour.year(),
        hour.month(),
        hour.day(),
        hour.hour()
    ))
}

/// Exports the hours from the state (or `--from`) up to the last that ended (or now); answers
/// with a summary.
pub(crate) fn export_trail(args: &ExportTrailArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, TrailError> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let resolved =
        credentials::resolve(env, args.profile.as_deref(), args.region.as_deref()).map_err(ClientError::from)?;
    let state_path = args.dir.join(STATE_FILE);
    let state: Value = match std::fs::read(&state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| TrailError::Io(format!("`{}` is not an export state: {e}", state_path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(io("read", &state_path, e)),
    };
    let hour = Duration::hours(1);
    let floor = |t: DateTime<Utc>| t.duration_trunc(hour).unwrap_or(t);
    let remembered = state["writtenUntil"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let start = match (remembered, args.from) {
        (Some(until), _) => until,
        (None, Some(from)) => floor(from),
        (None, None) => {
            return Err(TrailError::Input(format!(
                "`{}` holds no export yet: give --from to say where the history starts",
                args.dir.display()
            )))
        }
    };
    let now = Utc::now();
    let end = if args.through_now {
        floor(now) + hour
    } else {
        floor(now)
    };
    let (mut files, mut records_written, mut hours) = (0u64, 0u64, 0u64);
    let mut saved = if state.is_object() { state.clone() } else { json!({}) };
    // The chain beside the files, fetched first: what was stored since the last run, with the
    // digests and keys, so `iamctl audit verify --dir` checks the files without the server. The
    // files then hold only records the chain holds (a record stored after this point goes to the
    // next run's files), so every record of a file can be found in the exported chain.
    let chain_key = args.account_id.clone().unwrap_or_else(|| "caller".to_owned());
    let chain_after = saved["chainAfter"][&chain_key].as_u64();
    let segment = crate::integrity::chain_segment(&endpoint, &resolved, args.account_id.as_deref(), chain_after)?;
    let mut chained = crate::integrity::exported_event_ids(&args.dir);
    let chain_records = segment
        .as_ref()
        .map_or(0, |s| s.file["records"].as_array().map_or(0, |r| r.len() as u64));
    if let Some(segment) = &segment {
        chained.extend(crate::integrity::segment_event_ids(&segment.file));
        let body =
            serde_json::to_vec(&segment.file).map_err(|e| TrailError::Io(format!("cannot encode the chain: {e}")))?;
        write_atomically(&args.dir.join(crate::integrity::segment_file(segment)), &gzip(&body)?)?;
        saved["chainAfter"][&chain_key] = json!(segment.last_position);
        write_atomically(&state_path, saved.to_string().as_bytes())?;
    }
    let mut at = start;
    while at < end {
        let next = at + hour;
        let window = json!({"from": at, "to": next});
        let mut records = records_oldest_first(&endpoint, &resolved, args.account_id.as_deref(), &window)?;
        if !chained.is_empty() {
            records.retain(|record| record["eventID"].as_str().is_some_and(|id| chained.contains(id)));
        }
        let mut by_region: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
        for record in records {
            let account = record["recipientAccountId"].as_str().unwrap_or("unknown").to_owned();
            let region = record["awsRegion"].as_str().unwrap_or("us-east-1").to_owned();
            by_region.entry((account, region)).or_default().push(record);
        }
        for ((account, region), records) in by_region {
            records_written += records.len() as u64;
            let body = serde_json::to_vec(&json!({ "Records": records }))
                .map_err(|e| TrailError::Io(format!("cannot encode records: {e}")))?;
            write_atomically(&args.dir.join(trail_file(&account, &region, at)), &gzip(&body)?)?;
            files += 1;
        }
        hours += 1;
        // The hour is remembered once it has ended: the current one is written again next time.
        if next <= floor(now) {
            saved["writtenUntil"] = json!(next.to_rfc3339());
            write_atomically(&state_path, saved.to_string().as_bytes())?;
        }
        at = next;
    }
    Ok(json!({
        "from": start.to_rfc3339(),
        "to": end.to_rfc3339(),
        "hours": hours,
        "files": files,
        "records": records_written,
        "chainRecords": chain_records,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_as_cloudtrail_names_them() {
        let hour = DateTime::parse_from_rfc3339("2026-03-03T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            trail_file("123456789012", "eu-west-1", hour),
            PathBuf::from(
                "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/03/03/123456789012_CloudTrail_eu-west-1_20260303T0700Z_gatehouse.json.gz"
            )
        );
    }
}
