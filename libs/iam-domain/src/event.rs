//! Domain events: the facts an account's stream records, with stable dotted type names.
//!
//! Each event carries everything `evolve` needs (ids, ARNs, dates, documents), so an account is
//! rebuilt from its events alone. Renaming a variant's `type` or a field breaks the stored
//! history: add a new schema version and an upcaster instead.

use chrono::{DateTime, Utc};
use iam_types::{AccountId, EntityName, IamArn, IamPath, Tag, UniqueId};

use crate::credentials::{
    LoginProfileCreated, LoginProfileUpdated, LoginProfileUsed, MfaDeviceAssignment, MfaDeviceCreated,
    MfaDeviceDeleted, MfaDeviceStep, MfaDeviceTagged, MfaDeviceUntagged, PasswordPolicy, PasswordPolicyDeleted,
};
use crate::oidc::{
    OidcProviderCreated, OidcProviderDeleted, OidcProviderTagged, OidcProviderUntagged, OidcProviderUpdated,
};
use crate::organization::{
    AccountClosed, AccountCreationFailed, AccountCreationStarted, AccountJoined, AccountMoved, AccountRemoved,
    DelegatedAdministratorChanged, HandshakeClosed, HandshakeOpened, OrgPolicyAttachment, OrgPolicyChanged,
    OrgPolicyDeleted, OrganizationCreated, OrganizationDeleted, PolicyTypeChanged, UnitChanged, UnitDeleted,
};
use crate::state::{AccessKeyOwner, AccessKeyStatus};

/// The schema version of the event payloads in this module.
pub const SCHEMA_VERSION: u32 = 1;

/// `iam.account.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountCreated {
    /// The account id.
    pub account_id: AccountId,
    /// The alias.
    pub account_alias: Option<String>,
    /// When.
    pub create_date: DateTime<Utc>,
}

/// `iam.user.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserCreated {
    /// The new id.
    pub user_id: UniqueId,
    /// The name.
    pub user_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When.
    pub create_date: DateTime<Utc>,
    /// The permissions boundary.
    pub permissions_boundary: Option<IamArn>,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// `iam.group.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupCreated {
    /// The new id.
    pub group_id: UniqueId,
    /// The name.
    pub group_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When.
    pub create_date: DateTime<Utc>,
}

/// `iam.role.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleCreated {
    /// The new id.
    pub role_id: UniqueId,
    /// The name.
    pub role_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When.
    pub create_date: DateTime<Utc>,
    /// The trust policy.
    pub assume_role_policy_document: String,
    /// The description.
    pub description: Option<String>,
    /// Seconds.
    pub max_session_duration: u32,
    /// The permissions boundary.
    pub permissions_boundary: Option<IamArn>,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// `iam.user.updated`, `iam.group.updated`: a new name and/or path (and so a new ARN).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityRenamed {
    /// The entity's id.
    pub id: UniqueId,
    /// The name before.
    pub name: EntityName,
    /// The name after.
    pub new_name: EntityName,
    /// The path after.
    pub new_path: IamPath,
    /// The ARN after.
    pub new_arn: IamArn,
}

/// `iam.user.deleted`, `iam.group.deleted`, `iam.role.deleted`, `iam.instance_profile.deleted`,
/// and the boundary-deleted events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityRef {
    /// The entity's id.
    pub id: UniqueId,
    /// The entity's name.
    pub name: EntityName,
}

/// `iam.group.member_added`, `iam.group.member_removed`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupMembership {
    /// The group's id.
    pub group_id: UniqueId,
    /// The group's name.
    pub group_name: EntityName,
    /// The user's id.
    pub user_id: UniqueId,
    /// The user's name.
    pub user_name: EntityName,
}

/// `iam.role.updated`: the role's description and session duration after the update.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleUpdated {
    /// The role's id.
    pub role_id: UniqueId,
    /// The role's name.
    pub role_name: EntityName,
    /// The description after.
    pub description: Option<String>,
    /// The duration after.
    pub max_session_duration: u32,
}

/// `iam.role.trust_policy_updated`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustPolicyUpdated {
    /// The role's id.
    pub role_id: UniqueId,
    /// The role's name.
    pub role_name: EntityName,
    /// The new trust policy.
    pub policy_document: String,
}

/// `iam.<user|group|role>.policy_attached` and `..._detached`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyAttachment {
    /// The principal's id.
    pub principal_id: UniqueId,
    /// The principal's name.
    pub principal_name: EntityName,
    /// The managed policy.
    pub policy_arn: IamArn,
}

/// `iam.<user|group|role>.inline_policy_put`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlinePolicyPut {
    /// The principal's id.
    pub principal_id: UniqueId,
    /// The principal's name.
    pub principal_name: EntityName,
    /// The inline policy's name.
    pub policy_name: EntityName,
    /// The document.
    pub policy_document: String,
}

/// `iam.<user|group|role>.inline_policy_deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlinePolicyDeleted {
    /// The principal's id.
    pub principal_id: UniqueId,
    /// The principal's name.
    pub principal_name: EntityName,
    /// The inline policy's name.
    pub policy_name: EntityName,
}

/// `iam.<user|role|policy|instance_profile>.tagged`: tags added or overwritten.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tagged {
    /// The entity's id.
    pub id: UniqueId,
    /// The entity's name.
    pub name: EntityName,
    /// The tags set.
    pub tags: Vec<Tag>,
}

/// `iam.<user|role|policy|instance_profile>.untagged`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Untagged {
    /// The entity's id.
    pub id: UniqueId,
    /// The entity's name.
    pub name: EntityName,
    /// The keys removed.
    pub tag_keys: Vec<String>,
}

/// `iam.<user|role>.permissions_boundary_put`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BoundaryPut {
    /// The entity's id.
    pub id: UniqueId,
    /// The entity's name.
    pub name: EntityName,
    /// The boundary policy.
    pub permissions_boundary: IamArn,
}

/// `iam.policy.created`: a customer-managed policy with its first version `v1` as default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyCreated {
    /// The new id.
    pub policy_id: UniqueId,
    /// The name.
    pub policy_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// The description.
    pub description: Option<String>,
    /// When.
    pub create_date: DateTime<Utc>,
    /// The first version's id (`v1`).
    pub default_version_id: String,
    /// The first version's document.
    pub policy_document: String,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// `iam.policy.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyDeleted {
    /// The policy's id.
    pub policy_id: UniqueId,
    /// The policy's name.
    pub policy_name: EntityName,
    /// The policy's ARN.
    pub arn: IamArn,
}

/// `iam.policy.version_created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyVersionCreated {
    /// The policy's id.
    pub policy_id: UniqueId,
    /// The policy's name.
    pub policy_name: EntityName,
    /// `vN`.
    pub version_id: String,
    /// The document.
    pub policy_document: String,
    /// Whether it became the default.
    pub set_as_default: bool,
    /// When.
    pub create_date: DateTime<Utc>,
}

/// `iam.policy.version_deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyVersionDeleted {
    /// The policy's id.
    pub policy_id: UniqueId,
    /// The policy's name.
    pub policy_name: EntityName,
    /// `vN`.
    pub version_id: String,
}

/// `iam.policy.default_version_set`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DefaultVersionSet {
    /// The policy's id.
    pub policy_id: UniqueId,
    /// The policy's name.
    pub policy_name: EntityName,
    /// `vN`.
    pub version_id: String,
    /// When.
    pub update_date: DateTime<Utc>,
}

/// `iam.instance_profile.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceProfileCreated {
    /// The new id (`AIPA...`).
    pub instance_profile_id: UniqueId,
    /// The name.
    pub instance_profile_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When.
    pub create_date: DateTime<Utc>,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// `iam.instance_profile.role_added`, `iam.instance_profile.role_removed`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceProfileRole {
    /// The instance profile's id.
    pub instance_profile_id: UniqueId,
    /// The instance profile's name.
    pub instance_profile_name: EntityName,
    /// The role's id.
    pub role_id: UniqueId,
    /// The role's name.
    pub role_name: EntityName,
}

/// `iam.access_key.created`. The secret is ciphertext made by the app layer, never plaintext.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessKeyCreated {
    /// `AKIA...`.
    pub access_key_id: UniqueId,
    /// Root or a user.
    pub owner: AccessKeyOwner,
    /// The owning user's name at creation, for readers; `None` for root.
    pub user_name: Option<EntityName>,
    /// The encrypted secret access key.
    pub secret_ciphertext: String,
    /// Always `Active` at creation.
    pub status: AccessKeyStatus,
    /// When.
    pub create_date: DateTime<Utc>,
}

/// `iam.access_key.status_updated`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessKeyStatusUpdated {
    /// `AKIA...`.
    pub access_key_id: UniqueId,
    /// Root or a user.
    pub owner: AccessKeyOwner,
    /// The new status.
    pub status: AccessKeyStatus,
}

/// `iam.access_key.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessKeyDeleted {
    /// `AKIA...`.
    pub access_key_id: UniqueId,
    /// Root or a user.
    pub owner: AccessKeyOwner,
}

/// `iam.access_key.used`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessKeyUsed {
    /// `AKIA...`.
    pub access_key_id: UniqueId,
    /// When.
    pub last_used_date: DateTime<Utc>,
    /// The service called.
    pub service_name: String,
    /// The region called.
    pub region: String,
}

macro_rules! domain_events {
    ($( $(#[$meta:meta])* $variant:ident($payload:ty) = $name:literal, )*) => {
        /// Everything that can happen to an account.
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum DomainEvent {
            $(
                $(#[$meta])*
                #[serde(rename = $name)]
                $variant($payload),
            )*
        }

        impl DomainEvent {
            /// Every event type name, in declaration order.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The stable dotted type name, e.g. `iam.user.created`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(DomainEvent::$variant(_) => $name,)*
                }
            }
        }
    };
}

domain_events! {
    /// The account was created.
    AccountCreated(AccountCreated) = "iam.account.created",
    /// A user was created.
    UserCreated(UserCreated) = "iam.user.created",
    /// A user was renamed or moved.
    UserUpdated(EntityRenamed) = "iam.user.updated",
    /// A user was deleted.
    UserDeleted(EntityRef) = "iam.user.deleted",
    /// A user was tagged.
    UserTagged(Tagged) = "iam.user.tagged",
    /// Tags were removed from a user.
    UserUntagged(Untagged) = "iam.user.untagged",
    /// A user's permissions boundary was set.
    UserPermissionsBoundaryPut(BoundaryPut) = "iam.user.permissions_boundary_put",
    /// A user's permissions boundary was removed.
    UserPermissionsBoundaryDeleted(EntityRef) = "iam.user.permissions_boundary_deleted",
    /// A managed policy was attached to a user.
    UserPolicyAttached(PolicyAttachment) = "iam.user.policy_attached",
    /// A managed policy was detached from a user.
    UserPolicyDetached(PolicyAttachment) = "iam.user.policy_detached",
    /// A user's inline policy was created or replaced.
    UserInlinePolicyPut(InlinePolicyPut) = "iam.user.inline_policy_put",
    /// A user's inline policy was deleted.
    UserInlinePolicyDeleted(InlinePolicyDeleted) = "iam.user.inline_policy_deleted",
    /// A group was created.
    GroupCreated(GroupCreated) = "iam.group.created",
    /// A group was renamed or moved.
    GroupUpdated(EntityRenamed) = "iam.group.updated",
    /// A group was deleted.
    GroupDeleted(EntityRef) = "iam.group.deleted",
    /// A user joined a group.
    GroupMemberAdded(GroupMembership) = "iam.group.member_added",
    /// A user left a group.
    GroupMemberRemoved(GroupMembership) = "iam.group.member_removed",
    /// A managed policy was attached to a group.
    GroupPolicyAttached(PolicyAttachment) = "iam.group.policy_attached",
    /// A managed policy was detached from a group.
    GroupPolicyDetached(PolicyAttachment) = "iam.group.policy_detached",
    /// A group's inline policy was created or replaced.
    GroupInlinePolicyPut(InlinePolicyPut) = "iam.group.inline_policy_put",
    /// A group's inline policy was deleted.
    GroupInlinePolicyDeleted(InlinePolicyDeleted) = "iam.group.inline_policy_deleted",
    /// A role was created.
    RoleCreated(RoleCreated) = "iam.role.created",
    /// A role's description or session duration changed.
    RoleUpdated(RoleUpdated) = "iam.role.updated",
    /// A role's trust policy was replaced.
    RoleTrustPolicyUpdated(TrustPolicyUpdated) = "iam.role.trust_policy_updated",
    /// A role was deleted.
    RoleDeleted(EntityRef) = "iam.role.deleted",
    /// A role was tagged.
    RoleTagged(Tagged) = "iam.role.tagged",
    /// Tags were removed from a role.
    RoleUntagged(Untagged) = "iam.role.untagged",
    /// A role's permissions boundary was set.
    RolePermissionsBoundaryPut(BoundaryPut) = "iam.role.permissions_boundary_put",
    /// A role's permissions boundary was removed.
    RolePermissionsBoundaryDeleted(EntityRef) = "iam.role.permissions_boundary_deleted",
    /// A managed policy was attached to a role.
    RolePolicyAttached(PolicyAttachment) = "iam.role.policy_attached",
    /// A managed policy was detached from a role.
    RolePolicyDetached(PolicyAttachment) = "iam.role.policy_detached",
    /// A role's inline policy was created or replaced.
    RoleInlinePolicyPut(InlinePolicyPut) = "iam.role.inline_policy_put",
    /// A role's inline policy was deleted.
    RoleInlinePolicyDeleted(InlinePolicyDeleted) = "iam.role.inline_policy_deleted",
    /// A customer-managed policy was created.
    PolicyCreated(PolicyCreated) = "iam.policy.created",
    /// A customer-managed policy was deleted.
    PolicyDeleted(PolicyDeleted) = "iam.policy.deleted",
    /// A policy version was created.
    PolicyVersionCreated(PolicyVersionCreated) = "iam.policy.version_created",
    /// A policy version was deleted.
    PolicyVersionDeleted(PolicyVersionDeleted) = "iam.policy.version_deleted",
    /// A policy's default version changed.
    PolicyDefaultVersionSet(DefaultVersionSet) = "iam.policy.default_version_set",
    /// A policy was tagged.
    PolicyTagged(Tagged) = "iam.policy.tagged",
    /// Tags were removed from a policy.
    PolicyUntagged(Untagged) = "iam.policy.untagged",
    /// An instance profile was created.
    InstanceProfileCreated(InstanceProfileCreated) = "iam.instance_profile.created",
    /// An instance profile was deleted.
    InstanceProfileDeleted(EntityRef) = "iam.instance_profile.deleted",
    /// A role was added to an instance profile.
    InstanceProfileRoleAdded(InstanceProfileRole) = "iam.instance_profile.role_added",
    /// A role was removed from an instance profile.
    InstanceProfileRoleRemoved(InstanceProfileRole) = "iam.instance_profile.role_removed",
    /// An instance profile was tagged.
    InstanceProfileTagged(Tagged) = "iam.instance_profile.tagged",
    /// Tags were removed from an instance profile.
    InstanceProfileUntagged(Untagged) = "iam.instance_profile.untagged",
    /// An access key was created.
    AccessKeyCreated(AccessKeyCreated) = "iam.access_key.created",
    /// An access key was activated or deactivated.
    AccessKeyStatusUpdated(AccessKeyStatusUpdated) = "iam.access_key.status_updated",
    /// An access key was deleted.
    AccessKeyDeleted(AccessKeyDeleted) = "iam.access_key.deleted",
    /// An access key was used.
    AccessKeyUsed(AccessKeyUsed) = "iam.access_key.used",
    /// A user was given a console password.
    LoginProfileCreated(LoginProfileCreated) = "iam.login_profile.created",
    /// A user's password or its reset flag changed.
    LoginProfileUpdated(LoginProfileUpdated) = "iam.login_profile.updated",
    /// A user's console password was removed.
    LoginProfileDeleted(EntityRef) = "iam.login_profile.deleted",
    /// A user signed in with its password.
    LoginProfileUsed(LoginProfileUsed) = "iam.login_profile.used",
    /// The account password policy was set.
    PasswordPolicyUpdated(PasswordPolicy) = "iam.password_policy.updated",
    /// The account password policy was removed.
    PasswordPolicyDeleted(PasswordPolicyDeleted) = "iam.password_policy.deleted",
    /// A virtual MFA device was created.
    MfaDeviceCreated(MfaDeviceCreated) = "iam.mfa_device.created",
    /// A virtual MFA device was enabled for a user.
    MfaDeviceEnabled(MfaDeviceAssignment) = "iam.mfa_device.enabled",
    /// A virtual MFA device was deactivated (unassigned from its user).
    MfaDeviceDeactivated(MfaDeviceAssignment) = "iam.mfa_device.deactivated",
    /// A virtual MFA device was resynchronized.
    MfaDeviceResynced(MfaDeviceStep) = "iam.mfa_device.resynced",
    /// A code of a virtual MFA device was accepted.
    MfaCodeUsed(MfaDeviceStep) = "iam.mfa_device.code_used",
    /// A virtual MFA device was deleted.
    MfaDeviceDeleted(MfaDeviceDeleted) = "iam.mfa_device.deleted",
    /// A virtual MFA device was tagged.
    MfaDeviceTagged(MfaDeviceTagged) = "iam.mfa_device.tagged",
    /// Tags were removed from a virtual MFA device.
    MfaDeviceUntagged(MfaDeviceUntagged) = "iam.mfa_device.untagged",
    /// An OpenID Connect provider was registered.
    OidcProviderCreated(OidcProviderCreated) = "iam.oidc_provider.created",
    /// An OpenID Connect provider's client ids or thumbprints changed.
    OidcProviderUpdated(OidcProviderUpdated) = "iam.oidc_provider.updated",
    /// An OpenID Connect provider was deleted.
    OidcProviderDeleted(OidcProviderDeleted) = "iam.oidc_provider.deleted",
    /// An OpenID Connect provider was tagged.
    OidcProviderTagged(OidcProviderTagged) = "iam.oidc_provider.tagged",
    /// Tags were removed from an OpenID Connect provider.
    OidcProviderUntagged(OidcProviderUntagged) = "iam.oidc_provider.untagged",
    /// An organization was created (the first event of an organization's stream).
    OrganizationCreated(OrganizationCreated) = "organizations.organization.created",
    /// The organization was deleted.
    OrganizationDeleted(OrganizationDeleted) = "organizations.organization.deleted",
    /// An organizational unit was created.
    OrganizationalUnitCreated(UnitChanged) = "organizations.unit.created",
    /// An organizational unit was renamed.
    OrganizationalUnitRenamed(UnitChanged) = "organizations.unit.renamed",
    /// An organizational unit was deleted.
    OrganizationalUnitDeleted(UnitDeleted) = "organizations.unit.deleted",
    /// An account joined (created by the organization, or invited and accepting).
    OrganizationAccountJoined(AccountJoined) = "organizations.account.joined",
    /// `CreateAccount` reserved an account that is about to be made.
    OrganizationAccountCreationStarted(AccountCreationStarted) = "organizations.account.creation_started",
    /// A `CreateAccount` request failed; its account was not made.
    OrganizationAccountCreationFailed(AccountCreationFailed) = "organizations.account.creation_failed",
    /// An account moved to another parent.
    OrganizationAccountMoved(AccountMoved) = "organizations.account.moved",
    /// An account was removed, or left.
    OrganizationAccountRemoved(AccountRemoved) = "organizations.account.removed",
    /// An account was closed (suspended).
    OrganizationAccountClosed(AccountClosed) = "organizations.account.closed",
    /// An organization policy was created.
    OrganizationPolicyCreated(OrgPolicyChanged) = "organizations.policy.created",
    /// An organization policy was changed.
    OrganizationPolicyUpdated(OrgPolicyChanged) = "organizations.policy.updated",
    /// An organization policy was deleted.
    OrganizationPolicyDeleted(OrgPolicyDeleted) = "organizations.policy.deleted",
    /// A policy was attached to a root, OU or account.
    OrganizationPolicyAttached(OrgPolicyAttachment) = "organizations.policy.attached",
    /// A policy was detached.
    OrganizationPolicyDetached(OrgPolicyAttachment) = "organizations.policy.detached",
    /// A policy type was enabled on the root.
    OrganizationPolicyTypeEnabled(PolicyTypeChanged) = "organizations.policy_type.enabled",
    /// A policy type was disabled on the root.
    OrganizationPolicyTypeDisabled(PolicyTypeChanged) = "organizations.policy_type.disabled",
    /// An account was invited.
    OrganizationHandshakeOpened(HandshakeOpened) = "organizations.handshake.opened",
    /// An invitation was declined.
    OrganizationHandshakeDeclined(HandshakeClosed) = "organizations.handshake.declined",
    /// An invitation was canceled.
    OrganizationHandshakeCanceled(HandshakeClosed) = "organizations.handshake.canceled",
    /// A member account became a delegated administrator.
    OrganizationDelegatedAdministratorRegistered(DelegatedAdministratorChanged) = "organizations.delegated_administrator.registered",
    /// A member account stopped being a delegated administrator.
    OrganizationDelegatedAdministratorDeregistered(DelegatedAdministratorChanged) = "organizations.delegated_administrator.deregistered",
}
