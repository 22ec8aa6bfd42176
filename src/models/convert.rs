//! faster-whisper (CTranslate2) directory → whisper.cpp ggml f16 file: [`convert_ct2`].
//!
//! Hyperparameters come from tensor shapes (n_mels from `encoder/conv1/weight`, so large-v3's
//! 128 mel bins work), layer counts from variable names, head counts from the `num_heads`
//! scalars. Fused projections are split (self-attention q|k|v, cross-attention k|v) and the key
//! projection loses its bias, which CTranslate2 stores as zeros. Tensors stream a chunk of rows
//! at a time, so memory stays near one chunk whatever the model size.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use half::f16;

use super::ct2::Ct2Model;
use super::ggml::{self, Hparams, TensorType};
use super::{vocab, ModelError};
use crate::types::Progress;

/// Head size of every Whisper model, used when a model lacks the `num_heads` scalars.
const HEAD_DIM: usize = 64;

/// One ggml tensor and where its rows come from.
struct Job {
    name: String,
    src: String,
    rows: Range<usize>,
    /// PyTorch order.
    dims: Vec<usize>,
    ttype: TensorType,
}

/// Counts of what [`convert_ct2`] wrote, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvertSummary {
    pub hparams: Hparams,
    pub n_tensors: usize,
    pub n_tokens: usize,
}

/// Converts the faster-whisper model in `dir` (model.bin + vocabulary + config.json) and writes
/// the ggml file to `out`.
pub(crate) fn convert_ct2(
    dir: &Path,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<ConvertSummary, ModelError> {
    let mut model = Ct2Model::open(&dir.join("model.bin"))?;
    if model.spec != "WhisperSpec" {
        return Err(model.error(format!(
            "spec is {:?}, expected \"WhisperSpec\" (not a Whisper model)",
            model.spec
        )));
    }
    let tokens = vocab::load(dir)?;
    let token_bytes = vocab::token_bytes(&tokens, dir)?;
    let hparams = hparams(&mut model)?;
    if tokens.len() != hparams.n_vocab as usize {
        tracing::warn!(
            vocabulary = tokens.len(),
            embedding_rows = hparams.n_vocab,
            "vocabulary size differs from the token embedding; using the embedding"
        );
    }
    let jobs = plan(&model, &hparams)?;
    let out_err = |source| ModelError::Io {
        path: dir.join("<converted ggml output>"),
        source,
    };

    ggml::write_header(out, &hparams).map_err(out_err)?;
    ggml::write_mel_filters(out, hparams.n_mels as usize).map_err(out_err)?;
    ggml::write_vocab(out, &token_bytes).map_err(out_err)?;

    let total: u64 = jobs
        .iter()
        .map(|j| j.dims.iter().product::<usize>() as u64)
        .sum();
    progress.start("変換", total);
    let mut done = 0u64;
    let mut encoded = Vec::new();
    for job in &jobs {
        ggml::write_tensor_header(out, &job.name, &job.dims, job.ttype).map_err(out_err)?;
        model.stream_rows(&job.src, job.rows.clone(), |values| {
            encoded.clear();
            match job.ttype {
                TensorType::F32 => values
                    .iter()
                    .for_each(|v| encoded.extend_from_slice(&v.to_le_bytes())),
                TensorType::F16 => values
                    .iter()
                    .for_each(|v| encoded.extend_from_slice(&f16::from_f32(*v).to_le_bytes())),
            }
            out.write_all(&encoded).map_err(out_err)?;
            done += values.len() as u64;
            progress.set(done);
            Ok(())
        })?;
    }
    progress.finish();
    tracing::info!(
        tensors = jobs.len(),
        tokens = token_bytes.len(),
        n_mels = hparams.n_mels,
        layers = hparams.n_audio_layer,
        "converted CTranslate2 model"
    );
    Ok(ConvertSummary {
        hparams,
        n_tensors: jobs.len(),
        n_tokens: token_bytes.len(),
    })
}

/// Number of `<prefix>layer_N/` blocks (highest N + 1).
fn count_layers(model: &Ct2Model, prefix: &str) -> usize {
    model
        .names()
        .filter_map(|n| {
            n.strip_prefix(prefix)?
                .split('/')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .map(|n| n + 1)
        .max()
        .unwrap_or(0)
}

fn hparams(model: &mut Ct2Model) -> Result<Hparams, ModelError> {
    let shape = |model: &Ct2Model, name: &str, rank: usize| -> Result<Vec<usize>, ModelError> {
        let var = model.require(name)?;
        if var.dims.len() != rank {
            return Err(model.error(format!(
                "{name} has shape {:?}, expected rank {rank}",
                var.dims
            )));
        }
        Ok(var.dims.clone())
    };
    let conv1 = shape(model, "encoder/conv1/weight", 3)?;
    let enc_pos = shape(model, "encoder/position_encodings/encodings", 2)?;
    let emb = shape(model, "decoder/embeddings/weight", 2)?;
    let dec_pos = shape(model, "decoder/position_encodings/encodings", 2)?;
    let (n_audio_state, n_mels) = (conv1[0], conv1[1]);
    let n_text_state = emb[1];
    if enc_pos[1] != n_audio_state || dec_pos[1] != n_text_state || n_audio_state != n_text_state {
        return Err(model.error(format!(
            "inconsistent widths: conv1 {conv1:?}, encoder positions {enc_pos:?}, embeddings {emb:?}, decoder positions {dec_pos:?}"
        )));
    }
    let n_audio_layer = count_layers(model, "encoder/layer_");
    let n_text_layer = count_layers(model, "decoder/layer_");
    if n_audio_layer == 0 || n_text_layer == 0 {
        return Err(model.error("no encoder or decoder layers found".into()));
    }
    let mut heads = |name: &str, state: usize| -> Result<usize, ModelError> {
        Ok(match model.scalar_int(name)? {
            Some(h) if h > 0 => h as usize,
            _ => state / HEAD_DIM,
        })
    };
    let n_audio_head = heads("encoder/num_heads", n_audio_state)?;
    let n_text_head = heads("decoder/num_heads", n_text_state)?;
    let to_i32 = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
    Ok(Hparams {
        n_vocab: to_i32(emb[0]),
        n_audio_ctx: to_i32(enc_pos[0]),
        n_audio_state: to_i32(n_audio_state),
        n_audio_head: to_i32(n_audio_head),
        n_audio_layer: to_i32(n_audio_layer),
        n_text_ctx: to_i32(dec_pos[0]),
        n_text_state: to_i32(n_text_state),
        n_text_head: to_i32(n_text_head),
        n_text_layer: to_i32(n_text_layer),
        n_mels: to_i32(n_mels),
        ftype: ggml::FTYPE_MOSTLY_F16,
    })
}

/// Builds the tensor list; `d` is the model width.
struct Plan {
    d: usize,
    jobs: Vec<Job>,
}

impl Plan {
    fn tensor(
        &mut self,
        name: String,
        src: String,
        rows: Range<usize>,
        dims: Vec<usize>,
        ttype: TensorType,
    ) {
        self.jobs.push(Job {
            name,
            src,
            rows,
            dims,
            ttype,
        });
    }

    /// A layer norm: CTranslate2's gamma/beta become weight/bias.
    fn layer_norm(&mut self, dst: &str, src: &str) {
        let d = self.d;
        self.tensor(
            format!("{dst}.weight"),
            format!("{src}/gamma"),
            0..d,
            vec![d],
            TensorType::F32,
        );
        self.tensor(
            format!("{dst}.bias"),
            format!("{src}/beta"),
            0..d,
            vec![d],
            TensorType::F32,
        );
    }

    fn linear(&mut self, dst: &str, src: &str, rows: usize, cols: usize) {
        self.tensor(
            format!("{dst}.weight"),
            format!("{src}/weight"),
            0..rows,
            vec![rows, cols],
            TensorType::F16,
        );
        self.tensor(
            format!("{dst}.bias"),
            format!("{src}/bias"),
            0..rows,
            vec![rows],
            TensorType::F32,
        );
    }

    /// A fused projection split into `parts` (in row order), each `d × d`; keys get no bias.
    fn fused(&mut self, dst: &str, src: &str, parts: &[&str]) {
        let d = self.d;
        for (i, part) in parts.iter().enumerate() {
            let rows = i * d..(i + 1) * d;
            self.tensor(
                format!("{dst}.{part}.weight"),
                format!("{src}/weight"),
                rows.clone(),
                vec![d, d],
                TensorType::F16,
            );
            if *part != "key" {
                self.tensor(
                    format!("{dst}.{part}.bias"),
                    format!("{src}/bias"),
                    rows,
                    vec![d],
                    TensorType::F32,
                );
            }
        }
    }
}

/// The full tensor list whisper.cpp expects (11 + 15 per encoder layer + 24 per decoder layer),
/// each mapped to a row range of a CTranslate2 variable and checked for shape.
fn plan(model: &Ct2Model, h: &Hparams) -> Result<Vec<Job>, ModelError> {
    let d = h.n_audio_state as usize;
    let (f32_, f16_) = (TensorType::F32, TensorType::F16);
    let mut p = Plan {
        d,
        jobs: Vec::new(),
    };

    // Encoder stem. Conv weights follow the 2-D weights' type (whisper.cpp's `vtype`); conv biases
    // are 2-D [n, 1] in f32, as PyTorch stores them.
    let enc_pos = h.n_audio_ctx as usize;
    p.tensor(
        "encoder.positional_embedding".into(),
        "encoder/position_encodings/encodings".into(),
        0..enc_pos,
        vec![enc_pos, d],
        f32_,
    );
    p.tensor(
        "encoder.conv1.weight".into(),
        "encoder/conv1/weight".into(),
        0..d,
        vec![d, h.n_mels as usize, 3],
        f16_,
    );
    p.tensor(
        "encoder.conv1.bias".into(),
        "encoder/conv1/bias".into(),
        0..d,
        vec![d, 1],
        f32_,
    );
    p.tensor(
        "encoder.conv2.weight".into(),
        "encoder/conv2/weight".into(),
        0..d,
        vec![d, d, 3],
        f16_,
    );
    p.tensor(
        "encoder.conv2.bias".into(),
        "encoder/conv2/bias".into(),
        0..d,
        vec![d, 1],
        f32_,
    );
    p.layer_norm("encoder.ln_post", "encoder/layer_norm");
    for i in 0..h.n_audio_layer as usize {
        let (dst, src) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        p.layer_norm(
            &format!("{dst}.attn_ln"),
            &format!("{src}/self_attention/layer_norm"),
        );
        p.fused(
            &format!("{dst}.attn"),
            &format!("{src}/self_attention/linear_0"),
            &["query", "key", "value"],
        );
        p.linear(
            &format!("{dst}.attn.out"),
            &format!("{src}/self_attention/linear_1"),
            d,
            d,
        );
        p.layer_norm(&format!("{dst}.mlp_ln"), &format!("{src}/ffn/layer_norm"));
        p.linear(
            &format!("{dst}.mlp.0"),
            &format!("{src}/ffn/linear_0"),
            4 * d,
            d,
        );
        p.linear(
            &format!("{dst}.mlp.2"),
            &format!("{src}/ffn/linear_1"),
            d,
            4 * d,
        );
    }

    // Decoder. The output projection is tied to the token embedding, so it is not written.
    let dec_pos = h.n_text_ctx as usize;
    let n_vocab = h.n_vocab as usize;
    p.tensor(
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings".into(),
        0..dec_pos,
        vec![dec_pos, d],
        f32_,
    );
    p.tensor(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight".into(),
        0..n_vocab,
        vec![n_vocab, d],
        f16_,
    );
    p.layer_norm("decoder.ln", "decoder/layer_norm");
    for i in 0..h.n_text_layer as usize {
        let (dst, src) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        p.layer_norm(
            &format!("{dst}.attn_ln"),
            &format!("{src}/self_attention/layer_norm"),
        );
        p.fused(
            &format!("{dst}.attn"),
            &format!("{src}/self_attention/linear_0"),
            &["query", "key", "value"],
        );
        p.linear(
            &format!("{dst}.attn.out"),
            &format!("{src}/self_attention/linear_1"),
            d,
            d,
        );
        p.layer_norm(
            &format!("{dst}.cross_attn_ln"),
            &format!("{src}/attention/layer_norm"),
        );
        p.linear(
            &format!("{dst}.cross_attn.query"),
            &format!("{src}/attention/linear_0"),
            d,
            d,
        );
        p.fused(
            &format!("{dst}.cross_attn"),
            &format!("{src}/attention/linear_1"),
            &["key", "value"],
        );
        p.linear(
            &format!("{dst}.cross_attn.out"),
            &format!("{src}/attention/linear_2"),
            d,
            d,
        );
        p.layer_norm(&format!("{dst}.mlp_ln"), &format!("{src}/ffn/layer_norm"));
        p.linear(
            &format!("{dst}.mlp.0"),
            &format!("{src}/ffn/linear_0"),
            4 * d,
            d,
        );
        p.linear(
            &format!("{dst}.mlp.2"),
            &format!("{src}/ffn/linear_1"),
            d,
            4 * d,
        );
    }
    let jobs = p.jobs;

    // Every source must be used whole (its rows are the union of the jobs' ranges, e.g. 3·d for a
    // fused q|k|v), and each job must get exactly the elements its ggml shape needs.
    let mut rows_used: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &jobs {
        let end = rows_used.entry(job.src.as_str()).or_default();
        *end = (*end).max(job.rows.end);
    }
    for job in &jobs {
        let var = model.require(&job.src)?;
        let want: usize = job.dims.iter().product();
        if var.rows() != rows_used[job.src.as_str()]
            || var.row_len().max(1) * job.rows.len() != want
        {
            return Err(model.error(format!(
                "{} has shape {:?}, which does not fit {} with shape {:?}",
                job.src, var.dims, job.name, job.dims
            )));
        }
    }
    Ok(jobs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::ct2::tests::{write_ct2, Data};
    use crate::models::ggml::tests::read_model;
    use crate::types::NoProgress;

    /// A tiny but complete Whisper in CTranslate2 layout: width `d`, `n_mels` mel bins, one
    /// encoder and two decoder layers, 6-token vocabulary. Values encode their position so
    /// splits can be checked; the first self-attention weight is int8 with per-row scales.
    pub(crate) fn synthetic_ct2(dir: &Path, d: usize, n_mels: usize, english: bool) {
        let seq =
            |n: usize, base: f32| -> Vec<f32> { (0..n).map(|i| base + i as f32 / 16.0).collect() };
        let mut vars: Vec<(String, Vec<usize>, Data)> = vec![
            (
                "encoder/conv1/weight".into(),
                vec![d, n_mels, 3],
                Data::F16(seq(d * n_mels * 3, 0.0)),
            ),
            ("encoder/conv1/bias".into(), vec![d], Data::F32(seq(d, 1.0))),
            (
                "encoder/conv2/weight".into(),
                vec![d, d, 3],
                Data::F16(seq(d * d * 3, 0.0)),
            ),
            ("encoder/conv2/bias".into(), vec![d], Data::F32(seq(d, 2.0))),
            (
                "encoder/position_encodings/encodings".into(),
                vec![10, d],
                Data::F32(seq(10 * d, 0.0)),
            ),
            (
                "encoder/layer_norm/gamma".into(),
                vec![d],
                Data::F32(seq(d, 3.0)),
            ),
            (
                "encoder/layer_norm/beta".into(),
                vec![d],
                Data::F32(seq(d, 4.0)),
            ),
            ("encoder/num_heads".into(), vec![], Data::I16Scalar(2)),
            ("decoder/num_heads".into(), vec![], Data::I16Scalar(2)),
            (
                "decoder/embeddings/weight".into(),
                vec![6, d],
                Data::F16(seq(6 * d, 0.0)),
            ),
            (
                "decoder/position_encodings/encodings".into(),
                vec![7, d],
                Data::F32(seq(7 * d, 0.0)),
            ),
            (
                "decoder/layer_norm/gamma".into(),
                vec![d],
                Data::F32(seq(d, 5.0)),
            ),
            (
                "decoder/layer_norm/beta".into(),
                vec![d],
                Data::F32(seq(d, 6.0)),
            ),
        ];
        let lin =
            |vars: &mut Vec<(String, Vec<usize>, Data)>, p: &str, rows: usize, cols: usize| {
                vars.push((
                    format!("{p}/weight"),
                    vec![rows, cols],
                    Data::F16(seq(rows * cols, 0.0)),
                ));
                vars.push((format!("{p}/bias"), vec![rows], Data::F32(seq(rows, 0.0))));
            };
        let ln = |vars: &mut Vec<(String, Vec<usize>, Data)>, p: &str| {
            vars.push((format!("{p}/gamma"), vec![d], Data::F32(vec![1.0; d])));
            vars.push((format!("{p}/beta"), vec![d], Data::F32(vec![0.0; d])));
        };
        for (prefix, n, cross) in [("encoder", 1, false), ("decoder", 2, true)] {
            for i in 0..n {
                let l = format!("{prefix}/layer_{i}");
                ln(&mut vars, &format!("{l}/self_attention/layer_norm"));
                lin(&mut vars, &format!("{l}/self_attention/linear_0"), 3 * d, d);
                lin(&mut vars, &format!("{l}/self_attention/linear_1"), d, d);
                ln(&mut vars, &format!("{l}/ffn/layer_norm"));
                lin(&mut vars, &format!("{l}/ffn/linear_0"), 4 * d, d);
                lin(&mut vars, &format!("{l}/ffn/linear_1"), d, 4 * d);
                if cross {
                    ln(&mut vars, &format!("{l}/attention/layer_norm"));
                    lin(&mut vars, &format!("{l}/attention/linear_0"), d, d);
                    lin(&mut vars, &format!("{l}/attention/linear_1"), 2 * d, d);
                    lin(&mut vars, &format!("{l}/attention/linear_2"), d, d);
                }
            }
        }
        // The encoder's fused qkv as int8: row r holds r + 1 with scale 0.5, so it dequantizes to
        // exactly 2 (r + 1).
        let qkv = "encoder/layer_0/self_attention/linear_0/weight";
        let pos = vars.iter().position(|v| v.0 == qkv).unwrap();
        vars[pos].2 = Data::I8((0..3 * d * d).map(|i| ((i / d) % 100) as i8 + 1).collect());
        vars.push((
            format!("{qkv}_scale"),
            vec![3 * d],
            Data::F32(vec![0.5; 3 * d]),
        ));
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = write_ct2(
            &vars,
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        );
        std::fs::write(dir.join("model.bin"), bytes).unwrap();
        let vocab = if english {
            "!\nĠa\nãģĵ\n<|endoftext|>\n<|startoftranscript|>\n<|notimestamps|>\n"
        } else {
            "!\nĠa\nãģĵ\n\n<|endoftext|>\n<|startoftranscript|>\n"
        };
        std::fs::write(dir.join("vocabulary.txt"), vocab).unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
    }

    #[test]
    fn converts_a_synthetic_model_with_every_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let d = 8;
        synthetic_ct2(dir.path(), d, 80, false);
        let mut out = Vec::new();
        let summary = convert_ct2(dir.path(), &mut out, &NoProgress).unwrap();
        assert_eq!(summary.n_tensors, 11 + 15 + 2 * 24);
        assert_eq!(
            summary.n_tokens, 4,
            "multilingual: regular tokens include the empty one"
        );
        let m = read_model(&out);
        assert_eq!(
            m.hparams,
            Hparams {
                n_vocab: 6,
                n_audio_ctx: 10,
                n_audio_state: 8,
                n_audio_head: 2,
                n_audio_layer: 1,
                n_text_ctx: 7,
                n_text_state: 8,
                n_text_head: 2,
                n_text_layer: 2,
                n_mels: 80,
                ftype: 1
            }
        );
        assert_eq!(m.filters, ggml::mel_filters(80));
        assert_eq!(
            m.vocab,
            vec![
                b"!".to_vec(),
                b" a".to_vec(),
                "こ".as_bytes().to_vec(),
                Vec::new()
            ]
        );
        let t = |name: &str| {
            m.tensors
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };

        let bias = t("encoder.conv1.bias");
        assert_eq!((bias.dims.clone(), bias.ttype), (vec![d, 1], 0));
        assert_eq!(bias.values[1], 1.0 + 1.0 / 16.0);
        assert_eq!(t("encoder.conv1.weight").dims, vec![d, 80, 3]);
        assert_eq!(t("encoder.conv1.weight").ttype, 1);
        assert_eq!(t("encoder.positional_embedding").ttype, 0);
        assert_eq!(t("decoder.positional_embedding").dims, vec![7, d]);
        assert_eq!(t("decoder.token_embedding.weight").dims, vec![6, d]);
        assert_eq!(t("decoder.ln.bias").values[0], 6.0);

        // int8 fused qkv, dequantized (q / 0.5) and split: key rows d..2d hold 2*(r+1).
        let key = t("encoder.blocks.0.attn.key.weight");
        assert_eq!((key.dims.clone(), key.ttype), (vec![d, d], 1));
        assert_eq!(key.values[0], 2.0 * (d as f32 + 1.0));
        assert!(m.tensors.iter().all(|t| !t.name.ends_with("attn.key.bias")));
        // f16 fused cross k|v: value rows start at d.
        let value = t("decoder.blocks.1.cross_attn.value.weight");
        assert_eq!(value.values[0], (d * d) as f32 / 16.0);
        assert_eq!(
            t("decoder.blocks.1.cross_attn.value.bias").values[0],
            d as f32 / 16.0
        );
        assert_eq!(t("decoder.blocks.0.attn.query.bias").values.len(), d);
        assert_eq!(t("decoder.blocks.0.mlp.0.weight").dims, vec![4 * d, d]);
        let names: std::collections::BTreeSet<_> =
            m.tensors.iter().map(|t| t.name.clone()).collect();
        assert_eq!(names.len(), m.tensors.len(), "no duplicates");
    }

    #[test]
    fn english_vocab_and_128_mels() {
        let dir = tempfile::tempdir().unwrap();
        synthetic_ct2(dir.path(), 8, 128, true);
        let mut out = Vec::new();
        let summary = convert_ct2(dir.path(), &mut out, &NoProgress).unwrap();
        assert_eq!(summary.n_tokens, 3);
        assert_eq!(summary.hparams.n_mels, 128);
        assert_eq!(read_model(&out).filters.len(), 128 * 201);
    }

    #[test]
    fn missing_tensor_is_named() {
        let dir = tempfile::tempdir().unwrap();
        synthetic_ct2(dir.path(), 8, 80, false);
        // Rebuild without decoder layer 1's cross-attention output.
        let path = dir.path().join("model.bin");
        let bytes = std::fs::read(&path).unwrap();
        let needle = b"decoder/layer_1/attention/linear_2/weight";
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        let mut broken = bytes.clone();
        broken[at + needle.len() - 6] = b'X';
        std::fs::write(&path, broken).unwrap();
        let err = convert_ct2(dir.path(), &mut Vec::new(), &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("decoder/layer_1/attention/linear_2/weight"),
            "{err}"
        );
    }
}
