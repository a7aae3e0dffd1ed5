//! Row changes: what a projected event does to the SQL read model, independent of the database.
//!
//! The reducer ([`crate::reduce`]) is pure and produces [`RowChange`]s; each backend renders
//! them in its dialect (`INSERT ... ON CONFLICT ... DO UPDATE` is common to SQLite and Postgres).
//!
//! Every table's first key column is its stream: `account_id` for an account's tables,
//! `organization_id` for an organization's. A stream's rows are those whose first key column
//! holds its id ([`stream_column`]), which is what snapshots read and rebuilds delete.

use chrono::{DateTime, Utc};

/// A value in a read-model column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
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
    /// Inserts rows whose primary key is not taken yet (`ON CONFLICT DO NOTHING`): one row of
    /// values, or, with `from`, one row per row of another table (or the same one) matching a
    /// filter. It is how one event changes rows it cannot name: "attach `FullAWSAccess` to every
    /// OU" is a copy of `rm_organizational_units`' ids. Backends run it as its own statement, in
    /// its place (it reads what the changes before it wrote).
    Insert {
        /// The table.
        table: &'static str,
        /// Every inserted column with where its value comes from.
        columns: Vec<(&'static str, Source)>,
        /// `None`: one row of [`Source::Value`]s. `Some`: one row per row selected.
        from: Option<Select>,
    },
}

/// Where an [`RowChange::Insert`]ed column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This value.
    Value(SqlValue),
    /// This column of the selected row (only with a `from`).
    Column(&'static str),
}

/// The rows an [`RowChange::Insert`] copies: those of `table` matching `filter` (equality).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    /// The table read.
    pub table: &'static str,
    /// Equality conditions; at least the stream column, so the copy stays in its stream.
    pub filter: Columns,
}

impl RowChange {
    /// The table the change writes.
    #[must_use]
    pub fn table(&self) -> &'static str {
        match self {
            RowChange::Upsert { table, .. }
            | RowChange::Update { table, .. }
            | RowChange::Delete { table, .. }
            | RowChange::Insert { table, .. } => table,
        }
    }
}

/// Every projected table with its primary key, in the order snapshots list them. The first key
/// column is the stream's id ([`stream_column`]).
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
    ("rm_instance_profiles", &["account_id", "instance_profile_id"]),
    (
        "rm_instance_profile_roles",
        &["account_id", "instance_profile_id", "role_id"],
    ),
    ("rm_organizations", &["organization_id"]),
    ("rm_organization_roots", &["organization_id", "root_id"]),
    (
        "rm_organization_policy_types",
        &["organization_id", "root_id", "policy_type"],
    ),
    ("rm_organizational_units", &["organization_id", "ou_id"]),
    ("rm_organization_accounts", &["organization_id", "account_id"]),
    ("rm_organization_policies", &["organization_id", "policy_id"]),
    (
        "rm_organization_policy_attachments",
        &["organization_id", "policy_id", "target_id"],
    ),
    ("rm_organization_handshakes", &["organization_id", "handshake_id"]),
    (
        "rm_organization_delegated_administrators",
        &["organization_id", "account_id", "service_principal"],
    ),
];

/// The column of a table's key that holds its stream's id (`account_id`, `organization_id`).
#[must_use]
pub fn stream_column(key: &[&'static str]) -> &'static str {
    key.first().copied().unwrap_or("account_id")
}

/// How a backend numbers bind parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// SQLite's `?`.
    Question,
    /// PostgreSQL's `$1`, `$2`, ...
    Dollar,
}

fn names(columns: &Columns) -> impl Iterator<Item = &'static str> + '_ {
    columns.iter().map(|(name, _)| *name)
}

/// Renders a change as SQL (`INSERT ... ON CONFLICT ... DO UPDATE`, `UPDATE`, `DELETE`, common
/// to SQLite and PostgreSQL), with parameters in the order of [`bind_order`].
#[must_use]
pub fn render(change: &RowChange, placeholders: Placeholders) -> String {
    let mut next = 0;
    let mut placeholder = || {
        next += 1;
        match placeholders {
            Placeholders::Question => "?".to_owned(),
            Placeholders::Dollar => format!("${next}"),
        }
    };
    match change {
        RowChange::Upsert { table, key, values } => {
            let columns: Vec<&str> = names(key).chain(names(values)).collect();
            let marks: Vec<String> = columns.iter().map(|_| placeholder()).collect();
            let conflict = names(key).collect::<Vec<_>>().join(", ");
            let action = if values.is_empty() {
                "DO NOTHING".to_owned()
            } else {
                let set: Vec<String> = names(values).map(|c| format!("{c} = excluded.{c}")).collect();
                format!("DO UPDATE SET {}", set.join(", "))
            };
            format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({conflict}) {action}",
                columns.join(", "),
                marks.join(", ")
            )
        }
        RowChange::Update { table, filter, set } => {
            let set: Vec<String> = names(set).map(|c| format!("{c} = {}", placeholder())).collect();
            let filter: Vec<String> = names(filter).map(|c| format!("{c} = {}", placeholder())).collect();
            format!("UPDATE {table} SET {} WHERE {}", set.join(", "), filter.join(" AND "))
        }
        RowChange::Delete { table, filter } => {
            let filter: Vec<String> = names(filter).map(|c| format!("{c} = {}", placeholder())).collect();
            format!("DELETE FROM {table} WHERE {}", filter.join(" AND "))
        }
        RowChange::Insert { table, columns, from } => {
            let targets: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            let sources: Vec<String> = columns
                .iter()
                .map(|(_, source)| match source {
                    Source::Value(_) => placeholder(),
                    Source::Column(column) => (*column).to_owned(),
                })
                .collect();
            let rows = match from {
                None => format!("VALUES ({})", sources.join(", ")),
                Some(Select { table: from, filter }) => {
                    let mut filter: Vec<String> = names(filter).map(|c| format!("{c} = {}", placeholder())).collect();
                    // SQLite needs a WHERE between `SELECT ... FROM t` and `ON CONFLICT`.
                    if filter.is_empty() {
                        filter.push("true".to_owned());
                    }
                    format!(
                        "SELECT {} FROM {from} WHERE {}",
                        sources.join(", "),
                        filter.join(" AND ")
                    )
                }
            };
            format!(
                "INSERT INTO {table} ({}) {rows} ON CONFLICT DO NOTHING",
                targets.join(", ")
            )
        }
    }
}

/// The values of a change in the order [`render`]'s parameters expect them.
#[must_use]
pub fn bind_order(change: &RowChange) -> Vec<&SqlValue> {
    match change {
        RowChange::Upsert { key, values, .. } => key.iter().chain(values).map(|(_, v)| v).collect(),
        RowChange::Update { filter, set, .. } => set.iter().chain(filter).map(|(_, v)| v).collect(),
        RowChange::Delete { filter, .. } => filter.iter().map(|(_, v)| v).collect(),
        RowChange::Insert { columns, from, .. } => columns
            .iter()
            .filter_map(|(_, source)| match source {
                Source::Value(value) => Some(value),
                Source::Column(_) => None,
            })
            .chain(from.iter().flat_map(|select| select.filter.iter().map(|(_, v)| v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_upserts_updates_and_deletes_in_both_dialects() {
        let upsert = RowChange::Upsert {
            table: "rm_tags",
            key: vec![("account_id", "1".into()), ("resource_id", "r".into())],
            values: vec![("tag_value", "v".into())],
        };
        assert_eq!(
            render(&upsert, Placeholders::Question),
            "INSERT INTO rm_tags (account_id, resource_id, tag_value) VALUES (?, ?, ?) \
             ON CONFLICT (account_id, resource_id) DO UPDATE SET tag_value = excluded.tag_value"
        );
        let update = RowChange::Update {
            table: "rm_users",
            filter: vec![("account_id", "1".into())],
            set: vec![("path", "/".into()), ("arn", "a".into())],
        };
        assert_eq!(
            render(&update, Placeholders::Dollar),
            "UPDATE rm_users SET path = $1, arn = $2 WHERE account_id = $3"
        );
        let values: Vec<&SqlValue> = bind_order(&update);
        assert_eq!(
            values,
            [&SqlValue::from("/"), &SqlValue::from("a"), &SqlValue::from("1")]
        );
    }

    #[test]
    fn renders_inserts_of_values_and_of_selected_rows() {
        let copy = RowChange::Insert {
            table: "rm_organization_policy_attachments",
            columns: vec![
                ("organization_id", Source::Column("organization_id")),
                ("policy_id", Source::Value("p-FullAWSAccess".into())),
                ("target_id", Source::Column("ou_id")),
                ("policy_type", Source::Value("SERVICE_CONTROL_POLICY".into())),
            ],
            from: Some(Select {
                table: "rm_organizational_units",
                filter: vec![("organization_id", "o-1".into())],
            }),
        };
        assert_eq!(
            render(&copy, Placeholders::Dollar),
            "INSERT INTO rm_organization_policy_attachments (organization_id, policy_id, target_id, policy_type) \
             SELECT organization_id, $1, ou_id, $2 FROM rm_organizational_units WHERE organization_id = $3 \
             ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            bind_order(&copy),
            [
                &SqlValue::from("p-FullAWSAccess"),
                &SqlValue::from("SERVICE_CONTROL_POLICY"),
                &SqlValue::from("o-1")
            ]
        );
        let one = RowChange::Insert {
            table: "rm_tags",
            columns: vec![("account_id", Source::Value("1".into()))],
            from: None,
        };
        assert_eq!(
            render(&one, Placeholders::Question),
            "INSERT INTO rm_tags (account_id) VALUES (?) ON CONFLICT DO NOTHING"
        );
    }
}
