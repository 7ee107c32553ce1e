//! What the VP8 (RFC 7741 section 4.2) and VP9 (RFC 9628 section 4.2) payload descriptors
//! share: they are read octet by octet, and their picture id is the same field,
//!
//! ```text
//! I: |M| PICTURE ID  | (a second octet, the low 8 bits of a 15-bit id, when M = 1)
//! ```

use crate::error::DepacketizeError;

/// Reads a payload descriptor from the start of a payload.
pub(crate) struct DescriptorReader<'a> {
    p: &'a [u8],
    at: usize,
    /// What a truncated descriptor is reported as.
    truncated: &'static str,
}

impl<'a> DescriptorReader<'a> {
    /// A reader at the start of `p`; running out of bytes is
    /// [`DepacketizeError::Malformed`] with `truncated`.
    pub(crate) fn new(p: &'a [u8], truncated: &'static str) -> Self {
        DescriptorReader {
            p,
            at: 0,
            truncated,
        }
    }

    /// The error for a descriptor that ends too early.
    pub(crate) fn short(&self) -> DepacketizeError {
        DepacketizeError::Malformed {
            what: self.truncated,
        }
    }

    /// The next octet.
    pub(crate) fn next(&mut self) -> Result<u8, DepacketizeError> {
        let b = *self.p.get(self.at).ok_or_else(|| self.short())?;
        self.at += 1;
        Ok(b)
    }

    /// The picture id field: the id, and whether it took the 15-bit form (M = 1).
    pub(crate) fn picture_id(&mut self) -> Result<(u16, bool), DepacketizeError> {
        let i = self.next()?;
        Ok(if i & 0x80 != 0 {
            ((u16::from(i & 0x7f) << 8) | u16::from(self.next()?), true)
        } else {
            (u16::from(i), false)
        })
    }

    /// Octets read so far.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// The bytes after what was read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.p[self.at..]
    }

    /// Skips `n` octets read by someone else.
    pub(crate) fn advance(&mut self, n: usize) {
        self.at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_id_forms() {
        let mut r = DescriptorReader::new(&[0x12, 0x92, 0x34], "t");
        assert_eq!(r.picture_id(), Ok((0x12, false)));
        assert_eq!(r.picture_id(), Ok((0x1234, true)));
        assert_eq!(r.position(), 3);
        assert!(r.next().is_err());
        assert!(DescriptorReader::new(&[0x80], "t").picture_id().is_err());
    }
}
