//! CPU reference of `shaders/render.wgsl`: the same functions, names and f32 math, one pixel at a
//! time, frames and rows spread over threads. Tests compare its frames with the GPU's; it is
//! also the renderer of `--device cpu`.

use rayon::prelude::*;

use super::scene::FrameScene;
use super::{Frame, Marking, Prim, SHAPE_BOUND, View};

const NO_HIT: f32 = 1e30;
/// Pixels of a row one invocation shades (as in the shader).
pub const PIXELS_PER_INVOCATION: u32 = 8;
const T_MIN: f32 = 1e-3;
const PAINT: f32 = 0.65;
const HEADLIGHT_COS_OUTER: f32 = 0.882_947_6; // cos 28°
const HEADLIGHT_COS_INNER: f32 = 0.984_807_8; // cos 10°

type V3 = [f32; 3];

fn v3(a: [f32; 4]) -> V3 {
    [a[0], a[1], a[2]]
}
fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn mul(a: V3, s: f32) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
fn fract(x: f32) -> f32 {
    x - x.floor()
}
fn mix(a: V3, b: V3, t: f32) -> V3 {
    add(mul(a, 1.0 - t), mul(b, t))
}
fn reflect(d: V3, n: V3) -> V3 {
    sub(d, mul(n, 2.0 * dot(n, d)))
}

/// PCG hash (O'Neill), as `pcg` in the shader.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// A value in [0, 1] per integer cell.
/// `floor(v) as i32` with v clamped to ±2²² (the shader's `floor_i32`, which converts without a
/// conversion instruction and is exact in that range).
fn floor_i32(v: f32) -> i32 {
    v.clamp(-4_194_304.0, 4_194_304.0).floor() as i32
}

fn hash2(a: i32, b: i32) -> f32 {
    (pcg((a as u32) ^ pcg(b as u32)) & 0xffff) as f32 / 65535.0
}

fn smooth_step(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The ray through the centre of pixel (px, py).
fn ray_dir(view: &View, px: u32, py: u32) -> V3 {
    let xd = (px as f32 + 0.5 - view.intrinsics[2]) / view.intrinsics[0];
    let yd = (py as f32 + 0.5 - view.intrinsics[3]) / view.intrinsics[1];
    let (mut x, mut y) = (xd, yd);
    let lens = view.distortion[0] != 0.0 || view.distortion[1] != 0.0;
    for _ in 0..if lens { 5 } else { 0 } {
        let r2 = x * x + y * y;
        let f = 1.0 + view.distortion[0] * r2 + view.distortion[1] * r2 * r2;
        x = xd / f;
        y = yd / f;
    }
    let d = add(
        add(v3(view.axis_z), mul(v3(view.axis_x), x)),
        mul(v3(view.axis_y), y),
    );
    mul(d, 1.0 / dot(d, d).sqrt())
}

/// The ray in a primitive's own frame (yawed about z, centred on it): `(origin, direction)`.
fn prim_local(p: &Prim, o: V3, d: V3) -> (V3, V3) {
    let (c, s) = (p.centre[3], p.half[3]);
    let q = sub(o, v3(p.centre));
    let lo = [c * q[0] + s * q[1], -s * q[0] + c * q[1], q[2]];
    let ld = [c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]];
    (lo, ld)
}

/// A direction with components too close to zero for a slab test replaced by 1e-20.
fn slab_dir(ld: V3) -> V3 {
    ld.map(|v| if v.abs() < 1e-20 { 1e-20 } else { v })
}

/// A box's slab distances along the local ray: `(near per axis, far per axis)`.
fn box_slabs(h: V3, lo: V3, ld: V3) -> (V3, V3) {
    let ld = slab_dir(ld);
    let mut tn = [0.0f32; 3];
    let mut tf = [0.0f32; 3];
    for a in 0..3 {
        let t1 = (-h[a] - lo[a]) / ld[a];
        let t2 = (h[a] - lo[a]) / ld[a];
        tn[a] = t1.min(t2);
        tf[a] = t1.max(t2);
    }
    (tn, tf)
}

/// Distance along the ray to a primitive, or `NO_HIT` (the normal: [`prim_normal`]).
fn hit_prim(p: &Prim, o: V3, d: V3) -> f32 {
    let (lo, ld) = prim_local(p, o, d);
    let h = v3(p.half);
    if p.ids[2] == 0 {
        let (tn, tf) = box_slabs(h, lo, ld);
        let t_near = tn[0].max(tn[1]).max(tn[2]);
        let t_far = tf[0].min(tf[1]).min(tf[2]);
        if t_far < t_near || t_near < T_MIN {
            return NO_HIT;
        }
        return t_near;
    }
    let os = [lo[0] / h[0], lo[1] / h[1], lo[2] / h[2]];
    let ds = [ld[0] / h[0], ld[1] / h[1], ld[2] / h[2]];
    let a = dot(ds, ds);
    let b = dot(os, ds);
    let cc = dot(os, os) - 1.0;
    let disc = b * b - a * cc;
    if disc < 0.0 {
        return NO_HIT;
    }
    let t = (-b - disc.sqrt()) / a;
    if t < T_MIN {
        return NO_HIT;
    }
    t
}

/// The outward normal of a primitive where the ray meets it at distance `t` (from
/// [`hit_prim`]).
fn prim_normal(p: &Prim, o: V3, d: V3, t: f32) -> V3 {
    let (c, s) = (p.centre[3], p.half[3]);
    let (lo, ld) = prim_local(p, o, d);
    let h = v3(p.half);
    let ln = if p.ids[2] == 0 {
        let (tn, _) = box_slabs(h, lo, ld);
        let lds = slab_dir(ld);
        if tn[0] >= tn[1] && tn[0] >= tn[2] {
            [-sign(lds[0]), 0.0, 0.0]
        } else if tn[1] >= tn[2] {
            [0.0, -sign(lds[1]), 0.0]
        } else {
            [0.0, 0.0, -sign(lds[2])]
        }
    } else {
        let x = add(lo, mul(ld, t));
        let g = [
            x[0] / (h[0] * h[0]),
            x[1] / (h[1] * h[1]),
            x[2] / (h[2] * h[2]),
        ];
        mul(g, 1.0 / dot(g, g).sqrt())
    };
    [c * ln[0] - s * ln[1], s * ln[0] + c * ln[1], ln[2]]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Whether the ray from `o` along unit `d` passes wide of a bound's sphere or has it wholly
/// behind: then none of the bound's primitives can be hit.
fn misses_bound(p: &Prim, o: V3, d: V3) -> bool {
    let q = sub(v3(p.centre), o);
    let r = p.half[0];
    let off = cross(q, d);
    dot(off, off) > r * r || dot(q, d) < -r
}

/// Whether anything of the frame's primitives lies between `o` and the sun.
fn in_shadow(view: &View, prims: &[Prim], o: V3) -> bool {
    let first = view.ranges[0] as usize;
    let n = view.ranges[1] as usize;
    let mut i = 0;
    while i < n {
        let p = &prims[first + i];
        i += 1;
        if p.ids[2] == SHAPE_BOUND {
            if misses_bound(p, o, v3(view.sun)) {
                i += p.ids[3] as usize;
            }
        } else if hit_prim(p, o, v3(view.sun)) < NO_HIT {
            return true;
        }
    }
    false
}

/// Road-frame station and lateral offset of a world point.
fn road_from_world(k: f32, p: [f32; 2]) -> [f32; 2] {
    if k.abs() < 1e-9 {
        return p;
    }
    let vx = p[0];
    let vy = p[1] - 1.0 / k;
    let psi = (k * vx).atan2(-k * vy);
    [psi / k, 1.0 / k - sign(k) * (vx * vx + vy * vy).sqrt()]
}

/// Albedo of the ground at a world point.
fn ground_albedo(view: &View, markings: &[Marking], p: V3) -> V3 {
    let sd = road_from_world(view.road[0], [p[0], p[1]]);
    let (s, d) = (sd[0], sd[1]);
    let cell = |scale: f32| hash2(floor_i32(s * scale), floor_i32(d * scale));
    let cell6 = cell(6.0);
    let tex = 0.85 + 0.3 * cell6;
    let (right, left) = (view.road[2], view.road[3]);
    if d >= right && d <= left {
        let w = view.road_more[0];
        let hw = 0.5 * w;
        let dash = view.road_more[3];
        let first = view.ranges[2] as usize;
        for i in 0..view.ranges[3] as usize {
            let m = markings[first + i].line;
            let dy = (d - m[0]).abs();
            let paint = if m[1] == 1.0 {
                dy < hw
            } else if m[1] == 2.0 {
                let period = dash + m[2];
                dy < hw && (s - period * (s / period).floor()) < dash
            } else if m[1] == 3.0 {
                (dy - w).abs() < hw
            } else {
                false
            };
            if paint {
                let v = PAINT * (0.95 + 0.1 * cell6);
                return [v, v, v];
            }
        }
        return mul([0.1, 0.1, 0.105], tex);
    }
    let (mut kind, mut beyond) = (view.road_more[2], d - left);
    if d < right {
        kind = view.road_more[1];
        beyond = right - d;
    }
    if kind == 1.0 {
        return mul([0.22, 0.2, 0.17], tex);
    }
    if (kind == 2.0 || kind == 3.0) && beyond < 0.3 {
        return mul([0.42, 0.42, 0.4], tex);
    }
    mul([0.06, 0.13, 0.04], 0.7 + 0.6 * cell(3.0))
}

/// Radiance of the sky in a direction.
fn sky(view: &View, d: V3) -> V3 {
    if view.light[3] > 0.5 {
        return [0.0008, 0.0012, 0.0025];
    }
    let t = d[2].clamp(0.0, 1.0).sqrt();
    let mut c = mix([0.75, 0.85, 0.95], [0.25, 0.45, 0.85], t);
    let cs = dot(d, v3(view.sun));
    if cs > 0.999_945_17 {
        c = [25.0, 24.0, 20.0];
    }
    add(c, mul([0.6, 0.55, 0.4], cs.max(0.0).powf(64.0)))
}

/// Light arriving at a surface point with normal `n`.
fn irradiance(view: &View, prims: &[Prim], p: V3, n: V3) -> f32 {
    let mut e = view.light[0];
    let ns = dot(n, v3(view.sun));
    if view.sun[3] > 0.0 && ns > 0.0 && !in_shadow(view, prims, add(p, mul(n, 0.01))) {
        e += view.sun[3] * ns;
    }
    if view.light[2] > 0.0 {
        for i in 0..2 {
            let lamp = if i == 1 {
                v3(view.lamp_left)
            } else {
                v3(view.lamp_right)
            };
            let l = sub(lamp, p);
            let d2 = dot(l, l);
            let ln = mul(l, 1.0 / d2.sqrt());
            let spot = smooth_step(
                HEADLIGHT_COS_OUTER,
                HEADLIGHT_COS_INNER,
                -dot(ln, v3(view.lamp_dir)),
            );
            e += view.light[2] * spot * dot(n, ln).max(0.0) / d2.max(1.0);
        }
    }
    e
}

/// Exposure, a soft shoulder and display gamma, to 8 bits.
fn to_u8(x: f32, exposure: f32) -> u32 {
    let v = (1.0 - (-exposure * x.max(0.0)).exp()).powf(1.0 / 2.2);
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u32
}

/// One invocation of `render` in the shader: `PIXELS_PER_INVOCATION` pixels of row `gy`,
/// interleaved with the other invocations of its workgroup's row (`gx % 8`, `gx % 8 + 8`, …
/// from `(gx / 8) · 8 · PIXELS_PER_INVOCATION`), each handed to `write(x, rgba, depth,
/// instance)`.
fn render(
    view: &View,
    prims: &[Prim],
    markings: &[Marking],
    gx: u32,
    gy: u32,
    coverage: &mut [u32],
    write: &mut impl FnMut(u32, u32, f32, u32),
) {
    let lanes = super::WORKGROUP_SIZE;
    for k in 0..PIXELS_PER_INVOCATION {
        let x = (gx / lanes) * lanes * PIXELS_PER_INVOCATION + k * lanes + gx % lanes;
        if x < view.frame[0] {
            let (rgba, depth, id) = render_pixel(view, prims, markings, x, gy, coverage);
            write(x, rgba, depth, id);
        }
    }
}

/// One pixel: `(rgba, depth, instance)`; every instance the ray passes through is added to
/// `coverage` once.
fn render_pixel(
    view: &View,
    prims: &[Prim],
    markings: &[Marking],
    gx: u32,
    gy: u32,
    coverage: &mut [u32],
) -> (u32, f32, u32) {
    let o = v3(view.origin);
    let d = ray_dir(view, gx, gy);
    let mut best_t = NO_HIT;
    let mut best = 0usize;
    let mut found = false;
    let mut counted = 0u32;
    let first = view.ranges[0] as usize;
    let mut i = 0;
    while i < view.ranges[1] as usize {
        let p = &prims[first + i];
        i += 1;
        if p.ids[2] == SHAPE_BOUND {
            if misses_bound(p, o, d) {
                i += p.ids[3] as usize;
            }
            continue;
        }
        let t = hit_prim(p, o, d);
        if t < NO_HIT {
            if p.ids[0] != counted {
                counted = p.ids[0];
                coverage[p.ids[0] as usize] += 1;
            }
            if t < best_t {
                best_t = t;
                best = first + i - 1;
                found = true;
            }
        }
    }
    let t_ground = if d[2] < -1e-6 { -o[2] / d[2] } else { NO_HIT };

    // The surface seen (a primitive, the ground, or none: the sky), then its light, once.
    let on_prim = found && best_t <= t_ground;
    let on_ground = !on_prim && t_ground < NO_HIT;
    let (t, n, id, m, mut albedo) = if on_prim {
        let p = &prims[best];
        (
            best_t,
            prim_normal(p, o, d, best_t),
            p.ids[0],
            p.colour[3],
            v3(p.colour),
        )
    } else if on_ground {
        (t_ground, [0.0, 0.0, 1.0], 0, 0.0, [0.0; 3])
    } else {
        (0.0, [0.0, 0.0, 1.0], 0, 0.0, [0.0; 3])
    };
    let x = add(o, mul(d, t));
    if on_prim {
        if m == 3.0 {
            let band = fract(x[2] / 0.25);
            if band > 0.55 && band < 0.85 {
                albedo = [0.8, 0.8, 0.8];
            }
        }
    } else if on_ground {
        albedo = ground_albedo(view, markings, x);
    }
    // The sky seen along the ray, or reflected in a window (the shader evaluates it for every
    // pixel; here only where it is used).
    let c = if on_prim || on_ground {
        let e = irradiance(view, prims, x, n);
        let glow = if m == 1.0 {
            mul(sky(view, reflect(d, n)), 0.08)
        } else if m == 2.0 && view.light[3] > 0.5 {
            [1.8, 0.08, 0.05]
        } else {
            [0.0; 3]
        };
        add(mul(albedo, e), glow)
    } else {
        sky(view, d)
    };
    let exposure = view.light[1];
    let rgba = to_u8(c[0], exposure)
        | (to_u8(c[1], exposure) << 8)
        | (to_u8(c[2], exposure) << 16)
        | (255 << 24);
    (rgba, t * dot(d, v3(view.axis_z)), id)
}

/// One rendered row: colour, depth, instance ids, and the row's coverage counts.
type Row = (Vec<u32>, Vec<f32>, Vec<u32>, Vec<u32>);

/// Renders one frame whose view's ranges index `prims` and `markings`.
pub fn render_frame(view: &View, prims: &[Prim], markings: &[Marking]) -> Frame {
    let (w, h) = (view.frame[0], view.frame[1]);
    let max_id = prims.iter().map(|p| p.ids[0]).max().unwrap_or(0) as usize;
    let rows: Vec<Row> = (0..h)
        .into_par_iter()
        .map(|y| {
            let mut cov = vec![0u32; max_id + 1];
            let mut c = vec![0u32; w as usize];
            let mut dd = vec![0f32; w as usize];
            let mut ids = vec![0u32; w as usize];
            let lanes = super::WORKGROUP_SIZE;
            for gx in 0..w.div_ceil(lanes * PIXELS_PER_INVOCATION) * lanes {
                render(
                    view,
                    prims,
                    markings,
                    gx,
                    y,
                    &mut cov,
                    &mut |x, rgba, depth, id| {
                        c[x as usize] = rgba;
                        dd[x as usize] = depth;
                        ids[x as usize] = id;
                    },
                );
            }
            (c, dd, ids, cov)
        })
        .collect();
    let n = (w * h) as usize;
    let mut frame = Frame {
        width_px: w,
        height_px: h,
        rgba: Vec::with_capacity(n * 4),
        depth_m: Vec::with_capacity(n),
        instance: Vec::with_capacity(n),
        coverage: vec![0; max_id + 1],
    };
    for (c, d, ids, cov) in rows {
        for px in c {
            frame.rgba.extend_from_slice(&px.to_le_bytes());
        }
        frame.depth_m.extend(d);
        frame.instance.extend(ids);
        for (total, k) in frame.coverage.iter_mut().zip(cov) {
            *total += k;
        }
    }
    frame
}

/// Renders frames on the CPU, in order.
pub fn render_scenes(scenes: &[FrameScene]) -> Vec<Frame> {
    scenes
        .iter()
        .map(|s| {
            let mut view = s.view;
            view.ranges = [0, s.prims.len() as u32, 0, s.markings.len() as u32];
            view.frame[2] = 0;
            view.frame[3] = 0;
            render_frame(&view, &s.prims, &s.markings)
        })
        .collect()
}
