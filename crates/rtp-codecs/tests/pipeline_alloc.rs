//! The per-packet paths of the pipeline allocate nothing once warm: reception statistics,
//! sender statistics and reports, transport-wide numbering and feedback, the send history
//! and its retransmissions, and NACK tracking of an in-order stream.
//!
//! Not covered (they allocate per loss or per frame, not per packet): NACK entries for
//! missing packets, and the jitter buffer's frames.

use ferrtc_test_alloc::allocations;
use std::time::{Duration, Instant};

use ferrtc_rtp_codecs::pipeline::{
    NackConfig, NackGenerator, NtpTime, ReceiverStats, SendHistory, SenderStats,
    TransportSequencer, TwccConfig, TwccGenerator,
};
use ferrtc_rtp_codecs::rtcp::RtcpPacket;
use ferrtc_rtp_codecs::{
    ExtensionForm, ExtensionId, ExtensionWriter, PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc,
};

/// The transport-cc extension id of the stream.
const TWCC_ID: ExtensionId = ExtensionId::new(3).expect("not 0");

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

struct Pipeline {
    packet: Vec<u8>,
    out: Vec<u8>,
    sequencer: TransportSequencer,
    sender: SenderStats,
    history: SendHistory,
    receiver: ReceiverStats,
    nack: NackGenerator,
    twcc: TwccGenerator,
    seq: SeqNo,
    t: Instant,
    emitted: usize,
}

impl Pipeline {
    /// One packet through both ends; every 100th packet also an SR, an RR, a TWCC feedback
    /// message and a retransmission.
    fn step(&mut self, k: u32) {
        self.t += Duration::from_millis(2);
        let now = self.t;
        let ts = 90 * 2 * k;
        {
            let mut p = RtpPacket::new_checked(&mut self.packet[..]).expect("valid");
            p.set_sequence_number(self.seq);
            p.set_timestamp(ts);
            self.sequencer
                .stamp(&mut p, TWCC_ID)
                .expect("element present");
        }
        self.history.handle_sent(now, &self.packet).expect("fits");
        self.sender.handle_sent(now, ts, 1000);
        let p = RtpPacket::new_checked(&self.packet[..]).expect("valid");
        let tseq = SeqNo(u16::from_be_bytes(
            p.extension_value(TWCC_ID)
                .expect("present")
                .try_into()
                .expect("2 bytes"),
        ));
        self.receiver
            .handle_packet(now, p.sequence_number(), p.timestamp());
        self.nack.handle_packet(now, p.sequence_number());
        self.twcc.handle_packet(now, tseq);
        assert!(self.nack.poll_nack(now).is_none());
        if k % 100 == 99 {
            let wall = NtpTime::from_unix(Duration::from_secs(1_700_000_000 + u64::from(k)));
            let sr = self.sender.sender_report(now, wall, &[]).expect("sent");
            self.emitted += RtcpPacket::SenderReport(sr)
                .emit(&mut self.out)
                .expect("fits");
            self.receiver
                .handle_sender_report(now, NtpTime(sr.ntp_time));
            let block = self.receiver.report_block(now).expect("received");
            assert_eq!(block.cumulative_lost, 0);
            self.sender.handle_report_block(now, &block);
            while let Some(fb) = self.twcc.poll_feedback(now) {
                self.emitted += RtcpPacket::TransportFeedback(fb)
                    .emit(&mut self.out)
                    .expect("fits");
            }
            let n = self
                .history
                .retransmit(now, self.seq.wrapping_add(0xfff0), &mut self.out)
                .expect("fits")
                .expect("held");
            self.emitted += n;
        }
        self.seq = self.seq.wrapping_add(1);
    }
}

#[test]
fn per_packet_pipeline_allocates_nothing_once_warm() {
    let mut ext_store = [0u8; 8];
    let mut w = ExtensionWriter::new(&mut ext_store, ExtensionForm::OneByte);
    w.push(TWCC_ID, &[0, 0]).unwrap();
    let ext = w.finish().unwrap();
    let header = RtpHeader {
        marker: true,
        payload_type: PayloadType::new(96).unwrap(),
        sequence_number: SeqNo(0),
        timestamp: 0,
        ssrc: Ssrc(7),
        csrcs: Default::default(),
        extension: Some(ext),
    };
    let mut packet = vec![0u8; 1100];
    let n = header.emit_packet(&[0xab; 1000], 0, &mut packet).unwrap();
    packet.truncate(n);
    let t0 = Instant::now();
    let mut pl = Pipeline {
        packet,
        out: vec![0u8; 1500],
        sequencer: TransportSequencer::new(SeqNo(60_000)),
        sender: SenderStats::new(Ssrc(7), 90_000),
        history: SendHistory::new(512, 1500, Duration::from_secs(2)).with_rtx(
            PayloadType::new(97).unwrap(),
            Ssrc(8),
            SeqNo(1),
        ),
        receiver: ReceiverStats::new(Ssrc(7), 90_000),
        nack: NackGenerator::new(Ssrc(9), Ssrc(7), NackConfig::default()),
        twcc: TwccGenerator::new(Ssrc(9), Ssrc(7), TwccConfig::default()),
        seq: SeqNo(65_000),
        t: t0,
        emitted: 0,
    };
    // Warm: the history's ring slots and the feedback list reach their sizes.
    for k in 0..2000 {
        pl.step(k);
    }
    let before = allocations();
    for k in 2000..12_000 {
        pl.step(k);
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the warm per-packet path");
    // The work was done: 100 rounds of SR, TWCC feedback and RTX.
    assert!(pl.emitted > 100 * (28 + 20 + 1000));
    assert_eq!(pl.receiver.received(), 12_000);
    assert!(pl.sender.rtt().is_some());
    assert_eq!(pl.twcc.dropped(), 0);
}
