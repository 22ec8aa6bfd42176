//! Whisper's BPE vocabulary as faster-whisper ships it (`vocabulary.txt`, `vocabulary.json` or
//! `tokenizer.json`), turned back into raw token bytes for the ggml file.
//!
//! Tokens are stored in GPT-2's "byte to unicode" spelling, where each byte maps to one printable
//! character; [`token_bytes`] reverses that mapping.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::ModelError;

/// The end-of-text marker; every regular BPE token comes before it.
const END_OF_TEXT: &str = "<|endoftext|>";

/// GPT-2's printable stand-in for every byte: bytes that are already printable Latin-1 keep their
/// code point, the others (controls, space, 0x7F..=0xA0, 0xAD) get 256, 257, ... in byte order.
fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (byte, slot) in table.iter_mut().enumerate() {
        let b = byte as u32;
        let printable =
            (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let code = if printable {
            b
        } else {
            next += 1;
            next - 1
        };
        // Every code here is below 0x200, so it is always a valid scalar value.
        *slot = char::from_u32(code).unwrap_or('\0');
    }
    table
}

/// Reverse of [`byte_to_char_table`].
fn char_to_byte_map() -> BTreeMap<char, u8> {
    byte_to_char_table()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

/// Raw bytes of one token written in GPT-2's byte-level spelling, or `None` if it contains a
/// character outside the 256-entry table (which no regular BPE token does).
fn decode_token(token: &str, map: &BTreeMap<char, u8>) -> Option<Vec<u8>> {
    token.chars().map(|c| map.get(&c).copied()).collect()
}

/// The vocabulary of a faster-whisper model directory, in id order.
pub(crate) fn load(dir: &Path) -> Result<Vec<String>, ModelError> {
    let txt = dir.join("vocabulary.txt");
    if txt.is_file() {
        let text = read_text(&txt)?;
        // One token per line; byte-level spelling has no raw whitespace, but one multilingual
        // token (id 50256) is the empty string, so empty lines are kept.
        let mut tokens: Vec<String> = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect();
        if text.ends_with('\n') {
            tokens.pop();
        }
        return Ok(tokens);
    }
    let json = dir.join("vocabulary.json");
    if json.is_file() {
        let text = read_text(&json)?;
        return serde_json::from_str::<Vec<String>>(&text)
            .map_err(|e| vocab_error(&json, format!("not a JSON list of strings: {e}")));
    }
    let tok = dir.join("tokenizer.json");
    if tok.is_file() {
        return load_tokenizer_json(&tok);
    }
    Err(vocab_error(
        dir,
        "no vocabulary.txt, vocabulary.json or tokenizer.json in the model directory".into(),
    ))
}

/// Hugging Face `tokenizer.json`: `model.vocab` (token -> id) plus `added_tokens`.
fn load_tokenizer_json(path: &Path) -> Result<Vec<String>, ModelError> {
    #[derive(serde::Deserialize)]
    struct Added {
        id: usize,
        content: String,
    }
    #[derive(serde::Deserialize)]
    struct Model {
        vocab: BTreeMap<String, usize>,
    }
    #[derive(serde::Deserialize)]
    struct Tokenizer {
        model: Model,
        #[serde(default)]
        added_tokens: Vec<Added>,
    }
    let text = read_text(path)?;
    let tok: Tokenizer = serde_json::from_str(&text)
        .map_err(|e| vocab_error(path, format!("unexpected tokenizer.json layout: {e}")))?;
    let by_id: BTreeMap<usize, String> = tok
        .model
        .vocab
        .into_iter()
        .map(|(t, id)| (id, t))
        .chain(tok.added_tokens.into_iter().map(|a| (a.id, a.content)))
        .collect();
    let n = by_id.keys().next_back().map_or(0, |&max| max + 1);
    let mut tokens = vec![String::new(); n];
    for (id, t) in by_id {
        tokens[id] = t;
    }
    Ok(tokens)
}

/// Bytes of the regular BPE tokens (everything before `<|endoftext|>`: 50,257 for multilingual
/// models, 50,256 for `.en`); whisper.cpp derives the special tokens itself.
pub(crate) fn token_bytes(tokens: &[String], source: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let n_regular = tokens
        .iter()
        .position(|t| t == END_OF_TEXT)
        .ok_or_else(|| {
            vocab_error(
                source,
                format!("no {END_OF_TEXT} token, so the regular tokens cannot be told apart"),
            )
        })?;
    let map = char_to_byte_map();
    let mut fallback = 0usize;
    let out = tokens[..n_regular]
        .iter()
        .map(|t| {
            decode_token(t, &map).unwrap_or_else(|| {
                // Keep going with the UTF-8 spelling: one odd token must not block a model.
                fallback += 1;
                t.as_bytes().to_vec()
            })
        })
        .collect();
    if fallback > 0 {
        tracing::warn!(path = %source.display(), tokens = fallback, "vocabulary tokens outside the GPT-2 byte table were kept as UTF-8");
    }
    Ok(out)
}

fn read_text(path: &Path) -> Result<String, ModelError> {
    fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn vocab_error(path: &Path, reason: String) -> ModelError {
    ModelError::Vocab {
        path: PathBuf::from(path),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_round_trips_all_bytes() {
        let table = byte_to_char_table();
        let map = char_to_byte_map();
        assert_eq!(map.len(), 256, "the 256 stand-ins are distinct");
        for b in 0..=255u8 {
            assert_eq!(map[&table[b as usize]], b);
        }
        assert_eq!(table[b' ' as usize], 'Ġ');
        assert_eq!(table[b'\n' as usize], 'Ċ');
        assert_eq!(table[b'a' as usize], 'a');
    }

    #[test]
    fn decodes_japanese_and_space_tokens() {
        let map = char_to_byte_map();
        assert_eq!(decode_token("ãģĵ", &map).unwrap(), "こ".as_bytes());
        assert_eq!(decode_token("Ġhello", &map).unwrap(), b" hello");
        assert_eq!(decode_token("", &map).unwrap(), b"");
        assert!(decode_token("漢", &map).is_none());
    }

    #[test]
    fn regular_tokens_stop_at_end_of_text() {
        let tokens: Vec<String> = ["!", "Ġa", "", "<|endoftext|>", "<|startoftranscript|>"]
            .map(String::from)
            .into();
        let bytes = token_bytes(&tokens, Path::new("v.txt")).unwrap();
        assert_eq!(bytes, vec![b"!".to_vec(), b" a".to_vec(), Vec::new()]);
        let no_eot: Vec<String> = vec!["a".into()];
        assert!(matches!(
            token_bytes(&no_eot, Path::new("v.txt")),
            Err(ModelError::Vocab { .. })
        ));
    }

    #[test]
    fn loads_each_vocabulary_format() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("vocabulary.txt"), "!\n\n<|endoftext|>\n").unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec!["!", "", "<|endoftext|>"]);

        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("vocabulary.json"),
            r#"["a","<|endoftext|>"]"#,
        )
        .unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec!["a", "<|endoftext|>"]);

        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("tokenizer.json"),
            r#"{"model":{"vocab":{"b":1,"a":0}},"added_tokens":[{"id":2,"content":"<|endoftext|>"}]}"#,
        )
        .unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec!["a", "b", "<|endoftext|>"]);

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(load(empty.path()), Err(ModelError::Vocab { .. })));
    }
}
