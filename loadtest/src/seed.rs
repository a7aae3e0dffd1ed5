//! `seed`: accounts created with the management account's root key, then in each the policies
//! and groups of `scenario.rs` and its users (tagged, in a group, with a policy attached
//! directly, some with an inline policy), then the manifest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use iam_sigv4::Credentials;
use serde_json::{json, Value};

use crate::cli::{bounded, SeedArgs, MAX_ACCOUNTS, MAX_CONCURRENCY, MAX_PRINCIPALS};
use crate::http::{graphql, Conn, Gql};
use crate::manifest::{self, Manifest, SeedAccount};
use crate::scenario::{self, Kind, Principal};
use crate::stats::{CpuWindow, Progress, Recorder};
use crate::target::Target;

/// Connections reused across the requests of a phase (keep-alive), taken and given back.
struct Pool {
    target: Arc<Target>,
    conns: Mutex<Vec<Conn>>,
}

impl Pool {
    fn take(&self) -> Conn {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| Conn::new(self.target.clone()))
    }

    fn give(&self, conn: Conn) {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn);
    }

    /// Runs one GraphQL operation; a GraphQL error is an error. `kind` and the number of
    /// mutations it carries go to the recorder.
    async fn run(
        &self,
        recorder: &Recorder,
        kind: &str,
        mutations: u64,
        credentials: &Credentials,
        query: &str,
        variables: &Value,
    ) -> Result<Value> {
        let mut conn = self.take();
        let result = graphql(&mut conn, credentials, query, variables).await;
        self.give(conn);
        match result? {
            (Gql::Data(data), latency) => {
                recorder.ok(latency, mutations, Some(kind));
                Ok(data)
            }
            (Gql::Error { code, message }, _) => {
                recorder.error(&code, &message);
                Err(anyhow!("{kind}: {code}: {message}"))
            }
        }
    }
}

const CREATE_ACCOUNT: &str = "mutation($alias: String) { createAccount(accountAlias: $alias) { accountId rootAccessKey { accessKeyId secretAccessKey } } }";

/// Builds the one request that creates an account's policies and groups.
fn setup_request() -> (String, Value) {
    let mut query = String::from("mutation(");
    let mut body = String::new();
    let mut variables = serde_json::Map::new();
    // Documents are filled in per account; names are the same everywhere.
    for (i, (name, _)) in scenario::managed_policies("000000000000").iter().enumerate() {
        query.push_str(&format!("$d{i}: String!, "));
        body.push_str(&format!(
            "p{i}: createPolicy(input: {{policyName: \"{name}\", path: \"/loadtest/\", policyDocument: $d{i}, description: \"loadtest seed\", tags: [{{key: \"owner\", value: \"loadtest\"}}]}}) {{ policy {{ arn policyName }} }}\n"
        ));
        variables.insert(format!("d{i}"), Value::Null);
    }
    query.push_str(") {\n");
    query.push_str(&body);
    query.push_str("g0: createGroup(input: {groupName: \"developers\", path: \"/people/\"}) { sequence }\n");
    query.push_str("g1: createGroup(input: {groupName: \"auditors\", path: \"/people/\"}) { sequence }\n}");
    (query, Value::Object(variables))
}

const ATTACH_GROUP_POLICIES: &str = "mutation($team: String!, $prod: String!, $inventory: String!) {
  a0: attachGroupPolicy(input: {groupName: \"developers\", policyArn: $team}) { sequence }
  a1: attachGroupPolicy(input: {groupName: \"developers\", policyArn: $prod}) { sequence }
  a2: attachGroupPolicy(input: {groupName: \"auditors\", policyArn: $inventory}) { sequence }
}";

const CREATE_PRINCIPAL: &str = "mutation($user: String!, $tags: [TagInput!], $group: String!, $network: String!) {
  createUser(input: {userName: $user, path: \"/people/\", tags: $tags}) { user { arn } }
  addUserToGroup(input: {groupName: $group, userName: $user}) { sequence }
  attachUserPolicy(input: {userName: $user, policyArn: $network}) { sequence }
}";

const CREATE_PRINCIPAL_WITH_INLINE: &str =
    "mutation($user: String!, $tags: [TagInput!], $group: String!, $network: String!, $home: String!) {
  createUser(input: {userName: $user, path: \"/people/\", tags: $tags}) { user { arn } }
  addUserToGroup(input: {groupName: $group, userName: $user}) { sequence }
  attachUserPolicy(input: {userName: $user, policyArn: $network}) { sequence }
  putUserPolicy(input: {userName: $user, policyName: \"HomePrefix\", policyDocument: $home}) { sequence }
}";

fn tags(p: &Principal, i: usize) -> Value {
    let mut tags = vec![
        json!({"key": "team", "value": p.team}),
        json!({"key": "cost-center", "value": format!("cc-{}", 1000 + i % 7)}),
        json!({"key": "email", "value": format!("{}@example.com", p.user_name)}),
    ];
    if p.clearance {
        tags.push(json!({"key": "clearance", "value": "high"}));
    }
    Value::Array(tags)
}

/// Creates the account's policies and groups; returns policy name → ARN.
async fn set_up_account(pool: &Pool, recorder: &Recorder, account: &SeedAccount) -> Result<BTreeMap<String, String>> {
    let credentials = account.credentials();
    let (query, mut variables) = setup_request();
    let policies = scenario::managed_policies(&account.account_id);
    for (i, (_, document)) in policies.iter().enumerate() {
        variables[format!("d{i}")] = Value::String(document.clone());
    }
    let data = pool
        .run(
            recorder,
            "setupAccount",
            policies.len() as u64 + 2,
            &credentials,
            &query,
            &variables,
        )
        .await?;
    let mut arns = BTreeMap::new();
    for i in 0..policies.len() {
        let policy = &data[format!("p{i}")]["policy"];
        let (Some(name), Some(arn)) = (policy["policyName"].as_str(), policy["arn"].as_str()) else {
            bail!("createPolicy returned no ARN: {data}");
        };
        arns.insert(name.to_owned(), arn.to_owned());
    }
    let arn = |name: &str| arns.get(name).cloned().ok_or_else(|| anyhow!("no policy {name}"));
    let variables =
        json!({"team": arn("TeamDataAccess")?, "prod": arn("ProtectProd")?, "inventory": arn("ReadOnlyInventory")?});
    pool.run(
        recorder,
        "attachGroupPolicies",
        3,
        &credentials,
        ATTACH_GROUP_POLICIES,
        &variables,
    )
    .await?;
    Ok(arns)
}

async fn create_principal(pool: &Pool, recorder: &Recorder, account: &SeedAccount, i: usize) -> Result<Principal> {
    let p = scenario::principal(&account.account_id, i);
    let group = match p.kind {
        Kind::Developer => "developers",
        Kind::Auditor => "auditors",
    };
    let network = account
        .policies
        .get("CorpNetworkOnly")
        .cloned()
        .ok_or_else(|| anyhow!("no CorpNetworkOnly policy"))?;
    let mut variables = json!({"user": p.user_name, "tags": tags(&p, i), "group": group, "network": network});
    let (query, mutations) = if p.inline_policy {
        variables["home"] = Value::String(scenario::home_prefix_policy());
        (CREATE_PRINCIPAL_WITH_INLINE, 4)
    } else {
        (CREATE_PRINCIPAL, 3)
    };
    let data = pool
        .run(
            recorder,
            "createPrincipal",
            mutations,
            &account.credentials(),
            query,
            &variables,
        )
        .await?;
    let arn = data["createUser"]["user"]["arn"].as_str().unwrap_or_default();
    if arn != p.arn {
        bail!("createUser returned ARN {arn:?}, expected {}", p.arn);
    }
    Ok(p)
}

/// Runs `seed` and returns its summary.
///
/// # Errors
/// Bad flags, unreadable credentials, or any failed request (seeding stops at the first).
pub async fn run(args: &SeedArgs, target: Arc<Target>) -> Result<Value> {
    let accounts = bounded("accounts", args.accounts, MAX_ACCOUNTS)?;
    let principals = bounded("principals", args.principals, MAX_PRINCIPALS)?;
    let concurrency = bounded("concurrency", args.concurrency, MAX_CONCURRENCY)?;
    let management = manifest::read_root_credentials(&args.data_dir.join("root-credentials"))?;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let pool = Pool {
        target: target.clone(),
        conns: Mutex::new(Vec::new()),
    };
    let recorder = Recorder::default();
    let progress = Progress::start(recorder.clone(), "mutations", args.common.quiet);
    let cpu = CpuWindow::start(args.common.iamd_pid);
    let started = Instant::now();

    // 1. Accounts, created by the management account's root user.
    let created: Vec<SeedAccount> = stream::iter(0..accounts)
        .map(|i| {
            let (pool, recorder, management, run_id) = (&pool, &recorder, &management, &run_id);
            async move {
                let alias = format!("loadtest-{run_id}-{i}");
                let data = pool
                    .run(
                        recorder,
                        "createAccount",
                        2,
                        management,
                        CREATE_ACCOUNT,
                        &json!({"alias": alias}),
                    )
                    .await
                    .context("createAccount (is --data-dir the data directory of the iamd at --url?)")?;
                let account = &data["createAccount"];
                let field = |v: &Value| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("createAccount returned {data}"))
                };
                Ok::<_, anyhow::Error>(SeedAccount {
                    account_id: field(&account["accountId"])?,
                    alias,
                    root_access_key_id: field(&account["rootAccessKey"]["accessKeyId"])?,
                    root_secret_access_key: field(&account["rootAccessKey"]["secretAccessKey"])?,
                    policies: BTreeMap::new(),
                    groups: vec!["developers".into(), "auditors".into()],
                    principals: Vec::new(),
                })
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "seed: {} accounts created in {:.1}s",
        created.len(),
        started.elapsed().as_secs_f64()
    );

    // 2. Policies and groups in each account.
    let mut accounts_done: Vec<SeedAccount> = stream::iter(created)
        .map(|mut account| {
            let (pool, recorder) = (&pool, &recorder);
            async move {
                account.policies = set_up_account(pool, recorder, &account)
                    .await
                    .with_context(|| format!("setting up account {}", account.account_id))?;
                Ok::<_, anyhow::Error>(account)
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "seed: policies and groups in place after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // 3. Users, interleaved across accounts so that no account's lock holds up the others.
    let work: Vec<(usize, usize)> = (0..principals)
        .flat_map(|i| (0..accounts_done.len()).map(move |a| (a, i)))
        .collect();
    let shared: &[SeedAccount] = &accounts_done;
    let made: Vec<(usize, Principal)> = stream::iter(work)
        .map(|(a, i)| {
            let (pool, recorder) = (&pool, &recorder);
            async move {
                let p = create_principal(pool, recorder, &shared[a], i)
                    .await
                    .with_context(|| format!("creating user {i} in account {}", shared[a].account_id))?;
                Ok::<_, anyhow::Error>((a, p))
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    for (a, p) in made {
        accounts_done[a].principals.push(p);
    }
    let elapsed = started.elapsed();
    drop(progress);

    let manifest = Manifest {
        version: manifest::VERSION,
        url: target.url.clone(),
        created_at: chrono::Utc::now().to_rfc3339(),
        run_id,
        accounts: accounts_done,
    };
    manifest::write(&args.out, &manifest)?;
    eprintln!(
        "seed: {} accounts x {} users written to {} (mode 0600) in {:.1}s",
        accounts,
        principals,
        args.out.display(),
        elapsed.as_secs_f64()
    );
    let (requests, mutations, totals) = recorder.totals();
    Ok(json!({
        "scenario": "seed",
        "url": target.url,
        "accounts": accounts,
        "principalsPerAccount": principals,
        "concurrency": concurrency,
        "manifest": args.out,
        "seconds": crate::stats::round3(elapsed.as_secs_f64()),
        "requests": requests,
        "mutations": mutations,
        "mutationsPerSecond": crate::stats::round3(mutations as f64 / elapsed.as_secs_f64().max(1e-9)),
        "latencyMs": totals["latencyMs"],
        "latencyMsByKind": totals["latencyMsByKind"],
        "errors": totals["errors"],
        "cpu": cpu.finish(),
    }))
}
