//! Tuning knobs for [`crate::PostgresEventStore`]; durability settings are not among them (they
//! are the server's: `fsync` and `synchronous_commit` stay on).

use std::time::Duration;

/// How to connect. Start from [`Default`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresStoreOptions {
    /// Connections in the pool used by appends and reads (default 8). Appends use one at a time
    /// (the writer's, while it commits a group). `wait_for` uses one more connection of its own,
    /// opened on first use.
    pub max_connections: u32,
    /// How long an operation waits for a pooled connection (default 30 s).
    pub acquire_timeout: Duration,
    /// How long a group of appends waits for the append lock (held by other processes' appends
    /// to the same schema) before every append of the group fails with `Unavailable` (default
    /// 10 s). Sent as the session's `lock_timeout`.
    pub lock_timeout: Duration,
    /// How long a session may sit idle inside a transaction before the server ends it (default
    /// 30 s): an appender that stalls while holding the append lock cannot stall every other
    /// appender for longer. Sent as `idle_in_transaction_session_timeout`.
    pub idle_in_transaction_timeout: Duration,
    /// The schema that holds the log's tables (its `search_path`), or `None` for the role's
    /// default (`public`). It must exist. Lowercase ASCII letters, digits and `_`, starting with
    /// a letter or `_`, at most 40 bytes: it also names the notification channel.
    pub schema: Option<String>,
}

impl Default for PostgresStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_secs(30),
            schema: None,
        }
    }
}

/// Whether `schema` may be used as [`PostgresStoreOptions::schema`]: a plain lowercase identifier
/// that needs no quoting in `search_path` and keeps the channel name under PostgreSQL's 63 bytes.
pub(crate) fn is_valid_schema(schema: &str) -> bool {
    let mut bytes = schema.bytes();
    schema.len() <= 40
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_valid_schema;

    #[test]
    fn schemas_are_plain_identifiers() {
        assert!(is_valid_schema("gatehouse"));
        assert!(is_valid_schema("gh_test_0123abcd"));
        assert!(is_valid_schema("_x"));
        for bad in ["", "1abc", "Gatehouse", "a-b", "a;b", "a\"b", "é", &"a".repeat(41)] {
            assert!(!is_valid_schema(bad), "{bad}");
        }
    }
}
