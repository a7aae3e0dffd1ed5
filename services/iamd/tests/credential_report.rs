//! AWS IAM's credential report against a real `iamd`, through both doors: botocore's IAM client
//! (`GenerateCredentialReport`, `GetCredentialReport`, every answer checked against AWS's
//! service model), the aws CLI, and GraphQL (`generateCredentialReport`, `credentialReport`).
//! The report is one implementation: the same CSV through every door, of the caller's own
//! account only, with the facts each user was given (password, MFA device, keys and their
//! status), no secret, refused without `iam:GetCredentialReport`, and every call recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use base64::Engine as _;
use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, fresh_step, gql, totp, Server};

const COLUMNS: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,\
access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

const REPORTER_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GetCredentialReport"],"Resource":"*"}]}"#;
const GENERATE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GenerateCredentialReport","Resource":"*"}]}"#;

const GQL_REPORT: &str = "{ credentialReport { content reportFormat generatedTime csv } }";
const GQL_GENERATE: &str = "mutation { generateCredentialReport { state description } }";

fn ok(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

/// The error code and HTTP status of call `i`, which must have failed.
fn error(results: &[Value], i: usize) -> (&str, u64) {
    let error = &results[i]["error"];
    (
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("call {i} should have failed: {}", results[i])),
        error["status"].as_u64().unwrap(),
    )
}

fn key_of(response: &Value) -> Credentials {
    let key = &response["AccessKey"];
    Credentials {
        access_key_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    }
}

/// The bytes botocore decoded a blob into, from the text Python shows bytes as (`b'...'`, which
/// `aws_sdk_client.py` prints for a blob).
fn python_bytes(shown: &str) -> String {
    let quote = shown.chars().nth(1).unwrap();
    assert!(shown.starts_with('b') && (quote == '\'' || quote == '"'), "{shown}");
    let inner = &shown[2..shown.len() - 1];
    let mut bytes = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        match chars.next().unwrap() {
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                bytes.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            other => bytes.push(u8::try_from(other).unwrap()),
        }
    }
    String::from_utf8(bytes).unwrap()
}

/// RFC 4180 fields of one line.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// The report's rows by `user`, each `column -> value`, after checking the header and that the
/// root user's row comes first.
fn rows(csv: &str) -> HashMap<String, HashMap<String, String>> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(COLUMNS), "{csv}");
    let columns: Vec<&str> = COLUMNS.split(',').collect();
    let mut rows = HashMap::new();
    for (i, line) in lines.enumerate() {
        let values = fields(line);
        assert_eq!(values.len(), columns.len(), "{line}");
        let row: HashMap<String, String> = columns.iter().map(|c| (*c).to_owned()).zip(values).collect();
        assert_eq!(
            i == 0,
            row["user"] == "<root_account>",
            "the root user's row comes first: {csv}"
        );
        assert!(
            rows.insert(row["user"].clone(), row).is_none(),
            "one row per user: {csv}"
        );
    }
    rows
}

fn assert_row(rows: &HashMap<String, HashMap<String, String>>, user: &str, expected: &[(&str, &str)]) {
    let row = rows.get(user).unwrap_or_else(|| panic!("no row for {user}: {rows:?}"));
    for (column, value) in expected {
        assert_eq!(row[*column], *value, "{user}.{column}: {row:?}");
    }
}

/// An ISO 8601 time as the report writes it (`2024-05-01T12:34:56+00:00`).
fn is_report_time(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with("+00:00")
}

/// `aws iam <args>` with the root credentials iamd wrote (profile `gatehouse`); its JSON.
fn aws_cli(server: &Server, args: &[&str]) -> Value {
    let cli = std::env::var_os("GATEHOUSE_AWS_CLI").unwrap_or_else(|| {
        panic!("GATEHOUSE_AWS_CLI is not set: run the tests with ./scripts/test.sh, which installs the aws CLI into target/pyenv")
    });
    let output = std::process::Command::new(cli)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", server.data_dir.as_os_str())
        .env("AWS_SHARED_CREDENTIALS_FILE", server.data_dir.join("root-credentials"))
        .env("AWS_CONFIG_FILE", server.data_dir.join("no-config"))
        .args(["--profile", "gatehouse", "--region", "us-east-1", "--output", "json"])
        .args(["--endpoint-url", &format!("http://{}", server.address), "iam"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "aws iam {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The records of `event_name` in the caller's history, newest first.
fn records(server: &Server, caller: &Credentials, event_name: &str) -> Vec<Value> {
    let reply = gql(
        &server.address,
        caller,
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { edges { node {
            eventName eventSource readOnly errorCode recipientAccountId action resourceArn
            userIdentity { arn } responseElements } } } }",
        json!({"f": {"eventName": event_name}}),
    );
    reply.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

#[test]
fn the_credential_report_through_botocore_the_cli_and_graphql() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();

    // alice: a password, an MFA device and a key; bob: two keys, the second deactivated; carol:
    // nothing; reporter: may generate and read reports; nobody: may do nothing; generator: may
    // generate but not read.
    let setup = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "get_credential_report", json!({})),
            ("iam", "create_user", json!({"UserName": "alice"})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "alice", "Password": "Alice-Pass-123"}),
            ),
            ("iam", "create_access_key", json!({"UserName": "alice"})),
            (
                "iam",
                "create_virtual_mfa_device",
                json!({"VirtualMFADeviceName": "alice-phone"}),
            ),
            ("iam", "create_user", json!({"UserName": "bob"})),
            ("iam", "create_access_key", json!({"UserName": "bob"})),
            ("iam", "create_access_key", json!({"UserName": "bob"})),
            ("iam", "create_user", json!({"UserName": "carol"})),
            ("iam", "create_user", json!({"UserName": "reporter"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "reporter", "PolicyName": "reports", "PolicyDocument": REPORTER_POLICY}),
            ),
            ("iam", "create_access_key", json!({"UserName": "reporter"})),
            ("iam", "create_user", json!({"UserName": "nobody"})),
            ("iam", "create_access_key", json!({"UserName": "nobody"})),
            ("iam", "create_user", json!({"UserName": "generator"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "generator", "PolicyName": "generate", "PolicyDocument": GENERATE_ONLY}),
            ),
            ("iam", "create_access_key", json!({"UserName": "generator"})),
        ],
    );
    // Before any report: ReportNotPresent, 410 (the model's status for it, checked by the client).
    assert_eq!(error(&setup, 0), ("ReportNotPresent", 410));
    for i in 1..setup.len() {
        ok(&setup, i);
    }
    let alice_key = key_of(ok(&setup, 3));
    let bob_keys = [key_of(ok(&setup, 6)), key_of(ok(&setup, 7))];
    let reporter = key_of(ok(&setup, 11));
    let nobody = key_of(ok(&setup, 13));
    let generator = key_of(ok(&setup, 16));
    let device = &ok(&setup, 4)["VirtualMFADevice"];
    let serial = device["SerialNumber"].as_str().unwrap().to_owned();
    let seed = device["Base32StringSeed"]
        .as_str()
        .unwrap()
        .trim_start_matches("b'")
        .trim_end_matches('\'')
        .to_owned();
    let step = fresh_step(12);
    let codes = totp(&seed, &[step - 1, step]);
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "enable_mfa_device",
                json!({"UserName": "alice", "SerialNumber": serial, "AuthenticationCode1": codes[0], "AuthenticationCode2": codes[1]}),
            ),
            (
                "iam",
                "update_access_key",
                json!({"UserName": "bob", "AccessKeyId": bob_keys[1].access_key_id, "Status": "Inactive"}),
            ),
        ],
    );
    ok(&results, 0);
    ok(&results, 1);

    // Refused without the permission, whichever door: nobody may do neither, generator may not read.
    let refused = botocore_calls(
        &server,
        &nobody,
        &[
            ("iam", "generate_credential_report", json!({})),
            ("iam", "get_credential_report", json!({})),
        ],
    );
    assert_eq!(error(&refused, 0), ("AccessDenied", 403));
    assert_eq!(error(&refused, 1), ("AccessDenied", 403));
    let message = refused[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("iam:GetCredentialReport"), "{message}");
    let denied = gql(&server.address, &nobody, GQL_REPORT, json!({}));
    assert_eq!(denied.error_code().as_deref(), Some("AccessDenied"), "{}", denied.body);
    let denied = gql(&server.address, &nobody, GQL_GENERATE, json!({}));
    assert_eq!(denied.error_code().as_deref(), Some("AccessDenied"), "{}", denied.body);

    // Generated once (STARTED), then the report stands (COMPLETE).
    let generated = botocore_calls(
        &server,
        &generator,
        &[
            ("iam", "generate_credential_report", json!({})),
            ("iam", "get_credential_report", json!({})),
        ],
    );
    assert_eq!(ok(&generated, 0)["State"], "STARTED", "{}", generated[0]);
    assert!(ok(&generated, 0)["Description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(error(&generated, 1), ("AccessDenied", 403), "generating is not reading");

    // A user made after the generation is not in the report, nor in the one a COMPLETE keeps.
    let answers = botocore_calls(
        &server,
        &reporter,
        &[
            ("iam", "generate_credential_report", json!({})),
            ("iam", "get_credential_report", json!({})),
        ],
    );
    gql(
        &server.address,
        &root,
        "mutation { createUser(input: {userName: \"later\"}) { user { arn } } }",
        json!({}),
    )
    .data();
    assert_eq!(ok(&answers, 0)["State"], "COMPLETE", "{}", answers[0]);
    let report = ok(&answers, 1);
    assert_eq!(report["ReportFormat"], "text/csv");
    let csv = python_bytes(report["Content"].as_str().unwrap());
    let rows = rows(&csv);
    let mut users: Vec<&str> = rows.keys().map(String::as_str).collect();
    users.sort_unstable();
    assert_eq!(
        users,
        [
            "<root_account>",
            "alice",
            "bob",
            "carol",
            "generator",
            "nobody",
            "reporter"
        ]
    );
    assert_row(
        &rows,
        "<root_account>",
        &[
            ("arn", &format!("arn:aws:iam::{account}:root")),
            ("password_enabled", "not_supported"),
            ("password_last_changed", "not_supported"),
            ("password_next_rotation", "not_supported"),
            ("mfa_active", "false"),
            ("access_key_1_active", "true"),
            ("cert_1_active", "false"),
            ("cert_1_last_rotated", "N/A"),
        ],
    );
    assert_row(
        &rows,
        "alice",
        &[
            ("arn", &format!("arn:aws:iam::{account}:user/alice")),
            ("password_enabled", "true"),
            ("password_last_used", "no_information"),
            ("password_next_rotation", "N/A"),
            ("mfa_active", "true"),
            ("access_key_1_active", "true"),
            ("access_key_1_last_used_date", "N/A"),
            ("access_key_2_active", "false"),
            ("access_key_2_last_rotated", "N/A"),
        ],
    );
    assert!(
        is_report_time(&rows["alice"]["password_last_changed"]),
        "{:?}",
        rows["alice"]
    );
    assert!(is_report_time(&rows["alice"]["access_key_1_last_rotated"]));
    assert!(is_report_time(&rows["alice"]["user_creation_time"]));
    assert_row(
        &rows,
        "bob",
        &[
            ("password_enabled", "false"),
            ("password_last_used", "N/A"),
            ("password_last_changed", "N/A"),
            ("mfa_active", "false"),
            ("access_key_1_active", "true"),
            ("access_key_2_active", "false"),
        ],
    );
    assert!(is_report_time(&rows["bob"]["access_key_2_last_rotated"]));
    assert_row(
        &rows,
        "carol",
        &[
            ("password_enabled", "false"),
            ("mfa_active", "false"),
            ("access_key_1_active", "false"),
            ("access_key_1_last_rotated", "N/A"),
            ("access_key_2_active", "false"),
        ],
    );
    // No secret, and not even a key's id.
    for key in [
        &alice_key,
        &bob_keys[0],
        &bob_keys[1],
        &reporter,
        &nobody,
        &generator,
        &root,
    ] {
        assert!(!csv.contains(&key.secret_access_key), "a secret in the report");
        assert!(!csv.contains(&key.access_key_id), "a key id in the report");
    }
    assert!(!csv.contains("Alice-Pass-123") && !csv.contains(&seed));

    // The aws CLI and GraphQL answer the same report.
    let cli = aws_cli(&server, &["get-credential-report"]);
    let cli_csv = base64::engine::general_purpose::STANDARD
        .decode(cli["Content"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(cli_csv).unwrap(), csv);
    assert_eq!(aws_cli(&server, &["generate-credential-report"])["State"], "COMPLETE");
    let graphql = gql(&server.address, &reporter, GQL_REPORT, json!({}));
    let graphql = &graphql.data()["credentialReport"];
    assert_eq!(graphql["csv"], csv.as_str());
    assert_eq!(graphql["reportFormat"], "text/csv");
    let content = base64::engine::general_purpose::STANDARD
        .decode(graphql["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(content).unwrap(), csv);
    let generated_time = chrono::DateTime::parse_from_rfc3339(graphql["generatedTime"].as_str().unwrap()).unwrap();
    let wire_time = cli["GeneratedTime"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(wire_time).unwrap().timestamp(),
        generated_time.timestamp(),
        "{wire_time}"
    );
    let again = gql(&server.address, &reporter, GQL_GENERATE, json!({}));
    assert_eq!(again.data()["generateCredentialReport"]["state"], "COMPLETE");

    // Every call is in the history, as IAM's read-only calls are, refusals included.
    let gets = records(&server, &root, "GetCredentialReport");
    assert!(gets.iter().all(|r| r["eventSource"] == "iam.amazonaws.com"
        && r["readOnly"] == true
        && r["action"] == "iam:GetCredentialReport"
        && r["resourceArn"] == "*"
        && r["recipientAccountId"] == account.as_str()
        && r["responseElements"].is_null()));
    let codes: Vec<Option<&str>> = gets.iter().map(|r| r["errorCode"].as_str()).collect();
    // Newest first: GraphQL (reporter), CLI (root), reporter, generator, nobody twice, root.
    assert_eq!(
        codes,
        [
            None,
            None,
            None,
            Some("AccessDenied"),
            Some("AccessDenied"),
            Some("AccessDenied"),
            Some("ReportNotPresent")
        ],
        "{gets:#?}"
    );
    assert_eq!(
        gets[0]["userIdentity"]["arn"],
        format!("arn:aws:iam::{account}:user/reporter")
    );
    let generates = records(&server, &root, "GenerateCredentialReport");
    assert_eq!(generates.len(), 6, "{generates:#?}");
    assert!(generates.iter().all(|r| r["action"] == "iam:GenerateCredentialReport"));
}

#[test]
fn a_report_covers_only_the_callers_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root_a = server.root_credentials();
    let account_a = server.account_id();
    gql(
        &server.address,
        &root_a,
        "mutation { createUser(input: {userName: \"only-in-a\"}) { user { arn } } }",
        json!({}),
    )
    .data();
    let created = gql(
        &server.address,
        &root_a,
        "mutation { createAccount(accountAlias: \"tenant-b\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let created = &created.data()["createAccount"];
    let account_b = created["accountId"].as_str().unwrap().to_owned();
    let root_b = Credentials {
        access_key_id: created["rootAccessKey"]["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: created["rootAccessKey"]["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    };

    // A's report exists; B has none of its own until it generates one.
    let a = gql(&server.address, &root_a, GQL_GENERATE, json!({}));
    assert_eq!(a.data()["generateCredentialReport"]["state"], "STARTED");
    let b = gql(&server.address, &root_b, GQL_REPORT, json!({}));
    assert_eq!(b.error_code().as_deref(), Some("ReportNotPresent"), "{}", b.body);
    gql(
        &server.address,
        &root_b,
        "mutation { createUser(input: {userName: \"only-in-b\"}) { user { arn } } }",
        json!({}),
    )
    .data();
    let b = gql(&server.address, &root_b, GQL_GENERATE, json!({}));
    assert_eq!(
        b.data()["generateCredentialReport"]["state"],
        "STARTED",
        "B's own first report"
    );

    let csv_of = |credentials: &Credentials| {
        let reply = gql(&server.address, credentials, GQL_REPORT, json!({}));
        reply.data()["credentialReport"]["csv"].as_str().unwrap().to_owned()
    };
    let (csv_a, csv_b) = (csv_of(&root_a), csv_of(&root_b));
    let (rows_a, rows_b) = (rows(&csv_a), rows(&csv_b));
    assert!(
        rows_a.contains_key("only-in-a") && !rows_a.contains_key("only-in-b"),
        "{csv_a}"
    );
    assert!(
        rows_b.contains_key("only-in-b") && !rows_b.contains_key("only-in-a"),
        "{csv_b}"
    );
    assert_eq!(
        rows_a["<root_account>"]["arn"],
        format!("arn:aws:iam::{account_a}:root")
    );
    assert_eq!(
        rows_b["<root_account>"]["arn"],
        format!("arn:aws:iam::{account_b}:root")
    );
    assert!(!csv_b.contains(&account_a), "{csv_b}");
    assert!(!csv_a.contains(&account_b), "{csv_a}");
}
