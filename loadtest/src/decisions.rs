//! `decisions`: closed-loop workers, one keep-alive connection each, asking `/v1/authorize` (or
//! `/v1/authorize/batch`) about the seeded principals with a known mix of expected outcomes, and
//! checking every answer against what the request was built to get.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, parse_mix, CredentialKind, DecisionArgs, MAX_BATCH, MAX_CONCURRENCY};
use crate::http::{signed_headers, Conn};
use crate::manifest::Manifest;
use crate::scenario::{decision_request, Expect};
use crate::stats::{round3, CpuWindow, Progress, Recorder};
use crate::target::Target;

/// What the workers ask about.
pub(crate) struct Plan {
    manifest: Manifest,
    credentials: Vec<iam_sigv4::Credentials>,
    mix: [u32; 3],
    batch: usize,
    /// Condition keys added to every request's context.
    context: Vec<(String, String)>,
}

impl Plan {
    /// A plan over the manifest's accounts, signed with their root keys.
    pub(crate) fn new(manifest: Manifest, mix: [u32; 3], batch: usize) -> Plan {
        let credentials = manifest.accounts.iter().map(|a| a.credentials()).collect();
        Plan::signed_with(manifest, credentials, mix, batch)
    }

    /// A plan whose requests about account `i` are signed with `credentials[i]`.
    pub(crate) fn signed_with(
        manifest: Manifest,
        credentials: Vec<iam_sigv4::Credentials>,
        mix: [u32; 3],
        batch: usize,
    ) -> Plan {
        Plan {
            manifest,
            credentials,
            mix,
            batch,
            context: Vec::new(),
        }
    }

    /// The same plan with `context` (key, value) added to every request's context.
    pub(crate) fn with_context(mut self, context: Vec<(String, String)>) -> Plan {
        self.context = context;
        self
    }
}

/// Checks one decision object against the expectation; returns whether it was a decision.
fn check(recorder: &Recorder, item: &Value, expect: Expect) -> bool {
    if let Some(decision) = item["decision"].as_str() {
        recorder.count(&format!("decision.{decision}"), 1);
        if decision != expect.name() {
            recorder.count(&format!("unexpected.{}->{decision}", expect.name()), 1);
        }
        true
    } else {
        let code = item["error"]["code"].as_str().unwrap_or("unparsable");
        recorder.error(&format!("item:{code}"), &item.to_string());
        false
    }
}

/// One closed-loop worker until `deadline`; returns how many connections it opened.
pub(crate) async fn worker(
    plan: Arc<Plan>,
    target: Arc<Target>,
    recorder: Recorder,
    seed: u64,
    deadline: Instant,
) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = Conn::new(target);
    let path = if plan.batch == 1 {
        "/v1/authorize"
    } else {
        "/v1/authorize/batch"
    };
    let accounts = &plan.manifest.accounts;
    while Instant::now() < deadline {
        // One signing key per request, so every item of a batch is about that account.
        let a = rng.gen_range(0..accounts.len());
        let account = &accounts[a];
        let mut expects = Vec::with_capacity(plan.batch);
        let mut items = Vec::with_capacity(plan.batch);
        for _ in 0..plan.batch {
            let expect = Expect::draw(plan.mix, &mut rng);
            let p = &account.principals[rng.gen_range(0..account.principals.len())];
            let mut item = decision_request(&account.account_id, p, expect, &mut rng);
            if let Some(entries) = item["context"].as_array_mut() {
                for (key, value) in &plan.context {
                    entries.push(json!({"key": key, "values": [value], "type": "string"}));
                }
            }
            items.push(item);
            expects.push(expect);
        }
        let body = if plan.batch == 1 {
            items.pop().unwrap_or(Value::Null)
        } else {
            json!({ "requests": items })
        };
        let body = Bytes::from(body.to_string());
        let headers = match signed_headers(conn.host(), path, &body, &plan.credentials[a]) {
            Ok(headers) => headers,
            Err(e) => {
                recorder.error("signing", &e.to_string());
                continue;
            }
        };
        let started = Instant::now();
        let reply = match conn.send(path, &headers, body).await {
            Ok(reply) => reply,
            Err(e) => {
                recorder.error(&e.label(), &e.to_string());
                if matches!(e, crate::http::CallError::Connect(_)) {
                    // The server is gone or refusing: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let latency = started.elapsed();
        let parsed: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if reply.status != 200 {
            let code = parsed["error"]["code"]
                .as_str()
                .or_else(|| parsed["errors"][0]["extensions"]["code"].as_str())
                .unwrap_or("unparsable");
            recorder.error(
                &format!("http_{}:{code}", reply.status),
                &String::from_utf8_lossy(&reply.body),
            );
            continue;
        }
        let decided = if plan.batch == 1 {
            u64::from(check(&recorder, &parsed, expects[0]))
        } else {
            let results = parsed["results"].as_array().map(Vec::as_slice).unwrap_or_default();
            if results.len() != expects.len() {
                recorder.error(
                    "batch-length",
                    &format!("{} results for {} requests", results.len(), expects.len()),
                );
            }
            results
                .iter()
                .zip(&expects)
                .map(|(item, expect)| u64::from(check(&recorder, item, *expect)))
                .sum()
        };
        recorder.ok(latency, decided, None);
    }
    conn.connects
}

/// iamd's CPU µs per request over the window, when `--iamd-pid` was given.
pub(crate) fn iamd_micros_per(cpu: &Value, requests: u64) -> Value {
    match cpu["iamdCpuSeconds"].as_f64() {
        Some(seconds) if requests > 0 => json!(round3(seconds * 1e6 / requests as f64)),
        _ => Value::Null,
    }
}

/// Runs `decisions` and returns its summary.
///
/// # Errors
/// Bad flags.
pub async fn run(args: &DecisionArgs, target: Arc<Target>, manifest: Manifest) -> Result<Value> {
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY)?;
    let batch = bounded("batch", args.batch, MAX_BATCH)?;
    let mix = parse_mix(&args.mix)?;
    let rng_seed = args.common.rng_seed.unwrap_or_else(rand::random);
    let principals: usize = manifest.accounts.iter().map(|a| a.principals.len()).sum();
    let accounts = manifest.accounts.len();
    let plan = match args.credentials {
        CredentialKind::LongTerm => Plan::new(manifest, mix, batch),
        CredentialKind::Session => {
            // Not measured: a user and a role per account, then one AssumeRole each.
            let callers = crate::session::set_up(&target, &manifest).await?;
            let sessions = crate::session::assume_all(&target, &callers).await?;
            Plan::signed_with(manifest, sessions, mix, batch)
        }
    };
    let plan = Arc::new(plan.with_context(args.context.clone()));
    let recorder = Recorder::default();
    recorder.set_recording(args.warmup.is_zero());
    let progress = Progress::start(recorder.clone(), "decisions", args.common.quiet);
    let started = Instant::now();
    let warmup_end = started + args.warmup;
    let deadline = warmup_end + args.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            tokio::spawn(worker(
                plan.clone(),
                target.clone(),
                recorder.clone(),
                rng_seed.wrapping_add(w as u64),
                deadline,
            ))
        })
        .collect();
    tokio::time::sleep_until(warmup_end.into()).await;
    recorder.set_recording(true);
    let cpu = CpuWindow::start(args.common.iamd_pid);
    let measured = Instant::now();
    let mut connects = 0;
    for w in workers {
        connects += w.await.unwrap_or(0);
    }
    let seconds = measured.elapsed().as_secs_f64().max(1e-9);
    recorder.set_recording(false);
    drop(progress);
    let (requests, decisions, totals) = recorder.totals();
    let cpu_json = cpu.finish();
    let counters = totals["counters"].as_object().cloned().unwrap_or_default();
    let unexpected: u64 = counters
        .iter()
        .filter(|(k, _)| k.starts_with("unexpected."))
        .filter_map(|(_, v)| v.as_u64())
        .sum();
    Ok(json!({
        "scenario": "decisions",
        "url": target.url,
        "endpoint": if batch == 1 { "/v1/authorize" } else { "/v1/authorize/batch" },
        "accounts": accounts,
        "principals": principals,
        "concurrency": concurrency,
        "batch": batch,
        "credentials": args.credentials.name(),
        "context": args.context.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "mix": {"allow": mix[0], "implicitDeny": mix[1], "explicitDeny": mix[2]},
        "rngSeed": rng_seed,
        "warmupSeconds": args.warmup.as_secs_f64(),
        "seconds": round3(seconds),
        "requests": requests,
        "decisions": decisions,
        "requestsPerSecond": round3(requests as f64 / seconds),
        "decisionsPerSecond": round3(decisions as f64 / seconds),
        "latencyMs": totals["latencyMs"],
        "outcomes": totals["counters"],
        "unexpectedDecisions": unexpected,
        "errors": totals["errors"],
        "errorCount": totals["errorCount"],
        "firstErrors": totals["firstErrors"],
        "connectionsOpened": connects,
        "iamdCpuMicrosPerRequest": iamd_micros_per(&cpu_json, requests),
        "cpu": cpu_json,
    }))
}
