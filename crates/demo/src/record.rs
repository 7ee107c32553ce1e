//! `--record-to FILE`: the browser's video (`.ivf` or `.webm`, re-encoded as VP8, or `.y4m`,
//! raw) or audio (`.wav`, decoded from Opus, G.722, PCMU or PCMA; `.ogg`/`.opus`, Opus)
//! written to a file with `ferrtc-media`'s `MediaRecorder`.
//!
//! One call is recorded at a time: the first one that starts while no other is being
//! recorded. Its file is finished (header sizes written) when that call ends; the next call
//! then records over it, as aiortc's demo does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrtc::layers::rtp_codecs::rtp::RtpPacket;
use ferrtc::layers::sdp::{MediaKind as SdpMediaKind, SessionDescription};
use ferrtc_media::container::ContainerKind;
use ferrtc_media::{
    AudioDecoder, Frame, FrameSender, G711Decoder, G711Law, G722Decoder, MediaKind, MediaRecorder,
    OpusDecoder, track_channel,
};

/// The file extensions `--record-to` takes, and what each records.
pub const FORMATS: &str = ".ivf (video, VP8), .webm (video, VP8), .y4m (video, raw I420), \
     .wav (audio, 16-bit PCM), .ogg or .opus (audio, Opus)";

/// Where calls are recorded, and whether one is being recorded now.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    kind: MediaKind,
    busy: AtomicBool,
}

impl Recording {
    /// A recording to `path`, whose extension says the format (see [`FORMATS`]).
    pub fn new(path: &Path) -> Result<Recording, String> {
        let kind = match ContainerKind::from_path(path) {
            Some(ContainerKind::Wav | ContainerKind::Ogg) => MediaKind::Audio,
            Some(ContainerKind::Ivf | ContainerKind::Webm | ContainerKind::Y4m) => MediaKind::Video,
            None => {
                return Err(format!("{}: --record-to takes {FORMATS}", path.display()));
            }
        };
        Ok(Recording {
            path: path.to_owned(),
            kind,
            busy: AtomicBool::new(false),
        })
    }

    /// Whether video is recorded (else audio).
    pub fn is_video(&self) -> bool {
        self.kind == MediaKind::Video
    }

    /// Starts recording a call, unless another is being recorded.
    pub fn claim(self: &Arc<Self>) -> Option<CallRecorder> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return None;
        }
        let (sender, track) = track_channel(self.kind, "recorded");
        let started = MediaRecorder::new(&self.path).and_then(|mut r| {
            r.add_track(track)?;
            r.start()?;
            Ok(r)
        });
        match started {
            Ok(recorder) => {
                tracing::info!(path = %self.path.display(), "recording this call");
                Some(CallRecorder {
                    slot: Arc::clone(self),
                    sender: Some(sender),
                    recorder,
                    audio: None,
                    frames: 0,
                })
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot record");
                self.busy.store(false, Ordering::Release);
                None
            }
        }
    }
}

/// Payload type to (encoding name, clock rate).
pub type AudioCodecs = HashMap<u8, (String, u32)>;

/// The audio codecs of an offer, by payload type: encoding name and clock rate, from its
/// `a=rtpmap` lines in audio sections (read with `ferrtc-sdp`; an offer it refuses gives none).
pub fn audio_payload_types(sdp: &str) -> AudioCodecs {
    let Ok(sdp) = SessionDescription::parse(sdp) else {
        return HashMap::new();
    };
    sdp.media
        .iter()
        .filter(|m| m.kind == SdpMediaKind::Audio)
        .flat_map(|m| m.rtpmaps())
        .map(|r| {
            let name = r.encoding_name.to_ascii_lowercase();
            (r.payload_type.get(), (name, r.clock_rate))
        })
        .collect()
}

/// The payload type, timestamp and payload of an RTP packet (read with `ferrtc-rtp-codecs`:
/// after the CSRCs and the header extension, before the padding). `None` if malformed.
pub fn rtp_payload(packet: &[u8]) -> Option<(u8, u32, &[u8])> {
    let p = RtpPacket::new_checked(packet).ok()?;
    let payload = &packet[p.header_len()..packet.len() - p.padding_len()];
    Some((p.payload_type().get(), p.timestamp(), payload))
}

/// The audio decoder for a codec of [`audio_payload_types`].
fn audio_decoder(name: &str) -> Option<Box<dyn AudioDecoder>> {
    let d: Box<dyn AudioDecoder> = match name {
        "opus" => Box::new(OpusDecoder::new(48_000, 1).ok()?),
        "pcmu" => Box::new(G711Decoder::new(G711Law::MuLaw)),
        "pcma" => Box::new(G711Decoder::new(G711Law::ALaw)),
        "g722" => Box::new(G722Decoder::new()),
        _ => return None,
    };
    Some(d)
}

/// One call being recorded.
pub struct CallRecorder {
    slot: Arc<Recording>,
    sender: Option<FrameSender>,
    recorder: MediaRecorder,
    /// The audio codec's payload type and decoder, once the first packet came.
    audio: Option<(u8, Box<dyn AudioDecoder>)>,
    frames: u64,
}

impl CallRecorder {
    /// The sender decoded video frames go to (taken once, by the video pipeline).
    pub fn take_video_sender(&mut self) -> Option<FrameSender> {
        (self.slot.kind == MediaKind::Video)
            .then(|| self.sender.take())
            .flatten()
    }

    /// An audio RTP packet from the browser, with the codecs its offer gave.
    pub fn push_audio_rtp(&mut self, packet: &[u8], codecs: &AudioCodecs) {
        let Some(sender) = self.sender.as_ref() else {
            return;
        };
        let Some((pt, timestamp, payload)) = rtp_payload(packet) else {
            return;
        };
        if self.audio.as_ref().is_none_or(|(p, _)| *p != pt) {
            // The first packet, or the browser changed codec: a WAV file has one format,
            // so only the first codec is recorded.
            if self.audio.is_some() {
                return;
            }
            let Some(decoder) = codecs.get(&pt).and_then(|(name, _)| audio_decoder(name)) else {
                return;
            };
            self.audio = Some((pt, decoder));
        }
        let Some((_, decoder)) = self.audio.as_mut() else {
            return;
        };
        match decoder.decode(payload, i64::from(timestamp)) {
            Ok(frame) => {
                self.frames += 1;
                let _ = sender.send(Frame::Audio(frame));
            }
            Err(e) => tracing::debug!(error = %e, "audio packet not decoded"),
        }
    }

    /// Ends the recording: the file is finished and the next call may record.
    ///
    /// The recorder runs until its track ends: once the last sender is gone (ours here, or
    /// the video pipeline's, whose decode thread ends when the pipeline was dropped) and it
    /// has taken the frame the track still held. Stopping the track instead would drop
    /// that frame, the call's last, now that a call ends at once on the peer's close.
    pub async fn finish(mut self) {
        drop(self.sender.take());
        let path = self.slot.path.display().to_string();
        match self.recorder.wait().await {
            Ok(()) => {
                tracing::info!(%path, audio_packets = self.frames, "recording finished");
                println!("recorded to {path}");
            }
            Err(e) => tracing::warn!(%path, error = %e, "recording failed"),
        }
        self.slot.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_says_what_is_recorded() {
        for (name, video) in [
            ("a.ivf", true),
            ("a.webm", true),
            ("a.y4m", true),
            ("a.wav", false),
            ("a.ogg", false),
            ("a.opus", false),
        ] {
            let r = Recording::new(Path::new(name)).expect(name);
            assert_eq!(r.is_video(), video, "{name}");
        }
        assert!(Recording::new(Path::new("a.mp4")).is_err());
    }

    #[test]
    fn rtp_payload_skips_csrcs_extension_and_padding() {
        let mut p = vec![0xb1, 111, 0, 1, 0, 0, 3, 0xc0, 1, 2, 3, 4];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]); // one-word extension
        p.extend_from_slice(b"opus");
        p.extend_from_slice(&[0, 0, 3]); // padding of 3
        assert_eq!(rtp_payload(&p), Some((111, 960, &b"opus"[..])));
        // Padding longer than the packet, an extension past the end, a short packet.
        let mut bad = p.clone();
        *bad.last_mut().unwrap() = 200;
        assert_eq!(rtp_payload(&bad), None);
        assert_eq!(rtp_payload(&p[..18]), None);
        assert_eq!(rtp_payload(&p[..8]), None);
    }

    #[test]
    fn audio_payload_types_come_from_audio_sections_only() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 9 0\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        let map = audio_payload_types(sdp);
        assert_eq!(map.len(), 3);
        assert_eq!(map[&111], ("opus".to_owned(), 48_000));
        assert_eq!(map[&9], ("g722".to_owned(), 8000));
        assert!(!map.contains_key(&96));
    }
}
