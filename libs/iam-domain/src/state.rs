//! `AccountState`: everything IAM in one account, and the read accessors queries use.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_policy::validate::SizeLimit;
use iam_policy::PolicyType;
use iam_types::{AccountId, EntityName, IamArn, IamPath, Tag, UniqueId};

use crate::catalog;
use crate::credentials::{LoginProfile, MfaDevice, PasswordPolicy};
use crate::oidc::OidcProvider;

/// The account itself, set by `iam.account.created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account id.
    pub account_id: AccountId,
    /// The account alias, if any.
    pub account_alias: Option<String>,
    /// When the account was created.
    pub create_date: DateTime<Utc>,
}

/// Managed-policy attachments and inline policies of a user, group or role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Attached managed policies, in attachment order.
    pub attached_policies: Vec<IamArn>,
    /// Inline policies: name to document text.
    pub inline_policies: InlinePolicies,
}

/// Inline policies by name, in name order. A sorted vector rather than a `BTreeMap`: most
/// principals have none or one, and a map's first node alone takes about half a kilobyte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InlinePolicies(Vec<(String, String)>);

impl InlinePolicies {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(name))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The document of the named policy.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    /// Whether the named policy exists.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Adds or replaces a policy; returns the replaced document.
    pub fn insert(&mut self, name: String, document: String) -> Option<String> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, document)),
            Err(i) => {
                self.0.insert(i, (name, document));
                None
            }
        }
    }

    /// Removes a policy; returns its document.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.find(name).ok().map(|i| self.0.remove(i).1)
    }

    /// Names and documents, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(name, document)| (name, document))
    }

    /// Names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    /// Documents, in name order.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, document)| document)
    }
}

impl<'a> IntoIterator for &'a InlinePolicies {
    type Item = (&'a String, &'a String);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> (&'a String, &'a String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, document)| (name, document))
    }
}

impl Permissions {
    /// Characters of all inline documents, white space not counted (what AWS's quota measures).
    pub fn inline_size(&self) -> usize {
        self.inline_policies.values().map(|doc| non_whitespace_len(doc)).sum()
    }
}

pub(crate) fn non_whitespace_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `AIDA...`.
    pub user_id: UniqueId,
    /// The name.
    pub user_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// The permissions boundary, a managed policy ARN.
    pub permissions_boundary: Option<Box<IamArn>>,
    /// Tags, in the order they were added.
    pub tags: Vec<Tag>,
    /// Attached and inline policies.
    pub permissions: Permissions,
    /// The console password, if the user has one.
    pub login_profile: Option<Box<LoginProfile>>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `AGPA...`.
    pub group_id: UniqueId,
    /// The name.
    pub group_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// Members, by user id (stable across user renames).
    pub members: BTreeSet<UniqueId>,
    /// Attached and inline policies.
    pub permissions: Permissions,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `AROA...`.
    pub role_id: UniqueId,
    /// The name.
    pub role_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// The trust policy (`AssumeRolePolicyDocument`).
    pub assume_role_policy_document: String,
    /// The description.
    pub description: Option<String>,
    /// `MaxSessionDuration` in seconds, 3600..=43200.
    pub max_session_duration: u32,
    /// The permissions boundary, a managed policy ARN.
    pub permissions_boundary: Option<Box<IamArn>>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Attached and inline policies.
    pub permissions: Permissions,
}

/// An instance profile: a container for (at most) one role, which EC2 hands to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    /// `AIPA...`.
    pub instance_profile_id: UniqueId,
    /// The name.
    pub instance_profile_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// When it was created.
    pub create_date: DateTime<Utc>,
    /// The roles in it, by id (AWS allows one).
    pub roles: Vec<UniqueId>,
    /// The tags.
    pub tags: Vec<Tag>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub version_id: String,
    /// The document text.
    pub document: String,
    /// When created.
    pub create_date: DateTime<Utc>,
}

/// A managed policy: customer-managed (in the account) or AWS-managed (the built-in catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// `ANPA...`.
    pub policy_id: UniqueId,
    /// The name.
    pub policy_name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The ARN.
    pub arn: IamArn,
    /// The description.
    pub description: Option<String>,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// When the default version last changed.
    pub update_date: DateTime<Utc>,
    /// The default version's id.
    pub default_version_id: String,
    /// Versions, oldest first.
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets; version ids are never reused.
    pub next_version: u32,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    /// The default version.
    pub fn default_version(&self) -> Option<&PolicyVersion> {
        self.version(&self.default_version_id)
    }

    /// A version by id.
    pub fn version(&self, version_id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }

    /// True for the built-in AWS-managed policies.
    pub fn is_aws_managed(&self) -> bool {
        self.arn.is_aws_managed()
    }
}

/// Whose access key it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessKeyOwner {
    /// The account's root user.
    Root,
    /// An IAM user, by id.
    User {
        /// The user's id.
        user_id: UniqueId,
    },
}

/// `Active` or `Inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AccessKeyStatus {
    /// Usable.
    Active,
    /// Kept but refused.
    Inactive,
}

impl AccessKeyStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// When, where and for what an access key was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyLastUsed {
    /// When.
    pub last_used_date: DateTime<Utc>,
    /// The service, e.g. `iam`.
    pub service_name: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
}

/// A long-term access key. The secret is held only as ciphertext made by the app layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA...`.
    pub access_key_id: UniqueId,
    /// The owner.
    pub owner: AccessKeyOwner,
    /// The status.
    pub status: AccessKeyStatus,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// The secret access key, encrypted by the app layer.
    pub secret_ciphertext: String,
    /// Last use, if any.
    pub last_used: Option<AccessKeyLastUsed>,
}

/// A user, group or role: the entities that hold policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// A role.
    Role,
}

impl PrincipalKind {
    /// `user`, `group` or `role`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::Role => "role",
        }
    }

    /// The total inline-policy size AWS allows (characters, white space not counted).
    pub fn inline_size_limit(self) -> usize {
        let limit = match self {
            PrincipalKind::User => SizeLimit::UserInline,
            PrincipalKind::Group => SizeLimit::GroupInline,
            PrincipalKind::Role => SizeLimit::RoleInline,
        };
        limit.chars()
    }

    /// The policy type of its inline policies.
    pub fn inline_policy_type(self) -> PolicyType {
        match self {
            PrincipalKind::User => PolicyType::User,
            PrincipalKind::Group => PolicyType::Group,
            PrincipalKind::Role => PolicyType::Role,
        }
    }
}

/// One policy document that applies to a principal, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The managed policy's ARN, or `<owner ARN>#<inline policy name>` for inline policies.
    pub source_id: String,
    /// Inline user/group/role, AWS-managed or customer-managed (`UserManaged`).
    pub policy_type: PolicyType,
    /// The default version's id, for managed policies.
    pub version_id: Option<String>,
    /// The document text.
    pub document: String,
}

/// The identity-based policies of a user or role (including its groups'), and its boundary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EffectivePolicies {
    /// Identity-based policies.
    pub identity: Vec<EffectivePolicy>,
    /// The permissions boundary's default version, if one is set.
    pub permissions_boundary: Option<EffectivePolicy>,
}

/// Everything IAM in one account: the aggregate that `decide` reads and `evolve` changes.
///
/// Maps are keyed by the lower-cased name, so iteration is in case-insensitive name order and
/// lookups by name are case-insensitive, as IAM's uniqueness is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub(crate) account: Option<AccountInfo>,
    pub(crate) version: u64,
    // Entities are shared between successive states: a command's new state copies only the
    // entities it changes, and a state keeps one allocation per entity, not one per map slot.
    pub(crate) users: BTreeMap<String, Arc<User>>,
    pub(crate) groups: BTreeMap<String, Arc<Group>>,
    pub(crate) roles: BTreeMap<String, Arc<Role>>,
    pub(crate) policies: BTreeMap<String, Arc<ManagedPolicy>>,
    pub(crate) access_keys: BTreeMap<UniqueId, AccessKey>,
    pub(crate) instance_profiles: BTreeMap<String, Arc<InstanceProfile>>,
    pub(crate) password_policy: Option<PasswordPolicy>,
    /// Virtual MFA devices by lower-cased name.
    pub(crate) mfa_devices: BTreeMap<String, Arc<MfaDevice>>,
    /// OpenID Connect providers by `host/path`.
    pub(crate) oidc_providers: BTreeMap<String, Arc<OidcProvider>>,
    /// Every unique id ever issued in the account, so none is reused after a delete.
    pub(crate) issued_ids: BTreeSet<UniqueId>,
}

impl AccountState {
    /// An account with no events applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream version: how many events have been applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The account, once created.
    pub fn account(&self) -> Option<&AccountInfo> {
        self.account.as_ref()
    }

    /// The account id, once created.
    pub fn account_id(&self) -> Option<&AccountId> {
        self.account.as_ref().map(|a| &a.account_id)
    }

    /// Users, sorted by name (case-insensitively).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values().map(Arc::as_ref)
    }

    /// A user by name, case-insensitively.
    pub fn user(&self, user_name: &str) -> Option<&User> {
        self.users.get(&user_name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// OpenID Connect providers, sorted by `host/path`.
    pub fn oidc_providers(&self) -> impl Iterator<Item = &OidcProvider> {
        self.oidc_providers.values().map(Arc::as_ref)
    }

    /// An OpenID Connect provider by ARN.
    pub fn oidc_provider(&self, arn: &str) -> Option<&OidcProvider> {
        let account = self.account_id()?;
        let name = arn.strip_prefix(&format!("arn:aws:iam::{account}:oidc-provider/"))?;
        self.oidc_providers.get(name).map(Arc::as_ref)
    }

    /// The OpenID Connect provider registered for an issuer's `host/path`.
    pub fn oidc_provider_for(&self, host_path: &str) -> Option<&OidcProvider> {
        self.oidc_providers.get(host_path).map(Arc::as_ref)
    }

    /// The account password policy, if one is set.
    pub fn password_policy(&self) -> Option<&PasswordPolicy> {
        self.password_policy.as_ref()
    }

    /// Virtual MFA devices, sorted by name.
    pub fn mfa_devices(&self) -> impl Iterator<Item = &MfaDevice> {
        self.mfa_devices.values().map(Arc::as_ref)
    }

    /// A virtual MFA device by serial number (its ARN, compared case-insensitively by name).
    pub fn mfa_device(&self, serial_number: &str) -> Option<&MfaDevice> {
        let arn = IamArn::parse(serial_number).ok()?;
        if arn.kind() != Some(iam_types::ResourceKind::MfaDevice) || arn.account() != self.account_id() {
            return None;
        }
        let name = arn.name()?;
        self.mfa_devices
            .get(&name.as_str().to_ascii_lowercase())
            .map(Arc::as_ref)
            .filter(|d| d.serial_number.to_string().eq_ignore_ascii_case(serial_number))
    }

    /// The MFA devices enabled for a user, sorted by name.
    pub fn mfa_devices_for_user(&self, user_id: &UniqueId) -> Vec<&MfaDevice> {
        self.mfa_devices()
            .filter(|d| d.assignment.as_ref().is_some_and(|(owner, _)| owner == user_id))
            .collect()
    }

    /// A user by id.
    pub fn user_by_id(&self, user_id: &UniqueId) -> Option<&User> {
        self.users.values().map(Arc::as_ref).find(|u| &u.user_id == user_id)
    }

    /// Groups, sorted by name.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values().map(Arc::as_ref)
    }

    /// A group by name, case-insensitively.
    pub fn group(&self, group_name: &str) -> Option<&Group> {
        self.groups.get(&group_name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// The groups a user is in, sorted by name; empty for an unknown user.
    pub fn groups_for_user(&self, user_name: &str) -> Vec<&Group> {
        match self.user(user_name) {
            Some(user) => self
                .groups
                .values()
                .map(Arc::as_ref)
                .filter(|g| g.members.contains(&user.user_id))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The members of a group, sorted by user id; empty for an unknown group.
    pub fn users_in_group(&self, group_name: &str) -> Vec<&User> {
        match self.group(group_name) {
            Some(group) => group.members.iter().filter_map(|id| self.user_by_id(id)).collect(),
            None => Vec::new(),
        }
    }

    /// Roles, sorted by name.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values().map(Arc::as_ref)
    }

    /// A role by name, case-insensitively.
    pub fn role(&self, role_name: &str) -> Option<&Role> {
        self.roles.get(&role_name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// A role by id.
    pub fn role_by_id(&self, role_id: &UniqueId) -> Option<&Role> {
        self.roles.values().map(Arc::as_ref).find(|r| &r.role_id == role_id)
    }

    /// Instance profiles, sorted by name.
    pub fn instance_profiles(&self) -> impl Iterator<Item = &InstanceProfile> {
        self.instance_profiles.values().map(Arc::as_ref)
    }

    /// An instance profile by name, case-insensitively.
    pub fn instance_profile(&self, name: &str) -> Option<&InstanceProfile> {
        self.instance_profiles.get(&name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// The instance profiles a role is in, sorted by name.
    pub fn instance_profiles_for_role(&self, role_name: &str) -> Vec<&InstanceProfile> {
        match self.role(role_name) {
            Some(role) => self
                .instance_profiles()
                .filter(|p| p.roles.contains(&role.role_id))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Customer-managed policies, sorted by name.
    pub fn customer_policies(&self) -> impl Iterator<Item = &ManagedPolicy> {
        self.policies.values().map(Arc::as_ref)
    }

    /// The built-in AWS-managed policies.
    pub fn aws_managed_policies(&self) -> &'static [ManagedPolicy] {
        catalog::aws_managed_policies()
    }

    /// A managed policy (customer or AWS) by exact ARN.
    pub fn managed_policy(&self, arn: &IamArn) -> Option<&ManagedPolicy> {
        if arn.is_aws_managed() {
            return catalog::aws_managed_policy(arn);
        }
        if arn.account() != self.account_id() {
            return None;
        }
        let name = arn.name()?;
        self.policies
            .get(&name.key())
            .map(Arc::as_ref)
            .filter(|p| &p.arn == arn)
    }

    /// The managed policies attached to a user, group or role.
    pub fn attached_policies(&self, kind: PrincipalKind, name: &str) -> Option<&[IamArn]> {
        self.permissions(kind, name).map(|p| p.attached_policies.as_slice())
    }

    /// The inline policies of a user, group or role: name to document.
    pub fn inline_policies(&self, kind: PrincipalKind, name: &str) -> Option<&InlinePolicies> {
        self.permissions(kind, name).map(|p| &p.inline_policies)
    }

    /// The attachments and inline policies of a user, group or role.
    pub fn permissions(&self, kind: PrincipalKind, name: &str) -> Option<&Permissions> {
        match kind {
            PrincipalKind::User => self.user(name).map(|u| &u.permissions),
            PrincipalKind::Group => self.group(name).map(|g| &g.permissions),
            PrincipalKind::Role => self.role(name).map(|r| &r.permissions),
        }
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &IamArn) -> usize {
        let users = self
            .users
            .values()
            .filter(|u| u.permissions.attached_policies.contains(arn))
            .count();
        let groups = self
            .groups
            .values()
            .filter(|g| g.permissions.attached_policies.contains(arn))
            .count();
        let roles = self
            .roles
            .values()
            .filter(|r| r.permissions.attached_policies.contains(arn))
            .count();
        users + groups + roles
    }

    /// How many users and roles use a managed policy as their permissions boundary.
    pub fn boundary_usage_count(&self, arn: &IamArn) -> usize {
        let users = self
            .users
            .values()
            .filter(|u| u.permissions_boundary.as_deref() == Some(arn))
            .count();
        let roles = self
            .roles
            .values()
            .filter(|r| r.permissions_boundary.as_deref() == Some(arn))
            .count();
        users + roles
    }

    /// All access keys, by id.
    pub fn access_keys(&self) -> impl Iterator<Item = &AccessKey> {
        self.access_keys.values()
    }

    /// An access key by id.
    pub fn access_key(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.access_keys
            .values()
            .find(|k| k.access_key_id.as_str() == access_key_id)
    }

    /// A user's access keys; empty for an unknown user.
    pub fn access_keys_for_user(&self, user_name: &str) -> Vec<&AccessKey> {
        match self.user(user_name) {
            Some(user) => self.keys_of(&AccessKeyOwner::User {
                user_id: user.user_id.clone(),
            }),
            None => Vec::new(),
        }
    }

    /// The root user's access keys.
    pub fn root_access_keys(&self) -> Vec<&AccessKey> {
        self.keys_of(&AccessKeyOwner::Root)
    }

    pub(crate) fn keys_of(&self, owner: &AccessKeyOwner) -> Vec<&AccessKey> {
        self.access_keys.values().filter(|k| &k.owner == owner).collect()
    }

    /// The identity-based policies of a user (its own, then each of its groups' in name order)
    /// and its permissions boundary. `None` for an unknown user.
    pub fn effective_policies_of_user(&self, user_name: &str) -> Option<EffectivePolicies> {
        let user = self.user(user_name)?;
        let mut identity = Vec::new();
        self.collect(&mut identity, PrincipalKind::User, &user.arn, &user.permissions);
        for group in self.groups_for_user(user_name) {
            self.collect(&mut identity, PrincipalKind::Group, &group.arn, &group.permissions);
        }
        Some(EffectivePolicies {
            identity,
            permissions_boundary: user
                .permissions_boundary
                .as_ref()
                .and_then(|arn| self.managed_document(arn)),
        })
    }

    /// The identity-based policies of a role and its permissions boundary. `None` for an unknown role.
    pub fn effective_policies_of_role(&self, role_name: &str) -> Option<EffectivePolicies> {
        let role = self.role(role_name)?;
        let mut identity = Vec::new();
        self.collect(&mut identity, PrincipalKind::Role, &role.arn, &role.permissions);
        Some(EffectivePolicies {
            identity,
            permissions_boundary: role
                .permissions_boundary
                .as_ref()
                .and_then(|arn| self.managed_document(arn)),
        })
    }

    fn collect(&self, out: &mut Vec<EffectivePolicy>, kind: PrincipalKind, owner: &IamArn, permissions: &Permissions) {
        for (name, document) in &permissions.inline_policies {
            out.push(EffectivePolicy {
                source_id: format!("{owner}#{name}"),
                policy_type: kind.inline_policy_type(),
                version_id: None,
                document: document.clone(),
            });
        }
        out.extend(
            permissions
                .attached_policies
                .iter()
                .filter_map(|arn| self.managed_document(arn)),
        );
    }

    fn managed_document(&self, arn: &IamArn) -> Option<EffectivePolicy> {
        let policy = self.managed_policy(arn)?;
        let version = policy.default_version()?;
        Some(EffectivePolicy {
            source_id: arn.to_string(),
            policy_type: if policy.is_aws_managed() {
                PolicyType::AwsManaged
            } else {
                PolicyType::UserManaged
            },
            version_id: Some(version.version_id.clone()),
            document: version.document.clone(),
        })
    }
}
