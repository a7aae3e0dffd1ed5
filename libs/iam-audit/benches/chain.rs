//! What tamper evidence costs per record: the store's writer extends the account's chain
//! (`ChainHeads::append`: SHA-256 of the record, then of the link) for every record it writes,
//! and a digest is one Ed25519 signature per account whose chain advanced.
//!
//! `cargo bench -p iam-audit --bench chain`
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use iam_audit::conformance::record;
use iam_audit::integrity::{next_digest, AuditSigner, ChainHeads};

fn chain(c: &mut Criterion) {
    // A decision record as the decision path writes it (the conformance suite's shape).
    let json = serde_json::to_vec(&record("111122223333", 7)).unwrap();
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Bytes(json.len() as u64));
    let mut heads = ChainHeads::new();
    group.bench_function(format!("append one {}-byte record", json.len()), |b| {
        b.iter(|| heads.append(black_box("111122223333"), black_box(&json)))
    });
    group.finish();
    let signer = AuditSigner::generate("2026-12-07T00:00:00Z").unwrap().0;
    let head = heads.get("111122223333").unwrap();
    c.bench_function("digest: sign one account's head", |b| {
        b.iter(|| next_digest(&signer, black_box("111122223333"), head, None, chrono::Utc::now()))
    });
}

criterion_group!(benches, chain);
criterion_main!(benches);
