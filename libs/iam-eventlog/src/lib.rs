//! The event log's ports: what Gatehouse needs from an append-only, per-account event store and
//! from a feed that follows the whole log, plus the suite every adapter must pass.
//!
//! Gatehouse is event-sourced and multi-tenant: each AWS-style account (twelve digits) owns one
//! stream of events numbered 1, 2, 3, ... without gaps, and so does each organization (keyed by
//! its `o-...` id). Envelopes and tables call the stream's id `account_id` whichever it is. Commands are decided against the stream's
//! head and appended with that head as the expected sequence (optimistic concurrency). Unique
//! names (user names, role names, ...) are claimed in the same transaction as the events that
//! create them, so two concurrent creates of `alice` cannot both succeed.
//!
//! Codemap:
//! - [`envelope`]: [`NewEvent`] (what a command writes) and [`EventEnvelope`] (what is read back).
//! - [`claims`]: [`UniqueClaim`] and [`ClaimChange`], unique keys written with the events.
//! - [`store`]: the [`EventStore`] port (append with expected sequence, read a stream, heads).
//! - [`feed`]: the [`EventFeed`] port (follow every account's events from a checkpoint).
//! - [`memory`]: [`MemoryEventStore`], an in-process adapter for tests and examples.
//! - [`error`]: [`StoreError`] and its closed set of [`StoreErrorCode`]s.
//! - `conformance` (feature `conformance`): the suite and the
//!   `event_store_conformance_tests!` / `event_feed_conformance_tests!` macros.
//!
//! Invariants: this crate does no I/O, reads no clock and draws no randomness. Event ids and
//! timestamps come from the caller so the write side stays deterministic.

pub mod claims;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod envelope;
pub mod error;
pub mod feed;
pub mod memory;
pub mod store;

pub use claims::{ClaimChange, UniqueClaim};
pub use envelope::{
    is_valid_account_id, is_valid_organization_id, is_valid_stream_id, truncate_to_micros, validate_account_id,
    validate_stream_id, EventEnvelope, NewEvent,
};
pub use error::{StoreError, StoreErrorCode};
pub use feed::EventFeed;
pub use memory::MemoryEventStore;
pub use store::{validate_append, AppendOutcome, EventStore};
