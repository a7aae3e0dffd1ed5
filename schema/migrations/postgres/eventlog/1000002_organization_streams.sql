-- Organization streams: the log also holds each AWS Organization's own stream, keyed by its
-- organization id (AWS's `^o-[a-z0-9]{10,32}$`). The column keeps the name `account_id` (a frozen
-- storage name): it holds the stream's id, an account id, or an organization id for an
-- organization's stream.
--
-- 1000001 restricted `account_id` with unnamed column CHECKs on `events` and `streams`, which
-- PostgreSQL named `<table>_account_id_check`; `unique_claims` has none. Each is replaced by one of
-- the same name admitting both kinds of id. Re-adding validates the existing rows (one scan of
-- `events`, under the lock sqlx's migration transaction holds to its end); they all pass, as the
-- new check is wider than the old. Runs in the first schema of the `search_path`, like 1000001.

ALTER TABLE events
    DROP CONSTRAINT events_account_id_check,
    ADD CONSTRAINT events_account_id_check CHECK (account_id ~ '^([0-9]{12}|o-[a-z0-9]{10,32})$');

ALTER TABLE streams
    DROP CONSTRAINT streams_account_id_check,
    ADD CONSTRAINT streams_account_id_check CHECK (account_id ~ '^([0-9]{12}|o-[a-z0-9]{10,32})$');
