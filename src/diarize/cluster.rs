//! Clustering speaker embeddings: Ward's agglomerative clustering on L2-normalised
//! embeddings weighted by their seconds of speech ([`Dendrogram`], built with the
//! nearest-neighbour-chain algorithm in O(n²) time and one n×n matrix), cut at an exact
//! count or by a separation rule ([`cluster`]), then nearest-centroid reassignment. Inputs
//! beyond [`MAX_AHC_ITEMS`] are clustered on an even subsample and the rest assigned to the
//! nearest centroid, so memory stays bounded.
//!
//! Why Ward and not average linkage: with GE2E, short stretches of one voice scatter as
//! widely as two similar voices differ. Ward's merge cost grows with the speech on both
//! sides, so a small difference backed by a lot of speech keeps two speakers apart while
//! the same difference between two short stretches does not.

use super::encoder::Embedding;
use super::weights::EMBEDDING;

/// Largest input clustered directly: the distance matrix is `n²` floats (25 MB here).
pub const MAX_AHC_ITEMS: usize = 2500;
/// Rounds of nearest-centroid reassignment after the tree is cut.
const REASSIGN_ROUNDS: usize = 3;

/// How to decide the number of clusters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Exactly this many (fewer only if there are fewer items).
    Count(usize),
    /// Keep two groups apart when all of these hold: Ward's statistic
    /// `sqrt(wA·wB/(wA+wB))·|cA−cB|` (weights in seconds, `c` the mean embeddings) is at
    /// least `ward`, their mean embeddings are at least `distance` apart in cosine
    /// distance, and each holds at least `min_weight` seconds. At most `max` clusters.
    Separation {
        ward: f32,
        distance: f32,
        min_weight: f32,
        max: Option<usize>,
    },
}

/// One merge of the tree: the clusters containing items `a` and `b` join at `cost`
/// (Ward's increase in the weighted sum of squares).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Merge {
    a: usize,
    b: usize,
    cost: f32,
}

/// The full Ward tree of a set of weighted items.
pub struct Dendrogram {
    n: usize,
    /// Sorted by cost (Ward is monotone, so this is the merge order).
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

impl Dendrogram {
    /// Builds the tree of `items` with `weights` (seconds of speech each).
    pub fn build(items: &[Embedding], weights: &[f32]) -> Dendrogram {
        let n = items.len();
        let mut size: Vec<f32> = weights.iter().map(|w| w.max(1e-6)).collect();
        // d[i][j]: Ward's cost of merging i and j, wi·wj/(wi+wj)·|xi−xj|².
        let mut d = vec![0.0f32; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let sq: f32 = items[i]
                    .iter()
                    .zip(&items[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                let v = size[i] * size[j] / (size[i] + size[j]) * sq;
                d[i * n + j] = v;
                d[j * n + i] = v;
            }
        }
        let mut active = vec![true; n];
        let mut merges = Vec::with_capacity(n.saturating_sub(1));
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
            let prev = if chain.len() >= 2 {
                Some(chain[chain.len() - 2])
            } else {
                None
            };
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
                // Lance–Williams update for Ward.
                chain.pop();
                chain.pop();
                let b = best;
                let (sa, sb) = (size[a], size[b]);
                for k in 0..n {
                    if active[k] && k != a && k != b {
                        let sk = size[k];
                        let v = ((sa + sk) * d[a * n + k] + (sb + sk) * d[b * n + k] - sk * best_d)
                            / (sa + sb + sk);
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
        let keep = vec![true; self.n.saturating_sub(k)];
        self.labels(&keep)
    }

    /// Labels after making the merges whose `keep` flag is set (in merge order; merges past
    /// the end of `keep` are not made).
    fn labels(&self, keep: &[bool]) -> Vec<usize> {
        let mut parent: Vec<usize> = (0..self.n).collect();
        for (m, _) in self.merges.iter().zip(keep).filter(|(_, &k)| k) {
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

    /// Labels under [`Stop::Separation`]: replays the merges, skipping those that would join
    /// two well-separated groups of enough speech (the top `max - 1` of them by cost at most).
    fn separate(
        &self,
        items: &[Embedding],
        weights: &[f32],
        ward: f32,
        distance: f32,
        min_weight: f32,
        max: Option<usize>,
    ) -> Vec<usize> {
        // Weighted embedding sums and weights of the groups as the tree grows.
        let mut sum: Vec<Embedding> = items
            .iter()
            .zip(weights)
            .map(|(e, &w)| e.map(|x| x * w))
            .collect();
        let mut wsum: Vec<f32> = weights.to_vec();
        let mut parent: Vec<usize> = (0..self.n).collect();
        let mut keep = vec![true; self.merges.len()];
        for (i, m) in self.merges.iter().enumerate() {
            let (ra, rb) = (find(&mut parent, m.a), find(&mut parent, m.b));
            let (wa, wb) = (wsum[ra], wsum[rb]);
            let mut ca = sum[ra];
            let mut cb = sum[rb];
            ca.iter_mut().for_each(|x| *x /= wa.max(1e-6));
            cb.iter_mut().for_each(|x| *x /= wb.max(1e-6));
            let sq: f32 = ca.iter().zip(&cb).map(|(a, b)| (a - b) * (a - b)).sum();
            let stat = (wa * wb / (wa + wb).max(1e-6) * sq).sqrt();
            normalise(&mut ca);
            normalise(&mut cb);
            let cos_d = 1.0 - cosine(&ca, &cb);
            if stat >= ward && cos_d >= distance && wa >= min_weight && wb >= min_weight {
                keep[i] = false;
            }
            // The tree grows either way so later statistics describe the whole subtree.
            let merged = sum[rb];
            for (d, x) in sum[ra].iter_mut().zip(merged) {
                *d += x;
            }
            wsum[ra] = wa + wb;
            parent[rb] = ra;
        }
        if let Some(max) = max {
            // Too many groups: make the cheapest of the skipped merges after all.
            let mut skipped: Vec<usize> = (0..keep.len()).filter(|&i| !keep[i]).collect();
            let allowed = max.max(1) - 1;
            while skipped.len() > allowed {
                keep[skipped.remove(0)] = true;
            }
        }
        self.labels(&keep)
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

/// Clusters `items` (with `weights`, e.g. seconds each) and returns `(labels, centroids)`;
/// labels are `0..k`, numbered in order of first appearance.
pub fn cluster(items: &[Embedding], weights: &[f32], stop: Stop) -> (Vec<usize>, Vec<Embedding>) {
    if items.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // Cluster at most MAX_AHC_ITEMS evenly spread items; the rest follow their centroids.
    let step = items.len().div_ceil(MAX_AHC_ITEMS);
    let sample: Vec<usize> = (0..items.len()).step_by(step).collect();
    let s_items: Vec<Embedding> = sample.iter().map(|&i| items[i]).collect();
    let s_weights: Vec<f32> = sample.iter().map(|&i| weights[i]).collect();
    let tree = Dendrogram::build(&s_items, &s_weights);
    let s_labels = match stop {
        Stop::Count(k) => tree.cut(k.max(1)),
        Stop::Separation {
            ward,
            distance,
            min_weight,
            max,
        } => {
            // The sample carries only part of the total weight: scale the weight floor. The
            // Ward statistic stays as computed on the sample (each sampled item is as noisy
            // as any other, so weighting it up would overstate the evidence).
            let total: f32 = weights.iter().sum();
            let share = if total > 0.0 {
                s_weights.iter().sum::<f32>() / total
            } else {
                1.0
            };
            tree.separate(
                &s_items,
                &s_weights,
                ward,
                distance,
                min_weight * share,
                max,
            )
        }
    };
    let k = s_labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut cents = centroids(&s_items, &s_weights, &s_labels, k);
    if let Stop::Separation { min_weight, .. } = stop {
        let total: f32 = weights.iter().sum();
        let share = if total > 0.0 {
            s_weights.iter().sum::<f32>() / total
        } else {
            1.0
        };
        cents = drop_small(&s_items, &s_weights, &s_labels, cents, min_weight * share);
    }
    // Nearest-centroid rounds over all items (k-means with cosine similarity) tidy items
    // that average linkage put early into the wrong branch.
    let mut labels: Vec<usize> = items.iter().map(|e| nearest(e, &cents)).collect();
    for _ in 0..REASSIGN_ROUNDS {
        let k = cents.len();
        let new_cents = centroids(items, weights, &labels, k);
        // A centroid that lost every item keeps its old position rather than vanishing.
        for (c, n) in cents.iter_mut().zip(new_cents) {
            if n.iter().any(|&x| x != 0.0) {
                *c = n;
            }
        }
        let new_labels: Vec<usize> = items.iter().map(|e| nearest(e, &cents)).collect();
        if new_labels == labels {
            break;
        }
        labels = new_labels;
    }
    renumber(labels, &cents)
}

/// Folds clusters lighter than `min_weight` into the nearest larger cluster (the heaviest is
/// kept if all are light) and returns the remaining centroids.
fn drop_small(
    items: &[Embedding],
    weights: &[f32],
    labels: &[usize],
    cents: Vec<Embedding>,
    min_weight: f32,
) -> Vec<Embedding> {
    let k = cents.len();
    let mut mass = vec![0.0f32; k];
    for (&l, &w) in labels.iter().zip(weights) {
        mass[l] += w;
    }
    let mut keep: Vec<usize> = (0..k).filter(|&c| mass[c] >= min_weight).collect();
    if keep.is_empty() {
        if let Some(best) = (0..k).max_by(|&a, &b| mass[a].total_cmp(&mass[b])) {
            keep.push(best);
        }
    }
    if keep.len() == k {
        return cents;
    }
    let kept: Vec<Embedding> = keep.iter().map(|&c| cents[c]).collect();
    let relabel: Vec<usize> = items.iter().map(|e| nearest(e, &kept)).collect();
    centroids(items, weights, &relabel, kept.len())
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

    /// `k` well-separated speaker directions and noisy items around them (GE2E-like: cosine
    /// ~0.8 within a speaker, ~0.3 across).
    pub(crate) fn speakers(k: usize, seed: u64) -> Vec<Embedding> {
        let mut rng = Rng(seed);
        (0..k)
            .map(|_| {
                let mut v = [0.0f32; EMBEDDING];
                v.iter_mut().for_each(|x| *x = rng.next() + 0.4);
                normalise(&mut v);
                v
            })
            .collect()
    }

    pub(crate) fn noisy(c: &Embedding, rng: &mut Rng, amount: f32) -> Embedding {
        let mut v = *c;
        v.iter_mut().for_each(|x| *x += amount * rng.next());
        normalise(&mut v);
        v
    }

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
                    items.push(noisy(&cs[s], &mut rng, 0.12));
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

    /// Items of 3 s each, as units of speech would be.
    const SECS: f32 = 3.0;

    fn auto(max: Option<usize>) -> Stop {
        Stop::Separation {
            ward: 1.0,
            distance: 0.075,
            min_weight: 10.0,
            max,
        }
    }

    #[test]
    fn separation_finds_the_number_of_speakers() {
        for k in 1..=6 {
            let sizes: Vec<usize> = (0..k).map(|i| 8 + 3 * i).collect();
            let (items, truth) = data(&sizes, 3 + k as u64);
            let w = vec![SECS; items.len()];
            let (labels, cents) = cluster(&items, &w, auto(None));
            assert_eq!(cents.len(), k, "k={k}");
            assert!(purity(&labels, &truth), "k={k}");
            assert_eq!(labels[0], 0);
        }
    }

    #[test]
    fn exact_count_and_max_bound() {
        let (items, _) = data(&[30, 25, 20, 15], 11);
        let w = vec![SECS; items.len()];
        assert_eq!(cluster(&items, &w, Stop::Count(2)).1.len(), 2);
        assert_eq!(cluster(&items, &w, Stop::Count(4)).1.len(), 4);
        assert_eq!(cluster(&items, &w, auto(Some(3))).1.len(), 3);
        assert_eq!(cluster(&items, &w, auto(Some(1))).1.len(), 1);
        // A separation nothing reaches yields one speaker.
        let stop = Stop::Separation {
            ward: 1e6,
            distance: 0.075,
            min_weight: 0.0,
            max: None,
        };
        assert_eq!(cluster(&items, &w, stop).1.len(), 1);
    }

    #[test]
    fn one_voice_stays_one_speaker_however_long() {
        // 800 items (40 min of units) of one noisy voice: Ward's statistic grows with the
        // speech, the distance floor keeps it from splitting the voice.
        let c = speakers(1, 31)[0];
        let mut rng = Rng(5);
        let items: Vec<Embedding> = (0..800).map(|_| noisy(&c, &mut rng, 0.12)).collect();
        let w = vec![SECS; items.len()];
        assert_eq!(cluster(&items, &w, auto(None)).1.len(), 1);
    }

    #[test]
    fn light_clusters_are_folded_into_speakers() {
        let (mut items, _) = data(&[20, 20], 5);
        // Two outliers far from both speakers form their own group at any sane setting.
        let mut rng = Rng(99);
        let odd = speakers(3, 77)[2];
        items.push(noisy(&odd, &mut rng, 0.05));
        items.push(noisy(&odd, &mut rng, 0.05));
        let w = vec![SECS; items.len()];
        assert_eq!(cluster(&items, &w, auto(None)).1.len(), 2);
        let stop = Stop::Separation {
            ward: 1.0,
            distance: 0.075,
            min_weight: 0.0,
            max: None,
        };
        assert_eq!(cluster(&items, &w, stop).1.len(), 3);
    }

    #[test]
    fn dendrogram_matches_naive_ward() {
        let (items, _) = data(&[6, 5, 4], 21);
        let w: Vec<f32> = (0..items.len()).map(|i| 1.0 + (i % 3) as f32).collect();
        let tree = Dendrogram::build(&items, &w);
        // Naive O(n³) weighted Ward for comparison of merge costs.
        let mut groups: Vec<(Vec<f32>, f32)> = items
            .iter()
            .zip(&w)
            .map(|(e, &wi)| (e.to_vec(), wi))
            .collect();
        let mut costs = Vec::new();
        while groups.len() > 1 {
            let mut best = (0, 1, f32::INFINITY);
            for a in 0..groups.len() {
                for b in a + 1..groups.len() {
                    let (ca, wa) = &groups[a];
                    let (cb, wb) = &groups[b];
                    let sq: f32 = ca.iter().zip(cb).map(|(x, y)| (x - y) * (x - y)).sum();
                    let cost = wa * wb / (wa + wb) * sq;
                    if cost < best.2 {
                        best = (a, b, cost);
                    }
                }
            }
            let (cb, wb) = groups.remove(best.1);
            let (ca, wa) = &mut groups[best.0];
            for (x, y) in ca.iter_mut().zip(&cb) {
                *x = (*x * *wa + y * wb) / (*wa + wb);
            }
            *wa += wb;
            costs.push(best.2);
        }
        costs.sort_by(f32::total_cmp);
        for (m, c) in tree.merges.iter().zip(&costs) {
            assert!(
                (m.cost - c).abs() < 1e-4 * c.max(1.0),
                "{} vs {}",
                m.cost,
                c
            );
        }
    }

    #[test]
    fn large_inputs_are_subsampled() {
        let sizes = [1500, 1200, 900];
        let (items, truth) = data(&sizes, 8);
        assert!(items.len() > MAX_AHC_ITEMS);
        let w = vec![SECS; items.len()];
        let (labels, cents) = cluster(&items, &w, auto(None));
        assert_eq!(cents.len(), 3);
        assert!(purity(&labels, &truth));
    }
}
