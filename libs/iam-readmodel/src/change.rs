//! Row changes: what a projected event does to the SQL read model, independent of the database.
//!
//! The reducer ([`crate::reduce`]) is pure and produces [`RowChange`]s; each backend renders
//! them in its dialect (`INSERT ... ON CONFLICT ... DO UPDATE` is common to SQLite and Postgres).

use chrono::{DateTime, Utc};

/// A value in a read-model column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// Text (timestamps are RFC 3339 text, see [`timestamp`]).
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(value: &str) -> Self {
        SqlValue::Text(value.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(value: String) -> Self {
        SqlValue::Text(value)
    }
}

impl From<i64> for SqlValue {
    fn from(value: i64) -> Self {
        SqlValue::Int(value)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(SqlValue::Null, Into::into)
    }
}

/// A timestamp as the read model stores it: UTC, six fractional digits, so text order is time
/// order.
#[must_use]
pub fn timestamp(at: DateTime<Utc>) -> SqlValue {
    SqlValue::Text(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// Named column values.
pub type Columns = Vec<(&'static str, SqlValue)>;

/// One change to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    /// Inserts the row, or updates `values` where a row with the same `key` exists.
    Upsert {
        /// The table.
        table: &'static str,
        /// The primary-key columns.
        key: Columns,
        /// The other columns.
        values: Columns,
    },
    /// Sets `set` on the rows matching `filter` (none matching is not an error).
    Update {
        /// The table.
        table: &'static str,
        /// Equality conditions.
        filter: Columns,
        /// New values.
        set: Columns,
    },
    /// Deletes the rows matching `filter`.
    Delete {
        /// The table.
        table: &'static str,
        /// Equality conditions.
        filter: Columns,
    },
}

/// Every projected table, in the order snapshots list them.
pub const TABLES: &[(&str, &[&str])] = &[
    ("rm_accounts", &["account_id"]),
    ("rm_users", &["account_id", "user_id"]),
    ("rm_groups", &["account_id", "group_id"]),
    ("rm_roles", &["account_id", "role_id"]),
    ("rm_policies", &["account_id", "policy_id"]),
    ("rm_policy_versions", &["account_id", "policy_id", "version_id"]),
    ("rm_group_members", &["account_id", "group_id", "user_id"]),
    ("rm_attached_policies", &["account_id", "principal_id", "policy_arn"]),
    ("rm_inline_policies", &["account_id", "principal_id", "policy_name"]),
    ("rm_tags", &["account_id", "resource_id", "tag_key"]),
    ("rm_access_keys", &["account_id", "access_key_id"]),
];
