//! `distributed-fill`: realistic events ([`super::walk`]) appended through the real
//! `PostgresEventStore` into a new schema by `--concurrency` appenders (each owning a share of
//! the accounts, so appends never conflict), `--batch` events per append, while the real `relay`
//! binary publishes the outbox to a new topic. Reports the append rate and the rate at which the
//! events reached Kafka; the schema and topic are kept for `distributed-rebuild`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use iam_eventlog::EventStore;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use serde_json::{json, Value};

use super::walk::AccountWalk;
use super::{
    bin_dir, check_brokers, check_database_url, create_schema, create_topic, histogram, machine, record, run_name,
    secs, service_cpu, Service, Watermarks, MAX_ACCOUNTS, MAX_APPEND_BATCH, MAX_EVENTS,
};
use crate::cli::{bounded, FillArgs, MAX_CONCURRENCY};
use crate::stats::{latency_json, process_cpu_seconds, round3};

struct Appended {
    latency: Histogram<u64>,
    refused: u64,
}

/// Takes up to `batch` events from the run's budget; 0 once it is spent.
fn reserve(budget: &AtomicUsize, batch: usize) -> usize {
    let mut taken = 0;
    let _ = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
        taken = left.min(batch);
        Some(left - taken)
    });
    taken
}

async fn appender(
    store: PostgresEventStore,
    mut walks: Vec<AccountWalk>,
    budget: Arc<AtomicUsize>,
    batch: usize,
    events: Arc<AtomicU64>,
    appends: Arc<AtomicU64>,
) -> Result<Appended> {
    let mut latency = histogram();
    let mut next = 0usize;
    loop {
        let want = reserve(&budget, batch);
        if want == 0 || walks.is_empty() {
            break;
        }
        let at = next % walks.len();
        let walk = &mut walks[at];
        next += 1;
        let expected = walk.state.version();
        let actor = walk.root_arn();
        let step = walk.steps(want, &actor, "loadtest-fill")?;
        let n = step.events.len() as u64;
        let started = Instant::now();
        let outcome = store
            .append(&walk.account_id, expected, step.events, step.claims)
            .await
            .with_context(|| format!("appending to {}", walk.account_id))?;
        record(&mut latency, started.elapsed());
        if outcome.last_sequence != walk.state.version() {
            bail!(
                "account {}: the log's head is {} but the walk is at {}",
                walk.account_id,
                outcome.last_sequence,
                walk.state.version()
            );
        }
        events.fetch_add(n, Ordering::Relaxed);
        appends.fetch_add(1, Ordering::Relaxed);
    }
    Ok(Appended {
        latency,
        refused: walks.iter().map(|w| w.refused).sum(),
    })
}

/// Runs `distributed-fill` and returns its summary.
///
/// # Errors
/// Bad flags, a non-loopback server, an existing schema or topic, a missing `relay` binary, or a
/// failed append.
#[allow(clippy::too_many_lines)] // one linear run: set up, append, drain, report
pub async fn run(args: &FillArgs) -> Result<Value> {
    let common = &args.common;
    check_database_url(&common.database_url)?;
    check_brokers(&common.kafka_brokers)?;
    let events_target = bounded("events", args.events, MAX_EVENTS)?;
    let accounts = bounded("accounts", args.accounts, MAX_ACCOUNTS)?;
    let batch = bounded("batch", args.batch, MAX_APPEND_BATCH)?;
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY.min(64))?;
    if !(1..=64).contains(&args.partitions) {
        bail!("--partitions must be between 1 and 64");
    }
    let schema = args.events_schema.clone().unwrap_or_else(|| run_name("lt_fill_"));
    let topic = args.topic.clone().unwrap_or_else(|| run_name("loadtest.fill."));
    let rng_seed = common.rng_seed.unwrap_or_else(rand::random);
    let bins = bin_dir(common.bin_dir.as_deref())?;

    create_schema(&common.database_url, &schema).await?;
    create_topic(&common.kafka_brokers, &topic, args.partitions).await?;
    let mut options = PostgresStoreOptions::default();
    options.schema = Some(schema.clone());
    options.max_connections = u32::try_from(concurrency + 2).unwrap_or(66);
    let store = PostgresEventStore::connect(&common.database_url, options)
        .await
        .context("connecting the event store")?;
    let relay_batch = args.relay_batch.clamp(1, 10_000).to_string();
    let mut relay = Service::start(
        &bins,
        "relay",
        &[],
        &[
            ("GATEHOUSE_DATABASE_URL", common.database_url.as_str()),
            ("GATEHOUSE_KAFKA_BROKERS", common.kafka_brokers.as_str()),
            ("GATEHOUSE_RELAY_TOPIC", topic.as_str()),
            ("GATEHOUSE_RELAY_SCHEMA", schema.as_str()),
            ("GATEHOUSE_RELAY_BATCH", relay_batch.as_str()),
        ],
    )?;
    let marks = Watermarks::new(&common.kafka_brokers, &topic)?;
    let machine_before = machine();
    let ticks = crate::stats::clock_ticks();

    let budget = Arc::new(AtomicUsize::new(events_target));
    let events = Arc::new(AtomicU64::new(0));
    let appends = Arc::new(AtomicU64::new(0));
    let mut shares: Vec<Vec<AccountWalk>> = (0..concurrency).map(|_| Vec::new()).collect();
    for i in 0..accounts {
        shares[i % concurrency].push(AccountWalk::new(i, rng_seed, args.users_per_account));
    }
    let started = Instant::now();
    let own_cpu_start = process_cpu_seconds(None, ticks);
    let relay_cpu_start = relay.cpu_seconds();
    let workers: Vec<_> = shares
        .into_iter()
        .map(|walks| {
            tokio::spawn(appender(
                store.clone(),
                walks,
                budget.clone(),
                batch,
                events.clone(),
                appends.clone(),
            ))
        })
        .collect();
    let progress = {
        let (events, quiet) = (events.clone(), common.quiet);
        let marks = Watermarks::new(&common.kafka_brokers, &topic)?;
        tokio::spawn(async move {
            let mut last = (0u64, 0i64);
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let appended = events.load(Ordering::Relaxed);
                let in_kafka = marks.total().await.unwrap_or(last.1);
                if !quiet {
                    eprintln!(
                        "[{:>6.1}s] appended {appended} (+{}/s), in Kafka {in_kafka} (+{}/s)",
                        started.elapsed().as_secs_f64(),
                        appended - last.0,
                        in_kafka - last.1
                    );
                }
                last = (appended, in_kafka);
            }
        })
    };
    let mut latency = histogram();
    let mut refused = 0;
    for worker in workers {
        let done = worker.await??;
        latency.add(&done.latency).ok();
        refused += done.refused;
    }
    let append_seconds = started.elapsed().as_secs_f64();
    let own_cpu = process_cpu_seconds(None, ticks)
        .zip(own_cpu_start)
        .map(|(end, start)| end - start);
    let total_events = events.load(Ordering::Relaxed);
    let total_appends = appends.load(Ordering::Relaxed);
    let log_head = {
        use iam_eventlog::EventFeed;
        store.latest_position().await?
    };

    // The relay drains the outbox; every event is in Kafka once the watermarks add up.
    let drain_deadline = started + crate::cli::HARD_CAP;
    let in_kafka = loop {
        let total = marks.total().await?;
        if u64::try_from(total).unwrap_or(0) >= total_events {
            break total;
        }
        relay.check_running()?;
        if Instant::now() > drain_deadline {
            bail!("the relay published {total} of {total_events} events within the run's cap");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let kafka_seconds = started.elapsed().as_secs_f64();
    progress.abort();
    let relay_cpu = service_cpu(&relay, relay_cpu_start, kafka_seconds);
    relay.stop().await?;
    store.close().await;

    Ok(json!({
        "scenario": "distributed-fill",
        "eventsSchema": schema,
        "topic": topic,
        "partitions": args.partitions,
        "rngSeed": rng_seed,
        "accounts": accounts,
        "usersPerAccount": args.users_per_account,
        "batch": batch,
        "concurrency": concurrency,
        "events": total_events,
        "logHead": log_head,
        "appends": total_appends,
        "refusedCommands": refused,
        "appendSeconds": round3(append_seconds),
        "eventsAppendedPerSecond": round3(total_events as f64 / append_seconds.max(1e-9)),
        "appendsPerSecond": round3(total_appends as f64 / append_seconds.max(1e-9)),
        "appendLatencyMs": latency_json(&latency),
        "messagesInKafka": in_kafka,
        "secondsUntilAllInKafka": round3(kafka_seconds),
        "eventsIntoKafkaPerSecond": round3(total_events as f64 / kafka_seconds.max(1e-9)),
        "relayDrainAfterLastAppendSeconds": round3(kafka_seconds - append_seconds),
        "cpu": {
            "wallSeconds": secs(started),
            "loadtestCpuSecondsDuringAppends": own_cpu.map(round3),
            "loadtestCoresUsedDuringAppends": own_cpu.map(|s| round3(s / append_seconds.max(1e-9))),
            "relay": relay_cpu,
        },
        "machineBefore": machine_before,
        "machineAfter": machine(),
    }))
}
