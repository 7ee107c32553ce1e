//! Two endpoints in one process: handshakes over a perfect and a lossy link, keying
//! material agreement, data both ways, and the failures that must be typed errors.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CLIENT, Link, Pair, SERVER, configs, receive, rng};
use ferrtc_dtls::{
    AlertDescription, Certificate, CipherSuite, Config, DtlsRole, Endpoint, Error, Event,
    HashAlgorithm, NamedGroup, PeerMisbehaved, ReceiveError, SRTP_EXPORTER_LABEL, SrtpProfile,
};

fn connected_suite(events: &[Event]) -> Option<CipherSuite> {
    events.iter().find_map(|e| match e {
        Event::Connected(n) => Some(n.cipher_suite),
        _ => None,
    })
}

#[test]
fn handshake_every_ecdsa_suite_group_and_profile() {
    let suites = [
        CipherSuite::EcdheEcdsaWithAes128GcmSha256,
        CipherSuite::EcdheEcdsaWithAes256GcmSha384,
        CipherSuite::EcdheEcdsaWithChacha20Poly1305Sha256,
    ];
    for (i, suite) in suites.into_iter().enumerate() {
        for (j, group) in NamedGroup::ALL.into_iter().enumerate() {
            let profile = SrtpProfile::ALL[(i + j) % 4];
            let (mut c, mut s) = configs();
            // The client offers everything; the server's preference decides.
            s.cipher_suites = vec![suite];
            s.groups = vec![group];
            s.srtp_profiles = vec![profile];
            c.srtp_profiles = SrtpProfile::ALL.to_vec();
            let mut p = Pair::new(c, s, (i * 10 + j) as u64);
            assert!(p.handshake(), "{suite:?} {group:?}");
            assert_eq!(connected_suite(&p.client_events), Some(suite));
            assert_eq!(connected_suite(&p.server_events), Some(suite));
            let ck = p.client.srtp_keys().unwrap();
            let sk = p.server.srtp_keys().unwrap();
            assert_eq!(ck.profile(), profile);
            assert_eq!(sk.profile(), profile);
            let (kl, sl) = (profile.master_key_len(), profile.master_salt_len());
            let material = |e: &Endpoint| {
                e.export_keying_material(SRTP_EXPORTER_LABEL, 2 * (kl + sl))
                    .unwrap()
            };
            assert_eq!(material(&p.client), material(&p.server));
            assert_eq!(ck.local_key(), sk.remote_key());
            assert_eq!(ck.local_salt(), sk.remote_salt());
            assert_eq!(ck.remote_key(), sk.local_key());
            // The client's half is first in the exporter output (RFC 5764 §4.2).
            assert_eq!(ck.local_key(), &material(&p.client)[..kl]);
            assert_eq!((ck.local_key().len(), ck.local_salt().len()), (kl, sl));
            assert_ne!(ck.local_key(), ck.remote_key());

            // Application data both ways.
            p.client.send(b"ping").unwrap();
            p.server.send(b"pong").unwrap();
            p.settle();
            assert!(
                p.server_events
                    .contains(&Event::ApplicationData("ping".into()))
            );
            assert!(
                p.client_events
                    .contains(&Event::ApplicationData("pong".into()))
            );
        }
    }
}

#[test]
fn first_answer_is_a_small_hello_verify_request() {
    let (c, s) = configs();
    let now = std::time::Instant::now();
    let mut client = common::client(c, 1, now);
    let mut server = common::server(s, 2, now);
    let hello = client.poll_transmit().unwrap().contents.to_vec();
    receive(&mut server, now, CLIENT, &hello).unwrap();
    let hvr = server.poll_transmit().unwrap().contents.to_vec();
    assert!(server.poll_transmit().is_none(), "one datagram only");
    assert!(hvr.len() < hello.len(), "no amplification");
    assert_eq!(hvr[13], 0x03, "HelloVerifyRequest");
    assert_eq!(&hvr[5..11], &hello[5..11], "record sequence copied");
    assert!(server.poll_timeout().is_none(), "stateless: no timer");
    // A hello with a forged cookie gets another HelloVerifyRequest, not a ServerHello.
    let mut forged = hello.clone();
    forged[13 + 12 + 2 + 32 + 1] = 0; // cookie length stays 0
    receive(&mut server, now, CLIENT, &forged).unwrap();
    assert_eq!(server.poll_transmit().unwrap().contents[13], 0x03);
}

#[test]
fn key_log_lines_agree() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 8);
    assert!(p.handshake());
    let line = p.client.key_log_line().unwrap();
    assert_eq!(Some(line.clone()), p.server.key_log_line());
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "CLIENT_RANDOM");
    assert_eq!((parts[1].len(), parts[2].len()), (64, 96));
}

#[test]
fn close_notify_reaches_the_peer() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 7);
    assert!(p.handshake());
    p.client.close();
    p.settle();
    assert!(p.server_events.contains(&Event::Closed));
    assert_eq!(p.server.send(b"late"), Err(Error::Closed));
}

#[test]
fn wrong_fingerprint_fails_with_alert() {
    let (mut c, s) = configs();
    let other = Certificate::generate().unwrap();
    c.remote_fingerprints = vec![other.fingerprint(HashAlgorithm::Sha256)];
    let mut p = Pair::new(c, s, 3);
    assert!(!p.handshake());
    assert_eq!(
        p.client_errors,
        vec![Error::PeerMisbehaved(PeerMisbehaved::FingerprintMismatch)]
    );
    assert!(
        p.client_events
            .contains(&Event::Failed(PeerMisbehaved::FingerprintMismatch.into()))
    );
    assert_eq!(
        p.server_errors,
        vec![Error::AlertReceived(AlertDescription::BadCertificate)]
    );
}

#[test]
fn server_rejects_client_certificate_with_wrong_fingerprint() {
    let (c, mut s) = configs();
    s.remote_fingerprints = vec![
        Certificate::generate()
            .unwrap()
            .fingerprint(HashAlgorithm::Sha384),
    ];
    let mut p = Pair::new(c, s, 4);
    assert!(!p.handshake());
    assert_eq!(
        p.server_errors,
        vec![Error::PeerMisbehaved(PeerMisbehaved::FingerprintMismatch)]
    );
    assert_eq!(
        p.client_errors,
        vec![Error::AlertReceived(AlertDescription::BadCertificate)]
    );
}

#[test]
fn other_fingerprint_hashes_are_accepted() {
    for alg in [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ] {
        let a = Arc::new(Certificate::generate().unwrap());
        let b = Arc::new(Certificate::generate().unwrap());
        let c = Config::new(DtlsRole::Client, a.clone(), vec![b.fingerprint(alg)]);
        let s = Config::new(DtlsRole::Server, b, vec![a.fingerprint(alg)]);
        let mut p = Pair::new(c, s, 5);
        assert!(p.handshake(), "{alg:?}");
    }
}

#[test]
fn replayed_and_truncated_records_are_dropped() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 9);
    assert!(p.handshake());
    p.client.send(b"once").unwrap();
    let d = p.client.poll_transmit().unwrap().contents.to_vec();
    let now = p.now;
    let mut data = receive(&mut p.server, now, CLIENT, &d).unwrap();
    assert_eq!(
        receive(&mut p.server, now, CLIENT, &d),
        Err(ReceiveError::Replayed)
    );
    // Truncated at every length: dropped, never a failure or a panic.
    for cut in 0..d.len() {
        assert_eq!(
            receive(&mut p.server, now, CLIENT, &d[..cut]),
            Err(ReceiveError::Malformed)
        );
    }
    // A flipped ciphertext bit with a fresh sequence number: dropped.
    p.client.send(b"twice").unwrap();
    let mut bad = p.client.poll_transmit().unwrap().contents.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert_eq!(
        receive(&mut p.server, now, CLIENT, &bad),
        Err(ReceiveError::Unauthenticated)
    );
    let stats = p.server.stats();
    assert_eq!(
        (
            stats.dropped_replayed,
            stats.dropped_malformed,
            stats.dropped_unauthenticated
        ),
        (1, d.len() as u64, 1)
    );
    while let Some(e) = p.server.poll_event() {
        if let Event::ApplicationData(b) = e {
            data.push(b);
        }
    }
    assert_eq!(data, vec![bytes::Bytes::from_static(b"once")]);
    assert!(p.server.is_connected());
}

#[test]
fn unexpected_message_is_a_typed_error() {
    let (c, _) = configs();
    let now = std::time::Instant::now();
    let mut client = common::client(c, 1, now);
    // A ServerHelloDone (type 14, empty) where a ServerHello belongs, message_seq 0.
    let d = hex_literal::hex!("16 fefd 0000 000000000000 000c 0e 000000 0000 000000 000000");
    // Not a drop: the connection fails, with the typed error in `Event::Failed`.
    assert_eq!(receive(&mut client, now, SERVER, &d), Ok(vec![]));
    assert_eq!(
        client.poll_event(),
        Some(Event::Failed(Error::PeerMisbehaved(
            PeerMisbehaved::UnexpectedMessage {
                got: ferrtc_dtls::handshake::HandshakeType::ServerHelloDone
            }
        )))
    );
    client.poll_transmit(); // the ClientHello
    let alert = client.poll_transmit().unwrap().contents.to_vec();
    assert_eq!(&alert[13..], &[2, 0x0a], "fatal unexpected_message");
    assert!(client.poll_timeout().is_none());
}

#[test]
fn lossy_reordering_duplicating_link_still_completes() {
    for seed in 0..20 {
        let (c, s) = configs();
        let mut p = Pair::new(c, s, 100 + seed);
        p.link = Link {
            loss: 0.3,
            duplicate: 0.2,
            reorder: 0.3,
        };
        assert!(p.handshake(), "seed {seed}");
        assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
        let (ck, sk) = (p.client.srtp_keys().unwrap(), p.server.srtp_keys().unwrap());
        let len = ck.profile().keying_material_len();
        assert_eq!(
            p.client.export_keying_material(SRTP_EXPORTER_LABEL, len),
            p.server.export_keying_material(SRTP_EXPORTER_LABEL, len)
        );
        assert_eq!(
            (ck.local_key(), ck.local_salt()),
            (sk.remote_key(), sk.remote_salt())
        );
    }
}

#[test]
fn small_mtu_fragments_every_flight() {
    let (mut c, mut s) = configs();
    c.mtu = 576;
    s.mtu = 576;
    // Pad the server's flight with a larger certificate chain: a bigger key is not needed,
    // the 576-byte MTU already splits flight 4 across datagrams.
    let mut p = Pair::new(c, s, 11);
    p.link.reorder = 0.5;
    assert!(p.handshake());
    assert!(p.max_datagram <= 576, "{}", p.max_datagram);

    let (mut c, mut s) = configs();
    c.mtu = 150;
    s.mtu = 150;
    let mut p = Pair::new(c, s, 12);
    p.link = Link {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.3,
    };
    assert!(p.handshake(), "fragments of a certificate out of order");
    // Only the ClientHello, which is never fragmented, may exceed the MTU.
    assert!(p.max_datagram <= 250, "{}", p.max_datagram);
}

#[test]
fn silent_peer_times_out_with_back_off() {
    let (c, _) = configs();
    let start = std::time::Instant::now();
    let mut client = common::client(c, 1, start);
    let mut sent = 0;
    let mut gaps = Vec::new();
    let mut last = start;
    while let Some(t) = client.poll_timeout() {
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        gaps.push(t - last);
        last = t;
        client.handle_timeout(t);
    }
    while client.poll_transmit().is_some() {}
    assert_eq!(sent, 7, "first flight plus six retransmissions");
    assert_eq!(gaps[0], Duration::from_secs(1));
    assert_eq!(gaps[1], Duration::from_secs(2));
    assert_eq!(gaps[5], Duration::from_secs(32));
    let mut failed = false;
    while let Some(e) = client.poll_event() {
        failed |= e == Event::Failed(Error::HandshakeTimeout);
    }
    assert!(failed);
    assert!(!client.is_connected());
}

#[test]
fn missing_srtp_and_ems_mismatches() {
    // Server insists on a profile the client does not offer.
    let (mut c, mut s) = configs();
    c.srtp_profiles = vec![SrtpProfile::Aes128CmHmacSha1_80];
    s.srtp_profiles = vec![SrtpProfile::AeadAes256Gcm];
    let mut p = Pair::new(c, s, 21);
    assert!(!p.handshake());
    assert_eq!(
        p.server_errors,
        vec![Error::PeerMisbehaved(PeerMisbehaved::NoCommonSrtpProfile)]
    );
    assert_eq!(
        p.client_errors,
        vec![Error::AlertReceived(AlertDescription::HandshakeFailure)]
    );

    // No SRTP configured on either side: plain DTLS, no keying material for SRTP.
    let (mut c, mut s) = configs();
    c.srtp_profiles.clear();
    s.srtp_profiles.clear();
    let mut p = Pair::new(c, s, 22);
    assert!(p.handshake());
    assert_eq!(p.client.srtp_keys(), Err(Error::NotConnected));
    assert_eq!(
        p.client
            .export_keying_material(b"EXPERIMENTAL-x", 32)
            .unwrap(),
        p.server
            .export_keying_material(b"EXPERIMENTAL-x", 32)
            .unwrap()
    );
}

#[test]
fn plaintext_handshake_after_connect_cannot_kill_the_connection() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 31);
    assert!(p.handshake());
    let now = p.now;
    // An off-path ServerHelloDone with a fresh message_seq, in epoch 0.
    let d = hex_literal::hex!("16 fefd 0000 000000000063 000c 0e 000000 0040 000000 000000");
    assert_eq!(
        receive(&mut p.client, now, SERVER, &d),
        Err(ReceiveError::Unexpected)
    );
    assert_eq!(
        receive(&mut p.server, now, CLIENT, &d),
        Err(ReceiveError::Unexpected)
    );
    assert!(p.client.is_connected() && p.server.is_connected());
    // A forged epoch-0 fatal alert or close_notify is ignored too, by either side.
    let alert = hex_literal::hex!("15 fefd 0000 000000000064 0002 02 28");
    let close = hex_literal::hex!("15 fefd 0000 000000000065 0002 01 00");
    for d in [&alert[..], &close[..]] {
        assert_eq!(
            receive(&mut p.client, now, SERVER, d),
            Err(ReceiveError::Unexpected)
        );
        assert_eq!(
            receive(&mut p.server, now, CLIENT, d),
            Err(ReceiveError::Unexpected)
        );
    }
    assert!(p.client.is_connected() && p.server.is_connected());
    p.client.send(b"still here").unwrap();
    p.settle();
    assert!(
        p.server_events
            .contains(&Event::ApplicationData("still here".into()))
    );
}

/// Plaintext alerts anyone could send to a server that holds no state: fatal ones
/// (handshake_failure, bad_certificate, internal_error), close_notify and a warning
/// (user_canceled), each in its own datagram, then all in one.
fn spoofed_plaintext_alerts() -> Vec<Vec<u8>> {
    let single = [
        hex_literal::hex!("15 fefd 0000 000000000000 0002 02 28"),
        hex_literal::hex!("15 fefd 0000 000000000001 0002 02 2a"),
        hex_literal::hex!("15 fefd 0000 000000000002 0002 02 50"),
        hex_literal::hex!("15 fefd 0000 000000000003 0002 01 00"),
        hex_literal::hex!("15 fefd 0000 000000000004 0002 01 5a"),
    ];
    let mut all: Vec<Vec<u8>> = single.iter().map(|d| d.to_vec()).collect();
    all.push(single.concat());
    all
}

/// Feeds the spoofed alerts to `server` and checks that none of them did anything.
fn assert_stateless_server_ignores_alerts(p: &mut Pair, what: &str) {
    let now = p.now;
    for d in spoofed_plaintext_alerts() {
        assert_eq!(
            receive(&mut p.server, now, CLIENT, &d),
            Err(ReceiveError::Unexpected),
            "{what}"
        );
        assert!(p.server.poll_event().is_none(), "{what}: no event");
        assert!(p.server.poll_transmit().is_none(), "{what}: no answer");
    }
    assert_eq!(p.server.poll_timeout(), None, "{what}: still stateless");
    assert!(
        p.server_errors.is_empty() && p.server_events.is_empty(),
        "{what}"
    );
}

/// The server still completes a normal handshake, with nothing but Connected to report.
fn assert_server_completes(p: &mut Pair, what: &str) {
    assert!(p.handshake(), "{what}");
    assert!(p.server_errors.is_empty(), "{what}: {:?}", p.server_errors);
    assert_eq!(p.server_events.len(), 1, "{what}: {:?}", p.server_events);
    assert!(matches!(p.server_events[0], Event::Connected(_)), "{what}");
    p.client.send(b"hello").unwrap();
    p.settle();
    assert!(
        p.server_events
            .contains(&Event::ApplicationData("hello".into())),
        "{what}"
    );
}

#[test]
fn plaintext_alert_before_any_client_hello_cannot_kill_the_server() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 41);
    assert_stateless_server_ignores_alerts(&mut p, "before any hello");
    assert_server_completes(&mut p, "before any hello");
}

#[test]
fn plaintext_alert_after_a_cookieless_client_hello_cannot_kill_the_server() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 42);
    // Deliver the client's first hello: the server answers with a HelloVerifyRequest
    // (on the link now) and keeps nothing.
    assert!(p.step());
    assert_eq!(p.datagrams, 2, "ClientHello and HelloVerifyRequest");
    assert!(!p.client.is_connected() && !p.server.is_connected());
    assert_stateless_server_ignores_alerts(&mut p, "after the HelloVerifyRequest");
    assert_server_completes(&mut p, "after the HelloVerifyRequest");
}

#[test]
fn lost_final_flight_is_repeated_when_the_client_repeats_its_own() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 32);
    // Run until the server is connected, dropping everything it sends from then on
    // once: its final flight is lost, so the client must time out, repeat flight 5,
    // and get flight 6 again.
    let mut dropped = false;
    for _ in 0..1000 {
        if p.both_connected() {
            break;
        }
        p.drain();
        if p.server.is_connected() && !dropped {
            p.drop_in_flight(false);
            dropped = true;
        }
        if !p.step() {
            break;
        }
    }
    assert!(dropped);
    assert!(p.both_connected());
    assert!(p.client_errors.is_empty() && p.server_errors.is_empty());
}

#[test]
fn data_that_overtakes_the_finished_is_delivered_after_connect() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 33);
    let now = p.now;
    // Hand-drive: deliver until the server is connected, then hold back the server's
    // final flight and send data behind it; deliver the data first.
    let mut to_client = Vec::new();
    for _ in 0..20 {
        while let Some(t) = p.client.poll_transmit() {
            receive(&mut p.server, now, CLIENT, &t.contents).unwrap();
        }
        if p.server.is_connected() {
            break;
        }
        while let Some(t) = p.server.poll_transmit() {
            receive(&mut p.client, now, SERVER, &t.contents).unwrap();
        }
    }
    assert!(p.server.is_connected() && !p.client.is_connected());
    while let Some(t) = p.server.poll_transmit() {
        to_client.push(t.contents.to_vec());
    }
    p.server.send(b"early").unwrap();
    let data = p.server.poll_transmit().unwrap().contents.to_vec();
    assert_eq!(receive(&mut p.client, now, SERVER, &data), Ok(vec![]));
    assert!(p.client.poll_event().is_none());
    for d in to_client {
        receive(&mut p.client, now, SERVER, &d).unwrap();
    }
    assert!(matches!(p.client.poll_event(), Some(Event::Connected(_))));
    assert_eq!(
        p.client.poll_event(),
        Some(Event::ApplicationData("early".into()))
    );
}

/// The first `Event::Failed` among `ep`'s pending events, kept in `slot` once set.
fn note_failure(ep: &mut Endpoint, slot: &mut Option<Error>) {
    while let Some(e) = ep.poll_event() {
        if let Event::Failed(e) = e {
            slot.get_or_insert(e);
        }
    }
}

/// Flips the last byte of the first complete handshake message of type `typ` found in an
/// epoch-0 record of `datagram`; true if one was found.
fn tamper(datagram: &mut [u8], typ: ferrtc_dtls::handshake::HandshakeType) -> bool {
    use ferrtc_dtls::handshake::Fragment;
    use ferrtc_dtls::record::{HEADER_LEN, Records};
    let mut target = None;
    let mut off = 0;
    for rec in Records::new(datagram) {
        let rec = rec.unwrap();
        let len = HEADER_LEN + rec.fragment().len();
        if rec.epoch() == 0 && rec.content_type() == ferrtc_dtls::record::ContentType::Handshake {
            let mut inner = 0;
            for f in Fragment::parse_all(rec.fragment()) {
                let f = f.unwrap();
                let flen = ferrtc_dtls::handshake::HEADER_LEN + f.body.len();
                if f.msg_type == typ && f.is_complete() && target.is_none() {
                    target = Some(off + HEADER_LEN + inner + flen - 1);
                }
                inner += flen;
            }
        }
        off += len;
    }
    match target {
        Some(i) => {
            datagram[i] ^= 0x01;
            true
        }
        None => false,
    }
}

#[test]
fn bad_server_key_exchange_signature_is_refused() {
    use ferrtc_dtls::handshake::HandshakeType;
    let (c, s) = configs();
    let now = std::time::Instant::now();
    let mut client = common::client(c, 1, now);
    let mut server = common::server(s, 2, now);
    let mut tampered = false;
    let mut result = None;
    let mut server_result = None;
    for _ in 0..10 {
        while let Some(t) = client.poll_transmit() {
            let _ = receive(&mut server, now, CLIENT, &t.contents);
            note_failure(&mut server, &mut server_result);
        }
        while let Some(t) = server.poll_transmit() {
            let mut d = t.contents.to_vec();
            tampered |= tamper(&mut d, HandshakeType::ServerKeyExchange);
            let _ = receive(&mut client, now, SERVER, &d);
            note_failure(&mut client, &mut result);
        }
    }
    assert!(tampered);
    assert_eq!(
        result,
        Some(Error::PeerMisbehaved(PeerMisbehaved::BadSignature))
    );
    assert_eq!(
        server_result,
        Some(Error::AlertReceived(AlertDescription::DecryptError))
    );
    assert!(!client.is_connected());
}

#[test]
fn bad_certificate_verify_signature_is_refused() {
    use ferrtc_dtls::handshake::HandshakeType;
    let (c, s) = configs();
    let now = std::time::Instant::now();
    let mut client = common::client(c, 3, now);
    let mut server = common::server(s, 4, now);
    let mut tampered = false;
    let mut server_result = None;
    let mut client_result = None;
    for _ in 0..10 {
        while let Some(t) = client.poll_transmit() {
            let mut d = t.contents.to_vec();
            tampered |= tamper(&mut d, HandshakeType::CertificateVerify);
            let _ = receive(&mut server, now, CLIENT, &d);
            note_failure(&mut server, &mut server_result);
        }
        while let Some(t) = server.poll_transmit() {
            let _ = receive(&mut client, now, SERVER, &t.contents);
            note_failure(&mut client, &mut client_result);
        }
    }
    assert!(tampered);
    assert_eq!(
        server_result,
        Some(Error::PeerMisbehaved(PeerMisbehaved::BadSignature))
    );
    assert_eq!(
        client_result,
        Some(Error::AlertReceived(AlertDescription::DecryptError))
    );
}

#[test]
fn unusable_configurations_are_refused() {
    let (mut c, _) = configs();
    c.mtu = 64;
    let now = std::time::Instant::now();
    assert_eq!(
        Endpoint::new(Arc::new(c), now, rng(1)).unwrap_err(),
        Error::InvalidConfig
    );
    let (_, mut c) = configs();
    c.cipher_suites.clear();
    assert_eq!(c.role, DtlsRole::Server);
    assert_eq!(
        Endpoint::new(Arc::new(c), now, rng(1)).unwrap_err(),
        Error::InvalidConfig
    );
    // A server does not connect; a client connects once.
    let (c, s) = configs();
    let mut server = Endpoint::new(Arc::new(s), now, rng(2)).unwrap();
    assert_eq!(server.connect(now, CLIENT), Err(Error::InvalidState));
    let mut client = common::client(c, 3, now);
    assert_eq!(client.connect(now, SERVER), Err(Error::InvalidState));
}

#[test]
fn p384_certificates_and_loaded_keys() {
    // A P-384 certificate made outside this crate, loaded from DER and PKCS#8.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let der = rcgen::CertificateParams::new(vec!["p384".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec();
    let p384 = Arc::new(Certificate::from_der(der.clone(), &key.serialize_der()).unwrap());
    assert_eq!(
        p384.scheme(),
        ferrtc_dtls::SignatureScheme::EcdsaSecp384r1Sha384
    );
    // A key that does not belong to the certificate is refused.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    assert_eq!(
        Certificate::from_der(der, &other.serialize_der()).unwrap_err(),
        Error::Certificate
    );
    let p256 = Arc::new(Certificate::generate().unwrap());
    for (client_cert, server_cert) in [(p256.clone(), p384.clone()), (p384.clone(), p256.clone())] {
        let c = Config::new(
            DtlsRole::Client,
            client_cert.clone(),
            vec![server_cert.fingerprint(HashAlgorithm::Sha256)],
        );
        let s = Config::new(
            DtlsRole::Server,
            server_cert,
            vec![client_cert.fingerprint(HashAlgorithm::Sha256)],
        );
        let mut p = Pair::new(c, s, 51);
        assert!(p.handshake());
    }
}

#[test]
fn only_a_repeat_of_the_answered_flight_triggers_retransmission() {
    let (mut c, mut s) = configs();
    c.mtu = 200;
    s.mtu = 200;
    let now = std::time::Instant::now();
    let mut client = common::client(c, 61, now);
    let mut server = common::server(s, 62, now);
    let ch1 = client.poll_transmit().unwrap().contents.to_vec();
    receive(&mut server, now, CLIENT, &ch1).unwrap();
    let hvr = server.poll_transmit().unwrap().contents.to_vec();
    receive(&mut client, now, SERVER, &hvr).unwrap();
    let ch2 = client.poll_transmit().unwrap().contents.to_vec();
    receive(&mut server, now, CLIENT, &ch2).unwrap();
    let flight4: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert!(flight4.len() > 1);
    // The client repeating the hello that flight 4 answers, as it would when its timer
    // fired (a full timeout later): flight 4 again.
    let now = now + Duration::from_secs(1);
    receive(&mut server, now, CLIENT, &ch2).unwrap();
    let again: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert_eq!(again.len(), flight4.len());
    for d in &flight4 {
        receive(&mut client, now, SERVER, d).unwrap();
    }
    let flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert!(flight5.len() > 1, "fragmented at a 200-byte MTU");
    // Part of flight 5, twice: the server is still receiving it and must stay quiet.
    receive(&mut server, now, CLIENT, &flight5[0]).unwrap();
    receive(&mut server, now, CLIENT, &flight5[0]).unwrap();
    assert!(server.poll_transmit().is_none());
    for d in &flight5[1..] {
        receive(&mut server, now, CLIENT, d).unwrap();
    }
    let flight6: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert!(server.is_connected() && !flight6.is_empty());
    // Flight 5 again after the handshake, a timeout later: flight 6 is repeated.
    let now = now + Duration::from_secs(1);
    receive(&mut server, now, CLIENT, &flight5[0]).unwrap();
    assert_eq!(
        std::iter::from_fn(|| server.poll_transmit()).count(),
        flight6.len()
    );
}

#[test]
fn clean_link_handshake_is_six_datagrams_and_three_round_trips() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 71);
    assert!(p.handshake());
    // ClientHello, HelloVerifyRequest, ClientHello, flight 4, flight 5, flight 6.
    assert_eq!(p.datagrams, 6);
    // Six one-way trips of 10 ms; no timer fired.
    assert_eq!(p.now - p.start, std::time::Duration::from_millis(60));
}

#[test]
fn server_certificate_curve_must_be_in_the_client_groups() {
    // RFC 8422 §5.1.1: a client listing only X25519 cannot accept our P-256 certificate.
    let (mut c, s) = configs();
    c.groups = vec![NamedGroup::X25519];
    let mut p = Pair::new(c, s, 81);
    assert!(!p.handshake());
    assert_eq!(
        p.server_errors,
        vec![Error::PeerMisbehaved(PeerMisbehaved::NoCommonCipherSuite)]
    );
    assert_eq!(
        p.client_errors,
        vec![Error::AlertReceived(AlertDescription::HandshakeFailure)]
    );
}

#[test]
fn client_hello_without_our_signature_scheme_is_refused() {
    use ferrtc_dtls::extension::Extension;
    use ferrtc_dtls::handshake::{ClientHello, HandshakeMessage, HandshakeType};
    use ferrtc_dtls::record::{ContentType, RecordHeader};
    let (_, s) = configs();
    let now = std::time::Instant::now();
    let mut server = common::server(s, 91, now);
    let mut hello = ClientHello {
        version: 0xfefd,
        random: [9; 32],
        session_id: vec![],
        cookie: vec![],
        cipher_suites: vec![CipherSuite::EcdheEcdsaWithAes128GcmSha256],
        compression_methods: vec![0],
        extensions: vec![
            Extension::ExtendedMasterSecret,
            Extension::SupportedGroups(vec![NamedGroup::Secp256r1]),
            Extension::SignatureAlgorithms(vec![ferrtc_dtls::SignatureScheme::RsaPkcs1Sha256]),
        ],
    };
    let datagram = |h: &ClientHello, seq: u16| {
        let msg = HandshakeMessage::ClientHello(h.clone()).to_unfragmented(seq);
        let mut d = Vec::new();
        RecordHeader {
            content_type: ContentType::Handshake,
            version: 0xfefd,
            epoch: 0,
            sequence_number: u64::from(seq),
            length: msg.len() as u16,
        }
        .emit(&mut d);
        d.extend_from_slice(&msg);
        d
    };
    receive(&mut server, now, CLIENT, &datagram(&hello, 0)).unwrap();
    let hvr = server.poll_transmit().unwrap().contents.to_vec();
    let body = &hvr[13 + 12..];
    let Ok(HandshakeMessage::HelloVerifyRequest(hv)) =
        HandshakeMessage::decode(HandshakeType::HelloVerifyRequest, body)
    else {
        panic!("expected a HelloVerifyRequest");
    };
    hello.cookie = hv.cookie;
    assert_eq!(
        receive(&mut server, now, CLIENT, &datagram(&hello, 1)),
        Ok(vec![])
    );
    assert_eq!(
        server.poll_event(),
        Some(Event::Failed(Error::PeerMisbehaved(
            PeerMisbehaved::NoCommonCipherSuite
        )))
    );
    let alert = server.poll_transmit().unwrap().contents.to_vec();
    assert_eq!(&alert[13..], &[2, 0x28], "fatal handshake_failure");
}

/// Runs a client and a server at one instant up to the server's flight 4; returns them
/// and the client's second ClientHello (the flight 4 answers).
fn up_to_flight4(
    now: std::time::Instant,
    seed: u64,
) -> (Endpoint, Endpoint, Vec<u8>, Vec<Vec<u8>>) {
    let (c, s) = configs();
    let mut client = common::client(c, seed, now);
    let mut server = common::server(s, seed + 1, now);
    let ch1 = client.poll_transmit().unwrap().contents.to_vec();
    receive(&mut server, now, CLIENT, &ch1).unwrap();
    let hvr = server.poll_transmit().unwrap().contents.to_vec();
    receive(&mut client, now, SERVER, &hvr).unwrap();
    let ch2 = client.poll_transmit().unwrap().contents.to_vec();
    receive(&mut server, now, CLIENT, &ch2).unwrap();
    let flight4: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert!(!flight4.is_empty());
    (client, server, ch2, flight4)
}

fn drain_count(e: &mut Endpoint) -> usize {
    std::iter::from_fn(|| e.poll_transmit()).count()
}

#[test]
fn replayed_peer_flight_triggers_at_most_one_retransmission_per_window() {
    let start = std::time::Instant::now();
    let (mut client, mut server, ch2, flight4) = up_to_flight4(start, 81);
    // The hello flight 4 answers, replayed 50 times at once (a duplicating link or an
    // attacker replaying one capture): flight 4 goes out once more at most, not 50 times.
    let now = start + Duration::from_millis(600);
    let mut sent = 0;
    for _ in 0..50 {
        receive(&mut server, now, CLIENT, &ch2).unwrap();
        sent += drain_count(&mut server);
    }
    assert_eq!(
        sent,
        flight4.len(),
        "one retransmission of flight 4, not 50"
    );
    // Still inside the window (half the 1 s timeout since that resend): silent.
    let now = now + Duration::from_millis(400);
    for _ in 0..50 {
        receive(&mut server, now, CLIENT, &ch2).unwrap();
    }
    assert_eq!(drain_count(&mut server), 0);
    // Replays at the very instant flight 4 was first sent are silent as well.
    let (_, mut fresh, ch2b, _) = up_to_flight4(start, 83);
    for _ in 0..50 {
        receive(&mut fresh, start, CLIENT, &ch2b).unwrap();
    }
    assert_eq!(drain_count(&mut fresh), 0, "flight 4 was just sent");

    // The handshake still completes afterwards.
    for d in &flight4 {
        receive(&mut client, now, SERVER, d).unwrap();
    }
    let flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    for d in &flight5 {
        receive(&mut server, now, CLIENT, d).unwrap();
    }
    let flight6: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert!(server.is_connected() && !flight6.is_empty());

    // After the handshake: flight 5 replayed 50 times repeats flight 6 once at most.
    let mut sent = 0;
    for _ in 0..50 {
        receive(&mut server, now, CLIENT, &flight5[0]).unwrap();
        sent += drain_count(&mut server);
    }
    assert_eq!(sent, 0, "flight 6 was just sent");
    let later = now + Duration::from_millis(500);
    for _ in 0..50 {
        receive(&mut server, later, CLIENT, &flight5[0]).unwrap();
        sent += drain_count(&mut server);
    }
    assert_eq!(sent, flight6.len(), "one repeat of flight 6, not 50");

    for d in &flight6 {
        receive(&mut client, later, SERVER, d).unwrap();
    }
    assert!(client.is_connected());
    client.send(b"after replays").unwrap();
    let d = client.poll_transmit().unwrap().contents.to_vec();
    // Decrypted in place: the data comes back from handle_receive.
    assert_eq!(
        receive(&mut server, later, CLIENT, &d).unwrap(),
        vec![bytes::Bytes::from_static(b"after replays")]
    );
}

#[test]
fn a_repeat_after_the_window_still_recovers_a_lost_flight() {
    let start = std::time::Instant::now();
    let (mut client, mut server, ch2, flight4) = up_to_flight4(start, 85);
    // Flight 4 is lost. The client's timer fires and it repeats its hello; the server's
    // timer has not fired yet (no handle_timeout), so only the repeat can recover.
    let t = client.poll_timeout().unwrap();
    assert!(t > start);
    client.handle_timeout(t);
    let repeat = client.poll_transmit().unwrap().contents.to_vec();
    // The same hello in a fresh record (only the record sequence number differs).
    assert_eq!(repeat.len(), ch2.len());
    assert_eq!(repeat[13..], ch2[13..]);
    assert!(
        server.poll_timeout().unwrap() >= t,
        "server timer not yet due"
    );
    receive(&mut server, t, CLIENT, &repeat).unwrap();
    let again: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    assert_eq!(again.len(), flight4.len(), "flight 4 repeated");
    // Duplicates right after that resend are ignored; the next window answers again.
    receive(&mut server, t, CLIENT, &repeat).unwrap();
    assert_eq!(drain_count(&mut server), 0);
    let t2 = t + Duration::from_millis(500);
    receive(&mut server, t2, CLIENT, &repeat).unwrap();
    assert_eq!(drain_count(&mut server), flight4.len());
    // The repeat completes the handshake.
    for d in &again {
        receive(&mut client, t2, SERVER, d).unwrap();
    }
    let flight5: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    for d in &flight5 {
        receive(&mut server, t2, CLIENT, d).unwrap();
    }
    let flight6: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_transmit())
        .map(|t| t.contents.to_vec())
        .collect();
    for d in &flight6 {
        receive(&mut client, t2, SERVER, d).unwrap();
    }
    assert!(client.is_connected() && server.is_connected());
}

#[test]
fn timer_retransmission_is_not_suppressed_by_the_window() {
    let start = std::time::Instant::now();
    let (_client, mut server, ch2, flight4) = up_to_flight4(start, 87);
    // A peer-triggered resend just before the timer is due does not delay the timer.
    let due = server.poll_timeout().unwrap();
    let just_before = due - Duration::from_millis(100);
    receive(&mut server, just_before, CLIENT, &ch2).unwrap();
    assert_eq!(drain_count(&mut server), flight4.len());
    assert_eq!(server.poll_timeout(), Some(due));
    server.handle_timeout(due);
    assert_eq!(
        drain_count(&mut server),
        flight4.len(),
        "timer fired as before"
    );
}

#[test]
fn a_client_before_connect_sends_nothing_and_drops_datagrams() {
    let (c, s) = configs();
    let now = std::time::Instant::now();
    let mut client = Endpoint::new(Arc::new(c), now, rng(101)).unwrap();
    assert!(client.poll_transmit().is_none() && client.poll_timeout().is_none());
    let mut server = common::server(s, 102, now);
    // Nothing to answer before anyone spoke: the server has no address to send to.
    server.close();
    assert!(server.poll_transmit().is_none());
    let hello = {
        let mut other = common::client(configs().0, 103, now);
        other.poll_transmit().unwrap().contents.to_vec()
    };
    assert_eq!(
        receive(&mut client, now, SERVER, &hello),
        Err(ReceiveError::Unexpected)
    );
    assert_eq!(client.stats().dropped_unexpected, 1);
    client.close();
    assert!(client.poll_transmit().is_none() && client.poll_event().is_none());
    client.connect(now, SERVER).unwrap();
    assert_eq!(client.remote(), Some(SERVER));
    assert_eq!(common::transmits(&mut client, SERVER).len(), 1);
}

#[test]
fn transmits_follow_the_peer_that_authenticates() {
    let (c, s) = configs();
    let mut p = Pair::new(c, s, 104);
    assert!(p.handshake());
    assert_eq!(p.server.remote(), Some(CLIENT));
    let now = p.now;
    let moved: std::net::SocketAddr = "198.51.100.7:6000".parse().unwrap();
    // A replayed record from elsewhere is dropped and moves nothing.
    p.client.send(b"first").unwrap();
    let d = common::transmits(&mut p.client, SERVER).remove(0);
    assert_eq!(
        receive(&mut p.server, now, CLIENT, &d).unwrap(),
        vec![bytes::Bytes::from_static(b"first")]
    );
    assert_eq!(
        receive(&mut p.server, now, moved, &d),
        Err(ReceiveError::Replayed)
    );
    // Plaintext from elsewhere (anyone can forge it) moves nothing either.
    let alert = hex_literal::hex!("15 fefd 0000 000000000064 0002 02 28");
    assert!(receive(&mut p.server, now, moved, &alert).is_err());
    assert_eq!(p.server.remote(), Some(CLIENT));
    // An authenticated record from a new address (the path changed): answers go there.
    p.client.send(b"from the new path").unwrap();
    let d = common::transmits(&mut p.client, SERVER).remove(0);
    receive(&mut p.server, now, moved, &d).unwrap();
    assert_eq!(p.server.remote(), Some(moved));
    p.server.send(b"reply").unwrap();
    assert_eq!(p.server.poll_transmit().unwrap().destination, moved);
    let stats = p.server.stats();
    assert_eq!((stats.dropped_replayed, stats.dropped_unexpected), (1, 1));
}

/// Splits a datagram holding one record with one whole ClientHello into two datagrams, each
/// one record carrying a fragment of the message (as Chromium sends its 1.5 kB hello).
fn split_client_hello(datagram: &[u8], at: usize) -> [Vec<u8>; 2] {
    assert_eq!(datagram[0], 22, "a handshake record");
    assert_eq!(datagram[13], 1, "a ClientHello");
    let seq = u64::from_be_bytes([
        0,
        0,
        datagram[5],
        datagram[6],
        datagram[7],
        datagram[8],
        datagram[9],
        datagram[10],
    ]);
    let hs = &datagram[13..];
    let (msg_seq, body) = ([hs[4], hs[5]], &hs[12..]);
    let len = body.len() as u32;
    let record = |rec_seq: u64, offset: usize, part: &[u8]| {
        let mut hdr = vec![1];
        hdr.extend_from_slice(&len.to_be_bytes()[1..]);
        hdr.extend_from_slice(&msg_seq);
        hdr.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
        hdr.extend_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
        hdr.extend_from_slice(part);
        let mut out = vec![22, 0xfe, 0xfd, 0, 0];
        out.extend_from_slice(&rec_seq.to_be_bytes()[2..]);
        out.extend_from_slice(&(hdr.len() as u16).to_be_bytes());
        out.extend_from_slice(&hdr);
        out
    };
    [
        record(seq, 0, &body[..at]),
        record(seq + 1, at, &body[at..]),
    ]
}

#[test]
fn a_fragmented_client_hello_is_reassembled_before_the_cookie() {
    let (c, s) = configs();
    let now = std::time::Instant::now();
    let mut client = common::client(c, 3, now);
    let mut server = common::server(s, 4, now);
    let hello = client.poll_transmit().unwrap().contents.to_vec();
    // The second fragment alone, then the first: reassembled out of order.
    let [first, second] = split_client_hello(&hello, 40);
    receive(&mut server, now, CLIENT, &second).unwrap();
    assert!(
        server.poll_transmit().is_none(),
        "half a hello gets no answer"
    );
    receive(&mut server, now, CLIENT, &first).unwrap();
    let hvr = server.poll_transmit().unwrap().contents.to_vec();
    assert_eq!(hvr[13], 0x03, "HelloVerifyRequest");
    receive(&mut client, now, SERVER, &hvr).unwrap();
    // The hello with the cookie comes in fragments too; then the handshake runs to the end.
    let hello2 = client.poll_transmit().unwrap().contents.to_vec();
    for part in split_client_hello(&hello2, 100) {
        receive(&mut server, now, CLIENT, &part).unwrap();
    }
    let mut connected = (false, false);
    for _ in 0..10 {
        for d in common::transmits(&mut server, CLIENT) {
            receive(&mut client, now, SERVER, &d).unwrap();
        }
        for d in common::transmits(&mut client, SERVER) {
            receive(&mut server, now, CLIENT, &d).unwrap();
        }
        while let Some(e) = client.poll_event() {
            connected.0 |= matches!(e, Event::Connected(_));
        }
        while let Some(e) = server.poll_event() {
            connected.1 |= matches!(e, Event::Connected(_));
        }
    }
    assert_eq!(connected, (true, true));
}

/// Our certificate may be RSA 2048 (`KeyKind::Rsa2048`): an RSA server picks an
/// `ECDHE_RSA` suite even when the client prefers ECDSA ones, signs with a scheme the
/// client listed, and refuses a client that offers only ECDSA suites. Both sides RSA, and
/// an RSA client against an ECDSA server, complete with mutual authentication.
#[test]
fn rsa_certificates_choose_the_rsa_suites() {
    use ferrtc_dtls::KeyKind;
    let rsa = || Arc::new(Certificate::generate_for(KeyKind::Rsa2048).unwrap());
    let (rsa_a, rsa_b) = (rsa(), rsa());
    let ec = Arc::new(Certificate::generate().unwrap());
    let fp = |c: &Arc<Certificate>| vec![c.fingerprint(HashAlgorithm::Sha256)];

    // RSA server, ECDSA client preferring ECDSA suites: an RSA suite is chosen.
    let c = Config::new(DtlsRole::Client, ec.clone(), fp(&rsa_a));
    assert_eq!(
        c.cipher_suites[0],
        CipherSuite::EcdheEcdsaWithAes128GcmSha256
    );
    let s = Config::new(DtlsRole::Server, rsa_a.clone(), fp(&ec));
    assert_eq!(s.cipher_suites[0], CipherSuite::EcdheRsaWithAes128GcmSha256);
    let mut p = Pair::new(c, s, 301);
    assert!(p.handshake(), "{:?} {:?}", p.client_errors, p.server_errors);
    assert_eq!(
        connected_suite(&p.client_events),
        Some(CipherSuite::EcdheRsaWithAes128GcmSha256)
    );
    assert_eq!(p.client.negotiated().unwrap().peer_certificate, rsa_a.der());

    // Both RSA; the client only offers ChaCha20 with RSA.
    let mut c = Config::new(DtlsRole::Client, rsa_b.clone(), fp(&rsa_a));
    c.cipher_suites = vec![CipherSuite::EcdheRsaWithChacha20Poly1305Sha256];
    let s = Config::new(DtlsRole::Server, rsa_a.clone(), fp(&rsa_b));
    let mut p = Pair::new(c, s, 302);
    assert!(p.handshake(), "{:?} {:?}", p.client_errors, p.server_errors);
    assert_eq!(
        connected_suite(&p.server_events),
        Some(CipherSuite::EcdheRsaWithChacha20Poly1305Sha256)
    );
    assert_eq!(p.server.negotiated().unwrap().peer_certificate, rsa_b.der());

    // RSA client, ECDSA server.
    let c = Config::new(DtlsRole::Client, rsa_b.clone(), fp(&ec));
    let s = Config::new(DtlsRole::Server, ec.clone(), fp(&rsa_b));
    let mut p = Pair::new(c, s, 303);
    assert!(p.handshake(), "{:?} {:?}", p.client_errors, p.server_errors);
    assert_eq!(
        connected_suite(&p.client_events),
        Some(CipherSuite::EcdheEcdsaWithAes128GcmSha256)
    );

    // A client that offers only ECDSA suites cannot use an RSA server.
    let mut c = Config::new(DtlsRole::Client, ec.clone(), fp(&rsa_a));
    c.cipher_suites = vec![
        CipherSuite::EcdheEcdsaWithAes128GcmSha256,
        CipherSuite::EcdheEcdsaWithAes256GcmSha384,
    ];
    let s = Config::new(DtlsRole::Server, rsa_a.clone(), fp(&ec));
    let mut p = Pair::new(c, s, 304);
    assert!(!p.handshake());
    assert_eq!(
        p.server_errors,
        vec![Error::PeerMisbehaved(PeerMisbehaved::NoCommonCipherSuite)]
    );
    assert_eq!(
        p.client_errors,
        vec![Error::AlertReceived(AlertDescription::HandshakeFailure)]
    );
}
