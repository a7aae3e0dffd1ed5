//! STS `AssumeRole` against a real `iamd`, through botocore's own clients: who may assume a role
//! (trust policy and identity policies, same account and across accounts), what the session may
//! do (the role's policies, narrowed by session policies, with session tags), role chaining, and
//! session tokens refused when forged, swapped or replayed for another key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, gql, Server};

fn credentials(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        session_token: session_token.map(str::to_owned),
    }
}

fn ok(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

fn error(results: &[Value], i: usize) -> &str {
    results[i]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("call {i} should have failed: {}", results[i]))
}

/// The session credentials of an `AssumeRole` answer.
fn session_of(response: &Value) -> Credentials {
    let c = &response["Credentials"];
    credentials(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        Some(c["SessionToken"].as_str().unwrap()),
    )
}

fn trust(principal: Value, condition: Option<Value>) -> String {
    let mut statement = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

fn allow(action: &str, resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
        .to_string()
}

/// A user with an access key, and the key.
fn user_with_key(server: &Server, root: &Credentials, name: &str, policy: Option<String>) -> Credentials {
    let mut calls = vec![("iam", "create_user", json!({"UserName": name}))];
    if let Some(policy) = policy {
        calls.push((
            "iam",
            "put_user_policy",
            json!({"UserName": name, "PolicyName": "p", "PolicyDocument": policy}),
        ));
    }
    calls.push(("iam", "create_access_key", json!({"UserName": name})));
    let results = botocore_calls(server, root, &calls);
    let key = &ok(&results, results.len() - 1)["AccessKey"];
    credentials(
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
        None,
    )
}

#[test]
fn assume_role_issues_sessions_limited_by_trust_identity_and_session_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let role = |name: &str| format!("arn:aws:iam::{account}:role/{name}");
    let account_root = json!({"AWS": format!("arn:aws:iam::{account}:root")});
    let dev = user_with_key(
        &server,
        &root,
        "dev",
        Some(allow("sts:AssumeRole", &format!("arn:aws:iam::{account}:role/app*"))),
    );
    let nobody = user_with_key(&server, &root, "nobody", None);
    let reader = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetUser"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/project": "blue"}}}]})
    .to_string();
    let setup = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "AssumeRolePolicyDocument": trust(account_root.clone(), None)}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "app", "PolicyName": "read", "PolicyDocument": reader}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "app-vendor", "AssumeRolePolicyDocument":
                    trust(account_root.clone(), Some(json!({"StringEquals": {"sts:ExternalId": "ticket-42"}})))}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "app-vendor", "PolicyName": "read", "PolicyDocument": reader}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "named", "AssumeRolePolicyDocument":
                    trust(json!({"AWS": format!("arn:aws:iam::{account}:user/nobody")}), None)}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "app-ec2", "AssumeRolePolicyDocument": trust(json!({"Service": "ec2.amazonaws.com"}), None)}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "chained", "AssumeRolePolicyDocument":
                    trust(json!({"AWS": role("app")}), None), "MaxSessionDuration": 7200}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "chained", "PolicyName": "read", "PolicyDocument": allow("iam:GetUser", "*")}),
            ),
        ],
    );
    for i in 0..setup.len() {
        ok(&setup, i);
    }

    let assumed = botocore_calls(
        &server,
        &dev,
        &[
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "s1", "Tags": [{"Key": "project", "Value": "blue"}], "TransitiveTagKeys": ["project"], "SourceIdentity": "dev-alice"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app-vendor"), "RoleSessionName": "s2"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app-vendor"), "RoleSessionName": "s2", "ExternalId": "ticket-42"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app-ec2"), "RoleSessionName": "s3"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("named"), "RoleSessionName": "s4"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app-missing"), "RoleSessionName": "s5"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "s6", "ExternalId": "x y"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "s7", "DurationSeconds": 7200}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "bad name!"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "narrow", "Policy": allow("iam:GetUser", "*")}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "widen", "Policy": allow("iam:*", "*")}),
            ),
        ],
    );
    let session = session_of(ok(&assumed, 0));
    assert!(session.access_key_id.starts_with("ASIA"));
    assert_eq!(
        ok(&assumed, 0)["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/app/s1")
    );
    assert_eq!(
        error(&assumed, 1),
        "AccessDenied",
        "the trust policy asks for the external id"
    );
    ok(&assumed, 2);
    assert_eq!(error(&assumed, 3), "AccessDenied", "the trust policy trusts only EC2");
    assert_eq!(error(&assumed, 4), "AccessDenied", "trusts nobody, not dev");
    assert_eq!(
        error(&assumed, 5),
        "AccessDenied",
        "a missing role looks like a refused one"
    );
    assert_eq!(error(&assumed, 6), "ValidationError");
    assert_eq!(error(&assumed, 7), "ValidationError", "the role's maximum is one hour");
    assert_eq!(error(&assumed, 8), "ValidationError");

    // A role trusting a user by name needs no identity policy of the user's.
    let named = botocore_calls(
        &server,
        &nobody,
        &[
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("named"), "RoleSessionName": "nn"}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("app"), "RoleSessionName": "nn"}),
            ),
        ],
    );
    ok(&named, 0);
    assert_eq!(
        error(&named, 1),
        "AccessDenied",
        "trusting the account delegates to the user's policies"
    );
    // The root user cannot assume roles, as in AWS.
    let by_root = botocore_calls(
        &server,
        &root,
        &[(
            "sts",
            "assume_role",
            json!({"RoleArn": role("app"), "RoleSessionName": "rr"}),
        )],
    );
    assert_eq!(error(&by_root, 0), "AccessDenied");

    // The session acts as the role, with its session tags.
    let used = botocore_calls(
        &server,
        &session,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "list_users", json!({})),
            ("iam", "list_roles", json!({})),
            ("iam", "create_user", json!({"UserName": "intruder"})),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("chained"), "RoleSessionName": "cc", "DurationSeconds": 7200}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role("chained"), "RoleSessionName": "cc"}),
            ),
        ],
    );
    let me = ok(&used, 0);
    assert_eq!(me["Arn"], format!("arn:aws:sts::{account}:assumed-role/app/s1"));
    assert!(me["UserId"].as_str().unwrap().starts_with("AROA"));
    assert!(me["UserId"].as_str().unwrap().ends_with(":s1"));
    assert_eq!(me["Account"], account);
    ok(&used, 1);
    ok(&used, 2);
    assert_eq!(error(&used, 3), "AccessDenied");
    assert_eq!(
        error(&used, 4),
        "ValidationError",
        "a chained session lasts at most an hour"
    );
    let chained = session_of(ok(&used, 5));
    let from_chain = botocore_calls(
        &server,
        &chained,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "get_user", json!({"UserName": "dev"})),
            ("iam", "list_users", json!({})),
        ],
    );
    assert_eq!(
        ok(&from_chain, 0)["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/chained/cc")
    );
    ok(&from_chain, 1);
    assert_eq!(error(&from_chain, 2), "AccessDenied");

    // Session policies narrow what the role grants, and never widen it.
    let narrow = session_of(ok(&assumed, 9));
    let widen = session_of(ok(&assumed, 10));
    let narrowed = botocore_calls(
        &server,
        &narrow,
        &[
            ("iam", "get_user", json!({"UserName": "dev"})),
            ("iam", "list_users", json!({})),
        ],
    );
    ok(&narrowed, 0);
    assert_eq!(error(&narrowed, 1), "AccessDenied");
    let widened = botocore_calls(
        &server,
        &widen,
        &[("iam", "create_user", json!({"UserName": "intruder"}))],
    );
    assert_eq!(error(&widened, 0), "AccessDenied");
    // Without the session tag, the tag-conditioned grant does not apply.
    let untagged = botocore_calls(
        &server,
        &session_of(ok(&assumed, 2)),
        &[("iam", "list_roles", json!({}))],
    );
    assert_eq!(error(&untagged, 0), "AccessDenied");

    // Tokens refused: another session's token, a damaged one, a long-term key with a token.
    let swapped = credentials(
        &session.access_key_id,
        &session.secret_access_key,
        narrow.session_token.as_deref(),
    );
    let mut damaged_token = session.session_token.clone().unwrap();
    let middle = damaged_token.len() / 2;
    let flipped = if &damaged_token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    damaged_token.replace_range(middle..=middle, flipped);
    let damaged = credentials(&session.access_key_id, &session.secret_access_key, Some(&damaged_token));
    let long_term = credentials(
        &dev.access_key_id,
        &dev.secret_access_key,
        session.session_token.as_deref(),
    );
    for (what, creds) in [("swapped", &swapped), ("damaged", &damaged), ("long-term", &long_term)] {
        let refused = botocore_calls(&server, creds, &[("sts", "get_caller_identity", json!({}))]);
        assert_eq!(error(&refused, 0), "InvalidClientTokenId", "{what}");
    }

    // The record: STS's event source, the session's identity on its own calls, no secret.
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"AssumeRole\"}, first: 50) { edges { node { eventSource errorCode requestParameters responseElements } } } }",
        json!({}),
    );
    let edges = records.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(edges.len() >= 12, "{edges:?}");
    assert!(edges.iter().all(|e| e["node"]["eventSource"] == "sts.amazonaws.com"));
    let granted = edges
        .iter()
        .find(|e| e["node"]["requestParameters"]["roleSessionName"] == "s1")
        .unwrap();
    assert_eq!(
        granted["node"]["responseElements"]["credentials"]["accessKeyId"],
        session.access_key_id.as_str()
    );
    let listed = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"ListUsers\"}, first: 50) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    let by_session = listed.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["cloudTrailRecord"]["userIdentity"].clone())
        .find(|identity| identity["type"] == "AssumedRole" && identity["arn"].as_str().unwrap().ends_with("/s1"))
        .unwrap();
    assert_eq!(by_session["arn"], format!("arn:aws:sts::{account}:assumed-role/app/s1"));
    assert_eq!(by_session["accessKeyId"], session.access_key_id.as_str());
    assert_eq!(by_session["sessionContext"]["sessionIssuer"]["arn"], role("app"));
    assert_eq!(by_session["sessionContext"]["sourceIdentity"], "dev-alice");
    server.terminate();
    let secrets = [
        session.secret_access_key.clone(),
        session.session_token.clone().unwrap(),
        chained.secret_access_key.clone(),
    ];
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a session secret",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_role_in_another_account_is_assumed_when_both_accounts_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let home = server.account_id();
    let created = gql(
        &server.address,
        &root,
        "mutation { createAccount(accountAlias: \"partner\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let partner = created.data()["createAccount"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = &created.data()["createAccount"]["rootAccessKey"];
    let partner_root = credentials(
        key["accessKeyId"].as_str().unwrap(),
        key["secretAccessKey"].as_str().unwrap(),
        None,
    );
    let role_arn = format!("arn:aws:iam::{partner}:role/auditor");
    let setup = botocore_calls(
        &server,
        &partner_root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "auditor", "AssumeRolePolicyDocument": trust(json!({"AWS": home.clone()}), None)}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "auditor", "PolicyName": "read", "PolicyDocument": allow("iam:ListUsers", "*")}),
            ),
        ],
    );
    ok(&setup, 0);
    ok(&setup, 1);
    let allowed = user_with_key(&server, &root, "dev", Some(allow("sts:AssumeRole", &role_arn)));
    let unallowed = user_with_key(&server, &root, "ops", None);
    let refused = botocore_calls(
        &server,
        &unallowed,
        &[(
            "sts",
            "assume_role",
            json!({"RoleArn": role_arn, "RoleSessionName": "xx"}),
        )],
    );
    assert_eq!(
        error(&refused, 0),
        "AccessDenied",
        "across accounts the caller's policies must allow too"
    );
    let assumed = botocore_calls(
        &server,
        &allowed,
        &[(
            "sts",
            "assume_role",
            json!({"RoleArn": role_arn, "RoleSessionName": "audit"}),
        )],
    );
    let session = session_of(ok(&assumed, 0));
    let used = botocore_calls(
        &server,
        &session,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "list_users", json!({})),
            ("iam", "list_roles", json!({})),
        ],
    );
    assert_eq!(ok(&used, 0)["Account"], partner);
    assert_eq!(
        ok(&used, 0)["Arn"],
        format!("arn:aws:sts::{partner}:assumed-role/auditor/audit")
    );
    assert_eq!(ok(&used, 1)["Users"], json!([]), "it lists the partner account's users");
    assert_eq!(error(&used, 2), "AccessDenied");

    // The same through GraphQL.
    let graphql = gql(
        &server.address,
        &allowed,
        "mutation($r: String!) { assumeRole(input: {roleArn: $r, roleSessionName: \"gql\"}) {
            credentials { accessKeyId secretAccessKey sessionToken expiration } assumedRoleUser { arn } } }",
        json!({"r": role_arn}),
    );
    let payload = &graphql.data()["assumeRole"];
    assert_eq!(
        payload["assumedRoleUser"]["arn"],
        format!("arn:aws:sts::{partner}:assumed-role/auditor/gql")
    );
    let via_graphql = credentials(
        payload["credentials"]["accessKeyId"].as_str().unwrap(),
        payload["credentials"]["secretAccessKey"].as_str().unwrap(),
        payload["credentials"]["sessionToken"].as_str(),
    );
    let who = gql(
        &server.address,
        &via_graphql,
        "{ users { edges { node { userName } } } }",
        json!({}),
    );
    assert_eq!(who.data()["users"]["edges"], json!([]));
    server.terminate();
}

#[test]
fn revoking_a_roles_sessions_refuses_those_issued_before_and_not_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    let dev = user_with_key(&server, &root, "dev", Some(allow("sts:AssumeRole", &role_arn)));
    let setup = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "AssumeRolePolicyDocument":
                    trust(json!({"AWS": format!("arn:aws:iam::{account}:root")}), None)}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "app", "PolicyName": "read", "PolicyDocument": allow("iam:ListUsers", "*")}),
            ),
        ],
    );
    ok(&setup, 0);
    let assume = || {
        let assumed = botocore_calls(
            &server,
            &dev,
            &[(
                "sts",
                "assume_role",
                json!({"RoleArn": role_arn, "RoleSessionName": "ss"}),
            )],
        );
        session_of(ok(&assumed, 0))
    };
    let before = assume();
    ok(
        &botocore_calls(&server, &before, &[("iam", "list_users", json!({}))]),
        0,
    );
    let revoked = gql(
        &server.address,
        &root,
        "mutation { revokeRoleSessions(roleName: \"app\") { role { inlinePolicies { policyName } } } }",
        json!({}),
    );
    let names = revoked.data()["revokeRoleSessions"]["role"]["inlinePolicies"].to_string();
    assert!(names.contains("AWSRevokeOlderSessions"), "{names}");
    let refused = botocore_calls(&server, &before, &[("iam", "list_users", json!({}))]);
    assert_eq!(error(&refused, 0), "AccessDenied");
    let after = assume();
    ok(&botocore_calls(&server, &after, &[("iam", "list_users", json!({}))]), 0);
    server.terminate();
}

#[test]
fn the_decision_api_decides_for_a_role_session_named_by_its_arn() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::reports/*",
        "Condition": {"StringEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{account}:role/ops/app"), "aws:PrincipalTag/team": "db"}}}]});
    let setup = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "Path": "/ops/", "Tags": [{"Key": "team", "Value": "db"}],
                    "AssumeRolePolicyDocument": trust(json!({"Service": "ec2.amazonaws.com"}), None)}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "app", "PolicyName": "read", "PolicyDocument": policy.to_string()}),
            ),
        ],
    );
    ok(&setup, 1);
    let decide = |principal: String, resource: &str| {
        let reply = gql(
            &server.address,
            &root,
            "query($p: String!, $r: String!) { authorize(input: {principalArn: $p, action: \"s3:GetObject\", resource: $r}) { decision } }",
            json!({"p": principal, "r": resource}),
        );
        reply.data()["authorize"]["decision"].as_str().unwrap().to_owned()
    };
    let session = format!("arn:aws:sts::{account}:assumed-role/app/i-0abc");
    assert_eq!(decide(session.clone(), "arn:aws:s3:::reports/q1"), "Allow");
    assert_eq!(decide(session, "arn:aws:s3:::payroll/q1"), "ImplicitDeny");
    let other_account = "arn:aws:sts::111122223333:assumed-role/app/i-0abc";
    let refused = gql(
        &server.address,
        &root,
        "query($p: String!) { authorize(input: {principalArn: $p, action: \"s3:GetObject\", resource: \"*\"}) { decision } }",
        json!({"p": other_account}),
    );
    assert!(refused.error_code().is_some(), "{}", refused.body);

    // A federated user named by its ARN holds what resource-based policies grant it by name,
    // through the decision API and AuthZEN alike; nothing else (its session is not in the ARN).
    let federated = format!("arn:aws:sts::{account}:federated-user/portal-bob");
    let bucket_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": federated}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"}]})
    .to_string();
    let ask = |path: &str, body: Value| {
        let body = body.to_string();
        let headers = support::signed_headers_for(&server.address, path, &root, &body, chrono::Utc::now());
        support::post_path(&server.address, path, &headers, &body)
    };
    let granted = ask(
        "/v1/authorize",
        json!({"principalArn": federated, "action": "s3:GetObject", "resource": "arn:aws:s3:::shared/a",
               "resourcePolicy": bucket_policy}),
    );
    assert_eq!(granted.body["decision"], "Allow", "{}", granted.body);
    let alone = ask(
        "/v1/authorize",
        json!({"principalArn": federated, "action": "s3:GetObject", "resource": "arn:aws:s3:::shared/a"}),
    );
    assert_eq!(alone.body["decision"], "ImplicitDeny", "{}", alone.body);
    let authzen = ask(
        "/access/v1/evaluation",
        json!({"subject": {"type": "identity", "id": federated}, "action": {"name": "s3:GetObject"},
               "resource": {"type": "object", "id": "arn:aws:s3:::shared/a", "properties": {"policy": bucket_policy}}}),
    );
    assert_eq!(authzen.body["decision"], true, "{}", authzen.body);
    server.terminate();
}

#[test]
fn get_session_token_gives_a_user_its_own_temporary_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "sts:AssumeRole"], "Resource": "*"}]})
    .to_string();
    let dev = user_with_key(&server, &root, "dev", Some(policy));
    let setup = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "MaxSessionDuration": 7200, "AssumeRolePolicyDocument":
                    trust(json!({"AWS": format!("arn:aws:iam::{account}:root")}), None)}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "app", "PolicyName": "read", "PolicyDocument": allow("iam:ListUsers", "*")}),
            ),
            ("sts", "get_session_token", json!({"DurationSeconds": 7200})),
        ],
    );
    ok(&setup, 1);
    assert_eq!(
        error(&setup, 2),
        "ValidationError",
        "the root user's sessions last at most an hour"
    );
    let issued = botocore_calls(
        &server,
        &dev,
        &[("sts", "get_session_token", json!({"DurationSeconds": 3600}))],
    );
    let session = session_of(ok(&issued, 0));
    assert!(session.access_key_id.starts_with("ASIA"));
    let used = botocore_calls(
        &server,
        &session,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "list_users", json!({})),
            ("sts", "get_session_token", json!({})),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role_arn, "RoleSessionName": "from-user-session", "DurationSeconds": 7200}),
            ),
        ],
    );
    let me = ok(&used, 0);
    assert_eq!(me["Arn"], format!("arn:aws:iam::{account}:user/dev"));
    assert!(me["UserId"].as_str().unwrap().starts_with("AIDA"));
    assert_eq!(error(&used, 1), "AccessDenied", "no IAM API without MFA, as in AWS");
    assert_eq!(error(&used, 2), "AccessDenied", "a session cannot get another");
    // Assuming a role from a user session is not role chaining: the role's own maximum holds.
    let role_session = session_of(ok(&used, 3));
    ok(
        &botocore_calls(&server, &role_session, &[("iam", "list_users", json!({}))]),
        0,
    );
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"ListUsers\"}, first: 10) { edges { node { errorCode cloudTrailRecord } } } }",
        json!({}),
    );
    let refused = records.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["errorCode"] == "AccessDenied")
        .unwrap()["node"]["cloudTrailRecord"]["userIdentity"]
        .clone();
    assert_eq!(refused["type"], "IAMUser");
    assert_eq!(refused["accessKeyId"], session.access_key_id.as_str());
    assert_eq!(refused["sessionContext"]["attributes"]["mfaAuthenticated"], "false");
    server.terminate();
}

#[test]
fn sessions_share_the_rate_of_the_principal_they_were_issued_to() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--throttle-per-key", "2"]);
    let root = server.root_credentials();
    let account = server.account_id();
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    let setup = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "dev"})),
            ("iam", "create_access_key", json!({"UserName": "dev"})),
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "AssumeRolePolicyDocument":
                    trust(json!({"AWS": format!("arn:aws:iam::{account}:user/dev")}), None)}),
            ),
        ],
    );
    let key = &ok(&setup, 1)["AccessKey"];
    let dev = credentials(
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
        None,
    );
    // Three sessions, minted a second apart so dev's own key stays within its rate.
    let mut sessions = Vec::new();
    for i in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let assumed = botocore_calls(
            &server,
            &dev,
            &[(
                "sts",
                "assume_role",
                json!({"RoleArn": role_arn, "RoleSessionName": format!("s{i}")}),
            )],
        );
        sessions.push(session_of(ok(&assumed, 0)));
    }
    // Together they have dev's burst (4 requests), not three bursts: nine requests at once.
    let throttled: usize = std::thread::scope(|scope| {
        let sent: Vec<_> = sessions
            .iter()
            .flat_map(|session| std::iter::repeat_n(session, 3))
            .map(|session| {
                let address = server.address.clone();
                scope.spawn(move || gql(&address, session, "{ callerIdentity { arn } }", json!({})).status)
            })
            .collect();
        sent.into_iter().map(|h| usize::from(h.join().unwrap() == 429)).sum()
    });
    assert!(throttled >= 3, "{throttled} of 9 session requests were throttled");
    server.terminate();
}

#[test]
fn get_access_key_info_names_the_keys_account_to_callers_allowed_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let reader = user_with_key(&server, &root, "reader", Some(allow("sts:GetAccessKeyInfo", "*")));
    let nobody = user_with_key(&server, &root, "nobody", None);
    let results = botocore_calls(
        &server,
        &reader,
        &[
            (
                "sts",
                "get_access_key_info",
                json!({"AccessKeyId": nobody.access_key_id}),
            ),
            ("sts", "get_access_key_info", json!({"AccessKeyId": root.access_key_id})),
            (
                "sts",
                "get_access_key_info",
                json!({"AccessKeyId": "AKIAAAAAAAAAAAAAAAAA"}),
            ),
            ("sts", "get_access_key_info", json!({"AccessKeyId": "not-a-key-id!!!!"})),
        ],
    );
    assert_eq!(ok(&results, 0)["Account"], account.as_str());
    assert_eq!(ok(&results, 1)["Account"], account.as_str());
    assert_eq!(error(&results, 2), "InvalidParameterValue");
    assert_eq!(error(&results, 3), "ValidationError");
    let results = botocore_calls(
        &server,
        &nobody,
        &[(
            "sts",
            "get_access_key_info",
            json!({"AccessKeyId": reader.access_key_id}),
        )],
    );
    assert_eq!(error(&results, 0), "AccessDenied");
}

/// A decision request (`POST /v1/authorize`) signed with `credentials`: its status and body.
fn authorize_as(server: &Server, credentials: &Credentials, principal: &str) -> (u16, Value) {
    let body = json!({"principalArn": principal, "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}).to_string();
    let headers = support::signed_headers_for(&server.address, "/v1/authorize", credentials, &body, chrono::Utc::now());
    let reply = support::post_path(&server.address, "/v1/authorize", &headers, &body);
    (reply.status, reply.body)
}

#[test]
fn federation_tokens_carry_the_users_permissions_narrowed_by_the_session_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let broker_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:GetFederationToken", "gatehouse:Authorize", "iam:ListUsers"], "Resource": "*"}]});
    let broker = user_with_key(&server, &root, "broker", Some(broker_policy.to_string()));
    let plain = user_with_key(&server, &root, "plain", None);
    let principal = format!("arn:aws:iam::{account}:user/plain");
    let results = botocore_calls(
        &server,
        &broker,
        &[
            (
                "sts",
                "get_federation_token",
                json!({"Name": "alice-portal", "Policy": allow("gatehouse:Authorize", "*"),
                       "Tags": [{"Key": "team", "Value": "web"}]}),
            ),
            ("sts", "get_federation_token", json!({"Name": "no-policy"})),
            (
                "sts",
                "get_federation_token",
                json!({"Name": "widened", "Policy": allow("*", "*")}),
            ),
            (
                "sts",
                "get_federation_token",
                json!({"Name": "bad name!", "Policy": allow("*", "*")}),
            ),
        ],
    );
    let issued = ok(&results, 0);
    assert_eq!(
        issued["FederatedUser"]["Arn"],
        format!("arn:aws:sts::{account}:federated-user/alice-portal")
    );
    assert_eq!(
        issued["FederatedUser"]["FederatedUserId"],
        format!("{account}:alice-portal")
    );
    assert_eq!(error(&results, 3), "ValidationError", "a name outside [\\w+=,.@-]");
    let federated = |i: usize| session_of(ok(&results, i));
    let (narrowed, empty, widened) = (federated(0), federated(1), federated(2));

    // Allowed by both the user's policy and the session policy: decisions may be asked.
    let (status, body) = authorize_as(&server, &narrowed, &principal);
    assert_eq!(status, 200, "{body}");
    // No session policy: no permissions at all.
    let (status, body) = authorize_as(&server, &empty, &principal);
    assert_eq!(status, 403, "{body}");
    // A session policy never widens what the user may do, and the IAM API is closed to it.
    let results = botocore_calls(
        &server,
        &widened,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "list_users", json!({})),
            ("sts", "get_session_token", json!({})),
        ],
    );
    assert_eq!(
        ok(&results, 0)["Arn"],
        format!("arn:aws:sts::{account}:federated-user/widened")
    );
    assert_eq!(error(&results, 1), "AccessDenied");
    assert_eq!(error(&results, 2), "AccessDenied");
    let (status, _) = authorize_as(&server, &widened, &principal);
    assert_eq!(status, 200, "the user's own permission, within the session's");

    // A user without sts:GetFederationToken gets nothing.
    let results = botocore_calls(
        &server,
        &plain,
        &[(
            "sts",
            "get_federation_token",
            json!({"Name": "sneaky", "Policy": allow("*", "*")}),
        )],
    );
    assert_eq!(error(&results, 0), "AccessDenied");

    // Its calls are recorded as a federated user's, issued by the broker.
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"GetCallerIdentity\"}, first: 5) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    let identity = &records.data()["auditEvents"]["edges"][0]["node"]["cloudTrailRecord"]["userIdentity"];
    assert_eq!(identity["type"], "FederatedUser");
    assert_eq!(
        identity["sessionContext"]["sessionIssuer"]["arn"],
        format!("arn:aws:iam::{account}:user/broker")
    );
}

#[test]
fn access_denied_carries_an_encoded_message_only_its_account_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let plain = user_with_key(&server, &root, "plain", None);
    let decoder = user_with_key(
        &server,
        &root,
        "decoder",
        Some(allow("sts:DecodeAuthorizationMessage", "*")),
    );
    let results = botocore_calls(&server, &plain, &[("iam", "create_user", json!({"UserName": "x"}))]);
    assert_eq!(error(&results, 0), "AccessDenied");
    let message = results[0]["error"]["message"].as_str().unwrap();
    let (_, encoded) = message
        .split_once("Encoded authorization failure message: ")
        .unwrap_or_else(|| panic!("no encoded message in {message}"));

    let results = botocore_calls(
        &server,
        &decoder,
        &[
            (
                "sts",
                "decode_authorization_message",
                json!({"EncodedMessage": encoded}),
            ),
            (
                "sts",
                "decode_authorization_message",
                json!({"EncodedMessage": "v1:bm90IGEgbWVzc2FnZSBhdCBhbGwgaGVyZQ=="}),
            ),
        ],
    );
    let decoded: Value = serde_json::from_str(ok(&results, 0)["DecodedMessage"].as_str().unwrap()).unwrap();
    assert_eq!(decoded["allowed"], false);
    assert_eq!(decoded["explicitDeny"], false);
    assert_eq!(decoded["context"]["action"], "iam:CreateUser");
    assert_eq!(decoded["context"]["resource"], format!("arn:aws:iam::{account}:user/x"));
    assert_eq!(error(&results, 1), "InvalidAuthorizationMessageException");
    // Decoding needs its own permission.
    let results = botocore_calls(
        &server,
        &plain,
        &[(
            "sts",
            "decode_authorization_message",
            json!({"EncodedMessage": encoded}),
        )],
    );
    assert_eq!(error(&results, 0), "AccessDenied");
    // Another account cannot read this account's refusals.
    let created = gql(
        &server.address,
        &root,
        "mutation { createAccount(accountAlias: \"other\") { rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let key = &created.data()["createAccount"]["rootAccessKey"];
    let other_root = credentials(
        key["accessKeyId"].as_str().unwrap(),
        key["secretAccessKey"].as_str().unwrap(),
        None,
    );
    let results = botocore_calls(
        &server,
        &other_root,
        &[(
            "sts",
            "decode_authorization_message",
            json!({"EncodedMessage": encoded}),
        )],
    );
    assert_eq!(error(&results, 0), "InvalidAuthorizationMessageException");
    // The record keeps the refusal's words, never the encoded detail.
    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"CreateUser\"}, first: 5) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    let record = &records.data()["auditEvents"]["edges"][0]["node"]["cloudTrailRecord"];
    assert_eq!(record["errorCode"], "AccessDenied");
    assert!(
        !record["errorMessage"].as_str().unwrap().contains("Encoded"),
        "{record}"
    );
}
