//! Criterion benchmark of what an organization costs a decision: one user's request (two managed
//! policies, the action matching an exact-action statement) without SCPs, and under seven SCP
//! levels (root, five OUs, the account), each holding `FullAWSAccess` and a `Deny` that does not
//! apply; and under the realistic organization of `iam-app`'s `org_scale` example (seven levels of
//! five SCPs, three of them attached at every level, AWS's region SCP with its 45-entry
//! `NotAction`), each policy compiled once and shared by the levels holding it, as `Gatehouse`
//! builds them. The target: within 0.3 µs of the decision without an organization.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_main, Criterion};
use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, Decision, DecisionEffect, OrgLevels, Policies, PolicySet,
    PolicySource, PolicyType, Request,
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

/// AWS's "Deny access to AWS based on the requested AWS Region", with its list of global services.
fn aws_approved_regions(regions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyAllOutsideApprovedRegions","Effect":"Deny",
        "NotAction":["a4b:*","acm:*","aws-marketplace-management:*","aws-marketplace:*","aws-portal:*",
            "budgets:*","ce:*","chime:*","cloudfront:*","config:*","cur:*","directconnect:*",
            "ec2:DescribeRegions","ec2:DescribeTransitGateways","ec2:DescribeVpnGateways","fms:*",
            "globalaccelerator:*","health:*","iam:*","importexport:*","kms:*","mobileanalytics:*",
            "networkmanager:*","organizations:*","pricing:*","route53:*","route53domains:*",
            "route53-recovery-cluster:*","route53-recovery-control-config:*",
            "route53-recovery-readiness:*","s3:GetAccountPublic*","s3:ListAllMyBuckets",
            "s3:ListMultiRegionAccessPoints","s3:PutAccountPublic*","shield:*","sts:*","support:*",
            "trustedadvisor:*","waf-regional:*","waf:*","wafv2:*","wellarchitected:*"],
        "Resource":"*",
        "Condition":{{"StringNotEquals":{{"aws:RequestedRegion":[{regions}]}},
            "ArnNotLike":{{"aws:PrincipalARN":["arn:aws:iam::*:role/Role1AllowedToBypassThisSCP",
                "arn:aws:iam::*:role/Role2AllowedToBypassThisSCP"]}}}}}}]}}"#
    )
}
/// AWS's "Block service access for the root user" (EC2).
const DENY_ROOT_USER: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RestrictEC2ForRoot","Effect":"Deny",
    "Action":["ec2:*"],"Resource":["*"],"Condition":{"StringLike":{"aws:PrincipalArn":["arn:aws:iam::*:root"]}}}]}"#;
/// AWS's "Prevent IAM users and roles from making specified changes", a different role per level.
fn protect_role(role: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyAccessWithException","Effect":"Deny",
        "Action":["iam:AttachRolePolicy","iam:DeleteRole","iam:DeleteRolePermissionsBoundary",
            "iam:DeleteRolePolicy","iam:DetachRolePolicy","iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy","iam:UpdateAssumeRolePolicy","iam:UpdateRole","iam:UpdateRoleDescription"],
        "Resource":["arn:aws:iam::*:role/{role}"],
        "Condition":{{"StringNotLike":{{"aws:PrincipalARN":"arn:aws:iam::*:role/SecurityAdministrator"}}}}}}]}}"#
    )
}

/// The realistic organization of `org_scale`: seven levels of five SCPs each. `FullAWSAccess`,
/// deny leaving and deny the root user EC2 sit on every level; the region SCP (AWS's 45-entry
/// `NotAction` list) is a global one at the root and a US one on the six levels below; each level
/// protects a role of its own. 12 distinct policies, 35 attachments.
fn realistic_documents() -> Vec<Vec<(String, String)>> {
    let global = aws_approved_regions(r#""us-east-1","us-west-2","eu-west-1","eu-central-1""#);
    let us = aws_approved_regions(r#""us-east-1","us-west-2""#);
    (0..LEVELS)
        .map(|level| {
            let (region_id, region) = if level == 0 {
                ("regions-global", &global)
            } else {
                ("regions-us", &us)
            };
            vec![
                ("p-FullAWSAccess".to_owned(), FULL_AWS_ACCESS.to_owned()),
                ("p-deny-leaving".to_owned(), STAY_IN_ORGANIZATION.to_owned()),
                ("p-deny-root-ec2".to_owned(), DENY_ROOT_USER.to_owned()),
                (format!("p-{region_id}"), region.clone()),
                (format!("p-protect-role-{level}"), protect_role(&format!("Role{level}"))),
            ]
        })
        .collect()
}

fn policy(id: &str, policy_type: PolicyType, document: &str) -> PolicySet {
    let parsed = parse_policy(document).expect("benchmark policies parse");
    let mut source = PolicySource::new(id, policy_type);
    source.version_id = Some("v1".into());
    PolicySet::compile([(source, &parsed)]).expect("benchmark policies compile")
}

/// Seven levels, each `FullAWSAccess` and `deny`, as one compiled set per level.
fn organization(deny: &str) -> OrgLevels {
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

/// The realistic organization as `Gatehouse` builds it: each policy compiled once and shared by
/// every level it is attached to.
fn realistic() -> OrgLevels {
    let mut compiled: Vec<(String, Arc<PolicySet>)> = Vec::new();
    let levels: Vec<Vec<Arc<PolicySet>>> = realistic_documents()
        .into_iter()
        .map(|level| {
            level
                .into_iter()
                .map(|(id, document)| {
                    if let Some((_, set)) = compiled.iter().find(|(known, _)| *known == id) {
                        return set.clone();
                    }
                    let set = Arc::new(policy(&id, PolicyType::ServiceControlPolicy, &document));
                    compiled.push((id, set.clone()));
                    set
                })
                .collect()
        })
        .collect();
    OrgLevels::new(levels)
}

fn decide(identity: &[Arc<PolicySet>], levels: &OrgLevels, caller: &Caller, context: &Context) -> Decision {
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
        .with(
            "aws:PrincipalArn",
            ContextValue::single("arn:aws:iam::111122223333:user/alice"),
        )
        .with("aws:RequestedRegion", ContextValue::single("us-east-1"));

    let mut group = c.benchmark_group("guardrails");
    // Whole decisions are returned, so building and dropping what they name is measured too.
    let cases: [(&str, OrgLevels); 4] = [
        ("without_organization", OrgLevels::default()),
        ("scp_7_levels", organization(STAY_IN_ORGANIZATION)),
        ("scp_7_levels_region_condition", organization(APPROVED_REGIONS)),
        ("scp_7_levels_realistic", realistic()),
    ];
    for (name, levels) in &cases {
        let decision = decide(&identity, levels, &caller, &context);
        assert_eq!(decision.effect, DecisionEffect::Allowed, "{name}");
        // The statements the decision rests on: one per level, or once for a policy shared by
        // every level (`FullAWSAccess` in the realistic path).
        assert!(!decision.guardrails.is_empty() || levels.is_empty(), "{name}");
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
