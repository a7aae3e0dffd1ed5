//! AWS Organizations across two `iamd` replicas on one PostgreSQL log, as the distributed mode
//! runs them: an SCP attached through replica A is applied by replica B, which has not heard of it,
//! to every request that carries the attachment's organization token (`x-gatehouse-org-sequence`
//! on AWS's wire, `orgSequence` in the decision API); the organization's events reach the Kafka
//! events topic under its `o-...` id, B follows them from there, and the read model projector
//! passes over them without stopping.
//!
//! B follows the events topic (`--follow kafka`) and no relay runs at first, so B lags for
//! certain until the test starts the relay: stale answers without the token are the problem the
//! token solves, shown rather than assumed.
//!
//! Needs `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_KAFKA_BROKERS` and the `relay` and `projector`
//! binaries next to this test's target directory (`cargo build -p relay -p projector`, or
//! `GATEHOUSE_RELAY_BIN` / `GATEHOUSE_PROJECTOR_BIN`): `#[ignore]`d, run by
//! `scripts/distributed-test.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
use support::{aws_wire, gql, post_path, signed_headers_for, xml_error_code, Reply, Server};
use tokio::runtime::Runtime;

const PARTITIONS: i32 = 4;
/// How long any wait for the pipeline may take before the test fails.
const SETTLE: Duration = Duration::from_secs(60);
const ORG_SEQUENCE: &str = "x-gatehouse-org-sequence";
const JSON_1_1: (&str, &str) = ("content-type", "application/x-amz-json-1.1");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
const ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

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
    // This test runs as <target>/<profile>/deps/organizations_replicas-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {name}` first (scripts/distributed-test.sh does), or set {variable}",
        path.display()
    );
    path
}

/// A relay or projector process, killed when dropped; its output kept for failure messages.
struct Proc {
    name: &'static str,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(name: &'static str, vars: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(sibling_binary(name))
            .envs(vars.iter().copied())
            .env_remove("GATEHOUSE_EVENTS_SCHEMA")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let drain = |stream: Box<dyn Read + Send>| {
            let sink = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        };
        drain(Box::new(child.stdout.take().unwrap()));
        drain(Box::new(child.stderr.take().unwrap()));
        Proc { name, child, output }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited ({status}):\n{}", self.name, self.output.lock().unwrap());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap()
}

/// The test's own schemas (event log, read model) and topics (events, audit); dropped, it
/// deletes them all.
struct Fixture {
    runtime: Runtime,
    url: String,
    brokers: String,
    events: String,
    read_model: String,
    events_topic: String,
    audit_topic: String,
}

impl Fixture {
    fn new() -> Fixture {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let fixture = Fixture {
            runtime: Runtime::new().unwrap(),
            url: env("GATEHOUSE_DATABASE_URL"),
            brokers: env("GATEHOUSE_KAFKA_BROKERS"),
            events: format!("orgev_{id}"),
            read_model: format!("orgrm_{id}"),
            events_topic: format!("gatehouse.events.orgs-{id}"),
            audit_topic: format!("gatehouse.audit.orgs-{id}"),
        };
        fixture.runtime.block_on(async {
            let mut db = sqlx::PgConnection::connect(&fixture.url).await.unwrap();
            for schema in [&fixture.events, &fixture.read_model] {
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut db)
                    .await
                    .unwrap();
            }
            let topics = [&fixture.events_topic, &fixture.audit_topic]
                .map(|name| NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1)));
            let created = admin(&fixture.brokers)
                .create_topics(
                    &topics,
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

    /// The flags of an `iamd` replica on this log that follows the events topic.
    fn iamd_flags(&self) -> Vec<&str> {
        vec![
            "--database-url",
            self.url.as_str(),
            "--events-schema",
            self.events.as_str(),
            "--kafka-brokers",
            self.brokers.as_str(),
            "--audit-topic",
            self.audit_topic.as_str(),
            "--follow",
            "kafka",
            "--events-topic",
            self.events_topic.as_str(),
        ]
    }

    fn relay(&self) -> Proc {
        Proc::spawn(
            "relay",
            &[
                ("GATEHOUSE_DATABASE_URL", &self.url),
                ("GATEHOUSE_KAFKA_BROKERS", &self.brokers),
                ("GATEHOUSE_RELAY_SCHEMA", &self.events),
                ("GATEHOUSE_RELAY_TOPIC", &self.events_topic),
            ],
        )
    }

    fn projector(&self) -> Proc {
        Proc::spawn(
            "projector",
            &[
                ("GATEHOUSE_DATABASE_URL", &self.url),
                ("GATEHOUSE_KAFKA_BROKERS", &self.brokers),
                ("GATEHOUSE_READ_MODEL_SCHEMA", &self.read_model),
                ("GATEHOUSE_EVENTS_TOPIC", &self.events_topic),
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

    /// Reads the events topic from the beginning until, deduplicated by `(stream, sequence)`, it
    /// holds every event of `log`, and asserts that it then holds exactly `log`.
    fn topic_events(&self, log: &[EventEnvelope], relay: &mut Proc) -> BTreeMap<String, Vec<EventEnvelope>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("{}-check", self.events_topic))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            assignment
                .add_partition_offset(&self.events_topic, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut seen: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
        let mut unique = 0;
        let deadline = Instant::now() + SETTLE;
        while unique < log.len() {
            relay.assert_running();
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
            assert_eq!(
                message.key(),
                Some(event.account_id.as_bytes()),
                "the key is the stream"
            );
            let stream = seen.entry(event.account_id.clone()).or_default();
            if event.sequence == stream.len() as u64 + 1 {
                stream.push(event);
                unique += 1;
            }
        }
        let mut want: BTreeMap<String, Vec<EventEnvelope>> = BTreeMap::new();
        for event in log {
            want.entry(event.account_id.clone()).or_default().push(event.clone());
        }
        assert_eq!(seen, want, "the topic, deduplicated, is not the log");
        seen
    }

    /// Waits until the read model's heads are the log's, every stream's (the organization's
    /// included), then asserts that nothing was stopped and every account's rows equal the state
    /// rebuilt from the log.
    fn assert_read_model_caught_up(&self, log: &[EventEnvelope], store: &PostgresEventStore, projector: &mut Proc) {
        let mut heads: BTreeMap<String, i64> = BTreeMap::new();
        for event in log {
            heads.insert(event.account_id.clone(), i64::try_from(event.sequence).unwrap());
        }
        let schema = &self.read_model;
        self.runtime.block_on(async {
            let mut db = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let deadline = Instant::now() + SETTLE;
            loop {
                // The tables exist once the projector has started.
                let rows: Vec<(String, i64)> =
                    sqlx::query_as(&format!("SELECT account_id, sequence FROM {schema}.rm_account_heads"))
                        .fetch_all(&mut db)
                        .await
                        .unwrap_or_default();
                let rows: BTreeMap<String, i64> = rows.into_iter().collect();
                if rows == heads {
                    break;
                }
                projector.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "the read model never caught up: heads {rows:?}, log {heads:?}; projector output:\n{}",
                    projector.output.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let failed: Vec<(String, String)> =
                sqlx::query_as(&format!("SELECT account_id, event_type FROM {schema}.rm_failed_events"))
                    .fetch_all(&mut db)
                    .await
                    .unwrap();
            assert!(failed.is_empty(), "the projector stopped streams: {failed:?}");
            let model = PgReadModel::connect(&self.url, Some(schema)).await.unwrap();
            let rebuilt = Gatehouse::load(Arc::new(store.clone()), Sealer::new(&[0; 32]))
                .await
                .unwrap();
            for account in heads.keys().filter(|s| !s.starts_with("o-")) {
                let state = rebuilt.account(account).unwrap().state().clone();
                assert_eq!(
                    model.snapshot(account).await.unwrap(),
                    expected_snapshot(&state),
                    "the read model != the state rebuilt from the log, account {account}"
                );
            }
            model.close().await;
        });
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let cleaned: Result<(), String> = self.runtime.block_on(async {
            let _ = admin(&self.brokers)
                .delete_topics(
                    &[&self.events_topic, &self.audit_topic],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                )
                .await;
            let mut db = sqlx::PgConnection::connect(&self.url)
                .await
                .map_err(|e| e.to_string())?;
            for schema in [&self.events, &self.read_model] {
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

/// One Organizations call on AWS's json 1.1 wire: the answer and the organization token the
/// replica returned with it.
fn organizations(server: &Server, credentials: &Credentials, operation: &str, params: Value) -> (Value, u64) {
    let target = format!("AWSOrganizationsV20161128.{operation}");
    let reply = aws_wire(
        server,
        credentials,
        "organizations",
        &[JSON_1_1, ("x-amz-target", &target)],
        &params.to_string(),
    );
    assert_eq!(reply.status, 200, "{operation}: {}", reply.body);
    let token = reply
        .header(ORG_SEQUENCE)
        .unwrap_or_else(|| panic!("{operation} answered without {ORG_SEQUENCE}"))
        .parse()
        .unwrap();
    (reply.body, token)
}

/// An IAM call on AWS's query wire, with an organization token when given.
fn iam_query(server: &Server, credentials: &Credentials, form: &str, org_sequence: Option<u64>) -> Reply {
    let token = org_sequence.map(|t| t.to_string());
    let mut headers = vec![FORM];
    if let Some(token) = &token {
        headers.push((ORG_SEQUENCE, token));
    }
    aws_wire(
        server,
        credentials,
        "iam",
        &headers,
        &format!("{form}&Version=2010-05-08"),
    )
}

fn xml_text<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{tag}>"))?;
    Some(&text[start..end])
}

fn credentials(value: &Value) -> Credentials {
    Credentials {
        access_key_id: value["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: value["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: value["sessionToken"].as_str().map(str::to_owned),
    }
}

/// An administrator of the management account with an access key (the root user cannot assume
/// roles).
fn operator(server: &Server, root: &Credentials) -> Credentials {
    for mutation in [
        "mutation { createUser(input: {userName: \"operator\"}) { sequence } }",
        "mutation { attachUserPolicy(input: {userName: \"operator\", policyArn: \"arn:aws:iam::aws:policy/AdministratorAccess\"}) { sequence } }",
    ] {
        gql(&server.address, root, mutation, json!({})).data();
    }
    let made = gql(
        &server.address,
        root,
        "mutation { createAccessKey(userName: \"operator\") { accessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    );
    credentials(&made.data()["createAccessKey"]["accessKey"])
}

/// A session of the member's `OrganizationAccountAccessRole`, issued by `server`.
fn access_role_session(server: &Server, operator: &Credentials, member: &str) -> Credentials {
    let assumed = gql(
        &server.address,
        operator,
        "mutation($r: String!) { assumeRole(input: {roleArn: $r, roleSessionName: \"admin\"}) { credentials { accessKeyId secretAccessKey sessionToken } } }",
        json!({"r": format!("arn:aws:iam::{member}:role/{ACCESS_ROLE}")}),
    );
    credentials(&assumed.data()["assumeRole"]["credentials"])
}

/// `POST /v1/authorize` on `server`: may the member's access role do `action`?
fn decide(server: &Server, caller: &Credentials, member: &str, action: &str, org_sequence: Option<u64>) -> Value {
    let mut ask = json!({
        "principalArn": format!("arn:aws:iam::{member}:role/{ACCESS_ROLE}"),
        "action": action,
        "resource": format!("arn:aws:iam::{member}:user/someone"),
    });
    if let Some(token) = org_sequence {
        ask["orgSequence"] = json!(token);
    }
    let body = ask.to_string();
    let headers = signed_headers_for(&server.address, "/v1/authorize", caller, &body, chrono::Utc::now());
    let reply = post_path(&server.address, "/v1/authorize", &headers, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn names_policy(decision: &Value, policy: &str) -> bool {
    decision["matchedStatements"]
        .as_array()
        .is_some_and(|m| m.iter().any(|s| s["sourcePolicyId"] == policy))
}

fn scp(server: &Server, root: &Credentials, name: &str, action: &str) -> String {
    let document =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]});
    let (created, _) = organizations(
        server,
        root,
        "CreatePolicy",
        json!({"Name": name, "Description": name, "Type": "SERVICE_CONTROL_POLICY", "Content": document.to_string()}),
    );
    created["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_owned()
}

#[test]
#[ignore = "needs PostgreSQL, Kafka and the relay and projector binaries: run by scripts/distributed-test.sh"]
fn an_scp_attached_through_one_replica_binds_the_other_for_a_caller_with_the_org_token() {
    let fixture = Fixture::new();
    let flags = fixture.iamd_flags();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start_with(dir_a.path(), &flags);
    let root = a.root_credentials();

    // Through A: an organization, an OU, a member account created into the root and moved into
    // the OU, SCPs enabled; and an operator to reach the member through its access role.
    let (made, _) = organizations(&a, &root, "CreateOrganization", json!({"FeatureSet": "ALL"}));
    let organization = made["Organization"]["Id"].as_str().unwrap().to_owned();
    let (roots, _) = organizations(&a, &root, "ListRoots", json!({}));
    let root_id = roots["Roots"][0]["Id"].as_str().unwrap().to_owned();
    let (unit, _) = organizations(
        &a,
        &root,
        "CreateOrganizationalUnit",
        json!({"ParentId": root_id, "Name": "Workloads"}),
    );
    let workloads = unit["OrganizationalUnit"]["Id"].as_str().unwrap().to_owned();
    let (status, _) = organizations(
        &a,
        &root,
        "CreateAccount",
        json!({"Email": "member-root@example.com", "AccountName": "Member"}),
    );
    assert_eq!(status["CreateAccountStatus"]["State"], "SUCCEEDED", "{status}");
    let member = status["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_owned();
    organizations(
        &a,
        &root,
        "MoveAccount",
        json!({"AccountId": member, "SourceParentId": root_id, "DestinationParentId": workloads}),
    );
    let (_, enabled) = organizations(
        &a,
        &root,
        "EnablePolicyType",
        json!({"RootId": root_id, "PolicyType": "SERVICE_CONTROL_POLICY"}),
    );
    let operator = operator(&a, &root);

    // B starts now and loads all of that; it then learns of A's appends only from the events
    // topic, which nothing fills until the relay starts.
    let key = dir_a.path().join("master.key");
    let mut with_key = flags.clone();
    with_key.extend(["--master-key-file", key.to_str().unwrap()]);
    let b = Server::start_with(dir_b.path(), &with_key);
    let admin = access_role_session(&b, &operator, &member);
    let before = decide(&b, &admin, &member, "iam:CreateUser", None);
    assert_eq!(before["decision"], "Allow", "{before}");

    // Through A: no new users anywhere in the OU.
    let no_users = scp(&a, &root, "NoNewUsers", "iam:CreateUser");
    let (_, attached) = organizations(
        &a,
        &root,
        "AttachPolicy",
        json!({"PolicyId": no_users, "TargetId": workloads}),
    );
    assert!(attached > enabled);
    let on_a = decide(&a, &admin, &member, "iam:CreateUser", None);
    assert_eq!(on_a["decision"], "ExplicitDeny", "{on_a}");

    // B has not heard of it: without the token it still allows (the new-enemy problem)...
    let stale = decide(&b, &admin, &member, "iam:CreateUser", None);
    assert_eq!(
        stale["decision"], "Allow",
        "B learned of the SCP without the topic: {stale}"
    );
    // ...and with the token on AWS's wire it refuses the member's CreateUser at once.
    let refused = iam_query(&b, &admin, "Action=CreateUser&UserName=blocked", Some(attached));
    assert_eq!(
        xml_error_code(&refused).as_deref(),
        Some("AccessDenied"),
        "{}",
        refused.body
    );
    let message = refused
        .body
        .as_str()
        .and_then(|t| xml_text(t, "Message"))
        .unwrap_or_default();
    assert!(message.contains("service control policy"), "{message}");

    // A second SCP, on the account itself; B is stale again, and the decision API's token brings
    // both in, each named by the explicit deny it causes.
    let no_roles = scp(&a, &root, "NoNewRoles", "iam:CreateRole");
    let (_, attached) = organizations(
        &a,
        &root,
        "AttachPolicy",
        json!({"PolicyId": no_roles, "TargetId": member}),
    );
    let stale = decide(&b, &admin, &member, "iam:CreateRole", None);
    assert_eq!(stale["decision"], "Allow", "{stale}");
    let fresh = decide(&b, &admin, &member, "iam:CreateRole", Some(attached));
    assert_eq!(fresh["decision"], "ExplicitDeny", "{fresh}");
    assert!(names_policy(&fresh, &no_roles), "{fresh}");
    let fresh = decide(&b, &admin, &member, "iam:CreateUser", Some(attached));
    assert_eq!(fresh["decision"], "ExplicitDeny", "{fresh}");
    assert!(names_policy(&fresh, &no_users), "{fresh}");
    // A token from the future is refused, not waited for.
    let ahead = iam_query(&b, &admin, "Action=ListUsers", Some(attached + 1000));
    assert_eq!(
        xml_error_code(&ahead).as_deref(),
        Some("InvalidInput"),
        "{}",
        ahead.body
    );

    // The relay publishes the log, the organization's stream included, and B follows the
    // organization from the topic: a detachment through A reaches it without any token.
    let mut relay = fixture.relay();
    organizations(
        &a,
        &root,
        "DetachPolicy",
        json!({"PolicyId": no_roles, "TargetId": member}),
    );
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = decide(&b, &admin, &member, "iam:CreateRole", None);
        if now["decision"] == "Allow" {
            break;
        }
        relay.assert_running();
        assert!(Instant::now() < deadline, "B never followed the detachment: {now}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A change to the member account after all the organization's events.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{member}:root")}, "Action": "sts:AssumeRole"}]});
    let made = gql(
        &a.address,
        &admin,
        "mutation($d: String!) { createRole(input: {roleName: \"after-org-events\", assumeRolePolicyDocument: $d}) { sequence } }",
        json!({"d": trust.to_string()}),
    );
    assert!(made.error_code().is_none(), "{}", made.body);

    let store = fixture.store();
    let log = fixture.log(&store);
    let on_topic = fixture.topic_events(&log, &mut relay);
    let org_events = on_topic
        .get(&organization)
        .unwrap_or_else(|| panic!("no event of {organization} on the topic"));
    assert!(organization.starts_with("o-"));
    assert!(
        org_events
            .iter()
            .any(|e| e.event_type == "organizations.policy.attached"),
        "{:?}",
        org_events.iter().map(|e| &e.event_type).collect::<Vec<_>>()
    );
    assert!(org_events.iter().all(|e| e.account_id == organization));

    // The projector reads the same topic: it passes over the organization's stream (its head
    // advances, nothing is stopped) and keeps the accounts' rows current after it.
    let mut projector = fixture.projector();
    fixture.assert_read_model_caught_up(&log, &store, &mut projector);

    drop((a, b, relay, projector));
}
