//! UDP echo over DTLS, driving the sans-IO endpoint with a real socket and clock.
//!
//! ```text
//! dtls_echo --listen 127.0.0.1:4444            # echo server
//! dtls_echo --connect 127.0.0.1:4444 [--message TEXT]
//! options: --fingerprint "sha-256 AB:CD:..."    expected peer certificate (else any)
//!          --srtp SRTP_AES128_CM_SHA1_80,...     profiles (OpenSSL names), default all
//!          --mtu N
//! ```
//! Prints our fingerprint, then the suite, the SRTP profile and the exported keying
//! material in hex. With `SSLKEYLOGFILE` set, appends the NSS key log line there so
//! Wireshark can decrypt a capture.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_dtls::{
    Certificate, Config, DtlsRole, Endpoint, Event, Fingerprint, HashAlgorithm,
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
         [--fingerprint 'sha-256 AB:..'] [--srtp NAME,..] [--mtu N]"
    );
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut connect, mut message) = (None, None, "hello from ferrtc".to_string());
    let mut fingerprint = None;
    let mut srtp: Vec<SrtpProfile> = SrtpProfile::ALL.to_vec();
    let mut mtu = 1200;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = Some(val().parse::<SocketAddr>()?),
            "--connect" => connect = Some(val().parse::<SocketAddr>()?),
            "--message" => message = val(),
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
    let cert = Arc::new(Certificate::generate()?);
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
    let mut buf = vec![0u8; 65536];
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
                        ep.send(message.as_bytes())?;
                    }
                }
                Event::ApplicationData(d) => {
                    println!("received: {}", String::from_utf8_lossy(&d).trim_end());
                    if client {
                        ep.close();
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
        while let Some(t) = ep.poll_transmit() {
            sock.send_to(&t.contents, t.destination)?;
        }
        if client && !ep.is_connected() && ep.negotiated().is_some() {
            return Ok(()); // closed by us after the echo
        }
        let now = Instant::now();
        if now > deadline {
            return Err("gave up".into());
        }
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(500), |t| {
                t.saturating_duration_since(now)
            })
            .max(Duration::from_millis(1));
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
