//! The 復命書 DOCX, a report to one's superior on a meeting attended: the title 復　命　書,
//! 作成日 (和暦) at the right, 宛先 (`総務部長　様`), the 復命者 (所属・職・氏名),
//! 「下記のとおり復命します。」 and 記, then a bordered table — 件名, 日時, 場所, 出席者,
//! 内容 (the discussion abridged: `○委員長` and `・` key sentences), 所感 (blank lines for the
//! author) and 添付資料.
//!
//! Values come from the meeting and its sheet's `[復命書]` table ([`Report`]); whatever is
//! missing is printed blank for the author to fill in — in particular 作成日 stays
//! `令和　　年　　月　　日` unless the sheet gives it, so the output does not depend on the
//! day it was made. [`per_attendee`] makes one report per 出席者 and 説明員 (`gijiroku share`).

use std::collections::BTreeSet;

use docx_rs::{AlignmentType, Docx, Paragraph, TableCell, TableRow, VAlignType, WidthType};

use super::docx::{
    form_row, form_table, label_cell, notice_paragraph, pack, page, run, spacing, title_paragraph,
    value_cell, TEXT_WIDTH, VALUE_WIDTH,
};
use super::yoshi::{gist_paragraphs, gists};
use super::ExportError;
use crate::minutes::wareki::{era_year, format_date};
use crate::minutes::{Meeting, Minutes, Person, Report};
use crate::types::Transcript;

const TITLE: &str = "復　命　書";
const NOTICE: &str =
    "音声認識による下書き（案）です。内容を確認し、所感を記入のうえ提出してください。";
/// Empty lines left in the 所感 cell for the author.
const IMPRESSION_LINES: usize = 6;
/// Full-width spaces standing for a blank name before 様.
const BLANK_NAME: &str = "　　　　　　　　";
/// Era printed in a blank 作成日 when the meeting date is unknown.
const CURRENT_ERA: &str = "令和";

pub(super) fn render(minutes: &Minutes, transcript: &Transcript) -> Result<Vec<u8>, ExportError> {
    pack(build(minutes, transcript))
}

fn build(minutes: &Minutes, transcript: &Transcript) -> Docx {
    let m = &minutes.meeting;
    let r = &m.report;
    let mut doc = page()
        .add_paragraph(title_paragraph(TITLE))
        .add_paragraph(notice_paragraph(NOTICE))
        .add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Right)
                .add_run(run(&written_line(m))),
        )
        .add_paragraph(
            Paragraph::new()
                .line_spacing(spacing(240, 240))
                .add_run(run(&addressee_line(r))),
        );
    // The reporter block starts at the middle of the line, as on printed forms.
    let indent = i32::try_from(TEXT_WIDTH / 2).unwrap_or(0);
    for (label, value) in [
        ("所属", &r.reporter.affiliation),
        ("職名", &r.reporter.role),
        ("氏名", &r.reporter.name),
    ] {
        doc = doc.add_paragraph(
            Paragraph::new()
                .indent(Some(indent), None, None, None)
                .add_run(run(&format!("{label}\u{3000}{}", value.trim()))),
        );
    }
    doc.add_paragraph(
        Paragraph::new()
            .line_spacing(spacing(360, 120))
            .add_run(run("\u{3000}下記のとおり復命します。")),
    )
    .add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(spacing(120, 240))
            .add_run(run("記")),
    )
    .add_table(form_table(vec![
        form_row(label_cell("件名"), value_cell(&one(&subject(m)))),
        form_row(label_cell("日時"), value_cell(&one(&m.date_range_wareki()))),
        form_row(label_cell("場所"), value_cell(&one(&m.place))),
        form_row(label_cell("出席者"), value_cell(&attendance_lines(m))),
        long_row("内容", gist_paragraphs(&gists(minutes, transcript))),
        long_row(
            "所感",
            (0..IMPRESSION_LINES).map(|_| Paragraph::new()).collect(),
        ),
        form_row(label_cell("添付資料"), value_cell(&r.attachments)),
    ]))
}

/// A row whose value may run over pages (内容) or is written by hand (所感): top-aligned,
/// allowed to split.
fn long_row(label: &str, paragraphs: Vec<Paragraph>) -> TableRow {
    let cell = TableCell::new()
        .width(VALUE_WIDTH, WidthType::Dxa)
        .vertical_align(VAlignType::Top);
    let cell = if paragraphs.is_empty() {
        cell.add_paragraph(Paragraph::new())
    } else {
        paragraphs.into_iter().fold(cell, TableCell::add_paragraph)
    };
    TableRow::new(vec![label_cell(label), cell])
}

fn one(s: &str) -> Vec<String> {
    match s.trim() {
        "" => vec![],
        t => vec![t.to_string()],
    }
}

/// 作成日: the sheet's date as `令和7年11月26日`, else a blank `令和　　年　　月　　日` in the
/// era of the meeting.
pub(super) fn written_line(meeting: &Meeting) -> String {
    match meeting.report.written {
        Some(d) => {
            let full = format_date(d);
            // Dates on letters carry no weekday: drop the trailing `(水)`.
            match full.rsplit_once('(') {
                Some((date, _)) => date.to_string(),
                None => full,
            }
        }
        None => {
            let era = meeting
                .start
                .and_then(|s| era_year(s.date()))
                .map_or(CURRENT_ERA, |(era, _)| era);
            format!("{era}\u{3000}\u{3000}年\u{3000}\u{3000}月\u{3000}\u{3000}日")
        }
    }
}

/// `総務部長　様`; 様 is not doubled and 殿 is kept; a blank addressee leaves room before 様.
pub(super) fn addressee_line(report: &Report) -> String {
    match report.addressee.trim() {
        "" => format!("{BLANK_NAME}様"),
        a if a.ends_with('様') || a.ends_with('殿') => a.to_string(),
        a => format!("{a}\u{3000}様"),
    }
}

/// The sheet's 件名, else `<会議名>への出席について`, else blank.
pub(super) fn subject(meeting: &Meeting) -> String {
    let given = meeting.report.subject.trim();
    let title = meeting.title.trim();
    if !given.is_empty() {
        given.to_string()
    } else if !title.is_empty() {
        format!("{title}への出席について")
    } else {
        String::new()
    }
}

/// 出席者 on one line (`委員長　山田太郎、委員　佐藤花子`), 説明員 on a second one.
fn attendance_lines(meeting: &Meeting) -> Vec<String> {
    let join = |people: &[Person]| {
        people
            .iter()
            .filter(|p| !p.is_empty())
            .map(Person::display)
            .collect::<Vec<_>>()
            .join("、")
    };
    let mut out = vec![join(&meeting.attendees)];
    let explainers = join(&meeting.explainers);
    if !explainers.is_empty() {
        out.push(format!("（説明員）{explainers}"));
    }
    out.retain(|l| !l.is_empty());
    out
}

/// One person's 復命書 in a `gijiroku share` handout.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonalReport {
    pub person: Person,
    /// `復命書_佐藤花子.docx`: unique within the handout and safe on Windows.
    pub file_name: String,
    pub docx: Vec<u8>,
}

/// A 復命書 for every 出席者 and 説明員 of the meeting (in sheet order), each with that person
/// as 復命者 and everything else as in the sheet. Entries without 所属, 職 or 氏名 are skipped.
pub fn per_attendee(
    minutes: &Minutes,
    transcript: &Transcript,
) -> Result<Vec<PersonalReport>, ExportError> {
    let m = &minutes.meeting;
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for person in m.attendees.iter().chain(&m.explainers) {
        if person.is_empty() {
            continue;
        }
        let mut own = minutes.clone();
        own.meeting.report.reporter = person.clone();
        out.push(PersonalReport {
            person: person.clone(),
            file_name: file_name(person, &mut taken),
            docx: render(&own, transcript)?,
        });
    }
    Ok(out)
}

/// `復命書_<氏名>.docx` (else 職, else 所属), without spaces or characters Windows forbids in
/// file names; a name already taken gets `_2`, `_3` ….
fn file_name(person: &Person, taken: &mut BTreeSet<String>) -> String {
    let base = [&person.name, &person.role, &person.affiliation]
        .into_iter()
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| match c {
                    '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
                    c if c.is_control() => '_',
                    c => c,
                })
                .collect::<String>()
                .trim_matches('.')
                .to_string()
        })
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "出席者".to_string());
    let mut name = format!("復命書_{base}.docx");
    let mut n = 1;
    while !taken.insert(name.clone()) {
        n += 1;
        name = format!("復命書_{base}_{n}.docx");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::super::template::tests::document_text;
    use super::super::{render_docx, test_data, Template};
    use super::*;
    use chrono::NaiveDate;

    fn person(affiliation: &str, role: &str, name: &str) -> Person {
        Person {
            affiliation: affiliation.into(),
            role: role.into(),
            name: name.into(),
            ..Person::default()
        }
    }

    #[test]
    fn fields_from_the_sheet() {
        let (mut m, t) = test_data::minutes();
        m.meeting.report = Report {
            written: NaiveDate::from_ymd_opt(2025, 11, 26),
            addressee: "総務部長".into(),
            reporter: person("総務部総務課", "主事", "佐藤花子"),
            subject: String::new(),
            attachments: vec!["会議資料一式".into()],
        };
        let text = document_text(&render_docx(&m, &t, &Template::Fukumeisho).unwrap());
        for want in [
            "復　命　書\n",
            "令和7年11月26日\n総務部長　様\n",
            "所属　総務部総務課\n職名　主事\n氏名　佐藤花子\n",
            "\u{3000}下記のとおり復命します。\n記\n",
            "件名\n総務常任委員会への出席について\n",
            "日時\n令和7年11月25日(火) 午後3時45分～午後4時49分\n",
            "場所\n第1委員会室\n",
            "出席者\n委員長　山田太郎、委員　佐藤花子、委員　田中次郎\n（説明員）総務部　総務課長　鈴木一郎\n",
            "内容\n○委員長\n・ただいまから総務常任委員会を開会します。\n・議案第1号を議題とします。\n○総務課長\n",
            "所感\n\n\n\n\n\n\n添付資料\n会議資料一式\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn blanks_for_the_author() {
        let (m, t) = test_data::bare_minutes();
        let text = document_text(&render_docx(&m, &t, &Template::Fukumeisho).unwrap());
        assert!(
            text.contains("令和\u{3000}\u{3000}年\u{3000}\u{3000}月\u{3000}\u{3000}日\n\u{3000}\u{3000}\u{3000}\u{3000}\u{3000}\u{3000}\u{3000}\u{3000}様\n"),
            "{text}"
        );
        assert!(text.contains("所属　\n職名　\n氏名　\n"), "{text}");
        assert!(
            text.contains("件名\n\n日時\n\n場所\n\n出席者\n\n"),
            "{text}"
        );
    }

    #[test]
    fn addressee_and_subject_rules() {
        let mut r = Report::default();
        for (given, want) in [
            ("総務部長", "総務部長　様"),
            ("総務部長 様", "総務部長 様"),
            ("市長殿", "市長殿"),
        ] {
            r.addressee = given.into();
            assert_eq!(addressee_line(&r), want);
        }
        let mut m = Meeting::default();
        assert_eq!(subject(&m), "");
        m.title = "部長会議".into();
        assert_eq!(subject(&m), "部長会議への出席について");
        m.report.subject = "研修への参加".into();
        assert_eq!(subject(&m), "研修への参加");
    }

    #[test]
    fn one_report_per_attendee_and_explainer() {
        let (mut m, t) = test_data::minutes();
        m.meeting.attendees.push(person("", "委員", "佐藤 花子"));
        m.meeting.attendees.push(Person::default());
        m.meeting.explainers.push(person("企画部", "", ""));
        let reports = per_attendee(&m, &t).unwrap();
        let names: Vec<&str> = reports.iter().map(|r| r.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "復命書_山田太郎.docx",
                "復命書_佐藤花子.docx",
                "復命書_田中次郎.docx",
                "復命書_佐藤花子_2.docx",
                "復命書_鈴木一郎.docx",
                "復命書_企画部.docx",
            ]
        );
        let text = document_text(&reports[4].docx);
        assert!(
            text.contains("所属　総務部\n職名　総務課長\n氏名　鈴木一郎\n"),
            "{text}"
        );
        let mut taken = BTreeSet::new();
        assert_eq!(
            file_name(&person("", "", "a/b:c*"), &mut taken),
            "復命書_a_b_c_.docx"
        );
    }
}
