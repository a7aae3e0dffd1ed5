-- The embedded audit history (crate iam-store-sqlite, `SqliteAuditLog`): the append-only log of
-- CloudTrail-shaped records. Its projection for queries lives in a file of its own
-- (`schema/migrations/sqlite/audit_index/`), so index writes never hold up a durable append.
--
-- Version range: 3000000-3499999 (the event log has 1000000-1999999, the read model
-- 2000000-2999999, the audit index 3500000-3999999); migrators run with `ignore_missing`.
-- Never edit an applied migration.

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
