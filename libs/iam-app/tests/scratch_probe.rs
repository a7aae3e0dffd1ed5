//! Consistency tokens against the "new enemy" problem: two service instances (replicas) share
//! one event log; a permission removed through one is never granted afterwards by the other when
//! the caller passes the removal's sequence, even though the other's model is stale.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use iam_app::access::{AccessRequest, ApiCaller};
use iam_app::organizations::{OrgOperation, OrgRead, Page};
use iam_app::{Actor, Gatehouse};
use iam_domain::organization::{OrgCommand, OrgPolicyType};
use iam_domain::Command;
use iam_policy::{DecisionEffect, PolicySlot};
use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use iam_types::ErrorCode;

async fn replica(dir: &std::path::Path, name: &str) -> Gatehouse {
    let store = SqliteEventStore::open(&dir.join("events.db").to_string_lossy(), SqliteStoreOptions::default())
        .await
        .unwrap();
    let audit = SqliteAuditLog::open(
        &dir.join(format!("audit-{name}.db")).to_string_lossy(),
        AuditDurability::Process,
    )
    .await
    .unwrap();
    Gatehouse::load(Arc::new(store), Sealer::new(&[3; 32]))
        .await
        .unwrap()
        .with_audit(Arc::new(audit))
}

fn caller_for(account: &str) -> ApiCaller {
    ApiCaller {
        account_id: account.to_owned(),
        principal_arn: format!("arn:aws:iam::{account}:root"),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
        request_id: "r".into(),
        region: "us-east-1".into(),
        api_version: None,
        session: None,
    }
}

/// An organization change through `replica` by `account`'s root: the answer, and its token.
async fn org_change(replica: &Gatehouse, account: &str, command: OrgCommand) -> (serde_json::Value, u64) {
    let answer = replica
        .organizations(&caller_for(account), OrgOperation::Change(command), None)
        .await
        .unwrap();
    (answer.response, answer.sequence)
}

/// A standalone account whose user `alice` may read every S3 object.
async fn account_with_reader(replica: &Gatehouse, actor: &Actor) -> String {
    let (account, _) = replica.create_account(actor, None).await.unwrap();
    for command in [
        Command::CreateUser {
            user_name: "alice".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        },
        Command::AttachUserPolicy {
            user_name: "alice".into(),
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        },
    ] {
        replica.execute(&account, actor, &command).await.unwrap();
    }
    account
}

/// `account` joins the organization of `management` through `replica` (invited and accepting).
async fn join(replica: &Gatehouse, management: &str, account: &str) -> u64 {
    let (invited, _) = org_change(
        replica,
        management,
        OrgCommand::InviteAccount {
            target_account_id: account.to_owned(),
            notes: None,
            target_in_other_organization: false,
        },
    )
    .await;
    let handshake = invited["Handshake"]["Id"].as_str().unwrap().to_owned();
    let (_, joined) = org_change(
        replica,
        account,
        OrgCommand::AcceptHandshake {
            handshake_id: handshake,
            caller_account_id: String::new(),
            account_name: String::new(),
            in_other_organization: false,
        },
    )
    .await;
    joined
}

/// Creates an SCP denying `action` and attaches it to `target`: the attachment's token.
async fn deny_with_scp(replica: &Gatehouse, management: &str, name: &str, action: &str, target: &str) -> (String, u64) {
    let (created, _) = org_change(
        replica,
        management,
        OrgCommand::CreatePolicy {
            name: name.to_owned(),
            description: String::new(),
            policy_type: OrgPolicyType::ServiceControlPolicy,
            content: serde_json::json!({"Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]})
            .to_string(),
        },
    )
    .await;
    let policy = created["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_owned();
    let (_, attached) = org_change(
        replica,
        management,
        OrgCommand::AttachPolicy {
            policy_id: policy.clone(),
            target_id: target.to_owned(),
        },
    )
    .await;
    (policy, attached)
}

fn read_as_alice(account: &str, min_org_sequence: Option<u64>) -> AccessRequest {
    AccessRequest {
        principal_arn: format!("arn:aws:iam::{account}:user/alice"),
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::reports/q3.pdf".into(),
        min_org_sequence,
        ..AccessRequest::default()
    }
}

fn denied_by_scp(decision: &iam_app::access::AccessDecision, policy: &str) -> bool {
    decision.effect == DecisionEffect::ExplicitDeny
        && decision
            .matched
            .iter()
            .any(|m| m.slot == PolicySlot::ServiceControl && &*m.source.id == policy)
}

async fn org_of(replica: &Gatehouse, management: &str) -> (String, String) {
    let (made, _) = org_change(
        replica,
        management,
        OrgCommand::CreateOrganization {
            management_account_id: management.to_owned(),
            management_account_email: String::new(),
            feature_set: Some("ALL".into()),
        },
    )
    .await;
    let organization = made["Organization"]["Id"].as_str().unwrap().to_owned();
    let roots = replica
        .organizations(
            &caller_for(management),
            OrgOperation::Read(OrgRead::ListRoots(Page::default())),
            None,
        )
        .await
        .unwrap();
    let root_id = roots.response["Roots"][0]["Id"].as_str().unwrap().to_owned();
    org_change(
        replica,
        management,
        OrgCommand::EnablePolicyType {
            root_id: root_id.clone(),
            policy_type: OrgPolicyType::ServiceControlPolicy,
        },
    )
    .await;
    (organization, root_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_org_resource_owner_with_token() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (m1, _) = first.create_account(&actor, None).await.unwrap();
    let (m2, _) = first.create_account(&actor, None).await.unwrap();
    let x = account_with_reader(&first, &actor).await;
    let y = account_with_reader(&first, &actor).await;
    org_of(&first, &m1).await;
    org_of(&first, &m2).await;
    join(&first, &m2, &y).await;
    join(&first, &m1, &x).await;
    let mut token = 0;
    for i in 0..5 {
        let (_, t) = deny_with_scp(&first, &m1, &format!("P{i}"), "s3:PutObject", &x).await;
        token = t;
    }
    let mut request = read_as_alice(&x, Some(token));
    request.resource_owner = Some(y.clone());
    let r = first.decide_access(&caller_for(&x), &request).await;
    println!(
        "cross-org: {:?}",
        r.as_ref().map(|d| d.effect).map_err(|e| (e.code, e.message.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_between_orgs() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (m1, _) = first.create_account(&actor, None).await.unwrap();
    let (m2, _) = first.create_account(&actor, None).await.unwrap();
    let x = account_with_reader(&first, &actor).await;
    let (o1, _) = org_of(&first, &m1).await;
    join(&first, &m1, &x).await;
    for i in 0..6 {
        deny_with_scp(&first, &m1, &format!("P{i}"), "s3:PutObject", &x).await;
    }
    let second = replica(dir.path(), "b").await;
    assert_eq!(second.organization_of(&x).as_deref(), Some(o1.as_str()));
    org_change(&first, &m1, OrgCommand::RemoveAccount { account_id: x.clone() }).await;
    let (o2, _) = org_of(&first, &m2).await;
    join(&first, &m2, &x).await;
    let (scp, token) = deny_with_scp(&first, &m2, "NoReads", "s3:GetObject", &x).await;
    println!(
        "o1 head on second {:?}, token {token}",
        second.organization_model_of(&x).map(|m| m.state().version())
    );
    let on_first = first
        .decide_access(&caller_for(&x), &read_as_alice(&x, Some(token)))
        .await
        .unwrap();
    println!("first: {:?} scp={}", on_first.effect, denied_by_scp(&on_first, &scp));
    let r = second
        .decide_access(&caller_for(&x), &read_as_alice(&x, Some(token)))
        .await;
    println!(
        "second with org2 token: {:?}; second thinks x in {:?} (o2={o2})",
        r.map(|d| d.effect).map_err(|e| e.message),
        second.organization_of(&x)
    );
}
