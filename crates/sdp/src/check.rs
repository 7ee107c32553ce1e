//! The logic of the `sdp_check` example, here so that tests can run it in-process.
//!
//! Not part of the API: hidden from the docs and free to change.

use std::io::{self, Write};

use crate::SessionDescription;

/// Exit status: every file was valid SDP.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one file was invalid or unreadable.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: no file was named.
pub const EXIT_USAGE: u8 = 2;

/// Checks `files` in order: writes the canonical form of each valid one to `stdout`, and
/// `FILE:LINE: reason` for each invalid one to `stderr` (`FILE: error` when `read` fails).
/// Returns the exit status ([`EXIT_OK`], [`EXIT_INVALID`] or [`EXIT_USAGE`]).
///
/// # Errors
/// Writing to `stdout` or `stderr` failed.
pub fn run<S, R>(
    files: &[S],
    mut read: R,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<u8>
where
    S: AsRef<str>,
    R: FnMut(&str) -> io::Result<Vec<u8>>,
{
    if files.is_empty() {
        writeln!(stderr, "usage: sdp_check FILE...")?;
        return Ok(EXIT_USAGE);
    }
    let mut status = EXIT_OK;
    for file in files {
        let file = file.as_ref();
        let bytes = match read(file) {
            Ok(b) => b,
            Err(e) => {
                writeln!(stderr, "{file}: {e}")?;
                status = EXIT_INVALID;
                continue;
            }
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                // `valid_up_to` is at most `bytes.len()`, so the slice is in range.
                let line = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                writeln!(stderr, "{file}:{line}: not valid UTF-8")?;
                status = EXIT_INVALID;
                continue;
            }
        };
        match SessionDescription::parse(text) {
            Ok(sdp) => stdout.write_all(sdp.to_string().as_bytes())?,
            Err(e) => {
                writeln!(stderr, "{file}:{}: {}", e.line, e.kind)?;
                status = EXIT_INVALID;
            }
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "v=0\no=- 1 2 IN IP4 0.0.0.0 \ns=-\nt=0 0\na=ice-lite\n";
    const CANONICAL: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n";

    fn files(name: &str) -> io::Result<Vec<u8>> {
        match name {
            "good.sdp" => Ok(GOOD.as_bytes().to_vec()),
            "bad.sdp" => {
                Ok(b"v=0\no=- 1 2 IN IP4 0.0.0.0\ns=-\nt=0 0\na=rtpmap:x VP8/90000\n".to_vec())
            }
            "binary.sdp" => Ok(b"v=0\no=- 1 2 IN IP4 0.0.0.0\n\xff\n".to_vec()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        }
    }

    fn check(names: &[&str]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run(names, files, &mut out, &mut err).unwrap();
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn valid_file_prints_canonical_form() {
        assert_eq!(
            check(&["good.sdp"]),
            (EXIT_OK, CANONICAL.to_owned(), String::new())
        );
    }

    #[test]
    fn invalid_file_names_file_and_line_and_fails() {
        let (status, out, err) = check(&["good.sdp", "bad.sdp", "good.sdp"]);
        assert_eq!(status, EXIT_INVALID);
        // The valid files around the bad one are still printed.
        assert_eq!(out, CANONICAL.repeat(2));
        assert_eq!(err, "bad.sdp:5: payload type is not a decimal number\n");
    }

    #[test]
    fn unreadable_and_non_utf8_files_fail() {
        let (status, out, err) = check(&["missing.sdp", "binary.sdp"]);
        assert_eq!(status, EXIT_INVALID);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "missing.sdp: no such file\nbinary.sdp:3: not valid UTF-8\n"
        );
    }

    #[test]
    fn no_files_is_a_usage_error() {
        let (status, out, err) = check(&[]);
        assert_eq!((status, out.as_str()), (EXIT_USAGE, ""));
        assert!(err.starts_with("usage:"));
    }
}
