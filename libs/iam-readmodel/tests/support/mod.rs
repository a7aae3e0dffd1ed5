//! A random walk of IAM commands over a small name space, shared by the read-model tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod org;

use iam_app::{Actor, Gatehouse};
use iam_domain::{AccessKeyStatus, Command, TagInput};
use rand::rngs::StdRng;
use rand::Rng;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub fn document(n: u32) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{n}/*"}}]}}"#
    )
}

pub fn pick<'a>(rng: &mut StdRng, names: &[&'a str]) -> &'a str {
    names[rng.gen_range(0..names.len())]
}

/// A random IAM command over a small name space, so that most succeed and some conflict.
pub fn random_command(rng: &mut StdRng, account: &str, gatehouse: &Gatehouse) -> Command {
    let user = pick(rng, &["alice", "bob", "carol"]).to_owned();
    let group = pick(rng, &["admins", "devs"]).to_owned();
    let role = pick(rng, &["builder", "reader"]).to_owned();
    let policy = pick(rng, &["s3-read", "s3-write"]);
    let policy_arn = if rng.gen_bool(0.3) {
        "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()
    } else {
        format!("arn:aws:iam::{account}:policy/{policy}")
    };
    let tags = vec![TagInput::new(pick(rng, &["team", "env"]), pick(rng, &["a", "b"]))];
    let n = rng.gen_range(0..1000);
    let key_id = gatehouse.account(account).and_then(|m| {
        m.state()
            .access_keys()
            .last()
            .map(|k| k.access_key_id.as_str().to_owned())
    });
    match rng.gen_range(0..34) {
        0 | 1 => Command::CreateUser {
            user_name: user,
            path: Some("/staff/".into()),
            permissions_boundary: None,
            tags,
        },
        2 => Command::UpdateUser {
            user_name: user,
            new_user_name: Some(pick(rng, &["alice", "bob", "carol", "dave"]).into()),
            new_path: Some("/moved/".into()),
        },
        3 => Command::DeleteUser { user_name: user },
        4 => Command::CreateGroup {
            group_name: group,
            path: None,
        },
        5 => Command::DeleteGroup { group_name: group },
        6 | 7 => Command::AddUserToGroup {
            group_name: group,
            user_name: user,
        },
        8 => Command::RemoveUserFromGroup {
            group_name: group,
            user_name: user,
        },
        9 => Command::CreateRole {
            role_name: role,
            path: None,
            assume_role_policy_document: TRUST.into(),
            description: Some("builds".into()),
            max_session_duration: Some(7200),
            permissions_boundary: None,
            tags,
        },
        10 => Command::UpdateRole {
            role_name: role,
            description: Some(format!("d{n}")),
            max_session_duration: Some(3600),
        },
        11 => Command::DeleteRole { role_name: role },
        12 | 13 => Command::CreatePolicy {
            policy_name: policy.into(),
            path: None,
            policy_document: document(n),
            description: Some("reads".into()),
            tags,
        },
        14 => Command::CreatePolicyVersion {
            policy_arn,
            policy_document: document(n),
            set_as_default: rng.gen_bool(0.5),
        },
        15 => Command::SetDefaultPolicyVersion {
            policy_arn,
            version_id: format!("v{}", rng.gen_range(1..4)),
        },
        16 => Command::DeletePolicyVersion {
            policy_arn,
            version_id: format!("v{}", rng.gen_range(1..4)),
        },
        17 => Command::DeletePolicy { policy_arn },
        18 | 19 => Command::AttachUserPolicy {
            user_name: user,
            policy_arn,
        },
        20 => Command::DetachUserPolicy {
            user_name: user,
            policy_arn,
        },
        21 => Command::AttachGroupPolicy {
            group_name: group,
            policy_arn,
        },
        22 => Command::AttachRolePolicy {
            role_name: role,
            policy_arn,
        },
        23 => Command::PutUserPolicy {
            user_name: user,
            policy_name: "inline".into(),
            policy_document: document(n),
        },
        24 => Command::DeleteUserPolicy {
            user_name: user,
            policy_name: "inline".into(),
        },
        25 => Command::PutRolePolicy {
            role_name: role,
            policy_name: "inline".into(),
            policy_document: document(n),
        },
        26 => Command::TagUser { user_name: user, tags },
        27 => Command::UntagUser {
            user_name: user,
            tag_keys: vec!["team".into()],
        },
        28 => Command::TagPolicy { policy_arn, tags },
        29 => Command::PutUserPermissionsBoundary {
            user_name: user,
            permissions_boundary: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        },
        30 => Command::DeleteUserPermissionsBoundary { user_name: user },
        31 => Command::UpdateAssumeRolePolicy {
            role_name: role,
            policy_document: TRUST.replace("ec2", "lambda"),
        },
        32 => Command::UpdateAccessKey {
            user_name: None,
            access_key_id: key_id.unwrap_or_default(),
            status: if rng.gen_bool(0.5) {
                AccessKeyStatus::Active
            } else {
                AccessKeyStatus::Inactive
            },
        },
        _ => Command::RecordAccessKeyUse {
            access_key_id: key_id.unwrap_or_default(),
            service_name: "iam".into(),
            region: "us-east-1".into(),
        },
    }
}

pub fn actor() -> Actor {
    Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "test".into(),
    }
}
