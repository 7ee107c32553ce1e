//! aiortc's helpers: [`MediaRelay`] (one source, many consumers), [`MediaBlackhole`]
//! (consumes and discards), [`MediaPlayer`] and [`MediaRecorder`] (files). They use tokio:
//! each spawns its tasks on the current runtime.

mod blackhole;
mod player;
mod recorder;
mod relay;

pub use blackhole::MediaBlackhole;
pub use player::{MediaPlayer, PlayerOptions};
pub use recorder::MediaRecorder;
pub use relay::MediaRelay;
