//! `gijiroku::export::read_json` + `.transcript()` on arbitrary bytes, then what
//! `gijiroku relabel` does with a document that reads: draft the minutes again and write every
//! format. Not-our-JSON must be an `ExportError`; a document that reads must export.
#![no_main]

use gijiroku::export::Format;
use libfuzzer_sys::fuzz_target;

const MAX_INPUT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let doc = match gijiroku::export::read_json(data) {
        Ok(doc) => doc,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let (minutes, transcript) = doc.redraft(&doc.meeting);
    for format in Format::ALL {
        let mut out = Vec::new();
        gijiroku::export::write(&minutes, &transcript, format, &mut out).expect("export");
    }
});
