//! Compliance at scale (issue 16): point-in-time reads of an account with 100,000 events, and an
//! impact preview over 1 million audited decisions, on iamd's SQLite log and audit history.
//!
//! `cargo build --release -p iam-app --example compliance_scale`
//! `target/release/examples/compliance_scale [--events N] [--decisions N] [--data-dir DIR]`
//!
//! The account's events are decided in memory (`decide`/`evolve`, as the service does) and
//! appended to the log 500 per append, with their recorded times spread over 100 days; the
//! decisions go through `Gatehouse::decide_many` (1,000 per batch), so their records are the
//! decision API's. Reported: the first point-in-time read (which reads the whole stream once and
//! keeps a snapshot every `SNAPSHOT_INTERVAL` events), then the p50/p99 of reads at random
//! sequences and random instants, the live heap the history holds, and the preview's time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use iam_app::access::{context_entry, AccessRequest, ApiCaller};
use iam_app::history::{AsOf, SNAPSHOT_INTERVAL};
use iam_app::preview::PreviewWindow;
use iam_app::{Actor, Gatehouse};
use iam_audit::AuditLog;
use iam_domain::{decide, evolve, AccountState, Command, DecideContext};
use iam_eventlog::{EventStore, NewEvent};
use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

const USERS: usize = 500;
const ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:PutObject",
    "dynamodb:GetItem",
    "ec2:RunInstances",
    "sqs:SendMessage",
    "iam:CreateUser",
];

fn document(rng: &mut StdRng) -> String {
    let effect = if rng.gen_range(0..5) == 0 { "Deny" } else { "Allow" };
    let action = ["s3:*", "s3:GetObject", "dynamodb:Get*", "ec2:*", "sqs:*", "*"][rng.gen_range(0..6)];
    let resource = ["*", "arn:aws:s3:::payroll/*", "arn:aws:s3:::public/*"][rng.gen_range(0..3)];
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn summary(label: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    println!(
        "  {label:<44} p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  (n = {})",
        percentile(&millis, 0.5),
        percentile(&millis, 0.99),
        millis.last().copied().unwrap_or_default(),
        millis.len()
    );
}

/// One random change the account can take, decided on `state`.
fn change(state: &AccountState, account: &str, rng: &mut StdRng) -> Command {
    let user = format!("user{}", rng.gen_range(0..USERS));
    let policy = |n: usize| format!("arn:aws:iam::{account}:policy/p{n}");
    loop {
        let command = match rng.gen_range(0..6) {
            0 => Command::AttachUserPolicy {
                user_name: user.clone(),
                policy_arn: policy(rng.gen_range(0..10)),
            },
            1 => Command::DetachUserPolicy {
                user_name: user.clone(),
                policy_arn: policy(rng.gen_range(0..10)),
            },
            2 => Command::PutUserPolicy {
                user_name: user.clone(),
                policy_name: "inline".into(),
                policy_document: document(rng),
            },
            3 => Command::AddUserToGroup {
                group_name: format!("group{}", rng.gen_range(0..5)),
                user_name: user.clone(),
            },
            4 => Command::RemoveUserFromGroup {
                group_name: format!("group{}", rng.gen_range(0..5)),
                user_name: user.clone(),
            },
            _ => {
                let arn = policy(rng.gen_range(0..10));
                let parsed = iam_types::IamArn::parse(&arn).unwrap();
                let managed = state.managed_policy(&parsed).unwrap();
                if managed.versions.len() >= 5 {
                    let oldest = managed
                        .versions
                        .iter()
                        .find(|v| v.version_id != managed.default_version_id)
                        .unwrap();
                    Command::DeletePolicyVersion {
                        policy_arn: arn,
                        version_id: oldest.version_id.clone(),
                    }
                } else {
                    Command::CreatePolicyVersion {
                        policy_arn: arn,
                        policy_document: document(rng),
                        set_as_default: true,
                    }
                }
            }
        };
        let ctx = DecideContext::new(Utc::now(), rng.gen(), "arn:aws:iam::000000000000:root");
        if decide(state, &command, &ctx).is_ok_and(|events| !events.is_empty()) {
            return command;
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut events_wanted: u64 = 100_000;
    let mut decisions_wanted: usize = 1_000_000;
    let mut data_dir: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().expect("a value");
        match flag.as_str() {
            "--events" => events_wanted = value().parse().unwrap(),
            "--decisions" => decisions_wanted = value().parse().unwrap(),
            "--data-dir" => data_dir = Some(value().into()),
            other => panic!("unknown flag {other}"),
        }
    }
    let temporary = tempfile::tempdir().unwrap();
    let dir = data_dir.unwrap_or_else(|| temporary.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(
        SqliteEventStore::open(&dir.join("events.db").to_string_lossy(), SqliteStoreOptions::default())
            .await
            .unwrap(),
    );
    let audit = Arc::new(
        SqliteAuditLog::open(&dir.join("audit").to_string_lossy(), AuditDurability::Process)
            .await
            .unwrap(),
    );
    let gatehouse = Gatehouse::load(store.clone(), Sealer::new(&[1; 32]))
        .await
        .unwrap()
        .with_audit(audit.clone());
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "scale".into(),
    };
    let (account, _) = gatehouse.create_account(&actor, None).await.unwrap();
    println!(
        "compliance_scale: {events_wanted} events, {decisions_wanted} decisions; data directory {}",
        dir.display()
    );

    // The account's history, decided in memory and appended in batches.
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(16);
    let mut state = gatehouse.account(&account).unwrap().state().as_ref().clone();
    let mut setup = Vec::new();
    for n in 0..5 {
        setup.push(Command::CreateGroup {
            group_name: format!("group{n}"),
            path: None,
        });
    }
    for n in 0..10 {
        setup.push(Command::CreatePolicy {
            policy_name: format!("p{n}"),
            path: None,
            policy_document: document(&mut rng),
            description: None,
            tags: vec![],
        });
    }
    for n in 0..USERS {
        setup.push(Command::CreateUser {
            user_name: format!("user{n}"),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        });
    }
    let first_time = Utc::now() - Duration::days(100);
    let spacing = Duration::days(100).num_microseconds().unwrap() / events_wanted as i64;
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut setup = setup.into_iter();
    while state.version() < events_wanted {
        let command = match setup.next() {
            Some(command) => command,
            None => change(&state, &account, &mut rng),
        };
        let at = first_time + Duration::microseconds(spacing * state.version() as i64);
        let ctx = DecideContext::new(at, rng.gen(), actor.arn.clone());
        for event in decide(&state, &command, &ctx).unwrap() {
            evolve(&mut state, &event);
            batch.push(NewEvent {
                event_id: uuid::Uuid::now_v7(),
                recorded_at: at,
                actor: actor.arn.clone(),
                request_id: "scale".into(),
                event_type: event.event_type().to_string(),
                schema_version: iam_domain::SCHEMA_VERSION,
                payload: serde_json::to_value(&event).unwrap(),
            });
        }
        if batch.len() >= 500 {
            let expected = state.version() - batch.len() as u64;
            store
                .append(&account, expected, std::mem::take(&mut batch), Vec::new())
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        let expected = state.version() - batch.len() as u64;
        store.append(&account, expected, batch, Vec::new()).await.unwrap();
    }
    let head = state.version();
    println!(
        "wrote {head} events in {:.1} s ({} users, 10 policies of up to 5 versions, 5 groups)",
        started.elapsed().as_secs_f64(),
        USERS
    );
    // The service reads them as a restarted iamd would.
    drop(gatehouse);
    let gatehouse = Gatehouse::load(store.clone(), Sealer::new(&[1; 32]))
        .await
        .unwrap()
        .with_audit(audit.clone());
    assert_eq!(gatehouse.account(&account).unwrap().state().version(), head);

    // Point in time.
    println!("point-in-time reads (snapshot every {SNAPSHOT_INTERVAL} events):");
    let heap_before = ALLOCATOR.allocated();
    let started = Instant::now();
    let middle = gatehouse
        .account_state_at(&account, AsOf::Sequence(head / 2))
        .await
        .unwrap();
    let first = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(middle.version(), head / 2);
    let heap_after = ALLOCATOR.allocated();
    let (index_bytes, snapshots) = gatehouse.history_footprint().await;
    println!(
        "  first read (reads the whole stream, keeps {snapshots} snapshots): {first:.0} ms; history heap {:.1} MiB ({:.0} B per event, of which the time index and snapshot pointers {:.0} KiB)",
        (heap_after.saturating_sub(heap_before)) as f64 / 1048576.0,
        (heap_after.saturating_sub(heap_before)) as f64 / head as f64,
        index_bytes as f64 / 1024.0
    );
    let mut by_sequence = Vec::new();
    for _ in 0..2_000 {
        let sequence = rng.gen_range(1..=head);
        let started = Instant::now();
        let state = gatehouse
            .account_state_at(&account, AsOf::Sequence(sequence))
            .await
            .unwrap();
        by_sequence.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(state.version(), sequence);
    }
    summary("asOf a random sequence", by_sequence);
    let mut by_time = Vec::new();
    for _ in 0..2_000 {
        let at: DateTime<Utc> = first_time + Duration::microseconds(rng.gen_range(0..spacing * head as i64));
        let started = Instant::now();
        let state = gatehouse.account_state_at(&account, AsOf::Time(at)).await.unwrap();
        by_time.push(started.elapsed().as_secs_f64() * 1000.0);
        black_box_version(state.version());
    }
    summary("asOf a random instant", by_time);
    let mut with_model = Vec::new();
    for _ in 0..200 {
        let sequence = rng.gen_range(1..=head);
        let started = Instant::now();
        let state = gatehouse
            .account_state_at(&account, AsOf::Sequence(sequence))
            .await
            .unwrap();
        let model = iam_authz::AccountModel::new(state);
        let users = model.state().users().count();
        with_model.push(started.elapsed().as_secs_f64() * 1000.0);
        black_box_version(users as u64);
    }
    summary("asOf a random sequence + the model over it", with_model);

    if decisions_wanted == 0 {
        return;
    }
    // Decisions, recorded by the decision API's own path.
    let caller = ApiCaller {
        account_id: account.clone(),
        principal_arn: format!("arn:aws:iam::{account}:root"),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
        request_id: "scale".into(),
        region: "us-east-1".into(),
        api_version: None,
        session: None,
    };
    let started = Instant::now();
    let mut made = 0;
    while made < decisions_wanted {
        let requests: Vec<AccessRequest> = (0..1_000.min(decisions_wanted - made))
            .map(|_| AccessRequest {
                principal_arn: format!("arn:aws:iam::{account}:user/user{}", rng.gen_range(0..USERS)),
                action: ACTIONS[rng.gen_range(0..ACTIONS.len())].into(),
                resource: ["arn:aws:s3:::payroll/q1.csv", "arn:aws:s3:::public/a", "*"][rng.gen_range(0..3)].into(),
                context: vec![context_entry(
                    "aws:SourceIp".into(),
                    vec![format!("10.0.{}.{}", rng.gen_range(0..4), rng.gen_range(0..250))],
                    None,
                )],
                ..AccessRequest::default()
            })
            .collect();
        made += requests.len();
        for answer in gatehouse.decide_many(&caller, &requests).await.unwrap() {
            answer.unwrap();
        }
    }
    while audit.backlog().unwrap_or(0) > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!(
        "recorded {made} decisions in {:.1} s (decide_many, 1,000 per batch, indexed)",
        started.elapsed().as_secs_f64()
    );

    // The preview: a deny on payroll for a group and a policy detached from its users.
    let changes = vec![
        Command::PutGroupPolicy {
            group_name: "group0".into(),
            policy_name: "no-payroll".into(),
            policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::payroll/*"}]}"#.into(),
        },
        Command::AttachGroupPolicy {
            group_name: "group1".into(),
            policy_arn: format!("arn:aws:iam::{account}:policy/p3"),
        },
    ];
    for round in 1..=2 {
        let started = Instant::now();
        let mut after = None;
        let (mut decisions, mut distinct, mut to_deny, mut to_allow) = (0, 0, 0, 0);
        loop {
            let report = gatehouse
                .preview_change(
                    &caller,
                    &changes,
                    &PreviewWindow {
                        after: after.clone(),
                        limit: iam_app::preview::MAX_PAGE_RECORDS,
                        ..PreviewWindow::default()
                    },
                )
                .await
                .unwrap();
            decisions += report.decisions;
            distinct += report.distinct_requests;
            to_deny += report.allow_to_deny;
            to_allow += report.deny_to_allow;
            println!(
                "    progress: {decisions} decisions after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            match report.next_cursor {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "preview round {round}: {decisions} decisions in {seconds:.1} s ({:.0}/s), {distinct} distinct requests (summed over pages), {to_deny} allow→deny, {to_allow} deny→allow",
            decisions as f64 / seconds
        );
    }
}

fn black_box_version(version: u64) {
    std::hint::black_box(version);
}
