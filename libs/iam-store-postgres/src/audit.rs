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
//!
//! Tamper evidence (`iam_audit::integrity`): each account's records form a hash chain in the
//! order they are stored (position order), every record's link stored beside it, and signed
//! digests of the chains' heads are kept in `audit_digests`. Every write of a batch is one
//! transaction of two statements:
//!
//! 1. lock the head row of each of the batch's accounts (`audit_chain_heads`, `FOR UPDATE`, in
//!    bytewise account order, so two writers never deadlock) and find which of the batch's
//!    records are stored already; under the heads' lock nobody else stores those accounts'
//!    records, so what it finds stays true until the commit (looked up again, under the lock,
//!    when a head moved while the statement waited for it), and a duplicate neither gets a link
//!    nor advances the chain. An account's first records create its head first, in a statement
//!    of its own outside the transaction (it holds no other lock then, so it cannot take part in
//!    a deadlock either), and the transaction starts again;
//! 2. link the new records, in batch order, after the locked heads ([`ChainHeads`]), then insert
//!    them with their links, move the heads and store the consumed offsets, in one statement:
//!    positions are handed out under the lock, so within an account position order is chain
//!    order.
//!
//! Digest signers take the same head locks, so two signers never fork an account's digest
//! chain, and sign a head that is committed with its records.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use iam_audit::integrity::{
    next_digest_with_events, AuditSigner, ChainHash, ChainHeads, ChainLink, Digest, DigestHead, PublicKey,
};
use iam_audit::{AuditError, AuditFilter, AuditLog, AuditPage, AuditRecord, ChainPage, ChainedRecord, GroupBy};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, QueryBuilder, Row};

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

/// One record's row.
struct EventRow {
    account_id: String,
    event_id: String,
    event_time: DateTime<Utc>,
    event_name: String,
    event_source: String,
    principal_arn: String,
    action: String,
    resource_arn: Option<String>,
    decision: Option<String>,
    error_code: Option<String>,
    read_only: bool,
    /// The record's JSON: the bytes its link is made over.
    record: String,
    organization_id: Option<String>,
    decided_principal_arn: Option<String>,
}

impl EventRow {
    fn of(record: &AuditRecord) -> Result<Self, AuditError> {
        Ok(EventRow {
            account_id: column_text(&record.recipient_account_id),
            event_id: column_text(&record.event_id),
            event_time: record.event_time,
            event_name: column_text(&record.event_name),
            event_source: column_text(&record.event_source),
            principal_arn: column_text(&record.user_identity.arn),
            action: column_text(&record.action()),
            resource_arn: record.resource_arn().as_deref().map(column_text),
            decision: record.decision().map(column_text),
            error_code: record.error_code.as_deref().map(column_text),
            read_only: record.read_only,
            record: serde_json::to_string(record).map_err(|e| unavailable("encoding a record", &e))?,
            organization_id: record.organization_id().map(column_text),
            decided_principal_arn: record.decided_principal_arn().map(column_text),
        })
    }
}

/// The rows of a batch, column by column, in insert order, with their links.
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
    chain_sequence: Vec<i64>,
    chain_hash: Vec<String>,
}

impl Columns {
    fn push(&mut self, row: EventRow, link: ChainLink) -> Result<(), AuditError> {
        self.chain_sequence.push(sequence_column(link.sequence)?);
        self.chain_hash.push(link.hash.to_string());
        self.account_id.push(row.account_id);
        self.event_id.push(row.event_id);
        self.event_time.push(row.event_time);
        self.event_name.push(row.event_name);
        self.event_source.push(row.event_source);
        self.principal_arn.push(row.principal_arn);
        self.action.push(row.action);
        self.resource_arn.push(row.resource_arn);
        self.decision.push(row.decision);
        self.error_code.push(row.error_code);
        self.read_only.push(row.read_only);
        self.record.push(row.record);
        self.organization_id.push(row.organization_id);
        self.decided_principal_arn.push(row.decided_principal_arn);
        Ok(())
    }
}

fn sequence_column(sequence: u64) -> Result<i64, AuditError> {
    i64::try_from(sequence).map_err(|_| AuditError::Unavailable(format!("chain sequence {sequence} is out of range")))
}

/// A stored chain sequence or position, which is never negative unless the row was tampered with.
fn stored_number(value: i64, what: &str) -> Result<u64, AuditError> {
    u64::try_from(value).map_err(|_| AuditError::Unavailable(format!("the stored {what} {value} is negative")))
}

/// The partitions' next offsets stored with a consumed batch.
struct Offsets<'a> {
    topic: &'a str,
    partitions: Vec<i32>,
    next: Vec<i64>,
}

/// What a batch's transaction found once it held its accounts' chain heads.
struct Locked {
    /// The heads, as locked; an account without a head row is missing.
    heads: Vec<(String, ChainLink)>,
    /// The batch's records already stored: their event ids by account.
    stored: HashMap<String, HashSet<String>>,
    /// Whether `stored` may be out of date: a head changed between the statement's snapshot and
    /// its lock, so another writer stored records of that account in between.
    stale: bool,
}

/// Locks the chain heads of `accounts` (sorted bytewise, as `COLLATE "C"` orders them: every
/// writer and signer locks in this order, so none waits for another in a cycle) and, in the same
/// statement, looks for the batch's records already stored.
///
/// The look-up reads the statement's snapshot, taken before the locks were granted; a locked
/// row is read as the lock found it. Records of an account are only stored under its head's
/// lock, with its sequence advanced, so where the snapshot's head is the locked one, nobody
/// stored the account's records in between and the look-up holds; otherwise the caller looks
/// again ([`stored_keys`]), under the lock.
async fn lock_batch(conn: &mut PgConnection, accounts: &[String], rows: &[EventRow]) -> Result<Locked, AuditError> {
    let batch_accounts: Vec<&str> = rows.iter().map(|row| row.account_id.as_str()).collect();
    let batch_events: Vec<&str> = rows.iter().map(|row| row.event_id.as_str()).collect();
    let found = sqlx::query(
        "WITH locked AS ( \
             SELECT account_id, sequence, hash FROM audit_chain_heads WHERE account_id = ANY($1::text[]) \
             ORDER BY account_id COLLATE \"C\" FOR UPDATE) \
         SELECT account_id, sequence, hash, \
             (SELECT seen.sequence FROM audit_chain_heads AS seen WHERE seen.account_id = locked.account_id), \
             NULL::text \
         FROM locked \
         UNION ALL \
         SELECT e.account_id, NULL, NULL, NULL, e.event_id FROM audit_events AS e \
         JOIN UNNEST($2::text[], $3::text[]) AS b(account_id, event_id) \
         ON e.account_id = b.account_id AND e.event_id = b.event_id",
    )
    .bind(accounts)
    .bind(&batch_accounts)
    .bind(&batch_events)
    .fetch_all(conn)
    .await
    .map_err(|e| unavailable("locking the audit chain heads", &e))?;
    let mut locked = Locked {
        heads: Vec::with_capacity(accounts.len()),
        stored: HashMap::new(),
        stale: false,
    };
    for row in &found {
        match row.get::<Option<String>, _>(4) {
            Some(event_id) => {
                locked.stored.entry(row.get(0)).or_default().insert(event_id);
            }
            None => {
                let head = head_of(row)?;
                locked.stale |= row.get::<Option<i64>, _>(3) != Some(sequence_column(head.1.sequence)?);
                locked.heads.push(head);
            }
        }
    }
    Ok(locked)
}

/// A head row: `(account_id, sequence, hash)`.
fn head_of(row: &sqlx::postgres::PgRow) -> Result<(String, ChainLink), AuditError> {
    let account: String = row.get(0);
    let sequence = stored_number(row.get(1), "chain head sequence")?;
    let hash = row
        .get::<&str, _>(2)
        .parse::<ChainHash>()
        .map_err(|e| AuditError::Unavailable(format!("the audit chain head of account {account} is malformed: {e}")))?;
    Ok((account, ChainLink { sequence, hash }))
}

/// Creates the chain heads of accounts that have none (sequence 0: no record chained yet), in a
/// statement of its own: it waits at most for another writer creating the same heads, which holds
/// no other lock, and in the same order.
async fn create_heads(conn: &mut PgConnection, accounts: &[String]) -> Result<(), AuditError> {
    let genesis: Vec<String> = accounts
        .iter()
        .map(|account| iam_audit::integrity::genesis(account).to_string())
        .collect();
    sqlx::query(
        "INSERT INTO audit_chain_heads (account_id, sequence, hash) \
         SELECT account_id, 0, hash FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS h(account_id, hash, n) \
         ORDER BY n ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(accounts)
    .bind(&genesis)
    .execute(conn)
    .await
    .map_err(|e| unavailable("creating audit chain heads", &e))?;
    Ok(())
}

/// Which of `rows` are stored already: their event ids by account. Under the heads' lock this
/// stays true until the commit: nobody else stores those accounts' records meanwhile.
async fn stored_keys(
    conn: &mut PgConnection,
    rows: &[EventRow],
) -> Result<HashMap<String, HashSet<String>>, AuditError> {
    let accounts: Vec<&str> = rows.iter().map(|row| row.account_id.as_str()).collect();
    let events: Vec<&str> = rows.iter().map(|row| row.event_id.as_str()).collect();
    let found = sqlx::query(
        "SELECT e.account_id, e.event_id FROM audit_events e \
         JOIN UNNEST($1::text[], $2::text[]) AS b(account_id, event_id) \
         ON e.account_id = b.account_id AND e.event_id = b.event_id",
    )
    .bind(&accounts)
    .bind(&events)
    .fetch_all(conn)
    .await
    .map_err(|e| unavailable("looking for audit records already stored", &e))?;
    let mut stored: HashMap<String, HashSet<String>> = HashMap::new();
    for row in &found {
        stored.entry(row.get(0)).or_default().insert(row.get(1));
    }
    Ok(stored)
}

/// Inserts linked rows, moves their accounts' chain heads and stores the consumed offsets, in one
/// statement; returns how many rows were inserted.
async fn insert_linked(
    conn: &mut PgConnection,
    columns: &Columns,
    heads: &ChainHeads,
    offsets: Option<&Offsets<'_>>,
) -> Result<u64, AuditError> {
    let touched: BTreeSet<&str> = columns.account_id.iter().map(String::as_str).collect();
    let mut head_accounts = Vec::with_capacity(touched.len());
    let mut head_sequences = Vec::with_capacity(touched.len());
    let mut head_hashes = Vec::with_capacity(touched.len());
    for account in touched {
        let Some(head) = heads.get(account) else { continue };
        head_accounts.push(account);
        head_sequences.push(sequence_column(head.sequence)?);
        head_hashes.push(head.hash.to_string());
    }
    // The arrays unnest in order and the rows are inserted in it, so positions follow the
    // batch, which is the order the links were made in.
    let result = sqlx::query(
        "WITH heads AS ( \
             UPDATE audit_chain_heads AS h SET sequence = u.sequence, hash = u.hash \
             FROM UNNEST($17::text[], $18::bigint[], $19::text[]) AS u(account_id, sequence, hash) \
             WHERE h.account_id = u.account_id), \
         offsets AS ( \
             INSERT INTO audit_kafka_offsets (topic, partition, next_offset) \
             SELECT $20, * FROM UNNEST($21::int[], $22::bigint[]) \
             ON CONFLICT (topic, partition) DO UPDATE SET \
             next_offset = greatest(audit_kafka_offsets.next_offset, excluded.next_offset)) \
         INSERT INTO audit_events (account_id, event_id, event_time, event_name, event_source, principal_arn, \
         action, resource_arn, decision, error_code, read_only, record, organization_id, decided_principal_arn, \
         chain_sequence, chain_hash) \
         SELECT account_id, event_id, event_time, event_name, event_source, principal_arn, action, resource_arn, \
         decision, error_code, read_only, record, organization_id, decided_principal_arn, chain_sequence, \
         chain_hash \
         FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[], $12::text[], $13::text[], $14::text[], \
         $15::bigint[], $16::text[]) WITH ORDINALITY AS r(account_id, event_id, event_time, event_name, \
         event_source, principal_arn, action, resource_arn, decision, error_code, read_only, record, \
         organization_id, decided_principal_arn, chain_sequence, chain_hash, n) \
         ORDER BY n \
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
    .bind(&columns.chain_sequence)
    .bind(&columns.chain_hash)
    .bind(&head_accounts)
    .bind(&head_sequences)
    .bind(&head_hashes)
    .bind(offsets.map(|o| o.topic))
    .bind(offsets.map_or(&[][..], |o| &o.partitions))
    .bind(offsets.map_or(&[][..], |o| &o.next))
    .execute(conn)
    .await
    .map_err(|e| unavailable("inserting audit records", &e))?;
    Ok(result.rows_affected())
}

fn parse_digest(text: &str) -> Result<Digest, AuditError> {
    serde_json::from_str(text).map_err(|e| unavailable("reading a stored audit digest", &e))
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
    /// `eventID`), each new one linked into its account's chain. Returns how many were new.
    ///
    /// # Errors
    /// A database failure; then nothing was inserted.
    pub async fn insert(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
        let rows = records.iter().map(EventRow::of).collect::<Result<Vec<_>, _>>()?;
        self.write(rows, None).await
    }

    /// Inserts records consumed from `topic` (`(partition, offset, record)`) as
    /// [`PgAuditStore::insert`] does and moves each partition's stored next offset past them, in
    /// one transaction: what is committed is exactly what a restarted consumer skips. Returns how
    /// many records were new.
    ///
    /// # Errors
    /// A database failure; then nothing of the batch was written.
    pub async fn insert_consumed(&self, topic: &str, batch: &[(i32, i64, AuditRecord)]) -> Result<u64, AuditError> {
        let rows = batch
            .iter()
            .map(|(_, _, record)| EventRow::of(record))
            .collect::<Result<Vec<_>, _>>()?;
        let mut next: HashMap<i32, i64> = HashMap::new();
        for (partition, offset, _) in batch {
            let entry = next.entry(*partition).or_insert(0);
            *entry = (*entry).max(offset.saturating_add(1));
        }
        let (partitions, next): (Vec<i32>, Vec<i64>) = next.into_iter().unzip();
        self.write(
            rows,
            Some(Offsets {
                topic,
                partitions,
                next,
            }),
        )
        .await
    }

    /// Writes a batch (see the module documentation): the new records, linked, and the offsets,
    /// in one transaction. Returns how many records were new.
    async fn write(&self, rows: Vec<EventRow>, offsets: Option<Offsets<'_>>) -> Result<u64, AuditError> {
        // A record twice in the batch is stored once, the first time, as ON CONFLICT would.
        let first: Vec<bool> = {
            let mut seen = HashSet::new();
            rows.iter()
                .map(|row| seen.insert((row.account_id.as_str(), row.event_id.as_str())))
                .collect()
        };
        let rows: Vec<EventRow> = rows
            .into_iter()
            .zip(first)
            .filter_map(|(row, first)| first.then_some(row))
            .collect();
        if rows.is_empty() && offsets.is_none() {
            return Ok(0);
        }
        let accounts: Vec<String> = rows
            .iter()
            .map(|row| row.account_id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| unavailable("connecting to the audit store", &e))?;
        // At most twice: again only after creating the heads of accounts new to the store.
        for attempt in 0..2 {
            let mut tx = conn.begin().await.map_err(|e| unavailable("beginning a batch", &e))?;
            let locked = lock_batch(&mut tx, &accounts, &rows).await?;
            if locked.heads.len() < accounts.len() {
                tx.rollback()
                    .await
                    .map_err(|e| unavailable("rolling back a batch", &e))?;
                if attempt > 0 {
                    return Err(AuditError::Unavailable(
                        "the audit chain heads of the batch's accounts vanished as they were created".into(),
                    ));
                }
                let have: HashSet<&str> = locked.heads.iter().map(|(account, _)| account.as_str()).collect();
                let missing: Vec<String> = accounts
                    .iter()
                    .filter(|account| !have.contains(account.as_str()))
                    .cloned()
                    .collect();
                create_heads(&mut conn, &missing).await?;
                continue;
            }
            let mut heads = ChainHeads::new();
            for (account, head) in &locked.heads {
                // Sequence 0: the account's chain has not begun; its first record links genesis.
                if head.sequence > 0 {
                    heads.restore(account, *head);
                }
            }
            let stored = if locked.stale {
                stored_keys(&mut tx, &rows).await?
            } else {
                locked.stored
            };
            let mut columns = Columns::default();
            for row in rows {
                if stored
                    .get(&row.account_id)
                    .is_some_and(|events| events.contains(&row.event_id))
                {
                    continue;
                }
                let link = heads.append(&row.account_id, row.record.as_bytes());
                columns.push(row, link)?;
            }
            let expected = columns.record.len() as u64;
            if expected > 0 || offsets.is_some() {
                let inserted = insert_linked(&mut tx, &columns, &heads, offsets.as_ref()).await?;
                if inserted != expected {
                    // Only a writer that does not take the heads' lock (a binary older than the
                    // chain) can have stored one meanwhile; the links would then be wrong.
                    return Err(AuditError::Unavailable(format!(
                        "{} of the batch's audit records were stored meanwhile by a writer outside the chain's \
                         lock; nothing was written",
                        expected.saturating_sub(inserted)
                    )));
                }
            }
            tx.commit().await.map_err(|e| unavailable("committing a batch", &e))?;
            return Ok(expected);
        }
        Err(AuditError::Unavailable(
            "the audit batch could not lock its chain heads".into(),
        ))
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

    async fn chain(&self, account_id: &str, after: Option<u64>, first: usize) -> Result<ChainPage, AuditError> {
        let after = i64::try_from(after.unwrap_or(0))
            .map_err(|_| AuditError::Invalid(format!("{after:?} is not a position of the audit log")))?;
        let limit = i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT position, chain_sequence, chain_hash, record FROM audit_events \
             WHERE account_id = $1 AND position > $2 ORDER BY position LIMIT $3",
        )
        .bind(column_text(account_id))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("reading the audit chain", &e))?;
        let more = rows.len() > first;
        let records = rows
            .iter()
            .take(first)
            .map(|row| {
                let position = stored_number(row.get(0), "position")?;
                let malformed = |why: String| {
                    AuditError::Unavailable(format!(
                        "the chain link of the audit record at position {position} {why}"
                    ))
                };
                let link = match (row.get::<Option<i64>, _>(1), row.get::<Option<&str>, _>(2)) {
                    (None, None) => None,
                    (Some(sequence), Some(hash)) => Some(ChainLink {
                        sequence: u64::try_from(sequence).map_err(|_| malformed(format!("has sequence {sequence}")))?,
                        hash: hash.parse().map_err(|e| malformed(format!("is malformed: {e}")))?,
                    }),
                    _ => return Err(malformed("is half missing".into())),
                };
                Ok(ChainedRecord {
                    position,
                    link,
                    json: row.get::<String, _>(3).into_bytes(),
                })
            })
            .collect::<Result<Vec<_>, AuditError>>()?;
        let next = more.then(|| records.last().map(|r| r.position)).flatten();
        Ok(ChainPage { records, next })
    }

    /// Locks the heads of the accounts whose chain advanced past their last digest (as appends
    /// lock them, so none waits for another in a cycle), then reads their last digests and stores
    /// the next ones, in one transaction: two signers never fork an account's digest chain.
    async fn sign_digests(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
    ) -> Result<Vec<Digest>, AuditError> {
        self.sign_digests_with_events(signer, account_id, &HashMap::new()).await
    }

    async fn sign_digests_with_events(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
        event_heads: &HashMap<String, ChainLink>,
    ) -> Result<Vec<Digest>, AuditError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| unavailable("beginning to sign digests", &e))?;
        let rows = sqlx::query(
            "SELECT account_id, sequence, hash FROM audit_chain_heads AS h \
             WHERE sequence > 0 AND ($1::text IS NULL OR account_id = $1) \
             AND (account_id = ANY($2::text[]) OR sequence > coalesce((SELECT d.chain_sequence FROM audit_digests AS d \
                 WHERE d.account_id = h.account_id ORDER BY d.position DESC LIMIT 1), 0)) \
             ORDER BY account_id COLLATE \"C\" FOR UPDATE",
        )
        .bind(account_id.map(column_text))
        // Accounts whose event stream may have advanced: their digests are decided below.
        .bind(event_heads.keys().map(String::as_str).collect::<Vec<&str>>())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| unavailable("locking the audit chain heads", &e))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // A row locked after waiting is read as its lock found it, so these are the heads as of
        // now; the digests are read by a statement after the lock, so a signer that held it
        // before is seen.
        let heads = rows.iter().map(head_of).collect::<Result<Vec<_>, _>>()?;
        let accounts: Vec<&str> = heads.iter().map(|(account, _)| account.as_str()).collect();
        let last: HashMap<String, String> = sqlx::query(
            "SELECT DISTINCT ON (account_id) account_id, digest FROM audit_digests \
             WHERE account_id = ANY($1::text[]) ORDER BY account_id, position DESC",
        )
        .bind(&accounts)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| unavailable("reading the last audit digests", &e))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        let now = Utc::now();
        let mut digests = Vec::new();
        for (account, head) in heads {
            let previous = last
                .get(&account)
                .map(|text| parse_digest(text).map(|digest| DigestHead::of(&digest)))
                .transpose()?;
            let events = event_heads.get(&account).copied();
            if let Some(digest) = next_digest_with_events(&signer, &account, head, previous.as_ref(), events, now) {
                digests.push(digest);
            }
        }
        if digests.is_empty() {
            return Ok(digests);
        }
        let accounts: Vec<&str> = digests.iter().map(|d| d.body.account_id.as_str()).collect();
        let sequences = digests
            .iter()
            .map(|d| sequence_column(d.body.chain_sequence))
            .collect::<Result<Vec<_>, _>>()?;
        let texts = digests
            .iter()
            .map(|d| serde_json::to_string(d).map_err(|e| unavailable("encoding a digest", &e)))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO audit_digests (account_id, chain_sequence, digest) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[])",
        )
        .bind(&accounts)
        .bind(&sequences)
        .bind(&texts)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable("storing audit digests", &e))?;
        tx.commit()
            .await
            .map_err(|e| unavailable("committing audit digests", &e))?;
        Ok(digests)
    }

    async fn digests(&self, account_id: &str) -> Result<Vec<Digest>, AuditError> {
        let rows = sqlx::query("SELECT digest FROM audit_digests WHERE account_id = $1 ORDER BY position")
            .bind(column_text(account_id))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("reading audit digests", &e))?;
        rows.iter().map(|row| parse_digest(row.get(0))).collect()
    }

    async fn digest_page(
        &self,
        account_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Digest>, Option<u64>), AuditError> {
        // One more than asked: whether a next page exists.
        let rows = sqlx::query(
            "SELECT position, digest FROM audit_digests WHERE account_id = $1 AND position > $2 \
             ORDER BY position LIMIT $3",
        )
        .bind(column_text(account_id))
        .bind(i64::try_from(after.unwrap_or(0)).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("reading audit digests", &e))?;
        let (texts, next) = iam_audit::log::page_after(
            rows.iter()
                .map(|row| {
                    (
                        u64::try_from(row.get::<i64, _>(0)).unwrap_or(0),
                        row.get::<String, _>(1),
                    )
                })
                .collect(),
            limit,
        );
        let digests = texts.iter().map(|text| parse_digest(text)).collect::<Result<_, _>>()?;
        Ok((digests, next))
    }

    async fn record_signing_key(&self, key: PublicKey) -> Result<(), AuditError> {
        let text = serde_json::to_string(&key).map_err(|e| unavailable("encoding a signing key", &e))?;
        sqlx::query("INSERT INTO audit_signing_keys (key_id, key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING")
            .bind(&key.key_id)
            .bind(text)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("recording an audit signing key", &e))?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<PublicKey>, AuditError> {
        let rows = sqlx::query("SELECT key FROM audit_signing_keys ORDER BY position")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("reading audit signing keys", &e))?;
        rows.iter()
            .map(|row| serde_json::from_str(row.get(0)).map_err(|e| unavailable("reading a stored signing key", &e)))
            .collect()
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
