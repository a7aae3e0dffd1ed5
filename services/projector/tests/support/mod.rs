//! Writes shared by the projector tests: a stream of IAM commands over a few names per account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use iam_app::{Actor, Gatehouse};
use iam_domain::{Command as IamCommand, TagInput};

pub fn actor() -> Actor {
    Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "kill9".into(),
    }
}

pub async fn write(gatehouse: &Gatehouse, account: &str, i: usize) {
    let user = format!("user-{}", i % 40);
    let commands = [
        IamCommand::CreateUser {
            user_name: user.clone(),
            path: None,
            permissions_boundary: None,
            tags: vec![TagInput::new("n", i.to_string())],
        },
        IamCommand::CreateGroup {
            group_name: format!("group-{}", i % 5),
            path: None,
        },
        IamCommand::AddUserToGroup {
            group_name: format!("group-{}", i % 5),
            user_name: user.clone(),
        },
        IamCommand::AttachUserPolicy {
            user_name: user.clone(),
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        },
        IamCommand::TagUser {
            user_name: user,
            tags: vec![TagInput::new("round", i.to_string())],
        },
    ];
    for command in &commands {
        // Conflicts with earlier rounds (a user that exists) are part of the walk.
        let _ = gatehouse.execute(account, &actor(), command).await;
    }
}
