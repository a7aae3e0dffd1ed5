//! Every admin call is authorized as the IAM action it is, against the caller's own policies, in
//! the caller's own account (so no call can reach another tenant).

use std::sync::Arc;

use async_graphql::{Context, Result};
use iam_app::{Actor, Gatehouse};
use iam_authz::{authorize, AccountModel, RequestFacts};
use iam_policy::DecisionEffect;
use iam_types::ErrorCode;

use crate::audit::AuditCollector;
use crate::error::aws_error;
use crate::Caller;

/// The caller, the service, and the caller's account as of this request.
pub(crate) struct Scope {
    pub(crate) gatehouse: Arc<Gatehouse>,
    pub(crate) caller: Caller,
    pub(crate) model: Arc<AccountModel>,
    /// The top-level field's response key and the request's audit collector.
    pub(crate) audit: Option<(String, Arc<AuditCollector>)>,
}

impl Scope {
    pub(crate) fn of(ctx: &Context<'_>) -> Result<Scope> {
        let gatehouse = ctx.data::<Arc<Gatehouse>>()?.clone();
        let caller = ctx
            .data_opt::<Caller>()
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
        let audit = key.zip(ctx.data_opt::<Arc<AuditCollector>>().cloned());
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

    pub(crate) fn actor(&self) -> Actor {
        Actor {
            arn: self.caller.principal_arn.clone(),
            request_id: self.caller.request_id.clone(),
        }
    }

    /// `arn:aws:iam::<account>:<resource>`.
    pub(crate) fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iam::{}:{resource}", self.caller.account_id)
    }

    /// Refuses with `AccessDenied`, worded as AWS words it, unless the caller may do `action`
    /// on `resource`.
    pub(crate) fn authorize(&self, action: &str, resource: &str) -> Result<()> {
        if let Some((key, collector)) = &self.audit {
            collector.authorized(key, action, resource);
        }
        let principal = self.model.principal(&self.caller.principal_arn).ok_or_else(|| {
            aws_error(
                ErrorCode::AccessDenied,
                format!("{} is no longer a principal of this account", self.caller.principal_arn),
            )
        })?;
        let facts = RequestFacts {
            source_ip: self.caller.source_ip.clone(),
            ..RequestFacts::default()
        };
        let context = self.model.request_context(&principal, &facts, chrono::Utc::now());
        let decision = authorize(&principal, action, resource, &context);
        let reason = match decision.effect {
            DecisionEffect::Allowed => return Ok(()),
            DecisionEffect::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
            DecisionEffect::ImplicitDeny if decision.details.allowed_by_identity => {
                "because no permissions boundary allows the action".to_string()
            }
            DecisionEffect::ImplicitDeny => format!("because no identity-based policy allows the {action} action"),
        };
        Err(aws_error(
            ErrorCode::AccessDenied,
            format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} {reason}",
                self.caller.principal_arn
            ),
        ))
    }
}
