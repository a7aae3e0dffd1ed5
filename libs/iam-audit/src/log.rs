//! The [`AuditLog`] port: append durably, then query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::sync::Arc;

use crate::integrity::{AuditSigner, ChainLink, Digest, PublicKey};
use crate::record::{AuditRecord, EncodedRecord, EventKey};

/// An audit-log failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The log could not make records durable or could not be read.
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// A cursor or filter is malformed.
    #[error("invalid audit query: {0}")]
    Invalid(String),
}

/// What to select: the records of one account, or of one organization's trail.
///
/// Without `organization_id` a query covers `account_id`'s records (tenants never see each
/// other's history; an empty `account_id` selects nothing). With it, the query covers the
/// organization trail: every record written while its account was a member of the organization
/// (`additionalEventData.organizationId`, see [`crate::AuditRecord::organization_id`]), narrowed
/// to `account_id` when that is not empty. Who may read a trail is the caller's to decide: the
/// organization's management account and its delegated administrators.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The account; required unless `organization_id` is set, where empty means every member.
    pub account_id: String,
    /// The organization whose trail to read.
    pub organization_id: Option<String>,
    /// Records at or after.
    pub from: Option<DateTime<Utc>>,
    /// Records before.
    pub to: Option<DateTime<Utc>>,
    /// `userIdentity.arn`: the caller.
    pub principal_arn: Option<String>,
    /// The principal a record is about ([`AuditRecord::decided_principal_arn`]): for a decision,
    /// the principal decided on, where `principal_arn` is the application that asked.
    pub decided_principal_arn: Option<String>,
    /// `eventID`, a UUID ([`AuditFilter::event_key`]): one record at most, within the account
    /// or trail like any other filter.
    pub event_id: Option<String>,
    /// `eventName`.
    pub event_name: Option<String>,
    /// `eventSource`.
    pub event_source: Option<String>,
    /// The action decided or called (`s3:GetObject`, `iam:CreateUser`).
    pub action: Option<String>,
    /// The resource decided or touched.
    pub resource_arn: Option<String>,
    /// `Allow`, `ImplicitDeny`, `ExplicitDeny`.
    pub decision: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
}

impl AuditFilter {
    /// `event_id` as the key records are found by (either case names the same record).
    ///
    /// # Errors
    /// [`AuditError::Invalid`] if it is not a UUID.
    pub fn event_key(&self) -> Result<Option<EventKey>, AuditError> {
        self.event_id
            .as_deref()
            .map(|id| {
                EventKey::parse(id)
                    .ok_or_else(|| AuditError::Invalid(format!("{id:?} is not an eventID: expected a UUID")))
            })
            .transpose()
    }
}

/// A field to count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// `eventName`.
    EventName,
    /// `eventSource`.
    EventSource,
    /// `userIdentity.arn`.
    PrincipalArn,
    /// The decision.
    Decision,
    /// `errorCode`.
    ErrorCode,
    /// The action.
    Action,
}

/// One page of records, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// `(cursor, record)`, newest first.
    pub records: Vec<(String, AuditRecord)>,
    /// Whether older records match.
    pub has_next_page: bool,
}

/// One record as stored, with its place in its account's hash chain.
#[derive(Debug, Clone)]
pub struct ChainedRecord {
    /// The store's position of the record (its storage order).
    pub position: u64,
    /// Its link; `None` for a record stored before chains began.
    pub link: Option<ChainLink>,
    /// The record's CloudTrail JSON, byte for byte as stored.
    pub json: Vec<u8>,
}

/// A page of one account's records in storage order.
#[derive(Debug, Clone, Default)]
pub struct ChainPage {
    /// The records, oldest first.
    pub records: Vec<ChainedRecord>,
    /// The position to continue after, when more may follow.
    pub next: Option<u64>,
}

fn no_chain() -> AuditError {
    AuditError::Unavailable("this audit store keeps no hash chain".into())
}

/// The audit history of every account.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends records; returns once they are durable (survive kill -9 of the process).
    ///
    /// # Errors
    /// [`AuditError::Unavailable`]: the records are not durable and the caller must not act as if
    /// they were (a decision is then not returned as allowed).
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), AuditError>;

    /// [`AuditLog::append`] for records already encoded (the decision path's). Stores that keep
    /// JSON take the bytes as they are; the default decodes them for [`AuditLog::append`].
    ///
    /// # Errors
    /// As [`AuditLog::append`]; [`AuditError::Invalid`] if a record's JSON is not a record.
    async fn append_encoded(&self, records: Vec<EncodedRecord>) -> Result<(), AuditError> {
        let decoded = records
            .iter()
            .map(|record| serde_json::from_slice(&record.json))
            .collect::<Result<Vec<AuditRecord>, _>>()
            .map_err(|e| AuditError::Invalid(format!("an encoded audit record is not a record: {e}")))?;
        self.append(decoded).await
    }

    /// Records matching `filter`, newest first, `first` at most, older than the cursor `after`.
    ///
    /// # Errors
    /// [`AuditError::Invalid`] for a malformed cursor or `event_id`; a backend failure.
    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError>;

    /// How many records match `filter`, grouped by `group_by` (`None` is the group of records
    /// without that field), largest group first.
    ///
    /// # Errors
    /// [`AuditError::Invalid`] for a malformed `event_id`; a backend failure.
    async fn count_by(&self, filter: &AuditFilter, group_by: GroupBy)
        -> Result<Vec<(Option<String>, u64)>, AuditError>;

    /// Whether the log accepts appends now (a readiness probe: the writer runs, the broker
    /// answers). The default says yes.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`], saying why appends would fail.
    async fn ready(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// One account's records in storage order, after position `after`, `first` at most, each
    /// with its chain link (see [`crate::integrity`]): what a verifier reads. The store extends
    /// each account's chain as it stores records, in the order it stores them.
    ///
    /// # Errors
    /// A backend failure; [`AuditError::Unavailable`] for a store that keeps no chain.
    async fn chain(&self, account_id: &str, after: Option<u64>, first: usize) -> Result<ChainPage, AuditError> {
        let _ = (account_id, after, first);
        Err(no_chain())
    }

    /// Signs, with `signer`, a digest of every account whose chain advanced since its last
    /// digest (or of `account_id` alone), stores them and returns them.
    ///
    /// # Errors
    /// A backend failure; [`AuditError::Unavailable`] for a store that keeps no chain.
    async fn sign_digests(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
    ) -> Result<Vec<Digest>, AuditError> {
        let _ = (signer, account_id);
        Err(no_chain())
    }

    /// [`AuditLog::sign_digests`], each digest also stating the account's event stream head
    /// from `event_heads` (see [`crate::integrity::EventChain`]), and made when either chain
    /// advanced. The default ignores the event heads.
    ///
    /// # Errors
    /// As [`AuditLog::sign_digests`].
    async fn sign_digests_with_events(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
        event_heads: &std::collections::HashMap<String, ChainLink>,
    ) -> Result<Vec<Digest>, AuditError> {
        let _ = event_heads;
        self.sign_digests(signer, account_id).await
    }

    /// An account's digests, in the order they were stored.
    ///
    /// # Errors
    /// A backend failure; [`AuditError::Unavailable`] for a store that keeps no chain.
    async fn digests(&self, account_id: &str) -> Result<Vec<Digest>, AuditError> {
        let _ = account_id;
        Err(no_chain())
    }

    /// A page of an account's digests in the order they were stored: at most `limit` after the
    /// cursor `after` (a position of this store), and the cursor to continue from, `None` on the
    /// last page. The default pages [`AuditLog::digests`]; stores with an index seek instead.
    ///
    /// # Errors
    /// As [`AuditLog::digests`].
    async fn digest_page(
        &self,
        account_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Digest>, Option<u64>), AuditError> {
        let all = self.digests(account_id).await?;
        let total = all.len();
        let start = after.map_or(0, |a| usize::try_from(a).unwrap_or(usize::MAX)).min(total);
        let page: Vec<Digest> = all.into_iter().skip(start).take(limit).collect();
        let end = start + page.len();
        Ok((page, (end < total).then(|| u64::try_from(end).unwrap_or(u64::MAX))))
    }

    /// Records a signing key (the first, or one endorsed by the key it replaces) in the log,
    /// once: a key already recorded is not recorded again.
    ///
    /// # Errors
    /// A backend failure; [`AuditError::Unavailable`] for a store that keeps no chain.
    async fn record_signing_key(&self, key: PublicKey) -> Result<(), AuditError> {
        let _ = key;
        Err(no_chain())
    }

    /// Every signing key recorded, oldest first.
    ///
    /// # Errors
    /// A backend failure; [`AuditError::Unavailable`] for a store that keeps no chain.
    async fn signing_keys(&self) -> Result<Vec<PublicKey>, AuditError> {
        Err(no_chain())
    }

    /// Records appended but not yet queryable (an index behind its log, messages a producer has
    /// not had acknowledged), when the store can tell.
    fn backlog(&self) -> Option<u64> {
        None
    }
}

/// One page out of `rows` read one past the page's `limit`, each with its position: the page's
/// items, and the position to continue after when more follow.
pub fn page_after<T>(mut rows: Vec<(u64, T)>, limit: usize) -> (Vec<T>, Option<u64>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = rows.last().filter(|_| more).map(|(position, _)| *position);
    (rows.into_iter().map(|(_, item)| item).collect(), next)
}
