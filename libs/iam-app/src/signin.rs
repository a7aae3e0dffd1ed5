//! Password sign-in: an IAM user trades its account, name, password (and MFA code) for
//! temporary credentials, as a console session is. An admin portal signs its users in here.
//!
//! Rules an attacker meets:
//! - an unknown account, an unknown user, a user without a password and a wrong password get
//!   the same answer after the same work (one argon2id verification), so names cannot be probed;
//! - failures are counted per user and per source address; past the limits the attempt is
//!   refused before any work until the window passes;
//! - every failure and success is a CloudTrail-shaped record (`signin.amazonaws.com`,
//!   `ConsoleLogin`), with the user name hidden when it names no user, as CloudTrail does.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use iam_audit::{AuditRecord, UserIdentity};
use iam_domain::session::{expiry, SessionClaims, SessionKind, MIN_SESSION_SECONDS};
use iam_domain::Command;
use iam_secrets::password::{hash_password, verify_password, Password};
use iam_types::{ErrorCode, IdKind, UniqueId};
use serde_json::json;
use zeroize::Zeroizing;

use crate::credentials::{must_change_password, password_owner};
use crate::sts::IssuedCredentials;
use crate::{random_bytes, Actor, AppError, Gatehouse};

/// `eventSource` of sign-in records.
pub const EVENT_SOURCE_SIGNIN: &str = "signin.amazonaws.com";
/// Failed sign-ins one user may have within [`FAILURE_WINDOW`] before it is throttled.
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failed sign-ins one source address may have within [`FAILURE_WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// How long failures count.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A console session's length when the request names none (AWS: 12 hours for IAM users).
pub const DEFAULT_SIGN_IN_SECONDS: u32 = 12 * 3600;
/// Most counters kept; past it, expired ones are dropped first.
const MAX_TRACKED: usize = 100_000;
/// The user name a record shows when it names no user of the account (CloudTrail's text).
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// A sign-in attempt.
#[derive(Debug)]
pub struct SignInRequest {
    /// The account's 12-digit id or its alias.
    pub account: String,
    /// The IAM user's name.
    pub user_name: String,
    /// The password.
    pub password: Password,
    /// The current code of the user's MFA device, when it has one.
    pub mfa_code: Option<String>,
    /// A new password, when the current one must be changed first.
    pub new_password: Option<Password>,
    /// How long the session should last (900 s to 12 h; 12 h by default).
    pub duration_seconds: Option<u32>,
    /// Where the request came from.
    pub source_ip: Option<String>,
    /// The client.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: String,
}

/// A console sign-in with an access key pair.
pub struct KeySignInRequest {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret; never kept, logged or recorded.
    pub secret_access_key: Zeroizing<String>,
    /// Where the request came from.
    pub source_ip: Option<String>,
    /// The client.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: String,
}

/// A successful key sign-in: the root user of `account_id`.
#[derive(Debug)]
pub struct KeySignedIn {
    /// The account.
    pub account_id: String,
    /// The root user's ARN.
    pub principal_arn: String,
}

/// Equal without a timing difference that depends on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a sign-in did not succeed. `Failed` is all a client learns about names and passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong account, user, password or MFA code: deliberately one answer.
    Failed,
    /// Too many failures; try again later.
    Throttled {
        /// Seconds until the window passes.
        retry_after_seconds: u64,
    },
    /// The password was right; the user has MFA and the request carried no code.
    MfaRequired,
    /// The password was right but must be changed: send `newPassword`.
    PasswordChangeRequired,
    /// The password has expired and the policy's hard expiry keeps the user out until an
    /// administrator resets it.
    PasswordExpired,
    /// The new password breaks the password policy.
    PasswordPolicyViolation(String),
    /// Bad input (a duration out of range).
    Validation(String),
    /// Gatehouse failed.
    ServiceFailure(String),
}

/// A successful sign-in.
pub struct SignedIn {
    /// The session's credentials.
    pub credentials: IssuedCredentials,
    /// The user's ARN.
    pub user_arn: String,
    /// The account.
    pub account_id: String,
    /// Whether an MFA code was part of the sign-in.
    pub mfa_used: bool,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
}

/// Failed sign-ins per key (a user, an address) within the window.
#[derive(Debug, Default)]
pub(crate) struct SignInGuard {
    failures: Mutex<HashMap<String, Failures>>,
}

impl SignInGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `keys` (with their limits) must still wait, if any is over its limit.
    fn blocked(&self, keys: &[(&str, u32)], now: Instant) -> Option<Duration> {
        let map = self.lock();
        keys.iter()
            .filter_map(|(key, limit)| {
                let f = map.get(*key)?;
                let left = FAILURE_WINDOW.checked_sub(now.duration_since(f.first))?;
                (f.count >= *limit).then_some(left)
            })
            .max()
    }

    fn failed(&self, keys: &[&str], now: Instant) {
        let mut map = self.lock();
        if map.len() >= MAX_TRACKED {
            map.retain(|_, f| now.duration_since(f.first) < FAILURE_WINDOW);
        }
        for key in keys {
            if map.len() >= MAX_TRACKED && !map.contains_key(*key) {
                continue;
            }
            let entry = map
                .entry((*key).to_owned())
                .or_insert(Failures { count: 0, first: now });
            if now.duration_since(entry.first) >= FAILURE_WINDOW {
                *entry = Failures { count: 0, first: now };
            }
            entry.count = entry.count.saturating_add(1);
        }
    }

    fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// A hash no password is checked against except to spend the same time as a real check.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| hash_password(&Password::new("decoy password, never a user's"), &[0x5a; 16]).ok())
        .as_deref()
}

impl From<AppError> for SignInError {
    fn from(error: AppError) -> Self {
        match error.code {
            ErrorCode::PasswordPolicyViolation => SignInError::PasswordPolicyViolation(error.message),
            ErrorCode::AccessDenied | ErrorCode::InvalidAuthenticationCode | ErrorCode::NoSuchEntity => {
                SignInError::Failed
            }
            _ => SignInError::ServiceFailure(error.message),
        }
    }
}

impl Gatehouse {
    /// The account a sign-in names: its id, or an alias exactly one account holds.
    fn sign_in_account(&self, text: &str) -> Option<String> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            return self.account(text).is_some().then(|| text.to_owned());
        }
        let alias = text.to_ascii_lowercase();
        let mut holders = self.account_ids().into_iter().filter(|id| {
            self.account(id)
                .is_some_and(|m| m.state().account().and_then(|a| a.account_alias.as_deref()) == Some(&alias))
        });
        let first = holders.next()?;
        holders.next().is_none().then_some(first)
    }

    /// Signs a user in with its password (and MFA code): temporary credentials for the user,
    /// valid for `duration_seconds` (12 h by default). See the module's rules.
    ///
    /// # Errors
    /// [`SignInError`]: one `Failed` for every wrong name, password or code.
    pub async fn sign_in(&self, request: SignInRequest) -> Result<SignedIn, SignInError> {
        let now = Utc::now();
        let clock = Instant::now();
        let seconds = request.duration_seconds.unwrap_or(DEFAULT_SIGN_IN_SECONDS);
        if !(MIN_SESSION_SECONDS..=DEFAULT_SIGN_IN_SECONDS).contains(&seconds) {
            return Err(SignInError::Validation(format!(
                "durationSeconds must be between {MIN_SESSION_SECONDS} and {DEFAULT_SIGN_IN_SECONDS}"
            )));
        }
        // Keyed by the account's id when it resolves, so naming it by id and by alias shares
        // one count.
        let account = self.sign_in_account(&request.account);
        let user_key = format!(
            "user:{}/{}",
            account.as_deref().unwrap_or(&request.account).to_ascii_lowercase(),
            request.user_name.to_ascii_lowercase()
        );
        let address_key = format!("address:{}", request.source_ip.as_deref().unwrap_or("unknown"));
        let keys = [
            (user_key.as_str(), MAX_FAILURES_PER_USER),
            (address_key.as_str(), MAX_FAILURES_PER_ADDRESS),
        ];
        if let Some(wait) = self.sign_in_guard.blocked(&keys, clock) {
            self.metrics.sign_in("throttled");
            return Err(SignInError::Throttled {
                retry_after_seconds: wait.as_secs().max(1),
            });
        }
        let fail = |account: Option<&str>, user_arn: Option<String>, mfa_used: bool, why: &'static str| {
            self.sign_in_guard.failed(&[&user_key, &address_key], clock);
            self.metrics.sign_in(why);
            account.map(|account| sign_in_record(&request.attempt(), account, user_arn, mfa_used, false))
        };

        // A closed account's users answer as no user at all.
        let model = account
            .as_deref()
            .filter(|id| !self.is_suspended(id))
            .and_then(|id| self.account(id));
        let state = model.as_ref().map(|m| m.state().clone());
        let user = state
            .as_ref()
            .and_then(|s| s.user(&request.user_name))
            .filter(|u| u.login_profile.is_some());
        let (Some(account), Some(state), Some(user)) = (account.clone(), state.clone(), user) else {
            // The same work as a real check, so timing tells nothing either.
            if let Some(decoy) = decoy_hash() {
                let password = request.password.clone();
                if let Ok(_slot) = self.argon2_slots.acquire().await {
                    let _ = tokio::task::spawn_blocking(move || verify_password(&password, decoy)).await;
                }
            }
            let record = fail(account.as_deref(), None, false, "failed");
            self.record_sign_in(record).await?;
            return Err(SignInError::Failed);
        };
        let profile = user.login_profile.as_deref().ok_or(SignInError::Failed)?;
        let owner = password_owner(&account, user);
        if !self
            .password_matches(&owner, &profile.password_ciphertext, &request.password)
            .await
        {
            let record = fail(Some(&account), Some(user.arn.to_string()), false, "failed");
            self.record_sign_in(record).await?;
            return Err(SignInError::Failed);
        }

        let actor = Actor {
            arn: user.arn.to_string(),
            request_id: request.request_id.clone(),
        };
        let devices = state.mfa_devices_for_user(&user.user_id);
        let mfa_used = !devices.is_empty();
        if mfa_used {
            let Some(code) = request.mfa_code.as_deref() else {
                self.metrics.sign_in("mfa_required");
                return Err(SignInError::MfaRequired);
            };
            let mut accepted = false;
            for device in devices {
                if self.accept_mfa_code(&account, &actor, device, code, now).await.is_ok() {
                    accepted = true;
                    break;
                }
            }
            if !accepted {
                let record = fail(Some(&account), Some(user.arn.to_string()), true, "failed");
                self.record_sign_in(record).await?;
                return Err(SignInError::Failed);
            }
        }

        let policy = state.password_policy();
        if must_change_password(profile, policy, now) {
            if !profile.password_reset_required && policy.is_some_and(|p| p.hard_expiry) {
                let record = fail(Some(&account), Some(user.arn.to_string()), mfa_used, "expired");
                self.record_sign_in(record).await?;
                return Err(SignInError::PasswordExpired);
            }
            let Some(new_password) = request.new_password.as_ref() else {
                self.metrics.sign_in("password_change_required");
                return Err(SignInError::PasswordChangeRequired);
            };
            self.change_own_password(&account, &actor, &state, user, &request.password, new_password)
                .await?;
        }

        self.sign_in_guard.clear(&user_key);
        let command = Command::RecordSignIn {
            user_name: user.user_name.to_string(),
        };
        self.execute(&account, &actor, &command).await?;
        let claims = SessionClaims {
            kind: SessionKind::SignIn,
            account_id: account.clone(),
            access_key_id: UniqueId::generate(IdKind::TemporaryAccessKey, random_bytes())
                .as_str()
                .to_owned(),
            secret_access_key: iam_secrets::secret_access_key(&random_bytes()).to_string(),
            principal_arn: user.arn.to_string(),
            issuer_arn: user.arn.to_string(),
            issuer_id: user.user_id.to_string(),
            session_name: String::new(),
            issued_at: now,
            expires_at: expiry(now, seconds),
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            mfa_authenticated: mfa_used,
            chained: false,
            issued_to: user.arn.to_string(),
            web_identity: None,
        };
        let credentials = self.seal_session(claims)?;
        self.metrics.sign_in("succeeded");
        self.record_sign_in(Some(sign_in_record(
            &request.attempt(),
            &account,
            Some(user.arn.to_string()),
            mfa_used,
            true,
        )))
        .await?;
        Ok(SignedIn {
            credentials,
            user_arn: user.arn.to_string(),
            account_id: account,
            mfa_used,
        })
    }

    /// Signs the root user in to the console with one of its access key pairs (the root user
    /// has no password here). The same rules as a password sign-in: one answer for every wrong
    /// key or secret, failures counted per key id and per address and throttled past the
    /// limits, the secret compared in constant time, and every attempt on a key of a known
    /// account recorded as `ConsoleLogin`. Temporary keys and IAM users' keys are refused: users
    /// sign in with their passwords.
    ///
    /// # Errors
    /// [`SignInError::Failed`], [`SignInError::Throttled`] or [`SignInError::ServiceFailure`].
    pub async fn sign_in_with_key(&self, request: KeySignInRequest) -> Result<KeySignedIn, SignInError> {
        let clock = Instant::now();
        let key_key = format!("key:{}", request.access_key_id);
        let address_key = format!("address:{}", request.source_ip.as_deref().unwrap_or("unknown"));
        let keys = [
            (key_key.as_str(), MAX_FAILURES_PER_USER),
            (address_key.as_str(), MAX_FAILURES_PER_ADDRESS),
        ];
        if let Some(wait) = self.sign_in_guard.blocked(&keys, clock) {
            self.metrics.sign_in("throttled");
            return Err(SignInError::Throttled {
                retry_after_seconds: wait.as_secs().max(1),
            });
        }
        let attempt = Attempt {
            user_name: None,
            source_ip: request.source_ip.as_deref(),
            user_agent: request.user_agent.as_deref(),
            request_id: &request.request_id,
        };
        let account = self
            .account_of_key(&request.access_key_id)
            .filter(|account| !self.is_suspended(account));
        let model = account.as_deref().and_then(|account| self.account(account));
        let key = model
            .as_ref()
            .and_then(|m| m.state().access_key(&request.access_key_id).cloned())
            .filter(|key| {
                key.status == iam_domain::AccessKeyStatus::Active
                    && matches!(key.owner, iam_domain::AccessKeyOwner::Root)
            });
        let secret = match (&account, &key) {
            (Some(account), Some(key)) => self.open_secret(account, &request.access_key_id, &key.secret_ciphertext),
            _ => None,
        };
        let matches = secret.is_some_and(|stored| same_secret(stored.as_bytes(), request.secret_access_key.as_bytes()));
        let (Some(account), true) = (account, matches) else {
            self.sign_in_guard.failed(&[&key_key, &address_key], clock);
            self.metrics.sign_in("failed");
            if let Some(account) = self.account_of_key(&request.access_key_id) {
                let root = format!("arn:aws:iam::{account}:root");
                self.record_sign_in(Some(sign_in_record(&attempt, &account, Some(root), false, false)))
                    .await?;
            }
            return Err(SignInError::Failed);
        };
        self.sign_in_guard.clear(&key_key);
        self.metrics.sign_in("succeeded");
        let principal_arn = format!("arn:aws:iam::{account}:root");
        self.record_sign_in(Some(sign_in_record(
            &attempt,
            &account,
            Some(principal_arn.clone()),
            false,
            true,
        )))
        .await?;
        Ok(KeySignedIn {
            account_id: account,
            principal_arn,
        })
    }

    async fn record_sign_in(&self, record: Option<(AuditRecord, Option<String>)>) -> Result<(), SignInError> {
        let Some((mut record, user_arn)) = record else {
            return Ok(());
        };
        if let (Some(arn), Some(model)) = (user_arn, self.account(&record.recipient_account_id)) {
            let identity = crate::access::user_identity(model.state(), &arn, None);
            record.user_identity.principal_id = identity.principal_id;
            record.user_identity.arn = identity.arn;
        }
        if let Some(organization) = self.organization_of(&record.recipient_account_id) {
            record.set_organization_id(&organization);
        }
        self.record(vec![record])
            .await
            .map_err(|e| SignInError::ServiceFailure(e.message))
    }
}

/// Who tried to sign in, and from where: what a record of the attempt says.
struct Attempt<'a> {
    /// The IAM user's name; `None` for the root user (an access key sign-in).
    user_name: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: &'a str,
}

impl SignInRequest {
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            user_name: Some(&self.user_name),
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: &self.request_id,
        }
    }
}

/// The `ConsoleLogin` record of an attempt (and the principal's ARN to fill its identity from).
fn sign_in_record(
    request: &Attempt<'_>,
    account: &str,
    user_arn: Option<String>,
    mfa_used: bool,
    succeeded: bool,
) -> (AuditRecord, Option<String>) {
    let known_user = user_arn.is_some();
    let record = AuditRecord {
        event_version: "1.09".into(),
        user_identity: UserIdentity {
            identity_type: if request.user_name.is_some() { "IAMUser" } else { "Root" }.into(),
            principal_id: String::new(),
            arn: String::new(),
            account_id: account.to_owned(),
            access_key_id: None,
            user_name: match request.user_name {
                Some(name) if known_user => Some(crate::management::bounded_text(name)),
                Some(_) => Some(HIDDEN.to_owned()),
                None => None,
            },
            session_context: None,
            identity_provider: None,
        },
        event_time: Utc::now(),
        event_source: EVENT_SOURCE_SIGNIN.into(),
        event_name: "ConsoleLogin".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: request.source_ip.unwrap_or_default().to_owned(),
        user_agent: request.user_agent.unwrap_or_default().chars().take(256).collect(),
        request_parameters: serde_json::Value::Null,
        response_elements: json!({"ConsoleLogin": if succeeded { "Success" } else { "Failure" }}),
        error_code: None,
        error_message: (!succeeded).then(|| "Failed authentication".to_owned()),
        request_id: request.request_id.to_owned(),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: false,
        event_type: "AwsConsoleSignIn".into(),
        api_version: None,
        recipient_account_id: account.to_owned(),
        additional_event_data: Some(json!({
            "LoginTo": "gatehouse",
            "MobileVersion": "No",
            "MFAUsed": if mfa_used { "Yes" } else { "No" },
        })),
    };
    (record, user_arn)
}
