//! The event log's group-commit writer: one thread with its own SQLite connection.
//!
//! It takes whatever appends have queued and commits them in one transaction (one fsync for
//! all), each inside its own savepoint so that one append's conflict or unique violation rolls
//! back only that append. Appends to one account in a group see each other in queue order,
//! exactly as if committed one after another. Each caller is answered after the commit.
//!
//! A synchronous binding on a dedicated thread, not sqlx: sqlx's SQLite driver runs every
//! statement on a worker thread and hands the result back, two context switches per statement.
//! An append is about six statements, so at 1,000 mutations/s those switches were most of the
//! writer's CPU on a two-core machine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use iam_eventlog::{AppendOutcome, ClaimChange, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use crate::errors::{is_unique_violation, sqlite_backend as backend};
use crate::rows::{to_i64, to_u64, EncodedEvent};

/// One append waiting for the writer.
pub(crate) struct PendingAppend {
    pub(crate) account_id: String,
    pub(crate) expected_sequence: u64,
    pub(crate) events: Vec<EncodedEvent>,
    pub(crate) claims: Vec<ClaimChange>,
    pub(crate) done: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// How many queued appends share one transaction at most.
const MAX_GROUP: usize = 256;

/// Opens the writer's connection with the pragmas that make a commit durable.
pub(crate) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(|e| backend("opening the event log writer", &e))?;
    connection
        .busy_timeout(busy_timeout)
        .map_err(|e| backend("opening the event log writer", &e))?;
    // FULL: the WAL is synced at every commit, so an acknowledged append survives a power cut,
    // not only a process kill.
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| backend("configuring the event log writer", &e))?;
    Ok(connection)
}

/// Runs the writer on this thread until every sender of `queue` is gone.
pub(crate) fn run(
    mut connection: Connection,
    mut queue: mpsc::Receiver<PendingAppend>,
    latest: &Arc<watch::Sender<u64>>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (results, committed) = commit_group(&mut connection, &mut group);
        let mut highest = 0;
        for (append, result) in group.into_iter().zip(results) {
            let result = match (&committed, result) {
                (Ok(()), result) => result,
                // Nothing of the group is durable: every append fails, including those whose
                // own statements succeeded.
                (Err(error), Ok(_)) => Err(error.clone()),
                (Err(_), Err(error)) => Err(error),
            };
            if let Ok(outcome) = &result {
                highest = highest.max(outcome.global_position);
            }
            let _ = append.done.send(result);
        }
        if highest > 0 {
            latest.send_if_modified(|latest| {
                let newer = highest > *latest;
                if newer {
                    *latest = highest;
                }
                newer
            });
        }
    }
}

type GroupResults = (Vec<Result<AppendOutcome, StoreError>>, Result<(), StoreError>);

fn commit_group(connection: &mut Connection, group: &mut [PendingAppend]) -> GroupResults {
    let failed_all = |error: StoreError, n: usize| ((0..n).map(|_| Err(error.clone())).collect(), Err(error));
    // IMMEDIATE takes the write lock up front, so no head read below can go stale.
    let tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed_all(backend("starting an append", &e), group.len()),
    };
    let mut results = Vec::with_capacity(group.len());
    for append in group.iter_mut() {
        if let Err(e) = tx.execute_batch("SAVEPOINT append") {
            return failed_all(backend("starting an append", &e), group.len());
        }
        let events = std::mem::take(&mut append.events);
        let claims = std::mem::take(&mut append.claims);
        let result = append_in(&tx, &append.account_id, append.expected_sequence, events, claims);
        if result.is_err() {
            if let Err(e) = tx.execute_batch("ROLLBACK TO SAVEPOINT append") {
                return failed_all(backend("rolling an append back", &e), group.len());
            }
        }
        if let Err(e) = tx.execute_batch("RELEASE SAVEPOINT append") {
            return failed_all(backend("ending an append", &e), group.len());
        }
        results.push(result);
    }
    let committed = tx.commit().map_err(|e| backend("committing appends", &e));
    (results, committed)
}

fn append_in(
    tx: &Connection,
    account_id: &str,
    expected_sequence: u64,
    events: Vec<EncodedEvent>,
    claims: Vec<ClaimChange>,
) -> Result<AppendOutcome, StoreError> {
    let head: Option<i64> = tx
        .prepare_cached("SELECT head FROM streams WHERE account_id = ?1")
        .and_then(|mut statement| statement.query_row([account_id], |row| row.get(0)).optional())
        .map_err(|e| backend("reading the stream head", &e))?;
    let head = head.map_or(Ok(0), |h| to_u64(h, "head"))?;
    if head != expected_sequence {
        return Err(StoreError::Conflict {
            expected: expected_sequence,
            actual: head,
        });
    }
    let first_sequence = head + 1;
    apply_claims(tx, account_id, first_sequence, claims)?;
    let mut sequence = head;
    let mut global_position = 0;
    for event in events {
        sequence += 1;
        global_position = insert_event(tx, account_id, sequence, &event)?;
    }
    tx.prepare_cached(
        "INSERT INTO streams (account_id, head) VALUES (?1, ?2) \
         ON CONFLICT (account_id) DO UPDATE SET head = excluded.head",
    )
    .and_then(|mut statement| statement.execute(params![account_id, to_i64(sequence)]))
    .map_err(|e| backend("advancing the stream head", &e))?;
    Ok(AppendOutcome {
        first_sequence,
        last_sequence: sequence,
        global_position,
    })
}

fn apply_claims(
    tx: &Connection,
    account_id: &str,
    first_sequence: u64,
    claims: Vec<ClaimChange>,
) -> Result<(), StoreError> {
    for change in claims {
        match change {
            ClaimChange::Claim(claim) => {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO unique_claims (account_id, scope, key, claimed_at_sequence) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![
                            claim.holder(account_id),
                            claim.scope,
                            claim.key,
                            to_i64(first_sequence)
                        ])
                    });
                match inserted {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::UniqueViolation {
                            scope: claim.scope,
                            key: claim.key,
                        })
                    }
                    Err(e) => return Err(backend("claiming a unique key", &e)),
                }
            }
            ClaimChange::Release(claim) => {
                tx.prepare_cached("DELETE FROM unique_claims WHERE account_id = ?1 AND scope = ?2 AND key = ?3")
                    .and_then(|mut statement| {
                        statement.execute(params![claim.holder(account_id), claim.scope, claim.key])
                    })
                    .map_err(|e| backend("releasing a unique key", &e))?;
            }
        }
    }
    Ok(())
}

/// Inserts one event; returns its feed position.
fn insert_event(tx: &Connection, account_id: &str, sequence: u64, event: &EncodedEvent) -> Result<u64, StoreError> {
    let inserted: rusqlite::Result<i64> = tx
        .prepare_cached(
            "INSERT INTO events (account_id, sequence, event_id, recorded_at, actor, request_id, \
             event_type, schema_version, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             RETURNING global_position",
        )
        .and_then(|mut statement| {
            statement.query_row(
                params![
                    account_id,
                    to_i64(sequence),
                    event.event_id,
                    event.recorded_at,
                    event.actor,
                    event.request_id,
                    event.event_type,
                    event.schema_version,
                    event.payload,
                ],
                |row| row.get(0),
            )
        });
    match inserted {
        Ok(position) => to_u64(position, "position"),
        Err(e) if is_unique_violation(&e) && e.to_string().contains("events.event_id") => {
            let id = uuid::Uuid::parse_str(&event.event_id).unwrap_or_default();
            Err(StoreError::DuplicateEventId(id))
        }
        Err(e) => Err(backend("inserting an event", &e)),
    }
}
