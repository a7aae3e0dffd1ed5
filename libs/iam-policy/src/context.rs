//! The request context: condition keys and their values, and who is asking.

use std::borrow::Cow;
use std::sync::Arc;

use rustc_hash::FxHashMap;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Lowercased names: literals are borrowed, not copied.
    entries: FxHashMap<Cow<'static, str>, ContextValue>,
    /// The principal's and the resource's organization keys: they win over an entry of the same
    /// name, as what the organization says of a request is not the caller's to say.
    principal_org: Option<Arc<OrgKeys>>,
    resource_org: Option<Arc<OrgKeys>>,
}

/// The organization keys' names, lowercased: (principal's or resource's, id or paths).
const ORG_KEYS: [(&str, bool, bool); 4] = [
    ("aws:principalorgid", true, false),
    ("aws:principalorgpaths", true, true),
    ("aws:resourceorgid", false, false),
    ("aws:resourceorgpaths", false, true),
];

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty context with room for `keys` keys.
    pub fn with_capacity(keys: usize) -> Self {
        Context {
            entries: FxHashMap::with_capacity_and_hasher(keys, Default::default()),
            ..Context::default()
        }
    }

    /// Sets the organization keys of the principal's account and of the resource's account
    /// (`None` outside an organization): two pointers, where inserting the four keys would hash
    /// and store each.
    pub fn set_organizations(&mut self, principal: Option<Arc<OrgKeys>>, resource: Option<Arc<OrgKeys>>) {
        self.principal_org = principal;
        self.resource_org = resource;
    }

    /// An organization key by its lowercased name, when the organizations set it.
    fn organization_key(&self, key: &str) -> Option<&ContextValue> {
        if self.principal_org.is_none() && self.resource_org.is_none() {
            return None;
        }
        let (_, principal, paths) = ORG_KEYS.iter().find(|(name, _, _)| *name == key)?;
        let side = if *principal {
            &self.principal_org
        } else {
            &self.resource_org
        };
        side.as_deref().map(|keys| if *paths { &keys.paths } else { &keys.id })
    }

    /// The organization keys set.
    fn organization_entries(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        ORG_KEYS
            .iter()
            .filter_map(move |(name, _, _)| self.organization_key(name).map(|value| (*name, value)))
    }

    /// The entries an organization key does not hide.
    fn plain_entries(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries
            .iter()
            .map(|(key, value)| (&**key, value))
            .filter(move |(key, _)| self.organization_key(key).is_none())
    }

    /// Sets a key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: ContextValue) {
        self.entries.insert(Cow::Owned(key.to_ascii_lowercase()), value);
    }

    /// Sets a key named by a lowercase literal (`"aws:principalorgid"`) without copying its name:
    /// the keys Gatehouse sets on every request.
    pub fn insert_lowercase(&mut self, key: &'static str, value: ContextValue) {
        debug_assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key} is not lowercase");
        self.entries.insert(Cow::Borrowed(key), value);
    }

    /// Builder form of [`Context::insert`].
    pub fn with(mut self, key: &str, value: ContextValue) -> Self {
        self.insert(key, value);
        self
    }

    /// The values of a key; `key` may be in any case.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            let key = key.to_ascii_lowercase();
            self.organization_key(&key).or_else(|| self.entries.get(key.as_str()))
        } else {
            self.organization_key(key).or_else(|| self.entries.get(key))
        }
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
        context.set_organizations(Some(keys("o-principal00")), Some(keys("o-resource000")));
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
        context.set_organizations(None, Some(keys("o-resource000")));
        assert_eq!(single(&context, "aws:PrincipalOrgID").as_deref(), Some("o-forged00000"));
        assert!(context.get("aws:principalorgpaths").is_none());
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
