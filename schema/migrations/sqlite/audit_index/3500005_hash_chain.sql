-- Tamper evidence (iam_audit::integrity): what the index keeps of the hash chain. The chain
-- itself is in the record file, each record's link in its frame; these tables are a projection of
-- it like the rest of the index, rebuilt from the file when the index is.
--
-- Nothing is backfilled: records written before this version have no link (they are reported as
-- unchained), and chains start with the first record written after it.

-- An account's records in storage order: what a verifier reads, page by page.
CREATE INDEX audit_by_account_position ON audit_index (account, position);

-- Each account's last link (account: a term id from `audit_terms`): where the writer continues
-- the chain after a restart.
CREATE TABLE audit_chain_heads (
    account  INTEGER PRIMARY KEY,
    sequence INTEGER NOT NULL,
    hash     BLOB    NOT NULL
) STRICT;

-- Signed digests and signing keys: frames of the record file, found here by account (digests)
-- or in order (keys).
CREATE TABLE audit_digests (
    position       INTEGER PRIMARY KEY,
    account        INTEGER NOT NULL,
    chain_sequence INTEGER NOT NULL,
    log_offset     INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_digests_by_account ON audit_digests (account, position);

CREATE TABLE audit_signing_keys (
    position   INTEGER PRIMARY KEY,
    key_id     TEXT    NOT NULL UNIQUE,
    log_offset INTEGER NOT NULL
) STRICT;
