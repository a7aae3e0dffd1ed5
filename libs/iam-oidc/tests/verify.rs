//! End-to-end verification with keys generated at test time (RSA with the `rsa` crate, EC with
//! `ring`), signed tokens, and the attacks a web identity endpoint sees: `alg: none`, HMAC keyed
//! with the provider's public key, another provider's key, tampering, oversized tokens.
//! RSA key generation is slow in debug builds, so every test shares one set of keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test harness")]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use iam_oidc::{
    discovery, unverified_issuer, verify, Algorithm, ErrorCode, Jwks, KeyRejection, Leeway, OidcError, ProviderUrl,
    RegisteredProvider, VerifyOptions, MAX_TOKEN_LEN,
};
use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.example.com/tenant";
const CLIENT: &str = "gatehouse-app";
const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/idp.example.com/tenant";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn at(offset_secs: i64) -> i64 {
    (now() + TimeDelta::seconds(offset_secs)).timestamp()
}

struct RsaKey {
    /// ring loads only keys of 2048 bits or more; smaller ones sign through `rsa`.
    pair: Option<RsaKeyPair>,
    private: rsa::RsaPrivateKey,
}

impl RsaKey {
    fn generate(bits: usize) -> RsaKey {
        let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).unwrap();
        let pair = RsaKeyPair::from_pkcs8(private.to_pkcs8_der().unwrap().as_bytes()).ok();
        RsaKey { pair, private }
    }

    fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let public = self.private.to_public_key();
        let mut jwk = json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "n": b64(&public.n().to_bytes_be()),
            "e": b64(&public.e().to_bytes_be()),
        });
        if let Some(alg) = alg {
            jwk["alg"] = alg.into();
        }
        jwk
    }

    fn sign(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        let encoding: &'static dyn signature::RsaEncoding = match alg {
            Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
            _ => unreachable!("rsa keys sign RS algorithms"),
        };
        let pair = self.pair.as_ref().expect("a key of 2048 bits or more");
        let mut out = vec![0; pair.public().modulus_len()];
        pair.sign(encoding, &SystemRandom::new(), message, &mut out).unwrap();
        out
    }

    /// RS256 with the `rsa` crate, for keys ring refuses to load (under 2048 bits).
    fn sign_rs256_small(&self, message: &[u8]) -> Vec<u8> {
        const SHA256_DIGEST_INFO: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ];
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        let padding = rsa::Pkcs1v15Sign {
            hash_len: Some(32),
            prefix: SHA256_DIGEST_INFO.to_vec().into_boxed_slice(),
        };
        self.private.sign(padding, digest.as_ref()).unwrap()
    }
}

struct EcKey {
    pair: EcdsaKeyPair,
    crv: &'static str,
}

impl EcKey {
    fn generate(alg: &'static signature::EcdsaSigningAlgorithm, crv: &'static str) -> EcKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        EcKey {
            pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
            crv,
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        let point = self.pair.public_key().as_ref();
        let len = (point.len() - 1) / 2;
        json!({
            "kty": "EC",
            "kid": kid,
            "crv": self.crv,
            "x": b64(&point[1..=len]),
            "y": b64(&point[1 + len..]),
        })
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(&SystemRandom::new(), message).unwrap().as_ref().to_vec()
    }
}

struct Keys {
    rsa: RsaKey,
    other_provider: RsaKey,
    weak: RsaKey,
    p256: EcKey,
    p384: EcKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: RsaKey::generate(2048),
        other_provider: RsaKey::generate(2048),
        weak: RsaKey::generate(1024),
        p256: EcKey::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
        p384: EcKey::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
    })
}

/// The provider's published key set: one RSA key pinned to RS256 and one P-256 key.
fn jwks() -> Jwks {
    let k = keys();
    Jwks::parse(&json!({"keys": [k.rsa.jwk("rsa-1", Some("RS256")), k.p256.jwk("ec-1")]}).to_string()).unwrap()
}

fn provider() -> RegisteredProvider {
    RegisteredProvider::new(
        ProviderUrl::parse(ISSUER).unwrap(),
        vec!["other-app".into(), CLIENT.into()],
        vec!["990f4193972f2becf12ddeda5237f9c952f20d9e".into()],
        None,
    )
    .unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-42",
        "aud": CLIENT,
        "iat": at(-60),
        "exp": at(3600),
        "amr": ["pwd", "mfa"],
        "email": "alice@example.com",
    })
}

fn segment(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

/// Signs `header`.`claims` with whatever key `header.kid` and `header.alg` say.
fn sign_with(header: &Value, claims: &Value, signer: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", segment(header), segment(claims));
    let signature = signer(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn rs256(claims: &Value) -> String {
    sign_with(&json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}), claims, |m| {
        keys().rsa.sign(Algorithm::Rs256, m)
    })
}

fn es256(claims: &Value) -> String {
    sign_with(&json!({"alg": "ES256", "kid": "ec-1"}), claims, |m| keys().p256.sign(m))
}

fn check(token: &str) -> Result<iam_oidc::VerifiedToken, OidcError> {
    verify(token, &provider(), &jwks(), now(), &VerifyOptions::default())
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

#[test]
fn a_valid_rs256_token_verifies() {
    let verified = check(&rs256(&claims())).unwrap();
    assert_eq!(verified.iss(), ISSUER);
    assert_eq!(verified.sub(), "user-42");
    assert_eq!(verified.aud(), CLIENT);
    assert_eq!(verified.audiences(), [CLIENT]);
    assert_eq!(verified.exp().timestamp(), at(3600));
    assert_eq!(verified.iat().timestamp(), at(-60));
    assert_eq!(verified.amr(), ["pwd", "mfa"]);
    assert_eq!(verified.azp(), None);
    assert_eq!(verified.alg(), Algorithm::Rs256);
    assert_eq!(verified.kid(), Some("rsa-1"));
    assert_eq!(verified.claims()["email"], "alice@example.com");
    assert_eq!(verified.provider().as_str(), "idp.example.com/tenant");
}

#[test]
fn a_valid_es256_token_verifies() {
    let verified = check(&es256(&claims())).unwrap();
    assert_eq!(verified.alg(), Algorithm::Es256);
    assert_eq!(verified.sub(), "user-42");
}

#[test]
fn rs384_rs512_and_es384_verify_with_keys_that_allow_them() {
    let k = keys();
    let set = Jwks::parse(&json!({"keys": [k.rsa.jwk("rsa-any", None), k.p384.jwk("ec-384")]}).to_string()).unwrap();
    for alg in [Algorithm::Rs384, Algorithm::Rs512, Algorithm::Rs256] {
        let token = sign_with(&json!({"alg": alg.as_str(), "kid": "rsa-any"}), &claims(), |m| {
            k.rsa.sign(alg, m)
        });
        let verified = verify(&token, &provider(), &set, now(), &VerifyOptions::default()).unwrap();
        assert_eq!(verified.alg(), alg);
    }
    let token = sign_with(&json!({"alg": "ES384", "kid": "ec-384"}), &claims(), |m| k.p384.sign(m));
    assert_eq!(
        verify(&token, &provider(), &set, now(), &VerifyOptions::default())
            .unwrap()
            .alg(),
        Algorithm::Es384
    );
    // The published set pins rsa-1 to RS256: RS512 under that kid is refused.
    let token = sign_with(&json!({"alg": "RS512", "kid": "rsa-1"}), &claims(), |m| {
        k.rsa.sign(Algorithm::Rs512, m)
    });
    assert_eq!(
        check(&token).unwrap_err(),
        OidcError::KeyAlgorithmMismatch {
            kid: "rsa-1".into(),
            alg: Algorithm::Rs512
        }
    );
}

#[test]
fn alg_none_is_refused() {
    let token = format!("{}.{}.", segment(&json!({"alg": "none"})), segment(&claims()));
    let error = check(&token).unwrap_err();
    assert_eq!(error, OidcError::UnsignedToken);
    assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
    // Even with something in the signature slot, and in another spelling.
    let token = format!(
        "{}.{}.{}",
        segment(&json!({"alg": "None", "kid": "rsa-1"})),
        segment(&claims()),
        b64(b"x")
    );
    assert_eq!(check(&token).unwrap_err(), OidcError::UnsignedToken);
}

#[test]
fn hs256_keyed_with_the_providers_public_key_is_refused() {
    let public = keys().rsa.private.to_public_key();
    let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let der = public.to_public_key_der().unwrap();
    let n = public.n().to_bytes_be();
    let jwk_json = keys().rsa.jwk("rsa-1", Some("RS256")).to_string();
    for secret in [pem.as_bytes(), der.as_bytes(), n.as_slice(), jwk_json.as_bytes()] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let token = sign_with(&json!({"alg": "HS256", "kid": "rsa-1"}), &claims(), |m| {
            ring::hmac::sign(&key, m).as_ref().to_vec()
        });
        let error = check(&token).unwrap_err();
        assert_eq!(error, OidcError::SymmetricAlgorithm("HS256".into()));
        assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
    }
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_is_refused() {
    // An ES256 signature presented under the RSA key's id, and the other way round.
    let token = sign_with(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(), |m| {
        keys().p256.sign(m)
    });
    assert_eq!(
        check(&token).unwrap_err(),
        OidcError::KeyAlgorithmMismatch {
            kid: "rsa-1".into(),
            alg: Algorithm::Es256
        }
    );
    let token = sign_with(&json!({"alg": "RS256", "kid": "ec-1"}), &claims(), |m| {
        keys().rsa.sign(Algorithm::Rs256, m)
    });
    assert!(matches!(
        check(&token).unwrap_err(),
        OidcError::KeyAlgorithmMismatch { .. }
    ));
    // ES384 against a P-256 key.
    let token = sign_with(&json!({"alg": "ES384", "kid": "ec-1"}), &claims(), |m| {
        keys().p384.sign(m)
    });
    assert!(matches!(
        check(&token).unwrap_err(),
        OidcError::KeyAlgorithmMismatch { .. }
    ));
}

#[test]
fn an_unknown_kid_is_refused() {
    let token = sign_with(&json!({"alg": "RS256", "kid": "rotated-away"}), &claims(), |m| {
        keys().rsa.sign(Algorithm::Rs256, m)
    });
    let error = check(&token).unwrap_err();
    assert_eq!(error, OidcError::UnknownKeyId("rotated-away".into()));
    assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
}

#[test]
fn a_token_without_kid_needs_exactly_one_fitting_key() {
    let k = keys();
    let no_kid = sign_with(&json!({"alg": "RS256"}), &claims(), |m| k.rsa.sign(Algorithm::Rs256, m));
    // One RSA key in the set (next to an EC key): it is the one.
    assert_eq!(check(&no_kid).unwrap().kid(), None);
    // Two RSA keys: refused, even though one of them would verify.
    let two = Jwks::parse(
        &json!({"keys": [k.rsa.jwk("rsa-1", None), k.other_provider.jwk("rsa-2", None), k.p256.jwk("ec-1")]})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        verify(&no_kid, &provider(), &two, now(), &VerifyOptions::default()).unwrap_err(),
        OidcError::MissingKeyId {
            candidates: 2,
            alg: Algorithm::Rs256
        }
    );
}

#[test]
fn a_token_signed_by_another_providers_key_is_refused() {
    let token = sign_with(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims(), |m| {
        keys().other_provider.sign(Algorithm::Rs256, m)
    });
    let error = check(&token).unwrap_err();
    assert_eq!(error, OidcError::BadSignature);
    assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = rs256(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = segment(&with(claims(), "sub", "admin".into()));
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(check(&tampered).unwrap_err(), OidcError::BadSignature);
    // A flipped signature bit, and the ES256 token likewise.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    assert_eq!(check(&flipped).unwrap_err(), OidcError::BadSignature);
    let es = es256(&claims());
    let es_parts: Vec<&str> = es.split('.').collect();
    let tampered = format!("{}.{}.{}", es_parts[0], forged, es_parts[2]);
    assert_eq!(check(&tampered).unwrap_err(), OidcError::BadSignature);
}

#[test]
fn an_es256_signature_in_der_form_is_refused() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let asn1 = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let ec = EcKey {
        pair: asn1,
        crv: "P-256",
    };
    let set = Jwks::parse(&json!({"keys": [ec.jwk("der")]}).to_string()).unwrap();
    let token = sign_with(&json!({"alg": "ES256", "kid": "der"}), &claims(), |m| ec.sign(m));
    assert_eq!(
        verify(&token, &provider(), &set, now(), &VerifyOptions::default()).unwrap_err(),
        OidcError::BadSignature
    );
}

#[test]
fn rsa_keys_under_2048_bits_are_refused_even_when_the_signature_is_good() {
    let k = keys();
    let set = Jwks::parse(&json!({"keys": [k.weak.jwk("weak", None), k.rsa.jwk("rsa-1", None)]}).to_string()).unwrap();
    let token = sign_with(&json!({"alg": "RS256", "kid": "weak"}), &claims(), |m| {
        k.weak.sign_rs256_small(m)
    });
    assert_eq!(
        verify(&token, &provider(), &set, now(), &VerifyOptions::default()).unwrap_err(),
        OidcError::UnusableKey {
            kid: "weak".into(),
            reason: KeyRejection::RsaModulusSize(1024)
        }
    );
    assert_eq!(
        Jwks::parse(&json!({"keys": [k.weak.jwk("weak", None)]}).to_string()),
        Err(OidcError::NoUsableKeys)
    );
}

#[test]
fn the_audience_must_be_a_client_id_of_the_provider() {
    let error = check(&rs256(&with(claims(), "aud", "someone-else".into()))).unwrap_err();
    assert_eq!(
        error,
        OidcError::AudienceNotAllowed {
            audience: "someone-else".into()
        }
    );
    assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
    let error = check(&rs256(&with(claims(), "aud", json!(["a", "b"])))).unwrap_err();
    assert_eq!(
        error,
        OidcError::AudienceNotAllowed {
            audience: "a, b".into()
        }
    );
    // azp alone does not stand in for aud.
    let azp_only = with(with(claims(), "aud", "someone-else".into()), "azp", CLIENT.into());
    assert!(matches!(
        check(&rs256(&azp_only)).unwrap_err(),
        OidcError::AudienceNotAllowed { .. }
    ));
}

#[test]
fn an_audience_array_matches_on_any_client_id() {
    let verified = check(&rs256(&with(
        claims(),
        "aud",
        json!(["https://api.example.com", CLIENT]),
    )))
    .unwrap();
    assert_eq!(verified.aud(), CLIENT);
    assert_eq!(verified.audiences(), ["https://api.example.com", CLIENT]);
}

#[test]
fn the_issuer_must_be_the_provider_url_exactly() {
    for iss in [
        "https://evil.example.com/tenant",
        "https://idp.example.com/tenant/",
        "https://idp.example.com/Tenant",
        "http://idp.example.com/tenant",
        "idp.example.com/tenant",
    ] {
        let error = check(&rs256(&with(claims(), "iss", iss.into()))).unwrap_err();
        assert_eq!(
            error,
            OidcError::WrongIssuer {
                expected: ISSUER.into(),
                actual: iss.into()
            }
        );
        assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
    }
}

#[test]
fn a_loopback_test_issuer_uses_http_when_registered_so() {
    let local = RegisteredProvider::new(
        ProviderUrl::parse("http://127.0.0.1:8080/realms/test").unwrap(),
        vec![CLIENT.into()],
        vec![],
        None,
    )
    .unwrap();
    let token = rs256(&with(claims(), "iss", "http://127.0.0.1:8080/realms/test".into()));
    assert_eq!(unverified_issuer(&token).unwrap(), *local.url());
    let verified = verify(&token, &local, &jwks(), now(), &VerifyOptions::default()).unwrap();
    assert_eq!(
        verified.condition_keys("arn")[3],
        ("127.0.0.1:8080/realms/test:sub".to_owned(), json!("user-42"))
    );
    let https = rs256(&with(claims(), "iss", "https://127.0.0.1:8080/realms/test".into()));
    assert!(matches!(
        verify(&https, &local, &jwks(), now(), &VerifyOptions::default()),
        Err(OidcError::WrongIssuer { .. })
    ));
}

#[test]
fn an_expired_token_is_expired_token_exception() {
    let expired = with(claims(), "exp", at(-31).into());
    let error = check(&rs256(&expired)).unwrap_err();
    assert!(matches!(error, OidcError::Expired { .. }));
    assert_eq!(error.code(), ErrorCode::ExpiredToken);
    assert_eq!(error.code().as_str(), "ExpiredTokenException");
    // Within the default leeway of 30 s it still passes; with no leeway it does not.
    let just = rs256(&with(claims(), "exp", at(-29).into()));
    assert!(check(&just).is_ok());
    let strict = VerifyOptions { leeway: Leeway::ZERO };
    assert!(matches!(
        verify(&just, &provider(), &jwks(), now(), &strict),
        Err(OidcError::Expired { .. })
    ));
    let at_exp = rs256(&with(claims(), "exp", at(0).into()));
    assert!(matches!(
        verify(&at_exp, &provider(), &jwks(), now(), &strict),
        Err(OidcError::Expired { .. })
    ));
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let early = with(claims(), "nbf", at(120).into());
    let error = check(&rs256(&early)).unwrap_err();
    assert!(matches!(error, OidcError::NotYetValid { .. }));
    assert_eq!(error.code(), ErrorCode::InvalidIdentityToken);
    assert!(
        check(&rs256(&with(claims(), "nbf", at(20).into()))).is_ok(),
        "within leeway"
    );
    let future = with(claims(), "iat", at(300).into());
    assert!(matches!(
        check(&rs256(&future)).unwrap_err(),
        OidcError::IssuedInFuture { .. }
    ));
}

#[test]
fn required_claims_are_required() {
    for claim in ["iss", "aud", "sub", "exp", "iat"] {
        assert_eq!(
            check(&rs256(&without(claims(), claim))).unwrap_err(),
            OidcError::MissingClaim(claim),
            "{claim}"
        );
    }
    let bad_types = [
        ("sub", json!(42)),
        ("sub", json!("")),
        ("exp", json!("tomorrow")),
        ("azp", json!(["x"])),
        ("amr", json!("pwd")),
        ("amr", json!(["pwd", 1])),
    ];
    for (claim, value) in bad_types {
        assert!(
            matches!(
                check(&rs256(&with(claims(), claim, value.clone()))).unwrap_err(),
                OidcError::MalformedClaim { .. }
            ),
            "{claim}: {value}"
        );
    }
}

#[test]
fn duplicate_claims_in_a_signed_payload_are_refused() {
    let header = segment(&json!({"alg": "RS256", "kid": "rsa-1"}));
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"user-42","sub":"admin","aud":"{CLIENT}","iat":{},"exp":{}}}"#,
        at(-60),
        at(3600)
    );
    let input = format!("{header}.{}", b64(payload.as_bytes()));
    let token = format!("{input}.{}", b64(&keys().rsa.sign(Algorithm::Rs256, input.as_bytes())));
    match check(&token).unwrap_err() {
        OidcError::MalformedToken(reason) => assert!(reason.contains("duplicate member `sub`"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_oversized_token_is_a_validation_error() {
    let padded = with(claims(), "pad", "x".repeat(MAX_TOKEN_LEN).into());
    let error = check(&rs256(&padded)).unwrap_err();
    assert!(matches!(error, OidcError::TokenSize { max: 20_000, .. }));
    assert_eq!(error.code(), ErrorCode::ValidationError);
    // Just under the bound, a padded token still verifies.
    let base = rs256(&claims()).len();
    let fits = with(claims(), "pad", "x".repeat((MAX_TOKEN_LEN - base) * 3 / 4 - 16).into());
    let token = rs256(&fits);
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert!(check(&token).is_ok());
}

#[test]
fn condition_keys_follow_aws_for_oidc_providers() {
    let verified = check(&rs256(&claims())).unwrap();
    assert_eq!(
        verified.condition_keys(ARN),
        vec![
            ("aws:FederatedProvider".to_owned(), json!(ARN)),
            ("idp.example.com/tenant:aud".to_owned(), json!(CLIENT)),
            ("idp.example.com/tenant:oaud".to_owned(), json!(CLIENT)),
            ("idp.example.com/tenant:sub".to_owned(), json!("user-42")),
            ("idp.example.com/tenant:amr".to_owned(), json!(["pwd", "mfa"])),
        ]
    );
    // With azp (a hybrid app): `:aud` is azp, `:oaud` the original aud as the token had it.
    let hybrid = with(
        without(with(claims(), "aud", json!([CLIENT, "https://api.example.com"])), "amr"),
        "azp",
        "android-client".into(),
    );
    let verified = check(&rs256(&hybrid)).unwrap();
    assert_eq!(verified.aud(), CLIENT);
    assert_eq!(
        verified.condition_keys(ARN),
        vec![
            ("aws:FederatedProvider".to_owned(), json!(ARN)),
            ("idp.example.com/tenant:aud".to_owned(), json!("android-client")),
            (
                "idp.example.com/tenant:oaud".to_owned(),
                json!([CLIENT, "https://api.example.com"])
            ),
            ("idp.example.com/tenant:sub".to_owned(), json!("user-42")),
            ("idp.example.com/tenant:azp".to_owned(), json!("android-client")),
        ]
    );
}

#[test]
fn a_registered_key_set_serves_instead_of_a_fetched_one() {
    let k = keys();
    let registered = json!({"keys": [k.p256.jwk("ec-1")]}).to_string();
    let provider = RegisteredProvider::new(
        ProviderUrl::parse("idp.example.com/tenant").unwrap(),
        vec![CLIENT.into()],
        vec![],
        Some(&registered),
    )
    .unwrap();
    let set = provider.registered_jwks().unwrap();
    assert!(verify(&es256(&claims()), &provider, set, now(), &VerifyOptions::default()).is_ok());
    assert_eq!(
        verify(&rs256(&claims()), &provider, set, now(), &VerifyOptions::default()).unwrap_err(),
        OidcError::UnknownKeyId("rsa-1".into())
    );
}

#[test]
fn discovery_then_key_set_then_verification() {
    let url = ProviderUrl::parse(ISSUER).unwrap();
    assert_eq!(
        url.discovery_url(),
        "https://idp.example.com/tenant/.well-known/openid-configuration"
    );
    let document = json!({
        "issuer": ISSUER,
        "jwks_uri": "https://idp.example.com/tenant/keys",
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    })
    .to_string();
    let config = discovery::parse(&document, &url).unwrap();
    assert_eq!(config.jwks_uri(), "https://idp.example.com/tenant/keys");
    let token = rs256(&claims());
    assert_eq!(unverified_issuer(&token).unwrap(), url);
}

fn token_strategy() -> impl Strategy<Value = String> {
    let b64_segment = "[A-Za-z0-9_-]{0,300}";
    prop_oneof![
        any::<Vec<u8>>().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        (b64_segment, b64_segment, b64_segment).prop_map(|(h, p, s)| format!("{h}.{p}.{s}")),
        (any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Vec<u8>>()).prop_map(|(h, p, s)| format!(
            "{}.{}.{}",
            b64(&h),
            b64(&p),
            b64(&s)
        )),
        ("\\PC{0,200}", "\\PC{0,200}").prop_map(|(h, p)| format!(
            "{}.{}.{}",
            b64(h.as_bytes()),
            b64(p.as_bytes()),
            b64(b"sig")
        )),
        // Well-formed JSON with arbitrary algorithm names and key ids, over real claims.
        ("\\PC{0,12}", proptest::option::of("\\PC{0,12}"), any::<Vec<u8>>()).prop_map(|(alg, kid, sig)| format!(
            "{}.{}.{}",
            segment(&json!({"alg": alg, "kid": kid})),
            segment(&claims()),
            b64(&sig)
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_input_never_verifies_and_never_panics(token in token_strategy()) {
        prop_assert!(check(&token).is_err());
        let _ = unverified_issuer(&token);
    }

    #[test]
    fn any_change_to_a_valid_token_is_refused(index in 0usize..2_000, replacement in "[A-Za-z0-9_.=-]") {
        let token = if index % 2 == 0 { rs256(&claims()) } else { es256(&claims()) };
        let at = index % token.len();
        let mut changed = token.clone();
        changed.replace_range(at..=at, &replacement);
        prop_assume!(changed != token);
        prop_assert!(check(&changed).is_err());
    }

    #[test]
    fn random_key_sets_never_panic(doc in "\\PC{0,400}", keys in proptest::collection::vec(any::<(u8, String, String)>(), 0..4)) {
        let _ = Jwks::parse(&doc);
        let entries: Vec<Value> = keys
            .into_iter()
            .map(|(kind, a, b)| match kind % 4 {
                0 => json!({"kty": "RSA", "n": a, "e": b}),
                1 => json!({"kty": "EC", "crv": "P-256", "x": a, "y": b}),
                2 => json!({"kty": a, "alg": b}),
                _ => json!({"kty": "RSA", "n": b64(a.as_bytes()), "e": b64(b.as_bytes()), "kid": a}),
            })
            .collect();
        if let Ok(set) = Jwks::parse(&json!({"keys": entries}).to_string()) {
            prop_assert!(verify(&rs256(&claims()), &provider(), &set, now(), &VerifyOptions::default()).is_err());
        }
    }
}
