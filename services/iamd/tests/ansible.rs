//! Infrastructure as code against a real `iamd`: the playbook `tests/ansible/site.yml` drives
//! Ansible's `amazon.aws` IAM modules (users, groups, roles, managed and inline policies,
//! attachments, an instance profile), which call IAM through boto3 with an `endpoint_url`.
//!
//! Applied, it creates everything; applied again it changes nothing; drift made outside it is
//! repaired by the next apply; `state=absent` removes everything, and again changes nothing.
//! `ansible-playbook` is the one `./scripts/test.sh` installs into `target/pyenv`
//! (`GATEHOUSE_ANSIBLE_PLAYBOOK`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, Server};

/// One `ansible-playbook` run's outcome: tasks changed and failed, and the JSON report.
struct Run {
    changed: u64,
    failures: u64,
    report: Value,
}

/// Runs the playbook against `server` with `state`; Ansible's own files stay under `scratch`.
fn apply(server: &Server, credentials: &Credentials, scratch: &Path, state: &str) -> Run {
    let playbook = std::env::var_os("GATEHOUSE_ANSIBLE_PLAYBOOK").unwrap_or_else(|| {
        panic!("GATEHOUSE_ANSIBLE_PLAYBOOK is not set: run the tests with ./scripts/test.sh, which installs Ansible into target/pyenv")
    });
    let home = scratch.join("ansible");
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("ansible.cfg");
    std::fs::write(&config, "").unwrap();
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible/site.yml");
    let output = Command::new(&playbook)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", home.join("remote-tmp"))
        .env("ANSIBLE_CONFIG", &config)
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        .env("PYTHONWARNINGS", "ignore")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .args(["-i", "localhost,", "-c", "local"])
        .arg(&site)
        .args(["-e", &format!("endpoint_url=http://{}", server.address)])
        .args(["-e", &format!("state={state}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "ansible-playbook printed no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let stats = &report["stats"]["localhost"];
    let run = Run {
        changed: stats["changed"].as_u64().unwrap_or_default(),
        failures: stats["failures"].as_u64().unwrap_or_default() + stats["unreachable"].as_u64().unwrap_or_default(),
        report,
    };
    assert_eq!(
        run.failures,
        0,
        "state={state}: failed tasks: {}",
        failed_tasks(&run.report)
    );
    assert!(
        output.status.success(),
        "ansible-playbook exited with {}",
        output.status
    );
    run
}

/// The failed tasks of a report, with their messages, for assertion messages.
fn failed_tasks(report: &Value) -> String {
    let mut failed = Vec::new();
    for play in report["plays"].as_array().into_iter().flatten() {
        for task in play["tasks"].as_array().into_iter().flatten() {
            let result = &task["hosts"]["localhost"];
            if result["failed"] == true {
                failed.push(format!("{}: {}", task["task"]["name"], result));
            }
        }
    }
    failed.join("\n")
}

/// The names of the tasks that changed something.
fn changed_tasks(run: &Run) -> Vec<String> {
    let mut changed = Vec::new();
    for play in run.report["plays"].as_array().into_iter().flatten() {
        for task in play["tasks"].as_array().into_iter().flatten() {
            if task["hosts"]["localhost"]["changed"] == true {
                changed.push(task["task"]["name"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    changed
}

fn response(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

#[test]
fn ansible_applies_converges_repairs_drift_and_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let policy_arn = format!("arn:aws:iam::{account}:policy/gatehouse/ghans-read-reports");

    let first = apply(&server, &root, scratch.path(), "present");
    assert!(
        first.changed >= 9,
        "the first apply creates everything: {:?}",
        changed_tasks(&first)
    );
    let created = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "get_user", json!({"UserName": "ghans-bob"})),
            ("iam", "list_attached_user_policies", json!({"UserName": "ghans-bob"})),
            ("iam", "get_group", json!({"GroupName": "ghans-devs"})),
            ("iam", "get_role", json!({"RoleName": "ghans-app"})),
            (
                "iam",
                "get_instance_profile",
                json!({"InstanceProfileName": "ghans-app-profile"}),
            ),
            (
                "iam",
                "get_role_policy",
                json!({"RoleName": "ghans-app", "PolicyName": "ghans-inline"}),
            ),
            ("iam", "get_policy", json!({"PolicyArn": policy_arn})),
        ],
    );
    let bob = &response(&created, 0)["User"];
    assert_eq!(bob["Path"], "/gatehouse/");
    let mut bob_tags: Vec<String> = bob["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}={}", t["Key"].as_str().unwrap(), t["Value"].as_str().unwrap()))
        .collect();
    bob_tags.sort();
    assert_eq!(bob_tags, ["cost-center=42", "team=platform"]);
    assert_eq!(
        response(&created, 1)["AttachedPolicies"][0]["PolicyArn"],
        policy_arn.as_str()
    );
    assert_eq!(response(&created, 2)["Users"][0]["UserName"], "ghans-alice");
    let role = &response(&created, 3)["Role"];
    assert_eq!(role["MaxSessionDuration"], 7200);
    assert_eq!(role["Description"], "Application role managed by Ansible");
    let profile = &response(&created, 4)["InstanceProfile"];
    assert_eq!(profile["Path"], "/gatehouse/");
    assert_eq!(profile["Roles"][0]["RoleName"], "ghans-app");
    assert_eq!(
        response(&created, 5)["PolicyDocument"]["Statement"][0]["Action"],
        "sqs:SendMessage"
    );
    assert_eq!(response(&created, 6)["Policy"]["AttachmentCount"], 3);

    let again = apply(&server, &root, scratch.path(), "present");
    assert_eq!(
        again.changed,
        0,
        "a second apply changes nothing: {:?}",
        changed_tasks(&again)
    );

    // Drift made outside Ansible, through AWS's own client.
    let drift = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "detach_role_policy",
                json!({"RoleName": "ghans-app", "PolicyArn": policy_arn}),
            ),
            (
                "iam",
                "untag_user",
                json!({"UserName": "ghans-bob", "TagKeys": ["team"]}),
            ),
            (
                "iam",
                "delete_group_policy",
                json!({"GroupName": "ghans-devs", "PolicyName": "ghans-inline"}),
            ),
            (
                "iam",
                "remove_user_from_group",
                json!({"GroupName": "ghans-devs", "UserName": "ghans-alice"}),
            ),
            (
                "iam",
                "update_role",
                json!({"RoleName": "ghans-app", "MaxSessionDuration": 3600}),
            ),
            (
                "iam",
                "remove_role_from_instance_profile",
                json!({"InstanceProfileName": "ghans-app-profile", "RoleName": "ghans-app"}),
            ),
        ],
    );
    for (i, result) in drift.iter().enumerate() {
        assert!(result.get("response").is_some(), "drift call {i}: {result}");
    }
    let repair = apply(&server, &root, scratch.path(), "present");
    let repaired = changed_tasks(&repair);
    assert!(repaired.len() >= 5, "the apply after drift repairs it: {repaired:?}");
    let after = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "list_attached_role_policies", json!({"RoleName": "ghans-app"})),
            ("iam", "list_user_tags", json!({"UserName": "ghans-bob"})),
            ("iam", "list_group_policies", json!({"GroupName": "ghans-devs"})),
            ("iam", "get_group", json!({"GroupName": "ghans-devs"})),
            ("iam", "get_role", json!({"RoleName": "ghans-app"})),
            (
                "iam",
                "list_instance_profiles_for_role",
                json!({"RoleName": "ghans-app"}),
            ),
        ],
    );
    assert_eq!(response(&after, 0)["AttachedPolicies"].as_array().unwrap().len(), 1);
    assert_eq!(response(&after, 1)["Tags"].as_array().unwrap().len(), 2);
    assert_eq!(response(&after, 2)["PolicyNames"], json!(["ghans-inline"]));
    assert_eq!(response(&after, 3)["Users"][0]["UserName"], "ghans-alice");
    assert_eq!(response(&after, 4)["Role"]["MaxSessionDuration"], 7200);
    assert_eq!(
        response(&after, 5)["InstanceProfiles"][0]["InstanceProfileName"],
        "ghans-app-profile"
    );
    let settled = apply(&server, &root, scratch.path(), "present");
    assert_eq!(settled.changed, 0, "{:?}", changed_tasks(&settled));

    let removed = apply(&server, &root, scratch.path(), "absent");
    assert!(removed.changed >= 6, "{:?}", changed_tasks(&removed));
    let gone = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "list_users", json!({})),
            ("iam", "list_groups", json!({})),
            ("iam", "list_roles", json!({})),
            ("iam", "list_instance_profiles", json!({})),
            ("iam", "list_policies", json!({"Scope": "Local"})),
        ],
    );
    assert_eq!(response(&gone, 0)["Users"], json!([]));
    assert_eq!(response(&gone, 1)["Groups"], json!([]));
    assert_eq!(response(&gone, 2)["Roles"], json!([]));
    assert_eq!(response(&gone, 3)["InstanceProfiles"], json!([]));
    assert_eq!(response(&gone, 4)["Policies"], json!([]));
    let removed_again = apply(&server, &root, scratch.path(), "absent");
    assert_eq!(removed_again.changed, 0, "{:?}", changed_tasks(&removed_again));
    server.terminate();
}
