//! WAV reader: any bytes through `WavReader` (a frame size from the first input byte).
//! Nothing panics, a data chunk that claims 4 GB is not allocated, and the samples read write
//! back through `WavWriter` and read again unchanged.
#![no_main]

use std::io::Cursor;

use ferrtc_media::container::{WavReader, WavWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, data)) = data.split_first() else {
        return;
    };
    let samples = usize::from(n) * 8 + 1;
    let Ok(mut reader) = WavReader::new(Cursor::new(data)) else {
        return;
    };
    let (rate, channels) = (reader.sample_rate(), reader.channels());
    let mut all = Vec::new();
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = reader.read_frame(samples, None) {
        assert_eq!((frame.sample_rate(), frame.channels()), (rate, channels));
        assert!(frame.samples() > 0 && frame.samples() <= samples);
        assert_eq!(frame.pts, all.len() as i64 / i64::from(channels));
        all.extend_from_slice(frame.s16().expect("the reader gives s16"));
        frames.push(frame);
        // Each frame consumes at least one sample of every channel, two bytes each.
        assert!(
            all.len() <= data.len() / 2,
            "more samples than bytes for them"
        );
    }
    let mut writer = WavWriter::new(Cursor::new(Vec::new()), rate, channels).expect("in memory");
    for f in &frames {
        writer.write_frame(f).expect("a frame of the file's format");
    }
    let bytes = writer.finish().expect("writing to memory").into_inner();
    let mut again = WavReader::new(Cursor::new(&bytes)).expect("our own header");
    assert_eq!((again.sample_rate(), again.channels()), (rate, channels));
    let mut back = Vec::new();
    while let Some(f) = again.read_frame(4096, None).expect("our own samples") {
        back.extend_from_slice(f.s16().expect("s16"));
    }
    assert_eq!(back, all);
});
