//! Speaker diarization of mono recordings: who spoke when. [`run`] takes the speech spans
//! from VAD and returns [`SpeakerTurn`]s labelled `SpeakerId(1)`, `SpeakerId(2)`, … in order
//! of first appearance.
//!
//! Pipeline: 1.6 s windows every [`DiarizeConfig::hop`] inside each speech span → GE2E speaker
//! embeddings ([`Encoder`], resemblyzer's model; weights converted by
//! [`convert_resemblyzer`]) → average-linkage clustering on cosine distance (threshold, or
//! the exact count when given) → per-span Viterbi over 10 ms frames with a switch penalty,
//! speaker changes moved into the nearest pause, and fragments absorbed. [`der`] scores a
//! result against a reference for tests and measurements.

mod cluster;
pub mod der;
pub mod encoder;
mod segment;
pub mod weights;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::audio::Pcm16kMono;
use crate::types::{Ms, Progress, Span, SpeakerId, SpeakerTurn};

pub use der::{der, parse_rttm, DerReport};
pub use encoder::{Embedding, Encoder};
pub use weights::convert_resemblyzer;

use cluster::Stop;
use encoder::{FRAME_MS, PARTIAL_FRAMES};
use weights::MEL_BANDS;

/// Embedding window: resemblyzer's partial-utterance length, what GE2E was trained on.
pub const DEFAULT_WINDOW: Ms = Ms(PARTIAL_FRAMES as u64 * FRAME_MS);
/// Step between windows: half a window (cost grows as window / hop).
pub const DEFAULT_HOP: Ms = Ms(800);
/// Ward separation `sqrt(wA·wB/(wA+wB))·|cA−cB|` (w in seconds of speech, c mean unit
/// embeddings) above which two groups are different speakers: the difference between their
/// voices must be large relative to how much speech backs it.
pub const DEFAULT_THRESHOLD: f32 = 1.0;
/// Two speakers' mean embeddings differ by at least this cosine distance; below it even a
/// well-supported difference is one voice in two moods (or rooms).
pub const DEFAULT_MIN_DISTANCE: f32 = 0.075;
/// Speech a cluster needs before it counts as a speaker; smaller ones are outliers (noise,
/// laughter, a clipped word) and join the nearest speaker.
pub const DEFAULT_MIN_SPEAKER: Ms = Ms(3000);
/// Turns shorter than this join a neighbouring turn of the same speech span.
pub const DEFAULT_MIN_TURN: Ms = Ms(500);
/// Cost of a speaker change in Viterbi, in (cosine similarity × seconds): a change needs
/// about this much accumulated evidence (e.g. 0.1 better for 3 s).
pub const DEFAULT_SWITCH_PENALTY: f32 = 0.3;

/// Units shorter than this are too noisy to shape the clusters (GE2E embeddings of short
/// stretches drift with their length); they are still labelled with the nearest speaker.
const MIN_CLUSTER_UNIT: Ms = Ms(1000);
/// A pause is at least this many quiet frames (120 ms) inside a speech region.
const MIN_PAUSE_FRAMES: usize = 12;
/// Where the pause level sits between the quiet floor and the speech level (log energy).
const PAUSE_FRACTION: f32 = 0.3;
/// Label → drop outlier speakers → re-estimate centroids, at most this many times.
const RESEGMENT_ROUNDS: usize = 3;
/// How far a speaker change may move to reach a pause.
const SNAP_REACH: Ms = Ms(300);
/// Frames of log energy averaged when looking for pauses (50 ms).
const ENERGY_SMOOTH_FRAMES: usize = 5;
/// Windows embedded per call: bounds the mel frames held at once (~4 MB), whatever the
/// recording length.
const EMBED_GROUP: usize = 256;

/// Everything that can go wrong while loading the speaker model or diarizing.
#[derive(Debug, thiserror::Error)]
pub enum DiarizeError {
    #[error("legacy PyTorch checkpoint is malformed at byte {offset}: {reason}")]
    Checkpoint { offset: usize, reason: String },
    #[error("speaker model has no tensor {name}; is this resemblyzer's pretrained.pt?")]
    MissingTensor { name: String },
    #[error("speaker model tensor {name} is {found}, expected f32")]
    TensorType { name: String, found: String },
    #[error("speaker model tensor {name} has shape {found:?}, expected {expected:?}")]
    TensorShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("cannot read speaker model {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("speaker model {} is not valid safetensors", path.display())]
    Safetensors {
        path: PathBuf,
        source: safetensors::SafeTensorError,
    },
    #[error("cannot write the converted speaker model")]
    Write { source: std::io::Error },
    #[error("RTTM line {line}: {reason}")]
    Rttm { line: usize, reason: String },
    #[error("diarize.{field} = {value}: {rule}")]
    Config {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// Diarization settings (the `[diarize]` part of the config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiarizeConfig {
    /// Exact number of speakers, when known (overrides the threshold).
    pub speakers: Option<usize>,
    /// Upper bound on the number of speakers found automatically.
    pub max_speakers: Option<usize>,
    /// Embedding window length.
    pub window: Ms,
    /// Step between windows.
    pub hop: Ms,
    /// Ward separation (see [`DEFAULT_THRESHOLD`]) above which two groups of speech are
    /// different speakers.
    pub threshold: f32,
    /// Smallest cosine distance between two speakers' mean embeddings.
    pub min_distance: f32,
    /// Speech a cluster needs to count as a speaker.
    pub min_speaker: Ms,
    /// Shortest turn kept inside a speech span.
    pub min_turn: Ms,
    /// Viterbi cost of a speaker change (similarity × seconds).
    pub switch_penalty: f32,
    /// Worker threads for the encoder; all cores when unset.
    pub threads: Option<usize>,
}

impl Default for DiarizeConfig {
    fn default() -> Self {
        DiarizeConfig {
            speakers: None,
            max_speakers: None,
            window: DEFAULT_WINDOW,
            hop: DEFAULT_HOP,
            threshold: DEFAULT_THRESHOLD,
            min_distance: DEFAULT_MIN_DISTANCE,
            min_speaker: DEFAULT_MIN_SPEAKER,
            min_turn: DEFAULT_MIN_TURN,
            switch_penalty: DEFAULT_SWITCH_PENALTY,
            threads: None,
        }
    }
}

impl DiarizeConfig {
    /// Checks every field against its rule, so bad settings fail before any work starts.
    pub fn validate(&self) -> Result<(), DiarizeError> {
        let bad = |field, value: String, rule| Err(DiarizeError::Config { field, value, rule });
        if self.speakers == Some(0) {
            return bad("speakers", "0".into(), "must be at least 1");
        }
        if self.max_speakers == Some(0) {
            return bad("max_speakers", "0".into(), "must be at least 1");
        }
        if let (Some(s), Some(m)) = (self.speakers, self.max_speakers) {
            if s > m {
                return bad("speakers", s.to_string(), "must not exceed max_speakers");
            }
        }
        if !(Ms(300)..=Ms(10_000)).contains(&self.window) {
            return bad(
                "window",
                format!("{} ms", self.window.0),
                "must be 300..=10000 ms",
            );
        }
        if self.hop.0 < FRAME_MS || self.hop > self.window {
            return bad(
                "hop",
                format!("{} ms", self.hop.0),
                "must be 10 ms up to the window length",
            );
        }
        if !(self.threshold > 0.0 && self.threshold.is_finite()) {
            return bad("threshold", self.threshold.to_string(), "must be > 0");
        }
        if !(0.0..2.0).contains(&self.min_distance) {
            return bad(
                "min_distance",
                self.min_distance.to_string(),
                "cosine distance must be in [0, 2)",
            );
        }
        if !(self.switch_penalty >= 0.0 && self.switch_penalty.is_finite()) {
            return bad(
                "switch_penalty",
                self.switch_penalty.to_string(),
                "must be ≥ 0",
            );
        }
        if self.threads == Some(0) {
            return bad(
                "threads",
                "0".into(),
                "must be at least 1 (leave unset for all cores)",
            );
        }
        Ok(())
    }
}

/// One speech region on the 10 ms frame grid.
struct Region {
    span: Span,
    /// Global index of the first frame (frame `i` is centred on `i × 10 ms`).
    first: usize,
    frames: usize,
}

/// A stretch of a region between pauses: the unit that gets one speaker unless the
/// Viterbi pass finds a change inside it. Frames relative to its region.
struct Unit {
    region: usize,
    start: usize,
    end: usize,
}

/// One embedding window, in frames relative to its region.
struct Window {
    unit: usize,
    start: usize,
    len: usize,
}

/// Diarizes `pcm` within the `speech` spans. Turns are sorted, do not overlap, lie inside
/// the speech spans, and are numbered from `SpeakerId(1)` in order of first appearance.
pub fn run(
    pcm: &Pcm16kMono,
    speech: &[Span],
    encoder: &Encoder,
    cfg: &DiarizeConfig,
    progress: &dyn Progress,
) -> Result<Vec<SpeakerTurn>, DiarizeError> {
    cfg.validate()?;
    let regions = regions(speech, pcm.duration());
    if regions.is_empty() {
        return Ok(Vec::new());
    }
    let threads = cfg
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let window_frames = (cfg.window.0 / FRAME_MS) as usize;
    let hop_frames = (cfg.hop.0 / FRAME_MS).max(1) as usize;

    // Pauses inside speech regions split them into units.
    let energy: Vec<Vec<f32>> = regions
        .iter()
        .map(|r| frame_energy(pcm.samples(), r.first, r.frames))
        .collect();
    let pause_level = pause_level(&energy);
    let units: Vec<Unit> = regions
        .iter()
        .enumerate()
        .flat_map(|(r, reg)| {
            split_at_pauses(&energy[r], pause_level, MIN_PAUSE_FRAMES)
                .into_iter()
                .map(move |(start, end)| Unit {
                    region: r,
                    start,
                    end,
                })
                .filter(move |u| u.end > u.start && u.end <= reg.frames)
        })
        .collect();
    let windows: Vec<Window> = units
        .iter()
        .enumerate()
        .flat_map(|(u, unit)| {
            window_starts(unit.end - unit.start, window_frames, hop_frames).map(
                move |(start, len)| Window {
                    unit: u,
                    start: unit.start + start,
                    len,
                },
            )
        })
        .collect();

    // Embeddings, a group of regions at a time so only their mel frames are in memory.
    let total_ms: u64 = regions.iter().map(|r| r.span.len().0).sum();
    progress.start("diarize", total_ms);
    let mut embeddings: Vec<Embedding> = Vec::with_capacity(windows.len());
    let mut done_ms = 0;
    let mut w0 = 0;
    while w0 < windows.len() {
        let r0 = units[windows[w0].unit].region;
        let mut w1 = w0;
        let mut r1 = r0;
        // Whole regions per group, at least EMBED_GROUP windows unless the input ends.
        while w1 < windows.len() && (w1 - w0 < EMBED_GROUP || units[windows[w1].unit].region == r1)
        {
            r1 = units[windows[w1].unit].region;
            w1 += 1;
        }
        let mels: Vec<Vec<f32>> = regions[r0..=r1]
            .iter()
            .map(|r| encoder.mel_frames(pcm.samples(), r.first, r.frames))
            .collect();
        let slices: Vec<&[f32]> = windows[w0..w1]
            .iter()
            .map(|w| {
                &mels[units[w.unit].region - r0][w.start * MEL_BANDS..(w.start + w.len) * MEL_BANDS]
            })
            .collect();
        embeddings.extend(encoder.embed(&slices, threads));
        done_ms += regions[r0..=r1].iter().map(|r| r.span.len().0).sum::<u64>();
        progress.set(done_ms.min(total_ms));
        w0 = w1;
    }

    // One embedding per unit: the length-weighted mean of its windows.
    let mut unit_emb = vec![[0.0f32; weights::EMBEDDING]; units.len()];
    for (w, e) in windows.iter().zip(&embeddings) {
        for (d, x) in unit_emb[w.unit].iter_mut().zip(e) {
            *d += w.len as f32 * x;
        }
    }
    unit_emb.iter_mut().for_each(|v| cluster::normalise(v));
    let unit_secs: Vec<f32> = units
        .iter()
        .map(|u| (u.end - u.start) as f32 * FRAME_MS as f32 / 1000.0)
        .collect();

    // DEVDUMP-BEGIN
    if let Some(dir) = std::env::var_os("GIJIROKU_DIARIZE_DUMP") {
        let mut out = String::new();
        for (w, e) in windows.iter().zip(&embeddings) {
            let u = &units[w.unit];
            let r = &regions[u.region];
            out.push_str(&format!("{}\t{}\t{}\t{}\t{}\t{}", u.region, w.unit, (r.first + u.start) * 10, (r.first + u.end) * 10, (r.first + w.start) * 10, (r.first + w.start + w.len) * 10));
            for x in e { out.push_str(&format!("\t{x:.6}")); }
            out.push('\n');
        }
        let _ = std::fs::write(std::path::Path::new(&dir), out);
    }
    // DEVDUMP-END
    // Clustering on the units long enough to be reliable.
    let min_frames = (MIN_CLUSTER_UNIT.0 / FRAME_MS) as usize;
    let mut chosen: Vec<usize> = (0..units.len())
        .filter(|&i| units[i].end - units[i].start >= min_frames)
        .collect();
    if chosen.is_empty() {
        chosen = (0..units.len()).collect();
    }
    let items: Vec<Embedding> = chosen.iter().map(|&i| unit_emb[i]).collect();
    let item_w: Vec<f32> = chosen.iter().map(|&i| unit_secs[i]).collect();
    let stop = match cfg.speakers {
        Some(k) => Stop::Count(k),
        None => Stop::Separation {
            ward: cfg.threshold,
            distance: cfg.min_distance,
            min_weight: cfg.min_speaker.as_secs_f64() as f32,
            max: cfg.max_speakers,
        },
    };
    let (_, mut cents) = cluster::cluster(&items, &item_w, stop);
    tracing::debug!(
        units = units.len(),
        windows = windows.len(),
        clustered = items.len(),
        speakers = cents.len(),
        "diarize clusters"
    );

    let seg = Segmenter {
        regions: &regions,
        units: &units,
        windows: &windows,
        embeddings: &embeddings,
        energy: &energy,
        penalty_per_frame: cfg.switch_penalty * 1000.0 / FRAME_MS as f32,
        min_turn_frames: (cfg.min_turn.0 / FRAME_MS) as usize,
        reliable_frames: min_frames,
    };
    // Resegmentation: speakers that win too little speech once turns are smoothed were
    // outliers; the others' centroids are re-estimated from the windows they won.
    let mut runs = seg.label(&cents);
    for _ in 0..RESEGMENT_ROUNDS {
        let min_frames = if cfg.speakers.is_some() {
            0
        } else {
            (cfg.min_speaker.0 / FRAME_MS) as usize
        };
        let refined = seg.refit(&runs, cents.len(), min_frames);
        if refined.is_empty() || refined == cents {
            break;
        }
        cents = refined;
        runs = seg.label(&cents);
    }
    let mut turns: Vec<SpeakerTurn> = Vec::new();
    for (r, region_runs) in runs.iter().enumerate() {
        let reg = &regions[r];
        for &(s, e, label) in region_runs {
            let span = Span::new(
                Ms(((reg.first + s) as u64 * FRAME_MS).max(reg.span.start.0)),
                Ms(((reg.first + e) as u64 * FRAME_MS).min(reg.span.end.0)),
            );
            if !span.is_empty() {
                turns.push(SpeakerTurn {
                    span,
                    speaker: SpeakerId(label as u32),
                });
            }
        }
    }
    progress.finish();
    Ok(number_by_appearance(turns))
}

/// Everything the labelling passes need, computed once.
struct Segmenter<'a> {
    regions: &'a [Region],
    units: &'a [Unit],
    windows: &'a [Window],
    embeddings: &'a [Embedding],
    energy: &'a [Vec<f32>],
    penalty_per_frame: f32,
    min_turn_frames: usize,
    /// Units at least this long count with full weight in Viterbi.
    reliable_frames: usize,
}

impl Segmenter<'_> {
    /// Speaker runs `(start, end, label)` per region (frames relative to the region):
    /// Viterbi over the region's frames with the window scores, so a change without a pause
    /// is still found and short stretches (weighted down) follow their neighbours unless
    /// their evidence is strong; changes then move into the nearest pause.
    fn label(&self, cents: &[Embedding]) -> Vec<Vec<(usize, usize, usize)>> {
        let k = cents.len();
        let reach = (SNAP_REACH.0 / FRAME_MS) as usize;
        let mut out = Vec::with_capacity(self.regions.len());
        let mut w = 0;
        for (r, reg) in self.regions.iter().enumerate() {
            let start = w;
            while w < self.windows.len() && self.units[self.windows[w].unit].region == r {
                w += 1;
            }
            let spans: Vec<(usize, usize, f32)> = self.windows[start..w]
                .iter()
                .map(|x| {
                    let unit = &self.units[x.unit];
                    let reliability =
                        ((unit.end - unit.start) as f32 / self.reliable_frames as f32).min(1.0);
                    (x.start, x.len, reliability)
                })
                .collect();
            let scores: Vec<Vec<f32>> = self.embeddings[start..w]
                .iter()
                .map(|e| cents.iter().map(|c| cluster::cosine(e, c)).collect())
                .collect();
            let fs = segment::frame_scores(reg.frames, k, &spans, &scores);
            let mut labels = segment::viterbi(&fs, k, self.penalty_per_frame);
            segment::snap_to_pauses(&mut labels, &self.energy[r], reach);
            out.push(segment::runs(&labels, &fs, k, self.min_turn_frames));
        }
        out
    }

    /// New centroids from the windows each speaker won (by the label at the window's
    /// centre), dropping speakers that won less than `min_frames` in total.
    fn refit(
        &self,
        runs: &[Vec<(usize, usize, usize)>],
        k: usize,
        min_frames: usize,
    ) -> Vec<Embedding> {
        let mut mass = vec![0usize; k];
        for &(s, e, l) in runs.iter().flatten() {
            mass[l] += e - s;
        }
        let mut sums = vec![[0.0f32; weights::EMBEDDING]; k];
        for (win, emb) in self.windows.iter().zip(self.embeddings) {
            let r = self.units[win.unit].region;
            let centre = win.start + win.len / 2;
            if let Some(&(_, _, l)) = runs[r].iter().find(|&&(s, e, _)| s <= centre && centre < e) {
                for (d, x) in sums[l].iter_mut().zip(emb) {
                    *d += win.len as f32 * x;
                }
            }
        }
        (0..k)
            .filter(|&c| mass[c] >= min_frames && mass[c] > 0)
            .map(|c| {
                let mut v = sums[c];
                cluster::normalise(&mut v);
                v
            })
            .filter(|v| v.iter().any(|&x| x != 0.0))
            .collect()
    }
}

/// Sorted, merged, clipped speech spans on the frame grid.
fn regions(speech: &[Span], duration: Ms) -> Vec<Region> {
    let mut spans: Vec<Span> = speech
        .iter()
        .map(|s| Span::new(s.start.min(duration), s.end.min(duration)))
        .filter(|s| !s.is_empty())
        .collect();
    spans.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
        .into_iter()
        .map(|span| {
            let first = (span.start.0 / FRAME_MS) as usize;
            let end = span.end.0.div_ceil(FRAME_MS) as usize;
            Region {
                span,
                first,
                frames: (end - first).max(1),
            }
        })
        .collect()
}

/// Window `(start, len)` pairs covering `frames`: every `hop`, the last one flush with the
/// end; a region shorter than a window gets one window of its own length.
fn window_starts(frames: usize, window: usize, hop: usize) -> impl Iterator<Item = (usize, usize)> {
    let (count, len) = if frames <= window {
        (1, frames)
    } else {
        ((frames - window).div_ceil(hop) + 1, window)
    };
    (0..count).map(move |i| ((i * hop).min(frames - len), len))
}

/// Smoothed log energy of frames `first..first + frames` (frame `i` centred on sample
/// `160 i`, 25 ms wide like the mel frames).
fn frame_energy(samples: &[f32], first: usize, frames: usize) -> Vec<f32> {
    let half = encoder::N_FFT / 2;
    let raw: Vec<f32> = (first..first + frames)
        .map(|i| {
            let c = i * encoder::HOP_SAMPLES;
            let s = c.saturating_sub(half).min(samples.len());
            let e = (c + half).min(samples.len());
            let p = samples[s..e].iter().map(|x| x * x).sum::<f32>() / (e - s).max(1) as f32;
            (p + 1e-10).ln()
        })
        .collect();
    let h = ENERGY_SMOOTH_FRAMES / 2;
    (0..raw.len())
        .map(|t| {
            let s = t.saturating_sub(h);
            let e = (t + h + 1).min(raw.len());
            raw[s..e].iter().sum::<f32>() / (e - s) as f32
        })
        .collect()
}

/// Log energy below which a frame inside speech counts as a pause: a fixed fraction of
/// the way from the quiet floor (5th percentile) to the speech level (95th percentile) of
/// all speech-region frames, so it follows the recording's noise and loudness.
fn pause_level(energy: &[Vec<f32>]) -> f32 {
    let mut all: Vec<f32> = energy.iter().flatten().copied().collect();
    if all.is_empty() {
        return f32::NEG_INFINITY;
    }
    all.sort_by(f32::total_cmp);
    let floor = all[all.len() * 5 / 100];
    let peak = all[(all.len() * 95 / 100).min(all.len() - 1)];
    floor + PAUSE_FRACTION * (peak - floor)
}

/// Splits a region at runs of at least `min_pause` frames below `level`; the pause goes
/// half to each side so units tile the region.
fn split_at_pauses(energy: &[f32], level: f32, min_pause: usize) -> Vec<(usize, usize)> {
    let n = energy.len();
    let mut cuts = Vec::new();
    let mut t = 0;
    while t < n {
        if energy[t] < level {
            let s = t;
            while t < n && energy[t] < level {
                t += 1;
            }
            // Pauses touching the region edges are not between two stretches of speech.
            if t - s >= min_pause && s > 0 && t < n {
                cuts.push((s + t) / 2);
            }
        } else {
            t += 1;
        }
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut prev = 0;
    for c in cuts {
        out.push((prev, c));
        prev = c;
    }
    out.push((prev, n));
    out
}

/// Merges touching same-speaker turns and renumbers speakers 1, 2, … by first appearance.
fn number_by_appearance(mut turns: Vec<SpeakerTurn>) -> Vec<SpeakerTurn> {
    turns.sort_by_key(|t| t.span.start);
    let mut ids: Vec<u32> = Vec::new();
    let mut out: Vec<SpeakerTurn> = Vec::with_capacity(turns.len());
    for t in turns {
        let id = match ids.iter().position(|&x| x == t.speaker.0) {
            Some(i) => i,
            None => {
                ids.push(t.speaker.0);
                ids.len() - 1
            }
        };
        let speaker = SpeakerId(id as u32 + 1);
        match out.last_mut() {
            Some(last) if last.speaker == speaker && last.span.end >= t.span.start => {
                last.span.end = last.span.end.max(t.span.end);
            }
            _ => out.push(SpeakerTurn {
                span: t.span,
                speaker,
            }),
        }
    }
    out
}
