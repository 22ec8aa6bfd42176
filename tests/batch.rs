//! Batch transcription (issue 5) with the real models: a folder of good recordings plus a
//! corrupt and an unsupported file gives drafts for the good ones, the failures in the
//! report and a non-zero exit; a rerun skips finished files; Ctrl-C leaves no partial output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn models_dir() -> PathBuf {
    std::env::var_os("GIJIROKU_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models"))
}

fn gijiroku() -> Command {
    let mut c = Command::cargo_bin("gijiroku").unwrap();
    c.arg("--models-dir").arg(models_dir());
    c
}

/// Installs the three models once per test binary (a no-op when present).
fn models() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in ["base", "silero-vad", "speaker"] {
            let have = match name {
                "base" => models_dir().join("ggml-base.bin"),
                "silero-vad" => models_dir().join("ggml-silero-vad.bin"),
                _ => models_dir().join("speaker-campplus.safetensors"),
            };
            if !have.is_file() {
                let st = gijiroku()
                    .args(["-q", "models", "install", name])
                    .status()
                    .unwrap();
                assert!(st.success(), "installing {name} failed");
            }
        }
    });
}

/// The first `secs` seconds of the committed meeting sample as a WAV of the given encoding.
fn clip(dest: &Path, secs: f32, float: bool) {
    let mut r = hound::WavReader::open(repo().join("samples/meeting.wav")).unwrap();
    let spec = r.spec();
    let n = (secs * spec.sample_rate as f32) as usize * spec.channels as usize;
    let samples: Vec<i16> = r.samples::<i16>().take(n).map(Result::unwrap).collect();
    let out_spec = if float {
        hound::WavSpec {
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
            ..spec
        }
    } else {
        spec
    };
    let mut w = hound::WavWriter::create(dest, out_spec).unwrap();
    for s in samples {
        if float {
            w.write_sample(s as f32 / 32768.0).unwrap();
        } else {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// A WAV whose `fmt ` chunk names GSM 6.10, which no decoder here handles.
fn gsm_wav(dest: &Path) {
    let mut b = Vec::new();
    let data = vec![0u8; 650];
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 8 + 20 + 8 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&20u32.to_le_bytes());
    b.extend_from_slice(&0x0031u16.to_le_bytes()); // GSM 6.10
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&1625u32.to_le_bytes());
    b.extend_from_slice(&65u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&320u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(dest, b).unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn batch_isolates_bad_files_reports_and_resumes() {
    batch_run("1");
}

/// The same batch with two files at a time (one model, two decoder states).
#[test]
fn parallel_batch_isolates_bad_files_reports_and_resumes() {
    batch_run("2");
}

fn batch_run(jobs: &str) {
    models();
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("録音");
    std::fs::create_dir_all(inp.join("11月")).unwrap();
    clip(&inp.join("朝会.wav"), 12.0, false);
    clip(&inp.join("11月/定例会.wav"), 10.0, true);
    std::fs::write(inp.join("壊れた.wav"), "これは音声ではありません").unwrap();
    gsm_wav(&inp.join("gsm.wav"));
    let out = tmp.path().join("out");

    let run = || {
        gijiroku()
            .args([
                "transcribe",
                "--recursive",
                "--greedy",
                "--json",
                "-j",
                jobs,
                "-o",
            ])
            .arg(&out)
            .arg(&inp)
            .output()
            .unwrap()
    };
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        first.status.code(),
        Some(1),
        "one bad file makes the run fail; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("壊れた.wav"),
        "the corrupt file is named: {stderr}"
    );
    assert!(
        stderr.contains("gsm.wav") && stderr.contains("GSM"),
        "the codec is named: {stderr}"
    );

    // Good drafts, mirrored tree; nothing for the bad files; no temporary files.
    for p in [
        "朝会.docx",
        "朝会.json",
        "11月/定例会.docx",
        "11月/定例会.json",
    ] {
        assert!(
            out.join(p).is_file(),
            "missing {p}: {:?}",
            files_under(&out)
        );
    }
    // Each draft has text: whisper.cpp's state, freed after every recording, is made again.
    for p in ["朝会.json", "11月/定例会.json"] {
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(p)).unwrap()).unwrap();
        let text: String = j["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert!(text.chars().count() >= 20, "{p}: {text:?}");
    }
    let all = files_under(&out);
    assert!(all
        .iter()
        .all(|p| !p.to_string_lossy().contains("壊れた") && !p.to_string_lossy().contains("gsm")));
    assert!(
        all.iter().all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "{all:?}"
    );

    // The report, as JSON and CSV.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("batch-report.json")).unwrap()).unwrap();
    let rows = report["files"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let status = |name: &str| {
        rows.iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("朝会.wav"), "ok");
    assert_eq!(status("定例会.wav"), "ok");
    assert_eq!(status("壊れた.wav"), "failed");
    assert_eq!(status("gsm.wav"), "failed");
    let ok = rows
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with("朝会.wav"))
        .unwrap();
    assert!((ok["duration_seconds"].as_f64().unwrap() - 12.0).abs() < 0.1);
    assert!(ok["speakers"].as_u64().unwrap() >= 1);
    let csv = std::fs::read_to_string(out.join("batch-report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.contains("failed") && csv.contains("朝会.wav"));

    // --json: one object per line, ending with the summary.
    let stdout = String::from_utf8(first.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "start");
    assert_eq!(events.last().unwrap()["event"], "summary");
    assert_eq!(events.iter().filter(|e| e["event"] == "file").count(), 4);

    // A rerun skips the finished files at once and still reports the bad ones.
    let before = std::fs::metadata(out.join("朝会.docx"))
        .unwrap()
        .modified()
        .unwrap();
    let t = Instant::now();
    let second = run();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "rerun took {:?}",
        t.elapsed()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("batch-report.json")).unwrap()).unwrap();
    let skipped = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
        .count();
    assert_eq!(skipped, 2);
    assert_eq!(
        std::fs::metadata(out.join("朝会.docx"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}

#[test]
fn interrupted_batch_leaves_no_partial_outputs() {
    models();
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("in");
    std::fs::create_dir_all(&inp).unwrap();
    clip(&inp.join("a.wav"), 40.0, false);
    clip(&inp.join("b.wav"), 40.0, false);
    let out = tmp.path().join("out");
    let mut child = gijiroku()
        .args(["transcribe", "--beam", "5", "--json", "-o"])
        .arg(&out)
        .arg(&inp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the run to start (models loaded, first file under way), then Ctrl-C.
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"start\""), "{first}");
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "stdout after start: {rest:?}");
    let written = files_under(&out);
    // The interrupted file has no output at all and nothing half-written remains; the
    // report says what happened.
    assert!(
        written.iter().all(|p| !p.to_string_lossy().contains("/a.")),
        "{written:?}"
    );
    assert!(
        written.iter().all(|p| !p.to_string_lossy().contains("/b.")),
        "{written:?}"
    );
    assert!(
        written
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "{written:?}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("batch-report.json")).unwrap()).unwrap();
    assert_eq!(report["files"][0]["status"], "interrupted");
}
