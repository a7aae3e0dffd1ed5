//! Organizations in the read model: an organization's stream, decided and evolved in memory and
//! projected through the SQLite backend, holds after every command exactly the rows its domain
//! state implies (`expected_organization_snapshot`), implicit full-access attachments included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use iam_domain::organization::{OrgCommand, OrgPolicyType};
use iam_eventlog::EventEnvelope;
use iam_readmodel::{expected_organization_snapshot, SqliteReadModel};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use support::org::{policy_content, random_org_command, OrgWalk, SERVICES};

const MANAGEMENT: &str = "111111111111";

/// A read model and the feed position it is at.
struct Model {
    _dir: tempfile::TempDir,
    model: SqliteReadModel,
    position: u64,
}

impl Model {
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let model = SqliteReadModel::open(&dir.path().join("rm.db").to_string_lossy())
            .await
            .unwrap();
        Model {
            _dir: dir,
            model,
            position: 0,
        }
    }

    async fn apply(&mut self, events: Vec<EventEnvelope>) {
        let batch: Vec<(u64, EventEnvelope)> = events
            .into_iter()
            .map(|e| {
                self.position += 1;
                (self.position, e)
            })
            .collect();
        let applied = self.model.apply(&batch).await.unwrap();
        assert_eq!(applied.applied, batch.len(), "every event applies");
    }
}

/// Runs `command` on the walk, projects its events, and checks the model against the state.
async fn step(walk: &mut OrgWalk, model: &mut Model, caller: &str, command: &OrgCommand) -> Value {
    let events = walk
        .run(caller, command)
        .unwrap_or_else(|e| panic!("{command:?} was refused: {e}"));
    model.apply(events).await;
    check(walk, model, &format!("{command:?}")).await
}

async fn check(walk: &OrgWalk, model: &Model, after: &str) -> Value {
    let snapshot = model.model.snapshot(&walk.id()).await.unwrap();
    let expected = expected_organization_snapshot(&walk.state, walk.created.as_ref());
    if snapshot != expected {
        for (table, rows) in expected.as_object().unwrap() {
            assert_eq!(
                &snapshot[table], rows,
                "{table} differs from the domain state after {after}"
            );
        }
    }
    snapshot
}

/// `(policy, target)` of every attachment row.
fn attachments(snapshot: &Value) -> Vec<(String, String)> {
    snapshot["rm_organization_policy_attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["policy_id"].as_str().unwrap().to_owned(),
                r["target_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn created_id(snapshot: &Value, table: &str, column: &str, name: &str) -> String {
    snapshot[table]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r[column].as_str())
        .unwrap_or_else(|| panic!("no {table} row named {name}"))
        .to_owned()
}

#[tokio::test]
async fn organization_read_model_equals_domain_state() {
    let mut model = Model::open().await;
    let mut walk = OrgWalk::create(MANAGEMENT);
    model.apply(walk.log.clone()).await;
    let created = check(&walk, &model, "CreateOrganization").await;
    assert_eq!(created["rm_organizations"][0]["deleted"], 0);
    assert_eq!(
        created["rm_organization_policies"].as_array().unwrap().len(),
        2,
        "the AWS-managed policies"
    );
    assert_eq!(created["rm_organization_accounts"][0]["account_id"], MANAGEMENT);
    let root = walk.state.root().unwrap().id.clone();
    let m = MANAGEMENT;

    let unit = |parent: &str, name: &str| OrgCommand::CreateOrganizationalUnit {
        parent_id: parent.to_owned(),
        name: name.to_owned(),
    };
    let s = step(&mut walk, &mut model, m, &unit(&root, "eng")).await;
    let eng = created_id(&s, "rm_organizational_units", "ou_id", "eng");
    let s = step(&mut walk, &mut model, m, &unit(&eng, "prod")).await;
    let prod = created_id(&s, "rm_organizational_units", "ou_id", "prod");
    // Before any type is enabled, nothing is attached.
    let s = step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::AddCreatedAccount {
            account_id: "222222222222".into(),
            account_name: "builds".into(),
            email: "builds@example.com".into(),
            parent_id: Some(eng.clone()),
            request: None,
        },
    )
    .await;
    assert!(attachments(&s).is_empty());

    // Enabling SCPs attaches FullAWSAccess to the root, both OUs and both accounts.
    let enable = |policy_type| OrgCommand::EnablePolicyType {
        root_id: root.clone(),
        policy_type,
    };
    let s = step(&mut walk, &mut model, m, &enable(OrgPolicyType::ServiceControlPolicy)).await;
    assert_eq!(attachments(&s).len(), 5);
    assert!(attachments(&s).iter().all(|(p, _)| p == "p-FullAWSAccess"));
    // An OU created now gets it too.
    let s = step(&mut walk, &mut model, m, &unit(&root, "sandbox")).await;
    let sandbox = created_id(&s, "rm_organizational_units", "ou_id", "sandbox");
    assert!(attachments(&s).contains(&("p-FullAWSAccess".into(), sandbox.clone())));

    let create_policy = |name: &str, policy_type| OrgCommand::CreatePolicy {
        name: name.to_owned(),
        description: format!("{name} for the read model"),
        policy_type,
        content: policy_content(policy_type, 1),
    };
    let attach = |policy: &str, target: &str| OrgCommand::AttachPolicy {
        policy_id: policy.to_owned(),
        target_id: target.to_owned(),
    };
    let detach = |policy: &str, target: &str| OrgCommand::DetachPolicy {
        policy_id: policy.to_owned(),
        target_id: target.to_owned(),
    };
    let s = step(
        &mut walk,
        &mut model,
        m,
        &create_policy("deny-delete", OrgPolicyType::ServiceControlPolicy),
    )
    .await;
    let deny = created_id(&s, "rm_organization_policies", "policy_id", "deny-delete");
    step(&mut walk, &mut model, m, &attach(&deny, &prod)).await;
    step(&mut walk, &mut model, m, &attach(&deny, "222222222222")).await;
    // FullAWSAccess can go where another SCP stays.
    let s = step(&mut walk, &mut model, m, &detach("p-FullAWSAccess", "222222222222")).await;
    assert!(!attachments(&s).contains(&("p-FullAWSAccess".into(), "222222222222".into())));

    // Invitations: one accepted (the new member gets FullAWSAccess), one declined, one canceled.
    let invite = |target: &str| OrgCommand::InviteAccount {
        target_account_id: target.to_owned(),
        notes: Some("join us".into()),
        target_in_other_organization: false,
    };
    let mut handshakes = Vec::new();
    for target in ["333333333333", "444444444444", "555555555555"] {
        let s = step(&mut walk, &mut model, m, &invite(target)).await;
        let row = s["rm_organization_handshakes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target_account_id"] == target)
            .unwrap()
            .clone();
        assert_eq!(row["state"], "OPEN");
        handshakes.push(row["handshake_id"].as_str().unwrap().to_owned());
    }
    let s = step(
        &mut walk,
        &mut model,
        "333333333333",
        &OrgCommand::AcceptHandshake {
            handshake_id: handshakes[0].clone(),
            caller_account_id: "333333333333".into(),
            account_name: "invited".into(),
            in_other_organization: false,
        },
    )
    .await;
    assert!(attachments(&s).contains(&("p-FullAWSAccess".into(), "333333333333".into())));
    step(
        &mut walk,
        &mut model,
        "444444444444",
        &OrgCommand::DeclineHandshake {
            handshake_id: handshakes[1].clone(),
            caller_account_id: "444444444444".into(),
        },
    )
    .await;
    let s = step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::CancelHandshake {
            handshake_id: handshakes[2].clone(),
        },
    )
    .await;
    let states: Vec<&str> = s["rm_organization_handshakes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "ACCEPTED").count(), 1);
    assert_eq!(states.iter().filter(|s| **s == "DECLINED").count(), 1);
    assert_eq!(states.iter().filter(|s| **s == "CANCELED").count(), 1);

    // RCPs and tag policies.
    step(&mut walk, &mut model, m, &enable(OrgPolicyType::ResourceControlPolicy)).await;
    let s = step(
        &mut walk,
        &mut model,
        m,
        &create_policy("protect", OrgPolicyType::ResourceControlPolicy),
    )
    .await;
    let protect = created_id(&s, "rm_organization_policies", "policy_id", "protect");
    step(&mut walk, &mut model, m, &attach(&protect, &root)).await;
    step(&mut walk, &mut model, m, &enable(OrgPolicyType::TagPolicy)).await;
    let s = step(
        &mut walk,
        &mut model,
        m,
        &create_policy("teams", OrgPolicyType::TagPolicy),
    )
    .await;
    let teams = created_id(&s, "rm_organization_policies", "policy_id", "teams");
    step(&mut walk, &mut model, m, &attach(&teams, &eng)).await;

    // A second service keeps the time the account first became a delegated administrator.
    let register = |service: &str| OrgCommand::RegisterDelegatedAdministrator {
        account_id: "222222222222".into(),
        service_principal: service.to_owned(),
    };
    let deregister = |service: &str| OrgCommand::DeregisterDelegatedAdministrator {
        account_id: "222222222222".into(),
        service_principal: service.to_owned(),
    };
    step(&mut walk, &mut model, m, &register(SERVICES[0])).await;
    let s = step(&mut walk, &mut model, m, &register(SERVICES[1])).await;
    let delegates = s["rm_organization_delegated_administrators"].as_array().unwrap();
    assert_eq!(delegates.len(), 2);
    assert_eq!(delegates[0]["registered"], delegates[1]["registered"]);
    step(&mut walk, &mut model, m, &deregister(SERVICES[0])).await;

    // Moves, renames, closing, a content change.
    step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::MoveAccount {
            account_id: "333333333333".into(),
            source_parent_id: root.clone(),
            destination_parent_id: sandbox.clone(),
        },
    )
    .await;
    step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::UpdateOrganizationalUnit {
            organizational_unit_id: sandbox.clone(),
            name: "playground".into(),
        },
    )
    .await;
    let s = step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::CloseAccount {
            account_id: "333333333333".into(),
        },
    )
    .await;
    assert!(s["rm_organization_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["account_id"] == "333333333333" && r["status"] == "SUSPENDED"));
    let s = step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::UpdatePolicy {
            policy_id: deny.clone(),
            name: Some("deny-deletes".into()),
            description: None,
            content: Some(policy_content(OrgPolicyType::ServiceControlPolicy, 2)),
        },
    )
    .await;
    assert!(s["rm_organization_policies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["policy_id"] == deny.as_str() && r["revision"] == 2));

    // Disabling SCPs detaches every SCP, the customer one too; enabling them again puts back
    // FullAWSAccess only, everywhere.
    let disable = OrgCommand::DisablePolicyType {
        root_id: root.clone(),
        policy_type: OrgPolicyType::ServiceControlPolicy,
    };
    let s = step(&mut walk, &mut model, m, &disable).await;
    assert!(s["rm_organization_policy_attachments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["policy_type"] != "SERVICE_CONTROL_POLICY"));
    let s = step(&mut walk, &mut model, m, &enable(OrgPolicyType::ServiceControlPolicy)).await;
    let scps: Vec<(String, String)> = attachments(&s)
        .into_iter()
        .filter(|(p, _)| p == "p-FullAWSAccess" || *p == deny)
        .collect();
    assert_eq!(scps.len(), 7, "root, three OUs, three accounts: {scps:?}");
    assert!(scps.iter().all(|(p, _)| p == "p-FullAWSAccess"));

    // Taking the tree down: removed accounts and deleted OUs take their attachments along.
    let remove = |account: &str| OrgCommand::RemoveAccount {
        account_id: account.to_owned(),
    };
    step(&mut walk, &mut model, m, &remove("333333333333")).await;
    step(&mut walk, &mut model, m, &deregister(SERVICES[1])).await;
    step(&mut walk, &mut model, m, &remove("222222222222")).await;
    for ou in [&prod, &sandbox, &eng] {
        step(
            &mut walk,
            &mut model,
            m,
            &OrgCommand::DeleteOrganizationalUnit {
                organizational_unit_id: ou.clone(),
            },
        )
        .await;
    }
    step(&mut walk, &mut model, m, &detach(&protect, &root)).await;
    step(
        &mut walk,
        &mut model,
        m,
        &OrgCommand::DeletePolicy { policy_id: protect },
    )
    .await;
    let s = step(&mut walk, &mut model, m, &OrgCommand::DeleteOrganization {}).await;
    // The organization stays, flagged, with its policies and invitations; its tree is gone.
    assert_eq!(s["rm_organizations"][0]["deleted"], 1);
    assert_eq!(s["rm_organization_policies"].as_array().unwrap().len(), 4);
    assert_eq!(s["rm_organization_handshakes"].as_array().unwrap().len(), 3);
    for table in [
        "rm_organization_roots",
        "rm_organization_policy_types",
        "rm_organizational_units",
        "rm_organization_accounts",
        "rm_organization_policy_attachments",
        "rm_organization_delegated_administrators",
    ] {
        assert_eq!(s[table], Value::Array(Vec::new()), "{table} after the deletion");
    }

    // The whole stream again in one batch gives the same rows, and redelivery changes nothing.
    let mut rebuilt = Model::open().await;
    rebuilt.apply(walk.log.clone()).await;
    assert_eq!(rebuilt.model.snapshot(&walk.id()).await.unwrap(), s);
    let again: Vec<(u64, EventEnvelope)> = walk
        .log
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, e)| (i as u64 + 1, e))
        .collect();
    let applied = rebuilt.model.apply(&again).await.unwrap();
    assert_eq!((applied.applied, applied.duplicates), (0, walk.log.len()));
    assert!(rebuilt.model.failed_events().await.unwrap().is_empty());
}

#[tokio::test]
async fn random_organization_walks_project_like_evolve() {
    let outsiders = ["333333333333", "444444444444", "555555555555"];
    for seed in [1_u64, 2, 3] {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = Model::open().await;
        let mut walk = OrgWalk::create(MANAGEMENT);
        model.apply(walk.log.clone()).await;
        let mut succeeded = 0;
        for i in 0..250 {
            let new_account = format!("9000000{i:05}");
            let (caller, command) = random_org_command(&mut rng, &walk.state, &outsiders, Some(&new_account));
            let Ok(events) = walk.run(&caller, &command) else {
                continue;
            };
            succeeded += 1;
            model.apply(events).await;
            check(&walk, &model, &format!("seed {seed}, step {i}: {command:?}")).await;
        }
        assert!(succeeded > 80, "seed {seed}: only {succeeded} commands succeeded");
        let types: std::collections::BTreeSet<&str> = walk.log.iter().map(|e| e.event_type.as_str()).collect();
        assert!(types.len() >= 15, "seed {seed}: the walk reached only {types:?}");
    }
}

/// A read model that followed the log before organizations had tables applied their events to
/// no rows. Migrating it forgets those streams' heads and rewinds the checkpoint, so following the
/// feed again projects them from their first event, the accounts' events being duplicates.
#[tokio::test]
async fn organizations_followed_before_their_tables_are_projected_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let walk = OrgWalk::create(MANAGEMENT);
    let account_event = EventEnvelope {
        event_id: uuid::Uuid::now_v7(),
        account_id: MANAGEMENT.into(),
        sequence: 1,
        recorded_at: chrono::Utc::now(),
        actor: "arn:aws:iam::000000000000:root".into(),
        request_id: "r".into(),
        event_type: "iam.account.created".into(),
        schema_version: 1,
        payload: serde_json::json!({"type": "iam.account.created", "account_id": MANAGEMENT,
            "account_alias": null, "create_date": "2026-03-01T08:00:00Z"}),
    };
    let feed: Vec<(u64, EventEnvelope)> = std::iter::once(account_event)
        .chain(walk.log.iter().cloned())
        .enumerate()
        .map(|(i, e)| (i as u64 + 1, e))
        .collect();
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let mut migrator = sqlx::migrate!("../../schema/migrations/sqlite/readmodel");
        let before: Vec<_> = migrator
            .migrations
            .iter()
            .filter(|m| m.version < 2_000_003)
            .cloned()
            .collect();
        migrator.migrations = before.into();
        migrator.run(&pool).await.unwrap();
        let org_head = i64::try_from(walk.log.len()).unwrap();
        for statement in [
            format!(
                "INSERT INTO rm_account_heads VALUES ('{MANAGEMENT}', 1, NULL), ('{}', {org_head}, NULL)",
                walk.id()
            ),
            format!("INSERT INTO rm_checkpoint VALUES ('iam', {})", feed.len()),
            format!("INSERT INTO rm_accounts VALUES ('{MANAGEMENT}', NULL, '2026-03-01T08:00:00.000000Z')"),
        ] {
            sqlx::query(&statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let model = SqliteReadModel::open(&path.to_string_lossy()).await.unwrap();
    assert_eq!(model.checkpoint().await.unwrap(), 0);
    assert_eq!(model.account_head(&walk.id()).await.unwrap().sequence, 0);
    let applied = model.apply(&feed).await.unwrap();
    assert_eq!((applied.duplicates, applied.applied), (1, walk.log.len()));
    assert_eq!(
        model.snapshot(&walk.id()).await.unwrap(),
        expected_organization_snapshot(&walk.state, None)
    );
    assert_eq!(model.checkpoint().await.unwrap(), feed.len() as u64);
}
