//! Speaker turns only, for measuring and tuning the diarization stage without recognition:
//!
//!     cargo run --release --example diarize -- OUTDIR FILE.wav... [--step MS] [--threshold X[,Y...]]
//!         [--min-speaker MS] [--speakers N] [--threads N]
//!
//! Writes OUTDIR/<name>.rttm per file and OUTDIR/timings.json ({"<name>": seconds}), which
//! scripts/devset_eval.py scores with `--rttm-only OUTDIR`. With several thresholds the audio
//! is analysed once and each threshold's turns go to OUTDIR/t<X>/ (the timings then include
//! every threshold's clustering, a small part). Speech spans come from the
//! installed Silero VAD, models from $GIJIROKU_MODELS (else ./models), as the product does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use gijiroku::diarize::{DiarizeConfig, Evidence, SpeakerModels};
use gijiroku::models::ModelStore;
use gijiroku::types::{Ms, NoProgress};
use gijiroku::vad::VadConfig;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("OUTDIR missing"))?,
    );
    let mut cfg = DiarizeConfig::default();
    let mut thresholds = Vec::new();
    let mut files = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--step" => cfg.step = Ms(val()?.parse()?),
            "--threshold" => {
                for t in val()?.split(',') {
                    thresholds.push(t.parse::<f32>()?);
                }
            }
            "--min-speaker" => cfg.min_speaker = Ms(val()?.parse()?),
            "--speakers" => cfg.speakers = Some(val()?.parse()?),
            "--threads" => cfg.threads = Some(val()?.parse()?),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if thresholds.is_empty() {
        thresholds.push(cfg.threshold);
    }
    std::fs::create_dir_all(&out)?;
    let store = ModelStore::new(ModelStore::default_dir());
    let models = SpeakerModels::load(&store.speaker_seg_path(), &store.speaker_path())?;
    let vad_cfg = VadConfig::default();
    let mut timings = BTreeMap::new();
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let (pcm, _) = gijiroku::audio::load(f)?;
        let speech = gijiroku::vad::detect(&pcm, &store.resolve_vad()?, &vad_cfg)?;
        let t = Instant::now();
        let mut evidence = Evidence::new(&cfg)?;
        evidence.add(&pcm, Ms(0), &speech, &models, &NoProgress)?;
        let cfgs: Vec<DiarizeConfig> = thresholds
            .iter()
            .map(|&threshold| DiarizeConfig {
                threshold,
                ..cfg.clone()
            })
            .collect();
        let all = evidence.turns_for(&models, &cfgs)?;
        let secs = t.elapsed().as_secs_f64();
        timings.insert(name.clone(), secs);
        for (c, turns) in cfgs.iter().zip(&all) {
            let dir = if cfgs.len() == 1 {
                out.clone()
            } else {
                out.join(format!("t{}", c.threshold))
            };
            std::fs::create_dir_all(&dir)?;
            let n = turns
                .iter()
                .map(|t| t.speaker)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            eprintln!(
                "{name} (threshold {}): {n} speakers, {} turns, {secs:.1} s",
                c.threshold,
                turns.len()
            );
            let mut rttm = String::new();
            for t in turns {
                rttm.push_str(&format!(
                    "SPEAKER {name} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>\n",
                    t.span.start.as_secs_f64(),
                    t.span.len().as_secs_f64(),
                    t.speaker
                ));
            }
            std::fs::write(dir.join(format!("{name}.rttm")), rttm)?;
        }
    }
    std::fs::write(
        out.join("timings.json"),
        serde_json::to_string_pretty(&timings)?,
    )?;
    Ok(())
}
