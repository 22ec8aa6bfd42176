//! Batch work over many recordings: [`discover`] expands files, directories and glob patterns
//! into [`BatchItem`]s whose outputs mirror the input tree, [`freshness`] tells whether an
//! item's outputs are already up to date (so a rerun skips it), and [`BatchReport`] is the
//! summary written as `batch-report.json` and `batch-report.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::export::Format;
use crate::output::{write_atomic, OutputError};

/// File extensions (lower case) picked up from directories and globs. Files named
/// explicitly are always tried, whatever their extension.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "mp3", "m4a", "aac", "mp4", "flac", "ogg", "oga"];

/// Report file names, written into the output directory.
pub const REPORT_JSON: &str = "batch-report.json";
pub const REPORT_CSV: &str = "batch-report.csv";

/// One recording to process and where its outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub input: PathBuf,
    /// Directory its outputs are written to.
    pub out_dir: PathBuf,
}

/// An argument that yielded nothing to process.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoverError {
    #[error("{}: 音声ファイルがありません (no audio files in this folder: {}){hint}", path.display(), AUDIO_EXTENSIONS.join(", "))]
    EmptyDir { path: PathBuf, hint: &'static str },
    #[error("`{pattern}`: no files match this pattern")]
    NoMatch { pattern: String },
    #[error("`{pattern}`: invalid glob pattern: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("{}: cannot read directory: {reason}", path.display())]
    ReadDir { path: PathBuf, reason: String },
}

/// What discovery found: items in a stable order, problems with single arguments, and
/// output names claimed twice (`a.wav` and `a.mp3` in one folder both want `a.docx`).
#[derive(Debug, Default)]
pub struct Discovery {
    pub items: Vec<BatchItem>,
    pub errors: Vec<(PathBuf, DiscoverError)>,
    /// True when a directory or pattern was given (the run is a batch even with one file).
    pub is_batch: bool,
}

/// Expands `args`: a file is taken as is (a missing one too, so the pipeline reports it);
/// a directory yields its audio files (all levels with `recursive`); a pattern with `*`, `?`
/// or `[` that names no existing path is globbed. With `out_root`, outputs mirror the input
/// tree below it (a directory's files keep their sub-folders, a pattern's files their path
/// below the pattern's fixed prefix); without it, outputs go next to each input.
pub fn discover(args: &[PathBuf], recursive: bool, out_root: Option<&Path>) -> Discovery {
    let mut d = Discovery {
        is_batch: args.len() > 1,
        ..Discovery::default()
    };
    let push = |d: &mut Discovery, input: PathBuf, base: Option<&Path>| {
        let out_dir = match out_root {
            Some(root) => {
                let rel_dir = base
                    .and_then(|b| input.parent()?.strip_prefix(b).ok())
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                root.join(rel_dir)
            }
            None => parent_dir(&input),
        };
        if !d.items.iter().any(|i| i.input == input) {
            d.items.push(BatchItem { input, out_dir });
        }
    };
    for arg in args {
        let text = arg.to_string_lossy();
        if arg.is_dir() {
            d.is_batch = true;
            let mut files = Vec::new();
            if let Err(reason) = walk(arg, recursive, &mut files) {
                d.errors.push((
                    arg.clone(),
                    DiscoverError::ReadDir {
                        path: arg.clone(),
                        reason,
                    },
                ));
                continue;
            }
            if files.is_empty() {
                let hint = if recursive {
                    ""
                } else {
                    "; サブフォルダーも探すには --recursive (add --recursive to look in sub-folders)"
                };
                d.errors.push((
                    arg.clone(),
                    DiscoverError::EmptyDir {
                        path: arg.clone(),
                        hint,
                    },
                ));
            }
            for f in files {
                push(&mut d, f, Some(arg));
            }
        } else if !arg.exists() && text.contains(['*', '?', '[']) {
            d.is_batch = true;
            match glob_files(&text) {
                Ok(files) if files.is_empty() => d.errors.push((
                    arg.clone(),
                    DiscoverError::NoMatch {
                        pattern: text.into_owned(),
                    },
                )),
                Ok(files) => {
                    let base = glob_base(&text);
                    for f in files {
                        push(&mut d, f, Some(&base));
                    }
                }
                Err(reason) => d.errors.push((
                    arg.clone(),
                    DiscoverError::BadPattern {
                        pattern: text.into_owned(),
                        reason,
                    },
                )),
            }
        } else {
            push(&mut d, arg.clone(), None);
        }
    }
    d
}

fn parent_dir(input: &Path) -> PathBuf {
    match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Audio files under `dir`, sorted by path so runs are repeatable.
fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            if recursive {
                // An unreadable sub-folder must not hide the rest of the tree.
                if let Err(e) = walk(&p, true, out) {
                    tracing::warn!(dir = %p.display(), error = %e, "skipping unreadable folder");
                }
            }
        } else if is_audio(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let paths = glob::glob(pattern).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file() && is_audio(p))
        .collect();
    files.sort();
    Ok(files)
}

/// The directory part of a pattern before its first wildcard (`rec/2025/*/*.wav` → `rec/2025`).
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    for comp in Path::new(pattern).components() {
        if comp.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        base.push(comp);
    }
    if base.as_os_str().is_empty() || base == Path::new(pattern) {
        PathBuf::from(".")
    } else {
        base
    }
}

/// The output file of `input` in `format` under `out_dir`: `<out_dir>/<stem>.<ext>`.
pub fn output_path(input: &Path, out_dir: &Path, format: Format) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "out".into());
    let mut p = out_dir.join(stem);
    p.set_extension(format.extension());
    p
}

/// Whether an item's outputs already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// None of the outputs exist: process it.
    Missing,
    /// Every output exists and is newer than the input: a rerun skips it.
    UpToDate,
    /// Some outputs exist but not all, or the input changed since: only `--force` redoes it.
    Stale,
}

pub fn freshness(input: &Path, outputs: &[PathBuf]) -> Freshness {
    let existing: Vec<&PathBuf> = outputs.iter().filter(|p| p.exists()).collect();
    if existing.is_empty() {
        return Freshness::Missing;
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let input_time = modified(input);
    let all_newer = existing.len() == outputs.len()
        && existing
            .iter()
            .all(|o| matches!((modified(o), input_time), (Some(o), Some(i)) if o >= i));
    if all_newer {
        Freshness::UpToDate
    } else {
        Freshness::Stale
    }
}

/// How one file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Ok,
    Skipped,
    Failed,
    Interrupted,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Ok => "ok",
            FileStatus::Skipped => "skipped",
            FileStatus::Failed => "failed",
            FileStatus::Interrupted => "interrupted",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub file: PathBuf,
    pub status: FileStatus,
    /// Length of the recording in seconds, when known.
    pub duration_seconds: Option<f64>,
    /// Distinct speakers found, when processed with speaker turns.
    pub speakers: Option<usize>,
    /// Wall time spent on this file in seconds.
    pub processing_seconds: f64,
    pub outputs: Vec<PathBuf>,
    /// The problem, for failed and skipped files.
    pub message: Option<String>,
    /// Seconds per stage, for processed files (the benchmark and the dev-set table read them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<crate::pipeline::Timings>,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub files: Vec<FileReport>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Count per status name.
    pub by_status: BTreeMap<String, usize>,
    pub audio_seconds: f64,
    pub processing_seconds: f64,
}

impl BatchReport {
    pub fn push(&mut self, row: FileReport) {
        *self
            .totals
            .by_status
            .entry(row.status.as_str().to_string())
            .or_default() += 1;
        if row.status == FileStatus::Ok {
            self.totals.audio_seconds += row.duration_seconds.unwrap_or(0.0);
        }
        self.totals.processing_seconds += row.processing_seconds;
        self.files.push(row);
    }

    /// True when every file was processed or already up to date.
    pub fn all_ok(&self) -> bool {
        self.files
            .iter()
            .all(|f| matches!(f.status, FileStatus::Ok | FileStatus::Skipped))
    }

    /// RFC 4180 CSV with a header line, UTF-8 with a BOM so Excel shows the Japanese
    /// file names correctly.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "\u{feff}file,status,duration_seconds,speakers,processing_seconds,outputs,message\n",
        );
        for f in &self.files {
            let cells = [
                f.file.display().to_string(),
                f.status.as_str().to_string(),
                f.duration_seconds
                    .map(|d| format!("{d:.1}"))
                    .unwrap_or_default(),
                f.speakers.map(|s| s.to_string()).unwrap_or_default(),
                format!("{:.1}", f.processing_seconds),
                f.outputs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
                f.message.clone().unwrap_or_default(),
            ];
            out.push_str(
                &cells
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        out
    }

    /// Writes both report files into `dir` (replacing earlier reports: they describe the
    /// latest run) and returns their paths.
    pub fn write(&self, dir: &Path) -> Result<[PathBuf; 2], OutputError> {
        let json = dir.join(REPORT_JSON);
        let csv = dir.join(REPORT_CSV);
        write_atomic(&json, true, |w| {
            serde_json::to_writer_pretty(&mut *w, self).map_err(std::io::Error::from)?;
            w.write_all(b"\n")
        })?;
        write_atomic(&csv, true, |w| w.write_all(self.to_csv().as_bytes()))?;
        Ok([json, csv])
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn directories_mirror_their_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rec");
        touch(&root.join("a.wav"));
        touch(&root.join("week2/b.MP3"));
        touch(&root.join("notes.txt"));
        touch(&root.join(".hidden/c.wav"));
        let out = tmp.path().join("out");

        let flat = discover(std::slice::from_ref(&root), false, Some(&out));
        assert!(flat.is_batch);
        assert_eq!(
            flat.items,
            vec![BatchItem {
                input: root.join("a.wav"),
                out_dir: out.clone()
            }]
        );

        let deep = discover(std::slice::from_ref(&root), true, Some(&out));
        let got: Vec<(PathBuf, PathBuf)> = deep
            .items
            .into_iter()
            .map(|i| (i.input, i.out_dir))
            .collect();
        assert_eq!(
            got,
            vec![
                (root.join("a.wav"), out.clone()),
                (root.join("week2/b.MP3"), out.join("week2"))
            ]
        );
    }

    #[test]
    fn globs_files_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rec");
        touch(&root.join("x/1.wav"));
        touch(&root.join("y/2.flac"));
        let out = tmp.path().join("out");
        let pattern = PathBuf::from(format!("{}/*/*.*", root.display()));
        let d = discover(&[pattern], false, Some(&out));
        let dirs: Vec<PathBuf> = d.items.iter().map(|i| i.out_dir.clone()).collect();
        assert_eq!(dirs, vec![out.join("x"), out.join("y")]);

        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let missing_pattern = PathBuf::from(format!("{}/*.wav", empty.display()));
        let d = discover(
            &[empty.clone(), missing_pattern, root.join("x/1.wav")],
            false,
            None,
        );
        assert_eq!(d.errors.len(), 2, "{:?}", d.errors);
        assert!(d.errors[0].1.to_string().contains("--recursive"));
        assert!(matches!(d.errors[1].1, DiscoverError::NoMatch { .. }));
        assert_eq!(
            d.items,
            vec![BatchItem {
                input: root.join("x/1.wav"),
                out_dir: root.join("x")
            }]
        );
    }

    #[test]
    fn freshness_follows_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("a.wav");
        touch(&input);
        let outs = vec![tmp.path().join("a.docx"), tmp.path().join("a.json")];
        assert_eq!(freshness(&input, &outs), Freshness::Missing);
        touch(&outs[0]);
        assert_eq!(freshness(&input, &outs), Freshness::Stale);
        touch(&outs[1]);
        assert_eq!(freshness(&input, &outs), Freshness::UpToDate);
        // The recording changed after the drafts were written.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&input)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(freshness(&input, &outs), Freshness::Stale);
    }

    #[test]
    fn report_totals_and_csv_quoting() {
        let mut r = BatchReport::default();
        r.push(FileReport {
            file: "会議,1.wav".into(),
            status: FileStatus::Ok,
            duration_seconds: Some(60.0),
            speakers: Some(3),
            processing_seconds: 12.0,
            outputs: vec!["o/会議,1.docx".into(), "o/会議,1.json".into()],
            message: None,
            stages: None,
        });
        r.push(FileReport {
            file: "bad.wav".into(),
            status: FileStatus::Failed,
            duration_seconds: None,
            speakers: None,
            processing_seconds: 0.1,
            outputs: vec![],
            message: Some("bad.wav: not \"audio\"".into()),
            stages: None,
        });
        assert!(!r.all_ok());
        assert_eq!(r.totals.by_status["ok"], 1);
        assert_eq!(r.totals.audio_seconds, 60.0);
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "\"会議,1.wav\",ok,60.0,3,12.0,\"o/会議,1.docx;o/会議,1.json\","
        );
        assert_eq!(
            lines[2],
            "bad.wav,failed,,,0.1,,\"bad.wav: not \"\"audio\"\"\""
        );
    }
}

/// The `-j` scheduler: `workers` threads (each with its own state, e.g. a decoder) take
/// `items` in order, one at a time, until all are taken or `cancel` is set; `done` gets
/// each result on the calling thread as it arrives, with its item's index and the seconds
/// it took. A panic in a worker is passed on.
pub fn schedule<W, T, R>(
    workers: Vec<W>,
    items: &[T],
    cancel: &std::sync::atomic::AtomicBool,
    work: impl Fn(&mut W, &T) -> R + Sync,
    mut done: impl FnMut(usize, R, f64),
) where
    W: Send,
    T: Sync,
    R: Send,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, R, f64)>();
    std::thread::scope(|scope| {
        for mut state in workers {
            let (tx, next, work) = (tx.clone(), &next, &work);
            scope.spawn(move || loop {
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(n) else { break };
                let t0 = std::time::Instant::now();
                let result = work(&mut state, item);
                if tx.send((n, result, t0.elapsed().as_secs_f64())).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (n, result, secs) in rx {
            done(n, result, secs);
        }
    });
}

#[cfg(test)]
mod schedule_tests {
    use super::schedule;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[test]
    fn every_item_once_across_workers() {
        let items: Vec<u32> = (0..50).collect();
        let mut seen = vec![0u32; 50];
        let per_worker = [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ];
        schedule(
            vec![0usize, 1, 2],
            &items,
            &AtomicBool::new(false),
            |w, item| {
                per_worker[*w].fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(1));
                item * 2
            },
            |n, r, _| {
                assert_eq!(r, items[n] * 2);
                seen[n] += 1;
            },
        );
        assert!(seen.iter().all(|c| *c == 1), "{seen:?}");
        let total: usize = per_worker.iter().map(|c| c.load(Ordering::SeqCst)).sum();
        assert_eq!(total, 50);
    }

    #[test]
    fn cancel_stops_taking_items() {
        let items: Vec<u32> = (0..100).collect();
        let cancel = AtomicBool::new(false);
        let mut results = 0;
        schedule(
            vec![(), ()],
            &items,
            &cancel,
            |_, _| cancel.store(true, Ordering::SeqCst),
            |_, _, _| results += 1,
        );
        assert!(results <= 2, "{results} items after cancel");
    }
}
