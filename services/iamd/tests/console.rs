//! The admin console, end to end in a real browser (Debian's Chromium through Selenium):
//! sign-in, a user created through the UI (and there through the API), a read-only user refused
//! an edit with AWS's `AccessDenied`, that refusal found in the audit explorer, sign-out, and
//! changes without the session's CSRF token refused. Screenshots of the main screens are saved
//! in `target/console-screenshots/` as artifacts (not compared).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{fresh_step, gql, post_path, run_python, signed_headers_for, totp, Server};

fn ok(reply: support::Reply) -> Value {
    assert!(reply.error_code().is_none(), "{}", reply.body);
    reply.data().clone()
}

#[test]
fn the_console_signs_in_changes_refuses_and_shows_the_audit_history_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    for (user, policy, password) in [
        (
            "admin",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "Admin-password-42!",
        ),
        (
            "reader",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "Reader-password-42!",
        ),
        (
            "helpdesk",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "Helpdesk-password-42!",
        ),
    ] {
        ok(gql(
            &server.address,
            &root,
            "mutation($u: String!, $p: String!, $a: String!) {
                createUser(input: {userName: $u}) { sequence }
                attachUserPolicy(input: {userName: $u, policyArn: $a}) { sequence }
                createLoginProfile(userName: $u, password: $p) { userName }
            }",
            json!({"u": user, "p": password, "a": policy}),
        ));
    }
    // The help desk may create users under /helpdesk/, nowhere else.
    ok(gql(
        &server.address,
        &root,
        "mutation($d: String!) {
            createPolicy(input: {policyName: \"helpdesk-create\", policyDocument: $d}) { sequence }
        }",
        json!({"d": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::*:user/helpdesk/*"}]}"#}),
    ));
    ok(gql(
        &server.address,
        &root,
        "mutation($a: String!) { attachUserPolicy(input: {userName: \"helpdesk\", policyArn: $a}) { sequence } }",
        json!({"a": format!("arn:aws:iam::{account}:policy/helpdesk-create")}),
    ));
    // Nearly 5,000 users (the account quota), for the list's speed: twenty per request (the most
    // a request may hold).
    for batch in 0..249 {
        let mutations: String = (0..20)
            .map(|n| format!("u{n}: createUser(input: {{userName: \"bulk-{batch:03}-{n:02}\", path: \"/bulk/\"}}) {{ sequence }} "))
            .collect();
        ok(gql(
            &server.address,
            &root,
            &format!("mutation {{ {mutations} }}"),
            json!({}),
        ));
    }
    // An organization: the root, an OU with an SCP of its own below the root's.
    ok(gql(
        &server.address,
        &root,
        "mutation { createOrganization { orgSequence } }",
        json!({}),
    ));
    let roots = ok(gql(
        &server.address,
        &root,
        "{ organizationRoots { items { id } } }",
        json!({}),
    ));
    let root_id = roots["organizationRoots"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(gql(
        &server.address,
        &root,
        "mutation($r: String!) { enablePolicyType(rootId: $r, type: SERVICE_CONTROL_POLICY) { orgSequence } }",
        json!({"r": root_id}),
    ));
    let unit = ok(gql(
        &server.address,
        &root,
        "mutation($r: String!) { createOrganizationalUnit(parentId: $r, name: \"engineering\") { organizationalUnit { id } } }",
        json!({"r": root_id}),
    ));
    let unit_id = unit["createOrganizationalUnit"]["organizationalUnit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scp = ok(gql(
        &server.address,
        &root,
        "mutation($c: String!) { createOrganizationPolicy(name: \"stay-in-org\", description: \"\", type: SERVICE_CONTROL_POLICY, content: $c) { policy { policySummary { id } } } }",
        json!({"c": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#}),
    ));
    let scp_id = scp["createOrganizationPolicy"]["policy"]["policySummary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(gql(
        &server.address,
        &root,
        "mutation($p: String!, $t: String!) { attachOrganizationPolicy(policyId: $p, targetId: $t) { orgSequence } }",
        json!({"p": scp_id, "t": unit_id}),
    ));
    // A denied decision about the reader, for the audit explorer to find and replay.
    let ask = json!({"principalArn": format!("arn:aws:iam::{account}:user/reader"), "action": "s3:PutObject",
        "resource": "arn:aws:s3:::reports/q1.csv"})
    .to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &ask, chrono::Utc::now());
    let decided = post_path(&server.address, "/v1/authorize", &headers, &ask);
    assert_eq!(decided.body["decision"], "ImplicitDeny", "{}", decided.body);
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = dir.path().join("chromium-profile");
    // The administrator signs in with an MFA device: enabled with two consecutive codes just
    // before the browser starts, which signs in with the next step's code.
    let device = ok(gql(
        &server.address,
        &root,
        "mutation { createVirtualMfaDevice(virtualMfaDeviceName: \"admin-phone\") { serialNumber base32StringSeed } }",
        json!({}),
    ));
    let seed = device["createVirtualMfaDevice"]["base32StringSeed"]
        .as_str()
        .unwrap()
        .to_owned();
    let serial = device["createVirtualMfaDevice"]["serialNumber"].as_str().unwrap();
    let step = fresh_step(25);
    let codes = totp(&seed, &[step - 1, step]);
    ok(gql(
        &server.address,
        &root,
        "mutation($s: String!, $a: String!, $b: String!) { enableMfaDevice(userName: \"admin\", serialNumber: $s, authenticationCode1: $a, authenticationCode2: $b) { sequence } }",
        json!({"s": serial, "a": codes[0], "b": codes[1]}),
    ));
    let seen = run_python(
        "console_browser.py",
        &json!({
            "base": format!("http://{}", server.address),
            "account": account,
            "admin": {"user": "admin", "password": "Admin-password-42!", "mfa_seed": seed, "mfa_step": step + 1},
            "reader": {"user": "reader", "password": "Reader-password-42!"},
            "helpdesk": {"user": "helpdesk", "password": "Helpdesk-password-42!"},
            "root_key": {"id": root.access_key_id, "secret": root.secret_access_key},
            "screenshots": shots,
            "profile": profile,
        }),
    );

    eprintln!("the browser saw: {seen}");
    assert_eq!(seen["signed_out_path"], "/console/signin", "{seen}");
    assert!(
        seen["wrong_password"].as_str().unwrap().contains("not correct"),
        "{seen}"
    );
    assert_eq!(seen["after_signin_path"], "/console/users", "{seen}");
    assert_eq!(seen["cookie"]["httpOnly"], true, "{seen}");
    assert_eq!(seen["cookie"]["sameSite"], "Strict", "{seen}");
    assert_eq!(seen["cookie"]["path"], "/console", "{seen}");
    assert!(
        seen["create_notice"].as_str().unwrap().contains("console-made"),
        "{seen}"
    );
    assert!(
        seen["listed"].as_array().unwrap().iter().any(|n| n == "console-made"),
        "{seen}"
    );
    assert_eq!(
        (seen["csrf_none"].as_u64(), seen["csrf_wrong"].as_u64()),
        (Some(403), Some(403)),
        "{seen}"
    );
    assert_eq!(seen["cross_site"], 403, "the right token, from another site: {seen}");
    assert_eq!(seen["signin_without_token"], 403, "login CSRF: {seen}");
    assert!(seen["mfa_missing"].as_str().unwrap().contains("MFA code"), "{seen}");
    assert!(
        seen["policy_delete"].as_str().unwrap().starts_with("DeleteConflict"),
        "{seen}"
    );
    assert_eq!(seen["renamed_title"], "User: renamed", "{seen}");
    assert_eq!(seen["policies_found"], json!(["reports-read"]), "{seen}");
    assert_eq!(seen["aws_policies_found"], json!(["IAMReadOnlyAccess"]), "{seen}");
    assert!(seen["context_inside"].as_str().unwrap().contains("allowed"), "{seen}");
    assert!(
        seen["context_outside"].as_str().unwrap().contains("implicitDeny"),
        "{seen}"
    );
    // The access key: its secret shown once (40 characters), never on a later page.
    assert_eq!(seen["secret_length"], 40, "{seen}");
    assert_eq!(seen["secret_shown_again"], false, "{seen}");
    let key_id = seen["new_key_id"].as_str().unwrap();
    assert!(key_id.starts_with("AKIA"), "{seen}");
    assert!(
        seen["keys_listed"].as_array().unwrap().iter().any(|k| k == key_id),
        "{seen}"
    );
    assert_eq!(seen["tags"], json!(["team"]), "{seen}");
    assert!(seen["boundary"].as_str().unwrap().contains("ReadOnlyAccess"), "{seen}");
    // The policy editor.
    assert!(
        seen["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().contains("MISSING_VERSION")),
        "validate-policy's finding is shown: {seen}"
    );
    assert!(
        !seen["finding_lines"].as_array().unwrap().is_empty(),
        "next to a line: {seen}"
    );
    assert_eq!(seen["as_you_type"], true, "findings appear as one types: {seen}");
    assert!(seen["simulation"].as_str().unwrap().contains("allowed"), "{seen}");
    assert!(
        !seen["matched_lines"].as_array().unwrap().is_empty(),
        "the deciding statement is marked: {seen}"
    );
    assert_eq!(seen["findings_after_fix"], "0 findings", "{seen}");
    assert!(
        seen["saved"].as_str().unwrap().contains(":policy/reports-read"),
        "{seen}"
    );
    assert!(seen["user_before"].as_str().unwrap().contains("implicitDeny"), "{seen}");
    assert!(seen["attached"].as_str().unwrap().contains("Attached"), "{seen}");
    assert!(
        seen["user_after"].as_str().unwrap().contains("allowed"),
        "the decision changed: {seen}"
    );
    assert!(
        seen["preview"]
            .as_str()
            .unwrap()
            .contains("audited decisions re-evaluated"),
        "{seen}"
    );
    assert_eq!(seen["after_signout_path"], "/console/signin", "{seen}");
    assert_eq!(seen["after_signout_users_path"], "/console/signin", "{seen}");
    assert_eq!(
        seen["old_cookie_lands_on"], "/console/signin",
        "the session ended on the server: {seen}"
    );
    assert!(
        seen["reader_rows"].as_u64().unwrap() >= 3,
        "a read-only user reads: {seen}"
    );
    // Read-only screens: no form that changes anything, and the trust policy as text.
    assert_eq!(seen["reader_create_forms"], 0, "{seen}");
    assert!(seen["reader_note"].as_str().unwrap().starts_with("Read-only"), "{seen}");
    assert_eq!(seen["reader_user_forms"], 0, "{seen}");
    assert_eq!(seen["reader_user_policies"], json!(["reports-read"]), "{seen}");
    assert_eq!(seen["reader_role_forms"], 0, "{seen}");
    assert!(
        seen["reader_role_trust"]
            .as_str()
            .unwrap()
            .contains("lambda.amazonaws.com"),
        "{seen}"
    );
    assert_eq!(seen["reader_group_forms"], 0, "{seen}");
    assert_eq!(seen["reader_editor_buttons"], json!(["check", "simulate"]), "{seen}");
    // The help desk: offered the form, refused outside its path with AWS's message.
    let refusal = seen["helpdesk_notice"].as_str().unwrap();
    assert!(refusal.starts_with("AccessDenied"), "{seen}");
    assert!(refusal.contains("iam:CreateUser"), "{seen}");
    assert!(seen["helpdesk_made"].as_str().unwrap().contains("desk-made"), "{seen}");
    let audit = seen["audit_rows"].as_array().unwrap();
    assert!(
        audit.iter().any(|row| row[1] == "CreateUser"
            && row[2].as_str().unwrap().ends_with("user/helpdesk")
            && row[6] == "AccessDenied"),
        "the refusal is in the audit explorer: {seen}"
    );
    // Roles: tags, boundary, search.
    assert_eq!(seen["role_tags"], json!(["tier"]), "{seen}");
    assert!(
        seen["role_boundary"].as_str().unwrap().contains("ReadOnlyAccess"),
        "{seen}"
    );
    assert_eq!(seen["roles_found"], json!(["ec2-app"]), "{seen}");
    // The root user's key sign-in, refused with a wrong secret first; both recorded.
    assert!(
        seen["root_wrong_secret"].as_str().unwrap().contains("not correct"),
        "{seen}"
    );
    assert_eq!(
        seen["root_signed_in"],
        json!(["/console/users", format!("arn:aws:iam::{account}:root")]),
        "{seen}"
    );
    // The credential report: every user, the ones to look at marked.
    assert!(
        seen["report_before"].as_str().unwrap().starts_with("ReportNotPresent"),
        "{seen}"
    );
    assert_eq!(seen["report_rows"], 1000, "the first 1,000 rows: {seen}");
    let findings = &seen["report_findings"];
    assert_eq!(findings["reader"], json!(["password without MFA"]), "{seen}");
    assert!(findings.get("admin").is_none(), "the administrator has MFA: {seen}");
    assert_eq!(
        findings["<root_account>"],
        json!(["root user without MFA", "root user has an active access key"]),
        "{seen}"
    );
    // Header, root, and every user (4,980 bulk users and the ones the flows made).
    assert!(seen["report_csv_lines"].as_u64().unwrap() > 4_980, "{seen}");
    assert_eq!(
        seen["key_throttled"],
        json!([false, false, false, false, false, true]),
        "{seen}"
    );
    let records = ok(gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"ConsoleLogin\"}, first: 50) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    ));
    let logins: Vec<(String, String, String, String)> = records["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let r = &e["node"]["cloudTrailRecord"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&r["userIdentity"]["type"]),
                text(&r["userIdentity"]["userName"]),
                text(&r["responseElements"]["ConsoleLogin"]),
                text(&r["additionalEventData"]["MFAUsed"]),
            )
        })
        .collect();
    for expected in [
        ("Root", "", "Failure", "No"),
        ("Root", "", "Success", "No"),
        ("IAMUser", "admin", "Success", "Yes"),
    ] {
        assert!(
            logins
                .iter()
                .any(|l| (l.0.as_str(), l.1.as_str(), l.2.as_str(), l.3.as_str()) == expected),
            "{expected:?} in {logins:?}"
        );
    }
    // The organization tree: the OU's own SCP, and what it inherits from the root.
    let tree = seen["org_tree"].as_array().unwrap();
    let unit = tree
        .iter()
        .find(|n| n["kind"] == "OU")
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(unit["text"].as_str().unwrap().contains("engineering"), "{seen}");
    assert!(
        unit["attached"].as_array().unwrap().iter().any(|p| p == "stay-in-org"),
        "{seen}"
    );
    assert!(
        unit["inherited"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "FullAWSAccess"),
        "{seen}"
    );
    assert!(
        tree.iter().any(|n| n["kind"] == "Root") && tree.iter().any(|n| n["kind"] == "Account"),
        "{seen}"
    );
    assert!(seen["group_notice"].as_str().unwrap().contains("auditors"), "{seen}");
    assert_eq!(seen["groups"], json!(["auditors"]), "{seen}");
    assert_eq!(seen["members"], json!(["console-made"]), "{seen}");
    assert_eq!(seen["group_attached"], json!(["ReadOnlyAccess"]), "{seen}");
    assert_eq!(seen["group_renamed"], "Group: auditors-eu", "{seen}");
    assert_eq!(seen["groups_after_delete"], json!([]), "{seen}");
    assert!(
        seen["role_description"].as_str().unwrap().contains("Runs the web tier"),
        "{seen}"
    );
    assert_eq!(seen["trust_notice"], "Trust policy updated.", "{seen}");
    assert!(
        seen["trust_now"].as_str().unwrap().contains("lambda.amazonaws.com"),
        "{seen}"
    );
    assert_eq!(seen["roles"], json!(["ec2-app"]), "{seen}");
    assert_eq!(seen["chart_bars"], 24, "{seen}");
    assert!(seen["chart_nonempty"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(seen["live_refresh"], 1, "{seen}");
    assert!(seen["live_url"].as_str().unwrap().contains("live=1"), "{seen}");
    assert_eq!(seen["denied_decisions"], 1, "{seen}");
    assert!(
        seen["record"]
            .as_str()
            .unwrap()
            .contains("\"eventName\": \"Authorize\""),
        "{seen}"
    );
    assert_eq!(seen["replayed"], "ImplicitDeny", "{seen}");
    assert!(
        seen["evaluated"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row[0].as_str().unwrap().ends_with("ReadOnlyAccess") && row[2] == "v1"),
        "the policies evaluated, with their versions: {seen}"
    );
    assert_eq!(seen["by_resource"], 1, "{seen}");
    assert!(seen["bad_time"].as_str().unwrap().starts_with("InvalidInput"), "{seen}");
    assert_eq!(seen["old_window"], 0, "{seen}");
    assert!(
        seen["users_page_seconds"].as_f64().unwrap() < 1.0,
        "a page of the 4,983-user list renders in under a second: {seen}"
    );
    assert!(seen["first_screen_seconds"].as_f64().unwrap() < 1.0, "{seen}");

    // The UI's change is the API's: the user exists, made by the administrator's session; the
    // CSRF attempts changed nothing.
    let exists = |name: &str| {
        let reply = gql(
            &server.address,
            &root,
            "query($n: String!) { user(userName: $n) { userName } }",
            json!({"n": name}),
        );
        match reply.error_code().as_deref() {
            None => true,
            Some("NoSuchEntity") => false,
            Some(other) => panic!("{other}: {}", reply.body),
        }
    };
    assert!(exists("console-made"));
    assert!(!exists("csrf-victim") && !exists("not-allowed"));
    for name in [
        "signin",
        "users",
        "users-phone",
        "refused",
        "audit",
        "policy-editor",
        "access-key",
        "replay",
        "read-only",
        "credentials",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "screenshot {name}");
    }
}
