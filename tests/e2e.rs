//! The product's claim, tested for real: the released binary with the real Whisper base model,
//! Silero VAD and speaker encoder turns `samples/meeting.wav` (65.7 s of synthetic Japanese
//! committee speech, three voices) into draft minutes. Models are installed into `models/`
//! (or `$GIJIROKU_MODELS`) on first use; see `common::models_dir`.
//!
//! Accuracy bound: character error rate of the JSON segments against `samples/meeting.ref.txt`.
//! Measured on 2 cores: 9.5% with the default beam search (5), 11.5% greedy (13.4% and 14.8%
//! before the text clean-up stage). The bound leaves room for thread-count and CPU differences
//! in whisper.cpp's floating point, and sits below the 25% the issue set as a floor.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{cer, docx_part_text, docx_parts, docx_text, normalize, read_json, transcribe};

/// Highest accepted character error rate on the meeting sample (see the module docs).
const MAX_CER: f64 = 0.20;

/// Length of samples/meeting.wav in seconds, from its header (65.666 s).
fn sample_seconds() -> f64 {
    let r = hound::WavReader::open(common::sample("meeting.wav")).unwrap();
    f64::from(r.duration()) / f64::from(r.spec().sample_rate)
}

fn segments(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["segments"].as_array().expect("segments is an array")
}

fn hypothesis(json: &serde_json::Value) -> String {
    segments(json)
        .iter()
        .map(|s| s["text"].as_str().expect("text is a string"))
        .collect()
}

/// Optional per-segment fields added after the contract was set (additions do not bump
/// `format_version`): the recogniser's text before clean-up, low-confidence character ranges.
const ADDITIVE_SEGMENT_KEYS: [&str; 2] = ["raw_text", "marks"];

/// The JSON contract: `segments[]` objects with start/end/speaker/text/confidence (and only the
/// documented optional extras), times in seconds, in order, inside the recording; `meeting`,
/// `model`, `audio_seconds` at the top. Further top-level fields are additive and allowed.
fn check_json_contract(json: &serde_json::Value) {
    let top: BTreeSet<&str> = json
        .as_object()
        .expect("top level is an object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in ["segments", "meeting", "model", "audio_seconds"] {
        assert!(top.contains(key), "missing top-level `{key}`: {top:?}");
    }
    assert_eq!(json["model"], "base");
    let audio = json["audio_seconds"]
        .as_f64()
        .expect("audio_seconds is a number");
    assert!(
        (audio - sample_seconds()).abs() < 0.001,
        "audio_seconds {audio}"
    );
    assert!(json["meeting"].is_object());

    let segs = segments(json);
    assert!(segs.len() >= 5, "only {} segments", segs.len());
    let required: BTreeSet<&str> = ["start", "end", "speaker", "text", "confidence"].into();
    let mut prev_start = 0.0;
    let mut prev_end = 0.0;
    for (i, s) in segs.iter().enumerate() {
        let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        let missing: Vec<_> = required.difference(&keys).collect();
        assert!(missing.is_empty(), "segment {i} lacks {missing:?}: {s}");
        let unknown: Vec<_> = keys
            .iter()
            .filter(|k| !required.contains(*k) && !ADDITIVE_SEGMENT_KEYS.contains(*k))
            .collect();
        assert!(
            unknown.is_empty(),
            "segment {i} has fields outside the contract: {unknown:?} \
             (add them to ADDITIVE_SEGMENT_KEYS and the README if they are meant to stay)"
        );
        let start = s["start"].as_f64().expect("start is a number");
        let end = s["end"].as_f64().expect("end is a number");
        let conf = s["confidence"].as_f64().expect("confidence is a number");
        assert!(s["speaker"].as_str().is_some_and(|v| !v.is_empty()));
        assert!(
            s["text"].as_str().is_some_and(|v| !v.trim().is_empty()),
            "segment {i} empty"
        );
        // Seconds, not milliseconds or 10 ms ticks: everything lies inside the recording.
        assert!(0.0 <= start && start < end, "segment {i}: {start}..{end}");
        assert!(
            end <= audio + 0.05,
            "segment {i} ends at {end} s, audio is {audio} s"
        );
        assert!(
            (0.0..=1.0).contains(&conf),
            "segment {i}: confidence {conf}"
        );
        assert!(
            start >= prev_start,
            "segment {i} starts before segment {}",
            i - 1
        );
        assert!(
            start + 0.05 >= prev_end,
            "segment {i} overlaps the previous one"
        );
        // Millisecond precision.
        assert!(((start * 1000.0).round() - start * 1000.0).abs() < 1e-6);
        prev_start = start;
        prev_end = end;
    }
}

#[test]
fn meeting_sample_to_docx_json_and_text() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&common::sample("meeting.wav"), &out_dir, "docx,json,txt")
            .arg("--meeting")
            .arg(common::sample("meeting.toml"))
            .timeout(Duration::from_secs(1800)),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "transcribe failed:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        common::files_in(&out_dir),
        ["meeting.docx", "meeting.json", "meeting.txt"]
    );

    // JSON: contract and accuracy.
    let json = read_json(&out_dir.join("meeting.json"));
    check_json_contract(&json);
    let reference = std::fs::read_to_string(common::sample("meeting.ref.txt")).unwrap();
    let hyp = hypothesis(&json);
    let rate = cer(&hyp, &reference);
    eprintln!(
        "CER {:.1}% (bound {:.0}%)\nhypothesis: {hyp}",
        rate * 100.0,
        MAX_CER * 100.0
    );
    assert!(
        rate <= MAX_CER,
        "character error rate {:.1}% is above {:.0}%; hypothesis:\n{hyp}",
        rate * 100.0,
        MAX_CER * 100.0
    );
    let meeting = &json["meeting"];
    assert_eq!(meeting["会議名"], "総務常任委員会");
    assert_eq!(meeting["開始"], "2025-11-25T15:45:00");
    let speakers: BTreeSet<&str> = segments(&json)
        .iter()
        .filter_map(|s| s["speaker"].as_str())
        .collect();
    assert!(
        speakers
            .iter()
            .any(|s| ["委員長", "佐藤委員", "総務課長"].contains(s)),
        "no speaker named from the sheet: {speakers:?}"
    );

    // DOCX: the header a clerk expects, the draft marks, and the recognised text.
    let docx = out_dir.join("meeting.docx");
    let body = docx_text(&docx);
    for want in [
        "総務常任委員会記録",
        "この会議録は音声認識による下書き（案）です。",
        "会議名",
        "総務常任委員会",
        "開催日時",
        "令和7年11月25日(火) 午後3時45分",
        "場所",
        "第1委員会室",
        "出席者",
        "委員長　山田太郎",
        "副委員長　田中一郎",
        "委員　佐藤花子",
        "委員　伊藤美咲",
        "説明員",
        "総務部　総務課長　鈴木一郎",
        "議事係長　高橋次郎",
        "議題",
        "議案第15号 令和7年度一般会計補正予算（第3号）のうち総務部所管分",
        "議事の経過",
    ] {
        assert!(body.contains(want), "DOCX lacks `{want}`:\n{body}");
    }
    let marks: Vec<String> = docx_parts(&docx)
        .into_iter()
        .filter(|p| p.starts_with("word/header") && p.ends_with(".xml"))
        .map(|p| docx_part_text(&docx, &p))
        .collect();
    assert!(
        marks.iter().any(|t| t.trim() == "案"),
        "no page header with the 「案」 mark: {marks:?}"
    );
    // Every recognised segment is in the minutes (turns join segments; punctuation may differ).
    // Low-confidence stretches are marked with ★ in the DOCX; the JSON text has no marks.
    let body_norm = normalize(&body.replace('★', ""));
    let segs = segments(&json);
    let missing: Vec<&str> = segs
        .iter()
        .filter_map(|s| s["text"].as_str())
        .filter(|t| !body_norm.contains(&normalize(t)))
        .collect();
    assert!(
        missing.is_empty(),
        "segments missing from the DOCX: {missing:?}"
    );
    let hyp_chars = normalize(&hyp).chars().count();
    assert!(hyp_chars > 200, "only {hyp_chars} characters recognised");

    // Plain text carries the same header and turns.
    let txt = std::fs::read_to_string(out_dir.join("meeting.txt")).unwrap();
    assert!(txt.contains("令和7年11月25日(火) 午後3時45分"), "{txt}");
    assert!(txt.contains(DRAFT_LINE), "{txt}");
}

/// The sheet lists who attended but does not say which voice is whom. In the sample the voice
/// that opens the meeting and makes the call is the chair; the member introduces herself
/// (「佐藤です。」); the chair's one call 「総務課長。」 is recognised as 「総務会長。」, which reads
/// almost alike but not enough to name a voice on one call: that voice stays 話者N with 総務課長
/// as its candidate and the call as evidence, for the reviewer. `relabel` then names it, and
/// the JSON says so.
#[test]
fn speakers_named_from_the_chairs_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let sheet = tmp.path().join("meeting.toml");
    let full = std::fs::read_to_string(common::sample("meeting.toml")).unwrap();
    let without_names = full.split("[\"話者\"]").next().unwrap();
    assert_ne!(without_names, full, "the sample sheet has a [話者] table");
    std::fs::write(&sheet, without_names).unwrap();
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&common::sample("meeting.wav"), &out_dir, "json,txt")
            .arg("--meeting")
            .arg(&sheet)
            .timeout(Duration::from_secs(1800)),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "transcribe failed:\n{stderr}");
    let json_path = out_dir.join("meeting.json");
    let json = read_json(&json_path);
    let voices = json["voices"]
        .as_array()
        .expect("voices is an array")
        .clone();
    let named = |name: &str| voices.iter().find(|v| v["name"] == name).cloned();
    for (name, said) in [("委員長", "総務"), ("佐藤委員", "佐藤です")] {
        let v = named(name).unwrap_or_else(|| panic!("no voice named {name}: {voices:#?}"));
        assert_eq!(v["how"], "call", "{v}");
        let evidence = v["candidates"][0]["calls"][0]["said"].as_str().unwrap();
        assert!(evidence.starts_with(said), "{v}");
    }
    for v in &voices {
        let h = v["how"].as_str().unwrap();
        assert!(["call", "unnamed"].contains(&h), "{v}");
        assert_eq!(v["name"].is_string(), h == "call", "{v}");
    }
    let answer = segments(&json)
        .iter()
        .find(|s| s["text"].as_str().unwrap().contains("お答えします"))
        .expect("the answer is recognised")
        .clone();
    let answering = answer["speaker"].as_str().unwrap().to_string();
    let unsure = voices
        .iter()
        .find(|v| v["label"] == answering.as_str())
        .unwrap_or_else(|| panic!("{answer} by a voice not in {voices:#?}"));
    assert_eq!(
        unsure["how"], "unnamed",
        "one misheard call names nobody: {unsure}"
    );
    assert_eq!(unsure["candidates"][0]["name"], "総務課長", "{unsure}");
    let txt = std::fs::read_to_string(out_dir.join("meeting.txt")).unwrap();
    assert!(txt.contains("委員長 : ただいまから"), "{txt}");
    assert!(
        txt.contains(&format!("{answering} : お答えします")),
        "{txt}"
    );

    // The reviewer names it by hand.
    let run = common::run(
        common::gijiroku()
            .arg("relabel")
            .arg(&json_path)
            .arg(format!("{answering}=総務課長")),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json = read_json(&json_path);
    let voices = json["voices"].as_array().unwrap();
    let by_label = |l: &str| voices.iter().find(|v| v["label"] == l).unwrap().clone();
    assert_eq!(by_label(&answering)["how"], "relabel");
    assert_eq!(by_label(&answering)["name"], "総務課長");
    let chair = voices.iter().find(|v| v["name"] == "委員長").unwrap();
    assert_eq!(chair["how"], "call", "{chair}");
    let txt = std::fs::read_to_string(out_dir.join("meeting.txt")).unwrap();
    assert!(txt.contains("総務課長 : お答えします"), "{txt}");
}

/// Bug pinned (issue 19): the README promised that markers set while recording (`m` + Enter)
/// stay in the JSON and the minutes, but nothing outside `record/` read them. `record` leaves
/// them beside the WAV (`会議.markers.json`); transcription now carries them through.
#[test]
fn recording_markers_reach_the_json_and_the_minutes() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("会議.wav");
    std::fs::copy(common::sample("meeting.wav"), &wav).unwrap();
    std::fs::write(
        tmp.path().join("会議.markers.json"),
        r#"[{"at": 30.4, "label": "予算の質問"}, {"at": 2.0, "label": "マーカー1"}]"#,
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&wav, &out_dir, "docx,json,txt")
            .arg("--no-diarize")
            .timeout(Duration::from_secs(1800)),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json = read_json(&out_dir.join("会議.json"));
    let labels: Vec<&str> = json["markers"]
        .as_array()
        .expect("markers in the JSON")
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["マーカー1", "予算の質問"]);
    assert_eq!(json["markers"][1]["at"], 30.4);
    let docx = docx_text(&out_dir.join("会議.docx"));
    assert!(docx.contains("◆予算の質問（0:00:30）"), "{docx}");
    let txt = std::fs::read_to_string(out_dir.join("会議.txt")).unwrap();
    let body = txt.split("議事の経過").nth(1).unwrap();
    assert!(body.contains("◆マーカー1（0:00:02）"), "{body}");
    assert!(body.contains("◆予算の質問（0:00:30）\n"), "{body}");
}

/// Bug pinned (issue 19): `--mark-style highlight` was lost on `relabel` (and `share`): they
/// drafted the minutes again with the default style. The JSON now records the style.
#[test]
fn mark_style_highlight_survives_relabel() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&common::sample("meeting.wav"), &out_dir, "docx,json")
            .args(["--mark-style", "highlight"])
            .timeout(Duration::from_secs(1800)),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json_path = out_dir.join("meeting.json");
    assert_eq!(read_json(&json_path)["mark_style"], "highlight");
    let docx = out_dir.join("meeting.docx");
    let highlighted = |xml: &str| xml.contains("<w:highlight");
    let before = common::docx_part_xml(&docx, "word/document.xml");
    assert!(highlighted(&before), "no highlighted word to begin with");
    let run = common::run(
        common::gijiroku()
            .arg("relabel")
            .arg(&json_path)
            .arg("話者1=委員長"),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let xml = common::docx_part_xml(&docx, "word/document.xml");
    assert!(
        xml.contains("委員長") && xml != before,
        "relabel did not rewrite the DOCX"
    );
    assert!(highlighted(&xml), "the highlight style was lost on relabel");
    assert!(!xml.contains('★'), "relabel went back to ★ marks");
    assert_eq!(read_json(&json_path)["mark_style"], "highlight");
}

/// The draft notice every human-readable output carries.
const DRAFT_LINE: &str = "この会議録は音声認識による下書き（案）です。";

/// Without a meeting sheet the date comes from the file: a recorder writes until the meeting
/// ends, so 開始 = modification time − length. Header rows stay, blank, for the clerk.
#[test]
fn no_sheet_dates_from_file_time_and_leaves_fields_blank() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("録音 0401.wav");
    std::fs::copy(common::sample("meeting.wav"), &input).unwrap();
    // 2024-04-01 10:30:30 UTC; the run uses UTC as its local time zone.
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_711_967_430);
    std::fs::File::options()
        .write(true)
        .open(&input)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&input, &out_dir, "docx,json")
            .env("TZ", "UTC")
            .args(["--greedy", "--no-diarize"])
            .timeout(Duration::from_secs(1800)),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "transcribe failed:\n{stderr}");
    assert_eq!(
        common::files_in(&out_dir),
        ["録音 0401.docx", "録音 0401.json"]
    );

    let json = read_json(&out_dir.join("録音 0401.json"));
    check_json_contract(&json);
    let meeting = &json["meeting"];
    // 10:30:30 minus 65.666 s.
    assert_eq!(meeting["開始"], "2024-04-01T10:29:24", "{meeting}");
    assert_eq!(meeting["会議名"], "");
    assert_eq!(meeting["場所"], "");
    assert!(segments(&json).iter().all(|s| s["speaker"] == "発言者"));

    let body = docx_text(&out_dir.join("録音 0401.docx"));
    assert!(
        body.contains("令和6年4月1日(月) 午前10時29分～午前10時30分"),
        "{body}"
    );
    assert!(body.starts_with("会議録\n"), "title:\n{body}");
    assert!(body.contains(DRAFT_LINE), "{body}");
    // Every header row is there; the ones the recording cannot tell are empty lines.
    let lines: Vec<&str> = body.lines().collect();
    for label in [
        "会議名",
        "場所",
        "出席者",
        "欠席者",
        "説明員・事務局",
        "議題",
    ] {
        let at = lines
            .iter()
            .position(|l| *l == label)
            .unwrap_or_else(|| panic!("no `{label}` row:\n{body}"));
        // The label cell may carry a note in brackets: 議題（本日の会議に付した事件）.
        let value = lines[at + 1..].iter().find(|l| !l.starts_with('（'));
        assert_eq!(value, Some(&""), "`{label}` is not blank:\n{body}");
    }
    assert!(body.contains("発言者 : "), "{body}");
    let rate = cer(
        &hypothesis(&json),
        &std::fs::read_to_string(common::sample("meeting.ref.txt")).unwrap(),
    );
    eprintln!("CER without sheet, greedy: {:.1}%", rate * 100.0);
    assert!(rate <= MAX_CER, "CER {:.1}%", rate * 100.0);
}

/// The scoring itself.
#[test]
fn cer_normalises_width_punctuation_and_number_commas() {
    assert_eq!(
        normalize("事業費は１，２５０万円で、 ＡＩを「導入」します。"),
        "事業費は1250万円でaiを導入します"
    );
    assert_eq!(normalize("質疑は? ありませんか！"), "質疑はありませんか");
    assert_eq!(cer("開会します。", "開会します"), 0.0);
    assert!((cer("開会しま", "開会します") - 0.2).abs() < 1e-9);
    assert!((cer("閉会します", "開会します") - 0.2).abs() < 1e-9);
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/meeting.ref.txt")
        .is_file());
}
