//! Point-in-time states: an account (or an organization) as it was after any event of its stream,
//! rebuilt from the log.
//!
//! Every stream asked about gets a [`StreamHistory`]: the time each event was recorded (to map a
//! time to a sequence) and a snapshot of the state every [`SNAPSHOT_INTERVAL`] events. A state at
//! sequence `n` is the nearest snapshot at or below `n` plus at most `SNAPSHOT_INTERVAL - 1`
//! events read from the log and applied. Snapshots are taken while one state is built forward,
//! so successive snapshots share every entity that did not change between them (`Arc`s): a
//! snapshot costs its maps' nodes and the entities changed since the previous one, not a copy of
//! the account.
//!
//! Histories are built on first use (one pass over the stream) and extended as the log grows;
//! at most [`MAX_HISTORIES`] streams keep theirs, the least recently used going first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use iam_domain::organization::{evolve_organization, OrganizationState};
use iam_domain::{evolve, AccountState, DomainEvent};
use iam_types::ErrorCode;

use crate::{decode, store_error, AppError, Gatehouse, READ_BATCH};

/// Events between two snapshots: the most a point-in-time read replays.
pub const SNAPSHOT_INTERVAL: u64 = 512;

/// Streams whose history is kept at once. A history costs about 600 bytes per event of its
/// stream (100,000 events: 57 MiB, `docs/benchmarks.md`), and a caller can only make histories of
/// the streams it may read, so this bounds what many tenants reading their pasts at once hold.
pub const MAX_HISTORIES: usize = 32;

/// A point of a stream: after its `n`-th event, or as it was at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After the event with this sequence (an account sequence or consistency token).
    Sequence(u64),
    /// After the last event recorded at or before this instant.
    Time(DateTime<Utc>),
}

/// A state that events build: an account's or an organization's.
pub(crate) trait Replayable: Clone + Default + Send + Sync + 'static {
    fn apply(&mut self, event: &DomainEvent);
    fn version(&self) -> u64;
}

impl Replayable for AccountState {
    fn apply(&mut self, event: &DomainEvent) {
        evolve(self, event);
    }
    fn version(&self) -> u64 {
        AccountState::version(self)
    }
}

impl Replayable for OrganizationState {
    fn apply(&mut self, event: &DomainEvent) {
        evolve_organization(self, event);
    }
    fn version(&self) -> u64 {
        OrganizationState::version(self)
    }
}

/// What is known of one stream's past.
#[derive(Debug)]
pub(crate) struct StreamHistory<S> {
    /// `recorded[i]`: when event `i + 1` was recorded, in microseconds since the epoch.
    recorded: Vec<i64>,
    /// `snapshots[i]`: the state after event `(i + 1) * SNAPSHOT_INTERVAL`.
    snapshots: Vec<Arc<S>>,
    /// The state after the last event read (`recorded.len()`).
    tail: Arc<S>,
    /// For eviction: the last use, by a counter.
    last_used: u64,
}

impl<S: Replayable> StreamHistory<S> {
    fn new() -> Self {
        StreamHistory {
            recorded: Vec::new(),
            snapshots: Vec::new(),
            tail: Arc::new(S::default()),
            last_used: 0,
        }
    }

    fn known(&self) -> u64 {
        self.recorded.len() as u64
    }

    /// Bytes this history holds beyond the entities it shares with the live model (an estimate
    /// for reports: the time index and one pointer per snapshot).
    pub(crate) fn index_bytes(&self) -> usize {
        self.recorded.capacity() * std::mem::size_of::<i64>()
            + self.snapshots.capacity() * std::mem::size_of::<Arc<S>>()
    }
}

/// The histories of the streams asked about.
pub(crate) struct Histories<S> {
    streams: Mutex<HashMap<String, Arc<tokio::sync::Mutex<StreamHistory<S>>>>>,
    clock: std::sync::atomic::AtomicU64,
}

impl<S> Default for Histories<S> {
    fn default() -> Self {
        Histories {
            streams: Mutex::new(HashMap::new()),
            clock: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl<S: Replayable> Histories<S> {
    fn of(&self, stream: &str) -> Arc<tokio::sync::Mutex<StreamHistory<S>>> {
        let mut streams = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = streams.get(stream) {
            return found.clone();
        }
        if streams.len() >= MAX_HISTORIES {
            // The least recently used goes (a history in use stays alive through its `Arc`).
            let oldest = streams
                .iter()
                .filter_map(|(id, h)| h.try_lock().ok().map(|h| (h.last_used, id.clone())))
                .min();
            if let Some((_, id)) = oldest {
                streams.remove(&id);
            }
        }
        streams
            .entry(stream.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(StreamHistory::new())))
            .clone()
    }
}

impl Gatehouse {
    /// The account as it was at `as_of`.
    ///
    /// # Errors
    /// `InvalidInput` for a point after the log's head or in the future; `NoSuchEntity` for a
    /// point before the account's first event; `ServiceFailure` if the log cannot be read.
    pub async fn account_state_at(&self, account_id: &str, as_of: AsOf) -> Result<Arc<AccountState>, AppError> {
        self.state_at(&self.histories.accounts, account_id, "account", as_of)
            .await
    }

    /// The organization as it was at `as_of` (an organization sequence or an instant).
    ///
    /// # Errors
    /// As [`Gatehouse::account_state_at`].
    pub async fn organization_state_at(
        &self,
        organization_id: &str,
        as_of: AsOf,
    ) -> Result<Arc<OrganizationState>, AppError> {
        self.state_at(&self.histories.organizations, organization_id, "organization", as_of)
            .await
    }

    /// Events recorded in a stream up to `as_of` (its sequence at that point), without building
    /// the state: how a time maps to a sequence.
    ///
    /// # Errors
    /// As [`Gatehouse::account_state_at`].
    pub async fn account_sequence_at(&self, account_id: &str, as_of: AsOf) -> Result<u64, AppError> {
        let history = self.histories.accounts.of(account_id);
        let mut history = history.lock().await;
        self.resolve(&mut history, account_id, "account", as_of).await
    }

    /// [`Gatehouse::account_sequence_at`] for an organization's stream.
    ///
    /// # Errors
    /// As [`Gatehouse::account_state_at`].
    pub async fn organization_sequence_at(&self, organization_id: &str, as_of: AsOf) -> Result<u64, AppError> {
        let history = self.histories.organizations.of(organization_id);
        let mut history = history.lock().await;
        self.resolve(&mut history, organization_id, "organization", as_of).await
    }

    async fn state_at<S: Replayable>(
        &self,
        histories: &Histories<S>,
        stream: &str,
        what: &str,
        as_of: AsOf,
    ) -> Result<Arc<S>, AppError> {
        let history = histories.of(stream);
        let mut history = history.lock().await;
        history.last_used = histories.clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let target = self.resolve(&mut history, stream, what, as_of).await?;
        if target == history.known() {
            return Ok(history.tail.clone());
        }
        let below = usize::try_from(target / SNAPSHOT_INTERVAL).unwrap_or(usize::MAX);
        let base = match below.checked_sub(1).and_then(|i| history.snapshots.get(i)) {
            Some(snapshot) => snapshot.clone(),
            None => Arc::new(S::default()),
        };
        drop(history);
        if base.version() == target {
            return Ok(base);
        }
        let mut state = (*base).clone();
        while state.version() < target {
            let want = u32::try_from(target - state.version())
                .unwrap_or(READ_BATCH)
                .min(READ_BATCH);
            let batch = self
                .store
                .read_stream(stream, state.version() + 1, want)
                .await
                .map_err(store_error)?;
            if batch.is_empty() {
                break;
            }
            for envelope in batch.iter().take_while(|e| e.sequence <= target) {
                state.apply(&decode(envelope)?);
            }
        }
        Ok(Arc::new(state))
    }

    /// The sequence `as_of` names in `stream`, after reading what the history lacks of it.
    async fn resolve<S: Replayable>(
        &self,
        history: &mut StreamHistory<S>,
        stream: &str,
        what: &str,
        as_of: AsOf,
    ) -> Result<u64, AppError> {
        // A time needs every event up to now; a sequence only up to itself.
        let lacking = match as_of {
            AsOf::Sequence(sequence) => sequence > history.known(),
            AsOf::Time(at) if at > Utc::now() => {
                return Err(AppError::new(
                    ErrorCode::InvalidInput,
                    format!("asOf {} is in the future", at.to_rfc3339()),
                ))
            }
            AsOf::Time(_) => true,
        };
        if lacking {
            self.extend(history, stream).await?;
        }
        let target = match as_of {
            AsOf::Sequence(sequence) if sequence > history.known() => {
                return Err(AppError::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "asOf sequence {sequence} is beyond the {what}'s last event ({})",
                        history.known()
                    ),
                ))
            }
            AsOf::Sequence(sequence) => sequence,
            AsOf::Time(at) => {
                let micros = at.timestamp_micros();
                history.recorded.partition_point(|recorded| *recorded <= micros) as u64
            }
        };
        if target == 0 {
            let when = match as_of {
                AsOf::Sequence(_) => "at sequence 0".to_owned(),
                AsOf::Time(at) => format!("at {}", at.to_rfc3339()),
            };
            return Err(AppError::new(
                ErrorCode::NoSuchEntity,
                format!("The {what} {stream} did not exist {when}: its first event came later."),
            ));
        }
        Ok(target)
    }

    /// Reads the events of `stream` the history has not seen, taking snapshots on the way.
    async fn extend<S: Replayable>(&self, history: &mut StreamHistory<S>, stream: &str) -> Result<(), AppError> {
        let mut state: Option<S> = None;
        loop {
            let batch = self
                .store
                .read_stream(stream, history.known() + 1, READ_BATCH)
                .await
                .map_err(store_error)?;
            if batch.is_empty() {
                break;
            }
            let state = state.get_or_insert_with(|| (*history.tail).clone());
            for envelope in &batch {
                state.apply(&decode(envelope)?);
                history.recorded.push(envelope.recorded_at.timestamp_micros());
                if state.version().is_multiple_of(SNAPSHOT_INTERVAL) {
                    history.snapshots.push(Arc::new(state.clone()));
                }
            }
        }
        if let Some(state) = state {
            history.tail = Arc::new(state);
        }
        Ok(())
    }

    /// Bytes the kept histories hold besides the states' shared entities, and how many
    /// snapshots they keep (for the benchmark's report).
    pub async fn history_footprint(&self) -> (usize, usize) {
        let streams: Vec<_> = self
            .histories
            .accounts
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut bytes = 0;
        let mut snapshots = 0;
        for history in streams {
            let history = history.lock().await;
            bytes += history.index_bytes();
            snapshots += history.snapshots.len();
        }
        (bytes, snapshots)
    }
}

/// The histories of accounts and organizations.
#[derive(Default)]
pub(crate) struct AllHistories {
    pub(crate) accounts: Histories<AccountState>,
    pub(crate) organizations: Histories<OrganizationState>,
}
