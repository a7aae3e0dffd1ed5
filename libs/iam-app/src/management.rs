//! Management calls as use cases: one per IAM action, for every door (GraphQL today, AWS's wire
//! protocols next). Each authorizes the caller for what the command touches (the domain's
//! [`requirements`]: the action on every ARN, with IAM's condition keys), executes it, and makes
//! its CloudTrail record durable before answering. The record is built from typed data: the
//! command's request parameters (a type without secrets) and a response built here, never from
//! the response a client shaped, so no alias or selection can carry a secret into the history.

use chrono::{DateTime, Utc};
use iam_audit::{AuditRecord, EVENT_SOURCE_IAM, EVENT_SOURCE_ORGANIZATIONS, ORGANIZATION_ID_KEY};
use iam_authz::{authorize_guarded, AccountModel, Guardrails, RequestFacts};
use iam_domain::session::SessionKind;
use iam_domain::{access_key_user, is_account_root, requirements, AccountState, Command, Read, Requirement};
use iam_policy::DecisionEffect;
use iam_types::{ErrorCode, IamArn, ResourceKind};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::access::{caller_identity, caller_principal, session_keys, ApiCaller};
use crate::{Actor, AppError, Executed, Gatehouse, NewAccessKey};

/// Request parameters larger than this (serialized) are summarized in the record, as CloudTrail
/// omits oversized ones: a refused call must not be able to write megabytes of history.
pub const MAX_RECORDED_PARAMETERS: usize = 16 * 1024;
/// Within oversized parameters, strings longer than this are replaced by their size and digest;
/// text a record derives from the input (an error message, a resource ARN) is cut to it.
const MAX_RECORDED_STRING: usize = 1024;

/// `text` cut to [`MAX_RECORDED_STRING`] bytes (on a character boundary), marked when cut.
pub(crate) fn bounded_text(text: &str) -> String {
    if text.len() <= MAX_RECORDED_STRING {
        return text.to_owned();
    }
    let mut end = MAX_RECORDED_STRING;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...[{} bytes]", &text[..end], text.len())
}

/// An access key just created, as a door shows it: the secret is here and only here.
pub struct CreatedAccessKey {
    /// The key and what the command did.
    pub key: NewAccessKey,
    /// The owner; `None` for the root user.
    pub user_name: Option<String>,
}

/// A new account and its root user's first key.
pub struct CreatedAccount {
    /// The 12-digit id.
    pub account_id: String,
    /// The root key (secret shown once).
    pub root_key: NewAccessKey,
}

/// Organizations' `CreateAccount` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccountRequest {
    /// `AccountName`: 1 to 50 printable ASCII characters.
    pub account_name: String,
    /// `Email`: the root user's address (validated; kept out of records).
    pub email: String,
    /// `RoleName`: the administrator role to create; `OrganizationAccountAccessRole` by default.
    pub role_name: Option<String>,
    /// The root or OU to put it in (a Gatehouse extension; AWS puts it under the root).
    pub parent_id: Option<String>,
}

impl MemberAccountRequest {
    /// The role AWS creates when the request names none.
    pub const DEFAULT_ROLE_NAME: &'static str = "OrganizationAccountAccessRole";

    pub(crate) fn role_name(&self) -> &str {
        self.role_name.as_deref().unwrap_or(Self::DEFAULT_ROLE_NAME)
    }

    /// AWS's constraints on the three parameters.
    pub(crate) fn validate(&self) -> Result<(), AppError> {
        let invalid = |message: &str| Err(AppError::new(ErrorCode::InvalidInputException, message));
        let name = &self.account_name;
        if name.is_empty() || name.chars().count() > 50 || !name.chars().all(|c| (' '..='~').contains(&c)) {
            return invalid("AccountName must be 1 to 50 printable ASCII characters");
        }
        let email = &self.email;
        let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
        if !(6..=64).contains(&email.len()) || email.chars().any(char::is_whitespace) || !well_formed {
            return invalid("Email must be an e-mail address of 6 to 64 characters");
        }
        let role = self.role_name();
        if role.is_empty()
            || role.len() > 64
            || !role.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
        {
            return invalid("RoleName must be 1 to 64 of the characters [\\w+=,.@-]");
        }
        Ok(())
    }
}

impl ApiCaller {
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            arn: self.principal_arn.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// Why the caller's kind of session may not call `action` at all, whatever its policies say:
/// AWS lets credentials from GetSessionToken call IAM only when MFA was part of the request, and
/// a federated user (GetFederationToken) never.
fn session_barred_from(caller: &ApiCaller, action: &str) -> Option<&'static str> {
    let session = caller.session.as_deref()?;
    let why = match session.kind {
        SessionKind::UserSession if !session.mfa_authenticated => {
            "because credentials from GetSessionToken without MFA cannot call the IAM API"
        }
        SessionKind::FederatedUser => "because credentials from GetFederationToken cannot call the IAM API",
        _ => return None,
    };
    action
        .get(..4)
        .is_some_and(|service| service.eq_ignore_ascii_case("iam:"))
        .then_some(why)
}

/// `User: <arn> is not authorized to perform: <action> on resource: <arn> <why>`, as AWS words it.
fn access_denied(caller: &ApiCaller, action: &str, resource: &str, why: &str) -> AppError {
    AppError::new(
        ErrorCode::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            caller.principal_arn
        ),
    )
}

impl Gatehouse {
    /// Whether `caller` may do `action` on `resource` in `model`'s account, with the request's
    /// condition keys (`keys`) beside the ones Gatehouse knows of the caller. The one authorization
    /// rule of every call: management, reads and the decision API's `gatehouse:Authorize`.
    ///
    /// # Errors
    /// `AccessDenied`, worded as AWS words it.
    pub fn authorize_action(
        &self,
        model: &AccountModel,
        caller: &ApiCaller,
        action: &str,
        resource: &str,
        keys: &[(String, iam_policy::ContextValue)],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if let Some(why) = session_barred_from(caller, action) {
            return Err(access_denied(caller, action, resource, why));
        }
        let principal = caller_principal(model, caller).ok_or_else(|| {
            AppError::new(
                ErrorCode::AccessDenied,
                format!("{} is no longer a principal of this account", caller.principal_arn),
            )
        })?;
        let facts = RequestFacts {
            source_ip: caller.source_ip.clone(),
            extra: caller
                .session
                .as_deref()
                .map(|claims| session_keys(model.state(), claims, now))
                .unwrap_or_default(),
            ..RequestFacts::default()
        };
        let mut context = model.request_context(&principal, &facts, now);
        // The region the request was signed for, as AWS sets it (for IAM, a global service, the
        // deployment's region): SCPs that allow only some regions read it.
        if !caller.region.is_empty() {
            context.insert(
                "aws:RequestedRegion",
                iam_policy::ContextValue::single(caller.region.as_str()),
            );
        }
        for (key, value) in keys {
            context.insert(key, value.clone());
        }
        let own = self.own_organization_keys(&caller.account_id, &mut context);
        if own.as_deref().is_some_and(|g| g.suspended) {
            return Err(access_denied(caller, action, resource, "because the account is closed"));
        }
        let none = Guardrails::none();
        let guardrails = own.as_deref().map_or(&none, |g| &g.guardrails);
        let decision = authorize_guarded(
            &principal, action, resource, None, None, guardrails, guardrails, &context,
        );
        let why = match decision.effect {
            DecisionEffect::Allowed => return Ok(()),
            DecisionEffect::ExplicitDeny
                if decision
                    .matched
                    .iter()
                    .any(|m| m.slot == iam_policy::PolicySlot::ServiceControl) =>
            {
                "with an explicit deny in a service control policy".to_owned()
            }
            DecisionEffect::ExplicitDeny
                if decision
                    .matched
                    .iter()
                    .any(|m| m.slot == iam_policy::PolicySlot::ResourceControl) =>
            {
                "with an explicit deny in a resource control policy".to_owned()
            }
            DecisionEffect::ImplicitDeny if decision.details.allowed_by_organizations == Some(false) => {
                "because no service control policy allows the action".to_owned()
            }
            DecisionEffect::ImplicitDeny if decision.details.allowed_by_resource_control == Some(false) => {
                "because no resource control policy allows the action".to_owned()
            }
            DecisionEffect::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
            DecisionEffect::ImplicitDeny if decision.details.allowed_by_identity => {
                "because no permissions boundary allows the action".to_owned()
            }
            DecisionEffect::ImplicitDeny => format!("because no identity-based policy allows the {action} action"),
        };
        Err(access_denied(caller, action, resource, &why)
            .with_denial(denial_detail(caller, &principal, action, resource, &context, &decision)))
    }
}

/// What `DecodeAuthorizationMessage` shows of a refusal, in AWS's shape: whether an explicit
/// deny decided it, the statements that matched, and the request's context (each value cut to
/// 256 characters, at most 64 keys, so the encoded message stays small).
fn denial_detail(
    caller: &ApiCaller,
    principal: &iam_authz::CompiledPrincipal,
    action: &str,
    resource: &str,
    context: &iam_policy::Context,
    decision: &iam_policy::Decision,
) -> Value {
    let statements: Vec<Value> = decision
        .matched
        .iter()
        .map(|m| {
            json!({
                "sourcePolicyId": bounded_text(&m.source.id),
                "sourcePolicyType": format!("{:?}", m.source.policy_type),
                "statementIndex": m.statement_index,
                "sid": m.sid.as_deref(),
                "effect": format!("{:?}", m.effect),
            })
        })
        .collect();
    let mut conditions: Vec<Value> = context
        .iter()
        .take(64)
        .map(|(key, value)| {
            let values: Vec<Value> = value
                .values()
                .iter()
                .take(16)
                .map(|v| json!({"value": v.chars().take(256).collect::<String>()}))
                .collect();
            json!({"key": key, "values": {"items": values}})
        })
        .collect();
    conditions.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    json!({
        "allowed": false,
        "explicitDeny": decision.effect == DecisionEffect::ExplicitDeny,
        "matchedStatements": {"items": statements},
        "failures": {"items": []},
        "context": {
            "principal": {"arn": bounded_text(&principal.caller.arn), "callerArn": bounded_text(&caller.principal_arn)},
            "action": bounded_text(action),
            "resource": bounded_text(resource),
            "conditions": {"items": conditions},
        },
    })
}

impl Gatehouse {
    /// Whether `caller` may do everything in `needed` ([`authorize_action`] for each, in order).
    ///
    /// # Errors
    /// `AccessDenied` for the first requirement refused.
    pub fn authorize_requirements(
        &self,
        model: &AccountModel,
        caller: &ApiCaller,
        needed: &[Requirement],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        needed.iter().try_for_each(|requirement| {
            self.authorize_action(
                model,
                caller,
                &requirement.action,
                &requirement.resource,
                &requirement.context,
                now,
            )
        })
    }
}

/// Request parameters as a record keeps them: whole when small, otherwise with every long string
/// replaced by `{"omitted": true, "bytes": n, "sha256": ...}` (so the record still proves what was
/// sent), and wholly summarized when even that is too large.
#[must_use]
pub fn bounded_parameters(parameters: Value) -> Value {
    let size = serialized_len(&parameters);
    if size <= MAX_RECORDED_PARAMETERS {
        return parameters;
    }
    let shortened = shorten_strings(parameters.clone());
    if serialized_len(&shortened) <= MAX_RECORDED_PARAMETERS {
        return shortened;
    }
    omitted(&serde_json::to_string(&parameters).unwrap_or_default())
}

/// The length of `value` as JSON, counted without building the text.
fn serialized_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(usize::MAX, |()| count.0)
}

fn omitted(text: &str) -> Value {
    json!({"omitted": true, "bytes": text.len(), "sha256": hex::encode(Sha256::digest(text.as_bytes()))})
}

fn shorten_strings(value: Value) -> Value {
    match value {
        Value::String(text) if text.len() > MAX_RECORDED_STRING => omitted(&text),
        Value::Array(items) => Value::Array(items.into_iter().map(shorten_strings).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, shorten_strings(v))).collect()),
        other => other,
    }
}

/// What a management record says beyond the call itself.
pub(crate) struct CallFacts<'a> {
    pub(crate) caller: &'a ApiCaller,
    pub(crate) event_source: &'static str,
    pub(crate) state: &'a AccountState,
    pub(crate) event_name: &'a str,
    pub(crate) needed: &'a [Requirement],
    pub(crate) request_parameters: Value,
    pub(crate) outcome: Result<(Value, Option<Value>), &'a AppError>,
    pub(crate) read_only: bool,
    pub(crate) now: DateTime<Utc>,
}

/// The record of a call. `organization_id` is the organization the caller's account is a member
/// of: the record goes to its trail too (`additionalEventData.organizationId`).
fn management_record(facts: CallFacts<'_>, organization_id: Option<&str>) -> AuditRecord {
    let caller = facts.caller;
    let (response_elements, changes, error_code, error_message) = match facts.outcome {
        Ok((response, changes)) => (response, changes, None, None),
        Err(error) => (
            Value::Null,
            None,
            Some(error.code.as_str().to_owned()),
            Some(bounded_text(&error.message)),
        ),
    };
    let action = facts
        .needed
        .first()
        .map_or_else(|| format!("iam:{}", facts.event_name), |r| r.action.clone());
    let mut additional = json!({
        "action": bounded_text(&action),
        "resource": facts.needed.first().map(|r| bounded_text(&r.resource)),
    });
    if let Some(object) = additional.as_object_mut() {
        if facts.needed.len() > 1 {
            object.insert(
                "resources".into(),
                facts
                    .needed
                    .iter()
                    .map(|r| Value::String(bounded_text(&r.resource)))
                    .collect(),
            );
        }
        if let Some(changes) = changes {
            object.insert("changes".into(), changes);
        }
        if let Some(organization_id) = organization_id {
            object.insert(ORGANIZATION_ID_KEY.into(), Value::String(organization_id.to_owned()));
        }
    }
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: caller_identity(facts.state, caller),
        event_time: facts.now,
        event_source: facts.event_source.into(),
        event_name: facts.event_name.to_owned(),
        aws_region: caller.region.clone(),
        source_ip_address: caller.source_ip.clone().unwrap_or_default(),
        user_agent: caller.user_agent.clone().unwrap_or_default(),
        request_parameters: bounded_parameters(facts.request_parameters),
        response_elements,
        error_code,
        error_message,
        request_id: caller.request_id.clone(),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: facts.read_only,
        event_type: "AwsApiCall".into(),
        api_version: caller.api_version.clone(),
        recipient_account_id: caller.account_id.clone(),
        additional_event_data: Some(additional),
    }
}

/// What a change did, for the record: the sequence before and after, the events appended (by
/// type and sequence; their payloads are in the log) and the touched entity before and `after`.
fn changes(before: &AccountState, executed: &Executed, resource: &str, after: Value) -> Value {
    let first = before.version() + 1;
    let events: Vec<Value> = executed
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| json!({"eventType": event.event_type(), "sequence": first + i as u64}))
        .collect();
    json!({
        "sequenceBefore": before.version(),
        "sequenceAfter": executed.sequence,
        "events": events,
        "before": entity_snapshot(before, resource),
        "after": after,
    })
}

/// `responseElements` as CloudTrail logs the call: the result element of AWS's own response, in
/// camelCase (`{"user": {"path", "userName", "userId", "arn", "createDate"}}` for `CreateUser`),
/// and `null` for the calls whose AWS response carries no result (deletes, attachments, tags,
/// updates). Gatehouse's own facts (the new sequence) are in `additionalEventData`.
fn response_elements(command: &Command, executed: &Executed) -> Value {
    let state = executed.model.state();
    let tags = |tags: &[iam_types::Tag]| -> Option<Vec<Value>> {
        (!tags.is_empty()).then(|| {
            tags.iter()
                .map(|t| json!({"key": t.key(), "value": t.value()}))
                .collect()
        })
    };
    let boundary = |arn: Option<&IamArn>| {
        arn.map(|arn| json!({"permissionsBoundaryType": "PermissionsBoundaryPolicy", "permissionsBoundaryArn": arn.to_string()}))
    };
    let elements = match command {
        Command::CreateUser { user_name, .. } => state.user(user_name).map(|u| {
            json!({"user": {
                "path": u.path.as_str(), "userName": u.user_name.as_str(), "userId": u.user_id.as_str(),
                "arn": u.arn.to_string(), "createDate": u.create_date,
                "permissionsBoundary": boundary(u.permissions_boundary.as_deref()), "tags": tags(&u.tags),
            }})
        }),
        Command::CreateGroup { group_name, .. } => state.group(group_name).map(|g| {
            json!({"group": {
                "path": g.path.as_str(), "groupName": g.group_name.as_str(), "groupId": g.group_id.as_str(),
                "arn": g.arn.to_string(), "createDate": g.create_date,
            }})
        }),
        Command::CreateRole { role_name, .. } => state.role(role_name).map(|r| {
            json!({"role": {
                "path": r.path.as_str(), "roleName": r.role_name.as_str(), "roleId": r.role_id.as_str(),
                "arn": r.arn.to_string(), "createDate": r.create_date,
                "assumeRolePolicyDocument": r.assume_role_policy_document, "description": r.description,
                "maxSessionDuration": r.max_session_duration,
                "permissionsBoundary": boundary(r.permissions_boundary.as_deref()), "tags": tags(&r.tags),
            }})
        }),
        Command::CreatePolicy { policy_name, .. } => state
            .customer_policies()
            .find(|p| p.policy_name.as_str().eq_ignore_ascii_case(policy_name))
            .map(|p| {
                json!({"policy": {
                    "policyName": p.policy_name.as_str(), "policyId": p.policy_id.as_str(), "arn": p.arn.to_string(),
                    "path": p.path.as_str(), "defaultVersionId": p.default_version_id, "attachmentCount": 0,
                    "permissionsBoundaryUsageCount": 0, "isAttachable": true, "description": p.description,
                    "createDate": p.create_date, "updateDate": p.update_date, "tags": tags(&p.tags),
                }})
            }),
        Command::CreatePolicyVersion { policy_arn, .. } => IamArn::parse(policy_arn)
            .ok()
            .and_then(|arn| state.managed_policy(&arn))
            .and_then(|p| p.versions.last().map(|v| (p, v)))
            .map(|(p, v)| {
                json!({"policyVersion": {
                    "versionId": v.version_id, "isDefaultVersion": v.version_id == p.default_version_id,
                    "createDate": v.create_date,
                }})
            }),
        Command::CreateInstanceProfile {
            instance_profile_name, ..
        } => state.instance_profile(instance_profile_name).map(|p| {
            json!({"instanceProfile": {
                "path": p.path.as_str(), "instanceProfileName": p.instance_profile_name.as_str(),
                "instanceProfileId": p.instance_profile_id.as_str(), "arn": p.arn.to_string(),
                "createDate": p.create_date, "roles": [], "tags": tags(&p.tags),
            }})
        }),
        Command::CreateLoginProfile { user_name, .. } => state.user(user_name).and_then(|u| {
            u.login_profile.as_deref().map(|p| {
                json!({"loginProfile": {
                    "userName": u.user_name.as_str(), "createDate": p.create_date,
                    "passwordResetRequired": p.password_reset_required,
                }})
            })
        }),
        // The seed is in the caller's answer only.
        Command::CreateVirtualMFADevice {
            virtual_mfa_device_name,
            ..
        } => state
            .mfa_devices()
            .find(|d| d.name.as_str().eq_ignore_ascii_case(virtual_mfa_device_name))
            .map(|d| json!({"virtualMFADevice": {"serialNumber": d.serial_number.to_string()}})),
        _ => None,
    };
    elements.map_or(Value::Null, strip_nulls)
}

/// Leaves out absent optional members, as AWS's responses (and so CloudTrail's records) do.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// An entity as the audit record shows it (`null` when absent). Access keys appear by id and
/// status: the type has no place for a secret.
#[must_use]
pub fn entity_snapshot(state: &AccountState, resource: &str) -> Value {
    let Ok(arn) = IamArn::parse(resource) else {
        return Value::Null;
    };
    let Some(name) = arn.name() else {
        return Value::Null;
    };
    let name = name.as_str();
    let tags = |tags: &[iam_types::Tag]| -> Vec<Value> {
        tags.iter()
            .map(|t| json!({"key": t.key(), "value": t.value()}))
            .collect()
    };
    let attached = |arns: &[IamArn]| -> Vec<String> { arns.iter().map(ToString::to_string).collect() };
    match arn.kind() {
        Some(ResourceKind::User) => state.user(name).map_or(Value::Null, |u| {
            json!({
                "userName": u.user_name.as_str(), "userId": u.user_id.as_str(), "arn": u.arn.to_string(),
                "path": u.path.as_str(),
                "permissionsBoundary": u.permissions_boundary.as_ref().map(ToString::to_string),
                "tags": tags(&u.tags),
                "attachedPolicies": attached(&u.permissions.attached_policies),
                "inlinePolicyNames": u.permissions.inline_policies.keys().collect::<Vec<_>>(),
                "groups": state.groups_for_user(name).iter().map(|g| g.group_name.as_str()).collect::<Vec<_>>(),
                "accessKeys": state.access_keys_for_user(name).iter()
                    .map(|k| json!({"accessKeyId": k.access_key_id.as_str(), "status": k.status.as_str()}))
                    .collect::<Vec<_>>(),
            })
        }),
        Some(ResourceKind::Group) => state.group(name).map_or(Value::Null, |g| {
            json!({
                "groupName": g.group_name.as_str(), "groupId": g.group_id.as_str(), "arn": g.arn.to_string(),
                "path": g.path.as_str(),
                "members": state.users_in_group(name).iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(),
                "attachedPolicies": attached(&g.permissions.attached_policies),
                "inlinePolicyNames": g.permissions.inline_policies.keys().collect::<Vec<_>>(),
            })
        }),
        Some(ResourceKind::Role) => state.role(name).map_or(Value::Null, |r| {
            json!({
                "roleName": r.role_name.as_str(), "roleId": r.role_id.as_str(), "arn": r.arn.to_string(),
                "path": r.path.as_str(), "description": r.description,
                "maxSessionDuration": r.max_session_duration,
                "assumeRolePolicyDocument": r.assume_role_policy_document,
                "permissionsBoundary": r.permissions_boundary.as_ref().map(ToString::to_string),
                "tags": tags(&r.tags),
                "attachedPolicies": attached(&r.permissions.attached_policies),
                "inlinePolicyNames": r.permissions.inline_policies.keys().collect::<Vec<_>>(),
            })
        }),
        Some(ResourceKind::Policy) => state.managed_policy(&arn).map_or(Value::Null, |p| {
            json!({
                "policyName": p.policy_name.as_str(), "policyId": p.policy_id.as_str(), "arn": p.arn.to_string(),
                "path": p.path.as_str(), "defaultVersionId": p.default_version_id,
                "versions": p.versions.iter().map(|v| v.version_id.as_str()).collect::<Vec<_>>(),
                "tags": tags(&p.tags),
                "attachmentCount": state.attachment_count(&p.arn),
            })
        }),
        _ => Value::Null,
    }
}

/// An access key's metadata as `responseElements` shows it: never its secret.
fn access_key_elements(executed: &Executed, access_key_id: &str, user_name: Option<&str>) -> Value {
    let key = executed.model.state().access_key(access_key_id);
    strip_nulls(json!({
        "accessKey": {
            "accessKeyId": access_key_id,
            "userName": user_name,
            "status": key.map(|k| k.status.as_str()),
            "createDate": key.map(|k| k.create_date),
        },
    }))
}

impl Gatehouse {
    pub(crate) fn caller_model(&self, caller: &ApiCaller) -> Result<Arc<AccountModel>, AppError> {
        self.account(&caller.account_id)
            .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))
    }

    /// For each of `actions`, whether the caller could be allowed it on some resource of its
    /// account ([`iam_authz::CompiledPrincipal::could_be_allowed`]): what a console shows as
    /// editable. A question about the caller's own policies that changes nothing, so it is not
    /// recorded; the call itself, if made, is authorized and recorded in full. A closed account
    /// or a principal gone could be allowed nothing.
    #[must_use]
    pub fn caller_could(&self, caller: &ApiCaller, actions: &[&str]) -> Vec<bool> {
        let principal = self
            .caller_model(caller)
            .ok()
            .filter(|_| !self.is_suspended(&caller.account_id))
            .and_then(|model| caller_principal(&model, caller));
        actions
            .iter()
            .map(|action| {
                principal.as_ref().is_some_and(|p| p.could_be_allowed(action))
                    && session_barred_from(caller, action).is_none()
            })
            .collect()
    }

    /// Records a management call; a record that cannot be made durable fails the call.
    pub(crate) async fn record_call(&self, facts: CallFacts<'_>) -> Result<(), AppError> {
        let organization = self.organization_of(&facts.caller.account_id);
        self.record(vec![management_record(facts, organization.as_deref())])
            .await
    }

    /// Authorizes, executes and records one IAM management command for `caller`, in the
    /// caller's own account. A refused or failed call is recorded too.
    ///
    /// # Errors
    /// `AccessDenied`, the domain's errors (`NoSuchEntity`, `EntityAlreadyExists`,
    /// `MalformedPolicyDocument`, `LimitExceeded`, ...), or `ServiceFailure` when the log or the
    /// audit history cannot take the change or its record (then nothing is answered as done).
    pub async fn manage(&self, caller: &ApiCaller, command: Command) -> Result<Executed, AppError> {
        self.manage_prepared(caller, command, async |_, command| Ok(command))
            .await
    }

    /// [`Gatehouse::manage`] for a command that needs work between authorization and execution
    /// (hashing a password, sealing a seed, checking codes): `prepare` gets the authorized
    /// command and returns the one to execute. Unauthorized callers never cause that work.
    pub(crate) async fn manage_prepared(
        &self,
        caller: &ApiCaller,
        command: Command,
        prepare: impl AsyncFnOnce(&AccountModel, Command) -> Result<Command, AppError>,
    ) -> Result<Executed, AppError> {
        let model = self.caller_model(caller)?;
        let now = Utc::now();
        let command = self.own_access_keys(&model, caller, command)?;
        let needed = requirements(model.state(), &caller.account_id, &command);
        let event_name = command.action_name();
        let resource = needed.first().map(|r| r.resource.clone()).unwrap_or_default();
        let outcome = match self.authorize_requirements(&model, caller, &needed, now) {
            Ok(()) => match prepare(&model, command.clone()).await {
                Ok(prepared) => self.execute(&caller.account_id, &caller.actor(), &prepared).await,
                Err(refused) => Err(refused),
            },
            Err(denied) => Err(denied),
        };
        let response = outcome.as_ref().map(|executed| {
            let elements = response_elements(&command, executed);
            let after = entity_snapshot(executed.model.state(), &resource);
            (elements, Some(changes(model.state(), executed, &resource, after)))
        });
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_IAM,
            state: model.state(),
            event_name,
            needed: &needed,
            request_parameters: command.request_parameters(),
            outcome: response,
            read_only: false,
            now,
        })
        .await?;
        outcome.map_err(|error| self.encode_denial(&caller.account_id, error))
    }

    /// Resolves a key command without `UserName` to the caller's own keys, as AWS does: a user
    /// manages its own, and only the root user manages the root user's.
    fn own_access_keys(&self, model: &AccountModel, caller: &ApiCaller, command: Command) -> Result<Command, AppError> {
        let resolve = |user_name: Option<String>| {
            access_key_user(model.state(), &caller.principal_arn, user_name).map_err(AppError::from)
        };
        Ok(match command {
            Command::UpdateAccessKey {
                user_name,
                access_key_id,
                status,
            } => Command::UpdateAccessKey {
                user_name: resolve(user_name)?,
                access_key_id,
                status,
            },
            Command::DeleteAccessKey {
                user_name,
                access_key_id,
            } => Command::DeleteAccessKey {
                user_name: resolve(user_name)?,
                access_key_id,
            },
            other => other,
        })
    }

    /// `CreateAccessKey` for `caller`: for the named user, or without a name for the caller
    /// itself (the root user's keys only when the caller is the root user). The secret is in the
    /// answer only: the record shows the key's id and status.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`], and `ValidationError` when a caller that is neither a user nor
    /// the root user names no user.
    pub async fn create_access_key_for(
        &self,
        caller: &ApiCaller,
        user_name: Option<String>,
    ) -> Result<CreatedAccessKey, AppError> {
        let model = self.caller_model(caller)?;
        let now = Utc::now();
        let requested = Command::CreateAccessKey {
            user_name: user_name.clone(),
            access_key_id: String::new(),
            secret_ciphertext: String::new(),
        };
        let resolved = access_key_user(model.state(), &caller.principal_arn, user_name).map_err(AppError::from);
        let command = Command::CreateAccessKey {
            user_name: resolved.clone().ok().flatten(),
            access_key_id: String::new(),
            secret_ciphertext: String::new(),
        };
        let needed = match &resolved {
            Ok(_) => requirements(model.state(), &caller.account_id, &command),
            Err(_) => Vec::new(),
        };
        let outcome = match resolved {
            Ok(owner) => match self.authorize_requirements(&model, caller, &needed, now) {
                Ok(()) => self
                    .create_access_key(&caller.account_id, &caller.actor(), owner.clone())
                    .await
                    .map(|key| CreatedAccessKey { key, user_name: owner }),
                Err(denied) => Err(denied),
            },
            Err(invalid) => Err(invalid),
        };
        let response = outcome.as_ref().map(|created| {
            let resource = needed.first().map(|r| r.resource.as_str()).unwrap_or_default();
            (
                access_key_elements(
                    &created.key.executed,
                    &created.key.access_key_id,
                    created.user_name.as_deref(),
                ),
                Some(changes(
                    model.state(),
                    &created.key.executed,
                    resource,
                    entity_snapshot(created.key.executed.model.state(), resource),
                )),
            )
        });
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_IAM,
            state: model.state(),
            event_name: "CreateAccessKey",
            needed: &needed,
            request_parameters: requested.request_parameters(),
            outcome: response,
            read_only: false,
            now,
        })
        .await?;
        outcome
    }

    /// Creates a tenant account with its root key. Only the management account's root user may
    /// (until organizations bring `organizations:CreateAccount` policies). The record shows the
    /// new account's id and its key's id, never the secret.
    ///
    /// # Errors
    /// `AccessDenied` for any other caller; `ServiceFailure` when the log or the record fails.
    pub async fn create_account_for(
        &self,
        caller: &ApiCaller,
        account_alias: Option<String>,
    ) -> Result<CreatedAccount, AppError> {
        let model = self.caller_model(caller)?;
        let now = Utc::now();
        let needed = vec![Requirement::named("organizations:CreateAccount", "*")];
        let outcome = match self.may_create_accounts(&model, caller) {
            Ok(()) => self
                .create_account(&caller.actor(), account_alias.clone())
                .await
                .map(|(account_id, root_key)| CreatedAccount { account_id, root_key }),
            Err(denied) => Err(denied),
        };
        let response = outcome.as_ref().map(|created| {
            (
                json!({
                    "accountId": created.account_id,
                    "rootAccessKey": {"accessKeyId": created.root_key.access_key_id, "status": "Active"},
                }),
                None,
            )
        });
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_ORGANIZATIONS,
            state: model.state(),
            event_name: "CreateAccount",
            needed: &needed,
            request_parameters: json!({ "accountAlias": account_alias }),
            outcome: response,
            read_only: false,
            now,
        })
        .await?;
        outcome
    }

    /// Who may create accounts: the management account's root user (until organizations bring
    /// `organizations:CreateAccount` policies).
    fn may_create_accounts(&self, model: &AccountModel, caller: &ApiCaller) -> Result<(), AppError> {
        let is_management_root = self.management_account().as_deref() == Some(caller.account_id.as_str())
            && is_account_root(model.state(), &caller.principal_arn);
        if is_management_root {
            Ok(())
        } else {
            Err(access_denied(
                caller,
                "organizations:CreateAccount",
                "*",
                "because only the management account's root user may create accounts",
            ))
        }
    }

    /// Makes (or finishes making) a member account `CreateAccount` reserved: the account, and
    /// in it `role_name` trusting the management account with `AdministratorAccess` attached.
    /// Every step is idempotent, so a request a crash interrupted is resumed by running it again.
    pub(crate) async fn make_member_account(
        &self,
        actor: &Actor,
        account_id: &str,
        role_name: &str,
        management_account_id: &str,
    ) -> Result<(), AppError> {
        let already = |result: Result<_, AppError>| match result {
            Err(e) if e.code == ErrorCode::EntityAlreadyExists => Ok(()),
            other => other.map(|_| ()),
        };
        // The id was drawn unused before the organization reserved it (a draw colliding with an
        // account another replica makes at the same instant is a one-in-10^12 chance per pair),
        // so an account already there is this request's own, made before an interruption.
        let create = Command::CreateAccount {
            account_id: account_id.to_owned(),
            account_alias: None,
        };
        already(self.execute(account_id, actor, &create).await)?;
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{management_account_id}:root")},
                "Action": "sts:AssumeRole",
            }],
        });
        let create_role = Command::CreateRole {
            role_name: role_name.to_owned(),
            path: None,
            assume_role_policy_document: trust.to_string(),
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: Vec::new(),
        };
        already(self.execute(account_id, actor, &create_role).await)?;
        let attach = Command::AttachRolePolicy {
            role_name: role_name.to_owned(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
        };
        self.execute(account_id, actor, &attach).await?;
        Ok(())
    }

    /// Authorizes a read-only call for `caller` on its account's current model, as the domain
    /// says the call needs ([`Read::requirement`]); the caller's model comes back to answer from.
    ///
    /// # Errors
    /// `AccessDenied`.
    pub fn authorize_read(&self, caller: &ApiCaller, read: &Read) -> Result<Arc<AccountModel>, AppError> {
        let model = self.caller_model(caller)?;
        let needed = read.requirement(model.state(), &caller.account_id);
        self.authorize_requirements(&model, caller, std::slice::from_ref(&needed), Utc::now())
            .map_err(|denied| self.encode_denial(&caller.account_id, denied))?;
        Ok(model)
    }

    /// The record of a read-only call made with `read`, refused (`error`) or answered.
    #[must_use]
    pub fn read_call_record(&self, caller: &ApiCaller, read: &Read, error: Option<&AppError>) -> AuditRecord {
        let state = self.account(&caller.account_id).map(|m| m.state().clone());
        let empty = AccountState::new();
        let state = state.as_deref().unwrap_or(&empty);
        let needed = [read.requirement(state, &caller.account_id)];
        let facts = CallFacts {
            caller,
            event_source: EVENT_SOURCE_IAM,
            state,
            event_name: read.action_name(),
            needed: &needed,
            request_parameters: read.request_parameters(),
            outcome: error.map_or(Ok((Value::Null, None)), Err),
            read_only: true,
            now: Utc::now(),
        };
        management_record(facts, self.organization_of(&caller.account_id).as_deref())
    }

    /// The record of a read-only call (a `Get*` / `List*`), refused or answered. Reads record
    /// no response elements, as CloudTrail records none for them.
    #[must_use]
    pub fn read_record(
        &self,
        caller: &ApiCaller,
        event_name: &str,
        needed: &[Requirement],
        request_parameters: Value,
        error: Option<&AppError>,
    ) -> AuditRecord {
        let state = self.account(&caller.account_id).map(|m| m.state().clone());
        let empty = AccountState::new();
        let facts = CallFacts {
            caller,
            event_source: EVENT_SOURCE_IAM,
            state: state.as_deref().unwrap_or(&empty),
            event_name,
            needed,
            request_parameters,
            outcome: error.map_or(Ok((Value::Null, None)), Err),
            read_only: true,
            now: Utc::now(),
        };
        management_record(facts, self.organization_of(&caller.account_id).as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parameters_are_kept_whole() {
        let parameters = json!({"userName": "alice", "path": "/x/"});
        assert_eq!(bounded_parameters(parameters.clone()), parameters);
    }

    #[test]
    fn long_strings_of_large_parameters_become_their_size_and_digest() {
        let big = "x".repeat(200_000);
        let recorded = bounded_parameters(json!({"userName": big, "path": "/"}));
        assert_eq!(recorded["path"], "/");
        assert_eq!(recorded["userName"]["omitted"], true);
        assert_eq!(recorded["userName"]["bytes"], 200_000);
        assert_eq!(
            recorded["userName"]["sha256"],
            hex::encode(Sha256::digest(big.as_bytes()))
        );
        assert!(serialized_len(&recorded) <= MAX_RECORDED_PARAMETERS);
    }

    #[test]
    fn many_short_strings_are_summarized_whole() {
        let many: Vec<String> = (0..10_000).map(|i| format!("tag-{i}")).collect();
        let recorded = bounded_parameters(json!({ "tagKeys": many }));
        assert_eq!(recorded["omitted"], true);
        assert!(serialized_len(&recorded) < 200);
    }
}
