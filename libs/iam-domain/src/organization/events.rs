//! The facts an organization's stream records, and `evolve_organization`.
//!
//! They are variants of [`DomainEvent`] (named `organizations.*`), so every reader of the log
//! (projectors, relays, followers) decodes them the one way; an account's `evolve` ignores them.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::*;
use crate::event::DomainEvent;

/// `organizations.organization.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationCreated {
    /// The organization.
    pub organization: OrganizationInfo,
    /// Its root.
    pub root_id: String,
    /// The root's ARN.
    pub root_arn: String,
    /// The management account, its first member.
    pub management_account: MemberAccount,
}

/// `organizations.organization.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationDeleted {
    /// When.
    pub deleted: DateTime<Utc>,
}

/// `organizations.unit.created` and `organizations.unit.renamed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChanged {
    /// The OU as it is after the event.
    pub unit: OrganizationalUnit,
}

/// `organizations.unit.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitDeleted {
    /// The OU.
    pub id: String,
}

/// `organizations.account.joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountJoined {
    /// The account as it is in the organization.
    pub account: MemberAccount,
    /// The invitation it accepted, if any.
    pub handshake_id: Option<String>,
    /// The `CreateAccount` request that made it, if any.
    pub create_request: Option<CreateAccountRequest>,
}

/// `organizations.account.creation_started`: the first half of `CreateAccount`. The organization
/// reserves the account (its id, name, place and a seat in the quota) before the account is made,
/// so a crash between the two leaves a request that a restart finishes, not an orphan account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCreationStarted {
    /// The request.
    pub request: CreateAccountRequest,
    /// The account to make.
    pub account_id: String,
    /// Its name.
    pub account_name: String,
    /// Its e-mail address.
    pub email: String,
    /// Where it goes (the root when absent).
    pub parent_id: Option<String>,
    /// The administrator role made in it, trusting the management account.
    pub role_name: String,
}

/// `organizations.account.creation_failed`: a `CreateAccount` request that will not make its
/// account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCreationFailed {
    /// The request's id.
    pub request_id: String,
    /// AWS's `CreateAccountFailureReason` (`INTERNAL_FAILURE`, ...).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// `organizations.account.moved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMoved {
    /// The account.
    pub account_id: String,
    /// Where it was.
    pub source_parent_id: String,
    /// Where it is.
    pub destination_parent_id: String,
}

/// `organizations.account.removed` (by the management account, or leaving on its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRemoved {
    /// The account.
    pub account_id: String,
    /// Whether it left on its own (`LeaveOrganization`).
    pub left: bool,
}

/// `organizations.account.closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClosed {
    /// The account.
    pub account_id: String,
    /// When.
    pub closed: DateTime<Utc>,
}

/// `organizations.policy.created` and `organizations.policy.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicyChanged {
    /// The policy as it is after the event.
    pub policy: OrgPolicy,
}

/// `organizations.policy.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicyDeleted {
    /// The policy.
    pub policy_id: String,
}

/// `organizations.policy.attached` and `organizations.policy.detached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicyAttachment {
    /// The policy.
    pub policy_id: String,
    /// The root, OU or account.
    pub target_id: String,
}

/// `organizations.policy_type.enabled` and `organizations.policy_type.disabled`. Enabling a type
/// attaches its AWS-managed full-access policy to every node; disabling it detaches every policy
/// of that type, as AWS does, without an event per node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyTypeChanged {
    /// The root.
    pub root_id: String,
    /// The type.
    pub policy_type: OrgPolicyType,
}

/// `organizations.handshake.opened`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeOpened {
    /// The invitation.
    pub handshake: Handshake,
}

/// `organizations.handshake.declined` and `organizations.handshake.canceled` (an accepted one
/// ends with `organizations.account.joined`, which names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeClosed {
    /// The invitation.
    pub handshake_id: String,
}

/// `organizations.delegated_administrator.registered` and `.deregistered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedAdministratorChanged {
    /// The member account.
    pub account_id: String,
    /// The service principal.
    pub service_principal: String,
    /// When.
    pub at: DateTime<Utc>,
}

fn attach_full_access(state: &mut OrganizationState, policy_type: OrgPolicyType, target: &str) {
    if state.policy_type_enabled(policy_type) {
        if let Some(full) = policy_type.full_access_policy() {
            Arc::make_mut(state.attachments.entry(target.to_owned()).or_default()).insert(full.id.to_owned());
        }
    }
}

fn attach_full_access_of_every_type(state: &mut OrganizationState, target: &str) {
    for policy_type in OrgPolicyType::ALL {
        attach_full_access(state, policy_type, target);
    }
}

fn aws_managed(policy: &AwsManagedOrgPolicy) -> OrgPolicy {
    OrgPolicy {
        id: policy.id.to_owned(),
        arn: policy.arn(),
        name: policy.name.to_owned(),
        description: policy.description.to_owned(),
        policy_type: policy.policy_type,
        content: policy.content.to_owned(),
        aws_managed: true,
        revision: 1,
    }
}

/// Applies one event to an organization. Events that are not the organization's are ignored, and
/// so is anything that no longer fits (events are facts; `decide` made sure they fit).
pub fn evolve_organization(state: &mut OrganizationState, event: &DomainEvent) {
    match event {
        DomainEvent::OrganizationCreated(e) => {
            state.info = Some(e.organization.clone());
            state.root = Some(OrgRoot {
                id: e.root_id.clone(),
                arn: e.root_arn.clone(),
                name: "Root".to_owned(),
                enabled_policy_types: BTreeSet::new(),
            });
            for policy in &AWS_MANAGED_ORG_POLICIES {
                state
                    .policies
                    .insert(policy.id.to_owned(), Arc::new(aws_managed(policy)));
            }
            state
                .accounts
                .insert(e.management_account.id.clone(), Arc::new(e.management_account.clone()));
        }
        DomainEvent::OrganizationDeleted(_) => {
            state.deleted = true;
            state.accounts.clear();
            state.units.clear();
            state.attachments.clear();
            state.delegated.clear();
        }
        DomainEvent::OrganizationalUnitCreated(e) => {
            state.units.insert(e.unit.id.clone(), Arc::new(e.unit.clone()));
            attach_full_access_of_every_type(state, &e.unit.id);
        }
        DomainEvent::OrganizationalUnitRenamed(e) => {
            state.units.insert(e.unit.id.clone(), Arc::new(e.unit.clone()));
        }
        DomainEvent::OrganizationalUnitDeleted(e) => {
            state.units.remove(&e.id);
            state.attachments.remove(&e.id);
        }
        DomainEvent::OrganizationAccountJoined(e) => {
            state.accounts.insert(e.account.id.clone(), Arc::new(e.account.clone()));
            attach_full_access_of_every_type(state, &e.account.id);
            if let Some(handshake) = e.handshake_id.as_ref().and_then(|id| state.handshakes.get_mut(id)) {
                Arc::make_mut(handshake).state = HandshakeState::Accepted;
            }
            if let Some(request) = &e.create_request {
                // Requests made before `creation_started` existed begin and end here.
                state.create_requests.insert(
                    request.id.clone(),
                    Arc::new(CreateAccountRecord {
                        request: request.clone(),
                        account_id: e.account.id.clone(),
                        account_name: e.account.name.clone(),
                        email: e.account.email.clone(),
                        parent_id: Some(e.account.parent_id.clone()),
                        role_name: String::new(),
                        state: CreateAccountState::Succeeded,
                        completed: Some(e.account.joined),
                    }),
                );
            }
        }
        DomainEvent::OrganizationAccountCreationStarted(e) => {
            state.create_requests.insert(
                e.request.id.clone(),
                Arc::new(CreateAccountRecord {
                    request: e.request.clone(),
                    account_id: e.account_id.clone(),
                    account_name: e.account_name.clone(),
                    email: e.email.clone(),
                    parent_id: e.parent_id.clone(),
                    role_name: e.role_name.clone(),
                    state: CreateAccountState::InProgress,
                    completed: None,
                }),
            );
        }
        DomainEvent::OrganizationAccountCreationFailed(e) => {
            if let Some(record) = state.create_requests.get_mut(&e.request_id) {
                let record = Arc::make_mut(record);
                record.state = CreateAccountState::Failed(e.reason.clone());
                record.completed = Some(e.at);
            }
        }
        DomainEvent::OrganizationAccountMoved(e) => {
            if let Some(account) = state.accounts.get_mut(&e.account_id) {
                Arc::make_mut(account).parent_id = e.destination_parent_id.clone();
            }
        }
        DomainEvent::OrganizationAccountRemoved(e) => {
            state.accounts.remove(&e.account_id);
            state.attachments.remove(&e.account_id);
            state.delegated.remove(&e.account_id);
        }
        DomainEvent::OrganizationAccountClosed(e) => {
            if let Some(account) = state.accounts.get_mut(&e.account_id) {
                Arc::make_mut(account).status = MemberStatus::Suspended;
            }
        }
        DomainEvent::OrganizationPolicyCreated(e) | DomainEvent::OrganizationPolicyUpdated(e) => {
            state.policies.insert(e.policy.id.clone(), Arc::new(e.policy.clone()));
        }
        DomainEvent::OrganizationPolicyDeleted(e) => {
            state.policies.remove(&e.policy_id);
        }
        DomainEvent::OrganizationPolicyAttached(e) => {
            Arc::make_mut(state.attachments.entry(e.target_id.clone()).or_default()).insert(e.policy_id.clone());
        }
        DomainEvent::OrganizationPolicyDetached(e) => {
            if let Some(attached) = state.attachments.get_mut(&e.target_id) {
                Arc::make_mut(attached).remove(&e.policy_id);
                if attached.is_empty() {
                    state.attachments.remove(&e.target_id);
                }
            }
        }
        DomainEvent::OrganizationPolicyTypeEnabled(e) => {
            if let Some(root) = state.root.as_mut() {
                root.enabled_policy_types.insert(e.policy_type);
            }
            let targets: Vec<String> = state
                .root
                .iter()
                .map(|r| r.id.clone())
                .chain(state.units.keys().cloned())
                .chain(state.accounts.keys().cloned())
                .collect();
            for target in targets {
                attach_full_access(state, e.policy_type, &target);
            }
        }
        DomainEvent::OrganizationPolicyTypeDisabled(e) => {
            if let Some(root) = state.root.as_mut() {
                root.enabled_policy_types.remove(&e.policy_type);
            }
            let of_type: BTreeSet<String> = state
                .policies
                .values()
                .filter(|p| p.policy_type == e.policy_type)
                .map(|p| p.id.clone())
                .collect();
            state.attachments.retain(|_, attached| {
                Arc::make_mut(attached).retain(|id| !of_type.contains(id));
                !attached.is_empty()
            });
        }
        DomainEvent::OrganizationHandshakeOpened(e) => {
            state
                .handshakes
                .insert(e.handshake.id.clone(), Arc::new(e.handshake.clone()));
        }
        DomainEvent::OrganizationHandshakeDeclined(e) => {
            if let Some(handshake) = state.handshakes.get_mut(&e.handshake_id) {
                Arc::make_mut(handshake).state = HandshakeState::Declined;
            }
        }
        DomainEvent::OrganizationHandshakeCanceled(e) => {
            if let Some(handshake) = state.handshakes.get_mut(&e.handshake_id) {
                Arc::make_mut(handshake).state = HandshakeState::Canceled;
            }
        }
        DomainEvent::OrganizationDelegatedAdministratorRegistered(e) => {
            state
                .delegated
                .entry(e.account_id.clone())
                .or_insert_with(|| DelegatedAdministrator {
                    account_id: e.account_id.clone(),
                    services: BTreeSet::new(),
                    registered: e.at,
                })
                .services
                .insert(e.service_principal.clone());
        }
        DomainEvent::OrganizationDelegatedAdministratorDeregistered(e) => {
            if let Some(delegate) = state.delegated.get_mut(&e.account_id) {
                delegate.services.remove(&e.service_principal);
                if delegate.services.is_empty() {
                    state.delegated.remove(&e.account_id);
                }
            }
        }
        _ => return,
    }
    state.bump();
}
