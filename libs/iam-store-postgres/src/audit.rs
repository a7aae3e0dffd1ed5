//! [`PgAuditStore`]: the audit history in PostgreSQL, for the distributed mode.
//!
//! Every replica's records reach Kafka's audit topic first (`iam-audit-kafka`'s `KafkaAuditLog`);
//! the audit projector inserts them here in batches, with the topic's offsets in the same
//! transaction, and every replica reads them back. Queries and counts have the embedded
//! `SqliteAuditLog`'s semantics: the same filters, newest first by `(eventTime, position)`, the
//! same cursor shape (`<eventTime>|<position>`), the largest group first.
//!
//! An organization trail (`AuditFilter::organization_id`) is read through `organization_id`, the
//! organization the record's account was a member of when it was written
//! (`additionalEventData.organizationId`), with its own index.
//!
//! The decided principal (`AuditFilter::decided_principal_arn`) has its own column and index; an
//! event id is found through the key `(account_id, event_id)`, or for a whole trail through its
//! own partial index, compared in the canonical form Gatehouse writes ids in.
//!
//! Inserts are idempotent: the key is `(account_id, event_id)` and a record already present is
//! skipped, so a redelivered message changes nothing.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use iam_audit::{AuditError, AuditFilter, AuditLog, AuditPage, AuditRecord, GroupBy};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::options::is_valid_schema;

fn unavailable(context: &str, error: &impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!("{context}: {error}"))
}

/// The cursor's time format: the embedded log's (RFC 3339, UTC, six fractional digits).
fn time_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_cursor(cursor: &str) -> Result<(DateTime<Utc>, i64), AuditError> {
    let invalid = || AuditError::Invalid(format!("{cursor:?} is not a cursor from auditEvents"));
    let (time, position) = cursor.rsplit_once('|').ok_or_else(invalid)?;
    let time = DateTime::parse_from_rfc3339(time).map_err(|_| invalid())?;
    Ok((time.with_timezone(&Utc), position.parse().map_err(|_| invalid())?))
}

/// The audit history in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgAuditStore {
    pool: PgPool,
}

/// A value for an indexed text column. PostgreSQL refuses NUL in text, and a refused batch
/// would stop the audit projector (every tenant's history behind it), so NUL is stored as
/// U+FFFD, in rows and in filters alike: a query finds what it named. The record itself is
/// JSON, where NUL is escaped, and comes back whole.
fn column_text(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_owned()
    }
}

/// One record's row, columns in insert order.
#[derive(Default)]
struct Columns {
    account_id: Vec<String>,
    event_id: Vec<String>,
    event_time: Vec<DateTime<Utc>>,
    event_name: Vec<String>,
    event_source: Vec<String>,
    principal_arn: Vec<String>,
    action: Vec<String>,
    resource_arn: Vec<Option<String>>,
    decision: Vec<Option<String>>,
    error_code: Vec<Option<String>>,
    read_only: Vec<bool>,
    record: Vec<String>,
    organization_id: Vec<Option<String>>,
    decided_principal_arn: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, record: &AuditRecord) -> Result<(), AuditError> {
        self.record
            .push(serde_json::to_string(record).map_err(|e| unavailable("encoding a record", &e))?);
        self.account_id.push(column_text(&record.recipient_account_id));
        self.event_id.push(column_text(&record.event_id));
        self.event_time.push(record.event_time);
        self.event_name.push(column_text(&record.event_name));
        self.event_source.push(column_text(&record.event_source));
        self.principal_arn.push(column_text(&record.user_identity.arn));
        self.action.push(column_text(&record.action()));
        self.resource_arn
            .push(record.resource_arn().as_deref().map(column_text));
        self.decision.push(record.decision().map(column_text));
        self.error_code.push(record.error_code.as_deref().map(column_text));
        self.read_only.push(record.read_only);
        self.organization_id.push(record.organization_id().map(column_text));
        self.decided_principal_arn
            .push(record.decided_principal_arn().map(column_text));
        Ok(())
    }
}

/// Inserts records, skipping those already present; returns how many were new.
async fn insert_rows<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    records: impl IntoIterator<Item = &AuditRecord>,
) -> Result<u64, AuditError> {
    let mut columns = Columns::default();
    for record in records {
        columns.push(record)?;
    }
    if columns.record.is_empty() {
        return Ok(0);
    }
    // One statement per batch: the arrays unnest in order, so positions follow the batch.
    let result = sqlx::query(
        "INSERT INTO audit_events (account_id, event_id, event_time, event_name, event_source, principal_arn, \
         action, resource_arn, decision, error_code, read_only, record, organization_id, decided_principal_arn) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[], $12::text[], $13::text[], $14::text[]) \
         ON CONFLICT (account_id, event_id) DO NOTHING",
    )
    .bind(&columns.account_id)
    .bind(&columns.event_id)
    .bind(&columns.event_time)
    .bind(&columns.event_name)
    .bind(&columns.event_source)
    .bind(&columns.principal_arn)
    .bind(&columns.action)
    .bind(&columns.resource_arn)
    .bind(&columns.decision)
    .bind(&columns.error_code)
    .bind(&columns.read_only)
    .bind(&columns.record)
    .bind(&columns.organization_id)
    .bind(&columns.decided_principal_arn)
    .execute(executor)
    .await
    .map_err(|e| unavailable("inserting audit records", &e))?;
    Ok(result.rows_affected())
}

/// Appends the filter's conditions to `sql`: always starting with the account, or for an
/// organization trail with the organization (and the account, when one is named).
///
/// # Errors
/// [`AuditError::Invalid`] for an event id that is not a UUID.
fn push_conditions(sql: &mut QueryBuilder<'_, Postgres>, filter: &AuditFilter) -> Result<(), AuditError> {
    let event_key = filter.event_key()?;
    match &filter.organization_id {
        // A trail narrowed to one account may be read through the account's slice or the
        // organization's index: the planner's statistics choose.
        Some(organization) => {
            sql.push(" organization_id = ").push_bind(column_text(organization));
            if !filter.account_id.is_empty() {
                sql.push(" AND account_id = ")
                    .push_bind(column_text(&filter.account_id));
            }
        }
        None => {
            sql.push(" account_id = ").push_bind(column_text(&filter.account_id));
        }
    }
    if let Some(from) = filter.from {
        sql.push(" AND event_time >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        sql.push(" AND event_time < ").push_bind(to);
    }
    // Stored as written; Gatehouse writes the canonical form, which is what a key names.
    if let Some(key) = event_key {
        sql.push(" AND event_id = ").push_bind(key.to_string());
    }
    let mut equal = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            sql.push(format!(" AND {column} = ")).push_bind(column_text(value));
        }
    };
    equal("principal_arn", &filter.principal_arn);
    equal("decided_principal_arn", &filter.decided_principal_arn);
    equal("event_name", &filter.event_name);
    equal("event_source", &filter.event_source);
    equal("action", &filter.action);
    equal("resource_arn", &filter.resource_arn);
    equal("decision", &filter.decision);
    equal("error_code", &filter.error_code);
    // Repeat the partial indexes' conditions as literals, so the planner knows they apply even
    // to a generic plan.
    if filter.event_name.as_deref().is_some_and(|name| name != "Authorize") {
        sql.push(" AND event_name <> 'Authorize'");
    }
    if filter.decision.as_deref().is_some_and(|decision| decision != "Allow") {
        sql.push(" AND decision <> 'Allow'");
    }
    if filter.error_code.is_some() {
        sql.push(" AND error_code IS NOT NULL");
    }
    Ok(())
}

impl PgAuditStore {
    /// Connects to `url` (`postgres://...`), optionally inside `schema`, and migrates
    /// (`schema/migrations/postgres/audit/`).
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] if the server cannot be reached, the URL or schema name is
    /// malformed, or the schema cannot be migrated.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, AuditError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(AuditError::Unavailable(
                "invalid database url: expected postgres://user:password@host:port/database".into(),
            ));
        }
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| unavailable("invalid database url", &e))?
            .application_name("gatehouse-audit");
        if let Some(schema) = schema {
            if !is_valid_schema(schema) {
                return Err(AuditError::Unavailable(format!(
                    "invalid schema name `{schema}`: expected lowercase letters, digits and `_`, at most 40 bytes"
                )));
            }
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| unavailable("connecting to the audit store", &e))?;
        let mut migrator = sqlx::migrate!("../../schema/migrations/postgres/audit");
        // The event log and the read model may share the schema with their own version ranges.
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .map_err(|e| unavailable("migrating the audit store", &e))?;
        Ok(PgAuditStore { pool })
    }

    /// Inserts records in one transaction, skipping those already present (by account and
    /// `eventID`). Returns how many were new.
    ///
    /// # Errors
    /// A database failure; then nothing was inserted.
    pub async fn insert(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
        insert_rows(&self.pool, records).await
    }

    /// Inserts records consumed from `topic` (`(partition, offset, record)`) and moves each
    /// partition's stored next offset past them, in one transaction: what is committed is
    /// exactly what a restarted consumer skips. Returns how many records were new.
    ///
    /// # Errors
    /// A database failure; then nothing of the batch was written.
    pub async fn insert_consumed(&self, topic: &str, batch: &[(i32, i64, AuditRecord)]) -> Result<u64, AuditError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| unavailable("beginning a batch", &e))?;
        let inserted = insert_rows(&mut *tx, batch.iter().map(|(_, _, record)| record)).await?;
        let mut next: HashMap<i32, i64> = HashMap::new();
        for (partition, offset, _) in batch {
            let entry = next.entry(*partition).or_insert(0);
            *entry = (*entry).max(offset.saturating_add(1));
        }
        let (partitions, offsets): (Vec<i32>, Vec<i64>) = next.into_iter().unzip();
        sqlx::query(
            "INSERT INTO audit_kafka_offsets (topic, partition, next_offset) \
             SELECT $1, * FROM UNNEST($2::int[], $3::bigint[]) \
             ON CONFLICT (topic, partition) DO UPDATE SET \
             next_offset = greatest(audit_kafka_offsets.next_offset, excluded.next_offset)",
        )
        .bind(topic)
        .bind(&partitions)
        .bind(&offsets)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable("storing the audit topic's offsets", &e))?;
        tx.commit().await.map_err(|e| unavailable("committing a batch", &e))?;
        Ok(inserted)
    }

    /// The next offset to consume of each partition of `topic` stored so far, by partition.
    ///
    /// # Errors
    /// A database failure.
    pub async fn kafka_offsets(&self, topic: &str) -> Result<Vec<(i32, i64)>, AuditError> {
        let rows =
            sqlx::query("SELECT partition, next_offset FROM audit_kafka_offsets WHERE topic = $1 ORDER BY partition")
                .bind(topic)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| unavailable("reading the audit topic's offsets", &e))?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<i32, _>(0), row.get::<i64, _>(1)))
            .collect())
    }

    /// The connection pool (for tests and operators' checks).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl AuditLog for PgAuditStore {
    /// Inserts straight into the table (the audit projector's path, and a deployment without
    /// Kafka): durable once PostgreSQL committed.
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), AuditError> {
        self.insert(&records).await.map(|_| ())
    }

    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError> {
        let before = after.map(parse_cursor).transpose()?;
        let mut sql = QueryBuilder::<Postgres>::new("SELECT position, event_time, record FROM audit_events WHERE");
        push_conditions(&mut sql, filter)?;
        // The cursor is the last record's (event time, position): the page continues below it.
        if let Some((time, position)) = before {
            sql.push(" AND (event_time, position) < (")
                .push_bind(time)
                .push(", ")
                .push_bind(position)
                .push(")");
        }
        let limit = i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX);
        sql.push(" ORDER BY event_time DESC, position DESC LIMIT ")
            .push_bind(limit);
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("querying the audit log", &e))?;
        let has_next_page = rows.len() > first;
        let records = rows
            .iter()
            .take(first)
            .map(|row| {
                let record =
                    serde_json::from_str(row.get::<&str, _>(2)).map_err(|e| unavailable("reading a record", &e))?;
                let cursor = format!("{}|{}", time_text(row.get::<DateTime<Utc>, _>(1)), row.get::<i64, _>(0));
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
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {column}, count(*) FROM audit_events WHERE"));
        push_conditions(&mut sql, filter)?;
        // SQLite sorts NULL first and compares text bytewise; so does this.
        sql.push(format!(
            " GROUP BY {column} ORDER BY count(*) DESC, {column} COLLATE \"C\" NULLS FIRST"
        ));
        let rows = sql
            .build()
            .fetch_all(&self.pool)
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
