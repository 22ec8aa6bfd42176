//! The people of the meeting sheet as a roster: each with the label a 会議録 gives them
//! (委員長, 中村委員, 田中（一）委員, 総務部長 …) and the ways a chair calls them.

use super::readings::{to_katakana, Readings};
use crate::minutes::{LabelStyle, MeetingSheet, Person};

/// A person's part in the meeting, from the sheet's list and 職.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 委員長, 議長, 会長, 座長: opens the meeting and calls the speakers.
    Chair,
    ViceChair,
    Member,
    /// 説明員 and attendees with a post other than member.
    Official,
    Secretariat,
}

/// One person who may speak.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// What the 会議録 prints before their words.
    pub label: String,
    pub role: Role,
    pub post: String,
    pub family: String,
    pub given: String,
    pub seat: Option<u32>,
    /// 氏名 in katakana when the sheet gives よみ (family and given, no space).
    pub reading: Option<(String, String)>,
}

const CHAIR_POSTS: [&str; 5] = ["委員長", "議長", "会長", "座長", "部会長"];
const MEMBER_POSTS: [&str; 4] = ["委員", "議員", "構成員", "会員"];

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}' || c == '\t'
}

/// 氏名 as (family, given). A space separates them when written; otherwise the longest
/// family name the dictionary knows at the start, else two characters.
pub fn split_name(name: &str, readings: Option<&Readings>) -> (String, String) {
    let name = name.trim_matches(is_space);
    if let Some((f, g)) = name.split_once(is_space) {
        return (f.to_string(), g.trim_matches(is_space).to_string());
    }
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 2 {
        return (name.to_string(), String::new());
    }
    if let Some(r) = readings {
        for len in (1..chars.len()).rev() {
            let head: String = chars[..len].iter().collect();
            let tail: String = chars[len..].iter().collect();
            if r.get(&head).is_some_and(|e| e.family) && r.get(&tail).is_some_and(|e| e.given) {
                return (head, tail);
            }
        }
        for len in (1..chars.len()).rev() {
            let head: String = chars[..len].iter().collect();
            if r.get(&head).is_some_and(|e| e.family) {
                return (head, chars[len..].iter().collect());
            }
        }
    }
    (
        chars[..2].iter().collect(),
        chars[2..].iter().collect::<String>(),
    )
}

fn role_of(p: &Person, list: Role) -> Role {
    let post = p.role.trim();
    if list == Role::Member {
        if post.starts_with('副') && CHAIR_POSTS.iter().any(|c| post.ends_with(c)) {
            return Role::ViceChair;
        }
        if CHAIR_POSTS.contains(&post) {
            return Role::Chair;
        }
        if post.is_empty() || MEMBER_POSTS.contains(&post) {
            return Role::Member;
        }
        return Role::Official;
    }
    list
}

/// The roster: attendees (chair, vice chair, members, other posts), 説明員 and 事務局, each
/// labelled in the sheet's style; absentees are left out.
pub fn roster(sheet: &MeetingSheet, readings: Option<&Readings>) -> Vec<Member> {
    let mut out: Vec<Member> = Vec::new();
    let lists = [
        (&sheet.attendees, Role::Member),
        (&sheet.explainers, Role::Official),
        (&sheet.secretariat, Role::Secretariat),
    ];
    for (people, list) in lists {
        for p in people.iter().filter(|p| !p.is_empty()) {
            let (family, given) = split_name(&p.name, readings);
            let reading = (!p.reading.trim().is_empty()).then(|| {
                let kana = to_katakana(p.reading.trim());
                match kana.split_once(is_space) {
                    Some((f, g)) => (f.to_string(), g.trim_matches(is_space).to_string()),
                    None => (kana.clone(), String::new()),
                }
            });
            out.push(Member {
                label: String::new(),
                role: role_of(p, list),
                post: p.role.trim().to_string(),
                family,
                given,
                seat: p.seat,
                reading,
            });
        }
    }
    let explicit: Vec<String> = lists
        .iter()
        .flat_map(|(people, _)| people.iter().filter(|p| !p.is_empty()))
        .map(|p| p.label.trim().to_string())
        .collect();
    let labels: Vec<String> = (0..out.len())
        .map(|i| {
            if !explicit[i].is_empty() {
                explicit[i].clone()
            } else {
                label_for(&out, i, sheet.label_style)
            }
        })
        .collect();
    for (m, l) in out.iter_mut().zip(labels) {
        m.label = l;
    }
    out
}

fn full_name(m: &Member) -> String {
    format!("{}{}", m.family, m.given)
}

fn label_for(all: &[Member], i: usize, style: LabelStyle) -> String {
    let m = &all[i];
    let shares = |f: &dyn Fn(&Member) -> bool| all.iter().enumerate().any(|(j, o)| j != i && f(o));
    match m.role {
        Role::Chair | Role::ViceChair => m.post.clone(),
        Role::Member => {
            let title = if m.post.is_empty() || m.post == "構成員" || m.post == "会員" {
                "委員"
            } else {
                m.post.as_str()
            };
            match style {
                LabelStyle::Committee => {
                    let clash = shares(&|o: &Member| {
                        o.role == Role::Member && o.family == m.family && !m.family.is_empty()
                    });
                    match m.given.chars().next() {
                        Some(g) if clash => format!("{}（{}）{}", m.family, g, title),
                        _ => format!("{}{}", m.family, title),
                    }
                }
                LabelStyle::Council => format!("{}議員", full_name(m)),
                LabelStyle::Kun => format!("{}君", full_name(m)),
            }
        }
        Role::Official | Role::Secretariat => {
            if m.post.is_empty() {
                return match style {
                    LabelStyle::Kun => format!("{}君", full_name(m)),
                    _ => format!("{}さん", m.family),
                };
            }
            let post_clash = shares(&|o: &Member| o.post == m.post && o.role == m.role);
            let post = if post_clash {
                format!("{}{}", m.family, m.post)
            } else {
                m.post.clone()
            };
            match style {
                LabelStyle::Kun => format!("{}（{}君）", post, full_name(m)),
                _ => post,
            }
        }
    }
}

/// The ways a chair calls `m`: written forms, each the name part and the title that ends it.
pub fn call_forms(m: &Member) -> Vec<(String, String)> {
    let full = full_name(m);
    let mut names = vec![m.family.clone()];
    if !m.given.is_empty() {
        names.push(full.clone());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, title: &str| {
        let form = (name.to_string(), title.to_string());
        let blank = name.is_empty() && title.is_empty();
        if !blank && !out.contains(&form) {
            out.push(form);
        }
    };
    match m.role {
        Role::Chair | Role::ViceChair => {
            add("", &m.post);
            for n in &names {
                add(n, &m.post);
                add(n, "委員");
            }
        }
        Role::Member => {
            for n in &names {
                for t in ["委員", "議員", "君", "さん"] {
                    add(n, t);
                }
                if !m.post.is_empty() {
                    add(n, &m.post);
                }
            }
        }
        Role::Official | Role::Secretariat => {
            if !m.post.is_empty() {
                add("", &m.post);
            }
            for n in &names {
                if !m.post.is_empty() {
                    add(n, &m.post);
                }
                add(n, "君");
                add(n, "さん");
            }
        }
    }
    // The full name alone (the recogniser sometimes drops the title).
    if !m.given.is_empty() {
        add(&full, "");
    }
    if !m.label.is_empty() {
        add(&m.label, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::readings::sample;

    fn sheet(toml: &str) -> MeetingSheet {
        MeetingSheet::parse(toml, std::path::Path::new("t.toml")).expect("sheet")
    }

    #[test]
    fn committee_labels_with_shared_family_names() {
        let s = sheet(
            r#"
出席者 = [{ 職 = "委員長", 氏名 = "山田 太郎" }, { 職 = "副委員長", 氏名 = "中村" },
         "委員 田中 一郎", "委員 田中 花子", "委員 佐々木次郎", { 職 = "委員", 氏名 = "伊藤", 表記 = "伊藤美咲委員" }]
説明員 = [{ 所属 = "総務部", 職 = "総務部長", 氏名 = "鈴木 一郎" }]
事務局 = [{ 職 = "企画係長", 氏名 = "高橋" }]
"#,
        );
        let r = roster(&s, Some(&sample()));
        let labels: Vec<&str> = r.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "委員長",
                "副委員長",
                "田中（一）委員",
                "田中（花）委員",
                "佐々木委員",
                "伊藤美咲委員",
                "総務部長",
                "企画係長"
            ]
        );
        assert_eq!(r[0].role, Role::Chair);
        assert_eq!(
            (r[4].family.as_str(), r[4].given.as_str()),
            ("佐々木", "次郎")
        );
    }

    #[test]
    fn council_and_kun_styles() {
        let s = sheet(
            r#"
話者表記 = "君"
出席者 = [{ 職 = "議長", 氏名 = "山田太郎" }, { 職 = "議員", 氏名 = "山本 太郎", 番号 = 18 }]
説明員 = [{ 職 = "企画部長", 氏名 = "鈴木 次郎" }]
"#,
        );
        let r = roster(&s, None);
        let labels: Vec<&str> = r.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["議長", "山本太郎君", "企画部長（鈴木次郎君）"]);
        assert_eq!(r[1].seat, Some(18));
        let s = sheet("話者表記 = \"議員\"\n出席者 = [\"議員 山本 太郎\"]\n");
        assert_eq!(roster(&s, None)[0].label, "山本太郎議員");
    }

    #[test]
    fn names_split_with_and_without_the_dictionary() {
        let r = sample();
        assert_eq!(
            split_name("田中一郎", Some(&r)),
            ("田中".into(), "一郎".into())
        );
        assert_eq!(
            split_name("佐々木花子", Some(&r)),
            ("佐々木".into(), "花子".into())
        );
        assert_eq!(
            split_name("田中 一郎", None),
            ("田中".into(), "一郎".into())
        );
        assert_eq!(split_name("高橋", None), ("高橋".into(), String::new()));
    }
}
