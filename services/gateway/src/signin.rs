//! `POST /v1/signin`: password sign-in for admin portals. JSON in
//! (`{"account", "userName", "password", "mfaCode"?, "newPassword"?, "durationSeconds"?}`),
//! temporary credentials out, signed with like any others. Unsigned, since it is how a person
//! without credentials gets some; `iam-app`'s sign-in use case slows guessing and records
//! every attempt.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_app::signin::{SignInError, SignInRequest};
use iam_secrets::password::Password;
use serde::Deserialize;
use serde_json::json;

use crate::decision::{error_body, json_response};
use crate::{observe, user_agent_of, Gateway};

/// A sign-in body is a few hundred bytes; anything far larger is refused unread.
const MAX_SIGN_IN_BYTES: usize = 8 * 1024;

/// The request body. No `Debug`: it holds the password until `Password` takes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignInBody {
    account: String,
    user_name: String,
    password: String,
    mfa_code: Option<String>,
    new_password: Option<String>,
    duration_seconds: Option<u32>,
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &error_body(code, message))
}

/// Answers one sign-in.
pub(crate) async fn sign_in(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<observe::RequestId>()
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |id| id.0.clone());
    let body = match tokio::time::timeout(gateway.limits.body_read_timeout, to_bytes(body, MAX_SIGN_IN_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationError",
                "the body is too large",
            )
        }
        Err(_) => {
            return refusal(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "the body did not arrive in time",
            )
        }
    };
    let input: SignInBody = match serde_json::from_slice(&body) {
        Ok(input) => input,
        // serde's message names the field, never echoes a value.
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                &format!("bad sign-in request: {e}"),
            )
        }
    };
    let request = SignInRequest {
        account: input.account,
        user_name: input.user_name,
        password: Password::new(input.password),
        mfa_code: input.mfa_code,
        new_password: input.new_password.map(Password::new),
        duration_seconds: input.duration_seconds,
        source_ip: Some(peer.ip().to_string()),
        user_agent: user_agent_of(&parts),
        request_id,
    };
    match gateway.gatehouse.sign_in(request).await {
        Ok(signed_in) => json_response(
            StatusCode::OK,
            &json!({
                "credentials": {
                    "accessKeyId": signed_in.credentials.access_key_id,
                    "secretAccessKey": signed_in.credentials.secret_access_key.as_str(),
                    "sessionToken": signed_in.credentials.session_token.as_str(),
                    "expiration": signed_in.credentials.expiration,
                },
                "user": {"arn": signed_in.user_arn, "accountId": signed_in.account_id},
                "mfaUsed": signed_in.mfa_used,
            }),
        ),
        Err(SignInError::Failed) => refusal(
            StatusCode::UNAUTHORIZED,
            "FailedAuthentication",
            "The account, user name, password or MFA code is not correct.",
        ),
        Err(SignInError::Throttled { retry_after_seconds }) => {
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Throttling",
                "Too many failed sign-ins; try again later.",
            );
            if let Ok(value) = retry_after_seconds.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(SignInError::MfaRequired) => refusal(
            StatusCode::UNAUTHORIZED,
            "MFARequired",
            "This user signs in with an MFA code: send mfaCode.",
        ),
        Err(SignInError::PasswordChangeRequired) => refusal(
            StatusCode::FORBIDDEN,
            "PasswordResetRequired",
            "The password must be changed: send newPassword with it.",
        ),
        Err(SignInError::PasswordExpired) => refusal(
            StatusCode::FORBIDDEN,
            "PasswordExpired",
            "The password has expired; an administrator must reset it.",
        ),
        Err(SignInError::PasswordPolicyViolation(message)) => {
            refusal(StatusCode::BAD_REQUEST, "PasswordPolicyViolation", &message)
        }
        Err(SignInError::Validation(message)) => refusal(StatusCode::BAD_REQUEST, "ValidationError", &message),
        Err(SignInError::ServiceFailure(message)) => {
            tracing::error!(error = %message, "sign-in failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceFailure",
                "sign-in failed; retry",
            )
        }
    }
    .into_response()
}
