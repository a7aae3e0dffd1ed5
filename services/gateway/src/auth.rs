//! Authentication of every request by AWS Signature Version 4, as AWS documents it: the
//! `Authorization` header form and the presigned query form, a five-minute clock-skew window
//! (so a stale signature cannot be replayed), and the secret looked up by access key id.
//!
//! Every request of one key, day, region and service is signed with the same derived key, so
//! a [`SigningKeyCache`] keeps it: the sealed secret is opened and the HMAC chain run once per key
//! and day instead of on every request, as the AWS SDKs do when they sign.

use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use iam_domain::session::SessionClaims;
use iam_sigv4::{
    parse_authorization, verify_with_key, CredentialScope, HttpRequest, Payload, SigV4Error, SigningKey,
    SigningKeyCache, VerifyPolicy,
};
use zeroize::Zeroizing;

/// What the gateway knows of an access key.
pub struct KeyRecord {
    /// The account the key belongs to.
    pub account_id: String,
    /// The principal that signs with it (`arn:aws:iam::<account>:root` or a user ARN).
    pub principal_arn: String,
    /// False for an `Inactive` key: it authenticates nothing.
    pub active: bool,
}

/// Finds access keys; implemented over the in-memory model.
pub trait CredentialStore: Send + Sync {
    /// The key with this id, if it exists.
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord>;

    /// The key's secret, opened from its sealed form for deriving a signing key.
    fn secret(&self, access_key_id: &str) -> Option<Zeroizing<String>>;

    /// The session a temporary key's session token carries, opened with no database read.
    ///
    /// # Errors
    /// `InvalidClientTokenId` for a token that is not this key's (or is damaged),
    /// `ExpiredToken` for one past its expiry.
    fn session(&self, access_key_id: &str, token: &str, now: DateTime<Utc>) -> Result<Arc<SessionClaims>, AuthError>;
}

/// Who made an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The service the request was signed for (`iam`, `sts`).
    pub service: String,
    /// The caller's account.
    pub account_id: String,
    /// The caller's ARN.
    pub principal_arn: String,
    /// The access key used.
    pub access_key_id: String,
    /// For temporary credentials: the session its token carries.
    pub session: Option<Arc<SessionClaims>>,
}

/// Why a request was not authenticated, in AWS's error vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The request carries no signature at all.
    #[error("request is missing authentication: sign it with AWS Signature Version 4")]
    MissingAuthenticationToken,
    /// Unknown or inactive access key, or a session token that is not the key's.
    #[error("the security token included in the request is invalid")]
    InvalidClientTokenId,
    /// The session token has expired.
    #[error("the security token included in the request is expired")]
    ExpiredToken,
    /// The signature did not verify, or its scope, time or shape is wrong.
    #[error("{0}")]
    Signature(SigV4Error),
}

impl AuthError {
    /// AWS's error code.
    pub fn aws_code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationToken",
            AuthError::InvalidClientTokenId => "InvalidClientTokenId",
            AuthError::ExpiredToken => "ExpiredToken",
            AuthError::Signature(e) => e.aws_code(),
        }
    }
}

/// Signature settings of this deployment.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The region in credential scopes (default `us-east-1`).
    pub region: String,
    /// The signing name (`iam`).
    pub service: String,
    /// Skew and payload rules.
    pub policy: VerifyPolicy,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            region: "us-east-1".into(),
            service: "iam".into(),
            policy: VerifyPolicy::default(),
        }
    }
}

/// The request as SigV4 sees it: raw path and query, headers in received order, the body.
pub fn signable_request(parts: &Parts, body: &[u8]) -> HttpRequest {
    let mut request = HttpRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or_default(),
    );
    for (name, value) in &parts.headers {
        request = request.with_header(name.as_str(), String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    if parts.headers.get("host").is_none() {
        if let Some(authority) = parts.uri.authority() {
            request = request.with_header("host", authority.as_str());
        }
    }
    request.payload = Payload::Bytes(body.to_vec());
    request
}

/// Authenticates one request signed for one of `services` (the first is expected when the
/// signature names another).
pub fn authenticate(
    parts: &Parts,
    body: &[u8],
    keys: &dyn CredentialStore,
    signing_keys: &SigningKeyCache,
    settings: &AuthSettings,
    services: &[&str],
    now: DateTime<Utc>,
) -> Result<Authenticated, AuthError> {
    let has_header = parts.headers.contains_key("authorization");
    let has_query = parts
        .uri
        .query()
        .is_some_and(|q| q.contains("X-Amz-Signature=") || q.contains("X-Amz-Algorithm="));
    if !has_header && !has_query {
        return Err(AuthError::MissingAuthenticationToken);
    }
    let request = signable_request(parts, body);
    let claim = parse_authorization(&request).map_err(AuthError::Signature)?;
    let expected_service = services
        .iter()
        .find(|service| **service == claim.scope().service())
        .or(services.first())
        .copied()
        .unwrap_or(settings.service.as_str());
    // A temporary key comes with its session token, which says who signs with it; a long-term
    // key sent with one is refused, as AWS refuses it.
    let session = match session_token(parts) {
        Some(token) if claim.access_key_id().starts_with("ASIA") => {
            Some(keys.session(claim.access_key_id(), &token, now)?)
        }
        Some(_) => return Err(AuthError::InvalidClientTokenId),
        None => None,
    };
    let key = match &session {
        Some(claims) => KeyRecord {
            account_id: claims.account_id.clone(),
            principal_arn: claims.principal_arn.clone(),
            active: true,
        },
        None => keys
            .lookup(claim.access_key_id())
            .ok_or(AuthError::InvalidClientTokenId)?,
    };
    if !key.active {
        return Err(AuthError::InvalidClientTokenId);
    }
    // The scope is checked before the key is asked for, so only this deployment's region and
    // service are ever derived and cached.
    let mut unopened = false;
    let signing_key = |scope: &CredentialScope| {
        signing_keys
            .get_or_derive(claim.access_key_id(), scope, || match &session {
                Some(claims) => Some(Zeroizing::new(claims.secret_access_key.clone())),
                None => keys.secret(claim.access_key_id()),
            })
            .unwrap_or_else(|| {
                unopened = true;
                SigningKey::derive("", scope)
            })
    };
    let verified = verify_with_key(
        &request,
        &claim,
        signing_key,
        &settings.region,
        expected_service,
        now,
        &settings.policy,
    );
    if unopened {
        return Err(AuthError::InvalidClientTokenId);
    }
    verified.map_err(AuthError::Signature)?;
    Ok(Authenticated {
        service: expected_service.to_owned(),
        account_id: key.account_id,
        principal_arn: key.principal_arn,
        access_key_id: claim.access_key_id().to_string(),
        session,
    })
}

/// The session token of a request (`X-Amz-Security-Token`, as a header or, presigned, in the
/// query string), if it carries one.
fn session_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get("x-amz-security-token") {
        return Some(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    parts.uri.query()?.split('&').find_map(|pair| {
        let value = pair.strip_prefix("X-Amz-Security-Token=")?;
        Some(
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned(),
        )
    })
}
