//! One keep-alive HTTP/1.1 connection per worker, SigV4 signing of every request (timed, so a
//! run can say what signing costs the client), and on top the GraphQL call and the IAM
//! query-protocol call (`POST /`, a form-encoded `Action=...`, an XML answer). Like the AWS SDKs,
//! the signer keeps each key's derived signing key for the day rather than deriving it for every
//! request; every request still gets its own canonical request, string to sign and signature.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use iam_sigv4::{
    sign_with_key, CredentialScope, Credentials, HttpRequest, PayloadSigning, SigningKeyCache, SigningMode,
    SigningParams, UriPathMode,
};
use serde_json::{json, Value};

use crate::target::Target;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("gatehouse-loadtest/", env!("CARGO_PKG_VERSION"));

/// How long one request may take before it counts as a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

static SIGNATURES: AtomicU64 = AtomicU64::new(0);
static SIGNING_NANOS: AtomicU64 = AtomicU64::new(0);

/// Signatures computed so far and the time spent computing them.
pub fn signing_cost() -> (u64, Duration) {
    (
        SIGNATURES.load(Ordering::Relaxed),
        Duration::from_nanos(SIGNING_NANOS.load(Ordering::Relaxed)),
    )
}

/// Derived signing keys of the generator's credentials, kept for the day as the SDKs do.
static SIGNING_KEYS: std::sync::LazyLock<SigningKeyCache> = std::sync::LazyLock::new(SigningKeyCache::default);

/// Signs a JSON POST as the AWS SDKs do (header form, service `iam`, region `us-east-1`) at the
/// current time, and returns the headers to send (`host` included).
///
/// # Errors
/// A signing failure (malformed credentials).
pub fn signed_headers(
    host: &str,
    path: &str,
    body: &[u8],
    credentials: &Credentials,
) -> anyhow::Result<Vec<(String, String)>> {
    signed_headers_for(host, path, "application/json", body, credentials)
}

/// [`signed_headers`] for a body of any `content-type` (signed too, as botocore signs it).
///
/// # Errors
/// A signing failure (malformed credentials).
pub fn signed_headers_for(
    host: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    credentials: &Credentials,
) -> anyhow::Result<Vec<(String, String)>> {
    signed_headers_as("iam", host, path, content_type, body, credentials)
}

/// [`signed_headers_for`] signed for `service` (`iam`, `sts`). Session credentials
/// (`session_token`) add `X-Amz-Security-Token`, signed in as botocore signs it.
///
/// # Errors
/// A signing failure (malformed credentials).
pub fn signed_headers_as(
    service: &str,
    host: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    credentials: &Credentials,
) -> anyhow::Result<Vec<(String, String)>> {
    let started = Instant::now();
    let time = chrono::Utc::now();
    let scope = CredentialScope::new(time.date_naive(), "us-east-1", service);
    let key = SIGNING_KEYS
        .get_or_derive(&credentials.access_key_id, &scope, || {
            Some(&credentials.secret_access_key)
        })
        .ok_or_else(|| anyhow::anyhow!("signing: no secret"))?;
    let mut request = HttpRequest::new("POST", path, "")
        .with_header("host", host)
        .with_header("content-type", content_type)
        .with_body(body.to_vec());
    sign_with_key(
        &mut request,
        &SigningParams {
            credentials,
            region: "us-east-1",
            service,
            time,
            mode: SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
            uri_path: UriPathMode::Normalized,
            sign_session_token: true,
        },
        &key,
    )
    .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    SIGNING_NANOS.fetch_add(nanos, Ordering::Relaxed);
    SIGNATURES.fetch_add(1, Ordering::Relaxed);
    Ok(request.headers)
}

/// A transport-level failure, named for the error table.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The TCP connection or the HTTP handshake failed.
    Connect(String),
    /// The request could not be sent or its response read.
    Io(String),
    /// No response within [`REQUEST_TIMEOUT`].
    Timeout,
}

impl CallError {
    /// The key in the error table.
    pub fn label(&self) -> String {
        match self {
            CallError::Connect(_) => "connect".into(),
            CallError::Io(_) => "io".into(),
            CallError::Timeout => "timeout".into(),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect(m) => write!(f, "connecting: {m}"),
            CallError::Io(m) => write!(f, "sending or reading: {m}"),
            CallError::Timeout => write!(f, "no response within {}s", REQUEST_TIMEOUT.as_secs()),
        }
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// One keep-alive connection, (re)opened on demand.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// How many times this connection was (re)opened.
    pub connects: u64,
}

impl Conn {
    /// A connection to `target`, opened at the first request.
    pub fn new(target: Arc<Target>) -> Conn {
        Conn {
            target,
            sender: None,
            connects: 0,
        }
    }

    /// The server's `Host`.
    pub fn host(&self) -> &str {
        &self.target.host
    }

    async fn open(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, CallError> {
        if self.sender.as_ref().is_some_and(SendRequest::is_closed) {
            self.sender = None;
        }
        if self.sender.is_none() {
            let stream = tokio::net::TcpStream::connect(self.target.addr)
                .await
                .map_err(|e| CallError::Connect(e.to_string()))?;
            stream
                .set_nodelay(true)
                .map_err(|e| CallError::Connect(e.to_string()))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| CallError::Connect(e.to_string()))?;
            tokio::spawn(async move {
                // Ends when the server closes or the sender is dropped; errors show on the sender.
                let _ = connection.await;
            });
            self.connects += 1;
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| CallError::Connect("no connection".into()))
    }

    /// POSTs `body` with already-signed `headers` and reads the whole response.
    ///
    /// # Errors
    /// [`CallError`]; the connection is dropped and reopened by the next call.
    pub async fn send(&mut self, path: &str, headers: &[(String, String)], body: Bytes) -> Result<Reply, CallError> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(path, headers, body)).await;
        match result {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(CallError::Timeout)
            }
        }
    }

    async fn send_inner(&mut self, path: &str, headers: &[(String, String)], body: Bytes) -> Result<Reply, CallError> {
        // Not signed (the AWS SDKs do not sign it either); it names the traffic in audit records.
        let mut builder = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(path)
            .header(hyper::header::USER_AGENT, USER_AGENT);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| CallError::Io(format!("building the request: {e}")))?;
        let sender = self.open().await?;
        sender.ready().await.map_err(|e| CallError::Io(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| CallError::Io(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Io(e.to_string()))?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

/// A GraphQL answer: `data`, or the first error's `extensions.code` and message.
#[derive(Debug, Clone)]
pub enum Gql {
    /// No errors.
    Data(Value),
    /// An HTTP or GraphQL error.
    Error {
        /// `http_<status>` and/or the AWS error code.
        code: String,
        /// The message.
        message: String,
    },
}

/// Reads a `/graphql` reply.
pub fn read_graphql(reply: &Reply) -> Gql {
    let body: Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&reply.body).into_owned()));
    if let Some(error) = body.get("errors").and_then(|e| e.get(0)) {
        let code = error["extensions"]["code"].as_str().unwrap_or("GraphQLError");
        let code = if reply.status == 200 {
            code.to_owned()
        } else {
            format!("http_{}:{code}", reply.status)
        };
        return Gql::Error {
            code,
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        };
    }
    if reply.status != 200 {
        return Gql::Error {
            code: format!("http_{}", reply.status),
            message: body.to_string(),
        };
    }
    Gql::Data(body.get("data").cloned().unwrap_or(Value::Null))
}

/// The body of a GraphQL request.
pub fn graphql_body(query: &str, variables: &Value) -> Bytes {
    Bytes::from(json!({ "query": query, "variables": variables }).to_string())
}

/// Signs and sends one GraphQL operation; returns the answer and how long the server took
/// (signing excluded).
///
/// # Errors
/// A transport failure or a signing failure.
pub async fn graphql(
    conn: &mut Conn,
    credentials: &Credentials,
    query: &str,
    variables: &Value,
) -> anyhow::Result<(Gql, Duration)> {
    let body = graphql_body(query, variables);
    let headers = signed_headers(conn.host(), "/graphql", &body, credentials)?;
    let started = Instant::now();
    let reply = conn
        .send("/graphql", &headers, body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((read_graphql(&reply), started.elapsed()))
}

/// Like [`graphql`], but a GraphQL error is an error too.
///
/// # Errors
/// Any failure, with the server's code and message.
pub async fn graphql_data(
    conn: &mut Conn,
    credentials: &Credentials,
    query: &str,
    variables: &Value,
) -> anyhow::Result<Value> {
    match graphql(conn, credentials, query, variables).await?.0 {
        Gql::Data(data) => Ok(data),
        Gql::Error { code, message } => Err(anyhow::anyhow!("{code}: {message}")),
    }
}

/// The `content-type` of a query-protocol request, as botocore sends it.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// `name=value&...` as botocore's query serializer writes it (Python's `urlencode`): every byte
/// but `A-Z a-z 0-9 - . _ ~` as `%XX` (UTF-8, uppercase hex), a space as `+`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() * 5 / 4);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape_into(&mut out, name);
        out.push('=');
        form_escape_into(&mut out, value);
    }
    out
}

fn form_escape_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

/// A query-protocol answer: HTTP 200, or the `ErrorResponse`'s `Code` and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAnswer {
    /// HTTP 200 (the result document is not read).
    Ok,
    /// Any other status.
    Error {
        /// `Error/Code`, or `http_<status>` when the body has none.
        code: String,
        /// `Error/Message` (or the start of the body).
        message: String,
    },
}

/// Reads a query-protocol reply, minimally: the status, and for an error the first `<Code>` and
/// `<Message>` of its `ErrorResponse`.
pub fn read_query(reply: &Reply) -> QueryAnswer {
    if reply.status == 200 {
        return QueryAnswer::Ok;
    }
    let body = String::from_utf8_lossy(&reply.body);
    match xml_text(&body, "Code") {
        Some(code) => QueryAnswer::Error {
            code,
            message: xml_text(&body, "Message").unwrap_or_default(),
        },
        None => QueryAnswer::Error {
            code: format!("http_{}", reply.status),
            message: body.chars().take(200).collect(),
        },
    }
}

/// The text of the first `<tag>...</tag>`, its five predefined entities decoded.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Signs (service `iam`) and sends one query-protocol request to `POST /`; returns the answer and
/// how long the server took (signing excluded).
///
/// # Errors
/// A transport failure or a signing failure.
pub async fn aws_query(
    conn: &mut Conn,
    credentials: &Credentials,
    form: String,
) -> anyhow::Result<(QueryAnswer, Duration)> {
    let body = Bytes::from(form);
    let headers = signed_headers_for(conn.host(), "/", FORM_CONTENT_TYPE, &body, credentials)?;
    let started = Instant::now();
    let reply = conn
        .send("/", &headers, body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((read_query(&reply), started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded_as_botocore_does() {
        assert_eq!(
            form_encode(&[("Action", "CreateUser"), ("Version", "2010-05-08")]),
            "Action=CreateUser&Version=2010-05-08"
        );
        assert_eq!(
            form_encode(&[
                ("Path", "/loadtest/"),
                ("PolicyArn", "arn:aws:iam::123456789012:policy/lt/Q")
            ]),
            "Path=%2Floadtest%2F&PolicyArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Flt%2FQ"
        );
        // Unreserved characters stay; `&`, `=`, `+`, `%`, a space and non-ASCII do not.
        assert_eq!(
            form_encode(&[("Tags.member.1.Value", "a-b_c.d~e f&g=h+i%j/é")]),
            "Tags.member.1.Value=a-b_c.d~e+f%26g%3Dh%2Bi%25j%2F%C3%A9"
        );
        assert_eq!(form_encode(&[("Marker", "")]), "Marker=");
        assert_eq!(form_encode(&[]), "");
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn query_errors_are_read_from_the_error_response() {
        assert_eq!(read_query(&reply(200, "<CreateUserResponse/>")), QueryAnswer::Ok);
        let error = "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
            <Code>NoSuchEntity</Code><Message>The user with name a&amp;b &lt;x&gt; cannot be found.</Message></Error>\
            <RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(
            read_query(&reply(404, error)),
            QueryAnswer::Error {
                code: "NoSuchEntity".into(),
                message: "The user with name a&b <x> cannot be found.".into(),
            }
        );
        assert_eq!(
            read_query(&reply(502, "bad gateway")),
            QueryAnswer::Error {
                code: "http_502".into(),
                message: "bad gateway".into(),
            }
        );
    }
}
