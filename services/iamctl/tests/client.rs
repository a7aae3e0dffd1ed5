//! `iamctl graphql` as a process against a one-shot HTTP server on a loopback port: the request
//! on the wire is signed, and the response decides stdout and the exit code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread::JoinHandle;

use iam_sigv4::{parse_authorization, verify, HttpRequest, VerifyPolicy};

const ACCESS_KEY_ID: &str = "AKIDGATEHOUSETEST";
const SECRET: &str = "c2VjcmV0LW9mLXRoZS10ZXN0LWtleQ+/=";

/// A server that accepts one connection, hands back the request it read and answers `body`.
fn serve_once(status: &'static str, body: &'static str) -> (String, JoinHandle<HttpRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
        let mut request = HttpRequest::from_target(method, target);
        let mut content_length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap();
            }
            request.headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut payload = vec![0; content_length];
        reader.read_exact(&mut payload).unwrap();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        reader.get_mut().write_all(response.as_bytes()).unwrap();
        request.with_body(payload)
    });
    (endpoint, handle)
}

/// Runs iamctl with only the given environment (no proxies, no home directory files).
fn iamctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_iamctl"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

const KEYS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", SECRET),
    ("AWS_REGION", "eu-west-1"),
];

#[test]
fn posts_a_signed_query_and_prints_the_response() {
    let (endpoint, server) = serve_once("200 OK", r#"{"data":{"me":{"arn":"arn:aws:iam::123456789012:root"}}}"#);
    let out = iamctl(
        &[
            "graphql",
            "--endpoint",
            &endpoint,
            "--query",
            "query($n: Int) { me { arn } }",
            "--variables",
            r#"{"n": 1}"#,
        ],
        &KEYS,
    );
    let request = server.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");

    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/graphql"));
    let authorization = request.header_values("authorization").next().unwrap();
    let prefix = format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/");
    assert!(authorization.starts_with(&prefix), "{authorization}");
    assert!(
        authorization.contains("/eu-west-1/iam/aws4_request, "),
        "{authorization}"
    );
    assert_eq!(
        request.header_values("host").collect::<Vec<_>>(),
        [&endpoint["http://".len()..]]
    );
    let claim = parse_authorization(&request).unwrap();
    let now = chrono::Utc::now();
    verify(
        &request,
        &claim,
        SECRET,
        "eu-west-1",
        "iam",
        now,
        &VerifyPolicy::default(),
    )
    .unwrap();
    let iam_sigv4::Payload::Bytes(body) = &request.payload else {
        panic!("the server keeps bytes")
    };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"query": "query($n: Int) { me { arn } }", "variables": {"n": 1}})
    );

    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "{\n  \"data\": {\n    \"me\": {\n      \"arn\": \"arn:aws:iam::123456789012:root\"\n    }\n  }\n}\n"
    );
    assert!(!stderr.contains(SECRET));
}

#[test]
fn graphql_errors_are_printed_and_exit_with_1() {
    let (endpoint, server) = serve_once(
        "200 OK",
        r#"{"data":null,"errors":[{"message":"not authorized","extensions":{"code":"AccessDenied"}}]}"#,
    );
    let out = iamctl(
        &["graphql", "--endpoint", &endpoint, "--query", "{ users { name } }"],
        &KEYS,
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout["errors"][0]["extensions"]["code"], "AccessDenied");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "iamctl: the response carries 1 error\n"
    );
}

#[test]
fn missing_credentials_are_malformed_input_and_say_where_they_were_looked_for() {
    let out = iamctl(
        &[
            "graphql",
            "--endpoint",
            "http://127.0.0.1:9",
            "--query",
            "{ me { arn } }",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no credentials found for profile `default`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("AWS_ACCESS_KEY_ID") && stderr.contains(".aws/credentials"),
        "{stderr}"
    );
}

#[test]
fn bad_variables_are_malformed_input() {
    let out = iamctl(
        &[
            "graphql",
            "--endpoint",
            "http://127.0.0.1:9",
            "--query",
            "{ a }",
            "--variables",
            "{oops",
        ],
        &KEYS,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`--variables` is not valid JSON"));
}
