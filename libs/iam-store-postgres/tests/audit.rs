//! The PostgreSQL audit store: the shared `AuditLog` conformance suite (iam-audit's
//! `conformance` module: round trips, paging, filters, counts, tenant isolation, encoded appends,
//! cursors, concurrency), each test in a schema of its own, plus what only this store has:
//! idempotent inserts, Kafka offsets stored with the records, and organization trails of consumed
//! records.
//!
//! Needs `GATEHOUSE_DATABASE_URL`: the tests are `#[ignore]`d so the README's test command runs
//! without a server; `scripts/distributed-test.sh` starts one and runs them with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::Duration;
use iam_audit::conformance::{record, AuditLogUnderTest};
use iam_audit::{AuditFilter, AuditLog, AuditRecord};
use iam_store_postgres::PgAuditStore;
use support::{database_url, TestSchema};

const A: &str = "111111111111";
const B: &str = "222222222222";

async fn postgres_audit_log() -> AuditLogUnderTest {
    let schema = TestSchema::create().await;
    let log = PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .expect("connect the audit store");
    AuditLogUnderTest::new(Arc::new(log)).with_guard(schema)
}

iam_audit::audit_log_conformance_tests!(
    postgres_audit_log,
    #[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
);

/// Kafka redelivers after a crash: inserting a record again changes nothing, and each
/// partition's stored offset only moves forward, in the records' transaction.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn redelivered_records_change_nothing_and_offsets_move_with_the_records() {
    let schema = TestSchema::create().await;
    let log = PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .unwrap();
    let records: Vec<AuditRecord> = (0..10).map(|n| record(A, n)).collect();
    let batch: Vec<(i32, i64, AuditRecord)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i32::try_from(i % 2).unwrap(), i64::try_from(i / 2).unwrap(), r.clone()))
        .collect();
    assert_eq!(log.insert_consumed("t", &batch[..6]).await.unwrap(), 6);
    assert_eq!(log.kafka_offsets("t").await.unwrap(), [(0, 3), (1, 3)]);
    // Redelivered from an older offset: the overlap inserts nothing, offsets never move back.
    assert_eq!(log.insert_consumed("t", &batch[2..]).await.unwrap(), 4);
    assert_eq!(log.insert_consumed("t", &batch[..2]).await.unwrap(), 0);
    assert_eq!(log.kafka_offsets("t").await.unwrap(), [(0, 5), (1, 5)]);
    // A batch holding the same record twice inserts it once.
    let mut twice = record(A, 99);
    // Newer than the others, so it heads the page below.
    twice.event_time = records.iter().map(|r| r.event_time).max().unwrap() + Duration::seconds(1);
    assert_eq!(log.insert(&[twice.clone(), twice.clone()]).await.unwrap(), 1);
    let all = AuditFilter {
        account_id: A.into(),
        ..AuditFilter::default()
    };
    let page = log.query(&all, 100, None).await.unwrap();
    assert_eq!(page.records.len(), 11);
    assert_eq!(page.records[0].1, twice, "a record reads back as it was written");
    assert!(log.kafka_offsets("other").await.unwrap().is_empty());
    log.close().await;
}

/// Records consumed from the audit topic land in their organization's trail: the column is the
/// record's `additionalEventData.organizationId` (NULL without one), and the trail finds them.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn consumed_records_carry_their_organization() {
    use sqlx::Row;

    let schema = TestSchema::create().await;
    let log = PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .unwrap();
    let batch: Vec<(i32, i64, AuditRecord)> = (0..6)
        .map(|n| {
            let mut r = record(if n % 2 == 0 { A } else { B }, n);
            if n > 0 {
                r.set_organization_id("o-consumed001");
            }
            (0, i64::try_from(n).unwrap(), r)
        })
        .collect();
    assert_eq!(log.insert_consumed("t", &batch).await.unwrap(), 6);
    let columns: Vec<(String, Option<String>)> =
        sqlx::query("SELECT event_id, organization_id FROM audit_events ORDER BY position")
            .fetch_all(log.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    let expected: Vec<(String, Option<String>)> = batch
        .iter()
        .map(|(_, _, r)| (r.event_id.clone(), r.organization_id().map(str::to_owned)))
        .collect();
    assert_eq!(columns, expected);
    let trail = AuditFilter {
        organization_id: Some("o-consumed001".into()),
        ..AuditFilter::default()
    };
    assert_eq!(log.query(&trail, 100, None).await.unwrap().records.len(), 5);
    let narrowed = AuditFilter {
        account_id: A.into(),
        ..trail
    };
    assert_eq!(log.query(&narrowed, 100, None).await.unwrap().records.len(), 2);
    log.close().await;
}

/// Records stored before the decided principal had a column (migration 3000003) get it from
/// their record text, exactly as an insert computes it: NUL as U+FFFD (jsonb refuses the escape
/// `\u0000`; an escaped backslash before the text `u0000` is not that escape), a decision's
/// detail when its request lacks it, nothing for a value that is not a string.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_from_before_the_decided_principal_are_backfilled_from_their_text() {
    use serde_json::json;
    use sqlx::Row;

    let schema = TestSchema::create().await;
    let log = PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .unwrap();
    let mut records: Vec<AuditRecord> = (0..60).map(|n| record(A, n)).collect();
    let special = [
        json!("arn:aws:iam::111111111111:user/\u{0}nul"),
        json!("arn:aws:iam::111111111111:user/back\\u0000slash"),
        json!("arn:aws:iam::111111111111:user/both\\\u{0}\\\\u0000"),
        json!(7),
        json!(null),
    ];
    for (n, principal) in special.into_iter().enumerate() {
        let mut r = record(A, 100 + n * 5);
        r.request_parameters["principalArn"] = principal;
        // NUL elsewhere in the record too, so its text holds the escape whatever the principal.
        r.user_agent = "agent\u{0}".into();
        records.push(r);
    }
    // Not a decision: its detail's principalArn decides nothing.
    let mut call = record(A, 103);
    call.additional_event_data = Some(json!({"principalArn": "arn:aws:iam::111111111111:user/x"}));
    records.push(call);
    log.insert(&records).await.unwrap();
    assert!(records
        .iter()
        .any(|r| r.request_parameters.get("principalArn").is_none() && r.decided_principal_arn().is_some()));

    // The table as 3000002 left it.
    let mut conn = schema.connection().await;
    sqlx::raw_sql(
        "DROP INDEX audit_by_decided_principal; DROP INDEX audit_by_trail_event_id; \
         ALTER TABLE audit_events DROP COLUMN decided_principal_arn; \
         DELETE FROM _sqlx_migrations WHERE version = 3000003;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    log.close().await;
    let log = PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .unwrap();

    let stored: std::collections::HashMap<String, Option<String>> =
        sqlx::query("SELECT event_id, decided_principal_arn FROM audit_events")
            .fetch_all(log.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    assert_eq!(stored.len(), records.len());
    for r in &records {
        let expected = r.decided_principal_arn().map(|arn| arn.replace('\0', "\u{FFFD}"));
        assert_eq!(stored[&r.event_id], expected, "{}", r.request_parameters);
    }
    let nul = AuditFilter {
        account_id: A.into(),
        decided_principal_arn: Some("arn:aws:iam::111111111111:user/\u{0}nul".into()),
        ..AuditFilter::default()
    };
    assert_eq!(log.query(&nul, 10, None).await.unwrap().records.len(), 1);
    log.close().await;
}
