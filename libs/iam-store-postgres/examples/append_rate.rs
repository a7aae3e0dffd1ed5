//! Append throughput against a real PostgreSQL: for each concurrency level, that many tasks share
//! one store and append one event at a time, each to an account of its own (no conflicts), for a
//! fixed time; prints appends per second and the latency of an append.
//!
//! `GATEHOUSE_DATABASE_URL=... cargo run --release -p iam-store-postgres --example append_rate -- [levels] [seconds]`
//! `levels` is a comma-separated list of appender counts (default `1,4,16,64`), `seconds` the
//! time per level (default 5). Each level runs in a fresh schema, dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_eventlog::conformance::event;
use iam_eventlog::EventStore;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions, DATABASE_URL_ENV};
use sqlx::{Connection, PgConnection};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let levels: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,4,16,64".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;
    let url = std::env::var(DATABASE_URL_ENV).map_err(|_| format!("{DATABASE_URL_ENV} is not set"))?;

    println!("appenders  appends  appends/s  mean ms  p99 ms");
    for appenders in levels {
        let schema = format!("gh_rate_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await?;
        let mut options = PostgresStoreOptions::default();
        options.schema = Some(schema.clone());
        // One connection per appender at most, as a gateway under load would configure it.
        options.max_connections = u32::try_from(appenders.clamp(1, 16))?;
        let store = Arc::new(PostgresEventStore::connect(&url, options).await?);

        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..appenders)
            .map(|a| {
                let store = store.clone();
                tokio::spawn(async move {
                    let account = format!("{:012}", 100_000_000_000 + a);
                    let mut head = 0;
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let began = Instant::now();
                        let out = store
                            .append(&account, head, vec![event(&format!("{account}-{head}"))], vec![])
                            .await
                            .expect("append");
                        latencies.push(began.elapsed());
                        head = out.last_sequence;
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await?);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let n = latencies.len();
        let mean = latencies.iter().sum::<Duration>() / u32::try_from(n.max(1))?;
        let p99 = latencies.get(n * 99 / 100).copied().unwrap_or_default();
        println!(
            "{appenders:>9}  {n:>7}  {:>9.0}  {:>7.2}  {:>6.2}",
            n as f64 / elapsed.as_secs_f64(),
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );

        store.close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
    }
    Ok(())
}
