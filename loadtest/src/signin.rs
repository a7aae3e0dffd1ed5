//! `signin`: password sign-ins per second through `POST /v1/signin`. Before the warm-up (not
//! measured), the management account's root key creates a fresh account, and that account's root
//! key creates `--users` IAM users under `/loadtest/`, each with a random password
//! (`createLoginProfile`, one argon2id hash each). Closed-loop workers, one keep-alive connection
//! each, then sign those users in with their right passwords, as an admin portal would: every
//! attempt succeeds, so the server's throttling (which counts failures, per user and per source
//! address) never engages. Each sign-in costs the server one argon2id verification on a blocking
//! thread, one `RecordSignIn` event and one `ConsoleLogin` audit record. Every answer is checked
//! for session credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use iam_sigv4::Credentials;
use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::cli::{bounded, SignInArgs, MAX_CONCURRENCY, MAX_PRINCIPALS};
use crate::http::{graphql, Conn, Gql};
use crate::manifest;
use crate::stats::{round3, CpuWindow, Progress, Recorder};
use crate::target::Target;

/// The endpoint measured.
pub const SIGN_IN_PATH: &str = "/v1/signin";

/// Users created at once during the set-up (each `createLoginProfile` hashes on the server).
const SET_UP_CONCURRENCY: usize = 4;

const CREATE_ACCOUNT: &str =
    "mutation($alias: String) { createAccount(accountAlias: $alias) { accountId rootAccessKey { accessKeyId secretAccessKey } } }";

const CREATE_USER_WITH_PASSWORD: &str = "mutation($user: String!, $password: String!) {
  createUser(input: {userName: $user, path: \"/loadtest/\"}) { sequence }
  createLoginProfile(userName: $user, password: $password) { userName passwordResetRequired }
}";

/// A user who signs in, with its password.
#[derive(Clone)]
pub struct SignInUser {
    /// The user's name.
    pub user_name: String,
    /// Its password (random, never shown).
    password: String,
}

impl std::fmt::Debug for SignInUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInUser")
            .field("user_name", &self.user_name)
            .finish_non_exhaustive()
    }
}

/// A random password that satisfies any password policy a fresh account can have (upper and
/// lower case, digits, a symbol; 31 characters).
pub fn random_password(rng: &mut impl Rng) -> String {
    let body: String = (0..24).map(|_| char::from(rng.sample(Alphanumeric))).collect();
    format!("Lt-{body}-9a!")
}

/// The body of one sign-in, as an admin portal sends it.
pub fn sign_in_body(account_id: &str, user: &SignInUser) -> Bytes {
    Bytes::from(json!({"account": account_id, "userName": user.user_name, "password": user.password}).to_string())
}

/// Runs one GraphQL operation for the set-up; a GraphQL error is an error.
async fn set_up_call(
    conn: &mut Conn,
    recorder: &Recorder,
    kind: &str,
    credentials: &Credentials,
    query: &str,
    variables: &Value,
) -> Result<Value> {
    match graphql(conn, credentials, query, variables).await? {
        (Gql::Data(data), latency) => {
            recorder.ok(latency, 1, Some(kind));
            Ok(data)
        }
        (Gql::Error { code, message }, _) => {
            recorder.error(&code, &message);
            Err(anyhow!("{kind}: {code}: {message}"))
        }
    }
}

/// Creates the account (with the management account's root key) and its users with passwords.
async fn set_up(
    target: &Arc<Target>,
    management: &Credentials,
    users: usize,
    rng: &mut StdRng,
    recorder: &Recorder,
) -> Result<(String, Vec<SignInUser>)> {
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let mut conn = Conn::new(target.clone());
    let data = set_up_call(
        &mut conn,
        recorder,
        "createAccount",
        management,
        CREATE_ACCOUNT,
        &json!({"alias": format!("loadtest-signin-{run_id}")}),
    )
    .await
    .context("createAccount (is --data-dir the data directory of the iamd at --url?)")?;
    let account = &data["createAccount"];
    let (Some(account_id), Some(id), Some(secret)) = (
        account["accountId"].as_str(),
        account["rootAccessKey"]["accessKeyId"].as_str(),
        account["rootAccessKey"]["secretAccessKey"].as_str(),
    ) else {
        bail!("createAccount returned {data}");
    };
    let root = Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: None,
    };
    let wanted: Vec<SignInUser> = (0..users)
        .map(|i| SignInUser {
            user_name: format!("lt-signin-{i:04}"),
            password: random_password(rng),
        })
        .collect();
    let made: Vec<SignInUser> = stream::iter(wanted)
        .map(|user| {
            let (target, root) = (target.clone(), &root);
            async move {
                let mut conn = Conn::new(target);
                let data = set_up_call(
                    &mut conn,
                    recorder,
                    "createUserWithLoginProfile",
                    root,
                    CREATE_USER_WITH_PASSWORD,
                    &json!({"user": user.user_name, "password": user.password}),
                )
                .await
                .with_context(|| format!("creating {} in account {account_id}", user.user_name))?;
                if data["createLoginProfile"]["passwordResetRequired"] != Value::Bool(false) {
                    bail!("createLoginProfile returned {data}");
                }
                Ok::<_, anyhow::Error>(user)
            }
        })
        .buffered(SET_UP_CONCURRENCY)
        .try_collect()
        .await?;
    Ok((account_id.to_owned(), made))
}

/// Whether a 200 answer carries session credentials.
fn has_credentials(body: &Value) -> bool {
    let c = &body["credentials"];
    ["accessKeyId", "secretAccessKey", "sessionToken"]
        .iter()
        .all(|field| c[*field].as_str().is_some_and(|v| !v.is_empty()))
}

/// One closed-loop worker until `deadline`; returns how many connections it opened.
async fn worker(
    account_id: Arc<String>,
    users: Arc<Vec<SignInUser>>,
    target: Arc<Target>,
    recorder: Recorder,
    seed: u64,
    deadline: Instant,
) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn = Conn::new(target);
    // Unsigned: a sign-in is how a person without credentials gets some.
    let headers = [
        ("host".to_owned(), conn.host().to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    while Instant::now() < deadline {
        let user = &users[rng.gen_range(0..users.len())];
        let body = sign_in_body(&account_id, user);
        let started = Instant::now();
        let reply = match conn.send(SIGN_IN_PATH, &headers, body).await {
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
            let code = parsed["error"]["code"].as_str().unwrap_or("unparsable");
            recorder.error(
                &format!("http_{}:{code}", reply.status),
                &String::from_utf8_lossy(&reply.body),
            );
            continue;
        }
        if has_credentials(&parsed) {
            recorder.ok(latency, 1, None);
        } else {
            recorder.error("no-credentials", &String::from_utf8_lossy(&reply.body));
        }
    }
    conn.connects
}

/// Runs `signin` and returns its summary.
///
/// # Errors
/// Bad flags, unreadable root credentials, or a failed set-up request.
pub async fn run(args: &SignInArgs, target: Arc<Target>) -> Result<Value> {
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY)?;
    let users = bounded("users", args.users, MAX_PRINCIPALS)?;
    let rng_seed = args.common.rng_seed.unwrap_or_else(rand::random);
    let management = manifest::read_root_credentials(&args.data_dir.join("root-credentials"))?;

    // Not measured: the account, its users and their passwords.
    let set_up_recorder = Recorder::default();
    let set_up_started = Instant::now();
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let (account_id, users) = set_up(&target, &management, users, &mut rng, &set_up_recorder).await?;
    let set_up_seconds = set_up_started.elapsed().as_secs_f64();
    if !args.common.quiet {
        eprintln!(
            "signin: account {account_id} with {} users and passwords in {set_up_seconds:.1}s",
            users.len()
        );
    }
    let (_, _, set_up_totals) = set_up_recorder.totals();

    let account_id = Arc::new(account_id);
    let users = Arc::new(users);
    let recorder = Recorder::default();
    recorder.set_recording(args.warmup.is_zero());
    let progress = Progress::start(recorder.clone(), "sign-ins", args.common.quiet);
    let warmup_end = Instant::now() + args.warmup;
    let deadline = warmup_end + args.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            tokio::spawn(worker(
                account_id.clone(),
                users.clone(),
                target.clone(),
                recorder.clone(),
                rng_seed.wrapping_add(1 + w as u64),
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
    let (requests, sign_ins, totals) = recorder.totals();
    let cpu_json = cpu.finish();
    Ok(json!({
        "scenario": "signin",
        "url": target.url,
        "endpoint": SIGN_IN_PATH,
        "accountId": *account_id,
        "users": users.len(),
        "concurrency": concurrency,
        "rngSeed": rng_seed,
        "setUp": {
            "seconds": round3(set_up_seconds),
            "latencyMsByKind": set_up_totals["latencyMsByKind"],
        },
        "warmupSeconds": args.warmup.as_secs_f64(),
        "seconds": round3(seconds),
        "requests": requests,
        "signIns": sign_ins,
        "signInsPerSecond": round3(sign_ins as f64 / seconds),
        "latencyMs": totals["latencyMs"],
        "errors": totals["errors"],
        "errorCount": totals["errorCount"],
        "firstErrors": totals["firstErrors"],
        "connectionsOpened": connects,
        "iamdCpuMicrosPerSignIn": crate::decisions::iamd_micros_per(&cpu_json, sign_ins),
        "cpu": cpu_json,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_are_random_and_satisfy_every_rule() {
        let mut rng = StdRng::seed_from_u64(14);
        let a = random_password(&mut rng);
        let b = random_password(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.chars().count(), 31);
        assert!(a.chars().any(|c| c.is_ascii_uppercase()));
        assert!(a.chars().any(|c| c.is_ascii_lowercase()));
        assert!(a.chars().any(|c| c.is_ascii_digit()));
        assert!(a.contains('!'));
    }

    #[test]
    fn the_body_is_the_endpoints_json_and_the_password_stays_out_of_debug() {
        let user = SignInUser {
            user_name: "lt-signin-0003".into(),
            password: "Lt-secret-9a!".into(),
        };
        let body: Value = serde_json::from_slice(&sign_in_body("123456789012", &user)).unwrap();
        assert_eq!(
            body,
            json!({"account": "123456789012", "userName": "lt-signin-0003", "password": "Lt-secret-9a!"})
        );
        assert!(!format!("{user:?}").contains("secret"));
    }

    #[test]
    fn only_answers_with_a_whole_session_count() {
        assert!(has_credentials(
            &json!({"credentials": {"accessKeyId": "ASIA1", "secretAccessKey": "s", "sessionToken": "t"}})
        ));
        assert!(!has_credentials(
            &json!({"credentials": {"accessKeyId": "ASIA1", "secretAccessKey": "s"}})
        ));
        assert!(!has_credentials(&json!({"error": {"code": "FailedAuthentication"}})));
    }
}
