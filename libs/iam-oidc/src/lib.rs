//! Verifying OpenID Connect ID tokens for STS `AssumeRoleWithWebIdentity`, with AWS's rules.
//!
//! The crate is pure: no I/O, no async, no clock, no randomness. The token, the provider's
//! registration, its key set (JSON, parsed once into a [`Jwks`]) and the current time come in as
//! arguments; fetching the key set over HTTPS (and pinning the provider's thumbprints) belongs to
//! an adapter.
//!
//! ```text
//! let url = unverified_issuer(token)?;                  // which provider to look up; trusts nothing
//! let provider = registry.get(account, &url)?;          // the caller's RegisteredProvider
//! let jwks = provider.registered_jwks().unwrap_or(&fetched_and_cached_jwks);
//! let verified = verify(token, &provider, jwks, now, &VerifyOptions::default())?;
//! let context = verified.condition_keys(&provider_arn);  // for the role's trust policy
//! ```
//!
//! Codemap (everything public is re-exported here):
//! - `token.rs`: the compact JWS taken apart (size, segments, header `alg`/`kid`/`crit`) and
//!   [`unverified_issuer`].
//! - `jwks.rs`: [`Jwks`] (keys that may verify, keys set aside with a [`KeyRejection`]),
//!   [`Algorithm`] (RS256/384/512, ES256/384; never `none`, never HMAC), key selection.
//! - `verify.rs`: [`verify()`], its order of checks, [`VerifyOptions`] and [`Leeway`].
//! - `verified.rs`: [`VerifiedToken`] and its [`VerifiedToken::condition_keys`].
//! - `provider.rs`: [`ProviderUrl`] (host/path as IAM stores it, and the scheme) and
//!   [`RegisteredProvider`] (client ids, thumbprints, optional registered key set).
//! - [`discovery`]: the `/.well-known/openid-configuration` document's `issuer` and `jwks_uri`.
//! - `json.rs`: strict JSON (no duplicate members) and canonical base64url for all of the above.
//! - `error.rs`: [`OidcError`] and the AWS [`ErrorCode`] of each refusal.
//!
//! Invariants: no claim is believed before the signature verifies under a key of the provider's
//! set; a symmetric algorithm or key never verifies anything; every input is bounded (token
//! 20,000 bytes, key set 256 KiB and 100 keys, discovery document 64 KiB, JSON depth 128);
//! nothing panics on any input.

pub mod discovery;
mod error;
mod json;
mod jwks;
mod provider;
mod token;
mod verified;
mod verify;

pub use error::{ErrorCode, OidcError};
pub use jwks::{
    Algorithm, IgnoredKey, Jwk, Jwks, KeyRejection, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MAX_RSA_BITS, MIN_RSA_BITS,
};
pub use provider::{
    ProviderUrl, RegisteredProvider, MAX_CLIENT_IDS, MAX_CLIENT_ID_LEN, MAX_PROVIDER_URL_LEN, MAX_THUMBPRINTS,
};
pub use token::{unverified_issuer, MAX_TOKEN_LEN, MIN_TOKEN_LEN};
pub use verified::VerifiedToken;
pub use verify::{verify, Leeway, VerifyOptions};
