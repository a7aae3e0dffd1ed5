//! What to do with one event from the feed, given where its account's projection stands. Pure.
//!
//! An organization's stream is one more "account" here: its id (`o-...`) is in the envelope's
//! `account_id`, it has a head of its own, and its events reduce into its own rows.

use iam_eventlog::EventEnvelope;

use crate::change::RowChange;
use crate::reduce::reduce;

/// Where an account's projection stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountHead {
    /// The last applied sequence (0: nothing yet).
    pub sequence: u64,
    /// The sequence of the event that stopped the projection, if one did.
    pub failed_sequence: Option<u64>,
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// The next event of the account: write these changes.
    Apply(Vec<RowChange>),
    /// Already applied (the feed redelivered it): drop it.
    Duplicate,
    /// The account's projection is stopped: leave the event for the rebuild.
    AlreadyStopped,
    /// The event cannot be applied (a gap or an unreadable event): stop the account, record why.
    Stop(String),
}

/// Decides what `envelope` does to an account whose projection stands at `head`, and the new head.
#[must_use]
pub fn plan(head: AccountHead, envelope: &EventEnvelope) -> (EventOutcome, AccountHead) {
    if envelope.sequence <= head.sequence {
        return (EventOutcome::Duplicate, head);
    }
    if head.failed_sequence.is_some() {
        return (EventOutcome::AlreadyStopped, head);
    }
    let stop = |reason: String| {
        (
            EventOutcome::Stop(reason),
            AccountHead {
                failed_sequence: Some(envelope.sequence),
                ..head
            },
        )
    };
    if envelope.sequence != head.sequence + 1 {
        return stop(format!(
            "gap in the feed: expected sequence {} of account {}, got {}",
            head.sequence + 1,
            envelope.account_id,
            envelope.sequence
        ));
    }
    match iam_domain::decode_event(&envelope.event_type, envelope.schema_version, &envelope.payload) {
        Ok(event) => (
            EventOutcome::Apply(reduce(&envelope.account_id, &event)),
            AccountHead {
                sequence: envelope.sequence,
                failed_sequence: None,
            },
        ),
        Err(error) => stop(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn envelope(sequence: u64, event_type: &str, payload: serde_json::Value) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::now_v7(),
            account_id: "123456789012".into(),
            sequence,
            recorded_at: Utc::now(),
            actor: "arn:aws:iam::123456789012:root".into(),
            request_id: "r".into(),
            event_type: event_type.into(),
            schema_version: 1,
            payload,
        }
    }

    fn account_created() -> serde_json::Value {
        serde_json::json!({"type": "iam.account.created", "account_id": "123456789012",
            "account_alias": null, "create_date": "2026-11-27T00:00:00Z"})
    }

    #[test]
    fn applies_the_next_event_and_drops_duplicates() {
        let (outcome, head) = plan(
            AccountHead::default(),
            &envelope(1, "iam.account.created", account_created()),
        );
        assert!(matches!(outcome, EventOutcome::Apply(ref changes) if changes.len() == 1));
        assert_eq!(head.sequence, 1);
        let (outcome, same) = plan(head, &envelope(1, "iam.account.created", account_created()));
        assert_eq!(outcome, EventOutcome::Duplicate);
        assert_eq!(same, head);
    }

    #[test]
    fn a_gap_or_an_unreadable_event_stops_the_account_and_what_follows_waits() {
        let head = AccountHead {
            sequence: 1,
            failed_sequence: None,
        };
        let (outcome, stopped) = plan(head, &envelope(3, "iam.account.created", account_created()));
        assert!(matches!(outcome, EventOutcome::Stop(ref why) if why.contains("gap")));
        assert_eq!(stopped.failed_sequence, Some(3));

        let (outcome, stopped) = plan(head, &envelope(2, "iam.user.teleported", serde_json::json!({})));
        assert!(matches!(outcome, EventOutcome::Stop(ref why) if why.contains("unknown event type")));
        let (outcome, _) = plan(stopped, &envelope(3, "iam.account.created", account_created()));
        assert_eq!(outcome, EventOutcome::AlreadyStopped);
    }
}
