//! `iamctl graphql`: a GraphQL request to the gateway, signed with SigV4 like an AWS CLI call.
//!
//! Building and signing the request and reading the response are pure functions; only [`run`]
//! reads files, the clock and the network.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use iam_sigv4::{sign, HttpRequest, PayloadSigning, SigV4Error, SigningMode, SigningParams, UriPathMode};
use serde_json::Value;

use crate::credentials::{self, CredentialsError, Resolved};
use crate::Failure;

/// Where `iamd` listens when nothing says otherwise.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";
/// Signing name of the Gatehouse API.
pub const SERVICE: &str = "iam";

/// Arguments of `iamctl graphql`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("document").required(true).args(["query", "query_file"])))]
pub struct GraphqlArgs {
    /// Base URL of the gateway; the request goes to `<endpoint>/graphql`.
    #[arg(long, env = "GATEHOUSE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The GraphQL document.
    #[arg(long)]
    pub query: Option<String>,
    /// A file holding the GraphQL document; `-` reads standard input.
    #[arg(long)]
    pub query_file: Option<PathBuf>,
    /// Variables as a JSON object.
    #[arg(long)]
    pub variables: Option<String>,
    /// Profile of the shared credentials and config files (default: `AWS_PROFILE`, then `default`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Signing region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, `us-east-1`).
    #[arg(long)]
    pub region: Option<String>,
}

/// What can go wrong; [`ClientError::is_malformed_input`] splits exit code 2 from 1.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not an `http`/`https` URL.
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    Endpoint {
        /// As given.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// `https` without the `tls` feature compiled in.
    #[error("endpoint `{0}` uses https, but this iamctl was built without the `tls` feature")]
    TlsUnavailable(String),
    /// The query file cannot be read.
    #[error("cannot read `{path}`: {message}")]
    QueryFile {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The query is empty.
    #[error("the GraphQL query is empty")]
    EmptyQuery,
    /// `--variables` is not JSON.
    #[error("`--variables` is not valid JSON: {0}")]
    Variables(serde_json::Error),
    /// `--variables` is JSON but not an object.
    #[error("`--variables` must be a JSON object")]
    VariablesNotObject,
    /// No usable credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The signer refused the request.
    #[error("cannot sign the request: {0}")]
    Sign(#[from] SigV4Error),
    /// Connection, TLS or protocol failure.
    #[error("request to `{url}` failed: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The answer is not JSON.
    #[error("the server answered HTTP {status} with a body that is not JSON: {snippet}")]
    NotJson {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        snippet: String,
    },
    /// JSON answer that reports errors or a failure status; the JSON is still output.
    #[error("{summary}")]
    Failed {
        /// The response, pretty-printed.
        pretty: String,
        /// Why it counts as a failure.
        summary: String,
    },
}

impl ClientError {
    /// Whether this is the caller's mistake (exit code 2) rather than a failed call (exit code 1).
    pub fn is_malformed_input(&self) -> bool {
        matches!(
            self,
            ClientError::Endpoint { .. }
                | ClientError::TlsUnavailable(_)
                | ClientError::QueryFile { .. }
                | ClientError::EmptyQuery
                | ClientError::Variables(_)
                | ClientError::VariablesNotObject
                | ClientError::Credentials(_)
        )
    }
}

/// A parsed `--endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]` as written; it becomes the `host` header.
    pub authority: String,
    /// Raw path of the GraphQL resource: the endpoint's path followed by `/graphql`.
    pub path: String,
}

impl Endpoint {
    /// Parses a base URL such as `http://127.0.0.1:8080` or `https://iam.example.com/prefix/`.
    pub fn parse(text: &str) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::Endpoint {
            endpoint: text.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: ureq::http::Uri = text.parse().map_err(|_| invalid("not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme.to_owned(),
            Some(_) => return Err(invalid("the scheme must be `http` or `https`")),
            None => return Err(invalid("expected `http://host[:port]`")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?.as_str();
        if authority.contains('@') {
            return Err(invalid("user information in the URL is not supported"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query string is not supported"));
        }
        Ok(Endpoint {
            scheme,
            authority: authority.to_owned(),
            path: format!("{}/graphql", uri.path().trim_end_matches('/')),
        })
    }

    /// The URL the request goes to.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.path)
    }
}

/// The request body: `{"query": ..., "variables": {...}}`.
pub fn request_body(query: &str, variables: Option<&str>) -> Result<Vec<u8>, ClientError> {
    if query.trim().is_empty() {
        return Err(ClientError::EmptyQuery);
    }
    let variables = match variables {
        None => Value::Object(serde_json::Map::new()),
        Some(text) => match serde_json::from_str(text).map_err(ClientError::Variables)? {
            object @ Value::Object(_) => object,
            _ => return Err(ClientError::VariablesNotObject),
        },
    };
    let body = serde_json::json!({ "query": query, "variables": variables });
    Ok(body.to_string().into_bytes())
}

/// A POST of `body` to the endpoint, signed in the `Authorization` header at `time`.
pub fn signed_request(
    endpoint: &Endpoint,
    body: Vec<u8>,
    resolved: &Resolved,
    time: DateTime<Utc>,
) -> Result<HttpRequest, ClientError> {
    let mut request = HttpRequest::new("POST", endpoint.path.clone(), "")
        .with_header("host", endpoint.authority.clone())
        .with_header("content-type", "application/json")
        .with_body(body);
    let params = SigningParams {
        credentials: &resolved.credentials,
        region: &resolved.region,
        service: SERVICE,
        time,
        mode: SigningMode::Header {
            payload: PayloadSigning::Hash,
        },
        uri_path: UriPathMode::Normalized,
        sign_session_token: true,
    };
    sign(&mut request, &params)?;
    Ok(request)
}

/// Turns the HTTP answer into the text to print, or a failure carrying it.
pub fn interpret_response(status: u16, body: &str) -> Result<String, ClientError> {
    let json: Value = serde_json::from_str(body).map_err(|_| ClientError::NotJson {
        status,
        snippet: body.chars().take(200).collect(),
    })?;
    let pretty = serde_json::to_string_pretty(&json).unwrap_or_else(|_| body.to_owned());
    let error_count = match json.get("errors") {
        Some(Value::Array(errors)) => errors.len(),
        Some(Value::Null) | None => 0,
        Some(_) => 1,
    };
    let summary = match (error_count, (200..300).contains(&status)) {
        (0, true) => return Ok(pretty),
        (0, false) => format!("the server answered HTTP {status}"),
        (1, _) => "the response carries 1 error".to_owned(),
        (count, _) => format!("the response carries {count} errors"),
    };
    Err(ClientError::Failed { pretty, summary })
}

/// Runs `iamctl graphql`: the output for standard output, or a failure. For a JSON response
/// that reports errors the JSON goes to standard output here, before exiting with code 1.
pub(crate) fn run(args: &GraphqlArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Failure> {
    execute(args, env).map_err(|error| {
        if let ClientError::Failed { pretty, .. } = &error {
            // A closed standard output changes nothing: the exit code already says it failed.
            let _ = writeln!(std::io::stdout().lock(), "{pretty}");
        }
        if error.is_malformed_input() {
            Failure::Input(error.to_string())
        } else {
            Failure::Other(error.to_string())
        }
    })
}

fn execute(args: &GraphqlArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ClientError> {
    let query = match (&args.query, &args.query_file) {
        (Some(query), _) => query.clone(),
        (None, Some(path)) => read_query_file(path)?,
        (None, None) => String::new(),
    };
    let body = request_body(&query, args.variables.as_deref())?;
    let endpoint = Endpoint::parse(&args.endpoint)?;
    if endpoint.scheme == "https" && !cfg!(feature = "tls") {
        return Err(ClientError::TlsUnavailable(args.endpoint.clone()));
    }
    let resolved = credentials::resolve(env, args.profile.as_deref(), args.region.as_deref())?;
    let request = signed_request(&endpoint, body, &resolved, Utc::now())?;
    let (status, text) = send(&endpoint, &request)?;
    interpret_response(status, &text)
}

fn read_query_file(path: &PathBuf) -> Result<String, ClientError> {
    let failed = |error: std::io::Error| ClientError::QueryFile {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(failed)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(failed)
    }
}

pub(crate) fn send(endpoint: &Endpoint, request: &HttpRequest) -> Result<(u16, String), ClientError> {
    let url = endpoint.url();
    let transport = |error: ureq::Error| ClientError::Transport {
        url: url.clone(),
        message: error.to_string(),
    };
    let agent = ureq::Agent::config_builder()
        // Error statuses carry GraphQL or AWS error bodies worth showing.
        .http_status_as_error(false)
        // A redirected POST would lose its body and its signature.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .user_agent(concat!("iamctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let mut builder = agent.post(&url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body: &[u8] = match &request.payload {
        iam_sigv4::Payload::Bytes(bytes) => bytes,
        iam_sigv4::Payload::Sha256(_) => &[],
    };
    let mut response = builder.send(body).map_err(transport)?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(transport)?;
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::credentials::CredentialSource;
    use chrono::TimeZone;
    use iam_sigv4::{parse_authorization, verify, Credentials, VerifyPolicy};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn resolved(session_token: Option<&str>) -> Resolved {
        Resolved {
            credentials: Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: SECRET.into(),
                session_token: session_token.map(str::to_owned),
            },
            source: CredentialSource::Environment,
            region: "eu-west-1".into(),
        }
    }

    fn time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn endpoints_parse_to_authority_and_graphql_path() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            endpoint,
            Endpoint {
                scheme: "http".into(),
                authority: "127.0.0.1:8080".into(),
                path: "/graphql".into()
            }
        );
        assert_eq!(endpoint.url(), "http://127.0.0.1:8080/graphql");
        let endpoint = Endpoint::parse("https://iam.example.com/gatehouse/").unwrap();
        assert_eq!(endpoint.url(), "https://iam.example.com/gatehouse/graphql");
        assert_eq!(endpoint.authority, "iam.example.com");
        assert_eq!(Endpoint::parse("http://[::1]:9/").unwrap().authority, "[::1]:9");
    }

    #[test]
    fn bad_endpoints_are_malformed_input() {
        for text in [
            "",
            "127.0.0.1:8080",
            "ftp://host",
            "http://user:pw@host",
            "http://h/?a=b",
            "not a url",
        ] {
            let error = Endpoint::parse(text).unwrap_err();
            assert!(error.is_malformed_input(), "{text}: {error}");
        }
    }

    #[test]
    fn body_carries_query_and_variables() {
        let body = request_body(
            "query($n: String!) { user(name: $n) { arn } }",
            Some(r#"{"n":"alice"}"#),
        )
        .unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["query"], "query($n: String!) { user(name: $n) { arn } }");
        assert_eq!(json["variables"]["n"], "alice");
        let json: Value = serde_json::from_slice(&request_body("{ me { arn } }", None).unwrap()).unwrap();
        assert_eq!(json["variables"], serde_json::json!({}));
    }

    #[test]
    fn bad_queries_and_variables_are_malformed_input() {
        let errors = [
            request_body("  ", None).unwrap_err(),
            request_body("{ a }", Some("{not json")).unwrap_err(),
            request_body("{ a }", Some("[1]")).unwrap_err(),
        ];
        assert!(matches!(errors[0], ClientError::EmptyQuery));
        assert!(matches!(errors[1], ClientError::Variables(_)));
        assert!(matches!(errors[2], ClientError::VariablesNotObject));
        assert!(errors.iter().all(ClientError::is_malformed_input));
    }

    #[test]
    fn signed_request_verifies_with_the_same_secret() {
        let endpoint = Endpoint::parse("http://localhost:8080/").unwrap();
        let body = request_body("{ me { arn } }", None).unwrap();
        let request = signed_request(&endpoint, body, &resolved(None), time()).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/graphql");
        assert_eq!(request.header_values("host").collect::<Vec<_>>(), ["localhost:8080"]);
        assert_eq!(
            request.header_values("content-type").collect::<Vec<_>>(),
            ["application/json"]
        );

        let claim = parse_authorization(&request).unwrap();
        assert_eq!(claim.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(claim.scope().service(), "iam");
        assert_eq!(claim.scope().region(), "eu-west-1");
        assert_eq!(claim.signed_headers(), ["content-type", "host", "x-amz-date"]);
        let policy = VerifyPolicy::default();
        verify(&request, &claim, SECRET, "eu-west-1", "iam", time(), &policy).unwrap();
        assert!(verify(&request, &claim, "wrong", "eu-west-1", "iam", time(), &policy).is_err());

        let mut tampered = request.clone();
        tampered.payload = iam_sigv4::Payload::Bytes(br#"{"query":"{ other }"}"#.to_vec());
        assert!(verify(&tampered, &claim, SECRET, "eu-west-1", "iam", time(), &policy).is_err());
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let endpoint = Endpoint::parse("http://localhost:8080").unwrap();
        let body = request_body("{ me { arn } }", None).unwrap();
        let request = signed_request(&endpoint, body, &resolved(Some("TOKEN")), time()).unwrap();
        assert_eq!(
            request.header_values("x-amz-security-token").collect::<Vec<_>>(),
            ["TOKEN"]
        );
        let claim = parse_authorization(&request).unwrap();
        assert!(claim.signed_headers().iter().any(|h| h == "x-amz-security-token"));
        verify(
            &request,
            &claim,
            SECRET,
            "eu-west-1",
            "iam",
            time(),
            &VerifyPolicy::default(),
        )
        .unwrap();
    }

    #[test]
    fn responses_map_to_output_or_failure() {
        let ok = interpret_response(200, r#"{"data":{"me":{"arn":"arn:aws:iam::1:root"}}}"#).unwrap();
        assert!(ok.contains("\n") && ok.contains("arn:aws:iam::1:root"), "{ok}");
        assert!(interpret_response(200, r#"{"data":{},"errors":null}"#).is_ok());

        let cases = [
            (
                200,
                r#"{"data":null,"errors":[{"message":"no"}]}"#,
                "the response carries 1 error",
            ),
            (
                400,
                r#"{"errors":[{"message":"a"},{"message":"b"}]}"#,
                "the response carries 2 errors",
            ),
            (
                403,
                r#"{"Error":{"Code":"SignatureDoesNotMatch"}}"#,
                "the server answered HTTP 403",
            ),
        ];
        for (status, body, expected) in cases {
            match interpret_response(status, body).unwrap_err() {
                ClientError::Failed { pretty, summary } => {
                    assert_eq!(summary, expected);
                    let reparsed: Value = serde_json::from_str(&pretty).unwrap();
                    assert_eq!(reparsed, serde_json::from_str::<Value>(body).unwrap());
                }
                other => panic!("{other}"),
            }
        }
        let error = interpret_response(502, "<html>bad gateway</html>").unwrap_err();
        assert!(!error.is_malformed_input());
        assert_eq!(
            error.to_string(),
            "the server answered HTTP 502 with a body that is not JSON: <html>bad gateway</html>"
        );
    }
}
