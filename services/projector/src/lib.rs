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
use rdkafka::message::Message;
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

/// One round: takes up to `max` messages (waiting at most `idle` for each) and applies them with
/// their offsets in one transaction. Returns how many were applied.
///
/// # Errors
/// Kafka, the read model, or a malformed message.
pub async fn consume_once(
    consumer: &StreamConsumer,
    topic: &str,
    model: &PgReadModel,
    max: usize,
    idle: Duration,
) -> Result<usize, ProjectorError> {
    let mut batch: Vec<(i32, i64, EventEnvelope)> = Vec::new();
    while batch.len() < max {
        let Ok(received) = tokio::time::timeout(idle, consumer.recv()).await else {
            break;
        };
        let message = received?;
        let payload = message.payload().unwrap_or_default();
        let envelope: EventEnvelope = serde_json::from_slice(payload).map_err(|e| ProjectorError::Malformed {
            partition: message.partition(),
            offset: message.offset(),
            reason: e.to_string(),
        })?;
        batch.push((message.partition(), message.offset(), envelope));
    }
    if batch.is_empty() {
        return Ok(0);
    }
    model.apply_consumed(topic, &batch).await?;
    Ok(batch.len())
}
