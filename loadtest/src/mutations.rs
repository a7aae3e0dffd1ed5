//! `mutations`: closed-loop workers sending one mutation per request: `createUser`, `tagUser`,
//! `attachUserPolicy`, `detachUserPolicy` (and `deleteUser` to stay under quota), as GraphQL
//! mutations or as the IAM query-protocol actions `aws iam` sends (`--protocol`), the same mix
//! either way. Worker `w` creates, attaches, detaches and deletes users of its own in account
//! `w mod N`, and tags seeded users of any account, so the accounts' write locks share the load
//! and no two workers race on one user's attachments. After the measured window each worker
//! detaches and deletes the users it still owns (not measured), so every run on one iamd starts
//! from the seeded world.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use iam_sigv4::Credentials;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, MutationArgs, Protocol, MAX_CONCURRENCY};
use crate::http::{aws_query, form_encode, graphql, Conn, Gql, QueryAnswer};
use crate::manifest::Manifest;
use crate::scenario::TEAMS;
use crate::stats::{round3, CpuWindow, Progress, Recorder};
use crate::target::Target;

/// Most users one worker keeps; past this it deletes instead of creating.
const OWN_CAP: usize = 40;

/// Where created users go, in both protocols.
const PATH: &str = "/loadtest/";
/// The tag `tagUser` sets on a seeded user (its value: the worker's request number).
const REVIEW_TAG: &str = "last-review";
/// IAM's API version, sent with every query-protocol action.
const IAM_VERSION: &str = "2010-05-08";

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
    /// The GraphQL field, which also names the operation in the summary.
    fn name(self) -> &'static str {
        match self {
            Op::CreateUser => "createUser",
            Op::TagUser => "tagUser",
            Op::Attach => "attachUserPolicy",
            Op::Detach => "detachUserPolicy",
            Op::DeleteUser => "deleteUser",
        }
    }

    /// The query protocol's `Action`.
    fn action(self) -> &'static str {
        match self {
            Op::CreateUser => "CreateUser",
            Op::TagUser => "TagUser",
            Op::Attach => "AttachUserPolicy",
            Op::Detach => "DetachUserPolicy",
            Op::DeleteUser => "DeleteUser",
        }
    }
}

/// One mutation, whichever protocol carries it.
#[derive(Debug, Clone, Copy)]
struct Mutation<'a> {
    op: Op,
    user: &'a str,
    /// The `team` tag of a new user (`CreateUser`), the `last-review` tag's value (`TagUser`),
    /// the policy ARN (`Attach`, `Detach`); unused by `DeleteUser`.
    value: &'a str,
}

impl Mutation<'_> {
    /// As a GraphQL mutation: the document and its variables.
    fn graphql(&self) -> (&'static str, Value) {
        let Mutation { op, user, value } = *self;
        match op {
            Op::CreateUser => (
                CREATE_USER,
                json!({"user": user, "tags": [{"key": "team", "value": value}, {"key": "created-by", "value": "loadtest"}]}),
            ),
            Op::TagUser => (TAG_USER, json!({"user": user, "value": value})),
            Op::Attach => (ATTACH, json!({"user": user, "policy": value})),
            Op::Detach => (DETACH, json!({"user": user, "policy": value})),
            Op::DeleteUser => (DELETE_USER, json!({"user": user})),
        }
    }

    /// As an IAM query-protocol request body, parameters in the order botocore sends them.
    fn query_form(&self) -> String {
        let Mutation { op, user, value } = *self;
        match op {
            Op::CreateUser => form_encode(&[
                ("Action", op.action()),
                ("Version", IAM_VERSION),
                ("UserName", user),
                ("Path", PATH),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", value),
                ("Tags.member.2.Key", "created-by"),
                ("Tags.member.2.Value", "loadtest"),
            ]),
            Op::TagUser => form_encode(&[
                ("Action", op.action()),
                ("Version", IAM_VERSION),
                ("UserName", user),
                ("Tags.member.1.Key", REVIEW_TAG),
                ("Tags.member.1.Value", value),
            ]),
            Op::Attach | Op::Detach => form_encode(&[
                ("Action", op.action()),
                ("Version", IAM_VERSION),
                ("UserName", user),
                ("PolicyArn", value),
            ]),
            Op::DeleteUser => form_encode(&[("Action", op.action()), ("Version", IAM_VERSION), ("UserName", user)]),
        }
    }

    /// Signs and sends the mutation; returns `Ok(())` or the server's code and message, and how
    /// long the server took (signing excluded).
    async fn send(
        &self,
        conn: &mut Conn,
        protocol: Protocol,
        credentials: &Credentials,
    ) -> Result<(Result<(), (String, String)>, Duration)> {
        Ok(match protocol {
            Protocol::Graphql => {
                let (query, variables) = self.graphql();
                match graphql(conn, credentials, query, &variables).await? {
                    (Gql::Data(_), latency) => (Ok(()), latency),
                    (Gql::Error { code, message }, latency) => (Err((code, message)), latency),
                }
            }
            Protocol::Aws => match aws_query(conn, credentials, self.query_form()).await? {
                (QueryAnswer::Ok, latency) => (Ok(()), latency),
                (QueryAnswer::Error { code, message }, latency) => (Err((code, message)), latency),
            },
        })
    }
}

struct Owned {
    name: String,
    attached: bool,
}

/// What a worker leaves when its time is up: the users it still owns, to delete.
struct Leftover {
    conn: Conn,
    credentials: Credentials,
    policy: String,
    owned: Vec<Owned>,
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
    protocol: Protocol,
}

async fn worker(
    plan: Arc<Plan>,
    target: Arc<Target>,
    recorder: Recorder,
    w: usize,
    seed: u64,
    deadline: Instant,
) -> Leftover {
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
        let own_user = index.map_or("", |i| owned[i].name.as_str());
        let mut new_user: Option<String> = None;
        let review: String;
        let (credentials, mutation) = match op {
            Op::CreateUser => (
                home_credentials.clone(),
                Mutation {
                    op,
                    user: new_user.insert(format!("lt-{}-w{w}-{n}", plan.run_id)),
                    value: TEAMS[rng.gen_range(0..TEAMS.len())],
                },
            ),
            Op::TagUser => {
                let account = &accounts[rng.gen_range(0..accounts.len())];
                review = n.to_string();
                let mutation = Mutation {
                    op,
                    user: &account.principals[rng.gen_range(0..account.principals.len())].user_name,
                    value: &review,
                };
                (account.credentials(), mutation)
            }
            Op::Attach | Op::Detach => (
                home_credentials.clone(),
                Mutation {
                    op,
                    user: own_user,
                    value: &policy,
                },
            ),
            Op::DeleteUser => (
                home_credentials.clone(),
                Mutation {
                    op,
                    user: own_user,
                    value: "",
                },
            ),
        };
        match mutation.send(&mut conn, plan.protocol, &credentials).await {
            Ok((Ok(()), latency)) => {
                recorder.ok(latency, 1, Some(op.name()));
                recorder.count(op.name(), 1);
                match (op, index) {
                    (Op::CreateUser, _) => owned.push(Owned {
                        name: new_user.take().unwrap_or_default(),
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
            Ok((Err((code, message)), _)) => {
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
    Leftover {
        conn,
        credentials: home_credentials,
        policy,
        owned,
    }
}

/// Detaches and deletes a worker's remaining users, through the run's protocol. Without this,
/// every run would leave up to 40 users per worker behind, and since each change checks the
/// account's unique names, the next run on the same iamd would find every mutation dearer.
/// Returns the users deleted and the requests that failed.
async fn clean_up(protocol: Protocol, left: Leftover) -> (u64, u64) {
    let Leftover {
        mut conn,
        credentials,
        policy,
        owned,
    } = left;
    let (mut deleted, mut failed) = (0, 0);
    for user in &owned {
        let detach = user.attached.then_some(Mutation {
            op: Op::Detach,
            user: &user.name,
            value: &policy,
        });
        let delete = Mutation {
            op: Op::DeleteUser,
            user: &user.name,
            value: "",
        };
        for mutation in detach.into_iter().chain([delete]) {
            match mutation.send(&mut conn, protocol, &credentials).await {
                Ok((Ok(()), _)) => deleted += u64::from(mutation.op == Op::DeleteUser),
                Ok((Err(_), _)) | Err(_) => failed += 1,
            }
        }
    }
    (deleted, failed)
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
        protocol: args.protocol,
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
    let mut leftovers = Vec::with_capacity(workers.len());
    for w in workers {
        if let Ok(left) = w.await {
            leftovers.push(left);
        }
    }
    let seconds = measured.elapsed().as_secs_f64().max(1e-9);
    recorder.set_recording(false);
    let cpu = cpu.finish();
    drop(progress);
    let (requests, mutations, totals) = recorder.totals();
    let cleanup_started = Instant::now();
    let cleaned = futures::future::join_all(leftovers.into_iter().map(|left| clean_up(args.protocol, left))).await;
    let (deleted, failed) = cleaned
        .iter()
        .fold((0, 0), |(d, f), (deleted, failed)| (d + deleted, f + failed));
    Ok(json!({
        "scenario": "mutations",
        "protocol": args.protocol.name(),
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
        "cpu": cpu,
        "cleanup": {
            "usersDeleted": deleted,
            "failedRequests": failed,
            "seconds": round3(cleanup_started.elapsed().as_secs_f64()),
        },
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

    #[test]
    fn the_query_protocol_carries_the_same_operations() {
        let create = Mutation {
            op: Op::CreateUser,
            user: "lt-1-w0-1",
            value: "ml",
        };
        assert_eq!(
            create.query_form(),
            "Action=CreateUser&Version=2010-05-08&UserName=lt-1-w0-1&Path=%2Floadtest%2F\
             &Tags.member.1.Key=team&Tags.member.1.Value=ml&Tags.member.2.Key=created-by&Tags.member.2.Value=loadtest"
        );
        let (query, variables) = create.graphql();
        assert_eq!(query, CREATE_USER);
        assert_eq!(variables["tags"][0], json!({"key": "team", "value": "ml"}));
        assert_eq!(variables["tags"][1], json!({"key": "created-by", "value": "loadtest"}));
        assert!(CREATE_USER.contains(&format!("path: \"{PATH}\"")));
        assert!(TAG_USER.contains(REVIEW_TAG));

        let tag = Mutation {
            op: Op::TagUser,
            user: "dev 1",
            value: "7",
        };
        assert_eq!(
            tag.query_form(),
            "Action=TagUser&Version=2010-05-08&UserName=dev+1&Tags.member.1.Key=last-review&Tags.member.1.Value=7"
        );
        let policy = "arn:aws:iam::123456789012:policy/loadtest/QueueSender";
        for (op, action) in [(Op::Attach, "AttachUserPolicy"), (Op::Detach, "DetachUserPolicy")] {
            let mutation = Mutation {
                op,
                user: "u",
                value: policy,
            };
            assert_eq!(
                mutation.query_form(),
                format!(
                    "Action={action}&Version=2010-05-08&UserName=u\
                     &PolicyArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Floadtest%2FQueueSender"
                )
            );
            assert_eq!(mutation.graphql().1, json!({"user": "u", "policy": policy}));
        }
        let delete = Mutation {
            op: Op::DeleteUser,
            user: "u",
            value: "",
        };
        assert_eq!(delete.query_form(), "Action=DeleteUser&Version=2010-05-08&UserName=u");
        assert_eq!(delete.graphql(), (DELETE_USER, json!({"user": "u"})));
    }
}
