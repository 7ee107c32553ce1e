//! Ogg/Opus reader: any bytes through `OggOpusReader` (page CRCs are checked, so the seeds
//! matter). Nothing panics, every read ends, and the packets read write back through
//! `OggOpusWriter` and read again to the same packets and timestamps.
#![no_main]

use std::io::Cursor;

use ferrtc_media::container::{OggOpusReader, OggOpusWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = OggOpusReader::new(Cursor::new(data)) else {
        return;
    };
    let head = reader.head();
    let mut packets = Vec::new();
    while let Ok(Some(p)) = reader.read_packet() {
        packets.push(p);
        // An Opus packet is at least its TOC byte.
        assert!(
            packets.len() <= data.len(),
            "more packets than bytes for them"
        );
    }
    let mut writer = OggOpusWriter::new(Vec::new(), head, 7).expect("writing to memory");
    for p in &packets {
        writer
            .write_packet(&p.data)
            .expect("a packet the reader took");
    }
    let bytes = writer.finish().expect("writing to memory");
    let mut again = OggOpusReader::new(Cursor::new(&bytes)).expect("our own headers");
    assert_eq!(again.head(), head);
    for p in &packets {
        assert_eq!(again.read_packet().expect("our own page").as_ref(), Some(p));
    }
    assert!(matches!(again.read_packet(), Ok(None)));
});
