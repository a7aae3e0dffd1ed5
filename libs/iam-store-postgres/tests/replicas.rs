//! Several store instances on one database, as several gateway replicas (and a projector) would
//! use it: conflicting commands to one account from two replicas, a follower reading while
//! appends commit in parallel, an appender that holds the append lock too long, and logs in two
//! schemas of one database, whose appends never wait for each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use iam_eventlog::conformance::event;
use iam_eventlog::{ClaimChange, EventFeed, EventStore, NewEvent, StoreError, UniqueClaim};
use iam_store_postgres::{append_lock_key, PostgresEventStore, APPEND_LOCK};
use sqlx::PgConnection;
use support::TestSchema;
use tokio::sync::{Barrier, Mutex};
use tokio::task::JoinSet;

const ACCOUNT: &str = "123456789012";
const CREATED: &str = "iam.user.created";
const DELETED: &str = "iam.user.deleted";

fn user_event(kind: &str, name: &str) -> NewEvent {
    let mut e = event(&format!("{kind}-{name}"));
    e.event_type = kind.into();
    e.payload = serde_json::json!({ "userName": name });
    e
}

fn name_claim(name: &str) -> UniqueClaim {
    UniqueClaim::new("user-name", name)
}

/// Why a command was refused, as the API would say it.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    EntityAlreadyExists,
    NoSuchEntity,
}

/// A gateway replica reduced to what matters here: its own view of one account (the user names
/// the account's events hold), caught up from the log, and the decide / append with the expected
/// head / catch up and retry on conflict loop that `iam-app` runs. Writes within a replica are
/// serialized (the mutex), as `iam-app` serializes writes to one account in-process; between
/// replicas only the store decides.
struct Replica {
    store: PostgresEventStore,
    view: Mutex<View>,
}

#[derive(Default)]
struct View {
    head: u64,
    users: BTreeSet<String>,
}

impl Replica {
    async fn new(store: PostgresEventStore) -> Self {
        let replica = Self {
            store,
            view: Mutex::default(),
        };
        replica.catch_up(&mut *replica.view.lock().await).await;
        replica
    }

    async fn catch_up(&self, view: &mut View) {
        for e in self.store.read_stream(ACCOUNT, view.head + 1, u32::MAX).await.unwrap() {
            assert_eq!(e.sequence, view.head + 1, "gapless");
            let name = e.payload["userName"].as_str().unwrap().to_owned();
            match e.event_type.as_str() {
                CREATED => assert!(view.users.insert(name), "created twice in the log"),
                DELETED => assert!(view.users.remove(&name), "deleted a user that was not there"),
                other => panic!("unexpected event {other}"),
            }
            view.head = e.sequence;
        }
    }

    async fn create_user(&self, name: &str) -> Result<(), Refused> {
        let mut view = self.view.lock().await;
        loop {
            if view.users.contains(name) {
                return Err(Refused::EntityAlreadyExists);
            }
            let claims = vec![ClaimChange::Claim(name_claim(name))];
            match self
                .store
                .append(ACCOUNT, view.head, vec![user_event(CREATED, name)], claims)
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => self.catch_up(&mut view).await,
                // The view is current when the head matched, so the claim can only be taken
                // if the log and the claims disagree.
                Err(StoreError::UniqueViolation { .. }) => panic!("claim taken although `{name}` is not in the log"),
                Err(other) => panic!("create {name}: {other:?}"),
            }
        }
        self.catch_up(&mut view).await;
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> Result<(), Refused> {
        let mut view = self.view.lock().await;
        loop {
            if !view.users.contains(name) {
                return Err(Refused::NoSuchEntity);
            }
            let claims = vec![ClaimChange::Release(name_claim(name))];
            match self
                .store
                .append(ACCOUNT, view.head, vec![user_event(DELETED, name)], claims)
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => self.catch_up(&mut view).await,
                Err(other) => panic!("delete {name}: {other:?}"),
            }
        }
        self.catch_up(&mut view).await;
        Ok(())
    }
}

/// Every task's result in spawn order. The first task to panic fails the test at once and the
/// others are aborted, rather than left waiting at a barrier for a partner that is gone.
async fn join_all<T: 'static>(mut tasks: JoinSet<(usize, T)>) -> Vec<T> {
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("{error}"),
        }
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Replays the account's log: the users it holds at the end; panics if it ever holds a name twice.
async fn replay(store: &PostgresEventStore) -> (u64, BTreeSet<String>) {
    let mut view = View::default();
    let replica = Replica {
        store: store.clone(),
        view: Mutex::default(),
    };
    replica.catch_up(&mut view).await;
    (view.head, view.users)
}

async fn claimed_names(schema: &TestSchema) -> BTreeSet<String> {
    let mut conn = schema.connection().await;
    sqlx::query_scalar("SELECT key FROM unique_claims WHERE account_id = $1 AND scope = 'user-name'")
        .bind(ACCOUNT)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn two_replicas_creating_one_name_at_once_have_one_winner() {
    const ROUNDS: usize = 25;
    let schema = TestSchema::create().await;
    let replicas = [
        Arc::new(Replica::new(schema.store().await).await),
        Arc::new(Replica::new(schema.store().await).await),
    ];
    let barrier = Arc::new(Barrier::new(replicas.len()));
    let mut tasks = JoinSet::new();
    for (i, replica) in replicas.iter().enumerate() {
        let (replica, barrier) = (replica.clone(), barrier.clone());
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                outcomes.push(replica.create_user(&format!("user{round}")).await);
            }
            (i, outcomes)
        });
    }
    let results = join_all(tasks).await;
    for round in 0..ROUNDS {
        let outcomes: Vec<&Result<(), Refused>> = results.iter().map(|r| &r[round]).collect();
        let wins = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {outcomes:?}");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(Refused::EntityAlreadyExists))));
    }
    let (head, users) = replay(&replicas[0].store).await;
    assert_eq!(
        head,
        u64::try_from(ROUNDS).unwrap(),
        "one event per name, no duplicates"
    );
    assert_eq!(users.len(), ROUNDS);
    assert_eq!(claimed_names(&schema).await, users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn two_replicas_creating_and_deleting_never_hold_a_name_twice() {
    const NAMES: u64 = 4;
    const COMMANDS: u64 = 60;
    let schema = TestSchema::create().await;
    let replicas = [
        Arc::new(Replica::new(schema.store().await).await),
        Arc::new(Replica::new(schema.store().await).await),
    ];
    let mut tasks = JoinSet::new();
    // Two request handlers per replica, each with its own deterministic command walk.
    for (r, replica) in replicas.iter().enumerate() {
        for handler in 0..2_u64 {
            let replica = replica.clone();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (u64::try_from(r).unwrap() * 2 + handler);
            tasks.spawn(async move {
                let mut accepted = 0_u64;
                for _ in 0..COMMANDS {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let name = format!("user{}", (seed >> 33) % NAMES);
                    let outcome = if (seed >> 40) % 2 == 0 {
                        replica.create_user(&name).await
                    } else {
                        replica.delete_user(&name).await
                    };
                    if outcome.is_ok() {
                        accepted += 1;
                    }
                }
                (r * 2 + usize::try_from(handler).unwrap(), accepted)
            });
        }
    }
    let accepted: u64 = join_all(tasks).await.into_iter().sum();
    // Replaying panics if a name was ever created twice or deleted while absent.
    let (head, users) = replay(&replicas[1].store).await;
    assert_eq!(
        head, accepted,
        "every accepted command is one event, every refused one none"
    );
    assert!(accepted > 0);
    assert_eq!(
        claimed_names(&schema).await,
        users,
        "the claims are exactly the live names"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn a_follower_never_skips_events_committed_in_parallel() {
    const WRITERS_PER_REPLICA: usize = 3;
    const APPENDS: usize = 40;
    let schema = TestSchema::create().await;
    let replicas = [schema.store().await, schema.store().await];
    let follower = schema.store().await;

    let mut writers = JoinSet::new();
    for (r, replica) in replicas.iter().enumerate() {
        for w in 0..WRITERS_PER_REPLICA {
            // Each writer has an account of its own: no conflicts, only racing commits.
            let account = format!("{:012}", 100_000_000_000 + r * 10 + w);
            let store = replica.clone();
            writers.spawn(async move {
                let mut head = 0;
                for i in 0..APPENDS {
                    let batch = (0..=i % 3).map(|j| event(&format!("{account}-{i}-{j}"))).collect();
                    head = store.append(&account, head, batch, vec![]).await.unwrap().last_sequence;
                }
                (r * WRITERS_PER_REPLICA + w, (account, head))
            });
        }
    }
    // Follow while the writers run: read, remember the last position, never look back.
    let reading = tokio::spawn(async move {
        let mut after = 0;
        let mut seen = Vec::new();
        let mut quiet_reads = 0;
        while quiet_reads < 3 {
            let page = follower.read_from(after, 7).await.unwrap();
            if page.is_empty() {
                if !follower.wait_for(after, Duration::from_millis(300)).await.unwrap() {
                    quiet_reads += 1;
                }
                continue;
            }
            quiet_reads = 0;
            for (position, e) in page {
                assert!(position > after);
                after = position;
                seen.push((position, e.account_id, e.sequence));
            }
        }
        seen
    });
    let heads: BTreeMap<String, u64> = join_all(writers).await.into_iter().collect();
    let seen = reading.await.unwrap();

    let total: u64 = heads.values().sum();
    let positions: Vec<u64> = seen.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(
        positions,
        (1..=total).collect::<Vec<_>>(),
        "positions are gapless and none was skipped"
    );
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, account, sequence) in &seen {
        let expected = next.entry(account.as_str()).or_insert(1);
        assert_eq!(sequence, expected, "account {account} in order");
        *expected += 1;
    }
    let fed: BTreeMap<String, u64> = next.into_iter().map(|(a, n)| (a.to_owned(), n - 1)).collect();
    assert_eq!(fed, heads);
    let distinct: HashSet<(&str, u64)> = seen.iter().map(|(_, a, s)| (a.as_str(), *s)).collect();
    assert_eq!(distinct.len(), seen.len(), "exactly once");
}

/// Takes the advisory lock `key` in a transaction left open on `conn`, as a replica stalled in
/// the middle of appending would hold it.
async fn hold_lock(conn: &mut PgConnection, key: i64) {
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Whether any session of this database holds the advisory lock `key` (PostgreSQL shows a
/// bigint key as its high and low halves).
async fn lock_held(conn: &mut PgConnection, key: i64) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.objsubid = 1 \
         AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = $1)",
    )
    .bind(key)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Several appends at once to different accounts of `store`: they wait for the append lock
/// together, in one group or a few.
async fn append_several(store: &PostgresEventStore, tag: &str) -> Vec<Result<u64, StoreError>> {
    let mut tasks = JoinSet::new();
    for n in 0..4_usize {
        let store = store.clone();
        let e = event(&format!("{tag}-{n}"));
        tasks.spawn(async move {
            let account = format!("{:012}", 200_000_000_000 + n);
            (
                n,
                store
                    .append(&account, 0, vec![e], vec![])
                    .await
                    .map(|o| o.last_sequence),
            )
        });
    }
    join_all(tasks).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn an_appender_that_dies_holding_the_append_lock_blocks_others_only_until_it_ends() {
    let schema = TestSchema::create().await;
    let mut options = schema.options();
    options.lock_timeout = Duration::from_millis(300);
    let store = schema.store_with(options).await;
    let key = append_lock_key(Some(&schema.name));

    // A session that took the append lock and stalls, as a replica paused mid-append would.
    let mut stalled = schema.connection().await;
    hold_lock(&mut stalled, key).await;
    for blocked in append_several(&store, "blocked").await {
        let blocked = blocked.expect_err("the lock is held");
        assert!(matches!(blocked, StoreError::Unavailable(_)), "{blocked:?}");
        assert!(blocked.is_retryable());
    }
    assert_eq!(store.head(ACCOUNT).await.unwrap(), 0, "reads do not take the lock");
    assert!(
        store.read_from(0, 10).await.unwrap().is_empty(),
        "the failed groups left nothing"
    );

    // The stalled replica dies (its connection drops without a word): the server ends its
    // transaction and frees the lock, as soon as it notices the dropped connection, which it
    // does asynchronously. Once the lock is free, an append succeeds at the first try.
    drop(stalled);
    let mut observer = schema.connection().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lock_held(&mut observer, key).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never ended the dead session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = store
        .append(ACCOUNT, 0, vec![event("after")], vec![])
        .await
        .expect("the lock is free");
    assert_eq!(out.last_sequence, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn logs_in_different_schemas_never_wait_for_each_others_append_lock() {
    let (one, other) = (TestSchema::create().await, TestSchema::create().await);
    let with_short_timeout = |schema: &TestSchema| {
        let mut options = schema.options();
        // An append that had to wait for a held lock fails after this: succeeding proves it
        // did not wait.
        options.lock_timeout = Duration::from_millis(300);
        options
    };
    let first = one.store_with(with_short_timeout(&one)).await;
    let second = other.store_with(with_short_timeout(&other)).await;
    assert_ne!(append_lock_key(Some(&one.name)), append_lock_key(Some(&other.name)));

    // A replica of the first log stalls holding its append lock (and, for good measure, the
    // key every log shared before keys were per schema).
    let mut holder = one.connection().await;
    hold_lock(&mut holder, append_lock_key(Some(&one.name))).await;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();

    assert_eq!(
        append_several(&second, "free").await,
        vec![Ok(1), Ok(1), Ok(1), Ok(1)],
        "the other schema's appends go through"
    );
    for blocked in append_several(&first, "blocked").await {
        assert!(matches!(blocked, Err(StoreError::Unavailable(_))), "{blocked:?}");
    }

    // The holder commits: the first log's appends go through again, at the first try.
    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    assert_eq!(append_several(&first, "after").await, vec![Ok(1), Ok(1), Ok(1), Ok(1)]);
    assert_eq!(second.latest_position().await.unwrap(), 4);
    assert_eq!(first.latest_position().await.unwrap(), 4);
}
