//! Reading stored events back: the one entry point every reader (the application, projectors,
//! the relay) uses, so old schema versions are upcast in exactly one place.
//!
//! An event is stored as `(type, schema_version, payload)`. [`decode_event`] upgrades a payload
//! written by an older schema version to the current one, step by step, then deserializes it.
//! An unknown type, a version from the future or a payload that does not fit is an error, never a
//! silent skip: a projection must stop on it.

use crate::event::{DomainEvent, SCHEMA_VERSION};

/// Why a stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The type name is not one this build knows.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The event was written by a newer schema than this build understands.
    #[error("event {event_type} has schema version {found}, newer than the supported {supported}")]
    FutureVersion {
        /// The event type.
        event_type: String,
        /// The stored version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The payload does not match the schema.
    #[error("event {event_type} (schema version {schema_version}) has a malformed payload: {reason}")]
    Malformed {
        /// The event type.
        event_type: String,
        /// The stored version.
        schema_version: u32,
        /// What serde said.
        reason: String,
    },
}

/// Upgrades one payload from `from_version` to `from_version + 1`.
///
/// Version 1 is the first schema, so there is nothing to upgrade yet. When a payload changes
/// shape, bump [`SCHEMA_VERSION`], add a `(type, old version)` arm here that rewrites the JSON,
/// and freeze a fixture of the new version under `schema/events/`.
fn upcast_step(event_type: &str, from_version: u32, payload: serde_json::Value) -> serde_json::Value {
    let _ = (event_type, from_version);
    payload
}

/// Decodes a stored event, upcasting older schema versions to the current one.
///
/// # Errors
/// [`DecodeError`] for an unknown type, a future version or a malformed payload.
pub fn decode_event(
    event_type: &str,
    schema_version: u32,
    payload: &serde_json::Value,
) -> Result<DomainEvent, DecodeError> {
    if !DomainEvent::TYPES.contains(&event_type) {
        return Err(DecodeError::UnknownType(event_type.to_owned()));
    }
    if schema_version > SCHEMA_VERSION || schema_version == 0 {
        return Err(DecodeError::FutureVersion {
            event_type: event_type.to_owned(),
            found: schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    let mut current = payload.clone();
    for version in schema_version..SCHEMA_VERSION {
        current = upcast_step(event_type, version, current);
    }
    let malformed = |reason: String| DecodeError::Malformed {
        event_type: event_type.to_owned(),
        schema_version,
        reason,
    };
    let event: DomainEvent = serde_json::from_value(current).map_err(|e| malformed(e.to_string()))?;
    if event.event_type() != event_type {
        return Err(malformed(format!(
            "the payload says it is {}, the envelope says {event_type}",
            event.event_type()
        )));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_future_and_mismatched_events() {
        let payload = serde_json::json!({"type": "iam.user.deleted", "id": "AIDAAAAAAAAAAAAAAAAAA", "name": "bob"});
        assert!(matches!(
            decode_event("iam.user.exploded", 1, &payload),
            Err(DecodeError::UnknownType(_))
        ));
        assert!(matches!(
            decode_event("iam.user.deleted", SCHEMA_VERSION + 1, &payload),
            Err(DecodeError::FutureVersion { .. })
        ));
        assert!(matches!(
            decode_event("iam.group.deleted", 1, &payload),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            decode_event("iam.user.deleted", 1, &serde_json::json!({"type": "iam.user.deleted"})),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
