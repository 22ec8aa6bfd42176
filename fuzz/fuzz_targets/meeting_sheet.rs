//! `MeetingSheet::parse` on arbitrary text, then everything a sheet feeds: the meeting header
//! (`Meeting::resolve`, 和暦 dates) and the minutes in every export format. A bad sheet must
//! come back as a `SheetError` whose message renders; a sheet that parses must draft.
#![no_main]

use std::path::Path;

use gijiroku::export::Format;
use gijiroku::minutes::{Meeting, MeetingSheet, MinutesConfig};
use libfuzzer_sys::fuzz_target;

/// An hour-long meeting with one utterance by 話者1, whom a sheet may name.
const TRANSCRIPT: &str = r#"{"segments":[{"start":0.0,"end":1.5,"speaker":"話者1",
"text":"ただいまから会議を開きます。","confidence":0.9}],"labels":["話者1"],
"audio_seconds":3600.0}"#;

const MAX_INPUT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let sheet = match MeetingSheet::parse(&text, Path::new("会議.toml")) {
        Ok(sheet) => sheet,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let transcript = gijiroku::export::read_json(TRANSCRIPT.as_bytes())
        .expect("the built-in transcript reads")
        .transcript();
    let modified =
        chrono::NaiveDate::from_ymd_opt(2025, 11, 25).and_then(|d| d.and_hms_opt(16, 49, 0));
    let meeting = Meeting::resolve(Some(&sheet), modified, transcript.duration);
    let _ = meeting.date_range_wareki();
    let minutes = gijiroku::minutes::draft(&transcript, &meeting, &MinutesConfig::default());
    for format in Format::ALL {
        let mut out = Vec::new();
        gijiroku::export::write(&minutes, &transcript, format, &mut out).expect("export");
    }
});
