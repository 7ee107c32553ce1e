//! The send side: a task pulls raw frames from a local track, encodes them on tokio's
//! blocking pool and writes them as encoded frames on a transceiver.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use ferrtc_media::{
    AudioEncoder, AudioFrame, CodecError, Frame, G711Encoder, G711Law, G722Encoder, H264Encoder,
    MediaKind, MediaStreamTrack, OpusEncoder, TimeBase, VideoEncoder, VideoEncoderConfig,
    VideoFrame, VpxEncoder,
};
use rand::{RngCore, SeedableRng};
use tokio::sync::{Notify, watch};

use super::AttachError;
use crate::connection::{Command, Link};
use crate::tap::{SendCodec, TapPart};
use crate::{CodecKind, TransceiverId};

/// The video bitrate until [`MediaSender::set_target_bitrate`] says otherwise.
pub(super) const DEFAULT_VIDEO_BITRATE: u32 = 1_000_000;
/// The Opus bitrate until told otherwise (G.711 and G.722 have fixed rates).
pub(super) const DEFAULT_AUDIO_BITRATE: u32 = 64_000;
/// The frame rate encoders assume for the first frame; later durations come from the
/// timestamps.
const NOMINAL_FRAME_RATE: u32 = 30;

/// The video codecs this sender encodes, in the order it would pick them when the peer's
/// first choice is none of them (AV1 is decoded only: there is no AV1 encoder here).
const ENCODES_VIDEO: &[CodecKind] = &[CodecKind::Vp8, CodecKind::Vp9, CodecKind::H264];

/// The audio codecs this sender encodes, in the same sense.
const ENCODES_AUDIO: &[CodecKind] = &[
    CodecKind::Opus,
    CodecKind::G722,
    CodecKind::Pcmu,
    CodecKind::Pcma,
];
/// The lowest bitrate an encoder is asked for, bit/s.
const MIN_BITRATE: u32 = 1_000;
/// The bitrates libopus takes (its `OPUS_SET_BITRATE` range).
const OPUS_BITRATES: std::ops::RangeInclusive<u32> = 500..=512_000;

/// What a [`MediaSender`] has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SenderStats {
    /// Raw frames taken from the track and given to the encoder.
    pub frames_in: u64,
    /// Encoded frames (audio packets) written to the transceiver.
    pub frames_sent: u64,
    /// Of those, key frames.
    pub key_frames: u64,
    /// Encoded bytes written.
    pub bytes_sent: u64,
    /// Key-frame requests from the peer passed to the encoder.
    pub keyframe_requests: u64,
    /// Frames the encoder failed on, or that did not fit it (the other kind, an audio
    /// format that cannot be converted); skipped.
    pub frames_failed: u64,
}

struct Shared {
    kind: MediaKind,
    target_bps: AtomicU32,
    /// This sender's share of the congestion controller's target, bit/s; 0: none yet.
    estimate_bps: Arc<AtomicU32>,
    stop: Notify,
    stopped: AtomicBool,
    stats: Mutex<SenderStats>,
    codec: Mutex<Option<CodecKind>>,
    finished: watch::Sender<bool>,
}

impl Shared {
    /// What the encoder aims at: the target, or the estimate when lower.
    fn bitrate(&self) -> u32 {
        let target = self.target_bps.load(Ordering::Relaxed);
        match self.estimate_bps.load(Ordering::Relaxed) {
            0 => target,
            estimate => target.min(estimate.max(MIN_BITRATE)),
        }
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, SenderStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A local track being encoded and sent on a transceiver (W3C `RTCRtpSender`), from
/// [`PeerConnection::add_media_track`](crate::PeerConnection::add_media_track) or
/// [`PeerConnection::attach_media_track`](crate::PeerConnection::attach_media_track).
///
/// Sending goes on until the track ends, the connection closes or [`MediaSender::stop`] is
/// called; dropping this handle does not stop it (as a W3C sender lives with its
/// transceiver).
#[derive(Debug, Clone)]
pub struct MediaSender {
    transceiver: TransceiverId,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("kind", &self.kind)
            .field("target_bps", &self.target_bps.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MediaSender {
    /// Takes the send side of `transceiver` and starts the task; gives the track back when
    /// the transceiver cannot be had.
    pub(super) async fn start<T>(
        link: Link,
        transceiver: TransceiverId,
        track: T,
    ) -> Result<MediaSender, (AttachError, T)>
    where
        T: MediaStreamTrack + 'static,
    {
        let kind = track.kind();
        let keyframe = Arc::new(AtomicBool::new(false));
        let estimate_bps = Arc::new(AtomicU32::new(0));
        let (codec_tx, codec_rx) = watch::channel(None);
        let part = TapPart::Send {
            kind: super::transceiver_kind(kind),
            keyframe: Arc::clone(&keyframe),
            codec: codec_tx,
            estimate: Arc::clone(&estimate_bps),
            can_send: match kind {
                MediaKind::Video => ENCODES_VIDEO.to_vec(),
                MediaKind::Audio => ENCODES_AUDIO.to_vec(),
            },
        };
        if let Err(e) = super::tap(&link, transceiver, kind, part).await {
            return Err((e, track));
        }
        let shared = Arc::new(Shared {
            kind,
            target_bps: AtomicU32::new(match kind {
                MediaKind::Video => DEFAULT_VIDEO_BITRATE,
                MediaKind::Audio => DEFAULT_AUDIO_BITRATE,
            }),
            estimate_bps,
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
            stats: Mutex::new(SenderStats::default()),
            codec: Mutex::new(None),
            finished: watch::Sender::new(false),
        });
        let task = SendTask {
            link,
            transceiver,
            shared: Arc::clone(&shared),
            keyframe,
            codec: codec_rx,
        };
        tokio::spawn(task.run(track));
        Ok(MediaSender {
            transceiver,
            shared,
        })
    }

    /// The transceiver it sends on.
    #[must_use]
    pub fn transceiver(&self) -> TransceiverId {
        self.transceiver
    }

    /// The track's kind.
    #[must_use]
    pub fn kind(&self) -> MediaKind {
        self.shared.kind
    }

    /// Sets the bitrate the encoder aims at, in bits per second, from the next frame on
    /// (1 Mbit/s for video and 64 kbit/s for Opus until set). Once the connection's
    /// congestion controller gives a target (GCC over transport-wide feedback, capped by
    /// the peer's REMB), this sender's share of it is used instead when lower: this is
    /// then a cap. Ignored by G.711 and G.722, whose rate is fixed; clamped to libopus's
    /// range for Opus.
    pub fn set_target_bitrate(&self, bitrate_bps: u32) {
        self.shared
            .target_bps
            .store(bitrate_bps.max(MIN_BITRATE), Ordering::Relaxed);
    }

    /// The bitrate set by [`MediaSender::set_target_bitrate`], in bits per second.
    #[must_use]
    pub fn target_bitrate(&self) -> u32 {
        self.shared.target_bps.load(Ordering::Relaxed)
    }

    /// This sender's share of the connection's latest congestion-control target, in bits
    /// per second, once there is one.
    #[must_use]
    pub fn bandwidth_estimate(&self) -> Option<u32> {
        match self.shared.estimate_bps.load(Ordering::Relaxed) {
            0 => None,
            e => Some(e),
        }
    }

    /// The codec frames are encoded with, once a negotiation has chosen it and a frame was
    /// encoded.
    #[must_use]
    pub fn codec(&self) -> Option<CodecKind> {
        *self
            .shared
            .codec
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> SenderStats {
        *self.shared.stats()
    }

    /// Stops sending (the track itself is not stopped: another consumer may hold it). The
    /// transceiver can then take another track.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.stop.notify_one();
    }

    /// Resolves once sending has stopped: the track ended, the connection closed or
    /// [`MediaSender::stop`] was called.
    pub async fn finished(&self) {
        let mut rx = self.shared.finished.subscribe();
        let _ = rx.wait_for(|&f| f).await;
    }
}

struct SendTask {
    link: Link,
    transceiver: TransceiverId,
    shared: Arc<Shared>,
    keyframe: Arc<AtomicBool>,
    codec: watch::Receiver<Option<SendCodec>>,
}

impl SendTask {
    async fn run<T: MediaStreamTrack>(mut self, track: T) {
        let mut encoding = Some(Encoding::new());
        loop {
            if self.shared.stopped.load(Ordering::Acquire) {
                break;
            }
            let next = tokio::select! {
                biased;
                () = self.shared.stop.notified() => break,
                () = self.link.finished() => break,
                next = next_frame(&track, &self.link, &mut self.codec) => next,
            };
            let Some((frame, codec)) = next else { break };
            let Some(mut enc) = encoding.take() else {
                break;
            };
            let target = self.shared.bitrate();
            let key = self.keyframe.swap(false, Ordering::AcqRel);
            let work = tokio::task::spawn_blocking(move || {
                let result = enc.encode(&frame, codec, target, key);
                (enc, result)
            });
            let Ok((mut enc, result)) = work.await else {
                // The encoder panicked (a bug in a codec library): this sender is done.
                tracing::error!(transceiver = %self.transceiver, "encoder task failed");
                break;
            };
            {
                let mut stats = self.shared.stats();
                stats.frames_in += 1;
                stats.keyframe_requests += u64::from(key);
                if let Err(e) = &result {
                    stats.frames_failed += 1;
                    if stats.frames_failed.is_power_of_two() {
                        tracing::warn!(
                            transceiver = %self.transceiver,
                            error = %e,
                            failed = stats.frames_failed,
                            "frame not encoded"
                        );
                    }
                }
            }
            if result.is_err() && key {
                // The request stands until a frame is encoded.
                self.keyframe.store(true, Ordering::Release);
            }
            *self
                .shared
                .codec
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(codec.codec);
            let mut closed = false;
            for (data, rtp_timestamp, key_frame) in enc.output.drain(..) {
                {
                    let mut stats = self.shared.stats();
                    stats.frames_sent += 1;
                    stats.key_frames += u64::from(key_frame);
                    stats.bytes_sent += data.len() as u64;
                }
                let write = Command::WriteFrame {
                    transceiver: self.transceiver,
                    data,
                    rtp_timestamp,
                };
                closed |= self.link.send(write).is_err();
            }
            encoding = Some(enc);
            if closed {
                break;
            }
        }
        // The transceiver is free once the codec watch is dropped: before saying finished.
        let shared = Arc::clone(&self.shared);
        drop(self);
        shared.finished.send_replace(true);
    }
}

/// The track's next frame once the transceiver has a codec to send with and the connection
/// is up, with that codec; `None` when the track ended or the connection closed. A frame
/// taken while a renegotiation stopped the sending is dropped, and the wait starts again.
async fn next_frame<T: MediaStreamTrack>(
    track: &T,
    link: &Link,
    codec: &mut watch::Receiver<Option<SendCodec>>,
) -> Option<(Frame, SendCodec)> {
    loop {
        codec.wait_for(Option::is_some).await.ok()?;
        link.connected().await.ok()?;
        let frame = track.recv().await.ok()?;
        if let Some(c) = *codec.borrow() {
            return Some((frame, c));
        }
    }
}

enum AnyEncoder {
    Video(Box<dyn VideoEncoder>),
    Audio(Box<dyn AudioEncoder>),
}

/// The encoder of one sender and what it produced, moved to the blocking pool and back for
/// each frame.
struct Encoding {
    encoder: Option<(CodecKind, AnyEncoder)>,
    /// Added to every RTP timestamp (RFC 3550 §5.1: the first one is random).
    rtp_offset: u32,
    /// The last RTP timestamp written, and when: frames whose `pts` does not advance get
    /// the wall clock's advance instead, so that no two frames share a timestamp.
    last: Option<(u32, Instant)>,
    encoded: Vec<ferrtc_media::EncodedFrame>,
    /// What goes to the transceiver: data, RTP timestamp, key frame.
    output: Vec<(Bytes, u32, bool)>,
}

/// Why a frame was not encoded.
#[derive(Debug, thiserror::Error)]
enum EncodeError {
    #[error("a {0:?} frame on a sender of the other kind")]
    Kind(MediaKind),
    #[error("no encoder for {0:?} here")]
    NoEncoder(CodecKind),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl Encoding {
    fn new() -> Encoding {
        Encoding {
            encoder: None,
            rtp_offset: rand::rngs::StdRng::from_os_rng().next_u32(),
            last: None,
            encoded: Vec::new(),
            output: Vec::new(),
        }
    }

    fn encode(
        &mut self,
        frame: &Frame,
        codec: SendCodec,
        target_bps: u32,
        key: bool,
    ) -> Result<(), EncodeError> {
        self.encoded.clear();
        match frame {
            Frame::Video(v) => self.encode_video(v, codec.codec, target_bps, key)?,
            Frame::Audio(a) => self.encode_audio(a, codec, target_bps)?,
        }
        let clock = TimeBase::per_sample(codec.clock_rate).unwrap_or(TimeBase::VIDEO_90KHZ);
        for e in self.encoded.drain(..) {
            let ts = (e.time_base.rescale(e.pts, clock) as u32).wrapping_add(self.rtp_offset);
            let now = Instant::now();
            let ts = match self.last {
                // Not after the last one (as serial numbers, RFC 1982): the wall clock's
                // advance, at least one tick.
                Some((last, at)) if (ts.wrapping_sub(last) as i32) <= 0 => {
                    let ticks = (now - at).as_secs_f64() * f64::from(codec.clock_rate);
                    last.wrapping_add((ticks as u32).max(1))
                }
                _ => ts,
            };
            self.last = Some((ts, now));
            self.output.push((Bytes::from(e.data), ts, e.key_frame));
        }
        Ok(())
    }

    fn encode_video(
        &mut self,
        frame: &VideoFrame,
        codec: CodecKind,
        target_bps: u32,
        key: bool,
    ) -> Result<(), EncodeError> {
        let size = (frame.width(), frame.height());
        let fits = match &self.encoder {
            Some((c, AnyEncoder::Video(e))) => {
                let config = e.settings().config;
                *c == codec && (config.width, config.height) == size
            }
            _ => false,
        };
        if !fits {
            let config = VideoEncoderConfig {
                width: size.0,
                height: size.1,
                bitrate_bps: target_bps,
                frame_rate: NOMINAL_FRAME_RATE,
            };
            let encoder: Box<dyn VideoEncoder> = match codec {
                CodecKind::Vp8 => Box::new(VpxEncoder::vp8(config)?),
                CodecKind::Vp9 => Box::new(VpxEncoder::vp9(config)?),
                CodecKind::H264 => Box::new(H264Encoder::new(config)?),
                CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 | CodecKind::Opus => {
                    return Err(EncodeError::Kind(MediaKind::Video));
                }
                other => return Err(EncodeError::NoEncoder(other)),
            };
            self.encoder = Some((codec, AnyEncoder::Video(encoder)));
        }
        let Some((_, AnyEncoder::Video(encoder))) = &mut self.encoder else {
            unreachable!("made above");
        };
        if encoder.settings().config.bitrate_bps != target_bps {
            encoder.set_bitrate(target_bps)?;
        }
        if key {
            encoder.request_key_frame();
        }
        encoder.encode(frame, &mut self.encoded)?;
        Ok(())
    }

    fn encode_audio(
        &mut self,
        frame: &AudioFrame,
        codec: SendCodec,
        target_bps: u32,
    ) -> Result<(), EncodeError> {
        // The format the codec takes: Opus takes the frame's own when it can.
        let (rate, channels) = match codec.codec {
            CodecKind::Pcmu | CodecKind::Pcma => (8_000, 1),
            CodecKind::G722 => (16_000, 1),
            CodecKind::Opus => (
                match frame.sample_rate() {
                    r @ (8_000 | 12_000 | 16_000 | 24_000 | 48_000) => r,
                    _ => 48_000,
                },
                frame.channels().clamp(1, 2),
            ),
            CodecKind::Vp8 | CodecKind::Vp9 | CodecKind::H264 | CodecKind::Av1 => {
                return Err(EncodeError::Kind(MediaKind::Audio));
            }
            other => return Err(EncodeError::NoEncoder(other)),
        };
        let fits = match &self.encoder {
            Some((c, AnyEncoder::Audio(e))) => {
                let s = e.settings();
                *c == codec.codec && (s.sample_rate, s.channels) == (rate, channels)
            }
            _ => false,
        };
        if !fits {
            let encoder: Box<dyn AudioEncoder> = match codec.codec {
                CodecKind::Pcmu => Box::new(G711Encoder::new(G711Law::MuLaw)),
                CodecKind::Pcma => Box::new(G711Encoder::new(G711Law::ALaw)),
                CodecKind::G722 => Box::new(G722Encoder::new()),
                _ => Box::new(OpusEncoder::new(
                    rate,
                    channels,
                    target_bps.clamp(*OPUS_BITRATES.start(), *OPUS_BITRATES.end()),
                )?),
            };
            self.encoder = Some((codec.codec, AnyEncoder::Audio(encoder)));
        }
        let Some((_, AnyEncoder::Audio(encoder))) = &mut self.encoder else {
            unreachable!("made above");
        };
        if codec.codec == CodecKind::Opus {
            let target = target_bps.clamp(*OPUS_BITRATES.start(), *OPUS_BITRATES.end());
            if encoder.settings().bitrate_bps != target {
                encoder.set_bitrate(target)?;
            }
        }
        if (frame.sample_rate(), frame.channels()) == (rate, channels) {
            encoder.encode(frame, &mut self.encoded)?;
        } else {
            let converted = convert_audio(frame, rate, channels)?;
            encoder.encode(&converted, &mut self.encoded)?;
        }
        Ok(())
    }
}

/// `frame` mixed to `channels` (1 or 2) and resampled to `rate` by linear interpolation,
/// frame by frame, with its `pts` rescaled.
fn convert_audio(frame: &AudioFrame, rate: u32, channels: u16) -> Result<AudioFrame, CodecError> {
    let s16 = frame.to_s16(None);
    let input = s16.s16().unwrap_or_default();
    let in_ch = usize::from(frame.channels().max(1));
    let n_in = input.len() / in_ch;
    // Per input sample, the mix of the channels (mono) or the first two (stereo).
    let sample = |i: usize, c: usize| -> f64 {
        let row = &input[i * in_ch..(i + 1) * in_ch];
        if channels == 1 {
            row.iter().map(|&s| f64::from(s)).sum::<f64>() / in_ch as f64
        } else {
            f64::from(row[c.min(in_ch - 1)])
        }
    };
    let n_out = (n_in as u64 * u64::from(rate) / u64::from(frame.sample_rate().max(1))) as usize;
    let step = f64::from(frame.sample_rate()) / f64::from(rate);
    let out_ch = usize::from(channels);
    let mut out = Vec::with_capacity(n_out * out_ch);
    for j in 0..n_out {
        let x = j as f64 * step;
        let i = x as usize;
        let t = x - i as f64;
        for c in 0..out_ch {
            let a = if i < n_in { sample(i, c) } else { 0.0 };
            let b = if i + 1 < n_in { sample(i + 1, c) } else { a };
            out.push((a + (b - a) * t).round().clamp(-32_768.0, 32_767.0) as i16);
        }
    }
    let mut converted = AudioFrame::from_s16(rate, channels, out)?;
    converted.time_base = TimeBase::per_sample(rate).unwrap_or(converted.time_base);
    converted.pts = frame.time_base.rescale(frame.pts, converted.time_base);
    Ok(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_48k_becomes_mono_8k() {
        let samples: Vec<i16> = (0..960).flat_map(|i| [i as i16, -(i as i16)]).collect();
        let mut frame = AudioFrame::from_s16(48_000, 2, samples).unwrap();
        frame.pts = 4_800;
        let out = convert_audio(&frame, 8_000, 1).unwrap();
        assert_eq!(
            (out.sample_rate(), out.channels(), out.samples()),
            (8_000, 1, 160)
        );
        // Left and right cancel.
        assert!(out.s16().unwrap().iter().all(|&s| s == 0));
        assert_eq!(out.pts, 800);
    }

    #[test]
    fn upsampling_interpolates() {
        let frame = AudioFrame::from_s16(8_000, 1, vec![0, 100, 200, 300]).unwrap();
        let out = convert_audio(&frame, 16_000, 1).unwrap();
        assert_eq!(out.s16().unwrap(), &[0, 50, 100, 150, 200, 250, 300, 300]);
    }

    #[test]
    fn timestamps_come_from_pts_and_never_repeat() {
        let mut enc = Encoding::new();
        enc.rtp_offset = 1_000;
        let codec = SendCodec {
            codec: CodecKind::Pcmu,
            payload_type: ferrtc_types::PayloadType::from_masked(0),
            clock_rate: 8_000,
            channels: 1,
        };
        for pts in [0, 160, 160] {
            let mut frame = AudioFrame::from_s16(8_000, 1, vec![0; 160]).unwrap();
            frame.pts = pts;
            enc.encode(&Frame::Audio(frame), codec, 64_000, false)
                .unwrap();
        }
        let ts: Vec<u32> = enc.output.iter().map(|o| o.1).collect();
        // The encoder counts samples on from its first frame: 0, 160, 320.
        assert_eq!(ts, [1_000, 1_160, 1_320]);
        let mut frame = VideoFrame::new(ferrtc_media::PixelFormat::I420, 64, 48).unwrap();
        let vp8 = SendCodec {
            codec: CodecKind::Vp8,
            payload_type: ferrtc_types::PayloadType::from_masked(96),
            clock_rate: 90_000,
            channels: 1,
        };
        enc.output.clear();
        for _ in 0..2 {
            frame.pts = 3_000;
            enc.encode(&Frame::Video(frame.clone()), vp8, 300_000, false)
                .unwrap();
        }
        let (a, b) = (enc.output[0].1, enc.output[1].1);
        assert_eq!(a, 4_000);
        assert!(b.wrapping_sub(a) as i32 > 0, "{a} then {b}");
    }
}
