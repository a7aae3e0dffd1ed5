//! Unique keys claimed and released in the same transaction as the events that need them.
//!
//! Names such as a user's must be unique within an account, case-insensitively. Checking a read
//! model first would race; instead the command appends a [`ClaimChange::Claim`] with its events
//! and the store refuses the whole append if the key is taken. Normalising the key (lowercasing)
//! is the caller's job: the store compares keys byte for byte.

use serde::{Deserialize, Serialize};

/// A key that must be unique within one account and one scope, e.g. scope `user-name`, key `alice`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UniqueClaim {
    /// What kind of name this is, e.g. `user-name`, `role-name`, `access-key-id`.
    pub scope: String,
    /// The normalised key, compared byte for byte.
    pub key: String,
}

impl UniqueClaim {
    /// A claim on `key` within `scope`.
    #[must_use]
    pub fn new(scope: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            key: key.into(),
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
