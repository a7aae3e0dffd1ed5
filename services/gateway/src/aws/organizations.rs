//! AWS Organizations on its own wire protocol, botocore's `json` 1.1: `POST /` with
//! `X-Amz-Target: AWSOrganizationsV20161128.<Operation>` and a JSON body, answered with
//! `application/x-amz-json-1.1`; errors as `{"__type": <code>, "Message": ...}`.
//!
//! As elsewhere this layer only translates: each operation is an `OrgOperation` handed to
//! `Gatehouse::organizations`, whose answer is already in AWS's response shape.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_app::access::ApiCaller;
use iam_app::management::MemberAccountRequest;
use iam_app::organizations::{OrgOperation, OrgRead, Page};
use iam_app::{AppError, Gatehouse};
use iam_domain::organization::{OrgCommand, OrgPolicyType};
use iam_types::ErrorCode;
use serde_json::{json, Value};

/// The target prefix of every Organizations operation.
pub const TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The header a caller may send an organization consistency token in (a Gatehouse extension),
/// and the one every answer carries the organization's sequence in.
pub const ORG_SEQUENCE_HEADER: &str = "x-gatehouse-org-sequence";

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
        ErrorCode::ValidationError | ErrorCode::InvalidInput => (400, "InvalidInputException"),
        ErrorCode::MalformedPolicyDocument => (400, "MalformedPolicyDocumentException"),
        ErrorCode::LimitExceeded => (400, "ConstraintViolationException"),
        ErrorCode::Throttling => (400, "TooManyRequestsException"),
        ErrorCode::ConcurrentModification => (400, "ConcurrentModificationException"),
        ErrorCode::ServiceFailure | ErrorCode::InvalidClientTokenId | ErrorCode::SignatureDoesNotMatch => {
            (500, "ServiceException")
        }
        code if code.as_str().ends_with("Exception") => (400, code.as_str()),
        _ => (400, "InvalidInputException"),
    }
}

fn from_app(error: &AppError) -> Response {
    let (status, code) = exception(error);
    error_response(status, code, &error.message)
}

fn unknown_operation(message: String) -> Response {
    error_response(400, "UnknownOperationException", &message)
}

/// Answers one json-protocol request of an authenticated caller; `target` is `X-Amz-Target`,
/// `org_sequence` the caller's consistency token, if any.
pub async fn handle(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    target: Option<&str>,
    body: &[u8],
    org_sequence: Option<u64>,
) -> Response {
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
    let operation_name: String = operation.chars().take(128).collect();
    let request = match translate(&operation_name, &input) {
        Ok(Some(request)) => request,
        Ok(None) => {
            return unknown_operation(format!(
                "The operation {operation_name} is not supported by Gatehouse's AWS Organizations endpoint."
            ))
        }
        Err(refused) => return refused.response(),
    };
    let effective = matches!(request, OrgOperation::Read(OrgRead::DescribeEffectivePolicy(_)));
    match gatehouse.organizations(caller, request, org_sequence).await {
        Ok(answer) => {
            let body = if effective {
                effective_policy(answer.response)
            } else {
                answer.response
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, CONTENT_TYPE.to_owned()),
                    (
                        header::HeaderName::from_static(ORG_SEQUENCE_HEADER),
                        answer.sequence.to_string(),
                    ),
                ],
                body.to_string(),
            )
                .into_response()
        }
        Err(error) => from_app(&error),
    }
}

/// AWS's `EffectivePolicy` carries the effective policy as a document (`PolicyContent`): for
/// SCPs, Gatehouse's document is the chain of levels and their policies.
fn effective_policy(mut response: Value) -> Value {
    let effective = response["EffectivePolicy"].take();
    json!({
        "EffectivePolicy": {
            "PolicyContent": json!({ "levels": effective["Levels"] }).to_string(),
            "LastUpdatedTimestamp": effective["LastUpdatedTimestamp"],
            "TargetId": effective["TargetId"],
            "PolicyType": effective["PolicyType"],
        }
    })
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

fn page(input: &Value) -> Result<Page, Refusal> {
    let max_results = match input.get("MaxResults") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Refusal("InvalidInputException", "MaxResults must be 1 to 20".into()))?,
        ),
        Some(_) => return Err(Refusal("SerializationException", "MaxResults must be a number".into())),
    };
    Ok(Page {
        max_results,
        next_token: text(input, "NextToken")?,
    })
}

fn policy_type(input: &Value, member: &str) -> Result<OrgPolicyType, Refusal> {
    let name = required(input, member)?;
    OrgPolicyType::parse(&name).ok_or_else(|| {
        Refusal(
            "InvalidInputException",
            format!("{member} {name} is not one of SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY, TAG_POLICY"),
        )
    })
}

/// The operation a request names, with its input read; `None` for an operation Gatehouse does
/// not serve.
fn translate(operation: &str, input: &Value) -> Result<Option<OrgOperation>, Refusal> {
    use OrgCommand as C;
    use OrgRead as R;
    let change = |command: OrgCommand| Ok(Some(OrgOperation::Change(command)));
    let read = |read: OrgRead| Ok(Some(OrgOperation::Read(read)));
    match operation {
        "CreateOrganization" => change(C::CreateOrganization {
            management_account_id: String::new(),
            management_account_email: String::new(),
            feature_set: text(input, "FeatureSet")?,
        }),
        "DeleteOrganization" => change(C::DeleteOrganization {}),
        "DescribeOrganization" => read(R::DescribeOrganization),
        "ListRoots" => read(R::ListRoots(page(input)?)),
        "CreateOrganizationalUnit" => change(C::CreateOrganizationalUnit {
            parent_id: required(input, "ParentId")?,
            name: required(input, "Name")?,
        }),
        "UpdateOrganizationalUnit" => change(C::UpdateOrganizationalUnit {
            organizational_unit_id: required(input, "OrganizationalUnitId")?,
            name: required(input, "Name")?,
        }),
        "DeleteOrganizationalUnit" => change(C::DeleteOrganizationalUnit {
            organizational_unit_id: required(input, "OrganizationalUnitId")?,
        }),
        "DescribeOrganizationalUnit" => read(R::DescribeOrganizationalUnit(required(input, "OrganizationalUnitId")?)),
        "ListOrganizationalUnitsForParent" => read(R::ListOrganizationalUnitsForParent(
            required(input, "ParentId")?,
            page(input)?,
        )),
        "ListChildren" => read(R::ListChildren(
            required(input, "ParentId")?,
            required(input, "ChildType")?,
            page(input)?,
        )),
        "ListParents" => read(R::ListParents(required(input, "ChildId")?, page(input)?)),
        "CreateAccount" => Ok(Some(OrgOperation::CreateAccount(MemberAccountRequest {
            account_name: required(input, "AccountName")?,
            email: required(input, "Email")?,
            role_name: text(input, "RoleName")?,
            parent_id: None,
        }))),
        "InviteAccountToOrganization" => {
            let target = input.get("Target").cloned().unwrap_or(Value::Null);
            if !target.is_object() {
                return Err(Refusal(
                    "InvalidInputException",
                    "The request must contain the parameter Target.".into(),
                ));
            }
            let kind = required(&target, "Type")?;
            if kind != "ACCOUNT" {
                return Err(Refusal(
                    "InvalidInputException",
                    format!("Target type {kind} is not supported: invite an account by its id (ACCOUNT)"),
                ));
            }
            change(C::InviteAccount {
                target_account_id: required(&target, "Id")?,
                notes: text(input, "Notes")?,
                target_in_other_organization: false,
            })
        }
        "AcceptHandshake" => change(C::AcceptHandshake {
            handshake_id: required(input, "HandshakeId")?,
            caller_account_id: String::new(),
            account_name: String::new(),
            in_other_organization: false,
        }),
        "DeclineHandshake" => change(C::DeclineHandshake {
            handshake_id: required(input, "HandshakeId")?,
            caller_account_id: String::new(),
        }),
        "CancelHandshake" => change(C::CancelHandshake {
            handshake_id: required(input, "HandshakeId")?,
        }),
        "DescribeHandshake" => read(R::DescribeHandshake(required(input, "HandshakeId")?)),
        "ListHandshakesForAccount" => read(R::ListHandshakesForAccount(page(input)?)),
        "ListHandshakesForOrganization" => read(R::ListHandshakesForOrganization(page(input)?)),
        "MoveAccount" => change(C::MoveAccount {
            account_id: required(input, "AccountId")?,
            source_parent_id: required(input, "SourceParentId")?,
            destination_parent_id: required(input, "DestinationParentId")?,
        }),
        "RemoveAccountFromOrganization" => change(C::RemoveAccount {
            account_id: required(input, "AccountId")?,
        }),
        "LeaveOrganization" => change(C::LeaveOrganization {
            account_id: String::new(),
        }),
        "CloseAccount" => change(C::CloseAccount {
            account_id: required(input, "AccountId")?,
        }),
        "ListAccounts" => read(R::ListAccounts(page(input)?)),
        "ListAccountsForParent" => read(R::ListAccountsForParent(required(input, "ParentId")?, page(input)?)),
        "DescribeAccount" => read(R::DescribeAccount(required(input, "AccountId")?)),
        "CreatePolicy" => change(C::CreatePolicy {
            name: required(input, "Name")?,
            description: required(input, "Description")?,
            policy_type: policy_type(input, "Type")?,
            content: required(input, "Content")?,
        }),
        "UpdatePolicy" => change(C::UpdatePolicy {
            policy_id: required(input, "PolicyId")?,
            name: text(input, "Name")?,
            description: text(input, "Description")?,
            content: text(input, "Content")?,
        }),
        "DeletePolicy" => change(C::DeletePolicy {
            policy_id: required(input, "PolicyId")?,
        }),
        "DescribePolicy" => read(R::DescribePolicy(required(input, "PolicyId")?)),
        "AttachPolicy" => change(C::AttachPolicy {
            policy_id: required(input, "PolicyId")?,
            target_id: required(input, "TargetId")?,
        }),
        "DetachPolicy" => change(C::DetachPolicy {
            policy_id: required(input, "PolicyId")?,
            target_id: required(input, "TargetId")?,
        }),
        "ListPolicies" => read(R::ListPolicies(policy_type(input, "Filter")?, page(input)?)),
        "ListPoliciesForTarget" => read(R::ListPoliciesForTarget(
            required(input, "TargetId")?,
            policy_type(input, "Filter")?,
            page(input)?,
        )),
        "ListTargetsForPolicy" => read(R::ListTargetsForPolicy(required(input, "PolicyId")?, page(input)?)),
        "EnablePolicyType" => change(C::EnablePolicyType {
            root_id: required(input, "RootId")?,
            policy_type: policy_type(input, "PolicyType")?,
        }),
        "DisablePolicyType" => change(C::DisablePolicyType {
            root_id: required(input, "RootId")?,
            policy_type: policy_type(input, "PolicyType")?,
        }),
        "RegisterDelegatedAdministrator" => change(C::RegisterDelegatedAdministrator {
            account_id: required(input, "AccountId")?,
            service_principal: required(input, "ServicePrincipal")?,
        }),
        "DeregisterDelegatedAdministrator" => change(C::DeregisterDelegatedAdministrator {
            account_id: required(input, "AccountId")?,
            service_principal: required(input, "ServicePrincipal")?,
        }),
        "ListDelegatedAdministrators" => read(R::ListDelegatedAdministrators(page(input)?)),
        "DescribeEffectivePolicy" => read(R::DescribeEffectivePolicy(required(input, "TargetId")?)),
        "DescribeCreateAccountStatus" => read(R::DescribeCreateAccountStatus(required(
            input,
            "CreateAccountRequestId",
        )?)),
        "ListCreateAccountStatus" => {
            let states = match input.get("States") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| Refusal("SerializationException", "States must be strings".into()))?,
                Some(_) => return Err(Refusal("SerializationException", "States must be a list".into())),
            };
            read(R::ListCreateAccountStatus(states, page(input)?))
        }
        _ => Ok(None),
    }
}
