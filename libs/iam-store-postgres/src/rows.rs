//! The SQL row format of an event: how envelope fields become columns (as the arrays one append
//! inserts in one statement) and how a row becomes an envelope again. Part of the persisted
//! format; change it only with a migration.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use iam_eventlog::{truncate_to_micros, EventEnvelope, NewEvent, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

/// The columns every event query selects, in the order [`decode`] reads them. The payload is read
/// as text: JSONB's text form is valid JSON and needs no extra sqlx feature.
pub(crate) const EVENT_COLUMNS: &str = "global_position, account_id, sequence, event_id, \
     recorded_at, actor, request_id, event_type, schema_version, payload::text AS payload";

/// One append's events, column by column, ready to bind as arrays to an `unnest`.
#[derive(Debug, Default)]
pub(crate) struct EncodedBatch {
    pub event_ids: Vec<Uuid>,
    pub recorded_at: Vec<DateTime<Utc>>,
    pub actors: Vec<String>,
    pub request_ids: Vec<String>,
    pub event_types: Vec<String>,
    pub schema_versions: Vec<i64>,
    pub payloads: Vec<String>,
}

impl EncodedBatch {
    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.event_ids.len()
    }
}

/// Encodes a batch before a transaction is opened, so the append lock is held briefly.
pub(crate) fn encode(events: Vec<NewEvent>) -> Result<EncodedBatch, StoreError> {
    let mut batch = EncodedBatch::default();
    for event in events {
        let payload = serde_json::to_string(&event.payload)
            .map_err(|e| StoreError::InvalidAppend(format!("payload of `{}`: {e}", event.event_type)))?;
        batch.event_ids.push(event.event_id);
        // Truncated here rather than by the driver, which rounds toward 2000-01-01 (so upward
        // before it); the envelope truncates toward the past.
        batch.recorded_at.push(truncate_to_micros(event.recorded_at));
        batch.actors.push(event.actor);
        batch.request_ids.push(event.request_id);
        batch.event_types.push(event.event_type);
        batch.schema_versions.push(i64::from(event.schema_version));
        batch.payloads.push(payload);
    }
    Ok(batch)
}

/// The first event id that occurs twice in `ids`, if any.
pub(crate) fn repeated_id(ids: &[Uuid]) -> Option<Uuid> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().find(|id| !seen.insert(*id))
}

/// Converts a sequence or position to the signed column type; values come from validated input.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Converts a stored non-negative integer back.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Internal(format!("negative {what} `{value}`")))
}

/// Decodes a row selected with [`EVENT_COLUMNS`] into its feed position and envelope.
pub(crate) fn decode(row: &PgRow) -> Result<(u64, EventEnvelope), StoreError> {
    let position: i64 = get(row, "global_position", 0)?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Internal(format!("event at position {position}: {what}: {e}"))
    };
    let payload: String = get(row, "payload", position)?;
    let schema_version: i64 = get(row, "schema_version", position)?;
    let envelope = EventEnvelope {
        event_id: get(row, "event_id", position)?,
        account_id: get(row, "account_id", position)?,
        sequence: to_u64(get(row, "sequence", position)?, "sequence")?,
        recorded_at: get(row, "recorded_at", position)?,
        actor: get(row, "actor", position)?,
        request_id: get(row, "request_id", position)?,
        event_type: get(row, "event_type", position)?,
        schema_version: u32::try_from(schema_version).map_err(|e| corrupt("schema_version", &e))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", &e))?,
    };
    Ok((to_u64(position, "position")?, envelope))
}

fn get<'r, T>(row: &'r PgRow, column: &str, position: i64) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Internal(format!("event at position {position}: column `{column}`: {e}")))
}
