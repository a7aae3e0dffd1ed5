//! An organization's guardrails on decisions: service control policies (SCPs) limit what the
//! principals of a member account may do, resource control policies (RCPs) limit what may be done
//! to the resources of a member account.
//!
//! Each kind comes in levels, one per node from the organization's root down through each OU to
//! the account: every level must allow, and any `Deny` wins. Each policy is compiled once, by a
//! [`LevelCompiler`], and shared: every level it is attached to, in every account's path, holds the
//! same `Arc`, so an organization of 10,000 accounts holds each policy once, an account's
//! [`Guardrails`] is a few pointers and indices, and a policy attached at several levels of one
//! path is evaluated once per decision ([`OrgLevels`]).
//!
//! Guardrails limit; they never grant. Without any ([`Guardrails::none`]: the management account,
//! an account in no organization) a decision is exactly what it was without this module, at the
//! same cost. The root user of a member account, whom its own account's policies do not limit, is
//! limited by its organization's guardrails, as in AWS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use iam_policy::{
    evaluate, evaluate_guardrails, Context, Decision, DecisionDetails, DecisionEffect, OrgLevels, PathCache, Policies,
    PolicySet, PolicySource, Request,
};

use crate::{compile_set, CompiledPrincipal};

/// An organization's policies over one account, each kind as levels from the root down: the SCPs
/// that limit the account's principals and the RCPs that limit what is done to its resources.
#[derive(Debug, Clone, Default)]
pub struct Guardrails {
    /// SCP levels (root, each OU, the account); each must allow what the account's principals do.
    pub service_control: OrgLevels,
    /// RCP levels; each must allow what is done to the account's resources.
    pub resource_control: OrgLevels,
}

impl Guardrails {
    /// No guardrails: nothing is limited (the management account, an account in no organization).
    pub fn none() -> Self {
        Guardrails::default()
    }

    /// Whether there are no levels of either kind.
    pub fn is_none(&self) -> bool {
        self.service_control.is_empty() && self.resource_control.is_empty()
    }
}

/// Compiles organization levels, each distinct level once: a level whose policies (ids, types,
/// versions and documents) are unchanged is not compiled again, and identical levels are one
/// allocation. Entries are held weakly, so a level lives as long as some account's
/// [`Guardrails`] holds it.
#[derive(Debug, Default)]
pub struct LevelCompiler {
    levels: Mutex<HashMap<[u8; 32], Weak<PolicySet>>>,
    /// Each distinct path's policies with one action index over them, shared by its accounts.
    paths: PathCache,
}

impl LevelCompiler {
    /// A compiler with nothing compiled yet.
    pub fn new() -> Self {
        LevelCompiler::default()
    }

    /// The levels of one account's path (root first), each a list of policies compiled by
    /// [`LevelCompiler::compile_policy`]; accounts whose paths hold the same policies share their
    /// merged index.
    pub fn levels<L, P>(&self, levels: L) -> OrgLevels
    where
        L: IntoIterator<Item = P>,
        P: IntoIterator<Item = Arc<PolicySet>>,
    {
        OrgLevels::shared(levels, &self.paths)
    }

    /// One policy compiled on its own, shared by every level (of every account) it is attached
    /// to: [`OrgLevels`] evaluates it once per decision however many levels of a path hold it.
    pub fn compile_policy(&self, source: PolicySource, document: &str) -> Arc<PolicySet> {
        self.compile(&[(source, document)])
    }

    /// The compiled set of one level: the policies attached to one node, any of them allowing
    /// being the level allowing. A level without policies allows nothing, so it denies everything
    /// (AWS's rule for a node whose last SCP is detached). A document that does not parse grants
    /// nothing rather than failing every decision.
    pub fn compile(&self, level: &[(PolicySource, &str)]) -> Arc<PolicySet> {
        let key = level_digest(level);
        let found = |map: &HashMap<[u8; 32], Weak<PolicySet>>| map.get(&key).and_then(Weak::upgrade);
        if let Some(set) = self.levels.lock().ok().and_then(|map| found(&map)) {
            return set;
        }
        // Compiled outside the lock: other levels need not wait for this one.
        let set = Arc::new(compile_set(
            level.iter().map(|(source, document)| (source.clone(), *document)),
        ));
        if let Ok(mut map) = self.levels.lock() {
            // Compiled meanwhile by another caller: keep that one, so the level stays one allocation.
            if let Some(earlier) = found(&map) {
                return earlier;
            }
            // Forget levels no account holds any more, now and then.
            if map.len() >= 1024 && map.len().is_power_of_two() {
                map.retain(|_, weak| weak.strong_count() > 0);
            }
            map.insert(key, Arc::downgrade(&set));
        }
        set
    }
}

/// SHA-256 of everything a level's compilation reads, every field length-prefixed so that no two
/// different levels hash the same bytes.
fn level_digest(level: &[(PolicySource, &str)]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    for (source, document) in level {
        field(source.id.as_bytes());
        field(source.policy_type.as_str().as_bytes());
        match &source.version_id {
            Some(version) => {
                field(b"version");
                field(version.as_bytes());
            }
            None => field(b"unversioned"),
        }
        field(document.as_bytes());
    }
    hasher.finalize().into()
}

/// [`crate::authorize_with_resource_policy`] under an organization's guardrails: the SCP levels of
/// the principal's account (`principal_guardrails.service_control`) and the RCP levels of the
/// resource's account (`resource_guardrails.resource_control`) must allow too.
///
/// The root user in its own account is allowed everything its account's policies could grant, so
/// only the guardrails decide for it: an organization `Deny` is an explicit deny, a level that
/// does not allow is an implicit deny, and otherwise it is allowed, with `guardrails` naming the
/// organization's allowing statements. Without guardrails it is allowed outright, as before.
#[allow(clippy::too_many_arguments)] // the request's parts, then each side's guardrails
pub fn authorize_guarded(
    principal: &CompiledPrincipal,
    action: &str,
    resource: &str,
    resource_account: Option<&str>,
    resource_policy: Option<&PolicySet>,
    principal_guardrails: &Guardrails,
    resource_guardrails: &Guardrails,
    context: &Context,
) -> Decision {
    let request = Request {
        caller: &principal.caller,
        action,
        resource,
        resource_account,
        context,
    };
    let own_account = resource_account.is_none_or(|account| account == principal.caller.account);
    if principal.is_root && own_account {
        let organization = Policies {
            service_control: &principal_guardrails.service_control,
            resource_control: &resource_guardrails.resource_control,
            ..Policies::default()
        };
        if organization.service_control.is_empty() && organization.resource_control.is_empty() {
            return Decision {
                effect: DecisionEffect::Allowed,
                matched: Vec::new(),
                guardrails: Default::default(),
                details: DecisionDetails {
                    allowed_by_identity: true,
                    ..DecisionDetails::default()
                },
            };
        }
        return evaluate_guardrails(&organization, &request);
    }
    let policies = Policies {
        identity: None,
        identity_sets: &principal.identity,
        permissions_boundary: principal.boundary.as_deref(),
        session: principal.session.as_deref(),
        service_control: &principal_guardrails.service_control,
        resource_control: &resource_guardrails.resource_control,
        resource: resource_policy,
    };
    evaluate(&policies, &request)
}

#[cfg(test)]
mod tests {
    use iam_policy::{Caller, ContextValue, PolicySlot, PolicyType};

    use super::*;

    const MEMBER: &str = "111122223333";
    const FULL_AWS_ACCESS: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const STAY_IN_ORGANIZATION: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Stay","Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;

    fn scp(id: &str, version: &str, document: &'static str) -> (PolicySource, &'static str) {
        let mut source = PolicySource::new(id, PolicyType::ServiceControlPolicy);
        source.version_id = Some(version.into());
        (source, document)
    }

    fn user(arn: &str, documents: &[&str]) -> CompiledPrincipal {
        CompiledPrincipal {
            caller: Caller::from_arn(arn).unwrap(),
            is_root: false,
            identity: documents
                .iter()
                .enumerate()
                .map(|(i, document)| {
                    Arc::new(compile_set([(
                        PolicySource::new(format!("{arn}#policy-{i}"), PolicyType::User),
                        *document,
                    )]))
                })
                .collect(),
            boundary: None,
            session: None,
            inputs_digest: [0; 32],
        }
    }

    fn root(account: &str) -> CompiledPrincipal {
        CompiledPrincipal {
            is_root: true,
            ..user(&format!("arn:aws:iam::{account}:root"), &[])
        }
    }

    fn service_control(compiler: &LevelCompiler, levels: &[&[(PolicySource, &str)]]) -> Guardrails {
        Guardrails {
            service_control: levels.iter().map(|level| compiler.compile(level)).collect(),
            resource_control: OrgLevels::default(),
        }
    }

    fn decide(principal: &CompiledPrincipal, action: &str, guardrails: &Guardrails) -> Decision {
        authorize_guarded(
            principal,
            action,
            "*",
            None,
            None,
            guardrails,
            guardrails,
            &Context::new(),
        )
    }

    #[test]
    fn an_scp_deny_beats_an_identity_allow() {
        let compiler = LevelCompiler::new();
        let alice = user("arn:aws:iam::111122223333:user/alice", &[ADMIN]);
        let guardrails = service_control(
            &compiler,
            &[
                &[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)],
                &[
                    scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS),
                    scp("p-stay", "2", STAY_IN_ORGANIZATION),
                ],
            ],
        );
        let denied = decide(&alice, "organizations:LeaveOrganization", &guardrails);
        assert_eq!(denied.effect, DecisionEffect::ExplicitDeny);
        assert!(denied.details.allowed_by_identity);
        assert_eq!(denied.matched.len(), 1);
        assert_eq!(denied.matched[0].slot, PolicySlot::ServiceControl);
        assert_eq!(&*denied.matched[0].source.id, "p-stay");
        assert!(denied.guardrails.is_empty());
        // Without the organization the same user may.
        assert!(decide(&alice, "organizations:LeaveOrganization", &Guardrails::none()).is_allowed());
    }

    #[test]
    fn a_level_that_does_not_allow_denies_implicitly() {
        let compiler = LevelCompiler::new();
        let alice = user("arn:aws:iam::111122223333:user/alice", &[ADMIN]);
        let storage_only =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let guardrails = service_control(
            &compiler,
            &[
                &[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)],
                &[scp("p-storage-only", "1", storage_only)],
                &[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)],
            ],
        );
        let denied = decide(&alice, "iam:CreateUser", &guardrails);
        assert_eq!(denied.effect, DecisionEffect::ImplicitDeny);
        assert_eq!(denied.details.allowed_by_organizations, Some(false));
        assert!(denied.matched.is_empty() && denied.guardrails.is_empty());
        assert!(decide(&alice, "s3:GetObject", &guardrails).is_allowed());
    }

    #[test]
    fn the_root_user_of_a_member_account_is_limited_by_its_scps() {
        let compiler = LevelCompiler::new();
        let root = root(MEMBER);
        let guardrails = service_control(
            &compiler,
            &[
                &[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)],
                &[
                    scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS),
                    scp("p-stay", "3", STAY_IN_ORGANIZATION),
                ],
            ],
        );
        let denied = decide(&root, "organizations:LeaveOrganization", &guardrails);
        assert_eq!(denied.effect, DecisionEffect::ExplicitDeny);
        assert_eq!(
            denied
                .matched
                .iter()
                .map(|m| (&*m.source.id, m.slot, m.sid.as_deref()))
                .collect::<Vec<_>>(),
            vec![("p-stay", PolicySlot::ServiceControl, Some("Stay"))]
        );

        let allowed = decide(&root, "iam:CreateUser", &guardrails);
        assert_eq!(allowed.effect, DecisionEffect::Allowed);
        assert_eq!(allowed.details.allowed_by_organizations, Some(true));
        assert_eq!(allowed.guardrails.len(), 2);

        // A level that does not allow stops the root user too.
        let storage_only =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let narrow = service_control(&compiler, &[&[scp("p-storage-only", "1", storage_only)]]);
        let outside = decide(&root, "iam:CreateUser", &narrow);
        assert_eq!(outside.effect, DecisionEffect::ImplicitDeny);
        assert_eq!(outside.details.allowed_by_organizations, Some(false));

        // Without guardrails the root user is allowed outright, naming nothing.
        let free = decide(&root, "organizations:LeaveOrganization", &Guardrails::none());
        assert_eq!(free.effect, DecisionEffect::Allowed);
        assert!(free.matched.is_empty() && free.guardrails.is_empty());
        assert_eq!(free.details.allowed_by_organizations, None);
    }

    #[test]
    fn an_rcp_limits_callers_from_outside_the_organization_on_the_guarded_account_s_resources() {
        let compiler = LevelCompiler::new();
        let rcp = |id: &str, document: &'static str| {
            let mut source = PolicySource::new(id, PolicyType::ResourceControlPolicy);
            source.version_id = Some("1".into());
            (source, document)
        };
        let organization_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrganizationOnly","Effect":"Deny",
            "Principal":"*","Action":"s3:*","Resource":"*",
            "Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-guarded"}}}]}"#;
        let full_access =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        let guarded = Guardrails {
            service_control: OrgLevels::default(),
            resource_control: [compiler.compile(&[
                rcp("p-RCPFullAWSAccess", full_access),
                rcp("p-organization-only", organization_only),
            ])]
            .into_iter()
            .collect(),
        };
        let bob = user(
            "arn:aws:iam::444455556666:user/bob",
            &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#],
        );
        let bucket_policy = compile_set([(
            PolicySource::new("arn:aws:s3:::shared", PolicyType::Resource),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#,
        )]);
        let decide = |organization: &str, principal_guardrails: &Guardrails, resource_guardrails: &Guardrails| {
            let context = Context::new().with("aws:PrincipalOrgID", ContextValue::single(organization));
            authorize_guarded(
                &bob,
                "s3:GetObject",
                "arn:aws:s3:::shared/report.csv",
                Some(MEMBER),
                Some(&bucket_policy),
                principal_guardrails,
                resource_guardrails,
                &context,
            )
        };

        let outsider = decide("o-other", &Guardrails::none(), &guarded);
        assert_eq!(outsider.effect, DecisionEffect::ExplicitDeny);
        assert_eq!(outsider.matched.len(), 1);
        assert_eq!(outsider.matched[0].slot, PolicySlot::ResourceControl);
        assert_eq!(outsider.matched[0].sid.as_deref(), Some("OrganizationOnly"));

        let member = decide("o-guarded", &Guardrails::none(), &guarded);
        assert_eq!(member.effect, DecisionEffect::Allowed);
        assert_eq!(member.details.allowed_by_resource_control, Some(true));
        assert_eq!(
            member.guardrails.iter().map(|m| &*m.source.id).collect::<Vec<_>>(),
            vec!["p-RCPFullAWSAccess"]
        );

        // RCPs bind the resource's account, not the caller's: the caller's own RCPs take no part.
        assert!(decide("o-other", &guarded, &Guardrails::none()).is_allowed());
    }

    #[test]
    fn an_allow_names_the_scp_statements_with_their_versions() {
        let compiler = LevelCompiler::new();
        let alice = user("arn:aws:iam::111122223333:user/alice", &[ADMIN]);
        let guardrails = service_control(
            &compiler,
            &[
                &[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)],
                &[
                    scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS),
                    scp("p-stay", "2", STAY_IN_ORGANIZATION),
                ],
                &[scp("p-account", "7", FULL_AWS_ACCESS)],
            ],
        );
        let allowed = decide(&alice, "s3:GetObject", &guardrails);
        assert_eq!(allowed.effect, DecisionEffect::Allowed);
        assert_eq!(allowed.matched.len(), 1);
        assert_eq!(allowed.matched[0].slot, PolicySlot::Identity);
        assert_eq!(
            allowed
                .guardrails
                .iter()
                .map(|m| (
                    &*m.source.id,
                    m.source.version_id.as_deref(),
                    m.source.policy_type,
                    m.slot
                ))
                .collect::<Vec<_>>(),
            vec![
                (
                    "p-FullAWSAccess",
                    Some("1"),
                    PolicyType::ServiceControlPolicy,
                    PolicySlot::ServiceControl
                ),
                (
                    "p-FullAWSAccess",
                    Some("1"),
                    PolicyType::ServiceControlPolicy,
                    PolicySlot::ServiceControl
                ),
                (
                    "p-account",
                    Some("7"),
                    PolicyType::ServiceControlPolicy,
                    PolicySlot::ServiceControl
                ),
            ]
        );
    }

    #[test]
    fn a_level_is_compiled_once_and_shared() {
        let compiler = LevelCompiler::new();
        let level = [
            scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS),
            scp("p-stay", "1", STAY_IN_ORGANIZATION),
        ];
        let first = compiler.compile(&level);
        assert!(Arc::ptr_eq(&first, &compiler.compile(&level)));
        // Another version of one policy is another level.
        let changed = compiler.compile(&[
            scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS),
            scp("p-stay", "2", STAY_IN_ORGANIZATION),
        ]);
        assert!(!Arc::ptr_eq(&first, &changed));
        // Once no account holds a level, it is compiled afresh.
        drop((first, changed));
        let again = compiler.compile(&level);
        assert_eq!(Arc::strong_count(&again), 1);
    }

    #[test]
    fn an_empty_level_or_an_unparseable_document_allows_nothing() {
        let compiler = LevelCompiler::new();
        let alice = user("arn:aws:iam::111122223333:user/alice", &[ADMIN]);
        let empty = service_control(&compiler, &[&[scp("p-FullAWSAccess", "1", FULL_AWS_ACCESS)], &[]]);
        assert_eq!(
            decide(&alice, "s3:GetObject", &empty).details.allowed_by_organizations,
            Some(false)
        );
        let broken = service_control(&compiler, &[&[scp("p-broken", "1", "{not json")]]);
        assert_eq!(
            decide(&alice, "s3:GetObject", &broken).effect,
            DecisionEffect::ImplicitDeny
        );
    }
}
