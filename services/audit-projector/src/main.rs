//! `audit-projector`: consumes the Kafka audit topic (`gatehouse.audit`, where every iamd
//! replica started with `--kafka-brokers` produces its decision and management-call records)
//! into the PostgreSQL audit store that every replica's `auditEvents` reads. Each batch commits
//! with the topic's offsets in one transaction, so the projector may be killed at any point and
//! resumes exactly after its last commit; redelivered records change nothing.

use anyhow::Context;
use clap::Parser;
use iam_audit_kafka::Batching;
use iam_store_postgres::PgAuditStore;

#[derive(Parser, Debug)]
#[command(
    name = "audit-projector",
    version,
    about = "Gatehouse audit projector: Kafka audit topic -> PostgreSQL audit store"
)]
struct Flags {
    /// `postgres://user:password@host:port/database`.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The schema holding the audit store (default: the role's `search_path`); iamd's
    /// `--audit-schema` must name the same one.
    #[arg(long, env = "GATEHOUSE_AUDIT_SCHEMA")]
    audit_schema: Option<String>,
    /// The Kafka brokers (`host:port[,host:port...]`).
    #[arg(long, env = "GATEHOUSE_KAFKA_BROKERS")]
    kafka_brokers: String,
    /// The audit topic.
    #[arg(long, env = "GATEHOUSE_AUDIT_TOPIC", default_value = iam_audit_kafka::AUDIT_TOPIC)]
    topic: String,
    /// At most this many records per transaction (a backlog fills them).
    #[arg(long, env = "GATEHOUSE_AUDIT_PROJECTOR_MAX_BATCH", default_value_t = 5000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_batch: u32,
    /// How long a batch waits for more records after its first one.
    #[arg(long, env = "GATEHOUSE_AUDIT_PROJECTOR_LINGER_MS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    linger_ms: u64,
    /// Serve Prometheus metrics (`/metrics`) and liveness (`/health/live`) on this address.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Log lines as `text` (the default) or `json`.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", default_value = "text")]
    log_format: iam_telemetry::LogFormat,
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    iam_telemetry::init_logging(flags.log_format, "info,sqlx=warn");
    let _metrics = iam_telemetry::serve_readings_at(flags.metrics_listen, || {
        iam_kafka_source::readings(
            "gatehouse_audit_projector_lag_messages",
            "gatehouse_audit_projector_consumed_messages",
        )
    })
    .await
    .context("binding the metrics address")?;
    let store = PgAuditStore::connect(&flags.database_url, flags.audit_schema.as_deref())
        .await
        .context("connecting to the audit store")?;
    let batching = Batching {
        max: usize::try_from(flags.max_batch).unwrap_or(usize::MAX),
        linger: std::time::Duration::from_millis(flags.linger_ms),
        ..Batching::default()
    };
    println!(
        "audit projector consuming {} from the offsets stored in the audit store",
        flags.topic
    );
    iam_audit_kafka::follow(&flags.kafka_brokers, &flags.topic, &store, batching, shutdown_signal()).await?;
    store.close().await;
    println!("audit projector stopped");
    Ok(())
}
