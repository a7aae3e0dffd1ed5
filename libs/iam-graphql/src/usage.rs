//! `lastAccessed` and `unusedPermissions`: what a principal used, from the decision log; they
//! translate to `iam-app`'s usage use cases.

use async_graphql::{Context, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::from_app;
use crate::guard::Scope;

/// The last allowed decision of one action.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ActionLastAccessed {
    /// `s3:GetObject`.
    pub action: String,
    /// When it was last allowed.
    pub last_allowed: DateTime<Utc>,
    /// That decision's record.
    #[graphql(name = "eventID")]
    pub event_id: String,
    /// Allowed decisions of the action in the window.
    pub allowed_count: u64,
}

/// One service's last allowed decision, and its actions', newest first.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ServiceLastAccessed {
    /// The service prefix (`s3`).
    pub service: String,
    /// Its last allowed decision.
    pub last_allowed: DateTime<Utc>,
    /// That decision's record.
    #[graphql(name = "eventID")]
    pub event_id: String,
    /// Per action.
    pub actions: Vec<ActionLastAccessed>,
}

/// A statement that allowed nothing in the window.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UnusedStatement {
    /// The policy (ARN, or `<owner>#<name>` for an inline policy).
    pub policy_id: String,
    /// Its version, for a managed policy.
    pub version_id: Option<String>,
    /// The statement's index.
    pub statement_index: u64,
    /// Its `Sid`.
    pub sid: Option<String>,
    /// Its `Action` (or `NotAction`) patterns.
    pub actions: Vec<String>,
    /// Whether they are `NotAction`.
    pub not_action: bool,
}

/// What `unusedPermissions` found.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UnusedPermissions {
    /// Allowed decisions about the principal in the window.
    pub decisions: u64,
    /// Its `Allow` statements now.
    pub statements: u64,
    /// Those that allowed none of the decisions.
    pub unused: Vec<UnusedStatement>,
}

pub(crate) async fn last_accessed(
    ctx: &Context<'_>,
    principal_arn: String,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ServiceLastAccessed>> {
    let scope = Scope::of(ctx)?;
    scope.note(iam_app::usage::USAGE_ACTION, &principal_arn);
    let services = scope
        .gatehouse
        .last_accessed(&scope.caller, &principal_arn, since)
        .await
        .map_err(from_app)?;
    Ok(services
        .into_iter()
        .map(|s| ServiceLastAccessed {
            service: s.service,
            last_allowed: s.last_allowed,
            event_id: s.event_id,
            actions: s
                .actions
                .into_iter()
                .map(|a| ActionLastAccessed {
                    action: a.action,
                    last_allowed: a.last_allowed,
                    event_id: a.event_id,
                    allowed_count: a.allowed_count,
                })
                .collect(),
        })
        .collect())
}

pub(crate) async fn unused_permissions(
    ctx: &Context<'_>,
    principal_arn: String,
    since: Option<DateTime<Utc>>,
) -> Result<UnusedPermissions> {
    let scope = Scope::of(ctx)?;
    scope.note(iam_app::usage::USAGE_ACTION, &principal_arn);
    let report = scope
        .gatehouse
        .unused_permissions(&scope.caller, &principal_arn, since)
        .await
        .map_err(from_app)?;
    Ok(UnusedPermissions {
        decisions: report.decisions,
        statements: report.statements,
        unused: report
            .unused
            .into_iter()
            .map(|u| UnusedStatement {
                policy_id: u.policy_id,
                version_id: u.version_id,
                statement_index: u.statement_index as u64,
                sid: u.sid,
                actions: u.actions,
                not_action: u.not_action,
            })
            .collect(),
    })
}

/// One permission a principal gained or lost.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct PermissionChange {
    /// `s3:GetObject`.
    pub action: String,
    /// The resource (or resource pattern) decided.
    pub resource: String,
    /// `true`: allowed at `to` and not at `from`; `false`: lost.
    pub gained: bool,
    /// The statements (policy and version) that explain it: those that allow at `to` for a
    /// gain; for a loss, those that allowed at `from` and any that deny at `to`.
    pub because: Vec<crate::history::MatchedStatementObject>,
}

/// What `permissionDiff` found.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct PermissionDiff {
    /// The account's sequence at `from`.
    pub from_sequence: u64,
    /// The account's sequence at `to`.
    pub to_sequence: u64,
    /// (action, resource) pairs decided at both points.
    pub pairs: u64,
    /// The changes, gains first.
    pub changes: Vec<PermissionChange>,
}

pub(crate) async fn permission_diff(
    ctx: &Context<'_>,
    principal_arn: String,
    from: crate::guard::AsOfInput,
    to: crate::guard::AsOfInput,
) -> Result<PermissionDiff> {
    let scope = Scope::of(ctx)?;
    scope.note("iam:SimulatePrincipalPolicy", &principal_arn);
    let diff = scope
        .gatehouse
        .permission_diff(&scope.caller, &principal_arn, from.into(), to.into())
        .await
        .map_err(from_app)?;
    Ok(PermissionDiff {
        from_sequence: diff.from_sequence,
        to_sequence: diff.to_sequence,
        pairs: diff.pairs,
        changes: diff
            .changes
            .into_iter()
            .map(|c| PermissionChange {
                action: c.action,
                resource: c.resource,
                gained: c.gained,
                because: c
                    .because
                    .iter()
                    .map(crate::history::MatchedStatementObject::from)
                    .collect(),
            })
            .collect(),
    })
}
