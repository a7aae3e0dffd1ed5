//! AWS IAM's service last-accessed data through AWS's own wire protocol, against a real `iamd`:
//! decisions made at `/v1/authorize`, then botocore's IAM client calls
//! `GenerateServiceLastAccessedDetails`, `GetServiceLastAccessedDetails` and
//! `GetServiceLastAccessedDetailsWithEntities` (every answer checked against AWS's service
//! model). The report is the decision log's: the right services, times, entity and region, the
//! actions at `ACTION_LEVEL`, services allowed but never used without a last access; refused
//! without the permission on the principal, for another account's principal or job, and for an
//! unknown job; every call recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{DateTime, Utc};
use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{aws_wire, botocore_calls, gql, post_path, signed_headers_for, xml_error_code, Server};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");

/// bob may read reports and list the bucket, and describe machines (which he never does).
const BOB_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},
    {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::reports"},
    {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;

/// The auditor may report on bob, and only on bob.
fn auditor_policy(account: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails",
                   "iam:GetServiceLastAccessedDetailsWithEntities"],
        "Resource": format!("arn:aws:iam::{account}:user/bob")}]})
    .to_string()
}

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

/// A decision about `principal` at `/v1/authorize`, asked by `root`.
fn decide(server: &Server, root: &Credentials, principal: &str, action: &str, resource: &str) -> Value {
    let body = json!({"principalArn": principal, "action": action, "resource": resource}).to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", root, &body, Utc::now());
    let reply = post_path(&server.address, "/v1/authorize", &headers, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// A timestamp as `aws_sdk_client.py` prints botocore's (Python's `str` of a datetime).
fn time(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// `t` within `[from, to]`, at the wire's one-second precision.
fn assert_between(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) {
    assert!(
        t.timestamp() >= from.timestamp() && t.timestamp() <= to.timestamp(),
        "{t} is not between {from} and {to}"
    );
}

/// The records of `event_name` in the account's history, newest first.
fn records(server: &Server, caller: &Credentials, event_name: &str) -> Vec<Value> {
    let reply = gql(
        &server.address,
        caller,
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { edges { node {
            eventName eventSource readOnly errorCode action resourceArn requestParameters } } } }",
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
fn last_accessed_data_through_botocore() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let bob = format!("arn:aws:iam::{account}:user/bob");

    let setup = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "create_user", json!({"UserName": "bob"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "bob", "PolicyName": "work", "PolicyDocument": BOB_POLICY}),
            ),
            ("iam", "create_user", json!({"UserName": "auditor"})),
            (
                "iam",
                "put_user_policy",
                json!({"UserName": "auditor", "PolicyName": "audit", "PolicyDocument": auditor_policy(&account)}),
            ),
            ("iam", "create_access_key", json!({"UserName": "auditor"})),
            ("iam", "create_user", json!({"UserName": "nobody"})),
            ("iam", "create_access_key", json!({"UserName": "nobody"})),
            ("iam", "create_group", json!({"GroupName": "staff"})),
        ],
    );
    for i in 0..setup.len() {
        ok(&setup, i);
    }
    let auditor = key_of(ok(&setup, 4));
    let nobody = key_of(ok(&setup, 6));

    // bob reads twice and lists once; a refused read is not a use.
    let before = Utc::now();
    for resource in ["arn:aws:s3:::reports/1", "arn:aws:s3:::reports/2"] {
        assert_eq!(
            decide(&server, &root, &bob, "s3:GetObject", resource)["decision"],
            "Allow"
        );
    }
    let listed = decide(&server, &root, &bob, "s3:ListBucket", "arn:aws:s3:::reports");
    assert_eq!(listed["decision"], "Allow");
    let refused = decide(&server, &root, &bob, "s3:GetObject", "arn:aws:s3:::payroll/1");
    assert_eq!(refused["decision"], "ImplicitDeny");
    let refused = decide(&server, &root, &bob, "iam:ListUsers", "*");
    assert_eq!(refused["decision"], "ImplicitDeny");
    let after = Utc::now();

    // SERVICE_LEVEL (the default): s3 used, ec2 allowed and never used, by namespace; iam,
    // only refused, is not there.
    let generated = botocore_calls(
        &server,
        &root,
        &[
            ("iam", "generate_service_last_accessed_details", json!({"Arn": bob})),
            (
                "iam",
                "generate_service_last_accessed_details",
                json!({"Arn": bob, "Granularity": "ACTION_LEVEL"}),
            ),
        ],
    );
    let service_job = ok(&generated, 0)["JobId"].as_str().unwrap().to_owned();
    let action_job = ok(&generated, 1)["JobId"].as_str().unwrap().to_owned();
    assert_eq!(service_job.len(), 36, "{service_job}");
    assert_ne!(service_job, action_job);
    let generated_by = Utc::now();

    let answers = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "get_service_last_accessed_details",
                json!({"JobId": service_job}),
            ),
            ("iam", "get_service_last_accessed_details", json!({"JobId": action_job})),
            (
                "iam",
                "get_service_last_accessed_details",
                json!({"JobId": service_job, "MaxItems": 1}),
            ),
            (
                "iam",
                "get_service_last_accessed_details_with_entities",
                json!({"JobId": service_job, "ServiceNamespace": "s3"}),
            ),
            (
                "iam",
                "get_service_last_accessed_details_with_entities",
                json!({"JobId": service_job, "ServiceNamespace": "ec2"}),
            ),
        ],
    );
    let report = ok(&answers, 0);
    assert_eq!(report["JobStatus"], "COMPLETED", "{report}");
    assert_eq!(report["JobType"], "SERVICE_LEVEL");
    assert_eq!(report["IsTruncated"], false);
    let created = time(&report["JobCreationDate"]);
    let completed = time(&report["JobCompletionDate"]);
    assert_between(created, after, generated_by);
    assert_between(completed, created, generated_by);
    let services = report["ServicesLastAccessed"].as_array().unwrap();
    let namespaces: Vec<&str> = services
        .iter()
        .map(|s| s["ServiceNamespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["ec2", "s3"], "{report}");
    let (ec2, s3) = (&services[0], &services[1]);
    assert_eq!(ec2["ServiceName"], "ec2");
    assert_eq!(ec2["TotalAuthenticatedEntities"], 0);
    for absent in [
        "LastAuthenticated",
        "LastAuthenticatedEntity",
        "LastAuthenticatedRegion",
        "TrackedActionsLastAccessed",
    ] {
        assert!(ec2.get(absent).is_none(), "{absent} of a service never used: {ec2}");
    }
    assert_eq!(s3["ServiceName"], "s3");
    assert_eq!(s3["LastAuthenticatedEntity"], bob.as_str());
    assert_eq!(s3["LastAuthenticatedRegion"], "us-east-1");
    assert_eq!(s3["TotalAuthenticatedEntities"], 1);
    assert_between(time(&s3["LastAuthenticated"]), before, after);
    assert!(s3.get("TrackedActionsLastAccessed").is_none(), "{s3}");

    // ACTION_LEVEL lists each action used, without its prefix, with its own last use.
    let detailed = ok(&answers, 1);
    assert_eq!(detailed["JobType"], "ACTION_LEVEL");
    let s3 = &detailed["ServicesLastAccessed"][1];
    assert_eq!(s3["ServiceNamespace"], "s3", "{detailed}");
    let actions = s3["TrackedActionsLastAccessed"].as_array().unwrap();
    let mut names: Vec<&str> = actions.iter().map(|a| a["ActionName"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["GetObject", "ListBucket"], "{s3}");
    for action in actions {
        assert_eq!(action["LastAccessedEntity"], bob.as_str());
        assert_eq!(action["LastAccessedRegion"], "us-east-1");
        assert_between(time(&action["LastAccessedTime"]), before, after);
    }
    let listed_at = actions.iter().find(|a| a["ActionName"] == "ListBucket").unwrap();
    assert_eq!(time(&listed_at["LastAccessedTime"]), time(&s3["LastAuthenticated"]));

    // Paged by namespace.
    let first = ok(&answers, 2);
    assert_eq!(first["IsTruncated"], true, "{first}");
    assert_eq!(first["ServicesLastAccessed"].as_array().unwrap().len(), 1);
    let marker = first["Marker"].as_str().unwrap().to_owned();
    let rest = botocore_calls(
        &server,
        &root,
        &[(
            "iam",
            "get_service_last_accessed_details",
            json!({"JobId": service_job, "MaxItems": 1, "Marker": marker}),
        )],
    );
    let rest = ok(&rest, 0);
    assert_eq!(rest["IsTruncated"], false, "{rest}");
    assert_eq!(rest["ServicesLastAccessed"][0]["ServiceNamespace"], "s3");

    // With entities: bob, with or without a last use.
    let with_s3 = ok(&answers, 3);
    assert_eq!(with_s3["JobStatus"], "COMPLETED");
    let entities = with_s3["EntityDetailsList"].as_array().unwrap();
    assert_eq!(entities.len(), 1, "{with_s3}");
    let info = &entities[0]["EntityInfo"];
    assert_eq!(
        (&info["Arn"], &info["Name"], &info["Type"], &info["Path"]),
        (&json!(bob), &json!("bob"), &json!("USER"), &json!("/"))
    );
    assert!(info["Id"].as_str().unwrap().starts_with("AIDA"), "{info}");
    assert_between(time(&entities[0]["LastAuthenticated"]), before, after);
    let with_ec2 = ok(&answers, 4);
    assert!(with_ec2["EntityDetailsList"][0].get("LastAuthenticated").is_none());

    // Unknown jobs and principals, a group, and a caller without the permission.
    let unknown_job = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let refusals = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "get_service_last_accessed_details",
                json!({"JobId": unknown_job}),
            ),
            (
                "iam",
                "generate_service_last_accessed_details",
                json!({"Arn": format!("arn:aws:iam::{account}:user/ghost")}),
            ),
            (
                "iam",
                "generate_service_last_accessed_details",
                json!({"Arn": format!("arn:aws:iam::{account}:group/staff")}),
            ),
            (
                "iam",
                "get_service_last_accessed_details_with_entities",
                json!({"JobId": unknown_job, "ServiceNamespace": "s3"}),
            ),
        ],
    );
    assert_eq!(error(&refusals, 0), ("NoSuchEntity", 404));
    assert_eq!(error(&refusals, 1), ("NoSuchEntity", 404));
    assert_eq!(error(&refusals, 2), ("InvalidInput", 400));
    assert_eq!(error(&refusals, 3), ("NoSuchEntity", 404));
    let denied = botocore_calls(
        &server,
        &nobody,
        &[
            ("iam", "generate_service_last_accessed_details", json!({"Arn": bob})),
            (
                "iam",
                "get_service_last_accessed_details",
                json!({"JobId": service_job}),
            ),
        ],
    );
    assert_eq!(error(&denied, 0), ("AccessDenied", 403));
    assert_eq!(error(&denied, 1), ("AccessDenied", 403));
    let message = denied[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("iam:GetServiceLastAccessedDetails"), "{message}");

    // The auditor may report on bob only: the permission is on the principal.
    let audited = botocore_calls(
        &server,
        &auditor,
        &[
            ("iam", "generate_service_last_accessed_details", json!({"Arn": bob})),
            (
                "iam",
                "get_service_last_accessed_details",
                json!({"JobId": service_job}),
            ),
            (
                "iam",
                "generate_service_last_accessed_details",
                json!({"Arn": format!("arn:aws:iam::{account}:user/nobody")}),
            ),
        ],
    );
    let own_job = ok(&audited, 0)["JobId"].as_str().unwrap().to_owned();
    assert_eq!(ok(&audited, 1)["ServicesLastAccessed"], report["ServicesLastAccessed"]);
    assert_eq!(error(&audited, 2), ("AccessDenied", 403));

    // Bad input the SDK would not send: the query protocol's own errors.
    for (body, code) in [
        (
            format!("Action=GenerateServiceLastAccessedDetails&Version=2010-05-08&Arn={bob}&Granularity=EVERYTHING"),
            "InvalidInput",
        ),
        (
            "Action=GenerateServiceLastAccessedDetails&Version=2010-05-08&Arn=not-an-arn".to_owned(),
            "InvalidInput",
        ),
        (
            "Action=GenerateServiceLastAccessedDetails&Version=2010-05-08".to_owned(),
            "MissingParameter",
        ),
        (
            format!("Action=GetServiceLastAccessedDetails&Version=2010-05-08&JobId={own_job}&MaxItems=0"),
            "ValidationError",
        ),
    ] {
        let reply = aws_wire(&server, &root, "iam", &[FORM], &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(xml_error_code(&reply).as_deref(), Some(code), "{body}: {}", reply.body);
    }

    // Every call is in the history, as IAM's read-only calls are, refusals included.
    let generates = records(&server, &root, "GenerateServiceLastAccessedDetails");
    let codes: Vec<Option<&str>> = generates.iter().map(|r| r["errorCode"].as_str()).collect();
    // Newest first: the raw bad ARN, auditor (refused, allowed), nobody, group, ghost, root twice.
    assert_eq!(
        codes,
        [
            Some("InvalidInput"),
            Some("AccessDenied"),
            None,
            Some("AccessDenied"),
            Some("InvalidInput"),
            Some("NoSuchEntity"),
            None,
            None
        ],
        "{generates:#?}"
    );
    assert!(generates.iter().all(|r| r["eventSource"] == "iam.amazonaws.com"
        && r["readOnly"] == true
        && r["action"] == "iam:GenerateServiceLastAccessedDetails"));
    assert_eq!(generates[2]["resourceArn"], bob.as_str());
    assert_eq!(generates[7]["requestParameters"]["arn"], bob.as_str());
    assert_eq!(generates[6]["requestParameters"]["granularity"], "ACTION_LEVEL");
    let gets = records(&server, &root, "GetServiceLastAccessedDetails");
    assert!(gets.iter().all(|r| r["action"] == "iam:GetServiceLastAccessedDetails"));
    let read_about_bob = gets
        .iter()
        .filter(|r| r["errorCode"].is_null() && r["resourceArn"] == bob.as_str())
        .count();
    assert_eq!(read_about_bob, 5, "{gets:#?}");
}

#[test]
fn another_accounts_principal_and_job_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root_a = server.root_credentials();
    let account_a = server.account_id();
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
    for root in [&root_a, &root_b] {
        let made = botocore_calls(&server, root, &[("iam", "create_user", json!({"UserName": "bob"}))]);
        ok(&made, 0);
    }
    let bob_a = format!("arn:aws:iam::{account_a}:user/bob");
    let bob_b = format!("arn:aws:iam::{account_b}:user/bob");

    // A's root asks about B's bob: refused as a principal A does not have.
    let a = botocore_calls(
        &server,
        &root_a,
        &[
            ("iam", "generate_service_last_accessed_details", json!({"Arn": bob_b})),
            ("iam", "generate_service_last_accessed_details", json!({"Arn": bob_a})),
        ],
    );
    assert_eq!(error(&a, 0), ("NoSuchEntity", 404));
    let job_a = ok(&a, 1)["JobId"].as_str().unwrap().to_owned();

    // B's root cannot read A's job.
    let b = botocore_calls(
        &server,
        &root_b,
        &[("iam", "get_service_last_accessed_details", json!({"JobId": job_a}))],
    );
    assert_eq!(error(&b, 0), ("NoSuchEntity", 404));
    let a = botocore_calls(
        &server,
        &root_a,
        &[("iam", "get_service_last_accessed_details", json!({"JobId": job_a}))],
    );
    assert_eq!(ok(&a, 0)["ServicesLastAccessed"], json!([]), "bob of A has no policy");
}
