//! Plain-text minutes: the title, the draft notice, the header block, then one
//! `発言者 : 発言` line per turn. Meant for quick reading and pasting, not for layout.

use super::{header_rows, title, DRAFT_NOTICE, SPEAKER_SEPARATOR};
use crate::minutes::Minutes;

pub(super) fn render(minutes: &Minutes) -> String {
    let mut out = format!("{}（案）\n{DRAFT_NOTICE}\n\n", title(minutes));
    for (label, lines) in header_rows(minutes) {
        match lines.as_slice() {
            [] => out.push_str(&format!("{label}：\n")),
            [one] => out.push_str(&format!("{label}：{one}\n")),
            many => {
                out.push_str(&format!("{label}：\n"));
                for line in many {
                    out.push_str(&format!("\u{3000}{line}\n"));
                }
            }
        }
    }
    out.push_str("\n議事の経過\n\n");
    for e in super::with_markers(minutes) {
        match e {
            super::Entry::Turn(t) => {
                out.push_str(&format!("{}{SPEAKER_SEPARATOR}{}\n", t.speaker, t.text))
            }
            super::Entry::Marker(m) => out.push_str(&format!("{}\n", super::marker_line(m))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_data;
    use super::*;

    #[test]
    fn text_snapshot() {
        let (m, _) = test_data::minutes();
        let want = "\
総務常任委員会記録（案）
この会議録は音声認識による下書き（案）です。内容を確認のうえ修正してください。

会議名：総務常任委員会
開催日時：令和7年11月25日(火) 午後3時45分～午後4時49分
場所：第1委員会室
出席者：
　委員長　山田太郎
　委員　佐藤花子
　委員　田中次郎
欠席者：
説明員・事務局：
　【説明員】
　総務部　総務課長　鈴木一郎
　【事務局】
　議事係長　高橋
議題：
　議案第1号 一関市税条例の一部を改正する条例
　所管事務調査 防災行政について

議事の経過

委員長 : ただいまから総務常任委員会を開会します。議案第1号を議題とします。当局の説明を求めます。
総務課長 : それでは議案第1号についてご説明いたします。
話者3 : 質疑はありませんか。
";
        assert_eq!(render(&m), want);
    }

    /// Bug pinned (issue 19): markers set while recording were kept only in the sidecar.
    #[test]
    fn recording_markers_sit_between_the_turns() {
        use crate::types::{Marker, Ms};
        let (m, _) = test_data::minutes();
        let mark = |at: u64, label: &str| Marker {
            at: Ms(at),
            label: label.into(),
        };
        // Pressed during the chair's turn, before the first turn, and after the last one.
        let m = m.with_markers(vec![
            mark(5_000, "予算の説明"),
            mark(0, "マーカー1"),
            mark(3_700_000, "閉会後"),
        ]);
        let text = render(&m);
        let body = text.split("議事の経過\n\n").nth(1).unwrap();
        assert_eq!(
            body,
            "◆マーカー1（0:00:00）
委員長 : ただいまから総務常任委員会を開会します。議案第1号を議題とします。当局の説明を求めます。
◆予算の説明（0:00:05）
総務課長 : それでは議案第1号についてご説明いたします。
話者3 : 質疑はありませんか。
◆閉会後（1:01:40）
"
        );
    }
}
