//! RTTM (NIST Rich Transcription Time Marked) speaker turns, the format diarization scorers
//! read: `SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>`, times in seconds.
//! Diarization's own turns are used when present (they are finer than recognised segments);
//! otherwise the transcript utterances. Speaker names go through the sheet's 話者 table;
//! whitespace inside a name becomes `_` because RTTM fields are space separated.

use std::fmt::Write as _;

use crate::minutes::Minutes;
use crate::types::{Span, Speaker, Transcript};

/// The `<file>` field: the recording's identity is not known here, and scorers only need it
/// to match between reference and hypothesis when both come from one tool.
const FILE_ID: &str = "gijiroku";

pub(super) fn render(minutes: &Minutes, transcript: &Transcript) -> String {
    let turns: Vec<(Span, Speaker)> = if transcript.speaker_turns.is_empty() {
        transcript
            .utterances
            .iter()
            .filter(|u| !u.text.trim().is_empty())
            .map(|u| (u.span, u.speaker.clone()))
            .collect()
    } else {
        transcript
            .speaker_turns
            .iter()
            .map(|t| (t.span, Speaker::Voice(t.speaker)))
            .collect()
    };
    let mut out = String::new();
    for (span, label) in turns.into_iter().filter(|(s, _)| !s.is_empty()) {
        let name: String = minutes
            .meeting
            .display_name(&label)
            .chars()
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "SPEAKER {FILE_ID} 1 {:.3} {:.3} <NA> <NA> {name} <NA> <NA>",
            span.start.as_secs_f64(),
            span.len().as_secs_f64()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Ms, SpeakerId, SpeakerTurn};

    #[test]
    fn uses_diarization_turns_and_sheet_names() {
        let (mut minutes, mut transcript) = super::super::test_data::minutes();
        minutes.meeting.speaker_names = [("話者1".to_string(), "総務 課長".to_string())].into();
        transcript.speaker_turns = vec![
            SpeakerTurn {
                span: Span::new(Ms(1000), Ms(2500)),
                speaker: SpeakerId(1),
            },
            SpeakerTurn {
                span: Span::new(Ms(3000), Ms(3000)),
                speaker: SpeakerId(2),
            },
            SpeakerTurn {
                span: Span::new(Ms(3000), Ms(4200)),
                speaker: SpeakerId(2),
            },
        ];
        let text = render(&minutes, &transcript);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "SPEAKER gijiroku 1 1.000 1.500 <NA> <NA> 総務_課長 <NA> <NA>",
                "SPEAKER gijiroku 1 3.000 1.200 <NA> <NA> 話者2 <NA> <NA>",
            ]
        );
    }

    #[test]
    fn falls_back_to_utterances() {
        let (minutes, transcript) = super::super::test_data::minutes();
        let text = render(&minutes, &transcript);
        let spoken = transcript
            .utterances
            .iter()
            .filter(|u| !u.text.trim().is_empty())
            .count();
        assert_eq!(text.lines().count(), spoken);
        assert!(text.lines().all(|l| l.starts_with("SPEAKER gijiroku 1 ")));
    }
}
