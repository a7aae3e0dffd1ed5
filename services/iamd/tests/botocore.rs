//! Interoperability with AWS's own signer: requests signed by botocore (the signer of the AWS CLI
//! and boto3), in the header and the presigned form, authenticate against a real `iamd`.
//!
//! The Python side is `botocore_client.py`, run with the interpreter named by `GATEHOUSE_PYTHON`,
//! which `./scripts/test.sh` points at a venv holding botocore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, run_python, Server};

const CREATE_USER: &str = "mutation($n: String!) { createUser(input: {userName: $n}) { user { userName arn } } }";
const GET_USER: &str = "query($n: String!) { user(userName: $n) { userName arn } }";
const WHO_AM_I: &str = "{ callerIdentity { arn } }";

/// One request for the script: signing form, GraphQL query, variables.
fn request(form: &str, query: &str, variables: Value) -> Value {
    json!({"form": form, "query": query, "variables": variables})
}

/// Sends `requests` to `server` signed by botocore with `credentials`; one `{status, body}` each.
fn botocore(server: &Server, credentials: &Credentials, requests: &[Value]) -> Vec<Value> {
    let spec = json!({
        "url": format!("http://{}/graphql", server.address),
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "session_token": credentials.session_token,
        "requests": requests,
    });
    let replies: Vec<Value> = serde_json::from_value(run_python("botocore_client.py", &spec)).unwrap();
    assert_eq!(replies.len(), requests.len(), "{replies:?}");
    replies
}

/// The reply's `data`, after checking it is a 200 without errors.
fn data(reply: &Value) -> &Value {
    assert_eq!(reply["status"], 200, "{reply}");
    assert!(reply["body"].get("errors").is_none(), "unexpected errors: {reply}");
    &reply["body"]["data"]
}

fn error_code(reply: &Value) -> Option<&str> {
    reply["body"]["errors"][0]["extensions"]["code"].as_str()
}

#[test]
fn botocore_signatures_are_accepted_in_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();

    let replies = botocore(
        &server,
        &root,
        &[
            request("header", WHO_AM_I, json!({})),
            request("header", CREATE_USER, json!({"n": "boto-header"})),
            request("header", GET_USER, json!({"n": "boto-header"})),
            request("query", CREATE_USER, json!({"n": "boto-query"})),
            request("query", GET_USER, json!({"n": "boto-query"})),
        ],
    );
    let root_arn = data(&replies[0])["callerIdentity"]["arn"].as_str().unwrap();
    assert!(root_arn.ends_with(":root"), "{root_arn}");
    let account = root_arn.split(':').nth(4).unwrap();
    for (created, fetched, name) in [
        (&replies[1], &replies[2], "boto-header"),
        (&replies[3], &replies[4], "boto-query"),
    ] {
        let arn = format!("arn:aws:iam::{account}:user/{name}");
        assert_eq!(data(created)["createUser"]["user"]["arn"], arn.as_str());
        assert_eq!(data(fetched)["user"], json!({"userName": name, "arn": arn}));
    }
}

#[test]
fn botocore_requests_with_a_wrong_secret_or_an_unsigned_body_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let wrong_secret = Credentials {
        secret_access_key: "x".repeat(40),
        ..root.clone()
    };

    let refused = botocore(
        &server,
        &wrong_secret,
        &[
            request("header", CREATE_USER, json!({"n": "wrong-header"})),
            request("query", CREATE_USER, json!({"n": "wrong-query"})),
        ],
    );
    // A presigned URL that signed no body cannot carry one: the payload is part of the signature.
    let unbound = botocore(
        &server,
        &root,
        &[request("query-unbound", CREATE_USER, json!({"n": "unbound"}))],
    );
    for reply in refused.iter().chain(&unbound) {
        assert_eq!(reply["status"], 403, "{reply}");
        assert_eq!(error_code(reply), Some("SignatureDoesNotMatch"), "{reply}");
    }
    for name in ["wrong-header", "wrong-query", "unbound"] {
        let lookup = gql(&server.address, &root, GET_USER, json!({"n": name}));
        assert_eq!(
            lookup.error_code().as_deref(),
            Some("NoSuchEntity"),
            "{name}: {}",
            lookup.body
        );
    }
}

#[test]
fn botocore_signatures_authenticate_the_user_who_signed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    gql(&server.address, &root, CREATE_USER, json!({"n": "plain"})).data();
    let key = gql(
        &server.address,
        &root,
        "mutation { createAccessKey(userName: \"plain\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let key = &key.data()["createAccessKey"]["accessKey"];
    let plain = Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_string(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_string(),
        session_token: None,
    };

    let replies = botocore(
        &server,
        &plain,
        &[
            request("header", WHO_AM_I, json!({})),
            request("header", CREATE_USER, json!({"n": "by-plain-header"})),
            request("query", WHO_AM_I, json!({})),
            request("query", CREATE_USER, json!({"n": "by-plain-query"})),
        ],
    );
    let plain_arn = gql(&server.address, &root, GET_USER, json!({"n": "plain"})).data()["user"]["arn"].clone();
    for pair in replies.chunks(2) {
        assert_eq!(data(&pair[0])["callerIdentity"]["arn"], plain_arn);
        // Authenticated (HTTP 200, not a signature error), then denied: `plain` has no policy.
        assert_eq!(pair[1]["status"], 200, "{}", pair[1]);
        assert_eq!(error_code(&pair[1]), Some("AccessDenied"), "{}", pair[1]);
        let message = pair[1]["body"]["errors"][0]["message"].as_str().unwrap();
        let who = format!(
            "User: {} is not authorized to perform: iam:CreateUser",
            plain_arn.as_str().unwrap()
        );
        assert!(message.starts_with(&who), "{message}");
    }
    for name in ["by-plain-header", "by-plain-query"] {
        let lookup = gql(&server.address, &root, GET_USER, json!({"n": name}));
        assert_eq!(
            lookup.error_code().as_deref(),
            Some("NoSuchEntity"),
            "{name}: {}",
            lookup.body
        );
    }
}

#[test]
fn botocore_signs_with_session_credentials_in_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:user/dev")}, "Action": "sts:AssumeRole"}]});
    let setup = support::botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "dev"})),
            ("iam", "create_access_key", json!({"UserName": "dev"})),
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "AssumeRolePolicyDocument": trust.to_string()}),
            ),
            (
                "iam",
                "attach_role_policy",
                json!({"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
        ],
    );
    let key = &setup[1]["response"]["AccessKey"];
    let dev = Credentials {
        access_key_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    };
    let assumed = support::botocore_calls(
        &server,
        &dev,
        &[(
            "sts",
            "assume_role",
            json!({"RoleArn": format!("arn:aws:iam::{account}:role/app"), "RoleSessionName": "signed"}),
        )],
    );
    let c = &assumed[0]["response"]["Credentials"];
    let session = Credentials {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: Some(c["SessionToken"].as_str().unwrap().to_owned()),
    };
    let query = "{ callerIdentity { arn } users { edges { node { userName } } } }";
    let replies = botocore(
        &server,
        &session,
        &[request("header", query, json!({})), request("query", query, json!({}))],
    );
    for reply in &replies {
        let answered = data(reply);
        assert_eq!(
            answered["callerIdentity"]["arn"],
            format!("arn:aws:sts::{account}:assumed-role/app/signed")
        );
        assert_eq!(answered["users"]["edges"][0]["node"]["userName"], "dev");
    }
    // The session may read (ReadOnlyAccess) but not write.
    let write = botocore(
        &server,
        &session,
        &[request(
            "header",
            "mutation { createUser(input: {userName: \"x\"}) { sequence } }",
            json!({}),
        )],
    );
    assert_eq!(error_code(&write[0]), Some("AccessDenied"));
    server.terminate();
}
