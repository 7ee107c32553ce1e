//! Y4M reader: any bytes through `Y4mReader`. Nothing panics, a header that claims a huge
//! picture does not make the reader allocate it, and the frames read write back through
//! `Y4mWriter` and read again to the same pictures.
#![no_main]

use std::io::Cursor;

use ferrtc_media::container::{Y4mReader, Y4mWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Y4mReader::new(Cursor::new(data)) else {
        return;
    };
    let (w, h, rate) = (reader.width(), reader.height(), reader.frame_rate());
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = reader.read_frame(None) {
        frames.push(frame);
        // Each frame consumes at least its `FRAME` line and a byte per pixel.
        assert!(
            frames.len() <= data.len() / 7,
            "more frames than bytes for them"
        );
    }
    let mut writer = Y4mWriter::new(Vec::new(), w, h, rate).expect("writing to memory");
    for f in &frames {
        assert_eq!((f.width(), f.height()), (w, h));
        writer.write_frame(f).expect("a frame of the stream's size");
    }
    let bytes = writer.finish().expect("writing to memory");
    let mut again = Y4mReader::new(Cursor::new(&bytes)).expect("our own header");
    assert_eq!((again.width(), again.height()), (w, h));
    assert_eq!(again.frame_rate(), rate);
    for f in &frames {
        let g = again
            .read_frame(None)
            .expect("our own frame")
            .expect("a frame");
        for plane in 0..3 {
            let (row, rows) = (f.plane_row_bytes(plane), f.plane_rows(plane));
            for r in 0..rows {
                assert_eq!(
                    &f.plane(plane)[r * f.stride(plane)..][..row],
                    &g.plane(plane)[r * g.stride(plane)..][..row]
                );
            }
        }
        assert_eq!(g.pts, f.pts);
    }
    assert!(matches!(again.read_frame(None), Ok(None)));
});
