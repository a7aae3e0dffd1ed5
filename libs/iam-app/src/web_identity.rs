//! STS `AssumeRoleWithWebIdentity`: an OpenID Connect ID token from a provider registered in
//! the role's account is traded for a role session. The request is unsigned (the token is the
//! credential), so everything an attacker sends is checked before it is believed: the token by
//! `iam-oidc` against the provider's keys, then the role's trust policy with the token's claims
//! as condition keys (`<provider>:sub`, `:aud`, `:amr`, ...), then AWS's session rules.
//!
//! Keys come from the provider's registration when it carries them, else from the issuer's
//! discovery document (`/.well-known/openid-configuration` → `jwks_uri`), fetched with bounded
//! size and time and kept for five minutes per provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_audit::{AuditRecord, UserIdentity};
use iam_domain::oidc::OidcProvider;
use iam_domain::session::{
    assumed_role_arn, expiry, role_of, AssumeRoleRequest, SessionClaims, SessionKind, WebIdentity,
};
use iam_oidc::{discovery, unverified_issuer, verify, Jwks, VerifiedToken, VerifyOptions};
use iam_policy::{
    evaluate, Caller, Context, ContextValue, DecisionEffect, Policies, PolicySet, PolicySource, PolicyType,
    PrincipalKind, Request,
};
use iam_types::{ErrorCode, IdKind, UniqueId};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::management::{bounded_parameters, bounded_text};
use crate::sts::{IssuedCredentials, EVENT_SOURCE_STS};
use crate::{random_bytes, AppError, Gatehouse};

/// How long fetched keys are used before they are fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// How long one fetch (discovery document or key set) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// `AssumeRoleWithWebIdentity`'s parameters. The token is a bearer credential: its `Debug` and
/// the call's record leave it out.
pub struct WebIdentityRequest {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `WebIdentityToken`.
    pub web_identity_token: Zeroizing<String>,
    /// `DurationSeconds`.
    pub duration_seconds: Option<u32>,
    /// `Policy`.
    pub policy: Option<String>,
    /// `PolicyArns`.
    pub policy_arns: Vec<String>,
    /// `ProviderId`: only for OAuth 2.0 access tokens (Amazon, Facebook), which Gatehouse does
    /// not take.
    pub provider_id: Option<String>,
}

impl std::fmt::Debug for WebIdentityRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebIdentityRequest")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .finish_non_exhaustive()
    }
}

/// Where an unsigned request came from.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    /// The address.
    pub source_ip: Option<String>,
    /// The client.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: String,
}

/// A web-identity session, and what AWS's answer says of the token.
pub struct WebIdentitySession {
    /// The session's credentials.
    pub credentials: IssuedCredentials,
    /// The token's `sub`.
    pub subject: String,
    /// The audience (client id) it was issued for.
    pub audience: String,
    /// The provider (`host/path`).
    pub provider: String,
}

/// Keys fetched from issuers, per provider ARN and URL.
#[derive(Default)]
pub(crate) struct JwksCache {
    entries: Mutex<HashMap<String, (Instant, Arc<Jwks>)>>,
}

fn invalid_token(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidIdentityToken, message)
}

fn oidc_error(error: &iam_oidc::OidcError) -> AppError {
    let code = match error.code() {
        iam_oidc::ErrorCode::ExpiredToken => ErrorCode::ExpiredTokenException,
        iam_oidc::ErrorCode::IdpRejectedClaim => ErrorCode::IdpRejectedClaim,
        iam_oidc::ErrorCode::IdpCommunicationError => ErrorCode::IdpCommunicationError,
        iam_oidc::ErrorCode::ValidationError => ErrorCode::ValidationError,
        iam_oidc::ErrorCode::InvalidInput => ErrorCode::InvalidInput,
        iam_oidc::ErrorCode::InvalidIdentityToken => ErrorCode::InvalidIdentityToken,
    };
    AppError::new(code, error.to_string())
}

/// GETs `url` (at most `max` bytes, within [`FETCH_TIMEOUT`]) on a blocking thread.
async fn fetch(url: String, max: usize) -> Result<String, AppError> {
    let failed = |why: String| AppError::new(ErrorCode::IdpCommunicationError, why);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .max_redirects(0)
            .build()
            .into();
        let mut response = agent.get(&url).call().map_err(|e| {
            failed(format!(
                "Couldn't retrieve verification key from your identity provider: {e}"
            ))
        })?;
        response
            .body_mut()
            .with_config()
            .limit(max as u64)
            .read_to_string()
            .map_err(|e| failed(format!("the identity provider's answer at {url} cannot be read: {e}")))
    })
    .await
    .map_err(|e| failed(e.to_string()))?
}

impl Gatehouse {
    /// The provider's keys: registered with it, or fetched from its issuer (cached).
    async fn provider_keys(
        &self,
        provider: &OidcProvider,
        registered: &iam_oidc::RegisteredProvider,
    ) -> Result<Arc<Jwks>, AppError> {
        if let Some(jwks) = registered.registered_jwks() {
            return Ok(Arc::new(jwks.clone()));
        }
        let cache_key = format!("{} {}", provider.arn, provider.url);
        if let Ok(entries) = self.jwks_cache.entries.lock() {
            if let Some((fetched, jwks)) = entries.get(&cache_key) {
                if fetched.elapsed() < JWKS_TTL {
                    return Ok(jwks.clone());
                }
            }
        }
        let url = registered.url();
        let document = fetch(url.discovery_url(), discovery::MAX_DISCOVERY_BYTES).await?;
        let found = discovery::parse(&document, url).map_err(|e| oidc_error(&e))?;
        let text = fetch(found.jwks_uri().to_owned(), iam_oidc::MAX_JWKS_BYTES).await?;
        let jwks = Arc::new(Jwks::parse(&text).map_err(|e| {
            AppError::new(
                ErrorCode::IdpCommunicationError,
                format!("the provider's key set is not usable: {e}"),
            )
        })?);
        if let Ok(mut entries) = self.jwks_cache.entries.lock() {
            if entries.len() >= 1_000 {
                entries.clear();
            }
            entries.insert(cache_key, (Instant::now(), jwks.clone()));
        }
        Ok(jwks)
    }

    /// `AssumeRoleWithWebIdentity` (see the module): verifies the token, decides the role's trust
    /// policy on its claims, issues a role session and records the call in the role's account.
    ///
    /// # Errors
    /// `InvalidIdentityToken` / `ExpiredTokenException` for the token, `AccessDenied` when the
    /// trust policy does not allow it (also for a role that does not exist), `IDPCommunicationError`
    /// when the issuer's keys cannot be fetched, and the session rules' `ValidationError`s.
    pub async fn assume_role_with_web_identity(
        &self,
        request: &WebIdentityRequest,
        origin: &RequestOrigin,
    ) -> Result<WebIdentitySession, AppError> {
        let now = Utc::now();
        let role_account = role_of(&request.role_arn).ok().map(|(account, _)| account);
        let outcome = self.issue_web_identity_session(request, origin, now).await;
        if let Some(account) = role_account.filter(|a| self.account(a).is_some()) {
            let mut record = web_identity_record(request, origin, &account, &outcome, now);
            if let Some(organization) = self.organization_of(&account) {
                record.set_organization_id(&organization);
            }
            self.record(vec![record]).await?;
        }
        outcome
    }

    async fn issue_web_identity_session(
        &self,
        request: &WebIdentityRequest,
        origin: &RequestOrigin,
        now: chrono::DateTime<Utc>,
    ) -> Result<WebIdentitySession, AppError> {
        let denied = |why: &str| {
            AppError::new(
                ErrorCode::AccessDenied,
                format!("Not authorized to perform sts:AssumeRoleWithWebIdentity {why}"),
            )
        };
        if request.provider_id.is_some() {
            return Err(AppError::new(
                ErrorCode::InvalidParameterValue,
                "ProviderId is for OAuth 2.0 access tokens, which Gatehouse does not take: send an OpenID Connect ID token",
            ));
        }
        let (role_account, role_name) = role_of(&request.role_arn).map_err(AppError::from)?;
        let model = self.account(&role_account).ok_or_else(|| denied("(no such role)"))?;
        let state = model.state().clone();
        let role = state
            .role(&role_name)
            .filter(|role| role.arn.to_string() == request.role_arn)
            .ok_or_else(|| denied("(no such role)"))?;
        let checked = AssumeRoleRequest {
            role_arn: request.role_arn.clone(),
            role_session_name: request.role_session_name.clone(),
            duration_seconds: request.duration_seconds,
            policy: request.policy.clone(),
            policy_arns: request.policy_arns.clone(),
            ..AssumeRoleRequest::default()
        };
        let (duration, _) = checked.check(role, None).map_err(AppError::from)?;

        let issuer = unverified_issuer(&request.web_identity_token).map_err(|e| oidc_error(&e))?;
        let provider = state
            .oidc_provider_for(issuer.as_str())
            .ok_or_else(|| invalid_token(format!("No OpenIDConnect provider found in your account for {issuer}")))?;
        let registered = provider.registered().map_err(|e| oidc_error(&e))?;
        let jwks = self.provider_keys(provider, &registered).await?;
        let verified = verify(
            &request.web_identity_token,
            &registered,
            &jwks,
            now,
            &VerifyOptions::default(),
        )
        .map_err(|e| oidc_error(&e))?;

        let context = trust_context(&verified, &provider.arn, request, origin, now);
        let trust_document = iam_policy::parse_policy(&role.assume_role_policy_document)
            .map_err(|_| denied("(the role's trust policy cannot be read)"))?;
        let trust = PolicySet::compile([(
            PolicySource::new(role.arn.to_string(), PolicyType::Resource),
            &trust_document,
        )])
        .map_err(|_| denied("(the role's trust policy cannot be read)"))?;
        let caller = Caller {
            kind: PrincipalKind::WebIdentity,
            arn: provider.arn.clone(),
            account: String::new(),
            role_arn: None,
        };
        let decision = evaluate(
            &Policies {
                resource: Some(&trust),
                ..Policies::default()
            },
            &Request {
                caller: &caller,
                action: "sts:AssumeRoleWithWebIdentity",
                resource: &request.role_arn,
                resource_account: None,
                context: &context,
            },
        );
        if decision.effect != DecisionEffect::Allowed {
            return Err(denied(&format!(
                "on {}: the role's trust policy does not allow this token",
                bounded_text(&request.role_arn)
            )));
        }

        let claims = SessionClaims {
            kind: SessionKind::AssumedRole,
            account_id: role_account.clone(),
            access_key_id: UniqueId::generate(IdKind::TemporaryAccessKey, random_bytes())
                .as_str()
                .to_owned(),
            secret_access_key: iam_secrets::secret_access_key(&random_bytes()).to_string(),
            principal_arn: assumed_role_arn(role, &role_account, &request.role_session_name),
            issuer_arn: role.arn.to_string(),
            issuer_id: role.role_id.to_string(),
            session_name: request.role_session_name.clone(),
            issued_at: now,
            expires_at: expiry(now, duration),
            session_policy: request.policy.clone(),
            policy_arns: request.policy_arns.clone(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            mfa_authenticated: false,
            chained: false,
            issued_to: provider.arn.clone(),
            web_identity: Some(WebIdentity {
                provider_arn: provider.arn.clone(),
                subject: verified.sub().to_owned(),
                audience: verified.aud().to_owned(),
            }),
        };
        let credentials = self.seal_session(claims)?;
        Ok(WebIdentitySession {
            credentials,
            subject: verified.sub().to_owned(),
            audience: verified.aud().to_owned(),
            provider: provider.name().to_owned(),
        })
    }
}

/// The trust policy's condition keys: the token's claims, and the request's own.
fn trust_context(
    verified: &VerifiedToken,
    provider_arn: &str,
    request: &WebIdentityRequest,
    origin: &RequestOrigin,
    now: chrono::DateTime<Utc>,
) -> Context {
    let mut context = Context::new();
    for (key, value) in verified.condition_keys(provider_arn) {
        let value = match value {
            Value::String(text) => ContextValue::single(text),
            Value::Array(items) => ContextValue::list(items.iter().filter_map(|v| v.as_str().map(str::to_owned))),
            other => ContextValue::single(other.to_string()),
        };
        context.insert(&key, value);
    }
    context.insert(
        "sts:RoleSessionName",
        ContextValue::single(request.role_session_name.clone()),
    );
    context.insert(
        "aws:CurrentTime",
        ContextValue::single(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    context.insert("aws:EpochTime", ContextValue::single(now.timestamp().to_string()));
    if let Some(ip) = &origin.source_ip {
        context.insert("aws:SourceIp", ContextValue::single(ip.clone()));
    }
    context
}

/// CloudTrail's record of the call: `userIdentity.type` `WebIdentityUser` for a verified token,
/// `Unknown` otherwise; never the token.
fn web_identity_record(
    request: &WebIdentityRequest,
    origin: &RequestOrigin,
    account: &str,
    outcome: &Result<WebIdentitySession, AppError>,
    now: chrono::DateTime<Utc>,
) -> AuditRecord {
    let (identity, response, error_code, error_message) = match outcome {
        Ok(session) => (
            UserIdentity {
                identity_type: "WebIdentityUser".into(),
                principal_id: format!("{}:{}:{}", session.provider, session.audience, session.subject),
                arn: String::new(),
                account_id: account.to_owned(),
                access_key_id: None,
                user_name: Some(bounded_text(&session.subject)),
                session_context: None,
                identity_provider: Some(session.provider.clone()),
            },
            json!({
                "credentials": {"accessKeyId": session.credentials.access_key_id, "expiration": session.credentials.expiration},
                "subjectFromWebIdentityToken": session.subject,
                "assumedRoleUser": {"assumedRoleId": session.credentials.assumed_role_id, "arn": session.credentials.assumed_role_arn},
                "provider": session.provider,
                "audience": session.audience,
            }),
            None,
            None,
        ),
        Err(error) => (
            UserIdentity {
                identity_type: "Unknown".into(),
                principal_id: String::new(),
                arn: String::new(),
                account_id: account.to_owned(),
                access_key_id: None,
                user_name: None,
                session_context: None,
                identity_provider: None,
            },
            Value::Null,
            Some(error.code.as_str().to_owned()),
            Some(bounded_text(&error.message)),
        ),
    };
    let mut parameters = json!({
        "roleArn": request.role_arn,
        "roleSessionName": request.role_session_name,
        "durationSeconds": request.duration_seconds,
        "policy": request.policy,
        "policyArns": request.policy_arns,
    });
    if let Some(object) = parameters.as_object_mut() {
        object.retain(|_, value| !value.is_null() && value != &json!([]));
    }
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: identity,
        event_time: now,
        event_source: EVENT_SOURCE_STS.into(),
        event_name: "AssumeRoleWithWebIdentity".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: origin.source_ip.clone().unwrap_or_default(),
        user_agent: origin.user_agent.clone().unwrap_or_default(),
        request_parameters: bounded_parameters(parameters),
        response_elements: response,
        error_code,
        error_message,
        request_id: origin.request_id.clone(),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: true,
        event_type: "AwsApiCall".into(),
        api_version: Some("2011-06-15".into()),
        recipient_account_id: account.to_owned(),
        additional_event_data: None,
    }
}
