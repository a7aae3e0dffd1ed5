//! Compliance through GraphQL, `iamctl` and the decision API of a real `iamd`: reads of the past
//! (`asOf`), an audited decision replayed at `RECORDED` and `NOW`, the whole history replayed by
//! `auditReplayCheck` and `iamctl audit verify-replay`, and a change previewed against the
//! audited decisions before it is made.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{access_key, gql, iamctl_binary, post_path, signed_headers_for, Reply, Server};

const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Reports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;

fn ok(reply: Reply) -> Value {
    assert!(reply.error_code().is_none(), "{}", reply.body);
    reply.data().clone()
}

fn decide(server: &Server, root: &Credentials, principal: &str, resource: &str) -> Value {
    let body = json!({"principalArn": principal, "action": "s3:GetObject", "resource": resource}).to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", root, &body, chrono::Utc::now());
    let reply = post_path(&server.address, "/v1/authorize", &headers, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[test]
fn the_past_is_readable_replayable_and_a_change_is_previewed_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let alice = format!("arn:aws:iam::{account}:user/alice");
    let policy_arn = format!("arn:aws:iam::{account}:policy/reports");

    let made = ok(gql(
        &server.address,
        &root,
        "mutation($d: String!) {
            createUser(input: {userName: \"alice\"}) { sequence }
            createPolicy(input: {policyName: \"reports\", policyDocument: $d}) { sequence }
         }",
        json!({"d": READ_REPORTS}),
    ));
    let before_attach = made["createPolicy"]["sequence"].as_u64().unwrap();
    let attached = ok(gql(
        &server.address,
        &root,
        "mutation($p: String!) { attachUserPolicy(input: {userName: \"alice\", policyArn: $p}) { sequence } }",
        json!({"p": policy_arn}),
    ));
    let with_policy = attached["attachUserPolicy"]["sequence"].as_u64().unwrap();
    let allowed = decide(&server, &root, &alice, "arn:aws:s3:::reports/march.csv");
    assert_eq!(allowed["decision"], "Allow", "{allowed}");
    ok(gql(
        &server.address,
        &root,
        "mutation($p: String!) { detachUserPolicy(input: {userName: \"alice\", policyArn: $p}) { sequence } }",
        json!({"p": policy_arn}),
    ));
    let denied = decide(&server, &root, &alice, "arn:aws:s3:::reports/april.csv");
    assert_eq!(denied["decision"], "ImplicitDeny", "{denied}");

    // asOf: alice had the policy then, not now; the policy existed before the attachment.
    let past = ok(gql(
        &server.address,
        &root,
        "query($then: Int!, $before: Int!) {
            then: user(userName: \"alice\", asOf: {sequence: $then}) { attachedPolicies { policyName } }
            now: user(userName: \"alice\") { attachedPolicies { policyName } }
            before: users(asOf: {sequence: $before}) { edges { node { userName } } }
         }",
        json!({"then": with_policy, "before": before_attach}),
    ));
    assert_eq!(past["then"]["attachedPolicies"][0]["policyName"], "reports", "{past}");
    assert_eq!(past["now"]["attachedPolicies"], json!([]), "{past}");
    assert_eq!(past["before"]["edges"][0]["node"]["userName"], "alice");
    let future = gql(
        &server.address,
        &root,
        "query($t: DateTime!) { user(userName: \"alice\", asOf: {time: $t}) { userName } }",
        json!({"t": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    assert_eq!(future.error_code().as_deref(), Some("InvalidInput"), "{}", future.body);
    let before_existence = gql(
        &server.address,
        &root,
        "query { users(asOf: {time: \"2001-01-01T00:00:00Z\"}) { edges { node { userName } } } }",
        json!({}),
    );
    assert_eq!(
        before_existence.error_code().as_deref(),
        Some("NoSuchEntity"),
        "{}",
        before_existence.body
    );

    // The allowed decision replayed: at RECORDED it is exactly its record; NOW it is denied.
    let replayed = ok(gql(
        &server.address,
        &root,
        "query($id: String!) { auditEvent(eventID: $id) {
            eventName
            recorded: replay { decision recordedDecision matches accountSequence matchedStatements { sourcePolicyId sid } }
            now: replay(at: NOW) { decision matches statementsRemoved }
         } }",
        json!({"id": allowed["eventID"]}),
    ));
    let event = &replayed["auditEvent"];
    assert_eq!(event["recorded"]["decision"], "Allow", "{event}");
    assert_eq!(event["recorded"]["matches"], true);
    assert_eq!(event["recorded"]["accountSequence"], allowed["sequence"]);
    assert_eq!(event["recorded"]["matchedStatements"][0]["sid"], "Reports");
    assert_eq!(event["now"]["decision"], "ImplicitDeny", "{event}");
    assert_eq!(event["now"]["matches"], false);
    assert_eq!(event["now"]["statementsRemoved"][0]["sid"], "Reports");

    // A management call is not a decision.
    let calls = ok(gql(
        &server.address,
        &root,
        "query { auditEvents(filter: {eventName: \"CreateUser\"}) { edges { node { eventID } } } }",
        json!({}),
    ));
    let create_user = calls["auditEvents"]["edges"][0]["node"]["eventID"].clone();
    let not_a_decision = gql(
        &server.address,
        &root,
        "query($id: String!) { auditEvent(eventID: $id) { replay { decision } } }",
        json!({"id": create_user}),
    );
    assert_eq!(not_a_decision.error_code().as_deref(), Some("InvalidInput"));

    // The whole history replays to itself.
    let check = ok(gql(
        &server.address,
        &root,
        "query { auditReplayCheck { checked matched inexact mismatches { eventID } nextCursor } }",
        json!({}),
    ));
    assert_eq!(check["auditReplayCheck"]["checked"], 2, "{check}");
    assert_eq!(check["auditReplayCheck"]["matched"], 2, "{check}");
    assert_eq!(check["auditReplayCheck"]["mismatches"], json!([]));

    // Previewing the re-attachment: the denied decision would be allowed; nothing is applied.
    let preview = ok(gql(
        &server.address,
        &root,
        "query($p: String!) { previewChange(changes: [{attachUserPolicy: {userName: \"alice\", policyArn: $p}}]) {
            decisions distinctRequests allowToDeny denyToAllow
            groups { principalArn action resource flip count exampleEventIDs }
         } }",
        json!({"p": policy_arn}),
    ));
    let preview = &preview["previewChange"];
    assert_eq!(preview["decisions"], 2, "{preview}");
    assert_eq!(
        (preview["denyToAllow"].as_u64(), preview["allowToDeny"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(preview["groups"].as_array().unwrap().len(), 2);
    assert!(preview["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["flip"] == "DENY_TO_ALLOW" && g["principalArn"] == alice.as_str()));
    let still = ok(gql(
        &server.address,
        &root,
        "query { user(userName: \"alice\") { attachedPolicies { policyName } } }",
        json!({}),
    ));
    assert_eq!(still["user"]["attachedPolicies"], json!([]));
    let refused = gql(
        &server.address,
        &root,
        "query { previewChange(changes: [{detachUserPolicy: {userName: \"nobody\", policyArn: \"arn:aws:iam::aws:policy/ReadOnlyAccess\"}}]) { decisions } }",
        json!({}),
    );
    assert_eq!(
        refused.error_code().as_deref(),
        Some("NoSuchEntity"),
        "{}",
        refused.body
    );

    // A principal without the history's permissions cannot replay or preview.
    let alice_key = access_key(&server.address, &root, "alice");
    for query in [
        "query { auditReplayCheck { checked } }",
        "query { previewChange(changes: [{addUserToGroup: {groupName: \"g\", userName: \"alice\"}}]) { decisions } }",
    ] {
        let denied = gql(&server.address, &alice_key, query, json!({}));
        assert_eq!(denied.error_code().as_deref(), Some("AccessDenied"), "{}", denied.body);
    }

    // `iamctl audit verify-replay` over the same history, after a crash and restart: the
    // history is rebuilt from the log and still replays to every record.
    server.kill9();
    let server = Server::start(dir.path());
    let output = std::process::Command::new(iamctl_binary())
        .args([
            "audit",
            "verify-replay",
            "--endpoint",
            &format!("http://{}", server.address),
        ])
        .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["checked"], 2, "{report}");
    assert_eq!(report["matched"], 2, "{report}");
    assert_eq!(report["mismatches"], json!([]));
    let past = ok(gql(
        &server.address,
        &root,
        "query($then: Int!) { user(userName: \"alice\", asOf: {sequence: $then}) { attachedPolicies { policyName } } }",
        json!({"then": with_policy}),
    ));
    assert_eq!(past["user"]["attachedPolicies"][0]["policyName"], "reports");
}

#[test]
fn an_organization_is_readable_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let created = ok(gql(
        &server.address,
        &root,
        "mutation { createOrganization { orgSequence } }",
        json!({}),
    ));
    let first = created["createOrganization"]["orgSequence"].as_u64().unwrap();
    let roots = ok(gql(
        &server.address,
        &root,
        "query { organizationRoots { items { id } } }",
        json!({}),
    ));
    let root_id = roots["organizationRoots"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(gql(
        &server.address,
        &root,
        "mutation($r: String!) { createOrganizationalUnit(parentId: $r, name: \"payroll\") { orgSequence } }",
        json!({"r": root_id}),
    ));
    let units = ok(gql(
        &server.address,
        &root,
        "query($r: String!, $then: Int!) {
            now: organizationalUnitsForParent(parentId: $r) { items { name } }
            then: organizationalUnitsForParent(parentId: $r, asOf: {sequence: $then}) { items { name } }
         }",
        json!({"r": root_id, "then": first}),
    ));
    assert_eq!(units["now"]["items"][0]["name"], "payroll", "{units}");
    assert_eq!(units["then"]["items"], json!([]), "{units}");
}

#[test]
fn last_accessed_and_unused_statements_come_from_the_decision_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let bob = format!("arn:aws:iam::{account}:user/bob");
    let two_statements = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Reports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},
        {"Sid":"Machines","Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
    ok(gql(
        &server.address,
        &root,
        "mutation($d: String!) { createUser(input: {userName: \"bob\"}) { sequence }
            putUserPolicy(input: {userName: \"bob\", policyName: \"work\", policyDocument: $d}) { sequence } }",
        json!({"d": two_statements}),
    ));
    let first = decide(&server, &root, &bob, "arn:aws:s3:::reports/1");
    let last = decide(&server, &root, &bob, "arn:aws:s3:::reports/2");
    assert_eq!(
        (first["decision"].as_str(), last["decision"].as_str()),
        (Some("Allow"), Some("Allow"))
    );
    let elsewhere = decide(&server, &root, &bob, "arn:aws:s3:::payroll/1");
    assert_eq!(elsewhere["decision"], "ImplicitDeny");

    let usage = ok(gql(
        &server.address,
        &root,
        "query($p: String!) {
            lastAccessed(principalArn: $p) { service eventID actions { action allowedCount eventID } }
            unusedPermissions(principalArn: $p) { decisions statements unused { policyId statementIndex sid actions } }
         }",
        json!({"p": bob}),
    ));
    let services = usage["lastAccessed"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{usage}");
    assert_eq!(services[0]["service"], "s3");
    assert_eq!(services[0]["eventID"], last["eventID"], "the newest allowed decision");
    assert_eq!(services[0]["actions"][0]["action"], "s3:GetObject");
    assert_eq!(services[0]["actions"][0]["allowedCount"], 2);
    let unused = &usage["unusedPermissions"];
    assert_eq!(
        (unused["decisions"].as_u64(), unused["statements"].as_u64()),
        (Some(2), Some(2)),
        "{unused}"
    );
    assert_eq!(unused["unused"].as_array().unwrap().len(), 1, "{unused}");
    assert_eq!(unused["unused"][0]["sid"], "Machines");
    assert_eq!(unused["unused"][0]["statementIndex"], 1);
    assert_eq!(unused["unused"][0]["actions"], json!(["ec2:*"]));

    // Not for a principal of another account, nor for a caller without the permission.
    let foreign = gql(
        &server.address,
        &root,
        "query { unusedPermissions(principalArn: \"arn:aws:iam::999999999999:user/bob\") { statements } }",
        json!({}),
    );
    assert_eq!(
        foreign.error_code().as_deref(),
        Some("NoSuchEntity"),
        "{}",
        foreign.body
    );
    let bob_key = access_key(&server.address, &root, "bob");
    let denied = gql(
        &server.address,
        &bob_key,
        "query($p: String!) { lastAccessed(principalArn: $p) { service } }",
        json!({"p": bob}),
    );
    assert_eq!(denied.error_code().as_deref(), Some("AccessDenied"), "{}", denied.body);
}

fn iamctl(server: &Server, root: &Credentials, home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(iamctl_binary())
        .args(args)
        .args(["--endpoint", &format!("http://{}", server.address)])
        .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
        .env("AWS_CONFIG_FILE", home.join("none"))
        .output()
        .unwrap()
}

/// Every record of the gzip CloudTrail files under `dir`, by file.
fn trail_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<Value>)> {
    use std::io::Read;
    let mut found = Vec::new();
    let mut pending = vec![dir.join("AWSLogs")];
    while let Some(at) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().contains("/CloudTrail/") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                let file: Value = serde_json::from_str(&text).unwrap();
                found.push((path, file["Records"].as_array().unwrap().clone()));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn the_history_exports_in_cloudtrails_layout_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let alice = format!("arn:aws:iam::{account}:user/alice");
    ok(gql(
        &server.address,
        &root,
        "mutation { createUser(input: {userName: \"alice\"}) { sequence } }",
        json!({}),
    ));
    decide(&server, &root, &alice, "arn:aws:s3:::reports/1");
    let out = dir.path().join("trail");
    let out_arg = out.to_string_lossy().to_string();

    // No state and no --from: the caller's mistake.
    let refused = iamctl(
        &server,
        &root,
        dir.path(),
        &["audit", "export-trail", "--dir", &out_arg],
    );
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let from = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let first = iamctl(
        &server,
        &root,
        dir.path(),
        &[
            "audit",
            "export-trail",
            "--dir",
            &out_arg,
            "--from",
            &from,
            "--through-now",
        ],
    );
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!((3..=4).contains(&summary["hours"].as_u64().unwrap()), "{summary}");
    let files = trail_files(&out);
    assert!(!files.is_empty());
    let records: Vec<&Value> = files.iter().flat_map(|(_, r)| r).collect();
    assert_eq!(records.len() as u64, summary["records"].as_u64().unwrap());
    let names: Vec<&str> = records.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"CreateUser") && names.contains(&"Authorize"),
        "{names:?}"
    );
    for (path, records) in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with(&format!("{account}_CloudTrail_us-east-1_")) && name.ends_with("_gatehouse.json.gz"),
            "{name}"
        );
        assert!(path
            .to_string_lossy()
            .contains(&format!("AWSLogs/{account}/CloudTrail/us-east-1/")));
        // Oldest first within a file, as CloudTrail delivers them.
        let times: Vec<&str> = records.iter().map(|r| r["eventTime"].as_str().unwrap()).collect();
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert_eq!(times, sorted);
    }

    // The next run resumes: the ended hours are not fetched again; the current hour is written
    // again, whole, with the records made since.
    decide(&server, &root, &alice, "arn:aws:s3:::reports/2");
    let second = iamctl(
        &server,
        &root,
        dir.path(),
        &["audit", "export-trail", "--dir", &out_arg, "--through-now"],
    );
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let summary: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert!(summary["hours"].as_u64().unwrap() <= 2, "{summary}");
    let records: Vec<Value> = trail_files(&out).into_iter().flat_map(|(_, r)| r).collect();
    let decisions = records.iter().filter(|r| r["eventName"] == "Authorize").count();
    assert_eq!(decisions, 2, "each record once");
    let ids: std::collections::BTreeSet<&str> = records.iter().map(|r| r["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), records.len(), "no record twice");
}

#[test]
fn a_permission_diff_names_what_changed_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let carol = format!("arn:aws:iam::{account}:user/carol");
    let before = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Reports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},
        {"Sid":"Machines","Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
    let after = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Reports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},
        {"Sid":"Queue","Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
    let put = |document: &str| {
        ok(gql(
            &server.address,
            &root,
            "mutation($d: String!) { putUserPolicy(input: {userName: \"carol\", policyName: \"work\", policyDocument: $d}) { sequence } }",
            json!({"d": document}),
        ))["putUserPolicy"]["sequence"]
            .as_u64()
            .unwrap()
    };
    ok(gql(
        &server.address,
        &root,
        "mutation { createUser(input: {userName: \"carol\"}) { sequence } }",
        json!({}),
    ));
    let first = put(before);
    // Traffic names an action the policy only covers by a wildcard.
    let body = json!({"principalArn": carol, "action": "ec2:RunInstances", "resource": "*"}).to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &body, chrono::Utc::now());
    let ran = post_path(&server.address, "/v1/authorize", &headers, &body);
    assert_eq!(ran.body["decision"], "Allow", "{}", ran.body);
    let second = put(after);

    let diff = ok(gql(
        &server.address,
        &root,
        "query($p: String!, $a: Int!, $b: Int!) { permissionDiff(principalArn: $p, from: {sequence: $a}, to: {sequence: $b}) {
            fromSequence toSequence pairs changes { action resource gained because { sid sourcePolicyId } } } }",
        json!({"p": carol, "a": first, "b": second}),
    ));
    let diff = &diff["permissionDiff"];
    assert_eq!(
        (diff["fromSequence"].as_u64(), diff["toSequence"].as_u64()),
        (Some(first), Some(second))
    );
    let changes: Vec<(String, String, bool, String)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["resource"].as_str().unwrap().to_owned(),
                c["gained"].as_bool().unwrap(),
                c["because"][0]["sid"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("sqs:SendMessage".to_owned(), "*".to_owned(), true, "Queue".to_owned()),
            (
                "ec2:RunInstances".to_owned(),
                "*".to_owned(),
                false,
                "Machines".to_owned()
            ),
        ],
        "{diff}"
    );
    assert!(
        diff["pairs"].as_u64().unwrap() >= 3,
        "s3:GetObject was decided too, unchanged"
    );
}
