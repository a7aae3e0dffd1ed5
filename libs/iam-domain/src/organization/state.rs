//! What an organization is at one point of its stream.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A kind of organization policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrgPolicyType {
    /// SCPs: the most a member account's principals may do.
    ServiceControlPolicy,
    /// RCPs: the most that may be done to a member account's resources.
    ResourceControlPolicy,
    /// Tag policies: stored, not enforced.
    TagPolicy,
}

impl OrgPolicyType {
    /// Every type, in AWS's order.
    pub const ALL: [OrgPolicyType; 3] = [
        OrgPolicyType::ServiceControlPolicy,
        OrgPolicyType::ResourceControlPolicy,
        OrgPolicyType::TagPolicy,
    ];

    /// AWS's name, `SERVICE_CONTROL_POLICY`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgPolicyType::ServiceControlPolicy => "SERVICE_CONTROL_POLICY",
            OrgPolicyType::ResourceControlPolicy => "RESOURCE_CONTROL_POLICY",
            OrgPolicyType::TagPolicy => "TAG_POLICY",
        }
    }

    /// Parses AWS's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The segment of a policy ARN, `service_control_policy`.
    pub fn arn_segment(self) -> &'static str {
        match self {
            OrgPolicyType::ServiceControlPolicy => "service_control_policy",
            OrgPolicyType::ResourceControlPolicy => "resource_control_policy",
            OrgPolicyType::TagPolicy => "tag_policy",
        }
    }

    /// The AWS-managed policy attached everywhere when the type is enabled, if the type has one.
    pub fn full_access_policy(self) -> Option<&'static AwsManagedOrgPolicy> {
        AWS_MANAGED_ORG_POLICIES.iter().find(|p| p.policy_type == self)
    }
}

/// An AWS-managed organization policy (`FullAWSAccess`, `RCPFullAWSAccess`).
#[derive(Debug)]
pub struct AwsManagedOrgPolicy {
    /// Its id, the same in every organization.
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its description.
    pub description: &'static str,
    /// Its type.
    pub policy_type: OrgPolicyType,
    /// Its document.
    pub content: &'static str,
}

impl AwsManagedOrgPolicy {
    /// `arn:aws:organizations::aws:policy/<type>/<id>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:organizations::aws:policy/{}/{}",
            self.policy_type.arn_segment(),
            self.id
        )
    }
}

/// The AWS-managed policies every organization has.
pub static AWS_MANAGED_ORG_POLICIES: [AwsManagedOrgPolicy; 2] = [
    AwsManagedOrgPolicy {
        id: "p-FullAWSAccess",
        name: "FullAWSAccess",
        description: "Allows access to every operation",
        policy_type: OrgPolicyType::ServiceControlPolicy,
        content: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    AwsManagedOrgPolicy {
        id: "p-RCPFullAWSAccess",
        name: "RCPFullAWSAccess",
        description: "Allows access to every resource",
        policy_type: OrgPolicyType::ResourceControlPolicy,
        content: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
    },
];

/// The organization itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationInfo {
    /// `o-` and 10 characters.
    pub id: String,
    /// `arn:aws:organizations::<management>:organization/<id>`.
    pub arn: String,
    /// The management account.
    pub management_account_id: String,
    /// The management account's e-mail address, as AWS shows it.
    pub management_account_email: String,
    /// Always `ALL` (consolidated billing alone has no policies).
    pub feature_set: String,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl OrganizationInfo {
    /// `arn:aws:organizations::<management>:<kind>/<org>/<rest>`.
    pub fn arn_of(&self, kind: &str, rest: &str) -> String {
        format!(
            "arn:aws:organizations::{}:{kind}/{}/{rest}",
            self.management_account_id, self.id
        )
    }
}

/// The root of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRoot {
    /// `r-` and 4 characters.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// `Root`.
    pub name: String,
    /// The policy types enabled on it.
    pub enabled_policy_types: BTreeSet<OrgPolicyType>,
}

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationalUnit {
    /// `ou-<root part>-<8 characters>`.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its name, unique among its siblings.
    pub name: String,
    /// The root or OU it is in.
    pub parent_id: String,
}

/// An account's standing in the organization, as AWS's `AccountStatus` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberStatus {
    /// In use.
    Active,
    /// Closed: nothing of it authenticates or is allowed; its data and history are kept.
    Suspended,
}

impl MemberStatus {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "ACTIVE",
            MemberStatus::Suspended => "SUSPENDED",
        }
    }
}

/// How an account came to be in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JoinedMethod {
    /// Created by the organization (and the management account, which created it).
    Created,
    /// Invited, and accepted.
    Invited,
}

impl JoinedMethod {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinedMethod::Created => "CREATED",
            JoinedMethod::Invited => "INVITED",
        }
    }
}

/// An account of the organization (the management account is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAccount {
    /// The 12-digit id.
    pub id: String,
    /// Its ARN in the organization.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its e-mail address.
    pub email: String,
    /// The root or OU it is in.
    pub parent_id: String,
    /// Active or suspended.
    pub status: MemberStatus,
    /// Created or invited.
    pub joined_method: JoinedMethod,
    /// When it joined.
    pub joined: DateTime<Utc>,
}

/// A policy of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicy {
    /// `p-` and 10 characters (or an AWS-managed id).
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its name, unique per type.
    pub name: String,
    /// Its description.
    pub description: String,
    /// SCP, RCP or tag policy.
    pub policy_type: OrgPolicyType,
    /// The document.
    pub content: String,
    /// Whether AWS owns it (`FullAWSAccess`): never changed or deleted.
    pub aws_managed: bool,
    /// 1 when created, one more for each change of its content: decisions name it.
    pub revision: u32,
}

impl OrgPolicy {
    /// The version a decision record names, `v<revision>`.
    pub fn version_id(&self) -> String {
        format!("v{}", self.revision)
    }
}

/// Where a handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HandshakeState {
    /// Waiting for the invited account.
    Open,
    /// Accepted: the account joined.
    Accepted,
    /// Declined by the invited account.
    Declined,
    /// Withdrawn by the management account.
    Canceled,
}

impl HandshakeState {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeState::Open => "OPEN",
            HandshakeState::Accepted => "ACCEPTED",
            HandshakeState::Declined => "DECLINED",
            HandshakeState::Canceled => "CANCELED",
        }
    }
}

/// An invitation of a standalone account to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// `h-` and 10 characters.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// The invited account.
    pub target_account_id: String,
    /// The management account's note to it.
    pub notes: Option<String>,
    /// Where it stands.
    pub state: HandshakeState,
    /// When it was sent.
    pub requested: DateTime<Utc>,
    /// When it lapses.
    pub expiration: DateTime<Utc>,
}

impl Handshake {
    /// Its state at `now`: an open invitation past its expiration has lapsed (`EXPIRED`).
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.state == HandshakeState::Open && now >= self.expiration {
            "EXPIRED"
        } else {
            self.state.as_str()
        }
    }
}

/// A member account registered as delegated administrator for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedAdministrator {
    /// The account.
    pub account_id: String,
    /// The service principals it administers (`gatehouse.amazonaws.com`, ...).
    pub services: BTreeSet<String>,
    /// When it was first registered.
    pub registered: DateTime<Utc>,
}

/// A `CreateAccount` request, as `DescribeCreateAccountStatus` finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccountRequest {
    /// `car-` and 32 characters.
    pub id: String,
    /// When it was asked for.
    pub requested: DateTime<Utc>,
}

/// Where a `CreateAccount` request is (AWS's `CreateAccountState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAccountState {
    /// The organization has reserved the account; it is being made (or a restart resumes it).
    InProgress,
    /// The account exists and joined.
    Succeeded,
    /// It will not be made; the reason in AWS's `CreateAccountFailureReason` vocabulary.
    Failed(String),
}

impl CreateAccountState {
    /// `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CreateAccountState::InProgress => "IN_PROGRESS",
            CreateAccountState::Succeeded => "SUCCEEDED",
            CreateAccountState::Failed(_) => "FAILED",
        }
    }
}

/// A `CreateAccount` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccountRecord {
    /// The request.
    pub request: CreateAccountRequest,
    /// The account it makes (its id is drawn before it is made, so a resumed request makes the
    /// same account).
    pub account_id: String,
    /// The name it was given.
    pub account_name: String,
    /// Its e-mail address.
    pub email: String,
    /// Where it goes (the root when absent).
    pub parent_id: Option<String>,
    /// The administrator role made in it (empty for requests recorded before Gatehouse kept it).
    pub role_name: String,
    /// Where the request is.
    pub state: CreateAccountState,
    /// When it ended.
    pub completed: Option<DateTime<Utc>>,
}

/// A node of the tree a policy can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The root.
    Root,
    /// An OU.
    OrganizationalUnit,
    /// An account.
    Account,
}

impl TargetKind {
    /// AWS's `TargetType`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Root => "ROOT",
            TargetKind::OrganizationalUnit => "ORGANIZATIONAL_UNIT",
            TargetKind::Account => "ACCOUNT",
        }
    }
}

/// An organization: its tree, its accounts, policies, attachments, invitations and delegates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationState {
    version: u64,
    pub(crate) info: Option<OrganizationInfo>,
    pub(crate) deleted: bool,
    pub(crate) root: Option<OrgRoot>,
    // Entities are shared between successive states (an org write clones the maps, not the
    // 10,000 accounts in them), as the account aggregate shares its users and roles.
    pub(crate) units: BTreeMap<String, Arc<OrganizationalUnit>>,
    pub(crate) accounts: BTreeMap<String, Arc<MemberAccount>>,
    pub(crate) policies: BTreeMap<String, Arc<OrgPolicy>>,
    /// Target id -> the policies attached to it.
    pub(crate) attachments: BTreeMap<String, Arc<BTreeSet<String>>>,
    pub(crate) handshakes: BTreeMap<String, Arc<Handshake>>,
    pub(crate) delegated: BTreeMap<String, DelegatedAdministrator>,
    /// `CreateAccount` requests by id.
    pub(crate) create_requests: BTreeMap<String, Arc<CreateAccountRecord>>,
}

impl OrganizationState {
    /// An organization stream with no events.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream's sequence: how many events made this state.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn bump(&mut self) {
        self.version += 1;
    }

    /// The organization, while it exists (not yet created, or deleted: `None`).
    pub fn info(&self) -> Option<&OrganizationInfo> {
        self.info.as_ref().filter(|_| !self.deleted)
    }

    /// Whether it was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// The root.
    pub fn root(&self) -> Option<&OrgRoot> {
        self.root.as_ref().filter(|_| !self.deleted)
    }

    /// An OU by id.
    pub fn unit(&self, id: &str) -> Option<&OrganizationalUnit> {
        self.units.get(id).map(|u| &**u)
    }

    /// Every OU.
    pub fn units(&self) -> impl Iterator<Item = &OrganizationalUnit> {
        self.units.values().map(|u| &**u)
    }

    /// How many nodes the tree has: the root, its OUs and its accounts.
    pub fn node_count(&self) -> usize {
        1 + self.units.len() + self.accounts.len()
    }

    /// A member account by id.
    pub fn account(&self, id: &str) -> Option<&MemberAccount> {
        self.accounts.get(id).map(|a| &**a)
    }

    /// Every member account, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &MemberAccount> {
        self.accounts.values().map(|a| &**a)
    }

    /// Every member account's id, in order.
    pub fn account_ids(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    /// A policy by id: the organization's own, or an AWS-managed one.
    pub fn policy(&self, id: &str) -> Option<&OrgPolicy> {
        self.policies.get(id).map(|p| &**p)
    }

    /// Every policy of a type (the AWS-managed one first).
    pub fn policies_of(&self, policy_type: OrgPolicyType) -> impl Iterator<Item = &OrgPolicy> {
        self.policies
            .values()
            .map(|p| &**p)
            .filter(move |p| p.policy_type == policy_type)
    }

    /// Every policy.
    pub fn policies(&self) -> impl Iterator<Item = &OrgPolicy> {
        self.policies.values().map(|p| &**p)
    }

    /// A handshake by id.
    pub fn handshake(&self, id: &str) -> Option<&Handshake> {
        self.handshakes.get(id).map(|h| &**h)
    }

    /// Every handshake.
    pub fn handshakes(&self) -> impl Iterator<Item = &Handshake> {
        self.handshakes.values().map(|h| &**h)
    }

    /// A `CreateAccount` request by id.
    pub fn create_request(&self, id: &str) -> Option<&CreateAccountRecord> {
        self.create_requests.get(id).map(|r| &**r)
    }

    /// Every `CreateAccount` request, by id.
    pub fn create_requests(&self) -> impl Iterator<Item = &CreateAccountRecord> {
        self.create_requests.values().map(|r| &**r)
    }

    /// The `CreateAccount` requests still in progress: the accounts they reserved count against
    /// the organization's quota, and a restart resumes them.
    pub fn create_requests_in_progress(&self) -> impl Iterator<Item = &CreateAccountRecord> {
        self.create_requests()
            .filter(|r| r.state == CreateAccountState::InProgress)
    }

    /// The delegated administrators.
    pub fn delegated_administrators(&self) -> impl Iterator<Item = &DelegatedAdministrator> {
        self.delegated.values()
    }

    /// Whether `account` is a delegated administrator for `service`.
    pub fn is_delegated_administrator(&self, account: &str, service: &str) -> bool {
        self.delegated
            .get(account)
            .is_some_and(|d| d.services.contains(service))
    }

    /// Whether the policy type is enabled on the root.
    pub fn policy_type_enabled(&self, policy_type: OrgPolicyType) -> bool {
        self.root()
            .is_some_and(|root| root.enabled_policy_types.contains(&policy_type))
    }

    /// What kind of node an id names, if it exists.
    pub fn target_kind(&self, id: &str) -> Option<TargetKind> {
        if self.root().is_some_and(|root| root.id == id) {
            Some(TargetKind::Root)
        } else if self.units.contains_key(id) {
            Some(TargetKind::OrganizationalUnit)
        } else if self.accounts.contains_key(id) {
            Some(TargetKind::Account)
        } else {
            None
        }
    }

    /// A node's name and ARN.
    pub fn target_name_and_arn(&self, id: &str) -> Option<(String, String)> {
        match self.target_kind(id)? {
            TargetKind::Root => self.root().map(|r| (r.name.clone(), r.arn.clone())),
            TargetKind::OrganizationalUnit => self.units.get(id).map(|u| (u.name.clone(), u.arn.clone())),
            TargetKind::Account => self.accounts.get(id).map(|a| (a.name.clone(), a.arn.clone())),
        }
    }

    /// The parent of an OU or account (`None` for the root and for unknown ids).
    pub fn parent_of(&self, id: &str) -> Option<&str> {
        self.units
            .get(id)
            .map(|u| u.parent_id.as_str())
            .or_else(|| self.accounts.get(id).map(|a| a.parent_id.as_str()))
    }

    /// The nodes from the root down to `id` (both included); empty for an unknown id.
    pub fn path_to<'a>(&'a self, id: &str) -> Vec<&'a str> {
        let mut path = Vec::with_capacity(8);
        let mut at = self
            .resolve(id)
            .or_else(|| self.accounts.get_key_value(id).map(|(k, _)| k.as_str()));
        // A well-formed tree is at most 7 deep; the bound only guards against a corrupted one.
        while let Some(node) = at {
            path.push(node);
            if path.len() > 16 {
                break;
            }
            at = self.parent_of(node).and_then(|p| self.resolve(p));
        }
        path.reverse();
        path
    }

    fn resolve<'a>(&'a self, id: &str) -> Option<&'a str> {
        if let Some(root) = self.root().filter(|r| r.id == id) {
            return Some(root.id.as_str());
        }
        self.units.get_key_value(id).map(|(k, _)| k.as_str())
    }

    /// `aws:PrincipalOrgPaths`' form of a node's place: `o-id/r-id/ou-a/ou-b/` (the account itself
    /// is not part of it, as in AWS). `None` for an id that is not in the organization: a
    /// non-member has no path, not the organization's bare `o-id/`.
    pub fn org_path(&self, account_id: &str) -> Option<String> {
        let info = self.info()?;
        let mut path = format!("{}/", info.id);
        let nodes = self.path_to(account_id);
        if nodes.is_empty() {
            return None;
        }
        for node in nodes.iter().take(nodes.len().saturating_sub(1)) {
            path.push_str(node);
            path.push('/');
        }
        Some(path)
    }

    /// How many OUs lie between the root and `id` (an OU counts itself).
    pub fn depth_of(&self, id: &str) -> usize {
        self.path_to(id)
            .iter()
            .filter(|node| self.units.contains_key(**node))
            .count()
    }

    /// The children of a parent: its OUs, then its accounts.
    pub fn children_of<'a>(&'a self, parent_id: &'a str) -> (Vec<&'a OrganizationalUnit>, Vec<&'a MemberAccount>) {
        (
            self.units
                .values()
                .map(|u| &**u)
                .filter(|u| u.parent_id == parent_id)
                .collect(),
            self.accounts
                .values()
                .map(|a| &**a)
                .filter(|a| a.parent_id == parent_id)
                .collect(),
        )
    }

    /// The policies attached to a node, of one type (or every type).
    pub fn policies_for_target(&self, target_id: &str, policy_type: Option<OrgPolicyType>) -> Vec<&OrgPolicy> {
        self.attachments
            .get(target_id)
            .into_iter()
            .flat_map(|attached| attached.iter())
            .filter_map(|id| self.policy(id))
            .filter(|p| policy_type.is_none_or(|t| p.policy_type == t))
            .collect()
    }

    /// The nodes a policy is attached to.
    pub fn targets_for_policy(&self, policy_id: &str) -> Vec<&str> {
        self.attachments
            .iter()
            .filter(|(_, policies)| policies.contains(policy_id))
            .map(|(target, _)| target.as_str())
            .collect()
    }

    /// The levels of one policy type that govern `account_id`: for each node from the root down
    /// to the account, the policies attached there. Empty when the type is not enabled, or for the
    /// management account, which no SCP restricts.
    pub fn levels_for<'a>(
        &'a self,
        account_id: &str,
        policy_type: OrgPolicyType,
    ) -> Vec<(&'a str, Vec<&'a OrgPolicy>)> {
        if !self.policy_type_enabled(policy_type)
            || self.info().is_none_or(|info| info.management_account_id == account_id)
        {
            return Vec::new();
        }
        self.path_to(account_id)
            .into_iter()
            .map(|node| (node, self.policies_for_target(node, Some(policy_type))))
            .collect()
    }
}

/// The scope of the claim each member account is held by: an account is a member of one
/// organization at most, whichever organization's stream records its joining, so the log keeps
/// each membership as a key unique across every stream.
pub const MEMBERSHIP_CLAIM_SCOPE: &str = "organization-member";

/// The memberships that taking `before` to `after` ends (an account removed, left or closed
/// out by the organization's deletion) and begins (created, invited and joined, the management
/// account at creation): `(released, claimed)`, each in account order.
#[must_use]
pub fn membership_changes(before: &OrganizationState, after: &OrganizationState) -> (Vec<String>, Vec<String>) {
    let released = before
        .accounts
        .keys()
        .filter(|id| !after.accounts.contains_key(*id))
        .cloned()
        .collect();
    let claimed = after
        .accounts
        .keys()
        .filter(|id| !before.accounts.contains_key(*id))
        .cloned()
        .collect();
    (released, claimed)
}
