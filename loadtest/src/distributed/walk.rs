//! Realistic IAM traffic for the distributed scenarios, made without a server: each account walks
//! through the commands an administrator issues (the seeded policies and groups, then users
//! joining with tags, group membership and attachments, re-tagging, attaching and detaching,
//! inline policies, users leaving), decided by the real domain (`decide`) against the account's
//! state and applied with `evolve`. The events are exactly what `iam-app` would append for the
//! same commands, so the read model's oracle (`expected_snapshot(state)`) applies to them.

use std::collections::VecDeque;

use anyhow::{Context, Result};
use chrono::Utc;
use iam_domain::{decide, evolve, AccountState, Command, DecideContext, TagInput};
use iam_eventlog::{ClaimChange, NewEvent, UniqueClaim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::scenario::{home_prefix_policy, managed_policies, principal, Kind};

/// The first account id a run uses; account `i` is this plus `i` (twelve digits).
const FIRST_ACCOUNT: u64 = 400_000_000_000;

/// One command's worth of events, ready for `EventStore::append`.
#[derive(Debug, Default)]
pub struct Step {
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// The unique-name claims and releases they imply, in order.
    pub claims: Vec<ClaimChange>,
}

impl Step {
    /// Appends `other` after this step (several commands in one append).
    pub fn extend(&mut self, other: Step) {
        self.events.extend(other.events);
        self.claims.extend(other.claims);
    }
}

/// One account's walk: its state as the log will hold it, and what comes next.
pub struct AccountWalk {
    /// The twelve-digit account id.
    pub account_id: String,
    /// The domain state after every step taken so far (the oracle's input).
    pub state: AccountState,
    rng: StdRng,
    queue: VecDeque<Command>,
    next_user: usize,
    target_users: usize,
    /// Commands `decide` refused (the walk then picks another); expected to stay near 0.
    pub refused: u64,
}

fn policy_arn(account_id: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:policy/loadtest/{name}")
}

/// The claim changes a command implies, as `iam-app` derives them from the names before and after.
fn claims_of(command: &Command) -> Vec<ClaimChange> {
    let claim = |scope: &str, name: &str| ClaimChange::Claim(UniqueClaim::new(scope, name.to_lowercase()));
    let release = |scope: &str, name: &str| ClaimChange::Release(UniqueClaim::new(scope, name.to_lowercase()));
    match command {
        Command::CreateUser { user_name, .. } => vec![claim("user", user_name)],
        Command::DeleteUser { user_name } => vec![release("user", user_name)],
        Command::CreateGroup { group_name, .. } => vec![claim("group", group_name)],
        Command::CreateRole { role_name, .. } => vec![claim("role", role_name)],
        Command::CreatePolicy { policy_name, .. } => vec![claim("policy", policy_name)],
        _ => Vec::new(),
    }
}

impl AccountWalk {
    /// The walk of the `index`-th account of a run; `target_users` is the head count it hovers
    /// around once grown.
    #[must_use]
    pub fn new(index: usize, rng_seed: u64, target_users: usize) -> Self {
        let account_id = format!("{:012}", FIRST_ACCOUNT + index as u64);
        let mut queue = VecDeque::new();
        queue.push_back(Command::CreateAccount {
            account_id: account_id.clone(),
            account_alias: Some(format!("loadtest-{index}")),
        });
        for (name, document) in managed_policies(&account_id) {
            queue.push_back(Command::CreatePolicy {
                policy_name: name.to_owned(),
                path: Some("/loadtest/".to_owned()),
                policy_document: document,
                description: Some(format!("{name} (loadtest)")),
                tags: vec![TagInput::new("owner", "platform")],
            });
        }
        for group in ["developers", "auditors"] {
            queue.push_back(Command::CreateGroup {
                group_name: group.to_owned(),
                path: Some("/teams/".to_owned()),
            });
        }
        for (group, policy) in [
            ("developers", "TeamDataAccess"),
            ("developers", "ProtectProd"),
            ("auditors", "ReadOnlyInventory"),
        ] {
            queue.push_back(Command::AttachGroupPolicy {
                group_name: group.to_owned(),
                policy_arn: policy_arn(&account_id, policy),
            });
        }
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        queue.push_back(Command::CreateRole {
            role_name: "ci-deployer".to_owned(),
            path: Some("/service/".to_owned()),
            assume_role_policy_document: trust.to_string(),
            description: Some("deploys from CI".to_owned()),
            max_session_duration: Some(3600),
            permissions_boundary: None,
            tags: vec![TagInput::new("team", "platform")],
        });
        queue.push_back(Command::AttachRolePolicy {
            role_name: "ci-deployer".to_owned(),
            policy_arn: policy_arn(&account_id, "QueueSender"),
        });
        AccountWalk {
            account_id,
            state: AccountState::new(),
            rng: StdRng::seed_from_u64(rng_seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            queue,
            next_user: 0,
            target_users: target_users.max(4),
            refused: 0,
        }
    }

    fn random_user(&mut self) -> Option<String> {
        let count = self.state.users().count();
        if count == 0 {
            return None;
        }
        let at = self.rng.gen_range(0..count);
        self.state.users().nth(at).map(|u| u.user_name.as_str().to_owned())
    }

    /// Queues a new user's onboarding and returns its first command.
    fn onboard(&mut self) -> Command {
        let i = self.next_user;
        self.next_user += 1;
        let p = principal(&self.account_id, i);
        let user_name = p.user_name.clone();
        let group = match p.kind {
            Kind::Developer => "developers",
            Kind::Auditor => "auditors",
        };
        self.queue.push_back(Command::AddUserToGroup {
            group_name: group.to_owned(),
            user_name: user_name.clone(),
        });
        self.queue.push_back(Command::AttachUserPolicy {
            user_name: user_name.clone(),
            policy_arn: policy_arn(&self.account_id, "CorpNetworkOnly"),
        });
        if p.inline_policy {
            self.queue.push_back(Command::PutUserPolicy {
                user_name: user_name.clone(),
                policy_name: "HomePrefix".to_owned(),
                policy_document: home_prefix_policy(),
            });
        }
        let mut tags = vec![
            TagInput::new("team", p.team.clone()),
            TagInput::new("cost-center", format!("cc-{}", 1000 + i % 37)),
            TagInput::new("email", format!("{user_name}@example.com")),
        ];
        if p.clearance {
            tags.push(TagInput::new("clearance", "high"));
        }
        Command::CreateUser {
            user_name,
            path: Some("/people/".to_owned()),
            permissions_boundary: None,
            tags,
        }
    }

    /// Queues a user's departure (out of its groups, policies detached and deleted) and returns
    /// its first command.
    fn offboard(&mut self, user_name: &str) -> Option<Command> {
        let user = self.state.user(user_name)?;
        let mut steps: Vec<Command> = self
            .state
            .groups_for_user(user_name)
            .iter()
            .map(|g| Command::RemoveUserFromGroup {
                group_name: g.group_name.as_str().to_owned(),
                user_name: user_name.to_owned(),
            })
            .collect();
        steps.extend(
            user.permissions
                .attached_policies
                .iter()
                .map(|arn| Command::DetachUserPolicy {
                    user_name: user_name.to_owned(),
                    policy_arn: arn.to_string(),
                }),
        );
        steps.extend(
            user.permissions
                .inline_policies
                .keys()
                .map(|name| Command::DeleteUserPolicy {
                    user_name: user_name.to_owned(),
                    policy_name: name.clone(),
                }),
        );
        steps.push(Command::DeleteUser {
            user_name: user_name.to_owned(),
        });
        let first = steps.remove(0);
        self.queue.extend(steps);
        Some(first)
    }

    fn next_command(&mut self) -> Command {
        if let Some(command) = self.queue.pop_front() {
            return command;
        }
        let users = self.state.users().count();
        let roll: u32 = self.rng.gen_range(0..100);
        if users < 4 || (users < self.target_users && roll < 30) {
            return self.onboard();
        }
        let Some(user_name) = self.random_user() else {
            return self.onboard();
        };
        let queue_sender = policy_arn(&self.account_id, "QueueSender");
        let has_queue_sender = self.state.user(&user_name).is_some_and(|u| {
            u.permissions
                .attached_policies
                .iter()
                .any(|a| a.to_string() == queue_sender)
        });
        let version = self.state.version();
        match roll {
            0..=44 => Command::TagUser {
                user_name,
                tags: vec![TagInput::new("last-review", format!("r{version}"))],
            },
            45..=54 => Command::UntagUser {
                user_name,
                tag_keys: vec!["last-review".to_owned()],
            },
            55..=74 if has_queue_sender => Command::DetachUserPolicy {
                user_name,
                policy_arn: queue_sender,
            },
            55..=74 => Command::AttachUserPolicy {
                user_name,
                policy_arn: queue_sender,
            },
            75..=84 => Command::PutUserPolicy {
                user_name,
                policy_name: "Scratch".to_owned(),
                policy_document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::scratch/{version}/*")}]})
                .to_string(),
            },
            85..=89 => Command::UpdateRole {
                role_name: "ci-deployer".to_owned(),
                description: Some(format!("deploys from CI (rev {version})")),
                max_session_duration: None,
            },
            _ if users > self.target_users / 2 => self.offboard(&user_name).unwrap_or_else(|| self.onboard()),
            _ => self.onboard(),
        }
    }

    /// Decides the next command against the state, applies its events, and returns them with
    /// their claims. A command the domain refuses is skipped (counted in `refused`).
    ///
    /// # Errors
    /// Only if no command is accepted in 64 tries, or an event cannot be encoded.
    pub fn step(&mut self, actor: &str, request_id: &str) -> Result<Step> {
        for _ in 0..64 {
            let command = self.next_command();
            let now = Utc::now();
            let ctx = DecideContext::new(now, self.rng.gen(), actor);
            let events = match decide(&self.state, &command, &ctx) {
                Ok(events) if !events.is_empty() => events,
                Ok(_) => continue,
                Err(_) => {
                    self.refused += 1;
                    continue;
                }
            };
            let mut step = Step {
                events: Vec::with_capacity(events.len()),
                claims: claims_of(&command),
            };
            for event in &events {
                evolve(&mut self.state, event);
                step.events.push(NewEvent {
                    event_id: uuid::Uuid::now_v7(),
                    recorded_at: now,
                    actor: actor.to_owned(),
                    request_id: request_id.to_owned(),
                    event_type: event.event_type().to_owned(),
                    schema_version: iam_domain::SCHEMA_VERSION,
                    payload: serde_json::to_value(event).context("encoding an event")?,
                });
            }
            return Ok(step);
        }
        anyhow::bail!("account {}: 64 commands in a row were refused", self.account_id)
    }

    /// Steps until at least `want` events are gathered (one append's worth).
    ///
    /// # Errors
    /// As [`AccountWalk::step`].
    pub fn steps(&mut self, want: usize, actor: &str, request_id: &str) -> Result<Step> {
        let mut all = Step::default();
        while all.events.len() < want.max(1) {
            all.extend(self.step(actor, request_id)?);
        }
        Ok(all)
    }

    /// The account root's ARN, the actor of every command.
    #[must_use]
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use iam_readmodel::{expected_snapshot, SqliteReadModel};

    /// The walk's events, projected by the real reducer into the SQLite read model, give exactly
    /// the rows its own state implies; and the walk grows users, groups, policies and tags.
    #[tokio::test]
    async fn walk_events_project_to_the_walks_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rm.db");
        let model = SqliteReadModel::open(path.to_str().unwrap()).await.unwrap();
        let mut position = 0;
        let mut walks: Vec<AccountWalk> = (0..3).map(|i| AccountWalk::new(i, 7, 20)).collect();
        for walk in &mut walks {
            let actor = walk.root_arn();
            let step = walk.steps(600, &actor, "test").unwrap();
            let batch: Vec<_> = step
                .events
                .into_iter()
                .enumerate()
                .map(|(n, e)| {
                    position += 1;
                    (position, e.into_envelope(walk.account_id.clone(), n as u64 + 1))
                })
                .collect();
            model.apply(&batch).await.unwrap();
            assert_eq!(walk.state.version(), batch.len() as u64);
            assert!(walk.state.users().count() >= 10, "the walk grows users");
            assert_eq!(walk.state.customer_policies().count(), 5);
            assert_eq!(walk.refused, 0, "the walk only issues valid commands");
            assert_eq!(
                model.snapshot(&walk.account_id).await.unwrap(),
                expected_snapshot(&walk.state)
            );
        }
    }
}
