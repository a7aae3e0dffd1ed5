//! `mutations`: closed-loop workers sending one GraphQL mutation per request: `createUser`,
//! `tagUser`, `attachUserPolicy`, `detachUserPolicy` (and `deleteUser` to stay under quota).
//! Worker `w` creates, attaches, detaches and deletes users of its own in account `w mod N`, and
//! tags seeded users of any account, so the accounts' write locks share the load and no two
//! workers race on one user's attachments.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, MutationArgs, MAX_CONCURRENCY};
use crate::http::{graphql, Conn, Gql};
use crate::manifest::Manifest;
use crate::scenario::TEAMS;
use crate::stats::{round3, CpuWindow, Progress, Recorder};
use crate::target::Target;

/// Most users one worker keeps; past this it deletes instead of creating.
const OWN_CAP: usize = 40;

const CREATE_USER: &str =
    "mutation($user: String!, $tags: [TagInput!]) { createUser(input: {userName: $user, path: \"/loadtest/\", tags: $tags}) { sequence } }";
const TAG_USER: &str =
    "mutation($user: String!, $value: String!) { tagUser(input: {userName: $user, tags: [{key: \"last-review\", value: $value}]}) { sequence } }";
const ATTACH: &str =
    "mutation($user: String!, $policy: String!) { attachUserPolicy(input: {userName: $user, policyArn: $policy}) { sequence } }";
const DETACH: &str =
    "mutation($user: String!, $policy: String!) { detachUserPolicy(input: {userName: $user, policyArn: $policy}) { sequence } }";
const DELETE_USER: &str = "mutation($user: String!) { deleteUser(userName: $user) { sequence } }";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateUser,
    TagUser,
    Attach,
    Detach,
    DeleteUser,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::CreateUser => "createUser",
            Op::TagUser => "tagUser",
            Op::Attach => "attachUserPolicy",
            Op::Detach => "detachUserPolicy",
            Op::DeleteUser => "deleteUser",
        }
    }
}

struct Owned {
    name: String,
    attached: bool,
}

/// Turns the drawn operation into one that is valid for the worker's users (which user, if any).
fn resolve(drawn: Op, owned: &[Owned], rng: &mut impl Rng) -> (Op, Option<usize>) {
    let pick = |rng: &mut dyn rand::RngCore, attached: bool| {
        let candidates: Vec<usize> = (0..owned.len()).filter(|&i| owned[i].attached == attached).collect();
        (!candidates.is_empty()).then(|| candidates[rng.gen_range(0..candidates.len())])
    };
    let create_or_make_room = |rng: &mut dyn rand::RngCore| {
        if owned.len() < OWN_CAP {
            (Op::CreateUser, None)
        } else if let Some(i) = pick(rng, false) {
            (Op::DeleteUser, Some(i))
        } else {
            (Op::Detach, pick(rng, true))
        }
    };
    match drawn {
        Op::TagUser => (Op::TagUser, None),
        Op::Attach => match pick(rng, false) {
            Some(i) => (Op::Attach, Some(i)),
            None => create_or_make_room(rng),
        },
        Op::Detach => match pick(rng, true) {
            Some(i) => (Op::Detach, Some(i)),
            None => match pick(rng, false) {
                Some(i) => (Op::Attach, Some(i)),
                None => create_or_make_room(rng),
            },
        },
        Op::CreateUser | Op::DeleteUser => create_or_make_room(rng),
    }
}

struct Plan {
    manifest: Manifest,
    run_id: String,
}

async fn worker(plan: Arc<Plan>, target: Arc<Target>, recorder: Recorder, w: usize, seed: u64, deadline: Instant) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = Conn::new(target);
    let accounts = &plan.manifest.accounts;
    let home = &accounts[w % accounts.len()];
    let home_credentials = home.credentials();
    let policy = home.policies.get("QueueSender").cloned().unwrap_or_default();
    let mut owned: Vec<Owned> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let drawn = match rng.gen_range(0..100) {
            0..20 => Op::CreateUser,
            20..50 => Op::TagUser,
            50..75 => Op::Attach,
            _ => Op::Detach,
        };
        let (op, index) = resolve(drawn, &owned, &mut rng);
        let target_user = index.map(|i| owned[i].name.clone());
        let (credentials, query, variables) = match op {
            Op::CreateUser => {
                let name = format!("lt-{}-w{w}-{n}", plan.run_id);
                let team = TEAMS[rng.gen_range(0..TEAMS.len())];
                let tags = json!([{"key": "team", "value": team}, {"key": "created-by", "value": "loadtest"}]);
                (
                    home_credentials.clone(),
                    CREATE_USER,
                    json!({"user": name, "tags": tags}),
                )
            }
            Op::TagUser => {
                let account = &accounts[rng.gen_range(0..accounts.len())];
                let user = &account.principals[rng.gen_range(0..account.principals.len())].user_name;
                (
                    account.credentials(),
                    TAG_USER,
                    json!({"user": user, "value": n.to_string()}),
                )
            }
            Op::Attach | Op::Detach => (
                home_credentials.clone(),
                if op == Op::Attach { ATTACH } else { DETACH },
                json!({"user": target_user, "policy": policy}),
            ),
            Op::DeleteUser => (home_credentials.clone(), DELETE_USER, json!({"user": target_user})),
        };
        match graphql(&mut conn, &credentials, query, &variables).await {
            Ok((Gql::Data(_), latency)) => {
                recorder.ok(latency, 1, Some(op.name()));
                recorder.count(op.name(), 1);
                match (op, index) {
                    (Op::CreateUser, _) => owned.push(Owned {
                        name: variables["user"].as_str().unwrap_or_default().to_owned(),
                        attached: false,
                    }),
                    (Op::Attach, Some(i)) => owned[i].attached = true,
                    (Op::Detach, Some(i)) => owned[i].attached = false,
                    (Op::DeleteUser, Some(i)) => {
                        owned.swap_remove(i);
                    }
                    _ => {}
                }
            }
            Ok((Gql::Error { code, message }, _)) => {
                recorder.error(&format!("{}:{code}", op.name()), &message);
            }
            Err(e) => {
                recorder.error(&format!("{}:transport", op.name()), &e.to_string());
                // The change may or may not have happened: forget that user rather than guess.
                if let Some(i) = index {
                    owned.swap_remove(i);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Runs `mutations` and returns its summary.
///
/// # Errors
/// Bad flags or a manifest without the `QueueSender` policy.
pub async fn run(args: &MutationArgs, target: Arc<Target>, manifest: Manifest) -> Result<Value> {
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY)?;
    if manifest
        .accounts
        .iter()
        .any(|a| !a.policies.contains_key("QueueSender"))
    {
        return Err(anyhow!(
            "the manifest's accounts lack the QueueSender policy: re-run `loadtest seed`"
        ));
    }
    let rng_seed = args.common.rng_seed.unwrap_or_else(rand::random);
    let accounts = manifest.accounts.len();
    let plan = Arc::new(Plan {
        manifest,
        run_id: format!("{:x}", chrono::Utc::now().timestamp_millis() % 0xff_ffff_ffff),
    });
    let recorder = Recorder::default();
    recorder.set_recording(args.warmup.is_zero());
    let progress = Progress::start(recorder.clone(), "mutations", args.common.quiet);
    let warmup_end = Instant::now() + args.warmup;
    let deadline = warmup_end + args.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            tokio::spawn(worker(
                plan.clone(),
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
    for w in workers {
        let _ = w.await;
    }
    let seconds = measured.elapsed().as_secs_f64().max(1e-9);
    recorder.set_recording(false);
    drop(progress);
    let (requests, mutations, totals) = recorder.totals();
    Ok(json!({
        "scenario": "mutations",
        "url": target.url,
        "accounts": accounts,
        "concurrency": concurrency,
        "rngSeed": rng_seed,
        "warmupSeconds": args.warmup.as_secs_f64(),
        "seconds": round3(seconds),
        "requests": requests,
        "mutations": mutations,
        "mutationsPerSecond": round3(mutations as f64 / seconds),
        "latencyMs": totals["latencyMs"],
        "latencyMsByKind": totals["latencyMsByKind"],
        "operations": totals["counters"],
        "errors": totals["errors"],
        "errorCount": totals["errorCount"],
        "firstErrors": totals["firstErrors"],
        "cpu": cpu.finish(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_keeps_operations_valid() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(resolve(Op::Attach, &[], &mut rng), (Op::CreateUser, None));
        assert_eq!(resolve(Op::Detach, &[], &mut rng), (Op::CreateUser, None));
        let one = [Owned {
            name: "a".into(),
            attached: false,
        }];
        assert_eq!(resolve(Op::Detach, &one, &mut rng), (Op::Attach, Some(0)));
        let full: Vec<Owned> = (0..OWN_CAP)
            .map(|i| Owned {
                name: format!("u{i}"),
                attached: true,
            })
            .collect();
        assert_eq!(resolve(Op::CreateUser, &full, &mut rng).0, Op::Detach);
        let mut full = full;
        full[3].attached = false;
        assert_eq!(resolve(Op::CreateUser, &full, &mut rng), (Op::DeleteUser, Some(3)));
    }
}
