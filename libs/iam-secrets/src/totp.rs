//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): SHA-1, 6 digits, 30-second
//! steps, as virtual MFA apps compute them. The code arithmetic is the `totp-rs` crate's; this
//! module adds the parts an IAM needs: which step a code matched (so a used code is refused the
//! second time), a window around the expected step, and the enrolment URI.

use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new seed (160 bits, RFC 4226's recommendation).
pub const SEED_BYTES: usize = 20;

/// A device's seed. Its `Debug` never shows it.
#[derive(Clone)]
pub struct TotpSeed(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSeed(<hidden>)")
    }
}

impl TotpSeed {
    /// A seed from raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        TotpSeed(Zeroizing::new(bytes.to_vec()))
    }

    /// The seed in RFC 4648 Base32 without padding, as `Base32StringSeed` shows it once.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0))
    }

    /// A seed from its Base32 text (sealed seeds are stored this way).
    pub fn from_base32(text: &str) -> Option<Self> {
        base32::decode(base32::Alphabet::Rfc4648 { padding: false }, text).map(|b| TotpSeed(Zeroizing::new(b)))
    }

    /// The code for `step` (time / 30 s), with `digits` digits.
    pub fn code_at_step(&self, step: u64, digits: usize) -> String {
        // Unchecked: the RFC's own test seeds are shorter than the 128 bits `new` insists on;
        // the seeds Gatehouse draws are 160 bits.
        let totp = TOTP::new_unchecked(Algorithm::SHA1, digits, 0, STEP_SECONDS, self.0.to_vec());
        totp.generate(step.saturating_mul(STEP_SECONDS))
    }

    /// The step in `first..=last` whose 6-digit code is `code`, compared in constant time per
    /// step. `None` for a code of the wrong shape or one that matches no step there.
    pub fn matching_step(&self, code: &str, first: u64, last: u64) -> Option<u64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut found = None;
        for step in first..=last {
            let expected = self.code_at_step(step, DIGITS);
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://totp/...` URI an authenticator app enrols from.
    pub fn otpauth_uri(&self, issuer: &str, account_name: &str) -> Zeroizing<String> {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        let label = format!("{issuer}:{account_name}");
        Zeroizing::new(format!(
            "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            utf8_percent_encode(&label, NON_ALPHANUMERIC),
            self.base32().as_str(),
            utf8_percent_encode(issuer, NON_ALPHANUMERIC),
        ))
    }
}

/// The step a Unix time falls in.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds).unwrap_or(0) / STEP_SECONDS
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 rows (seed "12345678901234567890", 8 digits).
    #[test]
    fn rfc_6238_sha1_vectors() {
        let seed = TotpSeed::from_bytes(b"12345678901234567890");
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(seed.code_at_step(time / STEP_SECONDS, 8), code, "T = {time}");
        }
    }

    #[test]
    fn matching_step_finds_the_step_inside_the_window_only() {
        let seed = TotpSeed::from_bytes(&[9; SEED_BYTES]);
        let now = step_of(1_700_000_000);
        let code = seed.code_at_step(now + 1, DIGITS);
        assert_eq!(seed.matching_step(&code, now - 1, now + 1), Some(now + 1));
        // Two steps ahead is outside a ±1 window.
        let later = seed.code_at_step(now + 2, DIGITS);
        assert_eq!(seed.matching_step(&later, now - 1, now + 1), None);
        assert_eq!(seed.matching_step("12345", now - 1, now + 1), None);
        assert_eq!(seed.matching_step("12a456", now - 1, now + 1), None);
    }

    #[test]
    fn base32_round_trip_and_uri() {
        let seed = TotpSeed::from_bytes(&[1; SEED_BYTES]);
        let text = seed.base32();
        assert_eq!(text.len(), 32);
        let back = TotpSeed::from_base32(&text).unwrap();
        assert_eq!(back.code_at_step(5, 6), seed.code_at_step(5, 6));
        let uri = seed.otpauth_uri("Gatehouse", "alice@111122223333");
        assert!(
            uri.starts_with("otpauth://totp/Gatehouse%3Aalice%40111122223333?secret="),
            "{}",
            uri.as_str()
        );
        assert_eq!(format!("{seed:?}"), "TotpSeed(<hidden>)");
    }
}
