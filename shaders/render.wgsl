// Camera frames by per-pixel ray casting: road surface with texture, lane markings, verge, sky
// and sun, actors as oriented boxes and ellipsoids with shadows, day and night light (the ego's
// headlights, glowing tail lights). One invocation per 8 pixels of a row; one dispatch per frame,
// all of a batch's dispatches in one pass and one submission. The frame's view is bound at a
// dynamic offset into the views buffer and copied once per invocation into the private `view`
// that every function reads (on lavapipe, copying a view into each function call cost more than
// shading a simple frame). The frame's primitives and markings (its scene block) are bound at a
// dynamic offset as a uniform buffer; each primitive is read once per loop step.
//
// A CPU-backed driver (lavapipe 22.3) runs 8 invocations as the lanes of one SIMD register and
// executes both sides of every branch, masked, even where the condition is the same for every
// lane: the cost of a pixel is the length of all the code it could take. So a pixel first finds
// the surface it sees (a primitive, the ground, or the sky), then lights it once: one
// `irradiance` (one shadow loop), one `sky`, one `to_u8` per channel, instead of a copy of each
// per kind of surface; the loops over primitives compute distances only (`prim_normal` once
// after the loop). A loop is the only code lavapipe does not run for every lane: it ends when
// every lane has left it. The loops are written do-while (`loop { ... continuing { break if
// ... } }`): a `while` loop runs its whole body once more, masked, to find that all lanes have
// left it.
//
// CPU reference: `src/render/cpu.rs`, with the same names and the same math in f32. Keep the
// two side by side when changing either; `tests/render.rs` compares their frames.

struct View {
    origin: vec4<f32>,
    axis_x: vec4<f32>,
    axis_y: vec4<f32>,
    axis_z: vec4<f32>,
    intrinsics: vec4<f32>,
    distortion: vec4<f32>,
    sun: vec4<f32>,
    light: vec4<f32>,
    lamp_right: vec4<f32>,
    lamp_left: vec4<f32>,
    lamp_dir: vec4<f32>,
    road: vec4<f32>,
    road_more: vec4<f32>,
    frame: vec4<u32>,
    ranges: vec4<u32>,
    schedule: vec4<u32>,
}

struct Prim {
    centre: vec4<f32>,
    half: vec4<f32>,
    colour: vec4<f32>,
    ids: vec4<u32>,
}

struct Marking {
    line: vec4<f32>,
}

@group(0) @binding(0) var<storage, read> frame_view: View;
// The frame's view, read from `frame_view` once per invocation.
var<private> view: View;
// The frame's scene block, bound at a dynamic offset: its primitives (four `vec4` each, from
// index 0) and then its road markings (one `vec4` each, from `view.ranges.z`). A uniform
// binding: lavapipe loads a storage buffer lane by lane in a loop (each lane's value stored
// into the vector through memory, which stalls store forwarding), a uniform buffer with a
// branch-free gather. `gpu.rs` swaps this line for a storage binding when a frame's block
// exceeds the 64 KiB a uniform binding holds.
@group(0) @binding(1) var<uniform> scene: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<storage, read_write> colour_out: array<u32>;
@group(0) @binding(3) var<storage, read_write> depth_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> instance_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> coverage_out: array<atomic<u32>>;

const NO_HIT: f32 = 1e30;
const SHAPE_BOUND: u32 = 2u;
const PIXELS_PER_INVOCATION: u32 = 8u;
const T_MIN: f32 = 1e-3;
const PAINT: f32 = 0.65;
const HEADLIGHT_COS_OUTER: f32 = 0.88294759; // cos 28°
const HEADLIGHT_COS_INNER: f32 = 0.98480775; // cos 10°

// Primitive `k` of the frame's scene block.
fn prim_at(k: u32) -> Prim {
    let b = 4u * k;
    return Prim(scene[b], scene[b + 1u], scene[b + 2u], bitcast<vec4<u32>>(scene[b + 3u]));
}

// PCG hash (O'Neill), as in `pcg` of the CPU reference.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A value in [0, 1] per integer cell.
fn hash2(a: i32, b: i32) -> f32 {
    return f32(pcg(bitcast<u32>(a) ^ pcg(bitcast<u32>(b))) & 0xffffu) / 65535.0;
}

// Float-to-integer conversions without a conversion instruction (lavapipe on LLVM 15 converts
// lane by lane on AVX2, with a NaN test per lane): an integer v in 0..2²³ plus 2²³, or in
// −2²²..2²² plus 1.5·2²³, has v in the low bits of its f32 word, exactly (`render::cpu` converts
// with `as`, to the same values).
fn exact_u32(v: f32) -> u32 {
    return bitcast<u32>(v + 8388608.0) - 0x4b000000u;
}

// floor(v) as i32, v clamped to ±2²² (`render::cpu::floor_i32`).
fn floor_i32(v: f32) -> i32 {
    return bitcast<i32>(floor(clamp(v, -4194304.0, 4194304.0)) + 12582912.0) - 0x4b400000;
}

fn smooth_step(e0: f32, e1: f32, x: f32) -> f32 {
    let t = clamp((x - e0) / (e1 - e0), 0.0, 1.0);
    return t * t * (3.0 - 2.0 * t);
}

// The ray through the centre of pixel (px, py): the distorted normalised coordinates are
// undistorted by five fixed-point iterations.
fn ray_dir(px: u32, py: u32) -> vec3<f32> {
    let xd = (f32(px) + 0.5 - view.intrinsics.z) / view.intrinsics.x;
    let yd = (f32(py) + 0.5 - view.intrinsics.w) / view.intrinsics.y;
    var x = xd;
    var y = yd;
    let lens = view.distortion.x != 0.0 || view.distortion.y != 0.0;
    for (var i = 0u; lens && i < 5u; i = i + 1u) {
        let r2 = x * x + y * y;
        let f = 1.0 + view.distortion.x * r2 + view.distortion.y * r2 * r2;
        x = xd / f;
        y = yd / f;
    }
    let d = view.axis_z.xyz + x * view.axis_x.xyz + y * view.axis_y.xyz;
    return d / sqrt(dot(d, d));
}

// The ray in a primitive's own frame (yawed about z, centred on it): `(origin, direction)`.
fn prim_local(p: Prim, o: vec3<f32>, d: vec3<f32>) -> array<vec3<f32>, 2> {
    let c = p.centre.w;
    let s = p.half.w;
    let q = o - p.centre.xyz;
    let lo = vec3<f32>(c * q.x + s * q.y, -s * q.x + c * q.y, q.z);
    let ld = vec3<f32>(c * d.x + s * d.y, -s * d.x + c * d.y, d.z);
    return array<vec3<f32>, 2>(lo, ld);
}

// A box's slab distances along the local ray: `(near per axis, far per axis)`.
fn box_slabs(h: vec3<f32>, lo: vec3<f32>, ld_raw: vec3<f32>) -> array<vec3<f32>, 2> {
    let ld = select(ld_raw, vec3<f32>(1e-20), abs(ld_raw) < vec3<f32>(1e-20));
    let t1 = (-h - lo) / ld;
    let t2 = (h - lo) / ld;
    return array<vec3<f32>, 2>(min(t1, t2), max(t1, t2));
}

// Distance along the ray to a primitive, or NO_HIT. Only the distance: the nearest-surface
// and shadow loops run this for every primitive (on lavapipe, every lane runs both shapes'
// code), and `prim_normal` computes the normal once, for the primitive finally seen.
fn hit_prim(p: Prim, o: vec3<f32>, d: vec3<f32>) -> f32 {
    let l = prim_local(p, o, d);
    let lo = l[0];
    let ld = l[1];
    let h = p.half.xyz;
    if (p.ids.z == 0u) {
        let slabs = box_slabs(h, lo, ld);
        let tn = slabs[0];
        let tf = slabs[1];
        let t_near = max(max(tn.x, tn.y), tn.z);
        let t_far = min(min(tf.x, tf.y), tf.z);
        if (t_far < t_near || t_near < T_MIN) {
            return NO_HIT;
        }
        return t_near;
    }
    let os = lo / h;
    let ds = ld / h;
    let a = dot(ds, ds);
    let b = dot(os, ds);
    let cc = dot(os, os) - 1.0;
    let disc = b * b - a * cc;
    if (disc < 0.0) {
        return NO_HIT;
    }
    let t = (-b - sqrt(disc)) / a;
    if (t < T_MIN) {
        return NO_HIT;
    }
    return t;
}

// The outward normal of a primitive where the ray meets it at distance `t` (from `hit_prim`).
fn prim_normal(p: Prim, o: vec3<f32>, d: vec3<f32>, t: f32) -> vec3<f32> {
    let c = p.centre.w;
    let s = p.half.w;
    let l = prim_local(p, o, d);
    let lo = l[0];
    let ld = l[1];
    let h = p.half.xyz;
    var ln: vec3<f32>;
    if (p.ids.z == 0u) {
        let tn = box_slabs(h, lo, ld)[0];
        let lds = select(ld, vec3<f32>(1e-20), abs(ld) < vec3<f32>(1e-20));
        ln = vec3<f32>(0.0, 0.0, -sign(lds.z));
        if (tn.x >= tn.y && tn.x >= tn.z) {
            ln = vec3<f32>(-sign(lds.x), 0.0, 0.0);
        } else if (tn.y >= tn.z) {
            ln = vec3<f32>(0.0, -sign(lds.y), 0.0);
        }
    } else {
        let g = (lo + t * ld) / (h * h);
        ln = g / sqrt(dot(g, g));
    }
    return vec3<f32>(c * ln.x - s * ln.y, s * ln.x + c * ln.y, ln.z);
}

// Whether the ray from `o` along unit `d` passes wide of a bound's sphere or has it wholly
// behind: then none of the bound's primitives can be hit.
fn misses_bound(p: Prim, o: vec3<f32>, d: vec3<f32>) -> bool {
    let q = p.centre.xyz - o;
    let r = p.half.x;
    let off = cross(q, d);
    return dot(off, off) > r * r || dot(q, d) < -r;
}

// Whether anything of the frame's primitives lies between `o` and the sun.
fn in_shadow(o: vec3<f32>) -> bool {
    let first = view.ranges.x;
    let n = view.ranges.y;
    var i = 0u;
    var shadowed = false;
    loop {
        let p = prim_at(first + i);
        i = i + 1u;
        if (i <= n) {
            if (p.ids.z == SHAPE_BOUND) {
                if (misses_bound(p, o, view.sun.xyz)) {
                    i = i + p.ids.w;
                }
            } else if (hit_prim(p, o, view.sun.xyz) < NO_HIT) {
                shadowed = true;
            }
        }
        continuing {
            break if shadowed || i >= n;
        }
    }
    return shadowed;
}

// Road-frame station and lateral offset of a world point (`road_from_world` on the CPU).
fn road_from_world(k: f32, p: vec2<f32>) -> vec2<f32> {
    if (abs(k) < 1e-9) {
        return p;
    }
    let vx = p.x;
    let vy = p.y - 1.0 / k;
    let psi = atan2(k * vx, -k * vy);
    return vec2<f32>(psi / k, 1.0 / k - sign(k) * sqrt(vx * vx + vy * vy));
}

// Albedo of the ground at a world point.
fn ground_albedo(p: vec3<f32>) -> vec3<f32> {
    let sd = road_from_world(view.road.x, p.xy);
    let s = sd.x;
    let d = sd.y;
    let cell = hash2(floor_i32(s * 6.0), floor_i32(d * 6.0));
    let tex = 0.85 + 0.3 * cell;
    let right = view.road.z;
    let left = view.road.w;
    if (d >= right && d <= left) {
        let w = view.road_more.x;
        let hw = 0.5 * w;
        let dash = view.road_more.w;
        let n = view.ranges.w;
        var i = 0u;
        var paint = false;
        loop {
            let m = scene[view.ranges.z + i];
            i = i + 1u;
            let dy = abs(d - m.x);
            if (i > n) {
            } else if (m.y == 1.0) {
                paint = dy < hw;
            } else if (m.y == 2.0) {
                let period = dash + m.z;
                paint = dy < hw && (s - period * floor(s / period)) < dash;
            } else if (m.y == 3.0) {
                paint = abs(dy - w) < hw;
            }
            continuing {
                break if paint || i >= n;
            }
        }
        if (paint) {
            return vec3<f32>(PAINT) * (0.95 + 0.1 * cell);
        }
        return vec3<f32>(0.1, 0.1, 0.105) * tex;
    }
    var kind = view.road_more.z;
    var beyond = d - left;
    if (d < right) {
        kind = view.road_more.y;
        beyond = right - d;
    }
    if (kind == 1.0) {
        return vec3<f32>(0.22, 0.2, 0.17) * tex;
    }
    if ((kind == 2.0 || kind == 3.0) && beyond < 0.3) {
        return vec3<f32>(0.42, 0.42, 0.4) * tex;
    }
    return vec3<f32>(0.06, 0.13, 0.04) * (0.7 + 0.6 * hash2(floor_i32(s * 3.0), floor_i32(d * 3.0)));
}

// Radiance of the sky in a direction.
fn sky(d: vec3<f32>) -> vec3<f32> {
    if (view.light.w > 0.5) {
        return vec3<f32>(0.0008, 0.0012, 0.0025);
    }
    let t = sqrt(clamp(d.z, 0.0, 1.0));
    var c = mix(vec3<f32>(0.75, 0.85, 0.95), vec3<f32>(0.25, 0.45, 0.85), t);
    let cs = dot(d, view.sun.xyz);
    if (cs > 0.99994517) {
        c = vec3<f32>(25.0, 24.0, 20.0);
    }
    return c + vec3<f32>(0.6, 0.55, 0.4) * pow(max(cs, 0.0), 64.0);
}

// Light arriving at a surface point with normal `n`: ambient, sun (unless shadowed) and, at
// night, the ego's two headlights.
fn irradiance(p: vec3<f32>, n: vec3<f32>) -> f32 {
    var e = view.light.x;
    let ns = dot(n, view.sun.xyz);
    if (view.sun.w > 0.0 && ns > 0.0) {
        if (!in_shadow(p + n * 0.01)) {
            e = e + view.sun.w * ns;
        }
    }
    if (view.light.z > 0.0) {
        for (var i = 0u; i < 2u; i = i + 1u) {
            let lamp = select(view.lamp_right.xyz, view.lamp_left.xyz, i == 1u);
            let l = lamp - p;
            let d2 = dot(l, l);
            let ln = l / sqrt(d2);
            let spot = smooth_step(HEADLIGHT_COS_OUTER, HEADLIGHT_COS_INNER, -dot(ln, view.lamp_dir.xyz));
            e = e + view.light.z * spot * max(dot(n, ln), 0.0) / max(d2, 1.0);
        }
    }
    return e;
}

// Exposure, a soft shoulder and display gamma, to 8 bits.
fn to_u8(x: f32, exposure: f32) -> u32 {
    let v = pow(1.0 - exp(-exposure * max(x, 0.0)), 1.0 / 2.2);
    return exact_u32(floor(clamp(v, 0.0, 1.0) * 255.0 + 0.5));
}

// One invocation shades `PIXELS_PER_INVOCATION` pixels of a row: the per-invocation cost is
// large on CPU-backed drivers (lavapipe), and a data-centre GPU still gets hundreds of thousands
// of invocations per batch. A workgroup's row of 8 invocations covers 8 · PIXELS_PER_INVOCATION
// consecutive pixels, interleaved: invocation `l` shades pixels `l`, `l + 8`, `l + 16`, … of
// them, so that the 8 lanes of a SIMD register (lavapipe) shade 8 neighbouring pixels at a time
// and more often agree about skipping an actor's bound.
//
// Workgroup row `i` of a dispatch renders the frame's row of blocks `i · stride mod blocks`
// (`view.schedule`, from `row_block_stride`): lavapipe splits a dispatch's workgroups into one
// contiguous run per thread, and in frame order one thread got the sky and the other the road
// and actors. The CPU reference renders rows in order (rayon balances them).
@compute @workgroup_size(8, 8, 1)
fn render(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
) {
    view = frame_view;
    let block_row = (group.y * view.schedule.x) % view.schedule.y;
    let py = block_row * 8u + local.y;
    if (py >= view.frame.y) {
        return;
    }
    var k = 0u;
    loop {
        let x = (gid.x / 8u) * 8u * PIXELS_PER_INVOCATION + k * 8u + gid.x % 8u;
        if (x < view.frame.x) {
            render_pixel(x, py);
        }
        k = k + 1u;
        continuing {
            break if k >= PIXELS_PER_INVOCATION;
        }
    }
}

// One pixel: the nearest surface, its light and exposure; colour, depth and instance written.
fn render_pixel(px: u32, py: u32) {
    let width = view.frame.x;
    let o = view.origin.xyz;
    let d = ray_dir(px, py);

    // Nearest primitive; every instance the ray passes through is counted once (coverage).
    var best_t = NO_HIT;
    var best = 0u;
    var found = false;
    var counted = 0u;
    let first = view.ranges.x;
    let n_prims = view.ranges.y;
    var i = 0u;
    loop {
        let j = first + i;
        let p = prim_at(j);
        i = i + 1u;
        if (i > n_prims) {
        } else if (p.ids.z == SHAPE_BOUND) {
            if (misses_bound(p, o, d)) {
                i = i + p.ids.w;
            }
        } else {
            let t = hit_prim(p, o, d);
            if (t < NO_HIT) {
                if (p.ids.x != counted) {
                    counted = p.ids.x;
                    atomicAdd(&coverage_out[view.frame.w + p.ids.x], 1u);
                }
                if (t < best_t) {
                    best_t = t;
                    best = j;
                    found = true;
                }
            }
        }
        continuing {
            break if i >= n_prims;
        }
    }
    var t_ground = NO_HIT;
    if (d.z < -1e-6) {
        t_ground = -o.z / d.z;
    }

    // The surface seen (a primitive, the ground, or none: the sky), then its light, once.
    let on_prim = found && best_t <= t_ground;
    let on_ground = !on_prim && t_ground < NO_HIT;
    var t = 0.0;
    var n = vec3<f32>(0.0, 0.0, 1.0);
    var id = 0u;
    var m = 0.0;
    var albedo = vec3<f32>(0.0);
    if (on_prim) {
        let p = prim_at(best);
        t = best_t;
        n = prim_normal(p, o, d, best_t);
        id = p.ids.x;
        m = p.colour.w;
        albedo = p.colour.xyz;
    } else if (on_ground) {
        t = t_ground;
    }
    let x = o + t * d;
    if (on_prim) {
        if (m == 3.0) {
            let band = fract(x.z / 0.25);
            if (band > 0.55 && band < 0.85) {
                albedo = vec3<f32>(0.8, 0.8, 0.8);
            }
        }
    } else if (on_ground) {
        albedo = ground_albedo(x);
    }
    // The sky seen along the ray, or reflected in a window.
    var c = sky(select(d, reflect(d, n), on_prim && m == 1.0));
    if (on_prim || on_ground) {
        let e = irradiance(x, n);
        var glow = vec3<f32>(0.0);
        if (m == 1.0) {
            glow = 0.08 * c;
        } else if (m == 2.0 && view.light.w > 0.5) {
            glow = vec3<f32>(1.8, 0.08, 0.05);
        }
        c = albedo * e + glow;
    }

    let exposure = view.light.y;
    let r = to_u8(c.x, exposure);
    let g = to_u8(c.y, exposure);
    let b = to_u8(c.z, exposure);
    let pixel = view.frame.z + py * width + px;
    colour_out[pixel] = r | (g << 8u) | (b << 16u) | (255u << 24u);
    depth_out[pixel] = t * dot(d, view.axis_z.xyz);
    instance_out[pixel] = id;
}
