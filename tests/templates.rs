//! The DOCX templates without Whisper: minutes are built from a JSON run written in code, then
//! each layout (会議録, 復命書, 要旨, the office's own form) is rendered, read back from
//! `word/document.xml` and checked field by field; `gijiroku share` is run on the same JSON.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use assert_cmd::Command;
use gijiroku::export::{self, Template};
use gijiroku::minutes::{self, Minutes, MinutesConfig};
use gijiroku::Transcript;

/// A finished run as `transcribe` writes it: segments with raw labels, the meeting sheet
/// (with its [復命書] table) embedded.
const RUN_JSON: &str = r#"{
  "segments": [
    {"start": 1.0, "end": 4.0, "speaker": "委員長", "text": "ただいまから総務常任委員会を開会します。", "confidence": 0.9},
    {"start": 4.0, "end": 7.0, "speaker": "委員長", "text": "はい、よろしくお願いします。", "confidence": 0.9},
    {"start": 7.5, "end": 15.0, "speaker": "総務課長", "text": "防災行政無線のデジタル化事業は令和8年度までに完了する予定です", "confidence": 0.8},
    {"start": 15.0, "end": 20.0, "speaker": "総務課長", "text": "事業費は総額3億2000万円を見込んでおります。以上です。", "confidence": 0.8},
    {"start": 21.0, "end": 23.0, "speaker": "委員", "text": "ありがとうございます。", "confidence": 0.9}
  ],
  "labels": ["話者1", "話者1", "話者2", "話者2", "話者3"],
  "meeting": {
    "会議名": "総務常任委員会",
    "開始": "2025-11-25T15:45:00",
    "終了": "2025-11-25T16:49:00",
    "場所": "第1委員会室",
    "議題": ["所管事務調査 防災行政について"],
    "出席者": [{"所属": "", "職": "委員長", "氏名": "山田太郎"}, {"所属": "", "職": "委員", "氏名": "佐藤花子"}],
    "欠席者": [],
    "説明員": [{"所属": "総務部", "職": "総務課長", "氏名": "鈴木一郎"}],
    "事務局": [{"所属": "", "職": "議事係長", "氏名": "高橋"}],
    "話者": {"話者1": "委員長", "話者2": "総務課長", "話者3": "委員"},
    "復命書": {"作成日": "2025-11-26", "宛先": "総務部長", "添付資料": ["会議資料一式"]}
  },
  "model": "base",
  "audio_seconds": 3840.0
}"#;

fn minutes_from_json() -> (Minutes, Transcript) {
    let doc = export::read_json(RUN_JSON.as_bytes()).unwrap();
    let transcript = doc.transcript();
    let m = minutes::draft(&transcript, &doc.meeting, &MinutesConfig::default());
    (m, transcript)
}

/// Renders `template` into a file (the shared test helpers read files) and returns the text
/// of `word/document.xml`, one line per paragraph.
fn render_text(template: &Template, dir: &Path) -> String {
    let (m, t) = minutes_from_json();
    let docx = export::render_docx(&m, &t, template).unwrap();
    let path = dir.join("out.docx");
    std::fs::write(&path, docx).unwrap();
    common::docx_text(&path)
}

fn assert_contains_all(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn kaigiroku_is_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let text = render_text(&Template::Kaigiroku, dir.path());
    assert_contains_all(
        &text,
        &[
            "総務常任委員会記録\n",
            "開催日時\n令和7年11月25日(火) 午後3時45分～午後4時49分\n",
            "議事の経過\n",
            "はい、よろしくお願いします。",
            "委員 : ありがとうございます。",
        ],
    );
}

#[test]
fn fukumeisho_fields() {
    let dir = tempfile::tempdir().unwrap();
    let text = render_text(&Template::Fukumeisho, dir.path());
    assert_contains_all(
        &text,
        &[
            "復　命　書\n",
            "令和7年11月26日\n総務部長　様\n",
            "所属　\n職名　\n氏名　\n",
            "記\n件名\n総務常任委員会への出席について\n",
            "日時\n令和7年11月25日(火) 午後3時45分～午後4時49分\n",
            "場所\n第1委員会室\n",
            "出席者\n委員長　山田太郎、委員　佐藤花子\n（説明員）総務部　総務課長　鈴木一郎\n",
            "内容\n○委員長\n・ただいまから総務常任委員会を開会します。\n\
             ○総務課長\n・防災行政無線のデジタル化事業は令和8年度までに完了する予定です。\n\
             ・事業費は総額3億2000万円を見込んでおります。\n所感\n",
            "添付資料\n会議資料一式\n",
        ],
    );
    // Abridged: greetings and fillers are gone, the filler-only turn too.
    assert!(!text.contains("よろしくお願いします"), "{text}");
    assert!(!text.contains("○委員\n"), "{text}");
}

#[test]
fn yoshi_bullets() {
    let dir = tempfile::tempdir().unwrap();
    let text = render_text(&Template::Yoshi, dir.path());
    assert_contains_all(
        &text,
        &[
            "総務常任委員会記録（要旨）\n",
            "議題\n（本日の会議に付した事件）\n所管事務調査 防災行政について\n",
            "議事の概要\n○委員長\n・ただいまから総務常任委員会を開会します。\n○総務課長\n",
        ],
    );
    assert!(!text.contains("以上です"), "{text}");
}

/// A minimal package around `body` with a header; enough for Word and LibreOffice.
fn write_form(path: &Path, body: &str, header: &str) {
    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_string(),
        ),
        (
            "word/_rels/document.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdH" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/></Relationships>"#.to_string(),
        ),
        (
            "word/document.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:document {NS}><w:body>{body}<w:sectPr><w:headerReference w:type="default" r:id="rIdH"/><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>"#),
        ),
        (
            "word/header1.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:hdr {NS}>{header}</w:hdr>"#),
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

fn part_xml(docx: &Path, part: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(docx).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name(part).unwrap().read_to_string(&mut xml).unwrap();
    xml
}

#[test]
fn form_placeholder_split_across_three_runs() {
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("様式.docx");
    // As Word saves `{{会議名}}` typed with a spell-check mark in the middle: three runs, the
    // first one bold and red.
    let body = r#"<w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:b/><w:color w:val="FF0000"/></w:rPr><w:t>{{</w:t></w:r><w:proofErr w:type="spellStart"/><w:r><w:rPr><w:i/></w:rPr><w:t>会議</w:t></w:r><w:proofErr w:type="spellEnd"/><w:r><w:t>名}}</w:t></w:r><w:r><w:t xml:space="preserve"> 報告</w:t></w:r></w:p><w:p><w:r><w:t>日時：{{日時}}</w:t></w:r></w:p><w:p><w:pPr><w:ind w:left="420"/></w:pPr><w:r><w:rPr><w:sz w:val="20"/></w:rPr><w:t>{{本文}}</w:t></w:r></w:p><w:p><w:r><w:t>{{担当課}}</w:t></w:r></w:p>"#;
    let header = r#"<w:p><w:r><w:t>{{会</w:t></w:r><w:r><w:t>議名}}</w:t></w:r></w:p>"#;
    write_form(&form, body, header);

    let template: Template = form.to_str().unwrap().parse().unwrap();
    template.check().unwrap();
    let (m, t) = minutes_from_json();
    let out = dir.path().join("filled.docx");
    std::fs::write(&out, export::render_docx(&m, &t, &template).unwrap()).unwrap();

    let text = common::docx_text(&out);
    assert_eq!(
        text,
        "総務常任委員会 報告\n\
         日時：令和7年11月25日(火) 午後3時45分～午後4時49分\n\
         委員長 : ただいまから総務常任委員会を開会します。はい、よろしくお願いします。\n\
         総務課長 : 防災行政無線のデジタル化事業は令和8年度までに完了する予定です事業費は総額3億2000万円を見込んでおります。以上です。\n\
         委員 : ありがとうございます。\n\
         {{担当課}}\n"
    );
    let xml = part_xml(&out, "word/document.xml");
    // The value sits in the first run with its formatting; the other runs lost their pieces.
    assert!(
        xml.contains(r#"<w:rPr><w:b/><w:color w:val="FF0000"/></w:rPr><w:t xml:space="preserve">総務常任委員会</w:t>"#),
        "{xml}"
    );
    assert!(
        !xml.contains("会議</w:t>") && !xml.contains("名}}"),
        "{xml}"
    );
    // One paragraph per turn, each with the placeholder paragraph's indent and run size.
    assert_eq!(xml.matches(r#"<w:ind w:left="420"/>"#).count(), 3);
    assert_eq!(xml.matches(r#"<w:sz w:val="20"/>"#).count(), 3);
    assert_eq!(
        common::docx_part_text(&out, "word/header1.xml"),
        "総務常任委員会\n"
    );
}

#[test]
fn office_form_made_with_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let form = common::fixture("forms/fukumeisho-form.docx");
    let template = Template::Form(form);
    template.check().unwrap();
    let (mut m, t) = minutes_from_json();
    m.meeting.report.reporter = m.meeting.attendees[1].clone();
    let out = dir.path().join("filled.docx");
    std::fs::write(&out, export::render_docx(&m, &t, &template).unwrap()).unwrap();
    let text = common::docx_text(&out);
    assert_contains_all(
        &text,
        &[
            "令和7年11月26日\n総務部長　様\n復命者　委員　佐藤花子\n",
            "件名\n総務常任委員会への出席について\n",
            "出席者\n委員長　山田太郎\n委員　佐藤花子\n内容\n○委員長\n",
            "添付資料\n会議資料一式\n担当\n{{担当課}}\n",
        ],
    );
    // LibreOffice puts a line break after the XML declaration; the text is what counts.
    assert_eq!(
        common::docx_part_text(&out, "word/footer1.xml").trim(),
        "総務常任委員会　復命書"
    );
    // Every part the filler does not touch is as the editor wrote it.
    for part in ["word/styles.xml", "word/settings.xml", "word/fontTable.xml"] {
        assert_eq!(
            part_xml(&out, part),
            part_xml(&common::fixture("forms/fukumeisho-form.docx"), part)
        );
    }
}

#[test]
fn bad_template_names() {
    let err = "report".parse::<Template>().unwrap_err().to_string();
    assert!(err.contains("kaigiroku, fukumeisho, yoshi"), "{err}");
    let missing = Template::Form("nai/様式.docx".into());
    let err = missing.check().unwrap_err().to_string();
    assert!(err.contains("様式.docx"), "{err}");
}

fn gijiroku() -> Command {
    // Not common::gijiroku(): `share` needs no models, so none are installed for this.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gijiroku"));
    cmd.env_remove("GIJIROKU_LOG");
    cmd
}

#[test]
fn share_makes_a_folder_and_zip_per_attendee() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("委員会.json");
    std::fs::write(&json, RUN_JSON).unwrap();
    let out = dir.path().join("配布");
    let run = gijiroku()
        .arg("share")
        .arg(&json)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let folder = out.join("委員会-共有");
    let want = [
        "会議録_委員会.docx",
        "復命書_佐藤花子.docx",
        "復命書_山田太郎.docx",
        "復命書_鈴木一郎.docx",
    ];
    assert_eq!(common::files_in(&folder), want);
    for (file, who) in [
        ("復命書_山田太郎.docx", "氏名　山田太郎\n"),
        ("復命書_佐藤花子.docx", "氏名　佐藤花子\n"),
        (
            "復命書_鈴木一郎.docx",
            "所属　総務部\n職名　総務課長\n氏名　鈴木一郎\n",
        ),
    ] {
        let text = common::docx_text(&folder.join(file));
        assert!(text.contains(who), "{file}: {text}");
        assert!(text.contains("総務部長　様\n"), "{file}: {text}");
    }
    assert!(common::docx_text(&folder.join("会議録_委員会.docx")).contains("議事の経過\n"));

    let zip_path = out.join("委員会-共有.zip");
    let zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names: Vec<&str> = zip.file_names().collect();
    names.sort_unstable();
    let mut expect: Vec<String> = want.iter().map(|f| format!("委員会-共有/{f}")).collect();
    expect.sort();
    assert_eq!(names, expect);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("委員会-共有.zip"), "{stdout}");

    // Again: refused without --force, done with it.
    let again = gijiroku()
        .arg("share")
        .arg(&json)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    gijiroku()
        .arg("share")
        .arg(&json)
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
}

#[test]
fn share_with_a_new_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("会議.json");
    std::fs::write(&json, RUN_JSON).unwrap();
    let sheet = dir.path().join("会議.toml");
    std::fs::write(
        &sheet,
        "会議名 = \"部長会議\"\n出席者 = [\"企画部長 田中次郎\"]\n[復命書]\n宛先 = \"市長\"\n",
    )
    .unwrap();
    gijiroku()
        .arg("share")
        .arg(&json)
        .arg("--meeting")
        .arg(&sheet)
        .assert()
        .success();
    let folder = dir.path().join("会議-共有");
    assert_eq!(
        common::files_in(&folder),
        ["会議録_会議.docx", "復命書_田中次郎.docx"]
    );
    let text = common::docx_text(&folder.join("復命書_田中次郎.docx"));
    // The sheet's names, the run's times (the new sheet has none) and speaker names.
    assert!(text.contains("市長　様\n"), "{text}");
    assert!(text.contains("件名\n部長会議への出席について\n"), "{text}");
    assert!(text.contains("令和7年11月25日(火) 午後3時45分"), "{text}");
    assert!(text.contains("○総務課長\n"), "{text}");

    // Nobody to write for: a clear error, nothing written.
    std::fs::write(&sheet, "会議名 = \"部長会議\"\n").unwrap();
    let run = gijiroku()
        .arg("share")
        .arg(&json)
        .arg("--meeting")
        .arg(&sheet)
        .arg("-o")
        .arg(dir.path().join("empty"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("出席者"));
    assert!(!dir.path().join("empty").exists());
}

/// Writes every layout with a long discussion for eyeballing (LibreOffice → PDF → PNG); not a
/// check: `cargo test --release --test templates samples -- --ignored` writes into
/// $GIJIROKU_TEMPLATE_SAMPLES, else gijiroku-template-samples in the temporary folder.
#[test]
#[ignore = "writes samples for eyeballing; run with --ignored"]
fn samples_when_asked() {
    let dir = std::env::var_os("GIJIROKU_TEMPLATE_SAMPLES").map_or_else(
        || std::env::temp_dir().join("gijiroku-template-samples"),
        std::path::PathBuf::from,
    );
    let dir = dir.as_path();
    std::fs::create_dir_all(dir).unwrap();
    let (mut m, t) = minutes_from_json();
    m.meeting.report.reporter = m.meeting.explainers[0].clone();
    let long = "本案は、地方税法の一部改正に伴い、個人の市民税に係る規定を整備するものであります。\
                施行期日は令和8年4月1日とし、影響額は年間約1,250万円の減収を見込んでおります。\
                なお、経過措置として令和8年度分までは従前の例によることといたします。";
    let base = m.turns.clone();
    for i in 0..12 {
        for turn in &base {
            let mut turn = turn.clone();
            if i % 2 == 1 && turn.speaker == "総務課長" {
                turn.text = long.to_string();
            }
            m.turns.push(turn);
        }
    }
    let form = common::fixture("forms/fukumeisho-form.docx");
    for (name, template) in [
        ("kaigiroku", Template::Kaigiroku),
        ("fukumeisho", Template::Fukumeisho),
        ("yoshi", Template::Yoshi),
        ("form", Template::Form(form)),
    ] {
        let docx = export::render_docx(&m, &t, &template).unwrap();
        std::fs::write(dir.join(format!("{name}.docx")), docx).unwrap();
    }
}
