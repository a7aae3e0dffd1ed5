//! Group commit: many appends racing through one store (so they share transactions), some of them
//! bound to fail on a stale head, a taken claim, a reused event id or input PostgreSQL cannot
//! store. Each must get exactly the answer it would get had the appends run one at a time, and
//! the log must be exactly that serial history.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use iam_eventlog::conformance::event;
use iam_eventlog::{
    AppendOutcome, ClaimChange, EventFeed, EventStore, MemoryEventStore, NewEvent, StoreError, UniqueClaim,
};
use support::TestSchema;
use tokio::sync::Barrier;

/// One append of the workload.
#[derive(Debug, Clone)]
struct Append {
    account: String,
    expected: u64,
    events: Vec<NewEvent>,
    claims: Vec<ClaimChange>,
}

fn account(group: u64, n: u64) -> String {
    format!("{:012}", 100_000_000_000 + group * 1_000 + n)
}

fn claim(key: &str) -> ClaimChange {
    ClaimChange::Claim(UniqueClaim::new("user-name", key))
}

fn release(key: &str) -> ClaimChange {
    ClaimChange::Release(UniqueClaim::new("user-name", key))
}

fn append(account: String, expected: u64, tag: &str, claims: Vec<ClaimChange>) -> Append {
    Append {
        account,
        expected,
        events: vec![event(tag), event(&format!("{tag}'"))],
        claims,
    }
}

/// The appends made before the race (each account's state), then the 64 racing ones.
fn workload() -> (Vec<Append>, Vec<Append>) {
    let mut setup = Vec::new();
    let mut racing = Vec::new();
    // Fresh accounts: all succeed.
    for n in 0..16 {
        racing.push(append(account(1, n), 0, &format!("fresh-{n}"), vec![claim("alice")]));
    }
    // Twelve appends against one head: one wins, the others get `Conflict`.
    for n in 0..12 {
        racing.push(append(
            account(2, 0),
            0,
            &format!("race-{n}"),
            vec![claim(&format!("racer-{n}"))],
        ));
    }
    // `bob` is taken in these accounts: claiming it fails, releasing it and claiming `carol` not.
    for n in 0..8 {
        setup.push(append(account(3, n), 0, &format!("bob-{n}"), vec![claim("bob")]));
        let claims = if n % 2 == 0 {
            vec![claim("bob")]
        } else {
            vec![release("bob"), claim("carol")]
        };
        racing.push(append(account(3, n), 2, &format!("taken-{n}"), claims));
    }
    // Pairs of appends to different accounts sharing an event id: one of each pair wins.
    for pair in 0..4 {
        let shared = event(&format!("shared-{pair}"));
        for side in 0..2 {
            let mut a = append(account(4, pair * 2 + side), 0, &format!("dup-{pair}-{side}"), vec![]);
            a.events.push(shared.clone());
            racing.push(a);
        }
    }
    // One account, four appends for each of its first four heads (each append adds two events): what succeeds depends on the
    // order the appends queue in, and half of them claim the same name, so some that pass the
    // head check find the name taken by an earlier append, often of the same group.
    for n in 0..16 {
        let claims = if n % 4 < 2 {
            vec![claim("hot")]
        } else {
            vec![claim(&format!("cold-{n}")), release("hot")]
        };
        racing.push(append(account(5, 0), n / 4 * 2, &format!("chain-{n}"), claims));
    }
    // Input PostgreSQL cannot store (a NUL in JSON): fails alone, in the middle of a group.
    let mut nul = append(account(6, 0), 0, "nul", vec![claim("alice")]);
    nul.events[0].payload = serde_json::json!({ "name": "a\u{0}b" });
    racing.push(nul);
    // Fill up to 64 with fresh accounts.
    for n in 16..19 {
        racing.push(append(account(1, n), 0, &format!("fresh-{n}"), vec![claim("alice")]));
    }
    assert_eq!(racing.len(), 64);
    (setup, racing)
}

async fn run(store: &impl EventStore, a: Append) -> Result<AppendOutcome, StoreError> {
    store.append(&a.account, a.expected, a.events, a.claims).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn concurrent_appends_each_get_the_answer_of_a_serial_history() {
    let schema = TestSchema::create().await;
    let store = schema.store().await;
    let (setup, racing) = workload();
    for a in setup.clone() {
        run(&store, a).await.expect("setup");
    }

    let barrier = Arc::new(Barrier::new(racing.len()));
    let tasks: Vec<_> = racing
        .iter()
        .cloned()
        .map(|a| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                run(&store, a).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }

    // The answers that do not depend on the order the appends queued in.
    let outcome = |i: usize| &results[i];
    for i in (0..16).chain(61..64) {
        assert_eq!(outcome(i).as_ref().map(|o| o.first_sequence), Ok(1), "fresh {i}");
    }
    let race: Vec<_> = (16..28).map(outcome).collect();
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1, "{race:?}");
    assert!(race
        .iter()
        .all(|r| r.is_ok() || **r == Err(StoreError::Conflict { expected: 0, actual: 2 })));
    for (n, i) in (28..36).enumerate() {
        if n % 2 == 0 {
            assert!(
                matches!(outcome(i), Err(StoreError::UniqueViolation { key, .. }) if key == "bob"),
                "{:?}",
                outcome(i)
            );
        } else {
            assert_eq!(outcome(i).as_ref().map(|o| o.last_sequence), Ok(4));
        }
    }
    for pair in 0..4 {
        let (a, b) = (outcome(36 + pair * 2), outcome(37 + pair * 2));
        assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
        let shared = racing[36 + pair * 2].events[2].event_id;
        assert!([a, b].contains(&&Err(StoreError::DuplicateEventId(shared))));
    }
    assert!(
        matches!(outcome(60), Err(StoreError::InvalidAppend(_))),
        "{:?}",
        outcome(60)
    );
    assert!(
        (44..60).any(|i| outcome(i).is_ok()),
        "the first append at the chain's first head succeeds"
    );

    // The serial history: the successful appends in position order, each failed one just before
    // the next success to its account (where its account's state is the one it was judged
    // against), replayed into the reference store. Every answer must come out the same.
    let reference = MemoryEventStore::new();
    let setup_claims = setup.clone();
    for a in setup {
        run(&reference, a).await.expect("setup");
    }
    let mut successes: Vec<(u64, usize)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|o| (o.global_position, i)))
        .collect();
    successes.sort_unstable();
    let mut failures_before: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut failures_at_end = Vec::new();
    for (i, result) in results.iter().enumerate() {
        let Err(error) = result else { continue };
        if matches!(error, StoreError::InvalidAppend(_)) {
            continue; // PostgreSQL's own limit: the reference stores a NUL.
        }
        let next_success = successes.iter().map(|(_, s)| *s).find(|s| {
            racing[*s].account == racing[i].account
                && results[*s].as_ref().unwrap().first_sequence > head_seen(error, &racing[i])
        });
        match next_success {
            Some(s) => failures_before.entry(s).or_default().push(i),
            None => failures_at_end.push(i),
        }
    }
    let mut replayed = 0;
    for (_, s) in &successes {
        for &i in failures_before.get(s).into_iter().flatten() {
            assert_eq!(&run(&reference, racing[i].clone()).await, &results[i], "append {i}");
            replayed += 1;
        }
        assert_eq!(&run(&reference, racing[*s].clone()).await, &results[*s], "append {s}");
        replayed += 1;
    }
    for i in failures_at_end {
        assert_eq!(&run(&reference, racing[i].clone()).await, &results[i], "append {i}");
        replayed += 1;
    }
    assert_eq!(replayed, racing.len() - 1, "every answer but the NUL one was checked");

    // The log, the outbox and the claims are exactly the serial history's.
    let logged = store.read_from(0, 10_000).await.expect("read");
    assert_eq!(logged, reference.read_from(0, 10_000).await.expect("read"));
    let mut conn = schema.connection().await;
    let queued: Vec<i64> = sqlx::query_scalar("SELECT global_position FROM outbox ORDER BY global_position")
        .fetch_all(&mut conn)
        .await
        .expect("outbox");
    let expected: Vec<i64> = (1..=i64::try_from(logged.len()).unwrap()).collect();
    assert_eq!(queued, expected, "gapless positions, each queued once");
    let mut held = BTreeSet::new();
    let applied = setup_claims.iter().chain(successes.iter().map(|(_, s)| &racing[*s]));
    for a in applied {
        for change in &a.claims {
            match change {
                ClaimChange::Claim(c) => held.insert((a.account.clone(), c.key.clone())),
                ClaimChange::Release(c) => held.remove(&(a.account.clone(), c.key.clone())),
            };
        }
    }
    let stored: BTreeSet<(String, String)> = sqlx::query_as("SELECT account_id, key FROM unique_claims")
        .fetch_all(&mut conn)
        .await
        .expect("claims")
        .into_iter()
        .collect();
    assert_eq!(stored, held);
    for account in reference.accounts().await.expect("accounts") {
        assert_eq!(
            store.head(&account).await.expect("head"),
            reference.head(&account).await.expect("head"),
            "{account}"
        );
    }
}

/// The head a failed append was judged against: a conflict reports it; any other failure passed
/// the head check, so the head was the expected one.
fn head_seen(error: &StoreError, a: &Append) -> u64 {
    match error {
        StoreError::Conflict { actual, .. } => *actual,
        _ => a.expected,
    }
}
