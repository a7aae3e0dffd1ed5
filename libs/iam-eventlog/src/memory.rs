//! [`MemoryEventStore`]: the in-process adapter, for unit tests of code above the port and as
//! the reference the conformance suite is checked against. Nothing survives a restart.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use crate::claims::ClaimChange;
use crate::envelope::{validate_stream_id, EventEnvelope, NewEvent};
use crate::error::StoreError;
use crate::feed::EventFeed;
use crate::store::{validate_append, AppendOutcome, EventStore};

/// An event store and feed held in memory. Positions are 1-based indexes into one global log.
#[derive(Debug)]
pub struct MemoryEventStore {
    inner: Mutex<Inner>,
    latest: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The global log; an event's position is its index + 1.
    log: Vec<EventEnvelope>,
    /// Per account, the log indexes of its events in sequence order.
    streams: BTreeMap<String, Vec<usize>>,
    /// `(account, scope, key)` of every held claim.
    claims: HashSet<(String, String, String)>,
    event_ids: HashSet<Uuid>,
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryEventStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            latest: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section validates before it mutates, so a panic elsewhere cannot leave
        // the state half-written and a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn append(
        &self,
        account_id: &str,
        expected_sequence: u64,
        events: Vec<NewEvent>,
        claims: Vec<ClaimChange>,
    ) -> Result<AppendOutcome, StoreError> {
        validate_append(account_id, expected_sequence, &events)?;
        let mut inner = self.lock();
        let head = to_u64(inner.streams.get(account_id).map_or(0, Vec::len));
        if head != expected_sequence {
            return Err(StoreError::Conflict {
                expected: expected_sequence,
                actual: head,
            });
        }

        // Work out the claim changes against a delta before mutating anything.
        let mut added = HashSet::new();
        let mut removed = HashSet::new();
        for change in &claims {
            match change {
                ClaimChange::Claim(claim) => {
                    let entry = (
                        claim.holder(account_id).to_owned(),
                        claim.scope.clone(),
                        claim.key.clone(),
                    );
                    let held = added.contains(&entry) || (inner.claims.contains(&entry) && !removed.contains(&entry));
                    if held {
                        return Err(StoreError::UniqueViolation {
                            scope: claim.scope.clone(),
                            key: claim.key.clone(),
                        });
                    }
                    removed.remove(&entry);
                    added.insert(entry);
                }
                ClaimChange::Release(claim) => {
                    let entry = (
                        claim.holder(account_id).to_owned(),
                        claim.scope.clone(),
                        claim.key.clone(),
                    );
                    if !added.remove(&entry) {
                        removed.insert(entry);
                    }
                }
            }
        }
        let mut ids = HashSet::new();
        for event in &events {
            if inner.event_ids.contains(&event.event_id) || !ids.insert(event.event_id) {
                return Err(StoreError::DuplicateEventId(event.event_id));
            }
        }

        for entry in &removed {
            inner.claims.remove(entry);
        }
        inner.claims.extend(added);
        inner.event_ids.extend(ids);
        let first_sequence = head + 1;
        let mut sequence = head;
        let mut indexes = Vec::with_capacity(events.len());
        for event in events {
            sequence += 1;
            indexes.push(inner.log.len());
            inner.log.push(event.into_envelope(account_id, sequence));
        }
        inner.streams.entry(account_id.to_owned()).or_default().extend(indexes);
        let global_position = to_u64(inner.log.len());
        drop(inner);
        self.latest.send_replace(global_position);
        Ok(AppendOutcome {
            first_sequence,
            last_sequence: sequence,
            global_position,
        })
    }

    async fn read_stream(
        &self,
        account_id: &str,
        from_sequence: u64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        validate_stream_id(account_id)?;
        let inner = self.lock();
        let Some(indexes) = inner.streams.get(account_id) else {
            return Ok(Vec::new());
        };
        let skip = to_usize(from_sequence.saturating_sub(1));
        Ok(indexes
            .iter()
            .skip(skip)
            .take(to_usize(u64::from(limit)))
            .filter_map(|&i| inner.log.get(i).cloned())
            .collect())
    }

    async fn head(&self, account_id: &str) -> Result<u64, StoreError> {
        validate_stream_id(account_id)?;
        Ok(to_u64(self.lock().streams.get(account_id).map_or(0, Vec::len)))
    }

    async fn accounts(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().streams.keys().cloned().collect())
    }
}

#[async_trait]
impl EventFeed for MemoryEventStore {
    async fn read_from(&self, after_position: u64, limit: u32) -> Result<Vec<(u64, EventEnvelope)>, StoreError> {
        let inner = self.lock();
        let start = to_usize(after_position);
        Ok(inner
            .log
            .iter()
            .enumerate()
            .skip(start)
            .take(to_usize(u64::from(limit)))
            .map(|(i, event)| (to_u64(i) + 1, event.clone()))
            .collect())
    }

    async fn wait_for(&self, after_position: u64, timeout: Duration) -> Result<bool, StoreError> {
        let mut receiver = self.latest.subscribe();
        let waited = tokio::time::timeout(timeout, receiver.wait_for(|&latest| latest > after_position)).await;
        Ok(matches!(waited, Ok(Ok(_))))
    }

    async fn latest_position(&self) -> Result<u64, StoreError> {
        Ok(to_u64(self.lock().log.len()))
    }
}
