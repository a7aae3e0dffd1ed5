//! People's credentials: console passwords (login profiles), the account password policy, and
//! virtual MFA devices; the MFA check that sign-in and STS share.
//!
//! The secret parts never reach the domain in plain text: a password becomes an argon2id hash
//! (off the async executor) sealed under the master key, an MFA seed is sealed before its
//! command is built, and an MFA code is checked here against the opened seed. The domain then
//! keeps the rules (reset flags, assignments, the last accepted time step), so accepting a code
//! is an event and a code is refused the second time on every replica.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_authz::AccountModel;
use iam_domain::credentials::{check_password, reused_password, LoginProfile, MfaDevice, PasswordPolicy};
use iam_domain::{AccountState, Command, TagInput, User};
use iam_secrets::password::{hash_password, verify_password, Password};
use iam_secrets::totp::{step_of, TotpSeed, SEED_BYTES};
use iam_types::ErrorCode;
use zeroize::Zeroizing;

use crate::access::ApiCaller;
use iam_audit::EVENT_SOURCE_IAM;

use crate::management::CallFacts;
use crate::{random_bytes, Actor, AppError, Executed, Gatehouse};

/// How far from the expected step a sign-in or STS code may be (RFC 6238's recommended ±1).
const CODE_WINDOW_STEPS: u64 = 1;
/// How far `EnableMFADevice` and `ResyncMFADevice` look for their two consecutive codes: ten
/// minutes either way, for a phone whose clock has drifted.
const RESYNC_WINDOW_STEPS: u64 = 20;

/// What a sealed password hash is bound to: the user's id, never reused.
pub(crate) fn password_owner(account: &str, user: &User) -> String {
    format!("{account}/login-profile/{}", user.user_id)
}

/// What a sealed MFA seed is bound to.
pub(crate) fn seed_owner(account: &str, serial_number: &str) -> String {
    format!("{account}/mfa/{serial_number}")
}

fn service_failure(error: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::ServiceFailure, error.to_string())
}

/// A new virtual MFA device: the seed is in this answer only.
pub struct CreatedMfaDevice {
    /// What the command did.
    pub executed: Executed,
    /// The serial number (the device's ARN).
    pub serial_number: String,
    /// The seed in Base32, for typing into an authenticator app.
    pub base32_seed: Zeroizing<String>,
    /// `otpauth://totp/...`, for a QR code.
    pub otpauth_uri: Zeroizing<String>,
}

impl std::fmt::Debug for CreatedMfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedMfaDevice")
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

impl Gatehouse {
    /// Hashes `password` with argon2id on a blocking thread and seals the hash for `owner`.
    pub(crate) async fn seal_password(&self, owner: &str, password: &Password) -> Result<String, AppError> {
        let password = password.clone();
        let salt: [u8; 16] = random_bytes();
        let _slot = self.argon2_slots.acquire().await.map_err(service_failure)?;
        let hash = tokio::task::spawn_blocking(move || hash_password(&password, &salt).map(Zeroizing::new))
            .await
            .map_err(service_failure)?
            .map_err(service_failure)?;
        self.sealer.seal(&hash, owner, random_bytes()).map_err(service_failure)
    }

    /// Whether `password` matches a sealed hash (on a blocking thread). A hash that does not
    /// open matches nothing.
    pub(crate) async fn password_matches(&self, owner: &str, sealed: &str, password: &Password) -> bool {
        let Ok(hash) = self.sealer.open(sealed, owner) else {
            return false;
        };
        let password = password.clone();
        let Ok(_slot) = self.argon2_slots.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }

    /// Checks a new password for `user`: the policy's rules, then (when the user has a
    /// password) the policy's reuse window. Returns it sealed.
    async fn new_password_ciphertext(
        &self,
        account: &str,
        state: &AccountState,
        user: &User,
        password: &Password,
    ) -> Result<String, AppError> {
        let policy = state.password_policy();
        check_password(policy, password.expose(), user.user_name.as_str())?;
        let owner = password_owner(account, user);
        if let Some(profile) = user.login_profile.as_deref() {
            for sealed in profile.reuse_window(policy) {
                if self.password_matches(&owner, sealed, password).await {
                    let n = policy.map_or(0, |p| p.password_reuse_prevention);
                    return Err(reused_password(n).into());
                }
            }
        }
        self.seal_password(&owner, password).await
    }

    /// `CreateLoginProfile`: gives a user a console password (checked against the password
    /// policy), optionally to be changed at the first sign-in.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`], and `PasswordPolicyViolation`.
    pub async fn create_login_profile(
        &self,
        caller: &ApiCaller,
        user_name: String,
        password: &Password,
        password_reset_required: bool,
    ) -> Result<Executed, AppError> {
        let account = caller.account_id.clone();
        let command = Command::CreateLoginProfile {
            user_name,
            password_reset_required,
            password_ciphertext: String::new(),
        };
        self.manage_prepared(caller, command, async |model: &AccountModel, command| {
            let Command::CreateLoginProfile {
                user_name,
                password_reset_required,
                ..
            } = command
            else {
                return Ok(command);
            };
            let state = model.state();
            let Some(user) = state.user(&user_name) else {
                // The domain answers NoSuchEntity with AWS's wording.
                return Ok(Command::CreateLoginProfile {
                    user_name,
                    password_reset_required,
                    password_ciphertext: String::new(),
                });
            };
            let policy = state.password_policy();
            check_password(policy, password.expose(), user.user_name.as_str())?;
            let password_ciphertext = self.seal_password(&password_owner(&account, user), password).await?;
            Ok(Command::CreateLoginProfile {
                user_name,
                password_reset_required,
                password_ciphertext,
            })
        })
        .await
    }

    /// `UpdateLoginProfile`: an administrator sets a new password, the reset flag, or both.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`], and `PasswordPolicyViolation`.
    pub async fn update_login_profile(
        &self,
        caller: &ApiCaller,
        user_name: String,
        password: Option<&Password>,
        password_reset_required: Option<bool>,
    ) -> Result<Executed, AppError> {
        let account = caller.account_id.clone();
        let command = Command::UpdateLoginProfile {
            user_name,
            password_reset_required,
            password_ciphertext: None,
        };
        self.manage_prepared(caller, command, async |model: &AccountModel, command| {
            let (Some(password), Command::UpdateLoginProfile { user_name, .. }) = (password, &command) else {
                return Ok(command);
            };
            let state = model.state();
            let Some(user) = state.user(user_name).filter(|u| u.login_profile.is_some()) else {
                return Ok(command);
            };
            let ciphertext = self.new_password_ciphertext(&account, state, user, password).await?;
            Ok(Command::UpdateLoginProfile {
                user_name: user_name.clone(),
                password_reset_required,
                password_ciphertext: Some(ciphertext),
            })
        })
        .await
    }

    /// `ChangePassword`: an IAM user changes its own password. Allowed by the password policy's
    /// `AllowUsersToChangePassword` or by `iam:ChangePassword` on the user; the old password
    /// must match and the new one must satisfy the policy, reuse window included.
    ///
    /// # Errors
    /// `AccessDenied` for a caller that is not an IAM user, or a wrong old password;
    /// `PasswordPolicyViolation`; `NoSuchEntity` without a login profile.
    pub async fn change_password(
        &self,
        caller: &ApiCaller,
        old_password: &Password,
        new_password: &Password,
    ) -> Result<Executed, AppError> {
        let model = self
            .account(&caller.account_id)
            .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
        let now = Utc::now();
        let state = model.state().clone();
        let user = caller_user(&state, caller);
        let command = Command::ChangePassword {
            user_name: user.map(|u| u.user_name.to_string()).unwrap_or_default(),
            password_ciphertext: String::new(),
        };
        let needed = iam_domain::requirements(&state, &caller.account_id, &command);
        let outcome = match user {
            None => Err(AppError::new(
                ErrorCode::AccessDenied,
                "Only IAM users can change their own password",
            )),
            Some(user) => {
                let allowed_by_policy = state
                    .password_policy()
                    .is_some_and(|p| p.allow_users_to_change_password);
                let authorized = if allowed_by_policy {
                    Ok(())
                } else {
                    self.authorize_requirements(&model, caller, &needed, now)
                };
                match authorized {
                    Err(denied) => Err(denied),
                    Ok(()) => {
                        self.change_own_password(
                            &caller.account_id,
                            &caller.actor(),
                            &state,
                            user,
                            old_password,
                            new_password,
                        )
                        .await
                    }
                }
            }
        };
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_IAM,
            state: &state,
            event_name: "ChangePassword",
            needed: &needed,
            request_parameters: serde_json::Value::Null,
            outcome: outcome.as_ref().map(|_| (serde_json::Value::Null, None)),
            read_only: false,
            now,
        })
        .await?;
        outcome
    }

    /// The password change itself, for `ChangePassword` and for a sign-in that must set a new
    /// password: checks the old one, then the new one, then records it.
    pub(crate) async fn change_own_password(
        &self,
        account: &str,
        actor: &Actor,
        state: &AccountState,
        user: &User,
        old_password: &Password,
        new_password: &Password,
    ) -> Result<Executed, AppError> {
        let profile = user.login_profile.as_deref().ok_or_else(|| {
            AppError::new(
                ErrorCode::NoSuchEntity,
                format!("Login Profile for User {} cannot be found.", user.user_name),
            )
        })?;
        let owner = password_owner(account, user);
        if !self
            .password_matches(&owner, &profile.password_ciphertext, old_password)
            .await
        {
            return Err(AppError::new(ErrorCode::AccessDenied, "The old password is incorrect."));
        }
        let password_ciphertext = self.new_password_ciphertext(account, state, user, new_password).await?;
        let command = Command::ChangePassword {
            user_name: user.user_name.to_string(),
            password_ciphertext,
        };
        self.execute(account, actor, &command).await
    }

    /// `CreateVirtualMFADevice`: draws a seed, seals it into the device, and shows it once.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`].
    pub async fn create_virtual_mfa_device(
        &self,
        caller: &ApiCaller,
        name: String,
        path: Option<String>,
        tags: Vec<TagInput>,
    ) -> Result<CreatedMfaDevice, AppError> {
        let account = caller.account_id.clone();
        let seed = TotpSeed::from_bytes(&random_bytes::<SEED_BYTES>());
        let serial_number = format!("arn:aws:iam::{account}:mfa{}{name}", path.as_deref().unwrap_or("/"));
        let command = Command::CreateVirtualMFADevice {
            virtual_mfa_device_name: name.clone(),
            path,
            tags,
            seed_ciphertext: String::new(),
        };
        let executed = self
            .manage_prepared(caller, command, async |_: &AccountModel, command| {
                let Command::CreateVirtualMFADevice {
                    virtual_mfa_device_name,
                    path,
                    tags,
                    ..
                } = command
                else {
                    return Ok(command);
                };
                let seed_ciphertext = self
                    .sealer
                    .seal(&seed.base32(), &seed_owner(&account, &serial_number), random_bytes())
                    .map_err(service_failure)?;
                Ok(Command::CreateVirtualMFADevice {
                    virtual_mfa_device_name,
                    path,
                    tags,
                    seed_ciphertext,
                })
            })
            .await?;
        Ok(CreatedMfaDevice {
            executed,
            otpauth_uri: seed.otpauth_uri("Gatehouse", &format!("{name}@{}", caller.account_id)),
            base32_seed: seed.base32(),
            serial_number,
        })
    }

    /// `EnableMFADevice` (`resync: false`) and `ResyncMFADevice` (`resync: true`): two
    /// consecutive codes of the device, found within ten minutes of now.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`], and `InvalidAuthenticationCode` for codes that are not two
    /// consecutive ones of the device.
    pub async fn enable_mfa_device(
        &self,
        caller: &ApiCaller,
        user_name: String,
        serial_number: String,
        codes: (&str, &str),
        resync: bool,
    ) -> Result<Executed, AppError> {
        let account = caller.account_id.clone();
        let command = if resync {
            Command::ResyncMFADevice {
                user_name,
                serial_number,
                step: 0,
                drift_steps: 0,
            }
        } else {
            Command::EnableMFADevice {
                user_name,
                serial_number,
                step: 0,
            }
        };
        self.manage_prepared(caller, command, async |model: &AccountModel, command| {
            let serial = match &command {
                Command::EnableMFADevice { serial_number, .. } | Command::ResyncMFADevice { serial_number, .. } => {
                    serial_number.clone()
                }
                _ => return Ok(command),
            };
            let Some(device) = model.state().mfa_device(&serial) else {
                return Ok(command); // NoSuchEntity, in the domain's words
            };
            let seed = self.open_seed(&account, device)?;
            let now = step_of(Utc::now().timestamp());
            let first = now.saturating_sub(RESYNC_WINDOW_STEPS);
            let step = consecutive_codes(&seed, codes, first, now + RESYNC_WINDOW_STEPS).ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidAuthenticationCode,
                    "Authentication code for device is not valid.",
                )
            })?;
            Ok(match command {
                Command::ResyncMFADevice {
                    user_name,
                    serial_number,
                    ..
                } => Command::ResyncMFADevice {
                    user_name,
                    serial_number,
                    step,
                    drift_steps: i64::try_from(step).unwrap_or(0) - i64::try_from(now).unwrap_or(0),
                },
                Command::EnableMFADevice {
                    user_name,
                    serial_number,
                    ..
                } => Command::EnableMFADevice {
                    user_name,
                    serial_number,
                    step,
                },
                other => other,
            })
        })
        .await
    }

    fn open_seed(&self, account: &str, device: &MfaDevice) -> Result<TotpSeed, AppError> {
        let text = self
            .sealer
            .open(
                &device.seed_ciphertext,
                &seed_owner(account, &device.serial_number.to_string()),
            )
            .map_err(service_failure)?;
        TotpSeed::from_base32(&text).ok_or_else(|| service_failure("an MFA seed cannot be read"))
    }

    /// Accepts one code of `device` (enabled for a user of `account`): within a step of the
    /// device's clock, and later than any code accepted before. Acceptance is an event, so the
    /// same code is refused afterwards on every replica.
    ///
    /// # Errors
    /// `InvalidAuthenticationCode` for a wrong, stale or already used code.
    pub(crate) async fn accept_mfa_code(
        &self,
        account: &str,
        actor: &Actor,
        device: &MfaDevice,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let seed = self.open_seed(account, device)?;
        let expected = i64::try_from(step_of(now.timestamp())).unwrap_or(0) + device.drift_steps;
        let expected = u64::try_from(expected).unwrap_or(0);
        let first = expected.saturating_sub(CODE_WINDOW_STEPS).max(device.last_step + 1);
        let refused = || {
            AppError::new(
                ErrorCode::InvalidAuthenticationCode,
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            )
        };
        if first > expected + CODE_WINDOW_STEPS {
            return Err(refused());
        }
        let step = seed
            .matching_step(code, first, expected + CODE_WINDOW_STEPS)
            .ok_or_else(refused)?;
        let command = Command::RecordMfaCodeUse {
            serial_number: device.serial_number.to_string(),
            step,
        };
        self.execute(account, actor, &command).await.map(|_| ()).map_err(|e| {
            if e.code == ErrorCode::InvalidAuthenticationCode {
                refused()
            } else {
                e
            }
        })
    }

    /// For STS calls with `SerialNumber` and `TokenCode`: the caller must be an IAM user with
    /// that device enabled, and the code must be accepted.
    ///
    /// # Errors
    /// `AccessDenied` as AWS words it, for anything else.
    pub(crate) async fn caller_mfa(
        &self,
        caller: &ApiCaller,
        serial_number: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let failed = || {
            AppError::new(
                ErrorCode::AccessDenied,
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            )
        };
        let model: Arc<AccountModel> = self.account(&caller.account_id).ok_or_else(failed)?;
        let state = model.state();
        let user = caller_user(state, caller).ok_or_else(failed)?;
        let device = state
            .mfa_device(serial_number)
            .filter(|d| d.assignment.as_ref().is_some_and(|(owner, _)| owner == &user.user_id))
            .ok_or_else(failed)?;
        self.accept_mfa_code(&caller.account_id, &caller.actor(), device, code, now)
            .await
            .map_err(|_| failed())
    }
}

/// The IAM user a caller is (signing with its own key, or with a session of its own).
pub(crate) fn caller_user<'a>(state: &'a AccountState, caller: &ApiCaller) -> Option<&'a User> {
    let arn = iam_types::IamArn::parse(&caller.principal_arn).ok()?;
    if arn.kind() != Some(iam_types::ResourceKind::User) || arn.account() != state.account_id() {
        return None;
    }
    let user = state.user(arn.name()?.as_str())?;
    (user.arn == arn).then_some(user)
}

/// The step of the second of two consecutive codes in `first..=last`.
fn consecutive_codes(seed: &TotpSeed, (code1, code2): (&str, &str), first: u64, last: u64) -> Option<u64> {
    let step = seed.matching_step(code1, first, last)?;
    seed.matching_step(code2, step + 1, step + 1)
}

/// Whether a sign-in must set a new password first: an administrator asked for it, or the
/// password is older than the policy allows.
pub(crate) fn must_change_password(
    profile: &LoginProfile,
    policy: Option<&PasswordPolicy>,
    now: DateTime<Utc>,
) -> bool {
    profile.password_reset_required || profile.password_expired(policy, now)
}
