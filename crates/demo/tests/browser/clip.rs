//! The picture Chromium's fake camera shows in these tests: a one-second 640x480 Y4M clip
//! (`--use-file-for-fake-video-capture`, looped), written at test time.
//!
//! Chromium's own fake picture is too flat for the cartoon transform to show: there is
//! little to flatten and few edges to draw. This one is built for the page's picture
//! figures (`client.js`, `pictureFigures`):
//!
//! - Every luma value sits in the middle of one of the cartoon's 40-wide luma bands
//!   (`transform.rs`), with a blocky texture (8x8) of at most ±[`TEXTURE`] on top: the cartoon
//!   flattens the texture away completely, untransformed it stays (the page's `texture`).
//! - Nothing is darker than luma 92, so no pixel counts as dark in the page (luma < 48
//!   after the browser's conversion to RGB) unless a transform made it so; the corners are
//!   mid-grey, not black (the rotate test's `corners_dark`).
//! - Shapes stand 80 and 120 luma steps off the background: their outlines are Sobel edges
//!   (`|gx| + |gy|` > 160) while the texture's steps (at most 16, Sobel at most 128) are
//!   not. Edges draws the outlines bright on black; the cartoon draws them dark on colour.
//! - The background's chroma runs across the picture (colour everywhere); one disc moves
//!   round a circle once a second, so the loop has no jump.

use std::f64::consts::TAU;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Width of the clip.
const WIDTH: usize = 640;
/// Height of the clip.
const HEIGHT: usize = 480;
/// Frames: one second at 30 frames a second, looped by Chromium.
const FRAMES: usize = 30;
/// The texture's amplitude in luma steps, on 8x8 blocks.
const TEXTURE: i32 = 8;
/// The texture's blocks start 4 pixels off the page's 8x8 measuring blocks, so that each of
/// those holds four texture blocks.
const TEXTURE_OFFSET: usize = 4;

/// The clip's path (written once per test process, under Cargo's temporary directory for
/// integration tests, so nothing is left in the system's).
pub fn path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).expect("Cargo's temporary directory");
        let path = dir.join("ferrtc-demo-camera.y4m");
        // Written beside and renamed, so a run that stops half-way leaves no torn clip.
        let part = dir.join(format!("ferrtc-demo-camera.{}.part", std::process::id()));
        std::fs::write(&part, y4m()).expect("clip written");
        std::fs::rename(&part, &path).expect("clip renamed");
        path.to_str().expect("a UTF-8 path").to_owned()
    })
}

/// The whole clip: the Y4M header, then each frame's `FRAME` line and I420 planes.
fn y4m() -> Vec<u8> {
    let frame_len = WIDTH * HEIGHT * 3 / 2;
    let mut out = format!("YUV4MPEG2 W{WIDTH} H{HEIGHT} F30:1 Ip A1:1 C420jpeg\n").into_bytes();
    out.reserve(FRAMES * (6 + frame_len));
    for i in 0..FRAMES {
        out.extend_from_slice(b"FRAME\n");
        frame(i, &mut out);
    }
    out
}

/// One colour: luma, Cb, Cr.
type Yuv = (i32, i32, i32);

/// Frame `i`: appends its Y, U and V planes to `out`.
fn frame(i: usize, out: &mut Vec<u8>) {
    let angle = TAU * i as f64 / FRAMES as f64;
    let moving = (200.0 + 60.0 * angle.cos(), 340.0 + 60.0 * angle.sin());
    // What covers the point (x, y), topmost first; the background's chroma runs across.
    let colour = |x: f64, y: f64| -> Yuv {
        let in_disc = |(cx, cy): (f64, f64), r: f64| (x - cx).powi(2) + (y - cy).powi(2) < r * r;
        if in_disc(moving, 40.0) {
            (220, 128, 128)
        } else if (60.0..260.0).contains(&x) && (60.0..200.0).contains(&y) {
            (180, 170, 90)
        } else if in_disc((450.0, 300.0), 90.0) {
            (180, 60, 170)
        } else if (400.0..460.0).contains(&y) && (320.0..620.0).contains(&x) {
            // Stripes 30 pixels wide: ten more vertical outlines.
            if (x as i32 - 320) / 30 % 2 == 0 {
                (180, 128, 200)
            } else {
                (100, 128, 200)
            }
        } else {
            let cb = 80.0 + 96.0 * x / WIDTH as f64;
            let cr = 176.0 - 96.0 * y / HEIGHT as f64;
            (100, cb as i32, cr as i32)
        }
    };
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (luma, _, _) = colour(x as f64 + 0.5, y as f64 + 0.5);
            let (bx, by) = ((x + TEXTURE_OFFSET) / 8, (y + TEXTURE_OFFSET) / 8);
            out.push((luma + texture(bx, by)).clamp(0, 255) as u8);
        }
    }
    // Chroma at half resolution, sampled at the middle of each 2x2 block.
    for plane in [1, 2] {
        for y in 0..HEIGHT / 2 {
            for x in 0..WIDTH / 2 {
                let (_, cb, cr) = colour(2.0 * x as f64 + 1.0, 2.0 * y as f64 + 1.0);
                out.push(if plane == 1 { cb } else { cr }.clamp(0, 255) as u8);
            }
        }
    }
}

/// The texture of block (bx, by): a hash of its place, in `-TEXTURE..=TEXTURE`. Static, so
/// the browser's encoder keeps refining it.
fn texture(bx: usize, by: usize) -> i32 {
    let mut h = (bx as u32).wrapping_mul(0x9E37_79B9) ^ (by as u32).wrapping_mul(0x85EB_CA6B);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    (h % (2 * TEXTURE as u32 + 1)) as i32 - TEXTURE
}
