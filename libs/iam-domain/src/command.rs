//! Commands: one variant per AWS IAM action, with AWS's parameter names and raw (unvalidated) input.

use crate::credentials::PasswordPolicyInput;
use crate::state::AccessKeyStatus;

/// A tag as a request carries it; `decide` validates it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagInput {
    /// `Key`.
    pub key: String,
    /// `Value`.
    pub value: String,
}

impl TagInput {
    /// A tag input.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        TagInput {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// An IAM action on one account. Text is validated by `decide`, so errors carry AWS's codes.
///
/// It serializes as its request parameters as CloudTrail records them (`{"userName": ...}`):
/// what the server generates (a new key's id and sealed secret) is not a request parameter and
/// is never serialized.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
#[allow(missing_docs)] // fields are AWS's request parameters, named as AWS names them
pub enum Command {
    /// The first command of an account's stream.
    CreateAccount {
        account_id: String,
        account_alias: Option<String>,
    },
    CreateUser {
        user_name: String,
        path: Option<String>,
        permissions_boundary: Option<String>,
        tags: Vec<TagInput>,
    },
    UpdateUser {
        user_name: String,
        new_user_name: Option<String>,
        new_path: Option<String>,
    },
    DeleteUser {
        user_name: String,
    },
    CreateGroup {
        group_name: String,
        path: Option<String>,
    },
    UpdateGroup {
        group_name: String,
        new_group_name: Option<String>,
        new_path: Option<String>,
    },
    DeleteGroup {
        group_name: String,
    },
    AddUserToGroup {
        group_name: String,
        user_name: String,
    },
    RemoveUserFromGroup {
        group_name: String,
        user_name: String,
    },
    CreateRole {
        role_name: String,
        path: Option<String>,
        assume_role_policy_document: String,
        description: Option<String>,
        max_session_duration: Option<u32>,
        permissions_boundary: Option<String>,
        tags: Vec<TagInput>,
    },
    UpdateRole {
        role_name: String,
        description: Option<String>,
        max_session_duration: Option<u32>,
    },
    UpdateAssumeRolePolicy {
        role_name: String,
        policy_document: String,
    },
    DeleteRole {
        role_name: String,
    },
    UpdateRoleDescription {
        role_name: String,
        description: String,
    },
    /// The password arrives as its argon2id hash sealed by the app layer; neither the password
    /// nor the hash is a request parameter.
    CreateLoginProfile {
        user_name: String,
        password_reset_required: bool,
        #[serde(skip)]
        password_ciphertext: String,
    },
    UpdateLoginProfile {
        user_name: String,
        password_reset_required: Option<bool>,
        #[serde(skip)]
        password_ciphertext: Option<String>,
    },
    DeleteLoginProfile {
        user_name: String,
    },
    /// A user changes its own password (the app layer checked the old one). CloudTrail records
    /// no parameters for it.
    ChangePassword {
        #[serde(skip)]
        user_name: String,
        #[serde(skip)]
        password_ciphertext: String,
    },
    UpdateAccountPasswordPolicy(PasswordPolicyInput),
    DeleteAccountPasswordPolicy {},
    /// The seed arrives sealed by the app layer, which shows it to the caller once.
    CreateVirtualMFADevice {
        #[serde(rename = "virtualMFADeviceName")]
        virtual_mfa_device_name: String,
        path: Option<String>,
        tags: Vec<TagInput>,
        #[serde(skip)]
        seed_ciphertext: String,
    },
    /// `step` is the time step of the second of the two consecutive codes the app layer checked.
    EnableMFADevice {
        user_name: String,
        serial_number: String,
        #[serde(skip)]
        step: u64,
    },
    DeactivateMFADevice {
        user_name: String,
        serial_number: String,
    },
    /// `step` and `drift_steps`: where the app layer found the two codes, and how far from now.
    ResyncMFADevice {
        user_name: String,
        serial_number: String,
        #[serde(skip)]
        step: u64,
        #[serde(skip)]
        drift_steps: i64,
    },
    DeleteVirtualMFADevice {
        serial_number: String,
    },
    TagMFADevice {
        serial_number: String,
        tags: Vec<TagInput>,
    },
    UntagMFADevice {
        serial_number: String,
        tag_keys: Vec<String>,
    },
    /// Not an AWS action: a code of the device was accepted at `step` (sign-in, STS); a later
    /// use of a code at or before it is refused.
    RecordMfaCodeUse {
        serial_number: String,
        step: u64,
    },
    /// `jwks` is a Gatehouse extension: the provider's keys, for an issuer that cannot be
    /// reached (otherwise they are fetched from its discovery document).
    CreateOpenIDConnectProvider {
        url: String,
        #[serde(rename = "clientIDList")]
        client_id_list: Vec<String>,
        thumbprint_list: Vec<String>,
        tags: Vec<TagInput>,
        #[serde(skip_serializing_if = "Option::is_none")]
        jwks: Option<String>,
    },
    AddClientIDToOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
        #[serde(rename = "clientID")]
        client_id: String,
    },
    RemoveClientIDFromOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
        #[serde(rename = "clientID")]
        client_id: String,
    },
    UpdateOpenIDConnectProviderThumbprint {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
        thumbprint_list: Vec<String>,
    },
    DeleteOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
    },
    TagOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
        tags: Vec<TagInput>,
    },
    UntagOpenIDConnectProvider {
        #[serde(rename = "openIDConnectProviderArn")]
        open_id_connect_provider_arn: String,
        tag_keys: Vec<String>,
    },
    /// Not an AWS action: the user signed in with its password (`PasswordLastUsed`).
    RecordSignIn {
        user_name: String,
    },
    CreateInstanceProfile {
        instance_profile_name: String,
        path: Option<String>,
        tags: Vec<TagInput>,
    },
    DeleteInstanceProfile {
        instance_profile_name: String,
    },
    AddRoleToInstanceProfile {
        instance_profile_name: String,
        role_name: String,
    },
    RemoveRoleFromInstanceProfile {
        instance_profile_name: String,
        role_name: String,
    },
    TagInstanceProfile {
        instance_profile_name: String,
        tags: Vec<TagInput>,
    },
    UntagInstanceProfile {
        instance_profile_name: String,
        tag_keys: Vec<String>,
    },
    CreatePolicy {
        policy_name: String,
        path: Option<String>,
        policy_document: String,
        description: Option<String>,
        tags: Vec<TagInput>,
    },
    DeletePolicy {
        policy_arn: String,
    },
    CreatePolicyVersion {
        policy_arn: String,
        policy_document: String,
        set_as_default: bool,
    },
    DeletePolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    SetDefaultPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    AttachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    DetachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    AttachGroupPolicy {
        group_name: String,
        policy_arn: String,
    },
    DetachGroupPolicy {
        group_name: String,
        policy_arn: String,
    },
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    DetachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    PutUserPolicy {
        user_name: String,
        policy_name: String,
        policy_document: String,
    },
    DeleteUserPolicy {
        user_name: String,
        policy_name: String,
    },
    PutGroupPolicy {
        group_name: String,
        policy_name: String,
        policy_document: String,
    },
    DeleteGroupPolicy {
        group_name: String,
        policy_name: String,
    },
    PutRolePolicy {
        role_name: String,
        policy_name: String,
        policy_document: String,
    },
    DeleteRolePolicy {
        role_name: String,
        policy_name: String,
    },
    TagUser {
        user_name: String,
        tags: Vec<TagInput>,
    },
    UntagUser {
        user_name: String,
        tag_keys: Vec<String>,
    },
    TagRole {
        role_name: String,
        tags: Vec<TagInput>,
    },
    UntagRole {
        role_name: String,
        tag_keys: Vec<String>,
    },
    TagPolicy {
        policy_arn: String,
        tags: Vec<TagInput>,
    },
    UntagPolicy {
        policy_arn: String,
        tag_keys: Vec<String>,
    },
    PutUserPermissionsBoundary {
        user_name: String,
        permissions_boundary: String,
    },
    DeleteUserPermissionsBoundary {
        user_name: String,
    },
    PutRolePermissionsBoundary {
        role_name: String,
        permissions_boundary: String,
    },
    DeleteRolePermissionsBoundary {
        role_name: String,
    },
    /// `user_name: None` creates a key for the account's root user.
    CreateAccessKey {
        user_name: Option<String>,
        #[serde(skip)]
        access_key_id: String,
        #[serde(skip)]
        secret_ciphertext: String,
    },
    UpdateAccessKey {
        user_name: Option<String>,
        access_key_id: String,
        status: AccessKeyStatus,
    },
    DeleteAccessKey {
        user_name: Option<String>,
        access_key_id: String,
    },
    /// Not an AWS action: the authenticator reports a key's use (`GetAccessKeyLastUsed` reads it).
    RecordAccessKeyUse {
        access_key_id: String,
        service_name: String,
        region: String,
    },
}

impl Command {
    /// The request parameters as CloudTrail's `requestParameters` records them.
    #[must_use]
    pub fn request_parameters(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The AWS action name (`CreateUser`), which IAM-on-IAM authorization checks as `iam:<name>`.
    pub fn action_name(&self) -> &'static str {
        match self {
            Command::CreateAccount { .. } => "CreateAccount",
            Command::CreateUser { .. } => "CreateUser",
            Command::UpdateUser { .. } => "UpdateUser",
            Command::DeleteUser { .. } => "DeleteUser",
            Command::CreateGroup { .. } => "CreateGroup",
            Command::UpdateGroup { .. } => "UpdateGroup",
            Command::DeleteGroup { .. } => "DeleteGroup",
            Command::AddUserToGroup { .. } => "AddUserToGroup",
            Command::RemoveUserFromGroup { .. } => "RemoveUserFromGroup",
            Command::CreateRole { .. } => "CreateRole",
            Command::UpdateRole { .. } => "UpdateRole",
            Command::UpdateAssumeRolePolicy { .. } => "UpdateAssumeRolePolicy",
            Command::DeleteRole { .. } => "DeleteRole",
            Command::UpdateRoleDescription { .. } => "UpdateRoleDescription",
            Command::CreateLoginProfile { .. } => "CreateLoginProfile",
            Command::UpdateLoginProfile { .. } => "UpdateLoginProfile",
            Command::DeleteLoginProfile { .. } => "DeleteLoginProfile",
            Command::ChangePassword { .. } => "ChangePassword",
            Command::UpdateAccountPasswordPolicy(_) => "UpdateAccountPasswordPolicy",
            Command::DeleteAccountPasswordPolicy {} => "DeleteAccountPasswordPolicy",
            Command::CreateVirtualMFADevice { .. } => "CreateVirtualMFADevice",
            Command::EnableMFADevice { .. } => "EnableMFADevice",
            Command::DeactivateMFADevice { .. } => "DeactivateMFADevice",
            Command::ResyncMFADevice { .. } => "ResyncMFADevice",
            Command::DeleteVirtualMFADevice { .. } => "DeleteVirtualMFADevice",
            Command::TagMFADevice { .. } => "TagMFADevice",
            Command::UntagMFADevice { .. } => "UntagMFADevice",
            Command::RecordMfaCodeUse { .. } => "RecordMfaCodeUse",
            Command::RecordSignIn { .. } => "RecordSignIn",
            Command::CreateOpenIDConnectProvider { .. } => "CreateOpenIDConnectProvider",
            Command::AddClientIDToOpenIDConnectProvider { .. } => "AddClientIDToOpenIDConnectProvider",
            Command::RemoveClientIDFromOpenIDConnectProvider { .. } => "RemoveClientIDFromOpenIDConnectProvider",
            Command::UpdateOpenIDConnectProviderThumbprint { .. } => "UpdateOpenIDConnectProviderThumbprint",
            Command::DeleteOpenIDConnectProvider { .. } => "DeleteOpenIDConnectProvider",
            Command::TagOpenIDConnectProvider { .. } => "TagOpenIDConnectProvider",
            Command::UntagOpenIDConnectProvider { .. } => "UntagOpenIDConnectProvider",
            Command::CreateInstanceProfile { .. } => "CreateInstanceProfile",
            Command::DeleteInstanceProfile { .. } => "DeleteInstanceProfile",
            Command::AddRoleToInstanceProfile { .. } => "AddRoleToInstanceProfile",
            Command::RemoveRoleFromInstanceProfile { .. } => "RemoveRoleFromInstanceProfile",
            Command::TagInstanceProfile { .. } => "TagInstanceProfile",
            Command::UntagInstanceProfile { .. } => "UntagInstanceProfile",
            Command::CreatePolicy { .. } => "CreatePolicy",
            Command::DeletePolicy { .. } => "DeletePolicy",
            Command::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Command::DeletePolicyVersion { .. } => "DeletePolicyVersion",
            Command::SetDefaultPolicyVersion { .. } => "SetDefaultPolicyVersion",
            Command::AttachUserPolicy { .. } => "AttachUserPolicy",
            Command::DetachUserPolicy { .. } => "DetachUserPolicy",
            Command::AttachGroupPolicy { .. } => "AttachGroupPolicy",
            Command::DetachGroupPolicy { .. } => "DetachGroupPolicy",
            Command::AttachRolePolicy { .. } => "AttachRolePolicy",
            Command::DetachRolePolicy { .. } => "DetachRolePolicy",
            Command::PutUserPolicy { .. } => "PutUserPolicy",
            Command::DeleteUserPolicy { .. } => "DeleteUserPolicy",
            Command::PutGroupPolicy { .. } => "PutGroupPolicy",
            Command::DeleteGroupPolicy { .. } => "DeleteGroupPolicy",
            Command::PutRolePolicy { .. } => "PutRolePolicy",
            Command::DeleteRolePolicy { .. } => "DeleteRolePolicy",
            Command::TagUser { .. } => "TagUser",
            Command::UntagUser { .. } => "UntagUser",
            Command::TagRole { .. } => "TagRole",
            Command::UntagRole { .. } => "UntagRole",
            Command::TagPolicy { .. } => "TagPolicy",
            Command::UntagPolicy { .. } => "UntagPolicy",
            Command::PutUserPermissionsBoundary { .. } => "PutUserPermissionsBoundary",
            Command::DeleteUserPermissionsBoundary { .. } => "DeleteUserPermissionsBoundary",
            Command::PutRolePermissionsBoundary { .. } => "PutRolePermissionsBoundary",
            Command::DeleteRolePermissionsBoundary { .. } => "DeleteRolePermissionsBoundary",
            Command::CreateAccessKey { .. } => "CreateAccessKey",
            Command::UpdateAccessKey { .. } => "UpdateAccessKey",
            Command::DeleteAccessKey { .. } => "DeleteAccessKey",
            Command::RecordAccessKeyUse { .. } => "RecordAccessKeyUse",
        }
    }
}
