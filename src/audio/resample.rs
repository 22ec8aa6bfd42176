//! Streaming conversion to 16 kHz mono: [`ToMono16k`] down-mixes interleaved chunks and
//! resamples them with rubato's synchronous FFT resampler, trimming the resampler's delay so
//! output sample `n` lines up with input time `n / 16 kHz`.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::SAMPLE_RATE;

/// Input frames per resampler call: small enough to stream, large enough to be efficient.
const CHUNK_FRAMES: usize = 1024;

#[derive(Debug, thiserror::Error)]
#[error("cannot resample from {rate} Hz to 16 kHz: {detail}")]
pub struct ResampleError {
    pub rate: u32,
    pub detail: String,
}

/// `v` clamped to -1..=1, with NaN as 0.
fn sanitize(v: f32) -> f32 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-1.0, 1.0)
    }
}

/// Down-mix and resample a stream to 16 kHz mono, chunk by chunk.
pub struct ToMono16k {
    rate: u32,
    channels: usize,
    resampler: Option<Fft<f32>>,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    frames_in: u64,
    frames_out: u64,
    delay_left: usize,
}

impl ToMono16k {
    pub fn new(rate: u32, channels: usize) -> Result<ToMono16k, ResampleError> {
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            let r = Fft::<f32>::new(
                rate as usize,
                SAMPLE_RATE as usize,
                CHUNK_FRAMES,
                1,
                FixedSync::Input,
            )
            .map_err(|e| ResampleError {
                rate,
                detail: e.to_string(),
            })?;
            Some(r)
        };
        let delay_left = resampler.as_ref().map_or(0, |r| r.output_delay());
        let scratch = vec![0.0; resampler.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(ToMono16k {
            rate,
            channels: channels.max(1),
            resampler,
            pending: Vec::with_capacity(CHUNK_FRAMES * 2),
            scratch,
            frames_in: 0,
            frames_out: 0,
            delay_left,
        })
    }

    /// Feed interleaved samples; appends any finished 16 kHz output to `out`.
    pub fn push(&mut self, interleaved: &[f32], out: &mut Vec<f32>) -> Result<(), ResampleError> {
        let ch = self.channels;
        let frames = interleaved.len() / ch;
        self.frames_in += frames as u64;
        // Equal-weight down-mix: meeting recorders put the same room in every channel.
        let gain = 1.0 / ch as f32;
        // Float files can hold NaN, infinities or values far outside -1..=1 (found by
        // fuzzing: the FFT resampler panics on them); such samples become silence or full
        // scale.
        let mono = interleaved
            .chunks_exact(ch)
            .map(|f| sanitize(f.iter().sum::<f32>() * gain));
        if self.resampler.is_none() {
            let before = out.len();
            out.extend(mono);
            self.frames_out += (out.len() - before) as u64;
            return Ok(());
        }
        self.pending.extend(mono);
        let mut start = 0;
        while self.pending.len() - start >= CHUNK_FRAMES {
            self.process(start, None, out)?;
            start += CHUNK_FRAMES;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flush the tail; total output is exactly `ceil(frames_in * 16000 / rate)` samples.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), ResampleError> {
        if self.resampler.is_none() {
            return Ok(());
        }
        let expected = (self.frames_in * SAMPLE_RATE as u64).div_ceil(self.rate as u64);
        // Feed the remainder, then silence, until the delayed output has caught up.
        let mut guard = 0;
        while self.frames_out < expected && guard < 64 {
            let partial = self.pending.len().min(CHUNK_FRAMES);
            self.pending.resize(CHUNK_FRAMES, 0.0);
            self.process(0, Some(partial), out)?;
            self.pending.clear();
            guard += 1;
        }
        let excess = (self.frames_out - expected.min(self.frames_out)) as usize;
        out.truncate(out.len() - excess.min(out.len()));
        self.frames_out -= excess as u64;
        Ok(())
    }

    fn process(
        &mut self,
        start: usize,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), ResampleError> {
        let rate = self.rate;
        let err = |e: &dyn std::fmt::Display| ResampleError {
            rate,
            detail: e.to_string(),
        };
        let Some(r) = self.resampler.as_mut() else {
            return Ok(());
        };
        let input =
            InterleavedSlice::new(&self.pending[start..start + CHUNK_FRAMES], 1, CHUNK_FRAMES)
                .map_err(|e| err(&e))?;
        let max = self.scratch.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.scratch[..], 1, max).map_err(|e| err(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len: partial,
            active_channels_mask: None,
        };
        let (_, produced) = r
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| err(&e))?;
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        out.extend_from_slice(&self.scratch[skip..produced]);
        self.frames_out += (produced - skip) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32, channels: usize) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .flat_map(|i| {
                let v = (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5;
                std::iter::repeat_n(v, channels)
            })
            .collect()
    }

    fn convert(input: &[f32], rate: u32, channels: usize, piece: usize) -> Vec<f32> {
        let mut c = ToMono16k::new(rate, channels).unwrap();
        let mut out = Vec::new();
        for p in input.chunks(piece * channels) {
            c.push(p, &mut out).unwrap();
        }
        c.finish(&mut out).unwrap();
        out
    }

    /// Estimated frequency from zero crossings.
    fn freq(x: &[f32]) -> f32 {
        let crossings = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        crossings as f32 / (x.len() as f32 / SAMPLE_RATE as f32)
    }

    #[test]
    fn non_finite_and_huge_samples_do_not_reach_the_fft() {
        let mut input = sine(8_000, 440.0, 1.0, 1);
        for (i, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -3e38]
            .into_iter()
            .enumerate()
        {
            input[100 + 1000 * i] = v;
        }
        let out = convert(&input, 8_000, 1, 700);
        assert_eq!(out.len(), 16_000);
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn length_and_pitch_preserved_across_rates() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000] {
            let input = sine(rate, 440.0, 2.0, 1);
            let out = convert(&input, rate, 1, 1000);
            assert_eq!(out.len(), 32_000, "rate {rate}");
            let f = freq(&out[1600..30_400]);
            assert!((f - 440.0).abs() < 3.0, "rate {rate}: {f} Hz");
            let peak = out[1600..30_400].iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((peak - 0.5).abs() < 0.03, "rate {rate}: peak {peak}");
        }
    }

    #[test]
    fn no_delay_shift() {
        // An impulse at 1.0 s must stay at 1.0 s after resampling.
        let rate = 44_100;
        let mut input = vec![0.0; rate as usize * 2];
        input[rate as usize] = 1.0;
        let out = convert(&input, rate, 1, 777);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!((peak as i64 - 16_000).abs() <= 2, "impulse moved to {peak}");
    }

    #[test]
    fn downmix_averages_channels() {
        let rate = 16_000;
        // Left carries the tone, right is silent: mono is half the amplitude.
        let mut input = sine(rate, 300.0, 1.0, 2);
        for f in input.chunks_exact_mut(2) {
            f[1] = 0.0;
        }
        let out = convert(&input, rate, 2, 333);
        assert_eq!(out.len(), 16_000);
        let peak = out.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.25).abs() < 0.01);
    }

    #[test]
    fn short_input_still_flushes() {
        let input = sine(48_000, 440.0, 0.01, 1);
        let out = convert(&input, 48_000, 1, 100);
        assert_eq!(out.len(), 160);
    }

    #[test]
    fn rejects_zero_rate() {
        assert!(ToMono16k::new(0, 1).is_err());
    }
}
