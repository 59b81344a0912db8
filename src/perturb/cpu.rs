//! The CPU executor of a plan: the kernels of `src/perturb/{noise,colour,blur,weather,
//! digital}.rs` (CPU references of the WGSL kernels of the same names) run each frame's jobs in
//! dispatch order, frames spread over threads. It is also the engine of `--device cpu`.

use rayon::prelude::*;

use super::plan::{self, IMAGE_A, Job, Kernel, Plan};
use super::{FrameError, FrameIn, blur, check_frames, colour, digital, noise, weather};

/// A kernel's CPU reference: (job, the frame's words, the plan's tables).
pub type KernelFn = fn(&Job, &mut [u32], &[u32]);

/// The CPU reference of a kernel.
pub fn kernel_fn(k: Kernel) -> KernelFn {
    match k {
        Kernel::GaussianNoise => noise::gaussian_noise,
        Kernel::ShotNoise => noise::shot_noise,
        Kernel::ImpulseNoise => noise::impulse_noise,
        Kernel::SpeckleNoise => noise::speckle_noise,
        Kernel::Brightness => colour::brightness,
        Kernel::Saturate => colour::saturate,
        Kernel::FrameStats => colour::frame_stats,
        Kernel::PlaneMinMax => colour::plane_min_max,
        Kernel::Contrast => colour::contrast,
        Kernel::BlurH => blur::blur_h,
        Kernel::BlurV => blur::blur_v,
        Kernel::PlaneBlurH => blur::plane_blur_h,
        Kernel::PlaneBlurV => blur::plane_blur_v,
        Kernel::RowPrefix => blur::row_prefix,
        Kernel::DefocusDisk => blur::defocus_disk,
        Kernel::DefocusDown => blur::defocus_down,
        Kernel::DefocusUp => blur::defocus_up,
        Kernel::ElasticDown => blur::elastic_down,
        Kernel::MotionBlur => blur::motion_blur,
        Kernel::MotionPairSums => blur::motion_pair_sums,
        Kernel::MotionBlurPairs => blur::motion_blur_pairs,
        Kernel::SnowPairMeans => blur::snow_pair_means,
        Kernel::SnowMotion => blur::snow_motion,
        Kernel::ZoomBlur => blur::zoom_blur,
        Kernel::GlassGather => blur::glass_gather,
        Kernel::FractalLattice => weather::fractal_lattice,
        Kernel::FractalPlane => weather::fractal_plane,
        Kernel::FogCompose => weather::fog_compose,
        Kernel::FrostCompose => weather::frost_compose,
        Kernel::SnowLattice => weather::snow_lattice,
        Kernel::SnowLayer => weather::snow_layer,
        Kernel::SnowCompose => weather::snow_compose,
        Kernel::SpatterNoise => weather::spatter_noise,
        Kernel::SpatterMask => weather::spatter_mask,
        Kernel::SpatterWater => weather::spatter_water,
        Kernel::SpatterMud => weather::spatter_mud,
        Kernel::Pixelate => digital::pixelate,
        Kernel::JpegMcu => digital::jpeg_mcu,
        Kernel::JpegCompose => digital::jpeg_compose,
        Kernel::ElasticNoise => digital::elastic_noise,
        Kernel::ElasticWarp => digital::elastic_warp,
    }
}

/// One RGBA8 pixel as the engine stores it: alpha 255 (the engine ignores alpha).
pub fn upload_pixel(p: &[u8]) -> [u8; 4] {
    [p[0], p[1], p[2], 255]
}

/// RGBA8 bytes as words with alpha 255 ([`upload_pixel`]).
pub fn upload_words(rgba: &[u8]) -> Vec<u32> {
    rgba.chunks_exact(4)
        .map(|p| u32::from_le_bytes(upload_pixel(p)))
        .collect()
}

/// Runs a plan made for `frames`: every frame's jobs in dispatch order, frames in parallel.
/// Returns each frame's RGBA8 pixels.
pub fn run_plan(plan: &Plan, frames: &[FrameIn]) -> Vec<Vec<u8>> {
    let mut per_frame: Vec<Vec<(Kernel, Job)>> = vec![Vec::new(); frames.len()];
    for d in &plan.dispatches {
        for job in &plan.jobs[d.first_job as usize..(d.first_job + d.n_jobs) as usize] {
            let fi = plan
                .frames
                .iter()
                .position(|s| s.base == u64::from(job.frame[2]))
                .expect("every job belongs to a frame of the plan");
            per_frame[fi].push((d.kernel, *job));
        }
    }
    frames
        .par_iter()
        .zip(&plan.frames)
        .zip(per_frame)
        .map(|((f, slot), jobs)| {
            let mut data = vec![0u32; slot.words as usize];
            let plane = (slot.width_px * slot.height_px) as usize;
            let a = (IMAGE_A as usize) * plane;
            data[a..a + plane].copy_from_slice(&upload_words(f.rgba));
            for (kernel, job) in jobs {
                kernel_fn(kernel)(&job, &mut data, &plan.tables);
            }
            let r = slot.result as usize;
            bytemuck::cast_slice(&data[r..r + plane]).to_vec()
        })
        .collect()
}

/// Frames per plan on the CPU (bounds the memory of the frames' working planes).
const CPU_BATCH: usize = 16;

/// Perturbs frames with the CPU reference.
pub fn perturb(frames: &[FrameIn]) -> Result<Vec<Vec<u8>>, FrameError> {
    check_frames(frames)?;
    let mut out = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(CPU_BATCH) {
        let p = plan::build(chunk, 1);
        out.extend(run_plan(&p, chunk));
    }
    Ok(out)
}
