//! AWS's wire protocols on iamd's one port, beyond what the SDKs send: Organizations' json 1.1
//! protocol (`X-Amz-Target`), requests no SDK would make (each refused with AWS's error and
//! changing nothing), and the CloudTrail shape of a wire call's record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use iam_app::Gatehouse;
use iam_secrets::Sealer;
use iam_sigv4::Credentials;
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};
use serde_json::{json, Value};
use support::{aws_wire, botocore_calls, gql, try_aws_wire, xml_error_code, Reply, Server};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
const JSON_1_1: (&str, &str) = ("content-type", "application/x-amz-json-1.1");
const CREATE_ACCOUNT: (&str, &str) = ("x-amz-target", "AWSOrganizationsV20161128.CreateAccount");

fn audit_events(server: &Server, credentials: &Credentials, filter: Value) -> Vec<Value> {
    let reply = gql(
        &server.address,
        credentials,
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 50) { edges { node {
            eventName eventSource errorCode readOnly requestParameters responseElements cloudTrailRecord } } } }",
        json!({ "f": filter }),
    );
    reply.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn credentials(access_key_id: &str, secret_access_key: &str) -> Credentials {
    Credentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        session_token: None,
    }
}

fn json_error(reply: &Reply) -> String {
    let body: Value = match &reply.body {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    body["__type"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn organizations_create_account_makes_a_member_reached_through_its_access_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let management = server.account_id();
    let results = botocore_calls(
        &server,
        &root,
        &[
            ("organizations", "create_organization", json!({})),
            (
                "organizations",
                "create_account",
                json!({"Email": "prod-root@example.com", "AccountName": "Production"}),
            ),
            (
                "organizations",
                "create_account",
                json!({"Email": "dev-root@example.com", "AccountName": "Development", "RoleName": "Admin"}),
            ),
            (
                "organizations",
                "create_account",
                json!({"Email": "not-an-address", "AccountName": "X"}),
            ),
            ("organizations", "list_accounts", json!({})),
            ("iam", "create_user", json!({"UserName": "operator"})),
            (
                "iam",
                "attach_user_policy",
                json!({"UserName": "operator", "PolicyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}),
            ),
            ("iam", "create_access_key", json!({"UserName": "operator"})),
        ],
    );
    let status = &results[1]["response"]["CreateAccountStatus"];
    assert_eq!(status["State"], "SUCCEEDED", "{results:?}");
    assert_eq!(status["AccountName"], "Production");
    assert!(status["Id"].as_str().unwrap().starts_with("car-"));
    let production = status["AccountId"].as_str().unwrap().to_owned();
    assert_eq!(production.len(), 12);
    assert_ne!(production, management);
    let development = results[2]["response"]["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(results[3]["error"]["code"], "InvalidInputException");
    // Every account of the organization: the management account and the two new ones.
    assert_eq!(
        results[4]["response"]["Accounts"].as_array().unwrap().len(),
        3,
        "{results:?}"
    );
    // An IAM user of the management account creates accounts only when its policies allow it.
    let key = &results[7]["response"]["AccessKey"];
    let operator = credentials(
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
    );
    let denied = botocore_calls(
        &server,
        &operator,
        &[(
            "organizations",
            "create_account",
            json!({"Email": "x-root@example.com", "AccountName": "X"}),
        )],
    );
    assert_eq!(denied[0]["error"]["code"], "AccessDeniedException");

    // The record: Organizations' event source, the e-mail address withheld as CloudTrail does.
    let records = audit_events(&server, &root, json!({"eventName": "CreateAccount"}));
    let made = records
        .iter()
        .find(|r| r["requestParameters"]["accountName"] == "Production")
        .unwrap();
    assert_eq!(made["eventSource"], "organizations.amazonaws.com");
    assert_eq!(made["requestParameters"]["email"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert_eq!(
        made["responseElements"]["CreateAccountStatus"]["AccountId"],
        production.as_str()
    );
    assert_eq!(made["cloudTrailRecord"]["apiVersion"], "2016-11-28");
    assert!(!records.iter().any(|r| r.to_string().contains("prod-root@example.com")));
    assert!(records.iter().any(|r| r["errorCode"] == "AccessDenied"));
    server.terminate();

    // Each new account holds the administrator role trusting the management account, and no
    // credentials of its own: it is reached through that role, as in AWS.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let events = dir.path().join("events.db");
        let store = SqliteEventStore::open(&events.to_string_lossy(), SqliteStoreOptions::default())
            .await
            .unwrap();
        let gatehouse = Gatehouse::load(Arc::new(store), Sealer::new(&[0; 32])).await.unwrap();
        for (account, role_name) in [(&production, "OrganizationAccountAccessRole"), (&development, "Admin")] {
            let model = gatehouse.account(account).unwrap();
            let state = model.state();
            let role = state.role(role_name).unwrap();
            let trust: Value = serde_json::from_str(&role.assume_role_policy_document).unwrap();
            assert_eq!(
                trust["Statement"][0]["Principal"]["AWS"],
                format!("arn:aws:iam::{management}:root")
            );
            assert_eq!(
                role.permissions.attached_policies[0].to_string(),
                "arn:aws:iam::aws:policy/AdministratorAccess"
            );
            assert_eq!(state.access_keys().count(), 0);
            assert_eq!(state.users().count(), 0);
        }
    });
}

#[test]
fn requests_no_sdk_would_send_get_aws_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let setup = aws_wire(
        &server,
        &root,
        "iam",
        &[FORM],
        "Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=db",
    );
    assert_eq!(setup.status, 200, "{:?}", setup.body);

    let long_name = "n".repeat(65);
    let long_document = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#,
        "s".repeat(3000)
    );
    let cases: Vec<(String, u16, &str)> = vec![
        (String::new(), 400, "MissingAction"),
        ("Version=2010-05-08".into(), 400, "MissingAction"),
        ("Action=ListUsers".into(), 400, "MissingParameter"),
        ("Action=FlyToTheMoon&Version=2010-05-08".into(), 400, "InvalidAction"),
        ("Action=ListUsers&Version=2011-06-15".into(), 400, "InvalidAction"),
        (
            "Action=CreateUser&Version=2010-05-08&UserName=bob%zz".into(),
            400,
            "MalformedQueryString",
        ),
        (
            "Action=CreateUser&Version=2010-05-08&UserName=bob%FF".into(),
            400,
            "MalformedQueryString",
        ),
        (
            "Action=CreateUser&Version=2010-05-08&UserName=bob%4".into(),
            400,
            "MalformedQueryString",
        ),
        (
            "Action=UntagUser&Version=2010-05-08&UserName=alice&TagKeys.member.1=a&TagKeys.member.3=team".into(),
            400,
            "ValidationError",
        ),
        (
            "Action=UntagUser&Version=2010-05-08&UserName=alice&TagKeys.member.0=team".into(),
            400,
            "ValidationError",
        ),
        (
            "Action=TagUser&Version=2010-05-08&UserName=alice&Tags.member.2.Key=x&Tags.member.2.Value=y".into(),
            400,
            "ValidationError",
        ),
        ("Action=CreateUser&Version=2010-05-08".into(), 400, "MissingParameter"),
        (
            format!("Action=CreateUser&Version=2010-05-08&UserName={long_name}"),
            400,
            "ValidationError",
        ),
        (
            format!(
                "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=big&PolicyDocument={}",
                utf8_percent(&long_document)
            ),
            409,
            "LimitExceeded",
        ),
        (
            "Action=ListUsers&Version=2010-05-08&MaxItems=0".into(),
            400,
            "ValidationError",
        ),
        (
            "Action=ListUsers&Version=2010-05-08&MaxItems=1001".into(),
            400,
            "ValidationError",
        ),
        (
            "Action=ListUsers&Version=2010-05-08&MaxItems=ten".into(),
            400,
            "ValidationError",
        ),
    ];
    for (body, status, code) in &cases {
        let reply = aws_wire(&server, &root, "iam", &[FORM], body);
        let shown: String = body.chars().take(120).collect();
        assert_eq!(
            xml_error_code(&reply).as_deref(),
            Some(*code),
            "{shown}: {:?}",
            reply.body
        );
        assert_eq!(reply.status, *status, "{shown}");
        assert!(reply.body.as_str().unwrap().contains("<ErrorResponse"), "{shown}");
    }

    let long_account_name = format!(r#"{{"AccountName": "{}", "Email": "a@example.com"}}"#, "a".repeat(51));
    // (signing service, headers, body, the exception expected)
    type JsonCase<'c> = (&'c str, Vec<(&'c str, &'c str)>, &'c str, &'c str);
    // A body over 1 MiB is refused with 413, or the connection is closed before it is all sent.
    let oversized = format!(
        "Action=CreateUser&Version=2010-05-08&UserName=big&Path=/{}/",
        "p".repeat(1_100_000)
    );
    if let Some(reply) = try_aws_wire(&server, &root, "iam", &[FORM], &oversized) {
        assert_eq!(reply.status, 413);
        assert_eq!(xml_error_code(&reply).as_deref(), Some("ValidationError"));
    }

    let json_cases: Vec<JsonCase<'_>> = vec![
        ("organizations", vec![JSON_1_1], "{}", "UnknownOperationException"),
        (
            "organizations",
            vec![JSON_1_1, ("x-amz-target", "AWSOrganizationsV20161128.ListAccounts")],
            "{}",
            "AWSOrganizationsNotInUseException",
        ),
        (
            "organizations",
            vec![JSON_1_1, ("x-amz-target", "AWSOrganizationsV20161128.FlyToTheMoon")],
            "{}",
            "UnknownOperationException",
        ),
        (
            "organizations",
            vec![JSON_1_1, ("x-amz-target", "AmazonEC2.RunInstances")],
            "{}",
            "UnknownOperationException",
        ),
        ("iam", vec![JSON_1_1, CREATE_ACCOUNT], "{}", "UnknownOperationException"),
        (
            "organizations",
            vec![JSON_1_1, CREATE_ACCOUNT],
            "not json",
            "SerializationException",
        ),
        (
            "organizations",
            vec![JSON_1_1, CREATE_ACCOUNT],
            "[1]",
            "SerializationException",
        ),
        (
            "organizations",
            vec![JSON_1_1, CREATE_ACCOUNT],
            r#"{"AccountName": "Prod"}"#,
            "InvalidInputException",
        ),
        (
            "organizations",
            vec![JSON_1_1, CREATE_ACCOUNT],
            r#"{"AccountName": 7, "Email": "a@example.com"}"#,
            "SerializationException",
        ),
        (
            "organizations",
            vec![JSON_1_1, CREATE_ACCOUNT],
            &long_account_name,
            "InvalidInputException",
        ),
    ];
    for (service, headers, body, code) in &json_cases {
        let reply = aws_wire(&server, &root, service, headers, body);
        assert_eq!(
            json_error(&reply),
            *code,
            "{service} {headers:?} {body}: {:?}",
            reply.body
        );
        assert_eq!(reply.status, 400);
        assert_eq!(reply.header("content-type"), Some("application/x-amz-json-1.1"));
    }
    // A json-protocol request that fails authentication is answered in the json shape too.
    let stranger = credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let refused = aws_wire(&server, &stranger, "organizations", &[JSON_1_1, CREATE_ACCOUNT], "{}");
    assert_eq!(json_error(&refused), "InvalidClientTokenId");

    // Nothing changed: alice as she was, and no other user or account.
    let after = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "list_users", json!({})),
            ("iam", "list_user_tags", json!({"UserName": "alice"})),
            ("iam", "list_user_policies", json!({"UserName": "alice"})),
        ],
    );
    let users: Vec<&str> = after[0]["response"]["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice"]);
    assert_eq!(after[1]["response"]["Tags"], json!([{"Key": "team", "Value": "db"}]));
    assert_eq!(after[2]["response"]["PolicyNames"], json!([]));
    let created = audit_events(&server, &root, json!({"eventName": "CreateAccount"}));
    assert!(created.iter().all(|r| r["errorCode"].is_string()), "{created:?}");
    server.terminate();
}

/// Percent-encodes every byte outside `A-Za-z0-9-_.~`, as the SDKs encode form values.
fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_wire_call_is_recorded_in_cloudtrails_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_role",
                json!({"RoleName": "web", "AssumeRolePolicyDocument": trust, "Tags": [{"Key": "tier", "Value": "front"}]}),
            ),
            ("iam", "create_instance_profile", json!({"InstanceProfileName": "web"})),
            (
                "iam",
                "add_role_to_instance_profile",
                json!({"InstanceProfileName": "web", "RoleName": "web"}),
            ),
            ("iam", "get_role", json!({"RoleName": "web"})),
        ],
    );
    for (i, result) in results.iter().enumerate() {
        assert!(result.get("response").is_some(), "call {i}: {result}");
    }
    let role = audit_events(&server, &root, json!({"eventName": "CreateRole"}));
    let record = &role[0]["cloudTrailRecord"];
    assert_eq!(record["eventSource"], "iam.amazonaws.com");
    assert_eq!(record["apiVersion"], "2010-05-08");
    assert_eq!(record["requestParameters"]["roleName"], "web");
    assert_eq!(
        record["requestParameters"]["tags"],
        json!([{"key": "tier", "value": "front"}])
    );
    let answered = &record["responseElements"]["role"];
    assert_eq!(answered["roleName"], "web");
    assert_eq!(answered["path"], "/");
    assert!(answered["roleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(answered["arn"], results[0]["response"]["Role"]["Arn"]);
    assert_eq!(answered["tags"], json!([{"key": "tier", "value": "front"}]));
    let profile = audit_events(&server, &root, json!({"eventName": "CreateInstanceProfile"}));
    assert!(profile[0]["responseElements"]["instanceProfile"]["instanceProfileId"]
        .as_str()
        .unwrap()
        .starts_with("AIPA"));
    // AWS answers these with no result, and CloudTrail records `null`.
    let added = audit_events(&server, &root, json!({"eventName": "AddRoleToInstanceProfile"}));
    assert_eq!(added[0]["responseElements"], Value::Null);
    assert_eq!(
        added[0]["requestParameters"],
        json!({"instanceProfileName": "web", "roleName": "web"})
    );
    let read = audit_events(&server, &root, json!({"eventName": "GetRole"}));
    assert_eq!(read[0]["readOnly"], true);
    assert_eq!(read[0]["responseElements"], Value::Null);

    // Tokened as GraphQL is: each answer carries the account's sequence, and a request may ask
    // to be answered at least that fresh.
    let before = aws_wire(&server, &root, "iam", &[FORM], "Action=ListUsers&Version=2010-05-08");
    let created = aws_wire(
        &server,
        &root,
        "iam",
        &[FORM],
        "Action=CreateUser&Version=2010-05-08&UserName=tokened",
    );
    let sequence = |reply: &Reply| -> u64 { reply.header("x-gatehouse-sequence").unwrap().parse().unwrap() };
    assert_eq!(sequence(&created), sequence(&before) + 1);
    let token = sequence(&created).to_string();
    let fresh = aws_wire(
        &server,
        &root,
        "iam",
        &[FORM, ("x-gatehouse-min-sequence", &token)],
        "Action=GetUser&Version=2010-05-08&UserName=tokened",
    );
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    let malformed = aws_wire(
        &server,
        &root,
        "iam",
        &[FORM, ("x-gatehouse-min-sequence", "soon")],
        "Action=ListUsers&Version=2010-05-08",
    );
    assert_eq!(xml_error_code(&malformed).as_deref(), Some("InvalidInput"));
    server.terminate();
}

#[test]
fn graphql_offers_the_same_organizations_and_context_key_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let document = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#;
    let wire = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "alice"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "alice", "PolicyName": "p", "PolicyDocument": document}),
            ),
            (
                "iam",
                "get_context_keys_for_principal_policy",
                json!({"PolicySourceArn": format!("arn:aws:iam::{account}:user/alice"),
                       "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}}"#]}),
            ),
            (
                "iam",
                "get_context_keys_for_custom_policy",
                json!({"PolicyInputList": [document]}),
            ),
            (
                "iam",
                "get_context_keys_for_custom_policy",
                json!({"PolicyInputList": ["{"]}),
            ),
        ],
    );
    let principal_keys = &wire[2]["response"]["ContextKeyNames"];
    assert_eq!(
        principal_keys,
        &json!(["aws:username", "aws:SourceIp", "aws:MultiFactorAuthPresent"])
    );
    assert_eq!(
        wire[3]["response"]["ContextKeyNames"],
        json!(["aws:username", "aws:SourceIp"])
    );
    assert_eq!(wire[4]["error"]["code"], "InvalidInput");
    let graphql = gql(
        &server.address,
        &root,
        "query($arn: String!, $doc: String!) {
            principal: contextKeysForPrincipalPolicy(policySourceArn: $arn)
            custom: contextKeysForCustomPolicy(policyInputList: [$doc]) }",
        json!({"arn": format!("arn:aws:iam::{account}:user/alice"), "doc": document}),
    );
    assert_eq!(graphql.data()["principal"], json!(["aws:username", "aws:SourceIp"]));
    assert_eq!(graphql.data()["custom"], wire[3]["response"]["ContextKeyNames"]);

    let organization = gql(
        &server.address,
        &root,
        "mutation { createOrganization { orgSequence } }",
        json!({}),
    );
    assert!(organization.error_code().is_none(), "{:?}", organization.body);
    let created = gql(
        &server.address,
        &root,
        "mutation { createOrganizationAccount(input: {accountName: \"Sandbox\", email: \"sandbox@example.com\"}) {
            id state accountId accountName roleName } }",
        json!({}),
    );
    let status = &created.data()["createOrganizationAccount"];
    assert_eq!(status["state"], "SUCCEEDED");
    assert_eq!(status["roleName"], "OrganizationAccountAccessRole");
    assert_eq!(status["accountId"].as_str().unwrap().len(), 12);
    let invalid = gql(
        &server.address,
        &root,
        "mutation { createOrganizationAccount(input: {accountName: \"\", email: \"sandbox@example.com\"}) { id } }",
        json!({}),
    );
    assert_eq!(invalid.error_code().as_deref(), Some("InvalidInputException"));
    server.terminate();
}
