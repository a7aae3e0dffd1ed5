//! Runs the shared event-store and event-feed conformance suites against PostgreSQL, each test in
//! a schema of its own, plus PostgreSQL-specific checks: reconnecting, the append-only guard, the
//! outbox, wake-ups across store instances, and input PostgreSQL cannot store.
//!
//! Needs `GATEHOUSE_DATABASE_URL`: the tests are `#[ignore]`d so the README's test command runs
//! without a server; `scripts/distributed-test.sh` starts one and runs them with `--ignored`,
//! where a missing URL fails them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_eventlog::conformance::{event, FeedUnderTest, StoreUnderTest};
use iam_eventlog::{ClaimChange, EventFeed, EventStore, StoreError, UniqueClaim};
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use support::TestSchema;

async fn postgres_store() -> StoreUnderTest {
    let schema = TestSchema::create().await;
    let store = Arc::new(schema.store().await);
    StoreUnderTest::new(store).with_guard(schema)
}

async fn postgres_feed() -> FeedUnderTest {
    let schema = TestSchema::create().await;
    let store = Arc::new(schema.store().await);
    FeedUnderTest::shared(store).with_guard(schema)
}

iam_eventlog::event_store_conformance_tests!(
    postgres_store,
    #[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
);
iam_eventlog::event_feed_conformance_tests!(
    postgres_feed,
    exactly_once,
    #[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
);

const ACCOUNT: &str = "123456789012";

#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn reconnecting_keeps_events_claims_and_positions() {
    let schema = TestSchema::create().await;
    let first = schema.store().await;
    let claim = ClaimChange::Claim(UniqueClaim::new("user-name", "alice"));
    let out = first
        .append(ACCOUNT, 0, vec![event("a"), event("b")], vec![claim.clone()])
        .await
        .expect("append");
    let before = first.read_stream(ACCOUNT, 1, 10).await.expect("read");
    first.close().await;

    let again = schema.store().await; // runs the migrations again: a no-op
    assert_eq!(again.read_stream(ACCOUNT, 1, 10).await.expect("read"), before);
    assert_eq!(again.head(ACCOUNT).await.expect("head"), 2);
    assert_eq!(again.latest_position().await.expect("latest"), out.global_position);
    assert!(again.wait_for(0, Duration::ZERO).await.expect("wait"));
    assert!(matches!(
        again.append(ACCOUNT, 2, vec![event("c")], vec![claim]).await,
        Err(StoreError::UniqueViolation { .. })
    ));
    let next = again
        .append(ACCOUNT, 2, vec![event("c")], vec![])
        .await
        .expect("append after reconnecting");
    assert_eq!(next.global_position, out.global_position + 1, "positions have no gaps");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn the_log_is_append_only() {
    let schema = TestSchema::create().await;
    let store = schema.store().await;
    store
        .append(ACCOUNT, 0, vec![event("a")], vec![])
        .await
        .expect("append");
    let mut conn = schema.connection().await;
    for statement in [
        "UPDATE events SET actor = 'mallory'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
    ] {
        let refused = sqlx::query(statement).execute(&mut conn).await;
        let error = refused.expect_err(statement);
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(store.read_stream(ACCOUNT, 1, 10).await.expect("read").len(), 1);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn appends_queue_their_positions_in_the_outbox() {
    let schema = TestSchema::create().await;
    let store = schema.store().await;
    let first = store
        .append(ACCOUNT, 0, vec![event("a"), event("b")], vec![])
        .await
        .expect("append");
    let refused = store
        .append(ACCOUNT, 0, vec![event("stale")], vec![])
        .await
        .expect_err("stale head");
    assert!(matches!(refused, StoreError::Conflict { .. }));
    let second = store
        .append("210987654321", 0, vec![event("c")], vec![])
        .await
        .expect("append");

    let mut conn = schema.connection().await;
    let queued: Vec<i64> = sqlx::query_scalar("SELECT global_position FROM outbox ORDER BY global_position")
        .fetch_all(&mut conn)
        .await
        .expect("outbox");
    let stored: Vec<i64> = sqlx::query_scalar("SELECT global_position FROM events ORDER BY global_position")
        .fetch_all(&mut conn)
        .await
        .expect("events");
    assert_eq!(
        queued, stored,
        "every event is queued once; the failed append queued nothing"
    );
    assert_eq!(stored, vec![1, 2, 3]);
    assert_eq!(
        (first.global_position, second.global_position),
        (2, 3),
        "an append's position is its last event's"
    );

    // The row format: JSONB objects and microsecond timestamps.
    let (kind, micros): (String, i64) = sqlx::query_as(
        "SELECT jsonb_typeof(payload), (extract(microseconds FROM recorded_at))::bigint % 1000000 \
         FROM events WHERE global_position = 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("row");
    assert_eq!(kind, "object");
    assert_eq!(
        micros, 123_456,
        "the conformance event's time, truncated to microseconds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn wait_for_wakes_on_another_stores_append() {
    let schema = TestSchema::create().await;
    let follower = schema.store().await;
    let writer = schema.store().await;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let woke = follower.wait_for(0, Duration::from_secs(30)).await.expect("wait");
        (woke, started.elapsed(), follower)
    });
    // Let the follower start listening; the check holds either way, only its speed differs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = writer
        .append(ACCOUNT, 0, vec![event("wake")], vec![])
        .await
        .expect("append");
    let (woke, elapsed, follower) = waiting.await.expect("waiter");
    assert!(woke);
    assert!(
        elapsed < Duration::from_secs(5),
        "woke only after {elapsed:?}: the notification did not arrive"
    );
    // Another schema's appends do not wake this follower.
    let other = TestSchema::create().await;
    let elsewhere = other.store().await;
    let quiet = tokio::spawn(async move {
        follower
            .wait_for(out.global_position, Duration::from_millis(500))
            .await
            .expect("wait")
    });
    elsewhere
        .append(ACCOUNT, 0, vec![event("a"), event("b")], vec![])
        .await
        .expect("append elsewhere");
    assert!(!quiet.await.expect("waiter"), "woken by another schema's append");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn input_postgres_cannot_store_is_refused_as_invalid() {
    let schema = TestSchema::create().await;
    let store = schema.store().await;
    let mut nul_in_text = event("nul");
    nul_in_text.actor = "arn:aws:iam::123456789012:user/a\0b".into();
    let mut nul_in_json = event("nul");
    nul_in_json.payload = serde_json::json!({ "name": "a\u{0}b" });
    let nul_in_claim = ClaimChange::Claim(UniqueClaim::new("user-name", "a\0b"));
    for (events, claims) in [
        (vec![nul_in_text], vec![]),
        (vec![nul_in_json], vec![]),
        (vec![event("ok")], vec![nul_in_claim]),
    ] {
        let error = store
            .append(ACCOUNT, 0, events, claims)
            .await
            .expect_err("PostgreSQL refuses NUL characters");
        assert!(matches!(error, StoreError::InvalidAppend(_)), "{error:?}");
    }
    assert_eq!(store.head(ACCOUNT).await.expect("head"), 0);
    // The failed appends released the append lock.
    store
        .append(ACCOUNT, 0, vec![event("ok")], vec![])
        .await
        .expect("append");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn an_append_with_several_faults_fails_for_the_first_as_in_sqlite() {
    let schema = TestSchema::create().await;
    let store = schema.store().await;
    let alice = || ClaimChange::Claim(UniqueClaim::new("user-name", "alice"));
    store
        .append(ACCOUNT, 0, vec![event("a")], vec![alice()])
        .await
        .expect("append");
    let twin = event("twin");
    let twins = || vec![twin.clone(), twin.clone()];
    // The head is checked first, then the claims, then the event ids.
    let stale = store
        .append(ACCOUNT, 0, twins(), vec![alice()])
        .await
        .expect_err("stale");
    assert_eq!(stale, StoreError::Conflict { expected: 0, actual: 1 });
    let taken = store
        .append(ACCOUNT, 1, twins(), vec![alice()])
        .await
        .expect_err("taken");
    assert!(matches!(taken, StoreError::UniqueViolation { .. }), "{taken:?}");
    let repeated = store.append(ACCOUNT, 1, twins(), vec![]).await.expect_err("repeated");
    assert_eq!(repeated, StoreError::DuplicateEventId(twin.event_id));
    assert_eq!(store.head(ACCOUNT).await.expect("head"), 1);
}

#[tokio::test]
async fn malformed_settings_are_refused_before_connecting() {
    // Port 1 on loopback: nothing listens, so reaching the server would fail differently.
    let url = "postgres://gatehouse:gatehouse@127.0.0.1:1/gatehouse";
    let mut options = PostgresStoreOptions::default();
    options.schema = Some("Robert'); DROP TABLE events;--".into());
    let error = PostgresEventStore::connect(url, options).await.expect_err("bad schema");
    assert!(
        matches!(error, StoreError::Internal(ref m) if m.contains("invalid schema")),
        "{error}"
    );
    let error = PostgresEventStore::connect("mysql://nope", PostgresStoreOptions::default())
        .await
        .expect_err("bad url");
    assert!(
        matches!(error, StoreError::Internal(ref m) if m.contains("invalid database url")),
        "{error}"
    );
    let mut options = PostgresStoreOptions::default();
    options.acquire_timeout = Duration::from_millis(500);
    let error = PostgresEventStore::connect(url, options).await.expect_err("no server");
    assert_eq!(error.code(), iam_eventlog::StoreErrorCode::Unavailable, "{error}");
}
