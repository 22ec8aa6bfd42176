//! Speaker-encoder weights: a minimal reader for PyTorch's legacy (pre-zip) checkpoint format,
//! [`convert_resemblyzer`] which turns resemblyzer's `pretrained.pt` into safetensors, and
//! [`EncoderWeights`], the checked tensors that [`super::encoder::Encoder`] is built from.
//!
//! A legacy checkpoint is five pickles (magic number, protocol version, system info, the
//! object, the list of storage keys) followed by the raw storages, each prefixed by a
//! little-endian `u64` element count. Tensors in the object refer to storages through
//! persistent ids, so only the few pickle opcodes PyTorch emits for a state dict are needed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::DiarizeError;

/// The value PyTorch writes as the first pickle of every legacy checkpoint.
const LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;
/// The only legacy protocol version PyTorch ever wrote.
const LEGACY_PROTOCOL: i64 = 1001;

/// GE2E dimensions (resemblyzer's hparams): 40 mel bands in, 3 LSTM layers of 256, 256-d out.
pub const MEL_BANDS: usize = 40;
pub const HIDDEN: usize = 256;
pub const EMBEDDING: usize = 256;
pub const LAYERS: usize = 3;
/// LSTM gate rows: input, forget, cell, output (PyTorch order), each `HIDDEN` wide.
pub const GATES: usize = 4 * HIDDEN;

/// Every tensor the encoder needs, with its shape.
fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    for l in 0..LAYERS {
        let input = if l == 0 { MEL_BANDS } else { HIDDEN };
        v.push((format!("lstm.weight_ih_l{l}"), vec![GATES, input]));
        v.push((format!("lstm.weight_hh_l{l}"), vec![GATES, HIDDEN]));
        v.push((format!("lstm.bias_ih_l{l}"), vec![GATES]));
        v.push((format!("lstm.bias_hh_l{l}"), vec![GATES]));
    }
    v.push(("linear.weight".to_string(), vec![EMBEDDING, HIDDEN]));
    v.push(("linear.bias".to_string(), vec![EMBEDDING]));
    v
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

fn malformed(offset: usize, reason: impl Into<String>) -> DiarizeError {
    DiarizeError::Checkpoint {
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
    fn take(&mut self, n: usize) -> Result<&'a [u8], DiarizeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| malformed(self.pos, format!("needs {n} more bytes past the end")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DiarizeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DiarizeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DiarizeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DiarizeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn line(&mut self) -> Result<String, DiarizeError> {
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

    fn utf8(&mut self, n: usize) -> Result<String, DiarizeError> {
        let start = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map_err(|e| malformed(start, format!("string is not UTF-8: {e}")))
    }
}

/// Runs one pickle (protocol ≤ 2, the opcodes `torch.save` uses) and returns its value.
fn unpickle(r: &mut Reader<'_>) -> Result<Value, DiarizeError> {
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

fn pairs(items: Vec<Value>, at: usize) -> Result<Vec<(Value, Value)>, DiarizeError> {
    if items.len() % 2 != 0 {
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
fn persistent_load(pid: Value, at: usize) -> Result<Value, DiarizeError> {
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

fn reduce(func: Value, args: Value, at: usize) -> Result<Value, DiarizeError> {
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

fn parse_legacy(pt: &[u8]) -> Result<LegacyCheckpoint<'_>, DiarizeError> {
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

impl LegacyCheckpoint<'_> {
    /// Copies a float tensor out of its storage into a contiguous row-major array.
    fn f32_tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), DiarizeError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| DiarizeError::MissingTensor {
                name: name.to_string(),
            })?;
        if t.kind != StorageKind::F32 {
            return Err(DiarizeError::TensorType {
                name: name.to_string(),
                found: format!("{:?}", t.kind),
            });
        }
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
                .get(elem * 4..elem * 4 + 4)
                .ok_or_else(|| malformed(0, format!("tensor {name} reaches past its storage")))?;
            out.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
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
}

/// Converts resemblyzer's legacy `pretrained.pt` to a safetensors file holding the LSTM and
/// linear layers (the `similarity_*` training scalars are dropped). Shapes are checked so a
/// wrong file fails here rather than at load time.
pub fn convert_resemblyzer(pt: &[u8], out: &mut dyn std::io::Write) -> Result<(), DiarizeError> {
    let ckpt = parse_legacy(pt)?;
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in expected_tensors() {
        let (found, data) = ckpt.f32_tensor(&name)?;
        if found != shape {
            return Err(DiarizeError::TensorShape {
                name,
                expected: shape,
                found,
            });
        }
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        owned.push((name, shape, bytes));
    }
    let mut views = Vec::with_capacity(owned.len());
    for (name, shape, bytes) in &owned {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|source| {
            DiarizeError::Safetensors {
                path: "<converted>".into(),
                source,
            }
        })?;
        views.push((name.clone(), view));
    }
    let info = HashMap::from([(
        "source".to_string(),
        "resemblyzer/pretrained.pt (GE2E)".to_string(),
    )]);
    let buf = safetensors::tensor::serialize(views, Some(info)).map_err(|source| {
        DiarizeError::Safetensors {
            path: "<converted>".into(),
            source,
        }
    })?;
    out.write_all(&buf)
        .map_err(|source| DiarizeError::Write { source })?;
    Ok(())
}

/// The encoder's tensors after shape checks, as contiguous row-major `f32`.
pub struct EncoderWeights {
    /// Per layer: `weight_ih` (`GATES × in`), `weight_hh` (`GATES × HIDDEN`), and the sum of
    /// both biases (they are only ever added together).
    pub lstm: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    pub linear_weight: Vec<f32>,
    pub linear_bias: Vec<f32>,
}

impl EncoderWeights {
    pub fn from_safetensors(bytes: &[u8], path: &Path) -> Result<EncoderWeights, DiarizeError> {
        let st = SafeTensors::deserialize(bytes).map_err(|source| DiarizeError::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
        let mut map = BTreeMap::new();
        for (name, shape) in expected_tensors() {
            let view = st
                .tensor(&name)
                .map_err(|_| DiarizeError::MissingTensor { name: name.clone() })?;
            if view.dtype() != Dtype::F32 {
                return Err(DiarizeError::TensorType {
                    name,
                    found: format!("{:?}", view.dtype()),
                });
            }
            if view.shape() != shape.as_slice() {
                return Err(DiarizeError::TensorShape {
                    name,
                    expected: shape,
                    found: view.shape().to_vec(),
                });
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            map.insert(name, data);
        }
        let mut take = |n: &str| map.remove(n).unwrap_or_default();
        let mut lstm = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let w_ih = take(&format!("lstm.weight_ih_l{l}"));
            let w_hh = take(&format!("lstm.weight_hh_l{l}"));
            let b_ih = take(&format!("lstm.bias_ih_l{l}"));
            let b_hh = take(&format!("lstm.bias_hh_l{l}"));
            let bias = b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect();
            lstm.push((w_ih, w_hh, bias));
        }
        Ok(EncoderWeights {
            lstm,
            linear_weight: take("linear.weight"),
            linear_bias: take("linear.bias"),
        })
    }
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
        let ckpt = parse_legacy(&bytes).unwrap();
        assert_eq!(ckpt.tensors.keys().collect::<Vec<_>>(), ["b", "w"]);
        // Storage A holds 3×2 row-major [[1,2],[3,4],[5,6]]; w is its transpose.
        let (shape, w) = ckpt.f32_tensor("w").unwrap();
        assert_eq!(shape, [2, 3]);
        assert_eq!(w, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let (shape, b) = ckpt.f32_tensor("b").unwrap();
        assert_eq!(shape, [1]);
        assert_eq!(b, [0.5]);
        // The Long storage is skipped by its element size, and typed access refuses it.
        assert!(matches!(
            ckpt.f32_tensor("missing"),
            Err(DiarizeError::MissingTensor { .. })
        ));
    }

    #[test]
    fn legacy_reader_rejects_truncation_and_other_formats() {
        let bytes = tiny_checkpoint();
        let err = parse_legacy(&bytes[..bytes.len() - 3]).err().unwrap();
        assert!(matches!(err, DiarizeError::Checkpoint { .. }), "{err}");
        let err = parse_legacy(b"PK\x03\x04rest").err().unwrap();
        assert!(err.to_string().contains("zip"), "{err}");
        // A converter on a file without the encoder tensors names the missing one.
        let mut out = Vec::new();
        let err = convert_resemblyzer(&bytes, &mut out).err().unwrap();
        assert!(err.to_string().contains("lstm.weight_ih_l0"), "{err}");
    }

    /// The real file, when the wheel has been unpacked (see the module docs).
    #[test]
    fn converts_real_resemblyzer_checkpoint_when_present() {
        let Ok(path) = std::env::var("GIJIROKU_TEST_RESEMBLYZER_PT") else {
            return;
        };
        let pt = std::fs::read(&path).unwrap();
        let mut out = Vec::new();
        convert_resemblyzer(&pt, &mut out).unwrap();
        let w = EncoderWeights::from_safetensors(&out, Path::new("mem")).unwrap();
        assert_eq!(w.lstm.len(), LAYERS);
        assert_eq!(w.lstm[0].0.len(), GATES * MEL_BANDS);
        assert_eq!(w.linear_weight.len(), EMBEDDING * HIDDEN);
        assert!(w.linear_weight.iter().all(|x| x.is_finite()));
    }
}
