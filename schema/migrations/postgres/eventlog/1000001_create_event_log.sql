-- The distributed event log (crate iam-store-postgres): every account's stream in one table, each
-- account's head, its unique-name claims, the feed's position counter and the outbox the Kafka
-- relay drains. One append writes all of them in one transaction.
--
-- Version range: the event log's migrations use versions 1000000-1999999, as in SQLite, so that
-- another migrator (the read model) may share the database with its own range; both run with
-- `ignore_missing`. Never edit an applied migration: add a new file. Runs on PostgreSQL 15 and 16.
--
-- Everything is created in the first schema of the connection's `search_path`, so one database
-- can hold several logs (the tests give each test a schema of its own).

-- One row per event. `global_position` is the feed position, taken from `feed_position` while the
-- appending transaction holds the append lock (see iam-store-postgres's store.rs), so positions
-- are handed out in commit order.
CREATE TABLE events (
    global_position BIGINT      NOT NULL CHECK (global_position >= 1),
    account_id      TEXT        NOT NULL CHECK (account_id ~ '^[0-9]{12}$'),
    sequence        BIGINT      NOT NULL CHECK (sequence >= 1),
    event_id        UUID        NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    actor           TEXT        NOT NULL,
    request_id      TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    -- Any u32.
    schema_version  BIGINT      NOT NULL CHECK (schema_version BETWEEN 0 AND 4294967295),
    -- JSONB: validated, and queryable by a later read model. It does not keep key order or
    -- duplicate keys; readers decode by name.
    payload         JSONB       NOT NULL,
    -- The adapter maps violations of these constraints by name: keep the names.
    CONSTRAINT events_pkey PRIMARY KEY (account_id, sequence),
    CONSTRAINT events_global_position_key UNIQUE (global_position),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- The log is append-only: history is never rewritten in place.
CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Each account's head, updated in the append transaction: O(1) heads and account listing.
CREATE TABLE streams (
    account_id TEXT   NOT NULL PRIMARY KEY CHECK (account_id ~ '^[0-9]{12}$'),
    head       BIGINT NOT NULL CHECK (head >= 1)
);

-- Unique keys (user names, role names, ...) held per account, written with the events.
CREATE TABLE unique_claims (
    account_id          TEXT   NOT NULL,
    scope               TEXT   NOT NULL,
    key                 TEXT   NOT NULL,
    -- First sequence of the append that took the claim, for diagnosis.
    claimed_at_sequence BIGINT NOT NULL,
    CONSTRAINT unique_claims_pkey PRIMARY KEY (account_id, scope, key)
);

-- The last feed position handed out: one row, advanced by each append under the append lock.
-- A row rather than a SEQUENCE because it is transactional: a rolled-back append gives its
-- positions back, so positions have no gaps.
CREATE TABLE feed_position (
    singleton BOOLEAN NOT NULL PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last      BIGINT  NOT NULL CHECK (last >= 0)
);
INSERT INTO feed_position (singleton, last) VALUES (TRUE, 0);

-- Events not yet published to Kafka, written in the append transaction (the transactional
-- outbox). The relay publishes them in position order and deletes the rows it published.
CREATE TABLE outbox (
    global_position BIGINT NOT NULL PRIMARY KEY REFERENCES events (global_position)
);
