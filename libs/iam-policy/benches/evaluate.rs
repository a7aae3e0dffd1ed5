//! Criterion benchmarks of policy evaluation on the public API: typical decisions for a principal
//! with 10 policies of 10 conditional statements, scaling with unrelated and with matching
//! statements, and parsing plus compiling one policy.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion};
use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, DecisionEffect, ParsedPolicy, Policies, PolicySet,
    PolicySource, PolicyType, Request,
};
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";

/// Services of the realistic principal, with an action family and a resource ARN prefix each.
const SERVICES: &[(&str, &[&str], &str)] = &[
    (
        "s3",
        &["s3:Get*", "s3:List*", "s3:PutObject"],
        "arn:aws:s3:::company-data-${aws:username}/*",
    ),
    (
        "dynamodb",
        &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Put*"],
        "arn:aws:dynamodb:*:111122223333:table/team-${aws:PrincipalTag/team}-*",
    ),
    (
        "ec2",
        &["ec2:Describe*", "ec2:StartInstances", "ec2:StopInstances"],
        "arn:aws:ec2:*:111122223333:instance/*",
    ),
    (
        "lambda",
        &["lambda:InvokeFunction", "lambda:Get*"],
        "arn:aws:lambda:*:111122223333:function:${aws:username}-*",
    ),
    (
        "sqs",
        &["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:Get*"],
        "arn:aws:sqs:*:111122223333:queue-*",
    ),
    (
        "sns",
        &["sns:Publish", "sns:List*"],
        "arn:aws:sns:*:111122223333:alerts-*",
    ),
    (
        "kms",
        &["kms:Decrypt", "kms:GenerateDataKey*"],
        "arn:aws:kms:*:111122223333:key/*",
    ),
    (
        "logs",
        &["logs:PutLogEvents", "logs:CreateLog*"],
        "arn:aws:logs:*:111122223333:log-group:/app/${aws:username}/*",
    ),
    ("cloudwatch", &["cloudwatch:PutMetricData", "cloudwatch:Get*"], "*"),
    (
        "iam",
        &["iam:Get*", "iam:List*", "iam:ChangePassword"],
        "arn:aws:iam::111122223333:user/${aws:username}",
    ),
];

/// One of four realistic conditions, by statement number.
fn condition(j: usize) -> Value {
    match j % 4 {
        0 => json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24"]}}),
        1 => json!({"StringEquals": {"aws:PrincipalTag/team": ["data", "platform"]}}),
        2 => json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        _ => json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
    }
}

/// A policy of 10 statements for one service: allows with conditions, and two denies.
fn service_policy(service: &str, actions: &[&str], resource: &str) -> String {
    let mut statements = Vec::new();
    for j in 0..10 {
        let statement = match j {
            // Deny destructive actions without MFA.
            8 => json!({
                "Sid": "DenyDeleteWithoutMfa", "Effect": "Deny",
                "Action": [format!("{service}:Delete*"), format!("{service}:Create*")],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
            }),
            // Deny from outside the corporate networks.
            9 => json!({
                "Sid": "DenyOutsideNetwork", "Effect": "Deny",
                "Action": format!("{service}:*"),
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24"]}}
            }),
            _ => json!({
                "Sid": format!("Allow{j}"), "Effect": "Allow",
                "Action": actions[j % actions.len()],
                "Resource": [resource, format!("arn:aws:{service}:*:{ACCOUNT}:shared-{j}/*")],
                "Condition": condition(j)
            }),
        };
        statements.push(statement);
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A policy for a service nobody calls, in the same shape.
fn unrelated_policy(k: usize) -> String {
    let service = format!("svc{k}");
    let actions = [
        format!("{service}:Get*"),
        format!("{service}:PutThing"),
        format!("{service}:List*"),
    ];
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    service_policy(
        &service,
        &actions,
        &format!("arn:aws:{service}:*:{ACCOUNT}:thing/${{aws:username}}/*"),
    )
}

fn parse(text: &str) -> ParsedPolicy {
    parse_policy(text).expect("benchmark policies parse")
}

fn compile(parsed: &[ParsedPolicy]) -> PolicySet {
    PolicySet::compile(
        parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (PolicySource::new(format!("policy-{i}"), PolicyType::UserManaged), p)),
    )
    .expect("benchmark policies compile")
}

/// The realistic principal's ten policies plus `unrelated` policies of other services.
fn principal_policies(unrelated: usize) -> Vec<ParsedPolicy> {
    SERVICES
        .iter()
        .map(|(service, actions, resource)| parse(&service_policy(service, actions, resource)))
        .chain((0..unrelated).map(|k| parse(&unrelated_policy(k))))
        .collect()
}

fn context(mfa: bool) -> Context {
    Context::new()
        .with("aws:username", ContextValue::single("alice"))
        .with("aws:PrincipalTag/team", ContextValue::single("data"))
        .with("aws:SourceIp", ContextValue::single("10.20.30.40"))
        .with(
            "aws:MultiFactorAuthPresent",
            ContextValue::single(if mfa { "true" } else { "false" }),
        )
        .with("aws:CurrentTime", ContextValue::single("2026-06-01T12:00:00Z"))
}

struct Scenario {
    name: &'static str,
    action: &'static str,
    resource: &'static str,
    mfa: bool,
    expected: DecisionEffect,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "allowed",
        action: "s3:GetObject",
        resource: "arn:aws:s3:::company-data-alice/reports/q3.csv",
        mfa: true,
        expected: DecisionEffect::Allowed,
    },
    Scenario {
        name: "implicit_deny",
        action: "s3:GetObject",
        resource: "arn:aws:s3:::company-data-bob/reports/q3.csv",
        mfa: true,
        expected: DecisionEffect::ImplicitDeny,
    },
    Scenario {
        name: "explicit_deny",
        action: "dynamodb:DeleteTable",
        resource: "arn:aws:dynamodb:us-east-1:111122223333:table/team-data-orders",
        mfa: false,
        expected: DecisionEffect::ExplicitDeny,
    },
];

fn decide(set: &PolicySet, caller: &Caller, scenario: &Scenario, context: &Context) -> DecisionEffect {
    let request = Request {
        caller,
        action: scenario.action,
        resource: scenario.resource,
        resource_account: None,
        context,
    };
    evaluate(
        &Policies {
            identity: Some(set),
            ..Policies::default()
        },
        &request,
    )
    .effect
}

fn typical_requests(c: &mut Criterion) {
    let set = compile(&principal_policies(0));
    let caller = Caller::from_arn("arn:aws:iam::111122223333:user/alice").expect("user ARN");
    let mut group = c.benchmark_group("evaluate");
    for scenario in SCENARIOS {
        let context = context(scenario.mfa);
        assert_eq!(
            decide(&set, &caller, scenario, &context),
            scenario.expected,
            "{}",
            scenario.name
        );
        group.bench_function(scenario.name, |b| {
            b.iter(|| decide(black_box(&set), &caller, black_box(scenario), &context))
        });
    }
    group.finish();
}

/// Cost follows the statements that can match the action, not the statements in the set.
fn scaling(c: &mut Criterion) {
    let caller = Caller::from_arn("arn:aws:iam::111122223333:user/alice").expect("user ARN");
    let allowed = &SCENARIOS[0];
    let context = context(true);

    let mut group = c.benchmark_group("scaling_unrelated_policies");
    for total in [10usize, 100, 1000] {
        let set = compile(&principal_policies(total - SERVICES.len()));
        assert_eq!(decide(&set, &caller, allowed, &context), DecisionEffect::Allowed);
        group.bench_with_input(BenchmarkId::from_parameter(total), &set, |b, set| {
            b.iter(|| decide(black_box(set), &caller, allowed, &context))
        });
    }
    group.finish();

    // The same request against 1, 10 and 100 copies of a policy whose every statement
    // concerns `s3:GetObject` and holds: the work grows with them.
    let mut group = c.benchmark_group("scaling_matching_policies");
    let s3 = &SERVICES[0];
    let s3_policy = parse(&service_policy(s3.0, &["s3:Get*"], s3.2));
    for copies in [1usize, 10, 100] {
        let parsed: Vec<ParsedPolicy> = (0..copies).map(|_| s3_policy.clone()).collect();
        let set = compile(&parsed);
        assert_eq!(decide(&set, &caller, allowed, &context), DecisionEffect::Allowed);
        group.bench_with_input(BenchmarkId::from_parameter(copies * 10), &set, |b, set| {
            b.iter(|| decide(black_box(set), &caller, allowed, &context))
        });
    }
    group.finish();
}

fn parse_and_compile(c: &mut Criterion) {
    let (service, actions, resource) = SERVICES[0];
    let compact = service_policy(service, actions, resource);
    let text =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&compact).expect("json")).expect("pretty JSON");
    c.bench_function("parse_and_compile/one_policy_10_statements", |b| {
        b.iter(|| {
            let parsed = parse_policy(black_box(&text)).expect("parses");
            PolicySet::compile([(PolicySource::new("p", PolicyType::UserManaged), &parsed)]).expect("compiles")
        })
    });
}

/// The benchmark group; a module so the `pub fn` the macro generates may go undocumented.
#[allow(missing_docs)]
mod group {
    use super::{parse_and_compile, scaling, typical_requests};
    criterion::criterion_group!(benches, typical_requests, scaling, parse_and_compile);
}

criterion_main!(group::benches);
