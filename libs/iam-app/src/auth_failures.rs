//! Failed authentications in the audit history, bounded under a flood.
//!
//! Each failure is recorded with the key id it claimed, its source address and its error code
//! (never the signature or anything signed). So that a flood of bad requests cannot write the
//! history as fast as it arrives, a key and code are recorded at most once per second: the first
//! failure of a second is recorded at once, and the ones after it in that second become one
//! summary record with their count when the second is over. At most
//! [`MAX_RECORDED_PER_SECOND`] keys and codes are recorded per second; the rest of a second's
//! failures are counted into one overflow summary.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use iam_audit::{AuditRecord, UserIdentity, EVENT_SOURCE_IAM};
use serde_json::json;

use crate::access::user_identity;
use crate::{AppError, Gatehouse};

/// Distinct key-and-code records one second may start; the rest are counted into one summary.
pub const MAX_RECORDED_PER_SECOND: usize = 100;

/// One refused authentication, as the edge saw it.
#[derive(Debug, Clone)]
pub struct FailedAuthentication {
    /// The access key id the request claimed, when it named one.
    pub access_key_id: Option<String>,
    /// AWS's error code (`InvalidClientTokenId`, `SignatureDoesNotMatch`, ...).
    pub error_code: String,
    /// The message the caller got.
    pub message: String,
    /// The caller's address.
    pub source_ip: Option<String>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id the caller got.
    pub request_id: String,
    /// The deployment's region.
    pub region: String,
    /// The path requested.
    pub path: String,
}

/// The failures of one second, by key and code.
#[derive(Default)]
struct Window {
    second: i64,
    /// (key id, code) -> (the first failure, failures after it in this second).
    seen: HashMap<(String, String), (FailedAuthentication, u64)>,
    /// Failures beyond the per-second cap of distinct keys and codes.
    overflow: Option<(FailedAuthentication, u64)>,
}

/// What the limiter says of a failure.
enum Verdict {
    Record,
    Counted,
}

/// The failure limiter's state; the records it decides on are built by [`Gatehouse`].
#[derive(Default)]
pub(crate) struct AuthFailureLimiter {
    window: Mutex<Window>,
}

impl AuthFailureLimiter {
    /// Notes a failure at `now`; returns the summaries of the windows it closed, and whether the
    /// failure itself is to be recorded.
    fn note(&self, failure: &FailedAuthentication, now: DateTime<Utc>) -> (Vec<(FailedAuthentication, u64)>, Verdict) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let closed = Self::roll(&mut window, now.timestamp());
        let key = (
            failure.access_key_id.clone().unwrap_or_default(),
            failure.error_code.clone(),
        );
        if let Some((_, count)) = window.seen.get_mut(&key) {
            *count += 1;
            return (closed, Verdict::Counted);
        }
        if window.seen.len() >= MAX_RECORDED_PER_SECOND {
            match &mut window.overflow {
                Some((_, count)) => *count += 1,
                None => window.overflow = Some((failure.clone(), 1)),
            }
            return (closed, Verdict::Counted);
        }
        window.seen.insert(key, (failure.clone(), 0));
        (closed, Verdict::Record)
    }

    /// Closes the window if `second` is past it: its summaries (failures counted, not recorded).
    fn roll(window: &mut Window, second: i64) -> Vec<(FailedAuthentication, u64)> {
        if window.second == second {
            return Vec::new();
        }
        let ended = std::mem::take(window);
        window.second = second;
        ended
            .seen
            .into_values()
            .chain(ended.overflow)
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    fn flush(&self, now: DateTime<Utc>) -> Vec<(FailedAuthentication, u64)> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        Self::roll(&mut window, now.timestamp())
    }
}

impl Gatehouse {
    /// Records a failed authentication, bounded as the module describes. Failures of a key of
    /// an account go to that account's history; those of unknown keys to the management
    /// account's (its operators watch for probing).
    ///
    /// # Errors
    /// `ServiceFailure` when the audit log cannot take the record.
    pub async fn record_auth_failure(&self, failure: FailedAuthentication) -> Result<(), AppError> {
        let now = Utc::now();
        let (closed, verdict) = self.auth_failures.note(&failure, now);
        let mut records: Vec<AuditRecord> = closed
            .into_iter()
            .filter_map(|(first, count)| self.auth_failure_record(&first, Some(count), now))
            .collect();
        if matches!(verdict, Verdict::Record) {
            records.extend(self.auth_failure_record(&failure, None, now));
        }
        if records.is_empty() {
            return Ok(());
        }
        self.record(records).await
    }

    /// Records the summaries of seconds that have ended; the edge calls it every second so a
    /// flood's last second is counted even when nothing follows it.
    ///
    /// # Errors
    /// `ServiceFailure` when the audit log cannot take the records.
    pub async fn flush_auth_failures(&self) -> Result<(), AppError> {
        let now = Utc::now();
        let records: Vec<AuditRecord> = self
            .auth_failures
            .flush(now)
            .into_iter()
            .filter_map(|(first, count)| self.auth_failure_record(&first, Some(count), now))
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        self.record(records).await
    }

    /// The record of a failure (`suppressed: None`) or of the failures counted after it.
    fn auth_failure_record(
        &self,
        failure: &FailedAuthentication,
        suppressed: Option<u64>,
        now: DateTime<Utc>,
    ) -> Option<AuditRecord> {
        let key_id = failure.access_key_id.as_deref();
        let owner = key_id.and_then(|id| self.account_of_key(id));
        let account = owner.clone().or_else(|| self.management_account())?;
        let identity = match (&owner, key_id) {
            (Some(account), Some(id)) => self.account(account).map_or_else(UserIdentity::default, |model| {
                let state = model.state();
                let arn = state.access_key(id).map(|key| match &key.owner {
                    iam_domain::AccessKeyOwner::Root => format!("arn:aws:iam::{account}:root"),
                    iam_domain::AccessKeyOwner::User { user_id } => {
                        state.user_by_id(user_id).map(|u| u.arn.to_string()).unwrap_or_default()
                    }
                });
                user_identity(state, &arn.unwrap_or_default(), Some(id))
            }),
            _ => UserIdentity {
                identity_type: "Unknown".into(),
                access_key_id: key_id.map(str::to_owned),
                ..UserIdentity::default()
            },
        };
        let mut additional = json!({"action": "gatehouse:Authenticate", "path": failure.path});
        if let (Some(count), Some(object)) = (suppressed, additional.as_object_mut()) {
            object.insert("failuresInSecond".into(), json!(count));
            object.insert("summary".into(), json!(true));
        }
        let organization = self.organization_of(&account);
        let mut record = AuditRecord {
            event_version: "1.09".into(),
            user_identity: identity,
            event_time: now,
            event_source: EVENT_SOURCE_IAM.into(),
            event_name: "Authenticate".into(),
            aws_region: failure.region.clone(),
            source_ip_address: failure.source_ip.clone().unwrap_or_default(),
            user_agent: failure.user_agent.clone().unwrap_or_default(),
            request_parameters: json!({"accessKeyId": key_id}),
            response_elements: serde_json::Value::Null,
            error_code: Some(failure.error_code.clone()),
            error_message: Some(failure.message.clone()),
            request_id: failure.request_id.clone(),
            event_id: uuid::Uuid::now_v7().to_string(),
            read_only: true,
            event_type: "AwsApiCall".into(),
            api_version: None,
            recipient_account_id: account,
            additional_event_data: Some(additional),
        };
        if let Some(organization) = organization {
            record.set_organization_id(&organization);
        }
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn failure(key: &str, code: &str) -> FailedAuthentication {
        FailedAuthentication {
            access_key_id: Some(key.into()),
            error_code: code.into(),
            message: "refused".into(),
            source_ip: None,
            user_agent: None,
            request_id: "r".into(),
            region: "us-east-1".into(),
            path: "/graphql".into(),
        }
    }

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(second, 0).unwrap()
    }

    #[test]
    fn a_key_and_code_is_recorded_once_a_second_and_the_rest_counted() {
        let limiter = AuthFailureLimiter::default();
        let bad = failure("AKIA1", "SignatureDoesNotMatch");
        assert!(matches!(limiter.note(&bad, at(10)).1, Verdict::Record));
        for _ in 0..499 {
            assert!(matches!(limiter.note(&bad, at(10)).1, Verdict::Counted));
        }
        // Another code of the same key is its own record.
        assert!(matches!(
            limiter.note(&failure("AKIA1", "RequestExpired"), at(10)).1,
            Verdict::Record
        ));
        let (closed, verdict) = limiter.note(&bad, at(11));
        assert!(matches!(verdict, Verdict::Record));
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].1, 499);
        assert!(limiter.flush(at(12)).is_empty());
    }

    #[test]
    fn distinct_keys_beyond_the_cap_become_one_overflow_summary() {
        let limiter = AuthFailureLimiter::default();
        let mut recorded = 0;
        for i in 0..10_000 {
            if matches!(
                limiter
                    .note(&failure(&format!("AKIA{i}"), "InvalidClientTokenId"), at(5))
                    .1,
                Verdict::Record
            ) {
                recorded += 1;
            }
        }
        assert_eq!(recorded, MAX_RECORDED_PER_SECOND);
        let summaries = limiter.flush(at(6));
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].1, 10_000 - MAX_RECORDED_PER_SECOND as u64);
    }
}
