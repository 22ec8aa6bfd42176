//! The GE2E speaker encoder (resemblyzer's model) in plain Rust: [`Encoder`] turns 16 kHz
//! audio into a 40-band mel power spectrogram exactly as resemblyzer/librosa do, and windows
//! of that spectrogram into L2-normalised 256-d [`Embedding`]s.
//!
//! Speed comes from batching: many windows run through the LSTM together, so each time step
//! is one matrix-matrix product (`matrixmultiply::sgemm`), the input projections of a whole
//! layer are one product up front, and batches are spread over threads.

use std::path::Path;

use super::weights::{EncoderWeights, EMBEDDING, GATES, HIDDEN, LAYERS, MEL_BANDS};
use super::DiarizeError;

/// resemblyzer's front end: 16 kHz, 25 ms (400-sample) windows, 10 ms (160-sample) hop.
pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP_SAMPLES: usize = 160;
/// Milliseconds per mel frame.
pub const FRAME_MS: u64 = 10;
/// Frames in one of resemblyzer's partial utterances (1.6 s), the length it was trained on.
pub const PARTIAL_FRAMES: usize = 160;
const N_BINS: usize = N_FFT / 2 + 1;
/// Columns of the real DFT matrix: cosine then sine parts of every bin.
const DFT_COLS: usize = 2 * N_BINS;
/// Most windows run through the LSTM together: the recurrent product re-packs the 1 MB
/// weight matrix every step, so larger batches amortise it (measured: 128 is ~20% faster
/// than 32). Buffers are `TIME_CHUNK × MAX_BATCH × 1024` floats (8 MB) per thread.
const MAX_BATCH: usize = 128;
/// Time steps whose input projections are computed in one product.
const TIME_CHUNK: usize = 16;
/// Mel frames computed per matrix product.
const MEL_CHUNK: usize = 512;

/// A 256-d, L2-normalised speaker embedding (all entries ≥ 0, as GE2E ends with a ReLU).
pub type Embedding = [f32; EMBEDDING];

/// The loaded GE2E model plus the precomputed front-end matrices.
pub struct Encoder {
    weights: EncoderWeights,
    /// `N_FFT × DFT_COLS`: Hann window folded into the real DFT.
    dft: Vec<f32>,
    /// `N_BINS × MEL_BANDS`: librosa's Slaney mel filter bank, transposed.
    mel_fb: Vec<f32>,
}

impl Encoder {
    /// Loads the safetensors file written by [`super::weights::convert_resemblyzer`].
    pub fn load(path: &Path) -> Result<Encoder, DiarizeError> {
        let bytes = std::fs::read(path).map_err(|source| DiarizeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Encoder::from_safetensors(&bytes, path)
    }

    /// Builds the encoder from safetensors bytes; `path` is only for error messages.
    pub fn from_safetensors(bytes: &[u8], path: &Path) -> Result<Encoder, DiarizeError> {
        let weights = EncoderWeights::from_safetensors(bytes, path)?;
        Ok(Encoder {
            weights,
            dft: dft_matrix(),
            mel_fb: mel_filter_bank(),
        })
    }

    /// Number of mel frames librosa (`center=True`) gives for `n` samples.
    pub fn frame_count(n_samples: usize) -> usize {
        1 + n_samples / HOP_SAMPLES
    }

    /// The whole mel power spectrogram of `samples` (frames × 40, row-major), identical to
    /// resemblyzer's `wav_to_mel_spectrogram` (librosa, zero padding at the edges).
    pub fn mel_spectrogram(&self, samples: &[f32]) -> Vec<f32> {
        self.mel_frames(samples, 0, Encoder::frame_count(samples.len()))
    }

    /// Mel frames `first..first + count` of the recording, frame `i` centred on sample
    /// `160 i`; audio outside the recording counts as zeros. Lets callers compute only the
    /// frames of speech regions while keeping one global frame grid.
    pub fn mel_frames(&self, samples: &[f32], first: usize, count: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; count * MEL_BANDS];
        let mut frames = vec![0.0f32; MEL_CHUNK * N_FFT];
        let mut spec = vec![0.0f32; MEL_CHUNK * DFT_COLS];
        let mut power = vec![0.0f32; MEL_CHUNK * N_BINS];
        let mut done = 0;
        while done < count {
            let n = (count - done).min(MEL_CHUNK);
            for r in 0..n {
                let centre = (first + done + r) * HOP_SAMPLES;
                let row = &mut frames[r * N_FFT..(r + 1) * N_FFT];
                for (j, v) in row.iter_mut().enumerate() {
                    // Sample index centre - N_FFT/2 + j, zero outside the recording.
                    let idx = (centre + j).checked_sub(N_FFT / 2);
                    *v = idx.and_then(|i| samples.get(i)).copied().unwrap_or(0.0);
                }
            }
            sgemm(
                n, N_FFT, DFT_COLS, &frames, N_FFT, 1, &self.dft, DFT_COLS, 1, 0.0, &mut spec,
                DFT_COLS,
            );
            for r in 0..n {
                let s = &spec[r * DFT_COLS..(r + 1) * DFT_COLS];
                let p = &mut power[r * N_BINS..(r + 1) * N_BINS];
                for k in 0..N_BINS {
                    p[k] = s[k] * s[k] + s[N_BINS + k] * s[N_BINS + k];
                }
            }
            let dst = &mut out[done * MEL_BANDS..(done + n) * MEL_BANDS];
            sgemm(
                n,
                N_BINS,
                MEL_BANDS,
                &power,
                N_BINS,
                1,
                &self.mel_fb,
                MEL_BANDS,
                1,
                0.0,
                dst,
                MEL_BANDS,
            );
            done += n;
        }
        out
    }

    /// Embeds mel windows (each `frames × 40`, any length ≥ 1 frame) with the LSTM's state
    /// at each window's last frame, as resemblyzer's forward pass does. `threads` ≥ 1.
    pub fn embed(&self, windows: &[&[f32]], threads: usize) -> Vec<Embedding> {
        // Sort by length so a batch pads little; results go back to the caller's order.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(windows[i].len()));
        let threads = threads.max(1);
        // Split evenly so every thread gets work even when there are few windows.
        let per_thread = windows.len().div_ceil(threads).max(1);
        let batch = per_thread.div_ceil(per_thread.div_ceil(MAX_BATCH));
        let batches: Vec<&[usize]> = order.chunks(batch).collect();
        let threads = threads.min(batches.len().max(1));
        let mut out = vec![[0.0f32; EMBEDDING]; windows.len()];
        let results: Vec<Vec<(usize, Embedding)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let batches = &batches;
                    scope.spawn(move || {
                        let mut res = Vec::new();
                        for batch in batches.iter().skip(t).step_by(threads) {
                            let items: Vec<&[f32]> = batch.iter().map(|&i| windows[i]).collect();
                            let emb = self.embed_batch(&items);
                            res.extend(batch.iter().copied().zip(emb));
                        }
                        res
                    })
                })
                .collect();
            // A worker only panics on a bug; surface it rather than return partial output.
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for (i, e) in results.into_iter().flatten() {
            out[i] = e;
        }
        out
    }

    /// One batch through the 3-layer LSTM, the linear layer, ReLU and L2 normalisation.
    /// Time runs in chunks through all three layers in turn, so buffers hold `TIME_CHUNK`
    /// steps rather than whole windows.
    fn embed_batch(&self, windows: &[&[f32]]) -> Vec<Embedding> {
        let b = windows.len();
        let lens: Vec<usize> = windows
            .iter()
            .map(|w| (w.len() / MEL_BANDS).max(1))
            .collect();
        let t_max = lens.iter().copied().max().unwrap_or(1);
        let mut h = vec![vec![0.0f32; b * HIDDEN]; LAYERS];
        let mut c = vec![vec![0.0f32; b * HIDDEN]; LAYERS];
        let mut x = vec![0.0f32; TIME_CHUNK * b * MEL_BANDS];
        let mut gates = vec![0.0f32; TIME_CHUNK * b * GATES];
        let mut y_in = vec![0.0f32; TIME_CHUNK * b * HIDDEN];
        let mut y_out = vec![0.0f32; TIME_CHUNK * b * HIDDEN];
        let mut final_h = vec![0.0f32; b * HIDDEN];
        for t0 in (0..t_max).step_by(TIME_CHUNK) {
            let tc = TIME_CHUNK.min(t_max - t0);
            // Time-major input rows (t, i): window i's frame t0 + t, zeros past its end.
            x.fill(0.0);
            for (i, w) in windows.iter().enumerate() {
                for t in 0..tc {
                    if let Some(frame) = w.get((t0 + t) * MEL_BANDS..(t0 + t + 1) * MEL_BANDS) {
                        let o = (t * b + i) * MEL_BANDS;
                        x[o..o + MEL_BANDS].copy_from_slice(frame);
                    }
                }
            }
            for (layer, (w_ih, w_hh, bias)) in self.weights.lstm.iter().enumerate() {
                let (input, in_dim) = if layer == 0 {
                    (&x, MEL_BANDS)
                } else {
                    (&y_in, HIDDEN)
                };
                let g = &mut gates[..tc * b * GATES];
                // Input projections of the whole chunk at once, biases as the β=1 term.
                for row in g.chunks_exact_mut(GATES) {
                    row.copy_from_slice(bias);
                }
                sgemm(
                    tc * b,
                    in_dim,
                    GATES,
                    input,
                    in_dim,
                    1,
                    w_ih,
                    1,
                    in_dim,
                    1.0,
                    g,
                    GATES,
                );
                let (h, c) = (&mut h[layer], &mut c[layer]);
                for t in 0..tc {
                    let gt = &mut g[t * b * GATES..(t + 1) * b * GATES];
                    // The state starts at zero, so the first step has no recurrent term.
                    if t0 + t > 0 {
                        sgemm(
                            b, HIDDEN, GATES, h, HIDDEN, 1, w_hh, 1, HIDDEN, 1.0, gt, GATES,
                        );
                    }
                    for i in 0..b {
                        lstm_cell(
                            &gt[i * GATES..(i + 1) * GATES],
                            &mut c[i * HIDDEN..(i + 1) * HIDDEN],
                            &mut h[i * HIDDEN..(i + 1) * HIDDEN],
                        );
                    }
                    y_out[t * b * HIDDEN..(t + 1) * b * HIDDEN].copy_from_slice(h);
                    if layer + 1 == LAYERS {
                        for (i, &len) in lens.iter().enumerate() {
                            if len == t0 + t + 1 {
                                final_h[i * HIDDEN..(i + 1) * HIDDEN]
                                    .copy_from_slice(&h[i * HIDDEN..(i + 1) * HIDDEN]);
                            }
                        }
                    }
                }
                std::mem::swap(&mut y_in, &mut y_out);
            }
        }
        let mut lin = vec![0.0f32; b * EMBEDDING];
        for row in lin.chunks_exact_mut(EMBEDDING) {
            row.copy_from_slice(&self.weights.linear_bias);
        }
        sgemm(
            b,
            HIDDEN,
            EMBEDDING,
            &final_h,
            HIDDEN,
            1,
            &self.weights.linear_weight,
            1,
            HIDDEN,
            1.0,
            &mut lin,
            EMBEDDING,
        );
        lin.chunks_exact(EMBEDDING)
            .map(|row| {
                let mut e = [0.0f32; EMBEDDING];
                for (d, &v) in e.iter_mut().zip(row) {
                    *d = v.max(0.0);
                }
                let norm = e.iter().map(|v| v * v).sum::<f32>().sqrt();
                // An all-zero output (every unit below zero) has no direction; leave it zero.
                if norm > 0.0 {
                    e.iter_mut().for_each(|v| *v /= norm);
                }
                e
            })
            .collect()
    }
}

/// One LSTM step for one sequence: gates `[i | f | g | o]` already hold `W x + W h + b`.
#[inline]
fn lstm_cell(g: &[f32], c: &mut [f32], h: &mut [f32]) {
    let (gi, rest) = g.split_at(HIDDEN);
    let (gf, rest) = rest.split_at(HIDDEN);
    let (gg, go) = rest.split_at(HIDDEN);
    for j in 0..HIDDEN {
        let i = sigmoid(gi[j]);
        let f = sigmoid(gf[j]);
        let gc = tanh(gg[j]);
        let o = sigmoid(go[j]);
        let cj = f * c[j] + i * gc;
        c[j] = cj;
        h[j] = o * tanh(cj);
    }
}

/// `exp` without branches so the cell loop vectorises; relative error ~2e-7 on the range
/// the gates use (inputs clamped to where f32 neither overflows nor goes subnormal).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer in float arithmetic.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + fast_exp(2.0 * x))
}

/// `C (m×n) = α A (m×k) · B (k×n) + β C` with row-major `C` and strided `A`, `B`.
#[allow(clippy::too_many_arguments)]
pub(super) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    rsc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Every caller passes buffers of at least these extents; checked here because the
    // product below reads through raw pointers.
    let a_need = (m - 1) * rsa + (k.max(1) - 1) * csa + 1;
    let b_need = (k.max(1) - 1) * rsb + (n - 1) * csb + 1;
    let c_need = (m - 1) * rsc + n;
    assert!(
        a.len() >= a_need && b.len() >= b_need && c.len() >= c_need,
        "sgemm operand too small"
    );
    // SAFETY: the extents were checked above; strides fit in isize for any slice in memory.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
}

/// Hann window (periodic, as scipy's `get_window('hann', N, fftbins=True)`) folded into the
/// real DFT: columns `0..201` give Re X[k], `201..402` give Im X[k].
fn dft_matrix() -> Vec<f32> {
    let mut m = vec![0.0f32; N_FFT * DFT_COLS];
    for n in 0..N_FFT {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos();
        for k in 0..N_BINS {
            // Reduce k·n modulo N first so the angle stays exact for large products.
            let phase = 2.0 * std::f64::consts::PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
            m[n * DFT_COLS + k] = (w * phase.cos()) as f32;
            m[n * DFT_COLS + N_BINS + k] = (-w * phase.sin()) as f32;
        }
    }
    m
}

/// Slaney-scale mel frequency (librosa `hz_to_mel`, `htk=False`).
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) with its defaults (fmin 0, fmax sr/2,
/// Slaney scale and area normalisation), stored transposed as `N_BINS × MEL_BANDS`.
fn mel_filter_bank() -> Vec<f32> {
    let fmax = SAMPLE_RATE as f64 / 2.0;
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(fmax));
    let mel_f: Vec<f64> = (0..MEL_BANDS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (MEL_BANDS + 1) as f64))
        .collect();
    let mut fb = vec![0.0f32; N_BINS * MEL_BANDS];
    for m in 0..MEL_BANDS {
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for k in 0..N_BINS {
            let f = k as f64 * SAMPLE_RATE as f64 / N_FFT as f64;
            let lower = (f - mel_f[m]) / (mel_f[m + 1] - mel_f[m]);
            let upper = (mel_f[m + 2] - f) / (mel_f[m + 2] - mel_f[m + 1]);
            fb[k * MEL_BANDS + m] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    fb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_activations_match_std() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            let e = (x as f64).exp();
            assert!(((fast_exp(x) as f64 - e) / e).abs() < 5e-7, "exp({x})");
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
            let s = 1.0 / (1.0 + (-x as f64).exp());
            assert!((sigmoid(x) as f64 - s).abs() < 3e-7, "sigmoid({x})");
        }
        assert!(sigmoid(-1e9) < 1e-37 && sigmoid(-1e9) >= 0.0);
        assert!(sigmoid(1e9) == 1.0 && tanh(-1e9) == -1.0);
    }

    #[test]
    fn mel_bank_matches_librosa_slaney_values() {
        // Spot values from librosa.filters.mel(sr=16000, n_fft=400, n_mels=40).
        let fb = mel_filter_bank();
        let at = |band: usize, bin: usize| fb[bin * MEL_BANDS + band];
        // Each filter is a triangle: area normalised, so peak = 2 / (f[m+2] - f[m]).
        assert!(at(0, 0).abs() < 1e-9);
        let peaks: Vec<f32> = (0..MEL_BANDS)
            .map(|m| (0..N_BINS).map(|k| at(m, k)).fold(0.0, f32::max))
            .collect();
        assert!(peaks.iter().all(|&p| p > 0.0), "every band has weight");
        // Low bands are narrow (linear region) so their peak is higher than the top band's.
        assert!(peaks[0] > peaks[MEL_BANDS - 1]);
    }

    #[test]
    fn dft_of_a_tone_peaks_at_its_bin() {
        let enc_dft = dft_matrix();
        let fb = mel_filter_bank();
        let enc = Encoder {
            weights: EncoderWeights {
                lstm: Vec::new(),
                linear_weight: Vec::new(),
                linear_bias: Vec::new(),
            },
            dft: enc_dft,
            mel_fb: fb,
        };
        // 1 kHz tone: DFT bin 25 (40 Hz spacing); the mel band holding 1 kHz must dominate.
        let samples: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = enc.mel_spectrogram(&samples);
        assert_eq!(mel.len(), 101 * MEL_BANDS);
        let frame = &mel[50 * MEL_BANDS..51 * MEL_BANDS];
        let best = (0..MEL_BANDS)
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap();
        let m = hz_to_mel(1000.0);
        let centre = |b: usize| {
            hz_to_mel(0.0) + (hz_to_mel(8000.0) - hz_to_mel(0.0)) * (b + 1) as f64 / 41.0
        };
        assert!((centre(best) - m).abs() < 1.0, "band {best}");
        // Partial frames: the middle frames equal the full computation's.
        let part = enc.mel_frames(&samples, 40, 5);
        assert_eq!(&part[..], &mel[40 * MEL_BANDS..45 * MEL_BANDS]);
    }
}
