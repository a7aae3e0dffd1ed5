//! End-to-end tests of the `iamctl` binary: real process, real files and pipes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn iamctl(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may refuse its arguments and exit before reading stdin: a closed pipe is fine.
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn simulates_the_example_request_from_a_file() {
    let out = iamctl(
        &[
            "simulate-custom-policy",
            "--input",
            &example("simulate-custom-policy.json"),
        ],
        "",
    );
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let decisions: Vec<(String, String, String)> = json["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["EvalActionName"].as_str().unwrap().to_string(),
                r["EvalResourceName"].as_str().unwrap().to_string(),
                r["EvalDecision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("s3:GetObject", "arn:aws:s3:::reports/alice/q3.csv", "allowed"),
        ("s3:GetObject", "arn:aws:s3:::reports/bob/q3.csv", "implicitDeny"),
        ("s3:DeleteObject", "arn:aws:s3:::reports/alice/q3.csv", "explicitDeny"),
        ("s3:DeleteObject", "arn:aws:s3:::reports/bob/q3.csv", "explicitDeny"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, r, d)| (a.to_string(), r.to_string(), d.to_string()))
        .collect();
    assert_eq!(decisions, expected);
    let allowed = &json["EvaluationResults"][0]["MatchedStatements"][0];
    assert_eq!(allowed["SourcePolicyId"], "PolicyInputList.1");
    assert_eq!(allowed["SourcePolicyType"], "IAM Policy");
    assert_eq!(allowed["StartPosition"]["Line"], 1);
}

#[test]
fn reads_standard_input() {
    let request = r#"{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"iam:Get*\",\"Resource\":\"*\"}}"],"ActionNames":["iam:GetUser","iam:CreateUser"]}"#;
    let out = iamctl(&["simulate-custom-policy", "--input", "-"], request);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["EvaluationResults"][0]["EvalDecision"], "allowed");
    assert_eq!(json["EvaluationResults"][1]["EvalDecision"], "implicitDeny");
}

#[test]
fn malformed_policy_exits_2_naming_policy_and_position() {
    let request = r#"{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}","{\n \"Statement\": {\"Effect\": \"Permit\", \"Action\": \"*\"}\n}"],"ActionNames":["s3:GetObject"]}"#;
    let out = iamctl(&["simulate-custom-policy", "--input", "-"], request);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PolicyInputList.2"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("MalformedPolicyDocument"), "{stderr}");
}

#[test]
fn malformed_request_exits_2() {
    for input in [
        "not json",
        r#"{"PolicyInputList":[],"ActionNames":["s3:GetObject"]}"#,
        r#"{"Bogus":1}"#,
    ] {
        let out = iamctl(&["simulate-custom-policy", "--input", "-"], input);
        assert_eq!(out.status.code(), Some(2), "input {input}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
    let out = iamctl(&["simulate-custom-policy", "--input", "/nonexistent/file.json"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_policy_prints_access_analyzer_findings() {
    let policy = "{\n  \"Statement\": [{\"Sid\": \"\", \"Effect\": \"Allow\", \"Action\": \"iam:PassRole\", \"Resource\": \"*\"}]\n}";
    let out = iamctl(
        &["validate-policy", "--input", "-", "--policy-type", "IDENTITY_POLICY"],
        policy,
    );
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["issueCode"].as_str().unwrap())
        .collect();
    for expected in ["MISSING_VERSION", "EMPTY_SID_VALUE", "PASS_ROLE_WITH_STAR_IN_RESOURCE"] {
        assert!(codes.contains(&expected), "{expected} missing from {codes:?}");
    }
    let pass_role = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["issueCode"] == "PASS_ROLE_WITH_STAR_IN_RESOURCE")
        .unwrap();
    assert_eq!(pass_role["findingType"], "SECURITY_WARNING");
    assert_eq!(pass_role["locations"][0]["span"]["start"]["line"], 2);
}

#[test]
fn validate_policy_refuses_malformed_documents_and_kinds() {
    let out = iamctl(
        &["validate-policy", "--input", "-"],
        "{\"Statement\": [{\"Effect\": \"Allow\",\n \"Action\": \"*\", \"Bogus\": 1}]}",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Bogus") && stderr.contains("line 2"), "{stderr}");
    let out = iamctl(&["validate-policy", "--input", "-", "--policy-type", "NOPE"], "{}");
    assert_eq!(out.status.code(), Some(2));
}
