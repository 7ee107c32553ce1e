//! Ogg/Opus: Opus packets in an Ogg stream (RFC 7845 over RFC 3533).
//!
//! An Ogg stream is a sequence of pages (RFC 3533 §6): a 27-byte header (`OggS`, version,
//! flags, granule position, serial number, page sequence number, CRC, segment count), a
//! lacing table, then the packet data. Ogg/Opus (RFC 7845 §3) puts the `OpusHead`
//! identification header alone on the first page, the `OpusTags` comment header on the next
//! page(s), then the audio packets; a page's granule position is the 48 kHz sample count at
//! the end of its last finished packet, counting from the decoder's first output sample, the
//! pre-skip samples included (RFC 7845 §4).
//!
//! The writer puts one audio packet on each page (simple, and it lets a player seek to any
//! packet); the reader takes any legal paging, packets spanning pages included, and follows
//! the first Opus logical stream it meets.

use std::io::{Read, Write};

use super::{ContainerError, ContainerKind, read_exact_or_eof};
use crate::codec::EncodedFrame;
use crate::time::TimeBase;

const KIND: ContainerKind = ContainerKind::Ogg;
/// The fixed part of a page header (RFC 3533 §6).
const PAGE_HEADER_LEN: usize = 27;
/// Header type flags (RFC 3533 §6, `header_type_flag`).
const FLAG_CONTINUED: u8 = 0x01;
const FLAG_BOS: u8 = 0x02;
const FLAG_EOS: u8 = 0x04;
/// The most data one page can hold: 255 lacing values of 255 (RFC 3533 §6).
const MAX_PAGE_DATA: usize = 255 * 255;
/// The largest packet the reader reassembles. An Opus packet is at most 120 ms of 1275-byte
/// frames plus framing (RFC 6716 §3.2.5), about 61 kB; comment headers may be larger (cover
/// art), so this leaves room while bounding memory on a hostile file.
const MAX_PACKET: usize = 1 << 20;
/// The pre-skip libopus needs at 48 kHz: its encoder look-ahead of 2.5 ms plus 4 ms delay
/// compensation, 312 samples (RFC 7845 §4.2 says to use the encoder's look-ahead).
pub const OPUS_DEFAULT_PRE_SKIP: u16 = 312;
/// Opus granule positions and timestamps count at 48 kHz whatever the input rate
/// (RFC 7845 §4).
pub const OPUS_TIME_BASE: TimeBase = match TimeBase::new(1, 48_000) {
    Some(t) => t,
    None => unreachable!(),
};

/// The Ogg CRC-32 (RFC 3533 §6): polynomial 0x04c11db7, MSB first, initial value 0, no final
/// XOR, computed over the whole page with the CRC field zeroed.
fn crc32(crc: u32, data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut r = (i as u32) << 24;
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
            }
            *e = r;
        }
        t
    });
    data.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ table[((crc >> 24) as u8 ^ b) as usize]
    })
}

/// The duration of an Opus packet in 48 kHz samples, from its TOC byte and frame count
/// (RFC 6716 §3.1); `None` for a packet too short to say or longer than 120 ms (illegal).
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples per configuration group (RFC 6716 §3.1, Table 2).
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)], // SILK: 10/20/40/60 ms
        12..=15 => [480, 960][usize::from(config % 2)],            // Hybrid: 10/20 ms
        _ => [120, 240, 480, 960][usize::from(config % 4)],        // CELT: 2.5/5/10/20 ms
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let total = frame * frames;
    (frames > 0 && total <= 5760).then_some(total)
}

/// The `OpusHead` identification header (RFC 7845 §5.1), channel mapping family 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channels (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples (at 48 kHz) to drop from the start of the decoded stream.
    pub pre_skip: u16,
    /// The sample rate of the original input (informational; Opus decodes at 48 kHz).
    pub input_sample_rate: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
}

impl OpusHead {
    /// The 19-byte header for mapping family 0 (RFC 7845 §5.1).
    pub fn to_bytes(&self) -> [u8; 19] {
        let mut b = [0u8; 19];
        b[0..8].copy_from_slice(b"OpusHead");
        b[8] = 1; // version
        b[9] = self.channels;
        b[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        b[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        b[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        b[18] = 0; // channel mapping family 0: mono or stereo
        b
    }

    /// Parses an `OpusHead` packet. Versions 0-15 are compatible (RFC 7845 §5.1); mapping
    /// families other than 0 (surround) are not supported here.
    pub fn parse(b: &[u8]) -> Result<OpusHead, ContainerError> {
        if b.len() < 19 || &b[0..8] != b"OpusHead" {
            return Err(ContainerError::MalformedHeader(KIND));
        }
        if b[8] > 15 {
            return Err(ContainerError::Unsupported(KIND));
        }
        if b[18] != 0 {
            return Err(ContainerError::Unsupported(KIND));
        }
        if !(1..=2).contains(&b[9]) {
            return Err(ContainerError::MalformedHeader(KIND));
        }
        Ok(OpusHead {
            channels: b[9],
            pre_skip: u16::from_le_bytes([b[10], b[11]]),
            input_sample_rate: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
            output_gain: i16::from_le_bytes([b[16], b[17]]),
        })
    }
}

/// Writes Opus packets as an Ogg/Opus stream, one packet per page.
#[derive(Debug)]
pub struct OggOpusWriter<W> {
    writer: W,
    serial: u32,
    sequence: u32,
    /// The granule position after the last written packet.
    granule: i64,
    /// The last packet, held back so that its page can carry the end-of-stream flag.
    pending: Option<(Vec<u8>, i64)>,
    packets: u64,
    page: Vec<u8>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the `OpusHead` and `OpusTags` pages of a stream with serial number `serial`.
    pub fn new(mut writer: W, head: OpusHead, serial: u32) -> Result<Self, ContainerError> {
        if !(1..=2).contains(&head.channels) {
            return Err(ContainerError::Unsupported(KIND));
        }
        let mut page = Vec::new();
        write_page(
            &mut writer,
            &mut page,
            &head.to_bytes(),
            FLAG_BOS,
            0,
            serial,
            0,
        )?;
        // OpusTags (RFC 7845 §5.2): vendor string, no user comments.
        let vendor = b"ferrtc-media";
        let mut tags = Vec::with_capacity(8 + 4 + vendor.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        write_page(&mut writer, &mut page, &tags, 0, 0, serial, 1)?;
        Ok(OggOpusWriter {
            writer,
            serial,
            sequence: 2,
            // The granule position counts decoder output from its first sample, the pre-skip
            // samples included (RFC 7845 §4: PCM position = granule position - pre-skip).
            granule: 0,
            pending: None,
            packets: 0,
            page,
        })
    }

    /// Appends one Opus packet. Its duration comes from its TOC byte (RFC 6716 §3.1); the
    /// frame's timestamp is not used, so gaps in the input do not leave holes in the file.
    pub fn write_frame(&mut self, frame: &EncodedFrame) -> Result<(), ContainerError> {
        self.write_packet(&frame.data)
    }

    /// Appends one Opus packet (see [`OggOpusWriter::write_frame`]).
    pub fn write_packet(&mut self, packet: &[u8]) -> Result<(), ContainerError> {
        let samples = opus_packet_samples(packet).ok_or(ContainerError::FrameMismatch(KIND))?;
        if packet.len() >= MAX_PAGE_DATA {
            return Err(ContainerError::FrameTooLarge(KIND, packet.len() as u64));
        }
        self.flush_pending(0)?;
        self.granule += i64::from(samples);
        self.pending = Some((packet.to_vec(), self.granule));
        self.packets += 1;
        Ok(())
    }

    fn flush_pending(&mut self, flags: u8) -> Result<(), ContainerError> {
        if let Some((data, granule)) = self.pending.take() {
            write_page(
                &mut self.writer,
                &mut self.page,
                &data,
                flags,
                granule,
                self.serial,
                self.sequence,
            )?;
            self.sequence += 1;
        }
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Writes the last page with the end-of-stream flag, flushes, and returns the writer.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        if self.pending.is_some() {
            self.flush_pending(FLAG_EOS)?;
        } else {
            // No audio: an empty end-of-stream page closes the stream (RFC 3533 §6 allows a
            // page with no segments).
            let granule = self.granule;
            write_page(
                &mut self.writer,
                &mut self.page,
                &[],
                FLAG_EOS,
                granule,
                self.serial,
                self.sequence,
            )?;
        }
        self.writer.flush()?;
        Ok(self.writer)
    }
}

/// Writes one page holding exactly `data` as one whole packet (`data.len() < 255 * 255`), or
/// no packet when `data` is empty.
fn write_page(
    w: &mut impl Write,
    page: &mut Vec<u8>,
    data: &[u8],
    flags: u8,
    granule: i64,
    serial: u32,
    sequence: u32,
) -> Result<(), ContainerError> {
    debug_assert!(data.len() < MAX_PAGE_DATA);
    page.clear();
    page.extend_from_slice(b"OggS");
    page.push(0); // version
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]); // CRC, filled below
    if data.is_empty() {
        // No packet at all (the empty end-of-stream page): no segments. A lacing value of 0
        // would be a zero-length packet, which an Opus reader refuses (an Opus packet holds
        // at least its TOC byte, RFC 6716 §3.1).
        page.push(0);
    } else {
        // Lacing (RFC 3533 §5): 255s then a value below 255 ends the packet.
        let full = data.len() / 255;
        page.push((full + 1) as u8);
        page.extend(std::iter::repeat_n(255u8, full));
        page.push((data.len() % 255) as u8);
        page.extend_from_slice(data);
    }
    let crc = crc32(0, page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    w.write_all(page)?;
    Ok(())
}

/// One Opus packet read from an Ogg stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// Its timestamp in 48 kHz samples of decoded output, pre-skip removed (so the first
    /// packet's is `-pre_skip`).
    pub pts: i64,
    /// Its duration in 48 kHz samples.
    pub samples: u32,
}

/// Reads Opus packets from an Ogg/Opus stream, checking every page's CRC.
#[derive(Debug)]
pub struct OggOpusReader<R> {
    reader: R,
    head: OpusHead,
    serial: u32,
    /// Packets finished but not yet returned.
    queue: std::collections::VecDeque<Vec<u8>>,
    /// A packet continued onto the next page.
    partial: Vec<u8>,
    ended: bool,
    /// Decoded-sample position of the next packet, pre-skip included.
    position: i64,
    page_data: Vec<u8>,
}

impl<R: Read> OggOpusReader<R> {
    /// Reads up to the end of the `OpusTags` header.
    pub fn new(reader: R) -> Result<Self, ContainerError> {
        let mut r = OggOpusReader {
            reader,
            head: OpusHead {
                channels: 1,
                pre_skip: 0,
                input_sample_rate: 0,
                output_gain: 0,
            },
            serial: 0,
            queue: Default::default(),
            partial: Vec::new(),
            ended: false,
            position: 0,
            page_data: Vec::new(),
        };
        // The first page of an Opus stream holds OpusHead alone and has the BOS flag. Skip
        // other logical streams' first pages (a multiplexed file).
        loop {
            let Some((flags, serial)) = r.read_page(None)? else {
                return Err(ContainerError::BadSignature(KIND));
            };
            if flags & FLAG_BOS == 0 {
                return Err(ContainerError::MalformedHeader(KIND));
            }
            if let Some(first) = r.queue.pop_front() {
                if first.starts_with(b"OpusHead") {
                    r.head = OpusHead::parse(&first)?;
                    r.serial = serial;
                    r.queue.clear();
                    break;
                }
            }
            r.queue.clear();
            r.partial.clear();
        }
        // The comment header comes next (possibly over several pages).
        let tags = r.next_packet()?.ok_or(ContainerError::Truncated(KIND))?;
        if !tags.starts_with(b"OpusTags") {
            return Err(ContainerError::MalformedHeader(KIND));
        }
        r.position = 0;
        Ok(r)
    }

    /// The stream's identification header.
    pub fn head(&self) -> OpusHead {
        self.head
    }

    /// The next Opus packet; `None` at the end of the stream.
    pub fn read_packet(&mut self) -> Result<Option<OggPacket>, ContainerError> {
        let Some(data) = self.next_packet()? else {
            return Ok(None);
        };
        let samples = opus_packet_samples(&data).ok_or(ContainerError::FrameMismatch(KIND))?;
        let pts = self.position - i64::from(self.head.pre_skip);
        self.position += i64::from(samples);
        Ok(Some(OggPacket { data, pts, samples }))
    }

    fn next_packet(&mut self) -> Result<Option<Vec<u8>>, ContainerError> {
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Ok(Some(p));
            }
            if self.ended {
                return Ok(None);
            }
            let serial = self.serial;
            match self.read_page(Some(serial))? {
                None => {
                    if !self.partial.is_empty() {
                        return Err(ContainerError::Truncated(KIND));
                    }
                    return Ok(None);
                }
                Some((flags, _)) => {
                    if flags & FLAG_EOS != 0 {
                        self.ended = true;
                    }
                }
            }
        }
    }

    /// Reads pages until one of stream `serial` (any stream if `None`), splits its packets
    /// into the queue, and returns its flags and serial; `None` at a clean end of file.
    fn read_page(&mut self, serial: Option<u32>) -> Result<Option<(u8, u32)>, ContainerError> {
        loop {
            let mut h = [0u8; PAGE_HEADER_LEN];
            if !read_exact_or_eof(&mut self.reader, &mut h, KIND)? {
                return Ok(None);
            }
            if &h[0..4] != b"OggS" {
                return Err(ContainerError::BadSignature(KIND));
            }
            if h[4] != 0 {
                return Err(ContainerError::Unsupported(KIND));
            }
            let flags = h[5];
            let page_serial = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
            let crc = u32::from_le_bytes([h[22], h[23], h[24], h[25]]);
            let mut lacing = [0u8; 255];
            let lacing = &mut lacing[..usize::from(h[26])];
            if !read_exact_or_eof(&mut self.reader, lacing, KIND)? && !lacing.is_empty() {
                return Err(ContainerError::Truncated(KIND));
            }
            let len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
            self.page_data.clear();
            self.page_data.resize(len, 0);
            if !read_exact_or_eof(&mut self.reader, &mut self.page_data, KIND)? && len > 0 {
                return Err(ContainerError::Truncated(KIND));
            }
            let mut check = h;
            check[22..26].fill(0);
            let mut c = crc32(0, &check);
            c = crc32(c, lacing);
            c = crc32(c, &self.page_data);
            if c != crc {
                return Err(ContainerError::MalformedHeader(KIND));
            }
            if serial.is_some_and(|s| s != page_serial) {
                continue; // another logical stream
            }
            if flags & FLAG_CONTINUED == 0 && !self.partial.is_empty() {
                // The previous packet was never finished (RFC 3533 §6: a lost page); drop it.
                self.partial.clear();
            }
            let mut at = 0;
            for &l in lacing.iter() {
                let l = usize::from(l);
                if self.partial.len() + l > MAX_PACKET {
                    return Err(ContainerError::FrameTooLarge(
                        KIND,
                        (self.partial.len() + l) as u64,
                    ));
                }
                self.partial.extend_from_slice(&self.page_data[at..at + l]);
                at += l;
                if l < 255 {
                    self.queue.push_back(std::mem::take(&mut self.partial));
                }
            }
            return Ok(Some((flags, page_serial)));
        }
    }
}
