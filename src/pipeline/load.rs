//! The models a run needs, resolved (installed on first use) and loaded once for every
//! file: Whisper, the VAD, the speaker models and the readings table.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::asr::whisper::WhisperTranscriber;
use crate::asr::{AsrConfig, AsrError};
use crate::diarize::{DiarizeError, SpeakerModels};
use crate::models::{ModelError, ModelStore, READINGS_MODEL, SPEAKER_MODEL, VAD_MODEL};
use crate::types::Progress;

/// Which optional models a run needs besides Whisper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub vad: bool,
    pub diarize: bool,
    /// The sheet lists people, so the chair's calls can name voices.
    pub names: bool,
}

/// Models loaded for a run.
pub struct Models {
    pub transcriber: WhisperTranscriber,
    /// Silero VAD ggml file; `None`: the energy detector.
    pub vad_model: Option<PathBuf>,
    pub speakers: Option<SpeakerModels>,
    /// Readings for matching the chair's calls to the sheet's names.
    pub readings: Option<crate::naming::Readings>,
}

/// Why the models could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model `{name}`")]
    Model { name: String, source: ModelError },
    #[error("speaker models (use --no-diarize to skip speaker turns)")]
    SpeakerInstall { source: ModelError },
    #[error("speaker models")]
    Speakers { source: DiarizeError },
    #[error(transparent)]
    Asr(#[from] AsrError),
}

impl Models {
    /// Resolves and loads `model` (a name or a ggml path) and what `needs` asks for. A
    /// missing VAD falls back to the energy detector and missing readings to names matched
    /// as written (both with a warning); missing speaker models are an error.
    pub fn load(
        store: &ModelStore,
        model: &str,
        asr: AsrConfig,
        needs: Needs,
        cancel: Arc<AtomicBool>,
        progress: &dyn Progress,
    ) -> Result<Models, LoadError> {
        let model_path = store
            .ensure(model, progress)
            .map_err(|source| LoadError::Model {
                name: model.to_string(),
                source,
            })?;
        let vad_model = if needs.vad {
            match store.ensure(VAD_MODEL, progress) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("Silero VAD unavailable ({e}); using the energy detector");
                    None
                }
            }
        } else {
            None
        };
        let speakers = if needs.diarize {
            let path = store
                .ensure(SPEAKER_MODEL, progress)
                .map_err(|source| LoadError::SpeakerInstall { source })?;
            Some(
                SpeakerModels::load(&store.speaker_seg_path(), &path)
                    .map_err(|source| LoadError::Speakers { source })?,
            )
        } else {
            None
        };
        let readings = if needs.diarize && needs.names {
            let loaded = store
                .ensure(READINGS_MODEL, progress)
                .map_err(|e| e.to_string())
                .and_then(|p| crate::naming::Readings::load(&p).map_err(|e| e.to_string()));
            match loaded {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(
                        "読み辞書を使えません ({e}); 名前は書かれたとおりの呼名だけで照合します"
                    );
                    None
                }
            }
        } else {
            None
        };
        let transcriber = WhisperTranscriber::load(&model_path, &display_name(model), asr, cancel)?;
        Ok(Models {
            transcriber,
            vad_model,
            speakers,
            readings,
        })
    }
}

/// "base" for a name, the file stem without the ggml- prefix for a path.
pub fn display_name(spec: &str) -> String {
    let p = Path::new(spec);
    if p.extension().is_some_and(|e| e == "bin") || spec.contains('/') {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or(spec);
        stem.strip_prefix("ggml-").unwrap_or(stem).to_string()
    } else {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names() {
        assert_eq!(super::display_name("base"), "base");
        assert_eq!(super::display_name("/m/ggml-large-v3.bin"), "large-v3");
        assert_eq!(super::display_name("my.bin"), "my");
    }
}
