//! Verification: signature first, then the claims AWS checks, against one registered provider
//! and its key set, at a time the caller gives.
//!
//! Order matters. Nothing in the payload is believed before the signature verifies under a key
//! the provider published, so a forged token learns nothing about which claim would have been
//! refused. Then `iss` (the provider), `aud` (one of its client ids), `sub`, and last the clock:
//! `exp`, `nbf`, `iat`, so that `ExpiredTokenException` is only ever said of a token that was
//! otherwise good.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{clip, OidcError};
use crate::jwks::Jwks;
use crate::provider::RegisteredProvider;
use crate::token;
use crate::verified::VerifiedToken;

/// Tolerance for clock differences between the provider and us, applied to `exp`, `nbf` and
/// `iat`. At most [`Leeway::MAX`] (60 s); [`Leeway::DEFAULT`] is 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Leeway(u32);

impl Leeway {
    /// No tolerance.
    pub const ZERO: Leeway = Leeway(0);
    /// 30 seconds: absorbs ordinary clock drift without keeping expired tokens alive for long.
    pub const DEFAULT: Leeway = Leeway(30);
    /// The largest leeway accepted, in seconds.
    pub const MAX: u32 = 60;

    /// A leeway of `secs` seconds; more than [`Leeway::MAX`] is refused.
    pub fn from_secs(secs: u32) -> Result<Leeway, OidcError> {
        if secs > Leeway::MAX {
            return Err(OidcError::LeewayTooLarge { secs, max: Leeway::MAX });
        }
        Ok(Leeway(secs))
    }

    /// The leeway in seconds.
    pub fn as_secs(self) -> u32 {
        self.0
    }
}

impl Default for Leeway {
    fn default() -> Self {
        Leeway::DEFAULT
    }
}

/// How to verify, beyond the provider's registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Clock tolerance for `exp`, `nbf` and `iat`.
    pub leeway: Leeway,
}

/// Verifies a web identity token for `provider`, with the provider's key set `jwks` (the
/// registered one, [`RegisteredProvider::registered_jwks`], or one the caller fetched), at `now`.
///
/// Checks, in order:
/// 1. shape: 4 to 20,000 characters, a compact JWS, JSON objects without duplicate members;
/// 2. algorithm: RS256, RS384, RS512, ES256 or ES384 (never `none`, never HMAC), no `crit`;
/// 3. key: the key named by `kid`, fitting the algorithm; without `kid`, the one key that fits;
/// 4. signature, under that key;
/// 5. `iss`: the provider's URL with its scheme, compared exactly;
/// 6. `aud`: a string or an array of strings, one of which is a client id of the provider
///    (that one becomes [`VerifiedToken::aud`]); `azp` need not be a client id;
/// 7. `sub`: a non-empty string;
/// 8. `exp` (required): refused once `now >= exp + leeway` (`ExpiredTokenException`);
/// 9. `nbf` (optional): refused while `now + leeway < nbf`;
/// 10. `iat` (required): refused when `iat > now + leeway`;
/// 11. `azp` (a string) and `amr` (an array of strings), when present.
pub fn verify(
    token: &str,
    provider: &RegisteredProvider,
    jwks: &Jwks,
    now: DateTime<Utc>,
    options: &VerifyOptions,
) -> Result<VerifiedToken, OidcError> {
    let jws = token::parse(token)?;
    let key = jwks.select(jws.kid.as_deref(), jws.alg)?;
    if !key.check(jws.alg, jws.signing_input.as_bytes(), &jws.signature) {
        return Err(OidcError::BadSignature);
    }
    let claims = jws.claims;

    let iss = required_str(&claims, "iss")?;
    let expected = provider.url().issuer();
    if iss != expected {
        return Err(OidcError::WrongIssuer {
            expected,
            actual: clip(iss),
        });
    }

    let audiences = audiences(&claims)?;
    let Some(matched) = audiences
        .iter()
        .find(|aud| provider.client_ids().iter().any(|id| id == *aud))
    else {
        let listed = audiences.join(", ");
        return Err(OidcError::AudienceNotAllowed {
            audience: clip(&listed),
        });
    };
    let aud = (*matched).to_owned();

    let sub = required_str(&claims, "sub")?;
    if sub.is_empty() {
        return Err(OidcError::MalformedClaim {
            claim: "sub",
            reason: "must not be empty",
        });
    }

    let exp = numeric_date(&claims, "exp")?.ok_or(OidcError::MissingClaim("exp"))?;
    let iat = numeric_date(&claims, "iat")?.ok_or(OidcError::MissingClaim("iat"))?;
    let nbf = numeric_date(&claims, "nbf")?;
    let leeway = i64::from(options.leeway.as_secs());
    let now_secs = now.timestamp();
    if now_secs >= exp.timestamp().saturating_add(leeway) {
        return Err(OidcError::Expired { exp, now });
    }
    if let Some(nbf) = nbf {
        if now_secs.saturating_add(leeway) < nbf.timestamp() {
            return Err(OidcError::NotYetValid { nbf, now });
        }
    }
    if iat.timestamp() > now_secs.saturating_add(leeway) {
        return Err(OidcError::IssuedInFuture { iat, now });
    }

    let azp = match claims.get("azp") {
        None => None,
        Some(Value::String(azp)) => Some(azp.clone()),
        Some(_) => {
            return Err(OidcError::MalformedClaim {
                claim: "azp",
                reason: "must be a string",
            })
        }
    };
    let amr = match claims.get("amr") {
        None => None,
        Some(Value::Array(values)) => Some(
            values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(OidcError::MalformedClaim {
                    claim: "amr",
                    reason: "must be an array of strings",
                })?,
        ),
        Some(_) => {
            return Err(OidcError::MalformedClaim {
                claim: "amr",
                reason: "must be an array of strings",
            })
        }
    };

    Ok(VerifiedToken {
        provider: provider.url().clone(),
        iss: iss.to_owned(),
        sub: sub.to_owned(),
        aud,
        audiences: audiences.into_iter().map(str::to_owned).collect(),
        exp,
        iat,
        nbf,
        azp,
        amr,
        alg: jws.alg,
        kid: jws.kid,
        claims,
    })
}

fn required_str<'c>(claims: &'c Map<String, Value>, claim: &'static str) -> Result<&'c str, OidcError> {
    match claims.get(claim) {
        None => Err(OidcError::MissingClaim(claim)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(OidcError::MalformedClaim {
            claim,
            reason: "must be a string",
        }),
    }
}

/// `aud` as a list: a string, or a non-empty array of strings (OpenID Connect Core 1.0, 2).
fn audiences(claims: &Map<String, Value>) -> Result<Vec<&str>, OidcError> {
    let malformed = OidcError::MalformedClaim {
        claim: "aud",
        reason: "must be a string or a non-empty array of strings",
    };
    match claims.get("aud") {
        None => Err(OidcError::MissingClaim("aud")),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(values)) if !values.is_empty() => values
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()
            .ok_or(malformed),
        Some(_) => Err(malformed),
    }
}

/// A NumericDate claim (RFC 7519, section 2): seconds since the epoch, an integer or a number
/// with a fraction (cut to the second below). `Ok(None)` when absent.
fn numeric_date(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<DateTime<Utc>>, OidcError> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let malformed = |reason| OidcError::MalformedClaim { claim, reason };
    let Value::Number(number) = value else {
        return Err(malformed("must be a number of seconds since the epoch"));
    };
    let secs = if let Some(secs) = number.as_i64() {
        secs
    } else if let Some(secs) = number.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15) {
        // Bounded above, so the cast is exact for the integral part.
        secs.floor() as i64
    } else {
        return Err(malformed("is out of range"));
    };
    if secs < 0 {
        return Err(malformed("must not be negative"));
    }
    DateTime::from_timestamp(secs, 0)
        .map(Some)
        .ok_or(malformed("is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Map<String, Value> {
        crate::json::parse_object(json.as_bytes()).unwrap()
    }

    #[test]
    fn leeway_is_bounded() {
        assert_eq!(Leeway::from_secs(60).unwrap().as_secs(), 60);
        assert_eq!(
            Leeway::from_secs(61),
            Err(OidcError::LeewayTooLarge { secs: 61, max: 60 })
        );
        assert_eq!(VerifyOptions::default().leeway, Leeway::DEFAULT);
    }

    #[test]
    fn numeric_dates() {
        let c = claims(r#"{"a":1700000000,"b":1700000000.9,"c":"1700000000","d":-1,"e":1e300,"f":99999999999999}"#);
        assert_eq!(numeric_date(&c, "a").unwrap().unwrap().timestamp(), 1_700_000_000);
        assert_eq!(numeric_date(&c, "b").unwrap().unwrap().timestamp(), 1_700_000_000);
        assert!(numeric_date(&c, "c").is_err());
        assert!(numeric_date(&c, "d").is_err());
        assert!(numeric_date(&c, "e").is_err());
        assert!(numeric_date(&c, "f").is_err(), "beyond chrono's range");
        assert_eq!(numeric_date(&c, "absent").unwrap(), None);
    }

    #[test]
    fn audiences_are_a_string_or_a_non_empty_array_of_strings() {
        assert_eq!(audiences(&claims(r#"{"aud":"a"}"#)).unwrap(), ["a"]);
        assert_eq!(audiences(&claims(r#"{"aud":["a","b"]}"#)).unwrap(), ["a", "b"]);
        assert_eq!(audiences(&claims("{}")), Err(OidcError::MissingClaim("aud")));
        for bad in [r#"{"aud":[]}"#, r#"{"aud":["a",1]}"#, r#"{"aud":5}"#, r#"{"aud":null}"#] {
            assert!(matches!(
                audiences(&claims(bad)),
                Err(OidcError::MalformedClaim { claim: "aud", .. })
            ));
        }
    }
}
