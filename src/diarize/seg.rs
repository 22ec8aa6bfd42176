//! pyannote/segmentation-3.0 (PyanNet) inference on CPU.
//!
//! Architecture (as trained by pyannote.audio 3.x, checkpoint `pytorch_model.bin`):
//! SincNet front end (InstanceNorm on the waveform, 80 parametric sinc filters of 251 taps
//! with stride 10, |x|, maxpool 3, InstanceNorm, LeakyReLU, then twice conv(k=5) → maxpool 3 →
//! InstanceNorm → LeakyReLU), a 4-layer bidirectional LSTM (hidden 128), two Linear(128) +
//! LeakyReLU, a Linear to 7 powerset classes and log_softmax.
//!
//! Weights are read from a safetensors file whose tensor names are exactly the Lightning
//! `state_dict` keys (`sincnet.wav_norm1d.weight`, `lstm.weight_ih_l0_reverse`, ...).
//!
//! # Threads
//! All parallel work runs on the *current* rayon pool: windows' front ends in parallel, the two
//! LSTM directions under `rayon::join`, and the big matmuls split by gemm over
//! `rayon::current_num_threads()` tasks. To cap CPU use, call [`Segmentation::forward`] inside
//! `rayon::ThreadPoolBuilder::new().num_threads(n).build()?.install(|| ...)` (or set
//! `RAYON_NUM_THREADS` for the global pool). No other threads are spawned.
//!
//! # Determinism
//! No reduction is split across threads, so outputs are bit-identical for any thread count
//! (checked in the bench) and for any batch composition (checked in the tests). The LSTM kernel picks an
//! AVX2+FMA build at run time, so different CPUs may differ in the last bits.

use super::matmul::{gemm, parallelism, Parallelism};
use super::scratch::{zeroed, Buf};
use rayon::prelude::*;
use safetensors::SafeTensors;

mod lstm;

/// Samples per model input window (10 s at 16 kHz).
pub const WINDOW_SAMPLES: usize = 160_000;
/// Output frames per window.
pub const FRAMES_PER_WINDOW: usize = 589;
/// Hop between consecutive output frames, in samples.
pub const FRAME_STEP: usize = 270;
/// Receptive field of one output frame, in samples.
pub const FRAME_DURATION: usize = 991;
/// Number of powerset classes.
pub const NUM_CLASSES: usize = 7;
/// Maximum number of local speakers per window.
pub const NUM_SPEAKERS: usize = 3;
/// Speakers active in each powerset class.
pub const POWERSET: [[bool; NUM_SPEAKERS]; NUM_CLASSES] = [
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [false, false, true],
    [true, true, false],
    [true, false, true],
    [false, true, true],
];

const SAMPLE_RATE: f32 = 16_000.0;
const EPS: f64 = 1e-5;
const LEAKY_SLOPE: f32 = 0.01;
const N_SINC: usize = 40; // cos filters; as many sin filters follow
const SINC_TAPS: usize = 251;
const SINC_STRIDE: usize = 10;
const MIN_LOW_HZ: f32 = 50.0;
const MIN_BAND_HZ: f32 = 50.0;
const CONV_CH: usize = 60;
const HIDDEN: usize = 128;
const GATES: usize = 4 * HIDDEN;
const LSTM_LAYERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum SegError {
    #[error("safetensors: {0}")]
    SafeTensors(#[from] safetensors::SafeTensorError),
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {got:?}, expected {want:?}")]
    BadShape {
        name: String,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {dtype}, expected F32")]
    BadDtype { name: String, dtype: String },
    #[error("window {index} has {len} samples, more than {WINDOW_SAMPLES}")]
    WindowTooLong { index: usize, len: usize },
    #[error("window {index} contains a non-finite sample")]
    NonFinite { index: usize },
}

struct InstanceNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct LstmDir {
    /// Input projection `weight_ih` with bias `bias_ih + bias_hh`.
    w_ih: Conv,
    /// `weight_hh` transposed, row-major `[128, 512]`.
    w_hh_t: Vec<f32>,
}

/// A 1-D convolution (or, with one tap, a Linear layer) stored as a matmul right-hand side: row `tap·c_in + c`, column `c_out`.
/// With time-major activations `[t, c_in]`, the im2col row for output `t` is simply the
/// contiguous slice starting at `t·stride·c_in`, so the conv is one gemm with overlapping lhs
/// rows and no im2col copy.
struct Conv {
    rhs: Vec<f32>,
    bias: Vec<f32>,
    c_in: usize,
    c_out: usize,
    taps: usize,
    stride: usize,
}

/// Loaded model; `Send + Sync`, so one instance can serve several threads.
pub struct Segmentation {
    wav_norm: InstanceNorm,
    sinc: SincConv,
    norm0: InstanceNorm,
    conv1: Conv,
    norm1: InstanceNorm,
    conv2: Conv,
    norm2: InstanceNorm,
    lstm: Vec<[LstmDir; 2]>,
    linear: [Conv; 2],
    classifier: Conv,
}

struct Weights<'a>(SafeTensors<'a>);

impl Weights<'_> {
    fn get(&self, name: &str, want: &[usize]) -> Result<Vec<f32>, SegError> {
        let view = self
            .0
            .tensor(name)
            .map_err(|_| SegError::MissingTensor(name.to_string()))?;
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(SegError::BadDtype {
                name: name.to_string(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != want {
            return Err(SegError::BadShape {
                name: name.to_string(),
                got: view.shape().to_vec(),
                want: want.to_vec(),
            });
        }
        // Data may be unaligned inside the file, so decode bytewise.
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn norm(&self, prefix: &str, c: usize) -> Result<InstanceNorm, SegError> {
        Ok(InstanceNorm {
            weight: self.get(&format!("{prefix}.weight"), &[c])?,
            bias: self.get(&format!("{prefix}.bias"), &[c])?,
        })
    }

    fn conv(&self, i: usize, c_in: usize) -> Result<Conv, SegError> {
        let w = self.get(&format!("sincnet.conv1d.{i}.weight"), &[CONV_CH, c_in, 5])?;
        let bias = self.get(&format!("sincnet.conv1d.{i}.bias"), &[CONV_CH])?;
        Ok(Conv::new(&w, bias, CONV_CH, c_in, 5, 1))
    }

    fn linear(&self, prefix: &str, out: usize, inp: usize) -> Result<Conv, SegError> {
        let w = self.get(&format!("{prefix}.weight"), &[out, inp])?;
        let b = self.get(&format!("{prefix}.bias"), &[out])?;
        Ok(Conv::new(&w, b, out, inp, 1, 1))
    }

    fn lstm_dir(&self, layer: usize, reverse: bool) -> Result<LstmDir, SegError> {
        let sfx = format!("l{layer}{}", if reverse { "_reverse" } else { "" });
        let inp = if layer == 0 { CONV_CH } else { 2 * HIDDEN };
        let w_ih = self.get(&format!("lstm.weight_ih_{sfx}"), &[GATES, inp])?;
        let w_hh = self.get(&format!("lstm.weight_hh_{sfx}"), &[GATES, HIDDEN])?;
        let b_ih = self.get(&format!("lstm.bias_ih_{sfx}"), &[GATES])?;
        let b_hh = self.get(&format!("lstm.bias_hh_{sfx}"), &[GATES])?;
        let bias: Vec<f32> = b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect();
        let mut w_hh_t = vec![0f32; HIDDEN * GATES];
        for g in 0..GATES {
            for k in 0..HIDDEN {
                w_hh_t[k * GATES + g] = w_hh[g * HIDDEN + k];
            }
        }
        Ok(LstmDir {
            w_ih: Conv::new(&w_ih, bias, GATES, inp, 1, 1),
            w_hh_t,
        })
    }
}

/// asteroid-filterbanks `ParamSincFB.filters()`, computed in f32 like torch: the sin arguments
/// reach ~4000 rad, so computing them in another precision would shift the taps.
/// Returns `[80, 251]`.
fn sinc_filters(w: &Weights) -> Result<Vec<f32>, SegError> {
    let p = "sincnet.conv1d.0.filterbank";
    let half = SINC_TAPS / 2;
    let low_hz = w.get(&format!("{p}.low_hz_"), &[N_SINC, 1])?;
    let band_hz = w.get(&format!("{p}.band_hz_"), &[N_SINC, 1])?;
    // Stored buffers: n_ = 2π·k/sr for k = -125..-1, window_ = left half of a 251-tap Hamming.
    let n = w.get(&format!("{p}.n_"), &[1, half])?;
    let window = w.get(&format!("{p}.window_"), &[half])?;
    let mut fb = vec![0f32; 2 * N_SINC * SINC_TAPS];
    let (cos_fb, sin_fb) = fb.split_at_mut(N_SINC * SINC_TAPS);
    for f in 0..N_SINC {
        let low = MIN_LOW_HZ + low_hz[f].abs();
        let high = (low + MIN_BAND_HZ + band_hz[f].abs()).clamp(MIN_LOW_HZ, SAMPLE_RATE / 2.0);
        let band = high - low;
        let scale = 2.0 * band;
        let cos_f = &mut cos_fb[f * SINC_TAPS..][..SINC_TAPS];
        let sin_f = &mut sin_fb[f * SINC_TAPS..][..SINC_TAPS];
        for j in 0..half {
            let ft_low = low * n[j];
            let ft_high = high * n[j];
            let denom = n[j] / 2.0;
            let c = (ft_high.sin() - ft_low.sin()) / denom * window[j];
            let s = (ft_low.cos() - ft_high.cos()) / denom * window[j];
            cos_f[j] = c / scale;
            cos_f[SINC_TAPS - 1 - j] = c / scale;
            sin_f[j] = s / scale;
            sin_f[SINC_TAPS - 1 - j] = -s / scale;
        }
        cos_f[half] = (2.0 * band) / scale;
        sin_f[half] = 0.0;
    }
    Ok(fb)
}

impl Segmentation {
    /// Loads weights from safetensors bytes named like the pyannote `state_dict`.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Segmentation, SegError> {
        let w = Weights(SafeTensors::deserialize(bytes)?);
        let sinc = SincConv::new(&sinc_filters(&w)?);
        let lstm = (0..LSTM_LAYERS)
            .map(|l| Ok([w.lstm_dir(l, false)?, w.lstm_dir(l, true)?]))
            .collect::<Result<Vec<_>, SegError>>()?;
        Ok(Segmentation {
            wav_norm: w.norm("sincnet.wav_norm1d", 1)?,
            sinc,
            norm0: w.norm("sincnet.norm1d.0", 2 * N_SINC)?,
            conv1: w.conv(1, 2 * N_SINC)?,
            norm1: w.norm("sincnet.norm1d.1", CONV_CH)?,
            conv2: w.conv(2, CONV_CH)?,
            norm2: w.norm("sincnet.norm1d.2", CONV_CH)?,
            lstm,
            linear: [
                w.linear("linear.0", HIDDEN, 2 * HIDDEN)?,
                w.linear("linear.1", HIDDEN, HIDDEN)?,
            ],
            classifier: w.linear("classifier", NUM_CLASSES, HIDDEN)?,
        })
    }

    /// Runs a batch of windows; returns `windows.len() × 589 × 7` log-probabilities, row-major.
    ///
    /// Windows shorter than [`WINDOW_SAMPLES`] are zero-padded at the end (as pyannote does for
    /// the last chunk of a file); longer ones and non-finite samples are errors.
    pub fn forward(&self, windows: &[&[f32]]) -> Result<Vec<f32>, SegError> {
        for (index, w) in windows.iter().enumerate() {
            if w.len() > WINDOW_SAMPLES {
                return Err(SegError::WindowTooLong {
                    index,
                    len: w.len(),
                });
            }
            if w.iter().any(|x| !x.is_finite()) {
                return Err(SegError::NonFinite { index });
            }
        }
        let b = windows.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let t = FRAMES_PER_WINDOW;
        let feats = self.front_end(windows);
        // From here on rows are frame-major (t, window): each LSTM step then reads and writes
        // one contiguous block for the whole batch.
        let mut x = zeroed(t * b * CONV_CH);
        for (bi, f) in feats.iter().enumerate() {
            for (ti, row) in f.chunks_exact(CONV_CH).enumerate() {
                x[(ti * b + bi) * CONV_CH..][..CONV_CH].copy_from_slice(row);
            }
        }
        for layer in &self.lstm {
            let (fwd, bwd) = rayon::join(
                || run_direction(&layer[0], &x, b, t, false),
                || run_direction(&layer[1], &x, b, t, true),
            );
            let mut out = zeroed(b * t * 2 * HIDDEN);
            for (row, o) in out.chunks_exact_mut(2 * HIDDEN).enumerate() {
                o[..HIDDEN].copy_from_slice(&fwd[row * HIDDEN..][..HIDDEN]);
                o[HIDDEN..].copy_from_slice(&bwd[row * HIDDEN..][..HIDDEN]);
            }
            x = out;
        }
        for lin in &self.linear {
            x = lin.apply(&x);
            leaky_relu(&mut x);
        }
        let logits = self.classifier.apply(&x);
        let mut out = vec![0f32; b * t * NUM_CLASSES];
        for (row, z) in logits.chunks_exact(NUM_CLASSES).enumerate() {
            let (ti, bi) = (row / b, row % b);
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = z.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
            let o = &mut out[(bi * t + ti) * NUM_CLASSES..][..NUM_CLASSES];
            for (o, v) in o.iter_mut().zip(z) {
                *o = v - m - lse;
            }
        }
        Ok(out)
    }

    /// SincNet features `[589, 60]` of every window, in order.
    ///
    /// Overlapping windows (10 s every 2.5 s) hold each sample four times. The sinc layer is
    /// linear and the waveform norm before it is an affine map per window, so for full-length
    /// windows that view one buffer at offsets a multiple of the sinc stride, the layer runs
    /// once over the raw samples they cover and each window's norm is applied to its output:
    /// `conv(a·x + c) = a·conv(x) + c·Σtaps`. Other windows (padded, or apart) go alone.
    fn front_end(&self, windows: &[&[f32]]) -> Vec<Buf> {
        let mut feats: Vec<Option<Buf>> = (0..windows.len()).map(|_| None).collect();
        for group in shared_sinc_groups(windows) {
            // One group's sinc output held at a time.
            let rows = self.shared_sinc(windows, &group);
            let done: Vec<(usize, Buf)> = group
                .par_iter()
                .map(|&(i, offset)| {
                    let rows = &rows[offset / SINC_STRIDE * 2 * N_SINC..][..SINC_ROWS * 2 * N_SINC];
                    (i, self.after_sinc(windows[i], rows))
                })
                .collect();
            for (i, f) in done {
                feats[i] = Some(f);
            }
        }
        let alone: Vec<(usize, Buf)> = (0..windows.len())
            .into_par_iter()
            .filter(|&i| feats[i].is_none())
            .map(|i| (i, self.sincnet(windows[i])))
            .collect();
        for (i, f) in alone {
            feats[i] = Some(f);
        }
        feats
            .into_iter()
            .map(|f| f.expect("every window"))
            .collect()
    }

    /// The sinc layer's output on the raw samples a group covers (`[rows, 80]`, row `r` at
    /// sample `r × 10` from the group's first window), each row computed once, from the first
    /// window that holds its 251 samples.
    fn shared_sinc(&self, windows: &[&[f32]], group: &[(usize, usize)]) -> Buf {
        let c = 2 * N_SINC;
        let last = group.last().map_or(0, |g| g.1);
        let mut rows = zeroed((last / SINC_STRIDE + SINC_ROWS) * c);
        let mut done = 0;
        for &(i, offset) in group {
            let first = offset / SINC_STRIDE;
            let from = done.max(first);
            let to = first + SINC_ROWS;
            if from >= to {
                continue;
            }
            let x = &windows[i][(from - first) * SINC_STRIDE..]
                [..(to - from - 1) * SINC_STRIDE + SINC_TAPS];
            rows[from * c..to * c].copy_from_slice(&self.sinc.apply(x));
            done = to;
        }
        rows
    }

    /// SincNet for one window (≤ 160000 samples, validated by the caller); returns time-major
    /// features `[589, 60]`.
    fn sincnet(&self, wav: &[f32]) -> Buf {
        let mut x = zeroed(WINDOW_SAMPLES);
        x[..wav.len()].copy_from_slice(wav);
        instance_norm(&mut x, 1, &self.wav_norm);
        let y = self.sinc.apply(&x);
        self.convs(&pool_map_norm_lrelu(&y, 2 * N_SINC, &self.norm0, |_, v| {
            v.abs()
        }))
    }

    /// SincNet of a full window from the sinc layer's output on its raw samples (`raw`,
    /// `[15975, 80]`): the window's waveform norm applied as `a·raw + c·Σtaps` on the way
    /// into |x| and the pooling.
    fn after_sinc(&self, wav: &[f32], raw: &[f32]) -> Buf {
        let (a, c) = affine_norm(wav, &self.wav_norm);
        let shift: Vec<f32> = self
            .sinc
            .tap_sums
            .iter()
            .map(|&s| (c * s as f64) as f32)
            .collect();
        let a = a as f32;
        let y = pool_map_norm_lrelu(raw, 2 * N_SINC, &self.norm0, |ch, v| {
            a.mul_add(v, shift[ch]).abs()
        });
        self.convs(&y)
    }

    /// SincNet after the sinc layer's pooling: the two convolutions.
    fn convs(&self, y: &[f32]) -> Buf {
        let y = pool_norm_lrelu(&self.conv1.apply(y), CONV_CH, &self.norm1);
        let y = pool_norm_lrelu(&self.conv2.apply(&y), CONV_CH, &self.norm2);
        debug_assert_eq!(y.len(), FRAMES_PER_WINDOW * CONV_CH);
        y
    }
}

impl Conv {
    /// `w` is torch's `[c_out, c_in, taps]`.
    fn new(
        w: &[f32],
        bias: Vec<f32>,
        c_out: usize,
        c_in: usize,
        taps: usize,
        stride: usize,
    ) -> Conv {
        let mut rhs = vec![0f32; taps * c_in * c_out];
        for o in 0..c_out {
            for c in 0..c_in {
                for k in 0..taps {
                    rhs[(k * c_in + c) * c_out + o] = w[(o * c_in + c) * taps + k];
                }
            }
        }
        Conv {
            rhs,
            bias,
            c_in,
            c_out,
            taps,
            stride,
        }
    }

    /// Valid convolution of time-major `[len, c_in]` into time-major `[len_out, c_out]`.
    fn apply(&self, x: &[f32]) -> Buf {
        let len = x.len() / self.c_in;
        let len_out = (len - self.taps) / self.stride + 1;
        let k = self.taps * self.c_in;
        let lhs_rs = self.stride * self.c_in;
        let mut out = zeroed(len_out * self.c_out);
        for row in out.chunks_exact_mut(self.c_out) {
            row.copy_from_slice(&self.bias);
        }
        gemm(
            (len_out, self.c_out, k),
            (&mut out, self.c_out),
            (x, lhs_rs),
            &self.rhs,
            true,
            parallelism(),
        );
        out
    }
}

/// The sinc layer, exploiting filter symmetry: cos filters are even and sin filters odd around
/// the centre tap, so each output needs only 126 (cos) / 125 (sin) multiply-adds per filter on
/// pair sums / differences of the input, half of the direct 251.
struct SincConv {
    /// `[126, 40]`: taps 0..=125 of the cos filters.
    cos_rhs: Vec<f32>,
    /// `[125, 40]`: taps 0..125 of the sin filters (the centre tap is zero).
    sin_rhs: Vec<f32>,
    /// Sum of each filter's taps (`[80]`): the filter's response to a constant.
    tap_sums: Vec<f32>,
}

/// Output rows per chunk: keeps the pair-sum matrices (~250 KB each) in L2.
const SINC_CHUNK: usize = 512;

impl SincConv {
    /// `fb` is `[80, 251]`, cos filters first.
    fn new(fb: &[f32]) -> SincConv {
        let half = SINC_TAPS / 2;
        let mut cos_rhs = vec![0f32; (half + 1) * N_SINC];
        let mut sin_rhs = vec![0f32; half * N_SINC];
        for f in 0..N_SINC {
            for j in 0..=half {
                cos_rhs[j * N_SINC + f] = fb[f * SINC_TAPS + j];
            }
            for j in 0..half {
                sin_rhs[j * N_SINC + f] = fb[(N_SINC + f) * SINC_TAPS + j];
            }
        }
        let tap_sums = fb
            .chunks_exact(SINC_TAPS)
            .map(|f| f.iter().map(|&v| v as f64).sum::<f64>() as f32)
            .collect();
        SincConv {
            cos_rhs,
            sin_rhs,
            tap_sums,
        }
    }

    /// Stride-10 valid convolution of `x` into time-major `[len_out, 80]`.
    fn apply(&self, x: &[f32]) -> Buf {
        let half = SINC_TAPS / 2;
        let len_out = (x.len() - SINC_TAPS) / SINC_STRIDE + 1;
        let c = 2 * N_SINC;
        let mut out = zeroed(len_out * c);
        out.par_chunks_mut(SINC_CHUNK * c)
            .enumerate()
            .for_each(|(chunk, out)| {
                let rows = out.len() / c;
                let mut sum = vec![0f32; rows * (half + 1)];
                let mut diff = vec![0f32; rows * half];
                for r in 0..rows {
                    let xs = &x[(chunk * SINC_CHUNK + r) * SINC_STRIDE..][..SINC_TAPS];
                    let (su, di) = (
                        &mut sum[r * (half + 1)..][..half + 1],
                        &mut diff[r * half..][..half],
                    );
                    for j in 0..half {
                        su[j] = xs[j] + xs[SINC_TAPS - 1 - j];
                        di[j] = xs[j] - xs[SINC_TAPS - 1 - j];
                    }
                    su[half] = xs[half];
                }
                gemm(
                    (rows, N_SINC, half + 1),
                    (out, c),
                    (&sum, half + 1),
                    &self.cos_rhs,
                    true,
                    Parallelism::None,
                );
                gemm(
                    (rows, N_SINC, half),
                    (&mut out[N_SINC..], c),
                    (&diff, half),
                    &self.sin_rhs,
                    true,
                    Parallelism::None,
                );
            });
        out
    }
}

fn leaky_relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| {
        if *v < 0.0 {
            *v *= LEAKY_SLOPE
        }
    });
}

/// InstanceNorm1d (biased variance, eps 1e-5, affine) over time-major `[len, c]`, in place.
/// Statistics in f64: the waveform norm sums 160 000 values.
fn instance_norm(x: &mut [f32], c: usize, norm: &InstanceNorm) {
    let len = x.len() / c;
    let mut mean = vec![0f64; c];
    for row in x.chunks_exact(c) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= len as f64);
    let mut var = vec![0f64; c];
    for row in x.chunks_exact(c) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            let d = v as f64 - m;
            *s += d * d;
        }
    }
    let (scale, shift): (Vec<f64>, Vec<f64>) = (0..c)
        .map(|ch| {
            let scale = norm.weight[ch] as f64 / (var[ch] / len as f64 + EPS).sqrt();
            (scale, norm.bias[ch] as f64 - mean[ch] * scale)
        })
        .unzip();
    for row in x.chunks_exact_mut(c) {
        for ((v, a), b) in row.iter_mut().zip(&scale).zip(&shift) {
            *v = (*v as f64 * a + b) as f32;
        }
    }
}

/// The single-channel InstanceNorm of `x` as the affine map `x ↦ a·x + c` it applies.
fn affine_norm(x: &[f32], norm: &InstanceNorm) -> (f64, f64) {
    let len = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / len;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / len;
    let a = norm.weight[0] as f64 / (var + EPS).sqrt();
    (a, norm.bias[0] as f64 - mean * a)
}

/// Rows of the sinc layer's output for one full window.
const SINC_ROWS: usize = (WINDOW_SAMPLES - SINC_TAPS) / SINC_STRIDE + 1;

/// Groups of full-length windows that view one buffer: `(window index, offset in samples
/// from the group's first window)`, by offset, each offset a multiple of the sinc stride.
/// Windows are told to share a buffer by their addresses: slices that overlap in memory are
/// views of one allocation (nothing is read through the addresses).
fn shared_sinc_groups(windows: &[&[f32]]) -> Vec<Vec<(usize, usize)>> {
    let size = std::mem::size_of::<f32>();
    let mut full: Vec<(usize, usize)> = windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.len() == WINDOW_SAMPLES)
        .map(|(i, w)| (w.as_ptr() as usize, i))
        .collect();
    full.sort();
    let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
    let (mut base, mut end) = (0, 0);
    for (addr, i) in full {
        if addr >= end {
            base = addr;
            groups.push(vec![(i, 0)]);
        } else if (addr - base) % (SINC_STRIDE * size) == 0 {
            groups
                .last_mut()
                .expect("a group")
                .push((i, (addr - base) / size));
        } else {
            // Overlapping but out of step: goes alone.
            continue;
        }
        end = addr + WINDOW_SAMPLES * size;
    }
    groups.retain(|g| g.len() > 1);
    groups
}

/// MaxPool1d(3) (floor), InstanceNorm, LeakyReLU over time-major `[len, c]`.
fn pool_norm_lrelu(x: &[f32], c: usize, norm: &InstanceNorm) -> Buf {
    pool_map_norm_lrelu(x, c, norm, |_, v| v)
}

/// [`pool_norm_lrelu`] of `map(channel, x)`, without a buffer for the mapped values.
fn pool_map_norm_lrelu(
    x: &[f32],
    c: usize,
    norm: &InstanceNorm,
    map: impl Fn(usize, f32) -> f32,
) -> Buf {
    let pooled = x.len() / c / 3;
    let mut out = zeroed(c * pooled);
    for (tri, o) in x.chunks_exact(3 * c).zip(out.chunks_exact_mut(c)) {
        let (a, rest) = tri.split_at(c);
        let (b, d) = rest.split_at(c);
        for (ch, (o, ((a, b), d))) in o.iter_mut().zip(a.iter().zip(b).zip(d)).enumerate() {
            *o = map(ch, *a).max(map(ch, *b)).max(map(ch, *d));
        }
    }
    instance_norm(&mut out, c, norm);
    leaky_relu(&mut out);
    out
}

/// One LSTM direction over the whole batch; `x` is `[t·b, in]` (frame-major). Returns
/// hidden states `[t·b, 128]`.
fn run_direction(dir: &LstmDir, x: &[f32], b: usize, t: usize, reverse: bool) -> Buf {
    // Input projection for every (window, frame) in one matmul; only h·W_hh stays per step.
    let mut pre = dir.w_ih.apply(x);
    lstm::recurrence(&mut pre, &dir.w_hh_t, b, t, reverse)
}

/// Index of the largest value; first one on ties (like torch.argmax); NaN never wins.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_one_buffer_in_step_share_the_sinc_layer() {
        let step = 148 * FRAME_STEP;
        let audio = vec![0f32; 8 * step + WINDOW_SAMPLES];
        let other = vec![0f32; WINDOW_SAMPLES];
        let at = |s: usize| &audio[s..s + WINDOW_SAMPLES];
        let windows: Vec<&[f32]> = vec![
            at(2 * step),
            at(0),
            &other,
            at(step),
            at(step + 3),                   // out of the sinc stride's step
            &audio[7 * step..7 * step + 5], // short: padded, alone
            at(7 * step),                   // no overlap with the others: alone
        ];
        assert_eq!(
            shared_sinc_groups(&windows),
            vec![vec![(1, 0), (3, step), (0, 2 * step)]]
        );
    }
}
