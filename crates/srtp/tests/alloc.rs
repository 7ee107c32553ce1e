//! Protect and unprotect allocate nothing per packet: a counting global allocator watches
//! steady-state traffic for every profile, RTP and RTCP, including rejected packets.

use ferrtc_srtp::{Config, SrtpContext, SrtpProfile, Ssrc};
use ferrtc_test_alloc::allocations;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

#[test]
fn steady_state_protect_and_unprotect_do_not_allocate() {
    // The counter sees allocations made on this thread.
    let base = allocations();
    let probe = std::hint::black_box(vec![0u8; 64]);
    assert!(allocations() > base, "counting allocator is active");
    drop(probe);

    for profile in SrtpProfile::ALL {
        let key = vec![1u8; profile.master_key_len()];
        let salt = vec![2u8; profile.master_salt_len()];
        let mut tx = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();
        let mut rx = SrtpContext::new(profile, &key, &salt, Config::default()).unwrap();
        let mut rtp = vec![0u8; 1200 + 16];
        let mut rtcp = vec![0u8; 80 + 20];
        let mut replay = vec![0u8; 1200 + 16];
        let run = |tx: &mut SrtpContext,
                   rx: &mut SrtpContext,
                   rtp: &mut Vec<u8>,
                   rtcp: &mut Vec<u8>,
                   replay: &mut Vec<u8>,
                   seqs: std::ops::Range<u32>| {
            for i in seqs {
                let seq = (65_000 + i) as u16; // crosses the wrap
                for ssrc in [0x1111_1111u32, 0x2222_2222] {
                    rtp[..12].copy_from_slice(&[0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                    rtp[2..4].copy_from_slice(&seq.to_be_bytes());
                    rtp[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    // A one-word header extension.
                    rtp[12..20].copy_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
                    let n = tx.protect_rtp(rtp, 1200).unwrap();
                    replay[..n].copy_from_slice(&rtp[..n]);
                    rx.unprotect_rtp(&mut rtp[..n]).unwrap();
                    // Rejected packets allocate nothing either.
                    assert!(rx.unprotect_rtp(&mut replay[..n]).is_err());
                    replay[n - 1] ^= 1;
                    assert!(rx.unprotect_rtp(&mut replay[..n]).is_err());
                    assert!(rx.unprotect_rtp(&mut replay[..5]).is_err());

                    rtcp[..8].copy_from_slice(&[0x80, 201, 0, 19, 0, 0, 0, 0]);
                    rtcp[4..8].copy_from_slice(&ssrc.to_be_bytes());
                    let n = tx.protect_rtcp(rtcp, 80).unwrap();
                    rx.unprotect_rtcp(&mut rtcp[..n]).unwrap();
                }
            }
        };
        // Warm up: the first packet of each SSRC creates its state.
        run(&mut tx, &mut rx, &mut rtp, &mut rtcp, &mut replay, 0..4);
        let before = allocations();
        run(&mut tx, &mut rx, &mut rtp, &mut rtcp, &mut replay, 4..2000);
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "{profile:?}: allocations in steady state"
        );
        assert_eq!(rx.stats().rtp_unprotected, 4000);
        assert_eq!(rx.remote_roc(Ssrc(0x1111_1111)), Some(1));
    }
}
