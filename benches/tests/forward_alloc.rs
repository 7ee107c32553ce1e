//! Allocations on the SFU forwarding hot path through two ferrtc peer connections, once
//! warm: B's `handle_receive` of A's SRTP, B's `poll_event` handing out `Event::Rtp`, D's
//! `write_rtp`, D's `poll_transmit` (and B's, empty). Counted per stage, so a change names
//! the verb that allocated.
//!
//! Nothing is allocated per packet: SRTP unprotect in place, routing, the RTP session's
//! receive and send statistics, the send history, protect into the transport's reused send
//! arena. (`Event::Rtp` carries the transceiver's `Mid`; `Mid` shares its text, so the
//! clone per packet is a reference count — it was a `String` copy until this test named it.)
//!
//! The datagrams are made before counting and cut from one reused pool with
//! `BytesMut::split`, as the facade's socket receive path (`ferrtc::net::RecvBuffer`) does.
//! A caller that hands in a `Vec`-backed `BytesMut` with spare capacity instead pays one
//! more allocation per packet: the transport truncates the datagram to the unprotected
//! length and freezes it (`BundleTransport::receive_srtp`), and `bytes` must then allocate a
//! shared header to keep the capacity. Freeing the datagrams is not an allocation.
//!
//! This lives with the benches' forwarding harness (`ferrtc_benches::pc::Forwarder`, the
//! same two pairs the `pc` report row measures) rather than under
//! `crates/peerconnection/tests/`, whose manifest has no `ferrtc-test-alloc` dev-dependency.

use std::net::SocketAddr;

use ferrtc_benches::pc::{ADDR_A, ADDR_B, Certs, Forwarder};
use ferrtc_peerconnection::Event;
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

/// Allocations per forwarded packet, per stage: none.
const KNOWN_PER_PACKET: [u64; 4] = [0, 0, 0, 0];

const STAGES: [&str; 4] = [
    "B.handle_receive (SRTP unprotect)",
    "B.poll_event (Event::Rtp)",
    "D.write_rtp (SRTP protect)",
    "D.poll_transmit + B.poll_transmit",
];

/// Forwards one prepared batch and returns the allocations made in each stage, and the
/// packets forwarded.
fn forward_counting(fwd: &mut Forwarder) -> ([u64; 4], u64) {
    let from: SocketAddr = ADDR_A.parse().unwrap();
    let local: SocketAddr = ADDR_B.parse().unwrap();
    let batch = fwd.take_batch();
    let mut counts = [0u64; 4];
    let mut forwarded = 0;
    let now = fwd.now;
    for datagram in batch {
        let before = allocations();
        let _ = fwd.b.handle_receive(now, local, from, datagram);
        counts[0] += allocations() - before;
        loop {
            let before = allocations();
            let ev = fwd.b.poll_event();
            counts[1] += allocations() - before;
            let Some(ev) = ev else { break };
            if let Event::Rtp { packet, .. } = ev {
                let before = allocations();
                let sent = fwd.d.write_rtp(now, fwd.d_tx, &packet);
                counts[2] += allocations() - before;
                assert!(sent.is_ok(), "{sent:?}");
                forwarded += 1;
            }
        }
        let before = allocations();
        while let Some(t) = fwd.d.poll_transmit() {
            std::hint::black_box(&t.contents);
        }
        while fwd.b.poll_transmit().is_some() {}
        counts[3] += allocations() - before;
    }
    (counts, forwarded)
}

#[test]
fn forwarding_allocates_only_the_mid_clone_per_packet() {
    let certs = Certs::new();
    for size in [1200, 172] {
        let mut fwd = Forwarder::new(&certs, size);
        // Warm-up: routes learned, histories and arenas at their working size.
        for _ in 0..4 {
            fwd.prepare(1000);
            let (_, n) = forward_counting(&mut fwd);
            assert_eq!(n, 1000);
        }
        fwd.prepare(1000);
        let (counts, n) = forward_counting(&mut fwd);
        assert_eq!(n, 1000);
        let report: Vec<String> = STAGES
            .iter()
            .zip(counts)
            .map(|(s, c)| format!("{s}: {c}"))
            .collect();
        println!(
            "{size} B, allocations over 1000 packets: {}",
            report.join(", ")
        );
        assert_eq!(
            counts,
            KNOWN_PER_PACKET.map(|k| k * 1000),
            "{size} B: allocations over 1000 forwarded packets, per stage: {}",
            report.join(", ")
        );
    }
}
