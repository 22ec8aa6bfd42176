//! Speaker diarization of mono recordings: who spoke when, overlaps included. The design is
//! pyannote 3.1's, run with the models it was built on or an equal:
//!
//! 1. **Local speakers** ([`local`]): pyannote segmentation-3.0 ([`seg`]) on 10 s windows
//!    every [`DiarizeConfig::step`] gives, per 16.9 ms frame, which of up to three "local"
//!    speakers of that window speak (powerset classes, so two at once is a class of its own).
//!    Each local speaker gets a CAM++ embedding ([`campp`], 3D-Speaker) of the frames where it
//!    speaks alone (Kaldi fbank, [`fbank()`]).
//! 2. **Speakers** ([`cluster`]): the embeddings of local speakers with enough clean speech
//!    are clustered (centroid linkage, cosine geometry) with a cannot-link between local
//!    speakers of one window; the count comes from the distance threshold (clusters too
//!    small to be a speaker merge with each other a little past it; a speaker must once
//!    speak alone for 6 s of a window), or is given (`--speakers`), or bounded
//!    (`--max-speakers`, the sheet's roster). Every local speaker is then assigned to a
//!    speaker, local speakers of one window to different ones.
//! 3. **Turns** ([`reconstruct`]): per frame, the windows covering it vote for speakers and
//!    for how many speak (the local count, averaged); the top ones win, so overlapping
//!    speech keeps both speakers.
//!
//! Windows are analysed block by block as the recording is read ([`Evidence::add`]); only
//! their small summaries (a byte per frame and a 192-d vector per local speaker, ~2 kB per
//! window) are kept until [`Evidence::turns`] clusters them, so memory stays bounded.
//! [`der()`] scores a result against a reference for tests and measurements.

mod campp;
mod cluster;
pub mod der;
mod fbank;
mod local;
mod matmul;
mod reconstruct;
mod scratch;
mod seg;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audio::Pcm16kMono;
use crate::types::{Ms, Progress, Span, SpeakerTurn};

pub use campp::CamppError;
pub use der::{der, parse_rttm, DerReport};
pub use seg::SegError;

use local::Chunk;

/// Step between segmentation windows. pyannote 3.1 uses 1 s (a tenth of the window); on the
/// development set a step of 2.5 s scored the same (see docs/diarization.md) at 40% of
/// the cost, which is what keeps diarization within a fifth of recognition time.
pub const DEFAULT_STEP: Ms = Ms(2_500);
/// Distance (between centroids of L2-normalised CAM++ embeddings) below which clusters
/// merge. Measured on the development set (docs/diarization.md): every count is right from
/// 0.48 to 0.53; 0.47 splits `samples/multi.wav` (7/6), 0.54 merges two of the committee's
/// members (5/6). The middle of that range.
pub const DEFAULT_THRESHOLD: f32 = 0.51;
/// A speaker needs clean embeddings covering at least this much of the recording's
/// windows (pyannote: 12 windows at its 1 s step); smaller clusters go to the nearest
/// large one. Scaled with the step so the meaning stays "seconds of windows".
pub const DEFAULT_MIN_SPEAKER: Ms = Ms(12_000);

/// Everything that can go wrong while loading the speaker models or diarizing.
#[derive(Debug, thiserror::Error)]
pub enum DiarizeError {
    #[error("cannot read speaker model {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("speaker segmentation model {} cannot be loaded", path.display())]
    SegModel {
        path: PathBuf,
        #[source]
        source: Box<SegError>,
    },
    #[error("speaker embedding model {} cannot be loaded", path.display())]
    EmbedModel {
        path: PathBuf,
        #[source]
        source: Box<CamppError>,
    },
    #[error("speaker segmentation failed")]
    Segment(#[source] Box<SegError>),
    #[error("speaker embedding failed")]
    Embed(#[source] Box<CamppError>),
    #[error("cannot start the diarization threads")]
    Threads(#[source] rayon::ThreadPoolBuildError),
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
    /// Step between 10 s segmentation windows.
    pub step: Ms,
    /// Centroid distance below which two groups of speech are one speaker; higher finds
    /// fewer speakers.
    pub threshold: f32,
    /// Windows' worth of clean speech a speaker needs to count as one.
    pub min_speaker: Ms,
    /// Worker threads for the models; all cores when unset.
    pub threads: Option<usize>,
}

impl Default for DiarizeConfig {
    fn default() -> Self {
        DiarizeConfig {
            speakers: None,
            max_speakers: None,
            step: DEFAULT_STEP,
            threshold: DEFAULT_THRESHOLD,
            min_speaker: DEFAULT_MIN_SPEAKER,
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
        if !(Ms(250)..=Ms(10_000)).contains(&self.step) {
            return bad(
                "step",
                format!("{} ms", self.step.0),
                "must be 250..=10000 ms",
            );
        }
        if !(self.threshold > 0.0 && self.threshold < 2.0) {
            return bad(
                "threshold",
                self.threshold.to_string(),
                "distance between unit vectors must be in (0, 2)",
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

    /// The step in whole segmentation frames (windows then share one frame grid).
    fn step_frames(&self) -> usize {
        let samples = self.step.to_samples(crate::audio::SAMPLE_RATE);
        (samples as f64 / seg::FRAME_STEP as f64).round().max(1.0) as usize
    }

    /// Length of the pieces runs are embedded in: a whole number of steps (so window edges
    /// fall on piece edges and an earlier window's pieces are met again), near
    /// [`EMBED_PIECE`].
    fn tile_frames(&self) -> usize {
        let steps = (EMBED_PIECE.0 as f64 / self.step.0 as f64).round().max(1.0);
        self.step_frames() * steps as usize
    }
}

/// Target length of the pieces a local speaker's speech is embedded in (CAM++ was trained
/// on clips of a few seconds; 3D-Speaker's own diarization embeds 1.5 s).
const EMBED_PIECE: Ms = Ms(2_500);

/// The two speaker models, loaded once per run.
pub struct SpeakerModels {
    seg: seg::Segmentation,
    campp: campp::CamPlus,
}

impl SpeakerModels {
    /// Loads segmentation-3.0 and CAM++ from the safetensors files `models install` wrote.
    pub fn load(seg_path: &Path, campp_path: &Path) -> Result<SpeakerModels, DiarizeError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| DiarizeError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let seg = seg::Segmentation::from_safetensors(&read(seg_path)?).map_err(|source| {
            DiarizeError::SegModel {
                path: seg_path.to_path_buf(),
                source: Box::new(source),
            }
        })?;
        let campp = campp::CamPlus::from_safetensors(&read(campp_path)?).map_err(|source| {
            DiarizeError::EmbedModel {
                path: campp_path.to_path_buf(),
                source: Box::new(source),
            }
        })?;
        Ok(SpeakerModels { seg, campp })
    }

    /// Segmentation-3.0 on windows of at most 10 s (shorter ones are padded with silence):
    /// per window 589 frames × 7 powerset log-probabilities (class 0 nobody, 1–3 one of the
    /// window's three speakers, 4–6 two of them), window after window.
    pub fn segment(&self, windows: &[&[f32]]) -> Result<Vec<f32>, DiarizeError> {
        self.seg
            .forward(windows)
            .map_err(|e| DiarizeError::Segment(Box::new(e)))
    }

    /// The CAM++ embedding (192 values, not normalised) of a clip of 16 kHz audio: Kaldi
    /// fbank, mean-normalised over the clip, as 3D-Speaker computes it.
    pub fn embed(&self, samples: &[f32]) -> Result<Vec<f32>, DiarizeError> {
        if samples.iter().any(|x| !x.is_finite()) {
            let e = CamppError::Input("audio holds a non-finite sample".into());
            return Err(DiarizeError::Embed(Box::new(e)));
        }
        let mut fb = fbank::fbank(samples);
        campp::cmn(&mut fb.data, fb.frames);
        self.campp
            .embed(&fb.data, fb.frames)
            .map(|e| e.to_vec())
            .map_err(|e| DiarizeError::Embed(Box::new(e)))
    }
}

/// Kaldi-compatible log-mel filterbank of 16 kHz audio in [-1, 1): `(frames, frames × 80)`
/// (25 ms frames every 10 ms, povey window, 80 bins from 20 Hz, no dither).
pub fn fbank(samples: &[f32]) -> (usize, Vec<f32>) {
    let fb = fbank::fbank(samples);
    (fb.frames, fb.data)
}

/// Diarizes the whole of `pcm` (whose speech spans are `speech`). Turns are sorted by
/// start, may overlap where two people speak at once, and are numbered from `SpeakerId(1)`
/// in order of first appearance.
pub fn run(
    pcm: &Pcm16kMono,
    speech: &[Span],
    models: &SpeakerModels,
    cfg: &DiarizeConfig,
    progress: &dyn Progress,
) -> Result<Vec<SpeakerTurn>, DiarizeError> {
    let mut evidence = Evidence::new(cfg)?;
    evidence.add(pcm, Ms(0), speech, models, progress)?;
    let turns = evidence.turns(models);
    progress.finish();
    turns
}

/// Speaker evidence gathered block by block of a recording; [`Evidence::turns`] then finds
/// the speakers over all of it.
pub struct Evidence {
    cfg: DiarizeConfig,
    step_frames: usize,
    pool: rayon::ThreadPool,
    /// Audio not yet covered by a finished window, starting at sample `buf_start`.
    buf: Vec<f32>,
    buf_start: usize,
    /// Samples added so far.
    total: usize,
    /// Index of the next window to analyse (window `k` starts at `k × step`).
    next: usize,
    /// Speech spans of the recording in samples (windows without speech are not analysed).
    speech: Vec<(usize, usize)>,
    chunks: Vec<Chunk>,
    cache: local::RunCache,
    /// Set when the evidence is no longer wanted (recognition failed or was interrupted).
    stop: Option<Arc<AtomicBool>>,
}

/// Windows analysed per model call: batches the segmentation LSTM over windows (several
/// times faster per window than one at a time). 4 rather than 8: the same speed within the
/// noise and ~17 MB less held at the peak (588 against 606 MB end to end on `dominated`).
const BATCH: usize = 4;

impl Evidence {
    pub fn new(cfg: &DiarizeConfig) -> Result<Evidence, DiarizeError> {
        cfg.validate()?;
        let threads = cfg
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("diarize-{i}"))
            .build()
            .map_err(DiarizeError::Threads)?;
        Ok(Evidence {
            cfg: cfg.clone(),
            step_frames: cfg.step_frames(),
            pool,
            buf: Vec::new(),
            buf_start: 0,
            total: 0,
            next: 0,
            speech: Vec::new(),
            chunks: Vec::new(),
            cache: local::RunCache::default(),
            stop: None,
        })
    }

    /// Gives up adding (the evidence is then incomplete) as soon as `stop` is set.
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Evidence {
        self.stop = Some(stop);
        self
    }

    fn step_samples(&self) -> usize {
        self.step_frames * seg::FRAME_STEP
    }

    /// Adds the block `pcm`, which starts `offset` into the recording, with its `speech`
    /// spans (relative to the block). Blocks come in order and without gaps.
    pub fn add(
        &mut self,
        pcm: &Pcm16kMono,
        offset: Ms,
        speech: &[Span],
        models: &SpeakerModels,
        progress: &dyn Progress,
    ) -> Result<(), DiarizeError> {
        let at = offset.to_samples(crate::audio::SAMPLE_RATE);
        // A gap (never made by the pipeline) is silence; an overlap re-uses what is held.
        if at > self.total {
            self.buf.resize(self.buf.len() + (at - self.total), 0.0);
            self.total = at;
        }
        let skip = self.total - at;
        let samples = pcm.samples().get(skip..).unwrap_or(&[]);
        self.buf.extend_from_slice(samples);
        self.total += samples.len();
        for s in speech {
            let (a, b) = (
                at + s.start.to_samples(crate::audio::SAMPLE_RATE),
                at + s.end.to_samples(crate::audio::SAMPLE_RATE),
            );
            match self.speech.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => self.speech.push((a, b)),
            }
        }
        let step = self.step_samples();
        let ready = |next: usize, total: usize| next * step + seg::WINDOW_SAMPLES <= total;
        while ready(self.next, self.total) {
            if self.stopped() {
                return Ok(());
            }
            let mut ks = Vec::with_capacity(BATCH);
            while ks.len() < BATCH && ready(self.next, self.total) {
                ks.push(self.next);
                self.next += 1;
            }
            self.analyse(&ks, models)?;
            progress.set(Ms::from_samples(self.next * step, crate::audio::SAMPLE_RATE).0);
        }
        self.drop_consumed();
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Forgets audio before the next window's start.
    fn drop_consumed(&mut self) {
        let keep_from = (self.next * self.step_samples()).min(self.total);
        if keep_from > self.buf_start {
            self.buf.drain(..keep_from - self.buf_start);
            self.buf_start = keep_from;
        }
    }

    /// Analyses windows `ks` (their audio is in the buffer; the last ones may run past the
    /// end of the recording and are padded with silence by the model).
    fn analyse(&mut self, ks: &[usize], models: &SpeakerModels) -> Result<(), DiarizeError> {
        let step = self.step_samples();
        let mut todo: Vec<(usize, &[f32])> = Vec::with_capacity(ks.len());
        for &k in ks {
            let start = k * step;
            let end = start + seg::WINDOW_SAMPLES;
            if !self.has_speech(start, end) {
                self.chunks.push(Chunk::silent(k * self.step_frames));
                continue;
            }
            let from = start - self.buf_start;
            let to = (end - self.buf_start).min(self.buf.len());
            todo.push((k * self.step_frames, &self.buf[from..to]));
        }
        if todo.is_empty() {
            return Ok(());
        }
        let tile = self.cfg.tile_frames();
        let chunks = self.pool.install(|| {
            let chunks = local::analyse(&models.seg, &models.campp, &todo, tile, &mut self.cache);
            scratch::release();
            chunks
        })?;
        self.chunks.extend(chunks);
        self.chunks.sort_by_key(|c| c.first);
        Ok(())
    }

    fn has_speech(&self, start: usize, end: usize) -> bool {
        // Spans are sorted and disjoint: the first one ending after `start` decides.
        let i = self.speech.partition_point(|s| s.1 <= start);
        self.speech.get(i).is_some_and(|s| s.0 < end)
    }

    /// The speaker turns of everything added.
    pub fn turns(self, models: &SpeakerModels) -> Result<Vec<SpeakerTurn>, DiarizeError> {
        let cfg = self.cfg.clone();
        let mut all = self.turns_for(models, std::slice::from_ref(&cfg))?;
        Ok(all.pop().unwrap_or_default())
    }

    /// The speaker turns of everything added under each of `cfgs` (their clustering
    /// settings: threshold, counts, minimum speaker), from one analysis of the audio; for
    /// tuning (`examples/diarize --threshold a,b,c`).
    pub fn turns_for(
        mut self,
        models: &SpeakerModels,
        cfgs: &[DiarizeConfig],
    ) -> Result<Vec<Vec<SpeakerTurn>>, DiarizeError> {
        if self.stopped() || self.total == 0 {
            return Ok(vec![Vec::new(); cfgs.len()]);
        }
        // The windows not yet analysed reach past the end (padded with silence); take those
        // that are at least half recording, and always the first, so every frame is covered.
        let step = self.step_samples();
        let mut rest = vec![self.next];
        let mut k = self.next + 1;
        while k * step + seg::WINDOW_SAMPLES / 2 < self.total {
            rest.push(k);
            k += 1;
        }
        for ks in rest.chunks(BATCH) {
            self.analyse(ks, models)?;
        }
        let total_frames = self.total.div_ceil(seg::FRAME_STEP);
        cfgs.iter()
            .map(|cfg| {
                cfg.validate()?;
                let assignment = cluster::speakers(&self.chunks, cfg, self.step_frames);
                Ok(reconstruct::turns(
                    &self.chunks,
                    &assignment,
                    total_frames,
                    Ms::from_samples(self.total, crate::audio::SAMPLE_RATE),
                ))
            })
            .collect()
    }
}
