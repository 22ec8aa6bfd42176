//! Speaker diarization of mono recordings: who spoke when. [`run`] takes the speech spans
//! from VAD and returns [`SpeakerTurn`]s labelled `SpeakerId(1)`, `SpeakerId(2)`, … in order
//! of first appearance.
//!
//! Pipeline:
//! 1. Embeddings: 1.6 s windows every [`DiarizeConfig::hop`] over each speech region → GE2E
//!    speaker embeddings ([`Encoder`], resemblyzer's model; weights converted by
//!    [`convert_resemblyzer`]), centred on the recording's mean embedding (what every voice in
//!    the room shares; see `cluster`).
//! 2. Stretches of one voice: the windows are over-clustered into many tight groups, and a
//!    Viterbi pass over 10 ms frames labels the speech with them; runs of one group, joined
//!    across pauses shorter than [`MAX_JOIN_PAUSE`], are stretches of one voice.
//! 3. Speakers: stretches with at least [`MIN_STRETCH`] of speech (long enough for a stable
//!    embedding, and clear of the mixed windows around quick exchanges) are clustered with
//!    average linkage at [`DiarizeConfig::threshold`], or cut at the exact count when given.
//! 4. Turns: Viterbi again with the speakers' centroids, speaker changes moved into the nearest
//!    pause, fragments absorbed, centroids re-estimated from the speech each speaker won; a
//!    speaker's turns separated by less than [`MAX_JOIN_PAUSE`] are joined.
//!
//! [`der`] scores a result against a reference for tests and measurements.

mod cluster;
pub mod der;
pub mod encoder;
mod segment;
pub mod weights;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audio::Pcm16kMono;
use crate::types::{Ms, Progress, Span, SpeakerId, SpeakerTurn};

pub use der::{der, parse_rttm, DerReport};
pub use encoder::{Embedding, Encoder};
pub use weights::convert_resemblyzer;

use cluster::Stop;
use encoder::{FRAME_MS, PARTIAL_FRAMES};
use weights::{EMBEDDING, MEL_BANDS};

/// Embedding window: resemblyzer's partial-utterance length, what GE2E was trained on.
pub const DEFAULT_WINDOW: Ms = Ms(PARTIAL_FRAMES as u64 * FRAME_MS);
/// Step between windows: half a window (cost grows as window / hop).
pub const DEFAULT_HOP: Ms = Ms(800);
/// Average cosine distance between centred embeddings above which two groups of stretches
/// are different speakers. On the development meetings a speaker's stretches are about 0.2
/// apart and different speakers about 1.2; the hardest pairs of voices meet around 0.5–0.6.
pub const DEFAULT_THRESHOLD: f32 = 0.6;
/// Speech a speaker needs to win in the final labelling; smaller ones were outliers (noise,
/// laughter, a clipped word) and join their neighbours.
pub const DEFAULT_MIN_SPEAKER: Ms = Ms(3000);
/// Turns shorter than this join a neighbouring turn of the same speech span.
pub const DEFAULT_MIN_TURN: Ms = Ms(500);
/// Cost of a speaker change in Viterbi, in (cosine similarity × seconds): a change needs
/// about this much accumulated evidence (e.g. 0.1 better for 3 s).
pub const DEFAULT_SWITCH_PENALTY: f32 = 0.3;
/// Speech a stretch of one voice needs to take part in finding the speakers. Shorter ones
/// (a "はい", a name called, a chorus of "異議なし") give embeddings that mix voices or drift
/// with their length; they are still labelled with the nearest speaker.
pub const MIN_STRETCH: Ms = Ms(3000);
/// A pause shorter than this does not end a turn: stretches of one voice continue across it,
/// and a speaker's turns this close are joined (as a listener, and RTTM references, count
/// the breath between two sentences as part of the turn).
pub const MAX_JOIN_PAUSE: Ms = Ms(1000);

/// Average cosine distance within the tight groups of windows used to find stretches of
/// one voice (strict enough that a group never holds two voices).
const SEED_DISTANCE: f32 = 0.6;
/// Windows a tight group needs to be used (smaller ones are stray windows).
const MIN_SEED_WINDOWS: usize = 3;
/// Average raw (uncentred) cosine similarity between the two top groups of stretches above
/// which a recording is one voice (see `cluster::one_voice`). Measured on the development
/// recordings: one voice 0.90–0.94, meetings of 3–6 voices 0.55–0.71; two voices as alike
/// as the closest synthetic pair (0.82) are also taken for one, which costs less than
/// splitting either of them into several.
const ONE_VOICE: f32 = 0.8;
/// Windows shorter than this (in short speech regions) count less in Viterbi.
const RELIABLE_WINDOW: Ms = Ms(1000);
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
    /// Average cosine distance (see [`DEFAULT_THRESHOLD`]) above which two groups of speech
    /// are different speakers; lower finds more speakers.
    pub threshold: f32,
    /// Speech a speaker needs to win to count as one.
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
        if !(self.threshold > 0.0 && self.threshold < 2.0) {
            return bad(
                "threshold",
                self.threshold.to_string(),
                "cosine distance must be in (0, 2)",
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

/// One embedding window, in frames relative to its region.
struct Window {
    region: usize,
    start: usize,
    len: usize,
}

/// Speaker runs `(start, end, label)` of each region, frames relative to the region.
type Runs = Vec<Vec<(usize, usize, usize)>>;

/// Diarizes `pcm` within the `speech` spans. Turns are sorted, do not overlap, cover the
/// speech spans (a speaker's turn also covers pauses shorter than [`MAX_JOIN_PAUSE`] inside
/// it), and are numbered from `SpeakerId(1)` in order of first appearance.
pub fn run(
    pcm: &Pcm16kMono,
    speech: &[Span],
    encoder: &Encoder,
    cfg: &DiarizeConfig,
    progress: &dyn Progress,
) -> Result<Vec<SpeakerTurn>, DiarizeError> {
    let mut evidence = Evidence::new(cfg)?;
    evidence.add(pcm, Ms(0), speech, encoder, progress);
    progress.finish();
    Ok(evidence.turns())
}

/// Speaker evidence gathered block by block of a recording (embeddings and frame energy of
/// its speech, a few kB per minute), so a long recording need not be held whole;
/// [`Evidence::turns`] then finds the speakers over all of it.
pub struct Evidence {
    cfg: DiarizeConfig,
    regions: Vec<Region>,
    windows: Vec<Window>,
    /// Uncentred embedding of each window.
    raw: Vec<Embedding>,
    /// Smoothed log energy of each region's frames.
    energy: Vec<Vec<f32>>,
    /// Set when the evidence is no longer wanted (the file's recognition failed or was
    /// interrupted): [`Evidence::add`] stops between groups of windows.
    stop: Option<Arc<AtomicBool>>,
}

impl Evidence {
    pub fn new(cfg: &DiarizeConfig) -> Result<Evidence, DiarizeError> {
        cfg.validate()?;
        Ok(Evidence {
            cfg: cfg.clone(),
            regions: Vec::new(),
            windows: Vec::new(),
            raw: Vec::new(),
            energy: Vec::new(),
            stop: None,
        })
    }

    /// Gives up adding (the evidence is then incomplete) as soon as `stop` is set.
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Evidence {
        self.stop = Some(stop);
        self
    }

    /// Adds the block `pcm`, which starts `offset` into the recording (a multiple of
    /// 10 ms), with its `speech` spans (relative to the block). Blocks come in order.
    pub fn add(
        &mut self,
        pcm: &Pcm16kMono,
        offset: Ms,
        speech: &[Span],
        encoder: &Encoder,
        progress: &dyn Progress,
    ) {
        let base = (offset.0 / FRAME_MS) as usize;
        let regions = regions(speech, pcm.duration());
        let threads = self
            .cfg
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let window_frames = (self.cfg.window.0 / FRAME_MS) as usize;
        let hop_frames = (self.cfg.hop.0 / FRAME_MS).max(1) as usize;
        let windows: Vec<Window> = regions
            .iter()
            .enumerate()
            .flat_map(|(r, reg)| {
                window_starts(reg.frames, window_frames, hop_frames).map(move |(start, len)| {
                    Window {
                        region: r,
                        start,
                        len,
                    }
                })
            })
            .collect();
        let stop = self.stop.as_deref();
        let embedded = embed_windows(pcm, encoder, &regions, &windows, threads, progress, stop);
        if embedded.len() < windows.len() {
            // Stopped: what is here can no longer be clustered; keep nothing.
            self.regions.clear();
            self.windows.clear();
            self.raw.clear();
            self.energy.clear();
            return;
        }
        self.raw.extend(embedded);
        self.energy.extend(
            regions
                .iter()
                .map(|r| frame_energy(pcm.samples(), r.first, r.frames)),
        );
        let r0 = self.regions.len();
        self.windows.extend(windows.into_iter().map(|w| Window {
            region: w.region + r0,
            ..w
        }));
        self.regions.extend(regions.into_iter().map(|r| Region {
            span: Span::new(Ms(r.span.start.0 + offset.0), Ms(r.span.end.0 + offset.0)),
            first: r.first + base,
            frames: r.frames,
        }));
    }

    /// The speaker turns of everything added.
    pub fn turns(self) -> Vec<SpeakerTurn> {
        let Evidence {
            cfg,
            regions,
            windows,
            raw,
            energy,
            ..
        } = self;
        if regions.is_empty() {
            return Vec::new();
        }
        let cfg = &cfg;
        let secs: Vec<f32> = windows.iter().map(|w| frames_to_secs(w.len)).collect();
        let centred = cluster::centre(&raw, &secs);
        let seg = Segmenter {
            regions: &regions,
            windows: &windows,
            embeddings: &centred,
            energy: &energy,
            penalty_per_frame: cfg.switch_penalty * 1000.0 / FRAME_MS as f32,
            min_turn_frames: ms_to_frames(cfg.min_turn),
            reliable_frames: ms_to_frames(RELIABLE_WINDOW),
        };

        // Stretches of one voice, from tight groups of windows.
        let seed_stop = Stop::Distance {
            distance: SEED_DISTANCE,
            max: None,
        };
        let (labels, groups) = cluster::cluster(&centred, &secs, seed_stop);
        let mut size = vec![0usize; groups.len()];
        labels.iter().for_each(|&l| size[l] += 1);
        let mut seeds: Vec<Embedding> = groups
            .iter()
            .zip(&size)
            .filter(|(_, &n)| n >= MIN_SEED_WINDOWS)
            .map(|(g, _)| *g)
            .collect();
        if seeds.is_empty() {
            seeds = groups;
        }
        let seed_runs = seg.label(&seeds);
        let join = ms_to_frames(MAX_JOIN_PAUSE);
        let mut stretches = seg.stretches(&seed_runs, join, ms_to_frames(MIN_STRETCH));
        if stretches.is_empty() {
            // A short recording: every stretch has to do.
            stretches = seg.stretches(&seed_runs, join, 1);
        }

        // Speakers: clusters of stretches.
        let mean_of = |embs: &[Embedding], ws: &[usize]| {
            let mut v = [0.0f32; EMBEDDING];
            for &w in ws {
                for (d, x) in v.iter_mut().zip(&embs[w]) {
                    *d += secs[w] * x;
                }
            }
            cluster::normalise(&mut v);
            v
        };
        let items: Vec<Embedding> = stretches.iter().map(|s| mean_of(&centred, s)).collect();
        let item_secs: Vec<f32> = stretches
            .iter()
            .map(|s| s.iter().map(|&w| secs[w]).sum())
            .collect();
        let stop = match cfg.speakers {
            Some(k) => Stop::Count(k),
            None => Stop::Distance {
                distance: cfg.threshold,
                max: cfg.max_speakers,
            },
        };
        let (_, mut cents) = cluster::cluster(&items, &item_secs, stop);
        if cfg.speakers.is_none() && cents.len() > 1 {
            let raw_items: Vec<Embedding> = stretches.iter().map(|s| mean_of(&raw, s)).collect();
            if cluster::one_voice(&raw_items, ONE_VOICE) {
                cents = cluster::centroids(&items, &item_secs, &vec![0; items.len()], 1);
            }
        }
        if cents.is_empty() {
            cents = cluster::centroids(&centred, &secs, &vec![0; centred.len()], 1);
        }
        tracing::debug!(
            windows = windows.len(),
            seeds = seeds.len(),
            stretches = items.len(),
            speakers = cents.len(),
            "diarize clusters"
        );

        // Resegmentation: speakers that win too little speech once turns are smoothed were
        // outliers; the others' centroids are re-estimated from the windows they won.
        let min_frames = if cfg.speakers.is_some() {
            0
        } else {
            ms_to_frames(cfg.min_speaker)
        };
        let mut runs = seg.label(&cents);
        for _ in 0..RESEGMENT_ROUNDS {
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
        number_by_appearance(turns, MAX_JOIN_PAUSE)
    }
}

fn ms_to_frames(t: Ms) -> usize {
    (t.0 / FRAME_MS) as usize
}

fn frames_to_secs(frames: usize) -> f32 {
    frames as f32 * FRAME_MS as f32 / 1000.0
}

/// GE2E embeddings of `windows`, a group of whole regions at a time so only their mel
/// frames are in memory.
fn embed_windows(
    pcm: &Pcm16kMono,
    encoder: &Encoder,
    regions: &[Region],
    windows: &[Window],
    threads: usize,
    progress: &dyn Progress,
    stop: Option<&AtomicBool>,
) -> Vec<Embedding> {
    let total_ms: u64 = regions.iter().map(|r| r.span.len().0).sum();
    progress.start("diarize", total_ms);
    let mut embeddings: Vec<Embedding> = Vec::with_capacity(windows.len());
    let mut done_ms = 0;
    let mut w0 = 0;
    while w0 < windows.len() {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        let r0 = windows[w0].region;
        let mut w1 = w0;
        let mut r1 = r0;
        // Whole regions per group, at least EMBED_GROUP windows unless the input ends.
        while w1 < windows.len() && (w1 - w0 < EMBED_GROUP || windows[w1].region == r1) {
            r1 = windows[w1].region;
            w1 += 1;
        }
        let mels: Vec<Vec<f32>> = regions[r0..=r1]
            .iter()
            .map(|r| encoder.mel_frames(pcm.samples(), r.first, r.frames))
            .collect();
        let slices: Vec<&[f32]> = windows[w0..w1]
            .iter()
            .map(|w| &mels[w.region - r0][w.start * MEL_BANDS..(w.start + w.len) * MEL_BANDS])
            .collect();
        embeddings.extend(encoder.embed(&slices, threads));
        done_ms += regions[r0..=r1].iter().map(|r| r.span.len().0).sum::<u64>();
        progress.set(done_ms.min(total_ms));
        w0 = w1;
    }
    embeddings
}

/// Everything the labelling passes need, computed once.
struct Segmenter<'a> {
    regions: &'a [Region],
    windows: &'a [Window],
    /// Centred window embeddings.
    embeddings: &'a [Embedding],
    energy: &'a [Vec<f32>],
    penalty_per_frame: f32,
    min_turn_frames: usize,
    /// Windows at least this long count with full weight in Viterbi.
    reliable_frames: usize,
}

impl Segmenter<'_> {
    /// Speaker runs per region: Viterbi over the region's frames with the window scores, so
    /// a change without a pause is still found and short regions (weighted down) follow the
    /// strongest evidence; changes then move into the nearest pause.
    fn label(&self, cents: &[Embedding]) -> Runs {
        let k = cents.len();
        let reach = ms_to_frames(SNAP_REACH);
        let mut out = Vec::with_capacity(self.regions.len());
        let mut w = 0;
        for (r, reg) in self.regions.iter().enumerate() {
            let start = w;
            while w < self.windows.len() && self.windows[w].region == r {
                w += 1;
            }
            let spans: Vec<(usize, usize, f32)> = self.windows[start..w]
                .iter()
                .map(|x| {
                    let reliability = (x.len as f32 / self.reliable_frames as f32).min(1.0);
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

    /// The window at the centre of each run, by window: `(region, frame)` of its centre.
    fn centre(&self, w: usize) -> (usize, usize) {
        let x = &self.windows[w];
        (x.region, x.start + x.len / 2)
    }

    /// New centroids from the windows each speaker won (by the label at the window's
    /// centre), dropping speakers that won less than `min_frames` in total.
    fn refit(&self, runs: &Runs, k: usize, min_frames: usize) -> Vec<Embedding> {
        let mut mass = vec![0usize; k];
        for &(s, e, l) in runs.iter().flatten() {
            mass[l] += e - s;
        }
        let mut sums = vec![[0.0f32; EMBEDDING]; k];
        for (w, emb) in self.embeddings.iter().enumerate() {
            let (r, centre) = self.centre(w);
            if let Some(&(_, _, l)) = runs[r].iter().find(|&&(s, e, _)| s <= centre && centre < e) {
                for (d, x) in sums[l].iter_mut().zip(emb) {
                    *d += self.windows[w].len as f32 * x;
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

    /// Stretches of one label, joined across gaps of at most `join` frames, with at least
    /// `min_frames` of speech: the windows whose centres lie in each (stretches without a
    /// window are left out).
    fn stretches(&self, runs: &Runs, join: usize, min_frames: usize) -> Vec<Vec<usize>> {
        let global: Vec<(usize, usize, usize)> = runs
            .iter()
            .zip(self.regions)
            .flat_map(|(rr, reg)| {
                rr.iter()
                    .map(|&(s, e, l)| (reg.first + s, reg.first + e, l))
            })
            .collect();
        let joined = join_runs(&global, join);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); joined.len()];
        for w in 0..self.windows.len() {
            let (r, c) = self.centre(w);
            let t = self.regions[r].first + c;
            // The last stretch starting at or before t contains it (stretches tile the speech).
            let i = joined.partition_point(|j| j.start <= t);
            if i > 0 && t < joined[i - 1].end {
                members[i - 1].push(w);
            }
        }
        joined
            .iter()
            .zip(members)
            .filter(|(j, m)| j.speech >= min_frames && !m.is_empty())
            .map(|(_, m)| m)
            .collect()
    }
}

/// A run of one label over possibly several speech regions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Joined {
    start: usize,
    end: usize,
    /// Frames of speech in it (the gaps between regions not counted).
    speech: usize,
    label: usize,
}

/// Joins consecutive `(start, end, label)` runs (sorted, not overlapping) of the same label
/// whose gap is at most `join` frames.
fn join_runs(runs: &[(usize, usize, usize)], join: usize) -> Vec<Joined> {
    let mut out: Vec<Joined> = Vec::new();
    for &(s, e, label) in runs {
        match out.last_mut() {
            Some(j) if j.label == label && s <= j.end + join => {
                j.end = e;
                j.speech += e - s;
            }
            _ => out.push(Joined {
                start: s,
                end: e,
                speech: e - s,
                label,
            }),
        }
    }
    out
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

/// Renumbers speakers 1, 2, … by first appearance and joins a speaker's consecutive turns
/// when they touch or the pause between them is at most `join`.
fn number_by_appearance(mut turns: Vec<SpeakerTurn>, join: Ms) -> Vec<SpeakerTurn> {
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
            Some(last)
                if last.speaker == speaker && Ms(last.span.end.0 + join.0) >= t.span.start =>
            {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(s: u64, e: u64, id: u32) -> SpeakerTurn {
        SpeakerTurn {
            span: Span::new(Ms(s), Ms(e)),
            speaker: SpeakerId(id),
        }
    }

    #[test]
    fn runs_of_one_label_join_across_short_gaps() {
        let runs = [
            (0, 100, 0),
            (100, 150, 1),
            (200, 400, 1), // 50-frame gap: joined
            (600, 700, 1), // 200-frame gap: a new stretch
            (700, 720, 0),
        ];
        let j = join_runs(&runs, 100);
        let spans: Vec<(usize, usize, usize, usize)> = j
            .iter()
            .map(|j| (j.start, j.end, j.speech, j.label))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 100, 100, 0),
                (100, 400, 250, 1),
                (600, 700, 100, 1),
                (700, 720, 20, 0)
            ]
        );
    }

    #[test]
    fn numbering_by_appearance_joins_a_speakers_short_pauses() {
        // Labels as clustering left them: 7 speaks first, then 3.
        let turns = vec![
            turn(0, 1_000, 7),
            turn(1_800, 3_000, 7), // 0.8 s pause: same turn
            turn(3_000, 4_000, 3),
            turn(5_200, 6_000, 3), // 1.2 s pause: a new turn
            turn(6_500, 7_000, 7),
            turn(9_000, 9_500, 7), // 2 s pause: a new turn
        ];
        let out = number_by_appearance(turns, Ms(1000));
        assert_eq!(
            out,
            [
                turn(0, 3_000, 1),
                turn(3_000, 4_000, 2),
                turn(5_200, 6_000, 2),
                turn(6_500, 7_000, 1),
                turn(9_000, 9_500, 1)
            ]
        );
    }

    #[test]
    fn window_starts_cover_the_region() {
        let w: Vec<_> = window_starts(400, 160, 80).collect();
        assert_eq!(w, [(0, 160), (80, 160), (160, 160), (240, 160)]);
        let w: Vec<_> = window_starts(100, 160, 80).collect();
        assert_eq!(w, [(0, 100)]);
    }

    #[test]
    fn settings_are_checked() {
        assert!(DiarizeConfig::default().validate().is_ok());
        let bad = |c: DiarizeConfig| c.validate().is_err();
        assert!(bad(DiarizeConfig {
            threshold: 0.0,
            ..DiarizeConfig::default()
        }));
        assert!(bad(DiarizeConfig {
            threshold: 2.0,
            ..DiarizeConfig::default()
        }));
        assert!(bad(DiarizeConfig {
            speakers: Some(4),
            max_speakers: Some(3),
            ..DiarizeConfig::default()
        }));
    }
}
