-- The distributed audit history (crate iam-store-postgres, `PgAuditStore`): the CloudTrail-shaped
-- records of every replica's decisions and management calls, projected from the Kafka audit
-- topic (`gatehouse.audit`) by the audit projector, and read by every replica's `auditEvents`.
--
-- Version range: 3000000-3999999 (the event log has 1000000-1999999, the read model
-- 2000000-2999999, as in SQLite); migrators run with `ignore_missing`, so the audit tables may
-- share a schema with the others. Never edit an applied migration: add a new file.
--
-- Everything is created in the first schema of the connection's `search_path`.

-- One row per record. The key is the record's own id within its account, so a redelivered
-- message (Kafka is at least once towards a crashed consumer, and a producer retry after an
-- unacknowledged send may publish a record twice) inserts nothing: `ON CONFLICT DO NOTHING`.
-- `position` is only a tiebreak among records of the same microsecond, in arrival order, as the
-- SQLite log position is. `record` is the CloudTrail JSON, secrets removed upstream; it is text,
-- not jsonb, on purpose: jsonb refuses `\u0000` in strings, and a record the table refuses would
-- stop the projector for every account behind it.
--
-- Not partitioned: every query names one account and every index leads with it, so a filtered
-- page is one index range scan whatever the table's size; the topic keeps every record forever
-- and nothing is deleted yet. When retention arrives, range partitions by `event_time` (monthly,
-- dropped whole) are the way: the key would then become (account_id, event_id, event_time),
-- which is still deterministic per record, so redelivery stays a no-op.
CREATE TABLE audit_events (
    account_id    TEXT        NOT NULL,
    event_id      TEXT        NOT NULL,
    position      BIGINT      GENERATED ALWAYS AS IDENTITY,
    event_time    TIMESTAMPTZ NOT NULL,
    event_name    TEXT        NOT NULL,
    event_source  TEXT        NOT NULL,
    principal_arn TEXT        NOT NULL,
    action        TEXT        NOT NULL,
    resource_arn  TEXT,
    decision      TEXT,
    error_code    TEXT,
    read_only     BOOLEAN     NOT NULL,
    record        TEXT        NOT NULL,
    PRIMARY KEY (account_id, event_id)
);

-- The same indexes as the SQLite audit index (schema/migrations/sqlite/audit_index/): queries are
-- "newest first within a filter", ordered by (event_time, position); every index leads with the
-- account, then the filtered field, then that order, so a page (with or without a time window)
-- is one backward index range scan.
CREATE INDEX audit_by_time ON audit_events (account_id, event_time, position);
CREATE INDEX audit_by_principal ON audit_events (account_id, principal_arn, event_time, position);
CREATE INDEX audit_by_action ON audit_events (account_id, action, event_time, position);
CREATE INDEX audit_by_resource ON audit_events (account_id, resource_arn, event_time, position);
-- Partial indexes for the rare values (most records are allowed decisions without an error);
-- queries repeat the condition so the planner can use them.
CREATE INDEX audit_by_event_name ON audit_events (account_id, event_name, event_time, position)
    WHERE event_name <> 'Authorize';
CREATE INDEX audit_by_decision ON audit_events (account_id, decision, event_time, position)
    WHERE decision <> 'Allow';
CREATE INDEX audit_by_error_code ON audit_events (account_id, error_code, event_time, position)
    WHERE error_code IS NOT NULL;

-- Where the audit projector stands: the next offset of each partition of the audit topic,
-- written in the same transaction as the records those messages carried, so a projector killed
-- at any point resumes exactly after its last commit.
CREATE TABLE audit_kafka_offsets (
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT  NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (topic, partition)
);
