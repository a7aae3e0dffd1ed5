//! What an operator relies on, through a real `iamd`: liveness and readiness, Prometheus
//! metrics, and JSON logs whose every request line carries the request id and no secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use support::{gql, http_get, post_path, signed_headers_for, Server};

/// The value of the first sample of `metric` whose line contains every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(metric) && labels.iter().all(|l| line.contains(l)))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

#[test]
fn health_readiness_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    assert_eq!(http_get(&server.address, "/health/live"), (200, "ok".to_owned()));
    assert_eq!(http_get(&server.address, "/health/ready"), (200, "ready".to_owned()));
    let root = server.root_credentials();
    let account = server.account_id();
    gql(
        &server.address,
        &root,
        "mutation { createUser(input: {userName: \"alice\"}) { sequence } }",
        json!({}),
    )
    .data();
    let body =
        json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:GetObject"}).to_string();
    for _ in 0..3 {
        let headers = signed_headers_for(&server.address, "/v1/authorize", &root, &body, Utc::now());
        assert_eq!(post_path(&server.address, "/v1/authorize", &headers, &body).status, 200);
    }
    std::thread::sleep(Duration::from_millis(1_200));
    let (status, text) = http_get(&server.address, "/metrics");
    assert_eq!(status, 200);
    // The embedded read model keeps up (measured every second).
    assert!(
        sample(&text, "gatehouse_read_model_lag_events", &[]).is_some_and(|lag| lag >= 0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "gatehouse_decisions_total", &["effect=\"ImplicitDeny\""]),
        Some(3.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "gatehouse_http_requests_total",
            &["route=\"/v1/authorize\"", "status=\"200\""]
        ) >= Some(3.0)
    );
    assert!(
        sample(
            &text,
            "gatehouse_http_requests_total",
            &["route=\"/graphql\"", "status=\"200\""]
        ) >= Some(1.0)
    );
    assert!(
        sample(
            &text,
            "gatehouse_http_request_seconds_count",
            &["route=\"/v1/authorize\""]
        ) >= Some(3.0)
    );
    assert!(sample(&text, "gatehouse_event_append_seconds_count", &[]) >= Some(1.0));
    assert!(sample(&text, "gatehouse_audit_append_seconds_count", &[]) >= Some(4.0));
    assert!(sample(&text, "gatehouse_audit_backlog_records", &[]).is_some());
    // Metrics hold no tenant data: no account id, no principal.
    assert!(!text.contains(&account));
}

#[test]
fn json_logs_carry_the_request_id_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(dir.path(), &["--log-format", "json"], "info", Stdio::piped());
    let address = server.address.clone();
    let stderr = server.child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let root = server.root_credentials();
    let created = gql(
        &address,
        &root,
        "mutation { createUser(input: {userName: \"bob\"}) { sequence } } ",
        json!({}),
    );
    created.data();
    let key = gql(
        &address,
        &root,
        "mutation { createAccessKey(userName: \"bob\") { accessKey { secretAccessKey } } }",
        json!({}),
    );
    let secret = key.data()["createAccessKey"]["accessKey"]["secretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = iam_sigv4::Credentials {
        secret_access_key: "forged-secret-forged-secret-forged-secre".into(),
        ..root.clone()
    };
    assert_eq!(
        gql(&address, &forged, "{ callerIdentity { arn } }", json!({})).status,
        403
    );
    drop(server);
    let lines = lines.join().unwrap();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let in_requests: Vec<&Value> = parsed
        .iter()
        .filter(|line| {
            let message = line["fields"]["message"].as_str().unwrap_or_default();
            message.contains("graphql request") || message.contains("refused at authentication")
        })
        .collect();
    assert!(in_requests.len() >= 3, "{lines:?}");
    for line in &in_requests {
        let id = line["span"]["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request id: {line}"));
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }
    for line in &lines {
        assert!(!line.contains(&secret) && !line.contains(&root.secret_access_key) && !line.contains("forged-secret"));
    }
}
