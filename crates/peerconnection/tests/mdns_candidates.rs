//! A peer that hides its host addresses behind mDNS `.local` names, as a browser does on a
//! page without camera or microphone permission: every candidate it signals, in its SDP
//! and trickled, names a host we cannot resolve. Ours ignores them (RFC 8839 §5.1), counts
//! them, and still connects through the peer-reflexive candidate its checks teach us
//! (RFC 8445 §7.3.1.3), whichever side offers. Seeded netsim, virtual time.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrtc_netsim::{LinkConfig, Sim};
use ferrtc_peerconnection::{DataChannelInit, Event};
use ferrtc_types::CandidateKind;

mod netsim_peer;

use netsim_peer::{negotiate, node, run_until};

/// The name the hiding side signals in place of its address (the shape browsers use).
const MDNS_NAME: &str = "3f2e8a4c-5b1d-4c7e-9a2f-0d6b7e8c9a1b.local";

/// `hider_offers`: the side with mDNS names offers (a browser calling a ferrtc server), or
/// answers (ferrtc calling the browser). Returns how many `.local` candidates ours ignored.
fn scenario(seed: u64, hider_offers: bool) -> u64 {
    let mut sim = Sim::new(seed);
    let mut link = LinkConfig::default();
    link.latency = Duration::from_millis(20);
    sim.set_default_link(link);
    let ours_addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let hider_addr: SocketAddr = "198.51.100.2:6000".parse().unwrap();
    let ours = node(&mut sim, seed * 2, ours_addr);
    let hider = node(&mut sim, seed * 2 + 1, hider_addr);
    sim.endpoint_mut(hider).hides_behind = Some(MDNS_NAME);
    let (offerer, answerer) = if hider_offers {
        (hider, ours)
    } else {
        (ours, hider)
    };
    let now = sim.now();
    let dc = sim
        .endpoint_mut(offerer)
        .pc
        .create_data_channel(now, DataChannelInit::new("echo"))
        .unwrap();
    negotiate(&mut sim, offerer, answerer);
    run_until(&mut sim, ours, hider, Duration::from_secs(30), |s| {
        s.endpoint(ours).connected() && s.endpoint(hider).connected()
    });
    run_until(&mut sim, ours, hider, Duration::from_secs(10), |s| {
        s.endpoint(offerer)
            .events
            .contains(&Event::DataChannelOpen(dc))
            && s.endpoint(answerer)
                .events
                .iter()
                .any(|e| matches!(e, Event::DataChannel(_)))
    });
    let theirs = sim.endpoint(answerer).remote_channel().unwrap();
    let now = sim.now();
    sim.endpoint_mut(offerer)
        .pc
        .send_data(
            now,
            dc,
            Bytes::from_static(b"over a peer-reflexive pair"),
            false,
        )
        .unwrap();
    run_until(&mut sim, ours, hider, Duration::from_secs(5), |s| {
        !s.endpoint(answerer).messages().is_empty()
    });
    let now = sim.now();
    sim.endpoint_mut(answerer)
        .pc
        .send_data(now, theirs, Bytes::from_static(b"and back"), false)
        .unwrap();
    run_until(&mut sim, ours, hider, Duration::from_secs(5), |s| {
        !s.endpoint(offerer).messages().is_empty()
    });
    assert_eq!(
        sim.endpoint(answerer).messages(),
        [b"over a peer-reflexive pair".to_vec()]
    );
    assert_eq!(sim.endpoint(offerer).messages(), [b"and back".to_vec()]);

    // Ours never had the hider's address from signalling: it learned it from the checks.
    let t = sim.endpoint(ours).pc.transport();
    let pair = t.selected_pair().expect("a selected pair");
    assert_eq!(pair.remote.address, hider_addr);
    assert_eq!(pair.remote.kind, CandidateKind::PeerReflexive);
    assert!(
        t.ice_agent()
            .unwrap()
            .remote_candidates()
            .iter()
            .all(|c| c.kind == CandidateKind::PeerReflexive),
        "no signalled remote candidate may reach the agent"
    );
    // The hider had ours as signalled, host.
    let p = sim.endpoint(hider).pc.transport().selected_pair().unwrap();
    assert_eq!(
        (p.remote.address, p.remote.kind),
        (ours_addr, CandidateKind::Host)
    );
    assert_eq!(
        sim.endpoint(hider)
            .pc
            .transport()
            .stats()
            .unresolved_remote_candidates,
        0
    );
    t.stats().unresolved_remote_candidates
}

#[test]
fn mdns_peer_offers_and_ours_connects_peer_reflexive() {
    for seed in [1, 2, 3] {
        let ignored = scenario(seed, true);
        // The one host candidate, in the offer and trickled.
        assert_eq!(ignored, 2, "seed {seed}");
    }
}

#[test]
fn ours_offers_to_an_mdns_peer_and_connects_peer_reflexive() {
    for seed in [1, 2, 3] {
        let ignored = scenario(seed, false);
        assert_eq!(ignored, 2, "seed {seed}");
    }
}
