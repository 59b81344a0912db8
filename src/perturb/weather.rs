//! CPU reference of `shaders/perturb_weather.wgsl`: the fractal (lattice and plane), fog,
//! procedural frost, snow and spatter; the same names and f32 math.

use super::common::*;
use super::plan::{ITEMS_ROW, Job};

/// Calls `f(i)` for every item of an `Items` job.
fn for_items(j: &Job, mut f: impl FnMut(u32)) {
    let _ = ITEMS_ROW;
    for idx in 0..j.ints[3] {
        f(idx);
    }
}

/// Lattice values of every fractal level, four consecutive items per Philox block.
pub fn fractal_lattice(j: &Job, data: &mut [u32], tables: &[u32]) {
    for_items(j, |g| {
        let idx = 4 * g;
        let mut level = 0;
        for n in 1..j.ints[0] {
            if idx >= table_u(j, tables, 4 * n) {
                level = n;
            }
        }
        let local = idx - table_u(j, tables, 4 * level);
        let amp = table_f(j, tables, 4 * level + 3);
        let w = rand4(j, level, local / 4);
        for (k, w) in w.into_iter().enumerate() {
            store_f(data, j.io[0], idx + k as u32, amp * (2.0 * unit(w) - 1.0));
        }
    });
}

/// The fractal at every pixel.
pub fn fractal_plane(j: &Job, data: &mut [u32], tables: &[u32]) {
    let map_mask = (1u32 << j.ints[1]) - 1;
    for_pixels(j, |x, y| {
        let gx = x + j.ints[2];
        let gy = y + j.ints[3];
        let mut v = 0.0f32;
        for n in 0..j.ints[0] {
            let first = table_u(j, tables, 4 * n);
            let nx = table_u(j, tables, 4 * n + 1);
            let lg = table_u(j, tables, 4 * n + 2);
            let period_mask = map_mask >> lg;
            let (ix, iy) = (gx >> lg, gy >> lg);
            let inv = 1.0 / (1u32 << lg) as f32;
            let tx = (gx & ((1 << lg) - 1)) as f32 * inv;
            let ty = (gy & ((1 << lg) - 1)) as f32 * inv;
            let (x0, x1) = (ix & period_mask, (ix + 1) & period_mask);
            let (y0, y1) = (iy & period_mask, (iy + 1) & period_mask);
            let a = load_f(data, j.io[0], first + y0 * nx + x0);
            let b = load_f(data, j.io[0], first + y0 * nx + x1);
            let c = load_f(data, j.io[0], first + y1 * nx + x0);
            let d = load_f(data, j.io[0], first + y1 * nx + x1);
            let (e, f) = (mix(a, c, ty), mix(b, d, ty));
            v += e + (f - e) * tx;
        }
        store_f(data, j.io[1], y * j.frame[0] + x, v);
    });
}

fn fractal_unit(j: &Job, data: &[u32], p: u32) -> f32 {
    let lo = small_f(j, data, 4);
    let hi = small_f(j, data, 5);
    if hi > lo {
        (load_f(data, j.io[2], p) - lo) / (hi - lo)
    } else {
        0.0
    }
}

/// (x + c·plasma)·max / (max + c).
pub fn fog_compose(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let m = small_f(j, data, 3);
    let c = j.p0[0];
    for_pixels(j, |x, y| {
        let f = fractal_unit(j, data, y * j.frame[0] + x);
        let v = load_rgb(j, data, j.io[0], x, y).map(|k| k + c * f);
        store_rgb(j, data, j.io[1], x, y, v.map(|k| k * (m / (m + c))));
    });
}

fn fract(x: f32) -> f32 {
    x - x.floor()
}

/// Procedural frost blended as image_weight·x + frost_weight·frost.
pub fn frost_compose(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let t = fractal_unit(j, data, y * j.frame[0] + x);
        let ridge = 1.0 - (2.0 * fract(3.0 * t) - 1.0).abs();
        let r2 = ridge * ridge;
        let crystal = r2 * r2 * r2;
        let base = 0.3 + 0.45 * t;
        let tint = [0.8, 0.9, 1.0];
        let ice = tint.map(|k| (k * base + 0.55 * crystal).clamp(0.0, 1.0));
        let c = load_rgb(j, data, j.io[0], x, y);
        let v = [0, 1, 2].map(|k| c[k] * j.p0[0] + ice[k] * j.p0[1]);
        store_rgb(j, data, j.io[1], x, y, v);
    });
}

/// The snow noise lattice.
pub fn snow_lattice(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_items(j, |idx| {
        let w = rand4(j, 0, idx);
        store_f(
            data,
            j.io[0],
            idx,
            j.p0[0] + j.p0[1] * normal_pair(w[0], w[1])[0],
        );
    });
}

/// The zoomed, thresholded, clipped snow layer.
pub fn snow_layer(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (nx, ny) = (j.ints[0], j.ints[1]);
    let bw = byte_words(j);
    for y in 0..j.frame[1] {
        for wx in 0..bw {
            let mut packed = 0u32;
            for i in 0..4 {
                let x = 4 * wx + i;
                if x >= j.frame[0] {
                    break;
                }
                let fy = y as f32 * j.p0[0];
                let fx = x as f32 * j.p0[1];
                let x0 = (fx.floor() as u32).min(nx - 1);
                let y0 = (fy.floor() as u32).min(ny - 1);
                let x1 = (x0 + 1).min(nx - 1);
                let y1 = (y0 + 1).min(ny - 1);
                let tx = fx - x0 as f32;
                let ty = fy - y0 as f32;
                let top = mix(
                    load_f(data, j.io[0], y0 * nx + x0),
                    load_f(data, j.io[0], y0 * nx + x1),
                    tx,
                );
                let bottom = mix(
                    load_f(data, j.io[0], y1 * nx + x0),
                    load_f(data, j.io[0], y1 * nx + x1),
                    tx,
                );
                let mut v = mix(top, bottom, ty);
                if v < j.p0[2] {
                    v = 0.0;
                }
                let byte = (v.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u32;
                packed |= byte << (8 * i);
            }
            set_word(data, j.io[1], y * bw + wx, packed);
        }
    }
}

/// blend·x + (1 − blend)·max(x, 1.5·grey + 0.5) plus the snow layer and its rotation.
pub fn snow_compose(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let b = j.p0[0];
    let (w, h) = (j.frame[0], j.frame[1]);
    for_pixels(j, |x, y| {
        let c = load_rgb(j, data, j.io[0], x, y);
        let g = luma(c) * 1.5 + 0.5;
        let s1 = (load_f(data, j.io[2], y * w + x) * 255.0 + 0.5).floor() / 255.0;
        let q = (h - 1 - y) * w + (w - 1 - x);
        let s2 = (load_f(data, j.io[2], q) * 255.0 + 0.5).floor() / 255.0;
        let v = c.map(|k| b * k + (1.0 - b) * k.max(g) + (s1 + s2));
        store_rgb(j, data, j.io[1], x, y, v);
    });
}

/// The liquid layer: N(mean, σ) per pixel.
pub fn spatter_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_groups(j, 1, |x, y, e| {
        let w = rand4(j, 0, e);
        let n = [normal_pair(w[0], w[1]), normal_pair(w[2], w[3])];
        for (s, x) in group_slots(j, x) {
            let p = y * j.frame[0] + x;
            store_f(data, j.io[0], p, j.p0[0] + j.p0[1] * n[s / 2][s % 2]);
        }
    });
}

/// Mud mask: 1 where the smoothed liquid exceeds the threshold.
pub fn spatter_mask(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let p = y * j.frame[0] + x;
        let v = if load_f(data, j.io[0], p) > j.p0[0] {
            1.0
        } else {
            0.0
        };
        store_f(data, j.io[1], p, v);
    });
}

/// Water: the normalised thresholded liquid, shaded from the droplet edges, adds pale
/// turquoise.
pub fn spatter_water(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let hi = small_f(j, data, 5);
    for_pixels(j, |x, y| {
        let mut l = load_f(data, j.io[2], y * j.frame[0] + x);
        if l < j.p0[0] || hi <= 0.0 {
            l = 0.0;
        }
        let d = ((l - j.p0[0]) / (hi - j.p0[0]).max(1e-6)).clamp(0.0, 1.0);
        let m = l / hi.max(1e-6) * d * j.p0[1];
        let c = load_rgb(j, data, j.io[0], x, y);
        let tint = [175.0 / 255.0, 238.0 / 255.0, 238.0 / 255.0];
        store_rgb(
            j,
            data,
            j.io[1],
            x,
            y,
            [0, 1, 2].map(|k| c[k] + m * tint[k]),
        );
    });
}

/// Mud: the smoothed mask (zero below 0.8) blends towards mud brown.
pub fn spatter_mud(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let mut m = load_f(data, j.io[2], y * j.frame[0] + x);
        if m < 0.8 {
            m = 0.0;
        }
        let c = load_rgb(j, data, j.io[0], x, y);
        let mud = [63.0 / 255.0, 42.0 / 255.0, 20.0 / 255.0];
        store_rgb(
            j,
            data,
            j.io[1],
            x,
            y,
            [0, 1, 2].map(|k| c[k] * (1.0 - m) + m * mud[k]),
        );
    });
}
