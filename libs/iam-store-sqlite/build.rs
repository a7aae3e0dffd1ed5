//! `sqlx::migrate!` embeds the migration files at compile time; a new or changed file must
//! rebuild the crate even when no Rust source changed.
fn main() {
    for dir in ["eventlog", "audit", "audit_index"] {
        println!("cargo:rerun-if-changed=../../schema/migrations/sqlite/{dir}");
    }
}
