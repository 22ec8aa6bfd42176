//! The vocabulary passed between pipeline stages: times ([`Ms`], [`Span`]), recognised
//! segments ([`AsrSegment`]), speaker labels ([`SpeakerId`]) and the attributed
//! [`Transcript`]. Every stage output is plain serde data so a run can be inspected or resumed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in (or length of) the recording, in integer milliseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Ms(pub u64);

impl Ms {
    /// whisper.cpp reports times in 10 ms ticks; negative ticks (never expected) clamp to 0.
    pub fn from_centis(t: i64) -> Ms {
        Ms(t.max(0) as u64 * 10)
    }

    pub fn from_samples(n: usize, rate: u32) -> Ms {
        Ms((n as u64 * 1000) / rate as u64)
    }

    /// Seconds as a float, for the JSON contract and display only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `H:MM:SS` (whole seconds, truncated): clock times shown to people.
    pub fn hms(self) -> String {
        let s = self.0 / 1000;
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }

    pub fn to_samples(self, rate: u32) -> usize {
        (self.0 * rate as u64 / 1000) as usize
    }
}

impl fmt::Display for Ms {
    /// `H:MM:SS.mmm`, used in logs and text exports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let s = self.0 / 1000;
        write!(
            f,
            "{}:{:02}:{:02}.{:03}",
            s / 3600,
            (s / 60) % 60,
            s % 60,
            ms
        )
    }
}

/// A half-open time interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: Ms,
    pub end: Ms,
}

impl Span {
    pub fn new(start: Ms, end: Ms) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> Ms {
        Ms(self.end.0 - self.start.0)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The same interval `by` later (from a block's time to the recording's).
    pub fn shifted(self, by: Ms) -> Span {
        Span::new(Ms(self.start.0 + by.0), Ms(self.end.0 + by.0))
    }

    /// Length of the overlap with `other` (zero when disjoint).
    pub fn overlap(&self, other: &Span) -> Ms {
        let s = self.start.max(other.start);
        let e = self.end.min(other.end);
        Ms(e.0.saturating_sub(s.0))
    }
}

/// One recognised token with its timing and probability, kept for confidence marks and
/// for splitting a segment where the speaker changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsrToken {
    pub text: String,
    pub start: Ms,
    pub end: Ms,
    /// Probability of the token, 0..=1.
    pub p: f32,
}

/// One segment as the recogniser produced it, with its quality signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsrSegment {
    pub span: Span,
    pub text: String,
    /// Mean token probability (0..=1).
    pub confidence: f32,
    /// whisper.cpp's no-speech probability for the window this segment came from.
    pub no_speech_prob: f32,
    pub tokens: Vec<AsrToken>,
}

impl AsrSegment {
    /// The same segment `by` later, tokens included.
    pub fn shifted(mut self, by: Ms) -> AsrSegment {
        self.span = self.span.shifted(by);
        for t in &mut self.tokens {
            t.start = Ms(t.start.0 + by.0);
            t.end = Ms(t.end.0 + by.0);
        }
        self
    }
}

/// A speaker label. Shown as 話者1, 話者2 … until the meeting sheet names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SpeakerId(pub u32);

impl fmt::Display for SpeakerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "話者{}", self.0)
    }
}

/// Who an utterance is attributed to, until the minutes apply the meeting's names
/// ([`crate::minutes::Meeting::display_name`]). Written as its label: 発言者, 話者N, or the name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Speaker {
    /// Speakers were not told apart (diarization off or nothing found): 発言者.
    Unknown,
    /// A voice diarization found: 話者N.
    Voice(SpeakerId),
    /// A name written where a label belongs (a hand-edited JSON, a reviewer's new speaker).
    Named(String),
}

impl Speaker {
    /// Reads a label back: 発言者, 話者N (N ≥ 1, as written by [`SpeakerId`]) or a name.
    pub fn from_label(label: &str) -> Speaker {
        if label == UNKNOWN_SPEAKER {
            return Speaker::Unknown;
        }
        match label
            .strip_prefix("話者")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) if n >= 1 && SpeakerId(n).to_string() == label => Speaker::Voice(SpeakerId(n)),
            _ => Speaker::Named(label.to_string()),
        }
    }

    /// The label as written in the JSON and looked up in the sheet's names.
    pub fn label(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Speaker::Unknown => UNKNOWN_SPEAKER.into(),
            Speaker::Voice(id) => id.to_string().into(),
            Speaker::Named(name) => name.as_str().into(),
        }
    }

    /// The voice, when diarization found one.
    pub fn voice(&self) -> Option<SpeakerId> {
        match self {
            Speaker::Voice(id) => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Compares with a label (`speaker == "話者1"`).
impl PartialEq<&str> for Speaker {
    fn eq(&self, label: &&str) -> bool {
        self.label() == *label
    }
}

impl From<&str> for Speaker {
    fn from(label: &str) -> Speaker {
        Speaker::from_label(label)
    }
}

impl From<SpeakerId> for Speaker {
    fn from(id: SpeakerId) -> Speaker {
        Speaker::Voice(id)
    }
}

impl Serialize for Speaker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for Speaker {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Speaker, D::Error> {
        Ok(Speaker::from_label(&String::deserialize(d)?))
    }
}

/// Who spoke when (the output of diarization).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerTurn {
    pub span: Span,
    pub speaker: SpeakerId,
}

/// A transcript segment with its speaker label attached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub span: Span,
    /// Who said it; names are applied when the minutes are drafted.
    pub speaker: Speaker,
    pub text: String,
    pub confidence: f32,
    #[serde(default)]
    pub tokens: Vec<AsrToken>,
    /// The recogniser's text when `text` has been cleaned up (`None` before clean-up).
    #[serde(default)]
    pub raw_text: Option<String>,
    /// Stretches of `text` the recogniser was unsure of.
    #[serde(default)]
    pub marks: Vec<Mark>,
    /// The recogniser's sentence goes on past the end of this utterance: it was cut from a
    /// longer segment where the speaker changed, at a pause without punctuation, so the
    /// minutes must not close it with 「。」 on their own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_end: bool,
    /// Set by a reviewer: `Some(true)` starts a new turn here, `Some(false)` joins the
    /// previous turn even across a long pause; `None` leaves it to [`crate::minutes::draft`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_turn: Option<bool>,
    /// A reviewer has checked this text against the audio (確認済み).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reviewed: bool,
}

/// A low-confidence stretch of a text: character offsets `[start, end)` (Unicode scalar
/// values, as Python indexes strings), shown as ★ or highlighted in the DOCX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
}

/// The attributed transcript of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub utterances: Vec<Utterance>,
    pub duration: Ms,
    /// Who spoke when, as diarization found it (empty when speakers were not separated);
    /// finer than the utterances, whose times come from the recogniser.
    #[serde(default)]
    pub speaker_turns: Vec<SpeakerTurn>,
}

/// Label used for every turn while speakers are not separated.
pub const UNKNOWN_SPEAKER: &str = "発言者";

/// Stages report progress through this; the CLI draws it with indicatif.
pub trait Progress: Send + Sync {
    /// Start a phase with `total` units (e.g. milliseconds of audio, items).
    fn start(&self, phase: &str, total: u64);
    /// Start a phase counted in bytes (a download), which a display may show as sizes
    /// and a rate.
    fn start_bytes(&self, phase: &str, total: u64) {
        self.start(phase, total);
    }
    /// Absolute position within the current phase.
    fn set(&self, pos: u64);
    fn finish(&self);
}

/// A progress sink that shows nothing (tests, `--quiet`).
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _phase: &str, _total: u64) {}
    fn set(&self, _pos: u64) {}
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_conversions() {
        assert_eq!(Ms::from_centis(123), Ms(1230));
        assert_eq!(Ms::from_centis(-5), Ms(0));
        assert_eq!(Ms::from_samples(16_000, 16_000), Ms(1000));
        assert_eq!(Ms(1500).to_samples(16_000), 24_000);
        assert_eq!(Ms(3_723_004).to_string(), "1:02:03.004");
    }

    #[test]
    fn span_overlap() {
        let a = Span::new(Ms(0), Ms(1000));
        let b = Span::new(Ms(500), Ms(2000));
        assert_eq!(a.overlap(&b), Ms(500));
        assert_eq!(a.overlap(&Span::new(Ms(1000), Ms(1200))), Ms(0));
        assert_eq!(SpeakerId(2).to_string(), "話者2");
    }

    #[test]
    fn speaker_labels_round_trip() {
        for (label, speaker) in [
            ("発言者", Speaker::Unknown),
            ("話者1", Speaker::Voice(SpeakerId(1))),
            ("話者12", Speaker::Voice(SpeakerId(12))),
            ("話者0", Speaker::Named("話者0".into())),
            ("話者01", Speaker::Named("話者01".into())),
            ("話者", Speaker::Named("話者".into())),
            ("委員長", Speaker::Named("委員長".into())),
        ] {
            assert_eq!(Speaker::from_label(label), speaker, "{label}");
            assert_eq!(speaker.label(), label);
            let json = serde_json::to_string(&speaker).unwrap();
            assert_eq!(serde_json::from_str::<Speaker>(&json).unwrap(), speaker);
        }
        assert_eq!(Speaker::from(SpeakerId(3)).voice(), Some(SpeakerId(3)));
        assert_eq!(Speaker::Named("議長".into()).voice(), None);
    }

    #[test]
    fn timings_are_written_as_seconds() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T(#[serde(with = "serde_secs")] std::time::Duration);
        let t = T(std::time::Duration::from_micros(1_234_567));
        assert_eq!(serde_json::to_string(&t).unwrap(), "1.235");
        assert_eq!(
            serde_json::from_str::<T>("2.5").unwrap().0,
            std::time::Duration::from_millis(2500)
        );
        assert_eq!(
            serde_json::from_str::<T>("-1").unwrap().0,
            std::time::Duration::ZERO
        );
    }
}

/// A point the user marked while recording (`m` + Enter): `at` is the position in the
/// recorded audio (paused time is not recorded, so it is not counted), written as seconds.
/// `gijiroku record` keeps them in a sidecar ([`markers_path`]); transcription carries them
/// into the JSON and the minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    #[serde(with = "marker_secs")]
    pub at: Ms,
    pub label: String,
}

mod marker_secs {
    use super::Ms;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Ms, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(at.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ms, D::Error> {
        let secs = f64::deserialize(d)?;
        if !secs.is_finite() {
            return Err(serde::de::Error::custom("marker time is not a number"));
        }
        Ok(Ms((secs.max(0.0) * 1000.0).round() as u64))
    }
}

/// serde for a [`std::time::Duration`] written as seconds (`12.345`), millisecond precision.
pub mod serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs.max(0.0))
            .map_err(|_| serde::de::Error::custom("seconds out of range"))
    }
}

/// `会議.wav` → `会議.markers.json`.
pub fn markers_path(audio: &std::path::Path) -> std::path::PathBuf {
    audio.with_extension("markers.json")
}

/// Reads a markers sidecar, sorted by time.
pub fn read_markers(path: &std::path::Path) -> Result<Vec<Marker>, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let mut markers: Vec<Marker> = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    markers.sort_by_key(|m| m.at);
    Ok(markers)
}

/// The recording a JSON was made from, so the review page can play it and notice a
/// different file: where it was, how long, how many bytes, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioSource {
    /// Absolute path when it was transcribed.
    pub path: String,
    pub seconds: f64,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

impl AudioSource {
    /// Reads `path` once to checksum it.
    pub fn of(path: &std::path::Path, duration: Ms) -> Result<AudioSource, std::io::Error> {
        let (bytes, sha256) = file_sha256(path)?;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(AudioSource {
            path: path.to_string_lossy().into_owned(),
            seconds: duration.as_secs_f64(),
            bytes,
            sha256,
        })
    }
}

/// Length and lower-case hex SHA-256 of a file, read in 1 MiB pieces.
pub fn file_sha256(path: &std::path::Path) -> Result<(u64, String), std::io::Error> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hex(&hasher.finalize());
    Ok((total, hex))
}

/// Lower-case hex of `bytes` (checksums, tokens).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// An error and its causes as one line, `: `-separated, leaving out a cause whose text the
/// line already holds (many messages quote their cause).
pub fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
