//! AWS IAM policy language for Gatehouse: parse, validate, compile and evaluate policy documents
//! with AWS's semantics.
//!
//! The crate is pure: no I/O, no async, no clock, no global state. Time and request facts arrive
//! in the [`Context`]; decisions are values ([`Decision`]) that name the statements they rest on.
//!
//! ```
//! use iam_policy::{parse_policy, evaluate, Caller, Context, Policies, PolicySet, PolicySource, PolicyType, Request};
//!
//! let parsed = parse_policy(r#"{"Version":"2012-10-17","Statement":[
//!     {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#).unwrap();
//! let set = PolicySet::compile([(PolicySource::new("reports-read", PolicyType::UserManaged), &parsed)]).unwrap();
//! let caller = Caller::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
//! let context = Context::new();
//! let request = Request {
//!     caller: &caller, action: "s3:GetObject", resource: "arn:aws:s3:::reports/q3.csv",
//!     resource_account: None, context: &context,
//! };
//! let decision = evaluate(&Policies { identity: Some(&set), ..Policies::default() }, &request);
//! assert!(decision.is_allowed());
//! ```

mod compile;
mod condition;
mod context;
mod error;
mod evaluate;
mod levels;
mod model;
mod parse;
mod pattern;
pub mod simulate;
mod span;
pub mod validate;

pub use compile::{PolicySet, PolicySource, PolicyType};
pub use context::{Caller, Context, ContextValue, OrgKeys, PrincipalKind};
pub use error::PolicyError;
pub use evaluate::{
    evaluate, evaluate_guardrails, missing_context_keys, Decision, DecisionDetails, DecisionEffect, MatchedStatement,
    Policies, PolicySlot, Request, SharedStatements,
};
pub use levels::{OrgLevels, PathCache};
pub use model::{
    ActionBlock, BaseOperator, ConditionClause, ConditionOperator, Effect, OperatorFamily, Policy, PrincipalBlock,
    PrincipalSet, PrincipalType, ResourceBlock, SetQualifier, Statement, Version,
};
pub use parse::{parse_policy, JsonPath, ParsedPolicy, PathElement, SourceMap};
pub use span::{Position, Span};
