//! Long pauses between turns (people look up papers, wait to be named): the recogniser packs
//! the speech across them into fuller windows (`AsrConfig::pack_pauses`, on by default), so
//! the text of a packed window has to come back at the right times and to the right
//! speakers, once. Built from `samples/meeting.wav` with 3 s of quiet room inserted between
//! every two turns (the sample's turns move accordingly), run through the released binary
//! with the real models and the sample's meeting sheet (which names the three voices).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{cer, normalize, read_json, transcribe};

/// Inserted between every two turns, in seconds.
const PAUSE: f64 = 3.0;
/// Bounds: the whole text as `tests/e2e.rs` bounds the sample (measured 9–11 % here), and
/// each speaker's own text (speaker-attributed; measured within a point of the whole).
const MAX_CER: f64 = 0.20;
const MAX_SPEAKER_CER: f64 = 0.25;

struct Turn {
    role: String,
    start: f64,
    end: f64,
    text: String,
}

/// The sample with [`PAUSE`] of low noise (about −50 dBFS) in the middle of every gap between
/// turns; returns the turns at their new times.
fn stretched(out: &Path) -> Vec<Turn> {
    let mut reader = hound::WavReader::open(common::sample("meeting.wav")).unwrap();
    let spec = reader.spec();
    let rate = f64::from(spec.sample_rate);
    let pcm: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let turns: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(common::sample("meeting.turns.json")).unwrap(),
    )
    .unwrap();
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    let mut cuts: Vec<usize> = turns
        .windows(2)
        .filter(|w| num(&w[1], "start") > num(&w[0], "end"))
        .map(|w| ((num(&w[0], "end") + num(&w[1], "start")) / 2.0 * rate) as usize)
        .collect();
    cuts.push(pcm.len());
    let gap = (PAUSE * rate) as usize;
    let mut seed: u32 = 12345;
    let mut writer = hound::WavWriter::create(out, spec).unwrap();
    let mut prev = 0;
    for (i, &c) in cuts.iter().enumerate() {
        for &s in &pcm[prev..c] {
            writer.write_sample(s).unwrap();
        }
        if i + 1 < cuts.len() {
            for _ in 0..gap {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                writer
                    .write_sample(((seed >> 16) as i16 % 200) - 100)
                    .unwrap();
            }
        }
        prev = c;
    }
    writer.finalize().unwrap();
    turns
        .iter()
        .map(|t| {
            let shift = |at: f64| {
                let before = cuts[..cuts.len() - 1]
                    .iter()
                    .filter(|&&c| (c as f64) <= at * rate)
                    .count();
                at + before as f64 * PAUSE
            };
            Turn {
                role: t["role"].as_str().unwrap().to_string(),
                start: shift(num(t, "start")),
                end: shift(num(t, "end")),
                text: t["text"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

#[test]
fn text_packed_across_long_pauses_comes_back_in_place_and_once() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("pauses.wav");
    let turns = stretched(&wav);
    let out_dir = tmp.path().join("out");
    let run = common::run(
        transcribe(&wav, &out_dir, "json")
            .arg("--meeting")
            .arg(common::sample("meeting.toml"))
            .timeout(Duration::from_secs(1800)),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "transcribe failed:\n{stderr}");
    let json = read_json(&out_dir.join("pauses.json"));
    let segments = json["segments"].as_array().unwrap();
    let text_of = |s: &serde_json::Value| s["text"].as_str().unwrap().to_string();
    let hyp: String = segments.iter().map(text_of).collect();
    let reference: String = turns.iter().map(|t| t.text.as_str()).collect();
    let whole = cer(&hyp, &reference);
    assert!(whole <= MAX_CER, "CER {whole:.3}:\n{hyp}");
    // Nothing written twice (a skipped turn decoded again after its words were already there).
    let (h, r) = (normalize(&hyp), normalize(&reference));
    assert!(
        h.chars().count() as f64 <= 1.1 * r.chars().count() as f64,
        "more text than was said:\n{hyp}"
    );
    // Times are the recording's: no segment starts inside an inserted pause.
    for s in segments {
        let start = s["start"].as_f64().unwrap();
        assert!(
            turns
                .iter()
                .any(|t| start >= t.start - 1.0 && start <= t.end),
            "segment starts in a pause: {s}"
        );
    }
    // Each speaker's words under that speaker's name.
    for role in ["委員長", "佐藤委員", "総務課長"] {
        let said: String = turns
            .iter()
            .filter(|t| t.role == role)
            .map(|t| t.text.as_str())
            .collect();
        let heard: String = segments
            .iter()
            .filter(|s| s["speaker"] == role)
            .map(text_of)
            .collect();
        let e = cer(&heard, &said);
        assert!(
            e <= MAX_SPEAKER_CER,
            "{role}: CER {e:.3}\nheard: {heard}\nsaid: {said}"
        );
    }
}
