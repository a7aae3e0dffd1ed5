//! Tamper evidence of the PostgreSQL audit store: the hash chain it writes beside the records,
//! the digests it signs, the keys it records, checked the way a verifier does it
//! (`iam_audit::integrity::verify_chain` over everything `chain()` pages and `digests()` return,
//! trusting the first signing key). The tampering is done in SQL, as an attacker with the
//! database's password would; the attacker of the last tests also has the code, not the key.
//!
//! Needs `GATEHOUSE_DATABASE_URL`: the tests are `#[ignore]`d so the README's test command runs
//! without a server; `scripts/distributed-test.sh` starts one and runs them with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use iam_audit::conformance::record;
use iam_audit::integrity::{
    genesis, link, record_hash, AuditSigner, ChainReport, Digest, ProblemKind, StoredRecord, TrustedKeys,
};
use iam_audit::{AuditLog, AuditRecord};
use iam_store_postgres::PgAuditStore;
use sqlx::Row;
use support::{database_url, TestSchema};

const A: &str = "111111111111";
const B: &str = "222222222222";

async fn store(schema: &TestSchema) -> PgAuditStore {
    PgAuditStore::connect(&database_url(), Some(&schema.name))
        .await
        .expect("connect the audit store")
}

fn signer() -> Arc<AuditSigner> {
    Arc::new(AuditSigner::generate("2026-12-07T00:00:00Z").unwrap().0)
}

fn trusting(signer: &AuditSigner) -> TrustedKeys {
    TrustedKeys::from_anchor(signer.public_key(), &[])
}

/// Everything `chain()` returns for `account`, paged a few records at a time, as a verifier sees
/// it.
async fn stored(log: &PgAuditStore, account: &str) -> Vec<StoredRecord> {
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page = log.chain(account, after, 7).await.unwrap();
        assert!(page.records.len() <= 7);
        for chained in page.records {
            let json: serde_json::Value = serde_json::from_slice(&chained.json).unwrap();
            records.push(StoredRecord {
                position: chained.position,
                event_id: json["eventID"].as_str().unwrap().to_owned(),
                link: chained.link,
                record_hash: record_hash(&chained.json),
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    records
}

async fn verify_with(log: &PgAuditStore, account: &str, keys: &TrustedKeys) -> ChainReport {
    let records = stored(log, account).await;
    let digests = log.digests(account).await.unwrap();
    // Paged, they are the same digests.
    let (mut paged, mut after) = (Vec::new(), None);
    loop {
        let (page, next) = log.digest_page(account, after, 2).await.unwrap();
        paged.extend(page);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, digests);
    iam_audit::integrity::verify_chain(account, &records, &digests, keys)
}

async fn verify(log: &PgAuditStore, account: &str, signer: &AuditSigner) -> ChainReport {
    verify_with(log, account, &trusting(signer)).await
}

fn kind(report: &ChainReport) -> Option<ProblemKind> {
    report.problem.as_ref().map(|p| p.kind)
}

/// Appends `counts[0]` records of `account`, signs, appends `counts[1]`, signs, ... and appends
/// the last count without signing after it. Returns the records in order.
async fn history(log: &PgAuditStore, signer: &Arc<AuditSigner>, account: &str, counts: &[usize]) -> Vec<AuditRecord> {
    let mut all = Vec::new();
    for (at, count) in counts.iter().enumerate() {
        let records: Vec<AuditRecord> = (all.len()..all.len() + count).map(|n| record(account, n)).collect();
        // Batches of varying size, as the projector's and the decision path's are.
        for batch in records.chunks(4) {
            log.append(batch.to_vec()).await.unwrap();
        }
        all.extend(records);
        if at + 1 < counts.len() {
            log.sign_digests(signer.clone(), Some(account)).await.unwrap();
        }
    }
    all
}

async fn head_sequence(log: &PgAuditStore, account: &str) -> i64 {
    sqlx::query("SELECT sequence FROM audit_chain_heads WHERE account_id = $1")
        .bind(account)
        .fetch_one(log.pool())
        .await
        .unwrap()
        .get(0)
}

/// Two accounts' histories, written by both append paths with digests between, verify intact;
/// each account's chain starts at 1 whatever the other wrote, and digests cover what they name.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn intact_histories_verify_and_each_account_chains_on_its_own() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    assert!(
        log.sign_digests(key.clone(), None).await.unwrap().is_empty(),
        "nothing to sign yet"
    );

    // Interleaved: batches holding both accounts, through both paths.
    let mut offset = 0i64;
    for round in 0..5 {
        let mixed: Vec<AuditRecord> = (0..6)
            .map(|i| record(if i % 3 == 0 { B } else { A }, round * 6 + i))
            .collect();
        if round % 2 == 0 {
            log.append(mixed).await.unwrap();
        } else {
            let consumed: Vec<(i32, i64, AuditRecord)> = mixed
                .into_iter()
                .map(|r| {
                    offset += 1;
                    (0, offset, r)
                })
                .collect();
            assert_eq!(log.insert_consumed("t", &consumed).await.unwrap(), 6);
        }
        if round == 1 {
            let signed = log.sign_digests(key.clone(), None).await.unwrap();
            let mut accounts: Vec<&str> = signed.iter().map(|d| d.body.account_id.as_str()).collect();
            accounts.sort_unstable();
            assert_eq!(accounts, [A, B]);
            assert!(
                log.sign_digests(key.clone(), None).await.unwrap().is_empty(),
                "nothing advanced"
            );
        }
        if round == 3 {
            let signed = log.sign_digests(key.clone(), Some(B)).await.unwrap();
            assert_eq!(signed.len(), 1, "only the account asked for");
            assert_eq!(signed[0].body.account_id, B);
            assert_eq!(signed[0].body.chain_sequence, 8);
        }
    }

    for (account, count, digests, last_digest) in [(A, 20, 1, 8), (B, 10, 2, 8)] {
        let records = stored(&log, account).await;
        assert_eq!(records.len(), count);
        let sequences: Vec<u64> = records.iter().map(|r| r.link.unwrap().sequence).collect();
        assert_eq!(
            sequences,
            (1..=count as u64).collect::<Vec<_>>(),
            "{account}'s chain is its own"
        );
        assert!(records.windows(2).all(|w| w[0].position < w[1].position));
        let report = verify(&log, account, &key).await;
        assert!(report.intact, "{report:?}");
        assert_eq!(report.verified_through, count as u64);
        assert_eq!(report.unchained_records, 0);
        assert_eq!(report.digests, digests);
        assert_eq!(report.last_valid_digest.unwrap().chain_sequence, last_digest);
    }
    // A's first digest covered records 1 to 8 of A (4 of each round of 6), B's its 4.
    let b = log.digests(B).await.unwrap();
    assert_eq!(b[0].body.chain_sequence, 4);
    assert_eq!(b[1].body.previous_digest_hash, Some(b[0].hash()));

    // Another account's digests verify against nothing here: the genesis is the account's.
    let swapped = iam_audit::integrity::verify_chain(A, &stored(&log, B).await, &[], &trusting(&key));
    assert_eq!(kind(&swapped), Some(ProblemKind::Edited));
    assert_eq!(log.chain("999999999999", None, 10).await.unwrap().records.len(), 0);
    log.close().await;
}

/// A record delivered again (Kafka's at-least-once, a producer retry, the same record twice in a
/// batch) is stored once: it gets no second link and the chain does not move.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn redelivered_records_neither_link_nor_advance_the_chain() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    let records: Vec<AuditRecord> = (0..10).map(|n| record(A, n)).collect();
    let consumed: Vec<(i32, i64, AuditRecord)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (0, i64::try_from(i).unwrap(), r.clone()))
        .collect();
    assert_eq!(log.insert_consumed("t", &consumed[..6]).await.unwrap(), 6);
    log.sign_digests(key.clone(), None).await.unwrap();
    assert_eq!(head_sequence(&log, A).await, 6);

    // Redelivered from an older offset: only the 4 new ones link, 7 to 10.
    assert_eq!(log.insert_consumed("t", &consumed[3..]).await.unwrap(), 4);
    assert_eq!(head_sequence(&log, A).await, 10);
    // Entirely old: nothing moves, but the offsets are still stored.
    assert_eq!(log.insert_consumed("t", &consumed[..2]).await.unwrap(), 0);
    log.append(records[..5].to_vec()).await.unwrap();
    assert_eq!(head_sequence(&log, A).await, 10);
    assert_eq!(log.kafka_offsets("t").await.unwrap(), [(0, 10)]);
    // Twice in one batch, with a new one between: two links.
    let (x, y) = (record(A, 10), record(A, 11));
    assert_eq!(
        log.insert(&[x.clone(), y, x.clone(), records[0].clone()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(head_sequence(&log, A).await, 12);
    log.sign_digests(key.clone(), None).await.unwrap();

    let stored = stored(&log, A).await;
    assert_eq!(stored.len(), 12);
    assert_eq!(stored[10].event_id, x.event_id);
    assert_eq!(stored[10].link.unwrap().sequence, 11);
    let report = verify(&log, A, &key).await;
    assert!(report.intact, "{report:?}");
    assert_eq!((report.verified_through, report.digests), (12, 2));
    log.close().await;
}

/// Records stored before the chain began (before migration 3000004) carry no link: they are read
/// first and reported as not covered, and the account's chain starts at 1 after them.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_from_before_the_chain_are_read_as_unchained() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    log.append((0..5).map(|n| record(A, n)).collect()).await.unwrap();
    // As the migration left them: no links, no heads.
    let mut conn = schema.connection().await;
    sqlx::raw_sql("UPDATE audit_events SET chain_sequence = NULL, chain_hash = NULL; DELETE FROM audit_chain_heads;")
        .execute(&mut conn)
        .await
        .unwrap();
    history(&log, &key, A, &[4, 3]).await;

    let records = stored(&log, A).await;
    assert_eq!(records.len(), 12);
    assert!(records[..5].iter().all(|r| r.link.is_none()));
    assert_eq!(records[5].link.unwrap().sequence, 1);
    let report = verify(&log, A, &key).await;
    assert!(report.intact, "{report:?}");
    assert_eq!((report.unchained_records, report.verified_through), (5, 7));
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 4);
    log.close().await;
}

/// Writers appending to the same account at once, and signers signing at once, still leave one
/// chain in storage order and one digest chain: positions are handed out under the head's lock.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn concurrent_appends_and_signers_keep_one_chain_and_one_digest_chain() {
    let schema = TestSchema::create().await;
    let log = Arc::new(store(&schema).await);
    let key = signer();
    let mut tasks = Vec::new();
    for task in 0..8usize {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50 {
                // Single records to A; to B (and A again) in two-account batches, through the
                // consumer's path, so writers lock overlapping sets of heads.
                if n % 10 == 9 {
                    let batch = vec![(0, 0, record(B, task * 100 + n)), (0, 0, record(A, task * 100 + n))];
                    log.insert_consumed(&format!("t{task}"), &batch).await.unwrap();
                } else {
                    log.append(vec![record(A, task * 100 + n)]).await.unwrap();
                }
            }
        }));
    }
    for _ in 0..2 {
        let (log, key) = (log.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                log.sign_digests(key.clone(), None).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    log.sign_digests(key.clone(), None).await.unwrap();

    for (account, count) in [(A, 400), (B, 40)] {
        let report = verify(&log, account, &key).await;
        assert!(report.intact, "{report:?}");
        assert_eq!((report.records, report.verified_through), (count, count));
        assert_eq!(report.last_valid_digest.unwrap().chain_sequence, count);
        assert!(report.digests >= 1);
    }
    log.close().await;
}

/// The same records handed to several writers at once (a redelivery racing the first delivery):
/// each is stored and linked once, whichever writer wins; the others find it under the lock, even
/// when they looked before the winner committed.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_delivered_to_concurrent_writers_link_once() {
    let schema = TestSchema::create().await;
    let log = Arc::new(store(&schema).await);
    let key = signer();
    let records: Vec<AuditRecord> = (0..60).map(|n| record(if n % 4 == 0 { B } else { A }, n)).collect();
    let tasks: Vec<_> = (0..8usize)
        .map(|task| {
            let (log, records) = (log.clone(), records.clone());
            tokio::spawn(async move {
                let mut inserted = 0;
                for chunk in records.chunks(3 + task % 4) {
                    inserted += log.insert(chunk).await.unwrap();
                }
                inserted
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        inserted += task.await.unwrap();
    }
    assert_eq!(inserted, 60, "each record is new to exactly one writer");
    log.sign_digests(key.clone(), None).await.unwrap();
    for (account, count) in [(A, 45), (B, 15)] {
        let report = verify(&log, account, &key).await;
        assert!(report.intact, "{report:?}");
        assert_eq!((report.records, report.verified_through), (count, count));
    }
    log.close().await;
}

/// One byte of one record changed in place: the verifier names that record.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn an_edited_record_is_named() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    let records = history(&log, &key, A, &[10, 15, 5]).await;
    let target = &records[13];
    let edited = sqlx::query(
        "UPDATE audit_events SET record = replace(record, '\"us-east-1\"', '\"us-east-2\"') \
         WHERE account_id = $1 AND event_id = $2",
    )
    .bind(A)
    .bind(&target.event_id)
    .execute(log.pool())
    .await
    .unwrap();
    assert_eq!(edited.rows_affected(), 1);

    let report = verify(&log, A, &key).await;
    assert_eq!(kind(&report), Some(ProblemKind::Edited), "{report:?}");
    let problem = report.problem.unwrap();
    assert_eq!(problem.event_id.as_deref(), Some(target.event_id.as_str()));
    assert_eq!(problem.sequence, Some(14));
    assert_eq!(report.verified_through, 13);
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 10);
    log.close().await;
}

/// A record removed from the middle: the verifier says which are missing, and where.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn a_deleted_record_is_found() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    let records = history(&log, &key, A, &[10, 15, 5]).await;
    sqlx::query("DELETE FROM audit_events WHERE account_id = $1 AND event_id = $2")
        .bind(A)
        .bind(&records[4].event_id)
        .execute(log.pool())
        .await
        .unwrap();

    let report = verify(&log, A, &key).await;
    assert_eq!(kind(&report), Some(ProblemKind::Deleted), "{report:?}");
    let problem = report.problem.unwrap();
    assert_eq!(problem.sequence, Some(5));
    assert_eq!(
        problem.event_id.as_deref(),
        Some(records[5].event_id.as_str()),
        "the record after the gap"
    );
    assert_eq!(report.verified_through, 4);
    log.close().await;
}

/// Two records moved in the storage order (their positions swapped by deleting them and inserting
/// them again with each other's position): the verifier says reordered.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_out_of_chain_order_are_reordered() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    history(&log, &key, A, &[10, 15, 5]).await;
    let before = stored(&log, A).await;
    let (p7, p8) = (before[6].position, before[7].position);
    let mut conn = schema.connection().await;
    sqlx::raw_sql(&format!(
        "BEGIN; \
         CREATE TEMP TABLE moved AS SELECT * FROM audit_events WHERE account_id = '{A}' AND position IN ({p7}, {p8}); \
         DELETE FROM audit_events WHERE account_id = '{A}' AND position IN ({p7}, {p8}); \
         UPDATE moved SET position = CASE WHEN position = {p7} THEN {p8} ELSE {p7} END; \
         INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM moved; \
         DROP TABLE moved; \
         COMMIT;"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let after = stored(&log, A).await;
    assert_eq!(after[6].event_id, before[7].event_id, "the swap took");

    let report = verify(&log, A, &key).await;
    assert_eq!(kind(&report), Some(ProblemKind::Reordered), "{report:?}");
    let problem = report.problem.unwrap();
    assert_eq!(problem.sequence, Some(8), "record 8 stands where 7 belongs");
    assert_eq!(problem.event_id.as_deref(), Some(before[7].event_id.as_str()));
    assert_eq!(report.verified_through, 6);
    log.close().await;
}

/// The newest records removed, back to before the last digest: the chain alone cannot tell (it
/// ends earlier, intact), the signed digest can.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_removed_from_the_end_are_truncated_against_the_digest() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    history(&log, &key, A, &[10, 10, 0]).await;
    let removed = sqlx::query("DELETE FROM audit_events WHERE account_id = $1 AND chain_sequence > 15")
        .bind(A)
        .execute(log.pool())
        .await
        .unwrap();
    assert_eq!(removed.rows_affected(), 5);

    let report = verify(&log, A, &key).await;
    assert_eq!(kind(&report), Some(ProblemKind::Truncated), "{report:?}");
    assert_eq!(report.problem.unwrap().sequence, Some(16));
    assert_eq!(report.verified_through, 15);
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 10);
    log.close().await;
}

/// The later digests replaced by ones an attacker signed with a key of their own (recorded in the
/// log, but endorsed by no trusted key): refused, and the last digest that holds is named.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn digests_resigned_with_an_unendorsed_key_are_invalid() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    log.record_signing_key(key.public_key().clone()).await.unwrap();
    history(&log, &key, A, &[10, 10, 10, 0]).await;

    let attacker = signer();
    log.record_signing_key(attacker.public_key().clone()).await.unwrap();
    let rows: Vec<(i64, String)> =
        sqlx::query("SELECT position, digest FROM audit_digests WHERE account_id = $1 ORDER BY position")
            .bind(A)
            .fetch_all(log.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    assert_eq!(rows.len(), 3);
    let mut previous: Digest = serde_json::from_str(&rows[0].1).unwrap();
    for (position, text) in &rows[1..] {
        let mut body = serde_json::from_str::<Digest>(text).unwrap().body;
        body.signing_key_id = attacker.key_id().to_owned();
        body.previous_digest_hash = Some(previous.hash());
        body.previous_signing_key_id =
            Some(previous.body.signing_key_id.clone()).filter(|id| id.as_str() != attacker.key_id());
        let forged = attacker.sign(body);
        sqlx::query("UPDATE audit_digests SET digest = $1 WHERE account_id = $2 AND position = $3")
            .bind(serde_json::to_string(&forged).unwrap())
            .bind(A)
            .bind(position)
            .execute(log.pool())
            .await
            .unwrap();
        previous = forged;
    }

    let keys = TrustedKeys::from_anchor(key.public_key(), &log.signing_keys().await.unwrap());
    assert!(!keys.accepts(attacker.key_id()));
    assert_eq!(keys.refused.len(), 1);
    let report = verify_with(&log, A, &keys).await;
    assert_eq!(kind(&report), Some(ProblemKind::DigestInvalid), "{report:?}");
    assert_eq!(report.problem.unwrap().sequence, Some(20));
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 10);
    log.close().await;
}

/// A rotation the old key endorsed, recorded in the log: a verifier trusting only the first key
/// follows it, and the digests' chain records it.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn an_endorsed_key_rotation_verifies_intact() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let old = signer();
    log.record_signing_key(old.public_key().clone()).await.unwrap();
    history(&log, &old, A, &[10, 10]).await;
    let new = signer();
    log.record_signing_key(old.endorse(new.public_key())).await.unwrap();
    log.sign_digests(new.clone(), None).await.unwrap();
    history(&log, &new, A, &[5, 0]).await;

    let digests = log.digests(A).await.unwrap();
    assert_eq!(digests.len(), 3);
    assert_eq!(digests[1].body.signing_key_id, new.key_id());
    assert_eq!(digests[1].body.previous_signing_key_id.as_deref(), Some(old.key_id()));
    assert_eq!(digests[2].body.previous_signing_key_id, None, "no rotation since");
    let keys = TrustedKeys::from_anchor(old.public_key(), &log.signing_keys().await.unwrap());
    assert!(keys.accepts(new.key_id()) && keys.refused.is_empty());
    let report = verify_with(&log, A, &keys).await;
    assert!(report.intact, "{report:?}");
    assert_eq!(report.verified_through, 25);
    let last = report.last_valid_digest.unwrap();
    assert_eq!((last.chain_sequence, last.signing_key_id.as_str()), (25, new.key_id()));
    log.close().await;
}

/// An attacker with the code but not the key rewrites a record and recomputes every link after
/// it (and the head, so later appends chain on): the links agree, the signed digest does not.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn records_rewritten_with_recomputed_links_disagree_with_the_signed_digest() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    let records = history(&log, &key, A, &[3, 7, 10]).await;

    let mut conn = schema.connection().await;
    let rows: Vec<(i64, i64, String)> = sqlx::query(
        "SELECT position, chain_sequence, record FROM audit_events WHERE account_id = $1 ORDER BY position",
    )
    .bind(A)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect();
    let mut previous = genesis(A);
    for (position, sequence, text) in rows {
        let text = if sequence == 5 {
            text.replace("\"us-east-1\"", "\"eu-west-9\"")
        } else {
            text
        };
        previous = link(
            &previous,
            u64::try_from(sequence).unwrap(),
            &record_hash(text.as_bytes()),
        );
        sqlx::query("UPDATE audit_events SET record = $1, chain_hash = $2 WHERE account_id = $3 AND position = $4")
            .bind(&text)
            .bind(previous.to_string())
            .bind(A)
            .bind(position)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_chain_heads SET hash = $1 WHERE account_id = $2")
        .bind(previous.to_string())
        .bind(A)
        .execute(&mut conn)
        .await
        .unwrap();
    // The store goes on as if nothing happened.
    log.append(vec![record(A, 20)]).await.unwrap();
    log.sign_digests(key.clone(), None).await.unwrap();

    let chained = stored(&log, A).await;
    assert!(chained[4].event_id == records[4].event_id && chained.len() == 21);
    let report = verify(&log, A, &key).await;
    assert_eq!(kind(&report), Some(ProblemKind::DigestMismatch), "{report:?}");
    assert_eq!(
        report.problem.unwrap().sequence,
        Some(4),
        "somewhere after the last digest that holds"
    );
    assert_eq!(report.last_valid_digest.unwrap().chain_sequence, 3);
    assert_eq!(report.verified_through, 3);
    log.close().await;
}

/// A key is recorded once however often it is offered; keys come back oldest first.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn signing_keys_are_recorded_once_oldest_first() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    assert!(log.signing_keys().await.unwrap().is_empty());
    let (first, second, third) = (signer(), signer(), signer());
    let endorsed = first.endorse(second.public_key());
    let endorsed_again = second.endorse(third.public_key());
    log.record_signing_key(first.public_key().clone()).await.unwrap();
    log.record_signing_key(endorsed.clone()).await.unwrap();
    log.record_signing_key(first.public_key().clone()).await.unwrap();
    log.record_signing_key(endorsed.clone()).await.unwrap();
    log.record_signing_key(endorsed_again.clone()).await.unwrap();
    assert_eq!(
        log.signing_keys().await.unwrap(),
        [first.public_key().clone(), endorsed, endorsed_again]
    );
    // Another store on the same schema reads the same.
    let again = store(&schema).await;
    assert_eq!(again.signing_keys().await.unwrap().len(), 3);
    again.close().await;
    log.close().await;
}

/// Digests state the event stream heads they are given, and an account whose events advanced
/// while its records did not still gets one.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn digests_carry_the_event_heads_and_follow_event_only_advances() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    let key = signer();
    log.append((0..3).map(|n| record(A, n)).collect()).await.unwrap();
    let mut chain = iam_audit::integrity::EventChain::new(A);
    for sequence in 1..=4 {
        chain
            .extend(sequence, &record_hash(format!("event {sequence}").as_bytes()))
            .unwrap();
    }
    let heads = std::collections::HashMap::from([(A.to_owned(), chain.head())]);
    let first = log.sign_digests_with_events(key.clone(), None, &heads).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body.event_sequence, Some(4));
    assert_eq!(first[0].body.event_chain_hash, Some(chain.head().hash));
    // Nothing advanced: no digest.
    assert!(log
        .sign_digests_with_events(key.clone(), None, &heads)
        .await
        .unwrap()
        .is_empty());
    // Only the events advanced.
    chain.extend(5, &record_hash(b"event 5")).unwrap();
    let heads = std::collections::HashMap::from([(A.to_owned(), chain.head())]);
    let second = log
        .sign_digests_with_events(key.clone(), Some(A), &heads)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].body.chain_sequence, second[0].body.event_sequence),
        (3, Some(5))
    );
    let report = verify(&log, A, &key).await;
    assert!(report.intact, "{report:?}");
}

/// The digests of a chain read a page at a time are the digests.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (infra/postgres/start.sh)"]
async fn digest_pages_are_the_digests() {
    let schema = TestSchema::create().await;
    let log = store(&schema).await;
    iam_audit::conformance::digest_pages_are_the_digests(&log).await;
}
