//! AWS Organizations on its own wire protocol, botocore's `json` 1.1: `POST /` with
//! `X-Amz-Target: AWSOrganizationsV20161128.<Operation>` and a JSON body, answered with
//! `application/x-amz-json-1.1`; errors as `{"__type": <code>, "Message": ...}`. It is the door the
//! organizations use cases will come through; today `CreateAccount` is the one operation.
//!
//! As elsewhere this layer only translates: `CreateAccount` is `Gatehouse::create_member_account`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_app::access::ApiCaller;
use iam_app::management::MemberAccountRequest;
use iam_app::{AppError, Gatehouse};
use iam_types::ErrorCode;
use serde_json::{json, Value};

/// The target prefix of every Organizations operation.
pub const TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error in the json protocol's shape. `code` is the exception's name (`__type`).
pub fn error_response(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({ "__type": code, "Message": message });
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

/// Organizations' exception for one of Gatehouse's error codes.
fn exception(error: &AppError) -> (u16, &'static str) {
    match error.code {
        ErrorCode::AccessDenied => (400, "AccessDeniedException"),
        ErrorCode::ValidationError | ErrorCode::InvalidInput | ErrorCode::MalformedPolicyDocument => {
            (400, "InvalidInputException")
        }
        ErrorCode::LimitExceeded => (400, "ConstraintViolationException"),
        ErrorCode::Throttling => (400, "TooManyRequestsException"),
        _ => (500, "ServiceException"),
    }
}

fn from_app(error: &AppError) -> Response {
    let (status, code) = exception(error);
    error_response(status, code, &error.message)
}

fn unknown_operation(message: String) -> Response {
    error_response(400, "UnknownOperationException", &message)
}

/// Answers one json-protocol request of an authenticated caller; `target` is `X-Amz-Target`.
pub async fn handle(gatehouse: &Gatehouse, caller: &ApiCaller, target: Option<&str>, body: &[u8]) -> Response {
    let Some(target) = target else {
        return unknown_operation("The request has no X-Amz-Target header naming its operation.".to_owned());
    };
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        let shown: String = target.chars().take(128).collect();
        return unknown_operation(format!("{shown} is not an AWS Organizations operation."));
    };
    let input: Value = match serde_json::from_slice(body) {
        Ok(Value::Object(input)) => Value::Object(input),
        Ok(_) | Err(_) => {
            return error_response(400, "SerializationException", "The request body is not a JSON object.")
        }
    };
    let caller = &ApiCaller {
        api_version: Some("2016-11-28".to_owned()),
        ..caller.clone()
    };
    match operation {
        "CreateAccount" => create_account(gatehouse, caller, &input).await,
        _ => {
            let shown: String = operation.chars().take(128).collect();
            unknown_operation(format!(
                "The operation {shown} is not supported by Gatehouse's AWS Organizations endpoint (CreateAccount is)."
            ))
        }
    }
}

/// A request the json protocol refuses before any use case runs: the exception and its message.
struct Refusal(&'static str, String);

impl Refusal {
    fn response(&self) -> Response {
        error_response(400, self.0, &self.1)
    }
}

fn text(input: &Value, member: &str) -> Result<Option<String>, Refusal> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Refusal("SerializationException", format!("{member} must be a string"))),
    }
}

fn required(input: &Value, member: &str) -> Result<String, Refusal> {
    text(input, member)?.ok_or_else(|| {
        Refusal(
            "InvalidInputException",
            format!("The request must contain the parameter {member}."),
        )
    })
}

fn member_account_request(input: &Value) -> Result<MemberAccountRequest, Refusal> {
    Ok(MemberAccountRequest {
        account_name: required(input, "AccountName")?,
        email: required(input, "Email")?,
        role_name: text(input, "RoleName")?,
    })
}

async fn create_account(gatehouse: &Gatehouse, caller: &ApiCaller, input: &Value) -> Response {
    let request = match member_account_request(input) {
        Ok(request) => request,
        Err(refused) => return refused.response(),
    };
    match gatehouse.create_member_account(caller, &request).await {
        Ok(created) => {
            let epoch = |at: chrono::DateTime<chrono::Utc>| at.timestamp_millis() as f64 / 1000.0;
            let body = json!({
                "CreateAccountStatus": {
                    "Id": created.request_id,
                    "AccountName": created.account_name,
                    "State": "SUCCEEDED",
                    "RequestedTimestamp": epoch(created.requested),
                    "CompletedTimestamp": epoch(created.completed),
                    "AccountId": created.account_id,
                }
            });
            (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
        }
        Err(error) => from_app(&error),
    }
}
