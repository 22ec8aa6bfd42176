//! `gijiroku review`: the draft beside its recording in the browser, served from this PC.
//!
//! [`Review::open`] finds and checks the recording the JSON was made from ([`locate_audio`]);
//! [`Review::serve`] runs the page on 127.0.0.1 until the shutdown future resolves. The page
//! (assets built into the binary) edits the JSON through [`store::Store`]: saves are atomic,
//! keep the previous version as `<json>.bak`, and refuse a save based on an older version
//! (a second tab). Every request needs the random token from the URL (then a cookie) and a
//! Host header naming this server; the only file served is the one recording.

mod server;
pub mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::export::{ExportError, Template};
use crate::output::OutputError;
use crate::types::{file_sha256, AudioSource};

pub use server::Served;

/// Why the review page cannot open, or an edit cannot be saved.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{}: 読めません: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: 議事録の JSON として読めません: {source}", path.display())]
    Json { path: PathBuf, source: ExportError },
    #[error("{}: 録音が見つかりません（--audio で録音ファイルを指定してください）", path.display())]
    AudioMissing { path: PathBuf },
    #[error("{}: JSON を作った録音と違うファイルです（{detail}）", path.display())]
    AudioMismatch { path: PathBuf, detail: String },
    #[error("{}: 録音を読めません: {source}", path.display())]
    Audio {
        path: PathBuf,
        source: crate::audio::AudioError,
    },
    #[error("{}: このファイルは別のタブか別のプログラムで保存されています。ページを再読み込みしてから直してください", path.display())]
    Conflict { path: PathBuf },
    #[error("{}: 既にあります", path.display())]
    Exists { path: PathBuf },
    #[error("修正を保存できません: {detail}")]
    BadEdit { detail: String },
    #[error("{}: DOCX を作れません: {source}", path.display())]
    Export { path: PathBuf, source: ExportError },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("127.0.0.1:{port} で待ち受けできません: {source}")]
    Bind { port: u16, source: std::io::Error },
}

/// What `gijiroku review` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ReviewOptions {
    pub json: PathBuf,
    /// The recording, instead of the one the JSON names.
    pub audio: Option<PathBuf>,
    /// 0: any free port.
    pub port: u16,
    /// The office's own DOCX form, offered as a template beside 会議録/復命書/要旨.
    pub form: Option<PathBuf>,
}

/// A review ready to serve: the JSON, its recording, and the listening socket.
pub struct Review {
    json: PathBuf,
    audio: PathBuf,
    templates: Vec<(String, String, Template)>,
    listener: std::net::TcpListener,
    token: String,
}

impl Review {
    /// Checks the JSON and its recording, and binds 127.0.0.1 (never another address).
    pub fn open(opts: &ReviewOptions) -> Result<Review, ReviewError> {
        let store = store::Store::new(&opts.json);
        let (doc, _) = store.load()?;
        let audio = locate_audio(
            &opts.json,
            doc.audio.as_ref(),
            doc.audio_seconds,
            opts.audio.as_deref(),
        )?;
        let mut templates = vec![
            ("kaigiroku".into(), "会議録".into(), Template::Kaigiroku),
            ("fukumeisho".into(), "復命書".into(), Template::Fukumeisho),
            ("yoshi".into(), "要旨".into(), Template::Yoshi),
        ];
        if let Some(form) = &opts.form {
            std::fs::metadata(form).map_err(|source| ReviewError::Read {
                path: form.clone(),
                source,
            })?;
            let name = form.file_name().unwrap_or_default().to_string_lossy();
            templates.push((
                "form".into(),
                format!("様式（{name}）"),
                Template::Form(form.clone()),
            ));
        }
        let listener =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, opts.port)))
                .map_err(|source| ReviewError::Bind {
                    port: opts.port,
                    source,
                })?;
        Ok(Review {
            json: opts.json.clone(),
            audio,
            templates,
            listener,
            token: new_token(),
        })
    }

    /// The page's address, token included: what to open in the browser.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr(), self.token)
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// The recording being played.
    pub fn audio(&self) -> &Path {
        &self.audio
    }

    /// Serves the page until `shutdown` resolves (Ctrl-C in the CLI). Requests under way
    /// get a moment to finish (a save completes); the audio stream does not hold it open.
    pub fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Served, ReviewError> {
        server::run(self, shutdown)
    }
}

/// 32 random bytes as hex, from the operating system.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an entropy source nothing here is safe to serve; the OS always has one.
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    crate::types::hex(&bytes)
}

/// Audio extensions tried beside the JSON when it names no recording.
const AUDIO_EXTENSIONS: [&str; 7] = ["wav", "mp3", "m4a", "flac", "ogg", "opus", "aac"];

/// Which file to play. `given` (`--audio`) wins; else the path the JSON recorded; else a
/// file of the same name beside the JSON (the folder was moved). The file must be the one
/// transcribed: same size and SHA-256, or — for `--audio`, e.g. a copy converted to MP3 —
/// the same length within a second.
pub fn locate_audio(
    json: &Path,
    recorded: Option<&AudioSource>,
    audio_seconds: f64,
    given: Option<&Path>,
) -> Result<PathBuf, ReviewError> {
    let beside = |name: &std::ffi::OsStr| json.with_file_name(name);
    let candidate: PathBuf = match (given, recorded) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(src)) => {
            let p = PathBuf::from(&src.path);
            match p.file_name() {
                _ if p.is_file() => p,
                Some(name) if beside(name).is_file() => beside(name),
                _ => return Err(ReviewError::AudioMissing { path: p }),
            }
        }
        (None, None) => AUDIO_EXTENSIONS
            .iter()
            .map(|ext| json.with_extension(ext))
            .find(|p| p.is_file())
            .ok_or_else(|| ReviewError::AudioMissing {
                path: json.with_extension("wav"),
            })?,
    };
    if !candidate.is_file() {
        return Err(ReviewError::AudioMissing { path: candidate });
    }
    let same_file = match recorded {
        Some(src) => {
            let size = std::fs::metadata(&candidate)
                .map_err(|source| ReviewError::Read {
                    path: candidate.clone(),
                    source,
                })?
                .len();
            size == src.bytes && {
                let (_, sha) = file_sha256(&candidate).map_err(|source| ReviewError::Read {
                    path: candidate.clone(),
                    source,
                })?;
                sha == src.sha256
            }
        }
        None => false,
    };
    if same_file {
        return Ok(candidate);
    }
    // Not byte-for-byte the recording (or nothing to compare with): the length must agree.
    let seconds = recorded.map_or(audio_seconds, |s| s.seconds);
    let reader = crate::audio::Reader::open(&candidate).map_err(|source| ReviewError::Audio {
        path: candidate.clone(),
        source,
    })?;
    let length = reader.duration_hint().map(|d| d.as_secs_f64());
    let fits = length.is_some_and(|l| seconds <= 0.0 || (l - seconds).abs() <= 1.0);
    match (recorded, given, fits) {
        (None, _, true) | (Some(_), Some(_), true) => Ok(candidate),
        (Some(_), None, true) => Err(ReviewError::AudioMismatch {
            path: candidate,
            detail:
                "長さは同じですが中身が違います。このファイルでよければ --audio で指定してください"
                    .into(),
        }),
        (_, _, false) => Err(ReviewError::AudioMismatch {
            path: candidate,
            detail: match length {
                Some(l) => format!("長さが {l:.1} 秒、JSON では {seconds:.1} 秒"),
                None => "長さが分かりません".into(),
            },
        }),
    }
}
