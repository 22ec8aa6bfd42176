//! The one matrix product the speaker models are built on: the `gemm` crate (what candle
//! uses on CPU) behind a bounds-checked, safe call.

pub(super) use gemm::Parallelism;

/// `dst[m x n] (+)= lhs[m x k] * rhs[k x n]`, all row-major with unit column
/// stride; rows of `dst` and `lhs` are `*_rs` apart. `lhs` rows may overlap:
/// that is how convolutions avoid an im2col copy.
pub(super) fn gemm(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (&mut [f32], usize),
    (lhs, lhs_rs): (&[f32], usize),
    rhs: &[f32],
    accumulate: bool,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        k > 0
            && n <= dst_rs
            && (m - 1) * dst_rs + n <= dst.len()
            && (m - 1) * lhs_rs + k <= lhs.len()
            && k * n <= rhs.len(),
        "gemm operands out of bounds"
    );
    // The gemm crate takes raw pointers and strides, hence the one unsafe block of
    // the speaker models (the same library candle uses internally).
    // SAFETY: the assert bounds every element gemm reads or writes; `dst` rows do
    // not overlap (n <= dst_rs) and `dst` is a unique borrow, so it aliases neither
    // input. Strides are non-negative and fit in isize (they index live slices).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

/// gemm parallelism for the current rayon pool, so `ThreadPool::install` caps it.
pub(super) fn parallelism() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}
