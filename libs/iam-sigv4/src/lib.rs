//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): verify signed and presigned requests, and sign them.
//!
//! The crate is pure: no I/O, no async, no clock. The current time comes in as an argument and
//! the caller looks up the secret key for the claimed access key id.
//!
//! ```text
//! let claim = parse_authorization(&request)?;              // who claims to have signed, and how
//! let secret = lookup(claim.access_key_id())?;             // the caller's key store
//! verify(&request, &claim, &secret, "us-east-1", "iam", now, &VerifyPolicy::default())?;
//! ```
//!
//! Codemap (everything public is re-exported here):
//! - `request.rs`: [`HttpRequest`] as received: raw path and query, headers in order, body or its hash.
//! - `claim.rs`: [`parse_authorization`] of the `Authorization` header or presigned query into a [`SignatureClaim`].
//! - `canonical.rs`: task 1, [`canonical_request`]; `encoding.rs` holds `UriEncode` and path normalization.
//! - `signature.rs`: tasks 2 and 3, [`string_to_sign`], the derived [`SigningKey`] and [`signature()`].
//! - `verify.rs`: [`verify()`]: scope, time window, body hash, then the constant-time comparison;
//!   [`verify_with_key()`] takes the derived key from the caller's cache.
//! - `sign.rs`: [`sign()`], the signer, for Gatehouse's own clients.
//! - `error.rs`: [`SigV4Error`] and its AWS error codes.
//!
//! Invariants: nothing here reads a clock, touches the network or logs; error messages never
//! contain the secret key, the session token or a signature.

mod canonical;
mod claim;
mod encoding;
mod error;
mod request;
mod sign;
mod signature;
mod verify;

pub use canonical::{canonical_request, CanonicalOptions, UriPathMode};
pub use claim::{
    parse_authorization, CredentialScope, SignatureClaim, SignatureLocation, ALGORITHM, MAX_PRESIGNED_EXPIRY_SECONDS,
};
pub use error::SigV4Error;
pub use request::{HttpRequest, Payload};
pub use sign::{sign, sign_with_key, Credentials, PayloadSigning, SigningMode, SigningOutput, SigningParams};
pub use signature::{signature, signature_with_key, string_to_sign, SigningKey, SigningKeyCache};
pub use verify::{verify, verify_with_key, VerifyPolicy, UNSIGNED_PAYLOAD};
