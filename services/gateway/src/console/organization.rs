//! The organization page: the tree of the root, its OUs and accounts, each node with the SCPs
//! attached to it and, below it, the SCPs it inherits from the nodes above (every level must
//! allow). Read through the API's Organizations queries as the signed-in principal; the walk is
//! bounded, so a large organization shows its first nodes and says so.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::pages::{self, OrgNode};
use super::{page, run, Signed};
use crate::Gateway;

/// Nodes shown at most.
const MAX_NODES: usize = 300;

pub(super) async fn show(State(gateway): State<Gateway>, signed: Signed) -> Response {
    let frame = signed.frame();
    let tree = walk(&gateway, &signed).await;
    page(StatusCode::OK, pages::organization(&frame, tree))
}

async fn scps(gateway: &Gateway, signed: &Signed, target: &str) -> Vec<String> {
    run(
        gateway,
        &signed.caller,
        "query($t: String!) { organizationPoliciesForTarget(targetId: $t, filter: SERVICE_CONTROL_POLICY, maxResults: 20) { items { name } } }",
        json!({"t": target}),
    )
    .await
    .map(|data| names(&data["organizationPoliciesForTarget"]["items"], "name"))
    .unwrap_or_default()
}

fn names(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[key].as_str().map(str::to_owned))
        .collect()
}

/// The tree, depth first from the root, or the API's refusal (no organization, no permission).
async fn walk(gateway: &Gateway, signed: &Signed) -> Result<(Vec<OrgNode>, bool), String> {
    let roots = run(
        gateway,
        &signed.caller,
        "{ organizationRoots { items { id name } } }",
        json!({}),
    )
    .await?;
    let mut nodes = Vec::new();
    // (id, name, kind, depth, inherited SCPs)
    let mut pending: Vec<(String, String, &'static str, usize, Vec<String>)> = roots["organizationRoots"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|root| {
            let text = |k: &str| root[k].as_str().unwrap_or_default().to_owned();
            (text("id"), text("name"), "Root", 0, Vec::new())
        })
        .collect();
    let mut truncated = false;
    while let Some((id, name, kind, depth, inherited)) = pending.pop() {
        if nodes.len() >= MAX_NODES {
            truncated = true;
            break;
        }
        let attached = scps(gateway, signed, &id).await;
        let below: Vec<String> = inherited.iter().chain(&attached).cloned().collect();
        if kind != "Account" {
            let accounts = run(
                gateway,
                &signed.caller,
                "query($p: String!) { organizationAccountsForParent(parentId: $p, maxResults: 20) { items { id name } } }",
                json!({"p": id}),
            )
            .await
            .unwrap_or(Value::Null);
            let units = run(
                gateway,
                &signed.caller,
                "query($p: String!) { organizationalUnitsForParent(parentId: $p, maxResults: 20) { items { id name } } }",
                json!({"p": id}),
            )
            .await
            .unwrap_or(Value::Null);
            // Pushed in reverse, so they are shown in the order listed: OUs, then accounts.
            let mut children: Vec<(String, String, &'static str)> = Vec::new();
            for (items, child_kind) in [
                (&units["organizationalUnitsForParent"]["items"], "OU"),
                (&accounts["organizationAccountsForParent"]["items"], "Account"),
            ] {
                for item in items.as_array().into_iter().flatten() {
                    let text = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
                    children.push((text("id"), text("name"), child_kind));
                }
            }
            for (child_id, child_name, child_kind) in children.into_iter().rev() {
                pending.push((child_id, child_name, child_kind, depth + 1, below.clone()));
            }
        }
        nodes.push(OrgNode {
            id,
            name,
            kind,
            depth,
            attached,
            inherited,
        });
    }
    Ok((nodes, truncated))
}
