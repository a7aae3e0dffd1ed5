//! Gatehouse's HTTP edge: the GraphQL admin API over axum (`POST /graphql`, GraphiQL at
//! `GET /graphql`), SigV4 authentication of every API request, and `GET /health`.

pub mod auth;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use iam_app::Gatehouse;
use iam_domain::AccessKeyOwner;
use iam_graphql::{build_schema, Caller, GatehouseSchema};

use crate::auth::{authenticate, AuthError, AuthSettings, CredentialStore, KeyRecord};

/// Largest request body accepted (policies are at most tens of kilobytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct Gateway {
    gatehouse: Arc<Gatehouse>,
    schema: GatehouseSchema,
    auth: Arc<AuthSettings>,
}

impl Gateway {
    /// A gateway over a service.
    pub fn new(gatehouse: Arc<Gatehouse>, auth: AuthSettings) -> Self {
        let schema = build_schema(gatehouse.clone());
        Gateway {
            gatehouse,
            schema,
            auth: Arc::new(auth),
        }
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/graphql", get(graphiql).post(graphql))
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
        let secret = self.0.open_secret(&account_id, access_key_id, &key.secret_ciphertext)?;
        Some(KeyRecord {
            account_id,
            principal_arn,
            active: key.status == iam_domain::AccessKeyStatus::Active,
            secret,
        })
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

async fn graphql(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ValidationError",
            "request body is larger than 1 MiB",
        );
    };
    let request_id = uuid::Uuid::now_v7().to_string();
    let authenticated = match authenticate(
        &parts,
        &body,
        &Keys(&gateway.gatehouse),
        &gateway.auth,
        chrono::Utc::now(),
    ) {
        Ok(authenticated) => authenticated,
        Err(error) => {
            tracing::info!(request_id, code = error.aws_code(), "request refused at authentication");
            return auth_failure(&error);
        }
    };
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
        account_id: authenticated.account_id,
        principal_arn: authenticated.principal_arn,
        access_key_id: authenticated.access_key_id,
        request_id: request_id.clone(),
        source_ip: Some(peer.ip().to_string()),
    };
    tracing::info!(request_id, account = %caller.account_id, principal = %caller.principal_arn, "graphql request");
    let response = gateway.schema.execute(graphql_request.data(caller)).await;
    let body = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-amzn-requestid"), request_id.as_str()),
        ],
        body,
    )
        .into_response()
}
