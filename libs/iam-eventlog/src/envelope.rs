//! The event envelope: what a command hands the store ([`NewEvent`]) and what readers get back
//! ([`EventEnvelope`]), plus the stream-id and timestamp rules every adapter applies.
//!
//! A stream is keyed by an account id (twelve digits) or, for an organization's own stream, by
//! its organization id (`o-` and 10 to 32 lowercase letters or digits). Envelopes and tables keep
//! the field name `account_id` for both: it is a frozen wire and storage name.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;

/// An event as a command produced it, before the store gives it a place in a stream.
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
    /// Places the event in the stream `account_id` (an account or organization id) at `sequence`,
    /// as a store does on append.
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

/// A stored event: a [`NewEvent`] with its stream and its place in that stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Globally unique id of the event (UUID v7).
    pub event_id: Uuid,
    /// The stream's id: an account id, or an organization id for an organization's stream.
    /// The name is frozen in the wire and storage formats.
    pub account_id: String,
    /// Position in the stream: 1-based and gapless.
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

/// Whether `organization_id` is an AWS-style organization id: `o-` then 10 to 32 ASCII lowercase
/// letters or digits (AWS's `^o-[a-z0-9]{10,32}$`).
#[must_use]
pub fn is_valid_organization_id(organization_id: &str) -> bool {
    organization_id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `stream_id` may key a stream: an account id or an organization id.
#[must_use]
pub fn is_valid_stream_id(stream_id: &str) -> bool {
    is_valid_account_id(stream_id) || is_valid_organization_id(stream_id)
}

/// Rejects anything but an account id or an organization id with
/// [`StoreError::InvalidAccountId`].
///
/// # Errors
/// [`StoreError::InvalidAccountId`] when the id is malformed.
pub fn validate_stream_id(stream_id: &str) -> Result<(), StoreError> {
    if is_valid_stream_id(stream_id) {
        Ok(())
    } else {
        Err(StoreError::InvalidAccountId(stream_id.to_owned()))
    }
}

/// The same check as [`validate_stream_id`], under the name callers used before organizations
/// had streams: it accepts organization ids too.
///
/// # Errors
/// [`StoreError::InvalidAccountId`] when the id is neither an account nor an organization id.
pub fn validate_account_id(account_id: &str) -> Result<(), StoreError> {
    validate_stream_id(account_id)
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
        assert!(!is_valid_account_id("o-abcdefghij"));
    }

    #[test]
    fn organization_ids_are_o_dash_and_ten_to_thirty_two_lowercase_alphanumerics() {
        assert!(is_valid_organization_id("o-abcdefghij"));
        assert!(is_valid_organization_id("o-exampleorg1"));
        assert!(is_valid_organization_id("o-0123456789"));
        assert!(is_valid_organization_id(&format!("o-{}", "a".repeat(32))));
        for bad in [
            "o-ABCDEFGHIJ",
            "o-abc",
            "o-abcdefghi",
            "o-abcdefghi-",
            "o-abcde_ghij",
            "r-abcdefghij",
            "O-abcdefghij",
            "oabcdefghijk",
            "o-",
            "",
            " o-abcdefghij",
            "o-abcdefghij\n",
            "o-abcdéfghij",
            "o-ａｂｃｄｅｆｇｈｉｊ",
            "o-abcdefghi\u{0131}",
        ] {
            assert!(!is_valid_organization_id(bad), "{bad:?}");
        }
        let thirty_three = format!("o-{}", "a".repeat(33));
        assert_eq!(thirty_three.len(), 35);
        assert!(!is_valid_organization_id(&thirty_three));
    }

    #[test]
    fn stream_ids_are_account_or_organization_ids() {
        for good in ["123456789012", "o-abcdefghij"] {
            assert!(is_valid_stream_id(good), "{good}");
            assert_eq!(validate_stream_id(good), Ok(()));
            assert_eq!(validate_account_id(good), Ok(()));
        }
        for bad in ["12345678901", "o-abc", "r-abcdefghij", "123456789012 "] {
            assert!(!is_valid_stream_id(bad), "{bad}");
            assert_eq!(
                validate_stream_id(bad),
                Err(StoreError::InvalidAccountId(bad.to_owned()))
            );
            assert_eq!(
                validate_account_id(bad),
                Err(StoreError::InvalidAccountId(bad.to_owned()))
            );
        }
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
