//! `gijiroku transcribe`: expands the inputs into a batch, loads the models once, runs the
//! pipeline file by file with one progress display, skips files whose drafts are up to date,
//! and ends with a report (`batch-report.json` / `.csv` for batches).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use gijiroku::batch::{self, BatchReport, FileReport, FileStatus, Freshness};
use gijiroku::models::ModelStore;
use gijiroku::pipeline::{self, Engine, Job, Models, Needs, Outcome, PipelineError};
use gijiroku::types::Progress;

use super::{Bar, Cli, Settings, Status};

/// Ctrl-C (and SIGTERM) through signal-hook's flags, as `record` and `review` do (portable,
/// unlike its iterator): the first stops the current file (its outputs are never written)
/// and the run; a second one exits at once.
pub(crate) fn install_interrupt(cancel: Arc<AtomicBool>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag before this signal sets it.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&cancel))
            .context("cannot install the Ctrl-C handler")?;
        signal_hook::flag::register(sig, Arc::clone(&cancel))
            .context("cannot install the Ctrl-C handler")?;
    }
    // Says so once, from a thread (nothing is printed inside a signal handler).
    std::thread::spawn(move || {
        while !cancel.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("\n中断します: 処理中のファイルは出力せずに停止します (press Ctrl-C again to quit at once)…");
    });
    Ok(())
}

/// One JSON line on stdout per event for `--json`: `start`, `file`, `summary`.
fn emit(json: bool, value: serde_json::Value) {
    if json {
        println!("{value}");
    }
}

pub(crate) fn run(cli: &Cli, store: &ModelStore, settings: &Settings) -> Result<Status> {
    let discovery = batch::discover(
        &settings.inputs,
        settings.recursive,
        settings.output.as_deref(),
    );
    let cancel = Arc::new(AtomicBool::new(false));
    install_interrupt(cancel.clone())?;

    let display = Display::new(cli.quiet);
    let mut report = BatchReport::default();
    for (path, e) in &discovery.errors {
        display.error(&format!("error: {e}"));
        report.push(failed_row(path, e.to_string(), 0.0));
    }
    if discovery.items.is_empty() {
        // Nothing to work on and the errors say why: a report of nothing would only mislead.
        emit(
            settings.json,
            serde_json::json!({"event": "summary", "totals": &report.totals, "report": null}),
        );
        return Ok(Status::Failed);
    }

    // Decide what needs work before loading models, so a finished batch reruns instantly.
    let mut todo = Vec::new();
    for item in &discovery.items {
        let outputs: Vec<PathBuf> = settings
            .formats
            .iter()
            .map(|&f| batch::output_path(&item.input, &item.out_dir, f))
            .collect();
        match (settings.force, batch::freshness(&item.input, &outputs)) {
            (false, Freshness::UpToDate) => {
                display.println(&format!(
                    "{}: 出力は最新です (skipped; --force to redo)",
                    item.input.display()
                ));
                let row = FileReport {
                    file: item.input.clone(),
                    status: FileStatus::Skipped,
                    duration_seconds: None,
                    speakers: None,
                    processing_seconds: 0.0,
                    outputs,
                    message: Some("outputs up to date".into()),
                    stages: None,
                };
                emit(
                    settings.json,
                    serde_json::json!({"event": "file", "result": &row}),
                );
                report.push(row);
            }
            _ => todo.push(item.clone()),
        }
    }

    let mut interrupted = false;
    if !todo.is_empty() {
        let durations: Vec<Option<f64>> = todo
            .iter()
            .map(|i| {
                gijiroku::audio::probe_duration(&i.input)
                    .ok()
                    .flatten()
                    .map(|d| d.as_secs_f64())
            })
            .collect();
        let total_audio: f64 = durations.iter().flatten().sum();
        emit(
            settings.json,
            serde_json::json!({"event": "start", "files": todo.len(), "audio_seconds": total_audio}),
        );
        let loaded = Models::load(
            store,
            &settings.model,
            settings.config.asr.clone(),
            Needs {
                vad: settings.vad,
                diarize: settings.diarize,
                names: settings.sheet.as_ref().is_some_and(|s| {
                    !(s.attendees.is_empty() && s.explainers.is_empty() && s.secretariat.is_empty())
                }),
            },
            cancel.clone(),
            &*display.file_bar(),
        )?;
        // Parallel files: one decoder state per worker on the one loaded model, the cores
        // split between them.
        let jobs = settings.jobs.clamp(1, todo.len());
        let cores = settings.config.asr.effective_threads();
        let per_job = (cores / jobs).max(1);
        let mut config = settings.config.clone();
        if jobs > 1 {
            config.diarize.threads = Some(per_job);
        }
        // One job keeps the loaded transcriber (all threads); several get forks sized to
        // their share of the cores.
        let transcribers = if jobs == 1 {
            vec![loaded.transcriber]
        } else {
            (0..jobs)
                .map(|_| loaded.transcriber.fork(per_job))
                .collect::<Result<Vec<_>, _>>()?
        };
        display.start_overall(todo.len(), total_audio);
        // Each worker: its own decoder and progress bar on the shared models.
        let workers: Vec<_> = transcribers
            .into_iter()
            .map(|t| (t, display.file_bar()))
            .collect();
        let mut audio_done = 0.0;
        let mut done = 0;
        batch::schedule(
            workers,
            &todo,
            &cancel,
            |(transcriber, bar), item| {
                let mut engine = Engine {
                    transcriber,
                    vad_model: loaded.vad_model.clone(),
                    speakers: loaded.speakers.as_ref(),
                    readings: loaded.readings.as_ref(),
                    config: config.clone(),
                    formats: settings.formats.clone(),
                    template: settings.template.clone(),
                    force: settings.force,
                };
                let job = Job {
                    input: &item.input,
                    out_dir: &item.out_dir,
                    sheet: settings.sheet.as_ref(),
                };
                bar.start(&item.input.display().to_string(), 0);
                let result = pipeline::run_file(&mut engine, &job, &**bar);
                bar.finish();
                result
            },
            |n, result: Result<Outcome, PipelineError>, secs| {
                let item = &todo[n];
                let duration = &durations[n];
                let row = match result {
                    Ok(outcome) => {
                        let audio = outcome.audio.duration.as_secs_f64();
                        let mut line = format!(
                            "{}: {:.1} 秒の音声を {:.1} 秒で処理 (RTF {:.3}, 話者 {} 人) → {}",
                            item.input.display(),
                            audio,
                            secs,
                            secs / audio.max(0.001),
                            outcome.speakers,
                            outcome
                                .outputs
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        if outcome.audio.truncated {
                            line.push_str(" [warning: the file ends before its header says; read as far as it goes]");
                        }
                        display.println(&line);
                        audio_done += audio;
                        FileReport {
                            file: item.input.clone(),
                            status: FileStatus::Ok,
                            duration_seconds: Some(audio),
                            speakers: loaded.speakers.is_some().then_some(outcome.speakers),
                            processing_seconds: secs,
                            outputs: outcome.outputs,
                            message: None,
                            stages: Some(outcome.timings),
                        }
                    }
                    Err(e) if e.is_interrupted() => {
                        interrupted = true;
                        FileReport {
                            status: FileStatus::Interrupted,
                            duration_seconds: *duration,
                            message: Some("interrupted; no output written".into()),
                            ..failed_row(&item.input, String::new(), secs)
                        }
                    }
                    Err(e) => {
                        display.error(&format!("error: {e:#}"));
                        audio_done += duration.unwrap_or(0.0);
                        FileReport {
                            duration_seconds: *duration,
                            ..failed_row(&item.input, format!("{e:#}"), secs)
                        }
                    }
                };
                emit(
                    settings.json,
                    serde_json::json!({"event": "file", "result": &row}),
                );
                report.push(row);
                done += 1;
                display.set_overall(done, audio_done);
            },
        );
        // Ctrl-C between files: the workers stopped taking new ones.
        interrupted |= cancel.load(Ordering::SeqCst);
        display.finish_overall();
    }

    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    let report_paths = if discovery.is_batch || report.files.len() > 1 {
        let dir = settings
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        Some(report.write(&dir).context("writing the batch report")?)
    } else {
        None
    };
    if discovery.is_batch || report.files.len() > 1 {
        print_summary(&display, &report, report_paths.as_ref());
    }
    emit(
        settings.json,
        serde_json::json!({"event": "summary", "totals": &report.totals, "report": report_paths}),
    );
    Ok(if interrupted {
        Status::Interrupted
    } else if report.all_ok() {
        Status::Ok
    } else {
        Status::Failed
    })
}

fn failed_row(path: &Path, message: String, secs: f64) -> FileReport {
    FileReport {
        file: path.to_path_buf(),
        status: FileStatus::Failed,
        duration_seconds: None,
        speakers: None,
        processing_seconds: secs,
        outputs: vec![],
        message: Some(message),
        stages: None,
    }
}

fn print_summary(display: &Display, report: &BatchReport, paths: Option<&[PathBuf; 2]>) {
    let mut text = String::from("\n結果 (summary):\n");
    for f in &report.files {
        text.push_str(&format!(
            "  {:<11} {:>8} {:>6} {:>8.1}s  {}{}\n",
            f.status.as_str(),
            f.duration_seconds.map(hms).unwrap_or_else(|| "-".into()),
            f.speakers
                .map(|s| format!("{s}人"))
                .unwrap_or_else(|| "-".into()),
            f.processing_seconds,
            f.file.display(),
            f.message
                .as_ref()
                .filter(|_| f.status == FileStatus::Failed)
                .map(|m| format!("  ({m})"))
                .unwrap_or_default()
        ));
    }
    let counts: Vec<String> = report
        .totals
        .by_status
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    text.push_str(&format!(
        "  計: {} / 音声 {} / 処理 {:.0}s",
        counts.join(", "),
        hms(report.totals.audio_seconds),
        report.totals.processing_seconds
    ));
    if let Some([json, csv]) = paths {
        text.push_str(&format!(
            "\n  report: {} , {}",
            json.display(),
            csv.display()
        ));
    }
    display.println(&text);
}

fn hms(secs: f64) -> String {
    gijiroku::types::Ms((secs.max(0.0).round() * 1000.0) as u64).hms()
}

/// The run's terminal display: an overall bar (files, audio hours, ETA) over a per-file bar;
/// hidden for `--quiet` and when stderr is not a terminal, where only result lines print.
struct Display {
    multi: Option<MultiProgress>,
    overall: ProgressBar,
    quiet: bool,
    files: std::cell::Cell<usize>,
}

impl Display {
    fn new(quiet: bool) -> Display {
        let live = !quiet && std::io::stderr().is_terminal();
        let multi = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let overall = match &multi {
            Some(m) => m.add(ProgressBar::new(0)),
            None => ProgressBar::hidden(),
        };
        Display {
            multi,
            overall,
            quiet,
            files: std::cell::Cell::new(0),
        }
    }

    fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Errors show even with `--quiet`: quiet means no progress, not silent failures.
    fn error(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A fresh per-file bar below the overall one.
    fn file_bar(&self) -> Box<dyn Progress> {
        let bar = match &self.multi {
            Some(m) => m.add(ProgressBar::new(0)),
            None => ProgressBar::hidden(),
        };
        bar.enable_steady_tick(Duration::from_millis(250));
        Box::new(Bar { bar })
    }

    /// Overall progress counts audio milliseconds, so the ETA follows hours of audio.
    fn start_overall(&self, files: usize, audio_seconds: f64) {
        self.files.set(files);
        if let Ok(style) =
            ProgressStyle::with_template("全体 [{bar:30}] {msg} 経過 {elapsed} 残り {eta}")
        {
            self.overall.set_style(style.progress_chars("=> "));
        }
        self.overall.set_length((audio_seconds * 1000.0) as u64);
        self.set_overall(0, 0.0);
    }

    fn set_overall(&self, done_files: usize, audio_done: f64) {
        self.overall.set_position((audio_done * 1000.0) as u64);
        self.overall.set_message(format!(
            "{done_files}/{} files, {:.2}/{:.2} h",
            self.files.get(),
            audio_done / 3600.0,
            self.overall.length().unwrap_or(0) as f64 / 3.6e6
        ));
    }

    fn finish_overall(&self) {
        self.overall.finish_and_clear();
    }
}
