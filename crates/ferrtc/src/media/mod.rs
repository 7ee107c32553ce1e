//! Raw-frame tracks on a peer connection (cargo feature `media`, on by default): what aiortc
//! users know as `pc.addTrack(track)` and `frame = await track.recv()`.
//!
//! - **Send**: [`PeerConnection::add_media_track`] (W3C `addTrack`) or
//!   [`PeerConnection::attach_media_track`] (a transceiver you already have, e.g. one the
//!   peer's offer made) give a [`MediaStreamTrack`] of raw frames to a transceiver. A task
//!   pulls the track's frames, encodes them on tokio's blocking pool with the codec the
//!   negotiation chose (VP8, VP9, H.264, Opus, G.711, G.722; audio in 20 ms packets), and
//!   writes each encoded frame through [`PeerConnection::write_frame`], its RTP timestamp
//!   taken from the frame's `pts` and `time_base` (plus a random offset, RFC 3550 §5.1). A
//!   key-frame request from the peer (PLI or FIR) makes the next frame a key frame; the
//!   bitrate is [`MediaSender::set_target_bitrate`]'s, changeable at any time. The task
//!   waits for a negotiated codec and a connected transport before it pulls a frame, so the
//!   track's own back-pressure (newest frame wins) holds frames meanwhile.
//! - **Receive**: [`PeerConnection::remote_media_track`] (W3C `receiver.track`) turns a
//!   transceiver's received frames into a [`RemoteMediaTrack`], a [`MediaStreamTrack`] of
//!   decoded [`VideoFrame`]s (I420, `pts` on the 90 kHz RTP clock) or [`AudioFrame`]s
//!   (s16; Opus at 48 kHz stereo as aiortc gives it, G.711 at 8 kHz and G.722 at 16 kHz
//!   mono; `pts` on the codec's RTP clock). Decoding runs on a thread of its own. The track
//!   holds one decoded frame: a consumer slower than the peer gets the newest frame, older
//!   ones are dropped and counted. A frame that fails to decode, a stream joined mid-way and
//!   a decoder that fell behind all wait for the next key frame, which is asked for (PLI).
//! - **Encoded passthrough**: [`PeerConnection::add_encoded_track`] and
//!   [`PeerConnection::attach_encoded_track`] send an [`EncodedTrack`] (a [`MediaPlayer`]
//!   opened with [`PlayerOptions::with_decode`]`(false)`, aiortc's `decode=False`) as it is,
//!   through [`PeerConnection::write_frame`], when the negotiated codec is the track's, and
//!   stop with [`PassthroughError::CodecMismatch`] otherwise. Lower down,
//!   [`Event::Frame`](crate::Event::Frame) and [`PeerConnection::write_frame`] work on
//!   transceivers no track has taken.
//!
//! The rest of this module is [`ferrtc_media`] re-exported: frames, codecs, tracks and the
//! aiortc helpers ([`MediaPlayer`], [`MediaRecorder`], [`MediaRelay`], [`MediaBlackhole`]).
//! Note that its [`MediaKind`] is the track's kind; the transceiver's is
//! [`crate::MediaKind`].
//!
//! # Example
//!
//! The grey transform of aiortc's server example, on the answering side: for each video
//! transceiver the peer's offer made, a decoded track, turned grey in a few lines, is sent
//! back on the same transceiver (`examples/grey.rs` runs both peers).
//!
//! ```no_run
//! use std::convert::Infallible;
//! use ferrtc::media::{Frame, TransformTrack};
//! use ferrtc::{Description, PeerConnection};
//!
//! # async fn answer(pc: &PeerConnection, offer: Description) -> Result<(), Box<dyn std::error::Error>> {
//! pc.set_remote_description(offer).await?;
//! for t in pc.transceivers().await? {
//!     if t.kind != ferrtc::MediaKind::Video {
//!         continue;
//!     }
//!     let remote = pc.remote_media_track(t.id).await?;
//!     let grey = TransformTrack::new(remote, |frame: &Frame| {
//!         let mut frame = frame.clone(); // shares the planes until written
//!         if let Frame::Video(video) = &mut frame {
//!             let [_, u, v] = video.planes_mut();
//!             u.fill(128);
//!             v.fill(128);
//!         }
//!         Ok::<_, Infallible>(frame)
//!     });
//!     // W3C addTrack: takes this transceiver (the offer made it recvonly) to sendrecv.
//!     pc.add_media_track(grey).await?;
//! }
//! pc.set_local_description(None).await?; // the answer
//! # Ok(())
//! # }
//! ```
//!
//! # Limits
//!
//! - The bitrate is [`MediaSender::set_target_bitrate`]'s, lowered to the sender's share of
//!   the connection's congestion-control target once there is one (GCC over transport-wide
//!   feedback, capped by the peer's REMB, from `ferrtc-peerconnection`).
//! - Audio that the negotiated codec cannot take as it is (G.711 wants 8 kHz mono, G.722
//!   16 kHz mono, Opus one of its five rates) is mixed down and resampled linearly, frame by
//!   frame: good enough for speech, not for music.

mod passthrough;
mod receive;
mod send;

pub use ferrtc_media::*;
pub use passthrough::{EncodedSender, EncodedSenderStats, PassthroughError};
pub use receive::{RemoteMediaTrack, RemoteTrackStats};
pub use send::{MediaSender, SenderStats};

use tokio::sync::oneshot;

use crate::connection::{Command, Link};
use crate::tap::{TapPart, TapRefused};
use crate::{Direction, PeerConnection, TransceiverId, TransceiverInit};

/// Why a media track could not be given a transceiver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// The connection has no such transceiver.
    #[error("no transceiver {0}")]
    UnknownTransceiver(TransceiverId),
    /// The track's kind is not the transceiver's (a video track on an audio transceiver).
    #[error("a {track_kind:?} track cannot use {transceiver}, a {transceiver_kind} transceiver")]
    KindMismatch {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its kind.
        transceiver_kind: crate::MediaKind,
        /// The track's kind.
        track_kind: MediaKind,
    },
    /// A live media track already sends on (or receives from) this transceiver.
    #[error("{0} already has a media track on this side")]
    AlreadyAttached(TransceiverId),
    /// The connection refused or is closed.
    #[error("the peer connection refused")]
    Connection(#[source] crate::Error),
}

impl From<crate::Error> for AttachError {
    fn from(e: crate::Error) -> Self {
        AttachError::Connection(e)
    }
}

/// The facade's kind for a track's kind.
fn transceiver_kind(kind: MediaKind) -> crate::MediaKind {
    match kind {
        MediaKind::Audio => crate::MediaKind::Audio,
        MediaKind::Video => crate::MediaKind::Video,
    }
}

/// The track's kind for a transceiver's kind.
fn track_kind(kind: crate::MediaKind) -> MediaKind {
    match kind {
        crate::MediaKind::Audio => MediaKind::Audio,
        crate::MediaKind::Video => MediaKind::Video,
    }
}

/// Asks the driver to give one side of `transceiver` to a track.
async fn tap(
    link: &Link,
    transceiver: TransceiverId,
    track: MediaKind,
    part: TapPart,
) -> Result<(), AttachError> {
    let (tx, rx) = oneshot::channel();
    link.send(Command::Tap(transceiver, part, tx))?;
    match rx.await.map_err(|_| crate::Error::Closed)? {
        Ok(()) => Ok(()),
        Err(TapRefused::Unknown) => Err(AttachError::UnknownTransceiver(transceiver)),
        Err(TapRefused::Taken) => Err(AttachError::AlreadyAttached(transceiver)),
        Err(TapRefused::Kind(actual)) => Err(AttachError::KindMismatch {
            transceiver,
            transceiver_kind: actual,
            track_kind: track,
        }),
    }
}

impl PeerConnection {
    /// Sends a track of raw frames (W3C `addTrack`): on the first transceiver of its kind
    /// that receives but does not send yet and has no media track (one the peer's offer
    /// made), turned to `sendrecv`; otherwise on a new `sendrecv` transceiver. Either way a
    /// negotiation is needed before media flows.
    ///
    /// # Errors
    /// [`AttachError::Connection`] when the connection is closed or refuses the
    /// transceiver.
    pub async fn add_media_track<T>(&self, track: T) -> Result<MediaSender, AttachError>
    where
        T: MediaStreamTrack + 'static,
    {
        let kind = transceiver_kind(track.kind());
        for t in self.transceivers().await? {
            if t.kind != kind || !matches!(t.direction, Direction::RecvOnly | Direction::Inactive) {
                continue;
            }
            let direction = if t.direction == Direction::RecvOnly {
                Direction::SendRecv
            } else {
                Direction::SendOnly
            };
            match send::MediaSender::start(self.link(), t.id, track).await {
                Ok(sender) => {
                    self.set_direction(t.id, direction).await?;
                    return Ok(sender);
                }
                Err((AttachError::AlreadyAttached(_), back)) => return self.add_new(back).await,
                Err((e, _)) => return Err(e),
            }
        }
        self.add_new(track).await
    }

    async fn add_new<T>(&self, track: T) -> Result<MediaSender, AttachError>
    where
        T: MediaStreamTrack + 'static,
    {
        let init = TransceiverInit {
            track: Some(crate::layers::peerconnection::TrackInfo {
                track_id: track.id().to_owned(),
                stream_ids: Vec::new(),
            }),
            ..TransceiverInit::default()
        };
        let id = self
            .add_transceiver(transceiver_kind(track.kind()), init)
            .await?;
        send::MediaSender::start(self.link(), id, track)
            .await
            .map_err(|(e, _)| e)
    }

    /// Sends a track of raw frames on `transceiver` (W3C `sender.replaceTrack`). The
    /// transceiver's direction is left as it is: it must send (`sendrecv` or `sendonly`)
    /// once negotiated for frames to leave.
    ///
    /// # Errors
    /// [`AttachError::KindMismatch`] for a track of the other kind,
    /// [`AttachError::UnknownTransceiver`], [`AttachError::AlreadyAttached`] when a live
    /// media track already sends on it, [`AttachError::Connection`] when closed.
    pub async fn attach_media_track<T>(
        &self,
        transceiver: TransceiverId,
        track: T,
    ) -> Result<MediaSender, AttachError>
    where
        T: MediaStreamTrack + 'static,
    {
        send::MediaSender::start(self.link(), transceiver, track)
            .await
            .map_err(|(e, _)| e)
    }

    /// The track of what the peer sends on `transceiver`, decoded (W3C
    /// `transceiver.receiver.track`). From now on the transceiver's frames go to this track,
    /// not to [`Event::Frame`](crate::Event::Frame) or [`Event::Rtp`](crate::Event::Rtp);
    /// make it before media arrives (once the description that makes the transceiver is
    /// applied, or on the [`Event::Track`](crate::Event::Track) event), else the stream is
    /// joined at its next key frame, which is asked for. Dropping the track gives the
    /// transceiver back to the event stream.
    ///
    /// # Errors
    /// [`AttachError::UnknownTransceiver`], [`AttachError::AlreadyAttached`] when a live
    /// remote track already takes its frames, [`AttachError::Connection`] when closed.
    pub async fn remote_media_track(
        &self,
        transceiver: TransceiverId,
    ) -> Result<RemoteMediaTrack, AttachError> {
        let kind = self
            .transceivers()
            .await?
            .into_iter()
            .find(|t| t.id == transceiver)
            .ok_or(AttachError::UnknownTransceiver(transceiver))?
            .kind;
        receive::RemoteMediaTrack::start(self.link(), transceiver, track_kind(kind)).await
    }
}
