//! Every input format the README promises, through the public [`gijiroku::audio::load`]: the
//! decoded 16 kHz mono signal has the right length, and a 1000 Hz tone at half scale comes out
//! as 1000 Hz at half scale (nothing dropped, doubled, pitch-shifted or clipped).
//!
//! WAV variants hound writes are generated in code; the other codecs are small committed
//! files made by `tests/fixtures/make.sh` (sox, ffmpeg) — see `tests/fixtures/README.md`.

mod common;

use std::f64::consts::PI;
use std::path::Path;

use gijiroku::audio::{self, Pcm16kMono};

/// Every fixture's tone.
const TONE_HZ: f64 = 1000.0;
const TONE_AMPLITUDE: f64 = 0.5;

/// What a 16 kHz signal holds at [`TONE_HZ`]: amplitude of the best-fitting sinusoid and the
/// RMS of what is left, over the middle of the signal (codec start-up and the resampler's
/// edges excluded); frequency from zero crossings.
struct Tone {
    amplitude: f64,
    residual: f64,
    freq: f64,
}

fn analyse(pcm: &Pcm16kMono) -> Tone {
    let s = pcm.samples();
    // Whole periods (16 samples at 16 kHz) from the middle half.
    let from = s.len() / 4;
    let n = (s.len() / 2) / 16 * 16;
    let x: Vec<f64> = s[from..from + n].iter().map(|&v| f64::from(v)).collect();
    let w = 2.0 * PI * TONE_HZ / f64::from(audio::SAMPLE_RATE);
    let (mut a, mut b) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        a += v * (w * i as f64).cos();
        b += v * (w * i as f64).sin();
    }
    a *= 2.0 / n as f64;
    b *= 2.0 / n as f64;
    let residual = (x
        .iter()
        .enumerate()
        .map(|(i, v)| (v - a * (w * i as f64).cos() - b * (w * i as f64).sin()).powi(2))
        .sum::<f64>()
        / n as f64)
        .sqrt();
    // Upward zero crossings, interpolated between samples: periods between the first and last.
    let crossings: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, p)| p[0] < 0.0 && p[1] >= 0.0)
        .map(|(i, p)| i as f64 + p[0] / (p[0] - p[1]))
        .collect();
    let freq = match (crossings.first(), crossings.last()) {
        (Some(first), Some(last)) if last > first => {
            (crossings.len() - 1) as f64 * f64::from(audio::SAMPLE_RATE) / (last - first)
        }
        _ => 0.0,
    };
    Tone {
        amplitude: (a * a + b * b).sqrt(),
        residual,
        freq,
    }
}

/// Loads `path` and checks rate, channels, length (seconds ± `tolerance`) and the tone
/// (`max_residual` relative to the amplitude: codec noise).
fn check(path: &Path, rate: u32, channels: usize, seconds: f64, tolerance: f64, max_residual: f64) {
    let name = path.display();
    let (pcm, info) = audio::load(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.source_rate, rate, "{name}: {info:?}");
    assert_eq!(info.channels, channels, "{name}: {info:?}");
    assert!(!info.truncated, "{name}");
    let got = pcm.samples().len() as f64 / f64::from(audio::SAMPLE_RATE);
    assert!(
        (got - seconds).abs() <= tolerance,
        "{name}: {got:.4} s decoded, expected {seconds} s ± {tolerance}"
    );
    assert!(
        (info.duration.as_secs_f64() - got).abs() < 0.001,
        "{name}: info.duration {:?} vs {got}",
        info.duration
    );
    let t = analyse(&pcm);
    assert!(
        (t.freq - TONE_HZ).abs() < 1.0,
        "{name}: tone at {:.1} Hz",
        t.freq
    );
    assert!(
        (t.amplitude - TONE_AMPLITUDE).abs() < 0.05,
        "{name}: amplitude {:.3}",
        t.amplitude
    );
    assert!(
        t.residual / t.amplitude < max_residual,
        "{name}: residual {:.4} ({:.1}% of the tone)",
        t.residual,
        100.0 * t.residual / t.amplitude
    );
    assert!(pcm
        .samples()
        .iter()
        .all(|v| v.is_finite() && v.abs() <= 1.0));
}

// Lossless codecs must keep the tone to within quantisation noise; lossy ones within a few %.
const LOSSLESS: f64 = 0.01;
const COMPANDED: f64 = 0.05; // 8-bit a-law / μ-law, 4-bit ADPCM
const LOSSY: f64 = 0.10;

#[test]
fn mp3_44k1_stereo() {
    // sox/LAME pads the end to whole frames and writes no gapless info: 1.044 s.
    check(
        &common::fixture("tone-44k1-stereo.mp3"),
        44_100,
        2,
        1.02,
        0.04,
        LOSSY,
    );
}

#[test]
fn m4a_aac_48k_mono() {
    check(
        &common::fixture("tone-48k-mono.m4a"),
        48_000,
        1,
        1.0,
        0.03,
        LOSSY,
    );
}

#[test]
fn m4a_alac_16k_mono() {
    check(
        &common::fixture("tone-16k-alac.m4a"),
        16_000,
        1,
        0.5,
        0.001,
        LOSSLESS,
    );
}

#[test]
fn ogg_vorbis_22k05_stereo() {
    check(
        &common::fixture("tone-22k05-stereo.ogg"),
        22_050,
        2,
        1.0,
        0.01,
        LOSSY,
    );
}

#[test]
fn flac_16k_16bit_and_32k_24bit() {
    check(
        &common::fixture("tone-16k-mono.flac"),
        16_000,
        1,
        1.0,
        0.001,
        LOSSLESS,
    );
    check(
        &common::fixture("tone-32k-24bit.flac"),
        32_000,
        1,
        0.5,
        0.001,
        LOSSLESS,
    );
}

/// WAV encodings hound does not read go through Symphonia.
#[test]
fn wav_alaw_ulaw_adpcm_f64() {
    check(
        &common::fixture("tone-8k-alaw.wav"),
        8_000,
        1,
        1.0,
        0.001,
        COMPANDED,
    );
    check(
        &common::fixture("tone-8k-ulaw.wav"),
        8_000,
        1,
        1.0,
        0.001,
        COMPANDED,
    );
    // ADPCM is written in whole blocks: up to one block of padding at the end.
    check(
        &common::fixture("tone-16k-ima-adpcm.wav"),
        16_000,
        1,
        1.0,
        0.04,
        COMPANDED,
    );
    check(
        &common::fixture("tone-16k-ms-adpcm.wav"),
        16_000,
        1,
        1.0,
        0.04,
        COMPANDED,
    );
    check(
        &common::fixture("tone-8k-f64.wav"),
        8_000,
        1,
        0.25,
        0.001,
        LOSSLESS,
    );
}

/// PCM WAV the way recorders write it: every sample format hound knows, at telephone, CD and
/// video rates, mono to 5.1; built in code.
#[test]
fn wav_pcm_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let encodings: [(u16, hound::SampleFormat); 5] = [
        (8, hound::SampleFormat::Int),
        (16, hound::SampleFormat::Int),
        (24, hound::SampleFormat::Int),
        (32, hound::SampleFormat::Int),
        (32, hound::SampleFormat::Float),
    ];
    for (bits, format) in encodings {
        for rate in [8_000, 44_100, 48_000] {
            for channels in [1, 2, 6] {
                let p = dir
                    .path()
                    .join(format!("tone_{bits}_{format:?}_{rate}_{channels}ch.wav"));
                write_tone_wav(&p, rate, channels, bits, format, 0.75);
                // 8-bit PCM has only 48 dB of range.
                let noise = if bits == 8 { COMPANDED } else { LOSSLESS };
                check(&p, rate, usize::from(channels), 0.75, 0.0001, noise);
            }
        }
    }
}

fn write_tone_wav(
    path: &Path,
    rate: u32,
    channels: u16,
    bits: u16,
    format: hound::SampleFormat,
    seconds: f64,
) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let full_scale = f64::from(1u32 << (bits - 1));
    for i in 0..(seconds * f64::from(rate)).round() as usize {
        let v = TONE_AMPLITUDE * (2.0 * PI * TONE_HZ * i as f64 / f64::from(rate)).sin();
        for _ in 0..channels {
            match (format, bits) {
                (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                (_, 8) => w.write_sample((v * full_scale).round() as i8).unwrap(),
                (_, 16) => w.write_sample((v * full_scale).round() as i16).unwrap(),
                _ => w.write_sample((v * full_scale).round() as i32).unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

/// The header's length is what the batch progress and ETA use before decoding.
#[test]
fn probe_duration_matches_decoded_length() {
    for (name, secs) in [
        ("tone-16k-mono.flac", 1.0),
        ("tone-8k-alaw.wav", 1.0),
        ("tone-22k05-stereo.ogg", 1.0),
    ] {
        let p = common::fixture(name);
        let d = audio::probe_duration(&p)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no duration"));
        assert!((d.as_secs_f64() - secs).abs() < 0.01, "{name}: {d:?}");
    }
    // 1,050,659 samples at 16 kHz.
    let d = audio::probe_duration(&common::sample("meeting.wav"))
        .unwrap()
        .unwrap();
    assert_eq!(d.0, 65_666);
}
