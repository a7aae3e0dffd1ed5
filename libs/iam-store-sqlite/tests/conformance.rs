//! Runs the shared event-store and event-feed conformance suites against SQLite files in
//! temporary directories, plus SQLite-specific checks (reopening, schema guards, upgrading a file
//! made by an older schema).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

use std::borrow::Cow;
use std::sync::Arc;

use chrono::SecondsFormat;
use iam_eventlog::conformance::{event, FeedUnderTest, StoreUnderTest};
use iam_eventlog::{ClaimChange, EventEnvelope, EventFeed, EventStore, StoreError, UniqueClaim};
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

async fn open_temp() -> (Arc<SqliteEventStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    let store = SqliteEventStore::open(path.to_str().expect("utf-8 temp path"), SqliteStoreOptions::default())
        .await
        .expect("open store");
    (Arc::new(store), dir)
}

async fn sqlite_store() -> StoreUnderTest {
    let (store, dir) = open_temp().await;
    StoreUnderTest::new(store).with_guard(dir)
}

async fn sqlite_feed() -> FeedUnderTest {
    let (store, dir) = open_temp().await;
    FeedUnderTest::shared(store).with_guard(dir)
}

iam_eventlog::event_store_conformance_tests!(sqlite_store);
iam_eventlog::event_feed_conformance_tests!(sqlite_feed, exactly_once);

const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn reopening_keeps_events_claims_and_positions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let first = SqliteEventStore::open(&url, SqliteStoreOptions::default())
        .await
        .expect("open");
    let claim = ClaimChange::Claim(UniqueClaim::new("user-name", "alice"));
    let out = first
        .append(ACCOUNT, 0, vec![event("a"), event("b")], vec![claim.clone()])
        .await
        .expect("append");
    let before = first.read_stream(ACCOUNT, 1, 10).await.expect("read");
    first.close().await;

    let again = SqliteEventStore::open(&url, SqliteStoreOptions::default())
        .await
        .expect("reopen runs migrations idempotently");
    assert_eq!(again.read_stream(ACCOUNT, 1, 10).await.expect("read"), before);
    assert_eq!(again.head(ACCOUNT).await.expect("head"), 2);
    assert_eq!(again.latest_position().await.expect("latest"), out.global_position);
    assert!(again.wait_for(0, std::time::Duration::ZERO).await.expect("wait"));
    assert!(matches!(
        again.append(ACCOUNT, 2, vec![event("c")], vec![claim]).await,
        Err(iam_eventlog::StoreError::UniqueViolation { .. })
    ));
    let next = again
        .append(ACCOUNT, 2, vec![event("c")], vec![])
        .await
        .expect("append after reopen");
    assert!(next.global_position > out.global_position);
}

#[tokio::test]
async fn the_log_is_append_only_and_durable_by_configuration() {
    let (store, _dir) = open_temp().await;
    store
        .append(ACCOUNT, 0, vec![event("a")], vec![])
        .await
        .expect("append");
    let update = sqlx::query("UPDATE events SET actor = 'mallory'")
        .execute(store.pool())
        .await;
    assert!(update.is_err(), "events cannot be rewritten");
    let delete = sqlx::query("DELETE FROM events").execute(store.pool()).await;
    assert!(delete.is_err(), "events cannot be deleted");

    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .expect("synchronous");
    assert_eq!(synchronous, 2, "synchronous=FULL");
    let read_only_write = sqlx::query("INSERT INTO streams VALUES ('999999999999', 1)")
        .execute(store.read_pool())
        .await;
    assert!(read_only_write.is_err(), "the read pool is read-only");
}

#[tokio::test]
async fn a_missing_file_is_not_created_when_asked_not_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.db");
    let mut options = SqliteStoreOptions::default();
    options.create_if_missing = false;
    let err = SqliteEventStore::open(path.to_str().expect("utf-8"), options)
        .await
        .expect_err("no file");
    assert_eq!(err.code(), iam_eventlog::StoreErrorCode::Unavailable, "{err}");
    assert!(!path.exists());
}

/// Writes `envelope` as the store's writer does (see `rows.rs` and `writer.rs`), through SQL only,
/// so it works on any schema version.
async fn insert_raw(pool: &sqlx::SqlitePool, envelope: &EventEnvelope) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (account_id, sequence, event_id, recorded_at, actor, request_id, event_type, \
         schema_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING global_position",
    )
    .bind(&envelope.account_id)
    .bind(i64::try_from(envelope.sequence).unwrap())
    .bind(envelope.event_id.hyphenated().to_string())
    .bind(envelope.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true))
    .bind(&envelope.actor)
    .bind(&envelope.request_id)
    .bind(&envelope.event_type)
    .bind(i64::from(envelope.schema_version))
    .bind(serde_json::to_string(&envelope.payload).unwrap())
    .fetch_one(pool)
    .await
    .map(|row| sqlx::Row::get(&row, 0))
}

/// A file made by the first schema (migration 1000001 only) with account events, heads and claims
/// is upgraded at open to the schema that admits organization streams, keeping every event,
/// sequence, feed position, claim and the AUTOINCREMENT high-water mark.
#[tokio::test]
async fn a_file_from_the_first_schema_upgrades_and_accepts_organization_streams() {
    const OTHER: &str = "210987654321";
    const ORG: &str = "o-exampleorg1";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");

    // The first schema, exactly as an older release applied it (same SQL, same checksum).
    let current = sqlx::migrate!("../../schema/migrations/sqlite/eventlog");
    let mut first = sqlx::migrate!("../../schema/migrations/sqlite/eventlog");
    first.migrations = Cow::Owned(
        current
            .migrations
            .iter()
            .filter(|m| m.version == 1_000_001)
            .cloned()
            .collect(),
    );
    assert_eq!(first.migrations.len(), 1);
    assert!(current.version_exists(1_000_002));
    let old = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
        .await
        .expect("open the old file");
    first.run(&old).await.expect("the first schema");

    let mut written: Vec<(u64, EventEnvelope)> = Vec::new();
    for (i, account) in [ACCOUNT, OTHER, ACCOUNT, ACCOUNT, OTHER].into_iter().enumerate() {
        let sequence = 1 + u64::try_from(written.iter().filter(|(_, e)| e.account_id == account).count()).unwrap();
        let envelope = event(&format!("old{i}")).into_envelope(account, sequence);
        let position = insert_raw(&old, &envelope).await.expect("insert an event");
        written.push((u64::try_from(position).unwrap(), envelope));
    }
    for (account, head) in [(ACCOUNT, 3), (OTHER, 2)] {
        sqlx::query("INSERT INTO streams (account_id, head) VALUES (?, ?)")
            .bind(account)
            .bind(head)
            .execute(&old)
            .await
            .expect("head");
    }
    for (account, key) in [(ACCOUNT, "alice"), (OTHER, "bob")] {
        sqlx::query(
            "INSERT INTO unique_claims (account_id, scope, key, claimed_at_sequence) VALUES (?, 'user-name', ?, 1)",
        )
        .bind(account)
        .bind(key)
        .execute(&old)
        .await
        .expect("claim");
    }
    // A high-water mark above the last row: the store never leaves one, but the rebuild must not
    // lower it, or a position could be handed out twice.
    sqlx::query("UPDATE sqlite_sequence SET seq = 10 WHERE name = 'events'")
        .execute(&old)
        .await
        .expect("high-water mark");
    let refused = insert_raw(&old, &event("org").into_envelope(ORG, 1)).await;
    assert!(refused.is_err(), "the first schema refuses organization ids");
    old.close().await;

    let url = format!("sqlite://{}", path.display());
    let store = SqliteEventStore::open(&url, SqliteStoreOptions::default())
        .await
        .expect("open upgrades the file");
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(store.pool())
        .await
        .expect("applied migrations");
    assert_eq!(applied, vec![1_000_001, 1_000_002]);

    assert_eq!(store.read_from(0, 100).await.expect("feed"), written, "positions kept");
    for (account, head) in [(ACCOUNT, 3), (OTHER, 2)] {
        let stream: Vec<EventEnvelope> = written
            .iter()
            .filter(|(_, e)| e.account_id == account)
            .map(|(_, e)| e.clone())
            .collect();
        assert_eq!(store.read_stream(account, 1, 100).await.expect("read"), stream);
        assert_eq!(store.head(account).await.expect("head"), head);
    }
    assert_eq!(store.latest_position().await.expect("latest"), 5);
    let claimed = |key: &str| vec![ClaimChange::Claim(UniqueClaim::new("user-name", key))];
    assert!(matches!(
        store.append(ACCOUNT, 3, vec![event("a")], claimed("alice")).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    assert!(matches!(
        store.append(OTHER, 2, vec![event("b")], claimed("bob")).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    let update = sqlx::query("UPDATE events SET actor = 'mallory'")
        .execute(store.pool())
        .await;
    assert!(update.is_err(), "events are still append-only");
    let delete = sqlx::query("DELETE FROM events").execute(store.pool()).await;
    assert!(delete.is_err(), "events are still append-only");

    let org = store
        .append(ORG, 0, vec![event("org1"), event("org2")], claimed("alice"))
        .await
        .expect("an organization stream");
    assert_eq!((org.first_sequence, org.last_sequence), (1, 2));
    assert_eq!(
        org.global_position, 12,
        "positions continue above the old high-water mark"
    );
    let next = store
        .append(ACCOUNT, 3, vec![event("a4")], vec![])
        .await
        .expect("append to an old account");
    assert_eq!((next.first_sequence, next.global_position), (4, 13));
    assert_eq!(store.head(ORG).await.expect("head"), 2);
    assert_eq!(
        store.accounts().await.expect("accounts"),
        vec![ACCOUNT.to_owned(), OTHER.to_owned(), ORG.to_owned()]
    );
    let bad = sqlx::query(
        "INSERT INTO events (account_id, sequence, event_id, recorded_at, actor, request_id, event_type, \
         schema_version, payload) VALUES ('o-ABCDEFGHIJ', 1, 'x', 't', 'a', 'r', 'e', 1, '{}')",
    )
    .execute(store.pool())
    .await;
    assert!(bad.is_err(), "the widened check still refuses malformed ids");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");
}
