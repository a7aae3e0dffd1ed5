//! The projector's Kafka source: consumes the events topic into the PostgreSQL read model,
//! storing each partition's next offset in the same transaction as the rows (`rm_kafka_offsets`),
//! so it resumes exactly after its last commit; redelivered messages are dropped by the read
//! model's per-account heads.

use iam_eventlog::EventEnvelope;
pub use iam_kafka_source::Batching;
use iam_kafka_source::SourceConsumer;
use iam_readmodel::{PgReadModel, ReadModelError};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};

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
pub fn consumer(brokers: &str) -> Result<SourceConsumer, ProjectorError> {
    Ok(iam_kafka_source::consumer(brokers, "gatehouse-projector", &[])?)
}

/// Assigns every partition of `topic`, each from the offset the read model stored (or the
/// beginning).
///
/// # Errors
/// Kafka or the read model failing.
pub async fn assign_from_stored(
    consumer: &SourceConsumer,
    topic: &str,
    model: &PgReadModel,
) -> Result<(), ProjectorError> {
    let stored = model.kafka_offsets(topic).await?;
    Ok(iam_kafka_source::assign(consumer, topic, &stored)?)
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
    consumer: &SourceConsumer,
    topic: &str,
    model: &PgReadModel,
    batching: Batching,
) -> Result<usize, ProjectorError> {
    let batch = iam_kafka_source::next_batch(consumer, batching, decode).await?;
    if !batch.is_empty() {
        model.apply_consumed(topic, &batch).await?;
    }
    Ok(batch.len())
}
