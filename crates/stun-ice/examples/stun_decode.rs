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

use std::process::ExitCode;

use ferrtc_stun_ice::stun::{Attribute, IntegrityKey, Message, PasswordAlgorithmId};

fn usage() -> ExitCode {
    eprintln!("usage: stun_decode HEX [--password PWD] [--username USER]");
    ExitCode::from(2)
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

fn main() -> ExitCode {
    let mut hex = None;
    let mut password = None;
    let mut username = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--password" => match args.next() {
                Some(p) => password = Some(p),
                None => return usage(),
            },
            "--username" => match args.next() {
                Some(u) => username = Some(u),
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            _ if hex.is_none() => hex = Some(arg),
            _ => return usage(),
        }
    }
    let Some(hex) = hex else {
        return usage();
    };
    let bytes = match parse_hex(&hex) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: malformed hex: {e}");
            return ExitCode::FAILURE;
        }
    };
    let msg = match Message::new_checked(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: malformed STUN message: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("class: {}", msg.class());
    println!("method: {}", msg.method());
    println!("transaction id: {}", msg.transaction_id());
    println!("length: {} bytes", bytes.len());
    println!("attributes:");
    let txid = msg.transaction_id();
    for raw in msg.raw_attributes().flatten() {
        if raw.ignored {
            println!(
                "  {} ({} bytes, ignored: follows message integrity)",
                raw.attr,
                raw.value.len()
            );
            continue;
        }
        match Attribute::decode(raw.attr, raw.value, &txid) {
            Ok(attr @ Attribute::Unknown { .. }) => {
                let kind = if raw.attr.is_comprehension_required() {
                    "unknown, comprehension-required"
                } else {
                    "unknown, comprehension-optional"
                };
                println!("  {attr} ({kind})");
            }
            Ok(attr) => println!("  {attr}"),
            // `new_checked` has decoded every processed attribute already.
            Err(e) => println!("  {}: malformed ({e})", raw.attr),
        }
    }
    if let Err(e) = msg.require_known() {
        println!("warning: {e}");
    }
    if msg.has_fingerprint() {
        match msg.check_fingerprint() {
            Ok(()) => println!("fingerprint: ok"),
            Err(e) => println!("fingerprint: bad ({e})"),
        }
    }
    if let Some(password) = password {
        let key = match msg.realm() {
            None => IntegrityKey::short_term(&password),
            Some(realm) => {
                let Some(user) = username.as_deref().or(msg.username()) else {
                    println!(
                        "integrity: bad (long-term credentials need a username: pass --username)"
                    );
                    return ExitCode::SUCCESS;
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
                        println!(
                            "integrity: bad (unknown password algorithm 0x{:04x})",
                            algorithm.0
                        );
                        return ExitCode::SUCCESS;
                    }
                }
            }
        };
        match msg.check_integrity(&key) {
            Ok(()) => println!("integrity: ok"),
            Err(e) => println!("integrity: bad ({e})"),
        }
    }
    ExitCode::SUCCESS
}
