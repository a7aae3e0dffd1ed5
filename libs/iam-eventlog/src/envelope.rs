//! The event envelope: what a command hands the store ([`NewEvent`]) and what readers get back
//! ([`EventEnvelope`]), plus the account-id and timestamp rules every adapter applies.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;

/// An event as a command produced it, before the store gives it a place in the account's stream.
///
/// The caller supplies the id (a UUID v7) and the time, so deciding a command is deterministic and
/// a retried request can reuse them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Globally unique id of the event, a UUID v7 drawn by the caller.
    pub event_id: Uuid,
    /// When the command was accepted. Stores keep microsecond precision (see [`truncate_to_micros`]).
    pub recorded_at: DateTime<Utc>,
    /// ARN of the principal who issued the command.
    pub actor: String,
    /// The request that produced the event, for audit and tracing.
    pub request_id: String,
    /// Stable dotted name such as `iam.user.created`.
    pub event_type: String,
    /// Version of the payload schema for `event_type`; upcasters work from it.
    pub schema_version: u32,
    /// The event body, already in its persisted JSON form.
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// Places the event in `account_id`'s stream at `sequence`, as a store does on append.
    ///
    /// The timestamp is truncated to microseconds, the precision every adapter keeps.
    #[must_use]
    pub fn into_envelope(self, account_id: impl Into<String>, sequence: u64) -> EventEnvelope {
        EventEnvelope {
            event_id: self.event_id,
            account_id: account_id.into(),
            sequence,
            recorded_at: truncate_to_micros(self.recorded_at),
            actor: self.actor,
            request_id: self.request_id,
            event_type: self.event_type,
            schema_version: self.schema_version,
            payload: self.payload,
        }
    }
}

/// A stored event: a [`NewEvent`] with its account and its place in that account's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Globally unique id of the event (UUID v7).
    pub event_id: Uuid,
    /// The twelve-digit account whose stream holds the event.
    pub account_id: String,
    /// Position in the account's stream: 1-based and gapless.
    pub sequence: u64,
    /// When the command was accepted, to the microsecond.
    pub recorded_at: DateTime<Utc>,
    /// ARN of the principal who issued the command.
    pub actor: String,
    /// The request that produced the event.
    pub request_id: String,
    /// Stable dotted name such as `iam.user.created`.
    pub event_type: String,
    /// Version of the payload schema for `event_type`.
    pub schema_version: u32,
    /// The event body in its persisted JSON form.
    pub payload: serde_json::Value,
}

/// Drops sub-microsecond digits: Postgres `timestamptz` keeps microseconds, so every adapter does
/// the same and an event reads back identically wherever it was stored.
#[must_use]
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Whether `account_id` is an AWS-style account id: exactly twelve ASCII digits.
#[must_use]
pub fn is_valid_account_id(account_id: &str) -> bool {
    account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit())
}

/// Rejects anything but twelve ASCII digits with [`StoreError::InvalidAccountId`].
///
/// # Errors
/// [`StoreError::InvalidAccountId`] when the id is malformed.
pub fn validate_account_id(account_id: &str) -> Result<(), StoreError> {
    if is_valid_account_id(account_id) {
        Ok(())
    } else {
        Err(StoreError::InvalidAccountId(account_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_valid_account_id("123456789012"));
        assert!(!is_valid_account_id("12345678901"));
        assert!(!is_valid_account_id("1234567890123"));
        assert!(!is_valid_account_id("12345678901a"));
        assert!(!is_valid_account_id("١٢٣٤٥٦٧٨٩٠١٢"));
    }

    #[test]
    fn envelopes_keep_microseconds() {
        let at = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .unwrap_or_default();
        let event = NewEvent {
            event_id: Uuid::nil(),
            recorded_at: at,
            actor: "arn:aws:iam::123456789012:root".into(),
            request_id: "r".into(),
            event_type: "iam.user.created".into(),
            schema_version: 1,
            payload: serde_json::json!({}),
        };
        let envelope = event.into_envelope("123456789012", 1);
        assert_eq!(envelope.recorded_at.timestamp_subsec_nanos(), 123_456_000);
    }
}
