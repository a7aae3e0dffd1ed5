//! `previewChange`: the audited decisions of a window evaluated with a change applied, without
//! applying it. The change is one or several policy-affecting mutations, each named as its
//! mutation is (`{attachUserPolicy: {userName, policyArn}}`); they translate to the same
//! `Command`s the mutations execute, and `iam-app`'s preview use case does the rest.

use async_graphql::{Context, Enum, InputObject, OneofObject, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_app::preview::{Flip, PreviewReport, PreviewWindow};
use iam_domain::Command;

use crate::error::from_app;
use crate::guard::Scope;

/// A user and a managed policy.
#[derive(InputObject)]
pub struct PreviewUserPolicyInput {
    /// The user.
    pub user_name: String,
    /// The policy's ARN.
    pub policy_arn: String,
}

/// A group and a managed policy.
#[derive(InputObject)]
pub struct PreviewGroupPolicyInput {
    /// The group.
    pub group_name: String,
    /// The policy's ARN.
    pub policy_arn: String,
}

/// A role and a managed policy.
#[derive(InputObject)]
pub struct PreviewRolePolicyInput {
    /// The role.
    pub role_name: String,
    /// The policy's ARN.
    pub policy_arn: String,
}

/// An inline policy of a user, group or role (`principalName` is the user, group or role).
#[derive(InputObject)]
pub struct PreviewInlinePolicyInput {
    /// The user, group or role.
    pub principal_name: String,
    /// The inline policy's name.
    pub policy_name: String,
    /// Its document; absent to delete it.
    pub policy_document: Option<String>,
}

/// A new default version of a managed policy.
#[derive(InputObject)]
pub struct PreviewPolicyVersionInput {
    /// The policy's ARN.
    pub policy_arn: String,
    /// The new version's document.
    pub policy_document: String,
}

/// A policy's default version.
#[derive(InputObject)]
pub struct PreviewDefaultVersionInput {
    /// The policy's ARN.
    pub policy_arn: String,
    /// The version to make the default (`v3`).
    pub version_id: String,
}

/// A user and a group.
#[derive(InputObject)]
pub struct PreviewMembershipInput {
    /// The group.
    pub group_name: String,
    /// The user.
    pub user_name: String,
}

/// A permissions boundary of a user or role; `permissionsBoundary` absent to remove it.
#[derive(InputObject)]
pub struct PreviewBoundaryInput {
    /// The user or role.
    pub principal_name: String,
    /// The boundary policy's ARN.
    pub permissions_boundary: Option<String>,
}

/// A role's trust policy.
#[derive(InputObject)]
pub struct PreviewTrustPolicyInput {
    /// The role.
    pub role_name: String,
    /// The new trust policy.
    pub policy_document: String,
}

/// One policy-affecting change, named as its mutation is.
#[derive(OneofObject)]
pub enum PolicyChangeInput {
    /// `attachUserPolicy`.
    AttachUserPolicy(PreviewUserPolicyInput),
    /// `detachUserPolicy`.
    DetachUserPolicy(PreviewUserPolicyInput),
    /// `attachGroupPolicy`.
    AttachGroupPolicy(PreviewGroupPolicyInput),
    /// `detachGroupPolicy`.
    DetachGroupPolicy(PreviewGroupPolicyInput),
    /// `attachRolePolicy`.
    AttachRolePolicy(PreviewRolePolicyInput),
    /// `detachRolePolicy`.
    DetachRolePolicy(PreviewRolePolicyInput),
    /// `putUserPolicy` (or `deleteUserPolicy` without a document).
    UserPolicy(PreviewInlinePolicyInput),
    /// `putGroupPolicy` (or `deleteGroupPolicy` without a document).
    GroupPolicy(PreviewInlinePolicyInput),
    /// `putRolePolicy` (or `deleteRolePolicy` without a document).
    RolePolicy(PreviewInlinePolicyInput),
    /// `createPolicyVersion` with `setAsDefault: true`.
    CreatePolicyVersion(PreviewPolicyVersionInput),
    /// `setDefaultPolicyVersion`.
    SetDefaultPolicyVersion(PreviewDefaultVersionInput),
    /// `addUserToGroup`.
    AddUserToGroup(PreviewMembershipInput),
    /// `removeUserFromGroup`.
    RemoveUserFromGroup(PreviewMembershipInput),
    /// `putUserPermissionsBoundary` (or `deleteUserPermissionsBoundary` without one).
    UserPermissionsBoundary(PreviewBoundaryInput),
    /// `putRolePermissionsBoundary` (or `deleteRolePermissionsBoundary` without one).
    RolePermissionsBoundary(PreviewBoundaryInput),
    /// `updateAssumeRolePolicy`.
    UpdateAssumeRolePolicy(PreviewTrustPolicyInput),
}

impl From<PolicyChangeInput> for Command {
    fn from(change: PolicyChangeInput) -> Self {
        use PolicyChangeInput as C;
        match change {
            C::AttachUserPolicy(i) => Command::AttachUserPolicy {
                user_name: i.user_name,
                policy_arn: i.policy_arn,
            },
            C::DetachUserPolicy(i) => Command::DetachUserPolicy {
                user_name: i.user_name,
                policy_arn: i.policy_arn,
            },
            C::AttachGroupPolicy(i) => Command::AttachGroupPolicy {
                group_name: i.group_name,
                policy_arn: i.policy_arn,
            },
            C::DetachGroupPolicy(i) => Command::DetachGroupPolicy {
                group_name: i.group_name,
                policy_arn: i.policy_arn,
            },
            C::AttachRolePolicy(i) => Command::AttachRolePolicy {
                role_name: i.role_name,
                policy_arn: i.policy_arn,
            },
            C::DetachRolePolicy(i) => Command::DetachRolePolicy {
                role_name: i.role_name,
                policy_arn: i.policy_arn,
            },
            C::UserPolicy(i) => match i.policy_document {
                Some(policy_document) => Command::PutUserPolicy {
                    user_name: i.principal_name,
                    policy_name: i.policy_name,
                    policy_document,
                },
                None => Command::DeleteUserPolicy {
                    user_name: i.principal_name,
                    policy_name: i.policy_name,
                },
            },
            C::GroupPolicy(i) => match i.policy_document {
                Some(policy_document) => Command::PutGroupPolicy {
                    group_name: i.principal_name,
                    policy_name: i.policy_name,
                    policy_document,
                },
                None => Command::DeleteGroupPolicy {
                    group_name: i.principal_name,
                    policy_name: i.policy_name,
                },
            },
            C::RolePolicy(i) => match i.policy_document {
                Some(policy_document) => Command::PutRolePolicy {
                    role_name: i.principal_name,
                    policy_name: i.policy_name,
                    policy_document,
                },
                None => Command::DeleteRolePolicy {
                    role_name: i.principal_name,
                    policy_name: i.policy_name,
                },
            },
            C::CreatePolicyVersion(i) => Command::CreatePolicyVersion {
                policy_arn: i.policy_arn,
                policy_document: i.policy_document,
                set_as_default: true,
            },
            C::SetDefaultPolicyVersion(i) => Command::SetDefaultPolicyVersion {
                policy_arn: i.policy_arn,
                version_id: i.version_id,
            },
            C::AddUserToGroup(i) => Command::AddUserToGroup {
                group_name: i.group_name,
                user_name: i.user_name,
            },
            C::RemoveUserFromGroup(i) => Command::RemoveUserFromGroup {
                group_name: i.group_name,
                user_name: i.user_name,
            },
            C::UserPermissionsBoundary(i) => match i.permissions_boundary {
                Some(permissions_boundary) => Command::PutUserPermissionsBoundary {
                    user_name: i.principal_name,
                    permissions_boundary,
                },
                None => Command::DeleteUserPermissionsBoundary {
                    user_name: i.principal_name,
                },
            },
            C::RolePermissionsBoundary(i) => match i.permissions_boundary {
                Some(permissions_boundary) => Command::PutRolePermissionsBoundary {
                    role_name: i.principal_name,
                    permissions_boundary,
                },
                None => Command::DeleteRolePermissionsBoundary {
                    role_name: i.principal_name,
                },
            },
            C::UpdateAssumeRolePolicy(i) => Command::UpdateAssumeRolePolicy {
                role_name: i.role_name,
                policy_document: i.policy_document,
            },
        }
    }
}

/// Which way a decision flips.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DecisionFlip {
    /// Allowed now, denied with the change.
    AllowToDeny,
    /// Denied now, allowed with the change.
    DenyToAllow,
}

/// Audited decisions of one principal, action and resource that flip the same way.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct DecisionFlipGroup {
    /// The principal decided.
    pub principal_arn: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Which way.
    pub flip: DecisionFlip,
    /// How many audited decisions of the window flip.
    pub count: u64,
    /// Up to three of their records' `eventID`s.
    #[graphql(name = "exampleEventIDs")]
    pub example_event_ids: Vec<String>,
}

/// What `previewChange` found.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ChangePreview {
    /// Audited decisions read (this page of the window).
    pub decisions: u64,
    /// Distinct requests among them.
    pub distinct_requests: u64,
    /// Decisions that would go from allowed to denied.
    pub allow_to_deny: u64,
    /// Decisions that would go from denied to allowed.
    pub deny_to_allow: u64,
    /// The flips, largest group first.
    pub groups: Vec<DecisionFlipGroup>,
    /// Pass as `after` to continue the window (progress: `decisions` so far against
    /// `auditEventCounts`); absent when the window is done.
    pub next_cursor: Option<String>,
}

impl From<PreviewReport> for ChangePreview {
    fn from(report: PreviewReport) -> Self {
        ChangePreview {
            decisions: report.decisions,
            distinct_requests: report.distinct_requests,
            allow_to_deny: report.allow_to_deny,
            deny_to_allow: report.deny_to_allow,
            groups: report
                .groups
                .into_iter()
                .map(|g| DecisionFlipGroup {
                    principal_arn: g.principal_arn,
                    action: g.action,
                    resource: g.resource,
                    flip: match g.flip {
                        Flip::AllowToDeny => DecisionFlip::AllowToDeny,
                        Flip::DenyToAllow => DecisionFlip::DenyToAllow,
                    },
                    count: g.count,
                    example_event_ids: g.examples,
                })
                .collect(),
            next_cursor: report.next_cursor,
        }
    }
}

pub(crate) async fn preview_change(
    ctx: &Context<'_>,
    changes: Vec<PolicyChangeInput>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<String>,
    limit: Option<i32>,
) -> Result<ChangePreview> {
    let scope = Scope::of(ctx)?;
    scope.note(iam_app::preview::PREVIEW_ACTION, "*");
    let commands: Vec<Command> = changes.into_iter().map(Command::from).collect();
    let window = PreviewWindow {
        from,
        to,
        after,
        limit: limit.map_or(iam_app::preview::MAX_PAGE_RECORDS, |n| usize::try_from(n).unwrap_or(1)),
    };
    let report = scope
        .gatehouse
        .preview_change(&scope.caller, &commands, &window)
        .await
        .map_err(from_app)?;
    Ok(report.into())
}
