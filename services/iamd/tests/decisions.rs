//! The decision API (Gatehouse's JSON form, its batch, AuthZEN 1.0, GraphQL) and the audit history
//! of a real `iamd`: every decision and management call is recorded before it is answered, is
//! queryable at once, keeps no secret, survives kill -9, and stays in its own account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, iamctl_binary, post_path, signed_headers_for, Server};

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"ReadFromOffice","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*",
  "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Sid":"NeverSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::reports/secret/*"}]}"#;

fn call(server: &Server, credentials: &Credentials, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let headers = signed_headers_for(&server.address, path, credentials, &body, chrono::Utc::now());
    let reply = post_path(&server.address, path, &headers, &body);
    (reply.status, reply.body)
}

fn ok(reply: support::Reply) -> Value {
    assert!(reply.error_code().is_none(), "{}", reply.body);
    reply.data().clone()
}

fn setup(server: &Server, root: &Credentials) -> (String, Credentials) {
    let account = ok(gql(&server.address, root, "{ callerIdentity { account } }", json!({})))["callerIdentity"]
        ["account"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(gql(
        &server.address,
        root,
        "mutation { createUser(input: {userName: \"alice\", tags: [{key: \"team\", value: \"blue\"}]}) { sequence } }",
        json!({}),
    ));
    ok(gql(
        &server.address,
        root,
        "mutation($d: String!) { putUserPolicy(input: {userName: \"alice\", policyName: \"reports\", policyDocument: $d}) { sequence } }",
        json!({"d": POLICY}),
    ));
    // bob has a key but no permission to ask for decisions.
    ok(gql(
        &server.address,
        root,
        "mutation { createUser(input: {userName: \"bob\"}) { sequence } }",
        json!({}),
    ));
    let key = ok(gql(
        &server.address,
        root,
        "mutation { createAccessKey(userName: \"bob\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    ));
    let bob = Credentials {
        access_key_id: key["createAccessKey"]["accessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret_access_key: key["createAccessKey"]["accessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        session_token: None,
    };
    (account, bob)
}

fn ask(account: &str, resource: &str, ip: &str) -> Value {
    json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:GetObject",
        "resource": resource, "context": [{"key": "aws:SourceIp", "values": [ip], "type": "ip"}]})
}

fn audit_events(server: &Server, credentials: &Credentials, filter: Value, first: u32) -> Vec<Value> {
    let data = ok(gql(
        &server.address,
        credentials,
        "query($f: AuditEventFilter, $n: Int) { auditEvents(filter: $f, first: $n) { edges { node {
            eventID eventName eventSource errorCode decision action resourceArn readOnly requestID
            userIdentity { type arn accountId accessKeyId userName }
            requestParameters responseElements additionalEventData cloudTrailRecord } } } }",
        json!({"f": filter, "n": first}),
    ));
    data["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[test]
fn decisions_are_decided_as_aws_does_and_each_is_in_the_history_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (account, bob) = setup(&server, &root);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700, "the data directory is the owner's only");
        assert_eq!(mode(&dir.path().join("root-credentials")), 0o600);
    }

    let (status, allow) = call(
        &server,
        &root,
        "/v1/authorize",
        &ask(&account, "arn:aws:s3:::reports/q3.pdf", "10.1.2.3"),
    );
    assert_eq!(status, 200, "{allow}");
    assert_eq!(allow["decision"], "Allow");
    assert_eq!(allow["allowed"], true);
    assert_eq!(allow["matchedStatements"][0]["sid"], "ReadFromOffice");
    let (_, outside) = call(
        &server,
        &root,
        "/v1/authorize",
        &ask(&account, "arn:aws:s3:::reports/q3.pdf", "192.0.2.1"),
    );
    assert_eq!(outside["decision"], "ImplicitDeny");
    let (_, secret) = call(
        &server,
        &root,
        "/v1/authorize",
        &ask(&account, "arn:aws:s3:::reports/secret/x", "10.1.2.3"),
    );
    assert_eq!(secret["decision"], "ExplicitDeny");
    assert_eq!(secret["matchedStatements"][0]["sid"], "NeverSecrets");

    // Freshness: the decision is queryable as soon as it was answered.
    let latest = audit_events(&server, &root, json!({"eventName": "Authorize"}), 1);
    assert_eq!(latest[0]["eventID"], secret["eventID"]);
    assert_eq!(latest[0]["decision"], "ExplicitDeny");
    assert_eq!(latest[0]["action"], "s3:GetObject");
    assert_eq!(latest[0]["resourceArn"], "arn:aws:s3:::reports/secret/x");
    assert_eq!(latest[0]["userIdentity"]["type"], "Root");
    let detail = &latest[0]["additionalEventData"];
    assert!(detail["accountSequence"].as_u64().unwrap() >= 4);
    assert_eq!(detail["policies"][0]["policyType"], "user", "{detail}");
    assert_eq!(latest[0]["cloudTrailRecord"]["eventID"], secret["eventID"]);
    assert_eq!(latest[0]["cloudTrailRecord"]["recipientAccountId"], account.as_str());

    // The batch form answers in order, each recorded.
    let (status, batch) = call(
        &server,
        &root,
        "/v1/authorize/batch",
        &json!({"requests": [ask(&account, "arn:aws:s3:::reports/a", "10.0.0.1"),
            ask(&account, "arn:aws:s3:::reports/secret/b", "10.0.0.1"),
            {"principalArn": format!("arn:aws:iam::{account}:user/nobody"), "action": "s3:GetObject"}]}),
    );
    assert_eq!(status, 200);
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results[0]["decision"], "Allow");
    assert_eq!(results[1]["decision"], "ExplicitDeny");
    assert_eq!(results[2]["error"]["code"], "NoSuchEntity");

    // AuthZEN 1.0.
    let (status, one) = call(
        &server,
        &root,
        "/access/v1/evaluation",
        &json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "s3:GetObject"},
            "resource": {"type": "object", "id": "arn:aws:s3:::reports/q4.pdf"}, "context": {"aws:SourceIp": "10.9.9.9"}}),
    );
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["decision"], true);
    let (_, many) = call(
        &server,
        &root,
        "/access/v1/evaluations",
        &json!({"subject": {"type": "user", "id": "alice"}, "context": {"aws:SourceIp": "10.9.9.9"},
            "evaluations": [{"action": {"name": "s3:GetObject"}, "resource": {"type": "object", "id": "arn:aws:s3:::reports/a"}},
                            {"action": {"name": "s3:PutObject"}, "resource": {"type": "object", "id": "arn:aws:s3:::reports/a"}}]}),
    );
    let evaluations = many["evaluations"].as_array().unwrap();
    assert_eq!(
        (
            evaluations[0]["decision"].as_bool(),
            evaluations[1]["decision"].as_bool()
        ),
        (Some(true), Some(false))
    );
    // deny_on_first_deny: the batch stops at the first deny; what follows is not decided.
    let (_, short) = call(
        &server,
        &root,
        "/access/v1/evaluations",
        &json!({"subject": {"type": "user", "id": "alice"}, "context": {"aws:SourceIp": "10.9.9.9"},
            "options": {"evaluations_semantic": "deny_on_first_deny"},
            "evaluations": [{"action": {"name": "s3:PutObject"}, "resource": {"type": "object", "id": "arn:aws:s3:::reports/a"}},
                            {"action": {"name": "s3:GetObject"}, "resource": {"type": "object", "id": "arn:aws:s3:::reports/a"}}]}),
    );
    assert_eq!(short["evaluations"].as_array().unwrap().len(), 1, "{short}");

    // GraphQL.
    let decided = ok(gql(
        &server.address,
        &root,
        "query($p: String!) { authorize(input: {principalArn: $p, action: \"s3:GetObject\", resource: \"arn:aws:s3:::reports/x\",
            context: [{key: \"aws:SourceIp\", values: [\"10.0.0.7\"], type: \"ip\"}]}) { decision allowed eventID matchedStatements { sid effect } } }",
        json!({"p": format!("arn:aws:iam::{account}:user/alice")}),
    ));
    assert_eq!(decided["authorize"]["decision"], "Allow");
    assert_eq!(decided["authorize"]["matchedStatements"][0]["sid"], "ReadFromOffice");

    // A caller without gatehouse:Authorize cannot probe policies, and the refusal is recorded.
    let (status, refused) = call(
        &server,
        &bob,
        "/v1/authorize",
        &ask(&account, "arn:aws:s3:::reports/q3.pdf", "10.1.2.3"),
    );
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "AccessDenied");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("gatehouse:Authorize"));
    let refusals = audit_events(
        &server,
        &root,
        json!({"errorCode": "AccessDenied", "eventName": "Authorize"}),
        10,
    );
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["userIdentity"]["userName"], "bob");

    // Filters and counts.
    let explicit = audit_events(&server, &root, json!({"decision": "ExplicitDeny"}), 100);
    assert_eq!(explicit.len(), 2);
    let counts = ok(gql(
        &server.address,
        &root,
        "{ auditEventCounts(groupBy: DECISION, filter: {eventSource: \"authz.gatehouse.dev\"}) { value count } }",
        json!({}),
    ));
    let counts = counts["auditEventCounts"].as_array().unwrap().clone();
    let count_of = |value: &str| {
        counts
            .iter()
            .find(|c| c["value"] == value)
            .map_or(0, |c| c["count"].as_u64().unwrap())
    };
    assert_eq!(
        (count_of("Allow"), count_of("ExplicitDeny"), count_of("ImplicitDeny")),
        (5, 2, 3),
        "{counts:?}"
    );

    // Management calls: who, what, before and after; the access key's secret never recorded.
    let created = audit_events(&server, &root, json!({"eventName": "CreateUser"}), 10);
    assert_eq!(created.len(), 2);
    let alice = created
        .iter()
        .find(|r| r["requestParameters"]["userName"] == "alice")
        .unwrap();
    assert_eq!(alice["eventSource"], "iam.amazonaws.com");
    assert_eq!(alice["readOnly"], false);
    assert_eq!(alice["resourceArn"], format!("arn:aws:iam::{account}:user/alice"));
    let changes = &alice["additionalEventData"]["changes"];
    assert_eq!(changes["before"], Value::Null);
    assert_eq!(changes["after"]["userName"], "alice");
    assert_eq!(changes["events"][0]["eventType"], "iam.user.created");
    assert_eq!(alice["responseElements"]["user"]["userName"], "alice");
    let key_records = audit_events(&server, &root, json!({"eventName": "CreateAccessKey"}), 10);
    assert_eq!(key_records.len(), 1);
    // The record's type has no place for the secret: the key is there by id and status.
    let recorded_key = &key_records[0]["responseElements"]["accessKey"];
    assert_eq!(recorded_key["accessKeyId"], bob.access_key_id.as_str());
    assert_eq!(recorded_key["status"], "Active");
    assert!(recorded_key.get("secretAccessKey").is_none());
    server.terminate();
    // Every file the server wrote: the audit record file and index, the logs, the read model.
    let mut audit_files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("audit") {
            audit_files += 1;
        }
        let bytes = std::fs::read(&path).unwrap();
        let needle = bob.secret_access_key.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "a secret reached {name}"
        );
    }
    assert!(audit_files >= 2, "the audit files were not where this test looks");
}

/// Asks 50 decisions, kills the server with SIGKILL, restarts it with `restart` and checks that
/// every answered decision is in the history.
fn decide_kill_9_and_restart(
    server: Server,
    restart: impl FnOnce() -> Server,
    root: &Credentials,
    account: &str,
) -> Server {
    let mut answered = Vec::new();
    for i in 0..50 {
        let (status, reply) = call(
            &server,
            root,
            "/v1/authorize",
            &ask(account, &format!("arn:aws:s3:::reports/{i}"), "10.0.0.1"),
        );
        assert_eq!(status, 200);
        answered.push(reply["eventID"].as_str().unwrap().to_owned());
    }
    server.kill9();

    let server = restart();
    let recorded: Vec<String> = audit_events(&server, root, json!({"eventName": "Authorize"}), 1000)
        .iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect();
    for id in &answered {
        assert!(recorded.contains(id), "answered decision {id} is missing after kill -9");
    }
    server
}

/// `--audit-sync process` acknowledges a record once the operating system has it (it is synced
/// in the background): a killed process loses none.
#[test]
fn answered_decisions_survive_kill_9_with_audit_sync_process() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--audit-sync", "process"];
    let server = Server::start_with(dir.path(), &flags);
    let root = server.root_credentials();
    let (account, _bob) = setup(&server, &root);
    decide_kill_9_and_restart(server, || Server::start_with(dir.path(), &flags), &root, &account);
}

#[test]
fn answered_decisions_survive_kill_9_and_tenants_see_only_their_own_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (account, _bob) = setup(&server, &root);
    let other = ok(gql(
        &server.address,
        &root,
        "mutation { createAccount(accountAlias: \"other\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    ));
    let other_root = Credentials {
        access_key_id: other["createAccount"]["rootAccessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret_access_key: other["createAccount"]["rootAccessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        session_token: None,
    };

    let server = decide_kill_9_and_restart(server, || Server::start(dir.path()), &root, &account);

    // The other account's history has none of this account's records, and it cannot ask about
    // this account's principals.
    let theirs = audit_events(&server, &other_root, json!({}), 1000);
    assert!(theirs
        .iter()
        .all(|r| r["cloudTrailRecord"]["recipientAccountId"] != account.as_str()));
    assert!(theirs.iter().all(|r| r["eventName"] != "Authorize"));
    let (status, cross) = call(
        &server,
        &other_root,
        "/v1/authorize",
        &ask(&account, "arn:aws:s3:::reports/a", "10.0.0.1"),
    );
    assert_eq!(status, 404, "{cross}");
    assert_eq!(cross["error"]["code"], "NoSuchEntity");
}

#[test]
fn simulations_follow_aws_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (account, _bob) = setup(&server, &root);
    let principal = ok(gql(
        &server.address,
        &root,
        "query($p: String!) { simulatePrincipalPolicy(input: {policySourceArn: $p, actionNames: [\"s3:GetObject\", \"s3:PutObject\"],
            resourceArns: [\"arn:aws:s3:::reports/a\", \"arn:aws:s3:::reports/secret/b\"],
            contextEntries: [{contextKeyName: \"aws:SourceIp\", contextKeyValues: [\"10.0.0.1\"], contextKeyType: \"ip\"}]})
            { evaluationResults { evalActionName evalResourceName evalDecision evaluationResult } } }",
        json!({"p": format!("arn:aws:iam::{account}:user/alice")}),
    ));
    let decisions: Vec<&str> = principal["simulatePrincipalPolicy"]["evaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["evalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "explicitDeny", "implicitDeny", "explicitDeny"]);

    let custom = ok(gql(
        &server.address,
        &root,
        "query($d: String!) { simulateCustomPolicy(input: {policyInputList: [$d], actionNames: [\"s3:GetObject\"],
            resourceArns: [\"arn:aws:s3:::reports/a\"]}) { evaluationResults { evalDecision missingContextValues } } }",
        json!({"d": POLICY}),
    ));
    let result = &custom["simulateCustomPolicy"]["evaluationResults"][0];
    assert_eq!(result["evalDecision"], "implicitDeny");
    assert_eq!(result["missingContextValues"], json!(["aws:SourceIp"]));

    let malformed = gql(
        &server.address,
        &root,
        "{ simulateCustomPolicy(input: {policyInputList: [\"{\\\"Statement\\\": 5}\"], actionNames: [\"s3:GetObject\"]}) { evaluationResults { evalDecision } } }",
        json!({}),
    );
    assert_eq!(
        malformed.error_code().as_deref(),
        Some("MalformedPolicyDocument"),
        "{}",
        malformed.body
    );
}

#[test]
fn iamctl_exports_the_history_as_a_cloudtrail_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (account, _bob) = setup(&server, &root);
    for i in 0..3 {
        let (status, _) = call(
            &server,
            &root,
            "/v1/authorize",
            &ask(&account, &format!("arn:aws:s3:::reports/{i}"), "10.0.0.1"),
        );
        assert_eq!(status, 200);
    }
    let output = std::process::Command::new(iamctl_binary())
        .args(["audit-export", "--endpoint", &format!("http://{}", server.address)])
        .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let log: Value = serde_json::from_slice(&output.stdout).unwrap();
    let records = log["Records"].as_array().unwrap();
    let names: Vec<&str> = records.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    // Oldest first: the setup's management calls, then the three decisions.
    assert_eq!(&names[..2], ["GetCallerIdentity", "CreateUser"], "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "Authorize").count(), 3);
    assert!(records
        .iter()
        .all(|r| r["recipientAccountId"] == account.as_str() && r["eventVersion"] == "1.09"));
}

#[test]
fn a_roles_trust_policy_is_the_stored_resource_policy_of_assume_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (account, _bob) = setup(&server, &root);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    ok(gql(
        &server.address,
        &root,
        "mutation($t: String!) { createRole(input: {roleName: \"deployer\", assumeRolePolicyDocument: $t}) { role { arn } } }",
        json!({"t": trust}),
    ));
    let role = format!("arn:aws:iam::{account}:role/deployer");
    let assume = |who: &str| json!({"principalArn": format!("arn:aws:iam::{account}:user/{who}"), "action": "sts:AssumeRole", "resource": role});
    let (_, alice) = call(&server, &root, "/v1/authorize", &assume("alice"));
    assert_eq!(alice["decision"], "Allow", "{alice}");
    assert_eq!(alice["matchedStatements"][0]["sourcePolicyId"], role.as_str());
    let (_, bob) = call(&server, &root, "/v1/authorize", &assume("bob"));
    assert_eq!(bob["decision"], "ImplicitDeny", "{bob}");

    // Consistency tokens: the sequence a decision reports is a token a later request may demand;
    // one the account's log has not reached is refused.
    let mut fresh = assume("alice");
    fresh["minSequence"] = alice["sequence"].clone();
    let (status, again) = call(&server, &root, "/v1/authorize", &fresh);
    assert_eq!((status, again["decision"].as_str()), (200, Some("Allow")), "{again}");
    fresh["minSequence"] = json!(alice["sequence"].as_u64().unwrap() + 1_000);
    let (status, ahead) = call(&server, &root, "/v1/authorize", &fresh);
    assert_eq!(
        (status, ahead["error"]["code"].as_str()),
        (400, Some("InvalidInput")),
        "{ahead}"
    );
}
