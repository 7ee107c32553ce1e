//! Tracks of encoded frames: what a [`MediaPlayer`](crate::MediaPlayer) opened with
//! [`PlayerOptions::with_decode(false)`](crate::PlayerOptions::with_decode) yields (aiortc's
//! `MediaPlayer(..., decode=False)`).
//!
//! A separate trait rather than a third [`Frame`](crate::Frame) variant: every consumer of
//! raw frames (encoders, recorders, transforms) would otherwise have to handle packets it
//! cannot use, and a track of encoded frames has one codec for its whole life, which the
//! consumer needs before the first frame (to compare with what a peer negotiated).
//!
//! Unlike a [`SourceTrack`](crate::SourceTrack), which keeps only the newest raw frame, an
//! [`EncodedSourceTrack`] queues frames: an encoded frame usually depends on the ones before.
//! When the queue is full the oldest frames give way; for video the whole queue is dropped
//! and frames are then skipped up to the next key frame, so what the consumer gets always
//! decodes. Everything dropped is counted ([`TrackStats::dropped`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::codec::{Codec, EncodedFrame};
use crate::error::MediaError;
use crate::frame::MediaKind;
use crate::track::{Ended, TrackStats};

/// How many encoded frames an [`EncodedSourceTrack`] made by a player holds: about two
/// seconds of 30 fps video, over a second of 20 ms audio.
pub const ENCODED_QUEUE: usize = 64;

/// A source of encoded frames of one codec (the passthrough twin of
/// [`MediaStreamTrack`](crate::MediaStreamTrack)).
pub trait EncodedTrack: Send + Sync {
    /// The codec of every frame, fixed for the track's life.
    fn codec(&self) -> Codec;
    /// Audio or video (the codec's kind).
    fn kind(&self) -> MediaKind {
        self.codec().kind()
    }
    /// The track's id.
    fn id(&self) -> &str;
    /// The next frame, `pts` on the codec's RTP clock (90 kHz for video, 48 kHz for Opus);
    /// [`MediaError::Ended`] once the track has ended.
    fn recv(&self) -> impl Future<Output = Result<EncodedFrame, MediaError>> + Send;
    /// Ends the track: pending and later `recv` calls return [`MediaError::Ended`].
    fn stop(&self);
    /// True once the track has ended.
    fn is_ended(&self) -> bool;
    /// Resolves when the track has ended.
    fn ended(&self) -> impl Future<Output = ()> + Send;
}

impl<T: EncodedTrack> EncodedTrack for Arc<T> {
    fn codec(&self) -> Codec {
        (**self).codec()
    }
    fn id(&self) -> &str {
        (**self).id()
    }
    fn recv(&self) -> impl Future<Output = Result<EncodedFrame, MediaError>> + Send {
        (**self).recv()
    }
    fn stop(&self) {
        (**self).stop();
    }
    fn is_ended(&self) -> bool {
        (**self).is_ended()
    }
    fn ended(&self) -> impl Future<Output = ()> + Send {
        (**self).ended()
    }
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<EncodedFrame>,
    /// Video frames are being skipped up to the next key frame.
    awaiting_key: bool,
    closed: bool,
    stats: TrackStats,
}

#[derive(Debug)]
struct Shared {
    codec: Codec,
    id: String,
    capacity: usize,
    queue: Mutex<Queue>,
    wake: Notify,
    ended: Ended,
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A track of encoded frames fed by an [`EncodedFrameSender`] (see [`encoded_track_channel`]).
#[derive(Debug)]
pub struct EncodedSourceTrack {
    shared: Arc<Shared>,
}

/// The feeding end of an [`EncodedSourceTrack`]. Sending never waits. Dropping it ends the
/// track once its queued frames are received.
#[derive(Debug)]
pub struct EncodedFrameSender {
    shared: Arc<Shared>,
}

/// A connected [`EncodedFrameSender`] and [`EncodedSourceTrack`] of `codec`, queueing up to
/// `capacity` frames (at least 1).
///
/// ```
/// use ferrtc_media::{encoded_track_channel, Codec, EncodedFrame, EncodedTrack, TimeBase};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (sender, track) = encoded_track_channel(Codec::Vp8, "file", 2);
/// let frame = |pts: i64, key_frame: bool| EncodedFrame {
///     data: vec![u8::from(!key_frame)],
///     pts,
///     time_base: TimeBase::VIDEO_90KHZ,
///     key_frame,
/// };
/// for (pts, key) in [(0, true), (3000, false), (6000, false), (9000, true)] {
///     sender.send(frame(pts, key)).unwrap();
/// }
/// // The third frame overflowed the queue: it and the two queued were dropped, and the
/// // track went on from the next key frame.
/// assert_eq!(track.recv().await.unwrap().pts, 9000);
/// assert_eq!(track.stats().dropped, 3);
/// # });
/// ```
pub fn encoded_track_channel(
    codec: Codec,
    id: impl Into<String>,
    capacity: usize,
) -> (EncodedFrameSender, EncodedSourceTrack) {
    let shared = Arc::new(Shared {
        codec,
        id: id.into(),
        capacity: capacity.max(1),
        queue: Mutex::new(Queue::default()),
        wake: Notify::new(),
        ended: Ended::new(),
    });
    (
        EncodedFrameSender {
            shared: Arc::clone(&shared),
        },
        EncodedSourceTrack { shared },
    )
}

impl EncodedFrameSender {
    /// Queues `frame`; when the queue is full, drops (and counts) the oldest audio frame, or
    /// for video the whole queue and every frame up to the next key frame. Gives the frame
    /// back if the track has ended.
    pub fn send(&self, frame: EncodedFrame) -> Result<(), EncodedFrame> {
        if self.shared.ended.get() {
            return Err(frame);
        }
        let video = self.shared.codec.kind() == MediaKind::Video;
        let mut q = self.shared.queue();
        q.stats.sent += 1;
        if q.frames.len() >= self.shared.capacity {
            if video {
                q.stats.dropped += q.frames.len() as u64;
                q.frames.clear();
                q.awaiting_key = true;
            } else {
                q.frames.pop_front();
                q.stats.dropped += 1;
            }
        }
        if q.awaiting_key && !frame.key_frame {
            q.stats.dropped += 1;
            return Ok(());
        }
        q.awaiting_key = false;
        q.frames.push_back(frame);
        drop(q);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// True once the track has ended (stopped by its consumer).
    pub fn is_closed(&self) -> bool {
        self.shared.ended.get()
    }

    /// The track's counters.
    pub fn stats(&self) -> TrackStats {
        self.shared.queue().stats
    }
}

impl Drop for EncodedFrameSender {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for EncodedSourceTrack {
    fn drop(&mut self) {
        EncodedTrack::stop(self);
    }
}

impl EncodedSourceTrack {
    /// The track's counters.
    pub fn stats(&self) -> TrackStats {
        self.shared.queue().stats
    }
}

impl EncodedTrack for EncodedSourceTrack {
    fn codec(&self) -> Codec {
        self.shared.codec
    }

    fn id(&self) -> &str {
        &self.shared.id
    }

    async fn recv(&self) -> Result<EncodedFrame, MediaError> {
        loop {
            {
                let mut q = self.shared.queue();
                if self.shared.ended.get() {
                    return Err(MediaError::Ended);
                }
                if let Some(frame) = q.frames.pop_front() {
                    q.stats.delivered += 1;
                    return Ok(frame);
                }
                if q.closed {
                    drop(q);
                    self.shared.ended.set();
                    return Err(MediaError::Ended);
                }
            }
            self.shared.wake.notified().await;
        }
    }

    fn stop(&self) {
        self.shared.queue().frames.clear();
        self.shared.ended.set();
        self.shared.wake.notify_waiters();
        self.shared.wake.notify_one();
    }

    fn is_ended(&self) -> bool {
        self.shared.ended.get()
    }

    async fn ended(&self) {
        self.shared.ended.wait().await;
    }
}
