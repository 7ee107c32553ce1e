//! Test media generated in code: a moving pattern and tones.

#![allow(dead_code)]

use ferrtc_media::{PixelFormat, TimeBase, VideoFrame};

/// A 640x480-style moving test pattern: smooth separable waves that scroll, plus a bright
/// square that moves, so that a codec has both motion and edges to code.
pub struct MovingPattern {
    width: u32,
    height: u32,
    wave_x: Vec<i32>,
    wave_y: Vec<i32>,
    texture: Vec<i8>,
    frame: u32,
}

impl MovingPattern {
    pub fn new(width: u32, height: u32) -> Self {
        let wave = |period: f64, amp: f64, n: usize| {
            (0..n)
                .map(|i| (amp * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i32)
                .collect()
        };
        MovingPattern {
            width,
            height,
            wave_x: wave(160.0, 50.0, 160),
            wave_y: wave(120.0, 40.0, 120),
            texture: texture(width as usize * height as usize),
            frame: 0,
        }
    }

    /// The next frame, 30 frames per second on the 90 kHz clock.
    pub fn next_frame(&mut self) -> VideoFrame {
        let t = self.frame as usize;
        let (w, h) = (self.width as usize, self.height as usize);
        let mut f = VideoFrame::new(PixelFormat::I420, self.width, self.height).unwrap();
        let strides = [f.stride(0), f.stride(1), f.stride(2)];
        // An 80x80 square at 640x480, scaled with the frame.
        let sq = (80 * w / 640).max(2);
        let (sq_x, sq_y) = ((t * 6) % (w - sq), (t * 3) % (h - sq));
        let [y, u, v] = f.planes_mut();
        for r in 0..h {
            let gy = self.wave_y[(r + 2 * t) % self.wave_y.len()];
            let row = &mut y[r * strides[0]..][..w];
            for (c, px) in row.iter_mut().enumerate() {
                let in_square = (sq_x..sq_x + sq).contains(&c) && (sq_y..sq_y + sq).contains(&r);
                *px = if in_square {
                    230
                } else {
                    // Fine detail that pans with the waves: what costs a codec bits.
                    let grain = self.texture[((r + t) % h) * w + (c + 2 * t) % w];
                    (128 + self.wave_x[(c + 4 * t) % self.wave_x.len()] + gy + i32::from(grain))
                        .clamp(16, 235) as u8
                };
            }
        }
        for r in 0..h.div_ceil(2) {
            for c in 0..w.div_ceil(2) {
                u[r * strides[1] + c] = (96 + (c + t) * 64 / w) as u8;
                v[r * strides[2] + c] = (160 - r * 64 / h) as u8;
            }
        }
        f.pts = i64::from(self.frame) * 3_000;
        f.time_base = TimeBase::VIDEO_90KHZ;
        self.frame += 1;
        f
    }
}

/// Seeded noise in -8..=8, smoothed over pairs of pixels.
fn texture(len: usize) -> Vec<i8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut prev = 0i8;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = (state % 17) as i8 - 8;
            let out = (n + prev) / 2;
            prev = n;
            out
        })
        .collect()
}

/// PSNR of the luma planes of two same-sized frames, in dB.
pub fn psnr_y(a: &VideoFrame, b: &VideoFrame) -> f64 {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    let (w, h) = (a.width() as usize, a.height() as usize);
    let mut sse = 0u64;
    for r in 0..h {
        let ra = &a.plane(0)[r * a.stride(0)..][..w];
        let rb = &b.plane(0)[r * b.stride(0)..][..w];
        sse += ra
            .iter()
            .zip(rb)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
            .sum::<u64>();
    }
    if sse == 0 {
        return f64::INFINITY;
    }
    let mse = sse as f64 / (w * h) as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}
