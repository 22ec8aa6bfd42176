//! What the DOCX output contains ([`Template`]): the verbatim 会議録, a 復命書, the 要旨, or
//! the office's own Word form with `{{会議名}}`-style placeholders ([`PLACEHOLDERS`]) filled in.
//!
//! Form filling works on the form's XML text, not on a parsed tree: only the `<w:t>` text of
//! paragraphs that hold a placeholder is rewritten, and everything else — styles, tables,
//! headers, fields, whatever Word or another editor wrote — is copied byte for byte, so the
//! form looks exactly as it did. (A parse-and-reserialise round trip through an XML library
//! would touch every part and buys nothing here: WordprocessingML text only ever sits in
//! `<w:t>` elements, which hold no markup.)
//!
//! - Word often splits what the user typed as `{{会議名}}` over several runs (`{{`, `会議名`,
//!   `}}`, e.g. around a spell-check mark). The text of a paragraph's runs is read as one
//!   string; a placeholder's value goes into the run where its `{{` is, keeping that run's
//!   formatting, and the rest of the placeholder is removed from the runs after it.
//! - A value of several lines (出席者, 本文, 要旨 …) becomes one paragraph per line — copies of
//!   the placeholder's paragraph with its paragraph and run properties — when the placeholder
//!   stands alone in its paragraph, and lines joined by line breaks otherwise.
//! - Unknown placeholders are left as they are and reported (a warning), so a typo shows.
//!
//! `word/document.xml`, the headers and the footers are filled. A Word template (.dotx) is
//! accepted as well and written as a document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Cursor, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::docx::rewrite_parts;
use super::fukumeisho::{addressee_line, subject, written_line};
use super::yoshi::{gist_lines, gists};
use super::{title, ExportError, SPEAKER_SEPARATOR};
use crate::minutes::wareki::format_date;
use crate::minutes::{Minutes, Person};
use crate::types::Transcript;

/// The layout of the DOCX output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Template {
    /// 会議録: every turn verbatim under 議事の経過.
    #[default]
    Kaigiroku,
    /// 復命書: a report to a superior with the discussion abridged.
    Fukumeisho,
    /// 要旨: the 会議録 header with each speaker's key sentences.
    Yoshi,
    /// The office's own .docx (or .dotx) form with placeholders.
    Form(PathBuf),
}

/// Every placeholder a form may use.
pub const PLACEHOLDERS: [&str; 20] = [
    "会議名",
    "表題",
    "日時",
    "日付",
    "場所",
    "議題",
    "出席者",
    "欠席者",
    "説明員",
    "事務局",
    "本文",
    "要旨",
    "作成日",
    "宛先",
    "件名",
    "復命者",
    "復命者所属",
    "復命者職",
    "復命者氏名",
    "添付資料",
];

impl Template {
    /// The names [`FromStr`] accepts besides a form path.
    pub const NAMES: [&'static str; 3] = ["kaigiroku", "fukumeisho", "yoshi"];

    /// Checks a form before any work starts: readable, a Word document, and — with a warning
    /// only — whether it uses placeholders this program does not know. The built-in layouts
    /// need no check.
    pub fn check(&self) -> Result<(), ExportError> {
        let Template::Form(path) = self else {
            return Ok(());
        };
        let bytes = read_form(path)?;
        let found = placeholders_in(&bytes).map_err(|problem| invalid(path, problem))?;
        let unknown: Vec<&str> = found
            .iter()
            .map(String::as_str)
            .filter(|n| !PLACEHOLDERS.contains(n))
            .collect();
        if !unknown.is_empty() {
            warn_unknown(path, &unknown);
        }
        if found.is_empty() {
            tracing::warn!(
                form = %path.display(),
                "the form has no {{{{…}}}} placeholders; the output will be a copy of it"
            );
        }
        Ok(())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Template::Kaigiroku => f.write_str("kaigiroku"),
            Template::Fukumeisho => f.write_str("fukumeisho"),
            Template::Yoshi => f.write_str("yoshi"),
            Template::Form(p) => write!(f, "{}", p.display()),
        }
    }
}

impl FromStr for Template {
    type Err = ExportError;

    /// `kaigiroku`, `fukumeisho`, `yoshi` (or 会議録, 復命書, 要旨), or a path ending in
    /// `.docx` / `.dotx`.
    fn from_str(s: &str) -> Result<Template, ExportError> {
        let key = s.trim();
        match key.to_ascii_lowercase().as_str() {
            "kaigiroku" | "会議録" => return Ok(Template::Kaigiroku),
            "fukumeisho" | "復命書" => return Ok(Template::Fukumeisho),
            "yoshi" | "要旨" => return Ok(Template::Yoshi),
            _ => {}
        }
        let path = Path::new(key);
        let is_word = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("docx") || e.eq_ignore_ascii_case("dotx"));
        if is_word {
            Ok(Template::Form(path.to_path_buf()))
        } else {
            Err(ExportError::UnknownTemplate {
                given: s.to_string(),
            })
        }
    }
}

fn warn_unknown(path: &Path, unknown: &[&str]) {
    tracing::warn!(
        form = %path.display(),
        "unknown placeholders left as they are: {}; known: {}",
        unknown
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect::<Vec<_>>()
            .join(" "),
        PLACEHOLDERS.join("、")
    );
}

fn read_form(path: &Path) -> Result<Vec<u8>, ExportError> {
    std::fs::read(path).map_err(|source| ExportError::FormRead {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, problem: String) -> ExportError {
    ExportError::FormInvalid {
        path: path.to_path_buf(),
        problem,
    }
}

/// The form at `path` with the minutes filled in.
pub(super) fn render_form(
    path: &Path,
    minutes: &Minutes,
    transcript: &Transcript,
) -> Result<Vec<u8>, ExportError> {
    let form = read_form(path)?;
    let (docx, unknown) =
        fill(&form, &values(minutes, transcript)).map_err(|problem| invalid(path, problem))?;
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(String::as_str).collect();
        warn_unknown(path, &names);
    }
    Ok(docx)
}

/// Placeholder name → the lines of its value (none when unknown: the placeholder vanishes and
/// leaves the blank for the clerk).
type Values = BTreeMap<&'static str, Vec<String>>;

fn values(minutes: &Minutes, transcript: &Transcript) -> Values {
    let m = &minutes.meeting;
    let r = &m.report;
    let one = |s: &str| match s.trim() {
        "" => vec![],
        t => vec![t.to_string()],
    };
    let people = |p: &[Person]| {
        p.iter()
            .filter(|p| !p.is_empty())
            .map(Person::display)
            .collect::<Vec<_>>()
    };
    let mut v = Values::new();
    v.insert("会議名", one(&m.title));
    v.insert("表題", one(&title(minutes)));
    v.insert("日時", one(&m.date_range_wareki()));
    v.insert(
        "日付",
        m.start.map(|s| format_date(s.date())).into_iter().collect(),
    );
    v.insert("場所", one(&m.place));
    v.insert("議題", m.agenda.iter().flat_map(|a| one(a)).collect());
    v.insert("出席者", people(&m.attendees));
    v.insert("欠席者", people(&m.absentees));
    v.insert("説明員", people(&m.explainers));
    v.insert("事務局", people(&m.secretariat));
    v.insert(
        "本文",
        minutes
            .turns
            .iter()
            .map(|t| format!("{}{SPEAKER_SEPARATOR}{}", t.speaker, t.text))
            .collect(),
    );
    v.insert("要旨", gist_lines(&gists(minutes, transcript)));
    // Never empty: blanks to write in (`令和　　年…`, `　　様`), which trimming would eat.
    v.insert("作成日", vec![written_line(m)]);
    v.insert("宛先", vec![addressee_line(r)]);
    v.insert("件名", one(&subject(m)));
    v.insert("復命者", one(&r.reporter.display()));
    v.insert("復命者所属", one(&r.reporter.affiliation));
    v.insert("復命者職", one(&r.reporter.role));
    v.insert("復命者氏名", one(&r.reporter.name));
    v.insert(
        "添付資料",
        r.attachments.iter().flat_map(|a| one(a)).collect(),
    );
    v
}

/// The parts that may hold placeholders.
fn is_text_part(name: &str) -> bool {
    let Some(file) = name.strip_prefix("word/") else {
        return false;
    };
    file == "document.xml"
        || (file.starts_with("header") || file.starts_with("footer"))
            && file.ends_with(".xml")
            && !file.contains('/')
}

/// `fill` on a whole package: returns the new package and the unknown placeholder names.
fn fill(form: &[u8], values: &Values) -> Result<(Vec<u8>, BTreeSet<String>), String> {
    has_document(form)?;
    let mut unknown = BTreeSet::new();
    let docx = rewrite_parts(
        form,
        |name| is_text_part(name) || name == "[Content_Types].xml",
        |name, xml| {
            if name == "[Content_Types].xml" {
                // A .dotx declares its main part as a template; the output is a document.
                xml.replace(
                    "wordprocessingml.template.main+xml",
                    "wordprocessingml.document.main+xml",
                )
            } else {
                fill_part(&xml, values, &mut unknown)
            }
        },
    )
    .map_err(|e| e.to_string())?;
    Ok((docx, unknown))
}

fn has_document(form: &[u8]) -> Result<(), String> {
    let zip = zip::ZipArchive::new(Cursor::new(form)).map_err(|e| format!("not a zip: {e}"))?;
    if zip.index_for_name("word/document.xml").is_none() {
        return Err("it has no word/document.xml".into());
    }
    Ok(())
}

/// Names of every `{{…}}` in the text parts of a package.
fn placeholders_in(form: &[u8]) -> Result<BTreeSet<String>, String> {
    has_document(form)?;
    let mut zip = zip::ZipArchive::new(Cursor::new(form)).map_err(|e| e.to_string())?;
    let mut found = BTreeSet::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        if !is_text_part(entry.name()) {
            continue;
        }
        let mut xml = String::new();
        entry
            .read_to_string(&mut xml)
            .map_err(|e| format!("{}: {e}", entry.name()))?;
        for p in innermost_paragraphs(&xml) {
            let texts = text_elements(&xml[p]);
            let joined: String = texts.iter().map(|t| t.text.as_str()).collect();
            found.extend(find_placeholders(&joined).into_iter().map(|(_, n)| n));
        }
    }
    Ok(found)
}

/// Fills every paragraph of one XML part.
fn fill_part(xml: &str, values: &Values, unknown: &mut BTreeSet<String>) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut last = 0;
    for p in innermost_paragraphs(xml) {
        out.push_str(&xml[last..p.start]);
        out.push_str(&fill_paragraph(&xml[p.clone()], values, unknown));
        last = p.end;
    }
    out.push_str(&xml[last..]);
    out
}

/// A `<w:t>` element of a paragraph: where its open tag starts, where its content is, where
/// its close tag ends, and the content unescaped.
struct TextElement {
    start: usize,
    content: Range<usize>,
    end: usize,
    text: String,
}

/// Fills one paragraph (`<w:p …>…</w:p>`, no paragraph inside).
fn fill_paragraph(p: &str, values: &Values, unknown: &mut BTreeSet<String>) -> String {
    let texts = text_elements(p);
    let joined: String = texts.iter().map(|t| t.text.as_str()).collect();
    if !joined.contains("{{") {
        return p.to_string();
    }
    let mut known: Vec<(Range<usize>, &[String])> = Vec::new();
    for (range, name) in find_placeholders(&joined) {
        match values.get(name.as_str()) {
            Some(lines) => known.push((range, lines.as_slice())),
            None => {
                unknown.insert(name);
            }
        }
    }
    // Alone in its paragraph: one paragraph per line, all copies of this one.
    if let [(range, lines)] = known.as_slice() {
        if joined.trim() == &joined[range.clone()] && lines.len() != 1 {
            let empty = [String::new()];
            let lines: &[String] = if lines.is_empty() { &empty } else { lines };
            return lines
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    let copy = rewrite(p, &texts, &[(range.clone(), std::slice::from_ref(line))]);
                    if i == 0 {
                        copy
                    } else {
                        without_ids(&copy)
                    }
                })
                .collect();
        }
    }
    rewrite(p, &texts, &known)
}

/// `{{name}}` occurrences in `text` as (byte range, trimmed name). In `{{a {{b}}` only
/// `{{b}}` counts.
fn find_placeholders(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(close) = text[from..].find("}}").map(|i| from + i) {
        if let Some(open) = text[from..close].rfind("{{").map(|i| from + i) {
            let name = text[open + 2..close].trim();
            if !name.is_empty() {
                out.push((open..close + 2, name.to_string()));
            }
        }
        from = close + 2;
    }
    out
}

/// The paragraph with the placeholder ranges (in the joined text of `texts`) replaced by
/// their lines. A replacement goes into the `<w:t>` where its placeholder starts; `<w:t>`s
/// the placeholder does not touch are copied unchanged.
fn rewrite(p: &str, texts: &[TextElement], reps: &[(Range<usize>, &[String])]) -> String {
    let mut out = String::with_capacity(p.len());
    let mut last = 0;
    let mut at = 0; // start of the current element's text in the joined text
    for t in texts {
        let span = at..at + t.text.len();
        at = span.end;
        if !reps
            .iter()
            .any(|(r, _)| r.start < span.end && r.end > span.start)
        {
            continue;
        }
        let mut content = String::new();
        let mut pos = span.start;
        for (r, lines) in reps {
            if r.end <= span.start || r.start >= span.end {
                continue;
            }
            if r.start > pos {
                content.push_str(&escape(&joined_slice(t, &span, pos..r.start)));
            }
            if r.start >= span.start {
                let escaped: Vec<String> = lines.iter().map(|l| escape(l)).collect();
                content.push_str(&escaped.join(r#"</w:t><w:br/><w:t xml:space="preserve">"#));
            }
            pos = pos.max(r.end.min(span.end));
        }
        if pos < span.end {
            content.push_str(&escape(&joined_slice(t, &span, pos..span.end)));
        }
        out.push_str(&p[last..t.start]);
        out.push_str(r#"<w:t xml:space="preserve">"#);
        out.push_str(&content);
        out.push_str("</w:t>");
        last = t.end;
    }
    out.push_str(&p[last..]);
    out
}

/// Part of an element's text, `range` given in joined-text offsets.
fn joined_slice(t: &TextElement, span: &Range<usize>, range: Range<usize>) -> String {
    t.text[range.start - span.start..range.end - span.start].to_string()
}

/// A copied paragraph must not repeat Word's unique ids (w14:paraId, w14:textId) or its
/// bookmarks, which Word reports as damage.
fn without_ids(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut last = 0;
    for tag in tags(p) {
        let whole = &p[tag.range.clone()];
        if tag.name == "w:bookmarkStart" || tag.name == "w:bookmarkEnd" {
            out.push_str(&p[last..tag.range.start]);
            last = tag.range.end;
        } else if tag.name == "w:p" && tag.kind == TagKind::Open {
            out.push_str(&p[last..tag.range.start]);
            out.push_str(&drop_attributes(whole, &["w14:paraId", "w14:textId"]));
            last = tag.range.end;
        }
    }
    out.push_str(&p[last..]);
    out
}

fn drop_attributes(tag: &str, names: &[&str]) -> String {
    let mut out = tag.to_string();
    for name in names {
        let key = format!(" {name}=\"");
        if let Some(start) = out.find(&key) {
            if let Some(len) = out[start + key.len()..].find('"') {
                out.replace_range(start..start + key.len() + len + 1, "");
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Open,
    Close,
    Empty,
}

struct Tag<'a> {
    range: Range<usize>,
    name: &'a str,
    kind: TagKind,
}

/// The element tags of an XML text in order; comments, processing instructions and CDATA are
/// skipped. A `>` inside a quoted attribute value does not end a tag.
fn tags(xml: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let bytes = xml.as_bytes();
    let mut i = 0;
    while let Some(lt) = xml[i..].find('<').map(|k| i + k) {
        let rest = &xml[lt..];
        let skip_to = |end: &str| rest.find(end).map_or(xml.len(), |k| lt + k + end.len());
        if rest.starts_with("<!--") {
            i = skip_to("-->");
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            i = skip_to("]]>");
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            i = skip_to(">");
            continue;
        }
        let mut quote = None;
        let mut gt = None;
        for (k, &b) in bytes.iter().enumerate().skip(lt + 1) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), _) if b == q => quote = None,
                (None, b'>') => {
                    gt = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let Some(gt) = gt else { break };
        let inner = &xml[lt + 1..gt];
        let (kind, body) = if let Some(b) = inner.strip_prefix('/') {
            (TagKind::Close, b)
        } else if let Some(b) = inner.strip_suffix('/') {
            (TagKind::Empty, b)
        } else {
            (TagKind::Open, inner)
        };
        let name_len = body
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(body.len());
        out.push(Tag {
            range: lt..gt + 1,
            name: &body[..name_len],
            kind,
        });
        i = gt + 1;
    }
    out
}

/// Byte ranges of the `<w:p>` elements that hold no other paragraph (a paragraph anchoring a
/// text box holds the box's paragraphs; those are filled, the anchor's own text is not).
fn innermost_paragraphs(xml: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    // (start, holds another paragraph)
    let mut open: Vec<(usize, bool)> = Vec::new();
    for tag in tags(xml) {
        if tag.name != "w:p" {
            continue;
        }
        match tag.kind {
            TagKind::Open => {
                if let Some(parent) = open.last_mut() {
                    parent.1 = true;
                }
                open.push((tag.range.start, false));
            }
            TagKind::Close => {
                if let Some((start, nested)) = open.pop() {
                    if !nested {
                        out.push(start..tag.range.end);
                    }
                }
            }
            TagKind::Empty => {}
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// The non-empty `<w:t>` elements of a paragraph, in order.
fn text_elements(p: &str) -> Vec<TextElement> {
    let all = tags(p);
    let mut out = Vec::new();
    let mut k = 0;
    while k < all.len() {
        let tag = &all[k];
        if tag.name == "w:t" && tag.kind == TagKind::Open {
            // <w:t> holds text only, so its close tag is the next tag.
            let next = all.get(k + 1);
            if let Some(close) = next.filter(|c| c.name == "w:t" && c.kind == TagKind::Close) {
                let content = tag.range.end..close.range.start;
                out.push(TextElement {
                    start: tag.range.start,
                    text: unescape(&p[content.clone()]),
                    content,
                    end: close.range.end,
                });
                k += 1;
            }
        }
        k += 1;
    }
    out.retain(|t| !t.content.is_empty());
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// XML text to plain text: the five named entities and numeric character references.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{render_docx, test_data};
    use super::*;

    /// Paragraph texts of `word/document.xml`, one line per paragraph (table cells too).
    pub(in crate::export) fn document_text(docx: &[u8]) -> String {
        part_text(docx, "word/document.xml")
    }

    pub(in crate::export) fn part_text(docx: &[u8], part: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut xml = String::new();
        zip.by_name(part).unwrap().read_to_string(&mut xml).unwrap();
        let mut out = String::new();
        let ts = tags(&xml);
        let mut k = 0;
        while k < ts.len() {
            let t = &ts[k];
            if t.name == "w:t" && t.kind == TagKind::Open {
                out.push_str(&unescape(&xml[t.range.end..ts[k + 1].range.start]));
                k += 1;
            } else if t.name == "w:br" || (t.name == "w:p" && t.kind == TagKind::Close) {
                out.push('\n');
            }
            k += 1;
        }
        out
    }

    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml""#;

    /// A one-part package around `body` (enough for the filler, which never opens the rest).
    fn package(body: &str) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", opts).unwrap();
        zip.write_all(b"<Types>wordprocessingml.template.main+xml</Types>")
            .unwrap();
        zip.start_file("word/document.xml", opts).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0"?><w:document {NS}><w:body>{body}</w:body></w:document>"#
        )
        .unwrap();
        zip.start_file("word/media/image1.png", opts).unwrap();
        zip.write_all(b"\x89PNG{{not text}}").unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn filled(body: &str) -> (Vec<u8>, BTreeSet<String>) {
        let (m, t) = test_data::minutes();
        fill(&package(body), &values(&m, &t)).unwrap()
    }

    fn document_xml(docx: &[u8]) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut xml = String::new();
        zip.by_name("word/document.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn template_names_and_paths() {
        assert_eq!(
            "kaigiroku".parse::<Template>().unwrap(),
            Template::Kaigiroku
        );
        assert_eq!(
            " 復命書 ".parse::<Template>().unwrap(),
            Template::Fukumeisho
        );
        assert_eq!("YOSHI".parse::<Template>().unwrap(), Template::Yoshi);
        assert_eq!(
            "forms/様式.DOCX".parse::<Template>().unwrap(),
            Template::Form("forms/様式.DOCX".into())
        );
        let err = "minutes".parse::<Template>().unwrap_err().to_string();
        assert!(
            err.contains("`minutes`") && err.contains("fukumeisho"),
            "{err}"
        );
        for name in Template::NAMES {
            assert_eq!(name.parse::<Template>().unwrap().to_string(), name);
        }
        assert_eq!(Template::default(), Template::Kaigiroku);
    }

    #[test]
    fn placeholder_split_over_three_runs_keeps_first_run_format() {
        let body = r#"<w:p w14:paraId="1A2B3C4D"><w:r><w:rPr><w:b/></w:rPr><w:t>会議：{{</w:t></w:r><w:proofErr w:type="spellStart"/><w:r><w:rPr><w:i/></w:rPr><w:t>会議</w:t></w:r><w:r><w:t xml:space="preserve">名}} です</w:t></w:r></w:p>"#;
        let (docx, unknown) = filled(body);
        assert!(unknown.is_empty());
        let xml = document_xml(&docx);
        assert!(
            xml.contains(
                r#"<w:rPr><w:b/></w:rPr><w:t xml:space="preserve">会議：総務常任委員会</w:t>"#
            ),
            "{xml}"
        );
        assert!(xml.contains(r#"<w:rPr><w:i/></w:rPr><w:t xml:space="preserve"></w:t>"#));
        assert!(xml.contains(r#"<w:t xml:space="preserve"> です</w:t>"#));
        assert!(xml.contains(r#"<w:proofErr w:type="spellStart"/>"#));
        assert_eq!(document_text(&docx), "会議：総務常任委員会 です\n");
    }

    #[test]
    fn lone_placeholder_expands_into_paragraphs() {
        let body = r#"<w:p w14:paraId="00000001" w14:textId="00000002"><w:pPr><w:ind w:left="420"/></w:pPr><w:bookmarkStart w:id="0" w:name="b"/><w:r><w:rPr><w:sz w:val="22"/></w:rPr><w:t>{{本文}}</w:t></w:r><w:bookmarkEnd w:id="0"/></w:p><w:p><w:r><w:t>出席：{{出席者}}</w:t></w:r></w:p>"#;
        let (docx, _) = filled(body);
        let xml = document_xml(&docx);
        assert_eq!(
            document_text(&docx),
            "委員長 : ただいまから総務常任委員会を開会します。議案第1号を議題とします。当局の説明を求めます。\n\
             総務課長 : それでは議案第1号についてご説明いたします。\n\
             話者3 : 質疑はありませんか。\n\
             出席：委員長　山田太郎\n委員　佐藤花子\n委員　田中次郎\n"
        );
        // Every copy keeps the paragraph and run properties; ids and bookmarks only once.
        assert_eq!(xml.matches(r#"<w:ind w:left="420"/>"#).count(), 3);
        assert_eq!(xml.matches(r#"<w:sz w:val="22"/>"#).count(), 3);
        assert_eq!(xml.matches("w14:paraId").count(), 1);
        assert_eq!(xml.matches("w:bookmarkStart").count(), 1);
        // Inline lists become line breaks in the same run.
        assert_eq!(xml.matches("<w:br/>").count(), 2);
    }

    #[test]
    fn unknown_and_empty_values() {
        let body = r#"<w:p><w:r><w:t>{{会議名}}{{ 担当課 }}</w:t></w:r></w:p><w:p><w:r><w:t>{{欠席者}}</w:t></w:r></w:p><w:p><w:r><w:t>A&amp;B {{場所}} &lt;x&gt;</w:t></w:r></w:p>"#;
        let (docx, unknown) = filled(body);
        assert_eq!(unknown.into_iter().collect::<Vec<_>>(), ["担当課"]);
        // The empty list leaves one empty paragraph; escaping survives.
        assert_eq!(
            document_text(&docx),
            "総務常任委員会{{ 担当課 }}\n\nA&B 第1委員会室 <x>\n"
        );
        // Untouched parts are copied as they were; a .dotx becomes a document.
        let mut zip = zip::ZipArchive::new(Cursor::new(docx.as_slice())).unwrap();
        let mut png = Vec::new();
        zip.by_name("word/media/image1.png")
            .unwrap()
            .read_to_end(&mut png)
            .unwrap();
        assert_eq!(png, b"\x89PNG{{not text}}");
        let mut types = String::new();
        zip.by_name("[Content_Types].xml")
            .unwrap()
            .read_to_string(&mut types)
            .unwrap();
        assert!(types.contains("document.main+xml"), "{types}");
    }

    #[test]
    fn nested_paragraphs_and_tags() {
        let xml = r#"<?xml version="1.0"?><!-- <w:p> --><w:body><w:p><w:r><w:pict><w:txbxContent><w:p a=">"><w:r><w:t>{{場所}}</w:t></w:r></w:p></w:txbxContent></w:pict></w:r></w:p><w:p/></w:body>"#;
        let ps = innermost_paragraphs(xml);
        assert_eq!(ps.len(), 1);
        assert!(xml[ps[0].clone()].starts_with(r#"<w:p a=">">"#));
        let (m, t) = test_data::minutes();
        let mut unknown = BTreeSet::new();
        let out = fill_part(xml, &values(&m, &t), &mut unknown);
        assert!(
            out.contains("<w:t xml:space=\"preserve\">第1委員会室</w:t>"),
            "{out}"
        );
        assert!(out.starts_with(r#"<?xml version="1.0"?><!-- <w:p> -->"#));
        assert_eq!(find_placeholders("{{a {{b}} }} {{}}").len(), 1);
        assert_eq!(unescape("&#x4F1A;&#35696;&amp;&bogus;"), "会議&&bogus;");
    }

    #[test]
    fn every_placeholder_has_a_value() {
        let (m, t) = test_data::minutes();
        let v = values(&m, &t);
        let mut names: Vec<&str> = PLACEHOLDERS.to_vec();
        names.sort_unstable();
        assert_eq!(v.keys().copied().collect::<Vec<_>>(), names);
        assert_eq!(v["日付"], ["令和7年11月25日(火)"]);
        assert_eq!(v["表題"], ["総務常任委員会記録"]);
        assert_eq!(v["宛先"], ["\u{3000}".repeat(8) + "様"]);
    }

    #[test]
    fn check_reports_bad_forms() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Template::Form(dir.path().join("nai.docx"));
        assert!(matches!(missing.check(), Err(ExportError::FormRead { .. })));
        let not_zip = dir.path().join("x.docx");
        std::fs::write(&not_zip, "text").unwrap();
        let err = Template::Form(not_zip).check().unwrap_err().to_string();
        assert!(err.contains("x.docx") && err.contains("not a zip"), "{err}");
        let ok = dir.path().join("ok.docx");
        std::fs::write(&ok, package("<w:p><w:r><w:t>{{会議名}}</w:t></w:r></w:p>")).unwrap();
        Template::Form(ok.clone()).check().unwrap();
        let (m, t) = test_data::minutes();
        let docx = render_docx(&m, &t, &Template::Form(ok)).unwrap();
        assert_eq!(document_text(&docx), "総務常任委員会\n");
        assert!(Template::Yoshi.check().is_ok());
    }
}
