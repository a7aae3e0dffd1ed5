//! The AWS wire API through AWS's own client: botocore (the aws CLI's and boto3's library)
//! serializes each call from IAM's and STS's service models and parses iamd's answers with them.
//!
//! The Python side is `aws_sdk_client.py`, run with the interpreter named by `GATEHOUSE_PYTHON`,
//! which `./scripts/test.sh` points at a venv holding botocore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, Server};

/// Makes `calls` (`(service, operation, params)`) through botocore's clients; one
/// `{"response"}` or `{"error"}` each.
fn aws(server: &Server, credentials: &Credentials, calls: &[(&str, &str, Value)]) -> Vec<Value> {
    let python = std::env::var_os("GATEHOUSE_PYTHON").unwrap_or_else(|| {
        panic!(
            "GATEHOUSE_PYTHON is not set: run the tests with ./scripts/test.sh, which creates \
             target/pyenv with botocore and exports GATEHOUSE_PYTHON"
        )
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws_sdk_client.py");
    let spec = json!({
        "endpoint": format!("http://{}", server.address),
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "calls": calls.iter().map(|(service, operation, params)| json!({"service": service, "operation": operation, "params": params})).collect::<Vec<_>>(),
    });
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run GATEHOUSE_PYTHON={python:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "aws_sdk_client.py failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn botocore_manages_users_and_asks_who_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let results = aws(
        &server,
        &root,
        &[
            ("sts", "get_caller_identity", json!({})),
            (
                "iam",
                "create_user",
                json!({"UserName": "alice", "Path": "/eng/", "Tags": [{"Key": "team", "Value": "db + ops @ 1"}]}),
            ),
            ("iam", "create_user", json!({"UserName": "bob"})),
            ("iam", "get_user", json!({"UserName": "alice"})),
            ("iam", "list_users", json!({"MaxItems": 1})),
            ("iam", "get_user", json!({"UserName": "nobody"})),
            ("iam", "create_user", json!({"UserName": "alice"})),
            ("iam", "create_user", json!({"UserName": "bad name!"})),
        ],
    );
    assert_eq!(results[0]["response"]["Account"], account);
    assert_eq!(results[0]["response"]["Arn"], format!("arn:aws:iam::{account}:root"));
    let alice = &results[1]["response"]["User"];
    assert!(results[1].get("response").is_some(), "{results:?}");
    assert_eq!(alice["Arn"], format!("arn:aws:iam::{account}:user/eng/alice"));
    assert!(alice["UserId"].as_str().unwrap().starts_with("AIDA"));
    assert_eq!(alice["Tags"], json!([{"Key": "team", "Value": "db + ops @ 1"}]));
    assert_eq!(results[3]["response"]["User"]["UserName"], "alice");
    assert_eq!(results[3]["response"]["User"]["Path"], "/eng/");
    let page = &results[4]["response"];
    assert_eq!(page["Users"].as_array().unwrap().len(), 1);
    assert_eq!(page["Users"][0]["UserName"], "alice");
    assert_eq!(page["IsTruncated"], true);
    let marker = page["Marker"].as_str().unwrap().to_owned();
    assert_eq!(results[5]["error"]["code"], "NoSuchEntity");
    assert_eq!(results[5]["error"]["status"], 404);
    assert_eq!(results[6]["error"]["code"], "EntityAlreadyExists");
    assert_eq!(results[6]["error"]["status"], 409);
    assert_eq!(results[7]["error"]["code"], "ValidationError");

    // The next page, a deletion, and a caller without permissions.
    let more = aws(
        &server,
        &root,
        &[
            ("iam", "list_users", json!({"MaxItems": 1, "Marker": marker})),
            ("iam", "delete_user", json!({"UserName": "bob"})),
            ("iam", "get_user", json!({"UserName": "bob"})),
        ],
    );
    assert_eq!(more[0]["response"]["Users"][0]["UserName"], "bob");
    assert_eq!(more[0]["response"]["IsTruncated"], false);
    assert!(more[1].get("response").is_some(), "{}", more[1]);
    assert_eq!(more[2]["error"]["code"], "NoSuchEntity");
    let key = gql(
        &server.address,
        &root,
        "mutation { createAccessKey(userName: \"alice\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let alice_key = Credentials {
        access_key_id: key.data()["createAccessKey"]["accessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret_access_key: key.data()["createAccessKey"]["accessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        session_token: None,
    };
    let refused = aws(
        &server,
        &alice_key,
        &[
            ("iam", "create_user", json!({"UserName": "mallory"})),
            ("sts", "get_caller_identity", json!({})),
        ],
    );
    assert_eq!(refused[0]["error"]["code"], "AccessDenied");
    assert_eq!(refused[0]["error"]["status"], 403);
    assert_eq!(
        refused[1]["response"]["Arn"],
        format!("arn:aws:iam::{account}:user/eng/alice")
    );

    // One implementation behind both doors: the wire calls are in the same history, with AWS's
    // request parameters.
    let history = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"CreateUser\"}, first: 10) { edges { node { requestParameters errorCode userIdentity { arn } } } } }",
        json!({}),
    );
    let edges = history.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(edges
        .iter()
        .any(|e| e["node"]["requestParameters"]["userName"] == "alice"
            && e["node"]["requestParameters"]["path"] == "/eng/"
            && e["node"]["errorCode"].is_null()));
    assert!(edges
        .iter()
        .any(|e| e["node"]["requestParameters"]["userName"] == "mallory" && e["node"]["errorCode"] == "AccessDenied"));
}
