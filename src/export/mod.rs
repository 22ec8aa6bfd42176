//! Renders [`Minutes`] (and, for segment-level formats, the [`Transcript`]) to the output
//! [`Format`]s: the DOCX 会議録 draft, the JSON contract (readable again with
//! [`read_json`]), plain text, SRT/VTT subtitles and RTTM speaker turns. [`write()`] is the entry point; every
//! failure is an [`ExportError`]. The DOCX can also be a 復命書, the 要旨 or the office's own
//! form ([`Template`], [`write_with`]).

mod docx;
mod fukumeisho;
mod json;
mod rttm;
mod subtitle;
mod template;
mod txt;
mod yoshi;

pub use fukumeisho::{per_attendee, PersonalReport};
pub use json::{read_json, JsonDocument, JsonSegment, JsonTurn, JSON_FORMAT_VERSION};
pub use template::{Template, PLACEHOLDERS};

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use crate::minutes::Minutes;
use crate::types::Transcript;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Docx,
    Json,
    Txt,
    Srt,
    Vtt,
    Rttm,
}

impl Format {
    /// What `transcribe` writes unless `--formats` says otherwise.
    pub const DEFAULTS: [Format; 2] = [Format::Docx, Format::Json];

    pub const ALL: [Format; 6] = [
        Format::Docx,
        Format::Json,
        Format::Txt,
        Format::Srt,
        Format::Vtt,
        Format::Rttm,
    ];

    /// File extension without the dot; also the name [`FromStr`] accepts.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Docx => "docx",
            Format::Json => "json",
            Format::Txt => "txt",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Rttm => "rttm",
        }
    }

    /// Parses a comma-separated list such as `docx,json`; duplicates are dropped, order kept.
    pub fn parse_list(s: &str) -> Result<Vec<Format>, ExportError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let f: Format = part.parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err(ExportError::UnknownFormat {
                given: s.to_string(),
            });
        }
        Ok(out)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = ExportError;

    /// Case-insensitive; a leading dot is allowed (`.DOCX`).
    fn from_str(s: &str) -> Result<Format, ExportError> {
        let key = s.trim().trim_start_matches('.').to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.extension() == key)
            .ok_or_else(|| ExportError::UnknownFormat {
                given: s.to_string(),
            })
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown output format `{given}`; use one or more of docx, json, txt, srt, vtt, rttm")]
    UnknownFormat { given: String },
    #[error("writing the {format} output failed: {source}")]
    Io { format: Format, source: io::Error },
    #[error("encoding the JSON output failed: {source}")]
    JsonWrite { source: serde_json::Error },
    #[error("not a gijiroku JSON transcript (expected an object with \"segments\"): {source}")]
    JsonRead { source: serde_json::Error },
    #[error("building the DOCX failed: {source}")]
    Docx {
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "unknown template `{given}`; use kaigiroku, fukumeisho, yoshi or the path of a .docx form"
    )]
    UnknownTemplate { given: String },
    /// The cause is left to the error chain (`{:#}`), which prints it once.
    #[error("cannot read the form {}; check the path", .path.display())]
    FormRead { path: PathBuf, source: io::Error },
    #[error("the form {} is not a Word document ({problem}); save it from Word as .docx and try again", .path.display())]
    FormInvalid { path: PathBuf, problem: String },
}

/// Writes `minutes` in `format` to `w`. `transcript` feeds the per-utterance formats (JSON
/// segments, SRT/VTT cues); its speaker labels are shown through the sheet's 話者 names.
pub fn write(
    minutes: &Minutes,
    transcript: &Transcript,
    format: Format,
    w: &mut dyn io::Write,
) -> Result<(), ExportError> {
    write_with(minutes, transcript, format, &Template::Kaigiroku, w)
}

/// [`write()`] with the DOCX laid out as `template` (the other formats do not change).
pub fn write_with(
    minutes: &Minutes,
    transcript: &Transcript,
    format: Format,
    template: &Template,
    w: &mut dyn io::Write,
) -> Result<(), ExportError> {
    let io_err = |source| ExportError::Io { format, source };
    match format {
        Format::Docx => {
            let bytes = render_docx(minutes, transcript, template)?;
            w.write_all(&bytes).map_err(io_err)?;
        }
        Format::Json => json::write(minutes, transcript, w)?,
        Format::Txt => w
            .write_all(txt::render(minutes).as_bytes())
            .map_err(io_err)?,
        Format::Srt => w
            .write_all(subtitle::srt(minutes, transcript).as_bytes())
            .map_err(io_err)?,
        Format::Vtt => w
            .write_all(subtitle::vtt(minutes, transcript).as_bytes())
            .map_err(io_err)?,
        Format::Rttm => w
            .write_all(rttm::render(minutes, transcript).as_bytes())
            .map_err(io_err)?,
    }
    w.flush().map_err(io_err)
}

/// The DOCX bytes of `minutes` laid out as `template`; `transcript` gives the abridged
/// layouts the segment boundaries.
pub fn render_docx(
    minutes: &Minutes,
    transcript: &Transcript,
    template: &Template,
) -> Result<Vec<u8>, ExportError> {
    match template {
        Template::Kaigiroku => docx::render(minutes),
        Template::Fukumeisho => fukumeisho::render(minutes, transcript),
        Template::Yoshi => yoshi::render(minutes, transcript),
        Template::Form(path) => template::render_form(path, minutes, transcript),
    }
}

/// The 下書き notice printed under the title of every human-readable export.
pub const DRAFT_NOTICE: &str =
    "この会議録は音声認識による下書き（案）です。内容を確認のうえ修正してください。";

/// The document title: 会議名 + 記録 (`総務常任委員会記録`), or 会議録 without a name.
pub fn title(minutes: &Minutes) -> String {
    let name = minutes.meeting.title.trim();
    if name.is_empty() {
        "会議録".to_string()
    } else if name.ends_with('録') {
        name.to_string()
    } else if name.ends_with("会議") {
        format!("{name}録")
    } else {
        format!("{name}記録")
    }
}

/// Rows of the header table, in print order: (label, lines of the value). Shared by the
/// DOCX and text exports so they list the same things.
pub(crate) fn header_rows(minutes: &Minutes) -> Vec<(&'static str, Vec<String>)> {
    let m = &minutes.meeting;
    let people = |p: &[crate::minutes::Person]| p.iter().map(|p| p.display()).collect::<Vec<_>>();
    let one = |s: &str| {
        if s.trim().is_empty() {
            vec![]
        } else {
            vec![s.trim().to_string()]
        }
    };
    let mut staff = Vec::new();
    if !m.explainers.is_empty() {
        staff.push("【説明員】".to_string());
        staff.extend(people(&m.explainers));
    }
    if !m.secretariat.is_empty() {
        staff.push("【事務局】".to_string());
        staff.extend(people(&m.secretariat));
    }
    vec![
        ("会議名", one(&m.title)),
        ("開催日時", one(&m.date_range_wareki())),
        ("場所", one(&m.place)),
        ("出席者", people(&m.attendees)),
        ("欠席者", people(&m.absentees)),
        ("説明員・事務局", staff),
        ("議題", m.agenda.iter().flat_map(|a| one(a)).collect()),
    ]
}

/// Speaker and text as one line: `委員長 : 発言`.
pub const SPEAKER_SEPARATOR: &str = " : ";

/// A recording marker as a line of the minutes: `◆マーカー1（0:12:34）`.
pub(crate) fn marker_line(m: &crate::types::Marker) -> String {
    format!("◆{}（{}）", m.label, m.at.hms())
}

/// The turns with the markers set between them: a marker goes before the first turn that
/// starts at or after it (after the turn it was pressed in); the rest after the last turn.
pub(crate) fn with_markers(minutes: &Minutes) -> Vec<Entry<'_>> {
    let mut out = Vec::with_capacity(minutes.turns.len() + minutes.markers.len());
    let mut markers = minutes.markers.iter().peekable();
    for t in &minutes.turns {
        while let Some(m) = markers.next_if(|m| m.at <= t.span.start) {
            out.push(Entry::Marker(m));
        }
        out.push(Entry::Turn(t));
    }
    out.extend(markers.map(Entry::Marker));
    out
}

/// One line of 議事の経過.
pub(crate) enum Entry<'a> {
    Turn(&'a crate::minutes::Turn),
    Marker(&'a crate::types::Marker),
}

#[cfg(test)]
pub(crate) mod test_data {
    use crate::minutes::{draft, Meeting, MeetingSheet, Minutes, MinutesConfig};
    use crate::types::{Ms, Span, Transcript, Utterance};
    use std::path::Path;

    pub const SHEET: &str = r#"
会議名 = "総務常任委員会"
開始 = 2025-11-25T15:45:00
終了 = 2025-11-25T16:49:00
場所 = "第1委員会室"
議題 = ["議案第1号 一関市税条例の一部を改正する条例", "所管事務調査 防災行政について"]
出席者 = [{ 職 = "委員長", 氏名 = "山田太郎" }, "委員 佐藤花子", "委員 田中次郎"]
欠席者 = []
説明員 = [{ 所属 = "総務部", 職 = "総務課長", 氏名 = "鈴木一郎" }]
事務局 = [{ 職 = "議事係長", 氏名 = "高橋" }]
[話者]
話者1 = "委員長"
話者2 = "総務課長"
"#;

    pub fn utt(start: u64, end: u64, speaker: &str, text: &str) -> Utterance {
        Utterance {
            span: Span::new(Ms(start), Ms(end)),
            speaker: speaker.into(),
            text: text.to_string(),
            confidence: 0.91,
            tokens: vec![],
            raw_text: None,
            marks: vec![],
            open_end: false,
            new_turn: None,
            reviewed: false,
        }
    }

    pub fn transcript() -> Transcript {
        Transcript {
            speaker_turns: vec![],
            utterances: vec![
                utt(
                    1230,
                    4560,
                    "話者1",
                    "ただいまから総務常任委員会を開会します。",
                ),
                utt(
                    4560,
                    7000,
                    "話者1",
                    "議案第1号を議題とします。当局の説明を求めます。",
                ),
                utt(
                    7500,
                    15_250,
                    "話者2",
                    "それでは議案第1号についてご説明いたします。",
                ),
                utt(3_661_001, 3_662_000, "話者3", "質疑はありませんか。"),
            ],
            duration: Ms(3_840_000),
        }
    }

    pub fn minutes() -> (Minutes, Transcript) {
        let sheet = MeetingSheet::parse(SHEET, Path::new("sheet.toml")).unwrap();
        let t = transcript();
        let meeting = Meeting::resolve(Some(&sheet), None, t.duration);
        let m = draft(&t, &meeting, &MinutesConfig::default()).with_model("base");
        (m, t)
    }

    pub fn bare_minutes() -> (Minutes, Transcript) {
        let t = Transcript {
            speaker_turns: vec![],
            utterances: vec![utt(0, 2000, crate::types::UNKNOWN_SPEAKER, "開会します。")],
            duration: Ms(2000),
        };
        let meeting = Meeting::resolve(None, None, t.duration);
        (draft(&t, &meeting, &MinutesConfig::default()), t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names() {
        assert_eq!("docx".parse::<Format>().unwrap(), Format::Docx);
        assert_eq!(" .VTT ".parse::<Format>().unwrap(), Format::Vtt);
        for f in Format::ALL {
            assert_eq!(f.extension().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string(), f.extension());
        }
        let err = "pdf".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("`pdf`") && err.contains("docx, json"), "{err}");
        assert_eq!(
            Format::parse_list("docx,json, txt,srt,vtt,rttm,docx").unwrap(),
            Format::ALL.to_vec()
        );
        assert!(Format::parse_list(",").is_err());
        assert!(Format::parse_list("docx,pdf").is_err());
    }

    #[test]
    fn titles() {
        let (mut m, _) = test_data::minutes();
        assert_eq!(title(&m), "総務常任委員会記録");
        m.meeting.title = "部長会議".into();
        assert_eq!(title(&m), "部長会議録");
        m.meeting.title = "令和7年第3回定例会会議録".into();
        assert_eq!(title(&m), "令和7年第3回定例会会議録");
        m.meeting.title = " ".into();
        assert_eq!(title(&m), "会議録");
    }

    #[test]
    fn write_every_format() {
        let (m, t) = test_data::minutes();
        for f in Format::ALL {
            let mut out = Vec::new();
            write(&m, &t, f, &mut out).unwrap();
            assert!(!out.is_empty(), "{f}");
        }
    }
}
