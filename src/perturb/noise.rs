//! CPU reference of `shaders/perturb_noise.wgsl`: gaussian_noise, shot_noise (integer-exact
//! Poisson by guided table inversion), impulse_noise, speckle_noise; the same names and f32 math.

use super::common::*;
use super::plan::Job;

/// x + σ·N(0, 1) per channel.
pub fn gaussian_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let w = rand4(j, 0, y * j.frame[0] + x);
        let a = normal_pair(w[0], w[1]);
        let b = normal_pair(w[2], w[3]);
        let c = load_rgb(j, data, j.io[0], x, y);
        let n = [a[0], a[1], b[0]];
        let s = j.p0[0];
        store_rgb(j, data, j.io[1], x, y, [0, 1, 2].map(|k| c[k] + s * n[k]));
    });
}

/// x + x·σ·N(0, 1) per channel.
pub fn speckle_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let w = rand4(j, 0, y * j.frame[0] + x);
        let a = normal_pair(w[0], w[1]);
        let b = normal_pair(w[2], w[3]);
        let c = load_rgb(j, data, j.io[0], x, y);
        let n = [a[0], a[1], b[0]];
        let s = j.p0[0];
        store_rgb(
            j,
            data,
            j.io[1],
            x,
            y,
            [0, 1, 2].map(|k| c[k] + c[k] * s * n[k]),
        );
    });
}

/// The smallest k with u < CDF(k) in the table row of byte value v (n = ints[0] entries; n when
/// there is none): from the first draw of u's bucket in the row's guide (`plan::poisson_guide`,
/// at word ints[2], buckets of 2^ints[1]), comparing up to its last.
fn poisson_draw(j: &Job, tables: &[u32], v: u32, u: u32) -> u32 {
    let n = j.ints[0];
    let shift = j.ints[1];
    let bucket = table_u(j, tables, j.ints[2] + (v << (31 - shift)) + (u >> shift));
    let last = bucket >> 16;
    let row = v * n;
    let mut k = bucket & 0xffff;
    while k < last && u >= table_u(j, tables, row + k) {
        k += 1;
    }
    k
}

/// Poisson(λ·x)/λ per channel, clipped to 1.
pub fn shot_noise(j: &Job, data: &mut [u32], tables: &[u32]) {
    for_pixels(j, |x, y| {
        let p = y * j.frame[0] + x;
        let w = rand4(j, 0, p);
        let v = word(data, j.io[0], p);
        let mut out = [0.0f32; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let k = poisson_draw(j, tables, (v >> (8 * c)) & 255, w[c] >> 1);
            *o = (k as f32 / j.p0[0]).min(1.0);
        }
        store_rgb(j, data, j.io[1], x, y, out);
    });
}

/// Salt and pepper: each channel replaced with probability `amount` by 1 or 0 (even odds).
pub fn impulse_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let p = y * j.frame[0] + x;
        let w = rand4(j, 0, p);
        let mut v = word(data, j.io[0], p);
        for c in 0..3 {
            if w[c as usize] < j.ints[0] || j.ints[1] == 1 {
                let salt = (w[3] >> c) & 1 == 0;
                let byte = if salt { 255 } else { 0 };
                v = (v & !(255 << (8 * c))) | (byte << (8 * c));
            }
        }
        set_word(data, j.io[1], p, v | 0xff00_0000);
    });
}
