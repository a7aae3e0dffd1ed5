//! The relay against a real PostgreSQL and a real Kafka: events appended through
//! `iam_store_postgres` (in a schema of the test's own) arrive on a topic of the test's own (made
//! with the admin API and deleted afterwards), every one of them, in sequence order per account,
//! and the outbox ends empty; after a "crash" between publishing and deleting, the next run
//! publishes again and a consumer deduping by `(account, sequence)` sees exactly the log.
//!
//! `#[ignore]`d: run by scripts/distributed-test.sh, which starts both servers. Under
//! `--ignored` a test fails (it does not skip) when GATEHOUSE_DATABASE_URL or
//! GATEHOUSE_KAFKA_BROKERS is unset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_eventlog::{EventEnvelope, EventStore, NewEvent};
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions, DATABASE_URL_ENV};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use relay::{relay_once, Claimed, EVENT_TYPE_HEADER, KAFKA_BROKERS_ENV, SCHEMA_VERSION_HEADER};
use sqlx::{Connection, PgConnection};

const ACCOUNTS: [&str; 5] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
];
const PARTITIONS: i32 = 4;

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: this test needs PostgreSQL and Kafka. Run scripts/distributed-test.sh"),
    }
}

/// A schema and a topic of the test's own, dropped / deleted at the end.
struct Fixture {
    url: String,
    brokers: String,
    schema: String,
    topic: String,
    store: PostgresEventStore,
}

impl Fixture {
    async fn new() -> Self {
        let url = env(DATABASE_URL_ENV);
        let brokers = env(KAFKA_BROKERS_ENV);
        let id = uuid::Uuid::now_v7().simple().to_string();
        let schema = format!("gh_rl_{id}");
        let topic = format!("gatehouse.events.test-{id}");

        let mut conn = PgConnection::connect(&url).await.expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.expect("close");
        let mut options = PostgresStoreOptions::default();
        options.schema = Some(schema.clone());
        let store = PostgresEventStore::connect(&url, options)
            .await
            .expect("connect the store");

        let admin = admin(&brokers);
        let created = admin
            .create_topics(
                &[NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            )
            .await
            .expect("create topic");
        for result in created {
            result.unwrap_or_else(|(name, code)| panic!("creating topic {name}: {code}"));
        }
        Self {
            url,
            brokers,
            schema,
            topic,
            store,
        }
    }

    /// Appends `per_account` events to each account, interleaving accounts, one or two per append.
    async fn append(&self, per_account: u64) -> BTreeMap<String, Vec<EventEnvelope>> {
        let mut log: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
        for round in 0u64.. {
            let mut appended = false;
            for (i, account) in ACCOUNTS.iter().enumerate() {
                let head = log.get(*account).map_or(0, |s| s.len() as u64);
                let count = (1 + (round + i as u64) % 2).min(per_account - head);
                if count == 0 {
                    continue;
                }
                appended = true;
                let events: Vec<NewEvent> = (0..count)
                    .map(|k| NewEvent {
                        event_id: uuid::Uuid::now_v7(),
                        recorded_at: Utc::now(),
                        actor: format!("arn:aws:iam::{account}:root"),
                        request_id: format!("req-{round}-{k}"),
                        event_type: "iam.user.created".into(),
                        schema_version: 1,
                        payload: serde_json::json!({ "user_name": format!("u{}", head + k + 1) }),
                    })
                    .collect();
                self.store
                    .append(account, head, events, Vec::new())
                    .await
                    .expect("append");
                let stream = self
                    .store
                    .read_stream(account, head + 1, 100)
                    .await
                    .expect("read stream");
                assert_eq!(stream.len() as u64, count);
                log.entry((*account).to_owned()).or_default().extend(stream);
            }
            if !appended {
                break;
            }
        }
        log
    }

    async fn outbox_len(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(self.store.pool())
            .await
            .expect("count the outbox")
    }

    /// Reads the topic from the beginning until `expected` messages arrived (or 60 s passed).
    fn consume(&self, expected: usize) -> Vec<EventEnvelope> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set(
                "group.id",
                format!("{}-reader-{}", self.topic, uuid::Uuid::now_v7().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .expect("consumer");
        consumer.subscribe(&[&self.topic]).expect("subscribe");
        let mut received = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while received.len() < expected && Instant::now() < deadline {
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message.expect("consume");
            let event: EventEnvelope =
                serde_json::from_slice(message.payload().expect("a value")).expect("envelope JSON");
            assert_eq!(
                message.key(),
                Some(event.account_id.as_bytes()),
                "the key is the account id"
            );
            let headers = message.headers().expect("headers");
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|h| h.key == name)
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            assert_eq!(header(EVENT_TYPE_HEADER).as_deref(), Some(event.event_type.as_str()));
            assert_eq!(header(SCHEMA_VERSION_HEADER), Some(event.schema_version.to_string()));
            received.push(event);
        }
        received
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let (url, schema, brokers, topic) = (
            self.url.clone(),
            self.schema.clone(),
            self.brokers.clone(),
            self.topic.clone(),
        );
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let admin = admin(&brokers);
                let _ = admin.delete_topics(&[&topic], &AdminOptions::new()).await;
                let mut conn = PgConnection::connect(&url).await.map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(cleaned, Ok(Ok(()))) {
            eprintln!(
                "warning: could not clean up schema {} / topic {}: {cleaned:?}",
                self.schema, self.topic
            );
        }
    }
}

fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client")
}

/// What a consumer that dedupes by `(account, sequence)` applies: per account, the next sequence
/// only; older ones are duplicates and dropped; a gap fails the test.
fn dedupe(received: &[EventEnvelope]) -> BTreeMap<String, Vec<EventEnvelope>> {
    let mut applied: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
    for event in received {
        let stream = applied.entry(event.account_id.clone()).or_default();
        let next = stream.len() as u64 + 1;
        assert!(
            event.sequence <= next,
            "account {} jumped from sequence {} to {}: per-account order broken",
            event.account_id,
            next - 1,
            event.sequence
        );
        if event.sequence == next {
            stream.push(event.clone());
        } else {
            assert_eq!(
                &stream[(event.sequence - 1) as usize],
                event,
                "a duplicate differs from the original"
            );
        }
    }
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
async fn every_event_arrives_in_account_order_and_the_outbox_empties() {
    let fixture = Fixture::new().await;
    let log = fixture.append(12).await;
    let total: usize = log.values().map(Vec::len).sum();
    assert_eq!(fixture.outbox_len().await, total as i64);

    let producer = relay::producer(&fixture.brokers).expect("producer");
    let mut relayed = 0;
    loop {
        // Small batches: several rounds, each waiting for its delivery reports.
        let n = relay_once(&fixture.store, &producer, &fixture.topic, 7)
            .await
            .expect("relay round");
        if n == 0 {
            break;
        }
        relayed += n;
    }
    assert_eq!(relayed, total);
    assert_eq!(fixture.outbox_len().await, 0, "the outbox is empty");

    let received = tokio::task::block_in_place(|| fixture.consume(total));
    assert_eq!(
        received.len(),
        total,
        "every event arrives exactly once without a crash"
    );
    // Per account, the sequences arrive as 1, 2, 3, ... (the key keeps an account on one partition).
    let mut per_account: HashMap<&str, Vec<u64>> = HashMap::new();
    for event in &received {
        per_account
            .entry(event.account_id.as_str())
            .or_default()
            .push(event.sequence);
    }
    for (account, sequences) in &per_account {
        let want: Vec<u64> = (1..=log[*account].len() as u64).collect();
        assert_eq!(sequences, &want, "account {account}");
    }
    assert_eq!(dedupe(&received), log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
async fn after_a_crash_before_deleting_the_next_run_publishes_again_and_dedupe_yields_the_log() {
    let fixture = Fixture::new().await;
    let log = fixture.append(10).await;
    let total: usize = log.values().map(Vec::len).sum();

    // A first relay publishes one full round and has it acknowledged ...
    {
        let producer = relay::producer(&fixture.brokers).expect("producer");
        let claimed = Claimed::take(&fixture.store, 20)
            .await
            .expect("claim")
            .expect("a batch");
        assert_eq!(claimed.events().len(), 20);
        claimed.publish(&producer, &fixture.topic).await.expect("publish");
        // ... and "crashes" before deleting: the claim (its open transaction) and the producer
        // are dropped, as a killed process drops its connection.
    }
    assert_eq!(fixture.outbox_len().await, total as i64, "nothing was deleted");

    // A new relay resumes from the outbox.
    let producer = relay::producer(&fixture.brokers).expect("producer");
    let mut relayed = 0;
    loop {
        let n = relay_once(&fixture.store, &producer, &fixture.topic, 16)
            .await
            .expect("relay round");
        if n == 0 {
            break;
        }
        relayed += n;
    }
    assert_eq!(relayed, total);
    assert_eq!(fixture.outbox_len().await, 0, "the outbox is empty");

    let received = tokio::task::block_in_place(|| fixture.consume(total + 20));
    assert_eq!(received.len(), total + 20, "the first 20 events arrive twice");
    assert_eq!(
        dedupe(&received),
        log,
        "deduped by (account, sequence), the topic holds exactly the log"
    );
}
