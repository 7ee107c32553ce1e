//! The video transforms, on I420 frames, in our own code.

use ferrtc_media::{FrameError, PixelFormat, VideoFrame};

/// What is done to the browser's video before it goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// Nothing: RTP goes back as it came, never decoded.
    None,
    /// Sobel edges of the luma plane: white edges on black, no colour.
    Edges,
    /// Rotated about the centre by an angle growing 45 degrees per second.
    Rotate,
    /// Flat colours (luma and chroma posterized) with dark edges.
    Cartoon,
}

impl Transform {
    /// The transform a page names (`video_transform`); unknown names are `None`.
    pub fn from_name(name: Option<&str>) -> Transform {
        match name {
            Some("edges") => Transform::Edges,
            Some("rotate") => Transform::Rotate,
            Some("cartoon") => Transform::Cartoon,
            _ => Transform::None,
        }
    }

    /// Applies the transform; `seconds` is the frame's time since the stream's first frame.
    pub fn apply(self, frame: &VideoFrame, seconds: f64) -> Result<VideoFrame, FrameError> {
        match self {
            Transform::None => Ok(frame.clone()),
            Transform::Edges => edges(frame),
            Transform::Rotate => rotate(frame, seconds * 45.0),
            Transform::Cartoon => cartoon(frame),
        }
    }
}

/// Sobel gradient magnitude (|gx| + |gy|) above which a pixel is an edge.
const EDGE_THRESHOLD: i32 = 160;

/// White edges on black: the Sobel magnitude of the luma plane, thresholded; chroma grey.
pub fn edges(frame: &VideoFrame) -> Result<VideoFrame, FrameError> {
    let frame = i420(frame)?;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut out = VideoFrame::new(PixelFormat::I420, frame.width(), frame.height())?;
    out.pts = frame.pts;
    out.time_base = frame.time_base;
    let (src, src_stride) = (frame.plane(0), frame.stride(0));
    let dst_stride = out.stride(0);
    let [y, u, v] = out.planes_mut();
    u.fill(128);
    v.fill(128);
    // Limited range: black is 16, white 235.
    y.fill(16);
    if w < 3 || h < 3 {
        return Ok(out);
    }
    let px = |x: usize, row: usize| i32::from(src[row * src_stride + x]);
    for row in 1..h - 1 {
        let dst = &mut y[row * dst_stride..row * dst_stride + w];
        for (x, d) in dst.iter_mut().enumerate().take(w - 1).skip(1) {
            let gx = px(x + 1, row - 1) + 2 * px(x + 1, row) + px(x + 1, row + 1)
                - px(x - 1, row - 1)
                - 2 * px(x - 1, row)
                - px(x - 1, row + 1);
            let gy = px(x - 1, row + 1) + 2 * px(x, row + 1) + px(x + 1, row + 1)
                - px(x - 1, row - 1)
                - 2 * px(x, row - 1)
                - px(x + 1, row - 1);
            if gx.abs() + gy.abs() > EDGE_THRESHOLD {
                *d = 235;
            }
        }
    }
    Ok(out)
}

/// Luma steps of the cartoon look.
const CARTOON_LUMA_STEP: u8 = 40;
/// Chroma steps of the cartoon look.
const CARTOON_CHROMA_STEP: u8 = 24;

/// A cartoon: luma and chroma posterized into flat bands, Sobel edges drawn dark.
pub fn cartoon(frame: &VideoFrame) -> Result<VideoFrame, FrameError> {
    let frame = i420(frame)?;
    let lines = edges(&frame)?;
    let mut out = frame.clone();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (line_y, line_stride) = (lines.plane(0), lines.stride(0));
    for plane in 0..3 {
        let (row_bytes, rows) = (out.plane_row_bytes(plane), out.plane_rows(plane));
        let stride = out.stride(plane);
        let step = if plane == 0 {
            CARTOON_LUMA_STEP
        } else {
            CARTOON_CHROMA_STEP
        };
        let data = out.plane_mut(plane);
        for row in data.chunks_mut(stride).take(rows) {
            for px in &mut row[..row_bytes] {
                // The middle of the band, short of overflowing at the top.
                *px = ((*px / step) * step).saturating_add(step / 2);
            }
        }
    }
    let y_stride = out.stride(0);
    let y = out.plane_mut(0);
    for (dst, src) in y
        .chunks_mut(y_stride)
        .zip(line_y.chunks(line_stride))
        .take(h)
    {
        for (d, &e) in dst[..w].iter_mut().zip(&src[..w]) {
            if e > 128 {
                *d = 16;
            }
        }
    }
    Ok(out)
}

/// The frame rotated by `degrees` about its centre (nearest neighbour); what falls outside
/// the source is black.
pub fn rotate(frame: &VideoFrame, degrees: f64) -> Result<VideoFrame, FrameError> {
    let frame = i420(frame)?;
    let mut out = VideoFrame::new(PixelFormat::I420, frame.width(), frame.height())?;
    out.pts = frame.pts;
    out.time_base = frame.time_base;
    let (sin, cos) = degrees.to_radians().sin_cos();
    for plane in 0..3 {
        let (w, h) = (frame.plane_row_bytes(plane), frame.plane_rows(plane));
        let (src, src_stride) = (frame.plane(plane), frame.stride(plane));
        let dst_stride = out.stride(plane);
        let fill = if plane == 0 { 16 } else { 128 };
        let dst = out.plane_mut(plane);
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        for row in 0..h {
            let dy = row as f64 + 0.5 - cy;
            let line = &mut dst[row * dst_stride..row * dst_stride + w];
            for (x, d) in line.iter_mut().enumerate() {
                let dx = x as f64 + 0.5 - cx;
                // The inverse rotation: where this output pixel comes from.
                let sx = cos * dx + sin * dy + cx;
                let sy = -sin * dx + cos * dy + cy;
                *d = if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                    src[sy as usize * src_stride + sx as usize]
                } else {
                    fill
                };
            }
        }
    }
    Ok(out)
}

/// The frame as I420 (decoders give I420 already: no copy then).
fn i420(frame: &VideoFrame) -> Result<VideoFrame, FrameError> {
    if frame.format() == PixelFormat::I420 {
        Ok(frame.clone())
    } else {
        frame.to_pixel_format(PixelFormat::I420, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose left half is black and right half white.
    fn half_and_half(w: u32, h: u32) -> VideoFrame {
        let mut f = VideoFrame::new(PixelFormat::I420, w, h).unwrap();
        let stride = f.stride(0);
        let y = f.plane_mut(0);
        for row in 0..h as usize {
            for x in w as usize / 2..w as usize {
                y[row * stride + x] = 235;
            }
        }
        f
    }

    #[test]
    fn edges_find_the_one_vertical_edge() {
        let f = half_and_half(64, 32);
        let e = edges(&f).unwrap();
        let (y, stride) = (e.plane(0), e.stride(0));
        for row in 1..31 {
            let bright: Vec<usize> = (0..64).filter(|&x| y[row * stride + x] == 235).collect();
            assert_eq!(bright, vec![31, 32], "row {row}");
        }
        assert!(e.plane(1).iter().all(|&c| c == 128));
    }

    #[test]
    fn cartoon_draws_the_edge_dark_and_flattens_the_rest() {
        let f = half_and_half(64, 32);
        let c = cartoon(&f).unwrap();
        let (y, stride) = (c.plane(0), c.stride(0));
        assert_eq!(y[5 * stride + 31], 16);
        assert_eq!(y[5 * stride + 32], 16);
        assert_eq!(y[5 * stride + 50], 235 / 40 * 40 + 20);
        let mut white = VideoFrame::new(PixelFormat::I420, 8, 8).unwrap();
        white.plane_mut(0).fill(250);
        let white = cartoon(&white).unwrap();
        assert_eq!(white.plane(0)[white.stride(0) + 1], 255);
        // Black (16) is in the first band.
        assert_eq!(y[5 * stride + 10], 20);
    }

    #[test]
    fn rotate_by_180_mirrors_both_ways() {
        let f = half_and_half(64, 32);
        let r = rotate(&f, 180.0).unwrap();
        let (y, stride) = (r.plane(0), r.stride(0));
        assert_eq!(y[5 * stride + 2], 235);
        assert_eq!(y[5 * stride + 60], 16);
        let same = rotate(&f, 0.0).unwrap();
        assert_eq!(same.plane(0), f.plane(0));
    }
}
