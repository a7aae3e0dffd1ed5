//! Tags: key 1..128, value 0..256, AWS's character class, at most 50 per entity.

use compact_str::CompactString;

use crate::TypesError;

/// The most tags one entity may carry.
pub const MAX_TAGS: usize = 50;

fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// A validated tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawTag")]
pub struct Tag {
    key: CompactString,
    value: CompactString,
}

#[derive(serde::Deserialize)]
struct RawTag {
    key: String,
    value: String,
}

impl TryFrom<RawTag> for Tag {
    type Error = TypesError;
    fn try_from(raw: RawTag) -> Result<Self, Self::Error> {
        Tag::new(&raw.key, &raw.value)
    }
}

impl Tag {
    /// Validates a key and value. Keys starting with `aws:` are reserved.
    pub fn new(key: &str, value: &str) -> Result<Tag, TypesError> {
        Tag::check_key(key)?;
        let value_len = value.chars().count();
        if value_len > 256 || !value.chars().all(is_tag_char) {
            return Err(TypesError::Tag(format!(
                "value `{value}` is not valid: it must be 0 to 256 characters of letters, digits, spaces and _.:/=+-@"
            )));
        }
        Ok(Tag {
            key: key.into(),
            value: value.into(),
        })
    }

    /// Validates a tag key on its own (as `UntagUser` receives them).
    pub fn check_key(key: &str) -> Result<(), TypesError> {
        let key_len = key.chars().count();
        if !(1..=128).contains(&key_len) || !key.chars().all(is_tag_char) {
            return Err(TypesError::Tag(format!(
                "key `{key}` is not valid: it must be 1 to 128 characters of letters, digits, spaces and _.:/=+-@"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(TypesError::Tag(format!("key `{key}` uses the reserved prefix `aws:`")));
        }
        Ok(())
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Checks a set of tags given together: no key twice, at most [`MAX_TAGS`].
pub fn validate_tag_set(tags: &[Tag]) -> Result<(), TypesError> {
    if tags.len() > MAX_TAGS {
        return Err(TypesError::TooManyTags(tags.len()));
    }
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i].iter().any(|other| other.key == tag.key) {
            return Err(TypesError::Tag(format!("key `{}` is given more than once", tag.key)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        assert!(Tag::new("team", "").is_ok());
        assert!(Tag::new("cost center/é", "a b:c=d+e-f@g").is_ok());
        assert!(Tag::new("", "x").is_err());
        assert!(Tag::new(&"k".repeat(129), "x").is_err());
        assert!(Tag::new("k", &"v".repeat(257)).is_err());
        assert!(Tag::new("k", &"v".repeat(256)).is_ok());
        assert!(Tag::new("k*", "x").is_err());
        assert!(Tag::new("aws:foo", "x").is_err());
        let many: Vec<Tag> = (0..51).map(|i| Tag::new(&format!("k{i}"), "v").unwrap()).collect();
        assert_eq!(validate_tag_set(&many[..50]), Ok(()));
        assert_eq!(
            validate_tag_set(&many).unwrap_err().code(),
            crate::ErrorCode::LimitExceeded
        );
        let dup = [Tag::new("a", "1").unwrap(), Tag::new("a", "2").unwrap()];
        assert!(validate_tag_set(&dup).is_err());
    }

    #[test]
    fn serde_validates() {
        let tag: Tag = serde_json::from_str(r#"{"key":"a","value":"b"}"#).unwrap();
        assert_eq!(tag.key(), "a");
        assert!(serde_json::from_str::<Tag>(r#"{"key":"","value":"b"}"#).is_err());
    }
}
