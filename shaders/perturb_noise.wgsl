// Sensor noise of ImageNet-C: gaussian_noise, shot_noise (integer-exact Poisson by guided table
// inversion), impulse_noise (salt and pepper per channel), speckle_noise. One invocation per
// PPI pixels of a row, in groups of four (`group_element`: a group draws its Philox blocks
// once and shares their words out); `global_invocation_id.z` is the job.
//
// CPU reference: `src/perturb/noise.rs`, with the same names and the same f32 math.

// The twelve standard normals of a group, three per pixel (normal 3s + c for channel c of
// pixel s), from its three blocks' words in pairs (Box–Muller: normals 2i and 2i + 1 from words
// 2i and 2i + 1).
struct GroupNormals {
    p0: vec3<f32>,
    p1: vec3<f32>,
    p2: vec3<f32>,
    p3: vec3<f32>,
}

fn group_normals(j: Job, e: u32) -> GroupNormals {
    let a = rand4(j, 0u, e);
    let n0 = normal_pair(a.x, a.y);
    let n1 = normal_pair(a.z, a.w);
    let b = rand4(j, 0u, e + 1u);
    let n2 = normal_pair(b.x, b.y);
    let n3 = normal_pair(b.z, b.w);
    let c = rand4(j, 0u, e + 2u);
    let n4 = normal_pair(c.x, c.y);
    let n5 = normal_pair(c.z, c.w);
    return GroupNormals(
        vec3<f32>(n0.x, n0.y, n1.x),
        vec3<f32>(n1.y, n2.x, n2.y),
        vec3<f32>(n3.x, n3.y, n4.x),
        vec3<f32>(n4.y, n5.x, n5.y),
    );
}

// Which formula `normal_noise` applies: each entry point passes its own constant.
const NOISE_GAUSSIAN: u32 = 0u;
const NOISE_SPECKLE: u32 = 1u;

// x + σ·n (gaussian_noise) or x + x·σ·n (speckle_noise) per channel of pixel (x, y).
fn normal_noise_px(j: Job, mode: u32, x: u32, y: u32, n: vec3<f32>) {
    let c = load_rgb(j, j.io.x, x, y);
    if (mode == NOISE_SPECKLE) {
        store_rgb(j, j.io.y, x, y, c + c * j.p0.x * n);
    } else {
        store_rgb(j, j.io.y, x, y, c + j.p0.x * n);
    }
}

fn normal_noise(id: vec3<u32>, mode: u32) {
    let j = jobs[id.z];
    if (id.y >= j.frame.y) {
        return;
    }
    for (var g = 0u; g < PPI; g = g + 4u) {
        let x = pixel_x(id.x, g);
        if (x >= j.frame.x) {
            return;
        }
        let n = group_normals(j, group_element(j, x, id.y, 3u));
        normal_noise_px(j, mode, x, id.y, n.p0);
        if (x + 64u >= j.frame.x) {
            return;
        }
        normal_noise_px(j, mode, x + 64u, id.y, n.p1);
        if (x + 128u >= j.frame.x) {
            return;
        }
        normal_noise_px(j, mode, x + 128u, id.y, n.p2);
        if (x + 192u >= j.frame.x) {
            return;
        }
        normal_noise_px(j, mode, x + 192u, id.y, n.p3);
    }
}

// x + σ·N(0, 1) per channel.
@compute @workgroup_size(64)
fn gaussian_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    normal_noise(id, NOISE_GAUSSIAN);
}

// x + x·σ·N(0, 1) per channel.
@compute @workgroup_size(64)
fn speckle_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    normal_noise(id, NOISE_SPECKLE);
}

// The smallest k with u < CDF(k) in the table row of byte value v (n = ints.x entries; n when
// there is none): from the first draw of u's bucket in the row's guide (`plan::poisson_guide`,
// at word ints.z, buckets of 2^ints.y), comparing up to its last (`plan::poisson_guided_draw`).
fn poisson_draw(j: Job, v: u32, u: u32) -> u32 {
    let n = j.ints.x;
    let shift = j.ints.y;
    let bucket = table_u(j, j.ints.z + (v << (31u - shift)) + (u >> shift));
    let last = bucket >> 16u;
    let row = v * n;
    var k = bucket & 0xffffu;
    while (k < last && u >= table_u(j, row + k)) {
        k = k + 1u;
    }
    return k;
}

// Poisson(λ·x)/λ per channel, clipped to 1.
@compute @workgroup_size(64)
fn shot_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let p = id.y * j.frame.x + x;
        let w = rand4(j, 0u, p);
        let v = word(j, j.io.x, p);
        let k = vec3<u32>(
            poisson_draw(j, v & 255u, w.x >> 1u),
            poisson_draw(j, (v >> 8u) & 255u, w.y >> 1u),
            poisson_draw(j, (v >> 16u) & 255u, w.z >> 1u),
        );
        store_rgb(j, j.io.y, x, id.y, min(vec3<f32>(k) / j.p0.x, vec3<f32>(1.0)));
    }
}

// Channel c of pixel word v replaced by salt or pepper when its 16-bit draw d is under the
// threshold (ints.x, out of 2¹⁶), salt when bit c of `coins` is 0.
fn impulse_channel(j: Job, v: u32, d: u32, coins: u32, c: u32) -> u32 {
    if (d < j.ints.x) {
        let byte = select(0u, 255u, ((coins >> c) & 1u) == 0u);
        return (v & ~(255u << (8u * c))) | (byte << (8u * c));
    }
    return v;
}

// Pixel (x, y) under salt and pepper from two random words: the channels' draws are the low
// and high halves of w0 and the low half of w1, the coins the high half of w1.
fn impulse_px(j: Job, x: u32, y: u32, w0: u32, w1: u32) {
    let p = y * j.frame.x + x;
    let coins = w1 >> 16u;
    var v = word(j, j.io.x, p);
    v = impulse_channel(j, v, w0 & 0xffffu, coins, 0u);
    v = impulse_channel(j, v, w0 >> 16u, coins, 1u);
    v = impulse_channel(j, v, w1 & 0xffffu, coins, 2u);
    set_word(j, j.io.y, p, v | 0xff000000u);
}

// Salt and pepper: each channel replaced with probability `amount` by 1 or 0 (even odds); pixel
// s of a group takes words 2s and 2s + 1 of the group's two blocks.
@compute @workgroup_size(64)
fn impulse_noise(@builtin(global_invocation_id) id: vec3<u32>) {
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
        impulse_px(j, x, id.y, a.x, a.y);
        if (x + 64u >= j.frame.x) {
            return;
        }
        impulse_px(j, x + 64u, id.y, a.z, a.w);
        if (x + 128u >= j.frame.x) {
            return;
        }
        impulse_px(j, x + 128u, id.y, b.x, b.y);
        if (x + 192u >= j.frame.x) {
            return;
        }
        impulse_px(j, x + 192u, id.y, b.z, b.w);
    }
}
