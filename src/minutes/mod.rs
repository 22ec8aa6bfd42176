//! The draft minutes: the resolved meeting header ([`Meeting`], from the clerk's
//! [`MeetingSheet`] and what the recording tells), the speaker [`Turn`]s, and [`Minutes`], the
//! whole draft that every export renders. [`draft`] is the entry point. Japanese era dates
//! live in [`wareki`]. Nothing here knows about DOCX.

pub mod abridge;
pub mod clean;
pub mod glossary;
mod sheet;
pub mod wareki;

pub use clean::{CleanConfig, MarkStyle, Style};
pub use glossary::{Glossary, GlossaryError};

pub use sheet::{LabelStyle, MeetingSheet, Person, Report, SheetError, SHEET_TEMPLATE};

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::types::{Mark, Ms, Span, Speaker, Transcript};

/// Same-speaker utterances further apart than this start a new turn (a recess, a long
/// document read-out by someone unseparated). Milliseconds.
pub const DEFAULT_TURN_BREAK_PAUSE_MS: u64 = 30_000;
/// While speakers are not separated (everything is 発言者), a pause this long starts a new
/// paragraph so the clerk gets paragraphs to attribute instead of one block. Milliseconds.
pub const DEFAULT_UNKNOWN_SPEAKER_PAUSE_MS: u64 = 1_500;

/// How [`draft`] groups utterances into turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MinutesConfig {
    /// See [`DEFAULT_TURN_BREAK_PAUSE_MS`].
    pub turn_break_pause_ms: Ms,
    /// See [`DEFAULT_UNKNOWN_SPEAKER_PAUSE_MS`].
    pub unknown_speaker_pause_ms: Ms,
    /// Text clean-up and confidence marks ([`clean::apply`]).
    pub clean: CleanConfig,
}

impl Default for MinutesConfig {
    fn default() -> Self {
        MinutesConfig {
            turn_break_pause_ms: Ms(DEFAULT_TURN_BREAK_PAUSE_MS),
            unknown_speaker_pause_ms: Ms(DEFAULT_UNKNOWN_SPEAKER_PAUSE_MS),
            clean: CleanConfig::default(),
        }
    }
}

/// The resolved meeting header. Serialized with the sheet's Japanese keys; times as ISO
/// local date-times (`"2025-11-25T15:45:00"`) or `null` when unknown. Empty text means "not
/// known": the DOCX shows a blank cell for the clerk to fill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meeting {
    #[serde(rename = "会議名")]
    pub title: String,
    #[serde(rename = "開始", with = "iso_datetime")]
    pub start: Option<NaiveDateTime>,
    #[serde(rename = "終了", with = "iso_datetime")]
    pub end: Option<NaiveDateTime>,
    #[serde(rename = "場所")]
    pub place: String,
    #[serde(rename = "議題")]
    pub agenda: Vec<String>,
    #[serde(rename = "出席者")]
    pub attendees: Vec<Person>,
    #[serde(rename = "欠席者")]
    pub absentees: Vec<Person>,
    #[serde(rename = "説明員")]
    pub explainers: Vec<Person>,
    #[serde(rename = "事務局")]
    pub secretariat: Vec<Person>,
    /// Speaker label (`話者1`) -> display name (`委員長`).
    #[serde(rename = "話者")]
    pub speaker_names: BTreeMap<String, String>,
    /// The sheet's `[復命書]` table; left out of the JSON when empty.
    #[serde(rename = "復命書", skip_serializing_if = "Report::is_empty")]
    pub report: Report,
}

impl Meeting {
    /// Fills the header from the sheet (if any) and the recording.
    ///
    /// `file_modified` is the audio file's modification time (local). Recorders write the
    /// file until they stop, so that is when the meeting *ended*: without a sheet 開始 the
    /// start is `file_modified - duration`. The end is the sheet's 終了, else start + duration.
    /// With neither a sheet time nor a file time, both stay unknown (blank in the DOCX)
    /// rather than guessing today's date.
    pub fn resolve(
        sheet: Option<&MeetingSheet>,
        file_modified: Option<NaiveDateTime>,
        duration: Ms,
    ) -> Meeting {
        // None only for absurd durations (beyond chrono's range); the time then stays unknown.
        let length = i64::try_from(duration.0)
            .ok()
            .and_then(chrono::TimeDelta::try_milliseconds);
        let default = MeetingSheet::default();
        let s = sheet.unwrap_or(&default);
        let start = s.start.or_else(|| {
            let (t, len) = (file_modified?, length?);
            t.checked_sub_signed(len)
        });
        let end = s.end.or_else(|| {
            let (t, len) = (start?, length?);
            t.checked_add_signed(len)
        });
        Meeting {
            title: s.title.clone(),
            start,
            end,
            place: s.place.clone(),
            agenda: s.agenda.clone(),
            attendees: s.attendees.clone(),
            absentees: s.absentees.clone(),
            explainers: s.explainers.clone(),
            secretariat: s.secretariat.clone(),
            speaker_names: s.speakers.clone(),
            report: s.report.clone(),
        }
    }

    /// The name to print for a speaker label: the sheet's 話者 entry, else the label itself.
    pub fn display_name(&self, speaker: &Speaker) -> String {
        let label = speaker.label();
        self.speaker_names
            .get(label.as_ref())
            .filter(|n| !n.trim().is_empty())
            .map_or_else(|| label.into_owned(), String::clone)
    }

    /// `令和7年11月25日(火) 午後3時45分～午後4時49分`, or empty when the start is unknown.
    pub fn date_range_wareki(&self) -> String {
        self.start
            .map(|s| wareki::format_range(s, self.end))
            .unwrap_or_default()
    }
}

/// One speaker's uninterrupted contribution: consecutive utterances by the same person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub span: Span,
    /// Display name (sheet name, else label such as 話者1, else 発言者).
    pub speaker: String,
    pub text: String,
    /// Character-weighted mean of the utterances' confidences (0..=1).
    pub confidence: f32,
    /// Low-confidence stretches of `text`.
    #[serde(default)]
    pub marks: Vec<Mark>,
    /// Every utterance of the turn has been checked by a reviewer.
    #[serde(default)]
    pub reviewed: bool,
}

/// The draft minutes every export renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minutes {
    pub meeting: Meeting,
    pub turns: Vec<Turn>,
    /// Name of the recognition model (e.g. `base`); set by the pipeline via [`Minutes::with_model`].
    pub model: String,
    /// Length of the recording.
    pub duration: Ms,
    /// How the DOCX shows the turns' marks.
    #[serde(default)]
    pub mark_style: MarkStyle,
    /// How each voice was named (sheet, calls, relabel) and the evidence.
    #[serde(default)]
    pub voices: Vec<crate::naming::Voice>,
    /// Points marked while recording, in time order.
    #[serde(default)]
    pub markers: Vec<crate::types::Marker>,
    /// The recording the minutes come from (for the review page).
    #[serde(default)]
    pub source: Option<crate::types::AudioSource>,
}

impl Minutes {
    pub fn with_model(mut self, model: impl Into<String>) -> Minutes {
        self.model = model.into();
        self
    }

    pub fn with_markers(mut self, mut markers: Vec<crate::types::Marker>) -> Minutes {
        markers.sort_by_key(|m| m.at);
        self.markers = markers;
        self
    }

    pub fn with_voices(mut self, voices: Vec<crate::naming::Voice>) -> Minutes {
        self.voices = voices;
        self
    }

    pub fn with_source(mut self, source: Option<crate::types::AudioSource>) -> Minutes {
        self.source = source;
        self
    }
}

/// Groups the transcript into turns: consecutive utterances whose display names match are
/// joined (Japanese text without spaces), a new turn starts when the speaker changes or
/// after the pauses set in `cfg`. A reviewer's `new_turn` overrides the pause rule (and
/// `Some(true)` also splits one speaker's turn). Empty utterances are dropped.
pub fn draft(transcript: &Transcript, meeting: &Meeting, cfg: &MinutesConfig) -> Minutes {
    let mut turns: Vec<Turn> = Vec::new();
    // Confidence sums weighted by characters, parallel to `turns`.
    let mut weights: Vec<(f64, usize)> = Vec::new();
    for u in &transcript.utterances {
        let text = u.text.trim_matches(|c: char| c.is_whitespace());
        if text.is_empty() {
            continue;
        }
        let speaker = meeting.display_name(&u.speaker);
        let chars = text.chars().count();
        let lead = u.text.chars().take_while(|c| c.is_whitespace()).count();
        let marks = u.marks.iter().filter_map(|m| {
            let (start, end) = (
                m.start.saturating_sub(lead),
                (m.end.saturating_sub(lead)).min(chars),
            );
            (start < end).then_some(Mark { start, end })
        });
        let continues = turns.last().is_some_and(|t| {
            let pause = Ms(u.span.start.0.saturating_sub(t.span.end.0));
            let limit = if u.speaker == Speaker::Unknown {
                cfg.unknown_speaker_pause_ms
            } else {
                cfg.turn_break_pause_ms
            };
            t.speaker == speaker
                && match u.new_turn {
                    Some(new) => !new,
                    None => pause <= limit,
                }
        });
        match (continues, turns.last_mut(), weights.last_mut()) {
            (true, Some(t), Some(w)) => {
                join_japanese(&mut t.text, text);
                let offset = t.text.chars().count() - chars;
                t.marks.extend(marks.map(|m| Mark {
                    start: m.start + offset,
                    end: m.end + offset,
                }));
                t.span = Span::new(t.span.start, t.span.end.max(u.span.end));
                w.0 += f64::from(u.confidence) * chars as f64;
                w.1 += chars;
                t.confidence = (w.0 / w.1 as f64) as f32;
                t.reviewed &= u.reviewed;
            }
            _ => {
                turns.push(Turn {
                    span: u.span,
                    speaker: speaker.to_string(),
                    text: text.to_string(),
                    confidence: u.confidence,
                    marks: marks.collect(),
                    reviewed: u.reviewed,
                });
                weights.push((f64::from(u.confidence) * chars as f64, chars));
            }
        }
    }
    Minutes {
        meeting: meeting.clone(),
        turns,
        model: String::new(),
        duration: transcript.duration,
        mark_style: cfg.clean.mark_style,
        voices: Vec::new(),
        markers: Vec::new(),
        source: None,
    }
}

/// Appends `next` to `acc`. Japanese is written without spaces between segments; only two
/// Latin words or numbers meeting at the seam get a space (`AI` + `system`).
fn join_japanese(acc: &mut String, next: &str) {
    let seam_is_latin = acc
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && next
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if seam_is_latin {
        acc.push(' ');
    }
    acc.push_str(next);
}

/// serde for `Option<NaiveDateTime>` as `"2025-11-25T15:45:00"` / `null` (chrono is built
/// without its serde feature).
pub(crate) mod iso_datetime {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

    pub fn serialize<S: Serializer>(v: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.collect_str(&t.format(FORMAT)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => s.trim().parse::<NaiveDateTime>().map(Some).map_err(|e| {
                serde::de::Error::custom(format!("`{s}` is not an ISO date-time: {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Utterance, UNKNOWN_SPEAKER};
    use std::path::Path;

    fn utt(start: u64, end: u64, speaker: &str, text: &str, confidence: f32) -> Utterance {
        Utterance {
            span: Span::new(Ms(start), Ms(end)),
            speaker: speaker.into(),
            text: text.to_string(),
            confidence,
            tokens: vec![],
            raw_text: None,
            marks: vec![],
            open_end: false,
            new_turn: None,
            reviewed: false,
        }
    }

    fn dt(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn meeting_with_names() -> Meeting {
        let sheet = MeetingSheet::parse(
            "[話者]\n話者1 = \"委員長\"\n話者3 = \"委員長\"\n",
            Path::new("s.toml"),
        )
        .unwrap();
        Meeting::resolve(Some(&sheet), None, Ms(0))
    }

    #[test]
    fn merges_same_speaker_and_maps_names() {
        let t = Transcript {
            speaker_turns: vec![],
            utterances: vec![
                utt(0, 1000, "話者1", "ただいまから", 0.9),
                utt(1000, 2000, "話者1", " 委員会を開会します。", 0.5),
                utt(2500, 4000, "話者2", "はい。", 0.8),
                utt(4000, 5000, "話者2", "  ", 0.1),
                utt(5000, 6000, "話者2", "説明します。", 0.8),
                // 話者3 is the same person as 話者1 by the sheet: one turn with the next.
                utt(7000, 8000, "話者3", "ほかに", 1.0),
                utt(8000, 9000, "話者1", "ありませんか。", 1.0),
            ],
            duration: Ms(10_000),
        };
        let m = draft(&t, &meeting_with_names(), &MinutesConfig::default());
        let got: Vec<(&str, &str)> = m
            .turns
            .iter()
            .map(|t| (t.speaker.as_str(), t.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("委員長", "ただいまから委員会を開会します。"),
                ("話者2", "はい。説明します。"),
                ("委員長", "ほかにありませんか。"),
            ]
        );
        assert_eq!(m.turns[0].span, Span::new(Ms(0), Ms(2000)));
        assert_eq!(m.turns[1].span, Span::new(Ms(2500), Ms(6000)));
        // 6 chars at 0.9, 10 chars at 0.5.
        let expect = (6.0 * 0.9 + 10.0 * 0.5) / 16.0;
        assert!((m.turns[0].confidence - expect).abs() < 1e-6);
        assert_eq!(m.duration, Ms(10_000));
        assert_eq!(m.model, "");
        assert_eq!(m.with_model("base").model, "base");
    }

    #[test]
    fn pauses_split_turns() {
        let cfg = MinutesConfig::default();
        let t = Transcript {
            speaker_turns: vec![],
            utterances: vec![
                utt(0, 1000, UNKNOWN_SPEAKER, "一つ目。", 0.9),
                utt(1500, 2000, UNKNOWN_SPEAKER, "続き。", 0.9),
                utt(4000, 5000, UNKNOWN_SPEAKER, "間が空いた。", 0.9),
                utt(10_000, 11_000, "話者1", "再開します。", 0.9),
                utt(50_000, 51_000, "話者1", "休憩後です。", 0.9),
            ],
            duration: Ms(60_000),
        };
        let m = draft(&t, &Meeting::default(), &cfg);
        let texts: Vec<&str> = m.turns.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "一つ目。続き。",
                "間が空いた。",
                "再開します。",
                "休憩後です。"
            ]
        );
    }

    #[test]
    fn latin_words_keep_a_space() {
        let mut s = String::from("AI");
        join_japanese(&mut s, "system");
        assert_eq!(s, "AI system");
        let mut s = String::from("予算は100");
        join_japanese(&mut s, "万円です。");
        assert_eq!(s, "予算は100万円です。");
    }

    #[test]
    fn resolve_defaults() {
        let len = Ms(64 * 60_000 + 30_000);
        // No sheet: the file time is the end of the recording.
        let m = Meeting::resolve(None, Some(dt("2025-11-25T16:50:00")), len);
        assert_eq!(m.start, Some(dt("2025-11-25T15:45:30")));
        assert_eq!(m.end, Some(dt("2025-11-25T16:50:00")));
        assert_eq!(m.title, "");
        assert!(m.attendees.is_empty());

        // Sheet start wins; end = start + duration.
        let sheet = MeetingSheet::parse("開始 = 2025-11-25T15:45:00", Path::new("s")).unwrap();
        let m = Meeting::resolve(Some(&sheet), Some(dt("2030-01-01T00:00:00")), len);
        assert_eq!(m.start, Some(dt("2025-11-25T15:45:00")));
        assert_eq!(m.end, Some(dt("2025-11-25T16:49:30")));
        assert_eq!(
            m.date_range_wareki(),
            "令和7年11月25日(火) 午後3時45分～午後4時49分"
        );

        // Sheet end wins over the duration.
        let sheet = MeetingSheet::parse(
            "開始 = 2025-11-25T15:45:00\n終了 = 2025-11-25T17:00:00",
            Path::new("s"),
        )
        .unwrap();
        let m = Meeting::resolve(Some(&sheet), None, len);
        assert_eq!(m.end, Some(dt("2025-11-25T17:00:00")));

        // Nothing known: nothing guessed.
        let m = Meeting::resolve(None, None, len);
        assert_eq!((m.start, m.end), (None, None));
        assert_eq!(m.date_range_wareki(), "");
    }

    #[test]
    fn minutes_round_trip_through_json() {
        let sheet = MeetingSheet::parse(sheet::SHEET_TEMPLATE, Path::new("s")).unwrap();
        let meeting = Meeting::resolve(Some(&sheet), None, Ms(1000));
        let t = Transcript {
            speaker_turns: vec![],
            utterances: vec![utt(0, 1000, "話者1", "開会します。", 0.9)],
            duration: Ms(1000),
        };
        let m = draft(&t, &meeting, &MinutesConfig::default()).with_model("base");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["meeting"]["開始"], "2025-11-25T15:45:00");
        assert_eq!(json["meeting"]["出席者"][0]["氏名"], "山田 太郎");
        let back: Minutes = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);

        let cfg: MinutesConfig = toml::from_str("turn_break_pause_ms = 5000").unwrap();
        assert_eq!(cfg.turn_break_pause_ms, Ms(5000));
        assert_eq!(
            cfg.unknown_speaker_pause_ms,
            Ms(DEFAULT_UNKNOWN_SPEAKER_PAUSE_MS)
        );
        assert!(toml::from_str::<MinutesConfig>("typo = 1").is_err());
    }
}
