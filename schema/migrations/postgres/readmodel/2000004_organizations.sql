-- AWS Organizations: one set of rows per organization stream, keyed by the organization's id
-- (`o-...`, the stream id) as an account's rows are keyed by the account. Projected by
-- `libs/iam-readmodel/src/reduce/organization.rs`, which mirrors `evolve_organization`.
--
-- The rows are the organization's state exactly, implicit effects included: the AWS-managed
-- `FullAWSAccess` / `RCPFullAWSAccess` attachments that enabling a policy type (or creating an OU
-- or adding an account while it is enabled) makes are rows of rm_organization_policy_attachments
-- like any other, so a reader never has to union anything in. A deleted organization keeps its
-- rm_organizations row (deleted = 1), its policies and its handshakes, as the domain state does;
-- its root, OUs, accounts, attachments, enabled types and delegated administrators are gone.
--
-- Organization streams projected before this migration produced no rows. Their heads are
-- forgotten and, if there were any, the checkpoint goes back to the start of the feed: the
-- projector reads the log again, drops every account event as a duplicate and projects the
-- organizations' events from their first. (A consumer that cannot re-read the feed, as Kafka after
-- its retention, stops an organization on its next event with a gap in rm_failed_events, to be
-- rebuilt, instead of building on missing rows.)

CREATE TABLE rm_organizations (
    organization_id          TEXT    PRIMARY KEY,
    arn                      TEXT    NOT NULL,
    management_account_id    TEXT    NOT NULL,
    management_account_email TEXT    NOT NULL,
    feature_set              TEXT    NOT NULL,
    created                  TEXT    NOT NULL,
    deleted                  BIGINT  NOT NULL CHECK (deleted IN (0, 1))
);
CREATE INDEX rm_organizations_by_management ON rm_organizations (management_account_id);

CREATE TABLE rm_organization_roots (
    organization_id TEXT NOT NULL,
    root_id         TEXT NOT NULL,
    arn             TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (organization_id, root_id)
);

-- The policy types enabled on the root (SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY,
-- TAG_POLICY).
CREATE TABLE rm_organization_policy_types (
    organization_id TEXT NOT NULL,
    root_id         TEXT NOT NULL,
    policy_type     TEXT NOT NULL,
    PRIMARY KEY (organization_id, root_id, policy_type)
);

CREATE TABLE rm_organizational_units (
    organization_id TEXT NOT NULL,
    ou_id           TEXT NOT NULL,
    arn             TEXT NOT NULL,
    name            TEXT NOT NULL,
    parent_id       TEXT NOT NULL,
    PRIMARY KEY (organization_id, ou_id)
);
CREATE INDEX rm_organizational_units_by_parent ON rm_organizational_units (organization_id, parent_id);

-- Member accounts (the management account is one). `status` is ACTIVE or SUSPENDED (closed),
-- `joined_method` CREATED or INVITED.
CREATE TABLE rm_organization_accounts (
    organization_id TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    arn             TEXT NOT NULL,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    parent_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    joined_method   TEXT NOT NULL,
    joined          TEXT NOT NULL,
    PRIMARY KEY (organization_id, account_id)
);
CREATE INDEX rm_organization_accounts_by_parent ON rm_organization_accounts (organization_id, parent_id);
CREATE INDEX rm_organization_accounts_by_account ON rm_organization_accounts (account_id);

-- The organization's policies, the AWS-managed ones (aws_managed = 1) included. `revision` is 1
-- when created and one more for each change of the content.
CREATE TABLE rm_organization_policies (
    organization_id TEXT    NOT NULL,
    policy_id       TEXT    NOT NULL,
    arn             TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    policy_type     TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    aws_managed     BIGINT  NOT NULL CHECK (aws_managed IN (0, 1)),
    revision        BIGINT  NOT NULL,
    PRIMARY KEY (organization_id, policy_id)
);

-- Which policy is attached to which root, OU or account. `policy_type` repeats the policy's, so
-- disabling a type deletes its attachments by key.
CREATE TABLE rm_organization_policy_attachments (
    organization_id TEXT NOT NULL,
    policy_id       TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    policy_type     TEXT NOT NULL,
    PRIMARY KEY (organization_id, policy_id, target_id)
);
CREATE INDEX rm_organization_policy_attachments_by_target
    ON rm_organization_policy_attachments (organization_id, target_id);

-- Invitations. `state` is OPEN, ACCEPTED, DECLINED or CANCELED as recorded; an OPEN one whose
-- `expiration` has passed reads as EXPIRED (`Handshake::state_at`), which no event records.
CREATE TABLE rm_organization_handshakes (
    organization_id   TEXT NOT NULL,
    handshake_id      TEXT NOT NULL,
    arn               TEXT NOT NULL,
    target_account_id TEXT NOT NULL,
    notes             TEXT,
    state             TEXT NOT NULL,
    requested         TEXT NOT NULL,
    expiration        TEXT NOT NULL,
    PRIMARY KEY (organization_id, handshake_id)
);
CREATE INDEX rm_organization_handshakes_by_target ON rm_organization_handshakes (target_account_id);

-- Delegated administrators, one row per service. `registered` is when the account first became a
-- delegated administrator (of any service, since it last was none), the same on all its rows.
CREATE TABLE rm_organization_delegated_administrators (
    organization_id   TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    service_principal TEXT NOT NULL,
    registered        TEXT NOT NULL,
    PRIMARY KEY (organization_id, account_id, service_principal)
);

-- Project the organizations already in the log (see above).
UPDATE rm_checkpoint SET position = 0
 WHERE EXISTS (SELECT 1 FROM rm_account_heads WHERE account_id LIKE 'o-%');
DELETE FROM rm_account_heads WHERE account_id LIKE 'o-%';
DELETE FROM rm_failed_events WHERE account_id LIKE 'o-%';
