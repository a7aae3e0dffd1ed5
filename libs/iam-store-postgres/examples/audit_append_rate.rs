//! Audit append cost against a real PostgreSQL, in the two shapes the store sees: the decision
//! path without Kafka (that many tasks share one store and append one record at a time, each to
//! an account of its own, for a fixed time) and the audit projector (`insert_consumed` batches of
//! `batch` records over 16 accounts, one after the other, for a fixed time). Prints appends or
//! records per second and the latency of a call.
//!
//! `GATEHOUSE_DATABASE_URL=... cargo run --release -p iam-store-postgres --example audit_append_rate -- [levels] [seconds] [batch]`
//! `levels` is a comma-separated list of appender counts (default `1,8`), `seconds` the time per
//! run (default 5), `batch` the projector's batch size (default 500). Each run has a fresh
//! schema, dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_audit::conformance::record;
use iam_audit::{AuditLog, AuditRecord};
use iam_store_postgres::{PgAuditStore, DATABASE_URL_ENV};
use sqlx::{Connection, PgConnection};

fn summary(label: &str, calls: &mut [Duration], records: usize, elapsed: Duration) {
    calls.sort();
    let n = calls.len();
    let mean = calls.iter().sum::<Duration>() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    let p50 = calls.get(n / 2).copied().unwrap_or_default();
    let p99 = calls.get(n * 99 / 100).copied().unwrap_or_default();
    println!(
        "{label:<16}  {n:>7}  {:>10.0}  {:>7.2}  {:>6.2}  {:>6.2}",
        records as f64 / elapsed.as_secs_f64(),
        mean.as_secs_f64() * 1e3,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
}

async fn with_schema<F, Fut>(url: &str, run: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnOnce(PgAuditStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let schema = format!("gh_rate_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(url).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await?;
    let store = PgAuditStore::connect(url, Some(&schema)).await?;
    run(store.clone()).await;
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let levels: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,8".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;
    let batch: usize = args.next().map_or(Ok(500), |s| s.parse())?;
    let url = std::env::var(DATABASE_URL_ENV).map_err(|_| format!("{DATABASE_URL_ENV} is not set"))?;

    println!("run                 calls   records/s  mean ms  p50 ms  p99 ms");
    for appenders in levels {
        with_schema(&url, |store| async move {
            let store = Arc::new(store);
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let started = Instant::now();
            let tasks: Vec<_> = (0..appenders)
                .map(|a| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let account = format!("{:012}", 100_000_000_000 + a);
                        let mut latencies = Vec::new();
                        let mut n = 0;
                        while Instant::now() < deadline {
                            let one = vec![record(&account, n)];
                            n += 1;
                            let began = Instant::now();
                            store.append(one).await.expect("append");
                            latencies.push(began.elapsed());
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.expect("appender"));
            }
            let records = latencies.len();
            summary(
                &format!("append x{appenders}"),
                &mut latencies,
                records,
                started.elapsed(),
            );
        })
        .await?;
    }
    with_schema(&url, |store| async move {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut latencies = Vec::new();
        let mut offset = 0i64;
        let mut elapsed = Duration::ZERO;
        while Instant::now() < deadline {
            let records: Vec<(i32, i64, AuditRecord)> = (0..batch)
                .map(|i| {
                    offset += 1;
                    let account = format!("{:012}", 200_000_000_000 + i % 16);
                    (0, offset, record(&account, i))
                })
                .collect();
            let began = Instant::now();
            store.insert_consumed("rate", &records).await.expect("insert");
            let took = began.elapsed();
            elapsed += took;
            latencies.push(took);
        }
        let records = latencies.len() * batch;
        summary(&format!("consumed x{batch}"), &mut latencies, records, elapsed);
    })
    .await?;
    Ok(())
}
