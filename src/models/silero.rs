//! Converts the Silero VAD weights shipped by the PyPI package `silero-vad` (6.x, MIT;
//! `silero_vad/data/silero_vad_16k.safetensors`) into the ggml file that whisper.cpp's
//! built-in VAD loads (`whisper_vad_init_from_file_with_params`, model type `silero-16k`).
//! Entry point: [`convert`]; errors: [`SileroError`].
//!
//! File layout (all integers little-endian `i32`):
//! - magic `0x67676d6c`, then the model type as `len` + bytes (`silero-16k`), the version
//!   as major, minor, patch (informational: whisper.cpp only logs it), the frame size
//!   (512 samples) and context size (64 samples);
//! - hparams: the encoder layer count (4), then per layer `in, out, kernel`
//!   (129→128, 128→64, 64→64, 64→128, kernel 3), LSTM input and hidden size (128, 128),
//!   final conv in and out (128, 1);
//! - tensors until end of file, each `n_dims, name_len, ttype (0 f32, 1 f16)`, the dims
//!   in ggml order (PyTorch order reversed), the name, the raw data. The loader sizes
//!   its buffers from its own expected types, so the types written here must match them
//!   (see [`TENSORS`]): convolution weights f16, LSTM weights and every bias f32.

use std::io::Write;

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

/// `ggml` in ASCII, as whisper.cpp's `GGML_FILE_MAGIC`.
const GGML_MAGIC: u32 = 0x6767_6d6c;
/// The architecture name whisper.cpp expects (16 kHz Silero v5/v6).
const MODEL_TYPE: &str = "silero-16k";
/// Version written into the header. whisper.cpp only logs it; these are the package
/// versions whose weights this layout was verified against.
const MODEL_VERSION: [i32; 3] = [6, 2, 3];
/// Samples per VAD frame at 16 kHz (32 ms).
const N_WINDOW: i32 = 512;
/// Samples of left context Silero uses per frame.
const N_CONTEXT: i32 = 64;
/// `(in_channels, out_channels, kernel)` of the four encoder convolutions.
const ENCODER_LAYERS: [[i32; 3]; 4] = [[129, 128, 3], [128, 64, 3], [64, 64, 3], [64, 128, 3]];
const LSTM_INPUT: i32 = 128;
const LSTM_HIDDEN: i32 = 128;
const FINAL_CONV_IN: i32 = 128;
const FINAL_CONV_OUT: i32 = 1;

/// Element type of a tensor in the ggml file (values are ggml's `ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GgmlType {
    F32 = 0,
    F16 = 1,
}

/// One tensor: where it comes from, where it goes, and in which shape and type.
struct TensorSpec {
    /// Name in `silero_vad_16k.safetensors`.
    source: &'static str,
    /// Name whisper.cpp looks up (`VAD_TENSOR_NAMES` in whisper-arch.h).
    target: &'static str,
    /// PyTorch shape in the safetensors file.
    shape: &'static [usize],
    /// ggml `ne` (fastest-varying first). The data is row-major in both, so this is the
    /// PyTorch shape reversed, except that the final conv weight drops its unit kernel
    /// axis to match the loader's 2-D `[128, 1]`.
    ne: &'static [i32],
    ty: GgmlType,
}

/// Every tensor the loader expects, in its declaration order.
const TENSORS: [TensorSpec; 15] = [
    TensorSpec {
        source: "stft_conv.weight",
        target: "_model.stft.forward_basis_buffer",
        shape: &[258, 1, 256],
        ne: &[256, 1, 258],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "conv1.weight",
        target: "_model.encoder.0.reparam_conv.weight",
        shape: &[128, 129, 3],
        ne: &[3, 129, 128],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "conv1.bias",
        target: "_model.encoder.0.reparam_conv.bias",
        shape: &[128],
        ne: &[128],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "conv2.weight",
        target: "_model.encoder.1.reparam_conv.weight",
        shape: &[64, 128, 3],
        ne: &[3, 128, 64],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "conv2.bias",
        target: "_model.encoder.1.reparam_conv.bias",
        shape: &[64],
        ne: &[64],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "conv3.weight",
        target: "_model.encoder.2.reparam_conv.weight",
        shape: &[64, 64, 3],
        ne: &[3, 64, 64],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "conv3.bias",
        target: "_model.encoder.2.reparam_conv.bias",
        shape: &[64],
        ne: &[64],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "conv4.weight",
        target: "_model.encoder.3.reparam_conv.weight",
        shape: &[128, 64, 3],
        ne: &[3, 64, 128],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "conv4.bias",
        target: "_model.encoder.3.reparam_conv.bias",
        shape: &[128],
        ne: &[128],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "lstm_cell.weight_ih",
        target: "_model.decoder.rnn.weight_ih",
        shape: &[512, 128],
        ne: &[128, 512],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "lstm_cell.weight_hh",
        target: "_model.decoder.rnn.weight_hh",
        shape: &[512, 128],
        ne: &[128, 512],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "lstm_cell.bias_ih",
        target: "_model.decoder.rnn.bias_ih",
        shape: &[512],
        ne: &[512],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "lstm_cell.bias_hh",
        target: "_model.decoder.rnn.bias_hh",
        shape: &[512],
        ne: &[512],
        ty: GgmlType::F32,
    },
    TensorSpec {
        source: "final_conv.weight",
        target: "_model.decoder.decoder.2.weight",
        shape: &[1, 128, 1],
        ne: &[128, 1],
        ty: GgmlType::F16,
    },
    TensorSpec {
        source: "final_conv.bias",
        target: "_model.decoder.decoder.2.bias",
        shape: &[1],
        ne: &[1],
        ty: GgmlType::F32,
    },
];

/// Why the Silero weights could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum SileroError {
    #[error("the Silero VAD weights are not a readable safetensors file (expected silero_vad_16k.safetensors from the silero-vad package)")]
    Parse(#[source] safetensors::SafeTensorError),
    #[error("the Silero VAD weights lack tensor `{name}`: expected silero_vad_16k.safetensors from silero-vad 6.x")]
    MissingTensor { name: &'static str },
    #[error("Silero VAD tensor `{name}` has shape {found:?}, expected {expected:?} (16 kHz model of silero-vad 6.x)")]
    BadShape {
        name: &'static str,
        expected: &'static [usize],
        found: Vec<usize>,
    },
    #[error("Silero VAD tensor `{name}` has element type {found}, expected F32, F16 or BF16")]
    BadDtype { name: &'static str, found: String },
    #[error("writing the ggml VAD model failed")]
    Io(#[from] std::io::Error),
}

/// Converts `silero_vad_16k.safetensors` (its bytes) into whisper.cpp's Silero VAD ggml
/// file, written to `out`. Every tensor is checked for presence and shape before
/// anything is written, so a wrong input leaves `out` untouched.
pub(crate) fn convert(safetensors: &[u8], out: &mut dyn Write) -> Result<(), SileroError> {
    let st = SafeTensors::deserialize(safetensors).map_err(SileroError::Parse)?;
    let mut buf = Vec::with_capacity(900_000);
    write_header(&mut buf);
    for spec in &TENSORS {
        let values = read_tensor(&st, spec)?;
        write_tensor(&mut buf, spec, &values);
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(())
}

fn put_i32(buf: &mut Vec<u8>, v: i32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn write_header(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&GGML_MAGIC.to_le_bytes());
    put_i32(buf, MODEL_TYPE.len() as i32);
    buf.extend_from_slice(MODEL_TYPE.as_bytes());
    for v in MODEL_VERSION {
        put_i32(buf, v);
    }
    put_i32(buf, N_WINDOW);
    put_i32(buf, N_CONTEXT);
    put_i32(buf, ENCODER_LAYERS.len() as i32);
    for layer in ENCODER_LAYERS {
        for v in layer {
            put_i32(buf, v);
        }
    }
    for v in [LSTM_INPUT, LSTM_HIDDEN, FINAL_CONV_IN, FINAL_CONV_OUT] {
        put_i32(buf, v);
    }
}

/// Reads one source tensor as f32 after checking its name, shape and element type.
fn read_tensor(st: &SafeTensors<'_>, spec: &TensorSpec) -> Result<Vec<f32>, SileroError> {
    let view = st.tensor(spec.source).map_err(|e| match e {
        safetensors::SafeTensorError::TensorNotFound(_) => {
            SileroError::MissingTensor { name: spec.source }
        }
        other => SileroError::Parse(other),
    })?;
    if view.shape() != spec.shape {
        return Err(SileroError::BadShape {
            name: spec.source,
            expected: spec.shape,
            found: view.shape().to_vec(),
        });
    }
    // safetensors data is little-endian and not necessarily aligned: decode bytewise.
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(SileroError::BadDtype {
                name: spec.source,
                found: format!("{other:?}"),
            })
        }
    };
    Ok(values)
}

fn write_tensor(buf: &mut Vec<u8>, spec: &TensorSpec, values: &[f32]) {
    put_i32(buf, spec.ne.len() as i32);
    put_i32(buf, spec.target.len() as i32);
    put_i32(buf, spec.ty as i32);
    for &d in spec.ne {
        put_i32(buf, d);
    }
    buf.extend_from_slice(spec.target.as_bytes());
    match spec.ty {
        GgmlType::F32 => {
            for v in values {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for v in values {
                buf.extend_from_slice(&f16::from_f32(*v).to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    /// Size of the converted file: header + per tensor (12-byte record header, dims,
    /// name, data).
    fn expected_size() -> usize {
        let header = 4 + 4 + MODEL_TYPE.len() + 4 * (3 + 2 + 1 + 3 * 4 + 4);
        let tensors: usize = TENSORS
            .iter()
            .map(|t| {
                let n: usize = t.shape.iter().product();
                let bytes = match t.ty {
                    GgmlType::F32 => 4,
                    GgmlType::F16 => 2,
                };
                12 + 4 * t.ne.len() + t.target.len() + n * bytes
            })
            .sum();
        header + tensors
    }

    /// A safetensors file with every tensor of the right shape, filled with `value`,
    /// leaving out `skip`.
    fn synthetic(value: f32, skip: Option<&str>) -> Vec<u8> {
        let datas: Vec<(String, Vec<usize>, Vec<u8>)> = TENSORS
            .iter()
            .filter(|t| Some(t.source) != skip)
            .map(|t| {
                let n: usize = t.shape.iter().product();
                let bytes = (0..n).flat_map(|_| value.to_le_bytes()).collect();
                (t.source.to_string(), t.shape.to_vec(), bytes)
            })
            .collect();
        let views: Vec<(String, TensorView<'_>)> = datas
            .iter()
            .map(|(name, shape, bytes)| {
                let view = TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap();
                (name.clone(), view)
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    fn i32_at(b: &[u8], off: usize) -> i32 {
        i32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }

    /// Walks the tensor records of a converted file: (name, ne, ttype, data bytes).
    fn records(b: &[u8]) -> Vec<(String, Vec<i32>, i32, usize)> {
        let mut off = 4 + 4 + MODEL_TYPE.len() + 4 * (3 + 2 + 1 + 3 * 4 + 4);
        let mut out = Vec::new();
        while off < b.len() {
            let n_dims = i32_at(b, off) as usize;
            let name_len = i32_at(b, off + 4) as usize;
            let ttype = i32_at(b, off + 8);
            off += 12;
            let ne: Vec<i32> = (0..n_dims).map(|i| i32_at(b, off + 4 * i)).collect();
            off += 4 * n_dims;
            let name = String::from_utf8(b[off..off + name_len].to_vec()).unwrap();
            off += name_len;
            let n: usize = ne.iter().map(|&d| d as usize).product();
            let bytes = n * if ttype == 1 { 2 } else { 4 };
            off += bytes;
            out.push((name, ne, ttype, bytes));
        }
        assert_eq!(off, b.len(), "records must end exactly at end of file");
        out
    }

    #[test]
    fn header_and_records_match_the_whisper_cpp_loader() {
        let mut out = Vec::new();
        convert(&synthetic(0.25, None), &mut out).unwrap();
        assert_eq!(out.len(), expected_size());
        assert_eq!(&out[..4], &0x6767_6d6cu32.to_le_bytes());
        assert_eq!(i32_at(&out, 4), 10);
        assert_eq!(&out[8..18], b"silero-16k");
        // n_window, n_context, n_encoder_layers after the three version numbers.
        assert_eq!(i32_at(&out, 18 + 12), 512);
        assert_eq!(i32_at(&out, 18 + 16), 64);
        assert_eq!(i32_at(&out, 18 + 20), 4);
        let recs = records(&out);
        assert_eq!(recs.len(), 15);
        let stft = &recs[0];
        assert_eq!(stft.0, "_model.stft.forward_basis_buffer");
        assert_eq!((stft.1.clone(), stft.2), (vec![256, 1, 258], 1));
        let lstm = recs
            .iter()
            .find(|r| r.0 == "_model.decoder.rnn.weight_ih")
            .unwrap();
        assert_eq!((lstm.1.clone(), lstm.2), (vec![128, 512], 0));
        let last = recs
            .iter()
            .find(|r| r.0 == "_model.decoder.decoder.2.weight")
            .unwrap();
        assert_eq!((last.1.clone(), last.2), (vec![128, 1], 1));
        // 0.25 is exact in f16: the first f16 value of the STFT basis reads back.
        let data_off = 18 + 4 * 24 + 12 + 12 + stft.0.len();
        let v = f16::from_le_bytes([out[data_off], out[data_off + 1]]);
        assert_eq!(v.to_f32(), 0.25);
    }

    #[test]
    fn missing_tensor_is_named_and_nothing_is_written() {
        let mut out = Vec::new();
        let err = convert(&synthetic(0.0, Some("lstm_cell.bias_hh")), &mut out).unwrap_err();
        assert!(matches!(
            err,
            SileroError::MissingTensor {
                name: "lstm_cell.bias_hh"
            }
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn wrong_shape_reports_expected_and_found() {
        let bytes = vec![0u8; 4 * 8];
        let view = TensorView::new(Dtype::F32, vec![8], &bytes).unwrap();
        let file = safetensors::serialize([("stft_conv.weight", view)], None).unwrap();
        let err = convert(&file, &mut Vec::new()).unwrap_err();
        match err {
            SileroError::BadShape {
                name,
                expected,
                found,
            } => {
                assert_eq!(name, "stft_conv.weight");
                assert_eq!(expected, &[258, 1, 256]);
                assert_eq!(found, vec![8]);
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn garbage_is_a_parse_error() {
        let err = convert(b"not a safetensors file", &mut Vec::new()).unwrap_err();
        assert!(matches!(err, SileroError::Parse(_)));
    }

    /// Converts the real weights when CI provides them (`GIJIROKU_TEST_SILERO` =
    /// path of silero_vad_16k.safetensors).
    #[test]
    fn converts_the_real_silero_weights() {
        let Some(path) = std::env::var_os("GIJIROKU_TEST_SILERO") else {
            eprintln!("skipped: set GIJIROKU_TEST_SILERO to silero_vad_16k.safetensors");
            return;
        };
        let input = std::fs::read(&path).unwrap();
        let mut out = Vec::new();
        convert(&input, &mut out).unwrap();
        assert_eq!(out.len(), expected_size());
        assert_eq!(records(&out).len(), 15);
    }
}
