//! No network (issue "Reliability: … no network"): with the models installed, `gijiroku
//! transcribe` needs no network at all. Two independent proofs; a machine that cannot give
//! one fails the test (scripts/setup.sh installs strace), it never passes unproven:
//!
//! - it runs to the end inside a fresh network namespace with no interface up (`unshare -n`,
//!   needs root or user namespaces);
//! - under `strace -f`, it never creates an `AF_INET`/`AF_INET6` socket (needs strace).
//!
//! The runs deliberately keep the real download addresses (no `GIJIROKU_PYPI_URL` override),
//! so an attempt to fetch anything would be an attempt to reach pypi.org or the ggml host.
//! A missing model is the one case that does try (transcribe installs it on first use); that
//! it then fails quickly with a message naming the model is checked too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The first 10 s of samples/meeting.wav.
fn clip(path: &Path) {
    let mut reader = hound::WavReader::open(common::sample("meeting.wav")).unwrap();
    let spec = reader.spec();
    let n = 10 * spec.sample_rate as usize * usize::from(spec.channels);
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in reader.samples::<i16>().take(n) {
        w.write_sample(s.unwrap()).unwrap();
    }
    w.finalize().unwrap();
}

/// `program args… gijiroku transcribe <clip> -o <out> --no-diarize --greedy` with the test
/// models and the real download addresses.
fn transcribe_via(
    program: &str,
    args: &[&str],
    models: &Path,
    input: &Path,
    out: &Path,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg(env!("CARGO_BIN_EXE_gijiroku"))
        .arg("transcribe")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--formats", "docx,json", "--no-diarize", "--greedy"])
        .env("GIJIROKU_MODELS", models)
        .env_remove("GIJIROKU_PYPI_URL")
        .env_remove("GIJIROKU_GGML_URL")
        .env_remove("GIJIROKU_LOG");
    cmd
}

/// True when `program args… true` runs: the tool exists and is allowed here.
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .arg("true")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A proof that cannot run here is a failure, never a pass.
fn cannot_run(test: &str, reason: &str) -> ! {
    panic!("{test} cannot run: {reason}");
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_drafts(out: &Output, dir: &Path) {
    let stderr = stderr_of(out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = common::read_json(&dir.join("clip.json"));
    let text: String = json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(!text.is_empty(), "nothing recognised: {json}");
    assert!(common::docx_text(&dir.join("clip.docx")).contains("会議録"));
}

#[test]
fn transcribe_runs_in_a_network_namespace_without_interfaces() {
    let test = "transcribe_runs_in_a_network_namespace_without_interfaces";
    // `-r` maps the current user to root in a user namespace, so this works unprivileged
    // where user namespaces are enabled; as root plain `-n` is enough.
    let unshare: &[&str] = if works("unshare", &["-n"]) {
        &["-n", "--"]
    } else if works("unshare", &["-r", "-n"]) {
        &["-r", "-n", "--"]
    } else {
        cannot_run(
            test,
            "`unshare -n` is not available or not permitted (needs root or user namespaces)",
        )
    };
    // What the namespace looks like: loopback only, and down.
    let links = Command::new("unshare")
        .args(unshare)
        .args(["cat", "/proc/net/dev"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout).into_owned();
    let ifaces: Vec<&str> = links
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(str::trim))
        .collect();
    assert_eq!(ifaces, ["lo"], "{links}");

    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("clip.wav");
    clip(&input);
    let out_dir = t.path().join("out");
    let out = transcribe_via("unshare", unshare, common::models_dir(), &input, &out_dir)
        .output()
        .unwrap();
    assert_drafts(&out, &out_dir);
}

/// Socket families created by a traced run, from an `strace -f -e trace=socket,connect` log.
fn socket_families(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let at = l.find("socket(")?;
            let args = &l[at + "socket(".len()..];
            Some(args.split([',', ')']).next()?.trim().to_string())
        })
        .collect()
}

fn inet_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("AF_INET") || l.contains("sin_port") || l.contains("sin6_port"))
        .collect()
}

#[test]
fn transcribe_opens_no_internet_socket() {
    let test = "transcribe_opens_no_internet_socket";
    if !works("strace", &["-f", "-qq", "-e", "trace=none"]) {
        cannot_run(
            test,
            "strace is not installed or cannot trace here (apt-get install strace)",
        );
    }
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("clip.wav");
    clip(&input);
    let out_dir = t.path().join("out");
    let log = t.path().join("strace.log");
    let log_arg = log.display().to_string();
    let out = transcribe_via(
        "strace",
        &[
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect,sendto,sendmsg",
            "-o",
            &log_arg,
        ],
        common::models_dir(),
        &input,
        &out_dir,
    )
    .output()
    .unwrap();
    assert_drafts(&out, &out_dir);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(inet_lines(&log), Vec::<&str>::new(), "network use:\n{log}");
    let families = socket_families(&log);
    assert!(
        families.iter().all(|f| f == "AF_UNIX" || f == "AF_NETLINK"),
        "sockets created: {families:?}\n{log}"
    );
    eprintln!(
        "strace: {} socket() calls ({families:?}), no AF_INET/AF_INET6",
        families.len()
    );
}

/// The strace check itself works: a run that does reach for the network (installing a
/// model from an unreachable address) shows up as an AF_INET socket.
#[test]
fn the_strace_check_sees_a_download_attempt() {
    if !works("strace", &["-f", "-qq", "-e", "trace=none"]) {
        cannot_run(
            "the_strace_check_sees_a_download_attempt",
            "strace is not installed or cannot trace here",
        );
    }
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("strace.log");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=socket,connect", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_gijiroku"))
        .args(["--quiet", "models", "install", "silero-vad"])
        .env("GIJIROKU_MODELS", t.path().join("models"))
        // Port 9 (discard) on loopback: refused at once, but a socket is made.
        .env("GIJIROKU_PYPI_URL", "http://127.0.0.1:9/pypi")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!inet_lines(&log).is_empty(), "no AF_INET seen:\n{log}");
}

/// Without its model and without a network, transcribe fails fast and says which model is
/// missing, instead of hanging on a download.
#[test]
fn missing_model_offline_fails_fast_naming_the_model() {
    if !works("unshare", &["-n"]) {
        cannot_run(
            "missing_model_offline_fails_fast_naming_the_model",
            "`unshare -n` is not permitted here",
        );
    }
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("clip.wav");
    clip(&input);
    let out_dir = t.path().join("out");
    let empty_models: PathBuf = t.path().join("models");
    let started = Instant::now();
    let out = transcribe_via("unshare", &["-n", "--"], &empty_models, &input, &out_dir)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("model `base`"), "{stderr}");
    assert!(took < Duration::from_secs(120), "took {took:?}:\n{stderr}");
    assert!(!out_dir.join("clip.docx").exists());
}
