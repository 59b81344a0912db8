//! CPU reference of `shaders/perturb_digital.wgsl`: pixelate, the JPEG round trip
//! (jpeg_luma, jpeg_chroma, jpeg_compose) and elastic_transform (elastic_noise,
//! elastic_warp); the same names and f32 math.

use super::common::*;
use super::plan::Job;

/// Each output pixel is the mean of its cell's input box.
pub fn pixelate(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0], j.frame[1]);
    for_pixels(j, |x, y| {
        let t = |i: u32| table_u(j, tables, i);
        let cx = t(x);
        let cy = t(w + y);
        let (x0, x1) = (t(w + h + 2 * cx), t(w + h + 2 * cx + 1));
        let (y0, y1) = (
            t(w + h + 2 * j.ints[0] + 2 * cy),
            t(w + h + 2 * j.ints[0] + 2 * cy + 1),
        );
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
        store_rgb(j, data, j.io[1], x, y, s.map(|v| v as f32 / (n * 255.0)));
    });
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

/// DCT, quantisation, dequantisation and inverse DCT of an 8×8 block (libjpeg's rounding and
/// clamping of the decoded samples).
fn jpeg_block(j: &Job, tables: &[u32], block: &mut [f32; 64], q: u32) {
    let basis = |u: u32, x: u32| table_f(j, tables, 128 + u * 8 + x);
    let mut t = [0.0f32; 64];
    for v in 0..8 {
        for u in 0..8 {
            let mut s = 0.0f32;
            for x in 0..8 {
                s += basis(u, x) * (block[(v * 8 + x) as usize] - 128.0);
            }
            t[(v * 8 + u) as usize] = s;
        }
    }
    for u in 0..8 {
        for v in 0..8 {
            let mut s = 0.0f32;
            for y in 0..8 {
                s += basis(v, y) * t[(y * 8 + u) as usize];
            }
            let step = table_f(j, tables, q + v * 8 + u);
            block[(v * 8 + u) as usize] = (s / step).round_ties_even() * step;
        }
    }
    for u in 0..8 {
        for y in 0..8 {
            let mut s = 0.0f32;
            for v in 0..8 {
                s += basis(v, y) * block[(v * 8 + u) as usize];
            }
            t[(y * 8 + u) as usize] = s;
        }
    }
    for y in 0..8 {
        for x in 0..8 {
            let mut s = 0.0f32;
            for u in 0..8 {
                s += basis(u, x) * t[(y * 8 + u) as usize];
            }
            block[(y * 8 + x) as usize] = (s + 128.0).round_ties_even().clamp(0.0, 255.0);
        }
    }
}

/// Luma of every 8×8 block, decoded.
pub fn jpeg_luma(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0], j.frame[1]);
    for by in 0..h.div_ceil(8) {
        for bx in 0..w.div_ceil(8) {
            let mut b = [0.0f32; 64];
            for v in 0..8 {
                for u in 0..8 {
                    b[(v * 8 + u) as usize] = ycbcr(rgb255(j, data, bx * 8 + u, by * 8 + v))[0];
                }
            }
            jpeg_block(j, tables, &mut b, 0);
            for v in 0..8 {
                for u in 0..8 {
                    let (x, y) = (bx * 8 + u, by * 8 + v);
                    if x < w && y < h {
                        store_f(data, j.io[1], y * w + x, b[(v * 8 + u) as usize]);
                    }
                }
            }
        }
    }
}

/// Chroma of every 16×16 block (2×2 means), decoded at half resolution.
pub fn jpeg_chroma(j: &Job, data: &mut [u32], tables: &[u32]) {
    let (w, h) = (j.frame[0], j.frame[1]);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for by in 0..h.div_ceil(16) {
        for bx in 0..w.div_ceil(16) {
            let mut cb = [0.0f32; 64];
            let mut cr = [0.0f32; 64];
            for v in 0..8 {
                for u in 0..8 {
                    let (x, y) = (bx * 16 + 2 * u, by * 16 + 2 * v);
                    let a = ycbcr(rgb255(j, data, x, y));
                    let b = ycbcr(rgb255(j, data, x + 1, y));
                    let c = ycbcr(rgb255(j, data, x, y + 1));
                    let d = ycbcr(rgb255(j, data, x + 1, y + 1));
                    let s = [0, 1, 2].map(|k| a[k] + b[k] + c[k] + d[k]);
                    cb[(v * 8 + u) as usize] = 0.25 * s[1];
                    cr[(v * 8 + u) as usize] = 0.25 * s[2];
                }
            }
            jpeg_block(j, tables, &mut cb, 64);
            jpeg_block(j, tables, &mut cr, 64);
            for v in 0..8 {
                for u in 0..8 {
                    let (x, y) = (bx * 8 + u, by * 8 + v);
                    if x < cw && y < ch {
                        store_f(data, j.io[2], y * cw + x, cb[(v * 8 + u) as usize]);
                        store_f(data, j.io[3], y * cw + x, cr[(v * 8 + u) as usize]);
                    }
                }
            }
        }
    }
}

fn chroma_at(j: &Job, data: &[u32], region: u32, x: u32, y: u32) -> f32 {
    let (cw, ch) = (j.frame[0].div_ceil(2), j.frame[1].div_ceil(2));
    let (cx, cy) = (x / 2, y / 2);
    let nx = if x % 2 == 0 {
        cx.saturating_sub(1)
    } else {
        (cx + 1).min(cw - 1)
    };
    let ny = if y % 2 == 0 {
        cy.saturating_sub(1)
    } else {
        (cy + 1).min(ch - 1)
    };
    let near =
        0.75 * load_f(data, region, cy * cw + cx) + 0.25 * load_f(data, region, cy * cw + nx);
    let far = 0.75 * load_f(data, region, ny * cw + cx) + 0.25 * load_f(data, region, ny * cw + nx);
    0.75 * near + 0.25 * far
}

/// Decoded YCbCr back to RGB.
pub fn jpeg_compose(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let yy = load_f(data, j.io[0], y * j.frame[0] + x);
        let cb = chroma_at(j, data, j.io[2], x, y) - 128.0;
        let cr = chroma_at(j, data, j.io[3], x, y) - 128.0;
        let c = [
            yy + 1.402 * cr,
            yy - 0.344136 * cb - 0.714136 * cr,
            yy + 1.772 * cb,
        ];
        store_rgb(j, data, j.io[1], x, y, c.map(|v| v * (1.0 / 255.0)));
    });
}

/// Uniform displacements in ±max along x and y.
pub fn elastic_noise(j: &Job, data: &mut [u32], _tables: &[u32]) {
    for_pixels(j, |x, y| {
        let p = y * j.frame[0] + x;
        let w = rand4(j, 0, p);
        store_f(data, j.io[0], p, (2.0 * unit(w[0]) - 1.0) * j.p0[0]);
        store_f(data, j.io[1], p, (2.0 * unit(w[1]) - 1.0) * j.p0[0]);
    });
}

fn mix3(a: V3, b: V3, t: f32) -> V3 {
    [0, 1, 2].map(|k| a[k] * (1.0 - t) + b[k] * t)
}

/// The image sampled at (x + dx, y + dy), bilinear, reflected at the edges.
pub fn elastic_warp(j: &Job, data: &mut [u32], _tables: &[u32]) {
    let (w, h) = (j.frame[0] as i32, j.frame[1] as i32);
    for_pixels(j, |x, y| {
        let p = y * j.frame[0] + x;
        let fx = x as f32 + load_f(data, j.io[2], p);
        let fy = y as f32 + load_f(data, j.io[3], p);
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
