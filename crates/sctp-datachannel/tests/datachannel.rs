//! Data channels end to end over two in-memory associations: DCEP open, labels and protocols,
//! even/odd ids, text/binary/empty messages, unordered and partially reliable channels,
//! pre-negotiated channels, buffered amount with its low-threshold event, closing by stream
//! reset and reusing the id.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{LinkParams, Pair, message};
use ferrtc_sctp_datachannel::{
    ChannelOptions, Config, DataChannelEvent, DataChannels, Error, Reliability, Scheduler,
};

fn pair(seed: u64) -> Pair<DataChannels> {
    Pair::channels(
        Config::default(),
        LinkParams::lossy(Duration::from_millis(5), 0.02),
        seed,
    )
}

fn msgs(events: &[DataChannelEvent], id: u16) -> Vec<(bool, Bytes)> {
    events
        .iter()
        .filter_map(|e| match e {
            DataChannelEvent::Message { id: i, text, data } if *i == id => {
                Some((*text, data.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn open_with_label_and_exchange_messages() {
    let mut p = pair(1);
    let mut opts = ChannelOptions::new("chat");
    opts.protocol = "json".into();
    let id = p.a.open_channel(p.now, opts).unwrap();
    assert_eq!(id % 2, 0, "DTLS client uses even ids");
    assert!(
        p.a_events.is_empty()
            || p.a_events
                .iter()
                .all(|e| matches!(e, DataChannelEvent::ChannelOpen { .. }))
    );
    p.a.send_text(p.now, id, "hello").unwrap();
    p.a.send(p.now, id, Bytes::from_static(&[1, 2, 3]), false)
        .unwrap();
    p.a.send(p.now, id, Bytes::new(), true).unwrap();
    p.a.send(p.now, id, Bytes::new(), false).unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        msgs(&p.b_events, id).len() == 4
    });
    assert!(
        p.b_events
            .contains(&DataChannelEvent::ChannelOpen { id, remote: true })
    );
    let info = p.b.channel(id).unwrap();
    assert_eq!(info.label, "chat");
    assert_eq!(info.protocol, "json");
    assert!(info.ordered);
    assert_eq!(
        msgs(&p.b_events, id),
        vec![
            (true, Bytes::from_static(b"hello")),
            (false, Bytes::from_static(&[1, 2, 3])),
            (true, Bytes::new()),
            (false, Bytes::new()),
        ]
    );
    // The server answers on the same channel and opens its own with an odd id.
    p.b.send_text(p.now, id, "back").unwrap();
    let odd = p.b.open_channel(p.now, ChannelOptions::new("srv")).unwrap();
    assert_eq!(odd % 2, 1);
    p.b.send_text(p.now, odd, "x").unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        !msgs(&p.a_events, id).is_empty() && !msgs(&p.a_events, odd).is_empty()
    });
    assert_eq!(
        msgs(&p.a_events, id),
        vec![(true, Bytes::from_static(b"back"))]
    );
    assert_eq!(p.a.channel(odd).unwrap().label, "srv");
}

#[test]
fn channel_options_travel_in_dcep() {
    let mut p = pair(2);
    let mut o = ChannelOptions::new("lossy");
    o.ordered = false;
    o.reliability = Reliability::MaxRetransmits(2);
    o.priority = 512;
    let a = p.a.open_channel(p.now, o).unwrap();
    let mut o = ChannelOptions::new("timed");
    o.reliability = Reliability::MaxLifetime(Duration::from_millis(150));
    let b = p.a.open_channel(p.now, o).unwrap();
    assert_ne!(a, b);
    p.run_until(Duration::from_secs(30), |p| {
        p.b.channel(a).is_some() && p.b.channel(b).is_some()
    });
    let ia = p.b.channel(a).unwrap();
    assert!(!ia.ordered);
    assert_eq!(ia.reliability, Reliability::MaxRetransmits(2));
    assert_eq!(ia.priority, 512);
    let ib = p.b.channel(b).unwrap();
    assert!(ib.ordered);
    assert_eq!(
        ib.reliability,
        Reliability::MaxLifetime(Duration::from_millis(150))
    );
}

#[test]
fn pre_negotiated_channel_needs_no_dcep() {
    let mut p = pair(3);
    let mut o = ChannelOptions::new("pre");
    o.negotiated = Some(7);
    let id = p.a.open_channel(p.now, o.clone()).unwrap();
    assert_eq!(id, 7);
    assert_eq!(p.b.open_channel(p.now, o).unwrap(), 7);
    p.a.send_text(p.now, 7, "neg").unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        !msgs(&p.b_events, 7).is_empty()
    });
    assert_eq!(
        msgs(&p.b_events, 7),
        vec![(true, Bytes::from_static(b"neg"))]
    );
    assert!(
        !p.b_events
            .iter()
            .any(|e| matches!(e, DataChannelEvent::ChannelOpen { remote: true, .. }))
    );
    // Taking the same id twice is refused.
    let mut o = ChannelOptions::new("dup");
    o.negotiated = Some(7);
    assert_eq!(p.a.open_channel(p.now, o), Err(Error::InvalidStream(7)));
}

#[test]
fn channels_opened_before_connect_open_after() {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
    let now = std::time::Instant::now();
    let mut a = DataChannels::new(
        Config::default(),
        ferrtc_sctp_datachannel::DtlsRole::Client,
        now,
        &mut rng,
    );
    let mut b = DataChannels::new(
        Config::default(),
        ferrtc_sctp_datachannel::DtlsRole::Server,
        now,
        &mut rng,
    );
    let id = a.open_channel(now, ChannelOptions::new("early")).unwrap();
    a.send_text(now, id, "queued").unwrap();
    a.connect(now, common::ADDR_B);
    let mut ev_a = Vec::new();
    let mut ev_b = Vec::new();
    for _ in 0..20 {
        while let Some(x) = a.poll_transmit(now) {
            let _ = b.handle_receive(now, common::ADDR_A, x.contents);
        }
        while let Some(x) = b.poll_transmit(now) {
            let _ = a.handle_receive(now, common::ADDR_B, x.contents);
        }
        ev_a.extend(std::iter::from_fn(|| a.poll_event()));
        ev_b.extend(std::iter::from_fn(|| b.poll_event()));
    }
    assert!(ev_a.contains(&DataChannelEvent::ChannelOpen { id, remote: false }));
    assert_eq!(msgs(&ev_b, id), vec![(true, Bytes::from_static(b"queued"))]);
}

#[test]
fn buffered_amount_and_low_threshold() {
    let mut p = pair(5);
    let id =
        p.a.open_channel(p.now, ChannelOptions::new("bulk"))
            .unwrap();
    // The DATA_CHANNEL_OPEN does not count as buffered application data.
    assert_eq!(p.a.buffered_amount(id), 0);
    p.a.set_buffered_amount_low_threshold(id, 100_000);
    for i in 0..20 {
        p.a.send(p.now, id, message(i, 50_000), false).unwrap();
    }
    assert_eq!(p.a.buffered_amount(id), 20 * 50_000);
    assert!(
        !p.a_events
            .contains(&DataChannelEvent::BufferedAmountLow { id })
    );
    p.run_until(Duration::from_secs(60), |p| {
        p.a_events
            .contains(&DataChannelEvent::BufferedAmountLow { id })
    });
    assert!(
        p.a.buffered_amount(id) <= 100_000,
        "{} {:?} {:?}",
        p.a.buffered_amount(id),
        p.elapsed(),
        p.a_events
    );
    p.run_until(Duration::from_secs(60), |p| {
        msgs(&p.b_events, id).len() == 20 && p.a.buffered_amount(id) == 0
    });
    assert_eq!(p.a.buffered_amount(id), 0);
    for (i, (_, d)) in msgs(&p.b_events, id).iter().enumerate() {
        assert_eq!(*d, message(i as u32, 50_000));
    }
}

#[test]
fn close_by_stream_reset_and_reuse_id() {
    let mut p = pair(6);
    let id = p.a.open_channel(p.now, ChannelOptions::new("one")).unwrap();
    for i in 0..10 {
        p.a.send(p.now, id, message(i, 2000), false).unwrap();
    }
    p.a.close_channel(id).unwrap();
    assert!(p.a.send_text(p.now, id, "late").is_err());
    p.run_until(Duration::from_secs(60), |p| {
        p.a_events.contains(&DataChannelEvent::ChannelClosed { id })
            && p.b_events.contains(&DataChannelEvent::ChannelClosed { id })
    });
    assert!(p.a_events.contains(&DataChannelEvent::ChannelClosed { id }));
    assert!(p.b_events.contains(&DataChannelEvent::ChannelClosed { id }));
    // Everything sent before the close arrived.
    assert_eq!(msgs(&p.b_events, id).len(), 10);
    assert!(p.a.channel(id).is_none() && p.b.channel(id).is_none());
    // The id is free again and a new channel takes it.
    p.b_events.clear();
    let again = p.a.open_channel(p.now, ChannelOptions::new("two")).unwrap();
    assert_eq!(again, id);
    p.a.send_text(p.now, again, "new").unwrap();
    p.run_until(Duration::from_secs(60), |p| {
        !msgs(&p.b_events, again).is_empty()
    });
    assert_eq!(p.b.channel(again).unwrap().label, "two");
    assert_eq!(
        msgs(&p.b_events, again),
        vec![(true, Bytes::from_static(b"new"))]
    );
}

#[test]
fn peer_close_is_mirrored() {
    let mut p = pair(7);
    let id = p.a.open_channel(p.now, ChannelOptions::new("c")).unwrap();
    p.run_until(Duration::from_secs(30), |p| p.b.channel(id).is_some());
    p.b.close_channel(id).unwrap();
    p.run_until(Duration::from_secs(60), |p| {
        p.a_events.contains(&DataChannelEvent::ChannelClosed { id })
            && p.b_events.contains(&DataChannelEvent::ChannelClosed { id })
    });
    assert!(p.a.channel(id).is_none());
    assert!(p.b.channel(id).is_none());
}

#[test]
fn many_channels_at_once() {
    let mut p = pair(8);
    let ids: Vec<u16> = (0..16)
        .map(|i| {
            p.a.open_channel(p.now, ChannelOptions::new(&format!("c{i}")))
                .unwrap()
        })
        .collect();
    for (k, &id) in ids.iter().enumerate() {
        for i in 0..10 {
            p.a.send(p.now, id, message(i + 100 * k as u32, 1500), false)
                .unwrap();
        }
    }
    p.run_until(Duration::from_secs(60), |p| {
        ids.iter().all(|&id| msgs(&p.b_events, id).len() == 10)
    });
    for (k, &id) in ids.iter().enumerate() {
        let got = msgs(&p.b_events, id);
        assert_eq!(got.len(), 10);
        for (i, (_, d)) in got.iter().enumerate() {
            assert_eq!(*d, message(i as u32 + 100 * k as u32, 1500));
        }
        assert_eq!(p.b.channel(id).unwrap().label, format!("c{k}"));
    }
}

/// A channel's priority (RFC 8832 section 5.1, carried in DATA_CHANNEL_OPEN) drives the
/// association's priority scheduler: a high-priority channel's messages all go ahead of a
/// low-priority channel's queued before them (a large one among them, with I-DATA).
#[test]
fn channel_priority_drives_the_scheduler() {
    let cfg = Config {
        interleaving: true,
        scheduler: Scheduler::Priority,
        ..Config::default()
    };
    let mut p = Pair::channels(cfg, LinkParams::ideal(Duration::from_millis(20)), 60);
    assert!(p.a.association().interleaving());
    let low =
        p.a.open_channel(
            p.now,
            ChannelOptions {
                priority: 128,
                ..ChannelOptions::new("low")
            },
        )
        .unwrap();
    let high =
        p.a.open_channel(
            p.now,
            ChannelOptions {
                priority: 1024,
                ..ChannelOptions::new("high")
            },
        )
        .unwrap();
    // Both channels are open at b (DCEP done) before the race starts.
    p.run_until(Duration::from_secs(10), |p| {
        [low, high].iter().all(|&id| {
            p.b_events
                .contains(&DataChannelEvent::ChannelOpen { id, remote: true })
        }) && p.a.association().buffered_total() == 0
    });
    // The low channel's messages are queued first; round robin would alternate them.
    p.a.send(p.now, low, message(0, 20_000), false).unwrap();
    for i in 1..20 {
        p.a.send(p.now, low, message(i, 1000), false).unwrap();
    }
    for i in 0..20 {
        p.a.send(p.now, high, message(i, 1000), false).unwrap();
    }
    p.run_until(Duration::from_secs(60), |p| {
        msgs(&p.b_events, low).len() == 20 && msgs(&p.b_events, high).len() == 20
    });
    let order: Vec<u16> = p
        .b_events
        .iter()
        .filter_map(|e| match e {
            DataChannelEvent::Message { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(order.len(), 40);
    assert!(order[..20].iter().all(|&id| id == high), "{order:?}");
}
