//! The audit history's principal and id filters against a real `iamd`: an application asks for
//! decisions about alice and bob; `auditEvents(filter: {decidedPrincipalArn})` answers every
//! decision about one of them (whoever asked, refused ones included), `principalArn` every
//! decision the application asked for, `eventId` the one record, and `auditEvent(eventID)` that
//! record alone; another account finds none of them, and a malformed id is `InvalidInput`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, post_path, signed_headers_for, Reply, Server};

/// What the application may do: ask for decisions, not read the history.
const APP_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"gatehouse:Authorize","Resource":"*"}]}"#;
const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;

fn ok(reply: Reply) -> Value {
    assert!(reply.error_code().is_none(), "{}", reply.body);
    reply.data().clone()
}

/// `POST path` signed by `credentials`: the status and body.
fn call(server: &Server, credentials: &Credentials, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let headers = signed_headers_for(&server.address, path, credentials, &body, chrono::Utc::now());
    let reply = post_path(&server.address, path, &headers, &body);
    (reply.status, reply.body)
}

/// A user of the caller's account with `policy` inline and, when asked, an access key.
fn user(server: &Server, root: &Credentials, name: &str, policy: &str, with_key: bool) -> Option<Credentials> {
    ok(gql(
        &server.address,
        root,
        "mutation($u: String!, $d: String!) { createUser(input: {userName: $u}) { sequence }
            putUserPolicy(input: {userName: $u, policyName: \"p\", policyDocument: $d}) { sequence } }",
        json!({"u": name, "d": policy}),
    ));
    if !with_key {
        return None;
    }
    let key = ok(gql(
        &server.address,
        root,
        "mutation($u: String!) { createAccessKey(userName: $u) { accessKey { accessKeyId secretAccessKey } } }",
        json!({"u": name}),
    ));
    let key = &key["createAccessKey"]["accessKey"];
    Some(Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    })
}

/// A standalone account with a root key, made by the deployment's first account.
fn other_account(server: &Server, root: &Credentials) -> (String, Credentials) {
    let made = ok(gql(
        &server.address,
        root,
        "mutation { createAccount(accountAlias: \"other\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    ));
    let made = &made["createAccount"];
    (
        made["accountId"].as_str().unwrap().to_owned(),
        Credentials {
            access_key_id: made["rootAccessKey"]["accessKeyId"].as_str().unwrap().to_owned(),
            secret_access_key: made["rootAccessKey"]["secretAccessKey"].as_str().unwrap().to_owned(),
            session_token: None,
        },
    )
}

fn ask(principal: &str, resource: &str) -> Value {
    json!({"principalArn": principal, "action": "s3:GetObject", "resource": resource})
}

/// A decision through the HTTP decision API: its `eventID`.
fn decide(server: &Server, caller: &Credentials, principal: &str, resource: &str) -> String {
    let (status, answer) = call(server, caller, "/v1/authorize", &ask(principal, resource));
    assert_eq!(status, 200, "{answer}");
    answer["eventID"].as_str().unwrap().to_owned()
}

/// A decision through GraphQL's `authorize`: its `eventID`.
fn decide_in_graphql(server: &Server, caller: &Credentials, principal: &str) -> String {
    let answer = ok(gql(
        &server.address,
        caller,
        "query($p: String!) { authorize(input: {principalArn: $p, action: \"s3:GetObject\",
            resource: \"arn:aws:s3:::reports/graphql\"}) { decision eventID } }",
        json!({"p": principal}),
    ));
    answer["authorize"]["eventID"].as_str().unwrap().to_owned()
}

const EVENTS: &str = "query($a: String, $f: AuditEventFilter) {
    auditEvents(accountId: $a, filter: $f, first: 1000) {
        edges { node { eventID eventName errorCode recipientAccountId userIdentity { arn } requestParameters } }
    }
}";

/// The records `filter` selects in the caller's history (or `account`'s), newest first.
fn events(server: &Server, caller: &Credentials, account: Option<&str>, filter: Value) -> Vec<Value> {
    let reply = ok(gql(&server.address, caller, EVENTS, json!({"a": account, "f": filter})));
    reply["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect()
}

/// `ids` newest first, as the history answers.
fn newest_first(ids: &[&String]) -> Vec<String> {
    ids.iter().rev().map(|id| (*id).clone()).collect()
}

/// The decisions of [`decisions_are_found_by_the_principal_they_are_about_and_by_id`]: the
/// deployment, its root, the account, the application's credentials, and the event ids of the
/// decisions about alice (the application's, then root's) and about bob, in the order made.
struct Decided {
    server: Server,
    root: Credentials,
    app: Credentials,
    alice: String,
    bob: String,
    about_alice_by_app: Vec<String>,
    about_alice_by_root: String,
    about_bob: Vec<String>,
    _dir: tempfile::TempDir,
}

fn decided() -> Decided {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let app = user(&server, &root, "app", APP_POLICY, true).unwrap();
    user(&server, &root, "alice", READ_REPORTS, false);
    user(&server, &root, "bob", READ_REPORTS, false);
    let alice = format!("arn:aws:iam::{account}:user/alice");
    let bob = format!("arn:aws:iam::{account}:user/bob");

    // Interleaved, over both APIs; one of bob's in a batch with a principal that does not exist.
    let a1 = decide(&server, &app, &alice, "arn:aws:s3:::reports/a");
    let b1 = decide(&server, &app, &bob, "arn:aws:s3:::reports/b");
    let a2 = decide_in_graphql(&server, &app, &alice);
    let (status, batch) = call(
        &server,
        &app,
        "/v1/authorize/batch",
        &json!({"requests": [ask(&bob, "arn:aws:s3:::private/b"),
            ask(&format!("arn:aws:iam::{account}:user/nobody"), "arn:aws:s3:::reports/n")]}),
    );
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["results"][0]["decision"], "ImplicitDeny", "{batch}");
    assert_eq!(batch["results"][1]["error"]["code"], "NoSuchEntity", "{batch}");
    let b2 = batch["results"][0]["eventID"].as_str().unwrap().to_owned();
    let a3 = decide(&server, &app, &alice, "arn:aws:s3:::private/a");
    // The account's root asks about alice too: a decision about her, not one the app asked for.
    let by_root = decide(&server, &root, &alice, "arn:aws:s3:::reports/root");
    Decided {
        server,
        root,
        app,
        alice,
        bob,
        about_alice_by_app: vec![a1, a2, a3],
        about_alice_by_root: by_root,
        about_bob: vec![b1, b2],
        _dir: dir,
    }
}

#[test]
fn decisions_are_found_by_the_principal_they_are_about_and_by_id() {
    let d = decided();
    let (server, root) = (&d.server, &d.root);
    let app_arn = format!("arn:aws:iam::{}:user/app", server.account_id());
    let [a1, a2, a3] = [
        &d.about_alice_by_app[0],
        &d.about_alice_by_app[1],
        &d.about_alice_by_app[2],
    ];
    let [b1, b2] = [&d.about_bob[0], &d.about_bob[1]];

    // Every decision about alice, whoever asked; only those.
    let about_alice = events(server, root, None, json!({"decidedPrincipalArn": d.alice}));
    assert_eq!(ids(&about_alice), newest_first(&[a1, a2, a3, &d.about_alice_by_root]));
    for record in &about_alice {
        assert_eq!(record["eventName"], "Authorize");
        assert_eq!(record["requestParameters"]["principalArn"], d.alice.as_str());
    }
    let callers: Vec<&str> = about_alice
        .iter()
        .map(|r| r["userIdentity"]["arn"].as_str().unwrap())
        .collect();
    assert!(
        callers.contains(&app_arn.as_str())
            && callers.contains(&format!("arn:aws:iam::{}:root", server.account_id()).as_str())
    );
    let about_bob = events(server, root, None, json!({"decidedPrincipalArn": d.bob}));
    assert_eq!(ids(&about_bob), newest_first(&[b1, b2]));
    // A refused decision is about its principal too.
    let nobody = format!("arn:aws:iam::{}:user/nobody", server.account_id());
    let about_nobody = events(server, root, None, json!({"decidedPrincipalArn": nobody}));
    assert_eq!(about_nobody.len(), 1);
    assert_eq!(about_nobody[0]["errorCode"], "NoSuchEntity");

    // The caller is another filter: every decision the application asked for, about both (and
    // the refused one), and nothing else.
    let mut by_app = ids(&events(server, root, None, json!({"principalArn": app_arn})));
    let mut asked: Vec<String> = d.about_alice_by_app.iter().chain(&d.about_bob).cloned().collect();
    asked.extend(ids(&about_nobody));
    by_app.sort();
    asked.sort();
    assert_eq!(by_app, asked);
    // Both together: what the application asked about alice.
    let both = events(
        server,
        root,
        None,
        json!({"principalArn": app_arn, "decidedPrincipalArn": d.alice}),
    );
    assert_eq!(ids(&both), newest_first(&[a1, a2, a3]));
    // Alice is never the caller.
    assert!(events(server, root, None, json!({"principalArn": d.alice})).is_empty());

    // One record by its id (the creation of alice is not about her: it names no principalArn),
    // in either case; with a filter that contradicts it, none.
    for id in [a2, b1, &d.about_alice_by_root] {
        assert_eq!(
            ids(&events(server, root, None, json!({"eventId": id}))),
            std::slice::from_ref(id)
        );
    }
    assert_eq!(
        ids(&events(server, root, None, json!({"eventId": a2.to_uppercase()}))),
        std::slice::from_ref(a2)
    );
    assert!(events(server, root, None, json!({"eventId": a2, "decidedPrincipalArn": d.bob})).is_empty());
    assert!(events(
        server,
        root,
        None,
        json!({"eventId": "01900000-0000-7000-8000-000000000000"})
    )
    .is_empty());
    let counted = ok(gql(
        &server.address,
        root,
        "query($f: AuditEventFilter) { auditEventCounts(filter: $f, groupBy: DECISION) { value count } }",
        json!({"f": {"eventId": b2}}),
    ));
    assert_eq!(
        counted["auditEventCounts"],
        json!([{"value": "ImplicitDeny", "count": 1}])
    );
    let counted = ok(gql(
        &server.address,
        root,
        "query($f: AuditEventFilter) { auditEventCounts(filter: $f, groupBy: PRINCIPAL_ARN) { value count } }",
        json!({"f": {"decidedPrincipalArn": d.alice}}),
    ));
    let total: u64 = counted["auditEventCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4, "{counted}");

    // Not a UUID: InvalidInput, for pages and counts.
    for id in ["not-an-id", "", &a1[..35]] {
        let reply = gql(&server.address, root, EVENTS, json!({"f": {"eventId": id}}));
        assert_eq!(reply.error_code().as_deref(), Some("InvalidInput"), "{}", reply.body);
        let reply = gql(
            &server.address,
            root,
            "query($f: AuditEventFilter) { auditEventCounts(filter: $f, groupBy: EVENT_NAME) { value count } }",
            json!({"f": {"eventId": id}}),
        );
        assert_eq!(reply.error_code().as_deref(), Some("InvalidInput"), "{}", reply.body);
    }

    // Another account finds none of them, by id or by principal, and may not read this history.
    let (_, other_root) = other_account(server, root);
    for id in [a1, b2] {
        assert!(events(server, &other_root, None, json!({"eventId": id})).is_empty());
    }
    assert!(events(server, &other_root, None, json!({"decidedPrincipalArn": d.alice})).is_empty());
    let reply = gql(
        &server.address,
        &other_root,
        EVENTS,
        json!({"a": server.account_id(), "f": {"eventId": a1}}),
    );
    assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
    // The application may ask for decisions, not read them.
    let reply = gql(&server.address, &d.app, EVENTS, json!({"f": {"eventId": a1}}));
    assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
    d.server.terminate();
}

const EVENT: &str = "query($id: String!, $a: String) {
    auditEvent(eventID: $id, accountId: $a) { eventID eventName recipientAccountId decision requestParameters }
}";

#[test]
fn audit_event_answers_one_record_by_id_within_the_callers_history() {
    let d = decided();
    let (server, root) = (&d.server, &d.root);
    let id = &d.about_bob[1];
    let found = ok(gql(&server.address, root, EVENT, json!({"id": id})));
    let record = &found["auditEvent"];
    assert_eq!(record["eventID"], id.as_str());
    assert_eq!(record["eventName"], "Authorize");
    assert_eq!(record["decision"], "ImplicitDeny");
    assert_eq!(record["requestParameters"]["principalArn"], d.bob.as_str());
    assert_eq!(record["recipientAccountId"], server.account_id().as_str());
    // Either case; an id no record has is null, not an error.
    let found = ok(gql(&server.address, root, EVENT, json!({"id": id.to_uppercase()})));
    assert_eq!(found["auditEvent"]["eventID"], id.as_str());
    let none = ok(gql(
        &server.address,
        root,
        EVENT,
        json!({"id": "01900000-0000-7000-8000-000000000000"}),
    ));
    assert!(none["auditEvent"].is_null(), "{none}");
    let reply = gql(&server.address, root, EVENT, json!({"id": "not-an-id"}));
    assert_eq!(reply.error_code().as_deref(), Some("InvalidInput"), "{}", reply.body);

    // Authorized as auditEvents: another account's root finds nothing in its own history and may
    // not name this one; the application (no cloudtrail:LookupEvents) is refused.
    let (_, other_root) = other_account(server, root);
    let none = ok(gql(&server.address, &other_root, EVENT, json!({"id": id})));
    assert!(none["auditEvent"].is_null(), "{none}");
    let reply = gql(
        &server.address,
        &other_root,
        EVENT,
        json!({"id": id, "a": server.account_id()}),
    );
    assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
    let reply = gql(&server.address, &d.app, EVENT, json!({"id": id}));
    assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
    // The lookup is itself in the history, as CloudTrail's LookupEvents.
    let lookups = events(server, root, None, json!({"eventName": "LookupEvents"}));
    assert!(
        lookups.iter().any(|r| r["requestParameters"]["eventID"] == id.as_str()),
        "{lookups:?}"
    );
    d.server.terminate();
}
