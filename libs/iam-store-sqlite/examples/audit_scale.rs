//! Audit history at scale: loads N records (default 10 million) of one account, plus 10% for
//! other accounts, into an audit log and times the filtered queries `auditEvents` runs.
//!
//! `cargo run --release -p iam-store-sqlite --example audit_scale -- [records] [path]`
//! An existing file with enough records is reused, so queries can be re-timed without reloading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use iam_audit::{AuditFilter, AuditLog, AuditRecord, GroupBy, UserIdentity};
use iam_store_sqlite::{AuditDurability, SqliteAuditLog};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const PRINCIPALS: u64 = 1_000;

fn record(account: &str, i: u64) -> AuditRecord {
    let principal = format!("arn:aws:iam::{account}:user/team-{}/user-{}", i % 10, i % PRINCIPALS);
    let management = i % 50 == 0;
    let decision = match i % 20 {
        0 => "ExplicitDeny",
        1..=3 => "ImplicitDeny",
        _ => "Allow",
    };
    let resource = format!("arn:aws:s3:::bucket-{}/reports/{}.pdf", i % 100, i % 10_000);
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: UserIdentity {
            identity_type: "IAMUser".into(),
            principal_id: format!("AIDA{:017}", i % PRINCIPALS),
            arn: principal.clone(),
            account_id: account.into(),
            access_key_id: Some(format!("AKIA{:016}", i % PRINCIPALS)),
            user_name: Some(format!("user-{}", i % PRINCIPALS)),
            session_context: None,
            identity_provider: None,
        },
        // One record every 50 ms: 10 million records span about 6 days.
        event_time: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::milliseconds((i * 50) as i64),
        event_source: if management {
            "iam.amazonaws.com"
        } else {
            "authz.gatehouse.dev"
        }
        .into(),
        event_name: if management { "CreateUser" } else { "Authorize" }.into(),
        aws_region: "us-east-1".into(),
        source_ip_address: format!("10.0.{}.{}", i % 250, i % 200),
        user_agent: "aws-sdk-rust/1.0".into(),
        request_parameters: json!({"principalArn": principal, "action": "s3:GetObject", "resource": resource}),
        response_elements: json!({"decision": decision}),
        error_code: (i % 97 == 0).then(|| "AccessDenied".to_owned()),
        error_message: None,
        request_id: uuid::Uuid::now_v7().to_string(),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: !management,
        event_type: "GatehouseAuthorization".into(),
        api_version: None,
        recipient_account_id: account.into(),
        additional_event_data: Some(
            json!({"decision": decision, "action": "s3:GetObject", "resource": resource,
            "policies": [{"id": "arn:aws:iam::123456789012:policy/reports", "policyType": "user-managed", "versionId": "v3"}],
            "accountSequence": i / 1000}),
        ),
    }
}

async fn time<F, Fut>(name: &str, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut samples = Vec::new();
    let mut rows = 0;
    for _ in 0..21 {
        let started = Instant::now();
        rows = run().await;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "{name:<58} rows {rows:>5}  median {:>8.2} ms  max {:>8.2} ms",
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).map_or(10_000_000, |n| n.parse().unwrap());
    let path = args.get(2).cloned().unwrap_or_else(|| "target/audit-scale.db".into());
    let log = SqliteAuditLog::open(&path, AuditDurability::Process).await.unwrap();
    let all = AuditFilter {
        account_id: ACCOUNT.into(),
        ..AuditFilter::default()
    };
    let present: u64 = log
        .count_by(&all, GroupBy::EventSource)
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    if present < total {
        let started = Instant::now();
        let mut i = present;
        while i < total {
            let mut batch: Vec<AuditRecord> = (i..(i + 10_000).min(total)).map(|n| record(ACCOUNT, n)).collect();
            // 10% noise from other accounts, interleaved.
            batch.extend((0..1_000).map(|n| record(&format!("{:012}", 200_000_000_000 + (i + n) % 50), i + n)));
            log.append(batch).await.unwrap();
            i = (i + 10_000).min(total);
            if i % 1_000_000 == 0 || i == total {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "loaded {i} records in {secs:.0} s ({:.0} records/s)",
                    (i - present) as f64 * 1.1 / secs
                );
            }
        }
    }
    println!("{total} records of account {ACCOUNT} (plus 10% of other accounts) in {path}");
    let page = |filter: AuditFilter| {
        let log = log.clone();
        move || {
            let (log, filter) = (log.clone(), filter.clone());
            async move { log.query(&filter, 50, None).await.unwrap().records.len() }
        }
    };
    time("newest 50, no filter", page(all.clone())).await;
    time(
        "principalArn = one of 1,000 users",
        page(AuditFilter {
            principal_arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/team-7/user-417")),
            ..all.clone()
        }),
    )
    .await;
    time(
        "decision = ExplicitDeny",
        page(AuditFilter {
            decision: Some("ExplicitDeny".into()),
            ..all.clone()
        }),
    )
    .await;
    time(
        "eventName = CreateUser",
        page(AuditFilter {
            event_name: Some("CreateUser".into()),
            ..all.clone()
        }),
    )
    .await;
    time(
        "errorCode = AccessDenied",
        page(AuditFilter {
            error_code: Some("AccessDenied".into()),
            ..all.clone()
        }),
    )
    .await;
    time(
        "resourceArn = one object",
        page(AuditFilter {
            resource_arn: Some("arn:aws:s3:::bucket-17/reports/517.pdf".into()),
            ..all.clone()
        }),
    )
    .await;
    let day = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    time(
        "one hour, 1 day into the history",
        page(AuditFilter {
            from: Some(day),
            to: Some(day + Duration::hours(1)),
            ..all.clone()
        }),
    )
    .await;
    time(
        "one hour + principal + decision = Allow",
        page(AuditFilter {
            from: Some(day),
            to: Some(day + Duration::hours(1)),
            principal_arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/team-7/user-417")),
            decision: Some("Allow".into()),
            ..all.clone()
        }),
    )
    .await;
    let first = log.query(&all, 50, None).await.unwrap();
    let cursor = first.records.last().unwrap().0.clone();
    time("second page (cursor)", || {
        let (log, all, cursor) = (log.clone(), all.clone(), cursor.clone());
        async move { log.query(&all, 50, Some(&cursor)).await.unwrap().records.len() }
    })
    .await;
    time("counts by decision, one hour", || {
        let (log, filter) = (
            log.clone(),
            AuditFilter {
                from: Some(day),
                to: Some(day + Duration::hours(1)),
                ..all.clone()
            },
        );
        async move { log.count_by(&filter, GroupBy::Decision).await.unwrap().len() }
    })
    .await;
}
