//! `gijiroku` binary: parse arguments, set up logging, run, map the result to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    // whisper.cpp's own chatter stays at debug unless asked for.
    let filter = tracing_subscriber::EnvFilter::try_from_env("GIJIROKU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},whisper_rs=off")));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .init();

    match cli::run(cli) {
        Ok(cli::Status::Ok) => ExitCode::SUCCESS,
        Ok(cli::Status::Failed) => ExitCode::from(1),
        Ok(cli::Status::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
