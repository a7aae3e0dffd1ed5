//! The read model on PostgreSQL holds exactly what the embedded one holds: after a random walk of
//! commands (IAM, and Organizations), its snapshot equals the SQLite read model's and the domain
//! state's; redelivery changes nothing.
//!
//! Needs `GATEHOUSE_DATABASE_URL`: `#[ignore]`d so the README's test command runs without a
//! server; `scripts/distributed-test.sh` starts one and runs it with `--ignored`, where a missing
//! URL fails it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use iam_app::Gatehouse;
use iam_eventlog::{EventFeed, EventStore, MemoryEventStore, NewEvent};
use iam_readmodel::{expected_organization_snapshot, expected_snapshot, PgReadModel, Projector, SqliteReadModel};
use iam_secrets::Sealer;
use iam_store_sqlite::{SqliteEventStore, SqliteStoreOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use support::org::{random_org_command, OrgWalk};
use support::{actor, random_command};

/// The database URL, an admin connection and a new schema named `<prefix>_<id>`.
async fn fresh_schema(prefix: &str) -> (String, sqlx::PgConnection, String) {
    let url = std::env::var("GATEHOUSE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("GATEHOUSE_DATABASE_URL is not set: run scripts/distributed-test.sh");
    let schema = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    (url, admin, schema)
}

/// Two accounts and `steps` random commands on an embedded log (in the returned directory).
async fn random_walk(seed: u64, steps: usize) -> (tempfile::TempDir, SqliteEventStore, Gatehouse, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(
        &dir.path().join("events.db").to_string_lossy(),
        SqliteStoreOptions::default(),
    )
    .await
    .unwrap();
    let gatehouse = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[7; 32]))
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accounts = Vec::new();
    for _ in 0..2 {
        accounts.push(gatehouse.create_account(&actor(), None).await.unwrap().0);
    }
    for _ in 0..steps {
        let account = &accounts[rng.gen_range(0..accounts.len())];
        let command = random_command(&mut rng, account, &gatehouse);
        let _ = gatehouse.execute(account, &actor(), &command).await;
    }
    (dir, store, gatehouse, accounts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
async fn postgres_read_model_equals_the_embedded_one_and_the_domain_state() {
    let (url, mut admin, schema) = fresh_schema("rm_test").await;
    let (dir, store, gatehouse, accounts) = random_walk(7, 300).await;

    let embedded = SqliteReadModel::open(&dir.path().join("rm.db").to_string_lossy())
        .await
        .unwrap();
    Projector::new(Arc::new(store.clone()), embedded.clone())
        .await
        .unwrap()
        .catch_up()
        .await
        .unwrap();

    let postgres = PgReadModel::connect(&url, Some(&schema)).await.unwrap();
    // Feed it in uneven batches, as a consumer would.
    let mut position = 0;
    loop {
        let batch = store.read_from(position, 37).await.unwrap();
        if batch.is_empty() {
            break;
        }
        position = postgres.apply(&batch).await.unwrap().checkpoint;
    }
    assert_eq!(position, store.latest_position().await.unwrap());
    assert_eq!(postgres.checkpoint().await.unwrap(), position);

    for account in &accounts {
        let rows = postgres.snapshot(account).await.unwrap();
        assert!(rows["rm_users"].as_array().is_some_and(|users| !users.is_empty()));
        assert_eq!(
            rows,
            embedded.snapshot(account).await.unwrap(),
            "postgres != sqlite for {account}"
        );
        let state = gatehouse.account(account).unwrap().state().clone();
        assert_eq!(
            rows,
            expected_snapshot(&state),
            "postgres != domain state for {account}"
        );
    }
    // Redelivery (an at-least-once feed after a crash) changes nothing.
    let everything = store.read_from(0, 100_000).await.unwrap();
    let again = postgres.apply(&everything).await.unwrap();
    assert_eq!((again.applied, again.duplicates), (0, everything.len()));

    // The whole log in one batch (a rebuild's large batches: many changes to the same rows
    // combined into few statements) gives the same rows.
    let one_batch_schema = format!("{schema}_one");
    sqlx::query(&format!("CREATE SCHEMA {one_batch_schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let one_batch = PgReadModel::connect(&url, Some(&one_batch_schema)).await.unwrap();
    let applied = one_batch.apply(&everything).await.unwrap();
    assert_eq!(applied.applied, everything.len());
    for account in &accounts {
        assert_eq!(
            one_batch.snapshot(account).await.unwrap(),
            postgres.snapshot(account).await.unwrap(),
            "one batch != uneven batches for {account}"
        );
    }
    one_batch.close().await;
    sqlx::query(&format!("DROP SCHEMA {one_batch_schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();

    postgres.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// One account rebuilt from the log: its damaged rows (a row gone, a row invented, its head
/// stopped as if an event had failed) are replaced by exactly what its events imply, and the
/// other account's rows are left as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
async fn one_account_is_rebuilt_from_the_log_and_the_others_are_untouched() {
    let (url, mut admin, schema) = fresh_schema("rm_rebuild").await;
    let (_dir, store, gatehouse, accounts) = random_walk(11, 200).await;
    let postgres = PgReadModel::connect(&url, Some(&schema)).await.unwrap();
    postgres
        .apply(&store.read_from(0, 100_000).await.unwrap())
        .await
        .unwrap();
    let (damaged, other) = (&accounts[0], &accounts[1]);
    let other_before = postgres.snapshot(other).await.unwrap();

    for statement in [
        format!("DELETE FROM {schema}.rm_users WHERE account_id = '{damaged}'"),
        format!(
            "INSERT INTO {schema}.rm_tags (account_id, resource_id, tag_key, tag_value) \
             VALUES ('{damaged}', 'AIDAINVENTEDINVENTED', 'invented', 'yes')"
        ),
        format!("UPDATE {schema}.rm_account_heads SET failed_sequence = sequence WHERE account_id = '{damaged}'"),
    ] {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    let state = gatehouse.account(damaged).unwrap().state().clone();
    assert_ne!(postgres.snapshot(damaged).await.unwrap(), expected_snapshot(&state));

    let rebuilt = postgres.rebuild_account(damaged, &store).await.unwrap();
    assert_eq!(rebuilt.checkpoint, state.version());
    assert_eq!(rebuilt.applied as u64, state.version());
    assert_eq!(postgres.snapshot(damaged).await.unwrap(), expected_snapshot(&state));
    assert_eq!(postgres.snapshot(other).await.unwrap(), other_before);
    // The account projects on: the whole log again is all duplicates.
    let again = postgres
        .apply(&store.read_from(0, 100_000).await.unwrap())
        .await
        .unwrap();
    assert_eq!(again.applied, 0);

    postgres.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// An organization's stream on PostgreSQL: applied command by command it equals the domain state
/// after each; applied in uneven batches and in one batch (where the inserts that copy rows cut
/// the combined statements) it ends the same; rebuilt from the log after damage, it is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
async fn postgres_read_model_of_an_organization_equals_the_domain_state() {
    let (url, mut admin, schema) = fresh_schema("rm_org").await;
    let schemas: Vec<String> = ["step", "uneven", "one"]
        .iter()
        .map(|s| format!("{schema}_{s}"))
        .collect();
    for name in &schemas {
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let step = PgReadModel::connect(&url, Some(&schemas[0])).await.unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut walk = OrgWalk::create("111111111111");
    let org = walk.id();
    let mut position = 0;
    let mut apply = |events: Vec<iam_eventlog::EventEnvelope>| {
        events
            .into_iter()
            .map(|e| {
                position += 1;
                (position, e)
            })
            .collect::<Vec<_>>()
    };
    step.apply(&apply(walk.log.clone())).await.unwrap();
    for i in 0..200 {
        let new_account = format!("9000000{i:05}");
        let (caller, command) = random_org_command(
            &mut rng,
            &walk.state,
            &["333333333333", "444444444444"],
            Some(&new_account),
        );
        let Ok(events) = walk.run(&caller, &command) else {
            continue;
        };
        let batch = apply(events);
        assert_eq!(step.apply(&batch).await.unwrap().applied, batch.len());
        assert_eq!(
            step.snapshot(&org).await.unwrap(),
            expected_organization_snapshot(&walk.state, walk.created.as_ref()),
            "step {i}: {command:?}"
        );
    }
    let expected = expected_organization_snapshot(&walk.state, walk.created.as_ref());
    let log: Vec<(u64, iam_eventlog::EventEnvelope)> = walk
        .log
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, e)| (i as u64 + 1, e))
        .collect();

    let uneven = PgReadModel::connect(&url, Some(&schemas[1])).await.unwrap();
    for chunk in log.chunks(37) {
        uneven.apply(chunk).await.unwrap();
    }
    assert_eq!(uneven.snapshot(&org).await.unwrap(), expected, "uneven batches");
    let one = PgReadModel::connect(&url, Some(&schemas[2])).await.unwrap();
    assert_eq!(one.apply(&log).await.unwrap().applied, log.len());
    assert_eq!(one.snapshot(&org).await.unwrap(), expected, "one batch");

    // Damage, then rebuild the organization's stream from a log holding it.
    let store = MemoryEventStore::new();
    let events: Vec<NewEvent> = walk
        .log
        .iter()
        .map(|e| NewEvent {
            event_id: e.event_id,
            recorded_at: e.recorded_at,
            actor: e.actor.clone(),
            request_id: e.request_id.clone(),
            event_type: e.event_type.clone(),
            schema_version: e.schema_version,
            payload: e.payload.clone(),
        })
        .collect();
    store.append(&org, 0, events, vec![]).await.unwrap();
    for statement in [
        format!(
            "DELETE FROM {}.rm_organization_policies WHERE organization_id = '{org}'",
            schemas[2]
        ),
        format!(
            "INSERT INTO {}.rm_organization_policy_attachments (organization_id, policy_id, target_id, policy_type) \
             VALUES ('{org}', 'p-invented', 'r-none', 'TAG_POLICY')",
            schemas[2]
        ),
    ] {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    assert_ne!(one.snapshot(&org).await.unwrap(), expected);
    let rebuilt = one.rebuild_account(&org, &store).await.unwrap();
    assert_eq!(rebuilt.applied, walk.log.len());
    assert_eq!(one.snapshot(&org).await.unwrap(), expected, "rebuilt");

    for model in [step, uneven, one] {
        model.close().await;
    }
    for name in schemas.iter().chain([&schema]) {
        sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
