//! Checks SDP files: prints the canonical form of each valid file to stdout; for an invalid
//! one prints `FILE:LINE: reason` to stderr. Exits 1 if any file was invalid or unreadable.
//!
//! ```text
//! cargo run -q -p ferrtc-sdp --example sdp_check -- offer.sdp answer.sdp
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use ferrtc_sdp::SessionDescription;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: sdp_check FILE...");
        return ExitCode::from(2);
    }
    let mut ok = true;
    let mut stdout = std::io::stdout().lock();
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{file}: {e}");
                ok = false;
                continue;
            }
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let line = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                eprintln!("{file}:{line}: not valid UTF-8");
                ok = false;
                continue;
            }
        };
        match SessionDescription::parse(text) {
            Ok(sdp) => {
                if stdout.write_all(sdp.to_string().as_bytes()).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("{file}:{}: {}", e.line, e.kind);
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
