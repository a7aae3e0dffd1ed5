-- The audit index (crate iam-store-sqlite, `SqliteAuditLog`): the projection of the audit log
-- that queries read, in its own file next to the log (`audit-index.db` beside `audit.db`).
-- Readers attach it to the log's connection and join index rows to log records by position.
--
-- Version range: 3500000-3999999; migrators run with `ignore_missing`. Never edit an applied
-- migration.

-- How far the index has projected the log, moved in the same transaction as the index rows.
CREATE TABLE audit_index_checkpoint (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
) STRICT;

-- The projection queries read: the filterable fields of each record, keyed by its log position.
-- Queries are "newest first within a filter", ordered by (event_time, position). Every index
-- leads with the account (no query crosses tenants), then the filtered field, then that order,
-- so a filtered page, with or without a time window, is one index range scan however large the
-- account's history grows.
CREATE TABLE audit_index (
    position      INTEGER PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    event_time    TEXT    NOT NULL,
    event_name    TEXT    NOT NULL,
    event_source  TEXT    NOT NULL,
    principal_arn TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    resource_arn  TEXT,
    decision      TEXT,
    error_code    TEXT,
    read_only     INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit_index (account_id, event_time, position);
CREATE INDEX audit_by_principal ON audit_index (account_id, principal_arn, event_time, position);
CREATE INDEX audit_by_action ON audit_index (account_id, action, event_time, position);
CREATE INDEX audit_by_resource ON audit_index (account_id, resource_arn, event_time, position);
-- Partial indexes for the fields whose interesting values are rare: most records are decisions,
-- most decisions are allowed, most calls succeed. Filters on the common values (`Authorize`,
-- `Allow`, either event source) match most records, so the time index serves them; the rare
-- values get an index that costs nothing for the common records. Queries repeat the index's
-- condition so SQLite can use it.
CREATE INDEX audit_by_event_name ON audit_index (account_id, event_name, event_time, position)
    WHERE event_name <> 'Authorize';
CREATE INDEX audit_by_decision ON audit_index (account_id, decision, event_time, position)
    WHERE decision <> 'Allow';
CREATE INDEX audit_by_error_code ON audit_index (account_id, error_code, event_time, position)
    WHERE error_code IS NOT NULL;
