//! A tour of iamd through boto3 as a script would make it: `boto3.client('iam', endpoint_url=...)`,
//! paginators whose pages are smaller than the listings, the IAM waiters, errors told apart by
//! `ClientError.response['Error']['Code']` and by the client's modeled exception classes, and STS
//! `get_caller_identity` for the root user and for an IAM user.
//!
//! The Python side is `boto3_tour.py`, run with the interpreter named by `GATEHOUSE_PYTHON`; it
//! checks every answer (each page, each waiter poll) against AWS's model with
//! `aws_sdk_client.Conformance` and prints what it saw as one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use support::{assert_conforms, run_python, Server};

/// The pages a paginator yielded (`[{names, truncated, marker}]`): each holds at most
/// `page_size` items, every one but the last says `IsTruncated` and carries a `Marker`, the last
/// neither. Returns the items of all pages in order.
fn paged(pages: &Value, page_size: usize, what: &str) -> Vec<Value> {
    let pages = pages.as_array().unwrap_or_else(|| panic!("{what}: no pages"));
    assert!(!pages.is_empty(), "{what}: no pages");
    let mut items = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let names = page["names"].as_array().unwrap();
        assert!(
            names.len() <= page_size,
            "{what}: page {i} holds {} items, more than the page size {page_size}: {page}",
            names.len()
        );
        let last = i + 1 == pages.len();
        assert_eq!(page["truncated"], !last, "{what}: page {i} IsTruncated: {page}");
        assert_eq!(page["marker"], !last, "{what}: page {i} Marker: {page}");
        items.extend(names.iter().cloned());
    }
    items
}

/// `items` sorted (for listings whose order AWS does not document; a repeated or missing item
/// still shows).
fn sorted(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by_key(Value::to_string);
    items
}

fn names(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<Value> {
    range.map(|n| json!(format!("{prefix}{n}"))).collect()
}

#[test]
fn boto3_tours_users_groups_roles_policies_with_paginators_waiters_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let account = server.account_id();
    let root = server.root_credentials();
    let seen = run_python(
        "boto3_tour.py",
        &json!({
            "endpoint": format!("http://{}", server.address),
            "access_key": root.access_key_id,
            "secret_key": root.secret_access_key,
        }),
    );

    // Every answer of the tour conforms to AWS's model.
    assert_conforms(&seen, "shape_problems");

    // STS for the root user and for an IAM user whose key was made through the API.
    assert_eq!(
        seen["root_identity"],
        json!({"Account": account, "Arn": format!("arn:aws:iam::{account}:root"), "UserId": account})
    );
    assert_eq!(seen["user_identity"]["Account"], account.as_str());
    assert_eq!(
        seen["user_identity"]["Arn"],
        format!("arn:aws:iam::{account}:user/tour-nobody")
    );
    assert_eq!(seen["user_identity"]["UserId"], seen["nobody_user_id"]);
    assert!(seen["nobody_user_id"].as_str().unwrap().starts_with("AIDA"));
    assert_eq!(seen["new_key"], json!({"status": "Active", "secret_length": 40}));

    // Waiters: botocore's IAM waiters all resolve; one for a user that never comes polls through
    // NoSuchEntity until it gives up.
    for waiter in ["user_exists", "role_exists", "policy_exists"] {
        assert!(
            seen["waiter_names"].as_array().unwrap().contains(&json!(waiter)),
            "{}",
            seen["waiter_names"]
        );
    }
    assert_eq!(seen["waiter_gave_up"]["last_code"], "NoSuchEntity");
    assert!(
        seen["waiter_gave_up"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Max attempts exceeded"),
        "{}",
        seen["waiter_gave_up"]
    );

    // Paginators, pages smaller than the listings.
    assert_eq!(paged(&seen["list_users"], 2, "list_users"), names("tour-", 1..=5));
    assert_eq!(seen["list_users"].as_array().unwrap().len(), 3);
    assert_eq!(
        seen["list_users_resumed"],
        json!([["tour-1", "tour-2", "tour-3"], ["tour-4", "tour-5"], false])
    );
    assert_eq!(seen["user_tags"], json!([{"Key": "n", "Value": "3"}]));
    assert_eq!(
        sorted(paged(&seen["list_user_tags"], 2, "list_user_tags")),
        [json!("a"), json!("b"), json!("c"), json!("n")]
    );
    assert_eq!(sorted(paged(&seen["get_group"], 2, "get_group")), names("tour-", 1..=5));
    assert_eq!(
        paged(&seen["list_policies"], 2, "list_policies"),
        names("tour-policy-", 1..=3)
    );
    assert_eq!(paged(&seen["list_roles"], 2, "list_roles"), names("tour-role-", 1..=3));
    assert_eq!(
        sorted(paged(&seen["attached_user_policies"], 2, "list_attached_user_policies")),
        names("tour-policy-", 1..=3)
    );
    assert_eq!(
        paged(&seen["entities_for_policy"], 1, "list_entities_for_policy"),
        [json!("tour-1"), json!("tour-role-1")]
    );
    let mut attached = vec![json!("ReadOnlyAccess")];
    attached.extend(names("tour-policy-", 1..=3));
    assert_eq!(sorted(paged(&seen["attached_policies"], 1, "list_policies")), attached);
    assert_eq!(
        paged(&seen["policy_versions"], 2, "list_policy_versions"),
        [
            json!(["v5", true]),
            json!(["v4", false]),
            json!(["v3", false]),
            json!(["v2", false]),
            json!(["v1", false])
        ]
    );
    let everything = paged(
        &seen["account_authorization_details"],
        4,
        "get_account_authorization_details",
    );
    let mut expected = names("tour-", 1..=5);
    expected.push(json!("tourists"));
    expected.extend(names("tour-role-", 1..=3));
    expected.extend(attached);
    assert_eq!(sorted(everything), sorted(expected));
    assert_eq!(
        paged(&seen["simulate_principal_policy"], 2, "simulate_principal_policy"),
        [
            json!(["s3:GetObject", "allowed"]),
            json!(["s3:Get1Thing", "implicitDeny"]),
            json!(["s3:List5Things", "allowed"]),
            json!(["s3:PutObject", "implicitDeny"]),
            json!(["iam:CreateUser", "implicitDeny"])
        ]
    );

    // What the tour wrote reads back, documents decoded into JSON by botocore.
    assert_eq!(
        seen["default_document"],
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List5*", "Resource": "*"}]})
    );
    assert_eq!(seen["user_policy"]["Statement"][0]["Action"], "s3:GetObject");
    assert_eq!(seen["role"]["Tags"], json!([{"Key": "team", "Value": "tour"}]));
    assert_eq!(
        seen["role"]["trust"]["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{account}:root")
    );
    assert_eq!(seen["role_policies"], json!(["inline"]));

    // Errors: AWS's code and HTTP status, and boto3's modeled exception class where IAM's model
    // declares the code (AccessDenied and ValidationError are AWS's common errors: ClientError).
    let errors = &seen["errors"];
    for (case, code, status, exception) in [
        ("NoSuchEntity", "NoSuchEntity", 404, "NoSuchEntityException"),
        (
            "EntityAlreadyExists",
            "EntityAlreadyExists",
            409,
            "EntityAlreadyExistsException",
        ),
        (
            "MalformedPolicyDocument",
            "MalformedPolicyDocument",
            400,
            "MalformedPolicyDocumentException",
        ),
        (
            "LimitExceeded (policy versions)",
            "LimitExceeded",
            409,
            "LimitExceededException",
        ),
        (
            "LimitExceeded (access keys)",
            "LimitExceeded",
            409,
            "LimitExceededException",
        ),
        (
            "DeleteConflict (attached policy)",
            "DeleteConflict",
            409,
            "DeleteConflictException",
        ),
        (
            "DeleteConflict (user in a group)",
            "DeleteConflict",
            409,
            "DeleteConflictException",
        ),
        ("AccessDenied", "AccessDenied", 403, "ClientError"),
        ("AccessDenied (read)", "AccessDenied", 403, "ClientError"),
        ("ValidationError", "ValidationError", 400, "ClientError"),
    ] {
        let error = &errors[case];
        assert_eq!(error["code"], code, "{case}: {error}");
        assert_eq!(error["status"], status, "{case}: {error}");
        assert_eq!(error["exception"], exception, "{case}: {error}");
        assert!(!error["message"].as_str().unwrap().is_empty(), "{case}: {error}");
    }
    assert!(
        errors["AccessDenied"]["message"]
            .as_str()
            .unwrap()
            .contains("iam:CreateUser"),
        "{}",
        errors["AccessDenied"]
    );
}
