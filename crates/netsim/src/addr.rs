//! IP prefixes used to select links and to describe the inside of a NAT.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP prefix such as `10.0.0.0/8` or `fd00::/64`.
///
/// A single address converts into a host prefix (`/32` or `/128`), so every API that takes a
/// prefix also takes a plain [`IpAddr`]. [`Prefix::ANY_V4`] and [`Prefix::ANY_V6`] match every
/// address of their family; [`Prefix::ANY`] matches every address of both families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// Every address of either family.
    Any,
    /// `addr/len` with the host bits of `addr` cleared.
    Net { addr: IpAddr, len: u8 },
}

/// The reasons a prefix can be rejected by [`Prefix::new`] or by parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrefixError {
    /// The text is not `address` or `address/length`.
    Syntax,
    /// The length is longer than the address (more than 32 for IPv4, 128 for IPv6).
    LengthTooLong {
        /// The length that was given.
        len: u8,
        /// The largest length the address family allows.
        max: u8,
    },
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str("expected an IP address or address/length"),
            Self::LengthTooLong { len, max } => {
                write!(
                    f,
                    "prefix length {len} is longer than the address ({max} bits)"
                )
            }
        }
    }
}

impl std::error::Error for PrefixError {}

impl Prefix {
    /// Every IPv4 and every IPv6 address.
    pub const ANY: Prefix = Prefix { kind: Kind::Any };
    /// Every IPv4 address (`0.0.0.0/0`).
    pub const ANY_V4: Prefix = Prefix {
        kind: Kind::Net {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            len: 0,
        },
    };
    /// Every IPv6 address (`::/0`).
    pub const ANY_V6: Prefix = Prefix {
        kind: Kind::Net {
            addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            len: 0,
        },
    };

    /// The prefix `addr/len`; host bits of `addr` are cleared.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, PrefixError> {
        let max = max_len(addr);
        if len > max {
            return Err(PrefixError::LengthTooLong { len, max });
        }
        Ok(Prefix {
            kind: Kind::Net {
                addr: mask(addr, len),
                len,
            },
        })
    }

    /// The prefix that holds exactly `addr`.
    pub fn host(addr: IpAddr) -> Self {
        Prefix {
            kind: Kind::Net {
                addr,
                len: max_len(addr),
            },
        }
    }

    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self.kind {
            Kind::Any => true,
            Kind::Net { addr, len } => addr.is_ipv4() == ip.is_ipv4() && mask(ip, len) == addr,
        }
    }

    /// How specific the prefix is: its length in bits, and 0 for [`Prefix::ANY`].
    pub fn specificity(&self) -> u8 {
        match self.kind {
            Kind::Any => 0,
            Kind::Net { len, .. } => len,
        }
    }
}

fn max_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl From<IpAddr> for Prefix {
    fn from(addr: IpAddr) -> Self {
        Prefix::host(addr)
    }
}

impl From<Ipv4Addr> for Prefix {
    fn from(addr: Ipv4Addr) -> Self {
        Prefix::host(addr.into())
    }
}

impl From<Ipv6Addr> for Prefix {
    fn from(addr: Ipv6Addr) -> Self {
        Prefix::host(addr.into())
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    /// Parses `*` (every address), `addr` (a host prefix) or `addr/len`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            return Ok(Prefix::ANY);
        }
        match s.split_once('/') {
            None => s
                .parse::<IpAddr>()
                .map(Prefix::host)
                .map_err(|_| PrefixError::Syntax),
            Some((a, l)) => {
                let addr = a.parse::<IpAddr>().map_err(|_| PrefixError::Syntax)?;
                let len = l.parse::<u8>().map_err(|_| PrefixError::Syntax)?;
                Prefix::new(addr, len)
            }
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Any => f.write_str("*"),
            Kind::Net { addr, len } => write!(f, "{addr}/{len}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn contains_v4() {
        let p: Prefix = "192.168.1.77/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.168.1.0/24");
        assert!(p.contains(ip("192.168.1.1")));
        assert!(p.contains(ip("192.168.1.255")));
        assert!(!p.contains(ip("192.168.2.1")));
        assert!(!p.contains(ip("::1")));
        assert_eq!(p.specificity(), 24);
    }

    #[test]
    fn contains_v6_and_any() {
        let p: Prefix = "fd00:1::/32".parse().unwrap();
        assert!(p.contains(ip("fd00:1::5")));
        assert!(!p.contains(ip("fd00:2::5")));
        assert!(!p.contains(ip("10.0.0.1")));
        assert!(Prefix::ANY.contains(ip("10.0.0.1")));
        assert!(Prefix::ANY.contains(ip("::1")));
        assert!(Prefix::ANY_V4.contains(ip("1.2.3.4")));
        assert!(!Prefix::ANY_V4.contains(ip("::1")));
        assert!(Prefix::ANY_V6.contains(ip("::1")));
        assert_eq!("*".parse::<Prefix>().unwrap(), Prefix::ANY);
    }

    #[test]
    fn host_prefix() {
        let p = Prefix::from(ip("10.1.2.3"));
        assert!(p.contains(ip("10.1.2.3")));
        assert!(!p.contains(ip("10.1.2.4")));
        assert_eq!(p.specificity(), 32);
        assert_eq!("10.1.2.3".parse::<Prefix>().unwrap(), p);
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(
            "10.0.0.0/33".parse::<Prefix>(),
            Err(PrefixError::LengthTooLong { len: 33, max: 32 })
        );
        assert_eq!("10.0.0/8".parse::<Prefix>(), Err(PrefixError::Syntax));
        assert_eq!("10.0.0.0/x".parse::<Prefix>(), Err(PrefixError::Syntax));
        assert!("::/129".parse::<Prefix>().is_err());
        assert_eq!("::/0".parse::<Prefix>().unwrap(), Prefix::ANY_V6);
    }
}
