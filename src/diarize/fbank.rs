//! Kaldi-compatible log-mel filterbank (80 bins, 16 kHz), matching
//! `torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80, sample_frequency=16000, dither=0)`.
//!
//! Fixed configuration (the one CAM++ was trained with): 25 ms frames (400 samples),
//! 10 ms shift (160), `snip_edges = true`, DC offset removal, pre-emphasis 0.97,
//! Povey window, zero-padded to a 512-point FFT, power spectrum, mel bank from
//! 20 Hz to Nyquist, natural log floored at f32 epsilon. No energy term, no dither.
//!
//! FFT: `realfft` (on top of `rustfft`), a real-input FFT planned once per call.
//! The per-frame arithmetic is done in f64: it costs nothing at this size and
//! keeps our own rounding well below the f32 noise of the torch reference.

use realfft::RealFftPlanner;

/// Number of mel bins produced.
pub const NUM_MEL_BINS: usize = 80;
/// Sample rate the filterbank is designed for.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples per frame (25 ms).
pub const FRAME_LENGTH: usize = 400;
/// Samples between frame starts (10 ms).
pub const FRAME_SHIFT: usize = 160;
const N_FFT: usize = 512;
const PREEMPH: f64 = 0.97;
const LOW_FREQ: f64 = 20.0;
/// torch.finfo(torch.float32).eps, the floor torchaudio applies before the log.
const LOG_FLOOR: f64 = f32::EPSILON as f64;

/// Log-mel features, `frames` rows of [`NUM_MEL_BINS`] values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Fbank {
    pub frames: usize,
    pub data: Vec<f32>,
}

/// Number of frames Kaldi's `snip_edges = true` framing yields for `n` samples.
pub fn num_frames(n: usize) -> usize {
    if n < FRAME_LENGTH {
        0
    } else {
        1 + (n - FRAME_LENGTH) / FRAME_SHIFT
    }
}

fn mel_scale(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// Triangular mel filters over FFT bins 0..N_FFT/2 (the Nyquist bin gets no weight,
/// as in Kaldi/torchaudio). Stored sparse: (first bin, weights) per filter.
fn mel_banks() -> Vec<(usize, Vec<f64>)> {
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let bin_width = SAMPLE_RATE as f64 / N_FFT as f64;
    let mel_low = mel_scale(LOW_FREQ);
    let mel_high = mel_scale(nyquist);
    let delta = (mel_high - mel_low) / (NUM_MEL_BINS as f64 + 1.0);
    (0..NUM_MEL_BINS)
        .map(|m| {
            let left = mel_low + m as f64 * delta;
            let center = mel_low + (m as f64 + 1.0) * delta;
            let right = mel_low + (m as f64 + 2.0) * delta;
            let weights: Vec<(usize, f64)> = (0..N_FFT / 2)
                .filter_map(|k| {
                    let mel = mel_scale(bin_width * k as f64);
                    let up = (mel - left) / (center - left);
                    let down = (right - mel) / (right - center);
                    let w = up.min(down);
                    (w > 0.0).then_some((k, w))
                })
                .collect();
            let first = weights.first().map_or(0, |&(k, _)| k);
            (first, weights.into_iter().map(|(_, w)| w).collect())
        })
        .collect()
}

/// Povey window: Hann (symmetric, N-1 denominator) raised to 0.85.
fn povey_window() -> Vec<f64> {
    let denom = (FRAME_LENGTH - 1) as f64;
    (0..FRAME_LENGTH)
        .map(|i| {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / denom).cos();
            hann.powf(0.85)
        })
        .collect()
}

/// Compute 80-bin Kaldi fbank features of 16 kHz float samples in [-1, 1).
///
/// Fewer than 400 samples give zero frames (never an error).
pub fn fbank(samples: &[f32]) -> Fbank {
    let frames = num_frames(samples.len());
    let mut data = Vec::with_capacity(frames * NUM_MEL_BINS);
    if frames == 0 {
        return Fbank { frames, data };
    }
    let window = povey_window();
    let banks = mel_banks();
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(N_FFT);
    let mut buf = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0.0f64; N_FFT / 2 + 1];

    for f in 0..frames {
        let frame = &samples[f * FRAME_SHIFT..f * FRAME_SHIFT + FRAME_LENGTH];
        let mean = frame.iter().map(|&x| x as f64).sum::<f64>() / FRAME_LENGTH as f64;
        // Pre-emphasis runs backwards so each step still sees the un-emphasised
        // previous sample; sample 0 uses itself (torchaudio's replicate padding).
        for (b, &x) in buf.iter_mut().zip(frame) {
            *b = x as f64 - mean;
        }
        for i in (1..FRAME_LENGTH).rev() {
            buf[i] -= PREEMPH * buf[i - 1];
        }
        buf[0] -= PREEMPH * buf[0];
        for (b, w) in buf.iter_mut().zip(&window) {
            *b *= w;
        }
        buf[FRAME_LENGTH..].fill(0.0);
        // Lengths all come from the planner, so this cannot fail.
        if fft
            .process_with_scratch(&mut buf, &mut spec, &mut scratch)
            .is_err()
        {
            unreachable!("realfft buffers sized by its own planner");
        }
        for (p, c) in power.iter_mut().zip(&spec) {
            *p = c.norm_sqr();
        }
        for (first, w) in &banks {
            let e: f64 = w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum();
            data.push(e.max(LOG_FLOOR).ln() as f32);
        }
    }
    Fbank { frames, data }
}

/// Subtract the per-bin mean over time (utterance-level CMN), in place.
///
/// `feats` is `frames` rows of [`NUM_MEL_BINS`]; extra trailing values (if
/// `feats.len()` is not `frames * 80`) are left untouched, and `frames == 0`
/// is a no-op.
pub fn cmn(feats: &mut [f32], frames: usize) {
    let frames = frames.min(feats.len() / NUM_MEL_BINS);
    if frames == 0 {
        return;
    }
    let rows = &mut feats[..frames * NUM_MEL_BINS];
    let mut mean = [0.0f64; NUM_MEL_BINS];
    for row in rows.chunks_exact(NUM_MEL_BINS) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    for m in &mut mean {
        *m /= frames as f64;
    }
    for row in rows.chunks_exact_mut(NUM_MEL_BINS) {
        for (x, m) in row.iter_mut().zip(&mean) {
            *x = (*x as f64 - m) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_silent_inputs() {
        assert_eq!(fbank(&[]).frames, 0);
        assert_eq!(fbank(&[0.1; 399]).frames, 0);
        assert_eq!(num_frames(400), 1);
        assert_eq!(num_frames(560), 2);
        // Digital silence hits the log floor, not -inf or NaN.
        let fb = fbank(&[0.0; 16000]);
        assert_eq!(fb.frames, 98);
        let floor = f32::EPSILON.ln();
        assert!(fb.data.iter().all(|&x| (x - floor).abs() < 1e-5));
    }
}
