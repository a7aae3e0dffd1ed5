//! The event log of record in the distributed mode: Gatehouse's event log in PostgreSQL, through
//! sqlx, with the Kafka outbox written in each append's transaction.
//!
//! ```text
//! let store = PostgresEventStore::connect_from_env(PostgresStoreOptions::default()).await?;
//! let outcome = store.append("123456789012", head, events, claims).await?;   // EventStore
//! let page = store.read_from(checkpoint, 500).await?;                       // EventFeed
//! ```
//!
//! Codemap:
//! - [`store`]: [`PostgresEventStore`], connecting (settings, migrations), both port impls, the
//!   group-commit writer, and the module documentation of the design: the append lock, group
//!   commit and LISTEN/NOTIFY.
//! - [`lock`]: the append lock's key, one per schema.
//! - [`options`]: tuning knobs, [`PostgresStoreOptions`].
//! - `rows`: the SQL row format of an event and its conversion to and from the envelope.
//! - `notify`: the listener that turns append notifications into wake-ups.
//! - `errors`: how sqlx and PostgreSQL failures map onto [`iam_eventlog::StoreError`].
//! - [`audit`]: [`PgAuditStore`], the distributed audit history (`iam_audit::AuditLog` queries
//!   over the records the audit projector inserts from Kafka; migrations in
//!   `schema/migrations/postgres/audit/`).
//!
//! Invariants:
//! - an acknowledged append is durable: it is answered after its group's `COMMIT` returned, with
//!   the server's `synchronous_commit=on`;
//! - an append writes its events, claims, the account's head, the feed counter and the outbox in
//!   one transaction (shared with the other appends of its group, each in a savepoint of its
//!   own): all or nothing, and one append's failure is only that append's;
//! - feed positions are handed out in commit order (under the schema's append lock), so a
//!   follower never skips an event, whichever process appended it;
//! - the schema comes only from `schema/migrations/postgres/eventlog/`, embedded at build time.

pub mod audit;
mod errors;
pub mod lock;
mod notify;
pub mod options;
mod rows;
pub mod store;

pub use audit::PgAuditStore;
pub use lock::{append_lock_key, APPEND_LOCK};
pub use options::PostgresStoreOptions;
pub use store::{PostgresEventStore, DATABASE_URL_ENV, MAX_GROUP};
