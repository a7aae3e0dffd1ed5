//! `AccountId`: the 12-digit number that names a tenant.

use std::fmt;

use compact_str::CompactString;

use crate::TypesError;

/// A 12-digit AWS-style account id, e.g. `111122223333`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(CompactString);

impl AccountId {
    /// Parses exactly 12 ASCII digits.
    pub fn parse(text: &str) -> Result<Self, TypesError> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(text.into()))
        } else {
            Err(TypesError::AccountId(text.to_owned()))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccountId {
    type Error = TypesError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountId::parse(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> Self {
        value.0.into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twelve_digits_only() {
        assert_eq!(AccountId::parse("111122223333").unwrap().to_string(), "111122223333");
        for bad in [
            "",
            "11112222333",
            "1111222233334",
            "11112222333a",
            "１１１１２２２２３３３３",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_as_string() {
        let id = AccountId::parse("123456789012").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"123456789012\"");
        assert!(serde_json::from_str::<AccountId>("\"12\"").is_err());
    }
}
