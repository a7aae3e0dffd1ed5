//! The audit projector's loop: the audit topic into [`PgAuditStore`], exactly once.
//!
//! Offsets are never committed to Kafka: each batch's records and the next offset of every
//! partition it came from commit in one PostgreSQL transaction
//! ([`PgAuditStore::insert_consumed`]), and the consumer is assigned every partition from those
//! stored offsets. A projector killed at any point therefore resumes exactly after its last
//! commit; and should a message arrive twice anyway (two projectors, an offset reset), the
//! record's key (account, `eventID`) makes the second insert a no-op.

use std::future::Future;

use iam_audit::{AuditError, AuditRecord};
pub use iam_kafka_source::Batching;
use iam_kafka_source::SourceConsumer;
use iam_store_postgres::PgAuditStore;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};

/// What can go wrong while consuming.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// Kafka refused or failed.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The audit store failed.
    #[error(transparent)]
    Store(#[from] AuditError),
    /// A message is not an audit record. The projector stops on it rather than skip a record
    /// it cannot read, so the operator sees it.
    #[error("message {partition}/{offset} is not an audit record: {reason}")]
    Malformed {
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// What serde said.
        reason: String,
    },
}

/// A consumer that never commits offsets to Kafka: the audit store holds them.
///
/// # Errors
/// A malformed configuration.
pub fn consumer(brokers: &str) -> Result<SourceConsumer, ConsumeError> {
    // A lone record is fetched as soon as it is written, not after the broker's wait.
    Ok(iam_kafka_source::consumer(
        brokers,
        "gatehouse-audit-projector",
        &[("fetch.wait.max.ms", "100")],
    )?)
}

/// Assigns every partition of `topic`, each from the offset the store holds (or the beginning).
///
/// # Errors
/// Kafka or the store failing.
pub async fn assign_from_stored(
    consumer: &SourceConsumer,
    topic: &str,
    store: &PgAuditStore,
) -> Result<(), ConsumeError> {
    let stored = store.kafka_offsets(topic).await?;
    Ok(iam_kafka_source::assign(consumer, topic, &stored)?)
}

fn decode(message: &BorrowedMessage<'_>) -> Result<(i32, i64, AuditRecord), ConsumeError> {
    let payload = message.payload().unwrap_or_default();
    let record: AuditRecord = serde_json::from_slice(payload).map_err(|e| ConsumeError::Malformed {
        partition: message.partition(),
        offset: message.offset(),
        reason: e.to_string(),
    })?;
    Ok((message.partition(), message.offset(), record))
}

/// One round: waits up to `batching.wait` for a message, takes what else arrives within
/// `batching.linger` (up to `batching.max`), and inserts the records with their offsets in one
/// transaction. Returns how many messages the batch held.
///
/// # Errors
/// Kafka, the store, or a malformed message; nothing of the batch is then committed, and the
/// caller reassigns from the stored offsets.
pub async fn consume_once(
    consumer: &SourceConsumer,
    topic: &str,
    store: &PgAuditStore,
    batching: Batching,
) -> Result<usize, ConsumeError> {
    let batch = iam_kafka_source::next_batch(consumer, batching, decode).await?;
    if !batch.is_empty() {
        store.insert_consumed(topic, &batch).await?;
    }
    Ok(batch.len())
}

/// Consumes `topic` into `store` until `shutdown` resolves. A failed round is logged, and the
/// consumer is rewound to the stored offsets (what the failed batch had received is received
/// again) before anything else is consumed.
///
/// # Errors
/// Only the first assignment's failure; later failures are retried.
pub async fn follow(
    brokers: &str,
    topic: &str,
    store: &PgAuditStore,
    batching: Batching,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConsumeError> {
    let consumer = consumer(brokers)?;
    assign_from_stored(&consumer, topic, store).await?;
    iam_kafka_source::follow(
        shutdown,
        async || consume_once(&consumer, topic, store, batching).await,
        async || assign_from_stored(&consumer, topic, store).await,
    )
    .await;
    Ok(())
}
