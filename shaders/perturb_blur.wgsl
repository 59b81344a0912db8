// Blurs of ImageNet-C: separable Gaussian (gaussian_blur, glass_blur; also on f32 planes for
// elastic_transform and spatter), defocus (a disk by per-row prefix sums; a large one on a
// frame reduced by an integer factor, then upsampled), motion (one-sided
// Gaussian taps along a line), zoom (mean of centre zooms), and glass blur's parallel local
// shuffle.
//
// CPU reference: `src/perturb/blur.rs`, with the same names and the same f32 math.

// The separable blurs work on bands: an invocation adds each input row (vertical passes) or
// column (horizontal passes) of its reach once to every output row or column of its band that
// it reaches, with the weight of its tap for that output (weights outside the kernel are 0,
// which adds nothing), so each output's sum runs over its taps in order, as the CPU
// reference's. The vertical passes take BAND rows of a quad (four consecutive pixels; four
// words per load where the rows are 16-byte aligned, pixel by pixel otherwise); the horizontal
// passes BAND columns of four consecutive rows, a word per row, with neighbouring invocations
// on neighbouring row quads so that every lane reads the same columns (lavapipe loads a word
// per lane either way: a band reads each input once where a quad of outputs along the row
// read a tap's span once per quad, twice the loads).

// Weight k of the job's table, 0 outside 0..=2r.
fn weight(j: Job, k: i32, r: i32) -> f32 {
    return select(0.0, table_f(j, u32(clamp(k, 0, 2 * r))), k >= 0 && k <= 2 * r);
}

// Four pixels' sums, RGB.
struct Sums3 {
    a0: vec3<f32>,
    a1: vec3<f32>,
    a2: vec3<f32>,
    a3: vec3<f32>,
}

// The rows y0 … y0 + 3 of a column band (the last clamped to the frame): their word offsets.
fn band_rows(j: Job, y0: u32) -> vec4<u32> {
    let last = j.frame.y - 1u;
    return vec4<u32>(y0, min(y0 + 1u, last), min(y0 + 2u, last), min(y0 + 3u, last)) * j.frame.x;
}

// Horizontal taps of an RGBA8 image into the packed 10-bit plane: the horizontal pass is the
// vertical one along the other axis. An invocation takes BAND columns of four consecutive rows
// (neighbouring invocations take neighbouring row quads, so every lane of a SIMD group reads
// the same columns); each input column of the band's reach is read once, a word per row, and
// added to every output column it reaches with the weight of its tap for that column.
@compute @workgroup_size(64)
fn blur_h(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let w = i32(j.frame.x);
    let y0 = 4u * id.x;
    let x0 = id.y * BAND;
    if (y0 >= j.frame.y || x0 >= j.frame.x) {
        return;
    }
    let rows = band_rows(j, y0);
    var b = rgb_band_zero();
    var t = BandWeights(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var i = 0; i < i32(BAND) + 2 * r; i = i + 1) {
        t = band_weights(j, t, i, r);
        let x = u32(edge(i32(x0) - r + i, w, j.ints.y));
        let p0 = unpack4x8unorm(word(j, j.io.x, rows.x + x));
        let p1 = unpack4x8unorm(word(j, j.io.x, rows.y + x));
        let p2 = unpack4x8unorm(word(j, j.io.x, rows.z + x));
        let p3 = unpack4x8unorm(word(j, j.io.x, rows.w + x));
        b = rgb_band_add(b, t, vec4<f32>(p0.x, p1.x, p2.x, p3.x), vec4<f32>(p0.y, p1.y, p2.y, p3.y), vec4<f32>(p0.z, p1.z, p2.z, p3.z));
    }
    let n = min(4u, j.frame.y - y0);
    for (var o = 0u; o < min(BAND, j.frame.x - x0); o = o + 1u) {
        let c0 = band_row(b.red, o);
        let c1 = band_row(b.green, o);
        let c2 = band_row(b.blue, o);
        let x = x0 + o;
        set_word(j, j.io.y, rows.x + x, pack10(vec3<f32>(c0.x, c1.x, c2.x)));
        if (n > 1u) {
            set_word(j, j.io.y, rows.y + x, pack10(vec3<f32>(c0.y, c1.y, c2.y)));
        }
        if (n > 2u) {
            set_word(j, j.io.y, rows.z + x, pack10(vec3<f32>(c0.z, c1.z, c2.z)));
        }
        if (n > 3u) {
            set_word(j, j.io.y, rows.w + x, pack10(vec3<f32>(c0.w, c1.w, c2.w)));
        }
    }
}

// One pixel of blur_v, word by word.
fn blur_v_pixel(j: Job, x: u32, y: i32, r: i32) -> vec3<f32> {
    let h = i32(j.frame.y);
    var a = vec3<f32>(0.0);
    for (var k = 0; k <= 2 * r; k = k + 1) {
        let at = u32(edge(y + k - r, h, j.ints.y)) * j.frame.x;
        a = a + table_f(j, u32(k)) * unpack10(word(j, j.io.x, at + x));
    }
    return a;
}

// The vertical blurs take a band of BAND rows of one quad column per invocation
// (`plan::BAND_ROWS`): each input row of the band's reach is read once and added to every
// output row it reaches, with the weight of its tap for that row (0 outside the kernel, which
// adds nothing), so each output's sum runs over its taps in order, as one pixel at a time.
const BAND: u32 = 8u;

struct Band8 {
    s0: vec4<f32>,
    s1: vec4<f32>,
    s2: vec4<f32>,
    s3: vec4<f32>,
    s4: vec4<f32>,
    s5: vec4<f32>,
    s6: vec4<f32>,
    s7: vec4<f32>,
}

// Vertical taps of one quad column (aligned) of a plane for the BAND rows from y0.
fn plane_v_band(j: Job, region: u32, xq: u32, y0: i32, r: i32) -> Band8 {
    let h = i32(j.frame.y);
    var b = Band8(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var t = BandWeights(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var i = 0; i < i32(BAND) + 2 * r; i = i + 1) {
        t = band_weights(j, t, i, r);
        let v = bitcast<vec4<f32>>(quad(j, region, u32(edge(y0 - r + i, h, j.ints.y)) * j.frame.x + xq));
        b = band_add(b, t, v);
    }
    return b;
}

// The weights of input row (or column) i for the band's eight outputs (w_o: tap i − o, 0
// outside the kernel), slid along from those of i − 1: one table read per input.
struct BandWeights {
    w0: f32,
    w1: f32,
    w2: f32,
    w3: f32,
    w4: f32,
    w5: f32,
    w6: f32,
    w7: f32,
}

fn band_weights(j: Job, prev: BandWeights, i: i32, r: i32) -> BandWeights {
    return BandWeights(weight(j, i, r), prev.w0, prev.w1, prev.w2, prev.w3, prev.w4, prev.w5, prev.w6);
}

// Input row (or column) i (values v of a quad) added to each output o of a band with weight
// t.w_o.
fn band_add(b: Band8, t: BandWeights, v: vec4<f32>) -> Band8 {
    return Band8(b.s0 + t.w0 * v, b.s1 + t.w1 * v, b.s2 + t.w2 * v, b.s3 + t.w3 * v, b.s4 + t.w4 * v, b.s5 + t.w5 * v, b.s6 + t.w6 * v, b.s7 + t.w7 * v);
}

// A band of each of the three colour channels (the RGB passes).
struct RgbBand {
    red: Band8,
    green: Band8,
    blue: Band8,
}

fn rgb_band_zero() -> RgbBand {
    let z = vec4<f32>(0.0);
    let b = Band8(z, z, z, z, z, z, z, z);
    return RgbBand(b, b, b);
}

// An input row (or column) of each channel added to the band with weights t.
fn rgb_band_add(b: RgbBand, t: BandWeights, red: vec4<f32>, green: vec4<f32>, blue: vec4<f32>) -> RgbBand {
    return RgbBand(band_add(b.red, t, red), band_add(b.green, t, green), band_add(b.blue, t, blue));
}

// Row o of a band.
fn band_row(b: Band8, o: u32) -> vec4<f32> {
    switch o {
        case 0u: { return b.s0; }
        case 1u: { return b.s1; }
        case 2u: { return b.s2; }
        case 3u: { return b.s3; }
        case 4u: { return b.s4; }
        case 5u: { return b.s5; }
        case 6u: { return b.s6; }
        default: { return b.s7; }
    }
}

// Vertical taps of the packed plane into an RGBA8 image: BAND rows of a quad column per
// invocation, each channel of the quad's four pixels as one vec4.
@compute @workgroup_size(64)
fn blur_v(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let h = i32(j.frame.y);
    let xq = 4u * id.x;
    let y0 = id.y * BAND;
    if (xq >= j.frame.x || y0 >= j.frame.y) {
        return;
    }
    let rows = min(BAND, j.frame.y - y0);
    if (rows_aligned(j, j.io.x) && rows_aligned(j, j.io.y)) {
        var b = rgb_band_zero();
        var t = BandWeights(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (var i = 0; i < i32(BAND) + 2 * r; i = i + 1) {
            t = band_weights(j, t, i, r);
            let v = quad(j, j.io.x, u32(edge(i32(y0) - r + i, h, j.ints.y)) * j.frame.x + xq);
            b = rgb_band_add(b, t, vec4<f32>(v & vec4<u32>(1023u)) * (1.0 / 1023.0), vec4<f32>((v >> vec4<u32>(10u)) & vec4<u32>(1023u)) * (1.0 / 1023.0), vec4<f32>((v >> vec4<u32>(20u)) & vec4<u32>(1023u)) * (1.0 / 1023.0));
        }
        for (var o = 0u; o < rows; o = o + 1u) {
            let c0 = band_row(b.red, o);
            let c1 = band_row(b.green, o);
            let c2 = band_row(b.blue, o);
            set_quad(j, j.io.y, (y0 + o) * j.frame.x + xq, vec4<u32>(
                pack_rgb(vec3<f32>(c0.x, c1.x, c2.x)),
                pack_rgb(vec3<f32>(c0.y, c1.y, c2.y)),
                pack_rgb(vec3<f32>(c0.z, c1.z, c2.z)),
                pack_rgb(vec3<f32>(c0.w, c1.w, c2.w)),
            ));
        }
        return;
    }
    for (var o = 0u; o < rows; o = o + 1u) {
        let y = y0 + o;
        for (var i = 0u; i < 4u; i = i + 1u) {
            let x = xq + i;
            if (x < j.frame.x) {
                store_rgb(j, j.io.y, x, y, blur_v_pixel(j, x, i32(y), r));
            }
        }
    }
}

// Horizontal taps of one plane (at `region`) for the BAND columns from x0 of the four rows
// `rows` (as `blur_h`).
fn plane_h_band(j: Job, region: u32, rows: vec4<u32>, x0: i32, r: i32) -> Band8 {
    let w = i32(j.frame.x);
    let z = vec4<f32>(0.0);
    var b = Band8(z, z, z, z, z, z, z, z);
    var t = BandWeights(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var i = 0; i < i32(BAND) + 2 * r; i = i + 1) {
        t = band_weights(j, t, i, r);
        let x = u32(edge(x0 - r + i, w, j.ints.y));
        let v = vec4<f32>(load_f(j, region, rows.x + x), load_f(j, region, rows.y + x), load_f(j, region, rows.z + x), load_f(j, region, rows.w + x));
        b = band_add(b, t, v);
    }
    return b;
}

// A band's outputs (scaled by p0.x) into the plane at `region`: n of the four rows.
fn plane_h_store(j: Job, region: u32, rows: vec4<u32>, n: u32, x0: u32, b: Band8) {
    for (var o = 0u; o < min(BAND, j.frame.x - x0); o = o + 1u) {
        let c = band_row(b, o) * j.p0.x;
        let x = x0 + o;
        store_f(j, region, rows.x + x, c.x);
        if (n > 1u) {
            store_f(j, region, rows.y + x, c.y);
        }
        if (n > 2u) {
            store_f(j, region, rows.z + x, c.z);
        }
        if (n > 3u) {
            store_f(j, region, rows.w + x, c.w);
        }
    }
}

// Horizontal taps of one or two f32 planes (io.x → io.y, io.z → io.w), scaled by p0.x: BAND
// columns of four consecutive rows per invocation, as `blur_h`.
@compute @workgroup_size(64)
fn plane_blur_h(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let y0 = 4u * id.x;
    let x0 = id.y * BAND;
    if (y0 >= j.frame.y || x0 >= j.frame.x) {
        return;
    }
    let rows = band_rows(j, y0);
    let n = min(4u, j.frame.y - y0);
    plane_h_store(j, j.io.y, rows, n, x0, plane_h_band(j, j.io.x, rows, i32(x0), r));
    if (j.ints.z > 1u) {
        plane_h_store(j, j.io.w, rows, n, x0, plane_h_band(j, j.io.z, rows, i32(x0), r));
    }
}

// One pixel of plane_blur_v (plane at `region`), word by word.
fn plane_v_pixel(j: Job, region: u32, x: u32, y: i32, r: i32) -> f32 {
    let h = i32(j.frame.y);
    var a = 0.0;
    for (var k = 0; k <= 2 * r; k = k + 1) {
        a = a + table_f(j, u32(k)) * load_f(j, region, u32(edge(y + k - r, h, j.ints.y)) * j.frame.x + x);
    }
    return a;
}

// Vertical taps of one or two f32 planes, scaled by p0.x: BAND rows of a quad column per
// invocation.
@compute @workgroup_size(64)
fn plane_blur_v(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let xq = 4u * id.x;
    let y0 = id.y * BAND;
    if (xq >= j.frame.x || y0 >= j.frame.y) {
        return;
    }
    let rows = min(BAND, j.frame.y - y0);
    let two = j.ints.z > 1u;
    let inside = rows_aligned(j, j.io.x) && rows_aligned(j, j.io.y) && (!two || (rows_aligned(j, j.io.z) && rows_aligned(j, j.io.w)));
    if (inside) {
        let a = plane_v_band(j, j.io.x, xq, i32(y0), r);
        for (var o = 0u; o < rows; o = o + 1u) {
            set_quad(j, j.io.y, (y0 + o) * j.frame.x + xq, bitcast<vec4<u32>>(band_row(a, o) * j.p0.x));
        }
        if (two) {
            let b = plane_v_band(j, j.io.z, xq, i32(y0), r);
            for (var o = 0u; o < rows; o = o + 1u) {
                set_quad(j, j.io.w, (y0 + o) * j.frame.x + xq, bitcast<vec4<u32>>(band_row(b, o) * j.p0.x));
            }
        }
        return;
    }
    for (var o = 0u; o < rows; o = o + 1u) {
        let y = y0 + o;
        let row = y * j.frame.x;
        for (var i = 0u; i < 4u; i = i + 1u) {
            let x = xq + i;
            if (x < j.frame.x) {
                store_f(j, j.io.y, row + x, plane_v_pixel(j, j.io.x, x, i32(y), r) * j.p0.x);
                if (two) {
                    store_f(j, j.io.w, row + x, plane_v_pixel(j, j.io.z, x, i32(y), r) * j.p0.x);
                }
            }
        }
    }
}

// Inclusive prefix sums of each channel along a row, into three consecutive f32 planes.
@compute @workgroup_size(64)
fn row_prefix(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let y = id.x;
    if (y >= j.frame.y) {
        return;
    }
    let plane = j.frame.w;
    var s = vec3<f32>(0.0);
    for (var x = 0u; x < j.frame.x; x = x + 1u) {
        s = s + load_rgb(j, j.io.x, x, y);
        let p = y * j.frame.x + x;
        store_f(j, j.io.y, p, s.x);
        store_f(j, j.io.y + plane, p, s.y);
        store_f(j, j.io.y + 2u * plane, p, s.z);
    }
}

fn prefix3(j: Job, row: u32, i: i32) -> vec3<f32> {
    if (i < 0) {
        return vec3<f32>(0.0);
    }
    let p = row * j.frame.x + u32(i);
    let plane = j.frame.w;
    return vec3<f32>(load_f(j, j.io.x, p), load_f(j, j.io.x + plane, p), load_f(j, j.io.x + 2u * plane, p));
}

// Sum of a row's pixels lo..=hi with reflect-101 beyond the edges (|overhang| < width).
fn span_sum(j: Job, row: u32, lo: i32, hi: i32) -> vec3<f32> {
    let w = i32(j.frame.x);
    let a = max(lo, 0);
    let b = min(hi, w - 1);
    var s = prefix3(j, row, b) - prefix3(j, row, a - 1);
    if (lo < 0) {
        s = s + prefix3(j, row, -lo) - prefix3(j, row, 0);
    }
    if (hi > w - 1) {
        s = s + prefix3(j, row, w - 2) - prefix3(j, row, 2 * w - 3 - hi);
    }
    return s;
}

// A disk of radius r: per row dy a full span of half-width n plus the two end pixels at
// fractional weight (anti-aliasing), normalised by the disk's total weight. An invocation
// takes PPI consecutive pixels of a row and slides along them: per disk row, the span of its
// first pixel from the prefix sums, then for each next pixel one pixel enters the span and one
// leaves it (2 texel loads per disk row and pixel instead of 8). ints.y = 1: the result as
// packed 10-bit words (for `defocus_up`), else RGBA8.
@compute @workgroup_size(64)
fn defocus_disk(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    let x0 = i32(id.x * PPI);
    if (x0 >= w || id.y >= j.frame.y) {
        return;
    }
    // The PPI = 16 pixels' sums, four per Sums3.
    let z = vec3<f32>(0.0);
    var a0 = Sums3(z, z, z, z);
    var a1 = a0;
    var a2 = a0;
    var a3 = a0;
    for (var dy = -r; dy <= r; dy = dy + 1) {
        var d: DiskRow;
        d.row = u32(edge(i32(id.y) + dy, h, 2u));
        d.n = i32(table_u(j, u32(2 * (dy + r))));
        d.frac = table_f(j, u32(2 * (dy + r) + 1));
        d.span = span_sum(j, d.row, x0 - d.n, x0 + d.n);
        d.left = load_rgb(j, j.io.z, u32(edge(x0 - d.n - 1, w, 2u)), d.row);
        d.right = load_rgb(j, j.io.z, u32(edge(x0 + d.n + 1, w, 2u)), d.row);
        a0 = disk_quad(j, a0, &d, x0);
        a1 = disk_quad(j, a1, &d, x0 + 4);
        a2 = disk_quad(j, a2, &d, x0 + 8);
        a3 = disk_quad(j, a3, &d, x0 + 12);
    }
    disk_store(j, a0, u32(x0), id.y);
    disk_store(j, a1, u32(x0) + 4u, id.y);
    disk_store(j, a2, u32(x0) + 8u, id.y);
    disk_store(j, a3, u32(x0) + 12u, id.y);
}

// One disk row's sliding span at a pixel: the span's sum, the pixels just outside it.
struct DiskRow {
    row: u32,
    n: i32,
    frac: f32,
    span: vec3<f32>,
    left: vec3<f32>,
    right: vec3<f32>,
}

// A disk row added to the sums of the four pixels from x, sliding the span along.
fn disk_quad(j: Job, s: Sums3, d: ptr<function, DiskRow>, x: i32) -> Sums3 {
    var out = s;
    out.a0 = disk_step(j, d, x, out.a0);
    out.a1 = disk_step(j, d, x + 1, out.a1);
    out.a2 = disk_step(j, d, x + 2, out.a2);
    out.a3 = disk_step(j, d, x + 3, out.a3);
    return out;
}

// A disk row's share at pixel x added to its sum acc; then one pixel enters the span and one
// leaves it.
fn disk_step(j: Job, d: ptr<function, DiskRow>, x: i32, acc: vec3<f32>) -> vec3<f32> {
    let w = i32(j.frame.x);
    let share = acc + (*d).span + (*d).frac * ((*d).left + (*d).right);
    let leaving = load_rgb(j, j.io.z, u32(edge(x - (*d).n, w, 2u)), (*d).row);
    let end = load_rgb(j, j.io.z, u32(edge(x + (*d).n + 2, w, 2u)), (*d).row);
    (*d).span = (*d).span + (*d).right - leaving;
    (*d).left = leaving;
    (*d).right = end;
    return share;
}

// Four pixels' disks from x, scaled by p0.x, as packed 10-bit words (ints.y = 1) or RGBA8.
fn disk_store(j: Job, s: Sums3, x: u32, y: u32) {
    disk_store_pixel(j, s.a0, x, y);
    disk_store_pixel(j, s.a1, x + 1u, y);
    disk_store_pixel(j, s.a2, x + 2u, y);
    disk_store_pixel(j, s.a3, x + 3u, y);
}

fn disk_store_pixel(j: Job, c: vec3<f32>, x: u32, y: u32) {
    if (x < j.frame.x) {
        if (j.ints.y == 1u) {
            set_word(j, j.io.y, y * j.frame.x + x, pack10(c * j.p0.x));
        } else {
            store_rgb(j, j.io.y, x, y, c * j.p0.x);
        }
    }
}

// The mean of each s × s cell of the source image (ints.x = s; ints.y × ints.z its size; a
// cell past its edge repeats the last column or row), into the job's (smaller) RGBA8 image:
// the defocus disk of a large radius runs on it.
@compute @workgroup_size(64)
fn defocus_down(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let s = j.ints.x;
    if (id.y >= j.frame.y) {
        return;
    }
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        var acc = vec3<f32>(0.0);
        for (var dy = 0u; dy < s; dy = dy + 1u) {
            let row = min(id.y * s + dy, j.ints.z - 1u) * j.ints.y;
            for (var dx = 0u; dx < s; dx = dx + 1u) {
                let xx = min(x * s + dx, j.ints.y - 1u);
                acc = acc + unpack4x8unorm(word(j, j.io.x, row + xx)).rgb;
            }
        }
        store_rgb(j, j.io.y, x, id.y, acc * j.p0.x);
    }
}

// Bilinear upsampling of a packed 10-bit image of ints.y × ints.z cells, each s × s pixels
// of the job's frame (p0.x = 1/s), into the job's RGBA8 image.
@compute @workgroup_size(64)
fn defocus_up(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    let ws = j.ints.y;
    let cy = cell_pair(id.y, j.p0.x, j.ints.z);
    let row0 = exact_u32(cy.x) * ws;
    let row1 = exact_u32(cy.y) * ws;
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let cx = cell_pair(x, j.p0.x, ws);
        let c0 = exact_u32(cx.x);
        let c1 = exact_u32(cx.y);
        let top = mix(unpack10(word(j, j.io.x, row0 + c0)), unpack10(word(j, j.io.x, row0 + c1)), cx.z);
        let bottom = mix(unpack10(word(j, j.io.x, row1 + c0)), unpack10(word(j, j.io.x, row1 + c1)), cx.z);
        store_rgb(j, j.io.y, x, id.y, mix(top, bottom, cy.z));
    }
}

// elastic_transform's displacement field (two f32 planes) reduced to the means of cells of
// ints.x × ints.y pixels (the job's frame is the reduced one; ints.zw the full size; p0.x =
// 1/(sx·sy)): io.xy the full planes, io.zw the reduced ones.
@compute @workgroup_size(64)
fn elastic_down(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let sx = j.ints.x;
    let sy = j.ints.y;
    if (id.y >= j.frame.y) {
        return;
    }
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        var a = 0.0;
        var b = 0.0;
        for (var dy = 0u; dy < sy; dy = dy + 1u) {
            let row = min(id.y * sy + dy, j.ints.w - 1u) * j.ints.z;
            for (var dx = 0u; dx < sx; dx = dx + 1u) {
                let xx = min(x * sx + dx, j.ints.z - 1u);
                a = a + load_f(j, j.io.x, row + xx);
                b = b + load_f(j, j.io.y, row + xx);
            }
        }
        let p = id.y * j.frame.x + x;
        store_f(j, j.io.z, p, a * j.p0.x);
        store_f(j, j.io.w, p, b * j.p0.x);
    }
}

// A tap's shift (dx, dy) from its packed word (table word `at`).
fn motion_shift(j: Job, at: u32) -> vec2<i32> {
    let shift = table_u(j, at);
    return vec2<i32>(bitcast<i32>(shift << 16u) >> 16u, bitcast<i32>(shift) >> 16u);
}

// Tap (or pair of taps) k of a table of three words per tap: shift, the plane it reads, weight.
struct PlaneTap {
    d: vec2<i32>,
    plane: u32,
    t: f32,
}

fn plane_tap(j: Job, k: u32) -> PlaneTap {
    return PlaneTap(motion_shift(j, 3u * k), table_u(j, 3u * k + 1u), table_f(j, 3u * k + 2u));
}

// Tap k's shift.
fn motion_tap(j: Job, k: u32) -> vec2<i32> {
    return motion_shift(j, 2u * k);
}

// The four pixels xs of row y (the first inside the row) stored where they lie inside it.
fn store_rgb4(j: Job, xs: vec4<i32>, y: u32, s: Sums3) {
    let w = i32(j.frame.x);
    store_rgb(j, j.io.y, u32(xs.x), y, s.a0);
    if (xs.y < w) {
        store_rgb(j, j.io.y, u32(xs.y), y, s.a1);
    }
    if (xs.z < w) {
        store_rgb(j, j.io.y, u32(xs.z), y, s.a2);
    }
    if (xs.w < w) {
        store_rgb(j, j.io.y, u32(xs.w), y, s.a3);
    }
}

// Σ weight·image[y − dy, x − dx] over the taps (shifts clamp at the edges, as the original's
// `shift`); a tap is its shift (dx in the low, dy in the high 16 bits) and its weight. Four
// pixels of the invocation's row (x, x + 64, x + 128, x + 192) at a time, so that each tap is
// read from the table once for the four.
@compute @workgroup_size(64)
fn motion_blur(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    if (id.y >= j.frame.y) {
        return;
    }
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xs = vec4<i32>(i32(x)) + vec4<i32>(0, 64, 128, 192);
        var a0 = vec3<f32>(0.0);
        var a1 = vec3<f32>(0.0);
        var a2 = vec3<f32>(0.0);
        var a3 = vec3<f32>(0.0);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let d = motion_tap(j, k);
            let t = table_f(j, 2u * k + 1u);
            let row = u32(clamp(i32(id.y) - d.y, 0, h - 1)) * j.frame.x;
            let xx = vec4<u32>(clamp(xs - vec4<i32>(d.x), vec4<i32>(0), vec4<i32>(w - 1)));
            a0 = a0 + t * unpack4x8unorm(word(j, j.io.x, row + xx.x)).rgb;
            a1 = a1 + t * unpack4x8unorm(word(j, j.io.x, row + xx.y)).rgb;
            a2 = a2 + t * unpack4x8unorm(word(j, j.io.x, row + xx.z)).rgb;
            a3 = a3 + t * unpack4x8unorm(word(j, j.io.x, row + xx.w)).rgb;
        }
        store_rgb4(j, xs, id.y, Sums3(a0, a1, a2, a3));
    }
}

// The RGB bytes of an RGBA8 word in three 10-bit fields (room for the sum of two pixels).
fn spread10(v: u32) -> u32 {
    return (v & 0xffu) | ((v & 0xff00u) << 2u) | ((v & 0xff0000u) << 4u);
}

// The three fields of a pair sum, as numbers (0–510).
fn sum10(s: u32) -> vec3<f32> {
    return vec3<f32>(f32(s & 1023u), f32((s >> 10u) & 1023u), f32(s >> 20u));
}

// Pair sums for `motion_blur_pairs`: each pixel plus its neighbour at (ex, 0), (0, ey) and
// (ex, ey) (ints.x, ints.y: ±1; edges clamped as the taps' shifts) into io.yzw, and plus itself
// into aux.x (for two taps on one pixel), as planes of 10-bit fields.
@compute @workgroup_size(64)
fn motion_pair_sums(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = i32(j.frame.x);
    if (id.y >= j.frame.y) {
        return;
    }
    let ex = bitcast<i32>(j.ints.x);
    let row = id.y * j.frame.x;
    let row_e = u32(clamp(i32(id.y) + bitcast<i32>(j.ints.y), 0, i32(j.frame.y) - 1)) * j.frame.x;
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xe = u32(clamp(i32(x) + ex, 0, w - 1));
        let a = spread10(word(j, j.io.x, row + x));
        set_word(j, j.io.y, row + x, a + spread10(word(j, j.io.x, row + xe)));
        set_word(j, j.io.z, row + x, a + spread10(word(j, j.io.x, row_e + x)));
        set_word(j, j.io.w, row + x, a + spread10(word(j, j.io.x, row_e + xe)));
        set_word(j, j.aux.x, row + x, a + a);
    }
}

// `motion_blur` with its taps in pairs: per pair the first tap's shift, the word offset of the
// pair-sum plane of the step to the second, and the pair's mean weight / 255.
@compute @workgroup_size(64)
fn motion_blur_pairs(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    if (id.y >= j.frame.y) {
        return;
    }
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xs = vec4<i32>(i32(x)) + vec4<i32>(0, 64, 128, 192);
        var a0 = vec3<f32>(0.0);
        var a1 = vec3<f32>(0.0);
        var a2 = vec3<f32>(0.0);
        var a3 = vec3<f32>(0.0);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let tap = plane_tap(j, k);
            let d = tap.d;
            let plane = tap.plane;
            let t = tap.t;
            let row = u32(clamp(i32(id.y) - d.y, 0, h - 1)) * j.frame.x;
            let xx = vec4<u32>(clamp(xs - vec4<i32>(d.x), vec4<i32>(0), vec4<i32>(w - 1)));
            a0 = a0 + t * sum10(word(j, plane, row + xx.x));
            a1 = a1 + t * sum10(word(j, plane, row + xx.y));
            a2 = a2 + t * sum10(word(j, plane, row + xx.z));
            a3 = a3 + t * sum10(word(j, plane, row + xx.w));
        }
        store_rgb4(j, xs, id.y, Sums3(a0, a1, a2, a3));
    }
}

// Bytes 4·sh.. of the two words a, b as one word (sh in 0..4, the same for every lane).
fn funnel(a: u32, b: u32, sh: u32) -> u32 {
    return select((a >> (8u * sh)) | (b << (32u - 8u * sh)), a, sh == 0u);
}

// The bytes x + ex … x + 3 + ex of a row of bytes (x a multiple of 4; clamped to 0..w).
fn shifted_bytes(j: Job, plane: u32, row: u32, x: i32, ex: i32, w: i32) -> u32 {
    let first = x + ex;
    if (first >= 0 && first + 3 < w) {
        let at = row + u32(first >> 2u);
        return funnel(word(j, plane, at), word(j, plane, at + 1u), u32(first & 3));
    }
    var v = 0u;
    for (var i = 0; i < 4; i = i + 1) {
        let xx = u32(clamp(first + i, 0, w - 1));
        v = v | (((word(j, plane, row + xx / 4u) >> (8u * (xx & 3u))) & 255u) << (8u * u32(i)));
    }
    return v;
}

// The means of four pairs of bytes, rounded half to even.
fn byte_means(a: u32, b: u32) -> u32 {
    let h = (a & b) + (((a ^ b) >> 1u) & 0x7f7f7f7fu);
    return h + ((a ^ b) & h & 0x01010101u);
}

// Pair means for `snow_motion`: each byte of the snow layer and its neighbour at (ex, 0),
// (0, ey) and (ex, ey) (ints.x, ints.y: ±1; edges clamped), into three byte planes ints.z words
// apart from io.y. 16 pixels (4 words) per invocation.
@compute @workgroup_size(64)
fn snow_pair_means(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    let w = i32(j.frame.x);
    let bw = byte_words(j);
    let ex = bitcast<i32>(j.ints.x);
    let row = id.y * bw;
    let row_e = u32(clamp(i32(id.y) + bitcast<i32>(j.ints.y), 0, i32(j.frame.y) - 1)) * bw;
    for (var m = 0u; m < PPI; m = m + 4u) {
        let x = id.x * PPI + m;
        if (x >= j.frame.x) {
            return;
        }
        let at = x / 4u;
        let a = word(j, j.io.x, row + at);
        set_word(j, j.io.y, row + at, byte_means(a, shifted_bytes(j, j.io.x, row, i32(x), ex, w)));
        set_word(j, j.io.y + j.ints.z, row + at, byte_means(a, word(j, j.io.x, row_e + at)));
        set_word(j, j.io.y + 2u * j.ints.z, row + at, byte_means(a, shifted_bytes(j, j.io.x, row_e, i32(x), ex, w)));
    }
}

// The motion taps on snow's plane of bytes (`snow_layer`) or on its planes of pair means
// (`snow_pair_means`), into an f32 plane; per tap (or pair of taps) the table holds the shift,
// the word offset of the plane it reads and the weight; ints.y is the largest |dx|. An invocation takes 16 consecutive pixels (4 words of bytes) of a row: where
// every tap of them lies inside the row, a tap reads the 16 source bytes in five words and
// shifts them into place; elsewhere byte by byte (clamped at the edges, as `motion_blur`).
@compute @workgroup_size(64)
fn snow_motion(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    let x0 = i32(id.x * PPI);
    if (id.y >= j.frame.y || x0 >= w) {
        return;
    }
    let reach = i32(j.ints.y);
    let bw = byte_words(j);
    let out = id.y * j.frame.x + u32(x0);
    if (x0 - reach >= 0 && x0 + reach + 20 <= w) {
        var a0 = vec4<f32>(0.0);
        var a1 = vec4<f32>(0.0);
        var a2 = vec4<f32>(0.0);
        var a3 = vec4<f32>(0.0);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let tap = plane_tap(j, k);
            let d = tap.d;
            let plane = tap.plane;
            let t = tap.t;
            let first = x0 - d.x;
            let at = u32(clamp(i32(id.y) - d.y, 0, h - 1)) * bw + u32(first >> 2u);
            let sh = u32(first & 3);
            let w0 = word(j, plane, at);
            let w1 = word(j, plane, at + 1u);
            let w2 = word(j, plane, at + 2u);
            let w3 = word(j, plane, at + 3u);
            let w4 = word(j, plane, at + 4u);
            a0 = a0 + t * unpack4x8unorm(funnel(w0, w1, sh));
            a1 = a1 + t * unpack4x8unorm(funnel(w1, w2, sh));
            a2 = a2 + t * unpack4x8unorm(funnel(w2, w3, sh));
            a3 = a3 + t * unpack4x8unorm(funnel(w3, w4, sh));
        }
        if (rows_aligned(j, j.io.y)) {
            set_quad(j, j.io.y, out, bitcast<vec4<u32>>(a0));
            set_quad(j, j.io.y, out + 4u, bitcast<vec4<u32>>(a1));
            set_quad(j, j.io.y, out + 8u, bitcast<vec4<u32>>(a2));
            set_quad(j, j.io.y, out + 12u, bitcast<vec4<u32>>(a3));
        } else {
            for (var i = 0u; i < 4u; i = i + 1u) {
                store_f(j, j.io.y, out + i, a0[i]);
                store_f(j, j.io.y, out + 4u + i, a1[i]);
                store_f(j, j.io.y, out + 8u + i, a2[i]);
                store_f(j, j.io.y, out + 12u + i, a3[i]);
            }
        }
        return;
    }
    for (var m = 0; m < i32(PPI); m = m + 4) {
        let xs = vec4<i32>(x0 + m) + vec4<i32>(0, 1, 2, 3);
        if (xs.x >= w) {
            return;
        }
        var a = vec4<f32>(0.0);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let tap = plane_tap(j, k);
            let d = tap.d;
            let plane = tap.plane;
            let t = tap.t;
            let xx = vec4<u32>(clamp(xs - vec4<i32>(d.x), vec4<i32>(0), vec4<i32>(w - 1)));
            let row = u32(clamp(i32(id.y) - d.y, 0, h - 1)) * bw;
            let at = vec4<u32>(row) + xx / 4u;
            let sh = 8u * (xx & vec4<u32>(3u));
            let b = vec4<u32>(
                word(j, plane, at.x) >> sh.x,
                word(j, plane, at.y) >> sh.y,
                word(j, plane, at.z) >> sh.z,
                word(j, plane, at.w) >> sh.w,
            ) & vec4<u32>(255u);
            a = a + t * unpack4x8unorm(b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u));
        }
        for (var i = 0; i < 4; i = i + 1) {
            if (xs[i] < w) {
                store_f(j, j.io.y, out + u32(m + i), a[i]);
            }
        }
    }
}

// Zoom k's sample row of output row y (scipy's `zoom`, corners aligned): the input row above it
// and the weight of the one below.
struct ZoomRow {
    r: u32,
    t: f32,
}

fn zoom_row(j: Job, k: u32, y: u32) -> ZoomRow {
    let fy = table_f(j, 4u * k) + f32(y) * table_f(j, 4u * k + 1u);
    let r = exact_u32(floor(clamp(fy, 0.0, f32(j.frame.y - 1u))));
    return ZoomRow(r, fy - f32(r));
}

// Input row r blended along x between columns x0 and x1 with weight tx (a bilinear sample's
// first step, as `blur::bilinear_rgb`).
fn zoom_h(j: Job, x0: u32, x1: u32, tx: f32, r: u32) -> vec3<f32> {
    return mix(load_rgb(j, j.io.x, x0, r), load_rgb(j, j.io.x, x1, r), tx);
}

// The bilinear sample at column fx of sample row z (the rows r and r + 1, clamped).
fn zoom_sample(j: Job, fx: f32, z: ZoomRow) -> vec3<f32> {
    let x0 = exact_u32(floor(clamp(fx, 0.0, f32(j.frame.x - 1u))));
    let x1 = min(x0 + 1u, j.frame.x - 1u);
    let tx = fx - f32(x0);
    return mix(zoom_h(j, x0, x1, tx, z.r), zoom_h(j, x0, x1, tx, min(z.r + 1u, j.frame.y - 1u)), z.t);
}

// (x + Σ clipped_zoom(x, z)) / (zooms + 1); per zoom the table holds the crop's top and the
// output-to-input scale along y and x. An invocation takes four consecutive rows of a column.
// Per zoom, where their input rows step by 0 or 1, 1 or 2 and 2 or 3 from the first's (scales
// from 2/3 to 1: the zooms of ImageNet-C), it blends each of the five input rows from the
// first along x once and each output row between the two of them it falls between (the same
// blends as a bilinear sample); otherwise it samples each output row on its own (`zoom_sample`).
@compute @workgroup_size(64)
fn zoom_blur(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let x = id.x;
    let y0 = 4u * id.y;
    if (x >= j.frame.x || y0 >= j.frame.y) {
        return;
    }
    let n = min(4u, j.frame.y - y0);
    let last = j.frame.y - 1u;
    var a0 = load_rgb(j, j.io.x, x, y0);
    var a1 = load_rgb(j, j.io.x, x, min(y0 + 1u, last));
    var a2 = load_rgb(j, j.io.x, x, min(y0 + 2u, last));
    var a3 = load_rgb(j, j.io.x, x, min(y0 + 3u, last));
    for (var k = 0u; k < j.ints.x; k = k + 1u) {
        let fx = table_f(j, 4u * k + 2u) + f32(x) * table_f(j, 4u * k + 3u);
        let z0 = zoom_row(j, k, y0);
        let z1 = zoom_row(j, k, y0 + 1u);
        let z2 = zoom_row(j, k, y0 + 2u);
        let z3 = zoom_row(j, k, y0 + 3u);
        let d1 = z1.r - z0.r;
        let d2 = z2.r - z0.r;
        let d3 = z3.r - z0.r;
        if (d1 <= 1u && d2 - 1u <= 1u && d3 - 2u <= 1u) {
            let x0 = exact_u32(floor(clamp(fx, 0.0, f32(j.frame.x - 1u))));
            let x1 = min(x0 + 1u, j.frame.x - 1u);
            let tx = fx - f32(x0);
            let h0 = zoom_h(j, x0, x1, tx, z0.r);
            let h1 = zoom_h(j, x0, x1, tx, min(z0.r + 1u, last));
            let h2 = zoom_h(j, x0, x1, tx, min(z0.r + 2u, last));
            let h3 = zoom_h(j, x0, x1, tx, min(z0.r + 3u, last));
            let h4 = zoom_h(j, x0, x1, tx, min(z0.r + 4u, last));
            a0 = a0 + mix(h0, h1, z0.t);
            a1 = a1 + mix(select(h0, h1, d1 == 1u), select(h1, h2, d1 == 1u), z1.t);
            a2 = a2 + mix(select(h1, h2, d2 == 2u), select(h2, h3, d2 == 2u), z2.t);
            a3 = a3 + mix(select(h2, h3, d3 == 3u), select(h3, h4, d3 == 3u), z3.t);
        } else {
            a0 = a0 + zoom_sample(j, fx, z0);
            a1 = a1 + zoom_sample(j, fx, z1);
            a2 = a2 + zoom_sample(j, fx, z2);
            a3 = a3 + zoom_sample(j, fx, z3);
        }
    }
    let m = 1.0 / f32(j.ints.x + 1u);
    store_rgb(j, j.io.y, x, y0, a0 * m);
    if (n > 1u) {
        store_rgb(j, j.io.y, x, y0 + 1u, a1 * m);
    }
    if (n > 2u) {
        store_rgb(j, j.io.y, x, y0 + 2u, a2 * m);
    }
    if (n > 3u) {
        store_rgb(j, j.io.y, x, y0 + 3u, a3 * m);
    }
}

// Glass blur's swap bits of the pairs led by four pixels `leader` at a step with host-drawn
// `key`: the low bit of Wellons' lowbias32 hash of leader ^ key, as `blur::glass_swap`.
fn glass_swap4(leader: vec4<u32>, key: u32) -> vec4<bool> {
    var x = leader ^ vec4<u32>(key);
    x = x ^ (x >> vec4<u32>(16u));
    x = x * 0x7feb352du;
    x = x ^ (x >> vec4<u32>(15u));
    x = x * 0x846ca68bu;
    x = x ^ (x >> vec4<u32>(16u));
    return (x & vec4<u32>(1u)) == vec4<u32>(1u);
}

// ⌊a / k⌋ of four a < 2³¹ for k ≥ 1 without an integer division (which AVX2 lacks): a float
// estimate through the reciprocal `inv_k`, corrected by one step either way.
fn glass_div4(a: vec4<u32>, k: u32, inv_k: f32) -> vec4<u32> {
    let ai = bitcast<vec4<i32>>(a);
    let v = floor((vec4<f32>(ai) + 0.5) * inv_k) + 12582912.0;
    var t = bitcast<vec4<i32>>(v) - vec4<i32>(0x4b400000);
    let r = ai - t * bitcast<i32>(k);
    t = t + select(vec4<i32>(0), vec4<i32>(1), r >= vec4<i32>(bitcast<i32>(k))) - select(vec4<i32>(0), vec4<i32>(1), r < vec4<i32>(0));
    return bitcast<vec4<u32>>(t);
}

// One step of glass blur's shuffle traced backwards along one axis, for four pixels at once
// (four independent chains of dependent integer steps keep the core busy where one leaves it
// waiting on each multiply): where coordinate c of each came from. Pixel c pairs with c + k
// when ⌊(c + o)/k⌋ is even (n pixels along the axis); the pair swapped when the swap bit of
// its leader (pixel `first` + the leader's coordinate times `stride`) is set. Table words
// from `at`: key, k, o, 1/k.
fn glass_trace4(j: Job, c: vec4<u32>, n: u32, at: u32, first: vec4<u32>, stride: u32) -> vec4<u32> {
    let k = table_u(j, at + 1u);
    let t = glass_div4(c + vec4<u32>(table_u(j, at + 2u)), k, table_f(j, at + 3u));
    let even = (t & vec4<u32>(1u)) == vec4<u32>(0u);
    let kv = vec4<u32>(k);
    let leader = select(c - kv, c, even);
    let partner = select(c - kv, c + kv, even);
    let pairs = select(c >= kv, c + kv < vec4<u32>(n), even);
    return select(c, partner, pairs & glass_swap4(first + leader * stride, table_u(j, at)));
}

// Glass blur's local shuffle in one gather. The steps alternate x, y, x, y (table: key, k,
// o, 1/k per step). They compose to a permutation; each output pixel traces its source back
// through them (last step first) and reads it once. Four of the invocation's pixels (x, x +
// 64, x + 128, x + 192) at a time.
@compute @workgroup_size(64)
fn glass_gather(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = j.frame.x;
    if (id.y >= j.frame.y) {
        return;
    }
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= w) {
            return;
        }
        // Pixels past the row's end trace a pixel inside it (the first) and are not written.
        let xs = vec4<u32>(x, x + 64u, x + 128u, x + 192u);
        var qx = select(vec4<u32>(x), xs, xs < vec4<u32>(w));
        var qy = vec4<u32>(id.y);
        for (var s = j.ints.x; s >= 2u; s = s - 2u) {
            qy = glass_trace4(j, qy, j.frame.y, 4u * (s - 1u), qx, w);
            qx = glass_trace4(j, qx, w, 4u * (s - 2u), qy * w, 1u);
        }
        let row = id.y * w;
        set_word(j, j.io.y, row + x, word(j, j.io.x, qy.x * w + qx.x));
        if (xs.y >= w) {
            return;
        }
        set_word(j, j.io.y, row + xs.y, word(j, j.io.x, qy.y * w + qx.y));
        if (xs.z >= w) {
            return;
        }
        set_word(j, j.io.y, row + xs.z, word(j, j.io.x, qy.z * w + qx.z));
        if (xs.w >= w) {
            return;
        }
        set_word(j, j.io.y, row + xs.w, word(j, j.io.x, qy.w * w + qx.w));
    }
}
