//! Decision replay in GraphQL: `AuditEvent.replay(at, time)` re-evaluates one audited decision,
//! and `auditReplayCheck` replays every decision of a time range at `RECORDED` and reports the
//! records the replay disagrees with (the proof that the history is faithful). Both translate to
//! `iam-app`'s [`iam_app::replay::Replayer`].

use async_graphql::{Context, Enum, Json, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_app::replay::{Replay, ReplayPoint};
use iam_audit::AuditRecord;
use serde_json::Value;

use crate::error::from_app;
use crate::guard::Scope;
use crate::history::MatchedStatementObject;

/// Where `replay` evaluates a recorded decision.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ReplayAt {
    /// On the state the decision was made on (the recorded account and organization
    /// sequences), at its `eventTime`.
    Recorded,
    /// On the state now, now.
    Now,
    /// On the state at `time`, at that time.
    Time,
}

/// An audited decision evaluated again.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct DecisionReplay {
    /// `Allow`, `ImplicitDeny`, `ExplicitDeny`, or the error code of a refused request.
    pub decision: String,
    /// The same, as recorded.
    pub recorded_decision: String,
    /// Whether the replay agrees with the record: the same decision on the same statements.
    pub matches: bool,
    /// The statements the replayed decision rests on.
    pub matched_statements: Vec<MatchedStatementObject>,
    /// Statements the replay rests on that the record does not name (CloudTrail's shape).
    pub statements_added: Vec<Json<Value>>,
    /// Statements the record names that the replay does not rest on.
    pub statements_removed: Vec<Json<Value>>,
    /// The instant it was evaluated at (`aws:CurrentTime`).
    pub evaluated_at: DateTime<Utc>,
    /// The account's sequence of the state it was evaluated on.
    pub account_sequence: u64,
    /// The principal's organization, when its account was a member then.
    pub organization_id: Option<String>,
    /// That organization's sequence.
    pub organization_sequence: Option<u64>,
    /// Whether the organization's policies were found by the recorded sequence (`false` for a
    /// record written before records carried it: found by time).
    pub exact: bool,
    /// The message of a refused replay (an unknown principal, a malformed policy).
    pub error_message: Option<String>,
}

impl From<Replay> for DecisionReplay {
    fn from(replay: Replay) -> Self {
        let matches = replay.matches();
        let (matched_statements, error_message) = match &replay.outcome {
            Ok((_, matched)) => (matched.iter().map(MatchedStatementObject::from).collect(), None),
            Err(error) => (Vec::new(), Some(error.message.clone())),
        };
        DecisionReplay {
            matches,
            decision: replay.replayed,
            recorded_decision: replay.recorded,
            matched_statements,
            statements_added: replay.statements_added.into_iter().map(Json).collect(),
            statements_removed: replay.statements_removed.into_iter().map(Json).collect(),
            evaluated_at: replay.evaluated_at,
            account_sequence: replay.account_sequence,
            organization_id: replay.organization.as_ref().map(|(id, _)| id.clone()),
            organization_sequence: replay.organization.map(|(_, sequence)| sequence),
            exact: replay.exact,
            error_message,
        }
    }
}

/// The point `at` (and `time`) name.
pub(crate) fn point_of(at: Option<ReplayAt>, time: Option<DateTime<Utc>>) -> Result<ReplayPoint> {
    match (at, time) {
        (None | Some(ReplayAt::Recorded), None) => Ok(ReplayPoint::Recorded),
        (Some(ReplayAt::Now), None) => Ok(ReplayPoint::Now),
        (None | Some(ReplayAt::Time), Some(time)) => Ok(ReplayPoint::At(time)),
        (Some(ReplayAt::Time), None) => Err(crate::error::aws_error(
            iam_types::ErrorCode::InvalidInput,
            "replay at TIME needs `time`",
        )),
        (Some(_), Some(_)) => Err(crate::error::aws_error(
            iam_types::ErrorCode::InvalidInput,
            "`time` goes with `at: TIME` (or no `at`)",
        )),
    }
}

/// Replays one record the caller was allowed to read (its parent field authorized it).
pub(crate) async fn replay_record(
    ctx: &Context<'_>,
    record: &AuditRecord,
    at: Option<ReplayAt>,
    time: Option<DateTime<Utc>>,
) -> Result<DecisionReplay> {
    let point = point_of(at, time)?;
    let scope = Scope::of(ctx)?;
    let replay = scope
        .gatehouse
        .replayer()
        .replay(record, point)
        .await
        .map_err(from_app)?;
    Ok(replay.into())
}

/// One record whose replay disagrees with it.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ReplayMismatch {
    /// The record.
    #[graphql(name = "eventID")]
    pub event_id: String,
    /// When it was written.
    pub event_time: DateTime<Utc>,
    /// The replay.
    pub replay: DecisionReplay,
}

/// What `auditReplayCheck` found in one page of the range.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ReplayCheck {
    /// Decision records replayed.
    pub checked: u64,
    /// Records replayed to exactly their record.
    pub matched: u64,
    /// Decisions whose organization policies were found by time (records written before
    /// records carried organization sequences).
    pub inexact: u64,
    /// Records that are not replayable decisions (requests refused before any decision).
    pub skipped: u64,
    /// The records the replay disagrees with.
    pub mismatches: Vec<ReplayMismatch>,
    /// Pass as `after` for the rest of the range; absent when the range is done.
    pub next_cursor: Option<String>,
}

/// Replays a page of decision records.
pub(crate) async fn check_page(
    scope: &Scope,
    records: Vec<(String, AuditRecord)>,
    has_next_page: bool,
) -> Result<ReplayCheck> {
    let mut replayer = scope.gatehouse.replayer();
    let mut check = ReplayCheck {
        checked: 0,
        matched: 0,
        inexact: 0,
        skipped: 0,
        mismatches: Vec::new(),
        next_cursor: None,
    };
    let last = records.last().map(|(cursor, _)| cursor.clone());
    for (_, record) in records {
        let replay = match replayer.replay(&record, ReplayPoint::Recorded).await {
            Ok(replay) => replay,
            Err(refused) if refused.code == iam_types::ErrorCode::InvalidInput => {
                check.skipped += 1;
                continue;
            }
            Err(failure) => return Err(from_app(failure)),
        };
        check.checked += 1;
        check.inexact += u64::from(!replay.exact);
        if replay.matches() {
            check.matched += 1;
        } else {
            check.mismatches.push(ReplayMismatch {
                event_id: record.event_id.clone(),
                event_time: record.event_time,
                replay: replay.into(),
            });
        }
    }
    check.next_cursor = last.filter(|_| has_next_page);
    Ok(check)
}
