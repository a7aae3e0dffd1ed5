//! Combines a batch's row changes into set-based statements. Pure.
//!
//! Applying a large batch one statement per [`RowChange`] costs one round trip per row. Here the
//! changes are grouped: every group holds changes of one [`Shape`] (table, kind, columns) that
//! touch pairwise different rows, so a backend can send each group as one statement (an
//! `UNNEST` of one array per column) and the result equals applying the changes in their order.
//!
//! A change goes into the earliest group of its shape that comes after every group holding a
//! change it does not commute with. Two changes commute when they cannot touch the same row:
//! some primary-key column pinned by both (an upsert pins its whole key, an update or a delete
//! the key columns of its filter) holds different values. Deletes also commute with each other.
//! Tables have no foreign keys or triggers, so changes to different tables always commute.
//!
//! An [`RowChange::Insert`] may read another table (it copies selected rows), so it commutes
//! with nothing: it is a statement of its own ([`Statement::Single`]) that cuts the batch, the
//! changes before it grouped and sent first, those after it grouped apart and sent after it.
//! Only organization events produce inserts, and they are rare in a feed.

use std::collections::HashMap;

use crate::change::{bind_order, RowChange, SqlValue, TABLES};

/// What a statement does, with the columns it binds in [`bind_order`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `INSERT ... ON CONFLICT`: the first `key` columns are the primary key, the others are
    /// updated on conflict (none: `DO NOTHING`).
    Upsert {
        /// How many leading columns form the key.
        key: usize,
    },
    /// `UPDATE`: the first `set` columns are set, the others filter by equality.
    Update {
        /// How many leading columns are set.
        set: usize,
    },
    /// `DELETE`: every column filters by equality.
    Delete,
}

/// Everything about a statement but its values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    /// The table.
    pub table: &'static str,
    /// The kind and how the columns split.
    pub kind: Kind,
    /// The columns in bind order, each with whether its values are integers (otherwise text or
    /// `NULL`, bound as text as a single change would be).
    pub columns: Vec<(&'static str, bool)>,
}

/// One statement of a batch, in the order they must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement<'a> {
    /// Set-based changes, sent as one statement.
    Group(Group<'a>),
    /// An insert, sent as it is ([`crate::change::render`]).
    Single(&'a RowChange),
}

/// Changes of one shape that touch pairwise different rows: one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<'a> {
    /// The statement's shape.
    pub shape: Shape,
    /// One entry per change, its values in the order of `shape.columns`.
    pub rows: Vec<Vec<&'a SqlValue>>,
}

/// The shape of a set-based change (`None` for an insert, which is never grouped).
fn shape(change: &RowChange) -> Option<Shape> {
    let (table, kind, names): (_, _, Vec<&'static str>) = match change {
        RowChange::Upsert { table, key, values } => (
            *table,
            Kind::Upsert { key: key.len() },
            key.iter().chain(values).map(|(c, _)| *c).collect(),
        ),
        RowChange::Update { table, filter, set } => (
            *table,
            Kind::Update { set: set.len() },
            set.iter().chain(filter).map(|(c, _)| *c).collect(),
        ),
        RowChange::Delete { table, filter } => (*table, Kind::Delete, filter.iter().map(|(c, _)| *c).collect()),
        RowChange::Insert { .. } => return None,
    };
    let columns = names
        .into_iter()
        .zip(bind_order(change))
        .map(|(name, value)| (name, matches!(value, SqlValue::Int(_))))
        .collect();
    Some(Shape { table, kind, columns })
}

/// The primary-key columns of `table` (none for a table this crate does not know).
fn primary_key(table: &str) -> &'static [&'static str] {
    TABLES.iter().find(|(t, _)| *t == table).map_or(&[], |(_, key)| key)
}

/// The key columns a change pins, as a bit set over the table's primary key, with their values
/// in key order. A change that pins nothing conflicts with every change to its table.
fn pins(change: &RowChange) -> (u32, Vec<&SqlValue>) {
    let (table, columns, sets) = match change {
        RowChange::Upsert { table, key, .. } => (*table, key, None),
        RowChange::Update { table, filter, set } => (*table, filter, Some(set)),
        RowChange::Delete { table, filter } => (*table, filter, None),
        RowChange::Insert { .. } => return (0, Vec::new()),
    };
    let key = primary_key(table);
    if key.len() > 32 {
        return (0, Vec::new());
    }
    // An update that rewrites a key column moves rows: it may meet anything.
    if sets.is_some_and(|set| set.iter().any(|(c, _)| key.contains(c))) {
        return (0, Vec::new());
    }
    let mut mask = 0u32;
    let mut values = Vec::new();
    for (bit, column) in key.iter().enumerate() {
        if let Some((_, value)) = columns.iter().find(|(c, _)| c == column) {
            mask |= 1 << bit;
            values.push(value);
        }
    }
    (mask, values)
}

/// The values of `pinned` (in key order, pinned by `mask`) restricted to the columns of `common`.
fn project<'a>(mask: u32, pinned: &[&'a SqlValue], common: u32) -> Vec<&'a SqlValue> {
    let mut out = Vec::new();
    let mut index = 0;
    for bit in 0..32 {
        if mask & (1 << bit) != 0 {
            if common & (1 << bit) != 0 {
                out.push(pinned[index]);
            }
            index += 1;
        }
    }
    out
}

/// Where the changes already placed stand: for every table, pin mask `s` of the placed change,
/// whether it is a delete, and the columns `c` it shares with a pin mask of the batch, the last
/// group holding a change with those values in `c`.
type Index<'a> = HashMap<(&'static str, bool, u32, u32), HashMap<Vec<&'a SqlValue>, usize>>;

/// Groups `changes` (in their order) into statements whose order-preserving execution equals
/// applying the changes one by one.
#[must_use]
pub fn combine(changes: &[RowChange]) -> Vec<Statement<'_>> {
    let mut statements = Vec::new();
    let mut run = 0;
    for (i, change) in changes.iter().enumerate() {
        if matches!(change, RowChange::Insert { .. }) {
            statements.extend(group(&changes[run..i]).into_iter().map(Statement::Group));
            statements.push(Statement::Single(change));
            run = i + 1;
        }
    }
    statements.extend(group(&changes[run..]).into_iter().map(Statement::Group));
    statements
}

/// [`combine`] for a run of set-based changes (no inserts).
fn group(changes: &[RowChange]) -> Vec<Group<'_>> {
    let pinned: Vec<(u32, Vec<&SqlValue>)> = changes.iter().map(pins).collect();
    let mut masks: HashMap<&'static str, Vec<u32>> = HashMap::new();
    for (change, (mask, _)) in changes.iter().zip(&pinned) {
        let seen = masks.entry(change.table()).or_default();
        if !seen.contains(mask) {
            seen.push(*mask);
        }
    }
    let mut index: Index<'_> = HashMap::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut by_shape: HashMap<Shape, Vec<usize>> = HashMap::new();
    for (change, (mask, values)) in changes.iter().zip(&pinned) {
        let table = change.table();
        let is_delete = matches!(change, RowChange::Delete { .. });
        let table_masks = masks.get(table).map_or(&[][..], Vec::as_slice);
        // The last group this change must follow.
        let mut after: Option<usize> = None;
        for &other in table_masks {
            let common = other & mask;
            let probe = project(*mask, values, common);
            for other_is_delete in [false, true] {
                if is_delete && other_is_delete {
                    continue;
                }
                if let Some(&last) = index
                    .get(&(table, other_is_delete, other, common))
                    .and_then(|seen| seen.get(&probe))
                {
                    after = after.max(Some(last));
                }
            }
        }
        // `combine` cuts the batch at inserts: none reaches here.
        let Some(shape) = shape(change) else { continue };
        let of_shape = by_shape.entry(shape.clone()).or_default();
        let first_eligible = of_shape.partition_point(|&g| after.is_some_and(|a| g <= a));
        let group = if let Some(&g) = of_shape.get(first_eligible) {
            g
        } else {
            groups.push(Group {
                shape,
                rows: Vec::new(),
            });
            of_shape.push(groups.len() - 1);
            groups.len() - 1
        };
        groups[group].rows.push(bind_order(change));
        for &other in table_masks {
            let common = other & mask;
            let last = index
                .entry((table, is_delete, *mask, common))
                .or_default()
                .entry(project(*mask, values, common))
                .or_insert(group);
            *last = (*last).max(group);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::change::{Columns, Select, Source};

    /// A table as a map from its full key to its other columns: an obviously correct executor.
    type Table = BTreeMap<Vec<SqlValue>, BTreeMap<&'static str, SqlValue>>;

    const KEY: &[&str] = &["account_id", "resource_id", "tag_key"];

    fn matches(key: &[SqlValue], row: &BTreeMap<&'static str, SqlValue>, filter: &[(&str, &SqlValue)]) -> bool {
        filter.iter().all(|(column, value)| {
            let actual = KEY
                .iter()
                .position(|k| k == column)
                .map_or_else(|| row.get(column), |i| key.get(i));
            actual.is_some_and(|a| a == *value && **value != SqlValue::Null)
        })
    }

    /// Applies one statement's worth of rows of `shape` (each row on its own; the grouping
    /// promises they touch different rows).
    fn apply(table: &mut Table, shape: &Shape, row: &[&SqlValue]) {
        let columns: Vec<(&str, &SqlValue)> = shape.columns.iter().map(|(c, _)| *c).zip(row.iter().copied()).collect();
        match shape.kind {
            Kind::Upsert { key } => {
                let k: Vec<SqlValue> = columns[..key].iter().map(|(_, v)| (*v).clone()).collect();
                let values = columns[key..].iter().map(|(c, v)| (*c, (*v).clone()));
                match table.get_mut(&k) {
                    Some(existing) => existing.extend(values),
                    None => {
                        table.insert(k, values.collect());
                    }
                }
            }
            Kind::Update { set } => {
                for (k, existing) in table.iter_mut() {
                    if matches(k, existing, &columns[set..]) {
                        existing.extend(columns[..set].iter().map(|(c, v)| (*c, (*v).clone())));
                    }
                }
            }
            Kind::Delete => table.retain(|k, existing| !matches(k, existing, &columns)),
        }
    }

    /// Applies an insert: the rows it selects (from the same table here) are read first, then
    /// each is added unless its key is taken.
    fn insert(table: &mut Table, columns: &[(&'static str, Source)], from: Option<&Select>) {
        let build = |source_row: Option<(&Vec<SqlValue>, &BTreeMap<&'static str, SqlValue>)>| {
            let mut key = Vec::new();
            let mut values = BTreeMap::new();
            for (column, source) in columns {
                let value = match (source, source_row) {
                    (Source::Value(value), _) => value.clone(),
                    (Source::Column(c), Some((k, row))) => KEY
                        .iter()
                        .position(|name| name == c)
                        .map_or_else(|| row.get(c).cloned(), |i| k.get(i).cloned())
                        .unwrap_or(SqlValue::Null),
                    (Source::Column(_), None) => SqlValue::Null,
                };
                if KEY.contains(column) {
                    key.push(value);
                } else {
                    values.insert(*column, value);
                }
            }
            (key, values)
        };
        let rows: Vec<_> = match from {
            None => vec![build(None)],
            Some(select) => {
                let filter: Vec<(&str, &SqlValue)> = select.filter.iter().map(|(c, v)| (*c, v)).collect();
                table
                    .iter()
                    .filter(|(k, row)| matches(k, row, &filter))
                    .map(|(k, row)| build(Some((k, row))))
                    .collect()
            }
        };
        for (key, values) in rows {
            table.entry(key).or_insert(values);
        }
    }

    fn apply_change(table: &mut Table, change: &RowChange) {
        match (change, shape(change)) {
            (RowChange::Insert { columns, from, .. }, _) => insert(table, columns, from.as_ref()),
            (_, Some(shape)) => apply(table, &shape, &bind_order(change)),
            (_, None) => {}
        }
    }

    fn one_by_one(changes: &[RowChange]) -> Table {
        let mut table = Table::new();
        for change in changes {
            apply_change(&mut table, change);
        }
        table
    }

    fn grouped(changes: &[RowChange]) -> Table {
        let mut table = Table::new();
        for statement in combine(changes) {
            match statement {
                Statement::Group(group) => {
                    for row in &group.rows {
                        apply(&mut table, &group.shape, row);
                    }
                }
                Statement::Single(change) => apply_change(&mut table, change),
            }
        }
        table
    }

    fn groups<'a>(statements: &'a [Statement<'a>]) -> impl Iterator<Item = &'a Group<'a>> {
        statements.iter().filter_map(|s| match s {
            Statement::Group(group) => Some(group),
            Statement::Single(_) => None,
        })
    }

    fn value(choice: u8) -> SqlValue {
        SqlValue::Text(format!("v{choice}"))
    }

    fn change() -> impl Strategy<Value = RowChange> {
        let pick = || 0u8..3;
        (0u8..8, pick(), pick(), pick(), pick()).prop_map(|(kind, account, resource, tag, v)| {
            let full: Columns = vec![
                ("account_id", value(account)),
                ("resource_id", value(resource)),
                ("tag_key", value(tag)),
            ];
            match kind {
                0 => RowChange::Upsert {
                    table: "rm_tags",
                    key: full,
                    values: vec![("tag_value", value(v))],
                },
                1 => RowChange::Upsert {
                    table: "rm_tags",
                    key: full,
                    values: vec![],
                },
                2 => RowChange::Delete {
                    table: "rm_tags",
                    filter: full,
                },
                3 => RowChange::Delete {
                    table: "rm_tags",
                    filter: full[..2].to_vec(),
                },
                4 => RowChange::Update {
                    table: "rm_tags",
                    filter: full,
                    set: vec![("tag_value", value(v))],
                },
                5 => RowChange::Insert {
                    table: "rm_tags",
                    columns: full
                        .into_iter()
                        .chain([("tag_value", value(v))])
                        .map(|(c, v)| (c, Source::Value(v)))
                        .collect(),
                    from: None,
                },
                // Copies one resource's tags to another (`tag` picks the source resource).
                6 => RowChange::Insert {
                    table: "rm_tags",
                    columns: vec![
                        ("account_id", Source::Column("account_id")),
                        ("resource_id", Source::Value(value(resource))),
                        ("tag_key", Source::Column("tag_key")),
                        ("tag_value", Source::Column("tag_value")),
                    ],
                    from: Some(Select {
                        table: "rm_tags",
                        filter: vec![("account_id", value(account)), ("resource_id", value(tag))],
                    }),
                },
                _ => RowChange::Update {
                    table: "rm_tags",
                    filter: vec![("account_id", value(account)), ("tag_value", value(v))],
                    set: vec![("tag_value", value(v.wrapping_add(1)))],
                },
            }
        })
    }

    proptest! {
        #[test]
        fn grouped_statements_equal_the_changes_one_by_one(changes in proptest::collection::vec(change(), 0..60)) {
            let statements = combine(&changes);
            let singles = statements.iter().filter(|s| matches!(s, Statement::Single(_))).count();
            prop_assert_eq!(groups(&statements).map(|g| g.rows.len()).sum::<usize>() + singles, changes.len());
            for group in groups(&statements).filter(|g| matches!(g.shape.kind, Kind::Upsert { .. })) {
                let keys: Vec<_> = group.rows.iter().map(|r| &r[..3]).collect();
                let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
                prop_assert_eq!(distinct.len(), keys.len(), "an upsert statement would meet a row twice");
            }
            prop_assert_eq!(grouped(&changes), one_by_one(&changes));
        }
    }

    #[test]
    fn changes_to_different_rows_share_a_statement_and_a_conflict_orders_them() {
        let tag = |resource: &str, value: &str| RowChange::Upsert {
            table: "rm_tags",
            key: vec![
                ("account_id", "1".into()),
                ("resource_id", resource.into()),
                ("tag_key", "k".into()),
            ],
            values: vec![("tag_value", value.into())],
        };
        let untag_all = |resource: &str| RowChange::Delete {
            table: "rm_tags",
            filter: vec![("account_id", "1".into()), ("resource_id", resource.into())],
        };
        let changes = [
            tag("a", "1"),
            tag("b", "1"),
            untag_all("a"),
            tag("c", "1"),
            tag("a", "2"),
        ];
        let statements = combine(&changes);
        let sizes: Vec<(Kind, usize)> = groups(&statements).map(|g| (g.shape.kind, g.rows.len())).collect();
        assert_eq!(
            sizes,
            [
                (Kind::Upsert { key: 3 }, 3),
                (Kind::Delete, 1),
                (Kind::Upsert { key: 3 }, 1)
            ]
        );
    }
}
