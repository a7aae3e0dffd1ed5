//! Wildcard patterns (`*`, `?`) and policy-variable templates (`${aws:username}`).
//!
//! A template is parsed once when a policy is compiled; at evaluation its variables are looked up
//! in the request context. Text that came from a variable, or from `${*}`, `${?}` and `${$}`, is
//! always literal: a user named `a*` never turns into a wildcard.

use crate::context::{same_bytes, Context, ContextKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    Byte(u8),
    AnyChar,
    AnyRun,
}

/// A compiled wildcard pattern over UTF-8 text. `?` is one character, `*` any run of characters.
/// Its shape is decided once: most patterns (ARNs ending in `*`, whole names, `*` alone) need no
/// step-by-step walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// Only `*`: every text.
    Any,
    /// No wildcard: the text must be it.
    Literal(Box<str>),
    /// `*` but no `?`: literal runs, the first at the start of the text, the last at its end and
    /// the others in order between them.
    Runs {
        first: Box<str>,
        middle: Box<[Box<str>]>,
        last: Box<str>,
    },
    /// A `?` somewhere: matched piece by piece.
    Pieces(Vec<Piece>),
}

impl Glob {
    /// A pattern where `*` and `?` are wildcards.
    pub(crate) fn new(pattern: &str) -> Self {
        let mut pieces = Vec::with_capacity(pattern.len());
        push_pattern(&mut pieces, pattern);
        Glob::from_pieces(pieces)
    }

    fn from_pieces(pieces: Vec<Piece>) -> Glob {
        if pieces.contains(&Piece::AnyChar) {
            return Glob::Pieces(pieces);
        }
        let mut runs: Vec<Vec<u8>> = vec![Vec::new()];
        for piece in &pieces {
            match (piece, runs.last_mut()) {
                (Piece::Byte(b), Some(run)) => run.push(*b),
                _ => runs.push(Vec::new()),
            }
        }
        // Runs split at `*` (ASCII) out of UTF-8 text are UTF-8 themselves.
        let Ok(mut runs) = runs
            .into_iter()
            .map(|run| String::from_utf8(run).map(String::into_boxed_str))
            .collect::<Result<Vec<_>, _>>()
        else {
            return Glob::Pieces(pieces);
        };
        if runs.len() == 1 {
            return Glob::Literal(runs.pop().unwrap_or_default());
        }
        if runs.iter().all(|run| run.is_empty()) {
            return Glob::Any;
        }
        let last = runs.pop().unwrap_or_default();
        let first = if runs.is_empty() {
            Box::default()
        } else {
            runs.remove(0)
        };
        runs.retain(|run| !run.is_empty());
        Glob::Runs {
            first,
            middle: runs.into_boxed_slice(),
            last,
        }
    }

    /// True when the pattern is `*` alone (matches everything).
    pub(crate) fn is_match_all(&self) -> bool {
        *self == Glob::Any
    }

    /// Case-sensitive match of the whole text.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Literal(literal) => same_bytes(literal.as_bytes(), text.as_bytes()),
            Glob::Runs { first, middle, last } => {
                let (first, last) = (first.as_bytes(), last.as_bytes());
                let bytes = text.as_bytes();
                if bytes.len() < first.len() + last.len()
                    || !same_bytes(first, &bytes[..first.len()])
                    || !same_bytes(last, &bytes[bytes.len() - last.len()..])
                {
                    return false;
                }
                // Both ends are whole UTF-8 runs of the text, so the text between is UTF-8 too.
                let Some(mut between) = text.get(first.len()..bytes.len() - last.len()) else {
                    return false;
                };
                // Leftmost matches leave the most room for the runs after them.
                for run in middle.iter() {
                    match between.find(&**run) {
                        Some(at) => between = &between[at + run.len()..],
                        None => return false,
                    }
                }
                true
            }
            Glob::Pieces(pieces) => glob_match(|i| pieces.get(i).copied(), text),
        }
    }
}

fn push_pattern(pieces: &mut Vec<Piece>, text: &str) {
    for byte in text.bytes() {
        pieces.push(match byte {
            b'*' => Piece::AnyRun,
            b'?' => Piece::AnyChar,
            other => Piece::Byte(other),
        });
    }
}

fn push_literal(pieces: &mut Vec<Piece>, text: &str) {
    pieces.extend(text.bytes().map(Piece::Byte));
}

/// The wildcard match, over pieces produced on demand so that a template can be matched without
/// first building its pattern (no allocation on the decision path).
fn glob_match(piece_at: impl Fn(usize) -> Option<Piece>, text: &str) -> bool {
    let text = text.as_bytes();
    let (mut p, mut t) = (0usize, 0usize);
    // Where the last `*` was and where in the text it is now assumed to end.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match piece_at(p) {
            Some(Piece::Byte(b)) if b == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Piece::AnyChar) => {
                p += 1;
                t += utf8_len(text[t]);
                continue;
            }
            Some(Piece::AnyRun) => {
                p += 1;
                // A `*` that ends the pattern takes the rest of the text, whatever it is.
                if piece_at(p).is_none() {
                    return true;
                }
                backtrack = Some((p, t));
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star_p, star_t)) => {
                let resume = star_t + utf8_len(text[star_t]);
                backtrack = Some((star_p, resume));
                p = star_p;
                t = resume;
            }
            None => return false,
        }
    }
    // `?` may have stepped past the end on a truncated character; only an exact end counts.
    if t != text.len() {
        return false;
    }
    loop {
        match piece_at(p) {
            None => return true,
            Some(Piece::AnyRun) => p += 1,
            Some(_) => return false,
        }
    }
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        _ => 1, // continuation byte: never a lead when the text is valid UTF-8
    }
}

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Policy text; in a pattern its `*` and `?` are wildcards.
    Text(String),
    /// Literal text from `${*}`, `${?}` or `${$}`.
    Escaped(char),
    /// A policy variable: its lowercased key and its default, if the policy gave one.
    Variable { key: ContextKey, default: Option<String> },
}

/// Text that may contain policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `${...}` variables when `substitute` is true (version 2012-10-17); otherwise the whole
    /// text is literal policy text.
    pub(crate) fn parse(text: &str, substitute: bool) -> Self {
        if !substitute || !text.contains("${") {
            return Template {
                parts: vec![Part::Text(text.to_string())],
            };
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else { break };
            let inner = &rest[start + 2..start + 2 + len];
            let Some(part) = parse_variable(inner) else {
                // Not a variable AWS would recognise: keep the text as written.
                push_text(&mut parts, &rest[..start + 3 + len]);
                rest = &rest[start + 3 + len..];
                continue;
            };
            push_text(&mut parts, &rest[..start]);
            parts.push(part);
            rest = &rest[start + 3 + len..];
        }
        push_text(&mut parts, rest);
        Template { parts }
    }

    /// The variable keys (lowercased) this template reads.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable { key, .. } => Some(key.name()),
            _ => None,
        })
    }

    pub(crate) fn has_variables(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Variable { .. }))
    }

    /// The text with variables substituted; `None` when a variable has no value and no default.
    pub(crate) fn resolve(&self, context: &Context) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Escaped(c) => out.push(*c),
                Part::Variable { key, default } => out.push_str(variable_value(key, default, context)?),
            }
        }
        Some(out)
    }

    /// A wildcard pattern with variables substituted as literal text.
    pub(crate) fn resolve_glob(&self, context: &Context) -> Option<Glob> {
        let mut pieces = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => push_pattern(&mut pieces, text),
                Part::Escaped(c) => push_literal(&mut pieces, c.encode_utf8(&mut [0; 4])),
                Part::Variable { key, default } => push_literal(&mut pieces, variable_value(key, default, context)?),
            }
        }
        Some(Glob::from_pieces(pieces))
    }

    /// Whether `text` matches the template as a wildcard pattern, with variables substituted as
    /// literal text; `None` when a variable has no value and no default. Allocates nothing for
    /// templates of up to eight parts.
    pub(crate) fn matches_glob(&self, text: &str, context: &Context) -> Option<bool> {
        const MAX_SEGMENTS: usize = 8;
        if self.parts.len() > MAX_SEGMENTS {
            return self.resolve_glob(context).map(|glob| glob.matches(text));
        }
        // (text, whether `*` and `?` in it are wildcards)
        let mut segments: [(&str, bool); MAX_SEGMENTS] = [("", false); MAX_SEGMENTS];
        for (i, part) in self.parts.iter().enumerate() {
            segments[i] = match part {
                Part::Text(text) => (text.as_str(), true),
                Part::Escaped(c) => (escaped_text(*c), false),
                Part::Variable { key, default } => (variable_value(key, default, context)?, false),
            };
        }
        let segments = &segments[..self.parts.len()];
        let piece_at = |mut index: usize| -> Option<Piece> {
            for (segment, wildcards) in segments {
                if index < segment.len() {
                    let byte = segment.as_bytes()[index];
                    return Some(match byte {
                        b'*' if *wildcards => Piece::AnyRun,
                        b'?' if *wildcards => Piece::AnyChar,
                        other => Piece::Byte(other),
                    });
                }
                index -= segment.len();
            }
            None
        };
        Some(glob_match(piece_at, text))
    }

    /// The pattern when the template has no variables.
    pub(crate) fn static_glob(&self) -> Option<Glob> {
        (!self.has_variables())
            .then(|| self.resolve_glob(&Context::default()))
            .flatten()
    }

    /// The text when the template has no variables.
    pub(crate) fn static_text(&self) -> Option<String> {
        (!self.has_variables())
            .then(|| self.resolve(&Context::default()))
            .flatten()
    }
}

fn variable_value<'a>(key: &ContextKey, default: &'a Option<String>, context: &'a Context) -> Option<&'a str> {
    // A multivalued key cannot stand in for one string; AWS treats it as having no value.
    match context.get_key(key).and_then(|v| v.as_single()) {
        Some(value) => Some(value),
        None => default.as_deref(),
    }
}

/// The text of `${*}`, `${?}` and `${$}`, the only escapes there are.
fn escaped_text(c: char) -> &'static str {
    match c {
        '*' => "*",
        '?' => "?",
        _ => "$",
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Part::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(Part::Text(text.to_string()));
    }
}

/// `*`, `?`, `$`, `key` or `key, 'default'`.
fn parse_variable(inner: &str) -> Option<Part> {
    match inner {
        "*" => return Some(Part::Escaped('*')),
        "?" => return Some(Part::Escaped('?')),
        "$" => return Some(Part::Escaped('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let default = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(default.to_string()))
        }
        None => (inner.trim(), None),
    };
    let valid_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_:/.+=@".contains(c));
    valid_key.then(|| Part::Variable {
        key: ContextKey::new(key),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextValue;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", true),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", false),
            ("*/*/x", "a/b/x", true),
            ("Abc", "abc", false),
            ("**a", "a", true),
            ("?", "", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("", "", true),
            ("", "a", false),
            ("ab*ba", "aba", false),
            ("a*bc*bc", "abcbc", true),
            ("a*bc*bc", "abc", false),
            ("*é*", "xéy", true),
            ("s3:GetAccountPublic*", "s3:GetObject", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(Glob::new(pattern).matches(text), expected, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn variables_substitute_as_literal_text() {
        let template = Template::parse("arn:aws:s3:::home/${aws:username}/*", true);
        let mut context = Context::default();
        context.insert("aws:username", ContextValue::single("a*"));
        let glob = template.resolve_glob(&context).unwrap();
        assert!(glob.matches("arn:aws:s3:::home/a*/x"));
        assert!(!glob.matches("arn:aws:s3:::home/ab/x"));
    }

    proptest::proptest! {
        /// Every shortcut form matches exactly what the step-by-step walk does.
        #[test]
        fn forms_match_as_the_walk_does(
            pattern in "[ab*?é:/]{0,8}",
            text in "[ab*?é:/]{0,10}",
        ) {
            let mut pieces = Vec::new();
            push_pattern(&mut pieces, &pattern);
            let walked = glob_match(|i| pieces.get(i).copied(), &text);
            proptest::prop_assert_eq!(Glob::new(&pattern).matches(&text), walked, "{:?} vs {:?}", pattern, text);
        }
    }

    #[test]
    fn template_matching_equals_resolved_glob_matching() {
        let mut context = Context::default();
        context.insert("aws:username", ContextValue::single("a*?"));
        let texts = [
            "arn:x:home/a*?/q",
            "arn:x:home/abc/q",
            "arn:x:home/a*?",
            "",
            "arn:x:home/a*?/q/r*",
        ];
        for template in [
            "arn:x:home/${aws:username}/*",
            "${aws:username}",
            "a${*}b${?}${$}",
            "*${aws:username}*",
            "x?",
        ] {
            let t = Template::parse(template, true);
            let glob = t.resolve_glob(&context).unwrap();
            for text in texts {
                assert_eq!(
                    t.matches_glob(text, &context),
                    Some(glob.matches(text)),
                    "{template} vs {text}"
                );
            }
        }
        let missing = Template::parse("home/${aws:PrincipalTag/x}", true);
        assert_eq!(missing.matches_glob("home/", &context), None);
    }

    #[test]
    fn escapes_and_defaults() {
        let context = Context::default();
        let t = Template::parse("a${*}b${?}${$}", true);
        assert_eq!(t.resolve(&context).as_deref(), Some("a*b?$"));
        assert!(!t.resolve_glob(&context).unwrap().matches("aXb?$"));
        assert!(t.resolve_glob(&context).unwrap().matches("a*b?$"));
        let t = Template::parse("team-${aws:PrincipalTag/team, 'none'}", true);
        assert_eq!(t.resolve(&context).as_deref(), Some("team-none"));
        let t = Template::parse("team-${aws:PrincipalTag/team}", true);
        assert_eq!(t.resolve(&context), None);
    }

    #[test]
    fn old_version_keeps_variables_literal() {
        let t = Template::parse("home/${aws:username}", false);
        assert_eq!(t.resolve(&Context::default()).as_deref(), Some("home/${aws:username}"));
    }
}
