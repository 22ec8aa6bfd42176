//! Turning per-window speaker scores into turns inside one speech region: window scores are
//! averaged onto 10 ms frames ([`frame_scores`]), a Viterbi pass with a switch penalty picks
//! one speaker per frame ([`viterbi`]), changes move to the quietest nearby frame
//! ([`snap_to_pauses`], since people rarely start talking without a breath between turns),
//! and fragments too short to be a turn are absorbed ([`runs`]).

/// Per-frame scores: the mean of the scores of the windows covering each frame, times the
/// largest weight among them (`n × k`, row-major). `windows[i] = (start, len, weight)` in
/// frames; `scores[i]` has one value per speaker. A weight below 1 marks evidence Viterbi
/// should trust less (short stretches).
pub fn frame_scores(
    n: usize,
    k: usize,
    windows: &[(usize, usize, f32)],
    scores: &[Vec<f32>],
) -> Vec<f32> {
    // Difference arrays keep this O((n + windows) · k) however much windows overlap.
    let mut diff = vec![0.0f32; (n + 1) * k];
    let mut count = vec![0i32; n + 1];
    let mut weight = vec![0.0f32; n];
    for (&(s, len, w), sc) in windows.iter().zip(scores) {
        let (s, e) = (s.min(n), (s + len).min(n));
        if s >= e {
            continue;
        }
        for c in 0..k {
            diff[s * k + c] += sc[c];
            diff[e * k + c] -= sc[c];
        }
        count[s] += 1;
        count[e] -= 1;
        weight[s..e].iter_mut().for_each(|x| *x = x.max(w));
    }
    let mut out = vec![0.0f32; n * k];
    let mut acc = vec![0.0f32; k];
    let mut cnt = 0;
    // Frames no window covers borrow the nearest covered frame's scores (filled below).
    let mut covered = vec![false; n];
    for t in 0..n {
        for c in 0..k {
            acc[c] += diff[t * k + c];
        }
        cnt += count[t];
        if cnt > 0 {
            for c in 0..k {
                out[t * k + c] = weight[t] * acc[c] / cnt as f32;
            }
            covered[t] = true;
        }
    }
    if let Some(first) = covered.iter().position(|&c| c) {
        for (t, &done) in covered.iter().enumerate() {
            if !done {
                let src = if t < first { first } else { t - 1 };
                out.copy_within(src * k..src * k + k, t * k);
            }
        }
    }
    out
}

/// Best speaker sequence for `n × k` frame scores, paying `penalty` per change of speaker.
pub fn viterbi(scores: &[f32], k: usize, penalty: f32) -> Vec<usize> {
    if k == 0 {
        return Vec::new();
    }
    let n = scores.len() / k;
    if n == 0 {
        return Vec::new();
    }
    let mut v: Vec<f32> = scores[..k].to_vec();
    // back[t * k + c]: the state at t-1 on the best path into c at t.
    let mut back = vec![0u16; n * k];
    for t in 1..n {
        let (best_prev, best_v) = argmax(&v);
        let mut next = vec![0.0f32; k];
        for c in 0..k {
            let switch = best_v - penalty;
            let (from, val) = if v[c] >= switch {
                (c, v[c])
            } else {
                (best_prev, switch)
            };
            back[t * k + c] = from as u16;
            next[c] = val + scores[t * k + c];
        }
        v = next;
    }
    let mut path = vec![0usize; n];
    path[n - 1] = argmax(&v).0;
    for t in (1..n).rev() {
        path[t - 1] = back[t * k + path[t]] as usize;
    }
    path
}

fn argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}

/// Moves every speaker change to the quietest frame within `reach` frames (staying between
/// the neighbouring changes). `energy` is per-frame log energy, already smoothed.
pub fn snap_to_pauses(labels: &mut [usize], energy: &[f32], reach: usize) {
    let n = labels.len().min(energy.len());
    let changes: Vec<usize> = (1..n).filter(|&t| labels[t] != labels[t - 1]).collect();
    for (i, &b) in changes.iter().enumerate() {
        // The new boundary stays strictly inside the neighbouring runs.
        let lo = b
            .saturating_sub(reach)
            .max(if i > 0 { changes[i - 1] + 1 } else { 1 });
        let hi = (b + reach).min(if i + 1 < changes.len() {
            changes[i + 1] - 1
        } else {
            n - 1
        });
        if lo > hi {
            continue;
        }
        let mut best = b;
        for t in lo..=hi {
            if energy[t] < energy[best] {
                best = t;
            }
        }
        let (left, right) = (labels[b - 1], labels[b]);
        for (t, l) in labels
            .iter_mut()
            .enumerate()
            .take(hi + 1)
            .skip(lo.saturating_sub(1))
        {
            *l = if t < best { left } else { right };
        }
    }
}

/// Runs of equal labels as `(start, end, label)`, after absorbing runs shorter than
/// `min_len` frames into the neighbour that scores better on them.
pub fn runs(
    labels: &[usize],
    scores: &[f32],
    k: usize,
    min_len: usize,
) -> Vec<(usize, usize, usize)> {
    let mut r: Vec<(usize, usize, usize)> = Vec::new();
    for (t, &l) in labels.iter().enumerate() {
        match r.last_mut() {
            Some(last) if last.2 == l => last.1 = t + 1,
            _ => r.push((t, t + 1, l)),
        }
    }
    // Shortest first, so a fragment next to another fragment merges into real turns.
    while let Some(i) = (0..r.len())
        .filter(|&i| r[i].1 - r[i].0 < min_len)
        .min_by_key(|&i| r[i].1 - r[i].0)
    {
        if r.len() == 1 {
            break;
        }
        let (s, e, _) = r[i];
        let mean = |label: usize| (s..e).map(|t| scores[t * k + label]).sum::<f32>();
        let target = match (i.checked_sub(1), r.get(i + 1)) {
            (Some(p), Some(nx)) => {
                if mean(r[p].2) >= mean(nx.2) {
                    p
                } else {
                    i + 1
                }
            }
            (Some(p), None) => p,
            _ => i + 1,
        };
        let label = r[target].2;
        r[i].2 = label;
        // Merge equal neighbours.
        let mut merged: Vec<(usize, usize, usize)> = Vec::with_capacity(r.len());
        for run in r {
            match merged.last_mut() {
                Some(last) if last.2 == run.2 => last.1 = run.1,
                _ => merged.push(run),
            }
        }
        r = merged;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores for two speakers: speaker 0 until `change`, then speaker 1, from windows of
    /// `len` frames every `hop` frames whose score mixes both by their overlap.
    /// Windows as (start, end, weight) and their per-speaker scores.
    type Scripted = (Vec<(usize, usize, f32)>, Vec<Vec<f32>>);

    fn scripted(n: usize, change: usize, len: usize, hop: usize) -> Scripted {
        let mut w = Vec::new();
        let mut s = Vec::new();
        let mut start = 0;
        loop {
            let st = start.min(n.saturating_sub(len));
            let e = st + len;
            let a = change.clamp(st, e) - st; // frames of speaker 0
            let frac = a as f32 / len as f32;
            w.push((st, len, 1.0));
            s.push(vec![0.3 + 0.5 * frac, 0.3 + 0.5 * (1.0 - frac)]);
            if e >= n {
                break;
            }
            start += hop;
        }
        (w, s)
    }

    #[test]
    fn change_is_found_from_window_scores_alone() {
        // Without a pause to snap to, the hop (0.75 s) limits precision to about half of it.
        for change in [300, 417, 555, 640] {
            let n = 1000;
            let (w, s) = scripted(n, change, 160, 75);
            let fs = frame_scores(n, 2, &w, &s);
            let labels = viterbi(&fs, 2, 2.0);
            let r = runs(&labels, &fs, 2, 30);
            assert_eq!(r.len(), 2, "{r:?}");
            assert!(
                (r[0].1 as i64 - change as i64).abs() <= 40,
                "change {change}: {r:?}"
            );
            assert_eq!((r[0].2, r[1].2), (0, 1));
        }
    }

    #[test]
    fn change_at_a_pause_is_found_within_a_quarter_second() {
        for change in [300, 417, 555, 640] {
            let n = 1000;
            let (w, s) = scripted(n, change, 160, 75);
            let fs = frame_scores(n, 2, &w, &s);
            let mut labels = viterbi(&fs, 2, 2.0);
            // A 150 ms breath between the two speakers, centred on the change.
            let mut energy = vec![-3.0f32; n];
            energy[change - 7..change + 8]
                .iter_mut()
                .for_each(|e| *e = -9.0);
            energy[change] = -9.5;
            snap_to_pauses(&mut labels, &energy, 30);
            let r = runs(&labels, &fs, 2, 30);
            assert_eq!(r.len(), 2, "{r:?}");
            // Anywhere inside the pause is right.
            assert!(
                (r[0].1 as i64 - change as i64).abs() <= 8,
                "change {change}: {r:?}"
            );
        }
    }

    #[test]
    fn switch_penalty_suppresses_flicker() {
        // Alternating noisy evidence every 5 frames, slightly favouring speaker 1.
        let n = 400;
        let fs: Vec<f32> = (0..n)
            .flat_map(|t| {
                if (t / 5) % 2 == 0 {
                    [0.6, 0.55]
                } else {
                    [0.5, 0.62]
                }
            })
            .collect();
        let labels = viterbi(&fs, 2, 1.0);
        assert!(labels.iter().all(|&l| l == 1));
        let labels = viterbi(&fs, 2, 0.0);
        assert!(labels.contains(&0));
    }

    #[test]
    fn changes_snap_to_the_pause() {
        let mut labels = vec![0; 100];
        labels[50..].iter_mut().for_each(|l| *l = 1);
        let mut energy = vec![5.0f32; 100];
        energy[58..62].iter_mut().for_each(|e| *e = 1.0);
        energy[60] = 0.5;
        snap_to_pauses(&mut labels, &energy, 20);
        assert_eq!(labels.iter().position(|&l| l == 1), Some(60));
        // Out of reach: unchanged.
        let mut labels = vec![0; 100];
        labels[20..].iter_mut().for_each(|l| *l = 1);
        snap_to_pauses(&mut labels, &energy, 10);
        assert_eq!(labels.iter().position(|&l| l == 1), Some(20));
    }

    #[test]
    fn short_fragments_join_the_better_neighbour() {
        let mut labels = vec![0; 100];
        labels[40..45].iter_mut().for_each(|l| *l = 2);
        labels[45..].iter_mut().for_each(|l| *l = 1);
        // Frames 40..45 score better for speaker 1.
        let fs: Vec<f32> = (0..100)
            .flat_map(|t| {
                if t < 40 {
                    [0.9, 0.1, 0.0]
                } else {
                    [0.1, 0.9, 0.3]
                }
            })
            .collect();
        let r = runs(&labels, &fs, 3, 10);
        assert_eq!(r, [(0, 40, 0), (40, 100, 1)]);
        assert_eq!(runs(&[2, 2, 2], &fs, 3, 10), [(0, 3, 2)]);
    }
}
