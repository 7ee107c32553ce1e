//! Transceivers: a sender and a receiver sharing one m-line (W3C `RTCRtpTransceiver`).

use core::fmt;

use ferrtc_sdp::Direction;
use ferrtc_types::{Mid, Ssrc};

/// The kind of media a transceiver carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
}

impl MediaKind {
    /// The SDP media type.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }

    pub(crate) fn sdp(self) -> ferrtc_sdp::MediaKind {
        match self {
            MediaKind::Audio => ferrtc_sdp::MediaKind::Audio,
            MediaKind::Video => ferrtc_sdp::MediaKind::Video,
        }
    }

    pub(crate) fn from_sdp(kind: &ferrtc_sdp::MediaKind) -> Option<MediaKind> {
        match kind {
            ferrtc_sdp::MediaKind::Audio => Some(MediaKind::Audio),
            ferrtc_sdp::MediaKind::Video => Some(MediaKind::Video),
            _ => None,
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transceiver's handle: stable for the negotiator's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransceiverId(pub(crate) usize);

impl fmt::Display for TransceiverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The track a sender sends, as SDP names it (`a=msid`, RFC 8830).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackInfo {
    /// The track id (`msid-appdata`).
    pub track_id: String,
    /// The ids of the streams the track belongs to (`msid-id`); empty writes `-`.
    pub stream_ids: Vec<String>,
}

/// How to create a transceiver (W3C `RTCRtpTransceiverInit`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransceiverInit {
    /// The preferred direction (default `sendrecv`).
    pub direction: Direction,
    /// The track to send, if any.
    pub track: Option<TrackInfo>,
}

/// Who made a transceiver: the application, or a remote offer (W3C: rolled back with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    AddTrack,
    AddTransceiver,
    Remote,
}

/// A sender and a receiver sharing one m-line (W3C `RTCRtpTransceiver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transceiver {
    pub(crate) id: TransceiverId,
    pub(crate) kind: MediaKind,
    pub(crate) direction: Direction,
    pub(crate) current_direction: Option<Direction>,
    pub(crate) mid: Option<Mid>,
    pub(crate) m_line_index: Option<usize>,
    pub(crate) stopping: bool,
    pub(crate) stopped: bool,
    pub(crate) track: Option<TrackInfo>,
    /// Whether it ever negotiated sending (W3C: such a transceiver is not reused by `addTrack`).
    pub(crate) ever_sent: bool,
    pub(crate) ssrc: Option<Ssrc>,
    pub(crate) rtx_ssrc: Option<Ssrc>,
    pub(crate) origin: Origin,
    /// Removed by a rollback of the offer that created it; kept so ids stay stable.
    pub(crate) removed: bool,
    /// Codec preferences (W3C `setCodecPreferences`): configured codecs, in order.
    pub(crate) codec_preferences: Option<Vec<crate::CodecSpec>>,
}

impl Transceiver {
    pub(crate) fn new(
        id: TransceiverId,
        kind: MediaKind,
        direction: Direction,
        origin: Origin,
    ) -> Self {
        Transceiver {
            id,
            kind,
            direction,
            current_direction: None,
            mid: None,
            m_line_index: None,
            stopping: false,
            stopped: false,
            track: None,
            ever_sent: false,
            ssrc: None,
            rtx_ssrc: None,
            origin,
            removed: false,
            codec_preferences: None,
        }
    }

    /// Its handle.
    #[must_use]
    pub fn id(&self) -> TransceiverId {
        self.id
    }

    /// Audio or video.
    #[must_use]
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// The preferred direction (what the next offer or answer will ask for).
    #[must_use]
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The negotiated direction, from our side; `None` before the first answer.
    #[must_use]
    pub fn current_direction(&self) -> Option<Direction> {
        self.current_direction
    }

    /// Its mid, once a description is applied that gives it one.
    #[must_use]
    pub fn mid(&self) -> Option<&Mid> {
        self.mid.as_ref()
    }

    /// The index of its m-line, once it has one.
    #[must_use]
    pub fn m_line_index(&self) -> Option<usize> {
        self.m_line_index
    }

    /// Whether `stop` was called and the next offer will reject its m-line.
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Whether it is stopped (its m-line rejected in a negotiation).
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The track the sender sends, if any.
    #[must_use]
    pub fn track(&self) -> Option<&TrackInfo> {
        self.track.as_ref()
    }

    /// The SSRC of what we send (chosen when our first description with it is created).
    #[must_use]
    pub fn ssrc(&self) -> Option<Ssrc> {
        self.ssrc
    }

    /// The codec preferences set with
    /// [`set_codec_preferences`](crate::Negotiator::set_codec_preferences), if any.
    #[must_use]
    pub fn codec_preferences(&self) -> Option<&[crate::CodecSpec]> {
        self.codec_preferences.as_deref()
    }

    /// The SSRC of our RTX stream, when RTX is offered for its kind.
    #[must_use]
    pub fn rtx_ssrc(&self) -> Option<Ssrc> {
        self.rtx_ssrc
    }
}
