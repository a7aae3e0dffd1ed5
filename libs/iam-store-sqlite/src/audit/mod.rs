//! [`SqliteAuditLog`]: the embedded audit history, with group commit.
//!
//! Records go to an append-only file of checksummed frames (`audit.log`, see [`file`]): appends
//! from every request funnel into one writer thread that writes whatever has queued as one group
//! (one `write`, one `fdatasync`) and then answers every waiter, so a caller's append returns
//! only after its records are durable.
//!
//! The query index (`audit-index.db`, see [`index`]) is a SQLite projection of the file, written
//! by a second thread in larger batches (every [`INDEX_INTERVAL`], or at once when a query asks),
//! with its checkpoint in the same transaction. The writer hands each written record to the index
//! thread before it answers the append, and a query first asks the index thread to project
//! everything handed over, so a record is visible to every query that starts after its append
//! returned. After a crash the index catches up from the file when the store opens.
//!
//! Versions before the record file kept records in `audit.db`'s `audit_log` table. Such a file is
//! kept and read as it is (its index rows have no file offset); new records continue its
//! positions in the record file.

mod boot;
mod file;
mod index;

use std::path::{Path, PathBuf};
use std::sync::mpsc as channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use std::collections::HashMap;

use iam_audit::integrity::{
    next_digest_with_events, AuditSigner, ChainHeads, ChainLink, Digest, DigestHead, PublicKey,
};
use iam_audit::{
    AuditError, AuditFields, AuditFilter, AuditLog, AuditPage, AuditRecord, ChainPage, ChainedRecord, EncodedRecord,
    GroupBy,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use tokio::sync::oneshot;

use file::{split_link, FrameKind, RecordFile, RecordReader};
use index::{Entry, IndexRow, IndexWriter};

/// How many queued appends one group takes at most.
const MAX_GROUP: usize = 512;
/// How long acknowledged records may wait for the index when no query asks for them. Queries
/// flush first, so this bounds only how much work one batch does: larger batches rewrite each
/// hot index page once for more records.
const INDEX_INTERVAL: Duration = Duration::from_millis(250);
/// How many pending records make the writer project the index without waiting.
const INDEX_BATCH: usize = 8_192;
/// How many written records may wait for the index before appends wait for it: bounds the
/// index's lag (and the memory of its queue) when appends outrun it for long.
const MAX_INDEX_BACKLOG: usize = 32_768;
/// Records read per step when the index catches up with the logs.
const CATCH_UP_BATCH: usize = 10_000;

/// Records handed to the index thread and not yet indexed, with a signal when it falls.
#[derive(Default, Debug)]
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

/// Records to make durable, and who waits for them.
struct Append {
    records: Vec<EncodedRecord>,
    done: oneshot::Sender<Result<(), AuditError>>,
}

/// What the writer thread is asked to write.
enum WriterWork {
    Append(Append),
    /// Sign the next digest of every account whose chain advanced (or of one account).
    Digests {
        signer: Arc<AuditSigner>,
        account_id: Option<String>,
        event_heads: HashMap<String, ChainLink>,
        done: oneshot::Sender<Result<Vec<Digest>, AuditError>>,
    },
    /// Record a signing key, once.
    Key {
        key: PublicKey,
        done: oneshot::Sender<Result<(), AuditError>>,
    },
}

/// What the writer keeps of the hash chain: each account's head, its last digest, the keys
/// recorded.
#[derive(Default)]
struct ChainState {
    heads: ChainHeads,
    digests: std::collections::HashMap<String, DigestHead>,
    keys: std::collections::HashSet<String>,
}

/// What the index thread is given.
enum IndexWork {
    /// Records written to the log, with their positions and frames.
    Records(Vec<IndexRow>),
    /// Project everything received so far, then answer.
    Flush(oneshot::Sender<Result<(), AuditError>>),
    /// Project everything, make the index durable and mark it closed cleanly, then answer.
    Close(oneshot::Sender<Result<(), AuditError>>),
}

/// How hard an append is pushed to disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditDurability {
    /// fsync at every group: survives power loss.
    #[default]
    Full,
    /// Decision records are written to the operating system before they are acknowledged, and
    /// synced in the background within [`BACKGROUND_SYNC_INTERVAL`]: they survive kill -9 of any
    /// process, and a power cut loses at most that last interval. Management records are still
    /// synced before they are acknowledged, as the events they describe are.
    Process,
}

/// How long, under [`AuditDurability::Process`], a written record may wait for its `fdatasync`.
/// Bounds what a power cut can take, as `synchronous_commit=off` does in PostgreSQL (there
/// 3 × `wal_writer_delay`, 600 ms by default).
pub const BACKGROUND_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// The audit history: a record file and its SQLite index.
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    appends: channel::Sender<WriterWork>,
    index: channel::Sender<IndexWork>,
    /// The index, read-only.
    reader: SqlitePool,
    /// The SQLite log of older versions, when there is one.
    legacy: Option<SqlitePool>,
    records: Arc<RecordReader>,
    /// Records durable but not yet indexed.
    backlog: Arc<Backlog>,
    /// Cleared when the writer thread ends: appends can no longer succeed.
    writer_running: Arc<std::sync::atomic::AtomicBool>,
}

fn unavailable(context: &str, error: &impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!("{context}: {error}"))
}

/// The files beside `path` (`audit.db`): the record file and the index.
fn sibling(path: &str, suffix: &str) -> PathBuf {
    let stem = path.strip_suffix(".db").unwrap_or(path);
    PathBuf::from(format!("{stem}{suffix}"))
}

fn time_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn micros(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_micros()
}

impl SqliteAuditLog {
    /// Opens (creating if missing) the audit history named by `path` (`.../audit.db`): the record
    /// file `audit.log` and the index `audit-index.db` beside it, plus `audit.db` itself when an
    /// older version left records there. Catches the index up with both logs, then starts the
    /// writer and index threads.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] if a file cannot be opened, migrated or read.
    pub async fn open(path: &str, durability: AuditDurability) -> Result<Self, AuditError> {
        let index_path = sibling(path, "-index.db");
        let record_path = sibling(path, ".log");
        let options = |file: &Path| {
            SqliteConnectOptions::new()
                .filename(file)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        };
        let legacy = if Path::new(path).exists() {
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options(Path::new(path)))
                .await
                .map_err(|e| unavailable("opening the SQLite audit log", &e))?;
            let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/audit");
            migrator.set_ignore_missing(true);
            migrator
                .run(&pool)
                .await
                .map_err(|e| unavailable("migrating the SQLite audit log", &e))?;
            Some(pool)
        } else {
            None
        };
        // An index that skipped fsync and was still open when the system (not only the process)
        // stopped may be damaged: it is dropped and rebuilt from the record file below.
        let boot = boot::current_boot();
        if let Some(now) = &boot {
            if !boot::trusted(boot::read_state(&index_path).as_ref(), now) {
                tracing::warn!(
                    index = %index_path.display(),
                    "the audit index was open when the system last stopped; rebuilding it from the record file"
                );
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = index_path.as_os_str().to_owned();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(unavailable("removing the untrusted audit index", &e));
                        }
                        _ => {}
                    }
                }
            }
            boot::write_state(
                &index_path,
                &boot::IndexState {
                    boot: now.clone(),
                    closed: false,
                },
            )
            .map_err(|e| unavailable("writing the audit index state", &e))?;
        }
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

        let legacy_path = legacy.as_ref().map(|_| PathBuf::from(path));
        let catch_up =
            tokio::task::spawn_blocking(move || open_files(&index_path, &record_path, legacy_path.as_deref(), boot))
                .await
                .map_err(|e| unavailable("opening the audit files", &e))??;
        let Opened {
            writer,
            file,
            next_position,
            index_path,
            record_path,
            chain,
        } = catch_up;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(&index_path).read_only(true))
            .await
            .map_err(|e| unavailable("opening the audit index for reading", &e))?;
        let records = Arc::new(
            RecordReader::open(&record_path).map_err(|e| unavailable("opening the audit records for reading", &e))?,
        );

        let (index, index_queue) = channel::channel();
        let (appends, append_queue) = channel::channel();
        let to_index = index.clone();
        let backlog = Arc::new(Backlog::default());
        let indexed = backlog.clone();
        let queryable = backlog.clone();
        let writer_running = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let running = writer_running.clone();
        std::thread::Builder::new()
            .name("audit-index".into())
            .spawn(move || {
                lower_priority();
                index_loop(writer, &index_queue, &indexed);
            })
            .map_err(|e| unavailable("starting the audit indexer", &e))?;
        let sync = durability == AuditDurability::Full;
        // The background syncer stops when the writer thread drops its end of this channel.
        let (writer_alive, writer_gone) = channel::channel::<()>();
        if !sync {
            let syncer = file
                .syncer()
                .map_err(|e| unavailable("opening the audit records for syncing", &e))?;
            std::thread::Builder::new()
                .name("audit-sync".into())
                .spawn(move || background_sync(&syncer, &writer_gone))
                .map_err(|e| unavailable("starting the audit syncer", &e))?;
        }
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                let _alive = writer_alive;
                append_loop(file, sync, next_position, chain, &append_queue, &to_index, &backlog);
                running.store(false, std::sync::atomic::Ordering::Release);
            })
            .map_err(|e| unavailable("starting the audit writer", &e))?;
        Ok(SqliteAuditLog {
            appends,
            index,
            reader,
            legacy,
            records,
            backlog: queryable,
            writer_running,
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
        self.index_acknowledged().await?;
        let Some(account) = index::term_ids(&self.reader, &[account_id]).await?.pop().flatten() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT position, log_offset FROM audit_index \
             WHERE account = ? AND event_time >= ? AND event_time < ? ORDER BY event_time, position",
        )
        .bind(account)
        .bind(from.map_or(i64::MIN, micros))
        .bind(to.map_or(i64::MAX, micros))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| unavailable("exporting the audit log", &e))?;
        let located: Vec<(i64, Option<i64>)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        self.read_records(&located).await
    }

    /// The records at `(position, file offset)`, in that order: from the record file, or from the
    /// SQLite log of older versions for rows without an offset.
    async fn read_records(&self, located: &[(i64, Option<i64>)]) -> Result<Vec<AuditRecord>, AuditError> {
        let legacy_positions: Vec<i64> = located
            .iter()
            .filter(|(_, offset)| offset.is_none())
            .map(|(position, _)| *position)
            .collect();
        let mut legacy_records = std::collections::HashMap::new();
        if !legacy_positions.is_empty() {
            let Some(pool) = &self.legacy else {
                return Err(AuditError::Unavailable(
                    "the index names records of the SQLite audit log, but audit.db is missing".into(),
                ));
            };
            for chunk in legacy_positions.chunks(500) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let text = format!("SELECT position, record FROM audit_log WHERE position IN ({placeholders})");
                let mut query = sqlx::query(&text);
                for position in chunk {
                    query = query.bind(position);
                }
                for row in query
                    .fetch_all(pool)
                    .await
                    .map_err(|e| unavailable("reading the SQLite audit log", &e))?
                {
                    legacy_records.insert(row.get::<i64, _>(0), row.get::<String, _>(1));
                }
            }
        }
        let reader = self.records.clone();
        let located = located.to_vec();
        tokio::task::spawn_blocking(move || {
            located
                .iter()
                .map(|&(position, offset)| {
                    let record = match offset {
                        Some(offset) => {
                            let (kind, payload) = reader
                                .read(u64::try_from(offset).unwrap_or(0), u64::try_from(position).unwrap_or(0))
                                .map_err(|e| unavailable("reading an audit record", &e))?;
                            serde_json::from_slice(split_link(kind, &payload).1)
                        }
                        None => {
                            let text = legacy_records.get(&position).ok_or_else(|| {
                                AuditError::Unavailable(format!("audit record {position} is missing from audit.db"))
                            })?;
                            serde_json::from_str(text)
                        }
                    };
                    record.map_err(|e| unavailable("decoding an audit record", &e))
                })
                .collect()
        })
        .await
        .map_err(|e| unavailable("reading audit records", &e))?
    }

    /// The frames at `(position, file offset)` as chained records, in that order (a record of
    /// the SQLite log of older versions, without an offset, has no link).
    async fn read_frames(&self, located: &[(i64, Option<i64>)]) -> Result<Vec<ChainedRecord>, AuditError> {
        let reader = self.records.clone();
        let legacy: Vec<(i64, Option<i64>)> = located.iter().filter(|(_, o)| o.is_none()).copied().collect();
        let mut legacy_records = self.read_records(&legacy).await?.into_iter();
        let to_read = located.to_vec();
        let from_file = tokio::task::spawn_blocking(move || {
            to_read
                .iter()
                .filter_map(|&(position, offset)| Some((position, offset?)))
                .map(|(position, offset)| {
                    let position = u64::try_from(position).unwrap_or(0);
                    let (kind, payload) = reader
                        .read(u64::try_from(offset).unwrap_or(0), position)
                        .map_err(|e| unavailable("reading an audit record", &e))?;
                    let (link, json) = split_link(kind, &payload);
                    Ok((position, link, json.to_vec()))
                })
                .collect::<Result<Vec<_>, AuditError>>()
        })
        .await
        .map_err(|e| unavailable("reading audit records", &e))??;
        let mut from_file = from_file.into_iter();
        let mut records = Vec::with_capacity(located.len());
        for &(position, offset) in located {
            let record = if offset.is_some() {
                from_file
                    .next()
                    .map(|(position, link, json)| ChainedRecord { position, link, json })
            } else {
                // Unchained records of older versions: their JSON as this version writes it.
                legacy_records.next().map(|record| ChainedRecord {
                    position: u64::try_from(position).unwrap_or(0),
                    link: None,
                    json: serde_json::to_vec(&record).unwrap_or_default(),
                })
            };
            records.push(record.ok_or_else(|| AuditError::Unavailable("an audit record vanished while read".into()))?);
        }
        Ok(records)
    }

    /// Digests or keys (JSON frames) at `(position, offset)`, in that order.
    async fn read_signed<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        located: Vec<(i64, i64)>,
    ) -> Result<Vec<T>, AuditError> {
        let reader = self.records.clone();
        tokio::task::spawn_blocking(move || {
            located
                .into_iter()
                .map(|(position, offset)| {
                    let (_, payload) = reader
                        .read(u64::try_from(offset).unwrap_or(0), u64::try_from(position).unwrap_or(0))
                        .map_err(|e| unavailable("reading an audit digest or key", &e))?;
                    serde_json::from_slice(&payload).map_err(|e| unavailable("decoding an audit digest or key", &e))
                })
                .collect()
        })
        .await
        .map_err(|e| unavailable("reading audit digests", &e))?
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

    /// Makes the index durable and marks it closed cleanly (so it is kept across a restart of
    /// the system), then closes the read connections.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.index.send(IndexWork::Close(done)).is_ok() {
            if let Ok(Err(error)) = closed.await {
                tracing::warn!(%error, "the audit index could not be closed cleanly");
            }
        }
        self.reader.close().await;
        if let Some(legacy) = &self.legacy {
            legacy.close().await;
        }
    }
}

/// What opening the files yields for the threads.
struct Opened {
    writer: IndexWriter,
    file: RecordFile,
    next_position: u64,
    index_path: PathBuf,
    record_path: PathBuf,
    chain: ChainState,
}

/// Opens the index writer and the record file, and projects whatever the index lacks: records of
/// the SQLite log of older versions, then frames of the record file past the checkpoint (written
/// before a crash, or all of them when the index is new).
fn open_files(
    index_path: &Path,
    record_path: &Path,
    legacy: Option<&Path>,
    boot: Option<String>,
) -> Result<Opened, AuditError> {
    let mut writer =
        IndexWriter::open(index_path, boot).map_err(|e| unavailable("opening the audit index writer", &e))?;
    let checkpoint = writer
        .checkpoint()
        .map_err(|e| unavailable("reading the audit index checkpoint", &e))?;
    let mut last_position = checkpoint.position;
    if let Some(legacy) = legacy {
        last_position = last_position.max(
            catch_up_legacy(&mut writer, legacy, checkpoint.position)
                .map_err(|e| unavailable("indexing the SQLite audit log", &e))?,
        );
    }
    let (file, frames) =
        RecordFile::open(record_path, checkpoint.log_end).map_err(|e| unavailable("opening the audit records", &e))?;
    for chunk in frames.chunks(CATCH_UP_BATCH) {
        let mut rows = Vec::with_capacity(chunk.len());
        for frame in chunk {
            rows.push(catch_up_row(frame)?);
        }
        writer
            .write(&rows)
            .map_err(|e| unavailable("indexing audit records", &e))?;
    }
    if let Some(last) = frames.last() {
        last_position = last_position.max(last.position);
    }
    let chain = restore_chain(&writer, record_path)?;
    Ok(Opened {
        writer,
        file,
        next_position: last_position + 1,
        index_path: index_path.to_owned(),
        record_path: record_path.to_owned(),
        chain,
    })
}

/// The index row of a frame found past the checkpoint.
fn catch_up_row(frame: &file::Frame) -> Result<IndexRow, AuditError> {
    let end = frame.offset + (file::HEADER + frame.payload.len()) as u64;
    let (link, json) = split_link(frame.kind, &frame.payload);
    let entry = match frame.kind {
        FrameKind::Record | FrameKind::Chained => {
            let record: AuditRecord =
                serde_json::from_slice(json).map_err(|e| unavailable("decoding an audit record", &e))?;
            Entry::Record {
                fields: AuditFields::of(&record),
                link,
            }
        }
        FrameKind::Digest => {
            let digest: Digest = serde_json::from_slice(json).map_err(|e| unavailable("decoding a digest", &e))?;
            Entry::Digest {
                account_id: digest.body.account_id,
                chain_sequence: digest.body.chain_sequence,
            }
        }
        FrameKind::Key => {
            let key: PublicKey = serde_json::from_slice(json).map_err(|e| unavailable("decoding a signing key", &e))?;
            Entry::Key { key_id: key.key_id }
        }
    };
    Ok(IndexRow {
        position: frame.position,
        offset: Some(frame.offset),
        end,
        entry,
    })
}

/// The chain as the index has it once it caught up with the file: each account's head, its last
/// digest (read from the file), the keys recorded.
fn restore_chain(writer: &IndexWriter, record_path: &Path) -> Result<ChainState, AuditError> {
    let failed = |e: rusqlite::Error| unavailable("reading the audit chain's heads", &e);
    let mut chain = ChainState::default();
    for (account, head) in writer.chain_heads().map_err(failed)? {
        chain.heads.restore(&account, head);
    }
    let last_digests = writer.last_digests().map_err(failed)?;
    if !last_digests.is_empty() {
        let reader = RecordReader::open(record_path).map_err(|e| unavailable("opening the audit records", &e))?;
        for (position, offset) in last_digests {
            let (_, payload) = reader
                .read(offset, position)
                .map_err(|e| unavailable("reading an audit digest", &e))?;
            let digest: Digest =
                serde_json::from_slice(&payload).map_err(|e| unavailable("decoding an audit digest", &e))?;
            chain
                .digests
                .insert(digest.body.account_id.clone(), DigestHead::of(&digest));
        }
    }
    chain.keys = writer.signing_key_ids().map_err(failed)?.into_iter().collect();
    Ok(chain)
}

/// Indexes the records of an older version's SQLite log past `after`; returns its last position.
fn catch_up_legacy(writer: &mut IndexWriter, path: &Path, mut after: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let log = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let last: Option<i64> = log.query_row("SELECT max(position) FROM audit_log", [], |row| row.get(0))?;
    let last = u64::try_from(last.unwrap_or(0))?;
    let mut statement =
        log.prepare("SELECT position, record FROM audit_log WHERE position > ?1 ORDER BY position LIMIT ?2")?;
    while after < last {
        let rows: Vec<(i64, String)> = statement
            .query_map(rusqlite::params![i64::try_from(after)?, CATCH_UP_BATCH as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some((end, _)) = rows.last() else { break };
        after = u64::try_from(*end)?;
        let mut batch = Vec::with_capacity(rows.len());
        for (position, json) in rows {
            let record: AuditRecord = serde_json::from_str(&json)?;
            batch.push(IndexRow::record(
                u64::try_from(position)?,
                None,
                0,
                AuditFields::of(&record),
                None,
            ));
        }
        writer.write(&batch)?;
    }
    Ok(last)
}

/// Gives the calling thread the lowest scheduling priority (nice 19). Indexing is batch work
/// whose results are needed only when a query asks (and a query flushes it first), while requests
/// and the record writer wait for answers; on two cores an indexer at equal priority took a core
/// from them for as long as each batch ran (decisions p99 6.3 ms at 48 connections; 5.3 ms at
/// nice 19). Idle CPU still runs it at full speed.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux a thread id names one thread to setpriority.
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::debug!(%error, "the audit indexer keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// The writer thread: writes whatever appends have queued as one group of frames (each record
/// with its link in its account's chain), hands the records to the index thread, then answers
/// each append. Digests and keys are written between groups, so they cover exactly the records
/// written before them.
fn append_loop(
    mut file: RecordFile,
    sync: bool,
    mut next_position: u64,
    mut chain: ChainState,
    queue: &channel::Receiver<WriterWork>,
    index: &channel::Sender<IndexWork>,
    backlog: &Backlog,
) {
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut waiting: Option<WriterWork> = None;
    loop {
        let work = match waiting.take() {
            Some(work) => work,
            None => match queue.recv() {
                Ok(work) => work,
                Err(_) => return,
            },
        };
        let first = match work {
            WriterWork::Append(append) => append,
            WriterWork::Digests {
                signer,
                account_id,
                event_heads,
                done,
            } => {
                let _ = done.send(write_digests(
                    &mut file,
                    &mut next_position,
                    &mut chain,
                    (&signer, &event_heads),
                    account_id.as_deref(),
                    index,
                    backlog,
                ));
                continue;
            }
            WriterWork::Key { key, done } => {
                let _ = done.send(write_key(
                    &mut file,
                    &mut next_position,
                    &mut chain,
                    &key,
                    index,
                    backlog,
                ));
                continue;
            }
        };
        // Appends that outrun the index for long wait for it here, so its lag stays bounded.
        backlog.wait_below_bound();
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(WriterWork::Append(next)) => group.push(next),
                Ok(other) => {
                    waiting = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        buffer.clear();
        let mut frames = Vec::new();
        // Each account's head before this group, to put back if the group is not written.
        let mut before: Vec<(String, Option<iam_audit::integrity::ChainLink>)> = Vec::new();
        for (position, record) in (next_position..).zip(group.iter().flat_map(|a| &a.records)) {
            let account = &record.fields.account_id;
            if !before.iter().any(|(a, _)| a == account) {
                before.push((account.clone(), chain.heads.get(account)));
            }
            let link = chain.heads.append(account, &record.json);
            let at = file::encode_kind(&mut buffer, position, FrameKind::Chained, Some(&link), &record.json);
            frames.push((
                position,
                at as u64,
                (file::HEADER + file::LINK + record.json.len()) as u64,
                link,
            ));
        }
        let sync_group = sync || group.iter().any(|append| must_sync_always(&append.records));
        match file.append(&buffer, sync_group) {
            Ok(base) => {
                next_position += frames.len() as u64;
                let mut waiters = Vec::with_capacity(group.len());
                let records = group.into_iter().flat_map(|a| {
                    waiters.push(a.done);
                    a.records
                });
                let rows: Vec<IndexRow> = frames
                    .iter()
                    .zip(records)
                    .map(|(&(position, at, length, link), record)| {
                        IndexRow::record(position, Some(base + at), base + at + length, record.fields, Some(link))
                    })
                    .collect();
                // Handed over before anyone is answered: a query sent after an answer finds
                // these records ahead of it in the index thread's queue.
                backlog.add(rows.len());
                let _ = index.send(IndexWork::Records(rows));
                for done in waiters {
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                for (account, head) in before {
                    chain.heads.reset(&account, head);
                }
                let error = unavailable(&format!("writing audit records to {}", file.path().display()), &error);
                tracing::error!(%error, "audit records could not be made durable");
                for append in group {
                    let _ = append.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Writes non-record frames (digests, keys) as one synced group and hands them to the index.
fn write_signed_frames(
    file: &mut RecordFile,
    next_position: &mut u64,
    kind: FrameKind,
    frames: Vec<(Vec<u8>, Entry)>,
    index: &channel::Sender<IndexWork>,
    backlog: &Backlog,
) -> Result<(), AuditError> {
    if frames.is_empty() {
        return Ok(());
    }
    let mut buffer = Vec::new();
    let mut placed = Vec::with_capacity(frames.len());
    for (position, (json, entry)) in (*next_position..).zip(frames) {
        let at = file::encode_kind(&mut buffer, position, kind, None, &json);
        placed.push((position, at as u64, (file::HEADER + json.len()) as u64, entry));
    }
    let base = file
        .append(&buffer, true)
        .map_err(|e| unavailable(&format!("writing to {}", file.path().display()), &e))?;
    *next_position += placed.len() as u64;
    let rows: Vec<IndexRow> = placed
        .into_iter()
        .map(|(position, at, length, entry)| IndexRow {
            position,
            offset: Some(base + at),
            end: base + at + length,
            entry,
        })
        .collect();
    backlog.add(rows.len());
    let _ = index.send(IndexWork::Records(rows));
    Ok(())
}

fn write_digests(
    file: &mut RecordFile,
    next_position: &mut u64,
    chain: &mut ChainState,
    (signer, event_heads): (&AuditSigner, &HashMap<String, ChainLink>),
    account_id: Option<&str>,
    index: &channel::Sender<IndexWork>,
    backlog: &Backlog,
) -> Result<Vec<Digest>, AuditError> {
    let now = chrono::Utc::now();
    let mut accounts: Vec<(&str, iam_audit::integrity::ChainLink)> = match account_id {
        Some(account) => chain
            .heads
            .get(account)
            .map(|head| (account, head))
            .into_iter()
            .collect(),
        None => chain.heads.iter().collect(),
    };
    accounts.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let digests: Vec<Digest> = accounts
        .into_iter()
        .filter_map(|(account, head)| {
            next_digest_with_events(
                signer,
                account,
                head,
                chain.digests.get(account),
                event_heads.get(account).copied(),
                now,
            )
        })
        .collect();
    let frames = digests
        .iter()
        .map(|digest| {
            let json = serde_json::to_vec(digest).map_err(|e| unavailable("encoding a digest", &e))?;
            let entry = Entry::Digest {
                account_id: digest.body.account_id.clone(),
                chain_sequence: digest.body.chain_sequence,
            };
            Ok((json, entry))
        })
        .collect::<Result<Vec<_>, AuditError>>()?;
    write_signed_frames(file, next_position, FrameKind::Digest, frames, index, backlog)?;
    for digest in &digests {
        chain
            .digests
            .insert(digest.body.account_id.clone(), DigestHead::of(digest));
    }
    Ok(digests)
}

fn write_key(
    file: &mut RecordFile,
    next_position: &mut u64,
    chain: &mut ChainState,
    key: &PublicKey,
    index: &channel::Sender<IndexWork>,
    backlog: &Backlog,
) -> Result<(), AuditError> {
    if chain.keys.contains(&key.key_id) {
        return Ok(());
    }
    let json = serde_json::to_vec(key).map_err(|e| unavailable("encoding a signing key", &e))?;
    let entry = Entry::Key {
        key_id: key.key_id.clone(),
    };
    write_signed_frames(file, next_position, FrameKind::Key, vec![(json, entry)], index, backlog)?;
    chain.keys.insert(key.key_id.clone());
    Ok(())
}

/// Whether records must be synced before they are acknowledged whatever the durability: records
/// of management calls (no decision) are, so that a power cut cannot keep a change in the event
/// log (synced per commit) and lose the record of who made it.
fn must_sync_always(records: &[EncodedRecord]) -> bool {
    records.iter().any(|record| record.fields.decision.is_none())
}

/// Under [`AuditDurability::Process`]: syncs the record file every [`BACKGROUND_SYNC_INTERVAL`]
/// in which something was written, until the writer stops.
fn background_sync(file: &file::RecordSync, writer_gone: &channel::Receiver<()>) {
    let mut synced_end = file.written_end();
    while let Err(channel::RecvTimeoutError::Timeout) = writer_gone.recv_timeout(BACKGROUND_SYNC_INTERVAL) {
        let end = file.written_end();
        if end == synced_end {
            continue;
        }
        match file.sync() {
            Ok(()) => synced_end = end,
            // The records were acknowledged already (they survive a dead process); what fails
            // here is only their protection from a power cut, which the log makes loud.
            Err(error) => tracing::error!(
                path = %file.path().display(),
                %error,
                "audit records could not be synced; a power cut could lose them"
            ),
        }
    }
}

/// The index thread: projects written records into the index in batches.
fn index_loop(mut writer: IndexWriter, queue: &channel::Receiver<IndexWork>, backlog: &Backlog) {
    let mut pending: Vec<IndexRow> = Vec::new();
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
        let mut closers = Vec::new();
        let mut next = first;
        while let Some(work) = next.take() {
            match work {
                IndexWork::Records(records) => {
                    oldest_pending.get_or_insert_with(Instant::now);
                    pending.extend(records);
                }
                IndexWork::Flush(done) => waiters.push(done),
                IndexWork::Close(done) => closers.push(done),
            }
            next = queue.try_recv().ok();
        }
        let due = !waiters.is_empty()
            || !closers.is_empty()
            || pending.len() >= INDEX_BATCH
            || oldest_pending.is_some_and(|since| since.elapsed() >= INDEX_INTERVAL);
        if !due {
            continue;
        }
        let result = if pending.is_empty() {
            Ok(())
        } else {
            writer
                .write(&pending)
                .map_err(|e| unavailable("indexing audit records", &e))
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
        if !closers.is_empty() {
            let closed = result.and_then(|()| {
                writer
                    .close_cleanly()
                    .map_err(|e| unavailable("closing the audit index", &e))
            });
            for done in closers {
                let _ = done.send(closed.clone());
            }
        }
    }
}

fn parse_cursor(cursor: &str) -> Result<(i64, i64), AuditError> {
    let invalid = || AuditError::Invalid(format!("{cursor:?} is not a cursor from auditEvents"));
    let (time, position) = cursor.rsplit_once('|').ok_or_else(invalid)?;
    let time = chrono::DateTime::parse_from_rfc3339(time).map_err(|_| invalid())?;
    Ok((micros(time.to_utc()), position.parse().map_err(|_| invalid())?))
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn ready(&self) -> Result<(), AuditError> {
        if self.writer_running.load(std::sync::atomic::Ordering::Acquire) {
            Ok(())
        } else {
            Err(AuditError::Unavailable("the audit writer has stopped".into()))
        }
    }

    fn backlog(&self) -> Option<u64> {
        self.backlog.records.lock().ok().map(|records| *records as u64)
    }

    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), AuditError> {
        self.append_encoded(iam_audit::encode_all(&records)?).await
    }

    async fn append_encoded(&self, records: Vec<EncodedRecord>) -> Result<(), AuditError> {
        if records.is_empty() {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        self.appends
            .send(WriterWork::Append(Append { records, done }))
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before committing".into()))?
    }

    async fn chain(&self, account_id: &str, after: Option<u64>, first: usize) -> Result<ChainPage, AuditError> {
        self.index_acknowledged().await?;
        let Some(account) = index::term_ids(&self.reader, &[account_id]).await?.pop().flatten() else {
            return Ok(ChainPage::default());
        };
        let limit = i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT position, log_offset FROM audit_index INDEXED BY audit_by_account_position \
             WHERE account = ? AND position > ? ORDER BY position LIMIT ?",
        )
        .bind(account)
        .bind(after.map_or(0, |p| i64::try_from(p).unwrap_or(i64::MAX)))
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(|e| unavailable("reading the audit chain", &e))?;
        let more = rows.len() > first;
        let located: Vec<(i64, Option<i64>)> = rows.iter().take(first).map(|row| (row.get(0), row.get(1))).collect();
        let records = self.read_frames(&located).await?;
        let next = more.then(|| records.last().map(|r| r.position)).flatten();
        Ok(ChainPage { records, next })
    }

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
        let (done, signed) = oneshot::channel();
        let event_heads = match account_id {
            Some(account) => event_heads
                .get(account)
                .map(|head| (account.to_owned(), *head))
                .into_iter()
                .collect(),
            None => event_heads.clone(),
        };
        self.appends
            .send(WriterWork::Digests {
                signer,
                account_id: account_id.map(str::to_owned),
                event_heads,
                done,
            })
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        signed
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before signing".into()))?
    }

    async fn digests(&self, account_id: &str) -> Result<Vec<Digest>, AuditError> {
        self.index_acknowledged().await?;
        let Some(account) = index::term_ids(&self.reader, &[account_id]).await?.pop().flatten() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query("SELECT position, log_offset FROM audit_digests WHERE account = ? ORDER BY position")
            .bind(account)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| unavailable("reading audit digests", &e))?;
        self.read_signed(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
            .await
    }

    async fn digest_page(
        &self,
        account_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Digest>, Option<u64>), AuditError> {
        self.index_acknowledged().await?;
        let Some(account) = index::term_ids(&self.reader, &[account_id]).await?.pop().flatten() else {
            return Ok((Vec::new(), None));
        };
        // One more than asked: whether a next page exists.
        let rows = sqlx::query(
            "SELECT position, log_offset FROM audit_digests WHERE account = ? AND position > ? \
             ORDER BY position LIMIT ?",
        )
        .bind(account)
        .bind(i64::try_from(after.unwrap_or(0)).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| unavailable("reading audit digests", &e))?;
        let (located, next) = iam_audit::log::page_after(
            rows.iter()
                .map(|row| {
                    let (position, offset): (i64, i64) = (row.get(0), row.get(1));
                    (u64::try_from(position).unwrap_or(0), (position, offset))
                })
                .collect(),
            limit,
        );
        Ok((self.read_signed(located).await?, next))
    }

    async fn record_signing_key(&self, key: PublicKey) -> Result<(), AuditError> {
        let (done, recorded) = oneshot::channel();
        self.appends
            .send(WriterWork::Key { key, done })
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        recorded
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer stopped before recording the key".into()))?
    }

    async fn signing_keys(&self) -> Result<Vec<PublicKey>, AuditError> {
        self.index_acknowledged().await?;
        let rows = sqlx::query("SELECT position, log_offset FROM audit_signing_keys ORDER BY position")
            .fetch_all(&self.reader)
            .await
            .map_err(|e| unavailable("reading audit signing keys", &e))?;
        self.read_signed(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
            .await
    }

    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError> {
        let before = after.map(parse_cursor).transpose()?;
        self.index_acknowledged().await?;
        let Some(mut condition) = index::Condition::of(&self.reader, filter).await? else {
            return Ok(AuditPage {
                records: Vec::new(),
                has_next_page: false,
            });
        };
        // The cursor is the last record's (event time, position): the page continues below it.
        if let Some((time, position)) = before {
            condition.sql.push_str(" AND (event_time, position) < (?, ?)");
            condition
                .values
                .extend([index::Value::Integer(time), index::Value::Integer(position)]);
        }
        let text = format!(
            "SELECT position, event_time, log_offset FROM {} WHERE {} \
             ORDER BY event_time DESC, position DESC LIMIT ?",
            condition.table(),
            condition.sql
        );
        let mut query = sqlx::query(&text);
        for value in &condition.values {
            query = value.bind(query);
        }
        let limit = i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = query
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .map_err(|e| unavailable("querying the audit log", &e))?;
        let has_next_page = rows.len() > first;
        let page: Vec<(i64, i64, Option<i64>)> = rows
            .iter()
            .take(first)
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        let located: Vec<(i64, Option<i64>)> = page.iter().map(|&(position, _, offset)| (position, offset)).collect();
        let records = self.read_records(&located).await?;
        let records = page
            .iter()
            .zip(records)
            .map(|(&(position, time, _), record)| (format!("{}|{position}", time_text(time)), record))
            .collect();
        Ok(AuditPage { records, has_next_page })
    }

    async fn count_by(
        &self,
        filter: &AuditFilter,
        group_by: GroupBy,
    ) -> Result<Vec<(Option<String>, u64)>, AuditError> {
        self.index_acknowledged().await?;
        let Some(condition) = index::Condition::of(&self.reader, filter).await? else {
            return Ok(Vec::new());
        };
        let column = match group_by {
            GroupBy::EventName => "event_name",
            GroupBy::EventSource => "event_source",
            GroupBy::PrincipalArn => "principal",
            GroupBy::Decision => "decision",
            GroupBy::ErrorCode => "error_code",
            GroupBy::Action => "action",
        };
        let text = format!(
            "SELECT t.term, c.n FROM (SELECT {column} AS id, count(*) AS n FROM {} WHERE {} GROUP BY {column}) c \
             LEFT JOIN audit_terms t ON t.id = c.id ORDER BY c.n DESC, t.term",
            condition.table(),
            condition.sql
        );
        let mut query = sqlx::query(&text);
        for value in &condition.values {
            query = value.bind(query);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::Ordering;

    use super::*;

    fn encoded(decision: Option<&str>) -> EncodedRecord {
        EncodedRecord {
            json: b"{}".to_vec(),
            fields: AuditFields {
                account_id: "111122223333".into(),
                event_time: chrono::Utc::now(),
                event_name: if decision.is_some() { "Authorize" } else { "CreateUser" }.into(),
                event_source: "iam.amazonaws.com".into(),
                principal_arn: "arn:aws:iam::111122223333:root".into(),
                action: "iam:CreateUser".into(),
                resource_arn: None,
                decision: decision.map(Into::into),
                error_code: None,
                read_only: false,
                organization_id: None,
                event_id: "01900000-0000-7000-8000-000000000001".into(),
                decided_principal_arn: None,
            },
        }
    }

    #[test]
    fn management_records_are_synced_before_they_are_acknowledged_in_every_mode() {
        assert!(!must_sync_always(&[encoded(Some("Allow")), encoded(Some("Deny"))]));
        assert!(must_sync_always(&[encoded(Some("Allow")), encoded(None)]));
    }

    #[test]
    fn the_background_syncer_syncs_what_was_written_within_its_interval_and_stops_with_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (mut file, _) = RecordFile::open(&dir.path().join("audit.log"), 0).unwrap();
        let syncer = Arc::new(file.syncer().unwrap());
        let (writer_alive, writer_gone) = channel::channel::<()>();
        let running = syncer.clone();
        let thread = std::thread::spawn(move || background_sync(&running, &writer_gone));
        std::thread::sleep(BACKGROUND_SYNC_INTERVAL * 3);
        assert_eq!(
            syncer.syncs.load(Ordering::Relaxed),
            0,
            "nothing written, nothing to sync"
        );
        let mut frame = Vec::new();
        file::encode(&mut frame, 1, b"{}");
        file.append(&frame, false).unwrap();
        let deadline = Instant::now() + BACKGROUND_SYNC_INTERVAL * 20;
        while syncer.syncs.load(Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline, "a written record was not synced");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(BACKGROUND_SYNC_INTERVAL * 3);
        assert_eq!(
            syncer.syncs.load(Ordering::Relaxed),
            1,
            "synced once per write, not per interval"
        );
        drop(writer_alive);
        thread.join().unwrap();
    }
}
