//! The crate's one error type: why a policy document or a simulation request was refused.

use crate::span::Span;

/// A refused policy document or request, with where in the text the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a policy AWS would accept or that the engine could evaluate exactly.
    #[error("{message}{}", location_suffix(.path.as_deref(), .span.as_ref()))]
    Malformed {
        /// The IAM Access Analyzer issue code that names the problem, e.g. `INVALID_EFFECT`.
        code: &'static str,
        /// What is wrong, in lowercase prose; user input in backticks.
        message: String,
        /// JSON path of the offending element, e.g. `Statement[1].Condition.StringEquals`.
        path: Option<String>,
        /// Where in the text.
        span: Option<Span>,
    },
    /// The document is longer than AWS allows for its kind.
    #[error("policy document is {length} characters long (without white space); the limit for {kind} is {limit}")]
    TooLarge {
        /// The kind of policy whose limit applies.
        kind: &'static str,
        /// Characters without white space.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A request (for example a simulation) is invalid apart from its policies.
    #[error("{0}")]
    InvalidInput(String),
}

fn location_suffix(path: Option<&str>, span: Option<&Span>) -> String {
    match (path, span) {
        (Some(path), Some(span)) => format!(" (at `{path}`, line {}, column {})", span.start.line, span.start.column),
        (None, Some(span)) => format!(" (at line {}, column {})", span.start.line, span.start.column),
        (Some(path), None) => format!(" (at `{path}`)"),
        (None, None) => String::new(),
    }
}

impl PolicyError {
    /// The AWS error code this maps to at an API edge.
    pub fn aws_code(&self) -> &'static str {
        match self {
            PolicyError::Malformed { .. } => "MalformedPolicyDocument",
            PolicyError::TooLarge { .. } => "LimitExceeded",
            PolicyError::InvalidInput(_) => "InvalidInput",
        }
    }

    /// Where the problem is, when known.
    pub fn span(&self) -> Option<Span> {
        match self {
            PolicyError::Malformed { span, .. } => *span,
            _ => None,
        }
    }

    pub(crate) fn malformed(code: &'static str, message: impl Into<String>, path: &str, span: Option<Span>) -> Self {
        PolicyError::Malformed {
            code,
            message: message.into(),
            path: (!path.is_empty()).then(|| path.to_string()),
            span,
        }
    }
}
