//! The embedded event store and feed: Gatehouse's event log in one SQLite file, through sqlx
//! (reads, migrations) and rusqlite (the group-commit writer thread).
//!
//! ```text
//! let store = SqliteEventStore::open("/var/lib/gatehouse/events.db", SqliteStoreOptions::default()).await?;
//! let outcome = store.append("123456789012", head, events, claims).await?;   // EventStore
//! let page = store.read_from(checkpoint, 500).await?;                       // EventFeed
//! ```
//!
//! Codemap:
//! - [`store`]: [`SqliteEventStore`], opening (pragmas, migrations) and both port impls.
//! - [`options`]: tuning knobs, [`SqliteStoreOptions`].
//! - `writer`: the group-commit writer thread (appends, claims, savepoints).
//! - `rows`: the SQL row format of an event and its conversion to and from the envelope.
//! - `errors`: how sqlx and SQLite failures map onto [`iam_eventlog::StoreError`].
//!
//! Invariants:
//! - an acknowledged append is durable: WAL with `synchronous=FULL`, so it survives `kill -9`
//!   and power loss;
//! - every append goes through the writer's one connection in `BEGIN IMMEDIATE` transactions, so feed
//!   positions are assigned in commit order and a follower never skips an event;
//! - the schema comes only from `schema/migrations/sqlite/eventlog/`, embedded at build time.

pub mod audit;
mod errors;
pub mod options;
mod rows;
pub mod store;
mod writer;

pub use audit::{AuditDurability, SqliteAuditLog};
pub use options::SqliteStoreOptions;
pub use store::SqliteEventStore;
