//! SRT and WebVTT subtitles: one cue per transcript utterance, the speaker's display name in
//! front (`委員長 : …` in SRT, a `<v 委員長>` voice span in VTT). Empty utterances get no cue.

use std::fmt::Write as _;

use super::SPEAKER_SEPARATOR;
use crate::minutes::Minutes;
use crate::types::{Ms, Transcript, Utterance};

/// `HH:MM:SS` + `sep` + `mmm`; hours keep growing past 99 rather than wrapping.
fn timestamp(t: Ms, sep: char) -> String {
    let ms = t.0 % 1000;
    let s = t.0 / 1000;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ms
    )
}

fn cues<'a>(
    minutes: &'a Minutes,
    t: &'a Transcript,
) -> impl Iterator<Item = (&'a Utterance, String, &'a str)> {
    t.utterances.iter().filter_map(|u| {
        let text = u.text.trim();
        (!text.is_empty()).then(|| (u, minutes.meeting.display_name(&u.speaker), text))
    })
}

pub(super) fn srt(minutes: &Minutes, transcript: &Transcript) -> String {
    let mut out = String::new();
    for (i, (u, speaker, text)) in cues(minutes, transcript).enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{}\n{} --> {}\n{speaker}{SPEAKER_SEPARATOR}{text}\n\n",
            i + 1,
            timestamp(u.span.start, ','),
            timestamp(u.span.end, ',')
        );
    }
    out
}

/// Cue text must not contain `&`, `<`, `>` unescaped, nor a blank line.
fn vtt_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

pub(super) fn vtt(minutes: &Minutes, transcript: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (u, speaker, text) in cues(minutes, transcript) {
        let _ = write!(
            out,
            "{} --> {}\n<v {}>{}\n\n",
            timestamp(u.span.start, '.'),
            timestamp(u.span.end, '.'),
            vtt_escape(&speaker),
            vtt_escape(text)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_data;
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(Ms(1230), ','), "00:00:01,230");
        assert_eq!(timestamp(Ms(1230), '.'), "00:00:01.230");
        assert_eq!(timestamp(Ms(3_661_001), ','), "01:01:01,001");
        assert_eq!(timestamp(Ms(0), '.'), "00:00:00.000");
        assert_eq!(timestamp(Ms(100 * 3_600_000), ','), "100:00:00,000");
    }

    #[test]
    fn srt_cues() {
        let (m, t) = test_data::minutes();
        let s = srt(&m, &t);
        assert!(s.starts_with(
            "1\n00:00:01,230 --> 00:00:04,560\n委員長 : ただいまから総務常任委員会を開会します。\n\n2\n"
        ));
        assert!(s.contains("4\n01:01:01,001 --> 01:01:02,000\n話者3 : 質疑はありませんか。\n\n"));
        assert_eq!(s.matches(" --> ").count(), 4, "one cue per utterance");
    }

    #[test]
    fn vtt_cues() {
        let (m, mut t) = test_data::minutes();
        t.utterances[2].text = "A<B & C".into();
        t.utterances
            .push(test_data::utt(3_700_000, 3_701_000, "話者1", "  "));
        let v = vtt(&m, &t);
        assert!(v.starts_with(
            "WEBVTT\n\n00:00:01.230 --> 00:00:04.560\n<v 委員長>ただいまから総務常任委員会を開会します。\n\n"
        ));
        assert!(v.contains("<v 総務課長>A&lt;B &amp; C\n"));
        assert_eq!(v.matches(" --> ").count(), 4, "empty utterances get no cue");
    }
}
