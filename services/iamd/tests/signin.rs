//! People's credentials against a real `iamd`: console passwords under a password policy
//! (botocore's IAM calls), password sign-in on `POST /v1/signin` (reset flow, reuse refused,
//! no user enumeration, throttling), virtual MFA devices with TOTP codes computed by an
//! independent implementation (Python's standard library), MFA in sign-in and STS, the records
//! of it all, and no password, seed or code in any file or log line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, fresh_step, gql, post_path, totp, Reply, Server};

fn ok(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

fn error(results: &[Value], i: usize) -> &str {
    results[i]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("call {i} should have failed: {}", results[i]))
}

fn sign_in(server: &Server, body: Value) -> Reply {
    post_path(
        &server.address,
        "/v1/signin",
        &[("content-type".to_owned(), "application/json".to_owned())],
        &body.to_string(),
    )
}

fn session_of(reply: &Reply) -> Credentials {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let c = &reply.body["credentials"];
    Credentials {
        access_key_id: c["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: Some(c["sessionToken"].as_str().unwrap().to_owned()),
    }
}

fn code_of(reply: &Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or_default()
}

/// Every byte `iamd` keeps on disk, and its log.
fn everything_written(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn assert_absent(haystack: &[u8], secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !haystack.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` was written to disk or to the log"
        );
    }
}

fn audit(server: &Server, root: &Credentials, event_name: &str) -> Vec<Value> {
    let reply = gql(
        &server.address,
        root,
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 50) { edges { node { cloudTrailRecord } } } }",
        json!({"f": {"eventName": event_name}}),
    );
    reply.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["cloudTrailRecord"].clone())
        .collect()
}

/// Starts `iamd` logging at debug level into `<dir>/iamd.log`.
fn server_with_log(dir: &Path) -> Server {
    Server::start_logging(dir, &dir.join("iamd.log"))
}

#[test]
fn passwords_follow_the_policy_reset_and_reuse_rules_and_sign_in_gives_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_log(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let (first, second, third) = ("Correct-horse-1", "Second-horse-22", "Third-horse-333");

    let results = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "alice"})),
            (
                "iam",
                "update_account_password_policy",
                json!({"MinimumPasswordLength": 12, "RequireNumbers": true, "RequireSymbols": true,
                       "PasswordReusePrevention": 2, "AllowUsersToChangePassword": true}),
            ),
            ("iam", "get_account_password_policy", json!({})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "alice", "Password": "short-1"}),
            ),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "alice", "Password": first, "PasswordResetRequired": true}),
            ),
            ("iam", "get_login_profile", json!({"UserName": "alice"})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "alice", "Password": first}),
            ),
            ("iam", "get_login_profile", json!({"UserName": "nobody"})),
            ("iam", "delete_user", json!({"UserName": "alice"})),
        ],
    );
    let policy = &ok(&results, 2)["PasswordPolicy"];
    assert_eq!(policy["MinimumPasswordLength"], 12);
    assert_eq!(policy["PasswordReusePrevention"], 2);
    assert_eq!(policy["ExpirePasswords"], false);
    assert_eq!(error(&results, 3), "PasswordPolicyViolation");
    assert_eq!(ok(&results, 4)["LoginProfile"]["PasswordResetRequired"], true);
    assert_eq!(ok(&results, 5)["LoginProfile"]["UserName"], "alice");
    assert_eq!(error(&results, 6), "EntityAlreadyExists");
    assert_eq!(error(&results, 7), "NoSuchEntity");
    assert_eq!(
        error(&results, 8),
        "DeleteConflict",
        "a user with a password is not deleted"
    );

    // The reset flow: the right password alone is not enough, and the new one obeys the policy.
    let attempt = |password: &str, new_password: Option<&str>| {
        let mut body = json!({"account": account, "userName": "alice", "password": password});
        if let Some(new_password) = new_password {
            body["newPassword"] = json!(new_password);
        }
        sign_in(&server, body)
    };
    let must_change = attempt(first, None);
    assert_eq!(
        (must_change.status, code_of(&must_change)),
        (403, "PasswordResetRequired")
    );
    let reused = attempt(first, Some(first));
    assert_eq!((reused.status, code_of(&reused)), (400, "PasswordPolicyViolation"));
    let weak = attempt(first, Some("weakweakweakweak"));
    assert_eq!(code_of(&weak), "PasswordPolicyViolation");
    let session = session_of(&attempt(first, Some(second)));
    assert!(session.access_key_id.starts_with("ASIA"));

    // The session is alice: it signs requests like any credentials.
    let results = botocore_calls(
        &server,
        &session,
        &[
            ("sts", "get_caller_identity", json!({})),
            (
                "iam",
                "change_password",
                json!({"OldPassword": "wrong-Password-1", "NewPassword": third}),
            ),
            (
                "iam",
                "change_password",
                json!({"OldPassword": second, "NewPassword": first}),
            ),
            (
                "iam",
                "change_password",
                json!({"OldPassword": second, "NewPassword": third}),
            ),
            ("iam", "list_users", json!({})),
        ],
    );
    assert_eq!(ok(&results, 0)["Arn"], format!("arn:aws:iam::{account}:user/alice"));
    assert_eq!(error(&results, 1), "AccessDenied", "the old password must match");
    assert_eq!(
        error(&results, 2),
        "PasswordPolicyViolation",
        "one of the last two passwords"
    );
    ok(&results, 3);
    assert_eq!(error(&results, 4), "AccessDenied", "alice has no IAM permissions");

    // Old passwords no longer work; a wrong password, an unknown user and an unknown account
    // are one answer.
    let wrong = attempt(second, None);
    let unknown_user = sign_in(
        &server,
        json!({"account": account, "userName": "mallory", "password": third}),
    );
    let unknown_account = sign_in(
        &server,
        json!({"account": "000000000000", "userName": "alice", "password": third}),
    );
    for reply in [&wrong, &unknown_user, &unknown_account] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.body, wrong.body);
    }
    let by_alias_less = session_of(&attempt(third, None));
    assert_ne!(by_alias_less.access_key_id, session.access_key_id);

    let results = botocore_calls(&server, &root, &[("iam", "get_user", json!({"UserName": "alice"}))]);
    assert!(ok(&results, 0)["User"]["PasswordLastUsed"].is_string());

    // Every attempt is recorded as CloudTrail records console sign-ins.
    let records = audit(&server, &root, "ConsoleLogin");
    let outcome = |r: &Value| r["responseElements"]["ConsoleLogin"].as_str().unwrap().to_owned();
    assert!(records.iter().all(|r| r["eventSource"] == "signin.amazonaws.com"));
    assert!(records.iter().any(|r| outcome(r) == "Success"));
    let hidden = records
        .iter()
        .find(|r| outcome(r) == "Failure" && r["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert!(
        hidden.is_some(),
        "an unknown user's attempt hides the name: {records:?}"
    );
    assert!(records.iter().any(|r| outcome(r) == "Failure"
        && r["userIdentity"]["userName"] == "alice"
        && r["errorMessage"] == "Failed authentication"));
    let changes = audit(&server, &root, "ChangePassword");
    assert!(!changes.is_empty());

    // No password appears anywhere Gatehouse writes.
    let mut written = everything_written(dir.path());
    written.extend(std::fs::read(dir.path().join("iamd.log")).unwrap());
    assert_absent(
        &written,
        &[
            first,
            second,
            third,
            "short-1",
            "wrong-Password-1",
            &session.secret_access_key,
        ],
    );
}

#[test]
fn sign_in_is_throttled_per_user_after_five_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let results = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "carol"})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "carol", "Password": "Carols-Pass-1"}),
            ),
            ("iam", "create_user", json!({"UserName": "dave"})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "dave", "Password": "Daves-Pass-1"}),
            ),
        ],
    );
    ok(&results, 3);
    let carol = |password: &str| {
        sign_in(
            &server,
            json!({"account": account, "userName": "carol", "password": password}),
        )
    };
    for _ in 0..5 {
        assert_eq!(carol("guess-Guess-1").status, 401);
    }
    let throttled = carol("Carols-Pass-1");
    assert_eq!(
        (throttled.status, code_of(&throttled)),
        (429, "Throttling"),
        "{}",
        throttled.body
    );
    assert!(throttled.header("retry-after").is_some());
    // Another user from the same address is not locked out by carol's failures.
    let dave = sign_in(
        &server,
        json!({"account": account, "userName": "dave", "password": "Daves-Pass-1"}),
    );
    assert_eq!(dave.status, 200, "{}", dave.body);
}

#[test]
fn virtual_mfa_devices_gate_sign_in_and_sts_and_each_code_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_log(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let role_arn = format!("arn:aws:iam::{account}:role/needs-mfa");
    let mfa_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]});
    let bob_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "iam:ListUsers"], "Resource": "*"}]});
    let results = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "bob"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "bob", "PolicyName": "p", "PolicyDocument": bob_policy.to_string()}),
            ),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "bob", "Password": "Bobs-Pass-123"}),
            ),
            ("iam", "create_access_key", json!({"UserName": "bob"})),
            (
                "iam",
                "create_role",
                json!({"RoleName": "needs-mfa", "AssumeRolePolicyDocument": mfa_trust.to_string()}),
            ),
            (
                "iam",
                "create_virtual_mfa_device",
                json!({"VirtualMFADeviceName": "bob-phone", "Path": "/people/", "Tags": [{"Key": "kind", "Value": "phone"}]}),
            ),
            (
                "iam",
                "list_virtual_mfa_devices",
                json!({"AssignmentStatus": "Unassigned"}),
            ),
        ],
    );
    let key = &ok(&results, 3)["AccessKey"];
    let bob = Credentials {
        access_key_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    };
    let device = &ok(&results, 5)["VirtualMFADevice"];
    let serial = device["SerialNumber"].as_str().unwrap().to_owned();
    assert_eq!(serial, format!("arn:aws:iam::{account}:mfa/people/bob-phone"));
    // botocore decodes the blob to bytes; the script prints them as Python shows bytes.
    let seed = device["Base32StringSeed"]
        .as_str()
        .unwrap()
        .trim_start_matches("b'")
        .trim_end_matches('\'')
        .to_owned();
    assert_eq!(seed.len(), 32, "160 bits in Base32: {seed}");
    let unassigned = ok(&results, 6)["VirtualMFADevices"].as_array().unwrap().clone();
    assert_eq!(unassigned.len(), 1);
    assert!(unassigned[0].get("Base32StringSeed").is_none(), "a seed is shown once");

    // Steps: enabling takes two consecutive codes, and each later use needs a later step.
    let now = fresh_step(12);
    let codes = totp(&seed, &[now - 3, now - 2, now - 1, now, now + 1, now + 3]);
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "enable_mfa_device",
                json!({"UserName": "bob", "SerialNumber": serial, "AuthenticationCode1": codes[0], "AuthenticationCode2": codes[0]}),
            ),
            (
                "iam",
                "enable_mfa_device",
                json!({"UserName": "bob", "SerialNumber": serial, "AuthenticationCode1": codes[0], "AuthenticationCode2": codes[1]}),
            ),
            ("iam", "list_mfa_devices", json!({"UserName": "bob"})),
            ("iam", "list_mfa_device_tags", json!({"SerialNumber": serial})),
            ("iam", "delete_virtual_mfa_device", json!({"SerialNumber": serial})),
        ],
    );
    assert_eq!(
        error(&results, 0),
        "InvalidAuthenticationCode",
        "not two consecutive codes"
    );
    ok(&results, 1);
    assert_eq!(ok(&results, 2)["MFADevices"][0]["SerialNumber"], serial.as_str());
    assert_eq!(ok(&results, 3)["Tags"][0]["Key"], "kind");
    assert_eq!(error(&results, 4), "DeleteConflict");

    // Sign-in: the password alone is not enough; a stale, future or reused code is refused.
    let bob_signs_in = |code: Option<&str>| {
        let mut body = json!({"account": account, "userName": "bob", "password": "Bobs-Pass-123"});
        if let Some(code) = code {
            body["mfaCode"] = json!(code);
        }
        sign_in(&server, body)
    };
    let no_code = bob_signs_in(None);
    assert_eq!((no_code.status, code_of(&no_code)), (401, "MFARequired"));
    assert_eq!(bob_signs_in(Some(&codes[1])).status, 401, "the enabling code again");
    assert_eq!(bob_signs_in(Some(&codes[5])).status, 401, "three steps ahead");
    let signed_in = bob_signs_in(Some(&codes[2]));
    assert_eq!(signed_in.body["mfaUsed"], true, "{}", signed_in.body);
    let console = session_of(&signed_in);
    assert_eq!(bob_signs_in(Some(&codes[2])).status, 401, "a code works once");

    // STS: GetSessionToken with MFA may call IAM; AssumeRole meets the trust policy's MFA rule.
    let results = botocore_calls(
        &server,
        &bob,
        &[
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role_arn, "RoleSessionName": "no-mfa"}),
            ),
            (
                "sts",
                "get_session_token",
                json!({"SerialNumber": serial, "TokenCode": codes[2]}),
            ),
            (
                "sts",
                "get_session_token",
                json!({"SerialNumber": serial, "TokenCode": codes[3]}),
            ),
            (
                "sts",
                "assume_role",
                json!({"RoleArn": role_arn, "RoleSessionName": "with-mfa", "SerialNumber": serial, "TokenCode": codes[4]}),
            ),
        ],
    );
    assert_eq!(error(&results, 0), "AccessDenied", "the trust policy wants MFA");
    assert_eq!(error(&results, 1), "AccessDenied", "a used code");
    let mfa_session = &ok(&results, 2)["Credentials"];
    ok(&results, 3);
    let mfa_session = Credentials {
        access_key_id: mfa_session["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: mfa_session["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: Some(mfa_session["SessionToken"].as_str().unwrap().to_owned()),
    };
    let results = botocore_calls(&server, &mfa_session, &[("iam", "list_users", json!({}))]);
    ok(&results, 0);
    let results = botocore_calls(&server, &console, &[("iam", "list_users", json!({}))]);
    ok(&results, 0);

    // The device leaves as AWS requires: deactivated, then deleted, then the user.
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "deactivate_mfa_device",
                json!({"UserName": "bob", "SerialNumber": serial}),
            ),
            ("iam", "delete_virtual_mfa_device", json!({"SerialNumber": serial})),
            ("iam", "list_virtual_mfa_devices", json!({})),
        ],
    );
    ok(&results, 1);
    assert_eq!(ok(&results, 2)["VirtualMFADevices"].as_array().unwrap().len(), 0);

    // Records: the device's creation names its serial number, never the seed; codes are
    // not request parameters.
    let created = audit(&server, &root, "CreateVirtualMFADevice");
    assert_eq!(
        created[0]["responseElements"]["virtualMFADevice"]["serialNumber"],
        serial.as_str()
    );
    let mut written = everything_written(dir.path());
    written.extend(std::fs::read(dir.path().join("iamd.log")).unwrap());
    assert_absent(&written, &[&seed, "Bobs-Pass-123", &console.secret_access_key]);
    let codes_used: Vec<&str> = codes.iter().map(String::as_str).collect();
    let enable_records = audit(&server, &root, "EnableMFADevice").to_owned();
    let text = serde_json::to_string(&enable_records).unwrap();
    for code in codes_used {
        assert!(!text.contains(&format!("\"{code}\"")), "a code in a record: {text}");
    }
}

#[test]
fn an_account_is_named_by_id_or_alias_and_both_share_the_failure_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let created = gql(
        &server.address,
        &root,
        "mutation { createAccount(accountAlias: \"acme-corp\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let account = created.data()["createAccount"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = &created.data()["createAccount"]["rootAccessKey"];
    let acme_root = Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    };
    let results = botocore_calls(
        &server,
        &acme_root,
        &[
            ("iam", "create_user", json!({"UserName": "erin"})),
            (
                "iam",
                "create_login_profile",
                json!({"UserName": "erin", "Password": "Erins-Pass-1"}),
            ),
        ],
    );
    ok(&results, 1);
    let erin = |account: &str, password: &str| {
        sign_in(
            &server,
            json!({"account": account, "userName": "erin", "password": password}),
        )
    };
    let by_alias = erin("acme-corp", "Erins-Pass-1");
    assert_eq!(by_alias.status, 200, "{}", by_alias.body);
    assert_eq!(by_alias.body["user"]["accountId"], account.as_str());
    for i in 0..5 {
        let name = if i % 2 == 0 { "acme-corp" } else { account.as_str() };
        assert_eq!(erin(name, "wrong-Pass-1").status, 401);
    }
    let throttled = erin(&account, "Erins-Pass-1");
    assert_eq!(
        throttled.status, 429,
        "five failures by alias and id together: {}",
        throttled.body
    );
}
