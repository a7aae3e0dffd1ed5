//! The SQL row format of an event: how envelope fields are encoded into columns and decoded back.
//! The encoding is part of the persisted format; change it only with a migration.

use chrono::{DateTime, SecondsFormat, Utc};
use iam_eventlog::{truncate_to_micros, EventEnvelope, NewEvent, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

/// The columns every event query selects, in the order [`decode`] reads them.
pub(crate) const EVENT_COLUMNS: &str = "global_position, account_id, sequence, event_id, \
     recorded_at, actor, request_id, event_type, schema_version, payload";

/// A [`NewEvent`] encoded for insertion.
pub(crate) struct EncodedEvent {
    pub event_id: String,
    pub recorded_at: String,
    pub actor: String,
    pub request_id: String,
    pub event_type: String,
    pub schema_version: i64,
    pub payload: String,
}

/// Encodes an event's columns (before a transaction is opened, so the lock is held briefly).
pub(crate) fn encode(event: NewEvent) -> Result<EncodedEvent, StoreError> {
    let payload = serde_json::to_string(&event.payload)
        .map_err(|e| StoreError::InvalidAppend(format!("payload of `{}`: {e}", event.event_type)))?;
    Ok(EncodedEvent {
        event_id: event.event_id.hyphenated().to_string(),
        recorded_at: format_time(event.recorded_at),
        actor: event.actor,
        request_id: event.request_id,
        event_type: event.event_type,
        schema_version: i64::from(event.schema_version),
        payload,
    })
}

/// RFC 3339 in UTC with exactly six fractional digits, so stored times sort as text.
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    truncate_to_micros(at).to_rfc3339_opts(SecondsFormat::Micros, true)
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
pub(crate) fn decode(row: &SqliteRow) -> Result<(u64, EventEnvelope), StoreError> {
    let position: i64 = get(row, "global_position", 0)?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Internal(format!("event at position {position}: {what}: {e}"))
    };
    let event_id: String = get(row, "event_id", position)?;
    let recorded_at: String = get(row, "recorded_at", position)?;
    let payload: String = get(row, "payload", position)?;
    let schema_version: i64 = get(row, "schema_version", position)?;
    let envelope = EventEnvelope {
        event_id: Uuid::parse_str(&event_id).map_err(|e| corrupt("event_id", &e))?,
        account_id: get(row, "account_id", position)?,
        sequence: to_u64(get(row, "sequence", position)?, "sequence")?,
        recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt("recorded_at", &e))?
            .with_timezone(&Utc),
        actor: get(row, "actor", position)?,
        request_id: get(row, "request_id", position)?,
        event_type: get(row, "event_type", position)?,
        schema_version: u32::try_from(schema_version).map_err(|e| corrupt("schema_version", &e))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", &e))?,
    };
    Ok((to_u64(position, "position")?, envelope))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str, position: i64) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Internal(format!("event at position {position}: column `{column}`: {e}")))
}
