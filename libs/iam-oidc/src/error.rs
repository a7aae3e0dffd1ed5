//! The crate's one error type: why a token, a key set, a discovery document or a provider
//! registration was refused, and the AWS error code each refusal maps to.

use chrono::{DateTime, Utc};

use crate::jwks::{Algorithm, KeyRejection};

/// The AWS error codes this crate's refusals map to (`botocore`'s STS and IAM models spell them).
///
/// The gateway turns a code into its wire form in one place; [`Self::as_str`] and
/// [`Self::http_status`] are that form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// STS `InvalidIdentityToken` (400): the token could not be validated — malformed, unsigned,
    /// badly signed, signed by an unknown key, for another issuer or audience, not yet valid.
    InvalidIdentityToken,
    /// STS `ExpiredTokenException` (400): the token's `exp` has passed.
    ExpiredToken,
    /// STS `IDPRejectedClaim` (403): the identity provider itself rejected the claim (for example a
    /// revoked token). Nothing in this crate can know that; it is here so that the adapter that
    /// asks the provider maps its answer through the same set.
    IdpRejectedClaim,
    /// STS `IDPCommunicationError` (400): the provider's discovery document or key set could not
    /// be fetched. Raised by the fetching adapter, never by this crate.
    IdpCommunicationError,
    /// `ValidationError` (400): a request parameter breaks its documented bounds, here the
    /// `WebIdentityToken` length (4 to 20,000 characters).
    ValidationError,
    /// IAM `InvalidInput` (400): a provider registration (URL, client ids, thumbprints, key set)
    /// is invalid.
    InvalidInput,
}

impl ErrorCode {
    /// The code as AWS writes it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentityToken => "InvalidIdentityToken",
            ErrorCode::ExpiredToken => "ExpiredTokenException",
            ErrorCode::IdpRejectedClaim => "IDPRejectedClaim",
            ErrorCode::IdpCommunicationError => "IDPCommunicationError",
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::InvalidInput => "InvalidInput",
        }
    }

    /// The HTTP status AWS answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::IdpRejectedClaim => 403,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal. Messages are lowercase, quote user input in backticks (clipped to a readable
/// length) and never contain a token or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    // ---- the token's shape -------------------------------------------------------------------
    /// The token is shorter than 4 or longer than 20,000 bytes (STS's `WebIdentityToken` bounds).
    #[error("web identity token must be {min} to {max} characters long, not {len}")]
    TokenSize {
        /// Length of the token received.
        len: usize,
        /// Shortest token accepted.
        min: usize,
        /// Longest token accepted.
        max: usize,
    },

    /// Not a JWS in compact serialization: wrong number of segments, bad base64url, bad JSON,
    /// duplicate JSON members, wrong member types.
    #[error("malformed web identity token: {0}")]
    MalformedToken(String),

    /// Five segments: an encrypted token (JWE), which STS does not accept.
    #[error("encrypted web identity tokens (jwe) are not supported")]
    EncryptedToken,

    /// `alg: none`: the token is not signed at all.
    #[error("unsigned web identity tokens (`alg` `none`) are refused")]
    UnsignedToken,

    /// An HMAC algorithm (`HS256`, ...): such a token could be "signed" with the provider's
    /// public key as the secret (the key-confusion attack). Only the provider's private key counts.
    #[error("symmetric signing algorithm `{0}` is refused: tokens must be signed with the provider's private key")]
    SymmetricAlgorithm(String),

    /// An asymmetric algorithm this crate does not verify (`PS256`, `ES512`, `EdDSA`, ...).
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlgorithm(String),

    /// The header lists `crit` extensions; none is understood, so the token must be refused
    /// (RFC 7515, section 4.1.11).
    #[error("web identity token header lists critical extensions (`crit`), which are not supported")]
    CriticalHeader,

    // ---- choosing the key --------------------------------------------------------------------
    /// The header's `kid` names no key of the provider's key set.
    #[error("no key with id `{0}` in the identity provider's key set")]
    UnknownKeyId(String),

    /// The header's `kid` names a key of the set that cannot verify this algorithm (another
    /// key type, curve or declared `alg`).
    #[error("key `{kid}` of the identity provider cannot verify `{alg}` signatures")]
    KeyAlgorithmMismatch {
        /// The key id from the token.
        kid: String,
        /// The token's algorithm.
        alg: Algorithm,
    },

    /// The header's `kid` names a key that the key set lists but that was set aside when the
    /// set was parsed (too short, for encryption, carrying private material, ...).
    #[error("key `{kid}` of the identity provider is unusable: {reason}")]
    UnusableKey {
        /// The key id from the token.
        kid: String,
        /// Why the key was set aside.
        reason: KeyRejection,
    },

    /// Several keys share the token's `kid` and could all verify its algorithm.
    #[error("several keys of the identity provider have id `{kid}` and verify `{alg}` signatures")]
    AmbiguousKeyId {
        /// The key id from the token.
        kid: String,
        /// The token's algorithm.
        alg: Algorithm,
    },

    /// The token has no `kid` and the key set does not hold exactly one key for its algorithm.
    #[error("web identity token names no key (`kid`) and {candidates} keys of the identity provider verify `{alg}` signatures")]
    MissingKeyId {
        /// How many keys could have verified the token.
        candidates: usize,
        /// The token's algorithm.
        alg: Algorithm,
    },

    /// The signature does not verify under the chosen key.
    #[error("web identity token signature does not verify")]
    BadSignature,

    // ---- claims ------------------------------------------------------------------------------
    /// A claim that AWS requires is absent.
    #[error("missing a required claim: {0}")]
    MissingClaim(&'static str),

    /// A claim has the wrong JSON type or an impossible value.
    #[error("claim `{claim}` is malformed: {reason}")]
    MalformedClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `iss` is not the registered provider's URL.
    #[error("issuer `{actual}` does not match the identity provider `{expected}`")]
    WrongIssuer {
        /// The issuer the provider's registration implies.
        expected: String,
        /// The token's `iss`, clipped.
        actual: String,
    },

    /// No `aud` value is one of the provider's client ids (audiences).
    #[error("incorrect token audience `{audience}`: not a client id of the identity provider")]
    AudienceNotAllowed {
        /// The token's audiences, comma-separated and clipped.
        audience: String,
    },

    /// `exp` has passed (after the leeway).
    #[error("web identity token expired at `{exp}`; server time is `{now}`")]
    Expired {
        /// The token's `exp`.
        exp: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },

    /// `nbf` is still ahead (after the leeway).
    #[error("web identity token is not valid before `{nbf}`; server time is `{now}`")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },

    /// `iat` lies in the future (after the leeway).
    #[error("web identity token was issued in the future, at `{iat}`; server time is `{now}`")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },

    // ---- the provider's key set --------------------------------------------------------------
    /// The key set document is larger than the bound.
    #[error("json web key set is {len} bytes; the limit is {max}")]
    JwksTooLarge {
        /// Size of the document.
        len: usize,
        /// The bound.
        max: usize,
    },

    /// The key set lists more keys than the bound.
    #[error("json web key set has {count} keys; the limit is {max}")]
    TooManyKeys {
        /// Keys in the document.
        count: usize,
        /// The bound.
        max: usize,
    },

    /// The key set is not `{"keys": [...]}` with JSON objects inside.
    #[error("malformed json web key set: {0}")]
    MalformedJwks(String),

    /// Every key of the set was set aside: none verifies RS256/384/512 or ES256/384 signatures.
    #[error("json web key set has no key usable to verify signatures")]
    NoUsableKeys,

    // ---- discovery ---------------------------------------------------------------------------
    /// The discovery document is larger than the bound.
    #[error("openid configuration is {len} bytes; the limit is {max}")]
    DiscoveryTooLarge {
        /// Size of the document.
        len: usize,
        /// The bound.
        max: usize,
    },

    /// The discovery document is not a JSON object with string `issuer` and `jwks_uri`, or the
    /// `jwks_uri` is not an acceptable URL.
    #[error("malformed openid configuration: {0}")]
    MalformedDiscovery(String),

    /// The discovery document's `issuer` is not the provider's URL (OpenID Connect Discovery 1.0,
    /// section 4.3).
    #[error("openid configuration names issuer `{actual}`, not `{expected}`")]
    DiscoveryIssuerMismatch {
        /// The issuer the provider's registration implies.
        expected: String,
        /// The document's `issuer`, clipped.
        actual: String,
    },

    // ---- registration ------------------------------------------------------------------------
    /// The provider URL breaks IAM's rules (see [`crate::ProviderUrl`]).
    #[error("invalid identity provider url `{url}`: {reason}")]
    InvalidProviderUrl {
        /// The URL as given, clipped.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A client id is empty or longer than 255 characters.
    #[error("client id `{0}` must be 1 to 255 characters long")]
    InvalidClientId(String),

    /// More client ids than IAM allows for one provider.
    #[error("an identity provider can have at most {max} client ids, not {count}")]
    TooManyClientIds {
        /// Client ids given.
        count: usize,
        /// The bound.
        max: usize,
    },

    /// A thumbprint is not 40 hexadecimal digits (a SHA-1 digest).
    #[error("thumbprint `{0}` must be 40 hexadecimal digits")]
    InvalidThumbprint(String),

    /// More thumbprints than IAM allows for one provider.
    #[error("an identity provider can have at most {max} thumbprints, not {count}")]
    TooManyThumbprints {
        /// Thumbprints given.
        count: usize,
        /// The bound.
        max: usize,
    },

    /// The key set registered with the provider is invalid.
    #[error("registered json web key set is invalid: {0}")]
    InvalidRegisteredJwks(String),

    /// A clock leeway beyond the bound.
    #[error("clock leeway must be at most {max} seconds, not {secs}")]
    LeewayTooLarge {
        /// Leeway asked for.
        secs: u32,
        /// The bound.
        max: u32,
    },
}

impl OidcError {
    /// The AWS error code this refusal maps to.
    ///
    /// Every refusal of a token is `InvalidIdentityToken` except an expired token
    /// (`ExpiredTokenException`) and a token outside STS's length bounds (`ValidationError`). A key
    /// set or discovery document that cannot be used is `InvalidIdentityToken` as well: AWS then
    /// answers "couldn't retrieve verification key from your identity provider" under that code.
    /// A `nbf` or `iat` in the future is `InvalidIdentityToken`, not `ExpiredTokenException`: a
    /// fresh token does not help, the clocks disagree.
    pub fn code(&self) -> ErrorCode {
        use OidcError as E;
        match self {
            E::TokenSize { .. } => ErrorCode::ValidationError,
            E::Expired { .. } => ErrorCode::ExpiredToken,
            E::MalformedToken(_)
            | E::EncryptedToken
            | E::UnsignedToken
            | E::SymmetricAlgorithm(_)
            | E::UnsupportedAlgorithm(_)
            | E::CriticalHeader
            | E::UnknownKeyId(_)
            | E::KeyAlgorithmMismatch { .. }
            | E::UnusableKey { .. }
            | E::AmbiguousKeyId { .. }
            | E::MissingKeyId { .. }
            | E::BadSignature
            | E::MissingClaim(_)
            | E::MalformedClaim { .. }
            | E::WrongIssuer { .. }
            | E::AudienceNotAllowed { .. }
            | E::NotYetValid { .. }
            | E::IssuedInFuture { .. }
            | E::JwksTooLarge { .. }
            | E::TooManyKeys { .. }
            | E::MalformedJwks(_)
            | E::NoUsableKeys
            | E::DiscoveryTooLarge { .. }
            | E::MalformedDiscovery(_)
            | E::DiscoveryIssuerMismatch { .. } => ErrorCode::InvalidIdentityToken,
            E::InvalidProviderUrl { .. }
            | E::InvalidClientId(_)
            | E::TooManyClientIds { .. }
            | E::InvalidThumbprint(_)
            | E::TooManyThumbprints { .. }
            | E::InvalidRegisteredJwks(_)
            | E::LeewayTooLarge { .. } => ErrorCode::InvalidInput,
        }
    }
}

/// Longest piece of user input quoted in a message.
const CLIP: usize = 128;

/// `s` cut to [`CLIP`] characters, with `…` when cut: user input in messages stays readable
/// however large the token.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(CLIP) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_sts_model() {
        assert_eq!(OidcError::BadSignature.code().as_str(), "InvalidIdentityToken");
        assert_eq!(OidcError::BadSignature.code().http_status(), 400);
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let expired = OidcError::Expired { exp: now, now };
        assert_eq!(expired.code().as_str(), "ExpiredTokenException");
        assert_eq!(ErrorCode::IdpRejectedClaim.as_str(), "IDPRejectedClaim");
        assert_eq!(ErrorCode::IdpRejectedClaim.http_status(), 403);
        assert_eq!(ErrorCode::IdpCommunicationError.as_str(), "IDPCommunicationError");
        let size = OidcError::TokenSize {
            len: 20_001,
            min: 4,
            max: 20_000,
        };
        assert_eq!(size.code(), ErrorCode::ValidationError);
        assert_eq!(
            OidcError::InvalidClientId(String::new()).code(),
            ErrorCode::InvalidInput
        );
    }

    #[test]
    fn messages_are_lowercase_and_quote_user_input() {
        let error = OidcError::UnknownKeyId("key-2".into());
        assert_eq!(
            error.to_string(),
            "no key with id `key-2` in the identity provider's key set"
        );
        assert_eq!(
            OidcError::MissingClaim("aud").to_string(),
            "missing a required claim: aud"
        );
    }

    #[test]
    fn clip_cuts_long_input_on_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), CLIP + 1);
        assert!(clipped.ends_with('…'));
    }
}
