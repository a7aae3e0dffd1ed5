//! Tamper evidence of the audit history (`iam_audit::integrity`): what `iamctl audit verify`
//! reads (an account's records in storage order with their chain links, its signed digests, the
//! signing keys) and a digest on demand. Reading is authorized as `auditEvents` is
//! (`cloudtrail:LookupEvents` on the account, or the organization's central view); signing a
//! digest on demand needs `gatehouse:CreateAuditDigest` as well.

use async_graphql::{Context, Object, Result, SimpleObject};
use iam_types::ErrorCode;

use crate::error::{aws_error, from_app};
use crate::guard::Scope;
use crate::history::readable_history;

/// One record as stored, with its place in its account's chain.
#[derive(SimpleObject)]
pub(crate) struct AuditChainRecord {
    /// The store's position (storage order), as a decimal string.
    position: String,
    /// The record's sequence in its account's chain (1 first); null for a record stored before
    /// chains began.
    sequence: Option<String>,
    /// The chain's SHA-256 through this record, hex.
    hash: Option<String>,
    /// The record's CloudTrail JSON, byte for byte as stored (the chain is over these bytes).
    record: String,
}

/// A page of an account's records in storage order.
#[derive(SimpleObject)]
pub(crate) struct AuditChainPage {
    /// The records, oldest first.
    records: Vec<AuditChainRecord>,
    /// Pass as `after` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// A page of an account's signed digests.
#[derive(SimpleObject)]
pub(crate) struct AuditDigestPage {
    /// The digests, oldest first, each as its JSON.
    digests: Vec<String>,
    /// Pass as `after` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// One event of an account's stream, as a verifier sees it: not the event, its hash.
#[derive(SimpleObject)]
pub(crate) struct EventChainEntry {
    /// The event's sequence in the stream, as a decimal string.
    sequence: String,
    /// SHA-256 of the event's envelope JSON as the log reads it now, hex.
    event_hash: String,
}

#[derive(Default)]
pub(crate) struct IntegrityQuery;

#[Object]
impl IntegrityQuery {
    /// An account's audit records in the order they were stored, each with its chain link, for a
    /// verifier (`iamctl audit verify`). At most `first` (1,000 by default, 5,000 at most) per
    /// page; continue with `after` (`nextCursor`).
    #[graphql(complexity = 1000)]
    async fn audit_chain(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<AuditChainPage> {
        let (scope, history, _) = readable_history(ctx, account_id, false).await?;
        let after = after
            .map(|cursor| {
                cursor.parse::<u64>().map_err(|_| {
                    aws_error(
                        ErrorCode::InvalidInput,
                        format!("{cursor:?} is not a cursor from auditChain"),
                    )
                })
            })
            .transpose()?;
        let first = first.map_or(1_000, |n| n.clamp(1, 5_000)) as usize;
        let page = scope
            .gatehouse
            .audit_chain(&history.account_id, after, first)
            .await
            .map_err(from_app)?;
        let records = page
            .records
            .into_iter()
            .map(|record| AuditChainRecord {
                position: record.position.to_string(),
                sequence: record.link.map(|l| l.sequence.to_string()),
                hash: record.link.map(|l| l.hash.to_string()),
                record: String::from_utf8_lossy(&record.json).into_owned(),
            })
            .collect();
        Ok(AuditChainPage {
            records,
            next_cursor: page.next.map(|p| p.to_string()),
        })
    }

    /// An account's event stream, each event as its sequence and the hash of its envelope as the
    /// log reads it now (the events themselves are not disclosed): what `iamctl audit verify`
    /// checks against the event heads the digests signed. At most `first` (5,000 by default,
    /// 10,000 at most) after sequence `after`.
    #[graphql(complexity = 1000)]
    async fn event_chain(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<Vec<EventChainEntry>> {
        let (scope, history, _) = readable_history(ctx, account_id, false).await?;
        let after = match after {
            None => 0,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| aws_error(ErrorCode::InvalidInput, format!("{text:?} is not an event sequence")))?,
        };
        let first = first.map_or(5_000, |n| n.clamp(1, 10_000)) as u32;
        let events = scope
            .gatehouse
            .event_chain(&history.account_id, after, first)
            .await
            .map_err(from_app)?;
        Ok(events
            .into_iter()
            .map(|(sequence, hash)| EventChainEntry {
                sequence: sequence.to_string(),
                event_hash: hex::encode(hash),
            })
            .collect())
    }

    /// An account's signed digests, in the order they were made, each as its JSON. At most
    /// `first` (1,000 by default, 5,000 at most) per page; continue with `after` (`nextCursor`).
    #[graphql(complexity = 1000)]
    async fn audit_digests(
        &self,
        ctx: &Context<'_>,
        account_id: Option<String>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<AuditDigestPage> {
        let (scope, history, _) = readable_history(ctx, account_id, false).await?;
        let after = after
            .map(|cursor| {
                cursor.parse::<u64>().map_err(|_| {
                    aws_error(
                        ErrorCode::InvalidInput,
                        format!("{cursor:?} is not a cursor from auditDigests"),
                    )
                })
            })
            .transpose()?;
        let first = first.map_or(1_000, |n| n.clamp(1, 5_000)) as usize;
        let (digests, next) = scope
            .gatehouse
            .audit_digest_page(&history.account_id, after, first)
            .await
            .map_err(from_app)?;
        Ok(AuditDigestPage {
            digests: digests
                .iter()
                .map(|d| serde_json::to_string(d).map_err(Into::into))
                .collect::<Result<_>>()?,
            next_cursor: next.map(|n| n.to_string()),
        })
    }

    /// Every key that signed (or signs) digests, oldest first, each as its JSON (also served
    /// without signing in at `/.well-known/gatehouse/audit-signing-keys`).
    async fn audit_signing_keys(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let scope = Scope::of(ctx)?;
        let keys = scope.gatehouse.audit_signing_keys().await.map_err(from_app)?;
        keys.iter()
            .map(|k| serde_json::to_string(k).map_err(Into::into))
            .collect()
    }
}

#[derive(Default)]
pub(crate) struct IntegrityMutation;

#[Object]
impl IntegrityMutation {
    /// Signs a digest of the account's audit chain now (none when nothing was stored since its
    /// last digest) and answers with the digests made, each as its JSON. Needs
    /// `gatehouse:CreateAuditDigest` besides what reading the history needs.
    async fn create_audit_digest(&self, ctx: &Context<'_>, account_id: Option<String>) -> Result<Vec<String>> {
        let (scope, history, _) = readable_history(ctx, account_id, false).await?;
        scope.authorize("gatehouse:CreateAuditDigest", "*")?;
        let digests = scope
            .gatehouse
            .sign_audit_digests(Some(&history.account_id))
            .await
            .map_err(from_app)?;
        digests
            .iter()
            .map(|d| serde_json::to_string(d).map_err(Into::into))
            .collect()
    }
}
