//! The whisper.cpp model file: [`Hparams`] header, Slaney mel filter bank, vocabulary and
//! tensor records ([`write_tensor_header`]), plus [`check_whisper_file`], which looks at a file's
//! header before whisper.cpp is asked to load it.
//!
//! Layout (little-endian): `u32 magic`, 11 × `i32` hparams, `i32 n_mel, i32 n_fft_bins` and the
//! filters as f32, `i32 n_tokens` and per token `u32 len` + bytes, then tensors until EOF.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::ModelError;

/// "ggml" as whisper.cpp reads it (`GGML_FILE_MAGIC`).
pub(crate) const MAGIC: u32 = 0x6767_6d6c;

/// ggml's `GGML_QNT_VERSION_FACTOR`: quantized files store `ftype + 1000 * qnt_version`.
const QNT_VERSION_FACTOR: i32 = 1000;

/// Sample rate and FFT size of Whisper's log-mel front end.
const SAMPLE_RATE: f64 = 16_000.0;
const N_FFT: usize = 400;
pub(crate) const N_FFT_BINS: usize = N_FFT / 2 + 1;

/// Tensor element types this converter writes (ggml's `GGML_TYPE_F32` and `GGML_TYPE_F16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TensorType {
    F32 = 0,
    F16 = 1,
}

/// `GGML_FTYPE_MOSTLY_F16`: 2-D weights in f16, the rest in f32.
pub(crate) const FTYPE_MOSTLY_F16: i32 = 1;

/// The model header, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    fn from_fields(f: [i32; 11]) -> Hparams {
        Hparams {
            n_vocab: f[0],
            n_audio_ctx: f[1],
            n_audio_state: f[2],
            n_audio_head: f[3],
            n_audio_layer: f[4],
            n_text_ctx: f[5],
            n_text_state: f[6],
            n_text_head: f[7],
            n_text_layer: f[8],
            n_mels: f[9],
            ftype: f[10],
        }
    }

    /// The rule whisper.cpp (or common sense) would reject, if any.
    fn problem(&self) -> Option<String> {
        let checks: [(&str, i32, i32, i32); 10] = [
            ("n_vocab", self.n_vocab, 1, 1_000_000),
            ("n_audio_ctx", self.n_audio_ctx, 1, 100_000),
            ("n_audio_state", self.n_audio_state, 1, 65_536),
            ("n_audio_head", self.n_audio_head, 1, 1024),
            ("n_audio_layer", self.n_audio_layer, 1, 1024),
            ("n_text_ctx", self.n_text_ctx, 1, 100_000),
            ("n_text_state", self.n_text_state, 1, 65_536),
            ("n_text_head", self.n_text_head, 1, 1024),
            ("n_text_layer", self.n_text_layer, 1, 1024),
            ("n_mels", self.n_mels, 1, 1024),
        ];
        for (name, value, lo, hi) in checks {
            if !(lo..=hi).contains(&value) {
                return Some(format!("{name} = {value} is outside {lo}..={hi}"));
            }
        }
        if self.n_audio_state != self.n_text_state {
            return Some(format!(
                "n_audio_state {} differs from n_text_state {} (whisper.cpp requires them equal)",
                self.n_audio_state, self.n_text_state
            ));
        }
        let ftype = self.ftype.rem_euclid(QNT_VERSION_FACTOR);
        if !ftype_supported(ftype) {
            return Some(format!(
                "weight type (ftype) {} is not one whisper.cpp can load",
                self.ftype
            ));
        }
        None
    }
}

/// The ftypes `ggml_ftype_to_ggml_type` maps to a real type: f32, f16, q4_0, q4_1, q8_0, q5_0,
/// q5_1, the k-/i-quants (10..=23), bf16 and mxfp4. 4 (q4_1 with some f16) and the retired 5/6 are
/// refused by whisper.cpp.
fn ftype_supported(ftype: i32) -> bool {
    matches!(ftype, 0..=3 | 7..=25)
}

pub(crate) fn write_header<W: Write + ?Sized>(w: &mut W, h: &Hparams) -> io::Result<()> {
    w.write_all(&MAGIC.to_le_bytes())?;
    for v in h.fields() {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub(crate) fn write_mel_filters<W: Write + ?Sized>(w: &mut W, n_mels: usize) -> io::Result<()> {
    w.write_all(&(n_mels as i32).to_le_bytes())?;
    w.write_all(&(N_FFT_BINS as i32).to_le_bytes())?;
    for v in mel_filters(n_mels) {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub(crate) fn write_vocab<W: Write + ?Sized>(w: &mut W, tokens: &[Vec<u8>]) -> io::Result<()> {
    w.write_all(&(tokens.len() as i32).to_le_bytes())?;
    for t in tokens {
        w.write_all(&(t.len() as u32).to_le_bytes())?;
        w.write_all(t)?;
    }
    Ok(())
}

/// A tensor record's header; `dims` in PyTorch order (outermost first), written reversed as
/// ggml's `ne`. The caller writes the element data right after.
pub(crate) fn write_tensor_header<W: Write + ?Sized>(
    w: &mut W,
    name: &str,
    dims: &[usize],
    ttype: TensorType,
) -> io::Result<()> {
    w.write_all(&(dims.len() as i32).to_le_bytes())?;
    w.write_all(&(name.len() as i32).to_le_bytes())?;
    w.write_all(&(ttype as i32).to_le_bytes())?;
    for &d in dims.iter().rev() {
        w.write_all(&(d as i32).to_le_bytes())?;
    }
    w.write_all(name.as_bytes())
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels, htk=False, norm="slaney")`, the bank
/// Whisper's `mel_filters.npz` holds, row-major `n_mels × 201`.
pub(crate) fn mel_filters(n_mels: usize) -> Vec<f32> {
    // Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| {
        if f >= MIN_LOG_HZ {
            MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep
        } else {
            f / F_SP
        }
    };
    let mel_to_hz = |m: f64| {
        if m >= MIN_LOG_MEL {
            MIN_LOG_HZ * (logstep * (m - MIN_LOG_MEL)).exp()
        } else {
            F_SP * m
        }
    };

    let max_mel = hz_to_mel(SAMPLE_RATE / 2.0);
    let n_points = n_mels + 2;
    let mel_f: Vec<f64> = (0..n_points)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_points - 1) as f64))
        .collect();
    let fft_freq = |k: usize| k as f64 * SAMPLE_RATE / N_FFT as f64;

    let mut out = Vec::with_capacity(n_mels * N_FFT_BINS);
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for k in 0..N_FFT_BINS {
            let f = fft_freq(k);
            let lower = (f - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
            let upper = (mel_f[i + 2] - f) / (mel_f[i + 2] - mel_f[i + 1]);
            out.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    out
}

/// What [`check_whisper_file`] learned from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GgmlInfo {
    pub hparams: Hparams,
}

/// Reads the header of `path` and checks it is a whisper.cpp model whisper.cpp would accept
/// (magic, sane hparams, a supported weight type, a mel filter block of the right shape).
pub(crate) fn check_whisper_file(path: &Path) -> Result<GgmlInfo, ModelError> {
    let invalid = |reason: String| ModelError::InvalidGgml {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut r = BufReader::new(file);
    let mut read_u32 = |what: &str| -> Result<u32, ModelError> {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                invalid(format!("file ends inside the header ({what})"))
            }
            _ => ModelError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        Ok(u32::from_le_bytes(b))
    };
    let magic = read_u32("magic")?;
    if magic != MAGIC {
        return Err(invalid(format!(
            "magic is {magic:#010x}, expected {MAGIC:#010x} (\"ggml\"); GGUF and PyTorch files are not supported"
        )));
    }
    let mut fields = [0i32; 11];
    for f in &mut fields {
        *f = read_u32("hparams")? as i32;
    }
    let hparams = Hparams::from_fields(fields);
    if let Some(problem) = hparams.problem() {
        return Err(invalid(problem));
    }
    let n_mel = read_u32("mel filters")? as i32;
    let n_fft = read_u32("mel filters")? as i32;
    if n_mel != hparams.n_mels || n_fft != N_FFT_BINS as i32 {
        return Err(invalid(format!(
            "mel filter block is {n_mel}×{n_fft}, expected {}×{N_FFT_BINS}",
            hparams.n_mels
        )));
    }
    Ok(GgmlInfo { hparams })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tensor as read back from a ggml file, for assertions.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct ReadTensor {
        pub name: String,
        /// PyTorch order.
        pub dims: Vec<usize>,
        pub ttype: i32,
        pub values: Vec<f32>,
    }

    /// Everything in a (f32/f16) ggml file, read back by a tiny independent parser.
    pub(crate) struct ReadModel {
        pub hparams: Hparams,
        pub filters: Vec<f32>,
        pub vocab: Vec<Vec<u8>>,
        pub tensors: Vec<ReadTensor>,
    }

    pub(crate) fn read_model(bytes: &[u8]) -> ReadModel {
        let mut pos = 0usize;
        let i32_at = |pos: &mut usize| {
            let v = i32::from_le_bytes(bytes[*pos..*pos + 4].try_into().unwrap());
            *pos += 4;
            v
        };
        assert_eq!(i32_at(&mut pos) as u32, MAGIC);
        let mut f = [0i32; 11];
        for x in &mut f {
            *x = i32_at(&mut pos);
        }
        let hparams = Hparams::from_fields(f);
        let n_mel = i32_at(&mut pos) as usize;
        let n_fft = i32_at(&mut pos) as usize;
        let filters = (0..n_mel * n_fft)
            .map(|_| f32::from_bits(i32_at(&mut pos) as u32))
            .collect();
        let n_vocab = i32_at(&mut pos) as usize;
        let mut vocab = Vec::new();
        for _ in 0..n_vocab {
            let len = i32_at(&mut pos) as usize;
            vocab.push(bytes[pos..pos + len].to_vec());
            pos += len;
        }
        let mut tensors = Vec::new();
        while pos < bytes.len() {
            let n_dims = i32_at(&mut pos) as usize;
            let name_len = i32_at(&mut pos) as usize;
            let ttype = i32_at(&mut pos);
            let mut ne: Vec<usize> = (0..n_dims).map(|_| i32_at(&mut pos) as usize).collect();
            let name = String::from_utf8(bytes[pos..pos + name_len].to_vec()).unwrap();
            pos += name_len;
            let n: usize = ne.iter().product();
            let values = match ttype {
                0 => (0..n)
                    .map(|_| f32::from_bits(i32_at(&mut pos) as u32))
                    .collect(),
                1 => (0..n)
                    .map(|i| {
                        half::f16::from_le_bytes([bytes[pos + 2 * i], bytes[pos + 2 * i + 1]])
                            .to_f32()
                    })
                    .collect::<Vec<_>>(),
                t => panic!("unexpected tensor type {t}"),
            };
            if ttype == 1 {
                pos += 2 * n;
            }
            ne.reverse();
            tensors.push(ReadTensor {
                name,
                dims: ne,
                ttype,
                values,
            });
        }
        ReadModel {
            hparams,
            filters,
            vocab,
            tensors,
        }
    }

    fn base_hparams() -> Hparams {
        Hparams {
            n_vocab: 51865,
            n_audio_ctx: 1500,
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 6,
            n_text_ctx: 448,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 6,
            n_mels: 80,
            ftype: FTYPE_MOSTLY_F16,
        }
    }

    #[test]
    fn mel_bank_matches_librosa_slaney() {
        for n_mels in [80, 128] {
            let f = mel_filters(n_mels);
            assert_eq!(f.len(), n_mels * N_FFT_BINS);
            assert!(f.iter().all(|&v| v >= 0.0 && v.is_finite()));
            for row in f.chunks(N_FFT_BINS) {
                assert!(row.iter().any(|&v| v > 0.0), "every filter has support");
            }
            // Slaney normalisation gives each triangle unit area in Hz; with 40 Hz bins the
            // discrete sum is close to 1/40 once filters span several bins.
            let high_row = &f[(n_mels - 1) * N_FFT_BINS..];
            let area: f32 = high_row.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.05, "area {area}");
        }
        // Values from Whisper's mel_filters.npz (mel_80): row 0 is 0 at DC, 0.0248626 at 40 Hz.
        let f = mel_filters(80);
        assert_eq!(f[0], 0.0);
        assert!((f[1] - 0.024_862_6).abs() < 1e-6, "{}", f[1]);
    }

    #[test]
    fn header_round_trips_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ggml-x.bin");
        let mut bytes = Vec::new();
        write_header(&mut bytes, &base_hparams()).unwrap();
        write_mel_filters(&mut bytes, 80).unwrap();
        write_vocab(&mut bytes, &[b"a".to_vec(), Vec::new()]).unwrap();
        write_tensor_header(&mut bytes, "encoder.conv1.bias", &[512, 1], TensorType::F32).unwrap();
        bytes.extend(std::iter::repeat_n(0u8, 512 * 4));
        std::fs::write(&path, &bytes).unwrap();

        assert_eq!(&bytes[..4], b"lmgg", "magic is little-endian \"ggml\"");
        let info = check_whisper_file(&path).unwrap();
        assert_eq!(info.hparams, base_hparams());
        let back = read_model(&bytes);
        assert_eq!(back.vocab, vec![b"a".to_vec(), Vec::new()]);
        assert_eq!(back.tensors[0].dims, vec![512, 1]);
        assert_eq!(back.filters.len(), 80 * 201);
        // ne is written innermost first: [1, 512] for a PyTorch [512, 1] bias.
        let rec = 4 + 44 + 8 + 80 * 201 * 4 + 4 + 5 + 4;
        assert_eq!(&bytes[rec..rec + 4], &2i32.to_le_bytes());
        assert_eq!(&bytes[rec + 12..rec + 20], &[1, 0, 0, 0, 0, 2, 0, 0]);
    }

    #[test]
    fn rejects_bad_files_and_accepts_quantized_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        let write = |h: &Hparams| {
            let mut bytes = Vec::new();
            write_header(&mut bytes, h).unwrap();
            write_mel_filters(&mut bytes, h.n_mels as usize).unwrap();
            std::fs::write(&path, bytes).unwrap();
        };
        for ftype in [0, 1, 2, 3, 7, 8, 9, 2008, 2007, 1024] {
            write(&Hparams {
                ftype,
                ..base_hparams()
            });
            assert!(check_whisper_file(&path).is_ok(), "ftype {ftype}");
        }
        for ftype in [4, 5, 6, 26, -1] {
            write(&Hparams {
                ftype,
                ..base_hparams()
            });
            assert!(
                matches!(
                    check_whisper_file(&path),
                    Err(ModelError::InvalidGgml { .. })
                ),
                "ftype {ftype}"
            );
        }
        write(&Hparams {
            n_text_state: 384,
            ..base_hparams()
        });
        assert!(check_whisper_file(&path).is_err());
        std::fs::write(&path, b"GGUF\x03\0\0\0").unwrap();
        let err = check_whisper_file(&path).unwrap_err().to_string();
        assert!(err.contains("magic"), "{err}");
        std::fs::write(&path, MAGIC.to_le_bytes()).unwrap();
        let err = check_whisper_file(&path).unwrap_err().to_string();
        assert!(err.contains("ends inside the header"), "{err}");
    }
}
