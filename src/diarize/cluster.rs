//! From local speakers to the recording's speakers (pyannote 3.1's clustering step):
//! centroid-linkage agglomerative clustering of the embeddings of local speakers that speak
//! alone long enough, a cannot-link between local speakers of one window, small clusters
//! merged with each other a little past the threshold, clusters still small (or never
//! heard alone for long) folded into the speakers, then every local speaker assigned to a
//! speaker — those of one window to different speakers when there are enough.

use std::collections::HashSet;

use super::campp::EMBED_DIM;
use super::local::{normalise, Chunk, Embedding};
use super::seg::{FRAMES_PER_WINDOW, FRAME_STEP};
use super::DiarizeConfig;

/// Share of a window a local speaker must speak alone for its embedding to help find the
/// speakers (pyannote's `min_active_ratio`); others are only assigned.
const MIN_CLEAN_RATIO: f32 = 0.2;
/// Two clusters whose members share windows (as different local speakers of one window)
/// this often, relative to the smaller cluster, are different people and never merge.
/// Not zero: segmentation now and then splits one voice over two local speakers.
const CANNOT_LINK_SHARE: f32 = 0.3;

/// Where an embedding comes from: the window and the segmentation slot in it.
type Origin = (u32, u8);

/// The speaker of each local speaker: `of[chunk][local]` indexes `0..k`; `None` when it
/// had no embedding.
pub(super) struct Assignment {
    pub k: usize,
    pub of: Vec<Vec<Option<usize>>>,
}

/// Finds the speakers of `chunks` and assigns each local speaker to one.
pub(super) fn speakers(chunks: &[Chunk], cfg: &DiarizeConfig, step_frames: usize) -> Assignment {
    let min_clean = (MIN_CLEAN_RATIO * FRAMES_PER_WINDOW as f32) as usize;
    let mut train: Vec<Item> = Vec::new();
    for (c, chunk) in chunks.iter().enumerate() {
        for l in &chunk.locals {
            if let (Some(e), true) = (&l.embedding, l.clean >= min_clean && l.parent.is_none()) {
                train.push(Item {
                    origin: (c as u32, l.origin),
                    embedding: *e,
                    clean: l.clean,
                });
            }
        }
    }
    let step_ms = (step_frames * FRAME_STEP) as f64 / 16.0;
    let min_size = ((cfg.min_speaker.0 as f64 / step_ms).round() as usize).max(1);
    let centroids = find_speakers(&train, cfg, min_size);
    let of = chunks
        .iter()
        .map(|chunk| assign(chunk, &centroids))
        .collect();
    Assignment {
        k: centroids.len().max(1),
        of,
    }
}

/// A local speaker that trains the clustering.
struct Item {
    origin: Origin,
    embedding: Embedding,
    /// Frames it speaks alone in its window.
    clean: usize,
}

/// A speaker must somewhere speak alone for this many frames of one window (6 s).
/// Several people's short replies in a row (「異議なし」「はい」 around the table) give local
/// speakers whose vectors mix those voices; alike from one vote to the next, they form a
/// cluster of their own (the 41-minute development meeting: 10 windows, the longest 3.0 s
/// alone; at a lower threshold another passed 3.5 s), while every real voice of the
/// development set has a window of 8 s or more (docs/diarization.md).
const MIN_LONGEST: usize = 355;

/// Centroids (unit vectors) of the speakers found among `train`; one when it is too
/// little to tell voices apart.
fn find_speakers(train: &[Item], cfg: &DiarizeConfig, min_size: usize) -> Vec<Embedding> {
    let mean_of = |items: &mut dyn Iterator<Item = &Item>| {
        let mut m = [0.0f32; EMBED_DIM];
        for it in items {
            m.iter_mut().zip(&it.embedding).for_each(|(a, b)| *a += b);
        }
        normalise(&mut m);
        m
    };
    if train.len() < 2 {
        return if cfg.speakers.unwrap_or(1) == 1 || train.is_empty() {
            vec![mean_of(&mut train.iter())]
        } else {
            train.iter().map(|t| t.embedding).collect()
        };
    }
    let target = cfg.speakers.or(cfg.max_speakers);
    let merges = agglomerate(train, cfg.threshold + SMALL_REACH, target.is_none());
    let n = train.len();
    // The labels after the first `m` merges.
    let state = |m: usize| with_small_merged(n, &merges[..m], &[], cfg.threshold, min_size);
    // The clusters of a labelling that count as speakers, largest first: enough windows,
    // and one of them with a long stretch of this voice alone — unless the count is given
    // (the user knows who is there), or no cluster at all has one (a recording of short
    // exchanges only: then size decides, as it did before).
    let speakers_of = |labels: &[usize]| {
        let mut size = vec![0usize; n];
        let mut longest = vec![0usize; n];
        for (x, &l) in labels.iter().enumerate() {
            size[l] += 1;
            longest[l] = longest[l].max(train[x].clean);
        }
        let large = |r: &usize| size[*r] >= min_size;
        let mut roots: Vec<usize> = (0..n)
            .filter(|r| large(r) && (cfg.speakers.is_some() || longest[*r] >= MIN_LONGEST))
            .collect();
        if roots.is_empty() {
            roots = (0..n).filter(large).collect();
        }
        roots.sort_by_key(|&r| std::cmp::Reverse(size[r]));
        (roots, size)
    };
    let by_threshold = merges
        .iter()
        .position(|m| m.2 > cfg.threshold)
        .unwrap_or(merges.len());
    let natural = with_small_merged(
        n,
        &merges[..by_threshold],
        &merges[by_threshold..],
        cfg.threshold,
        min_size,
    );
    let wanted = match (cfg.speakers, cfg.max_speakers) {
        (Some(k), _) => Some(k),
        (None, Some(max)) if speakers_of(&natural).0.len() > max => Some(max),
        _ => None,
    };
    let labels = match wanted {
        // The most-merged state that still has at least k speakers.
        Some(k) => (0..=merges.len())
            .rev()
            .map(&state)
            .find(|labels| speakers_of(labels).0.len() >= k)
            .unwrap_or_else(|| state(0)),
        None => natural,
    };
    let (mut roots, size) = speakers_of(&labels);
    if let Some(k) = wanted {
        if roots.is_empty() {
            // Too little speech for clusters of the usual size: take the largest ones.
            roots = (0..n).filter(|&r| size[r] > 0).collect();
            roots.sort_by_key(|&r| std::cmp::Reverse(size[r]));
        }
        roots.truncate(k);
    }
    if roots.is_empty() {
        return vec![mean_of(&mut train.iter())];
    }
    roots
        .iter()
        .map(|&r| {
            mean_of(
                &mut train
                    .iter()
                    .zip(&labels)
                    .filter(|(_, &l)| l == r)
                    .map(|(t, _)| t),
            )
        })
        .collect()
}

fn root(p: &mut [usize], mut x: usize) -> usize {
    while p[x] != x {
        p[x] = p[p[x]];
        x = p[x];
    }
    x
}

/// How much further than the threshold clusters too small to be a speaker go on merging
/// with each other (never with a large one): a voice cut into fragments, each under the
/// minimum size, is a speaker, not noise to fold into its neighbours.
const SMALL_REACH: f32 = 0.05;

/// Cluster labels (a root per item) after the merges `under` the threshold, then those of
/// `past` within [`SMALL_REACH`] of it that join two clusters both under `min_size`.
fn with_small_merged(
    n: usize,
    under: &[(usize, usize, f32)],
    past: &[(usize, usize, f32)],
    threshold: f32,
    min_size: usize,
) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    let mut size = vec![1usize; n];
    let mut join = |parent: &mut Vec<usize>, a: usize, b: usize, only_small: bool| {
        let (ra, rb) = (root(parent, a), root(parent, b));
        if ra != rb && (!only_small || (size[ra] < min_size && size[rb] < min_size)) {
            parent[rb] = ra;
            size[ra] += size[rb];
        }
    };
    for &(a, b, _) in under {
        join(&mut parent, a, b, false);
    }
    for &(a, b, _) in past.iter().take_while(|m| m.2 <= threshold + SMALL_REACH) {
        join(&mut parent, a, b, true);
    }
    (0..n).map(|x| root(&mut parent, x)).collect()
}

/// Centroid-linkage agglomeration of unit vectors (distances between the means of the
/// clusters' members, as scipy's `centroid` method), with the cannot-link. Returns the
/// merges `(kept, absorbed, distance)` in order; stops at `threshold` when `early`.
///
/// Memory stays linear: each cluster keeps its nearest neighbour, refreshed after every
/// merge, instead of a distance matrix (n² for thousands of windows would not do).
fn agglomerate(items: &[Item], threshold: f32, early: bool) -> Vec<(usize, usize, f32)> {
    let n = items.len();
    let d = EMBED_DIM;
    let mut sum: Vec<f32> = items.iter().flat_map(|t| t.embedding).collect();
    let mut cent = sum.clone();
    let mut count = vec![1usize; n];
    let mut windows: Vec<Vec<Origin>> = items.iter().map(|t| vec![t.origin]).collect();
    let mut alive = vec![true; n];
    let mut forbidden: HashSet<(usize, usize)> = HashSet::new();
    let key = |a: usize, b: usize| (a.min(b), a.max(b));
    let dist = |cent: &[f32], a: usize, b: usize| {
        let (x, y) = (&cent[a * d..][..d], &cent[b * d..][..d]);
        x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f32>()
    };
    let nearest = |cent: &[f32], alive: &[bool], forbidden: &HashSet<(usize, usize)>, x: usize| {
        let mut best = (usize::MAX, f32::INFINITY);
        for (y, _) in alive.iter().enumerate().filter(|(_, &a)| a) {
            if y != x && !forbidden.contains(&key(x, y)) {
                let dd = dist(cent, x, y);
                if dd < best.1 {
                    best = (y, dd);
                }
            }
        }
        best
    };
    let mut nn: Vec<(usize, f32)> = (0..n)
        .map(|x| nearest(&cent, &alive, &forbidden, x))
        .collect();
    let mut merges = Vec::with_capacity(n);
    while let Some(x) = (0..n)
        .filter(|&x| alive[x] && nn[x].0 != usize::MAX)
        .min_by(|&a, &b| nn[a].1.total_cmp(&nn[b].1))
    {
        let (y, d2) = nn[x];
        let distance = d2.sqrt();
        if early && distance > threshold {
            break;
        }
        if shared(&windows[x], &windows[y]) as f32
            > CANNOT_LINK_SHARE * windows[x].len().min(windows[y].len()) as f32
        {
            forbidden.insert(key(x, y));
            nn[x] = nearest(&cent, &alive, &forbidden, x);
            nn[y] = nearest(&cent, &alive, &forbidden, y);
            continue;
        }
        merges.push((x, y, distance));
        alive[y] = false;
        count[x] += count[y];
        for i in 0..d {
            sum[x * d + i] += sum[y * d + i];
            cent[x * d + i] = sum[x * d + i] / count[x] as f32;
        }
        let absorbed = std::mem::take(&mut windows[y]);
        windows[x] = merge_sorted(&windows[x], &absorbed);
        forbidden.retain(|&(a, b)| a != x && b != x && a != y && b != y);
        let mut rescan = Vec::new();
        for z in 0..n {
            if z == x || !alive[z] {
                continue;
            }
            if nn[z].0 == x || nn[z].0 == y {
                rescan.push(z);
            } else {
                let dz = dist(&cent, z, x);
                if dz < nn[z].1 {
                    nn[z] = (x, dz);
                }
            }
        }
        nn[x] = nearest(&cent, &alive, &forbidden, x);
        for z in rescan {
            nn[z] = nearest(&cent, &alive, &forbidden, z);
        }
    }
    merges
}

/// Number of windows in which two sorted lists hold different segmentation slots.
fn shared(a: &[Origin], b: &[Origin]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let w = a[i].0;
                let (i0, j0) = (i, j);
                while i < a.len() && a[i].0 == w {
                    i += 1;
                }
                while j < b.len() && b[j].0 == w {
                    j += 1;
                }
                if a[i0..i].iter().any(|x| b[j0..j].iter().any(|y| x.1 != y.1)) {
                    n += 1;
                }
            }
        }
    }
    n
}

fn merge_sorted(a: &[Origin], b: &[Origin]) -> Vec<Origin> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out.sort_unstable();
    out
}

/// Assigns the local speakers of one window: the most similar speakers overall, each
/// local speaker to a different one when there are enough speakers (the cannot-link).
fn assign(chunk: &Chunk, centroids: &[Embedding]) -> Vec<Option<usize>> {
    let k = centroids.len();
    let sims: Vec<Option<Vec<f32>>> = chunk
        .locals
        .iter()
        .map(|l| {
            l.embedding
                .as_ref()
                .map(|e| centroids.iter().map(|c| super::local::dot(c, e)).collect())
        })
        .collect();
    let with: Vec<usize> = (0..sims.len())
        .filter(|&i| sims[i].is_some() && chunk.locals[i].parent.is_none())
        .collect();
    let origins: Vec<u8> = with.iter().map(|&i| chunk.locals[i].origin).collect();
    let mut distinct = origins.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut out: Vec<Option<usize>> = vec![None; sims.len()];
    // Locals split from one slot may share a speaker, so only slots need distinct ones; with
    // more locals than the search handles (never, in practice), each takes its best.
    if distinct.len() > k || k == 1 || with.len() > 6 {
        for &i in &with {
            let s = sims[i].as_ref().expect("filtered");
            out[i] = (0..k).max_by(|&a, &b| s[a].total_cmp(&s[b]));
        }
        assign_parts(chunk, &sims, &mut out);
        return out;
    }
    // A few local speakers: try every choice where different slots get different speakers.
    struct Search<'a> {
        with: &'a [usize],
        origins: &'a [u8],
        sims: &'a [Option<Vec<f32>>],
        choice: Vec<usize>,
        best: (f32, Vec<usize>),
    }
    fn search(st: &mut Search, pos: usize, score: f32) {
        if pos == st.with.len() {
            if score > st.best.0 {
                st.best = (score, st.choice.clone());
            }
            return;
        }
        let s = st.sims[st.with[pos]].as_ref().expect("filtered").clone();
        for (c, &sc) in s.iter().enumerate() {
            let clash = (0..pos).any(|q| st.choice[q] == c && st.origins[q] != st.origins[pos]);
            if clash {
                continue;
            }
            st.choice[pos] = c;
            search(st, pos + 1, score + sc);
        }
    }
    let mut st = Search {
        with: &with,
        origins: &origins,
        sims: &sims,
        choice: vec![0; with.len()],
        best: (f32::NEG_INFINITY, Vec::new()),
    };
    search(&mut st, 0, 0.0);
    let best = st.best;
    for (p, &i) in with.iter().enumerate() {
        out[i] = best.1.get(p).copied();
    }
    assign_parts(chunk, &sims, &mut out);
    out
}

/// How much nearer another speaker must be to a part of a run (a side of it, ~1 s) than
/// the run's own speaker for the part to go to it: a second's vector is noisy, and most
/// pauses inside a run are one speaker's.
const PART_MARGIN: f32 = 0.1;

/// Parts of runs ([`super::local::Local::parent`]) stay with their run's speaker unless
/// another is nearer by [`PART_MARGIN`].
fn assign_parts(chunk: &Chunk, sims: &[Option<Vec<f32>>], out: &mut [Option<usize>]) {
    for (i, l) in chunk.locals.iter().enumerate() {
        let (Some(parent), Some(s)) = (l.parent, &sims[i]) else {
            continue;
        };
        let best = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b]));
        out[i] = match (out[parent as usize], best) {
            (Some(own), Some(b)) if s[b] - s[own] <= PART_MARGIN => Some(own),
            (own, b) => b.or(own),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diarize::local::Local;

    /// A unit vector near axis `axis`, jittered by `j`.
    fn voice(axis: usize, j: usize) -> Embedding {
        let mut e = [0.0f32; EMBED_DIM];
        e[axis] = 1.0;
        e[(axis + 1 + j % 7) % EMBED_DIM] = 0.2;
        normalise(&mut e);
        e
    }

    /// Windows with one or two local speakers (different slots) of the given voices.
    fn chunks(voices: &[&[usize]]) -> Vec<Chunk> {
        voices
            .iter()
            .enumerate()
            .map(|(c, vs)| Chunk {
                first: c * 148,
                active: vec![(1u16 << vs.len()) - 1; FRAMES_PER_WINDOW],
                locals: vs
                    .iter()
                    .enumerate()
                    .map(|(s, &v)| Local {
                        slot: s as u8,
                        origin: s as u8,
                        clean: FRAMES_PER_WINDOW,
                        embedding: Some(voice(v, c)),
                        parent: None,
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn finds_the_voices_and_keeps_a_window_s_speakers_apart() {
        let mut w: Vec<&[usize]> = vec![&[0]; 10];
        w.extend(vec![&[0, 5][..]; 4]);
        w.extend(vec![&[5][..]; 10]);
        let cs = chunks(&w);
        let a = speakers(&cs, &DiarizeConfig::default(), 148);
        assert_eq!(a.k, 2);
        let first = a.of[0][0];
        for (c, of) in a.of.iter().enumerate() {
            if of.len() == 2 {
                assert_ne!(of[0], of[1], "window {c}: two slots, one speaker");
            }
        }
        assert!(a.of[23][0].is_some() && a.of[23][0] != first);
    }

    #[test]
    fn one_voice_is_one_speaker_and_the_count_can_be_forced() {
        let w: Vec<&[usize]> = vec![&[3]; 20];
        let cs = chunks(&w);
        assert_eq!(speakers(&cs, &DiarizeConfig::default(), 148).k, 1);
        let mut v: Vec<&[usize]> = vec![&[0]; 10];
        v.extend(vec![&[5][..]; 10]);
        v.extend(vec![&[9][..]; 10]);
        let cs = chunks(&v);
        assert_eq!(speakers(&cs, &DiarizeConfig::default(), 148).k, 3);
        let two = DiarizeConfig {
            speakers: Some(2),
            ..DiarizeConfig::default()
        };
        assert_eq!(speakers(&cs, &two, 148).k, 2);
        let max = DiarizeConfig {
            max_speakers: Some(2),
            ..DiarizeConfig::default()
        };
        assert_eq!(speakers(&cs, &max, 148).k, 2);
    }

    #[test]
    fn a_voice_never_heard_alone_for_long_is_no_speaker() {
        let mut w: Vec<&[usize]> = vec![&[0]; 10];
        w.extend(vec![&[5][..]; 10]);
        w.extend(vec![&[9][..]; 8]);
        let mut cs = chunks(&w);
        assert_eq!(speakers(&cs, &DiarizeConfig::default(), 148).k, 3);
        // The third voice only ever in 2.5-s snatches: folded into the others.
        for c in &mut cs[20..] {
            c.locals[0].clean = 150;
        }
        let a = speakers(&cs, &DiarizeConfig::default(), 148);
        assert_eq!(a.k, 2);
        assert!(a.of[20][0].is_some());
        // Unless the count is given.
        let three = DiarizeConfig {
            speakers: Some(3),
            ..DiarizeConfig::default()
        };
        assert_eq!(speakers(&cs, &three, 148).k, 3);
        // Nobody ever speaks 6 s alone (short exchanges only): size decides.
        for c in &mut cs {
            c.locals[0].clean = 150;
        }
        assert_eq!(speakers(&cs, &DiarizeConfig::default(), 148).k, 3);
    }

    #[test]
    fn small_clusters_past_the_threshold_join_each_other_not_large_ones() {
        let t = 0.5;
        // Under the threshold: a large cluster 0..=5, small ones {6, 7}, {8, 9, 10}, {11}.
        let under = [
            (0, 1, 0.1),
            (0, 2, 0.1),
            (0, 3, 0.2),
            (0, 4, 0.2),
            (0, 5, 0.3),
            (6, 7, 0.3),
            (8, 9, 0.3),
            (8, 10, 0.4),
        ];
        let past = [
            (6, 8, t + 0.02),  // small + small: one speaker of 5
            (0, 11, t + 0.03), // large + small: not here (assignment decides)
            (6, 0, t + 0.04),  // now large + large: never
            (11, 1, t + 0.2),  // out of reach
        ];
        let labels = with_small_merged(12, &under, &past, t, 5);
        let group = |i: usize| labels[i];
        assert!((1..=5).all(|i| group(i) == group(0)));
        assert!((7..=10).all(|i| group(i) == group(6)));
        assert_ne!(group(6), group(0));
        assert_ne!(group(11), group(0));
        assert_ne!(group(11), group(6));
        // Within the minimum size, a small cluster stays apart when nothing small is near.
        let labels = with_small_merged(12, &under, &past[1..], t, 5);
        assert_ne!(labels[6], labels[8]);
    }

    #[test]
    fn parts_of_a_run_leave_its_speaker_only_for_a_clearly_nearer_one() {
        let centroids = [voice(0, 0), voice(5, 0)];
        let part = |parent: u8, e: Embedding| Local {
            slot: 0,
            origin: 0,
            clean: 20,
            embedding: Some(e),
            parent: Some(parent),
        };
        // Local 0 (voice 0) held a run whose sides are locals 1 (voice 0) and 2 (voice 5);
        // local 3 is a part whose vector sits between the voices, a bit nearer voice 5.
        let mut between = [0.0f32; EMBED_DIM];
        between[0] = 0.95;
        between[5] = 1.0;
        normalise(&mut between);
        let mut locals = vec![Local {
            slot: 0,
            origin: 0,
            clean: 400,
            embedding: Some(voice(0, 1)),
            parent: None,
        }];
        locals.extend([part(0, voice(0, 2)), part(0, voice(5, 3)), part(0, between)]);
        for (i, l) in locals.iter_mut().enumerate() {
            l.slot = i as u8;
        }
        let chunk = Chunk {
            first: 0,
            active: vec![1; FRAMES_PER_WINDOW],
            locals,
        };
        let got = assign(&chunk, &centroids);
        assert_eq!(got, [Some(0), Some(0), Some(1), Some(0)]);
        // Parts never train the clustering: with only them, voice 5 is no speaker.
        let cfg = DiarizeConfig {
            min_speaker: crate::types::Ms(0),
            ..DiarizeConfig::default()
        };
        let a = speakers(&[chunk], &cfg, 148);
        assert_eq!(a.k, 1);
    }
}
