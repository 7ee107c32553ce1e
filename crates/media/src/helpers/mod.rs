//! aiortc's helpers: [`MediaRelay`] (one source, many consumers) and [`MediaBlackhole`]
//! (consumes and discards). They use tokio: each spawns its tasks on the current runtime.

mod blackhole;
mod relay;

pub use blackhole::MediaBlackhole;
pub use relay::MediaRelay;
