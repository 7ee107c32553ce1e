//! The one module tree with `unsafe` in this crate: small safe wrappers over the C codec
//! libraries' calls that their Rust bindings leave unsafe. Every `unsafe` block says why it
//! holds; the codec modules above build only on the safe functions here.
//!
//! - [`vpx`]: libvpx's VP8/VP9 encoder and decoder (Debian's libvpx 1.12).
//! - [`openh264`]: the one OpenH264 call the `openh264` crate has no safe form of (changing
//!   the bitrate of a running encoder).

pub(crate) mod openh264;
pub(crate) mod vpx;
