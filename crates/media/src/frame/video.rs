//! Video frames: planar YUV 4:2:0 (I420, NV12) with strides, and their conversion to and from
//! packed RGB through the `yuv` crate.

use std::fmt;
use std::sync::Arc;

use yuv::{
    BufferStoreMut, YuvBiPlanarImage, YuvBiPlanarImageMut, YuvConversionMode, YuvPlanarImage,
    YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};

use crate::error::FrameError;
use crate::pool::{BufferPool, PooledBuffer};
use crate::time::TimeBase;

/// The largest width or height accepted (the largest VP8 frame dimension is 16383).
const MAX_DIMENSION: u32 = 16_384;
/// Luma rows start on this many bytes, which suits SIMD loads in converters and codecs.
const ROW_ALIGN: usize = 32;

/// How the samples of a YUV frame are laid out. Both are 8-bit 4:2:0: chroma has half the
/// width and half the height of luma, rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Three planes: Y, then U (Cb), then V (Cr). What VP8, VP9 and H.264 codecs take.
    I420,
    /// Two planes: Y, then U and V interleaved (`UVUV...`). What many cameras give.
    Nv12,
}

impl PixelFormat {
    /// The number of planes.
    pub const fn plane_count(self) -> usize {
        match self {
            PixelFormat::I420 => 3,
            PixelFormat::Nv12 => 2,
        }
    }
}

/// A packed 8-bit RGB layout, for conversion (PyAV's `rgb24`, `bgr24`, `rgba`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RgbFormat {
    /// Red, green, blue: 3 bytes per pixel.
    Rgb24,
    /// Blue, green, red (OpenCV's order): 3 bytes per pixel.
    Bgr24,
    /// Red, green, blue, alpha: 4 bytes per pixel (alpha is 255 when converting from YUV).
    Rgba,
}

impl RgbFormat {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            RgbFormat::Rgb24 | RgbFormat::Bgr24 => 3,
            RgbFormat::Rgba => 4,
        }
    }
}

/// Where each plane sits in a frame's one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    strides: [usize; 3],
    offsets: [usize; 3],
    lens: [usize; 3],
    total: usize,
}

impl Layout {
    fn new(format: PixelFormat, width: u32, height: u32) -> Result<Layout, FrameError> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(FrameError::InvalidDimensions { width, height });
        }
        let (w, h) = (width as usize, height as usize);
        let luma_stride = w.next_multiple_of(ROW_ALIGN);
        let chroma_rows = h.div_ceil(2);
        // luma_stride is even and >= w, so half of it holds ceil(w / 2) chroma samples, and all
        // of it holds ceil(w / 2) interleaved pairs.
        let (strides, lens) = match format {
            PixelFormat::I420 => {
                let cs = luma_stride / 2;
                (
                    [luma_stride, cs, cs],
                    [luma_stride * h, cs * chroma_rows, cs * chroma_rows],
                )
            }
            PixelFormat::Nv12 => (
                [luma_stride, luma_stride, 0],
                [luma_stride * h, luma_stride * chroma_rows, 0],
            ),
        };
        let offsets = [0, lens[0], lens[0] + lens[1]];
        Ok(Layout {
            strides,
            offsets,
            lens,
            total: lens.iter().sum(),
        })
    }
}

/// A raw video frame: 8-bit YUV 4:2:0 planes with strides, a size, and a presentation
/// timestamp (`pts` counted in `time_base`, as in PyAV's `VideoFrame`).
///
/// The planes live in one buffer shared by clones (cloning is cheap: a reference count), taken
/// from a [`BufferPool`] on the hot path. Writing through [`VideoFrame::planes_mut`] copies the
/// buffer first only if another clone still shares it.
///
/// Colours are ITU-R BT.601, limited range, as libswscale (and so PyAV and aiortc) assume.
///
/// ```
/// use ferrtc_media::{PixelFormat, RgbFormat, VideoFrame};
///
/// let rgb = vec![200u8; 4 * 2 * 3]; // 4x2 pixels of light grey
/// let frame = VideoFrame::from_rgb(&rgb, 4 * 3, RgbFormat::Rgb24, 4, 2, PixelFormat::I420, None)?;
/// assert_eq!((frame.width(), frame.height()), (4, 2));
/// let back = frame.to_rgb_vec(RgbFormat::Rgb24)?;
/// assert!(back.iter().all(|&c| c.abs_diff(200) <= 2));
/// # Ok::<(), ferrtc_media::FrameError>(())
/// ```
#[derive(Clone)]
pub struct VideoFrame {
    format: PixelFormat,
    width: u32,
    height: u32,
    layout: Layout,
    data: Arc<PooledBuffer<u8>>,
    /// Presentation timestamp, in `time_base` units.
    pub pts: i64,
    /// The unit of `pts`; [`TimeBase::VIDEO_90KHZ`] unless set otherwise.
    pub time_base: TimeBase,
}

impl fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoFrame")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("pts", &self.pts)
            .field("time_base", &self.time_base)
            .finish_non_exhaustive()
    }
}

impl VideoFrame {
    /// Checks that a frame of this size can be made, without allocating it.
    pub(crate) fn check_dimensions(width: u32, height: u32) -> Result<(), FrameError> {
        Layout::new(PixelFormat::I420, width, height).map(drop)
    }

    /// A black frame (Y = 16, U = V = 128) in its own buffer.
    pub fn new(format: PixelFormat, width: u32, height: u32) -> Result<VideoFrame, FrameError> {
        let layout = Layout::new(format, width, height)?;
        let mut data = vec![128u8; layout.total];
        data[..layout.lens[0]].fill(16);
        Ok(Self::with_buffer(
            format,
            width,
            height,
            layout,
            PooledBuffer::unpooled(data),
        ))
    }

    /// A frame whose buffer comes from `pool`. Its samples are unspecified: the caller writes
    /// every plane (through [`VideoFrame::planes_mut`]) before using it.
    pub fn new_in(
        pool: &BufferPool<u8>,
        format: PixelFormat,
        width: u32,
        height: u32,
    ) -> Result<VideoFrame, FrameError> {
        let layout = Layout::new(format, width, height)?;
        Ok(Self::with_buffer(
            format,
            width,
            height,
            layout,
            pool.take(layout.total),
        ))
    }

    fn with_buffer(
        format: PixelFormat,
        width: u32,
        height: u32,
        layout: Layout,
        data: PooledBuffer<u8>,
    ) -> VideoFrame {
        VideoFrame {
            format,
            width,
            height,
            layout,
            data: Arc::new(data),
            pts: 0,
            time_base: TimeBase::VIDEO_90KHZ,
        }
    }

    /// A frame copied from planes laid out elsewhere (a decoder's or a camera's), each given as
    /// `(samples, stride)`. This is the one copy such a source needs; the buffer comes from
    /// `pool` when one is given.
    pub fn from_planes(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: &[(&[u8], usize)],
        pool: Option<&BufferPool<u8>>,
    ) -> Result<VideoFrame, FrameError> {
        if planes.len() != format.plane_count() {
            return Err(FrameError::PlaneCount {
                format,
                expected: format.plane_count(),
                actual: planes.len(),
            });
        }
        let mut frame = match pool {
            Some(pool) => Self::new_in(pool, format, width, height)?,
            None => Self::new(format, width, height)?,
        };
        for (i, &(src, src_stride)) in planes.iter().enumerate() {
            let row = frame.plane_row_bytes(i);
            let rows = frame.plane_rows(i);
            check_plane(i, src.len(), src_stride, row, rows)?;
            let dst_stride = frame.stride(i);
            let dst = frame.plane_mut(i);
            for (d, s) in dst
                .chunks_mut(dst_stride)
                .zip(src.chunks(src_stride))
                .take(rows)
            {
                d[..row].copy_from_slice(&s[..row]);
            }
        }
        Ok(frame)
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// `pts` in seconds.
    pub fn time(&self) -> f64 {
        self.time_base.seconds(self.pts)
    }

    /// Plane `i` (0 is luma), `stride(i) * plane_rows(i)` bytes.
    ///
    /// # Panics
    /// If `i` is not below [`PixelFormat::plane_count`].
    pub fn plane(&self, i: usize) -> &[u8] {
        assert!(
            i < self.format.plane_count(),
            "plane {i} of a {:?} frame",
            self.format
        );
        let start = self.layout.offsets[i];
        &self.data[start..start + self.layout.lens[i]]
    }

    /// Bytes from the start of one row of plane `i` to the next.
    pub fn stride(&self, i: usize) -> usize {
        self.layout.strides[i]
    }

    /// The number of rows of plane `i`.
    pub fn plane_rows(&self, i: usize) -> usize {
        if i == 0 {
            self.height as usize
        } else {
            (self.height as usize).div_ceil(2)
        }
    }

    /// The meaningful bytes in one row of plane `i` (the rest up to the stride is padding).
    pub fn plane_row_bytes(&self, i: usize) -> usize {
        let chroma = (self.width as usize).div_ceil(2);
        match (self.format, i) {
            (_, 0) => self.width as usize,
            (PixelFormat::I420, _) => chroma,
            (PixelFormat::Nv12, _) => 2 * chroma,
        }
    }

    /// All planes, writable (the third is empty for NV12). Copies the buffer first if a clone
    /// of this frame shares it.
    pub fn planes_mut(&mut self) -> [&mut [u8]; 3] {
        let layout = self.layout;
        let data: &mut [u8] = &mut Arc::make_mut(&mut self.data)[..];
        let (y, rest) = data.split_at_mut(layout.lens[0]);
        let (u, rest) = rest.split_at_mut(layout.lens[1]);
        let v = &mut rest[..layout.lens[2]];
        [y, u, v]
    }

    /// Plane `i`, writable; see [`VideoFrame::planes_mut`].
    ///
    /// # Panics
    /// If `i` is not below [`PixelFormat::plane_count`].
    pub fn plane_mut(&mut self, i: usize) -> &mut [u8] {
        assert!(
            i < self.format.plane_count(),
            "plane {i} of a {:?} frame",
            self.format
        );
        let [y, u, v] = self.planes_mut();
        match i {
            0 => y,
            1 => u,
            _ => v,
        }
    }

    /// Converts into packed RGB written to `out`, rows `stride` bytes apart (no allocation).
    pub fn to_rgb(
        &self,
        format: RgbFormat,
        out: &mut [u8],
        stride: usize,
    ) -> Result<(), FrameError> {
        let row = self.width as usize * format.bytes_per_pixel();
        check_plane(0, out.len(), stride, row, self.height as usize)?;
        let (range, matrix) = (YuvRange::Limited, YuvStandardMatrix::Bt601);
        // Strides are below 4 * MAX_DIMENSION + ROW_ALIGN, far inside u32.
        let out_stride = stride as u32;
        let result = match self.format {
            PixelFormat::I420 => {
                let img = self.planar_image();
                match format {
                    RgbFormat::Rgb24 => yuv::yuv420_to_rgb(&img, out, out_stride, range, matrix),
                    RgbFormat::Bgr24 => yuv::yuv420_to_bgr(&img, out, out_stride, range, matrix),
                    RgbFormat::Rgba => yuv::yuv420_to_rgba(&img, out, out_stride, range, matrix),
                }
            }
            PixelFormat::Nv12 => {
                let img = self.bi_planar_image();
                let mode = YuvConversionMode::Balanced;
                match format {
                    RgbFormat::Rgb24 => {
                        yuv::yuv_nv12_to_rgb(&img, out, out_stride, range, matrix, mode)
                    }
                    RgbFormat::Bgr24 => {
                        yuv::yuv_nv12_to_bgr(&img, out, out_stride, range, matrix, mode)
                    }
                    RgbFormat::Rgba => {
                        yuv::yuv_nv12_to_rgba(&img, out, out_stride, range, matrix, mode)
                    }
                }
            }
        };
        result.map_err(FrameError::Conversion)
    }

    /// Converts into a new, tightly packed RGB buffer (PyAV's `to_ndarray(format="rgb24")`).
    pub fn to_rgb_vec(&self, format: RgbFormat) -> Result<Vec<u8>, FrameError> {
        let stride = self.width as usize * format.bytes_per_pixel();
        let mut out = vec![0u8; stride * self.height as usize];
        self.to_rgb(format, &mut out, stride)?;
        Ok(out)
    }

    /// Converts packed RGB (rows `stride` bytes apart) into a new YUV frame, whose buffer comes
    /// from `pool` when one is given. The RGB is read in place, not copied first.
    pub fn from_rgb(
        rgb: &[u8],
        stride: usize,
        format: RgbFormat,
        width: u32,
        height: u32,
        pixel_format: PixelFormat,
        pool: Option<&BufferPool<u8>>,
    ) -> Result<VideoFrame, FrameError> {
        let mut frame = match pool {
            Some(pool) => Self::new_in(pool, pixel_format, width, height)?,
            None => Self::new(pixel_format, width, height)?,
        };
        let row = width as usize * format.bytes_per_pixel();
        check_plane(0, rgb.len(), stride, row, height as usize)?;
        let (range, matrix, mode) = (
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        );
        let in_stride = stride as u32;
        let strides = frame.layout.strides.map(|s| s as u32);
        let [y, u, v] = frame.planes_mut();
        let result = match pixel_format {
            PixelFormat::I420 => {
                let mut img = YuvPlanarImageMut {
                    y_plane: BufferStoreMut::Borrowed(y),
                    y_stride: strides[0],
                    u_plane: BufferStoreMut::Borrowed(u),
                    u_stride: strides[1],
                    v_plane: BufferStoreMut::Borrowed(v),
                    v_stride: strides[2],
                    width,
                    height,
                };
                match format {
                    RgbFormat::Rgb24 => {
                        yuv::rgb_to_yuv420(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                    RgbFormat::Bgr24 => {
                        yuv::bgr_to_yuv420(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                    RgbFormat::Rgba => {
                        yuv::rgba_to_yuv420(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                }
            }
            PixelFormat::Nv12 => {
                let mut img = YuvBiPlanarImageMut {
                    y_plane: BufferStoreMut::Borrowed(y),
                    y_stride: strides[0],
                    uv_plane: BufferStoreMut::Borrowed(u),
                    uv_stride: strides[1],
                    width,
                    height,
                };
                match format {
                    RgbFormat::Rgb24 => {
                        yuv::rgb_to_yuv_nv12(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                    RgbFormat::Bgr24 => {
                        yuv::bgr_to_yuv_nv12(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                    RgbFormat::Rgba => {
                        yuv::rgba_to_yuv_nv12(&mut img, rgb, in_stride, range, matrix, mode)
                    }
                }
            }
        };
        result.map_err(FrameError::Conversion)?;
        Ok(frame)
    }

    /// The same picture in another pixel format (I420 <-> NV12 moves chroma samples; no colour
    /// arithmetic). A frame already in `target` is returned as a cheap clone.
    pub fn to_pixel_format(
        &self,
        target: PixelFormat,
        pool: Option<&BufferPool<u8>>,
    ) -> Result<VideoFrame, FrameError> {
        if target == self.format {
            return Ok(self.clone());
        }
        let mut out = match pool {
            Some(pool) => Self::new_in(pool, target, self.width, self.height)?,
            None => Self::new(target, self.width, self.height)?,
        };
        out.pts = self.pts;
        out.time_base = self.time_base;
        let chroma_w = (self.width as usize).div_ceil(2);
        let rows = self.plane_rows(1);
        let (src_strides, dst_strides) = (self.layout.strides, out.layout.strides);
        let luma_row = self.width as usize;
        let [y, a, b] = out.planes_mut();
        for (d, s) in y
            .chunks_mut(dst_strides[0])
            .zip(self.plane(0).chunks(src_strides[0]))
        {
            d[..luma_row].copy_from_slice(&s[..luma_row]);
        }
        match target {
            PixelFormat::Nv12 => {
                // I420 -> NV12: interleave U and V.
                let (u, v) = (self.plane(1), self.plane(2));
                for r in 0..rows {
                    let uv = &mut a[r * dst_strides[1]..][..2 * chroma_w];
                    let ur = &u[r * src_strides[1]..][..chroma_w];
                    let vr = &v[r * src_strides[2]..][..chroma_w];
                    for ((pair, &us), &vs) in uv.chunks_exact_mut(2).zip(ur).zip(vr) {
                        pair[0] = us;
                        pair[1] = vs;
                    }
                }
            }
            PixelFormat::I420 => {
                // NV12 -> I420: split the interleaved pairs.
                let uv = self.plane(1);
                for r in 0..rows {
                    let src = &uv[r * src_strides[1]..][..2 * chroma_w];
                    let ur = &mut a[r * dst_strides[1]..][..chroma_w];
                    let vr = &mut b[r * dst_strides[2]..][..chroma_w];
                    for ((pair, us), vs) in src.chunks_exact(2).zip(ur).zip(vr) {
                        *us = pair[0];
                        *vs = pair[1];
                    }
                }
            }
        }
        Ok(out)
    }

    fn planar_image(&self) -> YuvPlanarImage<'_, u8> {
        YuvPlanarImage {
            y_plane: self.plane(0),
            y_stride: self.layout.strides[0] as u32,
            u_plane: self.plane(1),
            u_stride: self.layout.strides[1] as u32,
            v_plane: self.plane(2),
            v_stride: self.layout.strides[2] as u32,
            width: self.width,
            height: self.height,
        }
    }

    fn bi_planar_image(&self) -> YuvBiPlanarImage<'_, u8> {
        YuvBiPlanarImage {
            y_plane: self.plane(0),
            y_stride: self.layout.strides[0] as u32,
            uv_plane: self.plane(1),
            uv_stride: self.layout.strides[1] as u32,
            width: self.width,
            height: self.height,
        }
    }
}

/// Checks that `len` bytes hold `rows` rows of `row` bytes, `stride` apart.
fn check_plane(
    plane: usize,
    len: usize,
    stride: usize,
    row: usize,
    rows: usize,
) -> Result<(), FrameError> {
    if stride < row {
        return Err(FrameError::StrideTooSmall { plane, stride, row });
    }
    // Saturating: a stride too large to address needs more bytes than any slice holds.
    let expected = stride
        .saturating_mul(rows.saturating_sub(1))
        .saturating_add(row);
    if len < expected {
        return Err(FrameError::PlaneTooSmall {
            plane,
            expected,
            actual: len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> Vec<u8> {
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let p = &mut rgb[(y * w + x) * 3..][..3];
                // Smooth content: 4:2:0 subsampling loses little of it.
                p[0] = (16 + x * 200 / w) as u8;
                p[1] = (16 + y * 200 / h) as u8;
                p[2] = (128 + (x + y) * 60 / (w + h)) as u8;
            }
        }
        rgb
    }

    fn max_diff(a: &[u8], b: &[u8]) -> u8 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn rgb_round_trip_within_tolerance_all_formats() {
        let (w, h) = (64usize, 48usize);
        let rgb = gradient(w, h);
        for pf in [PixelFormat::I420, PixelFormat::Nv12] {
            let frame =
                VideoFrame::from_rgb(&rgb, w * 3, RgbFormat::Rgb24, w as u32, h as u32, pf, None)
                    .unwrap();
            let back = frame.to_rgb_vec(RgbFormat::Rgb24).unwrap();
            // Limited-range quantisation plus 2x2 chroma averaging of a smooth gradient.
            assert!(
                max_diff(&rgb, &back) <= 6,
                "{pf:?}: {}",
                max_diff(&rgb, &back)
            );

            let bgr = frame.to_rgb_vec(RgbFormat::Bgr24).unwrap();
            let swapped: Vec<u8> = bgr.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
            assert_eq!(swapped, back);
            let rgba = frame.to_rgb_vec(RgbFormat::Rgba).unwrap();
            assert!(rgba.chunks(4).all(|p| p[3] == 255));
            let rgb_of_rgba: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
            assert!(max_diff(&rgb_of_rgba, &back) <= 1);

            let from_bgr =
                VideoFrame::from_rgb(&bgr, w * 3, RgbFormat::Bgr24, w as u32, h as u32, pf, None)
                    .unwrap();
            assert!(max_diff(from_bgr.plane(0), frame.plane(0)) <= 1);
        }
    }

    #[test]
    fn known_colours_bt601_limited() {
        // BT.601 limited range: white is Y=235, black Y=16, chroma 128.
        let white = [255u8; 2 * 2 * 3];
        let f = VideoFrame::from_rgb(&white, 6, RgbFormat::Rgb24, 2, 2, PixelFormat::I420, None)
            .unwrap();
        assert!(f.plane(0)[..2].iter().all(|&y| y.abs_diff(235) <= 1));
        assert!(f.plane(1)[0].abs_diff(128) <= 1 && f.plane(2)[0].abs_diff(128) <= 1);
        let black = VideoFrame::new(PixelFormat::I420, 2, 2).unwrap();
        assert!(
            black
                .to_rgb_vec(RgbFormat::Rgb24)
                .unwrap()
                .iter()
                .all(|&c| c <= 1)
        );
    }

    #[test]
    fn odd_sizes_and_strided_output() {
        let (w, h) = (7usize, 5usize);
        let rgb = gradient(w, h);
        let f = VideoFrame::from_rgb(&rgb, w * 3, RgbFormat::Rgb24, 7, 5, PixelFormat::I420, None)
            .unwrap();
        assert_eq!(f.plane_rows(1), 3);
        assert_eq!(f.plane_row_bytes(1), 4);
        let stride = w * 3 + 5;
        let mut out = vec![0xAAu8; stride * h];
        f.to_rgb(RgbFormat::Rgb24, &mut out, stride).unwrap();
        // The padding after each row is left alone.
        assert!(
            out.chunks(stride)
                .all(|r| r[w * 3..].iter().all(|&b| b == 0xAA))
        );
        assert!(matches!(
            f.to_rgb(RgbFormat::Rgb24, &mut out, 4),
            Err(FrameError::StrideTooSmall { .. })
        ));
        assert!(matches!(
            f.to_rgb(RgbFormat::Rgb24, &mut out[..10], stride),
            Err(FrameError::PlaneTooSmall { .. })
        ));
    }

    #[test]
    fn i420_nv12_round_trip_is_exact() {
        let rgb = gradient(33, 17);
        let i420 =
            VideoFrame::from_rgb(&rgb, 99, RgbFormat::Rgb24, 33, 17, PixelFormat::I420, None)
                .unwrap();
        let nv12 = i420.to_pixel_format(PixelFormat::Nv12, None).unwrap();
        assert_eq!(nv12.plane(1)[0], i420.plane(1)[0]);
        assert_eq!(nv12.plane(1)[1], i420.plane(2)[0]);
        let back = nv12.to_pixel_format(PixelFormat::I420, None).unwrap();
        for i in 0..3 {
            for r in 0..i420.plane_rows(i) {
                let n = i420.plane_row_bytes(i);
                let s = i420.stride(i);
                assert_eq!(&back.plane(i)[r * s..][..n], &i420.plane(i)[r * s..][..n]);
            }
        }
    }

    #[test]
    fn from_planes_copies_rows_and_checks_sizes() {
        let y: Vec<u8> = (0..8 * 4).map(|i| i as u8).collect(); // 4x4 luma, stride 8
        let u = vec![1u8; 2 * 2];
        let v = vec![2u8; 2 * 2];
        let f =
            VideoFrame::from_planes(PixelFormat::I420, 4, 4, &[(&y, 8), (&u, 2), (&v, 2)], None)
                .unwrap();
        assert_eq!(&f.plane(0)[f.stride(0)..][..4], &[8, 9, 10, 11]);
        assert_eq!(f.plane(2)[f.stride(2) + 1], 2);
        assert!(matches!(
            VideoFrame::from_planes(PixelFormat::I420, 4, 4, &[(&y, 8)], None),
            Err(FrameError::PlaneCount { .. })
        ));
        assert!(matches!(
            VideoFrame::from_planes(
                PixelFormat::I420,
                4,
                4,
                &[(&y[..20], 8), (&u, 2), (&v, 2)],
                None
            ),
            Err(FrameError::PlaneTooSmall { plane: 0, .. })
        ));
        assert!(matches!(
            VideoFrame::new(PixelFormat::I420, 0, 4),
            Err(FrameError::InvalidDimensions { .. })
        ));
    }

    #[test]
    fn clones_share_until_written_and_pool_is_reused() {
        let pool = BufferPool::new(4);
        let mut a = VideoFrame::new_in(&pool, PixelFormat::I420, 64, 64).unwrap();
        a.plane_mut(0).fill(50);
        let b = a.clone();
        a.plane_mut(0)[0] = 99; // copy-on-write: b keeps its samples
        assert_eq!(b.plane(0)[0], 50);
        assert_eq!(a.plane(0)[0], 99);
        drop((a, b));
        for _ in 0..10 {
            let f = VideoFrame::new_in(&pool, PixelFormat::I420, 64, 64).unwrap();
            drop(f);
        }
        assert_eq!(pool.stats().allocations, 1);
    }
}
