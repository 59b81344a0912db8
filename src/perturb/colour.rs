//! CPU reference of `shaders/perturb_colour.wgsl`: brightness, saturate, contrast and the
//! per-frame reductions (frame_stats, plane_min_max); the same names and f32 math.

use super::common::*;
use super::plan::{Job, REDUCE_SIZE};

/// HSV value + delta.
pub fn brightness(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let c = load_rgb(j, data, j.io[0], x, y);
        let v = c[0].max(c[1]).max(c[2]);
        let v2 = (v + j.p0[0]).clamp(0.0, 1.0);
        let out = if v > 0.0 {
            c.map(|k| k * (v2 / v))
        } else {
            [v2; 3]
        };
        store_rgb(j, data, j.io[1], x, y, out);
    });
}

/// HSV saturation · scale + offset, clipped to [0, 1].
pub fn saturate(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let c = load_rgb(j, data, j.io[0], x, y);
        let v = c[0].max(c[1]).max(c[2]);
        let mn = c[0].min(c[1]).min(c[2]);
        let s = if v > 0.0 { (v - mn) / v } else { 0.0 };
        let s2 = (s * j.p0[0] + j.p0[1]).clamp(0.0, 1.0);
        let out = if s > 0.0 {
            c.map(|k| v - (v - k) * (s2 / s))
        } else {
            [v, v * (1.0 - s2), v * (1.0 - s2)]
        };
        store_rgb(j, data, j.io[1], x, y, out);
    });
}

/// (x − mean)·factor + mean per channel.
pub fn contrast(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let m = [0, 1, 2].map(|k| small_f(j, data, k));
    for_pixels(j, |x, y| {
        let c = load_rgb(j, data, j.io[0], x, y);
        let out = [0, 1, 2].map(|k| (c[k] - m[k]) * j.p0[0] + m[k]);
        store_rgb(j, data, j.io[1], x, y, out);
    });
}

/// Channel means and the largest channel value into the small words 0–3 (integer sums split
/// into high and low 16 bits per invocation, as the shader adds them).
pub fn frame_stats(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let n = j.frame[0] * j.frame[1];
    let mut hi = [0u32; 3];
    let mut lo = [0u32; 3];
    let mut m = 0u32;
    for lid in 0..REDUCE_SIZE {
        let mut s = [0u32; 3];
        let mut i = lid;
        while i < n {
            let v = word(data, j.io[0], i);
            for (k, sk) in s.iter_mut().enumerate() {
                let c = (v >> (8 * k)) & 255;
                *sk += c;
                m = m.max(c);
            }
            i += REDUCE_SIZE;
        }
        for k in 0..3 {
            hi[k] += s[k] >> 16;
            lo[k] += s[k] & 0xffff;
        }
    }
    for k in 0..3 {
        let mean = (hi[k] as f32 * 65536.0 + lo[k] as f32) / n as f32 / 255.0;
        set_word(data, j.aux[1], k as u32, mean.to_bits());
    }
    set_word(data, j.aux[1], 3, (m as f32 / 255.0).to_bits());
}

/// Smallest and largest value of an f32 plane into the small words 4 and 5.
pub fn plane_min_max(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let n = j.frame[0] * j.frame[1];
    let (mut lo, mut hi) = (3.0e38f32, -3.0e38f32);
    for i in 0..n {
        let v = load_f(data, j.io[0], i);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    set_word(data, j.aux[1], 4, lo.to_bits());
    set_word(data, j.aux[1], 5, hi.to_bits());
}
