-- The SQL read model on PostgreSQL (crate iam-readmodel, `PgReadModel`): the same tables and
-- keys as the embedded SQLite read model (schema/migrations/sqlite/readmodel/), one row per IAM
-- entity and relation, every row keyed by its account. Timestamps are RFC 3339 UTC text with six
-- fractional digits, as in SQLite, so both backends hold identical rows.
--
-- Version range: 2000000-2999999 (the event log has 1000000-1999999); migrators run with
-- `ignore_missing`. Never edit an applied migration: add a new file.

-- Where the projection is in the feed, written in the same transaction as the rows it produced.
CREATE TABLE rm_checkpoint (
    projection TEXT    PRIMARY KEY,
    position   BIGINT NOT NULL CHECK (position >= 0)
);

-- Each account's last applied sequence: duplicates (at-least-once feeds) are dropped by it, and a
-- gap stops the account. `failed_sequence` is set when an event could not be applied; the
-- account's projection then stays stopped at `sequence` until it is rebuilt.
CREATE TABLE rm_account_heads (
    account_id      TEXT    PRIMARY KEY,
    sequence        BIGINT NOT NULL CHECK (sequence >= 0),
    failed_sequence BIGINT
);

-- Events that stopped an account's projection, with the reason, for operators.
CREATE TABLE rm_failed_events (
    account_id     TEXT    NOT NULL,
    sequence       BIGINT NOT NULL,
    position       BIGINT NOT NULL,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version BIGINT NOT NULL,
    error          TEXT    NOT NULL,
    PRIMARY KEY (account_id, sequence)
);

CREATE TABLE rm_accounts (
    account_id    TEXT PRIMARY KEY,
    account_alias TEXT,
    create_date   TEXT NOT NULL
);

CREATE TABLE rm_users (
    account_id               TEXT NOT NULL,
    user_id                  TEXT NOT NULL,
    user_name                TEXT NOT NULL,
    path                     TEXT NOT NULL,
    arn                      TEXT NOT NULL,
    create_date              TEXT NOT NULL,
    permissions_boundary_arn TEXT,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX rm_users_by_path ON rm_users (account_id, path, user_name);

CREATE TABLE rm_groups (
    account_id  TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    path        TEXT NOT NULL,
    arn         TEXT NOT NULL,
    create_date TEXT NOT NULL,
    PRIMARY KEY (account_id, group_id)
);
CREATE INDEX rm_groups_by_path ON rm_groups (account_id, path, group_name);

CREATE TABLE rm_roles (
    account_id                  TEXT    NOT NULL,
    role_id                     TEXT    NOT NULL,
    role_name                   TEXT    NOT NULL,
    path                        TEXT    NOT NULL,
    arn                         TEXT    NOT NULL,
    create_date                 TEXT    NOT NULL,
    assume_role_policy_document TEXT    NOT NULL,
    description                 TEXT,
    max_session_duration        BIGINT NOT NULL,
    permissions_boundary_arn    TEXT,
    PRIMARY KEY (account_id, role_id)
);
CREATE INDEX rm_roles_by_path ON rm_roles (account_id, path, role_name);

-- Customer-managed policies (the AWS-managed catalog is built in, not projected).
CREATE TABLE rm_policies (
    account_id         TEXT NOT NULL,
    policy_id          TEXT NOT NULL,
    policy_name        TEXT NOT NULL,
    path               TEXT NOT NULL,
    arn                TEXT NOT NULL,
    description        TEXT,
    create_date        TEXT NOT NULL,
    update_date        TEXT NOT NULL,
    default_version_id TEXT NOT NULL,
    PRIMARY KEY (account_id, policy_id)
);
CREATE INDEX rm_policies_by_path ON rm_policies (account_id, path, policy_name);
CREATE INDEX rm_policies_by_arn ON rm_policies (account_id, arn);

CREATE TABLE rm_policy_versions (
    account_id  TEXT NOT NULL,
    policy_id   TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    document    TEXT NOT NULL,
    create_date TEXT NOT NULL,
    PRIMARY KEY (account_id, policy_id, version_id)
);

CREATE TABLE rm_group_members (
    account_id TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (account_id, group_id, user_id)
);
CREATE INDEX rm_group_members_by_user ON rm_group_members (account_id, user_id);

-- Managed policies attached to users, groups and roles (principal_id says which).
CREATE TABLE rm_attached_policies (
    account_id   TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    policy_arn   TEXT NOT NULL,
    PRIMARY KEY (account_id, principal_id, policy_arn)
);
CREATE INDEX rm_attached_policies_by_policy ON rm_attached_policies (account_id, policy_arn);

CREATE TABLE rm_inline_policies (
    account_id   TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    document     TEXT NOT NULL,
    PRIMARY KEY (account_id, principal_id, policy_name)
);

-- Tags of users, roles and policies (resource_id is the entity's unique id).
CREATE TABLE rm_tags (
    account_id  TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    PRIMARY KEY (account_id, resource_id, tag_key)
);

-- Access keys without their secrets: the sealed secret stays in the event log only.
CREATE TABLE rm_access_keys (
    account_id        TEXT NOT NULL,
    access_key_id     TEXT NOT NULL,
    user_id           TEXT,
    status            TEXT NOT NULL,
    create_date       TEXT NOT NULL,
    last_used_date    TEXT,
    last_used_service TEXT,
    last_used_region  TEXT,
    PRIMARY KEY (account_id, access_key_id)
);
CREATE INDEX rm_access_keys_by_user ON rm_access_keys (account_id, user_id);
