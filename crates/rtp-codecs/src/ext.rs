//! Typed RTP header extensions and the id -> kind registry negotiated by SDP `a=extmap`
//! (RFC 8285 section 5).

use ferrtc_types::ExtensionId;

use crate::error::ParseError;
use crate::rtp::ExtensionElement;

/// The header extensions this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionKind {
    /// Media identification (RFC 8843 section 15).
    Mid,
    /// RTP stream id (RFC 8852 section 3.1).
    Rid,
    /// Repaired RTP stream id (RFC 8852 section 3.2).
    RepairedRid,
    /// Absolute send time, 6.18 fixed-point seconds (webrtc.org abs-send-time).
    AbsSendTime,
    /// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    TransportCc,
    /// Client-to-mixer audio level (RFC 6464).
    AudioLevel,
    /// Coordination of video orientation (3GPP TS 26.114 section 7.4.5).
    VideoOrientation,
    /// Playout delay limits (webrtc.org playout-delay).
    PlayoutDelay,
    /// Transmission time offset (RFC 5450).
    TransmissionOffset,
}

impl ExtensionKind {
    /// Every kind, for iteration.
    pub const ALL: [ExtensionKind; 9] = [
        ExtensionKind::Mid,
        ExtensionKind::Rid,
        ExtensionKind::RepairedRid,
        ExtensionKind::AbsSendTime,
        ExtensionKind::TransportCc,
        ExtensionKind::AudioLevel,
        ExtensionKind::VideoOrientation,
        ExtensionKind::PlayoutDelay,
        ExtensionKind::TransmissionOffset,
    ];

    /// The URI that names this extension in SDP `a=extmap`.
    pub const fn uri(self) -> &'static str {
        match self {
            ExtensionKind::Mid => "urn:ietf:params:rtp-hdrext:sdes:mid",
            ExtensionKind::Rid => "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            ExtensionKind::RepairedRid => "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
            ExtensionKind::AbsSendTime => {
                "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
            }
            ExtensionKind::TransportCc => {
                "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
            }
            ExtensionKind::AudioLevel => "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            ExtensionKind::VideoOrientation => "urn:3gpp:video-orientation",
            ExtensionKind::PlayoutDelay => {
                "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
            }
            ExtensionKind::TransmissionOffset => "urn:ietf:params:rtp-hdrext:toffset",
        }
    }

    /// The kind an SDP URI names, if known.
    pub fn from_uri(uri: &str) -> Option<ExtensionKind> {
        ExtensionKind::ALL.into_iter().find(|k| k.uri() == uri)
    }
}

/// A decoded header extension value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension<'a> {
    /// Media identification.
    Mid(&'a str),
    /// RTP stream id.
    Rid(&'a str),
    /// Repaired RTP stream id.
    RepairedRid(&'a str),
    /// Absolute send time: 24 bits, 6.18 fixed-point seconds.
    AbsSendTime(u32),
    /// Transport-wide sequence number.
    TransportCc(u16),
    /// Audio level (RFC 6464 section 3).
    AudioLevel {
        /// Voice activity flag.
        voice: bool,
        /// Level in -dBov, 0..=127.
        level: u8,
    },
    /// Video orientation (3GPP TS 26.114).
    VideoOrientation {
        /// Camera: false = front, true = back.
        back_camera: bool,
        /// Horizontal flip.
        flip: bool,
        /// Rotation in quarter turns (0..=3: 0, 90, 180, 270 degrees).
        rotation: u8,
    },
    /// Playout delay limits in 10 ms units, 12 bits each.
    PlayoutDelay {
        /// Minimum delay.
        min: u16,
        /// Maximum delay.
        max: u16,
    },
    /// Transmission time offset, a signed 24-bit value in RTP timestamp units (RFC 5450).
    TransmissionOffset(i32),
}

/// RFC 8852 section 3: rid values are alphanumeric with '-' and '_' (RFC 8851 `rid-id`).
fn rid_str(d: &[u8], kind: ExtensionKind) -> Result<&str, ParseError> {
    let ok = !d.is_empty()
        && d.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if !ok {
        return Err(ParseError::BadExtensionValue { kind, len: d.len() });
    }
    // All bytes are ASCII, checked above.
    core::str::from_utf8(d).map_err(|_| ParseError::BadExtensionValue { kind, len: d.len() })
}

impl<'a> Extension<'a> {
    /// The kind of this value.
    pub fn kind(&self) -> ExtensionKind {
        match self {
            Extension::Mid(_) => ExtensionKind::Mid,
            Extension::Rid(_) => ExtensionKind::Rid,
            Extension::RepairedRid(_) => ExtensionKind::RepairedRid,
            Extension::AbsSendTime(_) => ExtensionKind::AbsSendTime,
            Extension::TransportCc(_) => ExtensionKind::TransportCc,
            Extension::AudioLevel { .. } => ExtensionKind::AudioLevel,
            Extension::VideoOrientation { .. } => ExtensionKind::VideoOrientation,
            Extension::PlayoutDelay { .. } => ExtensionKind::PlayoutDelay,
            Extension::TransmissionOffset(_) => ExtensionKind::TransmissionOffset,
        }
    }

    /// Decodes the value `d` of an element of `kind`.
    pub fn parse(kind: ExtensionKind, d: &'a [u8]) -> Result<Extension<'a>, ParseError> {
        let bad = || ParseError::BadExtensionValue { kind, len: d.len() };
        let fixed = |n: usize| if d.len() == n { Ok(()) } else { Err(bad()) };
        Ok(match kind {
            ExtensionKind::Mid => {
                // RFC 8843 section 15: the mid is an SDES item, a non-empty token.
                if d.is_empty() {
                    return Err(bad());
                }
                Extension::Mid(core::str::from_utf8(d).map_err(|_| bad())?)
            }
            ExtensionKind::Rid => Extension::Rid(rid_str(d, kind)?),
            ExtensionKind::RepairedRid => Extension::RepairedRid(rid_str(d, kind)?),
            ExtensionKind::AbsSendTime => {
                fixed(3)?;
                Extension::AbsSendTime(u32::from_be_bytes([0, d[0], d[1], d[2]]))
            }
            ExtensionKind::TransportCc => {
                fixed(2)?;
                Extension::TransportCc(u16::from_be_bytes([d[0], d[1]]))
            }
            ExtensionKind::AudioLevel => {
                fixed(1)?;
                Extension::AudioLevel {
                    voice: d[0] & 0x80 != 0,
                    level: d[0] & 0x7f,
                }
            }
            ExtensionKind::VideoOrientation => {
                fixed(1)?;
                Extension::VideoOrientation {
                    back_camera: d[0] & 0x08 != 0,
                    flip: d[0] & 0x04 != 0,
                    rotation: d[0] & 0x03,
                }
            }
            ExtensionKind::PlayoutDelay => {
                fixed(3)?;
                let v = u32::from_be_bytes([0, d[0], d[1], d[2]]);
                Extension::PlayoutDelay {
                    min: (v >> 12) as u16,
                    max: (v & 0xfff) as u16,
                }
            }
            ExtensionKind::TransmissionOffset => {
                fixed(3)?;
                // Sign-extend the 24-bit value.
                Extension::TransmissionOffset(i32::from_be_bytes([d[0], d[1], d[2], 0]) >> 8)
            }
        })
    }

    /// Writes the value into `out` and returns its length (strings longer than
    /// [`MAX_VALUE_LEN`] are cut there). Values wider than their fields are
    /// truncated to the field (e.g. a 24-bit abs-send-time keeps its low 24 bits).
    pub fn write_value(&self, out: &mut [u8; MAX_VALUE_LEN]) -> usize {
        let s = |out: &mut [u8; MAX_VALUE_LEN], v: &str| {
            let n = v.len().min(MAX_VALUE_LEN);
            out[..n].copy_from_slice(&v.as_bytes()[..n]);
            n
        };
        match *self {
            Extension::Mid(v) | Extension::Rid(v) | Extension::RepairedRid(v) => s(out, v),
            Extension::AbsSendTime(t) => {
                out[..3].copy_from_slice(&t.to_be_bytes()[1..]);
                3
            }
            Extension::TransportCc(n) => {
                out[..2].copy_from_slice(&n.to_be_bytes());
                2
            }
            Extension::AudioLevel { voice, level } => {
                out[0] = (u8::from(voice) << 7) | (level & 0x7f);
                1
            }
            Extension::VideoOrientation {
                back_camera,
                flip,
                rotation,
            } => {
                out[0] = (u8::from(back_camera) << 3) | (u8::from(flip) << 2) | (rotation & 3);
                1
            }
            Extension::PlayoutDelay { min, max } => {
                let v = (u32::from(min & 0xfff) << 12) | u32::from(max & 0xfff);
                out[..3].copy_from_slice(&v.to_be_bytes()[1..]);
                3
            }
            Extension::TransmissionOffset(t) => {
                out[..3].copy_from_slice(&t.to_be_bytes()[1..]);
                3
            }
        }
    }
}

/// Longest value [`Extension::write_value`] writes (a two-byte element's limit).
pub const MAX_VALUE_LEN: usize = 255;

/// The registry of negotiated extension ids (RFC 8285 section 5): id -> kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionMap {
    kinds: [Option<ExtensionKind>; 256],
}

impl Default for ExtensionMap {
    fn default() -> Self {
        ExtensionMap::new()
    }
}

impl ExtensionMap {
    /// An empty map.
    pub const fn new() -> Self {
        ExtensionMap { kinds: [None; 256] }
    }

    /// Maps `id` to `kind`, replacing what was there.
    pub fn insert(&mut self, id: ExtensionId, kind: ExtensionKind) {
        self.kinds[usize::from(id.get())] = Some(kind);
    }

    /// Maps `id` to the extension named by `uri` (an `a=extmap` line). Returns the kind, or
    /// `None` for an unknown URI (whose elements then pass through as unknown).
    pub fn insert_uri(&mut self, id: ExtensionId, uri: &str) -> Option<ExtensionKind> {
        let kind = ExtensionKind::from_uri(uri)?;
        self.insert(id, kind);
        Some(kind)
    }

    /// Removes the mapping of `id`.
    pub fn remove(&mut self, id: ExtensionId) {
        self.kinds[usize::from(id.get())] = None;
    }

    /// The kind mapped to `id`.
    pub fn kind(&self, id: ExtensionId) -> Option<ExtensionKind> {
        self.kinds[usize::from(id.get())]
    }

    /// The (first) id mapped to `kind`.
    pub fn id_of(&self, kind: ExtensionKind) -> Option<ExtensionId> {
        (1..=255u8)
            .filter_map(ExtensionId::new)
            .find(|&i| self.kind(i) == Some(kind))
    }

    /// Decodes an element: `None` if its id is not mapped (an unknown extension, to be
    /// passed through untouched), else the typed value or why it is malformed.
    pub fn decode<'a>(
        &self,
        element: ExtensionElement<'a>,
    ) -> Option<Result<Extension<'a>, ParseError>> {
        let kind = self.kind(element.id)?;
        Some(Extension::parse(kind, element.data))
    }

    /// The typed value of `kind` in `ext`, if present and well formed.
    pub fn find<'a>(
        &self,
        ext: &crate::rtp::RawExtension<'a>,
        kind: ExtensionKind,
    ) -> Option<Extension<'a>> {
        let id = self.id_of(kind)?;
        ext.elements()
            .filter_map(Result::ok)
            .find(|e| e.id == id)
            .and_then(|e| Extension::parse(kind, e.data).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{ExtensionForm, ExtensionWriter, RawExtension};
    use ferrtc_types::ExtensionId;

    /// A test's extension id (never 0).
    fn ext_id(n: u8) -> ExtensionId {
        ExtensionId::new(n).expect("test ids are not 0")
    }

    #[test]
    fn uris_round_trip() {
        for k in ExtensionKind::ALL {
            assert_eq!(ExtensionKind::from_uri(k.uri()), Some(k));
        }
        assert_eq!(ExtensionKind::from_uri("urn:example:nope"), None);
    }

    #[test]
    fn values_round_trip() {
        let cases = [
            Extension::Mid("0"),
            Extension::Rid("hi-res_1"),
            Extension::RepairedRid("r"),
            Extension::AbsSendTime(0x12_3456),
            Extension::TransportCc(0xbeef),
            Extension::AudioLevel {
                voice: true,
                level: 42,
            },
            Extension::VideoOrientation {
                back_camera: true,
                flip: false,
                rotation: 3,
            },
            Extension::PlayoutDelay {
                min: 0x123,
                max: 0xabc,
            },
            Extension::TransmissionOffset(-5),
            Extension::TransmissionOffset(0x7f_ffff),
        ];
        for e in cases {
            let mut buf = [0u8; MAX_VALUE_LEN];
            let n = e.write_value(&mut buf);
            assert_eq!(Extension::parse(e.kind(), &buf[..n]), Ok(e), "{e:?}");
        }
    }

    #[test]
    fn wire_values() {
        // RFC 6464 section 3: V=1, level 0x21.
        assert_eq!(
            Extension::parse(ExtensionKind::AudioLevel, &[0xa1]),
            Ok(Extension::AudioLevel {
                voice: true,
                level: 0x21
            })
        );
        // RFC 5450: -1 as 24 bits.
        assert_eq!(
            Extension::parse(ExtensionKind::TransmissionOffset, &[0xff, 0xff, 0xff]),
            Ok(Extension::TransmissionOffset(-1))
        );
        assert_eq!(
            Extension::parse(ExtensionKind::PlayoutDelay, &[0x00, 0x10, 0x0a]),
            Ok(Extension::PlayoutDelay { min: 1, max: 10 })
        );
    }

    #[test]
    fn malformed_values() {
        assert!(Extension::parse(ExtensionKind::TransportCc, &[1]).is_err());
        assert!(Extension::parse(ExtensionKind::Rid, b"a b").is_err());
        assert!(Extension::parse(ExtensionKind::Rid, b"").is_err());
        assert!(Extension::parse(ExtensionKind::Mid, &[0xff, 0xfe]).is_err());
        assert!(Extension::parse(ExtensionKind::AbsSendTime, &[1, 2, 3, 4]).is_err());
    }

    #[test]
    fn map_decodes_and_passes_unknown() {
        let mut map = ExtensionMap::new();
        assert_eq!(
            map.insert_uri(ext_id(3), ExtensionKind::TransportCc.uri()),
            Some(ExtensionKind::TransportCc)
        );
        assert_eq!(
            map.insert_uri(ext_id(4), ExtensionKind::Mid.uri()),
            Some(ExtensionKind::Mid)
        );
        assert_eq!(map.insert_uri(ext_id(5), "urn:example:unknown"), None);
        // Id 0 is padding: no ExtensionId holds it, so it cannot be mapped.
        assert_eq!(ExtensionId::new(0), None);
        assert_eq!(map.id_of(ExtensionKind::Mid), Some(ext_id(4)));
        let mut store = [0u8; 16];
        let mut w = ExtensionWriter::new(&mut store, ExtensionForm::OneByte);
        w.push(ext_id(3), &[0x01, 0x02]).unwrap();
        w.push(ext_id(4), b"v").unwrap();
        w.push(ext_id(5), &[9, 9, 9]).unwrap();
        let ext: RawExtension<'_> = w.finish().unwrap();
        let decoded: Vec<_> = ext.elements().map(|e| map.decode(e.unwrap())).collect();
        assert_eq!(
            decoded,
            vec![
                Some(Ok(Extension::TransportCc(0x0102))),
                Some(Ok(Extension::Mid("v"))),
                None
            ]
        );
        assert_eq!(
            map.find(&ext, ExtensionKind::TransportCc),
            Some(Extension::TransportCc(0x0102))
        );
        map.remove(ext_id(3));
        assert_eq!(map.find(&ext, ExtensionKind::TransportCc), None);
    }
}
