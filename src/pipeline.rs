//! The only place that knows the stage order: [`run_file`] takes one recording through
//! audio → VAD → diarization → ASR → speaker attribution → minutes → exports and reports an
//! [`Outcome`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::asr::{AsrConfig, AsrError, Transcriber};
use crate::audio::{AudioError, AudioInfo};
use crate::diarize::{DiarizeConfig, DiarizeError, Evidence, SpeakerModels};
use crate::export::{Format, Template};
use crate::minutes::{Meeting, MeetingSheet, MinutesConfig};
use crate::output::{write_atomic, OutputError};
use crate::stream::{Blocks, StreamConfig, StreamError};
use crate::types::{AsrSegment, NoProgress, Progress, SpeakerTurn};
use crate::vad::{Detector, VadConfig, VadError};

/// Settings for every stage, one part each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub asr: AsrConfig,
    pub vad: VadConfig,
    pub diarize: DiarizeConfig,
    pub minutes: MinutesConfig,
    pub stream: StreamConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{}: voice activity detection failed: {source}", path.display())]
    Vad { path: PathBuf, source: VadError },
    #[error("{}: speaker diarization failed: {source}", path.display())]
    Diarize { path: PathBuf, source: DiarizeError },
    #[error("{}: {source}", path.display())]
    Asr { path: PathBuf, source: AsrError },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: invalid settings: {source}", path.display())]
    Config { path: PathBuf, source: StreamError },
}

impl PipelineError {
    /// True when the user interrupted the run (not a fault of the input).
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            PipelineError::Asr {
                source: AsrError::Interrupted,
                ..
            }
        )
    }
}

/// What stays fixed across the files of one run: the loaded model and settings.
pub struct Engine<'a> {
    pub transcriber: &'a mut dyn Transcriber,
    /// Silero VAD ggml file; `None` falls back to the energy detector.
    pub vad_model: Option<PathBuf>,
    /// Speaker models; `None` leaves every turn to 発言者.
    pub speakers: Option<&'a SpeakerModels>,
    /// Readings for matching the chair's calls to the sheet's names by sound.
    pub readings: Option<&'a crate::naming::Readings>,
    pub config: Config,
    pub formats: Vec<Format>,
    /// Layout of the DOCX output (会議録, 復命書, 要旨 or the user's form).
    pub template: Template,
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
    pub diarize: f64,
    pub asr: f64,
    pub total: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub audio: AudioInfo,
    pub segments: usize,
    /// Distinct speakers found (0 when diarization was off).
    pub speakers: usize,
    pub timings: Timings,
}

pub use crate::batch::output_path;

/// Draft the minutes of one recording and write every requested format.
pub fn run_file(
    engine: &mut Engine,
    job: &Job,
    progress: &dyn Progress,
) -> Result<Outcome, PipelineError> {
    let t0 = Instant::now();
    let outputs: Vec<(Format, PathBuf)> = engine
        .formats
        .iter()
        .map(|&f| (f, output_path(job.input, job.out_dir, f)))
        .collect();
    // Refuse before hours of recognition, not after.
    if !engine.force {
        if let Some((_, p)) = outputs.iter().find(|(_, p)| p.exists()) {
            return Err(OutputError::Exists { path: p.clone() }.into());
        }
    }
    for (_, p) in &outputs {
        crate::output::check_writable(p)?;
    }

    let reader = crate::audio::Reader::open(job.input)?;
    let vad_err = |source| PipelineError::Vad {
        path: job.input.to_path_buf(),
        source,
    };
    let detector = match &engine.vad_model {
        Some(model) => Detector::silero(model, &engine.config.vad),
        None => Detector::energy(&engine.config.vad),
    }
    .map_err(vad_err)?;
    let mut blocks = Blocks::new(reader, detector, &engine.config.stream)
        .map_err(|e| stream_err(job.input, e))?;
    let mut diarize_cfg = diarize_config(&engine.config.diarize, job.sheet);
    // The speaker models work beside the recogniser (below): one thread, not all cores.
    diarize_cfg.threads.get_or_insert(1);
    // Tells the speaker models beside the recogniser to give up (Ctrl-C, a failed decode).
    let asr_failed = Arc::new(AtomicBool::new(false));
    let mut evidence = match engine.speakers {
        Some(_) => Some(
            Evidence::new(&diarize_cfg)
                .map_err(|source| PipelineError::Diarize {
                    path: job.input.to_path_buf(),
                    source,
                })?
                .stop_on(Arc::clone(&asr_failed)),
        ),
        None => None,
    };

    // Block by block: speech spans, speaker evidence, text. Only the transcript and the
    // speaker evidence grow with the recording.
    let total = blocks.duration_hint().unwrap_or_default();
    progress.start("文字起こし", total.0);
    let (mut t_read, mut t_diarize, mut t_asr) = (0.0, 0.0, 0.0);
    let mut spans = 0;
    let mut segments: Vec<AsrSegment> = Vec::new();
    loop {
        let t = Instant::now();
        let Some(block) = blocks.next_block().map_err(|e| stream_err(job.input, e))? else {
            break;
        };
        t_read += t.elapsed().as_secs_f64();
        spans += block.speech.len();
        // Logged before this block's recognition starts (tests time Ctrl-C by it).
        tracing::info!(file = %job.input.display(), at = %block.offset, spans = block.speech.len(), "speech detected");
        let within = Within {
            inner: progress,
            base: block.offset.0,
        };
        let transcriber = &mut *engine.transcriber;
        // Speaker evidence runs beside the recognition of the same block: whisper.cpp's
        // threads leave a core idle part of the time (between decoder steps), which the
        // one-thread speaker models fill.
        let (segs, asr_secs, diarized) = std::thread::scope(|scope| {
            let side = match (evidence.as_mut(), engine.speakers) {
                (Some(ev), Some(models)) => {
                    let block = &block;
                    Some(scope.spawn(move || {
                        let t = Instant::now();
                        let added =
                            ev.add(&block.pcm, block.offset, &block.speech, models, &NoProgress);
                        added.map(|()| t.elapsed().as_secs_f64())
                    }))
                }
                _ => None,
            };
            let t = Instant::now();
            let segs = transcriber.transcribe(&block.pcm, &block.speech, &within);
            let asr_secs = t.elapsed().as_secs_f64();
            if segs.is_err() {
                asr_failed.store(true, Ordering::Relaxed);
            }
            let diarized = side.map_or(Ok(0.0), |h| {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
            });
            (segs, asr_secs, diarized)
        });
        t_diarize += diarized.map_err(|source| PipelineError::Diarize {
            path: job.input.to_path_buf(),
            source,
        })?;
        t_asr += asr_secs;
        let segs = segs.map_err(|source| PipelineError::Asr {
            path: job.input.to_path_buf(),
            source,
        })?;
        segments.extend(segs.into_iter().map(|s| s.shifted(block.offset)));
    }
    let audio = blocks.info();
    let t_vad = blocks.vad_time().as_secs_f64();
    let t_decode = t_read - t_vad;
    tracing::info!(file = %job.input.display(), spans, "recording read");

    let t = Instant::now();
    let turns: Vec<SpeakerTurn> = match (evidence, engine.speakers) {
        (Some(ev), Some(models)) => ev.turns(models).map_err(|source| PipelineError::Diarize {
            path: job.input.to_path_buf(),
            source,
        })?,
        _ => Vec::new(),
    };
    t_diarize += t.elapsed().as_secs_f64();
    progress.set(audio.duration.0.max(total.0));
    progress.finish();
    let speakers = turns
        .iter()
        .map(|t| t.speaker)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    tracing::info!(file = %job.input.display(), speakers, turns = turns.len(), "speakers found");

    let mut transcript = crate::align::attribute(&segments, &turns, &|id| id.to_string());
    transcript.duration = audio.duration;
    crate::minutes::clean::apply(&mut transcript, &engine.config.minutes.clean);
    let naming = crate::naming::name_speakers(&transcript, job.sheet, engine.readings);
    naming.apply_moves(&mut transcript);
    let mut meeting = Meeting::resolve(job.sheet, file_time(job.input), audio.duration);
    for (label, name) in naming.names() {
        meeting.speaker_names.entry(label).or_insert(name);
    }
    let minutes = crate::minutes::draft(&transcript, &meeting, &engine.config.minutes)
        .with_model(engine.transcriber.model_name())
        .with_voices(naming.voices)
        .with_markers(markers_of(job.input))
        .with_source(source_of(job.input, audio.duration));

    // Render everything first: a failing format leaves no output of this file behind.
    let mut rendered = Vec::with_capacity(outputs.len());
    for (format, path) in &outputs {
        let mut bytes = Vec::new();
        crate::export::write_with(&minutes, &transcript, *format, &engine.template, &mut bytes)
            .map_err(|e| OutputError::Content {
                path: path.clone(),
                source: Box::new(e),
            })?;
        rendered.push((path, bytes));
    }
    let mut written: Vec<PathBuf> = Vec::new();
    for (path, bytes) in rendered {
        if let Err(e) = write_atomic(path, engine.force, |w| w.write_all(&bytes)) {
            // All of a recording's outputs or none: a later failure (disk full) removes
            // the ones just written, unless they replaced earlier files.
            if !engine.force {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
            }
            return Err(e.into());
        }
        written.push(path.clone());
    }
    Ok(Outcome {
        input: job.input.to_path_buf(),
        outputs: written,
        audio,
        segments: transcript.utterances.len(),
        speakers,
        timings: Timings {
            decode: t_decode,
            vad: t_vad,
            diarize: t_diarize,
            asr: t_asr,
            total: t0.elapsed().as_secs_f64(),
        },
    })
}

fn stream_err(path: &Path, e: StreamError) -> PipelineError {
    match e {
        StreamError::Audio(e) => e.into(),
        StreamError::Vad(source) => PipelineError::Vad {
            path: path.to_path_buf(),
            source,
        },
        e @ StreamError::Block(_) => PipelineError::Config {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// A stage's progress within one block, shown on the recording's time line.
struct Within<'a> {
    inner: &'a dyn Progress,
    base: u64,
}

impl Progress for Within<'_> {
    fn start(&self, _phase: &str, _total: u64) {}
    fn set(&self, pos: u64) {
        self.inner.set(self.base + pos);
    }
    fn finish(&self) {}
}

/// The sheet's list of people who may speak bounds the speaker count unless the user set
/// a count or bound.
fn diarize_config(cfg: &DiarizeConfig, sheet: Option<&MeetingSheet>) -> DiarizeConfig {
    let mut cfg = cfg.clone();
    if cfg.speakers.is_none() && cfg.max_speakers.is_none() {
        if let Some(sheet) = sheet {
            let people = sheet.attendees.len() + sheet.explainers.len() + sheet.secretariat.len();
            if people > 0 {
                cfg.max_speakers = Some(people);
            }
        }
    }
    cfg
}

/// The file's modification time in local time: a recorder stops writing when the meeting ends.
fn file_time(path: &Path) -> Option<chrono::NaiveDateTime> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(chrono::DateTime::<chrono::Local>::from(modified).naive_local())
}

/// The markers `gijiroku record` left beside `input`, if any. An unreadable sidecar costs
/// the markers, never the minutes.
/// The recording's path and checksum for the JSON; a file that cannot be read again (it
/// was just decoded) only loses the review page's check.
fn source_of(input: &Path, duration: crate::types::Ms) -> Option<crate::types::AudioSource> {
    crate::types::AudioSource::of(input, duration)
        .map_err(|e| tracing::warn!(file = %input.display(), error = %e, "cannot checksum the recording"))
        .ok()
}

fn markers_of(input: &Path) -> Vec<crate::types::Marker> {
    let path = crate::types::markers_path(input);
    if !path.is_file() {
        return Vec::new();
    }
    crate::types::read_markers(&path).unwrap_or_else(|e| {
        tracing::warn!(
            "{}: マーカーを読めません (markers ignored): {e}",
            path.display()
        );
        Vec::new()
    })
}

/// Records in `voices` that `label` is now called `name`, and how.
pub(crate) fn set_voice(
    voices: &mut Vec<crate::naming::Voice>,
    label: &str,
    name: &str,
    how: crate::naming::How,
) {
    match voices.iter_mut().find(|v| v.label == label) {
        Some(v) => {
            v.name = Some(name.to_string());
            v.how = how;
        }
        None => voices.push(crate::naming::Voice {
            label: label.to_string(),
            name: Some(name.to_string()),
            how,
            candidates: Vec::new(),
        }),
    }
}

/// Why a relabel could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RelabelError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: crate::export::ExportError,
    },
    #[error("`{given}`: expected LABEL=NAME, e.g. 話者1=委員長")]
    Syntax { given: String },
    #[error("{}: no speaker is labelled `{label}`; labels in this file: {known}", path.display())]
    UnknownLabel {
        path: PathBuf,
        label: String,
        known: String,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Parses `話者1=委員長` arguments into (label, name) pairs.
pub fn parse_relabels(args: &[String]) -> Result<Vec<(String, String)>, RelabelError> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((l, n)) if !l.trim().is_empty() => {
                Ok((l.trim().to_string(), n.trim().to_string()))
            }
            _ => Err(RelabelError::Syntax { given: a.clone() }),
        })
        .collect()
}

/// Renames speakers in a finished run without recognising again: reads `json` (our JSON
/// export), applies `names` (raw label such as 話者1, or a name already shown, → new name),
/// and rewrites the JSON and every sibling output of the same stem that exists (DOCX, txt,
/// srt, vtt, rttm). Returns the files rewritten.
pub fn relabel(json: &Path, names: &[(String, String)]) -> Result<Vec<PathBuf>, RelabelError> {
    let file = std::fs::File::open(json).map_err(|source| RelabelError::Read {
        path: json.to_path_buf(),
        source,
    })?;
    let doc = crate::export::read_json(std::io::BufReader::new(file)).map_err(|source| {
        RelabelError::Json {
            path: json.to_path_buf(),
            source,
        }
    })?;
    let transcript = doc.transcript();
    let mut meeting = doc.meeting.clone();
    let mut voices = doc.voices.clone();
    let labels: std::collections::BTreeSet<&str> = transcript
        .utterances
        .iter()
        .map(|u| u.speaker.as_str())
        .chain(doc.speaker_turns.iter().map(|t| t.speaker.as_str()))
        .collect();
    for (key, name) in names {
        // A key is a raw label, or the name a label is shown as now (委員長=議長).
        let targets: Vec<String> = if labels.contains(key.as_str()) {
            vec![key.clone()]
        } else {
            labels
                .iter()
                .filter(|l| meeting.display_name(l) == key)
                .map(|l| l.to_string())
                .collect()
        };
        if targets.is_empty() {
            return Err(RelabelError::UnknownLabel {
                path: json.to_path_buf(),
                label: key.clone(),
                known: labels
                    .iter()
                    .map(|l| match meeting.display_name(l) {
                        n if n == *l => l.to_string(),
                        n => format!("{l} ({n})"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        for t in targets {
            set_voice(&mut voices, &t, name, crate::naming::How::Relabel);
            meeting.speaker_names.insert(t, name.clone());
        }
    }
    let (minutes, transcript) = doc.redraft(&meeting);
    let minutes = minutes.with_voices(voices);
    let mut written = Vec::new();
    for format in Format::ALL {
        let path = json.with_extension(format.extension());
        if format != Format::Json && !path.is_file() {
            continue;
        }
        write_atomic(&path, true, |w| {
            crate::export::write(&minutes, &transcript, format, w)
        })?;
        written.push(path);
    }
    Ok(written)
}
