//! `loadtest`: a bounded, loopback-only load generator for `iamd`. `seed` creates accounts and
//! principals with realistic policies; `decisions`, `mutations`, `assume-role`, `signin` and
//! `audit-lag` measure the decision API, the admin API, STS, password sign-in and the audit
//! history, printing a progress line a second on stderr and a JSON summary on stdout (or
//! `--json FILE`).

pub mod assume_role;
pub mod audit_lag;
pub mod cli;
pub mod decisions;
pub mod distributed;
pub mod http;
pub mod manifest;
pub mod mutations;
pub mod scenario;
pub mod seed;
pub mod session;
pub mod signin;
pub mod stats;
pub mod target;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::{Cli, Command, Common};

fn common(command: &Command) -> Option<&Common> {
    match command {
        Command::Seed(a) => Some(&a.common),
        Command::Decisions(a) => Some(&a.common),
        Command::Mutations(a) => Some(&a.common),
        Command::AuditLag(a) => Some(&a.common),
        Command::AssumeRole(a) => Some(&a.common),
        Command::SignIn(a) => Some(&a.common),
        Command::DistributedFill(_) | Command::DistributedRebuild(_) | Command::DistributedLag(_) => None,
    }
}

fn json_path(command: &Command) -> Option<&std::path::Path> {
    match command {
        Command::DistributedFill(a) => a.common.json.as_deref(),
        Command::DistributedRebuild(a) => a.common.json.as_deref(),
        Command::DistributedLag(a) => a.common.json.as_deref(),
        other => common(other).and_then(|c| c.json.as_deref()),
    }
}

fn warn_other_server(manifest: &manifest::Manifest, target: &target::Target) {
    if manifest.url != target.url {
        eprintln!(
            "warning: the manifest was seeded against {} but --url is {}",
            manifest.url, target.url
        );
    }
}

/// Runs one scenario and writes its summary.
///
/// # Errors
/// Bad flags, a non-loopback URL, an unreachable server, a failed seed, or a run past
/// [`cli::HARD_CAP`] (plus a minute of grace).
pub async fn run(cli: Cli) -> Result<()> {
    let target = match common(&cli.command) {
        Some(common) => Some(Arc::new(target::resolve(&common.url).await?)),
        None => None,
    };
    let work = async {
        let target = || target.clone().ok_or_else(|| anyhow::anyhow!("no --url"));
        match &cli.command {
            Command::DistributedFill(args) => distributed::fill::run(args).await,
            Command::DistributedRebuild(args) => distributed::rebuild::run(args).await,
            Command::DistributedLag(args) => distributed::lag::run(args).await,
            Command::Seed(args) => seed::run(args, target()?).await,
            Command::Decisions(args) => {
                let manifest = manifest::read(&args.seed)?;
                let target = target()?;
                warn_other_server(&manifest, &target);
                decisions::run(args, target, manifest).await
            }
            Command::Mutations(args) => {
                let manifest = manifest::read(&args.seed)?;
                let target = target()?;
                warn_other_server(&manifest, &target);
                mutations::run(args, target, manifest).await
            }
            Command::AssumeRole(args) => {
                let manifest = manifest::read(&args.seed)?;
                let target = target()?;
                warn_other_server(&manifest, &target);
                assume_role::run(args, target, manifest).await
            }
            Command::SignIn(args) => signin::run(args, target()?).await,
            Command::AuditLag(args) => {
                let manifest = manifest::read(&args.seed)?;
                let target = target()?;
                warn_other_server(&manifest, &target);
                audit_lag::run(args, target, manifest).await
            }
        }
    };
    let grace = cli::HARD_CAP + std::time::Duration::from_secs(60);
    let summary: Value = match tokio::time::timeout(grace, work).await {
        Ok(summary) => summary?,
        Err(_) => bail!("stopped: the run exceeded the {} s cap", grace.as_secs()),
    };
    let text = serde_json::to_string_pretty(&summary)?;
    match json_path(&cli.command) {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("summary written to {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}
