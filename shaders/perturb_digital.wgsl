// Digital corruptions of ImageNet-C: pixelate (box downscale, nearest upscale, as PIL),
// jpeg_compression (a real baseline JPEG round trip: YCbCr, 4:2:0 chroma, 8×8 DCT quantised
// with the standard tables scaled for the quality, fancy upsampling), elastic_transform
// (smoothed random displacement, bilinear resampling).
//
// CPU reference: `src/perturb/digital.rs`, with the same names and the same f32 math.

// Each output pixel is the mean of its cell's input box. Table: cell of every column, of every
// row, then the input range of every column cell and of every row cell.
@compute @workgroup_size(64)
fn pixelate(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let w = j.frame.x;
    let h = j.frame.y;
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= w || id.y >= h) {
            return;
        }
        let cx = table_u(j, x);
        let cy = table_u(j, w + id.y);
        let x0 = table_u(j, w + h + 2u * cx);
        let x1 = table_u(j, w + h + 2u * cx + 1u);
        let y0 = table_u(j, w + h + 2u * j.ints.x + 2u * cy);
        let y1 = table_u(j, w + h + 2u * j.ints.x + 2u * cy + 1u);
        var s = vec3<u32>(0u);
        for (var yy = y0; yy < y1; yy = yy + 1u) {
            for (var xx = x0; xx < x1; xx = xx + 1u) {
                let v = word(j, j.io.x, yy * w + xx);
                s = s + vec3<u32>(v & 255u, (v >> 8u) & 255u, (v >> 16u) & 255u);
            }
        }
        let n = f32((x1 - x0) * (y1 - y0));
        store_rgb(j, j.io.y, x, id.y, vec3<f32>(s) / (n * 255.0));
    }
}

// `DCT_BASIS` (array<u32, 64>, f32 bits): the 8-point DCT basis `plan::dct_basis`, entry
// [u][x]; `gpu::perturb_wgsl` appends it to this file (the CPU reads the same values from the
// job's table).

// JFIF RGB (0–255) to YCbCr.
fn ycbcr(c: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(
        0.299 * c.x + 0.587 * c.y + 0.114 * c.z,
        -0.168736 * c.x - 0.331264 * c.y + 0.5 * c.z + 128.0,
        0.5 * c.x - 0.418688 * c.y - 0.081312 * c.z + 128.0,
    );
}

fn rgb255(j: Job, x: u32, y: u32) -> vec3<f32> {
    let cx = min(x, j.frame.x - 1u);
    let cy = min(y, j.frame.y - 1u);
    return vec3<f32>(unpack4x8unorm(word(j, j.io.x, cy * j.frame.x + cx)).rgb * 255.0);
}

// DCT, quantisation with table `q` (0 luma, 64 chroma), dequantisation and inverse DCT of an
// 8×8 block of samples in 0–255; the result rounded and clamped to 0–255 as libjpeg's.
fn jpeg_block(j: Job, block: ptr<function, array<f32, 64>>, q: u32) {
    var t: array<f32, 64>;
    // Rows: t[v][u] = Σ_x basis[u][x]·(b[v][x] − 128).
    for (var v = 0u; v < 8u; v = v + 1u) {
        for (var u = 0u; u < 8u; u = u + 1u) {
            var s = 0.0;
            for (var x = 0u; x < 8u; x = x + 1u) {
                s = s + bitcast<f32>(DCT_BASIS[u * 8u + x]) * ((*block)[v * 8u + x] - 128.0);
            }
            t[v * 8u + u] = s;
        }
    }
    // Columns, then quantise: F[v][u] = Σ_y basis[v][y]·t[y][u].
    for (var u = 0u; u < 8u; u = u + 1u) {
        for (var v = 0u; v < 8u; v = v + 1u) {
            var s = 0.0;
            for (var y = 0u; y < 8u; y = y + 1u) {
                s = s + bitcast<f32>(DCT_BASIS[v * 8u + y]) * t[y * 8u + u];
            }
            let step = table_f(j, q + v * 8u + u);
            (*block)[v * 8u + u] = round(s / step) * step;
        }
    }
    // Inverse: columns then rows.
    for (var u = 0u; u < 8u; u = u + 1u) {
        for (var y = 0u; y < 8u; y = y + 1u) {
            var s = 0.0;
            for (var v = 0u; v < 8u; v = v + 1u) {
                s = s + bitcast<f32>(DCT_BASIS[v * 8u + y]) * (*block)[v * 8u + u];
            }
            t[y * 8u + u] = s;
        }
    }
    for (var y = 0u; y < 8u; y = y + 1u) {
        for (var x = 0u; x < 8u; x = x + 1u) {
            var s = 0.0;
            for (var u = 0u; u < 8u; u = u + 1u) {
                s = s + bitcast<f32>(DCT_BASIS[u * 8u + x]) * t[y * 8u + u];
            }
            (*block)[y * 8u + x] = clamp(round(s + 128.0), 0.0, 255.0);
        }
    }
}

// Luma of one 8×8 block (edge pixels repeated past the frame), decoded into plane io.y.
@compute @workgroup_size(64)
fn jpeg_luma(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let bx = id.x;
    let by = id.y;
    if (bx * 8u >= j.frame.x || by * 8u >= j.frame.y) {
        return;
    }
    var b: array<f32, 64>;
    for (var v = 0u; v < 8u; v = v + 1u) {
        for (var u = 0u; u < 8u; u = u + 1u) {
            b[v * 8u + u] = ycbcr(rgb255(j, bx * 8u + u, by * 8u + v)).x;
        }
    }
    jpeg_block(j, &b, 0u);
    for (var v = 0u; v < 8u; v = v + 1u) {
        for (var u = 0u; u < 8u; u = u + 1u) {
            let x = bx * 8u + u;
            let y = by * 8u + v;
            if (x < j.frame.x && y < j.frame.y) {
                store_f(j, j.io.y, y * j.frame.x + x, b[v * 8u + u]);
            }
        }
    }
}

// Chroma of one 16×16 block: 2×2 means, one 8×8 block each for Cb and Cr, decoded into the
// half-resolution planes io.z and io.w.
@compute @workgroup_size(64)
fn jpeg_chroma(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    let bx = id.x;
    let by = id.y;
    if (bx * 16u >= j.frame.x || by * 16u >= j.frame.y) {
        return;
    }
    var cb: array<f32, 64>;
    var cr: array<f32, 64>;
    for (var v = 0u; v < 8u; v = v + 1u) {
        for (var u = 0u; u < 8u; u = u + 1u) {
            let x = bx * 16u + 2u * u;
            let y = by * 16u + 2u * v;
            let s = ycbcr(rgb255(j, x, y)) + ycbcr(rgb255(j, x + 1u, y)) + ycbcr(rgb255(j, x, y + 1u)) + ycbcr(rgb255(j, x + 1u, y + 1u));
            cb[v * 8u + u] = 0.25 * s.y;
            cr[v * 8u + u] = 0.25 * s.z;
        }
    }
    jpeg_block(j, &cb, 64u);
    jpeg_block(j, &cr, 64u);
    let cw = (j.frame.x + 1u) / 2u;
    let chh = (j.frame.y + 1u) / 2u;
    for (var v = 0u; v < 8u; v = v + 1u) {
        for (var u = 0u; u < 8u; u = u + 1u) {
            let x = bx * 8u + u;
            let y = by * 8u + v;
            if (x < cw && y < chh) {
                store_f(j, j.io.z, y * cw + x, cb[v * 8u + u]);
                store_f(j, j.io.w, y * cw + x, cr[v * 8u + u]);
            }
        }
    }
}

// Triangle-filter (libjpeg's "fancy") upsampling of a half-resolution plane at pixel (x, y).
fn chroma_at(j: Job, region: u32, x: u32, y: u32) -> f32 {
    let cw = (j.frame.x + 1u) / 2u;
    let chh = (j.frame.y + 1u) / 2u;
    let cx = x / 2u;
    let cy = y / 2u;
    var nx = min(cx + 1u, cw - 1u);
    if (x % 2u == 0u) {
        nx = select(cx - 1u, 0u, cx == 0u);
    }
    var ny = min(cy + 1u, chh - 1u);
    if (y % 2u == 0u) {
        ny = select(cy - 1u, 0u, cy == 0u);
    }
    let near = 0.75 * load_f(j, region, cy * cw + cx) + 0.25 * load_f(j, region, cy * cw + nx);
    let far = 0.75 * load_f(j, region, ny * cw + cx) + 0.25 * load_f(j, region, ny * cw + nx);
    return 0.75 * near + 0.25 * far;
}

// Decoded YCbCr back to RGB.
@compute @workgroup_size(64)
fn jpeg_compose(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let yy = load_f(j, j.io.x, id.y * j.frame.x + x);
        let cb = chroma_at(j, j.io.z, x, id.y) - 128.0;
        let cr = chroma_at(j, j.io.w, x, id.y) - 128.0;
        let c = vec3<f32>(yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb);
        store_rgb(j, j.io.y, x, id.y, c * (1.0 / 255.0));
    }
}

// Uniform displacements in ±max (p0.x) along x into io.x and along y into io.y.
@compute @workgroup_size(64)
fn elastic_noise(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = jobs[id.z];
    for (var i = 0u; i < PPI; i = i + 1u) {
        let x = pixel_x(id.x, i);
        if (x >= j.frame.x || id.y >= j.frame.y) {
            return;
        }
        let p = id.y * j.frame.x + x;
        let w = rand4(j, 0u, p);
        store_f(j, j.io.x, p, (2.0 * unit(w.x) - 1.0) * j.p0.x);
        store_f(j, j.io.y, p, (2.0 * unit(w.y) - 1.0) * j.p0.x);
    }
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
        let p = id.y * j.frame.x + x;
        let fx = f32(x) + load_f(j, j.io.z, p);
        let fy = f32(id.y) + load_f(j, j.io.w, p);
        let x0 = i32(floor(fx));
        let y0 = i32(floor(fy));
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
