//! A zero-copy byte reader and a length-prefix writer: the two primitives every wire codec in
//! this crate is built from (RFC 5246 §4 presentation language).

use crate::error::DecodeError;

/// A cursor over borrowed bytes. Every read is bounds-checked and returns
/// [`DecodeError::Truncated`] instead of panicking.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        // `pos` never exceeds `buf.len()`: every advance is checked in `take`.
        &self.buf[self.pos..]
    }

    /// Number of bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads a big-endian `uint16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `uint24`.
    pub fn u24(&mut self) -> Result<u32, DecodeError> {
        let b: [u8; 3] = self.array()?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads a big-endian `uint48`.
    pub fn u48(&mut self) -> Result<u64, DecodeError> {
        let b: [u8; 6] = self.array()?;
        Ok(u64::from_be_bytes([
            0, 0, b[0], b[1], b[2], b[3], b[4], b[5],
        ]))
    }

    /// Reads `opaque x<0..2^8-1>`.
    pub fn vec8(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u8()? as usize;
        self.take(n)
    }

    /// Reads `opaque x<0..2^16-1>`.
    pub fn vec16(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// Reads `opaque x<0..2^24-1>`.
    pub fn vec24(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u24()? as usize;
        self.take(n)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Appends a big-endian `uint16`.
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `uint24`. Values above 2^24-1 are an encoder bug; callers bound them.
pub(crate) fn put_u24(out: &mut Vec<u8>, v: u32) {
    debug_assert!(v < 1 << 24);
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends a big-endian `uint48`.
pub(crate) fn put_u48(out: &mut Vec<u8>, v: u64) {
    debug_assert!(v < 1 << 48);
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

/// Width of a length prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Len {
    U8,
    U16,
    U24,
}

/// Writes a length-prefixed vector: reserves the prefix, runs `body`, then patches the length.
pub(crate) fn put_vec(out: &mut Vec<u8>, len: Len, body: impl FnOnce(&mut Vec<u8>)) {
    let width = match len {
        Len::U8 => 1,
        Len::U16 => 2,
        Len::U24 => 3,
    };
    let start = out.len();
    out.extend_from_slice(&[0u8; 3][..width]);
    body(out);
    let n = out.len() - start - width;
    let bytes = (n as u32).to_be_bytes();
    out[start..start + width].copy_from_slice(&bytes[4 - width..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_overruns() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u16(), Err(DecodeError::Truncated));
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.finish().is_ok());
        let mut r = Reader::new(&[5, 1, 2]);
        assert_eq!(r.vec8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn vec_prefix_is_patched() {
        let mut out = Vec::new();
        put_vec(&mut out, Len::U24, |o| o.extend_from_slice(&[9; 5]));
        assert_eq!(out, [0, 0, 5, 9, 9, 9, 9, 9]);
        let mut r = Reader::new(&out);
        assert_eq!(r.vec24().unwrap(), &[9; 5]);
        put_u48(&mut out, 0x0102_0304_0506);
        assert_eq!(&out[8..], &[1, 2, 3, 4, 5, 6]);
    }
}
