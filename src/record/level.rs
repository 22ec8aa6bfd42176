//! Input level for the meter: [`Meter`] accumulates samples into [`Reading`]s (RMS and peak
//! in dBFS, clipping), [`dbfs`] converts amplitudes and [`bar`] draws the meter.

/// Level reported for digital silence, in dBFS.
pub const FLOOR_DB: f32 = -120.0;
/// A sample at or above this magnitude is taken as clipped (the converter's limit).
pub const CLIP_LEVEL: f32 = 0.999;
/// Below this RMS level the input counts as silent (a muted or unplugged microphone), in
/// dBFS; room noise through a live microphone sits well above it.
pub const SILENCE_DB: f32 = -60.0;
/// The meter shows this range, in dBFS, up to 0.
pub const METER_RANGE_DB: f32 = 60.0;

/// Amplitude (0..=1 full scale) to dBFS, floored at [`FLOOR_DB`].
pub fn dbfs(amplitude: f32) -> f32 {
    if amplitude.is_nan() || amplitude <= 0.0 {
        return FLOOR_DB;
    }
    (20.0 * amplitude.log10()).max(FLOOR_DB)
}

/// One meter reading over a block of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub rms_db: f32,
    pub peak_db: f32,
    /// Samples at or above [`CLIP_LEVEL`].
    pub clipped: u64,
}

/// Accumulates samples (any channel layout: all channels count) until read.
#[derive(Debug, Default, Clone)]
pub struct Meter {
    sum_sq: f64,
    n: u64,
    peak: f32,
    clipped: u64,
}

impl Meter {
    pub fn push(&mut self, samples: &[f32]) {
        for &x in samples {
            let a = x.abs();
            self.sum_sq += f64::from(x) * f64::from(x);
            self.peak = self.peak.max(a);
            if a >= CLIP_LEVEL {
                self.clipped += 1;
            }
        }
        self.n += samples.len() as u64;
    }

    /// Samples since the last reading.
    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The reading so far, and start over.
    pub fn take(&mut self) -> Reading {
        let rms = if self.n == 0 {
            0.0
        } else {
            (self.sum_sq / self.n as f64).sqrt() as f32
        };
        let r = Reading {
            rms_db: dbfs(rms),
            peak_db: dbfs(self.peak),
            clipped: self.clipped,
        };
        *self = Meter::default();
        r
    }
}

/// A meter `width` cells wide for `db` (0 dBFS fills it, -[`METER_RANGE_DB`] and below is
/// empty).
pub fn bar(db: f32, width: usize) -> String {
    let frac = ((db + METER_RANGE_DB) / METER_RANGE_DB).clamp(0.0, 1.0);
    let filled = (frac * width as f32).round() as usize;
    let mut s = String::with_capacity(width * 3);
    s.extend(std::iter::repeat_n('█', filled));
    s.extend(std::iter::repeat_n('░', width - filled));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbfs_of_known_amplitudes() {
        assert_eq!(dbfs(1.0), 0.0);
        assert!((dbfs(0.5) + 6.0206).abs() < 1e-3);
        assert!((dbfs(0.1) + 20.0).abs() < 1e-4);
        assert_eq!(dbfs(0.0), FLOOR_DB);
        assert_eq!(dbfs(1e-9), FLOOR_DB);
        assert_eq!(dbfs(f32::NAN), FLOOR_DB);
    }

    #[test]
    fn sine_rms_is_3db_below_peak() {
        let mut m = Meter::default();
        let s: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin())
            .collect();
        m.push(&s);
        assert_eq!(m.len(), 48_000);
        let r = m.take();
        assert!((r.peak_db + 6.02).abs() < 0.01, "{r:?}");
        assert!((r.rms_db - (r.peak_db - 3.01)).abs() < 0.02, "{r:?}");
        assert_eq!(r.clipped, 0);
        assert!(m.is_empty());
        assert_eq!(m.take().rms_db, FLOOR_DB);
    }

    #[test]
    fn clipping_counts_full_scale_samples() {
        let mut m = Meter::default();
        m.push(&[0.2, 1.0, -1.0, 0.9995, -0.5]);
        let r = m.take();
        assert_eq!(r.clipped, 3);
        assert_eq!(r.peak_db, 0.0);
    }

    #[test]
    fn bar_maps_the_range() {
        assert_eq!(bar(0.0, 4), "████");
        assert_eq!(bar(-30.0, 4), "██░░");
        assert_eq!(bar(-90.0, 4), "░░░░");
        assert_eq!(bar(3.0, 2), "██");
    }
}
