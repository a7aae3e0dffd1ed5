//! Tamper evidence of the audit history (see `iam_audit::integrity`): the process's signing key,
//! digests signed on demand and at an interval, and what a verifier reads (each account's
//! records in storage order with their links, its digests, the published keys).
//!
//! Reading the chain is reading the history: the edges authorize it as `auditEvents`
//! (`cloudtrail:LookupEvents` on the account, or the organization's central view).

use std::collections::HashMap;
use std::sync::Arc;

use iam_audit::integrity::{record_hash, AuditSigner, ChainLink, Digest, EventChain, PublicKey};
use iam_audit::{AuditLog, ChainPage};
use iam_types::ErrorCode;

use crate::{audit_read_error, AppError, Gatehouse};

/// The most records one page of a chain holds.
pub const MAX_CHAIN_PAGE: usize = 5_000;

/// Events read from the log per step while extending a chain.
const EVENT_BATCH: u32 = 1_000;

/// Each account's event chain as far as computed; one digest run at a time extends them.
#[derive(Default)]
pub(crate) struct EventChains(tokio::sync::Mutex<HashMap<String, EventChain>>);

/// SHA-256 of an event as the log reads it back: its envelope's JSON.
fn event_hash(envelope: &iam_eventlog::EventEnvelope) -> [u8; 32] {
    record_hash(&serde_json::to_vec(envelope).unwrap_or_default())
}

impl Gatehouse {
    /// The same service, signing the audit history's digests with `signer`.
    #[must_use]
    pub fn with_audit_signer(mut self, signer: Arc<AuditSigner>) -> Self {
        self.audit_signer = Some(signer);
        self
    }

    /// The key that signs digests, when this process signs them.
    pub fn audit_signer(&self) -> Option<&Arc<AuditSigner>> {
        self.audit_signer.as_ref()
    }

    fn chained_log(&self) -> Result<&Arc<dyn AuditLog>, AppError> {
        self.audit
            .as_ref()
            .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "no audit log is configured"))
    }

    /// Signs the next digest of every account whose chain advanced since its last one, or of
    /// `account_id` alone; answers with the digests made (none when nothing advanced).
    ///
    /// # Errors
    /// `ServiceFailure` when this process has no signing key or the log cannot sign.
    pub async fn sign_audit_digests(&self, account_id: Option<&str>) -> Result<Vec<Digest>, AppError> {
        let signer = self.audit_signer.clone().ok_or_else(|| {
            AppError::new(
                ErrorCode::ServiceFailure,
                "this process signs no audit digests (it has no audit signing key)",
            )
        })?;
        let event_heads = self.event_heads().await?;
        self.chained_log()?
            .sign_digests_with_events(signer, account_id, &event_heads)
            .await
            .map_err(audit_read_error)
    }

    /// The head of every account's event stream chain, extended from the log to the account's
    /// current sequence (only the events since the last call are read).
    ///
    /// # Errors
    /// `ServiceFailure` when the log cannot be read or a stream is not gapless.
    pub async fn event_heads(&self) -> Result<HashMap<String, ChainLink>, AppError> {
        let mut chains = self.event_chains.0.lock().await;
        let mut heads = HashMap::new();
        for account_id in self.account_ids() {
            let current = self.account(&account_id).map_or(0, |model| model.state().version());
            let chain = chains
                .entry(account_id.clone())
                .or_insert_with(|| EventChain::new(&account_id));
            while chain.head().sequence < current {
                let events = self
                    .store
                    .read_stream(&account_id, chain.head().sequence + 1, EVENT_BATCH)
                    .await
                    .map_err(crate::store_error)?;
                if events.is_empty() {
                    break;
                }
                for envelope in &events {
                    chain
                        .extend(envelope.sequence, &event_hash(envelope))
                        .map_err(|expected| {
                            AppError::new(
                                ErrorCode::ServiceFailure,
                                format!(
                                    "the event log of {account_id} is not gapless: event {} where {expected} belongs",
                                    envelope.sequence
                                ),
                            )
                        })?;
                }
            }
            if chain.head().sequence > 0 {
                heads.insert(account_id, chain.head());
            }
        }
        Ok(heads)
    }

    /// Up to `first` events of an account's stream after sequence `after`, each as its sequence
    /// and the SHA-256 of its envelope's JSON as the log reads it now: what a verifier checks
    /// against the event heads the digests signed. The events themselves are not disclosed.
    ///
    /// # Errors
    /// `ServiceFailure` when the log cannot be read.
    pub async fn event_chain(
        &self,
        account_id: &str,
        after: u64,
        first: u32,
    ) -> Result<Vec<(u64, [u8; 32])>, AppError> {
        let events = self
            .store
            .read_stream(account_id, after + 1, first.clamp(1, 10_000))
            .await
            .map_err(crate::store_error)?;
        Ok(events.iter().map(|e| (e.sequence, event_hash(e))).collect())
    }

    /// One page of an account's records in storage order with their links, after position
    /// `after`; the caller has been authorized to read the account's history.
    ///
    /// # Errors
    /// As the audit log's `chain`.
    pub async fn audit_chain(&self, account_id: &str, after: Option<u64>, first: usize) -> Result<ChainPage, AppError> {
        self.chained_log()?
            .chain(account_id, after, first.clamp(1, MAX_CHAIN_PAGE))
            .await
            .map_err(audit_read_error)
    }

    /// An account's digests, in the order they were made.
    ///
    /// # Errors
    /// As the audit log's `digests`.
    pub async fn audit_digests(&self, account_id: &str) -> Result<Vec<Digest>, AppError> {
        self.chained_log()?.digests(account_id).await.map_err(audit_read_error)
    }

    /// A page of an account's signed digests: at most `limit` after the cursor `after`, and the
    /// cursor of the next page.
    ///
    /// # Errors
    /// As the audit log's `digest_page`.
    pub async fn audit_digest_page(
        &self,
        account_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Digest>, Option<u64>), AppError> {
        self.chained_log()?
            .digest_page(account_id, after, limit)
            .await
            .map_err(audit_read_error)
    }

    /// Every signing key recorded in the log, oldest first: public, published at the gateway's
    /// well-known route.
    ///
    /// # Errors
    /// As the audit log's `signing_keys`.
    pub async fn audit_signing_keys(&self) -> Result<Vec<PublicKey>, AppError> {
        self.chained_log()?.signing_keys().await.map_err(audit_read_error)
    }
}
