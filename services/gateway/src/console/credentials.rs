//! The credential report (`GetCredentialReport`): every user's password, MFA device and access
//! keys on one screen, with what a security review looks for marked (a password without MFA, an
//! active key not rotated or not used in 90 days, an access key of the root user), and the CSV
//! as AWS writes it for download. Generated on request (`GenerateCredentialReport`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::pages::{self, CredentialRow, Notice};
use super::{page, run, signed_change, CsrfForm, Signed};
use crate::Gateway;

const REPORT: &str = "{ credentialReport { csv generatedTime } }";
/// Rows one page shows; the CSV download has them all.
const MAX_ROWS: usize = 1_000;
/// AWS's and CIS's threshold for keys not rotated or not used.
const STALE_DAYS: i64 = 90;

#[derive(Deserialize, Default)]
pub(super) struct ReportQuery {
    /// `findings`: only the rows with something to look at.
    #[serde(default)]
    only: String,
}

pub(super) async fn show(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<ReportQuery>) -> Response {
    render(&gateway, &signed, query.only == "findings", None).await
}

async fn render(gateway: &Gateway, signed: &Signed, only_findings: bool, notice: Option<Notice>) -> Response {
    let report = run(gateway, &signed.caller, REPORT, json!({})).await.map(|data| {
        let report = &data["credentialReport"];
        let generated = report["generatedTime"].as_str().unwrap_or_default().to_owned();
        let at = DateTime::parse_from_rfc3339(&generated)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        let rows = rows_of(report["csv"].as_str().unwrap_or_default(), at);
        (generated, rows)
    });
    let view = report.map(|(generated, rows)| {
        let total = rows.len();
        let with_findings = rows.iter().filter(|r| !r.findings.is_empty()).count();
        let shown: Vec<CredentialRow> = rows
            .into_iter()
            .filter(|r| !only_findings || !r.findings.is_empty())
            .take(MAX_ROWS)
            .collect();
        pages::CredentialReport {
            generated,
            total,
            with_findings,
            rows: shown,
        }
    });
    page(
        StatusCode::OK,
        pages::credentials(&signed.frame(), view, only_findings, notice),
    )
}

/// `POST /console/credentials`: generate a report (a fresh one only when the last is over four
/// hours old, as AWS does).
pub(super) async fn generate(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let signed = match signed_change(&gateway, &headers, peer, &form.csrf) {
        Ok(signed) => signed,
        Err(answer) => return *answer,
    };
    let generated = run(
        &gateway,
        &signed.caller,
        "mutation { generateCredentialReport { state description } }",
        json!({}),
    )
    .await;
    let notice = match generated {
        Ok(data) => Notice::Done(
            data["generateCredentialReport"]["description"]
                .as_str()
                .unwrap_or("Report generated.")
                .to_owned(),
        ),
        Err(refusal) => Notice::Refused(refusal),
    };
    render(&gateway, &signed, false, Some(notice)).await
}

/// `GET /console/credentials.csv`: the report as AWS writes it.
pub(super) async fn download(State(gateway): State<Gateway>, signed: Signed) -> Response {
    match run(&gateway, &signed.caller, REPORT, json!({})).await {
        Ok(data) => {
            let csv = data["credentialReport"]["csv"].as_str().unwrap_or_default().to_owned();
            let mut response = csv.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"credential-report.csv\""),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => page(
            StatusCode::OK,
            pages::credentials(&signed.frame(), Err(refusal), false, None),
        ),
    }
}

/// The report's rows, each with its findings as of `at` (when the report was generated).
fn rows_of(csv: &str, at: DateTime<Utc>) -> Vec<CredentialRow> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines.next().map(fields).unwrap_or_default();
    let column = |name: &str| header.iter().position(|h| h == name);
    let stale = |text: &str| {
        DateTime::parse_from_rfc3339(text).is_ok_and(|t| at - t.with_timezone(&Utc) > Duration::days(STALE_DAYS))
    };
    lines
        .map(|line| {
            let values = fields(line);
            let field = |name: &str| {
                column(name)
                    .and_then(|i| values.get(i))
                    .map(String::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let user = field("user");
            let root = user == "<root_account>";
            let mut findings = Vec::new();
            if field("password_enabled") == "true" && field("mfa_active") == "false" {
                findings.push("password without MFA".to_owned());
            }
            if root && field("mfa_active") == "false" {
                findings.push("root user without MFA".to_owned());
            }
            let mut keys = Vec::new();
            for n in 1..=2 {
                let active = field(&format!("access_key_{n}_active")) == "true";
                let rotated = field(&format!("access_key_{n}_last_rotated"));
                let used = field(&format!("access_key_{n}_last_used_date"));
                if !active {
                    continue;
                }
                if root {
                    findings.push("root user has an active access key".to_owned());
                }
                if stale(&rotated) {
                    findings.push(format!("key {n} not rotated in {STALE_DAYS} days"));
                    if used == "N/A" || stale(&used) {
                        findings.push(format!("key {n} not used in {STALE_DAYS} days"));
                    }
                }
                keys.push(format!(
                    "key {n}: rotated {}, last used {}",
                    short_time(&rotated),
                    short_time(&used)
                ));
            }
            CredentialRow {
                password: match field("password_enabled").as_str() {
                    "true" => format!("enabled, last used {}", short_time(&field("password_last_used"))),
                    "not_supported" => "—".to_owned(),
                    _ => "none".to_owned(),
                },
                mfa: field("mfa_active") == "true",
                created: short_time(&field("user_creation_time")),
                user,
                keys,
                findings,
            }
        })
        .collect()
}

/// A report time as a date, or the report's word for none (`N/A`, `no_information`).
fn short_time(text: &str) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.format("%Y-%m-%d").to_string(),
        Err(_) => text.to_owned(),
    }
}

/// One CSV line's fields, RFC 4180 quoting undone (IAM names may hold commas).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (other, _) => field.push(other),
        }
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_their_commas_and_quotes() {
        assert_eq!(
            fields(r#"a,"b,c","say ""hi""",,d"#),
            ["a", "b,c", "say \"hi\"", "", "d"]
        );
    }

    #[test]
    fn findings_are_what_a_review_looks_for() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let csv = "user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\n\
            <root_account>,arn:aws:iam::111122223333:root,2026-01-01T00:00:00+00:00,not_supported,N/A,false,true,2026-11-01T00:00:00+00:00,N/A,false,N/A,N/A\n\
            \"ops,team\",arn:aws:iam::111122223333:user/x,2026-01-01T00:00:00+00:00,true,2026-11-30T00:00:00+00:00,false,true,2026-02-01T00:00:00+00:00,N/A,true,2026-11-20T00:00:00+00:00,2026-11-30T00:00:00+00:00\n\
            careful,arn:aws:iam::111122223333:user/c,2026-01-01T00:00:00+00:00,true,N/A,true,false,N/A,N/A,false,N/A,N/A";
        let rows = rows_of(csv, at);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].findings,
            ["root user without MFA", "root user has an active access key"]
        );
        assert_eq!(rows[1].user, "ops,team");
        assert_eq!(
            rows[1].findings,
            [
                "password without MFA",
                "key 1 not rotated in 90 days",
                "key 1 not used in 90 days"
            ]
        );
        assert_eq!(rows[1].keys.len(), 2);
        assert!(rows[2].findings.is_empty());
        assert!(rows[2].mfa);
    }
}
