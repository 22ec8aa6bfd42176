//! Renaming speakers in a finished run without recognising again.

use std::path::{Path, PathBuf};

use crate::export::Format;
use crate::output::{write_atomic, OutputError};
use crate::types::Speaker;

/// Records in `voices` that `label` is now called `name`, and how.
pub(crate) fn set_voice(
    voices: &mut Vec<crate::naming::Voice>,
    label: &str,
    name: &str,
    how: crate::naming::How,
) {
    match voices.iter_mut().find(|v| v.label == label) {
        Some(v) => {
            v.name = Some(name.to_string());
            v.how = how;
        }
        None => voices.push(crate::naming::Voice {
            label: label.to_string(),
            name: Some(name.to_string()),
            how,
            candidates: Vec::new(),
        }),
    }
}

/// Why a relabel could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RelabelError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: crate::export::ExportError,
    },
    #[error("`{given}`: expected LABEL=NAME, e.g. 話者1=委員長")]
    Syntax { given: String },
    #[error("{}: no speaker is labelled `{label}`; labels in this file: {known}", path.display())]
    UnknownLabel {
        path: PathBuf,
        label: String,
        known: String,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Parses `話者1=委員長` arguments into (label, name) pairs.
pub fn parse_relabels(args: &[String]) -> Result<Vec<(String, String)>, RelabelError> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((l, n)) if !l.trim().is_empty() => {
                Ok((l.trim().to_string(), n.trim().to_string()))
            }
            _ => Err(RelabelError::Syntax { given: a.clone() }),
        })
        .collect()
}

/// Renames speakers in a finished run without recognising again: reads `json` (our JSON
/// export), applies `names` (raw label such as 話者1, or a name already shown, → new name),
/// and rewrites the JSON and every sibling output of the same stem that exists (DOCX, txt,
/// srt, vtt, rttm). Returns the files rewritten.
pub fn relabel(json: &Path, names: &[(String, String)]) -> Result<Vec<PathBuf>, RelabelError> {
    let file = std::fs::File::open(json).map_err(|source| RelabelError::Read {
        path: json.to_path_buf(),
        source,
    })?;
    let doc = crate::export::read_json(std::io::BufReader::new(file)).map_err(|source| {
        RelabelError::Json {
            path: json.to_path_buf(),
            source,
        }
    })?;
    let transcript = doc.transcript();
    let mut meeting = doc.meeting.clone();
    let mut voices = doc.voices.clone();
    let labels: std::collections::BTreeSet<Speaker> = transcript
        .utterances
        .iter()
        .map(|u| u.speaker.clone())
        .chain(
            doc.speaker_turns
                .iter()
                .map(|t| Speaker::from_label(&t.speaker)),
        )
        .collect();
    for (key, name) in names {
        // A key is a raw label, or the name a label is shown as now (委員長=議長).
        let as_label = Speaker::from_label(key);
        let targets: Vec<String> = if labels.contains(&as_label) {
            vec![as_label.to_string()]
        } else {
            labels
                .iter()
                .filter(|l| meeting.display_name(l) == *key)
                .map(Speaker::to_string)
                .collect()
        };
        if targets.is_empty() {
            return Err(RelabelError::UnknownLabel {
                path: json.to_path_buf(),
                label: key.clone(),
                known: labels
                    .iter()
                    .map(|l| match meeting.display_name(l) {
                        n if *l == n.as_str() => n,
                        n => format!("{l} ({n})"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        for t in targets {
            set_voice(&mut voices, &t, name, crate::naming::How::Relabel);
            meeting.speaker_names.insert(t, name.clone());
        }
    }
    let (minutes, transcript) = doc.redraft(&meeting);
    let minutes = minutes.with_voices(voices);
    let mut written = Vec::new();
    for format in Format::ALL {
        let path = json.with_extension(format.extension());
        if format != Format::Json && !path.is_file() {
            continue;
        }
        write_atomic(&path, true, |w| {
            crate::export::write(&minutes, &transcript, format, w)
        })?;
        written.push(path);
    }
    Ok(written)
}
