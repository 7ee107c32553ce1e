//! Two ferrtc negotiators driven by arbitrary sequences of application actions and
//! exchanges (either side offering, provisional answers, rollbacks, glare). Our own
//! descriptions must always be accepted by the other side, both summaries must mirror each
//! other, the DTLS roles and certificates never change, and after an exchange the offerer
//! has nothing left to negotiate.

mod common;

use common::{negotiator, rng};
use ferrtc_peerconnection::{
    Description, Direction, MediaKind, Negotiation, Negotiator, SignalingState, TrackInfo,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;

#[derive(Debug, Clone)]
enum Op {
    AddTrack(bool, bool),
    RemoveTrack(bool, usize),
    Stop(bool, usize),
    SetDirection(bool, usize, u8),
    DataChannel(bool),
    RestartIce(bool),
    Exchange(bool),
    ExchangeWithPranswer(bool),
    LocalRollback(bool),
    RemoteRollback(bool),
    Glare(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), any::<bool>()).prop_map(|(s, v)| Op::AddTrack(s, v)),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(s, n)| Op::RemoveTrack(s, n)),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(s, n)| Op::Stop(s, n)),
        1 => (any::<bool>(), any::<usize>(), 0..4u8).prop_map(|(s, n, d)| Op::SetDirection(s, n, d)),
        1 => any::<bool>().prop_map(Op::DataChannel),
        1 => any::<bool>().prop_map(Op::RestartIce),
        4 => any::<bool>().prop_map(Op::Exchange),
        1 => any::<bool>().prop_map(Op::ExchangeWithPranswer),
        1 => any::<bool>().prop_map(Op::LocalRollback),
        1 => any::<bool>().prop_map(Op::RemoteRollback),
        1 => any::<bool>().prop_map(Op::Glare),
    ]
}

struct World {
    peers: [Negotiator; 2],
    rng: ChaCha20Rng,
    tracks: usize,
    /// Alice's DTLS role once settled.
    role: Option<ferrtc_types::DtlsRole>,
}

fn live(n: &Negotiator, k: usize) -> Option<ferrtc_peerconnection::TransceiverId> {
    let ids: Vec<_> = n
        .transceivers()
        .filter(|t| !t.is_stopped() && !t.is_stopping())
        .map(|t| t.id())
        .collect();
    (!ids.is_empty()).then(|| ids[k % ids.len()])
}

fn direction(d: u8) -> Direction {
    [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ][usize::from(d % 4)]
}

impl World {
    fn pair(&mut self, alice_offers: bool) -> (&mut Negotiator, &mut Negotiator) {
        let [a, b] = &mut self.peers;
        if alice_offers { (a, b) } else { (b, a) }
    }

    fn check(&mut self, offerer_is_alice: bool, ours: &Negotiation, theirs: &Negotiation) {
        let (alice, bob) = if offerer_is_alice {
            (ours, theirs)
        } else {
            (theirs, ours)
        };
        assert_eq!(alice.media.len(), bob.media.len());
        for (x, y) in alice.media.iter().zip(&bob.media) {
            assert_eq!(x.mid, y.mid);
            assert_eq!(x.index, y.index);
            assert_eq!(x.current_direction, y.current_direction.reverse());
            assert!(!x.codecs.is_empty());
            for (c, d) in x.codecs.iter().zip(&y.codecs) {
                assert_eq!(c.payload_type.local, d.payload_type.remote);
                assert_eq!(c.rtx.map(|r| r.remote), d.rtx.map(|r| r.local));
            }
            assert_eq!(x.header_extensions, y.header_extensions);
        }
        assert_eq!(alice.data.is_some(), bob.data.is_some());
        assert_eq!(alice.rejected, bob.rejected);
        if alice.media.is_empty() && alice.data.is_none() {
            return;
        }
        assert_eq!(alice.transports.len(), 1);
        let (ta, tb) = (&alice.transports[0], &bob.transports[0]);
        assert_eq!(ta.dtls_role, tb.dtls_role.opposite());
        assert_eq!(ta.remote_fingerprints, [common::cert(2)]);
        assert_eq!(tb.remote_fingerprints, [common::cert(1)]);
        match self.role {
            None => self.role = Some(ta.dtls_role),
            Some(r) => assert_eq!(r, ta.dtls_role, "DTLS role changed"),
        }
        for n in &self.peers {
            let mut indices: Vec<usize> =
                n.transceivers().filter_map(|t| t.m_line_index()).collect();
            let len = indices.len();
            indices.sort_unstable();
            indices.dedup();
            assert_eq!(indices.len(), len, "two transceivers on one m-line");
        }
    }

    fn exchange(&mut self, alice_offers: bool, pranswer: bool) {
        let mut rng = self.rng.clone();
        let (o, a) = self.pair(alice_offers);
        let offer = o.create_offer(&mut rng).unwrap();
        o.set_local_description(&offer).unwrap();
        a.set_remote_description(&offer)
            .expect("our offer is accepted");
        if pranswer {
            let p = a.create_answer(&mut rng).unwrap();
            let p = Description::pranswer(p.sdp);
            a.set_local_description(&p).unwrap();
            o.set_remote_description(&p)
                .expect("our pranswer is accepted");
        }
        let answer = a.create_answer(&mut rng).unwrap();
        let theirs = a.set_local_description(&answer).unwrap().unwrap();
        let ours = o
            .set_remote_description(&answer)
            .expect("our answer is accepted")
            .unwrap();
        assert!(!o.negotiation_needed(), "the offerer got all it asked for");
        assert_eq!(o.signaling_state(), SignalingState::Stable);
        assert_eq!(a.signaling_state(), SignalingState::Stable);
        self.rng = rng;
        self.check(alice_offers, &ours, &theirs);
    }

    fn run(&mut self, op: &Op) {
        let mut rng = self.rng.clone();
        match *op {
            Op::AddTrack(side, video) => {
                self.tracks += 1;
                let track = TrackInfo {
                    track_id: format!("t{}", self.tracks),
                    stream_ids: vec!["s".into()],
                };
                let kind = if video {
                    MediaKind::Video
                } else {
                    MediaKind::Audio
                };
                self.peers[usize::from(side)]
                    .add_track(kind, track)
                    .unwrap();
            }
            Op::RemoveTrack(side, k) => {
                let n = &mut self.peers[usize::from(side)];
                if let Some(id) = live(n, k) {
                    n.remove_track(id).unwrap();
                }
            }
            Op::Stop(side, k) => {
                let n = &mut self.peers[usize::from(side)];
                if let Some(id) = live(n, k) {
                    n.stop_transceiver(id).unwrap();
                }
            }
            Op::SetDirection(side, k, d) => {
                let n = &mut self.peers[usize::from(side)];
                if let Some(id) = live(n, k) {
                    n.set_direction(id, direction(d)).unwrap();
                }
            }
            Op::DataChannel(side) => self.peers[usize::from(side)].create_data_channel().unwrap(),
            Op::RestartIce(side) => self.peers[usize::from(side)].restart_ice().unwrap(),
            Op::Exchange(alice) => self.exchange(alice, false),
            Op::ExchangeWithPranswer(alice) => self.exchange(alice, true),
            Op::LocalRollback(side) => {
                let n = &mut self.peers[usize::from(side)];
                let offer = n.create_offer(&mut rng).unwrap();
                n.set_local_description(&offer).unwrap();
                n.set_local_description(&Description::rollback()).unwrap();
                assert_eq!(n.signaling_state(), SignalingState::Stable);
            }
            Op::RemoteRollback(alice) => {
                let (o, a) = self.pair(alice);
                let offer = o.create_offer(&mut rng).unwrap();
                o.set_local_description(&offer).unwrap();
                a.set_remote_description(&offer)
                    .expect("our offer is accepted");
                a.set_remote_description(&Description::rollback()).unwrap();
                o.set_local_description(&Description::rollback()).unwrap();
            }
            Op::Glare(alice_polite) => {
                let [a, b] = &mut self.peers;
                let oa = a.create_offer(&mut rng).unwrap();
                let ob = b.create_offer(&mut rng).unwrap();
                a.set_local_description(&oa).unwrap();
                b.set_local_description(&ob).unwrap();
                assert!(a.set_remote_description(&ob).is_err());
                let (polite, impolite, offer) = if alice_polite { (a, b, ob) } else { (b, a, oa) };
                polite
                    .set_local_description(&Description::rollback())
                    .unwrap();
                polite
                    .set_remote_description(&offer)
                    .expect("our offer is accepted");
                let answer = polite.create_answer(&mut rng).unwrap();
                polite.set_local_description(&answer).unwrap();
                impolite
                    .set_remote_description(&answer)
                    .expect("our answer is accepted");
            }
        }
        self.rng = rng;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_sessions_stay_consistent(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..30)) {
        let mut r = rng(seed);
        let alice = negotiator(1, &mut r);
        let bob = negotiator(2, &mut r);
        let mut world = World { peers: [alice, bob], rng: r, tracks: 0, role: None };
        for op in &ops {
            world.run(op);
        }
        // Whatever happened, one exchange each way settles everything.
        world.exchange(true, false);
        world.exchange(false, false);
        prop_assert!(!world.peers[0].negotiation_needed());
        prop_assert!(!world.peers[1].negotiation_needed());
    }
}
