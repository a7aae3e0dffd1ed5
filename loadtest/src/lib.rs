//! `loadtest`: a bounded, loopback-only load generator for `iamd`. `seed` creates accounts and
//! principals with realistic policies; `decisions`, `mutations` and `audit-lag` measure the
//! decision API, the GraphQL admin API and the audit history, printing a progress line a second
//! on stderr and a JSON summary on stdout (or `--json FILE`).

pub mod audit_lag;
pub mod cli;
pub mod decisions;
pub mod http;
pub mod manifest;
pub mod mutations;
pub mod scenario;
pub mod seed;
pub mod stats;
pub mod target;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::{Cli, Command, Common};

fn common(command: &Command) -> &Common {
    match command {
        Command::Seed(a) => &a.common,
        Command::Decisions(a) => &a.common,
        Command::Mutations(a) => &a.common,
        Command::AuditLag(a) => &a.common,
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
    let common = common(&cli.command);
    let target = Arc::new(target::resolve(&common.url).await?);
    let work = async {
        match &cli.command {
            Command::Seed(args) => seed::run(args, target.clone()).await,
            Command::Decisions(args) => {
                let manifest = manifest::read(&args.seed)?;
                warn_other_server(&manifest, &target);
                decisions::run(args, target.clone(), manifest).await
            }
            Command::Mutations(args) => {
                let manifest = manifest::read(&args.seed)?;
                warn_other_server(&manifest, &target);
                mutations::run(args, target.clone(), manifest).await
            }
            Command::AuditLag(args) => {
                let manifest = manifest::read(&args.seed)?;
                warn_other_server(&manifest, &target);
                audit_lag::run(args, target.clone(), manifest).await
            }
        }
    };
    let grace = cli::HARD_CAP + std::time::Duration::from_secs(60);
    let summary: Value = match tokio::time::timeout(grace, work).await {
        Ok(summary) => summary?,
        Err(_) => bail!("stopped: the run exceeded the {} s cap", grace.as_secs()),
    };
    let text = serde_json::to_string_pretty(&summary)?;
    match &common.json {
        Some(path) => {
            std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("summary written to {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}
