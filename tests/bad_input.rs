//! What the user sees when a recording cannot be used: a message naming the file and the
//! problem, a non-zero exit, no draft written, no panic. And the one damaged file that must
//! *not* be refused: a WAV whose recorder stopped abruptly (header claims more data than the
//! file holds) is read as far as it goes, with a warning.
//!
//! Inputs are built in code in a temporary folder, except the two codecs no Rust encoder
//! writes (GSM 6.10 in WAV, Opus in Ogg), which are small committed fixtures (tests/fixtures).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{assert_clean_failure, files_in, transcribe};

/// Runs `transcribe input` into `<tmp>/out` and checks the failure is clean and that stderr
/// names the file and says each of `problem`. Returns stderr.
fn refused(input: &Path, tmp: &Path, problem: &[&str]) -> String {
    let out_dir = tmp.join("out");
    let out =
        common::run(transcribe(input, &out_dir, "docx,json").timeout(Duration::from_secs(600)));
    assert_clean_failure(&out, &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let name = input.display().to_string();
    assert!(
        stderr.contains(&name),
        "stderr does not name {name}:\n{stderr}"
    );
    for p in problem {
        assert!(stderr.contains(p), "stderr does not say `{p}`:\n{stderr}");
    }
    assert!(
        stderr.lines().any(|l| l.starts_with("error: ")),
        "no `error:` line:\n{stderr}"
    );
    stderr
}

/// The first `seconds` of samples/meeting.wav as a well-formed 16 kHz 16-bit WAV.
fn speech_wav(path: &Path, seconds: f64) {
    let mut reader = hound::WavReader::open(common::sample("meeting.wav")).unwrap();
    let spec = reader.spec();
    let n = (seconds * f64::from(spec.sample_rate)) as usize * usize::from(spec.channels);
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in reader.samples::<i16>().take(n) {
        w.write_sample(s.unwrap()).unwrap();
    }
    w.finalize().unwrap();
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn empty_file() {
    let t = tmp();
    let p = t.path().join("empty.wav");
    std::fs::write(&p, b"").unwrap();
    refused(&p, t.path(), &["empty"]);
}

#[test]
fn text_file_named_wav() {
    let t = tmp();
    let p = t.path().join("議事メモ.wav");
    std::fs::write(
        &p,
        "これは音声ではありません。会議のメモです。\n".repeat(40),
    )
    .unwrap();
    refused(&p, t.path(), &["not a recognised audio container"]);
}

#[test]
fn wav_cut_inside_its_header() {
    let t = tmp();
    let p = t.path().join("header.wav");
    let bytes = std::fs::read(common::sample("meeting.wav")).unwrap();
    std::fs::write(&p, &bytes[..30]).unwrap();
    refused(&p, t.path(), &["corrupt"]);
}

#[test]
fn missing_file() {
    let t = tmp();
    let p = t.path().join("ない.wav");
    refused(&p, t.path(), &["not found"]);
}

#[test]
fn directory_without_recordings() {
    let t = tmp();
    let dir = t.path().join("録音フォルダ");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("memo.txt"), "メモ").unwrap();
    refused(&dir, t.path(), &["no audio files"]);
}

/// Bug pinned (issue 19): a folder with no recordings, given without `-o`, used to leave
/// batch-report.json/.csv of nothing in the current folder. Now: the error names the folder,
/// and nothing is written anywhere.
#[test]
fn empty_folder_says_no_audio_files_and_writes_no_report() {
    let t = tmp();
    let dir = t.path().join("空のフォルダ");
    std::fs::create_dir(&dir).unwrap();
    let cwd = t.path().join("作業");
    std::fs::create_dir(&cwd).unwrap();
    let out = common::run(
        common::gijiroku()
            .current_dir(&cwd)
            .arg("transcribe")
            .arg(&dir)
            .timeout(Duration::from_secs(60)),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: 音声ファイルがありません", dir.display())),
        "{stderr}"
    );
    assert!(
        common::files_in(&cwd).is_empty(),
        "{:?}",
        common::files_in(&cwd)
    );
    assert!(
        common::files_in(&dir).is_empty(),
        "{:?}",
        common::files_in(&dir)
    );
}

/// Bug pinned (issue 19): an output folder that cannot be written was found only after
/// recognition. Now the file is refused before any work, naming the output.
#[test]
fn unwritable_output_folder_is_refused_before_recognition() {
    let t = tmp();
    let input = t.path().join("会議.wav");
    speech_wav(&input, 20.0);
    let blocker = t.path().join("ファイル");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out_dir = blocker.join("out");
    let out = common::run(
        transcribe(&input, &out_dir, "docx,json")
            .arg("--json")
            .timeout(Duration::from_secs(600)),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a folder"), "{stderr}");
    assert!(
        stderr.contains(&out_dir.join("会議.docx").display().to_string()),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file_event: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "file")
        .expect("a file event");
    // Recognising 20 s of speech takes seconds; refusing takes a blink.
    let secs = file_event["result"]["processing_seconds"].as_f64().unwrap();
    assert!(
        secs < 1.0,
        "refused only after {secs} s of work: {file_event}"
    );
}

/// GSM 6.10 in a WAV container: the container is known, the codec has no decoder.
#[test]
fn unsupported_codec_gsm_in_wav() {
    let t = tmp();
    let p = t.path().join("gsm.wav");
    std::fs::copy(common::fixture("unsupported-gsm.wav"), &p).unwrap();
    refused(&p, t.path(), &["unsupported audio"]);
}

/// Opus in Ogg: Symphonia reads the container but has no Opus decoder.
#[test]
fn unsupported_codec_opus_in_ogg() {
    let t = tmp();
    let p = t.path().join("voice.ogg");
    std::fs::copy(common::fixture("unsupported-opus.ogg"), &p).unwrap();
    refused(&p, t.path(), &["unsupported audio"]);
}

#[test]
fn bad_meeting_sheet_is_refused_before_any_work() {
    let t = tmp();
    let input = t.path().join("a.wav");
    speech_wav(&input, 2.0);
    let sheet = t.path().join("会議.toml");
    std::fs::write(&sheet, "会議名 = \"総務常任委員会\"\n開始 = \"来週\"\n").unwrap();
    let out_dir = t.path().join("out");
    let out = common::run(
        transcribe(&input, &out_dir, "docx")
            .arg("--meeting")
            .arg(&sheet),
    );
    assert_clean_failure(&out, &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&sheet.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

/// A recorder that crashed leaves a header promising more than the file holds: keep what is
/// there, warn, and finish the minutes (issue: read truncated WAV as far as it goes).
#[test]
fn truncated_wav_is_read_as_far_as_it_goes() {
    let t = tmp();
    let p = t.path().join("crashed.wav");
    // The sample's header (65.7 s) with only its first 10 s of data.
    let bytes = std::fs::read(common::sample("meeting.wav")).unwrap();
    let data_at = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
    std::fs::write(&p, &bytes[..data_at + 10 * 16_000 * 2]).unwrap();
    let out_dir = t.path().join("out");
    let out = common::run(
        transcribe(&p, &out_dir, "json")
            .args(["--greedy", "--no-diarize"])
            .timeout(Duration::from_secs(900)),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("crashed.wav"), "{stderr}");
    assert!(
        stderr.contains("ends before its header says"),
        "no warning:\n{stderr}"
    );
    let json = common::read_json(&out_dir.join("crashed.json"));
    let secs = json["audio_seconds"].as_f64().unwrap();
    assert!((secs - 10.0).abs() < 0.01, "audio_seconds {secs}");
    let text: String = json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(text.contains("開会"), "recognised: {text}");
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn outputs(dir: &Path, stem: &str) -> [PathBuf; 2] {
    [
        dir.join(format!("{stem}.docx")),
        dir.join(format!("{stem}.json")),
    ]
}

/// An existing draft (which the clerk may have edited) is never replaced without --force.
#[test]
fn existing_output_is_not_overwritten_without_force() {
    let t = tmp();
    let input = t.path().join("m.wav");
    speech_wav(&input, 3.0);
    set_mtime(&input, SystemTime::now() - Duration::from_secs(3600));
    let out_dir = t.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let [docx, json] = outputs(&out_dir, "m");
    std::fs::write(&docx, "清書済み: 書き換えないこと").unwrap();

    // Only one of the two outputs exists: the run must refuse, not fill in the other.
    let out =
        common::run(transcribe(&input, &out_dir, "docx,json").args(["--greedy", "--no-diarize"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&docx.display().to_string()), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&docx).unwrap(),
        "清書済み: 書き換えないこと"
    );
    assert!(!json.exists(), "a partial set of outputs was written");

    // Both exist and are newer than the recording: nothing to do, nothing touched.
    std::fs::write(&json, "{}").unwrap();
    let out = common::run(&mut transcribe(&input, &out_dir, "docx,json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&docx).unwrap(),
        "清書済み: 書き換えないこと"
    );
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "{}");
    assert_eq!(files_in(&out_dir), ["m.docx", "m.json"]);

    // --force replaces both.
    let out = common::run(
        transcribe(&input, &out_dir, "docx,json")
            .args(["--greedy", "--no-diarize", "--force"])
            .timeout(Duration::from_secs(900)),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(common::docx_text(&docx).contains("会議録"));
    assert!(common::read_json(&json)["segments"].is_array());
}
