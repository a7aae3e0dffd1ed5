//! Strict JSON and base64url for untrusted documents: duplicate members are refused at every
//! depth, and base64url must be canonical and unpadded.
//!
//! Why: two parsers that resolve `{"sub":"a","sub":"b"}` differently (first wins, last wins) can
//! be made to disagree about who a token names. Refusing duplicates leaves one reading. The
//! nesting depth is bounded by `serde_json`'s recursion limit (128).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value parsed with duplicate members refused.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Strict, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member `{}`",
                    crate::error::clip(&key)
                )));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Strict(Value::Object(map)))
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate members anywhere inside.
/// The error is a lowercase reason without the document's content.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Ok(map),
        Ok(_) => Err("not a json object".to_owned()),
        Err(error) => Err(describe(&error)),
    }
}

/// A serde_json error as a reason: our own duplicate-member message, else its category.
fn describe(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("duplicate member") {
        // serde_json appends " at line L column C"; the member name is what helps.
        message
            .split(" at line ")
            .next()
            .unwrap_or("duplicate member")
            .to_owned()
    } else if error.is_eof() {
        "truncated json".to_owned()
    } else if error.is_syntax() {
        format!("invalid json at column {}", error.column())
    } else {
        "invalid json".to_owned()
    }
}

/// Decodes canonical unpadded base64url (RFC 7515, section 2): no `=`, no line breaks, no
/// non-zero trailing bits.
pub(crate) fn b64url(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// A member as a string: `Ok(None)` when absent, `Err(())` when present with another type.
pub(crate) fn opt_str<'m>(map: &'m Map<String, Value>, name: &str) -> Result<Option<&'m str>, ()> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_parse_and_keep_member_order() {
        let map = parse_object(br#"{"b":1,"a":[true,null,{"c":"d"}],"e":1.5}"#).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a", "e"]);
        assert_eq!(map["a"][2]["c"], "d");
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert_eq!(
            parse_object(br#"{"sub":"a","sub":"b"}"#).unwrap_err(),
            "duplicate member `sub`"
        );
        assert!(parse_object(br#"{"x":[{"k":1,"k":2}]}"#).is_err());
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        assert_eq!(parse_object(b"[1]").unwrap_err(), "not a json object");
        assert_eq!(parse_object(br#"{"a":"#).unwrap_err(), "truncated json");
        assert!(parse_object(b"{} trailing").is_err());
        assert!(parse_object(&[0xff, 0xfe]).is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_object(deep.as_bytes()).is_err(), "recursion limit holds");
    }

    #[test]
    fn base64url_must_be_canonical_and_unpadded() {
        assert_eq!(b64url("aGk").unwrap(), b"hi");
        assert!(b64url("aGk=").is_none(), "padding");
        assert!(b64url("aGl").is_none(), "non-zero trailing bits");
        assert!(b64url("a+k").is_none(), "standard alphabet");
        assert!(b64url("aG k").is_none(), "whitespace");
        assert_eq!(b64url("").unwrap(), b"");
    }
}
