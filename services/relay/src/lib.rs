//! The outbox relay: publishes the PostgreSQL event log's outbox to Kafka and deletes what Kafka
//! acknowledged.
//!
//! Every append to [`iam_store_postgres::PostgresEventStore`] writes, in its own transaction, one
//! `outbox` row per event (its feed position). The relay drains that table in position order:
//!
//! 1. in one transaction, lock the oldest `batch` outbox rows (`SELECT ... FOR UPDATE`, so a
//!    second relay on the same log waits, up to the store's `lock_timeout`, then retries, rather
//!    than publishing the same rows out of order: one relay is active at a time, others stand by);
//! 2. read their events through the store's [`EventFeed`] (the envelope's row format stays the
//!    store's business);
//! 3. produce each event to the topic (default [`EVENTS_TOPIC`]) with the account id as the key,
//!    so Kafka's partitioner keeps every account on one partition and in sequence order; the value
//!    is the [`EventEnvelope`]'s JSON and the headers carry the event type and schema version;
//! 4. wait for every delivery report of the batch (the producer is idempotent with `acks=all`, so
//!    retries neither duplicate nor reorder within a partition);
//! 5. delete the published rows and commit.
//!
//! Delivery is at least once: a crash (or an error) after step 4 and before the commit of step 5
//! rolls the deletion back and the next run publishes those events again. Consumers dedupe by
//! `(account_id, sequence)`, as the `EventFeed` contract already asks of them.
//!
//! [`relay_once`] is one round of the above; [`run`] loops it until a shutdown signal.

use std::collections::HashSet;
use std::time::Duration;

use iam_eventlog::{EventEnvelope, EventFeed, StoreError};
use iam_store_postgres::PostgresEventStore;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::{Postgres, Transaction};

/// Events this process has published and had acknowledged (then deleted from the outbox).
static PUBLISHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Rounds that failed: Kafka refused or did not acknowledge, or the database failed.
static FAILED_ROUNDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Of those, the rounds Kafka's producer failed (not acknowledged, refused, misconfigured).
static PRODUCER_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Events this process has relayed, for its metrics.
#[must_use]
pub fn published_events() -> u64 {
    PUBLISHED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Relay rounds that failed, for its metrics.
#[must_use]
pub fn failed_rounds() -> u64 {
    FAILED_ROUNDS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Relay rounds the Kafka producer failed, for its metrics.
#[must_use]
pub fn producer_errors() -> u64 {
    PRODUCER_ERRORS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The topic every event is published to.
pub const EVENTS_TOPIC: &str = "gatehouse.events";
/// Where the broker list is read from (`host:port[,host:port...]`).
pub const KAFKA_BROKERS_ENV: &str = "GATEHOUSE_KAFKA_BROKERS";
/// Header carrying [`EventEnvelope::event_type`].
pub const EVENT_TYPE_HEADER: &str = "gatehouse-event-type";
/// Header carrying [`EventEnvelope::schema_version`] as decimal text.
pub const SCHEMA_VERSION_HEADER: &str = "gatehouse-schema-version";

/// How long librdkafka keeps retrying one message before reporting it undeliverable. Kept well
/// below the store's `idle_in_transaction_session_timeout` (30 s by default), since the outbox
/// rows stay locked while a batch is in flight.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a relay round failed. Nothing was deleted from the outbox: the next round retries.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The event log could not be read or the outbox not updated.
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    /// A query on the outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] sqlx::Error),
    /// Kafka did not acknowledge an event.
    #[error("kafka: event at position {position} (account `{account_id}`, sequence {sequence}): {message}")]
    Delivery {
        /// Feed position of the event.
        position: u64,
        /// Its account.
        account_id: String,
        /// Its sequence in the account's stream.
        sequence: u64,
        /// librdkafka's reason.
        message: String,
    },
    /// An outbox row names a position the event log does not hold (the foreign key forbids it).
    #[error("outbox: position {0} has no event")]
    Missing(u64),
    /// The producer could not be built.
    #[error("kafka producer: {0}")]
    Config(String),
}

/// The idempotent producer the relay publishes with: `enable.idempotence=true`, `acks=all`.
///
/// # Errors
/// [`RelayError::Config`] if librdkafka rejects the configuration.
pub fn producer(brokers: &str) -> Result<FutureProducer, RelayError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "gatehouse-relay")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", MESSAGE_TIMEOUT.as_millis().to_string())
        // The partitioner Java clients use, so other producers keyed by account agree.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .map_err(|e| RelayError::Config(e.to_string()))
}

/// A batch of outbox rows locked in an open transaction, with their events.
///
/// Dropping it without [`Claimed::complete`] rolls back: the rows stay in the outbox and are
/// published again by a later round (this is what a crash between publishing and deleting does).
pub struct Claimed {
    tx: Transaction<'static, Postgres>,
    events: Vec<(u64, EventEnvelope)>,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed").field("events", &self.events.len()).finish()
    }
}

impl Claimed {
    /// Locks the oldest `batch` outbox rows and reads their events. `None` if the outbox is empty.
    ///
    /// # Errors
    /// A database failure, or an outbox row without its event.
    pub async fn take(store: &PostgresEventStore, batch: u32) -> Result<Option<Self>, RelayError> {
        let mut tx = store.pool().begin().await?;
        let positions: Vec<i64> =
            sqlx::query_scalar("SELECT global_position FROM outbox ORDER BY global_position LIMIT $1 FOR UPDATE")
                .bind(i64::from(batch.max(1)))
                .fetch_all(&mut *tx)
                .await?;
        let positions: Vec<u64> = positions.into_iter().filter_map(|p| u64::try_from(p).ok()).collect();
        let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
            tx.commit().await?;
            return Ok(None);
        };
        // Positions are handed out in commit order and each append writes its outbox rows in the
        // same transaction, so the outbox is normally one contiguous range; read that range and
        // keep the positions actually claimed.
        let span = u32::try_from(last - first + 1).unwrap_or(u32::MAX);
        let wanted: HashSet<u64> = positions.iter().copied().collect();
        let mut events: Vec<(u64, EventEnvelope)> = store
            .read_from(first - 1, span)
            .await?
            .into_iter()
            .filter(|(position, _)| wanted.contains(position))
            .collect();
        if events.len() != positions.len() {
            let found: HashSet<u64> = events.iter().map(|(p, _)| *p).collect();
            let missing = positions.iter().find(|p| !found.contains(p)).copied().unwrap_or(first);
            return Err(RelayError::Missing(missing));
        }
        events.sort_by_key(|(position, _)| *position);
        Ok(Some(Self { tx, events }))
    }

    /// The claimed events with their feed positions, in position order.
    #[must_use]
    pub fn events(&self) -> &[(u64, EventEnvelope)] {
        &self.events
    }

    /// Publishes every claimed event to `topic` and waits for all delivery reports.
    ///
    /// # Errors
    /// [`RelayError::Delivery`] for the first event Kafka did not acknowledge.
    pub async fn publish(&self, producer: &FutureProducer, topic: &str) -> Result<(), RelayError> {
        // Enqueue the whole batch first (librdkafka pipelines it), then collect the reports.
        let mut pending = Vec::with_capacity(self.events.len());
        for (position, event) in &self.events {
            let value = serde_json::to_vec(event).map_err(|e| delivery(*position, event, &e))?;
            let version = event.schema_version.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: EVENT_TYPE_HEADER,
                    value: Some(event.event_type.as_str()),
                })
                .insert(Header {
                    key: SCHEMA_VERSION_HEADER,
                    value: Some(version.as_str()),
                });
            let record = FutureRecord::to(topic)
                .key(event.account_id.as_str())
                .payload(&value)
                .headers(headers);
            let mut record = record;
            let future = loop {
                match producer.send_result(record) {
                    Ok(future) => break future,
                    // librdkafka's local queue is full: let it drain, then enqueue again.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err((e, _)) => return Err(delivery(*position, event, &e)),
                }
            };
            pending.push((*position, event, future));
        }
        for (position, event, future) in pending {
            match future.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(delivery(position, event, &e)),
                Err(_) => return Err(delivery(position, event, &"the producer went away")),
            }
        }
        Ok(())
    }

    /// Deletes the claimed rows from the outbox and commits. Returns how many events were relayed.
    ///
    /// # Errors
    /// A database failure; the rows then stay and are published again.
    pub async fn complete(mut self) -> Result<usize, RelayError> {
        let positions: Vec<i64> = self
            .events
            .iter()
            .map(|(p, _)| i64::try_from(*p).unwrap_or(i64::MAX))
            .collect();
        sqlx::query("DELETE FROM outbox WHERE global_position = ANY($1)")
            .bind(&positions)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(positions.len())
    }
}

fn delivery(position: u64, event: &EventEnvelope, error: &dyn std::fmt::Display) -> RelayError {
    RelayError::Delivery {
        position,
        account_id: event.account_id.clone(),
        sequence: event.sequence,
        message: error.to_string(),
    }
}

/// One round: publishes up to `batch` outbox events to `topic`, waits for Kafka's
/// acknowledgements and deletes them from the outbox. Returns how many were relayed (0 when the
/// outbox is empty).
///
/// # Errors
/// A database or delivery failure; nothing was deleted and the next round retries (events Kafka
/// already acknowledged are then published again: at least once).
pub async fn relay_once(
    store: &PostgresEventStore,
    producer: &FutureProducer,
    topic: &str,
    batch: u32,
) -> Result<usize, RelayError> {
    let Some(claimed) = Claimed::take(store, batch).await? else {
        return Ok(0);
    };
    claimed.publish(producer, topic).await?;
    claimed.complete().await
}

/// Relays until `shutdown` resolves: a round, then (if the outbox was empty or the round failed)
/// a wait for new events of at most `idle`. Errors are logged and retried.
pub async fn run(
    store: &PostgresEventStore,
    producer: &FutureProducer,
    topic: &str,
    batch: u32,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let pause = match relay_once(store, producer, topic, batch).await {
            Ok(0) => true,
            Ok(n) => {
                PUBLISHED.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!(events = n, "relayed");
                false
            }
            Err(error) => {
                FAILED_ROUNDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if matches!(error, RelayError::Delivery { .. } | RelayError::Config(_)) {
                    PRODUCER_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                tracing::warn!(%error, "relay round failed; retrying");
                true
            }
        };
        if pause {
            let latest = store.latest_position().await.unwrap_or(0);
            tokio::select! {
                () = &mut shutdown => return,
                _ = store.wait_for(latest, idle) => {}
            }
        }
    }
}
