//! Audio (Opus, G.711, G.722) depacketize: arbitrary payload lists; a frame that comes out
//! equals the single payload it came from.
#![no_main]

use ferrtc_rtp_codecs::codec::Depacketizer;
use ferrtc_rtp_codecs::codec::audio::{AudioDepacketizer, AudioFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|packets: Vec<Vec<u8>>| {
    let refs: Vec<&[u8]> = packets.iter().map(|p| &p[..]).collect();
    let mut frame = Vec::new();
    if AudioDepacketizer::new(AudioFormat::Opus)
        .depacketize(&refs, &mut frame)
        .is_ok()
    {
        assert_eq!(refs.len(), 1);
        assert_eq!(frame, refs[0]);
    }
});
