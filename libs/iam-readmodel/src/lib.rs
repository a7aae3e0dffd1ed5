//! The SQL read model: every account's IAM entities and relations, and every organization's tree,
//! policies and invitations, as rows projected from the event log, for queries that the in-memory
//! model does not serve (and, in the distributed mode, for everything that reads without holding
//! the accounts in memory).
//!
//! Codemap:
//! - [`change`]: [`RowChange`], a database-neutral row change, and the table list.
//! - [`reduce`](mod@reduce): pure, one domain event to its row changes (mirrors `evolve`, and
//!   `evolve_organization` for an organization's stream, implicit attachments included).
//! - [`project`]: pure, per-account ordering: apply the next sequence, drop duplicates, stop an
//!   account on a gap or an unreadable event.
//! - [`combine`]: pure, a batch's row changes grouped into set-based statements (one per
//!   table, kind and columns; changes to the same row keep their order).
//! - [`sqlite`]: [`SqliteReadModel`], the embedded backend: each batch, the account heads and the
//!   checkpoint commit in one transaction.
//! - [`postgres`]: [`PgReadModel`], the same on PostgreSQL for the distributed mode; each batch
//!   reads its accounts' heads in one query and sends the [`combine`]d statements.
//! - [`projector`]: [`Projector`], following an `EventFeed` into the model.
//! - [`oracle`]: [`expected_snapshot`] and [`expected_organization_snapshot`], the rows a domain
//!   state implies, for consistency checks.
//!
//! Invariants: every row carries its stream (the account, or the organization `o-...`) as the
//! first column of its key; a row is only ever written by projecting an event of its stream;
//! rebuilding from the log gives the same rows as following it.

pub mod change;
pub mod combine;
mod error;
pub mod oracle;
pub mod postgres;
pub mod project;
pub mod projector;
pub mod reduce;
pub mod sqlite;

pub use change::{RowChange, Select, Source, SqlValue};
pub use error::ReadModelError;
pub use oracle::{expected_organization_snapshot, expected_snapshot};
pub use postgres::PgReadModel;
pub use project::{plan, AccountHead, EventOutcome};
pub use projector::{Projector, ReadModelSink};
pub use reduce::{reduce, reduce_organization};
pub use sqlite::{Applied, SqliteReadModel};
