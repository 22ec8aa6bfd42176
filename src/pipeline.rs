//! The only place that knows the stage order: [`run_file`] takes one recording through
//! audio → VAD → ASR → speaker attribution → minutes → exports and reports an [`Outcome`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::asr::{AsrConfig, AsrError, Transcriber};
use crate::audio::{AudioError, AudioInfo};
use crate::export::Format;
use crate::minutes::{Meeting, MeetingSheet, MinutesConfig};
use crate::output::{write_atomic, OutputError};
use crate::types::{AsrSegment, Progress, Transcript, Utterance, UNKNOWN_SPEAKER};
use crate::vad::{VadConfig, VadError};

/// Settings for every stage, one part each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub asr: AsrConfig,
    pub vad: VadConfig,
    pub minutes: MinutesConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{}: voice activity detection failed: {source}", path.display())]
    Vad { path: PathBuf, source: VadError },
    #[error("{}: {source}", path.display())]
    Asr { path: PathBuf, source: AsrError },
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl PipelineError {
    /// True when the user interrupted the run (not a fault of the input).
    pub fn is_interrupted(&self) -> bool {
        matches!(self, PipelineError::Asr { source: AsrError::Interrupted, .. })
    }
}

/// What stays fixed across the files of one run: the loaded model and settings.
pub struct Engine<'a> {
    pub transcriber: &'a mut dyn Transcriber,
    /// Silero VAD ggml file; `None` falls back to the energy detector.
    pub vad_model: Option<PathBuf>,
    pub config: Config,
    pub formats: Vec<Format>,
    pub force: bool,
}

/// One recording to draft.
pub struct Job<'a> {
    pub input: &'a Path,
    pub out_dir: &'a Path,
    pub sheet: Option<&'a MeetingSheet>,
}

/// Seconds spent per stage, for reports and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub decode: f64,
    pub vad: f64,
    pub asr: f64,
    pub total: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub audio: AudioInfo,
    pub segments: usize,
    pub timings: Timings,
}

/// The output path of `input` in `format` under `out_dir`.
pub fn output_path(input: &Path, out_dir: &Path, format: Format) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "out".into());
    let mut p = out_dir.join(stem);
    p.set_extension(format.extension());
    p
}

/// Draft the minutes of one recording and write every requested format.
pub fn run_file(engine: &mut Engine, job: &Job, progress: &dyn Progress) -> Result<Outcome, PipelineError> {
    let t0 = Instant::now();
    let outputs: Vec<(Format, PathBuf)> =
        engine.formats.iter().map(|&f| (f, output_path(job.input, job.out_dir, f))).collect();
    // Refuse before hours of recognition, not after.
    if !engine.force {
        if let Some((_, p)) = outputs.iter().find(|(_, p)| p.exists()) {
            return Err(OutputError::Exists { path: p.clone() }.into());
        }
    }

    progress.start("音声読み込み", 0);
    let (pcm, audio) = crate::audio::load(job.input)?;
    let t_decode = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let speech = match &engine.vad_model {
        Some(model) => crate::vad::detect(&pcm, model, &engine.config.vad)
            .map_err(|source| PipelineError::Vad { path: job.input.to_path_buf(), source })?,
        None => crate::vad::detect_energy(&pcm, &engine.config.vad),
    };
    let t_vad = t1.elapsed().as_secs_f64();
    tracing::info!(file = %job.input.display(), spans = speech.len(), "speech detected");

    let t2 = Instant::now();
    let segments = engine
        .transcriber
        .transcribe(&pcm, &speech, progress)
        .map_err(|source| PipelineError::Asr { path: job.input.to_path_buf(), source })?;
    let t_asr = t2.elapsed().as_secs_f64();

    let transcript = attribute_unknown(&segments, &pcm);
    let meeting = Meeting::resolve(job.sheet, file_time(job.input), pcm.duration());
    let minutes = crate::minutes::draft(&transcript, &meeting, &engine.config.minutes)
        .with_model(engine.transcriber.model_name());

    let mut written = Vec::new();
    for (format, path) in &outputs {
        write_atomic(path, engine.force, |w| crate::export::write(&minutes, &transcript, *format, w))?;
        written.push(path.clone());
    }
    Ok(Outcome {
        input: job.input.to_path_buf(),
        outputs: written,
        audio,
        segments: transcript.utterances.len(),
        timings: Timings { decode: t_decode, vad: t_vad, asr: t_asr, total: t0.elapsed().as_secs_f64() },
    })
}

/// Until speaker turns are known every segment is 発言者.
fn attribute_unknown(segments: &[AsrSegment], pcm: &crate::audio::Pcm16kMono) -> Transcript {
    Transcript {
        utterances: segments
            .iter()
            .map(|s| Utterance {
                span: s.span,
                speaker: UNKNOWN_SPEAKER.to_string(),
                text: s.text.clone(),
                confidence: s.confidence,
                tokens: s.tokens.clone(),
            })
            .collect(),
        duration: pcm.duration(),
    }
}

/// The file's modification time in local time: a recorder stops writing when the meeting ends.
fn file_time(path: &Path) -> Option<chrono::NaiveDateTime> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(chrono::DateTime::<chrono::Local>::from(modified).naive_local())
}
