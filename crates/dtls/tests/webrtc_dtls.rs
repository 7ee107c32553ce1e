//! Interop with the `webrtc-dtls` crate (webrtc-rs), in process over an in-memory pipe:
//! both roles, the suite it shares with us (AES-128-GCM, ECDSA), each SRTP profile it
//! knows; exported keying material and application data must agree.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_dtls::{
    Certificate, CipherSuite, Config, DtlsRole, Endpoint, Event, HashAlgorithm,
    SRTP_EXPORTER_LABEL, SrtpKeys, SrtpProfile, fingerprint_of, matches_fingerprint,
};
use rand::SeedableRng;
use webrtc_dtls::config::{ClientAuthType, ExtendedMasterSecretType};
use webrtc_dtls::conn::DTLSConn;
use webrtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use webrtc_util::KeyingMaterialExporter;
use webrtc_util::conn::Conn;

const DEADLINE: Duration = Duration::from_secs(20);

fn their_profile(p: SrtpProfile) -> SrtpProtectionProfile {
    match p {
        SrtpProfile::Aes128CmHmacSha1_80 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        SrtpProfile::Aes128CmHmacSha1_32 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
        SrtpProfile::AeadAes128Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        SrtpProfile::AeadAes256Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
    }
}

/// The pipe has no addresses; this stands for the far end.
const THEIRS: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    5000,
);

/// Drives our endpoint over `conn` until `done` returns true for an event. Application
/// data decrypted in place is reported as the event it would otherwise be; a dropped
/// datagram fails the test.
async fn drive(
    ep: &mut Endpoint,
    conn: &(impl Conn + ?Sized),
    mut done: impl FnMut(&mut Endpoint, &Event) -> bool,
) -> Vec<Event> {
    let end = Instant::now() + DEADLINE;
    let mut buf = vec![0u8; 65536];
    let mut events = Vec::new();
    let mut inbox: VecDeque<Event> = VecDeque::new();
    loop {
        while let Some(t) = ep.poll_transmit() {
            assert_eq!(t.destination, THEIRS);
            conn.send(&t.contents).await.unwrap();
        }
        while let Some(e) = inbox.pop_front().or_else(|| ep.poll_event()) {
            let stop = done(ep, &e);
            events.push(e);
            if stop {
                while let Some(t) = ep.poll_transmit() {
                    conn.send(&t.contents).await.unwrap();
                }
                return events;
            }
        }
        let now = Instant::now();
        assert!(now < end, "no progress: {events:?}");
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(200), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(200));
        match tokio::time::timeout(wait, conn.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let ranges = ep
                    .handle_receive(Instant::now(), THEIRS, &mut buf[..n])
                    .unwrap();
                inbox.extend(std::iter::from_fn(|| ep.poll_event()));
                inbox.extend(
                    ranges
                        .iter()
                        .map(|r| Event::ApplicationData(buf[r].to_vec().into())),
                );
            }
            Ok(Err(e)) => panic!("pipe closed: {e}"),
            Err(_) => ep.handle_timeout(Instant::now()),
        }
    }
}

struct Setup {
    ours: Arc<Config>,
    theirs: webrtc_dtls::config::Config,
}

fn setup(role: DtlsRole, profile: SrtpProfile) -> Setup {
    let their_cert =
        webrtc_dtls::crypto::Certificate::generate_self_signed(vec!["webrtc-rs".to_owned()])
            .unwrap();
    let their_fp = fingerprint_of(HashAlgorithm::Sha256, their_cert.certificate[0].as_ref());
    let our_cert = Arc::new(Certificate::generate().unwrap());
    let our_fp = our_cert.fingerprint(HashAlgorithm::Sha256);
    let mut ours = Config::new(role, our_cert, vec![their_fp]);
    ours.srtp_profiles = vec![profile];
    let theirs = webrtc_dtls::config::Config {
        certificates: vec![their_cert],
        // webrtc-rs checks the fingerprint itself, as its WebRTC layer does.
        insecure_skip_verify: true,
        verify_peer_certificate: Some(Arc::new(move |certs: &[Vec<u8>], _| match certs.first() {
            Some(c) if matches_fingerprint(c, &our_fp) => Ok(()),
            _ => Err(webrtc_dtls::Error::ErrNoCertificates),
        })),
        extended_master_secret: ExtendedMasterSecretType::Require,
        srtp_protection_profiles: vec![their_profile(profile)],
        client_auth: ClientAuthType::RequireAnyClientCert,
        ..Default::default()
    };
    Setup {
        ours: Arc::new(ours),
        theirs,
    }
}

async fn their_material(conn: &DTLSConn, len: usize) -> Vec<u8> {
    conn.connection_state()
        .await
        .export_keying_material("EXTRACTOR-dtls_srtp", &[], len)
        .await
        .unwrap()
}

/// Our exporter output equals theirs, and the keys we hand over are its split for our role.
async fn check_material(ep: &Endpoint, conn: &DTLSConn, profile: SrtpProfile) {
    let len = profile.keying_material_len();
    let material = ep.export_keying_material(SRTP_EXPORTER_LABEL, len).unwrap();
    assert_eq!(material, their_material(conn, len).await);
    assert_eq!(
        Some(ep.srtp_keys().unwrap()),
        SrtpKeys::split(profile, ep.role(), &material)
    );
}

fn seeded(seed: u64) -> Box<rand_chacha::ChaCha20Rng> {
    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrtc_client_with_webrtc_dtls_server() {
    for (i, profile) in SrtpProfile::ALL.into_iter().enumerate() {
        let s = setup(DtlsRole::Client, profile);
        let (ours_end, their_end) = webrtc_util::conn::conn_pipe::pipe();
        let theirs = s.theirs;
        let server =
            tokio::spawn(
                async move { DTLSConn::new(Arc::new(their_end), theirs, false, None).await },
            );
        let now = Instant::now();
        let mut ep = Endpoint::new(s.ours, now, seeded(i as u64)).unwrap();
        ep.connect(now, THEIRS).unwrap();
        let events = drive(&mut ep, &ours_end, |_, e| matches!(e, Event::Connected(_))).await;
        match &events[..] {
            [Event::Connected(n)] => {
                assert_eq!(n.cipher_suite, CipherSuite::EcdheEcdsaWithAes128GcmSha256);
                assert_eq!(n.srtp_profile, Some(profile));
            }
            other => panic!("{other:?}"),
        }
        let conn = server.await.unwrap().unwrap();
        check_material(&ep, &conn, profile).await;

        ep.send(b"to webrtc-rs").unwrap();
        while let Some(t) = ep.poll_transmit() {
            ours_end.send(&t.contents).await.unwrap();
        }
        let mut buf = [0u8; 100];
        let n = conn.read(&mut buf, None).await.unwrap();
        assert_eq!(&buf[..n], b"to webrtc-rs");
        conn.write(b"to ferrtc", None).await.unwrap();
        let events = drive(&mut ep, &ours_end, |_, e| {
            matches!(e, Event::ApplicationData(_))
        })
        .await;
        assert_eq!(
            events.last(),
            Some(&Event::ApplicationData("to ferrtc".into()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_dtls_client_with_ferrtc_server() {
    for (i, profile) in SrtpProfile::ALL.into_iter().enumerate() {
        let s = setup(DtlsRole::Server, profile);
        let (ours_end, their_end) = webrtc_util::conn::conn_pipe::pipe();
        let theirs = s.theirs;
        let client =
            tokio::spawn(
                async move { DTLSConn::new(Arc::new(their_end), theirs, true, None).await },
            );
        let mut ep = Endpoint::new(s.ours, Instant::now(), seeded(10 + i as u64)).unwrap();
        let events = drive(&mut ep, &ours_end, |_, e| matches!(e, Event::Connected(_))).await;
        assert!(matches!(&events[..], [Event::Connected(n)] if n.srtp_profile == Some(profile)));
        let conn = client.await.unwrap().unwrap();
        check_material(&ep, &conn, profile).await;

        conn.write(b"echo", None).await.unwrap();
        let events = drive(&mut ep, &ours_end, |ep, e| {
            if let Event::ApplicationData(d) = e {
                ep.send(d).unwrap();
                return true;
            }
            false
        })
        .await;
        assert_eq!(events.last(), Some(&Event::ApplicationData("echo".into())));
        let mut buf = [0u8; 100];
        let n = conn.read(&mut buf, None).await.unwrap();
        assert_eq!(&buf[..n], b"echo");
    }
}
