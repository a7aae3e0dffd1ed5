//! `relay`: publishes the PostgreSQL outbox to Kafka until SIGINT/SIGTERM.
//!
//! Env: `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_KAFKA_BROKERS`; `GATEHOUSE_RELAY_TOPIC` (default
//! `gatehouse.events`), `GATEHOUSE_RELAY_SCHEMA` (the log's schema, default the role's),
//! `GATEHOUSE_RELAY_BATCH` (default 500), `GATEHOUSE_METRICS_LISTEN` (an address for
//! `/metrics` and `/health/live`), `GATEHOUSE_LOG_FORMAT` (`text` or `json`).

use std::time::Duration;

use anyhow::Context;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let log_format = match std::env::var("GATEHOUSE_LOG_FORMAT") {
        Ok(text) => text.parse().map_err(anyhow::Error::msg)?,
        Err(_) => iam_telemetry::LogFormat::Text,
    };
    iam_telemetry::init_logging(log_format, "info");
    let metrics_address = match std::env::var("GATEHOUSE_METRICS_LISTEN") {
        Ok(address) => Some(address.parse().context("GATEHOUSE_METRICS_LISTEN")?),
        Err(_) => None,
    };
    let _metrics = iam_telemetry::serve_readings_at(metrics_address, || {
        vec![
            iam_telemetry::Reading {
                name: "gatehouse_relay_published_events",
                help: "Outbox events published to Kafka and acknowledged since start",
                read: || i64::try_from(relay::published_events()).ok(),
            },
            iam_telemetry::Reading {
                name: "gatehouse_relay_failed_rounds",
                help: "Relay rounds that failed (retried) since start",
                read: || i64::try_from(relay::failed_rounds()).ok(),
            },
            iam_telemetry::Reading {
                name: "gatehouse_relay_kafka_producer_errors",
                help: "Relay rounds the Kafka producer failed since start",
                read: || i64::try_from(relay::producer_errors()).ok(),
            },
        ]
    })
    .await?;
    let brokers =
        std::env::var(relay::KAFKA_BROKERS_ENV).with_context(|| format!("{} is not set", relay::KAFKA_BROKERS_ENV))?;
    let topic = std::env::var("GATEHOUSE_RELAY_TOPIC").unwrap_or_else(|_| relay::EVENTS_TOPIC.to_owned());
    let batch: u32 = match std::env::var("GATEHOUSE_RELAY_BATCH") {
        Ok(v) => v.parse().context("GATEHOUSE_RELAY_BATCH")?,
        Err(_) => 500,
    };
    let mut options = PostgresStoreOptions::default();
    options.schema = std::env::var("GATEHOUSE_RELAY_SCHEMA").ok();
    let store = PostgresEventStore::connect_from_env(options).await?;
    let producer = relay::producer(&brokers)?;
    tracing::info!(%topic, batch, "relaying the outbox");
    relay::run(&store, &producer, &topic, batch, Duration::from_secs(1), shutdown()).await;
    store.close().await;
    Ok(())
}

async fn shutdown() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
