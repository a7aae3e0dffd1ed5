//! `decide_organization`: AWS Organizations' rules over an [`OrganizationState`]. Who may ask is
//! the application's question; this answers whether the change is valid, and with which events.

use chrono::Duration;
use iam_policy::validate::{validate_policy, FindingType, PolicyKind};
use iam_types::ErrorCode;
use serde::Serialize;

use super::events::*;
use super::org_quota;
use super::state::*;
use crate::decide::DecideContext;
use crate::error::DomainError;
use crate::event::DomainEvent;

/// The context of an organization command: the same as an account command's.
pub type OrgDecideContext = DecideContext;

/// One change to an organization. It serializes as CloudTrail's `requestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum OrgCommand {
    /// `CreateOrganization`: the calling account becomes the management account.
    CreateOrganization {
        /// The calling account.
        management_account_id: String,
        /// Its e-mail address (Gatehouse accounts have none of their own; the caller may give one).
        #[serde(skip)]
        management_account_email: String,
        /// `ALL` (the only set with policies).
        feature_set: Option<String>,
    },
    /// `DeleteOrganization`: only when no other account is a member.
    DeleteOrganization {},
    /// `CreateOrganizationalUnit`.
    CreateOrganizationalUnit {
        /// The root or OU to create it in.
        parent_id: String,
        /// Its name.
        name: String,
    },
    /// `UpdateOrganizationalUnit`: a rename.
    UpdateOrganizationalUnit {
        /// The OU.
        organizational_unit_id: String,
        /// The new name.
        name: String,
    },
    /// `DeleteOrganizationalUnit`: only when empty.
    DeleteOrganizationalUnit {
        /// The OU.
        organizational_unit_id: String,
    },
    /// The first half of `CreateAccount`: the organization reserves the account (`account_id`
    /// is drawn by the application and not yet in use).
    StartCreateAccount {
        /// The account to make.
        account_id: String,
        /// Its name.
        account_name: String,
        /// Its e-mail address.
        #[serde(skip)]
        email: String,
        /// Where to put it (the root when absent).
        parent_id: Option<String>,
        /// The administrator role to make in it.
        #[serde(skip)]
        role_name: String,
        /// The request's id (`car-...`) and time.
        #[serde(skip)]
        request: Option<CreateAccountRequest>,
    },
    /// A `CreateAccount` request whose account could not be made.
    FailCreateAccount {
        /// The request.
        request_id: String,
        /// AWS's `CreateAccountFailureReason`.
        reason: String,
    },
    /// The second half of `CreateAccount`: the account exists, and joins.
    AddCreatedAccount {
        /// The new account.
        account_id: String,
        /// Its name.
        account_name: String,
        /// Its e-mail address.
        #[serde(skip)]
        email: String,
        /// Where to put it (the root when absent).
        parent_id: Option<String>,
        /// The request's id (`car-...`) and time.
        #[serde(skip)]
        request: Option<CreateAccountRequest>,
    },
    /// `InviteAccountToOrganization`.
    InviteAccount {
        /// The standalone account invited.
        target_account_id: String,
        /// A note to it.
        notes: Option<String>,
        /// Whether that account is in another organization already (the application knows).
        #[serde(skip)]
        target_in_other_organization: bool,
    },
    /// `AcceptHandshake`, by the invited account.
    AcceptHandshake {
        /// The invitation.
        handshake_id: String,
        /// The account accepting.
        #[serde(skip)]
        caller_account_id: String,
        /// Its name in the organization.
        #[serde(skip)]
        account_name: String,
        /// Whether it has joined another organization meanwhile.
        #[serde(skip)]
        in_other_organization: bool,
    },
    /// `DeclineHandshake`, by the invited account.
    DeclineHandshake {
        /// The invitation.
        handshake_id: String,
        /// The account declining.
        #[serde(skip)]
        caller_account_id: String,
    },
    /// `CancelHandshake`, by the management account.
    CancelHandshake {
        /// The invitation.
        handshake_id: String,
    },
    /// `MoveAccount`.
    MoveAccount {
        /// The account.
        account_id: String,
        /// Where it is.
        source_parent_id: String,
        /// Where it goes.
        destination_parent_id: String,
    },
    /// `RemoveAccountFromOrganization`.
    RemoveAccount {
        /// The account.
        account_id: String,
    },
    /// `LeaveOrganization`, by the member account itself.
    LeaveOrganization {
        /// The account leaving.
        #[serde(skip)]
        account_id: String,
    },
    /// `CloseAccount`.
    CloseAccount {
        /// The account.
        account_id: String,
    },
    /// `CreatePolicy`.
    CreatePolicy {
        /// Its name.
        name: String,
        /// Its description.
        description: String,
        /// Its type.
        #[serde(rename = "type")]
        policy_type: OrgPolicyType,
        /// The document.
        content: String,
    },
    /// `UpdatePolicy`.
    UpdatePolicy {
        /// The policy.
        policy_id: String,
        /// A new name.
        name: Option<String>,
        /// A new description.
        description: Option<String>,
        /// A new document.
        content: Option<String>,
    },
    /// `DeletePolicy`: only when attached nowhere.
    DeletePolicy {
        /// The policy.
        policy_id: String,
    },
    /// `AttachPolicy`.
    AttachPolicy {
        /// The policy.
        policy_id: String,
        /// The root, OU or account.
        target_id: String,
    },
    /// `DetachPolicy`.
    DetachPolicy {
        /// The policy.
        policy_id: String,
        /// The root, OU or account.
        target_id: String,
    },
    /// `EnablePolicyType`.
    EnablePolicyType {
        /// The root.
        root_id: String,
        /// The type.
        policy_type: OrgPolicyType,
    },
    /// `DisablePolicyType`.
    DisablePolicyType {
        /// The root.
        root_id: String,
        /// The type.
        policy_type: OrgPolicyType,
    },
    /// `RegisterDelegatedAdministrator`.
    RegisterDelegatedAdministrator {
        /// The member account.
        account_id: String,
        /// The service principal.
        service_principal: String,
    },
    /// `DeregisterDelegatedAdministrator`.
    DeregisterDelegatedAdministrator {
        /// The member account.
        account_id: String,
        /// The service principal.
        service_principal: String,
    },
}

type Decision = Result<Vec<DomainEvent>, DomainError>;

fn refuse(code: ErrorCode, message: impl Into<String>) -> DomainError {
    DomainError::Organizations(code, message.into())
}

/// Ten characters of `[a-z0-9]` from random bytes.
fn token(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    bytes
        .iter()
        .cycle()
        .take(len)
        .enumerate()
        .map(|(i, b)| ALPHABET[(usize::from(*b) + i * 7) % ALPHABET.len()] as char)
        .collect()
}

fn check_name(what: &str, name: &str, max: usize) -> Result<(), DomainError> {
    let chars = name.chars().count();
    if chars == 0 || chars > max || name.chars().any(char::is_control) {
        return Err(refuse(
            ErrorCode::InvalidInputException,
            format!("{what} must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(())
}

/// Checks an organization policy's document: AWS's size quota and the findings that
/// `validate-policy` reports as errors for its type.
pub fn check_policy_content(policy_type: OrgPolicyType, content: &str) -> Result<(), DomainError> {
    let limit = match policy_type {
        OrgPolicyType::TagPolicy => org_quota::TAG_POLICY_DOCUMENT_CHARS,
        _ => org_quota::POLICY_DOCUMENT_CHARS,
    };
    let chars = content.chars().count();
    if chars > limit {
        return Err(refuse(
            ErrorCode::ConstraintViolationException,
            format!("the policy document is {chars} characters; {} policies hold at most {limit} (POLICY_CONTENT_LIMIT_EXCEEDED)", policy_type.as_str()),
        ));
    }
    let kind = match policy_type {
        OrgPolicyType::ServiceControlPolicy => PolicyKind::ServiceControl,
        OrgPolicyType::ResourceControlPolicy => PolicyKind::ResourceControl,
        OrgPolicyType::TagPolicy => {
            return match serde_json::from_str::<serde_json::Value>(content) {
                Ok(serde_json::Value::Object(_)) => Ok(()),
                _ => Err(refuse(
                    ErrorCode::MalformedPolicyDocumentException,
                    "a tag policy must be a JSON object",
                )),
            };
        }
    };
    let errors: Vec<String> = validate_policy(content, kind)
        .into_iter()
        .filter(|f| f.finding_type == FindingType::Error)
        .map(|f| format!("{}: {}", f.issue_code, f.finding_details))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(refuse(ErrorCode::MalformedPolicyDocumentException, errors.join("; ")))
    }
}

struct Org<'a> {
    state: &'a OrganizationState,
    info: &'a OrganizationInfo,
    root: &'a OrgRoot,
    ctx: &'a DecideContext,
}

/// Decides an organization command: the events that record it, or AWS Organizations' error.
pub fn decide_organization(state: &OrganizationState, command: &OrgCommand, ctx: &DecideContext) -> Decision {
    if let OrgCommand::CreateOrganization {
        management_account_id,
        management_account_email,
        feature_set,
    } = command
    {
        return create_organization(
            state,
            management_account_id,
            management_account_email,
            feature_set.as_deref(),
            ctx,
        );
    }
    let (Some(info), Some(root)) = (state.info(), state.root()) else {
        return Err(refuse(
            ErrorCode::AwsOrganizationsNotInUseException,
            "Your account is not a member of an organization.",
        ));
    };
    let org = Org { state, info, root, ctx };
    match command {
        OrgCommand::CreateOrganization { .. } => unreachable_create(),
        OrgCommand::DeleteOrganization {} => org.delete_organization(),
        OrgCommand::CreateOrganizationalUnit { parent_id, name } => org.create_unit(parent_id, name),
        OrgCommand::UpdateOrganizationalUnit {
            organizational_unit_id,
            name,
        } => org.rename_unit(organizational_unit_id, name),
        OrgCommand::DeleteOrganizationalUnit { organizational_unit_id } => org.delete_unit(organizational_unit_id),
        OrgCommand::StartCreateAccount {
            account_id,
            account_name,
            email,
            parent_id,
            role_name,
            request,
        } => org.start_create_account(
            account_id,
            account_name,
            email,
            parent_id.as_deref(),
            role_name,
            request.as_ref(),
        ),
        OrgCommand::FailCreateAccount { request_id, reason } => org.fail_create_account(request_id, reason),
        OrgCommand::AddCreatedAccount {
            account_id,
            account_name,
            email,
            parent_id,
            request,
        } => org.add_created_account(account_id, account_name, email, parent_id.as_deref(), request.as_ref()),
        OrgCommand::InviteAccount {
            target_account_id,
            notes,
            target_in_other_organization,
        } => org.invite(target_account_id, notes.as_deref(), *target_in_other_organization),
        OrgCommand::AcceptHandshake {
            handshake_id,
            caller_account_id,
            account_name,
            in_other_organization,
        } => org.accept(handshake_id, caller_account_id, account_name, *in_other_organization),
        OrgCommand::DeclineHandshake {
            handshake_id,
            caller_account_id,
        } => org.close_handshake(handshake_id, Some(caller_account_id)),
        OrgCommand::CancelHandshake { handshake_id } => org.close_handshake(handshake_id, None),
        OrgCommand::MoveAccount {
            account_id,
            source_parent_id,
            destination_parent_id,
        } => org.move_account(account_id, source_parent_id, destination_parent_id),
        OrgCommand::RemoveAccount { account_id } => org.remove_account(account_id, false),
        OrgCommand::LeaveOrganization { account_id } => org.remove_account(account_id, true),
        OrgCommand::CloseAccount { account_id } => org.close_account(account_id),
        OrgCommand::CreatePolicy {
            name,
            description,
            policy_type,
            content,
        } => org.create_policy(name, description, *policy_type, content),
        OrgCommand::UpdatePolicy {
            policy_id,
            name,
            description,
            content,
        } => org.update_policy(policy_id, name.as_deref(), description.as_deref(), content.as_deref()),
        OrgCommand::DeletePolicy { policy_id } => org.delete_policy(policy_id),
        OrgCommand::AttachPolicy { policy_id, target_id } => org.attach(policy_id, target_id),
        OrgCommand::DetachPolicy { policy_id, target_id } => org.detach(policy_id, target_id),
        OrgCommand::EnablePolicyType { root_id, policy_type } => org.enable_type(root_id, *policy_type),
        OrgCommand::DisablePolicyType { root_id, policy_type } => org.disable_type(root_id, *policy_type),
        OrgCommand::RegisterDelegatedAdministrator {
            account_id,
            service_principal,
        } => org.register_delegate(account_id, service_principal),
        OrgCommand::DeregisterDelegatedAdministrator {
            account_id,
            service_principal,
        } => org.deregister_delegate(account_id, service_principal),
    }
}

fn unreachable_create() -> Decision {
    Err(refuse(ErrorCode::ServiceFailure, "CreateOrganization is decided above"))
}

fn create_organization(
    state: &OrganizationState,
    management_account_id: &str,
    email: &str,
    feature_set: Option<&str>,
    ctx: &DecideContext,
) -> Decision {
    if state.info.is_some() {
        return Err(refuse(
            ErrorCode::AlreadyInOrganizationException,
            "This organization stream is already in use.",
        ));
    }
    if let Some(set) = feature_set.filter(|set| *set != "ALL") {
        return Err(refuse(
            ErrorCode::InvalidInputException,
            format!("feature set {set} is not supported: Gatehouse organizations have ALL features"),
        ));
    }
    let id = format!("o-{}", token(&ctx.id_bytes, 10));
    let info = OrganizationInfo {
        arn: format!("arn:aws:organizations::{management_account_id}:organization/{id}"),
        id,
        management_account_id: management_account_id.to_owned(),
        management_account_email: email.to_owned(),
        feature_set: "ALL".to_owned(),
        created: ctx.now,
    };
    let root_id = format!("r-{}", token(&ctx.id_bytes[10..], 4));
    let management = MemberAccount {
        id: management_account_id.to_owned(),
        arn: info.arn_of("account", management_account_id),
        name: "management".to_owned(),
        email: email.to_owned(),
        parent_id: root_id.clone(),
        status: MemberStatus::Active,
        joined_method: JoinedMethod::Created,
        joined: ctx.now,
    };
    Ok(vec![DomainEvent::OrganizationCreated(OrganizationCreated {
        root_arn: info.arn_of("root", &root_id),
        organization: info,
        root_id,
        management_account: management,
    })])
}

impl Org<'_> {
    fn parent(&self, id: &str, code: ErrorCode) -> Result<(), DomainError> {
        if self.root.id == id || self.state.unit(id).is_some() {
            Ok(())
        } else {
            Err(refuse(code, format!("We can't find a root or OU with the id {id}.")))
        }
    }

    fn member(&self, id: &str) -> Result<&MemberAccount, DomainError> {
        self.state.account(id).ok_or_else(|| {
            refuse(
                ErrorCode::AccountNotFoundException,
                format!("We can't find an account with the id {id} in the organization."),
            )
        })
    }

    fn unit(&self, id: &str) -> Result<&OrganizationalUnit, DomainError> {
        self.state.unit(id).ok_or_else(|| {
            refuse(
                ErrorCode::OrganizationalUnitNotFoundException,
                format!("We can't find an OU with the id {id}."),
            )
        })
    }

    fn policy(&self, id: &str) -> Result<&OrgPolicy, DomainError> {
        self.state.policy(id).ok_or_else(|| {
            refuse(
                ErrorCode::PolicyNotFoundException,
                format!("We can't find a policy with the id {id}."),
            )
        })
    }

    fn delete_organization(&self) -> Decision {
        if self.state.accounts().any(|a| a.id != self.info.management_account_id) {
            return Err(refuse(
                ErrorCode::OrganizationNotEmptyException,
                "The organization still has member accounts; remove them first.",
            ));
        }
        Ok(vec![DomainEvent::OrganizationDeleted(OrganizationDeleted {
            deleted: self.ctx.now,
        })])
    }

    fn create_unit(&self, parent_id: &str, name: &str) -> Decision {
        self.parent(parent_id, ErrorCode::ParentNotFoundException)?;
        check_name("The OU's name", name, org_quota::NAME_CHARS)?;
        if self.state.units().count() >= org_quota::ORGANIZATIONAL_UNITS {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                format!(
                    "the organization has {} OUs, the most it may (OU_NUMBER_LIMIT_EXCEEDED)",
                    org_quota::ORGANIZATIONAL_UNITS
                ),
            ));
        }
        if self.state.depth_of(parent_id) + 1 > org_quota::MAX_OU_DEPTH {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                format!(
                    "an OU may be at most {} levels below the root (OU_DEPTH_LIMIT_EXCEEDED)",
                    org_quota::MAX_OU_DEPTH
                ),
            ));
        }
        if self.state.units().any(|u| u.parent_id == parent_id && u.name == name) {
            return Err(refuse(
                ErrorCode::DuplicateOrganizationalUnitException,
                format!("An OU named {name} already exists in {parent_id}."),
            ));
        }
        let root_part = self.root.id.trim_start_matches("r-");
        let id = format!("ou-{root_part}-{}", token(&self.ctx.id_bytes, 8));
        if self.state.unit(&id).is_some() {
            return Err(DomainError::ServiceFailure("the drawn OU id is taken; retry".into()));
        }
        Ok(vec![DomainEvent::OrganizationalUnitCreated(UnitChanged {
            unit: OrganizationalUnit {
                arn: self.info.arn_of("ou", &id),
                id,
                name: name.to_owned(),
                parent_id: parent_id.to_owned(),
            },
        })])
    }

    fn rename_unit(&self, id: &str, name: &str) -> Decision {
        let unit = self.unit(id)?;
        check_name("The OU's name", name, org_quota::NAME_CHARS)?;
        if unit.name == name {
            return Ok(Vec::new());
        }
        if self
            .state
            .units()
            .any(|u| u.parent_id == unit.parent_id && u.name == name && u.id != id)
        {
            return Err(refuse(
                ErrorCode::DuplicateOrganizationalUnitException,
                format!("An OU named {name} already exists in {}.", unit.parent_id),
            ));
        }
        Ok(vec![DomainEvent::OrganizationalUnitRenamed(UnitChanged {
            unit: OrganizationalUnit {
                name: name.to_owned(),
                ..unit.clone()
            },
        })])
    }

    fn delete_unit(&self, id: &str) -> Decision {
        self.unit(id)?;
        let (units, accounts) = self.state.children_of(id);
        if !units.is_empty() || !accounts.is_empty() {
            return Err(refuse(
                ErrorCode::OrganizationalUnitNotEmptyException,
                format!(
                    "The OU {id} still holds {} OUs and {} accounts.",
                    units.len(),
                    accounts.len()
                ),
            ));
        }
        Ok(vec![DomainEvent::OrganizationalUnitDeleted(UnitDeleted {
            id: id.to_owned(),
        })])
    }

    /// Room for one more account: members and the accounts `CreateAccount` requests in progress
    /// have reserved.
    fn check_room_for_account(&self) -> Result<(), DomainError> {
        let reserved = self.state.create_requests_in_progress().count();
        if self.state.accounts().count() + reserved >= org_quota::ACCOUNTS {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                "the organization has as many accounts as it may (ACCOUNT_NUMBER_LIMIT_EXCEEDED)",
            ));
        }
        Ok(())
    }

    fn start_create_account(
        &self,
        account_id: &str,
        name: &str,
        email: &str,
        parent_id: Option<&str>,
        role_name: &str,
        request: Option<&CreateAccountRequest>,
    ) -> Decision {
        let Some(request) = request else {
            return Err(refuse(
                ErrorCode::InvalidInputException,
                "A CreateAccount request needs an id.",
            ));
        };
        if self.state.create_request(&request.id).is_some() {
            return Ok(Vec::new());
        }
        check_name("The account's name", name, org_quota::ACCOUNT_NAME_CHARS)?;
        self.check_room_for_account()?;
        if let Some(parent_id) = parent_id {
            self.parent(parent_id, ErrorCode::ParentNotFoundException)?;
        }
        Ok(vec![DomainEvent::OrganizationAccountCreationStarted(
            AccountCreationStarted {
                request: request.clone(),
                account_id: account_id.to_owned(),
                account_name: name.to_owned(),
                email: email.to_owned(),
                parent_id: parent_id.map(str::to_owned),
                role_name: role_name.to_owned(),
            },
        )])
    }

    fn fail_create_account(&self, request_id: &str, reason: &str) -> Decision {
        match self.state.create_request(request_id) {
            Some(record) if record.state == CreateAccountState::InProgress => {
                Ok(vec![DomainEvent::OrganizationAccountCreationFailed(
                    AccountCreationFailed {
                        request_id: request_id.to_owned(),
                        reason: reason.to_owned(),
                        at: self.ctx.now,
                    },
                )])
            }
            Some(_) => Ok(Vec::new()),
            None => Err(refuse(
                ErrorCode::CreateAccountStatusNotFoundException,
                format!("We can't find a create account request with the id {request_id}."),
            )),
        }
    }

    fn add_created_account(
        &self,
        account_id: &str,
        name: &str,
        email: &str,
        parent_id: Option<&str>,
        request: Option<&CreateAccountRequest>,
    ) -> Decision {
        if self.state.account(account_id).is_some() {
            return Ok(Vec::new());
        }
        check_name("The account's name", name, org_quota::ACCOUNT_NAME_CHARS)?;
        let reserved = request
            .and_then(|r| self.state.create_request(&r.id))
            .filter(|r| r.state == CreateAccountState::InProgress && r.account_id == account_id);
        let parent_id = parent_id.unwrap_or(&self.root.id);
        let parent_id = if reserved.is_some() {
            // Its seat was reserved when the request started; an OU deleted since then (it was
            // empty) sends the account to the root rather than failing a made account.
            if self.state.target_kind(parent_id).is_some() {
                parent_id
            } else {
                self.root.id.as_str()
            }
        } else {
            self.check_room_for_account()?;
            self.parent(parent_id, ErrorCode::ParentNotFoundException)?;
            parent_id
        };
        Ok(vec![DomainEvent::OrganizationAccountJoined(AccountJoined {
            account: MemberAccount {
                id: account_id.to_owned(),
                arn: self.info.arn_of("account", account_id),
                name: name.to_owned(),
                email: email.to_owned(),
                parent_id: parent_id.to_owned(),
                status: MemberStatus::Active,
                joined_method: JoinedMethod::Created,
                joined: self.ctx.now,
            },
            handshake_id: None,
            create_request: request.cloned(),
        })])
    }

    fn invite(&self, target: &str, notes: Option<&str>, in_other_organization: bool) -> Decision {
        if self.state.account(target).is_some() {
            return Err(refuse(
                ErrorCode::DuplicateAccountException,
                format!("The account {target} is already a member of this organization."),
            ));
        }
        if in_other_organization {
            return Err(refuse(
                ErrorCode::HandshakeConstraintViolationException,
                format!("The account {target} is already a member of an organization (ALREADY_IN_AN_ORGANIZATION)."),
            ));
        }
        if let Some(notes) = notes {
            if notes.chars().count() > 1024 {
                return Err(refuse(
                    ErrorCode::InvalidInputException,
                    "Notes may be at most 1,024 characters.",
                ));
            }
        }
        let open: Vec<&Handshake> = self
            .state
            .handshakes()
            .filter(|h| h.state_at(self.ctx.now) == "OPEN")
            .collect();
        if open.iter().any(|h| h.target_account_id == target) {
            return Err(refuse(
                ErrorCode::DuplicateHandshakeException,
                format!("An invitation to {target} is already open."),
            ));
        }
        if open.len() >= org_quota::OPEN_HANDSHAKES {
            return Err(refuse(
                ErrorCode::HandshakeConstraintViolationException,
                "Too many invitations are open (HANDSHAKE_RATE_LIMIT_EXCEEDED).",
            ));
        }
        let id = format!("h-{}", token(&self.ctx.id_bytes, 10));
        if self.state.handshake(&id).is_some() {
            return Err(DomainError::ServiceFailure(
                "the drawn handshake id is taken; retry".into(),
            ));
        }
        Ok(vec![DomainEvent::OrganizationHandshakeOpened(HandshakeOpened {
            handshake: Handshake {
                arn: self.info.arn_of("handshake", &format!("invite/{id}")),
                id,
                target_account_id: target.to_owned(),
                notes: notes.map(str::to_owned),
                state: HandshakeState::Open,
                requested: self.ctx.now,
                expiration: self.ctx.now + Duration::days(org_quota::HANDSHAKE_DAYS),
            },
        })])
    }

    fn open_handshake(&self, id: &str, caller: Option<&str>) -> Result<&Handshake, DomainError> {
        let handshake = self
            .state
            .handshake(id)
            .filter(|h| caller.is_none_or(|caller| h.target_account_id == caller))
            .ok_or_else(|| {
                refuse(
                    ErrorCode::HandshakeNotFoundException,
                    format!("We can't find a handshake with the id {id}."),
                )
            })?;
        let state = handshake.state_at(self.ctx.now);
        if state != "OPEN" {
            return Err(refuse(
                ErrorCode::InvalidHandshakeTransitionException,
                format!("The handshake {id} is {state}, not OPEN."),
            ));
        }
        Ok(handshake)
    }

    fn accept(&self, id: &str, caller: &str, name: &str, in_other_organization: bool) -> Decision {
        let handshake = self.open_handshake(id, Some(caller))?;
        if in_other_organization {
            return Err(refuse(
                ErrorCode::HandshakeConstraintViolationException,
                "This account is already a member of an organization (ALREADY_IN_AN_ORGANIZATION).",
            ));
        }
        self.check_room_for_account()?;
        Ok(vec![DomainEvent::OrganizationAccountJoined(AccountJoined {
            account: MemberAccount {
                id: caller.to_owned(),
                arn: self.info.arn_of("account", caller),
                name: name.chars().take(org_quota::ACCOUNT_NAME_CHARS).collect(),
                email: String::new(),
                parent_id: self.root.id.clone(),
                status: MemberStatus::Active,
                joined_method: JoinedMethod::Invited,
                joined: self.ctx.now,
            },
            handshake_id: Some(handshake.id.clone()),
            create_request: None,
        })])
    }

    fn close_handshake(&self, id: &str, declined_by: Option<&str>) -> Decision {
        let handshake = self.open_handshake(id, declined_by)?;
        let closed = HandshakeClosed {
            handshake_id: handshake.id.clone(),
        };
        Ok(vec![if declined_by.is_some() {
            DomainEvent::OrganizationHandshakeDeclined(closed)
        } else {
            DomainEvent::OrganizationHandshakeCanceled(closed)
        }])
    }

    fn move_account(&self, account_id: &str, source: &str, destination: &str) -> Decision {
        let account = self.member(account_id)?;
        self.parent(source, ErrorCode::SourceParentNotFoundException)?;
        self.parent(destination, ErrorCode::DestinationParentNotFoundException)?;
        if account.parent_id != source {
            return Err(refuse(
                ErrorCode::AccountNotFoundException,
                format!("The account {account_id} is not in {source}."),
            ));
        }
        if source == destination {
            return Err(refuse(
                ErrorCode::DuplicateAccountException,
                format!("The account {account_id} is already in {destination}."),
            ));
        }
        Ok(vec![DomainEvent::OrganizationAccountMoved(AccountMoved {
            account_id: account_id.to_owned(),
            source_parent_id: source.to_owned(),
            destination_parent_id: destination.to_owned(),
        })])
    }

    fn remove_account(&self, account_id: &str, left: bool) -> Decision {
        self.member(account_id)?;
        if account_id == self.info.management_account_id {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                "The management account cannot leave its organization; delete the organization instead (MASTER_ACCOUNT_CANNOT_LEAVE).",
            ));
        }
        // AWS refuses rather than silently dropping the account's delegations.
        if self.state.delegated.contains_key(account_id) {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                format!(
                    "The account {account_id} is a delegated administrator; deregister it first \
                     (CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG)."
                ),
            ));
        }
        Ok(vec![DomainEvent::OrganizationAccountRemoved(AccountRemoved {
            account_id: account_id.to_owned(),
            left,
        })])
    }

    fn close_account(&self, account_id: &str) -> Decision {
        let account = self.member(account_id)?;
        if account_id == self.info.management_account_id {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                "The management account cannot be closed through CloseAccount (MASTER_ACCOUNT_CANNOT_CLOSE).",
            ));
        }
        if account.status == MemberStatus::Suspended {
            return Err(refuse(
                ErrorCode::AccountAlreadyClosedException,
                format!("The account {account_id} is already closed."),
            ));
        }
        Ok(vec![DomainEvent::OrganizationAccountClosed(AccountClosed {
            account_id: account_id.to_owned(),
            closed: self.ctx.now,
        })])
    }

    fn check_policy_name(
        &self,
        policy_type: OrgPolicyType,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), DomainError> {
        check_name("The policy's name", name, org_quota::NAME_CHARS)?;
        if self
            .state
            .policies_of(policy_type)
            .any(|p| p.name == name && Some(p.id.as_str()) != except)
        {
            return Err(refuse(
                ErrorCode::DuplicatePolicyException,
                format!("A policy named {name} of type {} already exists.", policy_type.as_str()),
            ));
        }
        Ok(())
    }

    fn check_description(description: &str) -> Result<(), DomainError> {
        if description.chars().count() > org_quota::DESCRIPTION_CHARS {
            return Err(refuse(
                ErrorCode::InvalidInputException,
                format!(
                    "A description may be at most {} characters.",
                    org_quota::DESCRIPTION_CHARS
                ),
            ));
        }
        Ok(())
    }

    fn create_policy(&self, name: &str, description: &str, policy_type: OrgPolicyType, content: &str) -> Decision {
        self.check_policy_name(policy_type, name, None)?;
        Self::check_description(description)?;
        check_policy_content(policy_type, content)?;
        if self.state.policies_of(policy_type).count() >= org_quota::POLICIES_PER_TYPE {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                "the organization has as many policies of this type as it may (POLICY_NUMBER_LIMIT_EXCEEDED)",
            ));
        }
        let id = format!("p-{}", token(&self.ctx.id_bytes, 10));
        if self.state.policy(&id).is_some() {
            return Err(DomainError::ServiceFailure(
                "the drawn policy id is taken; retry".into(),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyCreated(OrgPolicyChanged {
            policy: OrgPolicy {
                arn: self
                    .info
                    .arn_of("policy", &format!("{}/{id}", policy_type.arn_segment())),
                id,
                name: name.to_owned(),
                description: description.to_owned(),
                policy_type,
                content: content.to_owned(),
                aws_managed: false,
                revision: 1,
            },
        })])
    }

    fn customer_policy(&self, id: &str) -> Result<&OrgPolicy, DomainError> {
        let policy = self.policy(id)?;
        if policy.aws_managed {
            return Err(refuse(
                ErrorCode::PolicyChangesNotAllowedOnAwsManagedPolicyException,
                format!("The policy {} is managed by AWS and cannot be changed.", policy.name),
            ));
        }
        Ok(policy)
    }

    fn update_policy(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
        content: Option<&str>,
    ) -> Decision {
        let policy = self.customer_policy(id)?;
        let mut next = policy.clone();
        if let Some(name) = name {
            self.check_policy_name(policy.policy_type, name, Some(id))?;
            name.clone_into(&mut next.name);
        }
        if let Some(description) = description {
            Self::check_description(description)?;
            description.clone_into(&mut next.description);
        }
        if let Some(content) = content {
            check_policy_content(policy.policy_type, content)?;
            if content != policy.content {
                content.clone_into(&mut next.content);
                next.revision += 1;
            }
        }
        if next == *policy {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::OrganizationPolicyUpdated(OrgPolicyChanged {
            policy: next,
        })])
    }

    fn delete_policy(&self, id: &str) -> Decision {
        self.customer_policy(id)?;
        if !self.state.targets_for_policy(id).is_empty() {
            return Err(refuse(
                ErrorCode::PolicyInUseException,
                format!("The policy {id} is attached; detach it from every target first."),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyDeleted(OrgPolicyDeleted {
            policy_id: id.to_owned(),
        })])
    }

    fn target(&self, id: &str) -> Result<TargetKind, DomainError> {
        self.state.target_kind(id).ok_or_else(|| {
            refuse(
                ErrorCode::TargetNotFoundException,
                format!("We can't find a root, OU or account with the id {id}."),
            )
        })
    }

    fn attach(&self, policy_id: &str, target_id: &str) -> Decision {
        let policy = self.policy(policy_id)?;
        self.target(target_id)?;
        if !self.state.policy_type_enabled(policy.policy_type) {
            return Err(refuse(
                ErrorCode::PolicyTypeNotEnabledException,
                format!(
                    "The policy type {} is not enabled on the root.",
                    policy.policy_type.as_str()
                ),
            ));
        }
        let attached = self.state.policies_for_target(target_id, Some(policy.policy_type));
        if attached.iter().any(|p| p.id == policy_id) {
            return Err(refuse(
                ErrorCode::DuplicatePolicyAttachmentException,
                format!("The policy {policy_id} is already attached to {target_id}."),
            ));
        }
        if attached.len() >= org_quota::POLICIES_PER_TARGET {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                format!(
                    "{target_id} already has {} policies of type {} attached (POLICY_NUMBER_LIMIT_EXCEEDED)",
                    org_quota::POLICIES_PER_TARGET,
                    policy.policy_type.as_str()
                ),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyAttached(OrgPolicyAttachment {
            policy_id: policy_id.to_owned(),
            target_id: target_id.to_owned(),
        })])
    }

    fn detach(&self, policy_id: &str, target_id: &str) -> Decision {
        let policy = self.policy(policy_id)?;
        self.target(target_id)?;
        let attached = self.state.policies_for_target(target_id, Some(policy.policy_type));
        if !attached.iter().any(|p| p.id == policy_id) {
            return Err(refuse(
                ErrorCode::PolicyNotAttachedException,
                format!("The policy {policy_id} is not attached to {target_id}."),
            ));
        }
        if attached.len() == 1
            && matches!(
                policy.policy_type,
                OrgPolicyType::ServiceControlPolicy | OrgPolicyType::ResourceControlPolicy
            )
        {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                format!(
                    "{target_id} must keep at least one {} attached (MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED)",
                    policy.policy_type.as_str()
                ),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyDetached(OrgPolicyAttachment {
            policy_id: policy_id.to_owned(),
            target_id: target_id.to_owned(),
        })])
    }

    fn check_root(&self, root_id: &str) -> Result<(), DomainError> {
        if root_id == self.root.id {
            Ok(())
        } else {
            Err(refuse(
                ErrorCode::RootNotFoundException,
                format!("We can't find a root with the id {root_id}."),
            ))
        }
    }

    fn enable_type(&self, root_id: &str, policy_type: OrgPolicyType) -> Decision {
        self.check_root(root_id)?;
        if self.state.policy_type_enabled(policy_type) {
            return Err(refuse(
                ErrorCode::PolicyTypeAlreadyEnabledException,
                format!("The policy type {} is already enabled.", policy_type.as_str()),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyTypeEnabled(PolicyTypeChanged {
            root_id: root_id.to_owned(),
            policy_type,
        })])
    }

    fn disable_type(&self, root_id: &str, policy_type: OrgPolicyType) -> Decision {
        self.check_root(root_id)?;
        if !self.state.policy_type_enabled(policy_type) {
            return Err(refuse(
                ErrorCode::PolicyTypeNotEnabledException,
                format!("The policy type {} is not enabled.", policy_type.as_str()),
            ));
        }
        Ok(vec![DomainEvent::OrganizationPolicyTypeDisabled(PolicyTypeChanged {
            root_id: root_id.to_owned(),
            policy_type,
        })])
    }

    fn register_delegate(&self, account_id: &str, service: &str) -> Decision {
        self.member(account_id)?;
        if account_id == self.info.management_account_id {
            return Err(refuse(
                ErrorCode::ConstraintViolationException,
                "The management account cannot be its own delegated administrator (CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR).",
            ));
        }
        check_name("The service principal", service, 128)?;
        if self.state.is_delegated_administrator(account_id, service) {
            return Err(refuse(
                ErrorCode::AccountAlreadyRegisteredException,
                format!("The account {account_id} is already a delegated administrator for {service}."),
            ));
        }
        Ok(vec![DomainEvent::OrganizationDelegatedAdministratorRegistered(
            DelegatedAdministratorChanged {
                account_id: account_id.to_owned(),
                service_principal: service.to_owned(),
                at: self.ctx.now,
            },
        )])
    }

    fn deregister_delegate(&self, account_id: &str, service: &str) -> Decision {
        self.member(account_id)?;
        if !self.state.is_delegated_administrator(account_id, service) {
            return Err(refuse(
                ErrorCode::AccountNotRegisteredException,
                format!("The account {account_id} is not a delegated administrator for {service}."),
            ));
        }
        Ok(vec![DomainEvent::OrganizationDelegatedAdministratorDeregistered(
            DelegatedAdministratorChanged {
                account_id: account_id.to_owned(),
                service_principal: service.to_owned(),
                at: self.ctx.now,
            },
        )])
    }
}
