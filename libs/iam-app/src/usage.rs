//! What a principal actually used, exactly, from the decision log: the last allowed decision per
//! service and per action (AWS's "last accessed", which AWS reports hours late and mostly per
//! service), and the statements of its policies that granted nothing in a window.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use iam_audit::{AuditFilter, GroupBy, EVENT_SOURCE_AUTHZ};
use iam_domain::{AccountState, EffectivePolicies, Requirement};
use iam_policy::Effect;
use iam_types::{ErrorCode, IamArn, ResourceKind};
use serde_json::Value;

use crate::access::ApiCaller;
use crate::{audit_read_error, AppError, Gatehouse};

/// The action the usage reads are authorized as (on the principal's ARN), as AWS authorizes its
/// own last-accessed reports.
pub const USAGE_ACTION: &str = "iam:GenerateServiceLastAccessedDetails";
/// The most distinct actions one report lists.
pub const MAX_ACTIONS: usize = 1_000;
/// The most allowed decisions one unused-permissions report reads.
pub const MAX_DECISIONS_READ: usize = 1_000_000;

/// The last allowed decision of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionAccess {
    /// `s3:GetObject`.
    pub action: String,
    /// When it was last allowed.
    pub last_allowed: DateTime<Utc>,
    /// That decision's record.
    pub event_id: String,
    /// That decision's region (`awsRegion`: where the application that asked is).
    pub region: String,
    /// Allowed decisions of the action in the window.
    pub allowed_count: u64,
}

/// One service's actions, last allowed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccess {
    /// The service prefix (`s3`).
    pub service: String,
    /// Its last allowed decision.
    pub last_allowed: DateTime<Utc>,
    /// That decision's record.
    pub event_id: String,
    /// That decision's region.
    pub region: String,
    /// Per action.
    pub actions: Vec<ActionAccess>,
}

/// A statement of the principal's policies that allowed nothing in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedStatement {
    /// The policy (ARN, or `<owner>#<name>` for an inline policy).
    pub policy_id: String,
    /// Its version, for a managed policy.
    pub version_id: Option<String>,
    /// The statement's index in the policy.
    pub statement_index: usize,
    /// Its `Sid`.
    pub sid: Option<String>,
    /// Its `Action` (or `NotAction`) patterns.
    pub actions: Vec<String>,
    /// Whether they are `NotAction`.
    pub not_action: bool,
}

/// What `unused_permissions` found.
#[derive(Debug, Clone, Default)]
pub struct UnusedPermissions {
    /// Allowed decisions about the principal read in the window.
    pub decisions: u64,
    /// The principal's `Allow` statements now (identity policies: its own, its groups').
    pub statements: u64,
    /// Those that granted none of them.
    pub unused: Vec<UnusedStatement>,
}

/// `principal_arn` parsed, when it names a user or role of `account`; `NoSuchEntity` otherwise.
pub(crate) fn principal_of_account(principal_arn: &str, account: &str) -> Result<IamArn, AppError> {
    IamArn::parse(principal_arn)
        .ok()
        .filter(|arn| matches!(arn.kind(), Some(ResourceKind::User | ResourceKind::Role)))
        .filter(|arn| arn.account().is_some_and(|a| a.as_str() == account))
        .ok_or_else(|| no_such_principal(principal_arn, account))
}

fn no_such_principal(principal_arn: &str, account: &str) -> AppError {
    AppError::new(
        ErrorCode::NoSuchEntity,
        format!("{principal_arn} is not a user or role of account {account}"),
    )
}

/// The allowed decisions about `principal_arn` in `account` since `since` (all of them without).
pub(crate) fn allowed_decisions_about(account: &str, principal_arn: &str, since: Option<DateTime<Utc>>) -> AuditFilter {
    AuditFilter {
        account_id: account.to_owned(),
        from: since,
        event_source: Some(EVENT_SOURCE_AUTHZ.to_owned()),
        decided_principal_arn: Some(principal_arn.to_owned()),
        decision: Some("Allow".to_owned()),
        ..AuditFilter::default()
    }
}

/// The effective policies of the user or role `arn` names, if `state` has it.
pub(crate) fn effective_policies_of(state: &AccountState, arn: &IamArn) -> Option<EffectivePolicies> {
    let name = arn.name()?;
    match arn.kind() {
        Some(ResourceKind::User) => state.effective_policies_of_user(name.as_str()),
        Some(ResourceKind::Role) => state.effective_policies_of_role(name.as_str()),
        _ => None,
    }
}

impl Gatehouse {
    fn usage_filter(
        &self,
        caller: &ApiCaller,
        principal_arn: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<AuditFilter, AppError> {
        let model = self.caller_model(caller)?;
        let needed = [Requirement::named(USAGE_ACTION, principal_arn)];
        self.authorize_requirements(&model, caller, &needed, Utc::now())?;
        Ok(allowed_decisions_about(&caller.account_id, principal_arn, since))
    }

    /// The last allowed decision about `principal_arn` (of the caller's account) for each
    /// service and action, since `since` (the whole history without it), from the decision log.
    /// Needs `iam:GenerateServiceLastAccessedDetails` on the principal.
    ///
    /// # Errors
    /// `AccessDenied`; `ServiceFailure` if the history cannot be read.
    pub async fn last_accessed(
        &self,
        caller: &ApiCaller,
        principal_arn: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ServiceAccess>, AppError> {
        let filter = self.usage_filter(caller, principal_arn, since)?;
        self.last_allowed(&filter).await
    }

    /// The last allowed decision of each service and action among the decisions `filter`
    /// ([`allowed_decisions_about`]) selects, newest service first; the caller must already be
    /// authorized to read them.
    pub(crate) async fn last_allowed(&self, filter: &AuditFilter) -> Result<Vec<ServiceAccess>, AppError> {
        let audit = self
            .audit_log()
            .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "no audit log is configured"))?;
        // The actions used (an index count), then each one's newest allowed record.
        let counts = audit
            .count_by(filter, GroupBy::Action)
            .await
            .map_err(audit_read_error)?;
        let mut services: BTreeMap<String, ServiceAccess> = BTreeMap::new();
        for (action, count) in counts.into_iter().take(MAX_ACTIONS) {
            let Some(action) = action else { continue };
            let newest = audit
                .query(
                    &AuditFilter {
                        action: Some(action.clone()),
                        ..filter.clone()
                    },
                    1,
                    None,
                )
                .await
                .map_err(audit_read_error)?;
            let Some((_, record)) = newest.records.into_iter().next() else {
                continue;
            };
            let access = ActionAccess {
                action: action.clone(),
                last_allowed: record.event_time,
                event_id: record.event_id,
                region: record.aws_region,
                allowed_count: count,
            };
            let service = action.split(':').next().unwrap_or_default().to_ascii_lowercase();
            let entry = services.entry(service.clone()).or_insert_with(|| ServiceAccess {
                service,
                last_allowed: access.last_allowed,
                event_id: access.event_id.clone(),
                region: access.region.clone(),
                actions: Vec::new(),
            });
            if access.last_allowed > entry.last_allowed {
                entry.last_allowed = access.last_allowed;
                entry.event_id.clone_from(&access.event_id);
                entry.region.clone_from(&access.region);
            }
            entry.actions.push(access);
        }
        let mut services: Vec<ServiceAccess> = services.into_values().collect();
        for service in &mut services {
            service.actions.sort_by(|a, b| {
                b.last_allowed
                    .cmp(&a.last_allowed)
                    .then_with(|| a.action.cmp(&b.action))
            });
        }
        services.sort_by(|a, b| {
            b.last_allowed
                .cmp(&a.last_allowed)
                .then_with(|| a.service.cmp(&b.service))
        });
        Ok(services)
    }

    /// The `Allow` statements of `principal_arn`'s identity policies (as they are now) that
    /// allowed none of the decisions about it since `since`: what least privilege would remove.
    /// A statement counts as used when a decision's record names it (the policy, its version and
    /// the statement's index). Needs `iam:GenerateServiceLastAccessedDetails` on the principal.
    ///
    /// # Errors
    /// `AccessDenied`; `NoSuchEntity` for a principal that is not a user or role of the
    /// caller's account; `ServiceFailure` if the history cannot be read.
    pub async fn unused_permissions(
        &self,
        caller: &ApiCaller,
        principal_arn: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<UnusedPermissions, AppError> {
        let filter = self.usage_filter(caller, principal_arn, since)?;
        let model = self.caller_model(caller)?;
        let state = model.state();
        let arn = principal_of_account(principal_arn, &caller.account_id)?;
        let policies =
            effective_policies_of(state, &arn).ok_or_else(|| no_such_principal(principal_arn, &caller.account_id))?;
        let audit = self
            .audit_log()
            .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "no audit log is configured"))?;
        // (policy, version, statement index) of every statement an allowed decision rests on.
        let mut used: BTreeSet<(String, Option<String>, u64)> = BTreeSet::new();
        let mut report = UnusedPermissions::default();
        let mut after: Option<String> = None;
        loop {
            let page = audit
                .query(&filter, 1_000, after.as_deref())
                .await
                .map_err(audit_read_error)?;
            for (_, record) in &page.records {
                report.decisions += 1;
                let statements = record
                    .additional_event_data
                    .as_ref()
                    .and_then(|d| d.get("matchedStatements"))
                    .and_then(Value::as_array);
                for statement in statements.into_iter().flatten() {
                    let (Some(id), Some(index)) = (
                        statement.get("sourcePolicyId").and_then(Value::as_str),
                        statement.get("statementIndex").and_then(Value::as_u64),
                    ) else {
                        continue;
                    };
                    let version = statement.get("versionId").and_then(Value::as_str).map(str::to_owned);
                    used.insert((id.to_owned(), version, index));
                }
            }
            after = page.records.last().map(|(cursor, _)| cursor.clone());
            if !page.has_next_page || report.decisions as usize >= MAX_DECISIONS_READ {
                break;
            }
        }
        for policy in &policies.identity {
            let Ok(parsed) = iam_policy::parse_policy(&policy.document) else {
                continue;
            };
            for (index, statement) in parsed.policy.statements.iter().enumerate() {
                if statement.effect != Effect::Allow {
                    continue;
                }
                report.statements += 1;
                let key = (policy.source_id.clone(), policy.version_id.clone(), index as u64);
                if !used.contains(&key) {
                    report.unused.push(UnusedStatement {
                        policy_id: policy.source_id.clone(),
                        version_id: policy.version_id.clone(),
                        statement_index: index,
                        sid: statement.sid.clone(),
                        actions: statement.action.patterns.clone(),
                        not_action: statement.action.negated,
                    });
                }
            }
        }
        Ok(report)
    }
}
