//! `gijiroku share`: from a finished run's JSON, the handout for the people who attended —
//! one 復命書 draft per 出席者 and 説明員 (each with that person as 復命者) and the shared
//! 会議録 — as a folder `<stem>-共有/` and the same files in `<stem>-共有.zip`.
//!
//! Everything is rendered before anything is written, and each file is written atomically;
//! existing outputs are only replaced with `--force`.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{Datelike, Timelike};
use clap::Args;

use gijiroku::export::{self, Template};
use gijiroku::minutes::{Meeting, MeetingSheet};
use gijiroku::output::write_atomic;
use gijiroku::Ms;

use super::Status;

#[derive(Args, Debug)]
pub struct ShareArgs {
    /// The JSON written by `transcribe` (会議.json).
    #[arg(value_name = "JSON")]
    pub json: PathBuf,
    /// Where to put the folder and the zip (default: beside the JSON).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Meeting sheet to use instead of the one recorded in the JSON (出席者, [復命書] …).
    #[arg(long, value_name = "FILE")]
    pub meeting: Option<PathBuf>,
    /// Replace an existing handout folder's files and zip.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn run(args: &ShareArgs) -> Result<Status> {
    let sheet = args
        .meeting
        .as_deref()
        .map(MeetingSheet::load)
        .transpose()?;
    let stem = args
        .json
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .with_context(|| {
            format!(
                "{}: cannot name the handout after this file",
                args.json.display()
            )
        })?;
    let dir = match &args.output {
        Some(d) => d.clone(),
        None => args
            .json
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let name = format!("{stem}-共有");
    let folder = dir.join(&name);
    let zip_path = dir.join(format!("{name}.zip"));
    // Refuse before doing any work.
    if !args.force {
        for p in [&folder, &zip_path] {
            if p.exists() {
                bail!("{}: already exists (use --force to overwrite)", p.display());
            }
        }
    }

    let file = std::fs::File::open(&args.json)
        .with_context(|| format!("{}: cannot read", args.json.display()))?;
    let doc = export::read_json(std::io::BufReader::new(file))
        .with_context(|| format!("{}", args.json.display()))?;
    let duration = gijiroku::types::Ms((doc.audio_seconds.max(0.0) * 1000.0).round() as u64);
    let meeting = match &sheet {
        Some(s) => with_sheet(&doc.meeting, s, duration),
        None => doc.meeting.clone(),
    };
    let (minutes, transcript) = doc.redraft(&meeting);

    let reports = export::per_attendee(&minutes, &transcript)?;
    if reports.is_empty() {
        bail!(
            "{}: the meeting sheet lists no 出席者 or 説明員, so there is no one to write a 復命書 for; \
             pass --meeting 会議.toml with 出席者 = [...]",
            args.json.display()
        );
    }
    let mut files = vec![(
        format!("会議録_{stem}.docx"),
        export::render_docx(&minutes, &transcript, &Template::Kaigiroku)?,
    )];
    files.extend(reports.into_iter().map(|r| (r.file_name, r.docx)));
    let zip = zip_bytes(&name, &files)?;

    for (file, bytes) in &files {
        write_atomic(&folder.join(file), args.force, |w| w.write_all(bytes))?;
    }
    write_atomic(&zip_path, args.force, |w| w.write_all(&zip))?;
    println!("{}", folder.display());
    println!("{}", zip_path.display());
    Ok(Status::Ok)
}

/// The meeting as the sheet describes it. What the sheet leaves out of the times stays as the
/// run found them (from the recording), and speaker names it does not give stay as well.
fn with_sheet(old: &Meeting, sheet: &MeetingSheet, duration: Ms) -> Meeting {
    let mut m = Meeting::resolve(Some(sheet), None, duration);
    if sheet.start.is_none() {
        m.start = old.start;
        m.end = sheet.end.or(old.end);
    }
    for (label, name) in &old.speaker_names {
        m.speaker_names
            .entry(label.clone())
            .or_insert_with(|| name.clone());
    }
    m
}

/// The files under `folder/` in a zip. DOCX are compressed already, so they are stored.
fn zip_bytes(folder: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let now = chrono::Local::now().naive_local();
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(now.year()).unwrap_or(1980),
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(stamp);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(format!("{folder}/{name}"), options)
            .context("building the zip")?;
        zip.write_all(bytes).context("building the zip")?;
    }
    Ok(zip.finish().context("building the zip")?.into_inner())
}
