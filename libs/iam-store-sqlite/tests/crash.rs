//! Durability under `kill -9`: a child process appends in a loop and prints every acknowledged
//! append; the parent kills it mid-stream, reopens the file and checks that every acknowledged
//! event is there and that every account's stream is still gapless. Repeated over several kills.
//!
//! The same executable is both: with `GATEHOUSE_CRASH_CHILD_DB` set it is the writer child.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iam_eventlog::conformance::event;
use iam_eventlog::{ClaimChange, EventFeed, EventStore, StoreError, UniqueClaim};
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};
use uuid::Uuid;

const CHILD_ENV: &str = "GATEHOUSE_CRASH_CHILD_DB";
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
/// Kills per run; each child resumes the streams the previous one left.
const KILLS: usize = 3;
/// Acknowledgements to see before each kill, so the kill lands mid-stream.
const ACKS_BEFORE_KILL: usize = 150;

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(&db);
        return;
    }
    let started = Instant::now();
    kill_9_loses_no_acknowledged_append();
    println!(
        "test kill_9_loses_no_acknowledged_append ... ok ({:.1?})",
        started.elapsed()
    );
    println!("1 passed, 0 failed");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The writer: one task per account, appending 1-3 events (with a unique claim) per append and
/// printing `ack <account> <last sequence> <global position> <event id>...` once acknowledged.
fn child(db: &str) {
    runtime().block_on(async {
        let store = SqliteEventStore::open(db, SqliteStoreOptions::default())
            .await
            .expect("child opens the store");
        let mut tasks = Vec::new();
        for account in ACCOUNTS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0_usize.. {
                    let head = store.head(account).await.expect("head");
                    let events: Vec<_> = (0..=round % 3)
                        .map(|i| event(&format!("{account}-{head}-{i}")))
                        .collect();
                    let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
                    let claim = ClaimChange::Claim(UniqueClaim::new("user-name", format!("u{}", head + 1)));
                    let out = store
                        .append(account, head, events, vec![claim])
                        .await
                        .expect("only this task writes this account");
                    // Printed only after the append returned: every line is an acknowledgement.
                    let mut stdout = std::io::stdout().lock();
                    writeln!(
                        stdout,
                        "ack {account} {} {} {}",
                        out.last_sequence,
                        out.global_position,
                        ids.join(" ")
                    )
                    .expect("parent reads stdout");
                    stdout.flush().expect("flush");
                }
            }));
        }
        for task in tasks {
            task.await.expect("writer task");
        }
    });
}

/// One acknowledged append as the child reported it.
struct Ack {
    account: String,
    last_sequence: u64,
    global_position: u64,
    event_ids: Vec<Uuid>,
}

fn parse_ack(line: &str) -> Ack {
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("ack"), "unexpected child output `{line}`");
    let account = words.next().expect("account").to_owned();
    let last_sequence = words.next().expect("sequence").parse().expect("sequence");
    let global_position = words.next().expect("position").parse().expect("position");
    let event_ids = words.map(|w| Uuid::parse_str(w).expect("event id")).collect();
    Ack {
        account,
        last_sequence,
        global_position,
        event_ids,
    }
}

/// Runs a child until it has acknowledged `ACKS_BEFORE_KILL` appends, SIGKILLs it, and returns
/// every acknowledgement it printed before dying.
fn run_and_kill(db: &str) -> Vec<Ack> {
    let exe = std::env::current_exe().expect("test executable");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn writer child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => acks.push(parse_ack(&line)),
            Err(e) => {
                let _ = child.kill();
                panic!("child stopped acknowledging after {} appends: {e}", acks.len());
            }
        }
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no pool close, no checkpoint.
    child.kill().expect("kill -9 the writer");
    let status = child.wait().expect("reap the writer");
    assert!(!status.success(), "the writer was killed, not finished");
    reader.join().expect("stdout reader");
    // Lines printed before the kill are acknowledgements too.
    acks.extend(lines_rx.try_iter().map(|line| parse_ack(&line)));
    acks
}

fn kill_9_loses_no_acknowledged_append() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("events.db");
    let db = db.to_str().expect("utf-8 path").to_owned();
    let mut all_acks = Vec::new();
    for _ in 0..KILLS {
        all_acks.extend(run_and_kill(&db));
        runtime().block_on(verify(&db, &all_acks));
    }
}

async fn verify(db: &str, acks: &[Ack]) {
    let store = SqliteEventStore::open(db, SqliteStoreOptions::default())
        .await
        .expect("reopen after kill -9");

    let mut streams = BTreeMap::new();
    for account in ACCOUNTS {
        let head = store.head(account).await.expect("head");
        let events = store.read_stream(account, 1, u32::MAX).await.expect("read");
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=head).collect::<Vec<_>>(), "{account} is gapless");
        streams.insert(account.to_owned(), events);
    }

    for ack in acks {
        let events = &streams[&ack.account];
        let first = ack.last_sequence + 1 - u64::try_from(ack.event_ids.len()).expect("count");
        for (sequence, id) in (first..).zip(&ack.event_ids) {
            let stored = events
                .get(usize::try_from(sequence - 1).expect("index"))
                .unwrap_or_else(|| panic!("acknowledged {} #{sequence} is lost", ack.account));
            assert_eq!(stored.event_id, *id, "{} #{sequence}", ack.account);
        }
        // The claim written with an acknowledged append survived with it.
        let claim = ClaimChange::Claim(UniqueClaim::new("user-name", format!("u{first}")));
        let head = u64::try_from(events.len()).expect("head");
        assert!(matches!(
            store
                .append(&ack.account, head, vec![event("probe")], vec![claim])
                .await,
            Err(StoreError::UniqueViolation { .. })
        ));
    }

    // The feed holds exactly the streams, in commit order, at the acknowledged positions.
    let feed = store.read_from(0, u32::MAX).await.expect("feed");
    let total: usize = streams.values().map(Vec::len).sum();
    assert_eq!(feed.len(), total);
    assert!(feed.windows(2).all(|w| w[0].0 < w[1].0), "positions increase");
    let positions: BTreeMap<(String, u64), u64> = feed
        .iter()
        .map(|(p, e)| ((e.account_id.clone(), e.sequence), *p))
        .collect();
    for ack in acks {
        assert_eq!(
            positions[&(ack.account.clone(), ack.last_sequence)],
            ack.global_position
        );
    }
    assert!(acks.len() >= ACKS_BEFORE_KILL);
    store.close().await;
}
