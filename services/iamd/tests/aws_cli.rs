//! The aws CLI itself against a real `iamd`: `--endpoint-url` and `AWS_ENDPOINT_URL`, with the
//! root credentials iamd wrote under the profile `gatehouse`, as a user would type it.
//!
//! The CLI is the one `./scripts/test.sh` installs into `target/pyenv` (`GATEHOUSE_AWS_CLI`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::Server;

/// Runs `aws <args>` against `server`; the exit status, stdout (JSON when there is any) and stderr.
fn aws(server: &Server, endpoint_from_env: bool, args: &[&str]) -> (bool, Value, String) {
    let cli = std::env::var_os("GATEHOUSE_AWS_CLI").unwrap_or_else(|| {
        panic!("GATEHOUSE_AWS_CLI is not set: run the tests with ./scripts/test.sh, which installs the aws CLI into target/pyenv")
    });
    let endpoint = format!("http://{}", server.address);
    let mut command = Command::new(&cli);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", server.data_dir.as_os_str())
        .env("AWS_SHARED_CREDENTIALS_FILE", server.data_dir.join("root-credentials"))
        .env("AWS_CONFIG_FILE", server.data_dir.join("no-config"))
        .args(["--profile", "gatehouse", "--region", "us-east-1", "--output", "json"]);
    if endpoint_from_env {
        command.env("AWS_ENDPOINT_URL", &endpoint);
    } else {
        command.args(["--endpoint-url", &endpoint]);
    }
    let output = command.args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout).unwrap_or(Value::String(stdout))
    };
    (
        output.status.success(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_aws_cli_manages_gatehouse() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let (ok, who, err) = aws(&server, false, &["sts", "get-caller-identity"]);
    assert!(ok, "{err}");
    assert_eq!(who["Account"], account);
    let (ok, created, err) = aws(
        &server,
        false,
        &["iam", "create-user", "--user-name", "alice", "--path", "/eng/"],
    );
    assert!(ok, "{err}");
    assert_eq!(created["User"]["Arn"], format!("arn:aws:iam::{account}:user/eng/alice"));
    let (ok, _, err) = aws(
        &server,
        true,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
    );
    assert!(ok, "{err}");
    let (ok, attached, err) = aws(
        &server,
        true,
        &["iam", "list-attached-user-policies", "--user-name", "alice"],
    );
    assert!(ok, "{err}");
    assert_eq!(attached["AttachedPolicies"][0]["PolicyName"], "ReadOnlyAccess");
    let (ok, listed, err) = aws(&server, true, &["iam", "list-users"]);
    assert!(ok, "{err}");
    assert_eq!(listed["Users"][0]["UserName"], "alice");
    let (ok, _, err) = aws(&server, false, &["iam", "get-user", "--user-name", "nobody"]);
    assert!(!ok);
    assert!(err.contains("NoSuchEntity"), "{err}");
}
