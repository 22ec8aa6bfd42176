//! Clustering speaker embeddings: [`centre`] removes what every voice of a recording shares
//! (room, microphone, noise) before cosine scoring, and [`cluster`] groups embeddings with
//! average-linkage agglomerative clustering ([`Dendrogram`], built with the
//! nearest-neighbour-chain algorithm in O(n²) time and one n×n matrix), cut at an exact count
//! or at a cosine distance. Inputs beyond [`MAX_AHC_ITEMS`] are clustered on an even subsample
//! and the rest assigned to the nearest centroid, so memory stays bounded however long the
//! recording.
//!
//! Why centre: raw GE2E embeddings of all voices in one room are close (cosine 0.6–0.9 between
//! different speakers), and how close depends on the room and the mix of voices. After
//! subtracting the recording's mean embedding, the same speaker's turns score about 0.8 and
//! different speakers around −0.2 (measured on the development meetings), so one distance
//! threshold fits recordings of different length, noise and speaker count.
//!
//! Why average linkage: it compares groups by the mean similarity of their members, so a
//! group's size does not change how easily it merges (Ward's cost grows with the speech on
//! both sides and splits long-talking speakers into several).

use super::encoder::{sgemm, Embedding};
use super::weights::EMBEDDING;

/// Largest input clustered directly: the distance matrix is `n²` floats (25 MB here).
pub const MAX_AHC_ITEMS: usize = 2500;

/// How to decide the number of clusters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Exactly this many (fewer only if there are fewer items).
    Count(usize),
    /// Stop merging when the average cosine distance between two groups exceeds `distance`;
    /// at most `max` clusters.
    Distance { distance: f32, max: Option<usize> },
}

/// One merge of the tree: the clusters containing items `a` and `b` join at `cost` (the
/// average cosine distance between their members).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Merge {
    a: usize,
    b: usize,
    cost: f32,
}

/// The full average-linkage tree of a set of items.
pub struct Dendrogram {
    n: usize,
    /// Sorted by cost (average linkage is monotone, so this is the merge order).
    merges: Vec<Merge>,
}

pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Within-recording normalisation: subtracts the `weights`-weighted mean of `items` from each
/// and L2-normalises the result.
pub fn centre(items: &[Embedding], weights: &[f32]) -> Vec<Embedding> {
    let mut mean = [0.0f32; EMBEDDING];
    let mut total = 0.0f32;
    for (e, &w) in items.iter().zip(weights) {
        for (m, x) in mean.iter_mut().zip(e) {
            *m += w * x;
        }
        total += w;
    }
    if total > 0.0 {
        mean.iter_mut().for_each(|m| *m /= total);
    }
    items
        .iter()
        .map(|e| {
            let mut v = [0.0f32; EMBEDDING];
            for ((d, x), m) in v.iter_mut().zip(e).zip(&mean) {
                *d = x - m;
            }
            normalise(&mut v);
            v
        })
        .collect()
}

impl Dendrogram {
    /// Builds the average-linkage tree of `items` (unit vectors) on cosine distance.
    pub fn build(items: &[Embedding]) -> Dendrogram {
        let n = items.len();
        if n == 0 {
            return Dendrogram {
                n,
                merges: Vec::new(),
            };
        }
        // d[i][j] = 1 − cos(i, j), from one Gram-matrix product.
        let flat: Vec<f32> = items.iter().flatten().copied().collect();
        let mut d = vec![0.0f32; n * n];
        sgemm(
            n, EMBEDDING, n, &flat, EMBEDDING, 1, &flat, 1, EMBEDDING, 0.0, &mut d, n,
        );
        d.iter_mut().for_each(|x| *x = 1.0 - *x);
        let mut size = vec![1.0f32; n];
        let mut active = vec![true; n];
        let mut merges = Vec::with_capacity(n - 1);
        let mut chain: Vec<usize> = Vec::new();
        let mut remaining = n;
        while remaining > 1 {
            if chain.is_empty() {
                if let Some(i) = active.iter().position(|&a| a) {
                    chain.push(i);
                }
            }
            let Some(&a) = chain.last() else { break };
            // Nearest active neighbour of a; ties prefer the previous chain element so the
            // chain cannot cycle.
            let prev = (chain.len() >= 2).then(|| chain[chain.len() - 2]);
            let (mut best, mut best_d) = match prev {
                Some(p) => (p, d[a * n + p]),
                None => (usize::MAX, f32::INFINITY),
            };
            for j in 0..n {
                if j != a && active[j] && d[a * n + j] < best_d {
                    best_d = d[a * n + j];
                    best = j;
                }
            }
            if Some(best) == prev {
                // Reciprocal nearest neighbours: merge b into a (a keeps the slot), with the
                // Lance–Williams update for average linkage.
                chain.pop();
                chain.pop();
                let b = best;
                let (sa, sb) = (size[a], size[b]);
                for k in 0..n {
                    if active[k] && k != a && k != b {
                        let v = (sa * d[a * n + k] + sb * d[b * n + k]) / (sa + sb);
                        d[a * n + k] = v;
                        d[k * n + a] = v;
                    }
                }
                size[a] = sa + sb;
                active[b] = false;
                merges.push(Merge { a, b, cost: best_d });
                remaining -= 1;
            } else {
                chain.push(best);
            }
        }
        merges.sort_by(|x, y| x.cost.total_cmp(&y.cost));
        Dendrogram { n, merges }
    }

    /// Labels `0..k` (in order of each cluster's first item) after cutting to `k` clusters.
    pub fn cut(&self, k: usize) -> Vec<usize> {
        let k = k.clamp(1.min(self.n), self.n);
        self.labels(self.n.saturating_sub(k))
    }

    /// Labels after every merge at an average distance of at most `distance`, then as many
    /// more as needed to leave at most `max` clusters.
    pub fn cut_at(&self, distance: f32, max: Option<usize>) -> Vec<usize> {
        let below = self
            .merges
            .iter()
            .take_while(|m| m.cost <= distance)
            .count();
        let needed = max.map_or(0, |m| self.n.saturating_sub(m.max(1)));
        self.labels(below.max(needed))
    }

    /// Labels after the first `count` merges.
    fn labels(&self, count: usize) -> Vec<usize> {
        let mut parent: Vec<usize> = (0..self.n).collect();
        for m in self.merges.iter().take(count) {
            let (ra, rb) = (find(&mut parent, m.a), find(&mut parent, m.b));
            parent[rb] = ra;
        }
        let mut label_of_root = vec![usize::MAX; self.n];
        let mut next = 0;
        (0..self.n)
            .map(|i| {
                let r = find(&mut parent, i);
                if label_of_root[r] == usize::MAX {
                    label_of_root[r] = next;
                    next += 1;
                }
                label_of_root[r]
            })
            .collect()
    }
}

fn find(p: &mut [usize], mut x: usize) -> usize {
    while p[x] != x {
        p[x] = p[p[x]];
        x = p[x];
    }
    x
}

/// Weighted, L2-normalised mean embedding of each label `0..k`.
pub fn centroids(
    items: &[Embedding],
    weights: &[f32],
    labels: &[usize],
    k: usize,
) -> Vec<Embedding> {
    let mut c = vec![[0.0f32; EMBEDDING]; k];
    for ((e, &w), &l) in items.iter().zip(weights).zip(labels) {
        if l < k {
            for (d, x) in c[l].iter_mut().zip(e) {
                *d += w * x;
            }
        }
    }
    c.iter_mut().for_each(|v| normalise(v));
    c
}

/// Index of the most similar centroid.
pub fn nearest(e: &Embedding, cents: &[Embedding]) -> usize {
    let mut best = 0;
    let mut best_s = f32::NEG_INFINITY;
    for (i, c) in cents.iter().enumerate() {
        let s = cosine(e, c);
        if s > best_s {
            best_s = s;
            best = i;
        }
    }
    best
}

/// Clusters `items` (unit vectors, with `weights`, e.g. seconds each, for the centroids) and
/// returns `(labels, centroids)`; labels are `0..k`, numbered in order of first appearance.
pub fn cluster(items: &[Embedding], weights: &[f32], stop: Stop) -> (Vec<usize>, Vec<Embedding>) {
    if items.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // Cluster at most MAX_AHC_ITEMS evenly spread items; the rest follow their centroids.
    let step = items.len().div_ceil(MAX_AHC_ITEMS);
    let sample: Vec<usize> = (0..items.len()).step_by(step).collect();
    let s_items: Vec<Embedding> = sample.iter().map(|&i| items[i]).collect();
    let s_weights: Vec<f32> = sample.iter().map(|&i| weights[i]).collect();
    let tree = Dendrogram::build(&s_items);
    let s_labels = match stop {
        Stop::Count(k) => tree.cut(k.max(1)),
        Stop::Distance { distance, max } => tree.cut_at(distance, max),
    };
    let k = s_labels.iter().copied().max().map_or(0, |m| m + 1);
    let cents = centroids(&s_items, &s_weights, &s_labels, k);
    let labels: Vec<usize> = if step == 1 {
        s_labels
    } else {
        items.iter().map(|e| nearest(e, &cents)).collect()
    };
    renumber(labels, &cents)
}

/// Whether `raw` (uncentred embeddings of stretches of speech) are all one voice: the two
/// groups at the top of their average-linkage tree are still at least `similarity` alike on
/// average. Centring a one-speaker recording leaves only the differences between its
/// sentences, which any distance threshold then splits into "speakers"; uncentred, one
/// voice's stretches stay alike while different voices do not.
pub fn one_voice(raw: &[Embedding], similarity: f32) -> bool {
    let step = raw.len().div_ceil(MAX_AHC_ITEMS).max(1);
    let sample: Vec<Embedding> = raw.iter().step_by(step).copied().collect();
    Dendrogram::build(&sample)
        .merges
        .last()
        .is_none_or(|top| top.cost <= 1.0 - similarity)
}

/// Renumbers labels in order of first appearance and drops empty clusters.
fn renumber(labels: Vec<usize>, cents: &[Embedding]) -> (Vec<usize>, Vec<Embedding>) {
    let mut map = vec![usize::MAX; cents.len()];
    let mut out_c = Vec::new();
    let labels = labels
        .into_iter()
        .map(|l| {
            if map[l] == usize::MAX {
                map[l] = out_c.len();
                out_c.push(cents[l]);
            }
            map[l]
        })
        .collect();
    (labels, out_c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers (xorshift) for synthetic embeddings.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    /// `k` speaker directions sharing a strong common part, as GE2E voices recorded in one
    /// room do: raw cosine between speakers ~0.92 (the closest synthetic voices), or ~0.7
    /// with `spread` 0.9 instead of 0.4.
    pub(crate) fn voices(k: usize, seed: u64, spread: f32) -> Vec<Embedding> {
        let mut rng = Rng(seed);
        (0..k)
            .map(|_| {
                let mut v = [0.0f32; EMBEDDING];
                v.iter_mut().for_each(|x| *x = spread * rng.next() + 0.4);
                normalise(&mut v);
                v
            })
            .collect()
    }

    pub(crate) fn speakers(k: usize, seed: u64) -> Vec<Embedding> {
        voices(k, seed, 0.4)
    }

    pub(crate) fn noisy(c: &Embedding, rng: &mut Rng, amount: f32) -> Embedding {
        let mut v = *c;
        v.iter_mut().for_each(|x| *x += amount * rng.next());
        normalise(&mut v);
        v
    }

    /// Items of speakers `sizes[s]` times each, interleaved, and the true labels.
    fn data(sizes: &[usize], seed: u64) -> (Vec<Embedding>, Vec<usize>) {
        let cs = speakers(sizes.len(), seed);
        let mut rng = Rng(seed * 7 + 1);
        let mut items = Vec::new();
        let mut truth = Vec::new();
        // Interleave speakers so first-appearance numbering is not trivially sorted.
        let max = sizes.iter().copied().max().unwrap_or(0);
        for i in 0..max {
            for (s, &n) in sizes.iter().enumerate() {
                if i < n {
                    items.push(noisy(&cs[s], &mut rng, 0.02));
                    truth.push(s);
                }
            }
        }
        (items, truth)
    }

    fn purity(labels: &[usize], truth: &[usize]) -> bool {
        // Same partition up to renaming.
        let mut map = std::collections::BTreeMap::new();
        labels
            .iter()
            .zip(truth)
            .all(|(l, t)| *map.entry(*l).or_insert(*t) == *t)
            && map
                .values()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == map.len()
    }

    fn auto(max: Option<usize>) -> Stop {
        Stop::Distance { distance: 0.6, max }
    }

    fn centred(items: &[Embedding]) -> Vec<Embedding> {
        centre(items, &vec![1.0; items.len()])
    }

    #[test]
    fn centring_separates_voices_of_one_room() {
        let (items, truth) = data(&[20, 20], 3);
        let sim = |v: &[Embedding]| {
            let (mut same, mut diff) = (Vec::new(), Vec::new());
            for i in 0..v.len() {
                for j in i + 1..v.len() {
                    let s = cosine(&v[i], &v[j]);
                    if truth[i] == truth[j] {
                        same.push(s)
                    } else {
                        diff.push(s)
                    }
                }
            }
            let mean = |x: &[f32]| x.iter().sum::<f32>() / x.len() as f32;
            (mean(&same), mean(&diff))
        };
        let (same, diff) = sim(&items);
        assert!(
            diff > 0.8,
            "raw voices of one room are close: {same} {diff}"
        );
        let (same, diff) = sim(&centred(&items));
        assert!(same > 0.3 && diff < -0.3, "centred: {same} {diff}");
    }

    #[test]
    fn distance_finds_the_number_of_speakers() {
        for k in 1..=6 {
            let sizes: Vec<usize> = (0..k).map(|i| 8 + 3 * i).collect();
            let (items, truth) = data(&sizes, 3 + k as u64);
            let items = if k > 1 { centred(&items) } else { items };
            let w = vec![3.0; items.len()];
            let (labels, cents) = cluster(&items, &w, auto(None));
            assert_eq!(cents.len(), k, "k={k}");
            assert!(purity(&labels, &truth), "k={k}");
            assert_eq!(labels[0], 0);
        }
    }

    #[test]
    fn exact_count_and_max_bound() {
        let (items, _) = data(&[30, 25, 20, 15], 11);
        let items = centred(&items);
        let w = vec![3.0; items.len()];
        assert_eq!(cluster(&items, &w, Stop::Count(2)).1.len(), 2);
        assert_eq!(cluster(&items, &w, Stop::Count(4)).1.len(), 4);
        assert_eq!(cluster(&items, &w, Stop::Count(200)).1.len(), items.len());
        assert_eq!(cluster(&items, &w, auto(None)).1.len(), 4);
        assert_eq!(cluster(&items, &w, auto(Some(3))).1.len(), 3);
        assert_eq!(cluster(&items, &w, auto(Some(1))).1.len(), 1);
        // A distance every pair is within yields one speaker.
        let stop = Stop::Distance {
            distance: 2.0,
            max: None,
        };
        assert_eq!(cluster(&items, &w, stop).1.len(), 1);
    }

    #[test]
    fn one_voice_stays_one_speaker_however_long() {
        // 800 stretches (40 min) of one noisy voice: centred, only the noise is left and the
        // threshold splits it; uncentred, its stretches are all alike.
        let c = speakers(1, 31)[0];
        let mut rng = Rng(5);
        let raw: Vec<Embedding> = (0..800).map(|_| noisy(&c, &mut rng, 0.1)).collect();
        let w = vec![3.0; raw.len()];
        assert!(cluster(&centred(&raw), &w, auto(None)).1.len() > 1);
        assert!(one_voice(&raw, 0.8));
        // Two ordinary voices (raw cosine ~0.7) are two, and centring then finds them.
        let vs = voices(2, 17, 0.9);
        let raw: Vec<Embedding> = (0..60).map(|i| noisy(&vs[i % 2], &mut rng, 0.05)).collect();
        assert!(!one_voice(&raw, 0.8));
        let w = vec![3.0; raw.len()];
        assert_eq!(cluster(&centred(&raw), &w, auto(None)).1.len(), 2);
    }

    #[test]
    fn dendrogram_matches_naive_average_linkage() {
        let (items, _) = data(&[6, 5, 4], 21);
        let items = centred(&items);
        let tree = Dendrogram::build(&items);
        // Naive O(n³) average linkage (UPGMA) for comparison of merge costs.
        let mut groups: Vec<Vec<usize>> = (0..items.len()).map(|i| vec![i]).collect();
        let mut costs = Vec::new();
        while groups.len() > 1 {
            let mut best = (0, 1, f32::INFINITY);
            for a in 0..groups.len() {
                for b in a + 1..groups.len() {
                    let mut sum = 0.0;
                    for &i in &groups[a] {
                        for &j in &groups[b] {
                            sum += 1.0 - cosine(&items[i], &items[j]);
                        }
                    }
                    let cost = sum / (groups[a].len() * groups[b].len()) as f32;
                    if cost < best.2 {
                        best = (a, b, cost);
                    }
                }
            }
            let gb = groups.remove(best.1);
            groups[best.0].extend(gb);
            costs.push(best.2);
        }
        costs.sort_by(f32::total_cmp);
        assert_eq!(tree.merges.len(), costs.len());
        for (m, c) in tree.merges.iter().zip(&costs) {
            assert!((m.cost - c).abs() < 1e-4, "{} vs {}", m.cost, c);
        }
    }

    #[test]
    fn large_inputs_are_subsampled() {
        let sizes = [1500, 1200, 900];
        let (items, truth) = data(&sizes, 8);
        assert!(items.len() > MAX_AHC_ITEMS);
        let items = centred(&items);
        let w = vec![3.0; items.len()];
        let (labels, cents) = cluster(&items, &w, auto(None));
        assert_eq!(cents.len(), 3);
        assert!(purity(&labels, &truth));
    }
}
