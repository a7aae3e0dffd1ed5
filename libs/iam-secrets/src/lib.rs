//! Sealing secrets under Gatehouse's master key, so access-key secrets are stored encrypted and
//! never appear in plain text in events, logs or read models.
//!
//! A sealed secret is `v1:` followed by base64 of `nonce (12 bytes) || AES-256-GCM ciphertext+tag`.
//! The associated data binds it to its account and key id, so a sealed value copied onto another
//! key does not open. The crate draws no randomness itself: nonces and secret material come in
//! as arguments from the caller's random source.

pub mod password;
pub mod totp;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

const PREFIX: &str = "v1:";

/// Why a master key or a sealed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The configured master key is not 32 bytes of base64.
    #[error("the master key must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)")]
    BadMasterKey,
    /// The cipher refused to seal (it does so only for absurdly long inputs).
    #[error("secret cannot be sealed")]
    CannotSeal,
    /// The sealed value is damaged, or was sealed under another key or for another owner.
    #[error("sealed secret cannot be opened with this master key")]
    CannotOpen,
}

/// The master key. Its `Debug` never shows the key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<master key>)")
    }
}

impl Sealer {
    /// A sealer from the 32-byte master key.
    pub fn new(master_key: &[u8; 32]) -> Self {
        Sealer {
            cipher: Aes256Gcm::new(master_key.into()),
        }
    }

    /// A sealer from the master key as base64, as configuration holds it.
    pub fn from_base64(master_key: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(master_key.trim())
                .map_err(|_| SecretError::BadMasterKey)?,
        );
        let key: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::BadMasterKey)?;
        Ok(Sealer::new(key))
    }

    /// Seals `secret`, bound to `owner` (e.g. `123456789012/AKIA...`), with a fresh random nonce.
    pub fn seal(&self, secret: &str, owner: &str, nonce: [u8; 12]) -> Result<String, SecretError> {
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: owner.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| SecretError::CannotSeal)?;
        let mut sealed = Vec::with_capacity(12 + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", STANDARD.encode(sealed)))
    }

    /// Opens a sealed secret bound to `owner`.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<Zeroizing<String>, SecretError> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or(SecretError::CannotOpen)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::CannotOpen)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::CannotOpen)?;
        let plain = Zeroizing::new(plain);
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SecretError::CannotOpen)
    }
}

/// A 40-character secret access key from 30 random bytes (base64, `+` and `/` as AWS uses).
pub fn secret_access_key(random: &[u8; 30]) -> Zeroizing<String> {
    Zeroizing::new(STANDARD.encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer
            .seal(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "111122223333/AKIA1",
                [1; 12],
            )
            .unwrap();
        assert!(!sealed.contains("wJalr"));
        assert_eq!(
            sealer.open(&sealed, "111122223333/AKIA1").unwrap().as_str(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        );
        assert_eq!(sealer.open(&sealed, "111122223333/AKIA2"), Err(SecretError::CannotOpen));
        assert_eq!(
            Sealer::new(&[8; 32]).open(&sealed, "111122223333/AKIA1"),
            Err(SecretError::CannotOpen)
        );
        assert_eq!(sealer.open("v1:AAAA", "x"), Err(SecretError::CannotOpen));
    }

    #[test]
    fn master_key_from_base64() {
        assert!(Sealer::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert_eq!(Sealer::from_base64("short").unwrap_err(), SecretError::BadMasterKey);
        assert_eq!(secret_access_key(&[0; 30]).len(), 40);
    }
}
