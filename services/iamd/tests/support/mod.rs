//! A real `iamd` process on a temporary data directory, and a SigV4-signing GraphQL client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use iam_sigv4::{sign, Credentials, HttpRequest, PayloadSigning, SigningMode, SigningParams, UriPathMode};
use serde_json::{json, Value};

pub struct Server {
    pub child: Child,
    pub address: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `iamd` and waits until it says where it listens.
    ///
    /// With `GATEHOUSE_E2E_DATABASE_URL` set (`scripts/distributed-test.sh` sets it for the
    /// end-to-end suites), the server runs in the distributed mode instead: its event log is
    /// PostgreSQL, in a schema of its own named after the data directory (so a restart on the
    /// same directory finds the same log).
    pub fn start(data_dir: &Path) -> Server {
        match std::env::var("GATEHOUSE_E2E_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self::start_with(data_dir, &[]),
            Some(url) => {
                let schema = distributed_schema(&url, data_dir);
                Self::start_with(
                    data_dir,
                    &["--database-url", url.as_str(), "--events-schema", schema.as_str()],
                )
            }
        }
    }

    /// [`Server::start`] (embedded, or distributed with `GATEHOUSE_E2E_DATABASE_URL`) with more
    /// flags.
    #[allow(dead_code)] // not every test binary uses it
    pub fn start_adding(data_dir: &Path, extra: &[&str]) -> Server {
        match std::env::var("GATEHOUSE_E2E_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self::start_with(data_dir, extra),
            Some(url) => {
                let schema = distributed_schema(&url, data_dir);
                let mut flags = vec!["--database-url", url.as_str(), "--events-schema", schema.as_str()];
                flags.extend_from_slice(extra);
                Self::start_with(data_dir, &flags)
            }
        }
    }

    /// [`Server::start`] (embedded, or distributed with `GATEHOUSE_E2E_DATABASE_URL`), logging at
    /// debug level into the file `log`.
    #[allow(dead_code)] // not every test binary uses it
    pub fn start_logging(data_dir: &Path, log: &Path) -> Server {
        let file = std::fs::File::create(log).unwrap();
        match std::env::var("GATEHOUSE_E2E_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self::spawn(data_dir, &[], "debug", Stdio::from(file)),
            Some(url) => {
                let schema = distributed_schema(&url, data_dir);
                Self::spawn(
                    data_dir,
                    &["--database-url", url.as_str(), "--events-schema", schema.as_str()],
                    "debug",
                    Stdio::from(file),
                )
            }
        }
    }

    /// [`Server::start`] with more flags.
    pub fn start_with(data_dir: &Path, flags: &[&str]) -> Server {
        Self::spawn(data_dir, flags, "warn", Stdio::null())
    }

    /// [`Server::start_with`] logging at `log_filter` (`RUST_LOG`) to `stderr` (take
    /// `child.stderr` when it is piped).
    pub fn spawn(data_dir: &Path, flags: &[&str], log_filter: &str, stderr: Stdio) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iamd"))
            .args(["--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(flags)
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines.next().expect("iamd exited before listening").unwrap();
            if let Some(rest) = line.strip_prefix("iamd listening on http://") {
                break rest.split(';').next().unwrap().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            address,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// The root credentials written on first start.
    pub fn root_credentials(&self) -> Credentials {
        let text = std::fs::read_to_string(self.data_dir.join("root-credentials")).unwrap();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)
                        .map(|v| v.trim_start_matches([' ', '=']).trim().to_string())
                })
                .unwrap()
        };
        Credentials {
            access_key_id: field("aws_access_key_id"),
            secret_access_key: field("aws_secret_access_key"),
            session_token: None,
        }
    }

    /// The account of the root credentials, as `callerIdentity` reports it.
    pub fn account_id(&self) -> String {
        let reply = gql(
            &self.address,
            &self.root_credentials(),
            "{ callerIdentity { account } }",
            json!({}),
        );
        reply.data()["callerIdentity"]["account"].as_str().unwrap().to_owned()
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "iamd did not stop cleanly: {status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response: status and JSON body.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// Response headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// `extensions.code` of the first error, if any.
    pub fn error_code(&self) -> Option<String> {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_string)
    }

    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn data(&self) -> &Value {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.body);
        &self.body["data"]
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `GET http://<address><path>`: the status and the body as text.
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut response = agent().get(format!("http://{address}{path}")).call().unwrap();
    let status = response.status().as_u16();
    let mut text = String::new();
    response.body_mut().as_reader().read_to_string(&mut text).unwrap();
    (status, text)
}

/// POSTs `body` to `/graphql` with the given headers.
pub fn post(address: &str, headers: &[(String, String)], body: &str) -> Reply {
    post_path(address, "/graphql", headers, body)
}

/// POSTs `body` to `path` with the given headers.
pub fn post_path(address: &str, path: &str, headers: &[(String, String)], body: &str) -> Reply {
    try_post_path(address, path, headers, body).unwrap()
}

/// [`post_path`], or the transport error (a server may close the connection on a body it
/// refuses before it has read all of it).
pub fn try_post_path(
    address: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<Reply, ureq::Error> {
    let mut request = agent().post(format!("http://{address}{path}"));
    for (name, value) in headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let mut response = request.send(body)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut text = String::new();
    response.body_mut().as_reader().read_to_string(&mut text).unwrap();
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    })
}

/// Signs a GraphQL request as the AWS SDKs do (header form, service `iam`).
pub fn signed_headers(
    address: &str,
    credentials: &Credentials,
    body: &str,
    time: DateTime<Utc>,
) -> Vec<(String, String)> {
    signed_headers_for(address, "/graphql", credentials, body, time)
}

/// Signs a POST to `path` as the AWS SDKs do (header form, service `iam`).
pub fn signed_headers_for(
    address: &str,
    path: &str,
    credentials: &Credentials,
    body: &str,
    time: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut request = HttpRequest::new("POST", path, "")
        .with_header("host", address)
        .with_header("content-type", "application/json")
        .with_body(body.as_bytes().to_vec());
    sign(
        &mut request,
        &SigningParams {
            credentials,
            region: "us-east-1",
            service: "iam",
            time,
            mode: SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
            uri_path: UriPathMode::Normalized,
            sign_session_token: true,
        },
    )
    .unwrap();
    request.headers
}

/// Runs a GraphQL operation signed with `credentials`.
pub fn gql(address: &str, credentials: &Credentials, query: &str, variables: Value) -> Reply {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let headers = signed_headers(address, credentials, &body, Utc::now());
    post(address, &headers, &body)
}

/// The PostgreSQL schema of a distributed-mode server on `data_dir`, created on first use.
fn distributed_schema(url: &str, data_dir: &Path) -> String {
    use sqlx::Connection;
    let marker = data_dir.join(".e2e-schema");
    if let Ok(schema) = std::fs::read_to_string(&marker) {
        return schema;
    }
    let schema = format!("e2e_{}", uuid::Uuid::now_v7().simple());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut db)
            .await
            .unwrap();
    });
    std::fs::write(&marker, &schema).unwrap();
    schema
}

/// Runs the Python script `tests/<script>` with the interpreter named by `GATEHOUSE_PYTHON` (the
/// venv with botocore that `./scripts/test.sh` makes), `spec` on its stdin (secrets never go on
/// the command line), and returns the JSON it prints.
pub fn run_python(script: &str, spec: &Value) -> Value {
    use std::io::Write;
    let python = std::env::var_os("GATEHOUSE_PYTHON").unwrap_or_else(|| {
        panic!(
            "GATEHOUSE_PYTHON is not set: run the tests with ./scripts/test.sh, which creates \
             target/pyenv with botocore and exports GATEHOUSE_PYTHON"
        )
    });
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run GATEHOUSE_PYTHON={python:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Makes `calls` (`(service, operation, params)`) against `server` through botocore's own clients
/// (`aws_sdk_client.py`): one `{"response"}` or `{"error": {"code", "message", "status"}}` each.
///
/// Every answer must also conform to AWS's service model (required members present, each of its
/// shape's type, enum values, `Marker` exactly when `IsTruncated`, no element the model lacks):
/// the script reports what does not as `shape_problems`, and any problem fails the test here.
pub fn botocore_calls(server: &Server, credentials: &Credentials, calls: &[(&str, &str, Value)]) -> Vec<Value> {
    let spec = json!({
        "endpoint": format!("http://{}", server.address),
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "session_token": credentials.session_token,
        "calls": calls.iter().map(|(service, operation, params)| json!({"service": service, "operation": operation, "params": params})).collect::<Vec<_>>(),
    });
    let mut results: Vec<Value> = serde_json::from_value(run_python("aws_sdk_client.py", &spec)).unwrap();
    let problems: Vec<String> = results
        .iter_mut()
        .zip(calls)
        .enumerate()
        .flat_map(|(i, (result, (service, operation, _)))| {
            let found = result
                .as_object_mut()
                .and_then(|r| r.remove("shape_problems"))
                .expect("aws_sdk_client.py reports shape_problems for every call");
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|p| format!("call {i} ({service} {operation}): {}", p.as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        problems.is_empty(),
        "answers that do not conform to AWS's model:\n{}",
        problems.join("\n")
    );
    results
}

/// The `shape_problems` a script that checks answers with `aws_sdk_client.Conformance` printed
/// (under `key`), asserted empty.
pub fn assert_conforms(output: &Value, key: &str) {
    let problems: Vec<&str> = output[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} list in {output}"))
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.is_empty(),
        "answers that do not conform to AWS's model:\n{}",
        problems.join("\n")
    );
}

/// A raw AWS wire request: `body` POSTed to `/` with `headers` (content type, `X-Amz-Target`,
/// ...), SigV4-signed for `service` as the SDKs sign it. For requests no SDK would send.
pub fn aws_wire(
    server: &Server,
    credentials: &Credentials,
    service: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let signed = wire_headers(server, credentials, service, headers, body);
    post_path(&server.address, "/", &signed, body)
}

/// [`aws_wire`] for a body the server may refuse before reading it all: the reply, or `None`
/// when the server closed the connection first.
pub fn try_aws_wire(
    server: &Server,
    credentials: &Credentials,
    service: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Reply> {
    let signed = wire_headers(server, credentials, service, headers, body);
    try_post_path(&server.address, "/", &signed, body).ok()
}

fn wire_headers(
    server: &Server,
    credentials: &Credentials,
    service: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<(String, String)> {
    let mut request = HttpRequest::new("POST", "/", "")
        .with_header("host", &server.address)
        .with_body(body.as_bytes().to_vec());
    for (name, value) in headers {
        request = request.with_header(*name, *value);
    }
    sign(
        &mut request,
        &SigningParams {
            credentials,
            region: "us-east-1",
            service,
            time: Utc::now(),
            mode: SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
            uri_path: UriPathMode::Normalized,
            sign_session_token: true,
        },
    )
    .unwrap();
    request.headers
}

/// `<Code>` of a query-protocol error document.
pub fn xml_error_code(reply: &Reply) -> Option<String> {
    let text = reply.body.as_str()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].to_owned())
}

/// `iamctl`, built by this workspace's test run (built here if a narrower run skipped it).
pub fn iamctl_binary() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_iamd")).parent().unwrap().to_path_buf();
    let path = dir.join("iamctl");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "iamctl"])
            .status()
            .unwrap();
        assert!(status.success());
    }
    path
}

/// A new access key of `user_name`, made by `credentials` through GraphQL.
pub fn access_key(address: &str, credentials: &Credentials, user_name: &str) -> Credentials {
    let reply = gql(
        address,
        credentials,
        "mutation($u: String!) { createAccessKey(userName: $u) { accessKey { accessKeyId secretAccessKey } } }",
        json!({"u": user_name}),
    );
    let key = &reply.data()["createAccessKey"]["accessKey"];
    Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    }
}

/// RFC 6238 codes of `seed` (Base32) at `steps`, from Python's hmac and hashlib: an
/// implementation independent of the server's.
#[allow(dead_code)] // not every test binary uses it
pub fn totp(seed: &str, steps: &[u64]) -> Vec<String> {
    let python = std::env::var("GATEHOUSE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = r#"
import base64, hashlib, hmac, struct, sys
seed = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
for step in sys.argv[2:]:
    mac = hmac.new(seed, struct.pack(">Q", int(step)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    print("%06d" % (number % 1000000))
"#;
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(seed)
        .args(steps.iter().map(u64::to_string))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The current 30-second step, after waiting out the current one if it ends within `margin`
/// seconds (so a test's codes stay inside one window).
#[allow(dead_code)] // not every test binary uses it
pub fn fresh_step(margin: u64) -> u64 {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    if 30 - now() % 30 < margin {
        std::thread::sleep(std::time::Duration::from_secs(30 - now() % 30));
    }
    now() / 30
}
