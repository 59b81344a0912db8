// Weather of ImageNet-C: fog (a plasma fractal added and rescaled), procedural frost, snow
// (zoomed thresholded noise streaked by motion taps, plus a brightened image), spatter (water
// or mud from smoothed thresholded noise). The fractal is value noise in octaves, one lattice
// per diamond-square level.
//
// CPU reference: `src/perturb/weather.rs`, with the same names and the same f32 math.

// Lattice values of every fractal level: item i of level n gets amplitude·uniform(−1, 1) from
// word i mod 4 of block ⌊i/4⌋ of step n, four consecutive items (4g to 4g + 3, of one level:
// levels start on multiples of 4) per invocation.
// Level table per level: first lattice word, lattice columns, spacing, amplitude (f32 bits).
@compute @workgroup_size(64)
fn fractal_lattice(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let g = id.y * ITEMS_ROW + id.x;
    if (g >= j.ints.w) {
        return;
    }
    let idx = 4u * g;
    var level = 0u;
    for (var n = 1u; n < j.ints.x; n = n + 1u) {
        if (idx >= table_u(j, 4u * n)) {
            level = n;
        }
    }
    let local = idx - table_u(j, 4u * level);
    let amp = table_f(j, 4u * level + 3u);
    let w = rand4(j, level, local >> 2u);
    let v = vec4<f32>(
        amp * (2.0 * unit(w.x) - 1.0),
        amp * (2.0 * unit(w.y) - 1.0),
        amp * (2.0 * unit(w.z) - 1.0),
        amp * (2.0 * unit(w.w) - 1.0),
    );
    if (((j.frame.z + j.io.x) & 3u) == 0u) {
        set_quad(j, j.io.x, idx, bitcast<vec4<u32>>(v));
        return;
    }
    store_f(j, j.io.x, idx, v.x);
    store_f(j, j.io.x, idx + 1u, v.y);
    store_f(j, j.io.x, idx + 2u, v.z);
    store_f(j, j.io.x, idx + 3u, v.w);
}

// The fractal at every pixel (offset by ints.zw): Σ over levels of the bilinear lattice value,
// periodic with the map size 2^ints.y (spacings are powers of two: shifts and masks), each
// level's value the cell's left and right edges interpolated down to the row (e, f), then
// e + (f − e)·tx across. An invocation takes PPI consecutive pixels of a row and, per level,
// keeps e and f of the cell it is in, loading and interpolating the next column's two only when
// it enters the next cell (the same values and arithmetic per pixel as one pixel at a time; up
// to 16× fewer loads, and one multiply-add per pixel and level).
@compute @workgroup_size(64)
fn fractal_plane(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let map_mask = (1u << j.ints.y) - 1u;
    let x0 = id.x * PPI;
    if (x0 >= j.frame.x || id.y >= j.frame.y) {
        return;
    }
    // The PPI = 16 pixels' sums as four quads.
    var v0 = vec4<f32>(0.0);
    var v1 = vec4<f32>(0.0);
    var v2 = vec4<f32>(0.0);
    var v3 = vec4<f32>(0.0);
    let gy = id.y + j.ints.w;
    for (var n = 0u; n < j.ints.x; n = n + 1u) {
        let first = table_u(j, 4u * n);
        let nx = table_u(j, 4u * n + 1u);
        let lg = table_u(j, 4u * n + 2u);
        var l: Level;
        l.period_mask = map_mask >> lg;
        l.lg = lg;
        l.inv = 1.0 / f32(1u << lg);
        l.ty = f32(gy & ((1u << lg) - 1u)) * l.inv;
        let iy = gy >> lg;
        l.row0 = first + (iy & l.period_mask) * nx;
        l.row1 = first + ((iy + 1u) & l.period_mask) * nx;
        var c: Cell;
        c.cell = (x0 + j.ints.z) >> lg;
        // The cell's left and right edges interpolated down to this row.
        c.e = level_edge(j, l, c.cell);
        c.f = level_edge(j, l, c.cell + 1u);
        let gx = x0 + j.ints.z;
        v0 = v0 + level_quad(j, l, &c, gx);
        v1 = v1 + level_quad(j, l, &c, gx + 4u);
        v2 = v2 + level_quad(j, l, &c, gx + 8u);
        v3 = v3 + level_quad(j, l, &c, gx + 12u);
    }
    let out = id.y * j.frame.x + x0;
    if (rows_aligned(j, j.io.y) && x0 + PPI <= j.frame.x) {
        // Four stores of four words instead of sixteen of one.
        set_quad(j, j.io.y, out, bitcast<vec4<u32>>(v0));
        set_quad(j, j.io.y, out + 4u, bitcast<vec4<u32>>(v1));
        set_quad(j, j.io.y, out + 8u, bitcast<vec4<u32>>(v2));
        set_quad(j, j.io.y, out + 12u, bitcast<vec4<u32>>(v3));
        return;
    }
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (x0 + k < j.frame.x) {
            store_f(j, j.io.y, out + k, v0[k]);
        }
        if (x0 + 4u + k < j.frame.x) {
            store_f(j, j.io.y, out + 4u + k, v1[k]);
        }
        if (x0 + 8u + k < j.frame.x) {
            store_f(j, j.io.y, out + 8u + k, v2[k]);
        }
        if (x0 + 12u + k < j.frame.x) {
            store_f(j, j.io.y, out + 12u + k, v3[k]);
        }
    }
}

// One fractal level's lattice rows for a pixel row.
struct Level {
    row0: u32,
    row1: u32,
    period_mask: u32,
    lg: u32,
    inv: f32,
    ty: f32,
}

// The lattice cell a run of pixels is in, and its left and right edges down at the row.
struct Cell {
    cell: u32,
    e: f32,
    f: f32,
}

// Lattice column `col` of a level interpolated down to the row.
fn level_edge(j: Job, l: Level, col: u32) -> f32 {
    return mix(load_f(j, j.io.x, l.row0 + (col & l.period_mask)), load_f(j, j.io.x, l.row1 + (col & l.period_mask)), l.ty);
}

// One pixel of a level at global column gx, moving to the next cell when gx enters it.
fn level_pixel(j: Job, l: Level, c: ptr<function, Cell>, gx: u32) -> f32 {
    let ix = gx >> l.lg;
    if (ix != (*c).cell) {
        (*c).cell = ix;
        (*c).e = (*c).f;
        (*c).f = level_edge(j, l, ix + 1u);
    }
    let tx = f32(gx & ((1u << l.lg) - 1u)) * l.inv;
    return (*c).e + ((*c).f - (*c).e) * tx;
}

// Four consecutive pixels of a level from global column gx.
fn level_quad(j: Job, l: Level, c: ptr<function, Cell>, gx: u32) -> vec4<f32> {
    let a = level_pixel(j, l, c, gx);
    let b = level_pixel(j, l, c, gx + 1u);
    let d = level_pixel(j, l, c, gx + 2u);
    let e = level_pixel(j, l, c, gx + 3u);
    return vec4<f32>(a, b, d, e);
}

// The fractal's minimum and maximum (small words 4, 5), read once per invocation: loads from
// the store are not hoisted out of the pixel loops by the compiler (the kernels write to it).
fn fractal_range(j: Job) -> vec2<f32> {
    return vec2<f32>(small_f(j, 4u), small_f(j, 5u));
}

// The fractal normalised to [0, 1] by its range.
fn fractal_unit(j: Job, range: vec2<f32>, p: u32) -> f32 {
    let lo = range.x;
    let hi = range.y;
    if (hi > lo) {
        return (load_f(j, j.io.z, p) - lo) / (hi - lo);
    }
    return 0.0;
}

// (x + c·plasma)·max / (max + c), max the image's largest channel value (small word 3).
@compute @workgroup_size(64)
fn fog_compose(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let m = small_f(j, 3u);
    let c = j.p0.x;
    let range = fractal_range(j);
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let f = fractal_unit(j, range, id.y * j.frame.x + x);
        let v = load_rgb(j, j.io.x, x, id.y) + vec3<f32>(c * f);
        store_rgb(j, j.io.y, x, id.y, v * (m / (m + c)));
    }
}

// Procedural frost: bluish ice whose brightness follows the fractal, with thin bright crystal
// veins along three of its contour levels; blended as image_weight·x + frost_weight·frost.
@compute @workgroup_size(64)
fn frost_compose(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let range = fractal_range(j);
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let t = fractal_unit(j, range, id.y * j.frame.x + x);
        let ridge = 1.0 - abs(2.0 * fract(3.0 * t) - 1.0);
        let r2 = ridge * ridge;
        let crystal = r2 * r2 * r2;
        let base = 0.3 + 0.45 * t;
        let ice = clamp(vec3<f32>(0.8, 0.9, 1.0) * base + vec3<f32>(0.55 * crystal), vec3<f32>(0.0), vec3<f32>(1.0));
        let v = load_rgb(j, j.io.x, x, id.y) * j.p0.x + ice * j.p0.y;
        store_rgb(j, j.io.y, x, id.y, v);
    }
}

// The snow noise lattice (the centre crop of per-pixel N(mean, σ) noise): ints.x columns.
@compute @workgroup_size(64)
fn snow_lattice(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let idx = id.y * ITEMS_ROW + id.x;
    if (idx >= j.ints.w) {
        return;
    }
    let w = rand4(j, 0u, idx);
    store_f(j, j.io.x, idx, j.p0.x + j.p0.y * normal_pair(w.x, w.y).x);
}

// The zoomed lattice (bilinear, pixel i at lattice coordinate i·scale), zero below the
// threshold, clipped to [0, 1] and rounded to 8 bits, as the original's 8-bit layer image.
fn snow_value(j: Job, x: u32, y: u32) -> u32 {
    let nx = j.ints.x;
    let ny = j.ints.y;
    let fy = f32(y) * j.p0.x;
    let fx = f32(x) * j.p0.y;
    let x0 = exact_u32(floor(clamp(fx, 0.0, f32(nx - 1u))));
    let y0 = exact_u32(floor(clamp(fy, 0.0, f32(ny - 1u))));
    let x1 = min(x0 + 1u, nx - 1u);
    let y1 = min(y0 + 1u, ny - 1u);
    let tx = fx - f32(x0);
    let ty = fy - f32(y0);
    let top = mix(load_f(j, j.io.x, y0 * nx + x0), load_f(j, j.io.x, y0 * nx + x1), tx);
    let bottom = mix(load_f(j, j.io.x, y1 * nx + x0), load_f(j, j.io.x, y1 * nx + x1), tx);
    var v = mix(top, bottom, ty);
    if (v < j.p0.z) {
        v = 0.0;
    }
    return exact_u32(floor(clamp(v, 0.0, 1.0) * 255.0 + 0.5));
}

// The snow layer as a plane of bytes: 16 consecutive pixels (4 words) per invocation.
@compute @workgroup_size(64)
fn snow_layer(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    for (var m = 0u; m < PPI; m = m + 4u) {
        let x = id.x * PPI + m;
        if (x >= j.frame.x) {
            return;
        }
        var packed = 0u;
        for (var i = 0u; i < 4u; i = i + 1u) {
            if (x + i < j.frame.x) {
                packed = packed | (snow_value(j, x + i, id.y) << (8u * i));
            }
        }
        set_word(j, j.io.y, id.y * byte_words(j) + x / 4u, packed);
    }
}

// blend·x + (1 − blend)·max(x, 1.5·grey + 0.5), plus the 8-bit snow layer and its 180°
// rotation.
@compute @workgroup_size(64)
fn snow_compose(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let b = j.p0.x;
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let c = load_rgb(j, j.io.x, x, id.y);
        let bright = max(c, vec3<f32>(luma(c) * 1.5 + 0.5));
        let s1 = floor(load_f(j, j.io.z, id.y * j.frame.x + x) * 255.0 + 0.5) / 255.0;
        let q = (j.frame.y - 1u - id.y) * j.frame.x + (j.frame.x - 1u - x);
        let s2 = floor(load_f(j, j.io.z, q) * 255.0 + 0.5) / 255.0;
        store_rgb(j, j.io.y, x, id.y, b * c + (1.0 - b) * bright + vec3<f32>(s1 + s2));
    }
}

// The liquid layer: N(mean, σ) per pixel; pixel s of a group (`group_element`) takes normal s
// of the two pairs of the group's block.
@compute @workgroup_size(64)
fn spatter_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    for (var g = 0u; g < PPI; g = g + 4u) {
        let x = pixel_x(id.x, g);
        if (x >= j.frame.x) {
            return;
        }
        let w = rand4(j, 0u, group_element(j, x, id.y, 1u));
        let n = vec4<f32>(normal_pair(w.x, w.y), normal_pair(w.z, w.w));
        let l = vec4<f32>(j.p0.x) + j.p0.y * n;
        let p = id.y * j.frame.x + x;
        store_f(j, j.io.x, p, l.x);
        if (x + 64u >= j.frame.x) {
            return;
        }
        store_f(j, j.io.x, p + 64u, l.y);
        if (x + 128u >= j.frame.x) {
            return;
        }
        store_f(j, j.io.x, p + 128u, l.z);
        if (x + 192u >= j.frame.x) {
            return;
        }
        store_f(j, j.io.x, p + 192u, l.w);
    }
}

// Mud mask: 1 where the smoothed liquid exceeds the threshold.
@compute @workgroup_size(64)
fn spatter_mask(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let p = id.y * j.frame.x + x;
        store_f(j, j.io.y, p, select(0.0, 1.0, load_f(j, j.io.x, p) > j.p0.x));
    }
}

// Water: the thresholded liquid, normalised by its maximum, shaded from the droplet edges and
// scaled by the strength, adds pale turquoise.
@compute @workgroup_size(64)
fn spatter_water(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let hi = small_f(j, 5u);
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        var l = load_f(j, j.io.z, id.y * j.frame.x + x);
        if (l < j.p0.x || hi <= 0.0) {
            l = 0.0;
        }
        // Shading in place of the original's distance from the droplet edges: 0 at the edge
        // (the threshold), 1 at the layer's maximum.
        let d = clamp((l - j.p0.x) / max(hi - j.p0.x, 1e-6), 0.0, 1.0);
        let m = l / max(hi, 1e-6) * d * j.p0.y;
        let c = load_rgb(j, j.io.x, x, id.y);
        store_rgb(j, j.io.y, x, id.y, c + m * vec3<f32>(175.0 / 255.0, 238.0 / 255.0, 238.0 / 255.0));
    }
}

// Mud: the smoothed mask (zero below 0.8) blends towards mud brown.
@compute @workgroup_size(64)
fn spatter_mud(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        var m = load_f(j, j.io.z, id.y * j.frame.x + x);
        if (m < 0.8) {
            m = 0.0;
        }
        let c = load_rgb(j, j.io.x, x, id.y);
        store_rgb(j, j.io.y, x, id.y, c * (1.0 - m) + m * vec3<f32>(63.0 / 255.0, 42.0 / 255.0, 20.0 / 255.0));
    }
}
