//! Reader for CTranslate2's `model.bin` ([`Ct2Model`]): an index of variables built by seeking
//! past their data, and row-range reads that convert any stored dtype (f32, f16, bf16, or int8 /
//! int16 with a `<name>_scale`) to f32 a chunk at a time, so memory stays small for any model size.
//!
//! Layout (binary versions 4-6, little-endian): `u32 version`, `str spec`, `u32 revision`,
//! `u32 n_vars`, per variable `str name, u8 rank, u32 dims[rank], u8 dtype, u32 n_bytes, data`,
//! then `u32 n_aliases` and (alias, target) string pairs. A `str` is `u16 len` (with NUL) + bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use half::{bf16, f16};

use super::ModelError;

/// Binary versions whose variable records carry a type id and a byte count.
const SUPPORTED_VERSIONS: Range<u32> = 4..7;

/// Bytes read per chunk when streaming a tensor.
const CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_id(id: u8) -> Option<DType> {
        Some(match id {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }
}

/// One variable's place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub dims: Vec<usize>,
    pub dtype: DType,
    offset: u64,
    n_bytes: u64,
}

impl Var {
    pub fn n_elements(&self) -> usize {
        self.dims.iter().product()
    }

    /// Rows along the first axis (1 for scalars).
    pub fn rows(&self) -> usize {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Elements per row: the product of all but the first axis.
    pub fn row_len(&self) -> usize {
        self.dims.iter().skip(1).product()
    }
}

/// An opened `model.bin`: the variable index plus the file to stream from.
pub(crate) struct Ct2Model {
    path: PathBuf,
    file: BufReader<File>,
    pub spec: String,
    vars: BTreeMap<String, Var>,
    aliases: BTreeMap<String, String>,
}

impl Ct2Model {
    pub fn open(path: &Path) -> Result<Ct2Model, ModelError> {
        let file = File::open(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file_len = file
            .metadata()
            .map_err(|source| ModelError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let mut r = BufReader::new(file);
        let bad = |reason: String| ModelError::Ct2 {
            path: path.to_path_buf(),
            reason,
        };
        let io_err = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof => bad("file is truncated".into()),
            _ => ModelError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        };

        let version = read_u32(&mut r).map_err(io_err)?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(bad(format!(
                "binary version {version} is not supported (expected {}..={}); re-convert it with a recent CTranslate2",
                SUPPORTED_VERSIONS.start,
                SUPPORTED_VERSIONS.end - 1
            )));
        }
        let spec = read_str(&mut r).map_err(io_err)?;
        let _revision = read_u32(&mut r).map_err(io_err)?;
        let n_vars = read_u32(&mut r).map_err(io_err)?;
        let mut vars = BTreeMap::new();
        for _ in 0..n_vars {
            let name = read_str(&mut r).map_err(io_err)?;
            let rank = read_u8(&mut r).map_err(io_err)?;
            let dims = (0..rank)
                .map(|_| read_u32(&mut r).map(|d| d as usize))
                .collect::<io::Result<Vec<_>>>()
                .map_err(io_err)?;
            let type_id = read_u8(&mut r).map_err(io_err)?;
            let dtype = DType::from_id(type_id)
                .ok_or_else(|| bad(format!("variable {name} has unknown dtype id {type_id}")))?;
            let n_bytes = u64::from(read_u32(&mut r).map_err(io_err)?);
            let offset = r.stream_position().map_err(io_err)?;
            let expected = dims.iter().product::<usize>() as u64 * dtype.size() as u64;
            if n_bytes != expected {
                return Err(bad(format!(
                    "variable {name} holds {n_bytes} bytes, its shape {dims:?} needs {expected}"
                )));
            }
            if offset + n_bytes > file_len {
                return Err(bad(format!(
                    "variable {name} runs past the end of the file (truncated download?)"
                )));
            }
            r.seek_relative(n_bytes as i64).map_err(io_err)?;
            vars.insert(
                name,
                Var {
                    dims,
                    dtype,
                    offset,
                    n_bytes,
                },
            );
        }
        let n_aliases = read_u32(&mut r).map_err(io_err)?;
        let mut aliases = BTreeMap::new();
        for _ in 0..n_aliases {
            let alias = read_str(&mut r).map_err(io_err)?;
            let target = read_str(&mut r).map_err(io_err)?;
            aliases.insert(alias, target);
        }
        Ok(Ct2Model {
            path: path.to_path_buf(),
            file: r,
            spec,
            vars,
            aliases,
        })
    }

    /// Names of all variables (aliases excluded), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// A variable by name, following aliases.
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.vars.get(t)))
    }

    /// A variable that must exist, or a clear error naming it.
    pub fn require(&self, name: &str) -> Result<&Var, ModelError> {
        self.var(name)
            .ok_or_else(|| self.error(format!("missing variable {name}")))
    }

    /// The value of a scalar integer variable such as `encoder/num_heads`.
    pub fn scalar_int(&mut self, name: &str) -> Result<Option<i64>, ModelError> {
        let Some(var) = self.var(name).cloned() else {
            return Ok(None);
        };
        if var.n_elements() != 1 {
            return Err(self.error(format!(
                "{name} should be a scalar, has shape {:?}",
                var.dims
            )));
        }
        let bytes = self.read_bytes(&var, 0, var.n_bytes as usize)?;
        let v = match var.dtype {
            DType::I8 => i64::from(bytes[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            DType::F32 | DType::F16 | DType::BF16 => {
                let mut out = Vec::new();
                convert_into(&bytes, var.dtype, &mut out);
                out[0] as i64
            }
        };
        Ok(Some(v))
    }

    /// Streams rows `rows` of variable `name` as f32, `sink` receiving whole rows a chunk at a
    /// time. Integer weights are dequantized with their `<name>_scale` (CTranslate2 stores
    /// `q = round(w * scale)`, per output row for int8, one value for int16).
    pub fn stream_rows(
        &mut self,
        name: &str,
        rows: Range<usize>,
        mut sink: impl FnMut(&[f32]) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let var = self.require(name)?.clone();
        if rows.end > var.rows() || rows.start > rows.end {
            return Err(self.error(format!(
                "rows {rows:?} out of range for {name} with shape {:?}",
                var.dims
            )));
        }
        let scales = if var.dtype.is_float() {
            None
        } else {
            Some(self.scales(name, &var)?)
        };
        let row_len = var.row_len().max(1);
        let row_bytes = row_len * var.dtype.size();
        let rows_per_chunk = (CHUNK_BYTES / row_bytes.max(1)).max(1);
        let mut values = Vec::new();
        let mut row = rows.start;
        while row < rows.end {
            let n = rows_per_chunk.min(rows.end - row);
            let bytes = self.read_bytes(&var, row * row_bytes, n * row_bytes)?;
            values.clear();
            convert_into(&bytes, var.dtype, &mut values);
            if let Some(scales) = &scales {
                for (i, chunk) in values.chunks_mut(row_len).enumerate() {
                    let s = if scales.len() == 1 {
                        scales[0]
                    } else {
                        scales[row + i]
                    };
                    chunk.iter_mut().for_each(|v| *v /= s);
                }
            }
            sink(&values)?;
            row += n;
        }
        Ok(())
    }

    fn scales(&mut self, name: &str, var: &Var) -> Result<Vec<f32>, ModelError> {
        let scale_name = format!("{name}_scale");
        let svar = self.var(&scale_name).cloned().ok_or_else(|| {
            self.error(format!(
                "{name} is stored as {:?} but has no {scale_name}",
                var.dtype
            ))
        })?;
        if !svar.dtype.is_float() || (svar.n_elements() != 1 && svar.n_elements() != var.rows()) {
            return Err(self.error(format!(
                "{scale_name} has shape {:?} and dtype {:?}; expected one float or one per row of {:?}",
                svar.dims, svar.dtype, var.dims
            )));
        }
        let bytes = self.read_bytes(&svar, 0, svar.n_bytes as usize)?;
        let mut out = Vec::new();
        convert_into(&bytes, svar.dtype, &mut out);
        if out.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err(self.error(format!("{scale_name} contains a zero or non-finite scale")));
        }
        Ok(out)
    }

    fn read_bytes(&mut self, var: &Var, start: usize, len: usize) -> Result<Vec<u8>, ModelError> {
        let mut buf = vec![0u8; len];
        self.file
            .seek(SeekFrom::Start(var.offset + start as u64))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(|source| ModelError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(buf)
    }

    pub fn error(&self, reason: String) -> ModelError {
        ModelError::Ct2 {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Appends `bytes` (little-endian elements of `dtype`) to `out` as f32.
fn convert_into(bytes: &[u8], dtype: DType, out: &mut Vec<f32>) {
    out.reserve(bytes.len() / dtype.size());
    match dtype {
        DType::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        DType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        DType::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        DType::I8 => out.extend(bytes.iter().map(|&b| f32::from(b as i8))),
        DType::I16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]]))),
        ),
        DType::I32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        ),
    }
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_str(r: &mut impl Read) -> io::Result<String> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    let mut s = vec![0u8; usize::from(u16::from_le_bytes(b))];
    r.read_exact(&mut s)?;
    if s.last() == Some(&0) {
        s.pop();
    }
    String::from_utf8(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Data for one synthetic variable.
    pub(crate) enum Data {
        F32(Vec<f32>),
        F16(Vec<f32>),
        I8(Vec<i8>),
        I16Scalar(i16),
    }

    /// Writes a CTranslate2 `model.bin` (binary version 6) the way `model_spec.py` serializes it.
    pub(crate) fn write_ct2<S: AsRef<str>>(
        vars: &[(S, Vec<usize>, Data)],
        aliases: &[(&str, &str)],
    ) -> Vec<u8> {
        fn s(out: &mut Vec<u8>, v: &str) {
            out.extend(((v.len() + 1) as u16).to_le_bytes());
            out.extend(v.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend(6u32.to_le_bytes());
        s(&mut out, "WhisperSpec");
        out.extend(3u32.to_le_bytes());
        out.extend((vars.len() as u32).to_le_bytes());
        for (name, dims, data) in vars {
            s(&mut out, name.as_ref());
            out.push(dims.len() as u8);
            for d in dims {
                out.extend((*d as u32).to_le_bytes());
            }
            let (id, bytes): (u8, Vec<u8>) = match data {
                Data::F32(v) => (0, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                Data::F16(v) => (
                    4,
                    v.iter()
                        .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                        .collect(),
                ),
                Data::I8(v) => (1, v.iter().map(|x| *x as u8).collect()),
                Data::I16Scalar(v) => (2, v.to_le_bytes().to_vec()),
            };
            out.push(id);
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        out.extend((aliases.len() as u32).to_le_bytes());
        for (a, t) in aliases {
            s(&mut out, a);
            s(&mut out, t);
        }
        out
    }

    fn open(bytes: &[u8]) -> (tempfile::TempDir, Ct2Model) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, bytes).unwrap();
        let m = Ct2Model::open(&path).unwrap();
        (dir, m)
    }

    fn collect(m: &mut Ct2Model, name: &str, rows: Range<usize>) -> Vec<f32> {
        let mut out = Vec::new();
        m.stream_rows(name, rows, |v| {
            out.extend_from_slice(v);
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn reads_index_scalars_aliases_and_rows() {
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let bytes = write_ct2(
            &[
                ("a/weight", vec![4, 3], Data::F16(w.clone())),
                ("a/bias", vec![4], Data::F32(vec![1.0, 2.0, 3.0, 4.0])),
                ("enc/num_heads", vec![], Data::I16Scalar(8)),
            ],
            &[("proj/weight", "a/weight")],
        );
        let (_d, mut m) = open(&bytes);
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(
            m.names().collect::<Vec<_>>(),
            vec!["a/bias", "a/weight", "enc/num_heads"]
        );
        assert_eq!(m.var("proj/weight").unwrap().dims, vec![4, 3]);
        assert_eq!(m.scalar_int("enc/num_heads").unwrap(), Some(8));
        assert_eq!(m.scalar_int("dec/num_heads").unwrap(), None);
        assert_eq!(collect(&mut m, "a/weight", 0..4), w);
        assert_eq!(collect(&mut m, "proj/weight", 1..3), w[3..9].to_vec());
        assert_eq!(collect(&mut m, "a/bias", 2..4), vec![3.0, 4.0]);
        assert!(m.stream_rows("a/bias", 3..5, |_| Ok(())).is_err());
        assert!(matches!(m.require("nope"), Err(ModelError::Ct2 { .. })));
    }

    #[test]
    fn dequantizes_int8_rows_with_their_scale() {
        let bytes = write_ct2(
            &[
                ("l/weight", vec![2, 2], Data::I8(vec![127, -64, 10, 20])),
                ("l/weight_scale", vec![2], Data::F32(vec![127.0, 10.0])),
                ("q/weight", vec![1, 2], Data::I8(vec![1, 2])),
            ],
            &[],
        );
        let (_d, mut m) = open(&bytes);
        let v = collect(&mut m, "l/weight", 0..2);
        assert_eq!(v, vec![1.0, -64.0 / 127.0, 1.0, 2.0]);
        assert_eq!(collect(&mut m, "l/weight", 1..2), vec![1.0, 2.0]);
        let err = m
            .stream_rows("q/weight", 0..1, |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("q/weight_scale"), "{err}");
    }

    #[test]
    fn rejects_truncated_and_foreign_files() {
        let bytes = write_ct2(&[("a", vec![100], Data::F32(vec![0.0; 100]))], &[]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, &bytes[..bytes.len() - 50]).unwrap();
        let err = Ct2Model::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("past the end") || err.contains("truncated"),
            "{err}"
        );
        let mut old = bytes.clone();
        old[0] = 2;
        std::fs::write(&path, &old).unwrap();
        let err = Ct2Model::open(&path).err().unwrap().to_string();
        assert!(err.contains("binary version 2"), "{err}");
    }
}
