//! The hallucination guard: a post-filter over one decoded window's [`AsrSegment`]s that
//! removes what Whisper is known to invent when the audio under it is not speech. [`apply`]
//! is the entry; [`GuardContext`] carries what it checks against (the VAD's speech spans, the
//! initial prompt). Rules, in order:
//!
//! 1. **Repetition loops** ([`collapse_repeats`]): a phrase of at least 2 characters repeated
//!    3 or more times in a row is kept once (`はい、はい、はい、` → `はい、`), then three or
//!    more consecutive segments with the same text are kept once.
//! 2. **Degenerate text**: a segment whose UTF-8 text still compresses by more than
//!    [`COMPRESSION_RATIO_MAX`] with deflate (Whisper's own test) is dropped.
//! 3. **Silence**: a segment that lies mostly outside the VAD's speech and that Whisper itself
//!    doubted (high no-speech probability or low mean log-probability) is dropped.
//! 4. **Silence phrases** ([`SILENCE_PHRASES`]): video-subtitle phrases (ご視聴ありがとう
//!    ございました, チャンネル登録, 字幕: …) are cut out when the audio under them is not
//!    speech by the VAD or Whisper's no-speech probability; ご清聴ありがとうございました, which
//!    a speaker may really say, needs both.
//! 5. **Prompt copies**: a segment that repeats a stretch of the initial prompt running over
//!    two or more of its items is dropped (Whisper copies its prompt into silence).
//!
//! Text edits keep the segment's tokens in step (`text` is always the tokens joined and
//! trimmed), so speaker splitting and confidence marks still line up.

use std::io::Write;

use crate::types::{AsrSegment, AsrToken, Ms, Span};

/// Whisper's degenerate-output test: text whose deflate-compressed size is less than
/// 1/2.4 of its size is a loop.
pub const COMPRESSION_RATIO_MAX: f32 = 2.4;
/// A phrase must be at least this many characters to count as a repetition loop (single
/// characters repeat legitimately: ははは, ーーー).
pub const REPEAT_MIN_CHARS: usize = 2;
/// …and repeat at least this many times in a row.
pub const REPEAT_MIN_TIMES: usize = 3;
/// Longest phrase searched for repetition, in characters.
const REPEAT_MAX_CHARS: usize = 60;
/// A segment (or phrase) with less than this share of its time inside VAD speech is "outside
/// speech".
pub const MIN_SPEECH_SHARE: f32 = 0.5;
/// Whisper's no-speech probability above which the window is taken as non-speech
/// (whisper.cpp's own `no_speech_thold`).
pub const NO_SPEECH_HIGH: f32 = 0.6;
/// Mean natural-log token probability below which a segment is a guess (whisper.cpp's
/// `logprob_thold`).
pub const LOGPROB_LOW: f32 = -1.0;
/// Uncovered speech shorter than this is not decoded again (a cough, a chair).
pub const RECOVER_MIN_SPEECH: Ms = Ms(2_000);
/// Speech this close to a segment counts as covered by it.
pub const COVER_SLACK: Ms = Ms(500);
/// A gap between the start times of two consecutive words of a segment longer than this is
/// speech the decoder jumped over, not a pause (pauses inside a turn are under 2 s, and a
/// word takes well under a second).
pub const WORD_LEAP: Ms = Ms(4_000);
/// Time given to the last word of a part cut at a leap (its own end time is whisper's
/// guess, not DTW's).
const WORD_TAIL: Ms = Ms(1_000);
/// A prompt copy must be at least this long (normalised characters) to be dropped.
const PROMPT_COPY_MIN_CHARS: usize = 6;

/// Phrases Whisper produces over silence and music, learnt from subtitled video. `strong`
/// ones are never expected in a meeting recording unless someone really says them, so
/// one sign of non-speech is enough to cut them; the others need two.
pub const SILENCE_PHRASES: &[(&str, bool)] = &[
    ("最後までご視聴いただきありがとうございました", true),
    ("最後までご覧いただきありがとうございました", true),
    ("ご視聴ありがとうございました", true),
    ("ご視聴ありがとうございます", true),
    ("ご覧いただきありがとうございました", true),
    ("チャンネル登録よろしくお願いします", true),
    ("チャンネル登録お願いします", true),
    ("チャンネル登録", true),
    ("高評価よろしくお願いします", true),
    ("次回もお楽しみに", true),
    ("字幕:", true),
    ("字幕：", true),
    ("字幕by", true),
    ("字幕作成", true),
    ("字幕制作", true),
    ("ご清聴ありがとうございました", false),
];

/// What the guard checks a window's segments against.
#[derive(Debug, Clone, Copy)]
pub struct GuardContext<'a> {
    /// Speech spans from the VAD (absolute times, sorted).
    pub speech: &'a [Span],
    /// The initial prompt given to Whisper, if any.
    pub prompt: Option<&'a str>,
}

/// Runs every rule over the segments of one window (or a whole recording) and returns
/// what survives, in order. Decisions are logged at debug level.
pub fn apply(segments: Vec<AsrSegment>, ctx: &GuardContext) -> Vec<AsrSegment> {
    let prompt = ctx.prompt.map(PromptIndex::new);
    let mut out: Vec<AsrSegment> = Vec::with_capacity(segments.len());
    for mut seg in segments {
        let before = seg.text.clone();
        let keep = collapse_repeats(&seg.text);
        if keep.iter().any(|k| !k) {
            retain_chars(&mut seg, &keep);
            tracing::debug!(from = %before, to = %seg.text, "guard: repetition collapsed");
        }
        if let Some(reason) = drop_reason(&seg, ctx, prompt.as_ref()) {
            tracing::debug!(text = %seg.text, span = %format!("{}-{}", seg.span.start, seg.span.end),
                no_speech = seg.no_speech_prob, logprob = mean_logprob(&seg), reason, "guard: segment dropped");
            continue;
        }
        cut_silence_phrases(&mut seg, ctx.speech);
        if seg.text.chars().any(is_content) {
            out.push(seg);
        } else {
            tracing::debug!(text = %before, "guard: silence phrase removed");
        }
    }
    drop_repeated_segments(out)
}

/// Characters per second of speech below which a decode has lost most of what was said
/// (Japanese meeting speech gives about 5 written characters a second; a window that
/// slipped into a prompt echo or a stray English word gives well under 1).
pub const SPARSE_CHARS_PER_SEC: f32 = 1.5;
/// Speech a window needs before its text density is judged.
const SPARSE_MIN_SPEECH: Ms = Ms(4_000);

/// True when `segments` hold far too little text for the speech in `window`: an initial
/// prompt sometimes sends whisper.cpp into a stray word or an echo of the prompt that
/// claims the whole window, so nothing is left uncovered to decode again.
pub fn too_sparse(window: Span, speech: &[Span], segments: &[AsrSegment]) -> bool {
    let speech_ms: u64 = speech.iter().map(|s| s.overlap(&window).0).sum();
    if speech_ms < SPARSE_MIN_SPEECH.0 {
        return false;
    }
    (content_chars(segments) as f32) < SPARSE_CHARS_PER_SEC * speech_ms as f32 / 1000.0
}

/// Letters, kana, kanji and digits in `segments` (punctuation and spaces not counted).
pub fn content_chars(segments: &[AsrSegment]) -> usize {
    segments
        .iter()
        .map(|s| s.text.chars().filter(|&c| is_content(c)).count())
        .sum()
}

/// Speech inside a window that no segment covers, grouped into windows worth decoding again:
/// whisper.cpp sometimes ends a window early and the rest of its speech is lost (more often
/// with an initial prompt). Speech within [`COVER_SLACK`] of a segment counts as covered
/// (segment times are approximate); a gap needs [`RECOVER_MIN_SPEECH`] of speech.
///
/// Inside a segment, the decoder may also jump: its words' start times (DTW) leap over a
/// stretch of speech that got no words (a quiet, far voice after a loud one is skipped
/// whole). A leap longer than [`WORD_LEAP`] splits the segment's cover there, leaving the
/// speech between the last word before (given [`COVER_SLACK`] to end) and the next word
/// uncovered, so it is decoded again.
pub fn uncovered_speech(window: Span, speech: &[Span], segments: &[AsrSegment]) -> Vec<Span> {
    let widen = |s: Span| {
        Span::new(
            Ms(s.start.0.saturating_sub(COVER_SLACK.0)),
            Ms(s.end.0 + COVER_SLACK.0),
        )
    };
    let mut covered: Vec<Span> = segments.iter().map(|s| widen(s.span)).collect();
    covered.sort();
    let mut pieces: Vec<Span> = Vec::new();
    for sp in speech {
        let mut rest = vec![Span::new(
            sp.start.max(window.start),
            sp.end.min(window.end),
        )];
        for c in &covered {
            rest = rest
                .into_iter()
                .flat_map(|r| {
                    let left = Span::new(r.start, r.end.min(c.start));
                    let right = Span::new(r.start.max(c.end), r.end);
                    [left, right]
                })
                .filter(|r| !r.is_empty())
                .collect();
        }
        pieces.extend(rest);
    }
    pieces.sort();
    crate::asr::plan_windows(&pieces)
        .into_iter()
        .filter(|w| {
            let speech_ms: u64 = pieces.iter().map(|p| p.overlap(w).0).sum();
            speech_ms >= RECOVER_MIN_SPEECH.0
        })
        .collect()
}

/// Segments cut where the decoder jumped: whisper sometimes leaps over a stretch of speech
/// inside a segment and writes no words for it (a quiet, far voice after a loud one is
/// skipped whole), its words' start times (DTW) then jump by more than [`WORD_LEAP`]. The
/// segment is cut there (each part's text from its own tokens) and a segment that opens
/// (closes) that long before its first (after its last) word is trimmed to its words, so
/// [`uncovered_speech`] finds the skipped speech and what is decoded again sorts in between.
pub fn split_at_leaps(segments: Vec<AsrSegment>) -> Vec<AsrSegment> {
    let leap = |a: Ms, b: Ms| b.0.saturating_sub(a.0) > WORD_LEAP.0;
    let mut out = Vec::with_capacity(segments.len());
    for seg in segments {
        let toks = &seg.tokens;
        let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
            out.push(seg);
            continue;
        };
        let cuts: Vec<usize> = (1..toks.len())
            .filter(|&i| leap(toks[i - 1].start, toks[i].start))
            .collect();
        let early = leap(seg.span.start, first.start);
        let late = leap(last.start, seg.span.end);
        if cuts.is_empty() && !early && !late {
            out.push(seg);
            continue;
        }
        let mut bounds = vec![0];
        bounds.extend(&cuts);
        bounds.push(toks.len());
        for (k, w) in bounds.windows(2).enumerate() {
            let part = &toks[w[0]..w[1]];
            let start = if k == 0 && !early {
                seg.span.start
            } else {
                part[0].start
            };
            let end = if w[1] == toks.len() && !late {
                seg.span.end
            } else {
                Ms(part[part.len() - 1].start.0 + WORD_TAIL.0)
            };
            let text: String = part.iter().map(|t| t.text.as_str()).collect();
            out.push(AsrSegment {
                span: Span::new(start, end.max(start)),
                text: text.trim().to_string(),
                confidence: part.iter().map(|t| t.p).sum::<f32>() / part.len() as f32,
                no_speech_prob: seg.no_speech_prob,
                tokens: part.to_vec(),
            });
        }
    }
    out.retain(|s| !s.text.is_empty());
    out
}

/// Share of a re-decoded segment's character pairs already in the window's text above which
/// it is the same words again, not skipped speech.
pub const ALREADY_SAID_SHARE: f32 = 0.6;
/// Re-decoded text shorter than this (content characters) is never judged a copy: short
/// replies (はい, 異議なし) are said again for real.
const ALREADY_SAID_MIN_CHARS: usize = 6;

/// True when `again` (speech decoded a second time because no segment of the window covered
/// it) says what the window's `segments` already say: Whisper's timestamps sometimes slide
/// while its text is complete, so the "uncovered" tail is words it has written already, and
/// keeping them would write them twice. Measured as the share of `again`'s character pairs
/// (bigrams of content characters) found among the window's.
pub fn already_said(again: &AsrSegment, segments: &[AsrSegment]) -> bool {
    let mine: Vec<char> = normalise(&again.text).chars().collect();
    if mine.len() < ALREADY_SAID_MIN_CHARS {
        return false;
    }
    let theirs: Vec<char> = segments
        .iter()
        .flat_map(|s| normalise(&s.text).chars().collect::<Vec<_>>())
        .collect();
    let pairs: std::collections::HashSet<(char, char)> =
        theirs.windows(2).map(|w| (w[0], w[1])).collect();
    let found = mine
        .windows(2)
        .filter(|w| pairs.contains(&(w[0], w[1])))
        .count();
    found as f32 >= ALREADY_SAID_SHARE * (mine.len() - 1) as f32
}

/// Why a whole segment goes, if it does.
fn drop_reason(
    seg: &AsrSegment,
    ctx: &GuardContext,
    prompt: Option<&PromptIndex>,
) -> Option<&'static str> {
    if compression_ratio(&seg.text) > COMPRESSION_RATIO_MAX {
        return Some("compression ratio");
    }
    let outside = speech_share(seg.span, ctx.speech) < MIN_SPEECH_SHARE;
    let doubted = seg.no_speech_prob > NO_SPEECH_HIGH || mean_logprob(seg) < LOGPROB_LOW;
    if outside && doubted {
        return Some("outside speech and doubted by the recogniser");
    }
    if prompt.is_some_and(|p| p.is_copy(&seg.text)) {
        return Some("copy of the initial prompt");
    }
    None
}

/// Mean natural-log probability of the segment's tokens (0 without tokens: no evidence).
pub fn mean_logprob(seg: &AsrSegment) -> f32 {
    if seg.tokens.is_empty() {
        return 0.0;
    }
    seg.tokens.iter().map(|t| t.p.max(1e-6).ln()).sum::<f32>() / seg.tokens.len() as f32
}

/// Share of `span` covered by `speech` (1 for an empty span: nothing to judge).
pub fn speech_share(span: Span, speech: &[Span]) -> f32 {
    if span.is_empty() {
        return 1.0;
    }
    let covered: u64 = speech.iter().map(|s| s.overlap(&span).0).sum();
    (covered as f32 / span.len().0 as f32).min(1.0)
}

/// Size of the UTF-8 text over its deflate-compressed size (zlib stream, as Whisper
/// computes it). Short texts come out below 1.
pub fn compression_ratio(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail; treat a failure as "not degenerate".
    if enc.write_all(text.as_bytes()).is_err() {
        return 0.0;
    }
    match enc.finish() {
        Ok(z) if !z.is_empty() => text.len() as f32 / z.len() as f32,
        _ => 0.0,
    }
}

/// Which characters of `text` to keep so that every phrase of [`REPEAT_MIN_CHARS`] or more
/// repeated [`REPEAT_MIN_TIMES`] or more times in a row appears once. The last repetition
/// may lack the phrase's trailing punctuation (`はい、はい、はい`). Phrases with digits are
/// left alone (1,111,111).
pub fn collapse_repeats(text: &str) -> Vec<bool> {
    let c: Vec<char> = text.chars().collect();
    let n = c.len();
    let mut keep = vec![true; n];
    let mut i = 0;
    while i < n {
        let mut advanced = false;
        let max_len = REPEAT_MAX_CHARS.min((n - i) / 2);
        for len in REPEAT_MIN_CHARS..=max_len {
            let phrase = &c[i..i + len];
            if phrase.iter().any(|ch| ch.is_numeric()) || phrase.iter().all(|ch| !is_content(*ch)) {
                continue;
            }
            let mut times = 1;
            let mut end = i + len;
            while end + len <= n && c[end..end + len] == *phrase {
                times += 1;
                end += len;
            }
            // A last repetition without the trailing punctuation.
            let core = phrase.len()
                - phrase
                    .iter()
                    .rev()
                    .take_while(|ch| !is_content(**ch))
                    .count();
            if times + 1 >= REPEAT_MIN_TIMES
                && core >= REPEAT_MIN_CHARS
                && core < len
                && end + core <= n
                && c[end..end + core] == phrase[..core]
            {
                times += 1;
                end += core;
            }
            if times >= REPEAT_MIN_TIMES {
                for k in keep.iter_mut().take(end).skip(i + len) {
                    *k = false;
                }
                i = end;
                advanced = true;
                break;
            }
        }
        if !advanced {
            i += 1;
        }
    }
    keep
}

/// Keeps the characters of `seg.text` flagged in `keep` (one flag per char), rebuilding the
/// tokens to match: a token loses the characters dropped from it and disappears when none
/// remain. The text is the kept tokens joined and trimmed, as the recogniser builds it.
pub fn retain_chars(seg: &mut AsrSegment, keep: &[bool]) {
    let text_chars: Vec<char> = seg.text.chars().collect();
    if keep.len() != text_chars.len() {
        return;
    }
    let joined: String = seg.tokens.iter().map(|t| t.text.as_str()).collect();
    let lead = joined.chars().take_while(|c| c.is_whitespace()).count();
    if seg.tokens.is_empty() || joined.trim() != seg.text {
        // No token detail to keep in step: edit the text alone.
        seg.text = text_chars
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| *c)
            .collect::<String>()
            .trim()
            .to_string();
        return;
    }
    // Position in the trimmed text of each char of the joined tokens (None: trimmed away).
    let mut pos = 0usize;
    let mut tokens: Vec<AsrToken> = Vec::with_capacity(seg.tokens.len());
    for t in &seg.tokens {
        let mut text = String::new();
        for ch in t.text.chars() {
            let idx = pos.checked_sub(lead);
            pos += 1;
            let kept = match idx {
                Some(i) if i < keep.len() => keep[i],
                _ => true,
            };
            if kept {
                text.push(ch);
            }
        }
        if !text.is_empty() {
            tokens.push(AsrToken { text, ..t.clone() });
        }
    }
    seg.text = tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<String>()
        .trim()
        .to_string();
    seg.tokens = tokens;
}

/// Cuts silence phrases whose time is not speech (see the module docs). The phrase's time
/// comes from its tokens; without tokens, from the whole segment.
fn cut_silence_phrases(seg: &mut AsrSegment, speech: &[Span]) {
    let chars: Vec<char> = seg.text.chars().collect();
    let mut keep = vec![true; chars.len()];
    let times = char_times(seg);
    for &(phrase, strong) in SILENCE_PHRASES {
        let p: Vec<char> = phrase.chars().collect();
        for start in find_all(&chars, &p) {
            let end = start + p.len();
            let span = match (&times, start < end) {
                (Some(t), true) => Span::new(t[start].start, t[end - 1].end),
                _ => seg.span,
            };
            let outside = speech_share(span, speech) < MIN_SPEECH_SHARE;
            let no_speech = seg.no_speech_prob > NO_SPEECH_HIGH;
            let cut = if strong {
                outside || no_speech
            } else {
                outside && no_speech
            };
            if cut {
                // Also the punctuation right after the phrase (。！).
                let mut e = end;
                while e < chars.len() && !is_content(chars[e]) {
                    e += 1;
                }
                keep[start..e].iter_mut().for_each(|k| *k = false);
                tracing::debug!(phrase, strong, "guard: silence phrase over non-speech");
            }
        }
    }
    if keep.iter().any(|k| !k) {
        retain_chars(seg, &keep);
    }
}

/// The time span of each char of `seg.text`, from its tokens (None when the tokens do not
/// spell the text).
fn char_times(seg: &AsrSegment) -> Option<Vec<Span>> {
    let joined: String = seg.tokens.iter().map(|t| t.text.as_str()).collect();
    if seg.tokens.is_empty() || joined.trim() != seg.text {
        return None;
    }
    let lead = joined.chars().take_while(|c| c.is_whitespace()).count();
    let all: Vec<Span> = seg
        .tokens
        .iter()
        .flat_map(|t| std::iter::repeat_n(Span::new(t.start, t.end), t.text.chars().count()))
        .collect();
    Some(
        all.into_iter()
            .skip(lead)
            .take(seg.text.chars().count())
            .collect(),
    )
}

fn find_all(hay: &[char], needle: &[char]) -> Vec<usize> {
    let mut out = Vec::new();
    if needle.is_empty() || hay.len() < needle.len() {
        return out;
    }
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if hay[i..i + needle.len()] == *needle {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

/// Three or more consecutive segments with the same text (ignoring punctuation): the first
/// is kept. Two in a row are left alone (two people may both say 異議なし).
fn drop_repeated_segments(segments: Vec<AsrSegment>) -> Vec<AsrSegment> {
    let keys: Vec<String> = segments.iter().map(|s| normalise(&s.text)).collect();
    let mut out = Vec::with_capacity(segments.len());
    let mut i = 0;
    for (j, seg) in segments.into_iter().enumerate() {
        if j > 0 && keys[j] != keys[j - 1] {
            i = j;
        }
        let run = keys[i..].iter().take_while(|k| **k == keys[i]).count();
        if j > i && run >= REPEAT_MIN_TIMES && keys[i].chars().count() >= REPEAT_MIN_CHARS {
            tracing::debug!(text = %seg.text, "guard: repeated segment dropped");
            continue;
        }
        out.push(seg);
    }
    out
}

/// Text reduced to what carries content: letters, digits, kana, kanji (NFKC-like width
/// folding is not needed here: both sides come from the same recogniser or sheet).
fn normalise(s: &str) -> String {
    s.chars().filter(|c| is_content(*c)).collect()
}

/// Letters, digits, kana and kanji; not punctuation, symbols or spaces.
fn is_content(c: char) -> bool {
    c.is_alphanumeric()
}

/// The initial prompt split into items (at 、。 and similar), normalised, for finding copies.
struct PromptIndex {
    chars: Vec<char>,
    /// Item number of each char of `chars`.
    item: Vec<usize>,
}

impl PromptIndex {
    fn new(prompt: &str) -> PromptIndex {
        let mut chars = Vec::new();
        let mut item = Vec::new();
        let mut n = 0;
        let mut in_item = false;
        for c in prompt.chars() {
            if is_content(c) {
                chars.push(c);
                item.push(n);
                in_item = true;
            } else if in_item && !c.is_whitespace() {
                n += 1;
                in_item = false;
            }
        }
        PromptIndex { chars, item }
    }

    /// True when `text` (normalised) occurs in the prompt spanning two or more items: a
    /// speaker may say one term of the prompt alone, but not a run of them in prompt order.
    fn is_copy(&self, text: &str) -> bool {
        let t: Vec<char> = normalise(text).chars().collect();
        if t.len() < PROMPT_COPY_MIN_CHARS {
            return false;
        }
        find_all(&self.chars, &t)
            .into_iter()
            .any(|i| self.item[i] != self.item[i + t.len() - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, start: u64, end: u64, p: f32) -> AsrToken {
        AsrToken {
            text: text.into(),
            start: Ms(start),
            end: Ms(end),
            p,
        }
    }

    fn seg_from(tokens: Vec<AsrToken>, no_speech: f32) -> AsrSegment {
        let text = tokens
            .iter()
            .map(|t| t.text.as_str())
            .collect::<String>()
            .trim()
            .to_string();
        let span = Span::new(tokens[0].start, tokens[tokens.len() - 1].end);
        AsrSegment {
            span,
            text,
            confidence: tokens.iter().map(|t| t.p).sum::<f32>() / tokens.len() as f32,
            no_speech_prob: no_speech,
            tokens,
        }
    }

    /// One token per char, 100 ms each from `start`.
    fn seg(text: &str, start: u64, p: f32, no_speech: f32) -> AsrSegment {
        let tokens = text
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let s = start + 100 * i as u64;
                tok(&c.to_string(), s, s + 100, p)
            })
            .collect();
        seg_from(tokens, no_speech)
    }

    fn collapsed(s: &str) -> String {
        s.chars()
            .zip(collapse_repeats(s))
            .filter(|(_, k)| *k)
            .map(|(c, _)| c)
            .collect()
    }

    fn sp(a: u64, b: u64) -> Span {
        Span::new(Ms(a), Ms(b))
    }

    #[test]
    fn sparse_windows_are_found() {
        let w = sp(0, 30_000);
        let speech = [sp(0, 10_000), sp(12_000, 28_000)]; // 26 s of speech
                                                          // A stray word claiming the window: 6 characters for 26 s.
        assert!(too_sparse(w, &speech, &[seg("reason。", 0, 0.5, 0.0)]));
        assert!(too_sparse(w, &speech, &[]));
        // Ordinary speech density (5 characters a second) is not.
        let text: String = "本日の議題について説明いたします".repeat(8);
        assert!(!too_sparse(w, &speech, &[seg(&text, 0, 0.9, 0.0)]));
        // Too little speech to judge.
        assert!(!too_sparse(w, &[sp(0, 3_000)], &[]));
        assert_eq!(content_chars(&[seg("はい、 1件。", 0, 0.9, 0.0)]), 4);
    }

    #[test]
    fn loops_collapse_to_one() {
        assert_eq!(collapsed("はい、はい、はい、次へ"), "はい、次へ");
        assert_eq!(collapsed("はい、はい、はい"), "はい、");
        assert_eq!(
            collapsed("ありがとうございます。ありがとうございます。ありがとうございます。"),
            "ありがとうございます。"
        );
        assert_eq!(collapsed("予算予算予算予算の件"), "予算の件");
        // Twice is speech, not a loop; single characters and numbers are left alone.
        assert_eq!(collapsed("どうぞどうぞ"), "どうぞどうぞ");
        assert_eq!(collapsed("まあまあの出来"), "まあまあの出来");
        assert_eq!(collapsed("ははは"), "ははは");
        assert_eq!(collapsed("1,111,111円"), "1,111,111円");
        assert_eq!(collapsed("111111円"), "111111円");
        assert_eq!(collapsed("異議なし。異議なし。"), "異議なし。異議なし。");
    }

    #[test]
    fn retain_keeps_tokens_in_step() {
        let mut s = seg_from(
            vec![
                tok(" はい", 0, 100, 0.9),
                tok("、はい", 100, 200, 0.9),
                tok("、はい", 200, 300, 0.9),
                tok("、次", 300, 400, 0.9),
            ],
            0.0,
        );
        let keep = collapse_repeats(&s.text);
        retain_chars(&mut s, &keep);
        assert_eq!(s.text, "はい、次");
        let joined: String = s.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(joined.trim(), s.text);
        // " はい", "、" (what is left of the second token), "次" (the last lost its 、).
        assert_eq!(s.tokens.len(), 3);
    }

    #[test]
    fn compression_ratio_flags_loops_only() {
        let normal = "ただいまから総務常任委員会を開会します。本日は議案第15号を審査します。";
        assert!(compression_ratio(normal) < COMPRESSION_RATIO_MAX);
        let looped = "の予算の".repeat(40);
        assert!(compression_ratio(&looped) > COMPRESSION_RATIO_MAX);
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn silence_phrases_over_non_speech_go() {
        let speech = [sp(0, 3_000)];
        let ctx = GuardContext {
            speech: &speech,
            prompt: None,
        };
        // Speech, then the phrase over a gap the VAD found silent.
        let mut tokens = vec![tok("以上です。", 0, 2_500, 0.9)];
        tokens.push(tok("ご視聴ありがとうございました。", 5_000, 7_000, 0.8));
        let out = apply(vec![seg_from(tokens, 0.1)], &ctx);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "以上です。");
        // A whole segment of it outside speech disappears.
        let out = apply(
            vec![seg("ご視聴ありがとうございました", 10_000, 0.9, 0.1)],
            &ctx,
        );
        assert!(out.is_empty());
        // Said during speech (a streamed council session), it stays.
        let out = apply(vec![seg("ご視聴ありがとうございました", 0, 0.9, 0.1)], &ctx);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn goseicho_needs_two_signs() {
        let speech = [sp(0, 5_000)];
        let ctx = GuardContext {
            speech: &speech,
            prompt: None,
        };
        // Outside speech but Whisper heard speech: a speaker may say it.
        let s = seg("ご清聴ありがとうございました", 10_000, 0.9, 0.1);
        assert_eq!(apply(vec![s], &ctx).len(), 1);
        let s = seg("ご清聴ありがとうございました", 10_000, 0.9, 0.9);
        assert!(apply(vec![s], &ctx).is_empty());
        let s = seg("ご清聴ありがとうございました", 0, 0.9, 0.9);
        assert_eq!(apply(vec![s], &ctx).len(), 1);
    }

    #[test]
    fn doubted_segments_outside_speech_go() {
        let speech = [sp(0, 1_000)];
        let ctx = GuardContext {
            speech: &speech,
            prompt: None,
        };
        let out = apply(
            vec![
                seg("開会します", 0, 0.9, 0.1),
                seg("うん", 5_000, 0.2, 0.1),
                seg("そうです", 8_000, 0.9, 0.8),
                seg("確かな発言", 12_000, 0.9, 0.1),
            ],
            &ctx,
        );
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["開会します", "確かな発言"]);
    }

    #[test]
    fn repeated_segments_keep_the_first() {
        let speech = [sp(0, 100_000)];
        let ctx = GuardContext {
            speech: &speech,
            prompt: None,
        };
        let segs = vec![
            seg("異議なし。", 0, 0.9, 0.0),
            seg("異議なし", 1_000, 0.9, 0.0),
            seg("以上です", 2_000, 0.9, 0.0),
            seg("以上です", 3_000, 0.9, 0.0),
            seg("以上です。", 4_000, 0.9, 0.0),
            seg("以上です", 5_000, 0.9, 0.0),
        ];
        let out = apply(segs, &ctx);
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["異議なし。", "異議なし", "以上です"]);
    }

    #[test]
    fn prompt_copies_go_single_terms_stay() {
        let speech = [sp(0, 100_000)];
        let prompt = "総務常任委員会の会議です。出席者は山田太郎、佐藤花子です。議題は議案第15号 一般会計補正予算。";
        let ctx = GuardContext {
            speech: &speech,
            prompt: Some(prompt),
        };
        let out = apply(
            vec![
                seg("出席者は山田太郎、佐藤花子です。", 0, 0.9, 0.0),
                seg("山田太郎", 2_000, 0.9, 0.0),
                seg("議案第15号一般会計補正予算", 4_000, 0.9, 0.0),
                seg("一般会計補正予算を審査します", 8_000, 0.9, 0.0),
            ],
            &ctx,
        );
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "山田太郎",
                "議案第15号一般会計補正予算",
                "一般会計補正予算を審査します"
            ]
        );
    }

    #[test]
    fn skipped_speech_is_found() {
        let window = sp(0, 28_000);
        let speech = [sp(0, 9_000), sp(10_000, 20_000), sp(21_000, 28_000)];
        // Segments cover 0-14 s: 14.5-20 s and 21-28 s were skipped.
        let said = "それでは資料の三ページをご覧ください。補正予算の概要をご説明します。";
        let segs: Vec<AsrSegment> = [sp(0, 8_000), sp(8_000, 14_000)]
            .into_iter()
            .map(|span| AsrSegment {
                span,
                ..seg(said, span.start.0, 0.9, 0.0)
            })
            .collect();
        assert_eq!(
            uncovered_speech(window, &speech, &segs),
            [sp(14_500, 28_000)]
        );
        // Covered up to a short tail: nothing to do.
        let mut all = segs.clone();
        all[1].span = sp(8_000, 26_500);
        assert!(uncovered_speech(window, &speech, &all).is_empty());
        // No segments at all (whisper found nothing): the whole window again.
        assert_eq!(uncovered_speech(window, &speech, &[]), [window]);
        // One short sentence claiming 0-20 s, its words at 17-18.2 s: trimmed to its words,
        // the decoder jumped over 0-16.5 s of speech, which is decoded again.
        let short = AsrSegment {
            span: sp(0, 20_000),
            ..seg("確認させていただきます。", 17_000, 0.9, 0.0)
        };
        let trimmed = split_at_leaps(vec![short]);
        assert_eq!(trimmed.len(), 1);
        assert_eq!(trimmed[0].span, sp(17_000, 20_000));
        assert_eq!(
            uncovered_speech(sp(0, 20_000), &speech[..2], &trimmed),
            [sp(0, 16_500)]
        );
        // Words leaping over 3-13 s inside a segment: two segments, that speech again.
        let mut tokens = seg("その根拠を教えてください。", 1_000, 0.9, 0.0).tokens;
        tokens.extend(seg("お答えします。", 13_000, 0.9, 0.0).tokens);
        let leap = AsrSegment {
            span: sp(1_000, 14_000),
            ..seg_from(tokens, 0.0)
        };
        let parts = split_at_leaps(vec![leap]);
        let texts: Vec<&str> = parts.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["その根拠を教えてください。", "お答えします。"]);
        assert_eq!(parts[0].span, sp(1_000, 3_200));
        assert_eq!(parts[1].span, sp(13_000, 14_000));
        let speech = [sp(1_000, 14_000)];
        assert_eq!(
            uncovered_speech(sp(1_000, 14_000), &speech, &parts),
            [sp(3_700, 12_500)]
        );
        // Words without leaps: the segment as it was.
        let plain = seg("その根拠を教えてください。", 1_000, 0.9, 0.0);
        assert_eq!(split_at_leaps(vec![plain.clone()]), [plain]);
    }

    #[test]
    fn words_decoded_twice_are_found() {
        let window = [
            seg("それでは資料の3ページをご覧ください。", 0, 0.9, 0.0),
            seg("補正予算の概要を説明します。", 0, 0.9, 0.0),
        ];
        // The tail again, a little differently: a copy.
        assert!(already_said(
            &seg("補正予算の概要をご説明します", 0, 0.9, 0.0),
            &window
        ));
        // New words: skipped speech, kept.
        assert!(!already_said(
            &seg("続いて歳出について申し上げます。", 0, 0.9, 0.0),
            &window
        ));
        // Short replies are never judged copies.
        assert!(!already_said(
            &seg("ご覧ください", 0, 0.9, 0.0),
            &window[..0]
        ));
        assert!(!already_said(
            &seg("はい。", 0, 0.9, 0.0),
            &[seg("はい。", 0, 0.9, 0.0)]
        ));
    }

    #[test]
    fn logprob_and_share() {
        let s = seg("あい", 0, 1.0, 0.0);
        assert!(mean_logprob(&s).abs() < 1e-6);
        assert!((speech_share(sp(0, 1000), &[sp(500, 2000)]) - 0.5).abs() < 1e-6);
        assert_eq!(speech_share(sp(0, 0), &[]), 1.0);
    }
}
