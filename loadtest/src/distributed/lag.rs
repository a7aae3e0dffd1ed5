//! `distributed-lag`: the time from an append's acknowledgement (`PostgresEventStore::append`
//! returned, which is when iamd answers a mutation) until the real `projector` has committed the
//! event in the PostgreSQL read model, through the real `relay` and Kafka, while background
//! appends run at a steady rate. Probes run one at a time on accounts of their own; each polls
//! the read model's head of its account (`rm_account_heads`) until it reaches the probe's
//! sequence, so the lag includes one query round trip.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use iam_eventlog::EventStore;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::{Mutex, Semaphore};

use super::walk::AccountWalk;
use super::{
    bin_dir, check_brokers, check_database_url, create_schema, create_topic, delete_topic, drop_schema, histogram,
    machine, pool_in, record, run_name, service_cpu, Service, MAX_ACCOUNTS,
};
use crate::cli::{bounded, LagArgs, MAX_CONCURRENCY, MAX_SAMPLES};
use crate::stats::{latency_json, process_cpu_seconds, round3};

/// Appends the walk's next command (or `want` events' worth); returns the new head.
async fn append(store: &PostgresEventStore, walk: &mut AccountWalk, want: usize) -> Result<(u64, u64)> {
    let expected = walk.state.version();
    let actor = walk.root_arn();
    let step = if want <= 1 {
        walk.step(&actor, "loadtest-lag")?
    } else {
        walk.steps(want, &actor, "loadtest-lag")?
    };
    let n = step.events.len() as u64;
    let outcome = store
        .append(&walk.account_id, expected, step.events, step.claims)
        .await
        .with_context(|| format!("appending to {}", walk.account_id))?;
    Ok((outcome.last_sequence, n))
}

/// The read model's head of `account` (0 before its first event).
async fn head(pool: &PgPool, account: &str) -> Result<u64> {
    let sequence: Option<i64> = sqlx::query_scalar("SELECT sequence FROM rm_account_heads WHERE account_id = $1")
        .bind(account)
        .fetch_optional(pool)
        .await?;
    Ok(sequence.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// Waits until every account's head in the read model equals its walk's version.
async fn caught_up(pool: &PgPool, walks: &[Arc<Mutex<AccountWalk>>], timeout: Duration) -> Result<f64> {
    let started = Instant::now();
    let mut want: u64 = 0;
    for walk in walks {
        want += walk.lock().await.state.version();
    }
    loop {
        let have: Option<i64> = sqlx::query_scalar("SELECT sum(sequence)::bigint FROM rm_account_heads")
            .fetch_one(pool)
            .await
            .unwrap_or(None);
        if have.and_then(|h| u64::try_from(h).ok()) == Some(want) {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            bail!(
                "the read model did not catch up within {} s (heads sum {have:?} of {want})",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Background {
    appends: AtomicU64,
    events: AtomicU64,
    missed: AtomicU64,
    errors: AtomicU64,
    latency: std::sync::Mutex<Histogram<u64>>,
}

/// Runs `distributed-lag` and returns its summary.
///
/// # Errors
/// Bad flags, a non-loopback server, an existing schema or topic, a missing binary, a failed
/// append, or a service exiting.
#[allow(clippy::too_many_lines)] // one linear run: set up, seed, measure, drain, report
pub async fn run(args: &LagArgs) -> Result<Value> {
    let common = &args.common;
    check_database_url(&common.database_url)?;
    check_brokers(&common.kafka_brokers)?;
    let accounts = bounded("accounts", args.accounts, MAX_ACCOUNTS)?;
    let probe_accounts = bounded("probe-accounts", args.probe_accounts, 1000)?;
    let samples = bounded("samples", args.samples, MAX_SAMPLES)?;
    let concurrency = bounded("background-concurrency", args.background_concurrency, MAX_CONCURRENCY)?;
    if args.background_rate > 10_000 {
        bail!("--background-rate is capped at 10000 appends/s");
    }
    let name = args.name.clone().unwrap_or_else(|| run_name("lt_lag_"));
    let (events_schema, rm_schema, topic) = (format!("{name}_ev"), format!("{name}_rm"), format!("loadtest.{name}"));
    let rng_seed = common.rng_seed.unwrap_or_else(rand::random);
    let bins = bin_dir(common.bin_dir.as_deref())?;
    let url = common.database_url.as_str();

    create_schema(url, &events_schema).await?;
    create_schema(url, &rm_schema).await?;
    create_topic(&common.kafka_brokers, &topic, args.partitions).await?;
    let mut options = PostgresStoreOptions::default();
    options.schema = Some(events_schema.clone());
    options.max_connections = u32::try_from(concurrency + 2).unwrap_or(64);
    let store = PostgresEventStore::connect(url, options).await?;
    let env = [
        ("GATEHOUSE_DATABASE_URL", url),
        ("GATEHOUSE_KAFKA_BROKERS", common.kafka_brokers.as_str()),
        ("GATEHOUSE_RELAY_TOPIC", topic.as_str()),
        ("GATEHOUSE_RELAY_SCHEMA", events_schema.as_str()),
    ];
    let mut relay = Service::start(&bins, "relay", &[], &env)?;
    let mut projector = Service::start(
        &bins,
        "projector",
        &[
            "--kafka-brokers",
            &common.kafka_brokers,
            "--topic",
            &topic,
            "--read-model-schema",
            &rm_schema,
        ],
        &[("GATEHOUSE_DATABASE_URL", url)],
    )?;
    let rm = pool_in(url, &rm_schema, 2).await?;

    // Seed every account (one append each), then let the pipeline catch up.
    let walks: Vec<Arc<Mutex<AccountWalk>>> = (0..accounts + probe_accounts)
        .map(|i| Arc::new(Mutex::new(AccountWalk::new(i, rng_seed, 60))))
        .collect();
    let seeding = Instant::now();
    for walk in &walks {
        append(&store, &mut *walk.lock().await, args.seed_events).await?;
    }
    let seed_seconds = seeding.elapsed().as_secs_f64();
    let seed_catch_up = caught_up(&rm, &walks, Duration::from_secs(120)).await?;
    let (background_walks, probe_walks) = walks.split_at(accounts);
    let background_walks: Arc<Vec<Arc<Mutex<AccountWalk>>>> = Arc::new(background_walks.to_vec());

    // Background: an open loop of single-command appends at the target rate.
    let background = Arc::new(Background {
        appends: AtomicU64::new(0),
        events: AtomicU64::new(0),
        missed: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        latency: std::sync::Mutex::new(histogram()),
    });
    let permits = Arc::new(Semaphore::new(concurrency));
    let ticker = (args.background_rate > 0).then(|| {
        let (background, store, walks, permits) = (
            background.clone(),
            store.clone(),
            background_walks.clone(),
            permits.clone(),
        );
        let period = Duration::from_secs_f64(1.0 / f64::from(args.background_rate));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut next = 0usize;
            loop {
                interval.tick().await;
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    background.missed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let walk = walks[next % walks.len()].clone();
                next += 1;
                let (background, store) = (background.clone(), store.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let mut walk = walk.lock().await;
                    let started = Instant::now();
                    match append(&store, &mut walk, 1).await {
                        Ok((_, n)) => {
                            if let Ok(mut h) = background.latency.lock() {
                                record(&mut h, started.elapsed());
                            }
                            background.appends.fetch_add(1, Ordering::Relaxed);
                            background.events.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(_) => {
                            background.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        })
    });
    // Let the background reach its steady state before the first probe.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let ticks = crate::stats::clock_ticks();
    let window = Instant::now();
    let own_start = process_cpu_seconds(None, ticks);
    let (relay_start, projector_start) = (relay.cpu_seconds(), projector.cpu_seconds());
    let (bg_appends_start, bg_events_start) = (
        background.appends.load(Ordering::Relaxed),
        background.events.load(Ordering::Relaxed),
    );
    let mut lag = histogram();
    let mut append_latency = histogram();
    let (mut timeouts, mut polls) = (0u64, 0u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(rng_seed);
    let mut last_report = Instant::now();
    for i in 0..samples {
        if window.elapsed() > crate::cli::HARD_CAP {
            break;
        }
        let walk = &probe_walks[i % probe_walks.len()];
        let mut walk = walk.lock().await;
        let started = Instant::now();
        let (sequence, _) = append(&store, &mut walk, 1).await?;
        let acked = Instant::now();
        record(&mut append_latency, acked - started);
        loop {
            polls += 1;
            if head(&rm, &walk.account_id).await? >= sequence {
                record(&mut lag, acked.elapsed());
                break;
            }
            if acked.elapsed() > args.sample_timeout {
                timeouts += 1;
                break;
            }
            tokio::time::sleep(args.poll_interval).await;
        }
        drop(walk);
        if !common.quiet && last_report.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "[{:>6.1}s] probes {} lag p50 {:.1} ms p99 {:.1} ms; background {} appends",
                window.elapsed().as_secs_f64(),
                i + 1,
                lag.value_at_quantile(0.5) as f64 / 1000.0,
                lag.value_at_quantile(0.99) as f64 / 1000.0,
                background.appends.load(Ordering::Relaxed) - bg_appends_start
            );
            last_report = Instant::now();
            relay.check_running()?;
            projector.check_running()?;
        }
        let jitter = args.sample_gap.mul_f64(rng.gen_range(0.5..1.5));
        tokio::time::sleep(jitter).await;
    }
    let wall = window.elapsed().as_secs_f64();
    let own = process_cpu_seconds(None, ticks)
        .zip(own_start)
        .map(|(end, start)| end - start);
    let relay_cpu = service_cpu(&relay, relay_start, wall);
    let projector_cpu = service_cpu(&projector, projector_start, wall);
    let bg_appends = background.appends.load(Ordering::Relaxed) - bg_appends_start;
    let bg_events = background.events.load(Ordering::Relaxed) - bg_events_start;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    // Wait for in-flight background appends, then for the read model to hold everything.
    let _all = permits
        .acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX))
        .await?;
    let drain = caught_up(&rm, &walks, Duration::from_secs(120)).await?;
    let machine_after = machine();
    relay.stop().await?;
    projector.stop().await?;
    rm.close().await;
    store.close().await;
    if !args.keep {
        drop_schema(url, &events_schema).await?;
        drop_schema(url, &rm_schema).await?;
        delete_topic(&common.kafka_brokers, &topic).await?;
    }
    let background_latency = background
        .latency
        .lock()
        .map(|h| latency_json(&h))
        .unwrap_or(Value::Null);
    Ok(json!({
        "scenario": "distributed-lag",
        "eventsSchema": events_schema,
        "readModelSchema": rm_schema,
        "topic": topic,
        "kept": args.keep,
        "partitions": args.partitions,
        "rngSeed": rng_seed,
        "accounts": accounts,
        "probeAccounts": probe_accounts,
        "seed": {"eventsPerAccount": args.seed_events, "appendSeconds": round3(seed_seconds),
                 "readModelCaughtUpSecondsAfter": round3(seed_catch_up)},
        "samples": lag.len(),
        "timeouts": timeouts,
        "meanPolls": if samples == 0 { 0.0 } else { round3(polls as f64 / samples as f64) },
        "lagMs": latency_json(&lag),
        "probeAppendLatencyMs": latency_json(&append_latency),
        "background": {
            "targetAppendsPerSecond": args.background_rate,
            "appendsPerSecond": round3(bg_appends as f64 / wall.max(1e-9)),
            "eventsPerSecond": round3(bg_events as f64 / wall.max(1e-9)),
            "missedTicks": background.missed.load(Ordering::Relaxed),
            "errors": background.errors.load(Ordering::Relaxed),
            "appendLatencyMs": background_latency,
        },
        "drainSecondsAfterLoad": round3(drain),
        "cpu": {
            "wallSeconds": round3(wall),
            "loadtestCpuSeconds": own.map(round3),
            "loadtestCoresUsed": own.map(|s| round3(s / wall.max(1e-9))),
            "relay": relay_cpu,
            "projector": projector_cpu,
        },
        "machineAfter": machine_after,
    }))
}
