//! The audit pipeline without iamd: records appended through `KafkaAuditLog` to a topic of this
//! test's own, a real `audit-projector` process killed with SIGKILL mid-stream and restarted,
//! then the whole topic redelivered (stored offsets reset): every record is in the store exactly
//! once, rows never change, and each account sees only its own records.
//!
//! Needs `GATEHOUSE_DATABASE_URL` and `GATEHOUSE_KAFKA_BROKERS` (scripts/distributed-test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_audit::{AuditFilter, AuditLog, AuditRecord, UserIdentity};
use iam_audit_kafka::{create_topic, KafkaAuditLog, KafkaAuditOptions};
use iam_store_postgres::PgAuditStore;
use serde_json::json;
use sqlx::{Connection, PgConnection, Row};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/distributed-test.sh"))
}

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];

fn record(account: &str, i: usize) -> AuditRecord {
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: UserIdentity {
            identity_type: "IAMUser".into(),
            principal_id: "AIDAEXAMPLE".into(),
            arn: format!("arn:aws:iam::{account}:user/u{}", i % 3),
            account_id: account.into(),
            access_key_id: None,
            user_name: None,
            session_context: None,
            identity_provider: None,
        },
        event_time: Utc::now(),
        event_source: "authz.gatehouse.dev".into(),
        event_name: "Authorize".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        request_parameters: json!({"n": i}),
        response_elements: json!({"decision": "Allow"}),
        error_code: None,
        error_message: None,
        request_id: format!("r{i}"),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: true,
        event_type: "GatehouseAuthorization".into(),
        api_version: None,
        recipient_account_id: account.into(),
        additional_event_data: Some(json!({"decision": "Allow", "action": "s3:GetObject",
            "resource": "arn:aws:s3:::b/k"})),
    }
}

/// A schema and a topic of this test's own.
struct Fixture {
    url: String,
    brokers: String,
    schema: String,
    topic: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let url = env("GATEHOUSE_DATABASE_URL");
        let brokers = env("GATEHOUSE_KAFKA_BROKERS");
        let id = uuid::Uuid::now_v7().simple().to_string();
        let schema = format!("gh_test_{id}");
        let topic = format!("gatehouse.audit.test.{id}");
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        create_topic(&brokers, &topic, 8).await.unwrap();
        Fixture {
            url,
            brokers,
            schema,
            topic,
        }
    }

    fn projector(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_audit-projector"))
            .env("GATEHOUSE_DATABASE_URL", &self.url)
            .env("GATEHOUSE_KAFKA_BROKERS", &self.brokers)
            .env("GATEHOUSE_AUDIT_SCHEMA", &self.schema)
            .env("GATEHOUSE_AUDIT_TOPIC", &self.topic)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    async fn store(&self) -> PgAuditStore {
        PgAuditStore::connect(&self.url, Some(&self.schema)).await.unwrap()
    }

    /// `(event_id, position)` of every row, by position.
    async fn rows(&self, store: &PgAuditStore) -> Vec<(String, i64)> {
        sqlx::query("SELECT event_id, position FROM audit_events ORDER BY position")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    async fn wait_for_rows(&self, store: &PgAuditStore, n: usize) -> Vec<(String, i64)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.rows(store).await;
            if rows.len() >= n || Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the stored offsets cover the whole topic (`total` messages).
    async fn wait_for_offsets(&self, store: &PgAuditStore, total: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stored: i64 = store
                .kafka_offsets(&self.topic)
                .await
                .unwrap()
                .iter()
                .map(|(_, o)| o)
                .sum();
            if stored >= total {
                return;
            }
            assert!(Instant::now() < deadline, "offsets stuck at {stored} of {total}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&url).await.unwrap();
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}

fn kill9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
async fn killed_projector_resumes_and_redelivery_changes_nothing() {
    let fixture = Fixture::new().await;
    let store = fixture.store().await;
    let options = KafkaAuditOptions {
        topic: fixture.topic.clone(),
        ..KafkaAuditOptions::default()
    };
    let log = KafkaAuditLog::connect(&fixture.brokers, options, store.clone())
        .await
        .unwrap();

    let mut projector = fixture.projector();
    let mut written = Vec::new();
    for round in 0..6 {
        // Concurrent appends of 25 records each, as concurrent requests make them.
        let batches: Vec<Vec<AuditRecord>> = (0..4)
            .map(|b| {
                (0..25)
                    .map(|i| record(ACCOUNTS[(b + i) % 2], round * 100 + b * 25 + i))
                    .collect()
            })
            .collect();
        written.extend(batches.iter().flatten().map(|r| r.event_id.clone()));
        let appends = batches.into_iter().map(|batch| log.append(batch));
        for result in futures::future::join_all(appends).await {
            result.unwrap();
        }
        if round == 2 || round == 4 {
            // Mid-stream: whatever it had received but not committed is received again.
            tokio::time::sleep(Duration::from_millis(30)).await;
            kill9(projector);
            projector = fixture.projector();
        }
    }
    let total = i64::try_from(written.len()).unwrap();
    fixture.wait_for_offsets(&store, total).await;
    let rows = fixture.wait_for_rows(&store, written.len()).await;
    assert_eq!(rows.len(), written.len(), "every record exactly once");
    let ids: HashSet<&String> = rows.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, written.iter().collect::<HashSet<_>>());

    // Redelivery: the whole topic again, from offset 0.
    kill9(projector);
    sqlx::query("UPDATE audit_kafka_offsets SET next_offset = 0")
        .execute(store.pool())
        .await
        .unwrap();
    let projector = fixture.projector();
    fixture.wait_for_offsets(&store, total).await;
    assert_eq!(fixture.rows(&store).await, rows, "redelivery changed the store");
    kill9(projector);

    // Each account sees its own records only, all of them.
    for account in ACCOUNTS {
        let filter = AuditFilter {
            account_id: account.into(),
            ..AuditFilter::default()
        };
        let page = log.query(&filter, 1000, None).await.unwrap();
        assert_eq!(page.records.len(), written.len() / 2);
        assert!(page
            .records
            .iter()
            .all(|(_, r)| r.recipient_account_id == account && r.user_identity.arn.contains(account)));
    }
    log.close(Duration::from_secs(5)).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
async fn a_missing_topic_is_refused_at_start() {
    let fixture = Fixture::new().await;
    let options = KafkaAuditOptions {
        topic: format!("{}.missing", fixture.topic),
        ..KafkaAuditOptions::default()
    };
    let error = KafkaAuditLog::connect(&fixture.brokers, options, fixture.store().await)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}
