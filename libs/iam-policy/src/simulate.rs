//! AWS SimulateCustomPolicy: its request and response shapes, and the one code path behind every
//! simulation (the CLI and the GraphQL API both call [`simulate`]).

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::compile::{PolicySet, PolicySource, PolicyType};
use crate::condition::{parse_date, Number};
use crate::context::{Caller, Context, ContextValue, PrincipalKind};
use crate::error::PolicyError;
use crate::evaluate::{evaluate, missing_context_keys, MatchedStatement, Policies, PolicySlot, Request};
use crate::levels::OrgLevels;
use crate::parse::parse_policy;

/// The request of `aws iam simulate-custom-policy`, exactly as `--generate-cli-skeleton` prints
/// it. Empty strings and zeroes in optional fields (as the skeleton has them) mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SimulateCustomPolicyRequest {
    /// Identity-based policies, as JSON text.
    pub policy_input_list: Vec<String>,
    /// At most one permissions boundary, as JSON text.
    #[serde(default)]
    pub permissions_boundary_policy_input_list: Vec<String>,
    /// Organization policies per level, root first (AWS's 2026 addition).
    #[serde(default)]
    pub ordered_organization_policy_input_list: Vec<OrganizationPolicyLevel>,
    /// Actions to simulate, such as `s3:GetObject`; no wildcards.
    pub action_names: Vec<String>,
    /// Resources to simulate; `["*"]` when absent or empty.
    #[serde(default)]
    pub resource_arns: Vec<String>,
    /// A resource-based policy that applies to every simulated resource.
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// The account owning the resources whose ARN names none (`arn:aws:iam::<account>:root`);
    /// defaults to the caller's.
    #[serde(default)]
    pub resource_owner: Option<String>,
    /// The simulated caller; required with a resource policy. Without one, no resource is in
    /// another account: the identity-based policies decide.
    #[serde(default)]
    pub caller_arn: Option<String>,
    /// Condition keys of the simulated request.
    #[serde(default)]
    pub context_entries: Vec<ContextEntry>,
    /// EC2 scenarios; accepted and ignored, as Gatehouse models no EC2 resources.
    #[serde(default)]
    pub resource_handling_option: Option<String>,
    /// Results per page: 1 to 1000, 100 when absent (as AWS).
    #[serde(default)]
    pub max_items: Option<u32>,
    /// Where the page starts: the `Marker` of the previous page's answer.
    #[serde(default)]
    pub marker: Option<String>,
}

/// Most `ActionNames` one simulation takes.
pub const MAX_SIMULATED_ACTIONS: usize = 1_000;
/// Most `ResourceArns` one simulation takes.
pub const MAX_SIMULATED_RESOURCES: usize = 1_000;
/// Most `ContextEntries` one simulation takes.
pub const MAX_CONTEXT_ENTRIES: usize = 100;
/// Results per page when `MaxItems` is absent, and the most it may ask for.
pub const DEFAULT_MAX_ITEMS: u32 = 100;
/// The largest `MaxItems`.
pub const MAX_MAX_ITEMS: u32 = 1_000;

/// Checks a simulation's list sizes, so its cost is bounded before anything is compiled.
///
/// # Errors
/// `InvalidInput` naming the list that is too long.
pub fn check_simulation_sizes(actions: usize, resources: usize, context_entries: usize) -> Result<(), PolicyError> {
    let too_many = |list: &str, count: usize, max: usize| {
        PolicyError::InvalidInput(format!(
            "`{list}` has {count} members; a simulation takes at most {max}"
        ))
    };
    if actions > MAX_SIMULATED_ACTIONS {
        return Err(too_many("ActionNames", actions, MAX_SIMULATED_ACTIONS));
    }
    if resources > MAX_SIMULATED_RESOURCES {
        return Err(too_many("ResourceArns", resources, MAX_SIMULATED_RESOURCES));
    }
    if context_entries > MAX_CONTEXT_ENTRIES {
        return Err(too_many("ContextEntries", context_entries, MAX_CONTEXT_ENTRIES));
    }
    Ok(())
}

/// The results one page holds, out of `total` (actions × resources, actions outer), for AWS's
/// `MaxItems` and `Marker`. A marker is the index of the page's first result, as text.
///
/// # Errors
/// `InvalidInput` for `MaxItems` outside 1..=1000 or a marker this simulation did not give.
pub fn page_window(total: usize, max_items: Option<u32>, marker: Option<&str>) -> Result<Range<usize>, PolicyError> {
    let max_items = match max_items {
        None | Some(0) => DEFAULT_MAX_ITEMS,
        Some(n) if n > MAX_MAX_ITEMS => {
            return Err(PolicyError::InvalidInput(format!(
                "`MaxItems` must be between 1 and {MAX_MAX_ITEMS}"
            )))
        }
        Some(n) => n,
    };
    let start = match marker.map(str::trim).filter(|m| !m.is_empty()) {
        None => 0,
        Some(marker) => marker
            .parse::<usize>()
            .ok()
            .filter(|start| *start < total)
            .ok_or_else(|| PolicyError::InvalidInput(format!("`Marker` {marker:?} is not one this simulation gave")))?,
    };
    Ok(start..total.min(start + max_items as usize))
}

/// The marker of the page after `window`, when there is one.
#[must_use]
pub fn next_marker(window: &Range<usize>, total: usize) -> Option<String> {
    (window.end < total).then(|| window.end.to_string())
}

/// One level of the organization: its SCPs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrganizationPolicyLevel {
    /// SCPs at this level, as JSON text.
    #[serde(default)]
    pub service_control_policy_input_list: Vec<String>,
}

/// A context key with typed values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ContextEntry {
    /// The key, such as `aws:SourceIp`.
    #[serde(default)]
    pub context_key_name: String,
    /// Its values, as text.
    #[serde(default)]
    pub context_key_values: Vec<String>,
    /// `string`, `stringList`, `numeric`, `numericList`, `boolean`, `booleanList`, `ip`, `ipList`,
    /// `binary`, `binaryList`, `date` or `dateList`.
    #[serde(default)]
    pub context_key_type: String,
}

/// AWS's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePolicyResponse {
    /// One result per action and resource of this page, in input order (actions outer,
    /// resources inner).
    pub evaluation_results: Vec<EvaluationResult>,
    /// Whether more results follow; pass `Marker` to get them.
    pub is_truncated: bool,
    /// Where the next page starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// The decision for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EvaluationResult {
    /// The action.
    pub eval_action_name: String,
    /// The resource.
    pub eval_resource_name: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub eval_decision: String,
    /// The statements the decision rests on.
    pub matched_statements: Vec<StatementReference>,
    /// Condition keys the relevant statements read that the request did not supply.
    pub missing_context_values: Vec<String>,
    /// Present when a permissions boundary was simulated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub permissions_boundary_decision_detail: Option<PermissionsBoundaryDecisionDetail>,
    /// Present when organization policies were simulated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub organizations_decision_detail: Option<OrganizationsDecisionDetail>,
}

/// Whether the boundary allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionsBoundaryDecisionDetail {
    /// True when the boundary has a matching `Allow`.
    pub allowed_by_permissions_boundary: bool,
}

/// Whether the organization's policies allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationsDecisionDetail {
    /// True when every level allows.
    pub allowed_by_organizations: bool,
}

/// A statement, named by its policy and its place in the policy's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatementReference {
    /// `PolicyInputList.1`, `ResourcePolicy`, or a policy's name or ARN.
    pub source_policy_id: String,
    /// `IAM Policy`, `Resource Policy`, or AWS's policy source types (`user`, `group`, ...).
    pub source_policy_type: String,
    /// Where AWS's parser stood before reading the statement: just after the `[` or the previous
    /// statement's `}` in an array, just after the `{` of a lone statement object (1-based).
    pub start_position: LineColumn,
    /// Just after the statement's closing brace.
    pub end_position: LineColumn,
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LineColumn {
    /// Line.
    pub line: u32,
    /// Column.
    pub column: u32,
}

/// Everything a simulation needs, already compiled. `simulatePrincipalPolicy` builds one from
/// stored policies; [`simulate_custom_policy`] from the request's text.
#[derive(Debug, Clone)]
pub struct Simulation<'a> {
    /// The policy stack.
    pub policies: Policies<'a>,
    /// The caller. A caller without an account stands for a simulation without one
    /// (`SimulateCustomPolicy` without `CallerArn`): no resource is then in another account.
    pub caller: &'a Caller,
    /// The account owning resources whose ARN names none.
    pub resource_owner: Option<&'a str>,
    /// Actions, in order.
    pub actions: &'a [String],
    /// Resources, in order.
    pub resources: &'a [String],
    /// Condition keys.
    pub context: &'a Context,
    /// Which results to compute, by index (actions outer, resources inner): one page. `None`
    /// computes them all.
    pub window: Option<Range<usize>>,
}

/// Runs a simulation: one result per action and resource of its window.
pub fn simulate(simulation: &Simulation<'_>) -> Vec<EvaluationResult> {
    let per_action = simulation.resources.len();
    if per_action == 0 {
        return Vec::new();
    }
    let total = simulation.actions.len() * per_action;
    let window = simulation.window.clone().unwrap_or(0..total);
    let window = window.start.min(total)..window.end.min(total);
    let mut results = Vec::with_capacity(window.len());
    for index in window {
        let (action, resource) = (
            &simulation.actions[index / per_action],
            &simulation.resources[index % per_action],
        );
        {
            let resource_account = resource_account(simulation, resource);
            let request = Request {
                caller: simulation.caller,
                action,
                resource,
                resource_account,
                context: simulation.context,
            };
            let decision = evaluate(&simulation.policies, &request);
            results.push(EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: resource.clone(),
                eval_decision: decision.effect.as_str().to_string(),
                matched_statements: decision
                    .matched
                    .iter()
                    .filter(|m| !matches!(m.slot, PolicySlot::ServiceControl | PolicySlot::ResourceControl))
                    .map(statement_reference)
                    .collect(),
                // AWS leaves the organization's statements and keys out of what it reports.
                missing_context_values: missing_context_keys(
                    &Policies {
                        service_control: OrgLevels::none(),
                        resource_control: OrgLevels::none(),
                        ..simulation.policies
                    },
                    &request,
                ),
                permissions_boundary_decision_detail: decision.details.allowed_by_permissions_boundary.map(
                    |allowed_by_permissions_boundary| PermissionsBoundaryDecisionDetail {
                        allowed_by_permissions_boundary,
                    },
                ),
                organizations_decision_detail: decision.details.allowed_by_organizations.map(
                    |allowed_by_organizations| OrganizationsDecisionDetail {
                        allowed_by_organizations,
                    },
                ),
            });
        }
    }
    results
}

/// The account that owns a simulated resource: the one its ARN names, else the simulation's
/// resource owner; `None` for the caller's own account.
///
/// Without a caller there is no account for a resource to be outside of: AWS's simulator then lets
/// the identity-based policies decide (a resource policy, which alone could make a request
/// cross-account, needs a `CallerArn`). Comparing the ARN's account with the caller's empty one
/// would instead make every resource whose ARN names an account (IAM users, SQS queues, DynamoDB
/// tables, ...) another account's, and deny it for want of a resource policy.
fn resource_account<'a>(simulation: &Simulation<'a>, resource: &'a str) -> Option<&'a str> {
    if simulation.caller.account.is_empty() {
        return None;
    }
    resource
        .split(':')
        .nth(4)
        .filter(|account| !account.is_empty())
        .or(simulation.resource_owner)
}

fn statement_reference(matched: &MatchedStatement) -> StatementReference {
    let source_policy_type = match (matched.slot, matched.source.policy_type) {
        (PolicySlot::Resource, PolicyType::None) => "Resource Policy".to_string(),
        (_, PolicyType::None) => "IAM Policy".to_string(),
        (_, other) => other.as_str().to_string(),
    };
    StatementReference {
        source_policy_id: matched.source.id.to_string(),
        source_policy_type,
        start_position: LineColumn {
            line: matched.span.start.line,
            column: matched.span.start.column,
        },
        end_position: LineColumn {
            line: matched.span.end.line,
            column: matched.span.end.column,
        },
    }
}

fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Compiles a list of policy texts, naming each `<list>.<n>` (1-based) as AWS does.
fn compile_inputs(list: &str, texts: &[String], slot_type: PolicyType) -> Result<PolicySet, PolicyError> {
    let mut set = PolicySet::new();
    for (i, text) in texts.iter().enumerate() {
        let id = format!("{list}.{}", i + 1);
        add_input(&mut set, &id, text, slot_type)?;
    }
    Ok(set)
}

fn add_input(set: &mut PolicySet, id: &str, text: &str, policy_type: PolicyType) -> Result<(), PolicyError> {
    let parsed = parse_policy(text).map_err(|e| name_policy(e, id))?;
    set.add(
        PolicySource {
            id: Arc::from(id),
            policy_type,
            version_id: None,
        },
        &parsed,
    )
    .map_err(|e| name_policy(e, id))
}

fn name_policy(error: PolicyError, id: &str) -> PolicyError {
    match error {
        PolicyError::Malformed {
            code,
            message,
            path,
            span,
        } => PolicyError::Malformed {
            code,
            message: format!("`{id}`: {message}"),
            path,
            span,
        },
        other => PolicyError::InvalidInput(format!("`{id}`: {other}")),
    }
}

/// Builds the request context from typed entries, checking each value against its type.
///
/// An entry without values, or the skeleton's unfilled entry (no name, one empty value), is not
/// given. The empty string is a string like any other (`s3:prefix` is `""` when a bucket's top
/// level is listed), so a `string` or `stringList` entry keeps it and its key is present; for the
/// other types, whose values cannot be empty, an entry of empty values is not given.
pub fn context_from_entries(entries: &[ContextEntry]) -> Result<Context, PolicyError> {
    let mut context = Context::new();
    for entry in entries {
        let name = entry.context_key_name.trim();
        let values = &entry.context_key_values;
        let (element_type, is_list) = match entry.context_key_type.strip_suffix("List") {
            Some(element) => (element, true),
            None => (entry.context_key_type.as_str(), false),
        };
        let all_empty = values.iter().all(String::is_empty);
        if values.is_empty() || (all_empty && (name.is_empty() || element_type != "string")) {
            continue;
        }
        if name.is_empty() {
            return Err(PolicyError::InvalidInput(
                "a context entry has values but no `ContextKeyName`".into(),
            ));
        }
        let check: fn(&str) -> bool = match element_type {
            "string" => |_| true,
            "numeric" => |v| Number::parse(v).is_some(),
            "boolean" => |v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            "ip" => |v| v.trim().parse::<std::net::IpAddr>().is_ok() || v.trim().parse::<ipnet::IpNet>().is_ok(),
            "binary" => |v| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(v.trim()).is_ok()
            },
            "date" => |v| parse_date(v).is_some(),
            other => {
                return Err(PolicyError::InvalidInput(format!(
                    "context key `{name}` has type `{other}`; expected one of string, numeric, boolean, ip, binary, date, or their List forms"
                )))
            }
        };
        if let Some(bad) = values.iter().find(|v| !check(v)) {
            return Err(PolicyError::InvalidInput(format!(
                "context key `{name}` value `{bad}` is not a valid `{element_type}`"
            )));
        }
        let value = if is_list {
            ContextValue::list(values.iter().cloned())
        } else {
            match &values[..] {
                [single] => ContextValue::single(single.clone()),
                _ => {
                    return Err(PolicyError::InvalidInput(format!(
                        "context key `{name}` has {} values but type `{}`; use `{}List` for several",
                        values.len(),
                        entry.context_key_type,
                        entry.context_key_type
                    )))
                }
            }
        };
        context.insert(name, value);
    }
    Ok(context)
}

fn account_of_owner(owner: &str) -> Result<String, PolicyError> {
    let account = owner
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.strip_suffix(":root"))
        .unwrap_or(owner);
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(account.to_string())
    } else {
        Err(PolicyError::InvalidInput(format!(
            "`ResourceOwner` `{owner}` must be an account ARN such as `arn:aws:iam::123456789012:root`"
        )))
    }
}

/// SimulateCustomPolicy: parses the request's policies and runs [`simulate`].
pub fn simulate_custom_policy(request: &SimulateCustomPolicyRequest) -> Result<SimulatePolicyResponse, PolicyError> {
    let invalid = |message: &str| PolicyError::InvalidInput(message.to_string());
    if request.policy_input_list.is_empty() {
        return Err(invalid("`PolicyInputList` must contain at least one policy"));
    }
    if request.action_names.is_empty() {
        return Err(invalid("`ActionNames` must contain at least one action"));
    }
    check_simulation_sizes(
        request.action_names.len(),
        request.resource_arns.len(),
        request.context_entries.len(),
    )?;
    for action in &request.action_names {
        if action.contains(['*', '?']) {
            return Err(PolicyError::InvalidInput(format!(
                "action `{action}` contains a wildcard; `ActionNames` takes exact action names"
            )));
        }
        if action
            .split_once(':')
            .is_none_or(|(service, name)| service.is_empty() || name.is_empty())
        {
            return Err(PolicyError::InvalidInput(format!(
                "action `{action}` must be `service:action`"
            )));
        }
    }
    // Optional lists as the CLI skeleton leaves them (`[""]`) give nothing.
    let non_empty = |texts: &[String]| -> Vec<String> { texts.iter().filter(|t| !t.is_empty()).cloned().collect() };
    let boundary_texts = non_empty(&request.permissions_boundary_policy_input_list);
    if boundary_texts.len() > 1 {
        return Err(invalid("`PermissionsBoundaryPolicyInputList` takes at most one policy"));
    }

    let identity = compile_inputs("PolicyInputList", &request.policy_input_list, PolicyType::None)?;
    let boundary = match boundary_texts.is_empty() {
        true => None,
        false => Some(compile_inputs(
            "PermissionsBoundaryPolicyInputList",
            &boundary_texts,
            PolicyType::None,
        )?),
    };
    // Every level of an organization has at least one SCP, so a level without any was not given.
    let organization_levels = request
        .ordered_organization_policy_input_list
        .iter()
        .map(|input| non_empty(&input.service_control_policy_input_list))
        .filter(|texts| !texts.is_empty())
        .enumerate()
        .map(|(level, texts)| {
            compile_inputs(
                &format!(
                    "OrderedOrganizationPolicyInputList.{}.ServiceControlPolicyInputList",
                    level + 1
                ),
                &texts,
                PolicyType::None,
            )
            .map(Arc::new)
        })
        .collect::<Result<OrgLevels, _>>()?;
    let resource_policy = match given(&request.resource_policy) {
        Some(text) => {
            let mut set = PolicySet::new();
            add_input(&mut set, "ResourcePolicy", text, PolicyType::None)?;
            Some(set)
        }
        None => None,
    };

    let caller = match given(&request.caller_arn) {
        // AWS: "You cannot specify the ARN of an assumed role, federated user, or a service principal."
        Some(arn) => Caller::from_arn(arn)
            .filter(|caller| match caller.kind {
                PrincipalKind::FederatedUser => false,
                // A role's own ARN is its `role_arn`; a session of it has an `sts` ARN of its own.
                PrincipalKind::AssumedRole => caller.role_arn.as_deref() == Some(arn),
                _ => true,
            })
            .ok_or_else(|| {
                PolicyError::InvalidInput(format!("`CallerArn` `{arn}` must be the ARN of an IAM user or role"))
            })?,
        None if resource_policy.is_some() => {
            return Err(invalid(
                "`CallerArn` is required with a `ResourcePolicy`, so its `Principal` has someone to match",
            ))
        }
        None => Caller {
            kind: PrincipalKind::User,
            arn: String::new(),
            account: String::new(),
            role_arn: None,
        },
    };
    let owner = match given(&request.resource_owner) {
        Some(owner) => Some(account_of_owner(owner)?),
        None => (!caller.account.is_empty()).then(|| caller.account.clone()),
    };
    let context = context_from_entries(&request.context_entries)?;
    let resources = match request.resource_arns.iter().any(|r| !r.is_empty()) {
        true => request
            .resource_arns
            .iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect(),
        false => vec!["*".to_string()],
    };

    let simulation = Simulation {
        policies: Policies {
            identity: Some(&identity),
            identity_sets: &[],
            permissions_boundary: boundary.as_ref(),
            session: None,
            service_control: &organization_levels,
            resource_control: OrgLevels::none(),
            resource: resource_policy.as_ref(),
        },
        caller: &caller,
        resource_owner: owner.as_deref(),
        actions: &request.action_names,
        resources: &resources,
        context: &context,
        window: None,
    };
    let total = request.action_names.len() * resources.len();
    let window = page_window(total, request.max_items, request.marker.as_deref())?;
    let marker = next_marker(&window, total);
    let simulation = Simulation {
        window: Some(window),
        ..simulation
    };
    let mut evaluation_results = simulate(&simulation);
    let texts_by_id = request
        .policy_input_list
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("PolicyInputList.{}", i + 1), text.as_str()))
        .chain(
            boundary_texts
                .iter()
                .enumerate()
                .map(|(i, text)| (format!("PermissionsBoundaryPolicyInputList.{}", i + 1), text.as_str())),
        )
        .chain(given(&request.resource_policy).map(|text| ("ResourcePolicy".to_string(), text)))
        .collect::<Vec<_>>();
    for reference in evaluation_results
        .iter_mut()
        .flat_map(|result| result.matched_statements.iter_mut())
    {
        if let Some((_, text)) = texts_by_id.iter().find(|(id, _)| *id == reference.source_policy_id) {
            reference.start_position = aws_start_position(text, reference.start_position);
        }
    }
    Ok(SimulatePolicyResponse {
        evaluation_results,
        is_truncated: marker.is_some(),
        marker,
    })
}

/// Where AWS reports a statement to start, given the position of its `{` in `text`: AWS's JSON parser
/// reports where it stood before reading the statement, which is just after the `[` for the first
/// statement of an array, just after the previous statement's `}` for the others, and just after the
/// `{` itself for a statement given as a lone object.
pub fn aws_start_position(text: &str, brace: LineColumn) -> LineColumn {
    let Some(brace_offset) = offset_of(text, brace) else {
        return brace;
    };
    let before = text[..brace_offset].trim_end();
    let offset = match before.chars().last() {
        Some('[') => before.len(),
        Some(',') => before[..before.len() - 1].trim_end().len(),
        _ => brace_offset + 1,
    };
    line_column_of(text, offset)
}

fn offset_of(text: &str, at: LineColumn) -> Option<usize> {
    let line_start = match at.line {
        0 => return None,
        1 => 0,
        line => text.match_indices('\n').nth(usize::try_from(line - 2).ok()?)?.0 + 1,
    };
    let column = usize::try_from(at.column.checked_sub(1)?).ok()?;
    text[line_start..]
        .char_indices()
        .nth(column)
        .map(|(i, _)| line_start + i)
}

fn line_column_of(text: &str, offset: usize) -> LineColumn {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    LineColumn {
        line: count(before.matches('\n').count() + 1),
        column: count(before[line_start..].chars().count() + 1),
    }
}

/// `GetContextKeysFor*Policy`: the context keys the documents read (their condition keys and
/// the policy variables such as `${aws:username}` in resources and condition values), each once
/// (case-insensitively, as keys compare), as first written.
///
/// # Errors
/// `MalformedPolicyDocument` when a document does not parse.
pub fn context_keys<'d>(documents: impl IntoIterator<Item = &'d str>) -> Result<Vec<String>, PolicyError> {
    let mut keys: Vec<String> = Vec::new();
    let mut add = |key: &str| {
        if !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            keys.push(key.to_owned());
        }
    };
    for document in documents {
        let parsed = parse_policy(document)?;
        for statement in &parsed.policy.statements {
            let resources = statement.resource.iter().flat_map(|block| block.patterns.iter());
            let values = statement.condition.iter().flat_map(|clause| clause.values.iter());
            for text in resources.chain(values) {
                for variable in policy_variables(text) {
                    add(variable);
                }
            }
            for clause in &statement.condition {
                add(&clause.key);
            }
        }
    }
    Ok(keys)
}

/// The keys of the `${key}` variables in `text`; `${*}`, `${?}` and `${$}` are escapes, not keys.
fn policy_variables(text: &str) -> impl Iterator<Item = &str> {
    text.split("${").skip(1).filter_map(|rest| {
        let inner = &rest[..rest.find('}')?];
        // `${aws:username, 'default'}` names its key before the comma.
        let key = inner.split(',').next().unwrap_or_default().trim();
        (key.contains(':')).then_some(key)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn context_keys_are_condition_keys_and_policy_variables_each_once() {
        let document = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*",
             "Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team}"},
                          "Bool":{"aws:SecureTransport":"true"}}},
            {"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::b/${*}","Condition":{"IpAddress":{"AWS:SourceIp":"10.0.0.0/8"}}}]}"#;
        let other = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"StringLike":{"aws:sourceip":"1*","s3:prefix":"${aws:userid}/"}}}}"#;
        let keys = super::context_keys([document, other]).unwrap();
        assert_eq!(
            keys,
            [
                "aws:username",
                "aws:PrincipalTag/team",
                "aws:SecureTransport",
                "AWS:SourceIp",
                "aws:userid",
                "s3:prefix"
            ]
        );
        assert!(super::context_keys(["{"]).is_err());
    }

    use super::*;

    fn request(json: &str) -> SimulateCustomPolicyRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn aws_cli_example_shape() {
        let response = simulate_custom_policy(&request(
            r#"{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"dynamodb:*\",\"Resource\":\"*\",\"Condition\":{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2018-08-16T12:00:00Z\"}}}}"],
                "ActionNames":["dynamodb:CreateBackup"],
                "ContextEntries":[{"ContextKeyName":"aws:CurrentTime","ContextKeyValues":["2019-04-25T13:00:00Z"],"ContextKeyType":"date"}]}"#,
        ))
        .unwrap();
        let json = serde_json::to_value(&response).unwrap();
        let result = &json["EvaluationResults"][0];
        assert_eq!(result["EvalDecision"], "allowed");
        assert_eq!(result["EvalResourceName"], "*");
        assert_eq!(result["MatchedStatements"][0]["SourcePolicyId"], "PolicyInputList.1");
        assert_eq!(result["MatchedStatements"][0]["StartPosition"]["Line"], 1);
        assert_eq!(result["MatchedStatements"][0]["EndPosition"]["Column"], 167);
        assert_eq!(result["MissingContextValues"], serde_json::json!([]));
    }

    #[test]
    fn missing_values_and_order() {
        let response = simulate_custom_policy(&request(
            r#"{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}]}"],
                "ActionNames":["s3:GetObject","s3:PutObject"],"ResourceArns":["arn:aws:s3:::a/1","arn:aws:s3:::b/2"]}"#,
        ))
        .unwrap();
        let pairs: Vec<_> = response
            .evaluation_results
            .iter()
            .map(|r| {
                (
                    r.eval_action_name.as_str(),
                    r.eval_resource_name.as_str(),
                    r.eval_decision.as_str(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("s3:GetObject", "arn:aws:s3:::a/1", "implicitDeny"),
                ("s3:GetObject", "arn:aws:s3:::b/2", "implicitDeny"),
                ("s3:PutObject", "arn:aws:s3:::a/1", "implicitDeny"),
                ("s3:PutObject", "arn:aws:s3:::b/2", "implicitDeny"),
            ]
        );
        assert_eq!(
            response.evaluation_results[0].missing_context_values,
            vec!["aws:SourceIp"]
        );
    }

    #[test]
    fn malformed_policy_is_named() {
        let err = simulate_custom_policy(&request(
            r#"{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":[]}", "x"],"ActionNames":["s3:GetObject"]}"#,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("`PolicyInputList.1`"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn resource_policy_needs_caller() {
        let err = simulate_custom_policy(&request(
            r#"{"PolicyInputList":["{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}"],"ActionNames":["s3:GetObject"],"ResourcePolicy":"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}}"}"#,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("CallerArn"));
    }
}
