//! Impact preview: what would a change do to real traffic? The audited decisions of a window are
//! evaluated twice on the account as it is now, once without and once with the change applied
//! (decided and evolved in memory, never appended), and the requests whose decision flips are
//! reported, grouped by principal, action and resource.
//!
//! Requests repeat (the same principal, action, resource and context), so each distinct request
//! is evaluated once per side; a window is read in pages (`after`, `limit`), so a long preview
//! reports its progress between pages and a client can stop it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_audit::{AuditFilter, EVENT_SOURCE_AUTHZ};
use iam_authz::AccountModel;
use iam_domain::{decide, evolve, Command, DecideContext, Requirement};
use iam_policy::DecisionEffect;
use iam_types::ErrorCode;

use crate::access::{evaluate_access, AccessRequest, ApiCaller};
use crate::organizations::AccountGuardrails;
use crate::replay::recorded;
use crate::{random_bytes, AppError, Gatehouse};

/// The most changes one preview applies.
pub const MAX_CHANGES: usize = 20;
/// The most records one call reads (a longer window is continued with `after`).
pub const MAX_PAGE_RECORDS: usize = 200_000;

/// Which way a decision flips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flip {
    /// Allowed now, denied with the change.
    AllowToDeny,
    /// Denied now, allowed with the change.
    DenyToAllow,
}

/// Requests of one principal, action and resource that flip the same way.
#[derive(Debug, Clone)]
pub struct FlipGroup {
    /// The principal decided.
    pub principal_arn: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Which way.
    pub flip: Flip,
    /// Audited decisions of the window that flip.
    pub count: u64,
    /// Up to three of their records' `eventID`s.
    pub examples: Vec<String>,
}

/// What a preview found in the records it read.
#[derive(Debug, Clone, Default)]
pub struct PreviewReport {
    /// Audited decisions read.
    pub decisions: u64,
    /// Distinct requests among them (each evaluated once per side).
    pub distinct_requests: u64,
    /// Decisions that would go from allowed to denied.
    pub allow_to_deny: u64,
    /// Decisions that would go from denied to allowed.
    pub deny_to_allow: u64,
    /// The flips, largest group first.
    pub groups: Vec<FlipGroup>,
    /// Pass back as `after` to continue the window; `None` when it is done.
    pub next_cursor: Option<String>,
}

/// The window and the page of a preview.
#[derive(Debug, Clone, Default)]
pub struct PreviewWindow {
    /// Records at or after.
    pub from: Option<DateTime<Utc>>,
    /// Records before.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this cursor (a previous report's `next_cursor`).
    pub after: Option<String>,
    /// Records to read in this call (at most [`MAX_PAGE_RECORDS`]).
    pub limit: usize,
}

/// The action a preview is authorized as, beside reading the history: it shows what principals
/// could do under other policies, as a simulation does.
pub const PREVIEW_ACTION: &str = "iam:SimulatePrincipalPolicy";

impl Gatehouse {
    /// Previews `changes` (management commands of the caller's account, applied in order)
    /// against the account's audited decisions in `window`. The caller needs
    /// `cloudtrail:LookupEvents` and `iam:SimulatePrincipalPolicy`; nothing is changed or
    /// recorded but the call itself.
    ///
    /// # Errors
    /// `AccessDenied`; `InvalidInput` for too many changes or a malformed cursor; the refusal of
    /// a change that does not apply (`NoSuchEntity`, `MalformedPolicyDocument`, ...).
    pub async fn preview_change(
        &self,
        caller: &ApiCaller,
        changes: &[Command],
        window: &PreviewWindow,
    ) -> Result<PreviewReport, AppError> {
        if changes.is_empty() || changes.len() > MAX_CHANGES {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                format!("a preview applies 1 to {MAX_CHANGES} changes"),
            ));
        }
        let now = Utc::now();
        let current = self.caller_model(caller)?;
        let needed = [
            Requirement::named("cloudtrail:LookupEvents", "*"),
            Requirement::named(PREVIEW_ACTION, "*"),
        ];
        self.authorize_requirements(&current, caller, &needed, now)?;
        let changed = Arc::new(AccountModel::new(Arc::new(apply(
            current.state(),
            changes,
            caller,
            now,
        )?)));
        let audit = self
            .audit_log()
            .ok_or_else(|| AppError::new(ErrorCode::ServiceFailure, "no audit log is configured"))?;
        let filter = AuditFilter {
            account_id: caller.account_id.clone(),
            event_source: Some(EVENT_SOURCE_AUTHZ.to_owned()),
            from: window.from,
            to: window.to,
            ..AuditFilter::default()
        };
        let own = self.guardrails_of(&caller.account_id);
        let mut owners: HashMap<String, Option<Arc<AccountGuardrails>>> = HashMap::new();
        let limit = window.limit.clamp(1, MAX_PAGE_RECORDS);
        // Pages are read (and their records parsed) by one task while this one evaluates the
        // previous page: on two cores, reading and deciding overlap.
        let (pages, mut arriving) = tokio::sync::mpsc::channel(2);
        let reader = {
            let audit = audit.clone();
            let filter = filter.clone();
            let mut after = window.after.clone();
            tokio::spawn(async move {
                let mut read = 0;
                loop {
                    let page = audit
                        .query(&filter, (limit - read).min(1_000), after.as_deref())
                        .await
                        .map_err(crate::audit_read_error);
                    let done = match &page {
                        Ok(page) => {
                            read += page.records.len();
                            after = page.records.last().map(|(cursor, _)| cursor.clone());
                            !page.has_next_page || read >= limit
                        }
                        Err(_) => true,
                    };
                    if pages.send(page).await.is_err() || done {
                        return;
                    }
                }
            })
        };
        let mut report = PreviewReport::default();
        // Request -> (now, with the change); `None` for a request refused on either side.
        let mut decided: HashMap<String, Option<(bool, bool)>> = HashMap::new();
        let mut groups: HashMap<(String, String, String, Flip), FlipGroup> = HashMap::new();
        let mut after: Option<String> = None;
        while let Some(page) = arriving.recv().await {
            let page = page?;
            after = page
                .records
                .last()
                .map(|(cursor, _)| cursor.clone())
                .filter(|_| page.has_next_page);
            for (_, record) in &page.records {
                // Requests refused before any decision have nothing to flip.
                let Ok(asked) = recorded(record) else { continue };
                if record.error_code.is_some() {
                    continue;
                }
                report.decisions += 1;
                let request = &asked.request;
                let key = request_key(request);
                let outcome = match decided.get(&key) {
                    Some(known) => *known,
                    None => {
                        let owner = match request.resource_owner.as_deref() {
                            Some(owner) if owner != caller.account_id => owners
                                .entry(owner.to_owned())
                                .or_insert_with(|| self.guardrails_of(owner))
                                .clone(),
                            _ => own.clone(),
                        };
                        let guardrails = (own.as_deref(), owner.as_deref());
                        let allowed = |model: &AccountModel| {
                            evaluate_access(model, &caller.account_id, request, guardrails, now)
                                .ok()
                                .map(|(effect, _, _)| effect == DecisionEffect::Allowed)
                        };
                        let outcome = allowed(&current).zip(allowed(&changed));
                        decided.insert(key, outcome);
                        outcome
                    }
                };
                let flip = match outcome {
                    Some((true, false)) => Flip::AllowToDeny,
                    Some((false, true)) => Flip::DenyToAllow,
                    _ => continue,
                };
                match flip {
                    Flip::AllowToDeny => report.allow_to_deny += 1,
                    Flip::DenyToAllow => report.deny_to_allow += 1,
                }
                let group = groups
                    .entry((
                        request.principal_arn.clone(),
                        request.action.clone(),
                        request.resource.clone(),
                        flip,
                    ))
                    .or_insert_with(|| FlipGroup {
                        principal_arn: request.principal_arn.clone(),
                        action: request.action.clone(),
                        resource: request.resource.clone(),
                        flip,
                        count: 0,
                        examples: Vec::new(),
                    });
                group.count += 1;
                if group.examples.len() < 3 {
                    group.examples.push(record.event_id.clone());
                }
            }
        }
        reader
            .await
            .map_err(|e| AppError::new(ErrorCode::ServiceFailure, format!("the preview's reader failed: {e}")))?;
        report.distinct_requests = decided.len() as u64;
        report.next_cursor = after;
        let mut groups: Vec<FlipGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.principal_arn, &a.action, &a.resource).cmp(&(&b.principal_arn, &b.action, &b.resource))
            })
        });
        report.groups = groups;
        Ok(report)
    }
}

/// The account's state with `changes` decided and applied in order, in memory.
fn apply(
    state: &iam_domain::AccountState,
    changes: &[Command],
    caller: &ApiCaller,
    now: DateTime<Utc>,
) -> Result<iam_domain::AccountState, AppError> {
    let mut state = state.clone();
    for change in changes {
        if matches!(change, Command::CreateAccount { .. }) {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                "a preview changes the caller's account; it cannot create one",
            ));
        }
        let ctx = DecideContext::new(now, random_bytes(), caller.principal_arn.clone());
        for event in decide(&state, change, &ctx)? {
            evolve(&mut state, &event);
        }
    }
    Ok(state)
}

/// A request's identity for deduplication: everything its decision depends on, each part
/// length-prefixed so no two requests share a key.
fn request_key(request: &AccessRequest) -> String {
    let mut key = String::with_capacity(256);
    let mut part = |text: &str| {
        key.push_str(&text.len().to_string());
        key.push(':');
        key.push_str(text);
    };
    part(&request.principal_arn);
    part(&request.action);
    part(&request.resource);
    part(request.resource_policy.as_deref().unwrap_or("\u{0}none"));
    part(request.resource_owner.as_deref().unwrap_or(""));
    for entry in &request.context {
        part(&entry.context_key_name);
        part(&entry.context_key_type);
        part(&entry.context_key_values.len().to_string());
        for value in &entry.context_key_values {
            part(value);
        }
    }
    key
}
