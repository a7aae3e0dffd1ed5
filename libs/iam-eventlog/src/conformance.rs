//! The conformance suite every [`EventStore`] and [`EventFeed`] adapter runs, and the macros that
//! turn it into `#[tokio::test]`s.
//!
//! ```text
//! async fn sqlite() -> StoreUnderTest { ... }
//! async fn sqlite_feed() -> FeedUnderTest { ... }
//! iam_eventlog::event_store_conformance_tests!(sqlite);
//! iam_eventlog::event_feed_conformance_tests!(sqlite_feed, exactly_once);
//! // An adapter that needs a server marks its tests, and the suite copies the attributes:
//! iam_eventlog::event_store_conformance_tests!(postgres_store, #[ignore = "needs PostgreSQL"]);
//! ```
//!
//! The factory is any expression callable with no arguments that returns a future of a fresh,
//! empty fixture. The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) among its
//! dev-dependencies. Failures panic: this module is test code compiled only with the
//! `conformance` feature.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test-support code: a failed check must fail the test"
)]

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::claims::{ClaimChange, UniqueClaim};
use crate::envelope::{EventEnvelope, NewEvent};
use crate::error::StoreError;
use crate::feed::EventFeed;
use crate::store::EventStore;

/// A fresh, empty store for one test, with whatever must outlive it (a temp dir, a container).
pub struct StoreUnderTest {
    /// The adapter under test.
    pub store: Arc<dyn EventStore>,
    guard: Box<dyn Any + Send + Sync>,
}

impl StoreUnderTest {
    /// Wraps a store that needs nothing kept alive beside it.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            guard: Box::new(()),
        }
    }

    /// Keeps `guard` alive (and drops it) together with the store.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Box::new(guard);
        self
    }
}

/// A fresh, empty store and the feed that follows it, for one test.
pub struct FeedUnderTest {
    /// Where the test appends.
    pub store: Arc<dyn EventStore>,
    /// The feed under test; it must eventually show every append made through `store`.
    pub feed: Arc<dyn EventFeed>,
    guard: Box<dyn Any + Send + Sync>,
}

impl FeedUnderTest {
    /// A store and a separate feed over it.
    pub fn new(store: Arc<dyn EventStore>, feed: Arc<dyn EventFeed>) -> Self {
        Self {
            store,
            feed,
            guard: Box::new(()),
        }
    }

    /// An adapter that is both the store and its feed.
    pub fn shared<T: EventStore + EventFeed + 'static>(adapter: Arc<T>) -> Self {
        Self::new(adapter.clone(), adapter)
    }

    /// Keeps `guard` alive (and drops it) together with the store and feed.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Box::new(guard);
        self
    }
}

/// What the feed promises about duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every event appears exactly once (SQLite, in-memory).
    ExactlyOnce,
    /// Events may be redelivered; the suite dedupes by `(account_id, sequence)` (Kafka).
    AtLeastOnce,
}

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
/// An organization's stream, which shares the log with the accounts' streams.
const ORG: &str = "o-exampleorg1";
/// How long a feed may take to show an append (an asynchronous relay needs a moment).
const FEED_DEADLINE: Duration = Duration::from_secs(20);

/// A distinct event whose payload names `tag`; the timestamp has nanoseconds to test truncation.
pub fn event(tag: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        recorded_at: Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .expect("valid timestamp"),
        actor: "arn:aws:iam::111111111111:user/alice".into(),
        request_id: format!("req-{tag}"),
        event_type: "iam.test.happened".into(),
        schema_version: 1,
        payload: serde_json::json!({ "tag": tag, "nested": { "z": 1, "a": [true, null, 2.5] } }),
    }
}

fn events(prefix: &str, n: usize) -> Vec<NewEvent> {
    (0..n).map(|i| event(&format!("{prefix}-{i}"))).collect()
}

fn claim(scope: &str, key: &str) -> ClaimChange {
    ClaimChange::Claim(UniqueClaim::new(scope, key))
}

fn release(scope: &str, key: &str) -> ClaimChange {
    ClaimChange::Release(UniqueClaim::new(scope, key))
}

async fn read_all(store: &dyn EventStore, account: &str) -> Vec<EventEnvelope> {
    store.read_stream(account, 1, u32::MAX).await.unwrap()
}

fn sequences(events: &[EventEnvelope]) -> Vec<u64> {
    events.iter().map(|e| e.sequence).collect()
}

fn expect_err<T: Debug>(result: Result<T, StoreError>, what: &str) -> StoreError {
    match result {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// EventStore
// ---------------------------------------------------------------------------------------------

/// An empty store has no accounts, heads of 0 and empty streams.
pub async fn empty_store_reads_empty(sut: StoreUnderTest) {
    let store = &*sut.store;
    assert_eq!(store.head(A).await.unwrap(), 0);
    assert!(read_all(store, A).await.is_empty());
    assert!(store.accounts().await.unwrap().is_empty());
}

/// What is appended reads back identically (timestamps to the microsecond), with the outcome's
/// sequences; `from_sequence` and `limit` select the right slice.
pub async fn append_then_read_round_trips(sut: StoreUnderTest) {
    let store = &*sut.store;
    let batch = events("rt", 3);
    let outcome = store.append(A, 0, batch.clone(), vec![]).await.unwrap();
    assert_eq!((outcome.first_sequence, outcome.last_sequence), (1, 3));
    assert!(outcome.global_position > 0);

    let expected: Vec<EventEnvelope> = batch
        .into_iter()
        .zip(1..)
        .map(|(e, seq)| e.into_envelope(A, seq))
        .collect();
    let read = read_all(store, A).await;
    assert_eq!(read, expected);
    assert_eq!(read[0].recorded_at.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(store.head(A).await.unwrap(), 3);

    assert_eq!(store.read_stream(A, 0, 10).await.unwrap(), expected);
    assert_eq!(store.read_stream(A, 2, 10).await.unwrap(), expected[1..]);
    assert_eq!(store.read_stream(A, 2, 1).await.unwrap(), expected[1..2]);
    assert!(store.read_stream(A, 4, 10).await.unwrap().is_empty());
    assert!(store.read_stream(A, 1, 0).await.unwrap().is_empty());

    let next = store.append(A, 3, events("rt2", 2), vec![]).await.unwrap();
    assert_eq!((next.first_sequence, next.last_sequence), (4, 5));
    assert!(next.global_position > outcome.global_position);
}

/// Each account's sequences run 1, 2, 3, ... without gaps, however appends interleave.
pub async fn sequences_are_gapless_per_account(sut: StoreUnderTest) {
    let store = &*sut.store;
    let mut heads = BTreeMap::from([(A, 0_u64), (B, 0_u64)]);
    for round in 0..6_usize {
        for (account, head) in &mut heads {
            let n = 1 + (round % 3);
            let out = store
                .append(account, *head, events(&format!("g{round}"), n), vec![])
                .await
                .unwrap();
            assert_eq!(out.first_sequence, *head + 1);
            *head = out.last_sequence;
        }
    }
    for (account, head) in heads {
        assert_eq!(store.head(account).await.unwrap(), head);
        let expected: Vec<u64> = (1..=head).collect();
        assert_eq!(sequences(&read_all(store, account).await), expected);
    }
}

/// An append against a stale (or future) head fails with `Conflict` and writes nothing.
pub async fn stale_expected_sequence_conflicts(sut: StoreUnderTest) {
    let store = &*sut.store;
    store.append(A, 0, events("c", 2), vec![]).await.unwrap();

    let stale = expect_err(store.append(A, 1, events("x", 1), vec![]).await, "stale");
    assert_eq!(stale, StoreError::Conflict { expected: 1, actual: 2 });
    let fresh_stream = expect_err(store.append(A, 0, events("x", 1), vec![]).await, "new");
    assert_eq!(fresh_stream, StoreError::Conflict { expected: 0, actual: 2 });
    let future = expect_err(store.append(A, 7, events("x", 1), vec![]).await, "ahead");
    assert_eq!(future, StoreError::Conflict { expected: 7, actual: 2 });
    assert!(stale.is_retryable());
    assert_eq!(store.head(A).await.unwrap(), 2);
    assert_eq!(read_all(store, A).await.len(), 2);
}

/// Many tasks append to one account against the same head each round: exactly one wins per round,
/// the others get `Conflict`, and the stream ends gapless with every winner's event once.
pub async fn concurrent_appends_have_one_winner_per_round(sut: StoreUnderTest) {
    const TASKS: usize = 8;
    const ROUNDS: u64 = 12;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = sut.store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let head = store.head(A).await.unwrap();
                assert_eq!(head, round, "every round starts from the last round's head");
                barrier.wait().await;
                let e = event(&format!("t{task}-r{round}"));
                let id = e.event_id;
                match store.append(A, head, vec![e], vec![]).await {
                    Ok(out) => {
                        assert_eq!(out.first_sequence, round + 1);
                        wins.push((round, id));
                    }
                    Err(StoreError::Conflict { expected, actual }) => {
                        assert_eq!(expected, round);
                        assert_ne!(actual, round);
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                }
                barrier.wait().await;
            }
            wins
        }));
    }
    let mut winners = BTreeMap::new();
    for handle in handles {
        for (round, id) in handle.await.unwrap() {
            assert!(winners.insert(round, id).is_none(), "two winners in round {round}");
        }
    }
    let all = read_all(&*sut.store, A).await;
    let expected: Vec<u64> = (1..=ROUNDS).collect();
    assert_eq!(sequences(&all), expected);
    assert_eq!(winners.len(), all.len(), "every round has a winner");
    for (round, id) in winners {
        assert_eq!(all[usize::try_from(round).unwrap()].event_id, id);
    }
}

/// Writers that reload and retry on `Conflict` all get through: no event lost or duplicated.
pub async fn concurrent_retrying_writers_lose_nothing(sut: StoreUnderTest) {
    const TASKS: usize = 6;
    const PER_TASK: usize = 10;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = sut.store.clone();
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                let e = event(&format!("w{task}-{i}"));
                ids.push(e.event_id);
                loop {
                    let head = store.head(A).await.unwrap();
                    match store.append(A, head, vec![e.clone()], vec![]).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for handle in handles {
        written.extend(handle.await.unwrap());
    }
    let all = read_all(&*sut.store, A).await;
    let expected: Vec<u64> = (1..=u64::try_from(TASKS * PER_TASK).unwrap()).collect();
    assert_eq!(sequences(&all), expected);
    let read: HashSet<Uuid> = all.iter().map(|e| e.event_id).collect();
    assert_eq!(read, written);
}

/// A key already claimed in the account fails the whole append with `UniqueViolation`; so does a
/// batch that claims the same key twice. Keys compare byte for byte: case is the caller's job.
pub async fn unique_claims_conflict(sut: StoreUnderTest) {
    let store = &*sut.store;
    store
        .append(A, 0, events("alice", 1), vec![claim("user-name", "alice")])
        .await
        .unwrap();

    let taken = expect_err(
        store
            .append(
                A,
                1,
                events("again", 2),
                vec![claim("role-name", "ops"), claim("user-name", "alice")],
            )
            .await,
        "claimed twice",
    );
    assert_eq!(
        taken,
        StoreError::UniqueViolation {
            scope: "user-name".into(),
            key: "alice".into()
        }
    );
    assert!(!taken.is_retryable());
    assert_eq!(store.head(A).await.unwrap(), 1, "nothing of the batch stored");
    // The failed batch's other claim was rolled back too.
    store
        .append(A, 1, events("ops", 1), vec![claim("role-name", "ops")])
        .await
        .unwrap();

    let twice = expect_err(
        store
            .append(
                A,
                2,
                events("bob", 1),
                vec![claim("user-name", "bob"), claim("user-name", "bob")],
            )
            .await,
        "same key twice in one batch",
    );
    assert!(matches!(twice, StoreError::UniqueViolation { .. }));

    // Same key in another scope, or differing in case, is a different claim.
    store
        .append(
            A,
            2,
            events("more", 1),
            vec![claim("group-name", "alice"), claim("user-name", "Alice")],
        )
        .await
        .unwrap();
    assert_eq!(store.head(A).await.unwrap(), 3);
}

/// A released key can be claimed again; release and claim of one key in one append works; and
/// releasing a key nobody holds is a no-op.
pub async fn release_then_reclaim_works(sut: StoreUnderTest) {
    let store = &*sut.store;
    store
        .append(A, 0, events("create", 1), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    store
        .append(A, 1, events("delete", 1), vec![release("user-name", "alice")])
        .await
        .unwrap();
    store
        .append(A, 2, events("recreate", 1), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    store
        .append(
            A,
            3,
            events("rename", 1),
            vec![release("user-name", "alice"), claim("user-name", "alice")],
        )
        .await
        .unwrap();
    store
        .append(A, 4, events("noop", 1), vec![release("user-name", "nobody")])
        .await
        .unwrap();
    let still_held = expect_err(
        store
            .append(A, 5, events("dup", 1), vec![claim("user-name", "alice")])
            .await,
        "still held",
    );
    assert!(matches!(still_held, StoreError::UniqueViolation { .. }));
}

/// Claims belong to one account: two accounts may hold the same key, and releasing in one
/// account leaves the other's claim in place.
pub async fn claims_are_per_account(sut: StoreUnderTest) {
    let store = &*sut.store;
    store
        .append(A, 0, events("a", 1), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    store
        .append(B, 0, events("b", 1), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    store
        .append(A, 1, events("a2", 1), vec![release("user-name", "alice")])
        .await
        .unwrap();
    let err = expect_err(
        store
            .append(B, 1, events("b2", 1), vec![claim("user-name", "alice")])
            .await,
        "B still holds it",
    );
    assert!(matches!(err, StoreError::UniqueViolation { .. }));
}

/// A claim made across streams is one key for the whole log: a second stream (an account's or
/// an organization's) cannot take it until the holder releases it, and a stream-local claim of
/// the same scope and key is a different claim.
pub async fn claims_across_streams_are_unique_in_the_log(sut: StoreUnderTest) {
    let store = &*sut.store;
    let member = || ClaimChange::Claim(UniqueClaim::across_streams("organization-member", A));
    let left = || ClaimChange::Release(UniqueClaim::across_streams("organization-member", A));
    store.append(ORG, 0, events("joined", 1), vec![member()]).await.unwrap();
    for other in ["o-otherorg000", B] {
        let err = expect_err(
            store.append(other, 0, events("joined", 1), vec![member()]).await,
            "another stream holds it",
        );
        assert_eq!(
            err,
            StoreError::UniqueViolation {
                scope: "organization-member".into(),
                key: A.into()
            }
        );
        assert_eq!(store.head(other).await.unwrap(), 0, "nothing of the batch stored");
    }
    store
        .append(B, 0, events("local", 1), vec![claim("organization-member", A)])
        .await
        .unwrap();
    store.append(ORG, 1, events("left", 1), vec![left()]).await.unwrap();
    store
        .append("o-otherorg000", 0, events("joined", 1), vec![member()])
        .await
        .unwrap();
}

/// Many tasks race to claim one key, retrying on `Conflict`: exactly one gets it.
pub async fn concurrent_claims_of_one_key_have_one_winner(sut: StoreUnderTest) {
    const TASKS: usize = 8;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = sut.store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            loop {
                let head = store.head(A).await.unwrap();
                let result = store
                    .append(
                        A,
                        head,
                        events(&format!("race{task}"), 1),
                        vec![claim("user-name", "alice")],
                    )
                    .await;
                match result {
                    Ok(_) => return true,
                    Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                    Err(StoreError::UniqueViolation { .. }) => return false,
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            }
        }));
    }
    let mut winners = 0;
    for handle in handles {
        if handle.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(sut.store.head(A).await.unwrap(), 1);
}

/// An event id already stored (or repeated in the batch) fails the whole append, claims included.
pub async fn duplicate_event_ids_are_rejected(sut: StoreUnderTest) {
    let store = &*sut.store;
    let first = event("first");
    store.append(A, 0, vec![first.clone()], vec![]).await.unwrap();

    let again = expect_err(
        store
            .append(B, 0, vec![event("other"), first.clone()], vec![claim("user-name", "x")])
            .await,
        "id reused in another account",
    );
    assert_eq!(again, StoreError::DuplicateEventId(first.event_id));
    assert_eq!(store.head(B).await.unwrap(), 0);

    let twin = event("twin");
    let err = expect_err(
        store.append(A, 1, vec![twin.clone(), twin], vec![]).await,
        "id repeated in the batch",
    );
    assert!(matches!(err, StoreError::DuplicateEventId(_)));
    assert_eq!(store.head(A).await.unwrap(), 1);
    // The rolled-back claim is free.
    store
        .append(B, 0, events("b", 1), vec![claim("user-name", "x")])
        .await
        .unwrap();
}

/// Reading one account never returns another's events; `accounts` lists each account once.
pub async fn accounts_are_isolated(sut: StoreUnderTest) {
    let store = &*sut.store;
    store.append(B, 0, events("b", 2), vec![]).await.unwrap();
    store.append(A, 0, events("a", 3), vec![]).await.unwrap();
    store.append(B, 2, events("b", 1), vec![]).await.unwrap();

    let a = read_all(store, A).await;
    let b = read_all(store, B).await;
    assert_eq!(sequences(&a), vec![1, 2, 3]);
    assert_eq!(sequences(&b), vec![1, 2, 3]);
    assert!(a.iter().all(|e| e.account_id == A));
    assert!(b.iter().all(|e| e.account_id == B));
    assert!(read_all(store, C).await.is_empty());
    assert_eq!(store.head(C).await.unwrap(), 0);
    assert_eq!(store.accounts().await.unwrap(), vec![A.to_owned(), B.to_owned()]);
}

/// An organization's stream (keyed `o-...`) lives beside the accounts' streams: it reads back
/// what was appended, its head and sequences are its own, its claims are its own, and
/// `accounts` lists it with the accounts, in ascending byte order.
pub async fn organization_streams_live_beside_account_streams(sut: StoreUnderTest) {
    let store = &*sut.store;
    let a = store
        .append(A, 0, events("a", 2), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    let org_batch = events("org", 3);
    let org = store
        .append(ORG, 0, org_batch.clone(), vec![claim("user-name", "alice")])
        .await
        .unwrap();
    assert_eq!(
        (org.first_sequence, org.last_sequence),
        (1, 3),
        "the organization starts at 1"
    );
    assert!(org.global_position > a.global_position);
    let a2 = store.append(A, 2, events("a2", 1), vec![]).await.unwrap();
    assert_eq!((a2.first_sequence, a2.last_sequence), (3, 3));

    let expected: Vec<EventEnvelope> = org_batch
        .into_iter()
        .zip(1..)
        .map(|(e, seq)| e.into_envelope(ORG, seq))
        .collect();
    assert_eq!(read_all(store, ORG).await, expected);
    assert_eq!(store.read_stream(ORG, 2, 1).await.unwrap(), expected[1..2]);
    assert_eq!(sequences(&read_all(store, A).await), vec![1, 2, 3]);
    assert!(read_all(store, A).await.iter().all(|e| e.account_id == A));
    assert_eq!(store.head(ORG).await.unwrap(), 3);
    assert_eq!(store.head(A).await.unwrap(), 3);
    assert_eq!(store.head("o-otherorg000").await.unwrap(), 0);
    assert!(read_all(store, "o-otherorg000").await.is_empty());

    let stale = expect_err(store.append(ORG, 2, events("x", 1), vec![]).await, "stale org head");
    assert_eq!(stale, StoreError::Conflict { expected: 2, actual: 3 });
    let taken = expect_err(
        store
            .append(ORG, 3, events("x", 1), vec![claim("user-name", "alice")])
            .await,
        "claim held in the organization",
    );
    assert!(matches!(taken, StoreError::UniqueViolation { .. }));
    store.append(ORG, 3, events("org2", 1), vec![]).await.unwrap();
    assert_eq!(store.head(ORG).await.unwrap(), 4);
    assert_eq!(store.head(A).await.unwrap(), 3);

    store.append(B, 0, events("b", 1), vec![]).await.unwrap();
    assert_eq!(
        store.accounts().await.unwrap(),
        vec![A.to_owned(), B.to_owned(), ORG.to_owned()]
    );
}

/// Malformed stream ids and empty batches are refused before anything is written.
pub async fn invalid_input_is_rejected(sut: StoreUnderTest) {
    let store = &*sut.store;
    for bad in [
        "",
        "12345",
        "1234567890123",
        "12345678901x",
        "../111111111",
        "o-abc",
        "o-EXAMPLEORG1",
        "r-exampleorg1",
        "o-exampleorg1-",
    ] {
        let err = expect_err(store.append(bad, 0, events("x", 1), vec![]).await, bad);
        assert_eq!(err, StoreError::InvalidAccountId(bad.to_owned()));
        assert!(matches!(
            store.read_stream(bad, 1, 10).await,
            Err(StoreError::InvalidAccountId(_))
        ));
        assert!(matches!(store.head(bad).await, Err(StoreError::InvalidAccountId(_))));
    }
    let empty = expect_err(store.append(A, 0, vec![], vec![]).await, "empty batch");
    assert!(matches!(empty, StoreError::InvalidAppend(_)));
    assert!(store.accounts().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// EventFeed
// ---------------------------------------------------------------------------------------------

/// Follows the feed from `after` until `want` distinct `(account, sequence)` pairs were seen.
async fn follow(feed: &dyn EventFeed, mut after: u64, want: usize) -> Vec<(u64, EventEnvelope)> {
    let deadline = Instant::now() + FEED_DEADLINE;
    let mut out: Vec<(u64, EventEnvelope)> = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < want {
        assert!(Instant::now() < deadline, "feed showed {} of {want} events", seen.len());
        let page = feed.read_from(after, 4).await.unwrap();
        if page.is_empty() {
            feed.wait_for(after, Duration::from_millis(200)).await.unwrap();
            continue;
        }
        for (position, event) in page {
            assert!(position > after, "positions must increase");
            after = position;
            seen.insert((event.account_id.clone(), event.sequence));
            out.push((position, event));
        }
    }
    out
}

/// Checks per-account order and, for exactly-once feeds, that nothing repeats. Reading from a
/// checkpoint, an account's first event may have any sequence; from the start it must be 1.
fn check_order(items: &[(u64, EventEnvelope)], delivery: Delivery, from_start: bool) {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, event) in items {
        let account = event.account_id.as_str();
        let Some(previous) = last.get(account).copied() else {
            if from_start {
                assert_eq!(event.sequence, 1, "account {account} does not start at 1");
            }
            last.insert(account, event.sequence);
            continue;
        };
        match delivery {
            Delivery::ExactlyOnce => assert_eq!(
                event.sequence,
                previous + 1,
                "account {account} out of order or repeated"
            ),
            Delivery::AtLeastOnce => assert!(event.sequence <= previous + 1, "account {account} skipped a sequence"),
        }
        last.insert(account, previous.max(event.sequence));
    }
}

async fn append_mixed(store: &dyn EventStore) -> usize {
    let mut heads = BTreeMap::from([(A, 0_u64), (B, 0_u64), (C, 0_u64)]);
    let mut total = 0;
    for round in 0..5_usize {
        for (account, head) in &mut heads {
            let n = 1 + (round % 2);
            let out = store
                .append(account, *head, events(&format!("f{round}"), n), vec![])
                .await
                .unwrap();
            *head = out.last_sequence;
            total += n;
        }
    }
    total
}

/// The feed shows every appended event in per-account order, with strictly increasing
/// positions, from the start and from every checkpoint it handed out.
pub async fn feed_delivers_every_event_in_order(sut: FeedUnderTest, delivery: Delivery) {
    let total = append_mixed(&*sut.store).await;
    let all = follow(&*sut.feed, 0, total).await;
    check_order(&all, delivery, true);
    if delivery == Delivery::ExactlyOnce {
        assert_eq!(all.len(), total);
    }
    for (i, (checkpoint, _)) in all.iter().enumerate() {
        let rest: HashSet<(String, u64)> = all[i + 1..]
            .iter()
            .map(|(_, e)| (e.account_id.clone(), e.sequence))
            .collect();
        let from_checkpoint = follow(&*sut.feed, *checkpoint, rest.len()).await;
        check_order(&from_checkpoint, delivery, false);
        let got: HashSet<(String, u64)> = from_checkpoint
            .iter()
            .map(|(_, e)| (e.account_id.clone(), e.sequence))
            .collect();
        assert!(got.is_superset(&rest), "events missing after {checkpoint}");
        if delivery == Delivery::ExactlyOnce {
            assert_eq!(from_checkpoint, all[i + 1..]);
        }
    }
    let stored: Vec<EventEnvelope> = read_all(&*sut.store, A).await;
    let fed: Vec<EventEnvelope> = all
        .iter()
        .filter(|(_, e)| e.account_id == A)
        .map(|(_, e)| e.clone())
        .collect();
    if delivery == Delivery::ExactlyOnce {
        assert_eq!(fed, stored, "the feed carries the stored envelopes");
    }
}

/// An append's `global_position` is the feed position of its last event, and the feed's latest
/// position catches up to it.
pub async fn feed_positions_match_append_outcomes(sut: FeedUnderTest) {
    assert_eq!(sut.feed.latest_position().await.unwrap(), 0);
    assert!(sut.feed.read_from(0, 10).await.unwrap().is_empty());
    let out = sut.store.append(A, 0, events("p", 3), vec![]).await.unwrap();
    let fed = follow(&*sut.feed, 0, 3).await;
    let (position, last) = fed.last().unwrap();
    assert_eq!((last.account_id.as_str(), last.sequence), (A, 3));
    assert_eq!(*position, out.global_position);
    let deadline = Instant::now() + FEED_DEADLINE;
    while sut.feed.latest_position().await.unwrap() < out.global_position {
        assert!(Instant::now() < deadline, "latest position never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sut.feed.read_from(out.global_position, 10).await.unwrap().is_empty());
}

/// `wait_for` returns at once when the reader is behind, times out with `false` when nothing
/// comes, and wakes well before its timeout when an append commits.
pub async fn wait_for_wakes_on_append(sut: FeedUnderTest) {
    let quiet = sut.feed.wait_for(0, Duration::from_millis(50)).await.unwrap();
    assert!(!quiet, "nothing was appended");

    let feed = sut.feed.clone();
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let woke = feed.wait_for(0, Duration::from_secs(30)).await.unwrap();
        (woke, started.elapsed())
    });
    // Give the waiter a chance to start waiting; the check is correct either way.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let out = sut.store.append(A, 0, events("wake", 1), vec![]).await.unwrap();
    let (woke, elapsed) = waiter.await.unwrap();
    assert!(woke);
    assert!(elapsed < FEED_DEADLINE, "woke only after {elapsed:?}");

    let started = Instant::now();
    assert!(sut.feed.wait_for(0, Duration::from_secs(30)).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5), "already behind");
    let caught_up = sut
        .feed
        .wait_for(out.global_position, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(!caught_up);
}

/// Generates one `#[tokio::test]` per [`EventStore`] conformance check in a module named
/// `event_store_conformance`. The argument is a callable returning a future of a fresh
/// [`StoreUnderTest`]. Attributes after it are put on every generated test, e.g. an adapter that
/// needs a server passes `#[ignore = "needs PostgreSQL"]`:
///
/// ```text
/// iam_eventlog::event_store_conformance_tests!(postgres_store, #[ignore = "needs PostgreSQL"]);
/// ```
#[macro_export]
macro_rules! event_store_conformance_tests {
    ($factory:expr $(, #[$attr:meta])* $(,)?) => {
        mod event_store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(
                $factory;
                [$(#[$attr])*];
                empty_store_reads_empty,
                append_then_read_round_trips,
                sequences_are_gapless_per_account,
                stale_expected_sequence_conflicts,
                concurrent_appends_have_one_winner_per_round,
                concurrent_retrying_writers_lose_nothing,
                unique_claims_conflict,
                release_then_reclaim_works,
                claims_are_per_account,
                claims_across_streams_are_unique_in_the_log,
                concurrent_claims_of_one_key_have_one_winner,
                duplicate_event_ids_are_rejected,
                accounts_are_isolated,
                organization_streams_live_beside_account_streams,
                invalid_input_is_rejected,
            );
        }
    };
}

/// Generates one `#[tokio::test]` per [`EventFeed`] conformance check in a module named
/// `event_feed_conformance`. The first argument is a callable returning a future of a fresh
/// [`FeedUnderTest`]; the second is `exactly_once` or `at_least_once` (see [`Delivery`]).
/// Attributes after them are put on every generated test, as for
/// [`event_store_conformance_tests!`](crate::event_store_conformance_tests).
#[macro_export]
macro_rules! event_feed_conformance_tests {
    ($factory:expr, exactly_once $(, #[$attr:meta])* $(,)?) => {
        $crate::event_feed_conformance_tests!(@ $factory, ExactlyOnce, [$(#[$attr])*]);
    };
    ($factory:expr, at_least_once $(, #[$attr:meta])* $(,)?) => {
        $crate::event_feed_conformance_tests!(@ $factory, AtLeastOnce, [$(#[$attr])*]);
    };
    (@ $factory:expr, $delivery:ident, [$(#[$attr:meta])*]) => {
        mod event_feed_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(#[$attr])*
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn feed_delivers_every_event_in_order() {
                $crate::conformance::feed_delivers_every_event_in_order(
                    ($factory)().await,
                    $crate::conformance::Delivery::$delivery,
                )
                .await;
            }
            $crate::__conformance_tests!(
                $factory;
                [$(#[$attr])*];
                feed_positions_match_append_outcomes,
                wait_for_wakes_on_append,
            );
        }
    };
}

/// Expands each named conformance check into a multi-threaded `#[tokio::test]` carrying the
/// bracketed attributes.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $attrs:tt; $($name:ident),+ $(,)?) => {
        $(
            $crate::__conformance_test!($factory; $attrs; $name);
        )+
    };
}

/// One conformance check as a test; the attribute list arrives as a single token tree so that
/// `__conformance_tests!` can repeat it for every check.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($factory:expr; [$(#[$attr:meta])*]; $name:ident) => {
        $(#[$attr])*
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            $crate::conformance::$name(($factory)().await).await;
        }
    };
}
