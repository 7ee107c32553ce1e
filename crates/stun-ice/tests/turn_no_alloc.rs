//! The TURN client's relayed data path allocates nothing: once a channel is bound (and with a
//! permission, for Send/Data indications), wrapping outgoing data with
//! [`Client::encode_to`] into a reused buffer, or with [`Client::send_to`] into `Bytes` lent
//! from the client's own buffer, and unwrapping incoming data with [`Client::handle_receive`]
//! make no heap allocation, counted by a global allocator.

mod turn_support;

use ferrtc_test_alloc::allocations;
use std::net::SocketAddr;
use std::time::Instant;

use ferrtc_netsim::Endpoint;
use ferrtc_stun_ice::turn::{Client, ClientConfig, Event, TurnTransport};
use rand::SeedableRng;
use turn_support::TestServer;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

const CLIENT: &str = "192.0.2.10:5000";
const SERVER: &str = "192.0.2.1:3478";
const PEER: &str = "198.51.100.7:9000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Passes everything between the client and the server until both are quiet; returns the
/// client's events. Nothing may go to a peer meanwhile.
fn exchange(client: &mut Client, server: &mut TestServer, now: Instant) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let mut quiet = true;
        while let Some(t) = client.poll_transmit() {
            quiet = false;
            server.receive(now, addr(CLIENT), t.destination, &t.contents);
        }
        while let Some(d) = server.poll_transmit(now) {
            quiet = false;
            if d.to == addr(CLIENT) {
                client.handle_receive(now, d.from, &d.data).unwrap();
            } else {
                panic!("unexpected datagram to a peer: {d:?}");
            }
        }
        events.extend(std::iter::from_fn(|| client.poll_event()));
        if quiet {
            return events;
        }
    }
}

#[test]
fn relayed_data_path_allocates_nothing() {
    let now = Instant::now();
    let mut server = TestServer::new(addr(SERVER), "192.0.2.2".parse().unwrap(), "u", "p");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut client = Client::new(
        ClientConfig::new(addr(SERVER), TurnTransport::Udp, "u", "p"),
        &mut rng,
    );
    let peer = addr(PEER);
    client.allocate(now).unwrap();
    exchange(&mut client, &mut server, now);
    let relayed = client.relayed_address().expect("allocated");
    client.create_permission(now, peer.ip()).unwrap();
    let events = exchange(&mut client, &mut server, now);
    assert_eq!(events, [Event::PermissionCreated(peer.ip())]);

    let payload = [0xABu8; 1200];
    let mut out = Vec::with_capacity(2048);

    // Send indications out, Data indications in.
    server.receive(now, peer, relayed, &payload);
    let data_indication = server.poll_transmit(now).unwrap().data;
    let before = allocations();
    for _ in 0..1000 {
        out.clear();
        client.encode_to(peer, &payload, &mut out).unwrap();
        let got = client
            .handle_receive(now, addr(SERVER), &data_indication)
            .unwrap();
        assert_eq!(got, Some((peer, &payload[..])));
    }
    assert_eq!(allocations() - before, 0, "Send/Data indication path");
    // What was encoded is what the server relays.
    server.receive(now, addr(CLIENT), addr(SERVER), &out);
    let relayed_out = server.poll_transmit(now).unwrap();
    assert_eq!(
        (relayed_out.from, relayed_out.to, &relayed_out.data[..]),
        (relayed, peer, &payload[..])
    );

    // ChannelData both ways.
    client.bind_channel(now, peer).unwrap();
    exchange(&mut client, &mut server, now);
    assert!(client.channel(peer).is_some());
    server.receive(now, peer, relayed, &payload);
    let channel_data = server.poll_transmit(now).unwrap().data;
    assert_eq!(channel_data.len(), 4 + payload.len());
    let before = allocations();
    for _ in 0..1000 {
        out.clear();
        client.encode_to(peer, &payload, &mut out).unwrap();
        let got = client
            .handle_receive(now, addr(SERVER), &channel_data)
            .unwrap();
        assert_eq!(got, Some((peer, &payload[..])));
    }
    assert_eq!(allocations() - before, 0, "ChannelData path");

    // `send_to` lends each message as `Bytes` out of the client's buffer: once the driver
    // drops what it sent, the room is reused. (The first message sets the buffer up.)
    client.send_to(peer, &payload).unwrap();
    drop(client.poll_transmit());
    let before = allocations();
    for _ in 0..1000 {
        client.send_to(peer, &payload).unwrap();
        let t = client.poll_transmit().expect("the ChannelData message");
        assert_eq!(t.contents.len(), 4 + payload.len());
        assert_eq!(&t.contents[..4], &channel_data[..4]);
    }
    assert_eq!(allocations() - before, 0, "send_to path");
    assert_eq!(&out[..4], &channel_data[..4]);
    assert!(client.poll_event().is_none());
    assert!(client.poll_transmit().is_none());
}
