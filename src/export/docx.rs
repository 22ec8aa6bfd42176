//! The DOCX 会議録 draft, laid out like Japanese committee records (e.g. 一関市議会
//! 総務常任委員会記録): A4 portrait, 明朝 type, a boxed 「案」 at the top right of every page,
//! the title and the draft notice, a bordered header table (会議名, 開催日時, 場所, 出席者,
//! 欠席者, 説明員・事務局, 議題), then 議事の経過 with one `発言者 : 発言` paragraph per turn,
//! and `- 1 -` page numbers in the footer. Empty header values are blank cells for the clerk.
//! Words the recogniser was unsure of carry a red ★ before them (or a yellow highlight, by
//! [`MarkStyle`]), and a line under the draft notice says how many there are.
//!
//! docx-rs 0.4 writes a fixed font table and has no `w:lang`, so [`finish_package`] rewrites
//! those two parts in the finished zip: the font table declares 游明朝 with ＭＳ 明朝 as its
//! alternative, and the document defaults mark East Asian text as Japanese.

use std::io::{Cursor, Read, Write};

use docx_rs::{
    AlignmentType, BorderType, Docx, Footer, Header, HeightRule, LineSpacing, PageMargin, PageNum,
    Paragraph, Run, RunFonts, Shading, SpecialIndentType, Table, TableBorder, TableBorderPosition,
    TableBorders, TableCell, TableLayoutType, TableRow, TextBorder, VAlignType, WidthType,
};

use super::{header_rows, title, ExportError, DRAFT_NOTICE, SPEAKER_SEPARATOR};
use crate::minutes::{MarkStyle, Minutes, Turn};
use crate::types::Mark;

/// A4 in twips (1/1440 inch).
const PAGE_WIDTH: u32 = 11_906;
const PAGE_HEIGHT: u32 = 16_838;
/// Margins in twips: 30 mm top, 25 mm elsewhere; header/footer 12 mm from the edge.
const MARGIN_TOP: i32 = 1_701;
const MARGIN_SIDE: i32 = 1_418;
const MARGIN_BOTTOM: i32 = 1_418;
const HEADER_FOOTER: i32 = 680;
/// Text width: page minus both side margins.
pub(super) const TEXT_WIDTH: usize = PAGE_WIDTH as usize - 2 * MARGIN_SIDE as usize;
/// Header table label column (38 mm), the rest for the value.
const LABEL_WIDTH: usize = 2_154;
pub(super) const VALUE_WIDTH: usize = TEXT_WIDTH - LABEL_WIDTH;
/// Minimum header row height (8 mm) so blank rows leave room to write.
const ROW_MIN_HEIGHT: f32 = 454.0;

/// Font sizes in half-points.
const BODY_SIZE: usize = 21; // 10.5 pt, the Japanese default
const TITLE_SIZE: usize = 32; // 16 pt
const MARK_SIZE: usize = 36; // 18 pt
const NOTE_SIZE: usize = 18; // 9 pt
const SMALL_SIZE: usize = 14; // 7 pt, so the 議題 sub-label fits on one line
/// One full-width character of body text in twips, for the hanging indent.
pub(super) const CHAR_WIDTH: i32 = 210;

/// Body font; [`FONT_TABLE`] names ＭＳ 明朝 as its alternative for PCs without it.
const FONT_MINCHO: &str = "游明朝";
const DRAFT_RED: &str = "C00000";
const LABEL_FILL: &str = "F2F2F2";

fn fonts() -> RunFonts {
    RunFonts::new()
        .ascii(FONT_MINCHO)
        .hi_ansi(FONT_MINCHO)
        .east_asia(FONT_MINCHO)
        .cs(FONT_MINCHO)
        .hint("eastAsia")
}

pub(super) fn run(text: &str) -> Run {
    Run::new().add_text(text).fonts(fonts())
}

pub(super) fn spacing(before: u32, after: u32) -> LineSpacing {
    LineSpacing::new().before(before).after(after)
}

pub(super) fn render(minutes: &Minutes) -> Result<Vec<u8>, ExportError> {
    pack(build(minutes))
}

/// The finished package of any of the built-in layouts.
pub(super) fn pack(doc: Docx) -> Result<Vec<u8>, ExportError> {
    let mut buf = Cursor::new(Vec::new());
    doc.pack(&mut buf).map_err(|e| ExportError::Docx {
        source: Box::new(e),
    })?;
    finish_package(&buf.into_inner())
}

fn build(minutes: &Minutes) -> Docx {
    let mut doc = page()
        .add_paragraph(title_paragraph(&title(minutes)))
        .add_paragraph(notice_paragraph(DRAFT_NOTICE));
    let marks: usize = minutes.turns.iter().map(|t| shown_marks(t).len()).sum();
    if marks > 0 {
        doc = doc.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .line_spacing(spacing(0, 240))
                .add_run(run(&mark_notice(minutes.mark_style, marks)).size(NOTE_SIZE)),
        );
    }
    doc = doc
        .add_table(header_table(minutes))
        .add_paragraph(heading("議事の経過"));
    for e in super::with_markers(minutes) {
        let t = match e {
            super::Entry::Turn(t) => t,
            super::Entry::Marker(m) => {
                doc = doc.add_paragraph(
                    Paragraph::new()
                        .line_spacing(spacing(60, 60))
                        .add_run(run(&super::marker_line(m)).bold()),
                );
                continue;
            }
        };
        let mut p = Paragraph::new()
            .align(AlignmentType::Both)
            .indent(
                Some(CHAR_WIDTH),
                Some(SpecialIndentType::Hanging(CHAR_WIDTH)),
                None,
                None,
            )
            .line_spacing(spacing(0, 60))
            .add_run(run(&t.speaker).bold())
            .add_run(run(SPEAKER_SEPARATOR));
        for r in turn_runs(t, minutes.mark_style) {
            p = p.add_run(r);
        }
        doc = doc.add_paragraph(p);
    }
    doc
}

/// The line under the draft notice explaining the marks: 「★印は音声認識の確度が低い箇所
/// です（12箇所）。」
pub(super) fn mark_notice(style: MarkStyle, count: usize) -> String {
    let what = match style {
        MarkStyle::Star => "★印",
        MarkStyle::Highlight => "黄色のマーカー",
    };
    format!("{what}は音声認識の確度が低い箇所です（{count}箇所）。")
}

/// The turn's marks that fit its text, sorted, without overlaps (the first wins).
fn shown_marks(t: &Turn) -> Vec<Mark> {
    let len = t.text.chars().count();
    let mut marks: Vec<Mark> = t
        .marks
        .iter()
        .filter(|m| m.start < m.end && m.end <= len)
        .copied()
        .collect();
    marks.sort();
    let mut out: Vec<Mark> = Vec::with_capacity(marks.len());
    for m in marks {
        if out.last().is_none_or(|p| m.start >= p.end) {
            out.push(m);
        }
    }
    out
}

/// Yellow, Word's usual highlighter colour.
const MARK_HIGHLIGHT: &str = "yellow";

/// The turn's text as runs: plain stretches, and each marked stretch after a red ★ or
/// highlighted. Marks that do not fit the text (a hand-edited JSON) are ignored.
fn turn_runs(t: &Turn, style: MarkStyle) -> Vec<Run> {
    let chars: Vec<char> = t.text.chars().collect();
    let mut runs = Vec::new();
    let mut at = 0;
    for m in shown_marks(t) {
        let plain: String = chars[at..m.start].iter().collect();
        if !plain.is_empty() {
            runs.push(run(&plain));
        }
        let word: String = chars[m.start..m.end].iter().collect();
        match style {
            MarkStyle::Star => {
                runs.push(run("★").color(DRAFT_RED));
                runs.push(run(&word));
            }
            MarkStyle::Highlight => runs.push(run(&word).highlight(MARK_HIGHLIGHT)),
        }
        at = m.end;
    }
    let rest: String = chars[at..].iter().collect();
    if !rest.is_empty() || runs.is_empty() {
        runs.push(run(&rest));
    }
    runs
}

/// A4 portrait, the margins, 明朝 10.5 pt, the 「案」 mark and page numbers: the frame of
/// every built-in layout.
pub(super) fn page() -> Docx {
    Docx::new()
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP)
                .bottom(MARGIN_BOTTOM)
                .left(MARGIN_SIDE)
                .right(MARGIN_SIDE)
                .header(HEADER_FOOTER)
                .footer(HEADER_FOOTER),
        )
        .default_fonts(fonts())
        .default_size(BODY_SIZE)
        .header(draft_mark())
        .footer(page_number_footer())
}

/// The centred bold document title.
pub(super) fn title_paragraph(text: &str) -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(spacing(0, 120))
        .add_run(run(text).size(TITLE_SIZE).bold())
}

/// The small red draft notice under the title.
pub(super) fn notice_paragraph(text: &str) -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(spacing(0, 240))
        .add_run(run(text).size(NOTE_SIZE).color(DRAFT_RED))
}

/// A bold section heading kept with what follows (議事の経過).
pub(super) fn heading(text: &str) -> Paragraph {
    Paragraph::new()
        .line_spacing(spacing(360, 120))
        .keep_next(true)
        .add_run(run(text).bold())
}

/// A boxed red 「案」 at the right of every page header.
fn draft_mark() -> Header {
    Header::new().add_paragraph(
        Paragraph::new().align(AlignmentType::Right).add_run(
            run("案")
                .size(MARK_SIZE)
                .bold()
                .color(DRAFT_RED)
                .text_border(
                    TextBorder::new()
                        .border_type(BorderType::Single)
                        .size(12)
                        .space(2)
                        .color(DRAFT_RED),
                ),
        ),
    )
}

/// `- 1 -` centred, with a live PAGE field.
fn page_number_footer() -> Footer {
    Footer::new().add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .fonts(fonts())
            .add_run(run("- "))
            .add_page_num(PageNum::new())
            .add_run(run(" -")),
    )
}

pub(super) fn header_table(minutes: &Minutes) -> Table {
    let rows = header_rows(minutes)
        .into_iter()
        .map(|(label, lines)| form_row(label_cell(label), value_cell(&lines)))
        .collect();
    form_table(rows)
}

/// A label/value row at least [`ROW_MIN_HEIGHT`] high, never split across pages.
pub(super) fn form_row(label: TableCell, value: TableCell) -> TableRow {
    TableRow::new(vec![label, value])
        .row_height(ROW_MIN_HEIGHT)
        .height_rule(HeightRule::AtLeast)
        .cant_split()
}

/// The two-column form table: label and value columns, a thick outer and thin inner rules.
pub(super) fn form_table(rows: Vec<TableRow>) -> Table {
    let outer = |pos| {
        TableBorder::new(pos)
            .border_type(BorderType::Single)
            .size(12)
    };
    let inner = |pos| {
        TableBorder::new(pos)
            .border_type(BorderType::Single)
            .size(4)
    };
    Table::new(rows)
        .set_grid(vec![LABEL_WIDTH, VALUE_WIDTH])
        .width(TEXT_WIDTH, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
        .set_borders(
            TableBorders::with_empty()
                .set(outer(TableBorderPosition::Top))
                .set(outer(TableBorderPosition::Bottom))
                .set(outer(TableBorderPosition::Left))
                .set(outer(TableBorderPosition::Right))
                .set(inner(TableBorderPosition::InsideH))
                .set(inner(TableBorderPosition::InsideV)),
        )
}

pub(super) fn label_cell(label: &str) -> TableCell {
    let cell = TableCell::new()
        .width(LABEL_WIDTH, WidthType::Dxa)
        .vertical_align(VAlignType::Center)
        .shading(Shading::new().fill(LABEL_FILL));
    // Labels are spread over the cell (均等割付) as on printed forms.
    let cell = cell.add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Distribute)
            .add_run(run(label)),
    );
    if label == "議題" {
        cell.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .add_run(run("（本日の会議に付した事件）").size(SMALL_SIZE)),
        )
    } else {
        cell
    }
}

pub(super) fn value_cell(lines: &[String]) -> TableCell {
    let cell = TableCell::new()
        .width(VALUE_WIDTH, WidthType::Dxa)
        .vertical_align(VAlignType::Center);
    if lines.is_empty() {
        // A cell needs one paragraph; leaving it empty is the clerk's cue to fill it in.
        return cell.add_paragraph(Paragraph::new());
    }
    lines.iter().fold(cell, |cell, line| {
        cell.add_paragraph(Paragraph::new().add_run(run(line)))
    })
}

/// `word/fontTable.xml` declaring the fonts the document uses, with fallbacks.
const FONT_TABLE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
    r#"<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" "#,
    r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">"#,
    r#"<w:font w:name="游明朝"><w:altName w:val="ＭＳ 明朝"/>"#,
    r#"<w:panose1 w:val="02020400000000000000"/><w:charset w:val="80"/>"#,
    r#"<w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>"#,
    r#"<w:font w:name="ＭＳ 明朝"><w:altName w:val="MS Mincho"/>"#,
    r#"<w:panose1 w:val="02020609040205080304"/><w:charset w:val="80"/>"#,
    r#"<w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>"#,
    r#"<w:font w:name="Times New Roman"><w:charset w:val="00"/>"#,
    r#"<w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>"#,
    r#"</w:fonts>"#
);

/// Japanese as the East Asian language of the document defaults (line breaking rules,
/// font choice in viewers that lack 游明朝).
const LANG: &str = r#"<w:lang w:val="en-US" w:eastAsia="ja-JP" w:bidi="ar-SA"/>"#;

/// Copies the package, replacing the font table and adding `w:lang` to the run defaults.
/// If docx-rs ever writes the defaults differently the language is skipped with a warning:
/// the document is still valid, only without the hint.
fn finish_package(docx: &[u8]) -> Result<Vec<u8>, ExportError> {
    rewrite_parts(
        docx,
        |name| matches!(name, "word/fontTable.xml" | "word/styles.xml"),
        |name, xml| match name {
            "word/fontTable.xml" => FONT_TABLE.to_string(),
            _ => add_default_lang(&xml),
        },
    )
    .map_err(|e| ExportError::Docx {
        source: Box::new(e),
    })
}

/// Copies a package, passing the text of the parts `wanted` picks through `edit` (part name,
/// text) and copying the others unchanged (still compressed).
pub(super) fn rewrite_parts(
    docx: &[u8],
    wanted: impl Fn(&str) -> bool,
    mut edit: impl FnMut(&str, String) -> String,
) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut input = zip::ZipArchive::new(Cursor::new(docx))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..input.len() {
        let mut entry = input.by_index(i)?;
        let name = entry.name().to_string();
        if wanted(&name) {
            let mut xml = String::new();
            entry.read_to_string(&mut xml)?;
            let xml = edit(&name, xml);
            out.start_file(name, options)?;
            out.write_all(xml.as_bytes())?;
        } else {
            drop(entry);
            out.raw_copy_file(input.by_index_raw(i)?)?;
        }
    }
    Ok(out.finish()?.into_inner())
}

fn add_default_lang(styles: &str) -> String {
    // w:lang comes late in the schema's rPr sequence, so it goes last.
    const CLOSE: &str = "</w:rPr></w:rPrDefault>";
    match styles.find(CLOSE) {
        Some(at) if !styles.contains("<w:lang ") => {
            format!("{}{LANG}{}", &styles[..at], &styles[at..])
        }
        _ => {
            tracing::warn!("DOCX styles: run defaults not found, East Asian language not set");
            styles.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{test_data, write, Format};
    use super::*;

    fn part(docx: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// Paragraph texts of a WordprocessingML part, one line per `<w:p>`, cells in order.
    fn plain_text(xml: &str) -> String {
        let mut out = String::new();
        let mut rest = xml;
        while let Some(i) = rest.find('<') {
            let Some(j) = rest[i..].find('>') else { break };
            let tag = &rest[i + 1..i + j];
            rest = &rest[i + j + 1..];
            if tag.starts_with("w:t ") || tag == "w:t" {
                let end = rest.find("</w:t>").unwrap();
                out.push_str(&unescape(&rest[..end]));
                rest = &rest[end..];
            } else if tag == "/w:p" {
                out.push('\n');
            }
        }
        out
    }

    fn render_sample() -> Vec<u8> {
        let (m, t) = test_data::minutes();
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        out
    }

    #[test]
    fn document_text_snapshot() {
        let doc = part(&render_sample(), "word/document.xml");
        let want = "\
総務常任委員会記録
この会議録は音声認識による下書き（案）です。内容を確認のうえ修正してください。
会議名
総務常任委員会
開催日時
令和7年11月25日(火) 午後3時45分～午後4時49分
場所
第1委員会室
出席者
委員長　山田太郎
委員　佐藤花子
委員　田中次郎
欠席者

説明員・事務局
【説明員】
総務部　総務課長　鈴木一郎
【事務局】
議事係長　高橋
議題
（本日の会議に付した事件）
議案第1号 一関市税条例の一部を改正する条例
所管事務調査 防災行政について
議事の経過
委員長 : ただいまから総務常任委員会を開会します。議案第1号を議題とします。当局の説明を求めます。
総務課長 : それでは議案第1号についてご説明いたします。
話者3 : 質疑はありませんか。
";
        assert_eq!(plain_text(&doc), want);
    }

    #[test]
    fn layout_fonts_and_marks() {
        let docx = render_sample();
        let doc = part(&docx, "word/document.xml");
        // A4 portrait.
        assert!(doc.contains(r#"<w:pgSz w:w="11906" w:h="16838""#), "{doc}");
        // Bordered table with the label shading and the bold speaker.
        assert!(doc.contains("<w:tblBorders>"));
        assert!(doc.contains(r#"w:fill="F2F2F2""#));
        assert!(doc.contains(r#"<w:jc w:val="distribute""#));
        assert!(doc.contains(r#"w:eastAsia="游明朝""#));
        assert!(doc.contains(r#"<w:hanging"#) || doc.contains(r#"w:hanging="210""#));

        let header = part(&docx, "word/header1.xml");
        assert!(plain_text(&header).contains('案'));
        assert!(header.contains("<w:bdr "), "the mark is boxed: {header}");
        let footer = part(&docx, "word/footer1.xml");
        assert!(footer.contains("PAGE"));
        assert_eq!(plain_text(&footer), "- 1 -\n");

        let fonts = part(&docx, "word/fontTable.xml");
        assert!(fonts.contains(r#"<w:font w:name="游明朝"><w:altName w:val="ＭＳ 明朝"/>"#));
        let styles = part(&docx, "word/styles.xml");
        assert!(styles.contains(r#"w:eastAsia="ja-JP""#), "{styles}");
        assert!(styles.contains(r#"w:eastAsia="游明朝""#));
    }

    #[test]
    fn output_is_deterministic() {
        assert!(render_sample() == render_sample());
    }

    #[test]
    fn blank_header_and_default_title() {
        let (m, t) = test_data::bare_minutes();
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        let text = plain_text(&part(&out, "word/document.xml"));
        assert!(text.starts_with("会議録\n"), "{text}");
        assert!(text.contains("会議名\n\n開催日時\n\n場所\n\n"), "{text}");
        assert!(
            text.ends_with("議事の経過\n発言者 : 開会します。\n"),
            "{text}"
        );
    }

    #[test]
    fn text_is_escaped() {
        let (mut m, t) = test_data::minutes();
        m.turns[0].text = "A<B & \"C\"".into();
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        let doc = part(&out, "word/document.xml");
        assert!(plain_text(&doc).contains("委員長 : A<B & \"C\""));
    }

    #[test]
    fn marks_show_as_stars_with_a_count() {
        let (mut m, t) = test_data::minutes();
        // ただいまから総務常任委員会を開会します。…: mark 総務 and 開会.
        m.turns[0].marks = vec![Mark { start: 6, end: 8 }, Mark { start: 14, end: 16 }];
        m.turns[1].marks = vec![
            Mark { start: 0, end: 4 },
            Mark {
                start: 900,
                end: 901,
            },
        ];
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        let doc = part(&out, "word/document.xml");
        let text = plain_text(&doc);
        assert!(
            text.contains("委員長 : ただいまから★総務常任委員会を★開会します。"),
            "{text}"
        );
        assert!(text.contains("総務課長 : ★それでは議案第1号"), "{text}");
        // The out-of-range mark is neither shown nor counted.
        assert!(
            text.contains("★印は音声認識の確度が低い箇所です（3箇所）。\n会議名"),
            "{text}"
        );
        assert!(doc.contains(r#"<w:color w:val="C00000""#));

        m.mark_style = MarkStyle::Highlight;
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        let doc = part(&out, "word/document.xml");
        let text = plain_text(&doc);
        assert!(!text.contains('★'), "{text}");
        assert!(text.contains("黄色のマーカーは音声認識の確度が低い箇所です（3箇所）。"));
        assert!(
            doc.contains(r#"<w:highlight w:val="yellow" />"#)
                || doc.contains(r#"<w:highlight w:val="yellow"/>"#),
            "{doc}"
        );

        // No marks, no notice.
        let (m, t) = test_data::minutes();
        let mut out = Vec::new();
        write(&m, &t, Format::Docx, &mut out).unwrap();
        assert!(!plain_text(&part(&out, "word/document.xml")).contains("確度"));
    }

    /// Writes a sample for eyeballing (not a check): `cargo test --release --lib
    /// sample_file_when_asked -- --ignored` writes $GIJIROKU_DOCX_SAMPLE, else
    /// gijiroku-sample.docx in the temporary folder.
    #[test]
    #[ignore = "writes a DOCX for eyeballing; run with --ignored"]
    fn sample_file_when_asked() {
        let path = std::env::var_os("GIJIROKU_DOCX_SAMPLE").map_or_else(
            || std::env::temp_dir().join("gijiroku-sample.docx"),
            Into::into,
        );
        {
            let (mut m, t) = test_data::minutes();
            let long = "本案は、地方税法の一部改正に伴い、個人の市民税に係る規定を整備するものであります。"
                .repeat(6);
            for i in 0..30 {
                m.turns.push(crate::minutes::Turn {
                    span: m.turns[0].span,
                    speaker: if i % 2 == 0 {
                        "委員長".into()
                    } else {
                        "総務課長".into()
                    },
                    text: long.clone(),
                    confidence: 0.9,
                    marks: vec![crate::types::Mark { start: 4, end: 9 }],
                    reviewed: false,
                });
            }
            let mut out = Vec::new();
            write(&m, &t, Format::Docx, &mut out).unwrap();
            std::fs::write(&path, out).unwrap();
            eprintln!("wrote {}", path.display());
        }
    }
}
