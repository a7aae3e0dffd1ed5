//! Parsing AWS IAM JSON policy text into the [`Policy`] model, strictly.
//!
//! Anything AWS would refuse, or that the engine could not evaluate exactly, is an error naming
//! the element and its line and column: unknown elements, duplicate keys, wrong value types,
//! unknown condition operators, values an operator cannot compare, and so on.

use std::fmt;

use jsonc_parser::ast::{Array, Object, ObjectProp, Value as Node};
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};

use crate::condition::check_value;
use crate::error::PolicyError;
use crate::model::{
    ActionBlock, ConditionClause, ConditionOperator, Effect, Policy, PrincipalBlock, PrincipalSet, PrincipalType,
    ResourceBlock, Statement, Version,
};
use crate::span::{LineIndex, Span};

/// Deepest JSON nesting accepted. A policy needs 5 levels; the cap keeps hostile input from
/// exhausting the stack of the recursive JSON parser.
const MAX_DEPTH: usize = 32;
/// Longest text accepted before parsing; AWS's largest policy is 10,240 characters without
/// white space, so this leaves ample room for formatting.
const MAX_TEXT_BYTES: usize = 256 * 1024;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A JSON path such as `Statement[0].Condition.StringEquals`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonPath(pub Vec<PathElement>);

impl JsonPath {
    fn key(&self, key: &str) -> JsonPath {
        let mut path = self.clone();
        path.0.push(PathElement::Key(key.to_string()));
        path
    }

    fn index(&self, index: usize) -> JsonPath {
        let mut path = self.clone();
        path.0.push(PathElement::Index(index));
        path
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, element) in self.0.iter().enumerate() {
            match element {
                PathElement::Key(key) if i == 0 => write!(f, "{key}")?,
                PathElement::Key(key) => write!(f, ".{key}")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Where each element of a parsed document is in its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// The whole document.
    pub document: Span,
    /// Each statement object, in order.
    pub statements: Vec<Span>,
    /// Every element (keys' values and array items) by path, in document order.
    pub elements: Vec<(JsonPath, Span)>,
    /// Characters of the text that are not white space, which AWS's size limits count.
    pub length_without_whitespace: usize,
}

impl SourceMap {
    /// The span of an element, when the document has it.
    pub fn span_of(&self, path: &JsonPath) -> Option<Span> {
        self.elements.iter().find(|(p, _)| p == path).map(|(_, span)| *span)
    }
}

/// A policy with the positions of its parts in the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPolicy {
    /// The model.
    pub policy: Policy,
    /// Positions.
    pub source: SourceMap,
}

/// Parses a policy document.
pub fn parse_policy(text: &str) -> Result<ParsedPolicy, PolicyError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(PolicyError::malformed(
            "JSON_SYNTAX_ERROR",
            format!(
                "policy document is {} bytes long; at most {MAX_TEXT_BYTES} are accepted",
                text.len()
            ),
            "",
            None,
        ));
    }
    let lines = LineIndex::new(text);
    check_depth(text, &lines)?;
    let options = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let collect = CollectOptions {
        comments: CommentCollectionStrategy::Off,
        tokens: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &collect, &options).map_err(|e| {
        let range = e.range();
        PolicyError::malformed(
            "JSON_SYNTAX_ERROR",
            format!(
                "policy document is not valid JSON: {}",
                lowercase_first(&e.kind().to_string())
            ),
            "",
            Some(lines.span(range.start, range.end)),
        )
    })?;
    let Some(root) = parsed.value else {
        return Err(PolicyError::malformed(
            "JSON_SYNTAX_ERROR",
            "policy document is empty",
            "",
            None,
        ));
    };
    let mut parser = Parser {
        lines: &lines,
        source: SourceMap::default(),
    };
    let policy = parser.document(&root)?;
    parser.source.length_without_whitespace = text.chars().filter(|c| !c.is_whitespace()).count();
    Ok(ParsedPolicy {
        policy,
        source: parser.source,
    })
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn check_depth(text: &str, lines: &LineIndex<'_>) -> Result<(), PolicyError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (offset, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(PolicyError::malformed(
                        "JSON_SYNTAX_ERROR",
                        format!("policy document nests deeper than {MAX_DEPTH} levels"),
                        "",
                        Some(lines.span(offset, offset + 1)),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

struct Parser<'t> {
    lines: &'t LineIndex<'t>,
    source: SourceMap,
}

fn node_range(node: &Node<'_>) -> (usize, usize) {
    let range = match node {
        Node::StringLit(n) => n.range,
        Node::NumberLit(n) => n.range,
        Node::BooleanLit(n) => n.range,
        Node::Object(n) => n.range,
        Node::Array(n) => n.range,
        Node::NullKeyword(n) => n.range,
    };
    (range.start, range.end)
}

/// The `i`th value of a string-or-array element, with its path: errors point at the item itself.
fn item<'n, 'a>(node: &'n Node<'a>, path: &JsonPath, i: usize) -> (JsonPath, &'n Node<'a>) {
    match node {
        Node::Array(array) => match array.elements.get(i) {
            Some(element) => (path.index(i), element),
            None => (path.clone(), node),
        },
        _ => (path.clone(), node),
    }
}

fn type_name(node: &Node<'_>) -> &'static str {
    match node {
        Node::StringLit(_) => "a string",
        Node::NumberLit(_) => "a number",
        Node::BooleanLit(_) => "a boolean",
        Node::Object(_) => "an object",
        Node::Array(_) => "an array",
        Node::NullKeyword(_) => "null",
    }
}

impl Parser<'_> {
    fn span(&self, node: &Node<'_>) -> Span {
        let (start, end) = node_range(node);
        self.lines.span(start, end)
    }

    fn error(&self, code: &'static str, message: impl Into<String>, path: &JsonPath, node: &Node<'_>) -> PolicyError {
        PolicyError::malformed(code, message, &path.to_string(), Some(self.span(node)))
    }

    fn record(&mut self, path: &JsonPath, node: &Node<'_>) {
        let span = self.span(node);
        self.source.elements.push((path.clone(), span));
    }

    /// The object's properties, refusing duplicate keys (JSON parsers disagree on which would win).
    fn properties<'n, 'a>(&self, object: &'n Object<'a>, path: &JsonPath) -> Result<&'n [ObjectProp<'a>], PolicyError> {
        for (i, prop) in object.properties.iter().enumerate() {
            let name = prop.name.as_str();
            if object.properties[..i].iter().any(|p| p.name.as_str() == name) {
                return Err(self.error(
                    "DUPLICATE_KEY",
                    format!("duplicate key `{name}`"),
                    &path.key(name),
                    &prop.value,
                ));
            }
        }
        Ok(&object.properties)
    }

    fn string(&mut self, node: &Node<'_>, path: &JsonPath, what: &str) -> Result<String, PolicyError> {
        self.record(path, node);
        match node {
            Node::StringLit(s) => Ok(s.value.to_string()),
            other => Err(self.error(
                "DATA_TYPE_MISMATCH",
                format!("{what} must be a string, not {}", type_name(other)),
                path,
                other,
            )),
        }
    }

    /// A string or an array of strings, as AWS allows in most places.
    fn strings(&mut self, node: &Node<'_>, path: &JsonPath, what: &str) -> Result<Vec<String>, PolicyError> {
        self.record(path, node);
        match node {
            Node::StringLit(s) => Ok(vec![s.value.to_string()]),
            Node::Array(Array { elements, .. }) => elements
                .iter()
                .enumerate()
                .map(|(i, element)| self.string(element, &path.index(i), what))
                .collect(),
            other => Err(self.error(
                "DATA_TYPE_MISMATCH",
                format!(
                    "{what} must be a string or an array of strings, not {}",
                    type_name(other)
                ),
                path,
                other,
            )),
        }
    }

    fn document(&mut self, root: &Node<'_>) -> Result<Policy, PolicyError> {
        let top = JsonPath::default();
        self.source.document = self.span(root);
        let Node::Object(object) = root else {
            return Err(self.error(
                "DATA_TYPE_MISMATCH",
                "policy document must be a JSON object",
                &top,
                root,
            ));
        };
        let mut version = None;
        let mut id = None;
        let mut statement_node = None;
        for prop in self.properties(object, &top)? {
            let key = prop.name.as_str();
            let path = top.key(key);
            match key {
                "Version" => {
                    let text = self.string(&prop.value, &path, "`Version`")?;
                    version = Some(match text.as_str() {
                        "2012-10-17" => Version::V2012_10_17,
                        "2008-10-17" => Version::V2008_10_17,
                        other => {
                            return Err(self.error(
                                "INVALID_VERSION",
                                format!("`Version` must be `2012-10-17` or `2008-10-17`, not `{other}`"),
                                &path,
                                &prop.value,
                            ))
                        }
                    });
                }
                "Id" => id = Some(self.string(&prop.value, &path, "`Id`")?),
                "Statement" => statement_node = Some(&prop.value),
                other => {
                    return Err(self.error(
                        "INVALID_POLICY_ELEMENT",
                        format!("unknown element `{other}` in policy document"),
                        &path,
                        &prop.value,
                    ))
                }
            }
        }
        let Some(statement_node) = statement_node else {
            return Err(self.error(
                "MISSING_STATEMENT",
                "policy document must contain a `Statement` element",
                &top,
                root,
            ));
        };
        let path = top.key("Statement");
        self.record(&path, statement_node);
        let substitute = version.unwrap_or(Version::V2008_10_17).substitutes_variables();
        let statements = match statement_node {
            Node::Object(_) => vec![self.statement(statement_node, &path, substitute)?],
            Node::Array(array) => {
                if array.elements.is_empty() {
                    return Err(self.error(
                        "MISSING_STATEMENT",
                        "`Statement` must contain at least one statement",
                        &path,
                        statement_node,
                    ));
                }
                array
                    .elements
                    .iter()
                    .enumerate()
                    .map(|(i, element)| self.statement(element, &path.index(i), substitute))
                    .collect::<Result<Vec<_>, _>>()?
            }
            other => {
                return Err(self.error(
                    "DATA_TYPE_MISMATCH",
                    format!(
                        "`Statement` must be an object or an array of objects, not {}",
                        type_name(other)
                    ),
                    &path,
                    other,
                ))
            }
        };
        Ok(Policy {
            version,
            id,
            statements,
        })
    }

    fn statement(&mut self, node: &Node<'_>, path: &JsonPath, substitute: bool) -> Result<Statement, PolicyError> {
        self.record(path, node);
        let span = self.span(node);
        let Node::Object(object) = node else {
            return Err(self.error(
                "DATA_TYPE_MISMATCH",
                format!("a statement must be an object, not {}", type_name(node)),
                path,
                node,
            ));
        };
        let (mut sid, mut effect, mut principal, mut action, mut resource) = (None, None, None, None, None);
        let mut condition = Vec::new();
        for prop in self.properties(object, path)? {
            let key = prop.name.as_str();
            let at = path.key(key);
            let value = &prop.value;
            let conflict = |this: &Self, other: &str| {
                this.error(
                    "UNSUPPORTED_ELEMENT_COMBINATION",
                    format!("a statement cannot have both `{key}` and `{other}`"),
                    &at,
                    value,
                )
            };
            match key {
                "Sid" => sid = Some(self.string(value, &at, "`Sid`")?),
                "Effect" => {
                    effect = Some(match self.string(value, &at, "`Effect`")?.as_str() {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        other => {
                            return Err(self.error(
                                "INVALID_EFFECT",
                                format!("`Effect` must be `Allow` or `Deny`, not `{other}`"),
                                &at,
                                value,
                            ))
                        }
                    })
                }
                "Action" | "NotAction" => {
                    if action.is_some() {
                        return Err(conflict(self, if key == "Action" { "NotAction" } else { "Action" }));
                    }
                    let patterns = self.strings(value, &at, &format!("`{key}`"))?;
                    for (i, pattern) in patterns.iter().enumerate() {
                        if pattern != "*" && !valid_action(pattern) {
                            let (item_path, item_node) = item(value, &at, i);
                            return Err(self.error(
                                "INVALID_ACTION",
                                format!("action `{pattern}` must be `*` or `service:action`, e.g. `s3:GetObject`"),
                                &item_path,
                                item_node,
                            ));
                        }
                    }
                    action = Some(ActionBlock {
                        negated: key == "NotAction",
                        patterns,
                    });
                }
                "Resource" | "NotResource" => {
                    if resource.is_some() {
                        return Err(conflict(
                            self,
                            if key == "Resource" { "NotResource" } else { "Resource" },
                        ));
                    }
                    let patterns = self.strings(value, &at, &format!("`{key}`"))?;
                    for (i, pattern) in patterns.iter().enumerate() {
                        if pattern != "*" && !pattern.starts_with("arn:") {
                            let (item_path, item_node) = item(value, &at, i);
                            return Err(self.error(
                                "INVALID_ARN_PREFIX",
                                format!("resource `{pattern}` must be an ARN (`arn:...`) or `*`"),
                                &item_path,
                                item_node,
                            ));
                        }
                    }
                    resource = Some(ResourceBlock {
                        negated: key == "NotResource",
                        patterns,
                    });
                }
                "Principal" | "NotPrincipal" => {
                    if principal.is_some() {
                        return Err(conflict(
                            self,
                            if key == "Principal" {
                                "NotPrincipal"
                            } else {
                                "Principal"
                            },
                        ));
                    }
                    let principals = self.principal(value, &at)?;
                    principal = Some(PrincipalBlock {
                        negated: key == "NotPrincipal",
                        principals,
                    });
                }
                "Condition" => condition = self.condition(value, &at, substitute)?,
                other => {
                    return Err(self.error(
                        "INVALID_POLICY_ELEMENT",
                        format!("unknown element `{other}` in statement"),
                        &at,
                        value,
                    ))
                }
            }
        }
        let Some(effect) = effect else {
            return Err(PolicyError::malformed(
                "MISSING_EFFECT",
                "statement must have an `Effect`",
                &path.to_string(),
                Some(span),
            ));
        };
        let Some(action) = action else {
            return Err(PolicyError::malformed(
                "MISSING_ACTION",
                "statement must have an `Action` or `NotAction`",
                &path.to_string(),
                Some(span),
            ));
        };
        self.source.statements.push(span);
        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            condition,
        })
    }

    fn principal(&mut self, node: &Node<'_>, path: &JsonPath) -> Result<PrincipalSet, PolicyError> {
        self.record(path, node);
        match node {
            Node::StringLit(s) if s.value == "*" => Ok(PrincipalSet::Any),
            Node::Object(object) => {
                let mut entries = Vec::new();
                for prop in self.properties(object, path)? {
                    let key = prop.name.as_str();
                    let at = path.key(key);
                    let Some(kind) = PrincipalType::parse(key) else {
                        return Err(self.error(
                            "INVALID_PRINCIPAL_KEY",
                            format!(
                                "principal type `{key}` must be one of `AWS`, `Service`, `Federated`, `CanonicalUser`"
                            ),
                            &at,
                            &prop.value,
                        ));
                    };
                    let ids = self.strings(&prop.value, &at, &format!("`{key}` principal"))?;
                    for (i, id) in ids.iter().enumerate() {
                        if id.is_empty() || (id.contains('*') && id != "*") {
                            let (item_path, item_node) = item(&prop.value, &at, i);
                            return Err(self.error(
                                "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                                format!("principal `{id}` is not valid: wildcards are only allowed as `*` alone"),
                                &item_path,
                                item_node,
                            ));
                        }
                    }
                    entries.push((kind, ids));
                }
                if entries.is_empty() {
                    return Err(self.error(
                        "EMPTY_OBJECT_PRINCIPAL",
                        "`Principal` must name at least one principal",
                        path,
                        node,
                    ));
                }
                Ok(PrincipalSet::Typed(entries))
            }
            other => Err(self.error(
                "INVALID_PRINCIPAL_FORMAT",
                format!(
                    "`Principal` must be `\"*\"` or an object such as {{\"AWS\": ...}}, not {}",
                    type_name(other)
                ),
                path,
                other,
            )),
        }
    }

    fn condition(
        &mut self,
        node: &Node<'_>,
        path: &JsonPath,
        substitute: bool,
    ) -> Result<Vec<ConditionClause>, PolicyError> {
        self.record(path, node);
        let Node::Object(object) = node else {
            return Err(self.error(
                "DATA_TYPE_MISMATCH",
                format!("`Condition` must be an object, not {}", type_name(node)),
                path,
                node,
            ));
        };
        let mut clauses = Vec::new();
        for prop in self.properties(object, path)? {
            let name = prop.name.as_str();
            let at = path.key(name);
            self.record(&at, &prop.value);
            let operator: ConditionOperator = name.parse().map_err(|_| {
                let unqualified = name
                    .strip_prefix("ForAllValues:")
                    .or_else(|| name.strip_prefix("ForAnyValue:"))
                    .unwrap_or(name);
                if unqualified == "NullIfExists" {
                    self.error(
                        "NULL_WITH_IF_EXISTS",
                        format!("`{name}` is not an operator: `Null` already tests whether the key exists"),
                        &at,
                        &prop.value,
                    )
                } else {
                    self.error(
                        "INVALID_CONDITION_OPERATOR",
                        format!("unknown condition operator `{name}`"),
                        &at,
                        &prop.value,
                    )
                }
            })?;
            let Node::Object(keys) = &prop.value else {
                return Err(self.error(
                    "DATA_TYPE_MISMATCH",
                    format!("condition operator `{name}` must map condition keys to values"),
                    &at,
                    &prop.value,
                ));
            };
            if keys.properties.is_empty() {
                return Err(self.error(
                    "EMPTY_OBJECT_CONDITION",
                    format!("condition operator `{name}` names no condition key"),
                    &at,
                    &prop.value,
                ));
            }
            for key_prop in self.properties(keys, &at)? {
                let key = key_prop.name.as_str();
                let key_path = at.key(key);
                if key.is_empty() {
                    return Err(self.error(
                        "INVALID_CONDITION_KEY_FORMAT",
                        "condition key must not be empty",
                        &key_path,
                        &key_prop.value,
                    ));
                }
                let values = self.condition_values(&key_prop.value, &key_path)?;
                if values.is_empty() {
                    return Err(self.error(
                        "EMPTY_ARRAY_CONDITION",
                        format!("condition key `{key}` has no values"),
                        &key_path,
                        &key_prop.value,
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    let (value_path, value_node) = item(&key_prop.value, &key_path, i);
                    if substitute && !operator.base.supports_variables() && value.contains("${") {
                        return Err(self.error(
                            "INVALID_VARIABLE_FOR_OPERATOR",
                            format!(
                                "`{value}`: policy variables can only be used with string and ARN operators, not `{}`",
                                operator.base.as_str()
                            ),
                            &value_path,
                            value_node,
                        ));
                    }
                    // Variables are substituted at evaluation; only literal text can be checked here.
                    let checkable = !(substitute && operator.base.supports_variables());
                    if checkable || !value.contains("${") {
                        check_value(operator.base, value)
                            .map_err(|(code, m)| self.error(code, m, &value_path, value_node))?;
                    }
                }
                clauses.push(ConditionClause {
                    operator,
                    key: key.to_string(),
                    values,
                });
            }
        }
        Ok(clauses)
    }

    /// Condition values may be strings, numbers or booleans (AWS compares their text).
    fn condition_values(&mut self, node: &Node<'_>, path: &JsonPath) -> Result<Vec<String>, PolicyError> {
        self.record(path, node);
        let scalar = |this: &Self, node: &Node<'_>, path: &JsonPath| match node {
            Node::StringLit(s) => Ok(s.value.to_string()),
            Node::NumberLit(n) => Ok(n.value.to_string()),
            Node::BooleanLit(b) => Ok(b.value.to_string()),
            other => Err(this.error(
                "DATA_TYPE_MISMATCH",
                format!(
                    "condition values must be strings, numbers or booleans, not {}",
                    type_name(other)
                ),
                path,
                other,
            )),
        };
        match node {
            Node::Array(array) => array
                .elements
                .iter()
                .enumerate()
                .map(|(i, element)| {
                    let at = path.index(i);
                    self.record(&at, element);
                    scalar(self, element, &at)
                })
                .collect(),
            other => Ok(vec![scalar(self, other, path)?]),
        }
    }
}

/// `service:action`, where the service prefix is lowercase letters, digits and dashes and the
/// action is letters, digits and wildcards. Wildcards may stand in either part.
fn valid_action(pattern: &str) -> bool {
    let Some((service, action)) = pattern.split_once(':') else {
        return false;
    };
    let service_ok = !service.is_empty() && service.chars().all(|c| c.is_ascii_alphanumeric() || "-*?".contains(c));
    let action_ok = !action.is_empty() && action.chars().all(|c| c.is_ascii_alphanumeric() || "-_*?".contains(c));
    service_ok && action_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> PolicyError {
        parse_policy(text).expect_err("must be refused")
    }

    #[test]
    fn single_statement_and_single_values() {
        let parsed = parse_policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.policy.statements.len(), 1);
        assert_eq!(parsed.policy.statements[0].action.patterns, vec!["s3:GetObject"]);
        assert_eq!(parsed.source.statements[0].start.column, 37);
    }

    #[test]
    fn refusals_name_the_place() {
        let err = error_of(
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"allow\", \"Action\": \"*\"}]\n}",
        );
        let text = err.to_string();
        assert!(
            text.contains("`Effect` must be `Allow` or `Deny`, not `allow`"),
            "{text}"
        );
        assert!(text.contains("line 3"), "{text}");
        assert!(error_of(r#"{"Statement":[{"Effect":"Allow","Action":"*","Bogus":1}]}"#)
            .to_string()
            .contains("`Bogus`"));
        assert!(
            error_of(r#"{"Statement":[{"Effect":"Allow","Action":"*","Action":"*"}]}"#)
                .to_string()
                .contains("duplicate")
        );
        assert!(error_of(r#"{"Statement":[{"Effect":"Allow","Action":"s3"}]}"#)
            .to_string()
            .contains("`s3`"));
        assert!(
            error_of(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"bucket"}]}"#)
                .to_string()
                .contains("ARN")
        );
        assert!(
            error_of(r#"{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#)
                .to_string()
                .contains("`StringEqualz`")
        );
        assert!(
            error_of(r#"{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"NumericEquals":{"a":"x"}}}]}"#)
                .to_string()
                .contains("not a number")
        );
        assert!(error_of(r#"{"Statement":[]}"#).to_string().contains("at least one"));
        assert!(error_of("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}],}")
            .to_string()
            .contains("JSON"));
        assert!(error_of(&"[".repeat(10_000)).to_string().contains("nests deeper"));
    }

    #[test]
    fn print_then_parse_is_identity() {
        let text = r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"NotAction":["s3:*","iam:Get*"],"NotResource":"arn:aws:s3:::b/*","Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},"NumericLessThan":{"s3:max-keys":10}}}]}"#;
        let first = parse_policy(text).unwrap().policy;
        let second = parse_policy(&first.to_string()).unwrap().policy;
        assert_eq!(first, second);
    }
}
