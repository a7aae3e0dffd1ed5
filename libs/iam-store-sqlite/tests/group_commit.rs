//! Group commit: concurrent appends share transactions, yet each succeeds or fails on its own,
//! exactly as if they had been committed one after another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::Utc;
use iam_eventlog::{ClaimChange, EventStore, NewEvent, StoreError, UniqueClaim};
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};

fn event(n: usize) -> NewEvent {
    NewEvent {
        event_id: uuid::Uuid::now_v7(),
        recorded_at: Utc::now(),
        actor: "arn:aws:iam::111111111111:root".into(),
        request_id: format!("r{n}"),
        event_type: "test.happened".into(),
        schema_version: 1,
        payload: serde_json::json!({"n": n}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_in_shared_commits_succeed_or_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteEventStore::open(
            &dir.path().join("events.db").to_string_lossy(),
            SqliteStoreOptions::default(),
        )
        .await
        .unwrap(),
    );
    let accounts: Vec<String> = (0..10).map(|a| format!("{:012}", 100_000_000_000_u64 + a)).collect();
    let mut tasks = Vec::new();
    for (a, account) in accounts.iter().enumerate() {
        for attempt in 0..10 {
            let (store, account) = (store.clone(), account.clone());
            tasks.push(tokio::spawn(async move {
                // Every contender expects an empty stream and claims the same name.
                let claim = ClaimChange::Claim(UniqueClaim::new("user", "bob"));
                store
                    .append(&account, 0, vec![event(a * 10 + attempt)], vec![claim])
                    .await
            }));
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let wins = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(wins, accounts.len(), "exactly one winner per account");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::UniqueViolation { .. })
    )));
    for account in &accounts {
        assert_eq!(store.head(account).await.unwrap(), 1);
        assert_eq!(store.read_stream(account, 1, 100).await.unwrap().len(), 1);
    }

    // A failing append between two good ones in the same burst leaves them untouched.
    let (x, y, z) = tokio::join!(
        store.append(&accounts[0], 1, vec![event(1000)], vec![]),
        store.append(&accounts[1], 0, vec![event(1001)], vec![]),
        store.append(
            &accounts[2],
            1,
            vec![event(1002)],
            vec![ClaimChange::Claim(UniqueClaim::new("user", "carol"))]
        ),
    );
    assert_eq!(x.unwrap().last_sequence, 2);
    assert!(matches!(y, Err(StoreError::Conflict { expected: 0, actual: 1 })));
    assert_eq!(z.unwrap().last_sequence, 2);
    assert_eq!(store.head(&accounts[1]).await.unwrap(), 1);
}
