//! CPU reference of `shaders/perturb_digital.wgsl`: pixelate, the JPEG round trip
//! (jpeg_mcu, jpeg_compose) and elastic_transform (elastic_noise,
//! elastic_warp); the same names and f32 math.

use super::common::*;
use super::plan::{self, Job};

/// Per cell: the mean of its input box, written to every output pixel that samples the cell.
pub fn pixelate(j: &Job, data: &mut [u32], tables: &[u32]) {
    let w = j.frame[0];
    let (ws, hs) = (j.ints[0], j.ints[1]);
    let t = |i: u32| table_u(j, tables, i);
    for idx in 0..ws * hs {
        let cy = idx / ws;
        let cx = idx - cy * ws;
        let (x0, x1) = (t(2 * cx), t(2 * cx + 1));
        let (y0, y1) = (t(2 * ws + 2 * cy), t(2 * ws + 2 * cy + 1));
        let mut s = [0u32; 3];
        for yy in y0..y1 {
            for xx in x0..x1 {
                let v = word(data, j.io[0], yy * w + xx);
                for (k, sk) in s.iter_mut().enumerate() {
                    *sk += (v >> (8 * k)) & 255;
                }
            }
        }
        let n = ((x1 - x0) * (y1 - y0)) as f32;
        let out = pack_rgb(s.map(|v| v as f32 / (n * 255.0)));
        let o = 2 * ws + 2 * hs;
        let (ox0, ox1) = (t(o + 2 * cx), t(o + 2 * cx + 1));
        let (oy0, oy1) = (t(o + 2 * ws + 2 * cy), t(o + 2 * ws + 2 * cy + 1));
        for y in oy0..oy1 {
            for x in ox0..ox1 {
                set_word(data, j.io[1], y * w + x, out);
            }
        }
    }
}

fn ycbcr(c: V3) -> V3 {
    [
        0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2],
        -0.168736 * c[0] - 0.331264 * c[1] + 0.5 * c[2] + 128.0,
        0.5 * c[0] - 0.418688 * c[1] - 0.081312 * c[2] + 128.0,
    ]
}

fn rgb255(j: &Job, data: &[u32], x: u32, y: u32) -> V3 {
    let cx = x.min(j.frame[0] - 1);
    let cy = y.min(j.frame[1] - 1);
    unpack_rgb(word(data, j.io[0], cy * j.frame[0] + cx)).map(|v| v * 255.0)
}

/// A 4×4 matrix as WGSL's `mat4x4<f32>`: `m[column][row]`.
type M4 = [[f32; 4]; 4];

/// WGSL's matrix product: column c is `Σ_k a[k]·b[c][k]`, k in order.
fn mul(a: &M4, b: &M4) -> M4 {
    std::array::from_fn(|c| {
        std::array::from_fn(|r| {
            a[0][r] * b[c][0] + a[1][r] * b[c][1] + a[2][r] * b[c][2] + a[3][r] * b[c][3]
        })
    })
}

fn add(a: &M4, b: &M4) -> M4 {
    std::array::from_fn(|c| std::array::from_fn(|r| a[c][r] + b[c][r]))
}

fn transpose(a: &M4) -> M4 {
    std::array::from_fn(|c| std::array::from_fn(|r| a[r][c]))
}

fn map(a: &M4, f: impl Fn(f32) -> f32) -> M4 {
    a.map(|col| col.map(&f))
}

/// An 8×8 block as four quadrants `[m00, m01, m10, m11]` (`m01`: rows 0–3 × columns 4–7).
type Block = [M4; 4];

/// Quantisation steps of a table for a scale (`plan::jpeg_step`), in parity quadrants.
fn steps(table: &[u32; 64], scale: u32) -> Block {
    let t = table.map(|v| v as f32);
    [(0, 0), (0, 1), (1, 0), (1, 1)]
        .map(|(pi, pj)| plan::parity_quadrant(&t, pi, pj))
        .map(|m| map(&m, |v| plan::jpeg_step(v as u32, scale) as f32))
}

fn quantise(f: &M4, q: &M4) -> M4 {
    std::array::from_fn(|c| {
        std::array::from_fn(|r| (f[c][r] / q[c][r]).round_ties_even() * q[c][r])
    })
}

fn decoded(m: &M4) -> M4 {
    map(m, |v| (v + 128.0).round_ties_even().clamp(0.0, 255.0))
}

fn sub(a: &M4, b: &M4) -> M4 {
    std::array::from_fn(|c| std::array::from_fn(|r| a[c][r] - b[c][r]))
}

/// The halves of the DCT basis (`plan::dct_half`), computed once: 64 cosines in f64 per block
/// made the CPU reference's JPEG 18 % slower.
static DCT_HALVES: std::sync::LazyLock<(M4, M4)> =
    std::sync::LazyLock::new(|| (plan::dct_half(0), plan::dct_half(1)));

/// J·m: rows reversed.
fn flip_rows(m: &M4) -> M4 {
    m.map(|col| [col[3], col[2], col[1], col[0]])
}

/// m·J: columns reversed.
fn flip_cols(m: &M4) -> M4 {
    [m[3], m[2], m[1], m[0]]
}

/// DCT (C·X·Cᵀ of the samples less 128) in even/odd form, quantisation with the steps `q`
/// (parity quadrants, the order of the coefficients), dequantisation, inverse DCT (Cᵀ·F·C),
/// rounded and clamped to 0–255 (libjpeg's decoder): the shader's `jpeg_block`, product for
/// product.
fn jpeg_block(x: &Block, q: &Block) -> Block {
    let (e, o) = &*DCT_HALVES;
    let (e, o) = (*e, *o);
    let x = x.map(|m| map(&m, |v| v - 128.0));
    let (x00, x01) = (&x[0], &x[1]);
    let (x10, x11) = (flip_rows(&x[2]), flip_rows(&x[3]));
    let te0 = mul(&e, &add(x00, &x10));
    let te1 = flip_cols(&mul(&e, &add(x01, &x11)));
    let to0 = mul(&o, &sub(x00, &x10));
    let to1 = flip_cols(&mul(&o, &sub(x01, &x11)));
    let (et, ot) = (transpose(&e), transpose(&o));
    let f_ee = quantise(&mul(&add(&te0, &te1), &et), &q[0]);
    let f_eo = quantise(&mul(&sub(&te0, &te1), &ot), &q[1]);
    let f_oe = quantise(&mul(&add(&to0, &to1), &et), &q[2]);
    let f_oo = quantise(&mul(&sub(&to0, &to1), &ot), &q[3]);
    let (pe, po) = (mul(&et, &f_ee), mul(&ot, &f_oe));
    let (re, ro) = (mul(&et, &f_eo), mul(&ot, &f_oo));
    let (ae, be) = (add(&pe, &po), sub(&pe, &po));
    let (ao, bo) = (add(&re, &ro), sub(&re, &ro));
    let (ge, go) = (mul(&ae, &e), mul(&ao, &o));
    let (he, ho) = (mul(&be, &e), mul(&bo, &o));
    [
        decoded(&add(&ge, &go)),
        decoded(&flip_cols(&sub(&ge, &go))),
        decoded(&flip_rows(&add(&he, &ho))),
        decoded(&flip_rows(&flip_cols(&sub(&he, &ho)))),
    ]
}

/// An 8×8 pixel region at (x, y): its luma block and its 4×4 quadrants of Cb and Cr (2×2
/// means), as the shader's `region8` (pixel pairs in the same order).
fn region8(j: &Job, data: &[u32], x: u32, y: u32) -> (Block, M4, M4) {
    let mut luma: Block = [[[0.0; 4]; 4]; 4];
    let mut cb: M4 = [[0.0; 4]; 4];
    let mut cr: M4 = [[0.0; 4]; 4];
    for c in 0..4u32 {
        for r in 0..4u32 {
            let (px, py) = (x + 2 * c, y + 2 * r);
            let a = ycbcr(rgb255(j, data, px, py));
            let b = ycbcr(rgb255(j, data, px + 1, py));
            let cc = ycbcr(rgb255(j, data, px, py + 1));
            let d = ycbcr(rgb255(j, data, px + 1, py + 1));
            let s = [1, 2].map(|k| a[k] + b[k] + cc[k] + d[k]);
            cb[c as usize][r as usize] = 0.25 * s[0];
            cr[c as usize][r as usize] = 0.25 * s[1];
            // Luma of pixel (column lx, row ly) of the region: quadrant by halves.
            for (lx, ly, v) in [
                (2 * c, 2 * r, a[0]),
                (2 * c + 1, 2 * r, b[0]),
                (2 * c, 2 * r + 1, cc[0]),
                (2 * c + 1, 2 * r + 1, d[0]),
            ] {
                let q = (2 * (ly / 4) + lx / 4) as usize;
                luma[q][(lx % 4) as usize][(ly % 4) as usize] = v;
            }
        }
    }
    (luma, cb, cr)
}

/// Words per row of the packed luma plane: four decoded luma samples (integers 0–255) per word,
/// pixel x in byte x mod 4 of word x / 4.
fn luma_words(j: &Job) -> u32 {
    j.frame[0].div_ceil(4)
}

/// A decoded 8×8 luma block at (x, y) (x a multiple of 4) into the packed luma plane: one word
/// per quadrant row, rows inside the frame only.
fn store_luma(j: &Job, data: &mut [u32], x: u32, y: u32, b: &Block) {
    let lw = luma_words(j);
    for (q, m) in b.iter().enumerate() {
        let (qx, qy) = (x + 4 * (q as u32 % 2), y + 4 * (q as u32 / 2));
        if qx >= j.frame[0] {
            continue;
        }
        for r in 0..4 {
            if qy + r < j.frame[1] {
                let v = (0..4).fold(0u32, |v, c| v | ((m[c][r as usize] as u32) << (8 * c)));
                set_word(data, j.io[1], (qy + r) * lw + qx / 4, v);
            }
        }
    }
}

/// One 16×16 MCU (4:2:0) at a time: four luma blocks and one block each of Cb and Cr (2×2
/// means), quantised with the tables scaled by `ints[0]` and decoded; luma packed into the plane
/// io[1] (`luma_words`), chroma packed into the half-resolution plane io[2] (`chroma_words`).
pub fn jpeg_mcu(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (w, h) = (j.frame[0], j.frame[1]);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let ql = steps(&plan::JPEG_LUMA, j.ints[0]);
    let qc = steps(&plan::JPEG_CHROMA, j.ints[0]);
    for by in 0..h.div_ceil(16) {
        for bx in 0..w.div_ceil(16) {
            let (x, y) = (bx * 16, by * 16);
            let mut cbs: Block = [[[0.0; 4]; 4]; 4];
            let mut crs: Block = [[[0.0; 4]; 4]; 4];
            for (q, (dx, dy)) in [(0, 0), (8, 0), (0, 8), (8, 8)].into_iter().enumerate() {
                let (luma, cb, cr) = region8(j, data, x + dx, y + dy);
                store_luma(j, data, x + dx, y + dy, &jpeg_block(&luma, &ql));
                cbs[q] = cb;
                crs[q] = cr;
            }
            let cb = jpeg_block(&cbs, &qc);
            let cr = jpeg_block(&crs, &qc);
            let pw = chroma_words(j);
            for q in 0..4 {
                let (qx, qy) = (x / 2 + 4 * (q as u32 % 2), y / 2 + 4 * (q as u32 / 2));
                for c in (0..4).step_by(2) {
                    for r in 0..4 {
                        let (px, py) = (qx + c, qy + r);
                        if px < cw && py < ch {
                            let (c, r) = (c as usize, r as usize);
                            let v = cb[q][c][r] as u32
                                | ((cr[q][c][r] as u32) << 8)
                                | ((cb[q][c + 1][r] as u32) << 16)
                                | ((cr[q][c + 1][r] as u32) << 24);
                            set_word(data, j.io[2], py * pw + px / 2, v);
                        }
                    }
                }
            }
        }
    }
}

/// Words per row of the packed chroma plane: two chroma samples per word (Cb | Cr << 8 of
/// column x in the low half of word x / 2, of column x + 1 in the high half).
fn chroma_words(j: &Job) -> u32 {
    j.frame[0].div_ceil(4)
}

/// The Cb and Cr of chroma sample (x, y) from the packed plane.
fn chroma(j: &Job, data: &[u32], x: u32, y: u32) -> [f32; 2] {
    let v = word(data, j.io[2], y * chroma_words(j) + x / 2) >> (16 * (x % 2));
    [(v & 255) as f32, ((v >> 8) & 255) as f32]
}

/// Triangle-filter (libjpeg's "fancy") upsampling.
fn fancy(c: [f32; 2], nx: [f32; 2], ny: [f32; 2], nxy: [f32; 2]) -> [f32; 2] {
    std::array::from_fn(|k| {
        let near = 0.75 * c[k] + 0.25 * nx[k];
        let far = 0.75 * ny[k] + 0.25 * nxy[k];
        0.75 * near + 0.25 * far
    })
}

/// The decoded luma of pixel (x, y) from the packed plane.
fn luma(j: &Job, data: &[u32], x: u32, y: u32) -> f32 {
    let v = word(data, j.io[0], y * luma_words(j) + x / 4) >> (8 * (x % 4));
    (v & 255) as f32
}

fn compose_pixel(j: &Job, data: &mut [u32], x: u32, y: u32, c: [f32; 2]) {
    if x >= j.frame[0] || y >= j.frame[1] {
        return;
    }
    let yy = luma(j, data, x, y);
    let (cb, cr) = (c[0] - 128.0, c[1] - 128.0);
    let rgb = [
        yy + 1.402 * cr,
        yy - 0.344136 * cb - 0.714136 * cr,
        yy + 1.772 * cb,
    ];
    store_rgb(j, data, j.io[1], x, y, rgb.map(|v| v * (1.0 / 255.0)));
}

/// Decoded YCbCr back to RGB, one 2×2 quad (one chroma sample) at a time.
pub fn jpeg_compose(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (cw, ch) = (j.frame[0].div_ceil(2), j.frame[1].div_ceil(2));
    for cy in 0..ch {
        for cx in 0..cw {
            let xl = cx.saturating_sub(1);
            let xr = (cx + 1).min(cw - 1);
            let yu = cy.saturating_sub(1);
            let yd = (cy + 1).min(ch - 1);
            let at = |x: u32, y: u32| chroma(j, data, x, y);
            let (ul, uc, ur) = (at(xl, yu), at(cx, yu), at(xr, yu));
            let (ml, mc, mr) = (at(xl, cy), at(cx, cy), at(xr, cy));
            let (dl, dc, dr) = (at(xl, yd), at(cx, yd), at(xr, yd));
            compose_pixel(j, data, 2 * cx, 2 * cy, fancy(mc, ml, uc, ul));
            compose_pixel(j, data, 2 * cx + 1, 2 * cy, fancy(mc, mr, uc, ur));
            compose_pixel(j, data, 2 * cx, 2 * cy + 1, fancy(mc, ml, dc, dl));
            compose_pixel(j, data, 2 * cx + 1, 2 * cy + 1, fancy(mc, mr, dc, dr));
        }
    }
}

/// Uniform displacements in ±max along x and y.
pub fn elastic_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_groups(j, 2, |x, y, e| {
        let w: [u32; 8] = group_words(j, e);
        for (s, x) in group_slots(j, x) {
            let p = y * j.frame[0] + x;
            store_f(data, j.io[0], p, (2.0 * unit(w[2 * s]) - 1.0) * j.p0[0]);
            store_f(data, j.io[1], p, (2.0 * unit(w[2 * s + 1]) - 1.0) * j.p0[0]);
        }
    });
}

fn mix3(a: V3, b: V3, t: f32) -> V3 {
    [0, 1, 2].map(|k| a[k] * (1.0 - t) + b[k] * t)
}

/// The displacement (dx, dy) at pixel (x, y): from the full-size planes, or (`ints[0]` > 0)
/// upsampled bilinearly from the field smoothed on `ints[0]` × `ints[1]` cells (`p0[0..2]` =
/// 1/sx, 1/sy).
fn elastic_field(j: &Job, data: &[u32], x: u32, y: u32) -> (f32, f32) {
    let ws = j.ints[0];
    if ws == 0 {
        let p = y * j.frame[0] + x;
        return (load_f(data, j.io[2], p), load_f(data, j.io[3], p));
    }
    let (r0, r1, ty) = cell_pair(y, j.p0[1], j.ints[1]);
    let (c0, c1, tx) = cell_pair(x, j.p0[0], ws);
    let sample = |plane: u32| {
        let cell = |x: u32, row: u32| load_f(data, plane, row * ws + x);
        mix(
            mix(cell(c0, r0), cell(c1, r0), tx),
            mix(cell(c0, r1), cell(c1, r1), tx),
            ty,
        )
    };
    (sample(j.io[2]), sample(j.io[3]))
}

/// The image sampled at (x + dx, y + dy), bilinear, reflected at the edges.
pub fn elastic_warp(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    for_pixels(j, |x, y| {
        let (dx, dy) = elastic_field(j, data, x, y);
        let fx = x as f32 + dx;
        let fy = y as f32 + dy;
        let (x0, y0) = (fx.floor() as i32, fy.floor() as i32);
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let xa = edge(x0, w, 1) as u32;
        let xb = edge(x0 + 1, w, 1) as u32;
        let ya = edge(y0, h, 1) as u32;
        let yb = edge(y0 + 1, h, 1) as u32;
        let top = mix3(
            load_rgb(j, data, j.io[0], xa, ya),
            load_rgb(j, data, j.io[0], xb, ya),
            tx,
        );
        let bottom = mix3(
            load_rgb(j, data, j.io[0], xa, yb),
            load_rgb(j, data, j.io[0], xb, yb),
            tx,
        );
        store_rgb(j, data, j.io[1], x, y, mix3(top, bottom, ty));
    });
}
