//! The reviewed JSON on disk: revisions, atomic saves with a backup, and DOCX exports
//! drafted from what is saved.

use std::path::{Path, PathBuf};

use crate::export::{self, Format, JsonDocument, Template};
use crate::output::write_atomic;

use super::ReviewError;

/// A document's version as the page knows it: the SHA-256 of the file's bytes, so a save
/// by any other writer (a second tab, `relabel`) is noticed.
pub type Revision = String;

/// The JSON file being reviewed.
#[derive(Debug)]
pub struct Store {
    json: PathBuf,
}

/// What a DOCX export produced.
#[derive(Debug, Clone)]
pub struct Exported {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl Store {
    pub fn new(json: &Path) -> Store {
        Store {
            json: json.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.json
    }

    /// The document and its revision as they are on disk now.
    pub fn load(&self) -> Result<(JsonDocument, Revision), ReviewError> {
        let bytes = std::fs::read(&self.json).map_err(|source| ReviewError::Read {
            path: self.json.clone(),
            source,
        })?;
        let doc = export::read_json(bytes.as_slice()).map_err(|source| ReviewError::Json {
            path: self.json.clone(),
            source,
        })?;
        Ok((doc, revision_of(&bytes)))
    }

    /// Saves `edited` if the file is still at `base`; returns the new revision. The file as
    /// it was goes to `<json>.bak` first, and the new one replaces it atomically, so a crash
    /// at any point leaves one complete version at the JSON path.
    pub fn save(&self, base: &str, edited: JsonDocument) -> Result<Revision, ReviewError> {
        let current = std::fs::read(&self.json).map_err(|source| ReviewError::Read {
            path: self.json.clone(),
            source,
        })?;
        if revision_of(&current) != base {
            return Err(ReviewError::Conflict {
                path: self.json.clone(),
            });
        }
        let previous =
            export::read_json(current.as_slice()).map_err(|source| ReviewError::Json {
                path: self.json.clone(),
                source,
            })?;
        let doc = normalise(edited, &previous).map_err(|detail| ReviewError::BadEdit { detail })?;
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| ReviewError::BadEdit {
            detail: e.to_string(),
        })?;
        bytes.push(b'\n');
        if bytes == current {
            return Ok(base.to_string());
        }
        write_atomic(&backup_path(&self.json), true, |w| w.write_all(&current))?;
        write_atomic(&self.json, true, |w| w.write_all(&bytes))?;
        Ok(revision_of(&bytes))
    }

    /// Drafts `template` from the saved JSON and writes it beside it (`会議.docx`,
    /// `会議-復命書.docx` …); an existing file is replaced only with `overwrite`.
    pub fn export(&self, template: &Template, overwrite: bool) -> Result<Exported, ReviewError> {
        let (doc, _) = self.load()?;
        let path = export_path(&self.json, template);
        if !overwrite && path.exists() {
            return Err(ReviewError::Exists { path });
        }
        let (minutes, transcript) = doc.redraft(&doc.meeting);
        let mut bytes = Vec::new();
        export::write_with(&minutes, &transcript, Format::Docx, template, &mut bytes).map_err(
            |source| ReviewError::Export {
                path: path.clone(),
                source,
            },
        )?;
        write_atomic(&path, overwrite, |w| w.write_all(&bytes))?;
        Ok(Exported { path, bytes })
    }
}

/// `会議.json` → `会議.json.bak`.
pub fn backup_path(json: &Path) -> PathBuf {
    let mut name = json.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    json.with_file_name(name)
}

/// Where an export of `template` goes: the 会議録 where `transcribe` puts it, the others
/// under their own names so they do not replace it.
pub fn export_path(json: &Path, template: &Template) -> PathBuf {
    let stem = json
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "会議".into());
    let name = match template {
        Template::Kaigiroku => format!("{stem}.docx"),
        Template::Fukumeisho => format!("{stem}-復命書.docx"),
        Template::Yoshi => format!("{stem}-要旨.docx"),
        Template::Form(_) => format!("{stem}-様式.docx"),
    };
    json.with_file_name(name)
}

fn revision_of(bytes: &[u8]) -> Revision {
    crate::types::sha256_hex(bytes)
}

/// The page's edit made whole: checked, then drafted again so `turns`, the display names
/// and the speaker fields agree with the edited segments and names. What the page does not
/// edit (model, speaker turns, markers, the recording) comes from the file, and a voice
/// whose name the reviewer changed is recorded as renamed by hand.
fn normalise(edited: JsonDocument, previous: &JsonDocument) -> Result<JsonDocument, String> {
    if !edited.labels.is_empty() && edited.labels.len() != edited.segments.len() {
        return Err(format!(
            "labels ({}) and segments ({}) differ in number",
            edited.labels.len(),
            edited.segments.len()
        ));
    }
    for (i, s) in edited.segments.iter().enumerate() {
        if !(s.start.is_finite() && s.end.is_finite() && s.start >= 0.0 && s.end >= s.start) {
            return Err(format!("segment {i}: bad times {}..{}", s.start, s.end));
        }
    }
    let mut doc = JsonDocument {
        model: previous.model.clone(),
        audio_seconds: previous.audio_seconds,
        speaker_turns: previous.speaker_turns.clone(),
        mark_style: previous.mark_style,
        markers: previous.markers.clone(),
        audio: previous.audio.clone(),
        voices: previous.voices.clone(),
        ..edited
    };
    // Marks point into the text: keep only those still inside it.
    for s in &mut doc.segments {
        let len = s.text.chars().count();
        s.marks.retain(|m| m.start < m.end && m.end <= len);
    }
    let renamed: Vec<(String, String)> = doc
        .meeting
        .speaker_names
        .iter()
        .filter(|(label, name)| previous.meeting.speaker_names.get(*label) != Some(*name))
        .map(|(l, n)| (l.clone(), n.clone()))
        .collect();
    for (label, name) in renamed {
        crate::pipeline::set_voice(&mut doc.voices, &label, &name, crate::naming::How::Relabel);
    }
    let (minutes, transcript) = doc.redraft(&doc.meeting);
    let minutes = minutes.with_voices(doc.voices.clone());
    Ok(JsonDocument::new(&minutes, &transcript))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JsonDocument {
        let (m, t) = crate::export::test_data::minutes();
        JsonDocument::new(&m, &t)
    }

    fn stored(dir: &Path) -> Store {
        let json = dir.join("会議.json");
        std::fs::write(&json, serde_json::to_vec_pretty(&sample()).unwrap()).unwrap();
        Store::new(&json)
    }

    #[test]
    fn save_keeps_backup_and_moves_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path());
        let (mut doc, rev) = store.load().unwrap();
        let before = std::fs::read(store.path()).unwrap();
        doc.segments[0].text = "直した文です。".into();
        let rev2 = store.save(&rev, doc).unwrap();
        assert_ne!(rev, rev2);
        assert_eq!(std::fs::read(backup_path(store.path())).unwrap(), before);
        let (saved, rev3) = store.load().unwrap();
        assert_eq!(rev3, rev2);
        assert_eq!(saved.segments[0].text, "直した文です。");
        assert!(saved.turns[0].text.starts_with("直した文です。"));
        // The recogniser's text stays.
        assert_eq!(saved.segments[0].raw_text, sample().segments[0].raw_text);
    }

    #[test]
    fn stale_revision_is_a_conflict_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path());
        let (doc, rev) = store.load().unwrap();
        let mut first = doc.clone();
        first.segments[0].text = "一つ目のタブ。".into();
        store.save(&rev, first).unwrap();
        let on_disk = std::fs::read(store.path()).unwrap();
        let mut second = doc;
        second.segments[0].text = "二つ目のタブ。".into();
        let err = store.save(&rev, second).unwrap_err();
        assert!(matches!(err, ReviewError::Conflict { .. }), "{err}");
        assert_eq!(std::fs::read(store.path()).unwrap(), on_disk);
    }

    #[test]
    fn rename_split_and_reviewed_survive_a_redraft() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path());
        let (mut doc, rev) = store.load().unwrap();
        let label = doc.labels[0].clone();
        doc.meeting
            .speaker_names
            .insert(label.clone(), "議長".into());
        // Segment 1 continues segment 0's turn; force a break and mark it reviewed.
        doc.segments[1].new_turn = Some(true);
        doc.segments[1].reviewed = true;
        let turns_before = doc.turns.len();
        store.save(&rev, doc).unwrap();
        let (saved, _) = store.load().unwrap();
        assert_eq!(saved.segments[0].speaker, "議長");
        assert_eq!(saved.turns.len(), turns_before + 1);
        assert!(saved.turns[1].reviewed);
        let voice = saved.voices.iter().find(|v| v.label == label).unwrap();
        assert_eq!(voice.how, crate::naming::How::Relabel);
    }

    #[test]
    fn mismatched_labels_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path());
        let (mut doc, rev) = store.load().unwrap();
        doc.labels.pop();
        assert!(matches!(
            store.save(&rev, doc),
            Err(ReviewError::BadEdit { .. })
        ));
    }

    #[test]
    fn export_refuses_to_overwrite_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = stored(dir.path());
        let out = store.export(&Template::Kaigiroku, false).unwrap();
        assert_eq!(out.path, dir.path().join("会議.docx"));
        assert!(out.bytes.starts_with(b"PK"));
        assert!(matches!(
            store.export(&Template::Kaigiroku, false),
            Err(ReviewError::Exists { .. })
        ));
        store.export(&Template::Kaigiroku, true).unwrap();
        let fuku = store.export(&Template::Fukumeisho, false).unwrap();
        assert_eq!(fuku.path, dir.path().join("会議-復命書.docx"));
    }
}
