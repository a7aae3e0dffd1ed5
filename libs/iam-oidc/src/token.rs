//! The JWS compact serialization (RFC 7515, section 7.1) of a web identity token, taken apart
//! without trusting anything: size first, then shape, then the header's algorithm.
//!
//! Nothing here checks a signature; [`crate::verify()`] does, before it believes any claim.

use serde_json::{Map, Value};

use crate::error::OidcError;
use crate::json::{b64url, opt_str, parse_object};
use crate::jwks::Algorithm;
use crate::provider::ProviderUrl;

/// Shortest `WebIdentityToken` STS accepts, in characters.
pub const MIN_TOKEN_LEN: usize = 4;

/// Longest `WebIdentityToken` STS accepts, in characters (`botocore`'s `clientTokenType`). A
/// compact JWS is ASCII, so characters are bytes.
pub const MAX_TOKEN_LEN: usize = 20_000;

/// A token taken apart: header, claims, and what the signature covers.
#[derive(Debug)]
pub(crate) struct Jws<'t> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the signed bytes.
    pub(crate) signing_input: &'t str,
    pub(crate) signature: Vec<u8>,
    pub(crate) claims: Map<String, Value>,
}

fn malformed(reason: &str) -> OidcError {
    OidcError::MalformedToken(reason.to_owned())
}

/// The three segments of a compact JWS, after the size and shape checks every reading shares.
fn segments(token: &str) -> Result<[&str; 3], OidcError> {
    if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len()) {
        return Err(OidcError::TokenSize {
            len: token.len(),
            min: MIN_TOKEN_LEN,
            max: MAX_TOKEN_LEN,
        });
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [header, payload, signature] => Ok([header, payload, signature]),
        [_, _, _, _, _] => Err(OidcError::EncryptedToken),
        _ => Err(malformed("expected three base64url segments separated by `.`")),
    }
}

fn claims_of(payload: &str) -> Result<Map<String, Value>, OidcError> {
    let bytes = b64url(payload).ok_or_else(|| malformed("payload is not base64url"))?;
    parse_object(&bytes).map_err(|reason| OidcError::MalformedToken(format!("payload: {reason}")))
}

/// Takes a token apart. Refuses, in this order: a size outside STS's bounds, anything but three
/// segments (five is an encrypted token), a header that is not a JSON object, an `alg` that is
/// `none`, HMAC or unknown, `crit` extensions, a non-string `kid`, an empty or undecodable
/// signature, and claims that are not a JSON object.
pub(crate) fn parse(token: &str) -> Result<Jws<'_>, OidcError> {
    let [header, payload, signature] = segments(token)?;
    let header_bytes = b64url(header).ok_or_else(|| malformed("header is not base64url"))?;
    let header_map =
        parse_object(&header_bytes).map_err(|reason| OidcError::MalformedToken(format!("header: {reason}")))?;
    let alg = match opt_str(&header_map, "alg") {
        Ok(Some(alg)) => Algorithm::from_header(alg)?,
        Ok(None) => return Err(malformed("header has no `alg`")),
        Err(()) => return Err(malformed("header `alg` must be a string")),
    };
    if header_map.contains_key("crit") {
        return Err(OidcError::CriticalHeader);
    }
    let kid = opt_str(&header_map, "kid")
        .map_err(|()| malformed("header `kid` must be a string"))?
        .map(str::to_owned);
    let signature = b64url(signature).ok_or_else(|| malformed("signature is not base64url"))?;
    if signature.is_empty() {
        return Err(malformed("signature is empty"));
    }
    let claims = claims_of(payload)?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Jws {
        alg,
        kid,
        signing_input,
        signature,
        claims,
    })
}

/// The provider a token claims to come from, read from its `iss` **without verifying
/// anything**: where to look up the registered provider and its keys, nothing more.
/// [`crate::verify()`] checks `iss` again, against the provider it is given, after the
/// signature.
///
/// Refuses what [`crate::verify()`] would refuse for its shape (size, segments, JSON of the
/// payload), a missing or non-string `iss`, and an `iss` that cannot name a provider (see
/// [`ProviderUrl::from_issuer`]).
pub fn unverified_issuer(token: &str) -> Result<ProviderUrl, OidcError> {
    let [_, payload, _] = segments(token)?;
    let claims = claims_of(payload)?;
    match opt_str(&claims, "iss") {
        Ok(Some(iss)) => ProviderUrl::from_issuer(iss).map_err(|_| OidcError::MalformedClaim {
            claim: "iss",
            reason: "must be an https url without query, fragment or port",
        }),
        Ok(None) => Err(OidcError::MissingClaim("iss")),
        Err(()) => Err(OidcError::MalformedClaim {
            claim: "iss",
            reason: "must be a string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn seg(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", seg(header), seg(payload), seg("sig"))
    }

    const CLAIMS: &str = r#"{"iss":"https://idp.example.com","sub":"alice"}"#;

    #[test]
    fn a_well_formed_token_comes_apart() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#, CLAIMS);
        let jws = parse(&t).unwrap();
        assert_eq!(jws.alg, Algorithm::Rs256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.claims["sub"], "alice");
        assert_eq!(jws.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn sizes_outside_the_sts_bounds_are_validation_errors() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for t in ["", "a.b", long.as_str()] {
            assert!(matches!(parse(t), Err(OidcError::TokenSize { .. })), "{}", t.len());
        }
        let at_limit = format!("{}.e30.c2ln", "a".repeat(MAX_TOKEN_LEN - 9));
        assert_eq!(at_limit.len(), MAX_TOKEN_LEN);
        assert!(matches!(parse(&at_limit), Err(OidcError::MalformedToken(_))));
    }

    #[test]
    fn shape_errors() {
        let cases = [
            ("ab.cd", "three"),
            ("a.b.c.d", "three"),
            ("!!!!.e30.c2ln", "header is not base64url"),
            (&*format!("{}.e30.c2ln", seg("[]")), "header: not a json object"),
            (&*format!("{}.e30.c2ln", seg(r#"{"kid":"k"}"#)), "no `alg`"),
            (
                &*format!("{}.e30.c2ln", seg(r#"{"alg":256}"#)),
                "`alg` must be a string",
            ),
            (
                &*format!("{}.e30.c2ln", seg(r#"{"alg":"RS256","kid":1}"#)),
                "`kid` must be a string",
            ),
            (&*format!("{}.e30.", seg(r#"{"alg":"RS256"}"#)), "signature is empty"),
            (
                &*format!("{}.e30.c2ln=", seg(r#"{"alg":"RS256"}"#)),
                "signature is not base64url",
            ),
            (
                &*format!("{}.W10.c2ln", seg(r#"{"alg":"RS256"}"#)),
                "payload: not a json object",
            ),
            (
                &*format!("{}.e30 .c2ln", seg(r#"{"alg":"RS256"}"#)),
                "payload is not base64url",
            ),
            (
                &*format!("{}.e30.c2ln", seg(r#"{"alg":"RS256","alg":"none"}"#)),
                "duplicate member `alg`",
            ),
        ];
        for (t, expected) in cases {
            match parse(t) {
                Err(OidcError::MalformedToken(reason)) => assert!(reason.contains(expected), "{t}: {reason}"),
                other => panic!("{t}: {other:?}"),
            }
        }
    }

    #[test]
    fn five_segments_are_an_encrypted_token() {
        assert_eq!(parse("a.b.c.d.e").unwrap_err(), OidcError::EncryptedToken);
    }

    #[test]
    fn the_algorithm_is_judged_before_anything_else_in_the_header() {
        let none = format!("{}.{}.", seg(r#"{"alg":"none"}"#), seg(CLAIMS));
        assert_eq!(parse(&none).unwrap_err(), OidcError::UnsignedToken);
        let hs = token(r#"{"alg":"HS256","crit":["b64"]}"#, CLAIMS);
        assert_eq!(parse(&hs).unwrap_err(), OidcError::SymmetricAlgorithm("HS256".into()));
        let crit = token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, CLAIMS);
        assert_eq!(parse(&crit).unwrap_err(), OidcError::CriticalHeader);
    }

    #[test]
    fn the_unverified_issuer_names_the_provider_to_look_up() {
        let t = token(r#"{"alg":"RS256"}"#, CLAIMS);
        assert_eq!(unverified_issuer(&t).unwrap().as_str(), "idp.example.com");
        let t = token(r#"{"alg":"RS256"}"#, r#"{"sub":"x"}"#);
        assert_eq!(unverified_issuer(&t).unwrap_err(), OidcError::MissingClaim("iss"));
        let t = token(r#"{"alg":"RS256"}"#, r#"{"iss":"idp.example.com"}"#);
        assert!(matches!(
            unverified_issuer(&t),
            Err(OidcError::MalformedClaim { claim: "iss", .. })
        ));
        let t = token(r#"{"alg":"RS256"}"#, r#"{"iss":["https://a"]}"#);
        assert!(matches!(
            unverified_issuer(&t),
            Err(OidcError::MalformedClaim { claim: "iss", .. })
        ));
    }
}
