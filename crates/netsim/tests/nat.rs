//! NAT mapping and filtering behaviours (RFC 4787), seen from the endpoints.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferrtc_netsim::endpoints::{Reflector, Socket};
use ferrtc_netsim::{
    DropReason, Handle, LinkConfig, NatConfig, NatDrop, NatId, NatKind, PortAllocation, Prefix, Sim,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const INSIDE: &str = "192.168.1.10:5000";
const PUBLIC_IP: &str = "203.0.113.1";
/// Two reflectors on one IP, one on another.
const S1: &str = "198.51.100.1:3478";
const S1_OTHER_PORT: &str = "198.51.100.1:3479";
const S2: &str = "198.51.100.2:3478";
/// Hosts that were never contacted: same IP as S1 on a new port, and a new IP.
const SAME_IP_STRANGER: &str = "198.51.100.1:4000";
const STRANGER: &str = "198.51.100.9:4000";

struct World {
    sim: Sim,
    nat: NatId,
    inside: Handle<Socket>,
    same_ip_stranger: Handle<Socket>,
    stranger: Handle<Socket>,
}

fn world(kind: NatKind) -> World {
    let mut sim = Sim::new(4787);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(10)));
    let nat = sim.add_nat(NatConfig::new(
        kind,
        ip(PUBLIC_IP),
        "192.168.1.0/24".parse::<Prefix>().unwrap(),
    ));
    let inside = sim.add_endpoint([sa(INSIDE)], Socket::new());
    for s in [S1, S1_OTHER_PORT, S2] {
        sim.add_endpoint([sa(s)], Reflector::new());
    }
    let same_ip_stranger = sim.add_endpoint([sa(SAME_IP_STRANGER)], Socket::new());
    let stranger = sim.add_endpoint([sa(STRANGER)], Socket::new());
    World {
        sim,
        nat,
        inside,
        same_ip_stranger,
        stranger,
    }
}

impl World {
    /// The inside host asks each reflector what address it sees.
    fn reflexive_addresses(&mut self) -> Vec<SocketAddr> {
        for s in [S1, S1_OTHER_PORT, S2] {
            self.sim
                .endpoint_mut(self.inside)
                .send(sa(INSIDE), sa(s), b"who am I".to_vec());
        }
        self.sim.run_for(Duration::from_millis(100));
        let answers = self.sim.endpoint_mut(self.inside).take_received();
        assert_eq!(answers.len(), 3, "the reflectors' answers get back in");
        answers
            .iter()
            .map(|r| Reflector::parse_answer(&r.data).unwrap())
            .collect()
    }

    /// Whether a datagram from `stranger` to `mapped` reaches the inside host.
    fn gets_in(&mut self, stranger: Handle<Socket>, from: &str, mapped: SocketAddr) -> bool {
        self.sim
            .endpoint_mut(stranger)
            .send(sa(from), mapped, b"knock".to_vec());
        self.sim.run_for(Duration::from_millis(100));
        !self
            .sim
            .endpoint_mut(self.inside)
            .take_received()
            .is_empty()
    }
}

#[test]
fn endpoint_independent_mapping_is_the_same_for_every_destination() {
    for kind in [
        NatKind::EndpointIndependent,
        NatKind::AddressRestricted,
        NatKind::PortRestricted,
    ] {
        let mut w = world(kind);
        let seen = w.reflexive_addresses();
        assert_eq!(seen[0].ip(), ip(PUBLIC_IP), "{kind:?}");
        assert!(seen.iter().all(|&s| s == seen[0]), "{kind:?}: {seen:?}");
        assert_eq!(w.sim.nat_mappings(w.nat).len(), 1, "{kind:?}");
        assert_eq!(w.sim.nat_mappings(w.nat)[0].internal, sa(INSIDE));
    }
}

#[test]
fn symmetric_nat_maps_each_destination_apart() {
    let mut w = world(NatKind::Symmetric);
    let seen = w.reflexive_addresses();
    assert!(seen.iter().all(|s| s.ip() == ip(PUBLIC_IP)));
    assert_ne!(seen[0], seen[1], "other port of the same server");
    assert_ne!(seen[0], seen[2], "other server");
    assert_ne!(seen[1], seen[2]);
    assert_eq!(w.sim.nat_stats(w.nat).mappings_created, 3);
    // Asking again reuses the mappings.
    assert_eq!(w.reflexive_addresses(), seen);
    assert_eq!(w.sim.nat_stats(w.nat).mappings_created, 3);
}

#[test]
fn filtering_decides_who_gets_in() {
    // (kind, same IP as a contacted server on another port, a never-contacted IP)
    for (kind, same_ip, other_ip) in [
        (NatKind::EndpointIndependent, true, true),
        (NatKind::AddressRestricted, true, false),
        (NatKind::PortRestricted, false, false),
        (NatKind::Symmetric, false, false),
    ] {
        let mut w = world(kind);
        let mapped = w.reflexive_addresses()[0];
        let s = w.same_ip_stranger;
        assert_eq!(w.gets_in(s, SAME_IP_STRANGER, mapped), same_ip, "{kind:?}");
        let s = w.stranger;
        assert_eq!(w.gets_in(s, STRANGER, mapped), other_ip, "{kind:?}");
        let stats = w.sim.nat_stats(w.nat);
        let refused = u64::from(!same_ip) + u64::from(!other_ip);
        assert_eq!(stats.dropped_filtered, refused, "{kind:?}: {stats:?}");
        // A port with no mapping lets nobody in, whatever the kind.
        let unused = SocketAddr::new(mapped.ip(), mapped.port().wrapping_add(1000));
        let s = w.stranger;
        assert!(!w.gets_in(s, STRANGER, unused), "{kind:?}");
        assert_eq!(w.sim.nat_stats(w.nat).dropped_no_mapping, 1);
    }
}

#[test]
fn once_the_inside_host_sends_out_the_stranger_gets_in() {
    let mut w = world(NatKind::PortRestricted);
    let mapped = w.reflexive_addresses()[0];
    let s = w.stranger;
    assert!(!w.gets_in(s, STRANGER, mapped));
    // The inside host opens a permission by sending to the stranger (hole punching).
    w.sim
        .endpoint_mut(w.inside)
        .send(sa(INSIDE), sa(STRANGER), b"hello".to_vec());
    w.sim.run_for(Duration::from_millis(100));
    let got = w.sim.endpoint_mut(w.stranger).take_received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, mapped, "same mapping for the new destination");
    assert!(w.gets_in(s, STRANGER, mapped));
}

#[test]
fn private_addresses_cannot_be_reached_from_outside() {
    let mut w = world(NatKind::EndpointIndependent);
    w.reflexive_addresses();
    let s = w.stranger;
    assert!(!w.gets_in(s, STRANGER, sa(INSIDE)));
    assert_eq!(w.sim.stats().dropped_no_route, 1);
}

#[test]
fn mappings_expire_after_silence() {
    let mut w = world(NatKind::EndpointIndependent);
    let mapped = w.reflexive_addresses()[0];
    let s = w.stranger;
    assert!(w.gets_in(s, STRANGER, mapped));
    // Inbound traffic does not keep the mapping alive; two minutes of outbound silence ends it.
    w.sim.run_for(Duration::from_secs(121));
    assert!(!w.gets_in(s, STRANGER, mapped));
    let stats = w.sim.nat_stats(w.nat);
    assert_eq!((stats.mappings_expired, stats.dropped_no_mapping), (1, 1));
    assert!(w.sim.nat_mappings(w.nat).is_empty());
    // Sending again makes a new mapping on the next port.
    let again = w.reflexive_addresses()[0];
    assert_eq!(again.port(), mapped.port() + 1);
}

#[test]
fn lan_traffic_is_not_translated() {
    let mut w = world(NatKind::Symmetric);
    let neighbour = w.sim.add_endpoint([sa("192.168.1.11:7000")], Socket::new());
    w.sim
        .endpoint_mut(w.inside)
        .send(sa(INSIDE), sa("192.168.1.11:7000"), b"hi".to_vec());
    w.sim.run_for(Duration::from_millis(100));
    let got = &w.sim.endpoint(neighbour).received;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, sa(INSIDE));
    assert_eq!(w.sim.nat_stats(w.nat).outbound, 0);
}

fn hairpin_world(hairpinning: bool) -> (Sim, NatId, Handle<Socket>, Handle<Socket>, SocketAddr) {
    let mut sim = Sim::new(3);
    let cfg = NatConfig::new(
        NatKind::EndpointIndependent,
        ip(PUBLIC_IP),
        "192.168.1.0/24".parse::<Prefix>().unwrap(),
    )
    .hairpinning(hairpinning);
    let nat = sim.add_nat(cfg);
    let a = sim.add_endpoint([sa(INSIDE)], Socket::new());
    let b = sim.add_endpoint([sa("192.168.1.20:6000")], Socket::new());
    sim.add_endpoint([sa(S1)], Reflector::new());
    sim.endpoint_mut(a).send(sa(INSIDE), sa(S1), b"?".to_vec());
    sim.run_for(Duration::from_millis(10));
    let a_mapped = Reflector::parse_answer(&sim.endpoint_mut(a).take_received()[0].data).unwrap();
    (sim, nat, a, b, a_mapped)
}

#[test]
fn hairpinning_off_drops_inside_to_own_public_address() {
    let (mut sim, nat, a, b, a_mapped) = hairpin_world(false);
    sim.enable_trace();
    sim.endpoint_mut(b)
        .send(sa("192.168.1.20:6000"), a_mapped, b"via public".to_vec());
    sim.run_for(Duration::from_millis(10));
    assert!(sim.endpoint(a).received.is_empty());
    assert_eq!(sim.nat_stats(nat).dropped_hairpin, 1);
    assert!(sim.trace().iter().any(|e| matches!(
        e.kind,
        ferrtc_netsim::TraceKind::Dropped {
            reason: DropReason::Nat(_, NatDrop::Hairpin),
            ..
        }
    )));
}

#[test]
fn hairpinning_on_loops_back_with_the_public_source() {
    let (mut sim, nat, a, b, a_mapped) = hairpin_world(true);
    sim.endpoint_mut(b)
        .send(sa("192.168.1.20:6000"), a_mapped, b"via public".to_vec());
    sim.run_for(Duration::from_millis(10));
    let got = &sim.endpoint(a).received;
    assert_eq!(got.len(), 1);
    // A sees B's public mapping, not B's private address (RFC 4787 REQ-9).
    assert_eq!(got[0].from.ip(), ip(PUBLIC_IP));
    assert_ne!(got[0].from, a_mapped);
    assert_eq!(sim.nat_stats(nat).dropped_hairpin, 0);
}

#[test]
fn nested_nats_translate_twice() {
    // Home NAT behind a carrier-grade NAT (RFC 6598 shared space).
    let mut sim = Sim::new(5);
    let home = sim.add_nat(NatConfig::new(
        NatKind::PortRestricted,
        ip("100.64.0.2"),
        "192.168.1.0/24".parse::<Prefix>().unwrap(),
    ));
    let cgn = sim.add_nat(
        NatConfig::new(
            NatKind::PortRestricted,
            ip(PUBLIC_IP),
            "100.64.0.0/10".parse::<Prefix>().unwrap(),
        )
        .port_allocation(PortAllocation::Random),
    );
    let a = sim.add_endpoint([sa(INSIDE)], Socket::new());
    let r = sim.add_endpoint([sa(S1)], Reflector::new());
    sim.endpoint_mut(a).send(sa(INSIDE), sa(S1), b"?".to_vec());
    sim.run_for(Duration::from_millis(10));
    let answer = sim.endpoint_mut(a).take_received();
    assert_eq!(
        answer.len(),
        1,
        "the answer is translated back through both"
    );
    assert_eq!(answer[0].to, sa(INSIDE));
    let seen = sim.endpoint(r).seen[0];
    assert_eq!(seen.ip(), ip(PUBLIC_IP));
    assert_eq!(sim.nat_mappings(home)[0].external.ip(), ip("100.64.0.2"));
    assert_eq!(sim.nat_mappings(cgn)[0].external, seen);
    assert_eq!(
        sim.nat_mappings(cgn)[0].internal,
        sim.nat_mappings(home)[0].external
    );
    // A host in the carrier's space cannot reach the home network directly.
    let cgn_neighbour = sim.add_endpoint([sa("100.64.0.3:1")], Socket::new());
    sim.endpoint_mut(cgn_neighbour)
        .send(sa("100.64.0.3:1"), sa(INSIDE), b"x".to_vec());
    sim.run_for(Duration::from_millis(10));
    assert_eq!(sim.stats().dropped_no_route, 1);
}

/// Two peers behind NATs learn their public addresses from a reflector, then both send to the
/// other's public address at the same moment, as ICE connectivity checks do.
fn hole_punch(kind_a: NatKind, kind_b: NatKind) -> (usize, usize) {
    let mut sim = Sim::new(99);
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(20)));
    sim.add_nat(NatConfig::new(
        kind_a,
        ip("203.0.113.1"),
        "192.168.1.0/24".parse::<Prefix>().unwrap(),
    ));
    sim.add_nat(NatConfig::new(
        kind_b,
        ip("203.0.113.2"),
        "192.168.2.0/24".parse::<Prefix>().unwrap(),
    ));
    let (a_addr, b_addr) = (sa("192.168.1.10:5000"), sa("192.168.2.10:5000"));
    let a = sim.add_endpoint([a_addr], Socket::new());
    let b = sim.add_endpoint([b_addr], Socket::new());
    sim.add_endpoint([sa(S1)], Reflector::new());
    sim.endpoint_mut(a).send(a_addr, sa(S1), b"?".to_vec());
    sim.endpoint_mut(b).send(b_addr, sa(S1), b"?".to_vec());
    sim.run_for(Duration::from_millis(100));
    let a_pub = Reflector::parse_answer(&sim.endpoint_mut(a).take_received()[0].data).unwrap();
    let b_pub = Reflector::parse_answer(&sim.endpoint_mut(b).take_received()[0].data).unwrap();
    // Three rounds of checks, 50 ms apart.
    for _ in 0..3 {
        sim.endpoint_mut(a).send(a_addr, b_pub, b"check".to_vec());
        sim.endpoint_mut(b).send(b_addr, a_pub, b"check".to_vec());
        sim.run_for(Duration::from_millis(50));
    }
    (
        sim.endpoint(a).received.len(),
        sim.endpoint(b).received.len(),
    )
}

#[test]
fn hole_punching_works_between_cones_and_fails_between_symmetric_nats() {
    // Port-restricted on both sides: both send at the same moment, so each NAT has opened
    // its permission before the other side's check arrives.
    assert_eq!(
        hole_punch(NatKind::PortRestricted, NatKind::PortRestricted),
        (3, 3)
    );
    assert_eq!(
        hole_punch(NatKind::EndpointIndependent, NatKind::Symmetric),
        (3, 0)
    );
    // Symmetric on both sides: each check uses a new mapping the other side never learns.
    assert_eq!(hole_punch(NatKind::Symmetric, NatKind::Symmetric), (0, 0));
    // Port-restricted against symmetric: A's NAT only admits the address B used for the
    // reflector's mapping, which is not the one B's checks leave from.
    assert_eq!(
        hole_punch(NatKind::PortRestricted, NatKind::Symmetric),
        (0, 0)
    );
}
