//! AWS's own wire protocol, the `query` protocol of botocore's service models, on `POST /`:
//! IAM (`2010-05-08`) and STS (`2011-06-15`), told apart by the SigV4 credential scope's service.
//! A form-encoded `Action=...&Version=...` request in, an XML answer in AWS's namespace out, with
//! `ResponseMetadata/RequestId`; errors as `ErrorResponse/Error/{Type, Code, Message}` with AWS's
//! HTTP statuses.
//!
//! This layer only translates: every action is the same `iam-app` use case the GraphQL API calls
//! (`manage` for changes, `authorize_read` + `read_call_record` for reads), so it is authorized,
//! audited and tokened exactly alike. So far: every IAM change Gatehouse implements (users,
//! groups and membership, roles, managed policies and versions, attachments, inline policies,
//! tags, boundaries, access keys), the reads of each entity, and STS `GetCallerIdentity`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_app::access::ApiCaller;
use iam_app::{AppError, Gatehouse};
use iam_domain::{
    AccessKey, AccessKeyStatus, AuthorizationDetail, Command, EntityType, ManagedPolicy, PrincipalKind, Read, Role,
    TagInput, User,
};
use iam_types::ErrorCode;
use iam_types::IamArn;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

mod credential_report;
mod credentials;
mod instance_profiles;
mod last_accessed;
mod oidc;
pub mod organizations;
pub mod sts;

/// IAM's XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A query-protocol request's parameters, in the order sent.
struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a form body strictly, as AWS does: every `%` starts a two-digit escape and the
    /// decoded text is UTF-8 (`MalformedQueryString` otherwise); list members are numbered 1, 2,
    /// 3, ... without gaps (`ValidationError` otherwise).
    fn parse(body: &[u8]) -> Result<Params, WireError> {
        let malformed = |why: &str| {
            WireError::new(
                "MalformedQueryString",
                400,
                format!("The request body is malformed: {why}."),
            )
        };
        let text = std::str::from_utf8(body).map_err(|_| malformed("it is not UTF-8"))?;
        let mut pairs = Vec::new();
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((
                form_text(key).ok_or_else(|| malformed("a bad escape"))?,
                form_text(value).ok_or_else(|| malformed("a bad escape"))?,
            ));
        }
        let params = Params(pairs);
        params.check_lists()?;
        Ok(params)
    }

    /// Every list (`Name.member.N`, nested ones too) numbers its members 1..=n.
    fn check_lists(&self) -> Result<(), WireError> {
        let mut lists: std::collections::BTreeMap<&str, std::collections::BTreeSet<u32>> = Default::default();
        for (key, _) in &self.0 {
            for (at, _) in key.match_indices(".member.") {
                let list = &key[..at];
                let rest = &key[at + ".member.".len()..];
                let index = rest.split('.').next().unwrap_or_default();
                let index = index.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    WireError::new(
                        "ValidationError",
                        400,
                        format!("{list}.member.{index} does not number a list member (1, 2, 3, ...)"),
                    )
                })?;
                lists.entry(list).or_default().insert(index);
            }
        }
        for (list, indexes) in lists {
            if let Some(gap) = (1..)
                .zip(&indexes)
                .find(|(expected, got)| expected != *got)
                .map(|(expected, _)| expected)
            {
                return Err(WireError::new(
                    "ValidationError",
                    400,
                    format!("The list {list} has no member {gap}: members are numbered 1, 2, 3, ... without gaps"),
                ));
            }
        }
        Ok(())
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

    /// A list parameter (`Name.member.N`), in member order.
    fn members(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut found: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.parse().ok()?, v.clone())))
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// `ContextEntries.member.N.{ContextKeyName, ContextKeyType, ContextKeyValues.member.M}`.
    fn context_entries(&self) -> Vec<iam_policy::simulate::ContextEntry> {
        let mut indexes: Vec<u32> = self
            .0
            .iter()
            .filter_map(|(k, _)| {
                k.strip_prefix("ContextEntries.member.")?
                    .split('.')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
            .into_iter()
            .map(|n| {
                let prefix = format!("ContextEntries.member.{n}");
                iam_policy::simulate::ContextEntry {
                    context_key_name: self
                        .get(&format!("{prefix}.ContextKeyName"))
                        .unwrap_or_default()
                        .to_owned(),
                    context_key_values: self.members(&format!("{prefix}.ContextKeyValues")),
                    context_key_type: self
                        .get(&format!("{prefix}.ContextKeyType"))
                        .unwrap_or("string")
                        .to_owned(),
                }
            })
            .collect()
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

/// One form-encoded key or value: `+` is a space and `%XY` a byte; `None` for a bad escape or
/// text that is not UTF-8 once decoded. (`form_urlencoded` decodes leniently, keeping a bad
/// escape as text and replacing bad UTF-8, which would change what the caller sent.)
fn form_text(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8(decoded).ok()
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
        .leaf("CreateDate", &date(user.create_date));
    if let Some(last) = user.login_profile.as_deref().and_then(|p| p.password_last_used) {
        xml.leaf("PasswordLastUsed", &date(last));
    }
    boundary_xml(xml, user.permissions_boundary.as_deref());
    tags_xml(xml, &user.tags);
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
    let namespace = namespace_of(service);
    let refuse =
        |error: WireError| error_response(namespace, error.status, &error.code, &error.message, &caller.request_id);
    let params = match Params::parse(body) {
        Ok(params) => params,
        Err(malformed) => return refuse(malformed),
    };
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return refuse(WireError::new(
            "MissingAction",
            400,
            "The request must contain the parameter Action.",
        ));
    };
    if params.get("Version").is_none() {
        return refuse(WireError::new(
            "MissingParameter",
            400,
            "The request must contain the parameter Version.",
        ));
    }
    let expected_version = if service == "sts" { "2011-06-15" } else { "2010-05-08" };
    if params.get("Version").is_some_and(|version| version != expected_version) {
        let message = format!(
            "Version {} is not {service}'s API version {expected_version}",
            params.get("Version").unwrap_or_default()
        );
        return refuse(WireError::new("InvalidAction", 400, message));
    }
    // Every record of this call names the API version, as CloudTrail's `apiVersion` does.
    let caller = &ApiCaller {
        api_version: Some(expected_version.to_owned()),
        ..caller.clone()
    };
    match dispatch(gatehouse, caller, service, &action, &params).await {
        Ok(result) => answer(namespace, &action, &caller.request_id, result),
        Err(error) => error_response(namespace, error.status, &error.code, &error.message, &caller.request_id),
    }
}

/// The use case behind each action.
async fn dispatch(gatehouse: &Gatehouse, caller: &ApiCaller, service: &str, action: &str, params: &Params) -> Outcome {
    if service == "sts" {
        if let Some(outcome) = sts::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
    }
    if service == "iam" {
        if let Some(outcome) = instance_profiles::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
        if let Some(outcome) = credentials::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
        if let Some(outcome) = oidc::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
        if let Some(outcome) = credential_report::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
        if let Some(outcome) = last_accessed::dispatch(gatehouse, caller, action, params).await {
            return outcome;
        }
    }
    match (service, action) {
        ("iam", "CreateUser") => create_user(gatehouse, caller, params).await,
        ("iam", "GetUser") => get_user(gatehouse, caller, params).await,
        ("iam", "ListUsers") => list_users(gatehouse, caller, params).await,
        ("iam", "DeleteUser") => delete_user(gatehouse, caller, params).await,
        ("iam", "CreateRole") => create_role(gatehouse, caller, params).await,
        ("iam", "GetRole") => get_role(gatehouse, caller, params).await,
        ("iam", "ListRoles") => list_roles(gatehouse, caller, params).await,
        ("iam", "DeleteRole") => {
            change(
                gatehouse,
                caller,
                Command::DeleteRole {
                    role_name: params.required("RoleName")?,
                },
            )
            .await
        }
        ("iam", "CreatePolicy") => create_policy(gatehouse, caller, params).await,
        ("iam", "GetPolicy") => get_policy(gatehouse, caller, params).await,
        ("iam", "GetPolicyVersion") => get_policy_version(gatehouse, caller, params).await,
        ("iam", "ListPolicies") => list_policies(gatehouse, caller, params).await,
        ("iam", "DeletePolicy") => {
            change(
                gatehouse,
                caller,
                Command::DeletePolicy {
                    policy_arn: params.required("PolicyArn")?,
                },
            )
            .await
        }
        ("iam", "AttachUserPolicy") => {
            let command = Command::AttachUserPolicy {
                user_name: params.required("UserName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DetachUserPolicy") => {
            let command = Command::DetachUserPolicy {
                user_name: params.required("UserName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "AttachRolePolicy") => {
            let command = Command::AttachRolePolicy {
                role_name: params.required("RoleName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DetachRolePolicy") => {
            let command = Command::DetachRolePolicy {
                role_name: params.required("RoleName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "ListAttachedUserPolicies") => {
            list_attached(
                gatehouse,
                caller,
                params,
                PrincipalKind::User,
                params.required("UserName")?,
            )
            .await
        }
        ("iam", "ListAttachedRolePolicies") => {
            list_attached(
                gatehouse,
                caller,
                params,
                PrincipalKind::Role,
                params.required("RoleName")?,
            )
            .await
        }
        ("iam", "UpdateUser") => {
            let command = Command::UpdateUser {
                user_name: params.required("UserName")?,
                new_user_name: params.get("NewUserName").map(str::to_owned),
                new_path: params.get("NewPath").map(str::to_owned),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "CreateGroup") => create_group(gatehouse, caller, params).await,
        ("iam", "GetGroup") => get_group(gatehouse, caller, params).await,
        ("iam", "ListGroups") => list_groups(gatehouse, caller, params).await,
        ("iam", "ListGroupsForUser") => list_groups_for_user(gatehouse, caller, params).await,
        ("iam", "UpdateGroup") => {
            let command = Command::UpdateGroup {
                group_name: params.required("GroupName")?,
                new_group_name: params.get("NewGroupName").map(str::to_owned),
                new_path: params.get("NewPath").map(str::to_owned),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteGroup") => {
            change(
                gatehouse,
                caller,
                Command::DeleteGroup {
                    group_name: params.required("GroupName")?,
                },
            )
            .await
        }
        ("iam", "AddUserToGroup") => {
            let command = Command::AddUserToGroup {
                group_name: params.required("GroupName")?,
                user_name: params.required("UserName")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "RemoveUserFromGroup") => {
            let command = Command::RemoveUserFromGroup {
                group_name: params.required("GroupName")?,
                user_name: params.required("UserName")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "AttachGroupPolicy") => {
            let command = Command::AttachGroupPolicy {
                group_name: params.required("GroupName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DetachGroupPolicy") => {
            let command = Command::DetachGroupPolicy {
                group_name: params.required("GroupName")?,
                policy_arn: params.required("PolicyArn")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "ListAttachedGroupPolicies") => {
            list_attached(
                gatehouse,
                caller,
                params,
                PrincipalKind::Group,
                params.required("GroupName")?,
            )
            .await
        }
        ("iam", "PutUserPolicy") => {
            let command = Command::PutUserPolicy {
                user_name: params.required("UserName")?,
                policy_name: params.required("PolicyName")?,
                policy_document: params.required("PolicyDocument")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "PutRolePolicy") => {
            let command = Command::PutRolePolicy {
                role_name: params.required("RoleName")?,
                policy_name: params.required("PolicyName")?,
                policy_document: params.required("PolicyDocument")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "PutGroupPolicy") => {
            let command = Command::PutGroupPolicy {
                group_name: params.required("GroupName")?,
                policy_name: params.required("PolicyName")?,
                policy_document: params.required("PolicyDocument")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteUserPolicy") => {
            let command = Command::DeleteUserPolicy {
                user_name: params.required("UserName")?,
                policy_name: params.required("PolicyName")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteRolePolicy") => {
            let command = Command::DeleteRolePolicy {
                role_name: params.required("RoleName")?,
                policy_name: params.required("PolicyName")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteGroupPolicy") => {
            let command = Command::DeleteGroupPolicy {
                group_name: params.required("GroupName")?,
                policy_name: params.required("PolicyName")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "GetUserPolicy") => {
            get_inline(
                gatehouse,
                caller,
                PrincipalKind::User,
                params.required("UserName")?,
                params.required("PolicyName")?,
            )
            .await
        }
        ("iam", "GetRolePolicy") => {
            get_inline(
                gatehouse,
                caller,
                PrincipalKind::Role,
                params.required("RoleName")?,
                params.required("PolicyName")?,
            )
            .await
        }
        ("iam", "GetGroupPolicy") => {
            get_inline(
                gatehouse,
                caller,
                PrincipalKind::Group,
                params.required("GroupName")?,
                params.required("PolicyName")?,
            )
            .await
        }
        ("iam", "ListUserPolicies") => {
            list_inline(
                gatehouse,
                caller,
                params,
                PrincipalKind::User,
                params.required("UserName")?,
            )
            .await
        }
        ("iam", "ListRolePolicies") => {
            list_inline(
                gatehouse,
                caller,
                params,
                PrincipalKind::Role,
                params.required("RoleName")?,
            )
            .await
        }
        ("iam", "ListGroupPolicies") => {
            list_inline(
                gatehouse,
                caller,
                params,
                PrincipalKind::Group,
                params.required("GroupName")?,
            )
            .await
        }
        ("iam", "TagUser") => {
            let command = Command::TagUser {
                user_name: params.required("UserName")?,
                tags: params.tags(),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "UntagUser") => {
            let command = Command::UntagUser {
                user_name: params.required("UserName")?,
                tag_keys: params.members("TagKeys"),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "TagRole") => {
            let command = Command::TagRole {
                role_name: params.required("RoleName")?,
                tags: params.tags(),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "UntagRole") => {
            let command = Command::UntagRole {
                role_name: params.required("RoleName")?,
                tag_keys: params.members("TagKeys"),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "TagPolicy") => {
            let command = Command::TagPolicy {
                policy_arn: params.required("PolicyArn")?,
                tags: params.tags(),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "UntagPolicy") => {
            let command = Command::UntagPolicy {
                policy_arn: params.required("PolicyArn")?,
                tag_keys: params.members("TagKeys"),
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "ListUserTags") => {
            let user_name = params.required("UserName")?;
            list_tags(
                gatehouse,
                caller,
                params,
                Read::ListUserTags {
                    user_name: user_name.clone(),
                },
                move |state| state.user(&user_name).map(|u| u.tags.clone()),
            )
            .await
        }
        ("iam", "ListRoleTags") => {
            let role_name = params.required("RoleName")?;
            list_tags(
                gatehouse,
                caller,
                params,
                Read::ListRoleTags {
                    role_name: role_name.clone(),
                },
                move |state| state.role(&role_name).map(|r| r.tags.clone()),
            )
            .await
        }
        ("iam", "ListPolicyTags") => {
            let policy_arn = params.required("PolicyArn")?;
            list_tags(
                gatehouse,
                caller,
                params,
                Read::ListPolicyTags {
                    policy_arn: policy_arn.clone(),
                },
                move |state| policy_of(state, &policy_arn).ok().map(|p| p.tags.clone()),
            )
            .await
        }
        ("iam", "UpdateRole") => {
            let max_session_duration = match params.get("MaxSessionDuration").map(str::parse::<u32>) {
                None => None,
                Some(Ok(seconds)) => Some(seconds),
                Some(Err(_)) => {
                    return Err(WireError::new(
                        "ValidationError",
                        400,
                        "MaxSessionDuration must be a number of seconds",
                    ))
                }
            };
            let command = Command::UpdateRole {
                role_name: params.required("RoleName")?,
                description: params.get("Description").map(str::to_owned),
                max_session_duration,
            };
            // The one change whose AWS answer has an (empty) result element.
            change(gatehouse, caller, command).await?;
            Ok(Some(Xml::default()))
        }
        ("iam", "UpdateRoleDescription") => update_role_description(gatehouse, caller, params).await,
        ("iam", "GetContextKeysForCustomPolicy") => {
            let documents = params.members("PolicyInputList");
            read(gatehouse, caller, Read::GetContextKeysForCustomPolicy {}, |_| {
                let keys = iam_app::simulation::context_keys_for_custom(&documents)?;
                Ok(Some(context_keys_xml(&keys)))
            })
            .await
        }
        ("iam", "GetContextKeysForPrincipalPolicy") => {
            let policy_source_arn = params.required("PolicySourceArn")?;
            let documents = params.members("PolicyInputList");
            let call = Read::GetContextKeysForPrincipalPolicy {
                policy_source_arn: policy_source_arn.clone(),
            };
            let outcome = match gatehouse.authorize_read(caller, &call) {
                Err(denied) => Err(denied.into()),
                Ok(model) => iam_app::simulation::context_keys_for_principal(&model, &policy_source_arn, &documents)
                    .map(|keys| Some(context_keys_xml(&keys)))
                    .map_err(WireError::from),
            };
            recorded(gatehouse, caller, &call, outcome).await
        }
        ("iam", "UpdateAssumeRolePolicy") => {
            let command = Command::UpdateAssumeRolePolicy {
                role_name: params.required("RoleName")?,
                policy_document: params.required("PolicyDocument")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "CreatePolicyVersion") => create_policy_version(gatehouse, caller, params).await,
        ("iam", "DeletePolicyVersion") => {
            let command = Command::DeletePolicyVersion {
                policy_arn: params.required("PolicyArn")?,
                version_id: params.required("VersionId")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "SetDefaultPolicyVersion") => {
            let command = Command::SetDefaultPolicyVersion {
                policy_arn: params.required("PolicyArn")?,
                version_id: params.required("VersionId")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "ListPolicyVersions") => list_policy_versions(gatehouse, caller, params).await,
        ("iam", "PutUserPermissionsBoundary") => {
            let command = Command::PutUserPermissionsBoundary {
                user_name: params.required("UserName")?,
                permissions_boundary: params.required("PermissionsBoundary")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteUserPermissionsBoundary") => {
            change(
                gatehouse,
                caller,
                Command::DeleteUserPermissionsBoundary {
                    user_name: params.required("UserName")?,
                },
            )
            .await
        }
        ("iam", "PutRolePermissionsBoundary") => {
            let command = Command::PutRolePermissionsBoundary {
                role_name: params.required("RoleName")?,
                permissions_boundary: params.required("PermissionsBoundary")?,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteRolePermissionsBoundary") => {
            change(
                gatehouse,
                caller,
                Command::DeleteRolePermissionsBoundary {
                    role_name: params.required("RoleName")?,
                },
            )
            .await
        }
        ("iam", "GetAccountAuthorizationDetails") => account_authorization_details(gatehouse, caller, params).await,
        ("iam", "GetAccountSummary") => account_summary(gatehouse, caller).await,
        ("iam", "ListAccountAliases") => {
            // An account has at most one alias, so any valid `MaxItems` holds the whole list.
            max_items(params)?;
            read(gatehouse, caller, Read::ListAccountAliases {}, |state| {
                let mut xml = Xml::default();
                xml.open("AccountAliases");
                if let Some(alias) = state.account().and_then(|a| a.account_alias.as_deref()) {
                    xml.leaf("member", alias);
                }
                xml.close("AccountAliases");
                xml.leaf("IsTruncated", "false");
                Ok(Some(xml))
            })
            .await
        }
        ("iam", "ListEntitiesForPolicy") => entities_for_policy(gatehouse, caller, params).await,
        ("iam", "SimulatePrincipalPolicy") => simulate_principal(gatehouse, caller, params).await,
        ("iam", "SimulateCustomPolicy") => simulate_custom(gatehouse, caller, params).await,
        ("iam", "GetAccessKeyLastUsed") => access_key_last_used(gatehouse, caller, params).await,
        ("iam", "CreateAccessKey") => create_access_key(gatehouse, caller, params).await,
        ("iam", "ListAccessKeys") => list_access_keys(gatehouse, caller, params).await,
        ("iam", "UpdateAccessKey") => {
            let status = match params.required("Status")?.as_str() {
                "Active" => AccessKeyStatus::Active,
                "Inactive" => AccessKeyStatus::Inactive,
                other => {
                    return Err(WireError::new(
                        "ValidationError",
                        400,
                        format!("Status {other:?} is not Active or Inactive"),
                    ))
                }
            };
            let command = Command::UpdateAccessKey {
                user_name: params.get("UserName").map(str::to_owned),
                access_key_id: params.required("AccessKeyId")?,
                status,
            };
            change(gatehouse, caller, command).await
        }
        ("iam", "DeleteAccessKey") => {
            let command = Command::DeleteAccessKey {
                user_name: params.get("UserName").map(str::to_owned),
                access_key_id: params.required("AccessKeyId")?,
            };
            change(gatehouse, caller, command).await
        }
        _ => {
            let shown: String = action.chars().take(128).collect();
            Err(WireError::new(
                "InvalidAction",
                400,
                format!(
                    "The action {shown} is not valid for this web service: {service} has no such action, or Gatehouse \
                     does not implement it (docs/aws-api.md lists the actions it serves)."
                ),
            ))
        }
    }
}

type Outcome = Result<Option<Xml>, WireError>;

fn context_keys_xml(keys: &[String]) -> Xml {
    let mut xml = Xml::default();
    xml.open("ContextKeyNames");
    for key in keys {
        xml.leaf("member", key);
    }
    xml.close("ContextKeyNames");
    xml
}

/// `UpdateRoleDescription`: AWS answers with the role as it is afterwards.
async fn update_role_description(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let role_name = params.required("RoleName")?;
    let command = Command::UpdateRoleDescription {
        role_name: role_name.clone(),
        description: params.required("Description")?,
    };
    let executed = gatehouse.manage(caller, command).await?;
    let role = executed
        .model
        .state()
        .role(&role_name)
        .cloned()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the role is missing"))?;
    let mut xml = Xml::default();
    xml.open("Role");
    role_xml(&mut xml, &role);
    xml.close("Role");
    Ok(Some(xml))
}

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
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    read(
        gatehouse,
        caller,
        Read::GetUser {
            user_name: user_name.clone(),
        },
        |state| {
            let user = state
                .user(&user_name)
                .ok_or_else(|| no_such(format!("The user with name {user_name} cannot be found.")))?;
            let mut xml = Xml::default();
            xml.open("User");
            user_xml(&mut xml, user);
            xml.close("User");
            Ok(Some(xml))
        },
    )
    .await
}

/// `UserName`, or without it the calling IAM user's own name: the domain's rule for calls about
/// oneself (`access_key_user`). The root user has no user name to fall back on.
fn user_name_or_callers(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Result<String, WireError> {
    let must_name = || {
        WireError::new(
            "ValidationError",
            400,
            "Must specify userName when calling with non-User credentials",
        )
    };
    let model = gatehouse.account(&caller.account_id).ok_or_else(must_name)?;
    iam_domain::access_key_user(
        model.state(),
        &caller.principal_arn,
        params.get("UserName").map(str::to_owned),
    )
    .map_err(|e| WireError::from(AppError::from(e)))?
    .ok_or_else(must_name)
}

/// `ListUsers` with `PathPrefix`, `MaxItems` (1 to 1000, 100 by default) and `Marker`.
async fn list_users(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListUsers {
            path_prefix: path_prefix.clone(),
        },
        |state| {
            let users = state
                .users()
                .filter(|u| path_prefix.as_deref().is_none_or(|p| u.path.as_str().starts_with(p)))
                .map(|u| (u.user_name.as_str().to_lowercase(), u))
                .collect();
            let (users, next) = page(users, params, max);
            Ok(Some(list_xml("Users", users, next, user_xml)))
        },
    )
    .await
}

async fn delete_user(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = params.required("UserName")?;
    gatehouse.manage(caller, Command::DeleteUser { user_name }).await?;
    Ok(None)
}

/// A change with no result of its own (`DeleteRole`, `AttachUserPolicy`, ...).
async fn change(gatehouse: &Gatehouse, caller: &ApiCaller, command: Command) -> Outcome {
    gatehouse.manage(caller, command).await?;
    Ok(None)
}

/// A policy document as IAM's answers carry it: URL-encoded (the SDKs decode it).
fn document(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

fn date(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `MaxItems` (1 to 1000, 100 when absent), as AWS checks it.
fn max_items(params: &Params) -> Result<usize, WireError> {
    match params.get("MaxItems").map(str::parse::<usize>) {
        None => Ok(100),
        Some(Ok(n)) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(WireError::new(
            "ValidationError",
            400,
            "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000",
        )),
    }
}

/// One page of `items` (each with its unique sort key; the page is in key order) after `Marker`:
/// the items, and the marker of the next page when there is one.
fn page<T>(mut items: Vec<(String, T)>, params: &Params, max: usize) -> (Vec<T>, Option<String>) {
    items.sort_by(|(a, _), (b, _)| a.cmp(b));
    let marker = params.get("Marker").unwrap_or_default().to_owned();
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| marker.is_empty() || *key > marker)
        .collect();
    let truncated = rest.len() > max;
    rest.truncate(max);
    let next = if truncated {
        rest.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    (rest.into_iter().map(|(_, item)| item).collect(), next)
}

/// `<tag><member>...</member>...</tag>` with each item written by `write`, then the paging
/// fields.
fn list_xml<T>(tag: &str, items: Vec<T>, next: Option<String>, write: impl Fn(&mut Xml, T)) -> Xml {
    let mut xml = Xml::default();
    xml.open(tag);
    for item in items {
        xml.open("member");
        write(&mut xml, item);
        xml.close("member");
    }
    xml.close(tag);
    paging(&mut xml, next);
    xml
}

fn paging(xml: &mut Xml, next: Option<String>) {
    xml.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
    if let Some(marker) = next {
        xml.leaf("Marker", &marker);
    }
}

fn tags_xml(xml: &mut Xml, tags: &[iam_types::Tag]) {
    if tags.is_empty() {
        return;
    }
    xml.open("Tags");
    for tag in tags {
        xml.open("member")
            .leaf("Key", tag.key())
            .leaf("Value", tag.value())
            .close("member");
    }
    xml.close("Tags");
}

fn boundary_xml(xml: &mut Xml, boundary: Option<&IamArn>) {
    if let Some(boundary) = boundary {
        xml.open("PermissionsBoundary")
            .leaf("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .leaf("PermissionsBoundaryArn", &boundary.to_string())
            .close("PermissionsBoundary");
    }
}

fn role_xml(xml: &mut Xml, role: &Role) {
    xml.leaf("Path", role.path.as_str())
        .leaf("RoleName", role.role_name.as_str())
        .leaf("RoleId", role.role_id.as_str())
        .leaf("Arn", &role.arn.to_string())
        .leaf("CreateDate", &date(role.create_date))
        .leaf("AssumeRolePolicyDocument", &document(&role.assume_role_policy_document));
    if let Some(description) = &role.description {
        xml.leaf("Description", description);
    }
    xml.leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    boundary_xml(xml, role.permissions_boundary.as_deref());
    tags_xml(xml, &role.tags);
}

/// A `Policy`'s members; `ManagedPolicyDetail` (in `GetAccountAuthorizationDetails`) has the
/// same ones but `Tags`.
fn policy_xml(xml: &mut Xml, policy: &ManagedPolicy, attachments: usize, boundary_uses: usize) {
    policy_detail_xml(xml, policy, attachments, boundary_uses);
    tags_xml(xml, &policy.tags);
}

fn policy_detail_xml(xml: &mut Xml, policy: &ManagedPolicy, attachments: usize, boundary_uses: usize) {
    xml.leaf("PolicyName", policy.policy_name.as_str())
        .leaf("PolicyId", policy.policy_id.as_str())
        .leaf("Arn", &policy.arn.to_string())
        .leaf("Path", policy.path.as_str())
        .leaf("DefaultVersionId", &policy.default_version_id)
        .leaf("AttachmentCount", &attachments.to_string())
        .leaf("PermissionsBoundaryUsageCount", &boundary_uses.to_string())
        .leaf("IsAttachable", "true");
    if let Some(description) = &policy.description {
        xml.leaf("Description", description);
    }
    xml.leaf("CreateDate", &date(policy.create_date))
        .leaf("UpdateDate", &date(policy.update_date));
}

fn access_key_xml(xml: &mut Xml, key: &AccessKey, user_name: Option<&str>) {
    if let Some(user_name) = user_name {
        xml.leaf("UserName", user_name);
    }
    xml.leaf("AccessKeyId", key.access_key_id.as_str())
        .leaf("Status", key.status.as_str())
        .leaf("CreateDate", &date(key.create_date));
}

/// Runs a read: authorizes it as the domain says, answers with `answer` on the caller's model,
/// and records it either way.
async fn read(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    read: Read,
    answer: impl FnOnce(&iam_domain::AccountState) -> Outcome,
) -> Outcome {
    let outcome = match gatehouse.authorize_read(caller, &read) {
        Err(denied) => Err(denied.into()),
        Ok(model) => answer(model.state()),
    };
    recorded(gatehouse, caller, &read, outcome).await
}

fn no_such(what: String) -> WireError {
    WireError::new("NoSuchEntity", 404, what)
}

async fn create_role(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let role_name = params.required("RoleName")?;
    let max_session_duration = match params.get("MaxSessionDuration").map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) => Some(seconds),
        Some(Err(_)) => {
            return Err(WireError::new(
                "ValidationError",
                400,
                "MaxSessionDuration must be a number of seconds",
            ))
        }
    };
    let command = Command::CreateRole {
        role_name: role_name.clone(),
        path: params.get("Path").map(str::to_owned),
        assume_role_policy_document: params.required("AssumeRolePolicyDocument")?,
        description: params.get("Description").map(str::to_owned),
        max_session_duration,
        permissions_boundary: params.get("PermissionsBoundary").map(str::to_owned),
        tags: params.tags(),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let role = executed
        .model
        .state()
        .role(&role_name)
        .cloned()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new role is missing"))?;
    let mut xml = Xml::default();
    xml.open("Role");
    role_xml(&mut xml, &role);
    xml.close("Role");
    Ok(Some(xml))
}

async fn get_role(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let role_name = params.required("RoleName")?;
    read(
        gatehouse,
        caller,
        Read::GetRole {
            role_name: role_name.clone(),
        },
        |state| {
            let role = state
                .role(&role_name)
                .ok_or_else(|| no_such(format!("The role with name {role_name} cannot be found.")))?;
            let mut xml = Xml::default();
            xml.open("Role");
            role_xml(&mut xml, role);
            xml.close("Role");
            Ok(Some(xml))
        },
    )
    .await
}

async fn list_roles(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListRoles {
            path_prefix: path_prefix.clone(),
        },
        |state| {
            let roles = state
                .roles()
                .filter(|r| path_prefix.as_deref().is_none_or(|p| r.path.as_str().starts_with(p)))
                .map(|r| (r.role_name.as_str().to_lowercase(), r))
                .collect();
            let (roles, next) = page(roles, params, max);
            Ok(Some(list_xml("Roles", roles, next, role_xml)))
        },
    )
    .await
}

async fn create_policy(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_name = params.required("PolicyName")?;
    let path = params.get("Path").map(str::to_owned);
    let command = Command::CreatePolicy {
        policy_name: policy_name.clone(),
        path: path.clone(),
        policy_document: params.required("PolicyDocument")?,
        description: params.get("Description").map(str::to_owned),
        tags: params.tags(),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let state = executed.model.state();
    let policy = state
        .customer_policies()
        .find(|p| p.policy_name.as_str().eq_ignore_ascii_case(&policy_name))
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new policy is missing"))?;
    let mut xml = Xml::default();
    xml.open("Policy");
    policy_xml(&mut xml, policy, 0, 0);
    xml.close("Policy");
    Ok(Some(xml))
}

fn policy_of<'s>(state: &'s iam_domain::AccountState, policy_arn: &str) -> Result<&'s ManagedPolicy, WireError> {
    IamArn::parse(policy_arn)
        .ok()
        .and_then(|arn| state.managed_policy(&arn))
        .ok_or_else(|| no_such(format!("Policy {policy_arn} does not exist or is not attachable.")))
}

async fn get_policy(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_arn = params.required("PolicyArn")?;
    read(
        gatehouse,
        caller,
        Read::GetPolicy {
            policy_arn: policy_arn.clone(),
        },
        |state| {
            let policy = policy_of(state, &policy_arn)?;
            let mut xml = Xml::default();
            xml.open("Policy");
            policy_xml(
                &mut xml,
                policy,
                state.attachment_count(&policy.arn),
                state.boundary_usage_count(&policy.arn),
            );
            xml.close("Policy");
            Ok(Some(xml))
        },
    )
    .await
}

async fn get_policy_version(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_arn = params.required("PolicyArn")?;
    let version_id = params.required("VersionId")?;
    let call = Read::GetPolicyVersion {
        policy_arn: policy_arn.clone(),
        version_id: version_id.clone(),
    };
    read(gatehouse, caller, call, |state| {
        let policy = policy_of(state, &policy_arn)?;
        let version = policy
            .version(&version_id)
            .ok_or_else(|| no_such(format!("Policy {policy_arn} version {version_id} does not exist.")))?;
        let mut xml = Xml::default();
        xml.open("PolicyVersion")
            .leaf("Document", &document(&version.document))
            .leaf("VersionId", &version.version_id)
            .leaf(
                "IsDefaultVersion",
                if version.version_id == policy.default_version_id {
                    "true"
                } else {
                    "false"
                },
            )
            .leaf("CreateDate", &date(version.create_date))
            .close("PolicyVersion");
        Ok(Some(xml))
    })
    .await
}

async fn list_policies(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let scope = params.get("Scope").unwrap_or("All").to_owned();
    let only_attached = params.get("OnlyAttached") == Some("true");
    let max = max_items(params)?;
    if !["All", "AWS", "Local"].contains(&scope.as_str()) {
        return Err(WireError::new(
            "ValidationError",
            400,
            format!("Scope {scope:?} is not All, AWS or Local"),
        ));
    }
    read(
        gatehouse,
        caller,
        Read::ListPolicies {
            path_prefix: path_prefix.clone(),
        },
        |state| {
            let aws = state.aws_managed_policies().iter().filter(|_| scope != "Local");
            let local = state.customer_policies().filter(|_| scope != "AWS");
            let policies = aws
                .chain(local)
                .filter(|p| {
                    path_prefix
                        .as_deref()
                        .is_none_or(|prefix| p.path.as_str().starts_with(prefix))
                })
                .filter(|p| !only_attached || state.attachment_count(&p.arn) > 0)
                .map(|p| (p.arn.to_string(), p))
                .collect();
            let (policies, next) = page(policies, params, max);
            let mut xml = Xml::default();
            xml.open("Policies");
            for policy in policies {
                xml.open("member");
                policy_xml(
                    &mut xml,
                    policy,
                    state.attachment_count(&policy.arn),
                    state.boundary_usage_count(&policy.arn),
                );
                xml.close("member");
            }
            xml.close("Policies");
            paging(&mut xml, next);
            Ok(Some(xml))
        },
    )
    .await
}

async fn list_attached(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    params: &Params,
    kind: PrincipalKind,
    name: String,
) -> Outcome {
    let max = max_items(params)?;
    let call = match kind {
        PrincipalKind::User => Read::ListAttachedUserPolicies {
            user_name: name.clone(),
        },
        PrincipalKind::Group => Read::ListAttachedGroupPolicies {
            group_name: name.clone(),
        },
        PrincipalKind::Role => Read::ListAttachedRolePolicies {
            role_name: name.clone(),
        },
    };
    read(gatehouse, caller, call, |state| {
        let attached = state
            .attached_policies(kind, &name)
            .ok_or_else(|| no_such(format!("The {} with name {name} cannot be found.", kind.as_str())))?;
        let items = attached.iter().map(|arn| (arn.to_string(), arn)).collect();
        let (attached, next) = page(items, params, max);
        let mut xml = Xml::default();
        xml.open("AttachedPolicies");
        for arn in attached {
            xml.open("member")
                .leaf("PolicyName", arn.name().map(|n| n.as_str()).unwrap_or_default())
                .leaf("PolicyArn", &arn.to_string())
                .close("member");
        }
        xml.close("AttachedPolicies");
        paging(&mut xml, next);
        Ok(Some(xml))
    })
    .await
}

/// `CreateAccessKey`: the one answer that carries a secret (never its record).
async fn create_access_key(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let created = gatehouse
        .create_access_key_for(caller, params.get("UserName").map(str::to_owned))
        .await?;
    let key = created
        .key
        .executed
        .model
        .state()
        .access_key(&created.key.access_key_id)
        .cloned()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new key is missing"))?;
    let mut xml = Xml::default();
    xml.open("AccessKey");
    if let Some(user_name) = &created.user_name {
        xml.leaf("UserName", user_name);
    }
    xml.leaf("AccessKeyId", key.access_key_id.as_str())
        .leaf("Status", key.status.as_str())
        .leaf("SecretAccessKey", &created.key.secret_access_key)
        .leaf("CreateDate", &date(key.create_date))
        .close("AccessKey");
    Ok(Some(xml))
}

/// `ListAccessKeys`: the named user's, or without `UserName` the caller's own.
async fn list_access_keys(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListAccessKeys {
            user_name: user_name.clone(),
        },
        |state| {
            if state.user(&user_name).is_none() {
                return Err(no_such(format!("The user with name {user_name} cannot be found.")));
            }
            let keys = state
                .access_keys_for_user(&user_name)
                .into_iter()
                .map(|key| (key.access_key_id.as_str().to_owned(), key))
                .collect();
            let (keys, next) = page(keys, params, max);
            Ok(Some(list_xml("AccessKeyMetadata", keys, next, |xml, key| {
                access_key_xml(xml, key, Some(&user_name));
            })))
        },
    )
    .await
}

fn group_xml(xml: &mut Xml, group: &iam_domain::Group) {
    xml.leaf("Path", group.path.as_str())
        .leaf("GroupName", group.group_name.as_str())
        .leaf("GroupId", group.group_id.as_str())
        .leaf("Arn", &group.arn.to_string())
        .leaf("CreateDate", &date(group.create_date));
}

async fn create_group(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let group_name = params.required("GroupName")?;
    let command = Command::CreateGroup {
        group_name: group_name.clone(),
        path: params.get("Path").map(str::to_owned),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let group = executed
        .model
        .state()
        .group(&group_name)
        .cloned()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new group is missing"))?;
    let mut xml = Xml::default();
    xml.open("Group");
    group_xml(&mut xml, &group);
    xml.close("Group");
    Ok(Some(xml))
}

/// `GetGroup`: the group and a page of its members.
async fn get_group(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let group_name = params.required("GroupName")?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::GetGroup {
            group_name: group_name.clone(),
        },
        |state| {
            let group = state
                .group(&group_name)
                .ok_or_else(|| no_such(format!("The group with name {group_name} cannot be found.")))?;
            let members = state
                .users_in_group(&group_name)
                .into_iter()
                .map(|u| (u.user_name.as_str().to_lowercase(), u))
                .collect();
            let (members, next) = page(members, params, max);
            let mut xml = Xml::default();
            xml.open("Group");
            group_xml(&mut xml, group);
            xml.close("Group");
            xml.open("Users");
            for user in members {
                xml.open("member");
                user_xml(&mut xml, user);
                xml.close("member");
            }
            xml.close("Users");
            paging(&mut xml, next);
            Ok(Some(xml))
        },
    )
    .await
}

async fn list_groups(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListGroups {
            path_prefix: path_prefix.clone(),
        },
        |state| {
            let groups = state
                .groups()
                .filter(|g| path_prefix.as_deref().is_none_or(|p| g.path.as_str().starts_with(p)))
                .map(|g| (g.group_name.as_str().to_lowercase(), g))
                .collect();
            let (groups, next) = page(groups, params, max);
            Ok(Some(list_xml("Groups", groups, next, group_xml)))
        },
    )
    .await
}

async fn list_groups_for_user(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = params.required("UserName")?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListGroupsForUser {
            user_name: user_name.clone(),
        },
        |state| {
            if state.user(&user_name).is_none() {
                return Err(no_such(format!("The user with name {user_name} cannot be found.")));
            }
            let groups = state
                .groups_for_user(&user_name)
                .into_iter()
                .map(|g| (g.group_name.as_str().to_lowercase(), g))
                .collect();
            let (groups, next) = page(groups, params, max);
            Ok(Some(list_xml("Groups", groups, next, group_xml)))
        },
    )
    .await
}

fn owner_read_of(kind: PrincipalKind, owner: &str, policy_name: Option<&str>) -> Read {
    let owner = owner.to_owned();
    match (kind, policy_name) {
        (PrincipalKind::User, Some(name)) => Read::GetUserPolicy {
            user_name: owner,
            policy_name: name.to_owned(),
        },
        (PrincipalKind::Role, Some(name)) => Read::GetRolePolicy {
            role_name: owner,
            policy_name: name.to_owned(),
        },
        (PrincipalKind::Group, Some(name)) => Read::GetGroupPolicy {
            group_name: owner,
            policy_name: name.to_owned(),
        },
        (PrincipalKind::User, None) => Read::ListUserPolicies { user_name: owner },
        (PrincipalKind::Role, None) => Read::ListRolePolicies { role_name: owner },
        (PrincipalKind::Group, None) => Read::ListGroupPolicies { group_name: owner },
    }
}

/// `Get{User,Role,Group}Policy`: an inline policy's document, URL-encoded.
async fn get_inline(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    kind: PrincipalKind,
    owner: String,
    policy_name: String,
) -> Outcome {
    read(
        gatehouse,
        caller,
        owner_read_of(kind, &owner, Some(&policy_name)),
        |state| {
            let policies = state
                .inline_policies(kind, &owner)
                .ok_or_else(|| no_such(format!("The {} with name {owner} cannot be found.", kind.as_str())))?;
            let document_text = policies.get(&policy_name).ok_or_else(|| {
                no_such(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.as_str()
                ))
            })?;
            let owner_field = match kind {
                PrincipalKind::User => "UserName",
                PrincipalKind::Role => "RoleName",
                PrincipalKind::Group => "GroupName",
            };
            let mut xml = Xml::default();
            xml.leaf(owner_field, &owner)
                .leaf("PolicyName", &policy_name)
                .leaf("PolicyDocument", &document(document_text));
            Ok(Some(xml))
        },
    )
    .await
}

/// `List{User,Role,Group}Policies`: the inline policies' names.
async fn list_inline(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    params: &Params,
    kind: PrincipalKind,
    owner: String,
) -> Outcome {
    let max = max_items(params)?;
    read(gatehouse, caller, owner_read_of(kind, &owner, None), |state| {
        let policies = state
            .inline_policies(kind, &owner)
            .ok_or_else(|| no_such(format!("The {} with name {owner} cannot be found.", kind.as_str())))?;
        let names = policies.keys().map(|name| (name.clone(), name.clone())).collect();
        let (names, next) = page(names, params, max);
        let mut xml = Xml::default();
        xml.open("PolicyNames");
        for name in names {
            xml.leaf("member", &name);
        }
        xml.close("PolicyNames");
        paging(&mut xml, next);
        Ok(Some(xml))
    })
    .await
}

/// `List{User,Role,Policy}Tags`.
async fn list_tags(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    params: &Params,
    call: Read,
    tags_of: impl FnOnce(&iam_domain::AccountState) -> Option<Vec<iam_types::Tag>>,
) -> Outcome {
    let max = max_items(params)?;
    read(gatehouse, caller, call.clone(), |state| {
        let tags =
            tags_of(state).ok_or_else(|| no_such(format!("The entity of {} cannot be found.", call.action_name())))?;
        let tags = tags.into_iter().map(|tag| (tag.key().to_owned(), tag)).collect();
        let (tags, next) = page(tags, params, max);
        Ok(Some(list_xml("Tags", tags, next, |xml, tag| {
            xml.leaf("Key", tag.key()).leaf("Value", tag.value());
        })))
    })
    .await
}

fn version_xml(xml: &mut Xml, version: &iam_domain::PolicyVersion, default_id: &str, with_document: bool) {
    if with_document {
        xml.leaf("Document", &document(&version.document));
    }
    xml.leaf("VersionId", &version.version_id)
        .leaf(
            "IsDefaultVersion",
            if version.version_id == default_id {
                "true"
            } else {
                "false"
            },
        )
        .leaf("CreateDate", &date(version.create_date));
}

async fn create_policy_version(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_arn = params.required("PolicyArn")?;
    let command = Command::CreatePolicyVersion {
        policy_arn: policy_arn.clone(),
        policy_document: params.required("PolicyDocument")?,
        set_as_default: params.get("SetAsDefault") == Some("true"),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let state = executed.model.state();
    let policy = policy_of(state, &policy_arn)?;
    let newest = policy
        .versions
        .last()
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new version is missing"))?;
    let mut xml = Xml::default();
    xml.open("PolicyVersion");
    version_xml(&mut xml, newest, &policy.default_version_id, false);
    xml.close("PolicyVersion");
    Ok(Some(xml))
}

async fn list_policy_versions(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_arn = params.required("PolicyArn")?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListPolicyVersions {
            policy_arn: policy_arn.clone(),
        },
        |state| {
            let policy = policy_of(state, &policy_arn)?;
            // Newest first, as AWS lists them: keyed by the version number, inverted.
            let versions = policy
                .versions
                .iter()
                .map(|v| {
                    let number: u32 = v.version_id.trim_start_matches('v').parse().unwrap_or(0);
                    (format!("{:010}", u32::MAX - number), v)
                })
                .collect();
            let (versions, next) = page(versions, params, max);
            Ok(Some(list_xml("Versions", versions, next, |xml, version| {
                version_xml(xml, version, &policy.default_version_id, false);
            })))
        },
    )
    .await
}

fn attached_xml(xml: &mut Xml, arns: &[IamArn]) {
    xml.open("AttachedManagedPolicies");
    for arn in arns {
        xml.open("member")
            .leaf("PolicyName", arn.name().map(|n| n.as_str()).unwrap_or_default())
            .leaf("PolicyArn", &arn.to_string())
            .close("member");
    }
    xml.close("AttachedManagedPolicies");
}

fn inline_list_xml(xml: &mut Xml, list: &str, policies: &iam_domain::InlinePolicies) {
    xml.open(list);
    for (name, text) in policies.iter() {
        xml.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyDocument", &document(text))
            .close("member");
    }
    xml.close(list);
}

/// `GetAccountAuthorizationDetails` with `Filter` (`User`, `Role`, `Group`,
/// `LocalManagedPolicy`, `AWSManagedPolicy`) and paging over all of its entries.
async fn account_authorization_details(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let filter = params
        .members("Filter")
        .iter()
        .map(|name| EntityType::parse(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|invalid| WireError::from(AppError::from(invalid)))?;
    let max = max_items(params)?;
    read(gatehouse, caller, Read::GetAccountAuthorizationDetails {}, |state| {
        let entries = iam_domain::authorization_details(state, &filter);
        // The marker is the position in this listing, zero-padded so it orders as text.
        let entries = entries
            .into_iter()
            .enumerate()
            .map(|(i, detail)| (format!("{i:010}"), detail))
            .collect();
        let (entries, next) = page(entries, params, max);
        let (mut users, mut groups, mut roles, mut policies) =
            (Xml::default(), Xml::default(), Xml::default(), Xml::default());
        for entry in entries {
            match entry {
                AuthorizationDetail::User(user) => {
                    users.open("member");
                    users
                        .leaf("Path", user.path.as_str())
                        .leaf("UserName", user.user_name.as_str())
                        .leaf("UserId", user.user_id.as_str())
                        .leaf("Arn", &user.arn.to_string())
                        .leaf("CreateDate", &date(user.create_date));
                    inline_list_xml(&mut users, "UserPolicyList", &user.permissions.inline_policies);
                    users.open("GroupList");
                    for group in state.groups_for_user(user.user_name.as_str()) {
                        users.leaf("member", group.group_name.as_str());
                    }
                    users.close("GroupList");
                    attached_xml(&mut users, &user.permissions.attached_policies);
                    boundary_xml(&mut users, user.permissions_boundary.as_deref());
                    tags_xml(&mut users, &user.tags);
                    users.close("member");
                }
                AuthorizationDetail::Group(group) => {
                    groups.open("member");
                    group_xml(&mut groups, group);
                    inline_list_xml(&mut groups, "GroupPolicyList", &group.permissions.inline_policies);
                    attached_xml(&mut groups, &group.permissions.attached_policies);
                    groups.close("member");
                }
                AuthorizationDetail::Role(role) => {
                    roles.open("member");
                    roles
                        .leaf("Path", role.path.as_str())
                        .leaf("RoleName", role.role_name.as_str())
                        .leaf("RoleId", role.role_id.as_str())
                        .leaf("Arn", &role.arn.to_string())
                        .leaf("CreateDate", &date(role.create_date))
                        .leaf("AssumeRolePolicyDocument", &document(&role.assume_role_policy_document));
                    roles.open("InstanceProfileList");
                    for profile in state.instance_profiles_for_role(role.role_name.as_str()) {
                        roles.open("member");
                        instance_profiles::profile_xml(&mut roles, state, profile);
                        roles.close("member");
                    }
                    roles.close("InstanceProfileList");
                    inline_list_xml(&mut roles, "RolePolicyList", &role.permissions.inline_policies);
                    attached_xml(&mut roles, &role.permissions.attached_policies);
                    boundary_xml(&mut roles, role.permissions_boundary.as_deref());
                    tags_xml(&mut roles, &role.tags);
                    roles.close("member");
                }
                AuthorizationDetail::Policy(policy) => {
                    policies.open("member");
                    policy_detail_xml(
                        &mut policies,
                        policy,
                        state.attachment_count(&policy.arn),
                        state.boundary_usage_count(&policy.arn),
                    );
                    policies.open("PolicyVersionList");
                    for version in &policy.versions {
                        policies.open("member");
                        version_xml(&mut policies, version, &policy.default_version_id, true);
                        policies.close("member");
                    }
                    policies.close("PolicyVersionList");
                    policies.close("member");
                }
            }
        }
        let mut xml = Xml::default();
        for (list, body) in [
            ("UserDetailList", users),
            ("GroupDetailList", groups),
            ("RoleDetailList", roles),
            ("Policies", policies),
        ] {
            xml.open(list);
            xml.0.push_str(&body.0);
            xml.close(list);
        }
        paging(&mut xml, next);
        Ok(Some(xml))
    })
    .await
}

/// `GetAccountSummary`: the account's entity counts and IAM's quotas.
async fn account_summary(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    use iam_domain::quota;
    read(gatehouse, caller, Read::GetAccountSummary {}, |state| {
        let entries: [(&str, usize); 15] = [
            ("Users", state.users().count()),
            ("UsersQuota", quota::USERS_PER_ACCOUNT),
            ("Groups", state.groups().count()),
            ("GroupsQuota", quota::GROUPS_PER_ACCOUNT),
            ("GroupsPerUserQuota", quota::GROUPS_PER_USER),
            ("Roles", state.roles().count()),
            ("RolesQuota", quota::ROLES_PER_ACCOUNT),
            ("Policies", state.customer_policies().count()),
            ("PoliciesQuota", quota::POLICIES_PER_ACCOUNT),
            (
                "PolicyVersionsInUseQuota",
                quota::POLICIES_PER_ACCOUNT * quota::VERSIONS_PER_POLICY,
            ),
            ("VersionsPerPolicyQuota", quota::VERSIONS_PER_POLICY),
            ("AttachedPoliciesPerUserQuota", quota::MANAGED_POLICIES_PER_PRINCIPAL),
            ("AccessKeysPerUserQuota", quota::ACCESS_KEYS_PER_USER),
            ("InstanceProfiles", state.instance_profiles().count()),
            ("InstanceProfilesQuota", quota::INSTANCE_PROFILES_PER_ACCOUNT),
        ];
        let mut xml = Xml::default();
        xml.open("SummaryMap");
        for (key, value) in entries {
            xml.open("entry")
                .leaf("key", key)
                .leaf("value", &value.to_string())
                .close("entry");
        }
        xml.close("SummaryMap");
        Ok(Some(xml))
    })
    .await
}

/// `ListEntitiesForPolicy`: the users, groups and roles a managed policy is attached to.
async fn entities_for_policy(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let policy_arn = params.required("PolicyArn")?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListEntitiesForPolicy {
            policy_arn: policy_arn.clone(),
        },
        |state| {
            let policy = policy_of(state, &policy_arn)?;
            let holds = |permissions: &iam_domain::Permissions| permissions.attached_policies.contains(&policy.arn);
            // One listing of groups, users and roles (in that order), paged as one.
            let mut entities: Vec<(String, (&str, &str, &str))> = Vec::new();
            for group in state.groups().filter(|g| holds(&g.permissions)) {
                let key = format!("0{}", group.group_name.as_str().to_lowercase());
                entities.push((
                    key,
                    ("PolicyGroups", group.group_name.as_str(), group.group_id.as_str()),
                ));
            }
            for user in state.users().filter(|u| holds(&u.permissions)) {
                let key = format!("1{}", user.user_name.as_str().to_lowercase());
                entities.push((key, ("PolicyUsers", user.user_name.as_str(), user.user_id.as_str())));
            }
            for role in state.roles().filter(|r| holds(&r.permissions)) {
                let key = format!("2{}", role.role_name.as_str().to_lowercase());
                entities.push((key, ("PolicyRoles", role.role_name.as_str(), role.role_id.as_str())));
            }
            let (entities, next) = page(entities, params, max);
            let mut xml = Xml::default();
            for (list, name_tag, id_tag) in [
                ("PolicyGroups", "GroupName", "GroupId"),
                ("PolicyUsers", "UserName", "UserId"),
                ("PolicyRoles", "RoleName", "RoleId"),
            ] {
                xml.open(list);
                for (_, name, id) in entities.iter().filter(|(kind, _, _)| *kind == list) {
                    xml.open("member").leaf(name_tag, name).leaf(id_tag, id).close("member");
                }
                xml.close(list);
            }
            paging(&mut xml, next);
            Ok(Some(xml))
        },
    )
    .await
}

fn max_items_param(params: &Params) -> Result<Option<u32>, WireError> {
    params
        .get("MaxItems")
        .map(|text| text.parse::<u32>())
        .transpose()
        .map_err(|_| WireError::new("ValidationError", 400, "MaxItems must be a number"))
}

fn simulation_xml(response: &iam_policy::simulate::SimulatePolicyResponse) -> Xml {
    let mut xml = Xml::default();
    xml.open("EvaluationResults");
    for result in &response.evaluation_results {
        xml.open("member")
            .leaf("EvalActionName", &result.eval_action_name)
            .leaf("EvalResourceName", &result.eval_resource_name)
            .leaf("EvalDecision", &result.eval_decision);
        xml.open("MatchedStatements");
        for statement in &result.matched_statements {
            xml.open("member")
                .leaf("SourcePolicyId", &statement.source_policy_id)
                .leaf("SourcePolicyType", &statement.source_policy_type);
            xml.open("StartPosition")
                .leaf("Line", &statement.start_position.line.to_string())
                .leaf("Column", &statement.start_position.column.to_string())
                .close("StartPosition");
            xml.open("EndPosition")
                .leaf("Line", &statement.end_position.line.to_string())
                .leaf("Column", &statement.end_position.column.to_string())
                .close("EndPosition");
            xml.close("member");
        }
        xml.close("MatchedStatements");
        xml.open("MissingContextValues");
        for key in &result.missing_context_values {
            xml.leaf("member", key);
        }
        xml.close("MissingContextValues");
        if let Some(detail) = &result.permissions_boundary_decision_detail {
            xml.open("PermissionsBoundaryDecisionDetail")
                .leaf(
                    "AllowedByPermissionsBoundary",
                    if detail.allowed_by_permissions_boundary {
                        "true"
                    } else {
                        "false"
                    },
                )
                .close("PermissionsBoundaryDecisionDetail");
        }
        xml.close("member");
    }
    xml.close("EvaluationResults");
    paging(&mut xml, response.marker.clone());
    xml
}

/// `SimulatePrincipalPolicy`, paged.
async fn simulate_principal(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let input = iam_app::simulation::PrincipalSimulation {
        policy_source_arn: params.required("PolicySourceArn")?,
        action_names: params.members("ActionNames"),
        resource_arns: params.members("ResourceArns"),
        context_entries: params.context_entries(),
        max_items: max_items_param(params)?,
        marker: params.get("Marker").map(str::to_owned),
    };
    let call = Read::SimulatePrincipalPolicy {
        policy_source_arn: input.policy_source_arn.clone(),
        action_names: input.action_names.clone(),
        resource_arns: input.resource_arns.clone(),
    };
    let outcome = match gatehouse.authorize_read(caller, &call) {
        Err(denied) => Err(denied.into()),
        Ok(model) => iam_app::simulation::simulate_principal(gatehouse, &model, &input)
            .map(|response| Some(simulation_xml(&response)))
            .map_err(WireError::from),
    };
    recorded(gatehouse, caller, &call, outcome).await
}

/// `SimulateCustomPolicy`, paged.
async fn simulate_custom(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let request = iam_policy::simulate::SimulateCustomPolicyRequest {
        policy_input_list: params.members("PolicyInputList"),
        permissions_boundary_policy_input_list: params.members("PermissionsBoundaryPolicyInputList"),
        action_names: params.members("ActionNames"),
        resource_arns: params.members("ResourceArns"),
        resource_policy: params.get("ResourcePolicy").map(str::to_owned),
        resource_owner: params.get("ResourceOwner").map(str::to_owned),
        caller_arn: params.get("CallerArn").map(str::to_owned),
        context_entries: params.context_entries(),
        max_items: max_items_param(params)?,
        marker: params.get("Marker").map(str::to_owned),
        ..iam_policy::simulate::SimulateCustomPolicyRequest::default()
    };
    let call = Read::SimulateCustomPolicy {
        action_names: request.action_names.clone(),
        resource_arns: request.resource_arns.clone(),
    };
    let outcome = match gatehouse.authorize_read(caller, &call) {
        Err(denied) => Err(denied.into()),
        Ok(_) => iam_app::simulation::simulate_custom(&request)
            .map(|response| Some(simulation_xml(&response)))
            .map_err(WireError::from),
    };
    recorded(gatehouse, caller, &call, outcome).await
}

/// `GetAccessKeyLastUsed`: when, with which service and in which region a key last signed a
/// request (`N/A` before its first use).
async fn access_key_last_used(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let access_key_id = params.required("AccessKeyId")?;
    read(
        gatehouse,
        caller,
        Read::GetAccessKeyLastUsed {
            access_key_id: access_key_id.clone(),
        },
        |state| {
            let key = state
                .access_key(&access_key_id)
                .ok_or_else(|| no_such(format!("The Access Key with id {access_key_id} cannot be found")))?;
            let mut xml = Xml::default();
            if let iam_domain::AccessKeyOwner::User { user_id } = &key.owner {
                if let Some(user) = state.user_by_id(user_id) {
                    xml.leaf("UserName", user.user_name.as_str());
                }
            }
            xml.open("AccessKeyLastUsed");
            match &key.last_used {
                Some(used) => {
                    xml.leaf("LastUsedDate", &date(used.last_used_date))
                        .leaf("ServiceName", &used.service_name)
                        .leaf("Region", &used.region);
                }
                None => {
                    xml.leaf("ServiceName", "N/A").leaf("Region", "N/A");
                }
            }
            xml.close("AccessKeyLastUsed");
            Ok(Some(xml))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_in_member_order() {
        let params = Params::parse(
            b"Action=CreateUser&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=x%26y&Tags.member.2.Value=",
        )
        .unwrap();
        let tags = params.tags();
        assert_eq!(tags, vec![TagInput::new("a", "x&y"), TagInput::new("b", "")]);
    }

    #[test]
    fn form_bodies_are_decoded_strictly() {
        let params = Params::parse(b"A=x+y%2B%C3%A9&B=&C&&D=%7e").unwrap();
        assert_eq!(params.get("A"), Some("x y+\u{e9}"));
        assert_eq!(params.get("B"), Some(""));
        assert_eq!(params.get("C"), Some(""));
        assert_eq!(params.get("D"), Some("~"));
        for bad in [&b"A=%"[..], b"A=%4", b"A=%zz", b"A=%FF", b"A=\xff", b"%G1=x"] {
            let error = Params::parse(bad).err().unwrap();
            assert_eq!(error.code, "MalformedQueryString", "{bad:?}");
        }
    }

    #[test]
    fn list_members_are_numbered_without_gaps() {
        let nested =
            b"ContextEntries.member.1.ContextKeyValues.member.1=a&ContextEntries.member.1.ContextKeyValues.member.2=b";
        assert!(Params::parse(nested).is_ok());
        for bad in [
            &b"L.member.2=a"[..],
            b"L.member.1=a&L.member.3=b",
            b"L.member.0=a",
            b"L.member.x=a",
            b"L.member.1=a&M.member.1.N.member.2=b",
        ] {
            let error = Params::parse(bad).err().unwrap();
            assert_eq!(error.code, "ValidationError", "{bad:?}");
        }
    }

    #[test]
    fn text_is_escaped() {
        let mut xml = Xml::default();
        xml.leaf("M", "a<b & 'c' \"d\">");
        assert_eq!(xml.0, "<M>a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;</M>");
    }
}
