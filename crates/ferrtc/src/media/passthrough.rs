//! The passthrough send side: a task pulls encoded frames from an [`EncodedTrack`] (a
//! [`MediaPlayer`](ferrtc_media::MediaPlayer) with `with_decode(false)`) and writes them as
//! they are, when the negotiated codec is the track's.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use ferrtc_media::{Codec, EncodedTrack, MediaKind, TimeBase};
use rand::{RngCore, SeedableRng};
use tokio::sync::{Notify, watch};

use super::AttachError;
use crate::connection::{Command, Link};
use crate::tap::{SendCodec, TapPart};
use crate::{CodecKind, Direction, PeerConnection, TransceiverId, TransceiverInit};

/// Why an [`EncodedSender`] stopped without its track ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassthroughError {
    /// The negotiation chose another codec than the track's frames are in: they cannot be
    /// sent without transcoding, which passthrough does not do.
    #[error("the track's frames are {track:?} but the negotiated send codec is {negotiated:?}")]
    CodecMismatch {
        /// The track's codec.
        track: Codec,
        /// The transceiver's negotiated send codec.
        negotiated: CodecKind,
    },
}

/// What an [`EncodedSender`] has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EncodedSenderStats {
    /// Encoded frames written to the transceiver.
    pub frames_sent: u64,
    /// Of those, key frames.
    pub key_frames: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Video frames skipped before the first key frame (nothing before it decodes).
    pub frames_skipped: u64,
    /// Key-frame requests from the peer (PLI or FIR). Passthrough cannot honour them: the
    /// next key frame is the file's next.
    pub keyframe_requests: u64,
}

struct Shared {
    kind: MediaKind,
    codec: Codec,
    stop: Notify,
    stopped: AtomicBool,
    stats: Mutex<EncodedSenderStats>,
    /// `Some` once finished: why.
    finished: watch::Sender<Option<Result<(), PassthroughError>>>,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, EncodedSenderStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("kind", &self.kind)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

/// An encoded track being sent as it is on a transceiver, from
/// [`PeerConnection::add_encoded_track`] or [`PeerConnection::attach_encoded_track`].
///
/// Sending goes on until the track ends, the connection closes, [`EncodedSender::stop`] is
/// called or the negotiated codec is not the track's ([`PassthroughError::CodecMismatch`]);
/// dropping this handle does not stop it.
#[derive(Debug, Clone)]
pub struct EncodedSender {
    transceiver: TransceiverId,
    shared: Arc<Shared>,
}

/// The facade's codec for a media crate codec (by its name), if ferrtc packetizes it.
fn codec_kind(codec: Codec) -> Option<CodecKind> {
    codec
        .mime_type()
        .split('/')
        .nth(1)
        .and_then(CodecKind::from_name)
}

impl EncodedSender {
    /// Takes the send side of `transceiver` and starts the task; gives the track back when
    /// the transceiver cannot be had.
    async fn start<T>(
        link: Link,
        transceiver: TransceiverId,
        track: T,
    ) -> Result<EncodedSender, (AttachError, T)>
    where
        T: EncodedTrack + 'static,
    {
        let kind = track.kind();
        let keyframe = Arc::new(AtomicBool::new(false));
        let (codec_tx, codec_rx) = watch::channel(None);
        let part = TapPart::Send {
            kind: super::transceiver_kind(kind),
            keyframe: Arc::clone(&keyframe),
            codec: codec_tx,
            estimate: Arc::new(AtomicU32::new(0)),
            can_send: codec_kind(track.codec()).into_iter().collect(),
        };
        if let Err(e) = super::tap(&link, transceiver, kind, part).await {
            return Err((e, track));
        }
        let shared = Arc::new(Shared {
            kind,
            codec: track.codec(),
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
            stats: Mutex::new(EncodedSenderStats::default()),
            finished: watch::Sender::new(None),
        });
        let task = SendTask {
            link,
            transceiver,
            shared: Arc::clone(&shared),
            keyframe,
            codec: codec_rx,
        };
        tokio::spawn(task.run(track));
        Ok(EncodedSender {
            transceiver,
            shared,
        })
    }

    /// The transceiver it sends on.
    #[must_use]
    pub fn transceiver(&self) -> TransceiverId {
        self.transceiver
    }

    /// The track's kind.
    #[must_use]
    pub fn kind(&self) -> MediaKind {
        self.shared.kind
    }

    /// The track's codec.
    #[must_use]
    pub fn codec(&self) -> Codec {
        self.shared.codec
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> EncodedSenderStats {
        *self.shared.stats()
    }

    /// Stops sending (the track itself is not stopped). The transceiver can then take
    /// another track.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.stop.notify_one();
    }

    /// Resolves once sending has stopped: `Ok` when the track ended, the connection closed
    /// or [`EncodedSender::stop`] was called.
    ///
    /// # Errors
    /// [`PassthroughError::CodecMismatch`] when it stopped because the negotiated codec is
    /// not the track's.
    pub async fn finished(&self) -> Result<(), PassthroughError> {
        let mut rx = self.shared.finished.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(r) => r.unwrap_or(Ok(())),
            Err(_) => Ok(()),
        }
    }

    /// Why sending stopped, if it stopped on an error.
    #[must_use]
    pub fn error(&self) -> Option<PassthroughError> {
        self.shared.finished.borrow().and_then(Result::err)
    }
}

struct SendTask {
    link: Link,
    transceiver: TransceiverId,
    shared: Arc<Shared>,
    keyframe: Arc<AtomicBool>,
    codec: watch::Receiver<Option<SendCodec>>,
}

impl SendTask {
    async fn run<T: EncodedTrack>(mut self, track: T) {
        let want = codec_kind(self.shared.codec);
        let video = self.shared.kind == MediaKind::Video;
        let rtp_offset = rand::rngs::StdRng::from_os_rng().next_u32();
        let mut awaiting_key = video;
        let mut outcome = Ok(());
        loop {
            if self.shared.stopped.load(Ordering::Acquire) {
                break;
            }
            let next = tokio::select! {
                biased;
                () = self.shared.stop.notified() => break,
                () = self.link.finished() => break,
                next = next_frame(&track, &self.link, &mut self.codec, want) => next,
            };
            let (frame, codec) = match next {
                Next::Frame(frame, codec) => (frame, codec),
                Next::Mismatch(negotiated) => {
                    tracing::warn!(track = ?self.shared.codec, ?negotiated, "passthrough codec mismatch");
                    outcome = Err(PassthroughError::CodecMismatch {
                        track: self.shared.codec,
                        negotiated,
                    });
                    break;
                }
                Next::End => break,
            };
            let requests = u64::from(self.keyframe.swap(false, Ordering::AcqRel));
            let mut stats = self.shared.stats();
            stats.keyframe_requests += requests;
            if awaiting_key && !frame.key_frame {
                stats.frames_skipped += 1;
                continue;
            }
            awaiting_key = false;
            stats.frames_sent += 1;
            stats.key_frames += u64::from(frame.key_frame);
            stats.bytes_sent += frame.data.len() as u64;
            drop(stats);
            let clock = TimeBase::per_sample(codec.clock_rate).unwrap_or(TimeBase::VIDEO_90KHZ);
            let rtp_timestamp =
                (frame.time_base.rescale(frame.pts, clock) as u32).wrapping_add(rtp_offset);
            let write = Command::WriteFrame {
                transceiver: self.transceiver,
                data: Bytes::from(frame.data),
                rtp_timestamp,
            };
            if self.link.send(write).is_err() {
                break;
            }
        }
        let shared = Arc::clone(&self.shared);
        drop(self);
        shared.finished.send_replace(Some(outcome));
    }
}

enum Next {
    Frame(ferrtc_media::EncodedFrame, SendCodec),
    Mismatch(CodecKind),
    End,
}

/// The track's next frame once the transceiver has a codec to send with, that codec is
/// `want`, and the connection is up.
async fn next_frame<T: EncodedTrack>(
    track: &T,
    link: &Link,
    codec: &mut watch::Receiver<Option<SendCodec>>,
    want: Option<CodecKind>,
) -> Next {
    loop {
        let Ok(c) = codec.wait_for(Option::is_some).await.map(|c| *c) else {
            return Next::End;
        };
        match c {
            Some(c) if Some(c.codec) != want => return Next::Mismatch(c.codec),
            _ => {}
        }
        if link.connected().await.is_err() {
            return Next::End;
        }
        let Ok(frame) = track.recv().await else {
            return Next::End;
        };
        if let Some(c) = *codec.borrow() {
            return Next::Frame(frame, c);
        }
    }
}

impl PeerConnection {
    /// Sends a track of encoded frames as they are, with no decoding or encoding (aiortc's
    /// `MediaPlayer(..., decode=False)` given to `addTrack`): on the first transceiver of
    /// its kind that receives but does not send yet and has no track (one the peer's offer
    /// made), turned to `sendrecv`; otherwise on a new `sendrecv` transceiver.
    ///
    /// The frames are written with [`PeerConnection::write_frame`] once the negotiation
    /// chose the track's codec for the transceiver; if it chose another, sending stops with
    /// [`PassthroughError::CodecMismatch`] (see [`EncodedSender::finished`]). Video starts
    /// at a key frame; the peer's key-frame requests cannot be honoured, only counted.
    ///
    /// # Errors
    /// [`AttachError::Connection`] when the connection is closed or refuses the
    /// transceiver.
    pub async fn add_encoded_track<T>(&self, track: T) -> Result<EncodedSender, AttachError>
    where
        T: EncodedTrack + 'static,
    {
        let kind = super::transceiver_kind(track.kind());
        for t in self.transceivers().await? {
            if t.kind != kind || !matches!(t.direction, Direction::RecvOnly | Direction::Inactive) {
                continue;
            }
            let direction = if t.direction == Direction::RecvOnly {
                Direction::SendRecv
            } else {
                Direction::SendOnly
            };
            match EncodedSender::start(self.link(), t.id, track).await {
                Ok(sender) => {
                    self.set_direction(t.id, direction).await?;
                    return Ok(sender);
                }
                Err((AttachError::AlreadyAttached(_), back)) => {
                    return self.add_new_encoded(back).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
        self.add_new_encoded(track).await
    }

    async fn add_new_encoded<T>(&self, track: T) -> Result<EncodedSender, AttachError>
    where
        T: EncodedTrack + 'static,
    {
        let init = TransceiverInit {
            track: Some(crate::layers::peerconnection::TrackInfo {
                track_id: track.id().to_owned(),
                stream_ids: Vec::new(),
            }),
            ..TransceiverInit::default()
        };
        let id = self
            .add_transceiver(super::transceiver_kind(track.kind()), init)
            .await?;
        EncodedSender::start(self.link(), id, track)
            .await
            .map_err(|(e, _)| e)
    }

    /// Sends a track of encoded frames as they are on `transceiver` (as
    /// [`PeerConnection::attach_media_track`] does for raw frames); see
    /// [`PeerConnection::add_encoded_track`].
    ///
    /// # Errors
    /// [`AttachError::KindMismatch`], [`AttachError::UnknownTransceiver`],
    /// [`AttachError::AlreadyAttached`], [`AttachError::Connection`].
    pub async fn attach_encoded_track<T>(
        &self,
        transceiver: TransceiverId,
        track: T,
    ) -> Result<EncodedSender, AttachError>
    where
        T: EncodedTrack + 'static,
    {
        EncodedSender::start(self.link(), transceiver, track)
            .await
            .map_err(|(e, _)| e)
    }
}
