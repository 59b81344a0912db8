// Sensor noise of ImageNet-C: gaussian_noise, shot_noise (integer-exact Poisson by guided table
// inversion), impulse_noise (salt and pepper per channel), speckle_noise. One invocation per
// PPI pixels of a row; `global_invocation_id.z` is the job.
//
// CPU reference: `src/perturb/noise.rs`, with the same names and the same f32 math.

// x + σ·N(0, 1) per channel.
@compute @workgroup_size(64)
fn gaussian_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let w = rand4(j, 0u, id.y * j.frame.x + x);
        let a = normal_pair(w.x, w.y);
        let b = normal_pair(w.z, w.w);
        let c = load_rgb(j, j.io.x, x, id.y);
        store_rgb(j, j.io.y, x, id.y, c + j.p0.x * vec3<f32>(a.x, a.y, b.x));
    }
}

// x + x·σ·N(0, 1) per channel.
@compute @workgroup_size(64)
fn speckle_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let w = rand4(j, 0u, id.y * j.frame.x + x);
        let a = normal_pair(w.x, w.y);
        let b = normal_pair(w.z, w.w);
        let c = load_rgb(j, j.io.x, x, id.y);
        store_rgb(j, j.io.y, x, id.y, c + c * j.p0.x * vec3<f32>(a.x, a.y, b.x));
    }
}

// The smallest k with u < CDF(k) in the table row of byte value v (n = ints.x entries; n when
// there is none): from the first draw of u's bucket in the row's guide (`plan::poisson_guide`,
// at word ints.z, buckets of 2^ints.y), comparing up to its last.
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

// Channel c of pixel word v replaced by salt or pepper when its draw wc is under the
// threshold (ints.x; always when ints.y = 1), salt when bit c of `coins` is 0.
fn impulse_channel(j: Job, v: u32, wc: u32, coins: u32, c: u32) -> u32 {
    if (wc < j.ints.x || j.ints.y == 1u) {
        let byte = select(0u, 255u, ((coins >> c) & 1u) == 0u);
        return (v & ~(255u << (8u * c))) | (byte << (8u * c));
    }
    return v;
}

// Salt and pepper: each channel replaced with probability `amount` by 1 or 0 (even odds).
@compute @workgroup_size(64)
fn impulse_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let p = id.y * j.frame.x + x;
        let w = rand4(j, 0u, p);
        var v = word(j, j.io.x, p);
        v = impulse_channel(j, v, w.x, w.w, 0u);
        v = impulse_channel(j, v, w.y, w.w, 1u);
        v = impulse_channel(j, v, w.z, w.w, 2u);
        set_word(j, j.io.y, p, v | 0xff000000u);
    }
}
