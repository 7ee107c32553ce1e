//! Tracks in aiortc's model: something you `recv()` frames from. A source track is fed by a
//! [`FrameSender`]; a transform is a track that wraps a track.
//!
//! Back-pressure never adds latency: each track holds at most one undelivered frame. When a
//! consumer is slower than its source, a new frame replaces the one waiting, which is dropped
//! and counted ([`TrackStats::dropped`]); the consumer always gets the newest frame.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, watch};

use crate::error::MediaError;
use crate::frame::{Frame, MediaKind};

/// A new track id, unique within the process (`track-1`, `track-2`, ...).
pub fn new_track_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("track-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A source of frames of one kind (aiortc's `MediaStreamTrack`).
///
/// `recv` takes `&self` so that one task can receive while another stops the track.
pub trait MediaStreamTrack: Send + Sync {
    /// Audio or video.
    fn kind(&self) -> MediaKind;
    /// The track's id.
    fn id(&self) -> &str;
    /// The next frame; [`MediaError::Ended`] once the track has ended.
    fn recv(&self) -> impl Future<Output = Result<Frame, MediaError>> + Send;
    /// Ends the track: pending and later `recv` calls return [`MediaError::Ended`].
    fn stop(&self);
    /// True once the track has ended.
    fn is_ended(&self) -> bool;
    /// Resolves when the track has ended (aiortc's `"ended"` event).
    fn ended(&self) -> impl Future<Output = ()> + Send;
}

impl<T: MediaStreamTrack> MediaStreamTrack for Arc<T> {
    fn kind(&self) -> MediaKind {
        (**self).kind()
    }
    fn id(&self) -> &str {
        (**self).id()
    }
    fn recv(&self) -> impl Future<Output = Result<Frame, MediaError>> + Send {
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

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe twin of [`MediaStreamTrack`], behind [`BoxTrack`].
trait DynTrack: Send + Sync {
    fn kind(&self) -> MediaKind;
    fn id(&self) -> &str;
    fn recv(&self) -> BoxFuture<'_, Result<Frame, MediaError>>;
    fn stop(&self);
    fn is_ended(&self) -> bool;
    fn ended(&self) -> BoxFuture<'_, ()>;
}

impl<T: MediaStreamTrack> DynTrack for T {
    fn kind(&self) -> MediaKind {
        MediaStreamTrack::kind(self)
    }
    fn id(&self) -> &str {
        MediaStreamTrack::id(self)
    }
    fn recv(&self) -> BoxFuture<'_, Result<Frame, MediaError>> {
        Box::pin(MediaStreamTrack::recv(self))
    }
    fn stop(&self) {
        MediaStreamTrack::stop(self);
    }
    fn is_ended(&self) -> bool {
        MediaStreamTrack::is_ended(self)
    }
    fn ended(&self) -> BoxFuture<'_, ()> {
        Box::pin(MediaStreamTrack::ended(self))
    }
}

/// Any track, type-erased (one allocation per `recv`), for collections of mixed tracks.
/// Clones share the track.
#[derive(Clone)]
pub struct BoxTrack(Arc<dyn DynTrack>);

impl std::fmt::Debug for BoxTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxTrack")
            .field("kind", &self.0.kind())
            .field("id", &self.0.id())
            .finish()
    }
}

impl BoxTrack {
    /// Erases `track`'s type.
    pub fn new(track: impl MediaStreamTrack + 'static) -> BoxTrack {
        BoxTrack(Arc::new(track))
    }
}

impl MediaStreamTrack for BoxTrack {
    fn kind(&self) -> MediaKind {
        self.0.kind()
    }
    fn id(&self) -> &str {
        self.0.id()
    }
    fn recv(&self) -> impl Future<Output = Result<Frame, MediaError>> + Send {
        self.0.recv()
    }
    fn stop(&self) {
        self.0.stop();
    }
    fn is_ended(&self) -> bool {
        self.0.is_ended()
    }
    fn ended(&self) -> impl Future<Output = ()> + Send {
        self.0.ended()
    }
}

/// The "ended" state of a track, which any number of tasks can wait on.
#[derive(Debug)]
pub(crate) struct Ended(watch::Sender<bool>);

impl Ended {
    pub(crate) fn new() -> Self {
        Ended(watch::Sender::new(false))
    }
    pub(crate) fn set(&self) {
        self.0.send_replace(true);
    }
    pub(crate) fn get(&self) -> bool {
        *self.0.borrow()
    }
    pub(crate) async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, which outlives this future: `wait_for` cannot fail.
        let _ = rx.wait_for(|&ended| ended).await;
    }
}

/// What a track has passed on and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackStats {
    /// Frames given to the track by its source.
    pub sent: u64,
    /// Frames the consumer received.
    pub delivered: u64,
    /// Frames replaced by a newer one before the consumer asked: the price of keeping latency
    /// at one frame when the consumer is slower than the source.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Slot {
    pending: Option<Frame>,
    /// The sender is gone: deliver what is pending, then end.
    closed: bool,
    stats: TrackStats,
}

#[derive(Debug)]
struct Shared {
    kind: MediaKind,
    id: String,
    slot: Mutex<Slot>,
    wake: Notify,
    ended: Ended,
}

impl Shared {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A track fed by a [`FrameSender`] (see [`track_channel`]): a camera, a decoder, a player.
#[derive(Debug)]
pub struct SourceTrack {
    shared: Arc<Shared>,
}

/// The feeding end of a [`SourceTrack`]. Sending never waits: a frame the consumer has not
/// taken yet is replaced and counted as dropped. Dropping the sender ends the track once its
/// last frame is received.
#[derive(Debug)]
pub struct FrameSender {
    shared: Arc<Shared>,
}

/// A connected [`FrameSender`] and [`SourceTrack`] of `kind`, with the id `id`.
///
/// ```
/// use ferrtc_media::{track_channel, AudioFrame, MediaKind, MediaStreamTrack};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (sender, track) = track_channel(MediaKind::Audio, "mic");
/// for pts in 0..3 {
///     let mut frame = AudioFrame::from_s16(48_000, 1, vec![0; 960]).unwrap();
///     frame.pts = pts * 960;
///     sender.send(frame.into()).unwrap();
/// }
/// // The consumer was late: it gets the newest frame, two were dropped.
/// assert_eq!(track.recv().await.unwrap().pts(), 2 * 960);
/// assert_eq!(track.stats().dropped, 2);
/// drop(sender);
/// assert!(track.recv().await.is_err()); // ended
/// # });
/// ```
pub fn track_channel(kind: MediaKind, id: impl Into<String>) -> (FrameSender, SourceTrack) {
    let shared = Arc::new(Shared {
        kind,
        id: id.into(),
        slot: Mutex::new(Slot::default()),
        wake: Notify::new(),
        ended: Ended::new(),
    });
    (
        FrameSender {
            shared: Arc::clone(&shared),
        },
        SourceTrack { shared },
    )
}

impl FrameSender {
    /// Hands `frame` to the track, replacing (and counting) one not yet received. Gives the
    /// frame back if the track has ended.
    pub fn send(&self, frame: Frame) -> Result<(), Frame> {
        if self.shared.ended.get() {
            return Err(frame);
        }
        let mut slot = self.shared.slot();
        slot.stats.sent += 1;
        if slot.pending.replace(frame).is_some() {
            slot.stats.dropped += 1;
        }
        drop(slot);
        // A stored permit if no one waits yet: the next `recv` will not miss this frame.
        self.shared.wake.notify_one();
        Ok(())
    }

    /// True once the track has ended (stopped by its consumer).
    pub fn is_closed(&self) -> bool {
        self.shared.ended.get()
    }

    /// Resolves when the track has ended.
    pub async fn closed(&self) {
        self.shared.ended.wait().await;
    }

    /// The track's counters.
    pub fn stats(&self) -> TrackStats {
        self.shared.slot().stats
    }
}

impl Drop for FrameSender {
    fn drop(&mut self) {
        self.shared.slot().closed = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for SourceTrack {
    /// Nobody can receive any more: the track ends, and its sender sees it closed.
    fn drop(&mut self) {
        MediaStreamTrack::stop(self);
    }
}

impl SourceTrack {
    /// The track's counters.
    pub fn stats(&self) -> TrackStats {
        self.shared.slot().stats
    }
}

impl MediaStreamTrack for SourceTrack {
    fn kind(&self) -> MediaKind {
        self.shared.kind
    }

    fn id(&self) -> &str {
        &self.shared.id
    }

    async fn recv(&self) -> Result<Frame, MediaError> {
        loop {
            {
                let mut slot = self.shared.slot();
                if self.shared.ended.get() {
                    return Err(MediaError::Ended);
                }
                if let Some(frame) = slot.pending.take() {
                    slot.stats.delivered += 1;
                    return Ok(frame);
                }
                if slot.closed {
                    drop(slot);
                    self.shared.ended.set();
                    return Err(MediaError::Ended);
                }
            }
            self.shared.wake.notified().await;
        }
    }

    fn stop(&self) {
        self.shared.slot().pending = None;
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

/// What a [`TransformTrack`] has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransformStats {
    /// Frames transformed.
    pub transformed: u64,
    /// Frames whose transform failed (the previous output was repeated in their place).
    pub failed: u64,
}

#[derive(Default)]
struct TransformState {
    last_output: Option<Frame>,
    last_error: Option<Arc<dyn Error + Send + Sync>>,
    stats: TransformStats,
}

/// A track that applies a function to each frame of another track (aiortc's
/// `VideoTransformTrack` pattern).
///
/// A transform that fails does not end the stream: the error is logged (`tracing`, at warn),
/// counted and kept ([`TransformTrack::last_error`]), and the previous output frame is
/// repeated with the failed frame's timestamp (the input frame itself if nothing was output
/// yet).
///
/// Turning video grey (setting both chroma planes to the neutral 128):
///
/// ```
/// use std::convert::Infallible;
/// use ferrtc_media::{track_channel, Frame, MediaKind, MediaStreamTrack, PixelFormat};
/// use ferrtc_media::{TransformTrack, VideoFrame};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (camera, source) = track_channel(MediaKind::Video, "camera");
/// let grey = TransformTrack::new(source, |frame: &Frame| {
///     let mut frame = frame.clone(); // shares the planes until written
///     if let Frame::Video(video) = &mut frame {
///         let [_, u, v] = video.planes_mut();
///         u.fill(128);
///         v.fill(128);
///     }
///     Ok::<_, Infallible>(frame)
/// });
///
/// let mut colourful = VideoFrame::new(PixelFormat::I420, 4, 4).unwrap();
/// colourful.plane_mut(1).fill(40);
/// camera.send(colourful.into()).unwrap();
/// let out = grey.recv().await.unwrap();
/// assert!(out.as_video().unwrap().plane(1).iter().all(|&u| u == 128));
/// # });
/// ```
pub struct TransformTrack<T, F> {
    inner: T,
    id: String,
    transform: Mutex<F>,
    state: Mutex<TransformState>,
    ended: Ended,
}

impl<T: MediaStreamTrack, F> std::fmt::Debug for TransformTrack<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformTrack")
            .field("id", &self.id)
            .field("inner", &self.inner.id())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T, F, E> TransformTrack<T, F>
where
    T: MediaStreamTrack,
    F: FnMut(&Frame) -> Result<Frame, E> + Send,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    /// A track yielding `transform(frame)` for each frame of `inner`, with a new id.
    pub fn new(inner: T, transform: F) -> Self {
        TransformTrack {
            inner,
            id: new_track_id(),
            transform: Mutex::new(transform),
            state: Mutex::new(TransformState::default()),
            ended: Ended::new(),
        }
    }
}

impl<T, F> TransformTrack<T, F> {
    fn state(&self) -> std::sync::MutexGuard<'_, TransformState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters.
    pub fn stats(&self) -> TransformStats {
        self.state().stats
    }

    /// The last error the transform returned, if any.
    pub fn last_error(&self) -> Option<Arc<dyn Error + Send + Sync>> {
        self.state().last_error.clone()
    }

    /// The wrapped track.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T, F, E> MediaStreamTrack for TransformTrack<T, F>
where
    T: MediaStreamTrack,
    F: FnMut(&Frame) -> Result<Frame, E> + Send,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    fn kind(&self) -> MediaKind {
        self.inner.kind()
    }

    fn id(&self) -> &str {
        &self.id
    }

    async fn recv(&self) -> Result<Frame, MediaError> {
        if self.ended.get() {
            return Err(MediaError::Ended);
        }
        let input = match self.inner.recv().await {
            Ok(frame) => frame,
            Err(e) => {
                if matches!(e, MediaError::Ended) {
                    self.ended.set();
                }
                return Err(e);
            }
        };
        // The lock is never held across an await.
        let result = (self
            .transform
            .lock()
            .unwrap_or_else(PoisonError::into_inner))(&input);
        let mut state = self.state();
        match result {
            Ok(output) => {
                state.stats.transformed += 1;
                state.last_output = Some(output.clone());
                Ok(output)
            }
            Err(e) => {
                let error: Arc<dyn Error + Send + Sync> = Arc::from(e.into());
                tracing::warn!(track = %self.id, error = %error, "transform failed; repeating the previous frame");
                state.stats.failed += 1;
                state.last_error = Some(error);
                let pts = input.pts();
                let mut repeated = state.last_output.clone().unwrap_or(input);
                repeated.set_pts(pts);
                Ok(repeated)
            }
        }
    }

    fn stop(&self) {
        self.ended.set();
        self.inner.stop();
    }

    fn is_ended(&self) -> bool {
        self.ended.get()
    }

    async fn ended(&self) {
        self.ended.wait().await;
    }
}
