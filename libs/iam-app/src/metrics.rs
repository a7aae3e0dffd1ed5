//! What the use cases measure, for an operator's Prometheus: decisions by effect, and how long
//! the two durable appends every answer waits for take (the event log's, the audit history's).
//! The edge registers these beside its own (requests by route and outcome) and serves them.

use std::time::Duration;

use iam_policy::DecisionEffect;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A decision's effect as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EffectLabel {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub effect: &'static str,
}

/// A sign-in's outcome as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabel {
    /// `succeeded`, `failed`, `throttled`, `mfa_required`, `password_change_required`, `expired`.
    pub outcome: &'static str,
}

/// The use cases' metrics.
#[derive(Debug)]
pub struct AppMetrics {
    decisions: Family<EffectLabel, Counter>,
    /// The family's three counters, held so a decision counts without a label lookup.
    allowed: Counter,
    explicit_deny: Counter,
    implicit_deny: Counter,
    decision_errors: Counter,
    audit_append_seconds: Histogram,
    audit_append_failures: Counter,
    audit_backlog: Gauge,
    event_append_seconds: Histogram,
    event_append_conflicts: Counter,
    sign_ins: Family<SignInLabel, Counter>,
}

/// Buckets from 50 µs to about 3 s: an append is sub-millisecond on a quiet disk and seconds
/// when a broker or disk stalls.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

impl Default for AppMetrics {
    fn default() -> Self {
        let decisions = Family::<EffectLabel, Counter>::default();
        let counter = |effect| decisions.get_or_create(&EffectLabel { effect }).clone();
        let (allowed, explicit_deny, implicit_deny) =
            (counter("Allow"), counter("ExplicitDeny"), counter("ImplicitDeny"));
        AppMetrics {
            decisions,
            allowed,
            explicit_deny,
            implicit_deny,
            decision_errors: Counter::default(),
            audit_append_seconds: latency_buckets(),
            audit_append_failures: Counter::default(),
            audit_backlog: Gauge::default(),
            event_append_seconds: latency_buckets(),
            event_append_conflicts: Counter::default(),
            sign_ins: Family::default(),
        }
    }
}

impl AppMetrics {
    /// Registers every metric in `registry` under `gatehouse_`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gatehouse_decisions",
            "Access decisions answered, by effect",
            self.decisions.clone(),
        );
        registry.register(
            "gatehouse_decision_errors",
            "Access requests answered with an error instead of a decision",
            self.decision_errors.clone(),
        );
        registry.register(
            "gatehouse_audit_append_seconds",
            "Time to make a batch of audit records durable",
            self.audit_append_seconds.clone(),
        );
        registry.register(
            "gatehouse_audit_append_failures",
            "Audit appends that failed (the requests behind them were not answered)",
            self.audit_append_failures.clone(),
        );
        registry.register(
            "gatehouse_audit_backlog_records",
            "Audit records durable but not yet queryable (or not yet acknowledged by Kafka)",
            self.audit_backlog.clone(),
        );
        registry.register(
            "gatehouse_event_append_seconds",
            "Time to append a command's events to the event log",
            self.event_append_seconds.clone(),
        );
        registry.register(
            "gatehouse_event_append_conflicts",
            "Appends that lost an optimistic-concurrency race and were decided again",
            self.event_append_conflicts.clone(),
        );
        registry.register(
            "gatehouse_sign_ins",
            "Password sign-ins, by outcome (a rise in failed or throttled ones is guessing)",
            self.sign_ins.clone(),
        );
    }

    pub(crate) fn sign_in(&self, outcome: &'static str) {
        self.sign_ins.get_or_create(&SignInLabel { outcome }).inc();
    }

    pub(crate) fn decided(&self, effect: DecisionEffect) {
        match effect {
            DecisionEffect::Allowed => self.allowed.inc(),
            DecisionEffect::ExplicitDeny => self.explicit_deny.inc(),
            DecisionEffect::ImplicitDeny => self.implicit_deny.inc(),
        };
    }

    pub(crate) fn decision_failed(&self) {
        self.decision_errors.inc();
    }

    pub(crate) fn audit_appended(&self, took: Duration, ok: bool) {
        self.audit_append_seconds.observe(took.as_secs_f64());
        if !ok {
            self.audit_append_failures.inc();
        }
    }

    pub(crate) fn event_appended(&self, took: Duration, conflict: bool) {
        self.event_append_seconds.observe(took.as_secs_f64());
        if conflict {
            self.event_append_conflicts.inc();
        }
    }

    /// Sets the audit backlog gauge (read from the store when metrics are scraped).
    pub fn set_audit_backlog(&self, records: u64) {
        self.audit_backlog.set(i64::try_from(records).unwrap_or(i64::MAX));
    }
}
