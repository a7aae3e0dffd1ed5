-- The embedded audit history (crate iam-store-sqlite, `SqliteAuditLog`): an append-only log of
-- CloudTrail-shaped records and, written in the same transaction, the index that queries use.
--
-- Version range: 3000000-3999999 (the event log has 1000000-1999999, the read model
-- 2000000-2999999); migrators run with `ignore_missing`. Never edit an applied migration.

-- The log: one row per record, in commit order. `record` is the CloudTrail JSON, secrets removed.
CREATE TABLE audit_log (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT    NOT NULL CHECK (length(account_id) = 12),
    event_id   TEXT    NOT NULL UNIQUE,
    -- RFC 3339, UTC, six fractional digits: sorts as time.
    event_time TEXT    NOT NULL,
    record     TEXT    NOT NULL CHECK (json_valid(record))
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

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
