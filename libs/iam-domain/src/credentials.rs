//! A person's credentials besides access keys: the console password (login profile), the
//! account's password policy, and virtual MFA devices. Pure: passwords arrive already hashed and
//! sealed, MFA seeds already sealed, and codes already checked by the application layer, which
//! holds the master key. What is left here is AWS's rules: the password policy's constraints,
//! a login profile's life, a device's assignment and the last time step a code was accepted at
//! (so a code is refused the second time on every replica: accepting one is an event).

use chrono::{DateTime, Duration, Utc};
use iam_types::{EntityName, IamArn, IamPath, Tag, UniqueId};

use crate::error::DomainError;

/// The most previous passwords a policy can forbid reusing (`PasswordReusePrevention`).
pub const MAX_REUSE_PREVENTION: u8 = 24;
/// The most MFA devices one user may have enabled.
pub const MFA_DEVICES_PER_USER: usize = 8;
/// The most virtual MFA devices one account may hold.
pub const MFA_DEVICES_PER_ACCOUNT: usize = 10_000;
/// The longest password AWS accepts.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The symbols a password policy counts as such (AWS's list).
pub const PASSWORD_SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// The account password policy, as `UpdateAccountPasswordPolicy` sets it (AWS's defaults for
/// what the request leaves out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicy {
    /// 6..=128.
    pub minimum_password_length: u8,
    /// At least one of `PASSWORD_SYMBOLS`.
    pub require_symbols: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one uppercase ASCII letter.
    pub require_uppercase_characters: bool,
    /// At least one lowercase ASCII letter.
    pub require_lowercase_characters: bool,
    /// Whether users may change their own password without `iam:ChangePassword`.
    pub allow_users_to_change_password: bool,
    /// Days a password lasts; 0 for ever.
    pub max_password_age: u16,
    /// How many previous passwords may not be reused; 0 for none.
    pub password_reuse_prevention: u8,
    /// Whether an expired password keeps its user out until an administrator resets it.
    pub hard_expiry: bool,
}

/// `UpdateAccountPasswordPolicy`'s parameters as a request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordPolicyInput {
    /// `MinimumPasswordLength`.
    pub minimum_password_length: Option<i64>,
    /// `RequireSymbols`.
    pub require_symbols: Option<bool>,
    /// `RequireNumbers`.
    pub require_numbers: Option<bool>,
    /// `RequireUppercaseCharacters`.
    pub require_uppercase_characters: Option<bool>,
    /// `RequireLowercaseCharacters`.
    pub require_lowercase_characters: Option<bool>,
    /// `AllowUsersToChangePassword`.
    pub allow_users_to_change_password: Option<bool>,
    /// `MaxPasswordAge`.
    pub max_password_age: Option<i64>,
    /// `PasswordReusePrevention`.
    pub password_reuse_prevention: Option<i64>,
    /// `HardExpiry`.
    pub hard_expiry: Option<bool>,
}

impl PasswordPolicyInput {
    /// The policy the request sets, with AWS's defaults, or a `ValidationError` naming the
    /// parameter out of range.
    pub fn to_policy(&self) -> Result<PasswordPolicy, DomainError> {
        let ranged = |name: &str, value: Option<i64>, min: i64, max: i64, default: i64| match value {
            None => Ok(default),
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(v) => Err(DomainError::Validation(format!(
                "1 validation error detected: Value '{v}' at '{name}' failed to satisfy constraint: \
                 Member must have value between {min} and {max}"
            ))),
        };
        let narrow = |v: i64| u16::try_from(v).unwrap_or(0);
        Ok(PasswordPolicy {
            minimum_password_length: u8::try_from(ranged(
                "minimumPasswordLength",
                self.minimum_password_length,
                6,
                128,
                6,
            )?)
            .unwrap_or(6),
            require_symbols: self.require_symbols.unwrap_or(false),
            require_numbers: self.require_numbers.unwrap_or(false),
            require_uppercase_characters: self.require_uppercase_characters.unwrap_or(false),
            require_lowercase_characters: self.require_lowercase_characters.unwrap_or(false),
            allow_users_to_change_password: self.allow_users_to_change_password.unwrap_or(false),
            max_password_age: narrow(match self.max_password_age {
                // 0 is how "never expires" reads back; AWS refuses it as input but tools send it.
                Some(0) => 0,
                other => ranged("maxPasswordAge", other, 1, 1095, 0)?,
            }),
            password_reuse_prevention: u8::try_from(match self.password_reuse_prevention {
                Some(0) => 0,
                other => ranged("passwordReusePrevention", other, 1, i64::from(MAX_REUSE_PREVENTION), 0)?,
            })
            .unwrap_or(0),
            hard_expiry: self.hard_expiry.unwrap_or(false),
        })
    }
}

/// Why a password was refused, as AWS words the one error (`PasswordPolicyViolation`) with the
/// broken rules listed.
fn violation(reasons: &[String]) -> DomainError {
    DomainError::PasswordPolicyViolation(format!(
        "Password does not conform to the account password policy: {}.",
        reasons.join("; ")
    ))
}

/// Checks a new password against the account's policy, or AWS's default policy when the account
/// has none (at least 8 characters and three of the four character kinds). Never the user name.
///
/// # Errors
/// `PasswordPolicyViolation` listing every rule the password breaks.
pub fn check_password(policy: Option<&PasswordPolicy>, password: &str, user_name: &str) -> Result<(), DomainError> {
    let chars = password.chars().count();
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| PASSWORD_SYMBOLS.contains(c));
    let mut reasons = Vec::new();
    if chars > MAX_PASSWORD_CHARS {
        reasons.push(format!("it must be at most {MAX_PASSWORD_CHARS} characters long"));
    }
    if password.chars().any(char::is_control) {
        reasons.push("it must not contain control characters".to_owned());
    }
    if !user_name.is_empty() && password.eq_ignore_ascii_case(user_name) {
        reasons.push("it must not be the user name".to_owned());
    }
    match policy {
        Some(policy) => {
            if chars < usize::from(policy.minimum_password_length) {
                reasons.push(format!(
                    "it must be at least {} characters long",
                    policy.minimum_password_length
                ));
            }
            for (required, present, what) in [
                (policy.require_uppercase_characters, upper, "an uppercase letter"),
                (policy.require_lowercase_characters, lower, "a lowercase letter"),
                (policy.require_numbers, digit, "a number"),
                (policy.require_symbols, symbol, "a symbol"),
            ] {
                if required && !present {
                    reasons.push(format!("it must contain {what}"));
                }
            }
        }
        None => {
            if chars < 8 {
                reasons.push("it must be at least 8 characters long".to_owned());
            }
            if [upper, lower, digit, symbol].iter().filter(|kind| **kind).count() < 3 {
                reasons.push(
                    "it must mix at least three of uppercase letters, lowercase letters, numbers and symbols"
                        .to_owned(),
                );
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(violation(&reasons))
    }
}

/// The refusal for a password that repeats one of the last `n`.
pub fn reused_password(n: u8) -> DomainError {
    violation(&[format!("it must not be any of the user's last {n} passwords")])
}

/// A user's console password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    /// When the profile was created.
    pub create_date: DateTime<Utc>,
    /// The argon2id hash of the password, sealed under the master key by the app layer.
    pub password_ciphertext: String,
    /// When the password was last set (its age counts from here).
    pub password_set_date: DateTime<Utc>,
    /// Whether the user must choose a new password at the next sign-in.
    pub password_reset_required: bool,
    /// When the password was last used to sign in.
    pub password_last_used: Option<DateTime<Utc>>,
    /// Earlier passwords' sealed hashes, newest first, at most [`MAX_REUSE_PREVENTION`].
    pub previous_passwords: Vec<String>,
}

impl LoginProfile {
    /// Whether the password is older than the policy allows.
    pub fn password_expired(&self, policy: Option<&PasswordPolicy>, now: DateTime<Utc>) -> bool {
        policy.is_some_and(|p| {
            p.max_password_age > 0 && now - self.password_set_date >= Duration::days(i64::from(p.max_password_age))
        })
    }

    /// The sealed hashes a new password may not match under `policy`: the current one and the
    /// previous ones, `PasswordReusePrevention` in all.
    pub fn reuse_window<'a>(&'a self, policy: Option<&PasswordPolicy>) -> impl Iterator<Item = &'a String> {
        let n = policy.map_or(0, |p| usize::from(p.password_reuse_prevention));
        std::iter::once(&self.password_ciphertext)
            .chain(self.previous_passwords.iter())
            .take(n)
    }
}

/// A virtual MFA device. Its serial number is its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaDevice {
    /// `arn:aws:iam::<account>:mfa/<path><name>`.
    pub serial_number: IamArn,
    /// The name.
    pub name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The TOTP seed (Base32), sealed under the master key by the app layer.
    pub seed_ciphertext: String,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// The user it is enabled for, and since when.
    pub assignment: Option<(UniqueId, DateTime<Utc>)>,
    /// The last time step a code was accepted at; codes at or before it are refused.
    pub last_step: u64,
    /// How many steps the device's clock runs ahead (negative: behind), as learnt at resync.
    pub drift_steps: i64,
}

/// `iam.login_profile.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginProfileCreated {
    /// The user's id.
    pub user_id: UniqueId,
    /// The user's name.
    pub user_name: EntityName,
    /// The sealed argon2id hash.
    pub password_ciphertext: String,
    /// `PasswordResetRequired`.
    pub password_reset_required: bool,
    /// When.
    pub create_date: DateTime<Utc>,
}

/// `iam.login_profile.updated`: a new password, a changed reset flag, or both.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginProfileUpdated {
    /// The user's id.
    pub user_id: UniqueId,
    /// The user's name.
    pub user_name: EntityName,
    /// The new password's sealed hash, if the password changed.
    pub password_ciphertext: Option<String>,
    /// The new reset flag, if it changed.
    pub password_reset_required: Option<bool>,
    /// When.
    pub update_date: DateTime<Utc>,
}

/// `iam.login_profile.used`: a successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoginProfileUsed {
    /// The user's id.
    pub user_id: UniqueId,
    /// The user's name.
    pub user_name: EntityName,
    /// When.
    pub date: DateTime<Utc>,
}

/// `iam.password_policy.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicyDeleted {}

/// `iam.mfa_device.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceCreated {
    /// The serial number (the device's ARN).
    pub serial_number: IamArn,
    /// The name.
    pub name: EntityName,
    /// The path.
    pub path: IamPath,
    /// The sealed Base32 seed.
    pub seed_ciphertext: String,
    /// When.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// `iam.mfa_device.enabled`, `iam.mfa_device.deactivated`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceAssignment {
    /// The serial number.
    pub serial_number: IamArn,
    /// The user's id.
    pub user_id: UniqueId,
    /// The user's name.
    pub user_name: EntityName,
    /// When.
    pub date: DateTime<Utc>,
    /// The step of the second enabling code (enabled only; 0 otherwise).
    pub step: u64,
}

/// `iam.mfa_device.resynced`, `iam.mfa_device.code_used`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceStep {
    /// The serial number.
    pub serial_number: IamArn,
    /// The step of the accepted code.
    pub step: u64,
    /// The device clock's offset in steps (resync sets it; a code use keeps it).
    pub drift_steps: i64,
    /// When.
    pub date: DateTime<Utc>,
}

/// `iam.mfa_device.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceDeleted {
    /// The serial number.
    pub serial_number: IamArn,
}

/// `iam.mfa_device.tagged`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceTagged {
    /// The serial number.
    pub serial_number: IamArn,
    /// The tags set.
    pub tags: Vec<Tag>,
}

/// `iam.mfa_device.untagged`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MfaDeviceUntagged {
    /// The serial number.
    pub serial_number: IamArn,
    /// The keys removed.
    pub tag_keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_wants_eight_characters_of_three_kinds() {
        assert!(check_password(None, "Abcdefg1", "alice").is_ok());
        assert!(check_password(None, "abcdefg1", "alice").is_err());
        assert!(check_password(None, "Abc1!", "alice").is_err());
        let err = check_password(None, "Alice123", "alice123").unwrap_err();
        assert!(err.message().contains("user name"), "{err}");
    }

    #[test]
    fn a_policy_names_every_rule_broken() {
        let policy = PasswordPolicyInput {
            minimum_password_length: Some(12),
            require_symbols: Some(true),
            require_numbers: Some(true),
            require_uppercase_characters: Some(true),
            require_lowercase_characters: Some(true),
            ..PasswordPolicyInput::default()
        }
        .to_policy()
        .unwrap();
        let err = check_password(Some(&policy), "short", "bob").unwrap_err();
        for rule in ["12 characters", "uppercase", "number", "symbol"] {
            assert!(err.message().contains(rule), "{rule}: {err}");
        }
        assert!(check_password(Some(&policy), "Long-enough-1", "bob").is_ok());
        assert!(check_password(Some(&policy), &"Aa1!".repeat(40), "bob").is_err());
    }

    #[test]
    fn policy_input_ranges_and_defaults() {
        let default = PasswordPolicyInput::default().to_policy().unwrap();
        assert_eq!(default.minimum_password_length, 6);
        assert_eq!(default.max_password_age, 0);
        for bad in [
            PasswordPolicyInput {
                minimum_password_length: Some(5),
                ..Default::default()
            },
            PasswordPolicyInput {
                max_password_age: Some(1096),
                ..Default::default()
            },
            PasswordPolicyInput {
                password_reuse_prevention: Some(25),
                ..Default::default()
            },
        ] {
            assert!(matches!(bad.to_policy(), Err(DomainError::Validation(_))), "{bad:?}");
        }
    }

    #[test]
    fn expiry_and_reuse_window() {
        let now = Utc::now();
        let profile = LoginProfile {
            create_date: now,
            password_ciphertext: "current".into(),
            password_set_date: now - Duration::days(31),
            password_reset_required: false,
            password_last_used: None,
            previous_passwords: vec!["one".into(), "two".into(), "three".into()],
        };
        let policy = PasswordPolicyInput {
            max_password_age: Some(30),
            password_reuse_prevention: Some(3),
            ..Default::default()
        }
        .to_policy()
        .unwrap();
        assert!(profile.password_expired(Some(&policy), now));
        assert!(!profile.password_expired(None, now));
        assert_eq!(
            profile.reuse_window(Some(&policy)).collect::<Vec<_>>(),
            ["current", "one", "two"]
        );
        assert_eq!(profile.reuse_window(None).count(), 0);
    }
}
