//! The audit index: the filterable fields of each record as integers (term ids from
//! `audit_terms`, times in microseconds; the event id as its UUID's 16 bytes), where its frame
//! is, and the projection's checkpoint.
//! Schema: `schema/migrations/sqlite/audit_index/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use iam_audit::integrity::ChainLink;
use iam_audit::{AuditError, AuditFields, AuditFilter};
use rusqlite::OptionalExtension;
use rustc_hash::FxHashMap;
use sqlx::{Row, SqlitePool};

use super::boot::{write_state, IndexState};
use super::unavailable;

/// Term ids kept in memory by the index writer; past this many (distinct resources are
/// unbounded) the cache starts over and misses are read from `audit_terms`.
const MAX_CACHED_TERMS: usize = 1 << 20;
/// WAL pages between checkpoints (SQLite's default is 1,000): a page changed by many commits is
/// copied into the database file once per checkpoint, so fewer checkpoints write less.
const WAL_CHECKPOINT_PAGES: u32 = 10_000;

/// One frame for the index: its position, where it starts and ends in the record file (no offset
/// for a record of the SQLite log of older versions; end 0), and what it holds.
pub(super) struct IndexRow {
    pub(super) position: u64,
    pub(super) offset: Option<u64>,
    pub(super) end: u64,
    pub(super) entry: Entry,
}

/// What a frame holds, as the index keeps it.
// Nearly every row is a record: boxing its fields would allocate once per record to save the
// few digest and key rows some bytes.
#[allow(clippy::large_enum_variant)]
pub(super) enum Entry {
    /// A record's fields and its chain link (none before chains began).
    Record {
        fields: AuditFields,
        link: Option<ChainLink>,
    },
    /// A signed digest of an account's chain.
    Digest { account_id: String, chain_sequence: u64 },
    /// A signing key.
    Key { key_id: String },
}

impl IndexRow {
    /// A record's row.
    pub(super) fn record(
        position: u64,
        offset: Option<u64>,
        end: u64,
        fields: AuditFields,
        link: Option<ChainLink>,
    ) -> Self {
        IndexRow {
            position,
            offset,
            end,
            entry: Entry::Record { fields, link },
        }
    }
}

/// How far the index has projected.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Checkpoint {
    pub(super) position: u64,
    /// The end of the last projected frame in the record file.
    pub(super) log_end: u64,
}

/// The index thread's connection, its cache of term ids, and when it skips `fsync`, its state
/// file (see `boot.rs`).
pub(super) struct IndexWriter {
    connection: rusqlite::Connection,
    terms: FxHashMap<String, i64>,
    unsynced: Option<UnsyncedState>,
}

/// Where an unsynced index records the boot it is written under, and whether it was last closed.
struct UnsyncedState {
    index: PathBuf,
    boot: String,
    closed: bool,
}

/// An index write that failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum IndexError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("writing the index state file: {0}")]
    State(#[from] std::io::Error),
}

fn to_i64(value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl IndexWriter {
    /// The index file's own write connection (durability comes from the record file: a lost
    /// index batch is projected again from it). Under a known `boot` (whose open state the
    /// caller has already written) the index never syncs; otherwise it syncs at checkpoints.
    pub(super) fn open(path: &Path, boot: Option<String>) -> rusqlite::Result<Self> {
        let connection = rusqlite::Connection::open(path)?;
        let synchronous = if boot.is_some() { "OFF" } else { "NORMAL" };
        connection.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
        ))?;
        Ok(IndexWriter {
            connection,
            terms: FxHashMap::default(),
            unsynced: boot.map(|boot| UnsyncedState {
                index: path.to_owned(),
                boot,
                closed: false,
            }),
        })
    }

    /// Makes the index durable as it stands (WAL checkpointed into the file and synced) and
    /// records that it was closed cleanly, so a restart of the system keeps it.
    pub(super) fn close_cleanly(&mut self) -> Result<(), IndexError> {
        let Some(state) = &mut self.unsynced else {
            return Ok(());
        };
        self.connection
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE); PRAGMA synchronous = OFF;")?;
        write_state(
            &state.index,
            &IndexState {
                boot: state.boot.clone(),
                closed: true,
            },
        )?;
        state.closed = true;
        Ok(())
    }

    pub(super) fn checkpoint(&self) -> rusqlite::Result<Checkpoint> {
        let found: Option<(i64, i64)> = self
            .connection
            .query_row(
                "SELECT position, log_end FROM audit_index_checkpoint WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(
            found.map_or_else(Checkpoint::default, |(position, log_end)| Checkpoint {
                position: u64::try_from(position).unwrap_or(0),
                log_end: u64::try_from(log_end).unwrap_or(0),
            }),
        )
    }

    /// Each account's chain head, for the writer to continue from.
    pub(super) fn chain_heads(&self) -> rusqlite::Result<Vec<(String, ChainLink)>> {
        let mut statement = self.connection.prepare(
            "SELECT t.term, h.sequence, h.hash FROM audit_chain_heads h JOIN audit_terms t ON t.id = h.account",
        )?;
        let rows = statement.query_map([], |row| {
            let hash: Vec<u8> = row.get(2)?;
            let mut bytes = [0u8; 32];
            if hash.len() == 32 {
                bytes.copy_from_slice(&hash);
            }
            Ok((
                row.get::<_, String>(0)?,
                ChainLink {
                    sequence: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    hash: iam_audit::integrity::ChainHash(bytes),
                },
            ))
        })?;
        rows.collect()
    }

    /// Where each account's last digest is: `(position, offset)`.
    pub(super) fn last_digests(&self) -> rusqlite::Result<Vec<(u64, u64)>> {
        let mut statement = self.connection.prepare(
            "SELECT d.position, d.log_offset FROM audit_digests d \
             JOIN (SELECT account, max(position) AS last FROM audit_digests GROUP BY account) l \
             ON d.position = l.last",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })?;
        rows.collect()
    }

    /// The ids of the signing keys recorded.
    pub(super) fn signing_key_ids(&self) -> rusqlite::Result<Vec<String>> {
        let mut statement = self.connection.prepare("SELECT key_id FROM audit_signing_keys")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect()
    }

    /// Writes index rows and moves the checkpoint, in one transaction.
    pub(super) fn write(&mut self, rows: &[IndexRow]) -> Result<(), IndexError> {
        if let Some(state) = self.unsynced.as_mut().filter(|state| state.closed) {
            // Written again after a clean close: no longer clean.
            write_state(
                &state.index,
                &IndexState {
                    boot: state.boot.clone(),
                    closed: false,
                },
            )?;
            state.closed = false;
        }
        let result = self.write_transaction(rows);
        if result.is_err() {
            // Ids of terms inserted by the failed transaction were rolled back with it.
            self.terms.clear();
        }
        Ok(result?)
    }

    fn write_transaction(&mut self, rows: &[IndexRow]) -> rusqlite::Result<()> {
        let tx = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_index (position, log_offset, account, event_time, event_name, \
                 event_source, principal, action, resource, decision, error_code, read_only, organization, \
                 decided_principal, event_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            let mut lookup = tx.prepare_cached("SELECT id FROM audit_terms WHERE term = ?1")?;
            let mut add = tx.prepare_cached("INSERT INTO audit_terms (term) VALUES (?1)")?;
            let terms = &mut self.terms;
            let mut id = |term: &str| -> rusqlite::Result<i64> {
                if let Some(&id) = terms.get(term) {
                    return Ok(id);
                }
                let id = match lookup.query_row([term], |row| row.get(0)).optional()? {
                    Some(id) => id,
                    None => add.insert([term])?,
                };
                if terms.len() >= MAX_CACHED_TERMS {
                    terms.clear();
                }
                terms.insert(term.to_owned(), id);
                Ok(id)
            };
            let mut add_digest = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_digests (position, account, chain_sequence, log_offset) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut add_key = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_signing_keys (position, key_id, log_offset) VALUES (?1, ?2, ?3)",
            )?;
            // Each account's last link of the batch, written once.
            let mut heads: FxHashMap<i64, ChainLink> = FxHashMap::default();
            for row in rows {
                let (f, link) = match &row.entry {
                    Entry::Record { fields, link } => (fields, link),
                    Entry::Digest {
                        account_id,
                        chain_sequence,
                    } => {
                        add_digest.execute(rusqlite::params![
                            to_i64(row.position)?,
                            id(account_id)?,
                            to_i64(*chain_sequence)?,
                            row.offset.map(to_i64).transpose()?,
                        ])?;
                        continue;
                    }
                    Entry::Key { key_id } => {
                        add_key.execute(rusqlite::params![
                            to_i64(row.position)?,
                            key_id,
                            row.offset.map(to_i64).transpose()?,
                        ])?;
                        continue;
                    }
                };
                let account = id(&f.account_id)?;
                if let Some(link) = link {
                    heads.insert(account, *link);
                }
                let event_name = id(&f.event_name)?;
                let event_source = id(&f.event_source)?;
                let principal = id(&f.principal_arn)?;
                let action = id(&f.action)?;
                let resource = f.resource_arn.as_deref().map(&mut id).transpose()?;
                let decision = f.decision.as_deref().map(&mut id).transpose()?;
                let error_code = f.error_code.as_deref().map(&mut id).transpose()?;
                let organization = f.organization_id.as_deref().map(&mut id).transpose()?;
                let decided_principal = f.decided_principal_arn.as_deref().map(&mut id).transpose()?;
                let event_id = f.event_key().map(|key| key.bytes());
                insert.execute(rusqlite::params![
                    to_i64(row.position)?,
                    row.offset.map(to_i64).transpose()?,
                    account,
                    f.event_time.timestamp_micros(),
                    event_name,
                    event_source,
                    principal,
                    action,
                    resource,
                    decision,
                    error_code,
                    f.read_only,
                    organization,
                    decided_principal,
                    event_id
                ])?;
            }
            let mut set_head = tx.prepare_cached(
                "INSERT INTO audit_chain_heads (account, sequence, hash) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (account) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash \
                 WHERE excluded.sequence > audit_chain_heads.sequence",
            )?;
            for (account, link) in heads {
                set_head.execute(rusqlite::params![account, to_i64(link.sequence)?, link.hash.0.to_vec()])?;
            }
            if let Some(last) = rows.iter().map(|r| r.position).max() {
                let end = rows.iter().map(|r| r.end).max().unwrap_or(0);
                tx.execute(
                    "INSERT INTO audit_index_checkpoint (id, position, log_end) VALUES (1, ?1, ?2) \
                     ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position), \
                     log_end = max(log_end, excluded.log_end)",
                    [to_i64(last)?, to_i64(end)?],
                )?;
            }
        }
        tx.commit()
    }
}

/// The ids of `terms` (in order; `None` for a term no record has).
pub(super) async fn term_ids(pool: &SqlitePool, terms: &[&str]) -> Result<Vec<Option<i64>>, AuditError> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; terms.len()].join(", ");
    let text = format!("SELECT term, id FROM audit_terms WHERE term IN ({placeholders})");
    let mut query = sqlx::query(&text);
    for term in terms {
        query = query.bind(*term);
    }
    let found: HashMap<String, i64> = query
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable("reading audit terms", &e))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    Ok(terms.iter().map(|term| found.get(*term).copied()).collect())
}

/// A value a condition binds: a term id or time, or an event id's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    Integer(i64),
    Bytes([u8; 16]),
}

impl Value {
    /// Binds the value as the query's next parameter.
    pub(super) fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
        match self {
            Value::Integer(value) => query.bind(value),
            Value::Bytes(bytes) => query.bind(bytes.to_vec()),
        }
    }
}

/// A filter as SQL over `audit_index`: `WHERE` text and its values, always starting with the
/// account, or for an organization trail with the organization.
pub(super) struct Condition {
    pub(super) sql: String,
    pub(super) values: Vec<Value>,
    /// The index to read, named because SQLite's planner, without statistics, prefers the
    /// primary key (it gives the page order) and then filters: for one resource among
    /// thousands that read half a million rows instead of fifty.
    index: Option<&'static str>,
}

impl Condition {
    /// `None` when a string the filter names is in no record: nothing can match.
    ///
    /// # Errors
    /// [`AuditError::Invalid`] for an event id that is not a UUID; a backend failure.
    pub(super) async fn of(pool: &SqlitePool, filter: &AuditFilter) -> Result<Option<Self>, AuditError> {
        let event_key = filter.event_key()?;
        // A trail's whole organization is read through `audit_by_organization`; a trail narrowed
        // to one account reads the account's slice like any account query, and the unary `+`
        // keeps SQLite from driving it by the organization instead (which would scan every
        // member's records to find one account's).
        let trail = filter.organization_id.as_deref();
        let whole_trail = trail.is_some() && filter.account_id.is_empty();
        let named: [(&str, Option<&str>); 11] = [
            ("organization", trail.filter(|_| whole_trail)),
            ("account", (!whole_trail).then_some(filter.account_id.as_str())),
            ("+organization", trail.filter(|_| !whole_trail)),
            ("principal", filter.principal_arn.as_deref()),
            ("decided_principal", filter.decided_principal_arn.as_deref()),
            ("event_name", filter.event_name.as_deref()),
            ("event_source", filter.event_source.as_deref()),
            ("action", filter.action.as_deref()),
            ("resource", filter.resource_arn.as_deref()),
            ("decision", filter.decision.as_deref()),
            ("error_code", filter.error_code.as_deref()),
        ];
        let terms: Vec<&str> = named.iter().filter_map(|(_, term)| *term).collect();
        let mut ids = term_ids(pool, &terms).await?.into_iter();
        let mut condition = Condition {
            sql: String::new(),
            values: Vec::new(),
            index: None,
        };
        for (column, term) in named {
            if term.is_none() {
                continue;
            }
            let Some(id) = ids.next().flatten() else {
                return Ok(None);
            };
            if !condition.sql.is_empty() {
                condition.sql.push_str(" AND ");
            }
            condition.sql.push_str(column);
            condition.sql.push_str(" = ?");
            condition.values.push(Value::Integer(id));
        }
        if let Some(key) = event_key {
            condition.sql.push_str(" AND event_id = ?");
            condition.values.push(Value::Bytes(key.bytes()));
        }
        if let Some(from) = filter.from {
            condition.sql.push_str(" AND event_time >= ?");
            condition.values.push(Value::Integer(from.timestamp_micros()));
        }
        if let Some(to) = filter.to {
            condition.sql.push_str(" AND event_time < ?");
            condition.values.push(Value::Integer(to.timestamp_micros()));
        }
        // Repeat the partial indexes' conditions so SQLite knows they apply (ids 1 and 2 are
        // 'Authorize' and 'Allow', fixed by the migration).
        let rare_event_name = filter.event_name.as_deref().is_some_and(|name| name != "Authorize");
        let rare_decision = filter.decision.as_deref().is_some_and(|decision| decision != "Allow");
        if rare_event_name {
            condition.sql.push_str(" AND event_name <> 1");
        }
        if rare_decision {
            condition.sql.push_str(" AND decision <> 2");
        }
        // The most selective field filtered on: the event id (one record), one resource or
        // principal among many, then the rare values of the partial indexes, then the action;
        // otherwise the primary key (account, time), which also serves time windows. Every one of
        // them but the event id's leads with the account: a whole trail reads its organization's
        // index (newest first, the other fields checked on its rows).
        condition.index = [
            (event_key.is_some(), "audit_by_event_id"),
            (whole_trail, "audit_by_organization"),
            (filter.resource_arn.is_some(), "audit_by_resource"),
            (filter.principal_arn.is_some(), "audit_by_principal"),
            (filter.decided_principal_arn.is_some(), "audit_by_decided_principal"),
            (filter.error_code.is_some(), "audit_by_error_code"),
            (rare_event_name, "audit_by_event_name"),
            (rare_decision, "audit_by_decision"),
            (filter.action.is_some(), "audit_by_action"),
        ]
        .into_iter()
        .find_map(|(filtered, index)| filtered.then_some(index));
        Ok(Some(condition))
    }

    /// `audit_index`, with the index to read when there is one.
    pub(super) fn table(&self) -> String {
        match self.index {
            Some(index) => format!("audit_index INDEXED BY {index}"),
            None => "audit_index".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    /// How SQLite plans `filter`'s page query, as `EXPLAIN QUERY PLAN` details.
    async fn plan(pool: &SqlitePool, filter: &AuditFilter) -> String {
        let condition = Condition::of(pool, filter).await.unwrap().unwrap();
        let text = format!(
            "EXPLAIN QUERY PLAN SELECT position, event_time, log_offset FROM {} WHERE {} \
             AND (event_time, position) < (?, ?) ORDER BY event_time DESC, position DESC LIMIT 10",
            condition.table(),
            condition.sql
        );
        let mut query = sqlx::query(&text);
        for value in condition.values.iter().chain(&[Value::Integer(i64::MAX); 2]) {
            query = value.bind(query);
        }
        let rows = query.fetch_all(pool).await.unwrap();
        rows.iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A migrated, empty index holding `terms`.
    async fn index_with_terms(dir: &Path, terms: &[&str]) -> SqlitePool {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(dir.join("audit-index.db"))
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        sqlx::migrate!("../../schema/migrations/sqlite/audit_index")
            .run(&pool)
            .await
            .unwrap();
        for term in terms {
            sqlx::query("INSERT INTO audit_terms (term) VALUES (?)")
                .bind(term)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool
    }

    /// A whole trail is one range of the organization's index, in page order; a trail narrowed to
    /// an account is the account's range of the primary key, never the organization's index.
    #[tokio::test]
    async fn organization_trails_read_their_own_index_and_narrowed_ones_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let pool = index_with_terms(
            dir.path(),
            &["o-exampleorg1", "111111111111", "arn:aws:iam::111111111111:user/alice"],
        )
        .await;
        let trail = AuditFilter {
            organization_id: Some("o-exampleorg1".into()),
            ..AuditFilter::default()
        };
        let whole = plan(&pool, &trail).await;
        assert!(whole.contains("audit_by_organization (organization=?"), "{whole}");
        assert!(!whole.contains("TEMP B-TREE"), "pages come in index order: {whole}");
        let filtered = plan(
            &pool,
            &AuditFilter {
                principal_arn: Some("arn:aws:iam::111111111111:user/alice".into()),
                ..trail.clone()
            },
        )
        .await;
        assert!(filtered.contains("audit_by_organization"), "{filtered}");
        let narrowed = plan(
            &pool,
            &AuditFilter {
                account_id: "111111111111".into(),
                ..trail.clone()
            },
        )
        .await;
        assert!(
            narrowed.contains("PRIMARY KEY (account=?") && !narrowed.contains("audit_by_organization"),
            "{narrowed}"
        );
        assert!(!narrowed.contains("TEMP B-TREE"), "{narrowed}");
        pool.close().await;
    }

    /// The decisions about one principal are one range of its index, in page order, also under
    /// the caller's principal; an event id is one lookup of its index, for an account and a whole
    /// trail alike, whatever else is filtered.
    #[tokio::test]
    async fn decided_principals_and_event_ids_read_their_own_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let alice = "arn:aws:iam::111111111111:user/alice";
        let app = "arn:aws:iam::111111111111:user/app";
        let pool = index_with_terms(dir.path(), &["o-exampleorg1", "111111111111", alice, app]).await;
        let account = AuditFilter {
            account_id: "111111111111".into(),
            ..AuditFilter::default()
        };
        let about = AuditFilter {
            decided_principal_arn: Some(alice.into()),
            ..account.clone()
        };
        let plain = plan(&pool, &about).await;
        assert!(
            plain.contains("audit_by_decided_principal (account=? AND decided_principal=?"),
            "{plain}"
        );
        assert!(!plain.contains("TEMP B-TREE"), "pages come in index order: {plain}");
        let windowed = plan(
            &pool,
            &AuditFilter {
                from: Some(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
                ..about.clone()
            },
        )
        .await;
        assert!(
            windowed.contains("audit_by_decided_principal (account=? AND decided_principal=? AND event_time>?"),
            "{windowed}"
        );
        assert!(!windowed.contains("TEMP B-TREE"), "{windowed}");

        let id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
        let trail = AuditFilter {
            organization_id: Some("o-exampleorg1".into()),
            ..AuditFilter::default()
        };
        for filter in [
            AuditFilter {
                event_id: Some(id.into()),
                ..account.clone()
            },
            AuditFilter {
                event_id: Some(id.into()),
                principal_arn: Some(app.into()),
                ..about.clone()
            },
            AuditFilter {
                event_id: Some(id.into()),
                ..trail.clone()
            },
        ] {
            let found = plan(&pool, &filter).await;
            assert!(found.contains("audit_by_event_id (event_id=?"), "{found}");
        }
        // Not a UUID: refused before any SQL.
        let malformed = AuditFilter {
            event_id: Some("e".into()),
            ..account
        };
        assert!(matches!(
            Condition::of(&pool, &malformed).await,
            Err(AuditError::Invalid(_))
        ));
        pool.close().await;
    }
}
