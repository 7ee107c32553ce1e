//! WebM reader: any bytes through `WebmReader`. Nothing panics, every read ends, no element
//! size taken from the file is allocated before its bytes are there, and where the tracks
//! are ones the writer takes, the frames write back through `WebmWriter` and read again to
//! the same data, tracks and key-frame flags.
#![no_main]

use std::io::Cursor;

use ferrtc_media::EncodedFrame;
use ferrtc_media::container::{WebmReader, WebmWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = WebmReader::new(Cursor::new(data)) else {
        return;
    };
    let tracks = reader.tracks().to_vec();
    let time_base = reader.time_base();
    let _ = reader.duration_seconds();
    let mut frames = Vec::new();
    while let Ok(Some(f)) = reader.read_frame() {
        assert!(f.track < tracks.len());
        frames.push(f);
        // A block is at least an ID, a size and its four-byte header.
        assert!(
            frames.len() <= data.len() / 4,
            "more frames than bytes for them"
        );
    }
    let Ok(mut writer) = WebmWriter::new(Cursor::new(Vec::new()), &tracks) else {
        return;
    };
    let mut written = Vec::new();
    for f in &frames {
        let frame = EncodedFrame {
            data: f.data.clone(),
            pts: f.pts,
            time_base,
            key_frame: f.key_frame,
        };
        if writer.write_frame(f.track, &frame).is_ok() {
            written.push(f);
        }
    }
    let bytes = writer.finish().expect("writing to memory").into_inner();
    let mut again = WebmReader::new(Cursor::new(&bytes)).expect("our own header");
    assert_eq!(again.tracks().len(), tracks.len());
    for f in written {
        let g = again.read_frame().expect("our own block").expect("a frame");
        assert_eq!((g.track, &g.data), (f.track, &f.data));
        if tracks[f.track].codec.kind() == ferrtc_media::MediaKind::Video {
            assert_eq!(g.key_frame, f.key_frame);
        }
    }
});
