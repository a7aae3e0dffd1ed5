//! The `loadtest` binary: parses the command line, builds a small Tokio runtime, runs.

use std::process::ExitCode;

use clap::Parser;
use loadtest::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli.threads.clamp(1, 64);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(loadtest::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}
