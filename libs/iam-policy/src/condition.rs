//! Condition operators: parsing their values once, and evaluating them against a request context.
//!
//! AWS's rules, which every function here follows:
//! - several values of one key are alternatives (OR); negated operators are true when the request
//!   value matches none of them (NOR);
//! - a key absent from the request makes a positive operator false and a negated one true, unless
//!   the operator ends in `IfExists` (then true) or is `Null`;
//! - `ForAllValues:` is true when every request value satisfies the operator (so also for an absent
//!   key or an empty set); `ForAnyValue:` when at least one does (so false for an absent key).

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ipnet::IpNet;

use crate::context::{same_bytes, Context, ContextKey};
use crate::model::{BaseOperator, ConditionClause, ConditionOperator, OperatorFamily, SetQualifier};
use crate::pattern::{Glob, Template};

/// A number in a condition: integers compare exactly, anything else as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    pub(crate) fn parse(text: &str) -> Option<Number> {
        let text = text.trim();
        if let Ok(i) = text.parse::<i128>() {
            return Some(Number::Int(i));
        }
        // Rust accepts `inf` and `NaN`; AWS's numbers are plain decimals.
        let plain = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
        match text.parse::<f64>() {
            Ok(f) if plain && f.is_finite() => Some(Number::Float(f)),
            _ => None,
        }
    }

    fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Parses the date forms AWS accepts: ISO 8601 date-times (with or without zone, seconds,
/// fractions), plain dates, and epoch seconds.
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(text.parse().ok()?, 0);
    }
    if let Some(dt) = parse_utc_seconds(text) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form `aws:CurrentTime` always takes, without the general parser:
/// it is read on most conditional decisions.
fn parse_utc_seconds(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range]
            .iter()
            .try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)?;
    Some(
        date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?
            .and_utc(),
    )
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_binary(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

fn parse_ip_or_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .map(|net| net.trunc())
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The six parts of an ARN; the last keeps any further colons.
fn arn_segments(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    let segments = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    Some(segments)
}

/// The six parts of an ARN pattern in a policy. With substitution, a `:` inside a `${...}`
/// policy variable (`${aws:PrincipalAccount}`) does not end a part.
fn arn_pattern_segments(text: &str, substitute: bool) -> Option<[&str; 6]> {
    if !substitute || !text.contains("${") {
        return arn_segments(text);
    }
    let mut segments = [""; 6];
    let (mut found, mut start, mut in_variable) = (0, 0, false);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && found < 5 {
        match bytes[i] {
            b'$' if !in_variable && bytes.get(i + 1) == Some(&b'{') => {
                in_variable = true;
                i += 1;
            }
            b'}' if in_variable => in_variable = false,
            b':' if !in_variable => {
                segments[found] = &text[start..i];
                found += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    (found == 5).then(|| {
        segments[5] = &text[start..];
        segments
    })
}

/// A policy value of a condition, parsed for its operator's family.
#[derive(Debug, Clone)]
enum Expected {
    /// The template, and its text when it has no variables.
    Text(Template, Option<String>),
    /// The template, and its pattern when it has no variables.
    Like(Template, Option<Glob>),
    Number(Number),
    Date(DateTime<Utc>),
    Bool(bool),
    Binary(Vec<u8>),
    Ip(IpNet),
    /// Each ARN segment is a wildcard pattern of its own.
    Arn(Vec<(Template, Option<Glob>)>),
    Null(bool),
}

/// Checks that a value is valid for an operator; the message says why not.
pub(crate) fn check_value(operator: BaseOperator, value: &str) -> Result<(), (&'static str, String)> {
    let code = match operator.family() {
        OperatorFamily::Numeric => "TYPE_MISMATCH_NUMBER",
        OperatorFamily::Date => "TYPE_MISMATCH_DATE",
        OperatorFamily::Bool | OperatorFamily::Null => "TYPE_MISMATCH_BOOLEAN",
        OperatorFamily::Ip => "TYPE_MISMATCH_IP_RANGE",
        OperatorFamily::Binary => "TYPE_MISMATCH_STRING",
        OperatorFamily::String | OperatorFamily::Arn => "MISSING_ARN_FIELD",
    };
    parse_expected(operator, value, false)
        .map(|_| ())
        .map_err(|message| (code, message))
}

fn parse_expected(operator: BaseOperator, value: &str, substitute: bool) -> Result<Expected, String> {
    let bad = |what: &str| format!("`{value}` is not {what}, as `{}` requires", operator.as_str());
    Ok(match operator.family() {
        OperatorFamily::String => {
            let template = Template::parse(value, substitute);
            if operator == BaseOperator::StringLike || operator == BaseOperator::StringNotLike {
                let glob = template.static_glob();
                Expected::Like(template, glob)
            } else {
                let text = template.static_text();
                Expected::Text(template, text)
            }
        }
        OperatorFamily::Numeric => Expected::Number(Number::parse(value).ok_or_else(|| bad("a number"))?),
        OperatorFamily::Date => Expected::Date(parse_date(value).ok_or_else(|| bad("a date"))?),
        OperatorFamily::Bool => Expected::Bool(parse_bool(value).ok_or_else(|| bad("`true` or `false`"))?),
        OperatorFamily::Binary => Expected::Binary(parse_binary(value).ok_or_else(|| bad("base64 data"))?),
        OperatorFamily::Ip => Expected::Ip(parse_ip_or_cidr(value).ok_or_else(|| bad("an IP address or CIDR block"))?),
        OperatorFamily::Arn => {
            if value == "*" {
                // `*` alone stands for any ARN.
                let any = Template::parse("*", false);
                let glob = any.static_glob();
                Expected::Arn(vec![(any, glob); 6])
            } else {
                let segments = arn_pattern_segments(value, substitute)
                    .ok_or_else(|| bad("an ARN with six `:`-separated parts"))?;
                Expected::Arn(
                    segments
                        .iter()
                        .map(|s| {
                            let template = Template::parse(s, substitute);
                            let glob = template.static_glob();
                            (template, glob)
                        })
                        .collect(),
                )
            }
        }
        OperatorFamily::Null => Expected::Null(parse_bool(value).ok_or_else(|| bad("`true` or `false`"))?),
    })
}

/// One condition clause compiled for evaluation.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    operator: ConditionOperator,
    /// Lowercased and hashed, to find the context's value without folding or hashing per request.
    key: ContextKey,
    /// The key as the policy wrote it, for reporting missing context values.
    key_as_written: Box<str>,
    expected: Vec<Expected>,
    /// `StringEquals` / `StringNotEquals` without variables (the common condition: an approved
    /// region, a tag value): every value is a static text, compared directly.
    static_equality: bool,
}

impl CompiledCondition {
    pub(crate) fn compile(clause: &ConditionClause, substitute: bool) -> Result<Self, String> {
        let substitute = substitute && clause.operator.base.supports_variables();
        let expected = clause
            .values
            .iter()
            .map(|value| parse_expected(clause.operator.base, value, substitute))
            .collect::<Result<Vec<_>, _>>()?;
        let static_equality = matches!(
            clause.operator.base,
            BaseOperator::StringEquals | BaseOperator::StringNotEquals
        ) && expected.iter().all(|e| matches!(e, Expected::Text(_, Some(_))));
        Ok(CompiledCondition {
            static_equality,
            operator: clause.operator,
            key: ContextKey::new(&clause.key),
            key_as_written: clause.key.clone().into_boxed_str(),
            expected,
        })
    }

    /// The context keys this condition reads (its key and any variables), lowercased unless
    /// `as_written`.
    pub(crate) fn keys_read(&self) -> impl Iterator<Item = (&str, &str)> {
        let variables = self.expected.iter().flat_map(|e| match e {
            Expected::Text(t, _) | Expected::Like(t, _) => t.variables().collect::<Vec<_>>(),
            Expected::Arn(segments) => segments.iter().flat_map(|(t, _)| t.variables()).collect(),
            _ => Vec::new(),
        });
        std::iter::once((self.key.name(), &*self.key_as_written)).chain(variables.map(|v| (v, v)))
    }

    /// Evaluates the clause against the request context.
    pub(crate) fn evaluate(&self, context: &Context) -> bool {
        let base = self.operator.base;
        // AWS: a set qualifier on `Null` makes it constant (ForAllValues true, ForAnyValue false).
        match (base, self.operator.qualifier) {
            (BaseOperator::Null, Some(SetQualifier::ForAllValues)) => return true,
            (BaseOperator::Null, Some(SetQualifier::ForAnyValue)) => return false,
            _ => {}
        }
        let present = context
            .get_key(&self.key)
            .filter(|v| !(base == BaseOperator::Null && v.values().is_empty()));
        if let [Expected::Null(expect_absent)] = self.expected[..] {
            return present.is_none() == expect_absent;
        }
        if base == BaseOperator::Null {
            // Several Null values are alternatives.
            return self
                .expected
                .iter()
                .any(|e| matches!(e, Expected::Null(absent) if present.is_none() == *absent));
        }
        let Some(present) = present else {
            return self.operator.if_exists
                || match self.operator.qualifier {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => base.is_negated(),
                };
        };
        let satisfied_by = |request_value: &str| {
            let matches_any = if self.static_equality {
                self.expected.iter().any(|e| match e {
                    Expected::Text(_, Some(text)) => same_bytes(text.as_bytes(), request_value.as_bytes()),
                    _ => false,
                })
            } else {
                self.expected
                    .iter()
                    .any(|e| matches_value(base, e, request_value, context))
            };
            matches_any != base.is_negated()
        };
        let values = present.values();
        // AWS: request values that resolve to an empty data set (no values, or only empty strings)
        // make `ForAllValues` true and `ForAnyValue` false, whatever the operator.
        let empty_set = || values.iter().all(String::is_empty);
        match self.operator.qualifier {
            Some(SetQualifier::ForAllValues) => empty_set() || values.iter().all(|v| satisfied_by(v)),
            Some(SetQualifier::ForAnyValue) => !empty_set() && values.iter().any(|v| satisfied_by(v)),
            // A single-valued operator on several values: a positive operator needs one match,
            // a negated one needs every value to miss.
            None if base.is_negated() => values.iter().all(|v| satisfied_by(v)),
            None => values.iter().any(|v| satisfied_by(v)),
        }
    }
}

/// Whether one request value matches one policy value under the operator's positive form.
/// A policy value whose variable cannot be resolved matches nothing.
fn matches_value(base: BaseOperator, expected: &Expected, actual: &str, context: &Context) -> bool {
    use BaseOperator as Op;
    match expected {
        Expected::Text(template, static_text) => {
            let resolved;
            let text = match static_text {
                Some(text) => text.as_str(),
                None => match template.resolve(context) {
                    Some(text) => {
                        resolved = text;
                        resolved.as_str()
                    }
                    None => return false,
                },
            };
            match base {
                Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => eq_ignore_case(text, actual),
                _ => same_bytes(text.as_bytes(), actual.as_bytes()),
            }
        }
        Expected::Like(template, compiled) => match compiled {
            Some(glob) => glob.matches(actual),
            None => template.matches_glob(actual, context) == Some(true),
        },
        Expected::Number(expected) => {
            let Some(actual) = Number::parse(actual) else {
                return false;
            };
            let Some(order) = actual.compare(*expected) else {
                return false;
            };
            compare(base, order)
        }
        Expected::Date(expected) => {
            let Some(actual) = parse_date(actual) else { return false };
            compare(base, actual.cmp(expected))
        }
        Expected::Bool(expected) => parse_bool(actual) == Some(*expected),
        Expected::Binary(expected) => parse_binary(actual).is_some_and(|bytes| bytes == *expected),
        Expected::Ip(net) => actual.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        Expected::Arn(segments) => {
            let Some(actual) = arn_segments(actual) else {
                return false;
            };
            segments.iter().zip(actual).all(|((template, glob), part)| match glob {
                Some(glob) => glob.matches(part),
                None => template.matches_glob(part, context) == Some(true),
            })
        }
        Expected::Null(_) => false,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

fn compare(base: BaseOperator, order: Ordering) -> bool {
    use BaseOperator as Op;
    match base {
        Op::NumericEquals | Op::NumericNotEquals | Op::DateEquals | Op::DateNotEquals => order == Ordering::Equal,
        Op::NumericLessThan | Op::DateLessThan => order == Ordering::Less,
        Op::NumericLessThanEquals | Op::DateLessThanEquals => order != Ordering::Greater,
        Op::NumericGreaterThan | Op::DateGreaterThan => order == Ordering::Greater,
        Op::NumericGreaterThanEquals | Op::DateGreaterThanEquals => order != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextValue;

    fn clause(op: &str, key: &str, values: &[&str]) -> CompiledCondition {
        let clause = ConditionClause {
            operator: op.parse().unwrap(),
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        CompiledCondition::compile(&clause, true).unwrap()
    }

    #[test]
    fn date_forms() {
        assert_eq!(
            parse_date("2020-02-29T23:59:58Z"),
            DateTime::parse_from_rfc3339("2020-02-29T23:59:58Z")
                .ok()
                .map(|d| d.with_timezone(&Utc))
        );
        assert!(parse_date("2021-02-29T00:00:00Z").is_none());
        assert!(parse_date("2020-01-01T24:00:00Z").is_none());
        assert!(parse_date("2020-01-01").is_some());
        assert!(parse_date("2020-01-01T00:00:00Z").is_some());
        assert!(parse_date("2020-01-01T00:00:00.123Z").is_some());
        assert!(parse_date("2020-01-01T00:00:00+02:00").is_some());
        assert!(parse_date("2020-01-01T00:00:00").is_some());
        assert_eq!(parse_date("1577836800"), parse_date("2020-01-01T00:00:00Z"));
        assert!(parse_date("yesterday").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(Number::parse("10"), Some(Number::Int(10)));
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse("NaN"), None);
        assert_eq!(Number::parse("inf"), None);
    }

    #[test]
    fn absent_keys() {
        let empty = Context::new();
        assert!(!clause("StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(clause("StringNotEquals", "k", &["a"]).evaluate(&empty));
        assert!(clause("StringEqualsIfExists", "k", &["a"]).evaluate(&empty));
        assert!(clause("ForAllValues:StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(!clause("ForAnyValue:StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(clause("Null", "k", &["true"]).evaluate(&empty));
        assert!(!clause("Null", "k", &["false"]).evaluate(&empty));
    }

    #[test]
    fn set_operators() {
        let ctx = Context::new().with("aws:TagKeys", ContextValue::list(["a", "b"]));
        assert!(clause("ForAllValues:StringEquals", "aws:tagkeys", &["a", "b", "c"]).evaluate(&ctx));
        assert!(!clause("ForAllValues:StringEquals", "aws:tagkeys", &["a"]).evaluate(&ctx));
        assert!(clause("ForAnyValue:StringEquals", "aws:tagkeys", &["b", "z"]).evaluate(&ctx));
        assert!(!clause("ForAnyValue:StringEquals", "aws:tagkeys", &["z"]).evaluate(&ctx));
        assert!(clause("ForAllValues:StringNotEquals", "aws:tagkeys", &["z"]).evaluate(&ctx));
        assert!(!clause("ForAllValues:StringNotEquals", "aws:tagkeys", &["a"]).evaluate(&ctx));
        assert!(clause("ForAnyValue:StringNotEquals", "aws:tagkeys", &["a"]).evaluate(&ctx));
        let empty_set = Context::new().with("aws:TagKeys", ContextValue::list(Vec::<String>::new()));
        assert!(clause("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).evaluate(&empty_set));
        assert!(!clause("ForAnyValue:StringEquals", "aws:TagKeys", &["a"]).evaluate(&empty_set));
    }

    #[test]
    fn ip_and_arn() {
        let ctx = Context::new()
            .with("aws:SourceIp", ContextValue::single("203.0.113.7"))
            .with(
                "aws:SourceArn",
                ContextValue::single("arn:aws:sns:us-east-1:123456789012:topic:extra"),
            );
        assert!(clause("IpAddress", "aws:SourceIp", &["203.0.113.0/24"]).evaluate(&ctx));
        assert!(!clause("NotIpAddress", "aws:SourceIp", &["203.0.113.0/24"]).evaluate(&ctx));
        assert!(clause("IpAddress", "aws:SourceIp", &["2001:db8::/32", "203.0.113.7"]).evaluate(&ctx));
        assert!(clause("ArnLike", "aws:SourceArn", &["arn:aws:sns:*:123456789012:*"]).evaluate(&ctx));
        assert!(!clause("ArnLike", "aws:SourceArn", &["arn:aws:sns:*:999999999999:*"]).evaluate(&ctx));
        assert!(clause("ArnNotEquals", "aws:SourceArn", &["arn:aws:sns:*:999999999999:*"]).evaluate(&ctx));
    }

    #[test]
    fn arn_variables_may_hold_colons() {
        let ctx = Context::new()
            .with("aws:PrincipalAccount", ContextValue::single("123456789012"))
            .with(
                "aws:PrincipalArn",
                ContextValue::single("arn:aws:iam::123456789012:role/admin"),
            );
        assert!(clause(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::${aws:PrincipalAccount}:role/*"]
        )
        .evaluate(&ctx));
        assert!(!clause(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::${aws:PrincipalAccount}:user/*"]
        )
        .evaluate(&ctx));
        let other = ctx
            .clone()
            .with("aws:PrincipalAccount", ContextValue::single("999999999999"));
        assert!(!clause(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::${aws:PrincipalAccount}:role/*"]
        )
        .evaluate(&other));
    }
}
