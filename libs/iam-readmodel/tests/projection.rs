//! The read model against the real embedded log: following the log live, rebuilding it from
//! scratch and the domain state all agree (for the accounts and for an organization they form),
//! redeliveries change nothing, and an unreadable event stops only its own account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::Utc;
use iam_app::access::ApiCaller;
use iam_app::organizations::OrgOperation;
use iam_app::Gatehouse;
use iam_domain::organization::OrgCommand;
use iam_eventlog::{EventEnvelope, EventFeed, EventStore};
use iam_readmodel::{expected_organization_snapshot, expected_snapshot, Projector, SqliteReadModel};
use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::org::random_org_command;
use support::{actor, pick, random_command};

fn root_caller(account: &str) -> ApiCaller {
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

/// A random Organizations call on the organization `management` runs, through the application.
async fn random_org_call(rng: &mut StdRng, gatehouse: &Gatehouse, management: &str, outsider: &str) -> bool {
    let Some(org) = gatehouse.organization_model_of(management) else {
        return false;
    };
    let (caller, command) = random_org_command(rng, org.state(), &[outsider], None);
    gatehouse
        .organizations(&root_caller(&caller), OrgOperation::Change(command), None)
        .await
        .is_ok()
}

async fn follow_to_end(projector: &Projector, store: &SqliteEventStore) -> u64 {
    let latest = store.latest_position().await.unwrap();
    let reached = projector.catch_up().await.unwrap();
    assert_eq!(reached, latest, "the projector caught up with the whole log");
    reached
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_projection_equals_rebuild_and_domain_state() {
    for seed in [1_u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteEventStore::open(
            &dir.path().join("events.db").to_string_lossy(),
            SqliteStoreOptions::default(),
        )
        .await
        .unwrap();
        // Organizations calls are recorded: they need an audit log.
        let audit = SqliteAuditLog::open(&dir.path().join("audit.db").to_string_lossy(), AuditDurability::Process)
            .await
            .unwrap();
        let gatehouse = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[7; 32]))
            .await
            .unwrap()
            .with_audit(Arc::new(audit));
        let live = SqliteReadModel::open(&dir.path().join("live.db").to_string_lossy())
            .await
            .unwrap();
        let projector = Projector::new(Arc::new(store.clone()), live.clone()).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let follower = tokio::spawn(projector.clone().run(async {
            let _ = stopped.await;
        }));

        let mut rng = StdRng::seed_from_u64(seed);
        let mut accounts = Vec::new();
        for _ in 0..2 {
            let (account, _key) = gatehouse.create_account(&actor(), None).await.unwrap();
            accounts.push(account);
        }
        // The first account manages an organization the second may be invited into.
        gatehouse
            .organizations(
                &root_caller(&accounts[0]),
                OrgOperation::Change(OrgCommand::CreateOrganization {
                    management_account_id: String::new(),
                    management_account_email: String::new(),
                    feature_set: None,
                }),
                None,
            )
            .await
            .unwrap();
        let organization = gatehouse.organization_of(&accounts[0]).unwrap();
        // The second account is invited and joins, and SCPs are enabled (FullAWSAccess everywhere);
        // the random calls go on from there.
        let org_call = |caller: &str, command: OrgCommand| {
            let caller = root_caller(caller);
            let gatehouse = &gatehouse;
            async move {
                gatehouse
                    .organizations(&caller, OrgOperation::Change(command), None)
                    .await
                    .unwrap()
            }
        };
        let invited = org_call(
            &accounts[0],
            OrgCommand::InviteAccount {
                target_account_id: accounts[1].clone(),
                notes: None,
                target_in_other_organization: false,
            },
        )
        .await;
        let handshake_id = invited.response["Handshake"]["Id"].as_str().unwrap().to_owned();
        org_call(
            &accounts[1],
            OrgCommand::AcceptHandshake {
                handshake_id,
                caller_account_id: String::new(),
                account_name: String::new(),
                in_other_organization: false,
            },
        )
        .await;
        let root_id = gatehouse
            .organization_model_of(&accounts[0])
            .unwrap()
            .state()
            .root()
            .unwrap()
            .id
            .clone();
        org_call(
            &accounts[0],
            OrgCommand::EnablePolicyType {
                root_id,
                policy_type: iam_domain::organization::OrgPolicyType::ServiceControlPolicy,
            },
        )
        .await;
        let (mut succeeded, mut org_succeeded) = (0, 0);
        for _ in 0..600 {
            let account = &accounts[rng.gen_range(0..accounts.len())];
            if rng.gen_range(0..4) == 0 {
                org_succeeded += usize::from(random_org_call(&mut rng, &gatehouse, &accounts[0], &accounts[1]).await);
                continue;
            }
            let result = if rng.gen_range(0..30) == 0 {
                let user = pick(&mut rng, &["alice", "bob"]).to_owned();
                gatehouse
                    .create_access_key(account, &actor(), Some(user))
                    .await
                    .map(|_| ())
            } else {
                let command = random_command(&mut rng, account, &gatehouse);
                gatehouse.execute(account, &actor(), &command).await.map(|_| ())
            };
            succeeded += usize::from(result.is_ok());
        }
        assert!(
            succeeded > 150,
            "seed {seed}: only {succeeded} commands succeeded; the walk is too weak"
        );
        assert!(
            org_succeeded > 25,
            "seed {seed}: only {org_succeeded} organization calls succeeded"
        );
        follow_to_end(&projector, &store).await;
        let _ = stop.send(());
        follower.await.unwrap();

        let rebuilt = SqliteReadModel::open(&dir.path().join("rebuilt.db").to_string_lossy())
            .await
            .unwrap();
        let rebuilder = Projector::new(Arc::new(store.clone()), rebuilt.clone()).await.unwrap();
        follow_to_end(&rebuilder, &store).await;

        for account in &accounts {
            let state = gatehouse.account(account).unwrap().state().clone();
            let from_live = live.snapshot(account).await.unwrap();
            assert_eq!(
                from_live,
                expected_snapshot(&state),
                "seed {seed}: live read model of {account} differs from the domain state"
            );
            assert_eq!(
                from_live,
                rebuilt.snapshot(account).await.unwrap(),
                "seed {seed}: rebuilt read model of {account} differs from the live one"
            );
            assert!(
                from_live["rm_users"]
                    .as_array()
                    .is_some_and(|rows| rows.iter().all(|r| r["account_id"] == **account)),
                "rows belong to their account"
            );
        }

        let org_state = gatehouse.organization_model_of(&accounts[0]).unwrap().state().clone();
        let from_live = live.snapshot(&organization).await.unwrap();
        assert_eq!(
            from_live,
            expected_organization_snapshot(&org_state, None),
            "seed {seed}: live read model of {organization} differs from the domain state"
        );
        assert_eq!(
            from_live,
            rebuilt.snapshot(&organization).await.unwrap(),
            "seed {seed}: rebuilt read model of {organization} differs from the live one"
        );
        let org_events = store.read_stream(&organization, 1, u32::MAX).await.unwrap();
        let types: std::collections::BTreeSet<&str> = org_events.iter().map(|e| e.event_type.as_str()).collect();
        assert!(
            types.len() >= 10,
            "seed {seed}: the organization walk is too weak: {types:?}"
        );

        // Redelivering the whole log (an at-least-once feed after a crash) changes nothing.
        let accounts: Vec<String> = accounts.iter().cloned().chain([organization]).collect();
        let before: Vec<_> = futures_snapshots(&live, &accounts).await;
        let everything = store.read_from(0, 100_000).await.unwrap();
        let applied = live.apply(&everything).await.unwrap();
        assert_eq!(applied.applied, 0);
        assert_eq!(applied.duplicates, everything.len());
        assert_eq!(before, futures_snapshots(&live, &accounts).await);
        assert!(live.failed_events().await.unwrap().is_empty());
    }
}

async fn futures_snapshots(model: &SqliteReadModel, accounts: &[String]) -> Vec<serde_json::Value> {
    let mut snapshots = Vec::new();
    for account in accounts {
        snapshots.push(model.snapshot(account).await.unwrap());
    }
    snapshots
}

fn envelope(account: &str, sequence: u64, event_type: &str, payload: serde_json::Value) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7(),
        account_id: account.into(),
        sequence,
        recorded_at: Utc::now(),
        actor: format!("arn:aws:iam::{account}:root"),
        request_id: "r".into(),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
    }
}

fn account_created(account: &str) -> serde_json::Value {
    serde_json::json!({"type": "iam.account.created", "account_id": account, "account_alias": null,
        "create_date": "2026-11-27T10:00:00Z"})
}

fn group_created(account: &str, name: &str, id: &str) -> serde_json::Value {
    serde_json::json!({"type": "iam.group.created", "group_id": id, "group_name": name, "path": "/",
        "arn": format!("arn:aws:iam::{account}:group/{name}"), "create_date": "2026-11-27T10:00:01Z"})
}

#[tokio::test]
async fn an_unreadable_event_stops_only_its_account_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let model = SqliteReadModel::open(&dir.path().join("rm.db").to_string_lossy())
        .await
        .unwrap();
    let (a, b) = ("111111111111", "222222222222");
    let batch = vec![
        (1, envelope(a, 1, "iam.account.created", account_created(a))),
        (2, envelope(b, 1, "iam.account.created", account_created(b))),
        (
            3,
            envelope(
                a,
                2,
                "iam.group.created",
                serde_json::json!({"type": "iam.group.created"}),
            ),
        ),
        (
            4,
            envelope(
                a,
                3,
                "iam.group.created",
                group_created(a, "late", "AGPAAAAAAAAAAAAAAAAA1"),
            ),
        ),
        (
            5,
            envelope(
                b,
                2,
                "iam.group.created",
                group_created(b, "fine", "AGPAAAAAAAAAAAAAAAAA2"),
            ),
        ),
    ];
    let applied = model.apply(&batch).await.unwrap();
    assert_eq!((applied.applied, applied.stopped, applied.checkpoint), (3, 2, 5));

    let head_a = model.account_head(a).await.unwrap();
    assert_eq!((head_a.sequence, head_a.failed_sequence), (1, Some(2)));
    let head_b = model.account_head(b).await.unwrap();
    assert_eq!((head_b.sequence, head_b.failed_sequence), (2, None));

    let failed = model.failed_events().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].0.as_str(), failed[0].1), (a, 2));
    assert!(failed[0].3.contains("malformed payload"), "{}", failed[0].3);

    assert_eq!(model.snapshot(a).await.unwrap()["rm_groups"], serde_json::json!([]));
    assert_eq!(model.snapshot(b).await.unwrap()["rm_groups"][0]["group_name"], "fine");
    assert_eq!(model.checkpoint().await.unwrap(), 5);
}
