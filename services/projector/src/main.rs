//! `projector`: follows the events into the PostgreSQL read model, from the Kafka events topic
//! (with `--kafka-brokers`: offsets stored with the rows) or straight from the PostgreSQL event
//! log (the store of record). Each batch, the account heads and the checkpoint commit in one
//! transaction, so a projector killed at any point resumes exactly where its last commit left
//! off; several projectors may run against one read model (the second only redoes work the
//! first already committed, and drops it as duplicates).

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use iam_readmodel::{PgReadModel, Projector};
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};

#[derive(Parser, Debug)]
#[command(
    name = "projector",
    version,
    about = "Gatehouse projector: event log -> PostgreSQL read model"
)]
struct Flags {
    /// `postgres://user:password@host:port/database`.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The schema holding the event log (default: the role's `search_path`).
    #[arg(long, env = "GATEHOUSE_EVENTS_SCHEMA")]
    events_schema: Option<String>,
    /// The schema holding the read model (default: the role's `search_path`).
    #[arg(long, env = "GATEHOUSE_READ_MODEL_SCHEMA")]
    read_model_schema: Option<String>,
    /// Consume the events topic of these Kafka brokers instead of reading the log directly.
    #[arg(long, env = "GATEHOUSE_KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
    /// The events topic.
    #[arg(long, env = "GATEHOUSE_EVENTS_TOPIC", default_value = "gatehouse.events")]
    topic: String,
    /// Instead of following: rebuild these accounts' rows from the event log (each in one
    /// transaction, while other projectors may keep running), then exit. Repeatable.
    #[arg(long, value_name = "ACCOUNT_ID")]
    rebuild_account: Vec<String>,
    /// Kafka source: at most this many messages per transaction (a backlog fills them).
    #[arg(long, env = "GATEHOUSE_PROJECTOR_MAX_BATCH", default_value_t = 5000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_batch: u32,
    /// Kafka source: how long a batch waits for more messages after its first one.
    #[arg(long, env = "GATEHOUSE_PROJECTOR_LINGER_MS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    linger_ms: u64,
    /// Serve Prometheus metrics (`/metrics`) and liveness (`/health/live`) on this address.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Log lines as `text` (the default) or `json`.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", default_value = "text")]
    log_format: iam_telemetry::LogFormat,
}

/// Follows the Kafka topic until shutdown; failures are logged and retried with backoff.
async fn follow_kafka(
    brokers: &str,
    topic: &str,
    model: &PgReadModel,
    batching: projector::Batching,
) -> anyhow::Result<()> {
    let consumer = projector::consumer(brokers)?;
    let mut shutdown = Box::pin(shutdown_signal());
    // A broker that is down at start is waited for, as one that goes down later is.
    let assign = async || projector::assign_from_stored(&consumer, topic, model).await;
    let mut backoff = std::time::Duration::from_millis(100);
    if !iam_kafka_source::retry(
        &mut shutdown,
        &mut backoff,
        "cannot assign the topic's partitions yet",
        assign,
    )
    .await
    {
        return Ok(());
    }
    println!("projector consuming {topic} from the offsets stored in the read model");
    iam_kafka_source::follow(
        shutdown,
        async || projector::consume_once(&consumer, topic, model, batching).await,
        assign,
    )
    .await;
    Ok(())
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
            "gatehouse_projector_lag_messages",
            "gatehouse_projector_consumed_messages",
        )
    })
    .await
    .context("binding the metrics address")?;
    if !flags.rebuild_account.is_empty() {
        let mut options = PostgresStoreOptions::default();
        options.schema = flags.events_schema.clone();
        let events = PostgresEventStore::connect(&flags.database_url, options)
            .await
            .context("connecting to the event log")?;
        let model = PgReadModel::connect(&flags.database_url, flags.read_model_schema.as_deref())
            .await
            .context("connecting to the read model")?;
        for account in &flags.rebuild_account {
            let rebuilt = model
                .rebuild_account(account, &events)
                .await
                .with_context(|| format!("rebuilding account {account}"))?;
            println!(
                "rebuilt account {account} from its {} events ({} applied, {} stopped it)",
                rebuilt.checkpoint, rebuilt.applied, rebuilt.stopped
            );
        }
        model.close().await;
        events.close().await;
        return Ok(());
    }
    if let Some(brokers) = &flags.kafka_brokers {
        let model = PgReadModel::connect(&flags.database_url, flags.read_model_schema.as_deref())
            .await
            .context("connecting to the read model")?;
        let batching = projector::Batching {
            max: usize::try_from(flags.max_batch).unwrap_or(usize::MAX),
            linger: std::time::Duration::from_millis(flags.linger_ms),
            ..projector::Batching::default()
        };
        follow_kafka(brokers, &flags.topic, &model, batching).await?;
        model.close().await;
        println!("projector stopped");
        return Ok(());
    }
    let mut options = PostgresStoreOptions::default();
    options.schema = flags.events_schema.clone();
    let events = PostgresEventStore::connect(&flags.database_url, options)
        .await
        .context("connecting to the event log")?;
    let model = PgReadModel::connect(&flags.database_url, flags.read_model_schema.as_deref())
        .await
        .context("connecting to the read model")?;
    let projector = Projector::new(Arc::new(events), model.clone()).await?;
    println!(
        "projector following the event log from position {}",
        model.checkpoint().await?
    );
    projector.run(shutdown_signal()).await;
    model.close().await;
    println!("projector stopped");
    Ok(())
}
