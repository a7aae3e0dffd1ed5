//! The aws CLI itself against a real `iamd`: `--endpoint-url` and `AWS_ENDPOINT_URL`, with the
//! root credentials iamd wrote under the profile `gatehouse`, as a user would type it.
//!
//! The CLI is the one `./scripts/test.sh` installs into `target/pyenv` (`GATEHOUSE_AWS_CLI`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::Server;

/// How the CLI is pointed at iamd.
#[derive(Clone, Copy)]
enum Endpoint {
    /// `--endpoint-url`.
    Flag,
    /// `AWS_ENDPOINT_URL`, for every service.
    Env,
    /// `AWS_ENDPOINT_URL_IAM` / `_STS` / `_ORGANIZATIONS`: one variable per service.
    ServiceEnv,
}

/// Runs `aws <args>` against `server` with the root credentials iamd wrote (profile
/// `gatehouse`); the exit status, stdout (JSON when there is any) and stderr.
fn aws(server: &Server, endpoint: Endpoint, args: &[&str]) -> (bool, Value, String) {
    let files = (
        server.data_dir.join("root-credentials"),
        server.data_dir.join("no-config"),
    );
    aws_as(server, "gatehouse", &files, endpoint, args)
}

/// [`aws`] with `profile` from a credentials file and a config file of the test's own.
fn aws_as(
    server: &Server,
    profile: &str,
    (credentials, config): &(std::path::PathBuf, std::path::PathBuf),
    endpoint: Endpoint,
    args: &[&str],
) -> (bool, Value, String) {
    let cli = std::env::var_os("GATEHOUSE_AWS_CLI").unwrap_or_else(|| {
        panic!("GATEHOUSE_AWS_CLI is not set: run the tests with ./scripts/test.sh, which installs the aws CLI into target/pyenv")
    });
    let url = format!("http://{}", server.address);
    let mut command = Command::new(&cli);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", server.data_dir.as_os_str())
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_CONFIG_FILE", config)
        .args(["--profile", profile, "--region", "us-east-1", "--output", "json"]);
    match endpoint {
        Endpoint::Flag => {
            command.args(["--endpoint-url", &url]);
        }
        Endpoint::Env => {
            command.env("AWS_ENDPOINT_URL", &url);
        }
        Endpoint::ServiceEnv => {
            for service in ["IAM", "STS", "ORGANIZATIONS"] {
                command.env(format!("AWS_ENDPOINT_URL_{service}"), &url);
            }
        }
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

/// `aws ...` that must succeed; its JSON output.
fn ok(server: &Server, endpoint: Endpoint, args: &[&str]) -> Value {
    let (ok, output, err) = aws(server, endpoint, args);
    assert!(ok, "aws {}: {err}", args.join(" "));
    output
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
const READ_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

#[test]
fn the_aws_cli_manages_gatehouse() {
    use Endpoint::{Env, Flag, ServiceEnv};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let who = ok(&server, ServiceEnv, &["sts", "get-caller-identity"]);
    assert_eq!(who["Account"], account);
    let created = ok(
        &server,
        Flag,
        &[
            "iam",
            "create-user",
            "--user-name",
            "alice",
            "--path",
            "/eng/",
            "--tags",
            "Key=team,Value=db",
        ],
    );
    assert_eq!(created["User"]["Arn"], format!("arn:aws:iam::{account}:user/eng/alice"));
    for name in ["bob", "carol", "dave", "erin"] {
        ok(&server, ServiceEnv, &["iam", "create-user", "--user-name", name]);
    }
    ok(
        &server,
        Env,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
    );
    let attached = ok(
        &server,
        Env,
        &["iam", "list-attached-user-policies", "--user-name", "alice"],
    );
    assert_eq!(attached["AttachedPolicies"][0]["PolicyName"], "ReadOnlyAccess");

    // Paging: the CLI follows `Marker` by itself (`--page-size`), or stops with a `NextToken`.
    let all = ok(&server, Flag, &["iam", "list-users", "--page-size", "2"]);
    let names: Vec<&str> = all["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave", "erin"]);
    let first = ok(&server, Flag, &["iam", "list-users", "--max-items", "2"]);
    assert_eq!(first["Users"].as_array().unwrap().len(), 2);
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let rest = ok(
        &server,
        Flag,
        &["iam", "list-users", "--max-items", "10", "--starting-token", &token],
    );
    assert_eq!(rest["Users"][0]["UserName"], "carol");
    assert_eq!(rest["Users"].as_array().unwrap().len(), 3);

    // Groups, inline policies, tags.
    ok(&server, Flag, &["iam", "create-group", "--group-name", "devs"]);
    ok(
        &server,
        Flag,
        &["iam", "add-user-to-group", "--group-name", "devs", "--user-name", "bob"],
    );
    ok(
        &server,
        Flag,
        &[
            "iam",
            "put-group-policy",
            "--group-name",
            "devs",
            "--policy-name",
            "reports",
            "--policy-document",
            READ_REPORTS,
        ],
    );
    let group = ok(&server, Flag, &["iam", "get-group", "--group-name", "devs"]);
    assert_eq!(group["Users"][0]["UserName"], "bob");
    let inline = ok(
        &server,
        Flag,
        &[
            "iam",
            "get-group-policy",
            "--group-name",
            "devs",
            "--policy-name",
            "reports",
        ],
    );
    assert_eq!(
        inline["PolicyDocument"]["Statement"][0]["Resource"],
        "arn:aws:s3:::reports/*"
    );
    ok(
        &server,
        Flag,
        &[
            "iam",
            "tag-user",
            "--user-name",
            "bob",
            "--tags",
            "Key=cost-center,Value=42",
        ],
    );
    let tags = ok(&server, Flag, &["iam", "list-user-tags", "--user-name", "bob"]);
    assert_eq!(tags["Tags"][0]["Key"], "cost-center");

    // A role, a managed policy and its versions.
    let role = ok(
        &server,
        Flag,
        &[
            "iam",
            "create-role",
            "--role-name",
            "app",
            "--assume-role-policy-document",
            TRUST,
        ],
    );
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "ec2.amazonaws.com"
    );
    let policy = ok(
        &server,
        Flag,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "reports",
            "--policy-document",
            READ_REPORTS,
        ],
    );
    let policy_arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    let version = ok(
        &server,
        Flag,
        &[
            "iam",
            "create-policy-version",
            "--policy-arn",
            &policy_arn,
            "--policy-document",
            READ_ALL,
            "--set-as-default",
        ],
    );
    assert_eq!(version["PolicyVersion"]["VersionId"], "v2");
    let versions = ok(
        &server,
        Flag,
        &["iam", "list-policy-versions", "--policy-arn", &policy_arn],
    );
    assert_eq!(versions["Versions"].as_array().unwrap().len(), 2);
    ok(
        &server,
        Flag,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            &policy_arn,
        ],
    );
    ok(
        &server,
        Flag,
        &["iam", "create-instance-profile", "--instance-profile-name", "app"],
    );
    ok(
        &server,
        Flag,
        &[
            "iam",
            "add-role-to-instance-profile",
            "--instance-profile-name",
            "app",
            "--role-name",
            "app",
        ],
    );
    let profiles = ok(
        &server,
        Flag,
        &["iam", "list-instance-profiles-for-role", "--role-name", "app"],
    );
    assert_eq!(profiles["InstanceProfiles"][0]["Roles"][0]["RoleName"], "app");

    // Access keys: the secret once, in the answer.
    let key = ok(&server, Flag, &["iam", "create-access-key", "--user-name", "carol"]);
    assert!(key["AccessKey"]["SecretAccessKey"].as_str().unwrap().len() >= 40);
    let keys = ok(&server, Flag, &["iam", "list-access-keys", "--user-name", "carol"]);
    assert_eq!(
        keys["AccessKeyMetadata"][0]["AccessKeyId"],
        key["AccessKey"]["AccessKeyId"]
    );
    assert!(keys["AccessKeyMetadata"][0].get("SecretAccessKey").is_none());

    // What tools read before they write.
    let simulated = ok(
        &server,
        Flag,
        &[
            "iam",
            "simulate-principal-policy",
            "--policy-source-arn",
            &format!("arn:aws:iam::{account}:role/app"),
            "--action-names",
            "s3:GetObject",
            "s3:PutObject",
            "--resource-arns",
            "arn:aws:s3:::reports/q1",
        ],
    );
    let decisions: Vec<&str> = simulated["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "implicitDeny"]);
    let details = ok(
        &server,
        Flag,
        &[
            "iam",
            "get-account-authorization-details",
            "--filter",
            "Role",
            "LocalManagedPolicy",
        ],
    );
    assert_eq!(details["RoleDetailList"][0]["RoleName"], "app");
    assert_eq!(details["Policies"][0]["PolicyName"], "reports");
    assert_eq!(details["UserDetailList"], serde_json::json!([]));
    let keys = ok(
        &server,
        Flag,
        &[
            "iam",
            "get-context-keys-for-custom-policy",
            "--policy-input-list",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#,
        ],
    );
    assert_eq!(keys["ContextKeyNames"], serde_json::json!(["aws:SecureTransport"]));

    // Organizations through the same endpoint.
    let organization = ok(&server, ServiceEnv, &["organizations", "create-organization"]);
    assert!(organization["Organization"]["Id"].as_str().unwrap().starts_with("o-"));
    let root_id = ok(&server, ServiceEnv, &["organizations", "list-roots"])["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = ok(
        &server,
        ServiceEnv,
        &[
            "organizations",
            "create-organizational-unit",
            "--parent-id",
            &root_id,
            "--name",
            "Prod",
        ],
    );
    assert_eq!(unit["OrganizationalUnit"]["Name"], "Prod");
    let made = ok(
        &server,
        ServiceEnv,
        &[
            "organizations",
            "create-account",
            "--email",
            "prod@example.com",
            "--account-name",
            "Production",
        ],
    );
    assert_eq!(made["CreateAccountStatus"]["State"], "SUCCEEDED");
    // The CLI pages through every account by itself.
    let accounts = ok(&server, ServiceEnv, &["organizations", "list-accounts"]);
    assert_eq!(accounts["Accounts"].as_array().unwrap().len(), 2);

    let (ok_, _, err) = aws(&server, Flag, &["iam", "get-user", "--user-name", "nobody"]);
    assert!(!ok_);
    assert!(err.contains("NoSuchEntity"), "{err}");
    let (ok_, _, err) = aws(&server, Flag, &["iam", "delete-role", "--role-name", "app"]);
    assert!(!ok_);
    assert!(err.contains("DeleteConflict"), "{err}");
}

#[test]
fn a_cli_profile_with_role_arn_and_source_profile_assumes_the_role() {
    use Endpoint::ServiceEnv;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    ok(&server, ServiceEnv, &["iam", "create-user", "--user-name", "dev"]);
    ok(
        &server,
        ServiceEnv,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "assume",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ],
    );
    ok(
        &server,
        ServiceEnv,
        &[
            "iam",
            "create-role",
            "--role-name",
            "app",
            "--assume-role-policy-document",
            &trust,
        ],
    );
    ok(
        &server,
        ServiceEnv,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
    );
    let key = ok(&server, ServiceEnv, &["iam", "create-access-key", "--user-name", "dev"]);
    let files = (dir.path().join("cli-credentials"), dir.path().join("cli-config"));
    std::fs::write(
        &files.0,
        format!(
            "[dev]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        &files.1,
        format!("[profile app]\nrole_arn = arn:aws:iam::{account}:role/app\nsource_profile = dev\nrole_session_name = cli\n"),
    )
    .unwrap();
    let (assumed, who, err) = aws_as(&server, "app", &files, ServiceEnv, &["sts", "get-caller-identity"]);
    assert!(assumed, "{err}");
    assert_eq!(who["Arn"], format!("arn:aws:sts::{account}:assumed-role/app/cli"));
    let (listed, users, err) = aws_as(&server, "app", &files, ServiceEnv, &["iam", "list-users"]);
    assert!(listed, "{err}");
    assert_eq!(users["Users"][0]["UserName"], "dev");
    let (created, _, err) = aws_as(
        &server,
        "app",
        &files,
        ServiceEnv,
        &["iam", "create-user", "--user-name", "x"],
    );
    assert!(!created);
    assert!(err.contains("AccessDenied"), "{err}");
}
