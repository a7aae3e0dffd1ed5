//! Instance profiles on the query protocol: create, delete, add and remove a role, tags, and the
//! reads Terraform's `aws_iam_role` and Ansible's `iam_instance_profile` make.

use iam_domain::{Command, InstanceProfile, Read};

use super::{
    change, date, list_xml, max_items, no_such, page, read, role_xml, tags_xml, ApiCaller, Gatehouse, Outcome, Params,
    WireError, Xml,
};

/// The instance-profile actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    let name = || params.required("InstanceProfileName");
    Some(match action {
        "CreateInstanceProfile" => create(gatehouse, caller, params).await,
        "GetInstanceProfile" => get(gatehouse, caller, params).await,
        "ListInstanceProfiles" => list(gatehouse, caller, params).await,
        "ListInstanceProfilesForRole" => list_for_role(gatehouse, caller, params).await,
        "ListInstanceProfileTags" => list_tags(gatehouse, caller, params).await,
        "DeleteInstanceProfile" => match name() {
            Ok(instance_profile_name) => {
                change(
                    gatehouse,
                    caller,
                    Command::DeleteInstanceProfile { instance_profile_name },
                )
                .await
            }
            Err(missing) => Err(missing),
        },
        "AddRoleToInstanceProfile" | "RemoveRoleFromInstanceProfile" => {
            let (instance_profile_name, role_name) = match (name(), params.required("RoleName")) {
                (Ok(profile), Ok(role)) => (profile, role),
                (Err(missing), _) | (_, Err(missing)) => return Some(Err(missing)),
            };
            let command = if action == "AddRoleToInstanceProfile" {
                Command::AddRoleToInstanceProfile {
                    instance_profile_name,
                    role_name,
                }
            } else {
                Command::RemoveRoleFromInstanceProfile {
                    instance_profile_name,
                    role_name,
                }
            };
            change(gatehouse, caller, command).await
        }
        "TagInstanceProfile" => match name() {
            Ok(instance_profile_name) => {
                let command = Command::TagInstanceProfile {
                    instance_profile_name,
                    tags: params.tags(),
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        "UntagInstanceProfile" => match name() {
            Ok(instance_profile_name) => {
                let command = Command::UntagInstanceProfile {
                    instance_profile_name,
                    tag_keys: params.members("TagKeys"),
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        _ => return None,
    })
}

/// `InstanceProfile`'s members, with its role (when it holds one) written in full.
pub(super) fn profile_xml(xml: &mut Xml, state: &iam_domain::AccountState, profile: &InstanceProfile) {
    xml.leaf("Path", profile.path.as_str())
        .leaf("InstanceProfileName", profile.instance_profile_name.as_str())
        .leaf("InstanceProfileId", profile.instance_profile_id.as_str())
        .leaf("Arn", &profile.arn.to_string())
        .leaf("CreateDate", &date(profile.create_date));
    xml.open("Roles");
    for role in profile.roles.iter().filter_map(|id| state.role_by_id(id)) {
        xml.open("member");
        role_xml(xml, role);
        xml.close("member");
    }
    xml.close("Roles");
    tags_xml(xml, &profile.tags);
}

fn not_found(name: &str) -> WireError {
    no_such(format!("Instance Profile {name} cannot be found."))
}

async fn create(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let instance_profile_name = params.required("InstanceProfileName")?;
    let command = Command::CreateInstanceProfile {
        instance_profile_name: instance_profile_name.clone(),
        path: params.get("Path").map(str::to_owned),
        tags: params.tags(),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let state = executed.model.state();
    let profile = state
        .instance_profile(&instance_profile_name)
        .ok_or_else(|| WireError::new("ServiceFailure", 500, "the new instance profile is missing"))?;
    let mut xml = Xml::default();
    xml.open("InstanceProfile");
    profile_xml(&mut xml, state, profile);
    xml.close("InstanceProfile");
    Ok(Some(xml))
}

async fn get(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let name = params.required("InstanceProfileName")?;
    read(
        gatehouse,
        caller,
        Read::GetInstanceProfile {
            instance_profile_name: name.clone(),
        },
        |state| {
            let profile = state.instance_profile(&name).ok_or_else(|| not_found(&name))?;
            let mut xml = Xml::default();
            xml.open("InstanceProfile");
            profile_xml(&mut xml, state, profile);
            xml.close("InstanceProfile");
            Ok(Some(xml))
        },
    )
    .await
}

async fn list(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let path_prefix = params.get("PathPrefix").map(str::to_owned);
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListInstanceProfiles {
            path_prefix: path_prefix.clone(),
        },
        |state| {
            let profiles = state
                .instance_profiles()
                .filter(|p| {
                    path_prefix
                        .as_deref()
                        .is_none_or(|prefix| p.path.as_str().starts_with(prefix))
                })
                .map(|p| (p.instance_profile_name.as_str().to_lowercase(), p))
                .collect();
            let (profiles, next) = page(profiles, params, max);
            Ok(Some(list_xml("InstanceProfiles", profiles, next, |xml, p| {
                profile_xml(xml, state, p);
            })))
        },
    )
    .await
}

async fn list_for_role(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let role_name = params.required("RoleName")?;
    let max = max_items(params)?;
    read(
        gatehouse,
        caller,
        Read::ListInstanceProfilesForRole {
            role_name: role_name.clone(),
        },
        |state| {
            if state.role(&role_name).is_none() {
                return Err(no_such(format!("The role with name {role_name} cannot be found.")));
            }
            let profiles = state
                .instance_profiles_for_role(&role_name)
                .into_iter()
                .map(|p| (p.instance_profile_name.as_str().to_lowercase(), p))
                .collect();
            let (profiles, next) = page(profiles, params, max);
            Ok(Some(list_xml("InstanceProfiles", profiles, next, |xml, p| {
                profile_xml(xml, state, p);
            })))
        },
    )
    .await
}

async fn list_tags(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let name = params.required("InstanceProfileName")?;
    let call = Read::ListInstanceProfileTags {
        instance_profile_name: name.clone(),
    };
    super::list_tags(gatehouse, caller, params, call, move |state| {
        state.instance_profile(&name).map(|p| p.tags.clone())
    })
    .await
}
