//! NAT boxes with the mapping and filtering behaviours of RFC 4787.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Prefix;

/// How a NAT reuses a mapping (RFC 4787 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mapping {
    /// One mapping per internal address, whatever the destination.
    EndpointIndependent,
    /// One mapping per internal address and destination IP address.
    AddressDependent,
    /// One mapping per internal address and destination address and port.
    AddressAndPortDependent,
}

/// Which outside packets a NAT lets in through a mapping (RFC 4787 section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Filtering {
    /// Anyone may send to the mapping.
    EndpointIndependent,
    /// Only IP addresses the internal endpoint has sent to through the mapping.
    AddressDependent,
    /// Only addresses and ports the internal endpoint has sent to through the mapping.
    AddressAndPortDependent,
}

/// The four classic NAT types, named as in RFC 3489 and defined by RFC 4787 behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NatKind {
    /// "Full cone": endpoint-independent mapping and filtering.
    EndpointIndependent,
    /// "Restricted cone": endpoint-independent mapping, address-dependent filtering.
    AddressRestricted,
    /// "Port-restricted cone": endpoint-independent mapping, address-and-port-dependent
    /// filtering.
    PortRestricted,
    /// "Symmetric": address-and-port-dependent mapping and filtering.
    Symmetric,
}

impl NatKind {
    /// The mapping behaviour of this kind.
    pub fn mapping(self) -> Mapping {
        match self {
            NatKind::Symmetric => Mapping::AddressAndPortDependent,
            _ => Mapping::EndpointIndependent,
        }
    }

    /// The filtering behaviour of this kind.
    pub fn filtering(self) -> Filtering {
        match self {
            NatKind::EndpointIndependent => Filtering::EndpointIndependent,
            NatKind::AddressRestricted => Filtering::AddressDependent,
            NatKind::PortRestricted | NatKind::Symmetric => Filtering::AddressAndPortDependent,
        }
    }
}

/// How a NAT picks the public port of a new mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PortAllocation {
    /// The next free port of the range, in order, wrapping around.
    Sequential,
    /// A free port drawn from the simulation's seeded generator.
    Random,
    /// The internal port when it is free and in the range, otherwise sequential.
    Preserve,
}

/// Configuration of a NAT box.
///
/// The NAT owns `public_ip` and sits in front of every address in `inside`. A datagram from an
/// inside address to an address outside `inside` leaves with its source rewritten to
/// `public_ip:port`; datagrams to `public_ip` are translated back through the mapping when the
/// filtering behaviour lets them in. Inside addresses cannot be reached from outside directly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatConfig {
    /// The NAT's outside address.
    pub public_ip: IpAddr,
    /// The addresses behind the NAT.
    pub inside: Prefix,
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// How public ports are chosen.
    pub port_allocation: PortAllocation,
    /// Public ports the NAT may use.
    pub ports: RangeInclusive<u16>,
    /// A mapping, and each permission in it, expires this long after the last outbound datagram
    /// that used it (RFC 4787 REQ-5 asks for at least two minutes; inbound traffic does not
    /// refresh, as REQ-6 allows).
    pub mapping_timeout: Duration,
    /// Whether inside hosts may reach each other through the public address (RFC 4787
    /// section 6). When off, such datagrams are dropped.
    pub hairpinning: bool,
}

impl NatConfig {
    /// A NAT of `kind` with public address `public_ip` in front of `inside`, allocating ports
    /// sequentially from 49152..=65535, with a two-minute mapping timeout and no hairpinning.
    pub fn new(kind: NatKind, public_ip: IpAddr, inside: impl Into<Prefix>) -> Self {
        NatConfig {
            public_ip,
            inside: inside.into(),
            mapping: kind.mapping(),
            filtering: kind.filtering(),
            port_allocation: PortAllocation::Sequential,
            ports: 49152..=65535,
            mapping_timeout: Duration::from_secs(120),
            hairpinning: false,
        }
    }

    /// Sets the mapping behaviour.
    pub fn mapping(mut self, mapping: Mapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Sets the filtering behaviour.
    pub fn filtering(mut self, filtering: Filtering) -> Self {
        self.filtering = filtering;
        self
    }

    /// Sets how public ports are chosen.
    pub fn port_allocation(mut self, allocation: PortAllocation) -> Self {
        self.port_allocation = allocation;
        self
    }

    /// Sets the public port range.
    pub fn ports(mut self, ports: RangeInclusive<u16>) -> Self {
        self.ports = ports;
        self
    }

    /// Sets the mapping timeout.
    pub fn mapping_timeout(mut self, timeout: Duration) -> Self {
        self.mapping_timeout = timeout;
        self
    }

    /// Turns hairpinning on or off.
    pub fn hairpinning(mut self, on: bool) -> Self {
        self.hairpinning = on;
        self
    }
}

/// Counters of one NAT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatStats {
    /// Mappings created.
    pub mappings_created: u64,
    /// Mappings found expired and removed.
    pub mappings_expired: u64,
    /// Outbound datagrams translated.
    pub outbound: u64,
    /// Inbound datagrams translated.
    pub inbound: u64,
    /// Inbound datagrams for a port with no live mapping.
    pub dropped_no_mapping: u64,
    /// Inbound datagrams refused by the filtering behaviour.
    pub dropped_filtered: u64,
    /// Outbound datagrams dropped because no public port was free.
    pub dropped_no_port: u64,
    /// Datagrams to the NAT's own public address from inside, dropped because hairpinning is
    /// off.
    pub dropped_hairpin: u64,
}

/// One live mapping, as listed by [`Sim::nat_mappings`](crate::Sim::nat_mappings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatMapping {
    /// The inside address.
    pub internal: SocketAddr,
    /// The public address it is mapped to.
    pub external: SocketAddr,
}

/// Why a NAT refused a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NatDrop {
    /// No live mapping for the public port.
    NoMapping,
    /// The filtering behaviour refused the sender.
    Filtered,
    /// No public port was free for a new mapping.
    NoPort,
    /// Hairpinning is off.
    Hairpin,
}

/// The destination part of a mapping key, as far as the mapping behaviour looks at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dest {
    Any,
    Ip(IpAddr),
    Addr(SocketAddr),
}

#[derive(Debug)]
struct Binding {
    internal: SocketAddr,
    dest: Dest,
    last_out: Duration,
    /// Remote addresses sent to through this mapping, with the time of the last one.
    remotes: BTreeMap<SocketAddr, Duration>,
}

/// A NAT's configuration with its mapping table.
#[derive(Debug)]
pub(crate) struct Nat {
    pub config: NatConfig,
    pub stats: NatStats,
    rng: ChaCha8Rng,
    by_port: BTreeMap<u16, Binding>,
    by_key: BTreeMap<(SocketAddr, Dest), u16>,
    next_port: u16,
}

impl Nat {
    pub fn new(config: NatConfig, rng: ChaCha8Rng) -> Self {
        let next_port = *config.ports.start();
        Nat {
            config,
            stats: NatStats::default(),
            rng,
            by_port: BTreeMap::new(),
            by_key: BTreeMap::new(),
            next_port,
        }
    }

    fn live(&self, since: Duration, now: Duration) -> bool {
        now.saturating_sub(since) <= self.config.mapping_timeout
    }

    /// Removes the mapping on `port` if it has expired; returns whether the port is free.
    fn reclaim(&mut self, port: u16, now: Duration) -> bool {
        match self.by_port.get(&port) {
            None => true,
            Some(b) if self.live(b.last_out, now) => false,
            Some(_) => {
                if let Some(b) = self.by_port.remove(&port) {
                    self.by_key.remove(&(b.internal, b.dest));
                }
                self.stats.mappings_expired += 1;
                true
            }
        }
    }

    fn sequential(&mut self, now: Duration) -> Option<u16> {
        let (lo, hi) = (*self.config.ports.start(), *self.config.ports.end());
        if lo > hi {
            return None;
        }
        let span = u32::from(hi - lo) + 1;
        for _ in 0..span {
            let port = self.next_port.clamp(lo, hi);
            self.next_port = if port == hi { lo } else { port + 1 };
            if self.reclaim(port, now) {
                return Some(port);
            }
        }
        None
    }

    fn allocate(&mut self, internal: SocketAddr, now: Duration) -> Option<u16> {
        let range = self.config.ports.clone();
        if range.is_empty() {
            return None;
        }
        match self.config.port_allocation {
            PortAllocation::Sequential => self.sequential(now),
            PortAllocation::Preserve => {
                let p = internal.port();
                if range.contains(&p) && self.reclaim(p, now) {
                    Some(p)
                } else {
                    self.sequential(now)
                }
            }
            PortAllocation::Random => {
                for _ in 0..64 {
                    let p = self.rng.random_range(range.clone());
                    if self.reclaim(p, now) {
                        return Some(p);
                    }
                }
                self.sequential(now)
            }
        }
    }

    /// Translates an outbound datagram from `internal` to `remote`; returns the public source.
    pub fn outbound(
        &mut self,
        now: Duration,
        internal: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketAddr, NatDrop> {
        let dest = match self.config.mapping {
            Mapping::EndpointIndependent => Dest::Any,
            Mapping::AddressDependent => Dest::Ip(remote.ip()),
            Mapping::AddressAndPortDependent => Dest::Addr(remote),
        };
        let existing = self.by_key.get(&(internal, dest)).copied();
        let port = match existing {
            Some(port) if !self.reclaim(port, now) => port,
            _ => {
                let Some(port) = self.allocate(internal, now) else {
                    self.stats.dropped_no_port += 1;
                    return Err(NatDrop::NoPort);
                };
                self.by_port.insert(
                    port,
                    Binding {
                        internal,
                        dest,
                        last_out: now,
                        remotes: BTreeMap::new(),
                    },
                );
                self.by_key.insert((internal, dest), port);
                self.stats.mappings_created += 1;
                port
            }
        };
        if let Some(b) = self.by_port.get_mut(&port) {
            b.last_out = now;
            b.remotes.insert(remote, now);
        }
        self.stats.outbound += 1;
        Ok(SocketAddr::new(self.config.public_ip, port))
    }

    /// Translates an inbound datagram from `remote` to public port `port`; returns the inside
    /// destination.
    pub fn inbound(
        &mut self,
        now: Duration,
        remote: SocketAddr,
        port: u16,
    ) -> Result<SocketAddr, NatDrop> {
        if self.reclaim(port, now) {
            self.stats.dropped_no_mapping += 1;
            return Err(NatDrop::NoMapping);
        }
        let Some(b) = self.by_port.get(&port) else {
            // reclaim() returned false, so the port holds a live binding.
            self.stats.dropped_no_mapping += 1;
            return Err(NatDrop::NoMapping);
        };
        let allowed = match self.config.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => b
                .remotes
                .iter()
                .any(|(r, &t)| r.ip() == remote.ip() && self.live(t, now)),
            Filtering::AddressAndPortDependent => {
                b.remotes.get(&remote).is_some_and(|&t| self.live(t, now))
            }
        };
        if !allowed {
            self.stats.dropped_filtered += 1;
            return Err(NatDrop::Filtered);
        }
        self.stats.inbound += 1;
        Ok(b.internal)
    }

    /// Live mappings at `now`, ordered by public port.
    pub fn mappings(&self, now: Duration) -> Vec<NatMapping> {
        self.by_port
            .iter()
            .filter(|(_, b)| self.live(b.last_out, now))
            .map(|(&port, b)| NatMapping {
                internal: b.internal,
                external: SocketAddr::new(self.config.public_ip, port),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn nat(kind: NatKind) -> Nat {
        let cfg = NatConfig::new(
            kind,
            "203.0.113.1".parse().unwrap(),
            "192.168.0.0/16".parse::<Prefix>().unwrap(),
        );
        Nat::new(cfg, ChaCha8Rng::seed_from_u64(1))
    }

    const T: Duration = Duration::from_secs(1);

    #[test]
    fn kinds_map_to_behaviours() {
        assert_eq!(
            NatKind::EndpointIndependent.filtering(),
            Filtering::EndpointIndependent
        );
        assert_eq!(
            NatKind::AddressRestricted.filtering(),
            Filtering::AddressDependent
        );
        assert_eq!(
            NatKind::PortRestricted.mapping(),
            Mapping::EndpointIndependent
        );
        assert_eq!(
            NatKind::Symmetric.mapping(),
            Mapping::AddressAndPortDependent
        );
    }

    #[test]
    fn endpoint_independent_mapping_is_shared() {
        let mut n = nat(NatKind::PortRestricted);
        let a = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:3478"))
            .unwrap();
        let b = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.2:9"))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, sa("203.0.113.1:49152"));
        let c = n
            .outbound(T, sa("192.168.1.3:5000"), sa("198.51.100.2:9"))
            .unwrap();
        assert_eq!(c, sa("203.0.113.1:49153"));
        assert_eq!(n.stats.mappings_created, 2);
    }

    #[test]
    fn symmetric_mapping_differs_per_destination() {
        let mut n = nat(NatKind::Symmetric);
        let a = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:3478"))
            .unwrap();
        let b = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:3479"))
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(
            n.outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:3478")),
            Ok(a)
        );
    }

    #[test]
    fn address_dependent_mapping() {
        let mut n = nat(NatKind::PortRestricted);
        n.config.mapping = Mapping::AddressDependent;
        let a = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:1"))
            .unwrap();
        let b = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:2"))
            .unwrap();
        let c = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.9:1"))
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn filtering_rules() {
        for (kind, same_ip_other_port, other_ip) in [
            (NatKind::EndpointIndependent, true, true),
            (NatKind::AddressRestricted, true, false),
            (NatKind::PortRestricted, false, false),
            (NatKind::Symmetric, false, false),
        ] {
            let mut n = nat(kind);
            let p = n
                .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:3478"))
                .unwrap()
                .port();
            assert_eq!(
                n.inbound(T, sa("198.51.100.1:3478"), p),
                Ok(sa("192.168.1.2:5000")),
                "{kind:?}"
            );
            assert_eq!(
                n.inbound(T, sa("198.51.100.1:4000"), p).is_ok(),
                same_ip_other_port,
                "{kind:?}"
            );
            assert_eq!(
                n.inbound(T, sa("198.51.100.7:3478"), p).is_ok(),
                other_ip,
                "{kind:?}"
            );
            assert_eq!(
                n.inbound(T, sa("198.51.100.1:3478"), p.wrapping_add(100)),
                Err(NatDrop::NoMapping)
            );
        }
    }

    #[test]
    fn mappings_expire_without_outbound_traffic() {
        let mut n = nat(NatKind::EndpointIndependent);
        n.config.mapping_timeout = Duration::from_secs(30);
        let a = n
            .outbound(T, sa("192.168.1.2:5000"), sa("198.51.100.1:1"))
            .unwrap();
        assert!(
            n.inbound(T + Duration::from_secs(30), sa("198.51.100.1:1"), a.port())
                .is_ok()
        );
        assert_eq!(n.mappings(T + Duration::from_secs(30)).len(), 1);
        assert_eq!(
            n.inbound(T + Duration::from_secs(31), sa("198.51.100.1:1"), a.port()),
            Err(NatDrop::NoMapping)
        );
        assert_eq!(n.stats.mappings_expired, 1);
        assert!(n.mappings(T + Duration::from_secs(31)).is_empty());
        // A new mapping takes the next port.
        let b = n
            .outbound(
                T + Duration::from_secs(40),
                sa("192.168.1.2:5000"),
                sa("198.51.100.1:1"),
            )
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn port_allocation_strategies() {
        let mut n = nat(NatKind::EndpointIndependent);
        n.config.port_allocation = PortAllocation::Preserve;
        assert_eq!(
            n.outbound(T, sa("192.168.1.2:50000"), sa("1.1.1.1:1"))
                .unwrap()
                .port(),
            50000
        );
        // Port taken: falls back to sequential.
        assert_eq!(
            n.outbound(T, sa("192.168.1.3:50000"), sa("1.1.1.1:1"))
                .unwrap()
                .port(),
            49152
        );
        // Out of range: sequential.
        assert_eq!(
            n.outbound(T, sa("192.168.1.4:80"), sa("1.1.1.1:1"))
                .unwrap()
                .port(),
            49153
        );

        let mut r = nat(NatKind::EndpointIndependent);
        r.config.port_allocation = PortAllocation::Random;
        let ports: Vec<u16> = (0..20)
            .map(|i| {
                r.outbound(
                    T,
                    SocketAddr::new("192.168.1.2".parse().unwrap(), 1000 + i),
                    sa("1.1.1.1:1"),
                )
                .unwrap()
                .port()
            })
            .collect();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20, "random ports are distinct");
        assert_ne!(ports, sorted, "random ports are not in order");
    }

    #[test]
    fn exhausted_ports_drop() {
        let mut n = nat(NatKind::Symmetric);
        n.config.ports = 40000..=40001;
        assert!(n.outbound(T, sa("192.168.1.2:1"), sa("1.1.1.1:1")).is_ok());
        assert!(n.outbound(T, sa("192.168.1.2:1"), sa("1.1.1.1:2")).is_ok());
        assert_eq!(
            n.outbound(T, sa("192.168.1.2:1"), sa("1.1.1.1:3")),
            Err(NatDrop::NoPort)
        );
        assert_eq!(n.stats.dropped_no_port, 1);
    }
}
