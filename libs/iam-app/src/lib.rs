//! Gatehouse's use cases over the event log: every account's state is loaded from its stream,
//! commands are decided against it (`iam-domain`) and appended with the expected per-account
//! sequence and the unique-name claims they imply, and the in-memory evaluation model
//! (`iam-authz`) is swapped for the new state after each commit.
//!
//! Writes to one account are serialized inside the process; across processes the store's
//! optimistic check (expected sequence) and unique claims keep them consistent, and a conflict
//! is retried against the fresh state.

pub mod access;
pub mod auth_failures;
pub mod credential_report;
pub mod credentials;
mod decision_record;
pub mod history;
pub mod integrity;
pub mod management;
pub mod metrics;
pub mod organizations;
pub mod permission_diff;
pub mod preview;
pub mod replay;
pub mod service_last_accessed;
pub mod signin;
pub mod simulation;
pub mod sts;
pub mod usage;
pub mod web_identity;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use iam_authz::AccountModel;
use iam_domain::{
    decide, evolve, AccessKeyOwner, AccountState, Command, DecideContext, DomainError, DomainEvent, NameClaim,
};
use iam_eventlog::{ClaimChange, EventStore, NewEvent, StoreError, UniqueClaim};
use iam_secrets::Sealer;
use iam_types::{AccountId, ErrorCode, IdKind, UniqueId};
use rand::RngCore;
use zeroize::Zeroizing;

/// A failed use case, with the AWS error code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// AWS's error code.
    pub code: ErrorCode,
    /// A message a person can act on.
    pub message: String,
    /// For an authorization failure: the decision's detail, which the answer carries encoded
    /// (`DecodeAuthorizationMessage` reads it) and the record leaves out.
    pub denial: Option<Box<serde_json::Value>>,
}

impl AppError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
            denial: None,
        }
    }

    /// The error with an authorization failure's detail.
    #[must_use]
    pub fn with_denial(mut self, denial: serde_json::Value) -> Self {
        self.denial = Some(Box::new(denial));
        self
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError::new(e.code(), e.message())
    }
}

/// A failed read of the audit history, in the API's vocabulary (a malformed cursor or filter is
/// the caller's `InvalidInput`).
pub(crate) fn audit_read_error(e: iam_audit::AuditError) -> AppError {
    match e {
        iam_audit::AuditError::Invalid(m) => AppError::new(ErrorCode::InvalidInput, m),
        other => AppError::new(ErrorCode::ServiceFailure, other.to_string()),
    }
}

fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::UniqueViolation { scope, key } => AppError::new(
            ErrorCode::EntityAlreadyExists,
            format!("an entity of kind {scope} named {key} already exists"),
        ),
        StoreError::Conflict { .. } => AppError::new(
            ErrorCode::ConcurrentModification,
            "the account changed concurrently; retry the request",
        ),
        other => AppError::new(ErrorCode::ServiceFailure, format!("the event log failed: {other}")),
    }
}

/// Who asks, and under which request id.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The caller's ARN.
    pub arn: String,
    /// The request id of the call.
    pub request_id: String,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The events it appended (none for an idempotent no-op).
    pub events: Vec<DomainEvent>,
    /// The account's sequence after the command: a consistency token.
    pub sequence: u64,
    /// The account's model after the command.
    pub model: Arc<AccountModel>,
}

/// A new access key, whose secret is shown once.
pub struct NewAccessKey {
    /// What the command did.
    pub executed: Executed,
    /// The key id.
    pub access_key_id: String,
    /// The secret, for the caller's eyes only.
    pub secret_access_key: Zeroizing<String>,
}

struct AccountSlot {
    model: RwLock<Arc<AccountModel>>,
    writer: tokio::sync::Mutex<()>,
}

/// The service: accounts in memory, kept equal to the log.
pub struct Gatehouse {
    store: Arc<dyn EventStore>,
    sealer: Sealer,
    accounts: RwLock<HashMap<String, Arc<AccountSlot>>>,
    /// Access key id -> account id, for authentication.
    key_index: RwLock<HashMap<String, String>>,
    /// Where decisions and management calls are recorded.
    audit: Option<Arc<dyn iam_audit::AuditLog>>,
    /// The key that signs the audit history's digests, when this process signs them.
    audit_signer: Option<Arc<iam_audit::integrity::AuditSigner>>,
    /// Each account's event stream chain as far as digests have read it.
    event_chains: integrity::EventChains,
    /// Failed authentications recorded this second, so a flood writes a bounded history.
    auth_failures: auth_failures::AuthFailureLimiter,
    /// What the use cases measure.
    metrics: Arc<metrics::AppMetrics>,
    /// Failed sign-ins per user and per address, to slow password guessing.
    sign_in_guard: signin::SignInGuard,
    /// OIDC providers' keys fetched from their issuers.
    jwks_cache: web_identity::JwksCache,
    /// Session tokens already opened.
    session_cache: sts::SessionCache,
    /// Password hashes computed or checked at once: each holds 19 MiB for about 16 ms, so
    /// without a bound a burst of sign-ins would hold memory in proportion to the burst (512
    /// blocking threads × 19 MiB); with it, sign-ins queue instead.
    argon2_slots: tokio::sync::Semaphore,
    /// Organizations, their models and which account is in which.
    organizations: organizations::Organizations,
    /// Point-in-time states of the streams asked about (`asOf`, replay).
    histories: history::AllHistories,
    /// Each account's last credential report (derived data, kept in memory).
    credential_reports: credential_report::CredentialReports,
    /// Each account's service last-accessed jobs (derived data, kept in memory).
    last_accessed_jobs: service_last_accessed::LastAccessedJobs,
}

const MAX_ATTEMPTS: usize = 5;
const READ_BATCH: u32 = 1_000;

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The claims and releases that take `before` to `after` (the domain's rule), for the store.
fn claim_changes(before: &AccountState, after: &AccountState) -> Vec<ClaimChange> {
    iam_domain::name_claims(before, after)
        .into_iter()
        .map(|change| match change {
            NameClaim::Release(scope, key) => ClaimChange::Release(UniqueClaim::new(scope, key)),
            NameClaim::Claim(scope, key) => ClaimChange::Claim(UniqueClaim::new(scope, key)),
        })
        .collect()
}

fn decode(envelope: &iam_eventlog::EventEnvelope) -> Result<DomainEvent, AppError> {
    iam_domain::decode_event(&envelope.event_type, envelope.schema_version, &envelope.payload).map_err(|e| {
        AppError::new(
            ErrorCode::ServiceFailure,
            format!(
                "event {} of account {} (sequence {}) cannot be read: {e}",
                envelope.event_type, envelope.account_id, envelope.sequence
            ),
        )
    })
}

impl Gatehouse {
    /// Loads every account from the log.
    pub async fn load(store: Arc<dyn EventStore>, sealer: Sealer) -> Result<Self, AppError> {
        let gatehouse = Gatehouse {
            store,
            sealer,
            accounts: RwLock::new(HashMap::new()),
            key_index: RwLock::new(HashMap::new()),
            audit: None,
            audit_signer: None,
            event_chains: integrity::EventChains::default(),
            auth_failures: auth_failures::AuthFailureLimiter::default(),
            metrics: Arc::new(metrics::AppMetrics::default()),
            sign_in_guard: signin::SignInGuard::default(),
            jwks_cache: web_identity::JwksCache::default(),
            session_cache: sts::SessionCache::default(),
            argon2_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            organizations: organizations::Organizations::default(),
            histories: history::AllHistories::default(),
            credential_reports: credential_report::CredentialReports::default(),
            last_accessed_jobs: service_last_accessed::LastAccessedJobs::default(),
        };
        // The log holds account streams and organization streams (`o-...`).
        for stream in gatehouse.store.accounts().await.map_err(store_error)? {
            if iam_domain::organization::is_organization_id(&stream) {
                let state = gatehouse
                    .catch_up_organization(&stream, iam_domain::organization::OrganizationState::new())
                    .await?;
                gatehouse.install_organization(&stream, state);
            } else {
                let state = gatehouse.catch_up(&stream, AccountState::new()).await?;
                gatehouse.install(&stream, state);
            }
        }
        Ok(gatehouse)
    }

    /// The same service, recording decisions and management calls in `audit`.
    #[must_use]
    pub fn with_audit(mut self, audit: Arc<dyn iam_audit::AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The use cases' metrics (the edge registers and serves them), with the audit backlog as
    /// of now.
    pub fn metrics(&self) -> Arc<metrics::AppMetrics> {
        if let Some(backlog) = self.audit.as_ref().and_then(|audit| audit.backlog()) {
            self.metrics.set_audit_backlog(backlog);
        }
        self.metrics.clone()
    }

    /// Every account id.
    pub fn account_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = read_lock(&self.accounts).keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The management account: the first account ever created (by creation time, then id).
    pub fn management_account(&self) -> Option<String> {
        let slots: Vec<Arc<AccountSlot>> = read_lock(&self.accounts).values().cloned().collect();
        slots
            .iter()
            .filter_map(|slot| {
                let model = read_lock(&slot.model).clone();
                let info = model.state().account()?;
                Some((info.create_date, info.account_id.as_str().to_string()))
            })
            .min()
            .map(|(_, id)| id)
    }

    /// The current model of an account.
    pub fn account(&self, account_id: &str) -> Option<Arc<AccountModel>> {
        let slot = read_lock(&self.accounts).get(account_id).cloned()?;
        let model = read_lock(&slot.model).clone();
        Some(model)
    }

    /// The account an access key belongs to.
    pub fn account_of_key(&self, access_key_id: &str) -> Option<String> {
        read_lock(&self.key_index).get(access_key_id).cloned()
    }

    /// Opens a sealed secret of a key of an account.
    pub fn open_secret(&self, account_id: &str, access_key_id: &str, sealed: &str) -> Option<Zeroizing<String>> {
        self.sealer.open(sealed, &format!("{account_id}/{access_key_id}")).ok()
    }

    async fn catch_up(&self, account: &str, mut state: AccountState) -> Result<AccountState, AppError> {
        loop {
            let batch = self
                .store
                .read_stream(account, state.version() + 1, READ_BATCH)
                .await
                .map_err(store_error)?;
            if batch.is_empty() {
                return Ok(state);
            }
            for envelope in &batch {
                evolve(&mut state, &decode(envelope)?);
            }
        }
    }

    fn install(&self, account: &str, state: AccountState) -> Arc<AccountModel> {
        let previous = read_lock(&self.accounts)
            .get(account)
            .map(|slot| read_lock(&slot.model).clone());
        {
            // Only this account's keys change: update the difference, not the whole index.
            let had: BTreeSet<&str> = previous
                .as_ref()
                .map(|m| m.state().access_keys().map(|k| k.access_key_id.as_str()).collect())
                .unwrap_or_default();
            let has: BTreeSet<&str> = state.access_keys().map(|k| k.access_key_id.as_str()).collect();
            if had != has {
                let mut index = write_lock(&self.key_index);
                for gone in had.difference(&has) {
                    index.remove(*gone);
                }
                for new in has.difference(&had) {
                    index.insert((*new).to_string(), account.to_string());
                }
            }
        }
        let model = Arc::new(match &previous {
            Some(previous) => AccountModel::succeeding(previous, Arc::new(state)),
            None => AccountModel::new(Arc::new(state)),
        });
        let slot = read_lock(&self.accounts).get(account).cloned();
        match slot {
            Some(slot) => *write_lock(&slot.model) = model.clone(),
            None => {
                let slot = Arc::new(AccountSlot {
                    model: RwLock::new(model.clone()),
                    writer: tokio::sync::Mutex::new(()),
                });
                write_lock(&self.accounts).entry(account.to_string()).or_insert(slot);
            }
        }
        model
    }

    /// The account's model, at least as fresh as `min_sequence` (a consistency token a mutation
    /// returned, possibly through another process): if this process has not seen that far, it
    /// catches up from the log first. This is what keeps a permission removed through one
    /// replica from being granted by another that lags.
    ///
    /// # Errors
    /// `NoSuchEntity` for an unknown account; `InvalidInput` if the log itself has not reached
    /// `min_sequence`; `ServiceFailure` if the log cannot be read.
    pub async fn account_at_least(&self, account_id: &str, min_sequence: u64) -> Result<Arc<AccountModel>, AppError> {
        if let Some(model) = self.account(account_id) {
            if model.state().version() >= min_sequence {
                return Ok(model);
            }
        }
        let slot = self.slot(account_id);
        let _writer = slot.writer.lock().await;
        let current = read_lock(&slot.model).clone();
        if current.state().version() < min_sequence {
            let fresh = self.catch_up(account_id, AccountState::clone(current.state())).await?;
            if fresh.version() > current.state().version() {
                self.install(account_id, fresh);
            }
        }
        let model = self
            .account(account_id)
            .ok_or_else(|| AppError::new(ErrorCode::NoSuchEntity, format!("account {account_id} does not exist")))?;
        if model.state().version() < min_sequence {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                format!(
                    "consistency token {min_sequence} is ahead of account {account_id}'s log (at {})",
                    model.state().version()
                ),
            ));
        }
        Ok(model)
    }

    fn slot(&self, account: &str) -> Arc<AccountSlot> {
        if let Some(slot) = read_lock(&self.accounts).get(account) {
            return slot.clone();
        }
        let empty = Arc::new(AccountModel::new(Arc::new(AccountState::new())));
        write_lock(&self.accounts)
            .entry(account.to_string())
            .or_insert_with(|| {
                Arc::new(AccountSlot {
                    model: RwLock::new(empty),
                    writer: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// Decides `command` against the account's current state and appends its events.
    pub async fn execute(&self, account: &str, actor: &Actor, command: &Command) -> Result<Executed, AppError> {
        let slot = self.slot(account);
        let _writer = slot.writer.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let current = read_lock(&slot.model).clone();
            let state = current.state();
            let now = Utc::now();
            let events = decide(
                state,
                command,
                &DecideContext::new(now, random_bytes(), actor.arn.clone()),
            )?;
            if events.is_empty() {
                return Ok(Executed {
                    events,
                    sequence: state.version(),
                    model: current,
                });
            }
            let mut next = AccountState::clone(state);
            for event in &events {
                evolve(&mut next, event);
            }
            let claims = claim_changes(state, &next);
            let new_events = events
                .iter()
                .map(|event| envelope(event, actor, now))
                .collect::<Result<Vec<_>, _>>()?;
            let started = std::time::Instant::now();
            let appended = self.store.append(account, state.version(), new_events, claims).await;
            self.metrics
                .event_appended(started.elapsed(), matches!(appended, Err(StoreError::Conflict { .. })));
            match appended {
                Ok(outcome) => {
                    let model = self.install(account, next);
                    return Ok(Executed {
                        events,
                        sequence: outcome.last_sequence,
                        model,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    // Another process wrote first: catch up and decide again.
                    let fresh = self.catch_up(account, AccountState::clone(state)).await?;
                    self.install(account, fresh);
                }
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(AppError::new(
            ErrorCode::ConcurrentModification,
            "the account kept changing concurrently; retry the request",
        ))
    }

    /// Creates an access key (for a user, or for the root user when `user_name` is `None`). The
    /// secret is sealed before the command is built, so it never reaches an event in plain text.
    pub async fn create_access_key(
        &self,
        account: &str,
        actor: &Actor,
        user_name: Option<String>,
    ) -> Result<NewAccessKey, AppError> {
        let access_key_id = UniqueId::generate(IdKind::AccessKey, random_bytes())
            .as_str()
            .to_string();
        let secret_access_key = iam_secrets::secret_access_key(&random_bytes());
        let secret_ciphertext = self
            .sealer
            .seal(
                &secret_access_key,
                &format!("{account}/{access_key_id}"),
                random_bytes(),
            )
            .map_err(|e| AppError::new(ErrorCode::ServiceFailure, e.to_string()))?;
        let command = Command::CreateAccessKey {
            user_name,
            access_key_id: access_key_id.clone(),
            secret_ciphertext,
        };
        let executed = self.execute(account, actor, &command).await?;
        Ok(NewAccessKey {
            executed,
            access_key_id,
            secret_access_key,
        })
    }

    /// Creates a new account with a fresh 12-digit id and a root access key.
    pub async fn create_account(
        &self,
        actor: &Actor,
        alias: Option<String>,
    ) -> Result<(String, NewAccessKey), AppError> {
        let id = self.create_account_without_credentials(actor, alias).await?;
        let key = self.create_access_key(&id, actor, None).await?;
        Ok((id, key))
    }

    /// Creates a new account with a fresh 12-digit id and no credentials at all: it is reached
    /// through a role it trusts another account with, as AWS Organizations' new accounts are.
    pub async fn create_account_without_credentials(
        &self,
        actor: &Actor,
        alias: Option<String>,
    ) -> Result<String, AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(id) = self.draw_account_id() else {
                continue;
            };
            let command = Command::CreateAccount {
                account_id: id.clone(),
                account_alias: alias.clone(),
            };
            match self.execute(&id, actor, &command).await {
                Ok(_) => return Ok(id),
                Err(e) if e.code == ErrorCode::EntityAlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AppError::new(
            ErrorCode::ServiceFailure,
            "could not draw an unused account id",
        ))
    }

    /// A random 12-digit account id that no account this service knows of holds (`None` when the
    /// draw hit one: draw again).
    pub(crate) fn draw_account_id(&self) -> Option<String> {
        let id = format!("{:012}", u64::from_le_bytes(random_bytes()) % 1_000_000_000_000);
        let account_id = AccountId::parse(&id).ok()?;
        let taken = self
            .account(account_id.as_str())
            .is_some_and(|m| m.state().account_id().is_some());
        (!taken).then_some(id)
    }

    /// Whether a key is the root key of its account.
    pub fn is_root_key(owner: &AccessKeyOwner) -> bool {
        matches!(owner, AccessKeyOwner::Root)
    }
}

/// Bytes from the operating system's generator; the thread-local generator is never held across
/// an `.await`, so futures stay `Send`.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn envelope(event: &DomainEvent, actor: &Actor, now: DateTime<Utc>) -> Result<NewEvent, AppError> {
    Ok(NewEvent {
        event_id: uuid::Uuid::now_v7(),
        recorded_at: now,
        actor: actor.arn.clone(),
        request_id: actor.request_id.clone(),
        event_type: event.event_type().to_string(),
        schema_version: iam_domain::SCHEMA_VERSION,
        payload: serde_json::to_value(event)
            .map_err(|e| AppError::new(ErrorCode::ServiceFailure, format!("event cannot be encoded: {e}")))?,
    })
}
