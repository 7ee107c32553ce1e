//! Key frame requests: PLI (RFC 4585 section 6.3.1) or FIR (RFC 5104 section 4.3.1).

use crate::rtcp::{Fir, FirEntry, List, Pli, RtcpPacket};
use crate::types::Ssrc;

/// How a receiver asks for a key frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeMethod {
    /// Picture Loss Indication (RFC 4585 section 6.3.1), what browsers send for loss.
    Pli,
    /// Full Intra Request (RFC 5104 section 4.3.1), with its command sequence number.
    Fir,
}

/// Builds key frame requests for one stream, keeping the FIR command sequence number: it
/// grows by one for each new request and stays the same for repetitions of an outstanding
/// one (RFC 5104 section 4.3.1.1), so a sender can tell them apart.
///
/// Call [`request`](Self::request) whenever a request is to be sent (for instance when
/// [`JitterBuffer::poll_keyframe_request`](super::JitterBuffer::poll_keyframe_request) says
/// so), and [`keyframe_received`](Self::keyframe_received) when a key frame arrives.
#[derive(Debug, Clone)]
pub struct KeyframeRequester {
    sender_ssrc: Ssrc,
    media_ssrc: Ssrc,
    method: KeyframeMethod,
    next_seq: u8,
    outstanding: bool,
    entry: [FirEntry; 1],
}

impl KeyframeRequester {
    /// Requests from `sender_ssrc` for the stream `media_ssrc`, by `method`.
    pub fn new(sender_ssrc: Ssrc, media_ssrc: Ssrc, method: KeyframeMethod) -> Self {
        KeyframeRequester {
            sender_ssrc,
            media_ssrc,
            method,
            next_seq: 0,
            outstanding: false,
            entry: [FirEntry {
                ssrc: media_ssrc,
                seq: 0,
            }],
        }
    }

    /// The request to send now: a new one, or a repetition if one is outstanding.
    pub fn request(&mut self) -> RtcpPacket<'_> {
        if !self.outstanding {
            self.outstanding = true;
            self.entry[0].seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        match self.method {
            KeyframeMethod::Pli => RtcpPacket::Pli(Pli {
                sender_ssrc: self.sender_ssrc,
                media_ssrc: self.media_ssrc,
            }),
            KeyframeMethod::Fir => RtcpPacket::Fir(Fir {
                sender_ssrc: self.sender_ssrc,
                // RFC 5104 section 4.3.1.2: the media source SSRC field is not used (0);
                // the target is named in the FCI entry.
                media_ssrc: Ssrc(0),
                entries: List::Items(&self.entry),
            }),
        }
    }

    /// A key frame arrived: the next request is a new command.
    pub fn keyframe_received(&mut self) {
        self.outstanding = false;
    }

    /// Whether a request is outstanding.
    pub fn outstanding(&self) -> bool {
        self.outstanding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::Compound;

    fn fir_seq(r: &mut KeyframeRequester) -> u8 {
        let mut buf = Vec::new();
        r.request().emit_vec(&mut buf).unwrap();
        match Compound::new(&buf).next().unwrap().unwrap() {
            RtcpPacket::Fir(f) => {
                assert_eq!(f.sender_ssrc, Ssrc(1));
                assert_eq!(f.media_ssrc, Ssrc(0));
                let e: Vec<FirEntry> = f.entries.iter().collect();
                assert_eq!(e.len(), 1);
                assert_eq!(e[0].ssrc, Ssrc(2));
                e[0].seq
            }
            other => panic!("not a FIR: {other:?}"),
        }
    }

    #[test]
    fn fir_sequence_numbers_new_and_repeated() {
        let mut r = KeyframeRequester::new(Ssrc(1), Ssrc(2), KeyframeMethod::Fir);
        assert!(!r.outstanding());
        assert_eq!(fir_seq(&mut r), 0);
        // Repetitions keep the number.
        assert_eq!(fir_seq(&mut r), 0);
        assert!(r.outstanding());
        r.keyframe_received();
        assert_eq!(fir_seq(&mut r), 1);
        // Wraps modulo 256.
        for want in 2..=255u8 {
            r.keyframe_received();
            assert_eq!(fir_seq(&mut r), want);
        }
        r.keyframe_received();
        assert_eq!(fir_seq(&mut r), 0);
    }

    #[test]
    fn pli() {
        let mut r = KeyframeRequester::new(Ssrc(1), Ssrc(2), KeyframeMethod::Pli);
        assert_eq!(
            r.request(),
            RtcpPacket::Pli(Pli {
                sender_ssrc: Ssrc(1),
                media_ssrc: Ssrc(2)
            })
        );
        assert!(r.outstanding());
    }
}
