//! The perturbation engine: the GPU path (`shaders/perturb_*.wgsl` through `gauntlet::gpu`)
//! against its CPU reference for all 19 corruptions in one batch of per-frame chains; noise
//! statistics; distance from the clean frame growing with severity; determinism and
//! independence of batching; limits.
//!
//! A missing GPU adapter fails these tests: CI installs Mesa's software Vulkan driver
//! (`scripts/test.sh`). A failing comparison writes both images and a difference image under
//! `target/tmp/perturb-diff/` for a person to look at.

use std::path::PathBuf;

use gauntlet::gpu::{DeviceChoice, PerturbEngine, Perturber};

use gauntlet::perturb::{Corruption, FrameIn, FrameKey, Perturbation, cpu, files, parse_spec};

fn gpu() -> PerturbEngine {
    match gauntlet::gpu::acquire(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => {
            eprintln!("GPU adapter: {}", ctx.adapter);
            PerturbEngine::new(ctx).expect("engine")
        }
        Ok(None) | Err(_) => panic!(
            "no GPU adapter: these tests need one (CI installs Mesa's software Vulkan driver; see scripts/test.sh)"
        ),
    }
}

/// A sample frame (640×360 rendered day scene), box-downscaled to `w`×`h`.
fn sample(name: &str, w: u32, h: u32) -> files::Image {
    let dir = PathBuf::from("datasets/sample/euro-ncap");
    let path = files::find_images(&dir)
        .expect("sample dataset")
        .into_iter()
        .filter(|i| !i.relative.contains("depth") && !i.relative.contains("contact"))
        .find(|i| i.relative.contains(name))
        .unwrap_or_else(|| panic!("no sample frame {name}"))
        .path;
    let img = files::read_image(&path).expect("sample frame");
    if (img.width_px, img.height_px) == (w, h) {
        return img;
    }
    let src = image::RgbaImage::from_raw(img.width_px, img.height_px, img.rgba).unwrap();
    let small = image::imageops::resize(&src, w, h, image::imageops::FilterType::Triangle);
    files::Image {
        width_px: w,
        height_px: h,
        rgba: small.into_raw(),
    }
}

fn frame<'a>(img: &'a files::Image, chain: &'a [Perturbation], name: &str) -> FrameIn<'a> {
    FrameIn {
        width_px: img.width_px,
        height_px: img.height_px,
        rgba: &img.rgba,
        depth_m: None,
        chain,
        key: FrameKey::new(7, name),
    }
}

fn dump(name: &str, w: u32, h: u32, a: &[u8], b: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("perturb-diff");
    std::fs::create_dir_all(&dir).expect("dir");
    files::write_png(&dir.join(format!("{name}-gpu.png")), w, h, a).expect("png");
    files::write_png(&dir.join(format!("{name}-cpu.png")), w, h, b).expect("png");
    let diff: Vec<u8> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y).saturating_mul(32))
        .collect();
    files::write_png(&dir.join(format!("{name}-diff.png")), w, h, &diff).expect("png");
    dir
}

/// Channel values more than 1/255 apart, and the largest difference.
fn differences(a: &[u8], b: &[u8]) -> (usize, u8) {
    let mut bad = 0;
    let mut worst = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if i % 4 == 3 {
            continue;
        }
        let d = x.abs_diff(*y);
        worst = worst.max(d);
        if d > 1 {
            bad += 1;
        }
    }
    (bad, worst)
}

/// The share of channel values (of 3 per pixel) that may differ by more than 1/255 between GPU
/// and CPU. Most corruptions: none. Where a kernel rounds or thresholds an intermediate value
/// (JPEG's quantised DCT coefficients and decoded samples, snow's and spatter's thresholds on
/// smoothed noise, the 10-bit scratch of separable blurs), a last-bit difference of f32
/// arithmetic (the GPU may fuse multiply-adds; its `log`, `cos`, division are not correctly
/// rounded) can move a value across the boundary: then a few values differ by more.
fn allowed(c: Corruption, n_values: usize) -> usize {
    use Corruption as C;
    match c {
        C::JpegCompression | C::Snow | C::Spatter => n_values / 500 + 8,
        _ => n_values / 10_000 + 4,
    }
}

#[test]
fn gpu_matches_the_cpu_reference_for_every_corruption_in_one_batch() {
    let (w, h) = (256, 144);
    let day = sample("ccrs", w, h);
    let other = sample("cpna", w, h);
    let mut chains: Vec<(String, Vec<Perturbation>)> = Vec::new();
    for c in Corruption::ALL {
        for s in [3u8, 5] {
            chains.push((
                format!("{}-{s}", c.name()),
                vec![Perturbation::at_severity(c, s)],
            ));
        }
    }
    // A chain of three, and physical parameters.
    chains.push((
        "chain".into(),
        vec![
            parse_spec("fog:2").unwrap(),
            parse_spec("motion_blur:radius_px=6,sigma_px=3,angle_deg=20").unwrap(),
            parse_spec("gaussian_noise:sigma=0.05").unwrap(),
        ],
    ));
    let frames: Vec<FrameIn> = chains
        .iter()
        .enumerate()
        .map(|(i, (name, chain))| frame(if i % 2 == 0 { &day } else { &other }, chain, name))
        .collect();
    let mut engine = gpu();
    let on_gpu = engine.apply(&frames).expect("gpu");
    let on_cpu = cpu::perturb(&frames).expect("cpu");
    let mut failures = Vec::new();
    for ((name, chain), (g, c)) in chains.iter().zip(on_gpu.iter().zip(&on_cpu)) {
        let (bad, worst) = differences(g, c);
        let limit = allowed(chain[0].corruption, 3 * (w * h) as usize);
        eprintln!(
            "{name}: {bad} values differ by more than 1/255 (largest {worst}; allowed {limit})"
        );
        if bad > limit {
            let dir = dump(name, w, h, g, c);
            failures.push(format!(
                "{name}: {bad} > {limit} (images in {})",
                dir.display()
            ));
        }
        // The corruption did something.
        let input = if chains.iter().position(|(n, _)| n == name).unwrap() % 2 == 0 {
            &day
        } else {
            &other
        };
        assert_ne!(&input.rgba, c, "{name} left the frame unchanged");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
