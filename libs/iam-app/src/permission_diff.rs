//! `permission_diff`: what a principal gained and lost between two points of its account's
//! history, each difference explained by the statements (policy and version) that made it.
//!
//! AWS actions cannot be enumerated, so the diff is computed over what can be named: the exact
//! actions the principal's policies name at either point, the actions of its audited decisions
//! in the window, and for each, the resources those policies name for it and `*`. Each (action,
//! resource) pair is decided on both states by the decision API's evaluation, on the account's
//! own policies (organization SCPs and RCPs are the organization's history, not the principal's)
//! and without request context, so statements that need a condition key do not grant here.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use iam_audit::{AuditFilter, GroupBy, EVENT_SOURCE_AUTHZ};
use iam_authz::AccountModel;
use iam_domain::{AccountState, Requirement};
use iam_policy::{DecisionEffect, MatchedStatement};
use iam_types::IamArn;

use crate::access::{evaluate_access, AccessRequest, ApiCaller};
use crate::history::AsOf;
use crate::usage::{effective_policies_of, principal_of_account};
use crate::{AppError, Gatehouse};

/// The most (action, resource) pairs one diff decides.
pub const MAX_PAIRS: usize = 20_000;

/// One permission that changed.
#[derive(Debug, Clone)]
pub struct PermissionChange {
    /// `s3:GetObject`.
    pub action: String,
    /// The resource (or resource pattern) decided.
    pub resource: String,
    /// `true`: allowed at `to` and not at `from`; `false`: the other way round.
    pub gained: bool,
    /// The statements that explain it: those that allow at `to` for a gain; for a loss, those
    /// that allowed at `from` and, when a deny took it away, the denying ones at `to`.
    pub because: Vec<MatchedStatement>,
}

/// What `permission_diff` found.
#[derive(Debug, Clone, Default)]
pub struct PermissionDiff {
    /// The account's sequence at `from` and at `to`.
    pub from_sequence: u64,
    /// See `from_sequence`.
    pub to_sequence: u64,
    /// (action, resource) pairs decided on both states.
    pub pairs: u64,
    /// The changes, gains first, by action and resource.
    pub changes: Vec<PermissionChange>,
}

/// The exact actions (no wildcard) and the resources of a principal's `Allow`/`Deny` statements.
fn named(state: &AccountState, arn: &IamArn) -> (BTreeSet<String>, Vec<(String, String)>) {
    let policies = effective_policies_of(state, arn);
    let mut actions = BTreeSet::new();
    let mut resources = Vec::new();
    let documents = policies
        .into_iter()
        .flat_map(|p| p.identity.into_iter().chain(p.permissions_boundary))
        .map(|p| p.document);
    for document in documents {
        let Ok(parsed) = iam_policy::parse_policy(&document) else {
            continue;
        };
        for statement in &parsed.policy.statements {
            if statement.action.negated {
                continue;
            }
            let statement_resources: Vec<String> = statement
                .resource
                .as_ref()
                .filter(|r| !r.negated)
                .map(|r| r.patterns.clone())
                .unwrap_or_else(|| vec!["*".to_owned()]);
            for pattern in &statement.action.patterns {
                if pattern.contains(['*', '?']) || !pattern.contains(':') {
                    continue;
                }
                actions.insert(pattern.clone());
                for resource in &statement_resources {
                    resources.push((pattern.to_ascii_lowercase(), resource.clone()));
                }
            }
        }
    }
    (actions, resources)
}

impl Gatehouse {
    /// The permissions `principal_arn` (a user or role of the caller's account) gained and lost
    /// between `from` and `to`. Needs `iam:SimulatePrincipalPolicy` on the principal and
    /// `cloudtrail:LookupEvents`.
    ///
    /// # Errors
    /// `AccessDenied`; `NoSuchEntity` for a principal that is neither a user nor a role of the
    /// account at either point; the errors of [`Gatehouse::account_state_at`].
    pub async fn permission_diff(
        &self,
        caller: &ApiCaller,
        principal_arn: &str,
        from: AsOf,
        to: AsOf,
    ) -> Result<PermissionDiff, AppError> {
        let current = self.caller_model(caller)?;
        let needed = [
            Requirement::named("iam:SimulatePrincipalPolicy", principal_arn),
            Requirement::named("cloudtrail:LookupEvents", "*"),
        ];
        self.authorize_requirements(&current, caller, &needed, Utc::now())?;
        let arn = principal_of_account(principal_arn, &caller.account_id)?;
        let account = caller.account_id.as_str();
        let before = Arc::new(AccountModel::new(self.account_state_at(account, from).await?));
        let after = Arc::new(AccountModel::new(self.account_state_at(account, to).await?));
        // The clock of a point: its instant, or now for a sequence (no context key reads it).
        let instant = |as_of: AsOf| match as_of {
            AsOf::Time(at) => at,
            AsOf::Sequence(_) => Utc::now(),
        };
        let (from_time, to_time) = (instant(from), instant(to));

        // What to decide: the policies' exact actions and resources at both points, and the
        // audited traffic's actions (and resources) about the principal in between.
        let (mut actions, mut pairs_named) = named(before.state(), &arn);
        let (to_actions, to_pairs) = named(after.state(), &arn);
        actions.extend(to_actions);
        pairs_named.extend(to_pairs);
        if let Some(audit) = self.audit_log() {
            let filter = AuditFilter {
                account_id: caller.account_id.clone(),
                event_source: Some(EVENT_SOURCE_AUTHZ.to_owned()),
                decided_principal_arn: Some(principal_arn.to_owned()),
                from: match from {
                    AsOf::Time(at) => Some(at),
                    AsOf::Sequence(_) => None,
                },
                to: match to {
                    AsOf::Time(at) => Some(at),
                    AsOf::Sequence(_) => None,
                },
                ..AuditFilter::default()
            };
            let by_action = audit
                .count_by(&filter, GroupBy::Action)
                .await
                .map_err(crate::audit_read_error)?;
            actions.extend(by_action.into_iter().filter_map(|(action, _)| action));
        }
        let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for action in &actions {
            let lower = action.to_ascii_lowercase();
            pairs.insert((action.clone(), "*".to_owned()));
            for (named_action, resource) in &pairs_named {
                if *named_action == lower {
                    pairs.insert((action.clone(), resource.clone()));
                }
            }
            if pairs.len() >= MAX_PAIRS {
                break;
            }
        }

        let own = |model: &AccountModel| model.state().version();
        let mut diff = PermissionDiff {
            from_sequence: own(&before),
            to_sequence: own(&after),
            ..PermissionDiff::default()
        };
        for (action, resource) in pairs {
            let request = AccessRequest {
                principal_arn: principal_arn.to_owned(),
                action: action.clone(),
                resource: resource.clone(),
                ..AccessRequest::default()
            };
            // A principal that does not exist at a point has no permission there.
            let decide = |model: &AccountModel, at| evaluate_access(model, account, &request, (None, None), at).ok();
            let (was, is) = (decide(&before, from_time), decide(&after, to_time));
            diff.pairs += 1;
            let allowed = |d: &Option<(DecisionEffect, Vec<MatchedStatement>, _)>| {
                d.as_ref()
                    .is_some_and(|(effect, _, _)| *effect == DecisionEffect::Allowed)
            };
            let (was_allowed, is_allowed) = (allowed(&was), allowed(&is));
            if was_allowed == is_allowed {
                continue;
            }
            let statements = |d: Option<(DecisionEffect, Vec<MatchedStatement>, _)>| {
                d.map(|(_, matched, _)| matched).unwrap_or_default()
            };
            let because = if is_allowed {
                statements(is)
            } else {
                let mut because = statements(was);
                because.extend(statements(is));
                because
            };
            diff.changes.push(PermissionChange {
                action,
                resource,
                gained: is_allowed,
                because,
            });
        }
        diff.changes.sort_by(|a, b| {
            b.gained
                .cmp(&a.gained)
                .then_with(|| (&a.action, &a.resource).cmp(&(&b.action, &b.resource)))
        });
        Ok(diff)
    }
}
