//! The receive side: a thread decodes a transceiver's received frames into a track that
//! holds the newest one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrtc_media::{
    AudioDecoder, CodecError, Frame, FrameSender, G711Decoder, G711Law, G722Decoder, H264Decoder,
    MediaError, MediaKind, MediaStreamTrack, OpusDecoder, SourceTrack, TrackStats, VideoDecoder,
    VpxDecoder, track_channel,
};
use tokio::sync::mpsc;

use super::AttachError;
use crate::connection::{Command, Link};
use crate::tap::{FRAME_QUEUE, TapPart};
use crate::{CodecKind, EncodedFrame, TransceiverId};

/// Key-frame requests from one track are at least this far apart: the sender needs a
/// round trip to answer, and a burst of PLIs would only ask for the same frame again.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(250);
/// The rate and channels Opus is decoded to, as aiortc gives it (the rtpmap of Opus always
/// reads `opus/48000/2`, RFC 7587 §7).
const OPUS_OUTPUT: (u32, u16) = (48_000, 2);

/// What a [`RemoteMediaTrack`] has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RemoteTrackStats {
    /// Encoded frames given to the decoder.
    pub frames_received: u64,
    /// Raw frames the decoder produced.
    pub frames_decoded: u64,
    /// Frames the decoder refused (each one makes the track wait for a key frame).
    pub decode_errors: u64,
    /// Encoded frames skipped before the decoder: while waiting for a key frame, or
    /// because the decoder was behind (its queue of 64 frames was full).
    pub frames_skipped: u64,
    /// Key frames asked of the peer (PLI).
    pub keyframe_requests: u64,
    /// The decoded frames' way to the consumer: delivered, and dropped because a newer one
    /// came before the consumer asked.
    pub track: TrackStats,
}

#[derive(Debug, Default)]
struct Shared {
    stats: Mutex<RemoteTrackStats>,
    /// Skipped by the driver (queue full, waiting for a key frame).
    skipped_by_driver: Arc<AtomicU64>,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, RemoteTrackStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the peer sends on a transceiver, decoded: a [`MediaStreamTrack`] of raw frames,
/// from [`PeerConnection::remote_media_track`](crate::PeerConnection::remote_media_track).
///
/// Video frames are I420 with `pts` on the 90 kHz RTP clock; audio frames are s16 with `pts`
/// on the codec's RTP clock (48 kHz for Opus, 8 kHz for G.711 and G.722); `pts` is the
/// frame's RTP timestamp, extended past its 32-bit wrap. The track holds one frame: a slow
/// consumer gets the newest and the older ones are counted as dropped. Dropping the track
/// (or [`MediaStreamTrack::stop`]) ends its decoder thread and hands the transceiver back to
/// the connection's event stream.
#[derive(Debug)]
pub struct RemoteMediaTrack {
    track: SourceTrack,
    transceiver: TransceiverId,
    shared: Arc<Shared>,
}

impl RemoteMediaTrack {
    pub(super) async fn start(
        link: Link,
        transceiver: TransceiverId,
        kind: MediaKind,
    ) -> Result<RemoteMediaTrack, AttachError> {
        let (frames, rx) = mpsc::channel(FRAME_QUEUE);
        let shared = Arc::new(Shared::default());
        let part = TapPart::Receive {
            kind: super::transceiver_kind(kind),
            frames,
            dropped: Arc::clone(&shared.skipped_by_driver),
        };
        super::tap(&link, transceiver, kind, part).await?;
        let (sender, track) = track_channel(kind, format!("remote-{transceiver}"));
        let decode = DecodeLoop {
            kind,
            frames: rx,
            out: sender,
            link,
            transceiver,
            shared: Arc::clone(&shared),
            last_request: None,
        };
        std::thread::Builder::new()
            .name(format!("ferrtc-decode-{transceiver}"))
            .spawn(move || decode.run())
            .map_err(|e| AttachError::Connection(crate::Error::Io(e)))?;
        Ok(RemoteMediaTrack {
            track,
            transceiver,
            shared,
        })
    }

    /// The transceiver it receives on.
    #[must_use]
    pub fn transceiver(&self) -> TransceiverId {
        self.transceiver
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> RemoteTrackStats {
        let mut stats = *self.shared.stats();
        stats.frames_skipped += self.shared.skipped_by_driver.load(Ordering::Relaxed);
        stats.track = self.track.stats();
        stats
    }
}

impl MediaStreamTrack for RemoteMediaTrack {
    fn kind(&self) -> MediaKind {
        self.track.kind()
    }

    fn id(&self) -> &str {
        self.track.id()
    }

    fn recv(&self) -> impl Future<Output = Result<Frame, MediaError>> + Send {
        self.track.recv()
    }

    fn stop(&self) {
        self.track.stop();
    }

    fn is_ended(&self) -> bool {
        self.track.is_ended()
    }

    fn ended(&self) -> impl Future<Output = ()> + Send {
        self.track.ended()
    }
}

enum AnyDecoder {
    Video(Box<dyn VideoDecoder>),
    Audio(Box<dyn AudioDecoder>),
}

fn new_decoder(codec: CodecKind) -> Result<Option<AnyDecoder>, CodecError> {
    Ok(Some(match codec {
        CodecKind::Vp8 => AnyDecoder::Video(Box::new(VpxDecoder::vp8()?)),
        CodecKind::Vp9 => AnyDecoder::Video(Box::new(VpxDecoder::vp9()?)),
        CodecKind::H264 => AnyDecoder::Video(Box::new(H264Decoder::new()?)),
        #[cfg(feature = "av1")]
        CodecKind::Av1 => AnyDecoder::Video(Box::new(ferrtc_media::Av1Decoder::new()?)),
        CodecKind::Opus => {
            AnyDecoder::Audio(Box::new(OpusDecoder::new(OPUS_OUTPUT.0, OPUS_OUTPUT.1)?))
        }
        CodecKind::Pcmu => AnyDecoder::Audio(Box::new(G711Decoder::new(G711Law::MuLaw))),
        CodecKind::Pcma => AnyDecoder::Audio(Box::new(G711Decoder::new(G711Law::ALaw))),
        CodecKind::G722 => AnyDecoder::Audio(Box::new(G722Decoder::new())),
        _ => return Ok(None),
    }))
}

/// The decoder thread of one remote track.
struct DecodeLoop {
    kind: MediaKind,
    frames: mpsc::Receiver<EncodedFrame>,
    out: FrameSender,
    link: Link,
    transceiver: TransceiverId,
    shared: Arc<Shared>,
    last_request: Option<Instant>,
}

impl DecodeLoop {
    fn run(mut self) {
        let mut decoder: Option<(CodecKind, AnyDecoder)> = None;
        // A video decoder starts at a key frame: a stream joined mid-way waits for one.
        let mut waiting_for_key = self.kind == MediaKind::Video;
        let mut extended: Option<i64> = None;
        let mut unsupported = None;
        while let Some(frame) = self.frames.blocking_recv() {
            if self.out.is_closed() {
                break;
            }
            self.shared.stats().frames_received += 1;
            if decoder.as_ref().map(|(c, _)| *c) != Some(frame.codec) {
                decoder = match new_decoder(frame.codec) {
                    Ok(Some(d)) => Some((frame.codec, d)),
                    made => {
                        if unsupported != Some(frame.codec) {
                            let error = made.err();
                            tracing::warn!(codec = ?frame.codec, ?error, "no decoder for this codec");
                            unsupported = Some(frame.codec);
                        }
                        self.shared.stats().frames_skipped += 1;
                        continue;
                    }
                };
                waiting_for_key = self.kind == MediaKind::Video;
            }
            if waiting_for_key && !frame.keyframe {
                self.shared.stats().frames_skipped += 1;
                self.ask_for_key_frame();
                continue;
            }
            // The RTP timestamp, extended past its wrap (as a serial number, RFC 1982).
            let pts = match extended {
                None => i64::from(frame.rtp_timestamp),
                Some(last) => {
                    last + i64::from(frame.rtp_timestamp.wrapping_sub(last as u32) as i32)
                }
            };
            extended = Some(pts);
            let Some((_, d)) = decoder.as_mut() else {
                continue;
            };
            let decoded = match d {
                AnyDecoder::Video(d) => d.decode(&frame.data, pts).map(|f| f.map(Frame::Video)),
                AnyDecoder::Audio(d) => d.decode(&frame.data, pts).map(|f| Some(Frame::Audio(f))),
            };
            match decoded {
                Ok(Some(raw)) => {
                    waiting_for_key = false;
                    self.shared.stats().frames_decoded += 1;
                    if self.out.send(raw).is_err() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let errors = {
                        let mut stats = self.shared.stats();
                        stats.decode_errors += 1;
                        stats.decode_errors
                    };
                    if errors.is_power_of_two() {
                        tracing::debug!(transceiver = %self.transceiver, error = %e, errors, "frame not decoded");
                    }
                    if self.kind == MediaKind::Video {
                        waiting_for_key = true;
                        self.ask_for_key_frame();
                    }
                }
            }
        }
    }

    fn ask_for_key_frame(&mut self) {
        let now = Instant::now();
        if self
            .last_request
            .is_some_and(|at| now - at < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        self.last_request = Some(now);
        if self
            .link
            .send(Command::RequestKeyframe(self.transceiver))
            .is_ok()
        {
            self.shared.stats().keyframe_requests += 1;
        }
    }
}
