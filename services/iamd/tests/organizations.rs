//! AWS Organizations against a real `iamd`, through botocore's own `organizations` client (the
//! json 1.1 protocol the aws CLI and boto3 speak), STS and the decision API: the organization's
//! tree, accounts and policies, and its SCPs and RCPs enforced on every path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, gql, post_path, signed_headers_for, Server};

fn credentials(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        session_token: session_token.map(str::to_owned),
    }
}

fn ok(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

fn error(results: &[Value], i: usize) -> String {
    results[i]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("call {i} should have failed: {}", results[i]))
        .to_owned()
}

fn one(server: &Server, credentials: &Credentials, service: &str, operation: &str, params: Value) -> Value {
    botocore_calls(server, credentials, &[(service, operation, params)])
        .pop()
        .unwrap()
}

fn must(server: &Server, credentials: &Credentials, service: &str, operation: &str, params: Value) -> Value {
    let result = one(server, credentials, service, operation, params);
    assert!(result.get("response").is_some(), "{service} {operation}: {result}");
    result["response"].clone()
}

fn refused(
    server: &Server,
    credentials: &Credentials,
    service: &str,
    operation: &str,
    params: Value,
) -> (String, String) {
    let result = one(server, credentials, service, operation, params);
    let code = result["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{service} {operation} should have failed: {result}"))
        .to_owned();
    (code, result["error"]["message"].as_str().unwrap_or_default().to_owned())
}

fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The session of `OrganizationAccountAccessRole` in `account`, assumed by `caller`.
fn access_role_session(server: &Server, caller: &Credentials, account: &str) -> Credentials {
    let answer = must(
        server,
        caller,
        "sts",
        "assume_role",
        json!({"RoleArn": format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"), "RoleSessionName": "admin"}),
    );
    let c = &answer["Credentials"];
    credentials(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        Some(c["SessionToken"].as_str().unwrap()),
    )
}

/// An administrator of `root`'s account with an access key (the root user cannot assume roles).
fn operator(server: &Server, root: &Credentials) -> Credentials {
    let calls = botocore_calls(
        server,
        root,
        &[
            ("iam", "create_user", json!({"UserName": "operator"})),
            (
                "iam",
                "attach_user_policy",
                json!({"UserName": "operator", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            ),
            ("iam", "create_access_key", json!({"UserName": "operator"})),
        ],
    );
    let key = &ok(&calls, 2)["AccessKey"];
    credentials(
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
        None,
    )
}

/// A standalone account with a root key, made by the deployment's first account.
fn standalone_account(server: &Server, root: &Credentials, alias: &str) -> (String, Credentials) {
    let reply = gql(
        &server.address,
        root,
        "mutation($a: String) { createAccount(accountAlias: $a) { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({"a": alias}),
    );
    let made = &reply.data()["createAccount"];
    (
        made["accountId"].as_str().unwrap().to_owned(),
        credentials(
            made["rootAccessKey"]["accessKeyId"].as_str().unwrap(),
            made["rootAccessKey"]["secretAccessKey"].as_str().unwrap(),
            None,
        ),
    )
}

fn decide(server: &Server, credentials: &Credentials, body: &Value) -> Value {
    let text = body.to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", credentials, &text, chrono::Utc::now());
    let reply = post_path(&server.address, "/v1/authorize", &headers, &text);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[test]
fn an_organization_governs_its_accounts_with_service_control_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let management = server.account_id();

    // Before any organization, Organizations' calls say so.
    let (code, _) = refused(&server, &root, "organizations", "describe_organization", json!({}));
    assert_eq!(code, "AWSOrganizationsNotInUseException");
    let (code, _) = refused(
        &server,
        &root,
        "organizations",
        "create_account",
        json!({"Email": "x@example.com", "AccountName": "X"}),
    );
    assert_eq!(code, "AWSOrganizationsNotInUseException");

    let made = must(
        &server,
        &root,
        "organizations",
        "create_organization",
        json!({"FeatureSet": "ALL"}),
    );
    let organization = made["Organization"]["Id"].as_str().unwrap().to_owned();
    assert!(organization.starts_with("o-") && organization.len() == 12, "{made}");
    assert_eq!(made["Organization"]["MasterAccountId"], management.as_str());
    let (code, _) = refused(&server, &root, "organizations", "create_organization", json!({}));
    assert_eq!(code, "AlreadyInOrganizationException");

    let roots = must(&server, &root, "organizations", "list_roots", json!({}));
    let root_id = roots["Roots"][0]["Id"].as_str().unwrap().to_owned();
    assert!(root_id.starts_with("r-"));

    // A tree: Workloads / Prod, and an account created straight into it... by moving it.
    let workloads = must(
        &server,
        &root,
        "organizations",
        "create_organizational_unit",
        json!({"ParentId": root_id, "Name": "Workloads"}),
    )["OrganizationalUnit"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prod = must(
        &server,
        &root,
        "organizations",
        "create_organizational_unit",
        json!({"ParentId": workloads, "Name": "Prod"}),
    )["OrganizationalUnit"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = must(
        &server,
        &root,
        "organizations",
        "create_account",
        json!({"Email": "prod-root@example.com", "AccountName": "Production"}),
    );
    assert_eq!(status["CreateAccountStatus"]["State"], "SUCCEEDED");
    let member = status["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_owned();
    // Tools poll the request until it is done: it already is.
    let request_id = status["CreateAccountStatus"]["Id"].as_str().unwrap();
    let polled = must(
        &server,
        &root,
        "organizations",
        "describe_create_account_status",
        json!({"CreateAccountRequestId": request_id}),
    );
    assert_eq!(polled["CreateAccountStatus"]["State"], "SUCCEEDED");
    assert_eq!(polled["CreateAccountStatus"]["AccountId"], member.as_str());
    let listed = must(
        &server,
        &root,
        "organizations",
        "list_create_account_status",
        json!({"States": ["SUCCEEDED"]}),
    );
    assert_eq!(listed["CreateAccountStatuses"].as_array().unwrap().len(), 1);
    must(
        &server,
        &root,
        "organizations",
        "move_account",
        json!({"AccountId": member, "SourceParentId": root_id, "DestinationParentId": prod}),
    );
    let parents = must(
        &server,
        &root,
        "organizations",
        "list_parents",
        json!({"ChildId": member}),
    );
    assert_eq!(parents["Parents"][0]["Id"], prod.as_str());
    let described = must(
        &server,
        &root,
        "organizations",
        "describe_account",
        json!({"AccountId": member}),
    );
    assert_eq!(described["Account"]["Name"], "Production");
    assert_eq!(
        described["Account"]["Paths"][0],
        format!("{organization}/{root_id}/{workloads}/{prod}/{member}/").as_str()
    );

    // Nesting stops five levels below the root.
    let mut parent = prod.clone();
    let mut results = Vec::new();
    for level in 3..=6 {
        let result = one(
            &server,
            &root,
            "organizations",
            "create_organizational_unit",
            json!({"ParentId": parent, "Name": format!("L{level}")}),
        );
        if let Some(id) = result["response"]["OrganizationalUnit"]["Id"].as_str() {
            parent = id.to_owned();
        }
        results.push(result);
    }
    assert!(results[..3].iter().all(|r| r.get("response").is_some()), "{results:?}");
    assert_eq!(results[3]["error"]["code"], "ConstraintViolationException");

    // SCPs: before the type is enabled they cannot be attached; enabling attaches FullAWSAccess
    // everywhere.
    let deny_create_user = document(json!([{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]));
    let scp = must(
        &server,
        &root,
        "organizations",
        "create_policy",
        json!({"Name": "NoNewUsers", "Description": "no users", "Type": "SERVICE_CONTROL_POLICY", "Content": deny_create_user}),
    )["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = refused(
        &server,
        &root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": scp, "TargetId": prod}),
    );
    assert_eq!(code, "PolicyTypeNotEnabledException");
    must(
        &server,
        &root,
        "organizations",
        "enable_policy_type",
        json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    );
    let on_member = must(
        &server,
        &root,
        "organizations",
        "list_policies_for_target",
        json!({"TargetId": member, "Filter": "SERVICE_CONTROL_POLICY"}),
    );
    assert_eq!(on_member["Policies"][0]["Id"], "p-FullAWSAccess");

    // The management account reaches the member through its access role; the member's
    // administrators can create users until an SCP on its OU says otherwise.
    let operator = operator(&server, &root);
    let admin = access_role_session(&server, &operator, &member);
    must(&server, &admin, "iam", "create_user", json!({"UserName": "before"}));
    let calls = botocore_calls(
        &server,
        &root,
        &[
            (
                "organizations",
                "attach_policy",
                json!({"PolicyId": scp, "TargetId": prod}),
            ),
            (
                "organizations",
                "attach_policy",
                json!({"PolicyId": scp, "TargetId": prod}),
            ),
            (
                "organizations",
                "detach_policy",
                json!({"PolicyId": "p-FullAWSAccess", "TargetId": member}),
            ),
            (
                "organizations",
                "delete_organizational_unit",
                json!({"OrganizationalUnitId": prod}),
            ),
            ("organizations", "delete_policy", json!({"PolicyId": scp})),
            (
                "organizations",
                "create_policy",
                json!({"Name": "Bad", "Description": "", "Type": "SERVICE_CONTROL_POLICY", "Content": "{\"Statement\": ["}),
            ),
            (
                "organizations",
                "create_policy",
                json!({"Name": "NoNewUsers", "Description": "", "Type": "SERVICE_CONTROL_POLICY", "Content": deny_create_user}),
            ),
            ("organizations", "list_targets_for_policy", json!({"PolicyId": scp})),
        ],
    );
    ok(&calls, 0);
    assert_eq!(error(&calls, 1), "DuplicatePolicyAttachmentException");
    assert_eq!(error(&calls, 2), "ConstraintViolationException");
    assert_eq!(error(&calls, 3), "OrganizationalUnitNotEmptyException");
    assert_eq!(error(&calls, 4), "PolicyInUseException");
    assert_eq!(error(&calls, 5), "MalformedPolicyDocumentException");
    assert_eq!(error(&calls, 6), "DuplicatePolicyException");
    assert_eq!(ok(&calls, 7)["Targets"][0]["TargetId"], prod.as_str());

    let (code, message) = refused(&server, &admin, "iam", "create_user", json!({"UserName": "after"}));
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("service control policy"), "{message}");
    // The management account is not restricted by SCPs, even on the root.
    must(
        &server,
        &root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": scp, "TargetId": root_id}),
    );
    must(
        &server,
        &root,
        "iam",
        "create_user",
        json!({"UserName": "still-allowed"}),
    );
    must(
        &server,
        &operator,
        "iam",
        "create_user",
        json!({"UserName": "also-allowed"}),
    );

    // Members see their own organization and nothing more.
    let seen = must(&server, &admin, "organizations", "describe_organization", json!({}));
    assert_eq!(seen["Organization"]["Id"], organization.as_str());
    let (code, _) = refused(&server, &admin, "organizations", "list_accounts", json!({}));
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = refused(
        &server,
        &admin,
        "organizations",
        "create_organizational_unit",
        json!({"ParentId": root_id, "Name": "Mine"}),
    );
    assert_eq!(code, "AccessDeniedException");

    // Deny leaving the organization (AWS's example SCP), on the root.
    let deny_leave = must(
        &server,
        &root,
        "organizations",
        "create_policy",
        json!({"Name": "StayInOrg", "Description": "", "Type": "SERVICE_CONTROL_POLICY",
               "Content": document(json!([{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]))}),
    )["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        &server,
        &root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": deny_leave, "TargetId": root_id}),
    );
    let (code, message) = refused(&server, &admin, "organizations", "leave_organization", json!({}));
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("service control policy"), "{message}");

    // Moving the account out of Prod lifts Prod's SCP (the root's still applies: detach it).
    must(
        &server,
        &root,
        "organizations",
        "detach_policy",
        json!({"PolicyId": scp, "TargetId": root_id}),
    );
    must(
        &server,
        &root,
        "organizations",
        "move_account",
        json!({"AccountId": member, "SourceParentId": prod, "DestinationParentId": workloads}),
    );
    must(&server, &admin, "iam", "create_user", json!({"UserName": "after-move"}));

    // Closing the account stops its sessions at once; its history stays readable centrally.
    must(
        &server,
        &root,
        "organizations",
        "close_account",
        json!({"AccountId": member}),
    );
    let (code, _) = refused(&server, &admin, "iam", "list_users", json!({}));
    assert_eq!(code, "InvalidClientTokenId");
    let (code, _) = refused(
        &server,
        &root,
        "organizations",
        "close_account",
        json!({"AccountId": member}),
    );
    assert_eq!(code, "AccountAlreadyClosedException");
    let closed = must(
        &server,
        &root,
        "organizations",
        "describe_account",
        json!({"AccountId": member}),
    );
    assert_eq!(closed["Account"]["Status"], "SUSPENDED");
    let (code, _) = refused(
        &server,
        &operator,
        "sts",
        "assume_role",
        json!({"RoleArn": format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"), "RoleSessionName": "again"}),
    );
    assert_eq!(code, "AccessDenied");

    // The management account's record of its calls names Organizations.
    let reply = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"AttachPolicy\"}, first: 10) { edges { node { eventSource errorCode } } } }",
        json!({}),
    );
    let edges = reply.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(edges
        .iter()
        .any(|e| e["node"]["eventSource"] == "organizations.amazonaws.com"));
    assert!(edges
        .iter()
        .any(|e| e["node"]["errorCode"] == "DuplicatePolicyAttachmentException"));
    server.terminate();
}

#[test]
fn invited_accounts_their_root_users_and_resource_control_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let (guest, guest_root) = standalone_account(&server, &root, "guest");
    let (outsider, outsider_root) = standalone_account(&server, &root, "outsider");

    let organization = must(&server, &root, "organizations", "create_organization", json!({}))["Organization"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root_id = must(&server, &root, "organizations", "list_roots", json!({}))["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The invitation handshake: a member of no organization sees it, declines one, accepts another.
    let calls = botocore_calls(
        &server,
        &root,
        &[
            (
                "organizations",
                "invite_account_to_organization",
                json!({"Target": {"Id": guest, "Type": "ACCOUNT"}, "Notes": "join us"}),
            ),
            (
                "organizations",
                "invite_account_to_organization",
                json!({"Target": {"Id": guest, "Type": "ACCOUNT"}}),
            ),
            (
                "organizations",
                "invite_account_to_organization",
                json!({"Target": {"Id": "999999999999", "Type": "ACCOUNT"}}),
            ),
        ],
    );
    let first = ok(&calls, 0)["Handshake"]["Id"].as_str().unwrap().to_owned();
    assert_eq!(error(&calls, 1), "DuplicateHandshakeException");
    // An invitation reveals nothing of another tenant: any account id can be invited.
    ok(&calls, 2);
    let (code, _) = refused(
        &server,
        &outsider_root,
        "organizations",
        "accept_handshake",
        json!({"HandshakeId": first}),
    );
    assert_eq!(code, "HandshakeNotFoundException");
    let mine = must(
        &server,
        &guest_root,
        "organizations",
        "list_handshakes_for_account",
        json!({}),
    );
    assert_eq!(mine["Handshakes"][0]["State"], "OPEN");
    must(
        &server,
        &guest_root,
        "organizations",
        "decline_handshake",
        json!({"HandshakeId": first}),
    );
    let second = must(
        &server,
        &root,
        "organizations",
        "invite_account_to_organization",
        json!({"Target": {"Id": guest, "Type": "ACCOUNT"}}),
    )["Handshake"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = must(
        &server,
        &guest_root,
        "organizations",
        "accept_handshake",
        json!({"HandshakeId": second}),
    );
    assert_eq!(accepted["Handshake"]["State"], "ACCEPTED");
    let joined = must(
        &server,
        &root,
        "organizations",
        "describe_account",
        json!({"AccountId": guest}),
    );
    assert_eq!(joined["Account"]["JoinedMethod"], "INVITED");
    // An account is in one organization at most.
    let (code, _) = refused(&server, &guest_root, "organizations", "create_organization", json!({}));
    assert_eq!(code, "AlreadyInOrganizationException");

    // The member's root user is restricted by SCPs (AWS's "deny the root user" example).
    must(
        &server,
        &root,
        "organizations",
        "enable_policy_type",
        json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    );
    must(
        &server,
        &guest_root,
        "iam",
        "create_user",
        json!({"UserName": "before"}),
    );
    let deny_root = must(
        &server,
        &root,
        "organizations",
        "create_policy",
        json!({"Name": "DenyRootUser", "Description": "", "Type": "SERVICE_CONTROL_POLICY",
               "Content": document(json!([{"Effect": "Deny", "Action": "*", "Resource": "*",
                   "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]))}),
    )["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        &server,
        &root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": deny_root, "TargetId": guest}),
    );
    let (code, _) = refused(&server, &guest_root, "iam", "create_user", json!({"UserName": "after"}));
    assert_eq!(code, "AccessDenied");
    must(
        &server,
        &root,
        "organizations",
        "detach_policy",
        json!({"PolicyId": deny_root, "TargetId": guest}),
    );
    must(
        &server,
        &guest_root,
        "iam",
        "create_user",
        json!({"UserName": "reader"}),
    );

    // RCPs: the guest's resources refuse principals from outside the organization, whatever
    // the resource's own policy grants (AWS's data perimeter example).
    must(
        &server,
        &root,
        "organizations",
        "enable_policy_type",
        json!({"RootId": root_id, "PolicyType": "RESOURCE_CONTROL_POLICY"}),
    );
    let perimeter = must(
        &server,
        &root,
        "organizations",
        "create_policy",
        json!({"Name": "Perimeter", "Description": "", "Type": "RESOURCE_CONTROL_POLICY",
               "Content": document(json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                   "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": organization}}}]))}),
    )["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attached = must(
        &server,
        &root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": perimeter, "TargetId": root_id}),
    );
    assert!(attached.as_object().is_some());
    let bucket_policy = |account: &str| {
        document(
            json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::guest-data/*"}]),
        )
    };
    let ask = |account: &str| {
        json!({
            "principalArn": format!("arn:aws:iam::{account}:user/reader"),
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::guest-data/report.csv",
            "resourceOwner": guest,
            "resourcePolicy": bucket_policy(account),
        })
    };
    must(
        &server,
        &outsider_root,
        "iam",
        "create_user",
        json!({"UserName": "reader"}),
    );
    must(
        &server,
        &outsider_root,
        "iam",
        "put_user_policy",
        json!({"UserName": "reader", "PolicyName": "s3", "PolicyDocument": document(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]))}),
    );
    let outside = decide(&server, &outsider_root, &ask(&outsider));
    assert_eq!(outside["decision"], "ExplicitDeny", "{outside}");
    assert!(
        outside["matchedStatements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["sourcePolicyId"] == perimeter.as_str()),
        "{outside}"
    );
    // The application cannot claim organization keys for its principal: Gatehouse sets them.
    let mut spoofed = ask(&outsider);
    spoofed["context"] = json!([{"key": "aws:PrincipalOrgID", "values": [organization]},
        {"key": "aws:ResourceOrgID", "values": ["o-spoofed0000"]}]);
    assert_eq!(decide(&server, &outsider_root, &spoofed)["decision"], "ExplicitDeny");
    let management = server.account_id();
    must(&server, &root, "iam", "create_user", json!({"UserName": "reader"}));
    must(
        &server,
        &root,
        "iam",
        "put_user_policy",
        json!({"UserName": "reader", "PolicyName": "s3", "PolicyDocument": document(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]))}),
    );
    let inside = decide(&server, &root, &ask(&management));
    assert_eq!(inside["decision"], "Allow", "{inside}");
    // The allow names the organization's policies it passed, with their versions.
    let matched = inside["matchedStatements"].as_array().unwrap();
    assert!(
        matched
            .iter()
            .any(|m| m["sourcePolicyId"] == "p-RCPFullAWSAccess" && m["versionId"] == "v1"),
        "{inside}"
    );

    // Removing the guest from the organization lifts every guardrail.
    must(
        &server,
        &root,
        "organizations",
        "remove_account_from_organization",
        json!({"AccountId": guest}),
    );
    let (code, _) = refused(
        &server,
        &guest_root,
        "organizations",
        "describe_organization",
        json!({}),
    );
    assert_eq!(code, "AWSOrganizationsNotInUseException");
    let after = decide(&server, &outsider_root, &ask(&outsider));
    assert_eq!(after["decision"], "Allow", "{after}");
    server.terminate();
}

#[test]
fn organization_changes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    must(&server, &root, "organizations", "create_organization", json!({}));
    let root_id = must(&server, &root, "organizations", "list_roots", json!({}))["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = must(
        &server,
        &root,
        "organizations",
        "create_organizational_unit",
        json!({"ParentId": root_id, "Name": "Durable"}),
    )["OrganizationalUnit"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        &server,
        &root,
        "organizations",
        "enable_policy_type",
        json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    );
    let member = must(
        &server,
        &root,
        "organizations",
        "create_account",
        json!({"Email": "d@example.com", "AccountName": "Durable"}),
    )["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    server.kill9();

    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let units = must(
        &server,
        &root,
        "organizations",
        "list_organizational_units_for_parent",
        json!({"ParentId": root_id}),
    );
    assert_eq!(units["OrganizationalUnits"][0]["Id"], unit.as_str());
    let accounts = must(&server, &root, "organizations", "list_accounts", json!({}));
    assert!(accounts["Accounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["Id"] == member.as_str()));
    let on_member = must(
        &server,
        &root,
        "organizations",
        "list_policies_for_target",
        json!({"TargetId": member, "Filter": "SERVICE_CONTROL_POLICY"}),
    );
    assert_eq!(on_member["Policies"][0]["Id"], "p-FullAWSAccess");
    server.terminate();
}

fn policy_id(answer: &Value) -> String {
    answer["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_owned()
}

fn new_scp(server: &Server, root: &Credentials, name: &str, statements: Value) -> String {
    policy_id(&must(
        server,
        root,
        "organizations",
        "create_policy",
        json!({"Name": name, "Description": name, "Type": "SERVICE_CONTROL_POLICY", "Content": document(statements)}),
    ))
}

fn attach(server: &Server, root: &Credentials, policy: &str, target: &str) {
    must(
        server,
        root,
        "organizations",
        "attach_policy",
        json!({"PolicyId": policy, "TargetId": target}),
    );
}

/// A member account created under `parent`.
fn member_under(server: &Server, root: &Credentials, root_id: &str, parent: &str, name: &str) -> String {
    let account = must(
        server,
        root,
        "organizations",
        "create_account",
        json!({"Email": format!("{name}@example.com"), "AccountName": name}),
    )["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        server,
        root,
        "organizations",
        "move_account",
        json!({"AccountId": account, "SourceParentId": root_id, "DestinationParentId": parent}),
    );
    account
}

fn unit(server: &Server, root: &Credentials, parent: &str, name: &str) -> String {
    must(
        server,
        root,
        "organizations",
        "create_organizational_unit",
        json!({"ParentId": parent, "Name": name}),
    )["OrganizationalUnit"]["Id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn aws_documented_scp_examples_hold() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let operator = operator(&server, &root);
    must(&server, &root, "organizations", "create_organization", json!({}));
    let root_id = must(&server, &root, "organizations", "list_roots", json!({}))["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    must(
        &server,
        &root,
        "organizations",
        "enable_policy_type",
        json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    );
    let regional = unit(&server, &root, &root_id, "Regional");
    let restricted = unit(&server, &root, &root_id, "Restricted");
    let a = member_under(&server, &root, &root_id, &regional, "alpha");
    let b = member_under(&server, &root, &root_id, &restricted, "beta");

    // 1. Allow only approved regions, with the usual exceptions for global services.
    let regions = new_scp(
        &server,
        &root,
        "ApprovedRegions",
        json!([{"Sid": "DenyOutsideEU", "Effect": "Deny",
            "NotAction": ["iam:*", "organizations:*", "sts:*", "gatehouse:*", "route53:*", "cloudfront:*", "support:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}}]),
    );
    attach(&server, &root, &regions, &regional);
    let alpha = access_role_session(&server, &operator, &a);
    let role = format!("arn:aws:iam::{a}:role/OrganizationAccountAccessRole");
    let ask = |action: &str, region: &str| {
        json!({"principalArn": role, "action": action, "resource": "*",
            "context": [{"key": "aws:RequestedRegion", "values": [region]}]})
    };
    let far = decide(&server, &alpha, &ask("s3:GetObject", "ap-south-1"));
    assert_eq!(far["decision"], "ExplicitDeny", "{far}");
    assert!(far["matchedStatements"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["sourcePolicyId"] == regions.as_str() && m["sid"] == "DenyOutsideEU"));
    assert_eq!(
        decide(&server, &alpha, &ask("s3:GetObject", "eu-west-1"))["decision"],
        "Allow"
    );
    assert_eq!(
        decide(&server, &alpha, &ask("iam:ListUsers", "ap-south-1"))["decision"],
        "Allow"
    );

    // 2. Protect a role from changes, except by a security administrator role.
    let protect = new_scp(
        &server,
        &root,
        "ProtectRoles",
        json!([{"Effect": "Deny",
            "Action": ["iam:DeleteRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy",
                       "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy"],
            "Resource": "arn:aws:iam::*:role/protected-*",
            "Condition": {"ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/SecurityAdmin"}}}]),
    );
    attach(&server, &root, &protect, &regional);
    let management = server.account_id();
    let trust = document(
        json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{management}:root")},
        "Action": "sts:AssumeRole"}]),
    );
    for name in ["protected-app", "SecurityAdmin"] {
        must(
            &server,
            &alpha,
            "iam",
            "create_role",
            json!({"RoleName": name, "AssumeRolePolicyDocument": trust}),
        );
    }
    must(
        &server,
        &alpha,
        "iam",
        "attach_role_policy",
        json!({"RoleName": "SecurityAdmin", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    let (code, message) = refused(
        &server,
        &alpha,
        "iam",
        "delete_role",
        json!({"RoleName": "protected-app"}),
    );
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("service control policy"), "{message}");
    let security = must(
        &server,
        &operator,
        "sts",
        "assume_role",
        json!({"RoleArn": format!("arn:aws:iam::{a}:role/SecurityAdmin"), "RoleSessionName": "sec"}),
    );
    let c = &security["Credentials"];
    let security = credentials(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        Some(c["SessionToken"].as_str().unwrap()),
    );
    must(
        &server,
        &security,
        "iam",
        "delete_role",
        json!({"RoleName": "protected-app"}),
    );

    // 3. FullAWSAccess replaced by an allow list on an OU: everything below it can do only what
    // the list allows, though its own level still holds FullAWSAccess.
    let allow_list = new_scp(
        &server,
        &root,
        "AllowList",
        json!([{"Effect": "Allow", "Action": ["s3:*", "iam:List*", "iam:Get*", "sts:*", "gatehouse:*"], "Resource": "*"}]),
    );
    attach(&server, &root, &allow_list, &restricted);
    must(
        &server,
        &root,
        "organizations",
        "detach_policy",
        json!({"PolicyId": "p-FullAWSAccess", "TargetId": restricted}),
    );
    let beta = access_role_session(&server, &operator, &b);
    must(&server, &beta, "iam", "list_users", json!({}));
    let (code, message) = refused(&server, &beta, "iam", "create_user", json!({"UserName": "x"}));
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("no service control policy allows"), "{message}");
    // The Regional OU keeps FullAWSAccess: its account creates users.
    must(&server, &alpha, "iam", "create_user", json!({"UserName": "x"}));
    // The chain that applies to beta, level by level.
    let effective = must(
        &server,
        &root,
        "organizations",
        "list_policies_for_target",
        json!({"TargetId": restricted, "Filter": "SERVICE_CONTROL_POLICY"}),
    );
    let names: Vec<&str> = effective["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AllowList"]);
    server.terminate();
}
