//! Writing what endpoints sent as a pcap file, to read with Wireshark or `tshark`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// pcap magic for nanosecond timestamps (written in little-endian order).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_RAW: each record starts with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;
const IPPROTO_UDP: u8 = 0x11;
/// Largest payload that fits in one UDP datagram over IPv4 (65535 - 20 - 8).
pub(crate) const MAX_PAYLOAD: usize = 65_507;

/// One captured datagram.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub at: Duration,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

fn sum16(bytes: &[u8], mut acc: u32) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The internet checksum (RFC 1071) of the concatenation of `parts`.
pub(crate) fn checksum(parts: &[&[u8]]) -> u16 {
    // Every part but the last has an even length here, so summing them apart is exact.
    fold(parts.iter().fold(0, |acc, p| sum16(p, acc)))
}

/// The IP and UDP headers and payload of one datagram; `None` when the addresses mix
/// families or the payload does not fit.
pub(crate) fn ip_packet(from: SocketAddr, to: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    if data.len() > MAX_PAYLOAD {
        return None;
    }
    let udp_len = u16::try_from(8 + data.len()).ok()?;
    let mut udp = Vec::with_capacity(8);
    udp.extend_from_slice(&from.port().to_be_bytes());
    udp.extend_from_slice(&to.port().to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    let mut out = Vec::with_capacity(48 + data.len());
    match (from.ip(), to.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            // RFC 768 pseudo-header: source, destination, zero, protocol, UDP length.
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, IPPROTO_UDP]);
            pseudo.extend_from_slice(&udp_len.to_be_bytes());
            let c = checksum(&[&pseudo, &udp, data]);
            // A computed zero is sent as all ones (RFC 768).
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            // RFC 791 header: version 4, IHL 5, DF set, TTL 64.
            let total = 20 + udp_len;
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[6] = 0x40;
            ip[8] = 64;
            ip[9] = IPPROTO_UDP;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let c = checksum(&[&ip]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            // RFC 8200 section 8.1 pseudo-header: source, destination, length, zeros, next header.
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&u32::from(udp_len).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_UDP]);
            let c = checksum(&[&pseudo, &udp, data]);
            udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
            // RFC 8200 header: version 6, payload length, next header UDP, hop limit 64.
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip[6] = IPPROTO_UDP;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            out.extend_from_slice(&ip);
        }
        _ => return None,
    }
    out.extend_from_slice(&udp);
    out.extend_from_slice(data);
    Some(out)
}

/// A pcap file (nanosecond timestamps, raw IP link type) of `records`.
pub(crate) fn write(records: &[Captured]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    for r in records {
        let Some(packet) = ip_packet(r.from, r.to, &r.data) else {
            continue;
        };
        let secs = u32::try_from(r.at.as_secs()).unwrap_or(u32::MAX);
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&r.at.subsec_nanos().to_le_bytes());
        // ip_packet() caps the size at 65,535 bytes, so it fits in a u32.
        let len = packet.len() as u32;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&packet);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2, so the checksum is 220d.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            0x220d
        );
        assert_eq!(
            checksum(&[&[0x00, 0x01], &[0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            0x220d
        );
        // An odd tail is padded with a zero byte.
        assert_eq!(checksum(&[&[0x01]]), !0x0100);
    }

    #[test]
    fn ipv4_udp_headers_check_out() {
        let p = ip_packet(sa("192.0.2.1:5000"), sa("198.51.100.7:3478"), b"hello").unwrap();
        assert_eq!(p.len(), 20 + 8 + 5);
        assert_eq!(&p[..4], &[0x45, 0, 0, 33]);
        assert_eq!(checksum(&[&p[..20]]), 0, "IPv4 header checksum verifies");
        assert_eq!(&p[20..26], &[0x13, 0x88, 0x0d, 0x96, 0, 13]);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 17, 0, 13]);
        assert_eq!(checksum(&[&pseudo, &p[20..]]), 0, "UDP checksum verifies");
        assert_eq!(&p[28..], b"hello");
    }

    #[test]
    fn ipv6_udp_headers_check_out() {
        let p = ip_packet(sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"), b"abc").unwrap();
        assert_eq!(p.len(), 40 + 8 + 3);
        assert_eq!((p[0], p[4], p[5], p[6], p[7]), (0x60, 0, 11, 17, 64));
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[8..40]);
        pseudo.extend_from_slice(&[0, 0, 0, 11, 0, 0, 0, 17]);
        assert_eq!(checksum(&[&pseudo, &p[40..]]), 0, "UDP checksum verifies");
    }

    #[test]
    fn unrepresentable_datagrams_are_skipped() {
        assert!(ip_packet(sa("192.0.2.1:1"), sa("[::1]:1"), b"x").is_none());
        assert!(
            ip_packet(
                sa("192.0.2.1:1"),
                sa("192.0.2.2:1"),
                &vec![0; MAX_PAYLOAD + 1]
            )
            .is_none()
        );
        assert!(ip_packet(sa("192.0.2.1:1"), sa("192.0.2.2:1"), &vec![0; MAX_PAYLOAD]).is_some());
    }

    #[test]
    fn file_layout() {
        let recs = [Captured {
            at: Duration::new(3, 5),
            from: sa("192.0.2.1:1"),
            to: sa("192.0.2.2:2"),
            data: b"xy".to_vec(),
        }];
        let f = write(&recs);
        assert_eq!(&f[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(f[20..24].try_into().unwrap()), 101);
        assert_eq!(u32::from_le_bytes(f[24..28].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(f[28..32].try_into().unwrap()), 5);
        assert_eq!(u32::from_le_bytes(f[32..36].try_into().unwrap()), 30);
        assert_eq!(f.len(), 24 + 16 + 30);
    }
}
