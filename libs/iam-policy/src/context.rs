//! The request context: condition keys and their values, and who is asking.

use std::borrow::Cow;
use std::sync::Arc;

use std::hash::Hasher;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxHasher;

/// The values of one context key. Single-valued keys hold one value; multivalued keys (such as
/// `aws:TagKeys`) any number, including none. Cloning one shares its values: a value kept ready
/// (an account's organization keys) goes into every request's context without copying.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContextValue {
    values: Arc<[String]>,
    multivalued: bool,
}

impl ContextValue {
    /// A single-valued key.
    pub fn single(value: impl Into<String>) -> Self {
        ContextValue {
            values: Arc::from([value.into()]),
            multivalued: false,
        }
    }

    /// A multivalued key (a list type such as `stringList`).
    pub fn list<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ContextValue {
            values: values.into_iter().map(Into::into).collect(),
            multivalued: true,
        }
    }

    /// Every value, as text.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether the key is multivalued.
    pub fn is_multivalued(&self) -> bool {
        self.multivalued
    }

    /// The one value of a single-valued key.
    pub fn as_single(&self) -> Option<&str> {
        match (&self.values[..], self.multivalued) {
            ([value], false) => Some(value),
            _ => None,
        }
    }
}

/// The organization condition keys of one side of a request (`aws:PrincipalOrgID` and
/// `aws:PrincipalOrgPaths`, or `aws:ResourceOrgID` and `aws:ResourceOrgPaths`), kept ready per
/// account and shared by every request's context, which reads them when asked rather than
/// holding copies of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgKeys {
    /// The organization's id.
    pub id: ContextValue,
    /// The account's path: `o-x/r-y/ou-a/`, as a one-value list.
    pub paths: ContextValue,
}

/// Condition keys of one request. Key names compare case-insensitively, as in AWS.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// (lowercased name, values), filed under [`key_hash`] of the name: a compiled policy
    /// hashes its keys once ([`ContextKey`]), not once per request. Literal names are borrowed.
    entries: HashTable<(Cow<'static, str>, ContextValue)>,
    /// The principal's and the resource's organization keys: they win over an entry of the same
    /// name, as what the organization says of a request is not the caller's to say.
    principal_org: Option<Arc<OrgKeys>>,
    resource_org: Option<Arc<OrgKeys>>,
    /// The resource's account is the principal's (the usual request): its keys are
    /// `principal_org`, held once.
    resource_org_is_principal: bool,
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.resource_keys() == other.resource_keys()
            && self.principal_org == other.principal_org
            && self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|(key, value)| other.entry(key_hash(key), key) == Some(value))
    }
}

impl Eq for Context {}

/// The hash a context files a (lowercased) key under.
fn key_hash(lowercased: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(lowercased.as_bytes());
    hasher.finish()
}

/// Byte equality in place: key names are short, and a call into the C library's `memcmp`
/// costs more than comparing them.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time, then the rest.
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_ne_bytes);
    let (mut a_words, mut b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    if !(&mut a_words).zip(&mut b_words).all(|(x, y)| word(x) == word(y)) {
        return false;
    }
    a_words.remainder().iter().zip(b_words.remainder()).all(|(x, y)| x == y)
}

/// Which organization key a name is: (the principal's rather than the resource's, the paths
/// rather than the id).
type OrgKeySide = (bool, bool);

/// The organization keys' names, lowercased.
const ORG_KEYS: [(&str, OrgKeySide); 4] = [
    ("aws:principalorgid", (true, false)),
    ("aws:principalorgpaths", (true, true)),
    ("aws:resourceorgid", (false, false)),
    ("aws:resourceorgpaths", (false, true)),
];

fn org_key_side(lowercased: &str) -> Option<OrgKeySide> {
    ORG_KEYS
        .iter()
        .find(|(name, _)| same_bytes(name.as_bytes(), lowercased.as_bytes()))
        .map(|(_, side)| *side)
}

/// A condition key as a compiled policy holds it: lowercased, hashed, and known to be an
/// organization key or not, so a request's lookup does none of that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextKey {
    name: Box<str>,
    hash: u64,
    organization: Option<OrgKeySide>,
}

impl ContextKey {
    /// The key `name` (any case).
    pub(crate) fn new(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        ContextKey {
            hash: key_hash(&name),
            organization: org_key_side(&name),
            name: name.into_boxed_str(),
        }
    }

    /// The lowercased name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty context with room for `keys` keys.
    pub fn with_capacity(keys: usize) -> Self {
        Context {
            entries: HashTable::with_capacity(keys),
            ..Context::default()
        }
    }

    /// Sets the organization keys of the principal's account and of the resource's account
    /// (`None` outside an organization): a pointer or two, where inserting the four keys would
    /// hash and store each.
    pub fn set_organizations(&mut self, principal: Option<&Arc<OrgKeys>>, resource: Option<&Arc<OrgKeys>>) {
        self.resource_org_is_principal = matches!((principal, resource), (Some(a), Some(b)) if Arc::ptr_eq(a, b));
        self.resource_org = match self.resource_org_is_principal {
            true => None,
            false => resource.cloned(),
        };
        self.principal_org = principal.cloned();
    }

    fn resource_keys(&self) -> Option<&OrgKeys> {
        match self.resource_org_is_principal {
            true => self.principal_org.as_deref(),
            false => self.resource_org.as_deref(),
        }
    }

    /// The value the organizations set for an organization key.
    fn organization_value(&self, (principal, paths): OrgKeySide) -> Option<&ContextValue> {
        let side = if principal {
            self.principal_org.as_deref()
        } else {
            self.resource_keys()
        };
        side.map(|keys| if paths { &keys.paths } else { &keys.id })
    }

    /// An organization key by its lowercased name, when the organizations set it.
    fn organization_key(&self, key: &str) -> Option<&ContextValue> {
        if self.principal_org.is_none() && self.resource_org.is_none() {
            return None;
        }
        self.organization_value(org_key_side(key)?)
    }

    fn entry(&self, hash: u64, lowercased: &str) -> Option<&ContextValue> {
        self.entries
            .find(hash, |(name, _)| same_bytes(name.as_bytes(), lowercased.as_bytes()))
            .map(|(_, value)| value)
    }

    /// The organization keys set.
    fn organization_entries(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        ORG_KEYS
            .iter()
            .filter_map(move |(name, side)| self.organization_value(*side).map(|value| (*name, value)))
    }

    /// The entries an organization key does not hide.
    fn plain_entries(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries
            .iter()
            .map(|(key, value)| (&**key, value))
            .filter(move |(key, _)| self.organization_key(key).is_none())
    }

    fn insert_entry(&mut self, key: Cow<'static, str>, value: ContextValue) {
        let hash = key_hash(&key);
        match self.entries.entry(
            hash,
            |(name, _)| same_bytes(name.as_bytes(), key.as_bytes()),
            |(name, _)| key_hash(name),
        ) {
            Entry::Occupied(mut found) => found.get_mut().1 = value,
            Entry::Vacant(vacant) => {
                vacant.insert((key, value));
            }
        }
    }

    /// Sets a key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: ContextValue) {
        self.insert_entry(Cow::Owned(key.to_ascii_lowercase()), value);
    }

    /// Sets a key named by a lowercase literal (`"aws:principalorgid"`) without copying its name:
    /// the keys Gatehouse sets on every request.
    pub fn insert_lowercase(&mut self, key: &'static str, value: ContextValue) {
        debug_assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key} is not lowercase");
        self.insert_entry(Cow::Borrowed(key), value);
    }

    /// Builder form of [`Context::insert`].
    pub fn with(mut self, key: &str, value: ContextValue) -> Self {
        self.insert(key, value);
        self
    }

    /// The values of a key; `key` may be in any case.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        let lowercased: Cow<'_, str> = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        };
        self.organization_key(&lowercased)
            .or_else(|| self.entry(key_hash(&lowercased), &lowercased))
    }

    /// The values of a key a compiled policy names: no case folding or hashing per request.
    pub(crate) fn get_key(&self, key: &ContextKey) -> Option<&ContextValue> {
        if let Some(side) = key.organization {
            if let Some(value) = self.organization_value(side) {
                return Some(value);
            }
        }
        self.entry(key.hash, &key.name)
    }

    /// Whether the key is present.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.plain_entries().count() + self.organization_entries().count()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key (lowercased) and its values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.plain_entries().chain(self.organization_entries())
    }
}

/// What kind of caller a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    User,
    /// A session of an assumed role (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    AssumedRole,
    /// A federated user session.
    FederatedUser,
    /// A service principal such as `ec2.amazonaws.com`.
    Service,
    /// A web-identity or SAML federated principal.
    WebIdentity,
    /// No credentials at all.
    Anonymous,
}

/// Who is making a request, as far as `Principal` elements of resource-based policies care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The kind of principal.
    pub kind: PrincipalKind,
    /// Its ARN (or the service name / provider for `Service` and `WebIdentity`; empty for anonymous).
    pub arn: String,
    /// The 12-digit account it belongs to (empty for services and anonymous callers).
    pub account: String,
    /// For an assumed-role session, the role's ARN, which resource policies may name instead.
    pub role_arn: Option<String>,
}

impl Caller {
    /// A caller identified by an IAM ARN (`user/`, `role/`, `root`, `assumed-role/`, `federated-user/`).
    /// Returns `None` when the ARN is not one of those.
    pub fn from_arn(arn: &str) -> Option<Caller> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(_region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let kind = match service {
            "iam" if resource == "root" => PrincipalKind::Root,
            "iam" if resource.starts_with("user/") => PrincipalKind::User,
            "iam" if resource.starts_with("role/") => PrincipalKind::AssumedRole,
            "sts" if resource.starts_with("assumed-role/") => PrincipalKind::AssumedRole,
            "sts" if resource.starts_with("federated-user/") => PrincipalKind::FederatedUser,
            _ => return None,
        };
        let role_arn = match service {
            "sts" if kind == PrincipalKind::AssumedRole => {
                let role_name = resource.trim_start_matches("assumed-role/").split('/').next()?;
                Some(format!("arn:{partition}:iam::{account}:role/{role_name}"))
            }
            "iam" if kind == PrincipalKind::AssumedRole => Some(arn.to_string()),
            _ => None,
        };
        Some(Caller {
            kind,
            arn: arn.to_string(),
            account: account.to_string(),
            role_arn,
        })
    }

    /// A service principal.
    pub fn service(name: &str) -> Caller {
        Caller {
            kind: PrincipalKind::Service,
            arn: name.to_string(),
            account: String::new(),
            role_arn: None,
        }
    }

    /// A caller without credentials.
    pub fn anonymous() -> Caller {
        Caller {
            kind: PrincipalKind::Anonymous,
            arn: String::new(),
            account: String::new(),
            role_arn: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let context = Context::new().with("aws:SourceIp", ContextValue::single("10.0.0.1"));
        assert!(context.contains("AWS:SOURCEIP"));
        assert_eq!(
            context.get("aws:sourceip").and_then(ContextValue::as_single),
            Some("10.0.0.1")
        );
    }

    #[test]
    fn organization_keys_are_read_through_and_win_over_entries() {
        let keys = |id: &str| {
            Arc::new(OrgKeys {
                id: ContextValue::single(id),
                paths: ContextValue::list([format!("{id}/r-ab12/")]),
            })
        };
        let mut context = Context::new()
            .with("aws:SourceIp", ContextValue::single("10.0.0.1"))
            .with("aws:PrincipalOrgID", ContextValue::single("o-forged00000"));
        context.set_organizations(Some(&keys("o-principal00")), Some(&keys("o-resource000")));
        let single =
            |context: &Context, key: &str| context.get(key).and_then(ContextValue::as_single).map(str::to_owned);
        assert_eq!(single(&context, "aws:PrincipalOrgID").as_deref(), Some("o-principal00"));
        assert_eq!(single(&context, "aws:resourceorgid").as_deref(), Some("o-resource000"));
        assert_eq!(
            context.get("AWS:ResourceOrgPaths").map(ContextValue::values),
            Some(&["o-resource000/r-ab12/".to_owned()][..])
        );
        assert_eq!(single(&context, "aws:sourceip").as_deref(), Some("10.0.0.1"));
        assert_eq!(
            context.len(),
            5,
            "four organization keys and the address; the forged id hidden"
        );
        let mut listed: Vec<&str> = context.iter().map(|(key, _)| key).collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            [
                "aws:principalorgid",
                "aws:principalorgpaths",
                "aws:resourceorgid",
                "aws:resourceorgpaths",
                "aws:sourceip"
            ]
        );
        // Outside any organization only the principal's side is absent.
        context.set_organizations(None, Some(&keys("o-resource000")));
        assert_eq!(single(&context, "aws:PrincipalOrgID").as_deref(), Some("o-forged00000"));
        assert!(context.get("aws:principalorgpaths").is_none());
        // A request on the principal's own account: one set of keys answers for both sides.
        let own = keys("o-own00000000");
        context.set_organizations(Some(&own), Some(&own));
        assert_eq!(single(&context, "aws:ResourceOrgID").as_deref(), Some("o-own00000000"));
        assert_eq!(single(&context, "aws:PrincipalOrgID").as_deref(), Some("o-own00000000"));
        assert_eq!(Arc::strong_count(&own), 2, "held once by the context");
        let mut copy = Context::new().with("aws:SourceIp", ContextValue::single("10.0.0.1"));
        copy.insert("aws:PrincipalOrgID", ContextValue::single("o-forged00000"));
        copy.set_organizations(Some(&own), Some(&keys("o-own00000000")));
        assert_eq!(copy, context, "the same keys, held once or twice");
    }

    #[test]
    fn callers_from_arns() {
        let session = Caller::from_arn("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
        assert_eq!(session.kind, PrincipalKind::AssumedRole);
        assert_eq!(session.account, "111122223333");
        assert_eq!(
            session.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        let user = Caller::from_arn("arn:aws:iam::111122223333:user/division/bob").unwrap();
        assert_eq!(user.kind, PrincipalKind::User);
        assert!(Caller::from_arn("arn:aws:s3:::bucket").is_none());
        assert!(Caller::from_arn("not-an-arn").is_none());
    }
}
