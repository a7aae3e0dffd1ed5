//! `iamctl`: the Gatehouse command-line client.
//!
//! Exit codes: 0 on success, 2 when the input is malformed (message on stderr, nothing on stdout),
//! 1 for any other failure.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iam_policy::simulate::{simulate_custom_policy, SimulateCustomPolicyRequest};
use iam_policy::validate::{validate_policy, PolicyKind};
use iam_policy::PolicyError;

mod client;
mod credentials;
mod export;
mod integrity;
mod trail;
mod verify;

#[derive(Parser)]
#[command(name = "iamctl", version, about = "Gatehouse command-line client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulates identity (and optionally boundary, organization and resource) policies given as
    /// text, like `aws iam simulate-custom-policy --cli-input-json`.
    SimulateCustomPolicy {
        /// The request as JSON, in the shape `aws iam simulate-custom-policy --generate-cli-skeleton`
        /// prints; `-` reads standard input.
        #[arg(long)]
        input: PathBuf,
    },
    /// Validates a policy document like `aws accessanalyzer validate-policy`, printing
    /// `{"findings": [...]}`. A document that does not parse is malformed input (exit code 2).
    ValidatePolicy {
        /// The policy document; `-` reads standard input.
        #[arg(long)]
        input: PathBuf,
        /// `IDENTITY_POLICY`, `RESOURCE_POLICY`, `SERVICE_CONTROL_POLICY`,
        /// `RESOURCE_CONTROL_POLICY` or `ROLE_TRUST_POLICY`.
        #[arg(long, default_value = "IDENTITY_POLICY")]
        policy_type: String,
    },
    /// Sends a GraphQL request to the gateway, signed with SigV4 (service `iam`) using AWS-style
    /// credentials; prints the JSON response. Exit code 1 when the response carries `errors`.
    Graphql(client::GraphqlArgs),
    /// Exports the caller's account's audit history in a time range as a CloudTrail log file
    /// (`{"Records": [...]}`, oldest first).
    AuditExport(export::ExportArgs),
    /// Checks of the audit history.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Replays every audited decision of a time range on the state it was made on and reports
    /// the records the replay disagrees with (exit code 1 when there is any).
    VerifyReplay(verify::VerifyReplayArgs),
    /// Checks that an account's audit history is the one that was written: its hash chain, its
    /// signed digests and their keys. Reports the first record edited, deleted, inserted or
    /// reordered and the last digest that holds (exit code 1 when anything is wrong).
    Verify(integrity::VerifyChainArgs),
    /// Writes the audit history in CloudTrail's layout (a gzip file per account, region and
    /// hour under `AWSLogs/`), resuming where the last run in the directory stopped.
    ExportTrail(trail::ExportTrailArgs),
}

/// A failure, with the exit code it maps to.
enum Failure {
    /// Malformed input: exit code 2.
    Input(String),
    /// Anything else: exit code 1.
    Other(String),
    /// A report that found a problem: printed on standard output, exit code 1.
    Finding(String),
}

fn read_input(path: &PathBuf) -> Result<String, Failure> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Other(format!("cannot read standard input: {e}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Input(format!("cannot read `{}`: {e}", path.display())))?;
    }
    Ok(text)
}

fn policy_failure(error: PolicyError) -> Failure {
    Failure::Input(format!("{}: {error}", error.aws_code()))
}

fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::SimulateCustomPolicy { input } => {
            let text = read_input(&input)?;
            let request: SimulateCustomPolicyRequest = serde_json::from_str(&text).map_err(|e| {
                Failure::Input(format!(
                    "InvalidInput: the request is not a SimulateCustomPolicy request: {e}"
                ))
            })?;
            let response = simulate_custom_policy(&request).map_err(policy_failure)?;
            serde_json::to_string_pretty(&response).map_err(|e| Failure::Other(e.to_string()))
        }
        Command::ValidatePolicy { input, policy_type } => {
            let kind: PolicyKind = policy_type.parse().map_err(policy_failure)?;
            let text = read_input(&input)?;
            iam_policy::parse_policy(&text)
                .map_err(|e| Failure::Input(format!("{}: `{}`: {e}", e.aws_code(), input.display())))?;
            let findings = validate_policy(&text, kind);
            serde_json::to_string_pretty(&serde_json::json!({ "findings": findings }))
                .map_err(|e| Failure::Other(e.to_string()))
        }
        Command::Graphql(args) => client::run(&args, &credentials::process_env),
        Command::AuditExport(args) => export::export(&args, &credentials::process_env).map_err(client_failure),
        Command::Audit {
            command: AuditCommand::VerifyReplay(args),
        } => {
            let verified = verify::verify_replay(&args, &credentials::process_env).map_err(client_failure)?;
            let report = serde_json::to_string_pretty(&verified.report).map_err(|e| Failure::Other(e.to_string()))?;
            if verified.faithful {
                Ok(report)
            } else {
                Err(Failure::Finding(report))
            }
        }
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => {
            let verdict = match &args.dir {
                Some(dir) => integrity::verify_export(dir, args.trusted_key.as_ref()),
                None => integrity::verify_chain_live(&args, &credentials::process_env),
            }
            .map_err(client_failure)?;
            let report = serde_json::to_string_pretty(&verdict.report).map_err(|e| Failure::Other(e.to_string()))?;
            if verdict.intact {
                Ok(report)
            } else {
                Err(Failure::Finding(report))
            }
        }
        Command::Audit {
            command: AuditCommand::ExportTrail(args),
        } => {
            let summary = trail::export_trail(&args, &credentials::process_env).map_err(|e| {
                if e.is_malformed_input() {
                    Failure::Input(e.to_string())
                } else {
                    Failure::Other(e.to_string())
                }
            })?;
            serde_json::to_string_pretty(&summary).map_err(|e| Failure::Other(e.to_string()))
        }
    }
}

fn client_failure(error: client::ClientError) -> Failure {
    if error.is_malformed_input() {
        Failure::Input(error.to_string())
    } else {
        Failure::Other(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{output}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            }
        }
        Err(Failure::Input(message)) => {
            eprintln!("iamctl: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Other(message)) => {
            eprintln!("iamctl: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Finding(report)) => {
            println!("{report}");
            ExitCode::from(1)
        }
    }
}
