//! [`PostgresEventStore`]: connecting, and the [`EventStore`] and [`EventFeed`] impls.
//!
//! # One append, one transaction, under one lock
//!
//! An append runs, in one `READ COMMITTED` transaction:
//!
//! 1. `SELECT pg_advisory_xact_lock(APPEND_LOCK)`: the append lock, one constant key for the
//!    whole log, held until the transaction commits or rolls back;
//! 2. the account's head from `streams`, compared with the expected sequence (`Conflict` if it
//!    moved);
//! 3. the claim changes in order, one statement each (a taken key violates `unique_claims`'s
//!    primary key: `UniqueViolation`);
//! 4. one statement that advances the `feed_position` counter by the batch size, inserts the
//!    events with the positions and sequences that follow, queues their positions in `outbox`,
//!    moves the head in `streams` and calls `pg_notify` (a reused event id violates
//!    `events_event_id_key`: `DuplicateEventId`);
//! 5. `COMMIT`, which returns once the commit record is flushed (`synchronous_commit=on`).
//!
//! **Why a lock.** A follower reads the feed by position and stores the last position it saw. If
//! two transactions took positions 7 and 8 and 8 committed first, a follower could read 8, store
//! it, and never look at 7 again: a skipped event. A `SEQUENCE` alone has exactly this problem.
//! Holding one lock from taking the positions until the commit makes positions follow commit
//! order: a transaction that takes the lock sees every append committed before it (each
//! statement of a `READ COMMITTED` transaction takes a fresh snapshot, and PostgreSQL makes a
//! commit visible before releasing its locks), and nobody else takes positions until it ends.
//! The same lock makes the head check of step 2 race-free, so per-account optimistic concurrency
//! needs no row lock, and a command decided against a stale head always gets `Conflict` before
//! its claims are judged; the `(account_id, sequence)` primary key stays as a second guard.
//! The counter's row lock, taken by its `UPDATE` in step 4 and also held to the commit, would
//! order positions by itself, but it comes too late to cover the head check and the claims;
//! hence the advisory lock, taken first. It is transaction-scoped, so a crashed or disconnected
//! appender's lock is released with its transaction.
//!
//! **Why a counter row.** Under the lock a counter row costs nothing more than a sequence and is
//! transactional: a rolled-back append gives its positions back, so the feed has no gaps (the
//! port allows gaps; consumers get a denser, easier to check log).
//!
//! **The cost.** Appends from every process serialize on the lock: one append at a time holds it
//! for three round trips (plus one per claim change) and its commit's WAL flush, so the log's
//! write rate is bounded by roughly `1 / (round trips + fsync)`, whatever the number of writers.
//! On the project's 2-core test machine (fsync about 2.4 ms) that is about 400 appends a second,
//! from one task or from sixteen. Appends to *different* accounts wait for each other too, which
//! a per-account scheme would avoid at the price of positions out of commit order. IAM changes
//! are management calls, not decisions, so that rate is ample. `lock_timeout` bounds the wait
//! (then `Unavailable`), and `idle_in_transaction_session_timeout` ends a session that stalls
//! while holding the lock. If the rate ever matters, the next steps are group commit (several
//! appends per transaction and fsync, as the SQLite adapter does) or a server-side function (one
//! round trip per append).
//!
//! **Ambiguous commits.** If the connection drops while `COMMIT` is in flight, the append may or
//! may not be stored; it fails with `Unavailable`. Nothing is appended twice by retrying: a retry
//! against the same head gets `Conflict` if the first attempt was stored, and catching up then
//! shows the first attempt's events (same ids); a retry with other sequences but the same ids
//! gets `DuplicateEventId`.
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

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_eventlog::{
    validate_account_id, validate_append, AppendOutcome, ClaimChange, EventEnvelope, EventFeed, EventStore, NewEvent,
    StoreError,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use tokio::sync::{watch, OnceCell};
use uuid::Uuid;

use crate::errors::{backend, migration, unique_violation, writing};
use crate::notify::{self, Listener};
use crate::options::{is_valid_schema, PostgresStoreOptions};
use crate::rows::{decode, encode, repeated_id, to_i64, to_u64, EncodedBatch, EVENT_COLUMNS};

/// The environment variable that holds the connection URL, e.g.
/// `postgres://gatehouse:gatehouse@127.0.0.1:15432/gatehouse` (what `infra/postgres/start.sh`
/// prints).
pub const DATABASE_URL_ENV: &str = "GATEHOUSE_DATABASE_URL";

/// The advisory-lock key every append takes (`pg_advisory_xact_lock`): the ASCII bytes of
/// `gh:event`. One key for the whole database, whatever the schema, so logs in different schemas
/// of one database serialize their appends together (harmless, and only tests do that).
pub const APPEND_LOCK: i64 = i64::from_be_bytes(*b"gh:event");

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
/// and the per-account head check keep them correct. Clones share the pool and the listener.
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
    /// Started by the first `wait_for`.
    listener: OnceCell<Listener>,
}

/// Why an append's transaction failed; some reasons need a look at the database after the
/// rollback to become a [`StoreError`].
enum Failure {
    Store(StoreError),
    /// `events_event_id_key` was violated: one of the batch's ids is stored already or occurs
    /// twice in the batch.
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
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and runs
    /// the embedded migrations in the configured schema.
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

        let store = Self {
            inner: Arc::new(Inner {
                pool,
                connect,
                channel: notify::channel(options.schema.as_deref()),
                heard: Arc::new(watch::channel(0).0),
                listener: OnceCell::new(),
            }),
        };
        let position = store.latest_position().await?;
        store.bump_heard(position);
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

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    fn bump_heard(&self, position: u64) {
        self.inner.heard.send_if_modified(|heard| {
            let newer = position > *heard;
            if newer {
                *heard = position;
            }
            newer
        });
    }

    async fn stream_head(tx: &mut Transaction<'static, Postgres>, account_id: &str) -> Result<u64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT head FROM streams WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| backend("reading the stream head", &e))?;
        head.map_or(Ok(0), |h| to_u64(h, "head"))
    }

    async fn apply_claims(
        tx: &mut Transaction<'static, Postgres>,
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
                    .bind(account_id)
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
                        .bind(account_id)
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

    /// Steps 1-4 of an append (see the module documentation); the caller commits or rolls back.
    async fn append_in(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        account_id: &str,
        expected_sequence: u64,
        batch: EncodedBatch,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, Failure> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(|e| backend("taking the append lock", &e))?;
        let head = Self::stream_head(tx, account_id).await?;
        if head != expected_sequence {
            return Err(StoreError::Conflict {
                expected: expected_sequence,
                actual: head,
            }
            .into());
        }
        Self::apply_claims(tx, account_id, head + 1, claims).await?;

        let count = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(INSERT_EVENTS)
            .bind(account_id)
            .bind(to_i64(count))
            .bind(to_i64(head))
            .bind(batch.event_ids)
            .bind(batch.recorded_at)
            .bind(batch.actors)
            .bind(batch.request_ids)
            .bind(batch.event_types)
            .bind(batch.schema_versions)
            .bind(batch.payloads)
            .bind(&self.inner.channel)
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

    /// After a rolled-back append whose ids collided: the id repeated within the batch, or the
    /// one already stored. (Checked here, not up front, so that a batch with several faults
    /// fails for the same one as in SQLite: a stale head first, then claims, then ids.)
    async fn duplicate_event_id(&self, ids: &[Uuid]) -> Result<StoreError, StoreError> {
        if let Some(id) = repeated_id(ids) {
            return Ok(StoreError::DuplicateEventId(id));
        }
        let found: Option<Uuid> = sqlx::query_scalar("SELECT event_id FROM events WHERE event_id = ANY($1) LIMIT 1")
            .bind(ids)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| backend("looking up a duplicate event id", &e))?;
        Ok(found.map_or_else(
            || StoreError::Internal("an event id was reported stored but is not".into()),
            StoreError::DuplicateEventId,
        ))
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
        let ids = batch.event_ids.clone();
        let mut tx = self
            .inner
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE")
            .await
            .map_err(|e| backend("starting an append", &e))?;
        match self
            .append_in(&mut tx, account_id, expected_sequence, batch, claims)
            .await
        {
            Ok(outcome) => {
                tx.commit().await.map_err(|e| backend("committing an append", &e))?;
                self.bump_heard(outcome.global_position);
                Ok(outcome)
            }
            Err(failure) => {
                // Explicitly, not on drop: the append lock is released only when the rollback
                // has run, and dropping a transaction defers it.
                if let Err(error) = tx.rollback().await {
                    tracing::warn!(%error, "rolling back a failed append");
                }
                match failure {
                    Failure::Store(error) => Err(error),
                    Failure::EventIdTaken => Err(self.duplicate_event_id(&ids).await?),
                    Failure::SequenceTaken => Err(StoreError::Conflict {
                        expected: expected_sequence,
                        actual: self.head(account_id).await?,
                    }),
                }
            }
        }
    }

    async fn read_stream(
        &self,
        account_id: &str,
        from_sequence: u64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        validate_account_id(account_id)?;
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
        validate_account_id(account_id)?;
        let head: Option<i64> = sqlx::query_scalar("SELECT head FROM streams WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| backend("reading the stream head", &e))?;
        head.map_or(Ok(0), |h| to_u64(h, "head"))
    }

    async fn accounts(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT account_id FROM streams ORDER BY account_id")
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
                self.bump_heard(latest);
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
