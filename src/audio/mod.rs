//! Audio in: decoding files ([`load`]) and converting everything to [`Pcm16kMono`],
//! the only sample format later stages accept. [`decode`] reads containers and codecs,
//! [`resample`] down-mixes and converts the rate, [`capture`] records from an input device.

pub mod capture;
pub mod decode;
pub mod resample;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::types::Ms;

/// Why a recording could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: file not found", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: is a directory, not an audio file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: the file is empty (0 bytes)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: unsupported audio: {what}. Supported: WAV, MP3, M4A/AAC, FLAC, OGG/Vorbis", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: corrupt or unreadable audio: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: contains no audio samples", path.display())]
    NoSamples { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Resample {
        path: PathBuf,
        source: resample::ResampleError,
    },
}

/// What the file was, for logs and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    pub codec: String,
    pub source_rate: u32,
    pub channels: usize,
    pub duration: Ms,
    /// The file ended before its header said (read as far as it goes).
    pub truncated: bool,
}

/// Decode a whole file to 16 kHz mono, reading and resampling it chunk by chunk.
pub fn load(path: &Path) -> Result<(Pcm16kMono, AudioInfo), AudioError> {
    let mut reader = Reader::open(path)?;
    let mut out = Vec::new();
    while reader.read(usize::MAX, &mut out)? > 0 {}
    let info = reader.info();
    Ok((Pcm16kMono { samples: out }, info))
}

/// A recording decoded as a stream of 16 kHz mono samples, so long files can be worked
/// through in blocks without holding them whole.
pub struct Reader {
    path: PathBuf,
    src: Box<dyn decode::Source>,
    conv: Option<resample::ToMono16k>,
    /// Converted samples not yet handed out.
    pending: Vec<f32>,
    /// Samples handed out so far.
    produced: usize,
    ended: bool,
}

impl Reader {
    /// Opens `path`, checking that it is a readable, non-empty audio file.
    pub fn open(path: &Path) -> Result<Reader, AudioError> {
        Ok(Reader {
            path: path.to_path_buf(),
            src: decode::open(path)?,
            conv: None,
            pending: Vec::new(),
            produced: 0,
            ended: false,
        })
    }

    /// Appends up to `max` samples to `out` and returns how many; 0 only at the end. A
    /// stream that ends without a single sample is [`AudioError::NoSamples`].
    pub fn read(&mut self, max: usize, out: &mut Vec<f32>) -> Result<usize, AudioError> {
        while self.pending.is_empty() && !self.ended {
            self.fill()?;
        }
        if self.pending.is_empty() && self.produced == 0 {
            return Err(AudioError::NoSamples {
                path: self.path.clone(),
            });
        }
        let n = self.pending.len().min(max);
        out.extend(self.pending.drain(..n));
        self.produced += n;
        Ok(n)
    }

    /// Decodes the next chunk into `pending` (or flushes the resampler at the end).
    fn fill(&mut self) -> Result<(), AudioError> {
        let path = &self.path;
        let res_err = |source| AudioError::Resample {
            path: path.clone(),
            source,
        };
        match self.src.next_chunk()? {
            Some(chunk) => {
                // Rate and channels are only certain after the first decoded packet.
                if self.conv.is_none() {
                    let c = resample::ToMono16k::new(self.src.rate(), self.src.channels())
                        .map_err(res_err)?;
                    self.conv = Some(c);
                }
                if let Some(c) = self.conv.as_mut() {
                    c.push(&chunk, &mut self.pending).map_err(res_err)?;
                }
            }
            None => {
                self.ended = true;
                if let Some(c) = self.conv.as_mut() {
                    c.finish(&mut self.pending).map_err(res_err)?;
                }
            }
        }
        Ok(())
    }

    /// The recording's length from its header, when the container says.
    pub fn duration_hint(&self) -> Option<Ms> {
        let rate = self.src.rate();
        self.src
            .frames_hint()
            .filter(|_| rate > 0)
            .map(|frames| Ms(frames.saturating_mul(1000) / u64::from(rate)))
    }

    /// What was read so far (the duration is final once `read` has returned 0).
    pub fn info(&self) -> AudioInfo {
        AudioInfo {
            codec: self.src.codec(),
            source_rate: self.src.rate(),
            channels: self.src.channels(),
            duration: Ms::from_samples(self.produced, SAMPLE_RATE),
            truncated: self.src.truncated(),
        }
    }
}

/// The recording's length from its header, without decoding (for batch progress and ETA);
/// `None` when the container does not say.
pub fn probe_duration(path: &Path) -> Result<Option<Ms>, AudioError> {
    Ok(Reader::open(path)?.duration_hint())
}

/// Sample rate every later stage works at (Whisper's input rate), in Hz.
pub const SAMPLE_RATE: u32 = 16_000;

/// 16 kHz mono f32 samples in -1.0..=1.0. Only this module builds one, so the format is
/// enforced by the type rather than by a comment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pcm16kMono {
    samples: Vec<f32>,
}

impl Pcm16kMono {
    /// Wrap samples that are already 16 kHz mono (tests, generated signals).
    pub fn from_16k_mono(samples: Vec<f32>) -> Pcm16kMono {
        Pcm16kMono { samples }
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    pub fn duration(&self) -> Ms {
        Ms::from_samples(self.samples.len(), SAMPLE_RATE)
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    /// A 440 Hz tone at half scale, interleaved, same in every channel.
    fn tone(rate: u32, channels: u16, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .flat_map(|i| {
                std::iter::repeat_n(
                    (2.0 * PI * 440.0 * i as f32 / rate as f32).sin() * 0.5,
                    channels as usize,
                )
            })
            .collect()
    }

    fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, float: bool, secs: f32) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for v in tone(rate, channels, secs) {
            if float {
                w.write_sample(v).unwrap();
            } else {
                let max = (1i64 << (bits - 1)) as f32 - 1.0;
                match bits {
                    8 => w.write_sample((v * max) as i8).unwrap(),
                    16 => w.write_sample((v * max) as i16).unwrap(),
                    _ => w.write_sample((v * max) as i32).unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }

    fn peak(pcm: &Pcm16kMono) -> f32 {
        let s = pcm.samples();
        s[s.len() / 4..s.len() * 3 / 4]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn wav_every_encoding_rate_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (16_000, 1, 16, false),
            (8_000, 1, 8, false),
            (44_100, 2, 16, false),
            (48_000, 2, 24, false),
            (22_050, 1, 32, false),
            (48_000, 6, 32, true),
            (96_000, 1, 24, false),
        ];
        for (rate, ch, bits, float) in cases {
            let p = dir.path().join(format!("t_{rate}_{ch}_{bits}_{float}.wav"));
            write_wav(&p, rate, ch, bits, float, 1.5);
            let (pcm, info) = load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(pcm.samples().len(), 24_000, "{}", p.display());
            assert_eq!(info.source_rate, rate);
            assert_eq!(info.channels, ch as usize);
            assert!(!info.truncated);
            let pk = peak(&pcm);
            assert!((pk - 0.5).abs() < 0.04, "{}: peak {pk}", p.display());
        }
    }

    #[test]
    fn truncated_wav_reads_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.wav");
        write_wav(&p, 16_000, 1, 16, false, 2.0);
        let bytes = std::fs::read(&p).unwrap();
        // Keep the header (which still claims 2 s) and half the data.
        std::fs::write(&p, &bytes[..44 + 32_000]).unwrap();
        let (pcm, info) = load(&p).unwrap();
        assert!(info.truncated);
        assert_eq!(pcm.samples().len(), 16_000);
    }

    #[test]
    fn bad_inputs_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.path().join("notes.wav");
        std::fs::write(&text, "これは音声ではありません\n".repeat(50)).unwrap();
        let missing = dir.path().join("missing.wav");
        let header_only = dir.path().join("header_only.wav");
        write_wav(&header_only, 16_000, 1, 16, false, 1.0);
        let b = std::fs::read(&header_only).unwrap();
        std::fs::write(&header_only, &b[..20]).unwrap();
        for (p, want) in [
            (&empty, "empty"),
            (&text, "not a recognised audio container"),
            (&missing, "not found"),
            (&header_only.clone(), ""),
            (&dir.path().to_path_buf(), "directory"),
        ] {
            let err = load(p).expect_err(&p.display().to_string()).to_string();
            assert!(err.contains(&p.display().to_string()), "{err}");
            assert!(err.contains(want), "{err}");
        }
    }
}
