// Blurs of ImageNet-C: separable Gaussian (gaussian_blur, glass_blur; also on f32 planes for
// elastic_transform and spatter), defocus (a disk by per-row prefix sums; a large one on a
// frame reduced by an integer factor, then upsampled), motion (one-sided
// Gaussian taps along a line), zoom (mean of centre zooms), and glass blur's parallel local
// shuffle.
//
// CPU reference: `src/perturb/blur.rs`, with the same names and the same f32 math.

// The separable blurs take four pixels of the invocation's row (x, x + 64, x + 128, x + 192)
// at a time, so that each weight is read from the table once for the four (the sums are the
// same as one pixel at a time).
fn four(x: u32) -> vec4<i32> {
    return vec4<i32>(i32(x)) + vec4<i32>(0, 64, 128, 192);
}

// Horizontal taps of an RGBA8 image into the packed 10-bit plane.
@compute @workgroup_size(64)
fn blur_h(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let w = i32(j.frame.x);
    if (id.y >= j.frame.y) {
        return;
    }
    let row = id.y * j.frame.x;
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xs = four(x);
        var a0 = vec3<f32>(0.0);
        var a1 = vec3<f32>(0.0);
        var a2 = vec3<f32>(0.0);
        var a3 = vec3<f32>(0.0);
        for (var k = 0; k <= 2 * r; k = k + 1) {
            let t = table_f(j, u32(k));
            let e = j.ints.y;
            a0 = a0 + t * unpack4x8unorm(word(j, j.io.x, row + u32(edge(xs.x + k - r, w, e)))).rgb;
            a1 = a1 + t * unpack4x8unorm(word(j, j.io.x, row + u32(edge(xs.y + k - r, w, e)))).rgb;
            a2 = a2 + t * unpack4x8unorm(word(j, j.io.x, row + u32(edge(xs.z + k - r, w, e)))).rgb;
            a3 = a3 + t * unpack4x8unorm(word(j, j.io.x, row + u32(edge(xs.w + k - r, w, e)))).rgb;
        }
        set_word(j, j.io.y, row + x, pack10(a0));
        if (xs.y < w) {
            set_word(j, j.io.y, row + u32(xs.y), pack10(a1));
        }
        if (xs.z < w) {
            set_word(j, j.io.y, row + u32(xs.z), pack10(a2));
        }
        if (xs.w < w) {
            set_word(j, j.io.y, row + u32(xs.w), pack10(a3));
        }
    }
}

// Vertical taps of the packed plane into an RGBA8 image.
@compute @workgroup_size(64)
fn blur_v(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
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
        let xs = four(x);
        let xc = vec4<u32>(min(xs, vec4<i32>(w - 1)));
        var a0 = vec3<f32>(0.0);
        var a1 = vec3<f32>(0.0);
        var a2 = vec3<f32>(0.0);
        var a3 = vec3<f32>(0.0);
        for (var k = 0; k <= 2 * r; k = k + 1) {
            let t = table_f(j, u32(k));
            let at = u32(edge(i32(id.y) + k - r, h, j.ints.y)) * j.frame.x;
            a0 = a0 + t * unpack10(word(j, j.io.x, at + xc.x));
            a1 = a1 + t * unpack10(word(j, j.io.x, at + xc.y));
            a2 = a2 + t * unpack10(word(j, j.io.x, at + xc.z));
            a3 = a3 + t * unpack10(word(j, j.io.x, at + xc.w));
        }
        store_rgb(j, j.io.y, x, id.y, a0);
        if (xs.y < w) {
            store_rgb(j, j.io.y, u32(xs.y), id.y, a1);
        }
        if (xs.z < w) {
            store_rgb(j, j.io.y, u32(xs.z), id.y, a2);
        }
        if (xs.w < w) {
            store_rgb(j, j.io.y, u32(xs.w), id.y, a3);
        }
    }
}

// Horizontal taps of one or two f32 planes (io.x → io.y, io.z → io.w).
@compute @workgroup_size(64)
fn plane_blur_h(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let w = i32(j.frame.x);
    if (id.y >= j.frame.y) {
        return;
    }
    let row = id.y * j.frame.x;
    let two = j.ints.z > 1u;
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xs = four(x);
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        for (var k = 0; k <= 2 * r; k = k + 1) {
            let t = table_f(j, u32(k));
            let e = j.ints.y;
            let xx = row + vec4<u32>(
                u32(edge(xs.x + k - r, w, e)),
                u32(edge(xs.y + k - r, w, e)),
                u32(edge(xs.z + k - r, w, e)),
                u32(edge(xs.w + k - r, w, e)),
            );
            a = a + t * vec4<f32>(load_f(j, j.io.x, xx.x), load_f(j, j.io.x, xx.y), load_f(j, j.io.x, xx.z), load_f(j, j.io.x, xx.w));
            if (two) {
                b = b + t * vec4<f32>(load_f(j, j.io.z, xx.x), load_f(j, j.io.z, xx.y), load_f(j, j.io.z, xx.z), load_f(j, j.io.z, xx.w));
            }
        }
        a = a * j.p0.x;
        b = b * j.p0.x;
        for (var m = 0u; m < 4u; m = m + 1u) {
            if (xs[m] < w) {
                store_f(j, j.io.y, row + u32(xs[m]), a[m]);
                if (two) {
                    store_f(j, j.io.w, row + u32(xs[m]), b[m]);
                }
            }
        }
    }
}

// Vertical taps of one or two f32 planes, scaled by p0.x.
@compute @workgroup_size(64)
fn plane_blur_v(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let r = i32(j.ints.x);
    let w = i32(j.frame.x);
    let h = i32(j.frame.y);
    if (id.y >= j.frame.y) {
        return;
    }
    let two = j.ints.z > 1u;
    for (var i = 0u; i < PPI; i = i + 4u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x) {
            return;
        }
        let xs = four(x);
        let xc = vec4<u32>(min(xs, vec4<i32>(w - 1)));
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        for (var k = 0; k <= 2 * r; k = k + 1) {
            let t = table_f(j, u32(k));
            let xx = u32(edge(i32(id.y) + k - r, h, j.ints.y)) * j.frame.x + xc;
            a = a + t * vec4<f32>(load_f(j, j.io.x, xx.x), load_f(j, j.io.x, xx.y), load_f(j, j.io.x, xx.z), load_f(j, j.io.x, xx.w));
            if (two) {
                b = b + t * vec4<f32>(load_f(j, j.io.z, xx.x), load_f(j, j.io.z, xx.y), load_f(j, j.io.z, xx.z), load_f(j, j.io.z, xx.w));
            }
        }
        a = a * j.p0.x;
        b = b * j.p0.x;
        let row = id.y * j.frame.x;
        for (var m = 0u; m < 4u; m = m + 1u) {
            if (xs[m] < w) {
                store_f(j, j.io.y, row + u32(xs[m]), a[m]);
                if (two) {
                    store_f(j, j.io.w, row + u32(xs[m]), b[m]);
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
    var acc: array<vec3<f32>, PPI>;
    for (var k = 0u; k < PPI; k = k + 1u) {
        acc[k] = vec3<f32>(0.0);
    }
    for (var dy = -r; dy <= r; dy = dy + 1) {
        let row = u32(edge(i32(id.y) + dy, h, 2u));
        let n = i32(table_u(j, u32(2 * (dy + r))));
        let frac = table_f(j, u32(2 * (dy + r) + 1));
        var span = span_sum(j, row, x0 - n, x0 + n);
        var left = load_rgb(j, j.io.z, u32(edge(x0 - n - 1, w, 2u)), row);
        var right = load_rgb(j, j.io.z, u32(edge(x0 + n + 1, w, 2u)), row);
        for (var k = 0u; k < PPI; k = k + 1u) {
            acc[k] = acc[k] + span + frac * (left + right);
            let x = x0 + i32(k);
            let leaving = load_rgb(j, j.io.z, u32(edge(x - n, w, 2u)), row);
            let end = load_rgb(j, j.io.z, u32(edge(x + n + 2, w, 2u)), row);
            span = span + right - leaving;
            left = leaving;
            right = end;
        }
    }
    for (var k = 0u; k < PPI; k = k + 1u) {
        let x = u32(x0) + k;
        if (x < j.frame.x) {
            if (j.ints.y == 1u) {
                set_word(j, j.io.y, id.y * j.frame.x + x, pack10(acc[k] * j.p0.x));
            } else {
                store_rgb(j, j.io.y, x, id.y, acc[k] * j.p0.x);
            }
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

// Where pixel i of a frame lies on the grid of a reduced one (p = 1/s; cell centres at
// s·k + (s − 1)/2), clamped to its n cells: (the cell at or before it, the next, the weight
// of the next).
fn cell_pair(i: u32, p: f32, n: u32) -> vec3<f32> {
    let u = clamp((f32(i) + 0.5) * p - 0.5, 0.0, f32(n - 1u));
    let f = floor(u);
    return vec3<f32>(f, min(f + 1.0, f32(n - 1u)), u - f);
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
            let shift = table_u(j, 2u * k);
            let dx = bitcast<i32>(shift << 16u) >> 16u;
            let dy = bitcast<i32>(shift) >> 16u;
            let t = table_f(j, 2u * k + 1u);
            let row = u32(clamp(i32(id.y) - dy, 0, h - 1)) * j.frame.x;
            let xx = vec4<u32>(clamp(xs - vec4<i32>(dx), vec4<i32>(0), vec4<i32>(w - 1)));
            a0 = a0 + t * unpack4x8unorm(word(j, j.io.x, row + xx.x)).rgb;
            a1 = a1 + t * unpack4x8unorm(word(j, j.io.x, row + xx.y)).rgb;
            a2 = a2 + t * unpack4x8unorm(word(j, j.io.x, row + xx.z)).rgb;
            a3 = a3 + t * unpack4x8unorm(word(j, j.io.x, row + xx.w)).rgb;
        }
        store_rgb(j, j.io.y, x, id.y, a0);
        if (xs.y < w) {
            store_rgb(j, j.io.y, u32(xs.y), id.y, a1);
        }
        if (xs.z < w) {
            store_rgb(j, j.io.y, u32(xs.z), id.y, a2);
        }
        if (xs.w < w) {
            store_rgb(j, j.io.y, u32(xs.w), id.y, a3);
        }
    }
}

// The same taps on an f32 plane, four pixels at a time.
@compute @workgroup_size(64)
fn plane_motion(@builtin(global_invocation_id) id: vec3<u32>) {
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
        var acc = vec4<f32>(0.0);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let shift = table_u(j, 2u * k);
            let dx = bitcast<i32>(shift << 16u) >> 16u;
            let dy = bitcast<i32>(shift) >> 16u;
            let t = table_f(j, 2u * k + 1u);
            let row = u32(clamp(i32(id.y) - dy, 0, h - 1)) * j.frame.x;
            let xx = vec4<u32>(clamp(xs - vec4<i32>(dx), vec4<i32>(0), vec4<i32>(w - 1)));
            let v = vec4<f32>(
                load_f(j, j.io.x, row + xx.x),
                load_f(j, j.io.x, row + xx.y),
                load_f(j, j.io.x, row + xx.z),
                load_f(j, j.io.x, row + xx.w),
            );
            acc = acc + t * v;
        }
        let base = id.y * j.frame.x;
        store_f(j, j.io.y, base + x, acc.x);
        if (xs.y < w) {
            store_f(j, j.io.y, base + u32(xs.y), acc.y);
        }
        if (xs.z < w) {
            store_f(j, j.io.y, base + u32(xs.z), acc.z);
        }
        if (xs.w < w) {
            store_f(j, j.io.y, base + u32(xs.w), acc.w);
        }
    }
}

// Bilinear sample of an RGBA8 image at real coordinates inside it.
fn bilinear_rgb(j: Job, region: u32, fx: f32, fy: f32) -> vec3<f32> {
    let x0 = exact_u32(floor(clamp(fx, 0.0, f32(j.frame.x - 1u))));
    let y0 = exact_u32(floor(clamp(fy, 0.0, f32(j.frame.y - 1u))));
    let x1 = min(x0 + 1u, j.frame.x - 1u);
    let y1 = min(y0 + 1u, j.frame.y - 1u);
    let tx = fx - f32(x0);
    let ty = fy - f32(y0);
    let top = mix(load_rgb(j, region, x0, y0), load_rgb(j, region, x1, y0), tx);
    let bottom = mix(load_rgb(j, region, x0, y1), load_rgb(j, region, x1, y1), tx);
    return mix(top, bottom, ty);
}

// (x + Σ clipped_zoom(x, z)) / (zooms + 1); per zoom the table holds the crop's top and the
// output-to-input scale along y and x.
@compute @workgroup_size(64)
fn zoom_blur(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        var acc = load_rgb(j, j.io.x, x, id.y);
        for (var k = 0u; k < j.ints.x; k = k + 1u) {
            let fy = table_f(j, 4u * k) + f32(id.y) * table_f(j, 4u * k + 1u);
            let fx = table_f(j, 4u * k + 2u) + f32(x) * table_f(j, 4u * k + 3u);
            acc = acc + bilinear_rgb(j, j.io.x, fx, fy);
        }
        store_rgb(j, j.io.y, x, id.y, acc * (1.0 / f32(j.ints.x + 1u)));
    }
}

// One step of the local shuffle, in place: along an axis, pixel c pairs with c + k when
// ⌊(c + o)/k⌋ is even, and a random bit per pair decides the swap. Pairs are disjoint, so
// every invocation may swap without races; values are only moved, never mixed.
@compute @workgroup_size(64)
fn glass_shuffle(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let axis = j.ints.x;
    let k = j.ints.y;
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        var c = x;
        var n = j.frame.x;
        if (axis == 1u) {
            c = id.y;
            n = j.frame.y;
        }
        if (((c + j.ints.z) / k) % 2u == 0u && c + k < n) {
            let p = id.y * j.frame.x + x;
            var q = p + k;
            if (axis == 1u) {
                q = p + k * j.frame.x;
            }
            if ((rand4(j, j.ints.w, p).x & 1u) == 1u) {
                let a = word(j, j.io.x, p);
                set_word(j, j.io.x, p, word(j, j.io.x, q));
                set_word(j, j.io.x, q, a);
            }
        }
    }
}
