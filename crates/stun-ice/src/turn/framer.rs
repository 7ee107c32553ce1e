//! [`StreamFramer`]: splits a TURN-over-TCP or TURN-over-TLS byte stream into whole STUN
//! messages and ChannelData messages (RFC 8656 section 12.5, RFC 8489 section 6.2.2).

use crate::framing::stream_frame_len;

use super::error::TurnError;

/// Splits a TURN byte stream, received in chunks of any size, into whole frames.
///
/// Frames that lie whole inside a chunk are handed out straight from it, without copying;
/// only a frame cut by a chunk boundary is gathered in an internal buffer. Frame lengths are
/// 16-bit fields, so that buffer never holds more than [`MAX_FRAME`](Self::MAX_FRAME) bytes,
/// whatever the peer sends.
///
/// A frame that is neither STUN (first two bits `00`) nor ChannelData (`01`) leaves the
/// stream impossible to split; from then on every [`push`](Self::push) fails with
/// [`TurnError::StreamDesynchronized`] and the connection should be closed.
///
/// ```
/// use ferrtc_stun_ice::turn::StreamFramer;
/// let mut framer = StreamFramer::new();
/// let stream = [0x40, 0x00, 0x00, 0x01, 0xAA, 0, 0, 0, 0x40, 0x01, 0x00, 0x00];
/// let mut frames = Vec::new();
/// for chunk in stream.chunks(5) {
///     framer.push(chunk, |frame| frames.push(frame.to_vec()))?;
/// }
/// assert_eq!(frames, [&stream[..8], &stream[8..]]);
/// # Ok::<(), ferrtc_stun_ice::turn::TurnError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    broken: bool,
}

impl StreamFramer {
    /// The longest frame a stream can carry: a STUN header with a 65535-byte body (a padded
    /// ChannelData frame is at most 65540 bytes).
    pub const MAX_FRAME: usize = crate::stun::HEADER_LEN + u16::MAX as usize;

    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an incomplete frame held back.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether the stream has desynchronized (see the type's documentation).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Feeds the next chunk of the stream; calls `on_frame` with each frame it completes, in
    /// order. A ChannelData frame includes its padding.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        mut on_frame: impl FnMut(&[u8]),
    ) -> Result<(), TurnError> {
        if self.broken {
            return Err(TurnError::StreamDesynchronized);
        }
        if !self.buf.is_empty() {
            // Complete the frame cut by the previous chunk: first its 4-byte header, then the
            // rest of the length that header gives.
            if self.buf.len() < 4 {
                let take = (4 - self.buf.len()).min(chunk.len());
                self.buf.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                if self.buf.len() < 4 {
                    return Ok(());
                }
            }
            let Some(need) = frame_len(&self.buf) else {
                return self.desynchronized();
            };
            let take = (need - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.buf.len() < need {
                return Ok(());
            }
            on_frame(&self.buf);
            self.buf.clear();
        }
        // Whole frames straight from the chunk.
        loop {
            if chunk.len() < 4 {
                break;
            }
            let Some(need) = frame_len(chunk) else {
                return self.desynchronized();
            };
            if chunk.len() < need {
                break;
            }
            on_frame(&chunk[..need]);
            chunk = &chunk[need..];
        }
        // The start of a frame: fewer bytes than its length, so at most MAX_FRAME - 1.
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    fn desynchronized(&mut self) -> Result<(), TurnError> {
        self.broken = true;
        self.buf = Vec::new();
        Err(TurnError::StreamDesynchronized)
    }
}

/// The length of the frame whose header starts `header` (at least 4 bytes are always given,
/// so `None` means "neither STUN nor ChannelData").
fn frame_len(header: &[u8]) -> Option<usize> {
    stream_frame_len(header).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stun_frame(body: usize, fill: u8) -> Vec<u8> {
        let mut m = vec![0x01, 0x01];
        m.extend_from_slice(&(body as u16).to_be_bytes());
        m.extend_from_slice(&crate::stun::MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[fill; 12]);
        m.extend(std::iter::repeat_n(fill, body));
        m
    }

    fn channel_frame(len: usize, fill: u8) -> Vec<u8> {
        let mut m = vec![0x40, 0x05];
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.extend(std::iter::repeat_n(fill, len));
        m.resize((m.len() + 3) & !3, 0);
        m
    }

    #[test]
    fn whole_frames_in_one_chunk() {
        let mut stream = stun_frame(8, 1);
        stream.extend(channel_frame(5, 2));
        stream.extend(channel_frame(0, 3));
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        f.push(&stream, |fr| got.push(fr.to_vec())).unwrap();
        assert_eq!(
            got,
            [stun_frame(8, 1), channel_frame(5, 2), channel_frame(0, 3)]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn byte_at_a_time_and_largest_frame() {
        let mut stream = stun_frame(65532, 9);
        stream.extend(channel_frame(65535, 8));
        assert_eq!(stream.len(), StreamFramer::MAX_FRAME - 3 + 4 + 65536);
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        for b in stream.chunks(1) {
            f.push(b, |fr| got.push(fr.to_vec())).unwrap();
            assert!(f.buffered() < StreamFramer::MAX_FRAME);
        }
        assert_eq!(got, [stun_frame(65532, 9), channel_frame(65535, 8)]);
    }

    #[test]
    fn garbage_breaks_the_stream_for_good() {
        let mut f = StreamFramer::new();
        let mut n = 0;
        let mut stream = channel_frame(1, 1);
        stream.extend_from_slice(&[0x80, 0, 0, 0]);
        f.push(&stream[..3], |_| n += 1).unwrap();
        assert_eq!(
            f.push(&stream[3..], |_| n += 1),
            Err(TurnError::StreamDesynchronized)
        );
        assert_eq!(n, 1);
        assert!(f.is_broken());
        assert_eq!(f.buffered(), 0);
        assert_eq!(
            f.push(&channel_frame(1, 1), |_| n += 1),
            Err(TurnError::StreamDesynchronized)
        );
        assert_eq!(n, 1);
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_frames(
            sizes in proptest::collection::vec((any::<bool>(), 0usize..300), 1..12),
            cuts in proptest::collection::vec(1usize..400, 1..40),
        ) {
            let frames: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &(stun, len))| if stun {
                    stun_frame(len & !3, i as u8)
                } else {
                    channel_frame(len, i as u8)
                })
                .collect();
            let stream = frames.concat();
            let mut f = StreamFramer::new();
            let mut got = Vec::new();
            let mut rest = &stream[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                f.push(&rest[..n], |fr| got.push(fr.to_vec())).unwrap();
                rest = &rest[n..];
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(f.buffered(), 0);
        }
    }
}
