//! Kafka as a source for the projectors (the read-model projector and the audit projector).
//!
//! Both keep their Kafka offsets in their own PostgreSQL tables, written in the same transaction
//! as the rows a batch produces, so a projector killed at any point resumes exactly after its
//! last commit. What they share lives here: a consumer that never commits offsets to Kafka,
//! assignment of every partition from the stored offsets, batches that close on what the client
//! already holds, and the loop that rewinds to the stored offsets after a failed batch.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};

/// Messages taken by this process's consumer (each projector process runs one).
static CONSUMED: AtomicU64 = AtomicU64::new(0);
/// Messages on the assigned partitions past the consumer's position, as of the client's last
/// statistics; negative until known.
static LAG: AtomicI64 = AtomicI64::new(-1);

/// Messages this process's consumer has taken, for its metrics.
#[must_use]
pub fn consumed_messages() -> u64 {
    CONSUMED.load(Ordering::Relaxed)
}

/// How far this process's consumer is behind the end of its partitions (messages), as of the
/// client's last statistics (at most five seconds old): the projector's lag.
#[must_use]
pub fn lag() -> Option<i64> {
    Some(LAG.load(Ordering::Relaxed)).filter(|lag| *lag >= 0)
}

/// A projector's metrics: its lag and what it consumed, named `gatehouse_<prefix>_lag_messages`
/// and `gatehouse_<prefix>_consumed_messages` (`lag_name`, `consumed_name`).
#[must_use]
pub fn readings(lag_name: &'static str, consumed_name: &'static str) -> Vec<iam_telemetry::Reading> {
    vec![
        iam_telemetry::Reading {
            name: lag_name,
            help: "Messages on the topic's partitions past this consumer's position (from the client's statistics, at most 5 s old)",
            read: lag,
        },
        iam_telemetry::Reading {
            name: consumed_name,
            help: "Messages this process has consumed since it started",
            read: || i64::try_from(consumed_messages()).ok(),
        },
    ]
}

/// The consumer's client context: it reads the lag from librdkafka's statistics (every five
/// seconds), which hold each partition's high watermark and the consumer's position, so
/// measuring costs no request to a broker.
pub struct SourceContext;

impl rdkafka::ClientContext for SourceContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let behind: i64 = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.iter())
            .filter(|(partition, stats)| **partition >= 0 && stats.consumer_lag >= 0)
            .map(|(_, stats)| stats.consumer_lag)
            .sum();
        LAG.store(behind, Ordering::Relaxed);
    }
}

impl rdkafka::consumer::ConsumerContext for SourceContext {}

/// The projectors' consumer.
pub type SourceConsumer = StreamConsumer<SourceContext>;

/// How a batch is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// At most this many messages per batch (one transaction).
    pub max: usize,
    /// How long to wait for the first message before returning an empty batch.
    pub wait: Duration,
    /// After the first message, how long the batch may wait for more. Messages already received
    /// by the client are taken without waiting, up to `max`, so a backlog still fills large
    /// batches while a lone message is committed within `linger`.
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

/// A consumer in `group_id` that never commits offsets to Kafka (the sink stores them), with any
/// `extra` settings.
///
/// # Errors
/// A malformed configuration.
pub fn consumer(brokers: &str, group_id: &str, extra: &[(&str, &str)]) -> KafkaResult<SourceConsumer> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("statistics.interval.ms", "5000")
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create_with_context(SourceContext)
}

/// Assigns every partition of `topic`, each from its stored next offset (`(partition, next)`)
/// or, when none is stored, from the beginning.
///
/// # Errors
/// The topic's metadata not arriving in 10 s, or Kafka refusing the assignment.
pub fn assign(consumer: &SourceConsumer, topic: &str, stored: &[(i32, i64)]) -> KafkaResult<()> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let offset = stored
            .iter()
            .find(|(p, _)| *p == partition.id())
            .map_or(Offset::Beginning, |(_, next)| Offset::Offset(*next));
        assignment.add_partition_offset(topic, partition.id(), offset)?;
    }
    consumer.assign(&assignment)
}

/// The next batch: waits up to `batching.wait` for a message, then takes what else is available
/// within `batching.linger` of it (up to `batching.max`), each decoded by `decode`. Empty when
/// nothing arrived.
///
/// The client's own errors (all brokers down, a broken connection) come through the same stream
/// but carry no message: nothing was consumed, so there is nothing to rewind. The client
/// reconnects by itself; errors it queued during an outage are drained a little apart rather
/// than each costing a rewind and a backoff, and a batch already begun is returned as it is.
///
/// # Errors
/// The first message `decode` refuses.
pub async fn next_batch<T, E>(
    consumer: &SourceConsumer,
    batching: Batching,
    decode: impl Fn(&BorrowedMessage<'_>) -> Result<T, E>,
) -> Result<Vec<T>, E> {
    let Ok(first) = tokio::time::timeout(batching.wait, consumer.recv()).await else {
        return Ok(Vec::new());
    };
    let first = match first {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(%error, "the Kafka client reports an error; waiting for it to recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Ok(Vec::new());
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
            Err(error) => {
                tracing::warn!(%error, "the Kafka client reports an error; taking the batch so far");
                break;
            }
        }
    }
    CONSUMED.fetch_add(batch.len() as u64, Ordering::Relaxed);
    Ok(batch)
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs `attempt` until it succeeds, waiting `backoff` (doubled each time, at most 5 s) before
/// each try. `false` if `shutdown` came first.
pub async fn retry<E: Display>(
    shutdown: &mut (impl Future<Output = ()> + Unpin),
    backoff: &mut Duration,
    what: &str,
    mut attempt: impl AsyncFnMut() -> Result<(), E>,
) -> bool {
    loop {
        match attempt().await {
            Ok(()) => return true,
            Err(error) => tracing::warn!(%error, "{what}; retrying"),
        }
        tokio::select! {
            () = &mut *shutdown => return false,
            () = tokio::time::sleep(*backoff) => {}
        }
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs batches (`step`) until `shutdown`. After a failed batch the consumer is rewound to the
/// stored offsets (`rewind`), retried until Kafka and the database answer again: the failed
/// batch is not in the sink, so consuming on before the rewind would store offsets past it.
pub async fn follow<E: Display, R: Display>(
    shutdown: impl Future<Output = ()>,
    mut step: impl AsyncFnMut() -> Result<usize, E>,
    mut rewind: impl AsyncFnMut() -> Result<(), R>,
) {
    tokio::pin!(shutdown);
    let mut backoff = FIRST_BACKOFF;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            result = step() => match result {
                Ok(_) => backoff = FIRST_BACKOFF,
                Err(error) => {
                    tracing::warn!(%error, "a batch failed; rewinding to the stored offsets");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if !retry(&mut shutdown, &mut backoff, "cannot rewind to the stored offsets yet", &mut rewind).await {
                        return;
                    }
                }
            },
        }
    }
}
