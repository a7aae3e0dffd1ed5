//! Every admin call is authorized as the IAM action it is, against the caller's own policies, in
//! the caller's own account (so no call can reach another tenant). The rule itself lives in
//! `iam-app` (`management::authorize_requirements`), shared by every door; this is its GraphQL
//! side: which field needs which action, and the error as GraphQL carries it.

use std::sync::Arc;

use async_graphql::{Context, Result};
use iam_app::access::ApiCaller;
use iam_app::Gatehouse;
use iam_authz::AccountModel;
use iam_domain::{Read, Requirement};
use iam_types::ErrorCode;

use crate::audit::AuditCollector;
use crate::error::{aws_error, from_app};

/// The caller, the service, and the caller's account as of this request.
pub(crate) struct Scope {
    pub(crate) gatehouse: Arc<Gatehouse>,
    pub(crate) caller: ApiCaller,
    pub(crate) model: Arc<AccountModel>,
    /// The top-level field's response key and the request's audit collector.
    audit: Option<(String, Arc<AuditCollector>)>,
}

impl Scope {
    pub(crate) fn of(ctx: &Context<'_>) -> Result<Scope> {
        let gatehouse = ctx.data::<Arc<Gatehouse>>()?.clone();
        let caller = ctx
            .data_opt::<ApiCaller>()
            .cloned()
            .ok_or_else(|| aws_error(ErrorCode::AccessDenied, "the request is not authenticated"))?;
        let model = gatehouse
            .account(&caller.account_id)
            .ok_or_else(|| aws_error(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
        let mut node = ctx.path_node.as_ref();
        while let Some(parent) = node.and_then(|n| n.parent) {
            node = Some(parent);
        }
        let key = node.and_then(|n| match n.segment {
            async_graphql::QueryPathSegment::Name(name) => Some(name.to_owned()),
            async_graphql::QueryPathSegment::Index(_) => None,
        });
        // Only a top-level field notes what it authorized: nested fields' checks are their own.
        let top_level = ctx.path_node.as_ref().is_some_and(|n| n.parent.is_none());
        let audit = key
            .zip(ctx.data_opt::<Arc<AuditCollector>>().cloned())
            .filter(|_| top_level);
        Ok(Scope {
            gatehouse,
            caller,
            model,
            audit,
        })
    }

    pub(crate) fn account(&self) -> &str {
        &self.caller.account_id
    }

    /// `arn:aws:iam::<account>:<resource>`.
    pub(crate) fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iam::{}:{resource}", self.caller.account_id)
    }

    /// Refuses with `AccessDenied`, worded as AWS words it, unless the caller may make the
    /// read-only IAM call `read` (the permission is the domain's: [`Read::requirement`]).
    pub(crate) fn read(&self, read: Read) -> Result<()> {
        let authorized = self.gatehouse.authorize_read(&self.caller, &read);
        if let Some((key, collector)) = &self.audit {
            collector.read(key, read);
        }
        authorized.map(drop).map_err(from_app)
    }

    /// Notes that the field is a call that records itself (an Organizations operation), so the
    /// request's audit of read-only fields does not record it twice.
    pub(crate) fn records_itself(&self) {
        if let Some((key, collector)) = &self.audit {
            collector.records_itself(key);
        }
    }

    /// Notes that the field is `action` on `resource`, authorized by the use case it calls
    /// (`organizations:DescribeAccount` for a member account's central view).
    pub(crate) fn note(&self, action: &str, resource: &str) {
        if let Some((key, collector)) = &self.audit {
            collector.authorized(key, action, resource);
        }
    }

    /// Refuses with `AccessDenied` unless the caller may do `action` on `resource`: for the
    /// calls that are not IAM's (`cloudtrail:LookupEvents` on the history).
    pub(crate) fn authorize(&self, action: &str, resource: &str) -> Result<()> {
        if let Some((key, collector)) = &self.audit {
            collector.authorized(key, action, resource);
        }
        self.gatehouse
            .authorize_requirements(
                &self.model,
                &self.caller,
                &[Requirement::named(action, resource)],
                chrono::Utc::now(),
            )
            .map_err(from_app)
    }
}

/// A point in an account's history for a read: `{time: ...}` or `{sequence: ...}` (an account
/// sequence, such as a mutation's `sequence` or an audit record's `accountSequence`).
#[derive(async_graphql::OneofObject, Clone, Copy)]
pub(crate) enum AsOfInput {
    /// The state after the last event recorded at or before this instant.
    Time(chrono::DateTime<chrono::Utc>),
    /// The state after the event with this sequence.
    Sequence(u64),
}

impl From<AsOfInput> for iam_app::history::AsOf {
    fn from(as_of: AsOfInput) -> Self {
        match as_of {
            AsOfInput::Time(at) => iam_app::history::AsOf::Time(at),
            AsOfInput::Sequence(sequence) => iam_app::history::AsOf::Sequence(sequence),
        }
    }
}

impl Scope {
    /// The model to answer from: the account now, or as it was at `as_of` (rebuilt from the log).
    /// The caller is authorized on the account as it is now either way; nested fields of an
    /// answer read the same point in time.
    pub(crate) async fn model_as_of(&self, as_of: Option<AsOfInput>) -> Result<Arc<AccountModel>> {
        let Some(as_of) = as_of else {
            return Ok(self.model.clone());
        };
        let state = self
            .gatehouse
            .account_state_at(&self.caller.account_id, as_of.into())
            .await
            .map_err(from_app)?;
        Ok(Arc::new(AccountModel::new(state)))
    }
}

/// Authorizes a nested field: the caller may make `read`, the call AWS would need to read the
/// same thing (`ListGroupsForUser` for a user's groups), decided on the caller's current model;
/// unless the field is `covered` by the call that authorized its parent
/// (`GetAccountAuthorizationDetails` returns a user's groups, policies and tags with it).
pub(crate) fn authorize_nested_unless(covered: bool, ctx: &Context<'_>, read: impl FnOnce() -> Read) -> Result<()> {
    if covered {
        return Ok(());
    }
    Scope::of(ctx)?.read(read())
}
