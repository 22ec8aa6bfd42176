//! The whisper.cpp that gets built is the one `vendor/README.md` describes: every line the
//! readable patch adds is in the vendored source, in the patch's order, and the lines it
//! removes are gone from the places it names.

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn vendored_whisper_cpp_carries_the_patch() {
    let patch = read("vendor/whisper-cpp-tiled-products.patch");
    let source = read("vendor/whisper-rs-sys/whisper.cpp/src/whisper.cpp");
    let lines: Vec<&str> = source.lines().collect();
    let added: Vec<&str> = patch
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| &l[1..])
        .collect();
    assert!(added.len() > 50, "the patch adds {} lines", added.len());
    let mut at = 0;
    for line in &added {
        match lines[at..].iter().position(|l| l == line) {
            Some(i) => at += i + 1,
            None => panic!("patch line not in the vendored whisper.cpp (in order): {line:?}"),
        }
    }
    // The one product the patch replaces outright: no plain vocabulary product is left.
    assert!(!source.contains("ggml_mul_mat(ctx0, model.d_te, cur)"));
    assert_eq!(source.matches("whisper_mul_mat_attn_v(ctx0,").count(), 2);
}
