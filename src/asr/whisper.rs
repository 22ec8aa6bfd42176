//! whisper.cpp through whisper-rs: [`WhisperTranscriber`] loads a ggml model once and
//! decodes each planned window, keeping token timings and probabilities.
//!
//! Only speech is decoded: the windows come from the VAD's spans ([`plan_packed`]: long
//! pauses shortened to [`PACK_GAP`] and the pieces joined into one buffer, times mapped back
//! piece by piece; or [`plan_windows`] with `pack_pauses` off), each window is decoded on
//! its own (`no_context`, so a loop cannot carry over), and the initial prompt is given to
//! every window (whisper.cpp puts it before each window's text, so it is carried across
//! windows without carrying their text). With the guard on, speech of a window that no
//! segment covers (whisper.cpp sometimes ends a window early, more often with a prompt) is
//! decoded again on its own without the prompt, unless what comes out is already in the
//! window's text ([`guard::already_said`]: the timestamps slid, the words were there), and
//! the [`super::guard`] checks every segment against the speech spans and the prompt.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use whisper_rs::{
    DtwModelPreset, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
    WhisperState,
};

use super::guard::{self, GuardContext};
use super::{plan_packed, plan_windows, AsrConfig, AsrError, Decoding, Transcriber, PACK_GAP};
use crate::audio::{Pcm16kMono, SAMPLE_RATE};
use crate::types::{AsrSegment, AsrToken, Ms, Progress, Span};

/// whisper.cpp's defaults for the temperature fallback that breaks repetition loops:
/// a window whose decode looks degenerate is retried at a higher temperature.
const TEMPERATURE_INC: f32 = 0.2;
const ENTROPY_THOLD: f32 = 2.4;
const LOGPROB_THOLD: f32 = -1.0;
/// `auto` or a language code whisper.cpp knows (`ja`, `en` …); checked before any model
/// is loaded or audio read.
pub fn check_language(code: &str) -> Result<(), AsrError> {
    // whisper.cpp's own log line for an unknown code goes through tracing, not stderr.
    whisper_rs::install_logging_hooks();
    let plausible = !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase());
    if code == "auto" || (plausible && whisper_rs::get_lang_id(code).is_some()) {
        Ok(())
    } else {
        Err(AsrError::Language(code.to_string()))
    }
}

/// The initial prompt is cut (from its start) to this many tokens: whisper.cpp keeps at
/// most 223 tokens of context, and a long prompt leaves the decoder less room and invites
/// it to copy the prompt.
pub const MAX_PROMPT_TOKENS: usize = 200;
/// Only the last this many characters of a prompt are tokenized (at most four tokens
/// each, well inside [`TOKENIZE_BUFFER`]).
const MAX_PROMPT_SCAN_CHARS: usize = 1_000;
/// Token buffer for measuring the prompt. whisper-rs 0.16 mishandles a buffer that is too
/// small (it takes whisper.cpp's negative "needed" count as a length), so it must be ample.
const TOKENIZE_BUFFER: usize = 4_096;

pub struct WhisperTranscriber {
    /// Decoder state (KV caches and compute buffers, ~275 MB with base); `None` after
    /// [`Transcriber::release`] until the next decode makes it again.
    state: Option<WhisperState>,
    // Kept alive for `state`, which borrows the model through an Arc inside whisper-rs;
    // shared by forks, so parallel workers hold the weights once.
    ctx: Arc<WhisperContext>,
    cfg: AsrConfig,
    name: String,
    /// The model file, for errors.
    path: PathBuf,
    cancel: Arc<AtomicBool>,
    eot: i32,
    /// Short live windows: see [`WhisperTranscriber::for_live`].
    live: bool,
    /// Token start times come from DTW (see [`dtw_preset`]).
    dtw: bool,
}

/// Whisper's encoder sees 30 s as 1500 positions: one per 320 samples (20 ms) at 16 kHz.
const FULL_AUDIO_CTX: usize = 1500;
const SAMPLES_PER_AUDIO_CTX: usize = 320;
/// Extra encoder positions (1.28 s) past a live window, so its last word is not cut.
const LIVE_AUDIO_CTX_MARGIN: usize = 64;

impl WhisperTranscriber {
    /// For live text while recording (windows of a few seconds, printed as they come):
    /// the encoder is sized to the window instead of 30 s, and no temperature-fallback
    /// retries (each costs several decodes; a late line is worse than a rough one). Several
    /// times faster on short windows, at some cost in accuracy; the final draft is made
    /// from the file with the normal settings.
    pub fn for_live(mut self) -> Self {
        self.live = true;
        self
    }

    /// Another transcriber on the same loaded model (its own decoder state, `threads`
    /// threads), for transcribing files in parallel.
    pub fn fork(&self, threads: usize) -> Result<Self, AsrError> {
        let state = self
            .ctx
            .create_state()
            .map_err(|source| AsrError::ModelLoad {
                path: self.path.clone(),
                source,
            })?;
        Ok(WhisperTranscriber {
            state: Some(state),
            ctx: Arc::clone(&self.ctx),
            cfg: AsrConfig {
                threads,
                ..self.cfg.clone()
            },
            name: self.name.clone(),
            path: self.path.clone(),
            cancel: Arc::clone(&self.cancel),
            eot: self.eot,
            live: self.live,
            dtw: self.dtw,
        })
    }

    /// Load the model at `path`. `cancel` aborts a running decode when set (Ctrl-C).
    pub fn load(
        path: &Path,
        name: &str,
        cfg: AsrConfig,
        cancel: Arc<AtomicBool>,
    ) -> Result<Self, AsrError> {
        whisper_rs::install_logging_hooks();
        check_language(&cfg.language)?;
        let load_err = |source| AsrError::ModelLoad {
            path: path.to_path_buf(),
            source,
        };
        let mut params = WhisperContextParameters::default();
        // Token times from cross-attention (DTW): Whisper's own token times are often a
        // second off, which put words of one speaker into the next speaker's turn.
        let preset = dtw_preset(path);
        let dtw = preset.is_some();
        if let Some(model_preset) = preset {
            params.dtw_parameters(whisper_rs::DtwParameters {
                mode: whisper_rs::DtwMode::ModelPreset { model_preset },
                ..Default::default()
            });
        }
        let ctx = WhisperContext::new_with_params(path, params).map_err(load_err)?;
        let state = ctx.create_state().map_err(load_err)?;
        let eot = ctx.token_eot();
        let mut cfg = cfg;
        cfg.initial_prompt = cfg
            .initial_prompt
            .as_deref()
            .and_then(|p| fit_prompt(&ctx, p, MAX_PROMPT_TOKENS));
        if let Some(p) = &cfg.initial_prompt {
            tracing::info!(prompt = %p, "initial prompt");
        }
        Ok(WhisperTranscriber {
            state: Some(state),
            ctx: Arc::new(ctx),
            cfg,
            name: name.to_string(),
            path: path.to_path_buf(),
            cancel,
            eot,
            live: false,
            dtw,
        })
    }
}

/// The DTW alignment heads for the official model whose shape the ggml header at `path`
/// describes (quantised or not); `None` for shapes not known, which keep Whisper's own
/// token times.
fn dtw_preset(path: &Path) -> Option<DtwModelPreset> {
    let h = crate::models::check_whisper_file(path).ok()?.hparams;
    let english = h.n_vocab == 51864;
    use DtwModelPreset as P;
    Some(match (h.n_text_state, h.n_text_layer) {
        (384, 4) if english => P::TinyEn,
        (384, 4) => P::Tiny,
        (512, 6) if english => P::BaseEn,
        (512, 6) => P::Base,
        (768, 12) if english => P::SmallEn,
        (768, 12) => P::Small,
        (1024, 24) if english => P::MediumEn,
        (1024, 24) => P::Medium,
        (1280, 32) if h.n_mels == 128 => P::LargeV3,
        // large-v1 and v2 share a shape; v2 is the one people have.
        (1280, 32) => P::LargeV2,
        (1280, 4) => P::LargeV3Turbo,
        _ => return None,
    })
}

/// `prompt` cut from the front, at a 「、」/「。」 where possible, to at most `max` tokens.
fn fit_prompt(ctx: &WhisperContext, prompt: &str, max: usize) -> Option<String> {
    let chars: Vec<char> = prompt.trim().chars().collect();
    let mut text: &[char] = &chars[chars.len().saturating_sub(MAX_PROMPT_SCAN_CHARS)..];
    loop {
        let s: String = text.iter().collect();
        if s.trim().is_empty() {
            return None;
        }
        match ctx.tokenize(&s, TOKENIZE_BUFFER) {
            Ok(t) if t.len() <= max => return Some(s),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("initial prompt not used: cannot tokenize it ({e})");
                return None;
            }
        }
        let cut = text
            .iter()
            .position(|c| matches!(c, '、' | '。' | ',' | '.' | ' '))
            .map_or(text.len().min(8), |i| i + 1);
        text = &text[cut.max(1)..];
    }
}

fn full_params<'a>(cfg: &'a AsrConfig, cancel: &'a Arc<AtomicBool>) -> FullParams<'a, 'a> {
    let strategy = match cfg.decoding {
        Decoding::Greedy => SamplingStrategy::Greedy { best_of: 5 },
        Decoding::Beam { size } => SamplingStrategy::BeamSearch {
            beam_size: size.max(1) as i32,
            patience: -1.0,
        },
    };
    let mut p = FullParams::new(strategy);
    p.set_n_threads(cfg.effective_threads() as i32);
    p.set_language(Some(cfg.language.as_str()));
    p.set_translate(false);
    p.set_token_timestamps(true);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    // Each window stands alone: conditioning on earlier output is the main source of
    // repetition loops on long recordings.
    p.set_no_context(true);
    p.set_suppress_blank(true);
    p.set_suppress_nst(true);
    p.set_temperature(0.0);
    p.set_temperature_inc(TEMPERATURE_INC);
    p.set_entropy_thold(ENTROPY_THOLD);
    p.set_logprob_thold(LOGPROB_THOLD);
    p.set_no_speech_thold(super::guard::NO_SPEECH_HIGH);
    if let Some(prompt) = cfg.initial_prompt.as_deref().filter(|s| !s.is_empty()) {
        p.set_initial_prompt(prompt);
    }
    // SAFETY: the callback only reads the AtomicBool that `cancel` keeps alive for
    // as long as the params (and so any decode using them) exist.
    unsafe {
        p.set_abort_callback(Some(abort_trampoline));
        p.set_abort_callback_user_data(Arc::as_ptr(cancel) as *mut c_void);
    }
    p
}

impl WhisperTranscriber {
    /// Decodes one window; `with_prompt` false leaves the initial prompt out.
    fn decode_window(
        &mut self,
        pcm: &Pcm16kMono,
        pieces: &[Span],
        with_prompt: bool,
    ) -> Result<Vec<AsrSegment>, AsrError> {
        let samples = pcm.samples();
        let range = |p: &Span| {
            let a = p.start.to_samples(SAMPLE_RATE).min(samples.len());
            let b = p.end.to_samples(SAMPLE_RATE).min(samples.len());
            a..b.max(a)
        };
        // One piece is decoded in place; packed pieces are joined into one buffer.
        let joined: Vec<f32>;
        let audio: &[f32] = match pieces {
            [one] => &samples[range(one)],
            _ => {
                joined = pieces
                    .iter()
                    .flat_map(|p| samples[range(p)].iter().copied())
                    .collect();
                &joined
            }
        };
        if audio.is_empty() {
            return Ok(Vec::new());
        }
        let window = Span::new(pieces[0].start, pieces[pieces.len() - 1].end);
        let cfg = if with_prompt {
            self.cfg.clone()
        } else {
            AsrConfig {
                initial_prompt: None,
                ..self.cfg.clone()
            }
        };
        let mut params = full_params(&cfg, &self.cancel);
        if self.live {
            // The encoder covers the window plus a margin instead of Whisper's fixed 30 s.
            let ctx = audio.len().div_ceil(SAMPLES_PER_AUDIO_CTX) + LIVE_AUDIO_CTX_MARGIN;
            params.set_audio_ctx(ctx.min(FULL_AUDIO_CTX) as i32);
            params.set_temperature_inc(0.0);
        }
        let mut state = match self.state.take() {
            Some(state) => state,
            None => self
                .ctx
                .create_state()
                .map_err(|source| AsrError::ModelLoad {
                    path: self.path.clone(),
                    source,
                })?,
        };
        let res = state.full(params, audio);
        let segments = res.is_ok().then(|| self.collect(&state, pieces));
        self.state = Some(state);
        if self.cancel.load(Ordering::Relaxed) {
            return Err(AsrError::Interrupted);
        }
        res.map_err(|source| AsrError::Decode {
            window: format!("{}-{}", window.start, window.end),
            source,
        })?;
        Ok(segments.unwrap_or_default())
    }

    /// Read segments out of the state, their times mapped from the decoded buffer back to
    /// the recording (see [`to_recording`]).
    fn collect(&self, state: &WhisperState, pieces: &[Span]) -> Vec<AsrSegment> {
        let clamp = |t: i64| to_recording(pieces, Ms::from_centis(t));
        let mut out = Vec::new();
        for seg in state.as_iter() {
            let mut tokens: Vec<AsrToken> = Vec::new();
            // Kanji often span two byte-level tokens: gather bytes until they form UTF-8.
            let mut pending: Vec<u8> = Vec::new();
            let mut pending_start = Ms(0);
            let mut pending_p: Vec<f32> = Vec::new();
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else {
                    continue;
                };
                if tok.token_id() >= self.eot {
                    continue;
                }
                let data = tok.token_data();
                let Ok(bytes) = tok.to_bytes() else { continue };
                if pending.is_empty() {
                    pending_start = if self.dtw && data.t_dtw >= 0 {
                        clamp(data.t_dtw)
                    } else {
                        clamp(data.t0)
                    };
                }
                pending.extend_from_slice(bytes);
                pending_p.push(data.p);
                if let Ok(text) = std::str::from_utf8(&pending) {
                    let p = pending_p.iter().copied().fold(1.0f32, f32::min);
                    tokens.push(AsrToken {
                        text: text.to_string(),
                        start: pending_start,
                        end: clamp(data.t1),
                        p,
                    });
                    pending.clear();
                    pending_p.clear();
                }
            }
            let text: String = tokens
                .iter()
                .map(|t| t.text.as_str())
                .collect::<String>()
                .trim()
                .to_string();
            if text.is_empty() {
                continue;
            }
            let confidence = if tokens.is_empty() {
                0.0
            } else {
                tokens.iter().map(|t| t.p).sum::<f32>() / tokens.len() as f32
            };
            let span = Span::new(clamp(seg.start_timestamp()), clamp(seg.end_timestamp()));
            out.push(AsrSegment {
                span,
                text,
                confidence,
                no_speech_prob: seg.no_speech_probability(),
                tokens,
            });
        }
        out
    }
}

/// A time in the buffer made of `pieces` (joined in order) as a time in the recording;
/// times past the buffer's end are clamped to the last piece's end.
fn to_recording(pieces: &[Span], t: Ms) -> Ms {
    let mut base = 0;
    for p in pieces {
        let len = p.len().0;
        if t.0 <= base + len {
            return Ms(p.start.0 + (t.0 - base));
        }
        base += len;
    }
    pieces.last().map_or(t, |p| p.end)
}

unsafe extern "C" fn abort_trampoline(user_data: *mut c_void) -> bool {
    if user_data.is_null() {
        return false;
    }
    // SAFETY: user_data is the AtomicBool owned by the transcriber's Arc (see `params`).
    let flag = unsafe { &*(user_data as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

impl Transcriber for WhisperTranscriber {
    fn transcribe(
        &mut self,
        pcm: &Pcm16kMono,
        speech: &[Span],
        progress: &dyn Progress,
    ) -> Result<Vec<AsrSegment>, AsrError> {
        // Live windows are a few seconds of speech already: nothing to pack.
        let windows: Vec<Vec<Span>> = if self.cfg.pack_pauses && !self.live {
            plan_packed(speech, PACK_GAP)
        } else {
            plan_windows(speech).into_iter().map(|w| vec![w]).collect()
        };
        progress.start("文字起こし", pcm.duration().0);
        let mut out = Vec::new();
        for pieces in windows {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(AsrError::Interrupted);
            }
            let w = Span::new(pieces[0].start, pieces[pieces.len() - 1].end);
            let mut segs = self.decode_window(pcm, &pieces, true)?;
            if self.cfg.guard
                && !self.live
                && self.cfg.initial_prompt.is_some()
                && guard::too_sparse(w, speech, &segs)
            {
                // The prompt derailed the decoder; without it the window usually comes out.
                let plain = self.decode_window(pcm, &pieces, false)?;
                if guard::content_chars(&plain) > guard::content_chars(&segs) {
                    tracing::info!(window = %format!("{}-{}", w.start, w.end), "too little text with the prompt; decoded without it");
                    segs = plain;
                }
            }
            tracing::debug!(window = %format!("{}-{}", w.start, w.end), segments = segs.len(), "decoded");
            if self.cfg.guard {
                let prompt = self.cfg.initial_prompt.clone();
                // Speech the decoder skipped is decoded again on its own, without the
                // prompt (which makes the skip likelier). A window with no text at all and
                // no prompt was judged silent: the same decode again would say the same.
                let retry = !self.live && (!segs.is_empty() || prompt.is_some());
                if !self.live {
                    segs = guard::split_at_leaps(segs);
                }
                let gaps = if retry {
                    guard::uncovered_speech(w, speech, &segs)
                } else {
                    Vec::new()
                };
                let mut recovered = Vec::new();
                for gap in gaps {
                    let again = self.decode_window(pcm, &[gap], false)?;
                    tracing::info!(window = %format!("{}-{}", gap.start, gap.end), segments = again.len(), "skipped speech decoded again");
                    recovered.extend(again);
                }
                let ctx = GuardContext {
                    speech,
                    prompt: prompt.as_deref(),
                };
                segs = guard::apply(segs, &ctx);
                let plain = GuardContext {
                    prompt: None,
                    ..ctx
                };
                let recovered: Vec<AsrSegment> = guard::apply(recovered, &plain)
                    .into_iter()
                    .filter(|again| {
                        let copy = guard::already_said(again, &segs);
                        if copy {
                            tracing::info!(text = %again.text, "skipped speech decoded again was already written; dropped");
                        }
                        !copy
                    })
                    .collect();
                segs.extend(recovered);
                segs.sort_by_key(|s| (s.span.start, s.span.end));
            }
            out.extend(segs);
            progress.set(w.end.0);
        }
        progress.set(pcm.duration().0);
        progress.finish();
        Ok(out)
    }

    fn model_name(&self) -> &str {
        &self.name
    }

    fn release(&mut self) {
        self.state = None;
    }
}
