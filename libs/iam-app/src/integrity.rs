//! Tamper evidence of the audit history (see `iam_audit::integrity`): the process's signing key,
//! digests signed on demand and at an interval, and what a verifier reads (each account's
//! records in storage order with their links, its digests, the published keys).
//!
//! Reading the chain is reading the history: the edges authorize it as `auditEvents`
//! (`cloudtrail:LookupEvents` on the account, or the organization's central view).

use std::sync::Arc;

use iam_audit::integrity::{AuditSigner, Digest, PublicKey};
use iam_audit::{AuditLog, ChainPage};
use iam_types::ErrorCode;

use crate::{audit_read_error, AppError, Gatehouse};

/// The most records one page of a chain holds.
pub const MAX_CHAIN_PAGE: usize = 5_000;

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
        self.chained_log()?
            .sign_digests(signer, account_id)
            .await
            .map_err(audit_read_error)
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

    /// Every signing key recorded in the log, oldest first: public, published at the gateway's
    /// well-known route.
    ///
    /// # Errors
    /// As the audit log's `signing_keys`.
    pub async fn audit_signing_keys(&self) -> Result<Vec<PublicKey>, AppError> {
        self.chained_log()?.signing_keys().await.map_err(audit_read_error)
    }
}
