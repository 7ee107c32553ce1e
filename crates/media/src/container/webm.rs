//! WebM: the Matroska subset browsers play, here with VP8/VP9 video and Opus audio.
//!
//! Matroska is EBML (RFC 8794): every element is an ID (a variable-length integer keeping its
//! length marker), a size (a variable-length integer, all ones meaning "unknown"), then the
//! body. A file is an `EBML` header (DocType `webm`), then one `Segment` holding `Info`
//! (time scale, duration), `Tracks` (one `TrackEntry` per track: number, type, codec ID, size
//! or rate), and `Cluster`s: a cluster time, then `SimpleBlock`s, each a track number, a
//! signed 16-bit time relative to the cluster, flags (bit 0x80: key frame) and one frame
//! (RFC 9559 §10.2 and §10.3 give the block layouts; the element IDs are from its §5.1).
//!
//! The writer makes one Segment whose size and duration it fills in on
//! [`WebmWriter::finish`] (so it needs `Seek`), starts a Cluster at each video key frame and
//! at least every 5 s, and never laces. The reader streams: it enters Segments and Clusters
//! (of known or unknown size), reads the small header elements whole (bounded), reads
//! `SimpleBlock`s and `BlockGroup`s, and skips everything else (Cues, SeekHead, Tags, Void).

use std::io::{Read, Seek, SeekFrom, Write};

use super::{ContainerError, ContainerKind, read_exact_or_eof};
use crate::codec::{Codec, EncodedFrame};
use crate::container::OpusHead;
use crate::time::TimeBase;

const KIND: ContainerKind = ContainerKind::Webm;

// Element IDs (RFC 8794 §11.2 for the EBML header; RFC 9559 §5.1 for the rest).
const ID_EBML: u32 = 0x1A45_DFA3;
const ID_EBML_VERSION: u32 = 0x4286;
const ID_EBML_READ_VERSION: u32 = 0x42F7;
const ID_EBML_MAX_ID_LENGTH: u32 = 0x42F2;
const ID_EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
const ID_DOC_TYPE: u32 = 0x4282;
const ID_DOC_TYPE_VERSION: u32 = 0x4287;
const ID_DOC_TYPE_READ_VERSION: u32 = 0x4285;
const ID_SEGMENT: u32 = 0x1853_8067;
const ID_INFO: u32 = 0x1549_A966;
const ID_TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const ID_DURATION: u32 = 0x4489;
const ID_MUXING_APP: u32 = 0x4D80;
const ID_WRITING_APP: u32 = 0x5741;
const ID_TRACKS: u32 = 0x1654_AE6B;
const ID_TRACK_ENTRY: u32 = 0xAE;
const ID_TRACK_NUMBER: u32 = 0xD7;
const ID_TRACK_UID: u32 = 0x73C5;
const ID_TRACK_TYPE: u32 = 0x83;
const ID_CODEC_ID: u32 = 0x86;
const ID_CODEC_PRIVATE: u32 = 0x63A2;
const ID_CODEC_DELAY: u32 = 0x56AA;
const ID_SEEK_PRE_ROLL: u32 = 0x56BB;
const ID_VIDEO: u32 = 0xE0;
const ID_PIXEL_WIDTH: u32 = 0xB0;
const ID_PIXEL_HEIGHT: u32 = 0xBA;
const ID_AUDIO: u32 = 0xE1;
const ID_SAMPLING_FREQUENCY: u32 = 0xB5;
const ID_CHANNELS: u32 = 0x9F;
const ID_CLUSTER: u32 = 0x1F43_B675;
const ID_TIMESTAMP: u32 = 0xE7;
const ID_SIMPLE_BLOCK: u32 = 0xA3;
const ID_BLOCK_GROUP: u32 = 0xA0;
const ID_BLOCK: u32 = 0xA1;
const ID_REFERENCE_BLOCK: u32 = 0xFB;

/// TrackType values (RFC 9559 §5.1.4.1.3).
const TRACK_TYPE_VIDEO: u64 = 1;
const TRACK_TYPE_AUDIO: u64 = 2;
/// Timestamps in milliseconds: the default TimestampScale of 1,000,000 ns (RFC 9559 §11.1).
const TIMESTAMP_SCALE_NS: u32 = 1_000_000;
/// The SeekPreRoll the Opus codec mapping asks for: 80 ms in ns.
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;
/// Header elements (EBML header, Info, Tracks, a BlockGroup) read whole are at most this.
const MAX_HEADER: u64 = 1 << 20;
/// No compressed frame comes near this; a larger block is corruption.
const MAX_FRAME: u64 = 32 << 20;
/// The longest a writer's cluster lasts, in milliseconds.
const MAX_CLUSTER_MS: i64 = 5_000;

/// One track of a WebM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebmTrack {
    /// VP8, VP9 or Opus (and AV1 when read; the writer does not take it).
    pub codec: Codec,
    /// Width in pixels (video).
    pub width: u32,
    /// Height in pixels (video).
    pub height: u32,
    /// Channels (audio).
    pub channels: u16,
    /// Sample rate in Hz (audio; Opus is always 48000).
    pub sample_rate: u32,
    /// Samples at 48 kHz the Opus decoder's output starts with and that are dropped: written as
    /// CodecDelay and in the `OpusHead` CodecPrivate.
    pub pre_skip: u16,
}

impl WebmTrack {
    /// A VP8 or VP9 track of `width` x `height`.
    pub fn video(codec: Codec, width: u32, height: u32) -> WebmTrack {
        WebmTrack {
            codec,
            width,
            height,
            channels: 0,
            sample_rate: 0,
            pre_skip: 0,
        }
    }

    /// An Opus track of `channels` (1 or 2) with libopus's usual pre-skip.
    pub fn opus(channels: u16) -> WebmTrack {
        WebmTrack {
            codec: Codec::Opus,
            width: 0,
            height: 0,
            channels,
            sample_rate: 48_000,
            pre_skip: super::OPUS_DEFAULT_PRE_SKIP,
        }
    }

    fn codec_id(&self) -> Option<&'static str> {
        match self.codec {
            Codec::Vp8 => Some("V_VP8"),
            Codec::Vp9 => Some("V_VP9"),
            Codec::Opus => Some("A_OPUS"),
            _ => None,
        }
    }
}

// ---- writing ----

fn put_id(buf: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    buf.extend_from_slice(&bytes[skip..]);
}

/// A size as an 8-byte variable-length integer (RFC 8794 §4.4 allows any length).
fn put_size8(buf: &mut Vec<u8>, size: u64) {
    buf.push(0x01);
    buf.extend_from_slice(&size.to_be_bytes()[1..]);
}

fn put_size(buf: &mut Vec<u8>, size: u64) {
    if size < 0x7F {
        buf.push(0x80 | size as u8);
    } else {
        put_size8(buf, size);
    }
}

fn put_uint(buf: &mut Vec<u8>, id: u32, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    put_id(buf, id);
    put_size(buf, (8 - skip) as u64);
    buf.extend_from_slice(&bytes[skip..]);
}

fn put_float(buf: &mut Vec<u8>, id: u32, v: f64) {
    put_id(buf, id);
    put_size(buf, 8);
    buf.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, id: u32, v: &[u8]) {
    put_id(buf, id);
    put_size(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

fn put_master(buf: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(buf, id);
    put_size(buf, body.len() as u64);
    buf.extend_from_slice(body);
}

/// Writes VP8/VP9 and Opus frames to a WebM file.
#[derive(Debug)]
pub struct WebmWriter<W> {
    writer: W,
    tracks: Vec<WebmTrack>,
    /// File offsets of the Segment's size field and body, and of the Duration value.
    segment_size_at: u64,
    segment_start: u64,
    duration_at: u64,
    /// The first frame's time in ms: the file starts there.
    origin: Option<i64>,
    cluster: Vec<u8>,
    cluster_time: i64,
    cluster_frames: usize,
    /// The end of the latest frame, in ms from the origin.
    end_ms: i64,
    /// Per track, the time of its last frame (ms from the origin) and its last duration.
    last: Vec<Option<(i64, i64)>>,
    frames: Vec<u64>,
}

impl<W: Write + Seek> WebmWriter<W> {
    /// Writes the EBML header, Info and Tracks for `tracks` (numbered from 1 in this order).
    pub fn new(mut writer: W, tracks: &[WebmTrack]) -> Result<WebmWriter<W>, ContainerError> {
        if tracks.is_empty() || tracks.iter().any(|t| t.codec_id().is_none()) {
            return Err(ContainerError::Unsupported(KIND));
        }
        let mut body = Vec::new();
        put_uint(&mut body, ID_EBML_VERSION, 1);
        put_uint(&mut body, ID_EBML_READ_VERSION, 1);
        put_uint(&mut body, ID_EBML_MAX_ID_LENGTH, 4);
        put_uint(&mut body, ID_EBML_MAX_SIZE_LENGTH, 8);
        put_bytes(&mut body, ID_DOC_TYPE, b"webm");
        put_uint(&mut body, ID_DOC_TYPE_VERSION, 4);
        put_uint(&mut body, ID_DOC_TYPE_READ_VERSION, 2);
        let mut out = Vec::new();
        put_master(&mut out, ID_EBML, &body);

        let start = writer.stream_position()?;
        put_id(&mut out, ID_SEGMENT);
        let segment_size_at = start + out.len() as u64;
        put_size8(&mut out, 0); // filled in by finish
        let segment_start = start + out.len() as u64;

        let mut info = Vec::new();
        put_uint(&mut info, ID_TIMESTAMP_SCALE, u64::from(TIMESTAMP_SCALE_NS));
        put_bytes(&mut info, ID_MUXING_APP, b"ferrtc-media");
        put_bytes(&mut info, ID_WRITING_APP, b"ferrtc-media");
        put_id(&mut info, ID_DURATION);
        put_size(&mut info, 8);
        let duration_in_info = info.len();
        info.extend_from_slice(&0f64.to_be_bytes());
        put_id(&mut out, ID_INFO);
        put_size(&mut out, info.len() as u64);
        let duration_at = start + (out.len() + duration_in_info) as u64;
        out.extend_from_slice(&info);

        let mut entries = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            let mut e = Vec::new();
            put_uint(&mut e, ID_TRACK_NUMBER, i as u64 + 1);
            put_uint(&mut e, ID_TRACK_UID, i as u64 + 1);
            let codec_id = t.codec_id().unwrap_or_default();
            if t.codec == Codec::Opus {
                put_uint(&mut e, ID_TRACK_TYPE, TRACK_TYPE_AUDIO);
                put_bytes(&mut e, ID_CODEC_ID, codec_id.as_bytes());
                let channels =
                    u8::try_from(t.channels).map_err(|_| ContainerError::Unsupported(KIND))?;
                if !(1..=2).contains(&channels) {
                    return Err(ContainerError::Unsupported(KIND));
                }
                let head = OpusHead {
                    channels,
                    pre_skip: t.pre_skip,
                    input_sample_rate: 48_000,
                    output_gain: 0,
                };
                put_bytes(&mut e, ID_CODEC_PRIVATE, &head.to_bytes());
                // CodecDelay in ns: the pre-skip at 48 kHz.
                put_uint(
                    &mut e,
                    ID_CODEC_DELAY,
                    u64::from(t.pre_skip) * 1_000_000_000 / 48_000,
                );
                put_uint(&mut e, ID_SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
                let mut a = Vec::new();
                put_float(&mut a, ID_SAMPLING_FREQUENCY, 48_000.0);
                put_uint(&mut a, ID_CHANNELS, u64::from(channels));
                put_master(&mut e, ID_AUDIO, &a);
            } else {
                put_uint(&mut e, ID_TRACK_TYPE, TRACK_TYPE_VIDEO);
                put_bytes(&mut e, ID_CODEC_ID, codec_id.as_bytes());
                let mut v = Vec::new();
                put_uint(&mut v, ID_PIXEL_WIDTH, u64::from(t.width));
                put_uint(&mut v, ID_PIXEL_HEIGHT, u64::from(t.height));
                put_master(&mut e, ID_VIDEO, &v);
            }
            put_master(&mut entries, ID_TRACK_ENTRY, &e);
        }
        put_master(&mut out, ID_TRACKS, &entries);
        writer.write_all(&out)?;
        Ok(WebmWriter {
            writer,
            tracks: tracks.to_vec(),
            segment_size_at,
            segment_start,
            duration_at,
            origin: None,
            cluster: Vec::new(),
            cluster_time: 0,
            cluster_frames: 0,
            end_ms: 0,
            last: vec![None; tracks.len()],
            frames: vec![0; tracks.len()],
        })
    }

    /// Appends `frame` to track `track` (an index into the tracks given to
    /// [`WebmWriter::new`]). Times count from the first frame written (earlier ones are
    /// written at 0); frames of the two tracks may come a little out of order.
    pub fn write_frame(
        &mut self,
        track: usize,
        frame: &EncodedFrame,
    ) -> Result<(), ContainerError> {
        let Some(info) = self.tracks.get(track) else {
            return Err(ContainerError::TrackNotAccepted(KIND));
        };
        if frame.data.len() as u64 > MAX_FRAME {
            return Err(ContainerError::FrameTooLarge(KIND, frame.data.len() as u64));
        }
        let is_video = info.codec != Codec::Opus;
        let ms = frame.time_base.rescale(frame.pts, TimeBase::MILLISECONDS);
        let origin = *self.origin.get_or_insert(ms);
        let t = (ms - origin).max(0);
        let rel = t - self.cluster_time;
        if self.cluster_frames == 0
            // SimpleBlock times are signed: a frame a little earlier than the cluster's start
            // (the other track lagging) stays in it.
            || !(i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&rel)
            || rel >= MAX_CLUSTER_MS
            || (is_video && frame.key_frame)
        {
            self.flush_cluster()?;
            self.cluster_time = t;
            put_uint(&mut self.cluster, ID_TIMESTAMP, t as u64);
        }
        let rel = (t - self.cluster_time) as i16;
        put_id(&mut self.cluster, ID_SIMPLE_BLOCK);
        put_size(&mut self.cluster, frame.data.len() as u64 + 4);
        self.cluster.push(0x80 | (track as u8 + 1)); // track number as a 1-byte vint
        self.cluster.extend_from_slice(&rel.to_be_bytes());
        self.cluster.push(if frame.key_frame || !is_video {
            0x80
        } else {
            0
        });
        self.cluster.extend_from_slice(&frame.data);
        self.cluster_frames += 1;
        self.frames[track] += 1;

        let duration = if is_video {
            match self.last[track] {
                Some((prev, _)) if t > prev => t - prev,
                Some((_, d)) => d,
                None => 0,
            }
        } else {
            i64::from(super::opus_packet_samples(&frame.data).unwrap_or(960)) / 48
        };
        self.last[track] = Some((t, duration));
        // A video frame's duration is only known from the next one: the last frame's is
        // added on finish (a gap before a frame is not that frame's length).
        self.end_ms = self.end_ms.max(if is_video { t } else { t + duration });
        Ok(())
    }

    /// Frames written to each track so far.
    pub fn frame_counts(&self) -> &[u64] {
        &self.frames
    }

    fn flush_cluster(&mut self) -> Result<(), ContainerError> {
        if self.cluster_frames > 0 || !self.cluster.is_empty() {
            let mut head = Vec::with_capacity(12);
            put_id(&mut head, ID_CLUSTER);
            put_size8(&mut head, self.cluster.len() as u64);
            self.writer.write_all(&head)?;
            self.writer.write_all(&self.cluster)?;
        }
        self.cluster.clear();
        self.cluster_frames = 0;
        Ok(())
    }

    /// Writes the last cluster, fills in the Segment size and the duration, flushes, and
    /// returns the writer.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        self.flush_cluster()?;
        // A video track's last frame lasts as long as the one before it.
        for (i, last) in self.last.iter().enumerate() {
            if let (Some((t, d)), true) = (last, self.tracks[i].codec != Codec::Opus) {
                self.end_ms = self.end_ms.max(t + d);
            }
        }
        let end = self.writer.stream_position()?;
        self.writer.seek(SeekFrom::Start(self.segment_size_at))?;
        let mut size = Vec::with_capacity(8);
        put_size8(&mut size, end - self.segment_start);
        self.writer.write_all(&size)?;
        self.writer.seek(SeekFrom::Start(self.duration_at))?;
        self.writer.write_all(&(self.end_ms as f64).to_be_bytes())?;
        self.writer.seek(SeekFrom::Start(end))?;
        self.writer.flush()?;
        Ok(self.writer)
    }
}

// ---- reading ----

/// One frame read from a WebM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebmFrame {
    /// The index of its track in [`WebmReader::tracks`].
    pub track: usize,
    /// The frame's bitstream.
    pub data: Vec<u8>,
    /// Its timestamp in [`WebmReader::time_base`] units.
    pub pts: i64,
    /// True when the block is marked as a key frame.
    pub key_frame: bool,
}

/// Reads VP8/VP9 and Opus frames from a WebM (or Matroska) file; tracks of other codecs are
/// skipped.
#[derive(Debug)]
pub struct WebmReader<R> {
    reader: R,
    tracks: Vec<WebmTrack>,
    numbers: Vec<u64>,
    time_base: TimeBase,
    duration: Option<f64>,
    cluster_time: i64,
}

/// An unsigned EBML variable-length integer from a reader: (value with the marker removed,
/// length); `None` at a clean end of file.
fn read_vint(r: &mut impl Read, max_len: usize) -> Result<Option<(u64, usize)>, ContainerError> {
    let mut first = [0u8; 1];
    if !read_exact_or_eof(r, &mut first, KIND)? {
        return Ok(None);
    }
    let len = first[0].leading_zeros() as usize + 1;
    if len > max_len {
        return Err(ContainerError::MalformedHeader(KIND));
    }
    let mut v = u64::from(first[0]) & (0xFF >> len);
    let mut rest = [0u8; 7];
    if !read_exact_or_eof(r, &mut rest[..len - 1], KIND)? && len > 1 {
        return Err(ContainerError::Truncated(KIND));
    }
    for &b in &rest[..len - 1] {
        v = (v << 8) | u64::from(b);
    }
    Ok(Some((v, len)))
}

/// The same from a slice, advancing it.
fn slice_vint(s: &mut &[u8], max_len: usize) -> Result<(u64, usize), ContainerError> {
    let first = *s.first().ok_or(ContainerError::Truncated(KIND))?;
    let len = first.leading_zeros() as usize + 1;
    if len > max_len || s.len() < len {
        return Err(ContainerError::MalformedHeader(KIND));
    }
    let mut v = u64::from(first) & (0xFF >> len);
    for &b in &s[1..len] {
        v = (v << 8) | u64::from(b);
    }
    *s = &s[len..];
    Ok((v, len))
}

fn is_unknown(size: u64, len: usize) -> bool {
    size == (1u64 << (7 * len)) - 1
}

/// The element ID with its marker bits, as the IDs above are written.
fn with_marker(v: u64, len: usize) -> u32 {
    (v | (1 << (7 * len))) as u32
}

/// The child elements of a master element's body.
fn children(mut s: &[u8]) -> impl Iterator<Item = Result<(u32, &[u8]), ContainerError>> {
    std::iter::from_fn(move || {
        if s.is_empty() {
            return None;
        }
        let r = (|| {
            let (id, id_len) = slice_vint(&mut s, 4)?;
            let (size, size_len) = slice_vint(&mut s, 8)?;
            if is_unknown(size, size_len) || size > s.len() as u64 {
                return Err(ContainerError::MalformedHeader(KIND));
            }
            let (body, rest) = s.split_at(size as usize);
            s = rest;
            Ok((with_marker(id, id_len), body))
        })();
        if r.is_err() {
            s = &[];
        }
        Some(r)
    })
}

fn uint(b: &[u8]) -> Result<u64, ContainerError> {
    if b.len() > 8 {
        return Err(ContainerError::MalformedHeader(KIND));
    }
    Ok(b.iter().fold(0, |v, &x| (v << 8) | u64::from(x)))
}

fn float(b: &[u8]) -> Result<f64, ContainerError> {
    match b.len() {
        4 => Ok(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
        8 => Ok(f64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        0 => Ok(0.0),
        _ => Err(ContainerError::MalformedHeader(KIND)),
    }
}

impl<R: Read> WebmReader<R> {
    /// Reads the EBML header and the Segment up to and including its Tracks.
    pub fn new(mut reader: R) -> Result<WebmReader<R>, ContainerError> {
        let header = match read_vint(&mut reader, 4)? {
            Some((id, len)) if with_marker(id, len) == ID_EBML => {
                let Some((size, size_len)) = read_vint(&mut reader, 8)? else {
                    return Err(ContainerError::Truncated(KIND));
                };
                if is_unknown(size, size_len) {
                    return Err(ContainerError::MalformedHeader(KIND));
                }
                read_body(&mut reader, size)?
            }
            _ => return Err(ContainerError::BadSignature(KIND)),
        };
        for child in children(&header) {
            let (id, body) = child?;
            if id == ID_DOC_TYPE && body != b"webm" && body != b"matroska" {
                return Err(ContainerError::Unsupported(KIND));
            }
        }
        let mut r = WebmReader {
            reader,
            tracks: Vec::new(),
            numbers: Vec::new(),
            time_base: TimeBase::MILLISECONDS,
            duration: None,
            cluster_time: 0,
        };
        let mut have_tracks = false;
        let mut info_duration = None;
        while !have_tracks {
            let Some((id, size, unknown)) = r.element()? else {
                return Err(ContainerError::Truncated(KIND));
            };
            match id {
                ID_SEGMENT => {}
                ID_INFO | ID_TRACKS if unknown => {
                    return Err(ContainerError::MalformedHeader(KIND));
                }
                ID_INFO => {
                    let body = read_body(&mut r.reader, size)?;
                    let mut scale = u64::from(TIMESTAMP_SCALE_NS);
                    for child in children(&body) {
                        match child? {
                            (ID_TIMESTAMP_SCALE, b) => scale = uint(b)?,
                            (ID_DURATION, b) => info_duration = Some(float(b)?),
                            _ => {}
                        }
                    }
                    let scale =
                        u32::try_from(scale).map_err(|_| ContainerError::Unsupported(KIND))?;
                    // In lowest terms when it divides a second (1 ms, as usual).
                    r.time_base = if scale != 0 && 1_000_000_000 % scale == 0 {
                        TimeBase::new(1, 1_000_000_000 / scale)
                    } else {
                        TimeBase::new(scale, 1_000_000_000)
                    }
                    .ok_or(ContainerError::MalformedHeader(KIND))?;
                }
                ID_TRACKS => {
                    let body = read_body(&mut r.reader, size)?;
                    r.parse_tracks(&body)?;
                    have_tracks = true;
                }
                ID_CLUSTER => return Err(ContainerError::MalformedHeader(KIND)),
                _ if unknown => return Err(ContainerError::MalformedHeader(KIND)),
                _ => skip(&mut r.reader, size)?,
            }
        }
        r.duration = info_duration.map(|d| r.time_base.seconds(1) * d);
        Ok(r)
    }

    fn parse_tracks(&mut self, body: &[u8]) -> Result<(), ContainerError> {
        for child in children(body) {
            let (id, entry) = child?;
            if id != ID_TRACK_ENTRY {
                continue;
            }
            let (mut number, mut codec, mut w, mut h, mut ch, mut rate, mut pre_skip) =
                (0, None, 0, 0, 0, 0, 0);
            for field in children(entry) {
                match field? {
                    (ID_TRACK_NUMBER, b) => number = uint(b)?,
                    (ID_CODEC_ID, b) => {
                        codec = match b {
                            b"V_VP8" => Some(Codec::Vp8),
                            b"V_VP9" => Some(Codec::Vp9),
                            b"V_AV1" => Some(Codec::Av1),
                            b"A_OPUS" => Some(Codec::Opus),
                            _ => None,
                        }
                    }
                    (ID_CODEC_PRIVATE, b) => {
                        if let Ok(head) = OpusHead::parse(b) {
                            pre_skip = head.pre_skip;
                        }
                    }
                    (ID_VIDEO, v) => {
                        for f in children(v) {
                            match f? {
                                (ID_PIXEL_WIDTH, b) => w = uint(b)?,
                                (ID_PIXEL_HEIGHT, b) => h = uint(b)?,
                                _ => {}
                            }
                        }
                    }
                    (ID_AUDIO, a) => {
                        for f in children(a) {
                            match f? {
                                (ID_CHANNELS, b) => ch = uint(b)?,
                                (ID_SAMPLING_FREQUENCY, b) => rate = float(b)? as u32,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(codec) = codec {
                if number == 0 || self.numbers.contains(&number) {
                    return Err(ContainerError::MalformedHeader(KIND));
                }
                let fits =
                    |v: u64| u32::try_from(v).map_err(|_| ContainerError::MalformedHeader(KIND));
                self.numbers.push(number);
                self.tracks.push(WebmTrack {
                    codec,
                    width: fits(w)?,
                    height: fits(h)?,
                    channels: u16::try_from(ch)
                        .map_err(|_| ContainerError::MalformedHeader(KIND))?,
                    sample_rate: rate,
                    pre_skip,
                });
            }
        }
        Ok(())
    }

    /// The tracks this reader yields frames of (VP8, VP9 and Opus ones).
    pub fn tracks(&self) -> &[WebmTrack] {
        &self.tracks
    }

    /// The unit of frame timestamps (the file's TimestampScale; milliseconds usually).
    pub fn time_base(&self) -> TimeBase {
        self.time_base
    }

    /// The duration in seconds the file's Info gives, if any.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration
    }

    /// The next element's ID, size and whether the size is unknown; `None` at end of file.
    fn element(&mut self) -> Result<Option<(u32, u64, bool)>, ContainerError> {
        let Some((id, id_len)) = read_vint(&mut self.reader, 4)? else {
            return Ok(None);
        };
        let Some((size, size_len)) = read_vint(&mut self.reader, 8)? else {
            return Err(ContainerError::Truncated(KIND));
        };
        Ok(Some((
            with_marker(id, id_len),
            size,
            is_unknown(size, size_len),
        )))
    }

    /// The next frame of a known track; `None` at the end of the file.
    pub fn read_frame(&mut self) -> Result<Option<WebmFrame>, ContainerError> {
        loop {
            let Some((id, size, unknown)) = self.element()? else {
                return Ok(None);
            };
            match id {
                // Masters entered in place: their children follow.
                ID_SEGMENT | ID_CLUSTER => {}
                _ if unknown => return Err(ContainerError::MalformedHeader(KIND)),
                ID_TIMESTAMP => {
                    let body = read_body(&mut self.reader, size.min(9))?;
                    self.cluster_time = i64::try_from(uint(&body)?)
                        .map_err(|_| ContainerError::MalformedHeader(KIND))?;
                }
                ID_SIMPLE_BLOCK => {
                    if size > MAX_FRAME {
                        return Err(ContainerError::FrameTooLarge(KIND, size));
                    }
                    let body = read_body(&mut self.reader, size)?;
                    if let Some(frame) = self.block(body, None)? {
                        return Ok(Some(frame));
                    }
                }
                ID_BLOCK_GROUP => {
                    if size > MAX_FRAME {
                        return Err(ContainerError::FrameTooLarge(KIND, size));
                    }
                    let group = read_body(&mut self.reader, size)?;
                    let mut block = None;
                    let mut key = true;
                    for child in children(&group) {
                        match child? {
                            (ID_BLOCK, b) => block = Some(b.to_vec()),
                            (ID_REFERENCE_BLOCK, _) => key = false,
                            _ => {}
                        }
                    }
                    if let Some(b) = block {
                        if let Some(frame) = self.block(b, Some(key))? {
                            return Ok(Some(frame));
                        }
                    }
                }
                _ => skip(&mut self.reader, size)?,
            }
        }
    }

    /// A Block or SimpleBlock body as a frame; `None` for a track not read.
    fn block(&self, body: Vec<u8>, key: Option<bool>) -> Result<Option<WebmFrame>, ContainerError> {
        let mut s = body.as_slice();
        let (number, _) = slice_vint(&mut s, 8)?;
        if s.len() < 3 {
            return Err(ContainerError::Truncated(KIND));
        }
        let rel = i16::from_be_bytes([s[0], s[1]]);
        let flags = s[2];
        let header = body.len() - s.len() + 3;
        let Some(track) = self.numbers.iter().position(|&n| n == number) else {
            return Ok(None);
        };
        if flags & 0x06 != 0 {
            // Lacing (several frames in one block): not produced for VP8/VP9/Opus by the
            // usual muxers, and not supported here.
            return Err(ContainerError::Unsupported(KIND));
        }
        let mut data = body;
        data.drain(..header);
        Ok(Some(WebmFrame {
            track,
            data,
            pts: self.cluster_time.saturating_add(i64::from(rel)),
            key_frame: key.unwrap_or(flags & 0x80 != 0),
        }))
    }
}

/// Reads an element body of `size` bytes, refusing one above [`MAX_HEADER`] unless it is a
/// frame (the callers bound those by [`MAX_FRAME`] first).
fn read_body(r: &mut impl Read, size: u64) -> Result<Vec<u8>, ContainerError> {
    if size > MAX_FRAME.max(MAX_HEADER) {
        return Err(ContainerError::FrameTooLarge(KIND, size));
    }
    let mut body = Vec::new();
    let n = r.take(size).read_to_end(&mut body)?;
    if (n as u64) < size {
        return Err(ContainerError::Truncated(KIND));
    }
    Ok(body)
}

fn skip(r: &mut impl Read, size: u64) -> Result<(), ContainerError> {
    let n = std::io::copy(&mut r.take(size), &mut std::io::sink())?;
    if n < size {
        return Err(ContainerError::Truncated(KIND));
    }
    Ok(())
}
