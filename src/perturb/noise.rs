//! CPU reference of `shaders/perturb_noise.wgsl`: gaussian_noise, shot_noise (integer-exact
//! Poisson by guided table inversion), impulse_noise, speckle_noise; the same names, the same
//! groups of four pixels sharing Philox blocks (all but shot_noise), and the same f32 math.

use super::common::*;
use super::plan::{Job, poisson_guided_draw};

/// The twelve standard normals of a group, three per pixel (normal 3s + c for channel c of
/// pixel s), from its three blocks' words in pairs (Box–Muller).
fn group_normals(j: &Job, e: u32) -> [V3; 4] {
    let w: [u32; 12] = group_words(j, e);
    let pairs: [[f32; 2]; 6] = std::array::from_fn(|i| normal_pair(w[2 * i], w[2 * i + 1]));
    let n = |i: usize| pairs[i / 2][i % 2];
    [0, 1, 2, 3].map(|s| [n(3 * s), n(3 * s + 1), n(3 * s + 2)])
}

/// Which formula `normal_noise` applies (`NOISE_*` in the WGSL).
#[derive(Clone, Copy, PartialEq)]
enum NoiseMode {
    Gaussian,
    Speckle,
}

/// x + σ·N(0, 1) (gaussian_noise) or x + x·σ·N(0, 1) (speckle_noise) per channel.
fn normal_noise(j: &Job, data: &mut [u32], mode: NoiseMode) {
    let s = j.p0[0];
    for_groups(j, 3, |x, y, e| {
        let n = group_normals(j, e);
        for (slot, x) in group_slots(j, x) {
            let n = n[slot];
            let c = load_rgb(j, data, j.io[0], x, y);
            let out = if mode == NoiseMode::Speckle {
                [0, 1, 2].map(|k| c[k] + c[k] * s * n[k])
            } else {
                [0, 1, 2].map(|k| c[k] + s * n[k])
            };
            store_rgb(j, data, j.io[1], x, y, out);
        }
    });
}

/// x + σ·N(0, 1) per channel.
pub fn gaussian_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    normal_noise(j, data, NoiseMode::Gaussian);
}

/// x + x·σ·N(0, 1) per channel.
pub fn speckle_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    normal_noise(j, data, NoiseMode::Speckle);
}

/// The smallest k with u < CDF(k) in the table row of byte value v (n = ints[0] entries; n when
/// there is none), through the row's guide (at word ints[2], buckets of 2^ints[1]):
/// `plan::poisson_guided_draw`.
fn poisson_draw(j: &Job, tables: &[u32], v: u32, u: u32) -> u32 {
    let t = &tables[j.aux[2] as usize..];
    poisson_guided_draw(t, j.ints[0], j.ints[1], j.ints[2], v, u)
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

/// Salt and pepper: each channel replaced with probability `amount` (ints[0] out of 2¹⁶) by 1
/// or 0 (even odds). Pixel s of a group takes words 2s and 2s + 1 of the group's two blocks:
/// the channels' 16-bit draws are the low and high halves of the first and the low half of
/// the second, the coins bits 0–2 of its high half (0: salt).
pub fn impulse_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_groups(j, 2, |x, y, e| {
        let w: [u32; 8] = group_words(j, e);
        for (s, x) in group_slots(j, x) {
            let p = y * j.frame[0] + x;
            let (w0, w1) = (w[2 * s], w[2 * s + 1]);
            let draws = [w0 & 0xffff, w0 >> 16, w1 & 0xffff];
            let coins = w1 >> 16;
            let mut v = word(data, j.io[0], p);
            for c in 0..3 {
                if draws[c as usize] < j.ints[0] {
                    let byte = if (coins >> c) & 1 == 0 { 255 } else { 0 };
                    v = (v & !(255 << (8 * c))) | (byte << (8 * c));
                }
            }
            set_word(data, j.io[1], p, v | 0xff00_0000);
        }
    });
}
