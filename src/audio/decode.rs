//! File decoding: [`open`] returns a [`Source`] that yields interleaved f32 chunks at the
//! file's own rate and channel count. WAV goes through hound (every PCM/float encoding it
//! knows); everything else, and WAV encodings hound refuses (μ-law, ADPCM, f64), through
//! Symphonia.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::AudioError;

/// Frames decoded per chunk from a WAV file (about 0.1-0.2 s at common rates).
const WAV_CHUNK_FRAMES: usize = 4096;
/// Lowest sample rate we accept: below it no speech is intelligible, so a lower value is a
/// corrupt header, and it bounds how many 16 kHz samples one input frame can become (a 1 Hz
/// header would turn a 2 MB file into 64 GB of samples).
const MIN_RATE_HZ: u32 = 4_000;
/// Highest sample rate we accept; anything above is a corrupt header, not audio.
const MAX_RATE_HZ: u32 = 768_000;
/// Most channels we accept (ambisonic/array recorders stay well below).
const MAX_CHANNELS: usize = 64;

/// A decoded stream: interleaved f32 samples in -1.0..=1.0.
pub trait Source {
    fn rate(&self) -> u32;
    fn channels(&self) -> usize;
    /// Total frames when the container says so (used for progress only).
    fn frames_hint(&self) -> Option<u64>;
    /// Next chunk of interleaved samples, `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError>;
    /// True when the stream ended before its header said it would (a crashed recorder).
    fn truncated(&self) -> bool {
        false
    }
    /// Short codec description for logs and the JSON report.
    fn codec(&self) -> String;
}

/// Open `path` for decoding, checking that it is a readable, non-empty audio file.
pub fn open(path: &Path) -> Result<Box<dyn Source>, AudioError> {
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if meta.is_dir() {
        return Err(AudioError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    if let Some(magic) = wav_magic(path)? {
        if &magic == b"RF64" {
            // Neither hound nor Symphonia reads the 64-bit RIFF variant.
            return Err(AudioError::Unsupported {
                path: path.to_path_buf(),
                what: "RF64 (64-bit WAV); convert it to FLAC, or to WAV if under 4 GB, first"
                    .into(),
            });
        }
        if let Some((tag, channels, rate)) = wav_fmt(path) {
            if let Some(name) = unsupported_wav_codec(tag) {
                return Err(AudioError::Unsupported {
                    path: path.to_path_buf(),
                    what: format!(
                        "WAV codec 0x{tag:04X} ({name}); convert it to PCM WAV, FLAC or MP3 first"
                    ),
                });
            }
            // Judged here, before any decoder sees them: Symphonia's WAV reader overflows
            // (a panic with overflow checks) on channel counts such as 65535.
            check_format(path, rate, usize::from(channels))?;
        }
        match WavSource::open(path) {
            Ok(src) => return Ok(Box::new(src)),
            // Encodings hound does not implement are retried with Symphonia (hound calls
            // ADPCM's fmt chunk ill-formed, so that too); I/O errors are reported as such.
            Err(AudioError::Unsupported { .. } | AudioError::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Box::new(SymphoniaSource::open(path)?))
}

fn io_err(path: &Path, source: std::io::Error) -> AudioError {
    if source.kind() == std::io::ErrorKind::NotFound {
        AudioError::NotFound {
            path: path.to_path_buf(),
        }
    } else {
        AudioError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Sniff the RIFF/WAVE magic rather than trusting the extension: `RIFF` or `RF64` for a
/// WAV file, `None` for anything else.
fn wav_magic(path: &Path) -> Result<Option<[u8; 4]>, AudioError> {
    use std::io::Read;
    let mut head = [0u8; 12];
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let n = f.read(&mut head).map_err(|e| io_err(path, e))?;
    let magic = [head[0], head[1], head[2], head[3]];
    let wav = n == 12 && (&magic == b"RIFF" || &magic == b"RF64") && &head[8..12] == b"WAVE";
    Ok(wav.then_some(magic))
}

/// Format tag, channel count and sample rate from the first `fmt ` chunk within the first
/// 4 KB; `None` when there is none (the decoders then judge the file).
fn wav_fmt(path: &Path) -> Option<(u16, u16, u32)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    let mut pos = 12;
    while pos + 8 <= head.len() {
        let id = &head[pos..pos + 4];
        let size = u32::from_le_bytes(head[pos + 4..pos + 8].try_into().ok()?) as usize;
        if id == b"fmt " {
            let fmt = head.get(pos + 8..pos + 16)?;
            let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            return Some((tag, channels, rate));
        }
        pos += 8 + size + (size & 1);
    }
    None
}

/// WAV format tags neither hound nor Symphonia decodes, named for the error message.
fn unsupported_wav_codec(tag: u16) -> Option<&'static str> {
    Some(match tag {
        0x0031 => "GSM 6.10",
        0x0055 => "MPEG Layer 3 in WAV",
        0x0050 => "MPEG in WAV",
        0x0022 => "TrueSpeech",
        0x0040 | 0x0064 | 0x0065 => "G.721/G.723 ADPCM",
        0x0042 => "G.723.1",
        0x0045 => "G.726",
        0x0161..=0x0163 => "Windows Media Audio",
        0x00FF => "AAC in WAV",
        _ => return None,
    })
}

fn check_format(path: &Path, rate: u32, channels: usize) -> Result<(), AudioError> {
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&rate) {
        return Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("sample rate {rate} Hz is outside {MIN_RATE_HZ}..={MAX_RATE_HZ} Hz"),
        });
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("channel count {channels} is outside 1..={MAX_CHANNELS}"),
        });
    }
    Ok(())
}

struct WavSource {
    path: PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    spec: hound::WavSpec,
    remaining: u64,
    truncated: bool,
    done: bool,
}

impl WavSource {
    fn open(path: &Path) -> Result<WavSource, AudioError> {
        let reader = hound::WavReader::open(path).map_err(|e| match e {
            // The file ends before its chunks say (hound reports a short read as `Other`):
            // a damaged header, not a failing disk.
            hound::Error::IoError(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
                ) =>
            {
                AudioError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "the file ends inside its WAV header (no audio data)".into(),
                }
            }
            hound::Error::IoError(io) => io_err(path, io),
            hound::Error::Unsupported => AudioError::Unsupported {
                path: path.to_path_buf(),
                what: "WAV encoding not handled by hound".into(),
            },
            other => AudioError::Corrupt {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
        let spec = reader.spec();
        check_format(path, spec.sample_rate, spec.channels as usize)?;
        let supported = matches!(
            (spec.sample_format, spec.bits_per_sample),
            (hound::SampleFormat::Int, 8 | 16 | 24 | 32) | (hound::SampleFormat::Float, 32)
        );
        if !supported {
            return Err(AudioError::Unsupported {
                path: path.to_path_buf(),
                what: format!("{:?} {}-bit WAV", spec.sample_format, spec.bits_per_sample),
            });
        }
        let remaining = reader.len() as u64;
        Ok(WavSource {
            path: path.to_path_buf(),
            reader,
            spec,
            remaining,
            truncated: false,
            done: false,
        })
    }

    fn read_ints(&mut self, want: usize, out: &mut Vec<f32>) -> Result<(), hound::Error> {
        // Full-scale for the container's bit depth; 8-bit WAV is unsigned but hound
        // already re-centres it to i8 range.
        let scale = 1.0 / (1u64 << (self.spec.bits_per_sample - 1)) as f32;
        for s in self.reader.samples::<i32>().take(want) {
            out.push(s? as f32 * scale);
        }
        Ok(())
    }

    fn read_floats(&mut self, want: usize, out: &mut Vec<f32>) -> Result<(), hound::Error> {
        for s in self.reader.samples::<f32>().take(want) {
            let v = s?;
            // NaN/inf in a float WAV would poison every later stage.
            out.push(if v.is_finite() {
                v.clamp(-1.0, 1.0)
            } else {
                0.0
            });
        }
        Ok(())
    }
}

impl Source for WavSource {
    fn rate(&self) -> u32 {
        self.spec.sample_rate
    }
    fn channels(&self) -> usize {
        self.spec.channels as usize
    }
    fn frames_hint(&self) -> Option<u64> {
        Some(self.reader.duration() as u64)
    }
    fn truncated(&self) -> bool {
        self.truncated
    }
    fn codec(&self) -> String {
        format!(
            "WAV {}-bit {}",
            self.spec.bits_per_sample,
            match self.spec.sample_format {
                hound::SampleFormat::Int => "PCM",
                hound::SampleFormat::Float => "float",
            }
        )
    }

    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        if self.done || self.remaining == 0 {
            return Ok(None);
        }
        let ch = self.spec.channels as usize;
        let want = (WAV_CHUNK_FRAMES * ch).min(self.remaining as usize);
        let mut out = Vec::with_capacity(want);
        let res = match self.spec.sample_format {
            hound::SampleFormat::Int => self.read_ints(want, &mut out),
            hound::SampleFormat::Float => self.read_floats(want, &mut out),
        };
        self.remaining -= out.len() as u64;
        match res {
            Ok(()) if out.len() == want => {}
            // Header promised more than the file holds: what a crashed recorder leaves.
            // Keep everything read so far.
            Ok(()) | Err(hound::Error::IoError(_)) | Err(hound::Error::FormatError(_)) => {
                self.truncated = true;
                self.done = true;
                tracing::warn!(
                    "{}: WAV data ends before its header says (a recorder that stopped \
                     abruptly?); using the part that is there",
                    self.path.display()
                );
            }
            Err(e) => {
                return Err(AudioError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })
            }
        }
        out.truncate(out.len() - out.len() % ch);
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(out))
    }
}

struct SymphoniaSource {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    rate: u32,
    channels: usize,
    frames: Option<u64>,
    codec: String,
    decode_errors: usize,
    /// Frames decoded so far, to tell a cut-off stream from a finished one.
    frames_read: u64,
    truncated: bool,
}

/// Give up on a stream after this many undecodable packets in a row.
const MAX_DECODE_ERRORS: usize = 50;

impl SymphoniaSource {
    fn open(path: &Path) -> Result<SymphoniaSource, AudioError> {
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| sym_err(path, e, "not a recognised audio container"))?;
        let track =
            format
                .default_track(TrackType::Audio)
                .ok_or_else(|| AudioError::Unsupported {
                    path: path.to_path_buf(),
                    what: "no audio track in the file".into(),
                })?;
        let track_id = track.id;
        let frames = track.num_frames;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| AudioError::Unsupported {
                path: path.to_path_buf(),
                what: "the track is not audio".into(),
            })?
            .clone();
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| sym_err(path, e, "no decoder for this codec"))?;
        let codec = symphonia::default::get_codecs()
            .get_audio_decoder(params.codec)
            .map(|d| d.codec.info.short_name.to_string())
            .unwrap_or_else(|| format!("{:?}", params.codec));
        let rate = params.sample_rate.unwrap_or(0);
        let channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
        // Some containers leave rate/channels to the first packet; check them then.
        if rate != 0 && channels != 0 {
            check_format(path, rate, channels)?;
        }
        Ok(SymphoniaSource {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            rate,
            channels,
            frames,
            codec,
            decode_errors: 0,
            frames_read: 0,
            truncated: false,
        })
    }
}

fn sym_err(path: &Path, e: SymError, context: &str) -> AudioError {
    match e {
        SymError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => AudioError::Io {
            path: path.to_path_buf(),
            source: io,
        },
        SymError::Unsupported(what) => AudioError::Unsupported {
            path: path.to_path_buf(),
            what: format!("{context} ({what})"),
        },
        other => AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("{context}: {other}"),
        },
    }
}

impl Source for SymphoniaSource {
    fn rate(&self) -> u32 {
        self.rate
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn frames_hint(&self) -> Option<u64> {
        self.frames
    }
    fn codec(&self) -> String {
        self.codec.clone()
    }
    fn truncated(&self) -> bool {
        self.truncated
    }

    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None),
                // A cut-off file ends in an unexpected EOF: keep what was decoded, and warn
                // when the container promised more.
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    if self.frames.is_some_and(|n| self.frames_read < n) {
                        self.truncated = true;
                        tracing::warn!(
                            "{}: audio data ends before its header says (a recorder that \
                             stopped abruptly?); using the part that is there",
                            self.path.display()
                        );
                    }
                    return Ok(None);
                }
                Err(SymError::ResetRequired) => return Ok(None),
                Err(e) => return Err(sym_err(&self.path, e, "cannot read the container")),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    self.decode_errors = 0;
                    let spec = buf.spec();
                    let (rate, channels) = (spec.rate(), spec.channels().count());
                    if self.rate == 0 || self.channels == 0 {
                        check_format(&self.path, rate, channels)?;
                        self.rate = rate;
                        self.channels = channels;
                    } else if rate != self.rate || channels != self.channels {
                        return Err(AudioError::Unsupported {
                            path: self.path.clone(),
                            what: format!(
                                "format changes mid-stream ({} Hz {} ch -> {rate} Hz {channels} ch)",
                                self.rate, self.channels
                            ),
                        });
                    }
                    let mut out = vec![0f32; buf.samples_interleaved()];
                    buf.copy_to_slice_interleaved(&mut out);
                    self.frames_read += (out.len() / channels.max(1)) as u64;
                    if out.is_empty() {
                        continue;
                    }
                    return Ok(Some(out));
                }
                Err(SymError::DecodeError(what)) => {
                    // One damaged frame in an MP3 should not lose the meeting.
                    self.decode_errors += 1;
                    tracing::warn!("{}: skipped a damaged packet ({what})", self.path.display());
                    if self.decode_errors >= MAX_DECODE_ERRORS {
                        return Err(AudioError::Corrupt {
                            path: self.path.clone(),
                            detail: format!(
                                "{MAX_DECODE_ERRORS} undecodable packets in a row ({what})"
                            ),
                        });
                    }
                }
                // The last packet of a cut-off file is short (ADPCM blocks): nothing in it
                // can be decoded; the next read reports the end and the truncation.
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.decode_errors += 1;
                    if self.decode_errors >= MAX_DECODE_ERRORS {
                        return Err(sym_err(&self.path, SymError::IoError(e), "decoding failed"));
                    }
                }
                Err(e) => return Err(sym_err(&self.path, e, "decoding failed")),
            }
        }
    }
}
