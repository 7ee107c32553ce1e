//! User message interleaving (RFC 8260): I-DATA and I-FORWARD-TSN between two associations in
//! memory with virtual time. Negotiation (only when both sides announce it), interleaved
//! large and small messages, loss and reordering, partial reliability, stream reset, the
//! priority scheduler, and peers that send hostile I-DATA.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{ADDR_A, LinkParams, Pair, index_of, message};
use ferrtc_sctp_datachannel::wire::{
    ChunkRepr, CommonHeader, DATA_FLAG_BEGIN, DATA_FLAG_END, DATA_FLAG_UNORDERED, DataChunk,
    IDataChunk, List, Packet, StreamMid, chunk_type, finish_packet,
};
use ferrtc_sctp_datachannel::{
    CloseReason, Config, Error, Event, Message, PeerMisbehaved, Reliability, Scheduler,
    SendOptions, State,
};

const PPID: u32 = 53;

fn interleaving() -> Config {
    Config {
        interleaving: true,
        ..Config::default()
    }
}

fn messages(events: &[Event]) -> impl Iterator<Item = &Message> {
    events.iter().filter_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
}

/// The chunk types of one packet.
fn chunk_types(p: &[u8]) -> Vec<u8> {
    Packet::new_checked(p)
        .unwrap()
        .chunks()
        .map(|c| c.unwrap().kind)
        .collect()
}

#[test]
fn negotiated_only_when_both_sides_announce_it() {
    for (a, b, want) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let cfg = |on| Config {
            interleaving: on,
            ..Config::default()
        };
        let mut p = Pair::new(
            cfg(a),
            cfg(b),
            LinkParams::ideal(Duration::from_millis(5)),
            LinkParams::ideal(Duration::from_millis(5)),
            40,
        );
        p.a.connect(p.now, common::ADDR_B);
        p.wait_connected();
        assert_eq!((p.a.interleaving(), p.b.interleaving()), (want, want));
        // Each side knows what the other announced, whatever it announced itself.
        assert_eq!((p.a.peer_interleaving(), p.b.peer_interleaving()), (b, a));
        // The data chunks on the wire are the negotiated kind.
        p.a.send(p.now, 1, PPID, message(0, 3000), SendOptions::default())
            .unwrap();
        let t = p.a.poll_transmit(p.now).unwrap();
        let kinds = chunk_types(&t.contents);
        let want_kind = if want {
            chunk_type::I_DATA
        } else {
            chunk_type::DATA
        };
        assert!(kinds.contains(&want_kind), "{kinds:?}");
        p.b.handle_receive(p.now, ADDR_A, t.contents).unwrap();
        p.run_until(Duration::from_secs(10), |p| {
            messages(&p.b_events).any(|m| m.data == message(0, 3000))
        });
    }
}

/// Several streams of large and small messages over a lossy, reordering link, ordered and
/// unordered: every message arrives once, whole, and ordered streams keep their order.
#[test]
fn interleaved_streams_survive_loss_and_reordering() {
    let mut p = Pair::connected(
        interleaving(),
        LinkParams::lossy(Duration::from_millis(20), 0.05),
        41,
    );
    assert!(p.a.interleaving());
    let sizes = [200_000usize, 50, 9000, 1200];
    let counts = [6u32, 300, 40, 100];
    let mut sent = [0u32; 4];
    p.run_until(Duration::from_secs(3600), |p| {
        for s in 0..4 {
            while sent[s] < counts[s] {
                let opts = SendOptions {
                    unordered: s == 3,
                    ..SendOptions::default()
                };
                match p
                    .a
                    .send(p.now, s as u16, PPID, message(sent[s], sizes[s]), opts)
                {
                    Ok(()) => sent[s] += 1,
                    Err(Error::SendBufferFull) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        sent == counts && p.a.buffered_total() == 0 && p.b.receive_buffered() == 0
    });
    for s in 0..4 {
        let got: Vec<u32> = messages(&p.b_events)
            .filter(|m| m.stream == s as u16)
            .map(|m| {
                let i = index_of(&m.data);
                assert_eq!(
                    m.data,
                    message(i, sizes[s]),
                    "stream {s} message {i} corrupt"
                );
                i
            })
            .collect();
        assert_eq!(got.len(), counts[s] as usize, "stream {s}");
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "stream {s}: duplicates");
        if s != 3 {
            assert!(got.windows(2).all(|w| w[0] < w[1]), "stream {s} reordered");
        }
    }
    assert!(p.a.stats().retransmissions > 0);
    assert_eq!(p.a.state(), State::Established);
}

/// Partial reliability with I-FORWARD-TSN: messages given up are skipped by MID, ordered and
/// unordered, and a reliable stream beside them is intact.
#[test]
fn partial_reliability_with_i_forward_tsn() {
    for (reliability, unordered, seed) in [
        (Reliability::MaxRetransmits(0), false, 42),
        (Reliability::MaxRetransmits(1), true, 43),
        (
            Reliability::MaxLifetime(Duration::from_millis(50)),
            false,
            44,
        ),
    ] {
        let mut p = Pair::connected(
            interleaving(),
            LinkParams::lossy(Duration::from_millis(10), 0.2),
            seed,
        );
        let opts = SendOptions {
            unordered,
            reliability,
        };
        let count = 300u32;
        let (mut sent, mut sent_reliable) = (0u32, 0u32);
        let start = p.now;
        p.max_step = Some(Duration::from_millis(1));
        p.run_until(Duration::from_secs(600), |p| {
            while sent < count
                && p.now >= start + Duration::from_millis(4) * sent
                && p.a.send(p.now, 6, PPID, message(sent, 3000), opts).is_ok()
            {
                sent += 1;
                // A reliable 5000-byte message on stream 7 for every fourth.
                if sent % 4 == 0 {
                    p.a.send(
                        p.now,
                        7,
                        PPID,
                        message(sent_reliable, 5000),
                        SendOptions::default(),
                    )
                    .unwrap();
                    sent_reliable += 1;
                }
            }
            sent == count
                && p.a.buffered_total() == 0
                && messages(&p.b_events).filter(|m| m.stream == 7).count() == sent_reliable as usize
        });
        assert_eq!(p.a.state(), State::Established);
        assert_eq!(p.b.state(), State::Established);
        let mut idx = Vec::new();
        for m in messages(&p.b_events).filter(|m| m.stream == 6) {
            let i = index_of(&m.data);
            assert_eq!(m.data, message(i, 3000), "partial message delivered");
            idx.push(i);
        }
        let unique: HashSet<_> = idx.iter().collect();
        assert_eq!(unique.len(), idx.len(), "duplicate delivery");
        if !unordered {
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "ordered reordered");
        }
        let abandoned = p.a.stats().abandoned_messages;
        assert!(
            abandoned > 0,
            "{reliability:?}: nothing abandoned at 20% loss"
        );
        assert!(
            idx.len() < count as usize && !idx.is_empty(),
            "{}",
            idx.len()
        );
        let reliable: Vec<u32> = messages(&p.b_events)
            .filter(|m| m.stream == 7)
            .map(|m| {
                let i = index_of(&m.data);
                assert_eq!(m.data, message(i, 5000));
                i
            })
            .collect();
        assert_eq!(reliable, (0..sent_reliable).collect::<Vec<_>>());
        // Nothing is left held at the receiver: skipped messages' fragments are dropped once
        // the I-FORWARD-TSN arrives (the sender counts them released when it gives them up,
        // so the chunk may still be on its way, or lost and repeated).
        p.run_until(Duration::from_secs(60), |p| p.b.receive_buffered() == 0);
        assert_eq!(
            p.b.receive_buffered(),
            0,
            "{reliability:?} unordered {unordered}: {} delivered",
            idx.len()
        );
        eprintln!(
            "{reliability:?} unordered {unordered}: {} of {count} delivered, {abandoned} abandoned",
            idx.len()
        );
    }
}

#[test]
fn stream_reset_restarts_the_mids() {
    let mut p = Pair::connected(
        interleaving(),
        LinkParams::ideal(Duration::from_millis(5)),
        45,
    );
    for i in 0..5 {
        p.a.send(p.now, 3, PPID, message(i, 2500), SendOptions::default())
            .unwrap();
    }
    p.run_until(Duration::from_secs(10), |p| {
        messages(&p.b_events).filter(|m| m.stream == 3).count() == 5
    });
    p.a.reset_streams(&[3]).unwrap();
    p.run_until(Duration::from_secs(10), |p| {
        p.a_events
            .iter()
            .any(|e| matches!(e, Event::OutgoingStreamsReset(_)))
    });
    // MID 0 again on stream 3: delivered, not taken for an old message.
    for i in 5..8 {
        p.a.send(p.now, 3, PPID, message(i, 2500), SendOptions::default())
            .unwrap();
    }
    p.run_until(Duration::from_secs(10), |p| {
        messages(&p.b_events).filter(|m| m.stream == 3).count() == 8
    });
    let got: Vec<u32> = messages(&p.b_events)
        .filter(|m| m.stream == 3)
        .map(|m| index_of(&m.data))
        .collect();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

/// With the priority scheduler, a higher-priority stream's messages all go before a lower
/// one's queued first (a large one among them); round robin alternates them (checked).
#[test]
fn priority_scheduler_sends_the_higher_priority_first() {
    let cfg = Config {
        interleaving: true,
        scheduler: Scheduler::Priority,
        ..Config::default()
    };
    let mut p = Pair::connected(cfg, LinkParams::ideal(Duration::from_millis(20)), 46);
    p.a.set_stream_priority(1, 128);
    p.a.set_stream_priority(2, 1024);
    // Stream 1's messages are queued first (small ones, then a large one): round robin
    // would alternate the streams; priority sends all of stream 2 first.
    for i in 0..19 {
        p.a.send(p.now, 1, PPID, message(i, 1000), SendOptions::default())
            .unwrap();
    }
    p.a.send(p.now, 1, PPID, message(19, 200_000), SendOptions::default())
        .unwrap();
    for i in 0..20 {
        p.a.send(p.now, 2, PPID, message(i, 1000), SendOptions::default())
            .unwrap();
    }
    p.run_until(Duration::from_secs(60), |p| {
        messages(&p.b_events).count() == 40
    });
    let order: Vec<u16> = messages(&p.b_events).map(|m| m.stream).collect();
    assert_eq!(order[..20], [2u16; 20], "{order:?}");
    assert!(order[20..].iter().all(|&s| s == 1), "{order:?}");
}

/// A message as large as the peer's whole window holds back other streams' messages that
/// would need reassembly (started messages must all fit the window), but not one that fits
/// a single chunk: it is whole on arrival. Before this, a channel's pings waited for the
/// whole of another channel's message (seen between two ferrtc peers: 45 ms one way behind
/// 8 MiB messages on loopback, interleaving or not, since the INIT announces the configured
/// 1 MiB buffer, not the window raised to the largest message).
#[test]
fn a_single_chunk_message_passes_a_message_as_large_as_the_window() {
    let cfg = Config {
        interleaving: true,
        max_message_size: 4 * 1024 * 1024,
        send_buffer: 8 * 1024 * 1024,
        ..Config::default()
    };
    let mut p = Pair::connected(cfg, LinkParams::ideal(Duration::from_millis(20)), 47);
    let big = message(0, 4 * 1024 * 1024);
    p.a.send(p.now, 1, PPID, big.clone(), SendOptions::default())
        .unwrap();
    let start = p.now;
    p.run_until(Duration::from_secs(60), |p| {
        p.now >= start + Duration::from_millis(100)
    });
    p.a.send(p.now, 2, PPID, message(1, 100), SendOptions::default())
        .unwrap();
    p.run_until(Duration::from_secs(600), |p| {
        messages(&p.b_events).count() == 2
    });
    let order: Vec<u16> = messages(&p.b_events).map(|m| m.stream).collect();
    assert_eq!(order, [2, 1], "the small message waited for the large one");
    // It went out beside the large one: one trip (20 ms) and a window's opening.
    assert!(p.elapsed() > Duration::from_millis(100));
    assert_eq!(messages(&p.b_events).nth(1).unwrap().data, big);
}

// ------------------------------------------------------------------------- hostile peers

fn packet(tag: u32, chunks: &[ChunkRepr<'_>]) -> Bytes {
    let mut buf = BytesMut::new();
    CommonHeader {
        src_port: 5000,
        dst_port: 5000,
        verification_tag: tag,
    }
    .emit(&mut buf);
    for c in chunks {
        c.emit(&mut buf);
    }
    finish_packet(&mut buf);
    buf.freeze()
}

/// b's verification tag and the next TSN b expects from a, from a packet a sends.
fn tag_and_next_tsn(p: &mut Pair) -> (u32, u32) {
    p.a.send(
        p.now,
        0,
        51,
        Bytes::from_static(b"z"),
        SendOptions::default(),
    )
    .unwrap();
    let pa = p.a.poll_transmit(p.now).unwrap().contents;
    let pkt = Packet::new_checked(&pa[..]).unwrap();
    let tag = pkt.verification_tag();
    let tsn = pkt
        .chunks()
        .find_map(|c| match ChunkRepr::parse(c.unwrap()).unwrap() {
            ChunkRepr::IData(d) => Some(d.tsn),
            _ => None,
        })
        .unwrap();
    p.b.handle_receive(p.now, ADDR_A, pa).unwrap();
    (tag, tsn.wrapping_add(1))
}

/// Fragments with huge FSNs, MIDs far ahead, never-ending messages on many streams, a
/// missing first TSN: what b holds stays within its window and fragment bound, and nothing
/// panics.
#[test]
fn hostile_i_data_is_bounded_by_the_window() {
    let cfg = Config {
        interleaving: true,
        receive_buffer: 128 * 1024,
        max_message_size: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::connected(cfg.clone(), LinkParams::ideal(Duration::from_millis(1)), 47);
    let (tag, base) = tag_and_next_tsn(&mut p);
    let mut max_held = 0;
    let tiny = [7u8; 4];
    let big = [9u8; 1000];
    for i in 1..20_000u32 {
        // Skip `base` so nothing becomes cumulative; spread TSNs, MIDs and FSNs.
        let tsn = base.wrapping_add(1 + i.wrapping_mul(7919) % 60_000);
        let data: &[u8] = if i % 3 == 0 { &big } else { &tiny };
        let chunk = IDataChunk {
            flags: match i % 5 {
                0 => DATA_FLAG_BEGIN,
                1 => DATA_FLAG_END,
                _ => 0,
            },
            tsn,
            stream: (i % 64) as u16,
            mid: i.wrapping_mul(2_654_435_761),
            fsn: i.wrapping_mul(40_503),
            ppid: 53,
            data,
        };
        let _ =
            p.b.handle_receive(p.now, ADDR_A, packet(tag, &[ChunkRepr::IData(chunk)]));
        max_held = max_held.max(p.b.receive_buffered());
        assert!(p.b.receive_buffered() <= cfg.receive_buffer);
    }
    assert_eq!(p.b.state(), State::Established);
    assert!(p.b.stats().dropped_chunks > 0);
    eprintln!("hostile I-DATA: at most {max_held} bytes held");

    // One message whose fragments never end, in sequence: cut off at the maximum size.
    let mut tsn = base;
    for fsn in 0..10_000u32 {
        let chunk = IDataChunk {
            flags: if fsn == 0 { DATA_FLAG_BEGIN } else { 0 },
            tsn,
            stream: 1,
            mid: 0,
            fsn,
            ppid: 53,
            data: &big,
        };
        tsn = tsn.wrapping_add(1);
        let _ =
            p.b.handle_receive(p.now, ADDR_A, packet(tag, &[ChunkRepr::IData(chunk)]));
        assert!(p.b.receive_buffered() <= cfg.receive_buffer);
        if p.b.state() == State::Closed {
            break;
        }
    }
    assert_eq!(p.b.state(), State::Closed, "endless message accepted");
}

/// DATA where I-DATA was negotiated ends the association (RFC 8260 section 2.2.3).
#[test]
fn data_chunk_on_an_i_data_association_is_a_violation() {
    let mut p = Pair::connected(
        interleaving(),
        LinkParams::ideal(Duration::from_millis(1)),
        48,
    );
    let (tag, tsn) = tag_and_next_tsn(&mut p);
    let chunk = ChunkRepr::Data(DataChunk {
        flags: DATA_FLAG_BEGIN | DATA_FLAG_END,
        tsn,
        stream: 0,
        ssn: 1,
        ppid: 53,
        data: b"old",
    });
    let _ = p.b.handle_receive(p.now, ADDR_A, packet(tag, &[chunk]));
    assert_eq!(p.b.state(), State::Closed);
    let mut closed = false;
    while let Some(e) = p.b.poll_event() {
        closed |= e
            == Event::Closed(CloseReason::ProtocolViolation(
                PeerMisbehaved::WrongDataChunkType,
            ));
    }
    assert!(closed);
}

/// After an I-FORWARD-TSN gives up unordered messages up to a MID, a late fragment of one of
/// them is discarded, not held forever (RFC 8260 section 2.3.1 applies the skipped MID to
/// unordered messages too); one of a later message is still taken.
#[test]
fn a_late_fragment_of_a_skipped_unordered_message_is_not_held() {
    let mut p = Pair::connected(
        interleaving(),
        LinkParams::ideal(Duration::from_millis(1)),
        49,
    );
    let (tag, tsn) = tag_and_next_tsn(&mut p);
    // Read what arrived so far, so the receive buffer holds only what follows.
    while p.b.poll_event().is_some() {}
    let frag = |tsn: u32, mid: u32, fsn: u32| {
        ChunkRepr::IData(IDataChunk {
            flags: DATA_FLAG_UNORDERED | if fsn == 0 { DATA_FLAG_BEGIN } else { 0 },
            tsn,
            stream: 2,
            mid,
            fsn,
            ppid: 53,
            data: &[5u8; 500],
        })
    };
    // The first fragment of unordered message 3 arrives, then the sender gives it up.
    p.b.handle_receive(p.now, ADDR_A, packet(tag, &[frag(tsn, 3, 0)]))
        .unwrap();
    assert_eq!(p.b.receive_buffered(), 500);
    let skip = [StreamMid {
        stream: 2,
        unordered: true,
        mid: 3,
    }];
    let fwd = ChunkRepr::IForwardTsn {
        new_cum_tsn: tsn.wrapping_add(1),
        streams: List::Items(&skip),
    };
    p.b.handle_receive(p.now, ADDR_A, packet(tag, &[fwd]))
        .unwrap();
    assert_eq!(
        p.b.receive_buffered(),
        0,
        "the skipped message's fragment is dropped"
    );
    // A fragment of it that was still in flight arrives late, above the new cumulative TSN.
    p.b.handle_receive(
        p.now,
        ADDR_A,
        packet(tag, &[frag(tsn.wrapping_add(2), 3, 1)]),
    )
    .unwrap();
    assert_eq!(
        p.b.receive_buffered(),
        0,
        "a late fragment of a skipped message was held"
    );
    // The next unordered message is taken as usual.
    p.b.handle_receive(
        p.now,
        ADDR_A,
        packet(tag, &[frag(tsn.wrapping_add(3), 4, 0)]),
    )
    .unwrap();
    assert_eq!(p.b.receive_buffered(), 500);
    assert_eq!(p.b.state(), State::Established);
}

/// A message given up halfway (only its first fragments had TSNs, and all of them arrived) is
/// still skipped at the receiver: the I-FORWARD-TSN moves past an abandoned placeholder, so
/// the partial message is dropped and the stream's next message is delivered.
#[test]
fn a_message_given_up_halfway_is_skipped_even_when_all_it_sent_arrived() {
    let mut p = Pair::connected(
        interleaving(),
        LinkParams::ideal(Duration::from_millis(1)),
        50,
    );
    let opts = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    p.a.send(p.now, 6, PPID, message(0, 200_000), opts).unwrap();
    // What the window lets out reaches b; b's SACKs are held back.
    let mut sent = 0;
    while let Some(t) = p.a.poll_transmit(p.now) {
        p.b.handle_receive(p.now, ADDR_A, t.contents).unwrap();
        sent += 1;
    }
    let sacks: Vec<Bytes> = std::iter::from_fn(|| p.b.poll_transmit(p.now))
        .map(|t| t.contents)
        .collect();
    let held = p.b.receive_buffered();
    assert!(
        sent > 0 && held > 0 && held < 200_000,
        "{sent} packets, {held} held"
    );
    // T3 fires: the fragments count as lost and, allowed no retransmission, the message is
    // given up; the rest of it never gets a TSN.
    p.now += Duration::from_secs(5);
    p.a.handle_timeout(p.now);
    assert_eq!(p.a.stats().abandoned_messages, 1);
    // Then b's SACKs arrive: every fragment a sent is acknowledged cumulatively, before a
    // has said anything about the message.
    for sack in sacks {
        p.a.handle_receive(p.now, common::ADDR_B, sack).unwrap();
    }
    p.run_until(Duration::from_secs(30), |p| p.b.receive_buffered() == 0);
    assert_eq!(
        p.b.receive_buffered(),
        0,
        "the partial message is still held"
    );
    p.a.send(p.now, 6, PPID, message(1, 3000), SendOptions::default())
        .unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        messages(&p.b_events).any(|m| m.stream == 6)
    });
    let got: Vec<u32> = messages(&p.b_events)
        .filter(|m| m.stream == 6)
        .map(|m| index_of(&m.data))
        .collect();
    assert_eq!(got, [1]);
}
