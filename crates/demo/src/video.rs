//! One video transceiver's way back: whole encoded frames from the browser are decoded on
//! one thread, the newest decoded frame is transformed and re-encoded with the same codec on
//! another, and sent back on the same transceiver with the frame's RTP timestamp.
//!
//! Between the two threads is a `ferrtc-media` track, which holds one frame: when the
//! transform and encoder are slower than the camera, the newest frame wins and the others
//! are dropped and counted. Every encoded frame is decoded (a decoder cannot skip frames).
//!
//! Without a transform a pipeline exists only to record (`--record-to`): frames go back as
//! they came (re-packetized) and are decoded for the recorder only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc::{CodecKind, EncodedFrame, PeerConnection, TransceiverId};
use ferrtc_media::{
    Frame, FrameSender, H264Decoder, H264Encoder, MediaKind, MediaStreamTrack, VideoDecoder,
    VideoEncoder, VideoEncoderConfig, VideoFrame, VpxDecoder, VpxEncoder, track_channel,
};

use crate::transform::Transform;

/// The bitrate the re-encoded video aims at.
const BITRATE_BPS: u32 = 1_500_000;
/// The RTP clock of every video codec here.
const VIDEO_CLOCK_HZ: f64 = 90_000.0;

/// How often a pipeline logs its counters (at `debug`).
const LOG_EVERY: Duration = Duration::from_secs(2);

/// What one pipeline has done so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Encoded frames from the browser.
    pub frames_in: AtomicU64,
    /// Of which key frames.
    pub key_frames_in: AtomicU64,
    /// Frames decoded.
    pub decoded: AtomicU64,
    /// Frames the decoder refused.
    pub decode_errors: AtomicU64,
    /// Key frames we asked of the browser (PLI).
    pub key_frames_asked: AtomicU64,
    /// Frames transformed.
    pub transformed: AtomicU64,
    /// Frames encoded and sent back.
    pub encoded: AtomicU64,
    /// Of which key frames.
    pub key_frames_out: AtomicU64,
    /// Key frame requests from the browser (PLI, FIR).
    pub key_frames_requested: AtomicU64,
    /// Time spent decoding, in microseconds.
    pub decode_us: AtomicU64,
    /// Time spent transforming.
    pub transform_us: AtomicU64,
    /// Time spent encoding.
    pub encode_us: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn add_time(counter: &AtomicU64, since: Instant) {
        let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(us, Ordering::Relaxed);
    }

    /// The counters now, for the server's figures sent to the page.
    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            decoded: g(&self.decoded),
            transformed: g(&self.transformed),
            encoded: g(&self.encoded),
            decode_us: g(&self.decode_us),
            transform_us: g(&self.transform_us),
            encode_us: g(&self.encode_us),
        }
    }

    fn log(&self, what: &str) {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        tracing::debug!(
            frames_in = g(&self.frames_in),
            key_frames_in = g(&self.key_frames_in),
            decoded = g(&self.decoded),
            decode_errors = g(&self.decode_errors),
            key_frames_asked = g(&self.key_frames_asked),
            transformed = g(&self.transformed),
            encoded = g(&self.encoded),
            key_frames_out = g(&self.key_frames_out),
            key_frames_requested = g(&self.key_frames_requested),
            "{what}"
        );
    }
}

/// What [`Counters::snapshot`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames decoded.
    pub decoded: u64,
    /// Frames transformed.
    pub transformed: u64,
    /// Frames encoded.
    pub encoded: u64,
    /// Microseconds decoding.
    pub decode_us: u64,
    /// Microseconds transforming.
    pub transform_us: u64,
    /// Microseconds encoding.
    pub encode_us: u64,
}

impl Snapshot {
    /// The server's figures between `earlier` and this snapshot, as the page shows them:
    /// frames and mean milliseconds per frame of each stage.
    pub fn figures_since(&self, earlier: &Snapshot) -> serde_json::Value {
        let mean_ms = |us: u64, us0: u64, n: u64, n0: u64| {
            let n = n.saturating_sub(n0);
            (n > 0).then(|| us.saturating_sub(us0) as f64 / n as f64 / 1000.0)
        };
        serde_json::json!({
            "decoded": self.decoded.saturating_sub(earlier.decoded),
            "encoded": self.encoded.saturating_sub(earlier.encoded),
            "dropped": self.decoded.saturating_sub(self.transformed)
                .saturating_sub(earlier.decoded.saturating_sub(earlier.transformed)),
            "decode_ms": mean_ms(self.decode_us, earlier.decode_us, self.decoded, earlier.decoded),
            "transform_ms": mean_ms(
                self.transform_us, earlier.transform_us, self.transformed, earlier.transformed),
            "encode_ms": mean_ms(self.encode_us, earlier.encode_us, self.encoded, earlier.encoded),
        })
    }
}

/// The handle the connection's event loop keeps for a video transceiver.
pub struct Pipeline {
    frames: std_mpsc::Sender<EncodedFrame>,
    counters: Arc<Counters>,
    keyframe: Arc<AtomicBool>,
    /// Without a transform, what we send is the browser's own video: key frames are asked
    /// of it.
    passthrough: Option<(Arc<PeerConnection>, TransceiverId)>,
}

impl Pipeline {
    /// Starts the decode and encode threads of `transceiver`; decoded frames also go to
    /// `record`. They end when the pipeline is dropped.
    pub fn start(
        pc: Arc<PeerConnection>,
        transceiver: TransceiverId,
        transform: Transform,
        record: Option<FrameSender>,
    ) -> Self {
        let passthrough = (transform == Transform::None).then(|| (Arc::clone(&pc), transceiver));
        let (frames, rx) = std_mpsc::channel::<EncodedFrame>();
        let keyframe = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let codec: Arc<OnceLock<CodecKind>> = Arc::new(OnceLock::new());
        let (sender, track) = track_channel(MediaKind::Video, format!("{transceiver:?}"));

        let decode_codec = Arc::clone(&codec);
        let decode_pc = Arc::clone(&pc);
        let decode_counters = Arc::clone(&counters);
        std::thread::spawn(move || {
            let counters = decode_counters;
            let mut logged = Instant::now();
            let mut decoder: Option<Box<dyn VideoDecoder>> = None;
            let mut last_ts: Option<i64> = None;
            let mut errors = 0u64;
            let mut watchdog = Watchdog::new(Instant::now());
            loop {
                // No decoded picture for a while, frames coming or not: ask for a key frame
                // (the browser's encoder may have missed our PLIs, or its frames ours).
                if watchdog.poll(Instant::now()) {
                    Counters::add(&counters.key_frames_asked);
                    tracing::debug!("no picture decoded lately: asking for a key frame");
                    let _ = decode_pc.request_keyframe(transceiver);
                }
                let f = match rx.recv_timeout(STALL) {
                    Ok(f) => f,
                    Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                };
                Counters::add(&counters.frames_in);
                if f.keyframe {
                    Counters::add(&counters.key_frames_in);
                }
                if logged.elapsed() >= LOG_EVERY {
                    logged = Instant::now();
                    counters.log("video pipeline");
                }
                if transform == Transform::None {
                    if decode_pc
                        .write_frame(transceiver, f.data.clone(), f.rtp_timestamp)
                        .is_err()
                    {
                        break;
                    }
                    if record.is_none() {
                        // Nothing decoded here: what the browser sends is what it gets.
                        watchdog.progress(Instant::now());
                        continue;
                    }
                }
                let codec = *decode_codec.get_or_init(|| f.codec);
                if decoder.is_none() {
                    decoder = match new_decoder(codec) {
                        Some(d) => Some(d),
                        None => {
                            tracing::warn!(
                                ?codec,
                                "no decoder for this codec: video not sent back"
                            );
                            return;
                        }
                    };
                }
                let Some(d) = decoder.as_mut() else { return };
                let pts = unwrap_timestamp(&mut last_ts, f.rtp_timestamp);
                let started = Instant::now();
                let decoded = d.decode(&f.data, pts);
                Counters::add_time(&counters.decode_us, started);
                match decoded {
                    Ok(Some(frame)) => {
                        Counters::add(&counters.decoded);
                        watchdog.progress(Instant::now());
                        if let Some(r) = &record {
                            let _ = r.send(Frame::Video(frame.clone()));
                        }
                        if transform != Transform::None && sender.send(Frame::Video(frame)).is_err()
                        {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        errors += 1;
                        Counters::add(&counters.decode_errors);
                        Counters::add(&counters.key_frames_asked);
                        tracing::debug!(error = %e, "frame not decoded: asking for a key frame");
                        let _ = decode_pc.request_keyframe(transceiver);
                        watchdog.asked(Instant::now());
                    }
                }
            }
            counters.log("video pipeline");
            tracing::info!(stats = ?sender.stats(), errors, "video decoder ended");
        });

        let encode_keyframe = Arc::clone(&keyframe);
        let encode_counters = Arc::clone(&counters);
        let runtime = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let mut encoder: Option<Box<dyn VideoEncoder>> = None;
            let mut first_pts: Option<i64> = None;
            let mut out = Vec::new();
            let mut send_codec = None;
            let mut last_good = LastGood::default();
            while let Ok(Frame::Video(frame)) = runtime.block_on(track.recv()) {
                let Some(&received) = codec.get() else {
                    continue;
                };
                let codec = match send_codec {
                    Some(c) => c,
                    None => match choose_send_codec(&runtime, &pc, transceiver, received) {
                        Some(c) => *send_codec.insert(c),
                        None => {
                            tracing::warn!(
                                ?received,
                                "no negotiated codec this server encodes: video not sent back"
                            );
                            return;
                        }
                    },
                };
                let start = *first_pts.get_or_insert(frame.pts);
                let seconds = (frame.pts - start) as f64 / VIDEO_CLOCK_HZ;
                let started = Instant::now();
                let transformed = transform.apply(&frame, seconds);
                Counters::add_time(&encode_counters.transform_us, started);
                let transformed = match transformed {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(error = %e, "transform failed: the last frame again");
                        match last_good.repeat(frame.pts) {
                            Some(f) => f,
                            None => continue,
                        }
                    }
                };
                Counters::add(&encode_counters.transformed);
                let size = (transformed.width(), transformed.height());
                if encoder.as_ref().is_none_or(|e| {
                    let c = e.settings().config;
                    (c.width, c.height) != size
                }) {
                    let config = VideoEncoderConfig {
                        width: size.0,
                        height: size.1,
                        bitrate_bps: BITRATE_BPS,
                        frame_rate: 30,
                    };
                    encoder = match new_encoder(codec, config) {
                        Some(e) => Some(e),
                        None => {
                            tracing::warn!(
                                ?codec,
                                "no encoder for this codec: video not sent back"
                            );
                            return;
                        }
                    };
                }
                let Some(enc) = encoder.as_mut() else { return };
                if encode_keyframe.swap(false, Ordering::AcqRel) {
                    enc.request_key_frame();
                }
                out.clear();
                let started = Instant::now();
                let encoded = enc.encode(&transformed, &mut out);
                Counters::add_time(&encode_counters.encode_us, started);
                // Kept by move, not copied: only a failed transform clones it.
                last_good.keep(transformed);
                if let Err(e) = encoded {
                    tracing::warn!(error = %e, "encode failed: frame skipped");
                    continue;
                }
                for e in out.drain(..) {
                    Counters::add(&encode_counters.encoded);
                    if e.key_frame {
                        Counters::add(&encode_counters.key_frames_out);
                    }
                    // The extended timestamp back to RTP's 32 bits: the browser's own.
                    let ts = e.pts as u32;
                    if pc
                        .write_frame(transceiver, Bytes::from(e.data), ts)
                        .is_err()
                    {
                        return;
                    }
                }
            }
            tracing::info!(stats = ?track.stats(), "video encoder ended");
        });
        Pipeline {
            frames,
            counters,
            keyframe,
            passthrough,
        }
    }

    /// What the pipeline has done so far.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// A frame from the browser.
    pub fn push(&self, frame: EncodedFrame) {
        let _ = self.frames.send(frame);
    }

    /// The browser asks for a key frame of what we send.
    pub fn request_keyframe(&self) {
        Counters::add(&self.counters.key_frames_requested);
        match &self.passthrough {
            Some((pc, transceiver)) => {
                let _ = pc.request_keyframe(*transceiver);
            }
            None => self.keyframe.store(true, Ordering::Release),
        }
    }
}

/// How long the decoder may go without a picture before a key frame is asked for, and
/// how often the request is repeated while none comes.
const STALL: Duration = Duration::from_secs(1);

/// Says when to ask the browser for a key frame because nothing was decoded for
/// [`STALL`]: a lost key frame, a lost request, or frames that stopped coming all end in a
/// PLI, repeated every [`STALL`] until a picture is decoded.
#[derive(Debug)]
struct Watchdog {
    /// The last decoded picture (or the start).
    progress: Instant,
    /// The last key frame request, for whatever reason.
    asked: Option<Instant>,
}

impl Watchdog {
    fn new(now: Instant) -> Watchdog {
        Watchdog {
            progress: now,
            asked: None,
        }
    }

    /// A picture was decoded.
    fn progress(&mut self, now: Instant) {
        self.progress = now;
    }

    /// A key frame was asked for.
    fn asked(&mut self, now: Instant) {
        self.asked = Some(now);
    }

    /// Whether to ask for a key frame now (and if so, counts it as asked).
    fn poll(&mut self, now: Instant) -> bool {
        let stalled = now.saturating_duration_since(self.progress) >= STALL;
        let due = self
            .asked
            .is_none_or(|t| now.saturating_duration_since(t) >= STALL);
        if stalled && due {
            self.asked = Some(now);
            return true;
        }
        false
    }
}

/// An RTP timestamp extended to 64 bits across wraps, from the last one.
fn unwrap_timestamp(last: &mut Option<i64>, ts: u32) -> i64 {
    let ext = match *last {
        None => i64::from(ts),
        Some(prev) => prev + i64::from(ts.wrapping_sub(prev as u32) as i32),
    };
    *last = Some(ext);
    ext
}

fn new_decoder(codec: CodecKind) -> Option<Box<dyn VideoDecoder>> {
    let d: Result<Box<dyn VideoDecoder>, _> = match codec {
        CodecKind::Vp8 => VpxDecoder::vp8().map(|d| Box::new(d) as _),
        CodecKind::Vp9 => VpxDecoder::vp9().map(|d| Box::new(d) as _),
        CodecKind::H264 => H264Decoder::new().map(|d| Box::new(d) as _),
        CodecKind::Av1 => ferrtc_media::Av1Decoder::new().map(|d| Box::new(d) as _),
        _ => return None,
    };
    d.map_err(|e| tracing::warn!(error = %e, "decoder not created"))
        .ok()
}

/// The last frame a transform made, sent again (with the new frame's timestamp) when the
/// transform fails, so the stream never stops (aiortc's stream dies on a raising transform).
#[derive(Default)]
struct LastGood {
    frame: Option<VideoFrame>,
}

impl LastGood {
    /// Keeps `frame`, the last one the transform made.
    fn keep(&mut self, frame: VideoFrame) {
        self.frame = Some(frame);
    }

    /// The last good frame stamped with `pts`, if there was one.
    fn repeat(&self, pts: i64) -> Option<VideoFrame> {
        let mut f = self.frame.clone()?;
        f.pts = pts;
        Some(f)
    }
}

/// The video codecs the server encodes, in the order it picks them when the browser sends
/// one it cannot encode (AV1: decoded by libdav1d, but there is no AV1 encoder here).
const ENCODES: [CodecKind; 3] = [CodecKind::Vp8, CodecKind::Vp9, CodecKind::H264];

/// The codec to send back when the browser sends `received`: the same when the server
/// encodes it and the negotiation lets it send it, else the first negotiated one it
/// encodes (an answer lists every codec both sides have, and the answerer may send any of
/// them). The peer connection is told, so the frames go out in that codec's format.
fn choose_send_codec(
    runtime: &tokio::runtime::Handle,
    pc: &PeerConnection,
    transceiver: TransceiverId,
    received: CodecKind,
) -> Option<CodecKind> {
    let (_, negotiated) = runtime.block_on(pc.send_codecs(transceiver)).ok()?;
    let negotiated: Vec<CodecKind> = negotiated.iter().map(|c| c.codec).collect();
    let codec = std::iter::once(received)
        .chain(ENCODES)
        .find(|c| ENCODES.contains(c) && negotiated.contains(c))?;
    runtime
        .block_on(pc.set_send_codec(transceiver, Some(codec)))
        .ok()?;
    if codec != received {
        tracing::info!(
            ?received,
            sent = ?codec,
            "the browser's codec has no encoder here: another negotiated one is sent back"
        );
    }
    Some(codec)
}

fn new_encoder(codec: CodecKind, config: VideoEncoderConfig) -> Option<Box<dyn VideoEncoder>> {
    let e: Result<Box<dyn VideoEncoder>, _> = match codec {
        CodecKind::Vp8 => VpxEncoder::vp8(config).map(|e| Box::new(e) as _),
        CodecKind::Vp9 => VpxEncoder::vp9(config).map(|e| Box::new(e) as _),
        CodecKind::H264 => H264Encoder::new(config).map(|e| Box::new(e) as _),
        _ => return None,
    };
    e.map_err(|e| tracing::warn!(error = %e, "encoder not created"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_transform_sends_the_last_good_frame_again() {
        let mut last = LastGood::default();
        // Before any good frame there is nothing to repeat.
        assert!(last.repeat(3000).is_none());
        let mut good = VideoFrame::new(ferrtc_media::PixelFormat::I420, 16, 16).unwrap();
        good.plane_mut(0)[0] = 77;
        good.pts = 6000;
        last.keep(good);
        let again = last.repeat(9000).unwrap();
        assert_eq!((again.pts, again.plane(0)[0]), (9000, 77));
    }

    #[test]
    fn a_stalled_decoder_asks_for_key_frames_until_a_picture_comes() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = Watchdog::new(t0);
        // Pictures keep coming: nothing asked.
        assert!(!w.poll(at(500)));
        w.progress(at(900));
        assert!(!w.poll(at(1500)));
        // None since 900 ms: asked at 1900, again one STALL later, not in between.
        assert!(w.poll(at(1900)));
        assert!(!w.poll(at(2000)));
        assert!(!w.poll(at(2800)));
        assert!(w.poll(at(2900)));
        // A request made for a decode error counts too.
        w.asked(at(3500));
        assert!(!w.poll(at(3900)));
        assert!(w.poll(at(4500)));
        // A picture: quiet again.
        w.progress(at(4600));
        assert!(!w.poll(at(5500)));
    }

    #[test]
    fn figures_are_per_frame_means_since_the_last_report() {
        let a = Snapshot {
            decoded: 10,
            transformed: 8,
            encoded: 8,
            decode_us: 20_000,
            transform_us: 40_000,
            encode_us: 16_000,
        };
        let b = Snapshot {
            decoded: 40,
            transformed: 36,
            encoded: 36,
            decode_us: 80_000,
            transform_us: 124_000,
            encode_us: 72_000,
        };
        let f = b.figures_since(&a);
        assert_eq!(f["decoded"], 30);
        assert_eq!(f["encoded"], 28);
        assert_eq!(f["dropped"], 2);
        assert_eq!(f["decode_ms"], 2.0);
        assert_eq!(f["transform_ms"], 3.0);
        assert_eq!(f["encode_ms"], 2.0);
        // Nothing new: no means.
        assert!(b.figures_since(&b)["decode_ms"].is_null());
    }

    #[test]
    fn timestamps_unwrap_across_the_32_bit_edge() {
        let mut last = None;
        assert_eq!(unwrap_timestamp(&mut last, u32::MAX - 1000), 4_294_966_295);
        assert_eq!(unwrap_timestamp(&mut last, 2000), 4_294_969_296);
        assert_eq!(unwrap_timestamp(&mut last, 1000), 4_294_968_296);
    }
}
