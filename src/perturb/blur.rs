//! CPU reference of `shaders/perturb_blur.wgsl`: separable Gaussian on images and planes, row
//! prefix sums and the defocus disk (with its reduction and upsampling), motion taps, zoom
//! blur, glass blur's local shuffle; the same names and f32 math.

use super::common::*;
use super::plan::{Job, PIXELS_PER_INVOCATION};

fn add3(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub3(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn scale3(a: V3, s: f32) -> V3 {
    a.map(|v| v * s)
}
/// WGSL's `mix`.
fn mix3(a: V3, b: V3, t: f32) -> V3 {
    [0, 1, 2].map(|k| a[k] * (1.0 - t) + b[k] * t)
}

/// Horizontal taps of an RGBA8 image into the packed 10-bit plane.
pub fn blur_h(j: &Job, data: &mut [u32], tables: &[u32]) {
    let r = j.ints[0] as i32;
    let w = j.frame[0] as i32;
    for_pixels(j, |x, y| {
        let mut acc = [0.0f32; 3];
        for k in 0..=2 * r {
            let xx = edge(x as i32 + k - r, w, j.ints[1]) as u32;
            acc = add3(
                acc,
                scale3(
                    load_rgb(j, data, j.io[0], xx, y),
                    table_f(j, tables, k as u32),
                ),
            );
        }
        set_word(data, j.io[1], y * j.frame[0] + x, pack10(acc));
    });
}

/// Vertical taps of the packed plane into an RGBA8 image.
pub fn blur_v(j: &Job, data: &mut [u32], tables: &[u32]) {
    let r = j.ints[0] as i32;
    let h = j.frame[1] as i32;
    for_pixels(j, |x, y| {
        let mut acc = [0.0f32; 3];
        for k in 0..=2 * r {
            let yy = edge(y as i32 + k - r, h, j.ints[1]) as u32;
            let c = unpack10(word(data, j.io[0], yy * j.frame[0] + x));
            acc = add3(acc, scale3(c, table_f(j, tables, k as u32)));
        }
        store_rgb(j, data, j.io[1], x, y, acc);
    });
}

/// Horizontal taps of one or two f32 planes.
pub fn plane_blur_h(j: &Job, data: &mut [u32], tables: &[u32]) {
    let r = j.ints[0] as i32;
    let w = j.frame[0] as i32;
    for_pixels(j, |x, y| {
        let row = y * j.frame[0];
        let (mut a, mut b) = (0.0f32, 0.0f32);
        for k in 0..=2 * r {
            let xx = edge(x as i32 + k - r, w, j.ints[1]) as u32;
            let t = table_f(j, tables, k as u32);
            a += t * load_f(data, j.io[0], row + xx);
            if j.ints[2] > 1 {
                b += t * load_f(data, j.io[2], row + xx);
            }
        }
        store_f(data, j.io[1], row + x, a * j.p0[0]);
        if j.ints[2] > 1 {
            store_f(data, j.io[3], row + x, b * j.p0[0]);
        }
    });
}

/// Vertical taps of one or two f32 planes, scaled by p0.x.
pub fn plane_blur_v(j: &Job, data: &mut [u32], tables: &[u32]) {
    let r = j.ints[0] as i32;
    let h = j.frame[1] as i32;
    for_pixels(j, |x, y| {
        let (mut a, mut b) = (0.0f32, 0.0f32);
        for k in 0..=2 * r {
            let yy = edge(y as i32 + k - r, h, j.ints[1]) as u32;
            let t = table_f(j, tables, k as u32);
            a += t * load_f(data, j.io[0], yy * j.frame[0] + x);
            if j.ints[2] > 1 {
                b += t * load_f(data, j.io[2], yy * j.frame[0] + x);
            }
        }
        store_f(data, j.io[1], y * j.frame[0] + x, a * j.p0[0]);
        if j.ints[2] > 1 {
            store_f(data, j.io[3], y * j.frame[0] + x, b * j.p0[0]);
        }
    });
}

/// Inclusive prefix sums of each channel along a row, into three consecutive f32 planes.
pub fn row_prefix(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let plane = j.frame[3];
    for y in 0..j.frame[1] {
        let mut s = [0.0f32; 3];
        for x in 0..j.frame[0] {
            s = add3(s, load_rgb(j, data, j.io[0], x, y));
            let p = y * j.frame[0] + x;
            store_f(data, j.io[1], p, s[0]);
            store_f(data, j.io[1] + plane, p, s[1]);
            store_f(data, j.io[1] + 2 * plane, p, s[2]);
        }
    }
}

fn prefix3(j: &Job, data: &[u32], row: u32, i: i32) -> V3 {
    if i < 0 {
        return [0.0; 3];
    }
    let p = row * j.frame[0] + i as u32;
    let plane = j.frame[3];
    [
        load_f(data, j.io[0], p),
        load_f(data, j.io[0] + plane, p),
        load_f(data, j.io[0] + 2 * plane, p),
    ]
}

/// Sum of a row's pixels lo..=hi with reflect-101 beyond the edges.
fn span_sum(j: &Job, data: &[u32], row: u32, lo: i32, hi: i32) -> V3 {
    let w = j.frame[0] as i32;
    let a = lo.max(0);
    let b = hi.min(w - 1);
    let mut s = sub3(prefix3(j, data, row, b), prefix3(j, data, row, a - 1));
    if lo < 0 {
        s = sub3(
            add3(s, prefix3(j, data, row, -lo)),
            prefix3(j, data, row, 0),
        );
    }
    if hi > w - 1 {
        s = sub3(
            add3(s, prefix3(j, data, row, w - 2)),
            prefix3(j, data, row, 2 * w - 3 - hi),
        );
    }
    s
}

/// A disk of radius r by row spans with fractional end pixels, sliding along runs of
/// [`PIXELS_PER_INVOCATION`] pixels of a row as the shader's invocations do (the span of a
/// run's first pixel from the prefix sums, then one pixel in and one out per step).
pub fn defocus_disk(j: &Job, data: &mut [u32], tables: &[u32]) {
    const RUN: usize = PIXELS_PER_INVOCATION as usize;
    let r = j.ints[0] as i32;
    let w = j.frame[0] as i32;
    let h = j.frame[1] as i32;
    for y in 0..h {
        for x0 in (0..w).step_by(RUN) {
            let mut acc = [[0.0f32; 3]; RUN];
            for dy in -r..=r {
                let row = edge(y + dy, h, 2) as u32;
                let n = table_u(j, tables, (2 * (dy + r)) as u32) as i32;
                let frac = table_f(j, tables, (2 * (dy + r) + 1) as u32);
                let pixel = |x: i32| load_rgb(j, data, j.io[2], edge(x, w, 2) as u32, row);
                let mut span = span_sum(j, data, row, x0 - n, x0 + n);
                let mut left = pixel(x0 - n - 1);
                let mut right = pixel(x0 + n + 1);
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = add3(add3(*a, span), scale3(add3(left, right), frac));
                    let x = x0 + k as i32;
                    let leaving = pixel(x - n);
                    let end = pixel(x + n + 2);
                    span = sub3(add3(span, right), leaving);
                    left = leaving;
                    right = end;
                }
            }
            for (k, a) in acc.iter().enumerate() {
                let x = x0 + k as i32;
                if x < w {
                    let c = scale3(*a, j.p0[0]);
                    if j.ints[1] == 1 {
                        set_word(data, j.io[1], (y * w + x) as u32, pack10(c));
                    } else {
                        store_rgb(j, data, j.io[1], x as u32, y as u32, c);
                    }
                }
            }
        }
    }
}

/// The mean of each s × s cell of the source image (`ints[0]` = s; `ints[1]` × `ints[2]` its
/// size; a cell past its edge repeats the last column or row), into the job's smaller image.
pub fn defocus_down(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let s = j.ints[0];
    let (src_w, src_h) = (j.ints[1], j.ints[2]);
    for_pixels(j, |x, y| {
        let mut acc = [0.0f32; 3];
        for dy in 0..s {
            let row = (y * s + dy).min(src_h - 1) * src_w;
            for dx in 0..s {
                let xx = (x * s + dx).min(src_w - 1);
                acc = add3(acc, unpack_rgb(word(data, j.io[0], row + xx)));
            }
        }
        store_rgb(j, data, j.io[1], x, y, scale3(acc, j.p0[0]));
    });
}

/// Bilinear upsampling of a packed 10-bit image of `ints[1]` × `ints[2]` cells, each s × s
/// pixels of the job's frame (`p0[0]` = 1/s), into the job's RGBA8 image.
pub fn defocus_up(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let ws = j.ints[1];
    for_pixels(j, |x, y| {
        let (r0, r1, ty) = cell_pair(y, j.p0[0], j.ints[2]);
        let (c0, c1, tx) = cell_pair(x, j.p0[0], ws);
        let cell = |x: u32, row: u32| unpack10(word(data, j.io[0], row * ws + x));
        let top = mix3(cell(c0, r0), cell(c1, r0), tx);
        let bottom = mix3(cell(c0, r1), cell(c1, r1), tx);
        store_rgb(j, data, j.io[1], x, y, mix3(top, bottom, ty));
    });
}

/// `elastic_transform`'s displacement field (two f32 planes) reduced to the means of cells of
/// `ints[0]` × `ints[1]` pixels (the job's frame is the reduced one; `ints[2..4]` the full
/// size; `p0[0]` = 1/(sx·sy)).
pub fn elastic_down(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (sx, sy) = (j.ints[0], j.ints[1]);
    let (src_w, src_h) = (j.ints[2], j.ints[3]);
    for_pixels(j, |x, y| {
        let (mut a, mut b) = (0.0f32, 0.0f32);
        for dy in 0..sy {
            let row = (y * sy + dy).min(src_h - 1) * src_w;
            for dx in 0..sx {
                let xx = (x * sx + dx).min(src_w - 1);
                a += load_f(data, j.io[0], row + xx);
                b += load_f(data, j.io[1], row + xx);
            }
        }
        let p = y * j.frame[0] + x;
        store_f(data, j.io[2], p, a * j.p0[0]);
        store_f(data, j.io[3], p, b * j.p0[0]);
    });
}

/// A tap's shift `(dx, dy)` from its packed word (table word `at`).
fn motion_shift(j: &Job, tables: &[u32], at: u32) -> (i32, i32) {
    let shift = table_u(j, tables, at);
    (((shift << 16) as i32) >> 16, (shift as i32) >> 16)
}

/// Tap (or pair of taps) k of a table of three words per tap: shift, the plane it reads, weight.
fn plane_tap(j: &Job, tables: &[u32], k: u32) -> (i32, i32, u32, f32) {
    let (dx, dy) = motion_shift(j, tables, 3 * k);
    (
        dx,
        dy,
        table_u(j, tables, 3 * k + 1),
        table_f(j, tables, 3 * k + 2),
    )
}

fn tap(j: &Job, tables: &[u32], k: u32) -> (i32, i32, f32) {
    let (dx, dy) = motion_shift(j, tables, 2 * k);
    (dx, dy, table_f(j, tables, 2 * k + 1))
}

/// Σ weight·image[y − dy, x − dx] over the taps.
pub fn motion_blur(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    for_pixels(j, |x, y| {
        let mut acc = [0.0f32; 3];
        for k in 0..j.ints[0] {
            let (dx, dy, t) = tap(j, tables, k);
            let xx = (x as i32 - dx).clamp(0, w - 1) as u32;
            let yy = (y as i32 - dy).clamp(0, h - 1) as u32;
            acc = add3(acc, scale3(load_rgb(j, data, j.io[0], xx, yy), t));
        }
        store_rgb(j, data, j.io[1], x, y, acc);
    });
}

/// The RGB bytes of an RGBA8 word in three 10-bit fields.
fn spread10(v: u32) -> u32 {
    (v & 0xff) | ((v & 0xff00) << 2) | ((v & 0xff0000) << 4)
}

/// The three fields of a pair sum, as numbers.
fn sum10(s: u32) -> V3 {
    [s & 1023, (s >> 10) & 1023, s >> 20].map(|v| v as f32)
}

/// Pair sums: each pixel plus its neighbour at (ex, 0), (0, ey), (ex, ey), edges clamped, and
/// plus itself.
pub fn motion_pair_sums(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    let (ex, ey) = (j.ints[0] as i32, j.ints[1] as i32);
    for_pixels(j, |x, y| {
        let row = y * j.frame[0];
        let row_e = (y as i32 + ey).clamp(0, h - 1) as u32 * j.frame[0];
        let xe = (x as i32 + ex).clamp(0, w - 1) as u32;
        let a = spread10(word(data, j.io[0], row + x));
        let sums =
            [row + xe, row_e + x, row_e + xe].map(|at| a + spread10(word(data, j.io[0], at)));
        set_word(data, j.io[1], row + x, sums[0]);
        set_word(data, j.io[2], row + x, sums[1]);
        set_word(data, j.io[3], row + x, sums[2]);
        set_word(data, j.aux[0], row + x, a + a);
    });
}

/// `motion_blur` with its taps in pairs (shift, pair-sum plane, mean weight / 255 per pair).
pub fn motion_blur_pairs(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    for_pixels(j, |x, y| {
        let mut acc = [0.0f32; 3];
        for k in 0..j.ints[0] {
            let (dx, dy, plane, t) = plane_tap(j, tables, k);
            let xx = (x as i32 - dx).clamp(0, w - 1) as u32;
            let yy = (y as i32 - dy).clamp(0, h - 1) as u32;
            acc = add3(
                acc,
                scale3(sum10(word(data, plane, yy * j.frame[0] + xx)), t),
            );
        }
        store_rgb(j, data, j.io[1], x, y, acc);
    });
}

/// The bytes x + ex … x + 3 + ex of a row of bytes (clamped to 0..w), as the shader's
/// `shifted_bytes`.
fn shifted_bytes(data: &[u32], plane: u32, row: u32, x: i32, ex: i32, w: i32) -> u32 {
    let mut v = 0;
    for i in 0..4 {
        let xx = (x + ex + i).clamp(0, w - 1) as u32;
        v |= ((word(data, plane, row + xx / 4) >> (8 * (xx % 4))) & 255) << (8 * i);
    }
    v
}

/// The means of four pairs of bytes, rounded half to even.
fn byte_means(a: u32, b: u32) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|i| {
        let s = ((a >> (8 * i)) & 255) + ((b >> (8 * i)) & 255);
        let h = s / 2;
        (h + (s & h & 1)) as u8
    }))
}

/// Pair means of snow's byte plane along x, y and both, into three byte planes.
pub fn snow_pair_means(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let w = j.frame[0] as i32;
    let bw = byte_words(j);
    let (ex, ey) = (j.ints[0] as i32, j.ints[1] as i32);
    for y in 0..j.frame[1] {
        let row = y * bw;
        let row_e = (y as i32 + ey).clamp(0, j.frame[1] as i32 - 1) as u32 * bw;
        for at in 0..bw {
            let x = 4 * at as i32;
            let a = word(data, j.io[0], row + at);
            let means = [
                shifted_bytes(data, j.io[0], row, x, ex, w),
                word(data, j.io[0], row_e + at),
                shifted_bytes(data, j.io[0], row_e, x, ex, w),
            ]
            .map(|b| byte_means(a, b));
            for (k, m) in means.into_iter().enumerate() {
                set_word(data, j.io[1] + k as u32 * j.ints[2], row + at, m);
            }
        }
    }
}

/// The motion taps on snow's plane of bytes or its planes of pair means (shift, plane, weight
/// per tap), into an f32 plane (edges clamped).
pub fn snow_motion(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    let bw = byte_words(j);
    for_pixels(j, |x, y| {
        let mut acc = 0.0f32;
        for k in 0..j.ints[0] {
            let (dx, dy, plane, t) = plane_tap(j, tables, k);
            let xx = (x as i32 - dx).clamp(0, w - 1) as u32;
            let yy = (y as i32 - dy).clamp(0, h - 1) as u32;
            let byte = (word(data, plane, yy * bw + xx / 4) >> (8 * (xx % 4))) & 255;
            acc += t * (byte as f32 / 255.0);
        }
        store_f(data, j.io[1], y * j.frame[0] + x, acc);
    });
}

/// Bilinear sample of an RGBA8 image at real coordinates inside it.
pub fn bilinear_rgb(j: &Job, data: &[u32], region: u32, fx: f32, fy: f32) -> V3 {
    let x0 = (fx.floor() as u32).min(j.frame[0] - 1);
    let y0 = (fy.floor() as u32).min(j.frame[1] - 1);
    let x1 = (x0 + 1).min(j.frame[0] - 1);
    let y1 = (y0 + 1).min(j.frame[1] - 1);
    let tx = fx - x0 as f32;
    let ty = fy - y0 as f32;
    let top = mix3(
        load_rgb(j, data, region, x0, y0),
        load_rgb(j, data, region, x1, y0),
        tx,
    );
    let bottom = mix3(
        load_rgb(j, data, region, x0, y1),
        load_rgb(j, data, region, x1, y1),
        tx,
    );
    mix3(top, bottom, ty)
}

/// (x + Σ clipped_zoom(x, z)) / (zooms + 1).
pub fn zoom_blur(j: &Job, data: &mut [u32], tables: &[u32]) {
    for_pixels(j, |x, y| {
        let mut acc = load_rgb(j, data, j.io[0], x, y);
        for k in 0..j.ints[0] {
            let fy = table_f(j, tables, 4 * k) + y as f32 * table_f(j, tables, 4 * k + 1);
            let fx = table_f(j, tables, 4 * k + 2) + x as f32 * table_f(j, tables, 4 * k + 3);
            acc = add3(acc, bilinear_rgb(j, data, j.io[0], fx, fy));
        }
        store_rgb(
            j,
            data,
            j.io[1],
            x,
            y,
            scale3(acc, 1.0 / (j.ints[0] + 1) as f32),
        );
    });
}

/// Glass blur's swap bit of the pair led by pixel `leader` at a step with host-drawn `key`:
/// the low bit of Wellons' `lowbias32` hash of `leader ^ key` (a keyed counter-based draw
/// that a kernel computes in a few integer operations).
pub fn glass_swap(leader: u32, key: u32) -> bool {
    let mut x = leader ^ key;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x & 1 == 1
}

/// One step of glass blur's shuffle traced backwards along one axis (the pair's leader is
/// pixel `at + leader · stride`), as the shader's `glass_trace` (which divides through the
/// reciprocal; here exactly).
fn glass_trace(j: &Job, tables: &[u32], c: u32, n: u32, s: u32, at: u32, stride: u32) -> u32 {
    let k = table_u(j, tables, 4 * s + 1);
    let t = (c + table_u(j, tables, 4 * s + 2)) / k;
    let (leader, partner, pairs) = if t % 2 == 0 {
        (c, c + k, c + k < n)
    } else {
        (c.wrapping_sub(k), c.wrapping_sub(k), c >= k)
    };
    if pairs && glass_swap(at + leader * stride, table_u(j, tables, 4 * s)) {
        partner
    } else {
        c
    }
}

/// Glass blur's local shuffle in one gather (steps x, y, x, y, …): each output pixel traces
/// its source back through the steps (table: key, k, o, 1/k per step).
pub fn glass_gather(j: &Job, data: &mut [u32], tables: &[u32]) {
    let w = j.frame[0];
    for_pixels(j, |x, y| {
        let (mut qx, mut qy) = (x, y);
        let mut s = j.ints[0];
        while s >= 2 {
            qy = glass_trace(j, tables, qy, j.frame[1], s - 1, qx, w);
            qx = glass_trace(j, tables, qx, w, s - 2, qy * w, 1);
            s -= 2;
        }
        let v = word(data, j.io[0], qy * w + qx);
        set_word(data, j.io[1], y * w + x, v);
    });
}

#[cfg(test)]
mod tests {
    use super::glass_swap;

    /// The swap bits are balanced, neighbouring leaders' bits independent, and another key
    /// gives other bits (each within 1 % of a half over 100 000 leaders; 4σ is 0.63 %).
    #[test]
    fn glass_swap_bits_are_balanced_and_independent() {
        let n = 100_000u32;
        for (key, other) in [(0u32, 1u32), (0x9e37_79b9, 0x9e37_79ba), (7, 0xdead_beef)] {
            let bits: Vec<bool> = (0..n).map(|l| glass_swap(l, key)).collect();
            let share = |k: usize| k as f64 / f64::from(n);
            let ones = share(bits.iter().filter(|&&b| b).count());
            let same_as_next = share(bits.windows(2).filter(|p| p[0] == p[1]).count());
            let same_other_key = share(
                (0..n)
                    .filter(|&l| glass_swap(l, other) == bits[l as usize])
                    .count(),
            );
            for (what, v) in [
                ("ones", ones),
                ("equal to the next leader's", same_as_next),
                ("equal under another key", same_other_key),
            ] {
                assert!((v - 0.5).abs() < 0.01, "key {key:#x}: {what}: {v:.4}");
            }
        }
    }
}
