//! `relay`: publishes the PostgreSQL outbox to Kafka until SIGINT/SIGTERM.
//!
//! Env: `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_KAFKA_BROKERS`; `GATEHOUSE_RELAY_TOPIC` (default
//! `gatehouse.events`), `GATEHOUSE_RELAY_SCHEMA` (the log's schema, default the role's),
//! `GATEHOUSE_RELAY_BATCH` (default 500).

use std::time::Duration;

use anyhow::Context;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
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
