//! `distributed-rebuild`: a fresh `projector` process (the real binary, Kafka source) replays a
//! topic that `distributed-fill` filled into a new, empty read-model schema. The clock runs from
//! starting the process until the offsets it stored with its rows (`rm_kafka_offsets`) reach every
//! partition's high watermark, i.e. until the last event is committed. Then, untimed, the rows
//! are checked against the oracle: the log is replayed through `evolve` and every account's
//! snapshot must equal `expected_snapshot(state)`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use iam_domain::{decode_event, evolve, AccountState};
use iam_eventlog::EventFeed;
use iam_readmodel::change::TABLES;
use iam_readmodel::{expected_snapshot, PgReadModel};
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use serde_json::{json, Value};
use sqlx::Row;

use super::{
    bin_dir, check_brokers, check_database_url, check_schema, check_topic, create_schema, drop_schema, machine,
    pool_in, run_name, service_cpu, Service, Watermarks,
};
use crate::cli::RebuildArgs;
use crate::stats::round3;

/// Every account's domain state, replayed from the event log.
async fn replay_log(url: &str, schema: &str) -> Result<(BTreeMap<String, AccountState>, u64)> {
    let mut options = PostgresStoreOptions::default();
    options.schema = Some(schema.to_owned());
    let store = PostgresEventStore::connect(url, options)
        .await
        .context("connecting to the event log")?;
    let mut states: BTreeMap<String, AccountState> = BTreeMap::new();
    let (mut after, mut count) = (0u64, 0u64);
    loop {
        let page = store.read_from(after, 5_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, envelope) in &page {
            let event = decode_event(&envelope.event_type, envelope.schema_version, &envelope.payload)
                .with_context(|| format!("decoding {} of {}", envelope.event_type, envelope.account_id))?;
            evolve(states.entry(envelope.account_id.clone()).or_default(), &event);
            count += 1;
        }
    }
    store.close().await;
    Ok((states, count))
}

/// What the verification found.
async fn verify(args: &RebuildArgs, schema: &str) -> Result<Value> {
    let url = &args.common.database_url;
    let started = Instant::now();
    let (states, log_events) = replay_log(url, &args.events_schema).await?;
    let model = PgReadModel::connect(url, Some(schema)).await?;
    let mut expected_rows: BTreeMap<&str, usize> = TABLES.iter().map(|(t, _)| (*t, 0)).collect();
    let (mut matching, mut mismatched) = (0usize, Vec::new());
    for (account, state) in &states {
        let expected = expected_snapshot(state);
        for (table, _) in TABLES {
            *expected_rows.entry(table).or_default() += expected[*table].as_array().map_or(0, Vec::len);
        }
        if args.verify == "full" {
            if model.snapshot(account).await? == expected {
                matching += 1;
            } else {
                mismatched.push(account.clone());
            }
        }
    }
    model.close().await;
    let pool = pool_in(url, schema, 1).await?;
    let mut rows = serde_json::Map::new();
    let mut counts_match = true;
    for (table, _) in TABLES {
        let actual: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await?;
        let expected = expected_rows.get(table).copied().unwrap_or(0);
        counts_match &= usize::try_from(actual).ok() == Some(expected);
        rows.insert((*table).to_owned(), json!({"expected": expected, "actual": actual}));
    }
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_failed_events")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    let full = args.verify == "full";
    Ok(json!({
        "mode": args.verify,
        "logEvents": log_events,
        "accounts": states.len(),
        "accountsMatchingOracle": if full { json!(matching) } else { Value::Null },
        "accountsDiffering": if full { json!(mismatched.iter().take(10).collect::<Vec<_>>()) } else { Value::Null },
        "rowCountsMatch": counts_match,
        "rows": rows,
        "failedEvents": failed,
        "ok": counts_match && failed == 0 && (!full || mismatched.is_empty()),
        "seconds": round3(started.elapsed().as_secs_f64()),
    }))
}

/// `(partition, next offset)` the read model stored for `topic`; empty before the projector
/// created its tables.
async fn stored_offsets(pool: &sqlx::PgPool, topic: &str) -> HashMap<i32, i64> {
    sqlx::query("SELECT partition, next_offset FROM rm_kafka_offsets WHERE topic = $1")
        .bind(topic)
        .fetch_all(pool)
        .await
        .map(|rows| rows.iter().map(|r| (r.get::<i32, _>(0), r.get::<i64, _>(1))).collect())
        .unwrap_or_default()
}

/// Runs `distributed-rebuild` and returns its summary.
///
/// # Errors
/// Bad flags, a non-loopback server, an existing read-model schema, an empty or missing topic, a
/// missing `projector` binary, or the projector exiting.
pub async fn run(args: &RebuildArgs) -> Result<Value> {
    let common = &args.common;
    check_database_url(&common.database_url)?;
    check_brokers(&common.kafka_brokers)?;
    check_schema(&args.events_schema)?;
    check_topic(&args.topic)?;
    let schema = args
        .read_model_schema
        .clone()
        .unwrap_or_else(|| run_name("lt_rebuild_"));
    let bins = bin_dir(common.bin_dir.as_deref())?;
    let marks = Watermarks::new(&common.kafka_brokers, &args.topic)?;
    let high = marks.high().await?;
    let total: i64 = high.iter().map(|(_, h)| h).sum();
    if total == 0 {
        bail!(
            "topic `{}` is empty: fill it with `loadtest distributed-fill`",
            args.topic
        );
    }
    create_schema(&common.database_url, &schema).await?;
    let pool = pool_in(&common.database_url, &schema, 1).await?;
    let machine_before = machine();

    let started = Instant::now();
    let mut projector = Service::start(
        &bins,
        "projector",
        &[
            "--kafka-brokers",
            &common.kafka_brokers,
            "--topic",
            &args.topic,
            "--read-model-schema",
            &schema,
        ],
        &[("GATEHOUSE_DATABASE_URL", common.database_url.as_str())],
    )?;
    let mut first_commit: Option<f64> = None;
    let mut last_report = Instant::now();
    let mut last_consumed = 0i64;
    let (consumed, finished) = loop {
        let stored = stored_offsets(&pool, &args.topic).await;
        let consumed: i64 = stored.values().sum();
        if consumed > 0 && first_commit.is_none() {
            first_commit = Some(started.elapsed().as_secs_f64());
        }
        let done = high
            .iter()
            .all(|(p, h)| *h == 0 || stored.get(p).is_some_and(|next| next >= h));
        if done {
            break (consumed, true);
        }
        if started.elapsed() > args.timeout {
            break (consumed, false);
        }
        projector.check_running()?;
        if !common.quiet && last_report.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "[{:>6.1}s] projected {consumed} of {total} (+{:.0}/s)",
                started.elapsed().as_secs_f64(),
                (consumed - last_consumed) as f64 / last_report.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
            last_consumed = consumed;
        }
        tokio::time::sleep(args.poll_interval).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let projector_cpu = service_cpu(&projector, None, seconds);
    projector.stop().await?;
    pool.close().await;
    let machine_after = machine();
    let from_first = first_commit.map(|t| seconds - t);

    let verification = if args.verify == "none" || !finished {
        Value::Null
    } else {
        verify(args, &schema).await?
    };
    if args.drop_read_model {
        drop_schema(&common.database_url, &schema).await?;
    }
    Ok(json!({
        "scenario": "distributed-rebuild",
        "eventsSchema": args.events_schema,
        "topic": args.topic,
        "partitions": high.len(),
        "readModelSchema": schema,
        "messages": total,
        "projected": consumed,
        "finished": finished,
        "seconds": round3(seconds),
        "eventsPerSecond": round3(consumed as f64 / seconds.max(1e-9)),
        "secondsToFirstCommit": first_commit.map(round3),
        "eventsPerSecondAfterFirstCommit": from_first.map(|s| round3(consumed as f64 / s.max(1e-9))),
        "projectorCpu": projector_cpu,
        "verification": verification,
        "machineBefore": machine_before,
        "machineAfter": machine_after,
    }))
}
