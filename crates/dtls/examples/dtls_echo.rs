//! UDP echo over DTLS, driving the sans-IO endpoint with a real socket and clock.
//!
//! ```text
//! dtls_echo --listen 127.0.0.1:4444            # echo server, serves one client
//! dtls_echo --connect 127.0.0.1:4444            # sends the lines of stdin, prints echoes
//! dtls_echo --connect 127.0.0.1:4444 --message TEXT   # sends TEXT once instead
//! options: --fingerprint "sha-256 AB:CD:..."    expected peer certificate (else any)
//!          --cert FILE --key FILE                our certificate and key, PEM (ECDSA or
//!                                                RSA; PKCS#8, SEC 1 or PKCS#1 key)
//!          --rsa                                 generate an RSA 2048 certificate
//!                                                (default: a fresh ECDSA P-256 one)
//!          --srtp SRTP_AES128_CM_SHA1_80,...     profiles (OpenSSL names), default all
//!          --mtu N
//! ```
//! Prints our fingerprint, then the suite, the SRTP profile and the exported keying
//! material in hex, then `received: ...` for each echo. A client reading stdin sends each
//! line as one record, waits for the echoes of all of them after end of input, and
//! closes. With `SSLKEYLOGFILE` set, appends the NSS key log line there so Wireshark can
//! decrypt a capture.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ferrtc_dtls::{
    Certificate, Config, DtlsRole, Endpoint, Event, Fingerprint, HashAlgorithm, KeyKind,
    SRTP_EXPORTER_LABEL, SrtpProfile, fingerprint_of,
};
use rand::SeedableRng;

fn profile_by_name(name: &str) -> Option<SrtpProfile> {
    Some(match name {
        "SRTP_AES128_CM_SHA1_80" => SrtpProfile::Aes128CmHmacSha1_80,
        "SRTP_AES128_CM_SHA1_32" => SrtpProfile::Aes128CmHmacSha1_32,
        "SRTP_AEAD_AES_128_GCM" => SrtpProfile::AeadAes128Gcm,
        "SRTP_AEAD_AES_256_GCM" => SrtpProfile::AeadAes256Gcm,
        _ => return None,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02X}")).collect()
}

fn usage() -> ! {
    eprintln!(
        "usage: dtls_echo (--listen ADDR | --connect ADDR) [--message TEXT] \
         [--fingerprint 'sha-256 AB:..'] [--cert FILE --key FILE | --rsa] [--srtp NAME,..] \
         [--mtu N]"
    );
    std::process::exit(2)
}

/// Lines of stdin, read on a thread of their own so the socket loop never blocks on the
/// terminal; the channel closes at end of input.
fn stdin_lines() -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut connect, mut message) = (None, None, None::<String>);
    let (mut cert_file, mut key_file, mut rsa) = (None::<String>, None::<String>, false);
    let mut fingerprint = None;
    let mut srtp: Vec<SrtpProfile> = SrtpProfile::ALL.to_vec();
    let mut mtu = 1200;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = Some(val().parse::<SocketAddr>()?),
            "--connect" => connect = Some(val().parse::<SocketAddr>()?),
            "--message" => message = Some(val()),
            "--cert" => cert_file = Some(val()),
            "--key" => key_file = Some(val()),
            "--rsa" => rsa = true,
            "--fingerprint" => {
                let v = val();
                let (alg, hexs) = v.split_once(' ').unwrap_or_else(|| usage());
                fingerprint = Some(Fingerprint::parse_parts(alg, hexs).unwrap_or_else(|_| usage()));
            }
            "--srtp" => {
                srtp = val()
                    .split([',', ':'])
                    .map(|n| profile_by_name(n).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--mtu" => mtu = val().parse()?,
            _ => usage(),
        }
    }
    let cert = Arc::new(match (cert_file, key_file) {
        (Some(c), Some(k)) if !rsa => Certificate::from_pem(
            &std::fs::read_to_string(&c).map_err(|e| format!("{c}: {e}"))?,
            &std::fs::read_to_string(&k).map_err(|e| format!("{k}: {e}"))?,
        )
        .map_err(|e| format!("{c}, {k}: {e}"))?,
        (None, None) if rsa => Certificate::generate_for(KeyKind::Rsa2048)?,
        (None, None) => Certificate::generate()?,
        _ => usage(),
    });
    println!(
        "our fingerprint: {}",
        cert.fingerprint(HashAlgorithm::Sha256)
    );
    let role = match (listen, connect) {
        (Some(_), None) => DtlsRole::Server,
        (None, Some(_)) => DtlsRole::Client,
        _ => usage(),
    };
    let mut config = Config::new(role, cert, fingerprint.into_iter().collect());
    config.danger_accept_any_certificate = fingerprint.is_none();
    config.srtp_profiles = srtp;
    config.mtu = mtu;
    let config = Arc::new(config);
    let rng = Box::new(rand_chacha::ChaCha20Rng::from_os_rng());

    let mut ep = Endpoint::new(config, Instant::now(), rng)?;
    let sock = match (listen, connect) {
        (Some(addr), _) => {
            let sock = UdpSocket::bind(addr)?;
            println!("listening on {}", sock.local_addr()?);
            sock
        }
        (_, Some(addr)) => {
            ep.connect(Instant::now(), addr)?;
            UdpSocket::bind("127.0.0.1:0")?
        }
        _ => usage(),
    };
    let client = role == DtlsRole::Client;
    // A client sends --message once, or else each line of stdin.
    let mut to_send: Option<Receiver<String>> = None;
    let mut sent = 0usize;
    let mut echoed = 0usize;
    let mut input_done = false;
    let mut buf = vec![0u8; 65536];
    // The handshake must be over within this; an interactive session may last.
    let deadline = Instant::now() + Duration::from_secs(120);
    // Application data decrypted in place, handled with the events.
    let mut received: Vec<Vec<u8>> = Vec::new();
    loop {
        while let Some(t) = ep.poll_transmit() {
            sock.send_to(&t.contents, t.destination)?;
        }
        let events: Vec<Event> = std::iter::from_fn(|| ep.poll_event())
            .chain(received.drain(..).map(|d| Event::ApplicationData(d.into())))
            .collect();
        for ev in events {
            match ev {
                Event::Connected(n) => {
                    println!("connected: suite {:?}", n.cipher_suite);
                    if let (Ok(path), Some(line)) =
                        (std::env::var("SSLKEYLOGFILE"), ep.key_log_line())
                    {
                        use std::io::Write as _;
                        let mut f = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)?;
                        writeln!(f, "{line}")?;
                    }
                    println!(
                        "peer fingerprint: {}",
                        fingerprint_of(HashAlgorithm::Sha256, &n.peer_certificate)
                    );
                    match ep.srtp_keys() {
                        Ok(k) => {
                            let len = k.profile().keying_material_len();
                            let m = ep.export_keying_material(SRTP_EXPORTER_LABEL, len)?;
                            println!("srtp profile: {:?}", k.profile());
                            println!("keying material ({len}): {}", hex(&m));
                        }
                        Err(_) => {
                            println!("srtp profile: none");
                            let m = ep.export_keying_material(SRTP_EXPORTER_LABEL, 60)?;
                            println!("keying material (60): {}", hex(&m));
                        }
                    }
                    if client {
                        if let Some(m) = &message {
                            ep.send(m.as_bytes())?;
                            sent += 1;
                            input_done = true;
                        } else {
                            to_send = Some(stdin_lines());
                        }
                    }
                }
                Event::ApplicationData(d) => {
                    println!("received: {}", String::from_utf8_lossy(&d).trim_end());
                    if client {
                        echoed += 1;
                    } else {
                        ep.send(&d)?;
                    }
                }
                Event::Closed => {
                    println!("peer closed");
                    return Ok(());
                }
                Event::Failed(e) => {
                    println!("failed: {e}");
                    return Err(e.into());
                }
                other => println!("event: {other:?}"),
            }
        }
        if let Some(lines) = &to_send {
            loop {
                match lines.try_recv() {
                    Ok(line) => {
                        ep.send(line.as_bytes())?;
                        sent += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        input_done = true;
                        to_send = None;
                        break;
                    }
                }
            }
        }
        if client && input_done && echoed >= sent && ep.is_connected() {
            ep.close();
        }
        while let Some(t) = ep.poll_transmit() {
            sock.send_to(&t.contents, t.destination)?;
        }
        if client && !ep.is_connected() && ep.negotiated().is_some() {
            return Ok(()); // closed by us after the echo
        }
        let now = Instant::now();
        if now > deadline && ep.negotiated().is_none() {
            return Err("no handshake within 120 s: gave up".into());
        }
        // While stdin may bring lines, look at it every 20 ms.
        let idle = if to_send.is_some() { 20 } else { 500 };
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(idle), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(idle));
        sock.set_read_timeout(Some(wait))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match ep.handle_receive(Instant::now(), from, &mut buf[..n]) {
                Ok(ranges) => received.extend(ranges.iter().map(|r| buf[r].to_vec())),
                Err(e) => println!("dropped: {e}"),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                ep.handle_timeout(Instant::now())
            }
            Err(e) => return Err(e.into()),
        }
    }
}
