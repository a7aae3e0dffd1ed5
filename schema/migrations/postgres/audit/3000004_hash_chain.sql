-- Tamper evidence (iam-audit's `integrity` module): each account's records form a hash chain in
-- the order they are stored, and signed digests of the chains' heads are kept beside them, so
-- that whoever can write this database (an operator, an attacker with its password) cannot edit,
-- remove, add or reorder a record, nor rewrite the links after it, without a verifier holding a
-- trusted public key noticing.
--
-- Rows written before this migration keep NULL links: they are "unchained", read before the
-- chain and reported as not covered. An account's chain starts at 1 with its first record
-- written after this migration. Every writer must extend the chain (take the head's lock, below):
-- a record inserted by a binary older than this migration once the chain began reads as inserted.

-- The record's place in its account's chain: `chain_sequence` is 1 for the account's first
-- chained record, `chain_hash` the chain's SHA-256 through it, in lowercase hex. Nullable columns
-- without a default rewrite nothing.
ALTER TABLE audit_events ADD COLUMN chain_sequence BIGINT, ADD COLUMN chain_hash TEXT;

-- A verifier reads an account's records in storage order (position order): one range scan.
CREATE INDEX audit_by_position ON audit_events (account_id, position);

-- Each account's chain head: the last chained record's sequence and hash; `sequence` 0 (and the
-- account's genesis hash) before its first. The row is also the account's append lock: writers
-- lock it (`FOR UPDATE`, heads in bytewise account order, so two writers never deadlock) before
-- inserting the account's records, so positions are handed out under it and position order
-- within an account is chain order, and a record already stored is seen before it is linked
-- again. Digest signers lock it too, so two signers never fork an account's digest chain.
CREATE TABLE audit_chain_heads (
    account_id TEXT   PRIMARY KEY,
    sequence   BIGINT NOT NULL,
    hash       TEXT   NOT NULL
);

-- Each account's signed digests (`iam_audit::integrity::Digest`, its JSON) in the order they were
-- made: the last by position is the one the next names as its previous. `chain_sequence` is the
-- digest's, kept as a column to find accounts whose chain advanced without parsing JSON.
CREATE TABLE audit_digests (
    account_id     TEXT   NOT NULL,
    position       BIGINT GENERATED ALWAYS AS IDENTITY,
    chain_sequence BIGINT NOT NULL,
    digest         TEXT   NOT NULL,
    PRIMARY KEY (account_id, position)
);

-- The public keys digests were signed with (`iam_audit::integrity::PublicKey`, its JSON), each
-- once, oldest first: a key after the first carries the endorsement of the key it replaced.
CREATE TABLE audit_signing_keys (
    key_id   TEXT   PRIMARY KEY,
    position BIGINT GENERATED ALWAYS AS IDENTITY,
    key      TEXT   NOT NULL
);
