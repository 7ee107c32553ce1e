//! Two data-channel endpoints driven by arbitrary operations, including arbitrary DCEP and
//! data messages injected on any stream by the peer's association: no panic, and every
//! channel either endpoint lists is one it opened or accepted.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use ferrtc_sctp_datachannel::{
    ChannelOptions, Config, DataChannels, DtlsRole, Reliability, SendOptions,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

const A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
const B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2);

#[derive(Arbitrary, Debug)]
enum Op {
    Open {
        label: String,
        ordered: bool,
        rel: u8,
        negotiated: Option<u8>,
        on_b: bool,
    },
    Send {
        id: u8,
        data: Vec<u8>,
        text: bool,
        on_b: bool,
    },
    Close {
        id: u8,
        on_b: bool,
    },
    /// The peer's association sends raw bytes with any PPID on any stream.
    Inject {
        stream: u8,
        ppid: u8,
        data: Vec<u8>,
    },
    Wait(u16),
    Pump,
}

fn pump(a: &mut DataChannels, b: &mut DataChannels, now: Instant) {
    for _ in 0..50 {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now) {
            let _ = b.handle_receive(now, A, t.contents);
            moved = true;
        }
        while let Some(t) = b.poll_transmit(now) {
            let _ = a.handle_receive(now, B, t.contents);
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
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let mut now = Instant::now();
    let cfg = Config {
        max_message_size: 16 * 1024,
        receive_buffer: 64 * 1024,
        send_buffer: 64 * 1024,
        ..Config::default()
    };
    let mut a = DataChannels::new(cfg.clone(), DtlsRole::Client, now, &mut rng);
    let mut b = DataChannels::new(cfg, DtlsRole::Server, now, &mut rng);
    a.connect(now, B);
    b.connect(now, A);
    pump(&mut a, &mut b, now);
    for op in ops.into_iter().take(64) {
        match op {
            Op::Open {
                label,
                ordered,
                rel,
                negotiated,
                on_b,
            } => {
                let mut o = ChannelOptions::new(&label);
                o.ordered = ordered;
                o.reliability = match rel % 3 {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits(u32::from(rel)),
                    _ => Reliability::MaxLifetime(Duration::from_millis(u64::from(rel))),
                };
                o.negotiated = negotiated.map(u16::from);
                let ep = if on_b { &mut b } else { &mut a };
                let _ = ep.open_channel(now, o);
            }
            Op::Send {
                id,
                data,
                text,
                on_b,
            } => {
                let ep = if on_b { &mut b } else { &mut a };
                let _ = ep.send(now, u16::from(id), Bytes::from(data), text);
            }
            Op::Close { id, on_b } => {
                let ep = if on_b { &mut b } else { &mut a };
                let _ = ep.close_channel(u16::from(id));
            }
            Op::Inject { stream, ppid, data } => {
                let _ = b.association_mut().send(
                    now,
                    u16::from(stream),
                    u32::from(ppid),
                    Bytes::from(data),
                    SendOptions::default(),
                );
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
            Op::Pump => pump(&mut a, &mut b, now),
        }
        for id in a.channel_ids().collect::<Vec<_>>() {
            let info = a.channel(id).expect("listed channel exists");
            assert_eq!(info.id, id);
        }
    }
});
