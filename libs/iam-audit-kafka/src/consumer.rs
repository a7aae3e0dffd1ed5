//! The audit projector's loop: the audit topic into [`PgAuditStore`], exactly once.
//!
//! Offsets are never committed to Kafka: each batch's records and the next offset of every
//! partition it came from commit in one PostgreSQL transaction
//! ([`PgAuditStore::insert_consumed`]), and the consumer is assigned every partition from those
//! stored offsets. A projector killed at any point therefore resumes exactly after its last
//! commit; and should a message arrive twice anyway (two projectors, an offset reset), the
//! record's key (account, `eventID`) makes the second insert a no-op.

use std::future::Future;
use std::time::Duration;

use iam_audit::{AuditError, AuditRecord};
use iam_store_postgres::PgAuditStore;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

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
pub fn consumer(brokers: &str) -> Result<StreamConsumer, ConsumeError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "gatehouse-audit-projector")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        // A lone record is fetched as soon as it is written, not after the broker's wait.
        .set("fetch.wait.max.ms", "100")
        .create()?)
}

/// Assigns every partition of `topic`, each from the offset the store holds (or the beginning).
///
/// # Errors
/// Kafka or the store failing.
pub async fn assign_from_stored(
    consumer: &StreamConsumer,
    topic: &str,
    store: &PgAuditStore,
) -> Result<(), ConsumeError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let stored = store.kafka_offsets(topic).await?;
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
    /// After the first message, how long the batch may wait for more. Messages the client
    /// already holds are taken without waiting, up to `max`, so a backlog fills large batches
    /// while a lone record is committed within `linger` (audit lag is a figure we answer for).
    pub linger: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max: 5000,
            wait: Duration::from_millis(200),
            linger: Duration::from_millis(5),
        }
    }
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
    consumer: &StreamConsumer,
    topic: &str,
    store: &PgAuditStore,
    batching: Batching,
) -> Result<usize, ConsumeError> {
    let Ok(first) = tokio::time::timeout(batching.wait, consumer.recv()).await else {
        return Ok(0);
    };
    let first = match first {
        Ok(message) => message,
        // The client's own errors (all brokers down, a broken connection) carry no message:
        // nothing was consumed, so there is nothing to rewind; errors queued during an outage
        // are drained a little apart while the client reconnects by itself.
        Err(error) => {
            tracing::warn!(%error, "the Kafka client reports an error; waiting for it to recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Ok(0);
        }
    };
    let deadline = tokio::time::Instant::now() + batching.linger;
    let mut batch = vec![decode(&first)?];
    while batch.len() < batching.max {
        // `timeout_at` polls `recv` before it looks at the clock: a message the client already
        // holds is taken even after the deadline, so only waiting is bounded.
        let Ok(received) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
            break;
        };
        match received {
            Ok(message) => batch.push(decode(&message)?),
            // As above; the messages already taken are inserted, the rest come after recovery.
            Err(error) => {
                tracing::warn!(%error, "the Kafka client reports an error; inserting the batch so far");
                break;
            }
        }
    }
    store.insert_consumed(topic, &batch).await?;
    Ok(batch.len())
}

/// Consumes `topic` into `store` until `shutdown` resolves. A failed round is logged, and after
/// a backoff the consumer is reassigned from the stored offsets (what the failed batch had
/// received is received again).
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
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            result = consume_once(&consumer, topic, store, batching) => match result {
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "audit projection failed; retrying from the stored offsets");
                    // The failed batch is not in the store: consuming on before the consumer is
                    // rewound would store offsets past it and lose those records.
                    loop {
                        tokio::select! {
                            () = &mut shutdown => return Ok(()),
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        match assign_from_stored(&consumer, topic, store).await {
                            Ok(()) => break,
                            Err(error) => tracing::warn!(%error, "cannot rewind the audit topic yet; retrying"),
                        }
                    }
                }
            },
        }
    }
}
