//! The projector's Kafka source: consumes the events topic into the PostgreSQL read model,
//! storing each partition's next offset in the same transaction as the rows (`rm_kafka_offsets`),
//! so it resumes exactly after its last commit; redelivered messages are dropped by the read
//! model's per-account heads.

use std::time::Duration;

use iam_eventlog::EventEnvelope;
use iam_readmodel::{PgReadModel, ReadModelError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

/// What can go wrong while consuming.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// Kafka refused or failed.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The read model failed.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// A message is not an event envelope (it is recorded and skipped by no one: the projector
    /// stops, so the operator sees it).
    #[error("message {partition}/{offset} is not an event envelope: {reason}")]
    Malformed {
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// What serde said.
        reason: String,
    },
}

/// A consumer that never commits offsets to Kafka: the read model holds them.
///
/// # Errors
/// A malformed configuration.
pub fn consumer(brokers: &str) -> Result<StreamConsumer, ProjectorError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "gatehouse-projector")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .create()?)
}

/// Assigns every partition of `topic`, each from the offset the read model stored (or the
/// beginning).
///
/// # Errors
/// Kafka or the read model failing.
pub async fn assign_from_stored(
    consumer: &StreamConsumer,
    topic: &str,
    model: &PgReadModel,
) -> Result<(), ProjectorError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let stored = model.kafka_offsets(topic).await?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let offset = stored
            .iter()
            .find(|(p, _)| *p == partition.id())
            .map_or(Offset::Beginning, |(_, next)| Offset::Offset(*next));
        assignment.add_partition_offset(topic, partition.id(), offset)?;
    }
    consumer.assign(&assignment)?;
    Ok(())
}

/// How [`consume_once`] forms a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// At most this many messages per batch (one transaction).
    pub max: usize,
    /// How long to wait for the first message before returning an empty round.
    pub wait: Duration,
    /// After the first message, how long the batch may wait for more. Messages already received
    /// by the client are taken without waiting, up to `max`, so a backlog still fills large
    /// batches while a lone event is committed within `linger`.
    pub linger: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max: 5000,
            wait: Duration::from_millis(200),
            linger: Duration::from_millis(2),
        }
    }
}

fn decode(message: &BorrowedMessage<'_>) -> Result<(i32, i64, EventEnvelope), ProjectorError> {
    let payload = message.payload().unwrap_or_default();
    let envelope: EventEnvelope = serde_json::from_slice(payload).map_err(|e| ProjectorError::Malformed {
        partition: message.partition(),
        offset: message.offset(),
        reason: e.to_string(),
    })?;
    Ok((message.partition(), message.offset(), envelope))
}

/// One round: waits up to `batching.wait` for a message, then takes what else is available
/// within `batching.linger` of it (up to `batching.max`), and applies them with their offsets in
/// one transaction. Returns how many were applied.
///
/// # Errors
/// Kafka, the read model, or a malformed message.
pub async fn consume_once(
    consumer: &StreamConsumer,
    topic: &str,
    model: &PgReadModel,
    batching: Batching,
) -> Result<usize, ProjectorError> {
    let Ok(first) = tokio::time::timeout(batching.wait, consumer.recv()).await else {
        return Ok(0);
    };
    let first = match first {
        Ok(message) => message,
        // The client's own errors (all brokers down, a broken connection) come through the same
        // stream but carry no message: nothing was consumed, so there is nothing to rewind. The
        // client reconnects by itself; errors it queued during an outage are drained here, a
        // little apart, rather than each costing a rewind and a backoff.
        Err(error) => {
            tracing::warn!(%error, "the Kafka client reports an error; waiting for it to recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Ok(0);
        }
    };
    let deadline = tokio::time::Instant::now() + batching.linger;
    let mut batch: Vec<(i32, i64, EventEnvelope)> = vec![decode(&first)?];
    while batch.len() < batching.max {
        // `timeout_at` polls `recv` before it looks at the clock: a message the client already
        // holds is taken even after the deadline, so only waiting is bounded.
        let Ok(received) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
            break;
        };
        match received {
            Ok(message) => batch.push(decode(&message)?),
            // As above: the messages already taken are applied; the rest come after recovery.
            Err(error) => {
                tracing::warn!(%error, "the Kafka client reports an error; applying the batch so far");
                break;
            }
        }
    }
    model.apply_consumed(topic, &batch).await?;
    Ok(batch.len())
}
