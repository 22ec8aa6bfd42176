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
/// Fbank frames a run needs for an embedding of its own (0.6 s): 1-s answers then get their
/// own vector instead of joining the neighbouring run's voice (measured against 1 s: DER
/// many 1.4 → 1.1 %, multi 5.7 → 4.1 %, meeting 1.7 → 1.0 %, the rest within 0.1).
const MIN_RUN_FRAMES: usize = 60;
/// Local speakers a window can hold: one bit each in [`Chunk::active`].
const MAX_LOCALS: usize = 16;
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
    /// For one side of a run cut at a pause (two short turns the segmentation joined): the
    /// local speaker whose run it was. Its `clean` frames still count for that one.
    pub parent: Option<u8>,
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
        let mut energy: Option<Vec<f32>> = None;
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
            // A piece's vector: from its clean frames when there are enough, else from all
            // of it; `None` when too short. Pieces met in an earlier window come from the cache.
            let mut vec_of = |pa: usize, pb: usize| {
                let in_piece = |i: usize| i >= pa && i < pb;
                let clean_frames = (pa..pb).filter(|&i| alone(i)).count();
                let use_clean = fbank_frames(clean_frames) >= MIN_RUN_FRAMES;
                if !use_clean && fbank_frames(pb - pa) < MIN_RUN_FRAMES {
                    return Ok(None);
                }
                if let Some(e) = cache.get(first + pa, first + pb, use_clean) {
                    return Ok(Some(e));
                }
                let e = if use_clean {
                    embed(fb, &|i| in_piece(i) && alone(i))?
                } else {
                    embed(fb, &|i| in_piece(i) && speaks(i))?
                };
                let e = e.map(|(e, _)| e);
                if let Some(e) = e {
                    cache.put(first + pa, first + pb, use_clean, e);
                }
                Ok::<_, DiarizeError>(e)
            };
            // Runs of this slot's activity, each embedded when long enough: piece by piece,
            // pieces cut on the global tile grid, its vector their frame-weighted mean.
            // Windows overlap four times, and a piece seen whole in an earlier window is not
            // embedded again (a long run crosses window edges, so as a whole it would differ
            // in every window).
            let runs = runs_of(&slots, bit);
            let mut run_vecs: Vec<Option<Embedding>> = Vec::with_capacity(runs.len());
            // Runs of one piece with a pause inside whose two sides sound like two voices:
            // where to cut, and each side's vector.
            let mut halves: Vec<Option<(usize, Embedding, Embedding)>> = vec![None; runs.len()];
            for (r, &(a, b)) in runs.iter().enumerate() {
                let ps = pieces(a, b, first, tile);
                let mut sum = [0.0f32; EMBED_DIM];
                let mut any = false;
                for &(pa, pb) in &ps {
                    if let Some(e) = vec_of(pa, pb)? {
                        let w = (pb - pa) as f32;
                        sum.iter_mut().zip(&e).for_each(|(x, y)| *x += w * y);
                        any = true;
                    }
                }
                run_vecs.push(any.then(|| {
                    normalise(&mut sum);
                    sum
                }));
                if ps.len() == 1 {
                    let energy = energy.get_or_insert_with(|| frame_energy(samples));
                    if let Some(c) = quietest(energy, a, b) {
                        if let (Some(x), Some(y)) = (vec_of(a, c)?, vec_of(c, b)?) {
                            if dot(&x, &y) < SAME_RUN {
                                halves[r] = Some((c, x, y));
                            }
                        }
                    }
                }
            }
            let mut groups: Vec<([f32; EMBED_DIM], Vec<usize>)> = Vec::new();
            let mut group_of: Vec<Option<usize>> = vec![None; runs.len()];
            let mut order: Vec<usize> = (0..runs.len()).collect();
            order.sort_by_key(|&r| std::cmp::Reverse(runs[r].1 - runs[r].0));
            for r in order {
                let Some(e) = run_vecs[r] else { continue };
                let best = groups
                    .iter()
                    .enumerate()
                    .map(|(g, (sum, _))| {
                        let mut c = *sum;
                        normalise(&mut c);
                        (g, dot(&c, &e))
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
            let base = locals.len();
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
                    parent: None,
                });
            }
            // Each side of a run that sounds like two voices becomes a part of the run's
            // local speaker: the clustering learns from the whole, and a part goes to
            // another speaker only when its own vector clearly says so.
            for (r, h) in halves.iter().enumerate() {
                let (Some((c, x, y)), Some(g)) = (h, group_of[r]) else {
                    continue;
                };
                let parent = base + g;
                for (ha, hb, e) in [(runs[r].0, *c, x), (*c, runs[r].1, y)] {
                    if locals.len() >= MAX_LOCALS {
                        break;
                    }
                    let v = locals.len();
                    let mut clean = 0;
                    for (i, bits) in active.iter_mut().enumerate().take(hb).skip(ha) {
                        if *bits & (1 << parent) != 0 {
                            *bits = (*bits & !(1 << parent)) | (1 << v);
                            clean += alone(i) as usize;
                        }
                    }
                    locals.push(Local {
                        slot: v as u8,
                        origin: s as u8,
                        clean,
                        embedding: Some(*e),
                        parent: Some(parent as u8),
                    });
                }
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

/// Energy, as a share of the run's mean, at or below which a frame is a pause.
const PAUSE_LEVEL: f32 = 0.1;

/// Where to cut the run `[a, b)` (window frames) that is one piece but long enough for two:
/// at its quietest frame (energy over ~50 ms), when that is a real pause (a tenth of the
/// run's mean energy or less, for at least [`RUN_GAP`] frames) with at least
/// [`MIN_RUN_FRAMES`] of speech on either side.
/// Two short turns 0.15 s apart (「異議ありません」「わかりました」) are one run to the
/// segmentation; the halves' vectors tell whether they are one voice.
fn quietest(energy: &[f32], a: usize, b: usize) -> Option<usize> {
    let min = MIN_RUN_FRAMES * 160 / seg::FRAME_STEP;
    let b = b.min(energy.len());
    if b < a + 2 * min {
        return None;
    }
    let smooth = |i: usize| energy[i - 1] + energy[i] + energy[i + 1];
    let (c, low) = (a + min..b - min)
        .map(|i| (i, smooth(i)))
        .min_by(|x, y| x.1.total_cmp(&y.1))?;
    let mean = energy[a..b].iter().sum::<f32>() / (b - a) as f32;
    if low > PAUSE_LEVEL * 3.0 * mean {
        return None;
    }
    // As long as the pauses that cut runs: shorter dips are a stop's closure or a breath
    // inside one voice's sentence (on the single-speaker lecture most candidates were those,
    // each costing two embeddings).
    let quiet = |i: usize| energy[i] <= PAUSE_LEVEL * mean;
    let before = (a..=c).rev().take_while(|&i| quiet(i)).count();
    let after = (c + 1..b).take_while(|&i| quiet(i)).count();
    (before + after >= RUN_GAP).then_some(c)
}

/// Mean square of the audio under each segmentation frame of a window (0 past its end).
fn frame_energy(samples: &[f32]) -> Vec<f32> {
    let mut prefix = Vec::with_capacity(samples.len() + 1);
    let mut acc = 0.0f64;
    prefix.push(0.0);
    for &x in samples {
        acc += (x as f64) * (x as f64);
        prefix.push(acc);
    }
    (0..FRAMES_PER_WINDOW)
        .map(|i| {
            let from = (i * seg::FRAME_STEP).min(samples.len());
            let to = (i * seg::FRAME_STEP + seg::FRAME_DURATION).min(samples.len());
            if to > from {
                ((prefix[to] - prefix[from]) / (to - from) as f64) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Fbank frames (10 ms) in `n` segmentation frames (16.9 ms).
fn fbank_frames(n: usize) -> usize {
    n * seg::FRAME_STEP / 160
}

/// Embeddings of run pieces already seen in an earlier window. Windows overlap (10 s every
/// 2.5 s), so a piece inside several windows would be embedded up to four times; mostly the
/// same frames (a piece overlapping an earlier one by [`SAME_PIECE`] of their union: the
/// segmentation's jitter between windows, a run end it places differently) give the same
/// voice, so the earlier embedding serves.
#[derive(Default)]
pub(super) struct RunCache {
    /// `(first, end)` global frames, whether from clean frames, embedding.
    entries: std::collections::VecDeque<(usize, usize, bool, Embedding)>,
}

/// Intersection over union from which two pieces count as the same. Matching ends to within
/// 6 frames (~0.1 s) alone missed a third of the pieces met again (a run end placed
/// differently by another window); 0.7 embeds 20 % less audio on `dominated` and `many`
/// with every DER of the dev set within 0.2 points (interject 1.1 → 0.4 %).
const SAME_PIECE: f32 = 0.7;

impl RunCache {
    /// The embedding of the cached piece (of the same kind) that overlaps `[a, b)` most,
    /// if it is the same piece by [`SAME_PIECE`].
    fn get(&self, a: usize, b: usize, clean: bool) -> Option<Embedding> {
        self.entries
            .iter()
            .filter(|e| e.2 == clean)
            .map(|e| (iou((e.0, e.1), (a, b)), e))
            .filter(|(o, _)| *o >= SAME_PIECE)
            .max_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, e)| e.3)
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

/// Intersection over union of two frame ranges `[start, end)`.
fn iou(x: (usize, usize), y: (usize, usize)) -> f32 {
    let inter = x.1.min(y.1).saturating_sub(x.0.max(y.0));
    let union = x.1.max(y.1) - x.0.min(y.0);
    if union == 0 {
        return 0.0;
    }
    inter as f32 / union as f32
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

/// Cosine similarity of two L2-normalised vectors.
pub(super) fn dot(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
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
            let seen = p
                .iter()
                .any(|&(pa, pb)| iou((pa, pb), (a + 148, b + 148)) >= SAME_PIECE);
            assert!(seen, "{a}..{b} was a piece of the window before");
        }
        // A run starting 20 frames before a tile edge: its head is too short and joins.
        assert_eq!(pieces(128, 400, 0, 148), vec![(128, 296), (296, 400)]);
        // A run ending 10 frames after an edge: its tail joins the piece before.
        assert_eq!(pieces(0, 306, 0, 148), vec![(0, 148), (148, 306)]);
        // A run shorter than a piece stays whole.
        assert_eq!(pieces(10, 40, 0, 148), vec![(10, 40)]);
    }

    #[test]
    fn cache_serves_the_same_piece_with_ends_moved_not_another() {
        let mut cache = RunCache::default();
        let (mut e1, mut e2) = ([0.0; EMBED_DIM], [0.0; EMBED_DIM]);
        e1[0] = 1.0;
        e2[1] = 1.0;
        cache.put(296, 444, true, e1);
        cache.put(444, 592, true, e2);
        // The run ended 20 frames earlier in this window: the same piece.
        assert_eq!(cache.get(296, 424, true), Some(e1));
        // Exactly the later piece, and the one overlapping it most when two overlap.
        assert_eq!(cache.get(444, 592, true), Some(e2));
        assert_eq!(cache.get(430, 580, true), Some(e2));
        // Half of it is not the same piece; all frames instead of the clean ones is not either.
        assert_eq!(cache.get(370, 444, true), None);
        assert_eq!(cache.get(296, 444, false), None);
        // Pieces that start before the window are dropped.
        cache.forget_before(400);
        assert_eq!(cache.get(296, 444, true), None);
        assert_eq!(cache.get(444, 592, true), Some(e2));
    }

    #[test]
    fn a_run_is_cut_at_a_real_pause_with_speech_enough_on_both_sides() {
        let min = MIN_RUN_FRAMES * 160 / seg::FRAME_STEP;
        // 1 s of speech, a 0.15-s pause (9 frames), 1 s of speech.
        let mut energy = vec![1.0f32; 59];
        energy.extend([0.001; 9]);
        energy.extend([1.0; 59]);
        energy.resize(FRAMES_PER_WINDOW, 0.0);
        let c = quietest(&energy, 0, 127).expect("a cut");
        assert!((60..67).contains(&c), "cut at {c}, inside the pause");
        // The same pause too near the run's start: no cut (a side would be too short).
        assert_eq!(quietest(&energy, 40, 127), None);
        // A dip of 4 frames (~70 ms, a stop's closure) is no pause either.
        let mut dip = vec![1.0f32; 59];
        dip.extend([0.001; 4]);
        dip.extend([1.0; 64]);
        dip.resize(FRAMES_PER_WINDOW, 0.0);
        assert_eq!(quietest(&dip, 0, 127), None);
        // Speech that only wavers (-6 dB) is no pause.
        let mut flat = vec![1.0f32; 127];
        flat[60..66].iter_mut().for_each(|x| *x = 0.25);
        flat.resize(FRAMES_PER_WINDOW, 0.0);
        assert_eq!(quietest(&flat, 0, 127), None);
        assert!(2 * min < 127);
        // The energy of a window: loud then silent audio.
        let mut samples = vec![0.5f32; 80_000];
        samples.resize(160_000, 0.0);
        let e = frame_energy(&samples);
        assert_eq!(e.len(), FRAMES_PER_WINDOW);
        assert!((e[10] - 0.25).abs() < 1e-6 && e[400] == 0.0);
    }
}
