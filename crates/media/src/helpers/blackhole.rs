//! A sink that receives and discards, for tracks whose frames nobody wants.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinHandle;

use crate::error::MediaError;
use crate::track::{BoxTrack, MediaStreamTrack};

/// Receives every frame of its tracks and drops it (aiortc's `MediaBlackhole`): keeps the
/// sources flowing when nothing else consumes them.
///
/// ```
/// use ferrtc_media::{track_channel, AudioFrame, MediaBlackhole, MediaKind};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (mic, track) = track_channel(MediaKind::Audio, "mic");
/// let mut hole = MediaBlackhole::new();
/// hole.add_track(track);
/// hole.start();
/// mic.send(AudioFrame::from_s16(48_000, 1, vec![0; 960]).unwrap().into()).unwrap();
/// drop(mic);
/// hole.finished().await;
/// assert_eq!(hole.frames_consumed(), 1);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MediaBlackhole {
    tracks: Vec<BoxTrack>,
    tasks: Vec<JoinHandle<()>>,
    started: usize,
    consumed: Arc<AtomicU64>,
}

impl MediaBlackhole {
    /// A blackhole with no tracks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a track; it is read from [`MediaBlackhole::start`] on.
    pub fn add_track(&mut self, track: impl MediaStreamTrack + 'static) {
        self.tracks.push(BoxTrack::new(track));
    }

    /// Starts reading every track added and not yet started, on tasks of the current tokio
    /// runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(&mut self) {
        for track in &self.tracks[self.started..] {
            let track = track.clone();
            let consumed = Arc::clone(&self.consumed);
            self.tasks.push(tokio::spawn(async move {
                loop {
                    match track.recv().await {
                        Ok(_) => {
                            consumed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(MediaError::Ended) => break,
                        // Any other error is one lost frame: keep reading.
                        Err(_) => {}
                    }
                }
            }));
        }
        self.started = self.tracks.len();
    }

    /// Stops every track; the reading tasks end.
    pub fn stop(&mut self) {
        for track in &self.tracks {
            track.stop();
        }
    }

    /// Resolves once every started track has ended.
    pub async fn finished(&mut self) {
        for task in &mut self.tasks {
            // A task that panicked has finished too.
            let _ = task.await;
        }
        self.tasks.retain(|t| !t.is_finished());
    }

    /// Frames received and discarded so far.
    pub fn frames_consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }
}

impl Drop for MediaBlackhole {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
