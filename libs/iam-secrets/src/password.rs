//! Password hashing: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane),
//! verified by the `argon2` crate's constant-time comparison. The plain text lives only in a
//! [`Password`], whose `Debug` never shows it and whose memory is wiped when dropped.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::SecretError;

/// OWASP's argon2id minimum: memory in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// OWASP's argon2id minimum: passes over memory.
pub const ITERATIONS: u32 = 2;
/// OWASP's argon2id minimum: lanes.
pub const PARALLELISM: u32 = 1;

/// A password in plain text, as a request brought it.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps the text.
    pub fn new(text: impl Into<String>) -> Self {
        Password(Zeroizing::new(text.into()))
    }

    /// The text, for checking it against a password policy.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

fn hasher() -> Result<Argon2<'static>, SecretError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|_| SecretError::CannotSeal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with `salt`
/// (16 random bytes from the caller). Takes tens of milliseconds by design: run it off the
/// async executor.
///
/// # Errors
/// `CannotSeal` if the parameters or salt are refused (they are constants, so never in practice).
pub fn hash_password(password: &Password, salt: &[u8; 16]) -> Result<String, SecretError> {
    let salt = SaltString::encode_b64(salt).map_err(|_| SecretError::CannotSeal)?;
    hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| SecretError::CannotSeal)
}

/// Whether `password` matches the PHC string `hash` (with the parameters the hash names).
/// A damaged hash matches nothing.
pub fn verify_password(password: &Password, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    hasher().is_ok_and(|argon| argon.verify_password(password.expose().as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let password = Password::new("correct horse battery staple");
        let hash = hash_password(&password, &[3; 16]).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains("horse"));
        assert!(verify_password(&password, &hash));
        assert!(!verify_password(&Password::new("correct horse battery stapl"), &hash));
        assert!(!verify_password(&password, "not a hash"));
        // Another salt, another hash: equal passwords are not visible as equal hashes.
        assert_ne!(hash, hash_password(&password, &[4; 16]).unwrap());
        assert_eq!(format!("{password:?}"), "Password(<hidden>)");
    }
}
