//! `simulateCustomPolicy` and `simulatePrincipalPolicy`: the GraphQL side of `iam-app`'s
//! simulations (the code path `iamctl simulate-custom-policy` shares).

use async_graphql::{Context, InputObject, Json, Result, SimpleObject};
use iam_app::simulation::PrincipalSimulation;
use iam_domain::Read;
use iam_policy::simulate::{ContextEntry, EvaluationResult, SimulateCustomPolicyRequest};

use crate::error::from_app;
use crate::guard::Scope;

/// A typed context key, as AWS's `ContextEntry`.
#[derive(InputObject, Clone)]
pub struct SimulationContextEntry {
    /// The key.
    pub context_key_name: String,
    /// Its values.
    pub context_key_values: Vec<String>,
    /// `string`, `stringList`, `numeric`, `boolean`, `ip`, `date`, `binary`, or their lists.
    pub context_key_type: String,
}

fn entries(input: Vec<SimulationContextEntry>) -> Vec<ContextEntry> {
    input
        .into_iter()
        .map(|e| ContextEntry {
            context_key_name: e.context_key_name,
            context_key_values: e.context_key_values,
            context_key_type: e.context_key_type,
        })
        .collect()
}

/// `simulateCustomPolicy` input: AWS's `SimulateCustomPolicy` parameters.
#[derive(InputObject)]
pub struct SimulateCustomPolicyInput {
    /// Identity-based policies (JSON text).
    pub policy_input_list: Vec<String>,
    /// A permissions boundary (JSON text).
    #[graphql(default)]
    pub permissions_boundary_policy_input_list: Vec<String>,
    /// Actions to simulate.
    pub action_names: Vec<String>,
    /// Resources; `*` when empty.
    #[graphql(default)]
    pub resource_arns: Vec<String>,
    /// A resource-based policy (JSON text).
    pub resource_policy: Option<String>,
    /// The account owning the resources.
    pub resource_owner: Option<String>,
    /// The caller's ARN, for resource policies.
    pub caller_arn: Option<String>,
    /// Condition keys.
    #[graphql(default)]
    pub context_entries: Vec<SimulationContextEntry>,
    /// Results per page (1 to 1000; 100 when absent).
    pub max_items: Option<u32>,
    /// The `marker` of the previous page.
    pub marker: Option<String>,
}

/// `simulatePrincipalPolicy` input.
#[derive(InputObject)]
pub struct SimulatePrincipalPolicyInput {
    /// The user or role whose policies are simulated.
    pub policy_source_arn: String,
    /// Actions to simulate.
    pub action_names: Vec<String>,
    /// Resources; `*` when empty.
    #[graphql(default)]
    pub resource_arns: Vec<String>,
    /// Condition keys.
    #[graphql(default)]
    pub context_entries: Vec<SimulationContextEntry>,
    /// Results per page (1 to 1000; 100 when absent).
    pub max_items: Option<u32>,
    /// The `marker` of the previous page.
    pub marker: Option<String>,
}

/// One simulated action on one resource.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct SimulationResult {
    /// The action.
    pub eval_action_name: String,
    /// The resource.
    pub eval_resource_name: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub eval_decision: String,
    /// Keys the policies use that the request did not give.
    pub missing_context_values: Vec<String>,
    /// AWS's `EvaluationResult`, whole (matched statements with positions, boundary detail).
    pub evaluation_result: Json<serde_json::Value>,
}

/// One page of the simulation's results, in input order (actions outer, resources inner).
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct SimulationResponse {
    /// One per action and resource of this page.
    pub evaluation_results: Vec<SimulationResult>,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// Pass as `marker` for the next page.
    pub marker: Option<String>,
}

fn response(results: Vec<EvaluationResult>, marker: Option<String>) -> SimulationResponse {
    SimulationResponse {
        is_truncated: marker.is_some(),
        marker,
        evaluation_results: results
            .into_iter()
            .map(|r| SimulationResult {
                eval_action_name: r.eval_action_name.clone(),
                eval_resource_name: r.eval_resource_name.clone(),
                eval_decision: r.eval_decision.clone(),
                missing_context_values: r.missing_context_values.clone(),
                evaluation_result: Json(serde_json::to_value(&r).unwrap_or_default()),
            })
            .collect(),
    }
}

pub(crate) fn simulate_custom(ctx: &Context<'_>, input: SimulateCustomPolicyInput) -> Result<SimulationResponse> {
    let scope = Scope::of(ctx)?;
    scope.read(Read::SimulateCustomPolicy {
        action_names: input.action_names.clone(),
        resource_arns: input.resource_arns.clone(),
    })?;
    let request = SimulateCustomPolicyRequest {
        policy_input_list: input.policy_input_list,
        permissions_boundary_policy_input_list: input.permissions_boundary_policy_input_list,
        action_names: input.action_names,
        resource_arns: input.resource_arns,
        resource_policy: input.resource_policy,
        resource_owner: input.resource_owner,
        caller_arn: input.caller_arn,
        context_entries: entries(input.context_entries),
        max_items: input.max_items,
        marker: input.marker,
        ..SimulateCustomPolicyRequest::default()
    };
    let simulated = iam_app::simulation::simulate_custom(&request).map_err(from_app)?;
    Ok(response(simulated.evaluation_results, simulated.marker))
}

pub(crate) fn simulate_principal(ctx: &Context<'_>, input: SimulatePrincipalPolicyInput) -> Result<SimulationResponse> {
    let scope = Scope::of(ctx)?;
    scope.read(Read::SimulatePrincipalPolicy {
        policy_source_arn: input.policy_source_arn.clone(),
        action_names: input.action_names.clone(),
        resource_arns: input.resource_arns.clone(),
    })?;
    let simulation = PrincipalSimulation {
        policy_source_arn: input.policy_source_arn,
        action_names: input.action_names,
        resource_arns: input.resource_arns,
        context_entries: entries(input.context_entries),
        max_items: input.max_items,
        marker: input.marker,
    };
    let simulated =
        iam_app::simulation::simulate_principal(&scope.gatehouse, &scope.model, &simulation).map_err(from_app)?;
    Ok(response(simulated.evaluation_results, simulated.marker))
}

pub(crate) fn context_keys_for_custom(ctx: &Context<'_>, policy_input_list: Vec<String>) -> Result<Vec<String>> {
    let scope = Scope::of(ctx)?;
    scope.read(Read::GetContextKeysForCustomPolicy {})?;
    iam_app::simulation::context_keys_for_custom(&policy_input_list).map_err(from_app)
}

pub(crate) fn context_keys_for_principal(
    ctx: &Context<'_>,
    policy_source_arn: String,
    policy_input_list: Vec<String>,
) -> Result<Vec<String>> {
    let scope = Scope::of(ctx)?;
    scope.read(Read::GetContextKeysForPrincipalPolicy {
        policy_source_arn: policy_source_arn.clone(),
    })?;
    iam_app::simulation::context_keys_for_principal(&scope.model, &policy_source_arn, &policy_input_list)
        .map_err(from_app)
}
