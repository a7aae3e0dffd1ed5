//! Read-only calls into the audit history, and the request-wide limits that bound what one
//! request can make the server do and record.
//!
//! Mutations record themselves: each is an `iam-app` use case that builds its record from typed
//! data. Queries are recorded here, one record per top-level field (the IAM action and ARN the
//! guard authorized, the arguments, the error if any; no response elements, as CloudTrail records
//! none for reads), through `iam-app`'s record builder. Decisions (`authorize`) and Organizations'
//! reads (whose use case records every call) record themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextResolve,
    ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, Value, Variables};
use iam_app::access::ApiCaller;
use iam_app::{AppError, Gatehouse};
use iam_audit::AuditRecord;
use iam_domain::{Read, Requirement};
use iam_types::ErrorCode;
use serde_json::Value as Json;

/// Top-level fields one request may carry: each is a call with its own authorization and audit
/// record, so this bounds the records (and the work) one request can cause.
pub const MAX_TOP_LEVEL_FIELDS: usize = 20;

/// What a top-level field turned out to be, as its guard saw it.
enum Call {
    /// A read-only IAM call.
    Read(Read),
    /// Another service's action (`cloudtrail:LookupEvents`) on a resource.
    Action(String, String),
    /// A use case that records the call itself (Organizations' reads).
    RecordedByUseCase,
}

/// What the resolvers learn about one call while it runs, keyed by the field's response key.
#[derive(Default)]
pub(crate) struct AuditCollector {
    calls: Mutex<HashMap<String, Call>>,
}

impl AuditCollector {
    fn note(&self, key: &str, call: impl FnOnce() -> Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.entry(key.to_owned()).or_insert_with(call);
        }
    }

    /// The guard authorized (or refused) the IAM call `read`; the first check of a field is the
    /// call's own.
    pub(crate) fn read(&self, key: &str, read: Read) {
        self.note(key, || Call::Read(read));
    }

    /// The guard authorized (or refused) `action` on `resource`.
    pub(crate) fn authorized(&self, key: &str, action: &str, resource: &str) {
        self.note(key, || Call::Action(action.to_owned(), resource.to_owned()));
    }

    /// The field's use case records the call itself.
    pub(crate) fn records_itself(&self, key: &str) {
        self.note(key, || Call::RecordedByUseCase);
    }

    fn take(&self, key: &str) -> Option<Call> {
        self.calls.lock().ok().and_then(|mut calls| calls.remove(key))
    }
}

/// Installs per-request auditing of read-only calls and the top-level field limit.
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

/// `user` -> `GetUser`-like names for fields no guard named.
fn event_name_of(field: &str) -> String {
    if field == "callerIdentity" {
        return "GetCallerIdentity".to_owned();
    }
    let mut chars = field.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The top-level fields of a selection, counting those inside fragments (each fragment once per
/// spread, at most `limit + 1` so a cycle cannot make this loop).
fn top_level_fields(document: &ExecutableDocument, set: &SelectionSet, limit: usize, depth: usize) -> usize {
    let mut count = 0;
    for item in &set.items {
        if count > limit || depth > 8 {
            break;
        }
        count += match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                top_level_fields(document, &fragment.node.selection_set.node, limit, depth + 1)
            }
            Selection::FragmentSpread(spread) => {
                document.fragments.get(&spread.node.fragment_name.node).map_or(0, |f| {
                    top_level_fields(document, &f.node.selection_set.node, limit, depth + 1)
                })
            }
        };
    }
    count
}

fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", ErrorCode::LimitExceeded.as_str());
    error.extensions = Some(extensions);
    error
}

#[async_trait::async_trait]
impl Extension for RequestAudit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        for (_, operation) in document.operations.iter() {
            let fields = top_level_fields(&document, &operation.node.selection_set.node, MAX_TOP_LEVEL_FIELDS, 0);
            if fields > MAX_TOP_LEVEL_FIELDS {
                return Err(limit_error(format!(
                    "a request may carry at most {MAX_TOP_LEVEL_FIELDS} top-level fields; split it"
                )));
            }
        }
        Ok(document)
    }

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
        let records_itself = info.name == "authorize" || info.parent_type.contains("Mutation");
        if !top_level || records_itself {
            return next.run(ctx, info).await;
        }
        let key = info.alias.unwrap_or(info.name).to_owned();
        let field_name = info.name.to_owned();
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
        let error = result.as_ref().err().map(|error| {
            let code = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .and_then(|c| c.clone().into_json().ok())
                .and_then(|c| c.as_str().and_then(ErrorCode::from_name))
                .unwrap_or(ErrorCode::ValidationError);
            AppError::new(code, error.message.clone())
        });
        let record = match self.collector.take(&key) {
            Some(Call::RecordedByUseCase) => return result,
            Some(Call::Read(read)) => gatehouse.read_call_record(caller, &read, error.as_ref()),
            Some(Call::Action(action, resource)) => {
                let needed = [Requirement::named(&action, resource)];
                let event_name = action.split_once(':').map_or(action.as_str(), |(_, name)| name);
                gatehouse.read_record(caller, event_name, &needed, Json::Object(parameters), error.as_ref())
            }
            None => gatehouse.read_record(
                caller,
                &event_name_of(&field_name),
                &[],
                Json::Object(parameters),
                error.as_ref(),
            ),
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
                tracing::error!(%error, "read calls could not be recorded");
                // Nothing read may be answered without its record.
                response = Response::from_errors(vec![{
                    let mut server_error = ServerError::new(error.message.clone(), None);
                    let mut extensions = async_graphql::ErrorExtensionValues::default();
                    extensions.set("code", "ServiceFailure");
                    server_error.extensions = Some(extensions);
                    server_error
                }]);
            }
        }
        response
    }
}
