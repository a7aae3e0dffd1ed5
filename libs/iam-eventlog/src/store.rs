//! The [`EventStore`] port: append to one account's stream against an expected head, read it back.

use async_trait::async_trait;

use crate::claims::ClaimChange;
use crate::envelope::{validate_stream_id, EventEnvelope, NewEvent};
use crate::error::StoreError;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Sequence of the first appended event (the old head + 1).
    pub first_sequence: u64,
    /// Sequence of the last appended event: the account's new head.
    pub last_sequence: u64,
    /// Feed position of the last appended event; a reader that has seen it has seen them all.
    pub global_position: u64,
}

/// Append-only storage of every account's event stream.
///
/// A stream is keyed by an account id or, for an organization's own stream, an organization id
/// (see [`validate_stream_id`](crate::envelope::validate_stream_id)); the parameters keep the
/// name `account_id` for both.
///
/// Guarantees every adapter gives (the conformance suite checks them):
/// - each account's stream is numbered 1, 2, 3, ... without gaps or duplicates;
/// - an append is atomic: all its events and claim changes are stored, or none;
/// - an append succeeds only if the account's head still equals `expected_sequence`;
/// - a successful append is durable before it returns;
/// - reading one account never returns another account's events, and claims are per account.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends `events` to `account_id`'s stream and applies `claims` in order, atomically.
    ///
    /// `expected_sequence` is the head the command was decided against (0 for a new stream).
    ///
    /// # Errors
    /// - [`StoreError::Conflict`] if the head is no longer `expected_sequence`;
    /// - [`StoreError::UniqueViolation`] if a [`ClaimChange::Claim`] names a key already held;
    /// - [`StoreError::DuplicateEventId`] if an event id is already stored;
    /// - [`StoreError::InvalidAccountId`] / [`StoreError::InvalidAppend`] for malformed input
    ///   (see [`validate_append`]);
    /// - [`StoreError::Unavailable`] / [`StoreError::Internal`] for backend failures.
    async fn append(
        &self,
        account_id: &str,
        expected_sequence: u64,
        events: Vec<NewEvent>,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, StoreError>;

    /// Up to `limit` events of `account_id` with sequence `>= from_sequence`, in sequence order.
    ///
    /// Sequences start at 1; a `from_sequence` of 0 reads from the start. An account that has no
    /// events reads as empty.
    ///
    /// # Errors
    /// [`StoreError::InvalidAccountId`], or a backend failure.
    async fn read_stream(
        &self,
        account_id: &str,
        from_sequence: u64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError>;

    /// The account's head: the sequence of its last event, 0 if it has none.
    ///
    /// # Errors
    /// [`StoreError::InvalidAccountId`], or a backend failure.
    async fn head(&self, account_id: &str) -> Result<u64, StoreError>;

    /// Every stream id (account or organization) that has at least one event, in ascending byte
    /// order.
    ///
    /// # Errors
    /// A backend failure.
    async fn accounts(&self) -> Result<Vec<String>, StoreError>;
}

/// The checks every adapter runs before touching storage, so all of them refuse the same input.
///
/// # Errors
/// [`StoreError::InvalidAccountId`] for a malformed stream id, [`StoreError::InvalidAppend`] for an
/// empty batch or one whose sequences would not fit a signed 64-bit column.
pub fn validate_append(account_id: &str, expected_sequence: u64, events: &[NewEvent]) -> Result<(), StoreError> {
    validate_stream_id(account_id)?;
    if events.is_empty() {
        return Err(StoreError::InvalidAppend("an append needs at least one event".into()));
    }
    // SQL backends store sequences as signed 64-bit integers.
    let limit = u64::try_from(i64::MAX).unwrap_or(u64::MAX);
    let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
    match expected_sequence.checked_add(count) {
        Some(last) if last <= limit => Ok(()),
        _ => Err(StoreError::InvalidAppend("the stream's sequence would overflow".into())),
    }
}
