//! The domain's one error type: why a command was refused, with the AWS error code it maps to.

use iam_types::{ErrorCode, TypesError};

/// A refused command. Messages follow AWS's wording so the API can pass them through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// An entity with that name (or id) already exists.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The named entity does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// A policy document was refused.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// The entity is still in use.
    #[error("{0}")]
    DeleteConflict(String),
    /// A parameter broke its constraints (name, path, length, range).
    #[error("{0}")]
    Validation(String),
    /// A parameter is not valid for this request.
    #[error("{0}")]
    InvalidInput(String),
    /// An internal inconsistency, such as a pre-drawn id that is already taken; retry.
    #[error("{0}")]
    ServiceFailure(String),
    /// A password breaks the account's password policy.
    #[error("{0}")]
    PasswordPolicyViolation(String),
    /// An MFA code was refused (already used, or out of order).
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    /// AWS Organizations refused the change, with its exception.
    #[error("{1}")]
    Organizations(ErrorCode, String),
}

impl DomainError {
    /// The AWS error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::EntityAlreadyExists(_) => ErrorCode::EntityAlreadyExists,
            DomainError::NoSuchEntity(_) => ErrorCode::NoSuchEntity,
            DomainError::LimitExceeded(_) => ErrorCode::LimitExceeded,
            DomainError::MalformedPolicyDocument(_) => ErrorCode::MalformedPolicyDocument,
            DomainError::DeleteConflict(_) => ErrorCode::DeleteConflict,
            DomainError::Validation(_) => ErrorCode::ValidationError,
            DomainError::InvalidInput(_) => ErrorCode::InvalidInput,
            DomainError::ServiceFailure(_) => ErrorCode::ServiceFailure,
            DomainError::PasswordPolicyViolation(_) => ErrorCode::PasswordPolicyViolation,
            DomainError::InvalidAuthenticationCode(_) => ErrorCode::InvalidAuthenticationCode,
            DomainError::Organizations(code, _) => *code,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            DomainError::EntityAlreadyExists(m)
            | DomainError::NoSuchEntity(m)
            | DomainError::LimitExceeded(m)
            | DomainError::MalformedPolicyDocument(m)
            | DomainError::DeleteConflict(m)
            | DomainError::Validation(m)
            | DomainError::InvalidInput(m)
            | DomainError::ServiceFailure(m)
            | DomainError::PasswordPolicyViolation(m)
            | DomainError::InvalidAuthenticationCode(m)
            | DomainError::Organizations(_, m) => m,
        }
    }
}

impl From<TypesError> for DomainError {
    fn from(error: TypesError) -> Self {
        match error.code() {
            ErrorCode::LimitExceeded => DomainError::LimitExceeded(error.to_string()),
            ErrorCode::InvalidInput => DomainError::InvalidInput(error.to_string()),
            _ => DomainError::Validation(error.to_string()),
        }
    }
}
