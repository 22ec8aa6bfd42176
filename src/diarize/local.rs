//! One 10 s window at a time: who of up to three local speakers speaks in each frame
//! (segmentation-3.0), and a CAM++ embedding per local speaker, from the frames where it
//! speaks alone (pyannote 3.1's `exclude_overlap`).

use super::campp::{self, CamPlus, EMBED_DIM};
use super::fbank;
use super::seg::{self, Segmentation, FRAMES_PER_WINDOW, NUM_SPEAKERS, POWERSET};
use super::DiarizeError;

pub(super) type Embedding = [f32; EMBED_DIM];

/// Fewest fbank frames (10 ms each) an embedding is computed from: shorter stretches give
/// vectors that say more about the words than the voice.
const MIN_EMBED_FRAMES: usize = 30;

/// What one window says, kept until the end of the recording.
pub(super) struct Chunk {
    /// Global index of the window's first frame (frame `g` starts at sample `g × 270`).
    pub first: usize,
    /// Per frame, bit `s` set when local speaker `s` speaks; empty for a window without
    /// speech (all frames silent).
    pub active: Vec<u8>,
    /// The local speakers that speak somewhere in the window.
    pub locals: Vec<Local>,
}

pub(super) struct Local {
    /// Which of the window's three speaker slots.
    pub slot: u8,
    /// Frames where this speaker speaks alone.
    pub clean: usize,
    /// L2-normalised CAM++ embedding; `None` when it speaks too little to get one.
    pub embedding: Option<Embedding>,
}

impl Chunk {
    pub fn silent(first: usize) -> Chunk {
        Chunk {
            first,
            active: Vec::new(),
            locals: Vec::new(),
        }
    }

    /// Bits of frame `i` (0 for a silent window).
    pub fn bits(&self, i: usize) -> u8 {
        self.active.get(i).copied().unwrap_or(0)
    }
}

/// Analyses windows `(first frame, audio)`; audio shorter than 10 s is padded with silence.
pub(super) fn analyse(
    model: &Segmentation,
    embedder: &CamPlus,
    windows: &[(usize, &[f32])],
) -> Result<Vec<Chunk>, DiarizeError> {
    let audio: Vec<&[f32]> = windows.iter().map(|w| w.1).collect();
    let logprobs = model
        .forward(&audio)
        .map_err(|e| DiarizeError::Segment(Box::new(e)))?;
    let per_window = FRAMES_PER_WINDOW * seg::NUM_CLASSES;
    let mut out = Vec::with_capacity(windows.len());
    for (w, &(first, samples)) in windows.iter().enumerate() {
        let lp = &logprobs[w * per_window..][..per_window];
        let active: Vec<u8> = lp
            .chunks_exact(seg::NUM_CLASSES)
            .map(|row| {
                let class = seg::argmax(row);
                POWERSET[class]
                    .iter()
                    .enumerate()
                    .fold(0u8, |b, (s, &on)| b | ((on as u8) << s))
            })
            .collect();
        let mut locals = Vec::new();
        let mut feats: Option<fbank::Fbank> = None;
        for s in 0..NUM_SPEAKERS {
            let bit = 1u8 << s;
            let speaks = active.iter().filter(|&&b| b & bit != 0).count();
            if speaks == 0 {
                continue;
            }
            let alone: Vec<bool> = active.iter().map(|&b| b == bit).collect();
            let clean = alone.iter().filter(|&&a| a).count();
            let fb = feats.get_or_insert_with(|| fbank::fbank(samples));
            // Clean frames when there are enough of them, else every frame it speaks in.
            let mut rows = select(fb, |i| alone[i]);
            if rows.len() < MIN_EMBED_FRAMES * fbank::NUM_MEL_BINS {
                rows = select(fb, |i| active[i] & bit != 0);
            }
            let n = rows.len() / fbank::NUM_MEL_BINS;
            let embedding = if n >= MIN_EMBED_FRAMES {
                campp::cmn(&mut rows, n);
                let mut e = embedder
                    .embed(&rows, n)
                    .map_err(|e| DiarizeError::Embed(Box::new(e)))?;
                normalise(&mut e);
                Some(e)
            } else {
                None
            };
            locals.push(Local {
                slot: s as u8,
                clean,
                embedding,
            });
        }
        out.push(Chunk {
            first,
            active,
            locals,
        });
    }
    Ok(out)
}

/// The fbank rows whose segmentation frame passes `keep`. Frames map by position, as
/// pyannote resizes its masks to the feature rate (nearest neighbour) of a whole window, also
/// for the last, shorter one.
fn select(fb: &fbank::Fbank, keep: impl Fn(usize) -> bool) -> Vec<f32> {
    let full = fbank::num_frames(seg::WINDOW_SAMPLES);
    let mut rows = Vec::new();
    for f in 0..fb.frames {
        let i = (f * FRAMES_PER_WINDOW / full).min(FRAMES_PER_WINDOW - 1);
        if keep(i) {
            rows.extend_from_slice(&fb.data[f * fbank::NUM_MEL_BINS..][..fbank::NUM_MEL_BINS]);
        }
    }
    rows
}

pub(super) fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
