//! One source track read once, its frames handed to any number of subscribers.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;

use crate::error::MediaError;
use crate::frame::MediaKind;
use crate::track::{FrameSender, MediaStreamTrack, SourceTrack, new_track_id, track_channel};

#[derive(Debug, Default)]
struct Subscribers {
    senders: Vec<FrameSender>,
    /// The source has ended: new subscribers get an ended track.
    finished: bool,
}

/// Reads a track once and gives each subscriber its own track of the same frames (aiortc's
/// `MediaRelay`). Frames are shared, not copied. Each subscriber has its own one-frame slot: a
/// slow subscriber drops frames only for itself, never holding back the source or the others.
///
/// Stopping a subscriber unsubscribes it; the source is stopped when the relay is dropped.
///
/// ```
/// use ferrtc_media::{track_channel, AudioFrame, MediaKind, MediaRelay, MediaStreamTrack};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (mic, source) = track_channel(MediaKind::Audio, "mic");
/// let relay = MediaRelay::new(source);
/// let (a, b) = (relay.subscribe(), relay.subscribe());
/// mic.send(AudioFrame::from_s16(48_000, 1, vec![0; 960]).unwrap().into()).unwrap();
/// assert_eq!(a.recv().await.unwrap().pts(), 0);
/// assert_eq!(b.recv().await.unwrap().pts(), 0);
/// # });
/// ```
#[derive(Debug)]
pub struct MediaRelay {
    kind: MediaKind,
    subscribers: Arc<Mutex<Subscribers>>,
    pump: JoinHandle<()>,
}

impl MediaRelay {
    /// Starts reading `source` on a task of the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn new<T: MediaStreamTrack + 'static>(source: T) -> MediaRelay {
        let kind = source.kind();
        let subscribers = Arc::new(Mutex::new(Subscribers::default()));
        let shared = Arc::clone(&subscribers);
        let pump = tokio::spawn(async move {
            let _stop = StopOnDrop(&source);
            loop {
                match source.recv().await {
                    Ok(frame) => {
                        let mut subs = shared.lock().unwrap_or_else(PoisonError::into_inner);
                        // A stopped subscriber refuses the frame: forget it.
                        subs.senders.retain(|s| s.send(frame.clone()).is_ok());
                    }
                    Err(MediaError::Ended) => break,
                    Err(e) => {
                        tracing::warn!(track = %source.id(), error = %e, "relay source failed a frame");
                    }
                }
            }
            let mut subs = shared.lock().unwrap_or_else(PoisonError::into_inner);
            subs.finished = true;
            // Dropping the senders ends each subscriber once it has its last frame.
            subs.senders.clear();
        });
        MediaRelay {
            kind,
            subscribers,
            pump,
        }
    }

    /// A new track of the source's frames, from the next frame on.
    pub fn subscribe(&self) -> SourceTrack {
        let (tx, track) = track_channel(self.kind, new_track_id());
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !subs.finished {
            subs.senders.push(tx);
        }
        track
    }

    /// The subscribers still listening (as of the last frame relayed).
    pub fn subscriber_count(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .senders
            .len()
    }
}

impl Drop for MediaRelay {
    fn drop(&mut self) {
        // Cancelling the pump drops the source (stopping it) and the subscribers' senders.
        self.pump.abort();
    }
}

/// Stops a track when dropped, however the task owning it ends.
struct StopOnDrop<'a, T: MediaStreamTrack>(&'a T);

impl<T: MediaStreamTrack> Drop for StopOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.stop();
    }
}
