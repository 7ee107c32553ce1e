//! What the driver hands straight to the media tracks of a transceiver (the `media`
//! feature's senders and remote tracks), past the connection's event stream: the whole
//! frames it receives, the peer's key-frame requests, and the codec negotiated for sending.
//!
//! Nothing here decodes or encodes; it only routes, in the driver's task, with bounded
//! queues.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use ferrtc_peerconnection as core;
use tokio::sync::{mpsc, watch};

use crate::connection::{CodecKind, EncodedFrame, MediaKind, TransceiverId};

/// Received frames that may wait for a track's decoder; past it, frames are dropped and the
/// next ones wait for a key frame (which is asked for). About two seconds of video at 30
/// frames per second, or 1.3 s of 20 ms audio.
pub(crate) const FRAME_QUEUE: usize = 64;

/// The codec a transceiver sends with: the core's choice for
/// [`crate::PeerConnection::write_frame`].
pub(crate) use ferrtc_peerconnection::SendCodec;

/// One side of a transceiver that a track takes over.
#[derive(Debug)]
pub(crate) enum TapPart {
    /// A remote track: received frames go to `frames` instead of the event stream.
    Receive {
        kind: MediaKind,
        frames: mpsc::Sender<EncodedFrame>,
        /// Frames dropped because the queue was full or a key frame was awaited.
        dropped: Arc<AtomicU64>,
    },
    /// A local track's sender: key-frame requests raise `keyframe`; the negotiated codec
    /// is published on `codec`; the sender's share of the congestion controller's target
    /// goes to `estimate` (bit/s, 0 while there is none). `can_send` lists the codecs the
    /// sender can make, best first (empty: any): when the peer's first choice is not one
    /// of them, the first negotiated one that is becomes the send codec.
    Send {
        kind: MediaKind,
        keyframe: Arc<AtomicBool>,
        codec: watch::Sender<Option<SendCodec>>,
        estimate: Arc<AtomicU32>,
        can_send: Vec<CodecKind>,
    },
}

/// Why a track could not take a transceiver over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TapRefused {
    /// No such transceiver.
    Unknown,
    /// The transceiver carries the other kind (given).
    Kind(MediaKind),
    /// Another live track already has this side of it.
    Taken,
}

struct ReceiveTap {
    frames: mpsc::Sender<EncodedFrame>,
    dropped: Arc<AtomicU64>,
    waiting_for_key: bool,
}

struct SendTap {
    keyframe: Arc<AtomicBool>,
    codec: watch::Sender<Option<SendCodec>>,
    estimate: Arc<AtomicU32>,
    can_send: Vec<CodecKind>,
}

#[derive(Default)]
struct Tap {
    receive: Option<ReceiveTap>,
    send: Option<SendTap>,
}

/// The taps of one connection, owned by its driver.
#[derive(Default)]
pub(crate) struct Taps {
    map: HashMap<TransceiverId, Tap>,
}

impl Taps {
    /// Gives one side of `transceiver` to a track.
    pub(crate) fn add(
        &mut self,
        pc: &mut core::PeerConnection,
        transceiver: TransceiverId,
        part: TapPart,
    ) -> Result<(), TapRefused> {
        let t = pc
            .negotiator()
            .transceiver(transceiver)
            .ok_or(TapRefused::Unknown)?;
        let actual = t.kind();
        let tap = self.map.entry(transceiver).or_default();
        match part {
            TapPart::Receive {
                kind,
                frames,
                dropped,
            } => {
                if kind != actual {
                    return Err(TapRefused::Kind(actual));
                }
                if tap.receive.as_ref().is_some_and(|r| !r.frames.is_closed()) {
                    return Err(TapRefused::Taken);
                }
                tap.receive = Some(ReceiveTap {
                    frames,
                    dropped,
                    waiting_for_key: false,
                });
                pc.set_receive_frames(transceiver, true);
            }
            TapPart::Send {
                kind,
                keyframe,
                codec,
                estimate,
                can_send,
            } => {
                if kind != actual {
                    return Err(TapRefused::Kind(actual));
                }
                if tap.send.as_ref().is_some_and(|s| !s.codec.is_closed()) {
                    return Err(TapRefused::Taken);
                }
                codec.send_replace(send_codec(pc, transceiver, &can_send));
                tap.send = Some(SendTap {
                    keyframe,
                    codec,
                    estimate,
                    can_send,
                });
            }
        }
        Ok(())
    }

    /// After a description was applied: tells each sender its codec now.
    pub(crate) fn refresh(&mut self, pc: &mut core::PeerConnection) {
        self.map.retain(|id, tap| {
            if let Some(s) = &tap.send {
                if s.codec.is_closed() {
                    tap.send = None;
                } else {
                    let now = send_codec(pc, *id, &s.can_send);
                    let changed = s
                        .codec
                        .send_if_modified(|c| std::mem::replace(c, now) != now);
                    if changed && now.is_some() {
                        // Sending again (or with another codec): frames encoded while the
                        // route changed may have been dropped unsent, and a delta frame
                        // would refer to them; start over from a key frame.
                        s.keyframe.store(true, Ordering::Release);
                    }
                }
            }
            tap.send.is_some() || tap.receive.is_some()
        });
    }

    /// Routes a received frame to its track; gives it back when no track takes it.
    pub(crate) fn frame(
        &mut self,
        pc: &mut core::PeerConnection,
        transceiver: TransceiverId,
        frame: EncodedFrame,
    ) -> Option<EncodedFrame> {
        let Some(tap) = self.map.get_mut(&transceiver) else {
            return Some(frame);
        };
        let Some(rx) = tap.receive.as_mut() else {
            return Some(frame);
        };
        if rx.waiting_for_key && !frame.keyframe {
            rx.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        match rx.frames.try_send(frame) {
            Ok(()) => rx.waiting_for_key = false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The decoder is behind: what follows cannot be decoded without the frame
                // dropped here, so wait for a key frame and ask for one.
                rx.dropped.fetch_add(1, Ordering::Relaxed);
                if !rx.waiting_for_key {
                    rx.waiting_for_key = true;
                    if let Err(e) = pc.request_keyframe(transceiver) {
                        tracing::debug!(error = %e, "key frame request not sent");
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // The track is gone: the transceiver goes back to the event stream's
                // packets, as before the track was made.
                tap.receive = None;
                pc.set_receive_frames(transceiver, false);
            }
        }
        None
    }

    /// The remote track of `transceiver` ended (the DTLS transport closed or failed): its
    /// queue is dropped, so the decoder drains what it holds and its track ends.
    pub(crate) fn end_receive(
        &mut self,
        pc: &mut core::PeerConnection,
        transceiver: TransceiverId,
    ) {
        if let Some(tap) = self.map.get_mut(&transceiver)
            && tap.receive.take().is_some()
        {
            pc.set_receive_frames(transceiver, false);
        }
    }

    /// Hands the peer's key-frame request to the track sending on `transceiver`; false
    /// when none does (the request then goes to the event stream).
    pub(crate) fn keyframe_request(&mut self, transceiver: TransceiverId) -> bool {
        match self.map.get(&transceiver).and_then(|t| t.send.as_ref()) {
            Some(s) if !s.codec.is_closed() => {
                s.keyframe.store(true, Ordering::Release);
                true
            }
            _ => false,
        }
    }
}

impl Taps {
    /// The connection's congestion controller's target, as each sending transceiver's
    /// share in bit/s, to the media tracks sending on them.
    pub(crate) fn target_bitrates(&mut self, shares: &[(TransceiverId, u64)]) {
        for (transceiver, bps) in shares {
            if let Some(s) = self.map.get(transceiver).and_then(|t| t.send.as_ref()) {
                s.estimate
                    .store(u32::try_from(*bps).unwrap_or(u32::MAX), Ordering::Relaxed);
            }
        }
    }
}

/// The codec `transceiver` sends with in the last negotiation, if it sends: the core's
/// choice, unless its sender cannot make that codec (`can_send`, empty for any) and the
/// negotiation holds one it can, which is then chosen in the core (an answer may list
/// AV1 first and VP8 after it; ferrtc encodes only the second).
fn send_codec(
    pc: &mut core::PeerConnection,
    transceiver: TransceiverId,
    can_send: &[CodecKind],
) -> Option<SendCodec> {
    let current = pc.send_codec(transceiver)?;
    if can_send.is_empty() || can_send.contains(&current.codec) {
        return Some(current);
    }
    let negotiated = pc.send_codecs(transceiver);
    let better = can_send
        .iter()
        .find_map(|c| negotiated.iter().find(|n| n.codec == *c))
        .copied();
    match better {
        Some(b) if pc.set_send_codec(transceiver, Some(b.codec)).is_ok() => Some(b),
        // Nothing it can make: the sender reports the codec it was given.
        _ => Some(current),
    }
}
