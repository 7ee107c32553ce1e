//! Decodes one STUN message given in hex and prints it.
//!
//! ```text
//! cargo run -q -p ferrtc-stun-ice --example stun_decode -- HEX [--password PWD] [--username USER]
//! ```
//!
//! Prints the class, method, transaction id and every attribute; with `--password`, checks
//! the message integrity and prints `integrity: ok` or `integrity: bad (...)`. The key is the
//! short-term one (the password), unless the message carries REALM: then it is the long-term
//! key of USERNAME (or `--username`), REALM and the password, with the PASSWORD-ALGORITHM the
//! message names (MD5 by default). Exits 1 with the reason on malformed input.

use std::io::Write;
use std::process::ExitCode;

use ferrtc_stun_ice::stun::{Attribute, IntegrityKey, Message, PasswordAlgorithmId};

/// Exit status for malformed input.
const MALFORMED: u8 = 1;
/// Exit status for a bad command line.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    match run(&args, &mut stdout, &mut stderr) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(err: &mut dyn Write) -> std::io::Result<u8> {
    writeln!(
        err,
        "usage: stun_decode HEX [--password PWD] [--username USER]"
    )?;
    Ok(USAGE)
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .trim()
        .trim_start_matches("0x")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let s =
                std::str::from_utf8(pair).map_err(|_| "non-ASCII character in hex".to_string())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("invalid hex digits {s:?}"))
        })
        .collect()
}

/// Runs the tool on `args` (without the program name), printing to `out` and `err`; returns
/// the exit status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let mut hex = None;
    let mut password = None;
    let mut username = None;
    let mut args = args.iter().cloned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--password" => match args.next() {
                Some(p) => password = Some(p),
                None => return usage(err),
            },
            "--username" => match args.next() {
                Some(u) => username = Some(u),
                None => return usage(err),
            },
            "-h" | "--help" => return usage(err),
            _ if hex.is_none() => hex = Some(arg),
            _ => return usage(err),
        }
    }
    let Some(hex) = hex else {
        return usage(err);
    };
    let bytes = match parse_hex(&hex) {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "error: malformed hex: {e}")?;
            return Ok(MALFORMED);
        }
    };
    let msg = match Message::new_checked(&bytes) {
        Ok(m) => m,
        Err(e) => {
            writeln!(err, "error: malformed STUN message: {e}")?;
            return Ok(MALFORMED);
        }
    };

    writeln!(out, "class: {}", msg.class())?;
    writeln!(out, "method: {}", msg.method())?;
    writeln!(out, "transaction id: {}", msg.transaction_id())?;
    writeln!(out, "length: {} bytes", bytes.len())?;
    writeln!(out, "attributes:")?;
    let txid = msg.transaction_id();
    for raw in msg.raw_attributes().flatten() {
        if raw.ignored {
            writeln!(
                out,
                "  {} ({} bytes, ignored: follows message integrity)",
                raw.attr,
                raw.value.len()
            )?;
            continue;
        }
        match Attribute::decode(raw.attr, raw.value, &txid) {
            Ok(attr @ Attribute::Unknown { .. }) => {
                let kind = if raw.attr.is_comprehension_required() {
                    "unknown, comprehension-required"
                } else {
                    "unknown, comprehension-optional"
                };
                writeln!(out, "  {attr} ({kind})")?;
            }
            Ok(attr) => writeln!(out, "  {attr}")?,
            // `new_checked` has decoded every processed attribute already.
            Err(e) => writeln!(out, "  {}: malformed ({e})", raw.attr)?,
        }
    }
    if let Err(e) = msg.require_known() {
        writeln!(out, "warning: {e}")?;
    }
    if msg.has_fingerprint() {
        match msg.check_fingerprint() {
            Ok(()) => writeln!(out, "fingerprint: ok")?,
            Err(e) => writeln!(out, "fingerprint: bad ({e})")?,
        }
    }
    if let Some(password) = password {
        let key = match msg.realm() {
            None => IntegrityKey::short_term(&password),
            Some(realm) => {
                let Some(user) = username.as_deref().or(msg.username()) else {
                    writeln!(
                        out,
                        "integrity: bad (long-term credentials need a username: pass --username)"
                    )?;
                    return Ok(0);
                };
                let algorithm = msg
                    .attributes()
                    .find_map(|a| match a {
                        Attribute::PasswordAlgorithm(p) => Some(p.algorithm),
                        _ => None,
                    })
                    .unwrap_or(PasswordAlgorithmId::MD5);
                match IntegrityKey::long_term_with(algorithm, user, realm, &password) {
                    Some(k) => k,
                    None => {
                        writeln!(
                            out,
                            "integrity: bad (unknown password algorithm 0x{:04x})",
                            algorithm.0
                        )?;
                        return Ok(0);
                    }
                }
            }
        };
        match msg.check_integrity(&key) {
            Ok(()) => writeln!(out, "integrity: ok")?,
            Err(e) => writeln!(out, "integrity: bad ({e})")?,
        }
    }
    Ok(0)
}
