//! A group's page (members, attached policies) and a role's page (trust policy, attached
//! policies): each change is the API's mutation as the signed-in principal.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::pages::{self, EntityKind, Notice};
use super::{csrf_holds, csrf_refused, page, run, Signed};
use crate::Gateway;

#[derive(Deserialize)]
pub(super) struct DetailQuery {
    name: String,
}

async fn render(gateway: &Gateway, signed: &Signed, kind: EntityKind, name: &str, notice: Option<Notice>) -> Response {
    let query = match kind {
        EntityKind::Group => {
            "query($n: String!) { entity: group(groupName: $n) { arn attachedPolicies { policyName policyArn } users(first: 100) { nodes { userName } } } }"
        }
        EntityKind::Role => {
            "query($n: String!) { entity: role(roleName: $n) { arn description maxSessionDuration assumeRolePolicyDocument attachedPolicies { policyName policyArn } tags { key value } permissionsBoundary { permissionsBoundaryArn } } }"
        }
    };
    let entity = run(gateway, &signed.caller, query, json!({"n": name}))
        .await
        .map(|data| data["entity"].clone());
    let frame = signed.frame();
    page(StatusCode::OK, pages::entity_detail(&frame, kind, name, entity, notice))
}

pub(super) async fn group(
    State(gateway): State<Gateway>,
    signed: Signed,
    Query(query): Query<DetailQuery>,
) -> Response {
    render(&gateway, &signed, EntityKind::Group, &query.name, None).await
}

pub(super) async fn role(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<DetailQuery>) -> Response {
    render(&gateway, &signed, EntityKind::Role, &query.name, None).await
}

#[derive(Deserialize)]
pub(super) struct DetailForm {
    #[serde(default)]
    csrf: String,
    name: String,
    /// `attach`, `detach`, `delete`; for a group `add-member`, `remove-member` or `rename`; for
    /// a role `trust`, `describe`, `tag`, `untag`, `set-boundary` or `remove-boundary`.
    intent: String,
    #[serde(default)]
    policy_arn: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    trust_policy: String,
    #[serde(default)]
    tag_key: String,
    #[serde(default)]
    tag_value: String,
    #[serde(default)]
    new_name: String,
    #[serde(default)]
    description: String,
}

async fn change(gateway: &Gateway, signed: &Signed, kind: EntityKind, form: DetailForm) -> Response {
    if !csrf_holds(signed, &form.csrf) {
        return csrf_refused();
    }
    let name = form.name.trim();
    let (entity_field, noun) = match kind {
        EntityKind::Group => ("groupName", "Group"),
        EntityKind::Role => ("roleName", "Role"),
    };
    let mutation = |verb: &str, extra: &str| {
        format!("mutation($n: String!, $x: String!) {{ {verb}(input: {{{entity_field}: $n, {extra}: $x}}) {{ sequence }} }}")
    };
    let policy_arn = form.policy_arn.trim();
    let result = match (kind, form.intent.as_str()) {
        (_, "attach" | "detach") => {
            let verb = format!("{}{noun}Policy", form.intent);
            run(
                gateway,
                &signed.caller,
                &mutation(&verb, "policyArn"),
                json!({"n": name, "x": policy_arn}),
            )
            .await
            .map(|_| {
                format!(
                    "{} {policy_arn}.",
                    if form.intent == "attach" {
                        "Attached"
                    } else {
                        "Detached"
                    }
                )
            })
        }
        (EntityKind::Group, "add-member" | "remove-member") => {
            let verb = if form.intent == "add-member" {
                "addUserToGroup"
            } else {
                "removeUserFromGroup"
            };
            run(
                gateway,
                &signed.caller,
                &mutation(verb, "userName"),
                json!({"n": name, "x": form.user_name.trim()}),
            )
            .await
            .map(|_| {
                format!(
                    "{} {}.",
                    if form.intent == "add-member" {
                        "Added"
                    } else {
                        "Removed"
                    },
                    form.user_name.trim()
                )
            })
        }
        (EntityKind::Role, "trust") => run(
            gateway,
            &signed.caller,
            &mutation("updateAssumeRolePolicy", "policyDocument"),
            json!({"n": name, "x": form.trust_policy}),
        )
        .await
        .map(|_| "Trust policy updated.".to_owned()),
        (EntityKind::Group, "rename") => {
            let new_name = form.new_name.trim();
            let renamed = run(
                gateway,
                &signed.caller,
                &mutation("updateGroup", "newGroupName"),
                json!({"n": name, "x": new_name}),
            )
            .await;
            return match renamed {
                Ok(_) => {
                    let notice = Notice::Done(format!("Renamed {name} to {new_name}."));
                    render(gateway, signed, kind, new_name, Some(notice)).await
                }
                Err(refusal) => render(gateway, signed, kind, name, Some(Notice::Refused(refusal))).await,
            };
        }
        (EntityKind::Role, "describe") => run(
            gateway,
            &signed.caller,
            &mutation("updateRole", "description"),
            json!({"n": name, "x": form.description.trim()}),
        )
        .await
        .map(|_| "Description updated.".to_owned()),
        (EntityKind::Role, "tag") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!, $k: String!, $v: String!) { tagRole(input: {roleName: $n, tags: [{key: $k, value: $v}]}) { sequence } }",
            json!({"n": name, "k": form.tag_key.trim(), "v": form.tag_value.trim()}),
        )
        .await
        .map(|_| format!("Tagged {}.", form.tag_key.trim())),
        (EntityKind::Role, "untag") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!, $k: String!) { untagRole(input: {roleName: $n, tagKeys: [$k]}) { sequence } }",
            json!({"n": name, "k": form.tag_key.trim()}),
        )
        .await
        .map(|_| format!("Tag {} removed.", form.tag_key.trim())),
        (EntityKind::Role, "set-boundary") => run(
            gateway,
            &signed.caller,
            &mutation("putRolePermissionsBoundary", "permissionsBoundary"),
            json!({"n": name, "x": policy_arn}),
        )
        .await
        .map(|_| format!("Permissions boundary set to {policy_arn}.")),
        (EntityKind::Role, "remove-boundary") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!) { deleteRolePermissionsBoundary(roleName: $n) { sequence } }",
            json!({"n": name}),
        )
        .await
        .map(|_| "Permissions boundary removed.".to_owned()),
        (_, "delete") => {
            let (verb, back) = match kind {
                EntityKind::Group => ("deleteGroup(groupName: $n)", "/console/groups"),
                EntityKind::Role => ("deleteRole(roleName: $n)", "/console/roles"),
            };
            let deleted = run(
                gateway,
                &signed.caller,
                &format!("mutation($n: String!) {{ {verb} {{ sequence }} }}"),
                json!({"n": name}),
            )
            .await;
            return match deleted {
                Ok(_) => Redirect::to(back).into_response(),
                Err(refusal) => render(gateway, signed, kind, name, Some(Notice::Refused(refusal))).await,
            };
        }
        _ => Err("InvalidInput: unknown action".to_owned()),
    };
    let notice = match result {
        Ok(text) => Notice::Done(text),
        Err(refusal) => Notice::Refused(refusal),
    };
    render(gateway, signed, kind, name, Some(notice)).await
}

pub(super) async fn change_group(
    State(gateway): State<Gateway>,
    signed: Signed,
    Form(form): Form<DetailForm>,
) -> Response {
    change(&gateway, &signed, EntityKind::Group, form).await
}

pub(super) async fn change_role(
    State(gateway): State<Gateway>,
    signed: Signed,
    Form(form): Form<DetailForm>,
) -> Response {
    change(&gateway, &signed, EntityKind::Role, form).await
}
