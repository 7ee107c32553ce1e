//! Checks SDP files: prints the canonical form of each valid file to stdout; for an invalid
//! one prints `FILE:LINE: reason` to stderr. Exits 1 if any file was invalid or unreadable.
//!
//! ```text
//! cargo run -q -p ferrtc-sdp --example sdp_check -- offer.sdp answer.sdp
//! ```
//!
//! The logic lives in the crate (`ferrtc_sdp::check::run`) so that its tests cover it.

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    match ferrtc_sdp::check::run(&files, |f| std::fs::read(f), &mut stdout, &mut stderr) {
        Ok(status) => ExitCode::from(status),
        // stdout or stderr closed (e.g. a broken pipe): nothing more can be said.
        Err(_) => ExitCode::FAILURE,
    }
}
