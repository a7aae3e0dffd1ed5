//! `CreateAccount` interrupted between its halves, over a real SQLite log: a restarted service
//! finishes the request, and nothing is made twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};

use super::*;
use crate::access::ApiCaller;

async fn open(dir: &std::path::Path) -> Gatehouse {
    let store = SqliteEventStore::open(&dir.join("events.db").to_string_lossy(), SqliteStoreOptions::default())
        .await
        .unwrap();
    let audit = SqliteAuditLog::open(&dir.join("audit.db").to_string_lossy(), AuditDurability::Process)
        .await
        .unwrap();
    Gatehouse::load(Arc::new(store), Sealer::new(&[5; 32]))
        .await
        .unwrap()
        .with_audit(Arc::new(audit))
}

fn root_of(account: &str) -> ApiCaller {
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

async fn status_of(service: &Gatehouse, management: &str, request_id: &str) -> Value {
    let read = OrgRead::DescribeCreateAccountStatus(request_id.to_owned());
    let answer = service
        .organizations(&root_of(management), OrgOperation::Read(read), None)
        .await;
    answer.unwrap().response["CreateAccountStatus"].clone()
}

/// Creates an organization and reserves a member account (the first half of `CreateAccount`),
/// as a process that stopped right after it would leave it; with `made_account`, the account
/// itself was made too (the process stopped before its role was).
async fn interrupted(dir: &std::path::Path, made_account: bool) -> (String, String, String, String) {
    let service = open(dir).await;
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (management, _) = service.create_account(&actor, None).await.unwrap();
    let created = service
        .organizations(
            &root_of(&management),
            OrgOperation::Change(OrgCommand::CreateOrganization {
                management_account_id: String::new(),
                management_account_email: String::new(),
                feature_set: None,
            }),
            None,
        )
        .await
        .unwrap();
    let organization_id = created.response["Organization"]["Id"].as_str().unwrap().to_owned();
    let account_id = service.draw_account_id().unwrap();
    let request_id = "car-0192b2c3d4e5f60718293a4b5c6d7e8f".to_owned();
    let start = OrgCommand::StartCreateAccount {
        account_id: account_id.clone(),
        account_name: "payroll".into(),
        email: "payroll@example.com".into(),
        parent_id: None,
        role_name: "OrganizationAccountAccessRole".into(),
        request: Some(CreateAccountRequest {
            id: request_id.clone(),
            requested: Utc::now(),
        }),
    };
    service
        .execute_organization(&organization_id, &actor, &start)
        .await
        .unwrap();
    if made_account {
        let create = iam_domain::Command::CreateAccount {
            account_id: account_id.clone(),
            account_alias: None,
        };
        service.execute(&account_id, &actor, &create).await.unwrap();
    }
    (management, organization_id, account_id, request_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_finishes_a_create_account_that_stopped_after_reserving() {
    for made_account in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (management, organization_id, account_id, request_id) = interrupted(dir.path(), made_account).await;

        // The process is gone; a new one loads the log.
        let restarted = open(dir.path()).await;
        let pending = status_of(&restarted, &management, &request_id).await;
        assert_eq!(pending["State"], "IN_PROGRESS", "{pending}");
        assert!(pending.get("AccountId").is_none(), "{pending}");
        // The reserved seat is not yet a member, and no decision treats it as one.
        assert_eq!(restarted.organization_of(&account_id), None);

        assert_eq!(restarted.resume_account_creations().await.unwrap(), 1);
        let done = status_of(&restarted, &management, &request_id).await;
        assert_eq!(done["State"], "SUCCEEDED", "{done}");
        assert_eq!(done["AccountId"], account_id.as_str());
        assert_eq!(
            restarted.organization_of(&account_id).as_deref(),
            Some(organization_id.as_str())
        );
        let member = restarted.account(&account_id).unwrap();
        let role = member.state().role("OrganizationAccountAccessRole").unwrap();
        assert!(
            role.assume_role_policy_document.contains(&management),
            "trusts the management account"
        );

        // Nothing is left to resume, and resuming again changes nothing.
        let events_before = restarted.org_model(&organization_id).unwrap().state().version();
        assert_eq!(restarted.resume_account_creations().await.unwrap(), 0);
        assert_eq!(
            restarted.org_model(&organization_id).unwrap().state().version(),
            events_before
        );
        // And a third process agrees.
        let again = open(dir.path()).await;
        assert_eq!(status_of(&again, &management, &request_id).await["State"], "SUCCEEDED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_accounts_count_against_the_quota_and_internal_steps_are_not_operations() {
    let dir = tempfile::tempdir().unwrap();
    let (management, _, account_id, _) = interrupted(dir.path(), false).await;
    let service = open(dir.path()).await;
    let state = service.organization_model_of(&management).unwrap().state().clone();
    assert_eq!(state.create_requests_in_progress().count(), 1);
    assert_eq!(
        state.create_requests_in_progress().next().unwrap().account_id,
        account_id
    );
    // A caller cannot drive the halves of CreateAccount itself.
    let forged = OrgCommand::AddCreatedAccount {
        account_id: "123456789012".into(),
        account_name: "forged".into(),
        email: "forged@example.com".into(),
        parent_id: None,
        request: None,
    };
    let refused = service
        .organizations(&root_of(&management), OrgOperation::Change(forged), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidInputException);
    assert_eq!(service.organization_of("123456789012"), None);
}
