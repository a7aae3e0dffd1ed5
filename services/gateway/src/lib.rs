//! Gatehouse's HTTP edge: the GraphQL admin API over axum (`POST /graphql`, GraphiQL at
//! `GET /graphql`), SigV4 authentication of every API request, and `GET /health`.

pub mod auth;
pub mod decision;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use iam_app::access::ApiCaller;
use iam_app::Gatehouse;
use iam_domain::AccessKeyOwner;
use iam_graphql::{build_schema, Caller, GatehouseSchema};
use zeroize::Zeroizing;

use crate::auth::{authenticate, AuthError, AuthSettings, CredentialStore, KeyRecord};
use iam_sigv4::SigningKeyCache;

/// The header carrying a consistency token for GraphQL requests: the request is answered on the
/// caller's account at least as fresh as this sequence (a mutation's `sequence`, possibly from
/// another replica).
pub const MIN_SEQUENCE_HEADER: &str = "x-gatehouse-min-sequence";

/// Largest request body accepted (policies are at most tens of kilobytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct Gateway {
    gatehouse: Arc<Gatehouse>,
    schema: GatehouseSchema,
    auth: Arc<AuthSettings>,
    signing_keys: Arc<SigningKeyCache>,
}

impl Gateway {
    /// A gateway over a service.
    pub fn new(gatehouse: Arc<Gatehouse>, auth: AuthSettings) -> Self {
        let schema = build_schema(gatehouse.clone());
        Gateway {
            gatehouse,
            schema,
            auth: Arc::new(auth),
            signing_keys: Arc::new(SigningKeyCache::default()),
        }
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/graphql", get(graphiql).post(graphql))
            .route("/v1/authorize", post(decision_api))
            .route("/v1/authorize/batch", post(decision_api))
            .route("/access/v1/evaluation", post(decision_api))
            .route("/access/v1/evaluations", post(decision_api))
            .route("/health", get(|| async { "ok" }))
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
        Some(KeyRecord {
            account_id,
            principal_arn,
            active: key.status == iam_domain::AccessKeyStatus::Active,
        })
    }

    fn secret(&self, access_key_id: &str) -> Option<Zeroizing<String>> {
        let account_id = self.0.account_of_key(access_key_id)?;
        let model = self.0.account(&account_id)?;
        let key = model.state().access_key(access_key_id)?;
        self.0.open_secret(&account_id, access_key_id, &key.secret_ciphertext)
    }
}

async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn auth_failure(error: &AuthError) -> Response {
    let status = match error {
        AuthError::Signature(e) => StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN),
        _ => StatusCode::FORBIDDEN,
    };
    // Messages never carry the canonical request: it may hold a session token.
    let message = match error {
        AuthError::Signature(iam_sigv4::SigV4Error::SignatureDoesNotMatch { .. }) => {
            "the request signature we calculated does not match the signature you provided; check your secret access key and signing method".to_string()
        }
        other => other.to_string(),
    };
    error_response(status, error.aws_code(), &message)
}

/// Reads the body and authenticates the request; a refusal is the ready response.
async fn authenticated(
    gateway: &Gateway,
    peer: SocketAddr,
    request: Request<Body>,
) -> Result<(ApiCaller, axum::body::Bytes), Response> {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ValidationError",
            "request body is larger than 1 MiB",
        ));
    };
    let request_id = uuid::Uuid::now_v7().to_string();
    let authenticated = match authenticate(
        &parts,
        &body,
        &Keys(&gateway.gatehouse),
        &gateway.signing_keys,
        &gateway.auth,
        chrono::Utc::now(),
    ) {
        Ok(authenticated) => authenticated,
        Err(error) => {
            tracing::info!(request_id, code = error.aws_code(), "request refused at authentication");
            return Err(auth_failure(&error));
        }
    };
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((
        ApiCaller {
            account_id: authenticated.account_id,
            principal_arn: authenticated.principal_arn,
            access_key_id: Some(authenticated.access_key_id),
            source_ip: Some(peer.ip().to_string()),
            user_agent,
            request_id,
            region: gateway.auth.region.clone(),
        },
        body,
    ))
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = header::HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-amzn-requestid"), value);
    }
    response
}

async fn decision_api(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let path = request.uri().path().to_owned();
    let (caller, body) = match authenticated(&gateway, peer, request).await {
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
    with_request_id(response, &caller.request_id)
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
    let (api_caller, body) = match authenticated(&gateway, peer, request).await {
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
    let caller = Caller {
        account_id: api_caller.account_id.clone(),
        principal_arn: api_caller.principal_arn.clone(),
        access_key_id: api_caller.access_key_id.clone().unwrap_or_default(),
        request_id: request_id.clone(),
        source_ip: api_caller.source_ip.clone(),
    };
    tracing::info!(request_id, account = %caller.account_id, principal = %caller.principal_arn, "graphql request");
    let response = gateway
        .schema
        .execute(graphql_request.data(caller).data(api_caller))
        .await;
    let body = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    with_request_id(
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        &request_id,
    )
}
