//! The append lock's key: one per schema, so logs in different schemas of one database never wait
//! for each other.
//!
//! PostgreSQL's advisory locks live in one key space per database, not per schema, so a constant
//! key would make every log in the database (each test's schema, or several production logs
//! hosted side by side) take turns. The key is therefore derived from the schema name, and must
//! be derived identically by every process that appends to that schema, whatever its version,
//! platform or build: it is a contract between processes, like the table layout. Hence a fixed,
//! specified hash (64-bit FNV-1a) rather than `std`'s `DefaultHasher`, whose algorithm may
//! change between Rust releases. The name is hashed after a namespace prefix, so another part of
//! Gatehouse that one day keys a lock by schema name gets a different key.
//!
//! Correctness never depends on keys being distinct: two schemas whose keys collide (a chance of
//! 2^-64 for a pair) only serialize their appends together, as every schema did before.
//!
//! A log in the role's default schema (no schema configured) keeps [`APPEND_LOCK`], the key every
//! log used before keys were per schema, so replicas of an older version and of this one
//! appending to that log at the same time (a rolling upgrade) still exclude each other. A log in
//! a named schema must not be appended to by an older version and this one at the same time.

/// The append lock's key for a log in the role's default schema: the ASCII bytes of `gh:event`.
/// It was once the key of every log, whatever its schema.
pub const APPEND_LOCK: i64 = i64::from_be_bytes(*b"gh:event");

/// Hashed before the schema name.
const NAMESPACE: &[u8] = b"gatehouse/eventlog/append/";

/// The advisory-lock key (`pg_advisory_xact_lock`) appends to the log in `schema` take; `None` is
/// the role's default schema.
#[must_use]
pub fn append_lock_key(schema: Option<&str>) -> i64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let Some(schema) = schema else {
        return APPEND_LOCK;
    };
    let hash = NAMESPACE
        .iter()
        .chain(schema.as_bytes())
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME));
    i64::from_be_bytes(hash.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::{append_lock_key, APPEND_LOCK};

    #[test]
    fn keys_are_frozen() {
        // Every process appending to a schema must compute the same key: these values may never
        // change (a change would let an old and a new replica append at once).
        assert_eq!(APPEND_LOCK, 0x6768_3a65_7665_6e74);
        assert_eq!(append_lock_key(None), APPEND_LOCK);
        assert_eq!(append_lock_key(Some("gatehouse")), 792_396_775_995_312_456);
        assert_eq!(append_lock_key(Some("gh_test_0123abcd")), 3_331_518_176_580_748_046);
    }

    #[test]
    fn schemas_get_different_keys() {
        let keys: std::collections::HashSet<i64> = ["a", "b", "gatehouse", "gatehouse2", "public"]
            .into_iter()
            .map(|s| append_lock_key(Some(s)))
            .chain([APPEND_LOCK])
            .collect();
        assert_eq!(keys.len(), 6);
    }
}
