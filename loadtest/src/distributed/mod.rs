//! The distributed mode's scenarios: PostgreSQL event store -> outbox -> `relay` -> Kafka ->
//! `projector` -> PostgreSQL read model, measured without `iamd`.
//!
//! - [`fill`]: realistic events ([`walk`]) appended through `PostgresEventStore` by concurrent
//!   appenders while the real `relay` binary publishes them to a topic of the run's own: the
//!   append rate and the rate into Kafka.
//! - [`rebuild`]: a fresh `projector` process replays that topic into an empty read-model schema;
//!   events/s, then the rows are checked against the oracle (`expected_snapshot`) of the log.
//! - [`lag`]: under a steady background write load, the time from an append's acknowledgement
//!   until the projector has committed it (the read model's per-account head).
//!
//! Only loopback PostgreSQL and Kafka are accepted, every schema and topic is the run's own
//! (created fresh, never one that exists), and the services run as child processes that are
//! stopped at the end of the run.

pub mod fill;
pub mod lag;
pub mod rebuild;
pub mod walk;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::stats::{process_cpu_seconds, round3};

/// Most events `distributed-fill` appends in one run.
pub const MAX_EVENTS: usize = 5_000_000;
/// Most events in one append.
pub const MAX_APPEND_BATCH: usize = 5_000;
/// Most accounts of a distributed run.
pub const MAX_ACCOUNTS: usize = 100_000;

#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// Whether `host` is a loopback IP literal or `localhost`.
fn loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a database URL whose host is not loopback (a Unix socket directory is local too).
///
/// # Errors
/// A malformed URL or a remote host.
pub fn check_database_url(url: &str) -> Result<PgConnectOptions> {
    let options =
        PgConnectOptions::from_str(url).map_err(|e| anyhow!("--database-url is not a PostgreSQL URL: {e}"))?;
    let host = options.get_host();
    if !(host.starts_with('/') || loopback_host(host)) {
        bail!("--database-url: refusing host `{host}`; only 127.0.0.0/8, ::1, localhost or a local socket");
    }
    Ok(options)
}

/// Refuses a broker list with any host that is not loopback.
///
/// # Errors
/// An empty list, a malformed entry, or a remote host.
pub fn check_brokers(brokers: &str) -> Result<()> {
    let mut any = false;
    for broker in brokers.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let host = broker
            .rsplit_once(':')
            .map_or(broker, |(h, _)| h)
            .trim_start_matches("PLAINTEXT://");
        if !loopback_host(host) {
            bail!("--kafka-brokers: refusing broker `{broker}`; only 127.0.0.0/8, ::1 and localhost");
        }
        any = true;
    }
    if !any {
        bail!("--kafka-brokers is empty");
    }
    Ok(())
}

/// Refuses a schema name that would need quoting (it goes into `search_path` and DDL).
///
/// # Errors
/// Anything but lowercase ASCII letters, digits and `_`, starting with a letter, up to 40 bytes.
pub fn check_schema(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = name.len() <= 40
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        bail!("schema `{name}`: use lowercase letters, digits and `_`, starting with a letter, at most 40 bytes");
    }
    Ok(())
}

/// A pool on `url` whose `search_path` is `schema`.
///
/// # Errors
/// The server cannot be reached.
pub async fn pool_in(url: &str, schema: &str, connections: u32) -> Result<PgPool> {
    let options = check_database_url(url)?.options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to PostgreSQL (schema {schema})"))
}

/// Creates `schema`, refusing one that exists: a run never writes into data it did not make.
///
/// # Errors
/// The schema exists, or the server fails.
pub async fn create_schema(url: &str, schema: &str) -> Result<()> {
    check_schema(schema)?;
    let pool = pool_in(url, "public", 1).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&pool)
        .await?;
    if exists {
        bail!("schema `{schema}` exists already; name a new one (runs never reuse a schema)");
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Drops `schema` and everything in it.
///
/// # Errors
/// The server fails.
pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    check_schema(schema)?;
    let pool = pool_in(url, "public", 1).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Checks a topic name: letters, digits, `.`, `_`, `-`, at most 200 bytes.
///
/// # Errors
/// Anything else.
pub fn check_topic(topic: &str) -> Result<()> {
    if topic.is_empty()
        || topic.len() > 200
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        bail!("topic `{topic}`: use letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

/// Creates `topic` with `partitions` partitions (replication factor 1), refusing one that exists.
///
/// # Errors
/// The topic exists or Kafka fails.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    check_topic(topic)?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))
                .set("retention.ms", "-1")
                .set("retention.bytes", "-1")],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    for result in results {
        result.map_err(|(name, code)| anyhow!("creating topic `{name}`: {code} (names are never reused)"))?;
    }
    Ok(())
}

/// Deletes `topic`.
///
/// # Errors
/// Kafka fails.
pub async fn delete_topic(brokers: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    for result in admin.delete_topics(&[topic], &AdminOptions::new()).await? {
        result.map_err(|(name, code)| anyhow!("deleting topic `{name}`: {code}"))?;
    }
    Ok(())
}

/// Reads a topic's high watermarks (the next offset of every partition).
pub struct Watermarks {
    consumer: Arc<BaseConsumer>,
    topic: String,
}

impl Watermarks {
    /// A metadata-only consumer on `brokers`.
    ///
    /// # Errors
    /// A malformed configuration.
    pub fn new(brokers: &str, topic: &str) -> Result<Self> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "gatehouse-loadtest-watermarks")
            .set("enable.auto.commit", "false")
            .create()?;
        Ok(Watermarks {
            consumer: Arc::new(consumer),
            topic: topic.to_owned(),
        })
    }

    /// `(partition, high watermark)` for every partition of the topic.
    ///
    /// # Errors
    /// Kafka fails or the topic does not exist.
    pub async fn high(&self) -> Result<Vec<(i32, i64)>> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<(i32, i64)>> {
            let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                bail!("topic `{topic}` does not exist or has no partitions");
            }
            partitions
                .into_iter()
                .map(|p| {
                    let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10))?;
                    Ok((p, high))
                })
                .collect()
        })
        .await?
    }

    /// The number of messages in the topic (the sum of the high watermarks; nothing is ever
    /// deleted from a run's topic).
    ///
    /// # Errors
    /// As [`Watermarks::high`].
    pub async fn total(&self) -> Result<i64> {
        Ok(self.high().await?.iter().map(|(_, h)| h).sum())
    }
}

/// One of the pipeline's binaries, run as a child process for the length of a run.
pub struct Service {
    name: &'static str,
    child: tokio::process::Child,
    pid: u32,
    cpu_at_start: Option<f64>,
    /// Where its stderr goes.
    pub log: PathBuf,
}

/// Where the pipeline's binaries are: `--bin-dir`, else the directory of this executable
/// (`target/release` when built as the README says).
///
/// # Errors
/// The current executable cannot be located.
pub fn bin_dir(flag: Option<&Path>) -> Result<PathBuf> {
    match flag {
        Some(dir) => Ok(dir.to_owned()),
        None => Ok(std::env::current_exe()?
            .parent()
            .ok_or_else(|| anyhow!("the executable has no directory"))?
            .to_owned()),
    }
}

impl Service {
    /// Starts `dir/name` with `args` and `env`, its stdout discarded and its stderr in
    /// `$TMPDIR/loadtest-<name>-<pid of loadtest>.log`.
    ///
    /// # Errors
    /// The binary is missing or cannot be started.
    pub fn start(dir: &Path, name: &'static str, args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let program = dir.join(name);
        if !program.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release -p {name}` (or pass --bin-dir)",
                program.display()
            );
        }
        let log = std::env::temp_dir().join(format!("loadtest-{name}-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = tokio::process::Command::new(&program);
        command
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("{name} exited at once"))?;
        Ok(Service {
            name,
            child,
            pid,
            cpu_at_start: process_cpu_seconds(Some(pid), crate::stats::clock_ticks()),
            log,
        })
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU seconds it used since it started.
    #[must_use]
    pub fn cpu_seconds(&self) -> Option<f64> {
        let now = process_cpu_seconds(Some(self.pid), crate::stats::clock_ticks())?;
        Some(now - self.cpu_at_start.unwrap_or(0.0))
    }

    /// Fails if it has exited (it should run until [`Service::stop`]).
    ///
    /// # Errors
    /// It exited; the message points at its log.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}); see {}", self.name, self.log.display());
        }
        Ok(())
    }

    /// SIGTERM (its graceful shutdown), SIGKILL after 10 s.
    ///
    /// # Errors
    /// Waiting for it fails.
    pub async fn stop(mut self) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(self.pid.to_string())
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_err()
            {
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

/// CPU of a service over a window of `wall` seconds, for a summary.
#[must_use]
pub fn service_cpu(service: &Service, since: Option<f64>, wall: f64) -> Value {
    let used = service.cpu_seconds().map(|now| now - since.unwrap_or(0.0));
    json!({
        "pid": service.pid(),
        "cpuSeconds": used.map(round3),
        "coresUsed": used.map(|s| round3(s / wall.max(1e-9))),
    })
}

/// The machine's load averages and the other processes' share, for the summary: runs share
/// 2 cores with builds and tests.
#[must_use]
pub fn machine() -> Value {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "loadavg": loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

/// Seconds since `start`, rounded.
#[must_use]
pub fn secs(start: Instant) -> f64 {
    round3(start.elapsed().as_secs_f64())
}

/// A name unique to this run: `<prefix><unix seconds>`.
#[must_use]
pub fn run_name(prefix: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{prefix}{now}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_loopback_servers() {
        assert!(check_database_url("postgres://u:p@127.0.0.1:15432/db").is_ok());
        assert!(check_database_url("postgres://u:p@localhost/db").is_ok());
        assert!(check_database_url("postgres://u:p@[::1]:5432/db").is_ok());
        assert!(check_database_url("postgres://u:p@10.1.2.3:5432/db").is_err());
        assert!(check_database_url("postgres://u:p@db.example.com/db").is_err());
        assert!(check_brokers("127.0.0.1:19092").is_ok());
        assert!(check_brokers("localhost:9092,127.0.0.2:9092").is_ok());
        assert!(check_brokers("127.0.0.1:19092,kafka.example.com:9092").is_err());
        assert!(check_brokers("").is_err());
        assert!(check_schema("lt_fill_1").is_ok());
        for bad in ["", "1x", "Public", "a;drop", "a-b", &"a".repeat(41)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
        assert!(check_topic("loadtest.fill-1_x").is_ok());
        assert!(check_topic("a b").is_err());
    }
}
