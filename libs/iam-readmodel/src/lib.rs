//! The SQL read model: every account's IAM entities and relations as rows, projected from the
//! event log, for queries that the in-memory model does not serve (and, in the distributed mode,
//! for everything that reads without holding the accounts in memory).
//!
//! Codemap:
//! - [`change`]: [`RowChange`], a database-neutral row change, and the table list.
//! - [`reduce`](mod@reduce): pure, one domain event to its row changes (mirrors `evolve`).
//! - [`project`]: pure, per-account ordering: apply the next sequence, drop duplicates, stop an
//!   account on a gap or an unreadable event.
//! - [`combine`]: pure, a batch's row changes grouped into set-based statements (one per
//!   table, kind and columns; changes to the same row keep their order).
//! - [`sqlite`]: [`SqliteReadModel`], the embedded backend: each batch, the account heads and the
//!   checkpoint commit in one transaction.
//! - [`postgres`]: [`PgReadModel`], the same on PostgreSQL for the distributed mode; each batch
//!   reads its accounts' heads in one query and sends the [`combine`]d statements.
//! - [`projector`]: [`Projector`], following an `EventFeed` into the model.
//! - [`oracle`]: [`expected_snapshot`], the rows a domain state implies, for consistency checks.
//!
//! Invariants: every row carries its account; a row is only ever written by projecting an
//! event; rebuilding from the log gives the same rows as following it.

pub mod change;
pub mod combine;
mod error;
pub mod oracle;
pub mod postgres;
pub mod project;
pub mod projector;
pub mod reduce;
pub mod sqlite;

pub use change::{RowChange, SqlValue};
pub use error::ReadModelError;
pub use oracle::expected_snapshot;
pub use postgres::PgReadModel;
pub use project::{plan, AccountHead, EventOutcome};
pub use projector::{Projector, ReadModelSink};
pub use reduce::reduce;
pub use sqlite::{Applied, SqliteReadModel};
