//! AWS Organizations as use cases: organizations are aggregates of their own (a stream per
//! organization, keyed by its `o-...` id, on the same log as the accounts), held in memory beside
//! the accounts, and their policies are the guardrails every decision of a member account runs
//! under (`Gatehouse::guardrails_of`).
//!
//! Every call authorizes the caller twice, as AWS does: by its place in the organization (the
//! management account, a delegated administrator, a member, an invited account) and by its own
//! account's IAM policies and its organization's SCPs (`organizations:<Operation>`). Every call is
//! recorded under `organizations.amazonaws.com`, and answers in AWS's wire shape (a JSON value the
//! json 1.1 door returns as it is and GraphQL reads its types from).

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use iam_audit::EVENT_SOURCE_ORGANIZATIONS;
use iam_authz::{Guardrails, LevelCompiler};
use iam_domain::organization::{
    decide_organization, evolve_organization, is_organization_id, CreateAccountRecord, CreateAccountRequest,
    CreateAccountState, MemberAccount, MemberStatus, OrgCommand, OrgPolicy, OrgPolicyType, OrganizationState,
    TargetKind, MEMBERSHIP_CLAIM_SCOPE,
};
use iam_domain::{DecideContext, DomainEvent, Requirement};
use iam_eventlog::{ClaimChange, UniqueClaim};
use iam_policy::{OrgLevels, PolicySet, PolicySource, PolicyType};
use iam_types::ErrorCode;
use serde_json::{json, Value};

use crate::access::ApiCaller;
use crate::management::{CallFacts, MemberAccountRequest};
use crate::{decode, envelope, random_bytes, read_lock, store_error, write_lock, Actor, AppError, Gatehouse};

/// The service principal a delegated administrator of Gatehouse's organization and audit views is
/// registered for.
pub const VIEWS_SERVICE_PRINCIPAL: &str = "gatehouse.amazonaws.com";

/// The most items one page of a list holds (AWS's `MaxResults` bound for Organizations).
pub const MAX_PAGE: usize = 20;

/// One organization's state with the guardrails it puts on each of its accounts, built on first
/// use and shared until the organization changes.
#[derive(Debug)]
pub struct OrgModel {
    state: Arc<OrganizationState>,
    compiler: Arc<LevelCompiler>,
    /// (node, policy type) -> the policies (id, revision) of that node's level and each one's
    /// compiled set (one per policy, shared with every other level holding it), shared by the organization's successive models (an entry is used only while its
    /// node's policies are the same), so an org change recompiles only the levels it changed.
    levels: Arc<RwLock<HashMap<(String, OrgPolicyType), LevelEntry>>>,
    /// Account -> its guardrails.
    accounts: RwLock<FxHashMap<String, Arc<AccountGuardrails>>>,
}

/// What an organization says of one of its accounts, for decisions.
#[derive(Debug)]
pub struct AccountGuardrails {
    /// The organization.
    pub organization_id: String,
    /// `aws:PrincipalOrgPaths` / `aws:ResourceOrgPaths`: `o-x/r-y/ou-a/`.
    pub org_path: String,
    /// The organization's sequence the guardrails were built at.
    pub organization_sequence: u64,
    /// Closed: nothing of the account authenticates or is allowed.
    pub suspended: bool,
    /// SCP levels (none for the management account) and RCP levels.
    pub guardrails: Guardrails,
    /// The organization id and path as condition-key values, kept ready: every decision of the
    /// account (and on its resources) points its context at them without copying.
    org_keys: Arc<iam_policy::OrgKeys>,
}

type LevelEntry = (Vec<(String, u32)>, Arc<[Arc<PolicySet>]>);

impl OrgModel {
    fn new(state: Arc<OrganizationState>, compiler: Arc<LevelCompiler>) -> Self {
        OrgModel {
            state,
            compiler,
            levels: Arc::default(),
            accounts: RwLock::default(),
        }
    }

    /// The model of `state`, the next state of `previous`'s organization: it shares the compiled
    /// levels (each is checked against its node's policies when used).
    fn succeeding(previous: &OrgModel, state: Arc<OrganizationState>) -> Self {
        let levels = previous.levels.clone();
        {
            // Nodes that are gone take their levels with them, now and then.
            let mut map = write_lock(&levels);
            // Two policy types per node at most: twice that means half the entries are stale.
            if map.len() > 4 * state.node_count() + 64 {
                map.retain(|(node, _), _| state.target_kind(node).is_some());
            }
        }
        OrgModel {
            state,
            compiler: previous.compiler.clone(),
            levels,
            accounts: RwLock::default(),
        }
    }

    /// The organization's state.
    pub fn state(&self) -> &Arc<OrganizationState> {
        &self.state
    }

    /// One node's level: each of its policies compiled on its own, so that a policy attached at
    /// several levels of a path is one `Arc` that decisions evaluate once.
    fn level(&self, node: &str, policy_type: OrgPolicyType, policies: &[&OrgPolicy]) -> Arc<[Arc<PolicySet>]> {
        let key = (node.to_owned(), policy_type);
        let signature: Vec<(String, u32)> = policies.iter().map(|p| (p.id.clone(), p.revision)).collect();
        if let Some((known, set)) = read_lock(&self.levels).get(&key) {
            if *known == signature {
                return set.clone();
            }
        }
        let source_type = match policy_type {
            OrgPolicyType::ResourceControlPolicy => PolicyType::ResourceControlPolicy,
            _ => PolicyType::ServiceControlPolicy,
        };
        let set: Arc<[Arc<PolicySet>]> = policies
            .iter()
            .map(|policy| {
                let mut source = PolicySource::new(policy.id.as_str(), source_type);
                source.version_id = Some(policy.version_id().into());
                self.compiler.compile_policy(source, policy.content.as_str())
            })
            .collect();
        write_lock(&self.levels).insert(key, (signature, set.clone()));
        set
    }

    /// The guardrails of one member account (`None` for an account that is not a member).
    pub fn guardrails_of(&self, account_id: &str) -> Option<Arc<AccountGuardrails>> {
        if let Some(found) = read_lock(&self.accounts).get(account_id) {
            return Some(found.clone());
        }
        let state = &self.state;
        let info = state.info()?;
        let member = state.account(account_id)?;
        // Each policy is a shared compiled set: an account holds a few pointers, not policies.
        let levels = |policy_type| -> OrgLevels {
            self.compiler.levels(
                state
                    .levels_for(account_id, policy_type)
                    .iter()
                    .map(|(node, policies)| self.level(node, policy_type, policies).to_vec()),
            )
        };
        let service_control = levels(OrgPolicyType::ServiceControlPolicy);
        let resource_control = levels(OrgPolicyType::ResourceControlPolicy);
        let org_path = state.org_path(account_id).unwrap_or_default();
        let guardrails = Arc::new(AccountGuardrails {
            org_keys: Arc::new(iam_policy::OrgKeys {
                id: iam_policy::ContextValue::single(info.id.as_str()),
                paths: iam_policy::ContextValue::list([org_path.as_str()]),
            }),
            organization_id: info.id.clone(),
            org_path,
            organization_sequence: state.version(),
            suspended: member.status == MemberStatus::Suspended,
            guardrails: Guardrails {
                service_control,
                resource_control,
            },
        });
        write_lock(&self.accounts).insert(account_id.to_owned(), guardrails.clone());
        Some(guardrails)
    }
}

/// The log's claims for the memberships a change begins and ends: an account joins one
/// organization at most even when two replicas let it join two at once (each checked its own
/// view first; the second append of the account's claim fails).
fn membership_claims(before: &OrganizationState, after: &OrganizationState) -> Vec<ClaimChange> {
    let (released, claimed) = iam_domain::organization::membership_changes(before, after);
    let claim = |account: String| UniqueClaim::across_streams(MEMBERSHIP_CLAIM_SCOPE, account);
    released
        .into_iter()
        .map(|account| ClaimChange::Release(claim(account)))
        .chain(claimed.into_iter().map(|account| ClaimChange::Claim(claim(account))))
        .collect()
}

/// AWS's refusal of `command` for an account that is already a member of an organization.
fn already_a_member(command: &OrgCommand) -> AppError {
    match command {
        OrgCommand::AcceptHandshake { .. } => AppError::new(
            ErrorCode::HandshakeConstraintViolationException,
            "This account is already a member of an organization (ALREADY_IN_AN_ORGANIZATION).",
        ),
        _ => AppError::new(
            ErrorCode::AlreadyInOrganizationException,
            "This account is already a member of an organization.",
        ),
    }
}

/// Guardrails found for an account (`None`: in no organization) at an organizations generation.
type Found = (u64, Option<Arc<AccountGuardrails>>);

/// An account's organization: its id and its slot.
type Membership = (Arc<str>, Arc<OrgSlot>);

pub(crate) struct OrgSlot {
    model: RwLock<Arc<OrgModel>>,
    writer: tokio::sync::Mutex<()>,
}

/// Organizations held by the service.
#[derive(Default)]
pub(crate) struct Organizations {
    slots: RwLock<HashMap<String, Arc<OrgSlot>>>,
    /// Member account -> its organization's id and slot (a decision finds its guardrails with
    /// one lookup, copying no id).
    /// (Fx: keys are account ids the service issued, not input, and every decision hashes one.)
    membership: RwLock<FxHashMap<String, Membership>>,
    compiler: Arc<LevelCompiler>,
    /// Creating an organization or joining one is serialized in the process, so an account is
    /// never seen free by two of them at once.
    joining: tokio::sync::Mutex<()>,
    /// When the last scan of every organization stream started.
    scanning: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// Advanced after every organization model installed: guardrails found at an older
    /// generation may be stale.
    generation: AtomicU64,
    /// Account -> the guardrails a decision last found for it (`None`: in no organization), and
    /// the generation it found them at: the steady path of every decision is one lookup here
    /// rather than the membership's, the organization's model's and its accounts' locks in turn.
    found: RwLock<FxHashMap<String, Found>>,
}

/// What an organization command did.
#[derive(Debug, Clone)]
pub struct OrgExecuted {
    /// The organization.
    pub organization_id: String,
    /// Its events.
    pub events: Vec<DomainEvent>,
    /// Its sequence after the command: the consistency token.
    pub sequence: u64,
    /// The organization after it.
    pub model: Arc<OrgModel>,
}

/// Where a caller stands in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Only the management account.
    Management,
    /// The management account or a delegated administrator of the views.
    Reader,
    /// Any member account.
    Member,
    /// Any account (its own organization, if any, is not needed).
    Anyone,
}

/// An Organizations operation: its name, who may call it, and what it reads or changes.
#[derive(Debug, Clone)]
pub enum OrgOperation {
    /// A change decided by the organization aggregate.
    Change(OrgCommand),
    /// `CreateAccount`: a new account joins.
    CreateAccount(MemberAccountRequest),
    /// A read.
    Read(OrgRead),
}

/// The reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRead {
    /// `DescribeOrganization`.
    DescribeOrganization,
    /// `ListRoots`.
    ListRoots(Page),
    /// `ListOrganizationalUnitsForParent`.
    ListOrganizationalUnitsForParent(String, Page),
    /// `ListChildren` (`ACCOUNT` or `ORGANIZATIONAL_UNIT`).
    ListChildren(String, String, Page),
    /// `ListParents`.
    ListParents(String, Page),
    /// `DescribeOrganizationalUnit`.
    DescribeOrganizationalUnit(String),
    /// `ListAccounts`.
    ListAccounts(Page),
    /// `ListAccountsForParent`.
    ListAccountsForParent(String, Page),
    /// `DescribeAccount`.
    DescribeAccount(String),
    /// `ListPolicies` of a type.
    ListPolicies(OrgPolicyType, Page),
    /// `DescribePolicy`.
    DescribePolicy(String),
    /// `ListPoliciesForTarget`.
    ListPoliciesForTarget(String, OrgPolicyType, Page),
    /// `ListTargetsForPolicy`.
    ListTargetsForPolicy(String, Page),
    /// `ListHandshakesForOrganization`.
    ListHandshakesForOrganization(Page),
    /// `ListHandshakesForAccount`: the caller's invitations.
    ListHandshakesForAccount(Page),
    /// `DescribeHandshake`.
    DescribeHandshake(String),
    /// `ListDelegatedAdministrators`.
    ListDelegatedAdministrators(Page),
    /// `DescribeEffectivePolicy` (SCPs: the chain that applies to an account).
    DescribeEffectivePolicy(String),
    /// `DescribeCreateAccountStatus`.
    DescribeCreateAccountStatus(String),
    /// `ListCreateAccountStatus`, optionally of some states (`SUCCEEDED` is the only one
    /// Gatehouse's synchronous `CreateAccount` leaves).
    ListCreateAccountStatus(Vec<String>, Page),
}

/// A page request: `MaxResults` and `NextToken`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// At most this many (1 to 20; 20 when absent).
    pub max_results: Option<usize>,
    /// Where the previous page stopped.
    pub next_token: Option<String>,
}

/// An answer: AWS's response shape, and the organization's sequence it was read or written at.
#[derive(Debug, Clone)]
pub struct OrgAnswer {
    /// The response, as the json protocol sends it.
    pub response: Value,
    /// The organization's sequence (0 when there is none).
    pub sequence: u64,
}

fn not_in_use() -> AppError {
    AppError::new(
        ErrorCode::AwsOrganizationsNotInUseException,
        "Your account is not a member of an organization.",
    )
}

fn denied(caller: &ApiCaller, operation: &str) -> AppError {
    AppError::new(
        ErrorCode::AccessDenied,
        format!(
            "User: {} is not authorized to perform: organizations:{operation}: only the organization's management account may",
            caller.principal_arn
        ),
    )
}

fn epoch(at: DateTime<Utc>) -> f64 {
    #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit an f64's 53 bits
    let millis = at.timestamp_millis() as f64;
    millis / 1000.0
}

fn account_json(state: &OrganizationState, account: &MemberAccount) -> Value {
    json!({
        "Paths": [format!("{}{}/", state.org_path(&account.id).unwrap_or_default(), account.id)],
        "Id": account.id,
        "Arn": account.arn,
        // An invited account gave no address; AWS's shape needs one, so a reserved domain stands in.
        "Email": if account.email.is_empty() { format!("root@{}.gatehouse.invalid", account.id) } else { account.email.clone() },
        "Name": account.name,
        "Status": account.status.as_str(),
        "State": if account.status == MemberStatus::Active { "ACTIVE" } else { "SUSPENDED" },
        "JoinedMethod": account.joined_method.as_str(),
        "JoinedTimestamp": epoch(account.joined),
    })
}

fn policy_summary(policy: &OrgPolicy) -> Value {
    json!({
        "Id": policy.id,
        "Arn": policy.arn,
        "Name": policy.name,
        "Description": policy.description,
        "Type": policy.policy_type.as_str(),
        "AwsManaged": policy.aws_managed,
    })
}

fn policy_json(policy: &OrgPolicy) -> Value {
    json!({ "PolicySummary": policy_summary(policy), "Content": policy.content })
}

fn unit_json(unit: &iam_domain::organization::OrganizationalUnit) -> Value {
    json!({ "Id": unit.id, "Arn": unit.arn, "Name": unit.name })
}

fn root_json(state: &OrganizationState) -> Value {
    let Some(root) = state.root() else { return Value::Null };
    let types: Vec<Value> = root
        .enabled_policy_types
        .iter()
        .map(|t| json!({"Type": t.as_str(), "Status": "ENABLED"}))
        .collect();
    json!({ "Id": root.id, "Arn": root.arn, "Name": root.name, "PolicyTypes": types })
}

fn handshake_json(
    state: &OrganizationState,
    handshake: &iam_domain::organization::Handshake,
    now: DateTime<Utc>,
) -> Value {
    let info = state.info();
    json!({
        "Id": handshake.id,
        "Arn": handshake.arn,
        "Parties": [
            {"Id": info.map(|i| i.id.clone()).unwrap_or_default(), "Type": "ORGANIZATION"},
            {"Id": handshake.target_account_id, "Type": "ACCOUNT"},
        ],
        "State": handshake.state_at(now),
        "RequestedTimestamp": epoch(handshake.requested),
        "ExpirationTimestamp": epoch(handshake.expiration),
        "Action": "INVITE",
        "Resources": [
            {"Type": "ORGANIZATION", "Value": info.map(|i| i.id.clone()).unwrap_or_default()},
            {"Type": "ACCOUNT", "Value": handshake.target_account_id},
            {"Type": "NOTES", "Value": handshake.notes.clone().unwrap_or_default()},
        ],
    })
}

fn organization_json(state: &OrganizationState) -> Value {
    let Some(info) = state.info() else { return Value::Null };
    json!({
        "Id": info.id,
        "Arn": info.arn,
        "FeatureSet": info.feature_set,
        "MasterAccountArn": format!("arn:aws:organizations::{0}:account/{1}/{0}", info.management_account_id, info.id),
        "MasterAccountId": info.management_account_id,
        "MasterAccountEmail": info.management_account_email,
        // Deprecated by AWS in favour of the root's `PolicyTypes`; the enabled ones, as there.
        "AvailablePolicyTypes": OrgPolicyType::ALL
            .iter()
            .filter(|t| state.policy_type_enabled(**t))
            .map(|t| json!({"Type": t.as_str(), "Status": "ENABLED"}))
            .collect::<Vec<_>>(),
    })
}

/// One page of `items` under `key`, with `NextToken` when more follow.
fn page(key: &str, items: Vec<Value>, page: &Page) -> Result<Value, AppError> {
    let size = page.max_results.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&size) {
        return Err(AppError::new(
            ErrorCode::InvalidInputException,
            format!("MaxResults must be between 1 and {MAX_PAGE}"),
        ));
    }
    let start = match &page.next_token {
        None => 0,
        Some(token) => token
            .strip_prefix("gh1-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidInputException,
                    "NextToken is not one this endpoint gave",
                )
            })?,
    };
    let end = (start + size).min(items.len());
    let mut answer = json!({ key: items[start..end].to_vec() });
    if end < items.len() {
        answer["NextToken"] = json!(format!("gh1-{end}"));
    }
    Ok(answer)
}

impl OrgOperation {
    /// The operation's name, as CloudTrail's `eventName` and the IAM action's suffix.
    pub fn name(&self) -> &'static str {
        match self {
            OrgOperation::CreateAccount(_) => "CreateAccount",
            OrgOperation::Change(command) => match command {
                OrgCommand::CreateOrganization { .. } => "CreateOrganization",
                OrgCommand::DeleteOrganization {} => "DeleteOrganization",
                OrgCommand::CreateOrganizationalUnit { .. } => "CreateOrganizationalUnit",
                OrgCommand::UpdateOrganizationalUnit { .. } => "UpdateOrganizationalUnit",
                OrgCommand::DeleteOrganizationalUnit { .. } => "DeleteOrganizationalUnit",
                OrgCommand::StartCreateAccount { .. }
                | OrgCommand::AddCreatedAccount { .. }
                | OrgCommand::FailCreateAccount { .. } => "CreateAccount",
                OrgCommand::InviteAccount { .. } => "InviteAccountToOrganization",
                OrgCommand::AcceptHandshake { .. } => "AcceptHandshake",
                OrgCommand::DeclineHandshake { .. } => "DeclineHandshake",
                OrgCommand::CancelHandshake { .. } => "CancelHandshake",
                OrgCommand::MoveAccount { .. } => "MoveAccount",
                OrgCommand::RemoveAccount { .. } => "RemoveAccountFromOrganization",
                OrgCommand::LeaveOrganization { .. } => "LeaveOrganization",
                OrgCommand::CloseAccount { .. } => "CloseAccount",
                OrgCommand::CreatePolicy { .. } => "CreatePolicy",
                OrgCommand::UpdatePolicy { .. } => "UpdatePolicy",
                OrgCommand::DeletePolicy { .. } => "DeletePolicy",
                OrgCommand::AttachPolicy { .. } => "AttachPolicy",
                OrgCommand::DetachPolicy { .. } => "DetachPolicy",
                OrgCommand::EnablePolicyType { .. } => "EnablePolicyType",
                OrgCommand::DisablePolicyType { .. } => "DisablePolicyType",
                OrgCommand::RegisterDelegatedAdministrator { .. } => "RegisterDelegatedAdministrator",
                OrgCommand::DeregisterDelegatedAdministrator { .. } => "DeregisterDelegatedAdministrator",
            },
            OrgOperation::Read(read) => match read {
                OrgRead::DescribeOrganization => "DescribeOrganization",
                OrgRead::ListRoots(_) => "ListRoots",
                OrgRead::ListOrganizationalUnitsForParent(..) => "ListOrganizationalUnitsForParent",
                OrgRead::ListChildren(..) => "ListChildren",
                OrgRead::ListParents(..) => "ListParents",
                OrgRead::DescribeOrganizationalUnit(_) => "DescribeOrganizationalUnit",
                OrgRead::ListAccounts(_) => "ListAccounts",
                OrgRead::ListAccountsForParent(..) => "ListAccountsForParent",
                OrgRead::DescribeAccount(_) => "DescribeAccount",
                OrgRead::ListPolicies(..) => "ListPolicies",
                OrgRead::DescribePolicy(_) => "DescribePolicy",
                OrgRead::ListPoliciesForTarget(..) => "ListPoliciesForTarget",
                OrgRead::ListTargetsForPolicy(..) => "ListTargetsForPolicy",
                OrgRead::ListHandshakesForOrganization(_) => "ListHandshakesForOrganization",
                OrgRead::ListHandshakesForAccount(_) => "ListHandshakesForAccount",
                OrgRead::DescribeHandshake(_) => "DescribeHandshake",
                OrgRead::ListDelegatedAdministrators(_) => "ListDelegatedAdministrators",
                OrgRead::DescribeEffectivePolicy(_) => "DescribeEffectivePolicy",
                OrgRead::DescribeCreateAccountStatus(_) => "DescribeCreateAccountStatus",
                OrgRead::ListCreateAccountStatus(..) => "ListCreateAccountStatus",
            },
        }
    }

    fn standing(&self) -> Standing {
        match self {
            OrgOperation::Change(
                OrgCommand::CreateOrganization { .. }
                | OrgCommand::AcceptHandshake { .. }
                | OrgCommand::DeclineHandshake { .. },
            )
            | OrgOperation::Read(OrgRead::ListHandshakesForAccount(_) | OrgRead::DescribeHandshake(_)) => {
                Standing::Anyone
            }
            OrgOperation::Change(OrgCommand::LeaveOrganization { .. })
            | OrgOperation::Read(OrgRead::DescribeOrganization | OrgRead::DescribeEffectivePolicy(_)) => {
                Standing::Member
            }
            OrgOperation::Read(_) => Standing::Reader,
            OrgOperation::Change(_) | OrgOperation::CreateAccount(_) => Standing::Management,
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, OrgOperation::Read(_))
    }

    fn request_parameters(&self) -> Value {
        match self {
            OrgOperation::Change(command) => serde_json::to_value(command).unwrap_or(Value::Null),
            OrgOperation::CreateAccount(request) => json!({
                "accountName": crate::management::bounded_text(&request.account_name),
                "email": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "roleName": request.role_name.as_deref().map(crate::management::bounded_text),
                "parentId": request.parent_id,
            }),
            OrgOperation::Read(read) => match read {
                OrgRead::ListOrganizationalUnitsForParent(id, _)
                | OrgRead::ListChildren(id, _, _)
                | OrgRead::ListAccountsForParent(id, _) => json!({ "parentId": id }),
                OrgRead::ListParents(id, _) => json!({ "childId": id }),
                OrgRead::DescribeOrganizationalUnit(id) => json!({ "organizationalUnitId": id }),
                OrgRead::DescribeAccount(id) => json!({ "accountId": id }),
                OrgRead::DescribePolicy(id) | OrgRead::ListTargetsForPolicy(id, _) => json!({ "policyId": id }),
                OrgRead::ListPoliciesForTarget(id, t, _) => json!({ "targetId": id, "filter": t.as_str() }),
                OrgRead::ListPolicies(t, _) => json!({ "filter": t.as_str() }),
                OrgRead::DescribeHandshake(id) => json!({ "handshakeId": id }),
                OrgRead::DescribeCreateAccountStatus(id) => json!({ "createAccountRequestId": id }),
                OrgRead::ListCreateAccountStatus(states, _) => json!({ "states": states }),
                OrgRead::DescribeEffectivePolicy(id) => {
                    json!({ "targetId": id, "policyType": "SERVICE_CONTROL_POLICY" })
                }
                _ => Value::Null,
            },
        }
    }
}

/// Sets the organization condition keys of a request from the guardrails of the principal's
/// account (`own`) and of the resource's (`owner`): `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`,
/// `aws:ResourceOrgID`, `aws:ResourceOrgPaths`, and `aws:ResourceAccount`.
pub(crate) fn insert_organization_keys(
    context: &mut iam_policy::Context,
    own: Option<&AccountGuardrails>,
    owner: Option<&AccountGuardrails>,
    resource_account: &str,
) {
    context.set_organizations(own.map(|g| &g.org_keys), owner.map(|g| &g.org_keys));
    context.insert_lowercase(
        "aws:resourceaccount",
        iam_policy::ContextValue::single(resource_account),
    );
}

impl Gatehouse {
    /// A model of an organization's state that is not the live one (a past state, for replays):
    /// it compiles through the service's level compiler, so policies it shares with the live
    /// organization are not compiled twice.
    pub(crate) fn detached_org_model(&self, state: Arc<OrganizationState>) -> OrgModel {
        OrgModel::new(state, self.organizations.compiler.clone())
    }

    pub(crate) fn org_model(&self, organization_id: &str) -> Option<Arc<OrgModel>> {
        let slot = read_lock(&self.organizations.slots).get(organization_id).cloned()?;
        let model = read_lock(&slot.model).clone();
        Some(model)
    }

    /// The organization an account is a member of.
    pub fn organization_of(&self, account_id: &str) -> Option<String> {
        read_lock(&self.organizations.membership)
            .get(account_id)
            .map(|(organization_id, _)| organization_id.to_string())
    }

    /// The organization's model an account is a member of.
    pub fn organization_model_of(&self, account_id: &str) -> Option<Arc<OrgModel>> {
        self.org_model(&self.organization_of(account_id)?)
    }

    /// What an account's organization puts on its decisions; `None` outside any organization.
    pub fn guardrails_of(&self, account_id: &str) -> Option<Arc<AccountGuardrails>> {
        // Read before anything the answer depends on, so an answer is never filed under a
        // generation newer than the model it came from.
        let generation = self.organizations.generation.load(Ordering::Acquire);
        if let Some((at, found)) = read_lock(&self.organizations.found).get(account_id) {
            if *at == generation {
                return found.clone();
            }
        }
        let found = self.guardrails_uncached(account_id);
        // Only accounts this service holds are remembered: a resource owner named in a request
        // may be any twelve digits, and must not grow the map.
        if found.is_some() || self.account(account_id).is_some() {
            write_lock(&self.organizations.found).insert(account_id.to_owned(), (generation, found.clone()));
        }
        found
    }

    fn guardrails_uncached(&self, account_id: &str) -> Option<Arc<AccountGuardrails>> {
        let model = {
            let membership = read_lock(&self.organizations.membership);
            let (_, slot) = membership.get(account_id)?;
            let model = read_lock(&slot.model).clone();
            model
        };
        model.guardrails_of(account_id)
    }

    /// [`Gatehouse::organization_keys`] for a request on the principal's own account: the
    /// guardrails of that account.
    pub fn own_organization_keys(
        &self,
        account: &str,
        context: &mut iam_policy::Context,
    ) -> Option<Arc<AccountGuardrails>> {
        let own = self.guardrails_of(account);
        insert_organization_keys(context, own.as_deref(), own.as_deref(), account);
        own
    }

    /// Sets the organization condition keys of a request (`aws:PrincipalOrgID`,
    /// `aws:PrincipalOrgPaths`, `aws:ResourceOrgID`, `aws:ResourceOrgPaths`, `aws:ResourceAccount`)
    /// and answers with the guardrails of the principal's and of the resource's account.
    pub fn organization_keys(
        &self,
        principal_account: &str,
        resource_account: &str,
        context: &mut iam_policy::Context,
    ) -> (Option<Arc<AccountGuardrails>>, Option<Arc<AccountGuardrails>>) {
        let own = self.guardrails_of(principal_account);
        let owner = if resource_account == principal_account {
            own.clone()
        } else {
            self.guardrails_of(resource_account)
        };
        insert_organization_keys(context, own.as_deref(), owner.as_deref(), resource_account);
        (own, owner)
    }

    /// The accounts whose history and entities `caller` may read centrally: every account of its
    /// organization for the management account and for a delegated administrator of the views
    /// ([`VIEWS_SERVICE_PRINCIPAL`]), and its own account for anyone else. `min_sequence` is an
    /// organization consistency token.
    ///
    /// # Errors
    /// `ServiceFailure` if the organization's log cannot be read.
    pub async fn viewable_accounts(
        &self,
        caller: &ApiCaller,
        min_sequence: Option<u64>,
    ) -> Result<Vec<String>, AppError> {
        let Some(organization_id) = self.organization_of(&caller.account_id) else {
            return Ok(vec![caller.account_id.clone()]);
        };
        let org = self
            .organization_at_least(&organization_id, min_sequence.unwrap_or(0))
            .await?;
        let state = org.state();
        let central = state
            .info()
            .is_some_and(|i| i.management_account_id == caller.account_id)
            || state.is_delegated_administrator(&caller.account_id, VIEWS_SERVICE_PRINCIPAL);
        Ok(if central {
            state.accounts().map(|a| a.id.clone()).collect()
        } else {
            vec![caller.account_id.clone()]
        })
    }

    /// A member account's model for a central, read-only view by `caller` (see
    /// [`Gatehouse::viewable_accounts`]); the caller's IAM policies must allow
    /// `organizations:DescribeAccount` on the account's organization ARN.
    ///
    /// # Errors
    /// `AccessDenied` when the caller may not view it; `AccountNotFoundException` when the account
    /// is not in the caller's organization.
    pub async fn member_account_view(
        &self,
        caller: &ApiCaller,
        account_id: &str,
        min_sequence: Option<u64>,
    ) -> Result<Arc<iam_authz::AccountModel>, AppError> {
        if account_id == caller.account_id {
            return self
                .account(account_id)
                .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"));
        }
        let viewable = self.viewable_accounts(caller, min_sequence).await?;
        if viewable.len() <= 1 {
            return Err(denied(caller, "DescribeAccount"));
        }
        if !viewable.iter().any(|a| a == account_id) {
            return Err(AppError::new(
                ErrorCode::AccountNotFoundException,
                format!("We can't find an account with the id {account_id} in the organization."),
            ));
        }
        let own = self
            .account(&caller.account_id)
            .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
        let resource = self
            .organization_model_of(&caller.account_id)
            .and_then(|o| o.state().info().map(|i| i.arn_of("account", account_id)))
            .unwrap_or_else(|| "*".to_owned());
        self.authorize_action(
            &own,
            caller,
            "organizations:DescribeAccount",
            &resource,
            &[],
            Utc::now(),
        )?;
        self.account(account_id).ok_or_else(|| {
            AppError::new(
                ErrorCode::AccountNotFoundException,
                format!("We can't find an account with the id {account_id}."),
            )
        })
    }

    /// Whether an account was closed: its keys and sessions no longer authenticate.
    pub fn is_suspended(&self, account_id: &str) -> bool {
        self.guardrails_of(account_id).is_some_and(|g| g.suspended)
    }

    pub(crate) async fn catch_up_organization(
        &self,
        organization_id: &str,
        mut state: OrganizationState,
    ) -> Result<OrganizationState, AppError> {
        loop {
            let batch = self
                .store
                .read_stream(organization_id, state.version() + 1, crate::READ_BATCH)
                .await
                .map_err(store_error)?;
            if batch.is_empty() {
                return Ok(state);
            }
            for stored in &batch {
                evolve_organization(&mut state, &decode(stored)?);
            }
        }
    }

    fn org_slot(&self, organization_id: &str) -> Arc<OrgSlot> {
        if let Some(slot) = read_lock(&self.organizations.slots).get(organization_id) {
            return slot.clone();
        }
        let empty = Arc::new(OrgModel::new(
            Arc::new(OrganizationState::new()),
            self.organizations.compiler.clone(),
        ));
        write_lock(&self.organizations.slots)
            .entry(organization_id.to_owned())
            .or_insert_with(|| {
                Arc::new(OrgSlot {
                    model: RwLock::new(empty),
                    writer: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    pub(crate) fn install_organization(&self, organization_id: &str, state: OrganizationState) -> Arc<OrgModel> {
        let slot = self.org_slot(organization_id);
        let previous = read_lock(&slot.model).clone();
        // Who joined and who left, by walking both sorted member lists once (no allocation when
        // nobody did: an org write at 10,000 accounts must not rebuild two sets of them).
        let (joined, left) = sorted_difference(member_ids(previous.state()), member_ids(&state));
        if !joined.is_empty() || !left.is_empty() {
            let mut membership = write_lock(&self.organizations.membership);
            for gone in left {
                if membership.get(gone).is_some_and(|(org, _)| **org == *organization_id) {
                    membership.remove(gone);
                }
            }
            let id: Arc<str> = Arc::from(organization_id);
            for new in joined {
                membership.insert(new.into(), (id.clone(), slot.clone()));
            }
        }
        let model = Arc::new(OrgModel::succeeding(&previous, Arc::new(state)));
        let replaced = std::mem::replace(&mut *write_lock(&slot.model), model.clone());
        // After the model and the membership changed: a lookup that read the generation before
        // this may have found the old model, and is kept under the old generation.
        self.organizations.generation.fetch_add(1, Ordering::AcqRel);
        // Freed outside the lock: a model whose accounts all built guardrails takes milliseconds.
        drop(replaced);
        model
    }

    /// The organization's model, at least as fresh as `min_sequence` (a token an org change
    /// returned, possibly through another replica): catches up from the log when it lags.
    ///
    /// # Errors
    /// `InvalidInput` if the log has not reached the token; `ServiceFailure` if it cannot be read.
    pub async fn organization_at_least(
        &self,
        organization_id: &str,
        min_sequence: u64,
    ) -> Result<Arc<OrgModel>, AppError> {
        if let Some(model) = self.org_model(organization_id) {
            if model.state().version() >= min_sequence {
                return Ok(model);
            }
        }
        if !is_organization_id(organization_id) {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                format!("{organization_id} is not an organization id"),
            ));
        }
        let slot = self.org_slot(organization_id);
        let _writer = slot.writer.lock().await;
        let current = read_lock(&slot.model).clone();
        let model = if current.state().version() < min_sequence {
            let fresh = self
                .catch_up_organization(organization_id, OrganizationState::clone(current.state()))
                .await?;
            self.install_organization(organization_id, fresh)
        } else {
            current
        };
        if model.state().version() < min_sequence {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                format!(
                    "consistency token {min_sequence} is ahead of organization {organization_id}'s log (at {})",
                    model.state().version()
                ),
            ));
        }
        Ok(model)
    }

    /// Honours an organization consistency token for `account_id`: its organization's guardrails
    /// are at least `token` fresh. The token is a sequence of the account's organization as the
    /// writer saw it, and this replica's idea of which organization that is may itself be stale
    /// (the account may have left one and joined another through another replica), so the
    /// organization it knows is first brought to the log's head; if the account is then in none,
    /// every organization of the log is, so the token also covers joining.
    ///
    /// # Errors
    /// As [`Gatehouse::organization_at_least`].
    pub async fn organization_at_token(&self, account_id: &str, token: u64) -> Result<(), AppError> {
        self.organization_current(account_id).await?;
        if self.organization_of(account_id).is_none() {
            // Reading every stream's head is a scan a caller could ask for on every request:
            // concurrent requests share one scan that started after they arrived.
            let arrived = std::time::Instant::now();
            let mut last_scan = self.organizations.scanning.lock().await;
            if last_scan.is_none_or(|started| started < arrived) {
                *last_scan = Some(std::time::Instant::now());
                let streams = self.store.accounts().await.map_err(store_error)?;
                for organization in streams.iter().filter(|s| is_organization_id(s)) {
                    let head = self.store.head(organization).await.map_err(store_error)?;
                    self.organization_at_least(organization, head).await?;
                }
            }
        }
        match self.organization_of(account_id) {
            Some(organization) => self.organization_at_least(&organization, token).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Brings the organization this replica knows `account_id` to be in to the log's head (a
    /// resource owner's, when a request carries a token of the caller's organization).
    ///
    /// # Errors
    /// As [`Gatehouse::organization_at_least`].
    pub async fn organization_current(&self, account_id: &str) -> Result<(), AppError> {
        if let Some(organization) = self.organization_of(account_id) {
            let head = self.store.head(&organization).await.map_err(store_error)?;
            self.organization_at_least(&organization, head).await?;
        }
        Ok(())
    }

    /// Brings any stream (an account's or an organization's) up to `sequence` from the log: what
    /// a replica does for each event another replica appended.
    ///
    /// # Errors
    /// As [`Gatehouse::account_at_least`] and [`Gatehouse::organization_at_least`].
    pub async fn stream_at_least(&self, stream_id: &str, sequence: u64) -> Result<(), AppError> {
        if is_organization_id(stream_id) {
            self.organization_at_least(stream_id, sequence).await.map(|_| ())
        } else {
            self.account_at_least(stream_id, sequence).await.map(|_| ())
        }
    }

    /// Decides an organization command against the organization's state and appends its events.
    pub(crate) async fn execute_organization(
        &self,
        organization_id: &str,
        actor: &Actor,
        command: &OrgCommand,
    ) -> Result<OrgExecuted, AppError> {
        let slot = self.org_slot(organization_id);
        let _writer = slot.writer.lock().await;
        for _ in 0..crate::MAX_ATTEMPTS {
            let current = read_lock(&slot.model).clone();
            let state = current.state();
            let now = Utc::now();
            let events = decide_organization(
                state,
                command,
                &DecideContext::new(now, random_bytes(), actor.arn.clone()),
            )?;
            if events.is_empty() {
                return Ok(OrgExecuted {
                    organization_id: organization_id.to_owned(),
                    events,
                    sequence: state.version(),
                    model: current,
                });
            }
            let mut next = OrganizationState::clone(state);
            for event in &events {
                evolve_organization(&mut next, event);
            }
            let new_events = events
                .iter()
                .map(|event| envelope(event, actor, now))
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .store
                .append(
                    organization_id,
                    state.version(),
                    new_events,
                    membership_claims(state, &next),
                )
                .await
            {
                Ok(outcome) => {
                    let model = self.install_organization(organization_id, next);
                    return Ok(OrgExecuted {
                        organization_id: organization_id.to_owned(),
                        events,
                        sequence: outcome.last_sequence,
                        model,
                    });
                }
                Err(iam_eventlog::StoreError::Conflict { .. }) => {
                    let fresh = self
                        .catch_up_organization(organization_id, OrganizationState::clone(state))
                        .await?;
                    self.install_organization(organization_id, fresh);
                }
                Err(iam_eventlog::StoreError::UniqueViolation { .. }) => return Err(already_a_member(command)),
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(AppError::new(
            ErrorCode::ConcurrentModification,
            "the organization kept changing concurrently; retry the request",
        ))
    }

    /// One Organizations call for `caller`: authorized by its standing in its organization and by
    /// its IAM policies and SCPs, executed, recorded in the caller's account history, answered in
    /// AWS's shape. `min_sequence` is an organization consistency token for reads.
    ///
    /// # Errors
    /// AWS Organizations' errors (`AWSOrganizationsNotInUseException`, `AccessDenied`, the
    /// aggregate's refusals), or `ServiceFailure` when the log or the record fails.
    pub async fn organizations(
        &self,
        caller: &ApiCaller,
        operation: OrgOperation,
        min_sequence: Option<u64>,
    ) -> Result<OrgAnswer, AppError> {
        self.organizations_at(caller, operation, min_sequence, None).await
    }

    /// A read of the caller's organization as it was at `as_of` (an organization sequence or an
    /// instant). The caller's standing and permissions are those it has now; the answer is the
    /// past state's, and its `sequence` that state's.
    ///
    /// # Errors
    /// As [`Gatehouse::organizations`], and those of [`Gatehouse::organization_state_at`].
    pub async fn organization_read_as_of(
        &self,
        caller: &ApiCaller,
        read: OrgRead,
        as_of: crate::history::AsOf,
    ) -> Result<OrgAnswer, AppError> {
        self.organizations_at(caller, OrgOperation::Read(read), None, Some(as_of))
            .await
    }

    async fn organizations_at(
        &self,
        caller: &ApiCaller,
        operation: OrgOperation,
        min_sequence: Option<u64>,
        as_of: Option<crate::history::AsOf>,
    ) -> Result<OrgAnswer, AppError> {
        let model = self
            .account(&caller.account_id)
            .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
        let now = Utc::now();
        let name = operation.name();
        if let Some(token) = min_sequence {
            self.organization_at_token(&caller.account_id, token).await?;
        }
        let org = self.organization_model_of(&caller.account_id);
        let resource = org
            .as_ref()
            .and_then(|o| o.state().info().map(|i| i.arn.clone()))
            .unwrap_or_else(|| "*".to_owned());
        let needed = vec![Requirement::named(&format!("organizations:{name}"), &resource)];
        // Malformed input is refused before anything else is looked at, as AWS does.
        let valid = match &operation {
            OrgOperation::CreateAccount(request) => request.validate(),
            // The halves of `CreateAccount` are this service's own steps, not operations.
            OrgOperation::Change(
                OrgCommand::StartCreateAccount { .. }
                | OrgCommand::AddCreatedAccount { .. }
                | OrgCommand::FailCreateAccount { .. },
            ) => Err(AppError::new(
                ErrorCode::InvalidInputException,
                "Use CreateAccount to create a member account.",
            )),
            _ => Ok(()),
        };
        let outcome = match valid.and_then(|()| self.check_standing(caller, org.as_deref(), operation.standing(), name))
        {
            Ok(()) => match self.authorize_requirements(&model, caller, &needed, now) {
                Ok(()) => self.run_organizations(caller, org, &operation, now, as_of).await,
                Err(refused) => Err(refused),
            },
            Err(refused) => Err(refused),
        };
        let response = outcome.as_ref().map(|answer| {
            let recorded = if operation.read_only() {
                Value::Null
            } else {
                answer.response.clone()
            };
            (recorded, Some(json!({ "organizationSequence": answer.sequence })))
        });
        let mut request_parameters = operation.request_parameters();
        if let Some(as_of) = as_of {
            // A read of the past says which past.
            let point = match as_of {
                crate::history::AsOf::Sequence(sequence) => json!({ "sequence": sequence }),
                crate::history::AsOf::Time(at) => json!({ "time": at }),
            };
            if !request_parameters.is_object() {
                request_parameters = json!({});
            }
            request_parameters["asOf"] = point;
        }
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_ORGANIZATIONS,
            state: model.state(),
            event_name: name,
            needed: &needed,
            request_parameters,
            outcome: response,
            read_only: operation.read_only(),
            now,
        })
        .await?;
        outcome
    }

    fn check_standing(
        &self,
        caller: &ApiCaller,
        org: Option<&OrgModel>,
        standing: Standing,
        name: &str,
    ) -> Result<(), AppError> {
        if standing == Standing::Anyone {
            return Ok(());
        }
        let info = org.and_then(|o| o.state().info()).ok_or_else(not_in_use)?;
        let is_management = info.management_account_id == caller.account_id;
        let allowed = match standing {
            Standing::Anyone | Standing::Member => true,
            Standing::Management => is_management,
            Standing::Reader => {
                is_management
                    || org.is_some_and(|o| {
                        o.state()
                            .is_delegated_administrator(&caller.account_id, VIEWS_SERVICE_PRINCIPAL)
                    })
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(denied(caller, name))
        }
    }

    async fn run_organizations(
        &self,
        caller: &ApiCaller,
        org: Option<Arc<OrgModel>>,
        operation: &OrgOperation,
        now: DateTime<Utc>,
        as_of: Option<crate::history::AsOf>,
    ) -> Result<OrgAnswer, AppError> {
        let actor = caller.actor();
        match operation {
            OrgOperation::Read(read) => {
                // An account in no organization still reads the invitations it was sent.
                let state = match (&org, operation.standing()) {
                    (Some(org), _) => org.state().clone(),
                    (None, Standing::Anyone) => Arc::new(OrganizationState::new()),
                    (None, _) => return Err(not_in_use()),
                };
                let state = match (as_of, state.info()) {
                    (Some(as_of), Some(info)) => self.organization_state_at(&info.id, as_of).await?,
                    (Some(_), None) => return Err(not_in_use()),
                    (None, _) => state,
                };
                let response = self.read_organization(caller, &state, read, now)?;
                Ok(OrgAnswer {
                    response,
                    sequence: state.version(),
                })
            }
            OrgOperation::CreateAccount(request) => {
                request.validate()?;
                let org = org.ok_or_else(not_in_use)?;
                let organization_id = org.state().info().map(|i| i.id.clone()).unwrap_or_default();
                request.validate()?;
                if let Some(parent) = &request.parent_id {
                    if org.state().target_kind(parent).is_none_or(|k| k == TargetKind::Account) {
                        return Err(AppError::new(
                            ErrorCode::ParentNotFoundException,
                            format!("We can't find a root or OU with the id {parent}."),
                        ));
                    }
                }
                let Some(info) = org.state().info() else {
                    return Err(not_in_use());
                };
                let management_account_id = info.management_account_id.clone();
                let account_id = (0..8)
                    .find_map(|_| self.draw_account_id())
                    .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "could not draw an unused account id"))?;
                let request_id = format!("car-{}", uuid::Uuid::now_v7().simple());
                // The organization reserves the account first: a crash from here on leaves a
                // request in progress that `resume_account_creations` finishes, never an account
                // outside the organization.
                let started = self
                    .execute_organization(
                        &organization_id,
                        &actor,
                        &OrgCommand::StartCreateAccount {
                            account_id,
                            account_name: request.account_name.clone(),
                            email: request.email.clone(),
                            parent_id: request.parent_id.clone(),
                            role_name: request.role_name().to_owned(),
                            request: Some(CreateAccountRequest {
                                id: request_id.clone(),
                                requested: now,
                            }),
                        },
                    )
                    .await?;
                let record = started
                    .model
                    .state()
                    .create_request(&request_id)
                    .cloned()
                    .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "the request was not recorded"))?;
                let (record, sequence) = self
                    .finish_account_creation(&organization_id, &actor, &management_account_id, &record)
                    .await?;
                Ok(OrgAnswer {
                    response: json!({ "CreateAccountStatus": create_account_record_json(&record) }),
                    sequence,
                })
            }
            OrgOperation::Change(command) => self.change_organization(caller, org, command).await,
        }
    }

    /// The second half of `CreateAccount`: makes the reserved account (each step idempotent)
    /// and has it join; answers with the request as it ends and the organization's sequence.
    async fn finish_account_creation(
        &self,
        organization_id: &str,
        actor: &Actor,
        management_account_id: &str,
        record: &CreateAccountRecord,
    ) -> Result<(CreateAccountRecord, u64), AppError> {
        let role_name = if record.role_name.is_empty() {
            MemberAccountRequest::DEFAULT_ROLE_NAME
        } else {
            record.role_name.as_str()
        };
        // A failure here (the log unavailable) leaves the request in progress, to be resumed.
        self.make_member_account(actor, &record.account_id, role_name, management_account_id)
            .await?;
        let join = OrgCommand::AddCreatedAccount {
            account_id: record.account_id.clone(),
            account_name: record.account_name.clone(),
            email: record.email.clone(),
            parent_id: record.parent_id.clone(),
            request: Some(record.request.clone()),
        };
        let executed = match self.execute_organization(organization_id, actor, &join).await {
            Ok(executed) => executed,
            Err(refused) if refused.code != ErrorCode::ServiceFailure => {
                // The organization will not take the account (it is gone, say): the request
                // fails, on the record, naming the account that was made.
                let fail = OrgCommand::FailCreateAccount {
                    request_id: record.request.id.clone(),
                    reason: "INTERNAL_FAILURE".to_owned(),
                };
                self.execute_organization(organization_id, actor, &fail).await?;
                return Err(refused);
            }
            Err(failure) => return Err(failure),
        };
        let ended = executed
            .model
            .state()
            .create_request(&record.request.id)
            .cloned()
            .unwrap_or_else(|| record.clone());
        Ok((ended, executed.sequence))
    }

    /// Finishes every `CreateAccount` request an earlier process left in progress (it stopped
    /// between reserving the account and the account joining). Run at start-up; running it on
    /// several replicas at once is safe, since every step is idempotent. Answers with the
    /// requests finished.
    ///
    /// # Errors
    /// The first failure; the requests not yet finished stay in progress.
    pub async fn resume_account_creations(&self) -> Result<usize, AppError> {
        let organizations: Vec<String> = read_lock(&self.organizations.slots).keys().cloned().collect();
        let mut finished = 0;
        for organization_id in organizations {
            let Some(model) = self.org_model(&organization_id) else {
                continue;
            };
            let state = model.state();
            let Some(management_account_id) = state.info().map(|i| i.management_account_id.clone()) else {
                continue;
            };
            let pending: Vec<CreateAccountRecord> = state.create_requests_in_progress().cloned().collect();
            for record in pending {
                let actor = Actor {
                    arn: format!("arn:aws:iam::{management_account_id}:root"),
                    request_id: record.request.id.clone(),
                };
                self.finish_account_creation(&organization_id, &actor, &management_account_id, &record)
                    .await?;
                finished += 1;
            }
        }
        Ok(finished)
    }

    async fn change_organization(
        &self,
        caller: &ApiCaller,
        org: Option<Arc<OrgModel>>,
        command: &OrgCommand,
    ) -> Result<OrgAnswer, AppError> {
        let actor = caller.actor();
        let now = Utc::now();
        match command {
            OrgCommand::CreateOrganization { feature_set, .. } => {
                let _joining = self.organizations.joining.lock().await;
                // What every replica has written, not only this one: an account joins one
                // organization at most.
                self.organization_at_token(&caller.account_id, 0).await?;
                if self.organization_of(&caller.account_id).is_some() {
                    return Err(already_a_member(command));
                }
                let id_bytes: [u8; 16] = random_bytes();
                // The id is drawn here so the stream can be named before its first event.
                let probe = decide_organization(
                    &OrganizationState::new(),
                    &OrgCommand::CreateOrganization {
                        management_account_id: caller.account_id.clone(),
                        management_account_email: String::new(),
                        feature_set: feature_set.clone(),
                    },
                    &DecideContext::new(now, id_bytes, actor.arn.clone()),
                )?;
                let Some(DomainEvent::OrganizationCreated(created)) = probe.first() else {
                    return Err(AppError::new(ErrorCode::ServiceFailure, "no organization was created"));
                };
                let organization_id = created.organization.id.clone();
                let command = OrgCommand::CreateOrganization {
                    management_account_id: caller.account_id.clone(),
                    management_account_email: format!("root@{}.gatehouse.invalid", caller.account_id),
                    feature_set: feature_set.clone(),
                };
                let executed = self
                    .execute_organization_with(&organization_id, &actor, &command, id_bytes)
                    .await?;
                Ok(OrgAnswer {
                    response: json!({ "Organization": organization_json(executed.model.state()) }),
                    sequence: executed.sequence,
                })
            }
            OrgCommand::AcceptHandshake { handshake_id, .. } | OrgCommand::DeclineHandshake { handshake_id, .. } => {
                let accept = matches!(command, OrgCommand::AcceptHandshake { .. });
                let _joining = self.organizations.joining.lock().await;
                // The invitation and the account's membership as the log has them now (another
                // replica may have written either).
                self.organization_at_token(&caller.account_id, 0).await?;
                let organization_id = self.organization_of_handshake(handshake_id, &caller.account_id)?;
                let account_name = self
                    .account(&caller.account_id)
                    .and_then(|m| m.state().account().and_then(|a| a.account_alias.clone()))
                    .unwrap_or_else(|| caller.account_id.clone());
                let command = if accept {
                    OrgCommand::AcceptHandshake {
                        handshake_id: handshake_id.clone(),
                        caller_account_id: caller.account_id.clone(),
                        account_name,
                        in_other_organization: self.organization_of(&caller.account_id).is_some(),
                    }
                } else {
                    OrgCommand::DeclineHandshake {
                        handshake_id: handshake_id.clone(),
                        caller_account_id: caller.account_id.clone(),
                    }
                };
                let executed = self.execute_organization(&organization_id, &actor, &command).await?;
                let state = executed.model.state();
                let handshake = state
                    .handshake(handshake_id)
                    .map(|h| handshake_json(state, h, now))
                    .unwrap_or(Value::Null);
                Ok(OrgAnswer {
                    response: json!({ "Handshake": handshake }),
                    sequence: executed.sequence,
                })
            }
            other => {
                let org = org.ok_or_else(not_in_use)?;
                let organization_id = org.state().info().map(|i| i.id.clone()).ok_or_else(not_in_use)?;
                let command = match other {
                    // An invitation says nothing of the invited account: whether it exists or is
                    // in another organization is another tenant's business, settled when (if) it
                    // accepts.
                    OrgCommand::InviteAccount {
                        target_account_id,
                        notes,
                        ..
                    } => {
                        if iam_types::AccountId::parse(target_account_id).is_err() {
                            return Err(AppError::new(
                                ErrorCode::InvalidInputException,
                                format!("{target_account_id} is not a 12-digit account id"),
                            ));
                        }
                        OrgCommand::InviteAccount {
                            target_account_id: target_account_id.clone(),
                            notes: notes.clone(),
                            target_in_other_organization: false,
                        }
                    }
                    OrgCommand::LeaveOrganization { .. } => OrgCommand::LeaveOrganization {
                        account_id: caller.account_id.clone(),
                    },
                    other => other.clone(),
                };
                let executed = self.execute_organization(&organization_id, &actor, &command).await?;
                Ok(OrgAnswer {
                    response: change_response(executed.model.state(), &command, &executed.events, now),
                    sequence: executed.sequence,
                })
            }
        }
    }

    async fn execute_organization_with(
        &self,
        organization_id: &str,
        actor: &Actor,
        command: &OrgCommand,
        id_bytes: [u8; 16],
    ) -> Result<OrgExecuted, AppError> {
        let slot = self.org_slot(organization_id);
        let _writer = slot.writer.lock().await;
        let now = Utc::now();
        let current = read_lock(&slot.model).clone();
        let events = decide_organization(
            current.state(),
            command,
            &DecideContext::new(now, id_bytes, actor.arn.clone()),
        )?;
        let mut next = OrganizationState::clone(current.state());
        for event in &events {
            evolve_organization(&mut next, event);
        }
        let new_events = events
            .iter()
            .map(|event| envelope(event, actor, now))
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = self
            .store
            .append(
                organization_id,
                current.state().version(),
                new_events,
                membership_claims(current.state(), &next),
            )
            .await
            .map_err(|e| match e {
                iam_eventlog::StoreError::UniqueViolation { .. } => already_a_member(command),
                iam_eventlog::StoreError::Conflict { .. } => AppError::new(
                    ErrorCode::ConcurrentModification,
                    "an organization with the drawn id already exists; retry",
                ),
                other => store_error(other),
            })?;
        let model = self.install_organization(organization_id, next);
        Ok(OrgExecuted {
            organization_id: organization_id.to_owned(),
            events,
            sequence: outcome.last_sequence,
            model,
        })
    }

    fn organization_of_handshake(&self, handshake_id: &str, account_id: &str) -> Result<String, AppError> {
        let slots: Vec<(String, Arc<OrgSlot>)> = read_lock(&self.organizations.slots)
            .iter()
            .map(|(id, slot)| (id.clone(), slot.clone()))
            .collect();
        slots
            .into_iter()
            .find(|(_, slot)| {
                read_lock(&slot.model)
                    .state()
                    .handshake(handshake_id)
                    .is_some_and(|h| h.target_account_id == account_id)
            })
            .map(|(id, _)| id)
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::HandshakeNotFoundException,
                    format!("We can't find a handshake with the id {handshake_id}."),
                )
            })
    }

    fn handshakes_for_account(&self, account_id: &str, now: DateTime<Utc>) -> Vec<Value> {
        let slots: Vec<Arc<OrgSlot>> = read_lock(&self.organizations.slots).values().cloned().collect();
        slots
            .iter()
            .flat_map(|slot| {
                let model = read_lock(&slot.model).clone();
                let state = model.state().clone();
                state
                    .handshakes()
                    .filter(|h| h.target_account_id == account_id)
                    .map(|h| handshake_json(&state, h, now))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn read_organization(
        &self,
        caller: &ApiCaller,
        state: &OrganizationState,
        read: &OrgRead,
        now: DateTime<Utc>,
    ) -> Result<Value, AppError> {
        let parent = |id: &str| -> Result<(), AppError> {
            match state.target_kind(id) {
                Some(TargetKind::Root | TargetKind::OrganizationalUnit) => Ok(()),
                _ => Err(AppError::new(
                    ErrorCode::ParentNotFoundException,
                    format!("We can't find a root or OU with the id {id}."),
                )),
            }
        };
        let policy = |id: &str| {
            state.policy(id).ok_or_else(|| {
                AppError::new(
                    ErrorCode::PolicyNotFoundException,
                    format!("We can't find a policy with the id {id}."),
                )
            })
        };
        let target = |id: &str| {
            state.target_kind(id).ok_or_else(|| {
                AppError::new(
                    ErrorCode::TargetNotFoundException,
                    format!("We can't find a root, OU or account with the id {id}."),
                )
            })
        };
        let account = |id: &str| {
            state.account(id).ok_or_else(|| {
                AppError::new(
                    ErrorCode::AccountNotFoundException,
                    format!("We can't find an account with the id {id} in the organization."),
                )
            })
        };
        Ok(match read {
            OrgRead::DescribeOrganization => json!({ "Organization": organization_json(state) }),
            OrgRead::ListRoots(p) => page("Roots", vec![root_json(state)], p)?,
            OrgRead::ListOrganizationalUnitsForParent(id, p) => {
                parent(id)?;
                page(
                    "OrganizationalUnits",
                    state.children_of(id).0.into_iter().map(unit_json).collect(),
                    p,
                )?
            }
            OrgRead::ListChildren(id, child_type, p) => {
                parent(id)?;
                let (units, accounts) = state.children_of(id);
                let items: Vec<Value> = match child_type.as_str() {
                    "ORGANIZATIONAL_UNIT" => units
                        .iter()
                        .map(|u| json!({"Id": u.id, "Type": "ORGANIZATIONAL_UNIT"}))
                        .collect(),
                    "ACCOUNT" => accounts
                        .iter()
                        .map(|a| json!({"Id": a.id, "Type": "ACCOUNT"}))
                        .collect(),
                    other => {
                        return Err(AppError::new(
                            ErrorCode::InvalidInputException,
                            format!("ChildType {other} is not ACCOUNT or ORGANIZATIONAL_UNIT"),
                        ))
                    }
                };
                page("Children", items, p)?
            }
            OrgRead::ListParents(id, p) => {
                let parent_id = state.parent_of(id).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::ChildNotFoundException,
                        format!("We can't find an OU or account with the id {id}."),
                    )
                })?;
                let kind = if state.unit(parent_id).is_some() {
                    "ORGANIZATIONAL_UNIT"
                } else {
                    "ROOT"
                };
                page("Parents", vec![json!({"Id": parent_id, "Type": kind})], p)?
            }
            OrgRead::DescribeOrganizationalUnit(id) => {
                let unit = state.unit(id).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::OrganizationalUnitNotFoundException,
                        format!("We can't find an OU with the id {id}."),
                    )
                })?;
                json!({ "OrganizationalUnit": unit_json(unit) })
            }
            OrgRead::ListAccounts(p) => page(
                "Accounts",
                state.accounts().map(|a| account_json(state, a)).collect(),
                p,
            )?,
            OrgRead::ListAccountsForParent(id, p) => {
                parent(id)?;
                page(
                    "Accounts",
                    state
                        .children_of(id)
                        .1
                        .into_iter()
                        .map(|a| account_json(state, a))
                        .collect(),
                    p,
                )?
            }
            OrgRead::DescribeAccount(id) => json!({ "Account": account_json(state, account(id)?) }),
            OrgRead::ListPolicies(t, p) => page("Policies", state.policies_of(*t).map(policy_summary).collect(), p)?,
            OrgRead::DescribePolicy(id) => json!({ "Policy": policy_json(policy(id)?) }),
            OrgRead::ListPoliciesForTarget(id, t, p) => {
                target(id)?;
                page(
                    "Policies",
                    state
                        .policies_for_target(id, Some(*t))
                        .into_iter()
                        .map(policy_summary)
                        .collect(),
                    p,
                )?
            }
            OrgRead::ListTargetsForPolicy(id, p) => {
                policy(id)?;
                let targets = state
                    .targets_for_policy(id)
                    .into_iter()
                    .filter_map(|target| {
                        let kind = state.target_kind(target)?;
                        let (name, arn) = state.target_name_and_arn(target)?;
                        Some(json!({"TargetId": target, "Arn": arn, "Name": name, "Type": kind.as_str()}))
                    })
                    .collect();
                page("Targets", targets, p)?
            }
            OrgRead::ListHandshakesForOrganization(p) => page(
                "Handshakes",
                state.handshakes().map(|h| handshake_json(state, h, now)).collect(),
                p,
            )?,
            OrgRead::ListHandshakesForAccount(p) => {
                page("Handshakes", self.handshakes_for_account(&caller.account_id, now), p)?
            }
            OrgRead::DescribeHandshake(id) => {
                let found = self
                    .handshakes_for_account(&caller.account_id, now)
                    .into_iter()
                    .chain(state.handshakes().map(|h| handshake_json(state, h, now)))
                    .find(|h| h["Id"] == id.as_str())
                    .ok_or_else(|| {
                        AppError::new(
                            ErrorCode::HandshakeNotFoundException,
                            format!("We can't find a handshake with the id {id}."),
                        )
                    })?;
                json!({ "Handshake": found })
            }
            OrgRead::ListDelegatedAdministrators(p) => {
                let items = state
                    .delegated_administrators()
                    .filter_map(|d| {
                        let account = state.account(&d.account_id)?;
                        let mut item = account_json(state, account);
                        item["DelegationEnabledDate"] = json!(epoch(d.registered));
                        Some(item)
                    })
                    .collect();
                page("DelegatedAdministrators", items, p)?
            }
            OrgRead::DescribeCreateAccountStatus(id) => {
                let record = state.create_request(id).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::CreateAccountStatusNotFoundException,
                        format!("We can't find a create account request with the id {id}."),
                    )
                })?;
                json!({ "CreateAccountStatus": create_account_record_json(record) })
            }
            OrgRead::ListCreateAccountStatus(states, p) => {
                let wanted = |s: &String| s == "SUCCEEDED";
                let items = if states.is_empty() || states.iter().any(wanted) {
                    state.create_requests().map(create_account_record_json).collect()
                } else {
                    Vec::new()
                };
                page("CreateAccountStatuses", items, p)?
            }
            OrgRead::DescribeEffectivePolicy(id) => {
                // A member account sees its own chain only.
                let is_reader = state
                    .info()
                    .is_some_and(|i| i.management_account_id == caller.account_id)
                    || state.is_delegated_administrator(&caller.account_id, VIEWS_SERVICE_PRINCIPAL);
                if !is_reader && *id != caller.account_id {
                    return Err(denied(caller, "DescribeEffectivePolicy"));
                }
                account(id)?;
                let levels: Vec<Value> = state
                    .levels_for(id, OrgPolicyType::ServiceControlPolicy)
                    .into_iter()
                    .map(|(node, policies)| {
                        let kind = state.target_kind(node).map_or("", TargetKind::as_str);
                        json!({
                            "TargetId": node,
                            "TargetType": kind,
                            "Policies": policies.iter().map(|p| json!({"Id": p.id, "Name": p.name, "Version": p.version_id()})).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({
                    "EffectivePolicy": {
                        "TargetId": id,
                        "PolicyType": "SERVICE_CONTROL_POLICY",
                        "LastUpdatedTimestamp": epoch(now),
                        "Levels": levels,
                        "Restricted": !levels.is_empty(),
                    }
                })
            }
        })
    }
}

/// The ids of an organization's members, in order (none once it is deleted).
fn member_ids(state: &OrganizationState) -> Vec<&str> {
    if state.info().is_some() {
        state.account_ids().collect()
    } else {
        Vec::new()
    }
}

/// The ids only in `after` and the ids only in `before`, both lists sorted.
fn sorted_difference<'a>(before: Vec<&'a str>, after: Vec<&'a str>) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut joined, mut left) = (Vec::new(), Vec::new());
    let (mut b, mut a) = (before.into_iter().peekable(), after.into_iter().peekable());
    loop {
        match (b.peek(), a.peek()) {
            (Some(x), Some(y)) if x == y => {
                b.next();
                a.next();
            }
            (Some(x), Some(y)) if x < y => left.extend(b.next()),
            (Some(_), Some(_)) | (None, Some(_)) => joined.extend(a.next()),
            (Some(_), None) => left.extend(b.next()),
            (None, None) => return (joined, left),
        }
    }
}

fn create_account_record_json(record: &CreateAccountRecord) -> Value {
    let mut status = json!({
        "Id": record.request.id,
        "AccountName": record.account_name,
        "State": record.state.as_str(),
        "RequestedTimestamp": epoch(record.request.requested),
    });
    if let Some(completed) = record.completed {
        status["CompletedTimestamp"] = json!(epoch(completed));
    }
    match &record.state {
        CreateAccountState::Succeeded => status["AccountId"] = json!(record.account_id),
        CreateAccountState::Failed(reason) => status["FailureReason"] = json!(reason),
        CreateAccountState::InProgress => {}
    }
    status
}

/// The answer to a change, in AWS's shape, from the state after it.
fn change_response(
    state: &OrganizationState,
    command: &OrgCommand,
    events: &[DomainEvent],
    now: DateTime<Utc>,
) -> Value {
    let created_unit = events.iter().find_map(|e| match e {
        DomainEvent::OrganizationalUnitCreated(e) | DomainEvent::OrganizationalUnitRenamed(e) => Some(&e.unit),
        _ => None,
    });
    let changed_policy = events.iter().find_map(|e| match e {
        DomainEvent::OrganizationPolicyCreated(e) | DomainEvent::OrganizationPolicyUpdated(e) => Some(&e.policy),
        _ => None,
    });
    match command {
        OrgCommand::CreateOrganizationalUnit { .. } => {
            json!({ "OrganizationalUnit": created_unit.map(unit_json) })
        }
        OrgCommand::UpdateOrganizationalUnit {
            organizational_unit_id, ..
        } => json!({ "OrganizationalUnit": state.unit(organizational_unit_id).map(unit_json) }),
        OrgCommand::CreatePolicy { .. } => json!({ "Policy": changed_policy.map(policy_json) }),
        OrgCommand::UpdatePolicy { policy_id, .. } => json!({ "Policy": state.policy(policy_id).map(policy_json) }),
        OrgCommand::EnablePolicyType { .. } | OrgCommand::DisablePolicyType { .. } => {
            json!({ "Root": root_json(state) })
        }
        OrgCommand::InviteAccount { target_account_id, .. } => {
            let handshake = events
                .iter()
                .find_map(|e| match e {
                    DomainEvent::OrganizationHandshakeOpened(e) => Some(handshake_json(state, &e.handshake, now)),
                    _ => None,
                })
                .or_else(|| {
                    state
                        .handshakes()
                        .find(|h| &h.target_account_id == target_account_id)
                        .map(|h| handshake_json(state, h, now))
                });
            json!({ "Handshake": handshake })
        }
        OrgCommand::CancelHandshake { handshake_id } => {
            json!({ "Handshake": state.handshake(handshake_id).map(|h| handshake_json(state, h, now)) })
        }
        _ => json!({}),
    }
}

#[cfg(test)]
#[path = "organizations_resume_tests.rs"]
mod resume_tests;
