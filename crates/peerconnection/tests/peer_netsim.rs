//! Two whole peer connections over a simulated network: SDP offer and answer, trickled
//! candidates, a data channel, and audio and video RTP both ways, in virtual time.

use std::time::Duration;

use bytes::Bytes;
use ferrtc_netsim::{Handle, LinkConfig, Sim};
use ferrtc_peerconnection::{
    CodecKind, ConnectionState, DataChannelInit, Description, Event, MediaKind, PeerConfig,
    PeerError, SignalingState, StatsType, StatsValue, TransceiverId, TransceiverInit,
};
mod netsim_peer;

use netsim_peer::{Node, negotiate, node, node_with, run_until};

fn rtp(seq: u16, pt: u8, ssrc: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..len).map(|i| (i as u16 ^ seq) as u8));
    p
}

fn scenario(seed: u64, link: LinkConfig, one_way: Duration, lossy: bool) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let a = node(&mut sim, seed * 2, "192.0.2.1:5000".parse().unwrap());
    let b = node(&mut sim, seed * 2 + 1, "198.51.100.2:6000".parse().unwrap());
    let now = sim.now();
    let audio = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Audio, TransceiverInit::default())
        .unwrap();
    let video = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    let dc = sim
        .endpoint_mut(a)
        .pc
        .create_data_channel(now, DataChannelInit::new("chat"))
        .unwrap();
    assert!(
        sim.endpoint(a)
            .events
            .iter()
            .chain(std::iter::once(&Event::NegotiationNeeded))
            .any(|e| *e == Event::NegotiationNeeded)
    );
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).connected() && s.endpoint(b).connected()
    });
    // B learned of A's transceivers as tracks, and of the channel once it opened.
    let b_tracks: Vec<(TransceiverId, MediaKind)> = sim
        .endpoint(b)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Track {
                transceiver, kind, ..
            } => Some((*transceiver, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(b_tracks.len(), 2);
    run_until(&mut sim, a, b, Duration::from_secs(10), |s| {
        s.endpoint(b)
            .events
            .iter()
            .any(|e| matches!(e, Event::DataChannel(_)))
            && s.endpoint(a).events.contains(&Event::DataChannelOpen(dc))
    });
    let b_dc = sim.endpoint(b).remote_channel().unwrap();
    assert_eq!(sim.endpoint(b).pc.data_channel(b_dc).unwrap().label, "chat");
    // Messages both ways; RTP on each transceiver both ways, with the codecs' payload types.
    let (b_audio, b_video) = (b_tracks[0].0, b_tracks[1].0);
    for i in 0..30u16 {
        let now = sim.now();
        let na = sim.endpoint_mut(a);
        na.pc
            .send_data(now, dc, Bytes::from(format!("a{i}")), false)
            .unwrap();
        na.pc.write_rtp(now, audio, &rtp(i, 111, 7, 160)).unwrap();
        na.pc.write_rtp(now, video, &rtp(i, 96, 8, 1000)).unwrap();
        let nb = sim.endpoint_mut(b);
        nb.pc
            .send_data(now, b_dc, Bytes::from(format!("b{i}")), true)
            .unwrap();
        nb.pc.write_rtp(now, b_audio, &rtp(i, 111, 9, 160)).unwrap();
        nb.pc
            .write_rtp(now, b_video, &rtp(i, 96, 10, 1000))
            .unwrap();
        sim.run_for(Duration::from_millis(20));
    }
    run_until(&mut sim, a, b, Duration::from_secs(60), |s| {
        s.endpoint(a).messages().len() == 30 && s.endpoint(b).messages().len() == 30
    });
    let want = |p: char| {
        (0..30)
            .map(|i| format!("{p}{i}").into_bytes())
            .collect::<Vec<_>>()
    };
    assert_eq!(sim.endpoint(b).messages(), want('a'));
    assert_eq!(sim.endpoint(a).messages(), want('b'));
    // Let NACKs and retransmissions finish, then check what arrived.
    sim.run_for(Duration::from_secs(2));
    for (n, t, payload, ssrc_in) in [
        (b, b_audio, 160, 7),
        (b, b_video, 1000, 8),
        (a, audio, 160, 9),
        (a, video, 1000, 10),
    ] {
        let got = sim.endpoint(n).rtp_on(t);
        // Video has NACK and RTX: every packet arrives, repaired if lost. Audio (Opus
        // without NACK) loses what the link loses.
        let want = if payload == 1000 { 30 } else { 25 };
        let mut seqs: Vec<u16> = got
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert!(
            seqs.len() >= want,
            "{} distinct packets on {t:?}",
            seqs.len()
        );
        for p in got {
            let seq = u16::from_be_bytes([p[2], p[3]]);
            // The payload is intact (the SSRC is the sender's own, not what was written; the
            // header gained the sender's transport-wide sequence number).
            let got = ferrtc_rtp_codecs::RtpPacket::new_checked(&p[..]).expect("RTP");
            assert_eq!(
                got.payload(),
                &rtp(seq, 0, ssrc_in, payload)[12..],
                "intact"
            );
            assert!(got.has_extension(), "transport-cc stamped");
        }
    }
    for n in [a, b] {
        let st = sim.endpoint(n).pc.rtp_stats();
        assert!(st.reports_sent >= 2, "{st:?}");
        // RTT from SR/RR: two 10 ms or 50 ms one-way hops, plus the report's hold time.
        let rtt = st.rtt.expect("an RTT from report blocks");
        assert!(
            rtt >= 2 * one_way && rtt < 2 * one_way + Duration::from_millis(20),
            "{rtt:?}"
        );
    }
    let (sent, _) = sim.endpoint(a).pc.sent_counts(video).unwrap();
    assert_eq!(sent, 30);
    check_stats(&sim, a, b, video, lossy);
    if lossy {
        // The losses on video were asked for by NACK and repaired by RTX.
        let (ra, rb) = (
            sim.endpoint(a).pc.rtp_stats(),
            sim.endpoint(b).pc.rtp_stats(),
        );
        assert!(ra.nacks_sent + rb.nacks_sent > 0);
        assert!(ra.retransmitted + rb.retransmitted > 0);
        assert!(ra.rtx_received + rb.rtx_received > 0);
    }
}

#[test]
fn offer_answer_data_channel_audio_and_video_on_a_clean_link() {
    let d = Duration::from_millis(10);
    scenario(1, LinkConfig::ideal().latency(d), d, false);
}

#[test]
fn the_same_over_5_percent_loss_and_100ms_rtt() {
    let d = Duration::from_millis(50);
    scenario(2, LinkConfig::ideal().latency(d).loss(0.05), d, true);
}

/// getStats() on both sides: every W3C type is there, and the counters of one side agree
/// with the other's.
fn check_stats(sim: &Sim, a: Handle<Node>, b: Handle<Node>, video: TransceiverId, lossy: bool) {
    let now = sim.now();
    let (ra, rb) = (sim.endpoint(a).pc.stats(now), sim.endpoint(b).pc.stats(now));
    for r in [&ra, &rb] {
        for kind in [
            StatsType::PeerConnection,
            StatsType::Transport,
            StatsType::CandidatePair,
            StatsType::LocalCandidate,
            StatsType::RemoteCandidate,
            StatsType::Certificate,
            StatsType::Codec,
            StatsType::MediaSource,
            StatsType::OutboundRtp,
            StatsType::InboundRtp,
            StatsType::RemoteInboundRtp,
            StatsType::RemoteOutboundRtp,
            StatsType::DataChannel,
        ] {
            assert!(r.of(kind).next().is_some(), "no {} entry", kind.as_str());
        }
        let t = r.of(StatsType::Transport).next().unwrap();
        assert_eq!(t.get_str("dtlsState"), Some("connected"));
        let pair = t.get_str("selectedCandidatePairId").unwrap();
        assert!(r.get(pair).is_some());
    }
    // A's video outbound stream is B's inbound stream, counted the same on a clean link.
    let ssrc = sim
        .endpoint(a)
        .pc
        .negotiator()
        .transceiver(video)
        .and_then(|t| t.ssrc())
        .unwrap();
    let out = ra.get(&format!("OT{ssrc}")).unwrap();
    let inb = rb.get(&format!("IT{ssrc}")).unwrap();
    assert_eq!(out.get_u64("packetsSent"), Some(30));
    if !lossy {
        assert_eq!(inb.get_u64("packetsReceived"), Some(30));
    }
    // B's view of A's stream (remote-outbound-rtp from A's SR) matches A's own count, and
    // A's remote-inbound-rtp (from B's RR) reports what B lost.
    let remote_out = rb.get(&format!("RO{ssrc}")).unwrap();
    assert!(remote_out.get_u64("packetsSent").unwrap() <= 30);
    assert!(ra.get(&format!("RI{ssrc}")).is_some());
    // Data channel counters mirror.
    let da = ra.of(StatsType::DataChannel).next().unwrap();
    let db = rb.of(StatsType::DataChannel).next().unwrap();
    assert_eq!(da.get_u64("messagesSent"), db.get_u64("messagesReceived"));
    assert_eq!(da.get_u64("bytesReceived"), db.get_u64("bytesSent"));
    assert_eq!(da.get_u64("messagesSent"), Some(30));
}

/// User message interleaving (RFC 8260) is used only when both peers turn it on; either
/// way the transport's stats say what was negotiated and what the peer announced, and
/// messages go through.
#[test]
fn interleaving_is_negotiated_only_when_both_turn_it_on() {
    for (on_a, on_b) in [(true, true), (true, false), (false, true), (false, false)] {
        let mut sim = Sim::new(7);
        sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(20)));
        let set = |on| move |c: &mut PeerConfig| c.transport.sctp.interleaving = on;
        let a = node_with(&mut sim, 14, "192.0.2.1:5000".parse().unwrap(), set(on_a));
        let b = node_with(
            &mut sim,
            15,
            "198.51.100.2:6000".parse().unwrap(),
            set(on_b),
        );
        let now = sim.now();
        let dc = sim
            .endpoint_mut(a)
            .pc
            .create_data_channel(now, DataChannelInit::new("first"))
            .unwrap();
        negotiate(&mut sim, a, b);
        run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
            s.endpoint(a).events.contains(&Event::DataChannelOpen(dc))
        });
        let now = sim.now();
        sim.endpoint_mut(a)
            .pc
            .send_data(now, dc, Bytes::from(vec![7u8; 100_000]), true)
            .unwrap();
        run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
            s.endpoint(b).messages().iter().any(|m| m.len() == 100_000)
        });
        let now = sim.now();
        for (node, peer_on) in [(a, on_b), (b, on_a)] {
            let report = sim.endpoint(node).pc.stats(now);
            let t = report.of(StatsType::Transport).next().unwrap();
            let flag = |name| match t.get(name) {
                Some(StatsValue::Bool(v)) => *v,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(flag("sctpInterleaving"), on_a && on_b, "{on_a} {on_b}");
            assert_eq!(flag("sctpPeerInterleaving"), peer_on, "{on_a} {on_b}");
        }
    }
}

/// A fresh connected pair with only a data channel, ready for renegotiation tests.
fn connected_pair(
    seed: u64,
) -> (
    Sim,
    Handle<Node>,
    Handle<Node>,
    ferrtc_peerconnection::DataChannelId,
) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(20)));
    let a = node(&mut sim, seed * 2, "192.0.2.1:5000".parse().unwrap());
    let b = node(&mut sim, seed * 2 + 1, "198.51.100.2:6000".parse().unwrap());
    let now = sim.now();
    let dc = sim
        .endpoint_mut(a)
        .pc
        .create_data_channel(now, DataChannelInit::new("first"))
        .unwrap();
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).events.contains(&Event::DataChannelOpen(dc))
    });
    (sim, a, b, dc)
}

#[test]
fn renegotiation_adds_then_removes_video_and_a_second_channel_without_new_dtls() {
    let (mut sim, a, b, dc) = connected_pair(11);
    let dtls_before = sim
        .endpoint(a)
        .pc
        .transport()
        .dtls_stats()
        .unwrap()
        .datagrams_accepted;
    // B adds a video track and a second channel; B offers this time.
    let now = sim.now();
    let video = sim
        .endpoint_mut(b)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    let second = sim
        .endpoint_mut(b)
        .pc
        .create_data_channel(now, DataChannelInit::new("second"))
        .unwrap();
    sim.endpoint_mut(b).drain();
    assert!(sim.endpoint(b).events.contains(&Event::NegotiationNeeded));
    negotiate(&mut sim, b, a);
    run_until(&mut sim, a, b, Duration::from_secs(10), |s| {
        s.endpoint(b)
            .events
            .contains(&Event::DataChannelOpen(second))
            && s.endpoint(a).tracks().len() == 1
    });
    // Media flows on the new track; both channels carry messages.
    for i in 0..20u16 {
        let now = sim.now();
        sim.endpoint_mut(b)
            .pc
            .write_rtp(now, video, &rtp(i, 96, 5, 500))
            .unwrap();
        sim.endpoint_mut(a)
            .pc
            .send_data(now, dc, Bytes::from_static(b"one"), false)
            .unwrap();
        sim.endpoint_mut(b)
            .pc
            .send_data(now, second, Bytes::from_static(b"two"), false)
            .unwrap();
        sim.run_for(Duration::from_millis(20));
    }
    sim.run_for(Duration::from_millis(500));
    let a_video = sim.endpoint(a).tracks()[0];
    assert_eq!(sim.endpoint(a).rtp_on(a_video).len(), 20);
    assert_eq!(
        sim.endpoint(a)
            .messages()
            .iter()
            .filter(|m| m == &b"two")
            .count(),
        20
    );
    assert_eq!(
        sim.endpoint(b)
            .messages()
            .iter()
            .filter(|m| m == &b"one")
            .count(),
        20
    );
    // B removes the video again (stops the transceiver); A offers the next round.
    sim.endpoint_mut(b).pc.stop_transceiver(video).unwrap();
    negotiate(&mut sim, b, a);
    let now = sim.now();
    assert!(
        sim.endpoint_mut(b)
            .pc
            .write_rtp(now, video, &rtp(99, 96, 5, 500))
            .is_err()
    );
    // The DTLS association was never redone: the same endpoint kept accepting records, and
    // the data channel still works.
    assert!(
        sim.endpoint(a)
            .pc
            .transport()
            .dtls_stats()
            .unwrap()
            .datagrams_accepted
            > dtls_before
    );
    assert_eq!(
        sim.endpoint(a).pc.connection_state(),
        ConnectionState::Connected
    );
    let before = sim.endpoint(b).messages().len();
    let now = sim.now();
    sim.endpoint_mut(a)
        .pc
        .send_data(now, dc, Bytes::from_static(b"after"), false)
        .unwrap();
    run_until(&mut sim, a, b, Duration::from_secs(5), |s| {
        s.endpoint(b).messages().len() == before + 1
    });
}

#[test]
fn glare_is_resolved_by_rollback() {
    let (mut sim, a, b, _) = connected_pair(12);
    // Both add audio and offer at once.
    for n in [a, b] {
        sim.endpoint_mut(n)
            .pc
            .add_transceiver(MediaKind::Audio, TransceiverInit::default())
            .unwrap();
    }
    let now = sim.now();
    let offer_a = sim.endpoint_mut(a).pc.create_offer().unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_local_description(now, &offer_a)
        .unwrap();
    let offer_b = sim.endpoint_mut(b).pc.create_offer().unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &offer_b)
        .unwrap();
    // B receives A's offer in have-local-offer: refused, state unchanged.
    let glare = Description::offer(offer_a.sdp.clone());
    assert!(
        sim.endpoint_mut(b)
            .pc
            .set_remote_description(now, &glare)
            .is_err()
    );
    assert_eq!(
        sim.endpoint(b).pc.signaling_state(),
        SignalingState::HaveLocalOffer
    );
    // B is the polite peer: it rolls back and takes A's offer.
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &Description::rollback())
        .unwrap();
    assert_eq!(sim.endpoint(b).pc.signaling_state(), SignalingState::Stable);
    sim.endpoint_mut(b)
        .pc
        .set_remote_description(now, &glare)
        .unwrap();
    let answer = sim.endpoint_mut(b).pc.create_answer().unwrap();
    sim.endpoint_mut(b)
        .pc
        .set_local_description(now, &answer)
        .unwrap();
    sim.endpoint_mut(a)
        .pc
        .set_remote_description(now, &Description::answer(answer.sdp.clone()))
        .unwrap();
    // Then B offers its own audio.
    negotiate(&mut sim, b, a);
    sim.run_for(Duration::from_millis(200));
    for n in [a, b] {
        assert_eq!(sim.endpoint(n).pc.signaling_state(), SignalingState::Stable);
        assert_eq!(
            sim.endpoint(n).pc.connection_state(),
            ConnectionState::Connected
        );
        assert_eq!(sim.endpoint(n).pc.negotiator().transceivers().count(), 2);
    }
}

#[test]
fn ice_restart_by_offer_keeps_the_channel_open_and_loses_nothing() {
    let (mut sim, a, b, dc) = connected_pair(13);
    let ufrag = sim
        .endpoint(a)
        .pc
        .negotiator()
        .local_ice_credentials()
        .ufrag
        .clone();
    sim.endpoint_mut(a).pc.restart_ice().unwrap();
    let base = sim.endpoint(b).messages().len();
    for i in 0..30u32 {
        let now = sim.now();
        sim.endpoint_mut(a)
            .pc
            .send_data(now, dc, Bytes::from(format!("r{i}")), false)
            .unwrap();
        if i == 10 {
            negotiate(&mut sim, a, b);
        }
        sim.run_for(Duration::from_millis(50));
    }
    run_until(&mut sim, a, b, Duration::from_secs(20), |s| {
        s.endpoint(b).messages().len() == base + 30
    });
    let got: Vec<_> = sim.endpoint(b).messages()[base..].to_vec();
    let want: Vec<_> = (0..30).map(|i| format!("r{i}").into_bytes()).collect();
    assert_eq!(got, want);
    assert_ne!(
        sim.endpoint(a)
            .pc
            .negotiator()
            .local_ice_credentials()
            .ufrag,
        ufrag
    );
    assert_eq!(
        sim.endpoint(a).pc.transport().local_credentials().ufrag,
        sim.endpoint(a)
            .pc
            .negotiator()
            .local_ice_credentials()
            .ufrag
    );
    assert_eq!(
        sim.endpoint(a).pc.connection_state(),
        ConnectionState::Connected
    );
}

/// A connected pair over `link` where A sends video and B takes it as frames: A's video
/// transceiver and B's.
fn video_pair(
    seed: u64,
    link: LinkConfig,
) -> (
    Sim,
    Handle<Node>,
    Handle<Node>,
    TransceiverId,
    TransceiverId,
) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let a = node(&mut sim, seed * 2, "192.0.2.1:5000".parse().unwrap());
    let b = node(&mut sim, seed * 2 + 1, "198.51.100.2:6000".parse().unwrap());
    let video = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).connected() && s.endpoint(b).connected()
    });
    let b_video = sim.endpoint(b).tracks()[0];
    sim.endpoint_mut(b).pc.set_receive_frames(b_video, true);
    (sim, a, b, video, b_video)
}

#[test]
fn encoded_frames_in_and_out_through_loss() {
    let link = LinkConfig::ideal()
        .latency(Duration::from_millis(30))
        .loss(0.05);
    let (mut sim, a, b, video, _) = video_pair(14, link);
    // 60 VP8-like frames of 3000 bytes (three packets each); the first octet's low bit
    // clear marks a key frame (RFC 6386 §9.1), every 30th.
    let frame = |i: u32| -> Vec<u8> {
        let mut f = vec![(i % 251) as u8; 3000];
        f[0] = if i % 30 == 0 { 0x10 } else { 0x11 };
        f
    };
    for i in 0..60u32 {
        let now = sim.now();
        sim.endpoint_mut(a)
            .pc
            .write_frame(now, video, &frame(i), i * 3000)
            .unwrap();
        sim.run_for(Duration::from_millis(33));
    }
    sim.run_for(Duration::from_secs(2));
    let frames: Vec<(u32, Bytes, bool)> = sim
        .endpoint(b)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Frame { frame, .. } => {
                Some((frame.rtp_timestamp, frame.data.clone(), frame.keyframe))
            }
            _ => None,
        })
        .collect();
    // NACK and RTX repair the losses: every frame comes out, whole, in order.
    assert_eq!(frames.len(), 60, "{} frames", frames.len());
    for (i, (ts, data, key)) in frames.iter().enumerate() {
        assert_eq!(*ts, i as u32 * 3000);
        assert_eq!(&data[..], &frame(i as u32)[..]);
        assert_eq!(*key, i % 30 == 0);
    }
    assert!(sim.endpoint(a).pc.rtp_stats().retransmitted > 0);
}

/// A key frame request names the media stream, never its RTX stream: a sender (libwebrtc
/// among them) ignores a PLI for its RTX SSRC. Once RTX repairs have arrived, the receiver
/// knows both SSRCs; which one a hash map gave first used to decide where the PLI went, so
/// several fresh receivers (each map ordered its own way) are tried.
#[test]
fn key_frame_requests_reach_the_sender_after_rtx_repairs() {
    for seed in 40..48u64 {
        let link = LinkConfig::ideal()
            .latency(Duration::from_millis(20))
            .loss(0.1);
        let (mut sim, a, b, video, b_video) = video_pair(seed, link);
        for i in 0..40u32 {
            let now = sim.now();
            let mut f = vec![(i % 251) as u8; 3000];
            f[0] = if i == 0 { 0x10 } else { 0x11 };
            sim.endpoint_mut(a)
                .pc
                .write_frame(now, video, &f, i * 3000)
                .unwrap();
            sim.run_for(Duration::from_millis(33));
        }
        sim.run_for(Duration::from_secs(1));
        assert!(
            sim.endpoint(a).pc.rtp_stats().retransmitted > 0,
            "seed {seed}: no RTX repair happened"
        );
        let requests = |n: &Node| {
            n.events
                .iter()
                .filter(|e| matches!(e, Event::KeyframeRequest { transceiver } if *transceiver == video))
                .count()
        };
        let before = requests(sim.endpoint(a));
        // A lossless link for the requests themselves.
        sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(20)));
        for _ in 0..3 {
            sim.endpoint_mut(b).pc.request_keyframe(b_video).unwrap();
            sim.run_for(Duration::from_millis(100));
        }
        // The receiver's jitter buffer may have asked as well: at least ours arrived.
        let seen = requests(sim.endpoint(a)) - before;
        assert!(
            seen >= 3,
            "seed {seed}: the sender saw {seen} of 3 key frame requests"
        );
    }
}

#[test]
fn remb_from_the_peer_is_surfaced_for_the_sender() {
    let (mut sim, a, b, _) = connected_pair(15);
    // B tells A its estimate: a receiver report then REMB (PSFB FMT 15) in one compound.
    let mut rtcp = vec![0x80, 201, 0, 1, 0, 0, 0, 9];
    ferrtc_rtp_codecs::rtcp::RtcpPacket::Remb(ferrtc_rtp_codecs::rtcp::Remb::new(
        ferrtc_types::Ssrc(9),
        1_500_000,
        &[ferrtc_types::Ssrc(1234)],
    ))
    .emit_vec(&mut rtcp)
    .unwrap();
    sim.endpoint_mut(b).pc.write_rtcp(&rtcp).unwrap();
    run_until(&mut sim, a, b, Duration::from_secs(5), |s| {
        s.endpoint(a)
            .events
            .iter()
            .any(|e| matches!(e, Event::Remb { .. }))
    });
    let bitrate = sim
        .endpoint(a)
        .events
        .iter()
        .find_map(|e| match e {
            Event::Remb { bitrate } => Some(*bitrate),
            _ => None,
        })
        .unwrap();
    // REMB's mantissa and exponent round the value down a little at most.
    assert!((1_490_000..=1_500_000).contains(&bitrate), "{bitrate}");
}

#[test]
fn the_sender_chooses_its_codec_among_those_negotiated() {
    let mut sim = Sim::new(16);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(20)));
    let a = node(&mut sim, 32, "192.0.2.1:5000".parse().unwrap());
    let b = node(&mut sim, 33, "198.51.100.2:6000".parse().unwrap());
    let video = sim
        .endpoint_mut(a)
        .pc
        .add_transceiver(MediaKind::Video, TransceiverInit::default())
        .unwrap();
    // Before any negotiation there is nothing to choose from.
    assert_eq!(sim.endpoint(a).pc.send_codec(video), None);
    assert!(matches!(
        sim.endpoint_mut(a)
            .pc
            .set_send_codec(video, Some(CodecKind::Vp9)),
        Err(PeerError::CodecNotNegotiated { .. })
    ));
    negotiate(&mut sim, a, b);
    run_until(&mut sim, a, b, Duration::from_secs(30), |s| {
        s.endpoint(a).connected() && s.endpoint(b).connected()
    });
    let b_video = sim.endpoint(b).tracks()[0];
    sim.endpoint_mut(b).pc.set_receive_frames(b_video, true);
    let pc = &mut sim.endpoint_mut(a).pc;
    // The peer's preference first (ferrtc's default order: VP8 first), every codec ferrtc
    // packetizes after it, and the first one is what frames go out with.
    let codecs: Vec<CodecKind> = pc.send_codecs(video).iter().map(|c| c.codec).collect();
    assert_eq!(codecs[0], CodecKind::Vp8, "{codecs:?}");
    assert!(codecs.contains(&CodecKind::Vp9), "{codecs:?}");
    assert_eq!(pc.send_codec(video).map(|c| c.codec), Some(CodecKind::Vp8));
    // A codec the negotiation does not hold is refused, typed, and changes nothing.
    assert_eq!(
        pc.set_send_codec(video, Some(CodecKind::Opus)),
        Err(PeerError::CodecNotNegotiated {
            transceiver: video,
            codec: CodecKind::Opus
        })
    );
    assert_eq!(pc.send_codec(video).map(|c| c.codec), Some(CodecKind::Vp8));
    pc.set_send_codec(video, Some(CodecKind::Vp9)).unwrap();
    let vp9 = pc.send_codec(video).unwrap();
    assert_eq!(vp9.codec, CodecKind::Vp9);
    assert_eq!(vp9.clock_rate, 90_000);

    // Frames: 5 VP8 ones, then 5 VP9 ones after the switch back and forth; the receiver
    // sees each with its codec, in order, on one stream whose sequence numbers go on.
    let vp8_frame = |i: u32| -> Vec<u8> { vec![if i == 0 { 0x10 } else { 0x11 }; 1500] };
    let vp9_frame = |_: u32| -> Vec<u8> { vec![0x82; 1500] };
    let mut sent = Vec::new();
    for (codec, i) in [
        (None, 0),
        (None, 1),
        (Some(CodecKind::Vp9), 2),
        (Some(CodecKind::Vp9), 3),
    ] {
        let now = sim.now();
        let pc = &mut sim.endpoint_mut(a).pc;
        pc.set_send_codec(video, codec).unwrap();
        let data = if codec.is_some() {
            vp9_frame(i)
        } else {
            vp8_frame(i)
        };
        pc.write_frame(now, video, &data, i * 3000).unwrap();
        sent.push((codec.unwrap_or(CodecKind::Vp8), i * 3000));
        sim.run_for(Duration::from_millis(33));
    }
    sim.run_for(Duration::from_secs(1));
    let got: Vec<(CodecKind, u32)> = sim
        .endpoint(b)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Frame { frame, .. } => Some((frame.codec, frame.rtp_timestamp)),
            _ => None,
        })
        .collect();
    assert_eq!(got, sent);
    // One stream whose sequence numbers went on through the switch: the receiver counted
    // every packet A sent on it (a jump would have been taken for a restart and its
    // packets held on probation, RFC 3550 A.1), and no frame packet was given up.
    let now = sim.now();
    let ssrc = sim
        .endpoint(a)
        .pc
        .negotiator()
        .transceiver(video)
        .and_then(|t| t.ssrc())
        .unwrap();
    let sent_packets = sim
        .endpoint(a)
        .pc
        .stats(now)
        .get(&format!("OT{ssrc}"))
        .and_then(|o| o.get_u64("packetsSent"))
        .unwrap();
    assert_eq!(sent_packets, 8, "two packets a frame");
    let rb = sim.endpoint(b).pc.stats(now);
    let inbound = rb.get(&format!("IT{ssrc}")).unwrap();
    assert_eq!(inbound.get_u64("packetsReceived"), Some(sent_packets));
    assert_eq!(sim.endpoint(b).pc.routing_stats().frame_packets_lost, 0);

    // The choice holds across a renegotiation that keeps VP9; `None` returns to the
    // peer's first choice.
    sim.endpoint_mut(a)
        .pc
        .set_send_codec(video, Some(CodecKind::Vp9))
        .unwrap();
    negotiate(&mut sim, a, b);
    let pc = &mut sim.endpoint_mut(a).pc;
    assert_eq!(pc.send_codec(video).map(|c| c.codec), Some(CodecKind::Vp9));
    pc.set_send_codec(video, None).unwrap();
    assert_eq!(pc.send_codec(video).map(|c| c.codec), Some(CodecKind::Vp8));
}
