//! IVF reader: any bytes through `IvfReader`. Nothing panics, every read ends (each frame
//! consumes at least its 12-byte header), and what was read writes back through `IvfWriter`
//! and reads again to the same header and frames.
#![no_main]

use std::io::Cursor;

use ferrtc_media::EncodedFrame;
use ferrtc_media::container::{IvfReader, IvfWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = IvfReader::new(Cursor::new(data)) else {
        return;
    };
    let header = reader.header();
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = reader.read_frame() {
        frames.push(frame);
        assert!(
            frames.len() <= data.len() / 12,
            "more frames than bytes for them"
        );
    }
    let mut writer = IvfWriter::new(
        Cursor::new(Vec::new()),
        header.codec,
        header.width,
        header.height,
        header.time_base,
    )
    .expect("a codec the reader accepts is one the writer takes");
    for f in &frames {
        let frame = EncodedFrame {
            data: f.data.clone(),
            pts: f.pts,
            time_base: header.time_base,
            key_frame: false,
        };
        writer.write_frame(&frame).expect("writing to memory");
    }
    let bytes = writer.finish().expect("writing to memory").into_inner();
    let mut again = IvfReader::new(Cursor::new(&bytes)).expect("our own header");
    let h = again.header();
    assert_eq!(
        (h.codec, h.width, h.height),
        (header.codec, header.width, header.height)
    );
    assert_eq!(h.time_base, header.time_base);
    assert_eq!(h.frame_count as usize, frames.len());
    for f in &frames {
        assert_eq!(again.read_frame().expect("our own frame").as_ref(), Some(f));
    }
    assert!(matches!(again.read_frame(), Ok(None)));
});
