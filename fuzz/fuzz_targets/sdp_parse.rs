//! SDP parse: any bytes (as lossy UTF-8) through `SessionDescription::parse`; where it
//! succeeds, the canonical text must parse back to the same model and serialize to the same
//! text. Single attribute and candidate lines get the same treatment.
#![no_main]

use ferrtc_sdp::{Attribute, Candidate, SessionDescription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match SessionDescription::parse(&text) {
        Ok(sdp) => {
            let canonical = sdp.to_string();
            let again = SessionDescription::parse(&canonical)
                .unwrap_or_else(|e| panic!("canonical text rejected: {e}\n{canonical}"));
            assert_eq!(again, sdp);
            assert_eq!(again.to_string(), canonical);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // Lines are trimmed of trailing whitespace before attributes see them.
    let line = text.trim_end_matches([' ', '\t', '\r', '\n']);
    if !line.contains('\n')
        && let Ok(attr) = Attribute::parse(line)
    {
        assert_eq!(Attribute::parse(&attr.to_string()), Ok(attr));
    }
    if let Ok(c) = Candidate::parse(&text) {
        assert_eq!(Candidate::parse(&c.to_string()), Ok(c));
    }
});
