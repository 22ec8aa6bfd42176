//! Attaching speakers to recognised speech ([`attribute`]): each [`AsrSegment`] becomes one
//! [`Utterance`] of the speaker holding the floor over most of it, or several when a
//! speaker change falls well inside it and the text has a boundary (punctuation, a pause, or
//! a word boundary such as a particle before a noun) near the change. A segment is never cut
//! inside a word: without such a boundary it stays whole. Where two people speak at once, the text goes to the one holding the floor
//! (the longer turn); the turns themselves, overlaps included, are kept for RTTM and JSON.
//! Pure: no audio, no models. Merging consecutive utterances of one speaker is left to the
//! minutes stage.

use crate::types::{
    AsrSegment, AsrToken, Ms, Span, Speaker, SpeakerId, SpeakerTurn, Transcript, Utterance,
};

/// A speaker must hold at least this much of a segment to get a part of it; shorter
/// overlaps are boundary jitter between diarization and recognition timestamps.
const MIN_PART: Ms = Ms(700);
/// How far from a speaker change the cut may be, to reach a phrase boundary.
const CUT_REACH: Ms = Ms(1000);
/// A gap this long between two tokens is a pause: a phrase boundary even without
/// punctuation.
const CUT_PAUSE: Ms = Ms(200);
/// Longest sentence tail handed back to the speaker before a change (see
/// [`mend_sentence_tails`]): whisper's timestamps put a segment's end up to a second early,
/// so the last words of one speaker's sentence can open the next speaker's text.
const TAIL_REACH: Ms = Ms(2000);

/// Builds the transcript: every segment gets the speaker with most of the floor over it
/// (or the nearest turn's when none overlaps); segments spanning a change are split at the
/// phrase boundary nearest to it. With no turns at all every utterance is
/// [`Speaker::Unknown`].
pub fn attribute(segments: &[AsrSegment], turns: &[SpeakerTurn]) -> Transcript {
    let mut sorted: Vec<&SpeakerTurn> = turns.iter().filter(|t| !t.span.is_empty()).collect();
    sorted.sort_by_key(|t| (t.span.start, t.span.end));
    let floor = floor_holders(&sorted);
    let floor: Vec<&SpeakerTurn> = floor.iter().collect();
    let mut utterances = Vec::with_capacity(segments.len());
    for seg in segments {
        if floor.is_empty() {
            utterances.push(whole(seg, Speaker::Unknown));
            continue;
        }
        let pieces = speaker_pieces(seg.span, &floor);
        if pieces.len() >= 2 && !seg.tokens.is_empty() {
            let parts = split(seg, &pieces);
            if parts.len() >= 2 {
                utterances.extend(parts.into_iter().map(|part| {
                    let text = part
                        .tokens
                        .iter()
                        .map(|t| t.text.as_str())
                        .collect::<String>()
                        .trim()
                        .to_string();
                    let confidence =
                        part.tokens.iter().map(|t| t.p).sum::<f32>() / part.tokens.len() as f32;
                    Utterance {
                        span: part.span,
                        speaker: Speaker::Voice(part.speaker),
                        text,
                        confidence,
                        tokens: part.tokens,
                        raw_text: None,
                        marks: Vec::new(),
                        open_end: part.open_end,
                        new_turn: None,
                        reviewed: false,
                    }
                }));
                continue;
            }
        }
        let speaker = majority(seg.span, &floor).unwrap_or_else(|| nearest(seg.span, &floor));
        utterances.push(whole(seg, Speaker::Voice(speaker)));
    }
    mend_sentence_tails(&mut utterances);
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

fn whole(seg: &AsrSegment, speaker: Speaker) -> Utterance {
    Utterance {
        span: seg.span,
        speaker,
        text: seg.text.clone(),
        confidence: seg.confidence,
        tokens: seg.tokens.clone(),
        raw_text: None,
        marks: Vec::new(),
        open_end: false,
        new_turn: None,
        reviewed: false,
    }
}

/// Who holds the floor when: the turns made disjoint, overlapping stretches going to the
/// longer of the turns there (the one speaking, not the 「はい」 on top of it; ties to the
/// earlier). `turns` are sorted by start.
fn floor_holders(turns: &[&SpeakerTurn]) -> Vec<SpeakerTurn> {
    let mut points: Vec<Ms> = turns
        .iter()
        .flat_map(|t| [t.span.start, t.span.end])
        .collect();
    points.sort();
    points.dedup();
    let mut out: Vec<SpeakerTurn> = Vec::new();
    let mut active: Vec<&SpeakerTurn> = Vec::new();
    let mut next = 0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        while next < turns.len() && turns[next].span.start <= a {
            active.push(turns[next]);
            next += 1;
        }
        active.retain(|t| t.span.end > a);
        let Some(holder) = active
            .iter()
            .filter(|t| t.span.start <= a && t.span.end >= b)
            .max_by_key(|t| (t.span.len(), std::cmp::Reverse(t.span.start)))
        else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.speaker == holder.speaker && last.span.end == a => last.span.end = b,
            _ => out.push(SpeakerTurn {
                span: Span::new(a, b),
                speaker: holder.speaker,
            }),
        }
    }
    out
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

/// One speaker's share of a split segment.
struct Part {
    speaker: SpeakerId,
    span: Span,
    tokens: Vec<AsrToken>,
    /// Cut at a pause without punctuation: the sentence may go on.
    open_end: bool,
}

fn ends_with_punctuation(text: &str) -> bool {
    text.trim_end().ends_with([
        '。', '、', '？', '！', '?', '!', '.', ',', '，', '．', '…', '」',
    ])
}

/// Whether the boundary between two tokens is a word boundary in Japanese text: after
/// hiragana (a particle or an inflection) before a kanji, katakana, digit or Latin word, or
/// at a space. Never between two kanji (資|料) or before okurigana (開|き).
fn word_boundary(prev: &str, next: &str) -> bool {
    let hiragana = |c: char| ('\u{3041}'..='\u{309F}').contains(&c);
    let (Some(p), Some(n)) = (prev.chars().last(), next.chars().next()) else {
        return false;
    };
    n == ' ' || p == ' ' || (hiragana(p) && !hiragana(n) && n.is_alphanumeric())
}

/// Punctuation that never opens a sentence.
const PUNCT: &str = "、。，．？！?!…";

/// Whether the join of two tokens may be inside a word: between two kanji (資|料), or
/// between a kanji and hiragana that may be its okurigana (分|かりました) rather than a
/// word that opens what someone says (説明|はい、お願いします).
fn inside_word(prev: &str, next: &str) -> bool {
    const OPENERS: [&str; 24] = [
        "はい",
        "ええ",
        "えー",
        "あの",
        "あー",
        "うん",
        "いえ",
        "いや",
        "そう",
        "その",
        "それ",
        "これ",
        "では",
        "じゃ",
        "まず",
        "また",
        "なお",
        "ただ",
        "どうぞ",
        "よろしく",
        "ありがと",
        "すみません",
        "すいません",
        "お",
    ];
    let kanji = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c) || c == '々';
    let hiragana = |c: char| ('\u{3041}'..='\u{309F}').contains(&c);
    let next = next.trim_start();
    match (prev.trim_end().chars().last(), next.chars().next()) {
        (Some(p), Some(n)) if kanji(p) => {
            kanji(n) || (hiragana(n) && !OPENERS.iter().any(|o| next.starts_with(o)))
        }
        _ => false,
    }
}

/// Whether `text` goes on a sentence begun before it: it opens with what never starts a
/// Japanese sentence (an inflection or auxiliary such as ます・です・ません・ください・と思い, a
/// case particle, a small kana, ん or ー, or punctuation).
fn continues(text: &str) -> bool {
    const HEADS: [&str; 30] = [
        "です",
        "でし",
        "でご",
        "ござ",
        "ます",
        "まし",
        "ませ",
        "ません",
        "くださ",
        "いたし",
        "います",
        "いまし",
        "いませ",
        "おりま",
        "おり、",
        "しょう",
        "と思",
        "とおも",
        "ない",
        "なかっ",
        "られ",
        "れま",
        "れる",
        "させ",
        "ので",
        "んです",
        "んで",
        "を",
        "が、",
        "か。",
    ];
    let t = text.trim_start();
    let Some(c) = t.chars().next() else {
        return false;
    };
    "ぁぃぅぇぉっゃゅょゎんァィゥェォッャュョヮンー".contains(c)
        || PUNCT.contains(c)
        || HEADS.iter().any(|h| t.starts_with(h))
}

/// Sentence-final punctuation: where a speaker may stop.
fn ends_sentence(text: &str) -> bool {
    text.trim_end()
        .ends_with(['。', '？', '！', '?', '!', '…', '」'])
}

/// Hands a sentence's tail back across a change of speaker: when an utterance stops without
/// a sentence end and the next speaker's text opens with its continuation (「…行うの」 /
/// 「ですか。」), the tokens up to that sentence's end (at most [`TAIL_REACH`] long) belong
/// to the first speaker. People finish their own sentences; whisper's segment ends and the
/// diarization's change points are both a little early or late, and the join of the two
/// otherwise gives the next speaker the words 「ですか。」 or 「と思います。」.
fn mend_sentence_tails(utterances: &mut Vec<Utterance>) {
    let mut emptied = vec![false; utterances.len()];
    for i in 1..utterances.len() {
        let (before, after) = utterances.split_at_mut(i);
        let (prev, next) = (&mut before[i - 1], &mut after[0]);
        if prev.speaker == next.speaker
            || ends_sentence(&prev.text)
            || next.tokens.is_empty()
            || prev.tokens.is_empty()
            || !continues(&next.text)
        {
            continue;
        }
        let start = next.tokens[0].start;
        let is_punct = |t: &AsrToken| {
            !t.text.trim().is_empty() && t.text.trim().chars().all(|c| PUNCT.contains(c))
        };
        // Punctuation whisper put at the head of the next segment (「、」「。」) ends the
        // sentence before it: only that goes back. Otherwise up to the sentence's end, or
        // all of it when it has none.
        let last = if is_punct(&next.tokens[0]) {
            next.tokens.iter().take_while(|t| is_punct(t)).count() - 1
        } else {
            next.tokens
                .iter()
                .position(|t| ends_sentence(&t.text))
                .unwrap_or(next.tokens.len() - 1)
        };
        if next.tokens[last].end.0.saturating_sub(start.0) > TAIL_REACH.0 {
            continue;
        }
        let moved: Vec<AsrToken> = next.tokens.drain(..=last).collect();
        prev.span.end = prev.span.end.max(moved[moved.len() - 1].end);
        prev.tokens.extend(moved);
        prev.open_end = false;
        retext(prev);
        if let Some(first) = next.tokens.first() {
            next.span.start = first.start.clamp(next.span.start, next.span.end);
        } else {
            emptied[i] = true;
        }
        retext(next);
    }
    // Utterances whose every token went back: nothing of theirs is left.
    let mut gone = emptied.into_iter();
    utterances.retain(|_| !gone.next().unwrap_or(false));
}

/// Text and confidence again from an utterance's tokens.
fn retext(u: &mut Utterance) {
    u.text = u
        .tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<String>()
        .trim()
        .to_string();
    if !u.tokens.is_empty() {
        u.confidence = u.tokens.iter().map(|t| t.p).sum::<f32>() / u.tokens.len() as f32;
    }
}

/// Splits a segment's tokens among `pieces`. Each change point (midway between two pieces)
/// is cut at the nearest phrase boundary within [`CUT_REACH`]: after punctuation, at a
/// pause of [`CUT_PAUSE`], or at a word boundary ([`word_boundary`]). A change with no boundary near it is not cut; the stretch then
/// goes to whoever holds most of it.
fn split(seg: &AsrSegment, pieces: &[(SpeakerId, Span)]) -> Vec<Part> {
    let tokens = &seg.tokens;
    let n = tokens.len();
    let punct = |i: usize| ends_with_punctuation(&tokens[i - 1].text);
    // A gap in whisper's token times is weak evidence: inside a word (資|料, 分|かりました)
    // it is no place to cut, whatever the gap.
    let pause = |i: usize| {
        tokens[i].start.0.saturating_sub(tokens[i - 1].end.0) >= CUT_PAUSE.0
            && !inside_word(&tokens[i - 1].text, &tokens[i].text)
    };
    let word = |i: usize| word_boundary(&tokens[i - 1].text, &tokens[i].text);
    let mut cuts: Vec<usize> = Vec::new();
    for w in pieces.windows(2) {
        // The change is the stretch between the two turns (a long pause is all change), so
        // the reach is measured from its edges and a token inside it is at distance 0.
        let (g0, g1) = {
            let (a, b) = (w[0].1.end.0, w[1].1.start.0);
            (a.min(b), a.max(b))
        };
        let mid = (g0 + g1) / 2;
        let dist = |t: u64| g0.saturating_sub(t).max(t.saturating_sub(g1));
        let from = cuts.last().map_or(1, |&c| c + 1);
        // Within reach, the end of a sentence beats a pause, which beats a word boundary:
        // token times are rough (DTW can put a word a second early), the punctuation is not.
        let strength = |i: usize| {
            if punct(i) {
                0
            } else if pause(i) {
                1
            } else {
                2
            }
        };
        let best = (from..n)
            .filter(|&i| punct(i) || pause(i) || word(i))
            .filter(|&i| dist(tokens[i].start.0) <= CUT_REACH.0)
            .min_by_key(|&i| {
                (
                    strength(i),
                    dist(tokens[i].start.0),
                    tokens[i].start.0.abs_diff(mid),
                )
            });
        if let Some(i) = best {
            cuts.push(i);
        }
    }
    let start_of = |i: usize| {
        if i == 0 {
            seg.span.start
        } else {
            tokens[i].start.clamp(seg.span.start, seg.span.end)
        }
    };
    let mut bounds = vec![0];
    bounds.extend(&cuts);
    bounds.push(n);
    let mut parts: Vec<Part> = Vec::new();
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let span = Span::new(
            start_of(a),
            if b < n { start_of(b) } else { seg.span.end }.max(start_of(a)),
        );
        let holder = pieces
            .iter()
            .map(|(sp, s)| (*sp, s.overlap(&span).0))
            .fold(Vec::<(SpeakerId, u64)>::new(), |mut acc, (sp, o)| {
                match acc.iter_mut().find(|(x, _)| *x == sp) {
                    Some(e) => e.1 += o,
                    None => acc.push((sp, o)),
                }
                acc
            })
            .into_iter()
            .rev()
            .max_by_key(|(_, o)| *o)
            .map_or(pieces[0].0, |(sp, _)| sp);
        let open_end = b < n && !punct(b);
        match parts.last_mut() {
            Some(last) if last.speaker == holder => {
                last.tokens.extend_from_slice(&tokens[a..b]);
                last.span.end = span.end;
                last.open_end = open_end;
            }
            _ => parts.push(Part {
                speaker: holder,
                span,
                tokens: tokens[a..b].to_vec(),
                open_end,
            }),
        }
    }
    parts
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

    /// Who said what, in order.
    fn said(t: &Transcript) -> Vec<(Speaker, &str)> {
        t.utterances
            .iter()
            .map(|u| (u.speaker.clone(), u.text.as_str()))
            .collect()
    }

    fn v(id: u32) -> Speaker {
        Speaker::Voice(SpeakerId(id))
    }

    fn turn(s: u64, e: u64, id: u32) -> SpeakerTurn {
        SpeakerTurn {
            span: Span::new(Ms(s), Ms(e)),
            speaker: SpeakerId(id),
        }
    }

    #[test]
    fn segments_take_the_speaker_with_most_overlap() {
        let segments = [
            seg(0, 3000, vec![tok("はい", 0, 3000, 0.9)]),
            seg(3000, 6000, vec![]),
        ];
        // Speaker 2 holds only 400 ms of the first segment: jitter, not a change.
        let turns = [turn(0, 2600, 1), turn(2600, 6000, 2)];
        let t = attribute(&segments, &turns);
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
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances.len(), 2);
        let (a, b) = (&t.utterances[0], &t.utterances[1]);
        assert_eq!(
            (a.speaker.clone(), a.text.as_str()),
            (v(1), "本日は以上です。")
        );
        assert_eq!((b.speaker.clone(), b.text.as_str()), (v(2), "質問します"));
        assert_eq!(
            (a.span, b.span),
            (Span::new(Ms(0), Ms(2700)), Span::new(Ms(2700), Ms(4200)))
        );
        assert!((a.confidence - 0.75).abs() < 1e-6);
        assert!((b.confidence - 0.4).abs() < 1e-6);
        assert_eq!(a.tokens.len() + b.tokens.len(), 6);
    }

    #[test]
    fn a_long_pause_between_turns_is_cut_at_its_far_edge_too() {
        // One segment over a 4-s pause (packed decoding gives these): the first speaker's
        // last token ends into the pause, the second speaker's first token starts 0.4 s
        // after their turn does, 2.4 s from the middle of the pause.
        let tokens = vec![
            tok("予定して", 0, 1500, 0.9),
            tok("おります。", 1500, 5100, 0.9),
            tok("導入", 5400, 6000, 0.9),
            tok("後は", 6000, 7000, 0.9),
        ];
        let segments = [seg(0, 7000, tokens)];
        let turns = [turn(0, 1000, 1), turn(5000, 7000, 2)];
        let t = attribute(&segments, &turns);
        assert_eq!(said(&t), [(v(1), "予定しております。"), (v(2), "導入後は")]);
    }

    #[test]
    fn three_speakers_in_one_segment_and_back_at_punctuation() {
        let tokens: Vec<AsrToken> = (0..12)
            .map(|i| {
                let text = if i % 4 == 3 {
                    format!("t{i}。")
                } else {
                    format!("t{i}")
                };
                tok(&text, i * 500, i * 500 + 500, 1.0)
            })
            .collect();
        let segments = [seg(0, 6000, tokens)];
        let turns = [turn(0, 2000, 1), turn(2000, 4000, 2), turn(4000, 6000, 1)];
        let t = attribute(&segments, &turns);
        let got: Vec<(Speaker, &str, bool)> = t
            .utterances
            .iter()
            .map(|u| (u.speaker.clone(), u.text.as_str(), u.open_end))
            .collect();
        assert_eq!(
            got,
            [
                (v(1), "t0t1t2t3。", false),
                (v(2), "t4t5t6t7。", false),
                (v(1), "t8t9t10t11。", false)
            ]
        );
    }

    #[test]
    fn a_change_inside_running_words_does_not_cut_them() {
        // 「説明資料です」 with no pause, no punctuation and no particle before a word: the
        // change at 1 s falls inside 資料, so the segment stays whole with the speaker holding
        // most of it.
        let tokens = vec![
            tok("説明", 0, 600, 0.9),
            tok("資", 600, 1000, 0.9),
            tok("料", 1000, 1500, 0.9),
            tok("です", 1500, 3000, 0.9),
        ];
        let segments = [seg(0, 3000, tokens)];
        let turns = [turn(0, 1000, 1), turn(1000, 3000, 2)];
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances.len(), 1);
        assert_eq!(t.utterances[0].speaker, "話者2");
        assert_eq!(t.utterances[0].text, "説明資料です");
    }

    #[test]
    fn a_particle_before_a_word_is_a_place_to_cut() {
        // 「資料の|3ページを開き」: the change near 1.1 s is cut after の, never inside 資料.
        let tokens = vec![
            tok("資", 0, 400, 0.9),
            tok("料の", 400, 1000, 0.9),
            tok("3ページ", 1000, 1900, 0.9),
            tok("を開き", 1900, 3000, 0.9),
        ];
        let segments = [seg(0, 3000, tokens)];
        let turns = [turn(0, 1100, 1), turn(1100, 3000, 2)];
        let t = attribute(&segments, &turns);
        let got: Vec<(Speaker, &str, bool)> = t
            .utterances
            .iter()
            .map(|u| (u.speaker.clone(), u.text.as_str(), u.open_end))
            .collect();
        assert_eq!(
            got,
            [(v(1), "資料の", true), (v(2), "3ページを開き", false)]
        );
        assert!(!word_boundary("資", "料") && !word_boundary("開", "き"));
    }

    #[test]
    fn a_pause_without_punctuation_cuts_and_leaves_the_end_open() {
        let tokens = vec![
            tok("それでは", 0, 800, 0.9),
            tok("説明", 800, 1500, 0.9),
            // 400 ms pause: the new speaker starts here.
            tok("はい", 1900, 2400, 0.9),
            tok("お願いします", 2400, 3600, 0.9),
        ];
        let segments = [seg(0, 3600, tokens)];
        let turns = [turn(0, 1600, 1), turn(1800, 3600, 2)];
        let t = attribute(&segments, &turns);
        let got: Vec<(Speaker, &str, bool)> = t
            .utterances
            .iter()
            .map(|u| (u.speaker.clone(), u.text.as_str(), u.open_end))
            .collect();
        assert_eq!(
            got,
            [
                (v(1), "それでは説明", true),
                (v(2), "はいお願いします", false)
            ]
        );
    }

    #[test]
    fn overlapping_interjection_keeps_the_text_with_the_speaker_and_both_turns() {
        let tokens = vec![
            tok("予算について", 0, 1500, 0.9),
            tok("ご説明します。", 1500, 3000, 0.9),
            tok("まず", 3000, 3600, 0.9),
            tok("歳入です。", 3600, 5000, 0.9),
        ];
        let segments = [seg(0, 5000, tokens)];
        // Speaker 2 says 「はい」 for 0.9 s on top of speaker 1, right at the 「。」.
        let turns = [turn(0, 5000, 1), turn(2700, 3600, 2)];
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances.len(), 1);
        assert_eq!(t.utterances[0].speaker, "話者1");
        assert_eq!(t.speaker_turns.len(), 2, "RTTM and JSON keep both turns");
    }

    #[test]
    fn no_overlap_takes_the_nearest_turn_and_no_turns_is_unknown() {
        let segments = [seg(10_000, 11_000, vec![]), seg(0, 500, vec![])];
        let turns = [turn(1000, 2000, 1), turn(12_000, 13_000, 2)];
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances[0].speaker, "話者2");
        assert_eq!(t.utterances[1].speaker, "話者1");
        let t = attribute(&segments, &[]);
        assert!(t.utterances.iter().all(|u| u.speaker == Speaker::Unknown));
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
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances.len(), 1);
        assert_eq!(t.utterances[0].text, "ありがとうございました");
    }

    #[test]
    fn a_sentence_tail_opening_the_next_speakers_text_goes_back() {
        // Whisper ended the first segment early: 「ですか。」 is the questioner's, the call
        // 「総務課長」 after it the chair's.
        let segments = [
            seg(
                0,
                3000,
                vec![
                    tok("どのように", 0, 1500, 0.9),
                    tok("行うの", 1500, 3000, 0.9),
                ],
            ),
            seg(
                3000,
                5000,
                vec![
                    tok("です", 3000, 3300, 0.8),
                    tok("か。", 3300, 3600, 0.6),
                    tok("総務", 3700, 4300, 0.9),
                    tok("課長", 4300, 5000, 0.9),
                ],
            ),
        ];
        let turns = [turn(0, 2900, 1), turn(2900, 5000, 2)];
        let t = attribute(&segments, &turns);
        let got = said(&t);
        assert_eq!(
            got,
            [(v(1), "どのように行うのですか。"), (v(2), "総務課長")]
        );
        let (a, b) = (&t.utterances[0], &t.utterances[1]);
        assert_eq!((a.span.end, b.span.start), (Ms(3600), Ms(3700)));
        assert_eq!(a.tokens.len() + b.tokens.len(), 6);
        assert!((b.confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_whole_utterance_that_finishes_the_last_sentence_joins_it() {
        let segments = [
            seg(
                0,
                2000,
                vec![
                    tok("他に質疑は", 0, 1500, 0.9),
                    tok("あり", 1500, 2000, 0.9),
                ],
            ),
            seg(2000, 2800, vec![tok("ません。", 2000, 2800, 0.9)]),
            seg(3000, 5000, vec![tok("異議なし。", 3000, 5000, 0.9)]),
        ];
        let turns = [turn(0, 1900, 1), turn(1900, 5000, 2)];
        let t = attribute(&segments, &turns);
        let got = said(&t);
        assert_eq!(
            got,
            [(v(1), "他に質疑はありません。"), (v(2), "異議なし。")]
        );
    }

    #[test]
    fn a_new_sentence_or_a_long_tail_stays_with_the_next_speaker() {
        // The chair's call has no 。, but 「それで」 starts a sentence of its own.
        let call = || {
            seg(
                0,
                1500,
                vec![
                    tok("小林委員、", 0, 900, 0.9),
                    tok("どうぞ", 900, 1500, 0.9),
                ],
            )
        };
        let segments = [
            call(),
            seg(1500, 3000, vec![tok("それで結構です。", 1500, 3000, 0.9)]),
        ];
        let turns = [turn(0, 1400, 1), turn(1400, 3000, 2)];
        let t = attribute(&segments, &turns);
        assert_eq!(t.utterances[1].speaker, v(2));
        assert_eq!(t.utterances[1].text, "それで結構です。");
        // A continuation whose sentence runs on for more than two seconds is left alone.
        let segments = [
            call(),
            seg(
                1500,
                5000,
                vec![
                    tok("ます", 1500, 2000, 0.9),
                    tok("ので、長く続く話です。", 2000, 5000, 0.9),
                ],
            ),
        ];
        let t = attribute(&segments, &[turn(0, 1400, 1), turn(1400, 5000, 2)]);
        assert_eq!(t.utterances.len(), 2);
        assert_eq!(t.utterances[1].text, "ますので、長く続く話です。");
    }

    #[test]
    fn a_cut_before_an_inflection_is_mended() {
        // 「行うの … ですか。」 with a 300 ms gap in the token times, the change near it: the
        // cut there gives the next speaker 「ですか。」 until the tail goes back.
        let tokens = vec![
            tok("どのように", 0, 1200, 0.9),
            tok("行うの", 1200, 2000, 0.9),
            tok("です", 2300, 2600, 0.9),
            tok("か。", 2600, 2900, 0.9),
            tok("お答え", 2900, 3800, 0.9),
            tok("します。", 3800, 5000, 0.9),
        ];
        let segments = [seg(0, 5000, tokens)];
        let turns = [turn(0, 2100, 1), turn(2200, 5000, 2)];
        let t = attribute(&segments, &turns);
        let got = said(&t);
        assert_eq!(
            got,
            [(v(1), "どのように行うのですか。"), (v(2), "お答えします。")]
        );
        assert!(continues("ですか。") && continues("ません。") && continues("と思います"));
        assert!(!continues("はい。") && !continues("それでは") && !continues("まず、"));
    }

    #[test]
    fn a_pause_inside_a_word_is_no_place_to_cut() {
        // 「分|かりました。」 with a 300 ms gap in whisper's token times nearer the change than
        // the sentence end: the cut goes to the sentence end.
        let tokens = vec![
            tok("分", 0, 300, 0.9),
            tok("かりました。", 600, 1200, 0.9),
            tok("委員長", 1300, 1800, 0.9),
            tok("は。", 1800, 2200, 0.9),
        ];
        let t = attribute(
            &[seg(0, 2200, tokens)],
            &[turn(0, 900, 1), turn(900, 2200, 2)],
        );
        let got = said(&t);
        assert_eq!(got, [(v(1), "分かりました。"), (v(2), "委員長は。")]);
        assert!(inside_word("資", "料") && inside_word("分", "かり"));
        assert!(!inside_word("ます。", "資料") && !inside_word("課長", "、"));
        assert!(!inside_word("説明", "はい") && !inside_word("課長", "お答え"));
    }

    #[test]
    fn punctuation_opening_the_next_speakers_text_goes_back_alone() {
        // The chair's call 「総務課長」 ended where whisper put 「、」 at the head of the
        // answer: the comma is the call's, 「お答えします。」 stays the answer's.
        let segments = [
            seg(0, 1000, vec![tok("総務課長", 0, 1000, 0.9)]),
            seg(
                1000,
                2500,
                vec![
                    tok("、", 1000, 1100, 0.5),
                    tok("お答え", 1100, 1800, 0.9),
                    tok("します。", 1800, 2500, 0.9),
                ],
            ),
        ];
        let t = attribute(&segments, &[turn(0, 1000, 1), turn(1000, 2500, 2)]);
        let got = said(&t);
        assert_eq!(got, [(v(1), "総務課長、"), (v(2), "お答えします。")]);
    }
}
