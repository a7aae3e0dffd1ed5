//! The AWS wire API through AWS's own client: botocore (the aws CLI's and boto3's library)
//! serializes each call from IAM's and STS's service models and parses iamd's answers with them.
//!
//! The Python side is `aws_sdk_client.py`, run with the interpreter named by `GATEHOUSE_PYTHON`,
//! which `./scripts/test.sh` points at a venv holding botocore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, Server};

fn aws(server: &Server, credentials: &Credentials, calls: &[(&str, &str, Value)]) -> Vec<Value> {
    support::botocore_calls(server, credentials, calls)
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
        "{ auditEvents(filter: {eventName: \"CreateUser\"}, first: 10) { edges { node { requestParameters errorCode userIdentity { arn } cloudTrailRecord } } } }",
        json!({}),
    );
    let edges = history.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(edges
        .iter()
        .any(|e| e["node"]["requestParameters"]["userName"] == "alice"
            && e["node"]["requestParameters"]["path"] == "/eng/"
            && e["node"]["errorCode"].is_null()
            && e["node"]["cloudTrailRecord"]["apiVersion"] == "2010-05-08"));
    assert!(edges
        .iter()
        .any(|e| e["node"]["requestParameters"]["userName"] == "mallory" && e["node"]["errorCode"] == "AccessDenied"));
}

#[test]
fn botocore_manages_roles_policies_attachments_and_access_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let document = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]});
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]});
    let policy_arn = format!("arn:aws:iam::{account}:policy/read-reports");
    let results = aws(
        &server,
        &root,
        &[
            (
                "iam",
                "create_policy",
                json!({"PolicyName": "read-reports", "PolicyDocument": document.to_string(), "Description": "reports"}),
            ),
            (
                "iam",
                "get_policy_version",
                json!({"PolicyArn": policy_arn, "VersionId": "v1"}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "app", "Path": "/svc/", "AssumeRolePolicyDocument": trust.to_string(), "MaxSessionDuration": 7200}),
            ),
            ("iam", "get_role", json!({"RoleName": "app"})),
            (
                "iam",
                "attach_role_policy",
                json!({"RoleName": "app", "PolicyArn": policy_arn}),
            ),
            ("iam", "list_attached_role_policies", json!({"RoleName": "app"})),
            ("iam", "get_policy", json!({"PolicyArn": policy_arn})),
            ("iam", "delete_policy", json!({"PolicyArn": policy_arn})),
            ("iam", "list_policies", json!({"Scope": "Local"})),
            ("iam", "list_roles", json!({"PathPrefix": "/svc/"})),
            (
                "iam",
                "detach_role_policy",
                json!({"RoleName": "app", "PolicyArn": policy_arn}),
            ),
            ("iam", "delete_policy", json!({"PolicyArn": policy_arn})),
            ("iam", "get_role", json!({"RoleName": "nobody"})),
            ("iam", "delete_role", json!({"RoleName": "app"})),
        ],
    );
    let ok = |i: usize| {
        assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
        &results[i]["response"]
    };
    assert_eq!(ok(0)["Policy"]["Arn"], policy_arn.as_str());
    assert_eq!(ok(0)["Policy"]["DefaultVersionId"], "v1");
    // botocore decodes IAM's URL-encoded documents back into JSON.
    assert_eq!(ok(1)["PolicyVersion"]["Document"], document);
    assert_eq!(ok(1)["PolicyVersion"]["IsDefaultVersion"], true);
    assert_eq!(ok(2)["Role"]["Arn"], format!("arn:aws:iam::{account}:role/svc/app"));
    assert_eq!(ok(3)["Role"]["AssumeRolePolicyDocument"], trust);
    assert_eq!(ok(3)["Role"]["MaxSessionDuration"], 7200);
    assert_eq!(
        ok(5)["AttachedPolicies"],
        json!([{"PolicyName": "read-reports", "PolicyArn": policy_arn}])
    );
    assert_eq!(ok(6)["Policy"]["AttachmentCount"], 1);
    assert_eq!(results[7]["error"]["code"], "DeleteConflict");
    assert_eq!(results[7]["error"]["status"], 409);
    let local: Vec<&str> = ok(8)["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(local, ["read-reports"]);
    assert_eq!(ok(9)["Roles"][0]["RoleName"], "app");
    ok(10);
    ok(11);
    assert_eq!(results[12]["error"]["code"], "NoSuchEntity");
    ok(13);

    // Access keys: the secret once, in the answer only.
    let keys = aws(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "dave"})),
            ("iam", "create_access_key", json!({"UserName": "dave"})),
        ],
    );
    let key = &keys[1]["response"]["AccessKey"];
    let (key_id, secret) = (
        key["AccessKeyId"].as_str().unwrap().to_owned(),
        key["SecretAccessKey"].as_str().unwrap().to_owned(),
    );
    assert_eq!(secret.len(), 40);
    assert_eq!(key["Status"], "Active");
    let managed = aws(
        &server,
        &root,
        &[
            ("iam", "list_access_keys", json!({"UserName": "dave"})),
            ("iam", "get_access_key_last_used", json!({"AccessKeyId": key_id})),
            (
                "iam",
                "update_access_key",
                json!({"UserName": "dave", "AccessKeyId": key_id, "Status": "Inactive"}),
            ),
            ("iam", "list_access_keys", json!({"UserName": "dave"})),
            (
                "iam",
                "delete_access_key",
                json!({"UserName": "dave", "AccessKeyId": key_id}),
            ),
            ("iam", "list_access_keys", json!({"UserName": "dave"})),
        ],
    );
    assert_eq!(
        managed[0]["response"]["AccessKeyMetadata"][0]["AccessKeyId"],
        key_id.as_str()
    );
    assert!(managed[0]["response"]["AccessKeyMetadata"][0]
        .get("SecretAccessKey")
        .is_none());
    assert_eq!(managed[1]["response"]["UserName"], "dave");
    assert_eq!(managed[1]["response"]["AccessKeyLastUsed"]["ServiceName"], "N/A");
    assert_eq!(managed[3]["response"]["AccessKeyMetadata"][0]["Status"], "Inactive");
    assert_eq!(managed[5]["response"]["AccessKeyMetadata"], json!([]));
    server_files_hold_no(&dir, &secret);
}

/// No file iamd keeps holds `secret`.
fn server_files_hold_no(dir: &tempfile::TempDir, secret: &str) {
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[test]
fn botocore_manages_groups_inline_policies_tags_versions_and_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]});
    let second =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    let policy_arn = format!("arn:aws:iam::{account}:policy/boundary");
    let results = aws(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "erin"})),
            ("iam", "create_group", json!({"GroupName": "devs", "Path": "/eng/"})),
            (
                "iam",
                "add_user_to_group",
                json!({"GroupName": "devs", "UserName": "erin"}),
            ),
            ("iam", "get_group", json!({"GroupName": "devs"})),
            ("iam", "list_groups_for_user", json!({"UserName": "erin"})),
            (
                "iam",
                "put_group_policy",
                json!({"GroupName": "devs", "PolicyName": "list", "PolicyDocument": document.to_string()}),
            ),
            (
                "iam",
                "get_group_policy",
                json!({"GroupName": "devs", "PolicyName": "list"}),
            ),
            ("iam", "list_group_policies", json!({"GroupName": "devs"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "erin", "PolicyName": "own", "PolicyDocument": document.to_string()}),
            ),
            ("iam", "list_user_policies", json!({"UserName": "erin"})),
            (
                "iam",
                "tag_user",
                json!({"UserName": "erin", "Tags": [{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "1"}]}),
            ),
            ("iam", "untag_user", json!({"UserName": "erin", "TagKeys": ["tier"]})),
            ("iam", "list_user_tags", json!({"UserName": "erin"})),
            (
                "iam",
                "create_policy",
                json!({"PolicyName": "boundary", "PolicyDocument": document.to_string()}),
            ),
            (
                "iam",
                "create_policy_version",
                json!({"PolicyArn": policy_arn, "PolicyDocument": second.to_string(), "SetAsDefault": true}),
            ),
            ("iam", "list_policy_versions", json!({"PolicyArn": policy_arn})),
            (
                "iam",
                "put_user_permissions_boundary",
                json!({"UserName": "erin", "PermissionsBoundary": policy_arn}),
            ),
            ("iam", "get_user", json!({"UserName": "erin"})),
            ("iam", "update_user", json!({"UserName": "erin", "NewPath": "/staff/"})),
            ("iam", "list_groups", json!({"PathPrefix": "/eng/"})),
            (
                "iam",
                "remove_user_from_group",
                json!({"GroupName": "devs", "UserName": "erin"}),
            ),
            (
                "iam",
                "delete_group_policy",
                json!({"GroupName": "devs", "PolicyName": "list"}),
            ),
            ("iam", "delete_group", json!({"GroupName": "devs"})),
            (
                "iam",
                "get_user_policy",
                json!({"UserName": "erin", "PolicyName": "missing"}),
            ),
        ],
    );
    let ok = |i: usize| {
        assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
        &results[i]["response"]
    };
    assert_eq!(ok(1)["Group"]["Arn"], format!("arn:aws:iam::{account}:group/eng/devs"));
    ok(2);
    assert_eq!(ok(3)["Group"]["GroupName"], "devs");
    assert_eq!(ok(3)["Users"][0]["UserName"], "erin");
    assert_eq!(ok(4)["Groups"][0]["GroupName"], "devs");
    ok(5);
    assert_eq!(ok(6)["PolicyDocument"], document);
    assert_eq!(ok(6)["GroupName"], "devs");
    assert_eq!(ok(7)["PolicyNames"], json!(["list"]));
    ok(8);
    assert_eq!(ok(9)["PolicyNames"], json!(["own"]));
    ok(10);
    ok(11);
    assert_eq!(ok(12)["Tags"], json!([{"Key": "team", "Value": "web"}]));
    ok(13);
    assert_eq!(ok(14)["PolicyVersion"]["VersionId"], "v2");
    assert_eq!(ok(14)["PolicyVersion"]["IsDefaultVersion"], true);
    let versions: Vec<&str> = ok(15)["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v2", "v1"]);
    ok(16);
    assert_eq!(
        ok(17)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
        policy_arn.as_str()
    );
    assert_eq!(ok(17)["User"]["Tags"], json!([{"Key": "team", "Value": "web"}]));
    ok(18);
    assert_eq!(ok(19)["Groups"][0]["GroupName"], "devs");
    ok(20);
    ok(21);
    ok(22);
    assert_eq!(results[23]["error"]["code"], "NoSuchEntity");
    let moved = aws(&server, &root, &[("iam", "get_user", json!({"UserName": "erin"}))]);
    assert_eq!(moved[0]["response"]["User"]["Path"], "/staff/");
}

#[test]
fn botocore_reads_the_account_as_tools_do_before_they_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]});
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]});
    let results = aws(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "u1"})),
            ("iam", "create_user", json!({"UserName": "u2"})),
            ("iam", "create_group", json!({"GroupName": "g"})),
            ("iam", "add_user_to_group", json!({"GroupName": "g", "UserName": "u1"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "u1", "PolicyName": "own", "PolicyDocument": document.to_string()}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "r", "AssumeRolePolicyDocument": trust.to_string()}),
            ),
            (
                "iam",
                "attach_role_policy",
                json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
            (
                "iam",
                "attach_user_policy",
                json!({"UserName": "u2", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
            ("iam", "get_account_authorization_details", json!({})),
            (
                "iam",
                "get_account_authorization_details",
                json!({"Filter": ["User"], "MaxItems": 1}),
            ),
            (
                "iam",
                "list_entities_for_policy",
                json!({"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
            ("iam", "get_account_summary", json!({})),
            ("iam", "list_account_aliases", json!({})),
        ],
    );
    let ok = |i: usize| {
        assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
        &results[i]["response"]
    };
    let all = ok(8);
    let u1 = all["UserDetailList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["UserName"] == "u1")
        .unwrap();
    assert_eq!(u1["GroupList"], json!(["g"]));
    assert_eq!(u1["UserPolicyList"][0]["PolicyDocument"], document);
    assert_eq!(all["GroupDetailList"][0]["GroupName"], "g");
    assert_eq!(all["RoleDetailList"][0]["AssumeRolePolicyDocument"], trust);
    assert_eq!(
        all["RoleDetailList"][0]["AttachedManagedPolicies"][0]["PolicyName"],
        "ReadOnlyAccess"
    );
    let policies = all["Policies"].as_array().unwrap();
    assert!(policies
        .iter()
        .any(|p| p["PolicyName"] == "ReadOnlyAccess" && p["PolicyVersionList"][0]["Document"].is_object()));
    assert_eq!(all["IsTruncated"], false);
    let first = ok(9);
    assert_eq!(first["UserDetailList"].as_array().unwrap().len(), 1);
    assert_eq!(first["RoleDetailList"], json!([]));
    assert_eq!(first["IsTruncated"], true);
    let marker = first["Marker"].as_str().unwrap().to_owned();
    assert_eq!(ok(10)["PolicyUsers"][0]["UserName"], "u2");
    assert_eq!(ok(10)["PolicyRoles"][0]["RoleName"], "r");
    assert_eq!(ok(10)["PolicyGroups"], json!([]));
    assert_eq!(ok(11)["SummaryMap"]["Users"], 2);
    assert_eq!(ok(11)["SummaryMap"]["Roles"], 1);
    assert_eq!(ok(12)["AccountAliases"], json!(["management"]));
    let rest = aws(
        &server,
        &root,
        &[(
            "iam",
            "get_account_authorization_details",
            json!({"Filter": ["User"], "MaxItems": 1, "Marker": marker}),
        )],
    );
    let second = &rest[0]["response"];
    assert_eq!(second["IsTruncated"], false);
    let names: Vec<&str> = [first, second]
        .iter()
        .map(|p| p["UserDetailList"][0]["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["u1", "u2"]);
}

#[test]
fn botocore_simulates_with_paging() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let document = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}]});
    let user = format!("arn:aws:iam::{account}:user/sim");
    let results = aws(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "sim"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "sim", "PolicyName": "reports", "PolicyDocument": document.to_string()}),
            ),
            (
                "iam",
                "simulate_principal_policy",
                json!({"PolicySourceArn": user, "ActionNames": ["s3:GetObject", "s3:PutObject"],
                "ResourceArns": ["arn:aws:s3:::reports/a", "arn:aws:s3:::reports/b"],
                "ContextEntries": [{"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["eu-west-1"], "ContextKeyType": "string"}],
                "MaxItems": 3}),
            ),
            (
                "iam",
                "simulate_custom_policy",
                json!({"PolicyInputList": [document.to_string()], "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/a"]}),
            ),
            (
                "iam",
                "simulate_principal_policy",
                json!({"PolicySourceArn": user, "ActionNames": ["s3:GetObject"], "Marker": "nonsense"}),
            ),
        ],
    );
    let page = &results[2]["response"];
    assert!(results[2].get("response").is_some(), "{}", results[2]);
    let decisions: Vec<&str> = page["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "allowed", "implicitDeny"]);
    assert_eq!(
        page["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyType"],
        "user"
    );
    assert_eq!(page["IsTruncated"], true);
    let marker = page["Marker"].as_str().unwrap().to_owned();
    let custom = &results[3]["response"]["EvaluationResults"][0];
    assert_eq!(custom["EvalDecision"], "implicitDeny");
    assert_eq!(custom["MissingContextValues"], json!(["aws:RequestedRegion"]));
    assert_eq!(results[4]["error"]["code"], "InvalidInput");
    let rest = aws(
        &server,
        &root,
        &[(
            "iam",
            "simulate_principal_policy",
            json!({"PolicySourceArn": user, "ActionNames": ["s3:GetObject", "s3:PutObject"],
            "ResourceArns": ["arn:aws:s3:::reports/a", "arn:aws:s3:::reports/b"], "MaxItems": 3, "Marker": marker}),
        )],
    );
    let last = &rest[0]["response"];
    assert_eq!(last["EvaluationResults"].as_array().unwrap().len(), 1);
    assert_eq!(last["EvaluationResults"][0]["EvalActionName"], "s3:PutObject");
    assert_eq!(last["IsTruncated"], false);
}

/// Every read botocore can make of an account holding one of each thing (boundaries, tags,
/// descriptions, inline and attached policies on users, groups and roles, an instance profile,
/// versions, a key), and the modeled errors: `support::botocore_calls` fails on any answer that
/// does not conform to AWS's model (required members, types, enums, paging, unmodeled elements,
/// error statuses).
#[test]
fn botocore_answers_of_a_full_account_conform_to_aws_model() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
        .to_string();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        .to_string();
    let policy_arn = format!("arn:aws:iam::{account}:policy/ops/limits");
    let tags = json!([{"Key": "team", "Value": "ops"}]);
    let setup = aws(
        &server,
        &root,
        &[
            (
                "iam",
                "create_policy",
                json!({"PolicyName": "limits", "Path": "/ops/", "PolicyDocument": document, "Description": "the most", "Tags": tags}),
            ),
            (
                "iam",
                "create_policy_version",
                json!({"PolicyArn": policy_arn, "PolicyDocument": document, "SetAsDefault": true}),
            ),
            (
                "iam",
                "create_user",
                json!({"UserName": "ann", "Path": "/ops/", "PermissionsBoundary": policy_arn, "Tags": tags}),
            ),
            ("iam", "create_group", json!({"GroupName": "ops", "Path": "/ops/"})),
            (
                "iam",
                "add_user_to_group",
                json!({"GroupName": "ops", "UserName": "ann"}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "box", "Path": "/ops/", "AssumeRolePolicyDocument": trust, "Description": "a box",
                       "MaxSessionDuration": 7200, "PermissionsBoundary": policy_arn, "Tags": tags}),
            ),
            (
                "iam",
                "create_instance_profile",
                json!({"InstanceProfileName": "box", "Path": "/ops/", "Tags": tags}),
            ),
            (
                "iam",
                "add_role_to_instance_profile",
                json!({"InstanceProfileName": "box", "RoleName": "box"}),
            ),
            (
                "iam",
                "attach_user_policy",
                json!({"UserName": "ann", "PolicyArn": policy_arn}),
            ),
            (
                "iam",
                "attach_group_policy",
                json!({"GroupName": "ops", "PolicyArn": policy_arn}),
            ),
            (
                "iam",
                "attach_role_policy",
                json!({"RoleName": "box", "PolicyArn": policy_arn}),
            ),
            (
                "iam",
                "attach_role_policy",
                json!({"RoleName": "box", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "ann", "PolicyName": "own", "PolicyDocument": document}),
            ),
            (
                "iam",
                "put_group_policy",
                json!({"GroupName": "ops", "PolicyName": "own", "PolicyDocument": document}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "box", "PolicyName": "own", "PolicyDocument": document}),
            ),
            ("iam", "create_access_key", json!({"UserName": "ann"})),
            (
                "iam",
                "update_role_description",
                json!({"RoleName": "box", "Description": "a bigger box"}),
            ),
            (
                "iam",
                "update_role",
                json!({"RoleName": "box", "MaxSessionDuration": 3600}),
            ),
        ],
    );
    for (i, result) in setup.iter().enumerate() {
        assert!(result.get("response").is_some(), "setup call {i}: {result}");
    }
    let key_id = setup[15]["response"]["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_arn = format!("arn:aws:iam::{account}:user/ops/ann");
    let reads = aws(
        &server,
        &root,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "get_user", json!({"UserName": "ann"})),
            ("iam", "list_users", json!({})),
            ("iam", "get_group", json!({"GroupName": "ops"})),
            ("iam", "list_groups", json!({})),
            ("iam", "list_groups_for_user", json!({"UserName": "ann"})),
            ("iam", "get_role", json!({"RoleName": "box"})),
            ("iam", "list_roles", json!({})),
            ("iam", "get_policy", json!({"PolicyArn": policy_arn})),
            (
                "iam",
                "get_policy_version",
                json!({"PolicyArn": policy_arn, "VersionId": "v1"}),
            ),
            ("iam", "list_policy_versions", json!({"PolicyArn": policy_arn})),
            ("iam", "list_policies", json!({})),
            ("iam", "list_policies", json!({"Scope": "Local", "OnlyAttached": true})),
            ("iam", "list_attached_user_policies", json!({"UserName": "ann"})),
            ("iam", "list_attached_group_policies", json!({"GroupName": "ops"})),
            ("iam", "list_attached_role_policies", json!({"RoleName": "box"})),
            ("iam", "list_user_policies", json!({"UserName": "ann"})),
            ("iam", "list_group_policies", json!({"GroupName": "ops"})),
            ("iam", "list_role_policies", json!({"RoleName": "box"})),
            (
                "iam",
                "get_user_policy",
                json!({"UserName": "ann", "PolicyName": "own"}),
            ),
            (
                "iam",
                "get_group_policy",
                json!({"GroupName": "ops", "PolicyName": "own"}),
            ),
            (
                "iam",
                "get_role_policy",
                json!({"RoleName": "box", "PolicyName": "own"}),
            ),
            ("iam", "list_user_tags", json!({"UserName": "ann"})),
            ("iam", "list_role_tags", json!({"RoleName": "box"})),
            ("iam", "list_policy_tags", json!({"PolicyArn": policy_arn})),
            ("iam", "get_instance_profile", json!({"InstanceProfileName": "box"})),
            ("iam", "list_instance_profiles", json!({})),
            ("iam", "list_instance_profiles_for_role", json!({"RoleName": "box"})),
            (
                "iam",
                "list_instance_profile_tags",
                json!({"InstanceProfileName": "box"}),
            ),
            ("iam", "list_access_keys", json!({"UserName": "ann"})),
            ("iam", "get_access_key_last_used", json!({"AccessKeyId": key_id})),
            ("iam", "list_entities_for_policy", json!({"PolicyArn": policy_arn})),
            ("iam", "get_account_authorization_details", json!({})),
            ("iam", "get_account_summary", json!({})),
            ("iam", "list_account_aliases", json!({})),
            (
                "iam",
                "simulate_principal_policy",
                json!({"PolicySourceArn": user_arn, "ActionNames": ["s3:ListBucket", "s3:PutObject"]}),
            ),
            (
                "iam",
                "simulate_custom_policy",
                json!({"PolicyInputList": [document], "ActionNames": ["s3:ListBucket"]}),
            ),
            (
                "iam",
                "get_context_keys_for_principal_policy",
                json!({"PolicySourceArn": user_arn}),
            ),
            (
                "iam",
                "get_context_keys_for_custom_policy",
                json!({"PolicyInputList": [document]}),
            ),
            ("iam", "list_mfa_devices", json!({"UserName": "ann"})),
            ("iam", "list_signing_certificates", json!({"UserName": "ann"})),
            ("iam", "list_ssh_public_keys", json!({"UserName": "ann"})),
            ("iam", "list_service_specific_credentials", json!({"UserName": "ann"})),
            // Modeled errors, with the model's HTTP statuses.
            ("iam", "get_login_profile", json!({"UserName": "ann"})),
            ("iam", "get_role", json!({"RoleName": "nobody"})),
            ("iam", "create_group", json!({"GroupName": "ops"})),
            ("iam", "delete_policy", json!({"PolicyArn": policy_arn})),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "box", "PolicyName": "bad", "PolicyDocument": "{"}),
            ),
            (
                "iam",
                "add_role_to_instance_profile",
                json!({"InstanceProfileName": "box", "RoleName": "box"}),
            ),
        ],
    );
    for (i, result) in reads.iter().enumerate().take(43) {
        assert!(result.get("response").is_some(), "read {i}: {result}");
    }
    let codes: Vec<&str> = reads[43..]
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        [
            "NoSuchEntity",
            "NoSuchEntity",
            "EntityAlreadyExists",
            "DeleteConflict",
            "MalformedPolicyDocument",
            "LimitExceeded"
        ]
    );
    assert_eq!(
        reads[1]["response"]["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
        policy_arn.as_str()
    );
    assert_eq!(reads[6]["response"]["Role"]["Description"], "a bigger box");
    assert_eq!(reads[6]["response"]["Role"]["MaxSessionDuration"], 3600);
}
