//! The policy document model: what a parsed AWS IAM JSON policy says, without source positions.
//!
//! Two documents that differ only in layout (white space, a single value versus a one-element
//! array, a single statement object versus an array) have equal models.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

/// The policy language version. It decides whether `${...}` policy variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: the current language; policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: the original language; `${...}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version string as it appears in a document.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }

    /// Whether `${...}` in resources and condition values is a policy variable.
    pub fn substitutes_variables(self) -> bool {
        self == Version::V2012_10_17
    }
}

/// A whole policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Version`; `None` when the document omits it (AWS then uses 2008-10-17).
    pub version: Option<Version>,
    /// `Id`.
    pub id: Option<String>,
    /// `Statement`, in document order.
    pub statements: Vec<Statement>,
}

impl Policy {
    /// The version that governs evaluation: 2008-10-17 when the document names none.
    pub fn effective_version(&self) -> Version {
        self.version.unwrap_or(Version::V2008_10_17)
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

impl Effect {
    /// The effect as it appears in a document.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`; only resource-based and trust policies have one.
    pub principal: Option<PrincipalBlock>,
    /// `Action` or `NotAction`.
    pub action: ActionBlock,
    /// `Resource` or `NotResource`; trust policies have none.
    pub resource: Option<ResourceBlock>,
    /// `Condition`, flattened to one clause per operator and key, in document order.
    pub condition: Vec<ConditionClause>,
}

/// `Action` (`negated == false`) or `NotAction` (`negated == true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionBlock {
    /// True for `NotAction`.
    pub negated: bool,
    /// Action patterns such as `s3:Get*` or `*`.
    pub patterns: Vec<String>,
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceBlock {
    /// True for `NotResource`.
    pub negated: bool,
    /// Resource ARN patterns or `*`.
    pub patterns: Vec<String>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalBlock {
    /// True for `NotPrincipal`.
    pub negated: bool,
    /// Who is named.
    pub principals: PrincipalSet,
}

/// What a `Principal` element names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSet {
    /// `"Principal": "*"`: everyone, including anonymous callers.
    Any,
    /// `"Principal": {"AWS": [...], "Service": [...], ...}`, in document order.
    Typed(Vec<(PrincipalType, Vec<String>)>),
}

/// The keys of a typed `Principal` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, role sessions, federated users, or `*`.
    Aws,
    /// `Service`: service principals such as `ec2.amazonaws.com`.
    Service,
    /// `Federated`: identity providers (OIDC or SAML).
    Federated,
    /// `CanonicalUser`: S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalType {
    /// The key as it appears in a document.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }

    /// Parses a key, case-sensitively as AWS does.
    pub fn parse(key: &str) -> Option<Self> {
        Some(match key {
            "AWS" => PrincipalType::Aws,
            "Service" => PrincipalType::Service,
            "Federated" => PrincipalType::Federated,
            "CanonicalUser" => PrincipalType::CanonicalUser,
            _ => return None,
        })
    }
}

/// One `"Operator": {"key": [values]}` pair of a `Condition` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionClause {
    /// The operator with its set qualifier and `IfExists` suffix.
    pub operator: ConditionOperator,
    /// The condition key as written (keys compare case-insensitively).
    pub key: String,
    /// The values as text; several values are alternatives.
    pub values: Vec<String>,
}

/// A condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    /// `ForAllValues:` or `ForAnyValue:`.
    pub qualifier: Option<SetQualifier>,
    /// The operator proper.
    pub base: BaseOperator,
    /// The `IfExists` suffix.
    pub if_exists: bool,
}

/// The set qualifiers for multivalued context keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// `ForAllValues:`: every request value must match (true when the key is absent or empty).
    ForAllValues,
    /// `ForAnyValue:`: at least one request value must match (false when the key is absent).
    ForAnyValue,
}

/// The family of values an operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorFamily {
    /// String operators.
    String,
    /// Numeric operators.
    Numeric,
    /// Date operators.
    Date,
    /// `Bool`.
    Bool,
    /// `BinaryEquals`.
    Binary,
    /// `IpAddress` and `NotIpAddress`.
    Ip,
    /// ARN operators.
    Arn,
    /// `Null`.
    Null,
}

macro_rules! base_operators {
    ($($variant:ident => $family:ident, negated: $negated:literal;)*) => {
        /// Every AWS condition operator, without qualifier or `IfExists`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum BaseOperator { $($variant,)* }

        impl BaseOperator {
            /// Every operator, for tables and tests.
            pub const ALL: &'static [BaseOperator] = &[$(BaseOperator::$variant,)*];

            /// The operator's name as written in a policy.
            pub fn as_str(self) -> &'static str {
                match self { $(BaseOperator::$variant => stringify!($variant),)* }
            }

            /// The kind of values it compares.
            pub fn family(self) -> OperatorFamily {
                match self { $(BaseOperator::$variant => OperatorFamily::$family,)* }
            }

            /// Negated operators (`StringNotEquals`, `NotIpAddress`, ...) are true when no value matches,
            /// and true when the key is absent.
            pub fn is_negated(self) -> bool {
                match self { $(BaseOperator::$variant => $negated,)* }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($variant) => Some(BaseOperator::$variant),)* _ => None }
            }
        }
    };
}

base_operators! {
    StringEquals => String, negated: false;
    StringNotEquals => String, negated: true;
    StringEqualsIgnoreCase => String, negated: false;
    StringNotEqualsIgnoreCase => String, negated: true;
    StringLike => String, negated: false;
    StringNotLike => String, negated: true;
    NumericEquals => Numeric, negated: false;
    NumericNotEquals => Numeric, negated: true;
    NumericLessThan => Numeric, negated: false;
    NumericLessThanEquals => Numeric, negated: false;
    NumericGreaterThan => Numeric, negated: false;
    NumericGreaterThanEquals => Numeric, negated: false;
    DateEquals => Date, negated: false;
    DateNotEquals => Date, negated: true;
    DateLessThan => Date, negated: false;
    DateLessThanEquals => Date, negated: false;
    DateGreaterThan => Date, negated: false;
    DateGreaterThanEquals => Date, negated: false;
    Bool => Bool, negated: false;
    BinaryEquals => Binary, negated: false;
    IpAddress => Ip, negated: false;
    NotIpAddress => Ip, negated: true;
    ArnEquals => Arn, negated: false;
    ArnLike => Arn, negated: false;
    ArnNotEquals => Arn, negated: true;
    ArnNotLike => Arn, negated: true;
    Null => Null, negated: false;
}

impl BaseOperator {
    /// Whether values of this operator may contain policy variables (string and ARN operators).
    pub fn supports_variables(self) -> bool {
        matches!(self.family(), OperatorFamily::String | OperatorFamily::Arn)
    }
}

/// Why a condition operator name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOperator(pub String);

impl FromStr for ConditionOperator {
    type Err = UnknownOperator;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownOperator(name.to_string());
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (base_name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let base = BaseOperator::from_name(base_name).ok_or_else(unknown)?;
        // `NullIfExists` has no meaning in AWS's language.
        if base == BaseOperator::Null && if_exists {
            return Err(unknown());
        }
        Ok(ConditionOperator {
            qualifier,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.as_str())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

// ---- printing -------------------------------------------------------------------------------

fn one_or_many(values: &[String]) -> Value {
    match values {
        [single] => Value::String(single.clone()),
        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
    }
}

impl Policy {
    /// The document as JSON, in AWS's canonical element order.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        if let Some(version) = self.version {
            doc.insert("Version".into(), json!(version.as_str()));
        }
        if let Some(id) = &self.id {
            doc.insert("Id".into(), json!(id));
        }
        doc.insert(
            "Statement".into(),
            Value::Array(self.statements.iter().map(Statement::to_json).collect()),
        );
        Value::Object(doc)
    }
}

impl fmt::Display for Policy {
    /// Compact JSON text of the document.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Statement {
    /// The statement as JSON.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(sid) = &self.sid {
            out.insert("Sid".into(), json!(sid));
        }
        out.insert("Effect".into(), json!(self.effect.as_str()));
        if let Some(principal) = &self.principal {
            let key = if principal.negated { "NotPrincipal" } else { "Principal" };
            let value = match &principal.principals {
                PrincipalSet::Any => json!("*"),
                PrincipalSet::Typed(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(kind, ids)| (kind.as_str().to_string(), one_or_many(ids)))
                        .collect(),
                ),
            };
            out.insert(key.into(), value);
        }
        let action_key = if self.action.negated { "NotAction" } else { "Action" };
        out.insert(action_key.into(), one_or_many(&self.action.patterns));
        if let Some(resource) = &self.resource {
            let key = if resource.negated { "NotResource" } else { "Resource" };
            out.insert(key.into(), one_or_many(&resource.patterns));
        }
        if !self.condition.is_empty() {
            let mut by_operator: Map<String, Value> = Map::new();
            for clause in &self.condition {
                let keys = by_operator
                    .entry(clause.operator.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(keys) = keys {
                    keys.insert(clause.key.clone(), one_or_many(&clause.values));
                }
            }
            out.insert("Condition".into(), Value::Object(by_operator));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for base in BaseOperator::ALL {
            for qualifier in [None, Some(SetQualifier::ForAllValues), Some(SetQualifier::ForAnyValue)] {
                for if_exists in [false, true] {
                    let op = ConditionOperator {
                        qualifier,
                        base: *base,
                        if_exists,
                    };
                    let text = op.to_string();
                    let parsed = text.parse::<ConditionOperator>();
                    if *base == BaseOperator::Null && if_exists {
                        assert!(parsed.is_err(), "{text} must be refused");
                    } else {
                        assert_eq!(parsed, Ok(op), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn operator_names_are_case_sensitive() {
        assert!("stringequals".parse::<ConditionOperator>().is_err());
        assert!("StringEqualsIfexists".parse::<ConditionOperator>().is_err());
        assert!("ForAnyValues:StringEquals".parse::<ConditionOperator>().is_err());
    }
}
