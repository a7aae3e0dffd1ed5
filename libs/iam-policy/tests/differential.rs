//! Differential and property tests: the compiled evaluator against the reference evaluator in
//! `tests/reference`, evaluator laws, print/parse round trips, and no panics on hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reference;

use std::sync::Arc;

use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, DecisionEffect, OrgLevels, ParsedPolicy, Policies,
    PolicySet, PolicySource, PolicyType, Request,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};

use reference::{Ctx, Outcome, Req, Stack, User};

// ---- the vocabulary of generated policies and requests ---------------------------------------

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

/// `(user ARN, account, user name)`.
const USERS: &[(&str, &str, &str)] = &[
    ("arn:aws:iam::111111111111:user/alice", ACCOUNT_A, "alice"),
    ("arn:aws:iam::111111111111:user/dev/carol", ACCOUNT_A, "carol"),
    ("arn:aws:iam::222222222222:user/bob", ACCOUNT_B, "bob"),
];

const REQUEST_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:CreateUser",
    "iam:GetUser",
    "ec2:RunInstances",
    "S3:getobject",
    "IAM:CREATEUSER",
];

const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:CreateUser",
    "ec2:RunInstances",
    "s3:Get*",
    "s3:*",
    "*",
    "iam:*User",
    "iam:Get*",
    "ec2:Run?nstances",
    "S3:GETOBJECT",
    "s?:GetObject",
    "*:GetObject",
    "ec2:*",
    "iam:CreateUser*",
    "sqs:SendMessage",
    "s3:*Object",
];

const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket-a/home/alice/notes.txt",
    "arn:aws:s3:::bucket-a/home/bob/x",
    "arn:aws:s3:::bucket-a/home/carol/x",
    "arn:aws:s3:::bucket-a/home/shared/x",
    "arn:aws:s3:::bucket-a/home/dev/x",
    "arn:aws:s3:::bucket-a/home/a*/x",
    "arn:aws:s3:::bucket-a/*",
    "arn:aws:s3:::bucket-b",
    "arn:aws:s3:::bucket-b/public/img.png",
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::222222222222:user/bob",
    "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc",
    "*",
];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket-a/*",
    "arn:aws:s3:::bucket-a/home/${aws:username}/*",
    "arn:aws:s3:::bucket-a/home/${aws:username, 'shared'}/*",
    "arn:aws:s3:::bucket-a/home/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::bucket-?/public/*",
    "arn:aws:s3:::bucket-a/${*}",
    "arn:aws:s3:::bucket-b",
    "arn:aws:s3:::bucket-b/*",
    "arn:aws:s3:::*/public/*",
    "arn:aws:iam::*:user/${aws:username}",
    "arn:aws:iam::111111111111:user/*",
    "arn:aws:ec2:*:*:instance/*",
];

/// A family of operators with the keys and policy values that suit it.
struct Family {
    operators: &'static [&'static str],
    keys: &'static [&'static str],
    values: &'static [&'static str],
    /// Values may be written as JSON numbers or booleans instead of strings.
    native_json: bool,
    /// `Null` takes no `IfExists`.
    if_exists: bool,
}

const FAMILIES: &[Family] = &[
    Family {
        operators: &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        keys: &["aws:username", "aws:PrincipalTag/team", "aws:TagKeys"],
        values: &[
            "alice",
            "bob",
            "ALICE",
            "a*",
            "a?ice",
            "dev",
            "ops",
            "${aws:username}",
            "${aws:PrincipalTag/team}",
            "team-${aws:username}",
            "${aws:username, 'alice'}",
            "${*}",
            "env",
            "key1*",
            "owner",
        ],
        native_json: false,
        if_exists: true,
    },
    Family {
        operators: &["NumericEquals", "NumericLessThan", "NumericGreaterThanEquals"],
        keys: &["s3:max-keys"],
        values: &["0", "5", "10", "2.5", "-3"],
        native_json: true,
        if_exists: true,
    },
    Family {
        operators: &["Bool"],
        keys: &["aws:MultiFactorAuthPresent"],
        values: &["true", "false"],
        native_json: true,
        if_exists: true,
    },
    Family {
        operators: &["Null"],
        keys: &[
            "aws:MultiFactorAuthPresent",
            "aws:PrincipalTag/team",
            "aws:TagKeys",
            "aws:SourceIp",
        ],
        values: &["true", "false"],
        native_json: true,
        if_exists: false,
    },
    Family {
        operators: &["ArnLike", "ArnEquals", "ArnNotLike"],
        keys: &["aws:PrincipalArn"],
        values: &[
            "arn:aws:iam::111111111111:user/*",
            "arn:aws:iam::*:user/${aws:username}",
            "arn:aws:iam::${aws:PrincipalAccount}:user/*",
            "arn:aws:iam::222222222222:*",
            "*",
            "arn:aws:iam::*:user/a?ice",
            "arn:*:iam::*:*",
        ],
        native_json: false,
        if_exists: true,
    },
    Family {
        operators: &["IpAddress", "NotIpAddress"],
        keys: &["aws:SourceIp"],
        values: &[
            "10.0.0.0/8",
            "192.168.1.0/24",
            "203.0.113.7",
            "0.0.0.0/0",
            "2001:db8::/32",
            "10.1.2.3/8",
        ],
        native_json: false,
        if_exists: true,
    },
];

/// Every condition key with the request values it may take, and whether it is multivalued.
const CONTEXT_KEYS: &[(&str, &[&str], bool)] = &[
    ("aws:username", &["alice", "bob", "carol", "a*", "Alice"], false),
    ("aws:PrincipalTag/team", &["dev", "ops", "DEV", "a?"], false),
    (
        "aws:SourceIp",
        &[
            "10.1.2.3",
            "192.168.1.77",
            "203.0.113.7",
            "8.8.8.8",
            "2001:db8::1",
            "not-an-ip",
        ],
        false,
    ),
    ("aws:MultiFactorAuthPresent", &["true", "false", "yes"], false),
    ("s3:max-keys", &["1", "5", "10", "-3", "2.5", "abc"], false),
    ("aws:TagKeys", &["env", "team", "key1a", "owner", ""], true),
    (
        "aws:PrincipalArn",
        &[
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:iam::222222222222:user/bob",
            "arn:aws:iam::111111111111:role/admin",
        ],
        false,
    ),
    ("aws:PrincipalAccount", &[ACCOUNT_A, ACCOUNT_B], false),
];

const PRINCIPAL_IDS: &[&str] = &[
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:user/dev/carol",
    "arn:aws:iam::222222222222:user/bob",
    ACCOUNT_A,
    ACCOUNT_B,
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::222222222222:root",
    "*",
];

// ---- generators ------------------------------------------------------------------------------

/// Where a policy sits; it decides whether statements carry a `Principal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identity,
    Resource,
}

fn spelled(key: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(key.to_string()),
        1 => Just(key.to_uppercase()),
        1 => Just(key.to_lowercase()),
    ]
}

/// A list as a JSON array, or as the bare item when there is one and `scalar` says so.
fn one_or_many(items: Vec<Value>, scalar: bool) -> Value {
    if items.len() == 1 && scalar {
        items.into_iter().next().expect("one item")
    } else {
        Value::Array(items)
    }
}

fn strings(items: &[&str]) -> Vec<Value> {
    items.iter().map(|s| json!(s)).collect()
}

/// One condition clause as `(operator, key, values)`.
fn clause() -> impl Strategy<Value = (String, String, Value)> {
    (0..FAMILIES.len())
        .prop_flat_map(|f| {
            let family = &FAMILIES[f];
            let all_keys: Vec<&'static str> = CONTEXT_KEYS.iter().map(|(k, _, _)| *k).collect();
            let key = prop_oneof![4 => select(family.keys), 1 => select(all_keys)].prop_flat_map(spelled);
            let qualifier = prop_oneof![6 => Just(""), 2 => Just("ForAllValues:"), 2 => Just("ForAnyValue:")];
            let if_exists = if family.if_exists {
                prop_oneof![3 => Just(""), 1 => Just("IfExists")].boxed()
            } else {
                Just("").boxed()
            };
            (
                select(family.operators),
                qualifier,
                if_exists,
                key,
                prop::collection::vec(select(family.values), 1..=3),
                any::<bool>(),
                any::<bool>(),
                Just(family.native_json),
            )
        })
        .prop_map(|(op, qualifier, if_exists, key, values, scalar, native, native_ok)| {
            let values: Vec<Value> = values
                .into_iter()
                .map(|v| match (native && native_ok, v) {
                    (true, "true") => json!(true),
                    (true, "false") => json!(false),
                    (true, n) if n.parse::<i64>().is_ok() => json!(n.parse::<i64>().expect("checked")),
                    (true, n) if n.parse::<f64>().is_ok() => json!(n.parse::<f64>().expect("checked")),
                    (_, s) => json!(s),
                })
                .collect();
            (format!("{qualifier}{op}{if_exists}"), key, one_or_many(values, scalar))
        })
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => prop::collection::vec(clause(), 1..=3).prop_map(|clauses| {
            let mut by_operator: Map<String, Value> = Map::new();
            for (op, key, values) in clauses {
                let keys = by_operator.entry(op).or_insert_with(|| json!({}));
                keys.as_object_mut().expect("object").insert(key, values);
            }
            Some(Value::Object(by_operator))
        }),
    ]
}

fn principal() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(json!("*")),
        1 => Just(json!({"Service": "ec2.amazonaws.com"})),
        6 => (prop::collection::vec(select(PRINCIPAL_IDS), 1..=2), any::<bool>())
            .prop_map(|(ids, scalar)| json!({"AWS": one_or_many(strings(&ids), scalar)})),
    ]
}

fn sid() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, "[A-Za-z0-9]{1,8}")
}

/// One statement; `effect` forces the effect when given.
fn statement(kind: Kind, effect: Option<&'static str>) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop_oneof![4 => Just("Allow"), 1 => Just("Deny")].boxed(),
    };
    let actions = (
        prop::bool::weighted(0.15),
        prop::collection::vec(select(ACTION_PATTERNS), 1..=3),
        any::<bool>(),
    );
    let resources = (
        prop::bool::weighted(0.15),
        prop::collection::vec(select(RESOURCE_PATTERNS), 1..=3),
        any::<bool>(),
    );
    let principal = match kind {
        Kind::Identity => Just(None).boxed(),
        Kind::Resource => principal().prop_map(Some).boxed(),
    };
    (
        sid(),
        effect,
        actions,
        resources,
        condition(),
        principal,
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(
                sid,
                effect,
                (not_action, actions, a_scalar),
                (not_resource, resources, r_scalar),
                condition,
                principal,
                not_principal,
            )| {
                let mut out = Map::new();
                if let Some(sid) = sid {
                    out.insert("Sid".into(), json!(sid));
                }
                out.insert("Effect".into(), json!(effect));
                if let Some(principal) = principal {
                    // `NotPrincipal` only with `Deny`, where its meaning is settled.
                    let key = if not_principal && effect == "Deny" {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    };
                    out.insert(key.into(), principal);
                }
                let action_key = if not_action { "NotAction" } else { "Action" };
                out.insert(action_key.into(), one_or_many(strings(&actions), a_scalar));
                let resource_key = if not_resource { "NotResource" } else { "Resource" };
                out.insert(resource_key.into(), one_or_many(strings(&resources), r_scalar));
                if let Some(condition) = condition {
                    out.insert("Condition".into(), condition);
                }
                Value::Object(out)
            },
        )
}

/// A broad `Allow` of one action pattern (or `*`) on every resource, as real policies and
/// SCPs often have; it keeps allows frequent enough for the other statements to matter.
fn broad_allow(kind: Kind) -> impl Strategy<Value = Value> {
    let principal = match kind {
        Kind::Identity => Just(None).boxed(),
        Kind::Resource => principal().prop_map(Some).boxed(),
    };
    (prop_oneof![Just("*"), select(ACTION_PATTERNS)], principal).prop_map(|(action, principal)| {
        let mut out = Map::new();
        out.insert("Effect".into(), json!("Allow"));
        if let Some(principal) = principal {
            out.insert("Principal".into(), principal);
        }
        out.insert("Action".into(), json!(action));
        out.insert("Resource".into(), json!("*"));
        Value::Object(out)
    })
}

/// A policy document; with probability `broad`, a broad allow comes first.
fn policy(kind: Kind, broad: f64) -> impl Strategy<Value = Value> {
    let version = prop_oneof![8 => Just(Some("2012-10-17")), 1 => Just(Some("2008-10-17")), 1 => Just(None)];
    (
        version,
        prop::option::weighted(broad, broad_allow(kind)),
        prop::collection::vec(statement(kind, None), 1..=4),
        any::<bool>(),
    )
        .prop_map(move |(version, broad, mut statements, scalar)| {
            if let Some(broad) = broad {
                statements.insert(0, broad);
            }
            let mut doc = Map::new();
            if let Some(version) = version {
                doc.insert("Version".into(), json!(version));
            }
            doc.insert("Statement".into(), one_or_many(statements, scalar));
            Value::Object(doc)
        })
}

#[derive(Debug, Clone)]
struct GenRequest {
    user: usize,
    action: &'static str,
    resource: &'static str,
    resource_account: Option<&'static str>,
    /// `(key as spelled, values, multivalued)`.
    context: Vec<(String, Vec<String>, bool)>,
}

fn context_entry(
    (key, values, multivalued): (&'static str, &'static [&'static str], bool),
) -> impl Strategy<Value = Option<(String, Vec<String>, bool)>> {
    let single = select(values).prop_map(|v| (vec![v.to_string()], false));
    let list = prop::collection::vec(select(values), 0..=3)
        .prop_map(|vs| (vs.into_iter().map(str::to_string).collect::<Vec<_>>(), true));
    let present = if multivalued {
        prop_oneof![1 => single, 4 => list].boxed()
    } else {
        prop_oneof![9 => single, 1 => list].boxed()
    };
    prop::option::weighted(0.6, (spelled(key), present)).prop_map(|entry| entry.map(|(k, (v, m))| (k, v, m)))
}

fn request() -> impl Strategy<Value = GenRequest> {
    let context: Vec<_> = CONTEXT_KEYS.iter().map(|entry| context_entry(*entry)).collect();
    (
        0..USERS.len(),
        select(REQUEST_ACTIONS),
        select(REQUEST_RESOURCES),
        select(vec![None, Some(ACCOUNT_A), Some(ACCOUNT_B)]),
        context,
        prop::bool::weighted(0.7),
    )
        .prop_map(|(user, action, resource, resource_account, context, own_name)| {
            let mut context: Vec<_> = context.into_iter().flatten().collect();
            if own_name {
                // Usually the request carries the caller's own name.
                context.retain(|(k, _, _)| !k.eq_ignore_ascii_case("aws:username"));
                context.push(("aws:username".into(), vec![USERS[user].2.into()], false));
            }
            GenRequest {
                user,
                action,
                resource,
                resource_account,
                context,
            }
        })
}

/// Policies of every slot, as JSON documents.
#[derive(Debug, Clone)]
struct Docs {
    identity: Vec<Value>,
    boundary: Option<Value>,
    resource: Option<Value>,
    scp_levels: Vec<Vec<Value>>,
}

/// A policy of `Deny` statements only.
fn deny_policy() -> impl Strategy<Value = Value> {
    prop::collection::vec(statement(Kind::Identity, Some("Deny")), 1..=3)
        .prop_map(|statements| json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The deny-list organization: `FullAWSAccess` on every level (or on all but one), `Deny`
/// policies beside it, some of them on several levels.
fn deny_list_levels() -> impl Strategy<Value = Vec<Vec<Value>>> {
    let full = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    (
        prop::collection::vec(prop::collection::vec(deny_policy(), 0..=2), 1..=3),
        prop::bool::weighted(0.2),
        deny_policy(),
    )
        .prop_map(move |(levels, one_level_without_full, shared_deny)| {
            let count = levels.len();
            levels
                .into_iter()
                .enumerate()
                .map(|(at, mut level)| {
                    if !(one_level_without_full && at + 1 == count) {
                        level.insert(0, full.clone());
                    }
                    if at % 2 == 0 {
                        level.push(shared_deny.clone());
                    }
                    level
                })
                .collect()
        })
}

fn docs() -> impl Strategy<Value = Docs> {
    (
        prop::collection::vec(policy(Kind::Identity, 0.4), 0..=3),
        prop::option::weighted(0.3, policy(Kind::Identity, 0.6)),
        prop::option::weighted(0.6, policy(Kind::Resource, 0.6)),
        prop_oneof![
            6 => Just(Vec::new()),
            3 => prop::collection::vec(
                prop_oneof![1 => Just(Vec::new()), 9 => prop::collection::vec(policy(Kind::Identity, 0.8), 1..=2)],
                1..=2
            ),
            2 => deny_list_levels(),
        ],
    )
        .prop_map(|(identity, boundary, resource, scp_levels)| Docs {
            identity,
            boundary,
            resource,
            scp_levels,
        })
}

#[derive(Debug, Clone)]
struct Case {
    docs: Docs,
    requests: Vec<GenRequest>,
}

fn case() -> impl Strategy<Value = Case> {
    (docs(), prop::collection::vec(request(), 1..=6)).prop_map(|(docs, requests)| Case { docs, requests })
}

// ---- running both evaluators -----------------------------------------------------------------

fn parse(doc: &Value) -> ParsedPolicy {
    let text = doc.to_string();
    parse_policy(&text).unwrap_or_else(|e| panic!("generated document must parse: {e}\n{text}"))
}

/// Parsed documents of one case, kept together so both evaluators can borrow them.
struct Parsed {
    identity: Vec<ParsedPolicy>,
    boundary: Option<ParsedPolicy>,
    resource: Option<ParsedPolicy>,
    scp_levels: Vec<Vec<ParsedPolicy>>,
}

impl Parsed {
    fn new(docs: &Docs) -> Self {
        Parsed {
            identity: docs.identity.iter().map(parse).collect(),
            boundary: docs.boundary.as_ref().map(parse),
            resource: docs.resource.as_ref().map(parse),
            scp_levels: docs.scp_levels.iter().map(|l| l.iter().map(parse).collect()).collect(),
        }
    }

    fn stack(&self) -> Stack<'_> {
        Stack {
            identity: self.identity.iter().map(|p| &p.policy).collect(),
            boundary: self.boundary.as_ref().map(|p| &p.policy),
            resource: self.resource.as_ref().map(|p| &p.policy),
            scp_levels: self
                .scp_levels
                .iter()
                .map(|level| level.iter().map(|p| &p.policy).collect())
                .collect(),
        }
    }
}

/// The crate's compiled sets of one case.
struct Compiled {
    identity: Option<PolicySet>,
    boundary: Option<PolicySet>,
    resource: Option<PolicySet>,
    /// Each distinct document compiled once and shared by every level holding it, as an
    /// organization's are: the evaluator reads a shared policy once, the reference per level.
    scp_levels: OrgLevels,
}

fn set<'p>(name: &str, policy_type: PolicyType, policies: impl IntoIterator<Item = &'p ParsedPolicy>) -> PolicySet {
    PolicySet::compile(
        policies
            .into_iter()
            .enumerate()
            .map(|(i, p)| (PolicySource::new(format!("{name}.{i}"), policy_type), p)),
    )
    .expect("generated policies compile")
}

impl Compiled {
    fn new(parsed: &Parsed) -> Self {
        Compiled {
            identity: (!parsed.identity.is_empty()).then(|| set("identity", PolicyType::UserManaged, &parsed.identity)),
            boundary: parsed
                .boundary
                .as_ref()
                .map(|p| set("boundary", PolicyType::UserManaged, [p])),
            resource: parsed
                .resource
                .as_ref()
                .map(|p| set("resource", PolicyType::Resource, [p])),
            scp_levels: {
                let mut compiled: Vec<(iam_policy::Policy, Arc<PolicySet>)> = Vec::new();
                let mut shared = |policy: &ParsedPolicy| -> Arc<PolicySet> {
                    if let Some((_, set)) = compiled.iter().find(|(known, _)| *known == policy.policy) {
                        return set.clone();
                    }
                    let set = Arc::new(set(&format!("scp.{}", compiled.len()), PolicyType::None, [policy]));
                    compiled.push((policy.policy.clone(), set.clone()));
                    set
                };
                let levels: Vec<Vec<Arc<PolicySet>>> = parsed
                    .scp_levels
                    .iter()
                    .map(|level| level.iter().map(&mut shared).collect())
                    .collect();
                OrgLevels::new(levels)
            },
        }
    }

    fn policies(&self) -> Policies<'_> {
        Policies {
            identity: self.identity.as_ref(),
            permissions_boundary: self.boundary.as_ref(),
            service_control: &self.scp_levels,
            resource: self.resource.as_ref(),
            ..Policies::default()
        }
    }
}

fn crate_context(request: &GenRequest) -> Context {
    let mut context = Context::new();
    for (key, values, multivalued) in &request.context {
        let value = if *multivalued {
            ContextValue::list(values.iter().cloned())
        } else {
            ContextValue::single(values[0].clone())
        };
        context.insert(key, value);
    }
    context
}

fn reference_context(request: &GenRequest) -> Ctx {
    let mut ctx = Ctx::default();
    for (key, values, multivalued) in &request.context {
        ctx.set(key, values.clone(), *multivalued);
    }
    ctx
}

fn crate_decision(compiled: &Compiled, request: &GenRequest) -> DecisionEffect {
    let caller = Caller::from_arn(USERS[request.user].0).expect("user ARN");
    let context = crate_context(request);
    let req = Request {
        caller: &caller,
        action: request.action,
        resource: request.resource,
        resource_account: request.resource_account,
        context: &context,
    };
    evaluate(&compiled.policies(), &req).effect
}

fn reference_decision(parsed: &Parsed, request: &GenRequest) -> DecisionEffect {
    let (arn, account, _) = USERS[request.user];
    let user = User {
        arn: arn.into(),
        account: account.into(),
    };
    let ctx = reference_context(request);
    let req = Req {
        caller: &user,
        action: request.action,
        resource: request.resource,
        resource_account: request.resource_account,
        context: &ctx,
    };
    match reference::decide(&parsed.stack(), &req) {
        Outcome::Allowed => DecisionEffect::Allowed,
        Outcome::ExplicitDeny => DecisionEffect::ExplicitDeny,
        Outcome::ImplicitDeny => DecisionEffect::ImplicitDeny,
    }
}

fn describe(docs: &Docs, request: &GenRequest) -> String {
    let texts = |v: &[Value]| v.iter().map(Value::to_string).collect::<Vec<_>>().join("\n    ");
    format!(
        "identity:\n    {}\nboundary: {}\nresource: {}\nscp levels:\n    {}\nrequest: {request:#?}",
        texts(&docs.identity),
        docs.boundary.as_ref().map(Value::to_string).unwrap_or_default(),
        docs.resource.as_ref().map(Value::to_string).unwrap_or_default(),
        docs.scp_levels
            .iter()
            .map(|l| texts(l))
            .collect::<Vec<_>>()
            .join("\n  --\n    "),
    )
}

// ---- (a) the crate agrees with the reference -------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn compiled_evaluator_agrees_with_reference(case in case()) {
        let parsed = Parsed::new(&case.docs);
        let compiled = Compiled::new(&parsed);
        for request in &case.requests {
            let expected = reference_decision(&parsed, request);
            let actual = crate_decision(&compiled, request);
            prop_assert_eq!(actual, expected, "\n{}", describe(&case.docs, request));
        }
    }
}

/// The generator reaches every outcome often enough for agreement to mean something.
#[test]
fn generated_cases_reach_every_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let (mut allowed, mut explicit, mut implicit, mut cross_allowed) = (0usize, 0usize, 0usize, 0usize);
    for _ in 0..400 {
        let case = strategy.new_tree(&mut runner).expect("generate").current();
        let parsed = Parsed::new(&case.docs);
        for request in &case.requests {
            match reference_decision(&parsed, request) {
                DecisionEffect::Allowed => {
                    allowed += 1;
                    let owner = request.resource_account.unwrap_or(USERS[request.user].1);
                    cross_allowed += usize::from(owner != USERS[request.user].1);
                }
                DecisionEffect::ExplicitDeny => explicit += 1,
                DecisionEffect::ImplicitDeny => implicit += 1,
            }
        }
    }
    let total = allowed + explicit + implicit;
    eprintln!(
        "allowed {allowed}, explicit deny {explicit}, implicit deny {implicit}, cross-account allowed {cross_allowed}"
    );
    for (name, count) in [
        ("allowed", allowed),
        ("explicit deny", explicit),
        ("implicit deny", implicit),
    ] {
        assert!(count * 10 >= total, "{name}: {count} of {total}");
    }
    assert!(cross_allowed >= 10, "cross-account allows: {cross_allowed}");
}

// ---- (b) a Deny never grants -----------------------------------------------------------------

/// Which policy gets the extra statement.
#[derive(Debug, Clone, Copy)]
enum Target {
    Identity(usize),
    NewIdentity,
    Boundary,
    Resource,
    Scp(usize, usize),
}

fn add_statement(policy: &mut Value, statement: Value) {
    let statements = policy.get_mut("Statement").expect("generated policies have statements");
    if !statements.is_array() {
        *statements = Value::Array(vec![statements.take()]);
    }
    statements.as_array_mut().expect("array").push(statement);
}

fn with_deny(docs: &Docs, target: Target, mut deny: Value) -> Docs {
    let mut docs = docs.clone();
    let strip_principal = |deny: &mut Value| {
        let statement = deny.as_object_mut().expect("object");
        statement.remove("Principal");
        statement.remove("NotPrincipal");
    };
    match target {
        Target::Identity(i) if !docs.identity.is_empty() => {
            strip_principal(&mut deny);
            let n = docs.identity.len();
            add_statement(&mut docs.identity[i % n], deny);
        }
        Target::Identity(_) | Target::NewIdentity => {
            strip_principal(&mut deny);
            docs.identity
                .push(json!({"Version": "2012-10-17", "Statement": [deny]}));
        }
        Target::Boundary => {
            strip_principal(&mut deny);
            match &mut docs.boundary {
                Some(boundary) => add_statement(boundary, deny),
                None => {
                    docs.boundary = Some(
                        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, deny]}),
                    )
                }
            }
        }
        Target::Resource => {
            let statement = deny.as_object_mut().expect("object");
            if !statement.contains_key("Principal") && !statement.contains_key("NotPrincipal") {
                statement.insert("Principal".into(), json!("*"));
            }
            match &mut docs.resource {
                Some(resource) => add_statement(resource, deny),
                None => docs.resource = Some(json!({"Version": "2012-10-17", "Statement": [deny]})),
            }
        }
        Target::Scp(level, i) => {
            strip_principal(&mut deny);
            if docs.scp_levels.is_empty() {
                docs.scp_levels.push(vec![
                    json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                ]);
            }
            let n = docs.scp_levels.len();
            let level = &mut docs.scp_levels[level % n];
            if level.is_empty() {
                level.push(json!({"Statement": [deny]}));
            } else {
                let n = level.len();
                add_statement(&mut level[i % n], deny);
            }
        }
    }
    docs
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => any::<usize>().prop_map(Target::Identity),
        1 => Just(Target::NewIdentity),
        1 => Just(Target::Boundary),
        2 => Just(Target::Resource),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(l, i)| Target::Scp(l, i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn adding_a_deny_never_grants(
        case in case(),
        target in target(),
        deny in statement(Kind::Resource, Some("Deny")),
    ) {
        let before_parsed = Parsed::new(&case.docs);
        let before = Compiled::new(&before_parsed);
        let docs = with_deny(&case.docs, target, deny);
        let after_parsed = Parsed::new(&docs);
        let after = Compiled::new(&after_parsed);
        for request in &case.requests {
            let (was, is) = (crate_decision(&before, request), crate_decision(&after, request));
            prop_assert!(
                was == DecisionEffect::Allowed || is != DecisionEffect::Allowed,
                "a deny granted access ({:?} -> {:?})\n{}", was, is, describe(&docs, request)
            );
            prop_assert!(
                was != DecisionEffect::ExplicitDeny || is == DecisionEffect::ExplicitDeny,
                "a deny lifted an explicit deny\n{}", describe(&docs, request)
            );
            let (was_ref, is_ref) = (reference_decision(&before_parsed, request), reference_decision(&after_parsed, request));
            prop_assert!(was_ref == DecisionEffect::Allowed || is_ref != DecisionEffect::Allowed);
        }
    }
}

// ---- (c) print and parse round trips ---------------------------------------------------------

/// Renders JSON with the white space between tokens taken from `spaces` in turn.
fn render(value: &Value, spaces: &[&str], next: &mut usize, out: &mut String) {
    fn space(out: &mut String, spaces: &[&str], next: &mut usize) {
        if !spaces.is_empty() {
            out.push_str(spaces[*next % spaces.len()]);
            *next += 1;
        }
    }
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, spaces, next);
                out.push_str(&Value::String(key.clone()).to_string());
                space(out, spaces, next);
                out.push(':');
                space(out, spaces, next);
                render(item, spaces, next, out);
            }
            space(out, spaces, next);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(out, spaces, next);
                render(item, spaces, next, out);
            }
            space(out, spaces, next);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Text that needs escaping or is outside ASCII, for `Sid`, `Id` and string condition values.
fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}",
        "\\PC{0,8}",
        Just("quote\"back\\slash/tab\tnl\n".to_string()),
        Just("é中😀\u{7f}\u{1}".to_string()),
        Just("${aws:username}".to_string()),
    ]
}

fn document_text() -> impl Strategy<Value = (Value, String)> {
    let whitespace = prop::collection::vec(select(vec!["", " ", "\n", "\t", "\r\n", "  "]), 0..=7);
    (
        prop_oneof![policy(Kind::Identity, 0.2), policy(Kind::Resource, 0.2)],
        prop::option::weighted(0.3, odd_text()),
        prop::option::weighted(0.3, odd_text()),
        prop::option::weighted(0.3, odd_text()),
        whitespace,
    )
        .prop_map(|(mut doc, id, sid, text_value, spaces)| {
            let map = doc.as_object_mut().expect("object");
            if let Some(id) = id {
                map.insert("Id".into(), json!(id));
            }
            let statements = map.get_mut("Statement").expect("statements");
            let first = match statements {
                Value::Array(items) => &mut items[0],
                single => single,
            };
            let first = first.as_object_mut().expect("object");
            if let Some(sid) = sid {
                first.insert("Sid".into(), json!(sid));
            }
            if let Some(text_value) = text_value {
                first.insert(
                    "Condition".into(),
                    json!({"StringLike": {"aws:PrincipalTag/note": text_value}}),
                );
            }
            let mut text = String::new();
            render(&doc, &spaces, &mut 0, &mut text);
            (doc, text)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_print_parse_is_identity((doc, text) in document_text()) {
        // The text is the document the generator meant.
        let reparsed: Value = serde_json::from_str(&text).expect("valid JSON");
        prop_assert_eq!(&reparsed, &doc);
        let first = parse_policy(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?.policy;
        let printed = first.to_string();
        let second = parse_policy(&printed)
            .map_err(|e| TestCaseError::fail(format!("printed text does not parse: {e}\n{printed}")))?
            .policy;
        prop_assert_eq!(&first, &second, "\n{}\n{}", text, printed);
        prop_assert_eq!(printed, second.to_string());
    }
}

// ---- (d) no panics ---------------------------------------------------------------------------

/// Parses, and when that succeeds compiles and evaluates a request that carries every key.
fn exercise(text: &str) {
    let Ok(parsed) = parse_policy(text) else { return };
    let Ok(set) = PolicySet::compile([(PolicySource::new("fuzz", PolicyType::None), &parsed)]) else {
        return;
    };
    let set = Arc::new(set);
    let mut context = Context::new();
    for (key, values, multivalued) in CONTEXT_KEYS {
        let value = if *multivalued {
            ContextValue::list(values.iter().copied())
        } else {
            ContextValue::single(values[0])
        };
        context.insert(key, value);
    }
    let empty = Context::new();
    for (caller, context) in [
        (Caller::from_arn(USERS[0].0).expect("user"), &context),
        (Caller::anonymous(), &empty),
        (Caller::service("ec2.amazonaws.com"), &context),
    ] {
        for action in ["s3:GetObject", "*", "", "ünïcödé:ÄctionK"] {
            let request = Request {
                caller: &caller,
                action,
                resource: "arn:aws:s3:::bucket-a/home/alice/x",
                resource_account: Some(ACCOUNT_B),
                context,
            };
            for policies in [
                Policies {
                    identity: Some(&*set),
                    ..Policies::default()
                },
                Policies {
                    resource: Some(&*set),
                    permissions_boundary: Some(&*set),
                    ..Policies::default()
                },
                Policies {
                    service_control: &OrgLevels::from(std::slice::from_ref(&set)),
                    ..Policies::default()
                },
            ] {
                let _ = evaluate(&policies, &request);
            }
        }
    }
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\"Version\"",
    "\"2012-10-17\"",
    "\"Statement\"",
    "\"Effect\"",
    "\"Allow\"",
    "\"Deny\"",
    "\"Action\"",
    "\"NotAction\"",
    "\"s3:*\"",
    "\"*\"",
    "\"Resource\"",
    "\"NotResource\"",
    "\"arn:aws:s3:::b/${aws:username}\"",
    "\"Principal\"",
    "\"AWS\"",
    "\"Condition\"",
    "\"StringLike\"",
    "\"ForAllValues:IpAddressIfExists\"",
    "\"aws:SourceIp\"",
    "\"10.0.0.0/8\"",
    "\"NumericLessThan\"",
    "1",
    "-0.5e3",
    "true",
    "null",
    "\"${\"",
    "\"${aws:username, '\"",
    "\"\\u00e9\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"ArnLike\"",
    "\"arn:*:*:*:*:*\"",
    "\"Null\"",
    "\"DateLessThan\"",
    "\"2020-01-01T00:00:00Z\"",
    "\"BinaryEquals\"",
    "\"=\"",
];

fn json_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(select(JSON_TOKENS), 0..60).prop_map(|tokens| tokens.concat())
}

/// A valid document with a piece cut out and a token put in, at character boundaries.
fn mutated_document() -> impl Strategy<Value = String> {
    (
        document_text(),
        any::<prop::sample::Index>(),
        0..8usize,
        any::<prop::sample::Index>(),
        select(JSON_TOKENS),
    )
        .prop_map(|((_, text), cut_at, cut_len, put_at, token)| {
            let chars: Vec<char> = text.chars().collect();
            let start = cut_at.index(chars.len() + 1);
            let end = (start + cut_len).min(chars.len());
            let mut chars: Vec<char> = chars[..start].iter().chain(&chars[end..]).copied().collect();
            let at = put_at.index(chars.len() + 1);
            chars.splice(at..at, token.chars());
            chars.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn json_like_text_never_panics(text in prop_oneof![json_soup(), mutated_document()]) {
        exercise(&text);
    }

    #[test]
    fn generated_documents_never_panic((_, text) in document_text()) {
        exercise(&text);
    }
}

// ---- anchors: the reference on documented AWS cases ------------------------------------------

#[test]
fn reference_building_blocks() {
    reference::self_check();
}

/// Cases straight from AWS's documentation, checked on both evaluators.
#[test]
fn both_evaluators_follow_documented_cases() {
    let get = "s3:GetObject";
    let object = "arn:aws:s3:::bucket-a/home/alice/notes.txt";
    let allow_identity =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": get, "Resource": "*"}]});
    let resource = |principal: Value| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": get, "Resource": "*"}]});
    let not_principal_deny = |principals: Value| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": principals}, "Action": "s3:*", "Resource": "*"}]});
    let narrow_boundary =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]});
    let docs = |identity: Vec<Value>, boundary: Option<Value>, resource: Option<Value>| Docs {
        identity,
        boundary,
        resource,
        scp_levels: Vec::new(),
    };
    let alice = |resource_account: Option<&'static str>| GenRequest {
        user: 0,
        action: get,
        resource: object,
        resource_account,
        context: vec![("aws:username".into(), vec!["alice".into()], false)],
    };
    use DecisionEffect::{Allowed, ExplicitDeny, ImplicitDeny};
    let alice_arn = json!({"AWS": USERS[0].0});
    let cases: Vec<(&str, Docs, GenRequest, DecisionEffect)> = vec![
        (
            "identity allow",
            docs(vec![allow_identity.clone()], None, None),
            alice(None),
            Allowed,
        ),
        ("nothing allows", docs(vec![], None, None), alice(None), ImplicitDeny),
        (
            "same account: naming the user grants alone, past the boundary",
            docs(vec![], Some(narrow_boundary.clone()), Some(resource(alice_arn.clone()))),
            alice(None),
            Allowed,
        ),
        (
            "same account: naming the account only delegates",
            docs(vec![], None, Some(resource(json!({"AWS": ACCOUNT_A})))),
            alice(None),
            ImplicitDeny,
        ),
        (
            "same account: boundary limits identity allow",
            docs(vec![allow_identity.clone()], Some(narrow_boundary), None),
            alice(None),
            ImplicitDeny,
        ),
        (
            "cross account: resource policy alone is not enough",
            docs(vec![], None, Some(resource(alice_arn.clone()))),
            alice(Some(ACCOUNT_B)),
            ImplicitDeny,
        ),
        (
            "cross account: identity alone is not enough",
            docs(vec![allow_identity.clone()], None, None),
            alice(Some(ACCOUNT_B)),
            ImplicitDeny,
        ),
        (
            "cross account: both sides allow (the account named)",
            docs(
                vec![allow_identity.clone()],
                None,
                Some(resource(json!({"AWS": format!("arn:aws:iam::{ACCOUNT_A}:root")}))),
            ),
            alice(Some(ACCOUNT_B)),
            Allowed,
        ),
        (
            "explicit deny in the resource policy wins",
            docs(
                vec![allow_identity.clone()],
                None,
                Some(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
                ),
            ),
            alice(None),
            ExplicitDeny,
        ),
        (
            "NotPrincipal deny: the user listed beside its account is not denied",
            docs(
                vec![allow_identity.clone()],
                None,
                Some(not_principal_deny(json!([
                    USERS[0].0,
                    format!("arn:aws:iam::{ACCOUNT_A}:root")
                ]))),
            ),
            alice(None),
            Allowed,
        ),
        (
            "NotPrincipal deny: listing the account does not exempt its other users",
            docs(
                vec![allow_identity.clone()],
                None,
                Some(not_principal_deny(json!([
                    USERS[1].0,
                    format!("arn:aws:iam::{ACCOUNT_A}:root")
                ]))),
            ),
            alice(None),
            ExplicitDeny,
        ),
        (
            "a variable resolves as literal text",
            docs(
                vec![
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": get, "Resource": "arn:aws:s3:::bucket-a/home/${aws:username}/*"}]}),
                ],
                None,
                None,
            ),
            alice(None),
            Allowed,
        ),
        (
            "a variable in 2008-10-17 is literal text",
            docs(
                vec![
                    json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": get, "Resource": "arn:aws:s3:::bucket-a/home/${aws:username}/*"}]}),
                ],
                None,
                None,
            ),
            alice(None),
            ImplicitDeny,
        ),
    ];
    for (name, docs, request, expected) in cases {
        let parsed = Parsed::new(&docs);
        let compiled = Compiled::new(&parsed);
        assert_eq!(reference_decision(&parsed, &request), expected, "reference: {name}");
        assert_eq!(crate_decision(&compiled, &request), expected, "crate: {name}");
    }
}
