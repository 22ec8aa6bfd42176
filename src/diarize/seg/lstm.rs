//! LSTM recurrence, the hot loop: per step only `h · W_hh` (the input projection is done for
//! all steps beforehand) plus the gate nonlinearities.
//!
//! Written as plain loops over fixed-size chunks so LLVM vectorises them; on x86-64 the same
//! code is compiled a second time with AVX2+FMA and picked at run time. Per-step tensor ops
//! would cost more in dispatch than the arithmetic at small batch sizes. Results are
//! deterministic on a given machine; the FMA and non-FMA variants differ in the last bits.

use super::{GATES, HIDDEN};
use crate::diarize::scratch::{zeroed, Buf};

/// Runs one direction over `b` windows. `pre` is frame-major `[t, b, 512]` (input projection
/// plus both biases); the gates are accumulated into it in place. Returns hidden states
/// `[t, b, 128]`. PyTorch gate order: i, f, g, o.
pub(super) fn recurrence(pre: &mut [f32], w_hh_t: &[f32], b: usize, t: usize, rev: bool) -> Buf {
    assert!(pre.len() == b * t * GATES && w_hh_t.len() == HIDDEN * GATES);
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features this function was compiled for.
        return unsafe { recurrence_avx2(pre, w_hh_t, b, t, rev) };
    }
    recurrence_generic::<false>(pre, w_hh_t, b, t, rev)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn recurrence_avx2(pre: &mut [f32], w_hh_t: &[f32], b: usize, t: usize, rev: bool) -> Buf {
    recurrence_generic::<true>(pre, w_hh_t, b, t, rev)
}

#[inline(always)]
fn recurrence_generic<const FMA: bool>(
    pre: &mut [f32],
    w_hh_t: &[f32],
    b: usize,
    t: usize,
    rev: bool,
) -> Buf {
    let mut h = vec![0f32; b * HIDDEN];
    let mut c = vec![0f32; b * HIDDEN];
    let mut out = zeroed(b * t * HIDDEN);
    for step in 0..t {
        let ti = if rev { t - 1 - step } else { step };
        let g = &mut pre[ti * b * GATES..][..b * GATES];
        if step > 0 {
            // Four windows per pass share each load of W_hh (256 KB, streamed from L2 every
            // step, which is what bounds this loop); leftovers one at a time.
            let full = b / 4 * 4;
            for (hr, gr) in h[..full * HIDDEN]
                .chunks_exact(4 * HIDDEN)
                .zip(g[..full * GATES].chunks_exact_mut(4 * GATES))
            {
                matmul_rows::<FMA, 4, 16>(hr, w_hh_t, gr);
            }
            for (hr, gr) in h[full * HIDDEN..]
                .chunks_exact(HIDDEN)
                .zip(g[full * GATES..].chunks_exact_mut(GATES))
            {
                matmul_rows::<FMA, 1, 64>(hr, w_hh_t, gr);
            }
        }
        for ((gb, hb), cb) in g
            .chunks_exact(GATES)
            .zip(h.chunks_exact_mut(HIDDEN))
            .zip(c.chunks_exact_mut(HIDDEN))
        {
            let (gi, rest) = gb.split_at(HIDDEN);
            let (gf, rest) = rest.split_at(HIDDEN);
            let (gg, go) = rest.split_at(HIDDEN);
            for j in 0..HIDDEN {
                let cn = sigmoid(gf[j]) * cb[j] + sigmoid(gi[j]) * tanh(gg[j]);
                cb[j] = cn;
                hb[j] = sigmoid(go[j]) * tanh(cn);
            }
        }
        out[ti * b * HIDDEN..][..b * HIDDEN].copy_from_slice(&h);
    }
    out
}

/// `g[R×512] += h[R×128] · w_hh_t[128×512]`, `N` output columns at a time (R·N/8 AVX
/// accumulators). Each output is the same k-ordered FMA chain whatever R and N are, so results
/// do not depend on how windows are grouped.
#[inline(always)]
fn matmul_rows<const FMA: bool, const R: usize, const N: usize>(
    h: &[f32],
    w: &[f32],
    g: &mut [f32],
) {
    for n0 in (0..GATES).step_by(N) {
        let mut acc = [[0f32; N]; R];
        for (r, a) in acc.iter_mut().enumerate() {
            a.copy_from_slice(&g[r * GATES + n0..][..N]);
        }
        for k in 0..HIDDEN {
            let wr: &[f32; N] = w[k * GATES + n0..][..N].try_into().unwrap();
            for (r, a) in acc.iter_mut().enumerate() {
                let hk = h[r * HIDDEN + k];
                for j in 0..N {
                    a[j] = if FMA {
                        hk.mul_add(wr[j], a[j])
                    } else {
                        a[j] + hk * wr[j]
                    };
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            g[r * GATES + n0..][..N].copy_from_slice(a);
        }
    }
}

/// exp(x) without libm so the gate loop vectorises: Cephes expf polynomial (~2 ulp), input
/// clamped to the finite range (the gates only need sigmoid/tanh, which saturate anyway).
/// Branch-free and without float→int casts (whose saturation checks block vectorisation).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    // max/min rather than clamp: no NaN-propagation path, so it vectorises cleanly.
    #[allow(clippy::manual_clamp)]
    let x = x.max(-87.0).min(88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_2e-4;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // n ∈ [-126, 127] after the clamp, so 2^n is a normal float.
    e * f32::from_bits(n_int.wrapping_add(127) << 23)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh via sigmoid: absolute error ~1e-7, which is what matters for the LSTM state.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

#[cfg(test)]
mod tests {
    use super::{GATES, HIDDEN};

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// Textbook LSTM with std math, frame-major like `recurrence`.
    fn reference(pre: &[f32], w_hh_t: &[f32], b: usize, t: usize, rev: bool) -> Vec<f32> {
        let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
        let mut h = vec![0f32; b * HIDDEN];
        let mut c = vec![0f32; b * HIDDEN];
        let mut out = vec![0f32; b * t * HIDDEN];
        for step in 0..t {
            let ti = if rev { t - 1 - step } else { step };
            for bi in 0..b {
                let mut g = pre[(ti * b + bi) * GATES..][..GATES].to_vec();
                for (n, gn) in g.iter_mut().enumerate() {
                    for k in 0..HIDDEN {
                        *gn += h[bi * HIDDEN + k] * w_hh_t[k * GATES + n];
                    }
                }
                for j in 0..HIDDEN {
                    let cj = &mut c[bi * HIDDEN + j];
                    *cj = sig(g[HIDDEN + j]) * *cj + sig(g[j]) * g[2 * HIDDEN + j].tanh();
                    h[bi * HIDDEN + j] = sig(g[3 * HIDDEN + j]) * cj.tanh();
                }
            }
            out[ti * b * HIDDEN..][..b * HIDDEN].copy_from_slice(&h);
        }
        out
    }

    #[test]
    fn kernels_match_reference() {
        let (b, t) = (5, 9); // one 4-row block plus a leftover row
        let mut seed = 7;
        let pre: Vec<f32> = (0..b * t * GATES).map(|_| 4.0 * lcg(&mut seed)).collect();
        let w: Vec<f32> = (0..HIDDEN * GATES).map(|_| 0.3 * lcg(&mut seed)).collect();
        for rev in [false, true] {
            let want = reference(&pre, &w, b, t, rev);
            let dispatched = super::recurrence(&mut pre.clone(), &w, b, t, rev);
            let generic = super::recurrence_generic::<false>(&mut pre.clone(), &w, b, t, rev);
            for got in [dispatched, generic] {
                let d = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(d < 1e-5, "rev {rev}: {d}");
            }
        }
    }

    #[test]
    fn fast_math_close_to_std() {
        let mut worst = (0f32, 0f32);
        for i in -20000..=20000 {
            let x = i as f32 / 1000.0;
            let e = (super::exp(x) - x.exp()).abs() / x.exp();
            let s = (super::sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs();
            let t = (super::tanh(x) - x.tanh()).abs();
            worst = (worst.0.max(e), worst.1.max(s.max(t)));
        }
        assert!(worst.0 < 1e-6 && worst.1 < 1e-6, "{worst:?}");
        assert_eq!(super::sigmoid(-1e30), 0.0f32.max(super::sigmoid(-1e30)));
        assert!(super::tanh(1e30) == 1.0 && super::tanh(-1e30) == -1.0);
    }
}
