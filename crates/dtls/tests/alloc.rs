//! The application data path allocates nothing per record once warm:
//! `seal_application_data` into a reused buffer, `handle_receive_in_place` on it.
//! A counting global allocator (per thread, so the harness cannot disturb it) proves it.

mod common;

use common::{Pair, configs};
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

#[test]
fn application_data_path_allocates_nothing() {
    let (c, s) = configs();
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
            buf.clear();
            p.client.seal_application_data(&payload, &mut buf).unwrap();
            p.client
                .seal_application_data(b"second record", &mut buf)
                .unwrap();
            let ranges = p.server.handle_receive_in_place(now, &mut buf).unwrap();
            let mut it = ranges.iter();
            assert_eq!(&buf[it.next().unwrap()], &payload[..]);
            assert_eq!(&buf[it.next().unwrap()], b"second record");
            assert!(it.next().is_none());
            received += ranges.len();

            buf.clear();
            p.server.seal_application_data(&payload, &mut buf).unwrap();
            let ranges = p.client.handle_receive_in_place(now, &mut buf).unwrap();
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
    buf.clear();
    p.client.seal_application_data(b"once", &mut buf).unwrap();
    let copy = buf.clone();
    assert_eq!(
        p.server
            .handle_receive_in_place(now, &mut buf)
            .unwrap()
            .len(),
        1
    );
    let mut again = copy.clone();
    assert!(
        p.server
            .handle_receive_in_place(now, &mut again)
            .unwrap()
            .is_empty()
    );
    buf.clear();
    p.client
        .seal_application_data(b"tampered", &mut buf)
        .unwrap();
    let last = buf.len() - 1;
    buf[last] ^= 1;
    assert!(
        p.server
            .handle_receive_in_place(now, &mut buf)
            .unwrap()
            .is_empty()
    );
}
