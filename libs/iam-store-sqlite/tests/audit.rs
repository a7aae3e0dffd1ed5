//! The embedded audit log: durable appends, newest-first pages that never skip or repeat,
//! filters, counts, export, and no query that crosses accounts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use iam_audit::{AuditFilter, AuditLog, AuditRecord, GroupBy, UserIdentity};
use iam_store_sqlite::{AuditDurability, SqliteAuditLog};
use serde_json::json;

fn record(account: &str, i: i64, principal: &str, decision: &str) -> AuditRecord {
    AuditRecord {
        event_version: "1.09".into(),
        user_identity: UserIdentity {
            identity_type: "IAMUser".into(),
            principal_id: "AIDAEXAMPLE".into(),
            arn: principal.into(),
            account_id: account.into(),
            access_key_id: None,
            user_name: None,
        },
        // Several records share a timestamp, so ties must be broken by position.
        event_time: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::seconds(i / 3),
        event_source: "authz.gatehouse.dev".into(),
        event_name: "Authorize".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        request_parameters: json!({"n": i}),
        response_elements: json!({"decision": decision}),
        error_code: None,
        error_message: None,
        request_id: format!("r{i}"),
        event_id: uuid::Uuid::now_v7().to_string(),
        read_only: true,
        event_type: "GatehouseAuthorization".into(),
        recipient_account_id: account.into(),
        additional_event_data: Some(json!({"decision": decision, "action": "s3:GetObject",
            "resource": format!("arn:aws:s3:::b/{}", i % 4)})),
    }
}

const A: &str = "111111111111";
const B: &str = "222222222222";

#[tokio::test]
async fn pages_filters_counts_and_exports_stay_within_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let mut appends = Vec::new();
    for i in 0..45 {
        let principal = if i % 2 == 0 {
            "arn:aws:iam::111111111111:user/even"
        } else {
            "arn:aws:iam::111111111111:user/odd"
        };
        let decision = if i % 5 == 0 { "ExplicitDeny" } else { "Allow" };
        appends.push(record(A, i, principal, decision));
        appends.push(record(B, i, "arn:aws:iam::222222222222:user/b", "Allow"));
    }
    // Concurrent appends are grouped into shared commits.
    let (first, second) = appends.split_at(40);
    let (x, y) = tokio::join!(log.append(first.to_vec()), log.append(second.to_vec()));
    x.unwrap();
    y.unwrap();

    let all = AuditFilter {
        account_id: A.into(),
        ..AuditFilter::default()
    };
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = log.query(&all, 10, after.as_deref()).await.unwrap();
        seen.extend(
            page.records
                .iter()
                .map(|(_, r)| r.request_parameters["n"].as_i64().unwrap()),
        );
        assert!(page.records.iter().all(|(_, r)| r.recipient_account_id == A));
        if !page.has_next_page {
            break;
        }
        after = page.records.last().map(|(cursor, _)| cursor.clone());
    }
    assert_eq!(
        seen,
        (0..45).rev().collect::<Vec<_>>(),
        "newest first, nothing skipped or repeated"
    );

    let denies = log
        .query(
            &AuditFilter {
                decision: Some("ExplicitDeny".into()),
                principal_arn: Some("arn:aws:iam::111111111111:user/even".into()),
                ..all.clone()
            },
            100,
            None,
        )
        .await
        .unwrap();
    let numbers: Vec<i64> = denies
        .records
        .iter()
        .map(|(_, r)| r.request_parameters["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [40, 30, 20, 10, 0]);

    let window = log
        .query(
            &AuditFilter {
                from: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 3).unwrap()),
                to: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 5).unwrap()),
                ..all.clone()
            },
            100,
            None,
        )
        .await
        .unwrap();
    let numbers: Vec<i64> = window
        .records
        .iter()
        .map(|(_, r)| r.request_parameters["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [14, 13, 12, 11, 10, 9]);

    let counts = log.count_by(&all, GroupBy::Decision).await.unwrap();
    assert_eq!(
        counts,
        [(Some("Allow".to_owned()), 36), (Some("ExplicitDeny".to_owned()), 9)]
    );
    let by_resource = log
        .count_by(
            &AuditFilter {
                resource_arn: Some("arn:aws:s3:::b/1".into()),
                ..all.clone()
            },
            GroupBy::PrincipalArn,
        )
        .await
        .unwrap();
    assert_eq!(
        by_resource,
        [(Some("arn:aws:iam::111111111111:user/odd".to_owned()), 11)]
    );

    assert!(log.query(&all, 10, Some("not-a-cursor")).await.is_err());
    let exported = log.export(B, None, None).await.unwrap();
    assert_eq!(exported.len(), 45);
    assert!(exported.iter().all(|r| r.recipient_account_id == B));
    log.close().await;

    // Reopened, everything acknowledged is there.
    let reopened = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(reopened.export(A, None, None).await.unwrap().len(), 45);
}

/// A log written before the lean schema (3000002) upgrades in place and is read as it is: every
/// record and the append-only triggers survive, and new appends go to the record file, continuing
/// after the old positions.
#[tokio::test]
async fn a_log_from_before_the_lean_schema_upgrades_with_its_records() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::Row;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    // The first migration alone, as an older Gatehouse applied it.
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/migrations/sqlite/audit");
    std::fs::copy(
        schema.join("3000001_create_audit_log.sql"),
        old.join("3000001_create_audit_log.sql"),
    )
    .unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let old_record = record(A, 1, "arn:aws:iam::111111111111:user/old", "Allow");
    sqlx::query("INSERT INTO audit_log (position, account_id, event_id, event_time, record) VALUES (7, ?, ?, ?, ?)")
        .bind(A)
        .bind(&old_record.event_id)
        .bind("2026-11-01T00:00:00.000000Z")
        .bind(serde_json::to_string(&old_record).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    log.append(vec![record(A, 2, "arn:aws:iam::111111111111:user/new", "Allow")])
        .await
        .unwrap();
    let filter = AuditFilter {
        account_id: A.into(),
        ..AuditFilter::default()
    };
    let page = log.query(&filter, 10, None).await.unwrap();
    let ids: Vec<&str> = page.records.iter().map(|(_, r)| r.event_id.as_str()).collect();
    assert_eq!(page.records.len(), 2, "{ids:?}");
    assert!(ids.contains(&old_record.event_id.as_str()));
    let mut positions: Vec<&str> = page
        .records
        .iter()
        .map(|(cursor, _)| cursor.rsplit('|').next().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, vec!["7", "8"]);
    log.close().await;
    drop(log);

    // Reopened (the index rebuilt from both logs), the old record is still found.
    std::fs::remove_file(dir.path().join("audit-index.db")).unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(log.export(A, None, None).await.unwrap().len(), 2);
    log.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let positions: Vec<i64> = sqlx::query("SELECT position FROM audit_log ORDER BY position")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(positions, vec![7], "new records go to the record file");
    let update = sqlx::query("UPDATE audit_log SET record = '{}' WHERE position = 7")
        .execute(&pool)
        .await;
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
}

/// Every filter field, alone and combined, selects exactly what a scan of the records in memory
/// selects, newest first: whichever index the query reads (the partial ones included).
#[tokio::test]
async fn every_filter_matches_a_scan_of_the_records() {
    use iam_audit::AuditFields;

    let dir = tempfile::tempdir().unwrap();
    let log = SqliteAuditLog::open(&dir.path().join("audit.db").to_string_lossy(), AuditDurability::Process)
        .await
        .unwrap();
    let mut records = Vec::new();
    for i in 0..120 {
        let principal = format!("arn:aws:iam::111111111111:user/u{}", i % 3);
        let decision = ["Allow", "ImplicitDeny", "ExplicitDeny"][i as usize % 3];
        let mut r = record(A, i, &principal, decision);
        let action = ["s3:GetObject", "s3:PutObject"][i as usize % 2];
        r.additional_event_data = Some(json!({"decision": decision, "action": action,
            "resource": format!("arn:aws:s3:::b/{}", i % 7)}));
        if i % 4 >= 2 {
            // A management call: no decision; its action is iam:<eventName>.
            r.event_name = ["CreateUser", "DeleteUser"][i as usize % 2].into();
            r.event_source = "iam.amazonaws.com".into();
            r.additional_event_data = None;
        }
        if i % 5 == 0 {
            r.error_code = Some("AccessDenied".into());
        }
        records.push(r);
        records.push(record(B, i, "arn:aws:iam::222222222222:user/b", "Allow"));
    }
    log.append(records.clone()).await.unwrap();

    let all = AuditFilter {
        account_id: A.into(),
        ..AuditFilter::default()
    };
    let mut filters = vec![all.clone()];
    for value in ["Authorize", "CreateUser", "DeleteUser", "NoSuchCall"] {
        filters.push(AuditFilter {
            event_name: Some(value.into()),
            ..all.clone()
        });
    }
    for value in ["Allow", "ImplicitDeny", "ExplicitDeny"] {
        filters.push(AuditFilter {
            decision: Some(value.into()),
            ..all.clone()
        });
        filters.push(AuditFilter {
            decision: Some(value.into()),
            principal_arn: Some("arn:aws:iam::111111111111:user/u1".into()),
            ..all.clone()
        });
    }
    for value in ["s3:GetObject", "s3:PutObject", "iam:CreateUser"] {
        filters.push(AuditFilter {
            action: Some(value.into()),
            ..all.clone()
        });
    }
    filters.push(AuditFilter {
        error_code: Some("AccessDenied".into()),
        ..all.clone()
    });
    filters.push(AuditFilter {
        error_code: Some("AccessDenied".into()),
        event_name: Some("CreateUser".into()),
        ..all.clone()
    });
    filters.push(AuditFilter {
        event_source: Some("iam.amazonaws.com".into()),
        ..all.clone()
    });
    filters.push(AuditFilter {
        resource_arn: Some("arn:aws:s3:::b/3".into()),
        decision: Some("Allow".into()),
        ..all.clone()
    });
    filters.push(AuditFilter {
        principal_arn: Some("arn:aws:iam::111111111111:user/u2".into()),
        from: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 10).unwrap()),
        to: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 30).unwrap()),
        ..all.clone()
    });

    for filter in &filters {
        let matches = |f: &AuditFields| {
            f.account_id == filter.account_id
                && filter.from.is_none_or(|from| f.event_time >= from)
                && filter.to.is_none_or(|to| f.event_time < to)
                && filter.principal_arn.as_ref().is_none_or(|v| *v == f.principal_arn)
                && filter.event_name.as_ref().is_none_or(|v| *v == f.event_name)
                && filter.event_source.as_ref().is_none_or(|v| *v == f.event_source)
                && filter.action.as_ref().is_none_or(|v| *v == f.action)
                && filter
                    .resource_arn
                    .as_ref()
                    .is_none_or(|v| Some(v) == f.resource_arn.as_ref())
                && filter.decision.as_ref().is_none_or(|v| Some(v) == f.decision.as_ref())
                && filter
                    .error_code
                    .as_ref()
                    .is_none_or(|v| Some(v) == f.error_code.as_ref())
        };
        let mut expected: Vec<&str> = records
            .iter()
            .filter(|r| matches(&AuditFields::of(r)))
            .map(|r| r.event_id.as_str())
            .collect();
        expected.reverse();
        let page = log.query(filter, 1_000, None).await.unwrap();
        let found: Vec<&str> = page.records.iter().map(|(_, r)| r.event_id.as_str()).collect();
        assert_eq!(found, expected, "{filter:?}");
        let counted: u64 = log
            .count_by(filter, GroupBy::EventName)
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(counted, expected.len() as u64, "{filter:?}");
    }
}

/// The index skips fsync; after the system (not only the process) stopped while it was open, it
/// is rebuilt from the record file, while a cleanly closed index is kept.
#[tokio::test]
async fn an_index_open_when_the_system_stopped_is_rebuilt_from_the_records() {
    let Ok(boot) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else {
        return; // No boot id: the index syncs like any SQLite file.
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let index = dir.path().join("audit-index.db");
    let state = dir.path().join("audit-index.db.state");
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let records: Vec<AuditRecord> = (0..30)
        .map(|i| record(A, i, "arn:aws:iam::111111111111:user/u", "Allow"))
        .collect();
    log.append(records.clone()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{} open\n", boot.trim())
    );
    log.close().await;
    drop(log);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{} closed\n", boot.trim())
    );

    // A power cut under an earlier boot, with the index open and damaged.
    std::fs::write(&state, "00000000-0000-0000-0000-000000000000 open\n").unwrap();
    std::fs::write(&index, b"not a database: the system stopped mid-write").unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    let exported = log.export(A, None, None).await.unwrap();
    assert_eq!(exported, records, "every record is found again");
    let filter = AuditFilter {
        account_id: A.into(),
        principal_arn: Some("arn:aws:iam::111111111111:user/u".into()),
        ..AuditFilter::default()
    };
    assert_eq!(log.query(&filter, 100, None).await.unwrap().records.len(), 30);
    log.close().await;
    drop(log);

    // Closed cleanly under an earlier boot: kept as it is (a damaged file would fail to open).
    std::fs::write(&state, "00000000-0000-0000-0000-000000000000 closed\n").unwrap();
    let log = SqliteAuditLog::open(&path.to_string_lossy(), AuditDurability::Full)
        .await
        .unwrap();
    assert_eq!(log.export(A, None, None).await.unwrap().len(), 30);
}
