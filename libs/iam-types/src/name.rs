//! Validated entity names (`[\w+=,.@-]+` with per-kind lengths) and IAM paths.

use std::fmt;

use compact_str::CompactString;

use crate::TypesError;

/// Which kind of entity a name belongs to; decides the maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A user: 1..64.
    User,
    /// A group: 1..128.
    Group,
    /// A role: 1..64.
    Role,
    /// A managed policy: 1..128.
    Policy,
    /// An inline policy: 1..128.
    InlinePolicy,
    /// An instance profile: 1..128.
    InstanceProfile,
    /// A virtual MFA device: 1..226.
    MfaDevice,
}

impl NameKind {
    /// The longest name AWS accepts for this kind.
    pub fn max_len(self) -> usize {
        match self {
            NameKind::User | NameKind::Role => 64,
            NameKind::Group | NameKind::Policy | NameKind::InlinePolicy | NameKind::InstanceProfile => 128,
            NameKind::MfaDevice => 226,
        }
    }

    fn label(self) -> &'static str {
        match self {
            NameKind::User => "user",
            NameKind::Group => "group",
            NameKind::Role => "role",
            NameKind::Policy => "policy",
            NameKind::InlinePolicy => "inline policy",
            NameKind::InstanceProfile => "instance profile",
            NameKind::MfaDevice => "virtual MFA device",
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// A validated IAM entity name. Names compare case-sensitively; [`EntityName::key`] gives the
/// case-insensitive key IAM uses for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityName(CompactString);

impl EntityName {
    /// Parses a name of the given kind.
    pub fn parse(kind: NameKind, text: &str) -> Result<Self, TypesError> {
        let len = text.chars().count();
        if (1..=kind.max_len()).contains(&len) && text.chars().all(is_name_char) {
            Ok(EntityName(text.into()))
        } else {
            Err(TypesError::Name {
                what: kind.label(),
                text: text.to_owned(),
                max: kind.max_len(),
            })
        }
    }

    /// The case-insensitive uniqueness key (ASCII lower case).
    pub fn key(&self) -> String {
        self.0.as_str().to_ascii_lowercase()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EntityName {
    type Error = TypesError;
    /// Accepts the loosest rule (128 characters); the kind-specific length is checked on input.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EntityName::parse(NameKind::Group, &value)
    }
}

impl From<EntityName> for String {
    fn from(value: EntityName) -> Self {
        value.0.into_string()
    }
}

/// An IAM path: `/` or `/a/b/`, printable ASCII (`!`..`~`), at most 512 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IamPath(CompactString);

impl IamPath {
    /// The longest path AWS accepts.
    pub const MAX_LEN: usize = 512;

    /// `/`.
    pub fn root() -> IamPath {
        IamPath(CompactString::const_new("/"))
    }

    /// Parses a path.
    pub fn parse(text: &str) -> Result<Self, TypesError> {
        let ok = text.len() <= Self::MAX_LEN
            && text.starts_with('/')
            && text.ends_with('/')
            && text.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(IamPath(text.into()))
        } else {
            Err(TypesError::Path(text.to_owned()))
        }
    }

    /// Parses a managed-policy path, which AWS restricts further: `((/[A-Za-z0-9.,+@=_-]+)*)/`.
    pub fn parse_policy_path(text: &str) -> Result<Self, TypesError> {
        let path = IamPath::parse(text)?;
        let inner = &text[1..text.len() - 1];
        let ok = text == "/"
            || inner
                .split('/')
                .all(|seg| !seg.is_empty() && seg.chars().all(is_name_char));
        if ok {
            Ok(path)
        } else {
            Err(TypesError::Path(text.to_owned()))
        }
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for IamPath {
    fn default() -> Self {
        IamPath::root()
    }
}

impl fmt::Display for IamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for IamPath {
    type Error = TypesError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IamPath::parse(&value)
    }
}

impl From<IamPath> for String {
    fn from(value: IamPath) -> Self {
        value.0.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        let cases: &[(NameKind, &str, bool)] = &[
            (NameKind::User, "alice", true),
            (NameKind::User, "a+b=c,d.e@f-g_h", true),
            (NameKind::User, "", false),
            (NameKind::User, "with space", false),
            (NameKind::User, "slash/no", false),
            (NameKind::User, "é", false),
            (NameKind::User, &"a".repeat(64), true),
            (NameKind::User, &"a".repeat(65), false),
            (NameKind::Role, &"a".repeat(65), false),
            (NameKind::Group, &"a".repeat(128), true),
            (NameKind::Group, &"a".repeat(129), false),
            (NameKind::Policy, &"a".repeat(128), true),
        ];
        for (kind, text, ok) in cases {
            assert_eq!(EntityName::parse(*kind, text).is_ok(), *ok, "{kind:?} {text}");
        }
        assert_eq!(EntityName::parse(NameKind::User, "Alice").unwrap().key(), "alice");
    }

    #[test]
    fn path_rules() {
        for good in ["/", "/a/", "/division_abc/subdivision_xyz/", "/!~/"] {
            assert!(IamPath::parse(good).is_ok(), "{good}");
        }
        let long = format!("/{}/", "a".repeat(511));
        for bad in ["", "a/", "/a", "/a b/", long.as_str(), "/é/"] {
            assert!(IamPath::parse(bad).is_err(), "{bad}");
        }
        assert!(IamPath::parse_policy_path("/team/").is_ok());
        assert!(IamPath::parse_policy_path("/te*am/").is_err());
        assert!(IamPath::parse_policy_path("//").is_err());
    }
}
