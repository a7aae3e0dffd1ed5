//! Gatehouse's HTTP edge: the GraphQL admin API over axum (`POST /graphql`, GraphiQL at
//! `GET /graphql`), SigV4 authentication of every API request, and `GET /health`.

pub mod auth;
pub mod aws;
mod console;
pub mod decision;
pub mod observe;
pub mod serve;
mod signin;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use iam_app::access::ApiCaller;
use iam_app::auth_failures::FailedAuthentication;
use iam_app::Gatehouse;
use iam_domain::AccessKeyOwner;
use iam_graphql::{build_schema, GatehouseSchema};
use zeroize::Zeroizing;

use crate::auth::{authenticate, AuthError, AuthSettings, CredentialStore, KeyRecord};
use iam_sigv4::SigningKeyCache;

/// The header carrying a consistency token (GraphQL and the AWS wire APIs): the request is answered on the
/// caller's account at least as fresh as this sequence (a mutation's `sequence`, possibly from
/// another replica).
pub const MIN_SEQUENCE_HEADER: &str = "x-gatehouse-min-sequence";

/// The header AWS wire API answers carry the caller's account sequence in (GraphQL mutations
/// answer it as `sequence`).
pub const SEQUENCE_HEADER: &str = "x-gatehouse-sequence";

/// Largest request body accepted (policies are at most tens of kilobytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Per-request limits of the edge.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Requests per second one access key may make (a burst of twice that); `None`: no limit.
    pub per_key_rate: Option<NonZeroU32>,
    /// Time a client has to send a request's body once its headers arrived.
    pub body_read_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            per_key_rate: NonZeroU32::new(50_000),
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

type KeyedLimiter = governor::DefaultKeyedRateLimiter<String>;

/// Adds metrics to a registry at each scrape.
type RegisterMetrics = dyn Fn(&mut prometheus_client::registry::Registry) + Send + Sync;

/// What the handlers share.
#[derive(Clone)]
pub struct Gateway {
    gatehouse: Arc<Gatehouse>,
    schema: GatehouseSchema,
    auth: Arc<AuthSettings>,
    signing_keys: Arc<SigningKeyCache>,
    limits: RequestLimits,
    throttle: Option<Arc<KeyedLimiter>>,
    metrics: Arc<observe::HttpMetrics>,
    /// Metrics of the process around the gateway (iamd's embedded read model).
    more_metrics: Option<Arc<RegisterMetrics>>,
    /// The admin console's sessions (`/console`).
    console: Arc<console::Sessions>,
}

/// Which error shape a route answers in: GraphQL's (`{"errors": [...]}`) for `/graphql`, the
/// decision API's (`{"error": {"code", "message"}}`) for `/v1/*` and `/access/v1/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorShape {
    GraphQl,
    Decision,
    /// AWS's query protocol (`POST /`): an `ErrorResponse` document.
    Query,
    /// AWS's json protocol (`POST /` with `X-Amz-Target`): `{"__type", "Message"}`.
    AwsJson,
}

impl Gateway {
    /// A gateway over a service, with the default request limits.
    pub fn new(gatehouse: Arc<Gatehouse>, auth: AuthSettings) -> Self {
        Self::with_limits(gatehouse, auth, RequestLimits::default())
    }

    /// A gateway over a service with these request limits. Must be called inside a Tokio
    /// runtime: it starts the tasks that flush failed-authentication summaries and forget idle
    /// keys' rate state.
    pub fn with_limits(gatehouse: Arc<Gatehouse>, auth: AuthSettings, limits: RequestLimits) -> Self {
        let schema = build_schema(gatehouse.clone());
        let throttle = limits.per_key_rate.map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            Arc::new(governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            ))
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let gatehouse = Arc::downgrade(&gatehouse);
            let throttle = throttle.as_ref().map(Arc::downgrade);
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let Some(gatehouse) = gatehouse.upgrade() else { break };
                    if let Err(error) = gatehouse.flush_auth_failures().await {
                        tracing::warn!(%error, "failed-authentication summaries could not be recorded");
                    }
                    if let Some(limiter) = throttle.as_ref().and_then(std::sync::Weak::upgrade) {
                        limiter.retain_recent();
                    }
                }
            });
        }
        Gateway {
            console: Arc::default(),
            gatehouse,
            schema,
            auth: Arc::new(auth),
            signing_keys: Arc::new(SigningKeyCache::default()),
            limits,
            throttle,
            metrics: Arc::new(observe::HttpMetrics::default()),
            more_metrics: None,
        }
    }

    /// The same gateway, also serving the metrics `register` adds at each scrape.
    #[must_use]
    pub fn with_more_metrics(
        mut self,
        register: impl Fn(&mut prometheus_client::registry::Registry) + Send + Sync + 'static,
    ) -> Self {
        self.more_metrics = Some(Arc::new(register));
        self
    }

    /// The routes. Every request gets a request id (in `x-amzn-RequestId`, and on every log line
    /// of the request), and is counted and timed by route and status for `/metrics`.
    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        Router::new()
            .route("/", post(aws_api))
            .route("/graphql", get(graphiql).post(graphql))
            .route("/v1/signin", post(signin::sign_in))
            .route("/v1/authorize", post(decision_api))
            .route("/v1/authorize/batch", post(decision_api))
            .route("/access/v1/evaluation", post(decision_api))
            .route("/access/v1/evaluations", post(decision_api))
            .route("/health", get(|| async { "ok" }))
            .route("/health/live", get(|| async { "ok" }))
            .route("/health/ready", get(ready))
            .route("/metrics", get(metrics_text))
            .route("/.well-known/gatehouse/audit-signing-keys", get(audit_signing_keys))
            .merge(console::routes())
            .layer(axum::middleware::from_fn_with_state(metrics, observe::track))
            .with_state(self)
    }
}

/// The access keys of every account, read from the in-memory model.
struct Keys<'g>(&'g Gatehouse);

impl CredentialStore for Keys<'_> {
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord> {
        let account_id = self.0.account_of_key(access_key_id)?;
        let model = self.0.account(&account_id)?;
        let key = model.state().access_key(access_key_id)?;
        let principal_arn = match &key.owner {
            AccessKeyOwner::Root => format!("arn:aws:iam::{account_id}:root"),
            AccessKeyOwner::User { user_id } => model.state().user_by_id(user_id)?.arn.to_string(),
        };
        // A closed account's keys stop authenticating at once.
        let active = key.status == iam_domain::AccessKeyStatus::Active && !self.0.is_suspended(&account_id);
        Some(KeyRecord {
            account_id,
            principal_arn,
            active,
        })
    }

    fn secret(&self, access_key_id: &str) -> Option<Zeroizing<String>> {
        let account_id = self.0.account_of_key(access_key_id)?;
        let model = self.0.account(&account_id)?;
        let key = model.state().access_key(access_key_id)?;
        self.0.open_secret(&account_id, access_key_id, &key.secret_ciphertext)
    }

    fn session(
        &self,
        access_key_id: &str,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Arc<iam_domain::session::SessionClaims>, AuthError> {
        use iam_app::sts::SessionRefusal;
        self.0
            .open_session(access_key_id, token, now)
            .map_err(|refusal| match refusal {
                SessionRefusal::Invalid => AuthError::InvalidClientTokenId,
                SessionRefusal::Expired => AuthError::ExpiredToken,
            })
    }
}

/// Readiness: the model is loaded (it is before the server listens) and the audit log accepts
/// appends. 503 with the reason otherwise, so a load balancer sends requests elsewhere.
async fn ready(State(gateway): State<Gateway>) -> Response {
    match gateway.gatehouse.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.message).into_response(),
    }
}

/// The audit history's signing keys, public, oldest first (`{"keys": [...]}`): what a verifier
/// of digests trusts, each key after the first endorsed by the key before it.
async fn audit_signing_keys(State(gateway): State<Gateway>) -> Response {
    match gateway.gatehouse.audit_signing_keys().await {
        Ok(keys) => axum::Json(serde_json::json!({ "keys": keys })).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.message).into_response(),
    }
}

/// Prometheus's text format: the use cases' metrics and the edge's.
async fn metrics_text(State(gateway): State<Gateway>) -> Response {
    let mut registry = prometheus_client::registry::Registry::default();
    gateway.gatehouse.metrics().register(&mut registry);
    gateway.metrics.register(&mut registry);
    if let Some(register) = &gateway.more_metrics {
        register(&mut registry);
    }
    iam_telemetry::metrics_response(&registry)
}

async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    shaped_error(ErrorShape::GraphQl, status, code, message, "")
}

/// An error in the shape of the API it answers; `request_id` goes into the query protocol's
/// `ErrorResponse` (the other shapes carry it in the `x-amzn-RequestId` header only).
fn shaped_error(shape: ErrorShape, status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = match shape {
        ErrorShape::GraphQl => {
            serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
        }
        ErrorShape::Decision => decision::error_body(code, message),
        ErrorShape::Query => {
            return aws::error_response(aws::IAM_NAMESPACE, status.as_u16(), code, message, request_id)
        }
        ErrorShape::AwsJson => return aws::organizations::error_response(status.as_u16(), code, message),
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn auth_failure_message(error: &AuthError) -> String {
    // Messages never carry the canonical request: it may hold a session token.
    match error {
        AuthError::Signature(iam_sigv4::SigV4Error::SignatureDoesNotMatch { .. }) => {
            "the request signature we calculated does not match the signature you provided; check your secret access key and signing method".to_string()
        }
        other => other.to_string(),
    }
}

fn auth_failure(shape: ErrorShape, error: &AuthError, request_id: &str) -> Response {
    let status = match error {
        AuthError::Signature(e) => StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN),
        _ => StatusCode::FORBIDDEN,
    };
    shaped_error(
        shape,
        status,
        error.aws_code(),
        &auth_failure_message(error),
        request_id,
    )
}

/// The access key id a request claims (for the record of its failure), if it names one.
fn claimed_key(parts: &axum::http::request::Parts) -> Option<String> {
    let request = auth::signable_request(parts, &[]);
    iam_sigv4::parse_authorization(&request)
        .ok()
        .map(|claim| claim.access_key_id().to_owned())
        .filter(|id| id.len() <= 128)
}

/// Reads the body and authenticates the request; a refusal is the ready response.
async fn authenticated(
    gateway: &Gateway,
    peer: SocketAddr,
    request: Request<Body>,
    shape: ErrorShape,
) -> Result<(ApiCaller, axum::body::Bytes, String), Response> {
    let (parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<observe::RequestId>()
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |id| id.0.clone());
    let body = match tokio::time::timeout(gateway.limits.body_read_timeout, to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return Err(shaped_error(
                shape,
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationError",
                "request body is larger than 1 MiB",
                &request_id,
            ))
        }
        Err(_) => {
            return Err(shaped_error(
                shape,
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "the request body did not arrive in time",
                &request_id,
            ))
        }
    };
    let authenticated = match authenticate(
        &parts,
        &body,
        &Keys(&gateway.gatehouse),
        &gateway.signing_keys,
        &gateway.auth,
        if matches!(shape, ErrorShape::Query | ErrorShape::AwsJson) {
            &["iam", "sts", "organizations"]
        } else {
            &["iam"]
        },
        chrono::Utc::now(),
    ) {
        Ok(authenticated) => authenticated,
        Err(error) => {
            tracing::info!(request_id, code = error.aws_code(), "request refused at authentication");
            let failure = FailedAuthentication {
                access_key_id: claimed_key(&parts),
                error_code: error.aws_code().to_owned(),
                message: auth_failure_message(&error),
                source_ip: Some(peer.ip().to_string()),
                user_agent: user_agent_of(&parts),
                request_id: request_id.clone(),
                region: gateway.auth.region.clone(),
                path: parts.uri.path().chars().take(256).collect(),
            };
            if let Err(record_error) = gateway.gatehouse.record_auth_failure(failure).await {
                tracing::warn!(request_id, error = %record_error, "a failed authentication could not be recorded");
            }
            return Err(auth_failure(shape, &error, &request_id));
        }
    };
    if let Some(limiter) = &gateway.throttle {
        // Sessions count against whoever they were issued to: minting sessions (one throttled
        // AssumeRole each) must not multiply a principal's rate.
        let bucket = match &authenticated.session {
            Some(session) => format!("sessions-of:{}", session.issued_to),
            None => authenticated.access_key_id.clone(),
        };
        if let Err(not_until) = limiter.check_key(&bucket) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = shaped_error(
                shape,
                StatusCode::TOO_MANY_REQUESTS,
                "Throttling",
                "Rate exceeded: this access key sends more requests than it may; retry after the time in Retry-After",
                &request_id,
            );
            if let Ok(value) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Err(response);
        }
    }
    let user_agent = user_agent_of(&parts);
    Ok((
        ApiCaller {
            account_id: authenticated.account_id,
            principal_arn: authenticated.principal_arn,
            access_key_id: Some(authenticated.access_key_id),
            source_ip: Some(peer.ip().to_string()),
            user_agent,
            request_id,
            region: gateway.auth.region.clone(),
            api_version: None,
            session: authenticated.session,
        },
        body,
        authenticated.service,
    ))
}

/// Whether a form body has `name=value` as one of its pairs (exact bytes, as SDKs send them).
fn form_urlencoded_has(body: &[u8], name: &str, value: &str) -> bool {
    let wanted = format!("{name}={value}");
    body.split(|b| *b == b'&').any(|pair| pair == wanted.as_bytes())
}

fn user_agent_of(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|agent| agent.chars().take(512).collect())
}

/// AWS's wire protocols on one port, for the aws CLI and SDKs: the json protocol when the request
/// names an `X-Amz-Target` (Organizations), else the query protocol (IAM and STS, by the
/// signature's service).
async fn aws_api(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let target = request
        .headers()
        .get("x-amz-target")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let shape = if target.is_some() {
        ErrorShape::AwsJson
    } else {
        ErrorShape::Query
    };
    // An organization's consistency token: its policies are applied at least this fresh.
    let org_sequence = request
        .headers()
        .get(aws::organizations::ORG_SEQUENCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The same consistency token as GraphQL's: answer at least as fresh as this sequence.
    let min_sequence = match request
        .headers()
        .get(MIN_SEQUENCE_HEADER)
        .map(|v| v.to_str().map(str::parse::<u64>))
    {
        None => None,
        Some(Ok(Ok(sequence))) => Some(sequence),
        Some(_) => {
            return shaped_error(
                shape,
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                &format!("{MIN_SEQUENCE_HEADER} must be a sequence number"),
                "",
            )
        }
    };
    // An unsigned query-protocol request may be one of the STS calls AWS takes unsigned (the
    // web identity token is the credential); anything else goes on to be refused as unsigned.
    let request = if shape == ErrorShape::Query
        && !request.headers().contains_key(header::AUTHORIZATION)
        && !request.uri().query().is_some_and(|q| q.contains("X-Amz-Signature"))
    {
        let (parts, body) = request.into_parts();
        let request_id = parts
            .extensions
            .get::<observe::RequestId>()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), |id| id.0.clone());
        let body = match tokio::time::timeout(gateway.limits.body_read_timeout, to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(Ok(body)) => body,
            _ => {
                return shaped_error(
                    shape,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "ValidationError",
                    "request body is larger than 1 MiB or did not arrive in time",
                    &request_id,
                )
            }
        };
        let unsigned_action = aws::sts::UNSIGNED_ACTIONS
            .iter()
            .any(|action| form_urlencoded_has(&body, "Action", action));
        if unsigned_action {
            let origin = iam_app::web_identity::RequestOrigin {
                source_ip: Some(peer.ip().to_string()),
                user_agent: user_agent_of(&parts),
                request_id,
            };
            return aws::sts::handle_unsigned(&gateway.gatehouse, &body, origin).await;
        }
        Request::from_parts(parts, Body::from(body))
    } else {
        request
    };
    let (caller, body, service) = match authenticated(&gateway, peer, request, shape).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    tracing::info!(account = %caller.account_id, principal = %caller.principal_arn, %service, "aws api request");
    if let Some(sequence) = min_sequence {
        if let Err(error) = gateway.gatehouse.account_at_least(&caller.account_id, sequence).await {
            let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return shaped_error(shape, status, error.code.as_str(), &error.message, &caller.request_id);
        }
    }
    if let Some(sequence) = org_sequence {
        if let Err(error) = gateway
            .gatehouse
            .organization_at_token(&caller.account_id, sequence)
            .await
        {
            let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return shaped_error(shape, status, error.code.as_str(), &error.message, &caller.request_id);
        }
    }
    let mut response = match (service.as_str(), target) {
        ("organizations", target) => {
            aws::organizations::handle(&gateway.gatehouse, &caller, target.as_deref(), &body, org_sequence).await
        }
        (_, Some(target)) => {
            let shown: String = target.chars().take(128).collect();
            aws::organizations::error_response(
                400,
                "UnknownOperationException",
                &format!("{shown} is not an operation of the {service} service's json protocol"),
            )
        }
        (_, None) => aws::handle(&gateway.gatehouse, &caller, &service, &body).await,
    };
    // The account's sequence after the call: a consistency token a later request may carry in
    // `x-gatehouse-min-sequence` (at least as fresh as any change this call made).
    if let Some(sequence) = gateway
        .gatehouse
        .account(&caller.account_id)
        .map(|m| m.state().version())
    {
        if let Ok(value) = header::HeaderValue::from_str(&sequence.to_string()) {
            response.headers_mut().insert(SEQUENCE_HEADER, value);
        }
    }
    response
}

async fn decision_api(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let path = request.uri().path().to_owned();
    let (caller, body, _) = match authenticated(&gateway, peer, request, ErrorShape::Decision).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let gatehouse = &gateway.gatehouse;
    let response = match path.as_str() {
        "/v1/authorize" => decision::authorize_one(gatehouse, &caller, &body).await,
        "/v1/authorize/batch" => decision::authorize_batch(gatehouse, &caller, &body).await,
        "/access/v1/evaluation" => decision::authzen_evaluation(gatehouse, &caller, &body).await,
        _ => decision::authzen_evaluations(gatehouse, &caller, &body).await,
    };
    response
}

async fn graphql(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    // A consistency token: answer at least as fresh as this sequence of the caller's account.
    let min_sequence = match request
        .headers()
        .get(MIN_SEQUENCE_HEADER)
        .map(|v| v.to_str().map(str::parse::<u64>))
    {
        None => None,
        Some(Ok(Ok(sequence))) => Some(sequence),
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                &format!("{MIN_SEQUENCE_HEADER} must be a sequence number (a mutation's `sequence`)"),
            )
        }
    };
    let (api_caller, body, _) = match authenticated(&gateway, peer, request, ErrorShape::GraphQl).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let request_id = api_caller.request_id.clone();
    if let Some(sequence) = min_sequence {
        if let Err(error) = gateway
            .gatehouse
            .account_at_least(&api_caller.account_id, sequence)
            .await
        {
            return error_response(StatusCode::BAD_REQUEST, error.code.as_str(), &error.message);
        }
    }
    let graphql_request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                &format!("body is not a GraphQL request: {e}"),
            )
        }
    };
    tracing::info!(request_id, account = %api_caller.account_id, principal = %api_caller.principal_arn, "graphql request");
    let response = gateway.schema.execute(graphql_request.data(api_caller)).await;
    let body = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
