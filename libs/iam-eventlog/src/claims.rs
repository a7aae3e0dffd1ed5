//! Unique keys claimed and released in the same transaction as the events that need them.
//!
//! Names such as a user's must be unique within an account, case-insensitively. Checking a read
//! model first would race; instead the command appends a [`ClaimChange::Claim`] with its events
//! and the store refuses the whole append if the key is taken. Normalising the key (lowercasing)
//! is the caller's job: the store compares keys byte for byte.
//!
//! A claim is held by the stream it is appended to, unless it is made [`UniqueClaim::across_streams`]:
//! then one key is unique in the whole log, whichever stream takes it (an account is a member of
//! one organization at most, whichever organization's stream records the join).

use serde::{Deserialize, Serialize};

/// A key that must be unique within one account and one scope, e.g. scope `user-name`, key `alice`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UniqueClaim {
    /// What kind of name this is, e.g. `user-name`, `role-name`, `access-key-id`.
    pub scope: String,
    /// The normalised key, compared byte for byte.
    pub key: String,
    /// Unique across every stream of the log, not only within the stream appended to.
    #[serde(default)]
    pub across_streams: bool,
}

/// The holder the stores record for a claim unique across streams (no stream id looks like it).
pub const ACROSS_STREAMS: &str = "*";

impl UniqueClaim {
    /// A claim on `key` within `scope`.
    #[must_use]
    pub fn new(scope: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            key: key.into(),
            across_streams: false,
        }
    }

    /// A claim on `key` within `scope` that no other stream of the log may hold either.
    #[must_use]
    pub fn across_streams(scope: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            across_streams: true,
            ..Self::new(scope, key)
        }
    }

    /// Who holds the claim when `stream` appends it: the stream, or the whole log.
    #[must_use]
    pub fn holder<'a>(&self, stream: &'a str) -> &'a str {
        if self.across_streams {
            ACROSS_STREAMS
        } else {
            stream
        }
    }
}

/// One change to an account's claims, applied in order within an append.
///
/// Releasing a key that is not claimed is a no-op, so a release then claim of the same key in one
/// append (a rename that only changes case) works.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClaimChange {
    /// Take the key; the append fails with `UniqueViolation` if it is already taken.
    Claim(UniqueClaim),
    /// Give the key up so a later append may claim it.
    Release(UniqueClaim),
}
