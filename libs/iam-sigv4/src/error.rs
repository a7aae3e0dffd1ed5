//! The crate's one error type: why a request's signature was refused, mapped to AWS error codes.

use chrono::{DateTime, Utc};

/// A refused signature. Messages never contain the secret key, the session token or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query parameter: an anonymous request.
    #[error("request carries no authorization header and no presigned query parameters")]
    MissingAuthentication,

    /// Both an `Authorization` header and presigned query parameters, or the header twice.
    #[error("{0}")]
    AmbiguousAuthentication(&'static str),

    /// An algorithm other than `AWS4-HMAC-SHA256` (for example SigV2 or SigV4a).
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlgorithm(String),

    /// The `Authorization` header does not have the documented shape.
    #[error("malformed authorization header: {0}")]
    MalformedAuthorization(String),

    /// A required presigned query parameter is absent.
    #[error("presigned request lacks the `{0}` query parameter")]
    MissingQueryParameter(&'static str),

    /// A parameter or header that must appear once appears several times.
    #[error("`{0}` appears more than once")]
    Duplicate(String),

    /// The credential is not `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
    #[error("malformed credential `{0}`")]
    MalformedCredential(String),

    /// The signed headers list is empty, not lowercase, not sorted or has duplicates.
    #[error("malformed signed headers `{0}`: expected lowercase names sorted and separated by `;`")]
    MalformedSignedHeaders(String),

    /// The signature is not 64 hexadecimal digits.
    #[error("signature must be 64 hexadecimal digits")]
    MalformedSignature,

    /// Header-signed requests need an `X-Amz-Date` or `Date` header.
    #[error("request carries neither an x-amz-date nor a date header")]
    MissingDate,

    /// The request time is not in the expected format.
    #[error("malformed request date `{0}`: expected ISO 8601 basic format such as `20150830T123600Z`")]
    MalformedDate(String),

    /// `X-Amz-Expires` is not a whole number of seconds from 1 to 604800 (seven days).
    #[error("x-amz-expires must be a number of seconds from 1 to 604800, not `{0}`")]
    InvalidExpires(String),

    /// AWS requires the `host` header to be signed.
    #[error("`host` must be a signed header")]
    HostNotSigned,

    /// The session token was sent but not signed, and the policy requires it to be.
    #[error("x-amz-security-token must be a signed header")]
    SessionTokenNotSigned,

    /// A header listed in the signed headers is absent from the request.
    #[error("signed header `{0}` is missing from the request")]
    SignedHeaderMissing(String),

    /// The credential scope names another region.
    #[error("credential should be scoped to region `{expected}`, not `{actual}`")]
    WrongRegion {
        /// Region of the endpoint that received the request.
        expected: String,
        /// Region in the credential scope.
        actual: String,
    },

    /// The credential scope names another service.
    #[error("credential should be scoped to service `{expected}`, not `{actual}`")]
    WrongService {
        /// Service that received the request.
        expected: String,
        /// Service in the credential scope.
        actual: String,
    },

    /// The date in the credential scope is not the day of the request time.
    #[error("date in credential scope `{scope_date}` does not match the request date `{request_date}`")]
    ScopeDateMismatch {
        /// `yyyymmdd` from the credential.
        scope_date: String,
        /// `yyyymmdd` of the request time.
        request_date: String,
    },

    /// The request time is further from the server's clock than the policy allows.
    #[error(
        "request time `{request_time}` is more than {max_skew_seconds} seconds away from server time `{server_time}`"
    )]
    RequestTimeTooSkewed {
        /// When the client says it signed the request.
        request_time: DateTime<Utc>,
        /// The server's clock.
        server_time: DateTime<Utc>,
        /// The policy's limit.
        max_skew_seconds: i64,
    },

    /// A presigned request was used after `X-Amz-Date` + `X-Amz-Expires`.
    #[error("presigned request expired at `{expired_at}`; server time is `{server_time}`")]
    RequestExpired {
        /// End of the validity window.
        expired_at: DateTime<Utc>,
        /// The server's clock.
        server_time: DateTime<Utc>,
    },

    /// `x-amz-content-sha256` is neither a SHA-256 hex digest nor a known keyword.
    #[error("x-amz-content-sha256 must be a sha-256 hex digest or `UNSIGNED-PAYLOAD`, not `{0}`")]
    InvalidContentSha256(String),

    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD` while the policy requires a signed body.
    #[error("unsigned payloads are not accepted by this service")]
    UnsignedPayloadNotAllowed,

    /// `x-amz-content-sha256: STREAMING-...` (chunked signing) is not implemented.
    #[error("streaming payload signing `{0}` is not supported")]
    StreamingPayloadUnsupported(String),

    /// The body's SHA-256 differs from the `x-amz-content-sha256` header.
    #[error("the x-amz-content-sha256 header does not match the request body")]
    ContentSha256Mismatch,

    /// The recomputed signature differs from the one sent.
    #[error("the request signature we calculated does not match the signature you provided")]
    SignatureDoesNotMatch {
        /// What the server signed; AWS echoes it so that clients can find their mistake. It holds
        /// the signed header values, the session token among them: return it to the caller, never log it.
        canonical_request: String,
        /// The string the server signed, likewise for the caller.
        string_to_sign: String,
    },
}

impl SigV4Error {
    /// The AWS error code this maps to at an API edge (IAM and STS spelling).
    ///
    /// Clock skew maps to `RequestExpired` as the IAM API reference documents it; S3 says
    /// `RequestTimeTooSkewed` instead. JSON-protocol services spell `SignatureDoesNotMatch`
    /// as `InvalidSignatureException`: the gateway translates per protocol.
    pub fn aws_code(&self) -> &'static str {
        use SigV4Error as E;
        match self {
            E::MissingAuthentication => "MissingAuthenticationToken",
            E::AmbiguousAuthentication(_)
            | E::UnsupportedAlgorithm(_)
            | E::MalformedAuthorization(_)
            | E::MissingQueryParameter(_)
            | E::Duplicate(_)
            | E::MalformedCredential(_)
            | E::MalformedSignedHeaders(_)
            | E::MalformedSignature
            | E::MissingDate
            | E::MalformedDate(_)
            | E::InvalidExpires(_)
            | E::HostNotSigned
            | E::SessionTokenNotSigned
            | E::InvalidContentSha256(_)
            | E::UnsignedPayloadNotAllowed
            | E::StreamingPayloadUnsupported(_) => "IncompleteSignature",
            E::SignedHeaderMissing(_)
            | E::WrongRegion { .. }
            | E::WrongService { .. }
            | E::ScopeDateMismatch { .. }
            | E::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            E::RequestTimeTooSkewed { .. } | E::RequestExpired { .. } => "RequestExpired",
            E::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status AWS answers with for [`Self::aws_code`].
    pub fn http_status(&self) -> u16 {
        match self.aws_code() {
            "MissingAuthenticationToken" | "SignatureDoesNotMatch" => 403,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_iam_api_reference() {
        let mismatch = SigV4Error::SignatureDoesNotMatch {
            canonical_request: String::new(),
            string_to_sign: String::new(),
        };
        assert_eq!(mismatch.aws_code(), "SignatureDoesNotMatch");
        assert_eq!(mismatch.http_status(), 403);
        assert_eq!(
            SigV4Error::MissingAuthentication.aws_code(),
            "MissingAuthenticationToken"
        );
        assert_eq!(SigV4Error::MalformedSignature.aws_code(), "IncompleteSignature");
        assert_eq!(SigV4Error::MalformedSignature.http_status(), 400);
        assert_eq!(
            SigV4Error::ContentSha256Mismatch.aws_code(),
            "XAmzContentSHA256Mismatch"
        );
    }

    #[test]
    fn messages_are_lowercase_and_quote_user_input() {
        let error = SigV4Error::UnsupportedAlgorithm("AWS4-ECDSA-P256-SHA256".into());
        assert_eq!(
            error.to_string(),
            "unsupported signing algorithm `AWS4-ECDSA-P256-SHA256`"
        );
        let error = SigV4Error::WrongRegion {
            expected: "us-east-1".into(),
            actual: "eu-west-1".into(),
        };
        assert_eq!(
            error.to_string(),
            "credential should be scoped to region `us-east-1`, not `eu-west-1`"
        );
    }
}
