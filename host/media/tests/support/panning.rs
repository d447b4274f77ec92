//! A camera panning over gradients, hard-edged squares and fine texture,
//! as real footage has: the frames the hardware tests and the codecs bench
//! encode (one file, included by both).

use kino_media::RgbFrame;

/// Frame `i` at `width × height`, the camera `pan` pixels further right
/// each frame, the squares `square` pixels wide.
pub fn frame(i: usize, (width, height): (u32, u32), pan: f32, square: i32, fps: f64) -> RgbFrame {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    // Gradients across the first screenful: red left to right, green down.
    let (x_ramp, y_ramp) = (255.0 / width as f32, 200.0 / height as f32);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 + pan * i as f32, y as f32);
            let texture = ((u * 0.31).sin() * (v * 0.23).cos() * 18.0) as i32;
            let on = ((u as i32 / square) + (v as i32 / square)) % 2 == 0;
            let base = [
                (u * x_ramp) as i32 % 256,
                (v * y_ramp) as i32,
                if on { 200 } else { 60 },
            ];
            data.extend(base.map(|c| (c + texture).clamp(0, 255) as u8));
        }
    }
    RgbFrame {
        width,
        height,
        pts_secs: i as f64 / fps,
        data,
    }
}
