//! Consistency tokens against the "new enemy" problem: two service instances (replicas) share
//! one event log; a permission removed through one is never granted afterwards by the other when
//! the caller passes the removal's sequence, even though the other's model is stale.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use iam_app::access::{AccessRequest, ApiCaller};
use iam_app::{Actor, Gatehouse};
use iam_domain::Command;
use iam_policy::DecisionEffect;
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
