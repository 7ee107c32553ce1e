//! Interop with OpenSSL 3 (`openssl s_server` / `s_client -dtls1_2`) on loopback: every
//! suite, ECDSA P-256 and RSA 2048 peers, each SRTP profile, and our own certificate RSA
//! 2048 against peers offering only the `ECDHE-RSA` suites, both roles; the exported
//! keying material must equal what OpenSSL prints, and data must cross both ways.
//!
//! Real processes and sockets, so real time: the loop waits on socket timeouts, never
//! sleeps. Needs the `openssl` binary (Debian package `openssl`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use ferrtc_dtls::{
    Certificate, CipherSuite, Config, DtlsRole, Endpoint, Event, Fingerprint, HashAlgorithm,
    KeyKind, SRTP_EXPORTER_LABEL, SrtpKeys, SrtpProfile, fingerprint_of,
};
use rand::SeedableRng;

const DEADLINE: Duration = Duration::from_secs(20);

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl binary (Debian package openssl) is required for this test");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ferrtc-dtls-openssl-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=ec",
            "-keyout",
            &p("ec.key"),
            "-out",
            &p("ec.pem"),
        ]);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=rsa",
            "-keyout",
            &p("rsa.key"),
            "-out",
            &p("rsa.pem"),
        ]);
        for n in ["ec", "rsa"] {
            openssl(&[
                "x509",
                "-in",
                &p(&format!("{n}.pem")),
                "-outform",
                "DER",
                "-out",
                &p(&format!("{n}.der")),
            ]);
        }
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    fn fingerprint(&self, kind: &str) -> Fingerprint {
        let der = std::fs::read(self.dir.join(format!("{kind}.der"))).unwrap();
        fingerprint_of(HashAlgorithm::Sha256, &der)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl_suite(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::EcdheEcdsaWithAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::EcdheEcdsaWithAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::EcdheEcdsaWithChacha20Poly1305Sha256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::EcdheRsaWithAes128GcmSha256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::EcdheRsaWithAes256GcmSha384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::EcdheRsaWithChacha20Poly1305Sha256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => panic!("no OpenSSL name for {other:?}"),
    }
}

fn openssl_profile(p: SrtpProfile) -> &'static str {
    match p {
        SrtpProfile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
        SrtpProfile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
        SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
        SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
    }
}

/// A spawned openssl process whose stdout lines arrive on a channel.
struct Peer {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    fn spawn(args: &[String]) -> Self {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (on the channel, with a timeout) for a line satisfying `f`.
    fn wait_line(&mut self, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(l) = self.seen.iter().find(|l| f(l)) {
                return l.clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!(
                    "openssl never printed the expected line; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    fn keying_material(&mut self) -> Vec<u8> {
        let line = self.wait_line(|l| l.trim_start().starts_with("Keying material:"));
        let hex = line.split(':').nth(1).unwrap().trim();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only the process this test spawned, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drives `ep` over `sock` until `done` says so; returns the events seen. Transmits go to
/// their destination; application data decrypted in place is reported as the event it
/// would otherwise be. A dropped datagram fails the test: a real peer sends none.
fn drive(
    ep: &mut Endpoint,
    sock: &UdpSocket,
    mut done: impl FnMut(&mut Endpoint, &Event) -> bool,
) -> Vec<Event> {
    let end = Instant::now() + DEADLINE;
    let mut buf = vec![0u8; 65536];
    let mut events = Vec::new();
    let mut inbox: VecDeque<Event> = VecDeque::new();
    loop {
        while let Some(t) = ep.poll_transmit() {
            sock.send_to(&t.contents, t.destination).unwrap();
        }
        while let Some(e) = inbox.pop_front().or_else(|| ep.poll_event()) {
            let stop = done(ep, &e);
            events.push(e);
            if stop {
                while let Some(t) = ep.poll_transmit() {
                    sock.send_to(&t.contents, t.destination).unwrap();
                }
                return events;
            }
        }
        let now = Instant::now();
        assert!(now < end, "no progress; events so far: {events:?}");
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(200), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(200));
        sock.set_read_timeout(Some(wait)).unwrap();
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let ranges = ep
                    .handle_receive(Instant::now(), from, &mut buf[..n])
                    .unwrap();
                // Events the datagram raised come first, then its data.
                inbox.extend(std::iter::from_fn(|| ep.poll_event()));
                inbox.extend(
                    ranges
                        .iter()
                        .map(|r| Event::ApplicationData(buf[r].to_vec().into())),
                );
            }
            Err(_) => ep.handle_timeout(Instant::now()),
        }
    }
}

/// A client endpoint connected towards `remote`.
fn client_endpoint(cfg: Arc<Config>, seed: u64, remote: SocketAddr) -> Endpoint {
    let now = Instant::now();
    let mut ep = Endpoint::new(cfg, now, seeded(seed)).unwrap();
    ep.connect(now, remote).unwrap();
    ep
}

/// A server endpoint.
fn server_endpoint(cfg: Arc<Config>, seed: u64) -> Endpoint {
    Endpoint::new(cfg, Instant::now(), seeded(seed)).unwrap()
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(
    role: DtlsRole,
    expected: Fingerprint,
    profile: SrtpProfile,
) -> (Arc<Config>, Arc<Certificate>) {
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut c = Config::new(role, cert.clone(), vec![expected]);
    c.srtp_profiles = vec![profile];
    (Arc::new(c), cert)
}

fn seeded(seed: u64) -> Box<rand_chacha::ChaCha20Rng> {
    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

fn check_material(ep: &Endpoint, openssl_material: &[u8], profile: SrtpProfile) {
    let ours = ep.srtp_keys().unwrap();
    assert_eq!(ours.profile(), profile);
    let material = ep
        .export_keying_material(SRTP_EXPORTER_LABEL, profile.keying_material_len())
        .unwrap();
    assert_eq!(
        material, openssl_material,
        "exported keying material differs"
    );
    // And the keys handed over are its RFC 5764 §4.2 split for our role.
    assert_eq!(
        Some(ours),
        SrtpKeys::split(profile, ep.role(), openssl_material)
    );
}

#[test]
fn client_against_openssl_s_server() {
    let certs = Certs::new();
    let cases = [
        ("ec", CipherSuite::EcdheEcdsaWithAes128GcmSha256),
        ("ec", CipherSuite::EcdheEcdsaWithAes256GcmSha384),
        ("ec", CipherSuite::EcdheEcdsaWithChacha20Poly1305Sha256),
        ("rsa", CipherSuite::EcdheRsaWithAes128GcmSha256),
        ("rsa", CipherSuite::EcdheRsaWithAes256GcmSha384),
        ("rsa", CipherSuite::EcdheRsaWithChacha20Poly1305Sha256),
    ];
    for (i, (kind, suite)) in cases.into_iter().enumerate() {
        let profile = SrtpProfile::ALL[i % 4];
        let (kl, sl) = (profile.master_key_len(), profile.master_salt_len());
        let port = free_port();
        let mut server = Peer::spawn(
            &[
                "s_server",
                "-dtls1_2",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path(&format!("{kind}.pem")),
                "-key",
                &certs.path(&format!("{kind}.key")),
                "-naccept",
                "1",
                "-Verify",
                "1",
                "-cipher",
                openssl_suite(suite),
                "-use_srtp",
                openssl_profile(profile),
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                &(2 * (kl + sl)).to_string(),
            ]
            .map(String::from),
        );
        server.wait_line(|l| l == "ACCEPT");
        let (cfg, _) = config(DtlsRole::Client, certs.fingerprint(kind), profile);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut ep = client_endpoint(cfg, i as u64, addr);
        let events = drive(&mut ep, &sock, |ep, e| {
            if let Event::Connected(_) = e {
                ep.send(b"from ferrtc\n").unwrap();
                return true;
            }
            false
        });
        match &events[..] {
            [Event::Connected(n)] => assert_eq!(n.cipher_suite, suite, "{kind}"),
            other => panic!("{other:?}"),
        }
        check_material(&ep, &server.keying_material(), profile);
        server.wait_line(|l| l == "from ferrtc");
        // And the other way: a line typed into s_server arrives as application data.
        let stdin = server.child.stdin.as_mut().unwrap();
        stdin.write_all(b"from openssl\n").unwrap();
        stdin.flush().unwrap();
        let events = drive(&mut ep, &sock, |_, e| {
            matches!(e, Event::ApplicationData(_))
        });
        assert_eq!(
            events.last(),
            Some(&Event::ApplicationData("from openssl\n".into()))
        );
    }
}

#[test]
fn server_against_openssl_s_client() {
    let certs = Certs::new();
    let cases = [
        ("ec", CipherSuite::EcdheEcdsaWithAes128GcmSha256),
        ("ec", CipherSuite::EcdheEcdsaWithAes256GcmSha384),
        ("rsa", CipherSuite::EcdheEcdsaWithChacha20Poly1305Sha256),
        ("rsa", CipherSuite::EcdheEcdsaWithAes128GcmSha256),
    ];
    for (i, (client_kind, suite)) in cases.into_iter().enumerate() {
        let profile = SrtpProfile::ALL[(i + 1) % 4];
        let (kl, sl) = (profile.master_key_len(), profile.master_salt_len());
        let (cfg, _) = config(DtlsRole::Server, certs.fingerprint(client_kind), profile);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let mut ep = server_endpoint(cfg, 50 + i as u64);
        let mut client = Peer::spawn(
            &[
                "s_client",
                "-dtls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path(&format!("{client_kind}.pem")),
                "-key",
                &certs.path(&format!("{client_kind}.key")),
                "-cipher",
                openssl_suite(suite),
                "-use_srtp",
                openssl_profile(profile),
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                &(2 * (kl + sl)).to_string(),
            ]
            .map(String::from),
        );
        let stdin = client.child.stdin.as_mut().unwrap();
        stdin.write_all(b"echo me\n").unwrap();
        stdin.flush().unwrap();
        // Echo what arrives; stop after the first echo.
        let events = drive(&mut ep, &sock, |ep, e| match e {
            Event::ApplicationData(d) => {
                ep.send(d).unwrap();
                true
            }
            _ => false,
        });
        match &events[..] {
            [Event::Connected(n), Event::ApplicationData(d)] => {
                assert_eq!(n.cipher_suite, suite);
                assert_eq!(&d[..], b"echo me\n");
            }
            other => panic!("{other:?}"),
        }
        check_material(&ep, &client.keying_material(), profile);
        client.wait_line(|l| l == "echo me");
    }
}

#[test]
fn openssl_client_with_unexpected_certificate_is_refused() {
    let certs = Certs::new();
    // We expect the EC certificate; s_client presents the RSA one.
    let (cfg, _) = config(
        DtlsRole::Server,
        certs.fingerprint("ec"),
        SrtpProfile::Aes128CmHmacSha1_80,
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut ep = server_endpoint(cfg, 99);
    let _client = Peer::spawn(
        &[
            "s_client",
            "-dtls1_2",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &certs.path("rsa.pem"),
            "-key",
            &certs.path("rsa.key"),
            "-use_srtp",
            "SRTP_AES128_CM_SHA1_80",
        ]
        .map(String::from),
    );
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + DEADLINE;
    let err = 'verdict: loop {
        assert!(Instant::now() < end, "no verdict");
        while let Some(t) = ep.poll_transmit() {
            sock.send_to(&t.contents, t.destination).unwrap();
        }
        while let Some(e) = ep.poll_event() {
            if let Event::Failed(e) = e {
                break 'verdict e;
            }
        }
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            ep.handle_receive(Instant::now(), from, &mut buf[..n])
                .unwrap();
        }
    };
    assert_eq!(
        err,
        ferrtc_dtls::Error::PeerMisbehaved(ferrtc_dtls::PeerMisbehaved::FingerprintMismatch)
    );
}

#[test]
fn fragmented_flights_both_ways_with_openssl() {
    // s_server with a small link MTU fragments its RSA certificate flight; our client, at
    // a 300-byte MTU, fragments its own certificate flight for OpenSSL to reassemble.
    let certs = Certs::new();
    let port = free_port();
    let mut server = Peer::spawn(
        &[
            "s_server",
            "-dtls1_2",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &certs.path("rsa.pem"),
            "-key",
            &certs.path("rsa.key"),
            "-naccept",
            "1",
            "-Verify",
            "1",
            "-mtu",
            "400",
            "-use_srtp",
            "SRTP_AES128_CM_SHA1_80",
            "-keymatexport",
            "EXTRACTOR-dtls_srtp",
            "-keymatexportlen",
            "60",
        ]
        .map(String::from),
    );
    server.wait_line(|l| l == "ACCEPT");
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut c = Config::new(DtlsRole::Client, cert, vec![certs.fingerprint("rsa")]);
    c.srtp_profiles = vec![SrtpProfile::Aes128CmHmacSha1_80];
    c.mtu = 300;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut ep = client_endpoint(Arc::new(c), 77, addr);
    let events = drive(&mut ep, &sock, |_, e| matches!(e, Event::Connected(_)));
    assert!(matches!(&events[..], [Event::Connected(_)]));
    check_material(
        &ep,
        &server.keying_material(),
        SrtpProfile::Aes128CmHmacSha1_80,
    );
}

#[test]
fn renegotiation_requested_by_openssl_is_refused_and_data_keeps_flowing() {
    let certs = Certs::new();
    let port = free_port();
    let mut server = Peer::spawn(
        &[
            "s_server",
            "-dtls1_2",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &certs.path("ec.pem"),
            "-key",
            &certs.path("ec.key"),
            "-naccept",
            "1",
            "-use_srtp",
            "SRTP_AES128_CM_SHA1_80",
        ]
        .map(String::from),
    );
    server.wait_line(|l| l == "ACCEPT");
    let (cfg, _) = config(
        DtlsRole::Client,
        certs.fingerprint("ec"),
        SrtpProfile::Aes128CmHmacSha1_80,
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut ep = client_endpoint(cfg, 88, addr);
    drive(&mut ep, &sock, |_, e| matches!(e, Event::Connected(_)));
    // "R" makes s_server send a HelloRequest; a later line is sent as data.
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b"R\n").unwrap();
    stdin.flush().unwrap();
    // Pump the socket for a while so the HelloRequest arrives and is answered alone.
    let mut buf = vec![0u8; 65536];
    let until = Instant::now() + Duration::from_millis(500);
    let (mut seen, mut answered) = (0, 0);
    while Instant::now() < until {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            seen += 1;
            ep.handle_receive(Instant::now(), from, &mut buf[..n])
                .unwrap();
            while let Some(t) = ep.poll_transmit() {
                answered += 1;
                assert_eq!(t.destination, addr);
                sock.send_to(&t.contents, t.destination).unwrap();
            }
        }
    }
    assert!(seen > 0, "no HelloRequest arrived");
    // Ignored (RFC 5246 §7.4.1.1): no new ClientHello, and no alert either, since
    // OpenSSL tears the connection down on a no_renegotiation answer.
    assert_eq!(answered, 0, "nothing answers a HelloRequest");
    assert!(ep.poll_event().is_none());
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b"after renegotiation request\n").unwrap();
    stdin.flush().unwrap();
    let events = drive(&mut ep, &sock, |_, e| {
        matches!(e, Event::ApplicationData(_) | Event::Failed(_))
    });
    assert_eq!(
        events.last(),
        Some(&Event::ApplicationData(
            "after renegotiation request\n".into()
        ))
    );
    assert!(ep.is_connected());
}

#[test]
fn renegotiation_started_by_openssl_client_is_refused_with_a_warning() {
    let certs = Certs::new();
    let (cfg, _) = config(
        DtlsRole::Server,
        certs.fingerprint("ec"),
        SrtpProfile::Aes128CmHmacSha1_80,
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut ep = server_endpoint(cfg, 89);
    let mut client = Peer::spawn(
        &[
            "s_client",
            "-dtls1_2",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &certs.path("ec.pem"),
            "-key",
            &certs.path("ec.key"),
            "-use_srtp",
            "SRTP_AES128_CM_SHA1_80",
        ]
        .map(String::from),
    );
    let stdin = client.child.stdin.as_mut().unwrap();
    stdin.write_all(b"first\n").unwrap();
    stdin.flush().unwrap();
    drive(&mut ep, &sock, |_, e| {
        matches!(e, Event::ApplicationData(_))
    });
    // "R" makes s_client send a new ClientHello under the current keys.
    let stdin = client.child.stdin.as_mut().unwrap();
    stdin.write_all(b"R\n").unwrap();
    stdin.flush().unwrap();
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + DEADLINE;
    let mut answers = Vec::new();
    let outcome = loop {
        assert!(Instant::now() < end, "no outcome");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        ep.handle_receive(Instant::now(), from, &mut buf[..n])
            .unwrap();
        while let Some(t) = ep.poll_transmit() {
            assert_eq!(t.destination, from);
            answers.push(t.contents.clone());
            sock.send_to(&t.contents, from).unwrap();
        }
        if let Some(failure) = std::iter::from_fn(|| ep.poll_event()).find_map(|e| match e {
            Event::Failed(e) => Some(e),
            _ => None,
        }) {
            break failure;
        }
    };
    // Our answer was one protected warning alert (no_renegotiation); OpenSSL treats
    // that as fatal and aborts with handshake_failure.
    assert!(!answers.is_empty());
    assert!(
        answers
            .iter()
            .all(|a| a[0] == 0x15 && a.len() == 13 + 8 + 2 + 16)
    );
    assert_eq!(
        outcome,
        ferrtc_dtls::Error::AlertReceived(ferrtc_dtls::AlertDescription::HandshakeFailure)
    );
}

#[test]
fn every_group_against_openssl() {
    let certs = Certs::new();
    for (i, group) in ["X25519", "P-256", "P-384"].into_iter().enumerate() {
        // Our client against s_server restricted to the group.
        let port = free_port();
        let mut server = Peer::spawn(
            &[
                "s_server",
                "-dtls1_2",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path("ec.pem"),
                "-key",
                &certs.path("ec.key"),
                "-naccept",
                "1",
                "-groups",
                group,
                "-use_srtp",
                "SRTP_AEAD_AES_128_GCM",
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                "56",
            ]
            .map(String::from),
        );
        server.wait_line(|l| l == "ACCEPT");
        let (cfg, _) = config(
            DtlsRole::Client,
            certs.fingerprint("ec"),
            SrtpProfile::AeadAes128Gcm,
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut ep = client_endpoint(cfg, 90 + i as u64, addr);
        drive(&mut ep, &sock, |_, e| matches!(e, Event::Connected(_)));
        check_material(&ep, &server.keying_material(), SrtpProfile::AeadAes128Gcm);

        // s_client against our server restricted to the group. The client must also list
        // P-256, the curve of our certificate (RFC 8422 §5.1.1).
        let cert = Arc::new(Certificate::generate().unwrap());
        let mut c = Config::new(DtlsRole::Server, cert, vec![certs.fingerprint("ec")]);
        c.srtp_profiles = vec![SrtpProfile::AeadAes128Gcm];
        c.groups = vec![ferrtc_dtls::NamedGroup::ALL[i]];
        let cfg = Arc::new(c);
        let groups = if group == "P-256" {
            group.to_owned()
        } else {
            format!("{group}:P-256")
        };
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let mut ep = server_endpoint(cfg, 95 + i as u64);
        let mut client = Peer::spawn(
            &[
                "s_client",
                "-dtls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path("ec.pem"),
                "-key",
                &certs.path("ec.key"),
                "-groups",
                &groups,
                "-use_srtp",
                "SRTP_AEAD_AES_128_GCM",
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                "56",
            ]
            .map(String::from),
        );
        drive(&mut ep, &sock, |_, e| matches!(e, Event::Connected(_)));
        check_material(&ep, &client.keying_material(), SrtpProfile::AeadAes128Gcm);
        let temp_key = client.wait_line(|l| l.starts_with("Server Temp Key:"));
        let expected = match group {
            "X25519" => "X25519",
            "P-256" => "ECDH, prime256v1",
            _ => "ECDH, secp384r1",
        };
        assert!(temp_key.contains(expected), "{temp_key}");
    }
}

/// The RSA suites only, in OpenSSL's names: a peer with this list can only complete a
/// handshake with an RSA server certificate.
const RSA_ONLY: &str =
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

/// The first PEM certificate openssl printed after a line equal to `marker`, as DER.
fn printed_certificate(peer: &mut Peer, marker: &str) -> Vec<u8> {
    peer.wait_line(|l| l == "-----END CERTIFICATE-----");
    let start = peer
        .seen
        .iter()
        .position(|l| l == marker)
        .unwrap_or_else(|| {
            panic!("openssl printed no {marker:?}: {:#?}", peer.seen);
        });
    let mut pem = String::new();
    for l in &peer.seen[start + 1..] {
        pem.push_str(l);
        pem.push('\n');
        if l == "-----END CERTIFICATE-----" {
            break;
        }
    }
    pem::parse(pem).expect("a PEM certificate").into_contents()
}

/// Our own certificate is RSA 2048 (`KeyKind::Rsa2048`): as a server, against s_client
/// offering only the `ECDHE-RSA` suites, we pick one and sign the ServerKeyExchange with
/// the scheme the client asks for (PKCS#1 v1.5 or PSS); s_client receives our
/// certificate, verifies our signature and exports the same keys.
#[test]
fn our_rsa_certificate_as_server_against_openssl_with_rsa_only_suites() {
    let certs = Certs::new();
    let ours = Arc::new(Certificate::generate_for(KeyKind::Rsa2048).unwrap());
    let cases = [
        // (s_client's -sigalgs, what it reports for our signature, the suite we pick)
        (
            "RSA+SHA256",
            "RSA",
            "SHA256",
            CipherSuite::EcdheRsaWithAes128GcmSha256,
        ),
        (
            "RSA+SHA384",
            "RSA",
            "SHA384",
            CipherSuite::EcdheRsaWithAes128GcmSha256,
        ),
        (
            "RSA-PSS+SHA256",
            "RSA-PSS",
            "SHA256",
            CipherSuite::EcdheRsaWithAes128GcmSha256,
        ),
    ];
    for (i, (sigalgs, sig_type, digest, suite)) in cases.into_iter().enumerate() {
        let profile = SrtpProfile::ALL[i % 4];
        let (kl, sl) = (profile.master_key_len(), profile.master_salt_len());
        let mut c = Config::new(
            DtlsRole::Server,
            ours.clone(),
            vec![certs.fingerprint("rsa")],
        );
        c.srtp_profiles = vec![profile];
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        let mut ep = server_endpoint(Arc::new(c), 200 + i as u64);
        let mut client = Peer::spawn(
            &[
                "s_client",
                "-dtls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path("rsa.pem"),
                "-key",
                &certs.path("rsa.key"),
                "-cipher",
                RSA_ONLY,
                "-sigalgs",
                sigalgs,
                "-use_srtp",
                openssl_profile(profile),
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                &(2 * (kl + sl)).to_string(),
            ]
            .map(String::from),
        );
        let stdin = client.child.stdin.as_mut().unwrap();
        stdin.write_all(b"rsa echo\n").unwrap();
        stdin.flush().unwrap();
        let events = drive(&mut ep, &sock, |ep, e| match e {
            Event::ApplicationData(d) => {
                ep.send(d).unwrap();
                true
            }
            _ => false,
        });
        match &events[..] {
            [Event::Connected(n), Event::ApplicationData(d)] => {
                assert_eq!(n.cipher_suite, suite, "{sigalgs}");
                assert_eq!(&d[..], b"rsa echo\n");
            }
            other => panic!("{sigalgs}: {other:?}"),
        }
        check_material(&ep, &client.keying_material(), profile);
        client.wait_line(|l| l == "rsa echo");
        assert_eq!(
            printed_certificate(&mut client, "Server certificate"),
            ours.der(),
            "s_client got our RSA certificate"
        );
        let t = client.wait_line(|l| l.starts_with("Peer signature type:"));
        assert!(t.ends_with(&format!(": {sig_type}")), "{sigalgs}: {t}");
        let d = client.wait_line(|l| l.starts_with("Peer signing digest:"));
        assert!(d.ends_with(&format!(": {digest}")), "{sigalgs}: {d}");
    }
}

/// Our own certificate is RSA 2048, as a client: s_server, with an RSA certificate and only
/// the `ECDHE-RSA` suites, demands our certificate (`-Verify`) and checks our
/// CertificateVerify, signed with a scheme its CertificateRequest lists (PSS when it
/// lists only PSS). Data crosses both ways.
#[test]
fn our_rsa_certificate_as_client_against_openssl_with_rsa_only_suites() {
    let certs = Certs::new();
    let ours = Arc::new(Certificate::generate_for(KeyKind::Rsa2048).unwrap());
    let cases = [
        (
            "RSA+SHA256",
            "RSA",
            CipherSuite::EcdheRsaWithAes256GcmSha384,
        ),
        (
            "RSA-PSS+SHA256",
            "RSA-PSS",
            CipherSuite::EcdheRsaWithChacha20Poly1305Sha256,
        ),
    ];
    // s_server trusts our self-signed certificate as its own CA, so with
    // -verify_return_error it fails the handshake unless our chain and signature verify.
    std::fs::write(
        certs.path("ours.pem"),
        pem::encode(&pem::Pem::new("CERTIFICATE", ours.der().to_vec())),
    )
    .unwrap();
    for (i, (client_sigalgs, sig_type, suite)) in cases.into_iter().enumerate() {
        let profile = SrtpProfile::ALL[(i + 1) % 4];
        let (kl, sl) = (profile.master_key_len(), profile.master_salt_len());
        let port = free_port();
        let mut server = Peer::spawn(
            &[
                "s_server",
                "-dtls1_2",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &certs.path("rsa.pem"),
                "-key",
                &certs.path("rsa.key"),
                "-naccept",
                "1",
                "-Verify",
                "1",
                "-verify_return_error",
                "-CAfile",
                &certs.path("ours.pem"),
                "-client_sigalgs",
                client_sigalgs,
                "-cipher",
                openssl_suite(suite),
                "-use_srtp",
                openssl_profile(profile),
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                &(2 * (kl + sl)).to_string(),
            ]
            .map(String::from),
        );
        server.wait_line(|l| l == "ACCEPT");
        let mut c = Config::new(
            DtlsRole::Client,
            ours.clone(),
            vec![certs.fingerprint("rsa")],
        );
        c.srtp_profiles = vec![profile];
        // Our RSA suites come first in what we offer; the server takes the one it has.
        assert_eq!(c.cipher_suites[0], CipherSuite::EcdheRsaWithAes128GcmSha256);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut ep = client_endpoint(Arc::new(c), 210 + i as u64, addr);
        let events = drive(&mut ep, &sock, |ep, e| {
            if let Event::Connected(_) = e {
                ep.send(b"from an rsa client\n").unwrap();
                return true;
            }
            false
        });
        match &events[..] {
            [Event::Connected(n)] => assert_eq!(n.cipher_suite, suite, "{client_sigalgs}"),
            other => panic!("{client_sigalgs}: {other:?}"),
        }
        check_material(&ep, &server.keying_material(), profile);
        server.wait_line(|l| l == "from an rsa client");
        assert_eq!(
            printed_certificate(&mut server, "Client certificate"),
            ours.der(),
            "s_server got and verified our RSA certificate"
        );
        // Our CertificateVerify, as s_server saw it.
        let t = server.wait_line(|l| l.starts_with("Peer signature type:"));
        assert!(
            t.ends_with(&format!(": {sig_type}")),
            "{client_sigalgs}: {t}"
        );
        let d = server.wait_line(|l| l.starts_with("Peer signing digest:"));
        assert!(d.ends_with(": SHA256"), "{client_sigalgs}: {d}");
        let cipher = server.wait_line(|l| l.starts_with("CIPHER is "));
        assert_eq!(cipher, format!("CIPHER is {}", openssl_suite(suite)));
        let stdin = server.child.stdin.as_mut().unwrap();
        stdin.write_all(b"to an rsa client\n").unwrap();
        stdin.flush().unwrap();
        let events = drive(&mut ep, &sock, |_, e| {
            matches!(e, Event::ApplicationData(_))
        });
        assert_eq!(
            events.last(),
            Some(&Event::ApplicationData("to an rsa client\n".into()))
        );
    }
}
