-- Organization streams: the log also holds each AWS Organization's own stream, keyed by its
-- organization id (`o-` then 10 to 32 lowercase letters or digits, AWS's `^o-[a-z0-9]{10,32}$`).
-- The column keeps the name `account_id` (a frozen storage name): it holds the stream's id, an
-- account id, or an organization id for an organization's stream.
--
-- Only `events` restricts `account_id` with a CHECK (`streams` and `unique_claims` have none), and
-- SQLite cannot alter a CHECK, so `events` is rebuilt: new table, copy, drop, rename, then the
-- triggers again. sqlx runs this file in one transaction, so a failure leaves the old table whole.
-- Nothing references `events` by foreign key, view or trigger other than its own triggers.

CREATE TABLE events_new (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    -- An account id (twelve digits) or an organization id (`o-` and 10 to 32 of [a-z0-9]).
    account_id      TEXT    NOT NULL CHECK (
        (length(account_id) = 12 AND account_id NOT GLOB '*[^0-9]*')
        OR (
            account_id GLOB 'o-*'
            AND length(account_id) BETWEEN 12 AND 34
            AND substr(account_id, 3) NOT GLOB '*[^a-z0-9]*'
        )
    ),
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

-- Every event keeps its feed position: `global_position` is copied, not renumbered.
INSERT INTO events_new (global_position, account_id, sequence, event_id, recorded_at, actor,
                        request_id, event_type, schema_version, payload)
SELECT global_position, account_id, sequence, event_id, recorded_at, actor,
       request_id, event_type, schema_version, payload
FROM events
ORDER BY global_position;

-- AUTOINCREMENT's high-water mark moves over exactly as it was, so no position is ever reused.
DELETE FROM sqlite_sequence WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', seq FROM sqlite_sequence WHERE name = 'events';

-- Drops the old table's triggers and its `sqlite_sequence` row too; the rename carries the new
-- table's row and unique indexes over to the name `events`.
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

-- The log is append-only: history is never rewritten in place (as in 1000001).
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
