//! People's credentials in GraphQL: console passwords, the account password policy and virtual
//! MFA devices. Each mutation is the `iam-app` use case the IAM wire protocol calls too; the
//! reads are authorized as `GetLoginProfile`, `GetAccountPasswordPolicy`, `ListMFADevices` and
//! `ListVirtualMFADevices`. Passwords arrive as arguments and go nowhere else: the use case
//! hashes them, and records never carry them.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_domain::credentials::{MfaDevice, PasswordPolicy, PasswordPolicyInput};
use iam_domain::{AccountState, Command, Read};
use iam_secrets::password::Password;
use iam_types::ErrorCode;

use crate::error::{aws_error, from_app};
use crate::guard::Scope;
use crate::mutation::{tags_in, DeletePayload, TagIn};
use crate::types::{tags, Tag};

/// A user's console password, without the password.
#[derive(SimpleObject)]
pub struct LoginProfile {
    /// The user.
    pub user_name: String,
    /// When the password was first set.
    pub create_date: DateTime<Utc>,
    /// Whether the user must choose a new password at the next sign-in.
    pub password_reset_required: bool,
    /// When the password was last used to sign in.
    pub password_last_used: Option<DateTime<Utc>>,
}

impl LoginProfile {
    pub(crate) fn of(user: &iam_domain::User) -> Option<LoginProfile> {
        let profile = user.login_profile.as_deref()?;
        Some(LoginProfile {
            user_name: user.user_name.to_string(),
            create_date: profile.create_date,
            password_reset_required: profile.password_reset_required,
            password_last_used: profile.password_last_used,
        })
    }
}

/// The account password policy.
#[derive(SimpleObject)]
#[graphql(name = "PasswordPolicy")]
pub struct PasswordPolicyObject {
    /// Fewest characters.
    pub minimum_password_length: i32,
    /// Needs a symbol.
    pub require_symbols: bool,
    /// Needs a digit.
    pub require_numbers: bool,
    /// Needs an uppercase letter.
    pub require_uppercase_characters: bool,
    /// Needs a lowercase letter.
    pub require_lowercase_characters: bool,
    /// Users may change their own password.
    pub allow_users_to_change_password: bool,
    /// Whether passwords expire.
    pub expire_passwords: bool,
    /// Days a password lasts (absent: for ever).
    pub max_password_age: Option<i32>,
    /// Previous passwords that may not be reused (absent: none).
    pub password_reuse_prevention: Option<i32>,
    /// Whether an expired password needs an administrator's reset.
    pub hard_expiry: bool,
}

impl From<&PasswordPolicy> for PasswordPolicyObject {
    fn from(p: &PasswordPolicy) -> Self {
        PasswordPolicyObject {
            minimum_password_length: i32::from(p.minimum_password_length),
            require_symbols: p.require_symbols,
            require_numbers: p.require_numbers,
            require_uppercase_characters: p.require_uppercase_characters,
            require_lowercase_characters: p.require_lowercase_characters,
            allow_users_to_change_password: p.allow_users_to_change_password,
            expire_passwords: p.max_password_age > 0,
            max_password_age: (p.max_password_age > 0).then_some(i32::from(p.max_password_age)),
            password_reuse_prevention: (p.password_reuse_prevention > 0)
                .then_some(i32::from(p.password_reuse_prevention)),
            hard_expiry: p.hard_expiry,
        }
    }
}

/// A virtual MFA device (never its seed).
#[derive(SimpleObject)]
pub struct VirtualMfaDevice {
    /// The serial number: the device's ARN.
    pub serial_number: String,
    /// The user it is enabled for.
    pub user_name: Option<String>,
    /// When it was enabled.
    pub enable_date: Option<DateTime<Utc>>,
    /// When it was created.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl VirtualMfaDevice {
    pub(crate) fn of(state: &AccountState, device: &MfaDevice) -> Self {
        let (user_name, enable_date) = match &device.assignment {
            Some((user_id, date)) => (state.user_by_id(user_id).map(|u| u.user_name.to_string()), Some(*date)),
            None => (None, None),
        };
        VirtualMfaDevice {
            serial_number: device.serial_number.to_string(),
            user_name,
            enable_date,
            create_date: device.create_date,
            tags: tags(&device.tags),
        }
    }
}

/// A new virtual MFA device, with its seed: shown this once.
#[derive(SimpleObject)]
pub struct CreatedVirtualMfaDevice {
    /// The serial number.
    pub serial_number: String,
    /// The seed in Base32, for an authenticator app.
    pub base32_string_seed: String,
    /// `otpauth://totp/...`, for a QR code.
    pub otpauth_uri: String,
    /// The account's sequence after the change.
    pub sequence: u64,
}

/// `updateAccountPasswordPolicy` input: AWS's parameters and defaults.
#[derive(InputObject)]
pub struct PasswordPolicyIn {
    /// 6 to 128 (6 when absent).
    pub minimum_password_length: Option<i64>,
    /// Needs a symbol.
    pub require_symbols: Option<bool>,
    /// Needs a digit.
    pub require_numbers: Option<bool>,
    /// Needs an uppercase letter.
    pub require_uppercase_characters: Option<bool>,
    /// Needs a lowercase letter.
    pub require_lowercase_characters: Option<bool>,
    /// Users may change their own password.
    pub allow_users_to_change_password: Option<bool>,
    /// 1 to 1095 days (never when absent).
    pub max_password_age: Option<i64>,
    /// 1 to 24 (none when absent).
    pub password_reuse_prevention: Option<i64>,
    /// An expired password needs an administrator's reset.
    pub hard_expiry: Option<bool>,
}

/// The sequence a change left its account at.
#[derive(SimpleObject)]
pub struct ChangePayload {
    /// The account's sequence after the change (a consistency token).
    pub sequence: u64,
}

/// The credential queries, merged into `Query`.
#[derive(Default)]
pub struct CredentialQuery;

#[Object]
impl CredentialQuery {
    /// `GetAccountPasswordPolicy`.
    async fn account_password_policy(&self, ctx: &Context<'_>) -> Result<PasswordPolicyObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetAccountPasswordPolicy {})?;
        let state = scope.model.state();
        state.password_policy().map(PasswordPolicyObject::from).ok_or_else(|| {
            aws_error(
                ErrorCode::NoSuchEntity,
                format!(
                    "The Password Policy with domain name {} cannot be found.",
                    scope.account()
                ),
            )
        })
    }

    /// `ListVirtualMFADevices`: `assignmentStatus` is `Assigned`, `Unassigned` or `Any`.
    async fn virtual_mfa_devices(
        &self,
        ctx: &Context<'_>,
        assignment_status: Option<String>,
    ) -> Result<Vec<VirtualMfaDevice>> {
        let scope = Scope::of(ctx)?;
        let wanted = match assignment_status.as_deref() {
            None | Some("Any") => None,
            Some("Assigned") => Some(true),
            Some("Unassigned") => Some(false),
            Some(_) => {
                return Err(aws_error(
                    ErrorCode::ValidationError,
                    "assignmentStatus must be Assigned, Unassigned or Any",
                ))
            }
        };
        scope.read(Read::ListVirtualMFADevices { assignment_status })?;
        let state = scope.model.state();
        Ok(state
            .mfa_devices()
            .filter(|d| wanted.is_none_or(|assigned| d.assignment.is_some() == assigned))
            .map(|d| VirtualMfaDevice::of(state, d))
            .collect())
    }
}

/// The credential mutations, merged into `Mutation`.
#[derive(Default)]
pub struct CredentialMutation;

/// `EnableMFADevice` or (`resync`) `ResyncMFADevice`.
async fn two_codes(
    ctx: &Context<'_>,
    user_name: String,
    serial_number: String,
    (code1, code2): (String, String),
    resync: bool,
) -> Result<ChangePayload> {
    let scope = Scope::of(ctx)?;
    scope
        .gatehouse
        .enable_mfa_device(&scope.caller, user_name, serial_number, (&code1, &code2), resync)
        .await
        .map(changed)
        .map_err(from_app)
}

fn changed(executed: iam_app::Executed) -> ChangePayload {
    ChangePayload {
        sequence: executed.sequence,
    }
}

#[Object]
impl CredentialMutation {
    /// `CreateLoginProfile`: a console password for the user (checked against the password
    /// policy); `passwordResetRequired` makes the user choose a new one at the first sign-in.
    async fn create_login_profile(
        &self,
        ctx: &Context<'_>,
        user_name: String,
        #[graphql(secret)] password: String,
        password_reset_required: Option<bool>,
    ) -> Result<LoginProfile> {
        let scope = Scope::of(ctx)?;
        let executed = scope
            .gatehouse
            .create_login_profile(
                &scope.caller,
                user_name.clone(),
                &Password::new(password),
                password_reset_required.unwrap_or(false),
            )
            .await
            .map_err(from_app)?;
        executed
            .model
            .state()
            .user(&user_name)
            .and_then(LoginProfile::of)
            .ok_or_else(|| aws_error(ErrorCode::ServiceFailure, "the login profile vanished"))
    }

    /// `UpdateLoginProfile`: an administrator sets a new password, the reset flag, or both.
    async fn update_login_profile(
        &self,
        ctx: &Context<'_>,
        user_name: String,
        #[graphql(secret)] password: Option<String>,
        password_reset_required: Option<bool>,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        let password = password.map(Password::new);
        scope
            .gatehouse
            .update_login_profile(&scope.caller, user_name, password.as_ref(), password_reset_required)
            .await
            .map(changed)
            .map_err(from_app)
    }

    /// `DeleteLoginProfile`.
    async fn delete_login_profile(&self, ctx: &Context<'_>, user_name: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        let executed = scope
            .gatehouse
            .manage(&scope.caller, Command::DeleteLoginProfile { user_name })
            .await
            .map_err(from_app)?;
        Ok(DeletePayload {
            sequence: executed.sequence,
        })
    }

    /// `ChangePassword`: the calling IAM user changes its own password.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] old_password: String,
        #[graphql(secret)] new_password: String,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        scope
            .gatehouse
            .change_password(
                &scope.caller,
                &Password::new(old_password),
                &Password::new(new_password),
            )
            .await
            .map(changed)
            .map_err(from_app)
    }

    /// `UpdateAccountPasswordPolicy`: what the input leaves out takes AWS's default.
    async fn update_account_password_policy(
        &self,
        ctx: &Context<'_>,
        input: PasswordPolicyIn,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        let input = PasswordPolicyInput {
            minimum_password_length: input.minimum_password_length,
            require_symbols: input.require_symbols,
            require_numbers: input.require_numbers,
            require_uppercase_characters: input.require_uppercase_characters,
            require_lowercase_characters: input.require_lowercase_characters,
            allow_users_to_change_password: input.allow_users_to_change_password,
            max_password_age: input.max_password_age,
            password_reuse_prevention: input.password_reuse_prevention,
            hard_expiry: input.hard_expiry,
        };
        scope
            .gatehouse
            .manage(&scope.caller, Command::UpdateAccountPasswordPolicy(input))
            .await
            .map(changed)
            .map_err(from_app)
    }

    /// `DeleteAccountPasswordPolicy`.
    async fn delete_account_password_policy(&self, ctx: &Context<'_>) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        let executed = scope
            .gatehouse
            .manage(&scope.caller, Command::DeleteAccountPasswordPolicy {})
            .await
            .map_err(from_app)?;
        Ok(DeletePayload {
            sequence: executed.sequence,
        })
    }

    /// `CreateVirtualMFADevice`: the seed is in this answer only.
    async fn create_virtual_mfa_device(
        &self,
        ctx: &Context<'_>,
        virtual_mfa_device_name: String,
        path: Option<String>,
        tags: Option<Vec<TagIn>>,
    ) -> Result<CreatedVirtualMfaDevice> {
        let scope = Scope::of(ctx)?;
        let created = scope
            .gatehouse
            .create_virtual_mfa_device(&scope.caller, virtual_mfa_device_name, path, tags_in(tags))
            .await
            .map_err(from_app)?;
        Ok(CreatedVirtualMfaDevice {
            sequence: created.executed.sequence,
            base32_string_seed: created.base32_seed.to_string(),
            otpauth_uri: created.otpauth_uri.to_string(),
            serial_number: created.serial_number,
        })
    }

    /// `EnableMFADevice`: two consecutive codes of the device.
    async fn enable_mfa_device(
        &self,
        ctx: &Context<'_>,
        user_name: String,
        serial_number: String,
        #[graphql(secret)] authentication_code1: String,
        #[graphql(secret)] authentication_code2: String,
    ) -> Result<ChangePayload> {
        let codes = (authentication_code1, authentication_code2);
        two_codes(ctx, user_name, serial_number, codes, false).await
    }

    /// `ResyncMFADevice`: two consecutive codes of a device whose clock has drifted.
    async fn resync_mfa_device(
        &self,
        ctx: &Context<'_>,
        user_name: String,
        serial_number: String,
        #[graphql(secret)] authentication_code1: String,
        #[graphql(secret)] authentication_code2: String,
    ) -> Result<ChangePayload> {
        let codes = (authentication_code1, authentication_code2);
        two_codes(ctx, user_name, serial_number, codes, true).await
    }

    /// `DeactivateMFADevice`.
    async fn deactivate_mfa_device(
        &self,
        ctx: &Context<'_>,
        user_name: String,
        serial_number: String,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::DeactivateMFADevice {
            user_name,
            serial_number,
        };
        scope
            .gatehouse
            .manage(&scope.caller, command)
            .await
            .map(changed)
            .map_err(from_app)
    }

    /// `DeleteVirtualMFADevice` (only when deactivated).
    async fn delete_virtual_mfa_device(&self, ctx: &Context<'_>, serial_number: String) -> Result<DeletePayload> {
        let scope = Scope::of(ctx)?;
        let executed = scope
            .gatehouse
            .manage(&scope.caller, Command::DeleteVirtualMFADevice { serial_number })
            .await
            .map_err(from_app)?;
        Ok(DeletePayload {
            sequence: executed.sequence,
        })
    }

    /// `TagMFADevice`.
    async fn tag_mfa_device(
        &self,
        ctx: &Context<'_>,
        serial_number: String,
        tags: Vec<TagIn>,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::TagMFADevice {
            serial_number,
            tags: tags_in(Some(tags)),
        };
        scope
            .gatehouse
            .manage(&scope.caller, command)
            .await
            .map(changed)
            .map_err(from_app)
    }

    /// `UntagMFADevice`.
    async fn untag_mfa_device(
        &self,
        ctx: &Context<'_>,
        serial_number: String,
        tag_keys: Vec<String>,
    ) -> Result<ChangePayload> {
        let scope = Scope::of(ctx)?;
        let command = Command::UntagMFADevice {
            serial_number,
            tag_keys,
        };
        scope
            .gatehouse
            .manage(&scope.caller, command)
            .await
            .map(changed)
            .map_err(from_app)
    }
}
