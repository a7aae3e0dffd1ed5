//! The embedded audit log: the shared `AuditLog` conformance suite (iam-audit's `conformance`
//! module: round trips, paging, filters, counts, tenant isolation, encoded appends, cursors,
//! concurrency) against a log in a temporary directory, plus what only this store has: export,
//! reopening, the upgrade from the SQLite log of older versions and the index rebuilt after a
//! system stop (organization trails included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use iam_audit::conformance::{record, AuditLogUnderTest};
use iam_audit::{AuditFilter, AuditLog, AuditRecord};
use iam_store_sqlite::{AuditDurability, SqliteAuditLog};

const A: &str = "111111111111";
const B: &str = "222222222222";

async fn sqlite_audit_log() -> AuditLogUnderTest {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = SqliteAuditLog::open(&dir.path().join("audit.db").to_string_lossy(), AuditDurability::Full)
        .await
        .expect("open the audit log");
    AuditLogUnderTest::new(Arc::new(log)).with_guard(dir)
}

iam_audit::audit_log_conformance_tests!(sqlite_audit_log);

/// `records` as `export` gives them: oldest first, equal times in arrival order.
fn oldest_first(records: &[AuditRecord]) -> Vec<AuditRecord> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|record| record.event_time);
    sorted
}

/// Export gives one account's records, oldest first, within `[from, to)`; reopened, the log has
/// everything it acknowledged.
#[tokio::test]
async fn exports_stay_within_the_account_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let a: Vec<AuditRecord> = (0..45).map(|n| record(A, n)).collect();
    let b: Vec<AuditRecord> = (0..45).map(|n| record(B, n)).collect();
    for (a, b) in a.chunks(10).zip(b.chunks(10)) {
        log.append(a.to_vec()).await.unwrap();
        log.append(b.to_vec()).await.unwrap();
    }

    assert_eq!(log.export(B, None, None).await.unwrap(), oldest_first(&b));
    let from = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 5).unwrap();
    let to = from + Duration::seconds(10);
    let window: Vec<AuditRecord> = oldest_first(&b)
        .into_iter()
        .filter(|r| from <= r.event_time && r.event_time < to)
        .collect();
    assert!(window.first().is_some_and(|r| r.event_time == from));
    assert_eq!(log.export(B, Some(from), Some(to)).await.unwrap(), window);
    assert!(log.export("333333333333", None, None).await.unwrap().is_empty());
    log.close().await;

    let reopened = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(reopened.export(A, None, None).await.unwrap(), oldest_first(&a));
    assert_eq!(reopened.export(B, None, None).await.unwrap(), oldest_first(&b));
}

/// A log written before the lean schema (3000002) upgrades in place and is read as it is: every
/// record and the append-only triggers survive, and new appends go to the record file, continuing
/// after the old positions.
#[tokio::test]
async fn a_log_from_before_the_lean_schema_upgrades_with_its_records() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::Row;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    // The first migration alone, as an older Gatehouse applied it.
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/migrations/sqlite/audit");
    std::fs::copy(
        schema.join("3000001_create_audit_log.sql"),
        old.join("3000001_create_audit_log.sql"),
    )
    .unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let old_record = record(A, 1);
    sqlx::query("INSERT INTO audit_log (position, account_id, event_id, event_time, record) VALUES (7, ?, ?, ?, ?)")
        .bind(A)
        .bind(&old_record.event_id)
        .bind("2026-11-01T00:00:00.000000Z")
        .bind(serde_json::to_string(&old_record).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    log.append(vec![record(A, 2)]).await.unwrap();
    let filter = AuditFilter {
        account_id: A.into(),
        ..AuditFilter::default()
    };
    let page = log.query(&filter, 10, None).await.unwrap();
    let ids: Vec<&str> = page.records.iter().map(|(_, r)| r.event_id.as_str()).collect();
    assert_eq!(page.records.len(), 2, "{ids:?}");
    assert!(ids.contains(&old_record.event_id.as_str()));
    let mut positions: Vec<&str> = page
        .records
        .iter()
        .map(|(cursor, _)| cursor.rsplit('|').next().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, vec!["7", "8"]);
    log.close().await;
    drop(log);

    // Reopened (the index rebuilt from both logs), the old record is still found.
    std::fs::remove_file(dir.path().join("audit-index.db")).unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(log.export(A, None, None).await.unwrap().len(), 2);
    log.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let positions: Vec<i64> = sqlx::query("SELECT position FROM audit_log ORDER BY position")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(positions, vec![7], "new records go to the record file");
    let update = sqlx::query("UPDATE audit_log SET record = '{}' WHERE position = 7")
        .execute(&pool)
        .await;
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
}

/// The index skips fsync; after the system (not only the process) stopped while it was open, it
/// is rebuilt from the record file, while a cleanly closed index is kept.
#[tokio::test]
async fn an_index_open_when_the_system_stopped_is_rebuilt_from_the_records() {
    let Ok(boot) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else {
        return; // No boot id: the index syncs like any SQLite file.
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let index = dir.path().join("audit-index.db");
    let state = dir.path().join("audit-index.db.state");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let records: Vec<AuditRecord> = (0..30).map(|n| record(A, n)).collect();
    log.append(records.clone()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{} open\n", boot.trim())
    );
    log.close().await;
    drop(log);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{} closed\n", boot.trim())
    );

    // A power cut under an earlier boot, with the index open and damaged.
    std::fs::write(&state, "00000000-0000-0000-0000-000000000000 open\n").unwrap();
    std::fs::write(&index, b"not a database: the system stopped mid-write").unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let exported = log.export(A, None, None).await.unwrap();
    assert_eq!(exported, oldest_first(&records), "every record is found again");
    let principal = &records[0].user_identity.arn;
    let filter = AuditFilter {
        account_id: A.into(),
        principal_arn: Some(principal.clone()),
        ..AuditFilter::default()
    };
    let found = log.query(&filter, 100, None).await.unwrap().records.len();
    assert_eq!(
        found,
        records.iter().filter(|r| r.user_identity.arn == *principal).count()
    );
    log.close().await;
    drop(log);

    // Closed cleanly under an earlier boot: kept as it is (a damaged file would fail to open).
    std::fs::write(&state, "00000000-0000-0000-0000-000000000000 closed\n").unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(log.export(A, None, None).await.unwrap().len(), 30);
}

/// The index rebuilt from the record file (deleted, or distrusted after a system stop) puts every
/// record back in its organization's trail.
#[tokio::test]
async fn a_rebuilt_index_keeps_the_organization_trails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let mut records = Vec::new();
    for n in 0..20 {
        let mut member = record(if n % 2 == 0 { A } else { B }, n);
        if n >= 4 {
            member.set_organization_id("o-rebuilt0001");
        }
        records.push(member);
    }
    log.append(records.clone()).await.unwrap();
    let trail = AuditFilter {
        organization_id: Some("o-rebuilt0001".into()),
        ..AuditFilter::default()
    };
    let before = log.query(&trail, 100, None).await.unwrap().records;
    assert_eq!(before.len(), 16);
    log.close().await;
    drop(log);

    std::fs::remove_file(dir.path().join("audit-index.db")).unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(log.query(&trail, 100, None).await.unwrap().records, before);
    let narrowed = AuditFilter {
        account_id: B.into(),
        ..trail.clone()
    };
    assert_eq!(log.query(&narrowed, 100, None).await.unwrap().records.len(), 8);
    log.close().await;
}

/// An index written before it had the decided principal and the event id (migration 3500004) is
/// rebuilt from the record file when the store opens, so a history written before the upgrade
/// answers both filters as a new one does.
#[tokio::test]
async fn an_index_from_before_the_decided_principal_is_rebuilt_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let records: Vec<AuditRecord> = (0..40).map(|n| record(A, n)).collect();
    log.append(records.clone()).await.unwrap();
    log.close().await;
    drop(log);

    // The index as 3500003 left it: every record indexed, without the two columns.
    let index = rusqlite::Connection::open(dir.path().join("audit-index.db")).unwrap();
    index
        .execute_batch(
            "DROP INDEX audit_by_decided_principal; DROP INDEX audit_by_event_id; \
             ALTER TABLE audit_index DROP COLUMN decided_principal; ALTER TABLE audit_index DROP COLUMN event_id; \
             DELETE FROM _sqlx_migrations WHERE version = 3500004;",
        )
        .unwrap();
    let indexed: i64 = index
        .query_row("SELECT count(*) FROM audit_index", [], |row| row.get(0))
        .unwrap();
    assert_eq!(indexed, 40);
    drop(index);

    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let alice = "arn:aws:iam::111111111111:user/alice";
    let about_alice = AuditFilter {
        account_id: A.into(),
        decided_principal_arn: Some(alice.into()),
        ..AuditFilter::default()
    };
    let mut expected: Vec<&str> = records
        .iter()
        .filter(|r| r.decided_principal_arn() == Some(alice))
        .map(|r| r.event_id.as_str())
        .collect();
    assert!(expected.len() > 3, "{expected:?}");
    let mut found: Vec<String> = log
        .query(&about_alice, 100, None)
        .await
        .unwrap()
        .records
        .into_iter()
        .map(|(_, r)| r.event_id)
        .collect();
    expected.sort_unstable();
    found.sort_unstable();
    assert_eq!(found, expected);
    for r in &records {
        let by_id = AuditFilter {
            account_id: A.into(),
            event_id: Some(r.event_id.clone()),
            ..AuditFilter::default()
        };
        let page = log.query(&by_id, 10, None).await.unwrap().records;
        assert_eq!(page.len(), 1, "{}", r.event_id);
        assert_eq!(&page[0].1, r);
    }
    assert_eq!(log.export(A, None, None).await.unwrap().len(), 40, "nothing twice");
    log.close().await;
}

/// The digests of a chain read a page at a time are the digests.
#[tokio::test]
async fn digest_pages_are_the_digests() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteAuditLog::open(&dir.path().join("audit.db").to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    iam_audit::conformance::digest_pages_are_the_digests(&log).await;
}
