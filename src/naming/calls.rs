//! Finding the chair's calls in the transcript: a roster name or post said on its own
//! (「鈴木総務部長。」「田中一郎委員、どうぞ。」「18番、山本議員。」), compared by characters and, for
//! recognition errors in names, by reading.

use super::readings::{to_katakana, Readings};
use super::roster::{call_forms, Member};

/// Words a call may start with (「それでは、」「次に、」).
const LEADS: [&str; 14] = [
    "それでは",
    "それじゃ",
    "では",
    "じゃあ",
    "次に",
    "続いて",
    "引き続き",
    "まず",
    "最初に",
    "はい",
    "ええ",
    "えー",
    "ほかに",
    "他に",
];

/// Words a call may end with (「…委員、どうぞ。」).
const TAILS: [&str; 9] = [
    "の発言を許します",
    "発言を許します",
    "お願いいたします",
    "お願い致します",
    "お願いします",
    "お願いします",
    "どうぞ",
    "から",
    "より",
];

/// A roster person's name heard at the end of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// Index in the roster.
    pub member: usize,
    /// 1.0 for the exact written form; less for a match by reading.
    pub score: f32,
}

/// Lowest score that counts as a call.
pub const MIN_SCORE: f32 = 0.8;

/// What a matching (or different) seat number adds to (takes from) the name's score.
const SEAT_BONUS: f32 = 0.3;

/// Longest core (without lead-in and tail) considered a call, in characters.
const MAX_CORE: usize = 18;

/// The roster's call forms prepared once: written form and readings.
pub struct Matcher<'a> {
    forms: Vec<Form>,
    /// Family and full names alone, for self-introductions.
    names: Vec<Form>,
    posts: Vec<String>,
    readings: Option<&'a Readings>,
}

/// Endings of a self-introduction (「総務課長の鈴木でございます。」).
const INTRO_ENDS: [&str; 4] = ["でございます", "と申します", "です", "だ"];

struct Form {
    member: usize,
    written: String,
    readings: Vec<String>,
    seat: Option<u32>,
}

fn strip_punct(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '、' | '，' | ',' | '・'))
        .collect()
}

impl<'a> Matcher<'a> {
    pub fn new(roster: &[Member], readings: Option<&'a Readings>) -> Matcher<'a> {
        let mut forms = Vec::new();
        for (i, m) in roster.iter().enumerate() {
            for (name, title) in call_forms(m) {
                let written = format!("{name}{title}");
                let mut rs: Vec<String> = Vec::new();
                if let Some(r) = readings {
                    rs = r.read(&written, 8);
                    // The clerk's よみ for the name part wins over the dictionary's.
                    if let Some((f, g)) = &m.reading {
                        let name_kana = if name == m.family {
                            Some(f.clone())
                        } else if !m.given.is_empty() && name == format!("{}{}", m.family, m.given)
                        {
                            Some(format!("{f}{g}"))
                        } else {
                            None
                        };
                        if let Some(k) = name_kana {
                            for t in r.read(&title, 4) {
                                rs.insert(0, format!("{k}{t}"));
                            }
                        }
                    }
                }
                forms.push(Form {
                    member: i,
                    written,
                    readings: rs,
                    seat: m.seat,
                });
            }
        }
        let mut names = Vec::new();
        for (i, m) in roster.iter().enumerate() {
            let mut written = vec![m.family.clone()];
            if !m.given.is_empty() {
                written.push(format!("{}{}", m.family, m.given));
            }
            for w in written.into_iter().filter(|w| !w.is_empty()) {
                let mut rs = readings.map(|r| r.read(&w, 8)).unwrap_or_default();
                if let Some((f, g)) = &m.reading {
                    rs.insert(
                        0,
                        if w == m.family {
                            f.clone()
                        } else {
                            format!("{f}{g}")
                        },
                    );
                }
                names.push(Form {
                    member: i,
                    written: w,
                    readings: rs,
                    seat: None,
                });
            }
        }
        let posts = roster.iter().map(|m| m.post.clone()).collect();
        Matcher {
            forms,
            names,
            posts,
            readings,
        }
    }

    /// Who a speaker says they are, when `sentence` (the first of their turn) introduces
    /// them: 「佐藤です。」「総務課長の鈴木でございます。」. A post said that is not the
    /// person's own counts against them.
    pub fn introduced(&self, sentence: &str) -> Vec<Heard> {
        let (core, _) = core_of(sentence);
        let Some(core) = INTRO_ENDS.iter().find_map(|e| core.strip_suffix(e)) else {
            return Vec::new();
        };
        let (post, name) = match core.rsplit_once('の') {
            Some((p, n)) => (Some(p), n),
            None => (None, core),
        };
        let n = name.chars().count();
        if n == 0 || n > 8 {
            return Vec::new();
        }
        let name_readings = self.readings.map(|r| r.read(name, 8));
        let mut best: Vec<Heard> = Vec::new();
        for f in &self.names {
            let mut score = f.score(name, name_readings.as_deref());
            if let Some(p) = post {
                let own = &self.posts[f.member];
                if !own.is_empty() && !p.ends_with(own.as_str()) {
                    score -= SEAT_BONUS;
                }
            }
            keep_best(&mut best, f.member, score);
        }
        best
    }

    /// Who a sentence calls, if it is a call: the best-matching people (several when the
    /// sentence fits more than one equally, e.g. a family name two members share).
    pub fn heard(&self, sentence: &str) -> Vec<Heard> {
        let (core, seat) = core_of(sentence);
        let n = core.chars().count();
        if n == 0 || n > MAX_CORE {
            return Vec::new();
        }
        let core_readings = self.readings.map(|r| r.read(&core, 16));
        let mut best: Vec<Heard> = Vec::new();
        for f in &self.forms {
            let mut score = f.score(&core, core_readings.as_deref());
            // A seat number is said clearly even when the name is misheard.
            if let (Some(said), Some(s)) = (seat, f.seat) {
                score = if said == s {
                    (score + SEAT_BONUS).min(1.0)
                } else {
                    score - SEAT_BONUS
                };
            }
            keep_best(&mut best, f.member, score);
        }
        best
    }
}

impl Form {
    /// 1.0 for the exact written form, else how alike the readings are (0 without them).
    fn score(&self, text: &str, text_readings: Option<&[String]>) -> f32 {
        if self.written == text {
            1.0
        } else {
            text_readings.map_or(0.0, |r| similarity(r, &self.readings))
        }
    }
}

/// Keeps `member` among the best matches so far if `score` counts and is (about) as good as
/// theirs: a clearly better one replaces them, equals are kept side by side.
fn keep_best(best: &mut Vec<Heard>, member: usize, score: f32) {
    if score < MIN_SCORE {
        return;
    }
    match best.first().map(|b| b.score) {
        Some(b) if score > b + 0.05 => best.clear(),
        Some(b) if score < b - 0.05 => return,
        _ => {}
    }
    if let Some(h) = best.iter_mut().find(|h| h.member == member) {
        h.score = h.score.max(score);
    } else {
        best.push(Heard { member, score });
    }
}

/// The sentence without lead-in words, seat number and tail; and the seat number said.
fn core_of(sentence: &str) -> (String, Option<u32>) {
    let mut s = strip_punct(sentence.trim_end_matches(['。', '？', '！', '?', '!', '.', '、']));
    loop {
        let before = s.len();
        for lead in LEADS {
            if let Some(rest) = s.strip_prefix(lead) {
                s = rest.to_string();
            }
        }
        for tail in TAILS {
            if let Some(rest) = s.strip_suffix(tail) {
                s = rest.to_string();
            }
        }
        if s.len() == before {
            break;
        }
    }
    // 「18番、山本議員」: the seat number leads.
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || ('０'..='９').contains(c))
        .map(|c| {
            if c.is_ascii_digit() {
                c
            } else {
                char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c)
            }
        })
        .collect();
    let mut seat = None;
    if !digits.is_empty() {
        let rest: String = s.chars().skip(digits.chars().count()).collect();
        if let Some(rest) = rest.strip_prefix('番') {
            seat = digits.parse().ok();
            s = rest.to_string();
        }
    }
    (s, seat)
}

/// 1 − the smallest edit distance between any two readings, relative to the longer one,
/// with vowel length ignored (the recogniser writes さいとういいん as サイトオイン).
fn similarity(a: &[String], b: &[String]) -> f32 {
    let mut best = 0.0f32;
    for x in a {
        let x: Vec<char> = short_vowels(&to_katakana(x));
        for y in b {
            let y: Vec<char> = short_vowels(y);
            let longest = x.len().max(y.len());
            if longest == 0 {
                continue;
            }
            let d = levenshtein(&x, &y);
            best = best.max(1.0 - d as f32 / longest as f32);
        }
    }
    best
}

/// Katakana with long vowels shortened: ー dropped, and a vowel that repeats the previous
/// kana's vowel (トウ, トオ, イイ, エイ) dropped.
fn short_vowels(kana: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    let mut prev_vowel = None;
    for c in kana.chars() {
        let vowel = vowel_of(c);
        let lengthens = match (prev_vowel, c) {
            (_, 'ー') => true,
            (Some(p), 'ア' | 'イ' | 'ウ' | 'エ' | 'オ') => {
                p == vowel_of(c).unwrap_or(' ')
                    || (p == 'o' && c == 'ウ')
                    || (p == 'e' && c == 'イ')
            }
            _ => false,
        };
        if !lengthens {
            out.push(c);
            prev_vowel = vowel;
        }
    }
    out
}

/// The vowel a katakana ends in (a, i, u, e, o), if it is a plain mora.
fn vowel_of(c: char) -> Option<char> {
    const ROWS: [(&str, char); 5] = [
        ("アカサタナハマヤラワガザダバパァャ", 'a'),
        ("イキシチニヒミリギジヂビピィ", 'i'),
        ("ウクスツヌフムユルグズヅブプゥュ", 'u'),
        ("エケセテネヘメレゲゼデベペェ", 'e'),
        ("オコソトノホモヨロヲゴゾドボポォョ", 'o'),
    ];
    ROWS.iter()
        .find(|(row, _)| row.contains(c))
        .map(|(_, v)| *v)
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Splits text into sentences at 。？！ (each keeps its mark).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '。' | '？' | '！' | '?' | '!') {
            let end = i + c.len_utf8();
            if !text[start..end].trim().is_empty() {
                out.push(&text[start..end]);
            }
            start = end;
        }
    }
    if !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minutes::MeetingSheet;
    use crate::naming::readings::sample;
    use crate::naming::roster::roster;

    fn members() -> Vec<Member> {
        let s = MeetingSheet::parse(
            r#"
出席者 = [{ 職 = "委員長", 氏名 = "山田太郎" }, "委員 田中 一郎", "委員 斉藤 花子", { 職 = "委員", 氏名 = "中村", 番号 = 18 }]
説明員 = [{ 職 = "総務課長", 氏名 = "鈴木 一郎" }]
"#,
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        roster(&s, Some(&sample()))
    }

    fn who(m: &Matcher, s: &str) -> Vec<usize> {
        m.heard(s).into_iter().map(|h| h.member).collect()
    }

    #[test]
    fn calls_are_heard_in_their_usual_shapes() {
        let r = sample();
        let roster = members();
        let m = Matcher::new(&roster, Some(&r));
        assert_eq!(who(&m, "田中一郎委員。"), [1]);
        assert_eq!(who(&m, "では、田中委員、どうぞ。"), [1]);
        assert_eq!(who(&m, "総務課長。"), [4]);
        assert_eq!(who(&m, "鈴木総務課長、お願いします。"), [4]);
        assert_eq!(who(&m, "18番、中村委員。"), [3]);
        // Misrecognised names: same reading, other characters.
        assert_eq!(who(&m, "斎藤委員。"), [2]);
        assert_eq!(who(&m, "田中市郎委員。"), [1]);
        // Vowel length misheard; a bare full name; a misheard name with its seat number.
        assert_eq!(who(&m, "サイトオイン。"), [2]);
        assert_eq!(who(&m, "田中、一郎。"), [1]);
        assert_eq!(who(&m, "18番、ナガマラ委員。"), [3]);
        assert!(who(&m, "17番、ナガマラ委員。").is_empty());
        // Not calls.
        assert!(who(&m, "田中委員のご指摘のとおり、予算は増やしません。").is_empty());
        assert!(who(&m, "ありがとうございました。").is_empty());
        assert!(who(&m, "委員。").is_empty());
    }

    #[test]
    fn without_the_dictionary_only_exact_forms_count() {
        let roster = members();
        let m = Matcher::new(&roster, None);
        assert_eq!(who(&m, "田中委員。"), [1]);
        assert!(who(&m, "斎藤委員。").is_empty());
    }

    #[test]
    fn self_introductions() {
        let r = sample();
        let roster = members();
        let m = Matcher::new(&roster, Some(&r));
        let who =
            |s: &str| -> Vec<usize> { m.introduced(s).into_iter().map(|h| h.member).collect() };
        assert_eq!(who("総務課長の鈴木でございます。"), [4]);
        assert_eq!(who("はい、中村です。"), [3]);
        assert_eq!(who("斎藤と申します。"), [2]);
        // A post that is not theirs, an ordinary sentence, a call.
        assert!(who("建設部長の鈴木でございます。").is_empty());
        assert!(who("以上です。").is_empty());
        assert!(who("そのとおりです。").is_empty());
        assert!(who("鈴木総務課長。").is_empty());
    }

    #[test]
    fn vowel_length_is_ignored() {
        let s = |k: &str| short_vowels(k).into_iter().collect::<String>();
        assert_eq!(s("サイトウイイン"), "サイトイン");
        assert_eq!(s("サイトオイン"), "サイトイン");
        assert_eq!(s("ソウムカチョウ"), "ソムカチョ");
        assert_eq!(s("セーケー"), "セケ");
        assert_eq!(s("タナカ"), "タナカ");
    }

    #[test]
    fn sentences_keep_their_marks() {
        assert_eq!(sentences("はい。田中委員。"), ["はい。", "田中委員。"]);
        assert_eq!(sentences("どうぞ"), ["どうぞ"]);
    }
}
