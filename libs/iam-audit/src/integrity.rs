//! Tamper evidence for the audit history, as CloudTrail's log file integrity validation does it,
//! but continuously and per record.
//!
//! - **Chain.** Each account's records form a hash chain in the order they were stored:
//!   record `n` links `SHA-256(prefix ‖ hash(n-1) ‖ n ‖ SHA-256(record bytes))`, starting from a
//!   genesis hash of the account id, so no record can be edited, removed, added or moved without
//!   changing every link after it. The store writes each record's link beside it.
//! - **Digests.** At an interval and on demand the store signs, with an Ed25519 key, a digest of
//!   each account whose chain advanced: the chain's length and head hash, the hash of the
//!   account's previous digest (digests form a chain of their own) and the key's id. Links alone
//!   can be recomputed by whoever edits the store; a signature cannot be made without the key.
//! - **Keys.** Public keys are published (the gateway's well-known route) and recorded in the
//!   log; a new key is endorsed by a signature of the key before it, so a verifier that trusts
//!   the first key follows every rotation, and a key nobody endorsed is refused.
//!
//! [`verify_chain`] checks one account's stored records and digests against trusted keys and
//! names the first record that was edited, deleted, inserted or reordered, and the last digest
//! that still holds. Everything here is pure: stores and clients bring the bytes.

use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The version of the chain and digest formats.
pub const DIGEST_VERSION: u32 = 1;
/// The signature algorithm of every key.
pub const KEY_ALGORITHM: &str = "Ed25519";

const GENESIS_PREFIX: &[u8] = b"gatehouse.audit.chain.v1.genesis\n";
const EVENT_GENESIS_PREFIX: &[u8] = b"gatehouse.events.chain.v1.genesis\n";
const LINK_PREFIX: &[u8] = b"gatehouse.audit.chain.v1.link\n";
const DIGEST_PREFIX: &[u8] = b"gatehouse.audit.digest.v1\n";
const ENDORSEMENT_PREFIX: &[u8] = b"gatehouse.audit.key-endorsement.v1\n";

/// A SHA-256 value of the chain, written as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

impl std::str::FromStr for ChainHash {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|e| format!("{text:?} is not a SHA-256 in hex: {e}"))?;
        Ok(ChainHash(bytes))
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The hash an account's chain starts from: bound to the account, so no account's records can
/// stand in for another's.
pub fn genesis(account_id: &str) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(GENESIS_PREFIX);
    hasher.update(account_id.as_bytes());
    ChainHash(hasher.finalize().into())
}

/// The hash an account's event stream chain starts from (see [`EventChain`]).
pub fn event_genesis(stream: &str) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(EVENT_GENESIS_PREFIX);
    hasher.update(stream.as_bytes());
    ChainHash(hasher.finalize().into())
}

/// The chain of one event stream: event `n` links `link(n-1, n, SHA-256(its envelope's JSON))`
/// from [`event_genesis`]. Events are not stored with their links: the chain is computed from
/// the log as it reads back (the envelope's canonical JSON), and its head at each digest is
/// signed, so an event changed in the store afterwards no longer reproduces the signed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventChain {
    head: ChainLink,
}

impl EventChain {
    /// A stream with no event yet.
    pub fn new(stream: &str) -> Self {
        EventChain {
            head: ChainLink {
                sequence: 0,
                hash: event_genesis(stream),
            },
        }
    }

    /// The head so far (sequence 0 before the first event).
    pub fn head(&self) -> ChainLink {
        self.head
    }

    /// Extends the chain with the event at `sequence` (the next one) whose envelope's JSON
    /// hashes to `event_hash`; an event out of order is refused.
    ///
    /// # Errors
    /// The sequence the chain expected.
    pub fn extend(&mut self, sequence: u64, event_hash: &[u8; 32]) -> Result<(), u64> {
        let expected = self.head.sequence + 1;
        if sequence != expected {
            return Err(expected);
        }
        self.head = ChainLink {
            sequence,
            hash: link(&self.head.hash, sequence, event_hash),
        };
        Ok(())
    }
}

/// SHA-256 of a record's bytes (its CloudTrail JSON exactly as stored).
pub fn record_hash(record: &[u8]) -> [u8; 32] {
    Sha256::digest(record).into()
}

/// The link of record `sequence` (1 for an account's first chained record) after `previous`.
pub fn link(previous: &ChainHash, sequence: u64, record_hash: &[u8; 32]) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(LINK_PREFIX);
    hasher.update(previous.0);
    hasher.update(sequence.to_be_bytes());
    hasher.update(record_hash);
    ChainHash(hasher.finalize().into())
}

/// A record's place in its account's chain, stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// 1 for the account's first chained record.
    pub sequence: u64,
    /// The chain's hash through this record.
    pub hash: ChainHash,
}

/// The head of every account's chain, as a store's single writer extends them.
#[derive(Debug, Default, Clone)]
pub struct ChainHeads {
    heads: HashMap<String, ChainLink>,
}

impl ChainHeads {
    /// No chain begun.
    pub fn new() -> Self {
        ChainHeads::default()
    }

    /// Sets an account's head (restored from storage).
    pub fn restore(&mut self, account_id: &str, head: ChainLink) {
        self.heads.insert(account_id.to_owned(), head);
    }

    /// The link of `record`, appended to `account_id`'s chain.
    pub fn append(&mut self, account_id: &str, record: &[u8]) -> ChainLink {
        let record = record_hash(record);
        // The account's id is copied once, when its chain begins.
        if let Some(head) = self.heads.get_mut(account_id) {
            let sequence = head.sequence + 1;
            *head = ChainLink {
                sequence,
                hash: link(&head.hash, sequence, &record),
            };
            return *head;
        }
        let first = ChainLink {
            sequence: 1,
            hash: link(&genesis(account_id), 1, &record),
        };
        self.heads.insert(account_id.to_owned(), first);
        first
    }

    /// Sets an account's head back (`None`: no chain begun), as it was before links that were
    /// never stored.
    pub fn reset(&mut self, account_id: &str, head: Option<ChainLink>) {
        match head {
            Some(head) => self.restore(account_id, head),
            None => {
                self.heads.remove(account_id);
            }
        }
    }

    /// An account's head.
    pub fn get(&self, account_id: &str) -> Option<ChainLink> {
        self.heads.get(account_id).copied()
    }

    /// Every account's head.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ChainLink)> {
        self.heads.iter().map(|(account, head)| (account.as_str(), *head))
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// A public signing key as published and recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// The first 8 bytes of the key's SHA-256, in hex.
    pub key_id: String,
    /// Always [`KEY_ALGORITHM`].
    pub algorithm: String,
    /// The 32-byte Ed25519 public key, base64.
    pub public_key: String,
    /// When the key was made (RFC 3339).
    pub created: String,
    /// The previous key's signature over this key, when this key replaced another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement: Option<Endorsement>,
}

/// A key's signature over the key that replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endorsement {
    /// The endorsing (previous) key.
    pub key_id: String,
    /// Its signature over the new key's id, public key and creation time, base64.
    pub signature: String,
}

fn key_id_of(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

fn endorsement_bytes(key: &PublicKey) -> Vec<u8> {
    let mut bytes = ENDORSEMENT_PREFIX.to_vec();
    for field in [&key.key_id, &key.algorithm, &key.public_key, &key.created] {
        bytes.extend_from_slice(field.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

/// A key that signs digests. Its secret half never leaves this type: `Debug` shows the key id.
pub struct AuditSigner {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.public.key_id)
            .finish()
    }
}

/// A signing key that could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("audit signing key: {0}")]
pub struct KeyError(String);

impl AuditSigner {
    /// A new key; returns it with its PKCS#8 document, which the caller stores sealed.
    ///
    /// # Errors
    /// [`KeyError`] if the system's random source fails.
    pub fn generate(created: &str) -> Result<(Self, zeroize::Zeroizing<Vec<u8>>), KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let document = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError("no random bytes".into()))?;
        let pkcs8 = zeroize::Zeroizing::new(document.as_ref().to_vec());
        Ok((Self::from_pkcs8(&pkcs8, created)?, pkcs8))
    }

    /// A key from its PKCS#8 document; `created` is when it was first made.
    ///
    /// # Errors
    /// [`KeyError`] if the document is not an Ed25519 key.
    pub fn from_pkcs8(pkcs8: &[u8], created: &str) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| KeyError(format!("not an Ed25519 key: {e}")))?;
        let bytes = pair.public_key().as_ref();
        let public = PublicKey {
            key_id: key_id_of(bytes),
            algorithm: KEY_ALGORITHM.into(),
            public_key: BASE64.encode(bytes),
            created: created.to_owned(),
            endorsement: None,
        };
        Ok(AuditSigner { pair, public })
    }

    /// The public half (without endorsement).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        &self.public.key_id
    }

    /// `next`'s public key endorsed by this key: the record of a rotation from this key to
    /// `next`.
    pub fn endorse(&self, next: &PublicKey) -> PublicKey {
        let mut endorsed = next.clone();
        endorsed.endorsement = None;
        let signature = self.pair.sign(&endorsement_bytes(&endorsed));
        endorsed.endorsement = Some(Endorsement {
            key_id: self.public.key_id.clone(),
            signature: BASE64.encode(signature.as_ref()),
        });
        endorsed
    }

    /// Signs a digest body.
    pub fn sign(&self, body: DigestBody) -> Digest {
        let signature = self.pair.sign(&body.signed_bytes());
        Digest {
            body,
            signature: BASE64.encode(signature.as_ref()),
        }
    }
}

/// The keys a verifier accepts: a trusted first key and every key endorsed, link by link, by an
/// accepted key.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: HashMap<String, Vec<u8>>,
    /// Keys offered but refused, with why.
    pub refused: Vec<(String, String)>,
}

impl TrustedKeys {
    /// Accepts `anchor` (the key the verifier trusts: pinned, or the first key published) and
    /// every key of `published` endorsed by an accepted key.
    pub fn from_anchor(anchor: &PublicKey, published: &[PublicKey]) -> Self {
        let mut trusted = TrustedKeys::default();
        if let Some(bytes) = decode_key(anchor) {
            trusted.keys.insert(anchor.key_id.clone(), bytes);
        }
        // Endorsements follow rotations in order, but the list may come in any order.
        let mut pending: Vec<&PublicKey> = published.iter().filter(|k| k.key_id != anchor.key_id).collect();
        loop {
            let before = pending.len();
            pending.retain(|key| {
                let Some(endorsement) = &key.endorsement else {
                    return true;
                };
                let Some(endorser) = trusted.keys.get(&endorsement.key_id) else {
                    return true;
                };
                let Ok(signature) = BASE64.decode(&endorsement.signature) else {
                    return true;
                };
                let mut unendorsed = (*key).clone();
                unendorsed.endorsement = None;
                let valid = UnparsedPublicKey::new(&ED25519, endorser)
                    .verify(&endorsement_bytes(&unendorsed), &signature)
                    .is_ok();
                match decode_key(key).filter(|_| valid) {
                    Some(bytes) => {
                        trusted.keys.insert(key.key_id.clone(), bytes);
                        false
                    }
                    None => true,
                }
            });
            if pending.len() == before {
                break;
            }
        }
        trusted.refused = pending
            .into_iter()
            .map(|key| {
                let why = match &key.endorsement {
                    None => "not endorsed by any trusted key".to_owned(),
                    Some(e) => format!("its endorsement by key {} does not verify", e.key_id),
                };
                (key.key_id.clone(), why)
            })
            .collect();
        trusted
    }

    /// Whether a key is accepted.
    pub fn accepts(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    fn verify(&self, digest: &Digest) -> Result<(), String> {
        let key = self.keys.get(&digest.body.signing_key_id).ok_or_else(|| {
            format!(
                "signed by key {}, which is not a trusted key nor endorsed by one",
                digest.body.signing_key_id
            )
        })?;
        let signature = BASE64
            .decode(&digest.signature)
            .map_err(|_| "its signature is not base64".to_owned())?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&digest.body.signed_bytes(), &signature)
            .map_err(|_| format!("its signature does not verify with key {}", digest.body.signing_key_id))
    }
}

/// A published key's 32 bytes, if its id is theirs.
fn decode_key(key: &PublicKey) -> Option<Vec<u8>> {
    let bytes = BASE64.decode(&key.public_key).ok()?;
    (key.algorithm == KEY_ALGORITHM && bytes.len() == 32 && key_id_of(&bytes) == key.key_id).then_some(bytes)
}

// ---------------------------------------------------------------------------------------------
// Digests

/// What a digest states about one account's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestBody {
    /// [`DIGEST_VERSION`].
    pub digest_version: u32,
    /// The account.
    pub account_id: String,
    /// When it was made (RFC 3339, microseconds, `Z`).
    pub digest_time: String,
    /// The chain's length: records 1 to this.
    pub chain_sequence: u64,
    /// The chain's hash through record `chain_sequence`.
    pub chain_hash: ChainHash,
    /// [`Digest::hash`] of the account's previous digest; absent for its first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_digest_hash: Option<ChainHash>,
    /// The account's event stream as it stood: its last sequence (see [`EventChain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_sequence: Option<u64>,
    /// The event stream's chain hash through `event_sequence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_chain_hash: Option<ChainHash>,
    /// The key that signed it.
    pub signing_key_id: String,
    /// The key that signed the account's previous digest, when that was another key: the
    /// rotation, recorded in the digests' own chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_signing_key_id: Option<String>,
}

impl DigestBody {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = DIGEST_PREFIX.to_vec();
        // The struct's own JSON: its fields in declaration order, the same bytes on every side.
        bytes.extend_from_slice(&serde_json::to_vec(self).unwrap_or_default());
        bytes
    }
}

/// A signed digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// What it states.
    #[serde(flatten)]
    pub body: DigestBody,
    /// Ed25519 over the body, base64.
    pub signature: String,
}

impl Digest {
    /// The hash the account's next digest names as its previous.
    pub fn hash(&self) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(self.body.signed_bytes());
        hasher.update(self.signature.as_bytes());
        ChainHash(hasher.finalize().into())
    }
}

/// The last digest of each account a writer made, to chain the next one to.
#[derive(Debug, Clone)]
pub struct DigestHead {
    /// The chain length it covered.
    pub chain_sequence: u64,
    /// [`Digest::hash`].
    pub hash: ChainHash,
    /// The key that signed it.
    pub signing_key_id: String,
    /// The event stream's sequence it covered.
    pub event_sequence: Option<u64>,
}

impl DigestHead {
    /// The head a digest leaves.
    pub fn of(digest: &Digest) -> Self {
        DigestHead {
            chain_sequence: digest.body.chain_sequence,
            hash: digest.hash(),
            signing_key_id: digest.body.signing_key_id.clone(),
            event_sequence: digest.body.event_sequence,
        }
    }
}

/// The next digest of an account whose chain stands at `head`, after `previous` (its last
/// digest), or `None` when the chain has not advanced since.
pub fn next_digest(
    signer: &AuditSigner,
    account_id: &str,
    head: ChainLink,
    previous: Option<&DigestHead>,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Digest> {
    next_digest_with_events(signer, account_id, head, previous, None, at)
}

/// [`next_digest`], stating the account's event stream head too; made when either chain
/// advanced since `previous`.
pub fn next_digest_with_events(
    signer: &AuditSigner,
    account_id: &str,
    head: ChainLink,
    previous: Option<&DigestHead>,
    events: Option<ChainLink>,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<Digest> {
    let records_advanced = previous.is_none_or(|p| p.chain_sequence < head.sequence);
    let events_advanced =
        events.is_some_and(|e| previous.is_none_or(|p| p.event_sequence.is_none_or(|s| s < e.sequence)));
    if !records_advanced && !events_advanced {
        return None;
    }
    let body = DigestBody {
        digest_version: DIGEST_VERSION,
        account_id: account_id.to_owned(),
        digest_time: at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        chain_sequence: head.sequence,
        chain_hash: head.hash,
        previous_digest_hash: previous.map(|p| p.hash),
        event_sequence: events.map(|e| e.sequence),
        event_chain_hash: events.map(|e| e.hash),
        signing_key_id: signer.key_id().to_owned(),
        previous_signing_key_id: previous
            .map(|p| p.signing_key_id.clone())
            .filter(|key| key != signer.key_id()),
    };
    Some(signer.sign(body))
}

// ---------------------------------------------------------------------------------------------
// Verification

/// One stored record as a verifier sees it, in storage order.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// Where the store keeps it (its position), for the report.
    pub position: u64,
    /// Its `eventID`, for the report.
    pub event_id: String,
    /// The link stored beside it; `None` for a record stored before chains began.
    pub link: Option<ChainLink>,
    /// [`record_hash`] of its bytes as stored.
    pub record_hash: [u8; 32],
}

/// What is wrong, first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProblemKind {
    /// A record's bytes are not the ones its link was made over.
    Edited,
    /// Records of the chain are missing.
    Deleted,
    /// A record that is not part of the chain, or a second record with a sequence already seen.
    Inserted,
    /// A record stands elsewhere in the order than its sequence says.
    Reordered,
    /// The chain ends before a digest's sequence: records at its end are gone.
    Truncated,
    /// The records agree with their stored links but not with a signed digest: links were
    /// recomputed after the records were changed, somewhere in the range the report names.
    DigestMismatch,
    /// A digest whose signature or key does not hold.
    DigestInvalid,
    /// A digest is missing from the digests' chain, or they are out of order.
    DigestMissing,
}

/// The first problem found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// What.
    pub kind: ProblemKind,
    /// The chain sequence it concerns (for a range, its first).
    pub sequence: Option<u64>,
    /// The store's position of the record it concerns.
    pub position: Option<u64>,
    /// The record's `eventID`.
    pub event_id: Option<String>,
    /// In words.
    pub detail: String,
}

/// A digest that holds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidDigest {
    /// Records 1 to this.
    pub chain_sequence: u64,
    /// When it was made.
    pub digest_time: String,
    /// Its key.
    pub signing_key_id: String,
}

/// The verdict on one account's history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// The account.
    pub account_id: String,
    /// Whether nothing is wrong.
    pub intact: bool,
    /// Records read.
    pub records: u64,
    /// Records stored before chains began (older versions): not covered.
    pub unchained_records: u64,
    /// The longest prefix of the chain that checks out.
    pub verified_through: u64,
    /// Digests read; of them, valid.
    pub digests: u64,
    /// The last digest whose signature and chain hash hold, before any problem.
    pub last_valid_digest: Option<ValidDigest>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

/// Checks an account's records (in storage order) and its digests (in the order stored) against
/// `keys`.
pub fn verify_chain(account_id: &str, records: &[StoredRecord], digests: &[Digest], keys: &TrustedKeys) -> ChainReport {
    let mut report = ChainReport {
        account_id: account_id.to_owned(),
        intact: true,
        records: records.len() as u64,
        unchained_records: 0,
        verified_through: 0,
        digests: digests.len() as u64,
        last_valid_digest: None,
        problem: None,
    };
    let fail = |report: &mut ChainReport, problem: Problem| {
        report.intact = false;
        report.problem.get_or_insert(problem);
    };

    // The digests' own chain first: each names its predecessor, is signed by a trusted key and
    // covers at least as much as the one before.
    let mut digest_problem: Option<(usize, Problem)> = None;
    let mut previous: Option<&Digest> = None;
    for (at, digest) in digests.iter().enumerate() {
        let body = &digest.body;
        let problem = |kind, detail: String| Problem {
            kind,
            sequence: Some(body.chain_sequence),
            position: None,
            event_id: None,
            detail: format!(
                "digest of {} (records 1 to {}): {detail}",
                body.digest_time, body.chain_sequence
            ),
        };
        let found = if body.account_id != account_id {
            Some(problem(
                ProblemKind::DigestInvalid,
                format!("it names account {}", body.account_id),
            ))
        } else if let Err(why) = keys.verify(digest) {
            Some(problem(ProblemKind::DigestInvalid, why))
        } else if body.previous_digest_hash != previous.map(Digest::hash) {
            Some(problem(
                ProblemKind::DigestMissing,
                "it does not name the digest before it: a digest was removed, added or moved".into(),
            ))
        } else if previous.is_some_and(|p| p.body.chain_sequence > body.chain_sequence) {
            Some(problem(
                ProblemKind::DigestMissing,
                "it covers less than the digest before it".into(),
            ))
        } else {
            None
        };
        if let Some(found) = found {
            digest_problem = Some((at, found));
            break;
        }
        previous = Some(digest);
    }
    let usable = digest_problem.as_ref().map_or(digests.len(), |(at, _)| *at);
    let mut pending_digests = digests[..usable].iter().peekable();

    // Then the records, in storage order.
    let first_chained = records.iter().position(|r| r.link.is_some()).unwrap_or(records.len());
    report.unchained_records = first_chained as u64;
    let chained = &records[first_chained..];
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut previous_hash = genesis(account_id);
    let mut expected = 1u64;
    let mut record_problem: Option<Problem> = None;
    for (at, record) in chained.iter().enumerate() {
        let about = |kind, sequence, detail: String| Problem {
            kind,
            sequence,
            position: Some(record.position),
            event_id: Some(record.event_id.clone()),
            detail,
        };
        let Some(stored) = record.link else {
            record_problem = Some(about(
                ProblemKind::Inserted,
                None,
                format!(
                    "record at position {} carries no chain link after the chain began",
                    record.position
                ),
            ));
            break;
        };
        if stored.sequence != expected {
            let later = |sequence: u64| {
                chained[at + 1..]
                    .iter()
                    .any(|r| r.link.is_some_and(|l| l.sequence == sequence))
            };
            record_problem = Some(if seen.contains(&stored.sequence) {
                about(
                    ProblemKind::Inserted,
                    Some(stored.sequence),
                    format!("a second record with chain sequence {}", stored.sequence),
                )
            } else if stored.sequence < expected || later(expected) {
                about(
                    ProblemKind::Reordered,
                    Some(stored.sequence),
                    format!("record {} stands where record {expected} belongs", stored.sequence),
                )
            } else {
                about(
                    ProblemKind::Deleted,
                    Some(expected),
                    format!(
                        "records {expected} to {} are missing before position {}",
                        stored.sequence - 1,
                        record.position
                    ),
                )
            });
            break;
        }
        let computed = link(&previous_hash, expected, &record.record_hash);
        if computed != stored.hash {
            record_problem = Some(about(
                ProblemKind::Edited,
                Some(expected),
                format!("record {expected} is not the record its link was made over"),
            ));
            break;
        }
        seen.insert(expected);
        previous_hash = computed;
        // Every digest up to here must state exactly this chain.
        while let Some(digest) = pending_digests.next_if(|d| d.body.chain_sequence <= expected) {
            if digest.body.chain_sequence == expected && digest.body.chain_hash == computed {
                report.last_valid_digest = Some(ValidDigest {
                    chain_sequence: expected,
                    digest_time: digest.body.digest_time.clone(),
                    signing_key_id: digest.body.signing_key_id.clone(),
                });
            } else {
                let from = report.last_valid_digest.as_ref().map_or(1, |d| d.chain_sequence + 1);
                record_problem = Some(Problem {
                    kind: ProblemKind::DigestMismatch,
                    sequence: Some(from),
                    position: None,
                    event_id: None,
                    detail: format!(
                        "the records agree with their links but not with the signed digest of {} over records 1 \
                         to {}: a record from {from} to {} was changed and the links after it recomputed",
                        digest.body.digest_time, digest.body.chain_sequence, digest.body.chain_sequence
                    ),
                });
                break;
            }
        }
        if record_problem.is_some() {
            break;
        }
        report.verified_through = expected;
        expected += 1;
    }
    if record_problem.is_none() {
        if let Some(digest) = pending_digests.next() {
            record_problem = Some(Problem {
                kind: ProblemKind::Truncated,
                sequence: Some(expected),
                position: None,
                event_id: None,
                detail: format!(
                    "the chain ends at record {} but the signed digest of {} covers records 1 to {}",
                    expected - 1,
                    digest.body.digest_time,
                    digest.body.chain_sequence
                ),
            });
        }
    }
    if record_problem
        .as_ref()
        .is_some_and(|p| p.kind == ProblemKind::DigestMismatch)
    {
        // Only what a valid digest covers is known good then.
        report.verified_through = report.last_valid_digest.as_ref().map_or(0, |d| d.chain_sequence);
    }
    // The first problem in the history's order: a record problem before the broken digest's
    // range comes first.
    match (record_problem, digest_problem) {
        (Some(record), Some((_, digest))) => {
            let record_first = record.sequence.unwrap_or(0) <= digest.sequence.unwrap_or(u64::MAX);
            fail(&mut report, if record_first { record } else { digest });
        }
        (Some(problem), None) | (None, Some((_, problem))) => fail(&mut report, problem),
        (None, None) => {}
    }
    report
}

/// The verdict on one account's event stream (see [`EventChain`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReport {
    /// Whether nothing is wrong.
    pub intact: bool,
    /// Events read.
    pub events: u64,
    /// The last event a valid digest vouches for, with every event before it.
    pub verified_through: u64,
    /// The last digest whose event head the stream reproduces.
    pub last_valid_digest: Option<ValidDigest>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

/// Checks an account's event stream, as `(sequence, SHA-256 of the envelope's JSON)` in stream
/// order, against the event heads its digests signed. Events carry no stored links, so an edit
/// is placed between the last digest that holds and the first that does not.
pub fn verify_events(events: &[(u64, [u8; 32])], digests: &[Digest], keys: &TrustedKeys, stream: &str) -> EventReport {
    let mut report = EventReport {
        intact: true,
        events: events.len() as u64,
        verified_through: 0,
        last_valid_digest: None,
        problem: None,
    };
    let problem = |kind, sequence: u64, detail: String| Problem {
        kind,
        sequence: Some(sequence),
        position: None,
        event_id: None,
        detail,
    };
    // Only digests that hold themselves vouch for anything (verify_chain names the others).
    let mut signed = digests
        .iter()
        .take_while(|d| d.body.account_id == stream && keys.verify(d).is_ok())
        .filter_map(|d| Some((d.body.event_sequence?, d.body.event_chain_hash?, d)))
        .peekable();
    let mut chain = EventChain::new(stream);
    let mut found: Option<Problem> = None;
    for &(sequence, hash) in events {
        if let Err(expected) = chain.extend(sequence, &hash) {
            found = Some(if sequence > expected {
                problem(
                    ProblemKind::Deleted,
                    expected,
                    format!("events {expected} to {} are missing from the stream", sequence - 1),
                )
            } else {
                problem(
                    ProblemKind::Reordered,
                    sequence,
                    format!("event {sequence} stands where event {expected} belongs"),
                )
            });
            break;
        }
        while let Some((at, head, digest)) = signed.next_if(|(at, _, _)| *at <= sequence) {
            if at == sequence && head == chain.head().hash {
                report.last_valid_digest = Some(ValidDigest {
                    chain_sequence: at,
                    digest_time: digest.body.digest_time.clone(),
                    signing_key_id: digest.body.signing_key_id.clone(),
                });
                report.verified_through = at;
            } else {
                let from = report.last_valid_digest.as_ref().map_or(1, |d| d.chain_sequence + 1);
                found = Some(problem(
                    ProblemKind::DigestMismatch,
                    from,
                    format!(
                        "the stream does not reproduce the event head signed at {}: an event from {from} to {at} was changed",
                        digest.body.digest_time
                    ),
                ));
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    if found.is_none() {
        if let Some((at, _, digest)) = signed.next() {
            found = Some(problem(
                ProblemKind::Truncated,
                chain.head().sequence + 1,
                format!(
                    "the stream ends at event {} but the digest of {} covers events 1 to {at}",
                    chain.head().sequence,
                    digest.body.digest_time
                ),
            ));
        }
    }
    if let Some(found) = found {
        report.intact = false;
        report.problem = Some(found);
    }
    report
}

#[cfg(test)]
mod tests;
