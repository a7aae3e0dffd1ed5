//! Table-driven cases for condition operators, set qualifiers and policy variables, after the examples of
//! the AWS IAM User Guide (condition operators, multivalued keys, policy variables), in our own values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    evaluate, parse_policy, BaseOperator, Caller, Context, ContextValue, Policies, PolicySet, PolicySource, PolicyType,
    Request,
};

/// One request against a one-statement `Allow` policy whose `Condition` is `policy_condition_json`.
struct Case {
    name: String,
    /// The `Condition` object; empty for a statement without one.
    policy_condition_json: &'static str,
    /// `(key, values, multivalued)`.
    context: Vec<(&'static str, Vec<&'static str>, bool)>,
    expect_allowed: bool,
    /// The statement's `Resource`.
    resource_pattern: &'static str,
    /// The resource of the request.
    request_resource: &'static str,
    /// The document's `Version`; `None` leaves it out.
    version: Option<&'static str>,
}

const BUCKET_OBJECT: &str = "arn:aws:s3:::amzn-s3-demo-bucket/reports/q3.csv";

fn case(
    name: impl Into<String>,
    policy_condition_json: &'static str,
    context: Vec<(&'static str, Vec<&'static str>, bool)>,
    expect_allowed: bool,
) -> Case {
    Case {
        name: name.into(),
        policy_condition_json,
        context,
        expect_allowed,
        resource_pattern: "*",
        request_resource: BUCKET_OBJECT,
        version: Some("2012-10-17"),
    }
}

impl Case {
    fn resource(mut self, pattern: &'static str, request: &'static str) -> Self {
        self.resource_pattern = pattern;
        self.request_resource = request;
        self
    }

    fn version(mut self, version: Option<&'static str>) -> Self {
        self.version = version;
        self
    }

    fn policy_text(&self) -> String {
        let version = self.version.map(|v| format!(r#""Version":"{v}","#)).unwrap_or_default();
        let condition = match self.policy_condition_json {
            "" => String::new(),
            json => format!(r#","Condition":{json}"#),
        };
        format!(
            r#"{{{version}"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"{}"{condition}}}]}}"#,
            self.resource_pattern
        )
    }

    /// The decision, or why the case could not be run.
    fn run(&self) -> Result<bool, String> {
        let text = self.policy_text();
        let parsed = parse_policy(&text).map_err(|e| format!("policy refused: {e}\n  policy: {text}"))?;
        let set = PolicySet::compile([(PolicySource::new("case", PolicyType::UserManaged), &parsed)])
            .map_err(|e| format!("policy not compiled: {e}"))?;
        let mut context = Context::new();
        for (key, values, multivalued) in &self.context {
            let value = if *multivalued {
                ContextValue::list(values.iter().copied())
            } else {
                assert_eq!(values.len(), 1, "{}: a single-valued key has one value", self.name);
                ContextValue::single(values[0])
            };
            context.insert(key, value);
        }
        let caller = Caller::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
        let request = Request {
            caller: &caller,
            action: "s3:GetObject",
            resource: self.request_resource,
            resource_account: None,
            context: &context,
        };
        let policies = Policies {
            identity: Some(&set),
            ..Policies::default()
        };
        Ok(evaluate(&policies, &request).is_allowed())
    }
}

fn one(key: &'static str, value: &'static str) -> (&'static str, Vec<&'static str>, bool) {
    (key, vec![value], false)
}

fn many(key: &'static str, values: &[&'static str]) -> (&'static str, Vec<&'static str>, bool) {
    (key, values.to_vec(), true)
}

/// Per operator: a key, the policy value, a request value that satisfies the operator and one that does not.
/// Every operator is also run with `IfExists` and without its key.
const OPERATOR_TABLE: &[(&str, &str, &str, &str, &str)] = &[
    ("StringEquals", "aws:PrincipalTag/team", "red", "red", "Red"),
    ("StringNotEquals", "aws:PrincipalTag/team", "red", "blue", "red"),
    ("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "Red", "rED", "blue"),
    (
        "StringNotEqualsIgnoreCase",
        "aws:PrincipalTag/team",
        "Red",
        "blue",
        "RED",
    ),
    ("StringLike", "aws:PrincipalTag/team", "r*d", "rapid", "rapids"),
    ("StringNotLike", "aws:PrincipalTag/team", "r*d", "rapids", "rapid"),
    ("NumericEquals", "s3:max-keys", "10", "10", "11"),
    ("NumericNotEquals", "s3:max-keys", "10", "11", "10"),
    ("NumericLessThan", "s3:max-keys", "10", "9", "10"),
    ("NumericLessThanEquals", "s3:max-keys", "10", "10", "11"),
    ("NumericGreaterThan", "s3:max-keys", "10", "11", "10"),
    ("NumericGreaterThanEquals", "s3:max-keys", "10", "10", "9"),
    (
        "DateEquals",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:01Z",
    ),
    (
        "DateNotEquals",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:01Z",
        "2024-03-01T12:00:00Z",
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T11:59:59Z",
        "2024-03-01T12:00:00Z",
    ),
    (
        "DateLessThanEquals",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:01Z",
    ),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:01Z",
        "2024-03-01T12:00:00Z",
    ),
    (
        "DateGreaterThanEquals",
        "aws:CurrentTime",
        "2024-03-01T12:00:00Z",
        "2024-03-01T12:00:00Z",
        "2024-03-01T11:59:59Z",
    ),
    ("Bool", "aws:SecureTransport", "true", "true", "false"),
    (
        "BinaryEquals",
        "example:Blob",
        "QmluYXJ5VmFsdWVJbkJhc2U2NA==",
        "QmluYXJ5VmFsdWVJbkJhc2U2NA==",
        "T3RoZXJWYWx1ZQ==",
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        "203.0.113.200",
        "198.51.100.1",
    ),
    (
        "NotIpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        "198.51.100.1",
        "203.0.113.200",
    ),
    (
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:sns:us-east-2:123456789012:orders",
        "arn:aws:sns:us-east-2:123456789012:orders",
        "arn:aws:sns:us-east-2:123456789012:refunds",
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:ord*",
        "arn:aws:sns:eu-west-1:123456789012:orders",
        "arn:aws:sns:eu-west-1:210987654321:orders",
    ),
    (
        "ArnNotEquals",
        "aws:SourceArn",
        "arn:aws:sns:us-east-2:123456789012:orders",
        "arn:aws:sns:us-east-2:123456789012:refunds",
        "arn:aws:sns:us-east-2:123456789012:orders",
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:ord*",
        "arn:aws:sns:eu-west-1:210987654321:orders",
        "arn:aws:sns:eu-west-1:123456789012:orders",
    ),
];

/// Condition JSON must be `'static`; the generated ones are leaked once per test run.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn operator_matrix() -> Vec<Case> {
    let mut cases = Vec::new();
    for &(operator, key, policy_value, satisfying, violating) in OPERATOR_TABLE {
        let negated = BaseOperator::ALL
            .iter()
            .find(|op| op.as_str() == operator)
            .unwrap_or_else(|| panic!("`{operator}` is not an operator of the crate"))
            .is_negated();
        for suffix in ["", "IfExists"] {
            let op = format!("{operator}{suffix}");
            let condition = leak(format!(r#"{{"{op}":{{"{key}":"{policy_value}"}}}}"#));
            cases.push(case(
                format!("matrix {op}: satisfied"),
                condition,
                vec![one(key, satisfying)],
                true,
            ));
            cases.push(case(
                format!("matrix {op}: violated"),
                condition,
                vec![one(key, violating)],
                false,
            ));
            // An absent key fails positive operators and satisfies negated ones; `IfExists` makes it true.
            let absent_allows = suffix == "IfExists" || negated;
            cases.push(case(
                format!("matrix {op}: key absent"),
                condition,
                vec![],
                absent_allows,
            ));
        }
    }
    cases
}

fn string_cases() -> Vec<Case> {
    const JOB: &str = r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#;
    const HOME: &str = r#"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}"#;
    vec![
        case(
            "StringEquals: tagged principal",
            JOB,
            vec![one("aws:PrincipalTag/job-category", "iamuser-admin")],
            true,
        ),
        case(
            "StringEquals: is case-sensitive",
            JOB,
            vec![one("aws:PrincipalTag/job-category", "IAMuser-admin")],
            false,
        ),
        case("StringEquals: untagged principal", JOB, vec![], false),
        case(
            "StringEquals: another tag does not count",
            JOB,
            vec![one("aws:PrincipalTag/job-title", "iamuser-admin")],
            false,
        ),
        case(
            "StringEquals: `*` is literal",
            r#"{"StringEquals":{"ec2:InstanceType":"t2.*"}}"#,
            vec![one("ec2:InstanceType", "t2.micro")],
            false,
        ),
        case(
            "StringEquals: `*` literal matches itself",
            r#"{"StringEquals":{"ec2:InstanceType":"t2.*"}}"#,
            vec![one("ec2:InstanceType", "t2.*")],
            true,
        ),
        case(
            "StringEqualsIgnoreCase: non-ASCII letters",
            r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/city":"MÜNCHEN"}}"#,
            vec![one("aws:PrincipalTag/city", "münchen")],
            true,
        ),
        case(
            "StringLike: empty prefix listed",
            HOME,
            vec![one("s3:prefix", ""), one("aws:username", "alice")],
            true,
        ),
        case(
            "StringLike: home/ listed",
            HOME,
            vec![one("s3:prefix", "home/"), one("aws:username", "alice")],
            true,
        ),
        case(
            "StringLike: own home directory",
            HOME,
            vec![one("s3:prefix", "home/alice/"), one("aws:username", "alice")],
            true,
        ),
        case(
            "StringLike: someone else's home directory",
            HOME,
            vec![one("s3:prefix", "home/bob/"), one("aws:username", "alice")],
            false,
        ),
        // An empty string is a value: `s3:prefix` is `""` when the bucket's top level is listed.
        case(
            "StringEquals: the empty string matches \"\"",
            r#"{"StringEquals":{"s3:prefix":["","home/"]}}"#,
            vec![one("s3:prefix", "")],
            true,
        ),
        case(
            "StringEquals: the empty string is not another value",
            r#"{"StringEquals":{"s3:prefix":"home/"}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "StringEqualsIfExists: the empty string is present, so compared",
            r#"{"StringEqualsIfExists":{"s3:prefix":"home/"}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "StringNotEquals: the empty string listed",
            r#"{"StringNotEquals":{"s3:prefix":["","home/"]}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "StringNotEquals: the empty string not listed",
            r#"{"StringNotEquals":{"s3:prefix":"home/"}}"#,
            vec![one("s3:prefix", "")],
            true,
        ),
        case(
            "StringLike: `*` matches the empty string",
            r#"{"StringLike":{"s3:prefix":"*"}}"#,
            vec![one("s3:prefix", "")],
            true,
        ),
        case(
            "StringLike: `home/*` does not match the empty string",
            r#"{"StringLike":{"s3:prefix":"home/*"}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "StringNotLike: the empty string listed",
            r#"{"StringNotLike":{"s3:prefix":["","home/*"]}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "StringEquals: a variable whose value is the empty string",
            r#"{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/home}"}}"#,
            vec![one("s3:prefix", ""), one("aws:PrincipalTag/home", "")],
            true,
        ),
        case(
            "StringLike: `*` spans slashes",
            r#"{"StringLike":{"s3:prefix":"marketing/*"}}"#,
            vec![one("s3:prefix", "marketing/2024/q1/")],
            true,
        ),
        case(
            "StringLike: is case-sensitive",
            r#"{"StringLike":{"s3:prefix":"marketing/*"}}"#,
            vec![one("s3:prefix", "Marketing/2024/")],
            false,
        ),
        case(
            "StringLike: `?` is exactly one character",
            r#"{"StringLike":{"ec2:InstanceType":"t?.micro"}}"#,
            vec![one("ec2:InstanceType", "t3.micro")],
            true,
        ),
        case(
            "StringLike: `?` is not two characters",
            r#"{"StringLike":{"ec2:InstanceType":"t?.micro"}}"#,
            vec![one("ec2:InstanceType", "t3a.micro")],
            false,
        ),
        case(
            "StringLike: `?` is not zero characters",
            r#"{"StringLike":{"ec2:InstanceType":"t?.micro"}}"#,
            vec![one("ec2:InstanceType", "t.micro")],
            false,
        ),
        case(
            "StringLike: instance family list, listed family",
            r#"{"StringLike":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#,
            vec![one("ec2:InstanceType", "m3.large")],
            true,
        ),
        case(
            "StringLike: instance family list, other family",
            r#"{"StringLike":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#,
            vec![one("ec2:InstanceType", "c5.large")],
            false,
        ),
        case(
            "StringLike: key absent (image, key pair...) denies without IfExists",
            r#"{"StringLike":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#,
            vec![],
            false,
        ),
        case(
            "StringLikeIfExists: key absent (image, key pair...) allows",
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#,
            vec![],
            true,
        ),
        case(
            "StringLikeIfExists: present and outside the list",
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#,
            vec![one("ec2:InstanceType", "p4d.24xlarge")],
            false,
        ),
        case(
            "StringNotLike: key absent is true",
            r#"{"StringNotLike":{"aws:PrincipalTag/team":"contract*"}}"#,
            vec![],
            true,
        ),
    ]
}

fn numeric_date_bool_binary_cases() -> Vec<Case> {
    const MAX_KEYS: &str = r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#;
    const ISSUED_2020: &str = r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#;
    const SECURE: &str = r#"{"Bool":{"aws:SecureTransport":"true"}}"#;
    const BLOB: &str = r#"{"BinaryEquals":{"example:Blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#;
    vec![
        case(
            "NumericLessThanEquals: up to 10 keys, 10",
            MAX_KEYS,
            vec![one("s3:max-keys", "10")],
            true,
        ),
        case(
            "NumericLessThanEquals: up to 10 keys, 3",
            MAX_KEYS,
            vec![one("s3:max-keys", "3")],
            true,
        ),
        case(
            "NumericLessThanEquals: up to 10 keys, 11",
            MAX_KEYS,
            vec![one("s3:max-keys", "11")],
            false,
        ),
        case("NumericLessThanEquals: key absent", MAX_KEYS, vec![], false),
        case(
            "NumericLessThanEquals: a JSON number in the policy",
            r#"{"NumericLessThanEquals":{"s3:max-keys":10}}"#,
            vec![one("s3:max-keys", "10")],
            true,
        ),
        case(
            "NumericEquals: decimals compare by value",
            r#"{"NumericEquals":{"s3:max-keys":"10"}}"#,
            vec![one("s3:max-keys", "10.0")],
            true,
        ),
        case(
            "NumericGreaterThan: negative decimal bound",
            r#"{"NumericGreaterThan":{"example:Delta":"-1.5"}}"#,
            vec![one("example:Delta", "-1.25")],
            true,
        ),
        case(
            "NumericLessThan: decimal request value",
            r#"{"NumericLessThan":{"example:Ratio":"0.5"}}"#,
            vec![one("example:Ratio", "0.499")],
            true,
        ),
        case(
            "NumericEquals: a request value that is no number does not match",
            r#"{"NumericEquals":{"s3:max-keys":"10"}}"#,
            vec![one("s3:max-keys", "ten")],
            false,
        ),
        case(
            "NumericNotEquals: several values are NOR, listed",
            r#"{"NumericNotEquals":{"s3:max-keys":["10","20"]}}"#,
            vec![one("s3:max-keys", "20")],
            false,
        ),
        case(
            "NumericNotEquals: several values are NOR, unlisted",
            r#"{"NumericNotEquals":{"s3:max-keys":["10","20"]}}"#,
            vec![one("s3:max-keys", "15")],
            true,
        ),
        case(
            "DateGreaterThan: token issued in 2020",
            ISSUED_2020,
            vec![one("aws:TokenIssueTime", "2020-06-15T08:30:00Z")],
            true,
        ),
        case(
            "DateGreaterThan: token issued in 2019",
            ISSUED_2020,
            vec![one("aws:TokenIssueTime", "2019-12-31T23:59:59Z")],
            false,
        ),
        case(
            "DateGreaterThan: long-term keys have no token time",
            ISSUED_2020,
            vec![],
            false,
        ),
        case(
            "DateEquals: epoch seconds equal an ISO 8601 instant",
            r#"{"DateEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            vec![one("aws:CurrentTime", "1577836800")],
            true,
        ),
        case(
            "DateEquals: an offset names the same instant",
            r#"{"DateEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            vec![one("aws:CurrentTime", "2020-01-01T02:00:00+02:00")],
            true,
        ),
        case(
            "DateEquals: a plain date is its midnight (UTC)",
            r#"{"DateEquals":{"aws:CurrentTime":"2020-01-01"}}"#,
            vec![one("aws:CurrentTime", "2020-01-01T00:00:00Z")],
            true,
        ),
        case(
            "DateLessThan: epoch seconds in the policy",
            r#"{"DateLessThan":{"aws:EpochTime":"1700000000"}}"#,
            vec![one("aws:EpochTime", "1699999999")],
            true,
        ),
        case(
            "NumericLessThan: aws:EpochTime also works with numbers",
            r#"{"NumericLessThan":{"aws:EpochTime":1700000000}}"#,
            vec![one("aws:EpochTime", "1700000000")],
            false,
        ),
        case(
            "DateNotEquals: several values are NOR",
            r#"{"DateNotEquals":{"aws:CurrentTime":["2024-12-25","2024-12-26"]}}"#,
            vec![one("aws:CurrentTime", "2024-12-26T00:00:00Z")],
            false,
        ),
        case("Bool: over TLS", SECURE, vec![one("aws:SecureTransport", "true")], true),
        case(
            "Bool: plain HTTP",
            SECURE,
            vec![one("aws:SecureTransport", "false")],
            false,
        ),
        case("Bool: key absent", SECURE, vec![], false),
        case(
            "Bool: a JSON boolean in the policy",
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            vec![one("aws:SecureTransport", "true")],
            true,
        ),
        case(
            "Bool: false matches false",
            r#"{"Bool":{"aws:MultiFactorAuthPresent":"false"}}"#,
            vec![one("aws:MultiFactorAuthPresent", "false")],
            true,
        ),
        case(
            "BoolIfExists: no MFA information at all (long-term keys)",
            r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#,
            vec![],
            true,
        ),
        case(
            "BinaryEquals: same bytes",
            BLOB,
            vec![one("example:Blob", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")],
            true,
        ),
        case(
            "BinaryEquals: other bytes",
            BLOB,
            vec![one("example:Blob", "QmluYXJ5")],
            false,
        ),
        case("BinaryEquals: key absent", BLOB, vec![], false),
    ]
}

fn ip_arn_null_cases() -> Vec<Case> {
    const V4: &str = r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#;
    const MIXED: &str = r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#;
    const FINANCE_LIKE: &str = r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#;
    const FINANCE_STRING_LIKE: &str =
        r#"{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#;
    const TOPIC: &str = r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-west-2:123456789012:alerts"}}"#;
    const NO_TOKEN: &str = r#"{"Null":{"aws:TokenIssueTime":"true"}}"#;
    const HAS_TOKEN: &str = r#"{"Null":{"aws:TokenIssueTime":"false"}}"#;
    vec![
        case(
            "IpAddress: inside the range",
            V4,
            vec![one("aws:SourceIp", "203.0.113.45")],
            true,
        ),
        case(
            "IpAddress: network address is inside",
            V4,
            vec![one("aws:SourceIp", "203.0.113.0")],
            true,
        ),
        case(
            "IpAddress: outside the range",
            V4,
            vec![one("aws:SourceIp", "203.0.114.1")],
            false,
        ),
        case("IpAddress: through a VPC endpoint (no source IP)", V4, vec![], false),
        case(
            "IpAddress: IPv6 inside the /64",
            MIXED,
            vec![one("aws:SourceIp", "2001:db8:1234:5678::1")],
            true,
        ),
        case(
            "IpAddress: IPv6 written in capitals",
            MIXED,
            vec![one("aws:SourceIp", "2001:DB8:1234:5678:ABCD::9")],
            true,
        ),
        case(
            "IpAddress: IPv6 outside the /64",
            MIXED,
            vec![one("aws:SourceIp", "2001:db8:1234:5679::1")],
            false,
        ),
        case(
            "IpAddress: IPv4 next to an IPv6 range",
            MIXED,
            vec![one("aws:SourceIp", "203.0.113.9")],
            true,
        ),
        case(
            "IpAddress: IPv4 against an IPv6-only range",
            r#"{"IpAddress":{"aws:SourceIp":"2001:DB8::/32"}}"#,
            vec![one("aws:SourceIp", "203.0.113.9")],
            false,
        ),
        case(
            "IpAddress: an address without prefix is a /32",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}"#,
            vec![one("aws:SourceIp", "203.0.113.5")],
            true,
        ),
        case(
            "IpAddress: an address without prefix is only itself",
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}"#,
            vec![one("aws:SourceIp", "203.0.113.6")],
            false,
        ),
        case(
            "NotIpAddress: several ranges are NOR",
            r#"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}"#,
            vec![one("aws:SourceIp", "203.0.113.1")],
            false,
        ),
        case(
            "NotIpAddress: outside every range",
            r#"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}"#,
            vec![one("aws:SourceIp", "198.51.100.1")],
            true,
        ),
        case("NotIpAddress: key absent", V4, vec![], false),
        case(
            "ArnLike: the account segment does not match",
            FINANCE_LIKE,
            vec![one(
                "aws:SourceArn",
                "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/report.txt",
            )],
            false,
        ),
        case(
            "StringLike: the same pattern and value match as plain strings",
            FINANCE_STRING_LIKE,
            vec![one(
                "aws:SourceArn",
                "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/report.txt",
            )],
            true,
        ),
        case(
            "ArnLike: every segment matches",
            FINANCE_LIKE,
            vec![one(
                "aws:SourceArn",
                "arn:aws:someservice:us-east-2:111122223333:finance/report.txt",
            )],
            true,
        ),
        case(
            "ArnLike: `?` within a segment",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-?:123456789012:alerts"}}"#,
            vec![one("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:alerts")],
            true,
        ),
        case(
            "ArnLike: `*` in the service segment",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s*:us-west-2:123456789012:alerts"}}"#,
            vec![one("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:alerts")],
            true,
        ),
        case(
            "ArnLike: `*` does not cross into the next segment",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:alerts"}}"#,
            vec![one(
                "aws:SourceArn",
                "arn:aws:sns:us-west-2:000011112222:123456789012:alerts",
            )],
            false,
        ),
        case(
            "ArnLike: is case-sensitive",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:Alerts"}}"#,
            vec![one("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:alerts")],
            false,
        ),
        case(
            "ArnLike: a request value that is no ARN does not match",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            vec![one("aws:SourceArn", "alerts")],
            false,
        ),
        case(
            "ArnEquals: the topic named",
            TOPIC,
            vec![one("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:alerts")],
            true,
        ),
        case(
            "ArnEquals: another region",
            TOPIC,
            vec![one("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:alerts")],
            false,
        ),
        case("ArnEquals: a direct call has no source ARN", TOPIC, vec![], false),
        case(
            "ArnEquals: wildcards work as in ArnLike",
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            vec![one("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:alerts")],
            true,
        ),
        case(
            "ArnNotEquals: several values are NOR",
            r#"{"ArnNotEquals":{"aws:SourceArn":["arn:aws:sns:*:123456789012:alerts","arn:aws:sns:*:123456789012:audit"]}}"#,
            vec![one("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:audit")],
            false,
        ),
        case(
            "ArnNotLike: key absent is true",
            r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            vec![],
            true,
        ),
        case("Null true: long-term credentials", NO_TOKEN, vec![], true),
        case(
            "Null true: temporary credentials",
            NO_TOKEN,
            vec![one("aws:TokenIssueTime", "2024-01-01T00:00:00Z")],
            false,
        ),
        case(
            "Null false: temporary credentials",
            HAS_TOKEN,
            vec![one("aws:TokenIssueTime", "2024-01-01T00:00:00Z")],
            true,
        ),
        case("Null false: long-term credentials", HAS_TOKEN, vec![], false),
        case(
            "Null: a JSON boolean in the policy",
            r#"{"Null":{"aws:TokenIssueTime":true}}"#,
            vec![],
            true,
        ),
        case(
            "Null true: an empty tag-key set has no value",
            r#"{"Null":{"aws:TagKeys":"true"}}"#,
            vec![many("aws:TagKeys", &[])],
            true,
        ),
        case(
            "Null false: a non-empty tag-key set is present",
            r#"{"Null":{"aws:TagKeys":"false"}}"#,
            vec![many("aws:TagKeys", &["cost-center"])],
            true,
        ),
        case(
            "Null true: a key whose value is the empty string is present",
            r#"{"Null":{"s3:prefix":"true"}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "Null false: a key whose value is the empty string is present",
            r#"{"Null":{"s3:prefix":"false"}}"#,
            vec![one("s3:prefix", "")],
            true,
        ),
        case(
            "ForAllValues:Null is always true",
            r#"{"ForAllValues:Null":{"aws:TagKeys":"false"}}"#,
            vec![],
            true,
        ),
        case(
            "ForAnyValue:Null is always false",
            r#"{"ForAnyValue:Null":{"aws:TagKeys":"true"}}"#,
            vec![],
            false,
        ),
    ]
}

fn set_operator_cases() -> Vec<Case> {
    const ONLY_THESE: &str =
        r#"{"ForAllValues:StringLike":{"dynamodb:requestedAttributes":["PostDateTime","Message","Tags"]}}"#;
    const ANY_OF: &str = r#"{"ForAnyValue:StringLike":{"dynamodb:requestedAttributes":["ID","PostDateTime"]}}"#;
    const ALL_NOT_KEY1: &str = r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}"#;
    const ANY_NOT: &str = r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["DataClass","Owner"]}}"#;
    const ALL_NOT: &str = r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["DataClass","Owner"]}}"#;
    const ATTRS: &str = "dynamodb:requestedAttributes";
    vec![
        case(
            "ForAllValues: every value listed",
            ONLY_THESE,
            vec![many(ATTRS, &["PostDateTime", "Message"])],
            true,
        ),
        case(
            "ForAllValues: one value unlisted",
            ONLY_THESE,
            vec![many(ATTRS, &["PostDateTime", "UserName"])],
            false,
        ),
        case("ForAllValues: key absent is true", ONLY_THESE, vec![], true),
        case(
            "ForAllValues: empty set is true",
            ONLY_THESE,
            vec![many(ATTRS, &[])],
            true,
        ),
        case(
            "ForAllValues: a set that resolves to an empty string is true",
            ONLY_THESE,
            vec![many(ATTRS, &[""])],
            true,
        ),
        case(
            "ForAnyValue: one value listed",
            ANY_OF,
            vec![many(ATTRS, &["Message", "PostDateTime"])],
            true,
        ),
        case(
            "ForAnyValue: no value listed",
            ANY_OF,
            vec![many(ATTRS, &["UserName"])],
            false,
        ),
        case("ForAnyValue: key absent is false", ANY_OF, vec![], false),
        case("ForAnyValue: empty set is false", ANY_OF, vec![many(ATTRS, &[])], false),
        case(
            "ForAnyValue: a set that resolves to an empty string is false",
            ANY_OF,
            vec![many(ATTRS, &[""])],
            false,
        ),
        case(
            "ForAnyValue: the empty string is a null data set, even when listed",
            r#"{"ForAnyValue:StringEquals":{"s3:prefix":["","home/"]}}"#,
            vec![one("s3:prefix", "")],
            false,
        ),
        case(
            "ForAllValues: the empty string is a null data set, so true",
            r#"{"ForAllValues:StringEquals":{"s3:prefix":"home/"}}"#,
            vec![one("s3:prefix", "")],
            true,
        ),
        case(
            "ForAnyValue: a single-valued key is a set of one",
            r#"{"ForAnyValue:StringEquals":{"aws:PrincipalTag/dept":["eng","ops"]}}"#,
            vec![one("aws:PrincipalTag/dept", "ops")],
            true,
        ),
        case(
            "ForAllValues:StringNotLike: only key1 tags",
            ALL_NOT_KEY1,
            vec![many("aws:TagKeys", &["key1legal"])],
            false,
        ),
        case(
            "ForAllValues:StringNotLike: several key1 tags",
            ALL_NOT_KEY1,
            vec![many("aws:TagKeys", &["key1hr", "key1personnel"])],
            false,
        ),
        case(
            "ForAllValues:StringNotLike: no key1 tag",
            ALL_NOT_KEY1,
            vec![many("aws:TagKeys", &["key2audit"])],
            true,
        ),
        case(
            "ForAllValues:StringNotLike: one key1 tag among others",
            ALL_NOT_KEY1,
            vec![many("aws:TagKeys", &["key2audit", "key1legal"])],
            false,
        ),
        case("ForAllValues:StringNotLike: key absent", ALL_NOT_KEY1, vec![], true),
        case("ForAnyValue:StringNotEquals: key absent", ANY_NOT, vec![], false),
        case(
            "ForAnyValue:StringNotEquals: only listed tags",
            ANY_NOT,
            vec![many("aws:TagKeys", &["DataClass", "Owner"])],
            false,
        ),
        case(
            "ForAnyValue:StringNotEquals: one unlisted tag",
            ANY_NOT,
            vec![many("aws:TagKeys", &["Dept", "DataClass"])],
            true,
        ),
        case(
            "ForAnyValue:StringNotEquals: only unlisted tags",
            ANY_NOT,
            vec![many("aws:TagKeys", &["Dept", "SIC"])],
            true,
        ),
        case(
            "ForAllValues:StringNotEquals: only unlisted tags",
            ALL_NOT,
            vec![many("aws:TagKeys", &["Dept", "SIC"])],
            true,
        ),
        case(
            "ForAllValues:StringNotEquals: one listed tag",
            ALL_NOT,
            vec![many("aws:TagKeys", &["Dept", "Owner"])],
            false,
        ),
        case("ForAllValues:StringNotEquals: key absent", ALL_NOT, vec![], true),
        case(
            "ForAllValues:StringEqualsIgnoreCase: case does not matter",
            r#"{"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["environment","costcenter"]}}"#,
            vec![many("aws:TagKeys", &["Environment", "CostCenter"])],
            true,
        ),
        case(
            "ForAnyValue:NumericLessThan: one small value",
            r#"{"ForAnyValue:NumericLessThan":{"example:Sizes":"100"}}"#,
            vec![many("example:Sizes", &["500", "50"])],
            true,
        ),
        case(
            "ForAllValues:NumericLessThan: one large value",
            r#"{"ForAllValues:NumericLessThan":{"example:Sizes":"100"}}"#,
            vec![many("example:Sizes", &["500", "50"])],
            false,
        ),
        case(
            "ForAllValues:IpAddress: every address inside",
            r#"{"ForAllValues:IpAddress":{"example:Hops":"10.0.0.0/8"}}"#,
            vec![many("example:Hops", &["10.1.2.3", "10.200.0.1"])],
            true,
        ),
        case(
            "ForAnyValue:DateGreaterThan: one recent date",
            r#"{"ForAnyValue:DateGreaterThan":{"example:Dates":"2024-01-01T00:00:00Z"}}"#,
            vec![many("example:Dates", &["2023-05-01T00:00:00Z", "2024-05-01T00:00:00Z"])],
            true,
        ),
        case(
            "ForAnyValue:ArnLike: one ARN in the account",
            r#"{"ForAnyValue:ArnLike":{"example:Arns":"arn:aws:iam::111122223333:role/*"}}"#,
            vec![many(
                "example:Arns",
                &["arn:aws:iam::444455556666:role/x", "arn:aws:iam::111122223333:role/y"],
            )],
            true,
        ),
        case(
            "ForAllValues:StringLikeIfExists: key absent",
            r#"{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":"team-*"}}"#,
            vec![],
            true,
        ),
        case(
            "ForAnyValue:StringEqualsIfExists: key absent",
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"team"}}"#,
            vec![],
            true,
        ),
        case(
            "ForAnyValue:StringEqualsIfExists: present without a match",
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"team"}}"#,
            vec![many("aws:TagKeys", &["owner"])],
            false,
        ),
    ]
}

fn logic_cases() -> Vec<Case> {
    const ROLES: &str = r#"{"StringEquals":{"aws:PrincipalTag/role":["audit","security"]}}"#;
    const NOT_ROLES: &str = r#"{"StringNotEquals":{"aws:PrincipalTag/role":["audit","security"]}}"#;
    const TWO_KEYS: &str = r#"{"StringEquals":{"aws:PrincipalTag/dept":"eng","aws:PrincipalTag/level":"lead"}}"#;
    const TWO_OPERATORS: &str = r#"{"StringEquals":{"aws:PrincipalTag/department":["finance","hr","legal"]},"ArnLike":{"aws:PrincipalArn":["arn:aws:iam::222222222222:user/Ana","arn:aws:iam::222222222222:user/Mary"]}}"#;
    const TAG_ON_CREATE: &str = r#"{"StringLike":{"aws:RequestTag/project":"*"},"StringNotEquals":{"aws:ResourceTag/environment":"production"}}"#;
    vec![
        case(
            "values are OR: first",
            ROLES,
            vec![one("aws:PrincipalTag/role", "audit")],
            true,
        ),
        case(
            "values are OR: second",
            ROLES,
            vec![one("aws:PrincipalTag/role", "security")],
            true,
        ),
        case(
            "values are OR: neither",
            ROLES,
            vec![one("aws:PrincipalTag/role", "dev")],
            false,
        ),
        case(
            "negated values are NOR: listed",
            NOT_ROLES,
            vec![one("aws:PrincipalTag/role", "security")],
            false,
        ),
        case(
            "negated values are NOR: unlisted",
            NOT_ROLES,
            vec![one("aws:PrincipalTag/role", "dev")],
            true,
        ),
        case(
            "negated like values are NOR",
            r#"{"StringNotLike":{"aws:PrincipalTag/role":["a*","b*"]}}"#,
            vec![one("aws:PrincipalTag/role", "builder")],
            false,
        ),
        case(
            "keys are AND: both hold",
            TWO_KEYS,
            vec![
                one("aws:PrincipalTag/dept", "eng"),
                one("aws:PrincipalTag/level", "lead"),
            ],
            true,
        ),
        case(
            "keys are AND: one absent",
            TWO_KEYS,
            vec![one("aws:PrincipalTag/dept", "eng")],
            false,
        ),
        case(
            "keys are AND: one differs",
            TWO_KEYS,
            vec![
                one("aws:PrincipalTag/dept", "eng"),
                one("aws:PrincipalTag/level", "junior"),
            ],
            false,
        ),
        case(
            "operators are AND: both hold",
            TWO_OPERATORS,
            vec![
                one("aws:PrincipalTag/department", "hr"),
                one("aws:PrincipalArn", "arn:aws:iam::222222222222:user/Mary"),
            ],
            true,
        ),
        case(
            "operators are AND: the ARN differs",
            TWO_OPERATORS,
            vec![
                one("aws:PrincipalTag/department", "hr"),
                one("aws:PrincipalArn", "arn:aws:iam::222222222222:user/Joe"),
            ],
            false,
        ),
        case(
            "operators are AND: the tag differs",
            TWO_OPERATORS,
            vec![
                one("aws:PrincipalTag/department", "sales"),
                one("aws:PrincipalArn", "arn:aws:iam::222222222222:user/Ana"),
            ],
            false,
        ),
        case(
            "operators are AND: project tag on a QA volume",
            TAG_ON_CREATE,
            vec![
                one("aws:RequestTag/project", "Feature3"),
                one("aws:ResourceTag/environment", "QA"),
            ],
            true,
        ),
        case(
            "operators are AND: project tag on a production volume",
            TAG_ON_CREATE,
            vec![
                one("aws:RequestTag/project", "Feature3"),
                one("aws:ResourceTag/environment", "production"),
            ],
            false,
        ),
        case(
            "operators are AND: no project tag",
            TAG_ON_CREATE,
            vec![one("aws:ResourceTag/environment", "QA")],
            false,
        ),
        case("an empty Condition block is no condition", "{}", vec![], true),
        case(
            "condition keys are case-insensitive: policy capitalised",
            r#"{"IpAddress":{"AWS:SourceIP":"203.0.113.0/24"}}"#,
            vec![one("aws:SourceIp", "203.0.113.7")],
            true,
        ),
        case(
            "condition keys are case-insensitive: tag key part",
            r#"{"StringEquals":{"aws:ResourceTag/TagKey1":"Value1"}}"#,
            vec![one("aws:resourcetag/tagkey1", "Value1")],
            true,
        ),
        case(
            "condition values stay case-sensitive under a case-insensitive key",
            r#"{"StringEquals":{"aws:ResourceTag/TagKey1":"Value1"}}"#,
            vec![one("aws:resourcetag/tagkey1", "value1")],
            false,
        ),
    ]
}

fn variable_cases() -> Vec<Case> {
    const HOME: &str = "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*";
    const TEAM_BUCKET: &str = "arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team}/*";
    const TEAM_BUCKET_DEFAULT: &str = "arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}/*";
    const OWNER: &str = r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#;
    const NOT_OWNER: &str = r#"{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#;
    vec![
        case(
            "Resource variable: own home",
            "",
            vec![one("aws:username", "alice")],
            true,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt"),
        case(
            "Resource variable: another user's home",
            "",
            vec![one("aws:username", "alice")],
            false,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/notes.txt"),
        case("Resource variable: no value matches no resource", "", vec![], false)
            .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home//notes.txt"),
        case(
            "Resource variable: the key name is case-insensitive",
            "",
            vec![one("AWS:UserName", "alice")],
            true,
        )
        .resource(
            "arn:aws:s3:::amzn-s3-demo-bucket/home/${AWS:username}/*",
            "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt",
        ),
        case(
            "Resource variable: a value with `*` is literal",
            "",
            vec![one("aws:username", "a*")],
            false,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt"),
        case(
            "Resource variable: a value with `*` matches itself",
            "",
            vec![one("aws:username", "a*")],
            true,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/a*/notes.txt"),
        case(
            "Resource variable: a multivalued key has no single value",
            "",
            vec![many("aws:username", &["alice"])],
            false,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt"),
        case(
            "Resource variable: principal tag",
            "",
            vec![one("aws:PrincipalTag/team", "red")],
            true,
        )
        .resource(TEAM_BUCKET, "arn:aws:s3:::amzn-s3-demo-bucket-red/plan.txt"),
        case(
            "Resource variable: principal tag of another team",
            "",
            vec![one("aws:PrincipalTag/team", "blue")],
            false,
        )
        .resource(TEAM_BUCKET, "arn:aws:s3:::amzn-s3-demo-bucket-red/plan.txt"),
        case("Resource variable: default when the tag is missing", "", vec![], true).resource(
            TEAM_BUCKET_DEFAULT,
            "arn:aws:s3:::amzn-s3-demo-bucket-company-wide/plan.txt",
        ),
        case(
            "Resource variable: the tag wins over the default",
            "",
            vec![one("aws:PrincipalTag/team", "red")],
            false,
        )
        .resource(
            TEAM_BUCKET_DEFAULT,
            "arn:aws:s3:::amzn-s3-demo-bucket-company-wide/plan.txt",
        ),
        case(
            "Resource variable: the tag when present",
            "",
            vec![one("aws:PrincipalTag/team", "red")],
            true,
        )
        .resource(TEAM_BUCKET_DEFAULT, "arn:aws:s3:::amzn-s3-demo-bucket-red/plan.txt"),
        case("Resource ${*}: a literal asterisk", "", vec![], true).resource(
            "arn:aws:s3:::amzn-s3-demo-bucket/${*}",
            "arn:aws:s3:::amzn-s3-demo-bucket/*",
        ),
        case("Resource ${*}: not a wildcard", "", vec![], false).resource(
            "arn:aws:s3:::amzn-s3-demo-bucket/${*}",
            "arn:aws:s3:::amzn-s3-demo-bucket/anything",
        ),
        case("Resource ${?}: not a wildcard", "", vec![], false).resource(
            "arn:aws:s3:::amzn-s3-demo-bucket/file${?}",
            "arn:aws:s3:::amzn-s3-demo-bucket/file1",
        ),
        case("Resource ${$}: a literal dollar", "", vec![], true).resource(
            "arn:aws:s3:::amzn-s3-demo-bucket/cost${$}",
            "arn:aws:s3:::amzn-s3-demo-bucket/cost$",
        ),
        case(
            "Condition variable: owner is the caller",
            OWNER,
            vec![one("aws:username", "alice"), one("aws:ResourceTag/owner", "alice")],
            true,
        ),
        case(
            "Condition variable: owner is someone else",
            OWNER,
            vec![one("aws:username", "alice"), one("aws:ResourceTag/owner", "bob")],
            false,
        ),
        case(
            "Condition variable missing: positive operator does not match",
            OWNER,
            vec![one("aws:ResourceTag/owner", "alice")],
            false,
        ),
        case(
            "Condition variable missing: positive operator does not match the empty string",
            OWNER,
            vec![one("aws:ResourceTag/owner", "")],
            false,
        ),
        case(
            "Condition variable missing: negated operator matches",
            NOT_OWNER,
            vec![one("aws:ResourceTag/owner", "alice")],
            true,
        ),
        case(
            "Condition variable missing: negated like operator matches",
            r#"{"StringNotLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
            vec![one("s3:prefix", "home/alice/")],
            true,
        ),
        case(
            "Condition variable: negated operator with the owner",
            NOT_OWNER,
            vec![one("aws:username", "alice"), one("aws:ResourceTag/owner", "alice")],
            false,
        ),
        case(
            "Condition variable: default when the tag is missing",
            r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'none'}"}}"#,
            vec![one("aws:ResourceTag/team", "none")],
            true,
        ),
        case(
            "Condition variable: inside a like pattern, the value is literal",
            r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
            vec![one("aws:username", "a?"), one("s3:prefix", "home/al/x")],
            false,
        ),
        case(
            "Condition variable: in an ARN operator",
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/${aws:username}"}}"#,
            vec![
                one("aws:username", "alice"),
                one("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice"),
            ],
            true,
        ),
        case(
            "Condition ${*}: literal in StringEquals",
            r#"{"StringEquals":{"s3:prefix":"all${*}"}}"#,
            vec![one("s3:prefix", "all*")],
            true,
        ),
        case(
            "Condition ${*}: not a wildcard in StringLike",
            r#"{"StringLike":{"s3:prefix":"a${*}b"}}"#,
            vec![one("s3:prefix", "axxb")],
            false,
        ),
        case(
            "Condition ${*}: matches a literal asterisk in StringLike",
            r#"{"StringLike":{"s3:prefix":"a${*}b"}}"#,
            vec![one("s3:prefix", "a*b")],
            true,
        ),
        case(
            "Condition ${?}: literal question mark",
            r#"{"StringLike":{"s3:prefix":"why${?}"}}"#,
            vec![one("s3:prefix", "why?")],
            true,
        ),
        case(
            "Condition ${?}: not a wildcard",
            r#"{"StringLike":{"s3:prefix":"why${?}"}}"#,
            vec![one("s3:prefix", "whyX")],
            false,
        ),
        case(
            "Condition ${$}: literal dollar",
            r#"{"StringEquals":{"s3:prefix":"price${$}"}}"#,
            vec![one("s3:prefix", "price$")],
            true,
        ),
        case(
            "2008-10-17: variables in Resource are literal",
            "",
            vec![one("aws:username", "alice")],
            false,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt")
        .version(Some("2008-10-17")),
        case(
            "2008-10-17: the literal text matches",
            "",
            vec![one("aws:username", "alice")],
            true,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/notes.txt")
        .version(Some("2008-10-17")),
        case(
            "no Version: variables in Resource are literal",
            "",
            vec![one("aws:username", "alice")],
            false,
        )
        .resource(HOME, "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt")
        .version(None),
        case(
            "2008-10-17: variables in conditions are literal",
            OWNER,
            vec![one("aws:username", "alice"), one("aws:ResourceTag/owner", "alice")],
            false,
        )
        .version(Some("2008-10-17")),
        case(
            "2008-10-17: the literal condition text matches",
            OWNER,
            vec![
                one("aws:username", "alice"),
                one("aws:ResourceTag/owner", "${aws:username}"),
            ],
            true,
        )
        .version(Some("2008-10-17")),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = operator_matrix();
    cases.extend(string_cases());
    cases.extend(numeric_date_bool_binary_cases());
    cases.extend(ip_arn_null_cases());
    cases.extend(set_operator_cases());
    cases.extend(logic_cases());
    cases.extend(variable_cases());
    cases
}

#[test]
fn operator_table_covers_every_operator() {
    for op in BaseOperator::ALL {
        if *op == BaseOperator::Null {
            continue; // `NullIfExists` does not exist; Null has its own cases.
        }
        assert!(
            OPERATOR_TABLE.iter().any(|row| row.0 == op.as_str()),
            "`{}` has no row in OPERATOR_TABLE",
            op.as_str()
        );
    }
}

#[test]
fn condition_cases() {
    let cases = all_cases();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name.as_str()), "duplicate case name `{}`", case.name);
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| match case.run() {
            Ok(allowed) if allowed == case.expect_allowed => None,
            Ok(allowed) => Some(format!(
                "{}: expected {}, got {}\n  policy: {}",
                case.name,
                if case.expect_allowed { "allowed" } else { "denied" },
                if allowed { "allowed" } else { "denied" },
                case.policy_text()
            )),
            Err(why) => Some(format!("{}: {why}", case.name)),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} condition cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
