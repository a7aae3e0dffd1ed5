//! The two simulations, `SimulateCustomPolicy` and `SimulatePrincipalPolicy`, and the context
//! keys they need (`GetContextKeysFor*Policy`), for every door:
//! bounded (`check_simulation_sizes`) and paged (`MaxItems`/`Marker`) on the one code path of
//! `iam_policy::simulate`. Authorization and the record are the door's `Read` call
//! (`Gatehouse::authorize_read`, `read_call_record`).

use chrono::Utc;
use iam_authz::{AccountModel, RequestFacts};
use iam_policy::simulate::{
    check_simulation_sizes, context_from_entries, context_keys, next_marker, page_window, simulate,
    simulate_custom_policy, ContextEntry, SimulateCustomPolicyRequest, SimulatePolicyResponse, Simulation,
};
use iam_policy::{OrgLevels, Policies, PolicyError};
use iam_types::{ErrorCode, IamArn, ResourceKind};

use crate::{AppError, Gatehouse};

/// `SimulatePrincipalPolicy`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct PrincipalSimulation {
    /// The user or role whose policies are simulated.
    pub policy_source_arn: String,
    /// Actions to simulate.
    pub action_names: Vec<String>,
    /// Resources; `*` when empty.
    pub resource_arns: Vec<String>,
    /// Condition keys.
    pub context_entries: Vec<ContextEntry>,
    /// Results per page (1 to 1000; 100 when absent).
    pub max_items: Option<u32>,
    /// The previous page's marker.
    pub marker: Option<String>,
}

fn policy_error(error: PolicyError) -> AppError {
    let code = match error {
        PolicyError::InvalidInput(_) => ErrorCode::InvalidInput,
        _ => ErrorCode::MalformedPolicyDocument,
    };
    AppError::new(code, error.to_string())
}

/// `SimulateCustomPolicy`: the request's own policies, one page of results.
///
/// # Errors
/// `InvalidInput` (sizes, paging, malformed input) or `MalformedPolicyDocument`.
pub fn simulate_custom(request: &SimulateCustomPolicyRequest) -> Result<SimulatePolicyResponse, AppError> {
    simulate_custom_policy(request).map_err(policy_error)
}

/// `SimulatePrincipalPolicy`: a user's or role's own policies and boundary in `model`'s account,
/// under its organization's SCPs (every level, as a live decision), one page of results.
///
/// # Errors
/// `InvalidInput` (no action, sizes, paging, context), `NoSuchEntity` (no such principal).
pub fn simulate_principal(
    gatehouse: &Gatehouse,
    model: &AccountModel,
    input: &PrincipalSimulation,
) -> Result<SimulatePolicyResponse, AppError> {
    if input.action_names.is_empty() {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            "`ActionNames` must name at least one action",
        ));
    }
    check_simulation_sizes(
        input.action_names.len(),
        input.resource_arns.len(),
        input.context_entries.len(),
    )
    .map_err(policy_error)?;
    let principal = model.principal(&input.policy_source_arn).ok_or_else(|| {
        AppError::new(
            ErrorCode::NoSuchEntity,
            format!("{} is not a user or role of this account", input.policy_source_arn),
        )
    })?;
    let extra = context_from_entries(&input.context_entries).map_err(policy_error)?;
    let mut context = model.request_context(&principal, &RequestFacts::default(), Utc::now());
    let account = principal.caller.account.to_string();
    let own = gatehouse.own_organization_keys(&account, &mut context);
    for (key, value) in extra.iter() {
        context.insert(key, value.clone());
    }
    let resources = if input.resource_arns.is_empty() {
        vec!["*".to_owned()]
    } else {
        input.resource_arns.clone()
    };
    let total = input.action_names.len() * resources.len();
    let window = page_window(total, input.max_items, input.marker.as_deref()).map_err(policy_error)?;
    let marker = next_marker(&window, total);
    let evaluation_results = simulate(&Simulation {
        policies: Policies {
            identity: None,
            identity_sets: &principal.identity,
            permissions_boundary: principal.boundary.as_deref(),
            service_control: own
                .as_deref()
                .map_or(OrgLevels::none(), |g| &g.guardrails.service_control),
            ..Policies::default()
        },
        caller: &principal.caller,
        resource_owner: None,
        actions: &input.action_names,
        resources: &resources,
        context: &context,
        window: Some(window),
    });
    Ok(SimulatePolicyResponse {
        evaluation_results,
        is_truncated: marker.is_some(),
        marker,
    })
}

/// `GetContextKeysForCustomPolicy`: the context keys the given documents read.
///
/// # Errors
/// `InvalidInput` when a document does not parse or none is given.
pub fn context_keys_for_custom(documents: &[String]) -> Result<Vec<String>, AppError> {
    if documents.is_empty() {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            "`PolicyInputList` must hold at least one policy document",
        ));
    }
    context_keys(documents.iter().map(String::as_str)).map_err(unreadable_document)
}

/// AWS declares only `InvalidInput` for the context-key calls, a malformed document included.
fn unreadable_document(error: PolicyError) -> AppError {
    AppError::new(ErrorCode::InvalidInput, error.to_string())
}

/// `GetContextKeysForPrincipalPolicy`: the context keys a user's or role's policies read (a
/// user's include its groups'), with those of the extra `documents`.
///
/// # Errors
/// `NoSuchEntity` when the ARN is not a user or role of `model`'s account; `InvalidInput`
/// when an extra document does not parse.
pub fn context_keys_for_principal(
    model: &AccountModel,
    policy_source_arn: &str,
    documents: &[String],
) -> Result<Vec<String>, AppError> {
    let state = model.state();
    let no_such = || {
        AppError::new(
            ErrorCode::NoSuchEntity,
            format!("{policy_source_arn} is not a user or role of this account"),
        )
    };
    let arn = IamArn::parse(policy_source_arn).map_err(|_| no_such())?;
    if arn.account() != state.account_id() {
        return Err(no_such());
    }
    let name = arn.name().ok_or_else(no_such)?.as_str();
    let policies = match arn.kind() {
        Some(ResourceKind::User) => state.effective_policies_of_user(name),
        Some(ResourceKind::Role) => state.effective_policies_of_role(name),
        _ => None,
    }
    .ok_or_else(no_such)?;
    let own = policies.identity.iter().map(|p| p.document.as_str());
    context_keys(own.chain(documents.iter().map(String::as_str))).map_err(unreadable_document)
}
