//! `assume-role`: closed-loop workers, one keep-alive connection each, sending STS `AssumeRole`
//! (query protocol, SigV4 for `sts`) as each account's IAM user for the role that trusts it, and
//! checking that every answer carries session credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, AssumeRoleArgs, MAX_CONCURRENCY};
use crate::http::{read_query, Conn, QueryAnswer};
use crate::manifest::Manifest;
use crate::session::{self, parse_assume_role, send_assume_role, RoleCaller};
use crate::stats::{round3, CpuWindow, Progress, Recorder};
use crate::target::Target;

async fn worker(
    callers: Arc<Vec<RoleCaller>>,
    target: Arc<Target>,
    recorder: Recorder,
    w: usize,
    seed: u64,
    deadline: Instant,
) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = Conn::new(target);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let caller = &callers[rng.gen_range(0..callers.len())];
        n += 1;
        let (reply, latency) = match send_assume_role(&mut conn, caller, &format!("lt-{w}-{n}")).await {
            Ok(answer) => answer,
            Err(e) => {
                recorder.error("io", &e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match read_query(&reply) {
            QueryAnswer::Ok => {
                if parse_assume_role(&String::from_utf8_lossy(&reply.body)).is_some() {
                    recorder.ok(latency, 1, None);
                } else {
                    recorder.error("no-credentials", &String::from_utf8_lossy(&reply.body));
                }
            }
            QueryAnswer::Error { code, message } => recorder.error(&code, &message),
        }
    }
    conn.connects
}

/// Runs `assume-role` and returns its summary.
///
/// # Errors
/// Bad flags, or the user and role could not be created.
pub async fn run(args: &AssumeRoleArgs, target: Arc<Target>, manifest: Manifest) -> Result<Value> {
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY)?;
    let rng_seed = args.common.rng_seed.unwrap_or_else(rand::random);
    let callers = Arc::new(session::set_up(&target, &manifest).await?);
    let recorder = Recorder::default();
    recorder.set_recording(args.warmup.is_zero());
    let progress = Progress::start(recorder.clone(), "AssumeRole", args.common.quiet);
    let warmup_end = Instant::now() + args.warmup;
    let deadline = warmup_end + args.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            tokio::spawn(worker(
                callers.clone(),
                target.clone(),
                recorder.clone(),
                w,
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
    let (requests, calls, totals) = recorder.totals();
    let cpu_json = cpu.finish();
    Ok(json!({
        "scenario": "assume-role",
        "url": target.url,
        "accounts": callers.len(),
        "concurrency": concurrency,
        "rngSeed": rng_seed,
        "warmupSeconds": args.warmup.as_secs_f64(),
        "seconds": round3(seconds),
        "requests": requests,
        "assumeRoles": calls,
        "assumeRolesPerSecond": round3(calls as f64 / seconds),
        "latencyMs": totals["latencyMs"],
        "errors": totals["errors"],
        "errorCount": totals["errorCount"],
        "firstErrors": totals["firstErrors"],
        "connectionsOpened": connects,
        "iamdCpuMicrosPerAssumeRole": crate::decisions::iamd_micros_per(&cpu_json, calls),
        "cpu": cpu_json,
    }))
}
