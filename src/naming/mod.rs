//! Naming the voices: the stage after speaker turns and clean-up. The meeting sheet's people
//! become a roster with the labels a 会議録 uses ([`roster`]); the chair's calls in the
//! transcript (「田中委員。」 at the end of a turn, [`calls`]) vote for the name of the voice that
//! speaks next; votes over the whole meeting decide one name per voice, and a voice with too
//! little or contradictory evidence stays 話者N with its candidates listed. Names written in
//! the sheet's `[話者]` always win. Entry: [`name_speakers`].
//!
//! A call is also evidence of a speaker change: the short turn right after a call that the
//! voices gave to another speaker than the one called goes to the called person's voice.

pub mod calls;
pub mod readings;
pub mod roster;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::minutes::MeetingSheet;
use crate::types::{Ms, Span, Speaker, SpeakerId, SpeakerTurn, Transcript};
pub use readings::{Readings, ReadingsError};
use roster::{Member, Role};

/// How a voice got its name; the JSON tells the reviewer what to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// The sheet's `[話者]` table.
    Sheet,
    /// The chair's calls.
    Call,
    /// `gijiroku relabel` (or the review page).
    Relabel,
    /// Still 話者N.
    Unnamed,
}

/// One call that points at a name: when it ended and what was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvidence {
    /// Seconds from the start of the recording (end of the calling sentence).
    pub at: f64,
    pub said: String,
}

/// A name a voice might carry, with the calls for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    /// Sum of the calls' match scores (1 per exact call).
    pub votes: f32,
    pub calls: Vec<CallEvidence>,
}

/// What naming decided for one voice (raw label such as 話者2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub how: How,
    /// The evidence, best first (for the chair: the calls it made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// The outcome: one entry per voice, and utterances given to another voice because a call
/// showed the voices wrong (index into the transcript's utterances, new raw label).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Naming {
    pub voices: Vec<Voice>,
    pub moved: Vec<(usize, Speaker)>,
}

impl Naming {
    /// Label → name for every voice named (by the sheet or by calls).
    pub fn names(&self) -> BTreeMap<String, String> {
        self.voices
            .iter()
            .filter_map(|v| Some((v.label.clone(), v.name.clone()?)))
            .collect()
    }

    /// Applies [`Naming::moved`] to the transcript it was made from: the utterances change
    /// voice, and so do the speaker turns under them (RTTM and JSON `speaker_turns` agree
    /// with the text).
    pub fn apply_moves(&self, transcript: &mut Transcript) {
        for (i, label) in &self.moved {
            let Some(u) = transcript.utterances.get_mut(*i) else {
                continue;
            };
            let old = std::mem::replace(&mut u.speaker, label.clone());
            let span = u.span;
            if let (Some(from), Some(to)) = (old.voice(), label.voice()) {
                move_turns(&mut transcript.speaker_turns, span, from, to);
            }
        }
    }
}

/// Gives the part of `from`'s speaker turns inside `span` to `to`, splitting turns at the
/// span's ends; the turns stay in time order.
fn move_turns(turns: &mut Vec<SpeakerTurn>, span: Span, from: SpeakerId, to: SpeakerId) {
    let mut out = Vec::with_capacity(turns.len() + 2);
    for t in turns.drain(..) {
        let (a, b) = (t.span.start.max(span.start), t.span.end.min(span.end));
        if t.speaker != from || a >= b {
            out.push(t);
            continue;
        }
        let piece = |s: Ms, e: Ms, who: SpeakerId| {
            (s < e).then_some(SpeakerTurn {
                span: Span::new(s, e),
                speaker: who,
            })
        };
        out.extend(piece(t.span.start, a, from));
        out.extend(piece(a, b, to));
        out.extend(piece(b, t.span.end, from));
    }
    out.sort_by_key(|t| (t.span.start, t.span.end));
    *turns = out;
}

/// Evidence a voice needs for a name: one clear call, or two that are less sure.
const MIN_VOTES: f32 = 0.9;
/// Share of a voice's votes its name must have (else the evidence contradicts itself).
const MIN_SHARE: f32 = 0.6;
/// Votes a second voice needs to take a name another voice already has (one person split
/// in two by the voices).
const SECOND_VOICE_VOTES: f32 = 1.8;
/// How sure a call must be to split a turn off a voice named for someone else.
const SPLIT_SCORE: f32 = 0.9;
/// A call names the next voice only if it starts within this long.
const MAX_CALL_GAP: Ms = Ms(15_000);
/// A turn right after a call this short is where the voices are least sure.
const SHORT_TURN: Ms = Ms(3_000);

struct Call {
    caller: Speaker,
    /// First utterance of the next turn, by another voice.
    next: Option<usize>,
    heard: Vec<calls::Heard>,
    evidence: CallEvidence,
}

/// Names the voices of `transcript` (raw labels 話者N) from `sheet`'s people and the calls.
/// `readings` makes names match by sound; without it only exactly written names count.
pub fn name_speakers(
    transcript: &Transcript,
    sheet: Option<&MeetingSheet>,
    readings: Option<&Readings>,
) -> Naming {
    let utts = &transcript.utterances;
    let mut labels: Vec<Speaker> = Vec::new();
    for u in utts {
        if u.speaker != Speaker::Unknown && !labels.contains(&u.speaker) {
            labels.push(u.speaker.clone());
        }
    }
    let default = MeetingSheet::default();
    let sheet = sheet.unwrap_or(&default);
    let fixed: BTreeMap<&str, &str> = sheet
        .speakers
        .iter()
        .filter(|(_, n)| !n.trim().is_empty())
        .map(|(l, n)| (l.as_str(), n.trim()))
        .collect();
    let roster = roster::roster(sheet, readings);
    let matcher = calls::Matcher::new(&roster, readings);
    let found = find_calls(transcript, &roster, &matcher);

    // The chair makes the calls; a call for the chair (「委員長。」) is a member asking for the
    // floor and says nothing about who chairs.
    let chair_member = roster.iter().position(|m| m.role == Role::Chair);
    let for_chair = |c: &Call| c.heard.iter().all(|h| Some(h.member) == chair_member);
    let chair_calls: Vec<&Call> = found.iter().filter(|c| !for_chair(c)).collect();
    let mut made: BTreeMap<&Speaker, Vec<&Call>> = BTreeMap::new();
    for c in &chair_calls {
        made.entry(&c.caller).or_default().push(c);
    }
    // The chair makes most of the calls (the voice that opens the meeting wins a tie), or
    // opens the meeting and makes them all.
    let opener = labels.first();
    let chair_voice = made
        .iter()
        .max_by_key(|(v, cs)| (cs.len(), Some(**v) == opener))
        .filter(|(v, cs)| {
            (cs.len() >= 2 && 2 * cs.len() >= chair_calls.len())
                || (Some(**v) == opener && cs.len() == chair_calls.len())
        })
        .map(|(v, _)| (*v).clone());

    // Votes: voice → member → (votes, evidence).
    let mut votes: BTreeMap<&Speaker, BTreeMap<usize, (f32, Vec<CallEvidence>)>> = BTreeMap::new();
    for c in &found {
        let Some(next) = c.next else { continue };
        // The chair never calls the chair: 「委員長。」 in the chair's own voice is a name
        // misheard (「伊藤委員。」) or a cut in the wrong place, and says nothing of the next.
        if for_chair(c) && chair_voice.as_ref() == Some(&c.caller) {
            continue;
        }
        let voice = &utts[next].speaker;
        // Voices are least sure of short turns: a call before one counts half.
        let weight = if turn_length(utts, next) <= SHORT_TURN {
            0.5
        } else {
            1.0
        };
        let share = weight / c.heard.len() as f32;
        for h in &c.heard {
            let e = votes.entry(voice).or_default().entry(h.member).or_default();
            e.0 += h.score * share;
            e.1.push(c.evidence.clone());
        }
    }

    // A speaker who says who they are at the start of their turn votes for their own voice.
    for (voice, heard, evidence) in find_intros(transcript, &roster, &matcher) {
        let share = 1.0 / heard.len() as f32;
        for h in &heard {
            let e = votes.entry(voice).or_default().entry(h.member).or_default();
            e.0 += h.score * share;
            e.1.push(evidence.clone());
        }
    }

    let taken_by_sheet: Vec<usize> = roster
        .iter()
        .enumerate()
        .filter(|(_, m)| fixed.values().any(|n| *n == m.label))
        .map(|(i, _)| i)
        .collect();
    let mut named: BTreeMap<Speaker, (String, usize)> = BTreeMap::new(); // voice → (name, member)
    if let (Some(v), Some(m)) = (&chair_voice, chair_member) {
        if !fixed.contains_key(v.label().as_ref()) && !taken_by_sheet.contains(&m) {
            named.insert(v.clone(), (roster[m].label.clone(), m));
        }
    }
    // Strongest evidence first; a name goes to one voice unless a second has strong evidence too.
    let mut ranked: Vec<(&Speaker, usize, f32, f32)> = Vec::new();
    for (voice, per) in &votes {
        let total: f32 = per.values().map(|(v, _)| v).sum();
        if let Some((&m, (v, _))) = per.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0)) {
            ranked.push((voice, m, *v, v / total));
        }
    }
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (voice, m, v, share) in ranked {
        if fixed.contains_key(voice.label().as_ref())
            || named.contains_key(voice)
            || v < MIN_VOTES
            || share < MIN_SHARE
            || taken_by_sheet.contains(&m)
        {
            continue;
        }
        let already = named.values().any(|(_, other)| *other == m);
        if already && v < SECOND_VOICE_VOTES {
            continue;
        }
        named.insert(voice.clone(), (roster[m].label.clone(), m));
    }

    let mut moved = moves(transcript, &found, &named);
    let split = splits(
        transcript,
        &found,
        &named,
        &votes,
        chair_voice.as_ref(),
        &labels,
    );
    moved.extend(split.iter().flat_map(|s| {
        s.utterances
            .iter()
            .map(|&i| (i, s.label.clone()))
            .collect::<Vec<_>>()
    }));

    let voices = labels
        .iter()
        .map(|label| {
            let mut candidates: Vec<Candidate> = votes
                .get(label)
                .map(|per| {
                    per.iter()
                        .map(|(&m, (v, ev))| Candidate {
                            name: roster[m].label.clone(),
                            votes: *v,
                            calls: ev.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if chair_voice.as_ref() == Some(label) {
                if let Some(m) = chair_member {
                    candidates.push(Candidate {
                        name: roster[m].label.clone(),
                        votes: made[label].len() as f32,
                        calls: made[label].iter().map(|c| c.evidence.clone()).collect(),
                    });
                }
            }
            candidates.sort_by(|a, b| b.votes.total_cmp(&a.votes));
            let (name, how) = if let Some(n) = fixed.get(label.label().as_ref()) {
                (Some(n.to_string()), How::Sheet)
            } else if let Some((n, _)) = named.get(label) {
                (Some(n.clone()), How::Call)
            } else {
                (None, How::Unnamed)
            };
            Voice {
                label: label.to_string(),
                name,
                how,
                candidates,
            }
        })
        .collect::<Vec<Voice>>();
    let mut voices = voices;
    for sp in split {
        voices.push(Voice {
            label: sp.label.to_string(),
            name: Some(roster[sp.member].label.clone()),
            how: How::Call,
            candidates: vec![Candidate {
                name: roster[sp.member].label.clone(),
                votes: sp.evidence.len() as f32,
                calls: sp.evidence,
            }],
        });
    }
    Naming { voices, moved }
}

/// Turns split off a voice into a new one: the member the calls named, the utterances.
struct Split {
    label: Speaker,
    member: usize,
    utterances: Vec<usize>,
    evidence: Vec<CallEvidence>,
}

/// A clear call from the chair for someone no voice carries, answered by a long turn of a
/// voice that is clearly someone else: two similar voices were taken for one, and the call
/// is the better evidence for that turn. Such turns go to a new voice named by the call.
fn splits(
    transcript: &Transcript,
    found: &[Call],
    named: &BTreeMap<Speaker, (String, usize)>,
    votes: &BTreeMap<&Speaker, BTreeMap<usize, (f32, Vec<CallEvidence>)>>,
    chair_voice: Option<&Speaker>,
    labels: &[Speaker],
) -> Vec<Split> {
    let utts = &transcript.utterances;
    let Some(chair) = chair_voice else {
        return Vec::new();
    };
    let mut next_number = labels
        .iter()
        .filter_map(|l| Some(l.voice()?.0))
        .max()
        .unwrap_or(0);
    let mut out: Vec<Split> = Vec::new();
    for c in found {
        let ([h], Some(n)) = (c.heard.as_slice(), c.next) else {
            continue;
        };
        if c.caller != *chair || h.score < SPLIT_SCORE || turn_length(utts, n) <= SHORT_TURN {
            continue;
        }
        let voice = &utts[n].speaker;
        let Some((_, owner)) = named.get(voice) else {
            continue;
        };
        if *owner == h.member || named.values().any(|(_, m)| *m == h.member) {
            continue;
        }
        let per = &votes[voice];
        let (own, called) = (per[owner].0, per.get(&h.member).map_or(0.0, |v| v.0));
        if own < 2.0 * called {
            continue;
        }
        let turn: Vec<usize> = (n..=turn_end(utts, n)).collect();
        match out.iter_mut().find(|s| s.member == h.member) {
            Some(s) => {
                s.utterances.extend(turn);
                s.evidence.push(c.evidence.clone());
            }
            None => {
                next_number += 1;
                out.push(Split {
                    label: Speaker::Voice(SpeakerId(next_number)),
                    member: h.member,
                    utterances: turn,
                    evidence: vec![c.evidence.clone()],
                });
            }
        }
    }
    out
}

/// Calls in the transcript: the last sentence of a turn (or the one before a closing
/// 「どうぞ。」) that names someone on the roster.
fn find_calls(transcript: &Transcript, roster: &[Member], matcher: &calls::Matcher) -> Vec<Call> {
    let utts = &transcript.utterances;
    if roster.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, u) in utts.iter().enumerate() {
        if u.speaker == Speaker::Unknown {
            continue;
        }
        let next = utts
            .get(i + 1)
            .filter(|n| n.speaker != Speaker::Unknown)
            .filter(|n| n.span.start.0.saturating_sub(u.span.end.0) <= MAX_CALL_GAP.0);
        let sentences = calls::sentences(&u.text);
        let mut tail: Vec<&str> = sentences.iter().rev().take(2).copied().collect();
        tail.reverse();
        // 「田中委員。どうぞ。」: the name is in the sentence before the last.
        let mut candidates: Vec<String> = match tail.as_slice() {
            [a, b] => vec![b.to_string(), format!("{a}{b}"), a.to_string()],
            [a] => vec![a.to_string()],
            _ => vec![],
        };
        // A cut between the voices that fell inside the call (「田中一郎委」 | 「員。伺います」):
        // the call whole again, tried first.
        if let (Some(last), Some(n)) = (tail.last(), next) {
            let open = !last.trim_end().ends_with(['。', '？', '！', '?', '!']);
            let rest = calls::sentences(&n.text).first().copied().unwrap_or("");
            let short = rest.chars().filter(|c| !c.is_ascii_punctuation()).count() <= 3;
            if open && short && rest.ends_with('。') && n.speaker != u.speaker {
                candidates.insert(0, format!("{last}{rest}"));
            }
        }
        for s in candidates {
            let heard = matcher.heard(&s);
            if heard.is_empty() {
                continue;
            }
            let next = next.and_then(|n| (n.speaker != u.speaker).then_some(i + 1));
            out.push(Call {
                caller: u.speaker.clone(),
                next,
                heard,
                evidence: CallEvidence {
                    at: u.span.end.as_secs_f64(),
                    said: s.trim().to_string(),
                },
            });
            break;
        }
    }
    out
}

/// Self-introductions: the first sentence of a turn that says who speaks (「総務課長の鈴木で
/// ございます。」「佐藤です。」), with the voice that says it.
fn find_intros<'t>(
    transcript: &'t Transcript,
    roster: &[Member],
    matcher: &calls::Matcher,
) -> Vec<(&'t Speaker, Vec<calls::Heard>, CallEvidence)> {
    let utts = &transcript.utterances;
    if roster.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, u) in utts.iter().enumerate() {
        let starts_turn = i == 0 || utts[i - 1].speaker != u.speaker;
        if u.speaker == Speaker::Unknown || !starts_turn {
            continue;
        }
        let Some(first) = calls::sentences(&u.text).first().copied() else {
            continue;
        };
        let heard = matcher.introduced(first);
        if !heard.is_empty() {
            let evidence = CallEvidence {
                at: u.span.start.as_secs_f64(),
                said: first.trim().to_string(),
            };
            out.push((&u.speaker, heard, evidence));
        }
    }
    out
}

/// Last utterance of the turn that starts at `i` (same voice, consecutive).
fn turn_end(utts: &[crate::types::Utterance], i: usize) -> usize {
    let mut end = i;
    while end + 1 < utts.len() && utts[end + 1].speaker == utts[i].speaker {
        end += 1;
    }
    end
}

fn turn_length(utts: &[crate::types::Utterance], i: usize) -> Ms {
    Ms(utts[turn_end(utts, i)]
        .span
        .end
        .0
        .saturating_sub(utts[i].span.start.0))
}

/// A short turn right after a call, given by the voices to someone other than the person
/// called, goes to the called person's voice when the calls named one.
fn moves(
    transcript: &Transcript,
    found: &[Call],
    named: &BTreeMap<Speaker, (String, usize)>,
) -> Vec<(usize, Speaker)> {
    let utts = &transcript.utterances;
    let mut out = Vec::new();
    for c in found {
        let [h] = c.heard.as_slice() else { continue };
        let Some(next) = c.next else { continue };
        let voices: Vec<&Speaker> = named
            .iter()
            .filter(|(_, (_, m))| *m == h.member)
            .map(|(l, _)| l)
            .collect();
        let [target] = voices.as_slice() else {
            continue;
        };
        let label = &utts[next].speaker;
        if label == *target || named.get(label).is_some_and(|(_, m)| *m == h.member) {
            continue;
        }
        // The whole turn of that voice, if it is short.
        let end = turn_end(utts, next);
        if turn_length(utts, next) <= SHORT_TURN && c.caller != **target {
            out.extend((next..=end).map(|i| (i, (*target).clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Utterance;

    fn utt(start: u64, end: u64, speaker: &str, text: &str) -> Utterance {
        Utterance {
            span: Span::new(Ms(start), Ms(end)),
            speaker: speaker.into(),
            text: text.into(),
            confidence: 0.9,
            tokens: vec![],
            raw_text: None,
            marks: vec![],
            open_end: false,
            new_turn: None,
            reviewed: false,
        }
    }

    /// A transcript of `utterances`, as long as the last one lasts.
    fn transcript_of(utterances: Vec<Utterance>) -> Transcript {
        let duration = utterances.last().map_or(Ms(0), |u| u.span.end);
        Transcript {
            utterances,
            duration,
            speaker_turns: vec![],
        }
    }

    fn sheet(extra: &str) -> MeetingSheet {
        MeetingSheet::parse(
            &format!(
                r#"
出席者 = [{{ 職 = "委員長", 氏名 = "山田太郎" }}, "委員 田中 一郎", "委員 斉藤 花子"]
説明員 = [{{ 職 = "総務課長", 氏名 = "鈴木 一郎" }}]
{extra}"#
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn meeting() -> Transcript {
        transcript_of(vec![
            utt(
                0,
                5000,
                "話者1",
                "ただいまから委員会を開会します。質疑はありませんか。",
            ),
            utt(5200, 6000, "話者1", "斎藤委員。"),
            utt(6500, 12000, "話者2", "資料の3ページについて伺います。"),
            utt(12500, 13500, "話者1", "総務課長。"),
            utt(14000, 20000, "話者3", "お答えします。"),
            utt(20500, 21500, "話者1", "田中委員、どうぞ。"),
            utt(22000, 30000, "話者4", "関連して伺います。"),
            utt(30500, 31500, "話者1", "斉藤委員。"),
            utt(32000, 33500, "話者4", "ありません。"),
            utt(34000, 35000, "話者1", "以上で質疑を終わります。"),
        ])
    }

    #[test]
    fn calls_name_the_next_voice_and_the_chair() {
        let r = readings::sample();
        let n = name_speakers(&meeting(), Some(&sheet("")), Some(&r));
        let names = n.names();
        assert_eq!(names["話者1"], "委員長");
        assert_eq!(names["話者2"], "斉藤委員");
        assert_eq!(names["話者3"], "総務課長");
        assert_eq!(names["話者4"], "田中委員");
        let v2 = n.voices.iter().find(|v| v.label == "話者2").unwrap();
        assert_eq!(v2.how, How::Call);
        assert_eq!(v2.candidates[0].calls[0].said, "斎藤委員。");
        // The short answer after 「斉藤委員。」 went to 話者4 by voice; the call moves it.
        assert_eq!(n.moved, vec![(8, "話者2".into())]);
    }

    #[test]
    fn one_call_from_the_voice_that_opens_the_meeting_names_the_chair() {
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(4200, 5000, "話者1", "総務課長。"),
            utt(5500, 12000, "話者2", "お答えします。"),
            utt(12500, 14000, "話者1", "以上で質疑を終わります。"),
        ]);
        let names = name_speakers(&t, Some(&sheet("")), None).names();
        assert_eq!(names.get("話者1").map(String::as_str), Some("委員長"));
        assert_eq!(names.get("話者2").map(String::as_str), Some("総務課長"));
        // A single call from a voice that did not open the meeting proves nothing about it.
        let mut t2 = t.clone();
        t2.utterances[0].speaker = "話者3".into();
        let names = name_speakers(&t2, Some(&sheet("")), None).names();
        assert_eq!(names.get("話者1"), None);
    }

    #[test]
    fn members_asking_for_the_floor_do_not_make_a_chair() {
        // The members' 「委員長。」 outnumber the chair's own calls; a tie of call counts goes
        // to the voice that opened the meeting.
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(4500, 9000, "話者2", "資料を拝見しました。委員長。"),
            utt(9500, 10500, "話者1", "田中委員。"),
            utt(11000, 20000, "話者2", "伺います。"),
            utt(20500, 28000, "話者3", "補足します。委員長。"),
            utt(28500, 29500, "話者1", "斉藤委員。"),
            utt(30000, 38000, "話者3", "関連して伺います。委員長。"),
            utt(38500, 39500, "話者1", "田中委員。"),
            utt(40000, 48000, "話者2", "最後に一点。委員長。"),
        ]);
        let names = name_speakers(&t, Some(&sheet("")), Some(&readings::sample())).names();
        assert_eq!(names.get("話者1").map(String::as_str), Some("委員長"));
        assert_eq!(names.get("話者2").map(String::as_str), Some("田中委員"));
        assert_eq!(names.get("話者3").map(String::as_str), Some("斉藤委員"));
    }

    #[test]
    fn the_chair_saying_the_chairs_title_names_nobody() {
        // Twice whisper heard the chair's 「伊藤委員。」 as 「委員長。」: the member who then
        // speaks is not a second chair.
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(4200, 5000, "話者1", "田中委員。"),
            utt(5500, 12000, "話者2", "伺います。"),
            utt(12500, 13500, "話者1", "委員長。"),
            utt(14000, 24000, "話者3", "その点について確認させてください。"),
            utt(24500, 25500, "話者1", "総務課長。"),
            utt(26000, 32000, "話者4", "お答えします。"),
            utt(32500, 33500, "話者1", "委員長。"),
            utt(34000, 44000, "話者3", "もう一点伺います。"),
        ]);
        let names = name_speakers(&t, Some(&sheet("")), Some(&readings::sample())).names();
        assert_eq!(names.get("話者1").map(String::as_str), Some("委員長"));
        assert_eq!(names.get("話者3"), None);
    }

    #[test]
    fn a_call_cut_between_two_voices_is_heard_whole() {
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(4200, 5000, "話者1", "田中一郎委"),
            utt(5100, 12000, "話者2", "員。資料について伺います。"),
            utt(12500, 13500, "話者1", "以上です。"),
        ]);
        let naming = name_speakers(&t, Some(&sheet("")), None);
        let v = naming.voices.iter().find(|v| v.label == "話者2").unwrap();
        assert_eq!(v.name.as_deref(), Some("田中委員"), "{v:?}");
        assert_eq!(v.candidates[0].calls[0].said, "田中一郎委員。");
    }

    #[test]
    fn a_self_introduction_names_its_own_voice() {
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(
                4500,
                12000,
                "話者2",
                "総務課長の鈴木でございます。ご説明いたします。",
            ),
            utt(12500, 16000, "話者3", "斉藤です。一点伺います。"),
            utt(16500, 20000, "話者1", "以上です。"),
        ]);
        let naming = name_speakers(&t, Some(&sheet("")), Some(&readings::sample()));
        let names = naming.names();
        assert_eq!(names.get("話者2").map(String::as_str), Some("総務課長"));
        assert_eq!(names.get("話者3").map(String::as_str), Some("斉藤委員"));
        assert_eq!(names.get("話者1"), None);
        let v = naming.voices.iter().find(|v| v.label == "話者2").unwrap();
        assert_eq!(
            v.candidates[0].calls[0].said,
            "総務課長の鈴木でございます。"
        );
    }

    #[test]
    fn a_call_splits_a_merged_voice() {
        // 話者2 is the 総務課長 (three calls), but after 「田中一郎委員。」 the same voice asks a
        // long question: the voices of the two were taken for one.
        let t = transcript_of(vec![
            utt(0, 4000, "話者1", "ただいまから委員会を開会します。"),
            utt(4200, 5000, "話者1", "総務課長。"),
            utt(5500, 12000, "話者2", "お答えします。"),
            utt(12500, 13500, "話者1", "田中一郎委員。"),
            utt(14000, 24000, "話者2", "資料について伺います。"),
            utt(24500, 25500, "話者1", "総務課長。"),
            utt(26000, 36000, "話者2", "お答えいたします。"),
            utt(36500, 37500, "話者1", "総務課長。"),
            utt(38000, 48000, "話者2", "補足いたします。"),
            utt(48500, 50000, "話者1", "以上で質疑を終わります。"),
        ]);
        let naming = name_speakers(&t, Some(&sheet("")), Some(&readings::sample()));
        assert_eq!(naming.moved, vec![(4, "話者3".into())]);
        let mut t2 = t.clone();
        t2.speaker_turns = vec![
            SpeakerTurn {
                span: Span::new(Ms(0), Ms(5000)),
                speaker: SpeakerId(1),
            },
            SpeakerTurn {
                span: Span::new(Ms(5500), Ms(24000)),
                speaker: SpeakerId(2),
            },
        ];
        naming.apply_moves(&mut t2);
        let names = naming.names();
        assert_eq!(names["話者2"], "総務課長");
        assert_eq!(names["話者3"], "田中委員");
        assert_eq!(t2.utterances[4].speaker, "話者3");
        // The speaker turn under the moved utterance moved with it.
        let turns: Vec<(u64, u64, u32)> = t2
            .speaker_turns
            .iter()
            .map(|t| (t.span.start.0, t.span.end.0, t.speaker.0))
            .collect();
        assert_eq!(turns, [(0, 5000, 1), (5500, 14000, 2), (14000, 24000, 3)]);
        // With only one call for the 総務課長, the voice is not clearly theirs: no split.
        let mut t3 = t.clone();
        t3.utterances[5].text = "ほかにありませんか。".into();
        t3.utterances[7].text = "ほかにありませんか。".into();
        let naming = name_speakers(&t3, Some(&sheet("")), Some(&readings::sample()));
        assert!(naming.moved.is_empty(), "{:?}", naming.moved);
    }

    #[test]
    fn the_sheet_wins_and_its_names_are_not_reused() {
        let r = readings::sample();
        let s = sheet("[話者]\n話者2 = \"総務課長\"\n");
        let n = name_speakers(&meeting(), Some(&s), Some(&r));
        let v2 = n.voices.iter().find(|v| v.label == "話者2").unwrap();
        assert_eq!((v2.name.as_deref(), v2.how), (Some("総務課長"), How::Sheet));
        let v3 = n.voices.iter().find(|v| v.label == "話者3").unwrap();
        assert_eq!(v3.how, How::Unnamed, "総務課長 is the sheet's 話者2");
        assert_eq!(v3.candidates[0].name, "総務課長");
    }

    #[test]
    fn no_calls_no_names() {
        let t = transcript_of(vec![
            utt(0, 5000, "話者1", "それでは始めます。"),
            utt(5500, 9000, "話者2", "田中委員のご意見に賛成です。"),
            utt(9500, 12000, "話者1", "ありがとうございました。"),
        ]);
        let n = name_speakers(&t, Some(&sheet("")), Some(&readings::sample()));
        assert!(n.names().is_empty());
        assert!(n.voices.iter().all(|v| v.how == How::Unnamed));
    }

    #[test]
    fn contradictory_evidence_leaves_a_voice_unnamed() {
        let t = transcript_of(vec![
            utt(0, 1000, "話者1", "田中委員。"),
            utt(1500, 9000, "話者2", "伺います。"),
            utt(9500, 10500, "話者1", "総務課長。"),
            utt(11000, 19000, "話者2", "お答えします。"),
        ]);
        let n = name_speakers(&t, Some(&sheet("")), None);
        let v2 = n.voices.iter().find(|v| v.label == "話者2").unwrap();
        assert_eq!(v2.how, How::Unnamed);
        assert_eq!(v2.candidates.len(), 2);
    }
}
