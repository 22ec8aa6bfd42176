//! Issue "Record a meeting live with cpal: crash-safe, with live text": `gijiroku record`
//! and `gijiroku devices` end to end through the real cpal → ALSA path on a machine with no
//! sound hardware. ALSA's file plugin reads the "captured" samples from a FIFO that these
//! tests write at the real-time rate (see tests/alsa/README.md), so every recording can be
//! compared sample for sample with what was played into it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gijiroku");
/// What cpal picks on the fixture device (the null plugin accepts anything): 48 kHz stereo
/// f32.
const RATE: u64 = 48_000;
const CHANNELS: usize = 2;
const O_NONBLOCK: i32 = 0o4000;

/// A sample value for each frame index (the same in both channels).
type Signal = Arc<dyn Fn(u64) -> f32 + Send + Sync>;

fn tone() -> Signal {
    Arc::new(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * (i % RATE) as f32 / RATE as f32).sin())
}

/// Frame `i` carries its own index (exact in f32 below 2^24 frames, ~349 s): a recording
/// shows exactly which input frames it kept.
fn ramp() -> Signal {
    Arc::new(|i| i as f32 / 16_777_216.0)
}

fn index_of(v: f32) -> i64 {
    (f64::from(v) * 16_777_216.0).round() as i64
}

/// A temporary directory with the FIFO and the ALSA configuration that reads it.
struct Rig {
    dir: tempfile::TempDir,
    fifo: PathBuf,
    conf: PathBuf,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("capture.fifo");
        let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(ok.success(), "mkfifo failed");
        let template = include_str!("alsa/fifo-capture.conf");
        let conf = dir.path().join("asoundrc");
        std::fs::write(&conf, template.replace("@FIFO@", fifo.to_str().unwrap())).unwrap();
        Rig { dir, fifo, conf }
    }

    fn with_conf(text: &str) -> Rig {
        let r = Rig::new();
        std::fs::write(&r.conf, text).unwrap();
        r
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("ALSA_CONFIG_PATH", &self.conf)
            .env_remove("GIJIROKU_LOG")
            .current_dir(self.dir.path());
        c
    }
}

/// Writes a [`Signal`] into the FIFO, one ALSA period per write, one period ahead of real
/// time. Writing starts once the period is known (from the start-up line).
struct Feeder {
    stop: Arc<AtomicBool>,
    period: Arc<AtomicUsize>,
    started: Arc<Mutex<Option<Instant>>>,
    handle: Option<JoinHandle<u64>>,
}

impl Feeder {
    fn start(fifo: &Path, signal: Signal) -> Feeder {
        // Read+write: opening never blocks, and the FIFO stays open while the recorder
        // opens and closes it (format probing, then the stream).
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(fifo)
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let period = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(Mutex::new(None));
        let (s, p, st) = (stop.clone(), period.clone(), started.clone());
        let handle = std::thread::spawn(move || {
            let period = loop {
                if s.load(Ordering::Relaxed) {
                    return 0;
                }
                match p.load(Ordering::Relaxed) {
                    0 => std::thread::sleep(Duration::from_millis(2)),
                    n => break n as u64,
                }
            };
            let t0 = Instant::now();
            *st.lock().unwrap() = Some(t0);
            let mut written = 0u64;
            let mut buf = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let due = (t0.elapsed().as_secs_f64() * RATE as f64) as u64 + period;
                while written < due {
                    buf.clear();
                    for i in written..written + period {
                        let v = signal(i).to_le_bytes();
                        for _ in 0..CHANNELS {
                            buf.extend_from_slice(&v);
                        }
                    }
                    match file.write(&buf) {
                        Ok(n) => {
                            assert_eq!(n, buf.len(), "a period must be one atomic write");
                            written += period;
                        }
                        // The recorder is not reading (stopped or killed).
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("FIFO write: {e}"),
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            written
        });
        Feeder {
            stop,
            period,
            started,
            handle: Some(handle),
        }
    }

    fn set_period(&self, frames: usize) {
        assert!(
            frames * CHANNELS * 4 <= 4096,
            "period {frames} too long for atomic writes"
        );
        self.period.store(frames, Ordering::Relaxed);
    }

    /// Time since the first frame was written.
    fn elapsed(&self) -> Duration {
        self.started
            .lock()
            .unwrap()
            .map_or(Duration::ZERO, |t| t.elapsed())
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().map_or(0, |h| h.join().unwrap())
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A running `gijiroku record` with its output collected line by line (with arrival times).
struct Rec {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Rec {
    fn spawn(mut cmd: Command) -> Rec {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (e, o) = (stderr.clone(), stdout.clone());
        let err_pipe = child.stderr.take().unwrap();
        let out_pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                e.lock().unwrap().push(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                o.lock().unwrap().push((Instant::now(), l));
            }
        });
        let stdin = child.stdin.take();
        Rec {
            child,
            stdin,
            stderr,
            stdout,
        }
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Wait for a stderr line containing `pat`.
    fn wait_line(&mut self, pat: &str, timeout: Duration) -> String {
        let t = Instant::now();
        loop {
            if let Some(l) = self.stderr.lock().unwrap().iter().find(|l| l.contains(pat)) {
                return l.clone();
            }
            if t.elapsed() > timeout || self.child.try_wait().unwrap().is_some() {
                let _ = self.child.kill();
                panic!("no `{pat}` on stderr; got:\n{}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the start-up line and hand the ALSA period to the feeder.
    fn started(&mut self, feeder: &Feeder) {
        let line = self.wait_line("録音中", Duration::from_secs(10));
        let period: usize = line
            .split("周期 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no period in `{line}`"));
        feeder.set_period(period);
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return s;
            }
            if t.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "did not exit in {timeout:?}; stderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn frames_of(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let s: Vec<f32> = r.samples::<f32>().map(|x| x.unwrap()).collect();
    (spec, s)
}

fn secs(samples: &[f32]) -> f64 {
    samples.len() as f64 / (RATE as f64 * CHANNELS as f64)
}

/// Every recorded frame equals the signal at the same index, in both channels.
fn assert_same_as(samples: &[f32], signal: &Signal) {
    for (i, f) in samples.chunks_exact(CHANNELS).enumerate() {
        let want = signal(i as u64);
        assert!(
            f.iter().all(|&v| v == want),
            "frame {i}: recorded {f:?}, played {want}"
        );
    }
}

#[test]
fn devices_lists_the_capture_device_with_its_native_format() {
    let rig = Rig::new();
    let feeder = Feeder::start(&rig.fifo, tone());
    let out = rig.cmd().args(["devices", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list[0]["name"], "default");
    assert_eq!(list[0]["is_default"], true);
    let dev = list
        .iter()
        .find(|d| d["name"] == "gijiroku_test")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(dev["is_default"], false);
    assert_eq!(dev["description"], "gijiroku test capture (FIFO)");
    assert_eq!(
        dev["default_format"],
        serde_json::json!({"rate": 48000, "channels": 2, "sample": "f32"})
    );
    assert!(!dev["formats"].as_array().unwrap().is_empty());

    let out = rig.cmd().arg("devices").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("* default (既定)"), "{text}");
    assert!(text.contains("録音形式: 48000 Hz, 2 ch, f32"), "{text}");
    feeder.finish();
}

#[test]
fn records_the_input_bit_exact_and_stops_cleanly_on_sigterm() {
    let rig = Rig::new();
    let signal = tone();
    let feeder = Feeder::start(&rig.fifo, signal.clone());
    let mut rec = Rec::spawn({
        let mut c = rig.cmd();
        c.args(["record", "-o", "会議.wav", "--no-live", "--no-transcribe"]);
        c
    });
    rec.started(&feeder);
    std::thread::sleep(Duration::from_secs(3));
    rec.signal("TERM");
    let status = rec.wait(Duration::from_secs(10));
    let fed = feeder.finish();
    assert!(status.success(), "{status:?}\n{}", rec.stderr_text());
    assert!(
        rec.stderr_text().contains("録音を保存しました"),
        "{}",
        rec.stderr_text()
    );

    let (spec, samples) = frames_of(&rig.path("会議.wav"));
    assert_eq!(spec.sample_rate, 48_000);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(spec.bits_per_sample, 32);
    let got = secs(&samples);
    assert!(got >= 2.8, "recorded {got:.2} s of 3 s");
    assert!((samples.len() / CHANNELS) as u64 <= fed);
    assert_same_as(&samples, &signal);
}

#[test]
fn sigkill_mid_recording_leaves_a_playable_wav() {
    let rig = Rig::new();
    let signal = ramp();
    let feeder = Feeder::start(&rig.fifo, signal.clone());
    let mut rec = Rec::spawn({
        let mut c = rig.cmd();
        c.args(["record", "-o", "crash.wav", "--no-live", "--no-transcribe"]);
        c
    });
    rec.started(&feeder);
    std::thread::sleep(Duration::from_millis(4_300));
    let elapsed = feeder.elapsed().as_secs_f64();
    rec.child.kill().unwrap(); // SIGKILL
    rec.wait(Duration::from_secs(5));
    feeder.finish();

    // Playable as it is: the header covers the audio up to the last checkpoint.
    let path = rig.path("crash.wav");
    let (_, as_is) = frames_of(&path);
    let header_secs = secs(&as_is);
    assert!(
        header_secs >= elapsed - 2.0,
        "hound reads {header_secs:.2} s of {elapsed:.2} s"
    );
    assert_same_as(&as_is, &signal);

    // `--recover` also takes the audio written after the last checkpoint.
    let out = Command::new(BIN)
        .args(["record", "--recover"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, recovered) = frames_of(&path);
    let recovered_secs = secs(&recovered);
    assert!(recovered_secs >= header_secs);
    assert!(
        recovered_secs >= elapsed - 0.5,
        "recovered {recovered_secs:.2} s of {elapsed:.2} s"
    );
    assert_same_as(&recovered, &signal);
    eprintln!(
        "SIGKILL after {elapsed:.2} s: hound reads {header_secs:.2} s as left, {recovered_secs:.2} s after --recover"
    );
}

#[test]
fn recover_repairs_a_zeroed_header_and_trims_a_partial_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeroed.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    let want: Vec<i16> = (0..32_000)
        .map(|i| ((i * 7) % 20_000) as i16 - 10_000)
        .collect();
    for &s in &want {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4..8].fill(0);
    bytes[40..44].fill(0);
    bytes.push(0x55); // half a frame, as a crash mid-write leaves it
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 0);

    let out = Command::new(BIN)
        .args(["record", "--recover"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("repaired"));
    let mut r = hound::WavReader::open(&path).unwrap();
    let got: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + 64_000);

    let junk = dir.path().join("notes.wav");
    std::fs::write(&junk, "議事メモ").unwrap();
    let out = Command::new(BIN)
        .args(["record", "--recover"])
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.wav") && err.contains("not a repairable WAV"),
        "{err}"
    );
}

#[test]
fn pause_and_markers_from_stdin_lines() {
    let rig = Rig::new();
    let feeder = Feeder::start(&rig.fifo, ramp());
    let mut rec = Rec::spawn({
        let mut c = rig.cmd();
        c.args(["record", "-o", "paused.wav", "--no-live", "--no-transcribe"]);
        c
    });
    rec.started(&feeder);
    std::thread::sleep(Duration::from_millis(1_500));
    rec.send("p");
    rec.wait_line("一時停止", Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(1_500));
    rec.send("p");
    rec.wait_line("再開", Duration::from_secs(2));
    rec.send("m 議題1");
    rec.wait_line("マーカー: ", Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(1_000));
    rec.send(""); // Enter stops
    let status = rec.wait(Duration::from_secs(10));
    let fed = feeder.finish() as f64 / RATE as f64;
    assert!(status.success(), "{}", rec.stderr_text());

    let (_, samples) = frames_of(&rig.path("paused.wav"));
    let idx: Vec<i64> = samples
        .chunks_exact(CHANNELS)
        .map(|f| index_of(f[0]))
        .collect();
    // The file holds the input in order with exactly one jump: the pause.
    let jumps: Vec<(usize, i64)> = idx
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] != w[0] + 1)
        .map(|(i, w)| (i + 1, w[1] - w[0] - 1))
        .collect();
    assert_eq!(idx[0], 0);
    assert_eq!(jumps.len(), 1, "{jumps:?}");
    let (resumed_at, skipped) = jumps[0];
    let skipped = skipped as f64 / RATE as f64;
    assert!((1.2..2.2).contains(&skipped), "paused {skipped:.2} s");
    let recorded = idx.len() as f64 / RATE as f64;
    assert!(
        (recorded + skipped - fed).abs() < 0.5,
        "{recorded} + {skipped} vs {fed}"
    );

    let markers = gijiroku::record::read_markers(&rig.path("paused.markers.json")).unwrap();
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].label, "議題1");
    let at = markers[0].at.as_secs_f64();
    let resumed = resumed_at as f64 / RATE as f64;
    // Marked just after resuming, in recorded time (the pause does not count).
    assert!(
        at >= resumed && at < resumed + 1.0,
        "marker at {at:.2}, resumed {resumed:.2}"
    );
}

#[test]
fn refuses_to_overwrite_an_existing_recording() {
    let rig = Rig::new();
    std::fs::write(rig.path("会議.wav"), b"keep me").unwrap();
    let out = rig
        .cmd()
        .args(["record", "-o", "会議.wav", "--no-live", "--no-transcribe"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("会議.wav") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(rig.path("会議.wav")).unwrap(), b"keep me");
}

#[test]
fn no_input_device_is_a_clear_error_and_leaves_no_file() {
    let rig = Rig::with_conf(include_str!("alsa/no-devices.conf"));
    let out = rig
        .cmd()
        .args(["record", "-o", "x.wav", "--no-live", "--no-transcribe"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no audio input device found"), "{err}");
    assert!(!rig.path("x.wav").exists());

    let rig = Rig::new();
    let out = rig
        .cmd()
        .args([
            "record",
            "--device",
            "usb-mic",
            "--no-live",
            "--no-transcribe",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`usb-mic` not found") && err.contains("gijiroku_test"),
        "{err}"
    );
}

#[test]
fn write_error_keeps_and_finalises_the_audio_so_far() {
    let rig = Rig::new();
    let signal = ramp();
    let feeder = Feeder::start(&rig.fifo, signal.clone());
    // A file size limit makes writes fail like a full disk (EFBIG instead of ENOSPC).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' XFSZ; ulimit -f 400; exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["record", "-o", "full.wav", "--no-live", "--no-transcribe"])
        .env("ALSA_CONFIG_PATH", &rig.conf)
        .current_dir(rig.dir.path());
    let mut rec = Rec::spawn(cmd);
    rec.started(&feeder);
    let status = rec.wait(Duration::from_secs(10));
    feeder.finish();
    assert_eq!(status.code(), Some(1), "{}", rec.stderr_text());
    let err = rec.stderr_text();
    assert!(err.contains("full.wav") && err.contains("is kept"), "{err}");

    let path = rig.path("full.wav");
    let (_, samples) = frames_of(&path);
    assert!(!samples.is_empty());
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        44 + samples.len() as u64 * 4,
        "header and length agree (whole frames)"
    );
    assert_same_as(&samples, &signal);
}

/// samples/meeting.wav (16 kHz mono speech) played at 48 kHz stereo, then silence.
fn meeting() -> Signal {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/meeting.wav");
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().sample_rate, 16_000);
    let s: Vec<f32> = r
        .samples::<i16>()
        .map(|x| f32::from(x.unwrap()) / 32_768.0)
        .collect();
    Arc::new(move |i| s.get((i / 3) as usize).copied().unwrap_or(0.0))
}

fn parse_at(line: &str) -> Option<f64> {
    let t = line.strip_prefix('[')?.split(']').next()?;
    let p: Vec<f64> = t.split(':').filter_map(|x| x.parse().ok()).collect();
    (p.len() == 3).then(|| p[0] * 3600.0 + p[1] * 60.0 + p[2])
}

#[test]
fn live_text_appears_within_seconds_of_speech() {
    // Installs the models on first use: a missing model fails the test, never skips it.
    let models = common::models_dir().to_path_buf();
    let rig = Rig::new();
    let feeder = Feeder::start(&rig.fifo, meeting());
    let mut rec = Rec::spawn({
        let mut c = rig.cmd();
        c.arg("--models-dir")
            .arg(&models)
            .args(["record", "-o", "live.wav", "--no-transcribe"]);
        c
    });
    rec.started(&feeder);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(18));
    rec.send("");
    let status = rec.wait(Duration::from_secs(15));
    feeder.finish();
    assert!(status.success(), "{}", rec.stderr_text());
    let lines = rec.stdout.lock().unwrap().clone();
    assert!(
        !lines.is_empty(),
        "no live text; stderr:\n{}",
        rec.stderr_text()
    );
    let mut worst: f64 = 0.0;
    for (when, line) in &lines {
        let at = parse_at(line).unwrap_or_else(|| panic!("`{line}`"));
        let printed = when.duration_since(t0).as_secs_f64();
        worst = worst.max(printed - at);
        eprintln!("{printed:6.2} s  {line}");
    }
    let text: String = lines.iter().map(|(_, l)| l.as_str()).collect();
    // The meeting opens with 総務常任委員会; the base model gets at least part of it.
    assert!(
        ["委員会", "総務", "開会"].iter().any(|w| text.contains(w)),
        "{text}"
    );
    assert!(worst < 15.0, "a line came {worst:.1} s after its start");
}

#[test]
fn recording_is_drafted_into_docx_and_json_beside_it() {
    // Installs the models on first use: a missing model fails the test, never skips it.
    let models = common::models_dir().to_path_buf();
    let rig = Rig::new();
    let feeder = Feeder::start(&rig.fifo, meeting());
    let mut rec = Rec::spawn({
        let mut c = rig.cmd();
        c.arg("--models-dir")
            .arg(&models)
            .args(["record", "-o", "会議.wav", "--no-live"]);
        c
    });
    rec.started(&feeder);
    std::thread::sleep(Duration::from_secs(6));
    rec.send("");
    let status = rec.wait(Duration::from_secs(60));
    feeder.finish();
    assert!(status.success(), "{}", rec.stderr_text());
    for f in ["会議.docx", "会議.json"] {
        assert!(
            rig.path(f).is_file(),
            "{f} missing; stderr:\n{}",
            rec.stderr_text()
        );
    }
    let json = std::fs::read_to_string(rig.path("会議.json")).unwrap();
    assert!(json.contains("委員会") || json.contains("総務"), "{json}");
}
