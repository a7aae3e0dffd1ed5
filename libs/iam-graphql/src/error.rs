//! AWS error codes as GraphQL errors: the code in `extensions.code`, a message a person can act on.

use async_graphql::{Error, ErrorExtensions};
use iam_app::AppError;
use iam_types::ErrorCode;

/// A GraphQL error with AWS's code.
pub fn aws_error(code: ErrorCode, message: impl Into<String>) -> Error {
    let code = code.as_str();
    Error::new(message.into()).extend_with(|_, extensions| extensions.set("code", code))
}

/// The one conversion from use-case errors to GraphQL errors.
pub(crate) fn from_app(error: AppError) -> Error {
    aws_error(error.code, error.message)
}

/// An Organizations call's error, in Organizations' vocabulary (as its json door names it):
/// `AccessDeniedException`, `InvalidInputException`, ...; its own exceptions as they are.
pub(crate) fn from_org(error: AppError) -> Error {
    let code = match error.code {
        ErrorCode::AccessDenied => ErrorCode::AccessDeniedException,
        ErrorCode::ValidationError | ErrorCode::InvalidInput => ErrorCode::InvalidInputException,
        ErrorCode::MalformedPolicyDocument => ErrorCode::MalformedPolicyDocumentException,
        ErrorCode::LimitExceeded => ErrorCode::ConstraintViolationException,
        other => other,
    };
    aws_error(code, error.message)
}
