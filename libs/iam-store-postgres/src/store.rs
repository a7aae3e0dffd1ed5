//! [`PostgresEventStore`]: connecting, and the [`EventStore`] and [`EventFeed`] impls.
//!
//! # Appends: group-committed, under the schema's lock
//!
//! A store's appends go to one writer task, which takes whatever appends have queued (up to
//! [`MAX_GROUP`]) and runs them in one `READ COMMITTED` transaction:
//!
//! 1. `SELECT pg_advisory_xact_lock(<key>)`: the append lock, one key per schema (see `lock.rs`),
//!    held until the transaction commits or rolls back;
//! 2. the heads of the group's accounts from `streams`, in one statement;
//!
//! then, for each append in queue order: its expected sequence is compared with its account's
//! head (`Conflict` if it moved; no statement needed), and if they match, inside a savepoint of
//! its own:
//!
//! 3. the claim changes in order, one statement each (a taken key violates `unique_claims`'s
//!    primary key: `UniqueViolation`);
//! 4. one statement that advances the `feed_position` counter by the batch size, inserts the
//!    events with the positions and sequences that follow, queues their positions in `outbox`,
//!    moves the head in `streams` and calls `pg_notify` (a reused event id violates
//!    `events_event_id_key`: `DuplicateEventId`);
//!
//! an append that fails is rolled back to its savepoint, which undoes its claims and rows and
//! nothing of the others; one that succeeds moves its account's head for the appends after it;
//! and finally
//!
//! 5. `COMMIT`, which returns once the commit record is flushed (`synchronous_commit=on`). Only
//!    then is each caller answered, with its own outcome or error.
//!
//! **Why a lock.** A follower reads the feed by position and stores the last position it saw. If
//! two transactions took positions 7 and 8 and 8 committed first, a follower could read 8, store
//! it, and never look at 7 again: a skipped event. A `SEQUENCE` alone has exactly this problem.
//! Holding one lock from taking the positions until the commit makes positions follow commit
//! order: a transaction that takes the lock sees every append committed before it (each
//! statement of a `READ COMMITTED` transaction takes a fresh snapshot, and PostgreSQL makes a
//! commit visible before releasing its locks), and nobody else takes positions until it ends.
//! The same lock keeps the heads read in step 2 true for the whole group (only the group moves
//! them, and it keeps track), so per-account optimistic concurrency needs no row lock, and a
//! command decided against a stale head always gets `Conflict` before its claims are judged;
//! the `(account_id, sequence)` primary key stays as a second guard.
//! The counter's row lock, taken by its `UPDATE` in step 4 and also held to the commit, would
//! order positions by itself, but it comes too late to cover the head check and the claims;
//! hence the advisory lock, taken first. It is transaction-scoped, so a crashed or disconnected
//! appender's lock is released with its transaction. Its key is per schema: the tables, the
//! counter and the positions are per schema, so logs in different schemas have nothing to order
//! between them and never wait for each other.
//!
//! **Why group commit.** With one append per transaction, each pays a commit, its WAL flush and
//! five round trips, one after another under the lock: the log's rate is `1 / (round trips +
//! flush)` whether one task appends or sixty-four (300 to 1,000 a second on the project's 2-core
//! test machine, depending on its load). In a group, the appends share the transaction, the lock
//! and the flush, so concurrent appends from one process cost one flush between them (see
//! `examples/append_rate.rs`: about twice the rate at 16 and 64 appenders on that machine). Appends in
//! a group are exactly as if committed one after another in queue order: each one is checked
//! against the heads the earlier ones left, so two appends to one account against one head get
//! `Conflict` for the second as they would in turn, and its statements see the earlier ones'
//! rows (same transaction), so a claim taken earlier in the group is taken for the later ones.
//! A single writer also means a process holds at most one transaction under the lock at a time;
//! appends from other processes still wait for the lock, group by group. A lone append costs one
//! round trip more than an append in a transaction of its own (the savepoint) and waits for no
//! timer: the writer takes what has queued and goes. Within a group the round trips, not the
//! flush, are the cost: two per successful append plus one per claim change, none for a
//! conflict.
//!
//! **What a group costs.** An append's own failure (a conflict, a taken claim, a reused id,
//! input PostgreSQL cannot store, a statement timeout) fails only that append. A
//! failure of the group's own statements (the lock's `lock_timeout`, a lost connection, the
//! `COMMIT`) fails every append of the group with it, including those whose own statements went
//! through: nothing of the group is stored, and an append whose error was judged against an
//! earlier one in the group (a conflict, a taken claim) was judged against rows that never
//! came to be. A group holds at most [`MAX_GROUP`] appends, which bounds the time it holds the
//! lock and the subtransactions it opens (PostgreSQL caches 64 per backend; beyond that every
//! snapshot taken meanwhile must look subtransactions up on disk).
//!
//! **Why a counter row.** Under the lock a counter row costs nothing more than a sequence and is
//! transactional: a rolled-back append gives its positions back, so the feed has no gaps (the
//! port allows gaps; consumers get a denser, easier to check log).
//!
//! **Waiting.** `lock_timeout` bounds the wait for the lock (then every append of the group fails
//! with `Unavailable`), and `idle_in_transaction_session_timeout` ends a session that stalls
//! while holding it. Appends queue without limit of time for the writer: an append waits for
//! the groups ahead of it, each bounded by those two timeouts.
//!
//! **Ambiguous commits.** If the connection drops while `COMMIT` is in flight, the group may or
//! may not be stored; every append of it fails with `Unavailable`. An append whose caller stops
//! waiting (its future is dropped) is not withdrawn: it may still be committed. Nothing is
//! appended twice by retrying: a retry against the same head gets `Conflict` if the first attempt
//! was stored, and catching up then shows the first attempt's events (same ids); a retry with
//! other sequences but the same ids gets `DuplicateEventId`.
//!
//! # Following: LISTEN/NOTIFY with the timeout as the fallback
//!
//! [`EventFeed::wait_for`] listens instead of polling: every append notifies a channel in its
//! transaction, PostgreSQL delivers the notification at commit to every listener in every
//! process, so a projector or relay wakes within a round trip of an append made by any gateway
//! replica, and an idle follower costs no queries. Polling would trade that latency against a
//! steady query load per follower. Notifications are only hints (see `notify.rs`): `wait_for`
//! always confirms by reading the position, and reads it again when the timeout ends, so a
//! notification lost to a reconnect costs latency, never an event. The price is one extra
//! connection per store that waits, opened on the first `wait_for`; notifying transactions
//! serialize their commits on PostgreSQL's notification queue, which the append lock already
//! does.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_eventlog::{
    validate_append, validate_stream_id, AppendOutcome, ClaimChange, EventEnvelope, EventFeed, EventStore, NewEvent,
    StoreError,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres, Row, Transaction};
use tokio::sync::{mpsc, oneshot, watch, OnceCell};
use uuid::Uuid;

use crate::errors::{backend, migration, unique_violation, writing};
use crate::lock::append_lock_key;
use crate::notify::{self, Listener};
use crate::options::{is_valid_schema, PostgresStoreOptions};
use crate::rows::{decode, encode, repeated_id, to_i64, to_u64, EncodedBatch, EVENT_COLUMNS};

/// The environment variable that holds the connection URL, e.g.
/// `postgres://gatehouse:gatehouse@127.0.0.1:15432/gatehouse` (what `infra/postgres/start.sh`
/// prints).
pub const DATABASE_URL_ENV: &str = "GATEHOUSE_DATABASE_URL";

/// How many queued appends share one transaction at most: PostgreSQL caches 64 subtransactions
/// per backend (`PGPROC_MAX_CACHED_SUBXIDS`), and each append that writes is one. At 64 the
/// commit's cost is already shared 64 ways.
pub const MAX_GROUP: usize = 64;

/// How many appends may wait for the writer before `append` itself waits to queue.
const QUEUE: usize = 4096;

/// The statement of step 4 (see the module documentation): positions, events, outbox, head and
/// notification in one round trip.
const INSERT_EVENTS: &str = "\
WITH counter AS (
    UPDATE feed_position SET last = last + $2 RETURNING last
), appended AS (
    INSERT INTO events (global_position, account_id, sequence, event_id, recorded_at, actor,
                        request_id, event_type, schema_version, payload)
    SELECT counter.last - $2 + e.n, $1, $3 + e.n, e.event_id, e.recorded_at, e.actor,
           e.request_id, e.event_type, e.schema_version, e.payload::jsonb
      FROM counter,
           unnest($4::uuid[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::bigint[],
                  $10::text[])
               WITH ORDINALITY AS e(event_id, recorded_at, actor, request_id, event_type,
                                    schema_version, payload, n)
    RETURNING global_position
), queued AS (
    INSERT INTO outbox (global_position) SELECT global_position FROM appended
), advanced AS (
    INSERT INTO streams (account_id, head) VALUES ($1, $3 + $2)
    ON CONFLICT (account_id) DO UPDATE SET head = EXCLUDED.head
)
SELECT counter.last, pg_notify($11, counter.last::text) FROM counter";

/// The event log in PostgreSQL: implements both [`EventStore`] and [`EventFeed`].
///
/// Any number of stores, in any number of processes, may append to one database: the append lock
/// and the per-account head check keep them correct. Clones share the pool, the listener and the
/// writer, so their concurrent appends are committed together.
#[derive(Debug, Clone)]
pub struct PostgresEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    /// For the listener's own connection.
    connect: PgConnectOptions,
    /// Where appends notify and the listener listens.
    channel: String,
    /// The highest position this store appended or heard of; a hint that wakes `wait_for`.
    heard: Arc<watch::Sender<u64>>,
    /// The writer's queue. The writer stops when the last handle drops this sender.
    appends: mpsc::Sender<PendingAppend>,
    /// Started by the first `wait_for`.
    listener: OnceCell<Listener>,
}

/// One append waiting for the writer, validated and encoded.
#[derive(Debug)]
struct PendingAppend {
    account_id: String,
    expected_sequence: u64,
    batch: EncodedBatch,
    claims: Vec<ClaimChange>,
    done: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// A group's transaction.
type Tx = Transaction<'static, Postgres>;

/// Every append's result in a group, in queue order.
type GroupResults = Vec<Result<AppendOutcome, StoreError>>;

/// The task that commits a store's appends in groups (see the module documentation).
#[derive(Debug)]
struct Writer {
    pool: PgPool,
    /// The append lock's key for the store's schema.
    lock_key: i64,
    channel: String,
    heard: Arc<watch::Sender<u64>>,
}

/// Why an append's statements failed; some reasons need a look at the database after the
/// rollback to its savepoint to become a [`StoreError`].
enum Failure {
    Store(StoreError),
    /// `events_event_id_key` was violated: one of the batch's ids is stored already (perhaps by
    /// an earlier append of the group) or occurs twice in the batch.
    EventIdTaken,
    /// `events_pkey` was violated: another writer took the sequence without the append lock.
    SequenceTaken,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl PostgresEventStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`), runs
    /// the embedded migrations in the configured schema and starts the store's writer task on
    /// the current Tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server cannot be reached, [`StoreError::Internal`] if
    /// the URL or the schema name is malformed, the login is refused, or a migration fails (for
    /// example, the database holds a newer schema).
    pub async fn connect(url: &str, options: PostgresStoreOptions) -> Result<Self, StoreError> {
        // sqlx would read any scheme as PostgreSQL's; a `mysql://` or `sqlite:` URL is a mistake.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Internal(
                "invalid database url: expected postgres://user:password@host:port/database".into(),
            ));
        }
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid database url: {e}")))?
            .application_name("gatehouse-eventlog");
        let mut settings = vec![
            ("lock_timeout", millis(options.lock_timeout)),
            (
                "idle_in_transaction_session_timeout",
                millis(options.idle_in_transaction_timeout),
            ),
        ];
        if let Some(schema) = &options.schema {
            if !is_valid_schema(schema) {
                return Err(StoreError::Internal(format!(
                    "invalid schema name `{schema}`: expected lowercase letters, digits and `_`, at most 40 bytes"
                )));
            }
            settings.push(("search_path", schema.clone()));
        }
        connect = connect.options(settings);

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(|e| backend("connecting to the event log", &e))?;

        let mut migrator = sqlx::migrate!("../../schema/migrations/postgres/eventlog");
        // Another migrator (the read model) may share the database with its own version range.
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await.map_err(|e| migration(&e))?;

        let channel = notify::channel(options.schema.as_deref());
        let heard = Arc::new(watch::channel(0).0);
        let (appends, queue) = mpsc::channel(QUEUE);
        let writer = Writer {
            pool: pool.clone(),
            lock_key: append_lock_key(options.schema.as_deref()),
            channel: channel.clone(),
            heard: heard.clone(),
        };
        tokio::spawn(writer.run(queue));
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                connect,
                channel,
                heard,
                appends,
                listener: OnceCell::new(),
            }),
        };
        let position = store.latest_position().await?;
        raise(&store.inner.heard, position);
        Ok(store)
    }

    /// [`connect`](Self::connect)s to the URL in [`DATABASE_URL_ENV`].
    ///
    /// # Errors
    /// [`StoreError::Internal`] if the variable is unset, else as [`connect`](Self::connect).
    pub async fn connect_from_env(options: PostgresStoreOptions) -> Result<Self, StoreError> {
        let url = std::env::var(DATABASE_URL_ENV)
            .map_err(|_| StoreError::Internal(format!("{DATABASE_URL_ENV} is not set")))?;
        Self::connect(&url, options).await
    }

    /// The connection pool, e.g. for a read model that shares the database.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Closes the pool, waiting for connections in use to be returned. Appends made afterwards
    /// fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// Starts the notification listener once; later calls return at once.
    async fn listening(&self) -> Result<(), StoreError> {
        self.inner
            .listener
            .get_or_try_init(|| {
                Listener::start(
                    self.inner.connect.clone(),
                    &self.inner.channel,
                    self.inner.heard.clone(),
                )
            })
            .await
            .map(|_| ())
    }
}

impl Writer {
    /// Takes whatever appends have queued, commits them as one group, answers each, and again,
    /// until every store handle is gone.
    async fn run(self, mut queue: mpsc::Receiver<PendingAppend>) {
        while let Some(first) = queue.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            let results = self.commit(&mut group).await;
            let highest = results
                .iter()
                .filter_map(|result| result.as_ref().ok().map(|outcome| outcome.global_position))
                .max();
            raise(&self.heard, highest.unwrap_or(0));
            for (append, result) in group.into_iter().zip(results) {
                // A caller that stopped waiting gets no answer; its append stands.
                let _ = append.done.send(result);
            }
        }
    }

    /// Runs a group in one transaction and commits it; one result per append. Returns only once
    /// `COMMIT` has returned (or the group failed).
    async fn commit(&self, group: &mut [PendingAppend]) -> GroupResults {
        let mut tx = match self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE")
            .await
        {
            Ok(tx) => tx,
            Err(e) => return every(group.len(), &backend("starting appends", &e)),
        };
        match self.appends_in(&mut tx, group).await {
            Ok(results) => match tx.commit().await {
                Ok(()) => results,
                Err(e) => every(group.len(), &backend("committing appends", &e)),
            },
            Err(error) => {
                // Explicitly, not on drop: the append lock is released only when the rollback
                // has run, and dropping a transaction defers it.
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back failed appends");
                }
                every(group.len(), &error)
            }
        }
    }

    /// Steps 1-4 of the module documentation for every append of the group. `Err` is a failure
    /// of the group's own statements, which fails the whole group.
    async fn appends_in(&self, tx: &mut Tx, group: &mut [PendingAppend]) -> Result<GroupResults, StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(self.lock_key)
            .execute(&mut **tx)
            .await
            .map_err(|e| backend("taking the append lock", &e))?;
        let mut heads = group_heads(tx, group).await?;
        let mut results = Vec::with_capacity(group.len());
        let mut savepoint_set = false;
        for append in group.iter_mut() {
            let head = heads.get(&append.account_id).copied().unwrap_or(0);
            if head != append.expected_sequence {
                results.push(Err(StoreError::Conflict {
                    expected: append.expected_sequence,
                    actual: head,
                }));
                continue;
            }
            // One round trip: the previous append's savepoint is released (merged into the
            // transaction) and this one's is set.
            let savepoint = if savepoint_set {
                "RELEASE SAVEPOINT append; SAVEPOINT append"
            } else {
                "SAVEPOINT append"
            };
            (&mut **tx)
                .execute(sqlx::raw_sql(savepoint))
                .await
                .map_err(|e| backend("starting an append", &e))?;
            savepoint_set = true;
            let claims = std::mem::take(&mut append.claims);
            let result = match self
                .append_in(tx, &append.account_id, head, &append.batch, claims)
                .await
            {
                Ok(outcome) => {
                    heads.insert(append.account_id.clone(), outcome.last_sequence);
                    Ok(outcome)
                }
                Err(failure) => {
                    rollback_to_savepoint(tx).await?;
                    match explain(tx, failure, append).await {
                        Ok(error) => Err(error),
                        // Looking failed (and aborted the savepoint): the append fails with that.
                        Err(error) => {
                            rollback_to_savepoint(tx).await?;
                            Err(error)
                        }
                    }
                }
            };
            results.push(result);
        }
        Ok(results)
    }

    /// Steps 3 and 4 of one append whose head matched (see the module documentation), inside its
    /// savepoint.
    async fn append_in(
        &self,
        tx: &mut Tx,
        account_id: &str,
        head: u64,
        batch: &EncodedBatch,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, Failure> {
        apply_claims(tx, account_id, head + 1, claims).await?;

        let count = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(INSERT_EVENTS)
            .bind(account_id)
            .bind(to_i64(count))
            .bind(to_i64(head))
            .bind(&batch.event_ids)
            .bind(&batch.recorded_at)
            .bind(&batch.actors)
            .bind(&batch.request_ids)
            .bind(&batch.event_types)
            .bind(&batch.schema_versions)
            .bind(&batch.payloads)
            .bind(&self.channel)
            .fetch_one(&mut **tx)
            .await;
        let last_position = match inserted {
            Ok(position) => to_u64(position, "position")?,
            Err(e) => {
                return Err(match unique_violation(&e) {
                    Some("events_event_id_key") => Failure::EventIdTaken,
                    Some("events_pkey") => Failure::SequenceTaken,
                    _ => writing("inserting events", &e).into(),
                })
            }
        };
        Ok(AppendOutcome {
            first_sequence: head + 1,
            last_sequence: head + count,
            global_position: last_position,
        })
    }
}

/// `error` for each of `size` appends.
fn every(size: usize, error: &StoreError) -> GroupResults {
    (0..size).map(|_| Err(error.clone())).collect()
}

/// Raises the highest position heard of to `position`, waking `wait_for`, if it is higher.
fn raise(heard: &watch::Sender<u64>, position: u64) {
    heard.send_if_modified(|heard| {
        let newer = position > *heard;
        if newer {
            *heard = position;
        }
        newer
    });
}

/// Undoes the current append's statements, and ends the aborted state an error leaves; the
/// savepoint stays set.
async fn rollback_to_savepoint(tx: &mut Tx) -> Result<(), StoreError> {
    (&mut **tx)
        .execute(sqlx::raw_sql("ROLLBACK TO SAVEPOINT append"))
        .await
        .map(|_| ())
        .map_err(|e| backend("rolling an append back", &e))
}

/// The error a failed append gets, after the rollback to its savepoint, looking at the
/// transaction (which holds the group's earlier appends) where the failure needs it. `Err` if
/// looking failed.
async fn explain(tx: &mut Tx, failure: Failure, append: &PendingAppend) -> Result<StoreError, StoreError> {
    match failure {
        Failure::Store(error) => Ok(error),
        Failure::EventIdTaken => duplicate_event_id(tx, &append.batch.event_ids).await,
        Failure::SequenceTaken => Ok(StoreError::Conflict {
            expected: append.expected_sequence,
            actual: stream_head(tx, &append.account_id).await?,
        }),
    }
}

/// Step 2: the heads of the group's accounts, read once the lock is held, so they stay current
/// for the whole group as long as the group itself keeps them so. Accounts without events are
/// absent (head 0).
async fn group_heads(tx: &mut Tx, group: &[PendingAppend]) -> Result<HashMap<String, u64>, StoreError> {
    let accounts: Vec<&str> = group.iter().map(|a| a.account_id.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT account_id, head FROM streams WHERE account_id = ANY($1)")
        .bind(&accounts)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| backend("reading the stream heads", &e))?;
    rows.into_iter()
        .map(|(account, head)| Ok((account, to_u64(head, "head")?)))
        .collect()
}

async fn stream_head(tx: &mut Tx, account_id: &str) -> Result<u64, StoreError> {
    let head: Option<i64> = sqlx::query_scalar("SELECT head FROM streams WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| backend("reading the stream head", &e))?;
    head.map_or(Ok(0), |h| to_u64(h, "head"))
}

async fn apply_claims(
    tx: &mut Tx,
    account_id: &str,
    first_sequence: u64,
    claims: Vec<ClaimChange>,
) -> Result<(), StoreError> {
    for change in claims {
        match change {
            ClaimChange::Claim(claim) => {
                let inserted = sqlx::query(
                    "INSERT INTO unique_claims (account_id, scope, key, claimed_at_sequence) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(claim.holder(account_id))
                .bind(&claim.scope)
                .bind(&claim.key)
                .bind(to_i64(first_sequence))
                .execute(&mut **tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if unique_violation(&e) == Some("unique_claims_pkey") => {
                        return Err(StoreError::UniqueViolation {
                            scope: claim.scope,
                            key: claim.key,
                        })
                    }
                    Err(e) => return Err(writing("claiming a unique key", &e)),
                }
            }
            ClaimChange::Release(claim) => {
                sqlx::query("DELETE FROM unique_claims WHERE account_id = $1 AND scope = $2 AND key = $3")
                    .bind(claim.holder(account_id))
                    .bind(&claim.scope)
                    .bind(&claim.key)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| writing("releasing a unique key", &e))?;
            }
        }
    }
    Ok(())
}

/// After an append whose ids collided was rolled back: the id repeated within the batch, or the
/// one already stored. (Checked here, not up front, so that a batch with several faults fails
/// for the same one as in SQLite: a stale head first, then claims, then ids.)
async fn duplicate_event_id(tx: &mut Tx, ids: &[Uuid]) -> Result<StoreError, StoreError> {
    if let Some(id) = repeated_id(ids) {
        return Ok(StoreError::DuplicateEventId(id));
    }
    let found: Option<Uuid> = sqlx::query_scalar("SELECT event_id FROM events WHERE event_id = ANY($1) LIMIT 1")
        .bind(ids)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| backend("looking up a duplicate event id", &e))?;
    Ok(found.map_or_else(
        || StoreError::Internal("an event id was reported stored but is not".into()),
        StoreError::DuplicateEventId,
    ))
}

/// A duration as PostgreSQL's integer milliseconds (0 would disable the timeout: at least 1).
fn millis(duration: Duration) -> String {
    duration
        .as_millis()
        .clamp(1, u128::from(i32::MAX.unsigned_abs()))
        .to_string()
}

#[async_trait]
impl EventStore for PostgresEventStore {
    async fn append(
        &self,
        account_id: &str,
        expected_sequence: u64,
        events: Vec<NewEvent>,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, StoreError> {
        validate_append(account_id, expected_sequence, &events)?;
        let batch = encode(events)?;
        let (done, answer) = oneshot::channel();
        self.inner
            .appends
            .send(PendingAppend {
                account_id: account_id.to_owned(),
                expected_sequence,
                batch,
                claims,
                done,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the event log's writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the event log's writer stopped before answering".into()))?
    }

    async fn read_stream(
        &self,
        account_id: &str,
        from_sequence: u64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        validate_stream_id(account_id)?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE account_id = $1 AND sequence >= $2 \
             ORDER BY sequence LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .bind(to_i64(from_sequence))
            .bind(i64::from(limit))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| backend("reading a stream", &e))?;
        rows.iter()
            .map(|row| decode(row).map(|(_, envelope)| envelope))
            .collect()
    }

    async fn head(&self, account_id: &str) -> Result<u64, StoreError> {
        validate_stream_id(account_id)?;
        let head: Option<i64> = sqlx::query_scalar("SELECT head FROM streams WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| backend("reading the stream head", &e))?;
        head.map_or(Ok(0), |h| to_u64(h, "head"))
    }

    async fn accounts(&self) -> Result<Vec<String>, StoreError> {
        // Byte order, as the other adapters sort, whatever the database's collation.
        sqlx::query(r#"SELECT account_id FROM streams ORDER BY account_id COLLATE "C""#)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| backend("listing accounts", &e))?
            .iter()
            .map(|row| row.try_get("account_id").map_err(|e| backend("listing accounts", &e)))
            .collect()
    }
}

#[async_trait]
impl EventFeed for PostgresEventStore {
    async fn read_from(&self, after_position: u64, limit: u32) -> Result<Vec<(u64, EventEnvelope)>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > $1 \
             ORDER BY global_position LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(to_i64(after_position))
            .bind(i64::from(limit))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| backend("reading the feed", &e))?;
        rows.iter().map(decode).collect()
    }

    async fn wait_for(&self, after_position: u64, timeout: Duration) -> Result<bool, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Listening before the first look, so no commit after that look goes unheard.
        self.listening().await?;
        let mut heard = self.inner.heard.subscribe();
        loop {
            heard.borrow_and_update();
            let latest = self.latest_position().await?;
            if latest > after_position {
                raise(&self.inner.heard, latest);
                return Ok(true);
            }
            match tokio::time::timeout_at(deadline, heard.changed()).await {
                // Something was appended or the listener reconnected: look again.
                Ok(Ok(())) => {}
                // The timeout passed: the last look above was at most a moment ago, but take
                // one more so that an append whose notification was lost is still seen.
                Err(_) => return Ok(self.latest_position().await? > after_position),
                // The sender lives as long as the store; a closed channel means the store is
                // going away.
                Ok(Err(_)) => return Ok(false),
            }
        }
    }

    async fn latest_position(&self) -> Result<u64, StoreError> {
        let latest: i64 = sqlx::query_scalar("SELECT last FROM feed_position")
            .fetch_one(&self.inner.pool)
            .await
            .map_err(|e| backend("reading the latest position", &e))?;
        to_u64(latest, "position")
    }
}
