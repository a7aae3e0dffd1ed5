//! Two `iamd` replicas on one PostgreSQL log that hear of each other's appends from the Kafka
//! events topic (`--follow kafka`), as the relay fills it.
//!
//! While no relay runs, replica B does not learn of A's change by itself (proof that it is not
//! following the log), yet a caller passing A's consistency token is answered from the log; once
//! the relay runs, B catches up from the topic alone.
//!
//! Needs PostgreSQL, Kafka and the `relay` binary next to this test's target directory:
//! `#[ignore]`d; `scripts/distributed-test.sh` builds the relay and runs it with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use serde_json::json;
use sqlx::Connection;
use support::{gql, post_path, signed_headers_for, Server};

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: run scripts/distributed-test.sh"))
}

fn relay_binary() -> PathBuf {
    if let Ok(path) = std::env::var("GATEHOUSE_RELAY_BIN") {
        return PathBuf::from(path);
    }
    // This test runs as <target>/<profile>/deps/follow_kafka-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("relay");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p relay` first",
        path.display()
    );
    path
}

/// Kills the relay when the test ends, however it ends.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn create_topics(brokers: &str, names: &[&str]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, 4, TopicReplication::Fixed(1)))
        .collect();
    for result in admin.create_topics(&topics, &AdminOptions::new()).await.unwrap() {
        result.unwrap();
    }
}

fn user_exists(address: &str, root: &iam_sigv4::Credentials, name: &str, token: Option<u64>) -> bool {
    let body = json!({
        "query": "query($n: String!) { user(userName: $n) { userName } }",
        "variables": {"n": name},
    })
    .to_string();
    let mut headers = signed_headers_for(address, "/graphql", root, &body, chrono::Utc::now());
    if let Some(token) = token {
        headers.push(("x-gatehouse-min-sequence".into(), token.to_string()));
    }
    let reply = post_path(address, "/graphql", &headers, &body);
    match reply.error_code() {
        None => true,
        Some(code) if code == "NoSuchEntity" => false,
        Some(other) => panic!("unexpected {other}: {}", reply.body),
    }
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and the relay binary: run by scripts/distributed-test.sh"]
fn a_replica_following_the_events_topic_learns_of_other_replicas_appends() {
    let url = env("GATEHOUSE_DATABASE_URL");
    let brokers = env("GATEHOUSE_KAFKA_BROKERS");
    let id = uuid::Uuid::now_v7().simple().to_string();
    let schema = format!("follow_{id}");
    let events_topic = format!("gatehouse.events.follow.{id}");
    let audit_topic = format!("gatehouse.audit.follow.{id}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        create_topics(&brokers, &[&events_topic, &audit_topic]).await;
    });

    let shared = [
        "--database-url",
        url.as_str(),
        "--events-schema",
        schema.as_str(),
        "--kafka-brokers",
        brokers.as_str(),
        "--audit-topic",
        audit_topic.as_str(),
        "--follow",
        "kafka",
        "--events-topic",
        events_topic.as_str(),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start_with(dir_a.path(), &shared);
    let key = dir_a.path().join("master.key");
    let mut with_key = shared.to_vec();
    with_key.extend(["--master-key-file", key.to_str().unwrap()]);
    let b = Server::start_with(dir_b.path(), &with_key);
    let root = a.root_credentials();
    let create = "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }";

    // No relay yet: nothing reaches the topic, so B does not hear of A's change...
    let made = gql(&a.address, &root, create, json!({"n": "before-relay"}));
    assert!(made.error_code().is_none(), "{:?}", made.body);
    let token = made.data()["createUser"]["sequence"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !user_exists(&b.address, &root, "before-relay", None),
        "B learned of A's change without the topic: it is not following Kafka"
    );
    // ...but a caller holding A's token is answered from the log of record.
    assert!(user_exists(&b.address, &root, "before-relay", Some(token)));

    // With the relay running, B hears of A's next change from the topic alone.
    let _relay = Relay(
        Command::new(relay_binary())
            .env("GATEHOUSE_DATABASE_URL", &url)
            .env("GATEHOUSE_KAFKA_BROKERS", &brokers)
            .env("GATEHOUSE_RELAY_TOPIC", &events_topic)
            .env("GATEHOUSE_RELAY_SCHEMA", &schema)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let made = gql(&a.address, &root, create, json!({"n": "after-relay"}));
    assert!(made.error_code().is_none(), "{:?}", made.body);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !user_exists(&b.address, &root, "after-relay", None) {
        assert!(
            Instant::now() < deadline,
            "B never heard of A's change through the topic"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the other way round.
    let made = gql(&b.address, &root, create, json!({"n": "from-b"}));
    assert!(made.error_code().is_none(), "{:?}", made.body);
    while !user_exists(&a.address, &root, "from-b", None) {
        assert!(
            Instant::now() < deadline,
            "A never heard of B's change through the topic"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    drop((a, b));
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await;
    });
}
