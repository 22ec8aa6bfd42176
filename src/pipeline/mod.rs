//! The only place that knows the stage order: [`run_file`] takes one recording through
//! audio → VAD → diarization → ASR → speaker attribution → minutes → exports and reports an
//! [`Outcome`]. The block loop with the speaker models beside the recogniser is in
//! [`blocks`], renaming speakers in finished outputs in [`relabel()`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

mod blocks;
mod load;
mod relabel;
pub mod stream;

pub use load::{display_name, LoadError, Models, Needs};
pub(crate) use relabel::set_voice;
pub use relabel::{parse_relabels, relabel, RelabelError};
pub use stream::StreamConfig;

use crate::asr::{AsrConfig, AsrError, Transcriber};
use crate::audio::{AudioError, AudioInfo};
use crate::diarize::{DiarizeConfig, DiarizeError, SpeakerModels};
use crate::export::{Format, Template};
use crate::minutes::{Meeting, MeetingSheet, MinutesConfig};
use crate::output::{write_atomic, OutputError};
use crate::types::Progress;
use crate::vad::{VadConfig, VadError};
use stream::StreamError;

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

/// Time spent per stage, for reports and the benchmark (written as seconds: the batch
/// report's and `--json`'s format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    #[serde(with = "crate::types::serde_secs")]
    pub decode: Duration,
    #[serde(with = "crate::types::serde_secs")]
    pub vad: Duration,
    #[serde(with = "crate::types::serde_secs")]
    pub diarize: Duration,
    #[serde(with = "crate::types::serde_secs")]
    pub asr: Duration,
    #[serde(with = "crate::types::serde_secs")]
    pub total: Duration,
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
    let outputs = planned_outputs(engine, job)?;
    let heard = blocks::recognise(engine, job, progress)?;
    let (minutes, transcript) = draft_minutes(engine, job, &heard);
    let written = write_outputs(engine, &outputs, &minutes, &transcript)?;
    Ok(Outcome {
        input: job.input.to_path_buf(),
        outputs: written,
        audio: heard.audio,
        segments: transcript.utterances.len(),
        speakers: heard.speakers,
        timings: Timings {
            total: t0.elapsed(),
            ..heard.timings
        },
    })
}

/// Where each format goes; refused before hours of recognition, not after, when one exists
/// (without `force`) or cannot be written.
fn planned_outputs(engine: &Engine, job: &Job) -> Result<Vec<(Format, PathBuf)>, PipelineError> {
    let outputs: Vec<(Format, PathBuf)> = engine
        .formats
        .iter()
        .map(|&f| (f, output_path(job.input, job.out_dir, f)))
        .collect();
    if !engine.force {
        if let Some((_, p)) = outputs.iter().find(|(_, p)| p.exists()) {
            return Err(OutputError::Exists { path: p.clone() }.into());
        }
    }
    for (_, p) in &outputs {
        crate::output::check_writable(p)?;
    }
    Ok(outputs)
}

/// Text to speakers, clean-up, names from the sheet and the chair's calls, the minutes.
fn draft_minutes(
    engine: &Engine,
    job: &Job,
    heard: &blocks::Heard,
) -> (crate::minutes::Minutes, crate::types::Transcript) {
    let duration = heard.audio.duration;
    let mut transcript = crate::align::attribute(&heard.segments, &heard.turns);
    transcript.duration = duration;
    crate::minutes::clean::apply(&mut transcript, &engine.config.minutes.clean);
    let naming = crate::naming::name_speakers(&transcript, job.sheet, engine.readings);
    naming.apply_moves(&mut transcript);
    let mut meeting = Meeting::resolve(job.sheet, file_time(job.input), duration);
    for (label, name) in naming.names() {
        meeting.speaker_names.entry(label).or_insert(name);
    }
    let minutes = crate::minutes::draft(&transcript, &meeting, &engine.config.minutes)
        .with_model(engine.transcriber.model_name())
        .with_voices(naming.voices)
        .with_markers(markers_of(job.input))
        .with_source(source_of(job.input, duration));
    (minutes, transcript)
}

/// Renders every format first (a failing one leaves no output of this file behind), then
/// writes them; all of a recording's outputs or none.
fn write_outputs(
    engine: &Engine,
    outputs: &[(Format, PathBuf)],
    minutes: &crate::minutes::Minutes,
    transcript: &crate::types::Transcript,
) -> Result<Vec<PathBuf>, PipelineError> {
    let mut rendered = Vec::with_capacity(outputs.len());
    for (format, path) in outputs {
        let mut bytes = Vec::new();
        crate::export::write_with(minutes, transcript, *format, &engine.template, &mut bytes)
            .map_err(|e| OutputError::Content {
                path: path.clone(),
                source: Box::new(e),
            })?;
        rendered.push((path, bytes));
    }
    let mut written: Vec<PathBuf> = Vec::new();
    for (path, bytes) in rendered {
        if let Err(e) = write_atomic(path, engine.force, |w| w.write_all(&bytes)) {
            // A later failure (disk full) removes the ones just written, unless they
            // replaced earlier files.
            if !engine.force {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
            }
            return Err(e.into());
        }
        written.push(path.clone());
    }
    Ok(written)
}

/// The file's modification time in local time: a recorder stops writing when the meeting ends.
fn file_time(path: &Path) -> Option<chrono::NaiveDateTime> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(chrono::DateTime::<chrono::Local>::from(modified).naive_local())
}

/// The recording's path and checksum for the JSON; a file that cannot be read again (it
/// was just decoded) only loses the review page's check.
fn source_of(input: &Path, duration: crate::types::Ms) -> Option<crate::types::AudioSource> {
    crate::types::AudioSource::of(input, duration)
        .map_err(|e| tracing::warn!(file = %input.display(), error = %e, "cannot checksum the recording"))
        .ok()
}

/// The markers `gijiroku record` left beside `input`, if any. An unreadable sidecar costs
/// the markers, never the minutes.
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

/// `run_file` and `relabel` with a fake recogniser: the pipeline's own logic (blocks,
/// outputs, refusals, interrupts, renaming) in milliseconds, without models.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::Transcriber;
    use crate::audio::Pcm16kMono;
    use crate::types::{AsrSegment, AsrToken, Ms, Span};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// One segment per speech span, numbered; optionally fails as interrupted.
    struct Fake {
        calls: AtomicUsize,
        interrupted: bool,
        said: std::cell::Cell<usize>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                calls: AtomicUsize::new(0),
                interrupted: false,
                said: std::cell::Cell::new(0),
            }
        }
    }

    impl Transcriber for Fake {
        fn transcribe(
            &mut self,
            _pcm: &Pcm16kMono,
            speech: &[Span],
            _progress: &dyn Progress,
        ) -> Result<Vec<AsrSegment>, AsrError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.interrupted {
                return Err(AsrError::Interrupted);
            }
            Ok(speech
                .iter()
                .map(|s| {
                    let n = self.said.get() + 1;
                    self.said.set(n);
                    let text = format!("第{n}の発言です。");
                    AsrSegment {
                        span: *s,
                        text: text.clone(),
                        confidence: 0.9,
                        no_speech_prob: 0.0,
                        tokens: vec![AsrToken {
                            text,
                            start: s.start,
                            end: s.end,
                            p: 0.9,
                        }],
                    }
                })
                .collect())
        }

        fn model_name(&self) -> &str {
            "fake"
        }
    }

    /// 16 kHz mono: three 1.5 s bursts of a 440 Hz tone, 3 s of silence between.
    fn recording(dir: &Path) -> PathBuf {
        let path = dir.join("会議.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..3 {
            for _ in 0..48_000 {
                w.write_sample(0i16).unwrap();
            }
            for i in 0..24_000 {
                let x = (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin();
                w.write_sample((x * 8_000.0) as i16).unwrap();
            }
        }
        for _ in 0..16_000 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        path
    }

    /// The recording drafted beside itself, without a sheet.
    fn job_in<'a>(wav: &'a Path, dir: &'a Path) -> Job<'a> {
        Job {
            input: wav,
            out_dir: dir,
            sheet: None,
        }
    }

    fn engine<'a>(fake: &'a mut Fake, force: bool) -> Engine<'a> {
        Engine {
            transcriber: fake,
            vad_model: None,
            speakers: None,
            readings: None,
            config: Config::default(),
            formats: vec![Format::Json, Format::Txt, Format::Docx],
            template: Template::Kaigiroku,
            force,
        }
    }

    #[test]
    fn run_file_drafts_every_format_from_the_spans() {
        let dir = tempfile::tempdir().unwrap();
        let wav = recording(dir.path());
        let mut fake = Fake::new();
        let job = job_in(&wav, dir.path());
        let out = run_file(&mut engine(&mut fake, false), &job, &Forward::default()).unwrap();
        assert_eq!(out.outputs.len(), 3);
        assert_eq!(out.segments, 3, "one utterance per burst");
        assert_eq!(out.audio.duration, Ms(14_500));
        let doc: crate::export::JsonDocument =
            serde_json::from_slice(&std::fs::read(dir.path().join("会議.json")).unwrap()).unwrap();
        let texts: Vec<&str> = doc.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            ["第1の発言です。", "第2の発言です。", "第3の発言です。"]
        );
        assert!(doc.segments.iter().all(|s| s.speaker == "発言者"));
        assert_eq!(doc.model, "fake");
        // The recording is named for the review page.
        let src = doc.audio.unwrap();
        assert_eq!(src.bytes, std::fs::metadata(&wav).unwrap().len());
        assert_eq!(
            src.sha256,
            crate::types::file_sha256(&wav).unwrap().1,
            "checksum of the file as it is"
        );
        let txt = std::fs::read_to_string(dir.path().join("会議.txt")).unwrap();
        assert!(txt.contains("第2の発言です。"));
    }

    #[test]
    fn existing_outputs_are_refused_before_any_recognition() {
        let dir = tempfile::tempdir().unwrap();
        let wav = recording(dir.path());
        std::fs::write(dir.path().join("会議.txt"), "前の版").unwrap();
        let mut fake = Fake::new();
        let job = job_in(&wav, dir.path());
        let err = run_file(&mut engine(&mut fake, false), &job, &Forward::default()).unwrap_err();
        assert!(matches!(
            err,
            PipelineError::Output(OutputError::Exists { .. })
        ));
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("会議.txt")).unwrap(),
            "前の版"
        );
        assert!(!dir.path().join("会議.json").exists());
        // With force it is replaced.
        run_file(&mut engine(&mut fake, true), &job, &Forward::default()).unwrap();
        assert!(std::fs::read_to_string(dir.path().join("会議.txt"))
            .unwrap()
            .contains("第1の発言です。"));
    }

    #[test]
    fn an_interrupt_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wav = recording(dir.path());
        let mut fake = Fake::new();
        fake.interrupted = true;
        let job = job_in(&wav, dir.path());
        let err = run_file(&mut engine(&mut fake, false), &job, &Forward::default()).unwrap_err();
        assert!(err.is_interrupted());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the recording");
    }

    #[test]
    fn relabel_renames_in_every_output_beside_the_json() {
        let dir = tempfile::tempdir().unwrap();
        let wav = recording(dir.path());
        let mut fake = Fake::new();
        let job = job_in(&wav, dir.path());
        run_file(&mut engine(&mut fake, false), &job, &Forward::default()).unwrap();
        let json = dir.path().join("会議.json");
        let names = parse_relabels(&["発言者=説明員".to_string()]).unwrap();
        let written = relabel(&json, &names).unwrap();
        assert_eq!(written.len(), 3, "{written:?}");
        let txt = std::fs::read_to_string(dir.path().join("会議.txt")).unwrap();
        assert!(txt.contains("説明員"), "{txt}");
        assert!(matches!(
            relabel(&json, &[("話者9".into(), "委員長".into())]),
            Err(RelabelError::UnknownLabel { .. })
        ));
        assert!(parse_relabels(&["委員長".to_string()]).is_err());
    }

    /// Progress that checks it only moves forward on the recording's time line.
    #[derive(Default)]
    struct Forward(std::sync::Mutex<u64>);

    impl Progress for Forward {
        fn start(&self, _phase: &str, _total: u64) {
            *self.0.lock().unwrap() = 0;
        }
        fn set(&self, pos: u64) {
            let mut last = self.0.lock().unwrap();
            assert!(pos >= *last, "progress went back from {} to {pos}", *last);
            *last = pos;
        }
        fn finish(&self) {}
    }
}
