//! The glossary (辞書登録): a TOML file of terms the recogniser should know and of known
//! misrecognitions to correct ([`Glossary`]), and [`prompt`], which turns it and the meeting
//! sheet (会議名, 議題, people) into Whisper's initial prompt.
//!
//! ```toml
//! terms = ["一関市", "橋りょう", "長寿命化"]
//!
//! [replace]            # 誤 = 正, applied to the recognised text
//! "総務上任委員会" = "総務常任委員会"
//! "帝国" = "定刻"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{MeetingSheet, Person};

/// Terms, names and the user's prompt are packed into the prompt up to this many
/// characters before the recogniser trims it to its token budget (see
/// `asr::whisper::MAX_PROMPT_TOKENS`): Japanese runs about one token per character.
pub const MAX_PROMPT_CHARS: usize = 400;

/// A glossary file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Glossary {
    /// Words, names and phrases to prime the recogniser with.
    #[serde(default)]
    pub terms: Vec<String>,
    /// Known misrecognitions: 誤 → 正.
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    #[error("cannot read the glossary {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("glossary {} is not valid: {source}expected `terms = [\"…\"]` and a `[replace]` table of \"誤\" = \"正\"", .path.display())]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("glossary {}: the [replace] entry \"{wrong}\" has an empty 誤 or 正; give both, e.g. \"帝国\" = \"定刻\"", .path.display())]
    EmptyReplacement { path: PathBuf, wrong: String },
}

impl Glossary {
    pub fn load(path: &Path) -> Result<Glossary, GlossaryError> {
        let text = std::fs::read_to_string(path).map_err(|source| GlossaryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Glossary::parse(&text, path)
    }

    /// Parses glossary text; `path` is only for messages. A UTF-8 byte-order mark is accepted.
    pub fn parse(text: &str, path: &Path) -> Result<Glossary, GlossaryError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let g: Glossary = toml::from_str(text).map_err(|source| GlossaryError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        if let Some((wrong, _)) = g
            .replace
            .iter()
            .find(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
        {
            return Err(GlossaryError::EmptyReplacement {
                path: path.to_path_buf(),
                wrong: wrong.clone(),
            });
        }
        Ok(g)
    }
}

/// Whisper's initial prompt from what is known before the meeting is heard: the sheet's
/// 会議名 and 議題, the names and posts of the people on it, the glossary's terms and the
/// user's own `--prompt`, in that order, written like the minutes themselves (「、」「。」)
/// so the recogniser also keeps that punctuation. `None` when there is nothing to say.
///
/// The last items matter most to Whisper (and survive when the prompt is cut to its budget,
/// which keeps the end), so the user's prompt and the glossary come last. Items beyond
/// [`MAX_PROMPT_CHARS`] are dropped from the front.
pub fn prompt(
    user: Option<&str>,
    glossary: Option<&Glossary>,
    sheet: Option<&MeetingSheet>,
) -> Option<String> {
    // (text before the items, items, text after them); items are joined with 「、」.
    let mut parts: Vec<(&str, Vec<String>, &str)> = Vec::new();
    let clean = |items: Vec<String>| -> Vec<String> {
        dedup(
            items
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        )
    };
    if let Some(s) = sheet {
        parts.push(("", clean(vec![s.title.clone()]), "を開会します。"));
        parts.push(("議題は、", clean(s.agenda.clone()), "です。"));
        let people = s
            .attendees
            .iter()
            .chain(&s.explainers)
            .chain(&s.secretariat)
            .flat_map(person_words)
            .collect();
        parts.push(("", clean(people), "。"));
    }
    if let Some(g) = glossary {
        parts.push(("", clean(g.terms.clone()), "。"));
    }
    if let Some(u) = user {
        parts.push(("", clean(vec![u.to_string()]), ""));
    }
    parts.retain(|(_, items, _)| !items.is_empty());
    let render = |parts: &[(&str, Vec<String>, &str)]| -> String {
        parts
            .iter()
            .map(|(pre, items, post)| format!("{pre}{}{post}", items.join("、")))
            .collect()
    };
    // Keep the end: drop items from the front while over budget (never the last one).
    while render(&parts).chars().count() > MAX_PROMPT_CHARS
        && (parts.len() > 1 || parts.first().is_some_and(|p| p.1.len() > 1))
    {
        parts[0].1.remove(0);
        if parts[0].1.is_empty() {
            parts.remove(0);
        }
    }
    let text = render(&parts);
    (!text.is_empty()).then_some(text)
}

/// How a person is heard in a meeting: the name, and the post when it is specific
/// (総務課長, not a bare 委員).
fn person_words(p: &Person) -> Vec<String> {
    let mut out = Vec::new();
    let role = p.role.trim();
    if role.chars().count() > 2 {
        out.push(role.to_string());
    }
    let name = p.name.trim();
    if !name.is_empty() {
        out.push(name.to_string());
    }
    out
}

/// First occurrences only, order kept.
fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_replacements() {
        let g = Glossary::parse(
            "terms = [\"一関市\", \"橋りょう\"]\n[replace]\n\"総務上任委員会\" = \"総務常任委員会\"\n",
            Path::new("g.toml"),
        )
        .unwrap();
        assert_eq!(g.terms, ["一関市", "橋りょう"]);
        assert_eq!(g.replace["総務上任委員会"], "総務常任委員会");
        // Either part may be left out.
        assert_eq!(
            Glossary::parse("", Path::new("g")).unwrap(),
            Glossary::default()
        );
    }

    #[test]
    fn errors_name_the_file_and_the_rule() {
        let err = Glossary::parse("term = [\"x\"]", Path::new("用語.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("用語.toml") && err.contains("term"), "{err}");
        let err = Glossary::parse("[replace]\n\"帝国\" = \"\"", Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("g.toml") && err.contains("帝国"), "{err}");
        let err = Glossary::load(Path::new("/nonexistent/g.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/g.toml"), "{err}");
    }

    #[test]
    fn prompt_from_sheet_glossary_and_user() {
        let sheet = MeetingSheet::parse(
            "会議名 = \"総務常任委員会\"\n議題 = [\"議案第15号 一般会計補正予算\"]\n\
             出席者 = [{ 職 = \"委員長\", 氏名 = \"山田太郎\" }, \"委員 佐藤花子\"]\n\
             説明員 = [{ 所属 = \"総務部\", 職 = \"総務課長\", 氏名 = \"鈴木一郎\" }]\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let g = Glossary {
            terms: vec!["一関市".into(), "山田太郎".into()],
            replace: BTreeMap::new(),
        };
        let p = prompt(Some("橋りょうの補修"), Some(&g), Some(&sheet)).unwrap();
        assert_eq!(
            p,
            "総務常任委員会を開会します。議題は、議案第15号 一般会計補正予算です。\
             委員長、山田太郎、佐藤花子、総務課長、鈴木一郎。一関市、山田太郎。橋りょうの補修"
        );
        assert_eq!(prompt(None, None, None), None);
        assert_eq!(prompt(Some("  "), Some(&Glossary::default()), None), None);
    }

    #[test]
    fn long_prompts_keep_their_end() {
        let g = Glossary {
            terms: (0..300).map(|i| format!("用語{i}")).collect(),
            replace: BTreeMap::new(),
        };
        let p = prompt(Some("最後の指示"), Some(&g), None).unwrap();
        assert!(p.chars().count() <= MAX_PROMPT_CHARS, "{p}");
        assert!(
            p.starts_with("用語") && p.ends_with("用語299。最後の指示"),
            "{p}"
        );
    }
}
