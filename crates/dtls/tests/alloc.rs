//! The application data path allocates nothing per record once warm: `send` seals into
//! the endpoint's reused buffer, the transmit lends it out, `handle_receive` decrypts in
//! place in the driver's receive buffer. A counting global allocator (per thread, so the
//! harness cannot disturb it) proves it.

mod common;

use common::{CLIENT, Pair, SERVER, configs};
use ferrtc_dtls::ReceiveError;
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

#[test]
fn application_data_path_allocates_nothing() {
    let (mut c, mut s) = configs();
    // Room for both records below in one datagram.
    c.mtu = 1500;
    s.mtu = 1500;
    let mut p = Pair::new(c, s, 41);
    assert!(p.handshake());
    let now = p.now;
    let payload = vec![0x5a; 1200];
    let mut buf = Vec::with_capacity(2048);
    let mut received = 0usize;
    // Warm up, then count.
    for round in 0..2 {
        let before = allocations();
        for _ in 0..200 {
            p.client.send(&payload).unwrap();
            p.client.send(b"second record").unwrap();
            let t = p.client.poll_transmit().unwrap();
            assert!(p.client.poll_transmit().is_none(), "one datagram");
            assert_eq!(t.destination, SERVER);
            buf.clear();
            buf.extend_from_slice(&t.contents);
            drop(t);
            let ranges = p.server.handle_receive(now, CLIENT, &mut buf).unwrap();
            let mut it = ranges.iter();
            assert_eq!(&buf[it.next().unwrap()], &payload[..]);
            assert_eq!(&buf[it.next().unwrap()], b"second record");
            assert!(it.next().is_none());
            received += ranges.len();

            p.server.send(&payload).unwrap();
            let t = p.server.poll_transmit().unwrap();
            assert_eq!(t.destination, CLIENT);
            buf.clear();
            buf.extend_from_slice(&t.contents);
            drop(t);
            let ranges = p.client.handle_receive(now, SERVER, &mut buf).unwrap();
            assert_eq!(ranges.len(), 1);
            received += 1;
        }
        if round == 1 {
            assert_eq!(allocations() - before, 0, "allocations on the data path");
        }
    }
    assert_eq!(received, 1200);
    assert!(
        p.server.poll_event().is_none(),
        "in-place data is not also an event"
    );
    // A replayed datagram yields nothing the second time; a tampered one nothing at all.
    p.client.send(b"once").unwrap();
    buf.clear();
    buf.extend_from_slice(&p.client.poll_transmit().unwrap().contents);
    let copy = buf.clone();
    assert_eq!(
        p.server
            .handle_receive(now, CLIENT, &mut buf)
            .unwrap()
            .len(),
        1
    );
    let mut again = copy.clone();
    assert_eq!(
        p.server.handle_receive(now, CLIENT, &mut again),
        Err(ReceiveError::Replayed)
    );
    p.client.send(b"tampered").unwrap();
    buf.clear();
    buf.extend_from_slice(&p.client.poll_transmit().unwrap().contents);
    let last = buf.len() - 1;
    buf[last] ^= 1;
    assert_eq!(
        p.server.handle_receive(now, CLIENT, &mut buf),
        Err(ReceiveError::Unauthenticated)
    );
    assert!(p.server.is_connected());
}
