//! A user's other credentials on the query protocol: signing certificates, SSH public keys,
//! service-specific credentials, MFA devices and the console password (login profile).
//!
//! Gatehouse keeps none of these kinds yet (passwords and MFA arrive with sign-in), so each list
//! answers as AWS does for a user without any: empty, after the same authorization and record as
//! every read. Tools rely on these answers: Ansible's `iam_user` and Terraform's `aws_iam_user`
//! list them all before they delete a user.

use iam_domain::{Command, Read};

use super::{change, no_such, read, user_name_or_callers, ApiCaller, Gatehouse, Outcome, Params, Xml};

/// The credential actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    let list_tag = match action {
        "ListSigningCertificates" => "Certificates",
        "ListSSHPublicKeys" => "SSHPublicKeys",
        "ListServiceSpecificCredentials" => "ServiceSpecificCredentials",
        "ListMFADevices" => "MFADevices",
        "ListVirtualMFADevices" => "VirtualMFADevices",
        "GetLoginProfile" => return Some(get_login_profile(gatehouse, caller, params).await),
        "DeleteLoginProfile" => {
            return Some(match params.required("UserName") {
                Ok(user_name) => change(gatehouse, caller, Command::DeleteLoginProfile { user_name }).await,
                Err(missing) => Err(missing),
            })
        }
        _ => return None,
    };
    Some(empty_list(gatehouse, caller, action, list_tag, params).await)
}

/// One of the lists, for the named user or (without `UserName`) the calling user; the virtual
/// MFA devices are the account's.
async fn empty_list(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    list_tag: &str,
    params: &Params,
) -> Outcome {
    let (call, user_name) = if action == "ListVirtualMFADevices" {
        let status = params.get("AssignmentStatus").map(str::to_owned);
        (
            Read::ListVirtualMFADevices {
                assignment_status: status,
            },
            None,
        )
    } else {
        let user_name = user_name_or_callers(gatehouse, caller, params)?;
        let owner = Some(user_name.clone());
        let call = match action {
            "ListSigningCertificates" => Read::ListSigningCertificates { user_name },
            "ListSSHPublicKeys" => Read::ListSSHPublicKeys { user_name },
            "ListServiceSpecificCredentials" => Read::ListServiceSpecificCredentials { user_name },
            _ => Read::ListMFADevices { user_name },
        };
        (call, owner)
    };
    read(gatehouse, caller, call, |state| {
        if let Some(user_name) = user_name {
            if state.user(&user_name).is_none() {
                return Err(no_such(format!("The user with name {user_name} cannot be found.")));
            }
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
            Err(no_such(format!(
                "Login Profile for User {} cannot be found.",
                user.user_name
            )))
        },
    )
    .await
}
