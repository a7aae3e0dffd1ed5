//! Organizations for the read-model tests: random commands over a small name space, and a walk
//! that decides and evolves them purely (`decide_organization`, `evolve_organization`) and
//! wraps the events as the log stores them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam_domain::organization::{
    decide_organization, evolve_organization, OrgCommand, OrgDecideContext, OrgPolicyType, OrganizationInfo,
    OrganizationState,
};
use iam_domain::{DomainError, DomainEvent};
use iam_eventlog::EventEnvelope;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::pick;

/// Services a member can be delegated administrator of.
pub const SERVICES: [&str; 2] = ["gatehouse.amazonaws.com", "sso.amazonaws.com"];

/// A valid document of a type; `n` varies it.
pub fn policy_content(policy_type: OrgPolicyType, n: u32) -> String {
    match policy_type {
        OrgPolicyType::ServiceControlPolicy => format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::bucket-{n}"}}]}}"#
        ),
        OrgPolicyType::ResourceControlPolicy => format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bucket-{n}/*"}}]}}"#
        ),
        OrgPolicyType::TagPolicy => format!(r#"{{"tags":{{"team":{{"tag_value":{{"@@assign":["t{n}"]}}}}}}}}"#),
    }
}

fn pick_owned(rng: &mut StdRng, items: &[String]) -> String {
    if items.is_empty() {
        "x-none".to_owned()
    } else {
        items[rng.gen_range(0..items.len())].clone()
    }
}

/// A random change to `state`'s organization and the account that asks for it (the management
/// account, or an invited account answering its invitation). `outsiders` may be invited;
/// `new_account`, when given, may be created into the organization. Many fail, as they should.
pub fn random_org_command(
    rng: &mut StdRng,
    state: &OrganizationState,
    outsiders: &[&str],
    new_account: Option<&str>,
) -> (String, OrgCommand) {
    let management = state
        .info()
        .map(|i| i.management_account_id.clone())
        .unwrap_or_default();
    let root = state.root().map(|r| r.id.clone()).unwrap_or_default();
    let units: Vec<String> = state.units().map(|u| u.id.clone()).collect();
    let accounts: Vec<String> = state.accounts().map(|a| a.id.clone()).collect();
    let members: Vec<String> = accounts.iter().filter(|a| **a != management).cloned().collect();
    let parents: Vec<String> = std::iter::once(root.clone()).chain(units.iter().cloned()).collect();
    let targets: Vec<String> = parents.iter().chain(&accounts).cloned().collect();
    let policies: Vec<String> = state.policies().map(|p| p.id.clone()).collect();
    let customer: Vec<String> = state
        .policies()
        .filter(|p| !p.aws_managed)
        .map(|p| p.id.clone())
        .collect();
    let handshakes: Vec<(String, String)> = state
        .handshakes()
        .map(|h| (h.id.clone(), h.target_account_id.clone()))
        .collect();
    let policy_type = OrgPolicyType::ALL[rng.gen_range(0..3)];
    let n = rng.gen_range(0..100);
    let unit_name = pick(rng, &["eng", "ops", "sandbox"]).to_owned();
    let by_management = |command| (management.clone(), command);
    match rng.gen_range(0..27) {
        0 | 1 => by_management(OrgCommand::CreateOrganizationalUnit {
            parent_id: pick_owned(rng, &parents),
            name: unit_name,
        }),
        2 => by_management(OrgCommand::UpdateOrganizationalUnit {
            organizational_unit_id: pick_owned(rng, &units),
            name: unit_name,
        }),
        3 => by_management(OrgCommand::DeleteOrganizationalUnit {
            organizational_unit_id: pick_owned(rng, &units),
        }),
        4 if new_account.is_some() => by_management(OrgCommand::AddCreatedAccount {
            account_id: new_account.unwrap_or_default().to_owned(),
            account_name: format!("member-{n}"),
            email: format!("member-{n}@example.com"),
            parent_id: Some(pick_owned(rng, &parents)),
            request: None,
        }),
        4 | 5 => by_management(OrgCommand::InviteAccount {
            target_account_id: pick(rng, outsiders).to_owned(),
            notes: rng.gen_bool(0.5).then(|| format!("please join {n}")),
            target_in_other_organization: false,
        }),
        6..=8 => {
            let (handshake_id, target) = handshakes
                .get(rng.gen_range(0..handshakes.len().max(1)))
                .cloned()
                .unwrap_or_default();
            match rng.gen_range(0..4) {
                0 | 1 => (
                    target.clone(),
                    OrgCommand::AcceptHandshake {
                        handshake_id,
                        caller_account_id: target,
                        account_name: "invited".into(),
                        in_other_organization: false,
                    },
                ),
                2 => (
                    target.clone(),
                    OrgCommand::DeclineHandshake {
                        handshake_id,
                        caller_account_id: target,
                    },
                ),
                _ => by_management(OrgCommand::CancelHandshake { handshake_id }),
            }
        }
        9 | 10 => {
            let account_id = pick_owned(rng, &accounts);
            let source_parent_id = state.parent_of(&account_id).unwrap_or_default().to_owned();
            by_management(OrgCommand::MoveAccount {
                account_id,
                source_parent_id,
                destination_parent_id: pick_owned(rng, &parents),
            })
        }
        11 => by_management(OrgCommand::CloseAccount {
            account_id: pick_owned(rng, &members),
        }),
        12 => by_management(OrgCommand::RemoveAccount {
            account_id: pick_owned(rng, &members),
        }),
        13 | 14 => by_management(OrgCommand::CreatePolicy {
            name: pick(rng, &["deny-a", "deny-b", "deny-c"]).to_owned(),
            description: format!("policy {n}"),
            policy_type,
            content: policy_content(policy_type, n),
        }),
        15 => {
            let policy_id = pick_owned(rng, &customer);
            let content = state.policy(&policy_id).map(|p| policy_content(p.policy_type, n));
            by_management(OrgCommand::UpdatePolicy {
                policy_id,
                name: None,
                description: rng.gen_bool(0.5).then(|| format!("changed {n}")),
                content,
            })
        }
        16 => by_management(OrgCommand::DeletePolicy {
            policy_id: pick_owned(rng, &customer),
        }),
        17..=19 => by_management(OrgCommand::AttachPolicy {
            policy_id: pick_owned(rng, &policies),
            target_id: pick_owned(rng, &targets),
        }),
        20 | 21 => {
            let target_id = pick_owned(rng, &targets);
            let attached: Vec<String> = state
                .policies_for_target(&target_id, None)
                .iter()
                .map(|p| p.id.clone())
                .collect();
            by_management(OrgCommand::DetachPolicy {
                policy_id: pick_owned(rng, &attached),
                target_id,
            })
        }
        22 => by_management(OrgCommand::EnablePolicyType {
            root_id: root,
            policy_type,
        }),
        23 => by_management(OrgCommand::DisablePolicyType {
            root_id: root,
            policy_type,
        }),
        24 | 25 => by_management(OrgCommand::RegisterDelegatedAdministrator {
            account_id: pick_owned(rng, &members),
            service_principal: pick(rng, &SERVICES).to_owned(),
        }),
        _ => by_management(OrgCommand::DeregisterDelegatedAdministrator {
            account_id: pick_owned(rng, &members),
            service_principal: pick(rng, &SERVICES).to_owned(),
        }),
    }
}

/// An organization decided and evolved in memory, its events wrapped as the log stores them.
pub struct OrgWalk {
    /// The organization now.
    pub state: OrganizationState,
    /// The organization as created (the state hides it once deleted).
    pub created: Option<OrganizationInfo>,
    /// Every event so far, in order.
    pub log: Vec<EventEnvelope>,
    now: DateTime<Utc>,
    draws: u64,
    ids: StdRng,
}

impl Default for OrgWalk {
    fn default() -> Self {
        OrgWalk {
            state: OrganizationState::new(),
            created: None,
            log: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
            draws: 0,
            ids: StdRng::seed_from_u64(0x6f72_6773),
        }
    }
}

impl OrgWalk {
    /// The organization's id (empty before it is created).
    pub fn id(&self) -> String {
        self.created.as_ref().map(|i| i.id.clone()).unwrap_or_default()
    }

    /// Decides `command` from `caller` a little after the previous one, evolves the state with
    /// its events and logs them; returns the new envelopes.
    pub fn run(&mut self, caller: &str, command: &OrgCommand) -> Result<Vec<EventEnvelope>, DomainError> {
        self.now += Duration::hours(3) + Duration::microseconds(123_457);
        self.draws += 1;
        let id_bytes: [u8; 16] = self.ids.gen();
        let actor = format!("arn:aws:iam::{caller}:root");
        let ctx = OrgDecideContext::new(self.now, id_bytes, actor.clone());
        let events = decide_organization(&self.state, command, &ctx)?;
        let mut envelopes = Vec::new();
        for event in events {
            if let DomainEvent::OrganizationCreated(created) = &event {
                self.created = Some(created.organization.clone());
            }
            evolve_organization(&mut self.state, &event);
            envelopes.push(EventEnvelope {
                event_id: uuid::Uuid::now_v7(),
                account_id: self.id(),
                sequence: self.state.version(),
                recorded_at: self.now,
                actor: actor.clone(),
                request_id: format!("r{}", self.draws),
                event_type: event.event_type().to_owned(),
                schema_version: iam_domain::SCHEMA_VERSION,
                payload: serde_json::to_value(&event).unwrap(),
            });
        }
        self.log.extend(envelopes.iter().cloned());
        Ok(envelopes)
    }

    /// Creates the organization of `management`.
    pub fn create(management: &str) -> Self {
        let mut walk = OrgWalk::default();
        walk.run(
            management,
            &OrgCommand::CreateOrganization {
                management_account_id: management.to_owned(),
                management_account_email: format!("aws+{management}@example.com"),
                feature_set: None,
            },
        )
        .unwrap();
        walk
    }
}
