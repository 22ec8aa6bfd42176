//! The block loop: the recording in blocks cut at pauses ([`stream`](super::stream)), each
//! block's speech recognised while the speaker models gather evidence from the same block
//! on a side thread; then the speaker turns from all the evidence. Only the transcript and
//! the speaker evidence grow with the recording.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::stream::{Blocks, StreamError};
use super::{Engine, Job, PipelineError, Timings};
use crate::audio::AudioInfo;
use crate::diarize::{DiarizeConfig, Evidence};
use crate::minutes::MeetingSheet;
use crate::types::{AsrSegment, NoProgress, Progress, SpeakerTurn};
use crate::vad::Detector;

/// What was heard in a recording: the recogniser's segments (absolute times), the speaker
/// turns, and what it took.
pub(super) struct Heard {
    pub segments: Vec<AsrSegment>,
    pub turns: Vec<SpeakerTurn>,
    pub audio: AudioInfo,
    /// Distinct speakers in `turns`.
    pub speakers: usize,
    /// Every stage but the total.
    pub timings: Timings,
}

/// Reads `job.input` block by block: speech spans, speaker evidence, text.
pub(super) fn recognise(
    engine: &mut Engine,
    job: &Job,
    progress: &dyn Progress,
) -> Result<Heard, PipelineError> {
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
    let (mut t_read, mut t_diarize, mut t_asr) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut spans = 0;
    let mut segments: Vec<AsrSegment> = Vec::new();
    loop {
        let t = Instant::now();
        let Some(block) = blocks.next_block().map_err(|e| stream_err(job.input, e))? else {
            break;
        };
        t_read += t.elapsed();
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
        let (segs, asr_took, diarized) = std::thread::scope(|scope| {
            let side = match (evidence.as_mut(), engine.speakers) {
                (Some(ev), Some(models)) => {
                    let block = &block;
                    Some(scope.spawn(move || {
                        let t = Instant::now();
                        let added =
                            ev.add(&block.pcm, block.offset, &block.speech, models, &NoProgress);
                        added.map(|()| t.elapsed())
                    }))
                }
                _ => None,
            };
            let t = Instant::now();
            let segs = transcriber.transcribe(&block.pcm, &block.speech, &within);
            let asr_took = t.elapsed();
            if segs.is_err() {
                asr_failed.store(true, Ordering::Relaxed);
            }
            let diarized = side.map_or(Ok(Duration::ZERO), |h| {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
            });
            (segs, asr_took, diarized)
        });
        t_diarize += diarized.map_err(|source| PipelineError::Diarize {
            path: job.input.to_path_buf(),
            source,
        })?;
        t_asr += asr_took;
        let segs = segs.map_err(|source| PipelineError::Asr {
            path: job.input.to_path_buf(),
            source,
        })?;
        segments.extend(segs.into_iter().map(|s| s.shifted(block.offset)));
    }
    // The text is done: whisper.cpp's buffers go before the speakers are clustered.
    engine.transcriber.release();
    let audio = blocks.info();
    let t_vad = blocks.vad_time();
    let t_decode = t_read.saturating_sub(t_vad);
    tracing::info!(file = %job.input.display(), spans, "recording read");

    let t = Instant::now();
    let turns: Vec<SpeakerTurn> = match (evidence, engine.speakers) {
        (Some(ev), Some(models)) => ev.turns(models).map_err(|source| PipelineError::Diarize {
            path: job.input.to_path_buf(),
            source,
        })?,
        _ => Vec::new(),
    };
    t_diarize += t.elapsed();
    progress.set(audio.duration.0.max(total.0));
    progress.finish();
    let speakers = turns
        .iter()
        .map(|t| t.speaker)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    tracing::info!(file = %job.input.display(), speakers, turns = turns.len(), "speakers found");
    Ok(Heard {
        segments,
        turns,
        audio,
        speakers,
        timings: Timings {
            decode: t_decode,
            vad: t_vad,
            diarize: t_diarize,
            asr: t_asr,
            total: Duration::ZERO,
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
