//! A user's page: its attached policies (attach by ARN, detach), groups, access keys (create:
//! the secret is shown on that one answer only, with a copy button; deactivate and delete are
//! the API's), and deleting the user.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::pages::{self, Notice};
use super::{page, run, signed_change, Signed};
use crate::Gateway;

const USER: &str = "query($name: String!) { user(userName: $name) {
  userName arn path createDate
  attachedPolicies { policyName policyArn }
  groups(first: 50) { nodes { groupName } }
  accessKeys { accessKeyId status createDate }
  tags { key value }
  permissionsBoundary { permissionsBoundaryArn }
} }";

#[derive(Deserialize)]
pub(super) struct UserQuery {
    name: String,
}

pub(super) async fn show(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<UserQuery>) -> Response {
    render(&gateway, &signed, &query.name, None, None).await
}

async fn render(
    gateway: &Gateway,
    signed: &Signed,
    name: &str,
    notice: Option<Notice>,
    secret: Option<(String, Zeroizing<String>)>,
) -> Response {
    let user = run(gateway, &signed.caller, USER, json!({"name": name}))
        .await
        .map(|data| data["user"].clone());
    let frame = signed.frame();
    let mut response = page(StatusCode::OK, pages::user(&frame, name, user, notice, secret.as_ref()));
    if secret.is_some() {
        // The one page that shows a secret is never stored, anywhere.
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store, private"),
        );
    }
    response
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    #[serde(default)]
    csrf: String,
    name: String,
    /// `attach`, `detach`, `tag`, `untag`, `set-boundary`, `remove-boundary`, `create-key`,
    /// `deactivate-key`, `delete-key` or `delete`.
    intent: String,
    #[serde(default)]
    policy_arn: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    new_name: String,
    #[serde(default)]
    tag_key: String,
    #[serde(default)]
    tag_value: String,
}

pub(super) async fn change(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<UserForm>,
) -> Response {
    let signed = match signed_change(&gateway, &headers, peer, &form.csrf) {
        Ok(signed) => signed,
        Err(answer) => return *answer,
    };
    let name = form.name.trim();
    let done = |text: String| Ok::<_, String>(text);
    let result = match form.intent.as_str() {
        "attach" | "detach" => {
            let verb = if form.intent == "attach" { "attachUserPolicy" } else { "detachUserPolicy" };
            run(
                &gateway,
                &signed.caller,
                &format!("mutation($u: String!, $p: String!) {{ {verb}(input: {{userName: $u, policyArn: $p}}) {{ sequence }} }}"),
                json!({"u": name, "p": form.policy_arn.trim()}),
            )
            .await
            .and_then(|_| done(format!("{} {}.", if form.intent == "attach" { "Attached" } else { "Detached" }, form.policy_arn.trim())))
        }
        "create-key" => {
            let created = run(
                &gateway,
                &signed.caller,
                "mutation($u: String) { createAccessKey(userName: $u) { accessKey { accessKeyId secretAccessKey } } }",
                json!({"u": name}),
            )
            .await;
            return match created {
                Ok(data) => {
                    let key = &data["createAccessKey"]["accessKey"];
                    let id = key["accessKeyId"].as_str().unwrap_or_default().to_owned();
                    let secret = Zeroizing::new(key["secretAccessKey"].as_str().unwrap_or_default().to_owned());
                    render(
                        &gateway,
                        &signed,
                        name,
                        Some(Notice::Done(format!("Access key {id} created."))),
                        Some((id, secret)),
                    )
                    .await
                }
                Err(refusal) => render(&gateway, &signed, name, Some(Notice::Refused(refusal)), None).await,
            };
        }
        "rename" => {
            let new_name = form.new_name.trim();
            let renamed = run(
                &gateway,
                &signed.caller,
                "mutation($u: String!, $n: String!) { updateUser(input: {userName: $u, newUserName: $n}) { sequence } }",
                json!({"u": name, "n": new_name}),
            )
            .await;
            return match renamed {
                Ok(_) => {
                    let notice = Notice::Done(format!("Renamed {name} to {new_name}."));
                    render(&gateway, &signed, new_name, Some(notice), None).await
                }
                Err(refusal) => render(&gateway, &signed, name, Some(Notice::Refused(refusal)), None).await,
            };
        }
        "tag" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String!, $k: String!, $v: String!) { tagUser(input: {userName: $u, tags: [{key: $k, value: $v}]}) { sequence } }",
            json!({"u": name, "k": form.tag_key.trim(), "v": form.tag_value.trim()}),
        )
        .await
        .and_then(|_| done(format!("Tagged {}.", form.tag_key.trim()))),
        "untag" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String!, $k: String!) { untagUser(input: {userName: $u, tagKeys: [$k]}) { sequence } }",
            json!({"u": name, "k": form.tag_key.trim()}),
        )
        .await
        .and_then(|_| done(format!("Tag {} removed.", form.tag_key.trim()))),
        "set-boundary" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String!, $p: String!) { putUserPermissionsBoundary(input: {userName: $u, permissionsBoundary: $p}) { sequence } }",
            json!({"u": name, "p": form.policy_arn.trim()}),
        )
        .await
        .and_then(|_| done(format!("Permissions boundary set to {}.", form.policy_arn.trim()))),
        "remove-boundary" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String!) { deleteUserPermissionsBoundary(userName: $u) { sequence } }",
            json!({"u": name}),
        )
        .await
        .and_then(|_| done("Permissions boundary removed.".to_owned())),
        "deactivate-key" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String, $k: String!) { updateAccessKey(input: {userName: $u, accessKeyId: $k, status: Inactive}) { sequence } }",
            json!({"u": name, "k": form.access_key_id.trim()}),
        )
        .await
        .and_then(|_| done(format!("Access key {} deactivated.", form.access_key_id.trim()))),
        "delete-key" => run(
            &gateway,
            &signed.caller,
            "mutation($u: String, $k: String!) { deleteAccessKey(input: {userName: $u, accessKeyId: $k}) { sequence } }",
            json!({"u": name, "k": form.access_key_id.trim()}),
        )
        .await
        .and_then(|_| done(format!("Access key {} deleted.", form.access_key_id.trim()))),
        "delete" => {
            let deleted = run(
                &gateway,
                &signed.caller,
                "mutation($u: String!) { deleteUser(userName: $u) { sequence } }",
                json!({"u": name}),
            )
            .await;
            return match deleted {
                Ok(_) => Redirect::to("/console/users").into_response(),
                Err(refusal) => render(&gateway, &signed, name, Some(Notice::Refused(refusal)), None).await,
            };
        }
        _ => Err("InvalidInput: unknown action".to_owned()),
    };
    let notice = match result {
        Ok(text) => Notice::Done(text),
        Err(refusal) => Notice::Refused(refusal),
    };
    render(&gateway, &signed, name, Some(notice), None).await
}
