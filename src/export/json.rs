//! The JSON export, a contract checked by external tools ([`JsonDocument`]):
//!
//! ```json
//! {"segments":[{"start":1.23,"end":4.56,"speaker":"委員長","text":"…","confidence":0.91}],
//!  "meeting":{"会議名":"…","開始":"2025-11-25T15:45:00",…},"model":"base","audio_seconds":3840.0,
//!  "turns":[…],"labels":["話者1"],"format_version":1}
//! ```
//!
//! `segments` has one entry per transcript utterance (not per merged turn), times in seconds
//! with millisecond precision, `speaker` the display name. The extra fields are additive:
//! `turns` are the merged turns in the same shape, `labels` the raw speaker label of each
//! segment (so [`read_json`] + a new sheet can rename speakers without re-running ASR).
//! Each segment also carries `raw_text`, the recogniser's text before clean-up (ケバ取り,
//! 公用文, glossary), and, when there are any, `marks`: low-confidence stretches of `text` as
//! `{"start":3,"end":5}` character offsets (end exclusive), which a relabel keeps. Turns
//! carry their `marks` too. `voices` says how each raw label got its name:
//! `{"label":"話者2","name":"佐藤委員","how":"call","candidates":[{"name":"佐藤委員","votes":2.0,
//! "calls":[{"at":61.2,"said":"佐藤委員。"}]}]}` (`how` is `sheet`, `call`, `relabel` or
//! `unnamed`; an unnamed voice keeps its candidates for the reviewer). `audio` names the
//! recording (`{"path","seconds","bytes","sha256"}`) for `gijiroku review`; segments a
//! reviewer has checked carry `"reviewed": true`, and `"new_turn": true/false` where the
//! reviewer split or joined turns (turns carry `reviewed` when all their segments do).

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::ExportError;
use crate::minutes::{Meeting, Minutes, Turn};
use crate::types::{Mark, Ms, Span, Speaker, SpeakerTurn, Transcript, Utterance};

/// Bumped when a field changes meaning; additions do not bump it.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// One timed piece of text (a segment, or a merged turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSegment {
    /// Seconds from the start of the recording.
    pub start: f64,
    pub end: f64,
    pub speaker: String,
    pub text: String,
    pub confidence: f32,
    /// The recogniser's text before clean-up (segments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_text: Option<String>,
    /// Low-confidence stretches of `text`, as character offsets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<Mark>,
    /// Checked against the audio by a reviewer (`gijiroku review`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reviewed: bool,
    /// A reviewer's turn break (`true`) or join (`false`) before this segment (segments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_turn: Option<bool>,
}

/// The whole JSON document, as written by [`super::write`] and read by [`read_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonDocument {
    pub segments: Vec<JsonSegment>,
    #[serde(default)]
    pub meeting: Meeting,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub audio_seconds: f64,
    #[serde(default)]
    pub turns: Vec<JsonSegment>,
    /// Raw speaker label per segment (`話者1`), parallel to `segments`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Diarization's speaker turns with raw labels, finer than `segments`: what the RTTM
    /// export and a later relabel need.
    #[serde(default)]
    pub speaker_turns: Vec<JsonTurn>,
    /// How each voice (raw label) was named: `sheet`, `call`, `relabel` or `unnamed`, with
    /// the candidate names and the calls behind them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voices: Vec<crate::naming::Voice>,
    /// How the DOCX shows low-confidence words (`star`, `highlight`), so a redraft keeps it.
    #[serde(default)]
    pub mark_style: crate::minutes::MarkStyle,
    /// Points marked while recording (`{"at": seconds, "label": "…"}`), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<crate::types::Marker>,
    /// The recording: `{"path": "/abs/会議.wav", "seconds": 3840.0, "bytes": 122880044,
    /// "sha256": "…"}`, so `gijiroku review` can play it and notice a different file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<crate::types::AudioSource>,
    #[serde(default = "default_version")]
    pub format_version: u32,
}

/// One diarization turn: seconds and the raw label (`話者1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonTurn {
    pub start: f64,
    pub end: f64,
    pub speaker: String,
}

fn default_version() -> u32 {
    JSON_FORMAT_VERSION
}

/// Milliseconds to seconds, rounded to whole milliseconds.
fn secs(ms: Ms) -> f64 {
    ms.as_secs_f64()
}

fn to_ms(secs: f64) -> Ms {
    if secs.is_finite() && secs > 0.0 {
        Ms((secs * 1000.0).round() as u64)
    } else {
        Ms(0)
    }
}

fn turn_entry(t: &Turn) -> JsonSegment {
    JsonSegment {
        start: secs(t.span.start),
        end: secs(t.span.end),
        speaker: t.speaker.clone(),
        text: t.text.clone(),
        confidence: t.confidence,
        raw_text: None,
        marks: t.marks.clone(),
        reviewed: t.reviewed,
        new_turn: None,
    }
}

impl JsonDocument {
    pub fn new(minutes: &Minutes, transcript: &Transcript) -> JsonDocument {
        let meeting = &minutes.meeting;
        JsonDocument {
            segments: transcript
                .utterances
                .iter()
                .map(|u| {
                    let text = u.text.trim().to_string();
                    // Marks count from `u.text`; the written text is trimmed.
                    let lead = u.text.chars().take_while(|c| c.is_whitespace()).count();
                    let len = text.chars().count();
                    JsonSegment {
                        start: secs(u.span.start),
                        end: secs(u.span.end),
                        speaker: meeting.display_name(&u.speaker),
                        raw_text: Some(u.raw_text.clone().unwrap_or_else(|| text.clone())),
                        marks: u
                            .marks
                            .iter()
                            .map(|m| Mark {
                                start: m.start.saturating_sub(lead),
                                end: m.end.saturating_sub(lead).min(len),
                            })
                            .filter(|m| m.start < m.end)
                            .collect(),
                        text,
                        confidence: u.confidence,
                        reviewed: u.reviewed,
                        new_turn: u.new_turn,
                    }
                })
                .collect(),
            meeting: meeting.clone(),
            model: minutes.model.clone(),
            audio_seconds: secs(minutes.duration),
            turns: minutes.turns.iter().map(turn_entry).collect(),
            labels: transcript
                .utterances
                .iter()
                .map(|u| u.speaker.label().into_owned())
                .collect(),
            speaker_turns: transcript
                .speaker_turns
                .iter()
                .map(|t| JsonTurn {
                    start: secs(t.span.start),
                    end: secs(t.span.end),
                    speaker: t.speaker.to_string(),
                })
                .collect(),
            voices: minutes.voices.clone(),
            mark_style: minutes.mark_style,
            markers: minutes.markers.clone(),
            audio: minutes.source.clone(),
            format_version: JSON_FORMAT_VERSION,
        }
    }

    /// The minutes again from this document, under `meeting` (the document's own, or one
    /// with new names): what relabel, share and the fuzz targets redraft from. Keeps the
    /// model, the length, the mark style, the voices and the markers.
    pub fn redraft(&self, meeting: &Meeting) -> (crate::minutes::Minutes, Transcript) {
        let transcript = self.transcript();
        let mut cfg = crate::minutes::MinutesConfig::default();
        cfg.clean.mark_style = self.mark_style;
        // The length comes through the transcript (`duration`).
        let minutes = crate::minutes::draft(&transcript, meeting, &cfg)
            .with_model(self.model.clone())
            .with_voices(self.voices.clone())
            .with_markers(self.markers.clone())
            .with_source(self.audio.clone());
        (minutes, transcript)
    }

    /// The transcript again, with the raw speaker labels when the file has them (else the
    /// display names). Token details are not part of the JSON and come back empty.
    pub fn transcript(&self) -> Transcript {
        let labels_fit = self.labels.len() == self.segments.len();
        if !labels_fit && !self.labels.is_empty() {
            tracing::warn!(
                labels = self.labels.len(),
                segments = self.segments.len(),
                "JSON labels do not match segments; using the speaker names"
            );
        }
        let utterances = self
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| Utterance {
                span: Span::new(to_ms(s.start), to_ms(s.end)),
                speaker: Speaker::from_label(if labels_fit {
                    &self.labels[i]
                } else {
                    &s.speaker
                }),
                text: s.text.clone(),
                confidence: s.confidence,
                tokens: vec![],
                raw_text: s.raw_text.clone(),
                marks: s.marks.clone(),
                // Cleaned already: the sentence ends were settled when it was written.
                open_end: false,
                new_turn: s.new_turn,
                reviewed: s.reviewed,
            })
            .collect();
        let speaker_turns = self
            .speaker_turns
            .iter()
            .filter_map(|t| {
                Some(SpeakerTurn {
                    span: Span::new(to_ms(t.start), to_ms(t.end)),
                    speaker: Speaker::from_label(&t.speaker).voice()?,
                })
            })
            .collect();
        Transcript {
            utterances,
            duration: to_ms(self.audio_seconds),
            speaker_turns,
        }
    }
}

pub(super) fn write(
    minutes: &Minutes,
    transcript: &Transcript,
    w: &mut dyn Write,
) -> Result<(), ExportError> {
    let doc = JsonDocument::new(minutes, transcript);
    serde_json::to_writer_pretty(&mut *w, &doc)
        .map_err(|source| ExportError::JsonWrite { source })?;
    w.write_all(b"\n").map_err(|source| ExportError::Io {
        format: super::Format::Json,
        source,
    })
}

/// Reads a document written by the JSON export (or a hand-edited one: only `segments` is
/// required).
pub fn read_json(r: impl Read) -> Result<JsonDocument, ExportError> {
    serde_json::from_reader(r).map_err(|source| ExportError::JsonRead { source })
}

#[cfg(test)]
mod tests {
    use super::super::{test_data, write as export, Format};
    use super::*;
    use serde_json::Value;

    fn exported() -> Value {
        let (m, t) = test_data::minutes();
        let mut out = Vec::new();
        export(&m, &t, Format::Json, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn exact_contract_shape() {
        let v = exported();
        let top = v.as_object().unwrap();
        for key in ["segments", "meeting", "model", "audio_seconds"] {
            assert!(top.contains_key(key), "missing {key}");
        }
        // Only the documented additive fields besides the contract.
        let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "audio_seconds",
                "format_version",
                "labels",
                "mark_style",
                "meeting",
                "model",
                "segments",
                "speaker_turns",
                "turns"
            ]
        );
        assert_eq!(v["model"], "base");
        assert_eq!(v["audio_seconds"].as_f64(), Some(3840.0));

        let segs = v["segments"].as_array().unwrap();
        assert_eq!(segs.len(), 4, "one entry per utterance, not per turn");
        for s in segs {
            let o = s.as_object().unwrap();
            let mut k: Vec<&str> = o.keys().map(String::as_str).collect();
            k.sort_unstable();
            // `raw_text` is additive; `marks` appears only when there are marks.
            assert_eq!(
                k,
                ["confidence", "end", "raw_text", "speaker", "start", "text"]
            );
            assert!(o["start"].is_f64() && o["end"].is_f64() && o["confidence"].is_f64());
            assert!(o["speaker"].is_string() && o["text"].is_string());
        }
        assert_eq!(segs[0]["start"].as_f64(), Some(1.23));
        assert_eq!(segs[0]["end"].as_f64(), Some(4.56));
        assert_eq!(segs[3]["start"].as_f64(), Some(3661.001));
        assert_eq!(
            segs[0]["confidence"].as_f64().map(|c| (c * 100.0).round()),
            Some(91.0)
        );
        assert_eq!(segs[0]["speaker"], "委員長");
        assert_eq!(segs[2]["speaker"], "総務課長");
        assert_eq!(
            segs[3]["speaker"], "話者3",
            "unmapped labels stay as they are"
        );
        assert_eq!(segs[0]["text"], "ただいまから総務常任委員会を開会します。");
        assert_eq!(v["turns"].as_array().unwrap().len(), 3);
        assert_eq!(v["labels"][0], "話者1");
    }

    #[test]
    fn meeting_uses_japanese_keys() {
        let v = exported();
        let m = v["meeting"].as_object().unwrap();
        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = [
            "会議名",
            "開始",
            "終了",
            "場所",
            "議題",
            "出席者",
            "欠席者",
            "説明員",
            "事務局",
            "話者",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(m["会議名"], "総務常任委員会");
        assert_eq!(m["開始"], "2025-11-25T15:45:00");
        assert_eq!(m["終了"], "2025-11-25T16:49:00");
        assert_eq!(m["出席者"][1]["職"], "委員");
        assert_eq!(m["出席者"][1]["氏名"], "佐藤花子");
        assert_eq!(m["説明員"][0]["所属"], "総務部");
        assert_eq!(m["話者"]["話者1"], "委員長");
        assert!(m["議題"].is_array());
    }

    #[test]
    fn unknown_times_are_null() {
        let (m, t) = test_data::bare_minutes();
        let mut out = Vec::new();
        export(&m, &t, Format::Json, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert!(v["meeting"]["開始"].is_null());
        assert_eq!(v["meeting"]["会議名"], "");
        assert_eq!(v["segments"][0]["speaker"], "発言者");
    }

    #[test]
    fn read_back_restores_labels_for_relabeling() {
        let (m, t) = test_data::minutes();
        let mut out = Vec::new();
        export(&m, &t, Format::Json, &mut out).unwrap();
        let doc = read_json(out.as_slice()).unwrap();
        assert_eq!(doc.meeting, m.meeting);
        assert_eq!(doc.model, "base");
        let back = doc.transcript();
        assert_eq!(back.duration, t.duration);
        assert_eq!(back.utterances.len(), t.utterances.len());
        for (a, b) in back.utterances.iter().zip(&t.utterances) {
            assert_eq!((a.span, &a.speaker, &a.text), (b.span, &b.speaker, &b.text));
        }
        // A hand-written minimal file is enough.
        let doc = read_json(
            r#"{"segments":[{"start":0.5,"end":1.0,"speaker":"委員長","text":"はい","confidence":1}]}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(doc.transcript().utterances[0].speaker, "委員長");
        assert_eq!(doc.transcript().utterances[0].span.start, Ms(500));
        let err = read_json("[]".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("segments"), "{err}");
    }

    /// Bug pinned (issue 19): `--mark-style highlight` and the recording markers were lost
    /// when relabel or share drafted the minutes again from the JSON.
    #[test]
    fn redraft_keeps_mark_style_and_markers() {
        use crate::minutes::MarkStyle;
        use crate::types::{Marker, Ms};
        let (mut m, t) = test_data::minutes();
        m.mark_style = MarkStyle::Highlight;
        let m = m.with_markers(vec![Marker {
            at: Ms(7_000),
            label: "要確認".into(),
        }]);
        let mut bytes = Vec::new();
        super::super::write(&m, &t, super::super::Format::Json, &mut bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"mark_style\": \"highlight\""), "{text}");
        assert!(text.contains("\"label\": \"要確認\""), "{text}");
        let doc = read_json(bytes.as_slice()).unwrap();
        let (again, _) = doc.redraft(&doc.meeting);
        assert_eq!(again.mark_style, MarkStyle::Highlight);
        assert_eq!(again.markers, m.markers);
        assert_eq!(again.turns, m.turns);
        assert_eq!(again.duration, m.duration);
    }
}
