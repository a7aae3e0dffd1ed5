//! [`PgReadModel`]: the read model in PostgreSQL, for the distributed mode. The same tables, the
//! same reducer and the same per-account ordering as the SQLite backend; each batch, the account
//! heads and the checkpoint commit in one transaction.

use std::collections::HashMap;
use std::str::FromStr;

use iam_eventlog::{EventEnvelope, EventStore};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::change::{bind_order, render, stream_column, Placeholders, RowChange, SqlValue, TABLES};
use crate::combine::{combine, Group, Kind, Shape, Statement};
use crate::error::{backend, ReadModelError};
use crate::project::{plan, AccountHead, EventOutcome};
use crate::sqlite::Applied;

/// The projection name under which the checkpoint is kept.
const PROJECTION: &str = "iam";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The SQL read model on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgReadModel {
    pool: PgPool,
}

/// Whether `name` can be a schema in `search_path` without quoting.
fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

impl PgReadModel {
    /// Connects to `url` (`postgres://...`), optionally inside `schema`, and migrates.
    ///
    /// # Errors
    /// [`ReadModelError::Backend`] if the server cannot be reached or the URL or schema is
    /// malformed; [`ReadModelError::Migration`] if the schema cannot be brought up to date.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, ReadModelError> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| backend("parsing the database url", &e))?
            .application_name("gatehouse-readmodel");
        if let Some(schema) = schema {
            if !is_plain_identifier(schema) {
                return Err(ReadModelError::Backend(format!("invalid schema name `{schema}`")));
            }
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| backend("connecting to the read model", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/postgres/readmodel");
        // The event log may share the database with its own version range.
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .map_err(|e| ReadModelError::Migration(e.to_string()))?;
        Ok(PgReadModel { pool })
    }

    /// The feed position up to which the log has been projected (0 before anything).
    ///
    /// # Errors
    /// A database failure.
    pub async fn checkpoint(&self) -> Result<u64, ReadModelError> {
        let position: Option<i64> = sqlx::query_scalar("SELECT position FROM rm_checkpoint WHERE projection = $1")
            .bind(PROJECTION)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend("reading the checkpoint", &e))?;
        Ok(position.map_or(0, to_u64))
    }

    /// Applies a batch from the feed with the checkpoint, in one transaction (see
    /// [`crate::SqliteReadModel::apply`] for the per-account rules, which are the same).
    ///
    /// # Errors
    /// A database failure; then nothing of the batch is written.
    pub async fn apply(&self, batch: &[(u64, EventEnvelope)]) -> Result<Applied, ReadModelError> {
        let mut tx = self.pool.begin().await.map_err(|e| backend("beginning a batch", &e))?;
        let mut applied = apply_events(&mut tx, batch.iter().map(|(p, e)| (*p, e))).await?;
        let checkpoint = match batch.last() {
            Some((position, _)) => {
                sqlx::query(
                    "INSERT INTO rm_checkpoint (projection, position) VALUES ($1, $2) \
                     ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                )
                .bind(PROJECTION)
                .bind(to_i64(*position))
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("writing the checkpoint", &e))?;
                *position
            }
            None => self.checkpoint().await?,
        };
        tx.commit().await.map_err(|e| backend("committing a batch", &e))?;
        applied.checkpoint = checkpoint;
        Ok(applied)
    }

    /// Rebuilds one account (or organization) stream from the log of record, in one transaction: under the batch lock
    /// (no projector batch interleaves), deletes the account's rows, head and failed events,
    /// reads the account's whole stream from `log` (after taking the lock, so it holds at least
    /// every event a projector has applied) and applies it. Other accounts are untouched; a
    /// projector that receives these events again finds duplicates.
    ///
    /// # Errors
    /// A database or log failure; then nothing changes.
    pub async fn rebuild_account(&self, account_id: &str, log: &dyn EventStore) -> Result<Applied, ReadModelError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| backend("beginning a rebuild", &e))?;
        lock_batches(&mut tx).await?;
        let bookkeeping = [("rm_account_heads", "account_id"), ("rm_failed_events", "account_id")];
        let tables = TABLES.iter().map(|(table, key)| (*table, stream_column(key)));
        for (table, stream) in tables.chain(bookkeeping) {
            sqlx::query(&format!("DELETE FROM {table} WHERE {stream} = $1"))
                .bind(account_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("clearing the account", &e))?;
        }
        let events = log.read_stream(account_id, 1, u32::MAX).await?;
        let mut applied = apply_events(&mut tx, events.iter().map(|e| (e.sequence, e))).await?;
        tx.commit().await.map_err(|e| backend("committing a rebuild", &e))?;
        applied.checkpoint = events.last().map_or(0, |e| e.sequence);
        Ok(applied)
    }

    /// Applies messages consumed from Kafka (`(partition, offset, event)`, in each partition's
    /// order) and stores the next offset of every partition they came from, in one transaction.
    /// `Applied::checkpoint` is the number of messages in the batch.
    ///
    /// # Errors
    /// A database failure; then nothing of the batch is written.
    pub async fn apply_consumed(
        &self,
        topic: &str,
        batch: &[(i32, i64, EventEnvelope)],
    ) -> Result<Applied, ReadModelError> {
        let mut tx = self.pool.begin().await.map_err(|e| backend("beginning a batch", &e))?;
        let mut applied = apply_events(
            &mut tx,
            batch
                .iter()
                .map(|(_, offset, e)| (u64::try_from(*offset).unwrap_or(0), e)),
        )
        .await?;
        let mut next: HashMap<i32, i64> = HashMap::new();
        for (partition, offset, _) in batch {
            let entry = next.entry(*partition).or_insert(0);
            *entry = (*entry).max(offset + 1);
        }
        if !next.is_empty() {
            let (partitions, next_offsets): (Vec<i32>, Vec<i64>) = next.into_iter().unzip();
            sqlx::query(
                "INSERT INTO rm_kafka_offsets (topic, partition, next_offset) \
                 SELECT $1, * FROM UNNEST($2::int4[], $3::int8[]) \
                 ON CONFLICT (topic, partition) DO UPDATE SET \
                 next_offset = greatest(rm_kafka_offsets.next_offset, excluded.next_offset)",
            )
            .bind(topic)
            .bind(partitions)
            .bind(next_offsets)
            .execute(&mut *tx)
            .await
            .map_err(|e| backend("writing Kafka offsets", &e))?;
        }
        tx.commit().await.map_err(|e| backend("committing a batch", &e))?;
        applied.checkpoint = batch.len() as u64;
        Ok(applied)
    }

    /// The next offset to consume of each partition of `topic` this read model has seen.
    ///
    /// # Errors
    /// A database failure.
    pub async fn kafka_offsets(&self, topic: &str) -> Result<Vec<(i32, i64)>, ReadModelError> {
        let rows =
            sqlx::query("SELECT partition, next_offset FROM rm_kafka_offsets WHERE topic = $1 ORDER BY partition")
                .bind(topic)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("reading Kafka offsets", &e))?;
        Ok(rows.iter().map(|r| (r.get::<i32, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// Every projected row of one account, as [`crate::SqliteReadModel::snapshot`] gives it: the
    /// two backends hold the same data exactly when their snapshots are equal.
    ///
    /// # Errors
    /// A database failure.
    pub async fn snapshot(&self, account_id: &str) -> Result<serde_json::Value, ReadModelError> {
        let mut tables = serde_json::Map::new();
        for (table, key) in TABLES {
            let sql = format!(
                "SELECT to_jsonb(t)::text FROM {table} t WHERE {} = $1 ORDER BY {}",
                stream_column(key),
                key.iter()
                    .map(|k| format!("{k} COLLATE \"C\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows = sqlx::query(&sql)
                .bind(account_id)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("reading a snapshot", &e))?;
            let rows = rows
                .iter()
                .map(|row| {
                    serde_json::from_str(row.get::<&str, _>(0))
                        .map_err(|e| ReadModelError::Backend(format!("reading a snapshot row: {e}")))
                })
                .collect::<Result<Vec<serde_json::Value>, _>>()?;
            tables.insert((*table).to_owned(), serde_json::Value::Array(rows));
        }
        Ok(serde_json::Value::Object(tables))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The advisory-lock class of read-model batches (`pg_advisory_xact_lock(class, key)`).
const READ_MODEL_LOCK_CLASS: i32 = 0x4761_7465; // "Gate"

/// Several projectors may feed one read model (a standby beside the active one, or two after a
/// failover): their batches (and rebuilds) take turns, so each reads the heads the previous one
/// committed and a redelivered event is a duplicate, never a step back. The two-key lock form (a
/// constant class, the schema) keeps clear of the event store's one-key append locks; taking it
/// twice in one transaction is fine.
async fn lock_batches(tx: &mut Transaction<'_, Postgres>) -> Result<(), ReadModelError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(READ_MODEL_LOCK_CLASS)
        .execute(&mut **tx)
        .await
        .map_err(|e| backend("waiting for the read model's batch lock", &e))?;
    Ok(())
}

/// The per-account rules of [`crate::project::plan`] over a batch, inside `tx`: the heads of all
/// the batch's accounts read in one query, the row changes sent as set-based statements
/// ([`combine`]), the account heads written at the end in one statement.
async fn apply_events<'e>(
    tx: &mut Transaction<'_, Postgres>,
    batch: impl Iterator<Item = (u64, &'e EventEnvelope)>,
) -> Result<Applied, ReadModelError> {
    let batch: Vec<(u64, &EventEnvelope)> = batch.collect();
    lock_batches(tx).await?;
    let mut heads = read_heads(tx, &batch).await?;
    let mut applied = Applied::default();
    let mut changes = Vec::new();
    let mut failed = Vec::new();
    for (position, envelope) in &batch {
        let head = heads.get(envelope.account_id.as_str()).copied().unwrap_or_default();
        let (outcome, new_head) = plan(head, envelope);
        match outcome {
            EventOutcome::Apply(more) => {
                changes.extend(more);
                applied.applied += 1;
            }
            EventOutcome::Duplicate => applied.duplicates += 1,
            EventOutcome::AlreadyStopped => applied.stopped += 1,
            EventOutcome::Stop(reason) => {
                tracing::error!(account = %envelope.account_id, sequence = envelope.sequence, %reason,
                    "read model: event cannot be projected; the account's projection is stopped");
                failed.push((*position, *envelope, reason));
                applied.stopped += 1;
            }
        }
        heads.insert(envelope.account_id.as_str(), new_head);
    }
    for statement in combine(&changes) {
        match statement {
            Statement::Group(group) => execute(tx, &group).await?,
            Statement::Single(change) => execute_single(tx, change).await?,
        }
    }
    for (position, envelope, reason) in failed {
        sqlx::query(
            "INSERT INTO rm_failed_events (account_id, sequence, position, event_id, event_type, \
             schema_version, error) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id, sequence) DO NOTHING",
        )
        .bind(&envelope.account_id)
        .bind(to_i64(envelope.sequence))
        .bind(to_i64(position))
        .bind(envelope.event_id.to_string())
        .bind(&envelope.event_type)
        .bind(i64::from(envelope.schema_version))
        .bind(&reason)
        .execute(&mut **tx)
        .await
        .map_err(|e| backend("recording a failed event", &e))?;
    }
    if !heads.is_empty() {
        let accounts: Vec<&str> = heads.keys().copied().collect();
        let sequences: Vec<i64> = accounts.iter().map(|a| to_i64(heads[a].sequence)).collect();
        let failed: Vec<Option<i64>> = accounts.iter().map(|a| heads[a].failed_sequence.map(to_i64)).collect();
        sqlx::query(
            "INSERT INTO rm_account_heads (account_id, sequence, failed_sequence) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[]) \
             ON CONFLICT (account_id) DO UPDATE SET sequence = excluded.sequence, \
             failed_sequence = excluded.failed_sequence",
        )
        .bind(accounts)
        .bind(sequences)
        .bind(failed)
        .execute(&mut **tx)
        .await
        .map_err(|e| backend("writing the account heads", &e))?;
    }
    Ok(applied)
}

/// The heads of every account in `batch`, in one query; an account without a row is absent.
async fn read_heads<'e>(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[(u64, &'e EventEnvelope)],
) -> Result<HashMap<&'e str, AccountHead>, ReadModelError> {
    let mut accounts: Vec<&str> = batch.iter().map(|(_, e)| e.account_id.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let rows = sqlx::query(
        "SELECT account_id, sequence, failed_sequence FROM rm_account_heads WHERE account_id = ANY($1::text[])",
    )
    .bind(&accounts)
    .fetch_all(&mut **tx)
    .await
    .map_err(|e| backend("reading the account heads", &e))?;
    let mut heads = HashMap::with_capacity(accounts.len());
    for row in rows {
        let account: &str = row.get(0);
        // Keep the batch's borrow, not the row's.
        if let Ok(i) = accounts.binary_search(&account) {
            heads.insert(
                accounts[i],
                AccountHead {
                    sequence: to_u64(row.get::<i64, _>(1)),
                    failed_sequence: row.get::<Option<i64>, _>(2).map(to_u64),
                },
            );
        }
    }
    Ok(heads)
}

/// The SQL of a group's statement: one `UNNEST`ed array parameter per column, so the text
/// depends only on the shape and the prepared statement is reused.
fn render_group(shape: &Shape) -> String {
    let arrays: Vec<String> = shape
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, int))| format!("${}::{}[]", i + 1, if *int { "int8" } else { "text" }))
        .collect();
    let arrays = arrays.join(", ");
    let aliases: Vec<String> = (1..=shape.columns.len()).map(|i| format!("c{i}")).collect();
    let aliases = aliases.join(", ");
    let names: Vec<&str> = shape.columns.iter().map(|(c, _)| *c).collect();
    let table = shape.table;
    let equal = |from: usize| -> String {
        names[from..]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t.{c} = u.c{}", from + i + 1))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    match shape.kind {
        Kind::Upsert { key } => {
            let action = if key == names.len() {
                "DO NOTHING".to_owned()
            } else {
                let set: Vec<String> = names[key..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
                format!("DO UPDATE SET {}", set.join(", "))
            };
            format!(
                "INSERT INTO {table} ({}) SELECT * FROM UNNEST({arrays}) ON CONFLICT ({}) {action}",
                names.join(", "),
                names[..key].join(", ")
            )
        }
        Kind::Update { set } => {
            let assignments: Vec<String> = names[..set]
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = u.c{}", i + 1))
                .collect();
            format!(
                "UPDATE {table} AS t SET {} FROM UNNEST({arrays}) AS u({aliases}) WHERE {}",
                assignments.join(", "),
                equal(set)
            )
        }
        Kind::Delete => format!(
            "DELETE FROM {table} AS t USING UNNEST({arrays}) AS u({aliases}) WHERE {}",
            equal(0)
        ),
    }
}

async fn execute(tx: &mut Transaction<'_, Postgres>, group: &Group<'_>) -> Result<(), ReadModelError> {
    let sql = render_group(&group.shape);
    let mut query = sqlx::query(&sql);
    for (column, (_, int)) in group.shape.columns.iter().enumerate() {
        if *int {
            let values: Vec<Option<i64>> = group
                .rows
                .iter()
                .map(|row| match row[column] {
                    SqlValue::Int(i) => Some(*i),
                    _ => None,
                })
                .collect();
            query = query.bind(values);
        } else {
            let values: Vec<Option<&str>> = group
                .rows
                .iter()
                .map(|row| match row[column] {
                    SqlValue::Text(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            query = query.bind(values);
        }
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(|e| backend(&format!("applying `{sql}`"), &e))?;
    Ok(())
}

async fn execute_single(tx: &mut Transaction<'_, Postgres>, change: &RowChange) -> Result<(), ReadModelError> {
    let sql = render(change, Placeholders::Dollar);
    let mut query = sqlx::query(&sql);
    for value in bind_order(change) {
        query = match value {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Text(s) => query.bind(s.as_str()),
        };
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(|e| backend(&format!("applying `{sql}`"), &e))?;
    Ok(())
}
