-- Organization trails: the organization a record's account was a member of when the record was
-- written (`additionalEventData.organizationId`); NULL for a record of an account in no
-- organization, and for every record written before this column (none of them carried one, so
-- a rebuild from the audit topic gives the same).
--
-- The organization's management account and its delegated administrators read the trail across
-- the member accounts, newest first as one account's history: the index leads with the
-- organization, then the page order, so a trail's page is one backward range scan. It is
-- partial, so records of accounts outside any organization cost it nothing. A trail narrowed to
-- one account reads the account's slice (`audit_by_time`) and checks the organization there.
-- Adding a nullable column without a default rewrites nothing.
ALTER TABLE audit_events ADD COLUMN organization_id TEXT;
CREATE INDEX audit_by_organization ON audit_events (organization_id, event_time, position)
    WHERE organization_id IS NOT NULL;
