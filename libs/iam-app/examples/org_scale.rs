//! Organization scale: one organization of 10,000 accounts in 1,000 OUs five levels deep, five
//! SCPs on every node (`FullAWSAccess` and four of AWS's documented examples), built through
//! `Gatehouse::organizations` over the SQLite event store, then measured: the decision of a
//! principal five OUs deep against the same decision without an organization, `AttachPolicy` on
//! the root and the first decision after it, an org write at 10,000 accounts and the state clone
//! inside it, the memory of every account's guardrails, and loading the organization from the log.
//!
//! `cargo run --release -p iam-app --example org_scale`
//! `target/release/examples/org_scale [--data-dir DIR] [--accounts 10000] [--ous 1000]
//!   [--samples 200000] [--cycles 3] [--invite SEED.json] [--build-only]
//!   [--decide-only member|twin N]`
//!
//! Without `--data-dir` everything happens in a temporary directory. With it, the directory is an
//! iamd data directory (`events.db`, `master.key`): the organization is built there once, under
//! the deployment's first account, and later runs only measure. `--invite` takes a `loadtest seed`
//! manifest and makes each of its accounts a member five OUs deep (invited, accepted, moved, four
//! SCPs attached), so `loadtest decisions` against iamd on that directory decides under the
//! organization. The organization calls' own audit records go to a scratch file, not the data
//! directory's audit log.
//!
//! The allocator is iamd's (mimalloc), wrapped by `cap` to count live heap bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use iam_app::access::ApiCaller;
use iam_app::management::MemberAccountRequest;
use iam_app::organizations::{AccountGuardrails, OrgOperation};
use iam_app::{Actor, Gatehouse};
use iam_authz::{authorize_guarded, authorize_with_resource_policy, Guardrails, LevelCompiler, RequestFacts};
use iam_domain::organization::{OrgCommand, OrgPolicyType, OrganizationState};
use iam_domain::{Command, TagInput};
use iam_policy::{Context, ContextValue, DecisionEffect, PolicySet, PolicySource, PolicyType};
use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

const DEPTH: usize = 5;
const REGION: &str = "us-east-1";
const PROBE_MEMBER: &str = "org-scale-probe-member";
const PROBE_TWIN: &str = "org-scale-probe-twin";
const PROBE_USERS: usize = 20;
const TEAMS: [&str; 5] = ["payments", "search", "ml", "platform", "growth"];

// ---------------------------------------------------------------------------------------------
// The SCPs: AWS's documented examples (Organizations user guide, "Example SCPs").

/// "Prevent member accounts from leaving the organization".
fn deny_leaving() -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyLeavingOrganization", "Effect": "Deny",
         "Action": ["organizations:LeaveOrganization"], "Resource": "*"}]})
    .to_string()
}

/// "Deny access to AWS based on the requested AWS Region", with its list of global services.
fn approved_regions(regions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyAllOutsideApprovedRegions", "Effect": "Deny",
         "NotAction": [
            "a4b:*", "acm:*", "aws-marketplace-management:*", "aws-marketplace:*", "aws-portal:*",
            "budgets:*", "ce:*", "chime:*", "cloudfront:*", "config:*", "cur:*", "directconnect:*",
            "ec2:DescribeRegions", "ec2:DescribeTransitGateways", "ec2:DescribeVpnGateways", "fms:*",
            "globalaccelerator:*", "health:*", "iam:*", "importexport:*", "kms:*", "mobileanalytics:*",
            "networkmanager:*", "organizations:*", "pricing:*", "route53:*", "route53domains:*",
            "route53-recovery-cluster:*", "route53-recovery-control-config:*",
            "route53-recovery-readiness:*", "s3:GetAccountPublic*", "s3:ListAllMyBuckets",
            "s3:ListMultiRegionAccessPoints", "s3:PutAccountPublic*", "shield:*", "sts:*", "support:*",
            "trustedadvisor:*", "waf-regional:*", "waf:*", "wafv2:*", "wellarchitected:*"],
         "Resource": "*",
         "Condition": {
            "StringNotEquals": {"aws:RequestedRegion": regions},
            "ArnNotLike": {"aws:PrincipalARN": [
                "arn:aws:iam::*:role/Role1AllowedToBypassThisSCP",
                "arn:aws:iam::*:role/Role2AllowedToBypassThisSCP"]}}}]})
    .to_string()
}

/// "Block service access for the root user" (EC2).
fn deny_root_user() -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "RestrictEC2ForRoot", "Effect": "Deny", "Action": ["ec2:*"], "Resource": ["*"],
         "Condition": {"StringLike": {"aws:PrincipalArn": ["arn:aws:iam::*:root"]}}}]})
    .to_string()
}

/// "Prevent IAM users and roles from making specified changes, with an exception for a specified
/// admin role".
fn protect_role(role: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyAccessWithException", "Effect": "Deny",
         "Action": ["iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
            "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
            "iam:UpdateRoleDescription"],
         "Resource": [format!("arn:aws:iam::*:role/{role}")],
         "Condition": {"StringNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/SecurityAdministrator"}}}]})
    .to_string()
}

/// The SCP attached to the root during the measurement: "Prevent users from disabling CloudTrail".
fn protect_cloudtrail() -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ProtectCloudTrail", "Effect": "Deny",
         "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail"],
         "Resource": "*"}]})
    .to_string()
}

/// The role each level protects (level 0 is the root, 6 the account).
const PROTECTED_ROLES: [&str; DEPTH + 2] = [
    "OrganizationAccountAccessRole",
    "NetworkAdministrator",
    "SecurityAudit",
    "LogArchiveWriter",
    "BackupOperator",
    "BreakGlass",
    "DeploymentPipeline",
];
const FREEZE: &str = "ProtectCloudTrail";

/// Every customer SCP: name -> document.
fn customer_policies() -> BTreeMap<String, String> {
    let mut policies = BTreeMap::new();
    policies.insert("DenyLeavingOrganization".to_owned(), deny_leaving());
    policies.insert("DenyRootUserEC2".to_owned(), deny_root_user());
    policies.insert(
        "ApprovedRegions-global".to_owned(),
        approved_regions(&["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]),
    );
    policies.insert(
        "ApprovedRegions-us".to_owned(),
        approved_regions(&["us-east-1", "us-west-2"]),
    );
    policies.insert(
        "ApprovedRegions-eu".to_owned(),
        approved_regions(&["eu-west-1", "eu-central-1"]),
    );
    for (level, role) in PROTECTED_ROLES.iter().enumerate() {
        policies.insert(format!("ProtectRole-L{level}"), protect_role(role));
    }
    policies.insert(FREEZE.to_owned(), protect_cloudtrail());
    policies
}

/// The four customer SCPs of a node at `level` in `branch` (`global`, `us` or `eu`).
fn node_policies(level: usize, branch: &str) -> [String; 4] {
    [
        "DenyLeavingOrganization".to_owned(),
        "DenyRootUserEC2".to_owned(),
        format!("ApprovedRegions-{branch}"),
        format!("ProtectRole-L{level}"),
    ]
}

// ---------------------------------------------------------------------------------------------
// The probe accounts' world: loadtest's seed (same policies, groups, tagged users).

fn managed_policies(account_id: &str) -> Vec<(&'static str, String)> {
    let team_data = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "TeamObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::corp-data/${aws:PrincipalTag/team}/*"},
        {"Sid": "ListTeamPrefix", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::corp-data",
         "Condition": {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*"]}}},
        {"Sid": "TeamTables", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
         "Resource": format!("arn:aws:dynamodb:us-east-1:{account_id}:table/${{aws:PrincipalTag/team}}-*")}]});
    let protect_prod = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteBucket"],
         "Resource": ["arn:aws:s3:::corp-data/prod/*", "arn:aws:s3:::corp-data"]}]});
    let inventory = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Describe", "Effect": "Allow",
         "Action": ["ec2:Describe*", "s3:ListAllMyBuckets", "cloudwatch:GetMetricData"], "Resource": "*"},
        {"Sid": "AuditLogsWithClearance", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::audit-logs/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/clearance": "high"}}}]});
    let corp_network = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyOutsideCorpNetwork", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}]});
    let queue = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
         "Resource": format!("arn:aws:sqs:us-east-1:{account_id}:jobs-*")}]});
    vec![
        ("TeamDataAccess", team_data.to_string()),
        ("ProtectProd", protect_prod.to_string()),
        ("ReadOnlyInventory", inventory.to_string()),
        ("CorpNetworkOnly", corp_network.to_string()),
        ("QueueSender", queue.to_string()),
    ]
}

fn home_prefix_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::corp-data/home/${aws:username}/*"}]})
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

/// A standalone account with loadtest's policies, groups and `users` users.
async fn probe_account(gatehouse: &Gatehouse, actor: &Actor, alias: &str, users: usize) -> String {
    let (account, _key) = gatehouse
        .create_account(actor, Some(alias.to_owned()))
        .await
        .expect("create account");
    let run = |command: Command| {
        let account = account.clone();
        async move {
            gatehouse
                .execute(&account, actor, &command)
                .await
                .unwrap_or_else(|e| panic!("{} in {account}: {e}", command.action_name()));
        }
    };
    for (name, document) in managed_policies(&account) {
        run(Command::CreatePolicy {
            policy_name: name.into(),
            path: Some("/loadtest/".into()),
            policy_document: document,
            description: None,
            tags: vec![],
        })
        .await;
    }
    let arn = |name: &str| format!("arn:aws:iam::{account}:policy/loadtest/{name}");
    for group in ["developers", "auditors"] {
        run(Command::CreateGroup {
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
        run(Command::AttachGroupPolicy {
            group_name: group.into(),
            policy_arn: arn(policy),
        })
        .await;
    }
    for i in 0..users {
        let p = principal(i);
        let mut tags = vec![
            TagInput::new("team", p.team),
            TagInput::new("cost-center", format!("cc-{}", 1000 + i % 7)),
            TagInput::new("email", format!("{}@example.com", p.user_name)),
        ];
        if p.clearance {
            tags.push(TagInput::new("clearance", "high"));
        }
        run(Command::CreateUser {
            user_name: p.user_name.clone(),
            path: Some("/people/".into()),
            permissions_boundary: None,
            tags,
        })
        .await;
        run(Command::AddUserToGroup {
            group_name: if p.kind == Kind::Developer {
                "developers"
            } else {
                "auditors"
            }
            .into(),
            user_name: p.user_name.clone(),
        })
        .await;
        run(Command::AttachUserPolicy {
            user_name: p.user_name.clone(),
            policy_arn: arn("CorpNetworkOnly"),
        })
        .await;
        if p.inline_policy {
            run(Command::PutUserPolicy {
                user_name: p.user_name.clone(),
                policy_name: "HomePrefix".into(),
                policy_document: home_prefix_policy(),
            })
            .await;
        }
    }
    account
}

// ---------------------------------------------------------------------------------------------
// Requests with the decision the probe's policies give (loadtest's mix: 70 / 20 / 10), every one
// in an approved region, so the organization changes no outcome.

struct Sample {
    account: String,
    arn: String,
    action: &'static str,
    resource: String,
    facts: RequestFacts,
    expect: DecisionEffect,
}

/// The sample drawn by `seed` for `account`: the same seed gives the same request in any account.
fn sample(account: &str, seed: u64) -> Sample {
    let rng = &mut StdRng::seed_from_u64(seed);
    let p = principal(rng.gen_range(0..PROBE_USERS));
    let n: u32 = rng.gen_range(0..10_000);
    let team = p.team;
    let expect = match rng.gen_range(0..10) {
        0..=6 => DecisionEffect::Allowed,
        7 | 8 => DecisionEffect::ImplicitDeny,
        _ => DecisionEffect::ExplicitDeny,
    };
    let corp = format!(
        "10.{}.{}.{}",
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        rng.gen_range(1..255)
    );
    let mut ip = corp;
    let mut extra = vec![("aws:RequestedRegion".to_owned(), ContextValue::single(REGION))];
    let other = TEAMS[(TEAMS.iter().position(|t| *t == team).unwrap_or(0) + 1) % TEAMS.len()];
    let outside = format!("203.0.113.{}", rng.gen_range(1..255));
    let (action, resource) = match (p.kind, expect) {
        (Kind::Developer, DecisionEffect::Allowed) => match rng.gen_range(0..4) {
            0 => ("s3:GetObject", format!("arn:aws:s3:::corp-data/{team}/reports/{n}.csv")),
            1 => {
                extra.push(("s3:prefix".to_owned(), ContextValue::single(format!("{team}/2024/"))));
                ("s3:ListBucket", "arn:aws:s3:::corp-data".to_owned())
            }
            2 => (
                "dynamodb:Query",
                format!("arn:aws:dynamodb:us-east-1:{account}:table/{team}-orders"),
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
            2 => ("iam:CreateUser", format!("arn:aws:iam::{account}:user/intruder-{n}")),
            _ => (
                "ec2:TerminateInstances",
                format!("arn:aws:ec2:us-east-1:{account}:instance/i-{n:08x}"),
            ),
        },
        (Kind::Developer, DecisionEffect::ExplicitDeny) => {
            if rng.gen_bool(0.5) {
                ip = outside;
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
            ip = outside;
            ("ec2:DescribeInstances", "*".to_owned())
        }
    };
    Sample {
        account: account.to_owned(),
        arn: user_arn(account, &p),
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
// The decision paths measured.

/// `Gatehouse::organization_keys` for a request in the principal's own account: the account's
/// guardrails, and the organization condition keys.
fn organization_keys(gatehouse: &Gatehouse, account: &str, context: &mut Context) -> Option<Arc<AccountGuardrails>> {
    gatehouse.own_organization_keys(account, context)
}

/// The application's path (`access::decide` without the caller check and the record): the
/// account's model, the compiled principal, the request context, the organization's keys and
/// guardrails (none for an account in no organization), `authorize_guarded`.
fn decide_app(gatehouse: &Gatehouse, s: &Sample) -> DecisionEffect {
    let model = gatehouse.account(&s.account).expect("account");
    let principal = model.principal(&s.arn).expect("principal");
    let mut context = model.request_context(&principal, &s.facts, Utc::now());
    let own = organization_keys(gatehouse, &s.account, &mut context);
    let none = Guardrails::none();
    let guardrails = own.as_deref().map_or(&none, |g| &g.guardrails);
    let decision = authorize_guarded(
        &principal,
        s.action,
        &s.resource,
        None,
        None,
        guardrails,
        guardrails,
        &context,
    );
    black_box(decision).effect
}

/// What the decision API evaluates per request (`access::decide` without the record): the
/// caller's own `gatehouse:Authorize` on the principal (the account's root key here, as
/// `loadtest decisions` signs), under the organization's guardrails too, then the decision.
fn decide_api(gatehouse: &Gatehouse, caller: &ApiCaller, s: &Sample) -> DecisionEffect {
    let model = gatehouse.account(&s.account).expect("account");
    gatehouse
        .authorize_action(&model, caller, "gatehouse:Authorize", &s.arn, &[], Utc::now())
        .expect("the root user may ask");
    decide_app(gatehouse, s)
}

/// The bare decision without any organization lookup: `authorize_with_resource_policy`.
fn decide_bare(gatehouse: &Gatehouse, s: &Sample) -> DecisionEffect {
    let model = gatehouse.account(&s.account).expect("account");
    let principal = model.principal(&s.arn).expect("principal");
    let mut context = model.request_context(&principal, &s.facts, Utc::now());
    context.insert("aws:ResourceAccount", ContextValue::single(s.account.as_str()));
    let decision = authorize_with_resource_policy(&principal, s.action, &s.resource, None, None, &context);
    black_box(decision).effect
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn summary(samples: &mut [f64]) -> Value {
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "n": samples.len(),
        "p50": round3(percentile(samples, 50.0)),
        "p90": round3(percentile(samples, 90.0)),
        "p99": round3(percentile(samples, 99.0)),
        "max": round3(samples.last().copied().unwrap_or(0.0)),
        "mean": round3(mean),
    })
}

fn show(label: &str, unit: &str, s: &Value) {
    println!(
        "  {label:<52} p50 {:>9.3} {unit}  p90 {:>9.3}  p99 {:>9.3}  max {:>10.3}  mean {:>9.3}  (n = {})",
        s["p50"].as_f64().unwrap_or(0.0),
        s["p90"].as_f64().unwrap_or(0.0),
        s["p99"].as_f64().unwrap_or(0.0),
        s["max"].as_f64().unwrap_or(0.0),
        s["mean"].as_f64().unwrap_or(0.0),
        s["n"]
    );
}

fn heap() -> i64 {
    ALLOCATOR.allocated() as i64
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn micros_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// A level compiled from the organization's policies of these names (in the app's own way).
fn level_of(compiler: &LevelCompiler, state: &OrganizationState, names: &[&str]) -> Arc<PolicySet> {
    let sources: Vec<(PolicySource, &str)> = names
        .iter()
        .map(|name| {
            let p = state
                .policies()
                .find(|p| p.name == *name)
                .expect("a policy of that name");
            let mut source = PolicySource::new(p.id.as_str(), PolicyType::ServiceControlPolicy);
            source.version_id = Some(p.version_id().into());
            (source, p.content.as_str())
        })
        .collect();
    compiler.compile(&sources)
}

/// Seven levels, each `FullAWSAccess` and these documents.
fn levels_of_documents(compiler: &LevelCompiler, documents: &[String]) -> Guardrails {
    let full = iam_domain::organization::AWS_MANAGED_ORG_POLICIES[0].content;
    Guardrails {
        service_control: (0..=DEPTH + 1)
            .map(|level| {
                let source = |id: String| {
                    let mut source = PolicySource::new(id.as_str(), PolicyType::ServiceControlPolicy);
                    source.version_id = Some("v1".into());
                    source
                };
                let mut sources = vec![(source("p-FullAWSAccess".into()), full)];
                for (k, document) in documents.iter().enumerate() {
                    sources.push((source(format!("p-variant-{k}-{level}")), document.as_str()));
                }
                compiler.compile(&sources)
            })
            .collect(),
        resource_control: iam_policy::OrgLevels::default(),
    }
}

/// Where the organization's cost in a decision goes: the guardrails lookup, the organization
/// condition keys, and the evaluation of the levels, against variants of the same levels.
fn breakdown(gatehouse: &Gatehouse, state: &OrganizationState, samples: &[Sample]) -> Value {
    let member = &samples[0].account;
    let compiler = LevelCompiler::new();
    let full = "FullAWSAccess";
    let levels = |f: &dyn Fn(usize) -> Vec<String>| -> Guardrails {
        Guardrails {
            service_control: (0..=DEPTH + 1)
                .map(|level| {
                    let names = f(level);
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    level_of(&compiler, state, &names)
                })
                .collect(),
            resource_control: iam_policy::OrgLevels::default(),
        }
    };
    let branch = |level: usize| if level == 0 { "global" } else { "us" };
    let all_five = |level: usize| {
        let mut names = vec![full.to_owned()];
        names.extend(node_policies(level, branch(level)));
        names
    };
    let actual = gatehouse.guardrails_of(member).expect("a member").guardrails.clone();
    let rebuilt = levels(&all_five);
    // The same guardrails with every policy attached at several levels kept only at the highest
    // (denies are order-free, so a policy's second evaluation on one path can only repeat the first).
    let deduplicated = levels(&|level: usize| {
        let mut names = vec![full.to_owned(), format!("ProtectRole-L{level}")];
        match level {
            0 => names.extend(node_policies(0, "global")[..3].iter().cloned()),
            1 => names.push("ApprovedRegions-us".into()),
            _ => {}
        }
        names
    });
    // Two rewrites of the region SCP, to see which of its parts costs: the 45-entry `NotAction`
    // (checked glob by glob for every request: a `NotAction` statement is not in the action
    // index) and the `ArnNotLike` on `aws:PrincipalARN`.
    let region = state
        .policies()
        .find(|p| p.name == "ApprovedRegions-us")
        .expect("the region SCP")
        .content
        .clone();
    let mut short: Value = serde_json::from_str(&region).expect("JSON");
    short["Statement"][0]["NotAction"] = json!(["iam:*", "organizations:*", "sts:*"]);
    let mut no_arn: Value = serde_json::from_str(&region).expect("JSON");
    no_arn["Statement"][0]["Condition"]
        .as_object_mut()
        .expect("conditions")
        .remove("ArnNotLike");
    let short_not_action = [short.to_string()];
    let without_arn_condition = [no_arn.to_string()];
    let variants: Vec<(&str, Guardrails)> = vec![
        ("no levels", Guardrails::none()),
        ("7 levels of FullAWSAccess", levels(&|_| vec![full.to_owned()])),
        (
            "7 levels of FullAWSAccess + ApprovedRegions",
            levels(&|level| vec![full.to_owned(), format!("ApprovedRegions-{}", branch(level))]),
        ),
        (
            "7 levels of FullAWSAccess + ApprovedRegions with a 3-entry NotAction",
            levels_of_documents(&compiler, &short_not_action),
        ),
        (
            "7 levels of FullAWSAccess + ApprovedRegions without its ArnNotLike",
            levels_of_documents(&compiler, &without_arn_condition),
        ),
        ("7 levels of all five (as the organization has them)", rebuilt),
        ("the same, each policy once per path", deduplicated),
    ];
    let mut lookup = Vec::with_capacity(samples.len());
    let mut keys = Vec::with_capacity(samples.len());
    let mut evaluate: Vec<Vec<f64>> = vec![Vec::with_capacity(samples.len()); variants.len() + 1];
    let model = gatehouse.account(member).expect("account");
    for (i, s) in samples.iter().enumerate() {
        let principal = model.principal(&s.arn).expect("principal");
        let t = Instant::now();
        black_box(gatehouse.guardrails_of(member));
        lookup.push(micros_since(t));
        let mut context = model.request_context(&principal, &s.facts, Utc::now());
        let t = Instant::now();
        black_box(organization_keys(gatehouse, member, &mut context));
        keys.push(micros_since(t));
        let k = variants.len() + 1;
        for j in 0..k {
            let v = (i + j) % k;
            let guardrails = if v == variants.len() { &actual } else { &variants[v].1 };
            let t = Instant::now();
            let decision = authorize_guarded(
                &principal,
                s.action,
                &s.resource,
                None,
                None,
                guardrails,
                guardrails,
                &context,
            );
            let micros = micros_since(t);
            assert_eq!(decision.effect, s.expect);
            evaluate[v].push(micros);
        }
    }
    println!(
        "where the organization's share goes (member 5 OUs deep, {} samples):",
        samples.len()
    );
    let lookup = summary(&mut lookup);
    let keys = summary(&mut keys);
    show("Gatehouse::guardrails_of (steady: cached)", "µs", &lookup);
    show("organization_keys (lookup + 5 context keys)", "µs", &keys);
    let mut out = serde_json::Map::new();
    for (v, micros) in evaluate.iter_mut().enumerate() {
        let label = if v == variants.len() {
            "the account's own guardrails"
        } else {
            variants[v].0
        };
        let s = summary(micros);
        show(&format!("authorize_guarded, {label}"), "µs", &s);
        out.insert(label.to_owned(), s);
    }
    json!({"guardrailsOfMicros": lookup, "organizationKeysMicros": keys, "authorizeGuardedMicros": out})
}

// ---------------------------------------------------------------------------------------------
// The organization through the use cases.

fn caller(account: &str) -> ApiCaller {
    ApiCaller {
        account_id: account.to_owned(),
        principal_arn: format!("arn:aws:iam::{account}:root"),
        access_key_id: None,
        source_ip: Some("10.0.0.1".into()),
        user_agent: Some("org_scale".into()),
        request_id: "org-scale".into(),
        region: REGION.into(),
        api_version: None,
        session: None,
    }
}

async fn org(gatehouse: &Gatehouse, account: &str, operation: OrgOperation) -> Value {
    let name = operation.name();
    gatehouse
        .organizations(&caller(account), operation, None)
        .await
        .unwrap_or_else(|e| panic!("{name} by {account}: {e}"))
        .response
}

async fn change(gatehouse: &Gatehouse, account: &str, command: OrgCommand) -> Value {
    org(gatehouse, account, OrgOperation::Change(command)).await
}

/// One change, timed end to end (µs).
async fn timed_change(gatehouse: &Gatehouse, account: &str, command: OrgCommand) -> f64 {
    let t = Instant::now();
    change(gatehouse, account, command).await;
    micros_since(t)
}

fn attach(policy_id: &str, target_id: &str) -> OrgCommand {
    OrgCommand::AttachPolicy {
        policy_id: policy_id.to_owned(),
        target_id: target_id.to_owned(),
    }
}

fn detach(policy_id: &str, target_id: &str) -> OrgCommand {
    OrgCommand::DetachPolicy {
        policy_id: policy_id.to_owned(),
        target_id: target_id.to_owned(),
    }
}

/// What the organization is, read back from its state.
struct World {
    management: String,
    organization_id: String,
    root_id: String,
    /// Customer SCP name -> id.
    policies: BTreeMap<String, String>,
    /// Depth-5 OUs of the `us` branch (where the probe and invited accounts go).
    us_leaves: Vec<String>,
    probe_member: Option<String>,
    probe_twin: Option<String>,
}

impl World {
    fn read(gatehouse: &Gatehouse) -> Option<World> {
        let management = gatehouse.management_account()?;
        let model = gatehouse.organization_model_of(&management)?;
        let state = model.state();
        let info = state.info()?;
        let mut us_leaves: Vec<String> = state
            .units()
            .filter(|u| u.name.starts_with("us-d5-"))
            .map(|u| u.id.clone())
            .collect();
        us_leaves.sort_by_key(|id| state.unit(id).map(|u| u.name.clone()));
        let alias = |wanted: &str| {
            gatehouse.account_ids().into_iter().find(|id| {
                gatehouse.account(id).is_some_and(|m| {
                    m.state()
                        .account()
                        .is_some_and(|a| a.account_alias.as_deref() == Some(wanted))
                })
            })
        };
        Some(World {
            management: management.clone(),
            organization_id: info.id.clone(),
            root_id: state.root()?.id.clone(),
            policies: state
                .policies_of(OrgPolicyType::ServiceControlPolicy)
                .filter(|p| !p.aws_managed)
                .map(|p| (p.name.clone(), p.id.clone()))
                .collect(),
            us_leaves,
            probe_member: alias(PROBE_MEMBER),
            probe_twin: alias(PROBE_TWIN),
        })
    }

    fn state(&self, gatehouse: &Gatehouse) -> Arc<OrganizationState> {
        gatehouse
            .organization_model_of(&self.management)
            .expect("the organization")
            .state()
            .clone()
    }
}

/// OUs per depth: 1 % / 3 % / 9 % / 27 % / 60 % of `ous` (10 / 30 / 90 / 270 / 600 of 1,000).
fn ous_per_depth(ous: usize) -> [usize; DEPTH] {
    let shares = [1usize, 3, 9, 27];
    let mut counts = [0usize; DEPTH];
    for (d, share) in shares.iter().enumerate() {
        counts[d] = (ous * share / 100).max(if d == 0 { 2 } else { 1 });
    }
    counts[DEPTH - 1] = ous.saturating_sub(counts[..DEPTH - 1].iter().sum()).max(1);
    counts
}

/// Builds the organization: policies, the OU tree, `accounts` created accounts, each node with
/// `FullAWSAccess` and four customer SCPs. Prints the org write latency as the organization grows.
async fn build(
    gatehouse: &Arc<Gatehouse>,
    actor: &Actor,
    dir: &Path,
    accounts: usize,
    ous: usize,
    concurrency: usize,
) -> Value {
    let started = Instant::now();
    let management = match gatehouse.management_account() {
        Some(id) => id,
        None => {
            // What iamd's first start does: the first account, its root key where only the owner
            // reads it (`loadtest seed` signs with it).
            let (id, key) = gatehouse
                .create_account(actor, Some("management".into()))
                .await
                .expect("management account");
            let credentials = format!(
                "# Gatehouse root credentials of account {id}. Keep this file secret.\n[gatehouse]\n\
                 aws_access_key_id = {}\naws_secret_access_key = {}\nregion = {REGION}\n",
                key.access_key_id,
                key.secret_access_key.as_str()
            );
            write_private(&dir.join("root-credentials"), &credentials);
            id
        }
    };
    change(
        gatehouse,
        &management,
        OrgCommand::CreateOrganization {
            management_account_id: management.clone(),
            management_account_email: String::new(),
            feature_set: Some("ALL".into()),
        },
    )
    .await;
    let model = gatehouse.organization_model_of(&management).expect("organization");
    let root_id = model.state().root().expect("root").id.clone();
    change(
        gatehouse,
        &management,
        OrgCommand::EnablePolicyType {
            root_id: root_id.clone(),
            policy_type: OrgPolicyType::ServiceControlPolicy,
        },
    )
    .await;
    let mut policies = BTreeMap::new();
    for (name, content) in customer_policies() {
        let created = change(
            gatehouse,
            &management,
            OrgCommand::CreatePolicy {
                name: name.clone(),
                description: "org_scale: one of AWS's documented example SCPs".into(),
                policy_type: OrgPolicyType::ServiceControlPolicy,
                content,
            },
        )
        .await;
        let id = created["Policy"]["PolicySummary"]["Id"]
            .as_str()
            .expect("policy id")
            .to_owned();
        policies.insert(name, id);
    }
    for name in node_policies(0, "global") {
        change(gatehouse, &management, attach(&policies[&name], &root_id)).await;
    }
    // The OU tree: each OU under the (i mod n)-th OU one level up; top-level OUs alternate
    // between the `us` and `eu` branches, whose approved regions differ.
    let counts = ous_per_depth(ous);
    let mut levels: Vec<Vec<(String, &'static str)>> = Vec::new();
    let mut write_micros = Vec::new();
    for (d, &count) in counts.iter().enumerate() {
        let depth = d + 1;
        let mut this_level = Vec::with_capacity(count);
        for i in 0..count {
            let (parent, branch) = if d == 0 {
                (root_id.clone(), if i % 2 == 0 { "us" } else { "eu" })
            } else {
                let above = &levels[d - 1];
                above[i % above.len()].clone()
            };
            let t = Instant::now();
            let created = change(
                gatehouse,
                &management,
                OrgCommand::CreateOrganizationalUnit {
                    parent_id: parent,
                    name: format!("{branch}-d{depth}-{i:04}"),
                },
            )
            .await;
            write_micros.push(micros_since(t));
            let id = created["OrganizationalUnit"]["Id"].as_str().expect("OU id").to_owned();
            for name in node_policies(depth, branch) {
                write_micros.push(timed_change(gatehouse, &management, attach(&policies[&name], &id)).await);
            }
            this_level.push((id, branch));
        }
        levels.push(this_level);
    }
    let ou_seconds = started.elapsed().as_secs_f64();
    println!(
        "built {} OUs ({counts:?} per depth) with 4 SCPs each in {ou_seconds:.1} s",
        counts.iter().sum::<usize>()
    );
    let leaves = Arc::new(levels[DEPTH - 1].clone());
    let policies = Arc::new(policies);

    // The accounts: `concurrency` at once (their own streams are written in parallel; the
    // organization's writes queue on its writer).
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<(usize, f64, f64)>::new()));
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (gatehouse, management, leaves, policies, next, latencies) = (
            gatehouse.clone(),
            management.clone(),
            leaves.clone(),
            policies.clone(),
            next.clone(),
            latencies.clone(),
        );
        handles.push(tokio::spawn(async move {
            loop {
                let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if j >= accounts {
                    break;
                }
                let (leaf, branch) = &leaves[j % leaves.len()];
                let t = Instant::now();
                let created = org(
                    &gatehouse,
                    &management,
                    OrgOperation::CreateAccount(MemberAccountRequest {
                        account_name: format!("member-{j:05}"),
                        email: format!("member-{j:05}@example.com"),
                        role_name: None,
                        parent_id: Some(leaf.clone()),
                    }),
                )
                .await;
                let create = micros_since(t);
                let id = created["CreateAccountStatus"]["AccountId"]
                    .as_str()
                    .expect("account id")
                    .to_owned();
                let mut attach_total = 0.0;
                for name in node_policies(DEPTH + 1, branch) {
                    attach_total += timed_change(&gatehouse, &management, attach(&policies[&name], &id)).await;
                }
                let mut all = latencies.lock().unwrap();
                all.push((j, create, attach_total / 4.0));
                if all.len().is_multiple_of(1000) {
                    let recent: Vec<_> = all[all.len() - 1000..].to_vec();
                    drop(all);
                    let mut creates: Vec<f64> = recent.iter().map(|r| r.1 / 1000.0).collect();
                    let mut attaches: Vec<f64> = recent.iter().map(|r| r.2 / 1000.0).collect();
                    let (c, a) = (summary(&mut creates), summary(&mut attaches));
                    println!(
                        "  {:>6} accounts: CreateAccount p50 {:.2} ms p99 {:.2} ms; AttachPolicy (one org write) p50 {:.2} ms \
                         p99 {:.2} ms  (load average {})",
                        j + 1,
                        c["p50"].as_f64().unwrap_or(0.0),
                        c["p99"].as_f64().unwrap_or(0.0),
                        a["p50"].as_f64().unwrap_or(0.0),
                        a["p99"].as_f64().unwrap_or(0.0),
                        load_average()
                    );
                }
            }
        }));
    }
    for handle in handles {
        handle.await.expect("account task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let writes = 3 + policies.len() + 4 + counts.iter().sum::<usize>() * 5 + accounts * 5;
    println!(
        "built the organization: {accounts} accounts, {} OUs, {} customer SCPs, {writes} organization writes in {seconds:.1} s",
        counts.iter().sum::<usize>(),
        policies.len()
    );
    let mut all = latencies.lock().unwrap().clone();
    all.sort_by_key(|r| r.0);
    let tail = all.len().saturating_sub(1000);
    let mut last_attach: Vec<f64> = all[tail..].iter().map(|r| r.2).collect();
    json!({"seconds": round3(seconds), "organizationWrites": writes, "ousPerDepth": counts,
           "ouPhaseSeconds": round3(ou_seconds),
           "attachMicrosLast1000Accounts": summary(&mut last_attach),
           "ouWriteMicros": summary(&mut write_micros)})
}

/// Makes `account` a member five OUs deep: invited, accepted, moved, four SCPs attached.
async fn join_deep(gatehouse: &Gatehouse, world: &World, account: &str, leaf: &str) {
    let invited = change(
        gatehouse,
        &world.management,
        OrgCommand::InviteAccount {
            target_account_id: account.to_owned(),
            notes: Some("org_scale".into()),
            target_in_other_organization: false,
        },
    )
    .await;
    let handshake = invited["Handshake"]["Id"].as_str().expect("handshake").to_owned();
    change(
        gatehouse,
        account,
        OrgCommand::AcceptHandshake {
            handshake_id: handshake,
            caller_account_id: String::new(),
            account_name: String::new(),
            in_other_organization: false,
        },
    )
    .await;
    change(
        gatehouse,
        &world.management,
        OrgCommand::MoveAccount {
            account_id: account.to_owned(),
            source_parent_id: world.root_id.clone(),
            destination_parent_id: leaf.to_owned(),
        },
    )
    .await;
    for name in node_policies(DEPTH + 1, "us") {
        change(gatehouse, &world.management, attach(&world.policies[&name], account)).await;
    }
}

// ---------------------------------------------------------------------------------------------

struct Options {
    data_dir: Option<PathBuf>,
    accounts: usize,
    ous: usize,
    samples: usize,
    cycles: usize,
    concurrency: usize,
    invite: Option<PathBuf>,
    build_only: bool,
    /// `member` or `twin`, and how many decisions.
    decide_only: Option<(String, usize)>,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            data_dir: None,
            accounts: 10_000,
            ous: 1_000,
            samples: 200_000,
            cycles: 3,
            concurrency: 8,
            invite: None,
            build_only: false,
            decide_only: None,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let value = || {
                args.get(i + 1)
                    .unwrap_or_else(|| panic!("{} needs a value", args[i]))
                    .clone()
            };
            let number = || value().replace('_', "").parse::<usize>().expect("a number");
            match args[i].as_str() {
                "--data-dir" => options.data_dir = Some(PathBuf::from(value())),
                "--accounts" => options.accounts = number(),
                "--ous" => options.ous = number(),
                "--samples" => options.samples = number(),
                "--cycles" => options.cycles = number(),
                "--concurrency" => options.concurrency = number().max(1),
                "--invite" => options.invite = Some(PathBuf::from(value())),
                "--decide-only" => {
                    let side = value();
                    assert!(side == "member" || side == "twin", "--decide-only member|twin N");
                    let n = args
                        .get(i + 2)
                        .and_then(|n| n.replace('_', "").parse().ok())
                        .expect("--decide-only member|twin N");
                    options.decide_only = Some((side, n));
                    i += 3;
                    continue;
                }
                "--build-only" => {
                    options.build_only = true;
                    i += 1;
                    continue;
                }
                other => panic!("unknown argument {other}"),
            }
            i += 2;
        }
        options
    }
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    file.write_all(contents.as_bytes()).expect("write");
    file.sync_all().expect("sync");
}

/// iamd's master key file, made as iamd makes it when missing (32 random bytes, base64).
fn master_key(dir: &Path) -> Sealer {
    let path = dir.join("master.key");
    if !path.exists() {
        let key: [u8; 32] = rand::random();
        write_private(&path, &format!("{}\n", base64(&key)));
    }
    Sealer::from_base64(&std::fs::read_to_string(&path).expect("read the master key")).expect("a master key")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn open(dir: &Path, audit: &Path) -> (SqliteEventStore, Arc<Gatehouse>, f64) {
    let store = SqliteEventStore::open(&dir.join("events.db").to_string_lossy(), SqliteStoreOptions::default())
        .await
        .expect("open the event store");
    let audit = SqliteAuditLog::open(&audit.to_string_lossy(), AuditDurability::Process)
        .await
        .expect("open the scratch audit log");
    let sealer = master_key(dir);
    let t = Instant::now();
    let gatehouse = Gatehouse::load(Arc::new(store.clone()), sealer).await.expect("load");
    let seconds = t.elapsed().as_secs_f64();
    (store, Arc::new(gatehouse.with_audit(Arc::new(audit))), seconds)
}

fn main() {
    let options = Options::parse();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let dir = options.data_dir.clone().unwrap_or_else(|| scratch.path().join("data"));
    std::fs::create_dir_all(&dir).expect("create the data directory");
    let audit_path = scratch.path().join("org-scale-audit.db");
    println!(
        "org_scale: {} accounts, {} OUs, {DEPTH} levels deep, 5 SCPs per node; data directory {}; load average {}",
        options.accounts,
        options.ous,
        dir.display(),
        load_average()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let actor = Actor {
        arn: "gatehouse:org-scale".into(),
        request_id: "org-scale".into(),
    };
    let mut report = serde_json::Map::new();

    // 1. Build (once per data directory), and the probe accounts and invited accounts.
    let (store, gatehouse, _) = runtime.block_on(open(&dir, &audit_path));
    if World::read(&gatehouse).is_none() {
        let built = runtime.block_on(build(
            &gatehouse,
            &actor,
            &dir,
            options.accounts,
            options.ous,
            options.concurrency,
        ));
        report.insert("build".into(), built);
    }
    let world = World::read(&gatehouse).expect("the organization");
    if world.probe_member.is_none() {
        runtime.block_on(async {
            let member = probe_account(&gatehouse, &actor, PROBE_MEMBER, PROBE_USERS).await;
            probe_account(&gatehouse, &actor, PROBE_TWIN, PROBE_USERS).await;
            join_deep(&gatehouse, &world, &member, &world.us_leaves[0]).await;
        });
    }
    if let Some(path) = &options.invite {
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read the seed manifest")).expect("JSON");
        let ids: Vec<String> = manifest["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .map(|a| a["accountId"].as_str().expect("accountId").to_owned())
            .collect();
        runtime.block_on(async {
            for (k, id) in ids.iter().enumerate() {
                if gatehouse.organization_of(id).is_some() {
                    continue;
                }
                let leaf = &world.us_leaves[(k + 1) % world.us_leaves.len()];
                join_deep(&gatehouse, &world, id, leaf).await;
                let path = gatehouse.guardrails_of(id).expect("a member").org_path.clone();
                println!("invited {id}: a member at {path}");
            }
        });
    }
    runtime.block_on(store.close());
    drop(gatehouse);
    if options.build_only {
        println!("built; not measuring (--build-only)");
        return;
    }

    // 2. Load from the log, as iamd starts.
    let before_load = heap();
    let (store, gatehouse, load_seconds) = runtime.block_on(open(&dir, &audit_path));
    let loaded_heap = heap() - before_load;
    let world = World::read(&gatehouse).expect("the organization");
    let member = world.probe_member.clone().expect("probe member");
    let twin = world.probe_twin.clone().expect("probe twin");
    let state = world.state(&gatehouse);
    let members: Vec<String> = state
        .accounts()
        .filter(|a| a.id != world.management)
        .map(|a| a.id.clone())
        .collect();
    let attachments: usize = members
        .iter()
        .map(|a| state.policies_for_target(a, None).len())
        .sum::<usize>()
        + state
            .units()
            .map(|u| state.policies_for_target(&u.id, None).len())
            .sum::<usize>()
        + state.policies_for_target(&world.root_id, None).len();
    println!(
        "organization {}: {} member accounts, {} OUs, {} policies, {attachments} attachments, sequence {}; \
         {} accounts in the log",
        world.organization_id,
        members.len(),
        state.units().count(),
        state.policies().count(),
        state.version(),
        gatehouse.account_ids().len()
    );
    println!(
        "load from the log (Gatehouse::load over SqliteEventStore): {load_seconds:.2} s, live heap {:.1} MiB",
        loaded_heap as f64 / 1048576.0
    );
    report.insert(
        "organization".into(),
        json!({"id": world.organization_id, "memberAccounts": members.len(), "ous": state.units().count(),
               "policies": state.policies().count(), "attachments": attachments, "sequence": state.version(),
               "accountsInLog": gatehouse.account_ids().len(), "probeMember": member,
               "probeMemberOrgPath": state.org_path(&member)}),
    );
    report.insert(
        "load".into(),
        json!({"seconds": round3(load_seconds), "heapBytes": loaded_heap}),
    );
    assert_eq!(state.depth_of(&member), DEPTH, "the probe is five OUs deep");
    assert!(
        gatehouse.organization_of(&twin).is_none(),
        "the twin is in no organization"
    );

    // 3. The state an org write clones, and the member sets `install_organization` compares.
    let (clone_bytes, mut clone_micros) = {
        let before = heap();
        let copy = OrganizationState::clone(&state);
        let bytes = heap() - before;
        drop(copy);
        let mut micros = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            black_box(OrganizationState::clone(&state));
            micros.push(micros_since(t));
        }
        (bytes, micros)
    };
    let mut member_set_micros = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let had: BTreeSet<String> = state.accounts().map(|a| a.id.clone()).collect();
        let has: BTreeSet<String> = state.accounts().map(|a| a.id.clone()).collect();
        black_box(had == has);
        member_set_micros.push(micros_since(t));
    }
    let clone = summary(&mut clone_micros);
    let member_sets = summary(&mut member_set_micros);
    println!(
        "OrganizationState: {:.1} MiB of heap; one clone (every org write makes one) p50 {:.2} ms; \
         the two member sets install_organization builds p50 {:.2} ms",
        clone_bytes as f64 / 1048576.0,
        clone["p50"].as_f64().unwrap_or(0.0) / 1000.0,
        member_sets["p50"].as_f64().unwrap_or(0.0) / 1000.0
    );
    report.insert(
        "stateClone".into(),
        json!({"heapBytes": clone_bytes, "cloneMicros": clone, "memberSetsMicros": member_sets}),
    );

    // 4. Every account's guardrails, built lazily on the loaded model: time and memory.
    let guardrails_build = |label: &str| -> Value {
        let mut micros = Vec::with_capacity(members.len());
        let mut held = Vec::with_capacity(members.len());
        let before = heap();
        let t_all = Instant::now();
        for id in &members {
            let t = Instant::now();
            held.push(gatehouse.guardrails_of(id).expect("a member"));
            micros.push(micros_since(t));
        }
        let seconds = t_all.elapsed().as_secs_f64();
        let bytes = heap() - before;
        let mut sets: HashSet<*const PolicySet> = HashSet::new();
        let mut levels = 0usize;
        for g in &held {
            // Each distinct policy is a compiled set of its own since guardrails share policies.
            for set in g.guardrails.service_control.policies() {
                sets.insert(Arc::as_ptr(set));
            }
            levels += g.guardrails.service_control.len();
        }
        let mut nodes: HashSet<&str> = HashSet::new();
        for id in &members {
            for node in state.path_to(id) {
                nodes.insert(node);
            }
        }
        let s = summary(&mut micros);
        println!(
            "{label}: guardrails of all {} accounts built in {seconds:.2} s; per account p50 {:.1} µs p99 {:.1} µs \
             max {:.0} µs; live heap +{:.1} MiB = {:.0} B/account; \
             {levels} (account, level) pairs over {} distinct nodes hold {} distinct compiled level sets",
            members.len(),
            s["p50"].as_f64().unwrap_or(0.0),
            s["p99"].as_f64().unwrap_or(0.0),
            s["max"].as_f64().unwrap_or(0.0),
            bytes as f64 / 1048576.0,
            bytes as f64 / members.len() as f64,
            nodes.len(),
            sets.len()
        );
        drop(held);
        json!({"seconds": round3(seconds), "perAccountMicros": s, "heapBytes": bytes,
               "heapBytesPerAccount": round3(bytes as f64 / members.len() as f64),
               "accountLevelPairs": levels,
               "distinctNodes": nodes.len(), "distinctCompiledLevelSets": sets.len()})
    };
    report.insert("guardrailsAfterLoad".into(), guardrails_build("after load"));

    // 5. Steady state: the probe's decisions with the organization and without, interleaved.
    let n = options.samples;
    let with_samples: Vec<Sample> = (0..n as u64).map(|i| sample(&member, i)).collect();
    let without_samples: Vec<Sample> = (0..n as u64).map(|i| sample(&twin, i)).collect();
    // Only one side's decisions, then stop: under `valgrind --tool=callgrind` the instructions
    // per decision, which the machine's load does not change (see docs/benchmarks.md).
    if let Some((side, n)) = &options.decide_only {
        let samples = if side == "member" {
            &with_samples
        } else {
            &without_samples
        };
        for i in 0..*n {
            black_box(decide_app(&gatehouse, &samples[i % samples.len()]));
        }
        return;
    }
    for s in with_samples.iter().take(2_000) {
        assert_eq!(
            decide_app(&gatehouse, s),
            s.expect,
            "{} {} {}",
            s.arn,
            s.action,
            s.resource
        );
        assert_eq!(decide_bare(&gatehouse, s), s.expect);
    }
    for s in without_samples.iter().take(2_000) {
        assert_eq!(decide_app(&gatehouse, s), s.expect);
    }
    let rounds = |label: &str, report: &mut serde_json::Map<String, Value>| {
        let mut out = Vec::new();
        for round in 1..=3 {
            let (mut with, mut without, mut bare, mut delta) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let mut allowed_with = Vec::new();
            let mut allowed_without = Vec::new();
            let mut wrong = 0usize;
            for i in 0..n {
                let (sw, so) = (&with_samples[i], &without_samples[i]);
                let mut time = |f: &dyn Fn() -> DecisionEffect, expect| {
                    let t = Instant::now();
                    let effect = f();
                    let micros = micros_since(t);
                    if effect != expect {
                        wrong += 1;
                    }
                    micros
                };
                // Rotate the order, so neither side always runs with the other's cache warmth.
                let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
                for k in 0..3 {
                    match (i + k) % 3 {
                        0 => a = time(&|| decide_app(&gatehouse, sw), sw.expect),
                        1 => b = time(&|| decide_app(&gatehouse, so), so.expect),
                        _ => c = time(&|| decide_bare(&gatehouse, so), so.expect),
                    }
                }
                if sw.expect == DecisionEffect::Allowed {
                    allowed_with.push(a);
                    allowed_without.push(b);
                }
                with.push(a);
                without.push(b);
                bare.push(c);
                delta.push(a - b);
            }
            assert_eq!(wrong, 0, "a decision differs from what the probe's policies imply");
            let (with, without, bare, delta) = (
                summary(&mut with),
                summary(&mut without),
                summary(&mut bare),
                summary(&mut delta),
            );
            let (allowed_with, allowed_without) = (summary(&mut allowed_with), summary(&mut allowed_without));
            println!("{label}, round {round} (load average {}):", load_average());
            show("member 5 OUs deep: lookup + authorize_guarded", "µs", &with);
            show("twin in no organization: lookup (miss) + authorize", "µs", &without);
            show("twin, authorize_with_resource_policy, no lookup", "µs", &bare);
            show("paired difference (member - twin)", "µs", &delta);
            show("allowed only: member", "µs", &allowed_with);
            show("allowed only: twin", "µs", &allowed_without);
            let p50 = |v: &Value| v["p50"].as_f64().unwrap_or(0.0);
            println!(
                "  p50 difference: {:+.3} µs against the twin's app path, {:+.3} µs against the bare decision \
                 (target: within 0.3 µs)",
                p50(&with) - p50(&without),
                p50(&with) - p50(&bare)
            );
            out.push(
                json!({"round": round, "loadAverage": load_average(), "member": with, "twin": without,
                            "twinBare": bare, "pairedDifference": delta,
                            "allowedMember": allowed_with, "allowedTwin": allowed_without,
                            "p50DifferenceMicros": round3(p50(&with) - p50(&without)),
                            "p50DifferenceToBareMicros": round3(p50(&with) - p50(&bare))}),
            );
        }
        report.insert(label.to_owned(), Value::Array(out));
    };
    // Warm up (code, caches, CPU frequency).
    for s in with_samples.iter().chain(&without_samples).take(n.min(50_000)) {
        black_box(decide_app(&gatehouse, s));
    }
    rounds("steadyDecisions", &mut report);
    // The decision API's two evaluations, with and without the organization.
    let (member_caller, twin_caller) = (caller(&member), caller(&twin));
    let mut api_rounds = Vec::new();
    for round in 1..=2 {
        let (mut with, mut without) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let (sw, so) = (&with_samples[i], &without_samples[i]);
            for k in 0..2 {
                let t = Instant::now();
                if (i + k) % 2 == 0 {
                    assert_eq!(decide_api(&gatehouse, &member_caller, sw), sw.expect);
                    with.push(micros_since(t));
                } else {
                    assert_eq!(decide_api(&gatehouse, &twin_caller, so), so.expect);
                    without.push(micros_since(t));
                }
            }
        }
        let (with, without) = (summary(&mut with), summary(&mut without));
        println!(
            "decision API path (caller's gatehouse:Authorize as the root user + the decision), round {round} \
             (load average {}):",
            load_average()
        );
        show("member 5 OUs deep", "µs", &with);
        show("twin in no organization", "µs", &without);
        let p50 = |v: &Value| v["p50"].as_f64().unwrap_or(0.0);
        println!("  p50 difference: {:+.3} µs", p50(&with) - p50(&without));
        api_rounds.push(json!({"round": round, "member": with, "twin": without,
                               "p50DifferenceMicros": round3(p50(&with) - p50(&without))}));
    }
    report.insert("decisionApiPath".into(), Value::Array(api_rounds));
    report.insert(
        "breakdown".into(),
        breakdown(&gatehouse, &state, &with_samples[..n.min(100_000)]),
    );

    // 6. An org write at 10,000 accounts: AttachPolicy / DetachPolicy on one account.
    let protect_account = world.policies["ProtectRole-L6"].clone();
    let protect_root = world.policies["ProtectRole-L0"].clone();
    let freeze = world.policies[FREEZE].clone();
    let (mut detach_micros, mut attach_micros) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for _ in 0..30 {
            detach_micros.push(timed_change(&gatehouse, &world.management, detach(&protect_account, &member)).await);
            attach_micros.push(timed_change(&gatehouse, &world.management, attach(&protect_account, &member)).await);
        }
    });
    let (detach_one, attach_one) = (summary(&mut detach_micros), summary(&mut attach_micros));
    println!(
        "an org write at {} accounts (end to end: authorize, decide, clone, append, install, record):",
        members.len()
    );
    show("DetachPolicy from one account", "µs", &detach_one);
    show("AttachPolicy to one account", "µs", &attach_one);
    // The model a write replaces is dropped inside `install_organization`, under the slot's write
    // lock, when nothing else holds it: with every account's guardrails cached, that drop is part
    // of the write (and of the wait of every decision that reads the slot meanwhile).
    let held = gatehouse.organization_model_of(&member).expect("the organization");
    for id in &members {
        held.guardrails_of(id);
    }
    let write_while_held = runtime.block_on(timed_change(
        &gatehouse,
        &world.management,
        detach(&protect_account, &member),
    ));
    let t = Instant::now();
    drop(held);
    let drop_full_model = micros_since(t);
    for id in &members {
        gatehouse.guardrails_of(id);
    }
    let write_dropping_full = runtime.block_on(timed_change(
        &gatehouse,
        &world.management,
        attach(&protect_account, &member),
    ));
    let mut clone_again = Vec::new();
    let state_now = world.state(&gatehouse);
    for _ in 0..30 {
        let t = Instant::now();
        black_box(OrganizationState::clone(&state_now));
        clone_again.push(micros_since(t));
    }
    let clone_again = summary(&mut clone_again);
    println!(
        "  with every account's guardrails cached: the write {:.2} ms when another holder keeps the old model alive, \
         {:.2} ms when the write drops it; dropping that model alone {:.2} ms; OrganizationState clone now p50 {:.2} ms",
        write_while_held / 1000.0,
        write_dropping_full / 1000.0,
        drop_full_model / 1000.0,
        clone_again["p50"].as_f64().unwrap_or(0.0) / 1000.0
    );
    report.insert(
        "orgWriteOneAccount".into(),
        json!({"detachMicros": detach_one, "attachMicros": attach_one,
               "writeMicrosOldModelHeldElsewhere": round3(write_while_held),
               "writeMicrosDroppingFullyCachedModel": round3(write_dropping_full),
               "dropFullyCachedModelMicros": round3(drop_full_model),
               "stateCloneMicrosAfterWrites": clone_again}),
    );

    // 7. An SCP attached to the root: the write, the first decision after it, every account's
    // first lazy build, and the SCP in effect in every account.
    let role = |account: &str| format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole");
    // In its own branch's approved region, so only the new SCP can deny it.
    let stop_logging = |(account, region): &(String, &'static str)| -> DecisionEffect {
        let model = gatehouse.account(account).expect("account");
        let principal = model.principal(&role(account)).expect("the access role");
        let facts = RequestFacts {
            extra: vec![("aws:RequestedRegion".to_owned(), ContextValue::single(*region))],
            ..RequestFacts::default()
        };
        let mut context = model.request_context(&principal, &facts, Utc::now());
        let own = organization_keys(&gatehouse, account, &mut context);
        let none = Guardrails::none();
        let g = own.as_deref().map_or(&none, |g| &g.guardrails);
        authorize_guarded(&principal, "cloudtrail:StopLogging", "*", None, None, g, g, &context).effect
    };
    let created_members: Vec<(String, &'static str)> = members
        .iter()
        .filter(|id| gatehouse.account(id).is_some_and(|m| m.principal(&role(id)).is_some()))
        .map(|id| {
            let us = state
                .parent_of(id)
                .and_then(|p| state.unit(p))
                .is_some_and(|u| u.name.starts_with("us-"));
            (id.clone(), if us { "us-east-1" } else { "eu-west-1" })
        })
        .collect();
    let mut cycles = Vec::new();
    let probe = with_samples
        .iter()
        .find(|s| s.expect == DecisionEffect::Allowed && s.action == "s3:GetObject")
        .expect("an allowed probe request");
    for cycle in 1..=options.cycles {
        let before: usize = created_members
            .iter()
            .filter(|m| stop_logging(m) == DecisionEffect::ExplicitDeny)
            .count();
        let make_room = runtime.block_on(timed_change(
            &gatehouse,
            &world.management,
            detach(&protect_root, &world.root_id),
        ));
        let attach_root = runtime.block_on(timed_change(
            &gatehouse,
            &world.management,
            attach(&freeze, &world.root_id),
        ));
        let t = Instant::now();
        let effect = decide_app(&gatehouse, probe);
        let first = micros_since(t);
        assert_eq!(effect, DecisionEffect::Allowed);
        let t = Instant::now();
        black_box(decide_app(&gatehouse, probe));
        let second = micros_since(t);
        let mut steady = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let t = Instant::now();
            black_box(decide_app(&gatehouse, probe));
            steady.push(micros_since(t));
        }
        let steady = summary(&mut steady);
        let builds = guardrails_build(&format!("cycle {cycle}, after AttachPolicy on the root"));
        let after: usize = created_members
            .iter()
            .filter(|m| stop_logging(m) == DecisionEffect::ExplicitDeny)
            .count();
        let restore = runtime.block_on(async {
            timed_change(&gatehouse, &world.management, detach(&freeze, &world.root_id)).await
                + timed_change(&gatehouse, &world.management, attach(&protect_root, &world.root_id)).await
        });
        let restored: usize = created_members
            .iter()
            .filter(|m| stop_logging(m) == DecisionEffect::ExplicitDeny)
            .count();
        println!(
            "cycle {cycle}: DetachPolicy from the root {:.2} ms, AttachPolicy ({FREEZE}) to the root {:.2} ms; \
             the probe's first decision after it {first:.1} µs, second {second:.2} µs, steady p50 {:.3} µs; \
             cloudtrail:StopLogging by OrganizationAccountAccessRole denied in {before} → {after} → {restored} of {} \
             created accounts (before / after / restored, in {:.1} ms for two writes)",
            make_room / 1000.0,
            attach_root / 1000.0,
            steady["p50"].as_f64().unwrap_or(0.0),
            created_members.len(),
            restore / 1000.0
        );
        assert_eq!((before, after, restored), (0, created_members.len(), 0));
        cycles.push(json!({"cycle": cycle, "detachFromRootMicros": round3(make_room),
                           "attachToRootMicros": round3(attach_root), "firstDecisionMicros": round3(first),
                           "secondDecisionMicros": round3(second), "steadyDecisionMicros": steady,
                           "everyAccountFirstBuild": builds, "deniedBefore": before, "deniedAfter": after,
                           "deniedRestored": restored, "restoreMicros": round3(restore)}));
    }
    report.insert("attachToRoot".into(), Value::Array(cycles));
    rounds("steadyDecisionsAfterWrites", &mut report);
    runtime.block_on(store.close());
    println!("JSON {}", Value::Object(report));
}
