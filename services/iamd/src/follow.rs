//! How a replica on the shared PostgreSQL log keeps its accounts current with what other replicas
//! append: by following the log itself, or by consuming the Kafka events topic the relay fills.
//!
//! Either source only says "account A has reached sequence N"; the events themselves are always
//! read from the log of record (`Gatehouse::account_at_least`), so a replica never applies a
//! duplicate, never skips one, and needs no per-partition bookkeeping of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use iam_app::Gatehouse;
use iam_eventlog::EventFeed;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Follows the log from `position` (taken before the accounts were loaded, so nothing appended
/// while they loaded is missed; what was already loaded is skipped as a duplicate).
pub async fn follow_log(
    gatehouse: Arc<Gatehouse>,
    feed: Arc<dyn EventFeed>,
    mut position: u64,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let step = async {
            feed.wait_for(position, Duration::from_secs(1)).await?;
            let batch = feed.read_from(position, 500).await?;
            for (at, envelope) in &batch {
                catch_up(&gatehouse, &envelope.account_id, envelope.sequence).await;
                position = *at;
            }
            Ok::<(), iam_eventlog::StoreError>(())
        };
        tokio::select! {
            () = &mut stop => return,
            result = step => if let Err(error) = result {
                tracing::warn!(%error, "following the shared log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            },
        }
    }
}

async fn catch_up(gatehouse: &Gatehouse, stream_id: &str, sequence: u64) {
    // An account's stream or an organization's (`o-...`).
    if let Err(error) = gatehouse.stream_at_least(stream_id, sequence).await {
        tracing::warn!(stream = %stream_id, %error, "cannot catch up a stream");
    }
}

/// A consumer of every partition of `topic` from its current end. Made before the accounts are
/// loaded: an event the relay publishes after this point is delivered, and one published before
/// it was committed before the load began, so the load has it.
///
/// # Errors
/// Kafka's client refusing the configuration, or the topic's metadata not arriving in 10 s.
pub fn topic_consumer(brokers: &str, topic: &str) -> anyhow::Result<StreamConsumer> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // Offsets are never committed: each replica reads every partition for itself.
        .set("group.id", "gatehouse-replica")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment.add_partition_offset(topic, partition.id(), Offset::End)?;
    }
    if assignment.count() == 0 {
        anyhow::bail!("the topic {topic} has no partitions (is it created? see infra/kafka/topics.sh)");
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// What a replica needs from an event on the topic (the relay's value is the whole envelope).
#[derive(serde::Deserialize)]
struct Announced {
    account_id: String,
    sequence: u64,
}

/// Consumes the events topic: each event another replica appended brings its account up to that
/// sequence from the log. A replica's own writes are already applied, so they cost nothing.
pub async fn follow_topic(gatehouse: Arc<Gatehouse>, consumer: StreamConsumer, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            received = consumer.recv() => match received {
                Ok(message) => match serde_json::from_slice::<Announced>(message.payload().unwrap_or_default()) {
                    Ok(event) => catch_up(&gatehouse, &event.account_id, event.sequence).await,
                    Err(error) => tracing::warn!(
                        partition = message.partition(),
                        offset = message.offset(),
                        %error,
                        "an unreadable message on the events topic; skipped (the log of record is unaffected)"
                    ),
                },
                Err(error) => {
                    tracing::warn!(%error, "consuming the events topic failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
        }
    }
}
