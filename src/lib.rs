//! gijiroku: offline Japanese meeting minutes from audio.
//!
//! Stages, each a module with one public entry; [`pipeline`] is the only place that knows
//! their order: [`audio`] (decode + resample to [`audio::Pcm16kMono`]) → [`vad`] (speech
//! spans) → [`asr`] (whisper.cpp) and [`diarize`] (who spoke when) → [`align`] (speakers
//! attached to text) → [`minutes`] (turns, meeting header) → [`export`] (DOCX, JSON, text,
//! RTTM). [`pipeline::stream`] feeds long recordings through in blocks. [`models`] installs and locates model files. [`record`] records a meeting live
//! (crash-safe WAV, live text, markers) before it goes through the same pipeline.

pub mod align;
pub mod asr;
pub mod audio;
pub mod batch;
pub mod diarize;
pub mod export;
pub mod minutes;
pub mod models;
pub mod naming;
pub mod output;
pub mod pipeline;
pub mod record;
pub mod review;

pub mod types;
pub mod vad;

pub use types::{
    AsrSegment, AsrToken, Ms, Progress, Span, SpeakerId, SpeakerTurn, Transcript, Utterance,
};
