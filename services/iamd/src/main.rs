//! `iamd`: Gatehouse in one process on the embedded SQLite event store.
//!
//! With `--database-url` the event log is PostgreSQL's, shared by several replicas; adding
//! `--kafka-brokers` sends the audit records to the Kafka audit topic (the audit projector
//! brings them into PostgreSQL, where every replica's `auditEvents` reads them) instead of the
//! replica's own `<data_dir>/audit.log` (indexed in `audit-index.db`).
//!
//! Configuration, lowest precedence first: built-in defaults, a TOML file (`--config`), the
//! environment (`GATEHOUSE_*`), flags.

mod audit_key;
mod follow;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Parser;
use gateway::auth::AuthSettings;
use gateway::Gateway;
use iam_app::{Actor, Gatehouse};
use iam_audit_kafka::{KafkaAuditLog, KafkaAuditOptions};
use iam_eventlog::{EventFeed, EventStore};
use iam_readmodel::{Projector, SqliteReadModel};
use iam_secrets::Sealer;
use iam_store_postgres::{PgAuditStore, PostgresEventStore, PostgresStoreOptions};
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use rand::RngCore;
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(name = "iamd", version, about = "Gatehouse IAM, all in one process")]
struct Flags {
    /// A TOML file with any of: data_dir, listen, region, master_key_file, audit_sync,
    /// database_url, events_schema, kafka_brokers, audit_topic, audit_schema, follow, events_topic,
    /// max_connections, request_read_timeout, throttle_per_key.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the event log, the master key and the first credentials live.
    #[arg(long, env = "GATEHOUSE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN")]
    listen: Option<SocketAddr>,
    /// The region in SigV4 credential scopes.
    #[arg(long, env = "GATEHOUSE_REGION")]
    region: Option<String>,
    /// A file holding the 32-byte master key as base64; by default `<data_dir>/master.key`,
    /// created on first start.
    #[arg(long, env = "GATEHOUSE_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// How audit records are made durable before a decision is answered: `full` (fsync, survives
    /// power loss; the default) or `process` (written to the OS: survives kill -9 of iamd, and
    /// is fsynced within 100 ms, so a power cut loses at most that much; management records are
    /// fsynced before they are answered either way).
    #[arg(long, env = "GATEHOUSE_AUDIT_SYNC")]
    audit_sync: Option<String>,
    /// Keep the event log in PostgreSQL (`postgres://...`) instead of `<data_dir>/events.db`, so
    /// several iamd replicas share one log (the distributed mode's store of record). Each replica
    /// follows the log to keep its model current; decisions may demand a consistency token.
    #[arg(long)]
    database_url: Option<String>,
    /// The PostgreSQL schema of the event log (default: the role's `search_path`).
    #[arg(long)]
    events_schema: Option<String>,
    /// With `--database-url`: Kafka brokers (`host:port[,...]`) to produce every audit record to
    /// (the audit topic), instead of `<data_dir>/audit.log`. A decision is answered only after
    /// Kafka acknowledged its record (`acks=all`); `auditEvents` then reads the PostgreSQL audit
    /// store that the `audit-projector` fills, so every replica sees every replica's records
    /// (shortly after they were made, not at once). Without this flag each replica keeps its own
    /// local audit history, as in the embedded mode. Deliberately not read from
    /// `GATEHOUSE_KAFKA_BROKERS` (the relay's and projectors' setting), so a shell set up for
    /// them does not change where iamd's audit records go.
    #[arg(long)]
    kafka_brokers: Option<String>,
    /// The audit topic (with `--kafka-brokers`; default `gatehouse.audit`).
    #[arg(long)]
    audit_topic: Option<String>,
    /// The PostgreSQL schema of the audit store (with `--kafka-brokers`; default: the event
    /// log's). The audit projector must write the same one.
    #[arg(long)]
    audit_schema: Option<String>,
    /// With `--database-url`: how this replica learns of what other replicas append:
    /// `postgres` (follow the log itself; the default) or `kafka` (consume the events topic the
    /// relay fills, `--events-topic`, with `--kafka-brokers`). Either way the events are read from
    /// the log of record, and a consistency token is honoured by reading the log up to it.
    #[arg(long)]
    follow: Option<String>,
    /// The events topic (with `--follow kafka`; default `gatehouse.events`).
    #[arg(long)]
    events_topic: Option<String>,
    /// Connections open at once (default 4096); beyond it new connections wait in the backlog.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, and then its body (default 10).
    #[arg(long, env = "GATEHOUSE_REQUEST_READ_TIMEOUT")]
    request_read_timeout: Option<u64>,
    /// Requests per second one access key may make, with bursts of twice that (default 50000;
    /// 0 turns the limit off). Beyond it: `Throttling` with `Retry-After`.
    #[arg(long, env = "GATEHOUSE_THROTTLE_PER_KEY")]
    throttle_per_key: Option<u32>,
    /// Seconds between signed digests of the audit history (each account whose chain advanced
    /// gets one; default 300, 0: only on demand and at shutdown). With `--kafka-brokers` the
    /// replicas sign only with an explicit `--audit-signing-key-file` they share.
    #[arg(long, env = "GATEHOUSE_AUDIT_DIGEST_INTERVAL")]
    audit_digest_interval: Option<u64>,
    /// The audit signing key (sealed with the master key); by default
    /// `<data_dir>/audit-signing.key`, made on first start.
    #[arg(long, env = "GATEHOUSE_AUDIT_SIGNING_KEY_FILE")]
    audit_signing_key_file: Option<PathBuf>,
    /// Replace the audit signing key at this start: the old key endorses the new one in the log.
    #[arg(long)]
    rotate_audit_signing_key: bool,
    /// Log lines as `text` (the default) or `json` (one object a line, each with its request's
    /// id). The filter is `RUST_LOG`'s.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT")]
    log_format: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    region: Option<String>,
    master_key_file: Option<PathBuf>,
    audit_sync: Option<String>,
    database_url: Option<String>,
    events_schema: Option<String>,
    kafka_brokers: Option<String>,
    audit_topic: Option<String>,
    audit_schema: Option<String>,
    follow: Option<String>,
    events_topic: Option<String>,
    max_connections: Option<usize>,
    request_read_timeout: Option<u64>,
    throttle_per_key: Option<u32>,
    audit_digest_interval: Option<u64>,
    audit_signing_key_file: Option<PathBuf>,
}

/// The validated configuration.
#[derive(Debug)]
struct Config {
    data_dir: PathBuf,
    listen: SocketAddr,
    region: String,
    master_key_file: PathBuf,
    audit_durability: AuditDurability,
    database_url: Option<String>,
    events_schema: Option<String>,
    /// Where audit records go in the distributed mode: brokers, topic, schema of the store.
    audit_kafka: Option<AuditKafka>,
    /// How a replica on the shared log hears of other replicas' appends.
    follow: Follow,
    /// Connection limits.
    serve: gateway::serve::ServeLimits,
    /// Request limits.
    requests: gateway::RequestLimits,
    /// Where the audit signing key is; `None`: this process signs no digests.
    audit_signing_key_file: Option<PathBuf>,
    /// Between periodic digests; `None`: only on demand and at shutdown.
    audit_digest_interval: Option<std::time::Duration>,
    rotate_audit_signing_key: bool,
}

/// How a replica on the shared log hears of other replicas' appends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Follow {
    /// The log's own feed (LISTEN/NOTIFY).
    Postgres,
    /// The events topic: brokers, topic.
    Kafka { brokers: String, topic: String },
}

/// Where a replica on the shared log starts hearing of other replicas' appends.
enum Following {
    /// The log's feed, after this position.
    Log(u64),
    /// The events topic, from the end offsets it had when the consumer was made.
    Topic(rdkafka::consumer::StreamConsumer),
    /// An embedded log has no other writers.
    Nothing,
}

/// The distributed audit history's settings.
#[derive(Debug)]
struct AuditKafka {
    brokers: String,
    topic: String,
    schema: Option<String>,
}

impl Config {
    fn load(flags: Flags) -> anyhow::Result<Config> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("{} is not valid", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let master_key_file = flags
            .master_key_file
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let audit_durability = match flags.audit_sync.or(file.audit_sync).as_deref() {
            None | Some("full") => AuditDurability::Full,
            Some("process") => AuditDurability::Process,
            Some(other) => anyhow::bail!("audit_sync must be `full` or `process`, not {other:?}"),
        };
        let database_url = flags.database_url.or(file.database_url);
        let events_schema = flags.events_schema.or(file.events_schema);
        let kafka_brokers = flags.kafka_brokers.or(file.kafka_brokers);
        let follow = match flags.follow.or(file.follow).as_deref() {
            None | Some("postgres") => Follow::Postgres,
            Some("kafka") => match (&kafka_brokers, &database_url) {
                (Some(brokers), Some(_)) => Follow::Kafka {
                    brokers: brokers.clone(),
                    topic: flags
                        .events_topic
                        .or(file.events_topic)
                        .unwrap_or_else(|| "gatehouse.events".to_owned()),
                },
                _ => anyhow::bail!("follow = kafka needs database_url and kafka_brokers"),
            },
            Some(other) => anyhow::bail!("follow must be `postgres` or `kafka`, not {other:?}"),
        };
        let audit_kafka = match kafka_brokers {
            None => None,
            Some(_) if database_url.is_none() => {
                anyhow::bail!("kafka_brokers needs database_url: the audit topic is read back from PostgreSQL")
            }
            Some(brokers) => Some(AuditKafka {
                brokers,
                topic: flags
                    .audit_topic
                    .or(file.audit_topic)
                    .unwrap_or_else(|| iam_audit_kafka::AUDIT_TOPIC.to_owned()),
                schema: flags
                    .audit_schema
                    .or(file.audit_schema)
                    .or_else(|| events_schema.clone()),
            }),
        };
        let read_timeout = std::time::Duration::from_secs(
            flags
                .request_read_timeout
                .or(file.request_read_timeout)
                .unwrap_or(10)
                .max(1),
        );
        let serve = gateway::serve::ServeLimits {
            max_connections: flags.max_connections.or(file.max_connections).unwrap_or(4_096).max(1),
            header_read_timeout: read_timeout,
            ..gateway::serve::ServeLimits::default()
        };
        let requests = gateway::RequestLimits {
            per_key_rate: std::num::NonZeroU32::new(flags.throttle_per_key.or(file.throttle_per_key).unwrap_or(50_000)),
            body_read_timeout: read_timeout,
        };
        // Replicas sharing one audit store sign only with a key they share, never each its own.
        let audit_signing_key_file = flags
            .audit_signing_key_file
            .or(file.audit_signing_key_file)
            .or_else(|| audit_kafka.is_none().then(|| data_dir.join("audit-signing.key")));
        let audit_digest_interval = match flags
            .audit_digest_interval
            .or(file.audit_digest_interval)
            .unwrap_or(300)
        {
            0 => None,
            seconds => Some(std::time::Duration::from_secs(seconds)),
        };
        Ok(Config {
            serve,
            requests,
            audit_signing_key_file,
            audit_digest_interval,
            rotate_audit_signing_key: flags.rotate_audit_signing_key,
            audit_durability,
            database_url,
            events_schema,
            audit_kafka,
            follow,
            listen: flags
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            region: flags.region.or(file.region).unwrap_or_else(|| "us-east-1".into()),
            master_key_file,
            data_dir,
        })
    }
}

/// Signs a digest of every account whose audit chain advanced, every `interval` until `stop`,
/// and once more at `stop`, so a clean shutdown leaves everything written covered.
async fn sign_digests(
    gatehouse: Arc<Gatehouse>,
    interval: Option<std::time::Duration>,
    stop: impl std::future::Future<Output = ()>,
) {
    if gatehouse.audit_signer().is_none() {
        return;
    }
    let sign = || async {
        if let Err(error) = gatehouse.sign_audit_digests(None).await {
            tracing::error!(code = %error.code, message = %error.message, "could not sign the audit digests");
        }
    };
    tokio::pin!(stop);
    match interval {
        Some(interval) => {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => sign().await,
                    () = &mut stop => break,
                }
            }
        }
        None => stop.await,
    }
    sign().await;
}

/// Measures, every second until `stop`, how many events of the log the read model has yet to
/// project.
async fn measure_read_model_lag(
    store: SqliteEventStore,
    read_model: SqliteReadModel,
    lag: prometheus_client::metrics::gauge::Gauge<i64>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        if let (Ok(head), Ok(projected)) = (store.latest_position().await, read_model.checkpoint().await) {
            lag.set(i64::try_from(head.saturating_sub(projected)).unwrap_or(i64::MAX));
        }
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn master_key(path: &Path) -> anyhow::Result<Sealer> {
    if !path.exists() {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        write_private(
            path,
            &format!("{}\n", base64::engine::general_purpose::STANDARD.encode(key)),
        )?;
        tracing::warn!(path = %path.display(), "generated a new master key; back it up: without it no access key works");
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sealer::from_base64(&text)?)
}

/// On first start: the first account and its root access key, written where only the owner reads.
async fn bootstrap(gatehouse: &Gatehouse, config: &Config) -> anyhow::Result<()> {
    if !gatehouse.account_ids().is_empty() {
        return Ok(());
    }
    let actor = Actor {
        arn: "gatehouse:bootstrap".into(),
        request_id: "bootstrap".into(),
    };
    let (account_id, key) = gatehouse.create_account(&actor, Some("management".into())).await?;
    let path = config.data_dir.join("root-credentials");
    let contents = format!(
        "# Gatehouse root credentials of account {account_id}. Keep this file secret.\n[gatehouse]\naws_access_key_id = {}\naws_secret_access_key = {}\nregion = {}\n",
        key.access_key_id,
        key.secret_access_key.as_str(),
        config.region
    );
    write_private(&path, &contents)?;
    println!(
        "created account {account_id}; its root access key is in {} (readable by you only)",
        path.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Where the event log lives.
enum Log {
    Sqlite(SqliteEventStore),
    Postgres(PostgresEventStore),
}

impl Log {
    fn store(&self) -> Arc<dyn EventStore> {
        match self {
            Log::Sqlite(store) => Arc::new(store.clone()),
            Log::Postgres(store) => Arc::new(store.clone()),
        }
    }
}

/// Where audit records go.
enum Audit {
    /// This process's own files (`<data_dir>/audit.log` and its index; an `audit.db` of older
    /// versions is read in place).
    Sqlite(SqliteAuditLog),
    /// The Kafka audit topic, read back from PostgreSQL (distributed mode).
    Kafka(KafkaAuditLog),
}

impl Audit {
    fn log(&self) -> Arc<dyn iam_audit::AuditLog> {
        match self {
            Audit::Sqlite(audit) => Arc::new(audit.clone()),
            Audit::Kafka(audit) => Arc::new(audit.clone()),
        }
    }
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let log_format = match flags.log_format.as_deref() {
        None => iam_telemetry::LogFormat::Text,
        Some(text) => text.parse().map_err(anyhow::Error::msg)?,
    };
    iam_telemetry::init_logging(log_format, "info,sqlx=warn");
    let config = Config::load(flags)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    // The logs hold every account's history (request parameters, source addresses): only the
    // owner may enter the directory, whatever mode the files inside are created with.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {} to its owner", config.data_dir.display()))?;
    }
    let sealer = master_key(&config.master_key_file)?;
    let log = match &config.database_url {
        Some(url) => {
            let mut options = PostgresStoreOptions::default();
            options.schema = config.events_schema.clone();
            Log::Postgres(PostgresEventStore::connect(url, options).await?)
        }
        None => {
            let database = config.data_dir.join("events.db");
            Log::Sqlite(SqliteEventStore::open(&database.to_string_lossy(), SqliteStoreOptions::default()).await?)
        }
    };
    let audit = match (&config.audit_kafka, &config.database_url) {
        (Some(kafka), Some(url)) => {
            let store = PgAuditStore::connect(url, kafka.schema.as_deref()).await?;
            let options = KafkaAuditOptions {
                topic: kafka.topic.clone(),
                ..KafkaAuditOptions::default()
            };
            Audit::Kafka(KafkaAuditLog::connect(&kafka.brokers, options, store).await?)
        }
        _ => Audit::Sqlite(
            // `audit.db` names the family: `audit.log`, `audit-index.db` and the older log.
            SqliteAuditLog::open(
                &config.data_dir.join("audit.db").to_string_lossy(),
                config.audit_durability,
            )
            .await?,
        ),
    };
    // Where following the shared log starts is fixed before the accounts load, so nothing another
    // replica appends while they load is missed (what the load already has is a duplicate).
    let following = match (&log, &config.follow) {
        (Log::Postgres(store), Follow::Postgres) => Following::Log(store.latest_position().await?),
        (Log::Postgres(_), Follow::Kafka { brokers, topic }) => {
            Following::Topic(follow::topic_consumer(brokers, topic)?)
        }
        (Log::Sqlite(_), _) => Following::Nothing,
    };
    let signer = match &config.audit_signing_key_file {
        Some(path) => Some(audit_key::load(path, &sealer, &audit.log(), config.rotate_audit_signing_key).await?),
        None => None,
    };
    let mut gatehouse = Gatehouse::load(log.store(), sealer).await?.with_audit(audit.log());
    if let Some(signer) = signer {
        gatehouse = gatehouse.with_audit_signer(signer);
    }
    let gatehouse = Arc::new(gatehouse);
    bootstrap(&gatehouse, &config).await?;
    // `CreateAccount` requests a stop interrupted (between reserving and joining) are finished
    // before serving; a failure leaves them in progress for the next start.
    match gatehouse.resume_account_creations().await {
        Ok(0) => {}
        Ok(finished) => tracing::info!(finished, "finished interrupted CreateAccount requests"),
        Err(error) => tracing::warn!(code = %error.code, "could not finish interrupted CreateAccount requests"),
    }

    let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut receiver = background_stopped.clone();
        async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        }
    };
    // Events in the log the embedded read model has not projected yet (-1 until measured; the
    // distributed mode's projector reports its own).
    let read_model_lag = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    read_model_lag.set(-1);
    let (background, read_model) = match &log {
        // Embedded: the SQL read model follows the log in its own file (delete it to rebuild).
        Log::Sqlite(store) => {
            let read_model_file = config.data_dir.join("readmodel.db");
            let read_model = SqliteReadModel::open(&read_model_file.to_string_lossy()).await?;
            let projector = Projector::new(Arc::new(store.clone()), read_model.clone()).await?;
            tokio::spawn(measure_read_model_lag(
                store.clone(),
                read_model.clone(),
                read_model_lag.clone(),
                stopped(),
            ));
            (tokio::spawn(projector.run(stopped())), Some(read_model))
        }
        // Shared log: follow what other replicas append (the projector service keeps the read
        // model in this mode).
        Log::Postgres(store) => {
            let follower = match following {
                Following::Topic(consumer) => {
                    tokio::spawn(follow::follow_topic(gatehouse.clone(), consumer, stopped()))
                }
                Following::Log(position) => {
                    let feed: Arc<dyn EventFeed> = Arc::new(store.clone());
                    tokio::spawn(follow::follow_log(gatehouse.clone(), feed, position, stopped()))
                }
                // Only an embedded log follows nothing.
                Following::Nothing => tokio::spawn(async {}),
            };
            (follower, None)
        }
    };

    let digests = tokio::spawn(sign_digests(gatehouse.clone(), config.audit_digest_interval, stopped()));

    let auth = AuthSettings {
        region: config.region.clone(),
        ..AuthSettings::default()
    };
    let embedded = matches!(log, Log::Sqlite(_));
    let app = Gateway::with_limits(gatehouse, auth, config.requests)
        .with_more_metrics(move |registry| {
            if embedded {
                registry.register(
                    "gatehouse_read_model_lag_events",
                    "Events in the log the embedded SQL read model has not projected yet",
                    read_model_lag.clone(),
                );
            }
        })
        .router();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    println!("iamd listening on http://{address}; GraphiQL at http://{address}/graphql");
    gateway::serve::serve(listener, app, config.serve, shutdown_signal()).await?;
    let _ = stop_background.send(true);
    let _ = background.await;
    let _ = digests.await;
    if let Some(read_model) = read_model {
        read_model.close().await;
    }
    match &audit {
        Audit::Sqlite(audit) => audit.close().await,
        Audit::Kafka(audit) => audit.close(std::time::Duration::from_secs(5)).await,
    }
    match &log {
        Log::Sqlite(store) => store.close().await,
        Log::Postgres(store) => store.close().await,
    }
    println!("iamd stopped");
    Ok(())
}
