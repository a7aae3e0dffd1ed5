//! Tenant scale of the in-memory evaluation model (issue 4): seeds N accounts × M users (default
//! 10,000 × 100 = 1 million principals) through `Gatehouse::execute`, compiles every principal,
//! and reports resident memory, live heap bytes and decision latency across all tenants against
//! the same measurement over 10 tenants.
//!
//! `cargo build --release -p iam-app --example tenant_scale`
//! `target/release/examples/tenant_scale [accounts] [users per account] [samples] [concurrency]`
//!
//! The log is `MemoryEventStore`: the SQLite store would measure fsyncs, not the model. The
//! memory store keeps every event in memory, so "after seeding" includes the log; the model's
//! own share is measured again once the service (and with it the log) is dropped.
//!
//! Resident memory needs a process that never held the log: `--write-log FILE` writes the seeded
//! log as JSON lines, and `tenant_scale --replay FILE` (a fresh process) folds it into account
//! states, compiles every principal, and reports RSS and live heap of that evaluation model alone.
//!
//! The allocator is iamd's (mimalloc), wrapped by `cap` to count live heap bytes, which unlike
//! RSS do not depend on what the allocator keeps mapped after frees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_app::{Actor, Gatehouse};
use iam_authz::{authorize, AccountModel, RequestFacts};
use iam_domain::{decode_event, replay, AccountState, Command, DomainEvent, TagInput};
use iam_eventlog::{EventStore, MemoryEventStore};
use iam_policy::{ContextValue, DecisionEffect, PolicySet, PolicySource, PolicyType};
use iam_secrets::Sealer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

const TEAMS: [&str; 5] = ["payments", "search", "ml", "platform", "growth"];
const FEW_ACCOUNTS: usize = 10;

// ---------------------------------------------------------------------------------------------
// The seeded world: the shapes of loadtest/src/scenario.rs (same documents, groups and users).

/// The customer-managed policies of an account: `(name, document)`.
fn managed_policies(account_id: &str) -> Vec<(&'static str, String)> {
    let team_data = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "TeamObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::corp-data/${aws:PrincipalTag/team}/*"},
            {"Sid": "ListTeamPrefix", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": "arn:aws:s3:::corp-data",
             "Condition": {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*"]}}},
            {"Sid": "TeamTables", "Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
             "Resource": format!("arn:aws:dynamodb:us-east-1:{account_id}:table/${{aws:PrincipalTag/team}}-*")}
        ]
    });
    let protect_prod = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteBucket"],
             "Resource": ["arn:aws:s3:::corp-data/prod/*", "arn:aws:s3:::corp-data"]}
        ]
    });
    let inventory = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Describe", "Effect": "Allow",
             "Action": ["ec2:Describe*", "s3:ListAllMyBuckets", "cloudwatch:GetMetricData"], "Resource": "*"},
            {"Sid": "AuditLogsWithClearance", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::audit-logs/*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/clearance": "high"}}}
        ]
    });
    let corp_network = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DenyOutsideCorpNetwork", "Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}
        ]
    });
    let queue = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
             "Resource": format!("arn:aws:sqs:us-east-1:{account_id}:jobs-*")}
        ]
    });
    vec![
        ("TeamDataAccess", team_data.to_string()),
        ("ProtectProd", protect_prod.to_string()),
        ("ReadOnlyInventory", inventory.to_string()),
        ("CorpNetworkOnly", corp_network.to_string()),
        ("QueueSender", queue.to_string()),
    ]
}

fn home_prefix_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::corp-data/home/${aws:username}/*"}
        ]
    })
    .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Developer,
    Auditor,
}

#[derive(Debug, Clone)]
struct Principal {
    user_name: String,
    kind: Kind,
    team: &'static str,
    clearance: bool,
    inline_policy: bool,
}

/// The `i`-th user of every account (as `scenario::principal`).
fn principal(i: usize) -> Principal {
    let kind = if i % 4 == 3 { Kind::Auditor } else { Kind::Developer };
    let team = TEAMS[i % TEAMS.len()];
    let user_name = match kind {
        Kind::Developer => format!("dev-{team}-{i:04}"),
        Kind::Auditor => format!("auditor-{i:04}"),
    };
    Principal {
        user_name,
        kind,
        team,
        clearance: kind == Kind::Auditor && i % 8 == 3,
        inline_policy: kind == Kind::Developer && i.is_multiple_of(3),
    }
}

fn user_arn(account_id: &str, p: &Principal) -> String {
    format!("arn:aws:iam::{account_id}:user/people/{}", p.user_name)
}

fn tags(p: &Principal, i: usize) -> Vec<TagInput> {
    let mut tags = vec![
        TagInput::new("team", p.team),
        TagInput::new("cost-center", format!("cc-{}", 1000 + i % 7)),
        TagInput::new("email", format!("{}@example.com", p.user_name)),
    ];
    if p.clearance {
        tags.push(TagInput::new("clearance", "high"));
    }
    tags
}

/// Creates one account with its policies, groups and users; returns the account id and the
/// number of events appended.
async fn seed_account(gatehouse: &Gatehouse, actor: &Actor, n: usize, users: usize) -> (String, u64) {
    let (account, key) = gatehouse
        .create_account(actor, Some(format!("tenant-{n:05}")))
        .await
        .expect("create account");
    let mut events = key.executed.sequence;
    let run = |command: Command| {
        let account = account.clone();
        async move {
            let done = gatehouse
                .execute(&account, actor, &command)
                .await
                .unwrap_or_else(|e| panic!("{} in {account}: {e}", command.action_name()));
            done.events.len() as u64
        }
    };
    let mut arns = std::collections::BTreeMap::new();
    for (name, document) in managed_policies(&account) {
        events += run(Command::CreatePolicy {
            policy_name: name.into(),
            path: Some("/tenant-scale/".into()),
            policy_document: document,
            description: Some("tenant_scale seed".into()),
            tags: vec![TagInput::new("owner", "tenant-scale")],
        })
        .await;
        arns.insert(name, format!("arn:aws:iam::{account}:policy/tenant-scale/{name}"));
    }
    for group in ["developers", "auditors"] {
        events += run(Command::CreateGroup {
            group_name: group.into(),
            path: Some("/people/".into()),
        })
        .await;
    }
    for (group, policy) in [
        ("developers", "TeamDataAccess"),
        ("developers", "ProtectProd"),
        ("auditors", "ReadOnlyInventory"),
    ] {
        events += run(Command::AttachGroupPolicy {
            group_name: group.into(),
            policy_arn: arns[policy].clone(),
        })
        .await;
    }
    for i in 0..users {
        let p = principal(i);
        events += run(Command::CreateUser {
            user_name: p.user_name.clone(),
            path: Some("/people/".into()),
            permissions_boundary: None,
            tags: tags(&p, i),
        })
        .await;
        events += run(Command::AddUserToGroup {
            group_name: match p.kind {
                Kind::Developer => "developers",
                Kind::Auditor => "auditors",
            }
            .into(),
            user_name: p.user_name.clone(),
        })
        .await;
        events += run(Command::AttachUserPolicy {
            user_name: p.user_name.clone(),
            policy_arn: arns["CorpNetworkOnly"].clone(),
        })
        .await;
        if p.inline_policy {
            events += run(Command::PutUserPolicy {
                user_name: p.user_name.clone(),
                policy_name: "HomePrefix".into(),
                policy_document: home_prefix_policy(),
            })
            .await;
        }
    }
    (account, events)
}

// ---------------------------------------------------------------------------------------------
// Requests with the decision the seeded policies must give (as `scenario::decision_request`).

struct Sample {
    account: usize,
    arn: String,
    action: &'static str,
    resource: String,
    facts: RequestFacts,
    expect: DecisionEffect,
}

fn corp_ip(rng: &mut StdRng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        rng.gen_range(1..255)
    )
}

fn outside_ip(rng: &mut StdRng) -> String {
    format!("203.0.113.{}", rng.gen_range(1..255))
}

fn sample(accounts: &[String], account: usize, users: usize, rng: &mut StdRng) -> Sample {
    let id = &accounts[account];
    let p = principal(rng.gen_range(0..users));
    let n: u32 = rng.gen_range(0..10_000);
    let team = p.team;
    let roll = rng.gen_range(0..10);
    let expect = match roll {
        0..=6 => DecisionEffect::Allowed,
        7 | 8 => DecisionEffect::ImplicitDeny,
        _ => DecisionEffect::ExplicitDeny,
    };
    let mut ip = corp_ip(rng);
    let mut extra = Vec::new();
    let other = TEAMS[(TEAMS.iter().position(|t| *t == team).unwrap_or(0) + 1) % TEAMS.len()];
    let (action, resource) = match (p.kind, expect) {
        (Kind::Developer, DecisionEffect::Allowed) => match rng.gen_range(0..4) {
            0 => ("s3:GetObject", format!("arn:aws:s3:::corp-data/{team}/reports/{n}.csv")),
            1 => {
                extra.push(("s3:prefix".to_owned(), ContextValue::single(format!("{team}/2024/"))));
                ("s3:ListBucket", "arn:aws:s3:::corp-data".to_owned())
            }
            2 => (
                "dynamodb:Query",
                format!("arn:aws:dynamodb:us-east-1:{id}:table/{team}-orders"),
            ),
            _ if p.inline_policy => (
                "s3:PutObject",
                format!("arn:aws:s3:::corp-data/home/{}/notes-{n}.txt", p.user_name),
            ),
            _ => ("s3:PutObject", format!("arn:aws:s3:::corp-data/{team}/upload/{n}.json")),
        },
        (Kind::Developer, DecisionEffect::ImplicitDeny) => match rng.gen_range(0..4) {
            0 => (
                "s3:GetObject",
                format!("arn:aws:s3:::corp-data/{other}/reports/{n}.csv"),
            ),
            1 => {
                extra.push(("s3:prefix".to_owned(), ContextValue::single(format!("{other}/"))));
                ("s3:ListBucket", "arn:aws:s3:::corp-data".to_owned())
            }
            2 => ("iam:CreateUser", format!("arn:aws:iam::{id}:user/intruder-{n}")),
            _ => (
                "ec2:TerminateInstances",
                format!("arn:aws:ec2:us-east-1:{id}:instance/i-{n:08x}"),
            ),
        },
        (Kind::Developer, DecisionEffect::ExplicitDeny) => {
            if rng.gen_bool(0.5) {
                ip = outside_ip(rng);
                ("s3:GetObject", format!("arn:aws:s3:::corp-data/{team}/reports/{n}.csv"))
            } else {
                ("s3:DeleteObject", format!("arn:aws:s3:::corp-data/prod/{n}.parquet"))
            }
        }
        (Kind::Auditor, DecisionEffect::Allowed) => {
            if p.clearance && rng.gen_bool(0.5) {
                ("s3:GetObject", format!("arn:aws:s3:::audit-logs/2024/{n}.json.gz"))
            } else {
                ("ec2:DescribeInstances", "*".to_owned())
            }
        }
        (Kind::Auditor, DecisionEffect::ImplicitDeny) => (
            if p.clearance { "s3:PutObject" } else { "s3:GetObject" },
            format!("arn:aws:s3:::audit-logs/2024/{n}.json.gz"),
        ),
        (Kind::Auditor, DecisionEffect::ExplicitDeny) => {
            ip = outside_ip(rng);
            ("ec2:DescribeInstances", "*".to_owned())
        }
    };
    Sample {
        account,
        arn: user_arn(id, &p),
        action,
        resource,
        facts: RequestFacts {
            source_ip: Some(ip),
            secure_transport: true,
            extra,
        },
        expect,
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    peak_rss: u64,
    heap: u64,
}

fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

fn memory() -> Memory {
    Memory {
        rss: proc_status_kb("VmRSS:") * 1024,
        peak_rss: proc_status_kb("VmHWM:") * 1024,
        heap: ALLOCATOR.allocated() as u64,
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report_memory(label: &str, m: Memory) -> Value {
    println!(
        "memory {label:<34} RSS {:>9.1} MiB   live heap {:>9.1} MiB   peak RSS {:>9.1} MiB",
        mib(m.rss),
        mib(m.heap),
        mib(m.peak_rss)
    );
    json!({"rssBytes": m.rss, "heapBytes": m.heap, "peakRssBytes": m.peak_rss})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn summary(samples: &mut [f64]) -> Value {
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "p50": round2(percentile(samples, 50.0)),
        "p90": round2(percentile(samples, 90.0)),
        "p99": round2(percentile(samples, 99.0)),
        "p999": round2(percentile(samples, 99.9)),
        "max": round2(samples.last().copied().unwrap_or(0.0)),
        "mean": round2(mean),
    })
}

/// Evaluates every sample the way `access::decide` does in-process: the account's model, the
/// compiled principal, the request context, `authorize`. Returns latency summaries (µs).
fn measure(gatehouse: &Gatehouse, accounts: &[String], samples: &[Sample], label: &str) -> Value {
    let mut total = Vec::with_capacity(samples.len());
    let mut lookup = Vec::with_capacity(samples.len());
    let mut evaluate = Vec::with_capacity(samples.len());
    let mut wrong = 0usize;
    let started = Instant::now();
    for s in samples {
        let t0 = Instant::now();
        let model = gatehouse.account(&accounts[s.account]).expect("account");
        let principal = model.principal(&s.arn).expect("principal");
        let t1 = Instant::now();
        let context = model.request_context(&principal, &s.facts, Utc::now());
        let decision = authorize(&principal, s.action, &s.resource, &context);
        let t2 = Instant::now();
        if black_box(decision.effect) != s.expect {
            wrong += 1;
            if wrong <= 5 {
                println!(
                    "  unexpected {:?} (expected {:?}) for {} {} {} {:?}",
                    decision.effect, s.expect, s.arn, s.action, s.resource, s.facts
                );
            }
        }
        total.push((t2 - t0).as_secs_f64() * 1e6);
        lookup.push((t1 - t0).as_secs_f64() * 1e6);
        evaluate.push((t2 - t1).as_secs_f64() * 1e6);
    }
    let seconds = started.elapsed().as_secs_f64();
    // Other processes on the machine show in the tail; the load average says how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    let total = summary(&mut total);
    let lookup = summary(&mut lookup);
    let evaluate = summary(&mut evaluate);
    let tenants: HashSet<usize> = samples.iter().map(|s| s.account).collect();
    println!(
        "latency {label:<14} {:>7} decisions over {:>6} accounts: p50 {:>6.2} µs  p99 {:>6.2} µs  p99.9 {:>7.2} µs  max {:>8.2} µs  ({:.0} decisions/s on one thread, {wrong} unexpected, load average {load})",
        samples.len(),
        tenants.len(),
        total["p50"].as_f64().unwrap_or(0.0),
        total["p99"].as_f64().unwrap_or(0.0),
        total["p999"].as_f64().unwrap_or(0.0),
        total["max"].as_f64().unwrap_or(0.0),
        samples.len() as f64 / seconds,
    );
    println!(
        "        {:<14} of which model+principal lookup p50 {:.2} µs p99 {:.2} µs; context+authorize p50 {:.2} µs p99 {:.2} µs",
        "",
        lookup["p50"].as_f64().unwrap_or(0.0),
        lookup["p99"].as_f64().unwrap_or(0.0),
        evaluate["p50"].as_f64().unwrap_or(0.0),
        evaluate["p99"].as_f64().unwrap_or(0.0),
    );
    assert_eq!(wrong, 0, "decisions differ from what the seeded policies imply");
    json!({
        "accounts": tenants.len(),
        "decisions": samples.len(),
        "unexpected": wrong,
        "loadAverage1m": load,
        "decisionsPerSecondOneThread": round2(samples.len() as f64 / seconds),
        "totalMicros": total,
        "lookupMicros": lookup,
        "contextAndAuthorizeMicros": evaluate,
    })
}

/// Heap bytes `build` leaves allocated (the caller keeps its result alive).
fn heap_of<T>(build: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATOR.allocated();
    let value = build();
    (value, ALLOCATOR.allocated().saturating_sub(before) as u64)
}

/// Where a compiled principal's bytes go, on one account: the heap of one developer and one
/// auditor, and of each distinct policy compiled once on its own.
fn sharing_analysis(model: &AccountModel, account: &str) -> Value {
    let state = model.state();
    let mut per_policy = serde_json::Map::new();
    let mut compiled_once = 0u64;
    let documents: Vec<(String, String)> = managed_policies(account)
        .into_iter()
        .map(|(name, doc)| (name.to_owned(), doc))
        .chain([("HomePrefix (inline)".to_owned(), home_prefix_policy())])
        .collect();
    let mut keep = Vec::new();
    for (name, document) in &documents {
        let parsed = iam_policy::parse_policy(document).expect("parse");
        let (set, bytes) = heap_of(|| {
            let mut set = PolicySet::new();
            set.add(PolicySource::new(name.as_str(), PolicyType::UserManaged), &parsed)
                .expect("compile");
            set
        });
        keep.push(set);
        compiled_once += bytes;
        per_policy.insert(name.clone(), json!(bytes));
    }
    drop(keep);
    // Fresh models over the same state, so the principals are compiled here and now.
    let mut principals = serde_json::Map::new();
    for i in [0usize, 3] {
        let p = principal(i);
        let fresh = AccountModel::new(state.clone());
        let arn = user_arn(account, &p);
        let (compiled, bytes) = heap_of(|| fresh.principal(&arn).expect("principal"));
        let statements = compiled.policy_sources().count();
        println!(
            "  one {:?}{} compiles to {bytes} heap bytes ({statements} policies)",
            p.kind,
            if p.inline_policy { " with inline policy" } else { "" }
        );
        principals.insert(
            format!("{:?}{}", p.kind, if p.inline_policy { "WithInline" } else { "" }),
            json!({"heapBytes": bytes, "policies": statements}),
        );
    }
    println!("  each distinct policy compiled alone (heap bytes): {per_policy:?}");
    // The marginal cost of a statement: one policy with k copies of `CorpNetworkOnly`'s statement.
    let mut per_statement = serde_json::Map::new();
    for k in [1usize, 2, 4, 8, 16, 64] {
        let statement = r#"{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}"#;
        let document = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            vec![statement; k].join(",")
        );
        let parsed = iam_policy::parse_policy(&document).expect("parse");
        let (set, bytes) = heap_of(|| {
            let mut set = PolicySet::new();
            set.add(PolicySource::new("p", PolicyType::UserManaged), &parsed)
                .expect("compile");
            set
        });
        drop(set);
        per_statement.insert(k.to_string(), json!(bytes));
    }
    println!("  one policy with k copies of one statement (k: heap bytes): {per_statement:?}");
    let state_copy = heap_of(|| AccountState::clone(state)).1;
    let started = Instant::now();
    for _ in 0..200 {
        drop(black_box(AccountState::clone(state)));
    }
    let clone_micros = started.elapsed().as_secs_f64() * 1e6 / 200.0;
    println!(
        "  this account's AccountState: {state_copy} heap bytes; one clone (as `execute` makes per command) \
         takes {clone_micros:.1} µs"
    );
    json!({
        "policyWithKStatementsHeapBytes": per_statement,
        "accountStateHeapBytes": state_copy,
        "accountStateCloneMicros": round2(clone_micros),
        "principalHeapBytes": principals,
        "policyCompiledAloneHeapBytes": per_policy,
        "allDistinctPoliciesOfAnAccountCompiledOnceHeapBytes": compiled_once,
        "users": state.users().count(),
    })
}

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).map_or(default, |a| {
        a.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("argument {i} ({a}) is not a number"))
    })
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--replay") {
        replay_log(args.get(2).expect("--replay FILE"));
        return;
    }
    let write_log = args.iter().position(|a| a == "--write-log").map(|i| {
        let path = args.get(i + 1).expect("--write-log FILE").clone();
        args.drain(i..=i + 1);
        path
    });
    let accounts_n = arg(&args, 1, 10_000);
    let users = arg(&args, 2, 100);
    let samples_n = arg(&args, 3, 100_000);
    let concurrency = arg(&args, 4, 64).max(1);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "tenant_scale: {accounts_n} accounts × {users} users = {} principals; {samples_n} sampled decisions; \
         {concurrency} accounts seeded at once on {threads} worker threads",
        accounts_n * users
    );
    println!(
        "store: iam_eventlog::MemoryEventStore (the SQLite store would measure fsyncs, not the model); \
         it keeps every event in memory, so memory after seeding includes the log"
    );
    let mut report = serde_json::Map::new();
    report.insert(
        "config".into(),
        json!({"accounts": accounts_n, "usersPerAccount": users, "principals": accounts_n * users,
           "samples": samples_n, "seedConcurrency": concurrency, "workerThreads": threads,
           "store": "MemoryEventStore", "allocator": "mimalloc (wrapped by cap to count live heap bytes)"}),
    );
    let baseline = memory();
    report.insert("memoryBaseline".into(), report_memory("at start", baseline));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .expect("runtime");

    // 1. Seed.
    let store = Arc::new(MemoryEventStore::new());
    let gatehouse = Arc::new(
        runtime
            .block_on(Gatehouse::load(store.clone(), Sealer::new(&[7; 32])))
            .expect("load"),
    );
    let actor = Arc::new(Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "tenant-scale".into(),
    });
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let last_mark = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let accounts: Vec<String> = runtime.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut handles = Vec::with_capacity(accounts_n);
        for n in 0..accounts_n {
            let permit = permits.clone().acquire_owned().await.expect("semaphore");
            let (gatehouse, actor, done, events, last_mark) = (
                gatehouse.clone(),
                actor.clone(),
                done.clone(),
                events.clone(),
                last_mark.clone(),
            );
            handles.push(tokio::spawn(async move {
                let (account, appended) = seed_account(&gatehouse, &actor, n, users).await;
                drop(permit);
                events.fetch_add(appended, Ordering::Relaxed);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished.is_multiple_of(1_000) || finished == accounts_n {
                    let elapsed = started.elapsed();
                    let mut last = last_mark.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let m = memory();
                    println!(
                        "seeded {finished:>6} accounts ({:>8} principals, {:>9} events) in {:>7.1} s \
                         (last batch {:>6.1} s)   RSS {:>8.1} MiB  heap {:>8.1} MiB",
                        finished * users,
                        events.load(Ordering::Relaxed),
                        elapsed.as_secs_f64(),
                        (elapsed - *last).as_secs_f64(),
                        mib(m.rss),
                        mib(m.heap)
                    );
                    *last = elapsed;
                }
                account
            }));
        }
        let mut ids = Vec::with_capacity(accounts_n);
        for handle in handles {
            ids.push(handle.await.expect("seeding task"));
        }
        ids
    });
    let seed_seconds = started.elapsed().as_secs_f64();
    let events = events.load(Ordering::Relaxed);
    println!(
        "seeding: {} accounts, {} principals, {events} events in {seed_seconds:.1} s ({:.0} events/s)",
        accounts.len(),
        accounts.len() * users,
        events as f64 / seed_seconds
    );
    report.insert(
        "seeding".into(),
        json!({"seconds": round2(seed_seconds), "events": events,
               "eventsPerSecond": round2(events as f64 / seed_seconds)}),
    );
    let seeded = memory();
    if let Some(path) = &write_log {
        let events = runtime.block_on(write_log_file(store.as_ref(), path));
        println!("wrote {events} events to {path} (replay them with `tenant_scale --replay {path}`)");
    }
    report.insert(
        "memoryAfterSeeding".into(),
        report_memory("after seeding (log + states)", seeded),
    );

    // 2. Compile every principal, as the first decision about each would.
    let started = Instant::now();
    let compiled = AtomicUsize::new(0);
    let policies_compiled = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for part in 0..threads {
            let (gatehouse, accounts, compiled, policies_compiled) =
                (&gatehouse, &accounts, &compiled, &policies_compiled);
            scope.spawn(move || {
                for id in accounts.iter().skip(part).step_by(threads) {
                    let model = gatehouse.account(id).expect("account");
                    for i in 0..users {
                        let p = model.principal(&user_arn(id, &principal(i))).expect("principal");
                        policies_compiled.fetch_add(p.policy_sources().count(), Ordering::Relaxed);
                    }
                    compiled.fetch_add(users, Ordering::Relaxed);
                }
            });
        }
    });
    let compile_seconds = started.elapsed().as_secs_f64();
    let principals = compiled.load(Ordering::Relaxed);
    let policies_compiled = policies_compiled.load(Ordering::Relaxed);
    let distinct_policies =
        accounts.len() * 4 + (0..users).filter(|i| principal(*i).inline_policy).count() * accounts.len();
    println!(
        "compiled {principals} principals ({policies_compiled} policy compilations, {distinct_policies} distinct \
         attached policy documents) in {compile_seconds:.1} s on {threads} threads"
    );
    let after_compile = memory();
    report.insert(
        "memoryAfterCompile".into(),
        report_memory("after compiling every principal", after_compile),
    );
    let compiled_rss = after_compile.rss.saturating_sub(seeded.rss);
    let compiled_heap = after_compile.heap.saturating_sub(seeded.heap);
    println!(
        "compiled principals: RSS +{:.1} MiB ({:.0} B/principal), live heap +{:.1} MiB ({:.0} B/principal)",
        mib(compiled_rss),
        compiled_rss as f64 / principals as f64,
        mib(compiled_heap),
        compiled_heap as f64 / principals as f64
    );

    // 3. Where those bytes go, on one account.
    let first = gatehouse.account(&accounts[0]).expect("account");
    let sharing = sharing_analysis(&first, &accounts[0]);
    drop(first);

    // 4. Decision latency: every account vs 10.
    let mut rng = StdRng::seed_from_u64(4);
    let all: Vec<Sample> = (0..samples_n)
        .map(|_| {
            let a = rng.gen_range(0..accounts.len());
            sample(&accounts, a, users, &mut rng)
        })
        .collect();
    let few_n = FEW_ACCOUNTS.min(accounts.len());
    let few: Vec<Sample> = (0..samples_n)
        .map(|_| {
            let a = rng.gen_range(0..few_n);
            sample(&accounts, a, users, &mut rng)
        })
        .collect();
    // Warm up (code, branch predictors, CPU frequency), then two rounds each, interleaved.
    measure(&gatehouse, &accounts, &few[..few.len().min(10_000)], "warm-up");
    let mut rounds = Vec::new();
    for round in 1..=2 {
        println!("round {round}:");
        let few_result = measure(&gatehouse, &accounts, &few, &format!("{few_n} accounts"));
        let all_result = measure(&gatehouse, &accounts, &all, "all accounts");
        rounds.push(json!({"round": round, "fewAccounts": few_result, "allAccounts": all_result}));
    }
    drop((all, few));

    // 5. The model's share of the heap, with the log still there: the states plus the
    // compilations measured above. A state shares its entities with its predecessors, so a clone
    // would count almost nothing: each state is rebuilt from its decoded events (decoded outside
    // the measurement), measured, checked equal to the live one, and dropped.
    let state_heap: u64 = runtime.block_on(async {
        let mut total = 0u64;
        for id in &accounts {
            let envelopes = store
                .read_stream(id, 1, u32::MAX)
                .await
                .expect("read the account's events");
            let events: Vec<DomainEvent> = envelopes
                .iter()
                .map(|e| decode_event(&e.event_type, e.schema_version, &e.payload).expect("decode"))
                .collect();
            let (rebuilt, bytes) = heap_of(|| replay(&events));
            let model = gatehouse.account(id).expect("account");
            assert!(
                &rebuilt == model.state().as_ref(),
                "a replayed state differs from the live one"
            );
            total += bytes;
        }
        total
    });
    let model_heap = state_heap + compiled_heap;
    let log_heap = after_compile
        .heap
        .saturating_sub(baseline.heap)
        .saturating_sub(model_heap);
    let model_rss_estimate = after_compile.rss.saturating_sub(log_heap);
    println!(
        "evaluation model (states + compiled principals): live heap {:.1} MiB = {:.0} B/principal \
         (states {:.1} MiB = {:.0} B/principal, compiled {:.1} MiB = {:.0} B/principal); \
         the log and the rest of the service: {:.1} MiB of heap",
        mib(model_heap),
        model_heap as f64 / principals as f64,
        mib(state_heap),
        state_heap as f64 / principals as f64,
        mib(compiled_heap),
        compiled_heap as f64 / principals as f64,
        mib(log_heap)
    );
    println!(
        "evaluation model RSS estimate (RSS after compiling minus the log's live heap): {:.1} MiB",
        mib(model_rss_estimate)
    );

    // 6. One change per account (a tag on its first user), then every principal asked for again:
    // the successor model carries compilations whose inputs did not change.
    let before_change = memory();
    let started = Instant::now();
    let change = Command::TagUser {
        user_name: principal(0).user_name,
        tags: vec![TagInput::new("reviewed", "yes")],
    };
    runtime.block_on(async {
        for id in &accounts {
            gatehouse.execute(id, &actor, &change).await.expect("TagUser");
        }
    });
    let change_seconds = started.elapsed().as_secs_f64();
    let after_change = memory();
    let started = Instant::now();
    let mut reused = 0usize;
    for id in &accounts {
        let model = gatehouse.account(id).expect("account");
        for i in 0..users {
            let p = model.principal(&user_arn(id, &principal(i))).expect("principal");
            // Held by the successor's carried map, its cache and here: carried over, not recompiled.
            if Arc::strong_count(&p) >= 3 {
                reused += 1;
            }
        }
    }
    let reask_seconds = started.elapsed().as_secs_f64();
    let after_reask = memory();
    println!(
        "one TagUser per account: {} changes in {change_seconds:.1} s, live heap {:+.1} MiB; every principal asked \
         for again in {reask_seconds:.1} s: {reused} of {principals} compilations carried over, live heap {:+.1} MiB",
        accounts.len(),
        (after_change.heap as f64 - before_change.heap as f64) / (1024.0 * 1024.0),
        (after_reask.heap as f64 - after_change.heap as f64) / (1024.0 * 1024.0),
    );
    report.insert(
        "afterOneChangePerAccount".into(),
        json!({
            "changes": accounts.len(),
            "changeSeconds": round2(change_seconds),
            "heapDeltaOfChangesBytes": after_change.heap as i64 - before_change.heap as i64,
            "reaskSeconds": round2(reask_seconds),
            "compilationsCarriedOver": reused,
            "heapDeltaOfReaskBytes": after_reask.heap as i64 - after_change.heap as i64,
            "memory": report_memory("after one change per account", after_reask),
        }),
    );

    // 7. The models alone: keep every account's model, drop the service and with it the log.
    let models: Vec<Arc<AccountModel>> = accounts
        .iter()
        .map(|id| gatehouse.account(id).expect("account"))
        .collect();
    let service_refs = Arc::strong_count(&gatehouse);
    drop(store);
    drop(gatehouse);
    assert_eq!(service_refs, 1, "the service is still referenced");
    std::thread::sleep(Duration::from_millis(500));
    let model_only = memory();
    report.insert(
        "memoryModelsOnlyAfterChange".into(),
        report_memory("models only (log dropped)", model_only),
    );
    println!(
        "models alone after the change: live heap {:.1} MiB = {:.0} B/principal",
        mib(model_only.heap.saturating_sub(baseline.heap)),
        model_only.heap.saturating_sub(baseline.heap) as f64 / principals as f64
    );
    drop(models);
    std::thread::sleep(Duration::from_millis(500));
    let end = memory();
    report.insert("memoryAtEnd".into(), report_memory("everything dropped", end));
    let target = 2u64 * 1024 * 1024 * 1024;
    report.insert(
        "evaluationModel".into(),
        json!({
            "principals": principals,
            "compileSeconds": round2(compile_seconds),
            "policyCompilations": policies_compiled,
            "distinctAttachedPolicyDocuments": distinct_policies,
            "compiledRssBytes": compiled_rss,
            "compiledRssBytesPerPrincipal": round2(compiled_rss as f64 / principals as f64),
            "compiledHeapBytes": compiled_heap,
            "compiledHeapBytesPerPrincipal": round2(compiled_heap as f64 / principals as f64),
            "stateHeapBytes": state_heap,
            "stateHeapBytesPerPrincipal": round2(state_heap as f64 / principals as f64),
            "modelHeapBytes": model_heap,
            "modelHeapBytesPerPrincipal": round2(model_heap as f64 / principals as f64),
            "modelRssEstimateBytes": model_rss_estimate,
            "logAndServiceHeapBytes": log_heap,
            "targetBytes": target,
            "modelHeapUnderTarget": model_heap < target,
        }),
    );
    report.insert("sharing".into(), sharing);
    report.insert("latencyRounds".into(), Value::Array(rounds));
    println!("JSON {}", Value::Object(report));
}

/// Writes every event of the store as one JSON line (account, type, schema version, payload).
async fn write_log_file(store: &MemoryEventStore, path: &str) -> u64 {
    use iam_eventlog::EventFeed;
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the log file"));
    let mut after = 0u64;
    let mut written = 0u64;
    loop {
        let batch = store.read_from(after, 10_000).await.expect("read the log");
        let Some((last, _)) = batch.last() else { break };
        after = *last;
        for (_, e) in &batch {
            let line = json!({"a": e.account_id, "t": e.event_type, "v": e.schema_version, "p": e.payload});
            serde_json::to_writer(&mut out, &line).expect("write");
            out.write_all(b"\n").expect("write");
            written += 1;
        }
    }
    out.flush().expect("flush");
    written
}

/// A fresh process that never held the log: folds the JSON-lines log into account states,
/// compiles every user of every account, and reports the evaluation model's resident memory.
fn replay_log(path: &str) {
    use iam_domain::evolve;
    use std::io::BufRead;
    let baseline = memory();
    report_memory("at start", baseline);
    let started = Instant::now();
    let mut states: std::collections::HashMap<String, AccountState> = std::collections::HashMap::new();
    let mut events = 0u64;
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("open the log file"));
    for line in file.lines() {
        let line = line.expect("read");
        let record: Value = serde_json::from_str(&line).expect("a JSON line");
        let event = decode_event(
            record["t"].as_str().expect("type"),
            u32::try_from(record["v"].as_u64().expect("version")).expect("version"),
            &record["p"],
        )
        .expect("decode");
        evolve(
            states
                .entry(record["a"].as_str().expect("account").to_owned())
                .or_default(),
            &event,
        );
        events += 1;
    }
    let folded = memory();
    println!(
        "folded {events} events into {} account states in {:.1} s",
        states.len(),
        started.elapsed().as_secs_f64()
    );
    report_memory("states", folded);
    let started = Instant::now();
    let models: Vec<AccountModel> = states.into_values().map(|s| AccountModel::new(Arc::new(s))).collect();
    let mut principals = 0u64;
    for model in &models {
        for user in model.state().users() {
            model.principal(&user.arn.to_string()).expect("compiles");
            principals += 1;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let compiled = memory();
    println!(
        "compiled {principals} principals in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    report_memory("states + compiled principals", compiled);
    let rss = compiled.rss.saturating_sub(baseline.rss);
    let heap = compiled.heap.saturating_sub(baseline.heap);
    println!(
        "evaluation model alone (a process that never held the log): RSS {:.1} MiB = {:.0} B/principal, \
         live heap {:.1} MiB = {:.0} B/principal",
        mib(rss),
        rss as f64 / principals as f64,
        mib(heap),
        heap as f64 / principals as f64
    );
    println!(
        "JSON {}",
        json!({"replay": {"events": events, "accounts": models.len(), "principals": principals,
            "modelRssBytes": rss, "modelHeapBytes": heap, "peakRssBytes": compiled.peak_rss,
            "modelRssBytesPerPrincipal": round2(rss as f64 / principals as f64),
            "modelHeapBytesPerPrincipal": round2(heap as f64 / principals as f64)}})
    );
    drop(models);
}
