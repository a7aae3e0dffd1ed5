//! AWS's own wire protocol, the `query` protocol of botocore's service models, on `POST /`:
//! IAM (`2010-05-08`) and STS (`2011-06-15`), told apart by the SigV4 credential scope's service.
//! A form-encoded `Action=...&Version=...` request in, an XML answer in AWS's namespace out, with
//! `ResponseMetadata/RequestId`; errors as `ErrorResponse/Error/{Type, Code, Message}` with AWS's
//! HTTP statuses.
//!
//! This layer only translates: every action is the same `iam-app` use case the GraphQL API calls
//! (`manage` for changes, `authorize_read` + `read_call_record` for reads), so it is authorized,
//! audited and tokened exactly alike. First slice: `CreateUser`, `GetUser`, `ListUsers`,
//! `DeleteUser` and STS `GetCallerIdentity`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_app::access::ApiCaller;
use iam_app::{AppError, Gatehouse};
use iam_domain::{Command, Read, TagInput, User};
use iam_types::ErrorCode;

/// IAM's XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A query-protocol request's parameters, in the order sent.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(body: &[u8]) -> Params {
        Params(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<String, WireError> {
        self.get(name).map(str::to_owned).ok_or_else(|| {
            WireError::new(
                "MissingParameter",
                400,
                format!("The request must contain the parameter {name}."),
            )
        })
    }

    /// `Tags.member.N.Key` / `.Value`.
    fn tags(&self) -> Vec<TagInput> {
        let mut tags: Vec<(u32, TagInput)> = Vec::new();
        for (key, value) in &self.0 {
            let Some(rest) = key.strip_prefix("Tags.member.") else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            let index = match tags.iter().position(|(m, _)| *m == n) {
                Some(index) => index,
                None => {
                    tags.push((n, TagInput::new("", "")));
                    tags.len() - 1
                }
            };
            match field {
                "Key" => tags[index].1.key = value.clone(),
                "Value" => tags[index].1.value = value.clone(),
                _ => {}
            }
        }
        tags.sort_by_key(|(n, _)| *n);
        tags.into_iter().map(|(_, tag)| tag).collect()
    }
}

/// An error as the query protocol answers it.
#[derive(Debug)]
pub struct WireError {
    code: String,
    status: u16,
    message: String,
}

impl WireError {
    fn new(code: &str, status: u16, message: impl Into<String>) -> Self {
        WireError {
            code: code.to_owned(),
            status,
            message: message.into(),
        }
    }
}

impl From<AppError> for WireError {
    fn from(error: AppError) -> Self {
        WireError::new(error.code.as_str(), error.code.http_status(), error.message)
    }
}

/// `&`, `<`, `>`, `"`, `'` as XML entities.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A small XML writer: elements in order, text escaped.
#[derive(Default)]
struct Xml(String);

impl Xml {
    fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape(text));
        self.close(tag)
    }
}

/// `<Action>Response xmlns=...><Action>Result>{result}</...><ResponseMetadata>...`.
fn answer(namespace: &str, action: &str, request_id: &str, result: Option<Xml>) -> Response {
    let mut xml = Xml::default();
    xml.0.push_str(&format!("<{action}Response xmlns=\"{namespace}\">"));
    if let Some(result) = result {
        xml.open(&format!("{action}Result"));
        xml.0.push_str(&result.0);
        xml.close(&format!("{action}Result"));
    }
    xml.open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata");
    xml.close(&format!("{action}Response"));
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], xml.0).into_response()
}

/// The query protocol's error document.
pub fn error_response(namespace: &str, status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let mut xml = Xml::default();
    xml.0.push_str(&format!("<ErrorResponse xmlns=\"{namespace}\">"));
    xml.open("Error")
        .leaf("Type", kind)
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error");
    xml.leaf("RequestId", request_id);
    xml.close("ErrorResponse");
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "text/xml")], xml.0).into_response()
}

fn user_xml(xml: &mut Xml, user: &User) {
    xml.leaf("Path", user.path.as_str())
        .leaf("UserName", user.user_name.as_str())
        .leaf("UserId", user.user_id.as_str())
        .leaf("Arn", &user.arn.to_string())
        .leaf("CreateDate", &user.create_date.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if let Some(boundary) = &user.permissions_boundary {
        xml.open("PermissionsBoundary")
            .leaf("PermissionsBoundaryType", "Policy")
            .leaf("PermissionsBoundaryArn", &boundary.to_string())
            .close("PermissionsBoundary");
    }
    if !user.tags.is_empty() {
        xml.open("Tags");
        for tag in &user.tags {
            xml.open("member")
                .leaf("Key", tag.key())
                .leaf("Value", tag.value())
                .close("member");
        }
        xml.close("Tags");
    }
}

/// The namespace answers of a service use.
#[must_use]
pub fn namespace_of(service: &str) -> &'static str {
    if service == "sts" {
        STS_NAMESPACE
    } else {
        IAM_NAMESPACE
    }
}

/// Answers one query-protocol request of an authenticated caller.
pub async fn handle(gatehouse: &Gatehouse, caller: &ApiCaller, service: &str, body: &[u8]) -> Response {
    let params = Params::parse(body);
    let namespace = namespace_of(service);
    let action = params.get("Action").unwrap_or_default().to_owned();
    let outcome = match (service, action.as_str()) {
        ("iam", "CreateUser") => create_user(gatehouse, caller, &params).await,
        ("iam", "GetUser") => get_user(gatehouse, caller, &params).await,
        ("iam", "ListUsers") => list_users(gatehouse, caller, &params).await,
        ("iam", "DeleteUser") => delete_user(gatehouse, caller, &params).await,
        ("sts", "GetCallerIdentity") => get_caller_identity(gatehouse, caller).await,
        _ => Err(WireError::new(
            "InvalidAction",
            400,
            format!("The action {action} is not valid for this web service."),
        )),
    };
    match outcome {
        Ok(result) => answer(namespace, &action, &caller.request_id, result),
        Err(error) => error_response(namespace, error.status, &error.code, &error.message, &caller.request_id),
    }
}

type Outcome = Result<Option<Xml>, WireError>;

async fn create_user(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = params.required("UserName")?;
    let command = Command::CreateUser {
        user_name: user_name.clone(),
        path: params.get("Path").map(str::to_owned),
        permissions_boundary: params.get("PermissionsBoundary").map(str::to_owned),
        tags: params.tags(),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let user = executed
        .model
        .state()
        .user(&user_name)
        .cloned()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new user is missing"))?;
    let mut xml = Xml::default();
    xml.open("User");
    user_xml(&mut xml, &user);
    xml.close("User");
    Ok(Some(xml))
}

/// Records a read-only call (refused or answered); a record that cannot be made durable fails
/// the call.
async fn recorded(gatehouse: &Gatehouse, caller: &ApiCaller, read: &Read, outcome: Outcome) -> Outcome {
    let error = outcome.as_ref().err().map(|e| {
        AppError::new(
            ErrorCode::from_name(&e.code).unwrap_or(ErrorCode::ValidationError),
            e.message.clone(),
        )
    });
    gatehouse
        .record(vec![gatehouse.read_call_record(caller, read, error.as_ref())])
        .await?;
    outcome
}

/// `GetUser`: the named user, or without `UserName` the caller itself (an IAM user).
async fn get_user(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = match params.get("UserName") {
        Some(name) => name.to_owned(),
        None => caller
            .principal_arn
            .split_once(":user/")
            .map(|(_, path_and_name)| path_and_name.rsplit('/').next().unwrap_or_default().to_owned())
            .ok_or_else(|| {
                WireError::new(
                    "ValidationError",
                    400,
                    "Must specify userName when calling with non-User credentials",
                )
            })?,
    };
    let read = Read::GetUser {
        user_name: user_name.clone(),
    };
    let outcome = match gatehouse.authorize_read(caller, &read) {
        Err(denied) => Err(denied.into()),
        Ok(model) => match model.state().user(&user_name) {
            None => Err(WireError::new(
                "NoSuchEntity",
                404,
                format!("The user with name {user_name} cannot be found."),
            )),
            Some(user) => {
                let mut xml = Xml::default();
                xml.open("User");
                user_xml(&mut xml, user);
                xml.close("User");
                Ok(Some(xml))
            }
        },
    };
    recorded(gatehouse, caller, &read, outcome).await
}

/// `ListUsers` with `PathPrefix`, `MaxItems` (1 to 1000, 100 by default) and `Marker`.
async fn list_users(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let read = Read::ListUsers {
        path_prefix: path_prefix.clone(),
    };
    let max_items = match params.get("MaxItems").map(str::parse::<usize>) {
        None => Ok(100),
        Some(Ok(n)) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(WireError::new(
            "ValidationError",
            400,
            "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000",
        )),
    };
    let outcome = match (gatehouse.authorize_read(caller, &read), max_items) {
        (Err(denied), _) => Err(denied.into()),
        (_, Err(invalid)) => Err(invalid),
        (Ok(model), Ok(max_items)) => {
            let marker = params.get("Marker").unwrap_or_default();
            let matching: Vec<&User> = model
                .state()
                .users()
                .filter(|u| path_prefix.as_deref().is_none_or(|p| u.path.as_str().starts_with(p)))
                .filter(|u| marker.is_empty() || u.user_name.as_str().to_lowercase().as_str() > marker)
                .collect();
            let page = &matching[..matching.len().min(max_items)];
            let truncated = matching.len() > page.len();
            let mut xml = Xml::default();
            xml.open("Users");
            for user in page {
                xml.open("member");
                user_xml(&mut xml, user);
                xml.close("member");
            }
            xml.close("Users");
            xml.leaf("IsTruncated", if truncated { "true" } else { "false" });
            if let (true, Some(last)) = (truncated, page.last()) {
                xml.leaf("Marker", &last.user_name.as_str().to_lowercase());
            }
            Ok(Some(xml))
        }
    };
    recorded(gatehouse, caller, &read, outcome).await
}

async fn delete_user(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = params.required("UserName")?;
    gatehouse.manage(caller, Command::DeleteUser { user_name }).await?;
    Ok(None)
}

/// STS `GetCallerIdentity`: needs no permission, as in AWS.
async fn get_caller_identity(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    let user_id = gatehouse
        .account(&caller.account_id)
        .map(|model| iam_app::access::user_identity(model.state(), &caller.principal_arn, None).principal_id)
        .unwrap_or_default();
    let record = gatehouse.read_record(caller, "GetCallerIdentity", &[], serde_json::json!({}), None);
    gatehouse.record(vec![record]).await?;
    let mut xml = Xml::default();
    xml.leaf("UserId", &user_id)
        .leaf("Account", &caller.account_id)
        .leaf("Arn", &caller.principal_arn);
    Ok(Some(xml))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_in_member_order() {
        let params = Params::parse(
            b"Action=CreateUser&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=x%26y&Tags.member.2.Value=",
        );
        let tags = params.tags();
        assert_eq!(tags, vec![TagInput::new("a", "x&y"), TagInput::new("b", "")]);
    }

    #[test]
    fn text_is_escaped() {
        let mut xml = Xml::default();
        xml.leaf("M", "a<b & 'c' \"d\">");
        assert_eq!(xml.0, "<M>a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;</M>");
    }
}
