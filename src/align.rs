//! Attaching speakers to recognised speech ([`attribute`]): each [`AsrSegment`] becomes one
//! [`Utterance`] of the speaker it overlaps most, or several when a speaker change falls
//! well inside it, split at the token boundary nearest the change. Pure: no audio, no
//! models. Merging consecutive utterances of one speaker is left to the minutes stage.

use crate::types::{
    AsrSegment, AsrToken, Ms, Span, SpeakerId, SpeakerTurn, Transcript, Utterance, UNKNOWN_SPEAKER,
};

/// A speaker must hold at least this much of a segment to get a part of it; shorter
/// overlaps are boundary jitter between diarization and recognition timestamps.
const MIN_PART: Ms = Ms(700);

/// Builds the transcript: every segment gets the speaker with most overlap (or the nearest
/// turn's when none overlaps); segments spanning a change are split at token boundaries.
/// With no turns at all every utterance is [`UNKNOWN_SPEAKER`].
pub fn attribute(
    segments: &[AsrSegment],
    turns: &[SpeakerTurn],
    names: &dyn Fn(SpeakerId) -> String,
) -> Transcript {
    let mut sorted: Vec<&SpeakerTurn> = turns.iter().filter(|t| !t.span.is_empty()).collect();
    sorted.sort_by_key(|t| (t.span.start, t.span.end));
    let mut utterances = Vec::with_capacity(segments.len());
    for seg in segments {
        if sorted.is_empty() {
            utterances.push(whole(seg, UNKNOWN_SPEAKER.to_string()));
            continue;
        }
        let pieces = speaker_pieces(seg.span, &sorted);
        if pieces.len() >= 2 && !seg.tokens.is_empty() {
            let parts = split(seg, &pieces);
            if parts.len() >= 2 {
                utterances.extend(parts.into_iter().map(|(speaker, span, tokens)| {
                    let text = tokens
                        .iter()
                        .map(|t| t.text.as_str())
                        .collect::<String>()
                        .trim()
                        .to_string();
                    let confidence = tokens.iter().map(|t| t.p).sum::<f32>() / tokens.len() as f32;
                    Utterance {
                        span,
                        speaker: names(speaker),
                        text,
                        confidence,
                        tokens,
                        raw_text: None,
                        marks: Vec::new(),
                    }
                }));
                continue;
            }
        }
        let speaker = majority(seg.span, &sorted).unwrap_or_else(|| nearest(seg.span, &sorted));
        utterances.push(whole(seg, names(speaker)));
    }
    let end = segments
        .iter()
        .map(|s| s.span.end)
        .chain(turns.iter().map(|t| t.span.end))
        .max()
        .unwrap_or(Ms(0));
    Transcript {
        utterances,
        duration: end,
        speaker_turns: sorted.into_iter().cloned().collect(),
    }
}

fn whole(seg: &AsrSegment, speaker: String) -> Utterance {
    Utterance {
        span: seg.span,
        speaker,
        text: seg.text.clone(),
        confidence: seg.confidence,
        tokens: seg.tokens.clone(),
        raw_text: None,
        marks: Vec::new(),
    }
}

/// The speaker holding most of `span`, if any turn overlaps it (ties: the earlier turn).
fn majority(span: Span, turns: &[&SpeakerTurn]) -> Option<SpeakerId> {
    let mut totals: Vec<(SpeakerId, u64)> = Vec::new();
    for t in turns {
        let o = t.span.overlap(&span).0;
        if o == 0 {
            continue;
        }
        match totals.iter_mut().find(|(s, _)| *s == t.speaker) {
            Some(e) => e.1 += o,
            None => totals.push((t.speaker, o)),
        }
    }
    // max_by_key keeps the last maximum; reverse so the first-seen speaker wins ties.
    totals.iter().rev().max_by_key(|(_, o)| *o).map(|(s, _)| *s)
}

/// The speaker of the turn closest in time to `span` (no turn overlaps it).
fn nearest(span: Span, turns: &[&SpeakerTurn]) -> SpeakerId {
    let gap = |t: &SpeakerTurn| {
        if t.span.end <= span.start {
            span.start.0 - t.span.end.0
        } else {
            t.span.start.0.saturating_sub(span.end.0)
        }
    };
    turns
        .iter()
        .min_by_key(|t| gap(t))
        .map_or(SpeakerId(1), |t| t.speaker)
}

/// Who speaks where inside `span`: consecutive stretches of one speaker (clipped to the
/// span), dropping stretches shorter than [`MIN_PART`] and merging what then touches.
fn speaker_pieces(span: Span, turns: &[&SpeakerTurn]) -> Vec<(SpeakerId, Span)> {
    let mut pieces: Vec<(SpeakerId, Span)> = Vec::new();
    for t in turns {
        let s = Span::new(t.span.start.max(span.start), t.span.end.min(span.end));
        if s.is_empty() {
            continue;
        }
        match pieces.last_mut() {
            Some((sp, last)) if *sp == t.speaker => last.end = last.end.max(s.end),
            _ => pieces.push((t.speaker, s)),
        }
    }
    let mut kept: Vec<(SpeakerId, Span)> = Vec::new();
    for (sp, s) in pieces.into_iter().filter(|(_, s)| s.len() >= MIN_PART) {
        match kept.last_mut() {
            Some((last_sp, last)) if *last_sp == sp => last.end = s.end,
            _ => kept.push((sp, s)),
        }
    }
    kept
}

/// Splits a segment's tokens among `pieces`: each change point lies midway between two
/// pieces, and the segment is cut at the token boundary nearest to it. Parts left without
/// tokens are dropped (their time goes to the neighbour).
fn split(seg: &AsrSegment, pieces: &[(SpeakerId, Span)]) -> Vec<(SpeakerId, Span, Vec<AsrToken>)> {
    let changes: Vec<u64> = pieces
        .windows(2)
        .map(|w| (w[0].1.end.0 + w[1].1.start.0) / 2)
        .collect();
    // Token i starts part p when its start is the boundary closest to change p - 1.
    let n = seg.tokens.len();
    let mut cut_at: Vec<usize> = Vec::with_capacity(changes.len());
    for &c in &changes {
        let prev = cut_at.last().copied().unwrap_or(0);
        // Boundaries are the token starts 1..n (before token i); pick the one nearest c.
        let best = (prev.max(1)..n)
            .min_by_key(|&i| seg.tokens[i].start.0.abs_diff(c))
            .unwrap_or(n);
        cut_at.push(best.max(prev));
    }
    let mut parts = Vec::with_capacity(pieces.len());
    let mut from = 0;
    for (p, &(speaker, _)) in pieces.iter().enumerate() {
        let to = cut_at.get(p).copied().unwrap_or(n);
        if to > from {
            parts.push((speaker, seg.tokens[from..to].to_vec()));
            from = to;
        }
    }
    // Merge neighbours that ended up with the same speaker after dropping empty parts.
    let mut merged: Vec<(SpeakerId, Vec<AsrToken>)> = Vec::new();
    for (sp, toks) in parts {
        match merged.last_mut() {
            Some((last, t)) if *last == sp => t.extend(toks),
            _ => merged.push((sp, toks)),
        }
    }
    // Spans tile the segment: each part starts at its first token (the first at the
    // segment start) and ends where the next begins.
    let count = merged.len();
    let starts: Vec<Ms> = merged
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            if i == 0 {
                seg.span.start
            } else {
                t[0].start.clamp(seg.span.start, seg.span.end)
            }
        })
        .collect();
    merged
        .into_iter()
        .enumerate()
        .map(|(i, (sp, toks))| {
            let end = if i + 1 < count {
                starts[i + 1]
            } else {
                seg.span.end
            };
            (sp, Span::new(starts[i], end.max(starts[i])), toks)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, s: u64, e: u64, p: f32) -> AsrToken {
        AsrToken {
            text: text.to_string(),
            start: Ms(s),
            end: Ms(e),
            p,
        }
    }

    fn seg(s: u64, e: u64, tokens: Vec<AsrToken>) -> AsrSegment {
        let text = tokens.iter().map(|t| t.text.as_str()).collect();
        AsrSegment {
            span: Span::new(Ms(s), Ms(e)),
            text,
            confidence: 0.9,
            no_speech_prob: 0.01,
            tokens,
        }
    }

    fn turn(s: u64, e: u64, id: u32) -> SpeakerTurn {
        SpeakerTurn {
            span: Span::new(Ms(s), Ms(e)),
            speaker: SpeakerId(id),
        }
    }

    fn names(id: SpeakerId) -> String {
        id.to_string()
    }

    #[test]
    fn segments_take_the_speaker_with_most_overlap() {
        let segments = [
            seg(0, 3000, vec![tok("はい", 0, 3000, 0.9)]),
            seg(3000, 6000, vec![]),
        ];
        // Speaker 2 holds only 400 ms of the first segment: jitter, not a change.
        let turns = [turn(0, 2600, 1), turn(2600, 6000, 2)];
        let t = attribute(&segments, &turns, &names);
        assert_eq!(t.utterances.len(), 2);
        assert_eq!(t.utterances[0].speaker, "話者1");
        assert_eq!(t.utterances[0].text, "はい");
        assert_eq!(t.utterances[0].confidence, 0.9);
        assert_eq!(t.utterances[1].speaker, "話者2");
        assert_eq!(t.duration, Ms(6000));
    }

    #[test]
    fn segment_spanning_a_change_splits_at_the_nearest_token_boundary() {
        // "予算" is two byte-level tokens in whisper; here tokens are already whole strings.
        let tokens = vec![
            tok("本日", 0, 800, 0.9),
            tok("は", 800, 1200, 0.8),
            tok("以上", 1200, 2000, 0.7),
            tok("です。", 2000, 2600, 0.6),
            tok("質問", 2700, 3400, 0.5),
            tok("します", 3400, 4200, 0.3),
        ];
        let segments = [seg(0, 4200, tokens)];
        // The change is at 2650 ms, nearest token boundary: "質問" starting at 2700.
        let turns = [turn(0, 2600, 1), turn(2700, 5000, 2)];
        let t = attribute(&segments, &turns, &names);
        assert_eq!(t.utterances.len(), 2);
        let (a, b) = (&t.utterances[0], &t.utterances[1]);
        assert_eq!(
            (a.speaker.as_str(), a.text.as_str()),
            ("話者1", "本日は以上です。")
        );
        assert_eq!(
            (b.speaker.as_str(), b.text.as_str()),
            ("話者2", "質問します")
        );
        assert_eq!(
            (a.span, b.span),
            (Span::new(Ms(0), Ms(2700)), Span::new(Ms(2700), Ms(4200)))
        );
        assert!((a.confidence - 0.75).abs() < 1e-6);
        assert!((b.confidence - 0.4).abs() < 1e-6);
        assert_eq!(a.tokens.len() + b.tokens.len(), 6);
    }

    #[test]
    fn three_speakers_in_one_segment_and_back() {
        let tokens: Vec<AsrToken> = (0..12)
            .map(|i| tok(&format!("t{i}"), i * 500, i * 500 + 500, 1.0))
            .collect();
        let segments = [seg(0, 6000, tokens)];
        let turns = [turn(0, 2000, 1), turn(2000, 4000, 2), turn(4000, 6000, 1)];
        let t = attribute(&segments, &turns, &names);
        let got: Vec<(&str, &str)> = t
            .utterances
            .iter()
            .map(|u| (u.speaker.as_str(), u.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("話者1", "t0t1t2t3"),
                ("話者2", "t4t5t6t7"),
                ("話者1", "t8t9t10t11")
            ]
        );
    }

    #[test]
    fn no_overlap_takes_the_nearest_turn_and_no_turns_is_unknown() {
        let segments = [seg(10_000, 11_000, vec![]), seg(0, 500, vec![])];
        let turns = [turn(1000, 2000, 1), turn(12_000, 13_000, 2)];
        let t = attribute(&segments, &turns, &names);
        assert_eq!(t.utterances[0].speaker, "話者2");
        assert_eq!(t.utterances[1].speaker, "話者1");
        let t = attribute(&segments, &[], &names);
        assert!(t.utterances.iter().all(|u| u.speaker == UNKNOWN_SPEAKER));
        assert_eq!(t.utterances.len(), 2);
    }

    #[test]
    fn change_inside_a_single_token_keeps_the_segment_whole() {
        let segments = [seg(
            0,
            3000,
            vec![tok("ありがとうございました", 0, 3000, 0.9)],
        )];
        let turns = [turn(0, 1500, 1), turn(1500, 3000, 2)];
        let t = attribute(&segments, &turns, &names);
        assert_eq!(t.utterances.len(), 1);
        assert_eq!(t.utterances[0].text, "ありがとうございました");
    }
}
