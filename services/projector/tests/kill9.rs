//! The distributed write path and a real `projector` process on PostgreSQL: the application writes
//! through the PostgreSQL event store while the projector follows it; the projector is killed
//! with SIGKILL twice mid-stream and restarted; in the end the read model equals the domain
//! state of every account (no gap, no duplicate), and a second projector on a fresh read model
//! (a replay from the log) equals it too.
//!
//! Needs `GATEHOUSE_DATABASE_URL`: `#[ignore]`d so the README's test command runs without a
//! server; `scripts/distributed-test.sh` starts one and runs it with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_app::Gatehouse;
use iam_eventlog::EventFeed;
use iam_readmodel::{expected_snapshot, PgReadModel};
use iam_secrets::Sealer;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use sqlx::Connection;
use support::{actor, write};

fn database_url() -> String {
    std::env::var("GATEHOUSE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("GATEHOUSE_DATABASE_URL is not set: run scripts/distributed-test.sh")
}

fn projector(url: &str, events: &str, read_model: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_projector"))
        .env("GATEHOUSE_DATABASE_URL", url)
        .env("GATEHOUSE_EVENTS_SCHEMA", events)
        .env("GATEHOUSE_READ_MODEL_SCHEMA", read_model)
        .env("RUST_LOG", "warn")
        // This test follows the log itself, not the Kafka topic.
        .env_remove("GATEHOUSE_KAFKA_BROKERS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_caught_up(model: &PgReadModel, store: &PostgresEventStore) {
    let latest = store.latest_position().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while model.checkpoint().await.unwrap() < latest {
        assert!(Instant::now() < deadline, "the projector did not catch up with the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
async fn a_projector_killed_mid_stream_resumes_without_gaps_or_duplicates() {
    let url = database_url();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (events, live, replay) = (format!("ev_{id}"), format!("rm_{id}"), format!("rr_{id}"));
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    for schema in [&events, &live, &replay] {
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let mut options = PostgresStoreOptions::default();
    options.schema = Some(events.clone());
    let store = PostgresEventStore::connect(&url, options).await.unwrap();
    let gatehouse = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[9; 32]))
        .await
        .unwrap();
    let mut accounts = Vec::new();
    for _ in 0..3 {
        accounts.push(gatehouse.create_account(&actor(), None).await.unwrap().0);
    }
    let model = PgReadModel::connect(&url, Some(&live)).await.unwrap();

    let mut running = projector(&url, &events, &live);
    let mut i = 0;
    for _kill in 0..2 {
        // Write while the projector follows, then kill it mid-stream.
        for _ in 0..30 {
            for account in &accounts {
                write(&gatehouse, account, i).await;
            }
            i += 1;
        }
        running.kill().unwrap();
        running.wait().unwrap();
        for account in &accounts {
            write(&gatehouse, account, i).await;
        }
        i += 1;
        running = projector(&url, &events, &live);
    }
    wait_caught_up(&model, &store).await;

    let replayed = PgReadModel::connect(&url, Some(&replay)).await.unwrap();
    let mut second = projector(&url, &events, &replay);
    wait_caught_up(&replayed, &store).await;
    for child in [&mut running, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }

    for account in &accounts {
        let state = gatehouse.account(account).unwrap().state().clone();
        let rows = model.snapshot(account).await.unwrap();
        assert!(rows["rm_users"].as_array().unwrap().len() >= 30);
        assert_eq!(
            rows,
            expected_snapshot(&state),
            "read model != domain state for {account}"
        );
        assert_eq!(
            rows,
            replayed.snapshot(account).await.unwrap(),
            "replay != live for {account}"
        );
    }
    model.close().await;
    replayed.close().await;
    store.close().await;
    for schema in [&events, &live, &replay] {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
