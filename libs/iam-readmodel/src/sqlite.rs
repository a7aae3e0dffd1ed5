//! [`SqliteReadModel`]: the read model in a SQLite file, for the embedded mode.

use std::str::FromStr;
use std::time::Duration;

use iam_eventlog::EventEnvelope;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};

use crate::change::{bind_order, render, stream_column, Placeholders, RowChange, SqlValue, TABLES};
use crate::error::{backend, ReadModelError};
use crate::project::{plan, AccountHead, EventOutcome};

/// The projection name under which the checkpoint is kept.
const PROJECTION: &str = "iam";

/// What one [`SqliteReadModel::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events whose changes were written.
    pub applied: usize,
    /// Events dropped as already applied (an at-least-once feed redelivered them).
    pub duplicates: usize,
    /// Events that stopped their account (unreadable, out of order) or arrived after it stopped.
    pub stopped: usize,
    /// The checkpoint after the batch.
    pub checkpoint: u64,
}

/// The SQL read model on SQLite.
///
/// One writer connection applies batches; each batch, its account heads and the checkpoint
/// commit in one transaction, so after a crash the model is exactly the projection of the log
/// up to its checkpoint. `synchronous=NORMAL` is enough here: a commit lost to a power cut is
/// re-projected from the log, and WAL keeps the rows and the checkpoint atomic.
#[derive(Debug, Clone)]
pub struct SqliteReadModel {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl SqliteReadModel {
    /// Opens (creating if missing) the read model at a file path or `sqlite:` URL and migrates it.
    ///
    /// # Errors
    /// [`ReadModelError::Backend`] if the file cannot be opened, [`ReadModelError::Migration`] if
    /// its schema cannot be brought up to date.
    pub async fn open(path_or_url: &str) -> Result<Self, ReadModelError> {
        let base = if path_or_url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path_or_url).map_err(|e| backend("parsing the sqlite url", &e))?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(|e| backend("opening the read model", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/readmodel");
        // The event log's migrations may share the file with their own version range.
        migrator.set_ignore_missing(true);
        migrator
            .run(&writer)
            .await
            .map_err(|e| ReadModelError::Migration(e.to_string()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| backend("opening the read model for reading", &e))?;
        Ok(SqliteReadModel { writer, reader })
    }

    /// The feed position up to which the log has been projected (0 before anything).
    ///
    /// # Errors
    /// A database failure.
    pub async fn checkpoint(&self) -> Result<u64, ReadModelError> {
        let position: Option<i64> = sqlx::query_scalar("SELECT position FROM rm_checkpoint WHERE projection = ?")
            .bind(PROJECTION)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| backend("reading the checkpoint", &e))?;
        Ok(position.map_or(0, to_u64))
    }

    /// The account's projection head: its last applied sequence, and the sequence that stopped
    /// it if one did.
    ///
    /// # Errors
    /// A database failure.
    pub async fn account_head(&self, account_id: &str) -> Result<AccountHead, ReadModelError> {
        let row = sqlx::query("SELECT sequence, failed_sequence FROM rm_account_heads WHERE account_id = ?")
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(|e| backend("reading an account head", &e))?;
        Ok(row.map_or_else(AccountHead::default, |row| AccountHead {
            sequence: to_u64(row.get::<i64, _>(0)),
            failed_sequence: row.get::<Option<i64>, _>(1).map(to_u64),
        }))
    }

    /// Applies a batch read from the feed (positions increasing), with the checkpoint, in one
    /// transaction.
    ///
    /// Per account: a sequence at or below the head is a duplicate and dropped; the next one is
    /// decoded (upcasting old schema versions) and its row changes written; anything else (a gap,
    /// an unreadable event) stops the account with an `rm_failed_events` entry, and the account's
    /// later events are not applied until it is rebuilt. Other accounts carry on.
    ///
    /// # Errors
    /// A database failure; then nothing of the batch is written.
    pub async fn apply(&self, batch: &[(u64, EventEnvelope)]) -> Result<Applied, ReadModelError> {
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(|e| backend("beginning a batch", &e))?;
        let mut applied = Applied::default();
        let mut heads = std::collections::HashMap::<String, AccountHead>::new();
        let mut last_position = None;
        for (position, envelope) in batch {
            last_position = Some(*position);
            let head = match heads.get(&envelope.account_id) {
                Some(head) => *head,
                None => read_head(&mut tx, &envelope.account_id).await?,
            };
            let (outcome, new_head) = plan(head, envelope);
            match outcome {
                EventOutcome::Apply(changes) => {
                    for change in &changes {
                        execute(&mut tx, change).await?;
                    }
                    applied.applied += 1;
                }
                EventOutcome::Duplicate => applied.duplicates += 1,
                EventOutcome::AlreadyStopped => applied.stopped += 1,
                EventOutcome::Stop(reason) => {
                    record_failure(&mut tx, *position, envelope, &reason).await?;
                    applied.stopped += 1;
                }
            }
            heads.insert(envelope.account_id.clone(), new_head);
        }
        for (account_id, head) in &heads {
            sqlx::query(
                "INSERT INTO rm_account_heads (account_id, sequence, failed_sequence) VALUES (?, ?, ?) \
                 ON CONFLICT (account_id) DO UPDATE SET sequence = excluded.sequence, \
                 failed_sequence = excluded.failed_sequence",
            )
            .bind(account_id)
            .bind(to_i64(head.sequence))
            .bind(head.failed_sequence.map(to_i64))
            .execute(&mut *tx)
            .await
            .map_err(|e| backend("writing an account head", &e))?;
        }
        let checkpoint = match last_position {
            Some(position) => {
                sqlx::query(
                    "INSERT INTO rm_checkpoint (projection, position) VALUES (?, ?) \
                     ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                )
                .bind(PROJECTION)
                .bind(to_i64(position))
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("writing the checkpoint", &e))?;
                position
            }
            None => self.checkpoint().await?,
        };
        tx.commit().await.map_err(|e| backend("committing a batch", &e))?;
        applied.checkpoint = checkpoint;
        Ok(applied)
    }

    /// Every projected row of one stream (an account, or an organization), table by table in
    /// primary-key order, as JSON: two read models hold the same data for the stream exactly when
    /// their snapshots are equal.
    ///
    /// # Errors
    /// A database failure.
    pub async fn snapshot(&self, account_id: &str) -> Result<serde_json::Value, ReadModelError> {
        let mut tables = serde_json::Map::new();
        for (table, key) in TABLES {
            let sql = format!(
                "SELECT * FROM {table} WHERE {} = ? ORDER BY {}",
                stream_column(key),
                key.join(", ")
            );
            let rows = sqlx::query(&sql)
                .bind(account_id)
                .fetch_all(&self.reader)
                .await
                .map_err(|e| backend("reading a snapshot", &e))?;
            let rows: Vec<serde_json::Value> = rows.iter().map(row_to_json).collect();
            tables.insert((*table).to_owned(), serde_json::Value::Array(rows));
        }
        Ok(serde_json::Value::Object(tables))
    }

    /// The events that stopped an account's projection: `(account, sequence, event type, error)`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn failed_events(&self) -> Result<Vec<(String, u64, String, String)>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT account_id, sequence, event_type, error FROM rm_failed_events ORDER BY account_id, sequence",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(|e| backend("reading failed events", &e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), to_u64(r.get::<i64, _>(1)), r.get(2), r.get(3)))
            .collect())
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn row_to_json(row: &sqlx::sqlite::SqliteRow) -> serde_json::Value {
    use sqlx::Column;
    let mut object = serde_json::Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = match row.try_get::<Option<String>, _>(index) {
            Ok(Some(text)) => serde_json::Value::String(text),
            Ok(None) => serde_json::Value::Null,
            Err(_) => row
                .try_get::<Option<i64>, _>(index)
                .ok()
                .flatten()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
        };
        object.insert(column.name().to_owned(), value);
    }
    serde_json::Value::Object(object)
}

async fn read_head(tx: &mut Transaction<'_, Sqlite>, account_id: &str) -> Result<AccountHead, ReadModelError> {
    let row = sqlx::query("SELECT sequence, failed_sequence FROM rm_account_heads WHERE account_id = ?")
        .bind(account_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| backend("reading an account head", &e))?;
    Ok(row.map_or_else(AccountHead::default, |row| AccountHead {
        sequence: to_u64(row.get::<i64, _>(0)),
        failed_sequence: row.get::<Option<i64>, _>(1).map(to_u64),
    }))
}

async fn record_failure(
    tx: &mut Transaction<'_, Sqlite>,
    position: u64,
    envelope: &EventEnvelope,
    reason: &str,
) -> Result<(), ReadModelError> {
    tracing::error!(
        account = %envelope.account_id,
        sequence = envelope.sequence,
        event_type = %envelope.event_type,
        %reason,
        "read model: event cannot be projected; the account's projection is stopped"
    );
    sqlx::query(
        "INSERT INTO rm_failed_events (account_id, sequence, position, event_id, event_type, schema_version, error) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, sequence) DO NOTHING",
    )
    .bind(&envelope.account_id)
    .bind(to_i64(envelope.sequence))
    .bind(to_i64(position))
    .bind(envelope.event_id.to_string())
    .bind(&envelope.event_type)
    .bind(i64::from(envelope.schema_version))
    .bind(reason)
    .execute(&mut **tx)
    .await
    .map_err(|e| backend("recording a failed event", &e))?;
    Ok(())
}

fn bind_value<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    value: &'q SqlValue,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    match value {
        SqlValue::Null => query.bind(None::<String>),
        SqlValue::Int(i) => query.bind(*i),
        SqlValue::Text(s) => query.bind(s.as_str()),
    }
}

async fn execute(tx: &mut Transaction<'_, Sqlite>, change: &RowChange) -> Result<(), ReadModelError> {
    let sql = render(change, Placeholders::Question);
    let mut query = sqlx::query(&sql);
    for value in bind_order(change) {
        query = bind_value(query, value);
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(|e| backend(&format!("applying `{sql}`"), &e))?;
    Ok(())
}
