//! Speech recognition. [`Transcriber`] turns speech spans of a [`Pcm16kMono`] into
//! [`AsrSegment`]s; [`whisper::WhisperTranscriber`] is the real one (the only file that
//! touches whisper-rs). [`plan_packed`] (the default) and [`plan_windows`] group VAD spans
//! into decoding windows; [`guard`] removes what Whisper invents over non-speech.

pub mod guard;
pub mod whisper;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::audio::Pcm16kMono;
use crate::types::{AsrSegment, Ms, Progress, Span};

/// Decoding windows are packed up to this length: Whisper always encodes 30 s, so packing
/// speech close to that keeps the encoder busy with speech rather than padding.
pub const WINDOW_TARGET: Ms = Ms(28_000);
/// A silence longer than this closes a window: Whisper invents text in long silences.
pub const WINDOW_MAX_GAP: Ms = Ms(2_000);
/// With [`AsrConfig::pack_pauses`], a pause longer than [`WINDOW_MAX_GAP`] is shortened to
/// this inside a window: Whisper still hears a pause between the two stretches of speech, and
/// the encoder's 30 s are spent on speech instead of on a room waiting for the next speaker.
pub const PACK_GAP: Ms = Ms(1_000);
/// Default beam width for beam search.
pub const DEFAULT_BEAM: u32 = 5;

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decoding {
    Greedy,
    Beam { size: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsrConfig {
    /// ISO 639-1 code, or "auto".
    pub language: String,
    pub decoding: Decoding,
    /// CPU threads for whisper.cpp; 0 = all available cores.
    pub threads: usize,
    /// Text given to Whisper as the previous context (terms, names).
    pub initial_prompt: Option<String>,
    /// Run the hallucination [`guard`] over every decoded window.
    #[serde(default = "yes")]
    pub guard: bool,
    /// Pack speech across pauses over [`WINDOW_MAX_GAP`] into fuller windows ([`plan_packed`]
    /// with [`PACK_GAP`]) instead of closing a window at each of them.
    #[serde(default = "yes")]
    pub pack_pauses: bool,
}

fn yes() -> bool {
    true
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            language: "ja".into(),
            decoding: Decoding::Beam { size: DEFAULT_BEAM },
            threads: 0,
            initial_prompt: None,
            guard: true,
            pack_pauses: true,
        }
    }
}

impl AsrConfig {
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("{}: cannot load the Whisper model ({source}). Reinstall it with `gijiroku models install` or pass --model with an official ggml file", path.display())]
    ModelLoad {
        path: PathBuf,
        source: whisper_rs::WhisperError,
    },
    #[error("speech recognition failed in the window {window}: {source}")]
    Decode {
        window: String,
        source: whisper_rs::WhisperError,
    },
    #[error("unknown language code {0:?} (use an ISO 639-1 code such as ja, en, or auto)")]
    Language(String),
    #[error("interrupted")]
    Interrupted,
}

/// Anything that turns speech into timed text segments.
pub trait Transcriber {
    /// Transcribe the `speech` spans of `pcm`; segment times are absolute (from the
    /// start of the recording). `progress` is driven in milliseconds of audio.
    fn transcribe(
        &mut self,
        pcm: &Pcm16kMono,
        speech: &[Span],
        progress: &dyn Progress,
    ) -> Result<Vec<AsrSegment>, AsrError>;

    /// Short model name for reports ("base", "large-v3-turbo", ...).
    fn model_name(&self) -> &str;

    /// Frees the working memory of decoding (it is made again by the next `transcribe`):
    /// called when a recording's text is done, so the stages after recognition (speaker
    /// clustering, the minutes) do not add their memory on top of it.
    fn release(&mut self) {}
}

/// Group sorted speech spans into decoding windows: a window grows while the next span
/// starts within [`WINDOW_MAX_GAP`] and the window stays within [`WINDOW_TARGET`]. A single
/// span longer than the target becomes its own window (whisper.cpp seeks through it).
pub fn plan_windows(speech: &[Span]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in speech.iter().filter(|s| !s.is_empty()) {
        match out.last_mut() {
            Some(w)
                if s.start.0.saturating_sub(w.end.0) <= WINDOW_MAX_GAP.0
                    && s.end.0 - w.start.0 <= WINDOW_TARGET.0 =>
            {
                w.end = w.end.max(s.end);
            }
            _ => out.push(*s),
        }
    }
    out
}

/// Decoding windows with long pauses packed: as [`plan_windows`], but a pause longer than
/// [`WINDOW_MAX_GAP`] no longer closes the window: it is shortened to `gap` (half of it kept
/// after the speech before, half before the speech after) and the window grows while its
/// pieces add up to at most [`WINDOW_TARGET`]. Shorter pauses stay as they are, so speech
/// without long pauses is windowed exactly as by [`plan_windows`]. Each window is its pieces
/// of the recording, in order; decoded as one buffer, its times are mapped back piece by
/// piece.
pub fn plan_packed(speech: &[Span], gap: Ms) -> Vec<Vec<Span>> {
    let half = gap.0 / 2;
    let mut out: Vec<Vec<Span>> = Vec::new();
    let mut len = 0u64;
    for s in speech.iter().filter(|s| !s.is_empty()) {
        if let Some(last) = out.last_mut().and_then(|w| w.last_mut()) {
            let pause = s.start.0.saturating_sub(last.end.0);
            if pause <= WINDOW_MAX_GAP.0.max(gap.0) {
                let added = s.end.0.saturating_sub(last.end.0);
                if len + added <= WINDOW_TARGET.0 {
                    last.end = last.end.max(s.end);
                    len += added;
                    continue;
                }
            } else if len + 2 * half + s.len().0 <= WINDOW_TARGET.0 {
                last.end = Ms(last.end.0 + half);
                len += 2 * half + s.len().0;
                let piece = Span::new(Ms(s.start.0 - half), s.end);
                if let Some(w) = out.last_mut() {
                    w.push(piece);
                }
                continue;
            }
        }
        out.push(vec![*s]);
        len = s.len().0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(a: u64, b: u64) -> Span {
        Span::new(Ms(a), Ms(b))
    }

    #[test]
    fn windows_pack_close_spans() {
        let w = plan_windows(&[sp(0, 5_000), sp(6_000, 10_000), sp(11_000, 20_000)]);
        assert_eq!(w, vec![sp(0, 20_000)]);
    }

    #[test]
    fn windows_split_on_long_gap_and_length() {
        let w = plan_windows(&[sp(0, 5_000), sp(9_000, 10_000)]);
        assert_eq!(w, vec![sp(0, 5_000), sp(9_000, 10_000)]);
        let w = plan_windows(&[sp(0, 20_000), sp(21_000, 30_000)]);
        assert_eq!(w, vec![sp(0, 20_000), sp(21_000, 30_000)]);
        let w = plan_windows(&[sp(0, 60_000), sp(60_500, 61_000)]);
        assert_eq!(w, vec![sp(0, 60_000), sp(60_500, 61_000)]);
    }

    #[test]
    fn packed_windows_shorten_long_pauses() {
        let speech = [
            sp(0, 5_000),
            sp(6_500, 9_000),
            sp(15_000, 20_000),
            sp(20_500, 40_000),
        ];
        let plan = plan_packed(&speech, Ms(1_000));
        // The 1.5-s pause stays; the 6-s pause becomes 1 s (0.5 s each side); the last span
        // would pass 28 s.
        assert_eq!(
            plan,
            vec![
                vec![sp(0, 9_500), sp(14_500, 20_000)],
                vec![sp(20_500, 40_000)]
            ]
        );
        let packed: u64 = plan[0].iter().map(|p| p.len().0).sum();
        assert!(packed <= WINDOW_TARGET.0);
    }

    #[test]
    fn without_long_pauses_packing_changes_nothing() {
        // Dense speech: turns of 1.2-3 s with pauses of 0.3-2 s.
        let mut speech = Vec::new();
        let mut t = 0;
        for i in 0..60u64 {
            speech.push(sp(t, t + 1_200 + 300 * (i % 7)));
            t = speech[speech.len() - 1].end.0 + 300 + 280 * (i % 7);
        }
        let packed = plan_packed(&speech, PACK_GAP);
        let plain: Vec<Vec<Span>> = plan_windows(&speech).into_iter().map(|w| vec![w]).collect();
        assert!(plain.len() > 3);
        assert_eq!(packed, plain);
    }

    #[test]
    fn windows_skip_empty() {
        assert!(plan_windows(&[sp(5, 5)]).is_empty());
    }
}
