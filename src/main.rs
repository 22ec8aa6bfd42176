//! `gijiroku` binary: parse arguments, set up logging, run, map the result to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Decoders log every probe miss as an error although we report the file ourselves;
/// whisper.cpp's own chatter stays off unless asked for through GIJIROKU_LOG.
const QUIET_DEPENDENCIES: &str = "whisper_rs=off,symphonia=off,symphonia_core=off,symphonia_format_isomp4=off,\
symphonia_format_riff=off,symphonia_format_ogg=off,symphonia_bundle_mp3=off,symphonia_bundle_flac=off,\
symphonia_codec_aac=off,symphonia_codec_vorbis=off,symphonia_codec_pcm=off";

/// Rounds an OpenMP thread spins at a barrier before it sleeps.
#[cfg(unix)]
const OPENMP_SPIN_COUNT: &str = "1000";

/// whisper.cpp synchronises its threads with OpenMP barriers. libgomp's default policy spins
/// while waiting, which collapses when other programs compete for the cores (measured on 2
/// cores under load: 157 s spinning vs 49 s passive for the same file); sleeping at once
/// (passive) costs ~20% when the PC is idle, as every decoder step wakes the threads. A short
/// spin (1,000 rounds) was as fast as longer ones idle and as passive under load
/// (docs/performance.md). libgomp
/// reads its settings when it is loaded, before `main`, so the process re-executes itself once
/// with them unless the user chose a policy or spin count.
#[cfg(unix)]
fn ensure_passive_openmp() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_WAIT_POLICY").is_some() || std::env::var_os("GOMP_SPINCOUNT").is_some()
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // exec only returns on failure; then the run goes on with libgomp's default policy.
    let _ = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .env("GOMP_SPINCOUNT", OPENMP_SPIN_COUNT)
        .exec();
}

/// Allocations from this size up get their own mapping, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 1 << 20;

/// glibc raises its mmap threshold to the size of each large block freed (up to 32 MB), after
/// which blocks that size come from the heap and stay resident once freed: the model loading
/// and the speaker models' buffers then held ~40 MB more at the peak than they use (measured:
/// 559 → 523 MB on the 66 s sample, no slower). A fixed threshold stops that.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter; called first thing in `main`, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

fn main() -> ExitCode {
    #[cfg(unix)]
    ensure_passive_openmp();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fix_mmap_threshold();
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
            // Each cause once: many messages quote their cause already.
            eprintln!("error: {}", gijiroku::types::error_line(e.as_ref()));
            ExitCode::from(1)
        }
    }
}
