//! Ogg/Opus and WebM, written from RFC 7845/3533 and the Matroska spec: round trips in memory,
//! files checked by `ffprobe` (Debian `ffmpeg`), files made by `ffmpeg` read and decoded by
//! us, MediaRecorder -> MediaPlayer through both formats, and readers fed hostile bytes.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{MovingPattern, psnr_y};
use ferrtc_media::container::{
    ContainerError, OPUS_DEFAULT_PRE_SKIP, OggOpusReader, OggOpusWriter, OpusHead, WebmReader,
    WebmTrack, WebmWriter, opus_packet_samples,
};
use ferrtc_media::{
    AudioDecoder, AudioEncoder, AudioFrame, Codec, EncodedFrame, Frame, MediaError, MediaKind,
    MediaPlayer, MediaRecorder, MediaStreamTrack, OpusDecoder, OpusEncoder, TimeBase, VideoDecoder,
    VideoEncoder, VideoEncoderConfig, VpxDecoder, VpxEncoder, track_channel,
};
use proptest::prelude::*;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrtc-media-ow-{}-{name}", std::process::id()))
}

/// `seconds` of a 440 Hz tone at 48 kHz mono, encoded as 20 ms Opus packets.
fn opus_packets(seconds: usize) -> Vec<EncodedFrame> {
    let mut enc = OpusEncoder::new(48_000, 1, 64_000).unwrap();
    let tone: Vec<i16> = (0..48_000 * seconds)
        .map(|i| ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 48_000.0).sin() * 8000.0) as i16)
        .collect();
    let mut out = Vec::new();
    for (i, chunk) in tone.chunks(960).enumerate() {
        let mut f = AudioFrame::from_s16(48_000, 1, chunk.to_vec()).unwrap();
        f.pts = (i * 960) as i64;
        enc.encode(&f, &mut out).unwrap();
    }
    out
}

fn vp8_frames(codec: Codec, n: usize, w: u32, h: u32) -> Vec<EncodedFrame> {
    let config = VideoEncoderConfig {
        width: w,
        height: h,
        bitrate_bps: 500_000,
        frame_rate: 30,
    };
    let mut enc = match codec {
        Codec::Vp9 => VpxEncoder::vp9(config).unwrap(),
        _ => VpxEncoder::vp8(config).unwrap(),
    };
    let mut pattern = MovingPattern::new(w, h);
    let mut out = Vec::new();
    for i in 0..n {
        if i == n / 2 {
            enc.request_key_frame();
        }
        enc.encode(&pattern.next_frame(), &mut out).unwrap();
    }
    assert_eq!(out.len(), n);
    out
}

fn ogg_bytes(packets: &[EncodedFrame]) -> Vec<u8> {
    let head = OpusHead {
        channels: 1,
        pre_skip: OPUS_DEFAULT_PRE_SKIP,
        input_sample_rate: 48_000,
        output_gain: 0,
    };
    let mut w = OggOpusWriter::new(Vec::new(), head, 0x1234_5678).unwrap();
    for p in packets {
        w.write_frame(p).unwrap();
    }
    assert_eq!(w.packets(), packets.len() as u64);
    w.finish().unwrap()
}

fn webm_bytes(video: &[EncodedFrame], audio: &[EncodedFrame], codec: Codec) -> Vec<u8> {
    let mut w = WebmWriter::new(
        Cursor::new(Vec::new()),
        &[WebmTrack::video(codec, 160, 120), WebmTrack::opus(1)],
    )
    .unwrap();
    // Interleaved by time, as a recorder of both tracks would write them.
    let (mut v, mut a) = (video.iter().peekable(), audio.iter().peekable());
    loop {
        let vt = v.peek().map(|f| f.time_base.seconds(f.pts));
        let at = a.peek().map(|f| f.time_base.seconds(f.pts));
        match (vt, at) {
            (Some(x), Some(y)) if x <= y => w.write_frame(0, v.next().unwrap()).unwrap(),
            (Some(_), None) => w.write_frame(0, v.next().unwrap()).unwrap(),
            (_, Some(_)) => w.write_frame(1, a.next().unwrap()).unwrap(),
            (None, None) => break,
        }
    }
    assert_eq!(w.frame_counts(), &[video.len() as u64, audio.len() as u64]);
    w.finish().unwrap().into_inner()
}

#[test]
fn opus_packet_durations_follow_the_toc() {
    // RFC 6716 §3.1: config 1 (SILK NB 20 ms), code 0; config 31 (CELT FB 20 ms) code 3 with
    // 3 frames; config 16 (CELT NB 2.5 ms) code 1 (2 frames).
    assert_eq!(opus_packet_samples(&[1 << 3]), Some(960));
    assert_eq!(opus_packet_samples(&[31 << 3 | 3, 3]), Some(2880));
    assert_eq!(opus_packet_samples(&[16 << 3 | 1]), Some(240));
    assert_eq!(opus_packet_samples(&[]), None);
    // 7 frames of 20 ms: 140 ms, beyond the 120 ms limit.
    assert_eq!(opus_packet_samples(&[31 << 3 | 3, 7]), None);
}

#[test]
fn ogg_opus_round_trip_in_memory() {
    let packets = opus_packets(1);
    assert_eq!(packets.len(), 50);
    let bytes = ogg_bytes(&packets);
    assert!(bytes.starts_with(b"OggS"));
    let mut r = OggOpusReader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(r.head().channels, 1);
    assert_eq!(r.head().pre_skip, OPUS_DEFAULT_PRE_SKIP);
    for (i, p) in packets.iter().enumerate() {
        let got = r.read_packet().unwrap().unwrap();
        assert_eq!(got.data, p.data);
        assert_eq!(got.samples, 960);
        assert_eq!(got.pts, (i * 960) as i64 - i64::from(OPUS_DEFAULT_PRE_SKIP));
    }
    assert!(r.read_packet().unwrap().is_none());

    // A flipped bit anywhere in a page fails its CRC.
    let mut bad = bytes.clone();
    let at = bad.len() - 3;
    bad[at] ^= 0x10;
    let mut r = OggOpusReader::new(Cursor::new(&bad)).unwrap();
    let mut result = Ok(None);
    for _ in 0..packets.len() + 1 {
        result = r.read_packet();
        if !matches!(result, Ok(Some(_))) {
            break;
        }
    }
    assert!(
        matches!(result, Err(ContainerError::MalformedHeader(_))),
        "{result:?}"
    );
}

/// A stream with no audio (the writer finished right after the headers) ends with an empty
/// end-of-stream page: it reads back as no packets and a clean end. Found by the
/// `media_ogg` fuzz target: the empty page was written with one zero-length packet in it,
/// which the reader refused as no Opus packet.
#[test]
fn an_ogg_stream_without_audio_reads_back_empty() {
    let bytes = ogg_bytes(&[]);
    let mut r = OggOpusReader::new(Cursor::new(&bytes)).unwrap();
    assert!(matches!(r.read_packet(), Ok(None)));
    assert!(matches!(r.read_packet(), Ok(None)));
}

#[test]
fn ogg_reader_joins_packets_across_pages() {
    // Hand-made stream: OpusHead, OpusTags, then a 600-byte "packet" split over two pages
    // (the first page ends in a 255 lacing value, the second has the continued flag).
    let head = OpusHead {
        channels: 2,
        pre_skip: 100,
        input_sample_rate: 44_100,
        output_gain: 0,
    };
    let mut w = OggOpusWriter::new(Vec::new(), head, 7).unwrap();
    w.write_packet(&[1 << 3, 0xAA]).unwrap();
    let mut bytes = w.finish().unwrap();
    // Drop the last (audio) page and append our own two pages.
    let audio_page = bytes.windows(4).rposition(|w| w == b"OggS").unwrap();
    bytes.truncate(audio_page);
    let mut packet = vec![1u8 << 3];
    packet.extend((0..599).map(|i| i as u8));
    let page = |flags: u8, seq: u32, lacing: &[u8], data: &[u8]| {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(flags);
        p.extend_from_slice(&(-1i64).to_le_bytes());
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(lacing.len() as u8);
        p.extend_from_slice(lacing);
        p.extend_from_slice(data);
        let crc = ogg_crc(&p);
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        p
    };
    bytes.extend(page(0, 2, &[255, 255], &packet[..510]));
    bytes.extend(page(1 | 4, 3, &[90], &packet[510..]));
    let mut r = OggOpusReader::new(Cursor::new(bytes)).unwrap();
    assert_eq!(r.head(), head);
    let got = r.read_packet().unwrap().unwrap();
    assert_eq!(got.data, packet);
    assert_eq!(got.pts, -100);
    assert!(r.read_packet().unwrap().is_none());
}

/// The Ogg CRC computed bit by bit, independently of the reader's table (RFC 3533 §6).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[test]
fn ogg_page_crc_matches_a_bitwise_crc() {
    let bytes = ogg_bytes(&opus_packets(1)[..3]);
    let mut at = 0;
    let mut pages = 0;
    while at < bytes.len() {
        let n = usize::from(bytes[at + 26]);
        let len = 27
            + n
            + bytes[at + 27..at + 27 + n]
                .iter()
                .map(|&l| usize::from(l))
                .sum::<usize>();
        let mut page = bytes[at..at + len].to_vec();
        let stored = u32::from_le_bytes(page[22..26].try_into().unwrap());
        page[22..26].fill(0);
        assert_eq!(ogg_crc(&page), stored);
        at += len;
        pages += 1;
    }
    assert_eq!(pages, 2 + 3);
}

#[test]
fn webm_round_trip_in_memory() {
    for codec in [Codec::Vp8, Codec::Vp9] {
        let video = vp8_frames(codec, 30, 160, 120);
        let audio = opus_packets(1);
        let bytes = webm_bytes(&video, &audio, codec);
        let mut r = WebmReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.tracks().len(), 2);
        assert_eq!(r.tracks()[0], WebmTrack::video(codec, 160, 120));
        assert_eq!(r.tracks()[1], WebmTrack::opus(1));
        assert_eq!(r.time_base(), TimeBase::MILLISECONDS);
        // 30 frames at 30 fps: the last starts at 967 ms and lasts 33 ms; the audio ends at 1 s.
        assert_eq!(r.duration_seconds(), Some(1.0));
        let (mut v, mut a) = (video.iter(), audio.iter());
        let mut decoder = match codec {
            Codec::Vp9 => VpxDecoder::vp9().unwrap(),
            _ => VpxDecoder::vp8().unwrap(),
        };
        let mut pictures = 0;
        while let Some(f) = r.read_frame().unwrap() {
            let orig = if f.track == 0 { v.next() } else { a.next() }.unwrap();
            assert_eq!(f.data, orig.data);
            assert_eq!(
                f.pts,
                orig.time_base.rescale(orig.pts, TimeBase::MILLISECONDS)
            );
            assert_eq!(f.key_frame, orig.key_frame);
            if f.track == 0 {
                pictures += usize::from(decoder.decode(&f.data, 0).unwrap().is_some());
            }
        }
        assert!(v.next().is_none() && a.next().is_none());
        assert_eq!(pictures, 30);
    }
}

/// What ffprobe says about each stream of `path`: codec, size or channels, frame count, and
/// the format's duration.
fn ffprobe(path: &Path) -> (Vec<Vec<String>>, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,width,height,channels,nb_read_frames:format=duration")
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (Debian package ffmpeg; installed by the project's install step)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let duration: f64 = lines.pop().unwrap()[0].parse().unwrap();
    (lines, duration)
}

#[test]
fn ffprobe_reads_our_ogg_and_webm() {
    let path = temp_path("probe.ogg");
    std::fs::write(&path, ogg_bytes(&opus_packets(1))).unwrap();
    let (streams, duration) = ffprobe(&path);
    // codec_name,channels,nb_read_frames
    assert_eq!(streams, vec![vec!["opus", "1", "50"]], "{streams:?}");
    // The last granule position is 50 x 960 = 48000; ffprobe gives it as the duration (the
    // pre-skip shows as a negative start time).
    assert!((duration - 1.0).abs() < 0.001, "{duration}");
    std::fs::remove_file(&path).unwrap();

    for codec in [Codec::Vp8, Codec::Vp9] {
        let path = temp_path(if codec == Codec::Vp8 {
            "probe8.webm"
        } else {
            "probe9.webm"
        });
        let bytes = webm_bytes(&vp8_frames(codec, 30, 160, 120), &opus_packets(1), codec);
        std::fs::write(&path, bytes).unwrap();
        let (streams, duration) = ffprobe(&path);
        let name = if codec == Codec::Vp8 { "vp8" } else { "vp9" };
        assert_eq!(
            streams,
            vec![vec![name, "160", "120", "30"], vec!["opus", "1", "50"]],
            "{streams:?}"
        );
        assert!((duration - 1.0).abs() < 0.002, "{duration}");
        std::fs::remove_file(&path).unwrap();
    }
}

fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(status.success());
}

#[test]
fn we_read_files_ffmpeg_made() {
    let ogg = temp_path("ff.opus");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-ac",
            "2",
            "-c:a",
            "libopus",
        ],
        &ogg,
    );
    let mut r = OggOpusReader::new(std::fs::File::open(&ogg).unwrap()).unwrap();
    assert_eq!(r.head().channels, 2);
    let mut dec = OpusDecoder::new(48_000, 2).unwrap();
    let mut samples = 0;
    while let Some(p) = r.read_packet().unwrap() {
        samples += dec.decode(&p.data, p.pts).unwrap().samples();
    }
    // One second, plus the encoder's pre-skip and padding to a whole packet.
    let expected = 48_000 + usize::from(r.head().pre_skip);
    assert!((expected..expected + 960).contains(&samples), "{samples}");
    std::fs::remove_file(&ogg).unwrap();

    let webm = temp_path("ff.webm");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=176x144:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:v",
            "libvpx",
            "-b:v",
            "300k",
            "-c:a",
            "libopus",
        ],
        &webm,
    );
    let mut r = WebmReader::new(std::fs::File::open(&webm).unwrap()).unwrap();
    let video = r
        .tracks()
        .iter()
        .position(|t| t.codec == Codec::Vp8)
        .unwrap();
    assert_eq!(
        (r.tracks()[video].width, r.tracks()[video].height),
        (176, 144)
    );
    let audio = r
        .tracks()
        .iter()
        .position(|t| t.codec == Codec::Opus)
        .unwrap();
    assert_eq!(r.tracks()[audio].pre_skip, 312);
    assert!((r.duration_seconds().unwrap() - 1.0).abs() < 0.03);
    let mut vdec = VpxDecoder::vp8().unwrap();
    let mut adec = OpusDecoder::new(48_000, 1).unwrap();
    let (mut pictures, mut packets, mut last_pts, mut first_pts) = (0, 0, -1, None);
    while let Some(f) = r.read_frame().unwrap() {
        if f.track == video {
            assert!(f.pts > last_pts);
            last_pts = f.pts;
            first_pts.get_or_insert(f.pts);
            let pic = vdec.decode(&f.data, f.pts).unwrap().unwrap();
            assert_eq!((pic.width(), pic.height()), (176, 144));
            pictures += 1;
        } else {
            adec.decode(&f.data, 0).unwrap();
            packets += 1;
        }
    }
    assert_eq!(pictures, 25);
    assert!((50..=52).contains(&packets), "{packets}");
    assert_eq!(last_pts - first_pts.unwrap(), 960);
    std::fs::remove_file(&webm).unwrap();
}

async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

async fn play_all(player: &mut MediaPlayer, kind: MediaKind) -> Vec<Frame> {
    let track = match kind {
        MediaKind::Video => player.video(),
        MediaKind::Audio => player.audio(),
    }
    .unwrap();
    let mut frames = Vec::new();
    loop {
        match track.recv().await {
            Ok(f) => frames.push(f),
            Err(MediaError::Ended) => return frames,
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn record_and_play_ogg_and_webm() {
    // Audio through .ogg, .opus and .webm.
    // A chirp from 200 Hz up, so that only the true delay lines the output up with it.
    let tone: Vec<i16> = (0..48_000)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            ((2.0 * std::f64::consts::PI * (200.0 * t + 400.0 * t * t)).sin() * 8000.0) as i16
        })
        .collect();
    for name in ["tone.ogg", "tone.opus", "tone.webm"] {
        let path = temp_path(name);
        let (tx, track) = track_channel(MediaKind::Audio, "mic");
        let mut recorder = MediaRecorder::new(&path).unwrap();
        recorder.add_track(track).unwrap();
        recorder.start().unwrap();
        for (i, chunk) in tone.chunks(480).enumerate() {
            let mut f = AudioFrame::from_s16(48_000, 1, chunk.to_vec()).unwrap();
            f.pts = (i * 480) as i64;
            tx.send(f.into()).unwrap();
            until(|| tx.stats().delivered == i as u64 + 1).await;
        }
        drop(tx);
        recorder.stop().await.unwrap();
        let (streams, duration) = ffprobe(&path);
        assert_eq!(streams[0][0], "opus", "{name}");
        assert_eq!(streams[0].last().unwrap(), "50", "{name}");
        assert!((duration - 1.0).abs() < 0.01, "{name}: {duration}");

        let started = tokio::time::Instant::now();
        let mut player = MediaPlayer::open(&path).unwrap();
        assert!(player.video().is_none());
        let played = play_all(&mut player, MediaKind::Audio).await;
        assert_eq!(played.len(), 50, "{name}");
        // Paced: the last packet plays 49 x 20 ms after the first, less the pre-skip trimmed
        // from the first (which then starts at zero).
        let elapsed = started.elapsed().as_millis();
        assert!((973..=981).contains(&elapsed), "{name}: {elapsed} ms");
        // The decoded audio, its pre-skip dropped by the player (RFC 7845 §4.2), is the tone
        // again, in step with it (SNR over 15 dB
        // with 64 kbit/s Opus on a pure tone; libopus gives far more, this is a sanity bound).
        let out: Vec<i16> = played
            .iter()
            .flat_map(|f| f.as_audio().unwrap().s16().unwrap().to_vec())
            .collect();
        let snr_at = |skip: usize| {
            let (mut sig, mut noise) = (0f64, 0f64);
            for (a, b) in tone[4_800..40_000].iter().zip(&out[4_800 + skip..]) {
                sig += f64::from(*a).powi(2);
                noise += (f64::from(*a) - f64::from(*b)).powi(2);
            }
            10.0 * (sig / noise).log10()
        };
        let best = (0..1000)
            .max_by(|&a, &b| snr_at(a).total_cmp(&snr_at(b)))
            .unwrap();
        // No delay left: the pre-skip written (libopus's look-ahead) was the real one.
        assert!(best <= 4, "{name}: lag {best}");
        assert_eq!(
            out.len(),
            50 * 960 - usize::from(OPUS_DEFAULT_PRE_SKIP),
            "{name}"
        );
        let snr = snr_at(0);
        assert!(snr > 15.0, "{name}: SNR {snr:.1} dB");
        std::fs::remove_file(&path).unwrap();
    }

    // Video through .webm (VP8).
    let path = temp_path("clip.webm");
    let mut pattern = MovingPattern::new(320, 240);
    let video: Vec<_> = (0..15).map(|_| pattern.next_frame()).collect();
    let (tx, track) = track_channel(MediaKind::Video, "cam");
    let mut recorder = MediaRecorder::new(&path).unwrap();
    recorder.add_track(track).unwrap();
    recorder.start().unwrap();
    for (i, f) in video.iter().enumerate() {
        tx.send(f.clone().into()).unwrap();
        until(|| tx.stats().delivered == i as u64 + 1).await;
    }
    drop(tx);
    recorder.stop().await.unwrap();
    let (streams, duration) = ffprobe(&path);
    assert_eq!(streams, vec![vec!["vp8", "320", "240", "15"]]);
    assert!((duration - 0.5).abs() < 0.002, "{duration}");
    let mut player = MediaPlayer::open(&path).unwrap();
    let played = play_all(&mut player, MediaKind::Video).await;
    assert_eq!(played.len(), 15);
    for (orig, back) in video.iter().zip(&played) {
        let back = back.as_video().unwrap();
        // Millisecond timestamps in WebM: within 90 ticks of the original.
        assert!(
            (back.pts - orig.pts).abs() < 90,
            "{} vs {}",
            back.pts,
            orig.pts
        );
        assert!(psnr_y(orig, back) >= 30.0);
    }
    std::fs::remove_file(&path).unwrap();
}

/// Reads a whole file's frames or packets, stopping at the first error; the count is bounded
/// by the input length (every frame consumes bytes), so a hostile file cannot loop forever.
fn drain_ogg(bytes: &[u8]) {
    if let Ok(mut r) = OggOpusReader::new(Cursor::new(bytes)) {
        for _ in 0..=bytes.len() {
            match r.read_packet() {
                Ok(Some(_)) => {}
                _ => return,
            }
        }
        panic!("more packets than bytes");
    }
}

fn drain_webm(bytes: &[u8]) {
    if let Ok(mut r) = WebmReader::new(Cursor::new(bytes)) {
        for _ in 0..=bytes.len() {
            match r.read_frame() {
                Ok(Some(_)) => {}
                _ => return,
            }
        }
        panic!("more frames than bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ogg_and_webm_readers_survive_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000), prefix in 0usize..3) {
        // Random bytes, and random bytes behind a valid signature so the parsers go deeper.
        let mut ogg = [&b"OggS\0\x02"[..], &b"OggS"[..], &b""[..]][prefix].to_vec();
        ogg.extend_from_slice(&bytes);
        drain_ogg(&ogg);
        let mut webm = [&[0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..], &[0x1A, 0x45, 0xDF, 0xA3][..], &[][..]][prefix].to_vec();
        webm.extend_from_slice(&bytes);
        drain_webm(&webm);
    }
}

#[test]
fn ogg_and_webm_readers_survive_mutated_files() {
    // Seeded mutations (byte flips, truncations, splices) of real files: every path through
    // the parsers with mostly valid structure. A hostile size must not make them allocate it.
    let ogg = ogg_bytes(&opus_packets(1)[..10]);
    let webm = webm_bytes(
        &vp8_frames(Codec::Vp8, 6, 160, 120),
        &opus_packets(1)[..10],
        Codec::Vp8,
    );
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        for (file, drain) in [
            (&ogg, drain_ogg as fn(&[u8])),
            (&webm, drain_webm as fn(&[u8])),
        ] {
            let mut m = file.clone();
            for _ in 0..1 + rand() % 4 {
                let at = (rand() % m.len() as u64) as usize;
                match rand() % 4 {
                    0 => m[at] ^= 1 << (rand() % 8),
                    1 => m[at] = 0xFF,
                    2 => m.truncate(at.max(1)),
                    _ => m[at] = rand() as u8,
                }
            }
            drain(&m);
        }
        let _ = round;
    }
    // A WebM block claiming 2^50 bytes is refused without allocating it.
    let mut huge = webm.clone();
    let cluster = huge
        .windows(4)
        .position(|w| w == [0x1F, 0x43, 0xB6, 0x75])
        .unwrap();
    huge.truncate(cluster);
    huge.extend_from_slice(&[
        0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    huge.extend_from_slice(&[0xA3, 0x01, 0x04, 0, 0, 0, 0, 0, 0, 0]);
    let mut r = WebmReader::new(Cursor::new(huge)).unwrap();
    assert!(matches!(
        r.read_frame(),
        Err(ContainerError::FrameTooLarge(_, _))
    ));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn player_plays_both_tracks_of_a_webm_file() {
    // Ours (VP8 + Opus) and FFmpeg's (VP8 + Opus, made by libvpx and libopus).
    let ours = temp_path("both.webm");
    let video = vp8_frames(Codec::Vp8, 30, 160, 120);
    std::fs::write(&ours, webm_bytes(&video, &opus_packets(1), Codec::Vp8)).unwrap();
    let theirs = temp_path("both-ff.webm");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=176x144:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:v",
            "libvpx",
            "-b:v",
            "300k",
            "-c:a",
            "libopus",
        ],
        &theirs,
    );
    for (path, pictures, packets) in [(&ours, 30..=30, 50..=50), (&theirs, 25..=25, 50..=52)] {
        let started = tokio::time::Instant::now();
        let mut player = MediaPlayer::open(path).unwrap();
        let (v, a) = (player.video().unwrap(), player.audio().unwrap());
        assert!(player.video().is_none() && player.audio().is_none());
        let count = |track: ferrtc_media::SourceTrack, kind: MediaKind| async move {
            let (mut n, mut last) = (0usize, None::<f64>);
            loop {
                match track.recv().await {
                    Ok(f) => {
                        assert_eq!(f.kind(), kind);
                        let t = f.time_base().seconds(f.pts());
                        assert!(last.is_none_or(|l| t > l), "{kind:?} timestamps rise");
                        last = Some(t);
                        n += 1;
                    }
                    Err(MediaError::Ended) => return (n, track.stats().dropped),
                    Err(e) => panic!("{e}"),
                }
            }
        };
        let ((nv, dv), (na, da)) =
            tokio::join!(count(v, MediaKind::Video), count(a, MediaKind::Audio));
        assert!(pictures.contains(&nv), "{path:?}: {nv} pictures");
        assert!(packets.contains(&na), "{path:?}: {na} audio frames");
        // Both consumers keep up: nothing dropped, and playback took the file's second.
        assert_eq!((dv, da), (0, 0));
        let elapsed = started.elapsed().as_millis();
        // (FFmpeg starts its streams a few ms late, by the Opus codec delay.)
        assert!((960..=1010).contains(&elapsed), "{path:?}: {elapsed} ms");
        std::fs::remove_file(path).unwrap();
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn recorder_writes_video_and_audio_into_one_webm() {
    // A file with both tracks, played and recorded again: MediaPlayer -> MediaRecorder.
    let source = temp_path("av-in.webm");
    std::fs::write(
        &source,
        webm_bytes(
            &vp8_frames(Codec::Vp8, 30, 160, 120),
            &opus_packets(1),
            Codec::Vp8,
        ),
    )
    .unwrap();
    let out = temp_path("av-out.webm");
    let mut player = MediaPlayer::open(&source).unwrap();
    let mut recorder = MediaRecorder::new(&out)
        .unwrap()
        .with_video_codec(Codec::Vp9)
        .unwrap();
    recorder.add_track(player.video().unwrap()).unwrap();
    // A second video track is refused; the audio track is taken.
    assert!(matches!(
        recorder.add_track(track_channel(MediaKind::Video, "v2").1),
        Err(MediaError::Container(ContainerError::TrackNotAccepted(_)))
    ));
    recorder.add_track(player.audio().unwrap()).unwrap();
    recorder.start().unwrap();
    recorder.wait().await.unwrap();

    let (streams, duration) = ffprobe(&out);
    assert_eq!(
        streams,
        // 50 Opus packets played less their 312-sample pre-skip: 49 whole packets again.
        vec![vec!["vp9", "160", "120", "30"], vec!["opus", "1", "49"]],
        "{streams:?}"
    );
    assert!((duration - 1.0).abs() < 0.01, "{duration}");
    // And back through our reader: both tracks, each in time order.
    let mut r = WebmReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut last = [-1i64; 2];
    let mut counts = [0; 2];
    while let Some(f) = r.read_frame().unwrap() {
        assert!(f.pts > last[f.track], "track {} goes back in time", f.track);
        last[f.track] = f.pts;
        counts[f.track] += 1;
    }
    assert_eq!(counts, [30, 49]);
    std::fs::remove_file(&source).unwrap();
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn webm_writer_keeps_timestamp_gaps() {
    // A network interruption: 5 frames, 100 s of nothing, 5 frames. The gap is kept (a new
    // cluster past the 16-bit block-time range), nothing stalls, and FFmpeg agrees.
    let mut frames = vp8_frames(Codec::Vp8, 10, 160, 120);
    for (i, f) in frames.iter_mut().enumerate() {
        f.pts = i as i64 * 3000 + if i >= 5 { 9_000_000 } else { 0 };
    }
    let mut w = WebmWriter::new(
        Cursor::new(Vec::new()),
        &[WebmTrack::video(Codec::Vp8, 160, 120)],
    )
    .unwrap();
    for f in &frames {
        w.write_frame(0, f).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let mut r = WebmReader::new(Cursor::new(bytes.clone())).unwrap();
    let mut times = Vec::new();
    while let Some(f) = r.read_frame().unwrap() {
        times.push(f.pts);
    }
    assert_eq!(
        times,
        vec![
            0, 33, 66, 100, 133, 100_166, 100_200, 100_233, 100_266, 100_300
        ]
    );
    let path = temp_path("gap.webm");
    std::fs::write(&path, bytes).unwrap();
    let (streams, duration) = ffprobe(&path);
    assert_eq!(streams, vec![vec!["vp8", "160", "120", "10"]]);
    assert!((duration - 100.333).abs() < 0.002, "{duration}");
    std::fs::remove_file(&path).unwrap();
}
