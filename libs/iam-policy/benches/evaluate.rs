//! Criterion benchmarks of policy evaluation (being written).
fn main() {}
