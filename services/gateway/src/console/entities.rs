//! Groups and roles: lists with a path filter and paging, create and delete.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::pages::{self, EntityKind, Notice};
use super::{csrf_holds, csrf_refused, page, run, signed_in, to_signin, Signed};
use crate::Gateway;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    path_prefix: String,
    /// Part of the name, any case.
    #[serde(default)]
    search: String,
    after: Option<String>,
}

/// The list query and its connection's field for a kind.
fn list_query(kind: EntityKind) -> (&'static str, &'static str) {
    match kind {
        EntityKind::Group => (
            "query($prefix: String, $after: String, $first: Int) { groups(pathPrefix: $prefix, after: $after, first: $first) { nodes { groupName path arn createDate } pageInfo { hasNextPage endCursor } } }",
            "groups",
        ),
        EntityKind::Role => (
            "query($prefix: String, $after: String, $first: Int) { roles(pathPrefix: $prefix, after: $after, first: $first) { nodes { roleName path arn createDate } pageInfo { hasNextPage endCursor } } }",
            "roles",
        ),
    }
}

async fn render(
    gateway: &Gateway,
    signed: &Signed,
    kind: EntityKind,
    query: &ListQuery,
    notice: Option<Notice>,
) -> Response {
    let (text, field) = list_query(kind);
    let prefix = Some(query.path_prefix.trim()).filter(|p| !p.is_empty());
    let name_field = if kind == EntityKind::Group {
        "groupName"
    } else {
        "roleName"
    };
    let listed = super::list_named(
        gateway,
        signed,
        super::Listing {
            query: text,
            variables: serde_json::Value::Null,
            field,
            name_field,
            prefix,
            search: &query.search,
            after: query.after.clone(),
        },
    )
    .await;
    let frame = signed.frame();
    page(
        StatusCode::OK,
        pages::entities(&frame, kind, &query.path_prefix, &query.search, listed, notice),
    )
}

/// `groups` or `roles`, from the path.
fn kind_of(segment: &str) -> Option<EntityKind> {
    match segment {
        "groups" => Some(EntityKind::Group),
        "roles" => Some(EntityKind::Role),
        _ => None,
    }
}

/// `GET /console/{groups|roles}`.
pub(super) async fn list(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let Some(kind) = kind_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match signed_in(&gateway, &headers, peer) {
        Some(signed) => render(&gateway, &signed, kind, &query, None).await,
        None => to_signin(),
    }
}

#[derive(Deserialize)]
pub(super) struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `create` or `delete`.
    intent: String,
    name: String,
    #[serde(default)]
    path: String,
    /// A role's trust policy.
    #[serde(default)]
    trust_policy: String,
}

async fn change(gateway: &Gateway, signed: &Signed, kind: EntityKind, form: ChangeForm) -> Response {
    if !csrf_holds(signed, &form.csrf) {
        return csrf_refused();
    }
    let name = form.name.trim();
    let path = Some(form.path.trim()).filter(|p| !p.is_empty());
    let result = match (kind, form.intent.as_str()) {
        (EntityKind::Group, "create") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!, $p: String) { createGroup(input: {groupName: $n, path: $p}) { sequence } }",
            json!({"n": name, "p": path}),
        )
        .await
        .map(|_| format!("Group {name} created.")),
        (EntityKind::Role, "create") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!, $p: String, $t: String!) { createRole(input: {roleName: $n, path: $p, assumeRolePolicyDocument: $t}) { sequence } }",
            json!({"n": name, "p": path, "t": form.trust_policy}),
        )
        .await
        .map(|_| format!("Role {name} created.")),
        (EntityKind::Group, "delete") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!) { deleteGroup(groupName: $n) { sequence } }",
            json!({"n": name}),
        )
        .await
        .map(|_| format!("Group {name} deleted.")),
        (EntityKind::Role, "delete") => run(
            gateway,
            &signed.caller,
            "mutation($n: String!) { deleteRole(roleName: $n) { sequence } }",
            json!({"n": name}),
        )
        .await
        .map(|_| format!("Role {name} deleted.")),
        _ => Err("InvalidInput: unknown action".to_owned()),
    };
    let notice = match result {
        Ok(text) => Notice::Done(text),
        Err(refusal) => Notice::Refused(refusal),
    };
    render(gateway, signed, kind, &ListQuery::default(), Some(notice)).await
}

/// `POST /console/{groups|roles}`: create or delete.
pub(super) async fn change_entity(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Response {
    let Some(kind) = kind_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match signed_in(&gateway, &headers, peer) {
        Some(signed) => change(&gateway, &signed, kind, form).await,
        None => to_signin(),
    }
}
