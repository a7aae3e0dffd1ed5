//! Tasks 2 and 3 of SigV4: the string to sign, the derived signing key and the HMAC signature.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::claim::{format_amz_date, CredentialScope, ALGORITHM};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256's block size: longer keys are hashed first, shorter ones zero-padded (RFC 2104).
const HMAC_BLOCK_BYTES: usize = 64;

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(request_time: DateTime<Utc>, scope: &CredentialScope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        format_amz_date(request_time),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// `kSigning`: the key derived from a secret for one scope (day, region, service) by the HMAC
/// chain over date, region, service and `aws4_request`. It signs every request of that scope, so
/// verifiers and signers may keep it for the day instead of deriving it per request, as the AWS
/// SDKs do. It is as sensitive as the secret for that scope: its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the key of `secret_access_key` for `scope`.
    pub fn derive(secret_access_key: &str, scope: &CredentialScope) -> Self {
        let secret = format!("AWS4{secret_access_key}");
        let key_date = hmac_sha256(secret.as_bytes(), scope.date_stamp().as_bytes());
        let key_region = hmac_sha256(&key_date, scope.region().as_bytes());
        let key_service = hmac_sha256(&key_region, scope.service().as_bytes());
        SigningKey(hmac_sha256(&key_service, b"aws4_request"))
    }

    fn mac(&self, string_to_sign: &str) -> HmacSha256 {
        let mut mac = hmac_with_key(&self.0);
        mac.update(string_to_sign.as_bytes());
        mac
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// Past this many access keys a [`SigningKeyCache`] starts over (an entry is under 200 bytes).
const MAX_CACHED_SIGNING_KEYS: usize = 100_000;

/// Derived signing keys by access key id, each for the last scope it was used with: what a
/// verifier or a signer keeps so that the HMAC chain runs once per key and day, not per request.
/// Secrets never change for an access key id; a verifier still checks that the key exists and
/// is active before it uses one.
#[derive(Debug, Default)]
pub struct SigningKeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<Box<str>, (CredentialScope, SigningKey)>>,
}

impl SigningKeyCache {
    /// The signing key of `access_key_id` for `scope`; when not cached, derived from the secret
    /// that `secret` returns (`None`: no secret, no key).
    pub fn get_or_derive<S: std::ops::Deref<Target = String>>(
        &self,
        access_key_id: &str,
        scope: &CredentialScope,
        secret: impl FnOnce() -> Option<S>,
    ) -> Option<SigningKey> {
        if let Ok(cached) = self.keys.lock() {
            if let Some((cached_scope, key)) = cached.get(access_key_id) {
                if cached_scope == scope {
                    return Some(key.clone());
                }
            }
        }
        let key = SigningKey::derive(&secret()?, scope);
        if let Ok(mut cached) = self.keys.lock() {
            if cached.len() >= MAX_CACHED_SIGNING_KEYS {
                cached.clear();
            }
            cached.insert(access_key_id.into(), (scope.clone(), key.clone()));
        }
        Some(key)
    }
}

/// The signature of `string_to_sign` with the key derived from the secret for `scope`, as lowercase hex.
pub fn signature(secret_access_key: &str, scope: &CredentialScope, string_to_sign: &str) -> String {
    signature_with_key(&SigningKey::derive(secret_access_key, scope), string_to_sign)
}

/// The signature of `string_to_sign` with a derived key, as lowercase hex.
pub fn signature_with_key(key: &SigningKey, string_to_sign: &str) -> String {
    hex::encode(key.mac(string_to_sign).finalize().into_bytes())
}

/// Whether `provided` is the signature of `string_to_sign`, compared in constant time.
pub(crate) fn signature_matches(key: &SigningKey, string_to_sign: &str, provided: &[u8; 32]) -> bool {
    key.mac(string_to_sign).verify_slice(provided).is_ok()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac_with_key(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// An HMAC keyed with a key of any length. `Hmac::new_from_slice` never fails but returns a
/// `Result`; preparing the block-sized key as RFC 2104 says keeps this function total.
fn hmac_with_key(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; HMAC_BLOCK_BYTES];
    if key.len() > HMAC_BLOCK_BYTES {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn block_sized_keys_match_the_hmac_crate_for_every_length() {
        for length in [0, 1, 32, 44, 63, 64, 65, 100, 200] {
            let key = vec![0x5a_u8; length];
            let mut reference = HmacSha256::new_from_slice(&key).unwrap();
            reference.update(b"data");
            assert_eq!(
                hmac_sha256(&key, b"data"),
                <[u8; 32]>::from(reference.finalize().into_bytes()),
                "{length}"
            );
        }
    }

    #[test]
    fn aws_documentation_example_signature() {
        // The IAM ListUsers example from the AWS General Reference, signed 2015-08-30 12:36:00 UTC.
        let scope = CredentialScope::new(NaiveDate::from_ymd_opt(2015, 8, 30).unwrap(), "us-east-1", "iam");
        let time = NaiveDate::from_ymd_opt(2015, 8, 30)
            .unwrap()
            .and_hms_opt(12, 36, 0)
            .unwrap()
            .and_utc();
        let canonical = "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let to_sign = string_to_sign(time, &scope, canonical);
        assert_eq!(
            to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
             f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let signed = signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope, &to_sign);
        assert_eq!(
            signed,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        let mut provided = [0u8; 32];
        hex::decode_to_slice(&signed, &mut provided).unwrap();
        let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert!(signature_matches(&key, &to_sign, &provided));
        assert_eq!(signature_with_key(&key, &to_sign), signed);
        assert!(!signature_matches(
            &SigningKey::derive("wrong", &scope),
            &to_sign,
            &provided
        ));
        // A key derived for another day signs differently.
        let next_day = CredentialScope::new(NaiveDate::from_ymd_opt(2015, 8, 31).unwrap(), "us-east-1", "iam");
        assert!(!signature_matches(
            &SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &next_day),
            &to_sign,
            &provided
        ));
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }

    #[test]
    fn the_cache_derives_once_per_key_and_scope() {
        let cache = SigningKeyCache::default();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned();
        let day = |d| CredentialScope::new(NaiveDate::from_ymd_opt(2015, 8, d).unwrap(), "us-east-1", "iam");
        let first = cache.get_or_derive("AKID", &day(30), || Some(&secret)).unwrap();
        assert_eq!(first, SigningKey::derive(&secret, &day(30)));
        let cached = cache.get_or_derive("AKID", &day(30), || -> Option<&String> { panic!("derived again") });
        assert_eq!(cached, Some(first));
        let next = cache.get_or_derive("AKID", &day(31), || Some(&secret)).unwrap();
        assert_eq!(next, SigningKey::derive(&secret, &day(31)));
        assert_eq!(cache.get_or_derive("OTHER", &day(31), || None::<&String>), None);
    }
}
