-- Two more filters. The decided principal: the principal a record is about
-- (`requestParameters.principalArn`; for a decision, the principal decided on, where
-- `principal_arn` is the application that asked; a decision record without it in its request
-- falls back to `additionalEventData.principalArn`), NULL for records that name none. The event
-- id needs no column: it is in the key, and a trail's lookup gets an index below.
ALTER TABLE audit_events ADD COLUMN decided_principal_arn TEXT;

-- Existing rows are backfilled from their record text here, since replaying the audit topic
-- would take as long as the history is big. The text is parsed as jsonb, which refuses the
-- escape `\u0000`: every such escape becomes `\ufffd`, which is what inserts store for NUL in
-- every column, so a backfilled value equals the one an insert would write. An escaped
-- backslash (`\\`) is first rewritten as `\u005c` (the same character), so that `\\u0000` (a
-- backslash, then the text `u0000`) is not taken for the escape. Only records whose text names
-- `principalArn` are touched: the others stay NULL, and rewriting them would only bloat the
-- table.
UPDATE audit_events
SET decided_principal_arn = (
    SELECT CASE
        WHEN jsonb_typeof(parsed.r -> 'requestParameters' -> 'principalArn') = 'string'
            THEN parsed.r -> 'requestParameters' ->> 'principalArn'
        WHEN audit_events.event_source = 'authz.gatehouse.dev'
            AND jsonb_typeof(parsed.r -> 'additionalEventData' -> 'principalArn') = 'string'
            THEN parsed.r -> 'additionalEventData' ->> 'principalArn'
    END
    FROM (SELECT replace(replace(audit_events.record, '\\', '\u005c'), '\u0000', '\ufffd')::jsonb AS r) AS parsed
)
WHERE record LIKE '%"principalArn"%';

-- "Every decision about alice", newest first: one backward range scan, like the caller's index;
-- partial, so records that name no principal cost it nothing.
CREATE INDEX audit_by_decided_principal ON audit_events (account_id, decided_principal_arn, event_time, position)
    WHERE decided_principal_arn IS NOT NULL;
-- An account's lookup by id is the key; a whole organization trail's has no account to lead
-- with, so it gets this (partial, like the trail's own index).
CREATE INDEX audit_by_trail_event_id ON audit_events (event_id) WHERE organization_id IS NOT NULL;
