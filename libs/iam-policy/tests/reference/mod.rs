//! A small, obviously correct reference evaluator of AWS IAM policies, for differential tests.
//!
//! It reads only the public document model (`Policy`, `Statement`, `ConditionClause`, ...) and
//! shares no code with the crate's compiler, condition engine or wildcard matcher: patterns are
//! matched by plain recursion over characters, conditions by a direct transcription of AWS's
//! rules, and the evaluation flow by walking every statement of every policy. It is slow on
//! purpose and covers a subset of the language:
//!
//! - operators: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//!   `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `NumericEquals`,
//!   `NumericLessThan`, `NumericGreaterThanEquals`, `Bool`, `Null`, `ArnEquals`, `ArnLike`,
//!   `ArnNotLike`, `IpAddress`, `NotIpAddress`; each with `IfExists` and
//!   `ForAllValues:`/`ForAnyValue:`;
//! - policy variables `${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}` in `Resource` and in
//!   the values of string and ARN operators, when the document's `Version` is `2012-10-17`;
//! - callers that are IAM users; identity policies, one permissions boundary, one resource-based
//!   policy and SCP levels.
//!
//! Anything outside the subset panics, so a generator that strays is noticed at once.

use std::net::IpAddr;

use iam_policy::{
    BaseOperator, ConditionClause, Effect, Policy, PrincipalSet, PrincipalType, SetQualifier, Statement, Version,
};

/// The outcome of a request, named as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `allowed`.
    Allowed,
    /// `explicitDeny`.
    ExplicitDeny,
    /// `implicitDeny`.
    ImplicitDeny,
}

/// The request context: each key with its values and whether it is multivalued (a list type).
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    entries: Vec<(String, Vec<String>, bool)>,
}

impl Ctx {
    /// Sets a key; a later value for the same key (in any case) replaces an earlier one.
    pub fn set(&mut self, key: &str, values: Vec<String>, multivalued: bool) {
        self.entries.retain(|(k, _, _)| !k.eq_ignore_ascii_case(key));
        self.entries.push((key.to_string(), values, multivalued));
    }

    /// The values of a key (names compare case-insensitively) and whether it is multivalued.
    fn get(&self, key: &str) -> Option<(&[String], bool)> {
        self.entries
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, values, multivalued)| (values.as_slice(), *multivalued))
    }

    /// The value a policy variable stands for: only a single-valued key has one.
    fn variable(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(([value], false)) => Some(value),
            _ => None,
        }
    }
}

/// An IAM user making a request.
#[derive(Debug, Clone)]
pub struct User {
    /// `arn:aws:iam::<account>:user/<path><name>`.
    pub arn: String,
    /// The 12-digit account.
    pub account: String,
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Req<'a> {
    /// Who asks.
    pub caller: &'a User,
    /// The action, in any case.
    pub action: &'a str,
    /// The resource ARN or `*`.
    pub resource: &'a str,
    /// The account owning the resource; `None` is the caller's own.
    pub resource_account: Option<&'a str>,
    /// Condition keys.
    pub context: &'a Ctx,
}

/// Every policy that bears on a request.
#[derive(Debug, Clone, Default)]
pub struct Stack<'a> {
    /// Identity-based policies of the user.
    pub identity: Vec<&'a Policy>,
    /// The permissions boundary.
    pub boundary: Option<&'a Policy>,
    /// The resource-based policy.
    pub resource: Option<&'a Policy>,
    /// SCPs, one list per organization level; every level must allow.
    pub scp_levels: Vec<Vec<&'a Policy>>,
}

// ---- wildcards -------------------------------------------------------------------------------

/// One character of a pattern after variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A character that must be there.
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Whether the pattern matches the whole text.
fn glob(pattern: &[Tok], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Tok::Star, rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((Tok::One, rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((Tok::Lit(c), rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

fn chars(text: &str) -> Vec<char> {
    text.chars().collect()
}

/// A piece of policy text before substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A character of the policy text itself.
    Text(char),
    /// A character that is always literal (`${*}`, `${?}`, `${$}`).
    Escaped(char),
    /// A policy variable with its optional default.
    Var(String, Option<String>),
}

/// Splits policy text into characters and variables. Without substitution all of it is text.
fn pieces(text: &str, substitute: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if substitute && rest.starts_with("${") {
            if let Some(close) = rest.find('}') {
                let inner = &rest[2..close];
                let piece = match inner {
                    "*" => Piece::Escaped('*'),
                    "?" => Piece::Escaped('?'),
                    "$" => Piece::Escaped('$'),
                    _ => match inner.split_once(", '") {
                        Some((key, default)) => {
                            let default = default
                                .strip_suffix('\'')
                                .expect("reference: default needs a closing quote");
                            Piece::Var(key.to_string(), Some(default.to_string()))
                        }
                        None => {
                            assert!(
                                !inner.is_empty() && !inner.contains([' ', ',', '\'', '$', '{']),
                                "reference: unsupported variable `{inner}`"
                            );
                            Piece::Var(inner.to_string(), None)
                        }
                    },
                };
                out.push(piece);
                rest = &rest[close + 1..];
                continue;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(Piece::Text(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Substitutes variables; `None` when one has no value and no default. With `wildcards`, `*` and
/// `?` of the policy text are wildcards; substituted text is always literal.
fn substitute(pieces: &[Piece], ctx: &Ctx, wildcards: bool) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text('*') if wildcards => out.push(Tok::Star),
            Piece::Text('?') if wildcards => out.push(Tok::One),
            Piece::Text(c) | Piece::Escaped(c) => out.push(Tok::Lit(*c)),
            Piece::Var(key, default) => {
                let value = ctx.variable(key).or(default.as_deref())?;
                out.extend(value.chars().map(Tok::Lit));
            }
        }
    }
    Some(out)
}

fn literal_text(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            other => panic!("reference: {other:?} in literal text"),
        })
        .collect()
}

// ---- statements ------------------------------------------------------------------------------

fn substitutes(policy: &Policy) -> bool {
    policy.version == Some(Version::V2012_10_17)
}

fn action_matches(statement: &Statement, action: &str) -> bool {
    let action = chars(&action.to_lowercase());
    let named = statement.action.patterns.iter().any(|pattern| {
        let toks = substitute(&pieces(&pattern.to_lowercase(), false), &Ctx::default(), true);
        glob(&toks.expect("no variables in actions"), &action)
    });
    named != statement.action.negated
}

fn resource_matches(statement: &Statement, resource: &str, ctx: &Ctx, substitutes: bool) -> bool {
    let Some(block) = &statement.resource else {
        panic!("reference: statements without `Resource` are outside the subset")
    };
    let resource = chars(resource);
    let named = block.patterns.iter().any(|pattern| {
        // A pattern whose variable has no value matches no resource.
        substitute(&pieces(pattern, substitutes), ctx, true).is_some_and(|toks| glob(&toks, &resource))
    });
    named != block.negated
}

/// How a statement's `Principal` names the caller, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Named {
    /// Through the caller's account: the account delegates to its identity policies.
    Account,
    /// By the caller's exact ARN, or by `*`.
    Exactly,
}

/// `None` when the statement does not apply to the caller at all.
fn principal_named(statement: &Statement, caller: &User) -> Option<Named> {
    let Some(block) = &statement.principal else {
        // No `Principal`: an identity policy or SCP, about the principal it is attached to.
        return Some(Named::Exactly);
    };
    let named = match &block.principals {
        PrincipalSet::Any => Some(Named::Exactly),
        PrincipalSet::Typed(entries) => entries
            .iter()
            .filter(|(kind, _)| *kind == PrincipalType::Aws)
            .flat_map(|(_, ids)| ids)
            .filter_map(|id| {
                if id == "*" || *id == caller.arn {
                    Some(Named::Exactly)
                } else if *id == caller.account || *id == format!("arn:aws:iam::{}:root", caller.account) {
                    Some(Named::Account)
                } else {
                    None
                }
            })
            .max(),
    };
    if block.negated {
        // `NotPrincipal` applies to everyone it does not name exactly: listing the user's account
        // exempts the account (its root user), not the user.
        (named != Some(Named::Exactly)).then_some(Named::Exactly)
    } else {
        named
    }
}

/// Whether the statement applies to the request, and how it names the caller.
fn applies(policy: &Policy, statement: &Statement, req: &Req<'_>) -> Option<Named> {
    let named = principal_named(statement, req.caller)?;
    let ok = action_matches(statement, req.action)
        && resource_matches(statement, req.resource, req.context, substitutes(policy))
        && statement
            .condition
            .iter()
            .all(|clause| condition_holds(clause, req.context, substitutes(policy)));
    ok.then_some(named)
}

fn applying(policy: &Policy, effect: Effect, req: &Req<'_>) -> Vec<Named> {
    policy
        .statements
        .iter()
        .filter(|s| s.effect == effect)
        .filter_map(|s| applies(policy, s, req))
        .collect()
}

// ---- conditions ------------------------------------------------------------------------------

fn is_negated(op: BaseOperator) -> bool {
    use BaseOperator as B;
    match op {
        B::StringNotEquals | B::StringNotEqualsIgnoreCase | B::StringNotLike | B::ArnNotLike | B::NotIpAddress => true,
        B::StringEquals
        | B::StringEqualsIgnoreCase
        | B::StringLike
        | B::NumericEquals
        | B::NumericLessThan
        | B::NumericGreaterThanEquals
        | B::Bool
        | B::ArnEquals
        | B::ArnLike
        | B::IpAddress => false,
        other => panic!("reference: operator {other:?} is outside the subset"),
    }
}

fn number(text: &str) -> Option<f64> {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    plain.then(|| text.parse().ok()).flatten()
}

/// An address, or an address range as `address/prefix` (a bare address is a single host).
fn ip_range(text: &str) -> Option<(IpAddr, u32)> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address.parse().ok()?, prefix.parse().ok()?),
        None => {
            let address: IpAddr = text.parse().ok()?;
            let bits = if address.is_ipv4() { 32 } else { 128 };
            (address, bits)
        }
    };
    Some((address, prefix))
}

fn in_range(address: IpAddr, (network, prefix): (IpAddr, u32)) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Splits substituted ARN pattern tokens at the first five `:` of the policy text.
fn arn_parts_of_pattern(pieces: &[Piece]) -> Vec<Vec<Piece>> {
    let mut parts = vec![Vec::new()];
    for piece in pieces {
        if *piece == Piece::Text(':') && parts.len() < 6 {
            parts.push(Vec::new());
        } else {
            parts.last_mut().expect("never empty").push(piece.clone());
        }
    }
    parts
}

/// Whether one request value matches one policy value, under the operator's positive reading.
fn value_matches(op: BaseOperator, policy_value: &str, request_value: &str, ctx: &Ctx, substitutes: bool) -> bool {
    use BaseOperator as B;
    match op {
        B::StringEquals | B::StringNotEquals => substitute(&pieces(policy_value, substitutes), ctx, false)
            .is_some_and(|t| literal_text(&t) == request_value),
        B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase => {
            substitute(&pieces(policy_value, substitutes), ctx, false)
                .is_some_and(|t| literal_text(&t).to_lowercase() == request_value.to_lowercase())
        }
        B::StringLike | B::StringNotLike => {
            substitute(&pieces(policy_value, substitutes), ctx, true).is_some_and(|t| glob(&t, &chars(request_value)))
        }
        B::NumericEquals | B::NumericLessThan | B::NumericGreaterThanEquals => {
            let (Some(want), Some(have)) = (number(policy_value), number(request_value)) else {
                return false;
            };
            match op {
                B::NumericEquals => have == want,
                B::NumericLessThan => have < want,
                _ => have >= want,
            }
        }
        B::Bool => policy_value == request_value,
        B::IpAddress | B::NotIpAddress => {
            let range = ip_range(policy_value).expect("generated ranges are valid");
            request_value
                .parse::<IpAddr>()
                .is_ok_and(|address| in_range(address, range))
        }
        B::ArnEquals | B::ArnLike | B::ArnNotLike => {
            let have: Vec<&str> = request_value.splitn(6, ':').collect();
            if have.len() != 6 {
                return false;
            }
            if policy_value == "*" {
                return true;
            }
            let want = arn_parts_of_pattern(&pieces(policy_value, substitutes));
            want.len() == 6
                && want
                    .iter()
                    .zip(&have)
                    .all(|(pattern, part)| substitute(pattern, ctx, true).is_some_and(|toks| glob(&toks, &chars(part))))
        }
        other => panic!("reference: operator {other:?} is outside the subset"),
    }
}

fn condition_holds(clause: &ConditionClause, ctx: &Ctx, substitutes: bool) -> bool {
    let op = clause.operator;
    let values = ctx.get(&clause.key);
    if op.base == BaseOperator::Null {
        // Set qualifiers make `Null` constant (Access Analyzer's note); an empty set is null.
        return match op.qualifier {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => {
                let absent = values.is_none_or(|(v, _)| v.is_empty());
                clause.values.iter().any(|want| match want.as_str() {
                    "true" => absent,
                    "false" => !absent,
                    other => panic!("reference: Null value `{other}`"),
                })
            }
        };
    }
    let negated = is_negated(op.base);
    let Some((request_values, _)) = values else {
        // Absent key: `IfExists` holds; `ForAllValues` holds, `ForAnyValue` does not; otherwise
        // negated operators hold and positive ones do not.
        return op.if_exists
            || match op.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => negated,
            };
    };
    // A request value satisfies a positive operator when it matches some policy value, and a
    // negated one when it matches none of them.
    let satisfies = |request_value: &String| {
        let matched = clause
            .values
            .iter()
            .any(|policy_value| value_matches(op.base, policy_value, request_value, ctx, substitutes));
        matched != negated
    };
    // A set that resolves to null (no values, or only empty strings) makes `ForAllValues` true
    // and `ForAnyValue` false.
    let null_set = request_values.iter().all(String::is_empty);
    match op.qualifier {
        Some(SetQualifier::ForAllValues) => null_set || request_values.iter().all(satisfies),
        Some(SetQualifier::ForAnyValue) => !null_set && request_values.iter().any(satisfies),
        // Several values under a plain operator (not confirmed for AWS): a positive operator
        // needs one value to match, a negated one needs every value to miss.
        None if negated => request_values.iter().all(satisfies),
        None => request_values.iter().any(satisfies),
    }
}

// ---- the evaluation flow ---------------------------------------------------------------------

/// Decides a request as AWS's documented flow does.
pub fn decide(stack: &Stack<'_>, req: &Req<'_>) -> Outcome {
    let everything: Vec<&Policy> = stack
        .identity
        .iter()
        .copied()
        .chain(stack.boundary)
        .chain(stack.resource)
        .chain(stack.scp_levels.iter().flatten().copied())
        .collect();

    // 1. An explicit deny anywhere wins.
    if everything.iter().any(|p| !applying(p, Effect::Deny, req).is_empty()) {
        return Outcome::ExplicitDeny;
    }
    // 2. Every SCP level must allow.
    let level_allows = |level: &Vec<&Policy>| level.iter().any(|p| !applying(p, Effect::Allow, req).is_empty());
    if !stack.scp_levels.iter().all(level_allows) {
        return Outcome::ImplicitDeny;
    }
    // 3. The caller's own side: an identity allow, within the boundary when there is one.
    let identity_allows = stack
        .identity
        .iter()
        .any(|p| !applying(p, Effect::Allow, req).is_empty());
    let boundary_allows = stack
        .boundary
        .is_none_or(|p| !applying(p, Effect::Allow, req).is_empty());
    let caller_side = identity_allows && boundary_allows;
    // 4. The resource's side.
    let resource_grant = stack
        .resource
        .and_then(|p| applying(p, Effect::Allow, req).into_iter().max());

    let same_account = req.resource_account.is_none_or(|owner| owner == req.caller.account);
    let allowed = if same_account {
        // Naming the user exactly grants alone; naming the account only delegates.
        resource_grant == Some(Named::Exactly) || caller_side
    } else {
        caller_side && resource_grant.is_some()
    };
    if allowed {
        Outcome::Allowed
    } else {
        Outcome::ImplicitDeny
    }
}

// ---- self-checks -----------------------------------------------------------------------------

/// Checks of the reference's own building blocks, run by the test file that includes it.
pub fn self_check() {
    let g = |p: &str, t: &str| {
        glob(
            &substitute(&pieces(p, false), &Ctx::default(), true).expect("static"),
            &chars(t),
        )
    };
    assert!(g("*", ""));
    assert!(g("a?c", "abc") && !g("a?c", "ac") && g("a?c", "aéc"));
    assert!(g("a*b*c", "aXbYbZc") && !g("a*b*c", "aXbYbZ"));
    assert!(g("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y") && !g("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
    assert!(!g("Abc", "abc"));

    let mut ctx = Ctx::default();
    ctx.set("aws:username", vec!["a*".into()], false);
    let t = substitute(&pieces("home/${aws:USERNAME}/${*}", true), &ctx, true).expect("resolves");
    assert!(glob(&t, &chars("home/a*/*")) && !glob(&t, &chars("home/ab/x")));
    assert_eq!(substitute(&pieces("${aws:PrincipalTag/team}", true), &ctx, true), None);
    let t = substitute(&pieces("${aws:PrincipalTag/team, 'none'}", true), &ctx, false).expect("default");
    assert_eq!(literal_text(&t), "none");
    assert_eq!(
        literal_text(&substitute(&pieces("${aws:username}", false), &ctx, false).expect("literal")),
        "${aws:username}"
    );

    assert!(in_range(
        "10.1.2.3".parse().expect("ip"),
        ip_range("10.0.0.0/8").expect("range")
    ));
    assert!(in_range(
        "10.1.2.3".parse().expect("ip"),
        ip_range("10.9.9.9/8").expect("range")
    ));
    assert!(!in_range(
        "11.1.2.3".parse().expect("ip"),
        ip_range("10.0.0.0/8").expect("range")
    ));
    assert!(in_range(
        "2001:db8::1".parse().expect("ip"),
        ip_range("2001:db8::/32").expect("range")
    ));
    assert!(!in_range(
        "10.1.2.3".parse().expect("ip"),
        ip_range("2001:db8::/32").expect("range")
    ));

    ctx.set("aws:PrincipalAccount", vec!["111111111111".into()], false);
    let arn_like = |p: &str, v: &str| value_matches(BaseOperator::ArnLike, p, v, &ctx, true);
    assert!(arn_like(
        "arn:aws:iam::${aws:PrincipalAccount}:user/*",
        "arn:aws:iam::111111111111:user/x"
    ));
    assert!(!arn_like(
        "arn:aws:iam::${aws:PrincipalAccount}:user/*",
        "arn:aws:iam::222222222222:user/x"
    ));
    assert!(!arn_like(
        "arn:aws:someservice:*:111122223333:finance/*",
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    ));
    assert!(arn_like("arn:aws:sns:*:1:*", "arn:aws:sns:us-east-1:1:topic:extra"));
}
