//! A peer's `close()` in virtual time: its DTLS close_notify reaches the other side, whose
//! DTLS transport closes at once (W3C `RTCDtlsTransport` `statechange` to "closed"), its data
//! channels close and its remote tracks end, long before ICE consent would expire (30 s,
//! RFC 7675 §5.1).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_netsim::{Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{
    ConnectionState, DataChannelId, DataChannelInit, DataChannelState, DtlsState, Event, MediaKind,
    PeerError, TransceiverId, TransceiverInit,
};
mod netsim_peer;

use netsim_peer::{Node, negotiate, node, run_until};

const A: &str = "192.0.2.1:5000";
const B: &str = "198.51.100.2:6000";
/// One-way delay of the link.
const ONE_WAY: Duration = Duration::from_millis(20);

fn rtp(seq: u16, pt: u8, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x55; 100]);
    p
}

/// A and B connected with an audio and a video transceiver (A's offer, both send) and a
/// data channel open on both sides, media flowing both ways. Returns B's tracks and
/// channel.
struct Call {
    sim: Sim,
    a: Handle<Node>,
    b: Handle<Node>,
    b_tracks: Vec<TransceiverId>,
    b_channel: DataChannelId,
}

fn call(seed: u64) -> Call {
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().latency(ONE_WAY));
    let a = node(&mut sim, seed * 2, A.parse().unwrap());
    let b = node(&mut sim, seed * 2 + 1, B.parse().unwrap());
    let now = sim.now();
    let na = sim.endpoint_mut(a);
    for kind in [MediaKind::Audio, MediaKind::Video] {
        na.pc
            .add_transceiver(kind, TransceiverInit::default())
            .unwrap();
    }
    let dc = na
        .pc
        .create_data_channel(now, DataChannelInit::new("chat"))
        .unwrap();
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).events.contains(&Event::DataChannelOpen(dc))
            && s.endpoint(b)
                .events
                .iter()
                .any(|e| matches!(e, Event::DataChannelOpen(_)))
    });
    let nb = sim.endpoint(b);
    let b_channel = nb.remote_channel().unwrap();
    let b_tracks: Vec<TransceiverId> = nb.tracks();
    assert_eq!(b_tracks.len(), 2);
    for n in [a, b] {
        let n = sim.endpoint(n);
        assert_eq!(n.pc.dtls_state(), DtlsState::Connected);
        assert_eq!(n.pc.connection_state(), ConnectionState::Connected);
        assert_eq!(
            dtls_changes(n),
            [DtlsState::Connecting, DtlsState::Connected]
        );
    }
    // Media and a message from A, so that B has something in flight to lose.
    let a_tracks: Vec<TransceiverId> = sim
        .endpoint(a)
        .pc
        .negotiator()
        .transceivers()
        .map(|t| t.id())
        .collect();
    for seq in 0..5 {
        let now = sim.now();
        let na = sim.endpoint_mut(a);
        na.pc
            .write_rtp(now, a_tracks[0], &rtp(seq, 111, 1))
            .unwrap();
        na.pc.write_rtp(now, a_tracks[1], &rtp(seq, 96, 2)).unwrap();
        sim.run_for(Duration::from_millis(20));
    }
    let now = sim.now();
    sim.endpoint_mut(a)
        .pc
        .send_data(now, dc, Bytes::from_static(b"hi"), false)
        .unwrap();
    run_until(&mut sim, a, b, Duration::from_secs(5), |s| {
        s.endpoint(b).messages().len() == 1
    });
    assert!(!sim.endpoint(b).rtp_on(b_tracks[1]).is_empty());
    Call {
        sim,
        a,
        b,
        b_tracks,
        b_channel,
    }
}

/// The DTLS states a node reported, in order.
fn dtls_changes(n: &Node) -> Vec<DtlsState> {
    n.events
        .iter()
        .filter_map(|e| match e {
            Event::DtlsStateChange(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// What B must show once A's close_notify arrived: DTLS closed (reported once), the
/// channel closed (once), both tracks ended (once each), nothing sent or taken after it,
/// the connection state unchanged (W3C webrtc-pc §4.3.3).
fn assert_b_closed(c: &mut Call) {
    let b = c.b;
    let nb = c.sim.endpoint(b);
    assert_eq!(nb.pc.dtls_state(), DtlsState::Closed);
    assert_eq!(
        dtls_changes(nb),
        [
            DtlsState::Connecting,
            DtlsState::Connected,
            DtlsState::Closed
        ]
    );
    let closes = nb
        .events
        .iter()
        .filter(|e| **e == Event::DataChannelClose(c.b_channel))
        .count();
    assert_eq!(closes, 1, "{:?}", nb.events);
    assert_eq!(
        nb.pc.data_channel(c.b_channel).unwrap().state,
        DataChannelState::Closed
    );
    let mut ended: Vec<TransceiverId> = nb
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TrackEnded { transceiver, .. } => Some(*transceiver),
            _ => None,
        })
        .collect();
    ended.sort_unstable();
    let mut want = c.b_tracks.clone();
    want.sort_unstable();
    assert_eq!(ended, want);
    // Per spec a closed DTLS transport over connected ICE leaves the state "connected".
    assert_eq!(nb.pc.connection_state(), ConnectionState::Connected);

    // Nothing more goes out on that transport, and nothing more is taken.
    let now = c.sim.now();
    let nb = c.sim.endpoint_mut(b);
    assert!(matches!(
        nb.pc
            .send_data(now, c.b_channel, Bytes::from_static(b"late"), false),
        Err(PeerError::DataChannelNotOpen(_))
    ));
    assert!(matches!(
        nb.pc.write_rtp(now, c.b_tracks[1], &rtp(100, 96, 3)),
        Err(PeerError::Transport(_))
    ));
    // A channel created now closes at once.
    let late = nb
        .pc
        .create_data_channel(now, DataChannelInit::new("late"))
        .unwrap();
    nb.drain();
    assert!(nb.events.contains(&Event::DataChannelClose(late)));
    let events_before = nb.events.len();
    let dropped_before = nb.pc.transport().stats().after_dtls_closed;
    // A datagram that looks like SRTP from A's address is dropped and counted.
    let from: SocketAddr = A.parse().unwrap();
    let to: SocketAddr = B.parse().unwrap();
    let r = nb
        .pc
        .handle_receive(now, to, from, BytesMut::from(&rtp(7, 96, 2)[..]));
    assert!(r.is_err());
    nb.drain();
    assert_eq!(
        nb.pc.transport().stats().after_dtls_closed,
        dropped_before + 1
    );
    assert_eq!(
        nb.events.len(),
        events_before,
        "{:?}",
        &nb.events[events_before..]
    );
}

#[test]
fn a_peers_close_closes_dtls_channels_and_tracks_within_one_trip() {
    let mut c = call(71);
    let (a, b) = (c.a, c.b);
    let closed_at: Instant = c.sim.now();
    let now = c.sim.now();
    c.sim.endpoint_mut(a).pc.close(now);
    c.sim.endpoint_mut(a).drain();
    // Our own close reports DTLS closed too, once.
    let na = c.sim.endpoint(a);
    assert_eq!(na.pc.dtls_state(), DtlsState::Closed);
    assert_eq!(dtls_changes(na).last(), Some(&DtlsState::Closed));
    assert_eq!(na.pc.connection_state(), ConnectionState::Closed);
    run_until(&mut c.sim, a, b, Duration::from_secs(5), |s| {
        s.endpoint(b).pc.dtls_state() == DtlsState::Closed
    });
    let took = c.sim.now() - closed_at;
    eprintln!("B saw DTLS closed {took:?} (virtual) after A's close()");
    assert!(took <= ONE_WAY * 2, "{took:?}");
    assert_b_closed(&mut c);
    // Some seconds on: still nothing new on B but ICE's own business, and no panic.
    c.sim.run_for(Duration::from_secs(5));
    assert_eq!(c.sim.endpoint(b).pc.dtls_state(), DtlsState::Closed);
    assert_eq!(dtls_changes(c.sim.endpoint(b)).len(), 3);
}

/// A closes; of its goodbye only the DTLS alert records (content type 21, RFC 6347 §4.1) are
/// handed to B, not the SCTP ABORT riding in an application data record (23).
fn deliver_close_notify_only(c: &mut Call) {
    let now = c.sim.now();
    let na = c.sim.endpoint_mut(c.a);
    na.pc.close(now);
    let mut goodbye = Vec::new();
    while let Some(t) = na.pc.poll_transmit() {
        goodbye.push(t.contents.to_vec());
    }
    let mut alerts = Vec::new();
    for d in goodbye {
        let mut off = 0;
        while off + 13 <= d.len() {
            let end = off + 13 + usize::from(u16::from_be_bytes([d[off + 11], d[off + 12]]));
            if d[off] == 21 {
                alerts.extend_from_slice(&d[off..end.min(d.len())]);
            }
            off = end;
        }
    }
    assert!(!alerts.is_empty(), "A sent no close_notify");
    let from: SocketAddr = A.parse().unwrap();
    let to: SocketAddr = B.parse().unwrap();
    c.sim
        .endpoint_mut(c.b)
        .pc
        .handle_receive(now, to, from, BytesMut::from(&alerts[..]))
        .unwrap();
}

/// Only the close_notify of A's goodbye reaches B (a peer that closes DTLS without an SCTP
/// ABORT first, or an ABORT lost on the way): B's channels close because its DTLS
/// transport did.
#[test]
fn a_close_notify_alone_closes_the_channels() {
    let mut c = call(72);
    deliver_close_notify_only(&mut c);
    let nb = c.sim.endpoint_mut(c.b);
    nb.drain();
    assert_b_closed(&mut c);
    // B answered with its own close_notify (RFC 5246 §7.2.1), and nothing else.
    let nb = c.sim.endpoint_mut(c.b);
    let mut answer = Vec::new();
    while let Some(t) = nb.pc.poll_transmit() {
        if t.contents.first() == Some(&21) {
            answer.push(t);
        }
    }
    assert_eq!(answer.len(), 1);
}

/// A remote track that B learns of after its DTLS transport closed (an offer A made before
/// closing, applied late) can never receive anything: it is announced and ended at once,
/// like the tracks before it.
#[test]
fn a_track_added_after_dtls_closed_ends_at_once() {
    let mut c = call(73);
    let (a, b) = (c.a, c.b);
    let now = c.sim.now();
    let na = c.sim.endpoint_mut(a);
    na.pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    let offer = na.pc.create_offer().unwrap();
    na.pc.set_local_description(now, &offer).unwrap();
    deliver_close_notify_only(&mut c);
    c.sim.endpoint_mut(b).drain();
    assert_b_closed(&mut c);
    let nb = c.sim.endpoint_mut(b);
    let before = nb.events.len();
    nb.pc
        .set_remote_description(now, &ferrtc_peerconnection::Description::offer(offer.sdp))
        .unwrap();
    let answer = nb.pc.create_answer().unwrap();
    nb.pc.set_local_description(now, &answer).unwrap();
    nb.drain();
    let new: Vec<&Event> = nb.events[before..].iter().collect();
    let added: Vec<TransceiverId> = new
        .iter()
        .filter_map(|e| match e {
            Event::Track { transceiver, .. } => Some(*transceiver),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 1, "{new:?}");
    assert!(
        new.iter().any(|e| matches!(
            e,
            Event::TrackEnded { transceiver, .. } if *transceiver == added[0]
        )),
        "{new:?}"
    );
}
