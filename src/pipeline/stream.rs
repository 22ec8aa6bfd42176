//! Long recordings in bounded memory: [`Blocks`] decodes a file and hands it out as blocks
//! of about [`StreamConfig::block`] of 16 kHz audio with their speech spans, each block cut
//! in a pause, so the later stages work block by block and memory does not grow with the
//! length of the recording.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::audio::{AudioError, AudioInfo, Pcm16kMono, Reader, SAMPLE_RATE};
use crate::types::{Ms, Span};
use crate::vad::{Detector, VadError, FRAME_SAMPLES};

/// Block length: 5 minutes of 16 kHz audio is 19 MB (the block is the largest thing the
/// pipeline holds besides the models); long enough that cuts are rare.
pub const DEFAULT_BLOCK: Ms = Ms(300_000);
/// A block is cut at the longest pause within this last stretch of it (or within its
/// second half, when blocks are shorter than twice this).
const CUT_SEARCH: Ms = Ms(60_000);
/// Cuts fall on multiples of this many samples: whole VAD frames (512 samples) and whole
/// 10 ms diarization frames (160), so every later stage keeps one time grid.
const CUT_ALIGN: usize = 2_560;
/// Shortest block accepted in settings, in ms.
const MIN_BLOCK: Ms = Ms(10_000);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Audio per block, in ms (at least 10 s).
    pub block: Ms,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            block: DEFAULT_BLOCK,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error("stream.block = {0} ms: must be at least 10000 ms")]
    Block(u64),
}

/// A stretch of the recording and the speech in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Where the block starts in the recording.
    pub offset: Ms,
    pub pcm: Pcm16kMono,
    /// Speech spans, relative to the block's start.
    pub speech: Vec<Span>,
}

/// Blocks of a recording, in order.
pub struct Blocks {
    reader: Reader,
    detector: Detector,
    /// Decoded audio not handed out yet, starting `held_from` samples into the recording.
    held: Vec<f32>,
    held_from: usize,
    block: usize,
    ended: bool,
    vad_time: Duration,
}

impl Blocks {
    pub fn new(
        reader: Reader,
        detector: Detector,
        cfg: &StreamConfig,
    ) -> Result<Blocks, StreamError> {
        if cfg.block < MIN_BLOCK {
            return Err(StreamError::Block(cfg.block.0));
        }
        Ok(Blocks {
            reader,
            detector,
            held: Vec::new(),
            held_from: 0,
            block: cfg.block.to_samples(SAMPLE_RATE),
            ended: false,
            vad_time: Duration::ZERO,
        })
    }

    /// The next block, `None` after the last.
    pub fn next_block(&mut self) -> Result<Option<Block>, StreamError> {
        // Exactly one block's room: a doubling Vec would hold up to twice that.
        self.held
            .reserve_exact(self.block.saturating_sub(self.held.len()));
        while !self.ended && self.held.len() < self.block {
            let want = self.block - self.held.len();
            if self.reader.read(want, &mut self.held)? == 0 {
                self.ended = true;
            }
        }
        if self.held.is_empty() {
            return Ok(None);
        }
        let t = Instant::now();
        self.detector.score(&self.held, self.ended)?;
        let spans = self
            .detector
            .spans(Ms::from_samples(self.held.len(), SAMPLE_RATE));
        self.vad_time += t.elapsed();
        let cut = if self.ended {
            self.held.len()
        } else {
            cut_point(&spans, self.held.len())
        };
        let rest = self.held.split_off(cut);
        let samples = std::mem::replace(&mut self.held, rest);
        self.detector.forget(cut);
        let offset = Ms::from_samples(self.held_from, SAMPLE_RATE);
        self.held_from += cut;
        let end = Ms::from_samples(cut, SAMPLE_RATE);
        let speech = spans
            .iter()
            .filter(|s| s.start < end)
            .map(|s| Span::new(s.start, s.end.min(end)))
            .filter(|s| !s.is_empty())
            .collect();
        Ok(Some(Block {
            offset,
            pcm: Pcm16kMono::from_16k_mono(samples),
            speech,
        }))
    }

    /// The recording's length from its header, when the container says.
    pub fn duration_hint(&self) -> Option<Ms> {
        self.reader.duration_hint()
    }

    /// What was read (final after the last block).
    pub fn info(&self) -> AudioInfo {
        self.reader.info()
    }

    /// Time spent in speech detection so far.
    pub fn vad_time(&self) -> Duration {
        self.vad_time
    }
}

/// Where to end a block of `len` samples (more audio follows): the middle of the longest
/// pause between `spans` in the block's last stretch, or the end when speech runs through
/// it. Always a positive multiple of [`CUT_ALIGN`].
fn cut_point(spans: &[Span], len: usize) -> usize {
    let search = CUT_SEARCH.to_samples(SAMPLE_RATE).min(len / 2);
    let from = len - search;
    let to_sample = |t: Ms| t.to_samples(SAMPLE_RATE).min(len);
    // Pauses as sample ranges: before the first span, between spans, after the last.
    let mut best: Option<(usize, usize)> = None;
    let mut prev_end = 0;
    for s in spans
        .iter()
        .map(|s| (to_sample(s.start), to_sample(s.end)))
        .chain([(len, len)])
    {
        let (a, b) = (prev_end.max(from), s.0.min(len));
        if b > a && best.is_none_or(|(x, y)| b - a > y - x) {
            best = Some((a, b));
        }
        prev_end = prev_end.max(s.1);
    }
    let cut = best.map_or(len, |(a, b)| (a + b) / 2);
    let aligned = cut / CUT_ALIGN * CUT_ALIGN;
    debug_assert_eq!(CUT_ALIGN % FRAME_SAMPLES, 0);
    aligned.max(CUT_ALIGN).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(a: u64, b: u64) -> Span {
        Span::new(Ms(a), Ms(b))
    }

    const S: usize = SAMPLE_RATE as usize;

    #[test]
    fn cut_in_the_longest_late_pause() {
        // 200 s held; search the last 60 s (140–200 s): pauses 150–152 and 170–175.
        let spans = [sp(0, 150_000), sp(152_000, 170_000), sp(175_000, 199_000)];
        let cut = cut_point(&spans, 200 * S);
        assert_eq!(cut % CUT_ALIGN, 0);
        let at = cut as f64 / S as f64;
        assert!((172.4..=172.6).contains(&at), "{at}");
    }

    #[test]
    fn cut_at_the_end_when_speech_runs_through() {
        let cut = cut_point(&[sp(0, 200_000)], 200 * S);
        assert_eq!(cut, 200 * S / CUT_ALIGN * CUT_ALIGN);
        // Silence at the end of the held audio is a pause too.
        let cut = cut_point(&[sp(0, 180_000)], 200 * S);
        assert!((cut as f64 / S as f64 - 190.0).abs() < 0.2);
    }

    #[test]
    fn short_blocks_search_their_second_half() {
        let cut = cut_point(&[sp(0, 2_000), sp(3_000, 20_000)], 20 * S);
        assert!(cut >= 10 * S, "{cut}");
        // No pause at all in the search range: cut at the aligned end, never at 0.
        assert!(cut_point(&[], CUT_ALIGN) == CUT_ALIGN);
    }
}
