//! Japanese text clean-up for the minutes: ケバ取り (fillers and stammers out) and the
//! 公用文 writing conventions, with the recogniser's low-confidence marks carried through
//! every edit. [`apply`] cleans a whole [`Transcript`] in place following a [`CleanConfig`];
//! [`clean_text`] is the same for one string.
//!
//! Every utterance keeps the recogniser's text in `raw_text`; `text` becomes:
//!
//! 1. the glossary's 誤 → 正 replacements (spaces inside a 誤 are tolerated: whisper puts
//!    spaces at pauses);
//! 2. widths: full-width digits and Latin letters → ASCII, `，．｡､` and ASCII `,` `.` next to
//!    Japanese → 「、」「。」 (not inside numbers: 1,250 and 1.5 stay), `()` → `（）`;
//! 3. in [`Style::Clean`] only: fillers ([`FILLERS`]: えー, えーと, あのー, うーん … anywhere
//!    after a pause; あの, まあ, ま, なんか only between pauses, so あの人 and まあまあの stay)
//!    and stammers (`予算、予算の` → `予算の`, `そ、その件` → `その件`, `わ、私は` → `私は`,
//!    each rule written so that content words cannot match: see [`stammers`]);
//! 4. spaces: whisper marks pauses with spaces. Between Japanese characters a space becomes
//!    「。」 after a sentence-final form (ます, です, ください …) and 「、」 elsewhere; between
//!    two Latin words it stays; anywhere else it goes;
//! 5. `?`: after the question particle か it becomes 「。」 (会議録 write questions as
//!    「…ありませんか。」, and 「公用文作成の考え方」 (2022) keeps ？！ out of official
//!    text), elsewhere 「？」 so a question without か is not lost; `!` → 「！」;
//! 6. thousands separators in amounts (`1250万円` → `1,250万円`, not years or numbers
//!    after 第);
//! 7. doubled punctuation tidied (「、。」 → 「。」, no leading 「、」);
//! 8. sentence end: an utterance that ends without 。？！ gets 「。」 when the sentence
//!    plainly ends there (a sentence-final form, the speaker changes, a pause, the end of
//!    the recording) and 「、」 when the next utterance goes on with the same sentence.
//!
//! [`Style::Verbatim`] applies everything except step 3: nothing the speaker said is removed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::{Mark, Ms, Transcript, Utterance};

/// Default score (geometric mean of a phrase's letter probabilities) below which a phrase
/// is marked for review. Chosen on the dev set (`tests/quality.rs`, `mark_calibration`; 64
/// minutes, 16,529 characters, 13.0% wrong): at 0.5, 51.6% of the marked characters are
/// wrong and 84% of the marks hold an error, 4.7 marks a minute, 27% of the errors caught.
/// Per token at 0.4 it was 16 marks a minute and half of the marked words were right.
pub const DEFAULT_MARK_THRESHOLD: f32 = 0.5;
/// A pause at least this long after an utterance ends its sentence, in ms.
pub const SENTENCE_PAUSE: Ms = Ms(1_000);

/// How much of what was said reaches the minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// Everything said, in 公用文 form.
    Verbatim,
    /// Fillers and stammers removed (ケバ取り), in 公用文 form.
    #[default]
    Clean,
}

/// How low-confidence words are shown in the DOCX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkStyle {
    /// 「★」 before the word.
    #[default]
    Star,
    /// The word highlighted (蛍光ペン).
    Highlight,
}

macro_rules! names {
    ($t:ty, $what:literal, $($v:path => $s:literal),+) => {
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($s => Ok($v),)+
                    other => Err(format!(
                        "unknown {} `{}`; use one of: {}",
                        $what,
                        other,
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($v => $s,)+ })
            }
        }
    };
}
names!(Style, "style", Style::Verbatim => "verbatim", Style::Clean => "clean");
names!(MarkStyle, "mark style", MarkStyle::Star => "star", MarkStyle::Highlight => "highlight");

/// How [`apply`] rewrites the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanConfig {
    pub style: Style,
    /// Words whose probability is below this are marked; `None` turns marks off.
    pub mark_threshold: Option<f32>,
    pub mark_style: MarkStyle,
    /// The glossary's 誤 → 正 table, applied to the recognised text.
    pub replace: BTreeMap<String, String>,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            style: Style::default(),
            mark_threshold: Some(DEFAULT_MARK_THRESHOLD),
            mark_style: MarkStyle::default(),
            replace: BTreeMap::new(),
        }
    }
}

/// Cleans every utterance of `t`: `raw_text` keeps what the recogniser wrote, `text` gets
/// the cleaned text and `marks` its low-confidence stretches. Utterances left empty (only
/// fillers) are removed.
pub fn apply(t: &mut Transcript, cfg: &CleanConfig) {
    let replace = Replacements::new(&cfg.replace);
    let n = t.utterances.len();
    let ends: Vec<bool> = (0..n)
        .map(|i| {
            let u = &t.utterances[i];
            t.utterances.get(i + 1).is_none_or(|next| {
                next.speaker != u.speaker
                    || next.span.start.0.saturating_sub(u.span.end.0) >= SENTENCE_PAUSE.0
            })
        })
        .collect();
    for (u, ends_here) in t.utterances.iter_mut().zip(ends) {
        let raw = u.raw_text.clone().unwrap_or_else(|| u.text.clone());
        let mut m = Marked::new(&u.text, char_probs(u).as_deref());
        clean(&mut m, cfg.style, &replace);
        if u.open_end {
            // Cut at a speaker change inside the recogniser's sentence: close it only when
            // the words themselves end a sentence.
            end_open(&mut m);
        } else {
            end_sentence(&mut m, ends_here);
        }
        u.text = m.text();
        u.marks = cfg.mark_threshold.map(|t| m.marks(t)).unwrap_or_default();
        u.raw_text = Some(raw);
    }
    t.utterances
        .retain(|u| u.text.chars().any(char::is_alphanumeric));
}

/// [`apply`]'s rules on one string (no marks, no glossary); the end gets 「。」 if missing.
pub fn clean_text(text: &str, style: Style) -> String {
    let mut m = Marked::new(text, None);
    clean(&mut m, style, &Replacements::new(&BTreeMap::new()));
    end_sentence(&mut m, true);
    m.text()
}

/// Per-char probabilities of `u.text` from its tokens, when they spell the text.
fn char_probs(u: &Utterance) -> Option<Vec<f32>> {
    let joined: String = u.tokens.iter().map(|t| t.text.as_str()).collect();
    if u.tokens.is_empty() || joined.trim() != u.text {
        return None;
    }
    let lead = joined.chars().take_while(|c| c.is_whitespace()).count();
    let flags: Vec<f32> = u
        .tokens
        .iter()
        .flat_map(|t| std::iter::repeat_n(t.p, t.text.chars().count()))
        .skip(lead)
        .take(u.text.chars().count())
        .collect();
    Some(flags)
}

fn clean(m: &mut Marked, style: Style, replace: &Replacements) {
    m.edit(replace.edits(&m.chars));
    m.edit(widths(&m.chars));
    if style == Style::Clean {
        // Removing one stammer can expose another (予算、予算、予算の).
        for _ in 0..4 {
            let changed = m.edit(fillers(&m.chars)) | m.edit(stammers(&m.chars));
            if !changed {
                break;
            }
        }
    }
    m.edit(spaces(&m.chars));
    m.edit(questions(&m.chars));
    m.edit(thousands(&m.chars));
    m.edit(tidy(&m.chars));
}

/// Text with the recogniser's probability per character (1.0 where it is not the
/// recogniser's: unknown, a correction, inserted punctuation), rewritten by [`Edit`]s.
#[derive(Debug, Clone, Default, PartialEq)]
struct Marked {
    chars: Vec<char>,
    p: Vec<f32>,
}

/// Replace `chars[start..end]` with `with`. The new characters inherit the probabilities
/// of what they replace when `carry` (same length: one to one; else the least of them),
/// and are sure otherwise (a glossary correction, inserted punctuation).
#[derive(Debug, Clone, PartialEq)]
struct Edit {
    start: usize,
    end: usize,
    with: Vec<char>,
    carry: bool,
}

impl Edit {
    fn delete(start: usize, end: usize) -> Edit {
        Edit {
            start,
            end,
            with: Vec::new(),
            carry: false,
        }
    }

    fn replace(start: usize, end: usize, with: &str, carry: bool) -> Edit {
        Edit {
            start,
            end,
            with: with.chars().collect(),
            carry,
        }
    }
}

impl Marked {
    fn new(text: &str, p: Option<&[f32]>) -> Marked {
        let chars: Vec<char> = text.chars().collect();
        let p = match p {
            Some(l) if l.len() == chars.len() => l.to_vec(),
            _ => vec![1.0; chars.len()],
        };
        Marked { chars, p }
    }

    fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Applies sorted, non-overlapping edits; true if anything changed.
    fn edit(&mut self, edits: Vec<Edit>) -> bool {
        if edits.is_empty() {
            return false;
        }
        let mut chars = Vec::with_capacity(self.chars.len());
        let mut p = Vec::with_capacity(self.p.len());
        let mut at = 0;
        for e in edits {
            if e.start < at || e.end > self.chars.len() || e.start > e.end {
                continue; // overlapping or out of range: a rule bug, skip rather than panic
            }
            chars.extend_from_slice(&self.chars[at..e.start]);
            p.extend_from_slice(&self.p[at..e.start]);
            let old = &self.p[e.start..e.end];
            for (k, c) in e.with.iter().enumerate() {
                chars.push(*c);
                p.push(match (e.carry, old.len() == e.with.len()) {
                    (false, _) => 1.0,
                    (true, true) => old[k],
                    (true, false) => old.iter().copied().fold(1.0, f32::min),
                });
            }
            at = e.end;
        }
        chars.extend_from_slice(&self.chars[at..]);
        p.extend_from_slice(&self.p[at..]);
        let changed = chars != self.chars;
        self.chars = chars;
        self.p = p;
        changed
    }

    /// The phrases to check: every phrase ([`phrases`]) whose least sure letter is below
    /// `threshold`, trimmed to letters, digits, kana and kanji (a doubtful 「、」 is not worth
    /// a mark); neighbouring marked phrases make one mark. A listener checks a phrase, not
    /// a token: one doubtful particle marks 「事業費は」, and five doubtful tokens of one word
    /// are one mark.
    fn marks(&self, threshold: f32) -> Vec<Mark> {
        let mut out: Vec<Mark> = Vec::new();
        for (s, e) in phrases(&self.chars) {
            let letters = (s..e).filter(|&i| self.chars[i].is_alphanumeric());
            // Geometric mean of the letters' probabilities: measured better than the least
            // one (tests/quality.rs, mark_calibration), which marks long sure phrases for
            // one doubtful byte.
            let n = letters.clone().count().max(1) as f32;
            let score = (letters
                .clone()
                .map(|i| self.p[i].max(1e-6).ln())
                .sum::<f32>()
                / n)
                .exp();
            let (Some(first), Some(last)) = (letters.clone().next(), letters.clone().next_back())
            else {
                continue;
            };
            if score >= threshold {
                continue;
            }
            match out.last_mut() {
                // Only punctuation or nothing between: one stretch.
                Some(m)
                    if self.chars[m.end..first]
                        .iter()
                        .all(|c| !c.is_alphanumeric())
                        && first - m.end <= 1 =>
                {
                    m.end = last + 1
                }
                _ => out.push(Mark {
                    start: first,
                    end: last + 1,
                }),
            }
        }
        out
    }
}

/// Phrases (文節, roughly): a run of kanji, katakana or Latin letters and digits with the
/// hiragana after it (「補正予算に」「計上された」「1,250万円で」); punctuation and spaces end a
/// phrase, and a non-hiragana letter after hiragana starts the next. `[start, end)` char
/// ranges covering every letter.
fn phrases(chars: &[char]) -> Vec<(usize, usize)> {
    let hiragana = |c: char| ('\u{3041}'..='\u{309F}').contains(&c);
    // A comma or point between digits belongs to the number.
    let in_number = |i: usize| {
        matches!(chars[i], ',' | '.' | '，' | '．')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
    };
    let letter = |i: usize| chars[i].is_alphanumeric() || chars[i] == 'ー' || in_number(i);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for i in 0..chars.len() {
        if !letter(i) {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
            continue;
        }
        if let Some(s) = start {
            if hiragana(chars[i - 1]) && !hiragana(chars[i]) {
                out.push((s, i));
                start = Some(i);
            }
        } else {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, chars.len()));
    }
    out
}

// ---- character classes ----

fn is_hiragana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{309F}')
}

fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FC}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}')
}

fn is_kanji(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '々' | '〆')
}

fn is_japanese(c: char) -> bool {
    is_hiragana(c) || is_katakana(c) || is_kanji(c)
}

fn is_kana(c: char) -> bool {
    is_hiragana(c) || is_katakana(c)
}

/// Katakana folded to hiragana, for comparing a stammered syllable with the word.
fn fold_kana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Where a word may start: the text start, a space or punctuation before it.
fn left_boundary(c: &[char], i: usize) -> bool {
    i == 0 || is_break(c[i - 1])
}

/// Spaces and punctuation (anything but letters, digits, kana, kanji and ー).
fn is_break(c: char) -> bool {
    !(c.is_alphanumeric() || c == 'ー')
}

/// A pause right at `j`: 「、」, a comma or a space.
fn pause_at(c: &[char], j: usize) -> bool {
    j < c.len() && (matches!(c[j], '、' | ',' | '，') || c[j].is_whitespace())
}

fn starts_with(c: &[char], i: usize, s: &str) -> bool {
    (i..).zip(s.chars()).all(|(k, ch)| c.get(k) == Some(&ch))
}

/// Polite sentence-final forms: a pause after one of these ends the sentence.
const SENTENCE_FINAL: &[&str] = &[
    "ます",
    "です",
    "ました",
    "でした",
    "ません",
    "ましょう",
    "でしょう",
    "ください",
    "ますか",
    "ですか",
    "ませんか",
    "でしょうか",
    "ましたか",
    "でしたか",
];

fn ends_sentence(c: &[char]) -> bool {
    let tail: String = c[c.len().saturating_sub(6)..].iter().collect();
    SENTENCE_FINAL.iter().any(|f| tail.ends_with(f))
}

// ---- step 1: glossary ----

/// The 誤 → 正 table, longest 誤 first so that 総務上任委員会 wins over 上任.
struct Replacements {
    pairs: Vec<(Vec<char>, String)>,
}

impl Replacements {
    fn new(table: &BTreeMap<String, String>) -> Replacements {
        let mut pairs: Vec<(Vec<char>, String)> = table
            .iter()
            .filter(|(k, _)| !k.trim().is_empty())
            .map(|(k, v)| {
                (
                    k.chars().filter(|c| !c.is_whitespace()).collect(),
                    v.clone(),
                )
            })
            .collect();
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Replacements { pairs }
    }

    fn edits(&self, c: &[char]) -> Vec<Edit> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let hit = self
                .pairs
                .iter()
                .find_map(|(k, v)| match_spaced(c, i, k).map(|end| (end, v)));
            match hit {
                Some((end, v)) => {
                    out.push(Edit::replace(i, end, v, false));
                    i = end;
                }
                None => i += 1,
            }
        }
        out
    }
}

/// End of `key` matched at `c[i..]`, skipping spaces inside the text (not before the key).
fn match_spaced(c: &[char], i: usize, key: &[char]) -> Option<usize> {
    let mut j = i;
    for (n, k) in key.iter().enumerate() {
        while n > 0 && j < c.len() && c[j].is_whitespace() {
            j += 1;
        }
        if j >= c.len() || c[j] != *k {
            return None;
        }
        j += 1;
    }
    (!key.is_empty()).then_some(j)
}

// ---- step 2: widths ----

fn widths(c: &[char]) -> Vec<Edit> {
    let digit = |k: usize| k < c.len() && (c[k].is_ascii_digit() || ('０'..='９').contains(&c[k]));
    let japanese = |k: usize| k < c.len() && is_japanese(c[k]);
    let mut out = Vec::new();
    for (i, &ch) in c.iter().enumerate() {
        let between_digits = i > 0 && digit(i - 1) && digit(i + 1);
        let near_japanese = (i > 0 && japanese(i - 1)) || japanese(i + 1);
        let to = match ch {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => char::from_u32(ch as u32 - 0xFEE0),
            '｡' => Some('。'),
            '､' => Some('、'),
            '，' if between_digits => Some(','),
            '，' => Some('、'),
            '．' if between_digits => Some('.'),
            '．' => Some('。'),
            ',' if !between_digits && near_japanese => Some('、'),
            '.' if !between_digits && i > 0 && japanese(i - 1) => Some('。'),
            '(' => Some('（'),
            ')' => Some('）'),
            '\u{3000}' => Some(' '),
            _ => None,
        };
        if let Some(to) = to {
            out.push(Edit::replace(i, i + 1, &to.to_string(), true));
        }
    }
    out
}

// ---- step 3: ケバ取り ----

/// Fillers, longest first. `true`: the word is a filler wherever it follows a pause (no
/// content word is spelt this way); `false`: only when a pause follows too (あの人, まあまあ
/// and なんかある keep their words).
pub const FILLERS: &[(&str, bool)] = &[
    ("えーっと", true),
    ("ええっと", true),
    ("えーと", true),
    ("ええと", true),
    ("えっと", true),
    ("あのー", true),
    ("そのー", true),
    ("うーん", true),
    ("うーむ", true),
    ("えー", true),
    ("あー", true),
    ("まー", true),
    ("んー", true),
    ("なんか", false),
    ("あの", false),
    ("まあ", false),
    ("ま", false),
];

/// Fillers at a word start (text start or after a pause), with the pause after them.
fn fillers(c: &[char]) -> Vec<Edit> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !left_boundary(c, i) {
            i += 1;
            continue;
        }
        let hit = FILLERS.iter().find_map(|&(f, anywhere)| {
            if !starts_with(c, i, f) {
                return None;
            }
            let mut j = i + f.chars().count();
            // Drawn-out forms: えーーー, あのーー.
            while j < c.len() && matches!(c[j], 'ー' | '〜' | '～') {
                j += 1;
            }
            let ok = if anywhere {
                // Not glued to a following hiragana word (えーとですね is left alone).
                j == c.len() || !is_hiragana(c[j]) || pause_at(c, j)
            } else {
                pause_at(c, j)
            };
            ok.then_some(j)
        });
        match hit {
            Some(mut j) => {
                while pause_at(c, j) {
                    j += 1;
                }
                out.push(Edit::delete(i, j));
                i = j;
            }
            None => i += 1,
        }
    }
    out
}

/// Single kana that are words of their own after a pause (interjections, conjunctions,
/// particles): a syllable stammer is never assumed for these before a kanji. か is the
/// question particle that whisper often leaves at the start of the next segment
/// (`…ありません` | `か 佐藤です`).
const STANDALONE_KANA: &str = "あえおかがでとはもねさよなやへほんをにの";

/// Longest word looked at for a repeat (`予算、予算の`), in characters.
const STAMMER_MAX_CHARS: usize = 10;

/// Stammers, each removed with its pause:
/// - a word said twice across a pause, `予算、予算の` → `予算の`: the first copy starts a
///   word, neither contains a digit, and the second is followed by one hiragana particle and
///   then more text that is not hiragana (so `議会、議会事務局` — a list —, `これ、これから`
///   and `異議なし、異議なし` — two people — stay);
/// - a kana syllable or two repeated at the start of the next word, `そ、その件`, `シ、
///   システム`, `その、その件`;
/// - one hiragana syllable before a kanji word, `わ、私は`, unless that kana is a word by
///   itself ([`STANDALONE_KANA`]: `と、東京` and `で、今回` stay).
fn stammers(c: &[char]) -> Vec<Edit> {
    let n = c.len();
    let mut out: Vec<Edit> = Vec::new();
    let mut i = 0;
    while i < n {
        if !left_boundary(c, i) || !is_japanese(c[i]) {
            i += 1;
            continue;
        }
        if let Some(end) = word_repeat(c, i).or_else(|| syllable_stammer(c, i)) {
            out.push(Edit::delete(i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// `X、X…` at `i`: the end of `X、` when it is a stammer.
fn word_repeat(c: &[char], i: usize) -> Option<usize> {
    let n = c.len();
    for len in (2..=STAMMER_MAX_CHARS).rev() {
        let k = i + len; // the pause
        let b = k + 1 + len; // after the second copy
        if b > n || !pause_at(c, k) {
            continue;
        }
        let word = &c[i..k];
        if !word.iter().all(|ch| is_japanese(*ch)) || c[k + 1..b] != *word {
            continue;
        }
        // The sentence goes on after the second copy with one particle: a repeat that
        // ends the utterance (異議なし、異議なし — two people) is not a stammer.
        let particle_then_stop = is_hiragana_at(c, b) && b + 1 < n && !is_hiragana(c[b + 1]);
        if particle_then_stop {
            return Some(k + 1);
        }
    }
    None
}

fn is_hiragana_at(c: &[char], k: usize) -> bool {
    k < c.len() && is_hiragana(c[k])
}

/// `そ、その` / `わ、私` at `i`: the end of the fragment and its pause when it is a stammer.
fn syllable_stammer(c: &[char], i: usize) -> Option<usize> {
    let n = c.len();
    for len in [2usize, 1] {
        let k = i + len;
        if k + 1 >= n || !pause_at(c, k) {
            continue;
        }
        let frag = &c[i..k];
        if !frag.iter().all(|ch| is_kana(*ch)) {
            continue;
        }
        let next = k + 1;
        let same = next + len <= n
            && frag
                .iter()
                .zip(&c[next..next + len])
                .all(|(a, b)| fold_kana(*a) == fold_kana(*b));
        // Two kana repeated must start the word they belong to: その、その件 but not
        // これ、これから (a pronoun, then a word that merely begins the same way).
        // The word must go on after the repeated kana (はい、はい stays).
        let word_follows = len == 1
            || (next + len < n
                && !is_break(c[next + len])
                && (!is_hiragana(c[next + len])
                    || next + len + 1 == n
                    || !is_hiragana(c[next + len + 1])));
        if same && word_follows {
            return Some(next);
        }
        if len == 1
            && is_hiragana(frag[0])
            && !STANDALONE_KANA.contains(frag[0])
            && is_kanji(c[next])
        {
            return Some(next);
        }
    }
    None
}

// ---- step 4: spaces ----

fn spaces(c: &[char]) -> Vec<Edit> {
    let n = c.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if !c[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && c[j].is_whitespace() {
            j += 1;
        }
        let edit = if i == 0 || j == n || is_break(c[i - 1]) || is_break(c[j]) {
            Edit::delete(i, j)
        } else if c[i - 1].is_ascii_alphanumeric() && c[j].is_ascii_alphanumeric() {
            Edit::replace(i, j, " ", false)
        } else if is_japanese(c[i - 1]) && is_japanese(c[j]) {
            let p = if ends_sentence(&c[..i]) { "。" } else { "、" };
            Edit::replace(i, j, p, false)
        } else {
            Edit::delete(i, j)
        };
        if !(edit.with == [' '] && j - i == 1) {
            out.push(edit);
        }
        i = j;
    }
    out
}

// ---- step 5: ? and ! ----

fn questions(c: &[char]) -> Vec<Edit> {
    let mut out = Vec::new();
    for (i, &ch) in c.iter().enumerate() {
        let to = match ch {
            '?' | '？' => {
                let after_ka = i > 0 && c[i - 1] == 'か';
                let at_end = i + 1 == c.len() || is_break(c[i + 1]) || is_japanese(c[i + 1]);
                if after_ka && at_end {
                    "。"
                } else {
                    "？"
                }
            }
            '!' => "！",
            _ => continue,
        };
        if !to.starts_with(ch) {
            out.push(Edit::replace(i, i + 1, to, true));
        }
    }
    out
}

// ---- step 6: thousands separators ----

/// Units after which a number is an amount or a count (grouped by thousands in 公用文).
/// Years, 号, dates and times are not.
const AMOUNT_UNITS: &[&str] = &[
    "万",
    "億",
    "兆",
    "千",
    "円",
    "人",
    "件",
    "名",
    "世帯",
    "戸",
    "台",
    "個",
    "本",
    "枚",
    "株",
    "票",
    "冊",
    "トン",
    "キロ",
    "メートル",
    "平方",
    "ヘクタール",
];

fn thousands(c: &[char]) -> Vec<Edit> {
    let n = c.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if !c[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < n && c[j].is_ascii_digit() {
            j += 1;
        }
        let before_ok = i == 0 || !matches!(c[i - 1], ',' | '.' | '第' | '-' | ':');
        let after_ok = j < n
            && !matches!(c[j], ',' | '.')
            && AMOUNT_UNITS.iter().any(|u| starts_with(c, j, u));
        if j - i >= 4 && before_ok && after_ok {
            let digits: String = c[i..j].iter().collect();
            out.push(Edit::replace(i, j, &group_thousands(&digits), true));
        }
        i = j;
    }
    out
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    let len = digits.len();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (len - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---- step 7: tidy ----

/// Runs of 、。？！ reduced to the strongest one; no punctuation at the very start.
fn tidy(c: &[char]) -> Vec<Edit> {
    let is_p = |ch: char| matches!(ch, '、' | '。' | '？' | '！');
    let rank = |ch: char| match ch {
        '？' => 3,
        '！' => 2,
        '。' => 1,
        _ => 0,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !is_p(c[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < c.len() && is_p(c[j]) {
            j += 1;
        }
        if i == 0 {
            out.push(Edit::delete(i, j));
        } else if j - i > 1 {
            let keep = c[i..j]
                .iter()
                .copied()
                .max_by_key(|ch| rank(*ch))
                .unwrap_or('。');
            out.push(Edit::replace(i, j, &keep.to_string(), false));
        }
        i = j;
    }
    out
}

// ---- step 8: sentence end ----

/// The end of an utterance whose sentence the recogniser had not finished: trailing
/// whitespace and 「、」 go, and 「。」 comes only after a sentence-final form.
fn end_open(m: &mut Marked) {
    let n = m.chars.len();
    let Some(mut last) = m.chars.iter().rposition(|c| !c.is_whitespace()) else {
        return;
    };
    if m.chars[last] == '、' {
        let Some(k) = m.chars[..last].iter().rposition(|c| !c.is_whitespace()) else {
            return;
        };
        last = k;
    }
    if last + 1 < n {
        m.edit(vec![Edit::delete(last + 1, n)]);
    }
    if !matches!(m.chars[last], '。' | '？' | '！' | '…') && ends_sentence(&m.chars) {
        let at = m.chars.len();
        m.edit(vec![Edit::replace(at, at, "。", false)]);
    }
}

fn end_sentence(m: &mut Marked, ends_here: bool) {
    let n = m.chars.len();
    let last = match m.chars.iter().rposition(|c| !c.is_whitespace()) {
        Some(k) => k,
        None => return,
    };
    if last + 1 < n {
        m.edit(vec![Edit::delete(last + 1, n)]);
    }
    let end = m.chars[last];
    if matches!(end, '。' | '？' | '！' | '…') {
        return;
    }
    let p = if ends_here || ends_sentence(&m.chars) {
        "。"
    } else {
        "、"
    };
    if end == '、' {
        m.edit(vec![Edit::replace(last, last + 1, p, false)]);
    } else {
        let at = m.chars.len();
        m.edit(vec![Edit::replace(at, at, p, false)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AsrToken, Span};

    fn clean(s: &str) -> String {
        clean_text(s, Style::Clean)
    }

    fn verbatim(s: &str) -> String {
        clean_text(s, Style::Verbatim)
    }

    #[test]
    fn fillers_go() {
        assert_eq!(clean("えー、本日は開会します"), "本日は開会します。");
        assert_eq!(clean("えーと 本日の議題は"), "本日の議題は。");
        assert_eq!(
            clean("それは、あの、予算の話です"),
            "それは、予算の話です。"
        );
        assert_eq!(clean("あのー予算について"), "予算について。");
        assert_eq!(clean("まあ、そういうことです"), "そういうことです。");
        assert_eq!(clean("ま、いいでしょう"), "いいでしょう。");
        assert_eq!(clean("うーん、難しいですね"), "難しいですね。");
        assert_eq!(clean("なんか、違う気がします"), "違う気がします。");
        assert_eq!(clean("えーーー、以上です"), "以上です。");
        assert_eq!(clean("ええと、えー、あの、始めます"), "始めます。");
        assert_eq!(clean("以上です。えー。"), "以上です。");
        assert_eq!(clean("そのー、件ですが"), "件ですが。");
    }

    #[test]
    fn content_words_that_look_like_fillers_stay() {
        // The traps: demonstratives, adverbs and words that begin like a filler.
        for s in [
            "あの人が来ました。",
            "その件は了解しました。",
            "まあまあの出来です。",
            "全然問題ありません。",
            "なんかあったら連絡ください。",
            "まず予算です。",
            "ままならない状況です。",
            "あのような事例は、あの時に見ました。",
            "ええ、そうです。",
            "え、本当ですか。",
            "今回はま、仕方ないです。",
            "うんと高いです。",
            "じゃあ、始めます。",
            "えーとですね。",
        ] {
            assert_eq!(clean(s), s, "{s}");
        }
    }

    #[test]
    fn stammers_go() {
        assert_eq!(clean("予算、予算の説明です"), "予算の説明です。");
        assert_eq!(clean("わ、私は反対です"), "私は反対です。");
        assert_eq!(clean("そ、その件は"), "その件は。");
        assert_eq!(clean("その、その件は"), "その件は。");
        assert_eq!(clean("シ、システムの更新"), "システムの更新。");
        assert_eq!(clean("予算、予算、予算の件"), "予算の件。");
        assert_eq!(clean("こ、今回は"), "今回は。");
    }

    #[test]
    fn look_alike_repeats_stay() {
        for s in [
            "議会、議会事務局、市長部局です。",
            "これ、これから説明します。",
            "と、東京都の件です。",
            "で、今回の件です。",
            "か、佐藤です。",
            "補正予算、予算の執行状況です。",
            "10、10、20です。",
            "いろいろ、ありました。",
            "それぞれの課です。",
            "時々、ありました。",
            "どうぞどうぞ。",
            "はい、はい。",
            "異議なし、異議なし。",
            "委員長、委員長。",
        ] {
            assert_eq!(clean(s), s, "{s}");
        }
    }

    #[test]
    fn verbatim_deletes_nothing() {
        assert_eq!(verbatim("えー、予算、予算の"), "えー、予算、予算の。");
        assert_eq!(verbatim("わ、私は 反対です"), "わ、私は、反対です。");
    }

    #[test]
    fn koyobun_punctuation_and_widths() {
        assert_eq!(
            verbatim("本日は，議案第１５号を審査します．"),
            "本日は、議案第15号を審査します。"
        );
        assert_eq!(verbatim("事業費は1,250万円です"), "事業費は1,250万円です。");
        assert_eq!(verbatim("率は1.5倍です"), "率は1.5倍です。");
        assert_eq!(verbatim("ＡＩの活用(案)です"), "AIの活用（案）です。");
        assert_eq!(verbatim("１，２５０万円"), "1,250万円。");
        assert_eq!(verbatim("はい,わかりました."), "はい、わかりました。");
        assert_eq!(verbatim("開会します｡本日は､"), "開会します。本日は。");
    }

    #[test]
    fn spaces_become_pauses() {
        assert_eq!(
            verbatim("開会します 本日は議案です"),
            "開会します。本日は議案です。"
        );
        assert_eq!(
            verbatim("補正予算のうち 総務部所管分"),
            "補正予算のうち、総務部所管分。"
        );
        assert_eq!(verbatim("AI system の導入"), "AI systemの導入。");
        assert_eq!(verbatim("です。 次に"), "です。次に。");
        assert_eq!(verbatim("  はい  "), "はい。");
    }

    #[test]
    fn questions_and_exclamations() {
        assert_eq!(verbatim("質疑はありませんか?"), "質疑はありませんか。");
        assert_eq!(verbatim("見込みですか？次に"), "見込みですか。次に。");
        assert_eq!(verbatim("予算は?"), "予算は？");
        assert_eq!(verbatim("すごい!"), "すごい！");
    }

    #[test]
    fn thousands_in_amounts_only() {
        assert_eq!(verbatim("1250万円と18400人"), "1,250万円と18,400人。");
        assert_eq!(verbatim("2025年の第1250号"), "2025年の第1250号。");
        assert_eq!(verbatim("123万円"), "123万円。");
    }

    #[test]
    fn glossary_replacements_tolerate_spaces() {
        let mut table = BTreeMap::new();
        table.insert("総務上任委員会".to_string(), "総務常任委員会".to_string());
        table.insert("上任".to_string(), "常任".to_string());
        let r = Replacements::new(&table);
        let mut m = Marked::new("総務 上任委員会と上任", Some(&[0.1; 11]));
        m.edit(r.edits(&m.chars));
        assert_eq!(m.text(), "総務常任委員会と常任");
        // Corrected words are sure: 「総務常任委員会と」 keeps only と's doubt (score
        // 0.1^(1/8) = 0.75), the corrected 常任 after it none.
        assert!(m.marks(0.5).is_empty());
        assert_eq!(m.marks(0.8), vec![Mark { start: 0, end: 8 }]);
    }

    fn utt(start: u64, end: u64, speaker: &str, tokens: &[(&str, f32)]) -> Utterance {
        let tokens: Vec<AsrToken> = tokens
            .iter()
            .map(|(t, p)| AsrToken {
                text: t.to_string(),
                start: Ms(start),
                end: Ms(end),
                p: *p,
            })
            .collect();
        let text = tokens
            .iter()
            .map(|t| t.text.as_str())
            .collect::<String>()
            .trim()
            .to_string();
        Utterance {
            span: Span::new(Ms(start), Ms(end)),
            speaker: speaker.into(),
            text,
            confidence: 0.9,
            tokens,
            raw_text: None,
            marks: vec![],
            open_end: false,
            new_turn: None,
            reviewed: false,
        }
    }

    #[test]
    fn transcript_keeps_raw_text_and_moves_marks() {
        let mut t = Transcript {
            utterances: vec![
                utt(
                    0,
                    1000,
                    "話者1",
                    &[
                        (" えー", 0.2),
                        ("、", 0.9),
                        ("本日は", 0.9),
                        ("議案第15号", 0.9),
                    ],
                ),
                utt(
                    1000,
                    2000,
                    "話者1",
                    &[
                        (" 例は", 0.9),
                        ("7年度", 0.1),
                        ("の", 0.9),
                        ("予算", 0.3),
                        ("です", 0.9),
                    ],
                ),
                utt(2500, 3000, "話者1", &[(" えー", 0.9)]),
                utt(3000, 4000, "話者2", &[(" はい", 0.9)]),
            ],
            duration: Ms(4000),
            speaker_turns: vec![],
        };
        apply(&mut t, &CleanConfig::default());
        let texts: Vec<&str> = t.utterances.iter().map(|u| u.text.as_str()).collect();
        // Mid-sentence seam → 、; the filler-only utterance is gone; speaker change → 。.
        assert_eq!(
            texts,
            ["本日は議案第15号、", "例は7年度の予算です。", "はい。"]
        );
        assert_eq!(
            t.utterances[0].raw_text.as_deref(),
            Some("えー、本日は議案第15号")
        );
        // えー was low but is gone.
        assert!(t.utterances[0].marks.is_empty());
        let u = &t.utterances[1];
        let marked: Vec<String> = u
            .marks
            .iter()
            .map(|m| u.text.chars().skip(m.start).take(m.end - m.start).collect())
            .collect();
        // 「7年度の」 scores 0.17; 「予算です」 (0.3, 0.3, 0.9, 0.9) 0.52, above the default.
        assert_eq!(marked, ["7年度の"]);

        // Marks off: none at all.
        let mut t2 = Transcript {
            utterances: vec![utt(0, 1000, "話者1", &[("予算", 0.1)])],
            duration: Ms(1000),
            speaker_turns: vec![],
        };
        let cfg = CleanConfig {
            mark_threshold: None,
            ..CleanConfig::default()
        };
        apply(&mut t2, &cfg);
        assert!(t2.utterances[0].marks.is_empty());
    }

    #[test]
    fn style_names() {
        assert_eq!("clean".parse::<Style>().unwrap(), Style::Clean);
        assert_eq!(Style::Verbatim.to_string(), "verbatim");
        assert_eq!(
            "highlight".parse::<MarkStyle>().unwrap(),
            MarkStyle::Highlight
        );
        let err = "tidy".parse::<Style>().unwrap_err();
        assert!(err.contains("`tidy`") && err.contains("verbatim"), "{err}");
        let cfg: CleanConfig = toml::from_str("style = \"verbatim\"").unwrap();
        assert_eq!(cfg.style, Style::Verbatim);
        assert!(toml::from_str::<CleanConfig>("typo = 1").is_err());
    }

    #[test]
    fn phrases_are_content_words_with_their_hiragana() {
        let chars: Vec<char> = "補正予算に計上された事業費は1,250万円で、デジタル化です。"
            .chars()
            .collect();
        let got: Vec<String> = phrases(&chars)
            .into_iter()
            .map(|(s, e)| chars[s..e].iter().collect())
            .collect();
        assert_eq!(
            got,
            [
                "補正予算に",
                "計上された",
                "事業費は",
                "1,250万円で",
                "デジタル化です"
            ]
        );
    }

    #[test]
    fn doubtful_phrases_are_marked_whole_and_neighbours_join() {
        let text = "事業費は1,250万円です。";
        let shown = |marks: Vec<Mark>| -> Vec<String> {
            marks
                .iter()
                .map(|k| text.chars().skip(k.start).take(k.end - k.start).collect())
                .collect()
        };
        let mut p = vec![0.9f32; text.chars().count()];
        p[3] = 0.01; // は: (0.9³ × 0.01)^¼ = 0.29
        assert_eq!(shown(Marked::new(text, Some(&p)).marks(0.5)), ["事業費は"]);
        // The amount doubtful too: the two phrases are one stretch to check.
        p[4..11].fill(0.2);
        assert_eq!(
            shown(Marked::new(text, Some(&p)).marks(0.5)),
            ["事業費は1,250万円です"]
        );
        assert!(Marked::new(text, Some(&p)).marks(0.1).is_empty());
    }
}
