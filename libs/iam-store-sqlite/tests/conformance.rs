//! Runs the shared event-store and event-feed conformance suites against SQLite files in
//! temporary directories, plus SQLite-specific checks (reopening, schema guards).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

use std::sync::Arc;

use iam_eventlog::conformance::{event, FeedUnderTest, StoreUnderTest};
use iam_eventlog::{ClaimChange, EventFeed, EventStore, UniqueClaim};
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};

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
