//! `gijiroku::audio::load` on arbitrary bytes. The first byte picks the file extension (the
//! decoders use it as a hint), the rest is the file. Any panic, abort, timeout or huge
//! allocation is a bug: a bad recording must come back as an `AudioError`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// Larger inputs add nothing the decoders have not seen and make each run slow.
const MAX_INPUT: usize = 64 * 1024;
const EXTENSIONS: [&str; 6] = ["wav", "mp3", "flac", "m4a", "ogg", "aac"];

fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir").keep())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    if body.len() > MAX_INPUT {
        return;
    }
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    let path = scratch_dir().join(format!("input.{ext}"));
    std::fs::write(&path, body).expect("write the input file");
    let _ = gijiroku::audio::probe_duration(&path);
    if let Ok((pcm, info)) = gijiroku::audio::load(&path) {
        // What later stages rely on: finite samples in range, a duration that matches.
        assert!(!pcm.is_empty());
        assert!(pcm.samples().iter().all(|s| s.is_finite()));
        assert_eq!(info.duration, pcm.duration());
    }
    let _ = std::fs::remove_file(&path);
});
