//! Live input through cpal: [`input_devices`] lists capture devices with their native
//! formats, [`open`] picks one ([`Input`]) and [`Input::start`] runs it, delivering
//! interleaved f32 samples at the device's own rate and channel count into a lock-free
//! single-producer ring ([`rtrb`]) that a writer thread drains. [`CaptureShared`] carries
//! what the real-time callback reports back: overruns, and whether the device was lost.
//!
//! The data callback runs on the audio thread: it converts and copies samples into the
//! preallocated ring and bumps atomics — no allocation, locking, I/O or panics.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use serde::{Deserialize, Serialize};

/// Name of the device that follows the system's default input.
pub const DEFAULT_DEVICE: &str = "default";

/// Why capture could not be set up or continued.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no audio input system available: {0}")]
    Host(String),
    #[error("no audio input device found (connect a microphone, or list devices with `gijiroku devices`)")]
    NoDevice,
    #[error("input device `{name}` not found; available: {known} (see `gijiroku devices`)")]
    UnknownDevice { name: String, known: String },
    #[error("input device `{name}`: {detail}")]
    Device { name: String, detail: String },
    #[error("input device `{name}`: sample format {format} cannot be recorded to WAV")]
    UnsupportedFormat { name: String, format: String },
}

/// Sample encodings a capture can arrive in (cpal's, less the DSD ones we cannot store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    I8,
    U8,
    I16,
    U16,
    I24,
    U24,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl SampleKind {
    fn from_cpal(f: SampleFormat) -> Option<SampleKind> {
        Some(match f {
            SampleFormat::I8 => SampleKind::I8,
            SampleFormat::U8 => SampleKind::U8,
            SampleFormat::I16 => SampleKind::I16,
            SampleFormat::U16 => SampleKind::U16,
            SampleFormat::I24 => SampleKind::I24,
            SampleFormat::U24 => SampleKind::U24,
            SampleFormat::I32 => SampleKind::I32,
            SampleFormat::U32 => SampleKind::U32,
            SampleFormat::I64 => SampleKind::I64,
            SampleFormat::U64 => SampleKind::U64,
            SampleFormat::F32 => SampleKind::F32,
            SampleFormat::F64 => SampleKind::F64,
            _ => return None,
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, SampleKind::F32 | SampleKind::F64)
    }

    /// Significant bits per sample.
    pub fn bits(self) -> u16 {
        match self {
            SampleKind::I8 | SampleKind::U8 => 8,
            SampleKind::I16 | SampleKind::U16 => 16,
            SampleKind::I24 | SampleKind::U24 => 24,
            SampleKind::I32 | SampleKind::U32 | SampleKind::F32 => 32,
            SampleKind::I64 | SampleKind::U64 | SampleKind::F64 => 64,
        }
    }
}

impl fmt::Display for SampleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SampleKind::I8 => "i8",
            SampleKind::U8 => "u8",
            SampleKind::I16 => "i16",
            SampleKind::U16 => "u16",
            SampleKind::I24 => "i24",
            SampleKind::U24 => "u24",
            SampleKind::I32 => "i32",
            SampleKind::U32 => "u32",
            SampleKind::I64 => "i64",
            SampleKind::U64 => "u64",
            SampleKind::F32 => "f32",
            SampleKind::F64 => "f64",
        };
        f.write_str(s)
    }
}

/// One concrete format a device delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeFormat {
    /// Frames per second, in Hz.
    pub rate: u32,
    pub channels: u16,
    pub sample: SampleKind,
}

impl fmt::Display for NativeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz, {} ch, {}", self.rate, self.channels, self.sample)
    }
}

/// A range of formats a device accepts (rates from `min_rate` to `max_rate`, in Hz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatRange {
    pub min_rate: u32,
    pub max_rate: u32,
    pub channels: u16,
    pub sample: SampleKind,
}

/// An input device as `gijiroku devices` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDevice {
    /// What `--device` takes (the ALSA PCM name on Linux).
    pub name: String,
    pub description: String,
    /// The device that follows the system's default input.
    pub is_default: bool,
    /// The format a recording uses (the device's preferred one).
    pub default_format: Option<NativeFormat>,
    pub formats: Vec<FormatRange>,
    /// Why the formats could not be read (busy, output only ...).
    pub error: Option<String>,
}

fn host() -> cpal::Host {
    cpal::default_host()
}

fn device_name(d: &cpal::Device) -> String {
    d.id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| d.to_string())
}

fn device_description(d: &cpal::Device) -> String {
    d.description()
        .map(|desc| desc.name().to_string())
        .unwrap_or_default()
}

/// Every capture device, the default first. Opening each to read its formats can take a
/// moment; a device that cannot be opened is listed with its error.
pub fn input_devices() -> Result<Vec<InputDevice>, CaptureError> {
    let host = host();
    let mut out = Vec::new();
    if let Some(d) = host.default_input_device() {
        out.push(describe(&d, true));
    }
    let devices = host
        .input_devices()
        .map_err(|e| CaptureError::Host(e.to_string()))?;
    for d in devices {
        let name = device_name(&d);
        if out.iter().any(|x: &InputDevice| x.name == name) {
            continue;
        }
        out.push(describe(&d, false));
    }
    Ok(out)
}

fn describe(d: &cpal::Device, is_default: bool) -> InputDevice {
    let name = device_name(d);
    let description = device_description(d);
    let mut error = None;
    let formats = match d.supported_input_configs() {
        Ok(list) => list
            .filter_map(|r| {
                Some(FormatRange {
                    min_rate: r.min_sample_rate(),
                    max_rate: r.max_sample_rate(),
                    channels: r.channels(),
                    sample: SampleKind::from_cpal(r.sample_format())?,
                })
            })
            .collect(),
        Err(e) => {
            error = Some(e.to_string());
            Vec::new()
        }
    };
    let default_format = if error.is_none() {
        d.default_input_config().ok().and_then(|c| native(&c))
    } else {
        None
    };
    InputDevice {
        name,
        description,
        is_default,
        default_format,
        formats,
        error,
    }
}

fn native(c: &cpal::SupportedStreamConfig) -> Option<NativeFormat> {
    Some(NativeFormat {
        rate: c.sample_rate(),
        channels: c.channels(),
        sample: SampleKind::from_cpal(c.sample_format())?,
    })
}

/// A chosen input device and the format it will deliver; not yet running.
pub struct Input {
    device: cpal::Device,
    name: String,
    config: cpal::SupportedStreamConfig,
    format: NativeFormat,
}

/// Pick the input device `name` (its `--device` name or its description), or the default
/// device, and read its preferred (native) format.
pub fn open(name: Option<&str>) -> Result<Input, CaptureError> {
    let host = host();
    let device = match name {
        None | Some(DEFAULT_DEVICE) => host.default_input_device().ok_or(CaptureError::NoDevice)?,
        Some(want) => {
            let mut devices: Vec<cpal::Device> = host
                .input_devices()
                .map_err(|e| CaptureError::Host(e.to_string()))?
                .collect();
            let found = devices
                .iter()
                .position(|d| device_name(d) == want)
                .or_else(|| devices.iter().position(|d| device_description(d) == want));
            match found {
                Some(i) => devices.swap_remove(i),
                None if devices.is_empty() => return Err(CaptureError::NoDevice),
                None => {
                    return Err(CaptureError::UnknownDevice {
                        name: want.to_string(),
                        known: devices
                            .iter()
                            .map(device_name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
    };
    let name = device_name(&device);
    let config = device.default_input_config().map_err(|e| {
        if matches!(
            e.kind(),
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::UnsupportedOperation
        ) && name == DEFAULT_DEVICE
        {
            CaptureError::NoDevice
        } else {
            CaptureError::Device {
                name: name.clone(),
                detail: e.to_string(),
            }
        }
    })?;
    let format = native(&config).ok_or_else(|| CaptureError::UnsupportedFormat {
        name: name.clone(),
        format: config.sample_format().to_string(),
    })?;
    Ok(Input {
        device,
        name,
        config,
        format,
    })
}

/// What the audio thread reports to the rest of the program.
#[derive(Debug, Default)]
pub struct CaptureShared {
    /// Frames the ring had no room for (the writer fell behind), dropped.
    pub overrun_frames: AtomicU64,
    /// Buffer under/overruns the driver reported.
    pub xruns: AtomicU64,
    /// Frames delivered by the device so far.
    pub frames: AtomicU64,
    /// The device stopped delivering (unplugged, invalidated); see `error`.
    pub lost: AtomicBool,
    /// The first fatal stream error, for the message.
    pub error: OnceLock<String>,
}

impl CaptureShared {
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }
}

/// A running capture. Dropping it stops the device.
pub struct Capture {
    _stream: cpal::Stream,
    pub shared: Arc<CaptureShared>,
    /// Frames per callback the driver settled on, when it says.
    pub period_frames: Option<u32>,
}

impl Input {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> NativeFormat {
        self.format
    }

    /// Start capturing into `producer` (interleaved f32, whole frames). The ring is the
    /// only hand-off between the audio thread and the writer.
    pub fn start(self, producer: rtrb::Producer<f32>) -> Result<Capture, CaptureError> {
        let shared = Arc::new(CaptureShared::default());
        let config = self.config.config();
        let ch = usize::from(self.format.channels.max(1));
        let dev = &self.device;
        let s = shared.clone();
        let stream = match self.config.sample_format() {
            SampleFormat::I8 => build::<i8>(dev, config, producer, ch, s),
            SampleFormat::U8 => build::<u8>(dev, config, producer, ch, s),
            SampleFormat::I16 => build::<i16>(dev, config, producer, ch, s),
            SampleFormat::U16 => build::<u16>(dev, config, producer, ch, s),
            SampleFormat::I24 => build::<cpal::I24>(dev, config, producer, ch, s),
            SampleFormat::U24 => build::<cpal::U24>(dev, config, producer, ch, s),
            SampleFormat::I32 => build::<i32>(dev, config, producer, ch, s),
            SampleFormat::U32 => build::<u32>(dev, config, producer, ch, s),
            SampleFormat::I64 => build::<i64>(dev, config, producer, ch, s),
            SampleFormat::U64 => build::<u64>(dev, config, producer, ch, s),
            SampleFormat::F32 => build::<f32>(dev, config, producer, ch, s),
            SampleFormat::F64 => build::<f64>(dev, config, producer, ch, s),
            other => {
                return Err(CaptureError::UnsupportedFormat {
                    name: self.name.clone(),
                    format: other.to_string(),
                })
            }
        }
        .map_err(|e| CaptureError::Device {
            name: self.name.clone(),
            detail: e.to_string(),
        })?;
        stream.play().map_err(|e| CaptureError::Device {
            name: self.name.clone(),
            detail: e.to_string(),
        })?;
        let period_frames = stream.buffer_size().ok();
        tracing::info!(device = %self.name, format = %self.format, ?period_frames, "capture started");
        Ok(Capture {
            _stream: stream,
            shared,
            period_frames,
        })
    }
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut producer: rtrb::Producer<f32>,
    channels: usize,
    shared: Arc<CaptureShared>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let on_data = {
        let shared = shared.clone();
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            push_frames(&mut producer, data, channels, &shared);
        }
    };
    let on_error = move |err: cpal::Error| match err.kind() {
        cpal::ErrorKind::Xrun => {
            shared.xruns.fetch_add(1, Ordering::Relaxed);
        }
        // Reported and harmless for a capture: keep going.
        cpal::ErrorKind::RealtimeDenied | cpal::ErrorKind::DeviceChanged => {
            tracing::debug!("capture: {err}");
        }
        _ => {
            let _ = shared.error.set(err.to_string());
            shared.lost.store(true, Ordering::Release);
        }
    };
    device.build_input_stream::<T, _, _>(config, on_data, on_error, None)
}

/// The real-time part: convert `data` into the ring, whole frames only; whatever does not
/// fit is counted as overrun and dropped. Allocation-free and lock-free.
pub fn push_frames<T>(
    producer: &mut rtrb::Producer<f32>,
    data: &[T],
    channels: usize,
    shared: &CaptureShared,
) where
    T: cpal::Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    let frames = data.len() / channels;
    shared.frames.fetch_add(frames as u64, Ordering::Relaxed);
    let room = producer.slots() / channels;
    let take = frames.min(room);
    if take < frames {
        shared
            .overrun_frames
            .fetch_add((frames - take) as u64, Ordering::Relaxed);
    }
    if take == 0 {
        return;
    }
    if let Ok(chunk) = producer.write_chunk_uninit(take * channels) {
        chunk.fill_from_iter(data.iter().map(|&s| cpal::Sample::to_sample::<f32>(s)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_whole_frames_and_counts_overrun() {
        let (mut p, mut c) = rtrb::RingBuffer::<f32>::new(7);
        let shared = CaptureShared::default();
        // 4 stereo frames into room for 3 (7 slots / 2 channels).
        let data: [i16; 8] = [0, 16_384, -16_384, 32_767, 1, 2, 3, 4];
        push_frames(&mut p, &data, 2, &shared);
        assert_eq!(c.slots(), 6);
        assert_eq!(shared.overrun_frames.load(Ordering::Relaxed), 1);
        assert_eq!(shared.frames.load(Ordering::Relaxed), 4);
        let got: Vec<f32> = (0..6).map(|_| c.pop().unwrap()).collect();
        assert_eq!(got[1], 0.5);
        assert_eq!(got[2], -0.5);
    }

    #[test]
    fn sample_kinds_display_and_bits() {
        assert_eq!(SampleKind::F32.to_string(), "f32");
        assert_eq!(SampleKind::I24.bits(), 24);
        assert!(SampleKind::F64.is_float());
        let f = NativeFormat {
            rate: 48_000,
            channels: 2,
            sample: SampleKind::I16,
        };
        assert_eq!(f.to_string(), "48000 Hz, 2 ch, i16");
    }
}
