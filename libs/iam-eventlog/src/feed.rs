//! The [`EventFeed`] port: follow every account's events from a checkpoint, for projectors,
//! the audit writer and the Kafka relay.

use std::time::Duration;

use async_trait::async_trait;

use crate::envelope::EventEnvelope;
use crate::error::StoreError;

/// A follower's view of the whole log, all accounts interleaved.
///
/// Each event carries a *position*, a `u64` checkpoint a consumer stores after processing it.
///
/// Guarantees every adapter gives:
/// - positions returned by one call are strictly increasing and all greater than `after_position`;
///   they may have gaps, and start above 0 (0 means "before everything");
/// - per-account order: following the feed from any checkpoint, an account's events appear in
///   increasing sequence order (redeliveries aside);
/// - completeness: every committed event eventually appears at a position greater than any
///   checkpoint taken before it was committed (a reader never has to look back);
/// - at-least-once: an adapter may deliver an event more than once (at different positions, e.g.
///   a relay that republished after a crash). Consumers therefore dedupe by
///   `(account_id, sequence)`, typically by skipping any sequence not above the account's
///   checkpoint in their own storage. The embedded SQLite feed delivers exactly once.
///
/// Order *across* accounts is only commit order in adapters that have a single total order
/// (SQLite); consumers must not rely on it.
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// Up to `limit` events with position `> after_position`, in position order.
    ///
    /// # Errors
    /// A backend failure.
    async fn read_from(&self, after_position: u64, limit: u32) -> Result<Vec<(u64, EventEnvelope)>, StoreError>;

    /// Waits until an event with position `> after_position` exists or `timeout` passes.
    ///
    /// Returns `true` as soon as such an event exists (at once if one already does), `false` if
    /// the timeout passed without one. Appends made through this process wake it promptly; an
    /// adapter may notice appends made elsewhere (another process) only when the timeout ends,
    /// so followers loop: read, then wait with a modest timeout.
    ///
    /// # Errors
    /// A backend failure.
    async fn wait_for(&self, after_position: u64, timeout: Duration) -> Result<bool, StoreError>;

    /// The position of the newest event (0 if the log is empty): where a reader is caught up.
    ///
    /// # Errors
    /// A backend failure.
    async fn latest_position(&self) -> Result<u64, StoreError>;
}
