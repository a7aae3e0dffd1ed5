//! The SQL read model of a real `iamd` survives kill -9: after crashes and restarts it equals a
//! rebuild from the log and the domain state the log implies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_app::Gatehouse;
use iam_eventlog::EventFeed;
use iam_readmodel::{expected_snapshot, Projector, SqliteReadModel};
use iam_secrets::Sealer;
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};
use serde_json::json;
use support::{gql, Server};

/// A stream of mixed mutations until `stop` is set; returns how many were acknowledged.
fn write_until(address: &str, credentials: &iam_sigv4::Credentials, prefix: &str, stop: &AtomicBool) -> usize {
    let mut acknowledged = 0;
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let user = format!("{prefix}-{i}");
        let group = format!("{prefix}-g{}", i % 3);
        let calls = [
            (
                "mutation($n: String!) { createUser(input: {userName: $n, tags: [{key: \"team\", value: \"x\"}]}) { sequence } }",
                json!({"n": user}),
            ),
            (
                "mutation($g: String!) { createGroup(input: {groupName: $g}) { sequence } }",
                json!({"g": group}),
            ),
            (
                "mutation($g: String!, $n: String!) { addUserToGroup(input: {groupName: $g, userName: $n}) { sequence } }",
                json!({"g": group, "n": user}),
            ),
        ];
        for (query, variables) in calls {
            let Ok(reply) = std::panic::catch_unwind(|| gql(address, credentials, query, variables)) else {
                return acknowledged;
            };
            if reply.status == 200 && reply.error_code().is_none() {
                acknowledged += 1;
            }
        }
    }
    acknowledged
}

fn run_writer_then_kill(server: Server, credentials: &iam_sigv4::Credentials, prefix: &str) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (address, credentials, stop, prefix) = (
            server.address.clone(),
            credentials.clone(),
            stop.clone(),
            prefix.to_owned(),
        );
        std::thread::spawn(move || write_until(&address, &credentials, &prefix, &stop))
    };
    std::thread::sleep(Duration::from_millis(400));
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap()
}

#[test]
fn read_model_after_kill_9_equals_rebuild_and_domain_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    assert!(run_writer_then_kill(server, &root, "first") > 0);
    let server = Server::start(dir.path());
    assert!(run_writer_then_kill(server, &root, "second") > 0);

    let server = Server::start(dir.path());
    let last = gql(
        &server.address,
        &root,
        "mutation { createUser(input: {userName: \"last\"}) { sequence } }",
        json!({}),
    );
    assert!(last.error_code().is_none(), "{:?}", last.body);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let events = dir.path().join("events.db");
        let store = SqliteEventStore::open(&events.to_string_lossy(), SqliteStoreOptions::default())
            .await
            .unwrap();
        let latest = store.latest_position().await.unwrap();
        // The running iamd's projector reaches the end of the log by itself.
        let live = SqliteReadModel::open(&dir.path().join("readmodel.db").to_string_lossy())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while live.checkpoint().await.unwrap() < latest {
            assert!(
                Instant::now() < deadline,
                "iamd's projector did not catch up with the log"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.terminate();

        let rebuilt = SqliteReadModel::open(&dir.path().join("rebuilt.db").to_string_lossy())
            .await
            .unwrap();
        Projector::new(Arc::new(store.clone()), rebuilt.clone())
            .await
            .unwrap()
            .catch_up()
            .await
            .unwrap();
        let gatehouse = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[0; 32]))
            .await
            .unwrap();
        let accounts = gatehouse.account_ids();
        assert!(!accounts.is_empty());
        for account in accounts {
            let state = gatehouse.account(&account).unwrap().state().clone();
            let snapshot = live.snapshot(&account).await.unwrap();
            assert!(snapshot["rm_users"].as_array().unwrap().len() > 2);
            assert_eq!(
                snapshot,
                rebuilt.snapshot(&account).await.unwrap(),
                "live != rebuild for {account}"
            );
            assert_eq!(
                snapshot,
                expected_snapshot(&state),
                "live != domain state for {account}"
            );
        }
        assert!(live.failed_events().await.unwrap().is_empty());
    });
}
