//! Tuning knobs for [`crate::SqliteEventStore`]; durability settings are not among them.

use std::time::Duration;

/// How to open the store. Start from [`Default`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteStoreOptions {
    /// Create the database file if it does not exist (default `true`).
    pub create_if_missing: bool,
    /// How long a statement waits for a lock held by another process (default 5 s).
    pub busy_timeout: Duration,
    /// How long an operation waits for a pooled connection; appends queue for the single
    /// writer connection, so this bounds their wait under load (default 30 s).
    pub acquire_timeout: Duration,
    /// Size of the read-only connection pool used by reads and the feed (default 4).
    pub read_connections: u32,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        Self {
            create_if_missing: true,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
            read_connections: 4,
        }
    }
}
