//! Maps sqlx and rusqlite failures onto the port's [`StoreError`]: transient ones (busy, locked,
//! pool exhausted, I/O) become `Unavailable`, everything else `Internal`.

use iam_eventlog::StoreError;

/// SQLite primary result codes (the low byte of an extended code) that a retry may cure.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

/// Whether a SQLite result code (primary or extended) is one a retry may cure.
fn is_transient_code(code: i64) -> bool {
    matches!(
        code & 0xff,
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
    )
}

fn store_error(context: &str, error: &dyn std::fmt::Display, transient: bool) -> StoreError {
    let message = format!("{context}: {error}");
    if transient {
        StoreError::Unavailable(message)
    } else {
        StoreError::Internal(message)
    }
}

/// Maps an unexpected sqlx error; `context` says what was being done.
pub(crate) fn backend(context: &str, error: &sqlx::Error) -> StoreError {
    let transient = match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(is_transient_code),
        _ => false,
    };
    store_error(context, error, transient)
}

/// Whether `error` is SQLite (through rusqlite) reporting a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    // SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE.
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::ConstraintViolation && matches!(failure.extended_code, 1555 | 2067))
}

/// Maps an unexpected rusqlite error, as [`backend`] does sqlx's.
pub(crate) fn sqlite_backend(context: &str, error: &rusqlite::Error) -> StoreError {
    let transient = matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if is_transient_code(i64::from(failure.extended_code)));
    store_error(context, error, transient)
}

/// Maps a migration failure at open.
pub(crate) fn migration(error: &sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(inner) => backend("migrating the event log", inner),
        other => StoreError::Internal(format!("migrating the event log: {other}")),
    }
}
