//! Criterion benchmark of what an organization costs a decision: one user's request (two managed
//! policies, the action matching an exact-action statement) without SCPs, and under seven SCP
//! levels (root, five OUs, the account), each holding `FullAWSAccess` and a `Deny` that does not
//! apply. The target: within 0.3 µs of the decision without an organization.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_main, Criterion};
use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, Decision, DecisionEffect, Policies, PolicySet, PolicySource,
    PolicyType, Request,
};

const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"ListReports","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::reports"},
    {"Sid":"ReadReports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
const DESCRIBE_INSTANCES: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["ec2:Describe*","ec2:StartInstances","ec2:StopInstances"],"Resource":"*"}]}"#;
const FULL_AWS_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
/// The deny the brief names: an exact action no user request touches.
const STAY_IN_ORGANIZATION: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;
/// A harder deny: every action, with a condition read (and failing) at each level.
const APPROVED_REGIONS: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Deny","NotAction":["iam:*","organizations:*","sts:*"],"Resource":"*",
     "Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","us-east-1"]}}}]}"#;

const LEVELS: usize = 7;

fn policy(id: &str, policy_type: PolicyType, document: &str) -> PolicySet {
    let parsed = parse_policy(document).expect("benchmark policies parse");
    let mut source = PolicySource::new(id, policy_type);
    source.version_id = Some("v1".into());
    PolicySet::compile([(source, &parsed)]).expect("benchmark policies compile")
}

/// Seven levels, each `FullAWSAccess` and `deny`, as one compiled set per level.
fn organization(deny: &str) -> Vec<Arc<PolicySet>> {
    let full = parse_policy(FULL_AWS_ACCESS).expect("parses");
    let deny = parse_policy(deny).expect("parses");
    (0..LEVELS)
        .map(|level| {
            let source = |id: &str| {
                let mut source = PolicySource::new(format!("p-{id}-{level}"), PolicyType::ServiceControlPolicy);
                source.version_id = Some("v1".into());
                source
            };
            Arc::new(PolicySet::compile([(source("full"), &full), (source("deny"), &deny)]).expect("compiles"))
        })
        .collect()
}

fn decide(identity: &[Arc<PolicySet>], levels: &[Arc<PolicySet>], caller: &Caller, context: &Context) -> Decision {
    let policies = Policies {
        identity_sets: identity,
        service_control: levels,
        ..Policies::default()
    };
    let request = Request {
        caller,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::reports/q3.csv",
        resource_account: None,
        context,
    };
    evaluate(&policies, &request)
}

fn guardrails(c: &mut Criterion) {
    let identity = [
        Arc::new(policy(
            "arn:aws:iam::111122223333:policy/read-reports",
            PolicyType::UserManaged,
            READ_REPORTS,
        )),
        Arc::new(policy(
            "arn:aws:iam::111122223333:policy/describe-instances",
            PolicyType::UserManaged,
            DESCRIBE_INSTANCES,
        )),
    ];
    let caller = Caller::from_arn("arn:aws:iam::111122223333:user/alice").expect("user ARN");
    let context = Context::new()
        .with("aws:username", ContextValue::single("alice"))
        .with("aws:RequestedRegion", ContextValue::single("eu-west-1"));

    let mut group = c.benchmark_group("guardrails");
    // Whole decisions are returned, so building and dropping what they name is measured too.
    let cases: [(&str, Vec<Arc<PolicySet>>); 3] = [
        ("without_organization", Vec::new()),
        ("scp_7_levels", organization(STAY_IN_ORGANIZATION)),
        ("scp_7_levels_region_condition", organization(APPROVED_REGIONS)),
    ];
    for (name, levels) in &cases {
        let decision = decide(&identity, levels, &caller, &context);
        assert_eq!(decision.effect, DecisionEffect::Allowed, "{name}");
        assert_eq!(decision.guardrails.len(), levels.len(), "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| decide(black_box(&identity), black_box(levels), &caller, &context))
        });
    }
    group.finish();
}

/// The benchmark group; a module so the `pub fn` the macro generates may go undocumented.
#[allow(missing_docs)]
mod group {
    use super::guardrails;
    criterion::criterion_group!(benches, guardrails);
}

criterion_main!(group::benches);
