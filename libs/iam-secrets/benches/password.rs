//! Criterion benchmarks of password hashing at the production parameters (argon2id, 19 MiB,
//! 2 passes, 1 lane): hashing a new password (`CreateLoginProfile`, `ChangePassword`), and
//! verifying one, right or wrong (every `POST /v1/signin` does exactly one verification, on one
//! core). One verification's time is therefore the bound on one core's sign-ins per second.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, Criterion};
use iam_secrets::password::{hash_password, verify_password, Password, ITERATIONS, MEMORY_KIB, PARALLELISM};

fn password(c: &mut Criterion) {
    let right = Password::new("Lt-signin-7f3a9c2e-Passw0rd!");
    let wrong = Password::new("Lt-signin-7f3a9c2e-Passw0rd?");
    let salt = [0x42; 16];
    let hash = hash_password(&right, &salt).expect("hashes");
    assert!(hash.starts_with(&format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$"
    )));
    assert!(verify_password(&right, &hash));
    assert!(!verify_password(&wrong, &hash));

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    // Tens of milliseconds an iteration: fewer samples than criterion's 100, over a longer time.
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("hash", |b| {
        b.iter(|| hash_password(black_box(&right), black_box(&salt)).expect("hashes"))
    });
    group.bench_function("verify_right", |b| {
        b.iter(|| assert!(verify_password(black_box(&right), black_box(&hash))))
    });
    group.bench_function("verify_wrong", |b| {
        b.iter(|| assert!(!verify_password(black_box(&wrong), black_box(&hash))))
    });
    group.finish();
}

/// The benchmark group; a module so the `pub fn` the macro generates may go undocumented.
#[allow(missing_docs)]
mod group {
    use super::password;
    criterion::criterion_group!(benches, password);
}

criterion_main!(group::benches);
