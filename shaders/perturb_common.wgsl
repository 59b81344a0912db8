// Shared by every perturbation kernel (prepended to each `perturb_*.wgsl`): the job layout,
// the bindings, Philox-4x32-10 counter-based randomness and pixel access.
//
// CPU reference: `src/perturb/common.rs`, with the same names and the same f32 math.

struct Job {
    frame: vec4<u32>, // width, height, first word of the frame, words per plane
    io: vec4<u32>,    // source, destination, auxiliary a, auxiliary b (word offsets)
    aux: vec4<u32>,   // auxiliary c, small words, first table word, table words
    rng: vec4<u32>,   // Philox key (2 words), stream, 0
    ints: vec4<u32>,
    p0: vec4<f32>,
    p1: vec4<f32>,
    p2: vec4<f32>,
}

// A dispatch's jobs (one per frame; `gpu::JOB_WINDOW`) in a uniform buffer: a job's loads
// are scalar loads for the whole SIMD row on lavapipe, not a loop over the lanes.
@group(0) @binding(0) var<uniform> jobs: array<Job, 256>;
// The data store (`plan`'s word indices): a storage buffer of 32-bit words. On Mesa 25's
// lavapipe a per-pixel kernel through it costs about 0.7× the CPU time of the same through an
// `r32uint` storage texture, and a 35-tap blur the same (on Mesa 22.3 the texture was 2.6×
// cheaper for the blur; `docs/benchmarks.md`).
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
// The lookup tables: `gpu::perturb_wgsl` puts their binding in place of the next line and the
// load into `table_u`: a 64 KiB uniform buffer when a batch's tables fit,
// a storage buffer otherwise.
TABLES_BINDING

// The same store as `data`, bound a second time as 16-byte words: on lavapipe an access to
// four consecutive words through it costs about what one word through `data` costs (both are a
// loop over the SIMD lanes). Only at word indices that are multiples of 4 (frames start on
// 256-byte boundaries; a region or row is aligned when its offset and the frame's width are
// multiples of 4); the CPU reference reads and writes the same words one by one.
@group(0) @binding(3) var<storage, read_write> quads: array<vec4<u32>>;

// Whether a job's region (word offset) and rows lie on 16-byte boundaries (where `quad` and
// `set_quad` may be used).
fn rows_aligned(j: Job, region: u32) -> bool {
    return ((j.frame.z + region) & 3u) == 0u && (j.frame.x & 3u) == 0u;
}

// Words per row of a plane of bytes (pixel x in byte x mod 4 of word x / 4).
fn byte_words(j: Job) -> u32 {
    return (j.frame.x + 3u) / 4u;
}

// Four consecutive words from word i of a region (frame word + region + i a multiple of 4).
fn quad(j: Job, region: u32, i: u32) -> vec4<u32> {
    return quads[(j.frame.z + region + i) >> 2u];
}

fn set_quad(j: Job, region: u32, i: u32, v: vec4<u32>) {
    quads[(j.frame.z + region + i) >> 2u] = v;
}

fn data_load(i: u32) -> u32 {
    return data[i];
}

fn data_store(i: u32, v: u32) {
    data[i] = v;
}

// Pixels of a row per invocation (`plan::PIXELS_PER_INVOCATION`): a workgroup of 64 covers
// 64·PPI consecutive pixels, invocation l taking pixels l, l + 64, l + 128, … of them, so that
// neighbouring invocations touch neighbouring pixels.
const PPI: u32 = 16u;

fn pixel_x(gx: u32, i: u32) -> u32 {
    return (gx & ~63u) * PPI + i * 64u + (gx & 63u);
}
// The quads (four consecutive pixels) of a workgroup's 64·PPI pixels: invocation l takes
// pixels 4l, 4l + 256, 4l + 512, 4l + 768 (m = 0, 4, 8, 12) and the three after each, so that
// neighbouring invocations read neighbouring quads.
fn quad_x(gx: u32, m: u32) -> u32 {
    return (gx & ~63u) * PPI + m * 64u + (gx & 63u) * 4u;
}

// Groups of four pixels of a row, x, x + 64, x + 128 and x + 192 for x in 256k to 256k + 63
// (the pixels `pixel_x` gives one invocation at i = 4g to 4g + 3): the unit of a noise kernel's
// randomness. A group draws `blocks` consecutive Philox blocks from element `group_element`
// on and shares their words out among its pixels (slot s: pixel x + 64s), so that a lane draws
// each block once for four pixels while neighbouring lanes still touch neighbouring words
// (lanes four words apart made the noise kernels 30 % slower on lavapipe). The kernels write
// a group's pixels out one by one with a `return` before each past the row's end: guarded by
// `if`s on the count inside the row instead, they ran 10 % slower (same frames).
fn group_element(j: Job, x: u32, y: u32, blocks: u32) -> u32 {
    let runs = (j.frame.x + 255u) >> 8u;
    return ((y * runs + (x >> 8u)) * 64u + (x & 63u)) * blocks;
}

const ITEMS_ROW: u32 = 65536u;

// 32×32 → 64-bit multiply as (high, low) words.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

// Philox-4x32-10, as `rng::philox4x32_10`.
fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round = round + 1u) {
        if (round > 0u) {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// Four random words for (step, element) of the job's stream.
fn rand4(j: Job, step: u32, element: u32) -> vec4<u32> {
    return philox(vec4<u32>(j.rng.z, step, element, 0u), j.rng.xy);
}

// A uniform number in [0, 1) from the top 24 bits of a word.
fn unit(w: u32) -> f32 {
    return f32(w >> 8u) * (1.0 / 16777216.0);
}

// Two standard normal numbers from two words (Box–Muller; the first uniform in (0, 1]).
fn normal_pair(a: u32, b: u32) -> vec2<f32> {
    let u1 = (f32(a >> 8u) + 1.0) * (1.0 / 16777216.0);
    let r = sqrt(-2.0 * log(u1));
    let t = 6.2831855 * unit(b);
    return vec2<f32>(r * cos(t), r * sin(t));
}

fn word(j: Job, region: u32, i: u32) -> u32 {
    return data_load(j.frame.z + region + i);
}

fn set_word(j: Job, region: u32, i: u32, v: u32) {
    data_store(j.frame.z + region + i, v);
}

fn load_rgb(j: Job, region: u32, x: u32, y: u32) -> vec3<f32> {
    return unpack_rgb(data_load(j.frame.z + region + y * j.frame.x + x));
}

// A pixel's word as RGB in [0, 1].
fn unpack_rgb(w: u32) -> vec3<f32> {
    return unpack4x8unorm(w).rgb;
}

// Float-to-integer conversions of values known to be integers, without a conversion
// instruction: lavapipe (LLVM 15) converts f32 to integers lane by lane on AVX2, with a NaN
// test per lane, which made packing a pixel cost more than the corruption around it. An
// integer v in 0..2²³ plus 2²³ has v in the low bits of its f32 word, exactly; an integer in
// −2²²..2²² plus 1.5·2²³ likewise. The CPU reference converts with `as`, to the same values.
fn exact_u32(v: f32) -> u32 {
    return bitcast<u32>(v + 8388608.0) - 0x4b000000u;
}

fn exact_u32x3(v: vec3<f32>) -> vec3<u32> {
    return bitcast<vec3<u32>>(v + vec3<f32>(8388608.0)) - vec3<u32>(0x4b000000u);
}

fn exact_u32x4(v: vec4<f32>) -> vec4<u32> {
    return bitcast<vec4<u32>>(v + vec4<f32>(8388608.0)) - vec4<u32>(0x4b000000u);
}

fn exact_i32(v: f32) -> i32 {
    return bitcast<i32>(v + 12582912.0) - 0x4b400000;
}

// pack4x8unorm(vec4(c, 1)): the same rounding (half to even), through `exact_u32x3`.
fn pack_rgb(c: vec3<f32>) -> u32 {
    let u = exact_u32x3(round(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0));
    return u.x | (u.y << 8u) | (u.z << 16u) | 0xff000000u;
}

fn store_rgb(j: Job, region: u32, x: u32, y: u32, c: vec3<f32>) {
    data_store(j.frame.z + region + y * j.frame.x + x, pack_rgb(c));
}

fn load_f(j: Job, region: u32, i: u32) -> f32 {
    return bitcast<f32>(data_load(j.frame.z + region + i));
}

fn store_f(j: Job, region: u32, i: u32, v: f32) {
    data_store(j.frame.z + region + i, bitcast<u32>(v));
}

fn small_f(j: Job, slot: u32) -> f32 {
    return bitcast<f32>(data_load(j.frame.z + j.aux.y + slot));
}

fn table_u(j: Job, i: u32) -> u32 {
    return TABLE_LOAD;
}

fn table_f(j: Job, i: u32) -> f32 {
    return bitcast<f32>(table_u(j, i));
}

// RGB in [0, 1] as three 10-bit fields (the scratch format of separable blurs).
fn pack10(c: vec3<f32>) -> u32 {
    let q = exact_u32x3(floor(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 1023.0 + 0.5));
    return q.x | (q.y << 10u) | (q.z << 20u);
}

fn unpack10(v: u32) -> vec3<f32> {
    return vec3<f32>(f32(v & 1023u), f32((v >> 10u) & 1023u), f32((v >> 20u) & 1023u)) * (1.0 / 1023.0);
}

// An index outside 0..n mapped back: 0 nearest, 1 half-sample symmetric, 2 whole-sample
// symmetric (reflect-101). One reflection (callers overhang by less than n), then clamped.
fn edge(i: i32, n: i32, mode: u32) -> i32 {
    if (i >= 0 && i < n) {
        return i;
    }
    var m = i;
    if (mode == 1u) {
        m = select(2 * n - 1 - i, -i - 1, i < 0);
    } else if (mode == 2u) {
        m = select(2 * n - 2 - i, -i, i < 0);
    }
    return clamp(m, 0, n - 1);
}

fn luma(c: vec3<f32>) -> f32 {
    return 0.299 * c.x + 0.587 * c.y + 0.114 * c.z;
}

// Where pixel i of a frame lies on the grid of a reduced one (p = 1/s; cell centres at
// s·k + (s − 1)/2), clamped to its n cells: (the cell at or before it, the next, the weight
// of the next).
fn cell_pair(i: u32, p: f32, n: u32) -> vec3<f32> {
    let u = clamp((f32(i) + 0.5) * p - 0.5, 0.0, f32(n - 1u));
    let f = floor(u);
    return vec3<f32>(f, min(f + 1.0, f32(n - 1u)), u - f);
}
