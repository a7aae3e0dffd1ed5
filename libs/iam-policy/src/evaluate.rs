//! AWS's policy evaluation logic over compiled policy sets. Decisions are values.
//!
//! The order, as AWS documents it:
//! 1. an explicit `Deny` in any applicable policy wins;
//! 2. organization SCPs, when given, must allow (every level of them);
//! 3. resource control policies, when given, must allow;
//! 4. within one account, a resource-based policy that names the caller grants on its own;
//! 5. otherwise identity-based policies must allow, and so must the permissions boundary and the
//!    session policies when there are any;
//! 6. across accounts, both the caller's side (step 5) and the resource owner's resource-based
//!    policy must allow.
//!
//! Anything else is an implicit deny.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::compile::{CompiledStatement, PolicySet, PolicySource, PrincipalMatch};
use crate::context::{Caller, Context};
use crate::levels::OrgLevels;
use crate::model::Effect;
use crate::span::Span;

/// The outcome of an evaluation, named as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DecisionEffect {
    /// `allowed`.
    Allowed,
    /// `explicitDeny`: a `Deny` statement applies.
    ExplicitDeny,
    /// `implicitDeny`: nothing allows it.
    ImplicitDeny,
}

impl DecisionEffect {
    /// AWS's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionEffect::Allowed => "allowed",
            DecisionEffect::ExplicitDeny => "explicitDeny",
            DecisionEffect::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Which part of the policy stack a policy plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicySlot {
    /// Identity-based policies of the principal (and of its groups).
    Identity,
    /// The principal's permissions boundary.
    PermissionsBoundary,
    /// Session policies passed when a role was assumed.
    Session,
    /// Organization service control policies.
    ServiceControl,
    /// Organization resource control policies.
    ResourceControl,
    /// The resource's own policy.
    Resource,
}

/// Every policy that bears on one request. Absent sets do not take part; an empty SCP or RCP
/// level denies, as an organization level without an allowing policy does.
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    /// Identity-based policies.
    pub identity: Option<&'a PolicySet>,
    /// More identity-based policies, in sets of their own: a policy compiled once and shared by
    /// every principal it applies to. With `identity` they form the identity slot: any of them
    /// allowing is identity-based policies allowing.
    pub identity_sets: &'a [Arc<PolicySet>],
    /// The permissions boundary.
    pub permissions_boundary: Option<&'a PolicySet>,
    /// Session policies.
    pub session: Option<&'a PolicySet>,
    /// SCPs, by level of the organization (root, each OU, the account); each level must allow.
    /// Shared: one organization's policies are compiled once for all of its accounts, and a
    /// policy attached at several levels is evaluated once.
    pub service_control: &'a OrgLevels,
    /// RCPs, by level; each level must allow.
    pub resource_control: &'a OrgLevels,
    /// The resource-based policy.
    pub resource: Option<&'a PolicySet>,
}

impl Default for Policies<'_> {
    fn default() -> Self {
        Policies {
            identity: None,
            identity_sets: &[],
            permissions_boundary: None,
            session: None,
            service_control: OrgLevels::none(),
            resource_control: OrgLevels::none(),
            resource: None,
        }
    }
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// The action, such as `s3:GetObject` (any case).
    pub action: &'a str,
    /// The resource ARN (or `*`).
    pub resource: &'a str,
    /// The account that owns the resource; `None` means the caller's own account.
    pub resource_account: Option<&'a str>,
    /// Condition keys.
    pub context: &'a Context,
}

/// A statement a decision rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The policy it belongs to.
    pub source: PolicySource,
    /// The part of the stack that policy plays.
    pub slot: PolicySlot,
    /// Index of the statement within its policy (0-based).
    pub statement_index: usize,
    /// The statement's `Sid`.
    pub sid: Option<Arc<str>>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// Where the statement is in the policy's text.
    pub span: Span,
}

/// How each part of the stack voted; `None` where that part was absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecisionDetails {
    /// Identity-based policies allow.
    pub allowed_by_identity: bool,
    /// The resource-based policy allows the caller (in any way, including account delegation).
    pub allowed_by_resource_policy: Option<bool>,
    /// The permissions boundary allows.
    pub allowed_by_permissions_boundary: Option<bool>,
    /// Session policies allow.
    pub allowed_by_session_policy: Option<bool>,
    /// Every SCP level allows.
    pub allowed_by_organizations: Option<bool>,
    /// Every RCP level allows.
    pub allowed_by_resource_control: Option<bool>,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, explicitly denied, or implicitly denied.
    pub effect: DecisionEffect,
    /// For a deny, every `Deny` statement that applies (an organization's among them; an
    /// organization policy attached at several levels is named once, at its first level); for an
    /// allow, the identity-based or resource-based `Allow` statements that grant it; for an
    /// implicit deny, nothing.
    pub matched: Vec<MatchedStatement>,
    /// For an allow under SCP or RCP levels, the organization's `Allow` statements that let it
    /// through, each once however many levels hold its policy; empty otherwise.
    pub guardrails: SharedStatements,
    /// How each part of the stack voted.
    pub details: DecisionDetails,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == DecisionEffect::Allowed
    }
}

/// The organization's statements an allowed decision names. When they are the same for every
/// request (`FullAWSAccess` on every level of a path) they are shared, not copied per decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedStatements(Option<Arc<[MatchedStatement]>>);

impl std::ops::Deref for SharedStatements {
    type Target = [MatchedStatement];

    fn deref(&self) -> &[MatchedStatement] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl From<Vec<MatchedStatement>> for SharedStatements {
    fn from(statements: Vec<MatchedStatement>) -> Self {
        SharedStatements((!statements.is_empty()).then(|| statements.into()))
    }
}

/// The organization's allowing statements, gathered level kind by level kind: shared while one
/// kind's shared statements are all there is, copied once another kind adds its own.
#[derive(Default)]
struct Allowing {
    shared: Option<Arc<[MatchedStatement]>>,
    owned: Vec<MatchedStatement>,
}

impl Allowing {
    fn add_shared(&mut self, statements: Arc<[MatchedStatement]>) {
        if self.shared.is_none() && self.owned.is_empty() {
            self.shared = Some(statements);
        } else {
            self.owned().extend(statements.iter().cloned());
        }
    }

    /// The statements gathered so far, to add to.
    fn owned(&mut self) -> &mut Vec<MatchedStatement> {
        if let Some(shared) = self.shared.take() {
            self.owned.splice(0..0, shared.iter().cloned());
        }
        &mut self.owned
    }

    fn finish(self) -> SharedStatements {
        match self.shared {
            Some(shared) if self.owned.is_empty() => SharedStatements(Some(shared)),
            _ => self.owned.into(),
        }
    }
}

/// What one policy set says about a request.
#[derive(Default)]
struct Votes<'s> {
    allows: Vec<(&'s CompiledStatement, PrincipalMatch)>,
    denies: Vec<&'s CompiledStatement>,
}

/// How a statement whose action matched names the caller, if it applies to the request at all.
fn applies(statement: &CompiledStatement, request: &Request<'_>) -> Option<PrincipalMatch> {
    let principal = statement.principal_match(request.caller)?;
    (statement.matches_resource(request.resource, request.context) && statement.conditions_hold(request.context))
        .then_some(principal)
}

fn votes<'s>(set: &'s PolicySet, action: &str, request: &Request<'_>) -> Votes<'s> {
    let mut votes = Votes::default();
    set.for_each_action_match(action, |statement| {
        let Some(principal) = applies(statement, request) else {
            return;
        };
        match statement.effect {
            Effect::Allow => votes.allows.push((statement, principal)),
            Effect::Deny => votes.denies.push(statement),
        }
    });
    votes
}

/// How one kind of organization levels (SCPs or RCPs) votes: whether every level allows, `None`
/// without levels. Each distinct policy is evaluated once, however many levels hold it: its
/// applying `Deny` statements go to `denies` once, and a level allows when one of its policies
/// has an applying `Allow`. When every level allows and nothing denied so far, each level's
/// allowing statements go to `allows`, level by level.
fn level_votes(
    levels: &OrgLevels,
    slot: PolicySlot,
    action: &str,
    request: &Request<'_>,
    denies: &mut Vec<MatchedStatement>,
    allows: &mut Allowing,
) -> Option<bool> {
    if levels.is_empty() {
        return None;
    }
    if let Some(allowing) = levels.unconditional_allows(slot) {
        // Every level allows everything: only the `Deny` statements (all the index holds) vote.
        levels.for_each_action_match(action, |_, set, statement| {
            if applies(statement, request).is_some() {
                denies.push(matched(set, slot, statement));
            }
        });
        if denies.is_empty() {
            allows.add_shared(allowing);
        }
        return Some(true);
    }
    // (policy, statement), in policy order: built by walking the policies in order. Few
    // statements allow at any level, so they stay on the stack.
    let mut allowing: SmallVec<[(u32, &CompiledStatement); 16]> = SmallVec::new();
    levels.for_each_action_match(action, |at, set, statement| {
        if applies(statement, request).is_none() {
            return;
        }
        match statement.effect {
            Effect::Allow => allowing.push((at, statement)),
            Effect::Deny => denies.push(matched(set, slot, statement)),
        }
    });
    let allows_at = |policy: u32| {
        let start = allowing.partition_point(|(p, _)| *p < policy);
        allowing.get(start).is_some_and(|(p, _)| *p == policy)
    };
    let every_level = levels
        .level_indices()
        .all(|level| level.iter().any(|policy| allows_at(*policy)));
    if every_level && denies.is_empty() {
        // Each allowing statement once, root first: a policy attached at several levels of the
        // path (`FullAWSAccess` everywhere) is one statement the decision rests on, not one per
        // level.
        let allows = allows.owned();
        for (policy, statement) in &allowing {
            if let Some(set) = levels.policies().get(*policy as usize) {
                allows.push(matched(set, slot, statement));
            }
        }
    }
    Some(every_level)
}

pub(crate) fn matched(set: &PolicySet, slot: PolicySlot, statement: &CompiledStatement) -> MatchedStatement {
    let (source, details) = set.policy_of(statement);
    let index = statement.index as usize;
    MatchedStatement {
        source: source.clone(),
        slot,
        statement_index: index,
        sid: details.sids.get(index).cloned().flatten(),
        effect: statement.effect,
        span: details.statement_spans.get(index).copied().unwrap_or_default(),
    }
}

/// Runs `decide` on the ASCII-lowercased action, lowercased into a stack buffer so the hot path
/// does not allocate.
fn with_lowercase_action<R>(action: &str, decide: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0u8; 256];
    let bytes = action.as_bytes();
    if let Some(target) = buffer.get_mut(..bytes.len()) {
        for (out, byte) in target.iter_mut().zip(bytes) {
            *out = byte.to_ascii_lowercase();
        }
        if let Ok(lowercased) = std::str::from_utf8(target) {
            return decide(lowercased);
        }
    }
    decide(&action.to_ascii_lowercase())
}

/// Decides a request against its policies.
pub fn evaluate(policies: &Policies<'_>, request: &Request<'_>) -> Decision {
    with_lowercase_action(request.action, |action| evaluate_action(policies, request, action))
}

fn evaluate_action(policies: &Policies<'_>, request: &Request<'_>, action: &str) -> Decision {
    let slots: [(PolicySlot, Option<&PolicySet>); 4] = [
        (PolicySlot::Identity, policies.identity),
        (PolicySlot::PermissionsBoundary, policies.permissions_boundary),
        (PolicySlot::Session, policies.session),
        (PolicySlot::Resource, policies.resource),
    ];

    // Shared identity sets right after `identity`, so statements are reported in slot order.
    let shared_identity = policies.identity_sets.iter().map(|set| (PolicySlot::Identity, &**set));
    let (identity_slot, other_slots) = slots.split_at(1);
    let mut all_votes: Vec<(PolicySlot, &PolicySet, Votes<'_>)> = Vec::with_capacity(4);
    for (slot, set) in identity_slot
        .iter()
        .copied()
        .filter_map(|(slot, set)| Some((slot, set?)))
        .chain(shared_identity)
        .chain(other_slots.iter().copied().filter_map(|(slot, set)| Some((slot, set?))))
    {
        all_votes.push((slot, set, votes(set, action, request)));
    }

    let mut denies: Vec<MatchedStatement> = all_votes
        .iter()
        .flat_map(|(slot, set, votes)| votes.denies.iter().map(move |s| matched(set, *slot, s)))
        .collect();
    // The organization's levels last, so their statements are reported after the account's.
    let mut guardrails = Allowing::default();
    let allowed_by_organizations = level_votes(
        policies.service_control,
        PolicySlot::ServiceControl,
        action,
        request,
        &mut denies,
        &mut guardrails,
    );
    let allowed_by_resource_control = level_votes(
        policies.resource_control,
        PolicySlot::ResourceControl,
        action,
        request,
        &mut denies,
        &mut guardrails,
    );

    // Identity-based policies allow if any set does.
    let slot_allows = |wanted: PolicySlot| -> Option<bool> {
        let mut present = false;
        let mut any = false;
        for (slot, _, votes) in &all_votes {
            if *slot == wanted {
                present = true;
                any |= !votes.allows.is_empty();
            }
        }
        present.then_some(any)
    };
    let resource_votes = all_votes.iter().find(|(slot, _, _)| *slot == PolicySlot::Resource);
    let best_resource_grant = resource_votes.and_then(|(_, _, votes)| votes.allows.iter().map(|(_, m)| *m).max());

    let details = DecisionDetails {
        allowed_by_identity: slot_allows(PolicySlot::Identity).unwrap_or(false),
        allowed_by_resource_policy: resource_votes.map(|_| best_resource_grant.is_some()),
        allowed_by_permissions_boundary: slot_allows(PolicySlot::PermissionsBoundary),
        allowed_by_session_policy: slot_allows(PolicySlot::Session),
        allowed_by_organizations,
        allowed_by_resource_control,
    };

    if !denies.is_empty() {
        return Decision {
            effect: DecisionEffect::ExplicitDeny,
            matched: denies,
            guardrails: SharedStatements::default(),
            details,
        };
    }
    let implicit_deny = |details| Decision {
        effect: DecisionEffect::ImplicitDeny,
        matched: Vec::new(),
        guardrails: SharedStatements::default(),
        details,
    };
    if details.allowed_by_organizations == Some(false) || details.allowed_by_resource_control == Some(false) {
        return implicit_deny(details);
    }

    let limits_hold =
        details.allowed_by_permissions_boundary != Some(false) && details.allowed_by_session_policy != Some(false);
    let identity_grants = details.allowed_by_identity && limits_hold;
    let same_account = request
        .resource_account
        .is_none_or(|owner| owner == request.caller.account);

    let allowed_from = |wanted: &[PolicySlot], minimum: PrincipalMatch| -> Vec<MatchedStatement> {
        all_votes
            .iter()
            .filter(|(slot, _, _)| wanted.contains(slot))
            .flat_map(|(slot, set, votes)| {
                votes
                    .allows
                    .iter()
                    .filter(move |(_, how)| *slot != PolicySlot::Resource || *how >= minimum)
                    .map(move |(statement, _)| matched(set, *slot, statement))
            })
            .collect()
    };

    let allowed = if same_account {
        match best_resource_grant {
            // Named exactly (or by `*`): the resource policy alone grants.
            Some(PrincipalMatch::Direct) => Some(allowed_from(&[PolicySlot::Resource], PrincipalMatch::Direct)),
            // Named through the session's role: boundaries and session policies still limit it.
            Some(PrincipalMatch::RoleOfSession) if limits_hold => {
                Some(allowed_from(&[PolicySlot::Resource], PrincipalMatch::RoleOfSession))
            }
            _ if identity_grants => Some(allowed_from(&[PolicySlot::Identity], PrincipalMatch::Direct)),
            _ => None,
        }
    } else if identity_grants && best_resource_grant.is_some() {
        Some(allowed_from(
            &[PolicySlot::Identity, PolicySlot::Resource],
            PrincipalMatch::Account,
        ))
    } else {
        None
    };

    match allowed {
        Some(matched) => Decision {
            effect: DecisionEffect::Allowed,
            matched,
            guardrails: guardrails.finish(),
            details,
        },
        None => implicit_deny(details),
    }
}

/// Decides a request on the organization's SCP and RCP levels alone, for a principal whose own
/// permissions are not in question: an account's root user in its own account, whom no
/// identity-based policy limits but the organization does. The other parts of `policies` take no
/// part, and `allowed_by_identity` is reported as `true`.
///
/// An organization `Deny` that applies is an explicit deny, a level that does not allow is an
/// implicit deny; otherwise the request is allowed, with `guardrails` naming the organization's
/// allowing statements (none without levels).
pub fn evaluate_guardrails(policies: &Policies<'_>, request: &Request<'_>) -> Decision {
    with_lowercase_action(request.action, |action| {
        let mut denies = Vec::new();
        let mut guardrails = Allowing::default();
        let details = DecisionDetails {
            allowed_by_identity: true,
            allowed_by_organizations: level_votes(
                policies.service_control,
                PolicySlot::ServiceControl,
                action,
                request,
                &mut denies,
                &mut guardrails,
            ),
            allowed_by_resource_control: level_votes(
                policies.resource_control,
                PolicySlot::ResourceControl,
                action,
                request,
                &mut denies,
                &mut guardrails,
            ),
            ..DecisionDetails::default()
        };
        let (effect, matched, guardrails) = if !denies.is_empty() {
            (DecisionEffect::ExplicitDeny, denies, SharedStatements::default())
        } else if details.allowed_by_organizations == Some(false) || details.allowed_by_resource_control == Some(false)
        {
            (DecisionEffect::ImplicitDeny, Vec::new(), SharedStatements::default())
        } else {
            (DecisionEffect::Allowed, Vec::new(), guardrails.finish())
        };
        Decision {
            effect,
            matched,
            guardrails,
            details,
        }
    })
}

/// The context keys that statements relevant to the request read but the request lacks, as the
/// policies wrote them, each once. Used by simulations (`MissingContextValues`).
pub fn missing_context_keys(policies: &Policies<'_>, request: &Request<'_>) -> Vec<String> {
    let action = request.action.to_ascii_lowercase();
    let sets = [
        policies.identity,
        policies.permissions_boundary,
        policies.session,
        policies.resource,
    ]
    .into_iter()
    .flatten()
    .chain(policies.identity_sets.iter().map(|set| &**set))
    .chain(policies.service_control.policies().iter().map(|set| &**set))
    .chain(policies.resource_control.policies().iter().map(|set| &**set));
    let mut missing: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for set in sets {
        set.for_each_action_match(&action, |statement| {
            if !statement.matches_resource(request.resource, request.context) {
                return;
            }
            for condition in &statement.conditions {
                for (key, as_written) in condition.keys_read() {
                    if !request.context.contains(key) && !seen.iter().any(|k| k == key) {
                        seen.push(key.to_string());
                        missing.push(as_written.to_string());
                    }
                }
            }
        });
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{PolicySource, PolicyType};
    use crate::parse::parse_policy;

    fn set(text: &str) -> PolicySet {
        let parsed = parse_policy(text).unwrap();
        PolicySet::compile([(PolicySource::new("p", PolicyType::None), &parsed)]).unwrap()
    }

    #[test]
    fn a_resource_policy_naming_a_role_is_still_limited_by_its_boundary() {
        let resource = set(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"s3:GetObject","Resource":"*"}}"#,
        );
        let boundary =
            set(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#);
        let context = Context::new();
        for arn in [
            "arn:aws:iam::111122223333:role/R",
            "arn:aws:sts::111122223333:assumed-role/R/s",
        ] {
            let caller = Caller::from_arn(arn).unwrap();
            let request = Request {
                caller: &caller,
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                resource_account: None,
                context: &context,
            };
            let limited = Policies {
                resource: Some(&resource),
                permissions_boundary: Some(&boundary),
                ..Policies::default()
            };
            assert_eq!(
                evaluate(&limited, &request).effect,
                DecisionEffect::ImplicitDeny,
                "{arn}"
            );
            let unlimited = Policies {
                resource: Some(&resource),
                ..Policies::default()
            };
            assert_eq!(evaluate(&unlimited, &request).effect, DecisionEffect::Allowed, "{arn}");
        }
    }
}
