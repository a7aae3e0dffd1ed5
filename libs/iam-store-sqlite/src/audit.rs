//! [`SqliteAuditLog`]: the embedded audit history, with group commit.
//!
//! Appends from every request funnel into one writer thread that commits whatever has queued up
//! to the append-only `audit_log` in one transaction (one fsync for many records), then answers
//! every waiter: a caller's append returns only after its records are durable.
//!
//! The query index (`audit_index`) is a projection of the log in a file of its own, written by a
//! second thread in larger batches (every [`INDEX_INTERVAL`], or at once when a query asks), with
//! its checkpoint in the same transaction. Separate files mean separate write locks: index
//! batches never hold up a durable append, and small appends stay cheap because they touch no
//! index pages. The log thread hands each committed record to the index thread before it answers
//! the append, and a query first asks the index thread to project everything handed over, so a
//! record is visible to every query that starts after its append returned. After a crash the index
//! catches up from the log when the files are opened.

use std::sync::mpsc as channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use iam_audit::{AuditError, AuditFilter, AuditLog, AuditPage, AuditRecord, GroupBy};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use tokio::sync::oneshot;

/// How many queued appends one transaction takes at most.
const MAX_GROUP: usize = 512;
/// How long acknowledged records may wait for the index when no query asks for them. Queries
/// flush first, so this bounds only how much work one batch does: larger batches rewrite each
/// hot index page once for more records.
const INDEX_INTERVAL: Duration = Duration::from_millis(250);
/// How many pending records make the writer project the index without waiting.
const INDEX_BATCH: usize = 8_192;
/// How many committed records may wait for the index before appends wait for it: bounds the
/// index's lag (and the memory of its queue) when appends outrun it for long.
const MAX_INDEX_BACKLOG: usize = 32_768;
/// WAL pages between checkpoints (SQLite's default is 1,000): a page changed by many commits is
/// copied into the database file once per checkpoint, so fewer checkpoints write less.
const WAL_CHECKPOINT_PAGES: u32 = 10_000;

/// Records handed to the index thread and not yet indexed, with a signal when it falls.
#[derive(Default)]
struct Backlog {
    records: std::sync::Mutex<usize>,
    fell: std::sync::Condvar,
}

impl Backlog {
    fn add(&self, n: usize) {
        if let Ok(mut records) = self.records.lock() {
            *records += n;
        }
    }

    fn remove(&self, n: usize) {
        if let Ok(mut records) = self.records.lock() {
            *records = records.saturating_sub(n);
        }
        self.fell.notify_all();
    }

    /// Blocks while the backlog is over its bound, for at most two seconds: a failing index must
    /// not stop the log, which is what durability rests on.
    fn wait_below_bound(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let Ok(mut records) = self.records.lock() else { return };
        while *records > MAX_INDEX_BACKLOG && Instant::now() < deadline {
            match self.fell.wait_timeout(records, Duration::from_millis(100)) {
                Ok((guard, _)) => records = guard,
                Err(_) => return,
            }
        }
    }
}

/// A record ready to write: serialized by the caller's task, not the writer's.
struct Prepared {
    account_id: String,
    event_id: String,
    event_time: String,
    json: String,
    event_name: String,
    event_source: String,
    principal_arn: String,
    action: String,
    resource_arn: Option<String>,
    decision: Option<String>,
    error_code: Option<String>,
    read_only: bool,
}

/// Records to make durable, and who waits for them.
struct Append {
    records: Vec<Prepared>,
    done: oneshot::Sender<Result<(), AuditError>>,
}

/// What the index thread is given.
enum IndexWork {
    /// Records committed to the log, with their positions.
    Records(Vec<(i64, Prepared)>),
    /// Project everything received so far, then answer.
    Flush(oneshot::Sender<Result<(), AuditError>>),
}

/// How hard an append is pushed to disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditDurability {
    /// fsync at every commit: survives power loss.
    #[default]
    Full,
    /// WAL without fsync at commit: survives kill -9 of the process, not a power cut.
    Process,
}

/// The audit history in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    appends: channel::Sender<Append>,
    index: channel::Sender<IndexWork>,
    reader: SqlitePool,
    writer: SqlitePool,
}

fn unavailable(context: &str, error: &impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!("{context}: {error}"))
}

/// `audit.db` -> `audit-index.db`; any other name gets `.index` appended.
fn index_file(path: &str) -> String {
    match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}-index.db"),
        None => format!("{path}.index"),
    }
}

/// A writer thread's own connection (the sqlx pools only migrate and read).
fn writer_connection(
    path: &str,
    durability: AuditDurability,
    cache_kib: u32,
) -> Result<rusqlite::Connection, AuditError> {
    let connection = rusqlite::Connection::open(path).map_err(|e| unavailable("opening the audit writer", &e))?;
    let synchronous = match durability {
        AuditDurability::Full => "FULL",
        AuditDurability::Process => "NORMAL",
    };
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -{cache_kib}; PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
        ))
        .map_err(|e| unavailable("configuring the audit writer", &e))?;
    Ok(connection)
}

fn time_text(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl SqliteAuditLog {
    /// Opens (creating if missing) the audit log at the file `path`, its index beside it
    /// (`audit.db` -> `audit-index.db`), and starts the log and index threads.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] if the file cannot be opened or migrated.
    pub async fn open(path: &str, durability: AuditDurability) -> Result<Self, AuditError> {
        let index_path = index_file(path);
        let synchronous = match durability {
            AuditDurability::Full => SqliteSynchronous::Full,
            AuditDurability::Process => SqliteSynchronous::Normal,
        };
        let options = |file: &str| {
            SqliteConnectOptions::new()
                .filename(file)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options(path).create_if_missing(true))
            .await
            .map_err(|e| unavailable("opening the audit log", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/audit");
        migrator.set_ignore_missing(true);
        migrator
            .run(&writer)
            .await
            .map_err(|e| unavailable("migrating the audit log", &e))?;
        let index_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(&index_path).create_if_missing(true))
            .await
            .map_err(|e| unavailable("opening the audit index", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/audit_index");
        migrator.set_ignore_missing(true);
        migrator
            .run(&index_pool)
            .await
            .map_err(|e| unavailable("migrating the audit index", &e))?;
        index_pool.close().await;
        let attach = index_path.clone();
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(move |connection, _| {
                let attach = attach.clone();
                Box::pin(async move {
                    sqlx::query("ATTACH DATABASE ? AS idx")
                        .bind(attach)
                        .execute(connection)
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(options(path).read_only(true))
            .await
            .map_err(|e| unavailable("opening the audit log for reading", &e))?;

        // The log only appends; the index keeps its hot pages (the newest entries of every
        // account, principal, action and resource) cached.
        let mut log_connection = writer_connection(path, durability, 16 * 1024)?;
        let mut index_connection = writer_connection(&index_path, AuditDurability::Process, 64 * 1024)?;
        // Records acknowledged before a crash but not yet indexed are indexed now.
        catch_up_index(&mut log_connection, &mut index_connection)
            .map_err(|e| unavailable("catching the audit index up", &e))?;
        let (index, index_queue) = channel::channel();
        let (appends, append_queue) = channel::channel();
        let to_index = index.clone();
        let backlog = Arc::new(Backlog::default());
        let indexed = backlog.clone();
        std::thread::Builder::new()
            .name("audit-index".into())
            .spawn(move || index_loop(index_connection, &index_queue, &indexed))
            .map_err(|e| unavailable("starting the audit indexer", &e))?;
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || append_loop(log_connection, &append_queue, &to_index, &backlog))
            .map_err(|e| unavailable("starting the audit writer", &e))?;
        Ok(SqliteAuditLog {
            appends,
            index,
            reader,
            writer,
        })
    }

    /// Every record of `account_id` with `from <= eventTime < to`, oldest first, for export.
    ///
    /// # Errors
    /// A backend failure.
    pub async fn export(
        &self,
        account_id: &str,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<AuditRecord>, AuditError> {
        // Through the index's (account, time) order: the log itself is ordered only by position.
        self.index_acknowledged().await?;
        let rows = sqlx::query(
            "SELECT l.record FROM audit_index i JOIN audit_log l ON l.position = i.position \
             WHERE i.account_id = ? AND i.event_time >= ? AND i.event_time < ? \
             ORDER BY i.event_time, i.position",
        )
        .bind(account_id)
        .bind(from.map_or_else(|| "0".to_owned(), time_text))
        .bind(to.map_or_else(|| "9".to_owned(), time_text))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| unavailable("exporting the audit log", &e))?;
        rows.iter()
            .map(|row| serde_json::from_str(row.get::<&str, _>(0)).map_err(|e| unavailable("reading a record", &e)))
            .collect()
    }

    /// Waits until every record acknowledged so far is in the index.
    async fn index_acknowledged(&self) -> Result<(), AuditError> {
        let (done, indexed) = oneshot::channel();
        self.index
            .send(IndexWork::Flush(done))
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        indexed
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before indexing".into()))?
    }

    /// Stops accepting appends and closes the database.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The log thread: commits whatever appends have queued in one transaction, hands the records to
/// the index thread, then answers each append. It runs on its own OS thread with a synchronous
/// SQLite binding: the hot loop is a prepared statement per row, with no hop through an async
/// driver's worker channel.
fn append_loop(
    mut connection: rusqlite::Connection,
    queue: &channel::Receiver<Append>,
    index: &channel::Sender<IndexWork>,
    backlog: &Backlog,
) {
    while let Ok(first) = queue.recv() {
        // Appends that outrun the index for long wait for it here, so its lag stays bounded.
        backlog.wait_below_bound();
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match append_group(&mut connection, group.iter().flat_map(|a| &a.records)) {
            Ok(first_position) => {
                let mut waiters = Vec::with_capacity(group.len());
                let mut committed = Vec::new();
                for (position, record) in (first_position..).zip(group.into_iter().flat_map(|a| {
                    waiters.push(a.done);
                    a.records
                })) {
                    committed.push((position, record));
                }
                // Handed over before anyone is answered: a query sent after an answer finds
                // these records ahead of it in the index thread's queue.
                backlog.add(committed.len());
                let _ = index.send(IndexWork::Records(committed));
                for done in waiters {
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                let error = unavailable("writing audit records", &error);
                tracing::error!(%error, "audit records could not be made durable");
                for append in group {
                    let _ = append.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// The index thread: projects committed records into the index in batches.
fn index_loop(mut connection: rusqlite::Connection, queue: &channel::Receiver<IndexWork>, backlog: &Backlog) {
    let mut pending: Vec<(i64, Prepared)> = Vec::new();
    let mut oldest_pending: Option<Instant> = None;
    loop {
        let first = match oldest_pending {
            None => match queue.recv() {
                Ok(work) => Some(work),
                Err(_) => return,
            },
            Some(since) => match queue.recv_timeout(INDEX_INTERVAL.saturating_sub(since.elapsed())) {
                Ok(work) => Some(work),
                Err(channel::RecvTimeoutError::Timeout) => None,
                Err(channel::RecvTimeoutError::Disconnected) => return,
            },
        };
        let mut waiters = Vec::new();
        let mut next = first;
        while let Some(work) = next.take() {
            match work {
                IndexWork::Records(records) => {
                    oldest_pending.get_or_insert_with(Instant::now);
                    pending.extend(records);
                }
                IndexWork::Flush(done) => waiters.push(done),
            }
            next = queue.try_recv().ok();
        }
        let due = !waiters.is_empty()
            || pending.len() >= INDEX_BATCH
            || oldest_pending.is_some_and(|since| since.elapsed() >= INDEX_INTERVAL);
        if !due {
            continue;
        }
        let result = if pending.is_empty() {
            Ok(())
        } else {
            index_records(&mut connection, &pending).map_err(|e| unavailable("indexing audit records", &e))
        };
        match &result {
            Ok(()) => {
                backlog.remove(pending.len());
                pending.clear();
                oldest_pending = None;
            }
            // The records stay pending (they are durable in the log) and are retried.
            Err(error) => tracing::error!(%error, "the audit index could not be updated"),
        }
        for done in waiters {
            let _ = done.send(result.clone());
        }
    }
}

/// Appends records to the log in one transaction; returns the first record's position.
fn append_group<'r>(
    connection: &mut rusqlite::Connection,
    records: impl Iterator<Item = &'r Prepared>,
) -> rusqlite::Result<i64> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // The writer is the only connection that appends, so positions are assigned here, in order,
    // from the current end of the log.
    let last: Option<i64> = tx.query_row("SELECT max(position) FROM audit_log", [], |row| row.get(0))?;
    let first = last.unwrap_or(0) + 1;
    {
        let mut log = tx.prepare_cached(
            "INSERT INTO audit_log (position, account_id, event_id, event_time, record) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (position, record) in (first..).zip(records) {
            log.execute(rusqlite::params![
                position,
                record.account_id,
                record.event_id,
                record.event_time,
                record.json
            ])?;
        }
    }
    tx.commit()?;
    Ok(first)
}

/// Writes index rows and moves the index checkpoint, in one transaction.
fn index_records(connection: &mut rusqlite::Connection, records: &[(i64, Prepared)]) -> rusqlite::Result<()> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut index = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_index (position, account_id, event_time, event_name, event_source, \
             principal_arn, action, resource_arn, decision, error_code, read_only) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for (position, record) in records {
            index.execute(rusqlite::params![
                position,
                record.account_id,
                record.event_time,
                record.event_name,
                record.event_source,
                record.principal_arn,
                record.action,
                record.resource_arn,
                record.decision,
                record.error_code,
                record.read_only
            ])?;
        }
        if let Some((last, _)) = records.last() {
            tx.execute(
                "INSERT INTO audit_index_checkpoint (id, position) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)",
                [last],
            )?;
        }
    }
    tx.commit()
}

/// Projects every log record past the index checkpoint (after a crash between a log commit and
/// the index batch that would have followed it).
fn catch_up_index(log: &mut rusqlite::Connection, connection: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    loop {
        let checkpoint: i64 = connection
            .query_row("SELECT position FROM audit_index_checkpoint WHERE id = 1", [], |row| {
                row.get(0)
            })
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(0),
                other => Err(other),
            })?;
        let rows: Vec<(i64, String)> = {
            let mut statement = log
                .prepare("SELECT position, record FROM audit_log WHERE position > ?1 ORDER BY position LIMIT 10000")?;
            let rows = statement.query_map([checkpoint], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if rows.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(rows.len());
        for (position, json) in rows {
            let record: AuditRecord =
                serde_json::from_str(&json).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let prepared = prepare(&record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            batch.push((position, prepared));
        }
        index_records(connection, &batch)?;
    }
}

fn prepare(record: &AuditRecord) -> Result<Prepared, AuditError> {
    Ok(Prepared {
        account_id: record.recipient_account_id.clone(),
        event_id: record.event_id.clone(),
        event_time: time_text(record.event_time),
        json: serde_json::to_string(record).map_err(|e| unavailable("encoding a record", &e))?,
        event_name: record.event_name.clone(),
        event_source: record.event_source.clone(),
        principal_arn: record.user_identity.arn.clone(),
        action: record.action(),
        resource_arn: record.resource_arn(),
        decision: record.decision().map(str::to_owned),
        error_code: record.error_code.clone(),
        read_only: record.read_only,
    })
}

fn parse_cursor(cursor: &str) -> Result<(String, i64), AuditError> {
    let invalid = || AuditError::Invalid(format!("{cursor:?} is not a cursor from auditEvents"));
    let (time, position) = cursor.rsplit_once('|').ok_or_else(invalid)?;
    Ok((time.to_owned(), position.parse().map_err(|_| invalid())?))
}

/// `WHERE` conditions and their values for a filter (always starting with the account).
fn conditions(filter: &AuditFilter) -> (String, Vec<String>) {
    let mut sql = String::from("account_id = ?");
    let mut values = vec![filter.account_id.clone()];
    let mut push = |column: &str, op: &str, value: Option<String>| {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} {op} ?"));
            values.push(value);
        }
    };
    push("event_time", ">=", filter.from.map(time_text));
    push("event_time", "<", filter.to.map(time_text));
    push("principal_arn", "=", filter.principal_arn.clone());
    push("event_name", "=", filter.event_name.clone());
    push("event_source", "=", filter.event_source.clone());
    push("action", "=", filter.action.clone());
    push("resource_arn", "=", filter.resource_arn.clone());
    push("decision", "=", filter.decision.clone());
    push("error_code", "=", filter.error_code.clone());
    // Repeat the partial indexes' conditions so SQLite knows they apply.
    if filter.event_name.as_deref().is_some_and(|name| name != "Authorize") {
        sql.push_str(" AND event_name <> 'Authorize'");
    }
    if filter.decision.as_deref().is_some_and(|decision| decision != "Allow") {
        sql.push_str(" AND decision <> 'Allow'");
    }
    (sql, values)
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), AuditError> {
        if records.is_empty() {
            return Ok(());
        }
        let records = records.iter().map(prepare).collect::<Result<Vec<_>, _>>()?;
        let (done, committed) = oneshot::channel();
        self.appends
            .send(Append { records, done })
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before committing".into()))?
    }

    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError> {
        self.index_acknowledged().await?;
        let (mut sql, mut values) = conditions(filter);
        // The cursor is the last record's (event time, position): the page continues below it.
        let before = match after {
            Some(cursor) => Some(parse_cursor(cursor)?),
            None => None,
        };
        if let Some((time, _)) = &before {
            sql.push_str(" AND (event_time, position) < (?, ?)");
            values.push(time.clone());
        }
        let query_text = format!(
            "SELECT i.position, i.event_time, l.record FROM audit_index i JOIN audit_log l ON l.position = i.position \
             WHERE i.position IN (SELECT position FROM audit_index WHERE {sql} \
             ORDER BY event_time DESC, position DESC LIMIT ?) \
             ORDER BY i.event_time DESC, i.position DESC"
        );
        let mut query = sqlx::query(&query_text);
        for value in &values {
            query = query.bind(value);
        }
        if let Some((_, position)) = before {
            query = query.bind(position);
        }
        let limit = i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = query
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| unavailable("querying the audit log", &e))?;
        let has_next_page = rows.len() > first;
        let records = rows
            .iter()
            .take(first)
            .map(|row| {
                let record =
                    serde_json::from_str(row.get::<&str, _>(2)).map_err(|e| unavailable("reading a record", &e))?;
                let cursor = format!("{}|{}", row.get::<&str, _>(1), row.get::<i64, _>(0));
                Ok((cursor, record))
            })
            .collect::<Result<Vec<_>, AuditError>>()?;
        Ok(AuditPage { records, has_next_page })
    }

    async fn count_by(
        &self,
        filter: &AuditFilter,
        group_by: GroupBy,
    ) -> Result<Vec<(Option<String>, u64)>, AuditError> {
        self.index_acknowledged().await?;
        let column = match group_by {
            GroupBy::EventName => "event_name",
            GroupBy::EventSource => "event_source",
            GroupBy::PrincipalArn => "principal_arn",
            GroupBy::Decision => "decision",
            GroupBy::ErrorCode => "error_code",
            GroupBy::Action => "action",
        };
        let (sql, values) = conditions(filter);
        let text = format!(
            "SELECT {column}, count(*) FROM audit_index WHERE {sql} GROUP BY {column} ORDER BY count(*) DESC, {column}"
        );
        let mut query = sqlx::query(&text);
        for value in &values {
            query = query.bind(value);
        }
        let rows = query
            .fetch_all(&self.reader)
            .await
            .map_err(|e| unavailable("counting the audit log", &e))?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get::<Option<String>, _>(0),
                    u64::try_from(row.get::<i64, _>(1)).unwrap_or(0),
                )
            })
            .collect())
    }
}
