//! CPU reference of `shaders/perturb_common.wgsl`: Philox randomness, pixel access, edge
//! modes, with the same names and f32 math. A kernel's `data` is its frame's words (the GPU's
//! data buffer from the frame's first word on).

use super::plan::Job;
use crate::rng::philox4x32_10;

pub const PPI: u32 = super::plan::PIXELS_PER_INVOCATION;

pub type V3 = [f32; 3];

/// Four random words for (step, element) of the job's stream.
pub fn rand4(j: &Job, step: u32, element: u32) -> [u32; 4] {
    philox4x32_10([j.rng[2], step, element, 0], [j.rng[0], j.rng[1]])
}

/// A uniform number in [0, 1) from the top 24 bits of a word.
pub fn unit(w: u32) -> f32 {
    (w >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Two standard normal numbers from two words (Box–Muller; the first uniform in (0, 1]).
pub fn normal_pair(a: u32, b: u32) -> [f32; 2] {
    let u1 = ((a >> 8) as f32 + 1.0) * (1.0 / 16_777_216.0);
    let r = (-2.0 * u1.ln()).sqrt();
    let t = 6.283_185_5 * unit(b);
    [r * t.cos(), r * t.sin()]
}

pub fn word(data: &[u32], region: u32, i: u32) -> u32 {
    data[(region + i) as usize]
}

pub fn set_word(data: &mut [u32], region: u32, i: u32, v: u32) {
    data[(region + i) as usize] = v;
}

/// `unpack4x8unorm(..).rgb`.
pub fn unpack_rgb(v: u32) -> V3 {
    [
        (v & 255) as f32 / 255.0,
        ((v >> 8) & 255) as f32 / 255.0,
        ((v >> 16) & 255) as f32 / 255.0,
    ]
}

fn unorm8(v: f32) -> u32 {
    (0.5 + 255.0 * v.clamp(0.0, 1.0)).floor() as u32
}

/// `pack4x8unorm(vec4(c, 1.0))`.
pub fn pack_rgb(c: V3) -> u32 {
    unorm8(c[0]) | (unorm8(c[1]) << 8) | (unorm8(c[2]) << 16) | (255 << 24)
}

pub fn load_rgb(j: &Job, data: &[u32], region: u32, x: u32, y: u32) -> V3 {
    unpack_rgb(data[(region + y * j.frame[0] + x) as usize])
}

pub fn store_rgb(j: &Job, data: &mut [u32], region: u32, x: u32, y: u32, c: V3) {
    data[(region + y * j.frame[0] + x) as usize] = pack_rgb(c);
}

pub fn load_f(data: &[u32], region: u32, i: u32) -> f32 {
    f32::from_bits(data[(region + i) as usize])
}

pub fn store_f(data: &mut [u32], region: u32, i: u32, v: f32) {
    data[(region + i) as usize] = v.to_bits();
}

pub fn small_f(j: &Job, data: &[u32], slot: u32) -> f32 {
    f32::from_bits(data[(j.aux[1] + slot) as usize])
}

pub fn table_u(j: &Job, tables: &[u32], i: u32) -> u32 {
    tables[(j.aux[2] + i) as usize]
}

pub fn table_f(j: &Job, tables: &[u32], i: u32) -> f32 {
    f32::from_bits(tables[(j.aux[2] + i) as usize])
}

/// Words per row of a plane of bytes (pixel x in byte x mod 4 of word x / 4).
pub fn byte_words(j: &Job) -> u32 {
    j.frame[0].div_ceil(4)
}

/// RGB in [0, 1] as three 10-bit fields.
pub fn pack10(c: V3) -> u32 {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 1023.0 + 0.5).floor() as u32;
    q(c[0]) | (q(c[1]) << 10) | (q(c[2]) << 20)
}

pub fn unpack10(v: u32) -> V3 {
    [
        (v & 1023) as f32 * (1.0 / 1023.0),
        ((v >> 10) & 1023) as f32 * (1.0 / 1023.0),
        ((v >> 20) & 1023) as f32 * (1.0 / 1023.0),
    ]
}

/// An index outside 0..n mapped back: 0 nearest, 1 half-sample symmetric, 2 reflect-101. One
/// reflection (callers overhang by less than n), then clamped.
pub fn edge(i: i32, n: i32, mode: u32) -> i32 {
    if i >= 0 && i < n {
        return i;
    }
    let m = match mode {
        1 => {
            if i < 0 {
                -i - 1
            } else {
                2 * n - 1 - i
            }
        }
        2 => {
            if i < 0 {
                -i
            } else {
                2 * n - 2 - i
            }
        }
        _ => i,
    };
    m.clamp(0, n - 1)
}

pub fn luma(c: V3) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

pub fn clamp3(c: V3, lo: f32, hi: f32) -> V3 {
    c.map(|v| v.clamp(lo, hi))
}

/// Calls `f(x, y, e)` for every group of four pixels (x, x + 64, x + 128, x + 192 of row y,
/// those inside the row; x in 256k to 256k + 63; e the element of the group's first of `blocks`
/// Philox blocks): `group_element` and the group loops of the WGSL.
pub fn for_groups(j: &Job, blocks: u32, mut f: impl FnMut(u32, u32, u32)) {
    let runs = j.frame[0].div_ceil(256);
    for y in 0..j.frame[1] {
        for run in 0..runs {
            for lane in 0..64 {
                let x = 256 * run + lane;
                if x < j.frame[0] {
                    f(x, y, ((y * runs + run) * 64 + lane) * blocks);
                }
            }
        }
    }
}

/// The pixels of the group whose first is x: (slot, column) for those inside the row.
pub fn group_slots(j: &Job, x: u32) -> impl Iterator<Item = (usize, u32)> {
    let w = j.frame[0];
    (0..4)
        .map(move |s| (s, x + 64 * s as u32))
        .filter(move |&(_, x)| x < w)
}

/// The words of `blocks` consecutive Philox blocks of step 0 from element `e` on, in order.
pub fn group_words<const N: usize>(j: &Job, e: u32) -> [u32; N] {
    let mut w = [0; N];
    for (b, chunk) in w.chunks_mut(4).enumerate() {
        chunk.copy_from_slice(&rand4(j, 0, e + b as u32));
    }
    w
}

/// Calls `f(x, y)` for every pixel of the job's frame, in the order the shader's invocations
/// cover them.
pub fn for_pixels(j: &Job, mut f: impl FnMut(u32, u32)) {
    for y in 0..j.frame[1] {
        for x in 0..j.frame[0] {
            f(x, y);
        }
    }
}

/// WGSL's `mix` of two numbers.
pub fn mix(a: f32, b: f32, t: f32) -> f32 {
    a * (1.0 - t) + b * t
}

/// Where pixel `i` of a frame lies on the grid of a reduced one (`p` = 1/s; cell centres at
/// s·k + (s − 1)/2), clamped to its `n` cells: (the cell at or before it, the next, the weight
/// of the next).
pub fn cell_pair(i: u32, p: f32, n: u32) -> (u32, u32, f32) {
    let u = ((i as f32 + 0.5) * p - 0.5).clamp(0.0, (n - 1) as f32);
    let f = u.floor();
    (f as u32, (f + 1.0).min((n - 1) as f32) as u32, u - f)
}
