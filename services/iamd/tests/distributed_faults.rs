//! Faults in the distributed pipeline, on real processes only: `iamd` replicas sharing the
//! PostgreSQL log of record, the `relay` binary publishing the outbox to Kafka, `projector`
//! binaries consuming the topic into PostgreSQL read models.
//!
//! - `kill9_of_a_replica_and_a_projector_mid_stream_loses_nothing`: signed GraphQL mutations spread
//!   over two replicas; one replica and one of two projectors are killed with SIGKILL mid-stream
//!   (the projector is restarted). Every acknowledged mutation is in the log, every event of the
//!   log is on the topic exactly once after deduplication by `(account, sequence)`, and both read
//!   models equal the state rebuilt from the log.
//! - `a_kafka_outage_is_buffered_by_the_outbox_and_relayed_afterwards`: a private broker (its own
//!   ports and data directory, never the shared one) is stopped under load and started again:
//!   mutations keep committing to the log, the relay's rounds fail and it resumes by itself, and
//!   everything reaches the topic and the read model exactly once. Neither the relay nor the
//!   projector is restarted: both must ride out the outage by themselves.
//!
//! The first test runs three projectors on two read models: two of them feed read model 0 at
//! once (each assigns itself every partition, so both apply every event; their batches take
//! turns on the read model's advisory lock, and the later one finds duplicates), and the one
//! killed and restarted is one of those two. Before that lock, two projectors on one schema
//! undid each other's account heads and stopped an account with "gap in the feed" (two runs of
//! four).
//!
//! Needs `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_KAFKA_BROKERS` and the `relay` and `projector`
//! binaries next to this test's target directory (`cargo build -p relay -p projector`, or
//! `GATEHOUSE_RELAY_BIN` / `GATEHOUSE_PROJECTOR_BIN`): `#[ignore]`d, run by
//! `scripts/distributed-test.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iam_app::Gatehouse;
use iam_eventlog::{EventEnvelope, EventFeed};
use iam_readmodel::{expected_snapshot, PgReadModel};
use iam_secrets::Sealer;
use iam_sigv4::Credentials;
use iam_store_postgres::{PostgresEventStore, PostgresStoreOptions};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use sqlx::Connection;
use support::{gql, post_path, signed_headers, signed_headers_for, Server};
use tokio::runtime::Runtime;

const PARTITIONS: i32 = 4;
/// How long any wait for the pipeline to settle may take before the test fails.
const SETTLE: Duration = Duration::from_secs(90);

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: run scripts/distributed-test.sh"))
}

/// A binary of another package of the workspace, built into the same target directory.
fn sibling_binary(name: &str) -> PathBuf {
    let variable = format!("GATEHOUSE_{}_BIN", name.to_uppercase());
    if let Ok(path) = std::env::var(&variable) {
        return PathBuf::from(path);
    }
    // This test runs as <target>/<profile>/deps/distributed_faults-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {name}` first (scripts/distributed-test.sh does), or set {variable}",
        path.display()
    );
    path
}

/// The output of a child process, kept for assertions and for failure messages.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<String>>);

impl Output {
    fn drain(&self, name: &'static str, stream: impl Read + Send + 'static) {
        let sink = self.0.clone();
        let echo = std::env::var_os("GATEHOUSE_FAULTS_LOG").is_some();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if echo {
                    eprintln!("[{name}] {line}");
                }
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
    }

    fn contains(&self, needle: &str) -> bool {
        self.0.lock().unwrap().contains(needle)
    }

    fn tail(&self) -> String {
        let text = self.0.lock().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A relay or projector process, killed with SIGKILL when dropped. Its output accumulates across
/// restarts.
struct Proc {
    name: &'static str,
    vars: Vec<(String, String)>,
    child: Mutex<Child>,
    output: Output,
}

impl Proc {
    fn spawn(name: &'static str, vars: &[(&str, &str)]) -> Proc {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let output = Output::default();
        let child = Mutex::new(Self::start(name, &vars, &output));
        Proc {
            name,
            vars,
            child,
            output,
        }
    }

    fn start(name: &'static str, vars: &[(String, String)], output: &Output) -> Child {
        let mut child = Command::new(sibling_binary(name))
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env_remove("GATEHOUSE_EVENTS_SCHEMA")
            // GATEHOUSE_FAULTS_LOG (say `info`) makes the children chattier and echoes their
            // output, for a failure's diagnosis.
            .env(
                "RUST_LOG",
                std::env::var("GATEHOUSE_FAULTS_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        output.drain(name, child.stdout.take().unwrap());
        output.drain(name, child.stderr.take().unwrap());
        child
    }

    fn kill9(&self) {
        let mut child = self.child.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts the process again (after [`Proc::kill9`]).
    fn restart(&self) {
        *self.child.lock().unwrap() = Self::start(self.name, &self.vars, &self.output);
    }

    fn assert_running(&self) {
        let ended = self.child.lock().unwrap().try_wait().unwrap();
        if let Some(status) = ended {
            panic!("{} exited ({status}):\n{}", self.name, self.output.tail());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap()
}

/// Schemas and a topic of the test's own, and the processes working on them; dropped, it kills
/// the processes and drops the schemas (and the topic, on the shared broker).
struct Fixture {
    runtime: Runtime,
    url: String,
    brokers: String,
    events: String,
    read_models: Vec<String>,
    topic: String,
    delete_topic: bool,
    procs: Vec<Proc>,
}

impl Fixture {
    fn new(brokers: &str, read_models: usize, delete_topic: bool) -> Fixture {
        let url = env("GATEHOUSE_DATABASE_URL");
        let id = uuid::Uuid::now_v7().simple().to_string();
        let fixture = Fixture {
            runtime: Runtime::new().unwrap(),
            url,
            brokers: brokers.to_owned(),
            events: format!("fev_{id}"),
            read_models: (0..read_models).map(|i| format!("frm{i}_{id}")).collect(),
            topic: format!("gatehouse.events.faults-{id}"),
            delete_topic,
            procs: Vec::new(),
        };
        fixture.runtime.block_on(async {
            let mut db = sqlx::PgConnection::connect(&fixture.url).await.unwrap();
            for schema in fixture.schemas() {
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut db)
                    .await
                    .unwrap();
            }
            let created = admin(&fixture.brokers)
                .create_topics(
                    &[NewTopic::new(&fixture.topic, PARTITIONS, TopicReplication::Fixed(1))],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
                )
                .await
                .unwrap();
            for result in created {
                result.unwrap_or_else(|(name, code)| panic!("creating topic {name}: {code}"));
            }
        });
        fixture
    }

    fn schemas(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.events).chain(&self.read_models)
    }

    /// The options of an `iamd` replica on this fixture's log.
    fn iamd_flags(&self) -> Vec<String> {
        [
            "--database-url",
            self.url.as_str(),
            "--events-schema",
            self.events.as_str(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn relay(&self) -> Proc {
        Proc::spawn(
            "relay",
            &[
                ("GATEHOUSE_DATABASE_URL", &self.url),
                ("GATEHOUSE_KAFKA_BROKERS", &self.brokers),
                ("GATEHOUSE_RELAY_SCHEMA", &self.events),
                ("GATEHOUSE_RELAY_TOPIC", &self.topic),
            ],
        )
    }

    fn projector(&self, read_model: usize) -> Proc {
        Proc::spawn(
            "projector",
            &[
                ("GATEHOUSE_DATABASE_URL", &self.url),
                ("GATEHOUSE_KAFKA_BROKERS", &self.brokers),
                ("GATEHOUSE_READ_MODEL_SCHEMA", &self.read_models[read_model]),
                ("GATEHOUSE_EVENTS_TOPIC", &self.topic),
            ],
        )
    }

    fn store(&self) -> PostgresEventStore {
        let mut options = PostgresStoreOptions::default();
        options.schema = Some(self.events.clone());
        self.runtime
            .block_on(PostgresEventStore::connect(&self.url, options))
            .unwrap()
    }

    /// The whole log, in position order.
    fn log(&self, store: &PostgresEventStore) -> Vec<EventEnvelope> {
        self.runtime.block_on(async {
            let (mut events, mut after) = (Vec::new(), 0);
            loop {
                let batch = store.read_from(after, 1000).await.unwrap();
                let Some((last, _)) = batch.last() else {
                    return events;
                };
                after = *last;
                events.extend(batch.into_iter().map(|(_, e)| e));
            }
        })
    }

    fn outbox_len(&self, store: &PostgresEventStore) -> i64 {
        self.runtime
            .block_on(sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(store.pool()))
            .unwrap()
    }

    /// Waits until the relay has emptied the outbox.
    fn wait_outbox_empty(&self, store: &PostgresEventStore) {
        let deadline = Instant::now() + SETTLE;
        while self.outbox_len(store) > 0 {
            self.check_procs();
            assert!(
                Instant::now() < deadline,
                "the outbox never emptied; relay output:\n{}",
                self.procs_output("relay")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails if a process ended: nothing here has a supervisor to restart it.
    fn check_procs(&self) {
        for proc in &self.procs {
            proc.assert_running();
        }
    }

    fn procs_output(&self, name: &str) -> String {
        self.procs
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.output.tail())
            .collect::<Vec<_>>()
            .join("\n--\n")
    }

    /// Reads the topic from the beginning until, deduplicated by `(account, sequence)`, it holds
    /// as many events as `log`; asserts that it then holds exactly `log`. Returns how many
    /// messages were read (duplicates included).
    fn assert_topic_holds_exactly(&self, log: &[EventEnvelope]) -> usize {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("{}-check", self.topic))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            assignment
                .add_partition_offset(&self.topic, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut applied: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
        let (mut received, mut unique) = (0, 0);
        let deadline = Instant::now() + SETTLE;
        while unique < log.len() {
            assert!(
                Instant::now() < deadline,
                "only {unique} of {} events on the topic",
                log.len()
            );
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message.unwrap();
            let event: EventEnvelope = serde_json::from_slice(message.payload().unwrap()).unwrap();
            assert_eq!(message.key(), Some(event.account_id.as_bytes()));
            received += 1;
            let stream = applied.entry(event.account_id.clone()).or_default();
            let next = stream.len() as u64 + 1;
            assert!(
                event.sequence <= next,
                "account {}: sequence {} after {} on the topic (a gap)",
                event.account_id,
                event.sequence,
                next - 1
            );
            if event.sequence == next {
                stream.push(event);
                unique += 1;
            } else {
                assert_eq!(
                    stream[usize::try_from(event.sequence - 1).unwrap()],
                    event,
                    "a duplicate differs from the original"
                );
            }
        }
        let mut want: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
        for event in log {
            want.entry(event.account_id.clone()).or_default().push(event.clone());
        }
        assert_eq!(applied, want, "the topic, deduplicated, is not the log");
        received
    }

    /// Waits until the read model has every account's head of `log`, then asserts it has no
    /// failed event and equals, account by account, the state rebuilt from the log.
    fn assert_read_model_equals_rebuild(&self, read_model: usize, log: &[EventEnvelope], store: &PostgresEventStore) {
        let mut heads: BTreeMap<String, i64> = BTreeMap::new();
        for event in log {
            heads.insert(event.account_id.clone(), i64::try_from(event.sequence).unwrap());
        }
        let schema = &self.read_models[read_model];
        self.runtime.block_on(async {
            let model = PgReadModel::connect(&self.url, Some(schema)).await.unwrap();
            let mut db = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let deadline = Instant::now() + SETTLE;
            loop {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as(&format!("SELECT account_id, sequence FROM {schema}.rm_account_heads"))
                        .fetch_all(&mut db)
                        .await
                        .unwrap();
                let rows: BTreeMap<String, i64> = rows.into_iter().collect();
                if rows == heads {
                    break;
                }
                self.check_procs();
                assert!(
                    Instant::now() < deadline,
                    "read model {schema} never caught up: heads {rows:?}, log {heads:?}; projector output:\n{}",
                    self.procs_output("projector")
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let failed: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.rm_failed_events"))
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(failed, 0, "read model {schema} stopped an account");
            let rebuilt = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[0; 32]))
                .await
                .unwrap();
            for account in heads.keys() {
                let state = rebuilt.account(account).unwrap().state().clone();
                assert_eq!(
                    model.snapshot(account).await.unwrap(),
                    expected_snapshot(&state),
                    "read model {schema} != the state rebuilt from the log, account {account}"
                );
            }
            model.close().await;
        });
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.procs.clear();
        let cleaned: Result<(), String> = self.runtime.block_on(async {
            if self.delete_topic {
                let _ = admin(&self.brokers)
                    .delete_topics(
                        &[&self.topic],
                        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                    )
                    .await;
            }
            let mut db = sqlx::PgConnection::connect(&self.url)
                .await
                .map_err(|e| e.to_string())?;
            for schema in self.schemas() {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut db)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        if let Err(error) = cleaned {
            eprintln!("warning: could not drop the schemas of {}: {error}", self.events);
        }
    }
}

/// An account with its root credentials.
#[derive(Clone)]
struct Tenant {
    account: String,
    root: Credentials,
}

/// Creates `n` tenant accounts through the management account's root.
fn tenants(server: &Server, n: usize) -> Vec<Tenant> {
    let root = server.root_credentials();
    let mut tenants = vec![Tenant {
        account: server.account_id(),
        root: root.clone(),
    }];
    for _ in 1..n {
        let reply = gql(
            &server.address,
            &root,
            "mutation { createAccount { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
            json!({}),
        );
        let created = &reply.data()["createAccount"];
        tenants.push(Tenant {
            account: created["accountId"].as_str().unwrap().to_owned(),
            root: Credentials {
                access_key_id: created["rootAccessKey"]["accessKeyId"].as_str().unwrap().to_owned(),
                secret_access_key: created["rootAccessKey"]["secretAccessKey"].as_str().unwrap().to_owned(),
                session_token: None,
            },
        });
    }
    tenants
}

/// A mutation that was acknowledged (HTTP 200 with data): the event it must have committed.
#[derive(Debug, Clone)]
struct Ack {
    account: String,
    sequence: u64,
    event_type: &'static str,
    /// A string value its payload holds.
    marker: String,
}

/// What became of a mutation that was not acknowledged.
#[derive(Debug)]
enum Failure {
    /// No HTTP response (the replica was killed before or while answering).
    Transport,
    /// A GraphQL error: its code.
    Refused(Option<String>),
}

/// The `step`-th mutation of writer `writer`: cycles of create user, tag it, create group, add
/// the user to it. Returns the query, its variables, the event it commits and a marker.
fn mutation(writer: usize, step: usize) -> (&'static str, Value, &'static str, String) {
    let (cycle, op) = (step / 4, step % 4);
    let (user, group) = (format!("w{writer}-u{cycle}"), format!("w{writer}-g{cycle}"));
    match op {
        0 => (
            "mutation($u: String!) { createUser(input: {userName: $u}) { sequence } }",
            json!({ "u": user }),
            "iam.user.created",
            user,
        ),
        1 => {
            let value = format!("step-{writer}-{step}");
            (
                "mutation($u: String!, $v: String!) { tagUser(input: {userName: $u, tags: [{key: \"step\", value: $v}]}) { sequence } }",
                json!({ "u": user, "v": value }),
                "iam.user.tagged",
                value,
            )
        }
        2 => (
            "mutation($g: String!) { createGroup(input: {groupName: $g}) { sequence } }",
            json!({ "g": group }),
            "iam.group.created",
            group,
        ),
        _ => (
            "mutation($g: String!, $u: String!) { addUserToGroup(input: {groupName: $g, userName: $u}) { sequence } }",
            json!({ "g": group, "u": user }),
            "iam.group.member_added",
            group,
        ),
    }
}

/// Sends one signed mutation, with the consistency token of the writer's last acknowledged one
/// (a replica catches up to it first, so a user made through one replica is there to be tagged
/// through the other); a dead replica is a [`Failure::Transport`], not a panic.
fn send(address: &str, tenant: &Tenant, writer: usize, step: usize, token: Option<u64>) -> Result<Ack, Failure> {
    let (query, variables, event_type, marker) = mutation(writer, step);
    let body = json!({ "query": query, "variables": variables }).to_string();
    let mut headers = signed_headers(address, &tenant.root, &body, chrono::Utc::now());
    if let Some(token) = token {
        headers.push(("x-gatehouse-min-sequence".to_owned(), token.to_string()));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = agent.post(format!("http://{address}/graphql"));
    for (name, value) in &headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let mut response = request.send(&body).map_err(|_| Failure::Transport)?;
    let mut text = String::new();
    if response.status() != 200 || response.body_mut().as_reader().read_to_string(&mut text).is_err() {
        return Err(Failure::Transport);
    }
    let reply: Value = serde_json::from_str(&text).map_err(|_| Failure::Transport)?;
    let sequence = reply["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .map(|v| &v["sequence"]);
    match (reply.get("errors"), sequence.and_then(Value::as_u64)) {
        (None, Some(sequence)) => Ok(Ack {
            account: tenant.account.clone(),
            sequence,
            event_type,
            marker,
        }),
        _ => Err(Failure::Refused(
            reply["errors"][0]["extensions"]["code"].as_str().map(str::to_owned),
        )),
    }
}

/// Asserts that every acknowledged mutation is in the log, as the event it reported.
fn assert_acknowledged_in_log(acks: &[Ack], log: &[EventEnvelope]) {
    let by_key: HashMap<(&str, u64), &EventEnvelope> =
        log.iter().map(|e| ((e.account_id.as_str(), e.sequence), e)).collect();
    for ack in acks {
        let event = by_key
            .get(&(ack.account.as_str(), ack.sequence))
            .unwrap_or_else(|| panic!("acknowledged but not in the log: {ack:?}"));
        assert_eq!(event.event_type, ack.event_type, "{ack:?}");
        assert!(
            event.payload.to_string().contains(&format!("\"{}\"", ack.marker)),
            "{ack:?} vs {}",
            event.payload
        );
    }
}

/// Writers (numbered, so that their names differ) sending mutations, `steps` each, to the replicas `route` picks, collecting the
/// acknowledgements; a failure to a live replica is allowed only after an earlier failure of the
/// same cycle (the user or group it needs was never made).
struct Load {
    acks: Arc<Mutex<Vec<Ack>>>,
    transport_failures: Arc<AtomicUsize>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(
        tenants: &[Tenant],
        writers: std::ops::Range<usize>,
        steps: usize,
        route: impl Fn(usize, usize) -> String + Send + Sync + 'static,
    ) -> Load {
        let acks = Arc::new(Mutex::new(Vec::new()));
        let transport_failures = Arc::new(AtomicUsize::new(0));
        let route = Arc::new(route);
        let writers = writers
            .map(|writer| {
                let tenant = tenants[writer % tenants.len()].clone();
                let (acks, failures, route) = (acks.clone(), transport_failures.clone(), route.clone());
                std::thread::spawn(move || {
                    let (mut broken_cycle, mut token) = (None, None);
                    for step in 0..steps {
                        let address = route(writer, step);
                        match send(&address, &tenant, writer, step, token) {
                            Ok(ack) => {
                                token = Some(ack.sequence);
                                acks.lock().unwrap().push(ack);
                            }
                            Err(Failure::Transport) => {
                                failures.fetch_add(1, Ordering::SeqCst);
                                broken_cycle = Some(step / 4);
                            }
                            Err(Failure::Refused(code)) => {
                                assert_eq!(
                                    broken_cycle,
                                    Some(step / 4),
                                    "writer {writer} step {step} refused ({code:?}) with no earlier failure"
                                );
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            acks,
            transport_failures,
            writers,
        }
    }

    fn acked(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    fn wait_acked(&self, n: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.acked() < n {
            assert!(Instant::now() < deadline, "only {} acknowledged", self.acked());
            assert!(
                !self.writers.iter().all(std::thread::JoinHandle::is_finished),
                "the writers stopped at {} acknowledged",
                self.acked()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn finish(self) -> (Vec<Ack>, usize) {
        for writer in self.writers {
            writer.join().unwrap();
        }
        let acks = self.acks.lock().unwrap().clone();
        (acks, self.transport_failures.load(Ordering::SeqCst))
    }
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
fn kill9_of_a_replica_and_a_projector_mid_stream_loses_nothing() {
    const WRITERS: usize = 4;
    const STEPS: usize = 60;
    let started = Instant::now();
    let mut fixture = Fixture::new(&env("GATEHOUSE_KAFKA_BROKERS"), 2, true);
    let flags = fixture.iamd_flags();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start_with(dir_a.path(), &flags.iter().map(String::as_str).collect::<Vec<_>>());
    let key = dir_a.path().join("master.key");
    let mut with_key = flags.clone();
    with_key.extend(["--master-key-file".to_owned(), key.to_str().unwrap().to_owned()]);
    let b = Server::start_with(dir_b.path(), &with_key.iter().map(String::as_str).collect::<Vec<_>>());
    let tenants = tenants(&a, 3);
    fixture.procs.push(fixture.relay());
    fixture.procs.push(fixture.projector(0));
    fixture.procs.push(fixture.projector(1));
    // A second projector on read model 0: the two feed one schema at once throughout.
    fixture.procs.push(fixture.projector(0));

    // Writers alternate between the replicas; once B is dead, they send everything to A.
    let b_dead = Arc::new(AtomicBool::new(false));
    let (address_a, address_b, dead) = (a.address.clone(), b.address.clone(), b_dead.clone());
    let load = Load::start(&tenants, 0..WRITERS, STEPS, move |writer, step| {
        if (writer + step) % 2 == 1 && !dead.load(Ordering::SeqCst) {
            address_b.clone()
        } else {
            address_a.clone()
        }
    });
    let total = WRITERS * STEPS;
    load.wait_acked(total / 5);
    fixture.procs[1].kill9();
    load.wait_acked(total * 2 / 5);
    b.kill9();
    let acked_at_kill = load.acked();
    // Writers keep sending to the dead replica for a moment: those requests fail.
    std::thread::sleep(Duration::from_millis(100));
    b_dead.store(true, Ordering::SeqCst);
    load.wait_acked(total * 3 / 5);
    fixture.procs[1].restart();
    let (acks, transport_failures) = load.finish();
    assert!(
        acks.len() > acked_at_kill + total / 10,
        "the stream went on after the kill"
    );
    assert!(transport_failures > 0, "no request was in flight to the killed replica");
    let written = started.elapsed();

    let store = fixture.store();
    let log = fixture.log(&store);
    assert_acknowledged_in_log(&acks, &log);
    fixture.wait_outbox_empty(&store);
    let received = fixture.assert_topic_holds_exactly(&log);
    for read_model in 0..2 {
        fixture.assert_read_model_equals_rebuild(read_model, &log, &store);
    }
    fixture.check_procs();

    // An operator repairs one account of read model 1 with `projector --rebuild-account` while
    // the projectors keep running: its damaged rows (all its users deleted) are replaced by what
    // the log implies.
    let account = &tenants[0].account;
    let schema = fixture.read_models[1].clone();
    fixture.runtime.block_on(async {
        let mut db = sqlx::PgConnection::connect(&fixture.url).await.unwrap();
        sqlx::query(&format!("DELETE FROM {schema}.rm_users WHERE account_id = $1"))
            .bind(account)
            .execute(&mut db)
            .await
            .unwrap();
    });
    let repair = Command::new(sibling_binary("projector"))
        .env("GATEHOUSE_DATABASE_URL", &fixture.url)
        .env("GATEHOUSE_EVENTS_SCHEMA", &fixture.events)
        .env("GATEHOUSE_READ_MODEL_SCHEMA", &schema)
        .env_remove("GATEHOUSE_KAFKA_BROKERS")
        .args(["--rebuild-account", account.as_str()])
        .output()
        .unwrap();
    assert!(
        repair.status.success(),
        "projector --rebuild-account failed: {}",
        String::from_utf8_lossy(&repair.stderr)
    );
    fixture.assert_read_model_equals_rebuild(1, &log, &store);
    eprintln!(
        "{} acknowledged of {total} mutations ({transport_failures} lost with replica B), {} events in the log, \
         {received} messages on the topic; writes took {written:?}, all {:?}",
        acks.len(),
        log.len(),
        started.elapsed()
    );
    a.terminate();
    fixture.runtime.block_on(store.close());
}

/// A Kafka broker of the test's own (free ports, a temporary state directory), started and
/// stopped with `infra/kafka/start.sh` / `stop.sh`; never the shared broker. Dropped, it stops
/// the broker and deletes its state. A watchdog does the same if the test process dies first.
struct PrivateBroker {
    state: PathBuf,
    port: u16,
    controller_port: u16,
    watchdog: Child,
}

fn infra_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../infra/kafka")
        .join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivateBroker {
    fn start() -> PrivateBroker {
        let state = std::env::temp_dir().join(format!("gatehouse-kafka-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&state).unwrap();
        let (port, controller_port) = (free_port(), free_port());
        // Stops the broker and deletes its state once this test process is gone, however it ended.
        let watchdog = Command::new("setsid")
            .args([
                "bash",
                "-c",
                "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \"$2\" >/dev/null 2>&1; rm -rf \"$GATEHOUSE_INFRA_STATE\"",
                "watchdog",
                &std::process::id().to_string(),
                infra_script("stop.sh").to_str().unwrap(),
            ])
            .env("GATEHOUSE_INFRA_STATE", &state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let broker = PrivateBroker {
            state,
            port,
            controller_port,
            watchdog,
        };
        broker.run("start.sh");
        broker
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&self, script: &str) {
        let output = Command::new(infra_script(script))
            .env("GATEHOUSE_INFRA_STATE", &self.state)
            .env("GATEHOUSE_KAFKA_PORT", self.port.to_string())
            .env("GATEHOUSE_KAFKA_CONTROLLER_PORT", self.controller_port.to_string())
            .env("GATEHOUSE_KAFKA_HEAP", "256m")
            .env("GATEHOUSE_KAFKA_START_TIMEOUT", "60")
            .env("GATEHOUSE_KAFKA_STOP_TIMEOUT", "20")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "infra/kafka/{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = Command::new(infra_script("stop.sh"))
            .env("GATEHOUSE_INFRA_STATE", &self.state)
            .env("GATEHOUSE_KAFKA_STOP_TIMEOUT", "20")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.state);
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

#[test]
#[ignore = "needs PostgreSQL and Java (a private Kafka broker): run by scripts/distributed-test.sh"]
fn a_kafka_outage_is_buffered_by_the_outbox_and_relayed_afterwards() {
    let started = Instant::now();
    // Declared first, so it is dropped last: the fixture's processes stop before the broker.
    let broker = PrivateBroker::start();
    let broker_up = started.elapsed();
    let mut fixture = Fixture::new(&broker.brokers(), 1, false);
    // Neither the relay nor the projector has a supervisor: both must ride out the outage.
    let dir = tempfile::tempdir().unwrap();
    let flags = fixture.iamd_flags();
    let server = Server::start_with(dir.path(), &flags.iter().map(String::as_str).collect::<Vec<_>>());
    let tenants = tenants(&server, 2);
    fixture.procs.push(fixture.relay());
    fixture.procs.push(fixture.projector(0));
    let store = fixture.store();

    // Before the outage: the pipeline runs.
    let before = Load::start(&tenants, 0..2, 20, {
        let address = server.address.clone();
        move |_, _| address.clone()
    });
    let (mut acks, failures) = before.finish();
    assert_eq!(failures, 0);
    fixture.wait_outbox_empty(&store);

    // The broker goes away under load. Writes keep committing to the log of record (the outbox
    // holds them) until the relay has failed a round: its batch timed out in the producer.
    let outage = Instant::now();
    broker.run("stop.sh");
    let mut step = 0;
    let deadline = Instant::now() + SETTLE;
    while !fixture.procs[0].output.contains("relay round failed") {
        assert!(Instant::now() < deadline, "the relay never noticed the outage");
        fixture.procs[0].assert_running();
        for (writer, tenant) in tenants.iter().enumerate() {
            let ack = send(&server.address, tenant, 4 + writer, step, None)
                .unwrap_or_else(|f| panic!("a mutation failed while Kafka was down: {f:?}"));
            acks.push(ack);
        }
        step += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let buffered = fixture.outbox_len(&store);
    assert!(buffered > 0, "the outbox holds what Kafka has not acknowledged");
    let written_during_outage = step * 2;

    // The broker comes back; writes go on while the relay resumes by itself.
    broker.run("start.sh");
    let down_for = outage.elapsed();
    let after = Load::start(&tenants, 2..4, 20, {
        let address = server.address.clone();
        move |_, _| address.clone()
    });
    let (more, failures) = after.finish();
    assert_eq!(failures, 0);
    acks.extend(more);

    let log = fixture.log(&store);
    assert_acknowledged_in_log(&acks, &log);
    fixture.wait_outbox_empty(&store);
    let received = fixture.assert_topic_holds_exactly(&log);
    fixture.assert_read_model_equals_rebuild(0, &log, &store);
    fixture.check_procs();
    // check_procs above: no process ended, so the projector waited for the broker by itself.
    eprintln!(
        "broker up in {broker_up:?}; down for {down_for:?} while {written_during_outage} mutations committed \
         ({buffered} events buffered in the outbox); {} acknowledged, {} events in the log, {received} messages \
         on the topic; all {:?}",
        acks.len(),
        log.len(),
        started.elapsed()
    );
    server.terminate();
    fixture.runtime.block_on(store.close());
}

/// One decision through `/v1/authorize`: `Some(eventID)` when it was answered, `None` when iamd
/// refused to answer (it could not make the audit record durable).
fn decide(address: &str, tenant: &Tenant) -> Option<String> {
    let body = json!({
        "principalArn": format!("arn:aws:iam::{}:root", tenant.account),
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::outage/report.pdf",
    })
    .to_string();
    let headers = signed_headers_for(address, "/v1/authorize", &tenant.root, &body, chrono::Utc::now());
    let reply = post_path(address, "/v1/authorize", &headers, &body);
    if reply.status == 200 {
        assert_eq!(reply.body["decision"], "Allow", "{}", reply.body);
        Some(reply.body["eventID"].as_str().unwrap().to_owned())
    } else {
        assert!(
            reply.status >= 500,
            "a decision without its audit record must fail as the service's fault: {} {}",
            reply.status,
            reply.body
        );
        None
    }
}

/// The audit topic on a private broker that goes down: while it is down no decision is answered
/// (each would lack its durable audit record); when it is back, decisions are answered again by
/// themselves, and every decision that was answered, before or after, is in the PostgreSQL audit
/// history exactly once, brought there by an audit projector that rode out the outage.
#[test]
#[ignore = "needs PostgreSQL, Java 17 for a private Kafka broker, and the audit-projector binary: run by scripts/distributed-test.sh"]
fn no_decision_is_answered_without_its_audit_record_while_kafka_is_down() {
    let broker = PrivateBroker::start();
    let mut fixture = Fixture::new(&broker.brokers(), 0, false);
    // The fixture's topic serves as the audit topic; the audit store lives in its schema.
    let mut flags = fixture.iamd_flags();
    flags.extend(
        [
            "--kafka-brokers",
            fixture.brokers.as_str(),
            "--audit-topic",
            fixture.topic.as_str(),
            "--audit-schema",
            fixture.events.as_str(),
        ]
        .map(str::to_owned),
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &flags.iter().map(String::as_str).collect::<Vec<_>>());
    let tenant = tenants(&server, 1).remove(0);
    let projector = Proc::spawn(
        "audit-projector",
        &[
            ("GATEHOUSE_DATABASE_URL", &fixture.url),
            ("GATEHOUSE_KAFKA_BROKERS", &fixture.brokers),
            ("GATEHOUSE_AUDIT_SCHEMA", &fixture.events),
            ("GATEHOUSE_AUDIT_TOPIC", &fixture.topic),
        ],
    );
    fixture.procs.push(projector);

    let mut answered: Vec<String> = (0..20)
        .map(|_| decide(&server.address, &tenant).expect("answered while Kafka is up"))
        .collect();

    broker.run("stop.sh");
    // Each refused decision waits out the producer's delivery timeout: a few, in parallel.
    let refused = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| decide(&server.address, &tenant)))
            .collect();
        asks.into_iter().map(|ask| ask.join().unwrap()).collect::<Vec<_>>()
    });
    assert!(
        refused.iter().all(Option::is_none),
        "a decision was answered while its audit record could not reach Kafka: {refused:?}"
    );

    broker.run("start.sh");
    let deadline = Instant::now() + SETTLE;
    let mut after = 0;
    while after < 20 {
        assert!(
            Instant::now() < deadline,
            "decisions were not answered again after the broker came back"
        );
        match decide(&server.address, &tenant) {
            Some(event_id) => {
                answered.push(event_id);
                after += 1;
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }

    // Every answered decision reaches the audit history, once.
    let schema = fixture.events.clone();
    let deadline = Instant::now() + SETTLE;
    let stored: Vec<String> = fixture.runtime.block_on(async {
        let mut db = sqlx::PgConnection::connect(&fixture.url).await.unwrap();
        loop {
            let stored: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT event_id FROM {schema}.audit_events WHERE account_id = $1 AND event_name = 'Authorize'"
            ))
            .bind(&tenant.account)
            .fetch_all(&mut db)
            .await
            .unwrap();
            let present: std::collections::HashSet<&String> = stored.iter().collect();
            if answered.iter().all(|id| present.contains(id)) || Instant::now() > deadline {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "an audit record is stored twice");
    let missing: Vec<&String> = answered.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} answered decisions are missing from the audit history: {missing:?}\naudit-projector:\n{}",
        missing.len(),
        fixture.procs_output("audit-projector")
    );
    fixture.check_procs();
    server.terminate();
}
