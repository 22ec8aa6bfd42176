//! Voice activity detection: finds the speech [`Span`]s of a recording.
//!
//! [`detect`] runs Silero VAD through whisper.cpp's standalone VAD context
//! ([`whisper_rs::WhisperVadContext`], one thread); [`detect_energy`] is a model-free
//! fallback for when the model is absent. Both score 32 ms frames and turn the scores
//! into spans with the same rule (Silero's hysteresis: start at `threshold`, end after
//! `min_silence` below `threshold - 0.15`), configured by [`VadConfig`]. Errors are
//! [`VadError`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use whisper_rs::{WhisperVadContext, WhisperVadContextParams};

use crate::audio::{Pcm16kMono, SAMPLE_RATE};
use crate::types::{Ms, Span};

/// Speech probability at which a span starts.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Shorter bursts are dropped (coughs, clicks), in ms.
pub const DEFAULT_MIN_SPEECH: Ms = Ms(250);
/// A pause must last this long to end a span, in ms. Longer than Silero's 100 ms so
/// that the short pauses inside a Japanese sentence do not split it for the recogniser.
pub const DEFAULT_MIN_SILENCE: Ms = Ms(300);
/// Added before and after each span so word onsets and endings are not clipped, in ms.
pub const DEFAULT_PAD: Ms = Ms(100);
/// Spans longer than this are split at an inner pause (or cut), in ms: Whisper's
/// 30 s window.
pub const DEFAULT_MAX_SPEECH: Ms = Ms(30_000);

/// Samples per VAD frame: Silero's 16 kHz window, 32 ms.
pub const FRAME_SAMPLES: usize = 512;
const FRAME_MS: u64 = 32;
/// Speech ends below `threshold - HYSTERESIS` (Silero's rule)…
const HYSTERESIS: f32 = 0.15;
/// …but never below this probability.
const MIN_NEG_THRESHOLD: f32 = 0.01;
/// A pause of at least this long inside an over-long span is a place to split it, in ms
/// (Silero's value).
const MIN_SPLIT_PAUSE_MS: u64 = 98;
/// Audio is fed to whisper.cpp in chunks of this many frames (10 min) so its input
/// length stays far from `i32::MAX` samples and one call's work is bounded.
const CHUNK_FRAMES: usize = 18_750;
/// Each chunk after the first starts this many frames (~1 s) early so the LSTM state,
/// which whisper.cpp resets per call, has settled when the kept frames begin.
const WARMUP_FRAMES: usize = 32;
/// whisper.cpp threads for the VAD: one is fast enough and leaves the other core free.
const VAD_THREADS: i32 = 1;

/// Energy fallback: the noise floor and the loud level are these quantiles of the frame
/// levels.
const ENERGY_FLOOR_QUANTILE: f32 = 0.1;
const ENERGY_LOUD_QUANTILE: f32 = 0.9;
/// Energy fallback: a frame is speech when above the floor by this fraction of the
/// floor-to-loud range…
const ENERGY_MARGIN_FRACTION: f32 = 0.35;
/// …but by at least this and at most this many dB.
const ENERGY_MIN_MARGIN_DB: f32 = 3.0;
const ENERGY_MAX_MARGIN_DB: f32 = 12.0;
/// Energy fallback: and louder than this, in dBFS (so digital silence plus hiss is not
/// speech).
const ENERGY_MIN_DB: f32 = -50.0;
/// Level given to an all-zero frame, in dBFS (a floor for the logarithm; not the
/// recorder's "silent input" level, [`crate::record::level::SILENCE_DB`]).
const ZERO_FRAME_DB: f32 = -120.0;

/// How speech spans are found. All durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// Silero speech probability (0..1) at which a span starts. The energy fallback
    /// keeps its own level rule and ignores this.
    pub threshold: f32,
    /// Spans shorter than this are dropped.
    pub min_speech: Ms,
    /// A pause must last this long to end a span.
    pub min_silence: Ms,
    /// Added before and after each span (halved between spans closer than twice this).
    pub pad: Ms,
    /// Spans longer than this are split, preferably at a pause of at least 98 ms.
    pub max_speech: Ms,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            threshold: DEFAULT_THRESHOLD,
            min_speech: DEFAULT_MIN_SPEECH,
            min_silence: DEFAULT_MIN_SILENCE,
            pad: DEFAULT_PAD,
            max_speech: DEFAULT_MAX_SPEECH,
        }
    }
}

impl VadConfig {
    /// Checks the settings once, before any work starts.
    pub fn validate(&self) -> Result<(), VadError> {
        let invalid = |field, value: String, rule| VadError::InvalidConfig { field, value, rule };
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(invalid(
                "threshold",
                self.threshold.to_string(),
                "must be between 0 and 1 (exclusive)",
            ));
        }
        // The padded span (pad on both sides plus one frame) must fit in max_speech.
        let min_max = FRAME_MS + 2 * self.pad.0 + self.min_speech.0;
        if self.max_speech.0 < min_max {
            return Err(invalid(
                "max_speech",
                self.max_speech.0.to_string(),
                "must be at least min_speech + 2 × pad + 32 ms",
            ));
        }
        Ok(())
    }
}

/// Why speech detection failed.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("VAD model {path} not found: install the models, or run without a VAD model to use the energy fallback")]
    ModelMissing { path: PathBuf },
    #[error("VAD model path {path} cannot be passed to whisper.cpp (it must be UTF-8 without NUL bytes)")]
    ModelPath { path: PathBuf },
    #[error("whisper.cpp could not load VAD model {path}: is it a Silero VAD ggml file? Reinstall the models")]
    ModelLoad {
        path: PathBuf,
        #[source]
        source: whisper_rs::WhisperError,
    },
    #[error("Silero VAD failed on the audio starting at {at}")]
    Detect {
        at: Ms,
        #[source]
        source: whisper_rs::WhisperError,
    },
    #[error("invalid VAD setting `{field}` = {value}: {rule}")]
    InvalidConfig {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// Finds the speech spans of `pcm` with the Silero VAD ggml model at `model`.
/// Spans are sorted, non-overlapping, and lie within the recording.
pub fn detect(pcm: &Pcm16kMono, model: &Path, cfg: &VadConfig) -> Result<Vec<Span>, VadError> {
    let mut d = Detector::silero(model, cfg)?;
    d.score(pcm.samples(), true)?;
    tracing::debug!(frames = d.scores.len(), "Silero VAD scored the audio");
    Ok(d.spans(pcm.duration()))
}

/// Model-free fallback: speech is where the frame level stands well above the noise
/// floor (a low quantile of all frame levels). Good enough for clean recordings; it
/// cannot tell speech from other loud sounds.
pub fn detect_energy(pcm: &Pcm16kMono, cfg: &VadConfig) -> Vec<Span> {
    let levels: Vec<f32> = pcm.samples().chunks(FRAME_SAMPLES).map(frame_db).collect();
    energy_spans(&levels, pcm.duration(), cfg)
}

/// Speech detection over a stream: frames are scored as audio arrives, and the spans of
/// the audio held so far can be asked for at any time. The caller holds the audio and
/// tells the detector when it drops the start of it ([`Detector::forget`]).
pub struct Detector {
    /// Silero context, or `None` for the energy fallback (scores are then frame levels).
    silero: Option<WhisperVadContext>,
    cfg: VadConfig,
    /// One score per whole 32 ms frame of the held audio, from its first sample.
    scores: Vec<f32>,
}

impl Detector {
    /// A detector running the Silero VAD ggml model at `model`.
    pub fn silero(model: &Path, cfg: &VadConfig) -> Result<Detector, VadError> {
        cfg.validate()?;
        if !model.is_file() {
            return Err(VadError::ModelMissing {
                path: model.to_path_buf(),
            });
        }
        let model_str = model
            .to_str()
            .filter(|s| !s.contains('\0'))
            .ok_or_else(|| VadError::ModelPath {
                path: model.to_path_buf(),
            })?;
        let mut params = WhisperVadContextParams::new();
        params.set_n_threads(VAD_THREADS);
        params.set_use_gpu(false);
        let ctx =
            WhisperVadContext::new(model_str, params).map_err(|source| VadError::ModelLoad {
                path: model.to_path_buf(),
                source,
            })?;
        Ok(Detector {
            silero: Some(ctx),
            cfg: cfg.clone(),
            scores: Vec::new(),
        })
    }

    /// The model-free fallback ([`detect_energy`]'s rule over the audio held).
    pub fn energy(cfg: &VadConfig) -> Result<Detector, VadError> {
        cfg.validate()?;
        Ok(Detector {
            silero: None,
            cfg: cfg.clone(),
            scores: Vec::new(),
        })
    }

    /// Scores the frames of `held` (the audio held, from the sample the first score
    /// belongs to) not scored yet. A trailing partial frame is scored only `at_end`, as
    /// more audio would change it.
    pub fn score(&mut self, held: &[f32], at_end: bool) -> Result<(), VadError> {
        let frames = if at_end {
            held.len().div_ceil(FRAME_SAMPLES)
        } else {
            held.len() / FRAME_SAMPLES
        };
        let from = self.scores.len().min(frames);
        self.scores.truncate(from);
        match self.silero.as_mut() {
            Some(ctx) => {
                let new = silero_probs(ctx, held, from, frames)?;
                self.scores.extend(new);
            }
            None => {
                let end = held.len().min(frames * FRAME_SAMPLES);
                let tail = &held[(from * FRAME_SAMPLES).min(end)..end];
                self.scores.extend(tail.chunks(FRAME_SAMPLES).map(frame_db));
            }
        }
        self.scores.resize(frames, 0.0);
        Ok(())
    }

    /// Speech spans of the scored audio, whose length is `held`.
    pub fn spans(&self, held: Ms) -> Vec<Span> {
        match self.silero {
            Some(_) => spans_from_probs(&self.scores, held, &self.cfg),
            None => energy_spans(&self.scores, held, &self.cfg),
        }
    }

    /// The caller dropped the first `samples` of the held audio (a multiple of
    /// [`FRAME_SAMPLES`]).
    pub fn forget(&mut self, samples: usize) {
        debug_assert_eq!(samples % FRAME_SAMPLES, 0);
        let frames = (samples / FRAME_SAMPLES).min(self.scores.len());
        self.scores.drain(..frames);
    }
}

/// Silero speech probability for frames `from..to` of `samples` (32 ms each), computed
/// chunk by chunk; each chunk is preceded by up to [`WARMUP_FRAMES`] of the audio before it.
fn silero_probs(
    ctx: &mut WhisperVadContext,
    samples: &[f32],
    from: usize,
    to: usize,
) -> Result<Vec<f32>, VadError> {
    let mut probs = Vec::with_capacity(to.saturating_sub(from));
    let mut first = from;
    while first < to {
        let last = (first + CHUNK_FRAMES).min(to);
        let warmup = first.min(WARMUP_FRAMES);
        let a = (first - warmup) * FRAME_SAMPLES;
        let b = (last * FRAME_SAMPLES).min(samples.len());
        ctx.detect_speech(&samples[a..b])
            .map_err(|source| VadError::Detect {
                at: Ms::from_samples(first * FRAME_SAMPLES, SAMPLE_RATE),
                source,
            })?;
        let chunk = ctx.probabilities();
        let expected = (b - a).div_ceil(FRAME_SAMPLES);
        if chunk.len() != expected {
            tracing::warn!(
                got = chunk.len(),
                expected,
                "whisper.cpp VAD returned an unexpected number of frames"
            );
        }
        let mut kept: Vec<f32> = chunk.get(warmup..).unwrap_or_default().to_vec();
        // whisper.cpp gives one probability per started frame; guard the invariant anyway.
        kept.resize(last - first, 0.0);
        probs.extend(kept);
        first = last;
    }
    Ok(probs)
}

/// Spans from frame levels (dBFS): speech is where the level stands well above the noise
/// floor of these frames.
fn energy_spans(levels: &[f32], total: Ms, cfg: &VadConfig) -> Vec<Span> {
    if levels.is_empty() {
        return Vec::new();
    }
    let mut sorted = levels.to_vec();
    sorted.sort_by(f32::total_cmp);
    let quantile = |q: f32| sorted[((sorted.len() - 1) as f32 * q) as usize];
    let floor = quantile(ENERGY_FLOOR_QUANTILE);
    let margin = ((quantile(ENERGY_LOUD_QUANTILE) - floor) * ENERGY_MARGIN_FRACTION)
        .clamp(ENERGY_MIN_MARGIN_DB, ENERGY_MAX_MARGIN_DB);
    let speech_db = (floor + margin).max(ENERGY_MIN_DB);
    // Map levels to scores so that the shared hysteresis works in dB: score 0.5 at
    // `speech_db`; the end threshold (0.35) sits 0.3 × margin lower.
    let scores: Vec<f32> = levels
        .iter()
        .map(|db| (0.5 + (db - speech_db) / (2.0 * margin)).clamp(0.0, 1.0))
        .collect();
    let energy_cfg = VadConfig {
        threshold: DEFAULT_THRESHOLD,
        ..cfg.clone()
    };
    spans_from_probs(&scores, total, &energy_cfg)
}

/// RMS level of one frame in dBFS.
fn frame_db(frame: &[f32]) -> f32 {
    let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    if energy > 0.0 {
        (10.0 * energy.log10()).max(ZERO_FRAME_DB)
    } else {
        ZERO_FRAME_DB
    }
}

/// Turns per-frame speech scores (one per 32 ms frame) into padded spans, following
/// Silero's `get_speech_timestamps` (which whisper.cpp also follows) without
/// whisper.cpp's extra merge of gaps under 200 ms: `min_silence` governs merging.
fn spans_from_probs(probs: &[f32], total: Ms, cfg: &VadConfig) -> Vec<Span> {
    let threshold = cfg.threshold;
    let neg_threshold = (threshold - HYSTERESIS).max(MIN_NEG_THRESHOLD);
    let min_speech = cfg.min_speech.0;
    let min_silence = cfg.min_silence.0;
    // Leave room for the padding so padded spans stay within max_speech.
    let max_speech = cfg.max_speech.0.saturating_sub(FRAME_MS + 2 * cfg.pad.0);
    let audio_end = total.0;

    let mut raw: Vec<(u64, u64)> = Vec::new();
    // Start of the span in progress.
    let mut start: Option<u64> = None;
    // Where the current run of low scores began.
    let mut silence_from: Option<u64> = None;
    // Start of the last pause ≥ 98 ms inside the span: where to split an over-long one.
    let mut split_at: Option<u64> = None;
    // Where speech resumed after `split_at`.
    let mut resume_at: Option<u64> = None;

    for (i, &p) in probs.iter().enumerate() {
        let t = (i as u64 * FRAME_MS).min(audio_end);
        if p >= threshold && silence_from.take().is_some() {
            if let Some(split) = split_at {
                if resume_at.is_none_or(|r| r < split) {
                    resume_at = Some(t);
                }
            }
        }
        let Some(s) = start else {
            if p >= threshold {
                start = Some(t);
            }
            continue;
        };
        if t - s > max_speech {
            if let Some(split) = split_at {
                raw.push((s, split));
                // Resume at the speech after the split point, unless still in the pause.
                start = resume_at.filter(|&r| r >= split);
                split_at = None;
                resume_at = None;
                silence_from = None;
            } else {
                raw.push((s, t));
                start = None;
                split_at = None;
                resume_at = None;
                silence_from = None;
                continue;
            }
        }
        let Some(s) = start else { continue };
        if p < neg_threshold {
            let from = *silence_from.get_or_insert(t);
            if t - from > MIN_SPLIT_PAUSE_MS {
                split_at = Some(from);
            }
            if t - from >= min_silence {
                if from.saturating_sub(s) > min_speech {
                    raw.push((s, from));
                }
                start = None;
                split_at = None;
                resume_at = None;
                silence_from = None;
            }
        }
    }
    if let Some(s) = start {
        if audio_end.saturating_sub(s) > min_speech {
            raw.push((s, audio_end));
        }
    }
    raw.retain(|&(s, e)| e.saturating_sub(s) >= min_speech);
    pad_spans(&mut raw, cfg.pad.0, audio_end);
    raw.into_iter()
        .map(|(s, e)| Span::new(Ms(s), Ms(e)))
        .filter(|span| !span.is_empty())
        .collect()
}

/// Pads every span by `pad`, splitting the gap evenly where two spans are closer than
/// twice that, so spans never overlap.
fn pad_spans(spans: &mut [(u64, u64)], pad: u64, audio_end: u64) {
    let n = spans.len();
    for i in 0..n {
        if i == 0 {
            spans[0].0 = spans[0].0.saturating_sub(pad);
        }
        if i + 1 < n {
            let gap = spans[i + 1].0.saturating_sub(spans[i].1);
            let grow = if gap < 2 * pad { gap / 2 } else { pad };
            spans[i].1 += grow;
            spans[i + 1].0 -= if gap < 2 * pad { gap - gap / 2 } else { pad };
        } else {
            spans[i].1 = (spans[i].1 + pad).min(audio_end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = SAMPLE_RATE as usize;

    /// Deterministic white noise (xorshift) at the given RMS level.
    fn noise(n: usize, rms: f32, seed: u32) -> Vec<f32> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Uniform in [-1, 1) has RMS 1/√3.
                ((x as f32 / u32::MAX as f32) * 2.0 - 1.0) * rms * 3f32.sqrt()
            })
            .collect()
    }

    /// `(start_ms, end_ms)` tone bursts at 440 Hz, amplitude 0.3, over `total_ms` of
    /// background noise at `noise_rms`.
    fn bursts(total_ms: usize, bursts: &[(usize, usize)], noise_rms: f32) -> Pcm16kMono {
        let mut s = noise(total_ms * RATE / 1000, noise_rms, 7);
        for &(a, b) in bursts {
            for (i, v) in s
                .iter_mut()
                .enumerate()
                .take(b * RATE / 1000)
                .skip(a * RATE / 1000)
            {
                *v += 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin();
            }
        }
        Pcm16kMono::from_16k_mono(s)
    }

    fn unpadded() -> VadConfig {
        VadConfig {
            pad: Ms(0),
            ..VadConfig::default()
        }
    }

    fn assert_near(spans: &[Span], truth: &[(u64, u64)], tol: u64) {
        assert_eq!(
            spans.len(),
            truth.len(),
            "spans {spans:?} vs truth {truth:?}"
        );
        for (s, &(a, b)) in spans.iter().zip(truth) {
            assert!(
                s.start.0.abs_diff(a) <= tol && s.end.0.abs_diff(b) <= tol,
                "span {s:?} vs ({a}, {b})"
            );
        }
    }

    #[test]
    fn energy_finds_tone_bursts_in_noise() {
        let pcm = bursts(
            10_000,
            &[(1_000, 2_500), (4_000, 4_600), (7_000, 9_000)],
            0.003,
        );
        assert_near(
            &detect_energy(&pcm, &unpadded()),
            &[(1_000, 2_500), (4_000, 4_600), (7_000, 9_000)],
            40,
        );
    }

    #[test]
    fn energy_in_digital_silence() {
        let mut pcm = bursts(5_000, &[(2_000, 3_000)], 0.0);
        assert_near(&detect_energy(&pcm, &unpadded()), &[(2_000, 3_000)], 40);
        pcm = bursts(5_000, &[], 0.0);
        assert!(detect_energy(&pcm, &unpadded()).is_empty());
        assert!(detect_energy(&Pcm16kMono::default(), &unpadded()).is_empty());
    }

    #[test]
    fn energy_ignores_steady_noise_and_short_clicks() {
        let pcm = bursts(6_000, &[(3_000, 3_100)], 0.05);
        assert!(detect_energy(&pcm, &unpadded()).is_empty());
    }

    #[test]
    fn energy_merges_short_pauses_and_pads() {
        // A 200 ms pause is shorter than the 300 ms minimum silence: one span.
        let pcm = bursts(
            6_000,
            &[(1_000, 2_000), (2_200, 3_000), (4_000, 5_000)],
            0.003,
        );
        let spans = detect_energy(&pcm, &VadConfig::default());
        assert_near(&spans, &[(900, 3_100), (3_900, 5_100)], 40);
    }

    #[test]
    fn padding_splits_small_gaps_and_clamps_to_the_audio() {
        let mut spans = vec![(50, 1_000), (1_100, 2_000), (3_000, 4_950)];
        pad_spans(&mut spans, 100, 5_000);
        assert_eq!(spans, vec![(0, 1_050), (1_050, 2_100), (2_900, 5_000)]);
    }

    #[test]
    fn long_speech_is_split_at_a_pause() {
        // 40 s of speech with a 160 ms dip at 20 s: shorter than min_silence, so only
        // the max_speech rule splits there.
        let mut probs = vec![0.9f32; 1_250];
        for p in &mut probs[625..630] {
            *p = 0.1;
        }
        let spans = spans_from_probs(&probs, Ms(40_000), &unpadded());
        assert_eq!(
            spans,
            vec![
                Span::new(Ms(0), Ms(20_000)),
                Span::new(Ms(20_160), Ms(40_000))
            ]
        );
        for s in &spans {
            assert!(s.len() <= DEFAULT_MAX_SPEECH);
        }
    }

    #[test]
    fn long_speech_without_pause_is_cut() {
        let probs = vec![0.9f32; 1_250];
        let spans = spans_from_probs(&probs, Ms(40_000), &unpadded());
        assert_eq!(spans.len(), 2);
        assert!(spans[0].len() <= DEFAULT_MAX_SPEECH);
        assert_eq!(spans[1].end, Ms(40_000));
    }

    #[test]
    fn hysteresis_keeps_speech_through_moderate_scores() {
        // 0.4 is below the start threshold but above the end threshold (0.35).
        let mut probs = vec![0.0f32; 100];
        probs[10..20].fill(0.9);
        probs[20..60].fill(0.4);
        let spans = spans_from_probs(&probs, Ms(3_200), &unpadded());
        assert_eq!(spans, vec![Span::new(Ms(320), Ms(1_920))]);
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_fields() {
        let cfg: VadConfig = toml::from_str("threshold = 0.6\nmin_silence = 500").unwrap();
        assert_eq!(cfg.threshold, 0.6);
        assert_eq!(cfg.min_silence, Ms(500));
        assert_eq!(cfg.pad, DEFAULT_PAD);
        assert!(toml::from_str::<VadConfig>("treshold = 0.6").is_err());
        let bad = VadConfig {
            threshold: 1.5,
            ..VadConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(VadError::InvalidConfig {
                field: "threshold",
                ..
            })
        ));
    }

    /// A two-pole resonator (one formant) at `freq` Hz with bandwidth `bw` Hz.
    fn resonate(x: &[f32], freq: f32, bw: f32) -> Vec<f32> {
        let r = (-std::f32::consts::PI * bw / RATE as f32).exp();
        let theta = 2.0 * std::f32::consts::PI * freq / RATE as f32;
        let (a1, a2) = (2.0 * r * theta.cos(), -r * r);
        let (mut y1, mut y2) = (0.0f32, 0.0f32);
        x.iter()
            .map(|&v| {
                let y = (1.0 - r) * v + a1 * y1 + a2 * y2;
                y2 = y1;
                y1 = y;
                y
            })
            .collect()
    }

    /// Vowel-like "speech": a 100-140 Hz pulse train through three formants, one vowel
    /// per 180 ms syllable, peak 0.5.
    fn vowels(ms: usize, seed: usize) -> Vec<f32> {
        const FORMANTS: [[f32; 3]; 5] = [
            [800.0, 1200.0, 2500.0],
            [300.0, 2300.0, 3000.0],
            [350.0, 1300.0, 2500.0],
            [500.0, 1900.0, 2600.0],
            [500.0, 800.0, 2500.0],
        ];
        let syllable = 180 * RATE / 1000;
        let n = ms * RATE / 1000;
        let hiss = noise(n, 0.01, 3);
        let mut out = Vec::with_capacity(n);
        let mut phase = 0.0f32;
        for (k, start) in (0..n).step_by(syllable).enumerate() {
            let m = syllable.min(n - start);
            let src: Vec<f32> = (start..start + m)
                .map(|t| {
                    let f0 = 120.0 + 20.0 * (t as f32 / RATE as f32 * 4.4).sin();
                    phase += f0 / RATE as f32;
                    let pulse = if phase >= 1.0 { 1.0 } else { 0.0 };
                    phase = phase.fract();
                    pulse + hiss[t]
                })
                .collect();
            let vowel = FORMANTS[(k * 7 + seed) % 5];
            let mut y = vec![0.0f32; m];
            for (f, gain) in vowel.iter().zip([1.0, 0.5, 0.25]) {
                for (acc, v) in y.iter_mut().zip(resonate(&src, *f, 80.0 + f * 0.05)) {
                    *acc += gain * v;
                }
            }
            for (i, v) in y.iter_mut().enumerate() {
                *v *= (std::f32::consts::PI * i as f32 / m as f32).sin().sqrt();
            }
            out.extend(y);
        }
        let peak = out.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-9);
        out.iter().map(|v| v / peak * 0.5).collect()
    }

    /// Runs the real converted model when CI provides it (`GIJIROKU_TEST_VAD_MODEL` =
    /// path of ggml-silero-vad.bin): vowel-like bursts are found, silence and steady
    /// noise are not.
    #[test]
    fn silero_finds_vowel_bursts() {
        let Some(model) = std::env::var_os("GIJIROKU_TEST_VAD_MODEL") else {
            eprintln!("skipped: set GIJIROKU_TEST_VAD_MODEL to ggml-silero-vad.bin");
            return;
        };
        // 2 s silence, 2 s vowels, 2 s noise at -40 dBFS, 1.5 s vowels, 2 s silence.
        let mut s = vec![0.0f32; 2 * RATE];
        s.extend(vowels(2_000, 0));
        s.extend(noise(2 * RATE, 0.01, 11));
        s.extend(vowels(1_500, 1));
        s.extend(vec![0.0f32; 2 * RATE]);
        let pcm = Pcm16kMono::from_16k_mono(s);
        let spans = detect(&pcm, Path::new(&model), &unpadded()).unwrap();
        // Measured: (2016, 4064) and (6016, 7552).
        assert_near(&spans, &[(2_000, 4_000), (6_000, 7_500)], 150);
    }

    #[test]
    fn missing_model_is_reported_with_its_path() {
        let pcm = bursts(1_000, &[], 0.0);
        let err = detect(
            &pcm,
            Path::new("/nonexistent/ggml-silero-vad.bin"),
            &VadConfig::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ggml-silero-vad.bin"));
    }
}
