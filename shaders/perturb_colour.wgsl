// Colour corruptions of ImageNet-C: brightness (HSV value + delta), saturate (HSV saturation
// ·scale + offset), contrast (around the frame's mean), and the per-frame reductions they and
// others use (frame_stats: channel means and maximum; plane_min_max).
//
// CPU reference: `src/perturb/colour.rs`, with the same names and the same f32 math.
//
// The per-pixel kernels read and write four pixels per access through `quad` where the frame's
// regions are aligned (`rows_aligned`; a four-word access costs lavapipe about 2.5 times a
// word's instructions, not 4), one pixel at a time otherwise; `*_px` is the pixel's math.

// HSV value + delta (skimage's rgb2hsv/hsv2rgb in closed form: with hue and saturation kept,
// RGB scales with the value; black becomes grey).
fn brightness_px(j: Job, c: vec3<f32>) -> vec3<f32> {
    let v = max(max(c.x, c.y), c.z);
    let v2 = clamp(v + j.p0.x, 0.0, 1.0);
    var out = vec3<f32>(v2);
    if (v > 0.0) {
        out = c * (v2 / v);
    }
    return out;
}

// HSV saturation · scale + offset, clipped to [0, 1] (grey pixels have hue 0, red, as in
// skimage).
fn saturate_px(j: Job, c: vec3<f32>) -> vec3<f32> {
    let v = max(max(c.x, c.y), c.z);
    let mn = min(min(c.x, c.y), c.z);
    var s = 0.0;
    if (v > 0.0) {
        s = (v - mn) / v;
    }
    let s2 = clamp(s * j.p0.x + j.p0.y, 0.0, 1.0);
    var out = vec3<f32>(v, v * (1.0 - s2), v * (1.0 - s2));
    if (s > 0.0) {
        out = vec3<f32>(v) - (vec3<f32>(v) - c) * (s2 / s);
    }
    return out;
}

// (x − mean)·factor + mean per channel (m: the frame's channel means).
fn contrast_px(j: Job, m: vec3<f32>, c: vec3<f32>) -> vec3<f32> {
    return (c - m) * j.p0.x + m;
}

// Which map `colour_map` applies: each entry point passes its own constant, which the driver
// folds once the functions are inlined.
const MAP_BRIGHTNESS: u32 = 0u;
const MAP_SATURATE: u32 = 1u;
const MAP_CONTRAST: u32 = 2u;

fn colour_px(j: Job, map: u32, m: vec3<f32>, c: vec3<f32>) -> u32 {
    switch map {
        case MAP_BRIGHTNESS: {
            return pack_rgb(brightness_px(j, c));
        }
        case MAP_SATURATE: {
            return pack_rgb(saturate_px(j, c));
        }
        default: {
            return pack_rgb(contrast_px(j, m, c));
        }
    }
}

// The per-pixel pass shared by the three colour corruptions.
fn colour_map(id: vec3<u32>, map: u32) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    var m = vec3<f32>(0.0);
    if (map == MAP_CONTRAST) {
        m = vec3<f32>(small_f(j, 0u), small_f(j, 1u), small_f(j, 2u));
    }
    if (rows_aligned(j, j.io.x) && rows_aligned(j, j.io.y)) {
        for (var k = 0u; k < PPI; k = k + 4u) {
            let x = quad_x(id.x, k);
            if (x >= j.frame.x) {
                return;
            }
            let at = id.y * j.frame.x + x;
            let q = quad(j, j.io.x, at);
            set_quad(j, j.io.y, at, vec4<u32>(
                colour_px(j, map, m, unpack_rgb(q.x)),
                colour_px(j, map, m, unpack_rgb(q.y)),
                colour_px(j, map, m, unpack_rgb(q.z)),
                colour_px(j, map, m, unpack_rgb(q.w))));
        }
        return;
    }
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let p = id.y * j.frame.x + x;
        set_word(j, j.io.y, p, colour_px(j, map, m, unpack_rgb(word(j, j.io.x, p))));
    }
}

@compute @workgroup_size(64)
fn brightness(@builtin(global_invocation_id) id: vec3<u32>) {
    colour_map(id, MAP_BRIGHTNESS);
}

@compute @workgroup_size(64)
fn saturate(@builtin(global_invocation_id) id: vec3<u32>) {
    colour_map(id, MAP_SATURATE);
}

@compute @workgroup_size(64)
fn contrast(@builtin(global_invocation_id) id: vec3<u32>) {
    colour_map(id, MAP_CONTRAST);
}

var<workgroup> red_hi: array<vec4<u32>, 256>;
var<workgroup> red_lo: array<vec3<u32>, 256>;

// Channel sums as exact integers (per invocation, then high and low 16 bits summed apart),
// the means and the largest channel value into the small words 0–3.
@compute @workgroup_size(256)
fn frame_stats(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let j = jobs[wid.z];
    let n = j.frame.x * j.frame.y;
    var s = vec3<u32>(0u);
    var m = 0u;
    for (var i = lid.x; i < n; i = i + 256u) {
        let v = word(j, j.io.x, i);
        let c = vec3<u32>(v & 255u, (v >> 8u) & 255u, (v >> 16u) & 255u);
        s = s + c;
        m = max(m, max(max(c.x, c.y), c.z));
    }
    red_hi[lid.x] = vec4<u32>(s >> vec3<u32>(16u), m);
    red_lo[lid.x] = s & vec3<u32>(0xffffu);
    workgroupBarrier();
    for (var k = 128u; k > 0u; k = k >> 1u) {
        if (lid.x < k) {
            let a = red_hi[lid.x];
            let b = red_hi[lid.x + k];
            red_hi[lid.x] = vec4<u32>(a.xyz + b.xyz, max(a.w, b.w));
            red_lo[lid.x] = red_lo[lid.x] + red_lo[lid.x + k];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        let hi = red_hi[0];
        let lo = red_lo[0];
        let mean = (vec3<f32>(hi.xyz) * 65536.0 + vec3<f32>(lo)) / f32(n) / 255.0;
        set_word(j, j.aux.y, 0u, bitcast<u32>(mean.x));
        set_word(j, j.aux.y, 1u, bitcast<u32>(mean.y));
        set_word(j, j.aux.y, 2u, bitcast<u32>(mean.z));
        set_word(j, j.aux.y, 3u, bitcast<u32>(f32(hi.w) / 255.0));
    }
}

var<workgroup> red_min: array<f32, 256>;
var<workgroup> red_max: array<f32, 256>;

// Smallest and largest value of an f32 plane into the small words 4 and 5.
@compute @workgroup_size(256)
fn plane_min_max(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let j = jobs[wid.z];
    let n = j.frame.x * j.frame.y;
    var lo = 3.0e38;
    var hi = -3.0e38;
    for (var i = lid.x; i < n; i = i + 256u) {
        let v = load_f(j, j.io.x, i);
        lo = min(lo, v);
        hi = max(hi, v);
    }
    red_min[lid.x] = lo;
    red_max[lid.x] = hi;
    workgroupBarrier();
    for (var k = 128u; k > 0u; k = k >> 1u) {
        if (lid.x < k) {
            red_min[lid.x] = min(red_min[lid.x], red_min[lid.x + k]);
            red_max[lid.x] = max(red_max[lid.x], red_max[lid.x + k]);
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        set_word(j, j.aux.y, 4u, bitcast<u32>(red_min[0]));
        set_word(j, j.aux.y, 5u, bitcast<u32>(red_max[0]));
    }
}
