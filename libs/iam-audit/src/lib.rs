//! The audit history: every access decision and every management call becomes one record in
//! CloudTrail's shape, appended durably to the account's audit log before the caller gets an
//! answer, and queryable by the fields compliance teams filter on.
//!
//! Codemap:
//! - [`record`]: [`AuditRecord`] (CloudTrail's field names) and the fields it is indexed by.
//! - [`redact`]: removal of secrets from request and response elements before they are recorded.
//! - [`integrity`]: tamper evidence: each account's hash chain, signed digests, their keys and
//!   the verification that names the first record edited, deleted, inserted or reordered.
//! - [`log`]: the [`AuditLog`] port (append durably, query newest first, count, export) and its
//!   filter and page types.
//! - `conformance` (feature `conformance`): the suite every [`AuditLog`] store runs and the
//!   `audit_log_conformance_tests!` macro.
//!
//! Invariants: a record belongs to exactly one account (`recipientAccountId`) and, when that
//! account was a member of an organization as the record was written, to that organization's
//! trail (`additionalEventData.organizationId`, never changed afterwards); no secret ever enters a
//! record; an append returns only once the records are durable.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod integrity;
pub mod log;
pub mod record;
pub mod redact;

pub use log::{AuditError, AuditFilter, AuditLog, AuditPage, ChainPage, ChainedRecord, GroupBy};
pub use record::{
    encode_all, AuditFields, AuditRecord, DecisionDetail, EncodedRecord, EventKey, PolicyRef, UserIdentity,
    EVENT_SOURCE_AUTHZ, EVENT_SOURCE_IAM, EVENT_SOURCE_ORGANIZATIONS, ORGANIZATION_ID_KEY,
};
pub use redact::redact_secrets;
