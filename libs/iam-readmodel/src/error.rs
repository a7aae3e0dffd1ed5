//! The read model's one error type.

use iam_eventlog::StoreError;

/// A read-model failure. Event-level problems (an unreadable event, a gap) are not errors: they
/// stop that account's projection and are recorded in `rm_failed_events`.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The database failed or could not be opened.
    #[error("read model database: {0}")]
    Backend(String),
    /// A migration failed (for example, the file holds a newer schema).
    #[error("read model migration: {0}")]
    Migration(String),
    /// The event feed failed.
    #[error("event feed: {0}")]
    Feed(#[from] StoreError),
}

pub(crate) fn backend(context: &str, error: &sqlx::Error) -> ReadModelError {
    ReadModelError::Backend(format!("{context}: {error}"))
}
