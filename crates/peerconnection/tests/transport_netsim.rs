//! The bundled transport between two ferrtc peers over a simulated network: ICE, DTLS,
//! SRTP and SCTP data channels together, in virtual time.

mod transport_support;

use std::time::Duration;

use bytes::Bytes;
use ferrtc_netsim::{Endpoint, LinkConfig, NatConfig, NatKind, Prefix};
use ferrtc_peerconnection::transport::*;
use ferrtc_sctp_datachannel::{ChannelOptions, Reliability};
use ferrtc_types::{DtlsRole, Fingerprint, HashAlgorithm};
use transport_support::{Pair, Roles, Setup, StunServer, rtp_packet};

const SECOND: Duration = Duration::from_secs(1);

/// Opens a channel from A, sends `n` messages each way and `n` RTP packets each way, and
/// checks every one arrives intact and in order.
fn exchange(p: &mut Pair, n: usize, limit: Duration) {
    p.run_until(limit, Pair::both_connected);
    let now = p.sim.now();
    let id = p
        .a_mut()
        .t
        .open_channel(now, ChannelOptions::new("chat"))
        .unwrap();
    p.run_until(limit, |p| {
        p.a().opened().contains(&(id, false)) && p.b().opened().contains(&(id, true))
    });
    let msg = |from: char, i: usize| Bytes::from(format!("{from}{i:05}").repeat(20));
    for i in 0..n {
        let now = p.sim.now();
        p.a_mut()
            .t
            .send_message(now, id, msg('a', i), true)
            .unwrap();
        p.b_mut()
            .t
            .send_message(now, id, msg('b', i), true)
            .unwrap();
        p.a_mut()
            .t
            .send_rtp(&rtp_packet(i as u16, 0x1111, 900))
            .unwrap();
        p.b_mut()
            .t
            .send_rtp(&rtp_packet(i as u16, 0x2222, 900))
            .unwrap();
        p.run_for(Duration::from_millis(20));
    }
    p.run_until(limit, |p| {
        p.a().messages().len() == n && p.b().messages().len() == n
    });
    let expect = |from| {
        (0..n)
            .map(|i| (id, msg(from, i).to_vec()))
            .collect::<Vec<_>>()
    };
    assert_eq!(p.b().messages(), expect('a'));
    assert_eq!(p.a().messages(), expect('b'));
    // RTP is unreliable: what arrives is intact, and on a lossless link everything does.
    for (rx, ssrc) in [(p.b().rtp(), 0x1111), (p.a().rtp(), 0x2222)] {
        for pkt in &rx {
            let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
            assert_eq!(pkt, &rtp_packet(seq, ssrc, 900));
        }
    }
}

#[test]
fn data_and_media_both_ways_with_either_side_offering() {
    for (seed, roles) in [(1, Roles::A_OFFERS), (2, Roles::B_OFFERS)] {
        let mut s = Setup::new(seed);
        s.roles = roles;
        let mut p = s.build();
        exchange(&mut p, 50, 30 * SECOND);
        assert_eq!(p.b().rtp().len(), 50, "{roles:?}");
        assert_eq!(p.a().rtp().len(), 50, "{roles:?}");
        for peer in [p.a(), p.b()] {
            assert_eq!(
                peer.states(),
                [ConnectionState::Connecting, ConnectionState::Connected],
                "{roles:?}"
            );
            assert!(peer.t.srtp_profile().is_some());
            assert!(peer.receive_errors.is_empty(), "{:?}", peer.receive_errors);
        }
        assert_eq!(p.a().t.dtls_state(), DtlsState::Connected);
    }
}

#[test]
fn lossy_link_with_100ms_rtt_delivers_every_reliable_message() {
    for seed in [3, 4] {
        let mut s = Setup::new(seed);
        s.link = LinkConfig::ideal()
            .latency(Duration::from_millis(50))
            .jitter(Duration::from_millis(2))
            .loss(0.05);
        let mut p = s.build();
        exchange(&mut p, 100, 120 * SECOND);
        // About 5% of the RTP is lost, never corrupted (checked in `exchange`).
        let got = p.b().rtp().len();
        assert!((80..100).contains(&got), "{got} of 100 RTP packets");
    }
}

#[test]
fn through_two_port_restricted_nats() {
    let mut s = Setup::new(5);
    s.a_addr = "10.0.0.1:5000".parse().unwrap();
    s.b_addr = "10.1.0.1:6000".parse().unwrap();
    let stun = "203.0.113.100:3478".parse().unwrap();
    s.stun = Some(stun);
    let mut p = s.build();
    p.sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        "203.0.113.1".parse().unwrap(),
        Prefix::new("10.0.0.0".parse().unwrap(), 16).unwrap(),
    ));
    p.sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        "203.0.113.2".parse().unwrap(),
        Prefix::new("10.1.0.0".parse().unwrap(), 16).unwrap(),
    ));
    let server = p.sim.add_endpoint([stun], StunServer::default());
    exchange(&mut p, 20, 60 * SECOND);
    assert!(p.sim.endpoint(server).answered >= 2);
    let pair = p.a().t.selected_pair().unwrap();
    assert_eq!(pair.local.base, "10.0.0.1:5000".parse().unwrap());
    assert_eq!(
        pair.remote.address.ip(),
        "203.0.113.2".parse::<std::net::IpAddr>().unwrap()
    );
}

#[test]
fn a_wrong_fingerprint_fails_typed_and_nothing_flows() {
    for roles in [Roles::A_OFFERS, Roles::B_OFFERS] {
        let mut s = Setup::new(6);
        s.roles = roles;
        s.wrong_fingerprint_for_a =
            Some(Fingerprint::new(HashAlgorithm::Sha256, &[0xab; 32]).unwrap());
        let mut p = s.build();
        p.run_until(60 * SECOND, |p| {
            p.b().t.connection_state() == ConnectionState::Failed
        });
        let cause = p.b().failure().expect("a cause comes with Failed");
        assert!(
            matches!(cause, TransportError::Dtls(_)),
            "{roles:?}: {cause:?}"
        );
        assert!(std::error::Error::source(cause).is_some());
        assert!(p.b().t.srtp_profile().is_none(), "no key is used");
        assert!(p.b_mut().t.send_rtp(&rtp_packet(1, 1, 10)).is_err());
        // A learns of it through the fatal alert B sent (or its own handshake timeout).
        p.run_until(200 * SECOND, |p| {
            p.a().t.connection_state() == ConnectionState::Failed
        });
    }
}

#[test]
fn garbage_and_replays_are_dropped_and_counted_without_harm() {
    let mut p = Setup::new(7).build();
    exchange(&mut p, 5, 30 * SECOND);
    let (a_addr, b_addr) = (p.a().addr, p.b().addr);
    let stranger = "203.0.113.77:4444".parse().unwrap();
    let now = p.sim.now();
    let before = p.b().t.stats();
    let rtp_before = p.b().rtp().len();
    // Captured from the wire: A's last protected RTP packet, to replay it.
    p.a_mut().t.send_rtp(&rtp_packet(999, 0x1111, 100)).unwrap();
    let replay = p.a_mut().t.poll_transmit().unwrap().contents;
    let b = p.b;
    let inputs: Vec<(std::net::SocketAddr, Vec<u8>)> = vec![
        (a_addr, vec![]),
        (a_addr, vec![0xff; 50]),
        (
            a_addr,
            vec![0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4],
        ),
        (
            a_addr,
            vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0x11, 0x11, 1, 2, 3],
        ),
        (a_addr, vec![0x00, 0x01, 0x00, 0x00]),
        (
            stranger,
            vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        ),
        (stranger, replay.to_vec()),
        (a_addr, replay.to_vec()),
        (a_addr, replay.to_vec()),
    ];
    let n = inputs.len();
    for (from, data) in inputs {
        p.sim.endpoint_mut(b).receive(now, from, b_addr, &data);
    }
    let after = p.b().t.stats();
    let dropped = (after.unknown_protocol - before.unknown_protocol)
        + (after.unknown_source - before.unknown_source)
        + (after.dtls_dropped - before.dtls_dropped)
        + (after.srtp_dropped - before.srtp_dropped)
        + (after.ice_dropped - before.ice_dropped);
    // Eight of the nine are dropped; the first copy of the replayed packet is fresh.
    assert_eq!(dropped as usize, n - 1, "{before:?} -> {after:?}");
    assert_eq!(p.b().rtp().len(), rtp_before + 1);
    assert!(p.b().connected());
    // The connection carries on untouched.
    exchange_more(&mut p);
}

fn exchange_more(p: &mut Pair) {
    let now = p.sim.now();
    let (id, _) = p.a().opened()[0];
    let before = p.b().messages().len();
    p.a_mut()
        .t
        .send_message(now, id, Bytes::from_static(b"still here"), true)
        .unwrap();
    p.run_until(10 * SECOND, |p| p.b().messages().len() == before + 1);
    assert_eq!(p.b().messages().last().unwrap().1, b"still here");
}

#[test]
fn max_message_size_is_enforced_on_send() {
    let mut p = Setup::new(8).build();
    exchange(&mut p, 1, 30 * SECOND);
    let now = p.sim.now();
    let (id, _) = p.a().opened()[0];
    let err = p
        .a_mut()
        .t
        .send_message(now, id, Bytes::from(vec![0; 262_145]), false)
        .unwrap_err();
    assert_eq!(
        err,
        CommandError::MessageTooLarge {
            len: 262_145,
            max: 262_144
        }
    );
}

#[test]
fn unreliable_unordered_channel_loses_but_never_reorders_reliable_one() {
    let mut s = Setup::new(9);
    s.link = LinkConfig::ideal()
        .latency(Duration::from_millis(30))
        .loss(0.1);
    let mut p = s.build();
    p.run_until(60 * SECOND, Pair::both_connected);
    let now = p.sim.now();
    let mut opts = ChannelOptions::new("lossy");
    opts.ordered = false;
    opts.reliability = Reliability::MaxRetransmits(0);
    let lossy = p.a_mut().t.open_channel(now, opts).unwrap();
    p.run_until(10 * SECOND, |p| p.b().opened().contains(&(lossy, true)));
    for i in 0..200u32 {
        let now = p.sim.now();
        p.a_mut()
            .t
            .send_message(now, lossy, Bytes::from(i.to_be_bytes().to_vec()), false)
            .unwrap();
        p.run_for(Duration::from_millis(10));
    }
    p.run_for(5 * SECOND);
    let got = p.b().messages();
    assert!(got.len() < 200 && got.len() > 150, "{} arrived", got.len());
    let mut seen = std::collections::HashSet::new();
    for (id, m) in got {
        assert_eq!(id, lossy);
        assert!(seen.insert(m), "no duplicate");
    }
    assert_eq!(p.a().t.dtls_state(), DtlsState::Connected);
    let _ = DtlsRole::Client;
}

#[test]
fn ice_restart_while_data_flows_loses_nothing() {
    let mut p = Setup::new(10).build();
    exchange(&mut p, 5, 30 * SECOND);
    let (id, _) = p.a().opened()[0];
    let base = p.b().messages().len();
    // A restarts; its new credentials reach B with the new offer, B restarts in turn and
    // its new credentials come back in the answer. Messages flow throughout.
    let now = p.sim.now();
    p.a_mut().t.restart_ice(now);
    let a_creds = p.a().t.local_credentials().clone();
    for i in 0..40u32 {
        let now = p.sim.now();
        p.a_mut()
            .t
            .send_message(now, id, Bytes::from(format!("m{i}")), true)
            .unwrap();
        if i == 10 {
            p.b_mut().t.restart_ice(now);
            p.b_mut()
                .t
                .set_remote_credentials(now, a_creds.clone())
                .unwrap();
            let b_creds = p.b().t.local_credentials().clone();
            p.a_mut().t.set_remote_credentials(now, b_creds).unwrap();
        }
        p.run_for(Duration::from_millis(100));
    }
    p.run_until(30 * SECOND, |p| p.b().messages().len() == base + 40);
    let got: Vec<_> = p.b().messages()[base..]
        .iter()
        .map(|m| m.1.clone())
        .collect();
    let want: Vec<_> = (0..40).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, want);
    assert!(p.both_connected());
}
