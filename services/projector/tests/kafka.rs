//! The whole distributed pipeline on real PostgreSQL and Kafka: the application writes through the
//! PostgreSQL event store, the relay publishes the outbox to a Kafka topic, and the projector
//! consumes it into the PostgreSQL read model, storing offsets with the rows; a projector that
//! stops mid-stream resumes from its stored offsets; the read model equals the domain state.
//!
//! Needs `GATEHOUSE_DATABASE_URL` and `GATEHOUSE_KAFKA_BROKERS`: `#[ignore]`d so the README's test
//! command runs without servers; `scripts/distributed-test.sh` starts both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_app::Gatehouse;
use iam_eventlog::EventFeed;
use iam_readmodel::{expected_snapshot, PgReadModel};
use iam_secrets::Sealer;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use sqlx::Connection;
use support::{actor, write};

fn batching(max: usize, wait: Duration) -> projector::Batching {
    projector::Batching {
        max,
        wait,
        ..projector::Batching::default()
    }
}

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: run scripts/distributed-test.sh"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and Kafka: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
async fn events_flow_from_the_log_through_kafka_into_the_read_model() {
    let (url, brokers) = (env("GATEHOUSE_DATABASE_URL"), env("GATEHOUSE_KAFKA_BROKERS"));
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (events, live, topic) = (
        format!("kev_{id}"),
        format!("krm_{id}"),
        format!("gatehouse.events.test-{id}"),
    );
    let mut admin_db = sqlx::PgConnection::connect(&url).await.unwrap();
    for schema in [&events, &live] {
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin_db)
            .await
            .unwrap();
    }
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    for created in admin
        .create_topics(
            &[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .unwrap()
    {
        created.unwrap();
    }

    let mut options = PostgresStoreOptions::default();
    options.schema = Some(events.clone());
    let store = PostgresEventStore::connect(&url, options).await.unwrap();
    let gatehouse = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[5; 32]))
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for _ in 0..3 {
        accounts.push(gatehouse.create_account(&actor(), None).await.unwrap().0);
    }
    for i in 0..20 {
        for account in &accounts {
            write(&gatehouse, account, i).await;
        }
    }
    let producer = relay::producer(&brokers).unwrap();
    while relay::relay_once(&store, &producer, &topic, 100).await.unwrap() > 0 {}
    let total = usize::try_from(store.latest_position().await.unwrap()).unwrap();
    assert!(total > 200, "{total} events");

    let model = PgReadModel::connect(&url, Some(&live)).await.unwrap();
    // A first projector takes part of the stream and stops (its offsets are committed with its
    // rows); a second resumes from the stored offsets.
    let first = projector::consumer(&brokers).unwrap();
    projector::assign_from_stored(&first, &topic, &model).await.unwrap();
    let mut consumed = 0;
    while consumed < total / 3 {
        consumed += projector::consume_once(&first, &topic, &model, batching(50, Duration::from_secs(5)))
            .await
            .unwrap();
    }
    drop(first);
    let second = projector::consumer(&brokers).unwrap();
    projector::assign_from_stored(&second, &topic, &model).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while consumed < total {
        assert!(Instant::now() < deadline, "only {consumed} of {total} events arrived");
        consumed += projector::consume_once(&second, &topic, &model, batching(200, Duration::from_millis(500)))
            .await
            .unwrap();
    }
    assert_eq!(consumed, total, "every event exactly once across both projectors");

    for account in &accounts {
        let state = gatehouse.account(account).unwrap().state().clone();
        assert_eq!(
            model.snapshot(account).await.unwrap(),
            expected_snapshot(&state),
            "read model != domain state for {account}"
        );
    }
    model.close().await;
    store.close().await;
    let _ = admin.delete_topics(&[&topic], &AdminOptions::new()).await;
    for schema in [&events, &live] {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin_db)
            .await
            .unwrap();
    }
}
