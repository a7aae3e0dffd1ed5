//! AWS Organizations through GraphQL against a real `iamd`: an organization with an OU tree and a
//! created member account, an SCP that denies `iam:CreateUser` on the account's OU enforced on
//! the decision API and on management calls of a role session in the member account (and not on
//! the management account), Organizations' error codes, and the central views the management
//! account has of its members (entities and history).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{gql, Reply, Server};

fn session_of(payload: &Value) -> Credentials {
    let c = &payload["credentials"];
    Credentials {
        access_key_id: c["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: c["sessionToken"].as_str().map(str::to_owned),
    }
}

fn code(reply: &Reply) -> String {
    reply
        .error_code()
        .unwrap_or_else(|| panic!("expected an error: {}", reply.body))
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

/// A management-account user allowed only to assume `role_arn`, and its access key.
fn operator(server: &Server, root: &Credentials, role_arn: &str) -> Credentials {
    let run = |query: &str, vars: Value| gql(&server.address, root, query, vars);
    run(
        "mutation { createUser(input: {userName: \"operator\"}) { sequence } }",
        json!({}),
    )
    .data();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]});
    run(
        "mutation($d: String!) { putUserPolicy(input: {userName: \"operator\", policyName: \"assume\", policyDocument: $d}) { sequence } }",
        json!({"d": policy.to_string()}),
    )
    .data();
    let key = run(
        "mutation { createAccessKey(userName: \"operator\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    let key = &key.data()["createAccessKey"]["accessKey"];
    Credentials {
        access_key_id: text(&key["accessKeyId"]),
        secret_access_key: text(&key["secretAccessKey"]),
        session_token: None,
    }
}

#[test]
fn an_organization_built_through_graphql_restricts_its_member_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let management = server.account_id();
    let run = |query: &str, vars: Value| gql(&server.address, &root, query, vars);

    // Before any organization.
    assert_eq!(
        code(&run("{ organization { id } }", json!({}))),
        "AWSOrganizationsNotInUseException"
    );
    assert_eq!(
        code(&run(
            "mutation { createOrganizationalUnit(parentId: \"r-abcd\", name: \"x\") { orgSequence } }",
            json!({})
        )),
        "AWSOrganizationsNotInUseException"
    );

    // The organization and its tree.
    let created = run(
        "mutation { createOrganization(featureSet: ALL) { organization { id masterAccountId featureSet } orgSequence } }",
        json!({}),
    );
    let organization = &created.data()["createOrganization"];
    assert_eq!(organization["organization"]["masterAccountId"], management.as_str());
    assert_eq!(organization["organization"]["featureSet"], "ALL");
    let org_id = text(&organization["organization"]["id"]);
    assert!(org_id.starts_with("o-"), "{org_id}");
    let first_sequence = organization["orgSequence"].as_u64().unwrap();

    let roots = run(
        "query($s: Int) { organizationRoots(orgSequence: $s) { items { id name policyTypes { type status } } nextToken orgSequence } }",
        json!({"s": first_sequence}),
    );
    let root_id = text(&roots.data()["organizationRoots"]["items"][0]["id"]);
    assert!(roots.data()["organizationRoots"]["nextToken"].is_null());

    let create_ou = |parent: &str, name: &str| {
        let reply = run(
            "mutation($p: String!, $n: String!) { createOrganizationalUnit(parentId: $p, name: $n) { organizationalUnit { id arn name } orgSequence } }",
            json!({"p": parent, "n": name}),
        );
        text(&reply.data()["createOrganizationalUnit"]["organizationalUnit"]["id"])
    };
    let workloads = create_ou(&root_id, "Workloads");
    let production = create_ou(&workloads, "Production");
    let units = run(
        "query($p: String!) { organizationalUnitsForParent(parentId: $p) { items { id name } } }",
        json!({"p": workloads}),
    );
    assert_eq!(
        units.data()["organizationalUnitsForParent"]["items"],
        json!([{"id": production, "name": "Production"}])
    );
    let renamed = run(
        "mutation($id: String!) { updateOrganizationalUnit(id: $id, name: \"Prod\") { organizationalUnit { name } orgSequence } }",
        json!({"id": production}),
    );
    assert_eq!(
        renamed.data()["updateOrganizationalUnit"]["organizationalUnit"]["name"],
        "Prod"
    );

    // A member account created in the production OU.
    let account = run(
        "mutation($p: String!) { createOrganizationAccount(input: {accountName: \"prod-1\", email: \"prod-1@example.com\", parentId: $p}) {
            id state accountId accountName roleName requestedTimestamp orgSequence } }",
        json!({"p": production}),
    );
    let status = &account.data()["createOrganizationAccount"];
    assert_eq!(status["state"], "SUCCEEDED");
    assert_eq!(status["roleName"], "OrganizationAccountAccessRole");
    assert!(status["orgSequence"].as_u64().unwrap() > first_sequence);
    let member = text(&status["accountId"]);
    assert_eq!(member.len(), 12);
    let in_production = run(
        "query($p: String!) { organizationAccountsForParent(parentId: $p) { items { id name status joinedMethod joinedTimestamp } } }",
        json!({"p": production}),
    );
    let listed = &in_production.data()["organizationAccountsForParent"]["items"][0];
    assert_eq!(listed["id"], member.as_str());
    assert_eq!(listed["joinedMethod"], "CREATED");
    assert_eq!(listed["status"], "ACTIVE");
    let parents = run(
        "query($c: String!) { organizationParents(childId: $c) { items { id type } } }",
        json!({"c": member}),
    );
    assert_eq!(
        parents.data()["organizationParents"]["items"],
        json!([{"id": production, "type": "ORGANIZATIONAL_UNIT"}])
    );
    let page = run(
        "{ organizationAccounts(maxResults: 1) { items { id } nextToken } }",
        json!({}),
    );
    assert!(page.data()["organizationAccounts"]["nextToken"].is_string());
    assert_eq!(
        code(&run("{ organizationAccounts(maxResults: 0) { nextToken } }", json!({}))),
        "InvalidInputException"
    );

    // SCPs: enabled on the root, one that denies `iam:CreateUser` on the production OU.
    let enabled = run(
        "mutation($r: String!) { enablePolicyType(rootId: $r, type: SERVICE_CONTROL_POLICY) { root { policyTypes { type status } } orgSequence } }",
        json!({"r": root_id}),
    );
    assert_eq!(
        enabled.data()["enablePolicyType"]["root"]["policyTypes"],
        json!([{"type": "SERVICE_CONTROL_POLICY", "status": "ENABLED"}])
    );
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoNewUsers", "Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]});
    let scp = run(
        "mutation($c: String!) { createOrganizationPolicy(name: \"DenyCreateUser\", description: \"no new users\", type: SERVICE_CONTROL_POLICY, content: $c) {
            policy { policySummary { id name type awsManaged } content } orgSequence } }",
        json!({"c": deny.to_string()}),
    );
    let summary = &scp.data()["createOrganizationPolicy"]["policy"]["policySummary"];
    assert_eq!(summary["type"], "SERVICE_CONTROL_POLICY");
    assert_eq!(summary["awsManaged"], false);
    let scp_id = text(&summary["id"]);
    let attach =
        "mutation($p: String!, $t: String!) { attachOrganizationPolicy(policyId: $p, targetId: $t) { orgSequence } }";
    let attached = run(attach, json!({"p": scp_id, "t": production}));
    let org_sequence = attached.data()["attachOrganizationPolicy"]["orgSequence"]
        .as_u64()
        .unwrap();
    assert_eq!(
        code(&run(attach, json!({"p": scp_id, "t": production}))),
        "DuplicatePolicyAttachmentException"
    );
    let targets = run(
        "query($p: String!) { organizationTargetsForPolicy(policyId: $p) { items { targetId type name } } }",
        json!({"p": scp_id}),
    );
    assert_eq!(
        targets.data()["organizationTargetsForPolicy"]["items"],
        json!([{"targetId": production, "type": "ORGANIZATIONAL_UNIT", "name": "Prod"}])
    );
    let described = run(
        "query($p: String!) { organizationPolicy(policyId: $p) { content } }",
        json!({"p": scp_id}),
    );
    assert_eq!(
        serde_json::from_str::<Value>(described.data()["organizationPolicy"]["content"].as_str().unwrap()).unwrap(),
        deny
    );
    let effective = run(
        "query($a: String!) { effectivePolicy(targetId: $a) { targetId restricted levels { targetId targetType policies { id name version } } } }",
        json!({"a": member}),
    );
    let effective = &effective.data()["effectivePolicy"];
    assert_eq!(effective["restricted"], true);
    let levels = effective["levels"].as_array().unwrap();
    assert_eq!(levels[0]["targetId"], root_id.as_str());
    let at_production = levels.iter().find(|l| l["targetId"] == production.as_str()).unwrap();
    assert!(at_production["policies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "DenyCreateUser"));

    // The tree's constraints.
    let delete_ou = "mutation($id: String!) { deleteOrganizationalUnit(id: $id) { orgSequence } }";
    assert_eq!(
        code(&run(delete_ou, json!({"id": production}))),
        "OrganizationalUnitNotEmptyException"
    );
    assert_eq!(
        code(&run(delete_ou, json!({"id": workloads}))),
        "OrganizationalUnitNotEmptyException"
    );
    let on_root = run(
        "query($t: String!) { organizationPoliciesForTarget(targetId: $t, filter: SERVICE_CONTROL_POLICY) { items { id name awsManaged } } }",
        json!({"t": root_id}),
    );
    let full_access = on_root.data()["organizationPoliciesForTarget"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["awsManaged"] == true)
        .map(|p| text(&p["id"]))
        .unwrap();
    assert_eq!(
        code(&run(
            "mutation($p: String!, $t: String!) { detachOrganizationPolicy(policyId: $p, targetId: $t) { orgSequence } }",
            json!({"p": full_access, "t": root_id})
        )),
        "ConstraintViolationException"
    );

    // Acting in the member account: the management account's operator assumes the member's
    // administrator role.
    let role_arn = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let operator = operator(&server, &root, &role_arn);
    let assumed = gql(
        &server.address,
        &operator,
        "mutation($r: String!) { assumeRole(input: {roleArn: $r, roleSessionName: \"admin\"}) {
            credentials { accessKeyId secretAccessKey sessionToken } assumedRoleUser { arn } } }",
        json!({"r": role_arn}),
    );
    let session = session_of(&assumed.data()["assumeRole"]);
    let as_member = |query: &str, vars: Value| gql(&server.address, &session, query, vars);
    let who = as_member("{ callerIdentity { account } }", json!({}));
    assert_eq!(who.data()["callerIdentity"]["account"], member.as_str());

    // The decision API, made under the organization at least as fresh as the attachment.
    let decide = "query($p: String!, $a: String!, $s: Int) { authorize(input: {principalArn: $p, action: $a, resource: \"*\", orgSequence: $s}) {
        decision allowed matchedStatements { sourcePolicyId sourcePolicyType effect } } }";
    let denied = as_member(decide, json!({"p": role_arn, "a": "iam:CreateUser", "s": org_sequence}));
    let decision = &denied.data()["authorize"];
    assert_eq!(decision["decision"], "ExplicitDeny", "{decision}");
    assert!(
        decision["matchedStatements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["sourcePolicyId"] == scp_id.as_str() && m["effect"] == "Deny"),
        "{decision}"
    );
    let allowed = as_member(decide, json!({"p": role_arn, "a": "iam:ListUsers", "s": org_sequence}));
    assert_eq!(allowed.data()["authorize"]["decision"], "Allow");
    assert_eq!(
        code(&as_member(
            decide,
            json!({"p": role_arn, "a": "iam:ListUsers", "s": org_sequence + 1000})
        )),
        "InvalidInput",
        "a token ahead of the organization's log is refused"
    );

    // A management call the SCP denies, and the management account, which SCPs never restrict.
    let create_user = "mutation($n: String!) { createUser(input: {userName: $n}) { user { arn } } }";
    let refused = as_member(create_user, json!({"n": "intruder"}));
    assert_eq!(code(&refused), "AccessDenied");
    let message = refused.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("service control policy"), "{message}");
    let at_home = run(create_user, json!({"n": "alice"}));
    assert!(at_home.data()["createUser"]["user"]["arn"]
        .as_str()
        .unwrap()
        .starts_with(&format!("arn:aws:iam::{management}:")));
    let management_decision = run(
        decide,
        json!({"p": format!("arn:aws:iam::{management}:root"), "a": "iam:CreateUser", "s": org_sequence}),
    );
    assert_eq!(management_decision.data()["authorize"]["decision"], "Allow");

    // A member may not do what only the management account may.
    assert_eq!(
        code(&as_member(
            "mutation($p: String!) { createOrganizationalUnit(parentId: $p, name: \"rogue\") { orgSequence } }",
            json!({"p": root_id})
        )),
        "AccessDeniedException"
    );
    assert_eq!(
        code(&as_member("{ organizationAccounts { items { id } } }", json!({}))),
        "AccessDeniedException"
    );
    let own_view = as_member("{ organization { id masterAccountId } }", json!({}));
    assert_eq!(own_view.data()["organization"]["id"], org_id.as_str());

    // Central views: the management account reads the member's entities and history.
    let view = "query($a: String!) { memberAccount(accountId: $a) { accountId roles { edges { node { roleName attachedPolicies { policyName } } } } users { edges { node { userName } } } } }";
    let viewed = run(view, json!({"a": member}));
    let roles = viewed.data()["memberAccount"]["roles"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let admin = roles
        .iter()
        .find(|e| e["node"]["roleName"] == "OrganizationAccountAccessRole")
        .unwrap_or_else(|| panic!("no administrator role in {roles:?}"));
    assert_eq!(
        admin["node"]["attachedPolicies"],
        json!([{"policyName": "AdministratorAccess"}])
    );
    assert_eq!(viewed.data()["memberAccount"]["users"]["edges"], json!([]));
    assert_eq!(
        code(&as_member(view, json!({"a": management}))),
        "AccessDeniedException"
    );

    let counts = run(
        "{ organizationAccountCounts { accountId users roles groups policies } }",
        json!({}),
    );
    let counts = counts.data()["organizationAccountCounts"].as_array().unwrap().clone();
    assert_eq!(counts.len(), 2, "{counts:?}");
    let of_member = counts.iter().find(|c| c["accountId"] == member.as_str()).unwrap();
    assert_eq!(of_member["users"], 0);
    assert!(of_member["roles"].as_u64().unwrap() >= 1);
    let of_management = counts.iter().find(|c| c["accountId"] == management.as_str()).unwrap();
    assert_eq!(of_management["users"], 2, "operator and alice");

    let history = "query($a: String) { auditEvents(accountId: $a, first: 100) { edges { node { eventName errorCode recipientAccountId userIdentity { arn } } } } }";
    let theirs = run(history, json!({"a": member}));
    let edges = theirs.data()["auditEvents"]["edges"].as_array().unwrap().clone();
    assert!(
        edges.iter().all(|e| e["node"]["recipientAccountId"] == member.as_str()),
        "{edges:?}"
    );
    let refusal = edges
        .iter()
        .find(|e| e["node"]["eventName"] == "CreateUser")
        .unwrap_or_else(|| panic!("no CreateUser record in {edges:?}"));
    assert_eq!(refusal["node"]["errorCode"], "AccessDenied");
    assert!(refusal["node"]["userIdentity"]["arn"]
        .as_str()
        .unwrap()
        .contains("assumed-role/OrganizationAccountAccessRole/admin"));
    assert_eq!(code(&as_member(history, json!({"a": management}))), "AccessDenied");
    let own = as_member(history, json!({"a": null}));
    assert!(own.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["node"]["recipientAccountId"] == member.as_str()));

    // Organizations' calls are recorded once each, in the caller's history.
    let recorded = run(
        "{ auditEvents(filter: {eventName: \"ListAccountsForParent\"}) { edges { node { eventSource } } } }",
        json!({}),
    );
    assert_eq!(
        recorded.data()["auditEvents"]["edges"],
        json!([{"node": {"eventSource": "organizations.amazonaws.com"}}])
    );
    let twice = run(
        "{ auditEvents(filter: {eventName: \"OrganizationAccountsForParent\"}) { edges { node { eventSource } } } }",
        json!({}),
    );
    assert_eq!(twice.data()["auditEvents"]["edges"], json!([]));
    server.terminate();
}
