//! [`SqliteAuditLog`]: the embedded audit history, with group commit.
//!
//! Appends from every request funnel into one writer task that commits whatever has queued up in
//! one transaction (one fsync for many records), then answers every waiter. A caller's append
//! returns only after its records' transaction committed.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use iam_audit::{AuditError, AuditFilter, AuditLog, AuditPage, AuditRecord, GroupBy};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

/// How many queued appends one transaction takes at most.
const MAX_GROUP: usize = 512;

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

struct Append {
    records: Vec<Prepared>,
    done: oneshot::Sender<Result<(), AuditError>>,
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
    appends: mpsc::Sender<Append>,
    reader: SqlitePool,
    writer: SqlitePool,
}

fn unavailable(context: &str, error: &impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!("{context}: {error}"))
}

/// The writer's own connection (the sqlx pool only migrates and reads).
fn writer_connection(path_or_url: &str, durability: AuditDurability) -> Result<rusqlite::Connection, AuditError> {
    let path = path_or_url
        .strip_prefix("sqlite://")
        .or_else(|| path_or_url.strip_prefix("sqlite:"))
        .unwrap_or(path_or_url);
    let path = path.split('?').next().unwrap_or(path);
    let connection = rusqlite::Connection::open(path).map_err(|e| unavailable("opening the audit writer", &e))?;
    let synchronous = match durability {
        AuditDurability::Full => "FULL",
        AuditDurability::Process => "NORMAL",
    };
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -16384;"
        ))
        .map_err(|e| unavailable("configuring the audit writer", &e))?;
    Ok(connection)
}

fn time_text(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl SqliteAuditLog {
    /// Opens (creating if missing) the audit log and starts its writer task.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] if the file cannot be opened or migrated.
    pub async fn open(path_or_url: &str, durability: AuditDurability) -> Result<Self, AuditError> {
        let base = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url).map_err(|e| unavailable("parsing the sqlite url", &e))?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let synchronous = match durability {
            AuditDurability::Full => SqliteSynchronous::Full,
            AuditDurability::Process => SqliteSynchronous::Normal,
        };
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(|e| unavailable("opening the audit log", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/audit");
        migrator.set_ignore_missing(true);
        migrator
            .run(&writer)
            .await
            .map_err(|e| unavailable("migrating the audit log", &e))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| unavailable("opening the audit log for reading", &e))?;
        let connection = writer_connection(path_or_url, durability)?;
        let (appends, queue) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(connection, queue))
            .map_err(|e| unavailable("starting the audit writer", &e))?;
        Ok(SqliteAuditLog {
            appends,
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
        let rows = sqlx::query(
            "SELECT record FROM audit_log WHERE account_id = ? AND event_time >= ? AND event_time < ? ORDER BY position",
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

    /// Stops accepting appends and closes the database.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The writer thread: takes whatever appends have queued, writes them in one transaction, answers
/// each after the commit. It runs on its own OS thread with a synchronous SQLite binding: the hot
/// loop is a prepared statement per row, with no hop through an async driver's worker channel.
fn write_loop(mut connection: rusqlite::Connection, mut queue: mpsc::Receiver<Append>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let result = write_group(&mut connection, &group).map_err(|e| unavailable("writing audit records", &e));
        if let Err(error) = &result {
            tracing::error!(%error, "audit records could not be made durable");
        }
        for append in group {
            let _ = append.done.send(result.clone());
        }
    }
}

fn write_group(connection: &mut rusqlite::Connection, group: &[Append]) -> rusqlite::Result<()> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        // The writer is the only connection that appends, so positions are assigned here, in
        // order, from the current end of the log.
        let last: Option<i64> = tx.query_row("SELECT max(position) FROM audit_log", [], |row| row.get(0))?;
        let mut position = last.unwrap_or(0);
        let mut log = tx.prepare_cached(
            "INSERT INTO audit_log (position, account_id, event_id, event_time, record) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut index = tx.prepare_cached(
            "INSERT INTO audit_index (position, account_id, event_time, event_name, event_source, principal_arn, \
             action, resource_arn, decision, error_code, read_only) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for record in group.iter().flat_map(|a| &a.records) {
            position += 1;
            log.execute(rusqlite::params![
                position,
                record.account_id,
                record.event_id,
                record.event_time,
                record.json
            ])?;
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
    }
    tx.commit()
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
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before committing".into()))?
    }

    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError> {
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
