//! A WAV file that stays valid while it grows: [`WavFile`] appends samples in the device's
//! own rate, channel count and encoding ([`WavFormat`]) and, at each [`WavFile::checkpoint`],
//! makes the data durable and then rewrites the RIFF and data sizes in the header to cover
//! exactly what is on disk. A crash therefore loses at most the audio since the last
//! checkpoint, and the file opens in any reader. [`recover`] repairs a WAV whose header
//! sizes are wrong (a crash of another recorder, or ours between checkpoints).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::capture::{NativeFormat, SampleKind};

/// Bytes of the canonical header we write: RIFF + fmt (16) + data chunk header.
pub const HEADER_LEN: u64 = 44;
/// The data chunk's size field is 32 bits and the RIFF size counts 36 header bytes too.
pub const MAX_DATA_BYTES: u64 = u32::MAX as u64 - (HEADER_LEN - 8);
const FORMAT_PCM: u16 = 1;
const FORMAT_IEEE_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// How samples are stored in the file: the device's encoding, or the nearest WAV has
/// (unsigned 16/24/32-bit become signed, 64-bit integers become 32-bit, f64 becomes f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WavEncoding {
    /// 8-bit PCM, unsigned as WAV defines it.
    U8,
    I16,
    /// Packed 3-byte samples.
    I24,
    I32,
    F32,
}

impl WavEncoding {
    pub fn for_sample(kind: SampleKind) -> WavEncoding {
        match kind {
            SampleKind::I8 | SampleKind::U8 => WavEncoding::U8,
            SampleKind::I16 | SampleKind::U16 => WavEncoding::I16,
            SampleKind::I24 | SampleKind::U24 => WavEncoding::I24,
            SampleKind::I32 | SampleKind::U32 | SampleKind::I64 | SampleKind::U64 => {
                WavEncoding::I32
            }
            SampleKind::F32 | SampleKind::F64 => WavEncoding::F32,
        }
    }

    pub fn bytes(self) -> u16 {
        match self {
            WavEncoding::U8 => 1,
            WavEncoding::I16 => 2,
            WavEncoding::I24 => 3,
            WavEncoding::I32 | WavEncoding::F32 => 4,
        }
    }

    fn tag(self) -> u16 {
        match self {
            WavEncoding::F32 => FORMAT_IEEE_FLOAT,
            _ => FORMAT_PCM,
        }
    }

    /// Append one sample in -1.0..=1.0. Integer scaling matches cpal's conversion to f32
    /// (divide by 2^(bits-1)), so integer input round-trips bit-exactly up to 24 bits.
    fn encode(self, x: f32, out: &mut Vec<u8>) {
        match self {
            WavEncoding::U8 => {
                let v = (x * 128.0).round().clamp(-128.0, 127.0) as i16 + 128;
                out.push(v as u8);
            }
            WavEncoding::I16 => {
                let v = (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
                out.extend_from_slice(&v.to_le_bytes());
            }
            WavEncoding::I24 => {
                let v = (x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32;
                out.extend_from_slice(&v.to_le_bytes()[..3]);
            }
            WavEncoding::I32 => {
                let v = (f64::from(x) * 2_147_483_648.0)
                    .round()
                    .clamp(-2_147_483_648.0, 2_147_483_647.0) as i32;
                out.extend_from_slice(&v.to_le_bytes());
            }
            WavEncoding::F32 => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
}

/// What a WAV file holds: rate in Hz, interleaved channels, sample encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavFormat {
    pub rate: u32,
    pub channels: u16,
    pub encoding: WavEncoding,
}

impl WavFormat {
    pub fn for_native(f: NativeFormat) -> WavFormat {
        WavFormat {
            rate: f.rate,
            channels: f.channels.max(1),
            encoding: WavEncoding::for_sample(f.sample),
        }
    }

    /// Bytes per frame (all channels).
    pub fn block_align(&self) -> u16 {
        self.channels * self.encoding.bytes()
    }
}

/// The 44-byte header for `data_bytes` of audio (clamped to what 32-bit sizes can say).
pub fn header(format: &WavFormat, data_bytes: u64) -> [u8; HEADER_LEN as usize] {
    let data = data_bytes.min(MAX_DATA_BYTES) as u32;
    let block = format.block_align();
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(data + (HEADER_LEN as u32 - 8)).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&format.encoding.tag().to_le_bytes());
    h[22..24].copy_from_slice(&format.channels.to_le_bytes());
    h[24..28].copy_from_slice(&format.rate.to_le_bytes());
    h[28..32].copy_from_slice(&(format.rate * u32::from(block)).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&(format.encoding.bytes() * 8).to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// Why writing the WAV failed.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{}: already exists (use --force to overwrite)", path.display())]
    Exists { path: PathBuf },
    #[error("{}: cannot write: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: reached the 4 GiB size limit of a WAV file", path.display())]
    SizeLimit { path: PathBuf },
}

/// A WAV being recorded; see the module docs for the durability rule.
pub struct WavFile {
    file: File,
    path: PathBuf,
    format: WavFormat,
    /// Bytes of audio accepted by the OS so far.
    data_bytes: u64,
    /// Data size the header on disk claims.
    header_bytes: u64,
    scratch: Vec<u8>,
}

impl WavFile {
    /// Create `path` with an empty (valid) WAV; an existing file is only replaced when
    /// `force`.
    pub fn create(path: &Path, format: WavFormat, force: bool) -> Result<WavFile, WavError> {
        let io_err = |source: io::Error| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                WavError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                WavError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
        let mut opts = OpenOptions::new();
        opts.write(true);
        if force {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        let mut file = opts.open(path).map_err(io_err)?;
        file.write_all(&header(&format, 0)).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        sync_dir(path);
        Ok(WavFile {
            file,
            path: path.to_path_buf(),
            format,
            data_bytes: 0,
            header_bytes: 0,
            scratch: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> WavFormat {
        self.format
    }

    /// Whole frames written so far.
    pub fn frames(&self) -> u64 {
        self.data_bytes / u64::from(self.format.block_align())
    }

    fn io(&self, source: io::Error) -> WavError {
        WavError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Append interleaved samples (whole frames). On error, the bytes the OS took are
    /// still counted, so [`WavFile::finalize`] can describe what is really there.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), WavError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        for &x in samples {
            self.format.encoding.encode(x, &mut buf);
        }
        let result = if self.data_bytes + buf.len() as u64 > MAX_DATA_BYTES {
            Err(WavError::SizeLimit {
                path: self.path.clone(),
            })
        } else {
            self.write_counted(&buf)
        };
        self.scratch = buf;
        result
    }

    fn write_counted(&mut self, mut buf: &[u8]) -> Result<(), WavError> {
        while !buf.is_empty() {
            match self.file.write(buf) {
                Ok(0) => return Err(self.io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.data_bytes += n as u64;
                    buf = &buf[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(())
    }

    /// Make the audio written so far durable, then point the header at it: the header
    /// never claims data that is not on disk.
    pub fn checkpoint(&mut self) -> Result<(), WavError> {
        let whole = self.data_bytes - self.data_bytes % u64::from(self.format.block_align());
        if whole == self.header_bytes {
            return Ok(());
        }
        self.file.sync_data().map_err(|e| self.io(e))?;
        self.write_header(whole).map_err(|e| self.io(e))?;
        self.header_bytes = whole;
        Ok(())
    }

    fn write_header(&mut self, data_bytes: u64) -> io::Result<()> {
        let h = header(&self.format, data_bytes);
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&h[4..8])?;
        self.file.seek(SeekFrom::Start(40))?;
        self.file.write_all(&h[40..44])?;
        self.file.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// Final header and sync. Also the way out after a write error: the header then covers
    /// the whole frames that did reach the file (rewriting header bytes in place needs no
    /// new disk space, so this works on a full disk).
    pub fn finalize(mut self) -> Result<u64, WavError> {
        let block = u64::from(self.format.block_align());
        let whole = self.data_bytes - self.data_bytes % block;
        if whole != self.data_bytes {
            // A partial frame from a failed write: cut it so the data size is exact.
            self.file
                .set_len(HEADER_LEN + whole)
                .map_err(|e| self.io(e))?;
            self.file.seek(SeekFrom::End(0)).map_err(|e| self.io(e))?;
            self.data_bytes = whole;
        }
        self.file.sync_data().map_err(|e| self.io(e))?;
        self.write_header(whole).map_err(|e| self.io(e))?;
        self.file.sync_all().map_err(|e| self.io(e))?;
        Ok(whole / block)
    }
}

/// Make a new file's directory entry durable, so the recording survives a power loss even
/// before the directory is next written back. Best effort: not every platform can open a
/// directory for this.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovered {
    pub path: PathBuf,
    /// Data size the header claimed, in bytes.
    pub claimed_bytes: u64,
    /// Data size now, in bytes (whole frames that are in the file).
    pub data_bytes: u64,
    pub frames: u64,
    pub rate: u32,
    pub channels: u16,
    /// False when the header was already right and the file was left alone.
    pub repaired: bool,
}

/// Why a WAV could not be repaired.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("{}: cannot read or replace: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a repairable WAV: {detail}", path.display())]
    NotWav { path: PathBuf, detail: String },
}

/// Set the RIFF and data sizes of the WAV at `path` from the file's length, dropping a
/// trailing partial frame. The repaired copy is written beside it and renamed over it, so
/// an interruption leaves either the old or the new file, never a mix.
pub fn recover(path: &Path) -> Result<Recovered, RecoverError> {
    let io_err = |source| RecoverError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_wav = |detail: &str| RecoverError::NotWav {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut head = vec![0u8; len.min(64 * 1024) as usize];
    file.read_exact(&mut head).map_err(io_err)?;
    let layout = parse_layout(&head).map_err(not_wav)?;
    let block = u64::from(layout.block_align.max(1));
    let available = len.saturating_sub(layout.data_offset);
    let data_bytes = (available - available % block).min(MAX_DATA_BYTES - MAX_DATA_BYTES % block);
    let riff = layout.data_offset - 8 + data_bytes;
    let report = Recovered {
        path: path.to_path_buf(),
        claimed_bytes: layout.claimed_bytes,
        data_bytes,
        frames: data_bytes / block,
        rate: layout.rate,
        channels: layout.channels,
        repaired: true,
    };
    if layout.claimed_bytes == data_bytes
        && layout.riff_size == riff
        && len == layout.data_offset + data_bytes
    {
        return Ok(Recovered {
            repaired: false,
            ..report
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".gijiroku-recover-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err)?;
    let mut fixed = head[..layout.data_offset as usize].to_vec();
    fixed[4..8].copy_from_slice(&(riff.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    let size_at = layout.data_offset as usize - 4;
    fixed[size_at..size_at + 4].copy_from_slice(&(data_bytes as u32).to_le_bytes());
    {
        let out = tmp.as_file_mut();
        out.write_all(&fixed).map_err(io_err)?;
        file.seek(SeekFrom::Start(layout.data_offset))
            .map_err(io_err)?;
        let copied = io::copy(&mut (&mut file).take(data_bytes), out).map_err(io_err)?;
        if copied != data_bytes {
            return Err(not_wav("the file changed while it was being repaired"));
        }
        out.sync_all().map_err(io_err)?;
    }
    // Keep the recording's permissions, not the temp file's private ones.
    let perms = file.metadata().map_err(io_err)?.permissions();
    std::fs::set_permissions(tmp.path(), perms).map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(report)
}

struct Layout {
    riff_size: u64,
    claimed_bytes: u64,
    /// Offset of the first audio byte.
    data_offset: u64,
    block_align: u16,
    rate: u32,
    channels: u16,
}

/// Walk the chunks up to `data`. Sizes are not trusted (they are what we repair), except
/// the fmt chunk's, which a crash does not touch.
fn parse_layout(head: &[u8]) -> Result<Layout, &'static str> {
    let u32_at = |i: usize| -> Option<u32> {
        head.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u16_at =
        |i: usize| -> Option<u16> { head.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]])) };
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err("no RIFF/WAVE header");
    }
    let riff_size = u64::from(u32_at(4).ok_or("short header")?);
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u32, u16)> = None;
    loop {
        let id = head
            .get(pos..pos + 4)
            .ok_or("no data chunk in the first 64 KiB")?;
        let size = u32_at(pos + 4).ok_or("truncated chunk header")?;
        if id == b"data" {
            let (channels, rate, block_align) = fmt.ok_or("data chunk before the fmt chunk")?;
            return Ok(Layout {
                riff_size,
                claimed_bytes: u64::from(size),
                data_offset: (pos + 8) as u64,
                block_align,
                rate,
                channels,
            });
        }
        if id == b"fmt " {
            let tag = u16_at(pos + 8).ok_or("truncated fmt chunk")?;
            if ![FORMAT_PCM, FORMAT_IEEE_FLOAT, FORMAT_EXTENSIBLE].contains(&tag) {
                return Err("compressed WAV encodings cannot be repaired");
            }
            let channels = u16_at(pos + 10).ok_or("truncated fmt chunk")?;
            let rate = u32_at(pos + 12).ok_or("truncated fmt chunk")?;
            let block = u16_at(pos + 20).ok_or("truncated fmt chunk")?;
            if channels == 0 || block == 0 || rate == 0 {
                return Err("fmt chunk has zero channels, rate or frame size");
            }
            fmt = Some((channels, rate, block));
        }
        // Chunks are padded to even sizes.
        pos = pos
            .checked_add(8 + size as usize + (size as usize & 1))
            .ok_or("chunk size overflows")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt16() -> WavFormat {
        WavFormat {
            rate: 16_000,
            channels: 2,
            encoding: WavEncoding::I16,
        }
    }

    #[test]
    fn header_fields_match_the_format() {
        let h = header(&fmt16(), 64_000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 64_036);
        assert_eq!(u16::from_le_bytes(h[22..24].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 64_000);
        assert_eq!(u16::from_le_bytes(h[32..34].try_into().unwrap()), 4);
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 64_000);
        let f = WavFormat {
            encoding: WavEncoding::F32,
            ..fmt16()
        };
        let h = header(&f, u64::MAX);
        assert_eq!(u16::from_le_bytes(h[20..22].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), u32::MAX);
    }

    #[test]
    fn checkpoint_keeps_the_file_readable_while_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let mut w = WavFile::create(&p, fmt16(), false).unwrap();
        let tone: Vec<f32> = (0..3200).map(|i| ((i as f32) * 0.05).sin() * 0.5).collect();
        w.write(&tone).unwrap();
        // Before a checkpoint the header still says 0 bytes: readable, empty.
        assert_eq!(hound::WavReader::open(&p).unwrap().len(), 0);
        w.checkpoint().unwrap();
        let r = hound::WavReader::open(&p).unwrap();
        assert_eq!(r.len(), 3200);
        w.write(&tone).unwrap();
        assert_eq!(w.finalize().unwrap(), 3200);
        let mut r = hound::WavReader::open(&p).unwrap();
        assert_eq!(r.len(), 6400);
        let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(s[1], (tone[1] * 32_768.0).round() as i16);
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        std::fs::write(&p, b"keep").unwrap();
        assert!(matches!(
            WavFile::create(&p, fmt16(), false),
            Err(WavError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&p).unwrap(), b"keep");
        WavFile::create(&p, fmt16(), true).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), HEADER_LEN);
    }

    #[test]
    fn encodings_round_trip_integer_input() {
        for (enc, scale) in [
            (WavEncoding::I16, 32_768.0f32),
            (WavEncoding::I24, 8_388_608.0),
            (WavEncoding::U8, 128.0),
        ] {
            let mut out = Vec::new();
            for k in [-3i32, 0, 5, 100] {
                enc.encode(k as f32 / scale, &mut out);
            }
            let n = enc.bytes() as usize;
            let back: Vec<i32> = out
                .chunks(n)
                .map(|b| match enc {
                    WavEncoding::U8 => b[0] as i32 - 128,
                    WavEncoding::I16 => i16::from_le_bytes([b[0], b[1]]) as i32,
                    _ => i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8,
                })
                .collect();
            assert_eq!(back, vec![-3, 0, 5, 100], "{enc:?}");
        }
        // Full scale clamps instead of wrapping.
        let mut out = Vec::new();
        WavEncoding::I16.encode(1.5, &mut out);
        assert_eq!(i16::from_le_bytes([out[0], out[1]]), i16::MAX);
    }

    #[test]
    fn recover_sets_sizes_from_length_and_trims_partial_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crash.wav");
        let mut bytes = header(&fmt16(), 0).to_vec();
        bytes.extend((0..4001u32).map(|i| (i % 251) as u8)); // 1000 frames + 1 stray byte
        std::fs::write(&p, &bytes).unwrap();
        let r = recover(&p).unwrap();
        assert!(r.repaired);
        assert_eq!((r.claimed_bytes, r.data_bytes, r.frames), (0, 4000, 1000));
        let reader = hound::WavReader::open(&p).unwrap();
        assert_eq!(reader.len(), 2000);
        let fixed = std::fs::read(&p).unwrap();
        assert_eq!(fixed.len(), 44 + 4000);
        assert_eq!(&fixed[44..], &bytes[44..4044]);
        // Already right: left alone.
        assert!(!recover(&p).unwrap().repaired);
        // No temp files left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn chunks_are_walked_with_their_pad_byte() {
        let h = header(&fmt16(), 0);
        let mut bytes = h[..36].to_vec();
        bytes.extend_from_slice(b"note");
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(b"abc\0"); // odd size + pad byte
        bytes.extend_from_slice(b"data\0\0\0\0");
        let l = parse_layout(&bytes).unwrap();
        assert_eq!(l.data_offset, bytes.len() as u64);
        assert_eq!(l.block_align, 4);
    }

    #[test]
    fn recover_walks_extra_chunks_and_rejects_non_wav() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list.wav");
        let h = header(&fmt16(), 0);
        let mut bytes = h[..36].to_vec();
        bytes.extend_from_slice(b"LIST");
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(b"INFO");
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend(std::iter::repeat_n(7u8, 400));
        std::fs::write(&p, &bytes).unwrap();
        let r = recover(&p).unwrap();
        assert_eq!(r.data_bytes, 400);
        assert_eq!(hound::WavReader::open(&p).unwrap().len(), 200);

        let q = dir.path().join("text.wav");
        std::fs::write(&q, "not audio at all").unwrap();
        let e = recover(&q).unwrap_err().to_string();
        assert!(e.contains("text.wav") && e.contains("RIFF"), "{e}");
    }
}
