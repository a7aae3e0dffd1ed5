//! `audit-lag`: one probe decision at a time, then `auditEvents` polled until it returns that
//! decision's record; the lag is from the decision's response to the first query response showing
//! it (so it includes one query round trip, reported separately). Each probe asks about a resource
//! of its own, and the filter names it, so background decisions (`--background-concurrency`) do
//! not hide the probe's record.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, AuditLagArgs, MAX_CONCURRENCY, MAX_SAMPLES};
use crate::decisions::{worker, Plan};
use crate::http::{graphql, signed_headers, Conn, Gql};
use crate::manifest::Manifest;
use crate::scenario::{decision_request, Expect};
use crate::stats::{latency_json, round3, CpuWindow, Recorder};
use crate::target::Target;

const NEWEST_DECISION: &str = "query($principal: String!, $resource: String!) {
  auditEvents(filter: {principalArn: $principal, eventName: \"Authorize\", resourceArn: $resource}, first: 1) {
    edges { cursor node { eventID eventTime eventName } }
    pageInfo { hasNextPage }
  }
}";

fn plan_batch(args: &AuditLagArgs) -> usize {
    args.background_batch.clamp(1, 1000)
}

#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// Runs `audit-lag` and returns its summary.
///
/// # Errors
/// Bad flags, or the `auditEvents` query failing on the first sample (it does not exist, or the
/// caller may not read the history): the message is the server's.
pub async fn run(args: &AuditLagArgs, target: Arc<Target>, manifest: Manifest) -> Result<Value> {
    let samples = bounded("samples", args.samples, MAX_SAMPLES)?;
    if args.background_concurrency > MAX_CONCURRENCY {
        bail!("--background-concurrency is at most {MAX_CONCURRENCY}");
    }
    let rng_seed = args.common.rng_seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    // Optional decisions in the background, so the lag is measured under load.
    let background = Recorder::default();
    background.set_recording(false);
    let plan = Arc::new(Plan::new(manifest.clone(), [70, 20, 10], plan_batch(args)));
    let far = Instant::now() + crate::cli::HARD_CAP;
    let load: Vec<_> = (0..args.background_concurrency)
        .map(|w| {
            tokio::spawn(worker(
                plan.clone(),
                target.clone(),
                background.clone(),
                rng_seed.wrapping_add(1000 + w as u64),
                far,
            ))
        })
        .collect();
    if !load.is_empty() {
        // Let the background load reach its pace before the first probe.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    background.set_recording(true);
    let background_started = Instant::now();
    let mut decide_conn = Conn::new(target.clone());
    let mut query_conn = Conn::new(target.clone());
    let errors = Recorder::default();
    let (mut lag, mut decision_latency, mut query_latency) = (histogram(), histogram(), histogram());
    let (mut polls_total, mut first_poll_hits, mut timeouts) = (0u64, 0u64, 0u64);
    let cpu = CpuWindow::start(args.common.iamd_pid);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    for sample in 0..samples {
        if started.elapsed() > crate::cli::HARD_CAP {
            eprintln!(
                "audit-lag: stopping at the {}s cap after {sample} samples",
                crate::cli::HARD_CAP.as_secs()
            );
            break;
        }
        let account = &manifest.accounts[sample % manifest.accounts.len()];
        let credentials = account.credentials();
        let p = &account.principals[rng.gen_range(0..account.principals.len())];
        let expect = Expect::draw([70, 20, 10], &mut rng);
        let mut probe = decision_request(&account.account_id, p, expect, &mut rng);
        let resource = format!("arn:aws:s3:::corp-data/{}/lag-probe/{run_id}-{sample}.bin", p.team);
        probe["action"] = json!("s3:GetObject");
        probe["resource"] = json!(resource);
        let body = Bytes::from(probe.to_string());
        let headers = signed_headers(decide_conn.host(), "/v1/authorize", &body, &credentials)?;
        let sent = Instant::now();
        let reply = match decide_conn.send("/v1/authorize", &headers, body).await {
            Ok(reply) => reply,
            Err(e) => {
                errors.error(&format!("decision:{}", e.label()), &e.to_string());
                continue;
            }
        };
        let decided = Instant::now();
        let parsed: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let Some(event_id) = parsed["eventID"].as_str().filter(|_| reply.status == 200) else {
            errors.error(
                &format!("decision:http_{}", reply.status),
                &String::from_utf8_lossy(&reply.body),
            );
            continue;
        };
        record(&mut decision_latency, decided - sent);
        let principal = if args.filter_principal == "subject" {
            p.arn.clone()
        } else {
            account.root_arn()
        };
        let variables = json!({ "principal": principal, "resource": resource });
        let mut polls = 0u64;
        loop {
            polls += 1;
            let (answer, took) = match graphql(&mut query_conn, &credentials, NEWEST_DECISION, &variables).await {
                Ok(answer) => answer,
                Err(e) => {
                    errors.error("query:transport", &e.to_string());
                    break;
                }
            };
            match answer {
                Gql::Data(data) => {
                    record(&mut query_latency, took);
                    let newest = data["auditEvents"]["edges"][0]["node"]["eventID"].as_str();
                    if newest == Some(event_id) {
                        record(&mut lag, decided.elapsed());
                        polls_total += polls;
                        if polls == 1 {
                            first_poll_hits += 1;
                        }
                        break;
                    }
                }
                Gql::Error { code, message } => {
                    if query_latency.is_empty() {
                        bail!("the auditEvents query failed ({code}): {message}");
                    }
                    errors.error(&format!("query:{code}"), &message);
                    break;
                }
            }
            if decided.elapsed() > args.sample_timeout {
                timeouts += 1;
                errors.error(
                    "timeout",
                    &format!("event {event_id} not returned within {:?}", args.sample_timeout),
                );
                break;
            }
            tokio::time::sleep(args.poll_interval).await;
        }
        if !args.common.quiet && last_progress.elapsed().as_secs() >= 1 {
            last_progress = Instant::now();
            eprintln!(
                "[{:>4.0}s] {} samples  lag p50 {:.3} ms  p99 {:.3} ms  timeouts {timeouts}",
                started.elapsed().as_secs_f64(),
                lag.len(),
                lag.value_at_quantile(0.5) as f64 / 1000.0,
                lag.value_at_quantile(0.99) as f64 / 1000.0,
            );
        }
    }
    let background_seconds = background_started.elapsed().as_secs_f64().max(1e-9);
    for task in &load {
        task.abort();
    }
    let (background_requests, background_decisions, background_totals) = background.totals();
    let (_, _, totals) = errors.totals();
    let measured = lag.len();
    Ok(json!({
        "scenario": "audit-lag",
        "url": target.url,
        "samples": samples,
        "measured": measured,
        "timeouts": timeouts,
        "filterPrincipal": args.filter_principal,
        "pollIntervalMs": args.poll_interval.as_secs_f64() * 1000.0,
        "rngSeed": rng_seed,
        "lagMs": latency_json(&lag),
        "firstPollHits": first_poll_hits,
        "meanPolls": if measured == 0 { 0.0 } else { crate::stats::round3(polls_total as f64 / measured as f64) },
        "decisionLatencyMs": latency_json(&decision_latency),
        "queryLatencyMs": latency_json(&query_latency),
        "errors": totals["errors"],
        "errorCount": totals["errorCount"],
        "firstErrors": totals["firstErrors"],
        "background": {
            "concurrency": args.background_concurrency,
            "batch": plan_batch(args),
            "decisionsPerSecond": round3(background_decisions as f64 / background_seconds),
            "requestsPerSecond": round3(background_requests as f64 / background_seconds),
            "latencyMs": background_totals["latencyMs"],
            "errors": background_totals["errors"],
        },
        "cpu": cpu.finish(),
    }))
}
