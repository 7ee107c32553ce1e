//! Every container reader (IVF, Y4M, WAV, Ogg/Opus, WebM) fed hostile files: seeded
//! mutations of real files and headers that claim huge sizes. Nothing panics, every read ends
//! (in an error or the end of the file), and no single allocation exceeds a bound, whatever
//! the file claims: this binary counts allocations through its global allocator, so it holds
//! a single test (tests in one binary run in parallel and would count each other's).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrtc_media::container::{
    ContainerError, IvfReader, IvfWriter, OggOpusReader, OggOpusWriter, OpusHead, WavReader,
    WavWriter, WebmReader, WebmTrack, WebmWriter, Y4mReader, Y4mWriter,
};
use ferrtc_media::{AudioFrame, Codec, EncodedFrame, PixelFormat, TimeBase, VideoFrame};

/// Forwards to the system allocator, remembering the largest request. The only unsafe code
/// in this test: the `GlobalAlloc` contract, met by delegating every call unchanged.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Reads everything `bytes` holds with every reader; the number of reads is bounded by the
/// input length (every frame or packet consumes bytes), so a loop would fail the test.
fn read_all(bytes: &[u8]) {
    let limit = bytes.len() + 1;
    if let Ok(mut r) = IvfReader::new(Cursor::new(bytes)) {
        assert!((0..limit).any(|_| !matches!(r.read_frame(), Ok(Some(_)))));
    }
    if let Ok(mut r) = Y4mReader::new(Cursor::new(bytes)) {
        assert!((0..limit).any(|_| !matches!(r.read_frame(None), Ok(Some(_)))));
    }
    if let Ok(mut r) = WavReader::new(Cursor::new(bytes)) {
        assert!((0..limit).any(|_| !matches!(r.read_frame(960, None), Ok(Some(_)))));
    }
    if let Ok(mut r) = OggOpusReader::new(Cursor::new(bytes)) {
        assert!((0..limit).any(|_| !matches!(r.read_packet(), Ok(Some(_)))));
    }
    if let Ok(mut r) = WebmReader::new(Cursor::new(bytes)) {
        assert!((0..limit).any(|_| !matches!(r.read_frame(), Ok(Some(_)))));
    }
}

/// The largest single allocation made while reading `bytes`.
fn largest_allocation(bytes: &[u8]) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    read_all(bytes);
    LARGEST.load(Ordering::Relaxed)
}

fn sample_files() -> Vec<Vec<u8>> {
    let tb = TimeBase::MILLISECONDS;
    let frame = |data: Vec<u8>, pts| EncodedFrame {
        data,
        pts,
        time_base: tb,
        key_frame: pts == 0,
    };
    let mut ivf = IvfWriter::new(Cursor::new(Vec::new()), Codec::Vp8, 64, 48, tb).unwrap();
    for i in 0..4 {
        ivf.write_frame(&frame(vec![i as u8; 40 + i], i as i64 * 33))
            .unwrap();
    }
    let ivf = ivf.finish().unwrap().into_inner();

    let mut y4m = Y4mWriter::new(Vec::new(), 16, 8, (30, 1)).unwrap();
    for _ in 0..3 {
        y4m.write_frame(&VideoFrame::new(PixelFormat::I420, 16, 8).unwrap())
            .unwrap();
    }
    let y4m = y4m.finish().unwrap();

    let mut wav = WavWriter::new(Cursor::new(Vec::new()), 8000, 2).unwrap();
    wav.write_frame(&AudioFrame::from_s16(8000, 2, vec![7; 400]).unwrap())
        .unwrap();
    let wav = wav.finish().unwrap().into_inner();

    let head = OpusHead {
        channels: 2,
        pre_skip: 312,
        input_sample_rate: 48_000,
        output_gain: 0,
    };
    let mut ogg = OggOpusWriter::new(Vec::new(), head, 9).unwrap();
    for i in 0..5u8 {
        // TOC: CELT fullband 20 ms (config 31), one frame; then payload bytes.
        ogg.write_packet(&[31 << 3, i, i, i]).unwrap();
    }
    let ogg = ogg.finish().unwrap();

    let mut webm = WebmWriter::new(
        Cursor::new(Vec::new()),
        &[WebmTrack::video(Codec::Vp8, 64, 48), WebmTrack::opus(2)],
    )
    .unwrap();
    for i in 0..6 {
        webm.write_frame(0, &frame(vec![i as u8; 30], i * 33))
            .unwrap();
        webm.write_frame(1, &frame(vec![31 << 3, 1, 2], i * 20))
            .unwrap();
    }
    let webm = webm.finish().unwrap().into_inner();
    vec![ivf, y4m, wav, ogg, webm]
}

#[test]
fn readers_survive_hostile_files_with_bounded_allocations() {
    // Headers that claim more than they hold.
    let mut claims: Vec<(&str, Vec<u8>)> = Vec::new();
    // Y4M: a 16384 x 16384 frame (402 MB) announced by 40 bytes.
    let mut y4m = b"YUV4MPEG2 W16384 H16384 F30:1\nFRAME\n".to_vec();
    y4m.extend([0u8; 1000]);
    claims.push(("y4m", y4m));
    // IVF: a frame of 32 MB - 1 that is 100 bytes long.
    let mut ivf = sample_files()[0][..32].to_vec();
    ivf.extend(((32u32 << 20) - 1).to_le_bytes());
    ivf.extend([0u8; 8 + 100]);
    claims.push(("ivf", ivf));
    // WAV: a 4 GB data chunk holding 100 bytes.
    let mut wav = sample_files()[2][..36].to_vec();
    wav.extend(b"data");
    wav.extend(u32::MAX.to_le_bytes());
    wav.extend([0u8; 100]);
    claims.push(("wav", wav));
    // WebM: a cluster of unknown size with a 30 MB SimpleBlock, and a 1 MB Tracks element.
    let webm = &sample_files()[4];
    let cluster = webm
        .windows(4)
        .position(|w| w == [0x1F, 0x43, 0xB6, 0x75])
        .unwrap();
    let mut block = webm[..cluster].to_vec();
    block.extend([
        0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xA3, 0x83, 0xC0, 0, 0, 0x81, 0, 0, 0x80,
    ]);
    block.extend([0u8; 100]);
    claims.push(("webm block", block));
    let tracks = webm
        .windows(4)
        .position(|w| w == [0x16, 0x54, 0xAE, 0x6B])
        .unwrap();
    let mut header = webm[..tracks].to_vec();
    header.extend([0x16, 0x54, 0xAE, 0x6B, 0x10, 0x00, 0x00, 0x00]);
    header.extend([0u8; 100]);
    claims.push(("webm tracks", header));
    for (name, bytes) in &claims {
        let largest = largest_allocation(bytes);
        // The readers' own buffers start at 256 kB at most and grow with the data.
        assert!(
            largest <= 512 << 10,
            "{name}: allocated {largest} bytes at once"
        );
    }
    // The claims fail as truncated files, not as anything worse.
    assert!(matches!(
        Y4mReader::new(Cursor::new(&claims[0].1))
            .unwrap()
            .read_frame(None),
        Err(ContainerError::Truncated(_))
    ));
    assert!(matches!(
        IvfReader::new(Cursor::new(&claims[1].1))
            .unwrap()
            .read_frame(),
        Err(ContainerError::Truncated(_))
    ));

    // Seeded mutations of real files: flipped bits, overwritten bytes, cuts, and splices of
    // one file into another.
    let files = sample_files();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut largest = 0;
    for _ in 0..4000 {
        let mut m = files[(rand() % 5) as usize].clone();
        for _ in 0..1 + rand() % 5 {
            let at = (rand() % m.len() as u64) as usize;
            match rand() % 5 {
                0 => m[at] ^= 1 << (rand() % 8),
                1 => m[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01][(rand() % 5) as usize],
                2 => m[at] = rand() as u8,
                3 => m.truncate(at.max(1)),
                _ => {
                    let other = &files[(rand() % 5) as usize];
                    let from = (rand() % other.len() as u64) as usize;
                    let n = (rand() % 64) as usize;
                    m.splice(
                        at..at,
                        other[from..(from + n).min(other.len())].iter().copied(),
                    );
                }
            }
        }
        largest = largest.max(largest_allocation(&m));
    }
    // A Y4M header mutated to another size is read straight into its frame up to 16 MB
    // (4K UHD); every other buffer stays small.
    assert!(largest <= 17 << 20, "largest allocation {largest}");

    // A real frame above the direct-read limit (4096 x 4096, 25 MB) takes the buffered path
    // and comes back intact.
    let mut big = VideoFrame::new(PixelFormat::I420, 4096, 4096).unwrap();
    for (i, plane) in big.planes_mut().into_iter().enumerate() {
        for (j, b) in plane.iter_mut().enumerate() {
            *b = (j * 7 + i * 50) as u8;
        }
    }
    let mut w = Y4mWriter::new(Vec::new(), 4096, 4096, (30, 1)).unwrap();
    w.write_frame(&big).unwrap();
    let bytes = w.finish().unwrap();
    let back = Y4mReader::new(Cursor::new(bytes))
        .unwrap()
        .read_frame(None)
        .unwrap()
        .unwrap();
    for i in 0..3 {
        let n = big.plane_row_bytes(i);
        for r in 0..big.plane_rows(i) {
            assert_eq!(
                big.plane(i)[r * big.stride(i)..][..n],
                back.plane(i)[r * back.stride(i)..][..n]
            );
        }
    }
}

/// A WAV header naming more channels than a u16 block align holds (40,000 of 16-bit samples)
/// is refused as malformed: our writer could not write such a file back. Found by the
/// `media_wav` fuzz target (the reader took it, the writer refused its format).
#[test]
fn a_wav_header_with_too_many_channels_is_refused() {
    let mut header = Vec::new();
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&36u32.to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&40_000u16.to_le_bytes());
    header.extend_from_slice(&48_000u32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // byte rate (does not fit)
    header.extend_from_slice(&0u16.to_le_bytes()); // block align (does not fit)
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&0u32.to_le_bytes());
    assert!(matches!(
        WavReader::new(Cursor::new(&header)),
        Err(ContainerError::MalformedHeader(_))
    ));
}
