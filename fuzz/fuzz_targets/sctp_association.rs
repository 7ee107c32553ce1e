//! An established SCTP association driven by arbitrary packets and API calls: it must never
//! panic, and what it holds for the peer stays within its configured bounds.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use ferrtc_sctp_datachannel::wire::{CommonHeader, Packet, finish_packet};
use ferrtc_sctp_datachannel::{Association, Config, Reliability, SendOptions};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

const A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
const B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2);

#[derive(Arbitrary, Debug)]
enum Op {
    /// Chunks sent to `b` under a valid header and checksum.
    Chunks(Vec<u8>),
    /// A whole packet as is.
    Raw(Vec<u8>),
    /// `a` sends a message.
    Send {
        stream: u8,
        len: u16,
        unordered: bool,
        rel: u8,
    },
    /// `b` sends a message.
    SendBack {
        stream: u8,
        len: u16,
    },
    /// Reset a stream of `a`.
    Reset(u8),
    /// Advance virtual time.
    Wait(u16),
    /// Exchange packets between a and b (drop every `drop`-th).
    Pump(u8),
    Shutdown,
}

fn pump(a: &mut Association, b: &mut Association, now: Instant, drop: u8) {
    let mut n = 0u32;
    for _ in 0..50 {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now) {
            n += 1;
            if drop == 0 || n % u32::from(drop) != 0 {
                let _ = b.handle_receive(now, A, t.contents);
            }
            moved = true;
        }
        while let Some(t) = b.poll_transmit(now) {
            n += 1;
            if drop == 0 || n % u32::from(drop) != 0 {
                let _ = a.handle_receive(now, B, t.contents);
            }
            moved = true;
        }
        // The contract: transmits until `None`, then events.
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut now = Instant::now();
    let cfg = Config {
        receive_buffer: 64 * 1024,
        send_buffer: 64 * 1024,
        max_message_size: 16 * 1024,
        ..Config::default()
    };
    let mut a = Association::new(cfg.clone(), now, &mut rng);
    let mut b = Association::new(cfg.clone(), now, &mut rng);
    a.connect(now, B);
    pump(&mut a, &mut b, now, 0);
    assert!(a.is_established() && b.is_established());
    // b's verification tag, from a packet a sends it.
    a.send(now, 0, 51, Bytes::from_static(b"x"), SendOptions::default())
        .unwrap();
    let first = a.poll_transmit(now).unwrap().contents;
    let tag_b = Packet::new_checked(&first[..]).unwrap().verification_tag();
    let _ = b.handle_receive(now, A, first);

    for op in ops.into_iter().take(64) {
        match op {
            Op::Chunks(body) => {
                let mut buf = BytesMut::new();
                CommonHeader {
                    src_port: 5000,
                    dst_port: 5000,
                    verification_tag: tag_b,
                }
                .emit(&mut buf);
                buf.extend_from_slice(&body);
                finish_packet(&mut buf);
                let _ = b.handle_receive(now, A, buf.freeze());
            }
            Op::Raw(p) => {
                let _ = b.handle_receive(now, A, Bytes::from(p));
            }
            Op::Send {
                stream,
                len,
                unordered,
                rel,
            } => {
                let reliability = match rel % 3 {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits(u32::from(rel / 3)),
                    _ => Reliability::MaxLifetime(Duration::from_millis(u64::from(rel))),
                };
                let opts = SendOptions {
                    unordered,
                    reliability,
                };
                let data = Bytes::from(vec![0xab; usize::from(len)]);
                let _ = a.send(now, u16::from(stream), 53, data, opts);
            }
            Op::SendBack { stream, len } => {
                let data = Bytes::from(vec![0xcd; usize::from(len)]);
                let _ = b.send(now, u16::from(stream), 53, data, SendOptions::default());
            }
            Op::Reset(s) => {
                let _ = a.reset_streams(&[u16::from(s)]);
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
            Op::Pump(drop) => pump(&mut a, &mut b, now, drop),
            Op::Shutdown => a.shutdown(now),
        }
        assert!(b.receive_buffered() <= cfg.receive_buffer + cfg.max_message_size + 2048);
        assert!(a.buffered_total() <= cfg.send_buffer);
    }
});
