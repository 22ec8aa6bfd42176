//! `gijiroku devices` and `gijiroku record`: the terminal side of a live recording —
//! keys (raw mode through crossterm on a terminal, `p⏎`-style lines otherwise), signals,
//! the status line and live text — around the library's [`gijiroku::record::Session`].
//! After a clean stop the WAV goes through the same `transcribe` as any other file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use gijiroku::asr::whisper::WhisperTranscriber;
use gijiroku::asr::{AsrConfig, Decoding, Transcriber};
use gijiroku::audio::capture::{self, FormatRange, InputDevice};
use gijiroku::minutes::MeetingSheet;
use gijiroku::models::{ModelStore, DEFAULT_MODEL};
use gijiroku::record::{
    self, level, LiveEvent, LiveSetup, RecordConfig, Session, Status as RecStatus,
    TranscriberFactory,
};
use gijiroku::types::{Ms, NoProgress};

use super::{Cli, Settings, Status};

/// How often keys, live text and the status line are looked at.
const TICK: Duration = Duration::from_millis(100);
/// Warn about a silent input after this long (a muted or unplugged microphone).
const SILENCE_WARN: Ms = Ms(5_000);
/// Width of the level meter, in cells.
const METER_WIDTH: usize = 20;

#[derive(Args, Debug)]
pub struct DevicesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Output WAV (default: 録音-YYYYMMDD-HHMMSS.wav in the current directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Input device, by the name `gijiroku devices` shows (default: the system default).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Meeting sheet (TOML) for the minutes drafted after recording.
    #[arg(long, value_name = "FILE")]
    pub meeting: Option<PathBuf>,
    /// Model for live text and the draft: base, small, ... or a ggml file.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// No live text while recording.
    #[arg(long)]
    pub no_live: bool,
    /// Only record: do not draft the minutes afterwards.
    #[arg(long)]
    pub no_transcribe: bool,
    /// Overwrite an existing output file (and the drafts beside it).
    #[arg(long)]
    pub force: bool,
    /// Repair FILE, a WAV left by a crash (header sizes set from the file length), and exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["output", "device", "meeting", "no_live", "no_transcribe", "force"])]
    pub recover: Option<PathBuf>,
}

pub fn devices(args: &DevicesArgs) -> Result<Status> {
    let list = capture::input_devices().context("cannot list input devices")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Status::Ok);
    }
    if list.is_empty() {
        println!("no input devices found");
        return Ok(Status::Ok);
    }
    for d in &list {
        print_device(d);
    }
    Ok(Status::Ok)
}

fn print_device(d: &InputDevice) {
    let mark = if d.is_default { "*" } else { " " };
    let default = if d.is_default { " (既定)" } else { "" };
    if d.description.is_empty() || d.description == d.name {
        println!("{mark} {}{default}", d.name);
    } else {
        println!("{mark} {}{default} — {}", d.name, d.description);
    }
    if let Some(f) = d.default_format {
        println!("    録音形式: {f}");
    }
    if !d.formats.is_empty() {
        println!("    対応形式: {}", summarize(&d.formats));
    }
    if let Some(e) = &d.error {
        println!("    開けません: {e}");
    }
}

/// "i16, f32 / 1-2 ch / 8000-48000 Hz" for a device's format ranges.
fn summarize(formats: &[FormatRange]) -> String {
    let mut kinds: Vec<_> = formats.iter().map(|f| f.sample).collect();
    kinds.sort();
    kinds.dedup();
    let ch_min = formats.iter().map(|f| f.channels).min().unwrap_or(0);
    let ch_max = formats.iter().map(|f| f.channels).max().unwrap_or(0);
    let r_min = formats.iter().map(|f| f.min_rate).min().unwrap_or(0);
    let r_max = formats.iter().map(|f| f.max_rate).max().unwrap_or(0);
    let span = |a: u32, b: u32| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    format!(
        "{} / {} ch / {} Hz",
        kinds
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        span(u32::from(ch_min), u32::from(ch_max)),
        span(r_min, r_max)
    )
}

/// What the user asked for with a key (or a line on a non-terminal stdin).
enum Key {
    Pause,
    Marker(Option<String>),
    Stop,
}

/// Why the recording loop ended.
#[derive(Debug, PartialEq)]
enum Stop {
    User,
    Signal,
    Fault,
}

pub fn record(cli: &Cli, store: &ModelStore, args: &RecordArgs) -> Result<Status> {
    if let Some(path) = &args.recover {
        return recover(path);
    }
    // Checked now, not after an hour of recording.
    if let Some(p) = &args.meeting {
        MeetingSheet::load(p)?;
    }
    let output = args.output.clone().unwrap_or_else(default_output);
    let cfg = RecordConfig {
        output: output.clone(),
        device: args.device.clone(),
        force: args.force,
    };
    let live_cancel = Arc::new(AtomicBool::new(false));
    let live = (!args.no_live).then(|| LiveSetup {
        factory: live_factory(store.clone(), args.model.clone(), live_cancel.clone()),
        cancel: live_cancel.clone(),
    });

    let stop = Arc::new(AtomicBool::new(false));
    let mut sig_ids = Vec::new();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping ends the process at once; the WAV is at most
        // one checkpoint behind.
        sig_ids.push(signal_hook::flag::register_conditional_shutdown(
            sig,
            130,
            stop.clone(),
        )?);
        sig_ids.push(signal_hook::flag::register(sig, stop.clone())?);
    }

    let mut session = Session::start(&cfg, live)?;
    let raw = std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok();
    let mut screen = Screen::new(cli.quiet, raw);
    let fmt = session.format();
    let period = session
        .period_frames()
        .map(|p| format!(", 周期 {p} フレーム"))
        .unwrap_or_default();
    screen.note(&format!(
        "録音中: {} ← {} ({fmt}{period})",
        output.display(),
        session.device()
    ));
    screen.note(if raw {
        "p: 一時停止/再開  m: マーカー  Enter/Ctrl-C: 終了"
    } else {
        "p⏎: 一時停止/再開  m⏎: マーカー  ⏎ または Ctrl-C: 終了"
    });

    let keys_done = Arc::new(AtomicBool::new(false));
    let (key_tx, key_rx) = mpsc::channel();
    let key_thread = spawn_keys(raw, key_tx, keys_done.clone());
    let why = run_loop(&mut session, &mut screen, &key_rx, &stop);
    keys_done.store(true, Ordering::Release);
    screen.clear_status();
    if raw {
        // Joined only in raw mode: the line reader may sit in a blocking read forever.
        if let Some(h) = key_thread {
            let _ = h.join();
        }
        let _ = crossterm::terminal::disable_raw_mode();
        screen.raw = false;
    }

    let summary = session.finish()?;
    if why == Stop::Signal {
        screen.note("シグナルを受けて録音を終了しました");
    }
    screen.note(&format!(
        "録音を保存しました: {} ({}, {} Hz, {} ch, {:?})",
        summary.path.display(),
        summary.duration.hms(),
        summary.format.rate,
        summary.format.channels,
        summary.format.encoding
    ));
    if summary.overrun_frames > 0 || summary.xruns > 0 {
        tracing::warn!(
            "入力の取りこぼし: {} フレーム (ドライバのオーバーラン {} 回)",
            summary.overrun_frames,
            summary.xruns
        );
    }
    if !summary.markers.is_empty() {
        screen.note(&format!(
            "マーカー {} 件: {}",
            summary.markers.len(),
            record::markers_path(&summary.path).display()
        ));
    }
    if let Some(fault) = summary.fault {
        eprintln!("error: {fault}");
        eprintln!(
            "議事録は後で作れます: gijiroku transcribe {}",
            summary.path.display()
        );
        return Ok(Status::Failed);
    }
    for id in sig_ids {
        signal_hook::low_level::unregister(id);
    }
    // From here SIGTERM ends the process as usual (transcribe handles Ctrl-C itself).
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGTERM,
        143,
        Arc::new(AtomicBool::new(true)),
    )?;
    if args.no_transcribe || summary.frames == 0 {
        if summary.frames == 0 {
            screen.note("録音が空のため議事録は作りません");
        }
        return Ok(Status::Ok);
    }
    transcribe_recording(cli, store, args, &summary.path)
}

fn run_loop(
    session: &mut Session,
    screen: &mut Screen,
    keys: &mpsc::Receiver<Key>,
    stop: &AtomicBool,
) -> Stop {
    let mut warned_clip = false;
    let mut warned_silence = false;
    loop {
        if stop.load(Ordering::Acquire) {
            return Stop::Signal;
        }
        if session.has_fault() {
            return Stop::Fault;
        }
        while let Ok(k) = keys.try_recv() {
            match k {
                Key::Stop => return Stop::User,
                Key::Pause => {
                    let paused = !session.is_paused();
                    session.set_paused(paused);
                    let at = session.position().hms();
                    screen.note(&if paused {
                        format!("一時停止 ({at})")
                    } else {
                        format!("再開 ({at})")
                    });
                }
                Key::Marker(label) => match session.add_marker(label) {
                    Ok(m) => screen.note(&format!("マーカー: {} {}", m.at.hms(), m.label)),
                    Err(e) => screen.note(&format!("warning: {e}")),
                },
            }
        }
        for ev in session.live_events() {
            show_live(screen, ev);
        }
        let st = session.status();
        if !screen.status_line {
            // No status line to show warnings in: say it once when it starts.
            if st.clipping && !warned_clip {
                screen.note("警告: 入力がクリップしています (入力レベルを下げてください)");
            }
            if st.silent_for >= SILENCE_WARN && !warned_silence {
                screen.note("警告: 入力が無音です (マイクを確認してください)");
            }
        }
        warned_clip = st.clipping;
        warned_silence = st.silent_for >= SILENCE_WARN;
        screen.status(&st);
        std::thread::sleep(TICK);
    }
}

fn show_live(screen: &mut Screen, ev: LiveEvent) {
    match ev {
        LiveEvent::Ready => screen.note("ライブ文字起こし: 準備ができました"),
        LiveEvent::Line { at, text } => screen.text(&format!("[{}] {text}", at.hms())),
        LiveEvent::Skipped { from, len } => screen.note(&format!(
            "ライブ文字起こし: 処理が追いつかないため {} から {:.1} 秒分を飛ばしました (録音は続いています)",
            from.hms(),
            len.as_secs_f64()
        )),
        LiveEvent::Failed(e) => screen.note(&format!(
            "ライブ文字起こしを停止しました ({e}); 録音は続いています"
        )),
    }
}

/// Greedy decoding on the worker thread; the model is loaded there, once.
fn live_factory(store: ModelStore, model: String, cancel: Arc<AtomicBool>) -> TranscriberFactory {
    Box::new(move || {
        let path = store
            .ensure(&model, &NoProgress)
            .with_context(|| format!("model `{model}`"))?;
        let cfg = AsrConfig {
            decoding: Decoding::Greedy,
            ..AsrConfig::default()
        };
        let t = WhisperTranscriber::load(&path, &model, cfg, cancel)?.for_live();
        Ok(Box::new(t) as Box<dyn Transcriber>)
    })
}

/// Drafts the minutes of the recording with `transcribe`'s own settings and run.
fn transcribe_recording(
    cli: &Cli,
    store: &ModelStore,
    args: &RecordArgs,
    wav: &Path,
) -> Result<Status> {
    let settings = Settings::for_recording(wav, &args.model, args.meeting.as_deref(), args.force)?;
    super::transcribe::run(cli, store, &settings)
}

fn recover(path: &Path) -> Result<Status> {
    let r = record::recover(path)?;
    let secs = r.frames as f64 / f64::from(r.rate.max(1));
    if r.repaired {
        println!(
            "{}: repaired ({:.1} s, {} Hz, {} ch; header said {} bytes of audio, now {})",
            path.display(),
            secs,
            r.rate,
            r.channels,
            r.claimed_bytes,
            r.data_bytes
        );
    } else {
        println!(
            "{}: header already correct ({secs:.1} s); nothing to repair",
            path.display()
        );
    }
    Ok(Status::Ok)
}

/// `録音-20251201-143000.wav` in the current directory, local time.
fn default_output() -> PathBuf {
    PathBuf::from(format!(
        "録音-{}.wav",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ))
}

fn spawn_keys(raw: bool, tx: mpsc::Sender<Key>, done: Arc<AtomicBool>) -> Option<JoinHandle<()>> {
    let spawned = if raw {
        std::thread::Builder::new()
            .name("keys".into())
            .spawn(move || raw_keys(&tx, &done))
    } else {
        std::thread::Builder::new()
            .name("keys".into())
            .spawn(move || line_keys(&tx, &done))
    };
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("keys are not available ({e}); stop with Ctrl-C");
            None
        }
    }
}

fn raw_keys(tx: &mpsc::Sender<Key>, done: &AtomicBool) {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    while !done.load(Ordering::Acquire) {
        match event::poll(TICK) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let Ok(Event::Key(k)) = event::read() else {
            continue;
        };
        if k.kind != KeyEventKind::Press {
            continue;
        }
        let key = match k.code {
            // Raw mode turns Ctrl-C into a key instead of SIGINT.
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Stop,
            KeyCode::Char('p') | KeyCode::Char(' ') => Key::Pause,
            KeyCode::Char('m') => Key::Marker(None),
            KeyCode::Enter | KeyCode::Char('q') | KeyCode::Esc => Key::Stop,
            _ => continue,
        };
        if tx.send(key).is_err() {
            return;
        }
    }
}

/// stdin is not a terminal: commands come as lines (`p`, `m [label]`, empty or `q` to
/// stop). End of input just ends the commands, not the recording.
fn line_keys(tx: &mpsc::Sender<Key>, done: &AtomicBool) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        if done.load(Ordering::Acquire) {
            return;
        }
        let t = line.trim();
        let key = match t {
            "" | "q" => Key::Stop,
            "p" => Key::Pause,
            "m" => Key::Marker(None),
            _ => match t.strip_prefix("m ") {
                Some(label) => Key::Marker(Some(label.to_string())),
                None => continue,
            },
        };
        if tx.send(key).is_err() {
            return;
        }
    }
}

/// The terminal: one updating status line on stderr (only when stderr is a terminal and
/// not `--quiet`), notes on stderr, live text on stdout. Raw mode needs explicit `\r`.
struct Screen {
    quiet: bool,
    raw: bool,
    status_line: bool,
    shown: bool,
}

impl Screen {
    fn new(quiet: bool, raw: bool) -> Screen {
        Screen {
            quiet,
            raw,
            status_line: !quiet && std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn newline(&self, tty: bool) -> &'static str {
        if self.raw && tty {
            "\r\n"
        } else {
            "\n"
        }
    }

    fn clear_status(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }

    /// An informational message (hidden by `--quiet`).
    fn note(&mut self, msg: &str) {
        if self.quiet {
            return;
        }
        self.clear_status();
        let nl = self.newline(std::io::stderr().is_terminal());
        eprint!("{msg}{nl}");
    }

    /// Live text: a result, so on stdout and shown even with `--quiet`.
    fn text(&mut self, line: &str) {
        self.clear_status();
        let nl = self.newline(std::io::stdout().is_terminal());
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{line}{nl}");
        let _ = out.flush();
    }

    fn status(&mut self, st: &RecStatus) {
        if !self.status_line {
            return;
        }
        let mut line = format!(
            "{} {}  {:>6.1} dBFS {}",
            if st.paused {
                "⏸ 一時停止中"
            } else {
                "● 録音中"
            },
            st.recorded.hms(),
            st.rms_db.max(-99.9),
            level::bar(st.peak_db, METER_WIDTH)
        );
        if st.clipping {
            line.push_str("  クリップ!");
        }
        if st.silent_for >= SILENCE_WARN {
            line.push_str(&format!("  無音 {} 秒", st.silent_for.0 / 1000));
        }
        if st.overrun_frames > 0 {
            line.push_str(&format!("  取りこぼし {}", st.overrun_frames));
        }
        eprint!("\r\x1b[2K{line}");
        let _ = std::io::stderr().flush();
        self.shown = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gijiroku::audio::capture::SampleKind;

    #[test]
    fn hms_and_format_summary() {
        assert_eq!(Ms(3_723_999).hms(), "1:02:03");
        let f = |sample, channels, min_rate, max_rate| FormatRange {
            min_rate,
            max_rate,
            channels,
            sample,
        };
        let s = summarize(&[
            f(SampleKind::F32, 2, 8_000, 48_000),
            f(SampleKind::I16, 1, 8_000, 48_000),
            f(SampleKind::I16, 2, 44_100, 44_100),
        ]);
        assert_eq!(s, "i16, f32 / 1-2 ch / 8000-48000 Hz");
        assert!(default_output().to_string_lossy().starts_with("録音-20"));
    }
}
