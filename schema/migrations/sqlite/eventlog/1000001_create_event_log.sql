-- The embedded event log (crate iam-store-sqlite): every account's stream in one table, in
-- commit order, plus each account's head and its unique-name claims.
--
-- Version range: the event log's migrations use versions 1000000-1999999 so that another
-- migrator (the read model) may share this database file with its own range; both run with
-- `ignore_missing`. Never edit an applied migration: add a new file.

-- One row per event. `global_position` is the feed position: SQLite has one writer at a time,
-- so AUTOINCREMENT values are assigned in commit order and never reused.
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT    NOT NULL CHECK (length(account_id) = 12 AND account_id NOT GLOB '*[^0-9]*'),
    sequence        INTEGER NOT NULL CHECK (sequence >= 1),
    event_id        TEXT    NOT NULL UNIQUE,
    -- RFC 3339, UTC, exactly six fractional digits: sorts as text.
    recorded_at     TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 0),
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    UNIQUE (account_id, sequence)
) STRICT;

-- The log is append-only: history is never rewritten in place.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- Each account's head, updated in the append transaction: O(1) heads and account listing.
CREATE TABLE streams (
    account_id TEXT    NOT NULL PRIMARY KEY,
    head       INTEGER NOT NULL CHECK (head >= 1)
) STRICT, WITHOUT ROWID;

-- Unique keys (user names, role names, ...) held per account, written with the events.
CREATE TABLE unique_claims (
    account_id          TEXT    NOT NULL,
    scope               TEXT    NOT NULL,
    key                 TEXT    NOT NULL,
    -- First sequence of the append that took the claim, for diagnosis.
    claimed_at_sequence INTEGER NOT NULL,
    PRIMARY KEY (account_id, scope, key)
) STRICT, WITHOUT ROWID;
