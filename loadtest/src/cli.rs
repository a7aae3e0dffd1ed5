//! The command line: the iamd scenarios and the distributed ones, every size and duration bounded.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// No run lasts longer than this, whatever the flags say.
pub const HARD_CAP: Duration = Duration::from_secs(600);
/// Most concurrent connections.
pub const MAX_CONCURRENCY: usize = 1024;
/// Most decisions in one batch request (the server's own limit).
pub const MAX_BATCH: usize = 1000;
/// Most accounts `seed` creates in one run.
pub const MAX_ACCOUNTS: usize = 1000;
/// Most users per account `seed` creates (AWS's quota is 5000; mutations need room).
pub const MAX_PRINCIPALS: usize = 4000;
/// Most audit-lag samples.
pub const MAX_SAMPLES: usize = 100_000;

/// A bounded, loopback-only load generator for iamd.
#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about)]
pub struct Cli {
    /// Tokio worker threads for the generator (it shares the machine with iamd: keep it small).
    #[arg(long, global = true, default_value_t = 1)]
    pub threads: usize,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates accounts, policies, groups and users, and writes the manifest the other
    /// scenarios read.
    Seed(SeedArgs),
    /// Decisions per second through `POST /v1/authorize` (or `/v1/authorize/batch`).
    Decisions(DecisionArgs),
    /// Mutations per second across the seeded accounts, through GraphQL or IAM's query protocol.
    Mutations(MutationArgs),
    /// STS `AssumeRole` calls per second (query protocol), each account's IAM user assuming a
    /// role that trusts it.
    AssumeRole(AssumeRoleArgs),
    /// Password sign-ins per second through `POST /v1/signin` (one argon2id verification each),
    /// as users with passwords of a fresh account.
    #[command(name = "signin")]
    SignIn(SignInArgs),
    /// How long until a decision's audit record is returned by the `auditEvents` query.
    AuditLag(AuditLagArgs),
    /// Distributed mode: realistic events appended to the PostgreSQL log (a schema of the run's
    /// own) while the real `relay` publishes them to a topic of the run's own.
    DistributedFill(FillArgs),
    /// Distributed mode: a fresh `projector` replays a filled topic into an empty read-model
    /// schema; events/s, then the rows are checked against the log's domain state.
    DistributedRebuild(RebuildArgs),
    /// Distributed mode: from an append's acknowledgement until the projector committed it in
    /// the read model, under a steady background write load.
    DistributedLag(LagArgs),
}

/// Flags every scenario has.
#[derive(Debug, Args)]
pub struct Common {
    /// iamd's base URL; only loopback hosts (127.0.0.0/8, ::1, localhost) are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Write the JSON summary here (mode 0644) instead of stdout.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// iamd's process id, to report its CPU use over the run (from /proc).
    #[arg(long)]
    pub iamd_pid: Option<u32>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seed for the request mix (default: drawn at random); the summary records it.
    #[arg(long)]
    pub rng_seed: Option<u64>,
}

/// Flags every distributed scenario has. The servers must be on loopback.
#[derive(Debug, Args)]
pub struct DistCommon {
    /// PostgreSQL (`infra/dev-up.sh` prints it); only loopback hosts or a local socket.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Kafka brokers (`host:port,...`); only loopback hosts.
    #[arg(long, env = "GATEHOUSE_KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// Where the `relay` and `projector` binaries are (default: this executable's directory).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Write the JSON summary here instead of stdout.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seed for the generated traffic (default: drawn at random); the summary records it.
    #[arg(long)]
    pub rng_seed: Option<u64>,
}

/// `distributed-fill`.
#[derive(Debug, Args)]
pub struct FillArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: DistCommon,
    /// The (new) schema for the event log (default `lt_fill_<unix time>`).
    #[arg(long)]
    pub events_schema: Option<String>,
    /// The (new) topic the relay publishes to (default `loadtest.fill.<unix time>`).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions of the new topic (`gatehouse.events` has 8).
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// Events to append (a command's events are never split, so a few more may be appended).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Accounts the events are spread over.
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
    /// Users an account grows to, then hovers around.
    #[arg(long, default_value_t = 150)]
    pub users_per_account: usize,
    /// Events per append (several commands of one account in one append); 1 = one command per
    /// append, as iamd does.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Appenders running at once (each owns a share of the accounts).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// `GATEHOUSE_RELAY_BATCH` for the relay.
    #[arg(long, default_value_t = 500)]
    pub relay_batch: u32,
}

/// `distributed-rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: DistCommon,
    /// The event log `distributed-fill` wrote (read for the oracle, after the timed part).
    #[arg(long)]
    pub events_schema: String,
    /// The topic `distributed-fill` filled.
    #[arg(long)]
    pub topic: String,
    /// The (new, empty) read-model schema (default `lt_rebuild_<unix time>`).
    #[arg(long)]
    pub read_model_schema: Option<String>,
    /// `full`: every account's rows against `expected_snapshot` of the log's state; `counts`:
    /// row counts per table only; `none`.
    #[arg(long, default_value = "full", value_parser = ["full", "counts", "none"])]
    pub verify: String,
    /// How often the read model's stored offsets are read.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Give up (and report what was done) after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Drop the read-model schema at the end.
    #[arg(long)]
    pub drop_read_model: bool,
}

/// `distributed-lag`.
#[derive(Debug, Args)]
pub struct LagArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: DistCommon,
    /// Names the run's schemas (`<name>_ev`, `<name>_rm`) and topic (`loadtest.<name>`);
    /// default `lt_lag_<unix time>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Partitions of the run's topic.
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// Accounts the background load writes to.
    #[arg(long, default_value_t = 100)]
    pub accounts: usize,
    /// Accounts the probes write to (none of them gets background writes).
    #[arg(long, default_value_t = 4)]
    pub probe_accounts: usize,
    /// Events every account gets (in one append) before measuring.
    #[arg(long, default_value_t = 60)]
    pub seed_events: usize,
    /// Probe appends to follow, one at a time.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// Background appends per second (one command each, as iamd appends); 0 for none.
    #[arg(long, default_value_t = 100)]
    pub background_rate: u32,
    /// Background appends in flight at most (a tick finding none free is counted as missed).
    #[arg(long, default_value_t = 16)]
    pub background_concurrency: usize,
    /// Pause between two reads of the probe account's head in the read model.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Pause between two probes.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub sample_gap: Duration,
    /// A probe not projected by then counts as a timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub sample_timeout: Duration,
    /// Keep the run's schemas and topic (default: dropped at the end).
    #[arg(long)]
    pub keep: bool,
}

/// `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// iamd's data directory: its `root-credentials` (the management account's root key) is
    /// used to create the accounts.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Accounts to create.
    #[arg(long, default_value_t = 5)]
    pub accounts: usize,
    /// Users per account.
    #[arg(long, default_value_t = 20)]
    pub principals: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// The manifest to write (mode 0600: it holds the accounts' root secrets).
    #[arg(long, default_value = "seed.json")]
    pub out: PathBuf,
}

/// `decisions`.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The manifest `seed` wrote.
    #[arg(long, default_value = "seed.json")]
    pub seed: PathBuf,
    /// How long to measure (e.g. `20s`, `2m`), after the warm-up.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Requests before this are sent but not counted (lazy policy compilation, connections).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Decisions per request: 1 uses `/v1/authorize`, more use `/v1/authorize/batch`.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Percentages of requests built to be allowed, implicitly denied, explicitly denied.
    #[arg(long, default_value = "70,20,10")]
    pub mix: String,
    /// What signs the requests: each account's root key (`long-term`), or (`session`) the
    /// temporary credentials of a role session, assumed once per account before the run by an
    /// IAM user made for it, with `X-Amz-Security-Token` signed in.
    #[arg(long, value_enum, default_value_t = CredentialKind::LongTerm)]
    pub credentials: CredentialKind,
    /// A condition key added to every request's context as a string, `KEY=VALUE` (repeatable),
    /// such as `aws:RequestedRegion=us-east-1`, which an organization's region SCP reads.
    #[arg(long = "context", value_parser = parse_context_entry)]
    pub context: Vec<(String, String)>,
}

/// What signs the `decisions` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialKind {
    /// The account's root access key.
    LongTerm,
    /// A role session's access key, secret and session token.
    Session,
}

impl CredentialKind {
    /// The name in the summary, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::LongTerm => "long-term",
            CredentialKind::Session => "session",
        }
    }
}

/// `assume-role`.
#[derive(Debug, Args)]
pub struct AssumeRoleArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The manifest `seed` wrote.
    #[arg(long, default_value = "seed.json")]
    pub seed: PathBuf,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Requests before this are sent but not counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Connections, each with one `AssumeRole` in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// `signin`.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// iamd's data directory: its `root-credentials` (the management account's root key) is
    /// used to create the account whose users sign in.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Users made in the fresh account, each with a password, signed in at random.
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Requests before this are sent but not counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Connections, each with one sign-in in flight (each costs the server some 15-20 ms of one
    /// core, mostly argon2id: a few connections keep every core busy).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// `mutations`.
#[derive(Debug, Args)]
pub struct MutationArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The manifest `seed` wrote.
    #[arg(long, default_value = "seed.json")]
    pub seed: PathBuf,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Requests before this are sent but not counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Connections, each with one mutation in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// The door the same operations go through: `graphql` (`POST /graphql`) or `aws` (IAM's
    /// query protocol on `POST /`, as `aws iam create-user` sends it).
    #[arg(long, value_enum, default_value_t = Protocol::Graphql)]
    pub protocol: Protocol,
}

/// How `mutations` carries its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// One GraphQL mutation per `POST /graphql` (JSON).
    Graphql,
    /// One IAM query-protocol action per `POST /` (form-encoded, XML answers).
    Aws,
}

impl Protocol {
    /// The name in the summary, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Graphql => "graphql",
            Protocol::Aws => "aws",
        }
    }
}

/// `audit-lag`.
#[derive(Debug, Args)]
pub struct AuditLagArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: Common,
    /// The manifest `seed` wrote.
    #[arg(long, default_value = "seed.json")]
    pub seed: PathBuf,
    /// Decisions to follow, one at a time.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Pause between two polls of `auditEvents` for one sample.
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// A sample whose record has not shown up by then counts as a timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub sample_timeout: Duration,
    /// Which ARN the `auditEvents` filter's `principalArn` holds: `caller` (the account root
    /// that asked, i.e. `userIdentity.arn`) or `subject` (the principal decided about).
    #[arg(long, default_value = "caller", value_parser = ["caller", "subject"])]
    pub filter_principal: String,
    /// Connections sending decisions in the background while the probes run (0: none).
    #[arg(long, default_value_t = 0)]
    pub background_concurrency: usize,
    /// Decisions per background request.
    #[arg(long, default_value_t = 1)]
    pub background_batch: usize,
}

/// Parses `250ms`, `20s`, `2m` or a bare number of seconds.
///
/// # Errors
/// Anything else, or more than [`HARD_CAP`].
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a duration such as 500ms, 20s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => bail!("`{text}`: the unit must be ms, s or m"),
    };
    if !seconds.is_finite() || seconds < 0.0 || seconds > HARD_CAP.as_secs_f64() {
        bail!("`{text}`: durations are capped at {} s", HARD_CAP.as_secs());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Refuses a count outside `1..=max`.
///
/// # Errors
/// The value is 0 or above the cap.
pub fn bounded(name: &str, value: usize, max: usize) -> Result<usize> {
    if value == 0 || value > max {
        bail!("--{name} must be between 1 and {max}, not {value}");
    }
    Ok(value)
}

/// Parses `KEY=VALUE` (a condition key and its one string value).
///
/// # Errors
/// No `=`, or an empty key.
pub fn parse_context_entry(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => bail!("--context `{text}`: expected KEY=VALUE, such as aws:RequestedRegion=us-east-1"),
    }
}

/// Parses `--mix A,I,E` (percentages of allowed, implicit-deny and explicit-deny requests).
///
/// # Errors
/// Not three non-negative numbers with a positive sum.
pub fn parse_mix(text: &str) -> Result<[u32; 3]> {
    let parts: Vec<u32> = text
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--mix `{text}`: expected three integers such as 70,20,10"))?;
    match parts.as_slice() {
        [a, i, e] if a + i + e > 0 => Ok([*a, *i, *e]),
        _ => bail!("--mix `{text}`: expected three integers with a positive sum, such as 70,20,10"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("11m").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn mixes_and_bounds() {
        assert_eq!(parse_mix("70,20,10").unwrap(), [70, 20, 10]);
        assert!(parse_mix("0,0,0").is_err());
        assert_eq!(
            parse_context_entry("aws:RequestedRegion=us-east-1").unwrap(),
            ("aws:RequestedRegion".to_owned(), "us-east-1".to_owned())
        );
        assert!(parse_context_entry("=x").is_err());
        assert!(parse_context_entry("no-value").is_err());
        assert!(parse_mix("1,2").is_err());
        assert!(bounded("concurrency", 0, 8).is_err());
        assert!(bounded("concurrency", 9, 8).is_err());
        assert_eq!(bounded("concurrency", 8, 8).unwrap(), 8);
    }
}
