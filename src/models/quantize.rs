//! Quantizing an installed ggml Whisper model ([`quantize`]) to q8_0, q5_0, q5_1 or q4_0, the
//! way whisper.cpp's `quantize` tool does: every 2-D f32/f16 tensor except the positional
//! embeddings becomes the chosen block type; conv kernels, biases and norms are copied.
//! The block encoding itself is ggml's (`ggml_quantize_chunk` through whisper-rs-sys): this
//! is the one place outside `asr/whisper.rs` that calls into whisper.cpp's C library, because
//! only ggml knows its block layouts.

use std::io::{self, Read, Write};
use std::str::FromStr;

use whisper_rs::whisper_rs_sys;

/// ggml's `GGML_QNT_VERSION` (ggml.h); quantized files store `ftype + 1000 * version`.
const QNT_VERSION: i32 = 2;
const QNT_VERSION_FACTOR: i32 = 1000;
/// Elements per block of every supported type; rows must be a multiple.
const BLOCK: i64 = 32;
/// Tensors whisper.cpp's quantizer leaves alone although they are 2-D.
const SKIP: &[&str] = &[
    "encoder.positional_embedding",
    "decoder.positional_embedding",
];

/// A block quantization type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantType {
    Q8_0,
    Q5_0,
    Q5_1,
    Q4_0,
}

impl QuantType {
    pub fn name(self) -> &'static str {
        match self {
            QuantType::Q8_0 => "q8_0",
            QuantType::Q5_0 => "q5_0",
            QuantType::Q5_1 => "q5_1",
            QuantType::Q4_0 => "q4_0",
        }
    }

    /// `(ggml_type, ggml_ftype)` as whisper.cpp's loader expects them.
    fn ggml(self) -> (i32, i32) {
        match self {
            QuantType::Q8_0 => (whisper_rs_sys::ggml_type_GGML_TYPE_Q8_0 as i32, 7),
            QuantType::Q5_0 => (whisper_rs_sys::ggml_type_GGML_TYPE_Q5_0 as i32, 8),
            QuantType::Q5_1 => (whisper_rs_sys::ggml_type_GGML_TYPE_Q5_1 as i32, 9),
            QuantType::Q4_0 => (whisper_rs_sys::ggml_type_GGML_TYPE_Q4_0 as i32, 2),
        }
    }
}

impl FromStr for QuantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            QuantType::Q8_0,
            QuantType::Q5_0,
            QuantType::Q5_1,
            QuantType::Q4_0,
        ]
        .into_iter()
        .find(|q| q.name() == s.to_ascii_lowercase())
        .ok_or_else(|| format!("unknown quantization `{s}`; use q8_0, q5_0, q5_1 or q4_0"))
    }
}

fn read_i32(r: &mut dyn Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_le_bytes(b))
}

/// Reads an i32 at a record boundary: `None` at a clean end of file.
fn read_i32_or_eof(r: &mut dyn Read) -> io::Result<Option<i32>> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut b[got..])?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ends inside a tensor header",
                ))
            };
        }
        got += n;
    }
    Ok(Some(i32::from_le_bytes(b)))
}

fn copy_exact(r: &mut dyn Read, w: &mut dyn Write, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), w)?;
    if copied != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ends inside a block",
        ));
    }
    Ok(())
}

/// Copies the ggml model in `r` to `w` with 2-D weights quantized to `q`. Errors name what
/// was malformed; `reason` strings end up in [`super::ModelError::InvalidGgml`].
pub(crate) fn quantize(r: &mut dyn Read, w: &mut dyn Write, q: QuantType) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    let magic = read_i32(r).map_err(io)? as u32;
    if magic != super::ggml::MAGIC {
        return Err("not a ggml whisper.cpp model (bad magic)".into());
    }
    w.write_all(&magic.to_le_bytes()).map_err(io)?;
    let mut hp = [0i32; 11];
    for v in &mut hp {
        *v = read_i32(r).map_err(io)?;
    }
    let ftype = hp[10] % QNT_VERSION_FACTOR;
    if hp[10] >= QNT_VERSION_FACTOR || !(0..=1).contains(&ftype) {
        return Err(format!(
            "model is already quantized (ftype {}); start from an f16 or f32 model",
            hp[10]
        ));
    }
    let (ttype_q, ftype_q) = q.ggml();
    hp[10] = ftype_q + QNT_VERSION * QNT_VERSION_FACTOR;
    for v in hp {
        w.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    // Mel filters and vocabulary pass through unchanged.
    let n_mel = read_i32(r).map_err(io)?;
    let n_fft = read_i32(r).map_err(io)?;
    if !(1..=512).contains(&n_mel) || !(1..=4096).contains(&n_fft) {
        return Err(format!("implausible mel filter block {n_mel}×{n_fft}"));
    }
    w.write_all(&n_mel.to_le_bytes()).map_err(io)?;
    w.write_all(&n_fft.to_le_bytes()).map_err(io)?;
    copy_exact(r, w, 4 * n_mel as u64 * n_fft as u64).map_err(io)?;
    let n_vocab = read_i32(r).map_err(io)?;
    if !(0..=1_000_000).contains(&n_vocab) {
        return Err(format!("implausible vocabulary size {n_vocab}"));
    }
    w.write_all(&n_vocab.to_le_bytes()).map_err(io)?;
    for _ in 0..n_vocab {
        let len = read_i32(r).map_err(io)?;
        if !(0..=1024).contains(&len) {
            return Err(format!("implausible token length {len}"));
        }
        w.write_all(&len.to_le_bytes()).map_err(io)?;
        copy_exact(r, w, len as u64).map_err(io)?;
    }

    // SAFETY: ggml_quantize_init only fills ggml's internal lookup tables for the type.
    unsafe { whisper_rs_sys::ggml_quantize_init(ttype_q as whisper_rs_sys::ggml_type) };
    while let Some(n_dims) = read_i32_or_eof(r).map_err(io)? {
        let name_len = read_i32(r).map_err(io)?;
        let ttype = read_i32(r).map_err(io)?;
        if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
            return Err(format!(
                "corrupt tensor header (n_dims {n_dims}, name length {name_len})"
            ));
        }
        let mut ne = vec![0i64; n_dims as usize];
        for d in &mut ne {
            *d = i64::from(read_i32(r).map_err(io)?);
            if *d <= 0 {
                return Err("tensor with a non-positive dimension".into());
            }
        }
        let mut name = vec![0u8; name_len as usize];
        r.read_exact(&mut name).map_err(io)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let n: i64 = ne.iter().product();
        let elem_bytes = match ttype {
            0 => 4,
            1 => 2,
            other => {
                return Err(format!(
                    "tensor {name} has type {other}; only f32/f16 models can be quantized"
                ))
            }
        };
        let mut data = vec![0u8; (n * elem_bytes) as usize];
        r.read_exact(&mut data).map_err(io)?;

        let quantize_it = n_dims == 2 && !SKIP.contains(&name.as_str()) && ne[0] % BLOCK == 0;
        let out_type = if quantize_it { ttype_q } else { ttype };
        w.write_all(&n_dims.to_le_bytes()).map_err(io)?;
        w.write_all(&name_len.to_le_bytes()).map_err(io)?;
        w.write_all(&out_type.to_le_bytes()).map_err(io)?;
        for d in &ne {
            w.write_all(&(*d as i32).to_le_bytes()).map_err(io)?;
        }
        w.write_all(name.as_bytes()).map_err(io)?;
        if !quantize_it {
            w.write_all(&data).map_err(io)?;
            continue;
        }
        let values: Vec<f32> = if ttype == 0 {
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            data.chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect()
        };
        let (rows, per_row) = (ne[1], ne[0]);
        // SAFETY: ggml_row_size is a pure size computation for a valid type.
        let row_bytes =
            unsafe { whisper_rs_sys::ggml_row_size(ttype_q as whisper_rs_sys::ggml_type, per_row) };
        let mut out = vec![0u8; row_bytes * rows as usize];
        // SAFETY: `values` holds rows × per_row floats and `out` rows × row_bytes bytes, the
        // sizes ggml_quantize_chunk reads and writes for this type; no importance matrix is
        // needed for these legacy block types.
        let written = unsafe {
            whisper_rs_sys::ggml_quantize_chunk(
                ttype_q as whisper_rs_sys::ggml_type,
                values.as_ptr(),
                out.as_mut_ptr().cast(),
                0,
                rows,
                per_row,
                std::ptr::null(),
            )
        };
        if written != out.len() {
            return Err(format!(
                "quantizing {name} wrote {written} bytes, expected {}",
                out.len()
            ));
        }
        w.write_all(&out).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for q in ["q8_0", "Q5_0", "q5_1", "q4_0"] {
            assert_eq!(
                q.parse::<QuantType>().unwrap().name(),
                q.to_ascii_lowercase()
            );
        }
        assert!("q3_k".parse::<QuantType>().unwrap_err().contains("q8_0"));
    }

    #[test]
    fn refuses_non_models() {
        let mut out = Vec::new();
        let err = quantize(&mut &b"not a model at all"[..], &mut out, QuantType::Q8_0).unwrap_err();
        assert!(err.contains("magic"), "{err}");
    }
}
