//! The conformance suite every [`AuditLog`] store runs, and the macro that turns it into
//! `#[tokio::test]`s.
//!
//! ```text
//! async fn sqlite() -> AuditLogUnderTest { ... }
//! iam_audit::audit_log_conformance_tests!(sqlite);
//! // A store that needs a server marks its tests, and the suite copies the attributes:
//! iam_audit::audit_log_conformance_tests!(postgres, #[ignore = "needs PostgreSQL"]);
//! ```
//!
//! The factory is any expression callable with no arguments that returns a future of a fresh,
//! empty fixture. The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) among its
//! dev-dependencies. Failures panic: this module is test code compiled only with the
//! `conformance` feature.
//!
//! The contract the checks state, beyond the port's documentation:
//! - a query answers newest first by `(eventTime, position)`, where the position follows arrival
//!   (an append that returned comes before one that starts after it; a batch in its order), and
//!   the index orders by the microsecond while the record reads back exactly as appended;
//! - filters compare whole values byte for byte (no case folding, no patterns); `from` is
//!   inclusive and `to` exclusive;
//! - `count_by` orders by count, largest first, then by value: `None` first, then bytewise;
//! - a cursor only bounds the page from above: it works with any filter and any account (one
//!   taken from another account's page still yields only the queried account's records), and one
//!   that is malformed is [`AuditError::Invalid`];
//! - an organization trail (`organization_id`) holds the records written with that organization
//!   id, of every account, in the same order as one account's, narrowed by a non-empty
//!   `account_id`; a record written without one (before its account joined) is in no trail;
//! - `decided_principal_arn` compares [`AuditRecord::decided_principal_arn`] (absent: no match);
//!   `event_id` is a UUID in either case (anything else is [`AuditError::Invalid`]) and selects
//!   the record whose `eventID` is its canonical form ([`AuditFields::event_key`]).
//!
//! What the suite does not state because the stores differ: whether a record appended twice
//! (same account and `eventID`) is stored twice; the records are always distinct here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test-support code: a failed check must fail the test"
)]

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::log::{AuditError, AuditFilter, AuditLog, GroupBy};
use crate::record::{
    encode_all, AuditFields, AuditRecord, UserIdentity, EVENT_SOURCE_AUTHZ, EVENT_SOURCE_IAM, ORGANIZATION_ID_KEY,
};

/// A fresh, empty audit log for one test, with whatever must outlive it (a temp dir, a schema).
pub struct AuditLogUnderTest {
    /// The store under test.
    pub log: Arc<dyn AuditLog>,
    guard: Box<dyn Any + Send + Sync>,
}

impl AuditLogUnderTest {
    /// Wraps a log that needs nothing kept alive beside it.
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self {
            log,
            guard: Box::new(()),
        }
    }

    /// Keeps `guard` alive (and drops it) together with the log.
    #[must_use]
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Box::new(guard);
        self
    }
}

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
/// A page size no check reaches: the whole answer on one page.
const EVERYTHING: usize = 100_000;

/// The corpus's principals; the last belongs to another account (B) and calls into A's.
const PRINCIPALS: [&str; 4] = [
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:user/bob",
    "arn:aws:sts::111111111111:assumed-role/ops/session",
    "arn:aws:iam::222222222222:user/carol",
];
/// The principals the corpus's decisions are about (the callers above are the applications that
/// ask): alice is also a caller, the role and its session never are.
const DECIDED: [&str; 3] = [
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:role/reader",
    "arn:aws:sts::111111111111:assumed-role/reader/s1",
];
const DECISIONS: [&str; 4] = ["Allow", "Allow", "ImplicitDeny", "ExplicitDeny"];
const DECIDED_ACTIONS: [&str; 3] = ["s3:GetObject", "s3:PutObject", "iam:CreateUser"];
const GROUP_BYS: [GroupBy; 6] = [
    GroupBy::EventName,
    GroupBy::EventSource,
    GroupBy::PrincipalArn,
    GroupBy::Decision,
    GroupBy::ErrorCode,
    GroupBy::Action,
];

/// `2026-11-01T00:00:00Z` plus `seconds` and `micros`.
fn at(seconds: i64, micros: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("valid timestamp")
        + Duration::seconds(seconds)
        + Duration::microseconds(micros)
}

/// A UUID-shaped `eventID` no other record of this process has.
fn next_event_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("01900000-0000-7000-8000-{:012x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The `n`th record of the suite's corpus, addressed to `account`, with a fresh `eventID`.
///
/// The same `n` gives the same fields in every account (so a query that forgot the account would
/// find the other account's twins). Over `n` the corpus mixes decisions (`Allow`, `ImplicitDeny`,
/// `ExplicitDeny` on several actions and resources, about principals other than their callers'
/// or the same, named in `requestParameters.principalArn` or, on some, only in
/// `additionalEventData.principalArn`) with management calls that write (with a resource, no
/// decision, some naming a `principalArn`) and read (neither; some naming a `policySourceArn`,
/// which decides nothing), several principals (one of another account), error codes on some,
/// and event times that repeat (every 30th `n` shares one) and do not follow `n`.
pub fn record(account: &str, n: usize) -> AuditRecord {
    let principal = if n % 9 == 4 { PRINCIPALS[3] } else { PRINCIPALS[n % 3] };
    let caller_account = principal.split(':').nth(4).unwrap_or_default();
    let error_code = if n % 7 == 0 {
        Some("AccessDenied")
    } else if n % 11 == 3 {
        Some("NoSuchEntity")
    } else {
        None
    };
    let mut request_parameters = json!({"n": n, "userName": format!("u{}", n % 4)});
    let (event_source, event_name, event_type, read_only, additional_event_data) = match n % 5 {
        0..=2 => {
            let decision = DECISIONS[n % 4];
            let action = DECIDED_ACTIONS[(n / 2) % 3];
            let resource = format!("arn:aws:s3:::audit-bucket/object-{}", n % 6);
            let decided = DECIDED[(n / 3) % 3];
            if n % 13 != 1 {
                request_parameters["principalArn"] = json!(decided);
            }
            let data = json!({
                "decision": decision,
                "principalArn": decided,
                "action": action,
                "resource": resource,
                "matchedStatements": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
                "policies": [{"id": "arn:aws:iam::aws:policy/ReadOnlyAccess", "policyType": "IAMPolicy",
                    "versionId": "v3"}],
                "accountSequence": n,
            });
            (
                EVENT_SOURCE_AUTHZ,
                "Authorize",
                "GatehouseAuthorization",
                true,
                Some(data),
            )
        }
        3 => {
            let data = json!({
                "accountSequenceBefore": n,
                "accountSequenceAfter": n + 1,
                "resource": format!("arn:aws:iam::111111111111:user/u{}", n % 4),
            });
            let name = ["CreateUser", "DeleteUser"][n % 2];
            if n % 4 == 3 {
                request_parameters["principalArn"] = json!(PRINCIPALS[1]);
            }
            (EVENT_SOURCE_IAM, name, "AwsApiCall", false, Some(data))
        }
        _ => {
            if n % 2 == 0 {
                request_parameters["policySourceArn"] = json!(DECIDED[1]);
            }
            (EVENT_SOURCE_IAM, "ListUsers", "AwsApiCall", true, None)
        }
    };
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: UserIdentity {
            identity_type: if principal.contains(":assumed-role/") {
                "AssumedRole"
            } else {
                "IAMUser"
            }
            .into(),
            principal_id: format!("AIDACONFORMANCE{}", n % 3),
            arn: principal.into(),
            account_id: caller_account.into(),
            access_key_id: (n % 2 == 0).then(|| format!("AKIACONFORMANCE{n:04}")),
            user_name: principal.rsplit_once(":user/").map(|(_, name)| name.to_owned()),
            session_context: None,
            identity_provider: None,
        },
        event_time: at(
            i64::try_from(n * 7 % 30).expect("small"),
            if n % 10 == 0 { 250 } else { 0 },
        ),
        event_source: event_source.into(),
        event_name: event_name.into(),
        aws_region: "us-east-1".into(),
        source_ip_address: format!("192.0.2.{}", n % 250),
        user_agent: "gatehouse-conformance/1.0".into(),
        request_parameters,
        response_elements: if error_code.is_some() {
            Value::Null
        } else {
            json!({"n": n})
        },
        error_code: error_code.map(str::to_owned),
        error_message: error_code.map(|code| format!("{code}: conformance record {n}")),
        request_id: format!("req-{n:04}"),
        event_id: next_event_id(),
        read_only,
        event_type: event_type.into(),
        api_version: None,
        recipient_account_id: account.into(),
        additional_event_data,
    }
}

/// Appends corpus records `0..a` of A and `0..b` of B, interleaved (record `n` of A, then of B)
/// and cut into batches of varying size, one append after the other. Returns them in arrival
/// order.
async fn append_corpus(log: &dyn AuditLog, a: usize, b: usize) -> Vec<AuditRecord> {
    const SIZES: [usize; 6] = [1, 4, 2, 7, 3, 5];
    let mut arrival = Vec::new();
    for n in 0..a.max(b) {
        if n < a {
            arrival.push(record(A, n));
        }
        if n < b {
            arrival.push(record(B, n));
        }
    }
    let mut rest = arrival.as_slice();
    for size in SIZES.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at((*size).min(rest.len()));
        log.append(batch.to_vec()).await.unwrap();
        rest = tail;
    }
    arrival
}

/// Whether `record` is selected by `filter`: every field named equals the record's, the time is
/// in `[from, to)`; an event id names the record whose canonical id is that UUID.
fn matches(filter: &AuditFilter, record: &AuditRecord) -> bool {
    let f = AuditFields::of(record);
    let key = filter
        .event_key()
        .expect("the suite's scans name well-formed event ids");
    let equal = |wanted: &Option<String>, have: Option<&String>| wanted.as_ref().is_none_or(|w| Some(w) == have);
    let in_scope = match &filter.organization_id {
        Some(organization) => {
            f.organization_id.as_ref() == Some(organization)
                && (filter.account_id.is_empty() || f.account_id == filter.account_id)
        }
        None => f.account_id == filter.account_id,
    };
    in_scope
        && filter.from.is_none_or(|from| f.event_time >= from)
        && filter.to.is_none_or(|to| f.event_time < to)
        && equal(&filter.principal_arn, Some(&f.principal_arn))
        && equal(&filter.decided_principal_arn, f.decided_principal_arn.as_ref())
        && key.is_none_or(|key| f.event_key() == Some(key))
        && equal(&filter.event_name, Some(&f.event_name))
        && equal(&filter.event_source, Some(&f.event_source))
        && equal(&filter.action, Some(&f.action))
        && equal(&filter.resource_arn, f.resource_arn.as_ref())
        && equal(&filter.decision, f.decision.as_ref())
        && equal(&filter.error_code, f.error_code.as_ref())
}

/// What a query must answer: the records of `arrival` that `filter` selects, newest first by
/// event time, later arrivals first among equal times.
fn scan<'a>(arrival: &'a [AuditRecord], filter: &AuditFilter) -> Vec<&'a AuditRecord> {
    let mut selected: Vec<(usize, &AuditRecord)> = arrival
        .iter()
        .enumerate()
        .filter(|(_, record)| matches(filter, record))
        .collect();
    selected.sort_by(|(i, a), (j, b)| b.event_time.cmp(&a.event_time).then(j.cmp(i)));
    selected.into_iter().map(|(_, record)| record).collect()
}

fn group_value(record: &AuditRecord, group_by: GroupBy) -> Option<String> {
    let f = AuditFields::of(record);
    match group_by {
        GroupBy::EventName => Some(f.event_name),
        GroupBy::EventSource => Some(f.event_source),
        GroupBy::PrincipalArn => Some(f.principal_arn),
        GroupBy::Decision => f.decision,
        GroupBy::ErrorCode => f.error_code,
        GroupBy::Action => Some(f.action),
    }
}

/// What `count_by` must answer: the scan's records counted by `group_by`, largest group first,
/// equal counts by value (`None` first, then bytewise).
fn count_scan(arrival: &[AuditRecord], filter: &AuditFilter, group_by: GroupBy) -> Vec<(Option<String>, u64)> {
    let mut counts: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for record in scan(arrival, filter) {
        *counts.entry(group_value(record, group_by)).or_default() += 1;
    }
    let mut counted: Vec<(Option<String>, u64)> = counts.into_iter().collect();
    // Stable: equal counts keep the map's order, which is the value order.
    counted.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    counted
}

fn ids<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Vec<&'a str> {
    records.into_iter().map(|record| record.event_id.as_str()).collect()
}

fn page_ids(records: &[(String, AuditRecord)]) -> Vec<&str> {
    ids(records.iter().map(|(_, record)| record))
}

fn everything(account: &str) -> AuditFilter {
    AuditFilter {
        account_id: account.into(),
        ..AuditFilter::default()
    }
}

/// `base` with `edit` applied.
fn with(base: &AuditFilter, edit: impl FnOnce(&mut AuditFilter)) -> AuditFilter {
    let mut filter = base.clone();
    edit(&mut filter);
    filter
}

fn some(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// Filters over `account` naming every field alone (values the corpus has, values it lacks,
/// values of other fields, near misses in case and patterns), time windows (open, closed, empty,
/// inverted, on record times) and combinations.
fn filters(account: &str) -> Vec<AuditFilter> {
    let all = everything(account);
    let mut filters = vec![all.clone()];
    let principals = PRINCIPALS.iter().copied().chain([
        "arn:aws:iam::111111111111:user/nobody",
        "arn:aws:iam::111111111111:user/ALICE",
        "Allow",
    ]);
    for value in principals {
        filters.push(with(&all, |f| f.principal_arn = some(value)));
    }
    // Decided principals: of decisions (in the request, or only in the detail), of a management
    // call that names one, a caller that is never decided on, near misses.
    let decided = DECIDED.iter().copied().chain([
        PRINCIPALS[1],
        PRINCIPALS[2],
        PRINCIPALS[3],
        "arn:aws:iam::111111111111:user/ALICE",
        "arn:aws:iam::111111111111:role/%",
        "",
    ]);
    for value in decided {
        filters.push(with(&all, |f| f.decided_principal_arn = some(value)));
    }
    for value in [
        "Authorize",
        "CreateUser",
        "DeleteUser",
        "ListUsers",
        "NoSuchCall",
        "authorize",
        A,
    ] {
        filters.push(with(&all, |f| f.event_name = some(value)));
    }
    for value in [EVENT_SOURCE_AUTHZ, EVENT_SOURCE_IAM, "s3.amazonaws.com"] {
        filters.push(with(&all, |f| f.event_source = some(value)));
    }
    for value in [
        "s3:GetObject",
        "s3:PutObject",
        "iam:CreateUser",
        "iam:DeleteUser",
        "iam:ListUsers",
        "iam:Authorize",
        "s3:*",
    ] {
        filters.push(with(&all, |f| f.action = some(value)));
    }
    for value in [
        "arn:aws:s3:::audit-bucket/object-0",
        "arn:aws:s3:::audit-bucket/object-5",
        "arn:aws:iam::111111111111:user/u1",
        "arn:aws:s3:::audit-bucket/*",
        "arn:aws:s3:::audit-bucket/object-%",
    ] {
        filters.push(with(&all, |f| f.resource_arn = some(value)));
    }
    for value in ["Allow", "ImplicitDeny", "ExplicitDeny", "allow", "Deny", "Authorize"] {
        filters.push(with(&all, |f| f.decision = some(value)));
    }
    for value in ["AccessDenied", "NoSuchEntity", "", "AccessDenied "] {
        filters.push(with(&all, |f| f.error_code = some(value)));
    }
    let windows = [
        (Some(at(10, 250)), None),
        (None, Some(at(10, 250))),
        (Some(at(5, 0)), Some(at(20, 250))),
        (Some(at(10, 251)), Some(at(29, 0))),
        (Some(at(5, 0)), Some(at(5, 0))),
        (Some(at(20, 0)), Some(at(5, 0))),
        (Some(at(-3_600, 0)), Some(at(3_600, 0))),
    ];
    for (from, to) in windows {
        filters.push(with(&all, |f| {
            f.from = from;
            f.to = to;
        }));
    }
    filters.extend([
        with(&all, |f| {
            f.decision = some("ExplicitDeny");
            f.principal_arn = some(PRINCIPALS[0]);
        }),
        with(&all, |f| {
            f.error_code = some("AccessDenied");
            f.event_name = some("ListUsers");
        }),
        with(&all, |f| {
            f.resource_arn = some("arn:aws:s3:::audit-bucket/object-3");
            f.decision = some("Allow");
        }),
        with(&all, |f| {
            f.principal_arn = some(PRINCIPALS[2]);
            f.from = Some(at(10, 0));
            f.to = Some(at(25, 0));
        }),
        with(&all, |f| {
            f.action = some("iam:CreateUser");
            f.event_source = some(EVENT_SOURCE_IAM);
        }),
        with(&all, |f| {
            f.action = some("iam:CreateUser");
            f.event_source = some(EVENT_SOURCE_AUTHZ);
            f.from = Some(at(0, 0));
        }),
        with(&all, |f| {
            f.event_name = some("CreateUser");
            f.decision = some("Allow");
        }),
        with(&all, |f| {
            f.principal_arn = some(PRINCIPALS[3]);
            f.error_code = some("AccessDenied");
            f.to = Some(at(29, 0));
        }),
        with(&all, |f| {
            f.decided_principal_arn = some(DECIDED[0]);
            f.principal_arn = some(PRINCIPALS[1]);
        }),
        with(&all, |f| {
            f.decided_principal_arn = some(DECIDED[0]);
            f.principal_arn = some(DECIDED[0]);
        }),
        with(&all, |f| {
            f.decided_principal_arn = some(DECIDED[2]);
            f.decision = some("ImplicitDeny");
            f.from = Some(at(5, 0));
        }),
        with(&all, |f| {
            f.decided_principal_arn = some(PRINCIPALS[1]);
            f.event_source = some(EVENT_SOURCE_IAM);
            f.to = Some(at(25, 0));
        }),
        with(&all, |f| {
            f.decided_principal_arn = some(DECIDED[1]);
            f.resource_arn = some("arn:aws:s3:::audit-bucket/object-3");
        }),
    ]);
    // Every field of one record at once.
    let one = AuditFields::of(&record(account, 12));
    filters.push(AuditFilter {
        account_id: account.into(),
        organization_id: None,
        from: Some(one.event_time),
        to: Some(one.event_time + Duration::microseconds(1)),
        principal_arn: Some(one.principal_arn),
        decided_principal_arn: one.decided_principal_arn,
        // The record is not in the log: its own (fresh) id would select nothing.
        event_id: None,
        event_name: Some(one.event_name),
        event_source: Some(one.event_source),
        action: Some(one.action),
        resource_arn: one.resource_arn,
        decision: one.decision,
        error_code: None,
    });
    filters
}

/// Pages through `filter`'s records `first` at a time, following each page's last cursor, and
/// checks each page's size and `has_next_page`.
async fn page_through(log: &dyn AuditLog, filter: &AuditFilter, first: usize) -> Vec<(String, AuditRecord)> {
    assert!(first > 0, "paging needs a page size");
    let mut seen: Vec<(String, AuditRecord)> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = log.query(filter, first, after.as_deref()).await.unwrap();
        assert!(
            page.records.len() <= first,
            "a page of {first} held {}",
            page.records.len()
        );
        if page.has_next_page {
            assert_eq!(page.records.len(), first, "a page before the last is full: {filter:?}");
        }
        seen.extend(page.records);
        if !page.has_next_page {
            return seen;
        }
        after = Some(seen.last().expect("a full page").0.clone());
        assert!(seen.len() <= EVERYTHING, "paging does not end: {filter:?}");
    }
}

/// The whole answer on one page.
async fn query_all(log: &dyn AuditLog, filter: &AuditFilter) -> Vec<(String, AuditRecord)> {
    let page = log.query(filter, EVERYTHING, None).await.unwrap();
    assert!(!page.has_next_page, "{filter:?}");
    page.records
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// What is appended reads back identically, every field (times below the microsecond, JSON
/// values with escapes and NUL, absent options), newest first by event time, later arrivals
/// first among equal times, whatever the batches; appending nothing changes nothing.
pub async fn append_then_query_round_trips(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let mut r0 = record(A, 1);
    r0.event_time = at(40, 0);
    r0.request_parameters = json!({
        "bucket": "audit-bucket",
        "key": "caf\u{e9}/\u{2713}/nul\u{0}/\"quoted\"\\",
        "size": 2.5,
        "tags": [true, null, {"z": 1, "a": []}],
        "empty": {},
    });
    r0.user_agent = "agent/1.0 (\u{0}\t\u{1f}\u{7f})".into();
    // A management call that failed: error code and message, null response.
    let mut r1 = record(A, 3);
    r1.event_time = at(39, 0);
    // Ties with r0: arrives later, so comes first.
    let mut r2 = record(A, 5);
    r2.event_time = at(40, 0);
    // Below the microsecond the index orders by; the record keeps its nanoseconds.
    let mut r3 = record(A, 9);
    r3.event_time = at(41, 0) + Duration::nanoseconds(123_456_789);
    let mut r4 = record(A, 2);
    r4.event_time = at(41, 123_457);
    // The root user: no access key, no user name; ties with r1.
    let mut r5 = record(A, 8);
    r5.event_time = at(39, 0);
    r5.user_identity = UserIdentity {
        identity_type: "Root".into(),
        principal_id: A.into(),
        arn: format!("arn:aws:iam::{A}:root"),
        account_id: A.into(),
        access_key_id: None,
        user_name: None,
        session_context: None,
        identity_provider: None,
    };
    assert!(r1.error_code.is_some() && r1.response_elements.is_null());
    assert!(r3.additional_event_data.is_none());

    log.append(vec![r0.clone(), r1.clone()]).await.unwrap();
    log.append(Vec::new()).await.unwrap();
    log.append(vec![r2.clone()]).await.unwrap();
    log.append(vec![r3.clone(), r4.clone(), r5.clone()]).await.unwrap();

    let expected = [&r4, &r3, &r2, &r0, &r5, &r1];
    let page = log.query(&everything(A), 6, None).await.unwrap();
    assert_eq!(page_ids(&page.records), ids(expected), "newest first, ties by arrival");
    for ((_, found), want) in page.records.iter().zip(expected) {
        assert_eq!(found, want, "a record reads back as it was appended");
    }
    assert!(!page.has_next_page);
    let cursors: HashSet<&str> = page.records.iter().map(|(cursor, _)| cursor.as_str()).collect();
    assert_eq!(cursors.len(), 6, "every record has its own cursor");
    assert!(cursors.iter().all(|cursor| !cursor.is_empty()));

    let shorter = log.query(&everything(A), 5, None).await.unwrap();
    assert!(shorter.has_next_page);
    assert_eq!(shorter.records, page.records[..5]);
    assert!(query_all(log, &everything(B)).await.is_empty());
}

/// Paging with `first` and the last record's cursor never skips or repeats and ends with the
/// one-page answer (cursors included), for every page size, with and without a time window
/// (`from` inclusive, `to` exclusive) and field filters; a page before the last is full.
pub async fn paging_never_skips_or_repeats(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let arrival = append_corpus(log, 90, 40).await;
    let all = everything(A);
    let (from, to) = (at(5, 0), at(20, 250));
    let window = with(&all, |f| {
        f.from = Some(from);
        f.to = Some(to);
    });
    // The bounds are record times, so the window's edges are tested.
    assert!(arrival
        .iter()
        .any(|r| r.recipient_account_id == A && r.event_time == from));
    assert!(arrival
        .iter()
        .any(|r| r.recipient_account_id == A && r.event_time == to));
    let windowed = query_all(log, &window).await;
    assert!(windowed.iter().any(|(_, r)| r.event_time == from), "from is inclusive");
    assert!(windowed.iter().all(|(_, r)| r.event_time < to), "to is exclusive");

    let paged_filters = [
        all.clone(),
        window.clone(),
        with(&window, |f| f.principal_arn = some(PRINCIPALS[0])),
        with(&all, |f| f.decision = some("ExplicitDeny")),
        with(&all, |f| f.from = Some(at(10, 250))),
        with(&all, |f| f.to = Some(at(10, 250))),
        everything(B),
    ];
    for filter in &paged_filters {
        let expected = scan(&arrival, filter);
        let one_page = query_all(log, filter).await;
        assert_eq!(page_ids(&one_page), ids(expected.iter().copied()), "{filter:?}");
        assert!(expected.len() > 2, "the corpus gives {filter:?} several pages");
        let total = expected.len();
        let mut sizes = vec![1, 2, 3, 7, 16, total - 1, total, total + 1];
        sizes.sort_unstable();
        sizes.dedup();
        for first in sizes {
            let paged = page_through(log, filter, first).await;
            assert_eq!(paged, one_page, "pages of {first}: {filter:?}");
        }
        let none = log.query(filter, 0, None).await.unwrap();
        assert!(none.records.is_empty(), "first = 0 returns nothing");
        assert!(none.has_next_page, "first = 0: more records match");
        // From the middle: the cursor of record k continues with record k + 1.
        let middle = total / 2;
        let rest = log.query(filter, EVERYTHING, Some(&one_page[middle].0)).await.unwrap();
        assert_eq!(rest.records, one_page[middle + 1..], "{filter:?}");
        let last = log.query(filter, 10, Some(&one_page[total - 1].0)).await.unwrap();
        assert!(
            last.records.is_empty() && !last.has_next_page,
            "nothing after the oldest"
        );
    }
}

/// Every filter field alone and combined, values present and absent, near misses and time
/// windows, selects exactly what a scan of the appended records selects, in the same order.
pub async fn every_filter_matches_a_scan(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let arrival = append_corpus(log, 120, 60).await;
    let mut nonempty = 0;
    for filter in filters(A) {
        let expected = scan(&arrival, &filter);
        let found = query_all(log, &filter).await;
        assert_eq!(page_ids(&found), ids(expected.iter().copied()), "{filter:?}");
        for ((_, found), want) in found.iter().zip(&expected) {
            assert_eq!(found, *want);
        }
        if !expected.is_empty() {
            nonempty += 1;
        }
    }
    assert!(nonempty > 30, "most filters select something ({nonempty})");
    // The corpus tells the two principals apart: a store that read one for the other fails.
    let all = everything(A);
    let about = |arn: &str| scan(&arrival, &with(&all, |f| f.decided_principal_arn = some(arn))).len();
    let by = |arn: &str| scan(&arrival, &with(&all, |f| f.principal_arn = some(arn))).len();
    assert!(
        about(DECIDED[1]) > 0 && by(DECIDED[1]) == 0,
        "decided on, never a caller"
    );
    assert!(
        about(PRINCIPALS[2]) == 0 && by(PRINCIPALS[2]) > 0,
        "a caller, never decided on"
    );
    assert!(about(DECIDED[0]) > 0 && by(DECIDED[0]) > 0);
}

/// `count_by` of every filter and every [`GroupBy`] counts what the scan selects: the largest
/// group first, equal counts by value, `None` (first among equals) for records without the field.
pub async fn count_by_matches_a_scan(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let arrival = append_corpus(log, 120, 60).await;
    let all = everything(A);
    for group_by in [GroupBy::Decision, GroupBy::ErrorCode] {
        let counted = count_scan(&arrival, &all, group_by);
        assert!(
            counted.iter().any(|(value, _)| value.is_none()),
            "{group_by:?} has a None group"
        );
        assert!(counted.len() > 2);
    }
    for filter in filters(A) {
        for group_by in GROUP_BYS {
            let counted = log.count_by(&filter, group_by).await.unwrap();
            assert_eq!(
                counted,
                count_scan(&arrival, &filter, group_by),
                "{group_by:?} of {filter:?}"
            );
        }
    }
}

/// No query or count of one account returns or counts another's records, though the accounts'
/// records have the same field values and interleave: not for any filter, not for an account
/// with no records or an id that is a pattern, and not with a cursor from another account's
/// page (which only bounds the page: the answer is a tail of the account's own).
pub async fn accounts_never_see_each_other(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let arrival = append_corpus(log, 60, 60).await;
    for filter in filters(B) {
        let found = query_all(log, &filter).await;
        assert!(found.iter().all(|(_, r)| r.recipient_account_id == B), "{filter:?}");
        assert_eq!(page_ids(&found), ids(scan(&arrival, &filter)), "{filter:?}");
        for group_by in GROUP_BYS {
            let counted = log.count_by(&filter, group_by).await.unwrap();
            assert_eq!(
                counted,
                count_scan(&arrival, &filter, group_by),
                "{group_by:?} of {filter:?}"
            );
        }
    }
    for account in [C, "", "%", "1111111111__", "11111111111%", "*"] {
        let all = everything(account);
        for filter in [
            all.clone(),
            with(&all, |f| f.principal_arn = some(PRINCIPALS[0])),
            with(&all, |f| f.decision = some("Allow")),
            with(&all, |f| f.from = Some(at(0, 0))),
        ] {
            let page = log.query(&filter, 10, None).await.unwrap();
            assert!(page.records.is_empty() && !page.has_next_page, "{filter:?}");
            for group_by in GROUP_BYS {
                assert!(log.count_by(&filter, group_by).await.unwrap().is_empty(), "{filter:?}");
            }
        }
    }

    // Cursors handed out for one account, used with the other.
    for (mine, theirs) in [(A, B), (B, A)] {
        for filter in [
            everything(mine),
            with(&everything(mine), |f| f.decision = some("Allow")),
        ] {
            let own = query_all(log, &filter).await;
            let their_filter = AuditFilter {
                account_id: theirs.into(),
                ..filter.clone()
            };
            let their_pages = page_through(log, &their_filter, 4).await;
            assert!(!their_pages.is_empty());
            let mut proper_tails = 0;
            let mut previous = own.len();
            for (cursor, _) in &their_pages {
                let page = log.query(&filter, EVERYTHING, Some(cursor)).await.unwrap();
                assert!(
                    page.records.iter().all(|(_, r)| r.recipient_account_id == mine),
                    "{cursor}"
                );
                assert!(!page.has_next_page);
                let tail = own.len() - page.records.len();
                assert_eq!(page.records, own[tail..], "a tail of {mine}'s answer, after {cursor}");
                assert!(page.records.len() <= previous, "older cursors leave less");
                previous = page.records.len();
                if !page.records.is_empty() && page.records.len() < own.len() {
                    proper_tails += 1;
                }
            }
            assert!(proper_tails > 0, "the accounts' records interleave");
        }
    }
}

/// Records appended encoded ([`encode_all`], then [`AuditLog::append_encoded`]) are stored,
/// found, ordered and counted exactly as the same records appended with [`AuditLog::append`],
/// also when the two kinds of append alternate within one account.
pub async fn append_encoded_is_append(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let originals: Vec<AuditRecord> = (0..48).map(|n| record(A, n)).collect();
    let readdressed = |account: &str| -> Vec<AuditRecord> {
        originals
            .iter()
            .map(|r| {
                let mut twin = r.clone();
                twin.recipient_account_id = account.into();
                twin.event_id = next_event_id();
                twin
            })
            .collect()
    };
    // A by append, B by append_encoded, C alternating, the three interleaved.
    let (encoded_b, mixed_c) = (readdressed(B), readdressed(C));
    let mut arrival = Vec::new();
    for (i, ((a, b), c)) in originals
        .chunks(5)
        .zip(encoded_b.chunks(5))
        .zip(mixed_c.chunks(5))
        .enumerate()
    {
        log.append(a.to_vec()).await.unwrap();
        log.append_encoded(encode_all(b).unwrap()).await.unwrap();
        if i % 2 == 0 {
            log.append_encoded(encode_all(c).unwrap()).await.unwrap();
        } else {
            log.append(c.to_vec()).await.unwrap();
        }
        arrival.extend(a.iter().chain(b).chain(c).cloned());
    }
    log.append_encoded(Vec::new()).await.unwrap();

    // Each account's answers, with the addressing (account, eventID) taken out.
    let unaddressed = |r: &AuditRecord| {
        let mut r = r.clone();
        r.recipient_account_id.clear();
        r.event_id.clear();
        r
    };
    let mut answers = Vec::new();
    for account in [A, B, C] {
        let mut answered = Vec::new();
        for filter in filters(account) {
            let found = query_all(log, &filter).await;
            let expected = scan(&arrival, &filter);
            assert_eq!(page_ids(&found), ids(expected.iter().copied()), "{filter:?}");
            for ((_, found), want) in found.iter().zip(&expected) {
                assert_eq!(found, *want, "a record reads back as it was appended");
            }
            let mut counts = Vec::new();
            for group_by in GROUP_BYS {
                let counted = log.count_by(&filter, group_by).await.unwrap();
                assert_eq!(
                    counted,
                    count_scan(&arrival, &filter, group_by),
                    "{group_by:?} of {filter:?}"
                );
                counts.push(counted);
            }
            let records: Vec<AuditRecord> = found.iter().map(|(_, r)| unaddressed(r)).collect();
            answered.push((records, counts));
        }
        assert!(!answered[0].0.is_empty());
        answers.push(answered);
    }
    assert!(answers[1] == answers[0], "B (encoded) answers as A (appended) does");
    assert!(answers[2] == answers[0], "C (both kinds) answers as A (appended) does");
}

/// A cursor that is not one the store hands out is [`AuditError::Invalid`], whatever the filter
/// and whether or not the account has records.
pub async fn malformed_cursors_are_invalid(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    append_corpus(log, 20, 10).await;
    let valid = query_all(log, &everything(A)).await[3].0.clone();
    let malformed = [
        String::new(),
        "not-a-cursor".into(),
        "|".into(),
        "|12".into(),
        "2026-11-01T00:00:00.000000Z".into(),
        "2026-11-01T00:00:00.000000Z|".into(),
        "2026-11-01T00:00:00.000000Z|x".into(),
        "2026-11-01T00:00:00.000000Z|1.5".into(),
        "2026-11-01T00:00:00.000000Z| 12".into(),
        "2026-11-01T00:00:00.000000Z|99999999999999999999".into(),
        "2026-11-01|12".into(),
        "yesterday|12".into(),
        format!("{valid}x"),
        format!("x{valid}"),
    ];
    let filters = [
        everything(A),
        with(&everything(A), |f| {
            f.principal_arn = some("arn:aws:iam::111111111111:user/nobody")
        }),
        with(&everything(B), |f| f.decision = some("Allow")),
        everything(C),
    ];
    for filter in &filters {
        for cursor in &malformed {
            match log.query(filter, 10, Some(cursor)).await {
                Err(AuditError::Invalid(_)) => {}
                other => panic!("cursor {cursor:?} with {filter:?}: expected Invalid, got {other:?}"),
            }
        }
    }
    assert!(log.query(&everything(A), 10, Some(&valid)).await.is_ok());
}

/// Text a client chose (a decided resource, an ARN a read named) may hold any character, NUL
/// included: such a record is stored whole and found by the same text, and the records around it
/// are not held up (PostgreSQL refuses NUL in text columns: a store that passed it on would
/// stop its consumer, and every tenant's history behind it).
pub async fn control_characters_in_indexed_fields_are_stored_and_found(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let mut odd = record(A, 0);
    let resource = "arn:aws:s3:::bucket/\u{0}nul\u{1}\u{7f}\t";
    let action = "s3:Get\u{0}Object";
    if let Some(data) = odd
        .additional_event_data
        .as_mut()
        .and_then(serde_json::Value::as_object_mut)
    {
        data.insert("resource".into(), json!(resource));
        data.insert("action".into(), json!(action));
    }
    odd.user_identity.arn = "arn:aws:iam::111111111111:user/\u{0}".into();
    let decided = "arn:aws:iam::111111111111:user/\u{0}\u{1}decided";
    odd.request_parameters["principalArn"] = json!(decided);
    let after = record(A, 1);
    log.append(vec![odd.clone(), after.clone()]).await.unwrap();
    let all = everything(A);
    for filter in [
        with(&all, |f| f.resource_arn = Some(resource.into())),
        with(&all, |f| f.action = Some(action.into())),
        with(&all, |f| f.principal_arn = Some(odd.user_identity.arn.clone())),
        with(&all, |f| f.decided_principal_arn = Some(decided.into())),
    ] {
        let found = query_all(log, &filter).await;
        assert_eq!(found.len(), 1, "{filter:?}");
        assert_eq!(found[0].1, odd);
    }
    assert_eq!(query_all(log, &all).await.len(), 2);
    drop(after);
}

/// A fresh store is ready, says it holds nothing behind (when it can tell) and answers every
/// query and count empty; appending nothing keeps it so.
pub async fn fresh_store_is_ready_and_empty(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    log.ready().await.unwrap();
    assert!(log.backlog().is_none_or(|n| n == 0), "{:?}", log.backlog());
    log.append(Vec::new()).await.unwrap();
    log.append_encoded(Vec::new()).await.unwrap();
    for filter in filters(A) {
        let page = log.query(&filter, 10, None).await.unwrap();
        assert!(page.records.is_empty() && !page.has_next_page, "{filter:?}");
        for group_by in GROUP_BYS {
            assert!(log.count_by(&filter, group_by).await.unwrap().is_empty());
        }
    }
    log.ready().await.unwrap();
    assert!(log.backlog().is_none_or(|n| n == 0), "{:?}", log.backlog());
}

/// Many tasks append at once (batches of one to three records, mixing accounts, by `append` and
/// `append_encoded`): every record becomes queryable exactly once, as appended, each task's
/// records in its order; the store stays ready and, once queried, has nothing behind.
pub async fn concurrent_appends_are_queryable_exactly_once(sut: AuditLogUnderTest) {
    const TASKS: usize = 12;
    const APPENDS: usize = 8;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let log = sut.log.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut appended = Vec::new();
            barrier.wait().await;
            for i in 0..APPENDS {
                let batch: Vec<AuditRecord> = (0..1 + (task + i) % 3)
                    .map(|k| {
                        let account = if (task + i + k) % 2 == 0 { A } else { B };
                        let mut r = record(account, task * 100 + i * 10 + k);
                        // One time for all: the order is the arrival order alone.
                        r.event_time = at(0, 0);
                        r
                    })
                    .collect();
                if i % 2 == 0 {
                    log.append(batch.clone()).await.unwrap();
                } else {
                    log.append_encoded(encode_all(&batch).unwrap()).await.unwrap();
                }
                appended.extend(batch);
            }
            appended
        }));
    }
    let mut by_task = Vec::new();
    for handle in handles {
        by_task.push(handle.await.unwrap());
    }
    for account in [A, B] {
        let found = query_all(&*sut.log, &everything(account)).await;
        let written: HashMap<&str, &AuditRecord> = by_task
            .iter()
            .flatten()
            .filter(|r| r.recipient_account_id == account)
            .map(|r| (r.event_id.as_str(), r))
            .collect();
        assert_eq!(found.len(), written.len(), "every record once");
        let distinct: HashSet<&str> = page_ids(&found).into_iter().collect();
        assert_eq!(distinct.len(), found.len(), "no record twice");
        for (_, r) in &found {
            assert_eq!(
                Some(&r),
                written.get(r.event_id.as_str()),
                "a record reads back as appended"
            );
        }
        for appended in &by_task {
            let mine: HashSet<&str> = appended
                .iter()
                .filter(|r| r.recipient_account_id == account)
                .map(|r| r.event_id.as_str())
                .collect();
            let order: Vec<&str> = page_ids(&found).into_iter().filter(|id| mine.contains(id)).collect();
            let mut expected: Vec<&str> = appended
                .iter()
                .filter(|r| r.recipient_account_id == account)
                .map(|r| r.event_id.as_str())
                .collect();
            expected.reverse();
            assert_eq!(order, expected, "a task's records newest first in its order");
        }
        let counted: u64 = sut
            .log
            .count_by(&everything(account), GroupBy::EventName)
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(counted, written.len() as u64);
    }
    sut.log.ready().await.unwrap();
    assert!(sut.log.backlog().is_none_or(|n| n == 0), "{:?}", sut.log.backlog());
}

/// An event id finds the one record with that `eventID` (named in either case), in its own
/// account or trail only: another account's id finds nothing, as does a trail's id outside the
/// trail; other filters narrow it as usual and `count_by` counts it. A record whose id is not a
/// canonical UUID (Gatehouse writes none) is found by no id; an id that is not a UUID is
/// [`AuditError::Invalid`], for queries and counts alike.
pub async fn event_ids_find_one_record_in_its_own_history(sut: AuditLogUnderTest) {
    let log = &*sut.log;
    let mut arrival = append_corpus(log, 30, 30).await;
    let mut joined_a = record(A, 31);
    joined_a.set_organization_id(ORGANIZATION);
    let mut joined_b = record(B, 32);
    joined_b.set_organization_id(ORGANIZATION);
    let mut outsider = record(C, 33);
    outsider.set_organization_id(OTHER_ORGANIZATION);
    let mut uppercase = record(A, 34);
    // Hex letters in upper case (the counter's leading digits are zeros, so the id stays unique):
    // the UUID whose canonical form is its lowercase.
    let id = next_event_id();
    uppercase.event_id = format!("{}ABCDEF{}", &id[..24], &id[30..]);
    assert_ne!(uppercase.event_id, uppercase.event_id.to_lowercase());
    let mut not_uuid = record(A, 35);
    not_uuid.event_id = "not-a-uuid".into();
    let extra = vec![
        joined_a.clone(),
        joined_b.clone(),
        outsider.clone(),
        uppercase.clone(),
        not_uuid,
    ];
    log.append_encoded(encode_all(&extra).unwrap()).await.unwrap();
    arrival.extend(extra);

    let by_id = |account: &str, id: &str| with(&everything(account), |f| f.event_id = some(id));
    let counted = |counts: Vec<(Option<String>, u64)>| counts.iter().map(|(_, n)| n).sum::<u64>();
    for r in arrival.iter().filter(|r| AuditFields::of(r).event_key().is_some()) {
        for account in [A, B, C] {
            let filter = by_id(account, &r.event_id);
            let found = query_all(log, &filter).await;
            assert_eq!(page_ids(&found), ids(scan(&arrival, &filter)), "{filter:?}");
            let total = counted(log.count_by(&filter, GroupBy::EventName).await.unwrap());
            if account == r.recipient_account_id {
                assert_eq!(found.len(), 1, "{filter:?}");
                assert_eq!(&found[0].1, r, "the record reads back as it was appended");
                assert_eq!(total, 1);
            } else {
                assert!(found.is_empty(), "another account's id finds nothing: {filter:?}");
                assert_eq!(total, 0);
            }
        }
    }
    // Either case names the record; an unknown id, and ids Gatehouse does not write, none.
    let some_a = arrival
        .iter()
        .find(|r| r.recipient_account_id == A && r.event_id != r.event_id.to_uppercase())
        .expect("ids with hex letters");
    let found = query_all(log, &by_id(A, &some_a.event_id.to_uppercase())).await;
    assert_eq!(page_ids(&found), [some_a.event_id.as_str()]);
    for id in [
        "01900000-0000-7000-8000-ffffffffffff".to_owned(),
        uppercase.event_id.clone(),
        uppercase.event_id.to_lowercase(),
    ] {
        assert!(query_all(log, &by_id(A, &id)).await.is_empty(), "{id}");
        assert!(log
            .count_by(&by_id(A, &id), GroupBy::Decision)
            .await
            .unwrap()
            .is_empty());
    }

    // With other filters: the record when they match it, nothing when they do not.
    for r in arrival.iter().filter(|r| r.recipient_account_id == A).take(12) {
        for filter in filters(A) {
            let filter = with(&filter, |f| f.event_id = some(&r.event_id));
            let expected = scan(&arrival, &filter);
            assert!(expected.len() <= 1);
            let found = query_all(log, &filter).await;
            assert_eq!(page_ids(&found), ids(expected.iter().copied()), "{filter:?}");
            for group_by in [GroupBy::Decision, GroupBy::PrincipalArn] {
                assert_eq!(
                    log.count_by(&filter, group_by).await.unwrap(),
                    count_scan(&arrival, &filter, group_by),
                    "{group_by:?} of {filter:?}"
                );
            }
        }
    }

    // Trails: a member's record by its id in the whole trail and narrowed to its account; not
    // narrowed to another member, not in another organization's trail; a record from before its
    // account joined and an outsider's are in no trail of this organization.
    let trail = AuditFilter {
        organization_id: some(ORGANIZATION),
        ..AuditFilter::default()
    };
    let other_trail = with(&trail, |f| f.organization_id = some(OTHER_ORGANIZATION));
    // Written without an organization, as before its account joined.
    let before_joining = arrival.iter().find(|r| r.recipient_account_id == A).unwrap();
    let cases = [
        (with(&trail, |f| f.event_id = some(&joined_a.event_id)), Some(&joined_a)),
        (with(&trail, |f| f.event_id = some(&joined_b.event_id)), Some(&joined_b)),
        (
            with(&trail, |f| {
                f.event_id = some(&joined_b.event_id);
                f.account_id = B.into();
            }),
            Some(&joined_b),
        ),
        (
            with(&trail, |f| {
                f.event_id = some(&joined_b.event_id);
                f.account_id = A.into();
            }),
            None,
        ),
        (with(&trail, |f| f.event_id = some(&outsider.event_id)), None),
        (with(&trail, |f| f.event_id = some(&before_joining.event_id)), None),
        (
            with(&other_trail, |f| f.event_id = some(&outsider.event_id)),
            Some(&outsider),
        ),
        (with(&other_trail, |f| f.event_id = some(&joined_a.event_id)), None),
        (
            with(&trail, |f| {
                f.event_id = some(&joined_a.event_id);
                f.decided_principal_arn = joined_a.decided_principal_arn().map(str::to_owned);
            }),
            Some(&joined_a),
        ),
        (
            with(&trail, |f| {
                f.event_id = some(&joined_a.event_id);
                f.decision = some("NoSuchDecision");
            }),
            None,
        ),
    ];
    for (filter, want) in cases {
        let found = query_all(log, &filter).await;
        assert_eq!(page_ids(&found), ids(scan(&arrival, &filter)), "{filter:?}");
        assert_eq!(page_ids(&found), ids(want), "{filter:?}");
        let total = counted(log.count_by(&filter, GroupBy::Action).await.unwrap());
        assert_eq!(total, u64::from(want.is_some()), "{filter:?}");
    }

    // Not a UUID: refused, whatever else the query says.
    for id in [
        "",
        "not-a-uuid",
        "01900000000070008000000000000001",
        "{01900000-0000-7000-8000-000000000001}",
        "01900000-0000-7000-8000-00000000000g",
        " 01900000-0000-7000-8000-000000000001",
        "%",
    ] {
        for filter in [by_id(A, id), by_id(C, id), with(&trail, |f| f.event_id = some(id))] {
            match log.query(&filter, 10, None).await {
                Err(AuditError::Invalid(_)) => {}
                other => panic!("{filter:?}: expected Invalid, got {other:?}"),
            }
            let valid_cursor = query_all(log, &everything(A)).await[0].0.clone();
            match log.query(&filter, 10, Some(&valid_cursor)).await {
                Err(AuditError::Invalid(_)) => {}
                other => panic!("{filter:?} after a cursor: expected Invalid, got {other:?}"),
            }
            match log.count_by(&filter, GroupBy::EventName).await {
                Err(AuditError::Invalid(_)) => {}
                other => panic!("counting {filter:?}: expected Invalid, got {other:?}"),
            }
        }
    }
}

/// The organization of A and B in [`organization_trails_hold_their_members_records_only`].
const ORGANIZATION: &str = "o-conform1ab";
/// C's organization, for some of C's records.
const OTHER_ORGANIZATION: &str = "o-conform2cd";

/// An organization trail holds exactly the records written with its organization id: of every
/// member account, merged newest first as one account's are, paged with cursors across accounts,
/// filtered and counted like one account's, narrowed to one account by `account_id`. A member's
/// records from before it joined, an outsider's records (in another organization or in none) and
/// any organization's records for a filter without the organization stay out.
pub async fn organization_trails_hold_their_members_records_only(sut: AuditLogUnderTest) {
    /// A's records before this `n` were written before it joined.
    const JOINED: usize = 12;
    const RECORDS: usize = 60;
    let log = &*sut.log;
    let mut arrival = Vec::new();
    for n in 0..RECORDS {
        let mut a = record(A, n);
        if n >= JOINED {
            a.set_organization_id(ORGANIZATION);
        }
        let mut b = record(B, n);
        b.set_organization_id(ORGANIZATION);
        let mut c = record(C, n);
        if n % 2 == 0 {
            c.set_organization_id(OTHER_ORGANIZATION);
        }
        arrival.extend([a, b, c]);
    }
    // Records without additionalEventData got one holding the organization alone.
    assert!(arrival
        .iter()
        .any(|r| r.additional_event_data.as_ref().is_some_and(|d| d
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key(ORGANIZATION_ID_KEY)))));
    for (i, batch) in arrival.chunks(7).enumerate() {
        if i % 2 == 0 {
            log.append(batch.to_vec()).await.unwrap();
        } else {
            log.append_encoded(encode_all(batch).unwrap()).await.unwrap();
        }
    }

    let trail = AuditFilter {
        organization_id: some(ORGANIZATION),
        ..AuditFilter::default()
    };
    let found = query_all(log, &trail).await;
    assert_eq!(page_ids(&found), ids(scan(&arrival, &trail)));
    assert_eq!(found.len(), 2 * RECORDS - JOINED);
    for (_, r) in &found {
        assert!(r.recipient_account_id == A || r.recipient_account_id == B, "{r:?}");
        assert_eq!(r.organization_id(), Some(ORGANIZATION));
    }
    let found_ids: HashSet<&str> = page_ids(&found).into_iter().collect();
    let before_joining = arrival
        .iter()
        .filter(|r| r.recipient_account_id == A && r.organization_id().is_none());
    assert!(
        before_joining.clone().count() == JOINED
            && before_joining.clone().all(|r| !found_ids.contains(r.event_id.as_str())),
        "a member's records from before it joined are not in the trail"
    );
    for ((_, found), want) in found.iter().zip(scan(&arrival, &trail)) {
        assert_eq!(found, want, "a record reads back as it was appended");
    }
    // The two members' records interleave on the trail's pages.
    let switches = found
        .windows(2)
        .filter(|pair| pair[0].1.recipient_account_id != pair[1].1.recipient_account_id)
        .count();
    assert!(
        switches > 10,
        "the members' records are merged in time order ({switches})"
    );

    // Paging across the members, with and without a window and a field filter.
    let paged = [
        trail.clone(),
        with(&trail, |f| {
            f.from = Some(at(5, 0));
            f.to = Some(at(20, 250));
        }),
        with(&trail, |f| f.decision = some("Allow")),
        with(&trail, |f| f.account_id = B.into()),
    ];
    for filter in &paged {
        let one_page = query_all(log, filter).await;
        assert_eq!(page_ids(&one_page), ids(scan(&arrival, filter)), "{filter:?}");
        let total = one_page.len();
        assert!(total > 2, "{filter:?} has several pages");
        let mut sizes = vec![1, 2, 3, 7, 16, total - 1, total, total + 1];
        sizes.sort_unstable();
        sizes.dedup();
        for first in sizes {
            assert_eq!(
                page_through(log, filter, first).await,
                one_page,
                "pages of {first}: {filter:?}"
            );
        }
        let middle = total / 2;
        let rest = log.query(filter, EVERYTHING, Some(&one_page[middle].0)).await.unwrap();
        assert_eq!(rest.records, one_page[middle + 1..], "{filter:?}");
    }

    // Every filter of one account, over the trail, narrowed to each member, and over the
    // outsider's organization; each query and count is what a scan finds.
    let mut scoped = Vec::new();
    for filter in filters(A) {
        for (organization, account) in [
            (ORGANIZATION, ""),
            (ORGANIZATION, A),
            (ORGANIZATION, B),
            (OTHER_ORGANIZATION, ""),
        ] {
            scoped.push(with(&filter, |f| {
                f.organization_id = some(organization);
                f.account_id = account.into();
            }));
        }
    }
    let mut nonempty = 0;
    for filter in &scoped {
        let expected = scan(&arrival, filter);
        let found = query_all(log, filter).await;
        assert_eq!(page_ids(&found), ids(expected.iter().copied()), "{filter:?}");
        if !found.is_empty() {
            nonempty += 1;
        }
        for group_by in GROUP_BYS {
            assert_eq!(
                log.count_by(filter, group_by).await.unwrap(),
                count_scan(&arrival, filter, group_by),
                "{group_by:?} of {filter:?}"
            );
        }
    }
    assert!(
        nonempty > scoped.len() / 2,
        "most scoped filters select something ({nonempty})"
    );

    // The narrowed trail of A holds only what A wrote as a member.
    let narrowed = query_all(log, &with(&trail, |f| f.account_id = A.into())).await;
    assert_eq!(narrowed.len(), RECORDS - JOINED);
    // The outsider is in no trail of A's organization, an unknown organization holds nothing,
    // and the account alone still selects all of an account's records, members' or not.
    for filter in [
        with(&trail, |f| f.account_id = C.into()),
        with(&trail, |f| f.account_id = "%".into()),
        with(&trail, |f| f.organization_id = some("o-nosuchorg0")),
        with(&trail, |f| f.organization_id = some("")),
        with(&trail, |f| f.organization_id = some("o-conform%")),
    ] {
        let page = log.query(&filter, 10, None).await.unwrap();
        assert!(page.records.is_empty() && !page.has_next_page, "{filter:?}");
        for group_by in GROUP_BYS {
            assert!(log.count_by(&filter, group_by).await.unwrap().is_empty(), "{filter:?}");
        }
    }
    for account in [A, B, C] {
        assert_eq!(query_all(log, &everything(account)).await.len(), RECORDS, "{account}");
    }
    let outsiders = query_all(log, &with(&trail, |f| f.organization_id = some(OTHER_ORGANIZATION))).await;
    assert_eq!(outsiders.len(), RECORDS / 2);
    assert!(outsiders.iter().all(|(_, r)| r.recipient_account_id == C));
}

/// Generates one `#[tokio::test]` per [`AuditLog`] conformance check in a module named
/// `audit_log_conformance`. The argument is a callable returning a future of a fresh
/// [`AuditLogUnderTest`]. Attributes after it are put on every generated test, e.g. a store that
/// needs a server passes `#[ignore = "needs PostgreSQL"]`:
///
/// ```text
/// iam_audit::audit_log_conformance_tests!(postgres_audit, #[ignore = "needs PostgreSQL"]);
/// ```
#[macro_export]
macro_rules! audit_log_conformance_tests {
    ($factory:expr $(, #[$attr:meta])* $(,)?) => {
        mod audit_log_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__audit_log_conformance_tests!(
                $factory;
                [$(#[$attr])*];
                append_then_query_round_trips,
                paging_never_skips_or_repeats,
                every_filter_matches_a_scan,
                count_by_matches_a_scan,
                accounts_never_see_each_other,
                append_encoded_is_append,
                malformed_cursors_are_invalid,
                fresh_store_is_ready_and_empty,
                concurrent_appends_are_queryable_exactly_once,
                control_characters_in_indexed_fields_are_stored_and_found,
                organization_trails_hold_their_members_records_only,
                event_ids_find_one_record_in_its_own_history,
            );
        }
    };
}

/// Expands each named conformance check into a multi-threaded `#[tokio::test]` carrying the
/// bracketed attributes.
#[doc(hidden)]
#[macro_export]
macro_rules! __audit_log_conformance_tests {
    ($factory:expr; $attrs:tt; $($name:ident),+ $(,)?) => {
        $(
            $crate::__audit_log_conformance_test!($factory; $attrs; $name);
        )+
    };
}

/// One conformance check as a test; the attribute list arrives as a single token tree so that
/// `__audit_log_conformance_tests!` can repeat it for every check.
#[doc(hidden)]
#[macro_export]
macro_rules! __audit_log_conformance_test {
    ($factory:expr; [$(#[$attr:meta])*]; $name:ident) => {
        $(#[$attr])*
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            $crate::conformance::$name(($factory)().await).await;
        }
    };
}

/// For stores that keep chains: an account's digests read page by page (`digest_page`, two at a
/// time) are its `digests`, in order and once each; an account without digests has one empty
/// last page. Not in the generated suite, which also runs against stores without chains.
pub async fn digest_pages_are_the_digests(log: &dyn AuditLog) {
    let signer = Arc::new(
        crate::integrity::AuditSigner::generate("2026-12-07T00:00:00Z")
            .expect("a signing key")
            .0,
    );
    let account = "333344445555";
    for round in 0..5 {
        log.append(vec![record(account, round)]).await.expect("append");
        let signed = log.sign_digests(signer.clone(), Some(account)).await.expect("sign");
        assert_eq!(signed.len(), 1, "one digest per round");
    }
    let all = log.digests(account).await.expect("digests");
    assert_eq!(all.len(), 5);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = log.digest_page(account, after, 2).await.expect("a page");
        assert!(page.len() <= 2, "a page holds at most its limit");
        paged.extend(page);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, all, "the pages are the digests, in order");
    let (none, next) = log
        .digest_page("999988887777", None, 2)
        .await
        .expect("an account without digests");
    assert!(none.is_empty() && next.is_none());
}
