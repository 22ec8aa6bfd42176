//! Recording a meeting: a [`Session`] captures the input device (through
//! [`crate::audio::capture`]) into a WAV that stays playable while it grows
//! ([`wav::WavFile`]), meters the input ([`level`]), feeds live text ([`live`]) and keeps
//! timestamped [`Marker`]s in a sidecar JSON. [`Session::finish`] stops everything and
//! returns a [`Summary`]; a fault (device lost, write error) ends the recording early
//! with the audio so far finalised. [`wav::recover`] repairs a WAV after a crash.
//!
//! Threads: the audio callback only fills a lock-free ring; a writer thread drains it
//! into the file, the meter and the live queue; the live worker runs the recogniser.

pub mod level;
pub mod live;
pub mod wav;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::audio::capture::{self, Capture, CaptureError, CaptureShared, NativeFormat};
use crate::output::{write_atomic, OutputError};
use crate::types::Ms;

pub use live::{LiveEvent, TranscriberFactory};
pub use wav::{recover, RecoverError, Recovered, WavError, WavFormat};

/// The header is rewritten and the data synced at least this often: a crash or power
/// loss costs at most this much audio (plus what is still in the ring).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(1_000);
/// Seconds of audio the ring between the audio thread and the writer holds: covers a
/// slow disk or a long fsync without dropping input.
pub const RING_SECONDS: u32 = 4;
/// The writer wakes this often when the ring is empty.
const WRITER_POLL: Duration = Duration::from_millis(10);
/// Meter readings cover this much audio, in ms.
const METER_BLOCK: Ms = Ms(100);
/// Audio is handed to the live worker in pieces of about this length, in ms.
const LIVE_PIECE: Ms = Ms(250);
/// Pieces the live queue holds (about 15 s): more waiting means recognition is behind and
/// the newest piece is dropped rather than waiting.
const LIVE_QUEUE: usize = 60;

/// Why a recording could not start or did not end cleanly. Every variant names the file
/// or device.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error("{}: already exists (use --force to overwrite)", path.display())]
    Exists { path: PathBuf },
    #[error("input device `{device}` stopped delivering audio ({detail}); the recording up to {kept} is kept in {}", path.display())]
    DeviceLost {
        device: String,
        detail: String,
        path: PathBuf,
        kept: Ms,
    },
    #[error("{source}; the recording up to {kept} is kept in {}", path.display())]
    WriteFailed {
        path: PathBuf,
        kept: Ms,
        source: WavError,
    },
    #[error("{}: cannot write markers: {source}", path.display())]
    Markers { path: PathBuf, source: OutputError },
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the {what} thread panicked")]
    Panicked { what: &'static str },
}

pub use crate::types::{markers_path, read_markers, Marker};

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordConfig {
    pub output: PathBuf,
    /// Input device name (see `gijiroku devices`); `None` for the default.
    pub device: Option<String>,
    /// Replace an existing output file (and its markers).
    pub force: bool,
}

/// Live text: how to build the recogniser (on its own thread) and the flag that aborts a
/// running decode when the recording ends.
pub struct LiveSetup {
    pub factory: TranscriberFactory,
    pub cancel: Arc<AtomicBool>,
}

/// State the writer thread publishes and the controls it obeys.
#[derive(Debug)]
struct Shared {
    frames_written: AtomicU64,
    paused: AtomicBool,
    /// Set once the capture has stopped: drain the ring and finish.
    stop: AtomicBool,
    /// The writer gave up (write error); the recording must end.
    failed: AtomicBool,
    rms_db: AtomicU32,
    peak_db: AtomicU32,
    /// Recording position (ms) of the last clipped block; `u64::MAX` when none.
    last_clip_ms: AtomicU64,
    /// How long the input has been continuously below [`level::SILENCE_DB`], in ms.
    silent_ms: AtomicU64,
    live_dropped_frames: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            frames_written: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            rms_db: AtomicU32::new(level::FLOOR_DB.to_bits()),
            peak_db: AtomicU32::new(level::FLOOR_DB.to_bits()),
            last_clip_ms: AtomicU64::new(u64::MAX),
            silent_ms: AtomicU64::new(0),
            live_dropped_frames: AtomicU64::new(0),
        }
    }
}

/// A snapshot for the status line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    /// Audio in the file so far (paused time excluded).
    pub recorded: Ms,
    pub paused: bool,
    pub rms_db: f32,
    pub peak_db: f32,
    /// Clipping within the last [`CLIP_HOLD`].
    pub clipping: bool,
    /// How long the input has been silent (0 when not).
    pub silent_for: Ms,
    /// Input frames dropped because the writer fell behind.
    pub overrun_frames: u64,
    /// Driver-reported buffer overruns.
    pub xruns: u64,
    /// Audio the live worker did not get because it was behind.
    pub live_dropped: Ms,
}

/// A clipping warning stays up this long after the last clipped block.
pub const CLIP_HOLD: Ms = Ms(2_000);

/// How the recording ended.
#[derive(Debug)]
pub struct Summary {
    pub path: PathBuf,
    pub format: WavFormat,
    pub frames: u64,
    pub duration: Ms,
    pub overrun_frames: u64,
    pub xruns: u64,
    pub markers: Vec<Marker>,
    /// Set when the recording ended because of a fault; the file is still finalised.
    pub fault: Option<RecordError>,
}

/// A running recording. See the module docs.
pub struct Session {
    capture: Option<Capture>,
    cap: Arc<CaptureShared>,
    shared: Arc<Shared>,
    writer: Option<JoinHandle<Result<u64, RecordError>>>,
    live: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
    events: Option<Receiver<LiveEvent>>,
    path: PathBuf,
    device: String,
    format: NativeFormat,
    wav_format: WavFormat,
    markers: Vec<Marker>,
    period_frames: Option<u32>,
}

impl Session {
    /// Open the device, create the WAV (refusing to overwrite unless `force`) and start
    /// recording. The markers sidecar is only written when a marker is added.
    pub fn start(cfg: &RecordConfig, live: Option<LiveSetup>) -> Result<Session, RecordError> {
        let marks = markers_path(&cfg.output);
        if !cfg.force {
            for p in [&cfg.output, &marks] {
                if p.exists() {
                    return Err(RecordError::Exists { path: p.clone() });
                }
            }
        }
        if cfg.force && marks.exists() {
            // Markers of the recording being replaced would point into the new one.
            std::fs::remove_file(&marks).map_err(|e| RecordError::Markers {
                path: marks.clone(),
                source: OutputError::Io {
                    path: marks.clone(),
                    source: e,
                },
            })?;
        }
        let input = capture::open(cfg.device.as_deref())?;
        let format = input.format();
        let device = input.name().to_string();
        let wav_format = WavFormat::for_native(format);
        let wav = wav::WavFile::create(&cfg.output, wav_format, cfg.force)?;
        let capacity = (format.rate * RING_SECONDS) as usize * usize::from(wav_format.channels);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let capture = match input.start(producer) {
            Ok(c) => c,
            Err(e) => {
                // Nothing was recorded: do not leave an empty file behind.
                drop(wav);
                let _ = std::fs::remove_file(&cfg.output);
                return Err(e.into());
            }
        };
        let cap = capture.shared.clone();
        let period_frames = capture.period_frames;
        let mut s = Session::with_source(wav, consumer, cap, device, format, live)?;
        s.capture = Some(capture);
        s.period_frames = period_frames;
        Ok(s)
    }

    /// The session around an already-filled ring (the real capture, or a test's).
    fn with_source(
        wav: wav::WavFile,
        consumer: rtrb::Consumer<f32>,
        cap: Arc<CaptureShared>,
        device: String,
        format: NativeFormat,
        live: Option<LiveSetup>,
    ) -> Result<Session, RecordError> {
        let shared = Arc::new(Shared::default());
        let path = wav.path().to_path_buf();
        let wav_format = wav.format();
        let (live_tx, live, events) = match live {
            Some(setup) => {
                let (tx, rx) = mpsc::sync_channel(LIVE_QUEUE);
                let (etx, erx) = mpsc::channel();
                let h = live::spawn(
                    format.rate,
                    wav_format.channels,
                    rx,
                    etx,
                    setup.factory,
                    setup.cancel.clone(),
                )
                .map_err(|source| RecordError::Thread {
                    what: "live text",
                    source,
                })?;
                (Some(tx), Some((h, setup.cancel)), Some(erx))
            }
            None => (None, None, None),
        };
        let writer = {
            let shared = shared.clone();
            let cap = cap.clone();
            std::thread::Builder::new()
                .name("wav-writer".into())
                .spawn(move || Writer::new(wav, shared, cap, live_tx).run(consumer))
                .map_err(|source| RecordError::Thread {
                    what: "writer",
                    source,
                })?
        };
        Ok(Session {
            capture: None,
            cap,
            shared,
            writer: Some(writer),
            live,
            events,
            path,
            device,
            format,
            wav_format,
            markers: Vec::new(),
            period_frames: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn format(&self) -> NativeFormat {
        self.format
    }

    /// Frames per driver callback, when the driver says.
    pub fn period_frames(&self) -> Option<u32> {
        self.period_frames
    }

    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Release);
    }

    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::Acquire)
    }

    /// Current position in the recording.
    pub fn position(&self) -> Ms {
        Ms::from_samples(
            self.shared.frames_written.load(Ordering::Acquire) as usize,
            self.format.rate,
        )
    }

    pub fn status(&self) -> Status {
        let recorded = self.position();
        let last_clip = self.shared.last_clip_ms.load(Ordering::Relaxed);
        Status {
            recorded,
            paused: self.is_paused(),
            rms_db: f32::from_bits(self.shared.rms_db.load(Ordering::Relaxed)),
            peak_db: f32::from_bits(self.shared.peak_db.load(Ordering::Relaxed)),
            clipping: last_clip != u64::MAX && recorded.0.saturating_sub(last_clip) < CLIP_HOLD.0,
            silent_for: Ms(self.shared.silent_ms.load(Ordering::Relaxed)),
            overrun_frames: self.cap.overrun_frames.load(Ordering::Relaxed),
            xruns: self.cap.xruns.load(Ordering::Relaxed),
            live_dropped: Ms::from_samples(
                self.shared.live_dropped_frames.load(Ordering::Relaxed) as usize,
                self.format.rate,
            ),
        }
    }

    /// True once the recording cannot go on (device lost, write error): call
    /// [`Session::finish`].
    pub fn has_fault(&self) -> bool {
        self.cap.is_lost() || self.shared.failed.load(Ordering::Acquire)
    }

    /// Live text that arrived since the last call.
    pub fn live_events(&self) -> Vec<LiveEvent> {
        self.events
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }

    /// Mark the current position (label マーカーN unless given) and rewrite the sidecar.
    pub fn add_marker(&mut self, label: Option<String>) -> Result<Marker, RecordError> {
        let label = label
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| format!("マーカー{}", self.markers.len() + 1));
        let marker = Marker {
            at: self.position(),
            label,
        };
        self.markers.push(marker.clone());
        let path = markers_path(&self.path);
        let json = serde_json::to_vec_pretty(&self.markers).map_err(|e| RecordError::Markers {
            path: path.clone(),
            source: OutputError::Content {
                path: path.clone(),
                source: Box::new(e),
            },
        })?;
        write_atomic(&path, true, |w| w.write_all(&json))
            .map_err(|source| RecordError::Markers { path, source })?;
        Ok(marker)
    }

    /// Stop the device, let the writer drain the ring and finalise the WAV, stop live
    /// text. Always returns what was recorded; a fault is in [`Summary::fault`].
    pub fn finish(mut self) -> Result<Summary, RecordError> {
        // Dropping the stream stops the callback, so the ring only shrinks from here.
        self.capture = None;
        self.shared.stop.store(true, Ordering::Release);
        if let Some((_, cancel)) = &self.live {
            cancel.store(true, Ordering::Release);
        }
        let written = match self.writer.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(RecordError::Panicked { what: "writer" }),
            None => Ok(0),
        };
        if let Some((h, _)) = self.live.take() {
            // The writer has dropped the queue, so the worker ends after its current window.
            if h.join().is_err() {
                tracing::warn!("the live text thread panicked");
            }
        }
        let frames = match &written {
            Ok(f) => *f,
            Err(_) => self.shared.frames_written.load(Ordering::Acquire),
        };
        let duration = Ms::from_samples(frames as usize, self.format.rate);
        let fault = match written {
            Err(e) => Some(e),
            Ok(_) if self.cap.is_lost() => Some(RecordError::DeviceLost {
                device: self.device.clone(),
                detail: self
                    .cap
                    .error
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "disconnected".into()),
                path: self.path.clone(),
                kept: duration,
            }),
            Ok(_) => None,
        };
        Ok(Summary {
            path: self.path.clone(),
            format: self.wav_format,
            frames,
            duration,
            overrun_frames: self.cap.overrun_frames.load(Ordering::Relaxed),
            xruns: self.cap.xruns.load(Ordering::Relaxed),
            markers: std::mem::take(&mut self.markers),
            fault,
        })
    }
}

/// The writer thread: ring → meter → WAV (+ live queue), with periodic checkpoints.
struct Writer {
    wav: wav::WavFile,
    shared: Arc<Shared>,
    cap: Arc<CaptureShared>,
    live: Option<SyncSender<live::LiveChunk>>,
    channels: usize,
    rate: u32,
    meter: level::Meter,
    silent_run: Ms,
    live_piece: Vec<f32>,
    live_at: u64,
}

impl Writer {
    fn new(
        wav: wav::WavFile,
        shared: Arc<Shared>,
        cap: Arc<CaptureShared>,
        live: Option<SyncSender<live::LiveChunk>>,
    ) -> Writer {
        let f = wav.format();
        Writer {
            channels: usize::from(f.channels),
            rate: f.rate,
            wav,
            shared,
            cap,
            live,
            meter: level::Meter::default(),
            silent_run: Ms(0),
            live_piece: Vec::new(),
            live_at: 0,
        }
    }

    /// Returns the frames in the finalised file.
    fn run(mut self, mut ring: rtrb::Consumer<f32>) -> Result<u64, RecordError> {
        let mut block = Vec::new();
        let mut last_checkpoint = Instant::now();
        loop {
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let n = ring.slots() / self.channels * self.channels;
            if n > 0 {
                block.clear();
                if let Ok(chunk) = ring.read_chunk(n) {
                    let (a, b) = chunk.as_slices();
                    block.extend_from_slice(a);
                    block.extend_from_slice(b);
                    chunk.commit_all();
                }
                if let Err(e) = self.take(&block) {
                    return Err(self.fail(e));
                }
            } else if stopping || self.cap.is_lost() {
                break;
            } else {
                std::thread::sleep(WRITER_POLL);
            }
            if last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
                if let Err(e) = self.wav.checkpoint() {
                    return Err(self.fail(e));
                }
                last_checkpoint = Instant::now();
            }
        }
        self.flush_live();
        let path = self.wav.path().to_path_buf();
        let frames = self.wav.frames();
        self.wav
            .finalize()
            .map_err(|source| RecordError::WriteFailed {
                path,
                kept: Ms::from_samples(frames as usize, self.rate),
                source,
            })
    }

    /// Meter, then (unless paused) write and hand to live text.
    fn take(&mut self, samples: &[f32]) -> Result<(), WavError> {
        let block = METER_BLOCK.to_samples(self.rate) * self.channels;
        for piece in samples.chunks(block.max(self.channels)) {
            self.meter.push(piece);
            if self.meter.len() as usize >= block {
                self.publish_level();
            }
        }
        if self.shared.paused.load(Ordering::Acquire) {
            // Live text must not bridge a pause with half a window.
            self.flush_live();
            return Ok(());
        }
        self.wav.write(samples)?;
        let frames = self.wav.frames();
        self.shared.frames_written.store(frames, Ordering::Release);
        self.feed_live(samples, frames);
        Ok(())
    }

    fn publish_level(&mut self) {
        let r = self.meter.take();
        self.shared
            .rms_db
            .store(r.rms_db.to_bits(), Ordering::Relaxed);
        self.shared
            .peak_db
            .store(r.peak_db.to_bits(), Ordering::Relaxed);
        let pos = Ms::from_samples(self.wav.frames() as usize, self.rate);
        if r.clipped > 0 {
            self.shared.last_clip_ms.store(pos.0, Ordering::Relaxed);
        }
        if r.rms_db < level::SILENCE_DB {
            self.silent_run = Ms(self.silent_run.0 + METER_BLOCK.0);
        } else {
            self.silent_run = Ms(0);
        }
        self.shared
            .silent_ms
            .store(self.silent_run.0, Ordering::Relaxed);
    }

    fn feed_live(&mut self, samples: &[f32], frames_after: u64) {
        if self.live.is_none() {
            return;
        }
        if self.live_piece.is_empty() {
            self.live_at = frames_after - (samples.len() / self.channels) as u64;
        }
        self.live_piece.extend_from_slice(samples);
        if self.live_piece.len() >= LIVE_PIECE.to_samples(self.rate) * self.channels {
            self.flush_live();
        }
    }

    fn flush_live(&mut self) {
        let Some(tx) = &self.live else { return };
        if self.live_piece.is_empty() {
            return;
        }
        let samples = std::mem::take(&mut self.live_piece);
        let frames = (samples.len() / self.channels) as u64;
        match tx.try_send(live::LiveChunk {
            at: self.live_at,
            samples,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.shared
                    .live_dropped_frames
                    .fetch_add(frames, Ordering::Relaxed);
            }
            // The worker has stopped (model failed to load): stop feeding it.
            Err(TrySendError::Disconnected(_)) => self.live = None,
        }
    }

    /// A write failed: finalise what reached the file and report both.
    fn fail(self, source: WavError) -> RecordError {
        self.shared.failed.store(true, Ordering::Release);
        let path = self.wav.path().to_path_buf();
        let rate = self.rate;
        match self.wav.finalize() {
            Ok(frames) => {
                self.shared.frames_written.store(frames, Ordering::Release);
                RecordError::WriteFailed {
                    path,
                    kept: Ms::from_samples(frames as usize, rate),
                    source,
                }
            }
            Err(e) => {
                tracing::warn!("finalising after the write error also failed: {e}");
                RecordError::WriteFailed {
                    path,
                    kept: Ms::from_samples(
                        self.shared.frames_written.load(Ordering::Acquire) as usize,
                        rate,
                    ),
                    source,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::capture::SampleKind;

    fn fmt() -> NativeFormat {
        NativeFormat {
            rate: 8_000,
            channels: 2,
            sample: SampleKind::I16,
        }
    }

    fn session(dir: &Path) -> (Session, rtrb::Producer<f32>, Arc<CaptureShared>) {
        let path = dir.join("rec.wav");
        let wav = wav::WavFile::create(&path, WavFormat::for_native(fmt()), false).unwrap();
        let (p, c) = rtrb::RingBuffer::new(8_000 * 2);
        let cap = Arc::new(CaptureShared::default());
        let s = Session::with_source(wav, c, cap.clone(), "test".into(), fmt(), None).unwrap();
        (s, p, cap)
    }

    fn push(p: &mut rtrb::Producer<f32>, cap: &CaptureShared, frames: usize, v: f32) {
        let data = vec![v; frames * 2];
        capture::push_frames(p, &data, 2, cap);
    }

    fn wait_for(s: &Session, ms: Ms) {
        let t = Instant::now();
        while s.position() < ms {
            assert!(t.elapsed() < Duration::from_secs(5), "writer stuck");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn pause_skips_audio_and_markers_use_recorded_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, mut p, cap) = session(dir.path());
        push(&mut p, &cap, 8_000, 0.25);
        wait_for(&s, Ms(1_000));
        let m = s.add_marker(None).unwrap();
        assert_eq!(
            m,
            Marker {
                at: Ms(1_000),
                label: "マーカー1".into()
            }
        );
        s.set_paused(true);
        push(&mut p, &cap, 4_000, 0.9);
        std::thread::sleep(Duration::from_millis(100));
        s.set_paused(false);
        push(&mut p, &cap, 4_000, -0.25);
        wait_for(&s, Ms(1_500));
        s.add_marker(Some("議題2".into())).unwrap();
        let st = s.status();
        assert!((st.rms_db + 12.04).abs() < 0.1, "{st:?}");
        let sum = s.finish().unwrap();
        assert!(sum.fault.is_none());
        assert_eq!(sum.frames, 12_000);
        assert_eq!(sum.duration, Ms(1_500));
        let mut r = hound::WavReader::open(dir.path().join("rec.wav")).unwrap();
        let v: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
        assert_eq!(v.len(), 24_000);
        // The paused (0.9) audio is not in the file.
        assert!(v.iter().all(|&x| x == 8_192 || x == -8_192));
        let marks = read_markers(&dir.path().join("rec.markers.json")).unwrap();
        assert_eq!(marks.len(), 2);
        assert_eq!(marks[1].label, "議題2");
        assert_eq!(marks[1].at, Ms(1_500));
        let text = std::fs::read_to_string(dir.path().join("rec.markers.json")).unwrap();
        assert!(text.contains("\"at\": 1.0"), "{text}");
    }

    #[test]
    fn lost_device_ends_with_fault_and_finalised_file() {
        let dir = tempfile::tempdir().unwrap();
        let (s, mut p, cap) = session(dir.path());
        push(&mut p, &cap, 4_000, 0.5);
        wait_for(&s, Ms(500));
        let _ = cap.error.set("device unplugged".into());
        cap.lost.store(true, Ordering::Release);
        assert!(s.has_fault());
        let sum = s.finish().unwrap();
        let msg = sum.fault.expect("fault").to_string();
        assert!(
            msg.contains("device unplugged") && msg.contains("rec.wav"),
            "{msg}"
        );
        assert_eq!(hound::WavReader::open(&sum.path).unwrap().len(), 8_000);
    }

    #[test]
    fn clipping_and_silence_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (s, mut p, cap) = session(dir.path());
        push(&mut p, &cap, 800, 1.0);
        wait_for(&s, Ms(100));
        std::thread::sleep(Duration::from_millis(30));
        assert!(s.status().clipping);
        // One second at a time: the test ring holds one second.
        for k in 1..=3 {
            push(&mut p, &cap, 8_000, 0.0);
            wait_for(&s, Ms(100 + k * 1_000));
        }
        std::thread::sleep(Duration::from_millis(30));
        let st = s.status();
        assert!(!st.clipping, "{st:?}");
        assert!(st.silent_for >= Ms(2_900), "{st:?}");
        assert_eq!(st.rms_db, level::FLOOR_DB);
        s.finish().unwrap();
    }

    #[test]
    fn marker_json_round_trips() {
        let m = vec![Marker {
            at: Ms(61_250),
            label: "マーカー1".into(),
        }];
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, r#"[{"at":61.25,"label":"マーカー1"}]"#);
        let back: Vec<Marker> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            markers_path(Path::new("dir/会議.wav")),
            PathBuf::from("dir/会議.markers.json")
        );
    }
}
