//! Signing a request the way AWS SDKs do, for Gatehouse's own clients and for tests of the verifier.

use chrono::{DateTime, Utc};

use crate::canonical::{build_canonical_request, UriPathMode, CONTENT_SHA256_HEADER};
use crate::claim::{format_amz_date, CredentialScope, ALGORITHM, MAX_PRESIGNED_EXPIRY_SECONDS};
use crate::encoding::uri_encode;
use crate::error::SigV4Error;
use crate::request::HttpRequest;
use crate::signature::{signature, signature_with_key, string_to_sign, SigningKey};
use crate::verify::UNSIGNED_PAYLOAD;

/// Headers that proxies add or rewrite on the way; AWS SDKs leave them out of the signature.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "transfer-encoding",
    "user-agent",
    "x-amzn-trace-id",
];

/// An access key pair, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Public half, sent in the credential scope.
    pub access_key_id: String,
    /// Secret half; never sent.
    pub secret_access_key: String,
    /// Token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How the body takes part in a header-signed request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadSigning {
    /// The body's SHA-256 goes into the canonical request only (IAM, STS and most services).
    #[default]
    Hash,
    /// Also send it as `x-amz-content-sha256` (S3 and aws-c-auth's "sign body").
    HashInHeader,
    /// Send `x-amz-content-sha256: UNSIGNED-PAYLOAD`, leaving the body unsigned.
    Unsigned,
}

/// Where the signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningMode {
    /// `Authorization` header, with `X-Amz-Date` (and the session token) as headers.
    Header {
        /// Body handling.
        payload: PayloadSigning,
    },
    /// Presigned URL: everything in the query string; the body hash is signed without a header.
    Presigned {
        /// `X-Amz-Expires`, from 1 to 604800.
        expires_in_seconds: u32,
    },
}

/// Everything [`sign`] needs besides the request.
#[derive(Debug, Clone)]
pub struct SigningParams<'a> {
    /// Whose key signs.
    pub credentials: &'a Credentials,
    /// Region of the endpoint.
    pub region: &'a str,
    /// Signing name of the service.
    pub service: &'a str,
    /// Signing time; it becomes `X-Amz-Date`.
    pub time: DateTime<Utc>,
    /// Header or presigned.
    pub mode: SigningMode,
    /// Path canonicalization; [`UriPathMode::S3`] for S3 only.
    pub uri_path: UriPathMode,
    /// Sign the session token (what AWS SDKs do) or append it after signing.
    pub sign_session_token: bool,
}

/// The intermediate steps and the result of signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningOutput {
    /// Task 1.
    pub canonical_request: String,
    /// Task 2.
    pub string_to_sign: String,
    /// Task 3, lowercase hex.
    pub signature: String,
}

/// Signs `request` in place: adds `X-Amz-Date`, the session token and `Authorization` headers,
/// or appends the presigned query parameters. Every header present (but the few proxies
/// rewrite) is signed, so set `host` and the others first.
pub fn sign(request: &mut HttpRequest, params: &SigningParams<'_>) -> Result<SigningOutput, SigV4Error> {
    sign_request(request, params, None)
}

/// [`sign()`] with the signing key already derived for the scope of `params` (its day, region
/// and service), as SDKs keep it between requests instead of deriving it for each one.
pub fn sign_with_key(
    request: &mut HttpRequest,
    params: &SigningParams<'_>,
    key: &SigningKey,
) -> Result<SigningOutput, SigV4Error> {
    sign_request(request, params, Some(key))
}

fn sign_request(
    request: &mut HttpRequest,
    params: &SigningParams<'_>,
    key: Option<&SigningKey>,
) -> Result<SigningOutput, SigV4Error> {
    let scope = CredentialScope::new(params.time.date_naive(), params.region, params.service);
    let amz_date = format_amz_date(params.time);
    let credentials = params.credentials;
    let token = credentials.session_token.as_deref();
    let credential = format!("{}/{scope}", credentials.access_key_id);
    request.remove_header("authorization");

    match params.mode {
        SigningMode::Header { payload } => {
            request.set_header("X-Amz-Date", amz_date);
            match token {
                Some(token) if params.sign_session_token => {
                    request.set_header("X-Amz-Security-Token", token.to_owned())
                }
                // Appended after signing, below; a stale copy must not get signed.
                Some(_) => request.remove_header("x-amz-security-token"),
                None => {}
            }
            let payload_hash = match payload {
                PayloadSigning::Hash => request.payload.sha256_hex(),
                PayloadSigning::HashInHeader => {
                    let hash = request.payload.sha256_hex();
                    request.set_header(CONTENT_SHA256_HEADER, hash.clone());
                    hash
                }
                PayloadSigning::Unsigned => {
                    request.set_header(CONTENT_SHA256_HEADER, UNSIGNED_PAYLOAD.to_owned());
                    UNSIGNED_PAYLOAD.to_owned()
                }
            };
            let signed_headers = signed_header_names(request)?;
            let output = sign_canonical(request, &signed_headers, &payload_hash, params, &scope, key)?;
            let authorization = format!(
                "{ALGORITHM} Credential={credential}, SignedHeaders={}, Signature={}",
                signed_headers.join(";"),
                output.signature
            );
            request.headers.push(("Authorization".to_owned(), authorization));
            if let (Some(token), false) = (token, params.sign_session_token) {
                request
                    .headers
                    .push(("X-Amz-Security-Token".to_owned(), token.to_owned()));
            }
            Ok(output)
        }
        SigningMode::Presigned { expires_in_seconds } => {
            if !(1..=MAX_PRESIGNED_EXPIRY_SECONDS).contains(&expires_in_seconds) {
                return Err(SigV4Error::InvalidExpires(expires_in_seconds.to_string()));
            }
            let signed_headers = signed_header_names(request)?;
            append_query(request, "X-Amz-Algorithm", ALGORITHM);
            append_query(request, "X-Amz-Credential", &credential);
            append_query(request, "X-Amz-Date", &amz_date);
            append_query(request, "X-Amz-SignedHeaders", &signed_headers.join(";"));
            append_query(request, "X-Amz-Expires", &expires_in_seconds.to_string());
            if let (Some(token), true) = (token, params.sign_session_token) {
                append_query(request, "X-Amz-Security-Token", token);
            }
            let payload_hash = request.payload.sha256_hex();
            let output = sign_canonical(request, &signed_headers, &payload_hash, params, &scope, key)?;
            if let (Some(token), false) = (token, params.sign_session_token) {
                append_query(request, "X-Amz-Security-Token", token);
            }
            append_query(request, "X-Amz-Signature", &output.signature);
            Ok(output)
        }
    }
}

fn sign_canonical(
    request: &HttpRequest,
    signed_headers: &[String],
    payload_hash: &str,
    params: &SigningParams<'_>,
    scope: &CredentialScope,
    key: Option<&SigningKey>,
) -> Result<SigningOutput, SigV4Error> {
    let canonical_request = build_canonical_request(request, signed_headers, &[], payload_hash, params.uri_path)?;
    let string_to_sign = string_to_sign(params.time, scope, &canonical_request);
    let signature = match key {
        Some(key) => signature_with_key(key, &string_to_sign),
        None => signature(&params.credentials.secret_access_key, scope, &string_to_sign),
    };
    Ok(SigningOutput {
        canonical_request,
        string_to_sign,
        signature,
    })
}

/// Lowercase names of the headers to sign, sorted and unique; `host` must be among them.
fn signed_header_names(request: &HttpRequest) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !UNSIGNED_HEADERS.contains(&name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|name| name == "host") {
        return Err(SigV4Error::SignedHeaderMissing("host".to_owned()));
    }
    Ok(names)
}

fn append_query(request: &mut HttpRequest, name: &str, value: &str) {
    if !request.query.is_empty() {
        request.query.push('&');
    }
    request.query.push_str(name);
    request.query.push('=');
    request.query.push_str(&uri_encode(value.as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn params(credentials: &Credentials, mode: SigningMode) -> SigningParams<'_> {
        SigningParams {
            credentials,
            region: "us-east-1",
            service: "iam",
            time: NaiveDate::from_ymd_opt(2015, 8, 30)
                .unwrap()
                .and_hms_opt(12, 36, 0)
                .unwrap()
                .and_utc(),
            mode,
            uri_path: UriPathMode::Normalized,
            sign_session_token: true,
        }
    }

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    #[test]
    fn header_signing_reproduces_the_aws_documentation_example() {
        let mut request = HttpRequest::new("GET", "/", "Action=ListUsers&Version=2010-05-08")
            .with_header("Host", "iam.amazonaws.com")
            .with_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .with_header("User-Agent", "gatehouse-cli/0.1");
        let credentials = credentials();
        let output = sign(
            &mut request,
            &params(
                &credentials,
                SigningMode::Header {
                    payload: PayloadSigning::Hash,
                },
            ),
        );
        assert_eq!(
            output.unwrap().signature,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(
            request.single_header("authorization").unwrap(),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
            )
        );
        assert_eq!(request.single_header("x-amz-date").unwrap(), Some("20150830T123600Z"));
    }

    #[test]
    fn resigning_replaces_the_previous_signature() {
        let credentials = credentials();
        let params = params(
            &credentials,
            SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
        );
        let mut request = HttpRequest::new("GET", "/", "").with_header("Host", "iam.amazonaws.com");
        let first = sign(&mut request, &params).unwrap();
        let second = sign(&mut request, &params).unwrap();
        assert_eq!(first, second);
        assert_eq!(request.header_values("authorization").count(), 1);
    }

    #[test]
    fn a_kept_signing_key_signs_exactly_as_the_secret_does() {
        let credentials = credentials();
        let params = params(
            &credentials,
            SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
        );
        let scope = CredentialScope::new(params.time.date_naive(), params.region, params.service);
        let key = SigningKey::derive(&credentials.secret_access_key, &scope);
        let mut by_secret = HttpRequest::new("GET", "/", "").with_header("Host", "iam.amazonaws.com");
        let mut by_key = by_secret.clone();
        assert_eq!(
            sign(&mut by_secret, &params).unwrap(),
            sign_with_key(&mut by_key, &params, &key).unwrap()
        );
        assert_eq!(by_secret.headers, by_key.headers);
    }

    #[test]
    fn presigning_appends_parameters_in_sdk_order() {
        let credentials = Credentials {
            session_token: Some("a/b+c=".into()),
            ..credentials()
        };
        let mut request = HttpRequest::new("GET", "/", "Action=ListUsers").with_header("Host", "iam.amazonaws.com");
        let output = sign(
            &mut request,
            &params(
                &credentials,
                SigningMode::Presigned {
                    expires_in_seconds: 900,
                },
            ),
        )
        .unwrap();
        let names: Vec<&str> = request
            .query
            .split('&')
            .map(|pair| pair.split('=').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Action",
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-SignedHeaders",
                "X-Amz-Expires",
                "X-Amz-Security-Token",
                "X-Amz-Signature"
            ]
        );
        assert!(request.query.contains("X-Amz-Security-Token=a%2Fb%2Bc%3D&"));
        assert!(request
            .query
            .ends_with(&format!("X-Amz-Signature={}", output.signature)));
        assert!(request.single_header("authorization").unwrap().is_none());
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let credentials = Credentials {
            session_token: Some("SESSIONTOKENVALUE".into()),
            ..credentials()
        };
        let debug = format!("{credentials:?}");
        assert!(debug.contains("AKIDEXAMPLE"));
        assert!(
            !debug.contains("EXAMPLEKEY") && !debug.contains("SESSIONTOKENVALUE"),
            "{debug}"
        );
    }
}
