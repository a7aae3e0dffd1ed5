//! `decide` for login profiles, the password policy and virtual MFA devices.

use iam_types::{IamArn, NameKind};

use super::{parse_name, parse_path, parse_tags, quota_exceeded, Decider, Decision};
use crate::command::TagInput;
use crate::credentials::*;
use crate::error::DomainError;
use crate::event::{DomainEvent, EntityRef};
use crate::state::User;

fn no_login_profile(user: &User) -> DomainError {
    DomainError::NoSuchEntity(format!("Login Profile for User {} cannot be found.", user.user_name))
}

fn sealed(text: &str, what: &str) -> Result<(), DomainError> {
    if text.is_empty() {
        return Err(DomainError::ServiceFailure(format!("the {what} was not sealed")));
    }
    Ok(())
}

impl<'a> Decider<'a> {
    pub(super) fn create_login_profile(
        &self,
        user_name: &str,
        password_reset_required: bool,
        password_ciphertext: &str,
    ) -> Decision {
        let user = self.user(user_name)?;
        if user.login_profile.is_some() {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Login Profile for user {} already exists.",
                user.user_name
            )));
        }
        sealed(password_ciphertext, "password")?;
        Ok(vec![DomainEvent::LoginProfileCreated(LoginProfileCreated {
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            password_ciphertext: password_ciphertext.to_owned(),
            password_reset_required,
            create_date: self.ctx.now,
        })])
    }

    pub(super) fn update_login_profile(
        &self,
        user_name: &str,
        password_reset_required: Option<bool>,
        password_ciphertext: Option<&str>,
    ) -> Decision {
        let user = self.user(user_name)?;
        let profile = user.login_profile.as_deref().ok_or_else(|| no_login_profile(user))?;
        if let Some(ciphertext) = password_ciphertext {
            sealed(ciphertext, "password")?;
        }
        let flag = password_reset_required.filter(|r| *r != profile.password_reset_required);
        if password_ciphertext.is_none() && flag.is_none() {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::LoginProfileUpdated(LoginProfileUpdated {
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            password_ciphertext: password_ciphertext.map(str::to_owned),
            password_reset_required: flag,
            update_date: self.ctx.now,
        })])
    }

    pub(super) fn change_password(&self, user_name: &str, password_ciphertext: &str) -> Decision {
        let user = self.user(user_name)?;
        let profile = user.login_profile.as_deref().ok_or_else(|| no_login_profile(user))?;
        sealed(password_ciphertext, "password")?;
        Ok(vec![DomainEvent::LoginProfileUpdated(LoginProfileUpdated {
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            password_ciphertext: Some(password_ciphertext.to_owned()),
            password_reset_required: profile.password_reset_required.then_some(false),
            update_date: self.ctx.now,
        })])
    }

    pub(super) fn delete_login_profile(&self, user_name: &str) -> Decision {
        let user = self.user(user_name)?;
        user.login_profile.as_deref().ok_or_else(|| no_login_profile(user))?;
        Ok(vec![DomainEvent::LoginProfileDeleted(EntityRef {
            id: user.user_id.clone(),
            name: user.user_name.clone(),
        })])
    }

    pub(super) fn record_sign_in(&self, user_name: &str) -> Decision {
        let user = self.user(user_name)?;
        user.login_profile.as_deref().ok_or_else(|| no_login_profile(user))?;
        Ok(vec![DomainEvent::LoginProfileUsed(LoginProfileUsed {
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            date: self.ctx.now,
        })])
    }

    pub(super) fn update_password_policy(&self, input: &PasswordPolicyInput) -> Decision {
        let policy = input.to_policy()?;
        if self.state.password_policy() == Some(&policy) {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::PasswordPolicyUpdated(policy)])
    }

    pub(super) fn delete_password_policy(&self) -> Decision {
        if self.state.password_policy().is_none() {
            return Err(DomainError::NoSuchEntity(
                "The account policy with name PasswordPolicy cannot be found.".to_owned(),
            ));
        }
        Ok(vec![DomainEvent::PasswordPolicyDeleted(PasswordPolicyDeleted {})])
    }

    fn mfa_device(&self, serial_number: &str) -> Result<&'a MfaDevice, DomainError> {
        self.state.mfa_device(serial_number).ok_or_else(|| {
            DomainError::NoSuchEntity(format!(
                "VirtualMFADevice with serial number {serial_number} doesn't exist."
            ))
        })
    }

    /// The device, enabled for the named user.
    fn users_mfa_device(&self, user_name: &str, serial_number: &str) -> Result<(&'a User, &'a MfaDevice), DomainError> {
        let user = self.user(user_name)?;
        let device = self
            .state
            .mfa_device(serial_number)
            .filter(|d| d.assignment.as_ref().is_some_and(|(owner, _)| owner == &user.user_id))
            .ok_or_else(|| {
                DomainError::NoSuchEntity(format!(
                    "MFA Device with serial number {serial_number} does not exist for user {}.",
                    user.user_name
                ))
            })?;
        Ok((user, device))
    }

    pub(super) fn create_virtual_mfa_device(
        &self,
        name: &str,
        path: Option<&str>,
        tags: &[TagInput],
        seed_ciphertext: &str,
    ) -> Decision {
        let name = parse_name(NameKind::MfaDevice, name)?;
        let path = parse_path(path)?;
        let tags = parse_tags(tags)?;
        if self.state.mfa_devices.contains_key(&name.key()) {
            return Err(DomainError::EntityAlreadyExists(
                "MFADevice entity at the same path and name already exists.".to_owned(),
            ));
        }
        if self.state.mfa_devices.len() >= MFA_DEVICES_PER_ACCOUNT {
            return Err(quota_exceeded("VirtualMFADevicesPerAccount", MFA_DEVICES_PER_ACCOUNT));
        }
        sealed(seed_ciphertext, "seed")?;
        Ok(vec![DomainEvent::MfaDeviceCreated(MfaDeviceCreated {
            serial_number: IamArn::mfa_device(self.account, &path, &name),
            name,
            path,
            seed_ciphertext: seed_ciphertext.to_owned(),
            create_date: self.ctx.now,
            tags,
        })])
    }

    pub(super) fn enable_mfa_device(&self, user_name: &str, serial_number: &str, step: u64) -> Decision {
        let user = self.user(user_name)?;
        let device = self.mfa_device(serial_number)?;
        if device.assignment.is_some() {
            return Err(DomainError::EntityAlreadyExists(
                "MFA Device is already in use.".to_owned(),
            ));
        }
        if self.state.mfa_devices_for_user(&user.user_id).len() >= MFA_DEVICES_PER_USER {
            return Err(quota_exceeded("MFADevicesPerUser", MFA_DEVICES_PER_USER));
        }
        if step <= device.last_step {
            return Err(code_already_used());
        }
        Ok(vec![DomainEvent::MfaDeviceEnabled(MfaDeviceAssignment {
            serial_number: device.serial_number.clone(),
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            date: self.ctx.now,
            step,
        })])
    }

    pub(super) fn deactivate_mfa_device(&self, user_name: &str, serial_number: &str) -> Decision {
        let (user, device) = self.users_mfa_device(user_name, serial_number)?;
        Ok(vec![DomainEvent::MfaDeviceDeactivated(MfaDeviceAssignment {
            serial_number: device.serial_number.clone(),
            user_id: user.user_id.clone(),
            user_name: user.user_name.clone(),
            date: self.ctx.now,
            step: 0,
        })])
    }

    pub(super) fn resync_mfa_device(
        &self,
        user_name: &str,
        serial_number: &str,
        step: u64,
        drift_steps: i64,
    ) -> Decision {
        let (_, device) = self.users_mfa_device(user_name, serial_number)?;
        if step <= device.last_step {
            return Err(code_already_used());
        }
        Ok(vec![DomainEvent::MfaDeviceResynced(MfaDeviceStep {
            serial_number: device.serial_number.clone(),
            step,
            drift_steps,
            date: self.ctx.now,
        })])
    }

    pub(super) fn record_mfa_code_use(&self, serial_number: &str, step: u64) -> Decision {
        let device = self.mfa_device(serial_number)?;
        if device.assignment.is_none() {
            return Err(DomainError::InvalidAuthenticationCode(
                "MFA device is not enabled for any user".to_owned(),
            ));
        }
        if step <= device.last_step {
            return Err(code_already_used());
        }
        Ok(vec![DomainEvent::MfaCodeUsed(MfaDeviceStep {
            serial_number: device.serial_number.clone(),
            step,
            drift_steps: device.drift_steps,
            date: self.ctx.now,
        })])
    }

    pub(super) fn delete_virtual_mfa_device(&self, serial_number: &str) -> Decision {
        let device = self.mfa_device(serial_number)?;
        if device.assignment.is_some() {
            return Err(DomainError::DeleteConflict(
                "MFA Device is still in use: deactivate it first.".to_owned(),
            ));
        }
        Ok(vec![DomainEvent::MfaDeviceDeleted(MfaDeviceDeleted {
            serial_number: device.serial_number.clone(),
        })])
    }

    pub(super) fn tag_mfa_device(&self, serial_number: &str, tags: &[TagInput]) -> Decision {
        let device = self.mfa_device(serial_number)?;
        let tags = self.merge_tags(&device.tags, tags)?;
        Ok(vec![DomainEvent::MfaDeviceTagged(MfaDeviceTagged {
            serial_number: device.serial_number.clone(),
            tags,
        })])
    }

    pub(super) fn untag_mfa_device(&self, serial_number: &str, tag_keys: &[String]) -> Decision {
        let device = self.mfa_device(serial_number)?;
        for key in tag_keys {
            iam_types::Tag::check_key(key)?;
        }
        let present: Vec<String> = tag_keys
            .iter()
            .filter(|k| device.tags.iter().any(|t| t.key() == k.as_str()))
            .cloned()
            .collect();
        if present.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::MfaDeviceUntagged(MfaDeviceUntagged {
            serial_number: device.serial_number.clone(),
            tag_keys: present,
        })])
    }
}

fn code_already_used() -> DomainError {
    DomainError::InvalidAuthenticationCode("MFA code has already been used; wait for the next one.".to_owned())
}
