//! Key-sentence selection for the abridged documents (要旨, the 内容 of a 復命書): [`abridge`]
//! turns the [`Minutes`] into [`Gist`]s, one per speaker turn that says something, each with
//! at most [`AbridgeConfig::max_sentences`] sentences and [`AbridgeConfig::max_chars`]
//! characters, in the order they were spoken.
//!
//! The rules are plain and deterministic, so a clerk can predict what is kept:
//! 1. A turn is cut into sentences at 。？！ (and ASCII ?!) and at the seams between Whisper
//!    segments, because Whisper often leaves Japanese unpunctuated and a seam is then the only
//!    sentence boundary there is.
//! 2. Sentences made only of greetings and procedural fillers (はい, ありがとうございます,
//!    お願いします, 以上です …) are dropped.
//! 3. Each remaining sentence is scored by how much it carries — its length (capped, so a
//!    run-on sentence does not win by length alone), its kanji and katakana (nouns: 予算,
//!    事業, システム) and its digits (amounts, dates, article numbers) — and the best ones are
//!    kept within the caps, then put back in spoken order.

use crate::minutes::{Meeting, Minutes, Turn};
use crate::types::Transcript;

/// Sentences kept per turn.
pub const DEFAULT_MAX_SENTENCES: usize = 2;
/// Characters kept per turn (about two lines of a table cell on A4).
pub const DEFAULT_MAX_CHARS: usize = 120;
/// Length counts towards the score only up to this many characters.
const LENGTH_SCORE_CAP: usize = 60;
/// Shorter sentences (punctuation not counted) carry nothing worth a bullet (`了解。`).
const MIN_CONTENT_CHARS: usize = 3;

/// Whole-sentence greetings and fillers. A sentence that is nothing but these (in any
/// order and number, punctuation aside) is dropped. Longest first, so `よろしくお願いします`
/// is taken before `お願いします`.
const FILLERS: [&str; 34] = [
    "よろしくお願いいたします",
    "よろしくお願い致します",
    "よろしくお願いします",
    "ありがとうございました",
    "ありがとうございます",
    "以上でございます",
    "お願いいたします",
    "お願い致します",
    "失礼いたします",
    "承知いたしました",
    "お願いします",
    "失礼しました",
    "失礼します",
    "承知しました",
    "了解しました",
    "わかりました",
    "分かりました",
    "すみません",
    "そうですね",
    "以上です",
    "ええっと",
    "えーっと",
    "それでは",
    "えっと",
    "ええと",
    "あのー",
    "じゃあ",
    "どうも",
    "えー",
    "ええ",
    "あの",
    "はい",
    "まあ",
    "以上",
];

/// How much of each turn to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbridgeConfig {
    /// See [`DEFAULT_MAX_SENTENCES`].
    pub max_sentences: usize,
    /// See [`DEFAULT_MAX_CHARS`].
    pub max_chars: usize,
}

impl Default for AbridgeConfig {
    fn default() -> Self {
        AbridgeConfig {
            max_sentences: DEFAULT_MAX_SENTENCES,
            max_chars: DEFAULT_MAX_CHARS,
        }
    }
}

/// What one speaker said, abridged: the speaker's display name and the key sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gist {
    pub speaker: String,
    pub sentences: Vec<String>,
}

/// The key sentences of every turn. Turns with nothing but fillers are left out, and
/// consecutive gists of the same speaker are joined under one name (a filler-only turn of
/// someone else no longer separates them). `transcript` supplies the segment seams.
pub fn abridge(minutes: &Minutes, transcript: &Transcript, cfg: &AbridgeConfig) -> Vec<Gist> {
    let mut out: Vec<Gist> = Vec::new();
    for turn in &minutes.turns {
        let seams = seams(turn, transcript, &minutes.meeting);
        let sentences = key_sentences(&turn.text, &seams, cfg);
        if sentences.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(g) if g.speaker == turn.speaker => g.sentences.extend(sentences),
            _ => out.push(Gist {
                speaker: turn.speaker.clone(),
                sentences,
            }),
        }
    }
    out
}

/// Byte offsets in `turn.text` where one Whisper segment ends and the next begins: each
/// segment of the turn's speaker inside the turn's time span is looked up in the text after
/// the previous one. A segment whose text was changed after recognition (clean-up) is not
/// found and simply gives no seam.
fn seams(turn: &Turn, transcript: &Transcript, meeting: &Meeting) -> Vec<usize> {
    let mut out = Vec::new();
    let mut from = 0;
    for u in &transcript.utterances {
        let inside = u.span.start >= turn.span.start && u.span.end <= turn.span.end;
        if !inside || meeting.display_name(&u.speaker) != turn.speaker {
            continue;
        }
        let piece = u.text.trim();
        if piece.is_empty() {
            continue;
        }
        if let Some(at) = turn.text[from..].find(piece) {
            from += at + piece.len();
            out.push(from);
        }
    }
    out
}

/// The sentences of `text`, cut after 。？！?! and at the byte offsets in `seams`, trimmed;
/// pieces of nothing but punctuation are left out.
pub fn sentences<'a>(text: &'a str, seams: &[usize]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if matches!(c, '。' | '？' | '！' | '?' | '!') || seams.contains(&end) {
            out.push(&text[start..end]);
            start = end;
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(|s| s.trim_matches(|c: char| c.is_whitespace() || c == '、'))
        .filter(|s| s.chars().any(|c| !is_mark(c)))
        .collect()
}

/// True when the sentence says nothing but greetings and fillers (`はい、ありがとうございます。`).
pub fn is_filler(sentence: &str) -> bool {
    let mut rest: String = sentence.chars().filter(|&c| !is_mark(c)).collect();
    if rest.chars().count() < MIN_CONTENT_CHARS {
        return true;
    }
    while !rest.is_empty() {
        match FILLERS.iter().find(|f| rest.starts_with(*f)) {
            Some(f) => rest.drain(..f.len()),
            None => return false,
        };
    }
    true
}

/// How much a sentence carries: length up to [`LENGTH_SCORE_CAP`], plus one per kanji,
/// half per katakana and two per digit. Punctuation counts for nothing.
pub fn score(sentence: &str) -> f32 {
    let (mut len, mut kanji, mut katakana, mut digits) = (0usize, 0usize, 0usize, 0usize);
    for c in sentence.chars().filter(|&c| !is_mark(c)) {
        len += 1;
        match c {
            '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '々' => kanji += 1,
            '\u{30A1}'..='\u{30FA}' => katakana += 1,
            '0'..='9' | '０'..='９' => digits += 1,
            _ => {}
        }
    }
    len.min(LENGTH_SCORE_CAP) as f32 + kanji as f32 + 0.5 * katakana as f32 + 2.0 * digits as f32
}

/// The best sentences of one turn within the caps, in spoken order, each ending in a
/// sentence mark. A best sentence longer than the character cap is cut at the last 、 that
/// fits (else at the cap) and ends with …, so no turn with content comes back empty.
pub fn key_sentences(text: &str, seams: &[usize], cfg: &AbridgeConfig) -> Vec<String> {
    let candidates: Vec<(usize, &str)> = sentences(text, seams)
        .into_iter()
        .filter(|s| !is_filler(s))
        .enumerate()
        .collect();
    let mut ranked: Vec<(usize, &str, f32)> =
        candidates.iter().map(|&(i, s)| (i, s, score(s))).collect();
    // Stable sort: equal scores keep the earlier sentence first.
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));

    let mut chosen: Vec<(usize, String)> = Vec::new();
    let mut used = 0;
    for (i, s, _) in ranked {
        if chosen.len() == cfg.max_sentences {
            break;
        }
        let s = with_full_stop(s);
        let len = s.chars().count();
        if used + len <= cfg.max_chars {
            used += len;
            chosen.push((i, s));
        } else if chosen.is_empty() {
            used = cfg.max_chars;
            chosen.push((i, cut(&s, cfg.max_chars)));
        }
    }
    chosen.sort_by_key(|&(i, _)| i);
    chosen.into_iter().map(|(_, s)| s).collect()
}

/// Whisper segments often end without 。; a bullet should still read as a sentence.
fn with_full_stop(s: &str) -> String {
    match s.chars().last() {
        Some(c) if is_mark(c) && c != '、' && c != '，' && c != ',' => s.to_string(),
        _ => format!("{}。", s.trim_end_matches(['、', '，', ','])),
    }
}

/// At most `max` characters including the closing …, preferring to cut after a 、.
fn cut(s: &str, max: usize) -> String {
    let keep: String = s.chars().take(max.saturating_sub(1)).collect();
    let keep = match keep.rfind('、') {
        // Only when the comma leaves most of the room used.
        Some(at) if keep[..at].chars().count() >= max / 2 => keep[..at].to_string(),
        _ => keep,
    };
    format!("{keep}…")
}

/// Punctuation, brackets and spaces: not content.
fn is_mark(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(
            c,
            '。' | '、'
                | '，'
                | '．'
                | '？'
                | '！'
                | '・'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '…'
                | '～'
                | '〜'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_data::utt;
    use crate::minutes::{draft, MinutesConfig};
    use crate::types::Ms;

    #[test]
    fn splits_at_marks_and_seams() {
        let text = "開会します。質疑はありませんか？予算は100万円です次の議題";
        let seam = text.find("次の").unwrap();
        assert_eq!(
            sentences(text, &[seam]),
            vec![
                "開会します。",
                "質疑はありませんか？",
                "予算は100万円です",
                "次の議題"
            ]
        );
        assert_eq!(sentences("  。、 ", &[]), Vec::<&str>::new());
        // A seam at the very end adds nothing.
        assert_eq!(sentences("以上。", &[9]), vec!["以上。"]);
    }

    #[test]
    fn fillers_are_whole_sentences_only() {
        for s in [
            "はい。",
            "はい、ありがとうございます。",
            "よろしくお願いいたします。",
            "以上です。",
            "ええと、あの、はい",
            "了解。",
        ] {
            assert!(is_filler(s), "{s}");
        }
        for s in [
            "はい、予算は増額です。",
            "ありがとうございます、次に移ります。",
            "以上で質疑を終結します。",
        ] {
            assert!(!is_filler(s), "{s}");
        }
    }

    #[test]
    fn numbers_and_kanji_outscore_chatter() {
        assert!(score("予算額は1,250万円です。") > score("そういうことでしょうかね。"));
        assert!(score("防災行政無線の更新事業") > score("それはそうかもしれないです"));
        // Length helps only up to the cap.
        let long = "ですね".repeat(40);
        assert!(score(&long) <= LENGTH_SCORE_CAP as f32);
    }

    #[test]
    fn keeps_best_two_in_spoken_order() {
        let text = "はい。ありがとうございます。まず一点目ですけれども。\
                    防災行政無線のデジタル化事業は令和8年度までに完了する予定です。\
                    それと、ちょっと聞きたいんですが。\
                    事業費は総額3億2,000万円を見込んでおります。以上です。";
        let got = key_sentences(text, &[], &AbridgeConfig::default());
        assert_eq!(
            got,
            vec![
                "防災行政無線のデジタル化事業は令和8年度までに完了する予定です。",
                "事業費は総額3億2,000万円を見込んでおります。",
            ]
        );
    }

    #[test]
    fn caps_and_cuts() {
        let cfg = AbridgeConfig {
            max_sentences: 3,
            max_chars: 20,
        };
        // The best sentence alone is too long: cut with …, nothing else fits after it.
        let text = "本市の防災行政無線は、昭和60年に整備したもので、老朽化が著しい状況です。短い。";
        let got = key_sentences(text, &[], &cfg);
        assert_eq!(got, vec!["本市の防災行政無線は…"]);
        assert!(got[0].chars().count() <= 20);
        // Unpunctuated segments get a full stop; a filler-only turn gives nothing.
        let got = key_sentences("予算を審査します", &[], &AbridgeConfig::default());
        assert_eq!(got, vec!["予算を審査します。"]);
        assert!(key_sentences("はい。以上です。", &[], &AbridgeConfig::default()).is_empty());
    }

    #[test]
    fn gists_use_seams_drop_fillers_and_join_speakers() {
        let t = Transcript {
            speaker_turns: vec![],
            utterances: vec![
                utt(0, 1000, "話者1", "ただいまから委員会を開会します"),
                utt(1000, 2000, "話者1", "議案第1号を議題とします"),
                utt(2500, 3000, "話者2", "はい"),
                utt(3500, 5000, "話者1", "当局の説明を求めます"),
                utt(
                    5500,
                    9000,
                    "話者2",
                    "それでは議案第1号についてご説明いたします",
                ),
            ],
            duration: Ms(10_000),
        };
        let m = draft(&t, &Meeting::default(), &MinutesConfig::default());
        assert_eq!(m.turns.len(), 4);
        let cfg = AbridgeConfig {
            max_sentences: 3,
            ..AbridgeConfig::default()
        };
        let got = abridge(&m, &t, &cfg);
        assert_eq!(
            got,
            vec![
                Gist {
                    speaker: "話者1".into(),
                    sentences: vec![
                        "ただいまから委員会を開会します。".into(),
                        "議案第1号を議題とします。".into(),
                        "当局の説明を求めます。".into(),
                    ],
                },
                Gist {
                    speaker: "話者2".into(),
                    sentences: vec!["それでは議案第1号についてご説明いたします。".into()],
                },
            ]
        );
        assert_eq!(abridge(&m, &t, &cfg), got, "deterministic");
    }
}
