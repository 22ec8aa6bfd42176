//! Safe output files: [`write_atomic`] writes to a temporary file beside the target and
//! renames it into place, so a crash or full disk never leaves a half-written draft and an
//! existing file is only replaced when the user said `--force`.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{}: already exists (use --force to overwrite)", path.display())]
    Exists { path: PathBuf },
    #[error("{}: cannot write: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Content {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Write `path` atomically with the bytes `fill` produces. `fill` errors abort the write
/// and leave any previous file untouched.
pub fn write_atomic<E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
    force: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !force && path.exists() {
        return Err(OutputError::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".gijiroku-").suffix(".tmp");
    // Temporary files are private (0600) by default; a draft gets the mode any new file
    // gets (0666 less the umask), so colleagues on a shared folder can open it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w).map_err(|e| OutputError::Content {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        w.flush().map_err(io)?;
    }
    // Data must be on disk before the rename makes it visible.
    tmp.as_file().sync_all().map_err(io)?;
    if force {
        tmp.persist(path).map_err(|e| io(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                OutputError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e.error)
            }
        })?;
    }
    Ok(())
}

/// Checks, before any work, that `path` could be written: its folder exists and takes a new
/// file, or the nearest existing folder above it does (the folder is made when writing).
/// Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<(), OutputError> {
    let mut dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    while !dir.exists() {
        match dir.parent() {
            Some(d) if !d.as_os_str().is_empty() => dir = d,
            _ => {
                dir = Path::new(".");
                break;
            }
        }
    }
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!(
                "{} はフォルダーではありません (not a folder)",
                dir.display()
            ),
        )));
    }
    tempfile::Builder::new()
        .prefix(".gijiroku-")
        .suffix(".probe")
        .tempfile_in(dir)
        .map(drop)
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writability_is_checked_without_leaving_anything() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(&dir.path().join("a/b/m.docx")).unwrap();
        assert!(!dir.path().join("a").exists());
        check_writable(&dir.path().join("m.docx")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = check_writable(&file.join("m.docx")).unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, false, |w| w.write_all(b"one")).unwrap();
        let err = write_atomic(&p, false, |w| w.write_all(b"two")).unwrap_err();
        assert!(matches!(err, OutputError::Exists { .. }));
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, true, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
    }

    /// A draft is as readable as any file the user creates there, not private like a temp file.
    #[cfg(unix)]
    #[test]
    fn output_gets_the_mode_of_an_ordinary_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, b"x").unwrap();
        let p = dir.path().join("a.docx");
        write_atomic(&p, false, |w| w.write_all(b"x")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), mode(&plain));
    }

    #[test]
    fn failed_fill_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"old").unwrap();
        let err = write_atomic(&p, true, |w| {
            w.write_all(b"partial")?;
            Err::<(), _>(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp file left behind: {names:?}");
    }
}
