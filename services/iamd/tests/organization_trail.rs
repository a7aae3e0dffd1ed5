//! The organization trail against a real `iamd`: CloudTrail's semantics, where a record belongs
//! to the trail of the organization its account was a member of when it was written. The
//! management account (and a delegated administrator of `gatehouse.amazonaws.com`) reads the
//! records of every member account with `auditEvents(organizationTrail: true)`, newest first,
//! paged across accounts and narrowed by `accountId`; members and outsiders are refused; an
//! outsider's records and a member's records from before it joined are never in the trail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, gql, post_path, signed_headers_for, Reply, Server};

fn credentials(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        session_token: session_token.map(str::to_owned),
    }
}

fn must(server: &Server, credentials: &Credentials, service: &str, operation: &str, params: Value) -> Value {
    let result = botocore_calls(server, credentials, &[(service, operation, params)])
        .pop()
        .unwrap();
    assert!(result.get("response").is_some(), "{service} {operation}: {result}");
    result["response"].clone()
}

/// An IAM user of `root`'s account with an access key, and `policy` attached when given (the root
/// user cannot assume roles).
fn user_with_key(server: &Server, root: &Credentials, name: &str, policy: Option<&str>) -> Credentials {
    must(server, root, "iam", "create_user", json!({"UserName": name}));
    if let Some(policy) = policy {
        must(
            server,
            root,
            "iam",
            "attach_user_policy",
            json!({"UserName": name, "PolicyArn": policy}),
        );
    }
    let key = &must(server, root, "iam", "create_access_key", json!({"UserName": name}))["AccessKey"];
    credentials(
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
        None,
    )
}

/// The session of `OrganizationAccountAccessRole` in `account`, assumed by `caller`.
fn access_role_session(server: &Server, caller: &Credentials, account: &str) -> Credentials {
    let answer = must(
        server,
        caller,
        "sts",
        "assume_role",
        json!({"RoleArn": format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"), "RoleSessionName": "admin"}),
    );
    let c = &answer["Credentials"];
    credentials(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        Some(c["SessionToken"].as_str().unwrap()),
    )
}

/// A standalone account with a root key, made by the deployment's first account.
fn standalone_account(server: &Server, root: &Credentials, alias: &str) -> (String, Credentials) {
    let reply = gql(
        &server.address,
        root,
        "mutation($a: String) { createAccount(accountAlias: $a) { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({"a": alias}),
    );
    let made = &reply.data()["createAccount"];
    (
        made["accountId"].as_str().unwrap().to_owned(),
        credentials(
            made["rootAccessKey"]["accessKeyId"].as_str().unwrap(),
            made["rootAccessKey"]["secretAccessKey"].as_str().unwrap(),
            None,
        ),
    )
}

/// A decision about `account`'s root user, recorded in `account`'s history.
fn decide(server: &Server, credentials: &Credentials, account: &str) {
    let text =
        json!({"principalArn": format!("arn:aws:iam::{account}:root"), "action": "s3:GetObject", "resource": "*"})
            .to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", credentials, &text, chrono::Utc::now());
    let reply = post_path(&server.address, "/v1/authorize", &headers, &text);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

const EVENTS: &str = "query($trail: Boolean!, $a: String, $f: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(organizationTrail: $trail, accountId: $a, filter: $f, first: $first, after: $after) {
        edges { cursor node { eventTime eventName recipientAccountId requestParameters additionalEventData } }
        pageInfo { hasNextPage }
    }
}";

fn events(server: &Server, caller: &Credentials, variables: Value) -> Reply {
    gql(&server.address, caller, EVENTS, variables)
}

/// The trail's (or history's) records of `event_name` as `(account, userName)`, newest first, on
/// one page; checks that their times never increase and that every record names `organization`.
fn created_users(
    server: &Server,
    caller: &Credentials,
    account: Option<&str>,
    organization: &str,
) -> Vec<(String, String)> {
    let reply = events(
        server,
        caller,
        json!({"trail": true, "a": account, "f": {"eventName": "CreateUser"}, "first": 100}),
    );
    let edges = reply.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    let times: Vec<chrono::DateTime<chrono::Utc>> = edges
        .iter()
        .map(|e| e["node"]["eventTime"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|t| t[0] >= t[1]), "newest first: {times:?}");
    for edge in &edges {
        assert_eq!(
            edge["node"]["additionalEventData"]["organizationId"], organization,
            "{edge}"
        );
    }
    edges
        .iter()
        .map(|e| {
            (
                e["node"]["recipientAccountId"].as_str().unwrap().to_owned(),
                e["node"]["requestParameters"]["userName"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(account, user)| ((*account).to_owned(), (*user).to_owned()))
        .collect()
}

#[test]
fn the_management_account_reads_its_members_history_as_one_organization_trail() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let management = server.account_id();
    let (guest, guest_root) = standalone_account(&server, &root, "guest");
    let (outsider, outsider_root) = standalone_account(&server, &root, "outsider");

    // Before the guest joins: its history is its own, in no trail.
    must(
        &server,
        &guest_root,
        "iam",
        "create_user",
        json!({"UserName": "guest-before"}),
    );
    decide(&server, &guest_root, &guest);
    must(
        &server,
        &outsider_root,
        "iam",
        "create_user",
        json!({"UserName": "outsider-first"}),
    );

    let organization = must(&server, &root, "organizations", "create_organization", json!({}))["Organization"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = must(
        &server,
        &root,
        "organizations",
        "create_account",
        json!({"Email": "member@example.com", "AccountName": "Member"}),
    );
    let member = status["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_owned();
    let handshake = must(
        &server,
        &root,
        "organizations",
        "invite_account_to_organization",
        json!({"Target": {"Id": guest, "Type": "ACCOUNT"}}),
    )["Handshake"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        &server,
        &guest_root,
        "organizations",
        "accept_handshake",
        json!({"HandshakeId": handshake}),
    );

    // Members at work: the management account's operator in the created member through its
    // access role, the guest's root user, the management account itself; the outsider too.
    let operator = user_with_key(
        &server,
        &root,
        "operator",
        Some("arn:aws:iam::aws:policy/AdministratorAccess"),
    );
    let admin = access_role_session(&server, &operator, &member);
    must(
        &server,
        &admin,
        "iam",
        "create_user",
        json!({"UserName": "member-user"}),
    );
    must(
        &server,
        &guest_root,
        "iam",
        "create_user",
        json!({"UserName": "guest-after"}),
    );
    decide(&server, &guest_root, &guest);
    must(
        &server,
        &root,
        "iam",
        "create_user",
        json!({"UserName": "management-user"}),
    );
    must(
        &server,
        &outsider_root,
        "iam",
        "create_user",
        json!({"UserName": "outsider-after"}),
    );

    // The whole trail, newest first, across the three accounts; nothing of the outsider and
    // nothing the guest did before it joined.
    let whole = pairs(&[
        (&management, "management-user"),
        (&guest, "guest-after"),
        (&member, "member-user"),
        (&management, "operator"),
    ]);
    assert_eq!(created_users(&server, &root, None, &organization), whole);
    // The operator (an IAM user of the management account allowed cloudtrail:LookupEvents)
    // reads it as well.
    assert_eq!(created_users(&server, &operator, None, &organization), whole);

    // Narrowed to one account: only that account's records from its membership.
    assert_eq!(
        created_users(&server, &root, Some(&guest), &organization),
        pairs(&[(&guest, "guest-after")])
    );
    assert_eq!(
        created_users(&server, &root, Some(&member), &organization),
        pairs(&[(&member, "member-user")])
    );
    assert!(created_users(&server, &root, Some(&outsider), &organization).is_empty());
    // Without the trail, the guest's own history still holds everything it did.
    let own = events(
        &server,
        &guest_root,
        json!({"trail": false, "f": {"eventName": "CreateUser"}, "first": 100}),
    );
    let own: Vec<&str> = own.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["requestParameters"]["userName"].as_str().unwrap())
        .collect();
    assert_eq!(own, ["guest-after", "guest-before"]);

    // Pages of one follow each other across the accounts.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let reply = events(
            &server,
            &root,
            json!({"trail": true, "f": {"eventName": "CreateUser"}, "first": 1, "after": after}),
        );
        let page = reply.data()["auditEvents"].clone();
        let edges = page["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 1, "{page}");
        paged.push((
            edges[0]["node"]["recipientAccountId"].as_str().unwrap().to_owned(),
            edges[0]["node"]["requestParameters"]["userName"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
        after = Some(edges[0]["cursor"].as_str().unwrap().to_owned());
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert!(paged.len() < 10, "paging does not end");
    }
    assert_eq!(paged, whole);

    // Decisions belong to the trail too: the guest's second one, not its first.
    let decisions = events(
        &server,
        &root,
        json!({"trail": true, "f": {"eventName": "Authorize"}, "first": 100}),
    );
    let decisions = decisions.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["node"]["recipientAccountId"], guest.as_str());
    assert_eq!(
        decisions[0]["node"]["additionalEventData"]["organizationId"],
        organization.as_str()
    );

    // Counts the same way.
    let counts = gql(
        &server.address,
        &root,
        "query($a: String) { auditEventCounts(organizationTrail: true, accountId: $a, filter: {eventName: \"CreateUser\"}, groupBy: PRINCIPAL_ARN) { value count } }",
        json!({}),
    );
    let counts = counts.data()["auditEventCounts"].as_array().unwrap().clone();
    let total: u64 = counts.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 4, "{counts:?}");
    assert!(counts
        .iter()
        .all(|c| !c["value"].as_str().unwrap_or_default().contains(&outsider)));
    let narrowed = gql(
        &server.address,
        &root,
        "query($a: String) { auditEventCounts(organizationTrail: true, accountId: $a, filter: {eventName: \"CreateUser\"}, groupBy: EVENT_NAME) { value count } }",
        json!({"a": guest}),
    );
    assert_eq!(
        narrowed.data()["auditEventCounts"],
        json!([{"value": "CreateUser", "count": 1}])
    );

    // Refused: a member account (even its administrator), an account outside any organization,
    // and a management-account user whose policies do not allow cloudtrail:LookupEvents.
    let nobody = user_with_key(&server, &root, "nobody", None);
    for caller in [&admin, &guest_root, &outsider_root, &nobody] {
        let reply = events(&server, caller, json!({"trail": true, "first": 10}));
        assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
        let reply = gql(
            &server.address,
            caller,
            "{ auditEventCounts(organizationTrail: true, groupBy: EVENT_NAME) { value count } }",
            json!({}),
        );
        assert_eq!(reply.error_code().as_deref(), Some("AccessDenied"), "{}", reply.body);
    }

    // A delegated administrator of Gatehouse's views reads the trail as the management account.
    must(
        &server,
        &root,
        "organizations",
        "register_delegated_administrator",
        json!({"AccountId": guest, "ServicePrincipal": "gatehouse.amazonaws.com"}),
    );
    let mut now_whole = pairs(&[(&management, "nobody")]);
    now_whole.extend(whole);
    assert_eq!(created_users(&server, &guest_root, None, &organization), now_whole);
    server.terminate();
}
