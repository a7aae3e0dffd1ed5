//! `UniqueId`: IAM's stable ids (`AIDA...`, `AROA...`, `AKIA...`), generated from caller-supplied bytes.

use std::fmt;

use compact_str::CompactString;

use crate::TypesError;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// What a unique id identifies; each kind has AWS's four-letter prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum IdKind {
    /// `AIDA`: an IAM user.
    User,
    /// `AGPA`: a group.
    Group,
    /// `AROA`: a role.
    Role,
    /// `ANPA`: a managed policy.
    Policy,
    /// `ANVA`: a version of a managed policy.
    PolicyVersion,
    /// `AIPA`: an instance profile.
    InstanceProfile,
    /// `AKIA`: a long-term access key id.
    AccessKey,
    /// `ASIA`: a temporary (STS) access key id.
    TemporaryAccessKey,
}

impl IdKind {
    /// Every kind.
    pub const ALL: [IdKind; 8] = [
        IdKind::User,
        IdKind::Group,
        IdKind::Role,
        IdKind::Policy,
        IdKind::PolicyVersion,
        IdKind::InstanceProfile,
        IdKind::AccessKey,
        IdKind::TemporaryAccessKey,
    ];

    /// AWS's prefix for ids of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "AIDA",
            IdKind::Group => "AGPA",
            IdKind::Role => "AROA",
            IdKind::Policy => "ANPA",
            IdKind::PolicyVersion => "ANVA",
            IdKind::InstanceProfile => "AIPA",
            IdKind::AccessKey => "AKIA",
            IdKind::TemporaryAccessKey => "ASIA",
        }
    }

    /// Total length of a generated id: 20 for access key ids, 21 for entities.
    pub fn generated_len(self) -> usize {
        match self {
            IdKind::AccessKey | IdKind::TemporaryAccessKey => 20,
            _ => 21,
        }
    }
}

/// An IAM unique id such as `AIDACKCEVSQ6C2EXAMPLE` or `AKIAIOSFODNN7EXAMPLE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UniqueId(CompactString);

impl UniqueId {
    /// Builds the id of a new entity: the kind's prefix, then base32 (`A-Z2-7`) of `random_bytes`,
    /// cut to 21 characters (20 for access keys). The caller draws the bytes; this stays pure.
    pub fn generate(kind: IdKind, random_bytes: [u8; 16]) -> UniqueId {
        let mut out = String::with_capacity(kind.generated_len());
        out.push_str(kind.prefix());
        let mut buffer: u32 = 0;
        let mut bits = 0u32;
        for byte in random_bytes {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                let index = ((buffer >> bits) & 31) as usize;
                out.push(char::from(BASE32[index]));
            }
            buffer &= (1 << bits) - 1;
        }
        out.truncate(kind.generated_len());
        UniqueId(out.into())
    }

    /// Parses an id: 16 to 128 characters of `[A-Z0-9]` (AWS's `[\w]+`, upper case as IAM issues them).
    pub fn parse(text: &str) -> Result<Self, TypesError> {
        let ok = (16..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(UniqueId(text.into()))
        } else {
            Err(TypesError::UniqueId(text.to_owned()))
        }
    }

    /// The kind its prefix names, if any. AWS does not guarantee prefixes, so this is a hint.
    pub fn kind(&self) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|kind| self.0.starts_with(kind.prefix()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UniqueId {
    type Error = TypesError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        UniqueId::parse(&value)
    }
}

impl From<UniqueId> for String {
    fn from(value: UniqueId) -> Self {
        value.0.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_length_and_alphabet() {
        for kind in IdKind::ALL {
            for seed in [[0u8; 16], [0xff; 16], [0x5a; 16]] {
                let id = UniqueId::generate(kind, seed);
                assert!(id.as_str().starts_with(kind.prefix()));
                assert_eq!(id.as_str().len(), kind.generated_len());
                assert!(id.as_str()[4..].bytes().all(|b| BASE32.contains(&b)));
                assert_eq!(id.kind(), Some(kind));
                assert_eq!(UniqueId::parse(id.as_str()).unwrap(), id);
            }
        }
        assert_eq!(
            UniqueId::generate(IdKind::User, [0; 16]).as_str(),
            "AIDAAAAAAAAAAAAAAAAAA"
        );
        assert_ne!(
            UniqueId::generate(IdKind::User, [1; 16]),
            UniqueId::generate(IdKind::User, [2; 16])
        );
    }

    #[test]
    fn parse_rejects_bad_ids() {
        for bad in ["", "AIDA", "aidacKCEVSQ6C2EXAMPLE", "AIDA-KCEVSQ6C2EXAMPLE"] {
            assert!(UniqueId::parse(bad).is_err(), "{bad}");
        }
        assert!(UniqueId::parse("AKIAIOSFODNN7EXAMPLE").is_ok());
    }
}
