//! Management calls into the audit history: one CloudTrail-shaped record per top-level field of
//! every GraphQL request, with the IAM action and ARN the guard authorized, the arguments, the
//! response (secrets hidden) or the error, and for changes the account's sequence before and
//! after, the events appended and the touched entity before and after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Request, Response, ServerError, ServerResult, Value, Variables};
use chrono::Utc;
use iam_app::access::{user_identity, ApiCaller};
use iam_app::Gatehouse;
use iam_audit::{redact_secrets, AuditRecord, EVENT_SOURCE_IAM};
use iam_domain::{AccountState, DomainEvent};
use iam_types::{IamArn, ResourceKind};
use serde_json::{json, Value as Json};

/// What the resolvers learn about one call while it runs, keyed by the field's response key.
#[derive(Default)]
pub(crate) struct AuditCollector {
    calls: Mutex<HashMap<String, CallNote>>,
}

#[derive(Default, Clone)]
struct CallNote {
    action: Option<String>,
    resource: Option<String>,
    change: Option<Json>,
}

impl AuditCollector {
    fn with_note(&self, key: &str, update: impl FnOnce(&mut CallNote)) {
        if let Ok(mut calls) = self.calls.lock() {
            update(calls.entry(key.to_owned()).or_default());
        }
    }

    /// The guard authorized (or refused) `action` on `resource`.
    pub(crate) fn authorized(&self, key: &str, action: &str, resource: &str) {
        self.with_note(key, |note| {
            if note.action.is_none() {
                note.action = Some(action.to_owned());
                note.resource = Some(resource.to_owned());
            }
        });
    }

    /// A command changed the account.
    pub(crate) fn changed(
        &self,
        key: &str,
        before: &AccountState,
        after: &AccountState,
        events: &[DomainEvent],
        resource: &str,
    ) {
        let mut events: Vec<Json> = events.iter().filter_map(|e| serde_json::to_value(e).ok()).collect();
        events.iter_mut().for_each(redact_secrets);
        let change = json!({
            "sequenceBefore": before.version(),
            "sequenceAfter": after.version(),
            "events": events,
            "before": entity_snapshot(before, resource),
            "after": entity_snapshot(after, resource),
        });
        self.with_note(key, |note| note.change = Some(change));
    }

    fn take(&self, key: &str) -> CallNote {
        self.calls
            .lock()
            .ok()
            .and_then(|mut calls| calls.remove(key))
            .unwrap_or_default()
    }
}

/// An entity as the audit record shows it before and after a change (`null` when absent).
fn entity_snapshot(state: &AccountState, resource: &str) -> Json {
    let Ok(arn) = IamArn::parse(resource) else {
        return Json::Null;
    };
    let Some(name) = arn.name() else {
        return Json::Null;
    };
    let name = name.as_str();
    let tags = |tags: &[iam_types::Tag]| -> Vec<Json> {
        tags.iter()
            .map(|t| json!({"key": t.key(), "value": t.value()}))
            .collect()
    };
    let attached = |arns: &[IamArn]| -> Vec<String> { arns.iter().map(ToString::to_string).collect() };
    match arn.kind() {
        Some(ResourceKind::User) => state.user(name).map_or(Json::Null, |u| {
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
        Some(ResourceKind::Group) => state.group(name).map_or(Json::Null, |g| {
            json!({
                "groupName": g.group_name.as_str(), "groupId": g.group_id.as_str(), "arn": g.arn.to_string(),
                "path": g.path.as_str(),
                "members": state.users_in_group(name).iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(),
                "attachedPolicies": attached(&g.permissions.attached_policies),
                "inlinePolicyNames": g.permissions.inline_policies.keys().collect::<Vec<_>>(),
            })
        }),
        Some(ResourceKind::Role) => state.role(name).map_or(Json::Null, |r| {
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
        Some(ResourceKind::Policy) => state.managed_policy(&arn).map_or(Json::Null, |p| {
            json!({
                "policyName": p.policy_name.as_str(), "policyId": p.policy_id.as_str(), "arn": p.arn.to_string(),
                "path": p.path.as_str(), "defaultVersionId": p.default_version_id,
                "versions": p.versions.iter().map(|v| v.version_id.as_str()).collect::<Vec<_>>(),
                "tags": tags(&p.tags),
                "attachmentCount": state.attachment_count(&p.arn),
            })
        }),
        _ => Json::Null,
    }
}

/// Installs per-request auditing of management calls.
pub(crate) struct ManagementAudit;

impl ExtensionFactory for ManagementAudit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestAudit::default())
    }
}

#[derive(Default)]
struct RequestAudit {
    collector: Arc<AuditCollector>,
    variables: Mutex<Variables>,
    records: Mutex<Vec<AuditRecord>>,
}

/// `createUser` -> `CreateUser`; fields no guard names map to their AWS action by hand.
fn upper_camel(field: &str) -> String {
    if field == "callerIdentity" {
        return "GetCallerIdentity".to_owned();
    }
    let mut chars = field.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Extension for RequestAudit {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut variables) = self.variables.lock() {
            *variables = request.variables.clone();
        }
        next.run(ctx, request.data(self.collector.clone())).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let top_level = info.path_node.parent.is_none() && !info.is_for_introspection;
        if !top_level || info.name == "authorize" {
            // Decisions record themselves, with their own shape.
            return next.run(ctx, info).await;
        }
        let key = info.alias.unwrap_or(info.name).to_owned();
        let field_name = info.name.to_owned();
        let read_only = !info.parent_type.contains("Mutation");
        let arguments: Vec<(String, _)> = info
            .field
            .arguments
            .iter()
            .map(|(name, value)| (name.node.to_string(), value.node.clone()))
            .collect();
        let result = next.run(ctx, info).await;
        let (Some(caller), Some(gatehouse)) = (ctx.data_opt::<ApiCaller>(), ctx.data_opt::<Arc<Gatehouse>>()) else {
            return result;
        };
        let variables = self.variables.lock().map(|v| v.clone()).unwrap_or_default();
        let mut parameters = serde_json::Map::new();
        for (name, value) in arguments {
            let value = value
                .into_const_with(|variable| variables.get(&variable).cloned().ok_or(()))
                .ok()
                .and_then(|v| v.into_json().ok())
                .unwrap_or(Json::Null);
            parameters.insert(name, value);
        }
        let mut request_parameters = Json::Object(parameters);
        redact_secrets(&mut request_parameters);
        let note = self.collector.take(&key);
        let (response_elements, error_code, error_message) = match &result {
            Ok(value) => {
                let mut json = value.clone().and_then(|v| v.into_json().ok()).unwrap_or(Json::Null);
                redact_secrets(&mut json);
                (json, None, None)
            }
            Err(error) => {
                let code = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .and_then(|c| c.clone().into_json().ok())
                    .and_then(|c| c.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "ValidationError".to_owned());
                (Json::Null, Some(code), Some(error.message.clone()))
            }
        };
        let event_name = note
            .action
            .as_deref()
            .and_then(|a| a.strip_prefix("iam:"))
            .map_or_else(|| upper_camel(&field_name), str::to_owned);
        let state = gatehouse.account(&caller.account_id).map(|m| m.state().clone());
        let identity = state.as_deref().map_or_else(Default::default, |s| {
            user_identity(s, &caller.principal_arn, caller.access_key_id.as_deref())
        });
        let mut additional = json!({
            "action": note.action.clone().unwrap_or_else(|| format!("iam:{event_name}")),
            "resource": note.resource,
            "graphqlField": field_name,
        });
        if let (Some(change), Some(object)) = (note.change, additional.as_object_mut()) {
            object.insert("changes".into(), change);
        }
        let record = AuditRecord {
            event_version: "1.09".into(),
            user_identity: identity,
            event_time: Utc::now(),
            event_source: EVENT_SOURCE_IAM.into(),
            event_name,
            aws_region: caller.region.clone(),
            source_ip_address: caller.source_ip.clone().unwrap_or_default(),
            user_agent: caller.user_agent.clone().unwrap_or_default(),
            request_parameters,
            response_elements,
            error_code,
            error_message,
            request_id: caller.request_id.clone(),
            event_id: uuid::Uuid::now_v7().to_string(),
            read_only,
            event_type: "AwsApiCall".into(),
            recipient_account_id: caller.account_id.clone(),
            additional_event_data: Some(additional),
        };
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
        result
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let records = self
            .records
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        if records.is_empty() {
            return response;
        }
        if let Some(gatehouse) = ctx.data_opt::<Arc<Gatehouse>>() {
            if let Err(error) = gatehouse.record(records).await {
                tracing::error!(%error, "management calls could not be recorded");
                let mut server_error = ServerError::new(error.message.clone(), None);
                let mut extensions = async_graphql::ErrorExtensionValues::default();
                extensions.set("code", "ServiceFailure");
                server_error.extensions = Some(extensions);
                response.errors.push(server_error);
            }
        }
        response
    }
}
