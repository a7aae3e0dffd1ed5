//! A user's other credentials on the query protocol: console passwords (login profiles), the
//! account password policy, virtual MFA devices, and the kinds Gatehouse keeps none of
//! (signing certificates, SSH public keys, service-specific credentials), which list as AWS
//! lists them for a user without any (Ansible's `iam_user` and Terraform's `aws_iam_user` read
//! them all before they delete a user).
//!
//! Passwords, seeds and codes go straight to their `iam-app` use cases; the answers carry a
//! secret only where AWS's do (`CreateVirtualMFADevice`'s seed, once).

use iam_domain::credentials::{MfaDevice, PasswordPolicy, PasswordPolicyInput};
use iam_domain::{Command, Read};
use iam_secrets::password::Password;

use super::{
    change, date, list_tags, list_xml, max_items, no_such, page, read, tags_xml, user_name_or_callers, user_xml,
    ApiCaller, Gatehouse, Outcome, Params, WireError, Xml,
};

/// The credential actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    Some(match action {
        "ListSigningCertificates" | "ListSSHPublicKeys" | "ListServiceSpecificCredentials" => {
            empty_list(gatehouse, caller, action, params).await
        }
        "CreateLoginProfile" => create_login_profile(gatehouse, caller, params).await,
        "UpdateLoginProfile" => update_login_profile(gatehouse, caller, params).await,
        "GetLoginProfile" => get_login_profile(gatehouse, caller, params).await,
        "DeleteLoginProfile" => match params.required("UserName") {
            Ok(user_name) => change(gatehouse, caller, Command::DeleteLoginProfile { user_name }).await,
            Err(missing) => Err(missing),
        },
        "ChangePassword" => change_password(gatehouse, caller, params).await,
        "UpdateAccountPasswordPolicy" => update_password_policy(gatehouse, caller, params).await,
        "GetAccountPasswordPolicy" => get_password_policy(gatehouse, caller).await,
        "DeleteAccountPasswordPolicy" => change(gatehouse, caller, Command::DeleteAccountPasswordPolicy {}).await,
        "CreateVirtualMFADevice" => create_virtual_mfa_device(gatehouse, caller, params).await,
        "EnableMFADevice" | "ResyncMFADevice" => enable_mfa_device(gatehouse, caller, action, params).await,
        "DeactivateMFADevice" => deactivate_mfa_device(gatehouse, caller, params).await,
        "DeleteVirtualMFADevice" => match params.required("SerialNumber") {
            Ok(serial_number) => change(gatehouse, caller, Command::DeleteVirtualMFADevice { serial_number }).await,
            Err(missing) => Err(missing),
        },
        "ListMFADevices" => list_mfa_devices(gatehouse, caller, params).await,
        "ListVirtualMFADevices" => list_virtual_mfa_devices(gatehouse, caller, params).await,
        "TagMFADevice" => match params.required("SerialNumber") {
            Ok(serial_number) => {
                let tags = params.tags();
                change(gatehouse, caller, Command::TagMFADevice { serial_number, tags }).await
            }
            Err(missing) => Err(missing),
        },
        "UntagMFADevice" => match params.required("SerialNumber") {
            Ok(serial_number) => {
                let tag_keys = params.members("TagKeys");
                change(
                    gatehouse,
                    caller,
                    Command::UntagMFADevice {
                        serial_number,
                        tag_keys,
                    },
                )
                .await
            }
            Err(missing) => Err(missing),
        },
        "ListMFADeviceTags" => match params.required("SerialNumber") {
            Ok(serial_number) => {
                let call = Read::ListMFADeviceTags {
                    serial_number: serial_number.clone(),
                };
                list_tags(gatehouse, caller, params, call, |state| {
                    state.mfa_device(&serial_number).map(|d| d.tags.clone())
                })
                .await
            }
            Err(missing) => Err(missing),
        },
        _ => return None,
    })
}

/// A boolean parameter: `true`, `false`, or absent.
fn flag(params: &Params, name: &str) -> Result<Option<bool>, WireError> {
    match params.get(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(WireError::new(
            "ValidationError",
            400,
            format!(
                "{name} must be true or false, not {}",
                other.chars().take(16).collect::<String>()
            ),
        )),
    }
}

/// A whole-number parameter.
fn number(params: &Params, name: &str) -> Result<Option<i64>, WireError> {
    params
        .get(name)
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| WireError::new("ValidationError", 400, format!("{name} must be a whole number")))
        })
        .transpose()
}

/// One of the lists of credential kinds Gatehouse does not keep, for the named user or
/// (without `UserName`) the calling user: empty.
async fn empty_list(gatehouse: &Gatehouse, caller: &ApiCaller, action: &str, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let (call, list_tag) = match action {
        "ListSigningCertificates" => (
            Read::ListSigningCertificates {
                user_name: user_name.clone(),
            },
            "Certificates",
        ),
        "ListSSHPublicKeys" => (
            Read::ListSSHPublicKeys {
                user_name: user_name.clone(),
            },
            "SSHPublicKeys",
        ),
        _ => (
            Read::ListServiceSpecificCredentials {
                user_name: user_name.clone(),
            },
            "ServiceSpecificCredentials",
        ),
    };
    read(gatehouse, caller, call, |state| {
        if state.user(&user_name).is_none() {
            return Err(no_such(format!("The user with name {user_name} cannot be found.")));
        }
        let mut xml = Xml::default();
        xml.open(list_tag).close(list_tag);
        // `ListServiceSpecificCredentials` is the one list AWS does not page.
        if list_tag != "ServiceSpecificCredentials" {
            xml.leaf("IsTruncated", "false");
        }
        Ok(Some(xml))
    })
    .await
}

fn login_profile_xml(user: &iam_domain::User) -> Option<Xml> {
    let profile = user.login_profile.as_deref()?;
    let mut xml = Xml::default();
    xml.open("LoginProfile")
        .leaf("UserName", user.user_name.as_str())
        .leaf("CreateDate", &date(profile.create_date))
        .leaf(
            "PasswordResetRequired",
            if profile.password_reset_required {
                "true"
            } else {
                "false"
            },
        )
        .close("LoginProfile");
    Some(xml)
}

async fn create_login_profile(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let password = Password::new(params.required("Password")?);
    let reset = flag(params, "PasswordResetRequired")?.unwrap_or(false);
    let executed = gatehouse
        .create_login_profile(caller, user_name.clone(), &password, reset)
        .await?;
    Ok(executed.model.state().user(&user_name).and_then(login_profile_xml))
}

async fn update_login_profile(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let password = params.get("Password").map(Password::new);
    let reset = flag(params, "PasswordResetRequired")?;
    gatehouse
        .update_login_profile(caller, user_name, password.as_ref(), reset)
        .await?;
    Ok(None)
}

async fn get_login_profile(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    read(
        gatehouse,
        caller,
        Read::GetLoginProfile {
            user_name: user_name.clone(),
        },
        |state| {
            let user = state
                .user(&user_name)
                .ok_or_else(|| no_such(format!("The user with name {user_name} cannot be found.")))?;
            login_profile_xml(user)
                .map(Some)
                .ok_or_else(|| no_such(format!("Login Profile for User {} cannot be found.", user.user_name)))
        },
    )
    .await
}

async fn change_password(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let old = Password::new(params.required("OldPassword")?);
    let new = Password::new(params.required("NewPassword")?);
    gatehouse.change_password(caller, &old, &new).await?;
    Ok(None)
}

async fn update_password_policy(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let input = PasswordPolicyInput {
        minimum_password_length: number(params, "MinimumPasswordLength")?,
        require_symbols: flag(params, "RequireSymbols")?,
        require_numbers: flag(params, "RequireNumbers")?,
        require_uppercase_characters: flag(params, "RequireUppercaseCharacters")?,
        require_lowercase_characters: flag(params, "RequireLowercaseCharacters")?,
        allow_users_to_change_password: flag(params, "AllowUsersToChangePassword")?,
        max_password_age: number(params, "MaxPasswordAge")?,
        password_reuse_prevention: number(params, "PasswordReusePrevention")?,
        hard_expiry: flag(params, "HardExpiry")?,
    };
    change(gatehouse, caller, Command::UpdateAccountPasswordPolicy(input)).await
}

fn password_policy_xml(policy: &PasswordPolicy) -> Xml {
    let yes = |b: bool| if b { "true" } else { "false" };
    let mut xml = Xml::default();
    xml.open("PasswordPolicy")
        .leaf("MinimumPasswordLength", &policy.minimum_password_length.to_string())
        .leaf("RequireSymbols", yes(policy.require_symbols))
        .leaf("RequireNumbers", yes(policy.require_numbers))
        .leaf("RequireUppercaseCharacters", yes(policy.require_uppercase_characters))
        .leaf("RequireLowercaseCharacters", yes(policy.require_lowercase_characters))
        .leaf("AllowUsersToChangePassword", yes(policy.allow_users_to_change_password))
        .leaf("ExpirePasswords", yes(policy.max_password_age > 0));
    if policy.max_password_age > 0 {
        xml.leaf("MaxPasswordAge", &policy.max_password_age.to_string());
    }
    if policy.password_reuse_prevention > 0 {
        xml.leaf("PasswordReusePrevention", &policy.password_reuse_prevention.to_string());
    }
    xml.leaf("HardExpiry", yes(policy.hard_expiry)).close("PasswordPolicy");
    xml
}

async fn get_password_policy(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    let account = caller.account_id.clone();
    read(gatehouse, caller, Read::GetAccountPasswordPolicy {}, |state| {
        let policy = state.password_policy().ok_or_else(|| {
            no_such(format!(
                "The Password Policy with domain name {account} cannot be found."
            ))
        })?;
        Ok(Some(password_policy_xml(policy)))
    })
    .await
}

async fn create_virtual_mfa_device(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    use base64::Engine as _;
    let created = gatehouse
        .create_virtual_mfa_device(
            caller,
            params.required("VirtualMFADeviceName")?,
            params.get("Path").map(str::to_owned),
            params.tags(),
        )
        .await?;
    let mut xml = Xml::default();
    xml.open("VirtualMFADevice")
        .leaf("SerialNumber", &created.serial_number)
        // A blob on the wire: base64 of the Base32 text, which the SDKs decode back to it.
        .leaf(
            "Base32StringSeed",
            &base64::engine::general_purpose::STANDARD.encode(created.base32_seed.as_bytes()),
        );
    if let Some(device) = created.executed.model.state().mfa_device(&created.serial_number) {
        tags_xml(&mut xml, &device.tags);
    }
    xml.close("VirtualMFADevice");
    Ok(Some(xml))
}

async fn enable_mfa_device(gatehouse: &Gatehouse, caller: &ApiCaller, action: &str, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let serial_number = params.required("SerialNumber")?;
    let code1 = params.required("AuthenticationCode1")?;
    let code2 = params.required("AuthenticationCode2")?;
    gatehouse
        .enable_mfa_device(
            caller,
            user_name,
            serial_number,
            (&code1, &code2),
            action == "ResyncMFADevice",
        )
        .await?;
    Ok(None)
}

async fn deactivate_mfa_device(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let serial_number = params.required("SerialNumber")?;
    change(
        gatehouse,
        caller,
        Command::DeactivateMFADevice {
            user_name,
            serial_number,
        },
    )
    .await
}

/// `ListMFADevices`: the devices enabled for the named (or calling) user.
async fn list_mfa_devices(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let user_name = user_name_or_callers(gatehouse, caller, params)?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListMFADevices {
            user_name: user_name.clone(),
        },
        |state| {
            let user = state
                .user(&user_name)
                .ok_or_else(|| no_such(format!("The user with name {user_name} cannot be found.")))?;
            let devices = state
                .mfa_devices_for_user(&user.user_id)
                .into_iter()
                .map(|d| (d.serial_number.to_string(), d))
                .collect();
            let (devices, next) = page(devices, params, max);
            Ok(Some(list_xml(
                "MFADevices",
                devices,
                next,
                |xml, device: &MfaDevice| {
                    xml.leaf("UserName", user.user_name.as_str())
                        .leaf("SerialNumber", &device.serial_number.to_string());
                    if let Some((_, enabled)) = &device.assignment {
                        xml.leaf("EnableDate", &date(*enabled));
                    }
                },
            )))
        },
    )
    .await
}

/// `ListVirtualMFADevices`: the account's devices, `Assigned`, `Unassigned` or `Any`.
async fn list_virtual_mfa_devices(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let status = params.get("AssignmentStatus").map(str::to_owned);
    let wanted = match status.as_deref() {
        None | Some("Any") => None,
        Some("Assigned") => Some(true),
        Some("Unassigned") => Some(false),
        Some(_) => {
            return Err(WireError::new(
                "ValidationError",
                400,
                "AssignmentStatus must be Assigned, Unassigned or Any",
            ))
        }
    };
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListVirtualMFADevices {
            assignment_status: status,
        },
        |state| {
            let devices = state
                .mfa_devices()
                .filter(|d| wanted.is_none_or(|assigned| d.assignment.is_some() == assigned))
                .map(|d| (d.serial_number.to_string(), d))
                .collect();
            let (devices, next) = page(devices, params, max);
            Ok(Some(list_xml(
                "VirtualMFADevices",
                devices,
                next,
                |xml, device: &MfaDevice| {
                    xml.leaf("SerialNumber", &device.serial_number.to_string());
                    if let Some((user_id, enabled)) = &device.assignment {
                        if let Some(user) = state.user_by_id(user_id) {
                            xml.open("User");
                            user_xml(xml, user);
                            xml.close("User");
                        }
                        xml.leaf("EnableDate", &date(*enabled));
                    }
                    tags_xml(xml, &device.tags);
                },
            )))
        },
    )
    .await
}
