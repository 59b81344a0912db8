//! The dispatch plan of a batch, built without a GPU: every perturbation of every frame's chain
//! becomes a few passes (kernels of `shaders/perturb_*.wgsl` with a job each); passes at the
//! same chain position with the same kernels are grouped across frames into one dispatch. The
//! GPU engine records the plan into one submission; [`super::cpu::run_plan`] executes the same
//! plan with the CPU kernels of the same names.
//!
//! Memory: one store of `u32` words (on the GPU a storage buffer) holds every frame's regions,
//! one after another. A frame's regions are planes of `width × height` words: image A, image B
//! (RGBA8, ping-pong), T (a packed 10-bit RGB or f32 scratch plane) and the f32 planes P, Q, R,
//! then [`SMALL_WORDS`] words of per-frame scalars (means, minima, maxima), padded to a
//! multiple of [`FRAME_ALIGN_WORDS`] so that every frame starts on a 256-byte boundary.

use std::collections::HashMap;

use bytemuck::{Pod, Zeroable};

use super::{Corruption, FrameIn, Perturbation};
use crate::rng::StreamKey;

/// Invocations per workgroup of the per-pixel, per-row and per-block kernels.
pub const WORKGROUP_SIZE: u32 = 64;
/// Invocations per workgroup of the reductions.
pub const REDUCE_SIZE: u32 = 256;
/// Pixels of a row one invocation of a per-pixel kernel handles.
pub const PIXELS_PER_INVOCATION: u32 = 16;
// The noise kernels' groups (`common::for_groups`) are pixels 4g to 4g + 3 of an invocation,
// and a workgroup's pixels a whole number of 256-pixel runs.
const _: () = assert!(PIXELS_PER_INVOCATION % 4 == 0 && (64 * PIXELS_PER_INVOCATION) % 256 == 0);
/// Rows of a quad column one invocation of a vertical blur takes (`BAND` in
/// `shaders/perturb_blur.wgsl`).
pub const BAND_ROWS: u32 = 8;
/// Per-frame scalar words after the planes.
pub const SMALL_WORDS: u32 = 64;
/// Alignment of every frame's place in the store, in words (256 bytes: a host may map each
/// frame's place on its own, which wgpu allows at multiples of 8 bytes).
pub const FRAME_ALIGN_WORDS: u64 = 64;
/// Cells of a row one invocation of `pixelate` takes (the row's input and output ranges are
/// read once for them).
pub const PIXELATE_RUN: u32 = 8;
/// Invocations along x of an `Items` dispatch row.
pub const ITEMS_ROW: u32 = 1024 * WORKGROUP_SIZE;

/// Region indices of a frame (planes of width × height words).
pub const IMAGE_A: u32 = 0;
pub const IMAGE_B: u32 = 1;
pub const PLANE_T: u32 = 2;
pub const PLANE_P: u32 = 3;
pub const PLANE_Q: u32 = 4;
pub const PLANE_R: u32 = 5;

/// Small-word slots.
pub const SMALL_MEAN: u32 = 0; // 3 words: mean r, g, b
pub const SMALL_IMAGE_MAX: u32 = 3;
pub const SMALL_PLANE_MIN: u32 = 4;
pub const SMALL_PLANE_MAX: u32 = 5;

/// Edge modes of the convolutions.
pub const EDGE_NEAREST: u32 = 0;
/// Half-sample symmetric (scipy's `reflect`: d c b a | a b c d).
pub const EDGE_REFLECT: u32 = 1;
/// Whole-sample symmetric (OpenCV's `BORDER_REFLECT_101`: d c b | a b c d).
pub const EDGE_REFLECT_101: u32 = 2;

/// One kernel invocation set's parameters: which frame, which regions, which random stream.
/// Mirrors `struct Job` in `shaders/perturb_common.wgsl` (128 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Job {
    /// `width px, height px, first word of the frame's regions, words per plane`.
    pub frame: [u32; 4],
    /// `source, destination, auxiliary a, auxiliary b` (word offsets from the frame's first).
    pub io: [u32; 4],
    /// `auxiliary c, small words, first table word, table words`.
    pub aux: [u32; 4],
    /// Philox key (2 words), stream, 0.
    pub rng: [u32; 4],
    /// Integer parameters (per kernel).
    pub ints: [u32; 4],
    /// Real parameters (per kernel).
    pub p0: [f32; 4],
    pub p1: [f32; 4],
    pub p2: [f32; 4],
}

/// Shader families (one WGSL file each, after `perturb_common.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Noise,
    Colour,
    Blur,
    Weather,
    Digital,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Noise,
        Family::Colour,
        Family::Blur,
        Family::Weather,
        Family::Digital,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Family::Noise => "perturb_noise",
            Family::Colour => "perturb_colour",
            Family::Blur => "perturb_blur",
            Family::Weather => "perturb_weather",
            Family::Digital => "perturb_digital",
        }
    }
}

/// How a kernel's invocations cover a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// [`PIXELS_PER_INVOCATION`] pixels of a row per invocation.
    Pixels,
    /// One row per invocation.
    Rows,
    /// One 16×16 block per invocation.
    Blocks16,
    /// [`PIXELS_PER_INVOCATION`] 2×2 pixel quads of a row of quads per invocation.
    Quads,
    /// [`BAND_ROWS`] rows of a quad (four consecutive pixels) per invocation.
    Bands,
    /// [`BAND_ROWS`] columns of four consecutive rows per invocation, invocations along y.
    Columns,
    /// Four consecutive rows of one column per invocation.
    Stacks,
    /// One workgroup of [`REDUCE_SIZE`] per frame.
    Reduce,
    /// `ints[3]` items, [`ITEMS_ROW`] per dispatch row.
    Items,
}

macro_rules! kernels {
    ($($variant:ident => $name:literal, $family:ident, $shape:ident;)*) => {
        /// Every compute kernel (WGSL entry point and CPU function of the same name).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kernel { $($variant,)* }
        impl Kernel {
            pub const ALL: &'static [Kernel] = &[$(Kernel::$variant,)*];
            /// The entry point's name.
            pub fn name(self) -> &'static str { match self { $(Kernel::$variant => $name,)* } }
            pub fn family(self) -> Family { match self { $(Kernel::$variant => Family::$family,)* } }
            pub fn shape(self) -> Shape { match self { $(Kernel::$variant => Shape::$shape,)* } }
        }
    };
}

kernels! {
    GaussianNoise => "gaussian_noise", Noise, Pixels;
    ShotNoise => "shot_noise", Noise, Pixels;
    ImpulseNoise => "impulse_noise", Noise, Pixels;
    SpeckleNoise => "speckle_noise", Noise, Pixels;
    Brightness => "brightness", Colour, Pixels;
    Saturate => "saturate", Colour, Pixels;
    FrameStats => "frame_stats", Colour, Reduce;
    PlaneMinMax => "plane_min_max", Colour, Reduce;
    Contrast => "contrast", Colour, Pixels;
    BlurH => "blur_h", Blur, Columns;
    BlurV => "blur_v", Blur, Bands;
    PlaneBlurH => "plane_blur_h", Blur, Columns;
    PlaneBlurV => "plane_blur_v", Blur, Bands;
    RowPrefix => "row_prefix", Blur, Rows;
    DefocusDisk => "defocus_disk", Blur, Pixels;
    DefocusDown => "defocus_down", Blur, Pixels;
    DefocusUp => "defocus_up", Blur, Pixels;
    ElasticDown => "elastic_down", Blur, Pixels;
    MotionBlur => "motion_blur", Blur, Pixels;
    MotionPairSums => "motion_pair_sums", Blur, Pixels;
    MotionBlurPairs => "motion_blur_pairs", Blur, Pixels;
    SnowPairMeans => "snow_pair_means", Blur, Pixels;
    SnowMotion => "snow_motion", Blur, Pixels;
    ZoomBlur => "zoom_blur", Blur, Stacks;
    GlassGather => "glass_gather", Blur, Pixels;
    FractalLattice => "fractal_lattice", Weather, Items;
    FractalPlane => "fractal_plane", Weather, Pixels;
    FogCompose => "fog_compose", Weather, Pixels;
    FrostCompose => "frost_compose", Weather, Pixels;
    SnowLattice => "snow_lattice", Weather, Items;
    SnowLayer => "snow_layer", Weather, Pixels;
    SnowCompose => "snow_compose", Weather, Pixels;
    SpatterNoise => "spatter_noise", Weather, Pixels;
    SpatterMask => "spatter_mask", Weather, Pixels;
    SpatterWater => "spatter_water", Weather, Pixels;
    SpatterMud => "spatter_mud", Weather, Pixels;
    Pixelate => "pixelate", Digital, Items;
    JpegMcu => "jpeg_mcu", Digital, Blocks16;
    JpegCompose => "jpeg_compose", Digital, Quads;
    ElasticNoise => "elastic_noise", Digital, Pixels;
    ElasticWarp => "elastic_warp", Digital, Pixels;
}

impl Kernel {
    /// Workgroup size along x.
    pub fn workgroup_size(self) -> u32 {
        if self.shape() == Shape::Reduce {
            REDUCE_SIZE
        } else {
            WORKGROUP_SIZE
        }
    }

    /// Workgroups (x, y) covering one job.
    pub fn groups(self, job: &Job) -> [u32; 2] {
        let (w, h) = (job.frame[0], job.frame[1]);
        match self.shape() {
            Shape::Pixels => [w.div_ceil(WORKGROUP_SIZE * PIXELS_PER_INVOCATION), h],
            Shape::Rows => [h.div_ceil(WORKGROUP_SIZE), 1],
            Shape::Quads => [
                w.div_ceil(2)
                    .div_ceil(WORKGROUP_SIZE * PIXELS_PER_INVOCATION),
                h.div_ceil(2),
            ],
            Shape::Blocks16 => [w.div_ceil(16).div_ceil(WORKGROUP_SIZE), h.div_ceil(16)],
            Shape::Bands => [
                w.div_ceil(4).div_ceil(WORKGROUP_SIZE),
                h.div_ceil(BAND_ROWS),
            ],
            Shape::Columns => [
                h.div_ceil(4).div_ceil(WORKGROUP_SIZE),
                w.div_ceil(BAND_ROWS),
            ],
            Shape::Stacks => [w.div_ceil(WORKGROUP_SIZE), h.div_ceil(4)],
            Shape::Reduce => [1, 1],
            Shape::Items => {
                let n = job.ints[3];
                let rows = n.div_ceil(ITEMS_ROW).max(1);
                let x = if rows > 1 {
                    ITEMS_ROW / WORKGROUP_SIZE
                } else {
                    n.div_ceil(WORKGROUP_SIZE).max(1)
                };
                [x, rows]
            }
        }
    }
}

/// One dispatch: a kernel over `n_jobs` consecutive jobs (one per workgroup layer z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub kernel: Kernel,
    pub first_job: u32,
    pub n_jobs: u32,
    pub groups: [u32; 3],
}

/// Where a frame lives in the data buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSlot {
    pub width_px: u32,
    pub height_px: u32,
    /// First word of the frame's regions.
    pub base: u64,
    /// Words of the frame's regions (planes and small words).
    pub words: u64,
    /// Word offset (from `base`) of the perturbed image.
    pub result: u32,
}

/// A batch as dispatches over one data buffer.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub jobs: Vec<Job>,
    pub dispatches: Vec<Dispatch>,
    pub tables: Vec<u32>,
    pub frames: Vec<FrameSlot>,
    /// Words of the data buffer.
    pub data_words: u64,
}

/// Words of the data buffer a frame needs for its chain (a multiple of
/// [`FRAME_ALIGN_WORDS`]).
pub fn frame_words(width_px: u32, height_px: u32, chain: &[Perturbation]) -> u64 {
    let plane = u64::from(width_px) * u64::from(height_px);
    (u64::from(frame_regions(chain)) * plane + u64::from(SMALL_WORDS))
        .next_multiple_of(FRAME_ALIGN_WORDS)
}

/// Planes a frame's chain needs.
fn frame_regions(chain: &[Perturbation]) -> u32 {
    chain
        .iter()
        .map(|p| regions_needed(p.corruption))
        .max()
        .unwrap_or(1)
}

fn regions_needed(c: Corruption) -> u32 {
    use Corruption as C;
    match c {
        C::GaussianNoise
        | C::ShotNoise
        | C::ImpulseNoise
        | C::SpeckleNoise
        | C::Brightness
        | C::Saturate
        | C::Contrast
        | C::ZoomBlur
        | C::Pixelate => 2,
        C::GaussianBlur | C::GlassBlur => 3,
        C::DefocusBlur
        | C::MotionBlur
        | C::ElasticTransform
        | C::Fog
        | C::Frost
        | C::Snow
        | C::Spatter
        | C::JpegCompression => 6,
    }
}

/// Lookup tables shared by the jobs of a plan (identical tables stored once).
#[derive(Default)]
struct Tables {
    words: Vec<u32>,
    index: HashMap<Vec<u32>, u32>,
}

impl Tables {
    fn add(&mut self, table: Vec<u32>) -> (u32, u32) {
        let len = table.len() as u32;
        if let Some(&at) = self.index.get(&table) {
            return (at, len);
        }
        let at = self.words.len() as u32;
        self.words.extend_from_slice(&table);
        self.index.insert(table, at);
        (at, len)
    }
    fn add_f32(&mut self, table: &[f32]) -> (u32, u32) {
        self.add(table.iter().map(|v| v.to_bits()).collect())
    }
}

/// A pass under construction: the kernel and its job (frame words filled in by `build`).
struct Pass {
    kernel: Kernel,
    job: Job,
}

/// What the pass builders of one perturbation know.
struct Ctx<'t> {
    w: u32,
    h: u32,
    plane: u32,
    rng: StreamKey,
    tables: &'t mut Tables,
    passes: Vec<Pass>,
}

impl Ctx<'_> {
    fn region(&self, r: u32) -> u32 {
        r * self.plane
    }
    fn small(&self, regions: u32) -> u32 {
        regions * self.plane
    }
    /// A job with the frame's size, the stream and the given regions.
    fn job(&self, src: u32, dst: u32) -> Job {
        Job {
            frame: [self.w, self.h, 0, self.plane],
            io: [self.region(src), self.region(dst), 0, 0],
            rng: [self.rng.key[0], self.rng.key[1], self.rng.stream, 0],
            ..Job::default()
        }
    }
    fn push(&mut self, kernel: Kernel, job: Job) {
        self.passes.push(Pass { kernel, job });
    }
    /// A per-frame random number in [0, 1) (host side; kernels get it as a parameter).
    fn uniform(&self, index: u32) -> f64 {
        self.rng.uniform_f64(u32::MAX, index)
    }
}

/// The integer factor by which `defocus_blur` reduces the frame before its disk of radius
/// `radius_px`, so that the disk it draws has a radius of `working_radius_px` to twice that
/// (1: the disk on the frame itself, when `radius_px` < 2 · `working_radius_px`).
pub fn defocus_reduction(radius_px: f32, working_radius_px: f32) -> u32 {
    (radius_px / working_radius_px.max(1.0)).floor().max(1.0) as u32
}

/// The disk of radius `r` on an image of `w × h` in region `src` (the frame's image or a
/// smaller one at the start of the region) into word `dst_word` of the frame: row prefix sums
/// into P, Q, R, then the disk (its result as 10-bit words when `packed`).
fn defocus_disk(c: &mut Ctx, src: u32, dst_word: u32, w: u32, h: u32, r: f32, packed: bool) {
    let r = r.max(0.0);
    let ri = r.floor() as i32;
    let mut table = Vec::new();
    let mut total = 0.0f32;
    for dy in -ri..=ri {
        let hw = (r * r - (dy * dy) as f32).max(0.0).sqrt();
        let n = hw.floor();
        let frac = hw - n;
        total += 2.0 * n + 1.0 + 2.0 * frac;
        table.extend([n as u32, frac.to_bits()]);
    }
    let (t, n) = c.tables.add(table);
    let mut j = c.job(src, PLANE_P);
    j.frame[0] = w;
    j.frame[1] = h;
    c.push(Kernel::RowPrefix, j);
    let mut j = c.job(PLANE_P, PLANE_P);
    j.frame[0] = w;
    j.frame[1] = h;
    j.io[1] = dst_word;
    j.io[2] = c.region(src);
    j.aux[2] = t;
    j.aux[3] = n;
    j.ints[0] = ri as u32;
    j.ints[1] = u32::from(packed);
    j.p0[0] = 1.0 / total;
    c.push(Kernel::DefocusDisk, j);
}

/// Normalised Gaussian weights, scipy's `gaussian_filter1d` (radius `int(truncate·σ + 0.5)`).
pub fn gaussian_weights(sigma: f32, truncate: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return vec![1.0];
    }
    let sigma = f64::from(sigma);
    let radius = (f64::from(truncate) * sigma + 0.5) as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Separable Gaussian blur of an RGBA8 image through the packed plane T.
fn blur_rgb(c: &mut Ctx, src: u32, dst: u32, sigma: f32, truncate: f32, edge: u32) {
    let weights = gaussian_weights(sigma, truncate);
    let radius = (weights.len() / 2) as u32;
    let (t, n) = c.tables.add_f32(&weights);
    let mut j = c.job(src, PLANE_T);
    j.aux[2] = t;
    j.aux[3] = n;
    j.ints = [radius, edge, 0, 0];
    c.push(Kernel::BlurH, j);
    let mut j = c.job(PLANE_T, dst);
    j.aux[2] = t;
    j.aux[3] = n;
    j.ints = [radius, edge, 0, 0];
    c.push(Kernel::BlurV, j);
}

/// Separable Gaussian blur of one or two f32 planes through T (and R for the second):
/// `src0 → dst0`, `src1 → dst1`, scaled by `scale`.
#[allow(clippy::too_many_arguments)]
fn blur_planes(
    c: &mut Ctx,
    planes: &[(u32, u32)],
    sigma_x: f32,
    sigma_y: f32,
    truncate: f32,
    edge: u32,
    scale: f32,
) {
    // A second plane's words, or 0 (unused) when there is one plane.
    let (src1, dst1) = planes
        .get(1)
        .map_or((0, 0), |&(src, dst)| (c.region(src), c.region(dst)));
    let set = PlaneSet {
        w: c.w,
        h: c.h,
        src: [c.region(planes[0].0), src1],
        tmp: [c.region(PLANE_T), c.region(PLANE_R)],
        dst: [c.region(planes[0].1), dst1],
        n_planes: planes.len() as u32,
    };
    blur_plane_set(c, &set, sigma_x, sigma_y, truncate, edge, scale);
}

/// One or two f32 planes of `w × h` words (word offsets in the frame: where the blur reads
/// them, keeps its horizontal pass and writes them).
struct PlaneSet {
    w: u32,
    h: u32,
    src: [u32; 2],
    tmp: [u32; 2],
    dst: [u32; 2],
    n_planes: u32,
}

fn blur_plane_set(
    c: &mut Ctx,
    set: &PlaneSet,
    sigma_x: f32,
    sigma_y: f32,
    truncate: f32,
    edge: u32,
    scale: f32,
) {
    let wx = gaussian_weights(sigma_x, truncate);
    let wy = gaussian_weights(sigma_y, truncate);
    let (tx, nx) = c.tables.add_f32(&wx);
    let (ty, ny) = c.tables.add_f32(&wy);
    let mut j = c.job(0, 0);
    j.frame[0] = set.w;
    j.frame[1] = set.h;
    j.io = [set.src[0], set.tmp[0], set.src[1], set.tmp[1]];
    j.aux[2] = tx;
    j.aux[3] = nx;
    j.ints = [(wx.len() / 2) as u32, edge, set.n_planes, 0];
    j.p0[0] = 1.0;
    c.push(Kernel::PlaneBlurH, j);
    j.io = [set.tmp[0], set.dst[0], set.tmp[1], set.dst[1]];
    j.aux[2] = ty;
    j.aux[3] = ny;
    j.ints = [(wy.len() / 2) as u32, edge, set.n_planes, 0];
    j.p0[0] = scale;
    c.push(Kernel::PlaneBlurV, j);
}

/// How many times `elastic_transform` reduces its displacement field along an axis before
/// smoothing it with σ: the largest s with σ / s ≥ `working_sigma_px` (1: smoothed at full
/// resolution along that axis).
pub fn elastic_reduction(sigma_px: f32, working_sigma_px: f32) -> u32 {
    (sigma_px / working_sigma_px.max(0.5)).floor().max(1.0) as u32
}

/// The σ, in cells of s pixels, that smooths the means of s-pixel cells as σ smooths the
/// pixels (a cell's mean is itself a box filter of variance (s² − 1)/12 px²).
pub fn reduced_sigma(sigma_px: f32, s: u32) -> f32 {
    let s = s as f32;
    (sigma_px * sigma_px - (s * s - 1.0) / 12.0).max(0.0).sqrt() / s
}

/// The Gaussian weights of `_motion_blur`'s kernel (one-sided, `2·radius + 1` taps, summing to
/// 1) and its direction `(py, px) / hyp`.
fn motion_kernel(radius: f32, sigma: f32, angle_deg: f64) -> (Vec<f64>, [f64; 2]) {
    let width = 2 * radius.round().max(0.0) as i64 + 1;
    let sigma = f64::from(sigma.max(1e-3));
    let k: Vec<f64> = (0..width)
        .map(|x| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let z: f64 = k.iter().sum();
    let a = angle_deg.to_radians();
    let (py, px) = (width as f64 * a.sin(), width as f64 * a.cos());
    let hyp = py.hypot(px);
    (k.iter().map(|v| v / z).collect(), [py / hyp, px / hyp])
}

/// Tap i's shift `(dx, dy)`: the tap reads the pixel at (x − dx, y − dy).
fn motion_shift(i: usize, dir: [f64; 2]) -> (i64, i64) {
    let dy = -((i as f64 * dir[0]) - 0.5).ceil() as i64;
    let dx = -((i as f64 * dir[1]) - 0.5).ceil() as i64;
    (dx, dy)
}

fn pack_shift(dx: i64, dy: i64) -> u32 {
    (dx as i16 as u16 as u32) | ((dy as i16 as u16 as u32) << 16)
}

/// The taps of `imagecorruptions`' `_motion_blur` (the original stops at the first tap shifted
/// by a frame's width or height): `(dx, dy, weight)`, and the kernel's direction.
fn motion_tap_list(
    w: u32,
    h: u32,
    radius: f32,
    sigma: f32,
    angle_deg: f64,
) -> (Vec<(i64, i64, f64)>, [f64; 2]) {
    let (k, dir) = motion_kernel(radius, sigma, angle_deg);
    let mut taps = Vec::new();
    for (i, ki) in k.iter().enumerate() {
        let (dx, dy) = motion_shift(i, dir);
        if dy.unsigned_abs() >= u64::from(h) || dx.unsigned_abs() >= u64::from(w) {
            break;
        }
        taps.push((dx, dy, *ki));
    }
    (taps, dir)
}

/// The taps of `imagecorruptions`' `_motion_blur`: integer shifts `(dx, dy)` and weights, as
/// `[dx | dy << 16 (16-bit two's complement each), weight bits]` per tap.
pub fn motion_taps(w: u32, h: u32, radius: f32, sigma: f32, angle_deg: f64) -> Vec<u32> {
    motion_tap_list(w, h, radius, sigma, angle_deg)
        .0
        .into_iter()
        .flat_map(|(dx, dy, t)| [pack_shift(dx, dy), (t as f32).to_bits()])
        .collect()
}

/// Two neighbouring taps of `_motion_blur` read as one.
pub struct MotionPair {
    /// The first tap's shift, packed as in [`motion_taps`].
    pub shift: u32,
    /// The step from the first tap's pixel to the second's: 0 along x, 1 along y, 2 both, 3
    /// none (the same pixel twice).
    pub step: usize,
    /// The sum of the two taps' weights.
    pub weight: f64,
}

/// `_motion_blur`'s taps two at a time.
pub struct MotionPairs {
    pub pairs: Vec<MotionPair>,
    /// The step `(ex, ey)` from a pair's first pixel to its second along x and y (±1 each):
    /// a pair reads the pixel and its neighbour at (ex, 0), (0, ey) or (ex, ey).
    pub step_px: [i32; 2],
}

/// `_motion_blur`'s taps in pairs: taps 2m and 2m + 1 read neighbouring pixels (consecutive
/// taps step by one pixel along x, y or both, or stay on the same pixel where neither
/// coordinate's rounding moves), so a plane of the sums (or means) of each pixel and its
/// neighbour in that direction (or itself) holds both in one value, taken at the mean of their
/// weights. An odd last tap pairs with the next tap of the line at weight 0.
pub fn motion_pairs(w: u32, h: u32, radius: f32, sigma: f32, angle_deg: f64) -> MotionPairs {
    let (mut taps, dir) = motion_tap_list(w, h, radius, sigma, angle_deg);
    if taps.len() % 2 == 1 {
        let (dx, dy) = motion_shift(taps.len(), dir);
        taps.push((dx, dy, 0.0));
    }
    // The pixel read moves by −(shift step): along x the sign of dir's x, along y of dir's y.
    let step_px = [
        if dir[1] < 0.0 { -1 } else { 1 },
        if dir[0] < 0.0 { -1 } else { 1 },
    ];
    let pairs = taps
        .chunks_exact(2)
        .map(|pair| {
            let ((dx0, dy0, t0), (dx1, dy1, t1)) = (pair[0], pair[1]);
            let (mx, my) = (dx0 - dx1, dy0 - dy1);
            debug_assert!(mx == 0 || mx == i64::from(step_px[0]));
            debug_assert!(my == 0 || my == i64::from(step_px[1]));
            MotionPair {
                shift: pack_shift(dx0, dy0),
                step: match (mx != 0, my != 0) {
                    (true, false) => 0,
                    (false, true) => 1,
                    (true, true) => 2,
                    // Both taps on the same pixel (neither coordinate's rounding moved, as
                    // at 45°).
                    (false, false) => 3,
                },
                weight: t0 + t1,
            }
        })
        .collect();
    MotionPairs { pairs, step_px }
}

/// Words of a row of bytes `w` pixels wide.
fn byte_words_of(w: u32) -> u32 {
    w.div_ceil(4)
}

/// The largest |dx| of `snow_motion`'s taps (shift, plane, weight each): how far along a row
/// they reach.
pub fn motion_reach(taps: &[u32]) -> u32 {
    taps.chunks_exact(3)
        .map(|t| i32::from(t[0] as u16 as i16).unsigned_abs())
        .max()
        .unwrap_or(0)
}

/// `shot_noise`'s tables: the CDF of Poisson(λ·v/255) for v = 0..255 ([`poisson_table`], n
/// = ⌊λ⌋ + 1 words a row) followed by its guide ([`poisson_guide`], 2^bits words a row), and
/// (n, bits).
pub fn poisson_tables(lambda: f32) -> (Vec<u32>, u32, u32) {
    let cdf = poisson_table(lambda);
    let n = cdf.len() as u32 / 256;
    // About two buckets per entry of a row: a draw then lands in a bucket that holds one value
    // of k (no comparison at all) in about half the cases, and needs one or two otherwise.
    let bits = (2 * n).next_power_of_two().trailing_zeros().clamp(4, 8);
    let guide = poisson_guide(&cdf, n, bits);
    let mut t = cdf;
    t.extend(guide);
    (t, n, bits)
}

/// The smallest k in 0..=n with u < CDF(k) in row `row` of a CDF table of n words a row (n when
/// there is none): the draw the guide's buckets are made of.
fn poisson_inverse(cdf: &[u32], n: u32, row: u32, u: u32) -> u32 {
    let r = &cdf[(row * n) as usize..((row + 1) * n) as usize];
    r.partition_point(|&c| u >= c) as u32
}

/// A guide to the CDF table (Chen and Asau's guide table, "indexed search"): per row, 2^bits
/// buckets of the 31-bit draw u, each the word `first | last << 16` with the draws at the
/// bucket's smallest and largest u. A draw u then lies between the two of its bucket
/// (u >> (31 − bits)), and `poisson_draw` compares u with the CDF from `first` up, at most
/// `last − first` times: the same k as a search of the whole row.
pub fn poisson_guide(cdf: &[u32], n: u32, bits: u32) -> Vec<u32> {
    let shift = 31 - bits;
    let mut g = Vec::with_capacity(256 << bits);
    for row in 0..256 {
        for b in 0..1u32 << bits {
            let first = poisson_inverse(cdf, n, row, b << shift);
            let last = poisson_inverse(cdf, n, row, ((b + 1) << shift) - 1);
            g.push(first | last << 16);
        }
    }
    g
}

/// `shot_noise`'s draw (`noise::poisson_draw`; the WGSL's the same): the smallest k in 0..=n with
/// u < CDF(k) in row v of `t` ([`poisson_tables`]' layout: n words a row, the guide from word
/// `guide_at` on, buckets of 2^`shift` draws), from the first draw of u's bucket, comparing up
/// to its last.
pub fn poisson_guided_draw(t: &[u32], n: u32, shift: u32, guide_at: u32, v: u32, u: u32) -> u32 {
    let bucket = t[(guide_at + (v << (31 - shift)) + (u >> shift)) as usize];
    let last = bucket >> 16;
    let row = v * n;
    let mut k = bucket & 0xffff;
    while k < last && u >= t[(row + k) as usize] {
        k += 1;
    }
    k
}

/// Inverse CDF of Poisson(λ·v/255) for v = 0..255 as 31-bit fixed point: entry `[v][j]` is
/// ⌊P(X ≤ j)·2³¹⌋ for j = 0..=⌊λ⌋ (a draw above ⌊λ⌋ saturates to white anyway).
pub fn poisson_table(lambda: f32) -> Vec<u32> {
    let lambda = f64::from(lambda);
    let n = lambda.floor() as usize + 1;
    let mut t = Vec::with_capacity(256 * n);
    for v in 0..256 {
        let mu = lambda * v as f64 / 255.0;
        let mut log_p = -mu; // ln P(X = 0)
        let mut cdf = 0.0f64;
        for j in 0..n {
            if j > 0 {
                log_p += mu.ln() - (j as f64).ln();
            }
            cdf += if mu == 0.0 {
                if j == 0 { 1.0 } else { 0.0 }
            } else {
                log_p.exp()
            };
            t.push((cdf.min(1.0) * 2_147_483_648.0).floor() as u32);
        }
    }
    t
}

/// The standard JPEG quantisation tables (ITU T.81 Annex K), luma and chroma, row-major. The
/// kernels scale them for a quality as libjpeg's `jpeg_set_quality` (baseline: entries 1–255,
/// see [`jpeg_step`]); the shader has them as constant matrices (`gpu::perturb_wgsl`).
pub const JPEG_LUMA: [u32; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
pub const JPEG_CHROMA: [u32; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// libjpeg's scale factor (percent) of the standard tables for a quality.
pub fn jpeg_scale(quality: f32) -> u32 {
    let q = (quality.round() as u32).clamp(1, 100);
    if q < 50 { 5000 / q } else { 200 - 2 * q }
}

/// A quantisation step: a standard table entry scaled (`(entry·scale + 50) / 100`, 1–255).
pub fn jpeg_step(entry: u32, scale: u32) -> u32 {
    ((entry * scale + 50) / 100).clamp(1, 255)
}

/// Half of the 8-point DCT basis for the even/odd (butterfly) transform, as WGSL's `mat4x4`
/// (`m[column][row]`): row k, column x (x < 4) holds `dct_basis()[2k + parity][x]`. The basis
/// is even in x for even rows and odd for odd rows, so the 8-point transform of a column is
/// these 4×4 products of the sums and differences of its mirrored halves.
pub fn dct_half(parity: usize) -> [[f32; 4]; 4] {
    let basis = dct_basis();
    std::array::from_fn(|c| std::array::from_fn(|r| basis[(2 * r + parity) * 8 + c]))
}

/// The (pi, pj) parity quadrant of a row-major 8×8 table, as WGSL's `mat4x4`: row k, column l
/// holds entry (2k + pi, 2l + pj), the order in which the even/odd DCT yields coefficients.
pub fn parity_quadrant(t: &[f32; 64], pi: usize, pj: usize) -> [[f32; 4]; 4] {
    std::array::from_fn(|c| std::array::from_fn(|r| t[(2 * r + pi) * 8 + 2 * c + pj]))
}

/// The orthonormal 8-point DCT-II basis: entry `[u][x]` = c(u)/2·cos((2x + 1)uπ/16), c(0) = 1/√2.
/// The shader has it as a constant array (the same f32 values, as bits).
pub fn dct_basis() -> [f32; 64] {
    let mut t = [0.0f32; 64];
    for u in 0..8 {
        for x in 0..8 {
            let c = if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            };
            let v = c / 2.0 * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
            t[u * 8 + x] = v as f32;
        }
    }
    t
}

/// scipy's `zoom` output length (`round` as Python's: half to even).
fn zoomed_len(n: u32, z: f64) -> u32 {
    (f64::from(n) * z).round_ties_even() as u32
}

/// `clipped_zoom` of `imagecorruptions` along one axis: output index `i` samples input
/// coordinate `offset + i·scale` (scipy's `zoom`, corners aligned).
fn clipped_zoom_axis(n: u32, z: f64) -> (f32, f32) {
    let ch = (f64::from(n) / z).ceil() as u32;
    let top = (n - ch) / 2;
    let out = zoomed_len(ch, z);
    let scale = if out > 1 {
        f64::from(ch - 1) / f64::from(out - 1)
    } else {
        0.0
    };
    (top as f32, scale as f32)
}

/// The smallest amplitude of a fractal level that is drawn (2⁻¹²; the first level's is 1).
pub const FRACTAL_MIN_AMPLITUDE: f32 = 1.0 / 4096.0;

/// The levels of a plasma fractal (`imagecorruptions`' diamond-square) as value-noise octaves:
/// per level `[first lattice word, lattice columns, log2 of the spacing px, amplitude]`, and the total
/// lattice words (each level's first word a multiple of 4: `fractal_lattice` fills four words
/// of one level from a Philox block). Level n has spacing `map_size / 2^(n+1)` and amplitude `decay^(−2n)` (the
/// original draws `uniform(−w, w)·w` with `w` divided by `decay` per level).
/// Levels whose amplitude is below [`FRACTAL_MIN_AMPLITUDE`] (of the first's, 1) are left out:
/// the finest levels have a lattice point per pixel or nearly, and at the severities' decays
/// they move the normalised fractal by a few ten-thousandths.
fn fractal_levels(w: u32, h: u32, map_size: u32, decay: f32) -> (Vec<u32>, u32) {
    let mut levels = Vec::new();
    let mut total = 0u32;
    let mut n = 0;
    loop {
        let g = map_size >> (n + 1);
        let amp = (f64::from(decay)).powi(-2 * n) as f32;
        if g == 0 || amp < FRACTAL_MIN_AMPLITUDE {
            break;
        }
        let period = map_size / g;
        let nx = ((w - 1) / g + 2).min(period);
        let ny = ((h - 1) / g + 2).min(period);
        levels.extend([total, nx, g.trailing_zeros(), amp.to_bits()]);
        total += (nx * ny).next_multiple_of(4);
        n += 1;
    }
    (levels, total)
}

/// Frost's fractal map size and the range of its random offset along x and y: the map size,
/// but not more than the frame's width and height. (A larger offset along the short side of a
/// narrow frame, 32 × 4096 say, made the lattice cover the whole period of every level: more
/// words than the two planes it has.)
fn frost_map(w: u32, h: u32) -> (u32, (u32, u32)) {
    let map_size = (w.max(h).next_power_of_two() / 4).max(8);
    (map_size, (map_size.min(w), map_size.min(h)))
}

fn fractal(c: &mut Ctx, map_size: u32, decay: f32, offset: (u32, u32)) {
    let (levels, total) = fractal_levels(c.w + offset.0, c.h + offset.1, map_size, decay);
    // The lattice lies in planes Q and R (the last two of fog's and frost's six).
    debug_assert!(
        PLANE_R == PLANE_Q + 1 && total <= 2 * c.plane,
        "{total} lattice words"
    );
    let n_levels = (levels.len() / 4) as u32;
    let (t, n) = c.tables.add(levels);
    let mut j = c.job(PLANE_Q, PLANE_Q);
    j.aux[2] = t;
    j.aux[3] = n;
    j.ints = [n_levels, map_size, 0, total / 4];
    c.push(Kernel::FractalLattice, j);
    let mut j = c.job(PLANE_Q, PLANE_P);
    j.aux[2] = t;
    j.aux[3] = n;
    j.ints = [n_levels, map_size.trailing_zeros(), offset.0, offset.1];
    c.push(Kernel::FractalPlane, j);
}

/// The passes of one perturbation; returns the region holding the image afterwards.
fn passes(c: &mut Ctx, p: &Perturbation, cur: u32, regions: u32) -> u32 {
    use Corruption as C;
    let other = if cur == IMAGE_A { IMAGE_B } else { IMAGE_A };
    let (w, h) = (c.w, c.h);
    let v = |i: usize| p.value(i, w);
    let small = c.small(regions);
    match p.corruption {
        C::GaussianNoise | C::SpeckleNoise => {
            let mut j = c.job(cur, other);
            j.p0[0] = v(0);
            let k = if p.corruption == C::GaussianNoise {
                Kernel::GaussianNoise
            } else {
                Kernel::SpeckleNoise
            };
            c.push(k, j);
            other
        }
        C::ShotNoise => {
            let lambda = v(0);
            let (tables, n, bits) = poisson_tables(lambda);
            let (t, len) = c.tables.add(tables);
            let mut j = c.job(cur, other);
            j.aux[2] = t;
            j.aux[3] = len;
            j.ints[0] = n;
            j.ints[1] = 31 - bits;
            j.ints[2] = 256 * n;
            j.p0[0] = lambda;
            c.push(Kernel::ShotNoise, j);
            other
        }
        C::ImpulseNoise => {
            let mut j = c.job(cur, other);
            // A channel is hit when its 16-bit draw is under this (2¹⁶: always).
            j.ints[0] = (f64::from(v(0)) * 65_536.0).round().min(65_536.0) as u32;
            c.push(Kernel::ImpulseNoise, j);
            other
        }
        C::Brightness => {
            let mut j = c.job(cur, other);
            j.p0[0] = v(0);
            c.push(Kernel::Brightness, j);
            other
        }
        C::Saturate => {
            let mut j = c.job(cur, other);
            j.p0[0] = v(0);
            j.p0[1] = v(1);
            c.push(Kernel::Saturate, j);
            other
        }
        C::Contrast => {
            let mut j = c.job(cur, cur);
            j.aux[1] = small;
            c.push(Kernel::FrameStats, j);
            let mut j = c.job(cur, other);
            j.aux[1] = small;
            j.p0[0] = v(0);
            c.push(Kernel::Contrast, j);
            other
        }
        C::GaussianBlur => {
            blur_rgb(c, cur, other, v(0), 4.0, EDGE_NEAREST);
            other
        }
        C::DefocusBlur => {
            let r = v(0).min((w.min(h) / 2).saturating_sub(2) as f32).max(0.0);
            let s = defocus_reduction(r, v(1));
            if s == 1 {
                let dst = c.region(other);
                defocus_disk(c, cur, dst, w, h, r, false);
            } else {
                // The disk on the frame reduced s times (T: the reduced image, then the disk's
                // 10-bit result after it), then upsampled into `other`.
                let (ws, hs) = (w.div_ceil(s), h.div_ceil(s));
                let reduced = c.region(PLANE_T);
                let blurred = reduced + ws * hs;
                debug_assert!(2 * ws * hs <= c.plane);
                let mut j = c.job(cur, PLANE_T);
                j.frame[0] = ws;
                j.frame[1] = hs;
                j.ints = [s, w, h, 0];
                j.p0[0] = 1.0 / (s * s) as f32;
                c.push(Kernel::DefocusDown, j);
                let rs = (r / s as f32).min((ws.min(hs) / 2).saturating_sub(2) as f32);
                defocus_disk(c, PLANE_T, blurred, ws, hs, rs, true);
                let mut j = c.job(cur, other);
                j.io[0] = blurred;
                j.ints = [s, ws, hs, 0];
                j.p0[0] = 1.0 / s as f32;
                c.push(Kernel::DefocusUp, j);
            }
            other
        }
        C::MotionBlur => {
            let angle = if v(2).is_nan() {
                -45.0 + 90.0 * c.uniform(0)
            } else {
                f64::from(v(2))
            };
            // Per tap (or pair of taps) two words, or three with the plane it reads.
            let (kernel, src, table, words) = if v(1) >= v(3) {
                let planes = [PLANE_T, PLANE_P, PLANE_Q, PLANE_R].map(|r| c.region(r));
                let pairs = motion_pairs(w, h, v(0), v(1), angle);
                let mut j = c.job(cur, PLANE_T);
                j.io[2] = planes[1];
                j.io[3] = planes[2];
                j.aux[0] = planes[3];
                j.ints = [pairs.step_px[0] as u32, pairs.step_px[1] as u32, 0, 0];
                c.push(Kernel::MotionPairSums, j);
                // The planes hold sums of bytes: the pair's mean weight / 255.
                let table: Vec<u32> = pairs
                    .pairs
                    .iter()
                    .flat_map(|p| {
                        let t = (p.weight / (2.0 * 255.0)) as f32;
                        [p.shift, planes[p.step], t.to_bits()]
                    })
                    .collect();
                (Kernel::MotionBlurPairs, PLANE_T, table, 3)
            } else {
                let taps = motion_taps(w, h, v(0), v(1), angle);
                (Kernel::MotionBlur, cur, taps, 2)
            };
            let (t, n) = c.tables.add(table);
            let mut j = c.job(src, other);
            j.aux[2] = t;
            j.aux[3] = n;
            j.ints[0] = n / words;
            c.push(kernel, j);
            other
        }
        C::ZoomBlur => {
            let (stop, step) = (f64::from(v(0)), f64::from(v(1)));
            let count = ((stop - 1.0) / step).ceil().max(1.0) as u32;
            let mut table = Vec::new();
            for k in 0..count {
                let z = 1.0 + f64::from(k) * step;
                let (top_y, sy) = clipped_zoom_axis(h, z);
                let (top_x, sx) = clipped_zoom_axis(w, z);
                table.extend([top_y, sy, top_x, sx].map(f32::to_bits));
            }
            let (t, n) = c.tables.add(table);
            let mut j = c.job(cur, other);
            j.aux[2] = t;
            j.aux[3] = n;
            j.ints[0] = count;
            c.push(Kernel::ZoomBlur, j);
            other
        }
        C::GlassBlur => {
            let (sigma, shift, iterations) = (v(0), v(1).round().max(0.0) as u32, v(2) as u32);
            blur_rgb(c, cur, other, sigma, 4.0, EDGE_NEAREST);
            // Per iteration, four shuffle steps (x, y, x, y): each pixel moves up to `shift`
            // along each axis twice, about as far as the original's sweep of swaps moves it.
            // Step `sub` pairs c with c + k where ⌊(c + o)/k⌋ is even; its swap bits come
            // from a key drawn on the host (word 2 of the block whose words 0–1 drew k).
            if shift == 0 || iterations == 0 {
                blur_rgb(c, other, cur, sigma, 4.0, EDGE_NEAREST);
                return cur;
            }
            let mut steps = Vec::new();
            for sub in 0..4 * iterations {
                let k = 1 + (c.uniform(1 + 2 * sub) * f64::from(shift)) as u32;
                let o = (c.uniform(2 + 2 * sub) * f64::from(2 * k)) as u32;
                let key = c.rng.words(u32::MAX, 1 + 2 * sub)[2];
                let k = k.min(shift);
                steps.extend([key, k, o, (1.0 / k as f32).to_bits()]);
            }
            let (t, n) = c.tables.add(steps);
            let mut j = c.job(other, cur);
            j.aux[2] = t;
            j.aux[3] = n;
            j.ints[0] = 4 * iterations;
            c.push(Kernel::GlassGather, j);
            blur_rgb(c, cur, other, sigma, 4.0, EDGE_NEAREST);
            other
        }
        C::Fog => {
            let map_size = w.max(h).next_power_of_two();
            fractal(c, map_size, v(1), (0, 0));
            let mut j = c.job(cur, cur);
            j.aux[1] = small;
            c.push(Kernel::FrameStats, j);
            let mut j = c.job(PLANE_P, PLANE_P);
            j.aux[1] = small;
            c.push(Kernel::PlaneMinMax, j);
            let mut j = c.job(cur, other);
            j.io[2] = c.region(PLANE_P);
            j.aux[1] = small;
            j.p0[0] = v(0);
            c.push(Kernel::FogCompose, j);
            other
        }
        C::Frost => {
            // Procedural frost: a finer fractal than fog's (features about a quarter of the
            // frame width and smaller), offset at random as the original crops its photos.
            let (map_size, reach) = frost_map(w, h);
            let off = (
                (c.uniform(0) * f64::from(reach.0)) as u32,
                (c.uniform(1) * f64::from(reach.1)) as u32,
            );
            fractal(c, map_size, 1.25, off);
            let mut j = c.job(PLANE_P, PLANE_P);
            j.aux[1] = small;
            c.push(Kernel::PlaneMinMax, j);
            let mut j = c.job(cur, other);
            j.io[2] = c.region(PLANE_P);
            j.aux[1] = small;
            j.p0[0] = v(0);
            j.p0[1] = v(1);
            c.push(Kernel::FrostCompose, j);
            other
        }
        C::Snow => {
            let zoom = f64::from(v(2).max(1.0));
            let (ch_y, ch_x) = (
                (f64::from(h) / zoom).ceil() as u32,
                (f64::from(w) / zoom).ceil() as u32,
            );
            // The noise is independent per pixel, so its centre crop is a fresh ch_y × ch_x
            // lattice; the zoom maps output pixel i to lattice coordinate i·scale.
            let (_, sy) = clipped_zoom_axis(h, zoom);
            let (_, sx) = clipped_zoom_axis(w, zoom);
            let mut j = c.job(PLANE_Q, PLANE_Q);
            j.ints = [ch_x, ch_y, 0, ch_x * ch_y];
            j.p0 = [v(0), v(1), 0.0, 0.0];
            c.push(Kernel::SnowLattice, j);
            let mut j = c.job(PLANE_Q, PLANE_P);
            j.ints = [ch_x, ch_y, 0, 0];
            j.p0 = [sy, sx, v(3), 0.0];
            c.push(Kernel::SnowLayer, j);
            let angle = -135.0 + 90.0 * c.uniform(0);
            // Per tap (or pair of taps): shift, the byte plane it reads, weight.
            let table: Vec<u32> = if v(5) >= v(7) {
                // The means of neighbouring bytes along x, y and both, in T.
                let size = byte_words_of(w) * h;
                // A pair on one pixel reads the layer itself.
                let t = c.region(PLANE_T);
                let planes = [t, t + size, t + 2 * size, c.region(PLANE_P)];
                let pairs = motion_pairs(w, h, v(4), v(5), angle);
                let mut j = c.job(PLANE_P, PLANE_T);
                j.ints = [pairs.step_px[0] as u32, pairs.step_px[1] as u32, size, 0];
                c.push(Kernel::SnowPairMeans, j);
                pairs
                    .pairs
                    .iter()
                    .flat_map(|p| [p.shift, planes[p.step], (p.weight as f32).to_bits()])
                    .collect()
            } else {
                let layer = c.region(PLANE_P);
                motion_taps(w, h, v(4), v(5), angle)
                    .chunks_exact(2)
                    .flat_map(|t| [t[0], layer, t[1]])
                    .collect()
            };
            let reach = motion_reach(&table);
            let (t, n) = c.tables.add(table);
            let mut j = c.job(PLANE_P, PLANE_R);
            j.aux[2] = t;
            j.aux[3] = n;
            j.ints[0] = n / 3;
            j.ints[1] = reach;
            c.push(Kernel::SnowMotion, j);
            let mut j = c.job(cur, other);
            j.io[2] = c.region(PLANE_R);
            j.p0[0] = v(6);
            c.push(Kernel::SnowCompose, j);
            other
        }
        C::Spatter => {
            let mud = v(5) >= 0.5;
            // The noise is drawn per pixel but smoothed with a σ scaled by width / 224; its
            // spread is scaled alike so that the smoothed layer has the original's statistics
            // (smoothing white noise divides its spread by σ).
            let spread = v(1) * w as f32 / super::REFERENCE_WIDTH_PX;
            let mut j = c.job(PLANE_P, PLANE_P);
            j.p0 = [v(0), spread, 0.0, 0.0];
            c.push(Kernel::SpatterNoise, j);
            let sigma = v(2);
            blur_planes(
                c,
                &[(PLANE_P, PLANE_P)],
                sigma,
                sigma,
                4.0,
                EDGE_NEAREST,
                1.0,
            );
            if mud {
                let mut j = c.job(PLANE_P, PLANE_Q);
                j.p0[0] = v(3);
                c.push(Kernel::SpatterMask, j);
                let s = v(4) * w as f32 / super::REFERENCE_WIDTH_PX;
                blur_planes(c, &[(PLANE_Q, PLANE_Q)], s, s, 4.0, EDGE_NEAREST, 1.0);
                let mut j = c.job(cur, other);
                j.io[2] = c.region(PLANE_Q);
                c.push(Kernel::SpatterMud, j);
            } else {
                let mut j = c.job(PLANE_P, PLANE_P);
                j.aux[1] = small;
                c.push(Kernel::PlaneMinMax, j);
                let mut j = c.job(cur, other);
                j.io[2] = c.region(PLANE_P);
                j.aux[1] = small;
                j.p0 = [v(3), v(4), 0.0, 0.0];
                c.push(Kernel::SpatterWater, j);
            }
            other
        }
        C::ElasticTransform => {
            let max_d = 0.005 * h as f32;
            let (sigma_x, sigma_y) = (0.01 * w as f32, 0.01 * h as f32);
            let sx = elastic_reduction(sigma_x, v(1));
            let sy = elastic_reduction(sigma_y, v(1));
            let mut j = c.job(PLANE_P, PLANE_Q);
            j.p0[0] = max_d;
            c.push(Kernel::ElasticNoise, j);
            if sx == 1 && sy == 1 {
                blur_planes(
                    c,
                    &[(PLANE_P, PLANE_P), (PLANE_Q, PLANE_Q)],
                    sigma_x,
                    sigma_y,
                    3.0,
                    EDGE_REFLECT,
                    v(0),
                );
            } else {
                // The field smoothed on cells of sx × sy pixels: their means into R and T,
                // smoothed through P and Q (free once read), upsampled back into P and Q.
                let (ws, hs) = (w.div_ceil(sx), h.div_ceil(sy));
                let (p, q) = (c.region(PLANE_P), c.region(PLANE_Q));
                let (rp, rq) = (c.region(PLANE_R), c.region(PLANE_T));
                let mut j = c.job(PLANE_P, PLANE_Q);
                j.frame[0] = ws;
                j.frame[1] = hs;
                j.io = [p, q, rp, rq];
                j.ints = [sx, sy, w, h];
                j.p0[0] = 1.0 / (sx * sy) as f32;
                c.push(Kernel::ElasticDown, j);
                let set = PlaneSet {
                    w: ws,
                    h: hs,
                    src: [rp, rq],
                    tmp: [p, q],
                    dst: [rp, rq],
                    n_planes: 2,
                };
                let (sigma_xr, sigma_yr) = (reduced_sigma(sigma_x, sx), reduced_sigma(sigma_y, sy));
                blur_plane_set(c, &set, sigma_xr, sigma_yr, 3.0, EDGE_REFLECT, v(0));
                // The warp upsamples the smoothed cells bilinearly as it reads them.
                let mut j = c.job(cur, other);
                j.io[2] = rp;
                j.io[3] = rq;
                j.ints = [ws, hs, 0, 0];
                j.p0[0] = 1.0 / sx as f32;
                j.p0[1] = 1.0 / sy as f32;
                c.push(Kernel::ElasticWarp, j);
                return other;
            }
            let mut j = c.job(cur, other);
            j.io[2] = c.region(PLANE_P);
            j.io[3] = c.region(PLANE_Q);
            c.push(Kernel::ElasticWarp, j);
            other
        }
        C::Pixelate => {
            let f = f64::from(v(0));
            let ws = ((f64::from(w) * f) as u32).max(1);
            let hs = ((f64::from(h) * f) as u32).max(1);
            // Input range of each cell (PIL's box: pixel centres inside the cell).
            let inputs = |n: u32, cells: u32| -> Vec<u32> {
                let s = f64::from(n) / f64::from(cells);
                (0..cells)
                    .flat_map(|i| {
                        let lo = (f64::from(i) * s - 0.5).ceil().max(0.0) as u32;
                        let hi = ((f64::from(i + 1) * s - 0.5).ceil() as u32).clamp(lo + 1, n);
                        [lo, hi]
                    })
                    .collect()
            };
            // Output range of each cell: the pixels whose centre samples it (PIL's nearest
            // upscale); a cell no pixel samples gets an empty range.
            let outputs = |n: u32, cells: u32| -> Vec<u32> {
                let mut r = vec![0u32; 2 * cells as usize];
                let mut seen = vec![false; cells as usize];
                for i in 0..n {
                    let c = ((f64::from(i) + 0.5) * f64::from(cells) / f64::from(n)) as usize;
                    let c = c.min(cells as usize - 1);
                    if !seen[c] {
                        seen[c] = true;
                        r[2 * c] = i;
                    }
                    r[2 * c + 1] = i + 1;
                }
                r
            };
            let mut table = inputs(w, ws);
            table.extend(inputs(h, hs));
            table.extend(outputs(w, ws));
            table.extend(outputs(h, hs));
            let (t, n) = c.tables.add(table);
            let mut j = c.job(cur, other);
            j.aux[2] = t;
            j.aux[3] = n;
            // One item per run of PIXELATE_RUN cells of a cell row.
            j.ints = [ws, hs, 0, ws.div_ceil(PIXELATE_RUN) * hs];
            c.push(Kernel::Pixelate, j);
            other
        }
        C::JpegCompression => {
            let mut j = c.job(cur, PLANE_P);
            j.io[2] = c.region(PLANE_Q);
            j.ints[0] = jpeg_scale(v(0));
            c.push(Kernel::JpegMcu, j);
            let mut j = c.job(PLANE_P, other);
            j.io[2] = c.region(PLANE_Q);
            c.push(Kernel::JpegCompose, j);
            other
        }
    }
}

/// Builds the plan of a batch. `job_align`: jobs per dynamic-offset alignment unit (a
/// dispatch's first job is a multiple of it).
pub fn build(frames: &[FrameIn], job_align: u32) -> Plan {
    let mut tables = Tables::default();
    let mut slots = Vec::with_capacity(frames.len());
    // Per frame, per chain position: the passes.
    let mut per_frame: Vec<Vec<Vec<Pass>>> = Vec::with_capacity(frames.len());
    let mut base = 0u64;
    for f in frames {
        let (w, h) = (f.width_px, f.height_px);
        let plane = w * h;
        let words = frame_words(w, h, f.chain);
        let regions = frame_regions(f.chain);
        let mut cur = IMAGE_A;
        let mut steps = Vec::with_capacity(f.chain.len());
        for (pos, p) in f.chain.iter().enumerate() {
            let mut c = Ctx {
                w,
                h,
                plane,
                rng: f.key.stream(pos, p.corruption),
                tables: &mut tables,
                passes: Vec::new(),
            };
            cur = passes(&mut c, p, cur, regions);
            let mut ps = c.passes;
            for pass in &mut ps {
                pass.job.frame[2] = base as u32;
            }
            steps.push(ps);
        }
        per_frame.push(steps);
        slots.push(FrameSlot {
            width_px: w,
            height_px: h,
            base,
            words,
            result: cur * plane,
        });
        base += words;
    }
    // Group passes by chain position and kernel sequence (frames are independent, so a group's
    // k-th dispatch depends only on its (k−1)-th and on earlier positions).
    let mut jobs = Vec::new();
    let mut dispatches = Vec::new();
    let max_len = per_frame.iter().map(Vec::len).max().unwrap_or(0);
    for pos in 0..max_len {
        let mut groups: Vec<(Vec<Kernel>, Vec<usize>)> = Vec::new();
        for (fi, steps) in per_frame.iter().enumerate() {
            let Some(ps) = steps.get(pos) else { continue };
            let sig: Vec<Kernel> = ps.iter().map(|p| p.kernel).collect();
            match groups.iter_mut().find(|(s, _)| *s == sig) {
                Some((_, fs)) => fs.push(fi),
                None => groups.push((sig, vec![fi])),
            }
        }
        groups.sort();
        for (sig, fs) in groups {
            for (k, &kernel) in sig.iter().enumerate() {
                let align = job_align.max(1) as usize;
                while jobs.len() % align != 0 {
                    jobs.push(Job::default());
                }
                let first = jobs.len() as u32;
                let mut gx = 1;
                let mut gy = 1;
                for &fi in &fs {
                    let job = per_frame[fi][pos][k].job;
                    let [x, y] = kernel.groups(&job);
                    gx = gx.max(x);
                    gy = gy.max(y);
                    jobs.push(job);
                }
                dispatches.push(Dispatch {
                    kernel,
                    first_job: first,
                    n_jobs: fs.len() as u32,
                    groups: [gx, gy, fs.len() as u32],
                });
            }
        }
    }
    if tables.words.is_empty() {
        tables.words.push(0);
    }
    Plan {
        jobs,
        dispatches,
        tables: tables.words,
        frames: slots,
        data_words: base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fog's fractal at 1280 px (a 2048 map, 11 levels down to one lattice point per pixel):
    /// at severity 3's decay the levels below 2⁻¹² are left out, at severity 5's all are kept.
    #[test]
    fn fractal_levels_leave_out_only_the_faintest() {
        let amplitudes = |decay: f32| -> Vec<f32> {
            let (levels, _) = fractal_levels(1280, 720, 2048, decay);
            levels.chunks(4).map(|l| f32::from_bits(l[3])).collect()
        };
        let sev3 = amplitudes(1.7);
        assert_eq!(sev3.len(), 8, "{sev3:?}");
        assert!(sev3.iter().all(|&a| a >= FRACTAL_MIN_AMPLITUDE));
        assert!(1.7f32.powi(-16) < FRACTAL_MIN_AMPLITUDE);
        assert_eq!(amplitudes(1.4).len(), 11);
    }

    /// The fractal's lattice (levels padded to multiples of 4 words) fits the two planes it
    /// is given, for fog's smallest decay and frost's largest offset, at the frame sizes'
    /// extremes and some in between.
    #[test]
    fn fractal_lattice_fits_its_two_planes() {
        let sizes = [
            (32, 32),
            (33, 32),
            (32, 4096),
            (4096, 32),
            (37, 61),
            (1242, 375),
            (4096, 4096),
        ];
        for (w, h) in sizes {
            let fog_map = u32::max(w, h).next_power_of_two();
            let (frost_map, reach) = frost_map(w, h);
            for (ww, hh, map, decay) in [
                (w, h, fog_map, 1.01f32),
                (w + reach.0 - 1, h + reach.1 - 1, frost_map, 1.25),
            ] {
                let (_, total) = fractal_levels(ww, hh, map, decay);
                assert!(total <= 2 * w * h, "{w}×{h}: {total} lattice words");
            }
        }
    }

    /// `shot_noise`'s guided draw ([`poisson_guided_draw`], which `noise::poisson_draw` calls; the WGSL the same) gives the k of a
    /// search of the whole CDF row for every byte value, at both ends of every bucket and on
    /// either side of every CDF entry, for λ of every severity and a large one.
    #[test]
    fn poisson_guide_gives_the_draws_of_the_whole_row() {
        for lambda in [60.0f32, 25.0, 12.0, 5.0, 3.0, 0.4, 700.0] {
            let (t, n, bits) = poisson_tables(lambda);
            let (cdf, guide) = t.split_at((256 * n) as usize);
            assert_eq!(guide.len(), 256 << bits);
            let shift = 31 - bits;
            let draw = |v: u32, u: u32| poisson_guided_draw(&t, n, shift, 256 * n, v, u);
            // The comparisons with the CDF a draw of k made: one per step up from its bucket's
            // first, and a last one that stopped it unless it reached the bucket's last.
            let compares = |v: u32, u: u32, k: u32| -> u64 {
                let bucket = guide[((v << bits) + (u >> shift)) as usize];
                u64::from(k - (bucket & 0xffff)) + u64::from(k < bucket >> 16)
            };
            for v in 0..256 {
                let row = &cdf[(v * n) as usize..((v + 1) * n) as usize];
                let mut us: Vec<u32> = (0..1u32 << bits)
                    .flat_map(|b| [b << shift, ((b + 1) << shift) - 1])
                    .collect();
                us.extend(row.iter().flat_map(|&c| [c.saturating_sub(1), c, c + 1]));
                for u in us.into_iter().filter(|&u| u < 1 << 31) {
                    let whole = row.iter().position(|&c| u < c).unwrap_or(n as usize) as u32;
                    assert_eq!(draw(v, u), whole, "λ {lambda} v {v} u {u}");
                }
            }
            // The guide narrows the search: over evenly spaced draws, about one comparison
            // with the CDF per draw at most (a binary search of the row would take ⌈log₂(n + 1)⌉).
            let draws = 256 * 4096;
            let mut total = 0;
            for v in 0..256 {
                for i in 0..4096u32 {
                    let u = (i << 19) + 0x2_9a5f;
                    total += compares(v, u, draw(v, u));
                }
            }
            let mean = total as f64 / f64::from(draws);
            assert!(mean < 1.0, "λ {lambda}: {mean} comparisons per draw");
        }
    }
}
