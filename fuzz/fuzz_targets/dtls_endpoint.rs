//! DTLS endpoint: see `ferrtc_dtls::fuzzing::endpoint` for what is asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferrtc_dtls::fuzzing::endpoint(data);
});
