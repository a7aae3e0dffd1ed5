//! Policy validation in the manner of IAM Access Analyzer's `ValidatePolicy`: findings with AWS's
//! issue codes, finding types, learn-more links and source locations, computed from the text alone.
//!
//! The validator is pure: no I/O and no catalogue of AWS services. It checks grammar, the
//! elements each kind of policy allows, ARNs, principals, condition keys and operators, policy
//! variables, redundancy within a statement and size quotas. Checks that need AWS's list of
//! actions, resource types or service condition keys are out of its reach.
//!
//! The crate's parser is stricter than Access Analyzer. A document it refuses yields exactly one
//! `ERROR` finding carrying the refusal's issue code, made more specific where the text shows the
//! cause (an empty `ForAllValues:` value list, a policy variable where none is allowed). It is an
//! error even where Access Analyzer would only suggest, because Gatehouse will not store it.
//!
//! Locations follow Access Analyzer: lines count from 1, columns from 0, offsets from 0, all in
//! characters; a span covers the element's value, quotes included.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::condition::check_value;
use crate::error::PolicyError;
use crate::model::{
    BaseOperator, ConditionClause, ConditionOperator, Effect, OperatorFamily, Policy, PrincipalSet, PrincipalType,
    SetQualifier, Statement,
};
use crate::parse::{parse_policy, JsonPath, ParsedPolicy, PathElement, SourceMap};
use crate::span::{Position, Span};

// ---- public types ---------------------------------------------------------------------------

/// The kind of policy a document is validated as; it decides which elements are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// `IDENTITY_POLICY`: attached to users, groups and roles, or used as a permissions boundary.
    Identity,
    /// `RESOURCE_POLICY`: attached to a resource, naming the principals it applies to.
    Resource,
    /// `SERVICE_CONTROL_POLICY`: an Organizations service control policy.
    ServiceControl,
    /// `RESOURCE_CONTROL_POLICY`: an Organizations resource control policy.
    ResourceControl,
    /// `ROLE_TRUST_POLICY`: a role's trust policy. The name is Gatehouse's own; Access Analyzer
    /// validates these as `RESOURCE_POLICY` of resource type `AWS::IAM::AssumeRolePolicyDocument`.
    RoleTrust,
}

impl PolicyKind {
    /// Every kind, in declaration order.
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::ServiceControl,
        PolicyKind::ResourceControl,
        PolicyKind::RoleTrust,
    ];

    /// The name as Access Analyzer's `policyType` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Identity => "IDENTITY_POLICY",
            PolicyKind::Resource => "RESOURCE_POLICY",
            PolicyKind::ServiceControl => "SERVICE_CONTROL_POLICY",
            PolicyKind::ResourceControl => "RESOURCE_CONTROL_POLICY",
            PolicyKind::RoleTrust => "ROLE_TRUST_POLICY",
        }
    }

    /// Whether statements of this kind name their principals.
    fn has_principals(self) -> bool {
        matches!(
            self,
            PolicyKind::Resource | PolicyKind::ResourceControl | PolicyKind::RoleTrust
        )
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyKind {
    type Err = PolicyError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                PolicyError::InvalidInput(format!(
                    "unknown policy type `{name}`; expected `IDENTITY_POLICY`, `RESOURCE_POLICY`, \
                 `SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY` or `ROLE_TRUST_POLICY`"
                ))
            })
    }
}

/// How serious a finding is, as Access Analyzer grades it. Ordered from most to least serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingType {
    /// The policy does not work as written or is refused.
    Error,
    /// The policy grants more than is likely intended.
    SecurityWarning,
    /// The policy does not follow a best practice.
    Warning,
    /// The policy can be simplified without changing what it grants.
    Suggestion,
}

impl FindingType {
    /// The type as it appears in Access Analyzer's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::Error => "ERROR",
            FindingType::SecurityWarning => "SECURITY_WARNING",
            FindingType::Warning => "WARNING",
            FindingType::Suggestion => "SUGGESTION",
        }
    }

    /// The section of AWS's policy-check reference that documents findings of this type.
    fn link_section(self) -> &'static str {
        match self {
            FindingType::Error => "error",
            FindingType::SecurityWarning => "security-warning",
            FindingType::Warning => "general-warning",
            FindingType::Suggestion => "suggestion",
        }
    }
}

impl fmt::Display for FindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, serialized exactly like an Access Analyzer `ValidatePolicyFinding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// What is wrong and what to change.
    pub finding_details: String,
    /// How serious it is.
    pub finding_type: FindingType,
    /// Access Analyzer's issue code, e.g. `MISSING_VERSION`.
    pub issue_code: String,
    /// The section of AWS's policy-check reference that explains the issue code.
    pub learn_more_link: String,
    /// Where in the document; the first location is the primary one.
    pub locations: Vec<Location>,
}

/// A place in the policy document: a JSON path and the text it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The path from the document root, e.g. `[{"value":"Statement"},{"index":0}]`.
    pub path: Vec<PathSegment>,
    /// The text of the element's value.
    pub span: TextSpan,
}

/// One step of a location's path. Access Analyzer writes object keys as `value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PathSegment {
    /// An array index.
    Index(usize),
    /// An object key, when the location is the key itself rather than its value.
    Key(String),
    /// An object key whose value the location is in.
    Value(String),
    /// Part of a string value.
    Substring {
        /// First character, from 0.
        start: usize,
        /// Number of characters.
        length: usize,
    },
}

/// A half-open range of the document text: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextSpan {
    /// The first character.
    pub start: TextPosition,
    /// One past the last character.
    pub end: TextPosition,
}

/// A position with Access Analyzer's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TextPosition {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 0.
    pub column: u32,
    /// Characters (line breaks included) before this position, from 0.
    pub offset: u32,
}

/// AWS's size quotas for policy documents, in characters without white space.
///
/// The numbers live in [`SizeLimit::chars`] rather than in discriminants because several quotas
/// share a value (2,048 and 5,120), which Rust does not allow for discriminants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeLimit {
    /// A customer managed policy: 6,144.
    ManagedPolicy,
    /// All inline policies of one user together: 2,048.
    UserInline,
    /// All inline policies of one group together: 5,120.
    GroupInline,
    /// All inline policies of one role together: 10,240.
    RoleInline,
    /// A role's trust policy: 2,048 (AWS's default quota; it can be raised to 4,096).
    RoleTrust,
    /// An Organizations service control policy: 5,120.
    ServiceControl,
}

impl SizeLimit {
    /// The limit in characters.
    pub fn chars(self) -> usize {
        match self {
            SizeLimit::ManagedPolicy => 6144,
            SizeLimit::UserInline | SizeLimit::RoleTrust => 2048,
            SizeLimit::GroupInline | SizeLimit::ServiceControl => 5120,
            SizeLimit::RoleInline => 10240,
        }
    }

    /// What the limit applies to, for messages.
    fn applies_to(self) -> &'static str {
        match self {
            SizeLimit::ManagedPolicy => "managed policies",
            SizeLimit::UserInline => "a user's inline policies",
            SizeLimit::GroupInline => "a group's inline policies",
            SizeLimit::RoleInline => "a role's inline policies",
            SizeLimit::RoleTrust => "role trust policies",
            SizeLimit::ServiceControl => "service control policies",
        }
    }
}

/// Checks a document against a size quota, counting characters other than white space as IAM does.
///
/// The inline quotas apply to the sum over all inline policies of one user, group or role; this
/// checks one document, so callers add up the others' lengths themselves.
pub fn check_size(parsed: &ParsedPolicy, limit: SizeLimit) -> Result<(), PolicyError> {
    let length = parsed.source.length_without_whitespace;
    if length > limit.chars() {
        return Err(PolicyError::TooLarge {
            kind: limit.applies_to(),
            length,
            limit: limit.chars(),
        });
    }
    Ok(())
}

/// Validates a policy document as Access Analyzer's `ValidatePolicy` would, returning the findings
/// sorted by where they are in the text. An empty list means nothing to report.
pub fn validate_policy(text: &str, kind: PolicyKind) -> Vec<Finding> {
    let locator = Locator { text };
    let mut findings = match parse_policy(text) {
        Err(error) => vec![refusal(&error, &locator)],
        Ok(parsed) => Checker {
            kind,
            policy: &parsed.policy,
            source: &parsed.source,
            locator,
            findings: Vec::new(),
        }
        .run(),
    };
    findings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    findings.dedup();
    findings
}

fn sort_key(finding: &Finding) -> (Option<(u32, u32)>, FindingType, &str) {
    let span = finding
        .locations
        .first()
        .map(|l| (l.span.start.offset, l.span.end.offset));
    (span, finding.finding_type, &finding.issue_code)
}

// ---- the issue catalogue ---------------------------------------------------------------------

/// An Access Analyzer issue code and the finding type AWS documents it under.
#[derive(Debug, Clone, Copy)]
struct Issue {
    code: &'static str,
    kind: FindingType,
}

macro_rules! issues {
    ($($kind:ident: $($code:ident),+ $(,)?;)*) => {
        $($(const $code: Issue = Issue { code: stringify!($code), kind: FindingType::$kind };)+)*
        /// Every issue code this module or the parser reports, for learn-more links.
        const CATALOG: &[Issue] = &[$($($code,)+)*];
    };
}

issues! {
    Error:
        JSON_SYNTAX_ERROR, MISSING_STATEMENT, MISSING_ACTION, MISSING_EFFECT, MISSING_RESOURCE,
        MISSING_PRINCIPAL, INVALID_VERSION, INVALID_EFFECT, INVALID_POLICY_ELEMENT, DATA_TYPE_MISMATCH,
        INVALID_ACTION, UNSUPPORTED_ELEMENT_COMBINATION, INVALID_ARN_PREFIX, MISSING_ARN_FIELD,
        INVALID_ARN_ACCOUNT, INVALID_ARN_REGION, INVALID_ARN_SERVICE_CASE, INVALID_PARTITION,
        ARN_ACCOUNT_NOT_ALLOWED, ARN_REGION_NOT_ALLOWED, INVALID_CONDITION_OPERATOR,
        INVALID_CONDITION_KEY_FORMAT, INVALID_GLOBAL_CONDITION_KEY, INVALID_CONDITION_MULTIPLE_BOOLEAN,
        DUPLICATE_KEYS_WITH_DIFFERENT_CASE, MISSING_TAG_KEY_IN_CONDITION, PRIVATE_IP_ADDRESS,
        PRIVATE_NOT_IP_ADDRESS, INVALID_VARIABLE_FOR_OPERATOR, VARIABLE_UNSUPPORTED_IN_ELEMENT,
        VARIABLE_UNSUPPORTED_IN_VERSION, MISSING_BRACE_IN_VARIABLE, MISSING_QUOTE_IN_VARIABLE,
        UNSUPPORTED_SPACE_IN_VARIABLE, EMPTY_VARIABLE, INVALID_PRINCIPAL_FORMAT, INVALID_PRINCIPAL_KEY,
        UNSUPPORTED_PRINCIPAL, UNSUPPORTED_WILDCARD_IN_PRINCIPAL, INVALID_SERVICE_PRINCIPAL_FORMAT,
        ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL, ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE,
        UNIQUE_SIDS_REQUIRED, UNSUPPORTED_SID, POLICY_SIZE_EXCEEDS_SCP_QUOTA, SCP_SYNTAX_ERROR_PRINCIPAL;
    SecurityWarning:
        PASS_ROLE_WITH_STAR_IN_RESOURCE, PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE,
        PASS_ROLE_WITH_NOT_RESOURCE, PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE,
        PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE, PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION,
        ALLOW_WITH_NOT_PRINCIPAL, FORALLVALUES_WITH_SINGLE_VALUED_KEY;
    Warning:
        MISSING_VERSION, UNIQUE_SIDS_RECOMMENDED, WILDCARD_WITHOUT_LIKE_OPERATOR, TYPE_MISMATCH_BOOLEAN,
        TYPE_MISMATCH_DATE, TYPE_MISMATCH_IP_RANGE, TYPE_MISMATCH_NUMBER, TYPE_MISMATCH_STRING,
        DEPRECATED_GLOBAL_CONDITION_KEY, INVALID_ROLE_REFERENCE, INVALID_USER_REFERENCE,
        POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA, POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA;
    Suggestion:
        EMPTY_ARRAY_ACTION, EMPTY_ARRAY_RESOURCE, EMPTY_ARRAY_PRINCIPAL, EMPTY_ARRAY_CONDITION,
        EMPTY_ARRAY_CONDITION_FORALLVALUES, EMPTY_ARRAY_CONDITION_FORANYVALUE, EMPTY_ARRAY_CONDITION_IFEXISTS,
        EMPTY_OBJECT_CONDITION, EMPTY_OBJECT_PRINCIPAL, EMPTY_SID_VALUE, IMPROVE_IP_RANGE, NULL_WITH_QUALIFIER,
        PRIVATE_IP_ADDRESS_SUBSET, PRIVATE_NOT_IP_ADDRESS_SUBSET, REDUNDANT_ACTION, REDUNDANT_RESOURCE,
        WILDCARD_IN_SERVICE_NAME;
}

const LEARN_MORE_BASE: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html";

/// The anchor in AWS's policy-check reference: the section of the code's documented type, then
/// the code in lowercase with dashes. Codes AWS does not document land in the error section.
fn learn_more_link(code: &str) -> String {
    let section = CATALOG
        .iter()
        .find(|issue| issue.code == code)
        .map_or(FindingType::Error, |issue| issue.kind)
        .link_section();
    format!(
        "{LEARN_MORE_BASE}#access-analyzer-reference-policy-checks-{section}-{}",
        code.to_ascii_lowercase().replace('_', "-")
    )
}

fn finding(issue: Issue, details: String, locations: Vec<Location>) -> Finding {
    Finding {
        finding_details: details,
        finding_type: issue.kind,
        issue_code: issue.code.to_string(),
        learn_more_link: learn_more_link(issue.code),
        locations,
    }
}

// ---- AWS reference data ----------------------------------------------------------------------

/// AWS's global condition keys (IAM User Guide, "AWS global condition context keys"), as spelled there.
const GLOBAL_KEYS: &[&str] = &[
    "aws:AssumedRoot",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:ChatbotSourceArn",
    "aws:CurrentTime",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:Ec2InstanceSourceVpc",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:referer",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceOwner",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
];

/// Global keys whose tag-key suffix is chosen by the policy author.
const GLOBAL_TAG_PREFIXES: &[&str] = &["aws:PrincipalTag/", "aws:RequestTag/", "aws:ResourceTag/"];

/// Global keys that can carry several values in one request; all others carry one.
const MULTIVALUED_GLOBAL_KEYS: &[&str] = &[
    "aws:CalledVia",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceNamesList",
    "aws:ResourceOrgPaths",
    "aws:SourceOrgPaths",
    "aws:TagKeys",
    "aws:VpceOrgPaths",
];

const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Amazon S3 resource types whose ARNs carry an account; bucket and object ARNs do not.
const S3_RESOURCES_WITH_ACCOUNT: &[&str] = &[
    "accesspoint/",
    "access-grants/",
    "async-request/",
    "job/",
    "storage-lens/",
    "storage-lens-group/",
];

/// Addresses that never reach AWS as a request's source address: RFC 1918, loopback,
/// link-local, and their IPv6 counterparts.
const PRIVATE_RANGES: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];

/// Domains of AWS service principals, in every partition.
const SERVICE_PRINCIPAL_SUFFIXES: &[&str] = &[
    ".amazonaws.com",
    ".amazonaws.com.cn",
    ".amazon.com",
    ".c2s.ic.gov",
    ".sc2s.sgov.gov",
];

// ---- positions -------------------------------------------------------------------------------

/// Converts the crate's positions (1-based columns, byte offsets) to Access Analyzer's.
struct Locator<'t> {
    text: &'t str,
}

impl Locator<'_> {
    fn position(&self, position: Position) -> TextPosition {
        let byte = position.offset as usize;
        let chars = self.text.get(..byte).map_or(byte, |before| before.chars().count());
        TextPosition {
            line: position.line,
            column: position.column.saturating_sub(1),
            offset: u32::try_from(chars).unwrap_or(u32::MAX),
        }
    }

    fn span(&self, span: Span) -> TextSpan {
        TextSpan {
            start: self.position(span.start),
            end: self.position(span.end),
        }
    }

    fn origin(&self) -> TextSpan {
        let start = TextPosition {
            line: 1,
            column: 0,
            offset: 0,
        };
        TextSpan { start, end: start }
    }
}

fn wire_path(path: &JsonPath) -> Vec<PathSegment> {
    path.0
        .iter()
        .map(|element| match element {
            PathElement::Key(key) => PathSegment::Value(key.clone()),
            PathElement::Index(index) => PathSegment::Index(*index),
        })
        .collect()
}

fn child(path: &JsonPath, key: &str) -> JsonPath {
    let mut out = path.clone();
    out.0.push(PathElement::Key(key.to_string()));
    out
}

fn nth(path: &JsonPath, index: usize) -> JsonPath {
    let mut out = path.clone();
    out.0.push(PathElement::Index(index));
    out
}

// ---- refused documents -----------------------------------------------------------------------

/// The one finding for a document the parser refused.
fn refusal(error: &PolicyError, locator: &Locator<'_>) -> Finding {
    let (code, message, path, span) = match error {
        PolicyError::Malformed {
            code,
            message,
            path,
            span,
        } => (
            *code,
            message.clone(),
            path.as_deref().map(parse_display_path).unwrap_or_default(),
            *span,
        ),
        other => (JSON_SYNTAX_ERROR.code, other.to_string(), Vec::new(), None),
    };
    let fragment = span.and_then(|s| locator.text.get(s.start.offset as usize..s.end.offset as usize));
    let (code, details) = refine_refusal(code, &path, fragment).unwrap_or_else(|| (code, sentence(&message)));
    Finding {
        finding_details: details,
        finding_type: FindingType::Error,
        issue_code: code.to_string(),
        learn_more_link: learn_more_link(code),
        locations: vec![Location {
            path,
            span: span.map_or_else(|| locator.origin(), |s| locator.span(s)),
        }],
    }
}

/// A more specific issue code and message for a refusal, when the refused text shows the cause.
fn refine_refusal(code: &str, path: &[PathSegment], fragment: Option<&str>) -> Option<(&'static str, String)> {
    match code {
        "EMPTY_ARRAY_CONDITION" => {
            let (name, operator, key) = condition_in_path(path)?;
            let key = key.unwrap_or_default();
            let (issue, effect) = match (operator.qualifier, operator.if_exists) {
                (Some(SetQualifier::ForAllValues), _) => (
                    EMPTY_ARRAY_CONDITION_FORALLVALUES,
                    "matches only requests without the key",
                ),
                (Some(SetQualifier::ForAnyValue), _) => (EMPTY_ARRAY_CONDITION_FORANYVALUE, "never matches"),
                (None, true) => (EMPTY_ARRAY_CONDITION_IFEXISTS, "matches only requests without the key"),
                (None, false) => return None,
            };
            Some((
                issue.code,
                format!(
                    "`{name}` on `{key}` has an empty list of values, so it {effect}. List the values to \
                     compare with, or test for the key's absence with the `Null` operator."
                ),
            ))
        }
        "INVALID_ACTION" => {
            let action = json_items(fragment?)?.into_iter().nth(match path.last() {
                Some(PathSegment::Index(i)) => *i,
                _ => 0,
            })?;
            action.contains("${").then(|| {
                (
                    VARIABLE_UNSUPPORTED_IN_ELEMENT.code,
                    format!(
                        "Policy variables are not substituted in `Action`, so `{action}` matches no action. \
                         Name the actions literally; wildcards such as `s3:Get*` are allowed."
                    ),
                )
            })
        }
        _ if code.starts_with("TYPE_MISMATCH_") => {
            let (name, operator, _) = condition_in_path(path)?;
            let value = json_items(fragment?)?
                .into_iter()
                .find(|value| check_value(operator.base, value).is_err())?;
            value.contains("${").then(|| {
                (
                    INVALID_VARIABLE_FOR_OPERATOR.code,
                    variable_for_operator_message(&name, operator.base, &value),
                )
            })
        }
        _ => None,
    }
}

fn variable_for_operator_message(operator: &str, base: BaseOperator, value: &str) -> String {
    format!(
        "`{operator}` cannot use the policy variable in `{value}`: variables are substituted only by \
         string and ARN operators. Compare with a fixed {} instead, or use a string operator.",
        match base.family() {
            OperatorFamily::Numeric => "number",
            OperatorFamily::Date => "date",
            OperatorFamily::Ip => "address range",
            OperatorFamily::Binary => "base64 value",
            _ => "`true` or `false`",
        }
    )
}

/// The operator (as written and parsed) and condition key a path points into, if any.
fn condition_in_path(path: &[PathSegment]) -> Option<(String, ConditionOperator, Option<String>)> {
    let at = path
        .iter()
        .position(|segment| matches!(segment, PathSegment::Value(v) if v == "Condition"))?;
    let PathSegment::Value(name) = path.get(at + 1)? else {
        return None;
    };
    let operator = name.parse().ok()?;
    let key = match path.get(at + 2) {
        Some(PathSegment::Value(key)) => Some(key.clone()),
        _ => None,
    };
    Some((name.clone(), operator, key))
}

/// The scalar items of a JSON value's text: one for a scalar, each item's for an array.
fn json_items(fragment: &str) -> Option<Vec<String>> {
    let scalar = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match serde_json::from_str::<serde_json::Value>(fragment).ok()? {
        serde_json::Value::Array(items) => items.iter().map(scalar).collect(),
        other => Some(vec![scalar(&other)?]),
    }
}

/// Reads a path as the crate's errors print it (`Statement[0].Condition.StringEquals.aws:TagKeys[1]`).
/// Condition keys may contain dots, so a key after an operator runs to the trailing indexes.
fn parse_display_path(display: &str) -> Vec<PathSegment> {
    let mut segments = Vec::new();
    let mut rest = display;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else { break };
            let Ok(index) = after[..close].parse() else { break };
            segments.push(PathSegment::Index(index));
            rest = &after[close + 1..];
            continue;
        }
        let body = rest.strip_prefix('.').unwrap_or(rest);
        let is_condition_key =
            segments.len() >= 2 && matches!(&segments[segments.len() - 2], PathSegment::Value(v) if v == "Condition");
        let end = if is_condition_key {
            trailing_indexes_start(body)
        } else {
            body.find(['.', '[']).unwrap_or(body.len())
        };
        segments.push(PathSegment::Value(body[..end].to_string()));
        rest = &body[end..];
    }
    segments
}

/// Where a run of `[n]` suffixes at the end of the text begins.
fn trailing_indexes_start(text: &str) -> usize {
    let mut end = text.len();
    while let Some(head) = text[..end].strip_suffix(']') {
        let Some(open) = head.rfind('[') else { break };
        let digits = &head[open + 1..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        end = open;
    }
    end
}

/// A refusal message as a finding's sentence: capitalized and ending in a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

// ---- checks on a parsed document -------------------------------------------------------------

struct Checker<'a> {
    kind: PolicyKind,
    policy: &'a Policy,
    source: &'a SourceMap,
    locator: Locator<'a>,
    findings: Vec<Finding>,
}

impl Checker<'_> {
    fn run(mut self) -> Vec<Finding> {
        let policy = self.policy;
        self.document();
        let paths: Vec<JsonPath> = (0..policy.statements.len()).map(|i| self.statement_path(i)).collect();
        self.sids(&paths);
        for (statement, at) in policy.statements.iter().zip(&paths) {
            self.structure(statement, at);
            self.actions(statement, at);
            self.resources(statement, at);
            self.principals(statement, at);
            self.conditions(statement, at);
            self.pass_role(statement, at);
        }
        self.findings
    }

    fn report(&mut self, issue: Issue, details: String, paths: &[&JsonPath]) {
        let locations = paths.iter().map(|path| self.locate(path)).collect();
        self.findings.push(finding(issue, details, locations));
    }

    /// The location of the path, or of its nearest ancestor the document has.
    fn locate(&self, path: &JsonPath) -> Location {
        let mut path = path.clone();
        while !path.0.is_empty() {
            if let Some(span) = self.source.span_of(&path) {
                return Location {
                    path: wire_path(&path),
                    span: self.locator.span(span),
                };
            }
            path.0.pop();
        }
        Location {
            path: Vec::new(),
            span: self.locator.span(self.source.document),
        }
    }

    /// `Statement[i]`, or `Statement` when the document gives a single statement object.
    fn statement_path(&self, index: usize) -> JsonPath {
        let statement = JsonPath(vec![PathElement::Key("Statement".to_string())]);
        if self.source.span_of(&nth(&statement, 0)).is_some() {
            nth(&statement, index)
        } else {
            statement
        }
    }

    /// The path of the `index`th value of an element that may hold one string or an array.
    fn item_path(&self, element: &JsonPath, index: usize) -> JsonPath {
        let item = nth(element, index);
        if self.source.span_of(&item).is_some() {
            item
        } else {
            element.clone()
        }
    }

    fn substitutes_variables(&self) -> bool {
        self.policy.effective_version().substitutes_variables()
    }

    fn document(&mut self) {
        let root = JsonPath::default();
        if self.policy.version.is_none() {
            self.report(
                MISSING_VERSION,
                "Add `\"Version\": \"2012-10-17\"` to the policy. Without it AWS reads the policy in the \
                 2008-10-17 language, where `${...}` policy variables are plain text."
                    .to_string(),
                &[&root],
            );
        }
        let length = self.source.length_without_whitespace;
        let quota = match self.kind {
            PolicyKind::Identity => Some((POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA, SizeLimit::ManagedPolicy)),
            PolicyKind::ServiceControl => Some((POLICY_SIZE_EXCEEDS_SCP_QUOTA, SizeLimit::ServiceControl)),
            PolicyKind::RoleTrust => Some((POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA, SizeLimit::RoleTrust)),
            PolicyKind::Resource | PolicyKind::ResourceControl => None,
        };
        if let Some((issue, limit)) = quota {
            if length > limit.chars() {
                self.report(
                    issue,
                    format!(
                        "The policy has {length} characters without white space, more than the {} allowed \
                         for {}. Shorten it by {} characters: merge statements that share an effect and \
                         resources, or use wildcards for related actions; or split it into several policies.",
                        limit.chars(),
                        limit.applies_to(),
                        length - limit.chars()
                    ),
                    &[&root],
                );
            }
        }
    }

    fn sids(&mut self, paths: &[JsonPath]) {
        let policy = self.policy;
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (index, (statement, at)) in policy.statements.iter().zip(paths).enumerate() {
            let Some(sid) = statement.sid.as_deref() else { continue };
            let path = child(at, "Sid");
            if sid.is_empty() {
                self.report(
                    EMPTY_SID_VALUE,
                    "The `Sid` is an empty string. Give the statement a short name made of letters and \
                     digits, or remove the `Sid` element."
                        .to_string(),
                    &[&path],
                );
                continue;
            }
            let iam_stored = matches!(self.kind, PolicyKind::Identity | PolicyKind::RoleTrust);
            if iam_stored && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                let cleaned: String = sid.chars().filter(char::is_ascii_alphanumeric).collect();
                self.report(
                    UNSUPPORTED_SID,
                    format!(
                        "IAM accepts only letters A-Z, a-z and digits 0-9 in a `Sid`; `{sid}` has others. \
                         Rename it, e.g. to `{cleaned}`."
                    ),
                    &[&path],
                );
            }
            if let Some(&(_, first)) = seen.iter().find(|(other, _)| *other == sid) {
                let issue = if self.kind == PolicyKind::Resource {
                    UNIQUE_SIDS_RECOMMENDED
                } else {
                    UNIQUE_SIDS_REQUIRED
                };
                self.report(
                    issue,
                    format!(
                        "Statement {index} reuses the `Sid` `{sid}` of statement {first}. Give each statement \
                         its own `Sid`."
                    ),
                    &[&path],
                );
            } else {
                seen.push((sid, index));
            }
        }
    }

    /// The elements each kind of policy requires or forbids.
    fn structure(&mut self, statement: &Statement, at: &JsonPath) {
        let principal = statement.principal.as_ref().map(|p| {
            let key = if p.negated { "NotPrincipal" } else { "Principal" };
            (p.negated, key, child(at, key))
        });
        let missing_resource = |this: &mut Self| {
            if statement.resource.is_none() {
                this.report(
                    MISSING_RESOURCE,
                    "The statement has no `Resource` or `NotResource`. Add `Resource` with the ARNs it \
                     applies to, or `\"*\"` for all resources."
                        .to_string(),
                    &[at],
                );
            }
        };
        match self.kind {
            PolicyKind::Identity => {
                if let Some((_, key, path)) = &principal {
                    self.report(
                        UNSUPPORTED_PRINCIPAL,
                        format!(
                            "An identity policy applies to the user, group or role it is attached to, so \
                             it cannot have `{key}`. Remove the `{key}` element."
                        ),
                        &[path],
                    );
                }
                missing_resource(self);
            }
            PolicyKind::ServiceControl => {
                if let Some((_, key, path)) = &principal {
                    self.report(
                        SCP_SYNTAX_ERROR_PRINCIPAL,
                        format!(
                            "A service control policy applies to every principal in the accounts it is \
                             attached to, so it cannot have `{key}`. Remove `{key}`; to exempt principals, \
                             use a condition on `aws:PrincipalArn`."
                        ),
                        &[path],
                    );
                }
                missing_resource(self);
            }
            PolicyKind::Resource | PolicyKind::ResourceControl => {
                match &principal {
                    None => self.report(
                        MISSING_PRINCIPAL,
                        "The statement does not say whom it applies to. Add a `Principal` element, e.g. \
                         `{\"AWS\": \"arn:aws:iam::111122223333:root\"}`."
                            .to_string(),
                        &[at],
                    ),
                    Some((true, _, path)) if statement.effect == Effect::Allow => self.report(
                        ALLOW_WITH_NOT_PRINCIPAL,
                        "`Allow` with `NotPrincipal` grants access to everyone not listed, including \
                         anonymous callers. Use `Principal` to list whom to allow instead."
                            .to_string(),
                        &[path],
                    ),
                    Some(_) => {}
                }
                missing_resource(self);
            }
            PolicyKind::RoleTrust => {
                if let Some(resource) = &statement.resource {
                    let key = if resource.negated { "NotResource" } else { "Resource" };
                    self.report(
                        ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE,
                        format!(
                            "A role trust policy always applies to its role, so it cannot have `{key}`. \
                             Remove the `{key}` element."
                        ),
                        &[&child(at, key)],
                    );
                }
                match &principal {
                    None => self.report(
                        MISSING_PRINCIPAL,
                        "The statement does not say who may assume the role. Add a `Principal` element, e.g. \
                         `{\"Service\": \"ec2.amazonaws.com\"}`."
                            .to_string(),
                        &[at],
                    ),
                    Some((true, _, path)) => self.report(
                        ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL,
                        "Role trust policies do not support `NotPrincipal`. Use `Principal` to list who may \
                         assume the role."
                            .to_string(),
                        &[path],
                    ),
                    Some(_) => {}
                }
            }
        }
    }

    fn actions(&mut self, statement: &Statement, at: &JsonPath) {
        let block = &statement.action;
        let key = if block.negated { "NotAction" } else { "Action" };
        let path = child(at, key);
        if !block.negated && block.patterns.is_empty() {
            self.report(
                EMPTY_ARRAY_ACTION,
                "`Action` is an empty list, so the statement matches no request and has no effect. List \
                 the actions it is meant for, or remove the statement."
                    .to_string(),
                &[&path],
            );
        }
        for (j, pattern) in block.patterns.iter().enumerate() {
            if let Some((service, _)) = pattern.split_once(':') {
                if service.contains(['*', '?']) {
                    self.report(
                        WILDCARD_IN_SERVICE_NAME,
                        format!(
                            "`{pattern}` has a wildcard in the service prefix `{service}`, which can match \
                             services added later. Name each service prefix in full."
                        ),
                        &[&self.item_path(&path, j)],
                    );
                }
            }
        }
        for (redundant, covering) in redundant_patterns(&block.patterns, true) {
            let (narrow, wide) = (&block.patterns[redundant], &block.patterns[covering]);
            self.report(
                REDUNDANT_ACTION,
                format!("`{narrow}` is already covered by `{wide}` in the same `{key}` element. Remove `{narrow}`."),
                &[&self.item_path(&path, redundant)],
            );
        }
    }

    fn resources(&mut self, statement: &Statement, at: &JsonPath) {
        let Some(block) = &statement.resource else { return };
        let key = if block.negated { "NotResource" } else { "Resource" };
        let path = child(at, key);
        if !block.negated && block.patterns.is_empty() {
            self.report(
                EMPTY_ARRAY_RESOURCE,
                "`Resource` is an empty list, so the statement matches no request and has no effect. List \
                 the resource ARNs it is meant for, or remove the statement."
                    .to_string(),
                &[&path],
            );
        }
        for (j, pattern) in block.patterns.iter().enumerate() {
            let item = self.item_path(&path, j);
            self.variables_in_value(pattern, &item);
            if pattern != "*" {
                for (issue, details) in arn_issues(pattern) {
                    self.report(issue, details, &[&item]);
                }
            }
        }
        for (redundant, covering) in redundant_patterns(&block.patterns, false) {
            let (narrow, wide) = (&block.patterns[redundant], &block.patterns[covering]);
            self.report(
                REDUNDANT_RESOURCE,
                format!("`{narrow}` is already covered by `{wide}` in the same `{key}` element. Remove `{narrow}`."),
                &[&self.item_path(&path, redundant)],
            );
        }
    }

    fn principals(&mut self, statement: &Statement, at: &JsonPath) {
        let Some(block) = &statement.principal else { return };
        // Kinds without principals get one finding for the whole element from `structure`.
        if !self.kind.has_principals() {
            return;
        }
        let PrincipalSet::Typed(entries) = &block.principals else {
            return;
        };
        let path = child(at, if block.negated { "NotPrincipal" } else { "Principal" });
        for (principal_type, ids) in entries {
            let type_path = child(&path, principal_type.as_str());
            if ids.is_empty() {
                self.report(
                    EMPTY_ARRAY_PRINCIPAL,
                    format!(
                        "`{}` is an empty list and names no principal. List the principals, or remove the key.",
                        principal_type.as_str()
                    ),
                    &[&type_path],
                );
            }
            for (j, id) in ids.iter().enumerate() {
                let item = self.item_path(&type_path, j);
                let issue = if id.contains("${") {
                    Some((
                        VARIABLE_UNSUPPORTED_IN_ELEMENT,
                        format!(
                            "Policy variables are not substituted in `Principal`, so `{id}` names no one. \
                             Name the principal literally, or move the variable into a condition on \
                             `aws:PrincipalArn`."
                        ),
                    ))
                } else {
                    principal_issue(*principal_type, id)
                };
                if let Some((issue, details)) = issue {
                    self.report(issue, details, &[&item]);
                }
            }
        }
    }

    fn conditions(&mut self, statement: &Statement, at: &JsonPath) {
        let condition_path = child(at, "Condition");
        for (c, clause) in statement.condition.iter().enumerate() {
            let operator_name = clause.operator.to_string();
            let operator_path = child(&condition_path, &operator_name);
            let key_path = child(&operator_path, &clause.key);
            let same_key_other_case = statement.condition[..c]
                .iter()
                .find(|other| other.operator == clause.operator && other.key.eq_ignore_ascii_case(&clause.key));
            if let Some(other) = same_key_other_case {
                self.report(
                    DUPLICATE_KEYS_WITH_DIFFERENT_CASE,
                    format!(
                        "`{}` and `{}` are the same condition key, because key names ignore case, and both \
                         appear under `{operator_name}`. Merge their values under one key.",
                        other.key, clause.key
                    ),
                    &[&key_path],
                );
            }
            self.condition_key(clause, &key_path);
            self.condition_operator(clause, &operator_name, &operator_path, &key_path);
            for (j, value) in clause.values.iter().enumerate() {
                let item = self.item_path(&key_path, j);
                self.condition_value(clause, &operator_name, value, &item);
            }
        }
    }

    fn condition_key(&mut self, clause: &ConditionClause, key_path: &JsonPath) {
        let key = clause.key.as_str();
        let well_formed = key
            .split_once(':')
            .is_some_and(|(prefix, name)| !prefix.is_empty() && !name.is_empty())
            && !key.contains(char::is_whitespace);
        if !well_formed {
            self.report(
                INVALID_CONDITION_KEY_FORMAT,
                format!(
                    "`{key}` is not a condition key. Write keys as `service:name`, e.g. `aws:SourceIp` or \
                     `s3:prefix`."
                ),
                &[key_path],
            );
            return;
        }
        match classify_global_key(key) {
            None | Some(GlobalKey::Known { .. }) => {}
            Some(GlobalKey::Tag { tag_key_missing: false }) => {}
            Some(GlobalKey::Tag { tag_key_missing: true }) => self.report(
                MISSING_TAG_KEY_IN_CONDITION,
                format!("`{key}` names no tag key. Add the tag key after the slash, e.g. `{key}team`."),
                &[key_path],
            ),
            Some(GlobalKey::Deprecated) => self.report(
                DEPRECATED_GLOBAL_CONDITION_KEY,
                format!(
                    "`{key}` is deprecated. Use `aws:SourceArn` to compare the ARN of the resource making \
                     a service-to-service request, or `aws:PrincipalArn` for the caller."
                ),
                &[key_path],
            ),
            Some(GlobalKey::Unknown) => {
                let hint = closest_global_key(key).map_or_else(
                    || " Check the spelling against AWS's list of global condition keys.".to_string(),
                    |known| format!(" Did you mean `{known}`?"),
                );
                self.report(
                    INVALID_GLOBAL_CONDITION_KEY,
                    format!("`{key}` is not an AWS global condition key, so it is never in a request.{hint}"),
                    &[key_path],
                );
            }
        }
    }

    fn condition_operator(
        &mut self,
        clause: &ConditionClause,
        operator_name: &str,
        operator_path: &JsonPath,
        key_path: &JsonPath,
    ) {
        let operator = clause.operator;
        let key = clause.key.as_str();
        if operator.base == BaseOperator::Null && operator.qualifier.is_some() {
            let outcome = if operator.qualifier == Some(SetQualifier::ForAllValues) {
                "true"
            } else {
                "false"
            };
            self.report(
                NULL_WITH_QUALIFIER,
                format!(
                    "`{operator_name}` is always {outcome}, whatever the request. Use `Null` without the set \
                     qualifier to test whether `{key}` is present."
                ),
                &[operator_path],
            );
        }
        if matches!(operator.base.family(), OperatorFamily::Bool | OperatorFamily::Null) && clause.values.len() > 1 {
            self.report(
                INVALID_CONDITION_MULTIPLE_BOOLEAN,
                format!(
                    "`{operator_name}` on `{key}` lists {} Boolean values; with both `true` and `false` the \
                     condition matches either way. Give a single value, `true` or `false`.",
                    clause.values.len()
                ),
                &[key_path],
            );
        }
        let single_valued = match classify_global_key(key) {
            Some(GlobalKey::Known { multivalued }) => !multivalued,
            Some(GlobalKey::Tag { tag_key_missing }) => !tag_key_missing,
            _ => false,
        };
        if operator.qualifier == Some(SetQualifier::ForAllValues) && single_valued {
            let plain = ConditionOperator {
                qualifier: None,
                ..operator
            };
            self.report(
                FORALLVALUES_WITH_SINGLE_VALUED_KEY,
                format!(
                    "`{key}` has one value per request, and `{operator_name}` is also true when the key is \
                     missing from the request, which can grant more than intended. Use `{plain}` instead."
                ),
                &[key_path],
            );
        }
    }

    fn condition_value(&mut self, clause: &ConditionClause, operator_name: &str, value: &str, item: &JsonPath) {
        let operator = clause.operator;
        if value.contains("${") {
            if operator.base.supports_variables() {
                self.variables_in_value(value, item);
            } else {
                self.report(
                    INVALID_VARIABLE_FOR_OPERATOR,
                    variable_for_operator_message(operator_name, operator.base, value),
                    &[item],
                );
            }
        }
        match operator.base.family() {
            OperatorFamily::String
                if !matches!(operator.base, BaseOperator::StringLike | BaseOperator::StringNotLike) =>
            {
                let literal = strip_variables(value, self.substitutes_variables());
                if literal.contains(['*', '?']) {
                    let like = if operator.base.is_negated() {
                        BaseOperator::StringNotLike
                    } else {
                        BaseOperator::StringLike
                    };
                    let suggestion = ConditionOperator { base: like, ..operator };
                    self.report(
                        WILDCARD_WITHOUT_LIKE_OPERATOR,
                        format!(
                            "`{operator_name}` compares `*` and `?` literally, so `{value}` matches only \
                             that exact text. Use `{suggestion}` for a wildcard match, or remove the wildcard."
                        ),
                        &[item],
                    );
                }
            }
            OperatorFamily::Ip => self.ip_value(clause, operator_name, value, item),
            _ => {}
        }
    }

    fn ip_value(&mut self, clause: &ConditionClause, operator_name: &str, value: &str, item: &JsonPath) {
        let text = value.trim();
        let Some(net) = text
            .parse::<IpNet>()
            .ok()
            .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        else {
            return;
        };
        let range = net.trunc();
        if range != net {
            self.report(
                IMPROVE_IP_RANGE,
                format!(
                    "`{text}` has bits set after its /{} prefix; AWS reads it as `{range}`. Write `{range}`, \
                     or a longer prefix if you meant a smaller range.",
                    net.prefix_len()
                ),
                &[item],
            );
        }
        if !clause.key.eq_ignore_ascii_case("aws:SourceIp") || range.prefix_len() == 0 {
            return;
        }
        let private: Vec<IpNet> = PRIVATE_RANGES.iter().filter_map(|r| r.parse().ok()).collect();
        let negated = clause.operator.base.is_negated();
        if let Some(within) = private.iter().find(|p| p.contains(&range)) {
            let (issue, consequence) = if negated {
                (PRIVATE_NOT_IP_ADDRESS, "never excludes a request")
            } else {
                (PRIVATE_IP_ADDRESS, "never matches")
            };
            self.report(
                issue,
                format!(
                    "`{text}` is in the private range `{within}`, but `aws:SourceIp` only ever holds public \
                     addresses, so this value of `{operator_name}` {consequence}. For requests through a VPC \
                     endpoint, use `aws:VpcSourceIp` together with `aws:SourceVpc` or `aws:SourceVpce`."
                ),
                &[item],
            );
        } else if let Some(inside) = private.iter().find(|p| range.contains(*p)) {
            let issue = if negated {
                PRIVATE_NOT_IP_ADDRESS_SUBSET
            } else {
                PRIVATE_IP_ADDRESS_SUBSET
            };
            self.report(
                issue,
                format!(
                    "`{text}` includes the private range `{inside}`, which `aws:SourceIp` never holds. List \
                     only the public ranges you mean; use `aws:VpcSourceIp` for private addresses."
                ),
                &[item],
            );
        }
    }

    /// Version and syntax of policy variables in a value that may contain them.
    fn variables_in_value(&mut self, value: &str, item: &JsonPath) {
        if !value.contains("${") {
            return;
        }
        if !self.substitutes_variables() {
            let version = match self.policy.version {
                Some(version) => format!("version {}", version.as_str()),
                None => "the 2008-10-17 language, which applies when `Version` is missing,".to_string(),
            };
            self.report(
                VARIABLE_UNSUPPORTED_IN_VERSION,
                format!(
                    "`{value}` uses a policy variable, but {version} treats `${{...}}` as plain text. Set \
                     `\"Version\": \"2012-10-17\"`."
                ),
                &[item],
            );
            return;
        }
        if let Some((issue, details)) = variable_syntax_issue(value) {
            self.report(issue, details, &[item]);
        }
    }

    fn pass_role(&mut self, statement: &Statement, at: &JsonPath) {
        if self.kind != PolicyKind::Identity || statement.effect != Effect::Allow {
            return;
        }
        let Some(resources) = &statement.resource else { return };
        let pass_role: Vec<char> = "iam:passrole".chars().collect();
        let grants_pass_role = |pattern: &str| {
            let lower: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
            covers(&lower, &pass_role)
        };
        let actions = &statement.action;
        let action_path = child(at, if actions.negated { "NotAction" } else { "Action" });
        let (action, action_at) = if actions.negated {
            if actions.patterns.iter().any(|p| grants_pass_role(p)) {
                return;
            }
            (PassRoleAction::NotAction, action_path)
        } else {
            let wildcard = actions
                .patterns
                .iter()
                .position(|p| !p.eq_ignore_ascii_case("iam:PassRole") && grants_pass_role(p));
            let exact = actions
                .patterns
                .iter()
                .position(|p| p.eq_ignore_ascii_case("iam:PassRole"));
            match (wildcard, exact) {
                (Some(j), _) => (PassRoleAction::Wildcard, self.item_path(&action_path, j)),
                (None, Some(j)) => (PassRoleAction::Exact, self.item_path(&action_path, j)),
                (None, None) => return,
            }
        };
        let resource_path = child(at, if resources.negated { "NotResource" } else { "Resource" });
        let (not_resource, resource_at) = if resources.negated {
            // `NotResource: "*"` excludes everything: the statement matches nothing.
            if resources.patterns.iter().any(|p| p == "*") {
                return;
            }
            (true, resource_path)
        } else {
            match resources.patterns.iter().position(|p| matches_all_roles(p)) {
                Some(j) => (false, self.item_path(&resource_path, j)),
                None => return,
            }
        };
        let restrict = "list the ARNs of the roles the caller needs to pass in `Resource`, and add an \
                        `iam:PassedToService` condition naming the service that receives them.";
        let (issue, what) = match (action, not_resource) {
            (PassRoleAction::Exact, false) => (
                PASS_ROLE_WITH_STAR_IN_RESOURCE,
                "`iam:PassRole` on all roles lets the caller hand any role, including more privileged \
                 ones, to an AWS service.",
            ),
            (PassRoleAction::Exact, true) => (
                PASS_ROLE_WITH_NOT_RESOURCE,
                "`iam:PassRole` with `NotResource` allows passing every role not listed, including roles \
                 created later.",
            ),
            (PassRoleAction::Wildcard, false) => (
                PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE,
                "A wildcard in `Action` includes `iam:PassRole`, and on all roles it lets the caller hand \
                 any role to an AWS service.",
            ),
            (PassRoleAction::Wildcard, true) => (
                PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE,
                "A wildcard in `Action` includes `iam:PassRole`, and `NotResource` allows passing every \
                 role not listed.",
            ),
            (PassRoleAction::NotAction, false) => (
                PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION,
                "`NotAction` does not exclude `iam:PassRole`, so the statement allows passing any role to \
                 an AWS service.",
            ),
            (PassRoleAction::NotAction, true) => (
                PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE,
                "`NotAction` does not exclude `iam:PassRole`, and `NotResource` allows passing every role \
                 not listed.",
            ),
        };
        let details = match action {
            PassRoleAction::Exact => format!("{what} Instead, {restrict}"),
            PassRoleAction::Wildcard | PassRoleAction::NotAction => {
                format!("{what} Grant `iam:PassRole` in a statement of its own, and there {restrict}")
            }
        };
        self.report(issue, details, &[&action_at, &resource_at]);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassRoleAction {
    /// `iam:PassRole` itself.
    Exact,
    /// A pattern such as `iam:*` or `*` that includes it.
    Wildcard,
    /// `NotAction` that does not exclude it.
    NotAction,
}

/// A resource pattern that names every role of an account (or everything).
fn matches_all_roles(pattern: &str) -> bool {
    pattern == "*"
        || arn_fields(pattern).is_some_and(|[_, _, service, _, _, resource]| {
            matches!(service, "iam" | "*") && matches!(resource, "*" | "role/*" | "role*")
        })
}

// ---- helpers: patterns, ARNs, principals, keys, variables --------------------------------------

/// Whether every text that `narrow` matches is also matched by `wide` (`*` any run, `?` one
/// character, in both). Sound; and exact for the patterns policies use.
fn covers(wide: &[char], narrow: &[char]) -> bool {
    let first_wildcard = wide.iter().position(|c| matches!(c, '*' | '?'));
    let Some(first_wildcard) = first_wildcard else {
        // A literal covers only itself.
        return wide == narrow;
    };
    // The literal text before the first wildcard must begin `narrow`: a cheap early refusal
    // for the common case of unrelated patterns.
    if !narrow.starts_with(&wide[..first_wildcard]) {
        return false;
    }
    // Quadratic table: refuse to judge absurdly long patterns rather than spend the time.
    if wide.len().saturating_mul(narrow.len()) > 1_000_000 {
        return false;
    }
    let n = narrow.len();
    // `next[j]`: the rest of `wide` after the current piece covers `narrow[j..]`.
    let mut next = vec![false; n + 1];
    next[n] = true;
    for &piece in wide.iter().rev() {
        let mut current = vec![false; n + 1];
        for j in (0..=n).rev() {
            current[j] = match piece {
                '*' => next[j] || (j < n && current[j + 1]),
                '?' => j < n && narrow[j] != '*' && next[j + 1],
                literal => j < n && narrow[j] == literal && next[j + 1],
            };
        }
        next = current;
    }
    next[0]
}

/// Pairs (redundant, covering): each pattern that another pattern of the list covers, with one
/// that covers it. Of two equal patterns the later one is redundant. Variables are not compared.
fn redundant_patterns(patterns: &[String], fold_case: bool) -> Vec<(usize, usize)> {
    let prepared: Vec<Option<Vec<char>>> = patterns
        .iter()
        .map(|p| {
            let text = if fold_case { p.to_ascii_lowercase() } else { p.clone() };
            (!text.contains("${")).then(|| text.chars().collect())
        })
        .collect();
    let mut out = Vec::new();
    for (j, narrow) in prepared.iter().enumerate() {
        let Some(narrow) = narrow else { continue };
        let covering = prepared.iter().enumerate().position(|(k, wide)| {
            k != j
                && wide
                    .as_ref()
                    .is_some_and(|wide| covers(wide, narrow) && (k < j || !covers(narrow, wide)))
        });
        if let Some(k) = covering {
            out.push((j, k));
        }
    }
    out
}

/// The six fields of an ARN; the last keeps any further colons.
fn arn_fields(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    Some([
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ])
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn has_wildcard_or_variable(text: &str) -> bool {
    text.contains(['*', '?']) || text.contains("${")
}

/// `us-east-1`, `us-gov-west-1`, `eusc-de-east-1`: lowercase words joined by dashes, ending in a number.
fn plausible_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.first().is_some_and(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Problems with the fields of a resource ARN (not `*`; the parser ensures it starts with `arn:`).
fn arn_issues(arn: &str) -> Vec<(Issue, String)> {
    let format = "`arn:partition:service:region:account-id:resource`";
    let Some([_, partition, service, region, account, resource]) = arn_fields(arn) else {
        let fields = arn.split(':').count();
        return vec![(
            MISSING_ARN_FIELD,
            format!(
                "`{arn}` has {fields} of the 6 colon-separated ARN fields. Write it as {format}, leaving \
                 region or account empty where the service does not use them (e.g. `arn:aws:s3:::bucket`)."
            ),
        )];
    };
    if service.is_empty() || resource.is_empty() {
        let field = if service.is_empty() { "service" } else { "resource" };
        return vec![(
            MISSING_ARN_FIELD,
            format!("`{arn}` has an empty {field} field. Fill it in: ARNs have the form {format}."),
        )];
    }
    let mut issues = Vec::new();
    let partition_known = if partition.contains("${") {
        true
    } else if partition.contains(['*', '?']) {
        let pattern: Vec<char> = partition.chars().collect();
        PARTITIONS
            .iter()
            .any(|known| covers(&pattern, &known.chars().collect::<Vec<_>>()))
    } else {
        PARTITIONS.contains(&partition)
    };
    if !partition_known {
        issues.push((
            INVALID_PARTITION,
            format!(
                "`{partition}` in `{arn}` is not an AWS partition. Use `aws`, or `aws-cn`, `aws-us-gov`, \
                 `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f` or `aws-eusc` for resources there."
            ),
        ));
    }
    if service.chars().any(|c| c.is_ascii_uppercase()) {
        issues.push((
            INVALID_ARN_SERVICE_CASE,
            format!(
                "The service `{service}` in `{arn}` has capital letters; ARN service names are lowercase. \
                 Write `{}`.",
                service.to_ascii_lowercase()
            ),
        ));
    }
    let service = service.to_ascii_lowercase();
    if service == "iam" && !region.is_empty() && region != "*" {
        issues.push((
            ARN_REGION_NOT_ALLOWED,
            format!(
                "IAM resources are global, so their ARNs have no region, but `{arn}` names `{region}`. \
                 Leave the region field empty: `arn:{partition}:iam::{account}:{resource}`."
            ),
        ));
    } else if !region.is_empty() && !has_wildcard_or_variable(region) && !plausible_region(region) {
        issues.push((
            INVALID_ARN_REGION,
            format!("`{region}` in `{arn}` is not a Region code. Use a code such as `us-east-1`, or `*`."),
        ));
    }
    let s3_without_account = service == "s3"
        && !S3_RESOURCES_WITH_ACCOUNT
            .iter()
            .any(|prefix| resource.starts_with(prefix));
    if s3_without_account && !account.is_empty() && account != "*" {
        issues.push((
            ARN_ACCOUNT_NOT_ALLOWED,
            format!(
                "Amazon S3 bucket and object ARNs have no account field, but `{arn}` names `{account}`. \
                 Leave it empty: `arn:{partition}:s3:::{resource}`; use the `s3:ResourceAccount` condition \
                 key to restrict the owner."
            ),
        ));
    } else if !account.is_empty() && !account.contains("${") {
        let valid = if account.contains(['*', '?']) {
            account.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '?')
        } else {
            is_account_id(account) || account == "aws"
        };
        if !valid {
            issues.push((
                INVALID_ARN_ACCOUNT,
                format!("`{account}` in `{arn}` is not an account ID. Use the 12-digit ID of the account, or `*`."),
            ));
        }
    }
    issues
}

/// IAM unique ids such as `AIDACKCEVSQ6C2EXAMPLE`.
fn is_unique_id(text: &str, prefix: &str) -> bool {
    text.starts_with(prefix)
        && (16..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A problem with one value of a typed `Principal`, if any.
fn principal_issue(principal_type: PrincipalType, id: &str) -> Option<(Issue, String)> {
    match principal_type {
        PrincipalType::Aws => aws_principal_issue(id),
        PrincipalType::Service => (!valid_service_principal(id)).then(|| {
            (
                INVALID_SERVICE_PRINCIPAL_FORMAT,
                format!(
                    "`{id}` is not a service principal. Use the service's principal name in lowercase, \
                     e.g. `ec2.amazonaws.com`."
                ),
            )
        }),
        PrincipalType::Federated => (!valid_federated_principal(id)).then(|| {
            (
                INVALID_PRINCIPAL_FORMAT,
                format!(
                    "`{id}` is not a federated principal. Use the ARN of an IAM SAML or OIDC provider \
                     (`arn:aws:iam::111122223333:saml-provider/Name`) or a web identity provider such as \
                     `cognito-identity.amazonaws.com`."
                ),
            )
        }),
        PrincipalType::CanonicalUser => (!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))).then(|| {
            (
                INVALID_PRINCIPAL_FORMAT,
                format!("`{id}` is not a canonical user ID. Use the account's 64-character hexadecimal canonical ID."),
            )
        }),
    }
}

fn aws_principal_issue(id: &str) -> Option<(Issue, String)> {
    if id == "*" || is_account_id(id) {
        return None;
    }
    if is_unique_id(id, "AIDA") {
        return Some((
            INVALID_USER_REFERENCE,
            format!(
                "`{id}` is the unique ID of an IAM user; AWS shows it in place of the ARN when the user it \
                 named was deleted. Replace it with the ARN of an existing user, or remove it."
            ),
        ));
    }
    if is_unique_id(id, "AROA") {
        return Some((
            INVALID_ROLE_REFERENCE,
            format!(
                "`{id}` is the unique ID of an IAM role; AWS shows it in place of the ARN when the role it \
                 named was deleted. Replace it with the ARN of an existing role, or remove it."
            ),
        ));
    }
    let valid_arn = arn_fields(id).is_some_and(|[arn, partition, service, region, account, resource]| {
        let names = |prefix: &str, parts: usize| {
            resource.strip_prefix(prefix).is_some_and(|rest| {
                let pieces: Vec<&str> = rest.split('/').collect();
                pieces.len() >= parts && pieces.iter().all(|p| !p.is_empty())
            })
        };
        arn == "arn"
            && PARTITIONS.contains(&partition)
            && region.is_empty()
            && is_account_id(account)
            && match service {
                "iam" => resource == "root" || names("user/", 1) || names("role/", 1),
                "sts" => names("assumed-role/", 2) || names("federated-user/", 1),
                _ => false,
            }
    });
    if valid_arn {
        return None;
    }
    let details = if arn_fields(id).is_some_and(|f| f[2] == "iam" && f[5].starts_with("group/")) {
        format!("`{id}` is an IAM group, and groups cannot be principals. Name the group's users or a role instead.")
    } else {
        format!(
            "`{id}` is not an AWS principal. Use `*`, a 12-digit account ID, or the ARN of an account \
             (`arn:aws:iam::111122223333:root`), IAM user, IAM role, assumed-role session or federated user."
        )
    };
    Some((INVALID_PRINCIPAL_FORMAT, details))
}

fn valid_service_principal(id: &str) -> bool {
    let well_formed = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !id.contains("..")
        && !id.starts_with('.');
    well_formed
        && SERVICE_PRINCIPAL_SUFFIXES
            .iter()
            .any(|suffix| id.strip_suffix(suffix).is_some_and(|service| !service.is_empty()))
}

fn valid_federated_principal(id: &str) -> bool {
    if id.starts_with("arn:") {
        return arn_fields(id).is_some_and(|[_, partition, service, _, account, resource]| {
            PARTITIONS.contains(&partition)
                && service == "iam"
                && is_account_id(account)
                && ["saml-provider/", "oidc-provider/"]
                    .iter()
                    .any(|p| resource.strip_prefix(p).is_some_and(|name| !name.is_empty()))
        });
    }
    id.contains('.')
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
}

enum GlobalKey {
    Known { multivalued: bool },
    Tag { tag_key_missing: bool },
    Deprecated,
    Unknown,
}

/// What an `aws:` condition key is; `None` for keys of other prefixes. Key names ignore case.
fn classify_global_key(key: &str) -> Option<GlobalKey> {
    let (prefix, name) = key.split_once(':')?;
    if !prefix.eq_ignore_ascii_case("aws") {
        return None;
    }
    if let Some(tag_prefix) = GLOBAL_TAG_PREFIXES
        .iter()
        .find(|p| key.len() >= p.len() && key.is_char_boundary(p.len()) && key[..p.len()].eq_ignore_ascii_case(p))
    {
        return Some(GlobalKey::Tag {
            tag_key_missing: key.len() == tag_prefix.len(),
        });
    }
    if name.eq_ignore_ascii_case("ARN") {
        return Some(GlobalKey::Deprecated);
    }
    Some(match GLOBAL_KEYS.iter().find(|known| known.eq_ignore_ascii_case(key)) {
        Some(known) => GlobalKey::Known {
            multivalued: MULTIVALUED_GLOBAL_KEYS.contains(known),
        },
        None => GlobalKey::Unknown,
    })
}

/// The documented global key nearest to a misspelt one, if any is close.
fn closest_global_key(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    GLOBAL_KEYS
        .iter()
        .map(|known| (edit_distance(&key, &known.to_ascii_lowercase()), *known))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The text with `${...}` variables removed, when the version substitutes them.
fn strip_variables(value: &str, substitutes: bool) -> String {
    if !substitutes {
        return value.to_string();
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The first malformed `${...}` in a value, with what to change.
fn variable_syntax_issue(value: &str) -> Option<(Issue, String)> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let close = after.find('}');
        let reopened = after.find("${");
        let Some(end) = close.filter(|end| reopened.is_none_or(|r| r > *end)) else {
            return Some((
                MISSING_BRACE_IN_VARIABLE,
                format!("A policy variable in `{value}` has no closing `}}`. Close it, as in `${{aws:username}}`."),
            ));
        };
        let inner = &after[..end];
        let variable = &rest[start..start + end + 3];
        rest = &after[end + 1..];
        if matches!(inner, "*" | "?" | "$") {
            continue;
        }
        if inner.trim().is_empty() {
            return Some((
                EMPTY_VARIABLE,
                format!(
                    "`{variable}` in `{value}` names no condition key. Put a key inside, as in `${{aws:username}}`."
                ),
            ));
        }
        let (key, default) = match inner.split_once(',') {
            Some((key, default)) => (key, Some(default)),
            None => (inner, None),
        };
        if key.contains(char::is_whitespace) {
            return Some((
                UNSUPPORTED_SPACE_IN_VARIABLE,
                format!(
                    "`{variable}` in `{value}` has white space in its key. Remove it: `${{{}}}`.",
                    key.split_whitespace().collect::<String>()
                ),
            ));
        }
        if let Some(default) = default {
            let quoted = default
                .trim_start()
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .is_some();
            if !quoted {
                return Some((
                    MISSING_QUOTE_IN_VARIABLE,
                    format!(
                        "The default value in `{variable}` must be in single quotes, as in \
                         `${{{key}, 'default-value'}}`."
                    ),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// An identity-policy document around the given statements.
    fn identity(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
    }

    fn codes(text: &str, kind: PolicyKind) -> BTreeSet<String> {
        validate_policy(text, kind).into_iter().map(|f| f.issue_code).collect()
    }

    fn large_policy(actions: usize) -> String {
        let list: Vec<String> = (0..actions).map(|i| format!("\"s3:Action{i:05}\"")).collect();
        identity(&format!(
            r#"{{"Effect":"Allow","Action":[{}],"Resource":"*"}}"#,
            list.join(",")
        ))
    }

    #[test]
    fn findings_table() {
        use PolicyKind::{Identity, Resource, ResourceControl, RoleTrust, ServiceControl};
        const S3_READ: &str = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*""#;
        let allow = |rest: &str| identity(&format!(r#"{{"Effect":"Allow",{rest}}}"#));
        let with_condition = |condition: &str| {
            allow(&format!(
                r#""Action":"s3:GetObject","Resource":"*","Condition":{condition}"#
            ))
        };
        let resource_policy = |principal: &str| {
            identity(&format!(
                r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#
            ))
        };
        let trust = |statement: &str| identity(&format!(r#"{{"Effect":"Allow",{statement}}}"#));
        let cases: Vec<(&str, String, PolicyKind, &[&str])> = vec![
            ("clean identity policy", identity(&format!("{{{S3_READ}}}")), Identity, &[]),
            (
                "clean single statement object",
                format!(r#"{{"Version":"2012-10-17","Statement":{{{S3_READ}}}}}"#),
                Identity,
                &[],
            ),
            ("no version", format!(r#"{{"Statement":[{{{S3_READ}}}]}}"#), Identity, &["MISSING_VERSION"]),
            (
                "variable in the 2008 language",
                r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#.into(),
                Identity,
                &["VARIABLE_UNSUPPORTED_IN_VERSION"],
            ),
            (
                "variable without version",
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:username}"}}}]}"#.into(),
                Identity,
                &["MISSING_VERSION", "VARIABLE_UNSUPPORTED_IN_VERSION"],
            ),
            ("json syntax", "{\"Version\":".into(), Identity, &["JSON_SYNTAX_ERROR"]),
            ("unknown element", allow(r#""Effect2":"x""#).replace("Effect2", "Bogus"), Identity, &["INVALID_POLICY_ELEMENT"]),
            // identity structure
            (
                "principal in identity policy",
                allow(r#""Principal":"*","Action":"s3:GetObject","Resource":"*""#),
                Identity,
                &["UNSUPPORTED_PRINCIPAL"],
            ),
            ("missing resource", allow(r#""Action":"s3:GetObject""#), Identity, &["MISSING_RESOURCE"]),
            (
                "duplicate sids",
                identity(&format!(r#"{{"Sid":"A",{S3_READ}}},{{"Sid":"A",{S3_READ}}}"#)),
                Identity,
                &["UNIQUE_SIDS_REQUIRED"],
            ),
            ("sid with dashes", identity(&format!(r#"{{"Sid":"read-reports",{S3_READ}}}"#)), Identity, &["UNSUPPORTED_SID"]),
            ("empty sid", identity(&format!(r#"{{"Sid":"",{S3_READ}}}"#)), Identity, &["EMPTY_SID_VALUE"]),
            // resource policies
            ("resource policy without principal", identity(&format!("{{{S3_READ}}}")), Resource, &["MISSING_PRINCIPAL"]),
            (
                "resource policy duplicate sids",
                identity(&format!(
                    r#"{{"Sid":"A","Principal":"*",{S3_READ}}},{{"Sid":"A","Principal":"*",{S3_READ}}}"#
                )),
                Resource,
                &["UNIQUE_SIDS_RECOMMENDED"],
            ),
            (
                "allow with NotPrincipal",
                identity(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
                Resource,
                &["ALLOW_WITH_NOT_PRINCIPAL"],
            ),
            ("empty principal list", resource_policy(r#"{"AWS":[]}"#), Resource, &["EMPTY_ARRAY_PRINCIPAL"]),
            ("account principal", resource_policy(r#"{"AWS":["111122223333","arn:aws:iam::111122223333:root"]}"#), Resource, &[]),
            (
                "session and federated user principals",
                resource_policy(r#"{"AWS":["arn:aws:sts::111122223333:assumed-role/Admin/alice","arn:aws:sts::111122223333:federated-user/bob","arn:aws-cn:iam::111122223333:user/x/y"]}"#),
                Resource,
                &[],
            ),
            ("malformed principal", resource_policy(r#"{"AWS":"alice"}"#), Resource, &["INVALID_PRINCIPAL_FORMAT"]),
            ("group principal", resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:group/admins"}"#), Resource, &["INVALID_PRINCIPAL_FORMAT"]),
            ("service principal", resource_policy(r#"{"Service":["ec2.amazonaws.com","EC2"]}"#), Resource, &["INVALID_SERVICE_PRINCIPAL_FORMAT"]),
            ("deleted user", resource_policy(r#"{"AWS":"AIDACKCEVSQ6C2EXAMPLE"}"#), Resource, &["INVALID_USER_REFERENCE"]),
            ("deleted role", resource_policy(r#"{"AWS":"AROADBQP57FF2AEXAMPLE"}"#), Resource, &["INVALID_ROLE_REFERENCE"]),
            (
                "federated and canonical principals",
                resource_policy(r#"{"Federated":["cognito-identity.amazonaws.com","arn:aws:iam::111122223333:saml-provider/Okta","saml"],"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#),
                Resource,
                &["INVALID_PRINCIPAL_FORMAT"],
            ),
            (
                "variable in principal",
                resource_policy(r#"{"AWS":"arn:aws:iam::111122223333:user/${aws:username}"}"#),
                Resource,
                &["VARIABLE_UNSUPPORTED_IN_ELEMENT"],
            ),
            ("resource policy without resource", identity(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}"#), ResourceControl, &["MISSING_RESOURCE"]),
            // service control policies
            (
                "principal in scp",
                allow(r#""Principal":{"AWS":"111122223333"},"Action":"*","Resource":"*""#),
                ServiceControl,
                &["SCP_SYNTAX_ERROR_PRINCIPAL"],
            ),
            ("scp without resource", allow(r#""Action":"*""#), ServiceControl, &["MISSING_RESOURCE"]),
            ("scp allowing everything", allow(r#""Action":"*","Resource":"*""#), ServiceControl, &[]),
            // role trust policies
            (
                "clean trust policy",
                trust(r#""Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole""#),
                RoleTrust,
                &[],
            ),
            (
                "resource in trust policy",
                trust(r#""Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*""#),
                RoleTrust,
                &["ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE"],
            ),
            (
                "NotPrincipal in trust policy",
                trust(r#""NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole""#),
                RoleTrust,
                &["ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL"],
            ),
            ("trust policy without principal", trust(r#""Action":"sts:AssumeRole""#), RoleTrust, &["MISSING_PRINCIPAL"]),
            // empty lists
            ("empty action list", allow(r#""Action":[],"Resource":"*""#), Identity, &["EMPTY_ARRAY_ACTION"]),
            ("empty resource list", allow(r#""Action":"s3:GetObject","Resource":[]"#), Identity, &["EMPTY_ARRAY_RESOURCE"]),
            ("empty condition values", with_condition(r#"{"StringEquals":{"aws:username":[]}}"#), Identity, &["EMPTY_ARRAY_CONDITION"]),
            (
                "empty ForAllValues values",
                with_condition(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":[]}}"#),
                Identity,
                &["EMPTY_ARRAY_CONDITION_FORALLVALUES"],
            ),
            (
                "empty ForAnyValue values",
                with_condition(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":[]}}"#),
                Identity,
                &["EMPTY_ARRAY_CONDITION_FORANYVALUE"],
            ),
            (
                "empty IfExists values",
                with_condition(r#"{"StringEqualsIfExists":{"aws:username":[]}}"#),
                Identity,
                &["EMPTY_ARRAY_CONDITION_IFEXISTS"],
            ),
            // iam:PassRole
            ("pass role on all roles", allow(r#""Action":"iam:PassRole","Resource":"*""#), Identity, &["PASS_ROLE_WITH_STAR_IN_RESOURCE"]),
            (
                "pass role on named roles",
                allow(r#""Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/app-*""#),
                Identity,
                &[],
            ),
            ("admin", allow(r#""Action":"*","Resource":"*""#), Identity, &["PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"]),
            ("iam wildcard on roles", allow(r#""Action":"iam:*","Resource":"arn:aws:iam::111122223333:role/*""#), Identity, &["PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"]),
            ("pass role with NotResource", allow(r#""Action":"iam:PassRole","NotResource":"arn:aws:iam::111122223333:role/admin""#), Identity, &["PASS_ROLE_WITH_NOT_RESOURCE"]),
            ("wildcard with NotResource", allow(r#""Action":"iam:Pass*","NotResource":"arn:aws:iam::111122223333:role/admin""#), Identity, &["PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE"]),
            ("NotAction on all resources", allow(r#""NotAction":"s3:*","Resource":"*""#), Identity, &["PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION"]),
            ("NotAction excluding iam", allow(r#""NotAction":"iam:*","Resource":"*""#), Identity, &[]),
            ("NotAction with NotResource", allow(r#""NotAction":"s3:*","NotResource":"arn:aws:s3:::b""#), Identity, &["PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE"]),
            ("deny pass role", identity(r#"{"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}"#), Identity, &[]),
            // conditions
            (
                "wildcard with StringEquals",
                with_condition(r#"{"StringEquals":{"aws:PrincipalTag/team":"eng*"}}"#),
                Identity,
                &["WILDCARD_WITHOUT_LIKE_OPERATOR"],
            ),
            ("wildcard with StringLike", with_condition(r#"{"StringLike":{"aws:PrincipalTag/team":"eng*"}}"#), Identity, &[]),
            ("escaped wildcard", with_condition(r#"{"StringEquals":{"aws:username":"a${*}"}}"#), Identity, &[]),
            ("null with qualifier", with_condition(r#"{"ForAnyValue:Null":{"aws:TagKeys":"true"}}"#), Identity, &["NULL_WITH_QUALIFIER"]),
            (
                "several booleans",
                with_condition(r#"{"Bool":{"aws:SecureTransport":["true","false"]}}"#),
                Identity,
                &["INVALID_CONDITION_MULTIPLE_BOOLEAN"],
            ),
            (
                "ForAllValues on a single-valued key",
                with_condition(r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc"}}"#),
                Identity,
                &["FORALLVALUES_WITH_SINGLE_VALUED_KEY"],
            ),
            (
                "ForAllValues on a multivalued key",
                with_condition(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#),
                Identity,
                &[],
            ),
            (
                "same key in two cases",
                with_condition(r#"{"StringEquals":{"aws:username":"a","AWS:UserName":"b"}}"#),
                Identity,
                &["DUPLICATE_KEYS_WITH_DIFFERENT_CASE"],
            ),
            ("key without service", with_condition(r#"{"IpAddress":{"SourceIp":"203.0.113.0/24"}}"#), Identity, &["INVALID_CONDITION_KEY_FORMAT"]),
            ("unknown global key", with_condition(r#"{"IpAddress":{"aws:SourceIpAddress":"203.0.113.0/24"}}"#), Identity, &["INVALID_GLOBAL_CONDITION_KEY"]),
            ("global keys in any case", with_condition(r#"{"StringEquals":{"AWS:PrincipalTAG/Team":"x","aws:requestedregion":"eu-west-1"}}"#), Identity, &[]),
            ("service and provider keys", with_condition(r#"{"StringEquals":{"s3:prefix":"x","token.actions.githubusercontent.com:sub":"repo:o/r:ref:refs/heads/main"}}"#), Identity, &[]),
            ("tag key missing", with_condition(r#"{"StringEquals":{"aws:ResourceTag/":"x"}}"#), Identity, &["MISSING_TAG_KEY_IN_CONDITION"]),
            ("deprecated key", with_condition(r#"{"ArnEquals":{"aws:ARN":"arn:aws:s3:::b"}}"#), Identity, &["DEPRECATED_GLOBAL_CONDITION_KEY"]),
            (
                "variable with a numeric operator",
                with_condition(r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"${aws:EpochTime}"}}"#),
                Identity,
                &["INVALID_VARIABLE_FOR_OPERATOR"],
            ),
            ("plain type mismatch", with_condition(r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"soon"}}"#), Identity, &["TYPE_MISMATCH_NUMBER"]),
            // variables
            ("variable in action", allow(r#""Action":"s3:${aws:username}","Resource":"*""#), Identity, &["VARIABLE_UNSUPPORTED_IN_ELEMENT"]),
            ("unclosed variable", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username/*""#), Identity, &["MISSING_BRACE_IN_VARIABLE"]),
            ("empty variable", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${ }/*""#), Identity, &["EMPTY_VARIABLE"]),
            ("space in variable", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws: username}/*""#), Identity, &["UNSUPPORTED_SPACE_IN_VARIABLE"]),
            ("unquoted default", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/team, none}/*""#), Identity, &["MISSING_QUOTE_IN_VARIABLE"]),
            ("quoted default", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/team, 'none'}/*""#), Identity, &[]),
            // actions and resources
            ("wildcard in service", allow(r#""Action":"s*:GetObject","Resource":"*""#), Identity, &["WILDCARD_IN_SERVICE_NAME"]),
            ("redundant action", allow(r#""Action":["s3:Get*","S3:GetObject","ec2:DescribeInstances"],"Resource":"*""#), Identity, &["REDUNDANT_ACTION"]),
            ("duplicate action", allow(r#""Action":["s3:GetObject","s3:GetObject"],"Resource":"*""#), Identity, &["REDUNDANT_ACTION"]),
            ("related but not redundant", allow(r#""Action":["s3:Get*","s3:*Object"],"Resource":"*""#), Identity, &[]),
            ("redundant resource", allow(r#""Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b/reports/*"]"#), Identity, &["REDUNDANT_RESOURCE"]),
            ("resource case matters", allow(r#""Action":"s3:GetObject","Resource":["arn:aws:s3:::b/A","arn:aws:s3:::b/a"]"#), Identity, &[]),
            ("too few arn fields", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3""#), Identity, &["MISSING_ARN_FIELD"]),
            ("empty arn resource", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::""#), Identity, &["MISSING_ARN_FIELD"]),
            ("unknown partition", allow(r#""Action":"s3:GetObject","Resource":"arn:amazon:s3:::b""#), Identity, &["INVALID_PARTITION"]),
            ("wildcard partition", allow(r#""Action":"s3:GetObject","Resource":"arn:aws*:s3:::b""#), Identity, &[]),
            ("capital service", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:S3:::b""#), Identity, &["INVALID_ARN_SERVICE_CASE"]),
            ("iam region", allow(r#""Action":"iam:GetRole","Resource":"arn:aws:iam:us-east-1:111122223333:role/x""#), Identity, &["ARN_REGION_NOT_ALLOWED"]),
            ("bad region", allow(r#""Action":"sqs:SendMessage","Resource":"arn:aws:sqs:useast1:111122223333:q""#), Identity, &["INVALID_ARN_REGION"]),
            ("short account", allow(r#""Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:12345:table/t""#), Identity, &["INVALID_ARN_ACCOUNT"]),
            ("account on a bucket", allow(r#""Action":"s3:GetObject","Resource":"arn:aws:s3::111122223333:b/*""#), Identity, &["ARN_ACCOUNT_NOT_ALLOWED"]),
            (
                "valid arn forms",
                allow(r#""Action":"s3:GetObject","Resource":["arn:aws:iam::aws:policy/ReadOnlyAccess","arn:aws:s3:us-west-2:111122223333:accesspoint/ap","arn:aws:ec2:*:*:instance/*","arn:aws-us-gov:sqs:us-gov-west-1:111122223333:q"]"#),
                Identity,
                &[],
            ),
            // addresses
            ("host bits set", with_condition(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.5/24"}}"#), Identity, &["IMPROVE_IP_RANGE"]),
            ("private source", with_condition(r#"{"IpAddress":{"aws:SourceIp":["10.1.0.0/16","203.0.113.0/24"]}}"#), Identity, &["PRIVATE_IP_ADDRESS"]),
            ("private excluded", with_condition(r#"{"NotIpAddress":{"aws:SourceIp":"192.168.1.1"}}"#), Identity, &["PRIVATE_NOT_IP_ADDRESS"]),
            ("mixed range", with_condition(r#"{"IpAddress":{"aws:SourceIp":"8.0.0.0/6"}}"#), Identity, &["PRIVATE_IP_ADDRESS_SUBSET"]),
            ("mixed range excluded", with_condition(r#"{"NotIpAddress":{"aws:SourceIp":"fc00::/6"}}"#), Identity, &["PRIVATE_NOT_IP_ADDRESS_SUBSET"]),
            ("private vpc source", with_condition(r#"{"IpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}"#), Identity, &[]),
            // sizes
            ("identity policy within quota", large_policy(100), Identity, &[]),
            ("identity policy over quota", large_policy(400), Identity, &["POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA"]),
            ("scp over quota", large_policy(350), ServiceControl, &["POLICY_SIZE_EXCEEDS_SCP_QUOTA"]),
        ];
        let mut failures = Vec::new();
        for (name, text, kind, expected) in &cases {
            let expected: BTreeSet<String> = expected.iter().map(|c| c.to_string()).collect();
            let actual = codes(text, *kind);
            if actual != expected {
                failures.push(format!("{name}: expected {expected:?}, got {actual:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn finding_json_matches_access_analyzer() {
        // The same layout as AWS's own `validate-policy` example: the Sid on line 5 after 12 spaces.
        let text = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Sid\": \"\",\n            \"Effect\": \"Allow\",\n            \"Action\": \"s3:GetObject\",\n            \"Resource\": \"arn:aws:s3:::reports/*\"\n        }\n    ]\n}";
        let findings = validate_policy(text, PolicyKind::Identity);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let json = serde_json::to_string(&findings[0]).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"findingDetails":"The `Sid` is an empty string. Give the statement a short name made of letters and digits, or remove the `Sid` element.","#,
                r#""findingType":"SUGGESTION","issueCode":"EMPTY_SID_VALUE","#,
                r#""learnMoreLink":"https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-suggestion-empty-sid-value","#,
                r#""locations":[{"path":[{"value":"Statement"},{"index":0},{"value":"Sid"}],"#,
                r#""span":{"start":{"line":5,"column":19,"offset":79},"end":{"line":5,"column":21,"offset":81}}}]}"#
            )
        );
        let back: Finding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, findings[0]);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        // `é` is two bytes in UTF-8 but one character for Access Analyzer.
        let text = identity(r#"{"Sid":"é","Effect":"Allow","Action":"s3:GetObject","Resource":[]}"#);
        let findings = validate_policy(&text, PolicyKind::Identity);
        let empty = findings
            .iter()
            .find(|f| f.issue_code == "EMPTY_ARRAY_RESOURCE")
            .unwrap();
        let byte_offset = text.find("[]}").unwrap();
        let span = empty.locations[0].span;
        assert_eq!(span.start.offset as usize, byte_offset - 1);
        assert_eq!(span.start.column, span.start.offset);
        assert_eq!(span.end.offset, span.start.offset + 2);
    }

    #[test]
    fn findings_are_sorted_and_point_at_the_element() {
        let text = "{\n\"Statement\": [\n {\"Sid\": \"\", \"Effect\": \"Allow\", \"Action\": [\"s3:*\", \"s3:GetObject\"], \"Resource\": \"*\"}\n]\n}";
        let findings = validate_policy(text, PolicyKind::Identity);
        let summary: Vec<(&str, u32, u32)> = findings
            .iter()
            .map(|f| {
                (
                    f.issue_code.as_str(),
                    f.locations[0].span.start.line,
                    f.locations[0].span.start.column,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("MISSING_VERSION", 1, 0),
                ("EMPTY_SID_VALUE", 3, 9),
                ("REDUNDANT_ACTION", 3, 51)
            ]
        );
        assert_eq!(
            findings[2].locations[0].path,
            vec![
                PathSegment::Value("Statement".into()),
                PathSegment::Index(0),
                PathSegment::Value("Action".into()),
                PathSegment::Index(1)
            ]
        );
    }

    #[test]
    fn pass_role_findings_point_at_action_and_resource() {
        let text = identity(r#"{"Effect":"Allow","Action":["s3:GetObject","iam:PassRole"],"Resource":"*"}"#);
        let findings = validate_policy(&text, PolicyKind::Identity);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let paths: Vec<String> = findings[0]
            .locations
            .iter()
            .map(|l| serde_json::to_string(&l.path).unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                r#"[{"value":"Statement"},{"index":0},{"value":"Action"},{"index":1}]"#,
                r#"[{"value":"Statement"},{"index":0},{"value":"Resource"}]"#
            ]
        );
    }

    #[test]
    fn refusals_keep_the_parser_location() {
        let text =
            "{\"Version\":\"2012-10-17\",\n\"Statement\":{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}}";
        let findings = validate_policy(text, PolicyKind::Identity);
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(
            (finding.finding_type, finding.issue_code.as_str()),
            (FindingType::Error, "INVALID_EFFECT")
        );
        assert!(
            finding.finding_details.contains("`allow`"),
            "{}",
            finding.finding_details
        );
        assert!(finding.finding_details.ends_with('.'));
        let location = &finding.locations[0];
        assert_eq!(
            location.path,
            vec![
                PathSegment::Value("Statement".into()),
                PathSegment::Value("Effect".into())
            ]
        );
        assert_eq!((location.span.start.line, location.span.start.column), (2, 22));

        let condition = identity(
            r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:RequestTag/a.b":[]}}}"#,
        );
        let findings = validate_policy(&condition, PolicyKind::Identity);
        assert_eq!(findings[0].issue_code, "EMPTY_ARRAY_CONDITION_FORALLVALUES");
        assert_eq!(
            findings[0].locations[0].path.last(),
            Some(&PathSegment::Value("aws:RequestTag/a.b".into()))
        );
        assert!(findings[0]
            .learn_more_link
            .ends_with("-suggestion-empty-array-condition-forallvalues"));
    }

    #[test]
    fn display_paths_read_back() {
        let path = parse_display_path("Statement[2].Condition.StringLike.aws:PrincipalTag/a.b[3]");
        assert_eq!(
            path,
            vec![
                PathSegment::Value("Statement".into()),
                PathSegment::Index(2),
                PathSegment::Value("Condition".into()),
                PathSegment::Value("StringLike".into()),
                PathSegment::Value("aws:PrincipalTag/a.b".into()),
                PathSegment::Index(3),
            ]
        );
        assert_eq!(parse_display_path(""), Vec::<PathSegment>::new());
        assert_eq!(parse_display_path("Principal.AWS").len(), 2);
    }

    #[test]
    fn policy_kinds_round_trip() {
        for kind in PolicyKind::ALL {
            assert_eq!(kind.to_string().parse::<PolicyKind>().unwrap(), kind);
        }
        let err = "identity".parse::<PolicyKind>().unwrap_err();
        assert!(err.to_string().contains("`identity`"), "{err}");
        assert_eq!(err.aws_code(), "InvalidInput");
    }

    #[test]
    fn finding_types_serialize_as_aws_names() {
        let all = [
            FindingType::Error,
            FindingType::SecurityWarning,
            FindingType::Warning,
            FindingType::Suggestion,
        ];
        for kind in all {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert_eq!(
            serde_json::to_string(&PathSegment::Substring { start: 4, length: 2 }).unwrap(),
            r#"{"substring":{"start":4,"length":2}}"#
        );
    }

    #[test]
    fn catalog_links_use_documented_sections() {
        let mut seen = BTreeSet::new();
        for issue in CATALOG {
            assert!(seen.insert(issue.code), "{} listed twice", issue.code);
        }
        assert!(learn_more_link("PASS_ROLE_WITH_STAR_IN_RESOURCE")
            .ends_with("#access-analyzer-reference-policy-checks-security-warning-pass-role-with-star-in-resource"));
        assert!(learn_more_link("MISSING_VERSION").ends_with("-general-warning-missing-version"));
        assert!(learn_more_link("DUPLICATE_KEY").ends_with("-error-duplicate-key"));
    }

    #[test]
    fn size_limits() {
        let parsed = parse_policy(&large_policy(400)).unwrap();
        assert!(parsed.source.length_without_whitespace > 6144);
        assert_eq!(check_size(&parsed, SizeLimit::RoleInline), Ok(()));
        let err = check_size(&parsed, SizeLimit::ManagedPolicy).unwrap_err();
        assert!(matches!(err, PolicyError::TooLarge { limit: 6144, .. }), "{err:?}");
        assert_eq!(err.aws_code(), "LimitExceeded");
        // White space does not count.
        let spaced = parse_policy(&large_policy(100).replace(',', " ,   ")).unwrap();
        assert_eq!(
            spaced.source.length_without_whitespace,
            parse_policy(&large_policy(100))
                .unwrap()
                .source
                .length_without_whitespace
        );
        assert_eq!(SizeLimit::UserInline.chars(), 2048);
    }

    #[test]
    fn pattern_coverage() {
        let c =
            |wide: &str, narrow: &str| covers(&wide.chars().collect::<Vec<_>>(), &narrow.chars().collect::<Vec<_>>());
        assert!(c("*", "s3:Get*"));
        assert!(c("s3:*", "s3:Get?bject"));
        assert!(c("s3:G*", "s3:Get*"));
        assert!(!c("s3:Get*", "s3:G*"));
        assert!(!c("s3:Get?", "s3:Get*"));
        assert!(c("a*b*c", "a-b-b-c"));
        assert!(!c("a*b", "a*c"));
        assert!(c("", ""));
    }
}
