//! Live text while recording: a worker thread takes the recorded audio ([`LiveChunk`]s,
//! native format), converts it to 16 kHz mono with [`ToMono16k`], cuts it into windows
//! of a few seconds at pauses ([`plan`]) and runs the [`Transcriber`] on each, reporting
//! [`LiveEvent`]s. It only ever receives audio through a bounded queue the writer fills
//! with `try_send`, so a slow recogniser makes it skip audio, never stalls the recording.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::asr::Transcriber;
use crate::audio::resample::ToMono16k;
use crate::audio::{Pcm16kMono, SAMPLE_RATE};
use crate::types::{Ms, NoProgress, Span};

use super::level::{dbfs, SILENCE_DB};
use crate::asr::guard::NO_SPEECH_HIGH;

/// A window is decoded once a pause at least this long follows speech, in ms.
pub const END_PAUSE: Ms = Ms(600);
/// Shortest window worth decoding, in ms (shorter bursts wait for more).
pub const MIN_WINDOW: Ms = Ms(1_500);
/// Longest window: speech without a pause is cut here (at the quietest moment of its last
/// seconds), in ms. Whisper handles up to 30 s but the text would come too late.
pub const MAX_WINDOW: Ms = Ms(8_000);
/// More waiting audio than this means recognition is behind: the oldest is skipped, in ms.
pub const MAX_BACKLOG: Ms = Ms(16_000);
/// Level frames for the pause detector, in 16 kHz samples (30 ms).
const FRAME: usize = 480;
/// A frame is speech when this many dB above the running noise floor …
const SPEECH_OVER_FLOOR_DB: f32 = 12.0;
/// … and above this absolute level, in dBFS.
const SPEECH_MIN_DB: f32 = -50.0;
/// Segments Whisper itself thinks are not speech (the guard's [`NO_SPEECH_HIGH`]), or that
/// it is very unsure of, are the usual hallucinations in pauses; they are not shown.
const MIN_CONFIDENCE: f32 = 0.3;

/// Recorded audio handed to the live worker: interleaved native samples that start at
/// frame `at` of the recording.
pub struct LiveChunk {
    pub at: u64,
    pub samples: Vec<f32>,
}

/// What the live worker reports.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// The model is loaded; text will follow.
    Ready,
    /// Recognised text starting at `at` in the recording.
    Line { at: Ms, text: String },
    /// Audio from `from` for `len` was not recognised because recognition was behind.
    Skipped { from: Ms, len: Ms },
    /// Live text stopped (the model could not be loaded, recognition failed).
    Failed(String),
}

/// Builds the recogniser on the worker thread, so the recording starts at once and a
/// recogniser that is not `Send` still works. Its error keeps its causes; the event shows
/// them as one line.
pub type TranscriberFactory = Box<
    dyn FnOnce() -> Result<Box<dyn Transcriber>, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + 'static,
>;

/// Start the worker. It ends when `chunks` closes or `cancel` is set.
pub(crate) fn spawn(
    rate: u32,
    channels: u16,
    chunks: Receiver<LiveChunk>,
    events: Sender<LiveEvent>,
    factory: TranscriberFactory,
    cancel: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("live-text".into())
        .spawn(move || {
            let mut transcriber = match factory() {
                Ok(t) => t,
                Err(e) => {
                    let _ = events.send(LiveEvent::Failed(crate::types::error_line(&*e)));
                    return;
                }
            };
            let _ = events.send(LiveEvent::Ready);
            let mut worker = Worker::new(rate, channels);
            if let Err(e) = worker.run(&mut *transcriber, &chunks, &events, &cancel) {
                let _ = events.send(LiveEvent::Failed(e));
            }
        })
}

struct Worker {
    rate: u32,
    channels: u16,
    conv: Option<ToMono16k>,
    /// 16 kHz mono audio not yet decoded, starting at `buf_at`.
    buf: Vec<f32>,
    buf_at: Ms,
    /// Next native frame expected; a jump means the writer dropped chunks.
    expected: u64,
    floor: NoiseFloor,
}

impl Worker {
    fn new(rate: u32, channels: u16) -> Worker {
        Worker {
            rate,
            channels: channels.max(1),
            conv: None,
            buf: Vec::new(),
            buf_at: Ms(0),
            expected: 0,
            floor: NoiseFloor::default(),
        }
    }

    fn run(
        &mut self,
        transcriber: &mut dyn Transcriber,
        chunks: &Receiver<LiveChunk>,
        events: &Sender<LiveEvent>,
        cancel: &AtomicBool,
    ) -> Result<(), String> {
        while let Ok(first) = chunks.recv() {
            self.take(first, transcriber, events, cancel)?;
            // Take everything already queued before deciding: decode the newest audio.
            let mut closed = false;
            loop {
                match chunks.try_recv() {
                    Ok(c) => self.take(c, transcriber, events, cancel)?,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            self.trim_backlog(events);
            self.windows(transcriber, events, cancel)?;
            if closed {
                break;
            }
        }
        Ok(())
    }

    /// Decode (or drop) every window the buffer holds; stops early when cancelled.
    fn windows(
        &mut self,
        transcriber: &mut dyn Transcriber,
        events: &Sender<LiveEvent>,
        cancel: &AtomicBool,
    ) -> Result<(), String> {
        while let Some(cut) = plan(&self.buf, &mut self.floor) {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let n = match cut {
                Cut::Decode(n) => {
                    self.decode(transcriber, n, events)?;
                    n
                }
                Cut::Discard(n) => n,
            };
            self.advance(n);
        }
        Ok(())
    }

    fn take(
        &mut self,
        chunk: LiveChunk,
        transcriber: &mut dyn Transcriber,
        events: &Sender<LiveEvent>,
        cancel: &AtomicBool,
    ) -> Result<(), String> {
        let ch = usize::from(self.channels);
        if chunk.at != self.expected || self.conv.is_none() {
            // Finish what came before the gap, then start afresh at the chunk: the
            // resampler must not bridge the gap.
            self.windows(transcriber, events, cancel)?;
            if chunk.at > self.expected {
                let _ = events.send(LiveEvent::Skipped {
                    from: Ms::from_samples(self.expected as usize, self.rate),
                    len: Ms::from_samples((chunk.at - self.expected) as usize, self.rate),
                });
            }
            self.conv = Some(ToMono16k::new(self.rate, ch).map_err(|e| e.to_string())?);
            self.buf.clear();
            self.buf_at = Ms::from_samples(chunk.at as usize, self.rate);
        }
        self.expected = chunk.at + (chunk.samples.len() / ch) as u64;
        if let Some(conv) = self.conv.as_mut() {
            conv.push(&chunk.samples, &mut self.buf)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn trim_backlog(&mut self, events: &Sender<LiveEvent>) {
        let max = MAX_BACKLOG.to_samples(SAMPLE_RATE);
        if self.buf.len() > max {
            let keep = MAX_WINDOW.to_samples(SAMPLE_RATE);
            let drop = self.buf.len() - keep;
            let _ = events.send(LiveEvent::Skipped {
                from: self.buf_at,
                len: Ms::from_samples(drop, SAMPLE_RATE),
            });
            self.advance(drop);
        }
    }

    fn advance(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.buf_at = Ms(self.buf_at.0 + Ms::from_samples(n, SAMPLE_RATE).0);
    }

    fn decode(
        &mut self,
        transcriber: &mut dyn Transcriber,
        n: usize,
        events: &Sender<LiveEvent>,
    ) -> Result<(), String> {
        let pcm = Pcm16kMono::from_16k_mono(self.buf[..n].to_vec());
        let span = Span::new(Ms(0), pcm.duration());
        let t0 = std::time::Instant::now();
        let result = transcriber.transcribe(&pcm, &[span], &NoProgress);
        tracing::debug!(
            window = %format!("{}-{}", self.buf_at, Ms(self.buf_at.0 + span.end.0)),
            decode_s = t0.elapsed().as_secs_f64(),
            "live window decoded"
        );
        let segments = match result {
            Ok(s) => s,
            Err(crate::asr::AsrError::Interrupted) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        for s in segments {
            if s.no_speech_prob > NO_SPEECH_HIGH || s.confidence < MIN_CONFIDENCE {
                continue;
            }
            let text = s.text.trim();
            if text.is_empty() {
                continue;
            }
            let _ = events.send(LiveEvent::Line {
                at: Ms(self.buf_at.0 + s.span.start.0),
                text: text.to_string(),
            });
        }
        Ok(())
    }
}

/// What to do with the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Recognise the first n samples.
    Decode(usize),
    /// Drop the first n samples (silence).
    Discard(usize),
}

/// Running estimate of the background level, so the pause detector works for a quiet
/// room and a noisy one alike: it follows quieter frames at once and louder ones slowly.
#[derive(Debug, Clone)]
pub(crate) struct NoiseFloor {
    db: f32,
}

impl Default for NoiseFloor {
    fn default() -> Self {
        NoiseFloor { db: SILENCE_DB }
    }
}

impl NoiseFloor {
    fn update(&mut self, frame_db: f32) {
        if frame_db < self.db {
            self.db = frame_db.max(SILENCE_DB - 30.0);
        } else {
            // About 0.05 dB per 30 ms frame: speech does not lift it, a louder room does.
            self.db += (frame_db - self.db).min(0.05);
        }
    }

    fn is_speech(&self, frame_db: f32) -> bool {
        frame_db > SPEECH_MIN_DB && frame_db > self.db + SPEECH_OVER_FLOOR_DB
    }
}

fn frame_db(frame: &[f32]) -> f32 {
    let sum: f32 = frame.iter().map(|x| x * x).sum();
    dbfs((sum / frame.len().max(1) as f32).sqrt())
}

/// Decide whether the front of `buf` (16 kHz mono) is ready: a window of speech followed
/// by a pause, a window that reached [`MAX_WINDOW`], or silence to drop.
pub(crate) fn plan(buf: &[f32], floor: &mut NoiseFloor) -> Option<Cut> {
    let frames: Vec<f32> = buf.chunks_exact(FRAME).map(frame_db).collect();
    let mut speech = Vec::with_capacity(frames.len());
    let mut local = floor.clone();
    for &db in &frames {
        speech.push(local.is_speech(db));
        local.update(db);
    }
    let frame_ms = Ms::from_samples(FRAME, SAMPLE_RATE).0;
    let end_pause_frames = (END_PAUSE.0 / frame_ms) as usize;
    let Some(last_speech) = speech.iter().rposition(|&s| s) else {
        // All quiet: keep a short tail (a word may be starting), drop the rest.
        let keep = END_PAUSE.to_samples(SAMPLE_RATE);
        if buf.len() > 2 * keep {
            *floor = local;
            return Some(Cut::Discard(buf.len() - keep));
        }
        return None;
    };
    let commit = |floor: &mut NoiseFloor, upto_frame: usize| {
        // Carry the floor forward over the frames being consumed.
        for &db in &frames[..upto_frame.min(frames.len())] {
            floor.update(db);
        }
    };
    let first_speech = speech.iter().position(|&s| s).unwrap_or(0);
    let trailing_quiet = speech.len() - 1 - last_speech;
    let len = Ms::from_samples(buf.len(), SAMPLE_RATE);
    if trailing_quiet >= end_pause_frames && len >= MIN_WINDOW {
        let n = (last_speech + 1 + end_pause_frames / 2) * FRAME;
        // Leading silence is dropped so the window is mostly speech.
        let lead = first_speech.saturating_sub(end_pause_frames / 2) * FRAME;
        if lead > 0 {
            commit(floor, first_speech.saturating_sub(end_pause_frames / 2));
            return Some(Cut::Discard(lead));
        }
        commit(floor, last_speech + 1 + end_pause_frames / 2);
        return Some(Cut::Decode(n.min(buf.len())));
    }
    if len >= MAX_WINDOW {
        // Cut at the quietest frame of the last 2 s of the window.
        let max_frames = MAX_WINDOW.to_samples(SAMPLE_RATE) / FRAME;
        let from = max_frames.saturating_sub(2_000 / frame_ms as usize);
        let cut = (from..max_frames.min(frames.len()))
            .min_by(|&a, &b| frames[a].total_cmp(&frames[b]))
            .map_or(max_frames, |i| i + 1);
        commit(floor, cut);
        return Some(Cut::Decode((cut * FRAME).min(buf.len())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::AsrError;
    use crate::types::{AsrSegment, Progress};
    use std::sync::mpsc;

    fn tone(ms: u64, amp: f32) -> Vec<f32> {
        (0..Ms(ms).to_samples(SAMPLE_RATE))
            .map(|i| amp * (i as f32 * 0.2).sin())
            .collect()
    }

    fn noise(ms: u64, amp: f32) -> Vec<f32> {
        // Deterministic low-level hiss.
        let mut x = 12345u32;
        (0..Ms(ms).to_samples(SAMPLE_RATE))
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                amp * ((x >> 16) as f32 / 32_768.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn waits_for_a_pause_then_decodes_speech() {
        let mut floor = NoiseFloor::default();
        let mut buf = noise(500, 0.001);
        buf.extend(tone(2_000, 0.3));
        // No pause yet.
        assert_eq!(plan(&buf, &mut floor.clone()), None);
        buf.extend(noise(700, 0.001));
        // Leading quiet is dropped first, then the speech window is decoded.
        let first = plan(&buf, &mut floor).unwrap();
        let Cut::Discard(lead) = first else {
            panic!("{first:?}")
        };
        assert!(lead > 0 && lead < 8_000, "{lead}");
        let rest = &buf[lead..];
        let Some(Cut::Decode(n)) = plan(rest, &mut floor) else {
            panic!("expected a window")
        };
        let secs = n as f32 / 16_000.0;
        assert!((2.0..2.9).contains(&secs), "{secs}");
    }

    #[test]
    fn long_speech_is_cut_at_max_window() {
        let mut floor = NoiseFloor::default();
        let buf = tone(MAX_WINDOW.0 + 500, 0.3);
        let Some(Cut::Decode(n)) = plan(&buf, &mut floor) else {
            panic!()
        };
        assert!(n <= MAX_WINDOW.to_samples(SAMPLE_RATE));
        assert!(n >= MAX_WINDOW.to_samples(SAMPLE_RATE) - 2 * 16_000);
    }

    #[test]
    fn silence_is_dropped_without_decoding() {
        let mut floor = NoiseFloor::default();
        let buf = noise(3_000, 0.0005);
        assert!(matches!(plan(&buf, &mut floor), Some(Cut::Discard(_))));
        assert_eq!(plan(&noise(500, 0.0005), &mut floor), None);
    }

    /// Returns one segment per call, naming the window length.
    struct Fake {
        calls: usize,
    }

    impl Transcriber for Fake {
        fn transcribe(
            &mut self,
            pcm: &Pcm16kMono,
            _speech: &[Span],
            _p: &dyn Progress,
        ) -> Result<Vec<AsrSegment>, AsrError> {
            self.calls += 1;
            Ok(vec![AsrSegment {
                span: Span::new(Ms(100), pcm.duration()),
                text: format!("窓{}", self.calls),
                confidence: 0.9,
                no_speech_prob: 0.01,
                tokens: Vec::new(),
            }])
        }
        fn model_name(&self) -> &str {
            "fake"
        }
    }

    #[test]
    fn worker_reports_lines_with_recording_times_and_gaps() {
        let (tx, rx) = mpsc::sync_channel(16);
        let (etx, erx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let h = spawn(
            16_000,
            1,
            rx,
            etx,
            Box::new(|| Ok(Box::new(Fake { calls: 0 }) as Box<dyn Transcriber>)),
            cancel,
        )
        .unwrap();
        let mut audio = noise(1_000, 0.001);
        audio.extend(tone(2_000, 0.3));
        audio.extend(noise(1_000, 0.001));
        tx.send(LiveChunk {
            at: 0,
            samples: audio.clone(),
        })
        .unwrap();
        // A chunk that does not follow on: 10 s were dropped before it.
        tx.send(LiveChunk {
            at: 64_000 + 160_000,
            samples: audio,
        })
        .unwrap();
        drop(tx);
        h.join().unwrap();
        let ev: Vec<LiveEvent> = erx.try_iter().collect();
        assert_eq!(ev[0], LiveEvent::Ready);
        let lines: Vec<(Ms, String)> = ev
            .iter()
            .filter_map(|e| match e {
                LiveEvent::Line { at, text } => Some((*at, text.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 2, "{ev:?}");
        // Speech starts at 1 s; the window starts a little before it.
        assert!(
            lines[0].0 >= Ms(700) && lines[0].0 <= Ms(1_200),
            "{lines:?}"
        );
        assert!(ev.contains(&LiveEvent::Skipped {
            from: Ms(4_000),
            len: Ms(10_000)
        }));
        assert!(lines[1].0 >= Ms(14_700), "{lines:?}");
    }

    #[test]
    fn model_failure_is_reported() {
        let (_tx, rx) = mpsc::sync_channel::<LiveChunk>(1);
        let (etx, erx) = mpsc::channel();
        let h = spawn(
            16_000,
            1,
            rx,
            etx,
            Box::new(|| Err("model `base` not installed".into())),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        h.join().unwrap();
        assert_eq!(
            erx.try_iter().collect::<Vec<_>>(),
            vec![LiveEvent::Failed("model `base` not installed".into())]
        );
    }
}
