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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_makes_a_lagging_replica_catch_up_before_deciding() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (account, _) = first.create_account(&actor, None).await.unwrap();
    let policy = "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned();
    for command in [
        Command::CreateUser {
            user_name: "alice".into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        },
        Command::AttachUserPolicy {
            user_name: "alice".into(),
            policy_arn: policy.clone(),
        },
    ] {
        first.execute(&account, &actor, &command).await.unwrap();
    }
    // The second replica loads now, then only learns of changes through the log.
    let second = replica(dir.path(), "b").await;
    let removed = first
        .execute(
            &account,
            &actor,
            &Command::DetachUserPolicy {
                user_name: "alice".into(),
                policy_arn: policy,
            },
        )
        .await
        .unwrap();

    let caller = ApiCaller {
        account_id: account.clone(),
        principal_arn: format!("arn:aws:iam::{account}:root"),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
        request_id: "r".into(),
        region: "us-east-1".into(),
        api_version: None,
        session: None,
    };
    let read = |min_sequence| AccessRequest {
        principal_arn: format!("arn:aws:iam::{account}:user/alice"),
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::reports/q3.pdf".into(),
        min_sequence,
        ..AccessRequest::default()
    };
    // Without a token the lagging replica still answers from before the removal: the problem.
    let stale = second.decide_access(&caller, &read(None)).await.unwrap();
    assert_eq!(stale.effect, DecisionEffect::Allowed);
    assert!(stale.sequence < removed.sequence);
    // With the removal's token it catches up first.
    let fresh = second
        .decide_access(&caller, &read(Some(removed.sequence)))
        .await
        .unwrap();
    assert_eq!(fresh.effect, DecisionEffect::ImplicitDeny);
    assert_eq!(fresh.sequence, removed.sequence);
    // A token from the future is refused, not waited for forever.
    let ahead = second
        .decide_access(&caller, &read(Some(removed.sequence + 100)))
        .await
        .unwrap_err();
    assert_eq!(ahead.code, ErrorCode::InvalidInput);
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

/// `management`'s organization invites `account`: the handshake's id.
async fn invite(replica: &Gatehouse, management: &str, account: &str) -> String {
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
    invited["Handshake"]["Id"].as_str().unwrap().to_owned()
}

fn accept(handshake: &str) -> OrgOperation {
    OrgOperation::Change(OrgCommand::AcceptHandshake {
        handshake_id: handshake.to_owned(),
        caller_account_id: String::new(),
        account_name: String::new(),
        in_other_organization: false,
    })
}

/// `account` joins the organization of `management` through `replica` (invited and accepting).
async fn join(replica: &Gatehouse, management: &str, account: &str) -> u64 {
    let handshake = invite(replica, management, account).await;
    replica
        .organizations(&caller_for(account), accept(&handshake), None)
        .await
        .unwrap()
        .sequence
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

/// The same problem for an organization's guardrails: an SCP attached through one replica is
/// applied by a replica that has not followed it only for a decision carrying the attachment's
/// organization token, also for an account the lagging replica does not yet know to be a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_token_makes_a_lagging_replica_apply_a_new_scp() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (management, _) = first.create_account(&actor, None).await.unwrap();
    let member = account_with_reader(&first, &actor).await;
    let newcomer = account_with_reader(&first, &actor).await;
    let (made, _) = org_change(
        &first,
        &management,
        OrgCommand::CreateOrganization {
            management_account_id: management.clone(),
            management_account_email: String::new(),
            feature_set: Some("ALL".into()),
        },
    )
    .await;
    let organization = made["Organization"]["Id"].as_str().unwrap().to_owned();
    join(&first, &management, &member).await;
    let roots = first
        .organizations(
            &caller_for(&management),
            OrgOperation::Read(OrgRead::ListRoots(Page::default())),
            None,
        )
        .await
        .unwrap();
    let root_id = roots.response["Roots"][0]["Id"].as_str().unwrap().to_owned();
    let (_, enabled) = org_change(
        &first,
        &management,
        OrgCommand::EnablePolicyType {
            root_id,
            policy_type: OrgPolicyType::ServiceControlPolicy,
        },
    )
    .await;

    // The second replica loads now: it sees the organization, the member and FullAWSAccess, then
    // learns of nothing more by itself.
    let second = replica(dir.path(), "b").await;
    assert_eq!(second.organization_of(&member).as_deref(), Some(organization.as_str()));
    let seen = second.guardrails_of(&member).unwrap();
    assert_eq!(seen.organization_sequence, enabled);
    assert_eq!(second.organization_of(&newcomer), None);

    let (scp, attached) = deny_with_scp(&first, &management, "NoReads", "s3:GetObject", &member).await;
    assert!(attached > enabled);
    let on_first = first
        .decide_access(&caller_for(&member), &read_as_alice(&member, None))
        .await
        .unwrap();
    assert!(denied_by_scp(&on_first, &scp), "{on_first:?}");
    // Without a token the lagging replica still answers from before the attachment: the problem.
    let stale = second
        .decide_access(&caller_for(&member), &read_as_alice(&member, None))
        .await
        .unwrap();
    assert_eq!(stale.effect, DecisionEffect::Allowed);
    assert_eq!(second.guardrails_of(&member).unwrap().organization_sequence, enabled);
    // With the attachment's token it catches the organization up first.
    let fresh = second
        .decide_access(&caller_for(&member), &read_as_alice(&member, Some(attached)))
        .await
        .unwrap();
    assert!(denied_by_scp(&fresh, &scp), "{fresh:?}");
    assert_eq!(second.guardrails_of(&member).unwrap().organization_sequence, attached);

    // An account that joined through the first replica is no member at all to the second, so
    // catching up "its organization" would find none: the token still has to bring the SCP in.
    join(&first, &management, &newcomer).await;
    let (newcomer_scp, attached) = deny_with_scp(&first, &management, "NoReadsEither", "s3:GetObject", &newcomer).await;
    assert_eq!(second.organization_of(&newcomer), None);
    let stale = second
        .decide_access(&caller_for(&newcomer), &read_as_alice(&newcomer, None))
        .await
        .unwrap();
    assert_eq!(stale.effect, DecisionEffect::Allowed);
    let fresh = second
        .decide_access(&caller_for(&newcomer), &read_as_alice(&newcomer, Some(attached)))
        .await
        .unwrap();
    assert!(denied_by_scp(&fresh, &newcomer_scp), "{fresh:?}");
    assert_eq!(
        second.organization_of(&newcomer).as_deref(),
        Some(organization.as_str())
    );

    // An organization token from the future is refused, not waited for.
    let ahead = second
        .decide_access(&caller_for(&member), &read_as_alice(&member, Some(attached + 100)))
        .await
        .unwrap_err();
    assert_eq!(ahead.code, ErrorCode::InvalidInput);
}

/// An organization with `management` as its management account and SCPs enabled.
async fn organization_with_scps(replica: &Gatehouse, management: &str) -> String {
    let (made, _) = org_change(
        replica,
        management,
        OrgCommand::CreateOrganization {
            management_account_id: management.to_owned(),
            management_account_email: String::new(),
            feature_set: None,
        },
    )
    .await;
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
            root_id,
            policy_type: OrgPolicyType::ServiceControlPolicy,
        },
    )
    .await;
    made["Organization"]["Id"].as_str().unwrap().to_owned()
}

/// An account that left one organization and joined another through the first replica: the
/// second still places it in the first organization, whose sequence is already past the token of
/// the second's change. The token must still bring in the new organization's SCP; and a token of
/// the caller's organization must not be held against a resource owner's other organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_token_follows_an_account_into_another_organization() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (old_management, _) = first.create_account(&actor, None).await.unwrap();
    let (new_management, _) = first.create_account(&actor, None).await.unwrap();
    let member = account_with_reader(&first, &actor).await;
    let old = organization_with_scps(&first, &old_management).await;
    join(&first, &old_management, &member).await;
    // Enough changes that the old organization's sequence passes anything the new one reaches.
    for n in 0..3 {
        deny_with_scp(
            &first,
            &old_management,
            &format!("Unrelated{n}"),
            "ec2:RunInstances",
            &old_management,
        )
        .await;
    }
    let second = replica(dir.path(), "b").await;
    assert_eq!(second.organization_of(&member).as_deref(), Some(old.as_str()));

    org_change(
        &first,
        &old_management,
        OrgCommand::RemoveAccount {
            account_id: member.clone(),
        },
    )
    .await;
    let new = organization_with_scps(&first, &new_management).await;
    join(&first, &new_management, &member).await;
    let (scp, attached) = deny_with_scp(&first, &new_management, "NoReads", "s3:GetObject", &member).await;
    let old_sequence = first.organization_at_least(&old, 0).await.unwrap().state().version();
    assert!(
        old_sequence > attached,
        "{old_sequence} <= {attached}: the case needs the old organization ahead"
    );

    let stale = second
        .decide_access(&caller_for(&member), &read_as_alice(&member, None))
        .await
        .unwrap();
    assert_eq!(stale.effect, DecisionEffect::Allowed);
    let fresh = second
        .decide_access(&caller_for(&member), &read_as_alice(&member, Some(attached)))
        .await
        .unwrap();
    assert!(denied_by_scp(&fresh, &scp), "{fresh:?}");
    assert_eq!(second.organization_of(&member).as_deref(), Some(new.as_str()));

    // A token names the caller's organization: a resource owner in another, shorter one is
    // decided at that organization's head, not refused as "ahead of its log".
    let request = AccessRequest {
        principal_arn: format!("arn:aws:iam::{old_management}:root"),
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::reports/q3.pdf".into(),
        resource_owner: Some(new_management.clone()),
        min_org_sequence: Some(old_sequence),
        ..AccessRequest::default()
    };
    let decided = second
        .decide_access(&caller_for(&old_management), &request)
        .await
        .unwrap();
    assert_ne!(decided.effect, DecisionEffect::ExplicitDeny);
}

/// An account is in one organization at most, whichever replica it asks: one that has not
/// followed a join made through another still refuses a second organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_does_not_let_a_member_found_a_second_organization() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (management, _) = first.create_account(&actor, None).await.unwrap();
    let member = account_with_reader(&first, &actor).await;
    let second = replica(dir.path(), "b").await;
    organization_with_scps(&first, &management).await;
    join(&first, &management, &member).await;
    assert_eq!(
        second.organization_of(&member),
        None,
        "the second replica has not followed"
    );

    let refused = second
        .organizations(
            &caller_for(&member),
            OrgOperation::Change(OrgCommand::CreateOrganization {
                management_account_id: String::new(),
                management_account_email: String::new(),
                feature_set: None,
            }),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::AlreadyInOrganizationException);
}

/// Two replicas let one account accept two organizations' invitations at the same moment, each
/// having checked its own view first: the log's membership claim lets exactly one join, and the
/// other acceptance is refused as AWS refuses it, whichever replica wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_acceptances_through_two_replicas_join_one_organization() {
    let dir = tempfile::tempdir().unwrap();
    let first = replica(dir.path(), "a").await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (x_management, _) = first.create_account(&actor, None).await.unwrap();
    let (y_management, _) = first.create_account(&actor, None).await.unwrap();
    let x = organization_with_scps(&first, &x_management).await;
    let y = organization_with_scps(&first, &y_management).await;
    let mut invited = Vec::new();
    for _ in 0..12 {
        let (account, _) = first.create_account(&actor, None).await.unwrap();
        let to_x = invite(&first, &x_management, &account).await;
        let to_y = invite(&first, &y_management, &account).await;
        invited.push((account, to_x, to_y));
    }
    let second = replica(dir.path(), "b").await;
    for (account, to_x, to_y) in &invited {
        let caller = caller_for(account);
        let (through_first, through_second) = tokio::join!(
            first.organizations(&caller, accept(to_x), None),
            second.organizations(&caller, accept(to_y), None),
        );
        let outcomes = [through_first.map(|a| a.sequence), through_second.map(|a| a.sequence)];
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{account}: {outcomes:?}"
        );
        for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert_eq!(
                refused.code,
                ErrorCode::HandshakeConstraintViolationException,
                "{refused:?}"
            );
        }
        // The winner's organization has the account at the join's token; the other has not.
        let (winner, loser, token) = match &outcomes {
            [Ok(token), _] => (&x, &y, *token),
            [_, Ok(token)] => (&y, &x, *token),
            _ => unreachable!(),
        };
        for replica in [&first, &second] {
            let has = |org: &Arc<iam_app::organizations::OrgModel>| org.state().account(account).is_some();
            assert!(
                has(&replica.organization_at_least(winner, token).await.unwrap()),
                "{account}"
            );
            assert!(
                !has(&replica.organization_at_least(loser, 0).await.unwrap()),
                "{account}"
            );
        }
    }
}
