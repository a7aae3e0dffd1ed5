//! The crate's one error type, shared by every event-log adapter, and its closed set of codes.

use uuid::Uuid;

/// Why an event-log operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The account's head moved since the command read it; reload, decide again, retry.
    #[error("concurrent modification: expected head {expected}, found {actual}")]
    Conflict {
        /// The head the command was decided against.
        expected: u64,
        /// The head the store holds.
        actual: u64,
    },

    /// A unique claim is already held in this account; nothing was appended.
    #[error("`{key}` is already taken in scope `{scope}`")]
    UniqueViolation {
        /// The claim's scope, e.g. `user-name`.
        scope: String,
        /// The claimed key.
        key: String,
    },

    /// An event with this id is already stored (in any account); nothing was appended.
    #[error("event `{0}` is already stored")]
    DuplicateEventId(Uuid),

    /// The stream id is neither an account id (twelve ASCII digits) nor an organization id
    /// (`o-` and 10 to 32 lowercase letters or digits). The name predates organization streams.
    #[error("invalid stream id `{0}`: expected a twelve-digit account id or an organization id")]
    InvalidAccountId(String),

    /// The append is malformed: no events, or it would overflow the stream.
    #[error("invalid append: {0}")]
    InvalidAppend(String),

    /// The backend could not be reached or was busy; the operation may be retried as is.
    #[error("event store unavailable: {0}")]
    Unavailable(String),

    /// Stored data could not be decoded, or the backend failed in an unexpected way.
    #[error("event store internal error: {0}")]
    Internal(String),
}

/// The closed set of codes [`StoreError`]s map to; the gateway maps these to AWS error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorCode {
    /// Optimistic concurrency failure (`ConcurrentModification` in AWS IAM).
    ConcurrentModification,
    /// A unique name or id is taken (`EntityAlreadyExists`).
    EntityAlreadyExists,
    /// The caller sent something malformed (`ValidationError`).
    Validation,
    /// Transient: retry later (`ServiceFailure` with a retryable hint).
    Unavailable,
    /// A bug or corrupted data (`ServiceFailure`).
    Internal,
}

impl StoreError {
    /// The error's code in the closed set.
    #[must_use]
    pub fn code(&self) -> StoreErrorCode {
        match self {
            Self::Conflict { .. } => StoreErrorCode::ConcurrentModification,
            Self::UniqueViolation { .. } | Self::DuplicateEventId(_) => StoreErrorCode::EntityAlreadyExists,
            Self::InvalidAccountId(_) | Self::InvalidAppend(_) => StoreErrorCode::Validation,
            Self::Unavailable(_) => StoreErrorCode::Unavailable,
            Self::Internal(_) => StoreErrorCode::Internal,
        }
    }

    /// Whether retrying may succeed: a conflict after reloading, an outage after waiting.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict { .. } | Self::Unavailable(_))
    }
}
