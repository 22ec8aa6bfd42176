//! From windows back to the recording (pyannote 3.1's reconstruction): every window votes,
//! frame by frame, for the speakers its local speakers were assigned to and for how many
//! speak; each frame keeps the most-voted speakers, as many as the averaged count says.
//! Runs of frames become turns; a speaker's pause shorter than [`MAX_JOIN_PAUSE`] that
//! nobody else fills stays inside its turn.

use std::collections::BTreeMap;

use super::cluster::Assignment;
use super::local::Chunk;
use super::seg::{FRAMES_PER_WINDOW, FRAME_DURATION, FRAME_STEP};
use crate::types::{Ms, Span, SpeakerId, SpeakerTurn};

/// A pause shorter than this does not end a turn: as listeners (and RTTM references) count
/// the breath between two sentences as part of the turn.
pub const MAX_JOIN_PAUSE: Ms = Ms(1000);
/// Shortest turn that counts as a speaker's first appearance when numbering speakers.
const FIRST_TURN: Ms = Ms(2000);

/// Turns of the `k` speakers over `total_frames` frames (recording length `end`), numbered
/// from `SpeakerId(1)` in order of first appearance (of a turn of at least [`FIRST_TURN`]),
/// sorted by start.
pub(super) fn turns(
    chunks: &[Chunk],
    assignment: &Assignment,
    total_frames: usize,
    end: Ms,
) -> Vec<SpeakerTurn> {
    let k = assignment.k;
    // Votes fit a byte: at most window/step windows cover a frame (40 at the smallest step).
    let mut votes = vec![0u8; total_frames * k];
    let mut count_sum = vec![0u16; total_frames];
    let mut cover = vec![0u8; total_frames];
    for (chunk, of) in chunks.iter().zip(&assignment.of) {
        for i in 0..FRAMES_PER_WINDOW {
            let g = chunk.first + i;
            if g >= total_frames {
                break;
            }
            let bits = chunk.bits(i);
            cover[g] = cover[g].saturating_add(1);
            count_sum[g] += bits.count_ones() as u16;
            // A speaker gets one vote per window, even if two local speakers went to it.
            let mut seen: Vec<usize> = Vec::new();
            for (l, sp) in chunk.locals.iter().zip(of) {
                if let Some(s) = *sp {
                    if bits & (1 << l.slot) != 0 && !seen.contains(&s) {
                        seen.push(s);
                        votes[g * k + s] = votes[g * k + s].saturating_add(1);
                    }
                }
            }
        }
    }
    // Frame g is taken to last from its centre minus half a step to its centre plus half.
    let edge = |g: usize| {
        let centre = g * FRAME_STEP + FRAME_DURATION / 2;
        Ms::from_samples(
            centre.saturating_sub(FRAME_STEP / 2),
            crate::audio::SAMPLE_RATE,
        )
    };
    // Frame by frame, the speakers holding it; a speaker's runs of held frames are closed as
    // they end (no frames × speakers table: 3 hours are 640,000 frames).
    let mut runs: Vec<Vec<Span>> = vec![Vec::new(); k];
    let mut open: Vec<Option<usize>> = vec![None; k];
    let mut held = vec![false; k];
    let mut order: Vec<usize> = (0..k).collect();
    for g in 0..=total_frames {
        held.iter_mut().for_each(|h| *h = false);
        if g < total_frames && cover[g] > 0 {
            let count = (count_sum[g] as f32 / cover[g] as f32).round_ties_even() as usize;
            if count > 0 {
                let v = &votes[g * k..][..k];
                order.sort_by_key(|&s| std::cmp::Reverse(v[s]));
                for &s in order.iter().take(count) {
                    held[s] = v[s] > 0;
                }
            }
        }
        for s in 0..k {
            match (open[s], held[s]) {
                (None, true) => open[s] = Some(g),
                (Some(a), false) => {
                    let span = Span::new(edge(a).min(end), edge(g).min(end));
                    if !span.is_empty() {
                        runs[s].push(span);
                    }
                    open[s] = None;
                }
                _ => {}
            }
        }
    }
    let per_speaker: BTreeMap<usize, Vec<Span>> = runs
        .into_iter()
        .enumerate()
        .filter(|(_, r)| !r.is_empty())
        .collect();
    // Join a speaker's runs across short pauses that others leave (mostly) empty.
    let others_in = |s: usize, gap: Span| -> Ms {
        let mut t = 0;
        for (&o, runs) in &per_speaker {
            if o != s {
                t += runs.iter().map(|r| r.overlap(&gap).0).sum::<u64>();
            }
        }
        Ms(t)
    };
    let mut joined: Vec<(usize, Span)> = Vec::new();
    for (&s, runs) in &per_speaker {
        let mut cur = runs[0];
        for r in &runs[1..] {
            let gap = Span::new(cur.end, r.start);
            if gap.len() < MAX_JOIN_PAUSE && others_in(s, gap).0 * 2 <= gap.len().0 {
                cur.end = r.end;
            } else {
                joined.push((s, cur));
                cur = *r;
            }
        }
        joined.push((s, cur));
    }
    joined.sort_by_key(|(s, span)| (span.start, span.end, *s));
    // Number speakers by first appearance, counting only turns a listener would notice: a
    // stray sliver of a voice before its real first turn must not renumber everyone (the
    // sheet's 話者N names follow the order people first speak in).
    let first_real = |s: usize| {
        joined
            .iter()
            .filter(|(x, _)| *x == s)
            .find(|(_, span)| span.len() >= FIRST_TURN)
            .or_else(|| joined.iter().find(|(x, _)| *x == s))
            .map(|(_, span)| span.start)
    };
    let mut order: Vec<(Ms, usize)> = (0..k)
        .filter_map(|s| first_real(s).map(|t| (t, s)))
        .collect();
    order.sort();
    let mut ids: Vec<u32> = vec![0; k];
    for (n, &(_, s)) in order.iter().enumerate() {
        ids[s] = n as u32 + 1;
    }
    joined
        .into_iter()
        .map(|(s, span)| SpeakerTurn {
            span,
            speaker: SpeakerId(ids[s]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diarize::local::Local;

    fn local(slot: u8) -> Local {
        Local {
            slot,
            origin: slot,
            clean: 0,
            embedding: None,
            parent: None,
        }
    }

    #[test]
    fn votes_become_turns_with_overlap_kept_and_short_pauses_joined() {
        // One window: slot 0 speaks frames 0..300 and 330..589 (a 0.5 s pause), slot 1
        // frames 100..160 on top of it.
        let mut active = vec![0u16; FRAMES_PER_WINDOW];
        for (i, a) in active.iter_mut().enumerate() {
            if !(300..330).contains(&i) {
                *a |= 1;
            }
            if (100..160).contains(&i) {
                *a |= 2;
            }
        }
        let chunk = Chunk {
            first: 0,
            active,
            locals: vec![local(0), local(1)],
        };
        let a = Assignment {
            k: 2,
            of: vec![vec![Some(1), Some(0)]],
        };
        let t = turns(&[chunk], &a, FRAMES_PER_WINDOW, Ms(10_000));
        // Speaker 1 (cluster 1, first to speak) holds the window across the pause; speaker 2
        // overlaps it.
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].speaker, SpeakerId(1));
        assert!(
            t[0].span.start < Ms(50) && t[0].span.end > Ms(9_900),
            "{t:?}"
        );
        assert_eq!(t[1].speaker, SpeakerId(2));
        assert!(
            t[1].span.start > Ms(1_600) && t[1].span.end < Ms(2_800),
            "{t:?}"
        );
    }
}
