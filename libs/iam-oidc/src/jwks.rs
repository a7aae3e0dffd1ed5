//! A provider's JSON Web Key Set (RFC 7517), parsed and checked once so that a cache can keep
//! the result, and the signing algorithms tokens may use (RFC 7518).
//!
//! Parsing sets aside, with a reason, every key that must never verify a token: symmetric
//! (`oct`) keys, keys for encryption, keys that carry private material, RSA moduli under 2048
//! bits, curves and algorithms this crate does not verify. The rest verify through `ring`, which
//! checks the RSA modulus size (2048 to 8192 bits) and the curve point again. Certificates
//! (`x5c`) and key URLs (`x5u`, `jku`) are ignored: the key is its own components, and the key
//! set's authenticity is the fetcher's business (TLS to the provider).

use std::fmt;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::error::{clip, OidcError};
use crate::json::{b64url, opt_str, parse_object};

/// Largest key set document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most keys one key set may list (usable or not). AWS STS reads at most 100 keys from a
/// provider's key set.
pub const MAX_JWKS_KEYS: usize = 100;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits (`ring`'s bound).
pub const MAX_RSA_BITS: usize = 8192;

/// A signing algorithm a token may use. HMAC and `none` are not among them, by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// Every algorithm accepted.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Es256,
        Algorithm::Es384,
    ];

    /// The JOSE name (`RS256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
        }
    }

    /// Reads a token header's `alg`, refusing `none` (any case), HMAC and unknown algorithms
    /// with the error that says which.
    pub fn from_header(alg: &str) -> Result<Algorithm, OidcError> {
        if let Some(known) = Algorithm::ALL.into_iter().find(|a| a.as_str() == alg) {
            return Ok(known);
        }
        if alg.eq_ignore_ascii_case("none") {
            Err(OidcError::UnsignedToken)
        } else if alg.as_bytes().get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"HS")) {
            Err(OidcError::SymmetricAlgorithm(clip(alg)))
        } else {
            Err(OidcError::UnsupportedAlgorithm(clip(alg)))
        }
    }

    fn family(self) -> Family {
        match self {
            Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => Family::Rsa,
            Algorithm::Es256 => Family::Ec(Curve::P256),
            Algorithm::Es384 => Family::Ec(Curve::P384),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ec(Curve),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// Why a key of the set was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRejection {
    /// `use` is not `sig`, or `key_ops` lacks `verify`.
    NotForSignatures,
    /// A symmetric (`oct`) key: never a verification key for a provider's tokens.
    Symmetric,
    /// A key type other than `RSA` and `EC` (for example `OKP`).
    UnsupportedKeyType(String),
    /// An `EC` curve other than P-256 and P-384.
    UnsupportedCurve(String),
    /// A declared `alg` this crate does not verify (for example `RSA-OAEP` or `PS256`).
    UnsupportedAlgorithm(String),
    /// A declared `alg` that does not fit the key's type or curve.
    AlgorithmMismatch(Algorithm),
    /// An RSA modulus outside 2048 to 8192 bits.
    RsaModulusSize(usize),
    /// An RSA public exponent that is even, below 3 or above 2^33 - 1.
    RsaExponent,
    /// The key carries private material (`d`, `p`, ...): whoever read the set can sign.
    PrivateMaterial,
    /// A member is missing or malformed.
    Malformed(&'static str),
}

impl fmt::Display for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRejection::NotForSignatures => f.write_str("not a signature verification key"),
            KeyRejection::Symmetric => f.write_str("symmetric keys never verify identity tokens"),
            KeyRejection::UnsupportedKeyType(kty) => write!(f, "unsupported key type `{kty}`"),
            KeyRejection::UnsupportedCurve(crv) => write!(f, "unsupported curve `{crv}`"),
            KeyRejection::UnsupportedAlgorithm(alg) => write!(f, "unsupported algorithm `{alg}`"),
            KeyRejection::AlgorithmMismatch(alg) => write!(f, "declared algorithm `{alg}` does not fit the key"),
            KeyRejection::RsaModulusSize(bits) => write!(
                f,
                "rsa modulus of {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} bits are accepted"
            ),
            KeyRejection::RsaExponent => f.write_str("rsa public exponent must be odd and from 3 to 2^33 - 1"),
            KeyRejection::PrivateMaterial => f.write_str("the key carries private key material"),
            KeyRejection::Malformed(what) => write!(f, "malformed {what}"),
        }
    }
}

/// A key of the set that was set aside, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// Its `kid`, when it has a string one.
    pub kid: Option<String>,
    /// Why it cannot verify tokens.
    pub reason: KeyRejection,
}

#[derive(Clone, PartialEq, Eq)]
enum Material {
    /// Modulus and exponent, big-endian, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

/// A public key that can verify tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    material: Material,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.key_type())
            .field("alg", &self.alg)
            .field("rsa_bits", &self.rsa_bits())
            .finish()
    }
}

impl Jwk {
    /// The key id (`kid`), if the set gave one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `RSA` or `EC`.
    pub fn key_type(&self) -> &'static str {
        match self.material {
            Material::Rsa { .. } => "RSA",
            Material::Ec { .. } => "EC",
        }
    }

    /// The algorithm the set declared for the key (`alg`), if any.
    pub fn declared_algorithm(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The RSA modulus size in bits; `None` for EC keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.material {
            Material::Rsa { n, .. } => Some(bit_len(n)),
            Material::Ec { .. } => None,
        }
    }

    /// Whether this key may verify `alg` signatures: the key type and curve fit, and a declared
    /// `alg` is that algorithm.
    pub fn verifies(&self, alg: Algorithm) -> bool {
        let fits = match (&self.material, alg.family()) {
            (Material::Rsa { .. }, Family::Rsa) => true,
            (Material::Ec { curve, .. }, Family::Ec(wanted)) => *curve == wanted,
            _ => false,
        };
        fits && self.alg.is_none_or(|declared| declared == alg)
    }

    /// Checks `signature` over `message` under this key. The caller has checked
    /// [`Self::verifies`]; a mismatch fails here too.
    pub(crate) fn check(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.verifies(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => {
                let params = match alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Es256 | Algorithm::Es384 => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            Material::Ec { point, .. } => {
                let params = match alg {
                    Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Algorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
                    Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => return false,
                };
                UnparsedPublicKey::new(params, point).verify(message, signature).is_ok()
            }
        }
    }
}

/// A provider's key set: the keys that can verify tokens, and those set aside with the reason.
/// Parse once per fetched document and keep it; verification does not parse again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
    ignored: Vec<IgnoredKey>,
}

impl Jwks {
    /// Parses a key set document (`{"keys": [...]}`).
    ///
    /// Refuses documents over [`MAX_JWKS_BYTES`], with more than [`MAX_JWKS_KEYS`] keys, with
    /// duplicate JSON members, with a non-object key, or with no usable key. Keys that must not
    /// verify tokens are set aside (see [`Self::ignored`]), not fatal: providers publish
    /// encryption keys next to signing keys.
    pub fn parse(document: &str) -> Result<Jwks, OidcError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(OidcError::JwksTooLarge {
                len: document.len(),
                max: MAX_JWKS_BYTES,
            });
        }
        let root = parse_object(document.as_bytes()).map_err(OidcError::MalformedJwks)?;
        let Some(Value::Array(entries)) = root.get("keys") else {
            return Err(OidcError::MalformedJwks("`keys` must be an array".into()));
        };
        if entries.len() > MAX_JWKS_KEYS {
            return Err(OidcError::TooManyKeys {
                count: entries.len(),
                max: MAX_JWKS_KEYS,
            });
        }
        let mut keys = Vec::new();
        let mut ignored = Vec::new();
        for entry in entries {
            let Value::Object(member) = entry else {
                return Err(OidcError::MalformedJwks("every key must be a json object".into()));
            };
            let kid = match opt_str(member, "kid") {
                Ok(kid) => kid.map(str::to_owned),
                Err(()) => {
                    ignored.push(IgnoredKey {
                        kid: None,
                        reason: KeyRejection::Malformed("`kid`"),
                    });
                    continue;
                }
            };
            match parse_key(member) {
                Ok((alg, material)) => keys.push(Jwk { kid, alg, material }),
                Err(reason) => ignored.push(IgnoredKey { kid, reason }),
            }
        }
        if keys.is_empty() {
            return Err(OidcError::NoUsableKeys);
        }
        Ok(Jwks { keys, ignored })
    }

    /// The keys that can verify tokens, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The keys set aside, in document order.
    pub fn ignored(&self) -> &[IgnoredKey] {
        &self.ignored
    }

    /// Picks the key for a token's `kid` and `alg`.
    ///
    /// With a `kid`: the one usable key with that id that verifies `alg`. Without: the one key of
    /// the whole set that verifies `alg`; several are refused rather than tried in turn, so that
    /// a token always names the key it claims.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Jwk, OidcError> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Err(match self.ignored.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                        Some(set_aside) => OidcError::UnusableKey {
                            kid: clip(kid),
                            reason: set_aside.reason.clone(),
                        },
                        None => OidcError::UnknownKeyId(clip(kid)),
                    });
                }
                let fitting: Vec<&Jwk> = named.filter(|k| k.verifies(alg)).collect();
                match fitting.as_slice() {
                    [one] => Ok(one),
                    [] => Err(OidcError::KeyAlgorithmMismatch { kid: clip(kid), alg }),
                    _ => Err(OidcError::AmbiguousKeyId { kid: clip(kid), alg }),
                }
            }
            None => {
                let fitting: Vec<&Jwk> = self.keys.iter().filter(|k| k.verifies(alg)).collect();
                match fitting.as_slice() {
                    [one] => Ok(one),
                    _ => Err(OidcError::MissingKeyId {
                        candidates: fitting.len(),
                        alg,
                    }),
                }
            }
        }
    }
}

/// Private members of RSA (RFC 7518, section 6.3.2) and EC (section 6.2.2) keys, and the
/// symmetric key value of `oct` keys.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

fn parse_key(member: &Map<String, Value>) -> Result<(Option<Algorithm>, Material), KeyRejection> {
    let kty = opt_str(member, "kty")
        .map_err(|()| KeyRejection::Malformed("`kty`"))?
        .ok_or(KeyRejection::Malformed("`kty`"))?;
    if kty == "oct" {
        return Err(KeyRejection::Symmetric);
    }
    if PRIVATE_MEMBERS.iter().any(|m| member.contains_key(*m)) {
        return Err(KeyRejection::PrivateMaterial);
    }
    match opt_str(member, "use") {
        Ok(None | Some("sig")) => {}
        Ok(Some(_)) => return Err(KeyRejection::NotForSignatures),
        Err(()) => return Err(KeyRejection::Malformed("`use`")),
    }
    if let Some(ops) = member.get("key_ops") {
        let Value::Array(ops) = ops else {
            return Err(KeyRejection::Malformed("`key_ops`"));
        };
        if !ops.iter().any(|op| op == "verify") {
            return Err(KeyRejection::NotForSignatures);
        }
    }
    let alg = match opt_str(member, "alg") {
        Ok(None) => None,
        Ok(Some(name)) => match Algorithm::ALL.into_iter().find(|a| a.as_str() == name) {
            Some(alg) => Some(alg),
            None => return Err(KeyRejection::UnsupportedAlgorithm(clip(name))),
        },
        Err(()) => return Err(KeyRejection::Malformed("`alg`")),
    };
    let material = match kty {
        "RSA" => rsa_material(member)?,
        "EC" => ec_material(member)?,
        other => return Err(KeyRejection::UnsupportedKeyType(clip(other))),
    };
    let key = Jwk {
        kid: None,
        alg,
        material,
    };
    if let Some(alg) = alg {
        if !key.verifies(alg) {
            return Err(KeyRejection::AlgorithmMismatch(alg));
        }
    }
    Ok((alg, key.material))
}

fn component(member: &Map<String, Value>, name: &'static str, what: &'static str) -> Result<Vec<u8>, KeyRejection> {
    opt_str(member, name)
        .ok()
        .flatten()
        .and_then(b64url)
        .ok_or(KeyRejection::Malformed(what))
}

fn rsa_material(member: &Map<String, Value>) -> Result<Material, KeyRejection> {
    // Leading zero bytes are tolerated (some providers emit them) and stripped: ring wants the
    // minimal big-endian form, and the bit count must not be inflated by them.
    let n = strip_leading_zeros(component(member, "n", "rsa modulus `n`")?);
    let e = strip_leading_zeros(component(member, "e", "rsa exponent `e`")?);
    let bits = bit_len(&n);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(KeyRejection::RsaModulusSize(bits));
    }
    let exponent = if e.len() <= 5 {
        e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    } else {
        0
    };
    if exponent < 3 || exponent % 2 == 0 || exponent >= (1 << 33) {
        return Err(KeyRejection::RsaExponent);
    }
    Ok(Material::Rsa { n, e })
}

fn ec_material(member: &Map<String, Value>) -> Result<Material, KeyRejection> {
    let crv = opt_str(member, "crv")
        .map_err(|()| KeyRejection::Malformed("`crv`"))?
        .ok_or(KeyRejection::Malformed("`crv`"))?;
    let curve = match crv {
        "P-256" => Curve::P256,
        "P-384" => Curve::P384,
        other => return Err(KeyRejection::UnsupportedCurve(clip(other))),
    };
    let x = component(member, "x", "ec coordinate `x`")?;
    let y = component(member, "y", "ec coordinate `y`")?;
    let len = curve.coordinate_len();
    if x.len() != len || y.len() != len {
        return Err(KeyRejection::Malformed("ec coordinates: wrong length for the curve"));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(Material::Ec { curve, point })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Bits of a big-endian unsigned integer without leading zero bytes.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// An RSA-shaped key of `bits` bits (not a real key: parsing does not factor moduli).
    fn rsa_jwk(kid: &str, bits: usize) -> serde_json::Value {
        let mut n = vec![0xffu8; bits.div_ceil(8)];
        n[0] = 0xff >> ((8 - bits % 8) % 8);
        serde_json::json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB"})
    }

    fn ec_jwk(kid: &str, crv: &str, len: usize) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "kid": kid, "crv": crv, "x": b64(&vec![1; len]), "y": b64(&vec![2; len])})
    }

    fn set(keys: Vec<serde_json::Value>) -> String {
        serde_json::json!({ "keys": keys }).to_string()
    }

    #[test]
    fn header_algorithms_refuse_none_hmac_and_unknown() {
        assert_eq!(Algorithm::from_header("RS256"), Ok(Algorithm::Rs256));
        assert_eq!(Algorithm::from_header("ES384"), Ok(Algorithm::Es384));
        assert_eq!(Algorithm::from_header("none"), Err(OidcError::UnsignedToken));
        assert_eq!(Algorithm::from_header("nOnE"), Err(OidcError::UnsignedToken));
        assert_eq!(
            Algorithm::from_header("HS256"),
            Err(OidcError::SymmetricAlgorithm("HS256".into()))
        );
        assert_eq!(
            Algorithm::from_header("hs512"),
            Err(OidcError::SymmetricAlgorithm("hs512".into()))
        );
        assert_eq!(
            Algorithm::from_header("rs256"),
            Err(OidcError::UnsupportedAlgorithm("rs256".into()))
        );
        assert_eq!(
            Algorithm::from_header("PS256"),
            Err(OidcError::UnsupportedAlgorithm("PS256".into()))
        );
        assert_eq!(
            Algorithm::from_header(""),
            Err(OidcError::UnsupportedAlgorithm(String::new()))
        );
        // Multi-byte characters where the `HS` prefix would be looked for.
        assert_eq!(
            Algorithm::from_header("Hé"),
            Err(OidcError::UnsupportedAlgorithm("Hé".into()))
        );
        assert_eq!(
            Algorithm::from_header("é"),
            Err(OidcError::UnsupportedAlgorithm("é".into()))
        );
    }

    #[test]
    fn usable_keys_are_kept_and_others_set_aside_with_a_reason() {
        let doc = set(vec![
            rsa_jwk("rsa", 2048),
            ec_jwk("p256", "P-256", 32),
            ec_jwk("p384", "P-384", 48),
            rsa_jwk("short", 1024),
            ec_jwk("p521", "P-521", 66),
            serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"}),
            serde_json::json!({"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}),
        ]);
        let jwks = Jwks::parse(&doc).unwrap();
        let kept: Vec<_> = jwks.keys().iter().map(|k| k.kid().unwrap()).collect();
        assert_eq!(kept, ["rsa", "p256", "p384"]);
        assert_eq!(jwks.keys()[0].rsa_bits(), Some(2048));
        let reasons: Vec<_> = jwks.ignored().iter().map(|k| k.reason.clone()).collect();
        assert_eq!(
            reasons,
            [
                KeyRejection::RsaModulusSize(1024),
                KeyRejection::UnsupportedCurve("P-521".into()),
                KeyRejection::Symmetric,
                KeyRejection::NotForSignatures,
                KeyRejection::UnsupportedKeyType("OKP".into()),
                KeyRejection::UnsupportedAlgorithm("RSA-OAEP".into()),
            ]
        );
    }

    #[test]
    fn rsa_bit_length_ignores_leading_zero_bytes() {
        let mut n = vec![0u8; 3];
        n.extend(vec![0x80u8; 256]); // 2048 bits after three zero bytes
        let doc = set(vec![serde_json::json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"})]);
        assert_eq!(Jwks::parse(&doc).unwrap().keys()[0].rsa_bits(), Some(2048));
        let doc = set(vec![rsa_jwk("a", 2047)]);
        assert_eq!(Jwks::parse(&doc), Err(OidcError::NoUsableKeys));
        let doc = set(vec![rsa_jwk("a", 8193)]);
        assert_eq!(Jwks::parse(&doc), Err(OidcError::NoUsableKeys));
    }

    #[test]
    fn rsa_exponents_must_be_odd_and_in_range() {
        for (e, ok) in [
            ("AQAB", true),
            ("Aw", true),
            ("AQ", false),
            ("Ag", false),
            ("AQAAAAAB", false),
        ] {
            let mut key = rsa_jwk("a", 2048);
            key["e"] = e.into();
            assert_eq!(Jwks::parse(&set(vec![key])).is_ok(), ok, "e = {e}");
        }
    }

    #[test]
    fn private_material_disqualifies_a_key() {
        let mut key = rsa_jwk("leaked", 2048);
        key["d"] = "AQAB".into();
        let mut ec = ec_jwk("leaked-ec", "P-256", 32);
        ec["d"] = b64(&[3; 32]).into();
        let jwks = Jwks::parse(&set(vec![key, ec, rsa_jwk("ok", 2048)])).unwrap();
        assert_eq!(jwks.ignored()[0].reason, KeyRejection::PrivateMaterial);
        assert_eq!(jwks.ignored()[1].reason, KeyRejection::PrivateMaterial);
    }

    #[test]
    fn declared_algorithms_must_fit_the_key() {
        let mut rsa_as_ec = rsa_jwk("a", 2048);
        rsa_as_ec["alg"] = "ES256".into();
        let mut p256_as_384 = ec_jwk("b", "P-256", 32);
        p256_as_384["alg"] = "ES384".into();
        let mut rs384 = rsa_jwk("c", 2048);
        rs384["alg"] = "RS384".into();
        let jwks = Jwks::parse(&set(vec![rsa_as_ec, p256_as_384, rs384])).unwrap();
        assert_eq!(
            jwks.ignored()[0].reason,
            KeyRejection::AlgorithmMismatch(Algorithm::Es256)
        );
        assert_eq!(
            jwks.ignored()[1].reason,
            KeyRejection::AlgorithmMismatch(Algorithm::Es384)
        );
        let key = &jwks.keys()[0];
        assert!(key.verifies(Algorithm::Rs384));
        assert!(!key.verifies(Algorithm::Rs256), "a declared alg pins the key");
    }

    #[test]
    fn key_ops_and_use_select_signature_keys() {
        let mut ops = rsa_jwk("ops", 2048);
        ops["key_ops"] = serde_json::json!(["encrypt"]);
        let mut verify = rsa_jwk("verify", 2048);
        verify["key_ops"] = serde_json::json!(["verify"]);
        verify["use"] = "sig".into();
        let jwks = Jwks::parse(&set(vec![ops, verify])).unwrap();
        assert_eq!(jwks.keys()[0].kid(), Some("verify"));
        assert_eq!(jwks.ignored()[0].reason, KeyRejection::NotForSignatures);
    }

    #[test]
    fn malformed_members_are_reasons_not_panics() {
        let docs = [
            serde_json::json!({"kty": "RSA", "n": "not base64!", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "e": "AQAB"}),
            serde_json::json!({"kty": 5}),
            serde_json::json!({"kid": 5, "kty": "RSA"}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
            serde_json::json!({"kty": "EC", "x": "AAAA", "y": "AAAA"}),
        ];
        for doc in docs {
            let jwks = Jwks::parse(&set(vec![doc.clone(), rsa_jwk("ok", 2048)])).unwrap();
            assert!(matches!(jwks.ignored()[0].reason, KeyRejection::Malformed(_)), "{doc}");
        }
    }

    #[test]
    fn documents_are_bounded_and_must_have_a_keys_array() {
        assert!(matches!(Jwks::parse("[]"), Err(OidcError::MalformedJwks(_))));
        assert!(matches!(
            Jwks::parse(r#"{"keys": {}}"#),
            Err(OidcError::MalformedJwks(_))
        ));
        assert!(matches!(
            Jwks::parse(r#"{"keys": [1]}"#),
            Err(OidcError::MalformedJwks(_))
        ));
        assert_eq!(Jwks::parse(r#"{"keys": []}"#), Err(OidcError::NoUsableKeys));
        let dup = format!(r#"{{"keys": [], "keys": {}}}"#, set(vec![rsa_jwk("a", 2048)]));
        assert!(matches!(Jwks::parse(&dup), Err(OidcError::MalformedJwks(_))));
        let many = set((0..=MAX_JWKS_KEYS).map(|i| rsa_jwk(&i.to_string(), 2048)).collect());
        assert_eq!(
            Jwks::parse(&many),
            Err(OidcError::TooManyKeys {
                count: MAX_JWKS_KEYS + 1,
                max: MAX_JWKS_KEYS
            })
        );
        let huge = format!(r#"{{"keys": [], "pad": "{}"}}"#, "x".repeat(MAX_JWKS_BYTES));
        assert!(matches!(Jwks::parse(&huge), Err(OidcError::JwksTooLarge { .. })));
    }

    #[test]
    fn selection_by_kid_and_algorithm() {
        let jwks = Jwks::parse(&set(vec![
            rsa_jwk("r1", 2048),
            rsa_jwk("r2", 2048),
            ec_jwk("e1", "P-256", 32),
            rsa_jwk("weak", 1024),
        ]))
        .unwrap();
        assert_eq!(jwks.select(Some("r2"), Algorithm::Rs256).unwrap().kid(), Some("r2"));
        assert_eq!(
            jwks.select(Some("nope"), Algorithm::Rs256),
            Err(OidcError::UnknownKeyId("nope".into()))
        );
        assert_eq!(
            jwks.select(Some("e1"), Algorithm::Rs256),
            Err(OidcError::KeyAlgorithmMismatch {
                kid: "e1".into(),
                alg: Algorithm::Rs256
            })
        );
        assert_eq!(
            jwks.select(Some("weak"), Algorithm::Rs256),
            Err(OidcError::UnusableKey {
                kid: "weak".into(),
                reason: KeyRejection::RsaModulusSize(1024)
            })
        );
        assert_eq!(
            jwks.select(None, Algorithm::Rs256),
            Err(OidcError::MissingKeyId {
                candidates: 2,
                alg: Algorithm::Rs256
            })
        );
        assert_eq!(jwks.select(None, Algorithm::Es256).unwrap().kid(), Some("e1"));
        assert_eq!(
            jwks.select(None, Algorithm::Es384),
            Err(OidcError::MissingKeyId {
                candidates: 0,
                alg: Algorithm::Es384
            })
        );
    }

    #[test]
    fn duplicate_kids_for_one_algorithm_are_ambiguous() {
        let jwks = Jwks::parse(&set(vec![
            rsa_jwk("same", 2048),
            rsa_jwk("same", 3072),
            ec_jwk("same", "P-256", 32),
        ]))
        .unwrap();
        assert_eq!(
            jwks.select(Some("same"), Algorithm::Rs256),
            Err(OidcError::AmbiguousKeyId {
                kid: "same".into(),
                alg: Algorithm::Rs256
            })
        );
        assert_eq!(jwks.select(Some("same"), Algorithm::Es256).unwrap().key_type(), "EC");
    }
}
