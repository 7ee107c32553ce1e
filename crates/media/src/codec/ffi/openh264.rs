//! OpenH264's `SetOption` for the bitrate, which the `openh264` crate reaches only through its
//! unsafe raw API.

use std::os::raw::c_void;

use openh264::encoder::Encoder;
use openh264_sys2::{
    ENCODER_OPTION, ENCODER_OPTION_BITRATE, ENCODER_OPTION_MAX_BITRATE, SBitrateInfo,
    SPATIAL_LAYER_ALL,
};

/// OpenH264's `cmResultSuccess`.
const SUCCESS: i32 = 0;

fn set(encoder: &mut Encoder, option: ENCODER_OPTION, bitrate_bps: i32) -> Result<(), i32> {
    let mut info = SBitrateInfo {
        iLayer: SPATIAL_LAYER_ALL,
        iBitrate: bitrate_bps,
    };
    // SAFETY: `raw_api` is unsafe because raw calls could change parameters the wrapper relies
    // on; the bitrate is not one of them (the crate reads it only when (re)initialising on a
    // size change, from its own config). The encoder has been initialised: callers only reach
    // this after a successful `encode`. `set_option` with a bitrate option reads one
    // `SBitrateInfo` through the pointer during the call and keeps nothing.
    let result = unsafe {
        encoder
            .raw_api()
            .set_option(option, (&raw mut info).cast::<c_void>())
    };
    if result == SUCCESS {
        Ok(())
    } else {
        Err(result)
    }
}

/// Changes the target (and maximum) bitrate of an initialised encoder, in the order that
/// keeps the target below the maximum at every step.
pub(crate) fn set_bitrate(encoder: &mut Encoder, from_bps: u32, to_bps: u32) -> Result<(), i32> {
    let to = i32::try_from(to_bps).map_err(|_| -1)?;
    if to_bps > from_bps {
        set(encoder, ENCODER_OPTION_MAX_BITRATE, to)?;
        set(encoder, ENCODER_OPTION_BITRATE, to)
    } else {
        set(encoder, ENCODER_OPTION_BITRATE, to)?;
        set(encoder, ENCODER_OPTION_MAX_BITRATE, to)
    }
}
