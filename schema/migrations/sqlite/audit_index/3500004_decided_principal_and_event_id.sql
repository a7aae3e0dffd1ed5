-- Two more filters. `decided_principal`: the principal a record is about
-- (`requestParameters.principalArn`; for a decision, the principal decided on, where `principal`
-- is the application that asked), a term id from `audit_terms`, NULL for records that name none.
-- `event_id`: the record's `eventID` as the 16 bytes of its UUID, NULL for an id that is not a
-- canonical UUID (Gatehouse writes none), so one record is found by id.
--
-- The index is reset, not backfilled: both values are in the records (the record file, and
-- `audit.db` for versions before it), never in the index's rows, so SQL cannot fill them in. The
-- index is a projection of the records, and with no checkpoint row the store projects every
-- record again when it opens (as 3500002 did), so histories written before this migration
-- answer the new filters like new ones; opening a large history once takes that rebuild. Term
-- ids are kept: they still name the same strings.

DROP TABLE audit_index;
DELETE FROM audit_index_checkpoint;

-- As 3500002 and 3500003 left it, plus the two columns.
CREATE TABLE audit_index (
    account           INTEGER NOT NULL,
    event_time        INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    log_offset        INTEGER,
    event_name        INTEGER NOT NULL,
    event_source      INTEGER NOT NULL,
    principal         INTEGER NOT NULL,
    action            INTEGER NOT NULL,
    resource          INTEGER,
    decision          INTEGER,
    error_code        INTEGER,
    read_only         INTEGER NOT NULL,
    organization      INTEGER,
    decided_principal INTEGER,
    event_id          BLOB,
    PRIMARY KEY (account, event_time, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_by_principal ON audit_index (account, principal, event_time, position);
CREATE INDEX audit_by_action ON audit_index (account, action, event_time, position);
CREATE INDEX audit_by_resource ON audit_index (account, resource, event_time, position);
CREATE INDEX audit_by_event_name ON audit_index (account, event_name, event_time, position)
    WHERE event_name <> 1;
CREATE INDEX audit_by_decision ON audit_index (account, decision, event_time, position)
    WHERE decision <> 2;
CREATE INDEX audit_by_error_code ON audit_index (account, error_code, event_time, position)
    WHERE error_code IS NOT NULL;
CREATE INDEX audit_by_organization ON audit_index (organization, event_time, position)
    WHERE organization IS NOT NULL;
-- "Every decision about alice", newest first: one range scan, like the caller's index.
CREATE INDEX audit_by_decided_principal ON audit_index (account, decided_principal, event_time, position)
    WHERE decided_principal IS NOT NULL;
-- A point lookup, so it does not lead with the account: one entry finds the record for an
-- account's query and a whole organization trail's alike, and the query's account or
-- organization condition is checked on that row. UUIDv7 ids grow with time, so inserts append.
CREATE INDEX audit_by_event_id ON audit_index (event_id) WHERE event_id IS NOT NULL;
