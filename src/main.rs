//! `gijiroku` binary: parse arguments, set up logging, run, map the result to an exit code.

mod cli;
mod cli_record;

use std::process::ExitCode;

use clap::Parser;

/// Decoders log every probe miss as an error although we report the file ourselves;
/// whisper.cpp's own chatter stays off unless asked for through GIJIROKU_LOG.
const QUIET_DEPENDENCIES: &str = "whisper_rs=off,symphonia=off,symphonia_core=off,symphonia_format_isomp4=off,\
symphonia_format_riff=off,symphonia_format_ogg=off,symphonia_bundle_mp3=off,symphonia_bundle_flac=off,\
symphonia_codec_aac=off,symphonia_codec_vorbis=off,symphonia_codec_pcm=off";

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GIJIROKU_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},{QUIET_DEPENDENCIES}"))
    });
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
