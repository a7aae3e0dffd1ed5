//! [`SqliteEventStore`]: opening the database and the [`EventStore`] and [`EventFeed`] impls.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_eventlog::{
    validate_append, validate_stream_id, AppendOutcome, ClaimChange, EventEnvelope, EventFeed, EventStore, NewEvent,
    StoreError,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot, watch};

use crate::errors::{backend, migration};
use crate::options::SqliteStoreOptions;
use crate::rows::{decode, encode, to_i64, to_u64, EVENT_COLUMNS};
use crate::writer::{self, PendingAppend};

/// The event log in one SQLite file: implements both [`EventStore`] and [`EventFeed`].
///
/// Appends go through one writer thread with its own connection (see `writer`), so appends from
/// this process queue in order instead of spinning on SQLite's lock; reads use a separate
/// read-only pool, and migrations a read-write pool of one connection. Other
/// processes may open the same file: `BEGIN IMMEDIATE` and the busy timeout keep them correct,
/// though [`EventFeed::wait_for`] notices their appends only when its timeout ends.
/// Clones share the pools and the append notifications.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Highest feed position committed through this handle (or seen by `wait_for`).
    latest: Arc<watch::Sender<u64>>,
    /// The group-commit writer's queue.
    appends: mpsc::Sender<PendingAppend>,
}

impl SqliteEventStore {
    /// Opens (creating if allowed) the store at a file path or a `sqlite:` URL, applies the
    /// pragmas that make acknowledged appends durable, and runs the embedded migrations.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the file cannot be opened, [`StoreError::Internal`] if the
    /// URL is malformed or a migration fails (for example, the file holds a newer schema).
    pub async fn open(path_or_url: &str, options: SqliteStoreOptions) -> Result<Self, StoreError> {
        let base = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url)
                .map_err(|e| StoreError::Internal(format!("invalid sqlite url: {e}")))?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is synced at every commit, so an acknowledged append survives a
            // power cut, not only a process kill.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(
                base.clone()
                    .create_if_missing(options.create_if_missing)
                    .read_only(false),
            )
            .await
            .map_err(|e| backend("opening the event log", &e))?;

        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/eventlog");
        // Another migrator (the read model) may share the file with its own version range.
        migrator.set_ignore_missing(true);
        migrator.run(&writer).await.map_err(|e| migration(&e))?;

        let reader = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.clone().read_only(true))
            .await
            .map_err(|e| backend("opening the event log for reading", &e))?;

        let latest = Arc::new(watch::channel(0).0);
        let (appends, queue) = mpsc::channel(4096);
        let connection = writer::connect(base.get_filename(), options.busy_timeout)?;
        let committed = latest.clone();
        std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || writer::run(connection, queue, &committed))
            .map_err(|e| StoreError::Unavailable(format!("starting the event log writer: {e}")))?;
        let store = Self {
            writer,
            reader,
            latest,
            appends,
        };
        let position = store.latest_position().await?;
        store.bump_latest(position);
        Ok(store)
    }

    /// The read-write pool (one connection; the migrations ran on it). Appends use the writer
    /// thread's own connection, so a write through this pool waits for SQLite's lock like
    /// another process's would; a read model that wants the same file had better open its own.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The read-only pool used by reads and the feed.
    #[must_use]
    pub fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    fn bump_latest(&self, position: u64) {
        self.latest.send_if_modified(|latest| {
            let newer = position > *latest;
            if newer {
                *latest = position;
            }
            newer
        });
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        account_id: &str,
        expected_sequence: u64,
        events: Vec<NewEvent>,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, StoreError> {
        validate_append(account_id, expected_sequence, &events)?;
        let encoded = events.into_iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let (done, committed) = oneshot::channel();
        self.appends
            .send(PendingAppend {
                account_id: account_id.to_owned(),
                expected_sequence,
                events: encoded,
                claims,
                done,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the event log's writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| StoreError::Unavailable("the event log's writer stopped before committing".into()))?
    }

    async fn read_stream(
        &self,
        account_id: &str,
        from_sequence: u64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        validate_stream_id(account_id)?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE account_id = ? AND sequence >= ? \
             ORDER BY sequence LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .bind(to_i64(from_sequence))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(|e| backend("reading a stream", &e))?;
        rows.iter()
            .map(|row| decode(row).map(|(_, envelope)| envelope))
            .collect()
    }

    async fn head(&self, account_id: &str) -> Result<u64, StoreError> {
        validate_stream_id(account_id)?;
        let head: Option<i64> = sqlx::query_scalar("SELECT head FROM streams WHERE account_id = ?")
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| backend("reading the stream head", &e))?;
        head.map_or(Ok(0), |h| to_u64(h, "head"))
    }

    async fn accounts(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT account_id FROM streams ORDER BY account_id")
            .fetch_all(&self.reader)
            .await
            .map_err(|e| backend("listing accounts", &e))?
            .iter()
            .map(|row| row.try_get("account_id").map_err(|e| backend("listing accounts", &e)))
            .collect()
    }
}

#[async_trait]
impl EventFeed for SqliteEventStore {
    async fn read_from(&self, after_position: u64, limit: u32) -> Result<Vec<(u64, EventEnvelope)>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? \
             ORDER BY global_position LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(to_i64(after_position))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(|e| backend("reading the feed", &e))?;
        rows.iter().map(decode).collect()
    }

    async fn wait_for(&self, after_position: u64, timeout: Duration) -> Result<bool, StoreError> {
        let mut receiver = self.latest.subscribe();
        if *receiver.borrow_and_update() > after_position {
            return Ok(true);
        }
        // Another process may have appended: look at the file before sleeping.
        let latest = self.latest_position().await?;
        if latest > after_position {
            self.bump_latest(latest);
            return Ok(true);
        }
        let woke = tokio::time::timeout(timeout, receiver.wait_for(|&latest| latest > after_position))
            .await
            .is_ok_and(|changed| changed.is_ok());
        if woke {
            return Ok(true);
        }
        let latest = self.latest_position().await?;
        self.bump_latest(latest);
        Ok(latest > after_position)
    }

    async fn latest_position(&self) -> Result<u64, StoreError> {
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(global_position) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(|e| backend("reading the latest position", &e))?;
        latest.map_or(Ok(0), |p| to_u64(p, "position"))
    }
}
