//! The distributed audit history: two `iamd` replicas on one PostgreSQL log, both producing
//! their audit records to a Kafka topic of this test's own, and a real `audit-projector`
//! consuming it into PostgreSQL. A decision made through A and a management call made through B
//! are both in `auditEvents` through either replica within a bounded time; filters, pages and
//! counts agree between replicas; a redelivery of the whole topic changes no answer; a second
//! account never sees the first's records.
//!
//! Needs `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_KAFKA_BROKERS` and the `audit-projector` binary
//! beside this test's (`cargo build -p audit-projector`; scripts/distributed-test.sh does both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use sqlx::Connection;
use support::{gql, http_get, post_path, signed_headers_for, Server};

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: run scripts/distributed-test.sh"))
}

/// `<target>/<profile>/<name>`, or `GATEHOUSE_<NAME>_BIN`.
fn sibling_binary(name: &str) -> PathBuf {
    let variable = format!("GATEHOUSE_{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Ok(path) = std::env::var(&variable) {
        return PathBuf::from(path);
    }
    // This test runs as <target>/<profile>/deps/audit_kafka-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {name}` first (scripts/distributed-test.sh does), or set {variable}",
        path.display()
    );
    path
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;

fn ok(reply: support::Reply) -> Value {
    assert!(reply.error_code().is_none(), "{}", reply.body);
    reply.data().clone()
}

/// One page of `auditEvents`: `(nodes, endCursor, hasNextPage)`.
fn page(
    server: &Server,
    credentials: &Credentials,
    filter: &Value,
    first: u32,
    after: Option<&str>,
) -> (Vec<Value>, Option<String>, bool) {
    let data = ok(gql(
        &server.address,
        credentials,
        "query($f: AuditEventFilter, $n: Int, $a: String) { auditEvents(filter: $f, first: $n, after: $a) {
            pageInfo { endCursor hasNextPage }
            edges { node { eventID eventName eventSource decision action resourceArn errorCode
                requestParameters userIdentity { arn accountId } } } } }",
        json!({"f": filter, "n": first, "a": after}),
    ));
    let nodes = data["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let info = &data["auditEvents"]["pageInfo"];
    (
        nodes,
        info["endCursor"].as_str().map(str::to_owned),
        info["hasNextPage"].as_bool().unwrap(),
    )
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n["eventID"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of `filter`, `size` at a time, following the cursors.
fn all_pages(server: &Server, credentials: &Credentials, filter: &Value, size: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (nodes, end, more) = page(server, credentials, filter, size, after.as_deref());
        all.extend(nodes);
        if !more {
            return all;
        }
        after = end;
    }
}

fn counts(server: &Server, credentials: &Credentials, filter: &Value, group: &str) -> Value {
    ok(gql(
        &server.address,
        credentials,
        "query($f: AuditEventFilter, $g: AuditGroupBy!) { auditEventCounts(filter: $f, groupBy: $g) { value count } }",
        json!({"f": filter, "g": group}),
    ))["auditEventCounts"]
        .clone()
}

/// Polls until `filter` finds an event with `event_id` through `server`; returns how long it took.
fn wait_for_event(server: &Server, credentials: &Credentials, filter: &Value, event_id: &str) -> Duration {
    let started = Instant::now();
    loop {
        let (nodes, _, _) = page(server, credentials, filter, 50, None);
        if ids(&nodes).iter().any(|id| id == event_id) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{event_id} never became visible through {}",
            server.address
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(event_id, position)` of every stored record, by position.
async fn rows(admin: &mut sqlx::PgConnection, schema: &str) -> Vec<(String, i64)> {
    sqlx::query_as(&format!(
        "SELECT event_id, position FROM {schema}.audit_events ORDER BY position"
    ))
    .fetch_all(admin)
    .await
    .unwrap()
}

/// A time before which every record of `credentials`' account is queryable: records of one
/// account share a partition and each request's record was acknowledged before the next
/// request began, so once a marker made after the time is visible, everything before it is.
fn settled(server: &Server, credentials: &Credentials) -> String {
    let cut = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(2));
    let name = format!("marker-{}", uuid::Uuid::now_v7().simple());
    ok(gql(
        &server.address,
        credentials,
        "mutation($n: String!) { createGroup(input: {groupName: $n}) { sequence } }",
        json!({"n": name}),
    ));
    let filter = json!({"eventName": "CreateGroup"});
    let started = Instant::now();
    loop {
        let (nodes, _, _) = page(server, credentials, &filter, 100, None);
        if nodes.iter().any(|n| n["requestParameters"].to_string().contains(&name)) {
            return cut.to_rfc3339();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "marker {name} never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real `audit-projector` on this test's schema and topic, killed with SIGKILL when dropped,
/// with its metrics on `metrics` (an address).
struct Projector(Child, String);

/// A port nobody listens on now.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

impl Projector {
    fn start(url: &str, brokers: &str, schema: &str, topic: &str) -> Projector {
        let metrics = free_address();
        Projector(
            Command::new(sibling_binary("audit-projector"))
                .env("GATEHOUSE_METRICS_LISTEN", &metrics)
                .env("GATEHOUSE_DATABASE_URL", url)
                .env("GATEHOUSE_KAFKA_BROKERS", brokers)
                .env("GATEHOUSE_AUDIT_SCHEMA", schema)
                .env("GATEHOUSE_AUDIT_TOPIC", topic)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
            metrics,
        )
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test's own PostgreSQL schema and audit topic, on the servers the environment names.
struct Fresh {
    url: String,
    brokers: String,
    schema: String,
    topic: String,
    runtime: tokio::runtime::Runtime,
}

impl Fresh {
    fn new(prefix: &str, partitions: i32) -> Fresh {
        let url = env("GATEHOUSE_DATABASE_URL");
        let brokers = env("GATEHOUSE_KAFKA_BROKERS");
        let id = uuid::Uuid::now_v7().simple().to_string();
        let schema = format!("{prefix}_{id}");
        let topic = format!("gatehouse.audit.test.{id}");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut admin)
                .await
                .unwrap();
            iam_audit_kafka::create_topic(&brokers, &topic, partitions)
                .await
                .unwrap();
        });
        Fresh {
            url,
            brokers,
            schema,
            topic,
            runtime,
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
fn every_replica_sees_every_replicas_audit_records_and_tenants_stay_apart() {
    let Fresh {
        url,
        brokers,
        schema,
        topic,
        runtime,
    } = Fresh::new("iamd_a", 8);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shared = [
        "--database-url",
        url.as_str(),
        "--events-schema",
        schema.as_str(),
        "--kafka-brokers",
        brokers.as_str(),
        "--audit-topic",
        topic.as_str(),
    ];
    let a = Server::start_with(dir_a.path(), &shared);
    let key = dir_a.path().join("master.key");
    let mut with_key = shared.to_vec();
    with_key.extend(["--master-key-file", key.to_str().unwrap()]);
    let b = Server::start_with(dir_b.path(), &with_key);
    let projector = Projector::start(&url, &brokers, &schema, &topic);
    let root = a.root_credentials();
    let account = a.account_id();

    // Management calls through A, then a decision through A.
    ok(gql(
        &a.address,
        &root,
        "mutation { createUser(input: {userName: \"alice\"}) { sequence } }",
        json!({}),
    ));
    let put = ok(gql(
        &a.address,
        &root,
        "mutation($d: String!) { putUserPolicy(input: {userName: \"alice\", policyName: \"reports\", policyDocument: $d}) { sequence } }",
        json!({"d": POLICY}),
    ));
    let sequence = put["putUserPolicy"]["sequence"].as_u64().unwrap();
    let ask = json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:GetObject",
        "resource": "arn:aws:s3:::reports/q3.pdf", "minSequence": sequence});
    let body = ask.to_string();
    let headers = signed_headers_for(&a.address, "/v1/authorize", &root, &body, chrono::Utc::now());
    let decided = post_path(&a.address, "/v1/authorize", &headers, &body);
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(decided.body["decision"], "Allow", "{}", decided.body);

    // A management call through B.
    ok(gql(
        &b.address,
        &root,
        "mutation { createUser(input: {userName: \"carol\"}) { sequence } }",
        json!({}),
    ));

    // Both are visible through both replicas, soon.
    let decisions = json!({"eventName": "Authorize", "decision": "Allow", "action": "s3:GetObject"});
    let creates = json!({"eventName": "CreateUser"});
    let decision_id = {
        let started = Instant::now();
        loop {
            let (nodes, _, _) = page(&b, &root, &decisions, 10, None);
            if let Some(node) = nodes.first() {
                assert_eq!(node["resourceArn"], "arn:aws:s3:::reports/q3.pdf");
                break node["eventID"].as_str().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "A's decision never reached B"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for_event(&a, &root, &decisions, &decision_id);
    let (through_a, _, _) = {
        let started = Instant::now();
        loop {
            let found = page(&a, &root, &creates, 10, None);
            if found.0.len() == 2 {
                break found;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "B's CreateUser never reached A"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let principals: Vec<&str> = through_a.iter().map(|n| n["eventName"].as_str().unwrap()).collect();
    assert_eq!(principals, ["CreateUser", "CreateUser"]);
    let (through_b, _, _) = page(&b, &root, &creates, 10, None);
    assert_eq!(
        ids(&through_a),
        ids(&through_b),
        "newest first, the same through both replicas"
    );

    // Pages of two follow the cursors to exactly the one-page answer, through either replica.
    // (Queries are audited too: a window that ends before a settled time keeps the answer fixed.)
    let everything = json!({"to": settled(&a, &root)});
    let one_page = page(&a, &root, &everything, 1000, None).0;
    assert!(one_page.len() >= 5, "{one_page:?}");
    assert_eq!(ids(&all_pages(&a, &root, &everything, 2)), ids(&one_page));
    assert_eq!(ids(&all_pages(&b, &root, &everything, 2)), ids(&one_page));
    let unique: HashSet<String> = ids(&one_page).into_iter().collect();
    assert_eq!(unique.len(), one_page.len(), "no record twice");
    assert!(one_page
        .iter()
        .all(|n| n["userIdentity"]["accountId"] == account.as_str()));
    assert_eq!(
        counts(&a, &root, &creates, "EVENT_NAME"),
        json!([{"value": "CreateUser", "count": 2}])
    );
    assert_eq!(
        counts(&a, &root, &json!({"eventSource": "authz.gatehouse.dev"}), "DECISION"),
        counts(&b, &root, &json!({"eventSource": "authz.gatehouse.dev"}), "DECISION")
    );

    // Operators see it: the projector's consumption and lag, the replica's readiness (its
    // brokers answer) and its audit metrics.
    let (status, text) = http_get(&projector.1, "/metrics");
    assert_eq!(status, 200);
    let consumed: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_audit_projector_consumed_messages "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(consumed >= 5, "{text}");
    assert!(text.contains("gatehouse_audit_projector_lag_messages"));
    assert_eq!(http_get(&a.address, "/health/ready"), (200, "ready".to_owned()));
    let (_, replica) = http_get(&a.address, "/metrics");
    assert!(replica.contains("gatehouse_audit_backlog_records"), "{replica}");
    assert!(
        replica.contains("gatehouse_decisions_total{effect=\"Allow\"} 1"),
        "{replica}"
    );

    // A second account: its records are its own, and neither sees the other's.
    let created = ok(gql(
        &b.address,
        &root,
        "mutation { createAccount(accountAlias: \"second\") { accountId rootAccessKey { accessKeyId secretAccessKey } } }",
        json!({}),
    ));
    let other_account = created["createAccount"]["accountId"].as_str().unwrap().to_owned();
    let other = Credentials {
        access_key_id: created["createAccount"]["rootAccessKey"]["accessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret_access_key: created["createAccount"]["rootAccessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        session_token: None,
    };
    // A may learn of the new account's key only from the log: wait until it knows it.
    let started = Instant::now();
    let dave = loop {
        let reply = gql(
            &a.address,
            &other,
            "mutation { createUser(input: {userName: \"dave\"}) { sequence } }",
            json!({}),
        );
        if reply.error_code().is_none() {
            break reply;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{}", reply.body);
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(dave);
    let other_creates = {
        let started = Instant::now();
        loop {
            let (nodes, _, _) = page(&b, &other, &creates, 10, None);
            if !nodes.is_empty() {
                break nodes;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "dave's record never arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(other_creates.len(), 1);
    let theirs = all_pages(&a, &other, &json!({}), 3);
    assert!(
        theirs
            .iter()
            .all(|n| n["userIdentity"]["accountId"] == other_account.as_str()),
        "{theirs:?}"
    );
    let mine: HashSet<String> = ids(&all_pages(&a, &root, &json!({}), 3)).into_iter().collect();
    assert!(ids(&theirs).iter().all(|id| !mine.contains(id)));
    assert!(!mine.contains(other_creates[0]["eventID"].as_str().unwrap()));
    // A filter naming the first account's principal finds nothing in the second.
    let crossing = json!({"principalArn": format!("arn:aws:iam::{account}:root")});
    assert!(page(&b, &other, &crossing, 10, None).0.is_empty());

    // Redelivery of the whole topic changes no answer and inserts nothing.
    let window = json!({"to": settled(&a, &root)});
    let before = all_pages(&a, &root, &window, 1000);
    drop(projector);
    let projector = runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let stored = rows(&mut admin, &schema).await;
        let offsets = format!("SELECT sum(next_offset)::bigint FROM {schema}.audit_kafka_offsets");
        let consumed: i64 = sqlx::query_scalar(&offsets).fetch_one(&mut admin).await.unwrap();
        sqlx::query(&format!("UPDATE {schema}.audit_kafka_offsets SET next_offset = 0"))
            .execute(&mut admin)
            .await
            .unwrap();
        let projector = Projector::start(&url, &brokers, &schema, &topic);
        let started = Instant::now();
        loop {
            let now: i64 = sqlx::query_scalar(&offsets).fetch_one(&mut admin).await.unwrap();
            if now >= consumed {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redelivery stuck at {now} of {consumed}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Rows inserted since are new records (later queries), never an old one again.
        let last = stored.last().map_or(0, |(_, p)| *p);
        let again = rows(&mut admin, &schema).await;
        let (old, new): (Vec<_>, Vec<_>) = again.into_iter().partition(|(_, p)| *p <= last);
        assert_eq!(old, stored, "a redelivered record changed a row");
        let known: HashSet<&String> = stored.iter().map(|(id, _)| id).collect();
        assert!(
            new.iter().all(|(id, _)| !known.contains(id)),
            "a redelivered record was inserted twice"
        );
        projector
    });
    assert_eq!(
        all_pages(&a, &root, &window, 1000),
        before,
        "a redelivered topic changed the history"
    );
    drop(projector);
    drop((a, b));
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut admin)
            .await;
    });
}

/// The distributed history is tamper-evident end to end: two replicas sharing one signing key
/// file produce records to Kafka, the projector chains them in PostgreSQL, a digest made through
/// either replica signs what is stored, and `iamctl audit verify` through the other finds it
/// intact; a record edited in PostgreSQL afterwards is named.
#[test]
#[ignore = "needs PostgreSQL and Kafka: run by scripts/distributed-test.sh"]
fn the_distributed_history_is_chained_signed_and_verified() {
    let Fresh {
        url,
        brokers,
        schema,
        topic,
        runtime,
    } = Fresh::new("iamd_c", 4);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let signing_key = dir_a.path().join("audit-signing.key");
    let master_key = dir_a.path().join("master.key");
    let flags = [
        "--database-url",
        url.as_str(),
        "--events-schema",
        schema.as_str(),
        "--kafka-brokers",
        brokers.as_str(),
        "--audit-topic",
        topic.as_str(),
        "--audit-signing-key-file",
        signing_key.to_str().unwrap(),
        "--audit-digest-interval",
        "0",
    ];
    let a = Server::start_with(dir_a.path(), &flags);
    let mut with_master = flags.to_vec();
    with_master.extend(["--master-key-file", master_key.to_str().unwrap()]);
    let b = Server::start_with(dir_b.path(), &with_master);
    let _projector = Projector::start(&url, &brokers, &schema, &topic);
    let root = a.root_credentials();

    for (server, name) in [(&a, "alice"), (&b, "carol"), (&a, "dave")] {
        ok(gql(
            &server.address,
            &root,
            "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }",
            json!({"n": name}),
        ));
    }
    // A decision through A, allowed by alice's inline policy.
    let put = ok(gql(
        &a.address,
        &root,
        "mutation($d: String!) { putUserPolicy(input: {userName: \"alice\", policyName: \"reports\", policyDocument: $d}) { sequence } }",
        json!({"d": POLICY}),
    ));
    let account = a.account_id();
    let ask = json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:GetObject",
        "resource": "arn:aws:s3:::reports/q4.pdf", "minSequence": put["putUserPolicy"]["sequence"]});
    let body = ask.to_string();
    let headers = signed_headers_for(&a.address, "/v1/authorize", &root, &body, chrono::Utc::now());
    let decided = post_path(&a.address, "/v1/authorize", &headers, &body);
    assert_eq!(decided.body["decision"], "Allow", "{}", decided.body);
    settled(&b, &root);

    // The compliance views read the distributed history like the embedded one: the decision
    // replays to itself through the other replica, and removing the policy is previewed to deny it.
    let check = ok(gql(
        &b.address,
        &root,
        "query { auditReplayCheck { checked matched mismatches { eventID } } }",
        json!({}),
    ));
    assert_eq!(check["auditReplayCheck"]["checked"], 1, "{check}");
    assert_eq!(check["auditReplayCheck"]["matched"], 1, "{check}");
    let preview = ok(gql(
        &b.address,
        &root,
        "query { previewChange(changes: [{userPolicy: {principalName: \"alice\", policyName: \"reports\"}}]) { decisions allowToDeny } }",
        json!({}),
    ));
    assert_eq!(preview["previewChange"]["decisions"], 1, "{preview}");
    assert_eq!(preview["previewChange"]["allowToDeny"], 1, "{preview}");
    let digests = ok(gql(&b.address, &root, "mutation { createAuditDigest }", json!({})));
    let digest: Value = serde_json::from_str(digests["createAuditDigest"][0].as_str().unwrap()).unwrap();
    assert!(digest["chainSequence"].as_u64().unwrap() >= 4, "{digest}");
    assert!(digest["eventSequence"].as_u64().unwrap() >= 3, "{digest}");

    let verify = |server: &Server| {
        let output = Command::new(support::iamctl_binary())
            .args(["audit", "verify", "--endpoint", &format!("http://{}", server.address)])
            .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_SHARED_CREDENTIALS_FILE", dir_b.path().join("none"))
            .env("AWS_CONFIG_FILE", dir_b.path().join("none"))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code(), report)
    };
    let (code, report) = verify(&a);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        report["lastValidDigest"]["chainSequence"], digest["chainSequence"],
        "{report}"
    );
    assert_eq!(report["eventLog"]["intact"], true, "{report}");

    // An attacker with the database's password edits carol's record.
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let changed = sqlx::query(&format!(
            "UPDATE {schema}.audit_events SET record = replace(record, 'carol', 'caro1') \
             WHERE event_name = 'CreateUser' AND record LIKE '%carol%'"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
        assert_eq!(changed.rows_affected(), 1);
    });
    let (code, report) = verify(&b);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["problem"]["kind"], "EDITED", "{report}");
}
