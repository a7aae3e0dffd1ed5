//! End-to-end tests of `iamd` through its real HTTP interface: a real process, real SQLite, real
//! SigV4 signatures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, post, signed_headers, Server};

const CREATE_USER: &str = "mutation($n: String!, $p: String) { createUser(input: {userName: $n, path: $p}) { user { arn userId userName path } sequence } }";

fn credentials_of(data: &Value) -> Credentials {
    Credentials {
        access_key_id: data["accessKeyId"].as_str().unwrap().to_string(),
        secret_access_key: data["secretAccessKey"].as_str().unwrap().to_string(),
        session_token: None,
    }
}

#[test]
fn entity_lifecycle_and_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let addr = server.address.clone();
    let run = |query: &str, vars: Value| gql(&addr, &root, query, vars);

    let me = run("{ callerIdentity { account arn } }", json!({}));
    let account = me.data()["callerIdentity"]["account"].as_str().unwrap().to_string();
    assert_eq!(
        me.data()["callerIdentity"]["arn"],
        format!("arn:aws:iam::{account}:root")
    );

    let created = run(CREATE_USER, json!({"n": "alice", "p": "/engineering/"}));
    let user = &created.data()["createUser"]["user"];
    assert_eq!(user["arn"], format!("arn:aws:iam::{account}:user/engineering/alice"));
    assert!(user["userId"].as_str().unwrap().starts_with("AIDA"));

    // EntityAlreadyExists, case-insensitively; ValidationError for a bad name.
    assert_eq!(
        run(CREATE_USER, json!({"n": "ALICE"})).error_code().as_deref(),
        Some("EntityAlreadyExists")
    );
    assert_eq!(
        run(CREATE_USER, json!({"n": "bad name!"})).error_code().as_deref(),
        Some("ValidationError")
    );
    assert_eq!(
        run("{ user(userName: \"nobody\") { arn } }", json!({}))
            .error_code()
            .as_deref(),
        Some("NoSuchEntity")
    );

    run(
        "mutation { createGroup(input: {groupName: \"devs\"}) { group { arn } } }",
        json!({}),
    )
    .data();
    run("mutation { addUserToGroup(input: {groupName: \"devs\", userName: \"alice\"}) { group { users { nodes { userName } } } } }", json!({})).data();

    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let policy = run(
        "mutation($d: String!) { createPolicy(input: {policyName: \"read\", policyDocument: $d}) { policy { arn defaultVersionId } } }",
        json!({"d": document}),
    );
    let policy_arn = policy.data()["createPolicy"]["policy"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(policy.data()["createPolicy"]["policy"]["defaultVersionId"], "v1");
    let malformed = run(
        "mutation($d: String!) { createPolicy(input: {policyName: \"bad\", policyDocument: $d}) { policy { arn } } }",
        json!({"d": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Permit\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
    );
    assert_eq!(malformed.error_code().as_deref(), Some("MalformedPolicyDocument"));
    assert!(malformed.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Permit"));

    let attached = run(
        "mutation($a: String!) { attachUserPolicy(input: {userName: \"alice\", policyArn: $a}) { user { attachedPolicies { policyArn } groups { nodes { groupName } } } } }",
        json!({"a": policy_arn}),
    );
    assert_eq!(
        attached.data()["attachUserPolicy"]["user"]["attachedPolicies"][0]["policyArn"],
        policy_arn.as_str()
    );
    assert_eq!(
        attached.data()["attachUserPolicy"]["user"]["groups"]["nodes"][0]["groupName"],
        "devs"
    );
    run(
        "mutation($d: String!) { putUserPolicy(input: {userName: \"alice\", policyName: \"inline\", policyDocument: $d}) { user { inlinePolicies { policyName } } } }",
        json!({"d": document}),
    )
    .data();
    run("mutation { tagUser(input: {userName: \"alice\", tags: [{key: \"team\", value: \"db\"}]}) { user { tags { key value } } } }", json!({})).data();

    // Access keys: two at most; the secret is shown once.
    let key = run(
        "mutation { createAccessKey(userName: \"alice\") { accessKey { accessKeyId secretAccessKey status } } }",
        json!({}),
    );
    assert_eq!(
        key.data()["createAccessKey"]["accessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    run(
        "mutation { createAccessKey(userName: \"alice\") { accessKey { accessKeyId } } }",
        json!({}),
    )
    .data();
    let third = run(
        "mutation { createAccessKey(userName: \"alice\") { accessKey { accessKeyId } } }",
        json!({}),
    );
    assert_eq!(third.error_code().as_deref(), Some("LimitExceeded"));

    // A user still in a group, with policies and keys, cannot be deleted.
    let conflict = run("mutation { deleteUser(userName: \"alice\") { sequence } }", json!({}));
    assert_eq!(conflict.error_code().as_deref(), Some("DeleteConflict"));

    // Lists with path prefixes and Relay pagination.
    for name in ["bob", "carol", "dave"] {
        run(CREATE_USER, json!({"n": name, "p": "/ops/"})).data();
    }
    let page = run("{ users(pathPrefix: \"/ops/\", first: 2) { edges { cursor node { userName } } pageInfo { hasNextPage endCursor } } }", json!({}));
    let users = &page.data()["users"];
    assert_eq!(users["edges"].as_array().unwrap().len(), 2);
    assert_eq!(users["pageInfo"]["hasNextPage"], true);
    let after = users["pageInfo"]["endCursor"].as_str().unwrap();
    let rest = run(
        "query($a: String) { users(pathPrefix: \"/ops/\", after: $a) { edges { node { userName } } } }",
        json!({"a": after}),
    );
    assert_eq!(rest.data()["users"]["edges"][0]["node"]["userName"], "dave");

    let details = run(
        "{ accountAuthorizationDetails { userDetailList { userName } policies { arn } } }",
        json!({}),
    );
    assert_eq!(
        details.data()["accountAuthorizationDetails"]["userDetailList"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Paged and filtered as AWS pages it: one marker across users, groups, roles and policies.
    let page =
        "query($a: String) { accountAuthorizationDetails(filter: [USER, LOCAL_MANAGED_POLICY], first: 3, after: $a) {
        userDetailList { userName } groupDetailList { groupName } policies { policyName } isTruncated marker } }";
    let first = run(page, json!({"a": null}));
    let first = &first.data()["accountAuthorizationDetails"];
    assert_eq!(first["userDetailList"].as_array().unwrap().len(), 3);
    assert_eq!(first["groupDetailList"], json!([]));
    assert_eq!(first["isTruncated"], true);
    let mut seen = 3;
    let mut marker = first["marker"].as_str().unwrap().to_owned();
    loop {
        let next = run(page, json!({"a": marker}));
        let next = &next.data()["accountAuthorizationDetails"];
        seen += next["userDetailList"].as_array().unwrap().len() + next["policies"].as_array().unwrap().len();
        assert_eq!(next["groupDetailList"], json!([]));
        match next["marker"].as_str() {
            Some(more) => marker = more.to_owned(),
            None => {
                assert_eq!(next["isTruncated"], false);
                break;
            }
        }
    }
    let policies = run(
        "{ policies(scope: LOCAL) { edges { node { policyName } } } }",
        json!({}),
    );
    let local = policies.data()["policies"]["edges"].as_array().unwrap().len();
    assert_eq!(seen, 4 + local);
    let bad = run(page, json!({"a": "not-a-marker"}));
    assert_eq!(bad.error_code().as_deref(), Some("InvalidInput"));
}

#[test]
fn authentication_refusals_use_aws_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let body = json!({"query": "{ callerIdentity { arn } }"}).to_string();

    let unsigned = post(
        &server.address,
        &[("content-type".into(), "application/json".into())],
        &body,
    );
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.error_code().as_deref(), Some("MissingAuthenticationToken"));

    let wrong_secret = Credentials {
        secret_access_key: "x".repeat(40),
        ..root.clone()
    };
    let reply = post(
        &server.address,
        &signed_headers(&server.address, &wrong_secret, &body, chrono::Utc::now()),
        &body,
    );
    assert_eq!(reply.error_code().as_deref(), Some("SignatureDoesNotMatch"));

    let unknown = Credentials {
        access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
        ..root.clone()
    };
    let reply = post(
        &server.address,
        &signed_headers(&server.address, &unknown, &body, chrono::Utc::now()),
        &body,
    );
    assert_eq!(reply.error_code().as_deref(), Some("InvalidClientTokenId"));

    // A signature from ten minutes ago cannot be replayed.
    let stale = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    let reply = post(
        &server.address,
        &signed_headers(&server.address, &root, &body, stale),
        &body,
    );
    assert_eq!(reply.error_code().as_deref(), Some("RequestExpired"));

    // A signed body that was changed in transit is refused.
    let headers = signed_headers(&server.address, &root, &body, chrono::Utc::now());
    let tampered = body.replace("arn", "arn ");
    assert_eq!(
        post(&server.address, &headers, &tampered).error_code().as_deref(),
        Some("SignatureDoesNotMatch")
    );

    let ok = post(&server.address, &headers, &body);
    assert_eq!(ok.status, 200);
    assert!(ok.data()["callerIdentity"]["arn"].as_str().unwrap().ends_with(":root"));
}

#[test]
fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root_a = server.root_credentials();
    let addr = server.address.clone();
    gql(&addr, &root_a, CREATE_USER, json!({"n": "shared-name"})).data();
    gql(&addr, &root_a, CREATE_USER, json!({"n": "only-in-a"})).data();

    let created = gql(&addr, &root_a, "mutation { createAccount(accountAlias: \"tenant-b\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }", json!({}));
    let account_b = created.data()["createAccount"]["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    let root_b = credentials_of(&created.data()["createAccount"]["rootAccessKey"]);

    // B sees nothing of A, and may reuse A's names.
    let users_b = gql(&addr, &root_b, "{ users { edges { node { userName } } } }", json!({}));
    assert_eq!(users_b.data()["users"]["edges"], json!([]));
    let lookup = gql(&addr, &root_b, "{ user(userName: \"only-in-a\") { arn } }", json!({}));
    assert_eq!(lookup.error_code().as_deref(), Some("NoSuchEntity"));
    let same_name = gql(&addr, &root_b, CREATE_USER, json!({"n": "shared-name"}));
    assert_eq!(
        same_name.data()["createUser"]["user"]["arn"],
        format!("arn:aws:iam::{account_b}:user/shared-name")
    );
    // A still has exactly its own two users; B cannot create accounts.
    let users_a = gql(&addr, &root_a, "{ users { edges { node { arn } } } }", json!({}));
    assert_eq!(users_a.data()["users"]["edges"].as_array().unwrap().len(), 2);
    assert!(!users_a.body.to_string().contains(&account_b));
    let refused = gql(&addr, &root_b, "mutation { createAccount { accountId } }", json!({}));
    assert_eq!(refused.error_code().as_deref(), Some("AccessDenied"));
}

#[test]
fn admin_calls_are_authorized_by_the_callers_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let addr = server.address.clone();
    gql(&addr, &root, CREATE_USER, json!({"n": "reader"})).data();
    gql(&addr, &root, "mutation { attachUserPolicy(input: {userName: \"reader\", policyArn: \"arn:aws:iam::aws:policy/IAMReadOnlyAccess\"}) { sequence } }", json!({})).data();
    let key = gql(
        &addr,
        &root,
        "mutation { createAccessKey(userName: \"reader\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let reader = credentials_of(&key.data()["createAccessKey"]["accessKey"]);

    let listed = gql(&addr, &reader, "{ users { edges { node { userName } } } }", json!({}));
    assert_eq!(listed.data()["users"]["edges"][0]["node"]["userName"], "reader");
    let denied = gql(&addr, &reader, CREATE_USER, json!({"n": "mallory"}));
    assert_eq!(denied.error_code().as_deref(), Some("AccessDenied"));
    let message = denied.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("iam:CreateUser") && message.contains("user/mallory"),
        "{message}"
    );

    // An inactive key authenticates nothing.
    let key_id = reader.access_key_id.clone();
    gql(&addr, &root, "mutation($k: String!) { updateAccessKey(input: {userName: \"reader\", accessKeyId: $k, status: Inactive}) { accessKey { status } } }", json!({"k": key_id})).data();
    let refused = gql(&addr, &reader, "{ callerIdentity { arn } }", json!({}));
    assert_eq!(refused.error_code().as_deref(), Some("InvalidClientTokenId"));
    // The gateway keeps the key's derived signing key: status changes still apply at once.
    gql(&addr, &root, "mutation($k: String!) { updateAccessKey(input: {userName: \"reader\", accessKeyId: $k, status: Active}) { accessKey { status } } }", json!({"k": key_id})).data();
    let again = gql(&addr, &reader, "{ callerIdentity { arn } }", json!({}));
    assert!(again.data()["callerIdentity"]["arn"]
        .as_str()
        .unwrap()
        .ends_with(":user/reader"));
    gql(
        &addr,
        &root,
        "mutation($k: String!) { deleteAccessKey(input: {userName: \"reader\", accessKeyId: $k}) { sequence } }",
        json!({"k": key_id}),
    )
    .data();
    let deleted = gql(&addr, &reader, "{ callerIdentity { arn } }", json!({}));
    assert_eq!(deleted.error_code().as_deref(), Some("InvalidClientTokenId"));
}

#[test]
fn concurrent_creates_of_one_name_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (addr, root, outcomes) = (server.address.clone(), root.clone(), outcomes.clone());
            std::thread::spawn(move || {
                let reply = gql(&addr, &root, CREATE_USER, json!({"n": "contested"}));
                outcomes
                    .lock()
                    .unwrap()
                    .push(reply.error_code().unwrap_or_else(|| "ok".into()));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes.iter().filter(|o| *o == "ok").count(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| o == "ok" || o == "EntityAlreadyExists"),
        "{outcomes:?}"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let addr = server.address.clone();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (addr, root, acknowledged) = (addr.clone(), root.clone(), acknowledged.clone());
        std::thread::spawn(move || {
            for i in 0.. {
                let body = json!({"query": CREATE_USER, "variables": {"n": format!("user-{i}")}}).to_string();
                let headers = support::signed_headers(&addr, &root, &body, chrono::Utc::now());
                let Ok(reply) = std::panic::catch_unwind(|| post(&addr, &headers, &body)) else {
                    break;
                };
                if reply.error_code().is_none() && reply.status == 200 {
                    acknowledged.lock().unwrap().push(format!("user-{i}"));
                }
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 40 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill9();
    let _ = writer.join();
    let acknowledged = acknowledged.lock().unwrap().clone();

    let server = Server::start(dir.path());
    let listed = gql(
        &server.address,
        &root,
        "{ users(first: 1000) { edges { node { userName } } } }",
        json!({}),
    );
    let names: Vec<String> = listed.data()["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["userName"].as_str().unwrap().to_string())
        .collect();
    for name in &acknowledged {
        assert!(names.contains(name), "acknowledged {name} is missing after kill -9");
    }
    // A graceful stop and restart keeps everything too.
    server.terminate();
    let server = Server::start(dir.path());
    let again = gql(
        &server.address,
        &root,
        "{ users(first: 1000) { edges { node { userName } } } }",
        json!({}),
    );
    assert_eq!(again.data()["users"]["edges"].as_array().unwrap().len(), names.len());
}
