#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};

use super::*;

const ACCOUNT: &str = "111122223333";

struct History {
    heads: ChainHeads,
    records: Vec<(Vec<u8>, StoredRecord)>,
    digests: Vec<Digest>,
    last: Option<DigestHead>,
}

impl History {
    fn new() -> Self {
        History {
            heads: ChainHeads::new(),
            records: Vec::new(),
            digests: Vec::new(),
            last: None,
        }
    }

    fn append(&mut self, n: usize) {
        for _ in 0..n {
            let position = self.records.len() as u64 + 1;
            let bytes = format!(r#"{{"eventID":"e{position}","recipientAccountId":"{ACCOUNT}"}}"#).into_bytes();
            let link = self.heads.append(ACCOUNT, &bytes);
            self.records.push((
                bytes.clone(),
                StoredRecord {
                    position,
                    event_id: format!("e{position}"),
                    link: Some(link),
                    record_hash: record_hash(&bytes),
                },
            ));
        }
    }

    fn digest(&mut self, signer: &AuditSigner) {
        let head = self.heads.get(ACCOUNT).unwrap();
        let at = Utc.timestamp_opt(1_800_000_000 + self.digests.len() as i64, 0).unwrap();
        let digest = next_digest(signer, ACCOUNT, head, self.last.as_ref(), at).unwrap();
        self.last = Some(DigestHead::of(&digest));
        self.digests.push(digest);
    }

    fn stored(&self) -> Vec<StoredRecord> {
        self.records.iter().map(|(_, r)| r.clone()).collect()
    }
}

fn signer() -> AuditSigner {
    AuditSigner::generate("2026-12-07T00:00:00Z").unwrap().0
}

fn trusting(signer: &AuditSigner) -> TrustedKeys {
    TrustedKeys::from_anchor(signer.public_key(), &[])
}

/// 30 records with a digest after 10 and after 25.
fn history(signer: &AuditSigner) -> History {
    let mut history = History::new();
    history.append(10);
    history.digest(signer);
    history.append(15);
    history.digest(signer);
    history.append(5);
    history
}

fn kind(report: &ChainReport) -> Option<ProblemKind> {
    report.problem.as_ref().map(|p| p.kind)
}

#[test]
fn an_untouched_history_is_intact_up_to_its_last_digest() {
    let key = signer();
    let history = history(&key);
    let report = verify_chain(ACCOUNT, &history.stored(), &history.digests, &trusting(&key));
    assert!(report.intact, "{report:?}");
    assert_eq!(report.verified_through, 30);
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 25);
    // No digest yet for a new digest when nothing advanced.
    let head = history.heads.get(ACCOUNT).unwrap();
    assert!(next_digest(
        &key,
        ACCOUNT,
        head,
        Some(&DigestHead {
            chain_sequence: 30,
            ..history.last.clone().unwrap()
        }),
        Utc::now()
    )
    .is_none());
}

#[test]
fn an_edited_record_is_named() {
    let key = signer();
    let mut history = history(&key);
    history.records[13].1.record_hash = record_hash(b"{\"eventID\":\"e14\",\"edited\":true}");
    let report = verify_chain(ACCOUNT, &history.stored(), &history.digests, &trusting(&key));
    assert_eq!(kind(&report), Some(ProblemKind::Edited));
    let problem = report.problem.unwrap();
    assert_eq!(
        (problem.sequence, problem.position, problem.event_id.as_deref()),
        (Some(14), Some(14), Some("e14"))
    );
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 10);
    assert_eq!(report.verified_through, 13);
}

#[test]
fn deleted_swapped_inserted_and_truncated_records_are_told_apart() {
    let key = signer();
    let trusted = trusting(&key);
    let history = history(&key);

    let mut deleted = history.stored();
    deleted.remove(4);
    let report = verify_chain(ACCOUNT, &deleted, &history.digests, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::Deleted));
    assert_eq!(report.problem.as_ref().unwrap().sequence, Some(5));

    let mut swapped = history.stored();
    swapped.swap(6, 7);
    let report = verify_chain(ACCOUNT, &swapped, &history.digests, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::Reordered));
    assert_eq!(report.problem.as_ref().unwrap().sequence, Some(8));

    let mut duplicated = history.stored();
    duplicated.insert(3, duplicated[2].clone());
    let report = verify_chain(ACCOUNT, &duplicated, &history.digests, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::Inserted));

    let mut unlinked = history.stored();
    unlinked.insert(
        12,
        StoredRecord {
            position: 99,
            event_id: "forged".into(),
            link: None,
            record_hash: record_hash(b"{}"),
        },
    );
    let report = verify_chain(ACCOUNT, &unlinked, &history.digests, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::Inserted));
    assert_eq!(report.problem.as_ref().unwrap().event_id.as_deref(), Some("forged"));

    // Cut after record 20: the digest over 25 says more existed.
    let truncated = history.stored()[..20].to_vec();
    let report = verify_chain(ACCOUNT, &truncated, &history.digests, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::Truncated));
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 10);
    // Cut after the last digest: nothing signed says so (the stored links cannot).
    let report = verify_chain(ACCOUNT, &history.stored()[..27], &history.digests, &trusted);
    assert!(report.intact);
}

#[test]
fn an_edit_with_every_link_recomputed_is_caught_by_the_digest() {
    let key = signer();
    let history = history(&key);
    // The editor rewrites record 17 and recomputes its link and every link after it.
    let mut heads = ChainHeads::new();
    let rewritten: Vec<StoredRecord> = history
        .records
        .iter()
        .map(|(bytes, record)| {
            let bytes = if record.position == 17 {
                b"{\"eventID\":\"e17\",\"rewritten\":1}".to_vec()
            } else {
                bytes.clone()
            };
            StoredRecord {
                link: Some(heads.append(ACCOUNT, &bytes)),
                record_hash: record_hash(&bytes),
                ..record.clone()
            }
        })
        .collect();
    let report = verify_chain(ACCOUNT, &rewritten, &history.digests, &trusting(&key));
    assert_eq!(kind(&report), Some(ProblemKind::DigestMismatch));
    assert_eq!(report.problem.as_ref().unwrap().sequence, Some(11));
    assert_eq!(report.verified_through, 10);
}

#[test]
fn digests_signed_by_an_unendorsed_key_or_removed_are_refused_and_rotation_is_followed() {
    let first = signer();
    let mut history = History::new();
    history.append(5);
    history.digest(&first);
    // A rotation: the next key, endorsed by the first, signs from now on.
    let second = signer();
    let endorsed = first.endorse(second.public_key());
    history.append(5);
    history.digest(&second);
    assert_eq!(
        history.digests[1].body.previous_signing_key_id.as_deref(),
        Some(first.key_id())
    );
    let trusted = TrustedKeys::from_anchor(first.public_key(), std::slice::from_ref(&endorsed));
    assert!(trusted.accepts(second.key_id()) && trusted.refused.is_empty());
    let report = verify_chain(ACCOUNT, &history.stored(), &history.digests, &trusted);
    assert!(report.intact, "{report:?}");
    assert_eq!(report.last_valid_digest.unwrap().signing_key_id, second.key_id());

    // An attacker's key, published without (or with a forged) endorsement, is not trusted.
    let attacker = signer();
    let mut forged = attacker.public_key().clone();
    forged.endorsement = endorsed.endorsement.clone();
    let trusted = TrustedKeys::from_anchor(first.public_key(), &[endorsed, forged, attacker.public_key().clone()]);
    assert!(!trusted.accepts(attacker.key_id()));
    assert_eq!(trusted.refused.len(), 2, "{:?}", trusted.refused);
    assert!(trusted.refused.iter().all(|(key, _)| key == attacker.key_id()));
    let mut resigned = history.digests.clone();
    resigned[1] = attacker.sign(DigestBody {
        signing_key_id: attacker.key_id().into(),
        ..resigned[1].body.clone()
    });
    let report = verify_chain(ACCOUNT, &history.stored(), &resigned, &trusted);
    assert_eq!(kind(&report), Some(ProblemKind::DigestInvalid));
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 5);

    // A digest removed from the middle breaks the digests' chain.
    history.append(3);
    history.digest(&second);
    let mut missing = history.digests.clone();
    missing.remove(1);
    let report = verify_chain(
        ACCOUNT,
        &history.stored(),
        &missing,
        &TrustedKeys::from_anchor(first.public_key(), &[first.endorse(second.public_key())]),
    );
    assert_eq!(kind(&report), Some(ProblemKind::DigestMissing));
}

#[test]
fn chains_are_bound_to_their_account_and_the_formats_are_stable() {
    let mut heads = ChainHeads::new();
    let a = heads.append("111111111111", b"{}");
    let b = heads.append("222222222222", b"{}");
    assert_ne!(a.hash, b.hash);
    assert_eq!(a.sequence, 1);
    assert_eq!(heads.append("111111111111", b"{}").sequence, 2);
    // The link of a known input, frozen (computed apart, with Python's hashlib): stores and
    // verifiers of every version agree on it.
    assert_eq!(
        link(&genesis("111122223333"), 1, &record_hash(b"{}")).to_string(),
        "53c5c5667e773f44b68ba1ee0ceff1d8c52ecab8b6fd465b730658026bfc03d6"
    );
    let text = genesis("111122223333").to_string();
    assert_eq!(text.parse::<ChainHash>().unwrap(), genesis("111122223333"));
    let key = signer();
    let digest = next_digest(
        &key,
        ACCOUNT,
        ChainLink {
            sequence: 3,
            hash: genesis(ACCOUNT),
        },
        None,
        Utc::now(),
    )
    .unwrap();
    let json = serde_json::to_string(&digest).unwrap();
    let back: Digest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, digest);
    assert!(json.contains("\"chainSequence\":3") && json.contains("\"signature\""));
    assert!(!format!("{key:?}").contains("pair"), "the secret half is not printed");
}

#[test]
fn an_event_stream_is_checked_against_the_heads_its_digests_signed() {
    let key = signer();
    let trusted = trusting(&key);
    let events: Vec<(u64, [u8; 32])> = (1..=12)
        .map(|n| (n, record_hash(format!("event {n}").as_bytes())))
        .collect();
    let mut chain = EventChain::new(ACCOUNT);
    let mut digests = Vec::new();
    let mut last: Option<DigestHead> = None;
    let records = ChainLink {
        sequence: 1,
        hash: genesis(ACCOUNT),
    };
    for &(sequence, hash) in &events {
        chain.extend(sequence, &hash).unwrap();
        if sequence == 5 || sequence == 10 {
            let at = Utc.timestamp_opt(1_800_000_000 + sequence as i64, 0).unwrap();
            let digest =
                next_digest_with_events(&key, ACCOUNT, records, last.as_ref(), Some(chain.head()), at).unwrap();
            last = Some(DigestHead::of(&digest));
            digests.push(digest);
        }
    }
    assert_eq!(chain.extend(20, &[0; 32]), Err(13), "out of order is refused");
    // The second digest was made for the events alone: the records had not advanced.
    assert_eq!(digests[1].body.chain_sequence, 1);
    let report = verify_events(&events, &digests, &trusted, ACCOUNT);
    assert!(report.intact, "{report:?}");
    assert_eq!(report.verified_through, 10);

    let mut edited = events.clone();
    edited[6].1 = record_hash(b"event 7, edited");
    let report = verify_events(&edited, &digests, &trusted, ACCOUNT);
    let problem = report.problem.unwrap();
    assert_eq!((problem.kind, problem.sequence), (ProblemKind::DigestMismatch, Some(6)));
    assert_eq!(report.verified_through, 5);

    let mut deleted = events.clone();
    deleted.remove(2);
    assert_eq!(
        verify_events(&deleted, &digests, &trusted, ACCOUNT)
            .problem
            .unwrap()
            .kind,
        ProblemKind::Deleted
    );
    let report = verify_events(&events[..8], &digests, &trusted, ACCOUNT);
    assert_eq!(report.problem.unwrap().kind, ProblemKind::Truncated);
    // Unsigned digests vouch for nothing.
    let stranger = signer();
    let report = verify_events(&edited, &digests, &trusting(&stranger), ACCOUNT);
    assert!(report.intact && report.verified_through == 0, "{report:?}");
}
