//! A small safe wrapper over libvpx's encoder and
//! decoder (`vpx/vpx_encoder.h`, `vpx/vpx_decoder.h`, libvpx 1.12 as Debian ships it).
//!
//! Every `unsafe` block says why it holds. The invariants the whole module relies on:
//! - A context is initialised exactly once (by `*_init_ver`, checked to return OK) before any
//!   other call, and destroyed exactly once, in `Drop`.
//! - A context lives in a `Box` that never moves its contents, with the configuration it was
//!   initialised with beside it: libvpx keeps a pointer to that configuration
//!   (`ctx->config.enc`).
//! - Buffers passed in are checked against the sizes libvpx will read; pointers libvpx hands
//!   out (packets, decoded images) are only read before the next call on the same context,
//!   which `&mut self` borrows enforce.

use std::os::raw::{c_int, c_long, c_uint, c_ulong};
use std::ptr;

use vpx_sys as ffi;

/// Which libvpx codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VpxCodec {
    Vp8,
    Vp9,
}

/// A libvpx `vpx_codec_err_t` value other than OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VpxCode(pub(crate) u32);

fn check(err: ffi::vpx_codec_err_t) -> Result<(), VpxCode> {
    match err {
        ffi::vpx_codec_err_t::VPX_CODEC_OK => Ok(()),
        e => Err(VpxCode(e as u32)),
    }
}

/// Encoder settings the wrapper applies (all realtime, one pass, one thread).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEncoderConfig {
    pub(crate) codec: VpxCodec,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) bitrate_kbps: u32,
}

/// Which step failed, so the caller can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    DefaultConfig,
    Init,
    Control,
    Codec,
}

struct EncoderState {
    ctx: ffi::vpx_codec_ctx_t,
    cfg: ffi::vpx_codec_enc_cfg_t,
}

/// A libvpx encoder context.
pub(crate) struct RawEncoder {
    state: Box<EncoderState>,
}

// SAFETY: a libvpx context holds no thread-local state and may be used from any thread, one at a
// time; `&mut self` on every call gives that exclusivity. Not `Sync`.
unsafe impl Send for RawEncoder {}

/// An I420 picture lent to the encoder: three planes and their strides.
pub(crate) struct I420<'a> {
    pub(crate) planes: [&'a [u8]; 3],
    pub(crate) strides: [usize; 3],
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl I420<'_> {
    /// True when each plane holds its rows at its stride (what libvpx will read).
    fn fits(&self) -> bool {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 {
            return false;
        }
        let rows = [h, h.div_ceil(2), h.div_ceil(2)];
        let row = [w, w.div_ceil(2), w.div_ceil(2)];
        (0..3).all(|i| {
            self.strides[i] >= row[i]
                && self.strides[i] <= c_int::MAX as usize
                && self.planes[i].len() >= self.strides[i] * (rows[i] - 1) + row[i]
        })
    }
}

/// One compressed frame out of the encoder.
pub(crate) struct Packet<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) key_frame: bool,
    pub(crate) pts: i64,
}

impl RawEncoder {
    pub(crate) fn new(config: RawEncoderConfig) -> Result<RawEncoder, (Step, VpxCode)> {
        // SAFETY: the interface getters take no arguments and return pointers to static tables.
        let iface = unsafe {
            match config.codec {
                VpxCodec::Vp8 => ffi::vpx_codec_vp8_cx(),
                VpxCodec::Vp9 => ffi::vpx_codec_vp9_cx(),
            }
        };
        let mut state = Box::new(EncoderState {
            ctx: ffi::vpx_codec_ctx_t::default(),
            cfg: ffi::vpx_codec_enc_cfg_t::default(),
        });
        // SAFETY: `iface` is valid; `cfg` is a writable, properly aligned config struct.
        check(unsafe { ffi::vpx_codec_enc_config_default(iface, &mut state.cfg, 0) })
            .map_err(|e| (Step::DefaultConfig, e))?;
        apply_config(&mut state.cfg, &config);
        let EncoderState { ctx, cfg } = &mut *state;
        // SAFETY: `ctx` is zeroed and not yet initialised; `cfg` lives beside it in the same box
        // for as long as the context (libvpx keeps the pointer); the ABI version is the one the
        // bindings were generated for, and libvpx checks it.
        check(unsafe {
            ffi::vpx_codec_enc_init_ver(ctx, iface, cfg, 0, ffi::VPX_ENCODER_ABI_VERSION as c_int)
        })
        .map_err(|e| (Step::Init, e))?;
        let mut encoder = RawEncoder { state };
        // From here on `Drop` destroys the context on every exit path.
        let controls: &[(u32, c_int)] = match config.codec {
            VpxCodec::Vp8 => &[
                // Speed for realtime: negative values mean "adapt to the deadline", -6 is
                // libwebrtc's choice on desktop CPUs.
                (ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED as u32, -6),
                (
                    ffi::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY as u32,
                    0,
                ),
                (
                    ffi::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD as u32,
                    1,
                ),
                (
                    ffi::vp8e_enc_control_id::VP8E_SET_TOKEN_PARTITIONS as u32,
                    0,
                ),
                // Keeps key frames from taking many frames' worth of bits at once.
                (
                    ffi::vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT as u32,
                    900,
                ),
            ],
            VpxCodec::Vp9 => &[
                (ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED as u32, 7),
                // Cyclic refresh: what realtime VP9 uses instead of frequent key frames.
                (ffi::vp8e_enc_control_id::VP9E_SET_AQ_MODE as u32, 3),
                (ffi::vp8e_enc_control_id::VP9E_SET_ROW_MT as u32, 0),
                (ffi::vp8e_enc_control_id::VP9E_SET_TILE_COLUMNS as u32, 0),
                (
                    ffi::vp8e_enc_control_id::VP9E_SET_NOISE_SENSITIVITY as u32,
                    0,
                ),
            ],
        };
        for &(id, value) in controls {
            // SAFETY: the context is initialised; each of these controls takes one `int`
            // argument (vp8cx.h), passed through the variadic as a C int.
            check(unsafe { ffi::vpx_codec_control_(&mut encoder.state.ctx, id as c_int, value) })
                .map_err(|e| (Step::Control, e))?;
        }
        Ok(encoder)
    }

    /// Changes the target bitrate; takes effect from the next frame.
    pub(crate) fn set_bitrate_kbps(&mut self, kbps: u32) -> Result<(), VpxCode> {
        let EncoderState { ctx, cfg } = &mut *self.state;
        cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is initialised; `cfg` is a valid config that stays in the box.
        check(unsafe { ffi::vpx_codec_enc_config_set(ctx, cfg) })
    }

    /// Encodes one picture and hands each compressed frame that comes out to `sink`.
    pub(crate) fn encode(
        &mut self,
        picture: &I420<'_>,
        pts: i64,
        duration: u32,
        force_key_frame: bool,
        sink: &mut dyn FnMut(Packet<'_>),
    ) -> Result<(), (Step, VpxCode)> {
        if !picture.fits()
            || picture.width != self.state.cfg.g_w
            || picture.height != self.state.cfg.g_h
        {
            return Err((
                Step::Codec,
                VpxCode(ffi::vpx_codec_err_t::VPX_CODEC_INVALID_PARAM as u32),
            ));
        }
        let mut img = ffi::vpx_image_t {
            fmt: ffi::vpx_img_fmt::VPX_IMG_FMT_I420,
            cs: ffi::vpx_color_space::VPX_CS_BT_601,
            range: ffi::vpx_color_range::VPX_CR_STUDIO_RANGE,
            w: picture.width,
            h: picture.height,
            d_w: picture.width,
            d_h: picture.height,
            bit_depth: 8,
            x_chroma_shift: 1,
            y_chroma_shift: 1,
            bps: 12,
            ..ffi::vpx_image_t::default()
        };
        for i in 0..3 {
            // libvpx only reads input planes; the cast to `*mut` is what the struct's type asks.
            img.planes[i] = picture.planes[i].as_ptr().cast_mut();
            // Checked by `fits` to be at most c_int::MAX.
            img.stride[i] = picture.strides[i] as c_int;
        }
        let flags: c_long = if force_key_frame {
            ffi::VPX_EFLAG_FORCE_KF as c_long
        } else {
            0
        };
        // SAFETY: the context is initialised; `img` describes planes that `fits` checked hold
        // every row libvpx reads at those strides, borrowed for this call; libvpx does not keep
        // the image after returning (lag_in_frames is 0).
        check(unsafe {
            ffi::vpx_codec_encode(
                &mut self.state.ctx,
                &img,
                pts,
                c_ulong::from(duration.max(1)),
                flags,
                c_ulong::from(ffi::VPX_DL_REALTIME),
            )
        })
        .map_err(|e| (Step::Codec, e))?;
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: the context is initialised; `iter` starts null and is only advanced by
            // libvpx.
            let pkt = unsafe { ffi::vpx_codec_get_cx_data(&mut self.state.ctx, &mut iter) };
            if pkt.is_null() {
                return Ok(());
            }
            // SAFETY: a non-null packet points into the context's output list, valid until the
            // next encode call, which `&mut self` keeps from happening while we read it.
            let pkt = unsafe { &*pkt };
            if pkt.kind != ffi::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: `kind` says the union holds a frame; its `buf` holds `sz` bytes owned by
            // the context for as long as `pkt` is valid.
            let (data, flags, pts) = unsafe {
                let frame = &pkt.data.frame;
                let data = if frame.sz == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize)
                };
                (data, frame.flags, frame.pts)
            };
            sink(Packet {
                data,
                key_frame: flags & ffi::VPX_FRAME_IS_KEY != 0,
                pts,
            });
        }
    }
}

impl Drop for RawEncoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised (a `RawEncoder` exists only after init succeeded)
        // and is destroyed only here. The result is ignored: nothing to do about it in drop.
        unsafe { ffi::vpx_codec_destroy(&mut self.state.ctx) };
    }
}

/// A libvpx decoder context.
pub(crate) struct RawDecoder {
    state: Box<DecoderState>,
}

struct DecoderState {
    ctx: ffi::vpx_codec_ctx_t,
    cfg: ffi::vpx_codec_dec_cfg_t,
}

// SAFETY: as for `RawEncoder`.
unsafe impl Send for RawDecoder {}

/// A decoded I420 picture, borrowed from the decoder until its next call.
pub(crate) struct Decoded<'a> {
    pub(crate) planes: [&'a [u8]; 3],
    pub(crate) strides: [usize; 3],
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl RawDecoder {
    pub(crate) fn new(codec: VpxCodec) -> Result<RawDecoder, (Step, VpxCode)> {
        // SAFETY: as in `RawEncoder::new`.
        let iface = unsafe {
            match codec {
                VpxCodec::Vp8 => ffi::vpx_codec_vp8_dx(),
                VpxCodec::Vp9 => ffi::vpx_codec_vp9_dx(),
            }
        };
        // One thread per stream; size is taken from the bitstream.
        let mut state = Box::new(DecoderState {
            ctx: ffi::vpx_codec_ctx_t::default(),
            cfg: ffi::vpx_codec_dec_cfg_t {
                threads: 1,
                w: 0,
                h: 0,
            },
        });
        let DecoderState { ctx, cfg } = &mut *state;
        // SAFETY: as for the encoder: a zeroed context, a config that lives beside it.
        check(unsafe {
            ffi::vpx_codec_dec_init_ver(ctx, iface, cfg, 0, ffi::VPX_DECODER_ABI_VERSION as c_int)
        })
        .map_err(|e| (Step::Init, e))?;
        Ok(RawDecoder { state })
    }

    /// Decodes one compressed frame and hands each picture that comes out to `sink`.
    pub(crate) fn decode(
        &mut self,
        data: &[u8],
        sink: &mut dyn FnMut(Decoded<'_>),
    ) -> Result<(), VpxCode> {
        let len = c_uint::try_from(data.len())
            .map_err(|_| VpxCode(ffi::vpx_codec_err_t::VPX_CODEC_INVALID_PARAM as u32))?;
        // SAFETY: the context is initialised; `data` is readable for `len` bytes during the call
        // and not kept. An empty slice gives libvpx a non-null pointer with size 0, which it
        // rejects with INVALID_PARAM without reading.
        check(unsafe {
            ffi::vpx_codec_decode(&mut self.state.ctx, data.as_ptr(), len, ptr::null_mut(), 0)
        })?;
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: the context is initialised; `iter` starts null.
            let img = unsafe { ffi::vpx_codec_get_frame(&mut self.state.ctx, &mut iter) };
            if img.is_null() {
                return Ok(());
            }
            // SAFETY: a non-null image is owned by the decoder and valid until its next call,
            // which `&mut self` prevents while we read it.
            let img = unsafe { &*img };
            if img.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420 || img.d_w == 0 || img.d_h == 0 {
                // Profiles 1-3 (4:2:2, 4:4:4, high bit depth) are not taken: skip the picture.
                continue;
            }
            let (w, h) = (img.d_w as usize, img.d_h as usize);
            let rows = [h, h.div_ceil(2), h.div_ceil(2)];
            let row_bytes = [w, w.div_ceil(2), w.div_ceil(2)];
            let mut planes: [&[u8]; 3] = [&[]; 3];
            let mut strides = [0usize; 3];
            for i in 0..3 {
                let Ok(stride) = usize::try_from(img.stride[i]) else {
                    continue; // a negative stride (flipped image) is never produced by decoders
                };
                if stride < row_bytes[i] || img.planes[i].is_null() {
                    continue;
                }
                strides[i] = stride;
                // SAFETY: for an I420 image of d_w x d_h, libvpx allocates each plane with at
                // least `stride * (rows - 1) + row_bytes` readable bytes from `planes[i]`; the
                // slice covers exactly that and lives no longer than `img`.
                planes[i] = unsafe {
                    std::slice::from_raw_parts(img.planes[i], stride * (rows[i] - 1) + row_bytes[i])
                };
            }
            if planes.iter().all(|p| !p.is_empty()) {
                sink(Decoded {
                    planes,
                    strides,
                    width: img.d_w,
                    height: img.d_h,
                });
            }
        }
    }
}

impl Drop for RawDecoder {
    fn drop(&mut self) {
        // SAFETY: as for `RawEncoder`.
        unsafe { ffi::vpx_codec_destroy(&mut self.state.ctx) };
    }
}

fn apply_config(cfg: &mut ffi::vpx_codec_enc_cfg_t, c: &RawEncoderConfig) {
    cfg.g_w = c.width;
    cfg.g_h = c.height;
    // Timestamps are on the 90 kHz RTP clock; frame durations come from their differences.
    cfg.g_timebase = ffi::vpx_rational {
        num: 1,
        den: 90_000,
    };
    cfg.g_threads = 1;
    cfg.g_lag_in_frames = 0;
    cfg.g_pass = ffi::vpx_enc_pass::VPX_RC_ONE_PASS;
    cfg.g_error_resilient = 0;
    cfg.rc_end_usage = ffi::vpx_rc_mode::VPX_CBR;
    cfg.rc_target_bitrate = c.bitrate_kbps;
    // Frame skipping off: one frame in, one frame out.
    cfg.rc_dropframe_thresh = 0;
    cfg.rc_resize_allowed = 0;
    cfg.rc_min_quantizer = 2;
    cfg.rc_max_quantizer = 56;
    cfg.rc_undershoot_pct = 100;
    cfg.rc_overshoot_pct = 15;
    cfg.rc_buf_initial_sz = 500;
    cfg.rc_buf_optimal_sz = 600;
    cfg.rc_buf_sz = 1000;
    // Key frames come on request (and for a fresh stream); an automatic one at most every
    // 3000 frames bounds recovery time when no one asks.
    cfg.kf_mode = ffi::vpx_kf_mode::VPX_KF_AUTO;
    cfg.kf_min_dist = 0;
    cfg.kf_max_dist = 3000;
}
