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
/// A local speaker's activity is cut into runs at pauses of this many frames (~0.15 s) or
/// more, and runs of at least [`MIN_RUN_FRAMES`] get their own embedding.
const RUN_GAP: usize = 9;
/// Voices one segmentation slot may be split into (three slots then fit 16 bits).
const MAX_GROUPS: usize = 5;
/// Fbank frames a run needs for an embedding of its own (1 s).
const MIN_RUN_FRAMES: usize = 100;
/// Cosine similarity below which two runs of one local speaker are different voices.
/// Segmentation-3.0 tracks voices within its window by itself, and two similar voices that
/// take turns can end up as one local speaker; their runs' embeddings tell them apart.
const SAME_RUN: f32 = 0.5;

/// What one window says, kept until the end of the recording.
pub(super) struct Chunk {
    /// Global index of the window's first frame (frame `g` starts at sample `g × 270`).
    pub first: usize,
    /// Per frame, bit `v` set when local speaker `v` speaks; empty for a window without
    /// speech (all frames silent).
    pub active: Vec<u16>,
    /// The local speakers that speak somewhere in the window.
    pub locals: Vec<Local>,
}

pub(super) struct Local {
    /// Bit of this local speaker in [`Chunk::active`].
    pub slot: u8,
    /// The segmentation's speaker slot it comes from: locals split from one slot (voices it
    /// did not tell apart) may still be one person, locals of different slots may not.
    pub origin: u8,
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
    pub fn bits(&self, i: usize) -> u16 {
        self.active.get(i).copied().unwrap_or(0)
    }
}

/// Analyses windows `(first frame, audio)`; audio shorter than 10 s is padded with silence.
pub(super) fn analyse(
    model: &Segmentation,
    embedder: &CamPlus,
    windows: &[(usize, &[f32])],
    tile: usize,
    cache: &mut RunCache,
) -> Result<Vec<Chunk>, DiarizeError> {
    let audio: Vec<&[f32]> = windows.iter().map(|w| w.1).collect();
    let logprobs = model
        .forward(&audio)
        .map_err(|e| DiarizeError::Segment(Box::new(e)))?;
    let per_window = FRAMES_PER_WINDOW * seg::NUM_CLASSES;
    let mut out = Vec::with_capacity(windows.len());
    for (w, &(first, samples)) in windows.iter().enumerate() {
        let lp = &logprobs[w * per_window..][..per_window];
        let slots: Vec<u8> = lp
            .chunks_exact(seg::NUM_CLASSES)
            .map(|row| {
                POWERSET[seg::argmax(row)]
                    .iter()
                    .enumerate()
                    .fold(0u8, |b, (s, &on)| b | ((on as u8) << s))
            })
            .collect();
        let mut active = vec![0u16; FRAMES_PER_WINDOW];
        let mut locals = Vec::new();
        let mut feats: Option<fbank::Fbank> = None;
        cache.forget_before(first);
        let embed = |fb: &fbank::Fbank, keep: &dyn Fn(usize) -> bool| {
            let mut rows = select(fb, keep);
            let n = rows.len() / fbank::NUM_MEL_BINS;
            if n < MIN_EMBED_FRAMES {
                return Ok(None);
            }
            campp::cmn(&mut rows, n);
            let mut e = embedder
                .embed(&rows, n)
                .map_err(|e| DiarizeError::Embed(Box::new(e)))?;
            normalise(&mut e);
            Ok::<_, DiarizeError>(Some((e, n)))
        };
        for s in 0..NUM_SPEAKERS {
            let bit = 1u8 << s;
            if !slots.iter().any(|&b| b & bit != 0) {
                continue;
            }
            let alone = |i: usize| slots[i] == bit;
            let speaks = |i: usize| slots[i] & bit != 0;
            let fb = feats.get_or_insert_with(|| fbank::fbank(samples));
            // Runs of this slot's activity, each embedded when long enough.
            let runs = runs_of(&slots, bit);
            let mut groups: Vec<([f32; EMBED_DIM], Vec<usize>)> = Vec::new();
            let mut group_of: Vec<Option<usize>> = vec![None; runs.len()];
            let mut order: Vec<usize> = (0..runs.len()).collect();
            order.sort_by_key(|&r| std::cmp::Reverse(runs[r].1 - runs[r].0));
            for r in order {
                let (a, b) = runs[r];
                // The run is embedded piece by piece, pieces cut on the global tile grid, and
                // its vector is their frame-weighted mean: windows overlap four times, and a
                // piece seen whole in an earlier window is not embedded again (a long run
                // crosses window edges, so as a whole it would differ in every window).
                let mut sum = [0.0f32; EMBED_DIM];
                let mut any = false;
                for (pa, pb) in pieces(a, b, first, tile) {
                    let in_piece = |i: usize| i >= pa && i < pb;
                    let clean_piece = |i: usize| in_piece(i) && alone(i);
                    // Clean frames when there are enough for an embedding, else all of it.
                    let clean_frames = (pa..pb).filter(|&i| alone(i)).count();
                    let use_clean = fbank_frames(clean_frames) >= MIN_RUN_FRAMES;
                    if !use_clean && fbank_frames(pb - pa) < MIN_RUN_FRAMES {
                        continue;
                    }
                    let got = match cache.get(first + pa, first + pb, use_clean) {
                        Some(e) => Some(e),
                        None => {
                            let keep: &dyn Fn(usize) -> bool = if use_clean {
                                &clean_piece
                            } else {
                                &|i| in_piece(i) && speaks(i)
                            };
                            let e = embed(fb, keep)?.map(|(e, _)| e);
                            if let Some(e) = e {
                                cache.put(first + pa, first + pb, use_clean, e);
                            }
                            e
                        }
                    };
                    if let Some(e) = got {
                        let w = (pb - pa) as f32;
                        sum.iter_mut().zip(&e).for_each(|(x, y)| *x += w * y);
                        any = true;
                    }
                }
                let got = any.then(|| {
                    normalise(&mut sum);
                    sum
                });
                let Some(e) = got else { continue };
                let best = groups
                    .iter()
                    .enumerate()
                    .map(|(g, (sum, _))| {
                        let mut c = *sum;
                        normalise(&mut c);
                        (g, c.iter().zip(&e).map(|(x, y)| x * y).sum::<f32>())
                    })
                    .max_by(|x, y| x.1.total_cmp(&y.1));
                match best {
                    Some((g, sim)) if sim >= SAME_RUN || groups.len() >= MAX_GROUPS => {
                        groups[g].0.iter_mut().zip(&e).for_each(|(x, y)| *x += y);
                        groups[g].1.push(r);
                        group_of[r] = Some(g);
                    }
                    _ => {
                        group_of[r] = Some(groups.len());
                        groups.push((e, vec![r]));
                    }
                }
            }
            // Short runs join the group of the nearest run that has one.
            for r in 0..runs.len() {
                if group_of[r].is_none() {
                    group_of[r] = (0..runs.len())
                        .filter(|&q| group_of[q].is_some())
                        .min_by_key(|&q| runs[q].0.abs_diff(runs[r].0))
                        .and_then(|q| group_of[q]);
                }
            }
            if groups.is_empty() {
                // Too little for runs of its own: one embedding from everything it says.
                let e = match embed(fb, &alone)? {
                    Some((e, n)) if n >= MIN_EMBED_FRAMES * 2 => Some(e),
                    _ => embed(fb, &speaks)?.map(|(e, _)| e),
                };
                groups.push((e.unwrap_or([0.0; EMBED_DIM]), Vec::new()));
                group_of.iter_mut().for_each(|g| *g = Some(0));
            }
            for (g, (sum, _)) in groups.iter().enumerate() {
                let v = locals.len() as u8;
                let mut clean = 0;
                for (r, &(a, b)) in runs.iter().enumerate() {
                    if group_of[r] == Some(g) {
                        for (i, bits) in active.iter_mut().enumerate().take(b).skip(a) {
                            if speaks(i) {
                                *bits |= 1 << v;
                                clean += alone(i) as usize;
                            }
                        }
                    }
                }
                let mut e = *sum;
                normalise(&mut e);
                let embedding = e.iter().any(|&x| x != 0.0).then_some(e);
                locals.push(Local {
                    slot: v,
                    origin: s as u8,
                    clean,
                    embedding,
                });
            }
        }
        out.push(Chunk {
            first,
            active,
            locals,
        });
    }
    Ok(out)
}

/// The pieces `[start, end)` (window frames) of the run `[a, b)` of the window starting at
/// global frame `first`: cut where the global grid of `tile` frames crosses the run, a
/// piece too short for an embedding joined to its neighbour.
fn pieces(a: usize, b: usize, first: usize, tile: usize) -> Vec<(usize, usize)> {
    let tile = tile.max(1);
    let min = MIN_RUN_FRAMES * 160 / seg::FRAME_STEP;
    let mut cuts = vec![a];
    let mut g = (first + a) / tile * tile + tile;
    while g < first + b {
        cuts.push(g - first);
        g += tile;
    }
    cuts.push(b);
    let mut out: Vec<(usize, usize)> = Vec::new();
    for w in cuts.windows(2) {
        let (pa, pb) = (w[0], w[1]);
        match out.last_mut() {
            Some(last) if last.1 - last.0 < min || pb - pa < min => last.1 = pb,
            _ => out.push((pa, pb)),
        }
    }
    out
}

/// Fbank frames (10 ms) in `n` segmentation frames (16.9 ms).
fn fbank_frames(n: usize) -> usize {
    n * seg::FRAME_STEP / 160
}

/// Embeddings of run pieces already seen in an earlier window. Windows overlap (10 s every
/// 2.5 s), so a piece inside several windows would be embedded up to four times; the same
/// frames (to within [`RUN_MATCH`], the segmentation's jitter between windows) give the
/// same voice, so the first embedding serves.
#[derive(Default)]
pub(super) struct RunCache {
    /// `(first, end)` global frames, whether from clean frames, embedding.
    entries: std::collections::VecDeque<(usize, usize, bool, Embedding)>,
}

/// Frames (~0.1 s) the ends of a piece may move between windows and still be the same piece:
/// 6 rather than 3 embeds 8% less audio on `dominated` with every DER of the dev set unchanged.
const RUN_MATCH: usize = 6;

impl RunCache {
    fn get(&self, a: usize, b: usize, clean: bool) -> Option<Embedding> {
        self.entries
            .iter()
            .find(|e| e.2 == clean && e.0.abs_diff(a) <= RUN_MATCH && e.1.abs_diff(b) <= RUN_MATCH)
            .map(|e| e.3)
    }

    fn put(&mut self, a: usize, b: usize, clean: bool, e: Embedding) {
        self.entries.push_back((a, b, clean, e));
    }

    /// Drops runs that start before global frame `g` (no later window reaches them whole).
    fn forget_before(&mut self, g: usize) {
        while self.entries.front().is_some_and(|e| e.0 < g) {
            self.entries.pop_front();
        }
    }
}

/// Runs `[start, end)` of frames where `bit` is set, joined across gaps shorter than
/// [`RUN_GAP`].
fn runs_of(slots: &[u8], bit: u8) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, &b) in slots.iter().enumerate() {
        if b & bit == 0 {
            continue;
        }
        match runs.last_mut() {
            Some(last) if i - last.1 < RUN_GAP => last.1 = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_the_global_grid_and_join_short_ends() {
        // 148-frame tiles (2.5 s), the window starting at global frame 296 (tile 2).
        let p = pieces(0, 589, 296, 148);
        assert_eq!(p, vec![(0, 148), (148, 296), (296, 444), (444, 589)]);
        // The next window sees the same global pieces (and one new one).
        let q = pieces(0, 589, 444, 148);
        assert_eq!(q, vec![(0, 148), (148, 296), (296, 444), (444, 589)]);
        for (a, b) in &q[..3] {
            let seen = p.iter().any(|&(pa, pb)| {
                pa.abs_diff(a + 148) <= RUN_MATCH && pb.abs_diff(b + 148) <= RUN_MATCH
            });
            assert!(seen, "{a}..{b} was a piece of the window before");
        }
        // A run starting 20 frames before a tile edge: its head is too short and joins.
        assert_eq!(pieces(128, 400, 0, 148), vec![(128, 296), (296, 400)]);
        // A run ending 10 frames after an edge: its tail joins the piece before.
        assert_eq!(pieces(0, 306, 0, 148), vec![(0, 148), (148, 306)]);
        // A run shorter than a piece stays whole.
        assert_eq!(pieces(10, 40, 0, 148), vec![(10, 40)]);
    }
}
