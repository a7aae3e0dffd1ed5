-- Organization trails: the organization a record's account was a member of when the record was
-- written (`additionalEventData.organizationId`), as a term id from `audit_terms`; NULL for a
-- record of an account in no organization, and for every record written before this column
-- (none of them carried an organization, so a rebuild from the record file gives the same).
--
-- The organization's management account and its delegated administrators read the trail across
-- the member accounts, newest first as one account's history: the index leads with the
-- organization, then the page order. It is partial, so records of accounts outside any
-- organization cost it nothing. A trail narrowed to one account reads the account's own slice
-- (the primary key) and checks the organization there.
ALTER TABLE audit_index ADD COLUMN organization INTEGER;
CREATE INDEX audit_by_organization ON audit_index (organization, event_time, position)
    WHERE organization IS NOT NULL;
