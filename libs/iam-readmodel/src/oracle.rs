//! The read model a stream's domain state implies (an account's, or an organization's), in
//! [`crate::SqliteReadModel::snapshot`]'s shape: an independent statement of what the projection
//! must hold, for consistency checks. It reads the states through their public getters only.

use std::collections::BTreeMap;

use iam_domain::organization::{OrganizationInfo, OrganizationState};
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
    finish(tables)
}

/// Every table of [`TABLES`], its rows in primary-key order.
fn finish(mut tables: BTreeMap<&str, Vec<Value>>) -> Value {
    let mut snapshot = serde_json::Map::new();
    for (table, key) in TABLES {
        let mut rows = tables.remove(table).unwrap_or_default();
        rows.sort_by_key(|row| key.iter().map(|c| sort_key(&row[*c])).collect::<Vec<_>>());
        snapshot.insert((*table).to_owned(), Value::Array(rows));
    }
    Value::Object(snapshot)
}

/// The snapshot the read model must equal for an organization's stream.
///
/// A deleted organization keeps its `rm_organizations` row (flagged), but its state no longer
/// shows what the organization was (`info()` is `None` then): `created` supplies it, the
/// organization as its `organizations.organization.created` event gave it. It is not needed, and
/// not read, while the organization exists.
#[must_use]
pub fn expected_organization_snapshot(state: &OrganizationState, created: Option<&OrganizationInfo>) -> Value {
    let mut tables: BTreeMap<&str, Vec<Value>> = TABLES.iter().map(|(t, _)| (*t, Vec::new())).collect();
    let Some(info) = state.info().or(created) else {
        return finish(tables);
    };
    let org = info.id.as_str();
    let mut push = |table: &'static str, row: Value| {
        if let Some(rows) = tables.get_mut(table) {
            rows.push(row);
        }
    };
    push(
        "rm_organizations",
        json!({"organization_id": org, "arn": info.arn, "management_account_id": info.management_account_id,
            "management_account_email": info.management_account_email, "feature_set": info.feature_set,
            "created": ts(info.created), "deleted": i64::from(state.is_deleted())}),
    );
    if let Some(root) = state.root() {
        push(
            "rm_organization_roots",
            json!({"organization_id": org, "root_id": root.id, "arn": root.arn, "name": root.name}),
        );
        for policy_type in &root.enabled_policy_types {
            push(
                "rm_organization_policy_types",
                json!({"organization_id": org, "root_id": root.id, "policy_type": policy_type.as_str()}),
            );
        }
    }
    for unit in state.units() {
        push(
            "rm_organizational_units",
            json!({"organization_id": org, "ou_id": unit.id, "arn": unit.arn, "name": unit.name,
                "parent_id": unit.parent_id}),
        );
    }
    for account in state.accounts() {
        push(
            "rm_organization_accounts",
            json!({"organization_id": org, "account_id": account.id, "arn": account.arn, "name": account.name,
                "email": account.email, "parent_id": account.parent_id, "status": account.status.as_str(),
                "joined_method": account.joined_method.as_str(), "joined": ts(account.joined)}),
        );
    }
    for policy in state.policies() {
        push(
            "rm_organization_policies",
            json!({"organization_id": org, "policy_id": policy.id, "arn": policy.arn, "name": policy.name,
                "description": policy.description, "policy_type": policy.policy_type.as_str(),
                "content": policy.content, "aws_managed": i64::from(policy.aws_managed),
                "revision": policy.revision}),
        );
        for target in state.targets_for_policy(&policy.id) {
            push(
                "rm_organization_policy_attachments",
                json!({"organization_id": org, "policy_id": policy.id, "target_id": target,
                    "policy_type": policy.policy_type.as_str()}),
            );
        }
    }
    for handshake in state.handshakes() {
        push(
            "rm_organization_handshakes",
            json!({"organization_id": org, "handshake_id": handshake.id, "arn": handshake.arn,
                "target_account_id": handshake.target_account_id, "notes": handshake.notes,
                "state": handshake.state.as_str(), "requested": ts(handshake.requested),
                "expiration": ts(handshake.expiration)}),
        );
    }
    for delegate in state.delegated_administrators() {
        for service in &delegate.services {
            push(
                "rm_organization_delegated_administrators",
                json!({"organization_id": org, "account_id": delegate.account_id, "service_principal": service,
                    "registered": ts(delegate.registered)}),
            );
        }
    }
    finish(tables)
}

fn sort_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
