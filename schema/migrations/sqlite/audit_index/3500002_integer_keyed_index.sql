-- The audit index keyed by integers: every string a filter can name (account, principal, action,
-- resource, event name and source, decision, error code) is a term id from `audit_terms`, and
-- times are microseconds since the epoch. Index entries shrink to a few bytes each and compare as
-- integers.
--
-- Records now live in an append-only file of frames (`audit.log` beside `audit.db`); each index
-- row says where: `log_offset` is the frame's byte offset, or NULL for a record still in the
-- SQLite log of older versions (`audit.db`'s `audit_log` table, read-only from now on).
--
-- The index is a projection: the old tables are dropped and the index is rebuilt from the logs
-- when the store opens (no checkpoint row means "project everything").

DROP TABLE audit_index;
DROP TABLE audit_index_checkpoint;

-- How far the index has projected: the last position, and the end of its frame in the file
-- (0 while only the SQLite log was projected), moved in the same transaction as the rows.
CREATE TABLE audit_index_checkpoint (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    log_end  INTEGER NOT NULL
) STRICT;

-- Every string any index row names, once. Ids 1 and 2 are fixed because the partial indexes
-- below name them.
CREATE TABLE audit_terms (
    id   INTEGER PRIMARY KEY,
    term TEXT    NOT NULL UNIQUE
) STRICT;
INSERT INTO audit_terms (id, term) VALUES (1, 'Authorize'), (2, 'Allow');

-- The table is its own time index: rows are stored in (account, event_time, position) order, so
-- a record costs one B-tree insert fewer than a rowid table plus a time index.
CREATE TABLE audit_index (
    account      INTEGER NOT NULL,
    event_time   INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    log_offset   INTEGER,
    event_name   INTEGER NOT NULL,
    event_source INTEGER NOT NULL,
    principal    INTEGER NOT NULL,
    action       INTEGER NOT NULL,
    resource     INTEGER,
    decision     INTEGER,
    error_code   INTEGER,
    read_only    INTEGER NOT NULL,
    PRIMARY KEY (account, event_time, position)
) STRICT, WITHOUT ROWID;
-- As before: every index leads with the account, then the filtered field, then the order of
-- pages (newest first by event_time, position), so a filtered page is one range scan.
CREATE INDEX audit_by_principal ON audit_index (account, principal, event_time, position);
CREATE INDEX audit_by_action ON audit_index (account, action, event_time, position);
CREATE INDEX audit_by_resource ON audit_index (account, resource, event_time, position);
-- Partial indexes for rare values: most records are decisions (event name 1 = 'Authorize'),
-- most decisions allow (decision 2 = 'Allow'), most calls succeed.
CREATE INDEX audit_by_event_name ON audit_index (account, event_name, event_time, position)
    WHERE event_name <> 1;
CREATE INDEX audit_by_decision ON audit_index (account, decision, event_time, position)
    WHERE decision <> 2;
CREATE INDEX audit_by_error_code ON audit_index (account, error_code, event_time, position)
    WHERE error_code IS NOT NULL;
