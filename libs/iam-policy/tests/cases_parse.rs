//! Table-driven cases for strict policy parsing: every refusal names its AWS issue code and points at the
//! culprit's line and column; every legal shape of the IAM JSON policy grammar is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    parse_policy, ActionBlock, BaseOperator, ConditionOperator, Effect, Policy, PolicyError, PrincipalBlock,
    PrincipalSet, PrincipalType, ResourceBlock, SetQualifier, Version,
};

/// A document whose one statement has `lines` as its elements, pretty-printed: the statement's `{` is on
/// line 4 and its elements on lines 5, 6, ...
fn statement(lines: &[&str]) -> String {
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      {}\n    }}\n  ]\n}}",
        lines.join(",\n      ")
    )
}

/// A statement that allows reading one bucket, with `condition` as its `Condition` value.
fn with_condition(condition: &str) -> String {
    statement(&[
        r#""Effect": "Allow""#,
        r#""Action": "s3:GetObject""#,
        r#""Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*""#,
        &format!(r#""Condition": {condition}"#),
    ])
}

/// A resource-policy statement naming `principal`.
fn with_principal(principal: &str) -> String {
    statement(&[
        r#""Effect": "Allow""#,
        &format!(r#""Principal": {principal}"#),
        r#""Action": "s3:GetObject""#,
        r#""Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*""#,
    ])
}

struct Refusal {
    name: &'static str,
    text: String,
    code: &'static str,
    /// The text the error must point at (its first character), and which occurrence of it (0-based);
    /// `None` when there is no place to point at.
    culprit: Option<(&'static str, usize)>,
    /// The JSON path the error must name, when it names one.
    path: Option<&'static str>,
}

fn refuse(name: &'static str, text: impl Into<String>, code: &'static str, culprit: &'static str) -> Refusal {
    Refusal {
        name,
        text: text.into(),
        code,
        culprit: Some((culprit, 0)),
        path: None,
    }
}

impl Refusal {
    fn nth(mut self, occurrence: usize) -> Self {
        self.culprit = self.culprit.map(|(text, _)| (text, occurrence));
        self
    }
    fn nowhere(mut self) -> Self {
        self.culprit = None;
        self
    }
    fn path(mut self, path: &'static str) -> Self {
        self.path = Some(path);
        self
    }

    /// 1-based line and column (in characters) of the culprit.
    fn expected_position(&self) -> Option<(u32, u32)> {
        let (needle, nth) = self.culprit?;
        let offset = self
            .text
            .match_indices(needle)
            .nth(nth)
            .unwrap_or_else(|| panic!("{}: `{needle}` occurs fewer than {} times", self.name, nth + 1))
            .0;
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        Some((line as u32, column as u32))
    }

    fn check(&self) -> Result<(), String> {
        let error = match parse_policy(&self.text) {
            Ok(parsed) => return Err(format!("accepted as {:?}", parsed.policy)),
            Err(error) => error,
        };
        let PolicyError::Malformed { code, path, span, .. } = &error else {
            return Err(format!("not a `Malformed` error: {error:?}"));
        };
        let mut problems = Vec::new();
        if *code != self.code {
            problems.push(format!("code `{code}`, expected `{}`", self.code));
        }
        if let Some(expected) = self.path {
            if path.as_deref() != Some(expected) {
                problems.push(format!("path {path:?}, expected `{expected}`"));
            }
        }
        match (self.expected_position(), span) {
            (Some(expected), Some(span)) if (span.start.line, span.start.column) != expected => problems.push(format!(
                "points at line {} column {}, expected line {} column {}",
                span.start.line, span.start.column, expected.0, expected.1
            )),
            (Some(_), None) => problems.push("names no position".to_string()),
            _ => {}
        }
        let message = error.to_string();
        if message.chars().next().is_some_and(char::is_uppercase) {
            problems.push("message starts with a capital".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{} (message: {message})", problems.join("; ")))
        }
    }
}

fn element_refusals() -> Vec<Refusal> {
    vec![
        refuse(
            "unknown top-level element",
            r#"{"Version":"2012-10-17","Statment":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "INVALID_POLICY_ELEMENT",
            "[",
        )
        .path("Statment"),
        refuse(
            "unknown statement element",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Actions": ["s3:GetObject"]"#,
                r#""Resource": "*""#,
            ]),
            "INVALID_POLICY_ELEMENT",
            r#"["s3:GetObject"]"#,
        )
        .path("Statement[0].Actions"),
        refuse(
            "element names are case-sensitive: `effect`",
            statement(&[
                r#""effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "*""#,
            ]),
            "INVALID_POLICY_ELEMENT",
            r#""Allow""#,
        ),
        refuse(
            "element names are case-sensitive: `statement`",
            r#"{"Version":"2012-10-17","statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "INVALID_POLICY_ELEMENT",
            r#"{"Effect""#,
        ),
        refuse(
            "`Effect` is case-sensitive: `allow`",
            statement(&[
                r#""Effect": "allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "*""#,
            ]),
            "INVALID_EFFECT",
            r#""allow""#,
        )
        .path("Statement[0].Effect"),
        refuse(
            "`Effect` is Allow or Deny",
            statement(&[
                r#""Effect": "Permit""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "*""#,
            ]),
            "INVALID_EFFECT",
            r#""Permit""#,
        ),
        refuse(
            "duplicate `Action`",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "*""#,
                r#""Action": "s3:PutObject""#,
            ]),
            "DUPLICATE_KEY",
            r#""s3:PutObject""#,
        ),
        refuse(
            "duplicate `Version`",
            r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "DUPLICATE_KEY",
            r#""2008-10-17""#,
        ),
        refuse(
            "duplicate condition key under one operator",
            with_condition(r#"{"StringEquals": {"aws:username": "alice", "aws:username": "bob"}}"#),
            "DUPLICATE_KEY",
            r#""bob""#,
        ),
        refuse(
            "duplicate condition operator",
            with_condition(
                r#"{"Bool": {"aws:SecureTransport": "true"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}"#,
            ),
            "DUPLICATE_KEY",
            r#"{"aws:MultiFactorAuthPresent""#,
        ),
        refuse(
            "`Action` and `NotAction` together",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:*""#,
                r#""NotAction": "s3:DeleteBucket""#,
                r#""Resource": "*""#,
            ]),
            "UNSUPPORTED_ELEMENT_COMBINATION",
            r#""s3:DeleteBucket""#,
        ),
        refuse(
            "`Resource` and `NotResource` together",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:*""#,
                r#""NotResource": "arn:aws:s3:::payroll/*""#,
                r#""Resource": "*""#,
            ]),
            "UNSUPPORTED_ELEMENT_COMBINATION",
            r#""*""#,
        ),
        refuse(
            "`Principal` and `NotPrincipal` together",
            statement(&[
                r#""Effect": "Deny""#,
                r#""Principal": "*""#,
                r#""NotPrincipal": {"AWS": "111122223333"}"#,
                r#""Action": "s3:*""#,
                r#""Resource": "*""#,
            ]),
            "UNSUPPORTED_ELEMENT_COMBINATION",
            r#"{"AWS""#,
        ),
        refuse(
            "missing `Effect`",
            statement(&[r#""Action": "s3:GetObject""#, r#""Resource": "*""#]),
            "MISSING_EFFECT",
            "{\n      \"Action\"",
        )
        .path("Statement[0]"),
        refuse(
            "missing `Action`",
            statement(&[r#""Effect": "Allow""#, r#""Resource": "*""#]),
            "MISSING_ACTION",
            "{\n      \"Effect\"",
        ),
        refuse(
            "missing `Statement`",
            "{\n  \"Version\": \"2012-10-17\"\n}",
            "MISSING_STATEMENT",
            "{",
        ),
        refuse(
            "empty `Statement` array",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}",
            "MISSING_STATEMENT",
            "[]",
        ),
        refuse(
            "`Version` is not a known version",
            r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "INVALID_VERSION",
            r#""2012-10-18""#,
        ),
        refuse(
            "`Version` is a string",
            r#"{"Version":20121017,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "DATA_TYPE_MISMATCH",
            "20121017",
        ),
        refuse(
            "the document is an array",
            r#"[{"Effect":"Allow","Action":"*","Resource":"*"}]"#,
            "DATA_TYPE_MISMATCH",
            "[",
        ),
        refuse(
            "`Statement` is a string",
            r#"{"Version":"2012-10-17","Statement":"Allow everything"}"#,
            "DATA_TYPE_MISMATCH",
            r#""Allow everything""#,
        ),
        refuse(
            "a statement is a string",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},"Deny"]}"#,
            "DATA_TYPE_MISMATCH",
            r#""Deny""#,
        )
        .path("Statement[1]"),
        refuse(
            "`Sid` is a string",
            statement(&[
                r#""Sid": 1"#,
                r#""Effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "*""#,
            ]),
            "DATA_TYPE_MISMATCH",
            "1,\n",
        ),
        refuse(
            "`Resource` is an object",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": {"arn": "*"}"#,
            ]),
            "DATA_TYPE_MISMATCH",
            r#"{"arn""#,
        ),
        refuse(
            "an action is a number",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": ["s3:GetObject", 42]"#,
                r#""Resource": "*""#,
            ]),
            "DATA_TYPE_MISMATCH",
            "42",
        )
        .path("Statement[0].Action[1]"),
    ]
}

fn value_refusals() -> Vec<Refusal> {
    vec![
        refuse(
            "action without a service prefix",
            statement(&[r#""Effect": "Allow""#, r#""Action": "GetObject""#, r#""Resource": "*""#]),
            "INVALID_ACTION",
            r#""GetObject""#,
        ),
        refuse(
            "action with an empty service prefix",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": ":GetObject""#,
                r#""Resource": "*""#,
            ]),
            "INVALID_ACTION",
            r#"":GetObject""#,
        ),
        refuse(
            "action with an empty name",
            statement(&[r#""Effect": "Allow""#, r#""Action": "s3:""#, r#""Resource": "*""#]),
            "INVALID_ACTION",
            r#""s3:""#,
        ),
        refuse(
            "action with a space, second in a list",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": ["s3:GetObject", "s3:Put Object"]"#,
                r#""Resource": "*""#,
            ]),
            "INVALID_ACTION",
            r#""s3:Put Object""#,
        )
        .path("Statement[0].Action[1]"),
        refuse(
            "action with two colons",
            statement(&[
                r#""Effect": "Allow""#,
                r#""NotAction": "s3:Get:Object""#,
                r#""Resource": "*""#,
            ]),
            "INVALID_ACTION",
            r#""s3:Get:Object""#,
        ),
        refuse(
            "resource that is not an ARN",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": "amzn-s3-demo-bucket/*""#,
            ]),
            "INVALID_ARN_PREFIX",
            r#""amzn-s3-demo-bucket/*""#,
        ),
        refuse(
            "resource that is not an ARN, second in a list",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:GetObject""#,
                r#""Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/*", "amzn-s3-demo-bucket"]"#,
            ]),
            "INVALID_ARN_PREFIX",
            r#""amzn-s3-demo-bucket""#,
        )
        .path("Statement[0].Resource[1]"),
        refuse(
            "NotResource that is not an ARN",
            statement(&[
                r#""Effect": "Deny""#,
                r#""Action": "s3:*""#,
                r#""NotResource": "ARN:aws:s3:::b""#,
            ]),
            "INVALID_ARN_PREFIX",
            r#""ARN:aws:s3:::b""#,
        ),
        refuse(
            "principal type in lowercase",
            with_principal(r#"{"aws": "111122223333"}"#),
            "INVALID_PRINCIPAL_KEY",
            r#""111122223333""#,
        ),
        refuse(
            "principal with a partial wildcard, second in a list",
            with_principal(r#"{"AWS": ["111122223333", "arn:aws:iam::111122223333:user/*"]}"#),
            "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
            r#""arn:aws:iam::111122223333:user/*""#,
        )
        .path("Statement[0].Principal.AWS[1]"),
        refuse(
            "principal object without principals",
            with_principal("{}"),
            "EMPTY_OBJECT_PRINCIPAL",
            "{}",
        ),
        refuse(
            "principal as a bare name",
            with_principal(r#""alice""#),
            "INVALID_PRINCIPAL_FORMAT",
            r#""alice""#,
        ),
    ]
}

fn condition_refusals() -> Vec<Refusal> {
    vec![
        refuse(
            "unknown condition operator",
            with_condition(r#"{"StringEqualz": {"aws:username": "alice"}}"#),
            "INVALID_CONDITION_OPERATOR",
            r#"{"aws:username""#,
        )
        .path("Statement[0].Condition.StringEqualz"),
        refuse(
            "operator names are case-sensitive",
            with_condition(r#"{"stringEquals": {"aws:username": "alice"}}"#),
            "INVALID_CONDITION_OPERATOR",
            r#"{"aws:username""#,
        ),
        refuse(
            "misspelt set qualifier",
            with_condition(r#"{"ForAnyValues:StringEquals": {"aws:TagKeys": "team"}}"#),
            "INVALID_CONDITION_OPERATOR",
            r#"{"aws:TagKeys""#,
        ),
        refuse(
            "`NullIfExists`",
            with_condition(r#"{"NullIfExists": {"aws:TokenIssueTime": "true"}}"#),
            "NULL_WITH_IF_EXISTS",
            r#"{"aws:TokenIssueTime""#,
        ),
        refuse(
            "`NullIfExists` with a set qualifier",
            with_condition(r#"{"ForAllValues:NullIfExists": {"aws:TagKeys": "true"}}"#),
            "NULL_WITH_IF_EXISTS",
            r#"{"aws:TagKeys""#,
        ),
        refuse(
            "numeric value that is no number",
            with_condition(r#"{"NumericLessThanEquals": {"s3:max-keys": "ten"}}"#),
            "TYPE_MISMATCH_NUMBER",
            r#""ten""#,
        ),
        refuse(
            "numeric value that is no number, second in a list",
            with_condition(r#"{"NumericEquals": {"s3:max-keys": ["10", "1O"]}}"#),
            "TYPE_MISMATCH_NUMBER",
            r#""1O""#,
        )
        .path("Statement[0].Condition.NumericEquals.s3:max-keys[1]"),
        refuse(
            "numeric value `NaN`",
            with_condition(r#"{"NumericGreaterThan": {"s3:max-keys": "NaN"}}"#),
            "TYPE_MISMATCH_NUMBER",
            r#""NaN""#,
        ),
        refuse(
            "date value that is no date",
            with_condition(r#"{"DateGreaterThan": {"aws:CurrentTime": "next tuesday"}}"#),
            "TYPE_MISMATCH_DATE",
            r#""next tuesday""#,
        ),
        refuse(
            "date value with a wildcard",
            with_condition(r#"{"DateLessThan": {"aws:CurrentTime": "2024-*"}}"#),
            "TYPE_MISMATCH_DATE",
            r#""2024-*""#,
        ),
        refuse(
            "date value with a month 13",
            with_condition(r#"{"DateEquals": {"aws:CurrentTime": "2024-13-01"}}"#),
            "TYPE_MISMATCH_DATE",
            r#""2024-13-01""#,
        ),
        refuse(
            "bool value `yes`",
            with_condition(r#"{"Bool": {"aws:SecureTransport": "yes"}}"#),
            "TYPE_MISMATCH_BOOLEAN",
            r#""yes""#,
        ),
        refuse(
            "bool value as a number",
            with_condition(r#"{"Bool": {"aws:SecureTransport": 1}}"#),
            "TYPE_MISMATCH_BOOLEAN",
            "1}",
        ),
        refuse(
            "null value `maybe`",
            with_condition(r#"{"Null": {"aws:TokenIssueTime": "maybe"}}"#),
            "TYPE_MISMATCH_BOOLEAN",
            r#""maybe""#,
        ),
        refuse(
            "IP prefix longer than 32",
            with_condition(r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}"#),
            "TYPE_MISMATCH_IP_RANGE",
            r#""203.0.113.0/33""#,
        ),
        refuse(
            "IP octet over 255",
            with_condition(r#"{"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "10.0.0.300"]}}"#),
            "TYPE_MISMATCH_IP_RANGE",
            r#""10.0.0.300""#,
        ),
        refuse(
            "IPv6 with two `::`",
            with_condition(r#"{"IpAddress": {"aws:SourceIp": "2001:db8::1::/64"}}"#),
            "TYPE_MISMATCH_IP_RANGE",
            r#""2001:db8::1::/64""#,
        ),
        refuse(
            "binary value that is no base64",
            with_condition(r#"{"BinaryEquals": {"example:Blob": "not base64!"}}"#),
            "TYPE_MISMATCH_STRING",
            r#""not base64!""#,
        ),
        refuse(
            "ARN operator value with too few parts",
            with_condition(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns"}}"#),
            "MISSING_ARN_FIELD",
            r#""arn:aws:sns""#,
        ),
        refuse(
            "policy variable with a numeric operator",
            with_condition(r#"{"NumericLessThan": {"s3:max-keys": "${aws:PrincipalTag/max-keys}"}}"#),
            "INVALID_VARIABLE_FOR_OPERATOR",
            r#""${aws:PrincipalTag/max-keys}""#,
        ),
        refuse(
            "policy variable with a date operator",
            with_condition(r#"{"DateLessThan": {"aws:CurrentTime": "${aws:TokenIssueTime}"}}"#),
            "INVALID_VARIABLE_FOR_OPERATOR",
            r#""${aws:TokenIssueTime}""#,
        ),
        refuse(
            "policy variable with an IP operator",
            with_condition(r#"{"IpAddress": {"aws:SourceIp": "${aws:PrincipalTag/cidr}"}}"#),
            "INVALID_VARIABLE_FOR_OPERATOR",
            r#""${aws:PrincipalTag/cidr}""#,
        ),
        refuse(
            "2008-10-17: `${...}` is literal text, so not a number",
            "{\"Version\": \"2008-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:ListBucket\", \"Resource\": \"*\",\n  \"Condition\": {\"NumericEquals\": {\"s3:max-keys\": \"${aws:username}\"}}}}",
            "TYPE_MISMATCH_NUMBER",
            r#""${aws:username}""#,
        ),
        refuse(
            "condition value null",
            with_condition(r#"{"StringEquals": {"aws:username": null}}"#),
            "DATA_TYPE_MISMATCH",
            "null",
        ),
        refuse(
            "condition value object",
            with_condition(r#"{"StringEquals": {"aws:username": {"name": "alice"}}}"#),
            "DATA_TYPE_MISMATCH",
            r#"{"name""#,
        ),
        refuse(
            "condition value null inside a list",
            with_condition(r#"{"StringEquals": {"aws:username": ["alice", null]}}"#),
            "DATA_TYPE_MISMATCH",
            "null",
        ),
        refuse(
            "operator maps to a string",
            with_condition(r#"{"StringEquals": "aws:username"}"#),
            "DATA_TYPE_MISMATCH",
            r#""aws:username""#,
        ),
        refuse(
            "operator without keys",
            with_condition(r#"{"StringEquals": {}}"#),
            "EMPTY_OBJECT_CONDITION",
            "{}",
        ),
        refuse(
            "condition key without values",
            with_condition(r#"{"StringEquals": {"aws:username": []}}"#),
            "EMPTY_ARRAY_CONDITION",
            "[]",
        ),
        refuse(
            "empty condition key",
            with_condition(r#"{"StringEquals": {"": "alice"}}"#),
            "INVALID_CONDITION_KEY_FORMAT",
            r#""alice""#,
        ),
        refuse(
            "`Condition` is an array",
            with_condition(r#"[{"StringEquals": {"aws:username": "alice"}}]"#),
            "DATA_TYPE_MISMATCH",
            r#"[{"StringEquals""#,
        ),
    ]
}

fn json_refusals() -> Vec<Refusal> {
    let deep = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"k":{}"v"{}}}}}}}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    vec![
        refuse("not JSON at all", "Version: 2012-10-17", "JSON_SYNTAX_ERROR", "Version"),
        refuse("empty text", "", "JSON_SYNTAX_ERROR", "").nowhere(),
        refuse(
            "trailing comma in an array",
            statement(&[r#""Effect": "Allow""#, r#""Action": ["s3:GetObject",]"#, r#""Resource": "*""#]),
            "JSON_SYNTAX_ERROR",
            ",]",
        ),
        refuse(
            "trailing comma in an object",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\",}\n}",
            "JSON_SYNTAX_ERROR",
            ",}",
        ),
        refuse(
            "line comment",
            "{\n  \"Version\": \"2012-10-17\",\n  // read-only access\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:Get*\", \"Resource\": \"*\"}\n}",
            "JSON_SYNTAX_ERROR",
            "//",
        ),
        refuse(
            "block comment",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": /* for now */ \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n}",
            "JSON_SYNTAX_ERROR",
            "/*",
        ),
        refuse(
            "single-quoted string",
            "{\n  \"Version\": '2012-10-17',\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n}",
            "JSON_SYNTAX_ERROR",
            "'2012",
        ),
        refuse(
            "unquoted key",
            "{\n  Version: \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n}",
            "JSON_SYNTAX_ERROR",
            "Version",
        ),
        refuse(
            "unclosed document",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n",
            "JSON_SYNTAX_ERROR",
            "{",
        ),
        refuse(
            "nesting deeper than any policy needs",
            deep,
            "JSON_SYNTAX_ERROR",
            "[",
        )
        // `{` document, `{` statement, `{` condition, `{` operator: the 29th `[` is the 33rd level.
        .nth(28),
    ]
}

#[test]
fn refusals() {
    let cases: Vec<Refusal> = element_refusals()
        .into_iter()
        .chain(value_refusals())
        .chain(condition_refusals())
        .chain(json_refusals())
        .collect();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case name `{}`", case.name);
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| case.check().err().map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} refusal cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---- acceptance -----------------------------------------------------------------------------------

struct Accepted {
    name: &'static str,
    text: String,
    check: fn(&Policy) -> Result<(), String>,
}

fn accept(name: &'static str, text: impl Into<String>, check: fn(&Policy) -> Result<(), String>) -> Accepted {
    Accepted {
        name,
        text: text.into(),
        check,
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn acceptances() -> Vec<Accepted> {
    vec![
        accept(
            "minimal identity policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
            |p| {
                expect_eq("version", p.version, Some(Version::V2012_10_17))?;
                let s = &p.statements[0];
                expect_eq("effect", s.effect, Effect::Allow)?;
                expect_eq("action", &s.action, &ActionBlock { negated: false, patterns: strings(&["s3:GetObject"]) })?;
                expect_eq(
                    "resource",
                    s.resource.as_ref(),
                    Some(&ResourceBlock { negated: false, patterns: strings(&["arn:aws:s3:::amzn-s3-demo-bucket/*"]) }),
                )
            },
        ),
        accept(
            "Statement as an object",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
            |p| {
                expect_eq("statements", p.statements.len(), 1)?;
                expect_eq("effect", p.statements[0].effect, Effect::Deny)
            },
        ),
        accept(
            "several statements, elements in any order",
            "{\r\n\t\"Statement\": [\r\n\t\t{\"Resource\": \"*\", \"Action\": [\"ec2:Describe*\", \"ec2:Get*\"], \"Effect\": \"Allow\", \"Sid\": \"Read\"},\r\n\t\t{\"Condition\": {\"Bool\": {\"aws:MultiFactorAuthPresent\": \"false\"}}, \"NotResource\": [\"arn:aws:ec2:*:111122223333:instance/*\"], \"NotAction\": \"ec2:Describe*\", \"Effect\": \"Deny\"}\r\n\t],\r\n\t\"Id\": \"ec2-readers\",\r\n\t\"Version\": \"2012-10-17\"\r\n}\r\n",
            |p| {
                expect_eq("id", p.id.as_deref(), Some("ec2-readers"))?;
                expect_eq("sid", p.statements[0].sid.as_deref(), Some("Read"))?;
                expect_eq("actions", &p.statements[0].action.patterns, &strings(&["ec2:Describe*", "ec2:Get*"]))?;
                expect_eq("not action", p.statements[1].action.negated, true)?;
                expect_eq("not resource", p.statements[1].resource.as_ref().map(|r| r.negated), Some(true))?;
                expect_eq("conditions", p.statements[1].condition.len(), 1)
            },
        ),
        accept(
            "no Version is the 2008-10-17 language",
            r#"{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/${aws:username}"}}"#,
            |p| {
                expect_eq("version", p.version, None)?;
                expect_eq("effective version", p.effective_version(), Version::V2008_10_17)
            },
        ),
        accept(
            "version 2008-10-17",
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
            |p| expect_eq("version", p.version, Some(Version::V2008_10_17)),
        ),
        accept(
            "numbers and booleans as condition values",
            with_condition(r#"{"NumericLessThanEquals": {"s3:max-keys": 10}, "NumericGreaterThan": {"example:Ratio": [0.5, "1", -2]}, "Bool": {"aws:SecureTransport": true}}"#),
            |p| {
                let values: Vec<(&str, Vec<String>)> =
                    p.statements[0].condition.iter().map(|c| (c.key.as_str(), c.values.clone())).collect();
                expect_eq(
                    "values",
                    values,
                    vec![
                        ("s3:max-keys", strings(&["10"])),
                        ("example:Ratio", strings(&["0.5", "1", "-2"])),
                        ("aws:SecureTransport", strings(&["true"])),
                    ],
                )
            },
        ),
        accept(
            "every operator family with qualifiers and IfExists",
            with_condition(
                r#"{
        "StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]},
        "ForAnyValue:StringNotLikeIfExists": {"aws:TagKeys": "tmp-*"},
        "NumericLessThan": {"s3:max-keys": "10"},
        "DateGreaterThan": {"aws:CurrentTime": ["2020-01-01", "2020-01-01T00:00:00Z", "1577836800", "2020-01-01T00:00:00.123+02:00"]},
        "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"},
        "BinaryEquals": {"example:Blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64", "192.0.2.7"]},
        "ArnLike": {"aws:SourceArn": ["arn:aws:sns:*:123456789012:*", "*"]},
        "Null": {"aws:TokenIssueTime": "true"}
      }"#,
            ),
            |p| {
                let ops: Vec<String> = p.statements[0].condition.iter().map(|c| c.operator.to_string()).collect();
                expect_eq(
                    "operators",
                    ops,
                    strings(&[
                        "StringLikeIfExists",
                        "ForAllValues:StringEquals",
                        "ForAnyValue:StringNotLikeIfExists",
                        "NumericLessThan",
                        "DateGreaterThan",
                        "BoolIfExists",
                        "BinaryEquals",
                        "IpAddress",
                        "ArnLike",
                        "Null",
                    ]),
                )?;
                expect_eq(
                    "third operator",
                    p.statements[0].condition[2].operator,
                    ConditionOperator {
                        qualifier: Some(SetQualifier::ForAnyValue),
                        base: BaseOperator::StringNotLike,
                        if_exists: true,
                    },
                )
            },
        ),
        accept(
            "condition keys under one operator, in order",
            with_condition(r#"{"StringEquals": {"aws:PrincipalTag/dept": "eng", "AWS:PrincipalTag/Level": ["lead", "staff"]}}"#),
            |p| {
                let keys: Vec<&str> = p.statements[0].condition.iter().map(|c| c.key.as_str()).collect();
                expect_eq("keys as written", keys, vec!["aws:PrincipalTag/dept", "AWS:PrincipalTag/Level"])
            },
        ),
        accept(
            "an empty Condition block",
            with_condition("{}"),
            |p| expect_eq("conditions", p.statements[0].condition.len(), 0),
        ),
        accept(
            "policy variables where they are allowed",
            statement(&[
                r#""Effect": "Allow""#,
                r#""Action": "s3:*""#,
                r#""Resource": ["arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}/*", "arn:aws:s3:::home/${aws:username}/${*}${?}${$}"]"#,
                r#""Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}, "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/${aws:username}"}}"#,
            ]),
            |p| {
                expect_eq(
                    "resource kept as written",
                    p.statements[0].resource.as_ref().map(|r| r.patterns[0].as_str()),
                    Some("arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}/*"),
                )?;
                expect_eq("conditions", p.statements[0].condition.len(), 2)
            },
        ),
        accept(
            "Principal `*`",
            with_principal(r#""*""#),
            |p| {
                expect_eq(
                    "principal",
                    p.statements[0].principal.as_ref(),
                    Some(&PrincipalBlock { negated: false, principals: PrincipalSet::Any }),
                )
            },
        ),
        accept(
            "Principal of every type",
            with_principal(
                r#"{"AWS": ["111122223333", "arn:aws:iam::444455556666:root", "arn:aws:iam::111122223333:role/Auditor", "arn:aws:sts::111122223333:assumed-role/Auditor/s1", "*"], "Service": "sns.amazonaws.com", "Federated": ["cognito-identity.amazonaws.com", "arn:aws:iam::111122223333:saml-provider/Okta"], "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
            ),
            |p| {
                let Some(PrincipalBlock { negated: false, principals: PrincipalSet::Typed(entries) }) =
                    p.statements[0].principal.as_ref()
                else {
                    return Err(format!("principal {:?}", p.statements[0].principal));
                };
                let kinds: Vec<(PrincipalType, usize)> = entries.iter().map(|(k, ids)| (*k, ids.len())).collect();
                expect_eq(
                    "principal types",
                    kinds,
                    vec![
                        (PrincipalType::Aws, 5),
                        (PrincipalType::Service, 1),
                        (PrincipalType::Federated, 2),
                        (PrincipalType::CanonicalUser, 1),
                    ],
                )
            },
        ),
        accept(
            "NotPrincipal with a Deny",
            statement(&[
                r#""Effect": "Deny""#,
                r#""NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:root"]}"#,
                r#""Action": "s3:*""#,
                r#""Resource": "*""#,
            ]),
            |p| expect_eq("negated", p.statements[0].principal.as_ref().map(|b| b.negated), Some(true)),
        ),
        accept(
            "trust policy without Resource",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            |p| expect_eq("resource", p.statements[0].resource.as_ref(), None),
        ),
        accept(
            "action wildcards",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["*","iam:*AccessKey*","s3:?etObject","*:Describe*"],"Resource":"*"}}"#,
            |p| expect_eq("actions", p.statements[0].action.patterns.len(), 4),
        ),
        accept(
            "non-ASCII text in values",
            with_condition(r#"{"StringEqualsIgnoreCase": {"aws:PrincipalTag/city": "Zürich"}}"#),
            |p| expect_eq("value", p.statements[0].condition[0].values.clone(), strings(&["Zürich"])),
        ),
    ]
}

#[test]
fn acceptances_of_legal_shapes() {
    let cases = acceptances();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let outcome = parse_policy(&case.text)
                .map_err(|e| format!("refused: {e}"))
                .and_then(|parsed| (case.check)(&parsed.policy));
            outcome.err().map(|why| format!("{}: {why}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} acceptance cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Layout does not change the model: a single value is a list of one, a statement object an array of one.
#[test]
fn layouts_with_equal_models() {
    let pairs: [(&str, &str); 2] = [
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#,
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice"}}}}"#,
            "{\n  \"Statement\": [\n    {\n      \"Condition\": {\"StringEquals\": {\"aws:username\": [\"alice\"]}},\n      \"Resource\": \"*\",\n      \"Action\": [\"s3:GetObject\"],\n      \"Principal\": {\"AWS\": [\"111122223333\"]},\n      \"Effect\": \"Allow\"\n    }\n  ],\n  \"Version\": \"2012-10-17\"\n}",
        ),
    ];
    let mut pairs: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    pairs.push((
        with_condition(r#"{"NumericEquals": {"s3:max-keys": 10}}"#),
        with_condition(r#"{"NumericEquals": {"s3:max-keys": ["10"]}}"#),
    ));
    for (a, b) in &pairs {
        let left = parse_policy(a).unwrap().policy;
        let right = parse_policy(b).unwrap().policy;
        assert_eq!(left, right, "\n{a}\n{b}");
        // Printing and parsing again gives the same model.
        assert_eq!(parse_policy(&left.to_string()).unwrap().policy, left);
    }
}

/// The source map says where each statement is, so decisions can point at them.
#[test]
fn statement_spans() {
    let text = statement(&[
        r#""Effect": "Allow""#,
        r#""Action": "s3:GetObject""#,
        r#""Resource": "*""#,
    ]);
    let parsed = parse_policy(&text).unwrap();
    let span = parsed.source.statements[0];
    assert_eq!((span.start.line, span.start.column), (4, 5));
    assert_eq!((span.end.line, span.end.column), (8, 6));
    assert_eq!(
        &text[span.start.offset as usize..span.end.offset as usize]
            .chars()
            .last(),
        &Some('}')
    );
}
