//! Katakana readings of written words, so that a name the recogniser wrote with other
//! characters of the same sound (斎藤 for 斉藤, 市郎 for 一郎) is still recognised.
//!
//! The table is made once, at install time, from the IPAdic MeCab dictionary (PyPI `ipadic`):
//! every noun and prefix written with kanji, with all its readings and whether it is a family
//! or given name. It is stored as sorted UTF-8 lines `surface \t reading reading… \t flags` and
//! searched by bisection, so loading it is one read of a 5 MB file.

use std::collections::BTreeMap;
use std::path::Path;

/// Why the readings table could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum ReadingsError {
    #[error("{}: cannot read the readings table: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line} of the readings table is malformed", path.display())]
    Malformed {
        path: std::path::PathBuf,
        line: usize,
    },
    #[error("not a MeCab system dictionary: {0}")]
    Dictionary(String),
}

/// A kanji word's readings, from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub surface: &'a str,
    pub readings: Vec<&'a str>,
    /// IPAdic lists it as a family name (姓).
    pub family: bool,
    /// IPAdic lists it as a given name (名).
    pub given: bool,
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct Readings {
    text: String,
    /// Byte offset of each line, in surface order.
    lines: Vec<u32>,
}

/// Longest surface looked up when reading a text.
const MAX_WORD: usize = 8;

impl Readings {
    pub fn load(path: &Path) -> Result<Readings, ReadingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Readings::parse(text).map_err(|line| ReadingsError::Malformed {
            path: path.to_path_buf(),
            line,
        })
    }

    /// Checks the table's shape and order; `Err` holds the first bad line (1-based).
    pub fn parse(text: String) -> Result<Readings, usize> {
        let mut lines = Vec::new();
        let mut pos = 0usize;
        let mut prev: Option<&str> = None;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let l = line.trim_end_matches('\n');
            let surface = l.split('\t').next().unwrap_or("");
            if l.split('\t').count() != 3
                || surface.is_empty()
                || prev.is_some_and(|p| p >= surface)
            {
                return Err(i + 1);
            }
            prev = Some(surface);
            lines.push(u32::try_from(pos).map_err(|_| i + 1)?);
            pos += line.len();
        }
        Ok(Readings { text, lines })
    }

    fn line(&self, i: usize) -> &str {
        let start = self.lines[i] as usize;
        let end = self
            .lines
            .get(i + 1)
            .map_or(self.text.len(), |&e| e as usize);
        self.text[start..end].trim_end_matches('\n')
    }

    fn surface(&self, i: usize) -> &str {
        self.line(i).split('\t').next().unwrap_or("")
    }

    /// The entry written exactly `surface`.
    pub fn get(&self, surface: &str) -> Option<Entry<'_>> {
        let (mut lo, mut hi) = (0usize, self.lines.len());
        let mut found = None;
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.surface(mid).cmp(surface) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    found = Some(mid);
                    break;
                }
            }
        }
        let i = found?;
        let mut parts = self.line(i).split('\t');
        let surface = parts.next()?;
        let readings = parts.next()?.split(' ').filter(|r| !r.is_empty()).collect();
        let flags = parts.next().unwrap_or("");
        Some(Entry {
            surface,
            readings,
            family: flags.contains('s'),
            given: flags.contains('g'),
        })
    }

    /// Ways to read `text` aloud, in katakana, at most `limit` of them. Words are taken from
    /// the table (fewest words first), kana are read as written, anything else stays itself.
    pub fn read(&self, text: &str, limit: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        // best[i]: fewest pieces covering chars[..i], and the piece ending at i.
        let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
        best[0] = Some((0, 0));
        for i in 0..n {
            let Some((count, _)) = best[i] else { continue };
            let mut relax = |j: usize| {
                if best[j].is_none_or(|(c, _)| c > count + 1) {
                    best[j] = Some((count + 1, i));
                }
            };
            relax(i + 1);
            for len in 2..=MAX_WORD.min(n - i) {
                let word: String = chars[i..i + len].iter().collect();
                if self.get(&word).is_some() {
                    relax(i + len);
                }
            }
        }
        let mut pieces = Vec::new();
        let mut j = n;
        while j > 0 {
            let (_, i) = best[j].expect("every position is reachable one character at a time");
            pieces.push(chars[i..j].iter().collect::<String>());
            j = i;
        }
        pieces.reverse();
        let mut out = vec![String::new()];
        for piece in &pieces {
            let options: Vec<String> = match self.get(piece) {
                Some(e) if !e.readings.is_empty() => {
                    e.readings.iter().map(|r| r.to_string()).collect()
                }
                _ => vec![to_katakana(piece)],
            };
            let mut next = Vec::with_capacity(out.len() * options.len());
            for prefix in &out {
                for o in &options {
                    if next.len() < limit.max(1) {
                        next.push(format!("{prefix}{o}"));
                    }
                }
            }
            out = next;
        }
        out
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Hiragana to katakana; everything else unchanged.
pub fn to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn has_kanji(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{3400}'..='\u{9fff}' | '々' | 'ヶ' | 'ヵ'))
}

/// Builds the table from a MeCab system dictionary (`sys.dic` of IPAdic, UTF-8): nouns and
/// prefixes written with kanji. The dictionary's own surfaces are not needed: for these parts
/// of speech the base form in the feature string is the surface.
pub fn table_from_mecab(sys_dic: &[u8]) -> Result<String, ReadingsError> {
    let bad = |why: &str| ReadingsError::Dictionary(why.to_owned());
    let u32_at = |o: usize| -> Result<u32, ReadingsError> {
        sys_dic
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("truncated header"))
    };
    const MAGIC_XOR: u32 = 0xef71_8f77;
    if u32_at(0)? ^ MAGIC_XOR != sys_dic.len() as u32 {
        return Err(bad("magic number does not match the file size"));
    }
    let charset = sys_dic.get(40..72).ok_or_else(|| bad("truncated header"))?;
    let charset = String::from_utf8_lossy(charset.split(|&b| b == 0).next().unwrap_or(&[]))
        .to_ascii_lowercase();
    if charset != "utf8" && charset != "utf-8" {
        return Err(bad(&format!("charset {charset}, expected UTF-8")));
    }
    let (dsize, tsize, fsize) = (
        u32_at(24)? as usize,
        u32_at(28)? as usize,
        u32_at(32)? as usize,
    );
    let tokens = 72 + dsize;
    let features = tokens + tsize;
    if features + fsize > sys_dic.len() || tsize % 16 != 0 {
        return Err(bad("section sizes do not fit the file"));
    }
    let feat = &sys_dic[features..features + fsize];
    let mut table: BTreeMap<String, (std::collections::BTreeSet<String>, bool, bool)> =
        BTreeMap::new();
    for t in sys_dic[tokens..features].chunks_exact(16) {
        let f = u32::from_le_bytes([t[8], t[9], t[10], t[11]]) as usize;
        let Some(rest) = feat.get(f..) else { continue };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let Ok(s) = std::str::from_utf8(&rest[..end]) else {
            continue;
        };
        let p: Vec<&str> = s.split(',').collect();
        if p.len() < 8 || !(p[0] == "名詞" || p[0] == "接頭詞") || !has_kanji(p[6]) {
            continue;
        }
        if p[6].contains(['\t', '\n', ' ']) || p[7] == "*" {
            continue;
        }
        let e = table.entry(p[6].to_owned()).or_default();
        e.0.insert(p[7].to_owned());
        e.1 |= p[2] == "人名" && p[3] == "姓";
        e.2 |= p[2] == "人名" && p[3] == "名";
    }
    if table.is_empty() {
        return Err(bad("no kanji nouns found"));
    }
    let mut out = String::with_capacity(6 << 20);
    for (surface, (readings, family, given)) in table {
        out.push_str(&surface);
        out.push('\t');
        out.push_str(&readings.into_iter().collect::<Vec<_>>().join(" "));
        out.push('\t');
        if family {
            out.push('s');
        }
        if given {
            out.push('g');
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) fn sample() -> Readings {
    let mut lines = vec![
        "一\tイチ ハジメ\tg",
        "一郎\tイチロウ\tg",
        "中村\tナカムラ\ts",
        "佐々木\tササキ\ts",
        "委員\tイイン\t",
        "市\tイチ シ\t",
        "市郎\tイチロウ\tg",
        "斉藤\tサイトウ\ts",
        "斎藤\tサイトウ\ts",
        "田中\tタナカ\ts",
        "課長\tカチョウ\t",
        "総務\tソウム\t",
        "花子\tハナコ\tg",
        "郎\tロウ\t",
    ];
    lines.sort();
    Readings::parse(lines.join("\n") + "\n").expect("sorted sample")
}

/// A MeCab system dictionary in the layout [`table_from_mecab`] reads: a header, an empty
/// double array, one 16-byte token per feature string, the features.
#[cfg(test)]
pub(crate) fn synthetic_sys_dic(features: &[&str]) -> Vec<u8> {
    let mut feat = Vec::new();
    let mut tokens = Vec::new();
    for f in features {
        let mut t = [0u8; 16];
        t[8..12].copy_from_slice(&(feat.len() as u32).to_le_bytes());
        tokens.extend_from_slice(&t);
        feat.extend_from_slice(f.as_bytes());
        feat.push(0);
    }
    let mut out = vec![0u8; 72];
    let len = (72 + tokens.len() + feat.len()) as u32;
    out[0..4].copy_from_slice(&(len ^ 0xef71_8f77).to_le_bytes());
    out[28..32].copy_from_slice(&(tokens.len() as u32).to_le_bytes());
    out[32..36].copy_from_slice(&(feat.len() as u32).to_le_bytes());
    out[40..44].copy_from_slice(b"utf8");
    out.extend_from_slice(&tokens);
    out.extend_from_slice(&feat);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_from_a_mecab_dictionary() {
        let dic = synthetic_sys_dic(&[
            "名詞,固有名詞,人名,姓,*,*,斎藤,サイトウ,サイトー",
            "名詞,固有名詞,人名,名,*,*,一郎,イチロウ,イチロー",
            "名詞,一般,*,*,*,*,斎藤,サイトウ,サイトー",
            "名詞,一般,*,*,*,*,市,シ,シ",
            "名詞,固有名詞,地域,一般,*,*,市,イチ,イチ",
            "動詞,自立,*,*,五段・ラ行,基本形,走る,ハシル,ハシル",
            "名詞,一般,*,*,*,*,ひらがな,ヒラガナ,ヒラガナ",
        ]);
        let table = table_from_mecab(&dic).unwrap();
        assert_eq!(
            table,
            "一郎\tイチロウ\tg\n市\tイチ シ\t\n斎藤\tサイトウ\ts\n"
        );
        let r = Readings::parse(table).unwrap();
        assert_eq!(r.read("斎藤一郎", 4), vec!["サイトウイチロウ"]);
        // The wrong size in the header, or another charset, is refused.
        let mut bad = dic.clone();
        bad.push(0);
        assert!(table_from_mecab(&bad).is_err());
        let mut euc = dic;
        euc[40..44].copy_from_slice(b"euc\0");
        assert!(table_from_mecab(&euc).is_err());
    }

    #[test]
    fn lookup_and_flags() {
        let r = sample();
        let e = r.get("斉藤").unwrap();
        assert_eq!(e.readings, vec!["サイトウ"]);
        assert!(e.family && !e.given);
        assert!(r.get("斉").is_none());
        assert!(r.get("").is_none());
    }

    #[test]
    fn homophones_read_alike() {
        let r = sample();
        assert_eq!(r.read("斎藤", 8), r.read("斉藤", 8));
        assert!(r.read("市郎", 8).contains(&"イチロウ".to_string()));
        assert_eq!(r.read("田中一郎委員", 8)[0], "タナカイチロウイイン");
        assert_eq!(r.read("なかむら", 8), vec!["ナカムラ"]);
        assert_eq!(r.read("18番", 8), vec!["18番"]);
    }

    #[test]
    fn malformed_tables_are_refused() {
        assert_eq!(Readings::parse("b\tB\t\na\tA\t\n".into()).unwrap_err(), 2);
        assert_eq!(Readings::parse("a\tA\n".into()).unwrap_err(), 1);
        assert!(table_from_mecab(b"short").is_err());
        assert!(table_from_mecab(&[0u8; 200]).is_err());
    }
}
