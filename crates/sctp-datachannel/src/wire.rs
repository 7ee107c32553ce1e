//! SCTP packet and chunk codecs (RFC 9260 section 3, RFC 3758, RFC 6525).
//!
//! Two levels, as in smoltcp: [`Packet`] is a checked view over the bytes of one SCTP packet
//! (common header plus chunks), [`Chunks`] walks its chunks as [`Chunk`] views, and
//! [`ChunkRepr::parse`] turns a chunk into a typed representation whose variable parts
//! (payloads, gap blocks, parameters) still borrow from the packet. Every repr can be emitted
//! again with [`ChunkRepr::emit`]; parsing what was emitted gives the same repr back.
//!
//! Nothing here panics on any input: every accessor is reached only after a length check.

use bytes::{BufMut, BytesMut};

use crate::error::Error;

/// Chunk type codes (RFC 9260 section 3.2; RFC 3758 section 3.2; RFC 6525 section 3.1;
/// RFC 8260 section 2).
pub mod chunk_type {
    /// Payload Data (RFC 9260 section 3.3.1).
    pub const DATA: u8 = 0x00;
    /// Initiation (section 3.3.2).
    pub const INIT: u8 = 0x01;
    /// Initiation Acknowledgement (section 3.3.3).
    pub const INIT_ACK: u8 = 0x02;
    /// Selective Acknowledgement (section 3.3.4).
    pub const SACK: u8 = 0x03;
    /// Heartbeat Request (section 3.3.5).
    pub const HEARTBEAT: u8 = 0x04;
    /// Heartbeat Acknowledgement (section 3.3.6).
    pub const HEARTBEAT_ACK: u8 = 0x05;
    /// Abort (section 3.3.7).
    pub const ABORT: u8 = 0x06;
    /// Shutdown (section 3.3.8).
    pub const SHUTDOWN: u8 = 0x07;
    /// Shutdown Acknowledgement (section 3.3.9).
    pub const SHUTDOWN_ACK: u8 = 0x08;
    /// Operation Error (section 3.3.10).
    pub const ERROR: u8 = 0x09;
    /// State Cookie (section 3.3.11).
    pub const COOKIE_ECHO: u8 = 0x0a;
    /// Cookie Acknowledgement (section 3.3.12).
    pub const COOKIE_ACK: u8 = 0x0b;
    /// Shutdown Complete (section 3.3.13).
    pub const SHUTDOWN_COMPLETE: u8 = 0x0e;
    /// I-DATA (RFC 8260 section 2.1).
    pub const I_DATA: u8 = 0x40;
    /// Re-configuration (RFC 6525 section 3.1).
    pub const RE_CONFIG: u8 = 0x82;
    /// Forward Cumulative TSN (RFC 3758 section 3.2).
    pub const FORWARD_TSN: u8 = 0xc0;
    /// I-FORWARD-TSN (RFC 8260 section 2.3.1).
    pub const I_FORWARD_TSN: u8 = 0xc2;
}

/// Parameter types inside INIT and INIT ACK (RFC 9260 section 3.3.2.1, RFC 3758 section 3.1,
/// RFC 5061 section 4.2.7) and inside RE-CONFIG (RFC 6525 section 4).
pub mod param_type {
    /// Heartbeat Info (RFC 9260 section 3.3.5).
    pub const HEARTBEAT_INFO: u16 = 0x0001;
    /// State Cookie (section 3.3.3.1).
    pub const STATE_COOKIE: u16 = 0x0007;
    /// Unrecognized Parameter (section 3.3.3.1).
    pub const UNRECOGNIZED_PARAM: u16 = 0x0008;
    /// Outgoing SSN Reset Request (RFC 6525 section 4.1).
    pub const OUTGOING_RESET: u16 = 0x000d;
    /// Incoming SSN Reset Request (RFC 6525 section 4.2).
    pub const INCOMING_RESET: u16 = 0x000e;
    /// Re-configuration Response (RFC 6525 section 4.4).
    pub const RECONFIG_RESPONSE: u16 = 0x0010;
    /// Supported Extensions (RFC 5061 section 4.2.7).
    pub const SUPPORTED_EXTENSIONS: u16 = 0x8008;
    /// Forward-TSN-Supported (RFC 3758 section 3.1).
    pub const FORWARD_TSN_SUPPORTED: u16 = 0xc000;
}

/// Error cause codes (RFC 9260 section 3.3.10).
pub mod cause_code {
    /// Invalid Stream Identifier.
    pub const INVALID_STREAM: u16 = 0x0001;
    /// Missing Mandatory Parameter.
    pub const MISSING_PARAM: u16 = 0x0002;
    /// Stale Cookie.
    pub const STALE_COOKIE: u16 = 0x0003;
    /// Out of Resource.
    pub const OUT_OF_RESOURCE: u16 = 0x0004;
    /// Unrecognized Chunk Type.
    pub const UNRECOGNIZED_CHUNK: u16 = 0x0006;
    /// No User Data.
    pub const NO_USER_DATA: u16 = 0x0009;
    /// User-Initiated Abort.
    pub const USER_ABORT: u16 = 0x000c;
    /// Protocol Violation.
    pub const PROTOCOL_VIOLATION: u16 = 0x000d;
}

/// Length of the common header (RFC 9260 section 3.1).
pub const COMMON_HEADER_LEN: usize = 12;
/// Length of a chunk header: type, flags, length (section 3.2).
pub const CHUNK_HEADER_LEN: usize = 4;
/// Length of a DATA chunk up to its user data (section 3.3.1).
pub const DATA_HEADER_LEN: usize = 16;
/// I-DATA chunk header (RFC 8260 section 2.1): the DATA header plus 4 bytes.
pub const I_DATA_HEADER_LEN: usize = 20;

/// DATA chunk flag: the receiver should SACK at once (RFC 7053 section 3).
pub const DATA_FLAG_IMMEDIATE: u8 = 0x08;
/// DATA chunk flag: unordered (RFC 9260 section 3.3.1).
pub const DATA_FLAG_UNORDERED: u8 = 0x04;
/// DATA chunk flag: first fragment.
pub const DATA_FLAG_BEGIN: u8 = 0x02;
/// DATA chunk flag: last fragment.
pub const DATA_FLAG_END: u8 = 0x01;
/// ABORT / SHUTDOWN COMPLETE flag: the verification tag is reflected (section 3.3.7).
pub const FLAG_T: u8 = 0x01;

/// Byte ranges of the common header (RFC 9260 section 3.1).
mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const VTAG: Range<usize> = 4..8;
    pub const CHECKSUM: Range<usize> = 8..12;
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Computes the CRC32c of a packet as if its checksum field were zero (RFC 9260 appendix A).
///
/// The caller guarantees `packet.len() >= COMMON_HEADER_LEN`; shorter input hashes what is there.
pub fn checksum(packet: &[u8]) -> u32 {
    if packet.len() < COMMON_HEADER_LEN {
        return crc32c::crc32c(packet);
    }
    let c = crc32c::crc32c(&packet[..field::CHECKSUM.start]);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, &packet[field::CHECKSUM.end..])
}

/// A checked view over one SCTP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks; accessors may panic if it is shorter than the header.
    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after checking it holds a common header. The checksum is not verified
    /// here: see [`Packet::verify_checksum`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < COMMON_HEADER_LEN {
            return Err(Error::Truncated {
                what: "common header",
            });
        }
        Ok(Self { buffer })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VTAG.start)
    }

    /// The checksum field as stored (CRC32c, little-endian on the wire as every
    /// implementation writes it, RFC 9260 appendix A).
    pub fn checksum_field(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_le_bytes([b[8], b[9], b[10], b[11]])
    }

    /// Checks the CRC32c.
    pub fn verify_checksum(&self) -> Result<(), Error> {
        if checksum(self.buffer.as_ref()) == self.checksum_field() {
            Ok(())
        } else {
            Err(Error::BadChecksum)
        }
    }

    /// The chunk area, after the common header.
    pub fn chunk_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[COMMON_HEADER_LEN..]
    }

    /// Iterates over the chunks.
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks::new(self.chunk_bytes())
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Releases the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The fields of the common header (RFC 9260 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommonHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Verification tag.
    pub verification_tag: u32,
}

impl CommonHeader {
    /// Appends the header with a zero checksum; call [`finish_packet`] once the chunks follow.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u16(self.src_port);
        out.put_u16(self.dst_port);
        out.put_u32(self.verification_tag);
        out.put_u32(0);
    }
}

/// Writes the CRC32c into a packet whose common header starts at `packet[0]`.
pub fn finish_packet(packet: &mut [u8]) {
    if packet.len() < COMMON_HEADER_LEN {
        return;
    }
    let c = checksum(packet);
    packet[field::CHECKSUM].copy_from_slice(&c.to_le_bytes());
}

/// A view of one chunk: its type, flags, and value (the bytes after the 4-byte header, without
/// padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Chunk type.
    pub kind: u8,
    /// Chunk flags.
    pub flags: u8,
    /// Chunk value.
    pub value: &'a [u8],
}

/// Iterator over the chunks of a packet. Yields an error once and then stops if a chunk is
/// malformed.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Chunks<'a> {
    /// Walks the chunk area `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < CHUNK_HEADER_LEN {
            self.rest = &[];
            return Some(Err(Error::Truncated {
                what: "chunk header",
            }));
        }
        let len = usize::from(be16(b, 2));
        if len < CHUNK_HEADER_LEN || len > b.len() {
            self.rest = &[];
            return Some(Err(Error::BadLength { what: "chunk" }));
        }
        let chunk = Chunk {
            kind: b[0],
            flags: b[1],
            value: &b[CHUNK_HEADER_LEN..len],
        };
        // The last chunk's padding is sometimes left off; accept that.
        self.rest = b.get(pad4(len)..).unwrap_or(&[]);
        Some(Ok(chunk))
    }
}

/// A fixed-size item of a list carried in a chunk (gap blocks, TSNs, stream ids).
pub trait WireItem: Copy + PartialEq + core::fmt::Debug {
    /// Encoded size.
    const SIZE: usize;
    /// Reads one item from exactly `SIZE` bytes.
    fn read(b: &[u8]) -> Self;
    /// Appends the item.
    fn write(&self, out: &mut BytesMut);
}

impl WireItem for u16 {
    const SIZE: usize = 2;
    fn read(b: &[u8]) -> Self {
        be16(b, 0)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(*self);
    }
}

impl WireItem for u32 {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        be32(b, 0)
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u32(*self);
    }
}

/// A gap ack block: TSN offsets from the cumulative TSN ack, inclusive (RFC 9260 section 3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapBlock {
    /// Offset of the first received TSN.
    pub start: u16,
    /// Offset of the last received TSN.
    pub end: u16,
}

impl WireItem for GapBlock {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        Self {
            start: be16(b, 0),
            end: be16(b, 2),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.start);
        out.put_u16(self.end);
    }
}

/// A stream and the last SSN skipped on it (RFC 3758 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSsn {
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number.
    pub ssn: u16,
}

impl WireItem for StreamSsn {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        Self {
            stream: be16(b, 0),
            ssn: be16(b, 2),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.stream);
        out.put_u16(self.ssn);
    }
}

/// A stream, ordering and the largest message identifier skipped on it (RFC 8260 section
/// 2.3.1, the entries of I-FORWARD-TSN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMid {
    /// Stream identifier.
    pub stream: u16,
    /// The U bit: the MID counts unordered messages.
    pub unordered: bool,
    /// Largest message identifier skipped.
    pub mid: u32,
}

impl WireItem for StreamMid {
    const SIZE: usize = 8;
    fn read(b: &[u8]) -> Self {
        Self {
            stream: be16(b, 0),
            // The other 15 bits are reserved and ignored (RFC 8260 section 2.3.1).
            unordered: b[3] & 1 != 0,
            mid: be32(b, 4),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u16(self.stream);
        out.put_u16(u16::from(self.unordered));
        out.put_u32(self.mid);
    }
}

/// A list of fixed-size items: either borrowed wire bytes (after parsing) or a typed slice (to
/// emit). Two lists are equal when they hold the same items.
#[derive(Debug, Clone, Copy)]
pub enum List<'a, T: WireItem> {
    /// Raw bytes, a multiple of `T::SIZE` long.
    Wire(&'a [u8]),
    /// Typed items.
    Items(&'a [T]),
}

impl<'a, T: WireItem> List<'a, T> {
    fn from_wire(b: &'a [u8], what: &'static str) -> Result<Self, Error> {
        if b.len() % T::SIZE != 0 {
            return Err(Error::BadLength { what });
        }
        Ok(Self::Wire(b))
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            Self::Wire(b) => b.len() / T::SIZE,
            Self::Items(i) => i.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        let (wire, items): (&'a [u8], &'a [T]) = match *self {
            Self::Wire(b) => (b, &[]),
            Self::Items(i) => (&[], i),
        };
        wire.chunks_exact(T::SIZE)
            .map(T::read)
            .chain(items.iter().copied())
    }

    fn emit(&self, out: &mut BytesMut) {
        match self {
            Self::Wire(b) => out.put_slice(b),
            Self::Items(i) => i.iter().for_each(|x| x.write(out)),
        }
    }
}

impl<T: WireItem> PartialEq for List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// A type-length-value parameter or error cause (RFC 9260 section 3.2.1 and 3.3.10): the same
/// layout serves both.
pub trait Tlv<'a>: Sized + PartialEq + core::fmt::Debug {
    /// Parses from the type and the value bytes (without header or padding).
    fn parse(kind: u16, value: &'a [u8]) -> Result<Self, Error>;
    /// The type.
    fn kind(&self) -> u16;
    /// Length of the value without padding.
    fn value_len(&self) -> usize;
    /// Appends the value (without padding).
    fn emit_value(&self, out: &mut BytesMut);
}

/// A list of TLVs: borrowed wire bytes or typed items.
#[derive(Debug, Clone, Copy)]
pub enum TlvList<'a, P> {
    /// Raw bytes, checked to hold well-formed TLVs when parsed.
    Wire(&'a [u8]),
    /// Typed items.
    Items(&'a [P]),
}

/// Iterator over a [`TlvList`].
#[derive(Debug, Clone)]
pub struct TlvIter<'a, P> {
    rest: &'a [u8],
    items: core::slice::Iter<'a, P>,
}

impl<'a, P: Tlv<'a> + Clone> Iterator for TlvIter<'a, P> {
    type Item = Result<P, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(p) = self.items.next() {
            return Some(Ok(p.clone()));
        }
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < 4 {
            self.rest = &[];
            return Some(Err(Error::Truncated { what: "parameter" }));
        }
        let len = usize::from(be16(b, 2));
        if len < 4 || len > b.len() {
            self.rest = &[];
            return Some(Err(Error::BadLength { what: "parameter" }));
        }
        self.rest = b.get(pad4(len)..).unwrap_or(&[]);
        Some(P::parse(be16(b, 0), &b[4..len]))
    }
}

impl<'a, P: Tlv<'a> + Clone> TlvList<'a, P> {
    /// Parses wire bytes, checking every element once so later iteration cannot fail.
    pub fn parse(b: &'a [u8]) -> Result<Self, Error> {
        let list = Self::Wire(b);
        for p in list.iter() {
            p?;
        }
        Ok(list)
    }

    /// The elements; for a list made by [`TlvList::parse`] every element is `Ok`.
    pub fn iter(&self) -> TlvIter<'a, P> {
        match *self {
            Self::Wire(b) => TlvIter {
                rest: b,
                items: [].iter(),
            },
            Self::Items(i) => TlvIter {
                rest: &[],
                items: i.iter(),
            },
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Self::Wire(b) => b.len(),
            Self::Items(i) => i.iter().map(|p| pad4(4 + p.value_len())).sum(),
        }
    }

    /// What the list adds to a chunk's Length field: every element padded except the last
    /// (RFC 9260 section 3.2: the Chunk Length "does include padding of any variable-length
    /// parameter except the last parameter in the chunk"). Wire bytes count as received.
    fn length_field_len(&self) -> usize {
        match self {
            Self::Wire(b) => b.len(),
            Self::Items(i) => {
                let last_pad = i.last().map_or(0, |p| {
                    let len = 4 + p.value_len();
                    pad4(len) - len
                });
                self.buffer_len() - last_pad
            }
        }
    }

    fn emit(&self, out: &mut BytesMut) {
        match self {
            Self::Wire(b) => out.put_slice(b),
            Self::Items(i) => {
                for p in i.iter() {
                    emit_tlv(p, out);
                }
            }
        }
    }
}

impl<'a, P: Tlv<'a> + Clone> PartialEq for TlvList<'a, P> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

fn emit_tlv<'a, P: Tlv<'a>>(p: &P, out: &mut BytesMut) {
    let len = 4 + p.value_len();
    out.put_u16(p.kind());
    // Lengths are bounded by what fits in a chunk; a larger value is a caller bug caught here.
    out.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
    p.emit_value(out);
    out.put_bytes(0, pad4(len) - len);
}

/// A parameter of INIT or INIT ACK (RFC 9260 section 3.3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitParam<'a> {
    /// The state cookie (INIT ACK only).
    StateCookie(&'a [u8]),
    /// The sender supports FORWARD-TSN (RFC 3758 section 3.1).
    ForwardTsnSupported,
    /// Chunk types the sender supports beyond the base protocol (RFC 5061 section 4.2.7).
    SupportedExtensions(&'a [u8]),
    /// Any other parameter, kept as is.
    Unknown {
        /// Parameter type.
        kind: u16,
        /// Parameter value.
        value: &'a [u8],
    },
}

impl<'a> Tlv<'a> for InitParam<'a> {
    fn parse(kind: u16, value: &'a [u8]) -> Result<Self, Error> {
        Ok(match kind {
            param_type::STATE_COOKIE => Self::StateCookie(value),
            param_type::FORWARD_TSN_SUPPORTED if value.is_empty() => Self::ForwardTsnSupported,
            param_type::SUPPORTED_EXTENSIONS => Self::SupportedExtensions(value),
            _ => Self::Unknown { kind, value },
        })
    }
    fn kind(&self) -> u16 {
        match self {
            Self::StateCookie(_) => param_type::STATE_COOKIE,
            Self::ForwardTsnSupported => param_type::FORWARD_TSN_SUPPORTED,
            Self::SupportedExtensions(_) => param_type::SUPPORTED_EXTENSIONS,
            Self::Unknown { kind, .. } => *kind,
        }
    }
    fn value_len(&self) -> usize {
        match self {
            Self::StateCookie(v)
            | Self::SupportedExtensions(v)
            | Self::Unknown { value: v, .. } => v.len(),
            Self::ForwardTsnSupported => 0,
        }
    }
    fn emit_value(&self, out: &mut BytesMut) {
        match self {
            Self::StateCookie(v)
            | Self::SupportedExtensions(v)
            | Self::Unknown { value: v, .. } => out.put_slice(v),
            Self::ForwardTsnSupported => {}
        }
    }
}

/// An error cause (RFC 9260 section 3.3.10): code and information, kept as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCause<'a> {
    /// Cause code, see [`cause_code`].
    pub code: u16,
    /// Cause-specific information.
    pub info: &'a [u8],
}

impl<'a> Tlv<'a> for ErrorCause<'a> {
    fn parse(code: u16, info: &'a [u8]) -> Result<Self, Error> {
        Ok(Self { code, info })
    }
    fn kind(&self) -> u16 {
        self.code
    }
    fn value_len(&self) -> usize {
        self.info.len()
    }
    fn emit_value(&self, out: &mut BytesMut) {
        out.put_slice(self.info)
    }
}

/// A parameter of a RE-CONFIG chunk (RFC 6525 section 4).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ReconfigParam<'a> {
    /// Outgoing SSN Reset Request (section 4.1): the sender resets its outgoing streams.
    OutgoingReset {
        /// Re-configuration request sequence number.
        request_seq: u32,
        /// The request this one answers implicitly.
        response_seq: u32,
        /// The sender's last assigned TSN.
        last_tsn: u32,
        /// Streams to reset; empty means all.
        streams: List<'a, u16>,
    },
    /// Incoming SSN Reset Request (section 4.2): asks the peer to reset its outgoing streams.
    IncomingReset {
        /// Re-configuration request sequence number.
        request_seq: u32,
        /// Streams to reset; empty means all.
        streams: List<'a, u16>,
    },
    /// Re-configuration Response (section 4.4).
    Response {
        /// The request answered.
        response_seq: u32,
        /// Result, see [`ReconfigResult`].
        result: u32,
        /// Sender's and receiver's next TSN, present only for an SSN/TSN reset.
        next_tsns: Option<(u32, u32)>,
    },
    /// Any other parameter.
    Unknown {
        /// Parameter type.
        kind: u16,
        /// Parameter value.
        value: &'a [u8],
    },
}

/// Result codes of a Re-configuration Response (RFC 6525 section 4.4).
pub mod reconfig_result {
    /// Success - Nothing to do.
    pub const SUCCESS_NOTHING: u32 = 0;
    /// Success - Performed.
    pub const SUCCESS_PERFORMED: u32 = 1;
    /// Denied.
    pub const DENIED: u32 = 2;
    /// Error - Wrong SSN.
    pub const ERROR_WRONG_SSN: u32 = 3;
    /// Error - Request already in progress.
    pub const ERROR_IN_PROGRESS: u32 = 4;
    /// Error - Bad Sequence Number.
    pub const ERROR_BAD_SEQ: u32 = 5;
    /// In progress.
    pub const IN_PROGRESS: u32 = 6;
}

/// Alias kept for readability in docs.
pub use reconfig_result as ReconfigResult;

impl<'a> Tlv<'a> for ReconfigParam<'a> {
    fn parse(kind: u16, v: &'a [u8]) -> Result<Self, Error> {
        Ok(match kind {
            param_type::OUTGOING_RESET => {
                if v.len() < 12 {
                    return Err(Error::Truncated {
                        what: "outgoing SSN reset request",
                    });
                }
                Self::OutgoingReset {
                    request_seq: be32(v, 0),
                    response_seq: be32(v, 4),
                    last_tsn: be32(v, 8),
                    streams: List::from_wire(&v[12..], "outgoing SSN reset request")?,
                }
            }
            param_type::INCOMING_RESET => {
                if v.len() < 4 {
                    return Err(Error::Truncated {
                        what: "incoming SSN reset request",
                    });
                }
                Self::IncomingReset {
                    request_seq: be32(v, 0),
                    streams: List::from_wire(&v[4..], "incoming SSN reset request")?,
                }
            }
            param_type::RECONFIG_RESPONSE => match v.len() {
                8 => Self::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: None,
                },
                16 => Self::Response {
                    response_seq: be32(v, 0),
                    result: be32(v, 4),
                    next_tsns: Some((be32(v, 8), be32(v, 12))),
                },
                _ => {
                    return Err(Error::BadLength {
                        what: "re-configuration response",
                    });
                }
            },
            _ => Self::Unknown { kind, value: v },
        })
    }
    fn kind(&self) -> u16 {
        match self {
            Self::OutgoingReset { .. } => param_type::OUTGOING_RESET,
            Self::IncomingReset { .. } => param_type::INCOMING_RESET,
            Self::Response { .. } => param_type::RECONFIG_RESPONSE,
            Self::Unknown { kind, .. } => *kind,
        }
    }
    fn value_len(&self) -> usize {
        match self {
            Self::OutgoingReset { streams, .. } => 12 + 2 * streams.len(),
            Self::IncomingReset { streams, .. } => 4 + 2 * streams.len(),
            Self::Response { next_tsns, .. } => {
                if next_tsns.is_some() {
                    16
                } else {
                    8
                }
            }
            Self::Unknown { value, .. } => value.len(),
        }
    }
    fn emit_value(&self, out: &mut BytesMut) {
        match self {
            Self::OutgoingReset {
                request_seq,
                response_seq,
                last_tsn,
                streams,
            } => {
                out.put_u32(*request_seq);
                out.put_u32(*response_seq);
                out.put_u32(*last_tsn);
                streams.emit(out);
            }
            Self::IncomingReset {
                request_seq,
                streams,
            } => {
                out.put_u32(*request_seq);
                streams.emit(out);
            }
            Self::Response {
                response_seq,
                result,
                next_tsns,
            } => {
                out.put_u32(*response_seq);
                out.put_u32(*result);
                if let Some((a, b)) = next_tsns {
                    out.put_u32(*a);
                    out.put_u32(*b);
                }
            }
            Self::Unknown { value, .. } => out.put_slice(value),
        }
    }
}

/// A DATA chunk (RFC 9260 section 3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// Flags: `DATA_FLAG_*`.
    pub flags: u8,
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number.
    pub ssn: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// User data; never empty in a valid chunk.
    pub data: &'a [u8],
}

impl DataChunk<'_> {
    /// Unordered flag.
    pub fn unordered(&self) -> bool {
        self.flags & DATA_FLAG_UNORDERED != 0
    }
    /// First fragment.
    pub fn begin(&self) -> bool {
        self.flags & DATA_FLAG_BEGIN != 0
    }
    /// Last fragment.
    pub fn end(&self) -> bool {
        self.flags & DATA_FLAG_END != 0
    }
}

/// An I-DATA chunk (RFC 8260 section 2.1). The word after the MID is the PPID on the first
/// fragment (B bit set; the FSN is then 0) and the FSN on the others (the PPID is then not
/// carried and reads as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IDataChunk<'a> {
    /// Flags: `DATA_FLAG_*` (the same bits as DATA's).
    pub flags: u8,
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Message identifier.
    pub mid: u32,
    /// Fragment sequence number (0 on the first fragment).
    pub fsn: u32,
    /// Payload protocol identifier (only on the first fragment).
    pub ppid: u32,
    /// User data; never empty in a valid chunk.
    pub data: &'a [u8],
}

impl IDataChunk<'_> {
    /// Unordered flag.
    pub fn unordered(&self) -> bool {
        self.flags & DATA_FLAG_UNORDERED != 0
    }
    /// First fragment.
    pub fn begin(&self) -> bool {
        self.flags & DATA_FLAG_BEGIN != 0
    }
    /// Last fragment.
    pub fn end(&self) -> bool {
        self.flags & DATA_FLAG_END != 0
    }
}

/// The fixed fields of INIT and INIT ACK, and their parameters (RFC 9260 sections 3.3.2, 3.3.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InitChunk<'a> {
    /// Initiate tag: the verification tag the sender expects on packets to it.
    pub initiate_tag: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Number of outbound streams.
    pub outbound_streams: u16,
    /// Number of inbound streams.
    pub inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: u32,
    /// Optional and variable-length parameters.
    pub params: TlvList<'a, InitParam<'a>>,
}

impl<'a> InitChunk<'a> {
    /// The state cookie parameter, if any.
    pub fn state_cookie(&self) -> Option<&'a [u8]> {
        self.params.iter().find_map(|p| match p {
            Ok(InitParam::StateCookie(c)) => Some(c),
            _ => None,
        })
    }

    /// Whether the sender supports FORWARD-TSN (RFC 3758): by the dedicated parameter, or by
    /// listing the chunk type in Supported Extensions.
    pub fn forward_tsn_supported(&self) -> bool {
        self.params.iter().any(|p| match p {
            Ok(InitParam::ForwardTsnSupported) => true,
            Ok(InitParam::SupportedExtensions(e)) => e.contains(&chunk_type::FORWARD_TSN),
            _ => false,
        })
    }

    /// Whether the sender lists a chunk type in Supported Extensions.
    pub fn supports_extension(&self, kind: u8) -> bool {
        self.params.iter().any(|p| match p {
            Ok(InitParam::SupportedExtensions(e)) => e.contains(&kind),
            _ => false,
        })
    }

    fn parse(v: &'a [u8], what: &'static str) -> Result<Self, Error> {
        if v.len() < 16 {
            return Err(Error::Truncated { what });
        }
        Ok(Self {
            initiate_tag: be32(v, 0),
            a_rwnd: be32(v, 4),
            outbound_streams: be16(v, 8),
            inbound_streams: be16(v, 10),
            initial_tsn: be32(v, 12),
            params: TlvList::parse(&v[16..])?,
        })
    }

    fn emit_value(&self, out: &mut BytesMut) {
        out.put_u32(self.initiate_tag);
        out.put_u32(self.a_rwnd);
        out.put_u16(self.outbound_streams);
        out.put_u16(self.inbound_streams);
        out.put_u32(self.initial_tsn);
        self.params.emit(out);
    }
}

/// A SACK chunk (RFC 9260 section 3.3.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SackChunk<'a> {
    /// Cumulative TSN ack.
    pub cum_tsn: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Gap ack blocks.
    pub gap_blocks: List<'a, GapBlock>,
    /// Duplicate TSNs.
    pub dup_tsns: List<'a, u32>,
}

/// Every chunk this crate understands, borrowing its variable parts from the packet.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ChunkRepr<'a> {
    /// DATA.
    Data(DataChunk<'a>),
    /// I-DATA (RFC 8260 section 2.1).
    IData(IDataChunk<'a>),
    /// INIT.
    Init(InitChunk<'a>),
    /// INIT ACK.
    InitAck(InitChunk<'a>),
    /// SACK.
    Sack(SackChunk<'a>),
    /// HEARTBEAT with its Heartbeat Info value.
    Heartbeat(&'a [u8]),
    /// HEARTBEAT ACK echoing the Heartbeat Info value.
    HeartbeatAck(&'a [u8]),
    /// ABORT.
    Abort {
        /// T bit: the tag is the receiver's own (reflected).
        reflected: bool,
        /// Error causes.
        causes: TlvList<'a, ErrorCause<'a>>,
    },
    /// SHUTDOWN with the sender's cumulative TSN ack.
    Shutdown {
        /// Cumulative TSN ack.
        cum_tsn: u32,
    },
    /// SHUTDOWN ACK.
    ShutdownAck,
    /// ERROR.
    Error {
        /// Error causes.
        causes: TlvList<'a, ErrorCause<'a>>,
    },
    /// COOKIE ECHO.
    CookieEcho(&'a [u8]),
    /// COOKIE ACK.
    CookieAck,
    /// SHUTDOWN COMPLETE.
    ShutdownComplete {
        /// T bit.
        reflected: bool,
    },
    /// FORWARD TSN (RFC 3758 section 3.2).
    ForwardTsn {
        /// New cumulative TSN.
        new_cum_tsn: u32,
        /// Ordered streams and the last SSN skipped on each.
        streams: List<'a, StreamSsn>,
    },
    /// I-FORWARD-TSN (RFC 8260 section 2.3.1).
    IForwardTsn {
        /// New cumulative TSN.
        new_cum_tsn: u32,
        /// Streams, ordering and the largest MID skipped on each.
        streams: List<'a, StreamMid>,
    },
    /// RE-CONFIG (RFC 6525 section 3.1).
    ReConfig {
        /// One or two re-configuration parameters.
        params: TlvList<'a, ReconfigParam<'a>>,
    },
    /// A chunk type this crate does not interpret.
    Unknown(Chunk<'a>),
}

fn expect_len(v: &[u8], n: usize, what: &'static str) -> Result<(), Error> {
    match v.len().cmp(&n) {
        core::cmp::Ordering::Less => Err(Error::Truncated { what }),
        core::cmp::Ordering::Greater => Err(Error::TrailingBytes { what }),
        core::cmp::Ordering::Equal => Ok(()),
    }
}

impl<'a> ChunkRepr<'a> {
    /// Parses a chunk view into its typed form.
    pub fn parse(c: Chunk<'a>) -> Result<Self, Error> {
        let v = c.value;
        Ok(match c.kind {
            chunk_type::DATA => {
                if v.len() < DATA_HEADER_LEN - CHUNK_HEADER_LEN {
                    return Err(Error::Truncated { what: "DATA chunk" });
                }
                Self::Data(DataChunk {
                    flags: c.flags,
                    tsn: be32(v, 0),
                    stream: be16(v, 4),
                    ssn: be16(v, 6),
                    ppid: be32(v, 8),
                    data: &v[12..],
                })
            }
            chunk_type::I_DATA => {
                if v.len() < I_DATA_HEADER_LEN - CHUNK_HEADER_LEN {
                    return Err(Error::Truncated {
                        what: "I-DATA chunk",
                    });
                }
                let word = be32(v, 12);
                let begin = c.flags & DATA_FLAG_BEGIN != 0;
                Self::IData(IDataChunk {
                    flags: c.flags,
                    tsn: be32(v, 0),
                    stream: be16(v, 4),
                    mid: be32(v, 8),
                    fsn: if begin { 0 } else { word },
                    ppid: if begin { word } else { 0 },
                    data: &v[16..],
                })
            }
            chunk_type::INIT => Self::Init(InitChunk::parse(v, "INIT chunk")?),
            chunk_type::INIT_ACK => Self::InitAck(InitChunk::parse(v, "INIT ACK chunk")?),
            chunk_type::SACK => {
                if v.len() < 12 {
                    return Err(Error::Truncated { what: "SACK chunk" });
                }
                let gaps = usize::from(be16(v, 8));
                let dups = usize::from(be16(v, 10));
                let end_gaps = 12 + 4 * gaps;
                expect_len(v, end_gaps + 4 * dups, "SACK chunk")?;
                Self::Sack(SackChunk {
                    cum_tsn: be32(v, 0),
                    a_rwnd: be32(v, 4),
                    gap_blocks: List::Wire(&v[12..end_gaps]),
                    dup_tsns: List::Wire(&v[end_gaps..]),
                })
            }
            chunk_type::HEARTBEAT | chunk_type::HEARTBEAT_ACK => {
                // One Heartbeat Info parameter (section 3.3.5).
                if v.len() < 4 {
                    return Err(Error::Truncated {
                        what: "heartbeat info",
                    });
                }
                let len = usize::from(be16(v, 2));
                if be16(v, 0) != param_type::HEARTBEAT_INFO || len < 4 || len > v.len() {
                    return Err(Error::BadLength {
                        what: "heartbeat info",
                    });
                }
                if pad4(len) < v.len() {
                    return Err(Error::TrailingBytes {
                        what: "heartbeat info",
                    });
                }
                let info = &v[4..len];
                if c.kind == chunk_type::HEARTBEAT {
                    Self::Heartbeat(info)
                } else {
                    Self::HeartbeatAck(info)
                }
            }
            chunk_type::ABORT => Self::Abort {
                reflected: c.flags & FLAG_T != 0,
                causes: TlvList::parse(v)?,
            },
            chunk_type::SHUTDOWN => {
                expect_len(v, 4, "SHUTDOWN chunk")?;
                Self::Shutdown {
                    cum_tsn: be32(v, 0),
                }
            }
            chunk_type::SHUTDOWN_ACK => {
                expect_len(v, 0, "SHUTDOWN ACK chunk")?;
                Self::ShutdownAck
            }
            chunk_type::ERROR => Self::Error {
                causes: TlvList::parse(v)?,
            },
            chunk_type::COOKIE_ECHO => Self::CookieEcho(v),
            chunk_type::COOKIE_ACK => {
                expect_len(v, 0, "COOKIE ACK chunk")?;
                Self::CookieAck
            }
            chunk_type::SHUTDOWN_COMPLETE => {
                expect_len(v, 0, "SHUTDOWN COMPLETE chunk")?;
                Self::ShutdownComplete {
                    reflected: c.flags & FLAG_T != 0,
                }
            }
            chunk_type::FORWARD_TSN => {
                if v.len() < 4 {
                    return Err(Error::Truncated {
                        what: "FORWARD TSN chunk",
                    });
                }
                Self::ForwardTsn {
                    new_cum_tsn: be32(v, 0),
                    streams: List::from_wire(&v[4..], "FORWARD TSN chunk")?,
                }
            }
            chunk_type::I_FORWARD_TSN => {
                if v.len() < 4 {
                    return Err(Error::Truncated {
                        what: "I-FORWARD-TSN chunk",
                    });
                }
                Self::IForwardTsn {
                    new_cum_tsn: be32(v, 0),
                    streams: List::from_wire(&v[4..], "I-FORWARD-TSN chunk")?,
                }
            }
            chunk_type::RE_CONFIG => Self::ReConfig {
                params: TlvList::parse(v)?,
            },
            _ => Self::Unknown(c),
        })
    }

    fn kind_flags(&self) -> (u8, u8) {
        match self {
            Self::Data(d) => (chunk_type::DATA, d.flags),
            Self::IData(d) => (chunk_type::I_DATA, d.flags),
            Self::Init(_) => (chunk_type::INIT, 0),
            Self::InitAck(_) => (chunk_type::INIT_ACK, 0),
            Self::Sack(_) => (chunk_type::SACK, 0),
            Self::Heartbeat(_) => (chunk_type::HEARTBEAT, 0),
            Self::HeartbeatAck(_) => (chunk_type::HEARTBEAT_ACK, 0),
            Self::Abort { reflected, .. } => (chunk_type::ABORT, u8::from(*reflected)),
            Self::Shutdown { .. } => (chunk_type::SHUTDOWN, 0),
            Self::ShutdownAck => (chunk_type::SHUTDOWN_ACK, 0),
            Self::Error { .. } => (chunk_type::ERROR, 0),
            Self::CookieEcho(_) => (chunk_type::COOKIE_ECHO, 0),
            Self::CookieAck => (chunk_type::COOKIE_ACK, 0),
            Self::ShutdownComplete { reflected } => {
                (chunk_type::SHUTDOWN_COMPLETE, u8::from(*reflected))
            }
            Self::ForwardTsn { .. } => (chunk_type::FORWARD_TSN, 0),
            Self::IForwardTsn { .. } => (chunk_type::I_FORWARD_TSN, 0),
            Self::ReConfig { .. } => (chunk_type::RE_CONFIG, 0),
            Self::Unknown(c) => (c.kind, c.flags),
        }
    }

    /// Length of the chunk value as the chunk's Length field counts it (after the 4-byte
    /// header): the padding of the last parameter or cause and the chunk's own padding are not
    /// counted (RFC 9260 section 3.2).
    pub fn value_len(&self) -> usize {
        match self {
            Self::Data(d) => 12 + d.data.len(),
            Self::IData(d) => 16 + d.data.len(),
            Self::Init(i) | Self::InitAck(i) => 16 + i.params.length_field_len(),
            Self::Sack(s) => 12 + 4 * (s.gap_blocks.len() + s.dup_tsns.len()),
            Self::Heartbeat(i) | Self::HeartbeatAck(i) => 4 + i.len(),
            Self::Abort { causes, .. } | Self::Error { causes } => causes.length_field_len(),
            Self::Shutdown { .. } => 4,
            Self::ShutdownAck | Self::CookieAck | Self::ShutdownComplete { .. } => 0,
            Self::CookieEcho(c) => c.len(),
            Self::ForwardTsn { streams, .. } => 4 + 4 * streams.len(),
            Self::IForwardTsn { streams, .. } => 4 + 8 * streams.len(),
            Self::ReConfig { params } => params.length_field_len(),
            Self::Unknown(c) => c.value.len(),
        }
    }

    /// Bytes the chunk takes on the wire, padding included.
    pub fn buffer_len(&self) -> usize {
        pad4(CHUNK_HEADER_LEN + self.value_len())
    }

    /// Appends the chunk, padded to four bytes.
    pub fn emit(&self, out: &mut BytesMut) {
        let (kind, flags) = self.kind_flags();
        let len = CHUNK_HEADER_LEN + self.value_len();
        let start = out.len();
        out.reserve(pad4(len));
        out.put_u8(kind);
        out.put_u8(flags);
        // A chunk longer than 65535 bytes cannot be represented; callers keep within the MTU.
        out.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        match self {
            Self::Data(d) => {
                out.put_u32(d.tsn);
                out.put_u16(d.stream);
                out.put_u16(d.ssn);
                out.put_u32(d.ppid);
                out.put_slice(d.data);
            }
            Self::IData(d) => {
                out.put_u32(d.tsn);
                out.put_u16(d.stream);
                out.put_u16(0);
                out.put_u32(d.mid);
                out.put_u32(if d.begin() { d.ppid } else { d.fsn });
                out.put_slice(d.data);
            }
            Self::Init(i) | Self::InitAck(i) => i.emit_value(out),
            Self::Sack(s) => {
                out.put_u32(s.cum_tsn);
                out.put_u32(s.a_rwnd);
                out.put_u16(u16::try_from(s.gap_blocks.len()).unwrap_or(u16::MAX));
                out.put_u16(u16::try_from(s.dup_tsns.len()).unwrap_or(u16::MAX));
                s.gap_blocks.emit(out);
                s.dup_tsns.emit(out);
            }
            Self::Heartbeat(i) | Self::HeartbeatAck(i) => {
                let plen = 4 + i.len();
                out.put_u16(param_type::HEARTBEAT_INFO);
                out.put_u16(u16::try_from(plen).unwrap_or(u16::MAX));
                out.put_slice(i);
                out.put_bytes(0, pad4(plen) - plen);
            }
            Self::Abort { causes, .. } | Self::Error { causes } => causes.emit(out),
            Self::Shutdown { cum_tsn } => out.put_u32(*cum_tsn),
            Self::ShutdownAck | Self::CookieAck | Self::ShutdownComplete { .. } => {}
            Self::CookieEcho(c) => out.put_slice(c),
            Self::ForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                out.put_u32(*new_cum_tsn);
                streams.emit(out);
            }
            Self::IForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                out.put_u32(*new_cum_tsn);
                streams.emit(out);
            }
            Self::ReConfig { params } => params.emit(out),
            Self::Unknown(c) => out.put_slice(c.value),
        }
        // The last parameter may have brought its padding already; pad what was written.
        let written = out.len() - start;
        out.put_bytes(0, pad4(written) - written);
    }
}

/// Appends a DATA chunk header for `data_len` bytes of user data; the caller appends the data
/// and then [`pad_chunk`]. Used on the send path to avoid building a repr per chunk.
pub(crate) fn emit_data_header(
    out: &mut BytesMut,
    flags: u8,
    tsn: u32,
    stream: u16,
    ssn: u16,
    ppid: u32,
    data_len: usize,
) {
    out.put_u8(chunk_type::DATA);
    out.put_u8(flags);
    out.put_u16(u16::try_from(DATA_HEADER_LEN + data_len).unwrap_or(u16::MAX));
    out.put_u32(tsn);
    out.put_u16(stream);
    out.put_u16(ssn);
    out.put_u32(ppid);
}

/// Appends an I-DATA chunk header (RFC 8260 section 2.1) for `data_len` bytes of user data;
/// the PPID goes out on the first fragment, the FSN on the others. As
/// [`emit_data_header`], the caller appends the data and then [`pad_chunk`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit_idata_header(
    out: &mut BytesMut,
    flags: u8,
    tsn: u32,
    stream: u16,
    mid: u32,
    fsn: u32,
    ppid: u32,
    data_len: usize,
) {
    out.put_u8(chunk_type::I_DATA);
    out.put_u8(flags);
    out.put_u16(u16::try_from(I_DATA_HEADER_LEN + data_len).unwrap_or(u16::MAX));
    out.put_u32(tsn);
    out.put_u16(stream);
    out.put_u16(0);
    out.put_u32(mid);
    out.put_u32(if flags & DATA_FLAG_BEGIN != 0 {
        ppid
    } else {
        fsn
    });
}

/// Pads the buffer to a multiple of four bytes.
pub(crate) fn pad_chunk(out: &mut BytesMut) {
    let n = pad4(out.len()) - out.len();
    out.put_bytes(0, n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 9260 section 3.2: the Length field counts the padding of every parameter but the
    /// last; the chunk on the wire is still padded to four bytes.
    #[test]
    fn chunk_length_leaves_out_the_last_parameters_padding() {
        let params = [
            InitParam::StateCookie(&[1, 2, 3, 4, 5]),
            InitParam::SupportedExtensions(&[0x82, 0xc0, 0x80]),
        ];
        let init = ChunkRepr::Init(InitChunk {
            initiate_tag: 1,
            a_rwnd: 2,
            outbound_streams: 3,
            inbound_streams: 4,
            initial_tsn: 5,
            params: TlvList::Items(&params),
        });
        let mut out = BytesMut::new();
        init.emit(&mut out);
        // 4 header + 16 fixed + (4 + 5 + 3 padding) + (4 + 3): 39, padded to 40 on the wire.
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 39);
        assert_eq!(out.len(), 40);
        round_trip(&init);

        let hb = ChunkRepr::Heartbeat(&[9, 9, 9]);
        let mut out = BytesMut::new();
        hb.emit(&mut out);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 4 + 4 + 3);
        assert_eq!(out.len(), 12);
        round_trip(&hb);
    }

    fn round_trip(c: &ChunkRepr<'_>) {
        let mut out = BytesMut::new();
        c.emit(&mut out);
        assert_eq!(out.len(), c.buffer_len());
        let mut chunks = Chunks::new(&out);
        let parsed = ChunkRepr::parse(chunks.next().unwrap().unwrap()).unwrap();
        assert_eq!(&parsed, c);
        assert!(chunks.next().is_none());
    }

    #[test]
    fn common_header_and_checksum() {
        let mut out = BytesMut::new();
        CommonHeader {
            src_port: 5000,
            dst_port: 5000,
            verification_tag: 0x1234_5678,
        }
        .emit(&mut out);
        ChunkRepr::CookieAck.emit(&mut out);
        finish_packet(&mut out);
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(p.src_port(), 5000);
        assert_eq!(p.dst_port(), 5000);
        assert_eq!(p.verification_tag(), 0x1234_5678);
        p.verify_checksum().unwrap();
        let mut bad = out.to_vec();
        bad[13] ^= 1;
        assert_eq!(
            Packet::new_checked(&bad[..]).unwrap().verify_checksum(),
            Err(Error::BadChecksum)
        );
        assert!(Packet::new_checked(&out[..11]).is_err());
    }

    #[test]
    fn crc32c_known_vector() {
        // RFC 3720 appendix B.4: 32 bytes of zeros -> 0x8a9136aa.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn data_chunk_wire_bytes() {
        let d = ChunkRepr::Data(DataChunk {
            flags: DATA_FLAG_BEGIN | DATA_FLAG_END,
            tsn: 1,
            stream: 2,
            ssn: 3,
            ppid: 51,
            data: b"hi",
        });
        let mut out = BytesMut::new();
        d.emit(&mut out);
        assert_eq!(
            &out[..],
            &[
                0x00, 0x03, 0x00, 0x12, 0, 0, 0, 1, 0, 2, 0, 3, 0, 0, 0, 51, b'h', b'i', 0, 0
            ]
        );
        round_trip(&d);
    }

    #[test]
    fn fixed_chunks_round_trip() {
        round_trip(&ChunkRepr::CookieAck);
        round_trip(&ChunkRepr::ShutdownAck);
        round_trip(&ChunkRepr::ShutdownComplete { reflected: true });
        round_trip(&ChunkRepr::Shutdown { cum_tsn: 77 });
        round_trip(&ChunkRepr::CookieEcho(b"cookie!"));
        round_trip(&ChunkRepr::Heartbeat(b"abcde"));
        round_trip(&ChunkRepr::HeartbeatAck(b"abcd"));
        round_trip(&ChunkRepr::Abort {
            reflected: false,
            causes: TlvList::Items(&[ErrorCause {
                code: cause_code::USER_ABORT,
                info: b"bye",
            }]),
        });
        round_trip(&ChunkRepr::Error {
            causes: TlvList::Items(&[]),
        });
    }

    #[test]
    fn init_with_params() {
        let params = [
            InitParam::ForwardTsnSupported,
            InitParam::SupportedExtensions(&[chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG]),
            InitParam::StateCookie(b"\x01\x02\x03"),
            InitParam::Unknown {
                kind: 0x8002,
                value: &[9; 5],
            },
        ];
        let init = InitChunk {
            initiate_tag: 0xdead_beef,
            a_rwnd: 1 << 20,
            outbound_streams: 65535,
            inbound_streams: 65535,
            initial_tsn: 42,
            params: TlvList::Items(&params),
        };
        round_trip(&ChunkRepr::Init(init));
        round_trip(&ChunkRepr::InitAck(init));
        assert!(init.forward_tsn_supported());
        assert!(init.supports_extension(chunk_type::RE_CONFIG));
        assert_eq!(init.state_cookie(), Some(&b"\x01\x02\x03"[..]));
    }

    #[test]
    fn reconfig_params() {
        let streams = [1u16, 3, 5];
        let params = [
            ReconfigParam::OutgoingReset {
                request_seq: 10,
                response_seq: 9,
                last_tsn: 1000,
                streams: List::Items(&streams),
            },
            ReconfigParam::Response {
                response_seq: 4,
                result: reconfig_result::SUCCESS_PERFORMED,
                next_tsns: None,
            },
        ];
        round_trip(&ChunkRepr::ReConfig {
            params: TlvList::Items(&params),
        });
        round_trip(&ChunkRepr::ReConfig {
            params: TlvList::Items(&[ReconfigParam::IncomingReset {
                request_seq: 3,
                streams: List::Items(&[7]),
            }]),
        });
        round_trip(&ChunkRepr::ReConfig {
            params: TlvList::Items(&[ReconfigParam::Response {
                response_seq: 4,
                result: 0,
                next_tsns: Some((1, 2)),
            }]),
        });
    }

    #[test]
    fn malformed_is_an_error() {
        // Chunk length below the header.
        assert!(Chunks::new(&[0, 0, 0, 2]).next().unwrap().is_err());
        // Chunk length past the buffer.
        assert!(Chunks::new(&[0, 0, 0, 9, 1, 2, 3]).next().unwrap().is_err());
        // DATA too short.
        let c = Chunks::new(&[0, 3, 0, 8, 0, 0, 0, 1])
            .next()
            .unwrap()
            .unwrap();
        assert!(ChunkRepr::parse(c).is_err());
        // SACK announcing more gap blocks than present.
        let sack = [3, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0];
        let c = Chunks::new(&sack).next().unwrap().unwrap();
        assert!(ChunkRepr::parse(c).is_err());
        // Parameter length past its chunk.
        let init = [
            1, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0xc0, 0, 0, 9,
        ];
        let c = Chunks::new(&init).next().unwrap().unwrap();
        assert!(ChunkRepr::parse(c).is_err());
        // A missing final padding is tolerated.
        let c = Chunks::new(&[0x0a, 0, 0, 5, 7]).next().unwrap().unwrap();
        assert_eq!(ChunkRepr::parse(c).unwrap(), ChunkRepr::CookieEcho(&[7]));
    }

    proptest! {
        #[test]
        fn prop_data(flags in 0u8..16, tsn: u32, stream: u16, ssn: u16, ppid: u32,
                     data in proptest::collection::vec(any::<u8>(), 1..300)) {
            round_trip(&ChunkRepr::Data(DataChunk { flags, tsn, stream, ssn, ppid, data: &data }));
        }

        #[test]
        fn prop_sack(cum: u32, rwnd: u32,
                     gaps in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..20),
                     dups in proptest::collection::vec(any::<u32>(), 0..20)) {
            let gaps: Vec<GapBlock> = gaps.into_iter().map(|(start, end)| GapBlock { start, end }).collect();
            round_trip(&ChunkRepr::Sack(SackChunk {
                cum_tsn: cum, a_rwnd: rwnd,
                gap_blocks: List::Items(&gaps), dup_tsns: List::Items(&dups),
            }));
        }

        #[test]
        fn prop_idata(flags in 0u8..16, tsn: u32, stream: u16, mid: u32, word: u32,
                      data in proptest::collection::vec(any::<u8>(), 1..300)) {
            let begin = flags & DATA_FLAG_BEGIN != 0;
            let (fsn, ppid) = if begin { (0, word) } else { (word, 0) };
            let c = ChunkRepr::IData(IDataChunk { flags, tsn, stream, mid, fsn, ppid, data: &data });
            round_trip(&c);
            let mut fast = BytesMut::new();
            emit_idata_header(&mut fast, flags, tsn, stream, mid, fsn, ppid, data.len());
            fast.extend_from_slice(&data);
            pad_chunk(&mut fast);
            let mut slow = BytesMut::new();
            c.emit(&mut slow);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn prop_iforward_tsn(cum: u32, s in proptest::collection::vec((any::<u16>(), any::<bool>(), any::<u32>()), 0..20)) {
            let s: Vec<StreamMid> = s.into_iter().map(|(stream, unordered, mid)| StreamMid { stream, unordered, mid }).collect();
            round_trip(&ChunkRepr::IForwardTsn { new_cum_tsn: cum, streams: List::Items(&s) });
        }

        #[test]
        fn prop_forward_tsn(cum: u32, s in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..20)) {
            let s: Vec<StreamSsn> = s.into_iter().map(|(stream, ssn)| StreamSsn { stream, ssn }).collect();
            round_trip(&ChunkRepr::ForwardTsn { new_cum_tsn: cum, streams: List::Items(&s) });
        }

        #[test]
        fn prop_init(tag: u32, rwnd: u32, os: u16, is: u16, tsn: u32,
                     cookie in proptest::collection::vec(any::<u8>(), 0..64),
                     unknown in proptest::collection::vec(any::<u8>(), 0..9), fwd: bool) {
            let mut params = vec![InitParam::StateCookie(&cookie),
                InitParam::Unknown { kind: 0x8005, value: &unknown }];
            if fwd { params.push(InitParam::ForwardTsnSupported); }
            round_trip(&ChunkRepr::InitAck(InitChunk {
                initiate_tag: tag, a_rwnd: rwnd, outbound_streams: os, inbound_streams: is,
                initial_tsn: tsn, params: TlvList::Items(&params),
            }));
        }

        #[test]
        fn prop_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for c in Chunks::new(&bytes) {
                let Ok(c) = c else { break };
                if let Ok(r) = ChunkRepr::parse(c) {
                    // What parses re-emits to something that parses to the same repr.
                    let mut out = BytesMut::new();
                    r.emit(&mut out);
                    let again = ChunkRepr::parse(Chunks::new(&out).next().unwrap().unwrap()).unwrap();
                    prop_assert_eq!(again, r);
                }
            }
        }
    }
}
