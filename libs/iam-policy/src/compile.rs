//! Compiling policies into a [`PolicySet`]: statements indexed by the actions they can match.
//!
//! Evaluation cost then grows with the statements whose `Action` can match the request, not with
//! every statement: an exact action (`s3:GetObject`) is one hash lookup, a wildcard within a
//! service (`s3:Get*`) is checked only for that service, and only `*`, wildcard service prefixes
//! and `NotAction` statements are checked for every request.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::condition::CompiledCondition;
use crate::context::{same_bytes, Caller, Context, PrincipalKind};
use crate::error::PolicyError;
use crate::model::{Effect, PrincipalSet, PrincipalType, Statement};
use crate::parse::ParsedPolicy;
use crate::pattern::{Glob, Template};
use crate::span::Span;

/// The kind of policy a statement came from, in AWS's `PolicySourceType` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    /// An inline policy of a user.
    User,
    /// An inline policy of a group.
    Group,
    /// An inline policy of a role.
    Role,
    /// An AWS-managed policy.
    AwsManaged,
    /// A customer-managed policy.
    UserManaged,
    /// A resource-based policy.
    Resource,
    /// An organization's service control policy (SCP).
    ServiceControlPolicy,
    /// An organization's resource control policy (RCP).
    ResourceControlPolicy,
    /// A policy given directly, as in a simulation's input list.
    None,
}

impl PolicyType {
    /// AWS's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::User => "user",
            PolicyType::Group => "group",
            PolicyType::Role => "role",
            PolicyType::AwsManaged => "aws-managed",
            PolicyType::UserManaged => "user-managed",
            PolicyType::Resource => "resource",
            PolicyType::ServiceControlPolicy => "service-control-policy",
            PolicyType::ResourceControlPolicy => "resource-control-policy",
            PolicyType::None => "none",
        }
    }
}

/// Names a policy so decisions can say which statements they rest on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicySource {
    /// An id or ARN of the policy (for a simulation, `PolicyInputList.1` and so on).
    pub id: Arc<str>,
    /// The kind of policy.
    pub policy_type: PolicyType,
    /// The version of a managed policy, when the caller tracks versions.
    pub version_id: Option<Arc<str>>,
}

impl PolicySource {
    /// A source with no version.
    pub fn new(id: impl Into<Arc<str>>, policy_type: PolicyType) -> Self {
        PolicySource {
            id: id.into(),
            policy_type,
            version_id: None,
        }
    }
}

#[derive(Debug, Clone)]
enum ResourcePattern {
    Any,
    Static(Glob),
    Variable(Template),
}

#[derive(Debug, Clone)]
struct ResourceMatcher {
    negated: bool,
    patterns: Vec<ResourcePattern>,
}

impl ResourceMatcher {
    fn matches(&self, resource: &str, context: &Context) -> bool {
        let any = self.patterns.iter().any(|pattern| match pattern {
            ResourcePattern::Any => true,
            ResourcePattern::Static(glob) => glob.matches(resource),
            // A variable without a value makes this entry match nothing.
            ResourcePattern::Variable(template) => template.matches_glob(resource, context) == Some(true),
        });
        any != self.negated
    }
}

/// A compiled `Action`/`NotAction` list over lowercased actions. Long lists (AWS's region SCP
/// names 45 global services in its `NotAction`) are matched by one lookup of the action's
/// service, not pattern by pattern; short lists are scanned.
#[derive(Debug, Clone, Default)]
struct ActionMatcher {
    /// A `*` entry: every action.
    any: bool,
    /// Lowercased service -> what the entries naming it cover (for a long list).
    services: FxHashMap<Box<str>, ServiceActions>,
    /// Entries whose service has a wildcard, and every entry of a short list.
    globs: Vec<Glob>,
}

/// The entries of an action list that name one service.
#[derive(Debug, Clone, Default)]
struct ServiceActions {
    /// `service:*`.
    all: bool,
    /// Lowercased action names without wildcards (the part after `service:`).
    names: Vec<Box<str>>,
    /// The other action-name patterns (`Get*`), over the part after `service:`.
    globs: Vec<Glob>,
}

impl ServiceActions {
    fn matches(&self, name: &str) -> bool {
        self.all
            || self
                .names
                .iter()
                .any(|known| same_bytes(known.as_bytes(), name.as_bytes()))
            || self.globs.iter().any(|glob| glob.matches(name))
    }
}

/// Up to this many entries are scanned rather than looked up by service.
const SCANNED_ACTIONS: usize = 3;

impl ActionMatcher {
    fn new(patterns: &[String]) -> Self {
        let mut matcher = ActionMatcher::default();
        let by_service = patterns.len() > SCANNED_ACTIONS;
        for pattern in patterns.iter().map(|p| p.to_ascii_lowercase()) {
            if pattern == "*" {
                matcher.any = true;
                continue;
            }
            match pattern.split_once(':') {
                Some((service, name)) if by_service && !service.is_empty() && !service.contains(['*', '?']) => {
                    let entry = matcher.services.entry(service.into()).or_default();
                    if name == "*" {
                        entry.all = true;
                    } else if name.contains(['*', '?']) {
                        entry.globs.push(Glob::new(name));
                    } else {
                        entry.names.push(name.into());
                    }
                }
                _ => matcher.globs.push(Glob::new(&pattern)),
            }
        }
        matcher
    }

    /// Whether an entry covers the (lowercased) action.
    fn matches(&self, action: &str) -> bool {
        if self.any {
            return true;
        }
        if !self.services.is_empty() {
            if let Some((service, name)) = action.split_once(':') {
                if self.services.get(service).is_some_and(|entry| entry.matches(name)) {
                    return true;
                }
            }
        }
        self.globs.iter().any(|glob| glob.matches(action))
    }
}

/// How a `Principal` element named the caller; this decides what a resource policy's grant is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    /// Named through the caller's account (`123456789012` or `arn:aws:iam::123456789012:root`):
    /// the account delegates to its own identity-based policies.
    Account,
    /// Named through the role of which the caller is a session: boundaries and session policies
    /// still apply.
    RoleOfSession,
    /// Named exactly, or by `*`: the grant stands on its own within an account.
    Direct,
}

#[derive(Debug, Clone)]
struct PrincipalMatcher {
    negated: bool,
    principals: PrincipalSet,
}

impl PrincipalMatcher {
    fn matching(&self, caller: &Caller) -> Option<PrincipalMatch> {
        let entries = match &self.principals {
            PrincipalSet::Any => return (!self.negated).then_some(PrincipalMatch::Direct),
            PrincipalSet::Typed(entries) => entries,
        };
        let mut ids = entries
            .iter()
            .flat_map(|(kind, ids)| ids.iter().map(move |id| (*kind, id)));
        if self.negated {
            // `NotPrincipal` applies to everyone it does not exempt.
            (!ids.any(|(kind, id)| principal_exempted(kind, id, caller))).then_some(PrincipalMatch::Direct)
        } else {
            ids.filter_map(|(kind, id)| principal_matches(kind, id, caller)).max()
        }
    }
}

/// The account an `AWS` principal id names as a whole: `123456789012` or
/// `arn:aws:iam::123456789012:root`.
fn account_principal(id: &str) -> &str {
    id.strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.strip_suffix(":root"))
        .unwrap_or(id)
}

fn principal_matches(kind: PrincipalType, id: &str, caller: &Caller) -> Option<PrincipalMatch> {
    match kind {
        PrincipalType::Aws => {
            // AWS: `{"AWS": "*"}` is the same as `"*"`, anonymous callers included.
            if id == "*" {
                return Some(PrincipalMatch::Direct);
            }
            if matches!(
                caller.kind,
                PrincipalKind::Service | PrincipalKind::WebIdentity | PrincipalKind::Anonymous
            ) {
                return None;
            }
            // A role's ARN stands for its sessions, which boundaries and session policies limit;
            // checked first because a caller given as a role ARN carries it as both.
            if caller.role_arn.as_deref() == Some(id) {
                return Some(PrincipalMatch::RoleOfSession);
            }
            if id == caller.arn {
                return Some(PrincipalMatch::Direct);
            }
            let account = account_principal(id);
            (account == caller.account && !account.is_empty()).then_some(PrincipalMatch::Account)
        }
        PrincipalType::Service => {
            (caller.kind == PrincipalKind::Service && (id == "*" || id == caller.arn)).then_some(PrincipalMatch::Direct)
        }
        PrincipalType::Federated => (caller.kind == PrincipalKind::WebIdentity && (id == "*" || id == caller.arn))
            .then_some(PrincipalMatch::Direct),
        PrincipalType::CanonicalUser => (id == caller.arn).then_some(PrincipalMatch::Direct),
    }
}

/// Whether a `NotPrincipal` entry exempts the caller: only the principal it names exactly does.
///
/// In `Principal` an account (`123456789012`, `arn:aws:iam::123456789012:root`) stands for every
/// principal of the account, and a role for its sessions. Not so in `NotPrincipal`: AWS documents
/// listing the account (and a session's role) beside the exempted user or session so that the
/// account and the role are not themselves denied when AWS checks them on the way to the caller;
/// that exempts the account's root user (and the role), not the account's other users and roles,
/// nor the role's other sessions.
fn principal_exempted(kind: PrincipalType, id: &str, caller: &Caller) -> bool {
    match kind {
        PrincipalType::Aws => {
            if id == "*" {
                return true;
            }
            if matches!(
                caller.kind,
                PrincipalKind::Service | PrincipalKind::WebIdentity | PrincipalKind::Anonymous
            ) {
                return false;
            }
            id == caller.arn || (caller.kind == PrincipalKind::Root && account_principal(id) == caller.account)
        }
        _ => principal_matches(kind, id, caller).is_some(),
    }
}

/// One statement ready for evaluation.
#[derive(Debug, Clone)]
pub(crate) struct CompiledStatement {
    pub(crate) policy: u32,
    pub(crate) index: u32,
    pub(crate) effect: Effect,
    action_negated: bool,
    /// The `Action`/`NotAction` entries.
    actions: ActionMatcher,
    resource: Option<ResourceMatcher>,
    principal: Option<PrincipalMatcher>,
    pub(crate) conditions: Vec<CompiledCondition>,
}

impl CompiledStatement {
    fn compile(policy: u32, index: u32, statement: &Statement, substitute: bool) -> Result<Self, String> {
        let resource = statement.resource.as_ref().map(|block| ResourceMatcher {
            negated: block.negated,
            patterns: block
                .patterns
                .iter()
                .map(|p| {
                    let template = Template::parse(p, substitute);
                    match template.static_glob() {
                        Some(glob) if glob.is_match_all() => ResourcePattern::Any,
                        Some(glob) => ResourcePattern::Static(glob),
                        None => ResourcePattern::Variable(template),
                    }
                })
                .collect(),
        });
        Ok(CompiledStatement {
            policy,
            index,
            effect: statement.effect,
            action_negated: statement.action.negated,
            actions: ActionMatcher::new(&statement.action.patterns),
            resource,
            principal: statement.principal.as_ref().map(|p| PrincipalMatcher {
                negated: p.negated,
                principals: p.principals.clone(),
            }),
            conditions: statement
                .condition
                .iter()
                .map(|clause| CompiledCondition::compile(clause, substitute))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether the statement's `Action`/`NotAction` covers the (lowercased) action.
    pub(crate) fn matches_action(&self, action: &str) -> bool {
        self.actions.matches(action) != self.action_negated
    }

    /// Whether `Resource`/`NotResource` covers the resource. A statement without one (a trust
    /// policy) is about the resource it is attached to, so it covers it.
    pub(crate) fn matches_resource(&self, resource: &str, context: &Context) -> bool {
        self.resource.as_ref().is_none_or(|m| m.matches(resource, context))
    }

    /// How the statement's `Principal` names the caller; statements without one name everyone
    /// (identity-based policies apply to the principal they are attached to).
    pub(crate) fn principal_match(&self, caller: &Caller) -> Option<PrincipalMatch> {
        match &self.principal {
            None => Some(PrincipalMatch::Direct),
            Some(matcher) => matcher.matching(caller),
        }
    }

    /// Whether the statement allows every action on every resource, unconditionally (as
    /// `FullAWSAccess` does): it applies to every request, whatever its action.
    pub(crate) fn allows_everything(&self) -> bool {
        self.effect == Effect::Allow
            && self.actions.any
            && !self.action_negated
            && self
                .resource
                .as_ref()
                .is_some_and(|m| !m.negated && m.patterns.iter().any(|p| matches!(p, ResourcePattern::Any)))
            && self.principal.is_none()
            && self.conditions.is_empty()
    }

    pub(crate) fn conditions_hold(&self, context: &Context) -> bool {
        self.conditions.iter().all(|c| c.evaluate(context))
    }
}

/// What a policy's text says about its statements, for reporting a match.
#[derive(Debug, Clone)]
pub(crate) struct PolicyDetails {
    pub(crate) statement_spans: Vec<Span>,
    pub(crate) sids: Vec<Option<Arc<str>>>,
}

/// Where to look for statements that can match an action.
#[derive(Debug, Clone, Default)]
struct ActionIndex {
    /// Lowercased `service:action` without wildcards.
    exact: FxHashMap<Box<str>, Vec<u32>>,
    /// Lowercased service prefix, for action patterns with wildcards in the action part.
    by_service: FxHashMap<Box<str>, Vec<u32>>,
    /// `*`, wildcard service prefixes, and `NotAction`: checked for every action.
    everywhere: Vec<u32>,
}

impl ActionIndex {
    fn add(&mut self, id: u32, statement: &CompiledStatement, patterns: &[String]) {
        if statement.action_negated {
            self.everywhere.push(id);
            return;
        }
        for pattern in patterns {
            let pattern = pattern.to_ascii_lowercase();
            let list = match pattern.split_once(':') {
                Some((service, action)) if !service.contains(['*', '?']) => {
                    if action.contains(['*', '?']) {
                        self.by_service.entry(service.into()).or_default()
                    } else {
                        self.exact.entry(pattern.as_str().into()).or_default()
                    }
                }
                _ => &mut self.everywhere,
            };
            if list.last() != Some(&id) {
                list.push(id);
            }
        }
    }

    /// The lists of statements that can match the (lowercased) action: exact, by service, and
    /// everywhere. Each list is in ascending statement order without repeats, as `add` builds it.
    fn candidates<'s>(&'s self, action: &str) -> [&'s [u32]; 3] {
        let exact = self.exact.get(action).map(Vec::as_slice).unwrap_or_default();
        // Many sets (an organization's levels among them) have no service wildcards: no need to
        // find the service in the action then.
        let service = match self.by_service.is_empty() {
            true => &[],
            false => action
                .split_once(':')
                .and_then(|(service, _)| self.by_service.get(service))
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        [exact, service, &self.everywhere]
    }
}

/// Whether index lists, each in order on its own, are in order together: each non-empty list
/// starts after the previous one ended. Checked without walking them, as this runs per set and
/// request.
pub(crate) fn lists_in_order<T: Ord + Copy>(lists: &[&[T]]) -> bool {
    let mut last_seen: Option<T> = None;
    for list in lists {
        if let (Some(first), Some(last)) = (list.first(), last_seen) {
            if *first <= last {
                return false;
            }
        }
        last_seen = list.last().copied().or(last_seen);
    }
    true
}

/// The action indices of several sets merged into one, each entry naming its set and statement:
/// an organization path's distinct policies looked up once per decision instead of once per
/// policy. Each list is in ascending (set, statement) order without repeats.
#[derive(Debug, Clone, Default)]
pub(crate) struct MergedIndex {
    exact: FxHashMap<Box<str>, Vec<(u32, u32)>>,
    by_service: FxHashMap<Box<str>, Vec<(u32, u32)>>,
    everywhere: Vec<(u32, u32)>,
}

impl MergedIndex {
    /// The index of the statements of `sets` that `keep` keeps.
    pub(crate) fn merge(sets: &[Arc<PolicySet>], keep: impl Fn(&CompiledStatement) -> bool) -> Self {
        let mut merged = MergedIndex::default();
        for (at, set) in sets.iter().enumerate() {
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            let index = &set.body.index;
            let kept = |ids: &[u32]| -> Vec<(u32, u32)> {
                ids.iter()
                    .filter(|id| set.statement(**id).is_some_and(&keep))
                    .map(|id| (at, *id))
                    .collect()
            };
            for (action, ids) in &index.exact {
                let ids = kept(ids);
                if !ids.is_empty() {
                    merged.exact.entry(action.clone()).or_default().extend(ids);
                }
            }
            for (service, ids) in &index.by_service {
                let ids = kept(ids);
                if !ids.is_empty() {
                    merged.by_service.entry(service.clone()).or_default().extend(ids);
                }
            }
            merged.everywhere.extend(kept(&index.everywhere));
        }
        for list in merged.exact.values_mut().chain(merged.by_service.values_mut()) {
            list.shrink_to_fit();
        }
        merged.everywhere.shrink_to_fit();
        merged
    }

    /// As [`ActionIndex::candidates`], over every merged set.
    pub(crate) fn candidates<'s>(&'s self, action: &str) -> [&'s [(u32, u32)]; 3] {
        let exact = self.exact.get(action).map(Vec::as_slice).unwrap_or_default();
        let service = match self.by_service.is_empty() {
            true => &[],
            false => action
                .split_once(':')
                .and_then(|(service, _)| self.by_service.get(service))
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        [exact, service, &self.everywhere]
    }
}

/// A set of policies compiled together, such as every identity-based policy of one principal.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Where each policy came from, in the order added: the only part of a set that depends on
    /// who owns the policies rather than on their text.
    sources: Vec<PolicySource>,
    /// What compiling the documents produced; shared by sets that differ only in their sources
    /// (the same inline document owned by many principals), see [`PolicySet::with_sources`].
    body: Arc<CompiledBody>,
}

#[derive(Debug, Clone, Default)]
struct CompiledBody {
    policies: Vec<PolicyDetails>,
    statements: Vec<CompiledStatement>,
    index: ActionIndex,
}

impl PolicySet {
    /// An empty set: it allows nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles several policies into one set.
    pub fn compile<'p, I>(policies: I) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = (PolicySource, &'p ParsedPolicy)>,
    {
        let mut set = PolicySet::new();
        for (source, parsed) in policies {
            set.add(source, parsed)?;
        }
        Ok(set)
    }

    /// The policies compiled into the set, in the order they were added.
    pub fn sources(&self) -> impl Iterator<Item = &PolicySource> {
        self.sources.iter()
    }

    /// The same compiled policies under other sources, one per policy in order, sharing the
    /// compiled statements: for one document owned by several principals (an inline policy
    /// written the same way for many users), which would otherwise be compiled for each.
    ///
    /// # Errors
    /// [`PolicyError::InvalidInput`] if the number of sources differs from the number of policies.
    pub fn with_sources(&self, sources: Vec<PolicySource>) -> Result<PolicySet, PolicyError> {
        if sources.len() != self.sources.len() {
            return Err(PolicyError::InvalidInput(format!(
                "{} sources for a set of {} policies",
                sources.len(),
                self.sources.len()
            )));
        }
        Ok(PolicySet {
            sources,
            body: self.body.clone(),
        })
    }

    /// Adds one policy.
    pub fn add(&mut self, source: PolicySource, parsed: &ParsedPolicy) -> Result<(), PolicyError> {
        let policy_number = u32::try_from(self.sources.len())
            .map_err(|_| PolicyError::InvalidInput("too many policies in one set".into()))?;
        let substitute = parsed.policy.effective_version().substitutes_variables();
        let mut compiled = Vec::with_capacity(parsed.policy.statements.len());
        for (i, statement) in parsed.policy.statements.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| PolicyError::InvalidInput("too many statements".into()))?;
            let statement_compiled =
                CompiledStatement::compile(policy_number, index, statement, substitute).map_err(|message| {
                    PolicyError::malformed(
                        "DATA_TYPE_MISMATCH",
                        message,
                        &format!("Statement[{i}].Condition"),
                        None,
                    )
                })?;
            compiled.push(statement_compiled);
        }
        // Copies the body only if another set shares it.
        let body = Arc::make_mut(&mut self.body);
        for (statement, compiled) in parsed.policy.statements.iter().zip(compiled) {
            let id = u32::try_from(body.statements.len())
                .map_err(|_| PolicyError::InvalidInput("too many statements in one set".into()))?;
            body.index.add(id, &compiled, &statement.action.patterns);
            body.statements.push(compiled);
        }
        let statement_spans = (0..parsed.policy.statements.len())
            .map(|i| parsed.source.statements.get(i).copied().unwrap_or_default())
            .collect();
        let sids = parsed
            .policy
            .statements
            .iter()
            .map(|s| s.sid.as_deref().map(Arc::from))
            .collect();
        body.policies.push(PolicyDetails { statement_spans, sids });
        self.sources.push(source);
        Ok(())
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether the set has no policies.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Statements whose `Action`/`NotAction` covers the lowercased action, each once, in order.
    pub(crate) fn for_each_action_match<'s>(&'s self, action: &str, mut visit: impl FnMut(&'s CompiledStatement)) {
        let lists = self.body.index.candidates(action);
        let mut visit_id = |id: u32| {
            let statement = &self.body.statements[id as usize];
            if statement.matches_action(action) {
                visit(statement);
            }
        };
        if lists_in_order(&lists) {
            for id in lists.into_iter().flatten() {
                visit_id(*id);
            }
            return;
        }
        // Several index lists named statements: visit them in policy order, once each.
        let mut ids: Vec<u32> = lists.into_iter().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            visit_id(id);
        }
    }

    /// Whether some request for `action` could be allowed by this set: an `Allow` statement
    /// covers the action, whatever its resource and conditions say. For interfaces that hide
    /// what can never be done (a read-only console); decisions never use it.
    pub fn allows_somewhere(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let mut found = false;
        self.for_each_action_match(&action, |statement| {
            found |= statement.effect == Effect::Allow;
        });
        found
    }

    /// Whether every request for `action` is denied by this set: a `Deny` statement covers the
    /// action on every resource (`"Resource": "*"`) without conditions or `Principal`.
    pub fn denies_everywhere(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let mut found = false;
        self.for_each_action_match(&action, |statement| {
            found |= statement.effect == Effect::Deny
                && statement.conditions.is_empty()
                && statement.principal.is_none()
                && statement
                    .resource
                    .as_ref()
                    .is_some_and(|m| !m.negated && m.patterns.iter().any(|p| matches!(p, ResourcePattern::Any)));
        });
        found
    }

    /// One statement by its id, as the index names it.
    pub(crate) fn statement(&self, id: u32) -> Option<&CompiledStatement> {
        self.body.statements.get(id as usize)
    }

    /// The source of the policy a statement belongs to, and what its text says about it.
    pub(crate) fn policy_of(&self, statement: &CompiledStatement) -> (&PolicySource, &PolicyDetails) {
        let n = statement.policy as usize;
        (&self.sources[n], &self.body.policies[n])
    }

    /// Every statement, without the index.
    pub(crate) fn all_statements(&self) -> &[CompiledStatement] {
        &self.body.statements
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_policy;
    use crate::PolicyType;

    fn set(document: &str) -> PolicySet {
        let parsed = parse_policy(document).expect("a valid policy");
        PolicySet::compile([(PolicySource::new("p", PolicyType::UserManaged), &parsed)]).expect("compiles")
    }

    #[test]
    fn could_allow_ignores_resources_and_conditions_but_not_actions() {
        let delegated = set(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
            {"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::*:user/helpdesk/*",
             "Condition":{"StringEquals":{"iam:PermissionsBoundary":"arn:aws:iam::111122223333:policy/b"}}}]}"#);
        assert!(delegated.allows_somewhere("iam:CreateUser"));
        assert!(delegated.allows_somewhere("IAM:getuser"));
        assert!(!delegated.allows_somewhere("iam:DeleteUser"));
        assert!(!delegated.denies_everywhere("iam:CreateUser"));
    }

    #[test]
    fn only_an_unconditional_deny_on_every_resource_denies_everywhere() {
        let guarded = set(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"},
            {"Effect":"Deny","Action":"iam:DeleteRole","Resource":"arn:aws:iam::*:role/admin"},
            {"Effect":"Deny","Action":"iam:DeleteGroup","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}},
            {"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}"#);
        assert!(guarded.denies_everywhere("iam:DeleteUser"));
        assert!(!guarded.denies_everywhere("iam:DeleteRole"));
        assert!(!guarded.denies_everywhere("iam:DeleteGroup"));
        assert!(guarded.denies_everywhere("s3:GetObject"));
        assert!(!guarded.denies_everywhere("iam:CreateUser"));
    }
}
