//! The security review's findings (issue 12), one test each, through the HTTP API of a real
//! `iamd`: each failed on the main before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, post, post_path, signed_headers, signed_headers_for, Reply, Server};

fn credentials_of(key: &Value) -> Credentials {
    Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    }
}

/// Creates `name` with `policy` (inline, if any) and returns its access key.
fn user_with_policy(server: &Server, name: &str, path: &str, policy: Option<Value>) -> Credentials {
    let root = server.root_credentials();
    gql(
        &server.address,
        &root,
        "mutation($n: String!, $p: String) { createUser(input: {userName: $n, path: $p}) { sequence } }",
        json!({"n": name, "p": path}),
    )
    .data();
    if let Some(policy) = policy {
        gql(
            &server.address,
            &root,
            "mutation($n: String!, $d: String!) { putUserPolicy(input: {userName: $n, policyName: \"p\", policyDocument: $d}) { sequence } }",
            json!({"n": name, "d": policy.to_string()}),
        )
        .data();
    }
    let key = gql(
        &server.address,
        &root,
        "mutation($n: String) { createAccessKey(userName: $n) { accessKey { accessKeyId secretAccessKey } } }",
        json!({"n": name}),
    );
    credentials_of(&key.data()["createAccessKey"]["accessKey"])
}

fn allow(actions: Value, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
}

/// Every byte `iamd` keeps on disk (event log, audit record file and index, read model).
fn raw_data(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn audit_log_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("audit.log")).map_or(0, |m| m.len())
}

fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn errors_at(reply: &Reply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let path: Vec<String> = e["path"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                .collect();
            (
                path.join("."),
                e["extensions"]["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Small deterministic generator, so a failing case can be rerun.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn alias(&mut self) -> String {
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        (0..1 + self.next() % 8)
            .map(|_| letters[(self.next() % 26) as usize] as char)
            .collect()
    }
}

/// Finding 1 and its property: no secret ever reaches the stored history, whatever aliases and
/// selections a client uses, for user keys and new accounts' root keys alike.
#[test]
fn secrets_never_reach_the_audit_store_under_any_alias_or_selection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let mut secrets = Vec::new();
    let mut random = Lcg(0x5EC2E7);
    for case in 0..24 {
        let user = format!("u{case}");
        gql(
            &server.address,
            &root,
            "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }",
            json!({"n": user}),
        )
        .data();
        let (outer, inner, id) = (random.alias(), random.alias(), random.alias());
        // Field order, repetition, fragments and aliases vary per case.
        let selection = match case % 4 {
            0 => format!("{outer}: accessKey {{ {inner}: secretAccessKey {id}: accessKeyId }}"),
            1 => format!("accessKey {{ {id}: accessKeyId {inner}: secretAccessKey secretAccessKey }}"),
            2 => format!("{outer}: accessKey {{ ...K }} sequence"),
            _ => format!("sequence {outer}: accessKey {{ {inner}: secretAccessKey }} {id}: accessKey {{ status }}"),
        };
        let fragment = if case % 4 == 2 {
            "fragment K on AccessKeyWithSecret { s: secretAccessKey accessKeyId }"
        } else {
            ""
        };
        let query = format!(
            "mutation($n: String) {{ {}: createAccessKey(userName: $n) {{ {selection} }} }} {fragment}",
            random.alias()
        );
        let reply = gql(&server.address, &root, &query, json!({"n": user}));
        let text = reply.body.to_string();
        let secret = text
            .split('"')
            .find(|s| {
                s.len() == 40
                    && !s.starts_with("AKIA")
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
            })
            .unwrap_or_else(|| panic!("no secret in {text}"))
            .to_owned();
        secrets.push(secret);
    }
    for case in 0..4 {
        let query = format!(
            "mutation {{ {}: createAccount {{ {}: rootAccessKey {{ {}: secretAccessKey accessKeyId }} accountId }} }}",
            random.alias(),
            random.alias(),
            random.alias()
        );
        let reply = gql(&server.address, &root, &query, json!({}));
        let text = reply.body.to_string();
        let secret = text
            .split('"')
            .find(|s| s.len() == 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+'))
            .unwrap_or_else(|| panic!("case {case}: no secret in {text}"))
            .to_owned();
        secrets.push(secret);
    }
    // The records were made (one per call), and none holds a secret, in any file.
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"CreateAccessKey\"}, first: 100) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    assert_eq!(records.data()["auditEvents"]["edges"].as_array().unwrap().len(), 24);
    let raw = raw_data(dir.path());
    for secret in &secrets {
        assert!(!contains(&raw, secret), "a secret reached the stored data");
    }
    assert!(!contains(records.body.to_string().as_bytes(), &secrets[0]));
}

/// Finding 2: without `userName` a user manages its own keys, never the root user's.
#[test]
fn an_iam_user_cannot_touch_root_access_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let admin = user_with_policy(&server, "delegate", "/", Some(allow(json!("iam:*"), "*")));
    let created = gql(
        &server.address,
        &admin,
        "mutation { createAccessKey { accessKey { accessKeyId userName } } }",
        json!({}),
    );
    assert_eq!(created.data()["createAccessKey"]["accessKey"]["userName"], "delegate");
    for mutation in [
        "mutation($k: String!) { updateAccessKey(input: {accessKeyId: $k, status: Inactive}) { sequence } }",
        "mutation($k: String!) { deleteAccessKey(input: {accessKeyId: $k}) { sequence } }",
    ] {
        let refused = gql(&server.address, &admin, mutation, json!({"k": root.access_key_id}));
        assert_eq!(
            refused.error_code().as_deref(),
            Some("NoSuchEntity"),
            "{}",
            refused.body
        );
    }
    // The root key still works.
    gql(&server.address, &root, "{ callerIdentity { arn } }", json!({})).data();
}

/// Finding 3: simulations are bounded and paged; a huge one is refused at once and recorded.
#[test]
fn simulations_are_bounded_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let reader = user_with_policy(
        &server,
        "reader",
        "/",
        Some(allow(json!(["iam:Get*", "iam:List*", "iam:Simulate*"]), "*")),
    );
    let me = format!("arn:aws:iam::{account}:user/reader");
    let rss_before = rss_kib(&server);
    let actions: Vec<String> = (0..40_000).map(|i| format!("s3:A{i}")).collect();
    let started = Instant::now();
    let huge = gql(
        &server.address,
        &reader,
        "query($a: String!, $x: [String!]!) { simulatePrincipalPolicy(input: {policySourceArn: $a, actionNames: $x, resourceArns: $x}) { isTruncated } }",
        json!({"a": me, "x": actions}),
    );
    assert_eq!(huge.error_code().as_deref(), Some("InvalidInput"), "{}", huge.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    // 1,000 actions x 1,000 resources: a page of 100 at a time.
    let actions: Vec<String> = (0..1_000).map(|i| format!("iam:Get{i}")).collect();
    let resources: Vec<String> = (0..1_000).map(|i| format!("arn:aws:s3:::b/{i}")).collect();
    let page = |marker: Option<&str>| {
        gql(
            &server.address,
            &reader,
            "query($a: String!, $x: [String!]!, $r: [String!]!, $m: String) { simulatePrincipalPolicy(input: {policySourceArn: $a, actionNames: $x, resourceArns: $r, maxItems: 100, marker: $m}) { isTruncated marker evaluationResults { evalActionName evalResourceName evalDecision } } }",
            json!({"a": me, "x": actions, "r": resources, "m": marker}),
        )
    };
    let first = page(None);
    let first = &first.data()["simulatePrincipalPolicy"];
    assert_eq!(first["isTruncated"], true);
    assert_eq!(first["evaluationResults"].as_array().unwrap().len(), 100);
    let marker = first["marker"].as_str().unwrap().to_owned();
    let second = page(Some(&marker));
    let results = &second.data()["simulatePrincipalPolicy"]["evaluationResults"];
    assert_eq!(results[0]["evalActionName"], "iam:Get0");
    assert_eq!(results[0]["evalResourceName"], "arn:aws:s3:::b/100");
    assert_eq!(page(Some("nonsense")).error_code().as_deref(), Some("InvalidInput"));
    let rss_after = rss_kib(&server);
    assert!(
        rss_after < rss_before + 200 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    let recorded = gql(
        &server.address,
        &server.root_credentials(),
        "{ auditEventCounts(filter: {eventName: \"SimulatePrincipalPolicy\"}, groupBy: ERROR_CODE) { value count } }",
        json!({}),
    );
    let counts = recorded.data()["auditEventCounts"].to_string();
    assert!(counts.contains("InvalidInput"), "{counts}");
}

/// Finding 4: a principal with no permissions cannot make one request write megabytes of history.
#[test]
fn refused_requests_cannot_amplify_the_audit_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let nobody = user_with_policy(&server, "nobody", "/", None);
    let big = "x".repeat(200_000);
    let before = audit_log_size(dir.path());
    let fields: String = (0..1_000)
        .map(|i| format!("f{i}: createUser(input: {{userName: $n}}) {{ sequence }} "))
        .collect();
    let many = gql(
        &server.address,
        &nobody,
        &format!("mutation($n: String!) {{ {fields} }}"),
        json!({"n": big}),
    );
    assert_eq!(many.error_code().as_deref(), Some("LimitExceeded"), "{}", many.body);
    // Within the field limit, each refused call is recorded with its parameters summarized.
    let fields: String = (0..20)
        .map(|i| format!("f{i}: createUser(input: {{userName: $n}}) {{ sequence }} "))
        .collect();
    let twenty = gql(
        &server.address,
        &nobody,
        &format!("mutation($n: String!) {{ {fields} }}"),
        json!({"n": big}),
    );
    assert_eq!(twenty.error_code().as_deref(), Some("AccessDenied"));
    // AuthZEN evaluations inheriting a large default context.
    let evaluations: Vec<Value> = (0..100).map(|_| json!({})).collect();
    let body = json!({
        "subject": {"type": "user", "id": "nobody"},
        "action": {"name": "s3:GetObject"},
        "resource": {"id": "arn:aws:s3:::b/k"},
        "context": {"big": big},
        "evaluations": evaluations,
    })
    .to_string();
    let headers = signed_headers_for(&server.address, "/access/v1/evaluations", &nobody, &body, Utc::now());
    let refused = post_path(&server.address, "/access/v1/evaluations", &headers, &body);
    assert_eq!(refused.body["error"]["code"], "LimitExceeded", "{}", refused.body);
    let grown = audit_log_size(dir.path()) - before;
    assert!(grown < 1024 * 1024, "the audit log grew by {grown} bytes");
}

/// Finding 5: nested lists multiply into the complexity limit instead of into memory.
#[test]
fn nested_lists_are_bounded_by_complexity() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    for g in 0..10 {
        gql(
            &server.address,
            &root,
            "mutation($g: String!) { createGroup(input: {groupName: $g}) { sequence } }",
            json!({"g": format!("g{g}")}),
        )
        .data();
    }
    for u in 0..10 {
        gql(
            &server.address,
            &root,
            "mutation($u: String!) { createUser(input: {userName: $u}) { sequence } }",
            json!({"u": format!("u{u}")}),
        )
        .data();
        for g in 0..10 {
            gql(&server.address, &root, "mutation($g: String!, $u: String!) { addUserToGroup(input: {groupName: $g, userName: $u}) { sequence } }", json!({"g": format!("g{g}"), "u": format!("u{u}")})).data();
        }
    }
    let deep = "{ user(userName: \"u0\") { groups { nodes { users { nodes { groups { nodes { users { nodes { groups { nodes { users { nodes { userName } } } } } } } } } } } } } }";
    let started = Instant::now();
    let refused = gql(&server.address, &root, deep, json!({}));
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{}",
        refused.body
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Small pages of the same shape are answered.
    let paged = "{ user(userName: \"u0\") { groups(first: 2) { nodes { users(first: 2) { nodes { userName } } } pageInfo { hasNextPage } } } }";
    let answered = gql(&server.address, &root, paged, json!({}));
    assert_eq!(answered.data()["user"]["groups"]["pageInfo"]["hasNextPage"], true);
}

/// Finding 6, swept: each nested field needs the IAM action AWS requires; a principal allowed
/// the parent but not the nested action gets `AccessDenied` there and the rest of the answer.
#[test]
fn nested_fields_are_authorized_for_their_own_actions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let target = format!("arn:aws:iam::{account}:user/target");
    user_with_policy(&server, "target", "/", Some(allow(json!("s3:*"), "*")));
    gql(
        &server.address,
        &root,
        "mutation { createGroup(input: {groupName: \"team\"}) { sequence } }",
        json!({}),
    )
    .data();
    gql(
        &server.address,
        &root,
        "mutation { addUserToGroup(input: {groupName: \"team\", userName: \"target\"}) { sequence } }",
        json!({}),
    )
    .data();
    gql(
        &server.address,
        &root,
        "mutation { tagUser(input: {userName: \"target\", tags: [{key: \"k\", value: \"v\"}]}) { sequence } }",
        json!({}),
    )
    .data();
    let cases: &[(&str, &str)] = &[
        ("groups { nodes { groupName } }", "iam:ListGroupsForUser"),
        ("attachedPolicies { policyArn }", "iam:ListAttachedUserPolicies"),
        ("inlinePolicies { policyName }", "iam:ListUserPolicies"),
        ("accessKeys { accessKeyId }", "iam:ListAccessKeys"),
        ("tags { key value }", "iam:ListUserTags"),
    ];
    for (i, (field, action)) in cases.iter().enumerate() {
        let name = field.split_whitespace().next().unwrap();
        let query = format!("{{ user(userName: \"target\") {{ userName {field} }} }}");
        let without = user_with_policy(
            &server,
            &format!("p{i}"),
            "/",
            Some(allow(json!("iam:GetUser"), &target)),
        );
        let refused = gql(&server.address, &without, &query, json!({}));
        assert_eq!(
            refused.body["data"]["user"]["userName"], "target",
            "{field}: {}",
            refused.body
        );
        assert!(refused.body["data"]["user"][name].is_null());
        assert_eq!(
            errors_at(&refused),
            vec![(format!("user.{name}"), "AccessDenied".to_owned())]
        );
        let with = user_with_policy(
            &server,
            &format!("q{i}"),
            "/",
            Some(allow(json!(["iam:GetUser", action]), &target)),
        );
        let answered = gql(&server.address, &with, &query, json!({}));
        assert!(
            !answered.body["data"]["user"][name].is_null(),
            "{field}: {}",
            answered.body
        );
    }
    // The review's path: from oneself through a group to another user's secrets of record.
    let me = user_with_policy(
        &server,
        "me",
        "/",
        Some(allow(json!("iam:GetUser"), &format!("arn:aws:iam::{account}:user/me"))),
    );
    gql(
        &server.address,
        &root,
        "mutation { addUserToGroup(input: {groupName: \"team\", userName: \"me\"}) { sequence } }",
        json!({}),
    )
    .data();
    let walk = gql(
        &server.address,
        &me,
        "{ user(userName: \"me\") { userName groups(first: 5) { nodes { users(first: 5) { nodes { inlinePolicies { policyDocument } accessKeys { accessKeyId } } } } } } }",
        json!({}),
    );
    assert_eq!(walk.body["data"]["user"]["userName"], "me", "{}", walk.body);
    assert!(walk.body["data"]["user"]["groups"].is_null());
    assert!(!walk.body.to_string().contains("AKIA"));
    // Inline documents need Get*Policy beyond the list action.
    let lister = user_with_policy(
        &server,
        "lister",
        "/",
        Some(allow(json!(["iam:GetUser", "iam:ListUserPolicies"]), &target)),
    );
    let docs = gql(
        &server.address,
        &lister,
        "{ user(userName: \"target\") { inlinePolicies { policyName policyDocument } } }",
        json!({}),
    );
    assert_eq!(docs.body["data"]["user"]["inlinePolicies"][0]["policyName"], "p");
    assert!(docs.body["data"]["user"]["inlinePolicies"][0]["policyDocument"].is_null());
    assert_eq!(errors_at(&docs)[0].1, "AccessDenied");
    // Each top-level read is recorded as the IAM call it is, with AWS's request parameters.
    let recorded = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"GetUser\"}, first: 100) { edges { node { requestParameters resourceArn errorCode } } } }",
        json!({}),
    );
    let reads = recorded.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(reads
        .iter()
        .any(|e| e["node"]["requestParameters"] == json!({"userName": "target"})
            && e["node"]["resourceArn"] == target.as_str()
            && e["node"]["errorCode"].is_null()));
}

/// Finding 7: IAM's own condition keys are in the context of IAM-on-IAM calls.
#[test]
fn iam_condition_keys_reach_management_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:AttachUserPolicy", "Resource": "*",
         "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}}},
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/team": "true"}}},
        {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*",
         "Condition": {"StringEquals": {"iam:ResourceTag/protected": "yes"}}}
    ]});
    let delegate = user_with_policy(&server, "delegate", "/", Some(policy));
    let attach = |arn: &str| {
        gql(
            &server.address,
            &delegate,
            "mutation($a: String!) { attachUserPolicy(input: {userName: \"delegate\", policyArn: $a}) { sequence } }",
            json!({"a": arn}),
        )
    };
    assert_eq!(
        attach("arn:aws:iam::aws:policy/AdministratorAccess")
            .error_code()
            .as_deref(),
        Some("AccessDenied")
    );
    attach("arn:aws:iam::aws:policy/ReadOnlyAccess").data();
    let create = |tags: Value| {
        gql(
            &server.address,
            &delegate,
            "mutation($t: [TagInput!]) { createUser(input: {userName: \"new\", tags: $t}) { sequence } }",
            json!({"t": tags}),
        )
    };
    assert_eq!(create(json!(null)).error_code().as_deref(), Some("AccessDenied"));
    create(json!([{"key": "team", "value": "db"}])).data();
    gql(
        &server.address,
        &delegate,
        "mutation { tagUser(input: {userName: \"new\", tags: [{key: \"protected\", value: \"yes\"}]}) { sequence } }",
        json!({}),
    )
    .data();
    let delete = gql(
        &server.address,
        &delegate,
        "mutation { deleteUser(userName: \"new\") { sequence } }",
        json!({}),
    );
    assert_eq!(delete.error_code().as_deref(), Some("AccessDenied"));
}

/// Finding 8: a rename or move needs permission on the old and the new ARN.
#[test]
fn renames_and_moves_are_authorized_on_both_arns() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let staff = format!("arn:aws:iam::{account}:user/staff/*");
    let me = user_with_policy(
        &server,
        "me",
        "/staff/",
        Some(allow(json!(["iam:UpdateUser", "iam:UpdateGroup"]), &staff)),
    );
    let moved = gql(
        &server.address,
        &me,
        "mutation { updateUser(input: {userName: \"me\", newPath: \"/admins/\"}) { sequence } }",
        json!({}),
    );
    assert_eq!(moved.error_code().as_deref(), Some("AccessDenied"), "{}", moved.body);
    assert!(moved.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("/admins/me"));
    gql(
        &server.address,
        &me,
        "mutation { updateUser(input: {userName: \"me\", newUserName: \"me2\"}) { sequence } }",
        json!({}),
    )
    .data();
    // Groups too.
    let root = server.root_credentials();
    gql(
        &server.address,
        &root,
        "mutation { createGroup(input: {groupName: \"ops\", path: \"/staff/\"}) { sequence } }",
        json!({}),
    )
    .data();
    let group_policy = allow(
        json!("iam:UpdateGroup"),
        &format!("arn:aws:iam::{account}:group/staff/*"),
    );
    let grouper = user_with_policy(&server, "grouper", "/", Some(group_policy));
    let moved = gql(
        &server.address,
        &grouper,
        "mutation { updateGroup(input: {groupName: \"ops\", newPath: \"/admins/\"}) { sequence } }",
        json!({}),
    );
    assert_eq!(moved.error_code().as_deref(), Some("AccessDenied"));
    gql(
        &server.address,
        &grouper,
        "mutation { updateGroup(input: {groupName: \"ops\", newGroupName: \"ops2\"}) { sequence } }",
        json!({}),
    )
    .data();
}

/// Finding 9: slow headers are cut off, and connections beyond the cap wait.
#[test]
fn slow_headers_are_cut_off_and_connections_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--request-read-timeout", "1", "--max-connections", "4"]);
    // A client that never finishes its headers is disconnected.
    let mut slow = TcpStream::connect(&server.address).unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    let read = slow.read(&mut buffer).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buffer[..read]).into_owned();
    assert!(read == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Four idle connections take every slot: a fifth is not served until they time out.
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&server.address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = TcpStream::connect(&server.address).unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    fifth.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(
        fifth.read(&mut buffer).is_err(),
        "the fifth connection was served at once"
    );
    fifth.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read = fifth.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    drop(idle);
}

/// Finding 10: a long-term key sent with a session token is refused as AWS refuses it.
#[test]
fn a_session_token_with_a_long_term_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut root = server.root_credentials();
    root.session_token = Some("FQoGZXIvYXdzEXAMPLE".into());
    let reply = gql(&server.address, &root, "{ callerIdentity { arn } }", json!({}));
    assert_eq!(reply.status, 403);
    assert_eq!(reply.error_code().as_deref(), Some("InvalidClientTokenId"));
}

/// Finding 11: failed authentications are recorded, one per key and code per second with a
/// count, so a flood writes a bounded history.
#[test]
fn failed_authentications_are_recorded_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let forged = Credentials {
        access_key_id: root.access_key_id.clone(),
        secret_access_key: "not-the-secret-0000000000000000000000000".into(),
        session_token: None,
    };
    let unknown = Credentials {
        access_key_id: "AKIAUNKNOWNKEY000000".into(),
        ..forged.clone()
    };
    let started = Instant::now();
    for _ in 0..300 {
        assert_eq!(
            gql(&server.address, &forged, "{ callerIdentity { arn } }", json!({})).status,
            403
        );
    }
    assert_eq!(
        gql(&server.address, &unknown, "{ callerIdentity { arn } }", json!({})).status,
        403
    );
    let seconds = started.elapsed().as_secs() + 1;
    std::thread::sleep(Duration::from_millis(2_500));
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"Authenticate\"}, first: 1000) { edges { node { errorCode sourceIPAddress userIdentity { accessKeyId } additionalEventData } } } }",
        json!({}),
    );
    let edges = records.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    let of_key: Vec<&Value> = edges
        .iter()
        .filter(|e| e["node"]["userIdentity"]["accessKeyId"] == root.access_key_id.as_str())
        .collect();
    assert!(of_key.iter().all(|e| e["node"]["errorCode"] == "SignatureDoesNotMatch"));
    assert!(of_key.iter().all(|e| e["node"]["sourceIPAddress"] == "127.0.0.1"));
    // At most a record and a summary per second, and together they count every failure.
    assert!(
        of_key.len() as u64 <= 2 * seconds + 2,
        "{} records in {seconds} s",
        of_key.len()
    );
    let counted: u64 = of_key
        .iter()
        .map(|e| {
            e["node"]["additionalEventData"]["failuresInSecond"]
                .as_u64()
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(counted, 300);
    assert!(edges
        .iter()
        .any(|e| e["node"]["userIdentity"]["accessKeyId"] == "AKIAUNKNOWNKEY000000"
            && e["node"]["errorCode"] == "InvalidClientTokenId"));
    assert!(!records.body.to_string().contains("not-the-secret"));
}

/// Finding 12: the decision API answers every error, authentication included, in its own shape.
#[test]
fn the_decision_api_answers_errors_in_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let body = json!({"principalArn": "arn:aws:iam::123456789012:user/x", "action": "s3:GetObject"}).to_string();
    for path in [
        "/v1/authorize",
        "/v1/authorize/batch",
        "/access/v1/evaluation",
        "/access/v1/evaluations",
    ] {
        let unsigned = post_path(&server.address, path, &[], &body);
        assert_eq!(unsigned.status, 403);
        assert_eq!(
            unsigned.body["error"]["code"], "MissingAuthenticationToken",
            "{path}: {}",
            unsigned.body
        );
        assert!(unsigned.body.get("errors").is_none());
        let mut forged = server.root_credentials();
        forged.secret_access_key = "wrong-secret-000000000000000000000000000".into();
        let headers = signed_headers_for(&server.address, path, &forged, &body, Utc::now());
        let refused = post_path(&server.address, path, &headers, &body);
        assert_eq!(refused.body["error"]["code"], "SignatureDoesNotMatch", "{path}");
    }
}

/// Per-access-key throttling answers `Throttling` with `Retry-After`, and other keys go on.
#[test]
fn a_key_over_its_rate_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--throttle-per-key", "5"]);
    let root = server.root_credentials();
    let other = user_with_policy(&server, "other", "/", None);
    let body = json!({"query": "{ callerIdentity { arn } }"}).to_string();
    let mut throttled = None;
    for _ in 0..40 {
        let headers = signed_headers(&server.address, &root, &body, Utc::now());
        let reply = post(&server.address, &headers, &body);
        if reply.status == 429 {
            throttled = Some(reply);
            break;
        }
    }
    let throttled = throttled.expect("never throttled");
    assert_eq!(throttled.error_code().as_deref(), Some("Throttling"));
    let retry_after: u64 = throttled
        .header("retry-after")
        .expect("no Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert!(throttled.header("x-amzn-requestid").is_some());
    let answered = gql(&server.address, &other, "{ callerIdentity { arn } }", json!({}));
    assert_eq!(answered.status, 200);
}

/// The resource-exhaustion requests above, sent in a loop by one client, each get their clear
/// error while another client's decisions keep being answered, and the server's memory stays
/// bounded (the peak RSS is printed; docs/benchmarks.md states the bound).
#[test]
fn exhaustion_requests_are_refused_while_other_clients_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let attacker = user_with_policy(
        &server,
        "attacker",
        "/",
        Some(allow(json!(["iam:Get*", "iam:List*", "iam:Simulate*"]), "*")),
    );
    let me = format!("arn:aws:iam::{account}:user/attacker");
    let big = "x".repeat(200_000);
    let actions: Vec<String> = (0..40_000).map(|i| format!("s3:A{i}")).collect();
    let fields: String = (0..1_000)
        .map(|i| format!("f{i}: createUser(input: {{userName: $n}}) {{ sequence }} "))
        .collect();
    let many_fields = format!("mutation($n: String!) {{ {fields} }}");
    let deep = "{ user(userName: \"attacker\") { groups { nodes { users { nodes { groups { nodes { users { nodes { userName } } } } } } } } } }";
    let evaluations: Vec<Value> = (0..100).map(|_| json!({})).collect();
    let authzen = json!({"subject": {"type": "user", "id": "attacker"}, "action": {"name": "s3:GetObject"},
        "context": {"big": big}, "evaluations": evaluations})
    .to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let (address, stop) = (server.address.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut refused = std::collections::BTreeMap::<String, u32>::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let replies = [
                    gql(&address, &attacker, "query($a: String!, $x: [String!]!) { simulatePrincipalPolicy(input: {policySourceArn: $a, actionNames: $x}) { isTruncated } }", json!({"a": me, "x": actions})),
                    gql(&address, &attacker, &many_fields, json!({"n": big})),
                    gql(&address, &attacker, deep, json!({})),
                ];
                for reply in replies {
                    let code = reply
                        .error_code()
                        .unwrap_or_else(|| reply.body["errors"][0]["message"].to_string());
                    *refused.entry(code).or_default() += 1;
                }
                let headers = signed_headers_for(&address, "/access/v1/evaluations", &attacker, &authzen, Utc::now());
                let reply = post_path(&address, "/access/v1/evaluations", &headers, &authzen);
                *refused.entry(reply.body["error"]["code"].to_string()).or_default() += 1;
            }
            refused
        })
    };
    let ask =
        json!({"principalArn": format!("arn:aws:iam::{account}:user/attacker"), "action": "iam:GetUser"}).to_string();
    let mut slowest = Duration::ZERO;
    let mut peak_rss = 0;
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(6) {
        let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &ask, Utc::now());
        let asked = Instant::now();
        let reply = post_path(&server.address, "/v1/authorize", &headers, &ask);
        slowest = slowest.max(asked.elapsed());
        assert_eq!(reply.status, 200, "{}", reply.body);
        answered += 1;
        peak_rss = peak_rss.max(rss_kib(&server));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let refused = flood.join().unwrap();
    eprintln!("exhaustion flood: refusals {refused:?}; {answered} decisions answered meanwhile, slowest {slowest:?}; peak RSS {peak_rss} KiB");
    // Every flood request got its clear error, and nothing else.
    let codes: Vec<&String> = refused.keys().collect();
    assert!(
        codes
            .iter()
            .all(|c| c.contains("InvalidInput") || c.contains("LimitExceeded") || c.contains("too complex")),
        "{refused:?}"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "a decision waited {slowest:?} behind the flood"
    );
    assert!(peak_rss < 512 * 1024, "peak RSS {peak_rss} KiB");
}

/// The sweep on groups, roles and policies, and the one action that covers a whole account's
/// details: `GetAccountAuthorizationDetails` returns what AWS returns with it (groups, policies,
/// tags, documents) and nothing more (access keys, a group's members need their own actions).
#[test]
fn nested_fields_of_groups_roles_and_policies_and_the_details_call() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let run = |query: &str, vars: Value| gql(&server.address, &root, query, vars).data().clone();
    let document = allow(json!("s3:GetObject"), "*").to_string();
    user_with_policy(&server, "member", "/", Some(allow(json!("s3:*"), "*")));
    run(
        "mutation { createGroup(input: {groupName: \"team\"}) { sequence } }",
        json!({}),
    );
    run(
        "mutation { addUserToGroup(input: {groupName: \"team\", userName: \"member\"}) { sequence } }",
        json!({}),
    );
    run("mutation($d: String!) { putGroupPolicy(input: {groupName: \"team\", policyName: \"g\", policyDocument: $d}) { sequence } }", json!({"d": document}));
    run("mutation { attachGroupPolicy(input: {groupName: \"team\", policyArn: \"arn:aws:iam::aws:policy/ReadOnlyAccess\"}) { sequence } }", json!({}));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]});
    run("mutation($t: String!) { createRole(input: {roleName: \"app\", assumeRolePolicyDocument: $t, tags: [{key: \"k\", value: \"v\"}]}) { sequence } }", json!({"t": trust.to_string()}));
    run("mutation($d: String!) { putRolePolicy(input: {roleName: \"app\", policyName: \"r\", policyDocument: $d}) { sequence } }", json!({"d": document}));
    let policy = run("mutation($d: String!) { createPolicy(input: {policyName: \"mine\", policyDocument: $d, tags: [{key: \"k\", value: \"v\"}]}) { policy { arn } } }", json!({"d": document}));
    let policy_arn = policy["createPolicy"]["policy"]["arn"].as_str().unwrap().to_owned();
    let group_arn = format!("arn:aws:iam::{account}:group/team");
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    let cases: Vec<(String, &str, &str, &str, &str)> = vec![
        (
            "{ group(groupName: \"team\") { groupName attachedPolicies { policyArn } } }".to_owned(),
            "group",
            "attachedPolicies",
            "iam:GetGroup",
            "iam:ListAttachedGroupPolicies",
        ),
        (
            "{ group(groupName: \"team\") { groupName inlinePolicies { policyName } } }".to_owned(),
            "group",
            "inlinePolicies",
            "iam:GetGroup",
            "iam:ListGroupPolicies",
        ),
        (
            "{ role(roleName: \"app\") { roleName tags { key } } }".to_owned(),
            "role",
            "tags",
            "iam:GetRole",
            "iam:ListRoleTags",
        ),
        (
            "{ role(roleName: \"app\") { roleName attachedPolicies { policyArn } } }".to_owned(),
            "role",
            "attachedPolicies",
            "iam:GetRole",
            "iam:ListAttachedRolePolicies",
        ),
        (
            "{ role(roleName: \"app\") { roleName inlinePolicies { policyName } } }".to_owned(),
            "role",
            "inlinePolicies",
            "iam:GetRole",
            "iam:ListRolePolicies",
        ),
        (
            format!("{{ policy(policyArn: \"{policy_arn}\") {{ policyName tags {{ key }} }} }}"),
            "policy",
            "tags",
            "iam:GetPolicy",
            "iam:ListPolicyTags",
        ),
        (
            format!("{{ policy(policyArn: \"{policy_arn}\") {{ policyName versions {{ versionId }} }} }}"),
            "policy",
            "versions",
            "iam:GetPolicy",
            "iam:ListPolicyVersions",
        ),
        (
            format!("{{ policy(policyArn: \"{policy_arn}\") {{ policyName defaultVersion {{ versionId }} }} }}"),
            "policy",
            "defaultVersion",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
        ),
    ];
    for (i, (query, parent, field, parent_action, action)) in cases.iter().enumerate() {
        let arn = match *parent {
            "group" => group_arn.as_str(),
            "role" => role_arn.as_str(),
            _ => policy_arn.as_str(),
        };
        let without = user_with_policy(&server, &format!("n{i}"), "/", Some(allow(json!([parent_action]), arn)));
        let refused = gql(&server.address, &without, query, json!({}));
        assert!(refused.body["data"][parent].is_object(), "{query}: {}", refused.body);
        assert!(
            refused.body["data"][parent][field].is_null(),
            "{query}: {}",
            refused.body
        );
        assert_eq!(
            errors_at(&refused),
            vec![(format!("{parent}.{field}"), "AccessDenied".to_owned())],
            "{query}"
        );
        let with = user_with_policy(
            &server,
            &format!("y{i}"),
            "/",
            Some(allow(json!([parent_action, action]), arn)),
        );
        let answered = gql(&server.address, &with, query, json!({}));
        assert!(
            !answered.body["data"][parent][field].is_null(),
            "{query}: {}",
            answered.body
        );
    }
    // GetAccountAuthorizationDetails alone: groups, policies and tags of every principal, and the
    // documents; not a user's keys, not a group's members.
    let auditor = user_with_policy(
        &server,
        "auditor",
        "/",
        Some(allow(json!("iam:GetAccountAuthorizationDetails"), "*")),
    );
    let details = gql(
        &server.address,
        &auditor,
        "{ accountAuthorizationDetails(first: 30) { userDetailList { userName groups(first: 2) { nodes { groupName } } inlinePolicies { policyDocument } tags { key } accessKeys { accessKeyId } } groupDetailList { groupName attachedPolicies { policyArn } inlinePolicies { policyDocument } users(first: 2) { nodes { userName } } } roleDetailList { roleName tags { key } inlinePolicies { policyDocument } } policies { policyName versions { document } } } }",
        json!({}),
    );
    let data = &details.body["data"]["accountAuthorizationDetails"];
    assert!(data.is_object(), "{}", details.body);
    let member = data["userDetailList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userName"] == "member")
        .unwrap();
    assert_eq!(member["groups"]["nodes"][0]["groupName"], "team", "{}", details.body);
    assert!(member["inlinePolicies"][0]["policyDocument"].is_string());
    assert!(member["accessKeys"].is_null());
    assert_eq!(
        data["groupDetailList"][0]["attachedPolicies"][0]["policyArn"],
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    );
    assert!(data["groupDetailList"][0]["users"].is_null());
    assert_eq!(data["roleDetailList"][0]["tags"][0]["key"], "k");
    assert!(data["policies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["versions"][0]["document"].is_string()));
    let refused: Vec<String> = errors_at(&details).into_iter().map(|(path, _)| path).collect();
    assert!(
        refused
            .iter()
            .all(|p| p.ends_with("accessKeys") || p.ends_with("users")),
        "{refused:?}"
    );
}

/// The property behind finding 1, with proptest choosing the query: whatever aliases, field
/// order, repetitions and fragments a client uses on `createAccessKey`, the secret it is shown
/// never reaches any file iamd keeps.
#[test]
fn no_selection_of_a_new_key_puts_its_secret_on_disk() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let counter = std::cell::Cell::new(0u32);
    let alias = "[a-z][a-zA-Z0-9_]{0,12}";
    // One selected field of the key: the secret under an alias, or another field.
    let field = prop_oneof![
        alias.prop_map(|a| format!("{a}: secretAccessKey")),
        Just("secretAccessKey".to_owned()),
        alias.prop_map(|a| format!("{a}: accessKeyId")),
        Just("status".to_owned()),
        Just("userName".to_owned()),
    ];
    let selection = (
        proptest::collection::vec(field, 1..6),
        proptest::option::of(alias),
        any::<bool>(),
        alias,
    );
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 48,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    runner
        .run(&selection, |(fields, outer, through_fragment, top)| {
            let n = counter.get();
            counter.set(n + 1);
            let user = format!("prop{n}");
            gql(
                &server.address,
                &root,
                "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }",
                json!({"n": user}),
            )
            .data();
            // The secret must be asked for at least once for the case to mean anything.
            let mut fields = fields;
            fields.push("secretAccessKey".to_owned());
            let inner = fields.join(" ");
            let key = outer.map_or_else(|| "accessKey".to_owned(), |o| format!("{o}: accessKey"));
            let (body, fragment) = if through_fragment {
                (
                    format!("{key} {{ ...F }}"),
                    format!("fragment F on AccessKeyWithSecret {{ {inner} }}"),
                )
            } else {
                (format!("{key} {{ {inner} }} sequence"), String::new())
            };
            let query =
                format!("mutation($n: String) {{ {top}: createAccessKey(userName: $n) {{ {body} }} }} {fragment}");
            let reply = gql(&server.address, &root, &query, json!({"n": user}));
            let text = reply.body.to_string();
            let secret = text
                .split('"')
                .find(|s| s.len() == 40 && !s.starts_with("AKIA") && !s.contains(' '))
                .unwrap_or_else(|| panic!("no secret in {text} for {query}"))
                .to_owned();
            let raw = raw_data(dir.path());
            prop_assert!(!contains(&raw, &secret), "the secret reached disk for {}", query);
            Ok(())
        })
        .unwrap();
}

/// The evaluation defects, through the decision API and GraphQL as a user meets them.
#[test]
fn the_evaluation_defects_are_fixed_where_users_meet_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    // AWS's home-folder example: listing the bucket's root sends s3:prefix = "".
    let home = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::home-bucket",
        "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}}]});
    user_with_policy(&server, "alice", "/", Some(home));
    let ask = |context: Value| {
        let body = json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:ListBucket",
            "resource": "arn:aws:s3:::home-bucket", "context": context})
        .to_string();
        let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &body, Utc::now());
        post_path(&server.address, "/v1/authorize", &headers, &body).body["decision"].clone()
    };
    assert_eq!(ask(json!([{"key": "s3:prefix", "values": [""]}])), "Allow");
    assert_eq!(
        ask(json!([{"key": "s3:prefix", "values": ["home/alice/docs/"]}])),
        "Allow"
    );
    assert_eq!(
        ask(json!([{"key": "s3:prefix", "values": ["home/bob/"]}])),
        "ImplicitDeny"
    );
    // NotPrincipal naming a user and its account still denies the account's other users.
    let bucket_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": [format!("arn:aws:iam::{account}:user/bob"), format!("arn:aws:iam::{account}:root")]},
         "Action": "s3:*", "Resource": "arn:aws:s3:::payroll/*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll/*"}]});
    user_with_policy(&server, "bob", "/", Some(allow(json!("s3:GetObject"), "*")));
    user_with_policy(&server, "carol", "/", Some(allow(json!("s3:GetObject"), "*")));
    let read = |who: &str| {
        let body = json!({"principalArn": format!("arn:aws:iam::{account}:user/{who}"), "action": "s3:GetObject",
            "resource": "arn:aws:s3:::payroll/2026.csv", "resourcePolicy": bucket_policy.to_string()})
        .to_string();
        let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &body, Utc::now());
        post_path(&server.address, "/v1/authorize", &headers, &body).body["decision"].clone()
    };
    assert_eq!(read("bob"), "Allow");
    assert_eq!(read("carol"), "ExplicitDeny");
    // simulateCustomPolicy without a CallerArn: the identity policy decides, even for resources
    // whose ARN names an account.
    let simulated = gql(
        &server.address,
        &root,
        "query($p: [String!]!) { simulateCustomPolicy(input: {policyInputList: $p, actionNames: [\"iam:GetUser\", \"sqs:SendMessage\"], resourceArns: [\"arn:aws:iam::111122223333:user/x\", \"arn:aws:sqs:us-east-1:111122223333:q\"]}) { evaluationResults { evalActionName evalResourceName evalDecision } } }",
        json!({"p": [allow(json!(["iam:GetUser", "sqs:SendMessage"]), "*").to_string()]}),
    );
    let results = simulated.data()["simulateCustomPolicy"]["evaluationResults"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["evalDecision"] == "allowed"), "{results:?}");
}
