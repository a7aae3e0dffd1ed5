//! The in-memory evaluation model: for one account's state, each principal's identity-based
//! policies and permissions boundary compiled once (by `iam-policy`) and reused for every
//! decision until the account changes. No database is read on the decision path.
//!
//! An organization's SCPs and RCPs limit those decisions as [`Guardrails`]: levels compiled once
//! by a [`LevelCompiler`] and shared by every account under them (see `guardrails.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};
use iam_domain::session::{SessionClaims, SessionKind};
use iam_domain::AccountState;
use iam_policy::{Caller, Context, ContextValue, Decision, ParsedPolicy, PolicySet, PolicySource, PolicyType};
use iam_types::{AccountId, IamArn, ResourceKind};

mod guardrails;

pub use guardrails::{authorize_guarded, Guardrails, LevelCompiler};

/// The most role sessions one model keeps compiled (each is compiled again when evicted).
const MAX_CACHED_SESSIONS: usize = 10_000;

/// A principal's policies, compiled. What describes the principal in a request (its name, id,
/// tags) is read from the account state when a request is made, so a compilation holds only
/// what evaluation needs and is shared by every later state in which those inputs are unchanged.
#[derive(Debug)]
pub struct CompiledPrincipal {
    /// Who it is, for `Principal` matching.
    pub caller: Caller,
    /// The root user is allowed everything in its own account.
    pub is_root: bool,
    /// Identity-based policies (own, then groups').
    pub identity: Box<[Arc<PolicySet>]>,
    /// The permissions boundary.
    pub boundary: Option<Arc<PolicySet>>,
    /// A role session's session policies (inline and managed, any of them allowing), which
    /// limit what the role's policies grant.
    pub session: Option<Arc<PolicySet>>,
    /// SHA-256 of everything the compilation read (documents, their ids and versions): a later
    /// model reuses this compilation when the digest is unchanged.
    pub inputs_digest: [u8; 32],
}

impl CompiledPrincipal {
    /// Every policy (id or ARN, type, version) the principal's decisions are made against,
    /// identity policies first, so a recorded decision can be explained and replayed later.
    pub fn policy_sources(&self) -> impl Iterator<Item = &PolicySource> {
        self.identity
            .iter()
            .chain(self.boundary.as_ref())
            .flat_map(|set| set.sources())
    }

    /// Whether some request for `action` could be allowed to this principal by its own policies:
    /// an identity policy allows the action on some resource (conditions aside), none denies it
    /// everywhere, and the boundary and session policies allow it somewhere too. Organization
    /// policies and resource policies are not considered. For interfaces that hide controls the
    /// principal can never use; every request is still decided in full.
    pub fn could_be_allowed(&self, action: &str) -> bool {
        if self.is_root {
            return true;
        }
        self.identity.iter().any(|set| set.allows_somewhere(action))
            && !self.identity.iter().any(|set| set.denies_everywhere(action))
            && self.boundary.as_ref().is_none_or(|set| set.allows_somewhere(action))
            && self.session.as_ref().is_none_or(|set| set.allows_somewhere(action))
    }
}

/// Facts of one request that the model cannot know by itself.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The caller's IP address (`aws:SourceIp`).
    pub source_ip: Option<String>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Further keys given by the caller.
    pub extra: Vec<(String, ContextValue)>,
}

/// One account's state with its compiled principals.
#[derive(Debug)]
pub struct AccountModel {
    state: Arc<AccountState>,
    /// Each policy (document, id, type, version) compiled once per account and shared by every
    /// principal it applies to; held weakly, so a set lives as long as a principal uses it.
    sets: Arc<Mutex<HashMap<[u8; 32], Weak<PolicySet>>>>,
    // Keyed by the principal's ARN, shared (not copied) when a successor carries an entry over.
    compiled: Mutex<HashMap<Arc<str>, Arc<CompiledPrincipal>>>,
    /// Compilations from the model this one succeeded, reused where their inputs are unchanged,
    /// so a change to one user does not make every principal of the account recompile.
    carried: HashMap<Arc<str>, Arc<CompiledPrincipal>>,
}

/// The digest of a compilation's inputs.
fn inputs_digest(principal_arn: &str, policies: Option<&iam_domain::EffectivePolicies>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    // Every field is length-prefixed so that no two different inputs hash the same bytes.
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(principal_arn.as_bytes());
    if let Some(policies) = policies {
        for (slot, policy) in policies
            .identity
            .iter()
            .map(|p| ("identity", p))
            .chain(policies.permissions_boundary.iter().map(|p| ("boundary", p)))
        {
            field(slot.as_bytes());
            field(policy.source_id.as_bytes());
            field(policy.policy_type.as_str().as_bytes());
            field(policy.version_id.as_deref().unwrap_or("").as_bytes());
            field(policy.document.as_bytes());
        }
    }
    hasher.finalize().into()
}

fn compile_set<D: AsRef<str>>(sources: impl IntoIterator<Item = (PolicySource, D)>) -> PolicySet {
    let mut set = PolicySet::new();
    for (source, document) in sources {
        // Stored documents were validated when written; one that no longer parses (a newer,
        // stricter engine) grants nothing rather than failing every decision.
        let parsed: Option<ParsedPolicy> = iam_policy::parse_policy(document.as_ref()).ok();
        if let Some(parsed) = parsed {
            let _ = set.add(source, &parsed);
        }
    }
    set
}

fn source_of(policy: &iam_domain::EffectivePolicy) -> (PolicySource, String) {
    let mut source = PolicySource::new(policy.source_id.as_str(), policy.policy_type);
    source.version_id = policy.version_id.as_deref().map(Into::into);
    (source, policy.document.clone())
}

impl AccountModel {
    /// A model over one state.
    pub fn new(state: Arc<AccountState>) -> Self {
        AccountModel {
            state,
            sets: Arc::default(),
            compiled: Mutex::new(HashMap::new()),
            carried: HashMap::new(),
        }
    }

    /// A model over `state`, the next state of `previous`'s account: principals whose policies
    /// and context did not change keep their compilation.
    pub fn succeeding(previous: &AccountModel, state: Arc<AccountState>) -> Self {
        let mut carried = previous.carried.clone();
        if let Ok(compiled) = previous.compiled.lock() {
            carried.extend(compiled.iter().map(|(arn, principal)| (arn.clone(), principal.clone())));
        }
        // Principals that are gone take their compilations with them.
        carried.retain(|arn, _| {
            let Ok(arn) = IamArn::parse(arn) else { return false };
            match (arn.kind(), arn.name()) {
                (Some(ResourceKind::User), Some(name)) => state.user(name.as_str()).is_some(),
                (Some(ResourceKind::Role), Some(name)) => state.role(name.as_str()).is_some(),
                _ => false,
            }
        });
        AccountModel {
            state,
            sets: previous.sets.clone(),
            compiled: Mutex::new(HashMap::new()),
            carried,
        }
    }

    /// The state the model was built from.
    pub fn state(&self) -> &Arc<AccountState> {
        &self.state
    }

    /// The compiled principal behind an ARN (root or a user of this account), compiled on first use.
    pub fn principal(&self, principal_arn: &str) -> Option<Arc<CompiledPrincipal>> {
        if let Ok(cache) = self.compiled.lock() {
            if let Some(found) = cache.get(principal_arn) {
                return Some(found.clone());
            }
        }
        let (key, compiled) = self.compile(principal_arn)?;
        if let Ok(mut cache) = self.compiled.lock() {
            cache.insert(key, compiled.clone());
        }
        Some(compiled)
    }

    /// A role session of this account as a principal: the role's identity policies and
    /// boundary, limited by the session's policies (inline and managed). `None` when the role is
    /// gone (or was replaced by another of the same name), or a session policy names a managed
    /// policy that no longer exists. Compiled on first use per session key.
    pub fn session_principal(&self, claims: &SessionClaims) -> Option<Arc<CompiledPrincipal>> {
        // A user session (`GetSessionToken`, a sign-in) is the user itself: no session policies.
        if matches!(claims.kind, SessionKind::UserSession | SessionKind::SignIn) {
            let principal = self.principal(&claims.issuer_arn)?;
            let same = principal.is_root
                || self
                    .state
                    .users()
                    .any(|u| u.user_id.as_str() == claims.issuer_id && u.arn.to_string() == claims.issuer_arn);
            return same.then_some(principal);
        }
        let key = format!("session:{}", claims.access_key_id);
        if let Ok(cache) = self.compiled.lock() {
            if let Some(found) = cache.get(key.as_str()) {
                return Some(found.clone());
            }
        }
        if self.state.account_id().map(AccountId::as_str) != Some(claims.account_id.as_str()) {
            return None;
        }
        let issuer = IamArn::parse(&claims.issuer_arn).ok()?;
        let policies = if claims.kind == SessionKind::FederatedUser {
            // A federated user: the issuing user's policies, limited by the session's.
            let user = self.state.user(issuer.name()?.as_str())?;
            if user.arn != issuer || user.user_id.as_str() != claims.issuer_id {
                return None;
            }
            self.state.effective_policies_of_user(user.user_name.as_str())?
        } else {
            let role = self.state.role(issuer.name()?.as_str())?;
            if role.arn != issuer || role.role_id.as_str() != claims.issuer_id {
                return None;
            }
            self.state.effective_policies_of_role(role.role_name.as_str())?
        };
        // Session policies are given directly, as a simulation's are: one set, any allowing.
        let mut documents: Vec<(PolicySource, String)> = Vec::new();
        if let Some(inline) = &claims.session_policy {
            documents.push((PolicySource::new("session-policy", PolicyType::None), inline.clone()));
        }
        for arn in &claims.policy_arns {
            let policy = self.state.managed_policy(&IamArn::parse(arn).ok()?)?;
            let document = policy.default_version()?.document.clone();
            documents.push((PolicySource::new(arn.as_str(), PolicyType::None), document));
        }
        // A federated user without session policies has no permissions, as in AWS: an empty
        // session set allows nothing.
        let session = (!documents.is_empty() || claims.kind == SessionKind::FederatedUser)
            .then(|| Arc::new(compile_set(documents)));
        let caller = Caller::from_arn(&claims.principal_arn)?;
        let mut compiled = compiled(&self.sets, caller, &policies, [0; 32]);
        compiled.session = session;
        let compiled = Arc::new(compiled);
        if let Ok(mut cache) = self.compiled.lock() {
            // Sessions come and go: keep at most a bounded number compiled per model.
            if cache.len() < MAX_CACHED_SESSIONS {
                cache.insert(Arc::from(key.as_str()), compiled.clone());
            }
        }
        Some(compiled)
    }

    /// Compiles a principal (or takes the predecessor's compilation), with its cache key.
    fn compile(&self, principal_arn: &str) -> Option<(Arc<str>, Arc<CompiledPrincipal>)> {
        let account = self.state.account_id()?;
        // A role session named by its ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`,
        // as the decision API and AuthZEN name it): the role's policies, with no session policy.
        if let Some((role_name, _)) = assumed_role_of(principal_arn, account.as_str()) {
            let role = self.state.role(role_name)?;
            let policies = self.state.effective_policies_of_role(role.role_name.as_str())?;
            let caller = Caller::from_arn(principal_arn)?;
            let digest = inputs_digest(principal_arn, Some(&policies));
            return Some((
                Arc::from(principal_arn),
                Arc::new(compiled(&self.sets, caller, &policies, digest)),
            ));
        }
        // A federated user named by its ARN (`arn:aws:sts::<account>:federated-user/<name>`): its
        // permissions are its issuing user's narrowed by its session's policies, and the ARN
        // carries neither, so it holds only what resource-based policies grant it by name (an
        // empty session set allows nothing else).
        if federated_user_of(principal_arn, account.as_str()).is_some() {
            let caller = Caller::from_arn(principal_arn)?;
            let federated = CompiledPrincipal {
                caller,
                is_root: false,
                identity: Box::default(),
                boundary: None,
                session: Some(Arc::new(compile_set(std::iter::empty::<(PolicySource, &str)>()))),
                inputs_digest: inputs_digest(principal_arn, None),
            };
            return Some((Arc::from(principal_arn), Arc::new(federated)));
        }
        let arn = IamArn::parse(principal_arn).ok()?;
        if arn.account() != Some(account) {
            return None;
        }
        let caller = Caller::from_arn(principal_arn)?;
        if arn == IamArn::root(account) {
            let root = CompiledPrincipal {
                caller,
                is_root: true,
                identity: Box::default(),
                boundary: None,
                session: None,
                inputs_digest: inputs_digest(principal_arn, None),
            };
            return Some((Arc::from(principal_arn), Arc::new(root)));
        }
        let policies = match arn.kind()? {
            ResourceKind::User => {
                let user = self.state.user(arn.name()?.as_str())?;
                if user.arn != arn {
                    return None;
                }
                self.state.effective_policies_of_user(user.user_name.as_str())?
            }
            // A role as a principal: its identity policies and boundary, as for a session of
            // the role with no session policy.
            ResourceKind::Role => {
                let role = self.state.role(arn.name()?.as_str())?;
                if role.arn != arn {
                    return None;
                }
                self.state.effective_policies_of_role(role.role_name.as_str())?
            }
            _ => return None,
        };
        // Reuse the previous model's compilation when its inputs are unchanged.
        let digest = inputs_digest(principal_arn, Some(&policies));
        Some(match self.carried.get_key_value(principal_arn) {
            Some((key, previous)) if previous.inputs_digest == digest => (key.clone(), previous.clone()),
            _ => (
                Arc::from(principal_arn),
                Arc::new(compiled(&self.sets, caller, &policies, digest)),
            ),
        })
    }

    /// The request context: what the state says of the principal (`aws:username`, `aws:userid`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:PrincipalTag/*`),
    /// the clock, and the request's own facts.
    pub fn request_context(&self, principal: &CompiledPrincipal, facts: &RequestFacts, now: DateTime<Utc>) -> Context {
        // About ten keys are set below; room for them and the caller's own avoids regrowing.
        let mut context = Context::with_capacity(16 + facts.extra.len());
        let arn = principal.caller.arn.as_str();
        context.insert_lowercase("aws:principalarn", ContextValue::single(arn));
        context.insert_lowercase(
            "aws:principalaccount",
            ContextValue::single(principal.caller.account.as_str()),
        );
        let name = IamArn::parse(arn)
            .ok()
            .and_then(|arn| arn.name().map(|n| n.as_str().to_owned()));
        if principal.is_root {
            context.insert_lowercase("aws:principaltype", ContextValue::single("Account"));
            context.insert_lowercase("aws:userid", ContextValue::single(principal.caller.account.as_str()));
        } else if let Some(user) = name.as_deref().and_then(|name| self.state.user(name)) {
            context.insert_lowercase("aws:principaltype", ContextValue::single("User"));
            context.insert_lowercase("aws:username", ContextValue::single(user.user_name.as_str()));
            context.insert_lowercase("aws:userid", ContextValue::single(user.user_id.as_str()));
            for tag in &user.tags {
                context.insert(
                    &format!("aws:PrincipalTag/{}", tag.key()),
                    ContextValue::single(tag.value()),
                );
            }
        } else if let Some((role, session)) = assumed_role_of(arn, principal.caller.account.as_str())
            .and_then(|(role, session)| Some((self.state.role(role)?, session)))
        {
            context.insert_lowercase("aws:principaltype", ContextValue::single("AssumedRole"));
            context.insert_lowercase("aws:principalarn", ContextValue::single(role.arn.to_string()));
            context.insert(
                "aws:userid",
                ContextValue::single(format!("{}:{session}", role.role_id)),
            );
            for tag in &role.tags {
                context.insert(
                    &format!("aws:PrincipalTag/{}", tag.key()),
                    ContextValue::single(tag.value()),
                );
            }
        } else if let Some(role) = name.as_deref().and_then(|name| self.state.role(name)) {
            context.insert_lowercase("aws:principaltype", ContextValue::single("AssumedRole"));
            context.insert_lowercase("aws:userid", ContextValue::single(role.role_id.as_str()));
            for tag in &role.tags {
                context.insert(
                    &format!("aws:PrincipalTag/{}", tag.key()),
                    ContextValue::single(tag.value()),
                );
            }
        }
        context.insert_lowercase(
            "aws:currenttime",
            ContextValue::single(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        context.insert_lowercase("aws:epochtime", ContextValue::single(now.timestamp().to_string()));
        context.insert_lowercase(
            "aws:securetransport",
            ContextValue::single(facts.secure_transport.to_string()),
        );
        if let Some(ip) = &facts.source_ip {
            context.insert_lowercase("aws:sourceip", ContextValue::single(ip.clone()));
        }
        for (key, value) in &facts.extra {
            context.insert(key, value.clone());
        }
        context
    }
}

/// The role and session names of `arn:aws:sts::<account>:assumed-role/<role>/<session>` in
/// `account`; `None` for any other ARN.
fn assumed_role_of<'a>(arn: &'a str, account: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:sts::")?.strip_prefix(account)?;
    let (role, session) = rest.strip_prefix(":assumed-role/")?.split_once('/')?;
    (!role.is_empty() && !session.is_empty() && !session.contains('/')).then_some((role, session))
}

/// The name in `arn:aws:sts::<account>:federated-user/<name>`, for this account.
fn federated_user_of<'a>(arn: &'a str, account: &str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:sts::")?.strip_prefix(account)?;
    let name = rest.strip_prefix(":federated-user/")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// The shared compiled set of one policy, compiling it on first use. Sets are found by policy
/// (document, id, type, version): every principal a managed policy is attached to shares one.
/// Compiled statements are also found by document alone, so one inline document written for
/// many principals is compiled once and shared under each owner's source.
fn shared_set(
    sets: &Mutex<HashMap<[u8; 32], Weak<PolicySet>>>,
    policy: &iam_domain::EffectivePolicy,
) -> Arc<PolicySet> {
    use sha2::{Digest, Sha256};
    let digest = |fields: &[&str]| -> [u8; 32] {
        let mut hasher = Sha256::new();
        for field in fields {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.finalize().into()
    };
    let key = digest(&[
        policy.source_id.as_str(),
        policy.policy_type.as_str(),
        policy.version_id.as_deref().unwrap_or(""),
        policy.document.as_str(),
    ]);
    // A different number of fields keeps the two kinds of key apart.
    let body_key = digest(&[policy.document.as_str()]);
    let found = |key: &[u8; 32]| sets.lock().ok().and_then(|map| map.get(key).and_then(Weak::upgrade));
    if let Some(set) = found(&key) {
        return set;
    }
    let (source, document) = source_of(policy);
    let set = match found(&body_key).and_then(|body| body.with_sources(vec![source.clone()]).ok()) {
        Some(set) => Arc::new(set),
        None => Arc::new(compile_set([(source, document)])),
    };
    if let Ok(mut map) = sets.lock() {
        // Forget sets no principal holds any more, now and then.
        if map.len() >= 1024 && map.len().is_power_of_two() {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        map.insert(key, Arc::downgrade(&set));
        if map.get(&body_key).and_then(Weak::upgrade).is_none() {
            map.insert(body_key, Arc::downgrade(&set));
        }
    }
    set
}

fn compiled(
    sets: &Mutex<HashMap<[u8; 32], Weak<PolicySet>>>,
    caller: Caller,
    policies: &iam_domain::EffectivePolicies,
    inputs_digest: [u8; 32],
) -> CompiledPrincipal {
    CompiledPrincipal {
        caller,
        is_root: false,
        identity: policies.identity.iter().map(|p| shared_set(sets, p)).collect(),
        boundary: policies.permissions_boundary.as_ref().map(|b| shared_set(sets, b)),
        session: None,
        inputs_digest,
    }
}

/// Decides whether a principal of this account may perform `action` on `resource`.
pub fn authorize(principal: &CompiledPrincipal, action: &str, resource: &str, context: &Context) -> Decision {
    authorize_with_resource_policy(principal, action, resource, None, None, context)
}

/// [`authorize`] with the resource's owning account (`None`: the principal's own) and its
/// resource-based policy, for cross-account and resource-policy decisions. No organization
/// guardrails: see [`authorize_guarded`].
pub fn authorize_with_resource_policy(
    principal: &CompiledPrincipal,
    action: &str,
    resource: &str,
    resource_account: Option<&str>,
    resource_policy: Option<&PolicySet>,
    context: &Context,
) -> Decision {
    authorize_guarded(
        principal,
        action,
        resource,
        resource_account,
        resource_policy,
        &Guardrails::none(),
        &Guardrails::none(),
        context,
    )
}

#[cfg(test)]
mod tests {
    use iam_domain::{decide, evolve, Command, DecideContext};
    use iam_policy::DecisionEffect;

    use super::*;

    fn apply(state: &AccountState, command: Command, n: u8) -> AccountState {
        let context = DecideContext::new(Utc::now(), [n; 16], "arn:aws:iam::123456789012:root");
        let mut next = state.clone();
        for event in decide(state, &command, &context).unwrap() {
            evolve(&mut next, &event);
        }
        next
    }

    fn user(name: &str) -> Command {
        Command::CreateUser {
            user_name: name.into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        }
    }

    #[test]
    fn a_successor_reuses_compilations_whose_inputs_did_not_change() {
        let mut state = apply(
            &AccountState::new(),
            Command::CreateAccount {
                account_id: "123456789012".into(),
                account_alias: None,
            },
            1,
        );
        state = apply(&state, user("alice"), 2);
        let first = AccountModel::new(Arc::new(state.clone()));
        let alice = "arn:aws:iam::123456789012:user/alice";
        let compiled = first.principal(alice).unwrap();

        // Another user's change leaves alice's compilation as it was.
        state = apply(&state, user("bob"), 3);
        let second = AccountModel::succeeding(&first, Arc::new(state.clone()));
        assert!(Arc::ptr_eq(&compiled, &second.principal(alice).unwrap()));

        // A change to alice's own policies recompiles her, and the decision follows it.
        let context = Context::new();
        assert_eq!(
            authorize(&second.principal(alice).unwrap(), "s3:GetObject", "*", &context).effect,
            DecisionEffect::ImplicitDeny
        );
        state = apply(
            &state,
            Command::AttachUserPolicy {
                user_name: "alice".into(),
                policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
            },
            4,
        );
        let third = AccountModel::succeeding(&second, Arc::new(state.clone()));
        let recompiled = third.principal(alice).unwrap();
        assert!(!Arc::ptr_eq(&compiled, &recompiled));
        assert_eq!(
            authorize(&recompiled, "s3:GetObject", "*", &context).effect,
            DecisionEffect::Allowed
        );

        // A deleted user's compilation is not carried on.
        state = apply(
            &state,
            Command::DeleteUser {
                user_name: "bob".into(),
            },
            5,
        );
        let _ = third.principal("arn:aws:iam::123456789012:user/bob").unwrap();
        let fourth = AccountModel::succeeding(&third, Arc::new(state));
        assert!(fourth.principal("arn:aws:iam::123456789012:user/bob").is_none());
        assert!(!fourth.carried.contains_key("arn:aws:iam::123456789012:user/bob"));
    }

    #[test]
    fn principal_tags_come_from_the_current_state_without_recompiling() {
        let mut state = apply(
            &AccountState::new(),
            Command::CreateAccount {
                account_id: "123456789012".into(),
                account_alias: None,
            },
            1,
        );
        state = apply(&state, user("alice"), 2);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"payments"}}}]}"#;
        state = apply(
            &state,
            Command::PutUserPolicy {
                user_name: "alice".into(),
                policy_name: "team-only".into(),
                policy_document: policy.into(),
            },
            3,
        );
        let alice = "arn:aws:iam::123456789012:user/alice";
        let untagged = AccountModel::new(Arc::new(state.clone()));
        let before = untagged.principal(alice).unwrap();
        let decide = |model: &AccountModel| {
            let principal = model.principal(alice).unwrap();
            let context = model.request_context(&principal, &RequestFacts::default(), Utc::now());
            authorize(&principal, "s3:GetObject", "*", &context).effect
        };
        assert_eq!(decide(&untagged), DecisionEffect::ImplicitDeny);

        state = apply(
            &state,
            Command::TagUser {
                user_name: "alice".into(),
                tags: vec![iam_domain::TagInput::new("team", "payments")],
            },
            4,
        );
        let tagged = AccountModel::succeeding(&untagged, Arc::new(state));
        // The policies did not change, so the compilation is carried over; the tag still counts.
        assert!(Arc::ptr_eq(&before, &tagged.principal(alice).unwrap()));
        assert_eq!(decide(&tagged), DecisionEffect::Allowed);
        let context = tagged.request_context(&before, &RequestFacts::default(), Utc::now());
        assert_eq!(
            context.get("aws:username").map(|v| v.values().to_vec()),
            Some(vec!["alice".to_owned()])
        );
    }

    #[test]
    fn one_inline_document_of_many_users_is_reported_under_each_owner() {
        let mut state = apply(
            &AccountState::new(),
            Command::CreateAccount {
                account_id: "123456789012".into(),
                account_alias: None,
            },
            1,
        );
        let home = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#;
        for (n, name) in [(2, "alice"), (4, "bob")] {
            state = apply(&state, user(name), n);
            state = apply(
                &state,
                Command::PutUserPolicy {
                    user_name: name.into(),
                    policy_name: "home".into(),
                    policy_document: home.into(),
                },
                n + 1,
            );
        }
        let model = AccountModel::new(Arc::new(state));
        for name in ["alice", "bob"] {
            let principal = model
                .principal(&format!("arn:aws:iam::123456789012:user/{name}"))
                .unwrap();
            let context = model.request_context(&principal, &RequestFacts::default(), Utc::now());
            let own = authorize(
                &principal,
                "s3:GetObject",
                &format!("arn:aws:s3:::home/{name}/a"),
                &context,
            );
            assert_eq!(own.effect, DecisionEffect::Allowed);
            assert_eq!(
                own.matched[0].source.id.as_ref(),
                format!("arn:aws:iam::123456789012:user/{name}#home")
            );
            assert_eq!(own.matched[0].sid.as_deref(), Some("Home"));
            let other = if name == "alice" { "bob" } else { "alice" };
            let theirs = authorize(
                &principal,
                "s3:GetObject",
                &format!("arn:aws:s3:::home/{other}/a"),
                &context,
            );
            assert_eq!(theirs.effect, DecisionEffect::ImplicitDeny);
            assert_eq!(
                principal.policy_sources().map(|s| s.id.to_string()).collect::<Vec<_>>(),
                vec![format!("arn:aws:iam::123456789012:user/{name}#home")]
            );
        }
    }

    #[test]
    fn principals_share_the_compiled_set_of_a_policy_they_both_have() {
        let mut state = apply(
            &AccountState::new(),
            Command::CreateAccount {
                account_id: "123456789012".into(),
                account_alias: None,
            },
            1,
        );
        for (n, name) in [(2, "alice"), (3, "bob")] {
            state = apply(&state, user(name), n);
            state = apply(
                &state,
                Command::AttachUserPolicy {
                    user_name: name.into(),
                    policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                },
                n + 10,
            );
        }
        let model = AccountModel::new(Arc::new(state));
        let alice = model.principal("arn:aws:iam::123456789012:user/alice").unwrap();
        let bob = model.principal("arn:aws:iam::123456789012:user/bob").unwrap();
        assert_eq!((alice.identity.len(), bob.identity.len()), (1, 1));
        assert!(Arc::ptr_eq(&alice.identity[0], &bob.identity[0]));
        let context = Context::new();
        assert_eq!(
            authorize(&bob, "s3:GetObject", "*", &context).effect,
            DecisionEffect::Allowed
        );
    }
}
