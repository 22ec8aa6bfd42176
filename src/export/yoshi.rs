//! The 要旨 DOCX (abridged minutes): the 会議録 frame — title with （要旨）, draft notice,
//! header table — then 議事の概要, where each speaker's key sentences are set out as in a
//! 答弁要旨: a `○委員長` line and one `・…` line per sentence. The sentences are chosen by
//! [`crate::minutes::abridge`]; [`gist_paragraphs`] and [`gist_lines`] are shared with the
//! 復命書 and with user forms (`{{要旨}}`).

use docx_rs::{AlignmentType, Paragraph, SpecialIndentType};

use super::docx::{
    header_table, heading, notice_paragraph, pack, page, run, spacing, title_paragraph, CHAR_WIDTH,
};
use super::{title, ExportError};
use crate::minutes::abridge::{abridge, AbridgeConfig, Gist};
use crate::minutes::Minutes;
use crate::types::Transcript;

/// Marks the speaker line of a gist, as 答弁要旨 do.
pub(super) const SPEAKER_MARK: &str = "○";
/// Starts each key sentence.
pub(super) const BULLET: &str = "・";

/// The red notice under the title: the sentences were picked by rule, not summarised.
const NOTICE: &str =
    "主な発言を機械的に抜き出した下書き（案）です。趣旨を確認のうえ修正してください。";

pub(super) fn render(minutes: &Minutes, transcript: &Transcript) -> Result<Vec<u8>, ExportError> {
    let mut doc = page()
        .add_paragraph(title_paragraph(&format!("{}（要旨）", title(minutes))))
        .add_paragraph(notice_paragraph(NOTICE))
        .add_table(header_table(minutes))
        .add_paragraph(heading("議事の概要"));
    for p in gist_paragraphs(&gists(minutes, transcript)) {
        doc = doc.add_paragraph(p);
    }
    pack(doc)
}

/// The abridged turns with the default caps.
pub(super) fn gists(minutes: &Minutes, transcript: &Transcript) -> Vec<Gist> {
    abridge(minutes, transcript, &AbridgeConfig::default())
}

/// `○委員長` (bold, kept with its first bullet) and `・…` paragraphs whose wrapped lines
/// align after the bullet.
pub(super) fn gist_paragraphs(gists: &[Gist]) -> Vec<Paragraph> {
    let mut out = Vec::new();
    for g in gists {
        out.push(
            Paragraph::new()
                .line_spacing(spacing(120, 0))
                .keep_next(true)
                .add_run(run(&format!("{SPEAKER_MARK}{}", g.speaker)).bold()),
        );
        for s in &g.sentences {
            out.push(
                Paragraph::new()
                    .align(AlignmentType::Both)
                    .indent(
                        Some(2 * CHAR_WIDTH),
                        Some(SpecialIndentType::Hanging(CHAR_WIDTH)),
                        None,
                        None,
                    )
                    .line_spacing(spacing(0, 0))
                    .add_run(run(&format!("{BULLET}{s}"))),
            );
        }
    }
    out
}

/// The same as plain lines (`○委員長`, `・…`), for forms and text.
pub(super) fn gist_lines(gists: &[Gist]) -> Vec<String> {
    gists
        .iter()
        .flat_map(|g| {
            std::iter::once(format!("{SPEAKER_MARK}{}", g.speaker))
                .chain(g.sentences.iter().map(|s| format!("{BULLET}{s}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{render_docx, test_data, Template};
    use super::*;
    use crate::minutes::Turn;

    #[test]
    fn lines_follow_the_toben_yoshi_style() {
        let (mut m, t) = test_data::minutes();
        m.turns.push(Turn {
            speaker: "委員".into(),
            text: "はい。ありがとうございます。".into(),
            ..m.turns[2].clone()
        });
        let lines = gist_lines(&gists(&m, &t));
        assert_eq!(
            lines,
            vec![
                "○委員長",
                "・ただいまから総務常任委員会を開会します。",
                "・議案第1号を議題とします。",
                "○総務課長",
                "・それでは議案第1号についてご説明いたします。",
                "○話者3",
                "・質疑はありませんか。",
            ]
        );
        let docx = render_docx(&m, &t, &Template::Yoshi).unwrap();
        let text = super::super::template::tests::document_text(&docx);
        assert!(text.starts_with("総務常任委員会記録（要旨）\n"), "{text}");
        assert!(
            text.contains("議事の概要\n○委員長\n・ただいまから"),
            "{text}"
        );
        assert!(!text.contains("ありがとうございます"), "{text}");
    }
}
