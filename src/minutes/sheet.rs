//! The meeting sheet: a small UTF-8 TOML file with Japanese keys in which the clerk writes
//! what the recording cannot tell ([`MeetingSheet`], loaded by [`MeetingSheet::load`]).
//! People are [`Person`]s; every problem is a [`SheetError`] naming the file, the line and
//! column, and the rule broken.
//!
//! The format is TOML with one allowance: keys may be written in Japanese without quotes
//! (`会議名 = …`, `[話者]`), which TOML itself only allows as `"会議名" = …`. Both work.
//!
//! ```toml
//! 会議名 = "総務常任委員会"
//! 開始 = 2025-11-25T15:45:00
//! 出席者 = [{ 職 = "委員長", 氏名 = "山田太郎" }, "委員 佐藤花子"]
//! [話者]
//! 話者1 = "委員長"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A commented example sheet, e.g. for a `--sheet-template` option. It parses as-is.
pub const SHEET_TEMPLATE: &str = r#"# 会議シート (UTF-8)。項目はすべて省略できます。
会議名 = "総務常任委員会"
開始 = 2025-11-25T15:45:00   # 省略時は音声ファイルの更新日時から推定
終了 = 2025-11-25T16:49:00   # 省略時は 開始 + 録音の長さ
場所 = "第1委員会室"
議題 = ["議案第1号 …", "所管事務調査 …"]
# 出席者・説明員・事務局があれば、委員長の指名（「佐藤委員。」「総務課長。」）から話者に名前を付けます。
# 氏名は姓と名の間に空白を入れると確実です。人ごとに 表記（議事録での呼び方）、よみ、番号（議席）も書けます。
話者表記 = "委員会"   # 委員長・佐藤委員・総務課長 / "議員": 佐藤花子議員 / "君": 佐藤花子君
出席者 = [{ 職 = "委員長", 氏名 = "山田 太郎" }, "委員 佐藤 花子", { 職 = "委員", 氏名 = "田中 一郎", 番号 = 3 }]
欠席者 = []
説明員 = [{ 所属 = "総務部", 職 = "総務課長", 氏名 = "鈴木 一郎" }]
事務局 = [{ 職 = "議事係長", 氏名 = "高橋" }]

[話者]   # 声（話者1, 話者2 …）の名前を手で決めるとき。指名からの名前より優先されます
# 話者1 = "委員長"
# 話者2 = "総務課長"

[復命書]   # --template fukumeisho / gijiroku share で使う項目 (省略時は空欄)
宛先 = "総務部長"
復命者 = { 所属 = "総務部総務課", 職 = "主事", 氏名 = "佐藤花子" }
添付資料 = ["会議資料一式"]
"#;

/// What the clerk knows about the meeting. Every field is optional; missing text stays empty.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingSheet {
    #[serde(rename = "会議名", default)]
    pub title: String,
    /// A TOML local date-time (`2025-11-25T15:45:00`); an offset, if written, is ignored.
    #[serde(rename = "開始", default, deserialize_with = "de_datetime")]
    pub start: Option<NaiveDateTime>,
    #[serde(rename = "終了", default, deserialize_with = "de_datetime")]
    pub end: Option<NaiveDateTime>,
    #[serde(rename = "場所", default)]
    pub place: String,
    /// 本日の会議に付した事件. A single string is accepted as a one-item list.
    #[serde(rename = "議題", default, deserialize_with = "de_one_or_many")]
    pub agenda: Vec<String>,
    #[serde(rename = "出席者", default)]
    pub attendees: Vec<Person>,
    #[serde(rename = "欠席者", default)]
    pub absentees: Vec<Person>,
    #[serde(rename = "説明員", default)]
    pub explainers: Vec<Person>,
    #[serde(rename = "事務局", default)]
    pub secretariat: Vec<Person>,
    /// How speakers are written in the 会議録 when named from the roster: `委員会` (default:
    /// 委員長, 中村委員, 総務部長), `議員` (山本太郎議員) or `君` (山本太郎君, 企画部長（鈴木次郎君）).
    #[serde(rename = "話者表記", default)]
    pub label_style: LabelStyle,
    /// Speaker label (`話者1`) -> display name (`委員長`).
    #[serde(rename = "話者", default)]
    pub speakers: BTreeMap<String, String>,
    /// What only a 復命書 needs, as a `[復命書]` table.
    #[serde(rename = "復命書", default)]
    pub report: Report,
}

/// How the roster's people are written as speakers (the sheet's `話者表記`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelStyle {
    /// 委員長, 副委員長, 中村委員 (田中（一）委員 when two share a family name), 総務部長.
    #[default]
    #[serde(rename = "委員会")]
    Committee,
    /// 議長, 山本太郎議員, 総務部長.
    #[serde(rename = "議員")]
    Council,
    /// 議長, 山本太郎君, 企画部長（鈴木次郎君）.
    #[serde(rename = "君")]
    Kun,
}

/// The `[復命書]` table: the parts of a report to a superior that the meeting itself does not
/// tell. Every field may be left out; blanks are printed for the author to fill in.
///
/// ```toml
/// [復命書]
/// 作成日 = 2025-11-26
/// 宛先 = "総務部長"
/// 復命者 = { 所属 = "総務部総務課", 職 = "主事", 氏名 = "佐藤花子" }
/// 件名 = "総務常任委員会への出席について"
/// 添付資料 = ["会議資料一式"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Report {
    /// Date of writing (a TOML date such as `2025-11-26`).
    #[serde(
        rename = "作成日",
        with = "iso_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub written: Option<NaiveDate>,
    /// Addressee, e.g. `総務部長` (様 is added when printed unless 様 or 殿 is written).
    #[serde(rename = "宛先", skip_serializing_if = "String::is_empty")]
    pub addressee: String,
    /// Who reports; `gijiroku share` fills it in for each attendee.
    #[serde(rename = "復命者", skip_serializing_if = "Person::is_empty")]
    pub reporter: Person,
    /// 件名 (用務); printed as `<会議名>への出席について` when left out.
    #[serde(rename = "件名", skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Attached documents. A single string is accepted as a one-item list.
    #[serde(
        rename = "添付資料",
        deserialize_with = "de_one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attachments: Vec<String>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        *self == Report::default()
    }
}

/// One person in the header: 所属 (department), 職 (position) and 氏名 (name).
///
/// In a sheet it is a table `{ 所属 = "総務部", 職 = "総務課長", 氏名 = "鈴木一郎" }` or a plain
/// string: `"委員 佐藤花子"` is 職 + 氏名 (split at the first space, half- or full-width), a
/// string without a space is just the 氏名. Use the table form for 所属.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Person {
    #[serde(rename = "所属")]
    pub affiliation: String,
    #[serde(rename = "職")]
    pub role: String,
    #[serde(rename = "氏名")]
    pub name: String,
    /// How the 会議録 names this person (`山本太郎議員`); overrides the sheet's 話者表記.
    #[serde(rename = "表記", skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// Reading of 氏名 in kana (`たなか いちろう`), for names the dictionary reads otherwise.
    #[serde(rename = "よみ", skip_serializing_if = "String::is_empty")]
    pub reading: String,
    /// Seat number in a council (`18` for 「18番、山本議員」).
    #[serde(rename = "番号", skip_serializing_if = "Option::is_none")]
    pub seat: Option<u32>,
}

impl Person {
    /// Parses the plain-string form (see [`Person`]).
    pub fn parse(s: &str) -> Person {
        let s = s.trim_matches(is_space);
        match s.split_once(is_space) {
            Some((role, name)) => Person {
                role: role.to_string(),
                name: name.trim_matches(is_space).to_string(),
                ..Person::default()
            },
            None => Person {
                name: s.to_string(),
                ..Person::default()
            },
        }
    }

    /// True when 所属, 職 and 氏名 are all blank.
    pub fn is_empty(&self) -> bool {
        [&self.affiliation, &self.role, &self.name]
            .iter()
            .all(|s| s.trim().is_empty())
    }

    /// The non-empty parts joined by a full-width space: `総務部　総務課長　鈴木一郎`.
    pub fn display(&self) -> String {
        [&self.affiliation, &self.role, &self.name]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{3000}")
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}' || c == '\t'
}

/// The table form of [`Person`]; unknown keys (typos such as `名前`) are errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonTable {
    #[serde(rename = "所属", default)]
    affiliation: String,
    #[serde(rename = "職", default)]
    role: String,
    #[serde(rename = "氏名", default)]
    name: String,
    #[serde(rename = "表記", default)]
    label: String,
    #[serde(rename = "よみ", default)]
    reading: String,
    #[serde(rename = "番号", default)]
    seat: Option<u32>,
}

impl<'de> Deserialize<'de> for Person {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Person, D::Error> {
        struct PersonVisitor;
        impl<'de> Visitor<'de> for PersonVisitor {
            type Value = Person;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a person as a string \"委員 佐藤花子\" or a table { 職 = \"委員\", 氏名 = \"佐藤花子\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Person, E> {
                Ok(Person::parse(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Person, A::Error> {
                let t = PersonTable::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Person {
                    affiliation: t.affiliation,
                    role: t.role,
                    name: t.name,
                    label: t.label,
                    reading: t.reading,
                    seat: t.seat,
                })
            }
        }
        deserializer.deserialize_any(PersonVisitor)
    }
}

/// Reads a TOML date-time, or a string such as `"2025-11-25 15:45"`, into a local time.
fn de_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    struct DtVisitor;
    impl<'de> Visitor<'de> for DtVisitor {
        type Value = NaiveDateTime;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a local date-time such as 2025-11-25T15:45:00")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<NaiveDateTime, E> {
            parse_datetime(v).ok_or_else(|| {
                E::custom(format!(
                    "`{v}` is not a date-time; write it as 2025-11-25T15:45:00"
                ))
            })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NaiveDateTime, A::Error> {
            let dt = toml::value::Datetime::deserialize(MapAccessDeserializer::new(map))?;
            from_toml_datetime(&dt).ok_or_else(|| {
                de::Error::custom(format!(
                    "`{dt}` has no time of day; write it as {dt}T10:00:00 (date and time)"
                ))
            })
        }
    }
    d.deserialize_any(DtVisitor).map(Some)
}

fn from_toml_datetime(dt: &toml::value::Datetime) -> Option<NaiveDateTime> {
    let date = dt.date?;
    let time = dt.time?;
    let date = NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())?;
    let time = NaiveTime::from_hms_nano_opt(
        time.hour.into(),
        time.minute.into(),
        time.second.unwrap_or(0).into(),
        time.nanosecond.unwrap_or(0),
    )?;
    Some(date.and_time(time))
}

/// Accepts `2025-11-25T15:45:00`, `2025-11-25 15:45:00` and both without seconds.
fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// serde for `Option<NaiveDate>`: written as `"2025-11-26"`; read from a TOML date or such a
/// string (chrono is built without its serde feature).
mod iso_date {
    use super::*;

    const FORMAT: &str = "%Y-%m-%d";

    pub fn serialize<S: serde::Serializer>(v: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.collect_str(&d.format(FORMAT)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        struct DateVisitor;
        impl<'de> Visitor<'de> for DateVisitor {
            type Value = Option<NaiveDate>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date such as 2025-11-26")
            }
            fn visit_none<E: de::Error>(self) -> Result<Option<NaiveDate>, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<NaiveDate>, E> {
                Ok(None)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<NaiveDate>, E> {
                if v.trim().is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(v.trim(), FORMAT)
                    .map(Some)
                    .map_err(|_| E::custom(format!("`{v}` is not a date; write it as 2025-11-26")))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<NaiveDate>, A::Error> {
                let dt = toml::value::Datetime::deserialize(MapAccessDeserializer::new(map))?;
                let date = dt.date.ok_or_else(|| {
                    de::Error::custom(format!("`{dt}` has no date; write it as 2025-11-26"))
                })?;
                NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
                    .map(Some)
                    .ok_or_else(|| de::Error::custom(format!("`{dt}` is not a valid date")))
            }
        }
        d.deserialize_any(DateVisitor)
    }
}

fn de_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings such as [\"議案第1号 …\", \"所管事務調査\"]")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(ListVisitor)
}

/// Why a meeting sheet could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("meeting sheet {} does not exist; check the path or leave the sheet out", .path.display())]
    NotFound { path: PathBuf, source: io::Error },
    /// The I/O error is the source (printed after the message), not repeated in it.
    #[error("cannot read meeting sheet {}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("meeting sheet {} is not UTF-8 text; save it as UTF-8 and try again", .path.display())]
    NotUtf8 {
        path: PathBuf,
        source: std::string::FromUtf8Error,
    },
    #[error("meeting sheet {}{}: {message}", .path.display(), location(*.line, *.column, .snippet))]
    Parse {
        path: PathBuf,
        /// 1-based line and column (in characters) of the offending text, when known.
        line: Option<usize>,
        column: Option<usize>,
        /// The offending line, trimmed.
        snippet: String,
        message: String,
        /// The parser's error. Not the `source`: its rendering shows the text after
        /// [`quote_japanese_keys`] (`"会議名" = 42`, other columns) where the clerk wrote
        /// `会議名 = 42`, and `message`, `line` and `column` already say what it says.
        toml: Box<toml::de::Error>,
    },
    #[error("meeting sheet {}: 終了 ({end}) is before 開始 ({start})", .path.display())]
    EndBeforeStart {
        path: PathBuf,
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
}

fn location(line: Option<usize>, column: Option<usize>, snippet: &str) -> String {
    match (line, column) {
        (Some(l), Some(c)) if snippet.is_empty() => format!(", line {l}, column {c}"),
        (Some(l), Some(c)) => format!(", line {l}, column {c} (`{snippet}`)"),
        _ => String::new(),
    }
}

impl MeetingSheet {
    /// Reads and checks a sheet. A UTF-8 byte-order mark (as Windows Notepad may write) is
    /// accepted.
    pub fn load(path: &Path) -> Result<MeetingSheet, SheetError> {
        let bytes = std::fs::read(path).map_err(|source| {
            let path = path.to_path_buf();
            if source.kind() == io::ErrorKind::NotFound {
                SheetError::NotFound { path, source }
            } else {
                SheetError::Read { path, source }
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|source| SheetError::NotUtf8 {
            path: path.to_path_buf(),
            source,
        })?;
        MeetingSheet::parse(&text, path)
    }

    /// Parses sheet text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<MeetingSheet, SheetError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (toml_text, original_offset) = quote_japanese_keys(text);
        let sheet: MeetingSheet = toml::from_str(&toml_text).map_err(|source| {
            let (line, column, snippet) = match source.span() {
                Some(span) => {
                    let at = original_offset
                        .get(span.start)
                        .or(original_offset.last())
                        .copied()
                        .unwrap_or(0);
                    let (l, c, s) = line_column(text, at);
                    (Some(l), Some(c), s)
                }
                None => (None, None, String::new()),
            };
            SheetError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                snippet,
                message: source.message().trim_end().to_string(),
                toml: Box::new(source),
            }
        })?;
        if let (Some(start), Some(end)) = (sheet.start, sheet.end) {
            if end < start {
                return Err(SheetError::EndBeforeStart {
                    path: path.to_path_buf(),
                    start,
                    end,
                });
            }
        }
        Ok(sheet)
    }
}

/// TOML allows only ASCII bare keys, but clerks write `会議名 = "…"` and `[話者]`. This quotes
/// bare keys that contain non-ASCII characters and turns full-width spaces (U+3000) outside
/// strings and comments into ASCII spaces. Valid TOML has no non-ASCII text outside strings
/// and comments, so valid sheets pass unchanged; unquoted Japanese *values* are left alone and
/// still fail. Returns the text and, for each of its byte offsets (plus the end), the offset
/// in `src`, so error positions point into what the clerk wrote.
fn quote_japanese_keys(src: &str) -> (String, Vec<usize>) {
    let mut out = Rewrite {
        src,
        text: String::with_capacity(src.len() + 16),
        orig: Vec::with_capacity(src.len() + 17),
    };
    let is_key_char = |c: char| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-' || (!c.is_ascii() && !is_space(c))
    };
    // Last significant character outside strings on this line ('\n' = line start) and the
    // line's first one, to tell keys and [table headers] from values.
    let mut prev = '\n';
    let mut first: Option<char> = None;
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        let rest = &src[i..];
        let len = if c == '\n' {
            prev = '\n';
            first = None;
            out.copy(i, 1)
        } else if c == '#' {
            out.copy(i, rest.find('\n').unwrap_or(rest.len()))
        } else if c == '"' || c == '\'' {
            prev = c;
            first.get_or_insert(c);
            out.copy(i, string_len(rest))
        } else if c == '\u{3000}' {
            out.insert(" ", i);
            c.len_utf8()
        } else if is_key_char(c) {
            let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
            let next = rest[len..].chars().find(|&c| !is_space(c));
            let key = matches!(prev, '\n' | '{' | ',' | '.') && matches!(next, Some('=' | '.'))
                || first == Some('[')
                    && matches!(prev, '[' | '.')
                    && matches!(next, Some(']' | '.'));
            prev = 'a';
            first.get_or_insert('a');
            if key && !rest[..len].is_ascii() {
                out.insert("\"", i);
                out.copy(i, len);
                out.insert("\"", i + len);
                len
            } else {
                out.copy(i, len)
            }
        } else {
            if !is_space(c) && c != '\r' {
                prev = c;
                first.get_or_insert(c);
            }
            out.copy(i, c.len_utf8())
        };
        i += len;
    }
    out.orig.push(src.len());
    (out.text, out.orig)
}

/// Output of [`quote_japanese_keys`] with its offset map.
struct Rewrite<'a> {
    src: &'a str,
    text: String,
    orig: Vec<usize>,
}

impl Rewrite<'_> {
    /// Copies `len` bytes of the source from `at`; returns `len`.
    fn copy(&mut self, at: usize, len: usize) -> usize {
        self.text.push_str(&self.src[at..at + len]);
        self.orig.extend(at..at + len);
        len
    }

    /// Adds text that stands for source offset `at`.
    fn insert(&mut self, s: &str, at: usize) {
        self.text.push_str(s);
        self.orig.extend(std::iter::repeat_n(at, s.len()));
    }
}

/// Byte length of the TOML string at the start of `s` (which begins with a quote). An
/// unterminated one-line string ends at the line end; the parser reports it.
fn string_len(s: &str) -> usize {
    let delim = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| s.starts_with(d))
        .unwrap_or("\"");
    let multi = delim.len() == 3;
    let escapes = delim.starts_with('"');
    let mut i = delim.len();
    while let Some(c) = s[i..].chars().next() {
        let r = &s[i..];
        if escapes && c == '\\' {
            i += 1 + r[1..].chars().next().map_or(0, char::len_utf8);
        } else if r.starts_with(delim) {
            // A multi-line string may end with up to two extra quotes (`""""` = `"` + end).
            let quote = &delim[..1];
            let mut end = i + delim.len();
            while multi && end < i + delim.len() + 2 && s[end..].starts_with(quote) {
                end += 1;
            }
            return end;
        } else if !multi && c == '\n' {
            return i;
        } else {
            i += c.len_utf8();
        }
    }
    s.len()
}

/// 1-based line, 1-based column in characters, and the trimmed line text at byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = text[line_start..offset].chars().count() + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let snippet = text[line_start..line_end].trim().to_string();
    (line, column, snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MeetingSheet, SheetError> {
        MeetingSheet::parse(text, Path::new("sheet.toml"))
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn full_sheet_from_the_issue() {
        let s = parse(
            r#"
会議名 = "総務常任委員会"
開始 = 2025-11-25T15:45:00          # TOML local date-time; optional
終了 = 2025-11-25T16:49:00
場所 = "第1委員会室"
議題 = ["議案第1号 …", "所管事務調査 …"]
出席者 = [{ 職 = "委員長", 氏名 = "山田太郎" }, { 職 = "委員", 氏名 = "佐藤花子" }]
欠席者 = []
説明員 = [{ 所属 = "総務部", 職 = "総務課長", 氏名 = "鈴木一郎" }]
事務局 = [{ 職 = "議事係長", 氏名 = "高橋" }]
[話者]
話者1 = "委員長"
話者2 = "総務課長"
"#,
        )
        .unwrap();
        assert_eq!(s.title, "総務常任委員会");
        assert_eq!(s.start, Some(dt("2025-11-25T15:45:00")));
        assert_eq!(s.end, Some(dt("2025-11-25T16:49:00")));
        assert_eq!(s.place, "第1委員会室");
        assert_eq!(s.agenda, vec!["議案第1号 …", "所管事務調査 …"]);
        assert_eq!(s.attendees.len(), 2);
        assert_eq!(s.attendees[0].role, "委員長");
        assert_eq!(s.attendees[0].name, "山田太郎");
        assert!(s.absentees.is_empty());
        assert_eq!(
            s.explainers[0].display(),
            "総務部\u{3000}総務課長\u{3000}鈴木一郎"
        );
        assert_eq!(s.secretariat[0].name, "高橋");
        assert_eq!(
            s.speakers.get("話者2").map(String::as_str),
            Some("総務課長")
        );
    }

    #[test]
    fn empty_sheet_is_all_defaults() {
        assert_eq!(parse("").unwrap(), MeetingSheet::default());
        assert_eq!(
            parse("\u{feff}# only a comment\n").unwrap(),
            MeetingSheet::default()
        );
    }

    #[test]
    fn template_parses() {
        let s = parse(SHEET_TEMPLATE).unwrap();
        assert_eq!(s.title, "総務常任委員会");
        assert_eq!(s.attendees[1].role, "委員");
        assert_eq!(s.attendees[1].name, "佐藤 花子");
        assert_eq!(s.attendees[2].seat, Some(3));
        assert!(s.speakers.is_empty());
    }

    #[test]
    fn report_table() {
        let s = parse(
            "会議名 = \"委員会\"\n[復命書]\n作成日 = 2025-11-26\n宛先 = \"総務部長\"\n\
             復命者 = { 所属 = \"総務課\", 職 = \"主事\", 氏名 = \"佐藤花子\" }\n\
             件名 = \"委員会への出席\"\n添付資料 = \"資料1\"\n",
        )
        .unwrap();
        let r = &s.report;
        assert_eq!(r.written, NaiveDate::from_ymd_opt(2025, 11, 26));
        assert_eq!(r.addressee, "総務部長");
        assert_eq!(r.reporter.display(), "総務課\u{3000}主事\u{3000}佐藤花子");
        assert_eq!(r.subject, "委員会への出席");
        assert_eq!(r.attachments, vec!["資料1"]);
        // Through JSON (the `meeting` of a finished run) and back.
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["作成日"], "2025-11-26");
        assert_eq!(json["復命者"]["氏名"], "佐藤花子");
        assert_eq!(serde_json::from_value::<Report>(json).unwrap(), *r);
        // Empty fields stay out of the JSON.
        assert_eq!(serde_json::to_string(&Report::default()).unwrap(), "{}");
        assert!(Report::default().is_empty() && !r.is_empty());
        assert!(Person::default().is_empty() && !r.reporter.is_empty());

        assert_eq!(parse("").unwrap().report, Report::default());
        let s = parse("[復命書]\n作成日 = \"2025-11-26\"\n").unwrap();
        assert_eq!(s.report.written, NaiveDate::from_ymd_opt(2025, 11, 26));
        let msg = parse("[復命書]\n宛名 = \"x\"\n").unwrap_err().to_string();
        assert!(msg.contains("unknown field `宛名`"), "{msg}");
        let msg = parse("[復命書]\n作成日 = \"11月26日\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("2025-11-26") && msg.contains("line 2"),
            "{msg}"
        );
    }

    #[test]
    fn person_plain_strings() {
        let s =
            parse("出席者 = [\"委員 佐藤花子\", \"委員長\u{3000}山田 太郎\", \"高橋\"]").unwrap();
        let p = &s.attendees;
        assert_eq!(
            (p[0].role.as_str(), p[0].name.as_str()),
            ("委員", "佐藤花子")
        );
        assert_eq!(
            (p[1].role.as_str(), p[1].name.as_str()),
            ("委員長", "山田 太郎")
        );
        assert_eq!((p[2].role.as_str(), p[2].name.as_str()), ("", "高橋"));
    }

    #[test]
    fn lenient_forms() {
        let s = parse("開始 = \"2025-11-25 15:45\"\n議題 = \"議案第1号\"\n").unwrap();
        assert_eq!(s.start, Some(dt("2025-11-25T15:45:00")));
        assert_eq!(s.agenda, vec!["議案第1号"]);
        // An offset date-time keeps the wall-clock time as written.
        let s = parse("開始 = 2025-11-25T15:45:00+09:00").unwrap();
        assert_eq!(s.start, Some(dt("2025-11-25T15:45:00")));
    }

    #[test]
    fn wrong_type_names_line_column_and_expectation() {
        let err = parse("会議名 = \"委員会\"\n開始 = 12\n").unwrap_err();
        let msg = err.to_string();
        match &err {
            SheetError::Parse { line, column, .. } => {
                assert_eq!(*line, Some(2));
                assert_eq!(*column, Some(6));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(msg.contains("sheet.toml"), "{msg}");
        assert!(msg.contains("line 2, column 6"), "{msg}");
        assert!(msg.contains("開始 = 12"), "{msg}");
        assert!(msg.contains("2025-11-25T15:45:00"), "{msg}");
    }

    #[test]
    fn date_without_time_is_explained() {
        let msg = parse("開始 = 2025-11-25\n").unwrap_err().to_string();
        assert!(msg.contains("no time of day"), "{msg}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let msg = parse("会議 = \"x\"\n").unwrap_err().to_string();
        assert!(msg.contains("unknown field `会議`"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
        let msg = parse("出席者 = [{ 名前 = \"x\" }]\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("名前"), "{msg}");
    }

    #[test]
    fn bad_person_and_syntax_errors() {
        let msg = parse("出席者 = [1]\n").unwrap_err().to_string();
        assert!(msg.contains("a person"), "{msg}");
        let msg = parse("会議名 = \"閉じていない\n").unwrap_err().to_string();
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn end_before_start_is_rejected() {
        let err = parse("開始 = 2025-11-25T15:45:00\n終了 = 2025-11-25T15:00:00\n").unwrap_err();
        assert!(matches!(err, SheetError::EndBeforeStart { .. }), "{err}");
    }

    #[test]
    fn japanese_bare_keys_are_quoted_only_where_they_are_keys() {
        let src = "会議名\u{3000}= \"場所 = x\" # 開始 = y\n[話者]\n話者.話者1 = '委員長'\n\
                   出席者 = [{ 職 = \"委\\\"員\", 氏名 = \"\"\"a\nb\"\"\" }]\nkey = 1\n";
        let (out, orig) = quote_japanese_keys(src);
        assert_eq!(
            out,
            "\"会議名\" = \"場所 = x\" # 開始 = y\n[\"話者\"]\n\"話者\".\"話者1\" = '委員長'\n\
             \"出席者\" = [{ \"職\" = \"委\\\"員\", \"氏名\" = \"\"\"a\nb\"\"\" }]\nkey = 1\n"
        );
        assert_eq!(orig.len(), out.len() + 1);
        assert_eq!(orig[0], 0);
        assert_eq!(*orig.last().unwrap(), src.len());
        // Values are never quoted: an unquoted Japanese value stays an error.
        let (out, _) = quote_japanese_keys("場所 = 第1委員会室\n議題 = [議案]\n");
        assert_eq!(out, "\"場所\" = 第1委員会室\n\"議題\" = [議案]\n");
        let err = parse("場所 = 第1委員会室\n").unwrap_err();
        match err {
            SheetError::Parse {
                line,
                column,
                snippet,
                ..
            } => {
                assert_eq!((line, column), (Some(1), Some(6)));
                assert_eq!(snippet, "場所 = 第1委員会室");
            }
            other => panic!("unexpected {other:?}"),
        }
        // Already quoted keys still work.
        let s = parse("\"会議名\" = \"本会議\"\n[\"話者\"]\n\"話者1\" = \"議長\"\n").unwrap();
        assert_eq!(s.title, "本会議");
        assert_eq!(s.speakers["話者1"], "議長");
    }

    #[test]
    fn missing_and_non_utf8_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nai.toml");
        let err = MeetingSheet::load(&missing).unwrap_err();
        assert!(matches!(err, SheetError::NotFound { .. }));
        assert!(err.to_string().contains("nai.toml"));

        let sjis = dir.path().join("sjis.toml");
        // "会議名" in Shift_JIS.
        std::fs::write(&sjis, b"\x89\xef\x8b\x63\x96\xbc = 1").unwrap();
        let err = MeetingSheet::load(&sjis).unwrap_err();
        assert!(matches!(err, SheetError::NotUtf8 { .. }), "{err}");

        let good = dir.path().join("ok.toml");
        std::fs::write(&good, "会議名 = \"本会議\"\n").unwrap();
        assert_eq!(MeetingSheet::load(&good).unwrap().title, "本会議");
    }
}
