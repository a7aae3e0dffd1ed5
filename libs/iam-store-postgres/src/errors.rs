//! Maps sqlx and PostgreSQL failures onto the port's [`StoreError`], by SQLSTATE: what a retry
//! may cure (lost connections, lock and statement timeouts, shutdowns, resource shortages, pool
//! exhaustion) becomes `Unavailable`; input the server cannot store becomes `InvalidAppend`;
//! everything else `Internal`. Constraint violations that mean a domain outcome (a taken claim,
//! a reused event id) are recognised by constraint name in `store.rs`, not here.

use iam_eventlog::StoreError;

/// The SQLSTATE of `error`, if PostgreSQL reported it.
pub(crate) fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// The violated constraint's name, if `error` is PostgreSQL reporting a unique violation.
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<&str> {
    let db = error.as_database_error()?;
    if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
        db.constraint()
    } else {
        None
    }
}

/// Whether a retry of the same operation may succeed.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(_) => sqlstate(error).is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources (disk full, out of memory,
            // too many connections); 57P0x: the server is shutting down or starting.
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(
                    code.as_str(),
                    "40001" // serialization_failure
                        | "40P01" // deadlock_detected
                        | "55P03" // lock_not_available: lock_timeout passed
                        | "57014" // query_canceled: statement_timeout passed
                        | "57P01" // admin_shutdown
                        | "57P02" // crash_shutdown
                        | "57P03" // cannot_connect_now
                        | "25P03" // idle_in_transaction_session_timeout
                )
        }),
        _ => false,
    }
}

/// Maps an unexpected sqlx error; `context` says what was being done.
pub(crate) fn backend(context: &str, error: &sqlx::Error) -> StoreError {
    let message = format!("{context}: {error}");
    if is_transient(error) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Internal(message)
    }
}

/// Maps an error of a statement that writes the caller's data: what PostgreSQL refuses to store
/// although SQLite would (a NUL character in text or JSON, an oversized claim key) is the
/// caller's input, not a backend failure.
pub(crate) fn writing(context: &str, error: &sqlx::Error) -> StoreError {
    match sqlstate(error).as_deref() {
        // character_not_in_repertoire (NUL in text), untranslatable_character (\u0000 in
        // JSONB), program_limit_exceeded (an index row too large: a huge claim key).
        Some("22021" | "22P05" | "54000") => {
            let reason = error
                .as_database_error()
                .map_or_else(|| error.to_string(), |db| db.message().to_owned());
            StoreError::InvalidAppend(format!("{context}: PostgreSQL cannot store it: {reason}"))
        }
        _ => backend(context, error),
    }
}

/// Maps a migration failure at connect.
pub(crate) fn migration(error: &sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(inner) => backend("migrating the event log", inner),
        other => StoreError::Internal(format!("migrating the event log: {other}")),
    }
}
