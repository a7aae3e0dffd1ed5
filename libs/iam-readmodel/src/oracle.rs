//! The read model an account's domain state implies, in [`crate::SqliteReadModel::snapshot`]'s
//! shape: an independent statement of what the projection must hold, for consistency checks.

use std::collections::BTreeMap;

use iam_domain::{AccessKeyOwner, AccountState, Permissions};
use serde_json::{json, Value};

use crate::change::{timestamp, SqlValue, TABLES};

fn ts(at: chrono::DateTime<chrono::Utc>) -> Value {
    match timestamp(at) {
        SqlValue::Text(text) => Value::String(text),
        other => json!(other),
    }
}

/// The snapshot the read model must equal for `state`'s account.
#[must_use]
pub fn expected_snapshot(state: &AccountState) -> Value {
    let account = state.account_id().map(ToString::to_string).unwrap_or_default();
    let mut tables: BTreeMap<&str, Vec<Value>> = TABLES.iter().map(|(t, _)| (*t, Vec::new())).collect();
    let mut push = |table: &'static str, row: Value| {
        if let Some(rows) = tables.get_mut(table) {
            rows.push(row);
        }
    };
    if let Some(info) = state.account() {
        push(
            "rm_accounts",
            json!({"account_id": account, "account_alias": info.account_alias, "create_date": ts(info.create_date)}),
        );
    }
    let permissions = |id: &str, p: &Permissions, push: &mut dyn FnMut(&'static str, Value)| {
        for arn in &p.attached_policies {
            push(
                "rm_attached_policies",
                json!({"account_id": account, "principal_id": id, "policy_arn": arn.to_string()}),
            );
        }
        for (name, document) in &p.inline_policies {
            push(
                "rm_inline_policies",
                json!({"account_id": account, "principal_id": id, "policy_name": name, "document": document}),
            );
        }
    };
    let tags = |id: &str, tags: &[iam_types::Tag], push: &mut dyn FnMut(&'static str, Value)| {
        for tag in tags {
            push(
                "rm_tags",
                json!({"account_id": account, "resource_id": id, "tag_key": tag.key(), "tag_value": tag.value()}),
            );
        }
    };
    for user in state.users() {
        let id = user.user_id.as_str();
        push(
            "rm_users",
            json!({"account_id": account, "user_id": id, "user_name": user.user_name.as_str(),
                "path": user.path.as_str(), "arn": user.arn.to_string(), "create_date": ts(user.create_date),
                "permissions_boundary_arn": user.permissions_boundary.as_ref().map(ToString::to_string)}),
        );
        permissions(id, &user.permissions, &mut push);
        tags(id, &user.tags, &mut push);
    }
    for group in state.groups() {
        let id = group.group_id.as_str();
        push(
            "rm_groups",
            json!({"account_id": account, "group_id": id, "group_name": group.group_name.as_str(),
                "path": group.path.as_str(), "arn": group.arn.to_string(), "create_date": ts(group.create_date)}),
        );
        for member in &group.members {
            push(
                "rm_group_members",
                json!({"account_id": account, "group_id": id, "user_id": member.as_str()}),
            );
        }
        permissions(id, &group.permissions, &mut push);
    }
    for role in state.roles() {
        let id = role.role_id.as_str();
        push(
            "rm_roles",
            json!({"account_id": account, "role_id": id, "role_name": role.role_name.as_str(),
                "path": role.path.as_str(), "arn": role.arn.to_string(), "create_date": ts(role.create_date),
                "assume_role_policy_document": role.assume_role_policy_document,
                "description": role.description, "max_session_duration": role.max_session_duration,
                "permissions_boundary_arn": role.permissions_boundary.as_ref().map(ToString::to_string)}),
        );
        permissions(id, &role.permissions, &mut push);
        tags(id, &role.tags, &mut push);
    }
    for policy in state.customer_policies() {
        let id = policy.policy_id.as_str();
        push(
            "rm_policies",
            json!({"account_id": account, "policy_id": id, "policy_name": policy.policy_name.as_str(),
                "path": policy.path.as_str(), "arn": policy.arn.to_string(), "description": policy.description,
                "create_date": ts(policy.create_date), "update_date": ts(policy.update_date),
                "default_version_id": policy.default_version_id}),
        );
        for version in &policy.versions {
            push(
                "rm_policy_versions",
                json!({"account_id": account, "policy_id": id, "version_id": version.version_id,
                    "document": version.document, "create_date": ts(version.create_date)}),
            );
        }
        tags(id, &policy.tags, &mut push);
    }
    for profile in state.instance_profiles() {
        let id = profile.instance_profile_id.as_str();
        push(
            "rm_instance_profiles",
            json!({"account_id": account, "instance_profile_id": id,
                "instance_profile_name": profile.instance_profile_name.as_str(), "path": profile.path.as_str(),
                "arn": profile.arn.to_string(), "create_date": ts(profile.create_date)}),
        );
        for role_id in &profile.roles {
            push(
                "rm_instance_profile_roles",
                json!({"account_id": account, "instance_profile_id": id, "role_id": role_id.as_str()}),
            );
        }
        tags(id, &profile.tags, &mut push);
    }
    for key in state.access_keys() {
        let user_id = match &key.owner {
            AccessKeyOwner::Root => None,
            AccessKeyOwner::User { user_id } => Some(user_id.as_str()),
        };
        let last_used = key.last_used.as_ref();
        push(
            "rm_access_keys",
            json!({"account_id": account, "access_key_id": key.access_key_id.as_str(), "user_id": user_id,
                "status": key.status.as_str(), "create_date": ts(key.create_date),
                "last_used_date": last_used.map(|u| ts(u.last_used_date)),
                "last_used_service": last_used.map(|u| u.service_name.clone()),
                "last_used_region": last_used.map(|u| u.region.clone())}),
        );
    }
    let mut snapshot = serde_json::Map::new();
    for (table, key) in TABLES {
        let mut rows = tables.remove(table).unwrap_or_default();
        rows.sort_by_key(|row| key.iter().map(|c| sort_key(&row[*c])).collect::<Vec<_>>());
        snapshot.insert((*table).to_owned(), Value::Array(rows));
    }
    Value::Object(snapshot)
}

fn sort_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
