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
            .busy_timeout(Duration::from_secs(10))
            // Index inserts land at scattered keys (principals, resources): a large page cache
            // keeps the hot index pages in memory instead of re-reading them per insert.
            .pragma("cache_size", "-262144")
            .pragma("temp_store", "memory");
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
        let (appends, queue) = mpsc::channel(4096);
        tokio::spawn(write_loop(writer.clone(), queue));
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

async fn write_loop(pool: SqlitePool, mut queue: mpsc::Receiver<Append>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let result = write_group(&pool, &group).await;
        if let Err(error) = &result {
            tracing::error!(%error, "audit records could not be made durable");
        }
        for append in group {
            let _ = append.done.send(result.clone());
        }
    }
}

/// Rows per multi-row `INSERT`: one statement per 128 records keeps the per-statement cost of
/// the driver out of the per-record cost, well under SQLite's bound-variable limit.
const ROWS_PER_STATEMENT: usize = 128;

async fn write_group(pool: &SqlitePool, group: &[Append]) -> Result<(), AuditError> {
    let mut tx = pool.begin().await.map_err(|e| unavailable("beginning", &e))?;
    // The writer is the only connection that appends, so positions are assigned here, in order,
    // from the current maximum (AUTOINCREMENT still guards against reuse after deletions).
    let last: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM audit_log")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable("reading the log's end", &e))?;
    let mut next = last.unwrap_or(0) + 1;
    let records: Vec<&Prepared> = group.iter().flat_map(|a| &a.records).collect();
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let log_sql = format!(
            "INSERT INTO audit_log (position, account_id, event_id, event_time, record) VALUES {}",
            vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let index_sql = format!(
            "INSERT INTO audit_index (position, account_id, event_time, event_name, event_source, principal_arn, \
             action, resource_arn, decision, error_code, read_only) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut log_insert = sqlx::query(&log_sql);
        let mut index_insert = sqlx::query(&index_sql);
        for (offset, record) in chunk.iter().enumerate() {
            let position = next + i64::try_from(offset).unwrap_or(0);
            log_insert = log_insert
                .bind(position)
                .bind(&record.account_id)
                .bind(&record.event_id)
                .bind(&record.event_time)
                .bind(&record.json);
            index_insert = index_insert
                .bind(position)
                .bind(&record.account_id)
                .bind(&record.event_time)
                .bind(&record.event_name)
                .bind(&record.event_source)
                .bind(&record.principal_arn)
                .bind(&record.action)
                .bind(&record.resource_arn)
                .bind(&record.decision)
                .bind(&record.error_code)
                .bind(record.read_only);
        }
        log_insert
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable("appending records", &e))?;
        index_insert
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable("indexing records", &e))?;
        next += i64::try_from(chunk.len()).unwrap_or(0);
    }
    tx.commit().await.map_err(|e| unavailable("committing", &e))
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
