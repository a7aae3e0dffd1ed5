//! AWS error codes (the closed set the API returns) and this crate's parse error.

use std::fmt;

/// The AWS error codes Gatehouse returns, with their HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorCode {
    /// An entity with that name already exists.
    EntityAlreadyExists,
    /// The entity does not exist.
    NoSuchEntity,
    /// A quota would be exceeded.
    LimitExceeded,
    /// A policy document is not valid.
    MalformedPolicyDocument,
    /// The entity is still in use.
    DeleteConflict,
    /// A parameter does not satisfy its constraints.
    ValidationError,
    /// A parameter value is not valid for this request.
    InvalidInput,
    /// The caller may not perform the action.
    AccessDenied,
    /// A concurrent change won; retry.
    ConcurrentModification,
    /// An internal failure.
    ServiceFailure,
    /// The access key id is unknown.
    InvalidClientTokenId,
    /// The request signature does not match.
    SignatureDoesNotMatch,
    /// The request signature is incomplete.
    IncompleteSignature,
    /// The request is too old or too far in the future.
    RequestExpired,
    /// Too many requests.
    Throttling,
    /// A password does not satisfy the account's password policy, or repeats a recent one.
    PasswordPolicyViolation,
    /// An MFA code is wrong, outside its time window, or already used.
    InvalidAuthenticationCode,
    /// STS: a web identity token that does not verify (signature, issuer, audience, shape).
    InvalidIdentityToken,
    /// STS: a web identity token past its expiry.
    ExpiredTokenException,
    /// STS: the identity provider could not be reached for its keys.
    IdpCommunicationError,
    /// STS: the identity provider rejected a claim.
    IdpRejectedClaim,
    /// A parameter value is not supported.
    InvalidParameterValue,
    /// `GetCredentialReport` before any `GenerateCredentialReport`.
    ReportNotPresent,
    /// `GetCredentialReport` of a report older than four hours.
    ReportExpired,
    /// STS: an encoded authorization message that does not decode (damaged, or another account's).
    InvalidAuthorizationMessageException,
    /// Organizations: `AccessDeniedException`.
    AccessDeniedException,
    /// Organizations: `AWSOrganizationsNotInUseException`.
    AwsOrganizationsNotInUseException,
    /// Organizations: `AlreadyInOrganizationException`.
    AlreadyInOrganizationException,
    /// Organizations: `AccountNotFoundException`.
    AccountNotFoundException,
    /// Organizations: `AccountAlreadyClosedException`.
    AccountAlreadyClosedException,
    /// Organizations: `AccountAlreadyRegisteredException`.
    AccountAlreadyRegisteredException,
    /// Organizations: `AccountNotRegisteredException`.
    AccountNotRegisteredException,
    /// Organizations: `ChildNotFoundException`.
    ChildNotFoundException,
    /// Organizations: `CreateAccountStatusNotFoundException`.
    CreateAccountStatusNotFoundException,
    /// Organizations: `ConstraintViolationException`.
    ConstraintViolationException,
    /// Organizations: `DestinationParentNotFoundException`.
    DestinationParentNotFoundException,
    /// Organizations: `DuplicateAccountException`.
    DuplicateAccountException,
    /// Organizations: `DuplicateHandshakeException`.
    DuplicateHandshakeException,
    /// Organizations: `DuplicateOrganizationalUnitException`.
    DuplicateOrganizationalUnitException,
    /// Organizations: `DuplicatePolicyAttachmentException`.
    DuplicatePolicyAttachmentException,
    /// Organizations: `DuplicatePolicyException`.
    DuplicatePolicyException,
    /// Organizations: `HandshakeConstraintViolationException`.
    HandshakeConstraintViolationException,
    /// Organizations: `HandshakeNotFoundException`.
    HandshakeNotFoundException,
    /// Organizations: `InvalidHandshakeTransitionException`.
    InvalidHandshakeTransitionException,
    /// Organizations: `InvalidInputException`.
    InvalidInputException,
    /// Organizations: `MalformedPolicyDocumentException`.
    MalformedPolicyDocumentException,
    /// Organizations: `OrganizationNotEmptyException`.
    OrganizationNotEmptyException,
    /// Organizations: `OrganizationalUnitNotEmptyException`.
    OrganizationalUnitNotEmptyException,
    /// Organizations: `OrganizationalUnitNotFoundException`.
    OrganizationalUnitNotFoundException,
    /// Organizations: `ParentNotFoundException`.
    ParentNotFoundException,
    /// Organizations: `PolicyChangesNotAllowedOnAWSManagedPolicyException`.
    PolicyChangesNotAllowedOnAwsManagedPolicyException,
    /// Organizations: `PolicyInUseException`.
    PolicyInUseException,
    /// Organizations: `PolicyNotAttachedException`.
    PolicyNotAttachedException,
    /// Organizations: `PolicyNotFoundException`.
    PolicyNotFoundException,
    /// Organizations: `PolicyTypeAlreadyEnabledException`.
    PolicyTypeAlreadyEnabledException,
    /// Organizations: `PolicyTypeNotEnabledException`.
    PolicyTypeNotEnabledException,
    /// Organizations: `RootNotFoundException`.
    RootNotFoundException,
    /// Organizations: `SourceParentNotFoundException`.
    SourceParentNotFoundException,
    /// Organizations: `TargetNotFoundException`.
    TargetNotFoundException,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 59] = [
        ErrorCode::EntityAlreadyExists,
        ErrorCode::NoSuchEntity,
        ErrorCode::LimitExceeded,
        ErrorCode::MalformedPolicyDocument,
        ErrorCode::DeleteConflict,
        ErrorCode::ValidationError,
        ErrorCode::InvalidInput,
        ErrorCode::AccessDenied,
        ErrorCode::ConcurrentModification,
        ErrorCode::ServiceFailure,
        ErrorCode::InvalidClientTokenId,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::IncompleteSignature,
        ErrorCode::RequestExpired,
        ErrorCode::Throttling,
        ErrorCode::PasswordPolicyViolation,
        ErrorCode::InvalidAuthenticationCode,
        ErrorCode::InvalidIdentityToken,
        ErrorCode::ExpiredTokenException,
        ErrorCode::IdpCommunicationError,
        ErrorCode::IdpRejectedClaim,
        ErrorCode::InvalidParameterValue,
        ErrorCode::ReportNotPresent,
        ErrorCode::ReportExpired,
        ErrorCode::InvalidAuthorizationMessageException,
        ErrorCode::AccessDeniedException,
        ErrorCode::AwsOrganizationsNotInUseException,
        ErrorCode::AlreadyInOrganizationException,
        ErrorCode::AccountNotFoundException,
        ErrorCode::AccountAlreadyClosedException,
        ErrorCode::AccountAlreadyRegisteredException,
        ErrorCode::AccountNotRegisteredException,
        ErrorCode::ChildNotFoundException,
        ErrorCode::CreateAccountStatusNotFoundException,
        ErrorCode::ConstraintViolationException,
        ErrorCode::DestinationParentNotFoundException,
        ErrorCode::DuplicateAccountException,
        ErrorCode::DuplicateHandshakeException,
        ErrorCode::DuplicateOrganizationalUnitException,
        ErrorCode::DuplicatePolicyAttachmentException,
        ErrorCode::DuplicatePolicyException,
        ErrorCode::HandshakeConstraintViolationException,
        ErrorCode::HandshakeNotFoundException,
        ErrorCode::InvalidHandshakeTransitionException,
        ErrorCode::InvalidInputException,
        ErrorCode::MalformedPolicyDocumentException,
        ErrorCode::OrganizationNotEmptyException,
        ErrorCode::OrganizationalUnitNotEmptyException,
        ErrorCode::OrganizationalUnitNotFoundException,
        ErrorCode::ParentNotFoundException,
        ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException,
        ErrorCode::PolicyInUseException,
        ErrorCode::PolicyNotAttachedException,
        ErrorCode::PolicyNotFoundException,
        ErrorCode::PolicyTypeAlreadyEnabledException,
        ErrorCode::PolicyTypeNotEnabledException,
        ErrorCode::RootNotFoundException,
        ErrorCode::SourceParentNotFoundException,
        ErrorCode::TargetNotFoundException,
    ];

    /// The code as AWS spells it in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::EntityAlreadyExists => "EntityAlreadyExists",
            ErrorCode::NoSuchEntity => "NoSuchEntity",
            ErrorCode::LimitExceeded => "LimitExceeded",
            ErrorCode::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorCode::DeleteConflict => "DeleteConflict",
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::InvalidInput => "InvalidInput",
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::ConcurrentModification => "ConcurrentModification",
            ErrorCode::ServiceFailure => "ServiceFailure",
            ErrorCode::InvalidClientTokenId => "InvalidClientTokenId",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::IncompleteSignature => "IncompleteSignature",
            ErrorCode::RequestExpired => "RequestExpired",
            ErrorCode::Throttling => "Throttling",
            ErrorCode::PasswordPolicyViolation => "PasswordPolicyViolation",
            ErrorCode::InvalidAuthenticationCode => "InvalidAuthenticationCode",
            ErrorCode::InvalidIdentityToken => "InvalidIdentityToken",
            ErrorCode::ExpiredTokenException => "ExpiredTokenException",
            ErrorCode::IdpCommunicationError => "IDPCommunicationError",
            ErrorCode::IdpRejectedClaim => "IDPRejectedClaim",
            ErrorCode::InvalidParameterValue => "InvalidParameterValue",
            ErrorCode::ReportNotPresent => "ReportNotPresent",
            ErrorCode::ReportExpired => "ReportExpired",
            ErrorCode::InvalidAuthorizationMessageException => "InvalidAuthorizationMessageException",
            ErrorCode::AccessDeniedException => "AccessDeniedException",
            ErrorCode::AwsOrganizationsNotInUseException => "AWSOrganizationsNotInUseException",
            ErrorCode::AlreadyInOrganizationException => "AlreadyInOrganizationException",
            ErrorCode::AccountNotFoundException => "AccountNotFoundException",
            ErrorCode::AccountAlreadyClosedException => "AccountAlreadyClosedException",
            ErrorCode::AccountAlreadyRegisteredException => "AccountAlreadyRegisteredException",
            ErrorCode::AccountNotRegisteredException => "AccountNotRegisteredException",
            ErrorCode::ChildNotFoundException => "ChildNotFoundException",
            ErrorCode::CreateAccountStatusNotFoundException => "CreateAccountStatusNotFoundException",
            ErrorCode::ConstraintViolationException => "ConstraintViolationException",
            ErrorCode::DestinationParentNotFoundException => "DestinationParentNotFoundException",
            ErrorCode::DuplicateAccountException => "DuplicateAccountException",
            ErrorCode::DuplicateHandshakeException => "DuplicateHandshakeException",
            ErrorCode::DuplicateOrganizationalUnitException => "DuplicateOrganizationalUnitException",
            ErrorCode::DuplicatePolicyAttachmentException => "DuplicatePolicyAttachmentException",
            ErrorCode::DuplicatePolicyException => "DuplicatePolicyException",
            ErrorCode::HandshakeConstraintViolationException => "HandshakeConstraintViolationException",
            ErrorCode::HandshakeNotFoundException => "HandshakeNotFoundException",
            ErrorCode::InvalidHandshakeTransitionException => "InvalidHandshakeTransitionException",
            ErrorCode::InvalidInputException => "InvalidInputException",
            ErrorCode::MalformedPolicyDocumentException => "MalformedPolicyDocumentException",
            ErrorCode::OrganizationNotEmptyException => "OrganizationNotEmptyException",
            ErrorCode::OrganizationalUnitNotEmptyException => "OrganizationalUnitNotEmptyException",
            ErrorCode::OrganizationalUnitNotFoundException => "OrganizationalUnitNotFoundException",
            ErrorCode::ParentNotFoundException => "ParentNotFoundException",
            ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException => {
                "PolicyChangesNotAllowedOnAWSManagedPolicyException"
            }
            ErrorCode::PolicyInUseException => "PolicyInUseException",
            ErrorCode::PolicyNotAttachedException => "PolicyNotAttachedException",
            ErrorCode::PolicyNotFoundException => "PolicyNotFoundException",
            ErrorCode::PolicyTypeAlreadyEnabledException => "PolicyTypeAlreadyEnabledException",
            ErrorCode::PolicyTypeNotEnabledException => "PolicyTypeNotEnabledException",
            ErrorCode::RootNotFoundException => "RootNotFoundException",
            ErrorCode::SourceParentNotFoundException => "SourceParentNotFoundException",
            ErrorCode::TargetNotFoundException => "TargetNotFoundException",
        }
    }

    /// The HTTP status AWS IAM answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NoSuchEntity => 404,
            ErrorCode::EntityAlreadyExists
            | ErrorCode::LimitExceeded
            | ErrorCode::DeleteConflict
            | ErrorCode::ConcurrentModification => 409,
            ErrorCode::AccessDenied
            | ErrorCode::InvalidClientTokenId
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::InvalidAuthenticationCode
            | ErrorCode::IdpRejectedClaim => 403,
            ErrorCode::ServiceFailure => 500,
            ErrorCode::ReportNotPresent | ErrorCode::ReportExpired => 410,
            ErrorCode::MalformedPolicyDocument
            | ErrorCode::ValidationError
            | ErrorCode::InvalidInput
            | ErrorCode::IncompleteSignature
            | ErrorCode::RequestExpired
            | ErrorCode::Throttling
            | ErrorCode::PasswordPolicyViolation
            | ErrorCode::InvalidIdentityToken
            | ErrorCode::ExpiredTokenException
            | ErrorCode::IdpCommunicationError
            | ErrorCode::InvalidParameterValue
            | ErrorCode::InvalidAuthorizationMessageException => 400,
            // AWS Organizations answers every client error with 400.
            ErrorCode::AccessDeniedException => 400,
            ErrorCode::AwsOrganizationsNotInUseException => 400,
            ErrorCode::AlreadyInOrganizationException => 400,
            ErrorCode::AccountNotFoundException => 400,
            ErrorCode::AccountAlreadyClosedException => 400,
            ErrorCode::AccountAlreadyRegisteredException => 400,
            ErrorCode::AccountNotRegisteredException => 400,
            ErrorCode::ChildNotFoundException => 400,
            ErrorCode::CreateAccountStatusNotFoundException => 400,
            ErrorCode::ConstraintViolationException => 400,
            ErrorCode::DestinationParentNotFoundException => 400,
            ErrorCode::DuplicateAccountException => 400,
            ErrorCode::DuplicateHandshakeException => 400,
            ErrorCode::DuplicateOrganizationalUnitException => 400,
            ErrorCode::DuplicatePolicyAttachmentException => 400,
            ErrorCode::DuplicatePolicyException => 400,
            ErrorCode::HandshakeConstraintViolationException => 400,
            ErrorCode::HandshakeNotFoundException => 400,
            ErrorCode::InvalidHandshakeTransitionException => 400,
            ErrorCode::InvalidInputException => 400,
            ErrorCode::MalformedPolicyDocumentException => 400,
            ErrorCode::OrganizationNotEmptyException => 400,
            ErrorCode::OrganizationalUnitNotEmptyException => 400,
            ErrorCode::OrganizationalUnitNotFoundException => 400,
            ErrorCode::ParentNotFoundException => 400,
            ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException => 400,
            ErrorCode::PolicyInUseException => 400,
            ErrorCode::PolicyNotAttachedException => 400,
            ErrorCode::PolicyNotFoundException => 400,
            ErrorCode::PolicyTypeAlreadyEnabledException => 400,
            ErrorCode::PolicyTypeNotEnabledException => 400,
            ErrorCode::RootNotFoundException => 400,
            ErrorCode::SourceParentNotFoundException => 400,
            ErrorCode::TargetNotFoundException => 400,
        }
    }

    /// Looks a code up by its AWS spelling.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.as_str() == name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a piece of text is not a valid IAM value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypesError {
    /// Not 12 ASCII digits.
    #[error("`{0}` is not a valid account id: it must be 12 digits")]
    AccountId(String),
    /// Not a unique id.
    #[error("`{0}` is not a valid unique id")]
    UniqueId(String),
    /// A name of the wrong length or with a character outside `[\w+=,.@-]`.
    #[error("{what} name `{text}` is not valid: it must be 1 to {max} characters from [\\w+=,.@-]")]
    Name {
        /// Which kind of name.
        what: &'static str,
        /// The text.
        text: String,
        /// The maximum length.
        max: usize,
    },
    /// A path not of the form `/` or `/.../`.
    #[error("path `{0}` is not valid: it must begin and end with `/`, contain printable ASCII and be at most 512 characters")]
    Path(String),
    /// Not an IAM ARN this crate understands.
    #[error("`{0}` is not a valid IAM ARN")]
    Arn(String),
    /// A tag key or value of the wrong length or with a forbidden character.
    #[error("tag {0}")]
    Tag(String),
    /// More tags than allowed.
    #[error("the number of tags ({0}) exceeds the limit of 50")]
    TooManyTags(usize),
}

impl TypesError {
    /// The AWS error code this maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            TypesError::TooManyTags(_) => ErrorCode::LimitExceeded,
            TypesError::Arn(_) => ErrorCode::InvalidInput,
            _ => ErrorCode::ValidationError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_statuses() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::NoSuchEntity.http_status(), 404);
        assert_eq!(ErrorCode::EntityAlreadyExists.http_status(), 409);
        assert_eq!(ErrorCode::AccessDenied.http_status(), 403);
        assert_eq!(ErrorCode::ServiceFailure.http_status(), 500);
        assert_eq!(ErrorCode::MalformedPolicyDocument.http_status(), 400);
    }
}
