// Digital corruptions of ImageNet-C: pixelate (box downscale, nearest upscale, as PIL),
// jpeg_compression (a real baseline JPEG round trip: YCbCr, 4:2:0 chroma, 8×8 DCT quantised
// with the standard tables scaled for the quality, fancy upsampling), elastic_transform
// (smoothed random displacement, bilinear resampling).
//
// CPU reference: `src/perturb/digital.rs`, with the same names and the same f32 math.

// One invocation per run of PIXELATE_RUN cells of a cell row (`ints.w` = runs × rows of
// cells): per cell the mean of its input box (PIL's box downscale), written to every output
// pixel that samples the cell (PIL's nearest upscale). Table: input range of every column
// cell, of every row cell, then output range of every column cell, of every row cell
// (`[first, end)` pairs); a run reads its row's ranges once. `gpu::perturb_wgsl` appends
// `PIXELATE_RUN` (`plan::PIXELATE_RUN`).

@compute @workgroup_size(64)
fn pixelate(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let idx = id.y * ITEMS_ROW + id.x;
    if (idx >= j.ints.w) {
        return;
    }
    let w = j.frame.x;
    let ws = j.ints.x;
    let hs = j.ints.y;
    let runs = (ws + PIXELATE_RUN - 1u) / PIXELATE_RUN;
    let cy = idx / runs;
    let cx0 = (idx - cy * runs) * PIXELATE_RUN;
    let y0 = table_u(j, 2u * ws + 2u * cy);
    let y1 = table_u(j, 2u * ws + 2u * cy + 1u);
    let o = 2u * ws + 2u * hs;
    let oy0 = table_u(j, o + 2u * ws + 2u * cy);
    let oy1 = table_u(j, o + 2u * ws + 2u * cy + 1u);
    for (var k = 0u; k < PIXELATE_RUN; k = k + 1u) {
        let cx = cx0 + k;
        if (cx >= ws) {
            return;
        }
        let x0 = table_u(j, 2u * cx);
        let x1 = table_u(j, 2u * cx + 1u);
        var s = vec3<u32>(0u);
        for (var yy = y0; yy < y1; yy = yy + 1u) {
            for (var xx = x0; xx < x1; xx = xx + 1u) {
                let v = word(j, j.io.x, yy * w + xx);
                s = s + vec3<u32>(v & 255u, (v >> 8u) & 255u, (v >> 16u) & 255u);
            }
        }
        let n = f32((x1 - x0) * (y1 - y0));
        let out = pack_rgb(vec3<f32>(s) / (n * 255.0));
        let ox0 = table_u(j, o + 2u * cx);
        let ox1 = table_u(j, o + 2u * cx + 1u);
        for (var y = oy0; y < oy1; y = y + 1u) {
            for (var x = ox0; x < ox1; x = x + 1u) {
                set_word(j, j.io.y, y * w + x, out);
            }
        }
    }
}

// The JPEG round trip works on 8×8 blocks held in registers as four 4×4 matrices (quadrants:
// `m00` rows 0–3 × columns 0–3, `m01` rows 0–3 × columns 4–7, …; row = y, column = x), so no
// kernel indexes an array at run time. The DCT is the even/odd (butterfly) form of the matrix
// product: `gpu::perturb_wgsl` appends the constants `DCT_E`, `DCT_O` (`plan::dct_half`: the
// even and odd rows of the 8-point basis, columns 0–3) and `JPEG_LUMAij`, `JPEG_CHROMAij`, the
// quantisation tables' parity quadrants (`plan::parity_quadrant`; i, j = parity of the row and
// column frequency), the order in which the transform yields coefficients.
struct Block {
    m00: mat4x4<f32>,
    m01: mat4x4<f32>,
    m10: mat4x4<f32>,
    m11: mat4x4<f32>,
}

// JFIF RGB (0–255) to YCbCr.
fn ycbcr(c: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(
        0.299 * c.x + 0.587 * c.y + 0.114 * c.z,
        -0.168736 * c.x - 0.331264 * c.y + 0.5 * c.z + 128.0,
        0.5 * c.x - 0.418688 * c.y - 0.081312 * c.z + 128.0,
    );
}

// A pixel's word (edge pixels repeated past the frame).
fn pixel_word(j: Job, x: u32, y: u32) -> u32 {
    let cx = min(x, j.frame.x - 1u);
    let cy = min(y, j.frame.y - 1u);
    return word(j, j.io.x, cy * j.frame.x + cx);
}

fn rgb255(v: u32) -> vec3<f32> {
    return vec3<f32>(unpack4x8unorm(v).rgb * 255.0);
}

// Two pixel columns (x, x + 1) × eight rows from y: the luma of each column (rows 0–3 and
// 4–7) and the 2×2 means of chroma (four rows of chroma).
struct Strip {
    y0a: vec4<f32>,
    y0b: vec4<f32>,
    y1a: vec4<f32>,
    y1b: vec4<f32>,
    cb: vec4<f32>,
    cr: vec4<f32>,
}

// The YCbCr of 2×2 pixels (words of the top row, of the bottom row): the two lumas of the
// top row, of the bottom row, and the chroma mean.
struct Pair {
    top: vec2<f32>,
    bottom: vec2<f32>,
    chroma: vec2<f32>,
}

fn pair(t: vec2<u32>, b: vec2<u32>) -> Pair {
    let a = ycbcr(rgb255(t.x));
    let bb = ycbcr(rgb255(t.y));
    let c = ycbcr(rgb255(b.x));
    let d = ycbcr(rgb255(b.y));
    let s = a + bb + c + d;
    return Pair(vec2<f32>(a.x, bb.x), vec2<f32>(c.x, d.x), 0.25 * s.yz);
}

// A strip from the words of its eight rows (two pixels each).
fn strip(r0: vec2<u32>, r1: vec2<u32>, r2: vec2<u32>, r3: vec2<u32>, r4: vec2<u32>, r5: vec2<u32>, r6: vec2<u32>, r7: vec2<u32>) -> Strip {
    let p0 = pair(r0, r1);
    let p1 = pair(r2, r3);
    let p2 = pair(r4, r5);
    let p3 = pair(r6, r7);
    return Strip(
        vec4<f32>(p0.top.x, p0.bottom.x, p1.top.x, p1.bottom.x),
        vec4<f32>(p2.top.x, p2.bottom.x, p3.top.x, p3.bottom.x),
        vec4<f32>(p0.top.y, p0.bottom.y, p1.top.y, p1.bottom.y),
        vec4<f32>(p2.top.y, p2.bottom.y, p3.top.y, p3.bottom.y),
        vec4<f32>(p0.chroma.x, p1.chroma.x, p2.chroma.x, p3.chroma.x),
        vec4<f32>(p0.chroma.y, p1.chroma.y, p2.chroma.y, p3.chroma.y),
    );
}

fn two(j: Job, x: u32, y: u32) -> vec2<u32> {
    return vec2<u32>(pixel_word(j, x, y), pixel_word(j, x + 1u, y));
}

// A strip at (x, y) read word by word (edge pixels repeated past the frame).
fn strip_at(j: Job, x: u32, y: u32) -> Strip {
    return strip(two(j, x, y), two(j, x, y + 1u), two(j, x, y + 2u), two(j, x, y + 3u), two(j, x, y + 4u), two(j, x, y + 5u), two(j, x, y + 6u), two(j, x, y + 7u));
}

// An 8×8 pixel region at (x, y): its luma block and its 4×4 quadrants of Cb and Cr.
struct Region {
    luma: Block,
    cb: mat4x4<f32>,
    cr: mat4x4<f32>,
}

fn region8(j: Job, x: u32, y: u32) -> Region {
    var s0: Strip;
    var s1: Strip;
    var s2: Strip;
    var s3: Strip;
    let aligned = rows_aligned(j, j.io.x);
    if (aligned && x + 8u <= j.frame.x && y + 8u <= j.frame.y) {
        // Inside the frame, on 16-byte boundaries: each row's eight pixels in two loads.
        let at = y * j.frame.x + x;
        let w = j.frame.x;
        let a0 = quad(j, j.io.x, at);
        let b0 = quad(j, j.io.x, at + 4u);
        let a1 = quad(j, j.io.x, at + w);
        let b1 = quad(j, j.io.x, at + w + 4u);
        let a2 = quad(j, j.io.x, at + 2u * w);
        let b2 = quad(j, j.io.x, at + 2u * w + 4u);
        let a3 = quad(j, j.io.x, at + 3u * w);
        let b3 = quad(j, j.io.x, at + 3u * w + 4u);
        let a4 = quad(j, j.io.x, at + 4u * w);
        let b4 = quad(j, j.io.x, at + 4u * w + 4u);
        let a5 = quad(j, j.io.x, at + 5u * w);
        let b5 = quad(j, j.io.x, at + 5u * w + 4u);
        let a6 = quad(j, j.io.x, at + 6u * w);
        let b6 = quad(j, j.io.x, at + 6u * w + 4u);
        let a7 = quad(j, j.io.x, at + 7u * w);
        let b7 = quad(j, j.io.x, at + 7u * w + 4u);
        s0 = strip(a0.xy, a1.xy, a2.xy, a3.xy, a4.xy, a5.xy, a6.xy, a7.xy);
        s1 = strip(a0.zw, a1.zw, a2.zw, a3.zw, a4.zw, a5.zw, a6.zw, a7.zw);
        s2 = strip(b0.xy, b1.xy, b2.xy, b3.xy, b4.xy, b5.xy, b6.xy, b7.xy);
        s3 = strip(b0.zw, b1.zw, b2.zw, b3.zw, b4.zw, b5.zw, b6.zw, b7.zw);
    } else {
        s0 = strip_at(j, x, y);
        s1 = strip_at(j, x + 2u, y);
        s2 = strip_at(j, x + 4u, y);
        s3 = strip_at(j, x + 6u, y);
    }
    let luma = Block(
        mat4x4<f32>(s0.y0a, s0.y1a, s1.y0a, s1.y1a),
        mat4x4<f32>(s2.y0a, s2.y1a, s3.y0a, s3.y1a),
        mat4x4<f32>(s0.y0b, s0.y1b, s1.y0b, s1.y1b),
        mat4x4<f32>(s2.y0b, s2.y1b, s3.y0b, s3.y1b),
    );
    return Region(luma, mat4x4<f32>(s0.cb, s1.cb, s2.cb, s3.cb), mat4x4<f32>(s0.cr, s1.cr, s2.cr, s3.cr));
}

// Quantisation steps of a table quadrant for the job's scale (`plan::jpeg_step`).
fn steps(t: mat4x4<f32>, scale: u32) -> mat4x4<f32> {
    let lo = vec4<u32>(1u);
    let hi = vec4<u32>(255u);
    return mat4x4<f32>(
        vec4<f32>(clamp((vec4<u32>(t[0]) * scale + 50u) / 100u, lo, hi)),
        vec4<f32>(clamp((vec4<u32>(t[1]) * scale + 50u) / 100u, lo, hi)),
        vec4<f32>(clamp((vec4<u32>(t[2]) * scale + 50u) / 100u, lo, hi)),
        vec4<f32>(clamp((vec4<u32>(t[3]) * scale + 50u) / 100u, lo, hi)),
    );
}

fn quantise(f: mat4x4<f32>, q: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        round(f[0] / q[0]) * q[0],
        round(f[1] / q[1]) * q[1],
        round(f[2] / q[2]) * q[2],
        round(f[3] / q[3]) * q[3],
    );
}

fn decoded(m: mat4x4<f32>) -> mat4x4<f32> {
    let lo = vec4<f32>(0.0);
    let hi = vec4<f32>(255.0);
    return mat4x4<f32>(
        clamp(round(m[0] + 128.0), lo, hi),
        clamp(round(m[1] + 128.0), lo, hi),
        clamp(round(m[2] + 128.0), lo, hi),
        clamp(round(m[3] + 128.0), lo, hi),
    );
}

// J·m (rows reversed) and m·J (columns reversed).
fn flip_rows(m: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(m[0].wzyx, m[1].wzyx, m[2].wzyx, m[3].wzyx);
}

fn flip_cols(m: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(m[3], m[2], m[1], m[0]);
}

// DCT (F = C·X·Cᵀ of the samples less 128) in even/odd form: along y, the sums and differences
// of each column's mirrored halves times DCT_E and DCT_O; then the same along x. F comes out
// in parity quadrants (even/odd row frequency × even/odd column frequency), is quantised with
// the steps q (same order) and dequantised; the inverse DCT (Cᵀ·F·C) likewise; then rounded and
// clamped to 0–255 as libjpeg's decoder. Half the multiply-adds of the plain products.
fn jpeg_block(x: Block, q: Block) -> Block {
    let c128 = mat4x4<f32>(vec4<f32>(128.0), vec4<f32>(128.0), vec4<f32>(128.0), vec4<f32>(128.0));
    let x00 = x.m00 - c128;
    let x01 = x.m01 - c128;
    let x10 = flip_rows(x.m10 - c128);
    let x11 = flip_rows(x.m11 - c128);
    let te0 = DCT_E * (x00 + x10);
    let te1 = flip_cols(DCT_E * (x01 + x11));
    let to0 = DCT_O * (x00 - x10);
    let to1 = flip_cols(DCT_O * (x01 - x11));
    let et = transpose(DCT_E);
    let ot = transpose(DCT_O);
    let f_ee = quantise((te0 + te1) * et, q.m00);
    let f_eo = quantise((te0 - te1) * ot, q.m01);
    let f_oe = quantise((to0 + to1) * et, q.m10);
    let f_oo = quantise((to0 - to1) * ot, q.m11);
    let pe = et * f_ee;
    let po = ot * f_oe;
    let re = et * f_eo;
    let ro = ot * f_oo;
    let ae = pe + po;
    let be = pe - po;
    let ao = re + ro;
    let bo = re - ro;
    let ge = ae * DCT_E;
    let go = ao * DCT_O;
    let he = be * DCT_E;
    let ho = bo * DCT_O;
    return Block(
        decoded(ge + go),
        decoded(flip_cols(ge - go)),
        decoded(flip_rows(he + ho)),
        decoded(flip_rows(flip_cols(he - ho))),
    );
}

// Words per row of the packed luma plane: four decoded luma samples (integers 0–255) per word,
// pixel x in byte x mod 4 of word x / 4.
fn luma_words(j: Job) -> u32 {
    return (j.frame.x + 3u) / 4u;
}

// A quadrant (4 columns from x, a multiple of 4; 4 rows from y) into the packed luma plane io.y:
// one word per row, rows inside the frame only.
fn store_quadrant(j: Job, x: u32, y: u32, m: mat4x4<f32>) {
    if (x >= j.frame.x) {
        return;
    }
    let lw = luma_words(j);
    for (var r = 0u; r < 4u; r = r + 1u) {
        if (y + r < j.frame.y) {
            let u = exact_u32x4(vec4<f32>(m[0][r], m[1][r], m[2][r], m[3][r]));
            set_word(j, j.io.y, (y + r) * lw + x / 4u, u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u));
        }
    }
}

fn store_luma(j: Job, x: u32, y: u32, b: Block) {
    store_quadrant(j, x, y, b.m00);
    store_quadrant(j, x + 4u, y, b.m01);
    store_quadrant(j, x, y + 4u, b.m10);
    store_quadrant(j, x + 4u, y + 4u, b.m11);
}

// Words per row of the packed chroma plane: two chroma samples per word (Cb | Cr << 8 of
// column x in the low half of word x / 2, of column x + 1 in the high half).
fn chroma_words(j: Job) -> u32 {
    return (j.frame.x + 3u) / 4u;
}

// Cb and Cr of two chroma quadrant columns (x, x + 1; x even) into the half-resolution plane
// io.z (`chroma_words`), inside it only.
fn store_chroma_pair(j: Job, x: u32, y: u32, cb0: vec4<f32>, cr0: vec4<f32>, cb1: vec4<f32>, cr1: vec4<f32>) {
    let cw = (j.frame.x + 1u) / 2u;
    let chh = (j.frame.y + 1u) / 2u;
    if (x >= cw) {
        return;
    }
    let b = exact_u32x4(cb0) | (exact_u32x4(cr0) << vec4<u32>(8u)) | (exact_u32x4(cb1) << vec4<u32>(16u)) | (exact_u32x4(cr1) << vec4<u32>(24u));
    let pw = chroma_words(j);
    for (var r = 0u; r < 4u; r = r + 1u) {
        if (y + r < chh) {
            set_word(j, j.io.z, (y + r) * pw + x / 2u, b[r]);
        }
    }
}

fn store_chroma(j: Job, x: u32, y: u32, cb: mat4x4<f32>, cr: mat4x4<f32>) {
    store_chroma_pair(j, x, y, cb[0], cr[0], cb[1], cr[1]);
    store_chroma_pair(j, x + 2u, y, cb[2], cr[2], cb[3], cr[3]);
}

// One 16×16 MCU (4:2:0): four luma blocks and one block each of Cb and Cr (2×2 means),
// quantised with the tables scaled by `ints.x` and decoded; luma packed into the plane io.y
// (`luma_words`), chroma packed into the half-resolution plane io.z (`chroma_words`).
@compute @workgroup_size(64)
fn jpeg_mcu(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let x = id.x * 16u;
    let y = id.y * 16u;
    if (x >= j.frame.x || y >= j.frame.y) {
        return;
    }
    let scale = j.ints.x;
    let ql = Block(steps(JPEG_LUMA00, scale), steps(JPEG_LUMA01, scale), steps(JPEG_LUMA10, scale), steps(JPEG_LUMA11, scale));
    let qc = Block(steps(JPEG_CHROMA00, scale), steps(JPEG_CHROMA01, scale), steps(JPEG_CHROMA10, scale), steps(JPEG_CHROMA11, scale));
    let r00 = region8(j, x, y);
    store_luma(j, x, y, jpeg_block(r00.luma, ql));
    let r01 = region8(j, x + 8u, y);
    store_luma(j, x + 8u, y, jpeg_block(r01.luma, ql));
    let r10 = region8(j, x, y + 8u);
    store_luma(j, x, y + 8u, jpeg_block(r10.luma, ql));
    let r11 = region8(j, x + 8u, y + 8u);
    store_luma(j, x + 8u, y + 8u, jpeg_block(r11.luma, ql));
    let cb = jpeg_block(Block(r00.cb, r01.cb, r10.cb, r11.cb), qc);
    let cr = jpeg_block(Block(r00.cr, r01.cr, r10.cr, r11.cr), qc);
    let cx = x / 2u;
    let cy = y / 2u;
    store_chroma(j, cx, cy, cb.m00, cr.m00);
    store_chroma(j, cx + 4u, cy, cb.m01, cr.m01);
    store_chroma(j, cx, cy + 4u, cb.m10, cr.m10);
    store_chroma(j, cx + 4u, cy + 4u, cb.m11, cr.m11);
}

// The Cb and Cr of a chroma word's low (even column) or high (odd column) half.
fn chroma_half(v: u32, odd: bool) -> vec2<f32> {
    let h = select(v, v >> 16u, odd);
    return vec2<f32>(f32(h & 255u), f32((h >> 8u) & 255u));
}

// Triangle-filter (libjpeg's "fancy") upsampling: 3/4 of the nearer chroma sample and 1/4 of
// the next one, along x then y.
fn fancy(c: vec2<f32>, nx: vec2<f32>, ny: vec2<f32>, nxy: vec2<f32>) -> vec2<f32> {
    let near = 0.75 * c + 0.25 * nx;
    let far = 0.75 * ny + 0.25 * nxy;
    return 0.75 * near + 0.25 * far;
}

fn composed(yy: f32, c: vec2<f32>) -> u32 {
    let cb = c.x - 128.0;
    let cr = c.y - 128.0;
    let rgb = vec3<f32>(yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb);
    return pack_rgb(rgb * (1.0 / 255.0));
}

fn compose_pixel(j: Job, x: u32, y: u32, yy: f32, c: vec2<f32>) {
    if (x >= j.frame.x || y >= j.frame.y) {
        return;
    }
    set_word(j, j.io.y, y * j.frame.x + x, composed(yy, c));
}

// The chroma samples of columns l, c, c + 1, r (clamped) of one chroma row, from the words of
// pairs p − 1, p, p + 1 (c = 2p).
struct ChromaRow {
    l: vec2<f32>,
    c0: vec2<f32>,
    c1: vec2<f32>,
    r: vec2<f32>,
}

fn chroma_row(prev: u32, cur: u32, next: u32, c: u32, cw: u32) -> ChromaRow {
    let l = select(chroma_half(prev, true), chroma_half(cur, false), c == 0u);
    let c0 = chroma_half(cur, false);
    let c1 = select(c0, chroma_half(cur, true), c + 1u < cw);
    let r = select(c1, chroma_half(next, false), c + 2u < cw);
    return ChromaRow(l, c0, c1, r);
}

// The four decoded luma samples of a row from pixel 2c (c even: one word of the packed plane).
fn luma_four(j: Job, c: u32, y: u32) -> vec4<f32> {
    let v = word(j, j.io.x, y * luma_words(j) + c / 2u);
    return vec4<f32>(f32(v & 255u), f32((v >> 8u) & 255u), f32((v >> 16u) & 255u), f32(v >> 24u));
}

// Decoded YCbCr back to RGB, two 2×2 quads of pixels (two chroma samples) at a time, PPI
// consecutive quads of a chroma row per invocation: the chroma words of three rows around
// the pair slide along (one new word per row per pair), the four luma samples of each pixel
// row are one word.
@compute @workgroup_size(64)
fn jpeg_compose(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let cw = (j.frame.x + 1u) / 2u;
    let chh = (j.frame.y + 1u) / 2u;
    let pw = chroma_words(j);
    let cy = id.y;
    let cx0 = id.x * PPI;
    if (cx0 >= cw || cy >= chh) {
        return;
    }
    let ru = select(cy - 1u, 0u, cy == 0u) * pw;
    let rm = cy * pw;
    let rd = min(cy + 1u, chh - 1u) * pw;
    let p0 = cx0 / 2u;
    let pl = select(p0 - 1u, 0u, p0 == 0u);
    var u_prev = word(j, j.io.z, ru + pl);
    var m_prev = word(j, j.io.z, rm + pl);
    var d_prev = word(j, j.io.z, rd + pl);
    var u_cur = word(j, j.io.z, ru + p0);
    var m_cur = word(j, j.io.z, rm + p0);
    var d_cur = word(j, j.io.z, rd + p0);
    let y0 = 2u * cy;
    let y1 = min(2u * cy + 1u, j.frame.y - 1u);
    let aligned = rows_aligned(j, j.io.y);
    for (var i = 0u; i < PPI; i = i + 2u) {
        let cx = cx0 + i;
        if (cx >= cw) {
            return;
        }
        let pn = min(cx / 2u + 1u, pw - 1u);
        let u_next = word(j, j.io.z, ru + pn);
        let m_next = word(j, j.io.z, rm + pn);
        let d_next = word(j, j.io.z, rd + pn);
        let u = chroma_row(u_prev, u_cur, u_next, cx, cw);
        let m = chroma_row(m_prev, m_cur, m_next, cx, cw);
        let d = chroma_row(d_prev, d_cur, d_next, cx, cw);
        let top = luma_four(j, cx, y0);
        let bottom = luma_four(j, cx, y1);
        let x = 2u * cx;
        if (aligned) {
            let at = y0 * j.frame.x + x;
            set_quad(j, j.io.y, at, vec4<u32>(
                composed(top.x, fancy(m.c0, m.l, u.c0, u.l)),
                composed(top.y, fancy(m.c0, m.c1, u.c0, u.c1)),
                composed(top.z, fancy(m.c1, m.c0, u.c1, u.c0)),
                composed(top.w, fancy(m.c1, m.r, u.c1, u.r)),
            ));
            if (y0 + 1u < j.frame.y) {
                set_quad(j, j.io.y, at + j.frame.x, vec4<u32>(
                    composed(bottom.x, fancy(m.c0, m.l, d.c0, d.l)),
                    composed(bottom.y, fancy(m.c0, m.c1, d.c0, d.c1)),
                    composed(bottom.z, fancy(m.c1, m.c0, d.c1, d.c0)),
                    composed(bottom.w, fancy(m.c1, m.r, d.c1, d.r)),
                ));
            }
        } else {
        compose_pixel(j, x, y0, top.x, fancy(m.c0, m.l, u.c0, u.l));
        compose_pixel(j, x + 1u, y0, top.y, fancy(m.c0, m.c1, u.c0, u.c1));
        compose_pixel(j, x, y0 + 1u, bottom.x, fancy(m.c0, m.l, d.c0, d.l));
        compose_pixel(j, x + 1u, y0 + 1u, bottom.y, fancy(m.c0, m.c1, d.c0, d.c1));
        compose_pixel(j, x + 2u, y0, top.z, fancy(m.c1, m.c0, u.c1, u.c0));
        compose_pixel(j, x + 3u, y0, top.w, fancy(m.c1, m.r, u.c1, u.r));
        compose_pixel(j, x + 2u, y0 + 1u, bottom.z, fancy(m.c1, m.c0, d.c1, d.c0));
        compose_pixel(j, x + 3u, y0 + 1u, bottom.w, fancy(m.c1, m.r, d.c1, d.r));
        }
        u_prev = u_cur;
        m_prev = m_cur;
        d_prev = d_cur;
        u_cur = u_next;
        m_cur = m_next;
        d_cur = d_next;
    }
}

// Pixel p's displacements from its two random words.
fn elastic_noise_px(j: Job, p: u32, wx: u32, wy: u32) {
    store_f(j, j.io.x, p, (2.0 * unit(wx) - 1.0) * j.p0.x);
    store_f(j, j.io.y, p, (2.0 * unit(wy) - 1.0) * j.p0.x);
}

// Uniform displacements in ±max (p0.x) along x into io.x and along y into io.y; pixel s of a
// group (`group_element`) takes words 2s and 2s + 1 of the group's two blocks.
@compute @workgroup_size(64)
fn elastic_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    for (var g = 0u; g < PPI; g = g + 4u) {
        let x = pixel_x(id.x, g);
        if (x >= j.frame.x) {
            return;
        }
        let e = group_element(j, x, id.y, 2u);
        let a = rand4(j, 0u, e);
        let b = rand4(j, 0u, e + 1u);
        let p = id.y * j.frame.x + x;
        elastic_noise_px(j, p, a.x, a.y);
        if (x + 64u >= j.frame.x) {
            return;
        }
        elastic_noise_px(j, p + 64u, a.z, a.w);
        if (x + 128u >= j.frame.x) {
            return;
        }
        elastic_noise_px(j, p + 128u, b.x, b.y);
        if (x + 192u >= j.frame.x) {
            return;
        }
        elastic_noise_px(j, p + 192u, b.z, b.w);
    }
}

// The displacement (dx, dy) at pixel (x, y): from the full-size planes io.zw, or (ints.x > 0)
// upsampled bilinearly from the field smoothed on ints.x × ints.y cells (p0.xy = 1/sx, 1/sy).
fn elastic_field(j: Job, x: u32, y: u32) -> vec2<f32> {
    let ws = j.ints.x;
    if (ws == 0u) {
        let p = y * j.frame.x + x;
        return vec2<f32>(load_f(j, j.io.z, p), load_f(j, j.io.w, p));
    }
    let cy = cell_pair(y, j.p0.y, j.ints.y);
    let cx = cell_pair(x, j.p0.x, ws);
    let row0 = exact_u32(cy.x) * ws;
    let row1 = exact_u32(cy.y) * ws;
    let c0 = exact_u32(cx.x);
    let c1 = exact_u32(cx.y);
    let a = mix(mix(load_f(j, j.io.z, row0 + c0), load_f(j, j.io.z, row0 + c1), cx.z),
        mix(load_f(j, j.io.z, row1 + c0), load_f(j, j.io.z, row1 + c1), cx.z), cy.z);
    let b = mix(mix(load_f(j, j.io.w, row0 + c0), load_f(j, j.io.w, row0 + c1), cx.z),
        mix(load_f(j, j.io.w, row1 + c0), load_f(j, j.io.w, row1 + c1), cx.z), cy.z);
    return vec2<f32>(a, b);
}

// The image sampled at (x + dx, y + dy), bilinear, reflected at the edges (scipy's
// map_coordinates, order 1, mode `reflect`).
@compute @workgroup_size(64)
fn elastic_warp(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let d = elastic_field(j, x, id.y);
        let fx = f32(x) + d.x;
        let fy = f32(id.y) + d.y;
        let x0 = exact_i32(floor(fx));
        let y0 = exact_i32(floor(fy));
        let tx = fx - f32(x0);
        let ty = fy - f32(y0);
        let xa = u32(edge(x0, w, 1u));
        let xb = u32(edge(x0 + 1, w, 1u));
        let ya = u32(edge(y0, h, 1u));
        let yb = u32(edge(y0 + 1, h, 1u));
        let top = mix(load_rgb(j, j.io.x, xa, ya), load_rgb(j, j.io.x, xb, ya), tx);
        let bottom = mix(load_rgb(j, j.io.x, xa, yb), load_rgb(j, j.io.x, xb, yb), tx);
        store_rgb(j, j.io.y, x, id.y, mix(top, bottom, ty));
    }
}
