//! Development harness for speaker diarization: runs VAD + [`gijiroku::diarize::run`] on
//! recordings that have a reference RTTM beside them (`NAME.wav` + `NAME.rttm`, as
//! `scripts/make_samples.py` writes them) and prints DER, speaker counts, where the errors
//! come from, and timings — without running Whisper.
//!
//! ```text
//! cargo run --release --example diarize_eval -- [--models DIR] [--config TOML] \
//!     [--speakers N] [--dump DIR] FILE.wav...
//! ```
//!
//! `--config` takes `[diarize]` settings inline, e.g. `--config 'threshold = 1.2'`.
//! `--dump DIR` also writes every window embedding (1.6 s every 0.4 s inside each speech span)
//! with its span index and the reference speaker it overlaps most, as `DIR/NAME.emb.tsv`, for offline analysis.
//! VAD spans are cached in the system temp folder (`gijiroku-diarize-eval/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use gijiroku::diarize::{self, DiarizeConfig, Encoder};
use gijiroku::types::NoProgress;
use gijiroku::vad::{self, VadConfig};
use gijiroku::{Ms, Span, SpeakerTurn};

struct Args {
    models: PathBuf,
    config: DiarizeConfig,
    dump: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut models = PathBuf::from("models");
    let mut config_text = String::new();
    let mut dump = None;
    let mut files = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--models" => models = it.next().context("--models needs a folder")?.into(),
            "--config" => {
                config_text.push_str(&it.next().context("--config needs TOML")?);
                config_text.push('\n');
            }
            "--speakers" => {
                let n = it.next().context("--speakers needs a number")?;
                config_text.push_str(&format!("speakers = {n}\n"));
            }
            "--dump" => dump = Some(it.next().context("--dump needs a folder")?.into()),
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        bail!("usage: diarize_eval [--models DIR] [--config TOML] [--speakers N] [--dump DIR] FILE.wav...");
    }
    let config: DiarizeConfig = toml::from_str(&config_text).context("--config")?;
    config.validate()?;
    Ok(Args {
        models,
        config,
        dump,
        files,
    })
}

/// VAD spans of `wav`, cached by file name, size and modification time.
fn speech(wav: &Path, pcm: &gijiroku::audio::Pcm16kMono, model: &Path) -> Result<Vec<Span>> {
    let meta = std::fs::metadata(wav)?;
    let stamp = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let dir = std::env::temp_dir().join("gijiroku-diarize-eval");
    std::fs::create_dir_all(&dir)?;
    let stem = wav.file_stem().unwrap_or_default().to_string_lossy();
    let cache = dir.join(format!("{stem}-{}-{stamp}.vad.json", meta.len()));
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Ok(spans) = serde_json::from_str(&text) {
            return Ok(spans);
        }
    }
    let spans = vad::detect(pcm, model, &VadConfig::default())?;
    std::fs::write(&cache, serde_json::to_string(&spans)?)?;
    Ok(spans)
}

/// Seconds each (reference, hypothesis) speaker pair talk at the same time, on a 10 ms grid.
fn overlap_table(
    reference: &[SpeakerTurn],
    hyp: &[SpeakerTurn],
) -> (Vec<u32>, Vec<u32>, Vec<Vec<f64>>) {
    let ids = |t: &[SpeakerTurn]| {
        let mut v: Vec<u32> = t.iter().map(|x| x.speaker.0).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (rs, hs) = (ids(reference), ids(hyp));
    let mut m = vec![vec![0.0; hs.len() + 1]; rs.len()];
    for r in reference {
        let ri = rs.binary_search(&r.speaker.0).unwrap_or(0);
        let mut covered = 0;
        for h in hyp {
            let o = r.span.overlap(&h.span).0;
            if o > 0 {
                let hi = hs.binary_search(&h.speaker.0).unwrap_or(0);
                m[ri][hi] += o as f64 / 1000.0;
                covered += o;
            }
        }
        // Last column: reference speech no hypothesis turn covers.
        m[ri][hs.len()] += r.span.len().0.saturating_sub(covered) as f64 / 1000.0;
    }
    (rs, hs, m)
}

fn dump_windows(
    out: &Path,
    name: &str,
    pcm: &gijiroku::audio::Pcm16kMono,
    spans: &[Span],
    reference: &[SpeakerTurn],
    encoder: &Encoder,
) -> Result<()> {
    const WIN: usize = 160;
    const HOP: usize = 40;
    let mut rows = String::new();
    for (si, s) in spans.iter().enumerate() {
        let first = (s.start.0 / 10) as usize;
        let frames = ((s.end.0 - s.start.0) / 10) as usize;
        if frames < 60 {
            continue;
        }
        let mel = encoder.mel_frames(pcm.samples(), first, frames);
        let bands = mel.len() / frames;
        let mut starts = Vec::new();
        let mut t = 0;
        loop {
            let st = t.min(frames.saturating_sub(WIN));
            starts.push(st);
            if st + WIN >= frames {
                break;
            }
            t += HOP;
        }
        let slices: Vec<&[f32]> = starts
            .iter()
            .map(|&st| {
                let len = WIN.min(frames - st);
                &mel[st * bands..(st + len) * bands]
            })
            .collect();
        let embs = encoder.embed(&slices, 2);
        for (&st, e) in starts.iter().zip(&embs) {
            let len = WIN.min(frames - st);
            let a = Ms((first + st) as u64 * 10);
            let b = Ms((first + st + len) as u64 * 10);
            let win = Span::new(a, b);
            // Reference speaker with most overlap, and that overlap's share.
            let mut best = (0u32, 0u64);
            for r in reference {
                let o = r.span.overlap(&win).0;
                if o > best.1 {
                    best = (r.speaker.0, o);
                }
            }
            let purity = best.1 as f64 / win.len().0.max(1) as f64;
            rows.push_str(&format!("{si}\t{}\t{}\t{}\t{purity:.3}", a.0, b.0, best.0));
            for x in e {
                rows.push_str(&format!("\t{x:.6}"));
            }
            rows.push('\n');
        }
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(format!("{name}.emb.tsv")), rows)?;
    Ok(())
}

fn run() -> Result<()> {
    let args = parse_args()?;
    let encoder = Encoder::load(&args.models.join("speaker-ge2e.safetensors"))?;
    let vad_model = args.models.join("ggml-silero-vad.bin");
    let mut total = (0.0, 0.0, 0.0);
    for wav in &args.files {
        let name = wav
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let rttm = wav.with_extension("rttm");
        let reference = diarize::parse_rttm(
            &std::fs::read_to_string(&rttm).with_context(|| rttm.display().to_string())?,
        )?;
        let (pcm, _) = gijiroku::audio::load(wav)?;
        let spans = speech(wav, &pcm, &vad_model)?;
        if let Some(dir) = &args.dump {
            dump_windows(dir, &name, &pcm, &spans, &reference, &encoder)?;
        }
        let t = Instant::now();
        let hyp = diarize::run(&pcm, &spans, &encoder, &args.config, &NoProgress)?;
        let secs = t.elapsed().as_secs_f64();
        let d25 = diarize::der(&reference, &hyp, Ms(250));
        let d0 = diarize::der(&reference, &hyp, Ms(0));
        println!(
            "{name:<24} {:>6.1}s  spk {}/{}  DER {:>5.2}% (miss {:.1} fa {:.1} conf {:.1})  collar0 {:>5.2}%  diarize {secs:.2}s",
            pcm.duration().as_secs_f64(),
            d25.hyp_speakers,
            d25.ref_speakers,
            100.0 * d25.der,
            d25.miss,
            d25.false_alarm,
            d25.confusion,
            100.0 * d0.der,
        );
        total.0 += d25.der;
        total.1 += d0.der;
        total.2 += 1.0;
        if std::env::var_os("EVAL_TABLE").is_some() {
            let (rs, hs, m) = overlap_table(&reference, &hyp);
            print!("    ref\\hyp ");
            for h in &hs {
                print!("{h:>7}");
            }
            println!("   none");
            for (r, row) in rs.iter().zip(&m) {
                print!("    {r:>7} ");
                for v in row {
                    print!("{v:>7.1}");
                }
                println!();
            }
        }
    }
    println!(
        "mean DER {:.2}% (collar 0: {:.2}%) over {} files",
        100.0 * total.0 / total.2,
        100.0 * total.1 / total.2,
        total.2
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
