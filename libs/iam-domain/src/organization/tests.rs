//! Tests of the organization aggregate: AWS Organizations' rules, each driven the way the
//! application runs them, `decide_organization` and then `evolve_organization` on what it decided.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use iam_types::ErrorCode;

use super::decide::check_policy_content;
use super::*;
use crate::decide::DecideContext;
use crate::error::DomainError;
use crate::event::DomainEvent;

const MANAGEMENT: &str = "111111111111";
const MEMBER: &str = "222222222222";
const OTHER: &str = "333333333333";
const STANDALONE: &str = "444444444444";
const FULL: &str = "p-FullAWSAccess";
const RCP_FULL: &str = "p-RCPFullAWSAccess";
const GATEHOUSE: &str = "gatehouse.amazonaws.com";
const NO_OU: &str = "ou-zzzz-00000000";
const SCP: OrgPolicyType = OrgPolicyType::ServiceControlPolicy;
const RCP: OrgPolicyType = OrgPolicyType::ResourceControlPolicy;
const TAG: OrgPolicyType = OrgPolicyType::TagPolicy;
const DENY_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
const DENY_EC2: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}]}"#;
const SCP_WITH_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
const SCP_WITHOUT_RESOURCE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket"}]}"#;
const SCP_WITHOUT_VERSION: &str = r#"{"Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
const RCP_DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
const TAG_POLICY: &str = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"}}}}"#;

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

/// Random-looking bytes from a counter (splitmix64): every call draws different ids.
fn id_bytes(n: u64) -> [u8; 16] {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

/// Whether `text` is `prefix` and then `len` lowercase letters or digits.
fn shaped(text: &str, prefix: &str, len: usize) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == len && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Decides `command` and applies what was decided: the state after it, and the events.
fn decide_and_apply(
    state: &OrganizationState,
    command: &OrgCommand,
    ctx: &DecideContext,
) -> Result<(OrganizationState, Vec<DomainEvent>), DomainError> {
    let events = decide_organization(state, command, ctx)?;
    let mut next = state.clone();
    for event in &events {
        evolve_organization(&mut next, event);
    }
    Ok((next, events))
}

/// An organization's stream under test, with a clock that ticks a second per command.
struct Org {
    state: OrganizationState,
    events: Vec<DomainEvent>,
    calls: u64,
    clock: i64,
}

impl Org {
    /// A stream with no organization yet.
    fn empty() -> Self {
        Org {
            state: OrganizationState::new(),
            events: Vec::new(),
            calls: 0,
            clock: 0,
        }
    }

    /// An organization whose management account is `MANAGEMENT`.
    fn new() -> Self {
        let mut org = Org::empty();
        org.ok(create(MANAGEMENT));
        org
    }

    fn ctx(&mut self) -> DecideContext {
        self.calls += 1;
        self.clock += 1;
        DecideContext::new(
            time(self.clock),
            id_bytes(self.calls),
            format!("arn:aws:iam::{MANAGEMENT}:root"),
        )
    }

    fn now(&self) -> DateTime<Utc> {
        time(self.clock)
    }

    fn pass(&mut self, duration: Duration) {
        self.clock += duration.num_seconds();
    }

    /// Runs a command that must be accepted; returns its events.
    fn ok(&mut self, command: OrgCommand) -> Vec<DomainEvent> {
        let ctx = self.ctx();
        let before = self.state.version();
        let (next, events) =
            decide_and_apply(&self.state, &command, &ctx).unwrap_or_else(|e| panic!("{command:?}: {e:?}"));
        assert_eq!(next.version(), before + events.len() as u64, "one version per event");
        self.state = next;
        self.events.extend(events.iter().cloned());
        events
    }

    /// Runs a command that must be refused; returns the refusal.
    fn refusal(&mut self, command: OrgCommand) -> DomainError {
        let ctx = self.ctx();
        match decide_and_apply(&self.state, &command, &ctx) {
            Ok((_, events)) => panic!("{command:?}: expected a refusal, got {events:?}"),
            Err(e) => e,
        }
    }

    /// The error code a command is refused with.
    fn err(&mut self, command: OrgCommand) -> ErrorCode {
        self.refusal(command).code()
    }

    fn info(&self) -> OrganizationInfo {
        self.state.info().unwrap().clone()
    }

    fn root(&self) -> String {
        self.state.root().unwrap().id.clone()
    }

    fn ou(&mut self, parent: &str, name: &str) -> String {
        match self.ok(create_ou(parent, name)).as_slice() {
            [DomainEvent::OrganizationalUnitCreated(e)] => e.unit.id.clone(),
            other => panic!("expected one unit.created, got {other:?}"),
        }
    }

    fn account(&mut self, id: &str, parent: Option<&str>) {
        self.ok(add_account(id, parent));
    }

    fn policy_of(&mut self, policy_type: OrgPolicyType, name: &str, content: &str) -> String {
        match self.ok(create_policy_of(policy_type, name, content)).as_slice() {
            [DomainEvent::OrganizationPolicyCreated(e)] => e.policy.id.clone(),
            other => panic!("expected one policy.created, got {other:?}"),
        }
    }

    fn policy(&mut self, name: &str, content: &str) -> String {
        self.policy_of(SCP, name, content)
    }

    fn invite(&mut self, account: &str) -> Handshake {
        match self.ok(invite(account)).as_slice() {
            [DomainEvent::OrganizationHandshakeOpened(e)] => e.handshake.clone(),
            other => panic!("expected one handshake.opened, got {other:?}"),
        }
    }

    fn enable(&mut self, policy_type: OrgPolicyType) {
        let root = self.root();
        self.ok(enable(&root, policy_type));
    }

    /// The ids of a node's policies of one type, in order.
    fn attached(&self, target: &str, policy_type: OrgPolicyType) -> Vec<String> {
        let mut ids: Vec<String> = self
            .state
            .policies_for_target(target, Some(policy_type))
            .into_iter()
            .map(|p| p.id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn targets(&self, policy: &str) -> BTreeSet<String> {
        self.state
            .targets_for_policy(policy)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

// ---- commands -------------------------------------------------------------------------------

fn create(management: &str) -> OrgCommand {
    OrgCommand::CreateOrganization {
        management_account_id: management.into(),
        management_account_email: "admin@example.com".into(),
        feature_set: None,
    }
}

fn create_with_features(feature_set: &str) -> OrgCommand {
    OrgCommand::CreateOrganization {
        management_account_id: MANAGEMENT.into(),
        management_account_email: "admin@example.com".into(),
        feature_set: Some(feature_set.into()),
    }
}

fn create_ou(parent: &str, name: &str) -> OrgCommand {
    OrgCommand::CreateOrganizationalUnit {
        parent_id: parent.into(),
        name: name.into(),
    }
}

fn rename_ou(id: &str, name: &str) -> OrgCommand {
    OrgCommand::UpdateOrganizationalUnit {
        organizational_unit_id: id.into(),
        name: name.into(),
    }
}

fn delete_ou(id: &str) -> OrgCommand {
    OrgCommand::DeleteOrganizationalUnit {
        organizational_unit_id: id.into(),
    }
}

fn add_account(id: &str, parent: Option<&str>) -> OrgCommand {
    OrgCommand::AddCreatedAccount {
        account_id: id.into(),
        account_name: format!("account-{id}"),
        email: format!("aws+{id}@example.com"),
        parent_id: parent.map(str::to_owned),
        request: None,
    }
}

fn start_create(id: &str, request_id: &str, parent: Option<&str>) -> OrgCommand {
    OrgCommand::StartCreateAccount {
        account_id: id.into(),
        account_name: format!("account-{id}"),
        email: format!("aws+{id}@example.com"),
        parent_id: parent.map(str::to_owned),
        role_name: "OrganizationAccountAccessRole".into(),
        request: Some(CreateAccountRequest {
            id: request_id.into(),
            requested: time(0),
        }),
    }
}

fn finish_create(id: &str, request_id: &str, parent: Option<&str>) -> OrgCommand {
    OrgCommand::AddCreatedAccount {
        account_id: id.into(),
        account_name: format!("account-{id}"),
        email: format!("aws+{id}@example.com"),
        parent_id: parent.map(str::to_owned),
        request: Some(CreateAccountRequest {
            id: request_id.into(),
            requested: time(0),
        }),
    }
}

fn invite_from(account: &str, in_other_organization: bool) -> OrgCommand {
    OrgCommand::InviteAccount {
        target_account_id: account.into(),
        notes: Some("welcome".into()),
        target_in_other_organization: in_other_organization,
    }
}

fn invite(account: &str) -> OrgCommand {
    invite_from(account, false)
}

fn accept_from(handshake: &str, caller: &str, in_other_organization: bool) -> OrgCommand {
    OrgCommand::AcceptHandshake {
        handshake_id: handshake.into(),
        caller_account_id: caller.into(),
        account_name: format!("invited-{caller}"),
        in_other_organization,
    }
}

fn accept(handshake: &str, caller: &str) -> OrgCommand {
    accept_from(handshake, caller, false)
}

fn decline(handshake: &str, caller: &str) -> OrgCommand {
    OrgCommand::DeclineHandshake {
        handshake_id: handshake.into(),
        caller_account_id: caller.into(),
    }
}

fn cancel(handshake: &str) -> OrgCommand {
    OrgCommand::CancelHandshake {
        handshake_id: handshake.into(),
    }
}

fn move_account(account: &str, source: &str, destination: &str) -> OrgCommand {
    OrgCommand::MoveAccount {
        account_id: account.into(),
        source_parent_id: source.into(),
        destination_parent_id: destination.into(),
    }
}

fn remove(account: &str) -> OrgCommand {
    OrgCommand::RemoveAccount {
        account_id: account.into(),
    }
}

fn leave(account: &str) -> OrgCommand {
    OrgCommand::LeaveOrganization {
        account_id: account.into(),
    }
}

fn close(account: &str) -> OrgCommand {
    OrgCommand::CloseAccount {
        account_id: account.into(),
    }
}

fn create_policy_of(policy_type: OrgPolicyType, name: &str, content: &str) -> OrgCommand {
    OrgCommand::CreatePolicy {
        name: name.into(),
        description: format!("{name}, for tests"),
        policy_type,
        content: content.into(),
    }
}

fn create_policy(name: &str, content: &str) -> OrgCommand {
    create_policy_of(SCP, name, content)
}

fn update_policy(id: &str, name: Option<&str>, description: Option<&str>, content: Option<&str>) -> OrgCommand {
    OrgCommand::UpdatePolicy {
        policy_id: id.into(),
        name: name.map(str::to_owned),
        description: description.map(str::to_owned),
        content: content.map(str::to_owned),
    }
}

fn delete_policy(id: &str) -> OrgCommand {
    OrgCommand::DeletePolicy { policy_id: id.into() }
}

fn attach(policy: &str, target: &str) -> OrgCommand {
    OrgCommand::AttachPolicy {
        policy_id: policy.into(),
        target_id: target.into(),
    }
}

fn detach(policy: &str, target: &str) -> OrgCommand {
    OrgCommand::DetachPolicy {
        policy_id: policy.into(),
        target_id: target.into(),
    }
}

fn enable(root: &str, policy_type: OrgPolicyType) -> OrgCommand {
    OrgCommand::EnablePolicyType {
        root_id: root.into(),
        policy_type,
    }
}

fn disable(root: &str, policy_type: OrgPolicyType) -> OrgCommand {
    OrgCommand::DisablePolicyType {
        root_id: root.into(),
        policy_type,
    }
}

fn register(account: &str, service: &str) -> OrgCommand {
    OrgCommand::RegisterDelegatedAdministrator {
        account_id: account.into(),
        service_principal: service.into(),
    }
}

fn deregister(account: &str, service: &str) -> OrgCommand {
    OrgCommand::DeregisterDelegatedAdministrator {
        account_id: account.into(),
        service_principal: service.into(),
    }
}

/// One command of every kind but `CreateOrganization`.
fn every_command_but_create(root: &str, ou: &str, policy: &str, handshake: &str) -> Vec<OrgCommand> {
    vec![
        OrgCommand::DeleteOrganization {},
        create_ou(root, "engineering"),
        rename_ou(ou, "platform"),
        delete_ou(ou),
        add_account(MEMBER, None),
        invite(STANDALONE),
        accept(handshake, STANDALONE),
        decline(handshake, STANDALONE),
        cancel(handshake),
        move_account(MANAGEMENT, root, ou),
        remove(MEMBER),
        leave(MEMBER),
        close(MEMBER),
        create_policy("deny-s3", DENY_S3),
        update_policy(policy, Some("renamed"), None, None),
        delete_policy(policy),
        attach(policy, root),
        detach(policy, root),
        enable(root, SCP),
        disable(root, SCP),
        register(MEMBER, GATEHOUSE),
        deregister(MEMBER, GATEHOUSE),
    ]
}

/// A document of exactly `chars` characters: `DENY_S3` with white space after its first brace.
fn padded(chars: usize) -> String {
    format!("{{{}{}", " ".repeat(chars - DENY_S3.len()), &DENY_S3[1..])
}

// ---- the organization -----------------------------------------------------------------------

#[test]
fn create_organization_draws_aws_shaped_ids_and_makes_the_caller_the_management_account() {
    let o = Org::new();
    let info = o.info();
    assert!(shaped(&info.id, "o-", 10), "{}", info.id);
    assert!(is_organization_id(&info.id));
    assert_eq!(
        info.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:organization/{}", info.id)
    );
    assert_eq!(info.management_account_id, MANAGEMENT);
    assert_eq!(info.management_account_email, "admin@example.com");
    assert_eq!(info.feature_set, "ALL");
    assert_eq!(info.created, time(1));

    let root = o.state.root().unwrap();
    assert!(shaped(&root.id, "r-", 4), "{}", root.id);
    assert_eq!(
        root.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:root/{}/{}", info.id, root.id)
    );
    assert_eq!(root.name, "Root");
    assert!(root.enabled_policy_types.is_empty());
    assert_eq!(o.state.target_kind(&root.id), Some(TargetKind::Root));

    let management = o.state.account(MANAGEMENT).unwrap();
    assert_eq!(management.parent_id, root.id);
    assert_eq!(management.status, MemberStatus::Active);
    assert_eq!(management.joined_method, JoinedMethod::Created);
    assert_eq!(
        management.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:account/{}/{MANAGEMENT}", info.id)
    );
    assert_eq!(o.state.accounts().count(), 1);
    assert_eq!(o.state.version(), 1);

    // The AWS-managed policies exist from the start, attached nowhere until their type is enabled.
    for id in [FULL, RCP_FULL] {
        let policy = o.state.policy(id).unwrap();
        assert!(policy.aws_managed);
        assert!(o.state.targets_for_policy(id).is_empty());
    }
    assert_eq!(
        o.state.policy(FULL).unwrap().arn,
        "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    );
}

#[test]
fn an_organization_is_created_once_and_only_with_all_features() {
    let mut o = Org::new();
    assert_eq!(o.err(create(MANAGEMENT)), ErrorCode::AlreadyInOrganizationException);
    assert_eq!(o.err(create(OTHER)), ErrorCode::AlreadyInOrganizationException);

    let mut fresh = Org::empty();
    assert_eq!(
        fresh.err(create_with_features("CONSOLIDATED_BILLING")),
        ErrorCode::InvalidInputException
    );
    assert_eq!(fresh.state.version(), 0);
    fresh.ok(create_with_features("ALL"));
    assert_eq!(fresh.info().feature_set, "ALL");
    // Other random bytes, other ids.
    assert_ne!(fresh.info().id, o.info().id);
    assert_ne!(fresh.root(), o.root());
}

#[test]
fn nothing_but_create_organization_works_before_there_is_one() {
    let mut o = Org::empty();
    for command in every_command_but_create("r-ab12", "ou-ab12-cd34ef56", "p-a1b2c3d4", "h-a1b2c3d4e5") {
        let label = format!("{command:?}");
        assert_eq!(o.err(command), ErrorCode::AwsOrganizationsNotInUseException, "{label}");
    }
    assert_eq!(o.state, OrganizationState::new());
}

#[test]
fn an_organization_is_deleted_only_without_members_and_then_refuses_everything() {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    let policy = o.policy("deny-s3", DENY_S3);
    o.account(MEMBER, Some(&eng));
    let handshake = o.invite(STANDALONE);
    assert_eq!(
        o.err(OrgCommand::DeleteOrganization {}),
        ErrorCode::OrganizationNotEmptyException
    );

    o.ok(remove(MEMBER));
    let events = o.ok(OrgCommand::DeleteOrganization {});
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationDeleted(e)] if e.deleted == o.now()));
    assert!(o.state.is_deleted());
    assert!(o.state.info().is_none());
    assert!(o.state.root().is_none());
    assert!(o.state.account(MANAGEMENT).is_none());
    assert!(o.state.unit(&eng).is_none());
    assert_eq!(o.state.target_kind(&root), None);
    assert_eq!(o.state.org_path(MANAGEMENT), None);

    for command in every_command_but_create(&root, &eng, &policy, &handshake.id) {
        let label = format!("{command:?}");
        assert_eq!(o.err(command), ErrorCode::AwsOrganizationsNotInUseException, "{label}");
    }
    // A new organization is a new stream with a new id; this one stays spent.
    assert_eq!(o.err(create(MANAGEMENT)), ErrorCode::AlreadyInOrganizationException);
}

// ---- organizational units -------------------------------------------------------------------

#[test]
fn ous_nest_five_levels_below_the_root_and_no_deeper() {
    let mut o = Org::new();
    let (org, root) = (o.info().id, o.root());
    let mut chain: Vec<String> = Vec::new();
    let mut parent = root.clone();
    for level in 1..=org_quota::MAX_OU_DEPTH {
        let ou = o.ou(&parent, &format!("level-{level}"));
        assert_eq!(o.state.depth_of(&ou), level);
        chain.push(ou.clone());
        parent = ou;
    }
    let deepest = chain[4].clone();
    let refusal = o.refusal(create_ou(&deepest, "level-6"));
    assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
    assert!(refusal.message().contains("OU_DEPTH_LIMIT_EXCEEDED"), "{refusal}");

    // An account may live in the deepest OU: it is not an OU level itself.
    o.account(MEMBER, Some(&deepest));
    assert_eq!(o.state.depth_of(MEMBER), 5);
    assert_eq!(o.state.depth_of(&root), 0);
    assert_eq!(o.state.depth_of(MANAGEMENT), 0);

    let mut expected: Vec<&str> = vec![&root];
    expected.extend(chain.iter().map(String::as_str));
    expected.push(MEMBER);
    assert_eq!(o.state.path_to(MEMBER), expected);
    assert_eq!(o.state.path_to(&chain[1]), [&root, &chain[0], &chain[1]]);
    assert_eq!(o.state.path_to(&root), [&root]);
    assert_eq!(o.state.path_to(MANAGEMENT), [root.as_str(), MANAGEMENT]);
    assert!(o.state.path_to(NO_OU).is_empty());
    assert!(o.state.path_to(STANDALONE).is_empty());

    assert_eq!(
        o.state.org_path(MEMBER).unwrap(),
        format!("{org}/{root}/{}/", chain.join("/"))
    );
    assert_eq!(o.state.org_path(MANAGEMENT).unwrap(), format!("{org}/{root}/"));
    assert_eq!(o.state.org_path(STANDALONE), None, "a non-member has no path");

    let (units, accounts) = o.state.children_of(&root);
    assert_eq!(units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [&chain[0]]);
    assert_eq!(accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [MANAGEMENT]);
    let (units, accounts) = o.state.children_of(&chain[3]);
    assert_eq!(units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [&deepest]);
    assert!(accounts.is_empty());
    let (units, accounts) = o.state.children_of(&deepest);
    assert!(units.is_empty());
    assert_eq!(accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [MEMBER]);
}

#[test]
fn ou_ids_and_arns_are_shaped_like_aws() {
    let mut o = Org::new();
    let (org, root) = (o.info().id, o.root());
    let eng = o.ou(&root, "engineering");
    let team = o.ou(&eng, "team");
    assert_ne!(eng, team);
    for id in [&eng, &team] {
        let rest = id
            .strip_prefix(&format!("ou-{}-", &root[2..]))
            .unwrap_or_else(|| panic!("{id}"));
        assert!(shaped(&format!("x{rest}"), "x", 8), "{id}");
        assert_eq!(o.state.target_kind(id), Some(TargetKind::OrganizationalUnit));
    }
    let unit = o.state.unit(&team).unwrap();
    assert_eq!(unit.arn, format!("arn:aws:organizations::{MANAGEMENT}:ou/{org}/{team}"));
    assert_eq!(unit.parent_id, eng);
    assert_eq!(unit.name, "team");
    assert_eq!(o.state.parent_of(&team), Some(eng.as_str()));
    assert_eq!(
        o.state.target_name_and_arn(&team),
        Some(("team".to_owned(), unit.arn.clone()))
    );
}

#[test]
fn ou_names_are_unique_among_siblings_only() {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    assert_eq!(
        o.err(create_ou(&root, "engineering")),
        ErrorCode::DuplicateOrganizationalUnitException
    );
    o.ou(&eng, "engineering"); // the same name one level down
    let ops = o.ou(&root, "operations");
    assert_eq!(
        o.err(rename_ou(&ops, "engineering")),
        ErrorCode::DuplicateOrganizationalUnitException
    );
    assert!(
        o.ok(rename_ou(&ops, "operations")).is_empty(),
        "renaming to its own name changes nothing"
    );

    let events = o.ok(rename_ou(&ops, "platform"));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationalUnitRenamed(e)] if e.unit.name == "platform"));
    let unit = o.state.unit(&ops).unwrap();
    assert_eq!(
        (unit.name.as_str(), unit.parent_id.as_str()),
        ("platform", root.as_str())
    );
    o.ou(&root, "operations"); // the old name is free again

    assert_eq!(o.err(create_ou(NO_OU, "x")), ErrorCode::ParentNotFoundException);
    assert_eq!(
        o.err(create_ou(MANAGEMENT, "x")),
        ErrorCode::ParentNotFoundException,
        "an account is no parent"
    );
    assert_eq!(o.err(create_ou(&root, "")), ErrorCode::InvalidInputException);
    assert_eq!(
        o.err(create_ou(&root, &"n".repeat(129))),
        ErrorCode::InvalidInputException
    );
    assert_eq!(
        o.err(rename_ou(NO_OU, "x")),
        ErrorCode::OrganizationalUnitNotFoundException
    );
    assert_eq!(
        o.err(rename_ou(&root, "x")),
        ErrorCode::OrganizationalUnitNotFoundException
    );
}

#[test]
fn only_empty_ous_are_deleted() {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    let team = o.ou(&eng, "team");
    assert_eq!(o.err(delete_ou(&eng)), ErrorCode::OrganizationalUnitNotEmptyException);
    o.account(MEMBER, Some(&team));
    assert_eq!(o.err(delete_ou(&team)), ErrorCode::OrganizationalUnitNotEmptyException);

    o.ok(move_account(MEMBER, &team, &root));
    o.ok(delete_ou(&team));
    o.ok(delete_ou(&eng));
    assert!(o.state.unit(&eng).is_none());
    assert_eq!(o.state.units().count(), 0);
    assert_eq!(o.err(delete_ou(&eng)), ErrorCode::OrganizationalUnitNotFoundException);
    assert_eq!(o.err(delete_ou(&root)), ErrorCode::OrganizationalUnitNotFoundException);
}

// ---- accounts -------------------------------------------------------------------------------

#[test]
fn created_accounts_join_once_under_the_root_or_an_ou() {
    let mut o = Org::new();
    let (org, root) = (o.info().id, o.root());
    let eng = o.ou(&root, "engineering");
    let events = o.ok(add_account(MEMBER, None));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationAccountJoined(e)] if e.handshake_id.is_none()));
    let member = o.state.account(MEMBER).unwrap().clone();
    assert_eq!(member.parent_id, root);
    assert_eq!(member.status, MemberStatus::Active);
    assert_eq!(member.joined_method, JoinedMethod::Created);
    assert_eq!(member.name, format!("account-{MEMBER}"));
    assert_eq!(member.email, format!("aws+{MEMBER}@example.com"));
    assert_eq!(
        member.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:account/{org}/{MEMBER}")
    );
    assert_eq!(o.state.target_kind(MEMBER), Some(TargetKind::Account));

    // The second half of CreateAccount may be retried: a member joins once.
    let version = o.state.version();
    assert!(o.ok(add_account(MEMBER, Some(&eng))).is_empty());
    assert_eq!(o.state.version(), version);
    assert_eq!(o.state.account(MEMBER), Some(&member));

    o.account(OTHER, Some(&eng));
    assert_eq!(o.state.parent_of(OTHER), Some(eng.as_str()));
    assert_eq!(
        o.err(add_account(STANDALONE, Some(NO_OU))),
        ErrorCode::ParentNotFoundException
    );
    let nameless = OrgCommand::AddCreatedAccount {
        account_id: STANDALONE.into(),
        account_name: String::new(),
        email: "x@example.com".into(),
        parent_id: None,
        request: None,
    };
    assert_eq!(o.err(nameless), ErrorCode::InvalidInputException);
}

#[test]
fn moving_an_account_names_where_it_is_and_where_it_goes() {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    let ops = o.ou(&root, "operations");
    o.account(MEMBER, None);

    assert_eq!(
        o.err(move_account(MEMBER, &eng, &ops)),
        ErrorCode::AccountNotFoundException,
        "not in eng"
    );
    assert_eq!(
        o.err(move_account(MEMBER, NO_OU, &ops)),
        ErrorCode::SourceParentNotFoundException
    );
    assert_eq!(
        o.err(move_account(MEMBER, &root, NO_OU)),
        ErrorCode::DestinationParentNotFoundException
    );
    assert_eq!(
        o.err(move_account(MEMBER, &root, OTHER)),
        ErrorCode::DestinationParentNotFoundException
    );
    assert_eq!(
        o.err(move_account(STANDALONE, &root, &eng)),
        ErrorCode::AccountNotFoundException
    );
    assert_eq!(
        o.err(move_account(MEMBER, &root, &root)),
        ErrorCode::DuplicateAccountException
    );

    let events = o.ok(move_account(MEMBER, &root, &eng));
    assert_eq!(
        events,
        [DomainEvent::OrganizationAccountMoved(AccountMoved {
            account_id: MEMBER.into(),
            source_parent_id: root.clone(),
            destination_parent_id: eng.clone(),
        })]
    );
    assert_eq!(o.state.parent_of(MEMBER), Some(eng.as_str()));
    o.ok(move_account(MEMBER, &eng, &ops));
    assert_eq!(o.state.parent_of(MEMBER), Some(ops.as_str()));
    // The management account may sit in an OU too.
    o.ok(move_account(MANAGEMENT, &root, &ops));
    assert_eq!(o.state.parent_of(MANAGEMENT), Some(ops.as_str()));
}

#[test]
fn members_leave_or_are_removed_but_the_management_account_stays() {
    let mut o = Org::new();
    o.account(MEMBER, None);
    o.account(OTHER, None);
    assert_eq!(o.err(remove(MANAGEMENT)), ErrorCode::ConstraintViolationException);
    assert_eq!(o.err(leave(MANAGEMENT)), ErrorCode::ConstraintViolationException);
    assert_eq!(o.err(remove(STANDALONE)), ErrorCode::AccountNotFoundException);

    let events = o.ok(remove(MEMBER));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationAccountRemoved(e)] if e.account_id == MEMBER && !e.left)
    );
    assert!(o.state.account(MEMBER).is_none());
    assert_eq!(o.state.target_kind(MEMBER), None);

    let events = o.ok(leave(OTHER));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationAccountRemoved(e)] if e.account_id == OTHER && e.left)
    );
    assert_eq!(o.err(leave(OTHER)), ErrorCode::AccountNotFoundException);
    assert_eq!(
        o.state.accounts().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [MANAGEMENT]
    );
    // A former member is a standalone account that may be invited back.
    o.invite(MEMBER);
}

#[test]
fn closing_suspends_an_account_once() {
    let mut o = Org::new();
    o.account(MEMBER, None);
    let events = o.ok(close(MEMBER));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationAccountClosed(e)] if e.account_id == MEMBER && e.closed == o.now())
    );
    let member = o.state.account(MEMBER).unwrap();
    assert_eq!(member.status, MemberStatus::Suspended);
    assert_eq!(member.status.as_str(), "SUSPENDED");
    assert_eq!(o.err(close(MEMBER)), ErrorCode::AccountAlreadyClosedException);
    assert_eq!(o.err(close(MANAGEMENT)), ErrorCode::ConstraintViolationException);
    assert_eq!(o.err(close(STANDALONE)), ErrorCode::AccountNotFoundException);
}

// ---- handshakes -----------------------------------------------------------------------------

#[test]
fn an_invitation_opens_a_handshake_that_only_the_invited_account_accepts() {
    let mut o = Org::new();
    let (org, root) = (o.info().id, o.root());
    let h = o.invite(STANDALONE);
    assert!(shaped(&h.id, "h-", 10), "{}", h.id);
    assert_eq!(
        h.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:handshake/{org}/invite/{}", h.id)
    );
    assert_eq!(h.state, HandshakeState::Open);
    assert_eq!(h.state_at(o.now()), "OPEN");
    assert_eq!(h.target_account_id, STANDALONE);
    assert_eq!(h.notes.as_deref(), Some("welcome"));
    assert_eq!(h.expiration - h.requested, Duration::days(15));
    assert_eq!(o.state.handshake(&h.id), Some(&h));

    assert_eq!(o.err(invite(STANDALONE)), ErrorCode::DuplicateHandshakeException);
    assert_eq!(o.err(accept(&h.id, OTHER)), ErrorCode::HandshakeNotFoundException);
    assert_eq!(o.err(decline(&h.id, OTHER)), ErrorCode::HandshakeNotFoundException);
    assert_eq!(
        o.err(accept("h-0000000000", STANDALONE)),
        ErrorCode::HandshakeNotFoundException
    );

    let events = o.ok(accept(&h.id, STANDALONE));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationAccountJoined(e)] if e.handshake_id.as_deref() == Some(h.id.as_str()))
    );
    let joined = o.state.account(STANDALONE).unwrap();
    assert_eq!(joined.joined_method, JoinedMethod::Invited);
    assert_eq!(joined.joined_method.as_str(), "INVITED");
    assert_eq!(joined.status, MemberStatus::Active);
    assert_eq!(joined.parent_id, root);
    assert_eq!(joined.name, format!("invited-{STANDALONE}"));
    assert_eq!(
        joined.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:account/{org}/{STANDALONE}")
    );
    let accepted = o.state.handshake(&h.id).unwrap();
    assert_eq!(accepted.state, HandshakeState::Accepted);
    assert_eq!(
        accepted.state_at(o.now() + Duration::days(30)),
        "ACCEPTED",
        "an accepted one never lapses"
    );

    assert_eq!(
        o.err(accept(&h.id, STANDALONE)),
        ErrorCode::InvalidHandshakeTransitionException
    );
    assert_eq!(o.err(invite(STANDALONE)), ErrorCode::DuplicateAccountException);
    assert_eq!(o.err(invite(MANAGEMENT)), ErrorCode::DuplicateAccountException);
}

#[test]
fn invitations_are_declined_canceled_or_lapse() {
    let mut o = Org::new();
    let h1 = o.invite(MEMBER);
    let events = o.ok(decline(&h1.id, MEMBER));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationHandshakeDeclined(e)] if e.handshake_id == h1.id));
    assert_eq!(o.state.handshake(&h1.id).unwrap().state_at(o.now()), "DECLINED");
    assert_eq!(o.err(cancel(&h1.id)), ErrorCode::InvalidHandshakeTransitionException);
    assert_eq!(
        o.err(accept(&h1.id, MEMBER)),
        ErrorCode::InvalidHandshakeTransitionException
    );

    // A declined invitation no longer blocks another.
    let h2 = o.invite(MEMBER);
    let events = o.ok(cancel(&h2.id));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationHandshakeCanceled(e)] if e.handshake_id == h2.id));
    assert_eq!(o.state.handshake(&h2.id).unwrap().state, HandshakeState::Canceled);
    assert_eq!(
        o.err(accept(&h2.id, MEMBER)),
        ErrorCode::InvalidHandshakeTransitionException
    );
    assert_eq!(
        o.err(decline(&h2.id, MEMBER)),
        ErrorCode::InvalidHandshakeTransitionException
    );
    assert!(o.state.account(MEMBER).is_none());

    // Fourteen days on it still stands; fifteen days on it has lapsed.
    let h3 = o.invite(OTHER);
    let h4 = o.invite(STANDALONE);
    o.pass(Duration::days(14));
    o.ok(accept(&h3.id, OTHER));
    o.pass(Duration::days(1));
    assert_eq!(o.state.handshake(&h4.id).unwrap().state_at(o.now()), "EXPIRED");
    assert_eq!(
        o.err(accept(&h4.id, STANDALONE)),
        ErrorCode::InvalidHandshakeTransitionException
    );
    assert_eq!(o.err(cancel(&h4.id)), ErrorCode::InvalidHandshakeTransitionException);
    assert!(o.state.account(STANDALONE).is_none());
    // A lapsed invitation no longer blocks another.
    o.invite(STANDALONE);
}

#[test]
fn accounts_in_another_organization_are_neither_invited_nor_joined() {
    let mut o = Org::new();
    assert_eq!(
        o.err(invite_from(STANDALONE, true)),
        ErrorCode::HandshakeConstraintViolationException
    );
    let h = o.invite(STANDALONE);
    let refusal = o.refusal(accept_from(&h.id, STANDALONE, true));
    assert_eq!(refusal.code(), ErrorCode::HandshakeConstraintViolationException);
    assert!(refusal.message().contains("ALREADY_IN_AN_ORGANIZATION"), "{refusal}");
    assert!(o.state.account(STANDALONE).is_none());
    // The invitation stays open for the account to decline.
    o.ok(decline(&h.id, STANDALONE));
}

#[test]
fn at_most_twenty_invitations_are_open_at_once() {
    let mut o = Org::new();
    for n in 0..org_quota::OPEN_HANDSHAKES {
        o.invite(&format!("5000000000{n:02}"));
    }
    assert_eq!(
        o.err(invite("599999999999")),
        ErrorCode::HandshakeConstraintViolationException
    );
    let first = o.state.handshakes().next().unwrap().id.clone();
    o.ok(cancel(&first));
    o.invite("599999999999");
}

// ---- policies -------------------------------------------------------------------------------

#[test]
fn policies_get_aws_shaped_ids_and_names_unique_per_type() {
    let mut o = Org::new();
    let org = o.info().id;
    let id = o.policy("deny-s3", DENY_S3);
    assert!(shaped(&id, "p-", 10), "{id}");
    let policy = o.state.policy(&id).unwrap();
    assert_eq!(
        policy.arn,
        format!("arn:aws:organizations::{MANAGEMENT}:policy/{org}/service_control_policy/{id}")
    );
    assert_eq!(policy.policy_type, SCP);
    assert_eq!(policy.content, DENY_S3);
    assert_eq!(policy.description, "deny-s3, for tests");
    assert!(!policy.aws_managed);
    assert_eq!((policy.revision, policy.version_id().as_str()), (1, "v1"));

    assert_eq!(
        o.err(create_policy("deny-s3", DENY_EC2)),
        ErrorCode::DuplicatePolicyException
    );
    assert_eq!(
        o.err(create_policy("FullAWSAccess", DENY_EC2)),
        ErrorCode::DuplicatePolicyException
    );
    // Names are unique within a type only.
    let rcp = o.policy_of(RCP, "deny-s3", RCP_DENY);
    assert!(o.state.policy(&rcp).unwrap().arn.contains("/resource_control_policy/"));
    o.policy_of(TAG, "cost-center", TAG_POLICY);
    assert_ne!(o.policy("deny-ec2", DENY_EC2), id);
    assert_eq!(o.state.policies_of(SCP).count(), 3, "FullAWSAccess and two of ours");
    assert_eq!(o.err(create_policy("", DENY_S3)), ErrorCode::InvalidInputException);
}

#[test]
fn documents_are_validated_as_their_policy_type() {
    let mut o = Org::new();
    for (content, issue) in [
        (r#"{"Version":"#, "JSON_SYNTAX_ERROR"),
        (SCP_WITH_PRINCIPAL, "SCP_SYNTAX_ERROR_PRINCIPAL"),
        (SCP_WITHOUT_RESOURCE, "MISSING_RESOURCE"),
    ] {
        let refusal = o.refusal(create_policy("bad", content));
        assert_eq!(refusal.code(), ErrorCode::MalformedPolicyDocumentException, "{content}");
        assert!(refusal.message().contains(issue), "{content}: {refusal}");
    }
    // A missing `Version` is only a warning.
    o.policy("no-version", SCP_WITHOUT_VERSION);
    // An RCP names its principals; an SCP may not.
    let refusal = o.refusal(create_policy_of(RCP, "bad", DENY_S3));
    assert_eq!(refusal.code(), ErrorCode::MalformedPolicyDocumentException);
    assert!(refusal.message().contains("MISSING_PRINCIPAL"), "{refusal}");
    assert_eq!(
        o.err(create_policy_of(TAG, "bad", "[]")),
        ErrorCode::MalformedPolicyDocumentException
    );
    // AWS's own documents pass their own checks.
    for managed in &AWS_MANAGED_ORG_POLICIES {
        check_policy_content(managed.policy_type, managed.content).unwrap();
    }
}

#[test]
fn documents_hold_at_most_5120_characters_white_space_included() {
    let mut o = Org::new();
    o.policy("largest", &padded(org_quota::POLICY_DOCUMENT_CHARS));
    let refusal = o.refusal(create_policy(
        "too-large",
        &padded(org_quota::POLICY_DOCUMENT_CHARS + 1),
    ));
    assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
    assert!(refusal.message().contains("POLICY_CONTENT_LIMIT_EXCEEDED"), "{refusal}");
    let id = o.policy("small", DENY_S3);
    assert_eq!(
        o.err(update_policy(&id, None, None, Some(&padded(5_121)))),
        ErrorCode::ConstraintViolationException
    );
    // Tag policies may be larger.
    let tag = |chars: usize| format!("{{{}{}", " ".repeat(chars - TAG_POLICY.len()), &TAG_POLICY[1..]);
    o.policy_of(TAG, "large-tags", &tag(org_quota::TAG_POLICY_DOCUMENT_CHARS));
    assert_eq!(
        o.err(create_policy_of(
            TAG,
            "too-many-tags",
            &tag(org_quota::TAG_POLICY_DOCUMENT_CHARS + 1)
        )),
        ErrorCode::ConstraintViolationException
    );
}

#[test]
fn enabling_a_type_attaches_its_full_access_policy_everywhere_now_and_later() {
    let mut o = Org::new();
    let root = o.root();
    let id = o.policy("deny-s3", DENY_S3);
    assert_eq!(o.err(attach(&id, &root)), ErrorCode::PolicyTypeNotEnabledException);
    assert_eq!(o.err(enable("r-zzzz", SCP)), ErrorCode::RootNotFoundException);
    let eng = o.ou(&root, "engineering");
    o.account(MEMBER, Some(&eng));

    let events = o.ok(enable(&root, SCP));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationPolicyTypeEnabled(e)] if e.policy_type == SCP && e.root_id == root)
    );
    assert!(o.state.policy_type_enabled(SCP));
    assert!(o.state.root().unwrap().enabled_policy_types.contains(&SCP));
    assert_eq!(o.targets(FULL), set(&[&root, &eng, MANAGEMENT, MEMBER]));
    assert_eq!(o.err(enable(&root, SCP)), ErrorCode::PolicyTypeAlreadyEnabledException);

    // OUs and accounts that come later get it as they arrive.
    let ops = o.ou(&eng, "operations");
    o.account(OTHER, Some(&ops));
    let h = o.invite(STANDALONE);
    o.ok(accept(&h.id, STANDALONE));
    for node in [ops.as_str(), OTHER, STANDALONE] {
        assert_eq!(o.attached(node, SCP), [FULL], "{node}");
    }
    // Other types are left alone; a tag policy type has no full-access policy to attach.
    assert!(!o.state.policy_type_enabled(RCP));
    assert!(o.attached(&root, RCP).is_empty());
    o.enable(TAG);
    assert!(o.attached(&root, TAG).is_empty());
    o.enable(RCP);
    assert_eq!(o.targets(RCP_FULL), o.targets(FULL));
    o.ok(attach(&id, &root));
}

#[test]
fn attachments_are_unique_at_most_five_per_target_and_never_fewer_than_one() {
    let mut o = Org::new();
    let root = o.root();
    o.account(MEMBER, None);
    o.enable(SCP);
    let ids: Vec<String> = (0..5).map(|n| o.policy(&format!("deny-{n}"), DENY_S3)).collect();

    let events = o.ok(attach(&ids[0], &root));
    assert_eq!(
        events,
        [DomainEvent::OrganizationPolicyAttached(OrgPolicyAttachment {
            policy_id: ids[0].clone(),
            target_id: root.clone(),
        })]
    );
    assert_eq!(
        o.err(attach(&ids[0], &root)),
        ErrorCode::DuplicatePolicyAttachmentException
    );
    for id in &ids[1..4] {
        o.ok(attach(id, &root));
    }
    assert_eq!(o.attached(&root, SCP).len(), 5, "FullAWSAccess and four of ours");
    let refusal = o.refusal(attach(&ids[4], &root));
    assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
    assert!(refusal.message().contains("POLICY_NUMBER_LIMIT_EXCEEDED"), "{refusal}");
    o.ok(attach(&ids[4], MEMBER)); // the limit is per target

    assert_eq!(o.err(attach(&ids[0], NO_OU)), ErrorCode::TargetNotFoundException);
    assert_eq!(o.err(attach(&ids[0], STANDALONE)), ErrorCode::TargetNotFoundException);
    assert_eq!(o.err(attach("p-00000000", &root)), ErrorCode::PolicyNotFoundException);
    assert_eq!(o.err(detach(&ids[4], &root)), ErrorCode::PolicyNotAttachedException);
    assert_eq!(o.err(detach(&ids[0], NO_OU)), ErrorCode::TargetNotFoundException);

    // Down to the last SCP, which stays.
    for id in [FULL, ids[0].as_str(), ids[1].as_str(), ids[2].as_str()] {
        o.ok(detach(id, &root));
    }
    assert_eq!(o.attached(&root, SCP), [ids[3].clone()]);
    let refusal = o.refusal(detach(&ids[3], &root));
    assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
    assert!(
        refusal.message().contains("MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"),
        "{refusal}"
    );
    assert_eq!(o.err(detach(FULL, MANAGEMENT)), ErrorCode::ConstraintViolationException);
    o.ok(detach(FULL, MEMBER)); // it keeps ids[4]
    assert_eq!(o.attached(MEMBER, SCP), [ids[4].clone()]);

    // Tag policies may all go.
    o.enable(TAG);
    let tag = o.policy_of(TAG, "cost-center", TAG_POLICY);
    o.ok(attach(&tag, &root));
    o.ok(detach(&tag, &root));
    assert!(o.attached(&root, TAG).is_empty());
}

#[test]
fn attached_policies_are_not_deleted() {
    let mut o = Org::new();
    let root = o.root();
    o.account(MEMBER, None);
    o.enable(SCP);
    let id = o.policy("deny-s3", DENY_S3);
    o.ok(attach(&id, MEMBER));
    assert_eq!(o.err(delete_policy(&id)), ErrorCode::PolicyInUseException);
    o.ok(detach(&id, MEMBER));
    let events = o.ok(delete_policy(&id));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationPolicyDeleted(e)] if e.policy_id == id));
    assert!(o.state.policy(&id).is_none());
    assert_eq!(o.err(delete_policy(&id)), ErrorCode::PolicyNotFoundException);

    // Deleting an OU, or removing an account, takes its attachments with it.
    let eng = o.ou(&root, "engineering");
    let other = o.policy("deny-ec2", DENY_EC2);
    o.ok(attach(&other, &eng));
    o.ok(attach(&other, MEMBER));
    o.ok(delete_ou(&eng));
    o.ok(remove(MEMBER));
    assert!(o.targets(&other).is_empty());
    assert!(!o.targets(FULL).contains(MEMBER));
    o.ok(delete_policy(&other));
}

#[test]
fn updates_bump_the_revision_only_when_the_content_changes() {
    let mut o = Org::new();
    let id = o.policy("deny-s3", DENY_S3);
    let events = o.ok(update_policy(&id, Some("deny-s3-deletes"), None, None));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationPolicyUpdated(e)] if e.policy.name == "deny-s3-deletes")
    );
    o.ok(update_policy(&id, None, Some("no bucket deletes"), None));
    let policy = o.state.policy(&id).unwrap();
    assert_eq!(
        (policy.name.as_str(), policy.description.as_str()),
        ("deny-s3-deletes", "no bucket deletes")
    );
    assert_eq!(policy.revision, 1);

    assert!(
        o.ok(update_policy(&id, None, None, Some(DENY_S3))).is_empty(),
        "the same content"
    );
    assert!(
        o.ok(update_policy(&id, Some("deny-s3-deletes"), None, None)).is_empty(),
        "the same name"
    );
    o.ok(update_policy(&id, None, None, Some(DENY_EC2)));
    let policy = o.state.policy(&id).unwrap();
    assert_eq!((policy.revision, policy.version_id().as_str()), (2, "v2"));
    assert_eq!(policy.content, DENY_EC2);
    o.ok(update_policy(&id, None, None, Some(DENY_S3)));
    assert_eq!(o.state.policy(&id).unwrap().revision, 3, "going back is a change too");

    assert_eq!(
        o.err(update_policy(&id, None, None, Some(SCP_WITH_PRINCIPAL))),
        ErrorCode::MalformedPolicyDocumentException
    );
    let other = o.policy("other", DENY_EC2);
    assert_eq!(
        o.err(update_policy(&other, Some("deny-s3-deletes"), None, None)),
        ErrorCode::DuplicatePolicyException
    );
    assert_eq!(
        o.err(update_policy(&other, None, Some(&"d".repeat(513)), None)),
        ErrorCode::InvalidInputException
    );
    assert_eq!(
        o.err(update_policy("p-00000000", Some("x"), None, None)),
        ErrorCode::PolicyNotFoundException
    );
}

#[test]
fn aws_managed_policies_are_never_changed_or_deleted() {
    let mut o = Org::new();
    for id in [FULL, RCP_FULL] {
        assert_eq!(
            o.err(update_policy(id, Some("Mine"), None, None)),
            ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException
        );
        assert_eq!(
            o.err(update_policy(id, None, None, Some(DENY_S3))),
            ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException
        );
        assert_eq!(
            o.err(delete_policy(id)),
            ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException
        );
    }
}

#[test]
fn disabling_a_type_detaches_every_policy_of_that_type() {
    let mut o = Org::new();
    let root = o.root();
    o.account(MEMBER, None);
    o.enable(SCP);
    o.enable(RCP);
    let id = o.policy("deny-s3", DENY_S3);
    o.ok(attach(&id, MEMBER));
    o.ok(attach(&id, &root));

    let events = o.ok(disable(&root, SCP));
    assert!(matches!(events.as_slice(), [DomainEvent::OrganizationPolicyTypeDisabled(e)] if e.policy_type == SCP));
    assert!(!o.state.policy_type_enabled(SCP));
    assert!(o.targets(FULL).is_empty());
    assert!(o.targets(&id).is_empty());
    assert!(o.state.policy(&id).is_some(), "the policies themselves stay");
    assert_eq!(o.targets(RCP_FULL), set(&[&root, MANAGEMENT, MEMBER]));
    assert_eq!(o.err(disable(&root, SCP)), ErrorCode::PolicyTypeNotEnabledException);
    assert_eq!(o.err(disable("r-zzzz", RCP)), ErrorCode::RootNotFoundException);
    assert_eq!(o.err(attach(&id, MEMBER)), ErrorCode::PolicyTypeNotEnabledException);

    // Enabling it again starts over from FullAWSAccess alone.
    o.enable(SCP);
    assert_eq!(o.attached(MEMBER, SCP), [FULL]);
    o.ok(delete_policy(&id));
}

#[test]
fn levels_for_walks_from_the_root_to_the_account() {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    let team = o.ou(&eng, "team");
    o.account(MEMBER, Some(&team));
    assert!(o.state.levels_for(MEMBER, SCP).is_empty(), "the type is not enabled");

    o.enable(SCP);
    let id = o.policy("deny-s3", DENY_S3);
    o.ok(attach(&id, &eng));
    let levels: Vec<(String, Vec<String>)> = o
        .state
        .levels_for(MEMBER, SCP)
        .into_iter()
        .map(|(node, policies)| {
            let mut ids: Vec<String> = policies.iter().map(|p| p.id.clone()).collect();
            ids.sort();
            (node.to_owned(), ids)
        })
        .collect();
    assert_eq!(
        levels,
        [
            (root.clone(), sorted(&[FULL])),
            (eng.clone(), sorted(&[FULL, &id])),
            (team.clone(), sorted(&[FULL])),
            (MEMBER.to_owned(), sorted(&[FULL])),
        ]
    );
    assert!(
        o.state.levels_for(MANAGEMENT, SCP).is_empty(),
        "no SCP restricts the management account"
    );
    assert!(o.state.levels_for(STANDALONE, SCP).is_empty(), "a non-member");
    assert!(o.state.levels_for(MEMBER, RCP).is_empty(), "RCPs are not enabled");

    o.ok(disable(&root, SCP));
    assert!(o.state.levels_for(MEMBER, SCP).is_empty());
}

// ---- delegated administrators ---------------------------------------------------------------

#[test]
fn delegated_administrators_are_members_registered_once_per_service() {
    let mut o = Org::new();
    o.account(MEMBER, None);
    o.account(OTHER, None);
    let events = o.ok(register(MEMBER, GATEHOUSE));
    assert!(
        matches!(events.as_slice(), [DomainEvent::OrganizationDelegatedAdministratorRegistered(e)] if e.account_id == MEMBER && e.service_principal == GATEHOUSE)
    );
    let registered = o.now();
    assert!(o.state.is_delegated_administrator(MEMBER, GATEHOUSE));
    assert!(!o.state.is_delegated_administrator(MEMBER, "securityhub.amazonaws.com"));
    assert_eq!(
        o.err(register(MEMBER, GATEHOUSE)),
        ErrorCode::AccountAlreadyRegisteredException
    );
    o.ok(register(MEMBER, "securityhub.amazonaws.com"));
    let delegates: Vec<&DelegatedAdministrator> = o.state.delegated_administrators().collect();
    assert_eq!(delegates.len(), 1);
    assert_eq!(delegates[0].services.len(), 2);
    assert_eq!(delegates[0].registered, registered, "first registration");

    let refusal = o.refusal(register(MANAGEMENT, GATEHOUSE));
    assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
    assert!(refusal
        .message()
        .contains("CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR"));
    assert_eq!(
        o.err(register(STANDALONE, GATEHOUSE)),
        ErrorCode::AccountNotFoundException
    );
    assert_eq!(o.err(register(OTHER, "")), ErrorCode::InvalidInputException);

    // AWS keeps a delegated administrator in the organization until it is deregistered.
    for command in [remove(MEMBER), leave(MEMBER)] {
        let refusal = o.refusal(command);
        assert_eq!(refusal.code(), ErrorCode::ConstraintViolationException);
        assert!(
            refusal
                .message()
                .contains("CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG"),
            "{refusal}"
        );
    }

    let events = o.ok(deregister(MEMBER, GATEHOUSE));
    assert!(matches!(
        events.as_slice(),
        [DomainEvent::OrganizationDelegatedAdministratorDeregistered(_)]
    ));
    assert!(!o.state.is_delegated_administrator(MEMBER, GATEHOUSE));
    assert!(o.state.is_delegated_administrator(MEMBER, "securityhub.amazonaws.com"));
    assert_eq!(
        o.err(deregister(MEMBER, GATEHOUSE)),
        ErrorCode::AccountNotRegisteredException
    );
    assert_eq!(
        o.err(deregister(OTHER, GATEHOUSE)),
        ErrorCode::AccountNotRegisteredException
    );
    assert_eq!(
        o.err(deregister(STANDALONE, GATEHOUSE)),
        ErrorCode::AccountNotFoundException
    );
    o.ok(deregister(MEMBER, "securityhub.amazonaws.com"));
    assert_eq!(o.state.delegated_administrators().count(), 0);
    o.ok(remove(MEMBER));
}

#[test]
fn create_account_reserves_the_account_then_finishes_or_fails() {
    let mut o = Org::new();
    let root = o.root();
    let ou = o.ou(&root, "payroll");
    o.ok(start_create(MEMBER, "car-1", Some(&ou)));
    let record = o.state.create_request("car-1").unwrap().clone();
    assert_eq!(record.state, CreateAccountState::InProgress);
    assert_eq!((record.account_id.as_str(), record.completed), (MEMBER, None));
    assert!(o.state.account(MEMBER).is_none(), "reserved, not a member");
    // Starting the same request again is a no-op (a retried call).
    assert!(o.ok(start_create(MEMBER, "car-1", Some(&ou))).is_empty());
    // The OU was deleted while the account was being made: it lands under the root.
    o.ok(delete_ou(&ou));
    o.ok(finish_create(MEMBER, "car-1", Some(&ou)));
    assert_eq!(o.state.account(MEMBER).unwrap().parent_id, root);
    let done = o.state.create_request("car-1").unwrap();
    assert_eq!(done.state, CreateAccountState::Succeeded);
    assert!(done.completed.is_some());
    // Finishing twice adds nothing; failing a finished request changes nothing.
    assert!(o.ok(finish_create(MEMBER, "car-1", None)).is_empty());
    let fail = |id: &str| OrgCommand::FailCreateAccount {
        request_id: id.into(),
        reason: "INTERNAL_FAILURE".into(),
    };
    assert!(o.ok(fail("car-1")).is_empty());
    assert_eq!(
        o.err(fail("car-unknown")),
        ErrorCode::CreateAccountStatusNotFoundException
    );
    // Without a live parent a new request is refused before anything is reserved.
    assert_eq!(
        o.err(start_create(OTHER, "car-2", Some("ou-ab12-nonexistent"))),
        ErrorCode::ParentNotFoundException
    );
    o.ok(start_create(OTHER, "car-3", None));
    o.ok(fail("car-3"));
    let failed = o.state.create_request("car-3").unwrap();
    assert_eq!(failed.state, CreateAccountState::Failed("INTERNAL_FAILURE".into()));
    assert!(o.state.account(OTHER).is_none());
    assert_eq!(o.state.create_requests_in_progress().count(), 0);
}

// ---- the stream -----------------------------------------------------------------------------

/// One command of every kind that succeeds, so every `organizations.*` event type is produced.
fn full_scenario() -> Org {
    let mut o = Org::new();
    let root = o.root();
    let eng = o.ou(&root, "engineering");
    o.ok(rename_ou(&eng, "platform"));
    let scratch = o.ou(&root, "scratch");
    o.ok(delete_ou(&scratch));
    o.ok(start_create(MEMBER, "car-member", Some(&eng)));
    o.ok(finish_create(MEMBER, "car-member", Some(&eng)));
    o.ok(start_create("777777777777", "car-failed", None));
    o.ok(OrgCommand::FailCreateAccount {
        request_id: "car-failed".into(),
        reason: "INTERNAL_FAILURE".into(),
    });
    o.account(OTHER, None);
    let h = o.invite(STANDALONE);
    o.ok(accept(&h.id, STANDALONE));
    let declined = o.invite("555555555555");
    o.ok(decline(&declined.id, "555555555555"));
    let canceled = o.invite("666666666666");
    o.ok(cancel(&canceled.id));
    o.ok(move_account(OTHER, &root, &eng));
    o.ok(close(OTHER));
    o.ok(remove(OTHER));
    o.ok(leave(STANDALONE));
    let id = o.policy("deny-s3", DENY_S3);
    o.ok(update_policy(&id, None, None, Some(DENY_EC2)));
    o.enable(SCP);
    o.ok(attach(&id, MEMBER));
    o.ok(detach(&id, MEMBER));
    o.ok(disable(&root, SCP));
    o.ok(delete_policy(&id));
    o.ok(register(MEMBER, GATEHOUSE));
    o.ok(deregister(MEMBER, GATEHOUSE));
    o.ok(remove(MEMBER));
    o.ok(OrgCommand::DeleteOrganization {});
    o
}

#[test]
fn every_organization_event_type_is_produced_and_round_trips_through_json() {
    let o = full_scenario();
    let produced: BTreeSet<&str> = o.events.iter().map(DomainEvent::event_type).collect();
    let org_types: Vec<&str> = DomainEvent::TYPES
        .iter()
        .copied()
        .filter(|t| t.starts_with("organizations."))
        .collect();
    assert_eq!(org_types.len(), 23);
    for name in org_types {
        assert!(produced.contains(name), "the scenario never produced {name}");
    }
    for event in &o.events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(json["type"], event.event_type());
        let back: DomainEvent = serde_json::from_value(json).unwrap();
        assert_eq!(&back, event);
    }
}

#[test]
fn the_version_counts_events_and_replay_rebuilds_the_state() {
    let o = full_scenario();
    assert_eq!(o.state.version(), o.events.len() as u64);
    let mut replayed = OrganizationState::new();
    for (n, event) in o.events.iter().enumerate() {
        evolve_organization(&mut replayed, event);
        assert_eq!(replayed.version(), n as u64 + 1);
    }
    assert_eq!(replayed, o.state);

    // Refusals and no-ops record nothing; an account's events are not the organization's.
    let mut o = Org::new();
    o.account(MEMBER, None);
    let version = o.state.version();
    assert_eq!(version, 2);
    o.err(close(STANDALONE));
    o.ok(add_account(MEMBER, None));
    let mut state = o.state.clone();
    evolve_organization(
        &mut state,
        &DomainEvent::PasswordPolicyDeleted(crate::credentials::PasswordPolicyDeleted {}),
    );
    assert_eq!(state, o.state);
    assert_eq!(o.state.version(), version);
}

#[test]
fn memberships_begin_at_creation_and_joining_and_end_at_removal_and_deletion() {
    let mut org = Org::empty();
    let empty = org.state.clone();
    org.ok(create(MANAGEMENT));
    assert_eq!(
        membership_changes(&empty, &org.state),
        (vec![], vec![MANAGEMENT.to_owned()])
    );
    let created = org.state.clone();
    let handshake = org.invite(MEMBER);
    let invited = org.state.clone();
    assert_eq!(
        membership_changes(&created, &invited),
        (vec![], vec![]),
        "an invitation is not a membership"
    );
    org.ok(accept(&handshake.id, MEMBER));
    assert_eq!(
        membership_changes(&invited, &org.state),
        (vec![], vec![MEMBER.to_owned()])
    );
    let joined = org.state.clone();
    org.ok(remove(MEMBER));
    assert_eq!(
        membership_changes(&joined, &org.state),
        (vec![MEMBER.to_owned()], vec![])
    );
    let removed = org.state.clone();
    org.ok(OrgCommand::DeleteOrganization {});
    assert_eq!(
        membership_changes(&removed, &org.state),
        (vec![MANAGEMENT.to_owned()], vec![])
    );
}
