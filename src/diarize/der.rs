//! Diarization error rate ([`der`]) for tests and measurements, computed as pyannote.metrics
//! and NIST md-eval do: the optimal one-to-one speaker mapping (Hungarian method on the
//! co-occurrence durations), then missed speech, false alarm and confusion over the reference
//! speech, with `collar` removed on both sides of every reference boundary (md-eval's collar;
//! pyannote's `collar` argument is the full width, i.e. twice this). [`parse_rttm`] reads
//! RTTM `SPEAKER` lines.

use std::collections::BTreeMap;

use crate::types::{Ms, Span, SpeakerId, SpeakerTurn};

use super::DiarizeError;

/// Error components in seconds, and the resulting rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerReport {
    /// (miss + false alarm + confusion) / scored reference speech; 0 when nothing is scored.
    pub der: f64,
    pub miss: f64,
    pub false_alarm: f64,
    pub confusion: f64,
    /// Reference speech that was scored (speaker-seconds, outside the collars).
    pub scored: f64,
    pub ref_speakers: usize,
    pub hyp_speakers: usize,
}

/// One stretch between consecutive boundaries, with who is talking in it.
struct Piece {
    secs: f64,
    refs: Vec<u32>,
    hyps: Vec<u32>,
}

/// Scores `hypothesis` against `reference` (see the module docs for the conventions).
pub fn der(reference: &[SpeakerTurn], hypothesis: &[SpeakerTurn], collar: Ms) -> DerReport {
    // Sweep events: (time, order, what). Collar zones open before and close after speakers so
    // that zero-width pieces never matter; each event changes one counter.
    #[derive(Clone, Copy)]
    enum Ev {
        Ref(u32, i32),
        Hyp(u32, i32),
        Collar(i32),
    }
    let mut events: Vec<(u64, Ev)> = Vec::new();
    for t in reference.iter().filter(|t| !t.span.is_empty()) {
        events.push((t.span.start.0, Ev::Ref(t.speaker.0, 1)));
        events.push((t.span.end.0, Ev::Ref(t.speaker.0, -1)));
        if collar.0 > 0 {
            for b in [t.span.start.0, t.span.end.0] {
                events.push((b.saturating_sub(collar.0), Ev::Collar(1)));
                events.push((b + collar.0, Ev::Collar(-1)));
            }
        }
    }
    for t in hypothesis.iter().filter(|t| !t.span.is_empty()) {
        events.push((t.span.start.0, Ev::Hyp(t.speaker.0, 1)));
        events.push((t.span.end.0, Ev::Hyp(t.speaker.0, -1)));
    }
    events.sort_by_key(|e| e.0);
    let mut ref_active: BTreeMap<u32, i32> = BTreeMap::new();
    let mut hyp_active: BTreeMap<u32, i32> = BTreeMap::new();
    let mut in_collar = 0i32;
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let t = events[i].0;
        while i < events.len() && events[i].0 == t {
            match events[i].1 {
                Ev::Ref(s, d) => *ref_active.entry(s).or_insert(0) += d,
                Ev::Hyp(s, d) => *hyp_active.entry(s).or_insert(0) += d,
                Ev::Collar(d) => in_collar += d,
            }
            i += 1;
        }
        let Some(&(next, _)) = events.get(i) else {
            break;
        };
        if in_collar > 0 || next == t {
            continue;
        }
        let refs: Vec<u32> = ref_active
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(&s, _)| s)
            .collect();
        let hyps: Vec<u32> = hyp_active
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(&s, _)| s)
            .collect();
        if !refs.is_empty() || !hyps.is_empty() {
            pieces.push(Piece {
                secs: (next - t) as f64 / 1000.0,
                refs,
                hyps,
            });
        }
    }

    let ref_ids: Vec<u32> = sorted_ids(reference);
    let hyp_ids: Vec<u32> = sorted_ids(hypothesis);
    let mut cooc = vec![vec![0.0f64; hyp_ids.len()]; ref_ids.len()];
    for p in &pieces {
        for r in &p.refs {
            for h in &p.hyps {
                if let (Ok(ri), Ok(hi)) = (ref_ids.binary_search(r), hyp_ids.binary_search(h)) {
                    cooc[ri][hi] += p.secs;
                }
            }
        }
    }
    let mapping = max_weight_matching(&cooc);
    let (mut miss, mut fa, mut conf, mut scored) = (0.0, 0.0, 0.0, 0.0);
    for p in &pieces {
        let (nr, nh) = (p.refs.len() as f64, p.hyps.len() as f64);
        let mut correct = 0.0;
        for r in &p.refs {
            let Ok(ri) = ref_ids.binary_search(r) else {
                continue;
            };
            if let Some(hi) = mapping[ri] {
                if p.hyps.contains(&hyp_ids[hi]) {
                    correct += 1.0;
                }
            }
        }
        scored += p.secs * nr;
        miss += p.secs * (nr - nh).max(0.0);
        fa += p.secs * (nh - nr).max(0.0);
        conf += p.secs * (nr.min(nh) - correct);
    }
    let der = if scored > 0.0 {
        (miss + fa + conf) / scored
    } else {
        0.0
    };
    DerReport {
        der,
        miss,
        false_alarm: fa,
        confusion: conf,
        scored,
        ref_speakers: ref_ids.len(),
        hyp_speakers: hyp_ids.len(),
    }
}

fn sorted_ids(turns: &[SpeakerTurn]) -> Vec<u32> {
    let mut ids: Vec<u32> = turns
        .iter()
        .filter(|t| !t.span.is_empty())
        .map(|t| t.speaker.0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Assignment of rows to columns maximising the summed weight (Hungarian method, O(n³)),
/// for rectangular matrices; `result[row]` is its column, `None` for unmatched rows.
fn max_weight_matching(w: &[Vec<f64>]) -> Vec<Option<usize>> {
    let rows = w.len();
    let cols = w.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    // Square cost matrix (padding with zero weight), minimising max - w.
    let n = rows.max(cols);
    let max = w.iter().flatten().copied().fold(0.0f64, f64::max);
    let cost = |i: usize, j: usize| {
        if i < rows && j < cols {
            max - w[i][j]
        } else {
            max
        }
    };
    // Potentials u (rows), v (cols), p[j] = row matched to column j (1-based, 0 = none).
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut result = vec![None; rows];
    for j in 1..=n {
        let i = p[j];
        if i >= 1 && i <= rows && j <= cols && w[i - 1][j - 1] > 0.0 {
            result[i - 1] = Some(j - 1);
        }
    }
    result
}

/// Reads the `SPEAKER` lines of an RTTM file (`SPEAKER file chan start dur <NA> <NA> name
/// ...`); speaker names become ids 1, 2, … in order of first appearance.
pub fn parse_rttm(text: &str) -> Result<Vec<SpeakerTurn>, DiarizeError> {
    let mut names: Vec<String> = Vec::new();
    let mut turns = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() != Some(&"SPEAKER") {
            continue;
        }
        let bad = |reason: &str| DiarizeError::Rttm {
            line: n + 1,
            reason: reason.to_string(),
        };
        if f.len() < 8 {
            return Err(bad("fewer than 8 fields"));
        }
        let secs = |s: &str| -> Result<Ms, DiarizeError> {
            let v: f64 = s.parse().map_err(|_| bad("time is not a number"))?;
            if !(v >= 0.0 && v.is_finite()) {
                return Err(bad("time is negative"));
            }
            Ok(Ms((v * 1000.0).round() as u64))
        };
        let start = secs(f[3])?;
        let dur = secs(f[4])?;
        let name = f[7].to_string();
        let id = match names.iter().position(|x| *x == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        turns.push(SpeakerTurn {
            span: Span::new(start, Ms(start.0 + dur.0)),
            speaker: SpeakerId(id as u32 + 1),
        });
    }
    Ok(turns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(s: u64, e: u64, id: u32) -> SpeakerTurn {
        SpeakerTurn {
            span: Span::new(Ms(s), Ms(e)),
            speaker: SpeakerId(id),
        }
    }

    #[test]
    fn perfect_hypothesis_with_other_labels_scores_zero() {
        let r = [turn(0, 1000, 1), turn(1000, 3000, 2), turn(3500, 4000, 1)];
        let h = [turn(0, 1000, 7), turn(1000, 3000, 3), turn(3500, 4000, 7)];
        let d = der(&r, &h, Ms(0));
        assert!(d.der.abs() < 1e-12, "{d:?}");
        assert_eq!((d.ref_speakers, d.hyp_speakers), (2, 2));
        assert!((d.scored - 3.5).abs() < 1e-9);
    }

    #[test]
    fn miss_false_alarm_and_confusion_are_separated() {
        // Values checked with pyannote.metrics 4.2 (collar=0 and collar=0.5, i.e. ±0.25 s).
        let r = [turn(0, 4000, 1), turn(4000, 10_000, 2)];
        let h = [
            turn(500, 5000, 1),
            turn(5000, 9000, 2),
            turn(9000, 11_000, 3),
        ];
        let d = der(&r, &h, Ms(0));
        // Miss 0–0.5 s; FA 10–11 s; confusion 4–5 s (ref 2, hyp 1) and 9–10 s (hyp 3).
        assert!((d.miss - 0.5).abs() < 1e-9, "{d:?}");
        assert!((d.false_alarm - 1.0).abs() < 1e-9, "{d:?}");
        assert!((d.confusion - 2.0).abs() < 1e-9, "{d:?}");
        assert!((d.der - 0.35).abs() < 1e-9, "{d:?}");
        let d = der(&r, &h, Ms(250));
        // Scored reference: 10 s minus collars at 0, 4, 10 (0.25 + 0.5 + 0.25) = 9 s.
        assert!((d.scored - 9.0).abs() < 1e-9, "{d:?}");
        assert!(
            (d.miss - 0.25).abs() < 1e-9 && (d.false_alarm - 0.75).abs() < 1e-9,
            "{d:?}"
        );
        assert!((d.confusion - 1.5).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn mapping_is_optimal_not_greedy() {
        // Greedy would map ref 1 -> hyp 1 (5 s) and leave ref 2 with hyp 2 (1 s); the optimum
        // maps ref 1 -> hyp 2 (4 s) and ref 2 -> hyp 1 (4 s).
        let r = [turn(0, 5000, 1), turn(5000, 9000, 2), turn(9000, 13_000, 1)];
        let h = [
            turn(0, 1000, 1),
            turn(1000, 5000, 2),
            turn(5000, 9000, 1),
            turn(9000, 13_000, 2),
        ];
        let d = der(&r, &h, Ms(0));
        assert!((d.confusion - 1.0).abs() < 1e-9, "{d:?}");
        let m = max_weight_matching(&[vec![5.0, 8.0], vec![4.0, 0.0]]);
        assert_eq!(m, [Some(1), Some(0)]);
        let m = max_weight_matching(&[vec![1.0], vec![3.0], vec![2.0]]);
        assert_eq!(m, [None, Some(0), None]);
    }

    #[test]
    fn rttm_round_trip() {
        let text = "SPEAKER m 1 0.800 13.870 <NA> <NA> 話者1 <NA> <NA>\n\
                    SPEAKER m 1 15.034 10.240 <NA> <NA> B <NA> <NA>\n\
                    SPEAKER m 1 26.176 0.930 <NA> <NA> 話者1 <NA> <NA>\n";
        let t = parse_rttm(text).unwrap();
        assert_eq!(
            t,
            [
                turn(800, 14_670, 1),
                turn(15_034, 25_274, 2),
                turn(26_176, 27_106, 1)
            ]
        );
        assert!(parse_rttm("SPEAKER m 1 x 1 <NA> <NA> a").is_err());
    }
}
