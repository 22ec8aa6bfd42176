//! Minutes quality with the real model (issue "Japanese minutes quality: no hallucinations,
//! ケバ取り, vocabulary, ★ marks"): the released binary with Whisper base and Silero VAD.
//!
//! - Five minutes of room tone (pink and brown noise, mains hum, a few clicks at meeting-room
//!   levels, generated here from a fixed seed) yield no text at all.
//! - The hallucination guard loses no speech: `samples/meeting.wav` scores the same character
//!   error rate (within [`MAX_GUARD_CER_COST`]) with the guard on and off.
//! - Low-confidence marks reach the DOCX with their count in the header, and survive
//!   `relabel`, which re-renders from the JSON.
//! - Glossary and flag mistakes are refused before any model loads, naming the file.
//!
//! `mark_calibration` (ignored; run with `--ignored --nocapture`) is the measurement that
//! chose the default `--mark-threshold`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{cer, docx_text, read_json, transcribe};

/// The guard may cost at most this much character error rate on real speech (1 point).
const MAX_GUARD_CER_COST: f64 = 0.01;

/// Length of the room-tone recording, in seconds.
const ROOM_TONE_SECONDS: usize = 300;
const ROOM_TONE_SEED: u64 = 0x005E_ED0F_0A11;
const RATE: u32 = 16_000;

/// xorshift64*: a tiny deterministic generator, so the noise is the same on every run.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Uniform in [-1, 1).
        (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// dBFS to linear amplitude.
fn db(level: f32) -> f32 {
    10f32.powf(level / 20.0)
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// A quiet meeting room with nobody speaking: air-conditioning rumble (brown noise, -44 dBFS
/// RMS, slowly swelling), hiss (pink noise, -50 dBFS), 50 Hz mains hum with harmonics
/// (-50 dBFS), and a dozen clicks and knocks (chairs, a pen, a cup) peaking at -14 to -8 dBFS.
fn room_tone(seconds: usize, seed: u64) -> Vec<i16> {
    let n = seconds * RATE as usize;
    let mut rng = Rng(seed);
    // Brown: leaky integral of white noise.
    let mut brown = Vec::with_capacity(n);
    let mut b = 0.0f32;
    for _ in 0..n {
        b = 0.998 * b + 0.02 * rng.next_f32();
        brown.push(b);
    }
    // Pink: Paul Kellett's economy filter.
    let mut pink = Vec::with_capacity(n);
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    for _ in 0..n {
        let w = rng.next_f32();
        b0 = 0.99765 * b0 + w * 0.0990460;
        b1 = 0.96300 * b1 + w * 0.2965164;
        b2 = 0.57000 * b2 + w * 1.0526913;
        pink.push(b0 + b1 + b2 + w * 0.1848);
    }
    let (gb, gp) = (db(-44.0) / rms(&brown), db(-50.0) / rms(&pink));
    let hum_amp = db(-50.0) * std::f32::consts::SQRT_2;
    let mut out: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let swell = 1.0 + 0.3 * (2.0 * std::f32::consts::PI * t / 23.0).sin();
            let hum: f32 = [(50.0, 1.0), (100.0, 0.5), (150.0, 0.3)]
                .iter()
                .map(|(f, a)| a * (2.0 * std::f32::consts::PI * f * t).sin())
                .sum();
            brown[i] * gb * swell + pink[i] * gp + hum * hum_amp / 1.8
        })
        .collect();
    // Clicks: a few milliseconds of decaying noise or a damped knock, every 15-35 s.
    let mut at = 7 * RATE as usize;
    while at < n {
        let peak = db(-14.0 + 6.0 * (rng.next_f32() + 1.0) / 2.0);
        let knock = rng.next_f32() > 0.0;
        let len = if knock { 1_600 } else { 80 };
        for k in 0..len.min(n - at) {
            let decay = (-(k as f32) / (len as f32 / 5.0)).exp();
            let v = if knock {
                (2.0 * std::f32::consts::PI * 180.0 * k as f32 / RATE as f32).sin()
            } else {
                rng.next_f32()
            };
            out[at + k] += peak * decay * v;
        }
        at += (15.0 + 10.0 * (rng.next_f32() + 1.0)) as usize * RATE as usize;
    }
    out.iter()
        .map(|v| (v.clamp(-1.0, 1.0) * 32_767.0) as i16)
        .collect()
}

fn write_wav(path: &Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
}

fn segments(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["segments"].as_array().expect("segments is an array")
}

fn hypothesis(json: &serde_json::Value, field: &str) -> String {
    segments(json)
        .iter()
        .map(|s| s[field].as_str().unwrap_or_default())
        .collect()
}

/// Transcribes `input` into `out` with the fast settings the quality tests share (greedy,
/// no speaker separation) plus `extra`, and returns the JSON.
fn run(input: &Path, out: &Path, formats: &str, extra: &[&str]) -> serde_json::Value {
    let result = transcribe(input, out, formats)
        .args(["--greedy", "--no-diarize", "--force"])
        .args(extra)
        .timeout(Duration::from_secs(1800))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "transcribe failed:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stem = input.file_stem().unwrap().to_str().unwrap();
    read_json(&out.join(format!("{stem}.json")))
}

#[test]
fn room_tone_produces_no_text() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("room-tone.wav");
    let samples = room_tone(ROOM_TONE_SECONDS, ROOM_TONE_SEED);
    write_wav(&wav, &samples);
    // A prompt from a meeting sheet is what Whisper most likes to copy into silence.
    let json = run(
        &wav,
        &tmp.path().join("out"),
        "json,docx",
        &[
            "--meeting",
            common::sample("meeting.toml").to_str().unwrap(),
        ],
    );
    let texts: Vec<&str> = segments(&json)
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(texts.is_empty(), "text invented over room tone: {texts:?}");
}

/// The CER of the meeting sample with the guard on and off, and the marks in the DOCX.
#[test]
fn guard_keeps_speech_and_marks_reach_the_docx() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = std::fs::read_to_string(common::sample("meeting.ref.txt")).unwrap();
    let wav = common::sample("meeting.wav");
    let on_dir = tmp.path().join("on");
    let on = run(&wav, &on_dir, "json,docx", &[]);
    let off = run(&wav, &tmp.path().join("off"), "json", &["--no-guard"]);
    let (cer_on, cer_off) = (
        cer(&hypothesis(&on, "raw_text"), &reference),
        cer(&hypothesis(&off, "raw_text"), &reference),
    );
    eprintln!(
        "meeting.wav greedy CER: guard on {:.2}%, off {:.2}%",
        100.0 * cer_on,
        100.0 * cer_off
    );
    assert!(
        cer_on <= cer_off + MAX_GUARD_CER_COST,
        "the guard costs {:.2} points of CER",
        100.0 * (cer_on - cer_off)
    );
    // Clean-up removes nothing that was said here (a read script has no fillers).
    let cer_clean = cer(&hypothesis(&on, "text"), &reference);
    assert!(
        cer_clean <= cer_on + MAX_GUARD_CER_COST,
        "clean-up costs {:.2} points",
        100.0 * (cer_clean - cer_on)
    );

    // Every segment keeps the recogniser's text; marks point inside the text.
    let mut stored = 0;
    for s in segments(&on) {
        let text = s["text"].as_str().unwrap();
        assert!(s["raw_text"].is_string(), "{s}");
        assert!(
            text.ends_with(['。', '、', '？', '！']),
            "unpunctuated: {text}"
        );
        assert!(!text.contains(' '), "stray space: {text}");
        for m in s["marks"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let (a, b) = (m["start"].as_u64().unwrap(), m["end"].as_u64().unwrap());
            assert!(a < b && b as usize <= text.chars().count(), "{m} in {text}");
            stored += 1;
        }
    }
    let docx = on_dir.join("meeting.docx");
    // Marks in the minutes' text; the notice line's own ★ is not a mark.
    let stars = |path: &Path| {
        docx_text(path)
            .lines()
            .filter(|l| !l.starts_with("★印は"))
            .map(|l| l.matches('★').count())
            .sum::<usize>()
    };
    let notice = |path: &Path| {
        docx_text(path)
            .lines()
            .find(|l| l.starts_with("★印は音声認識の確度が低い箇所です"))
            .map(str::to_string)
    };
    let shown = stars(&docx);
    assert!(shown > 0, "no marks on base-model output");
    assert_eq!(
        notice(&docx).as_deref(),
        Some(format!("★印は音声認識の確度が低い箇所です（{shown}箇所）。").as_str())
    );
    assert!(shown <= stored, "{shown} stars for {stored} stored marks");

    // relabel re-renders the DOCX from the JSON alone: the marks stay.
    let relabel = common::gijiroku()
        .arg("relabel")
        .arg(on_dir.join("meeting.json"))
        .arg("発言者=委員長")
        .output()
        .unwrap();
    assert!(
        relabel.status.success(),
        "{}",
        String::from_utf8_lossy(&relabel.stderr)
    );
    assert_eq!(stars(&docx), shown);
    assert!(docx_text(&docx).contains("委員長 : "));
}

#[test]
fn glossary_and_flag_mistakes_are_refused_early() {
    let tmp = tempfile::tempdir().unwrap();
    let glossary = tmp.path().join("用語.toml");
    std::fs::write(&glossary, "term = [\"一関市\"]\n").unwrap();
    let refused = |extra: &[&str], want: &[&str]| {
        let out = transcribe(
            &common::sample("meeting.wav"),
            &tmp.path().join("o"),
            "json",
        )
        .args(extra)
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted {extra:?}");
        for w in want {
            assert!(stderr.contains(w), "{extra:?}: `{w}` not in\n{stderr}");
        }
        assert!(
            !tmp.path().join("o").exists(),
            "output written for {extra:?}"
        );
    };
    let g = glossary.to_str().unwrap();
    refused(&["--glossary", g], &["用語.toml", "term"]);
    refused(
        &["--glossary", "/nonexistent/g.toml"],
        &["/nonexistent/g.toml"],
    );
    refused(&["--mark-threshold", "0"], &["--mark-threshold", "(got 0)"]);
    refused(&["--style", "tidy"], &["tidy", "verbatim"]);
    refused(&["--language", "xx"], &["--language", "\"xx\""]);
    refused(
        &["--no-marks", "--mark-style", "highlight"],
        &["--no-marks"],
    );
}

/// How good the marks are at each threshold, as the reader meets them: the recordings are
/// decoded once with the default settings (cached under `target/mark-calibration/`), cleaned
/// with each threshold, and the cleaned text aligned to the reference. Printed per threshold:
/// marks per minute, the share of text marked, precision (of the marked characters, how many
/// are wrong) and recall (of the wrong characters, how many are marked). Recordings: both
/// samples, and every `NAME.wav` + `NAME.ref.txt` in `$GIJIROKU_DEVSET` (the generated dev set,
/// `scripts/make_devset.py`).
#[test]
#[ignore = "measurement: decodes the dev set with the real model (minutes)"]
fn mark_calibration() {
    use gijiroku::asr::whisper::WhisperTranscriber;
    use gijiroku::asr::{AsrConfig, Transcriber};
    use gijiroku::minutes::clean::{self, CleanConfig};
    use gijiroku::types::Transcript;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    let models = common::models_dir();
    let mut recordings: Vec<(String, PathBuf, PathBuf)> = ["meeting", "multi"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                common::sample(&format!("{n}.wav")),
                common::sample(&format!("{n}.ref.txt")),
            )
        })
        .collect();
    if let Some(dir) = std::env::var_os("GIJIROKU_DEVSET") {
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .filter(|p| p.with_extension("ref.txt").is_file())
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, p.clone(), p.with_extension("ref.txt"))
            })
            .collect();
        found.sort();
        recordings.extend(found);
    }
    let cache = common::repo().join("target/mark-calibration");
    std::fs::create_dir_all(&cache).unwrap();
    let mut transcriber: Option<WhisperTranscriber> = None;
    let mut data: Vec<(String, Transcript, Vec<char>, f64)> = Vec::new();
    for (name, wav, reference) in recordings {
        let cached = cache.join(format!("{name}.json"));
        let transcript: Transcript = match std::fs::read(&cached) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => {
                let t = transcriber.get_or_insert_with(|| {
                    WhisperTranscriber::load(
                        &models.join("ggml-base.bin"),
                        "base",
                        AsrConfig::default(),
                        Arc::new(AtomicBool::new(false)),
                    )
                    .unwrap()
                });
                let (pcm, _) = gijiroku::audio::load(&wav).unwrap();
                let speech = gijiroku::vad::detect(
                    &pcm,
                    &models.join("ggml-silero-vad.bin"),
                    &gijiroku::vad::VadConfig::default(),
                )
                .unwrap();
                let segs = t
                    .transcribe(&pcm, &speech, &gijiroku::types::NoProgress)
                    .unwrap();
                let tr = gijiroku::align::attribute(&segs, &[]);
                std::fs::write(&cached, serde_json::to_vec(&tr).unwrap()).unwrap();
                tr
            }
        };
        let minutes = transcript
            .utterances
            .last()
            .map_or(0.0, |u| u.span.end.as_secs_f64() / 60.0);
        let refc: Vec<char> = common::normalize(&std::fs::read_to_string(reference).unwrap())
            .chars()
            .collect();
        eprintln!(
            "{name}: {} utterances, {minutes:.1} min",
            transcript.utterances.len()
        );
        data.push((name, transcript, refc, minutes));
    }
    eprintln!("threshold  marks/min  marked  precision  recall  marks-with-error");
    for th in [0.3f32, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7] {
        let (mut marks, mut minutes) = (0usize, 0.0f64);
        let (mut chars, mut marked, mut hits, mut wrong_total) = (0usize, 0usize, 0usize, 0usize);
        let mut good_marks = 0usize;
        for (_, transcript, refc, mins) in &data {
            let mut t = transcript.clone();
            clean::apply(
                &mut t,
                &CleanConfig {
                    mark_threshold: Some(th),
                    ..CleanConfig::default()
                },
            );
            // Normalised hypothesis chars, each with its marked flag.
            let mut hyp: Vec<char> = Vec::new();
            let mut flag: Vec<bool> = Vec::new();
            // Which mark (numbered across the recording) each hypothesis char is in.
            let mut mark_of: Vec<Option<usize>> = Vec::new();
            for u in &t.utterances {
                for (k, c) in u.text.chars().enumerate() {
                    let in_mark = u.marks.iter().position(|m| m.start <= k && k < m.end);
                    for n in common::normalize(&c.to_string()).chars() {
                        hyp.push(n);
                        flag.push(in_mark.is_some());
                        mark_of.push(in_mark.map(|i| marks + i));
                    }
                }
                marks += u.marks.len();
            }
            let wrong = align_errors(&hyp, refc);
            let mut with_error: Vec<usize> = mark_of
                .iter()
                .zip(&wrong)
                .filter_map(|(m, w)| m.filter(|_| *w))
                .collect();
            with_error.dedup();
            good_marks += with_error.len();
            chars += hyp.len();
            marked += flag.iter().filter(|f| **f).count();
            hits += flag.iter().zip(&wrong).filter(|(f, w)| **f && **w).count();
            wrong_total += wrong.iter().filter(|w| **w).count();
            minutes += mins;
        }
        eprintln!(
            "{th:>9.2}  {:>9.1}  {:>5.1}%  {:>8.1}%  {:>5.1}%  {:>6.1}%",
            marks as f64 / minutes.max(1e-9),
            100.0 * marked as f64 / chars.max(1) as f64,
            100.0 * hits as f64 / marked.max(1) as f64,
            100.0 * hits as f64 / wrong_total.max(1) as f64,
            100.0 * good_marks as f64 / marks.max(1) as f64
        );
        if th == 0.3 {
            eprintln!(
                "(all text: {chars} characters, {:.1}% wrong)",
                100.0 * wrong_total as f64 / chars.max(1) as f64
            );
        }
    }
}

/// Per hypothesis char: true when the cheapest alignment to `reference` substitutes or
/// inserts it; a deleted reference char is charged to the hypothesis char before it.
fn align_errors(hyp: &[char], reference: &[char]) -> Vec<bool> {
    let (n, m) = (hyp.len(), reference.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let sub = d[i - 1][j - 1] + usize::from(hyp[i - 1] != reference[j - 1]);
            d[i][j] = sub.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
        }
    }
    let mut wrong = vec![false; n];
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        if i > 0
            && j > 0
            && d[i][j] == d[i - 1][j - 1] + usize::from(hyp[i - 1] != reference[j - 1])
        {
            wrong[i - 1] = hyp[i - 1] != reference[j - 1];
            i -= 1;
            j -= 1;
        } else if i > 0 && d[i][j] == d[i - 1][j] + 1 {
            wrong[i - 1] = true;
            i -= 1;
        } else {
            if i > 0 {
                wrong[i - 1] = true;
            } else if n > 0 {
                wrong[0] = true;
            }
            j -= 1;
        }
    }
    wrong
}

#[test]
fn room_tone_is_deterministic_and_quiet() {
    let a = room_tone(20, 7);
    assert_eq!(a, room_tone(20, 7));
    let f: Vec<f32> = a.iter().map(|s| *s as f32 / 32_768.0).collect();
    let level = 20.0 * rms(&f).log10();
    assert!(
        (-46.0..-38.0).contains(&level),
        "room tone at {level:.1} dBFS"
    );
    let peak = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > db(-16.0) && peak < db(-6.0), "peak {peak}");
    // For listening or a verbose run: GIJIROKU_ROOM_TONE=/tmp/room.wav cargo test ...
    if let Some(path) = std::env::var_os("GIJIROKU_ROOM_TONE") {
        write_wav(
            Path::new(&path),
            &room_tone(ROOM_TONE_SECONDS, ROOM_TONE_SEED),
        );
    }
}
