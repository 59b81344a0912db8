//! The perturbation engine: the GPU path (`shaders/perturb_*.wgsl` through `gauntlet::gpu`)
//! against its CPU reference for all 19 corruptions in one batch of per-frame chains; noise
//! statistics; distance from the clean frame growing with severity; determinism and
//! independence of batching; limits.
//!
//! A missing GPU adapter fails these tests: CI installs Mesa's software Vulkan driver
//! (`scripts/test.sh`). A failing comparison writes both images and a difference image under
//! `target/tmp/perturb-diff/` for a person to look at.

use std::path::PathBuf;

mod common;

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
    // The defocus disk on a frame reduced 2 and 3 times, and the elastic field on cells of
    // 2×1 and 5×2 pixels (at 256 px the severity tables stay on the frame itself).
    for (name, spec) in [
        ("defocus-reduced-2", "defocus_blur:3,working_radius_px=3"),
        ("defocus-reduced-3", "defocus_blur:5,working_radius_px=3"),
        (
            "elastic-reduced-2x1",
            "elastic_transform:3,working_sigma_px=1",
        ),
        (
            "elastic-reduced-5x2",
            "elastic_transform:5,working_sigma_px=0.5",
        ),
        // Zooms up to 2.2: below a scale of 2/3 `zoom_blur` samples each row on its own.
        ("zoom-large", "zoom_blur:3,max_zoom=2.3,step=0.3"),
    ] {
        chains.push((name.into(), vec![parse_spec(spec).unwrap()]));
    }
    // Motion taps in pairs along directions of every sign (at 256 px σ is 9.1 px at severity
    // 3, so severities 3 and 5 read pairs too), and one by one.
    for (name, spec) in [
        ("motion-pairs-100", "motion_blur:3,angle_deg=100"),
        ("motion-pairs-minus-150", "motion_blur:3,angle_deg=-150"),
        (
            "motion-single",
            "motion_blur:3,angle_deg=-30,pair_min_sigma_px=1e9",
        ),
    ] {
        chains.push((name.into(), vec![parse_spec(spec).unwrap()]));
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

/// `motion_blur` reads its taps in pairs from sums of neighbouring pixels (at the pair's mean
/// weight) from `pair_min_sigma_px` on: on the 640×360 and 1280×720 sample frames, at several
/// angles, its frames differ from those of the taps one by one by at most 0.021 of a level on
/// average and by at most 2 levels (measured 2026-12-07). Debug builds also check the pairs'
/// steps (`plan::motion_pairs`): two taps on one pixel, as at 45°, read the pixel doubled.
#[test]
fn motion_blur_in_pairs_stays_close_to_single_taps() {
    for (w, h, severities) in [(640, 360, 1..=5u8), (1280, 720, 3..=3u8)] {
        let img = sample("ccrs", w, h);
        for severity in severities {
            for angle in [-45.0f32, -10.0, 0.0, 30.0, 135.0] {
                let p = Perturbation::at_severity(Corruption::MotionBlur, severity);
                let spec = format!("{},angle_deg={angle}", p.spec());
                let paired = run_cpu(&img, &spec);
                let single = run_cpu(&img, &format!("{spec},pair_min_sigma_px=1e9"));
                let RgbDifference { mean, worst, over } = rgb_difference(&paired, &single);
                eprintln!(
                    "{w}×{h} severity {severity} angle {angle}: σ {:.1} px: mean difference {mean:.3}/255, {:.3} % over 8/255, largest {worst}/255",
                    p.value(1, w),
                    100.0 * over
                );
                assert!(p.value(1, w) >= 6.0 && paired != single, "not paired");
                assert!(
                    mean < 0.05 && worst <= 3,
                    "{w}×{h} severity {severity} angle {angle}: mean {mean:.3}, largest {worst}"
                );
            }
        }
    }
}

/// `snow` moves its layer with motion taps read in pairs from means of neighbouring bytes, as
/// `motion_blur` does, from `pair_min_sigma_px` on: on the sample frames its frames differ
/// from those of the taps one by one by under 0.06 of a level on average and by at most 2
/// levels (measured 2026-12-07).
#[test]
fn snow_in_pairs_stays_close_to_single_taps() {
    for (w, h, severities) in [(640, 360, 1..=5u8), (1280, 720, 3..=3u8)] {
        let img = sample("ccrs", w, h);
        for severity in severities {
            let p = Perturbation::at_severity(Corruption::Snow, severity);
            let paired = run_cpu(&img, &p.spec());
            let single = run_cpu(&img, &format!("{},pair_min_sigma_px=1e9", p.spec()));
            let RgbDifference { mean, worst, over } = rgb_difference(&paired, &single);
            eprintln!(
                "{w}×{h} severity {severity}: σ {:.1} px: mean difference {mean:.3}/255, {:.3} % over 8/255, largest {worst}/255",
                p.value(5, w),
                100.0 * over
            );
            assert!(p.value(5, w) >= 6.0 && paired != single, "not paired");
            assert!(
                mean < 0.1 && worst <= 4,
                "{w}×{h} severity {severity}: mean {mean:.3}, largest {worst}"
            );
        }
    }
}

/// `glass_blur` without its Gaussians (σ = 0) is its local shuffle alone: every input pixel
/// lands exactly once, no farther than the steps reach (each of the 4 steps per iteration moves
/// a pixel by at most `shift_px` along x or y), GPU and CPU agree pixel for pixel, and the
/// shuffle moves most pixels, with few iterations and with many (40 steps).
#[test]
fn glass_shuffle_is_a_local_permutation() {
    let (w, h) = (200u32, 120u32);
    // Each pixel names its place: red x, green y.
    let rgba: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 0, 255]))
        .collect();
    let img = files::Image {
        width_px: w,
        height_px: h,
        rgba,
    };
    let mut engine = gpu();
    for (shift, iterations) in [(3u32, 3u32), (2, 10)] {
        let chain = [parse_spec(&format!(
            "glass_blur:sigma_px=0,shift_px={shift},iterations={iterations}"
        ))
        .unwrap()];
        let on_cpu = cpu::perturb(&[frame(&img, &chain, "g.png")])
            .unwrap()
            .remove(0);
        let on_gpu = engine
            .apply(&[frame(&img, &chain, "g.png")])
            .unwrap()
            .remove(0);
        let (differ, _) = differences(&on_gpu, &on_cpu);
        assert!(
            on_gpu == on_cpu,
            "shift {shift}, {iterations} iterations: GPU ≠ CPU ({differ} values more than 1/255 apart)"
        );
        let reach = 2 * iterations * shift;
        let mut seen = vec![false; (w * h) as usize];
        let mut moved = 0;
        for (i, px) in on_cpu.chunks_exact(4).enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            let (sx, sy) = (u32::from(px[0]), u32::from(px[1]));
            assert!(
                sx < w && sy < h && px[2] == 0,
                "pixel {x},{y}: not an input pixel"
            );
            assert!(
                sx.abs_diff(x) <= reach && sy.abs_diff(y) <= reach,
                "pixel {x},{y} came from {sx},{sy}: farther than {reach}"
            );
            let at = (sy * w + sx) as usize;
            assert!(!seen[at], "input pixel {sx},{sy} used twice");
            seen[at] = true;
            moved += usize::from((sx, sy) != (x, y));
        }
        let share = moved as f64 / f64::from(w * h);
        eprintln!(
            "shift {shift}, {iterations} iterations: {:.1} % of pixels moved",
            100.0 * share
        );
        assert!(share > 0.5, "only {:.1} % of pixels moved", 100.0 * share);
    }
}

/// `defocus_blur` draws a disk of a large radius on the frame reduced by an integer factor
/// (`plan::defocus_reduction`) and upsamples the result: at the severities' radii on a
/// 640×360 sample frame, its frames stay within a few levels of the disk drawn on the frame
/// itself, and on average within a fraction of one.
#[test]
fn defocus_on_a_reduced_frame_stays_close_to_the_full_disk() {
    let img = sample("ccrs", 640, 360);
    for severity in 1..=5u8 {
        let p = Perturbation::at_severity(Corruption::DefocusBlur, severity);
        let radius_px = p.value(0, 640);
        let s = gauntlet::perturb::plan::defocus_reduction(radius_px, p.value(1, 640));
        let reduced = run_cpu(&img, &p.spec());
        let full = run_cpu(&img, &format!("{},working_radius_px=4096", p.spec()));
        let RgbDifference { mean, worst, .. } = rgb_difference(&reduced, &full);
        eprintln!(
            "severity {severity}: radius {radius_px:.2} px, reduced {s}×: mean difference {mean:.3}/255, largest {worst}/255"
        );
        if s == 1 {
            assert_eq!(
                reduced, full,
                "severity {severity}: no reduction, yet different"
            );
        } else {
            assert!(
                mean < 0.25 && worst <= 8,
                "severity {severity}: mean {mean:.3}, largest {worst}"
            );
        }
    }
}

/// How far two RGBA8 frames are apart in their RGB values (alpha left out): the mean absolute
/// difference, the largest, and the share of values more than 8/255 apart.
struct RgbDifference {
    mean: f64,
    worst: u8,
    over: f64,
}

fn rgb_difference(a: &[u8], b: &[u8]) -> RgbDifference {
    let (mut sum, mut worst, mut over, mut n) = (0u64, 0u8, 0u64, 0u64);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if i % 4 != 3 {
            let d = x.abs_diff(*y);
            sum += u64::from(d);
            worst = worst.max(d);
            over += u64::from(d > 8);
            n += 1;
        }
    }
    RgbDifference {
        mean: sum as f64 / n as f64,
        worst,
        over: over as f64 / n as f64,
    }
}

/// `elastic_transform` smooths its displacement field on cells of a few pixels where its σ
/// allows (`working_sigma_px`): on the 640×360 and 1280×720 sample frames its frames differ
/// from those of the field smoothed at full resolution by a fraction of a level on average,
/// and by more than 8 levels in under 0.5 % of values (at sharp edges).
#[test]
fn elastic_on_a_reduced_field_stays_close_to_the_full_field() {
    for (w, h, severities) in [(640, 360, 1..=5u8), (1280, 720, 3..=3u8)] {
        let img = sample("ccrs", w, h);
        for severity in severities {
            let p = Perturbation::at_severity(Corruption::ElasticTransform, severity);
            let working = p.value(1, w);
            let sx = gauntlet::perturb::plan::elastic_reduction(0.01 * w as f32, working);
            let sy = gauntlet::perturb::plan::elastic_reduction(0.01 * h as f32, working);
            let reduced = run_cpu(&img, &p.spec());
            let full = run_cpu(&img, &format!("{},working_sigma_px=4096", p.spec()));
            let RgbDifference { mean, worst, over } = rgb_difference(&reduced, &full);
            eprintln!(
                "{w}×{h} severity {severity}: cells {sx}×{sy}: mean difference {mean:.3}/255, {:.3} % of values more than 8/255 apart, largest {worst}/255",
                100.0 * over
            );
            assert!(sx * sy > 1, "{w}×{h}: the field is not reduced");
            // Sharp edges of the synthetic frames move with sub-pixel differences of the
            // field: a few values far apart are expected, most not at all.
            assert!(
                mean < 0.25 && over < 0.005 && worst <= 48,
                "{w}×{h} severity {severity}: mean {mean:.3}, {:.3} % over 8/255, largest {worst}",
                100.0 * over
            );
        }
    }
}

/// A flat frame of one grey level.
fn flat(w: u32, h: u32, level: u8) -> files::Image {
    files::Image {
        width_px: w,
        height_px: h,
        rgba: [level, level, level, 255].repeat((w * h) as usize),
    }
}

/// Mean and standard deviation of the RGB values (0–1 scale).
fn stats(rgba: &[u8]) -> (f64, f64) {
    let v: Vec<f64> = rgba
        .chunks(4)
        .flat_map(|p| p[..3].iter().map(|&b| f64::from(b) / 255.0))
        .collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    (mean, var.sqrt())
}

fn run_cpu(img: &files::Image, spec: &str) -> Vec<u8> {
    let chain = [parse_spec(spec).unwrap()];
    cpu::perturb(&[frame(img, &chain, "stats")])
        .unwrap()
        .remove(0)
}

#[test]
fn noise_statistics_match_their_definitions() {
    let img = flat(256, 256, 128);
    let x = 128.0 / 255.0;
    // Gaussian: mean x, σ as given (clipping at 0 and 1 is 5σ away).
    let (m, s) = stats(&run_cpu(&img, "gaussian_noise:sigma=0.1"));
    assert!(
        (m - x).abs() < 0.002 && (s - 0.1).abs() < 0.002,
        "gaussian {m} {s}"
    );
    // Speckle: σ = x·σ.
    let (m, s) = stats(&run_cpu(&img, "speckle_noise:sigma=0.2"));
    assert!(
        (m - x).abs() < 0.002 && (s - 0.2 * x).abs() < 0.002,
        "speckle {m} {s}"
    );
    // Shot: Poisson(λx)/λ has mean x and variance x/λ (plus 8-bit rounding, 1/255/√12).
    let (m, s) = stats(&run_cpu(&img, "shot_noise:lambda=60"));
    let expect = (x / 60.0 + (1.0f64 / 255.0).powi(2) / 12.0).sqrt();
    assert!(
        (m - x).abs() < 0.002 && (s - expect).abs() < 0.002,
        "shot {m} {s} {expect}"
    );
    // Poisson draws are whole numbers: every value is k/λ rounded to 8 bits.
    let out = run_cpu(&img, "shot_noise:lambda=5");
    let levels: std::collections::BTreeSet<u8> = out.chunks(4).map(|p| p[0]).collect();
    let allowed: Vec<u8> = (0..=5)
        .map(|k| (k as f64 / 5.0 * 255.0).round() as u8)
        .collect();
    assert!(levels.iter().all(|l| allowed.contains(l)), "{levels:?}");
    // Impulse: a share `amount` of the channel values becomes 0 or 1, half each.
    let out = run_cpu(&img, "impulse_noise:amount=0.1");
    let vals: Vec<u8> = out.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
    let salt = vals.iter().filter(|&&v| v == 255).count() as f64 / vals.len() as f64;
    let pepper = vals.iter().filter(|&&v| v == 0).count() as f64 / vals.len() as f64;
    assert!(
        (salt - 0.05).abs() < 0.003 && (pepper - 0.05).abs() < 0.003,
        "{salt} {pepper}"
    );
}

/// Pearson correlation of two equally long series.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// The noise kernels share the words of a group's Philox blocks among its four pixels (x, x +
/// 64, x + 128, x + 192) and three channels: no two of them may be correlated, within a group
/// or across neighbours. Over the 320 × 96 pixels compared a correlation's standard error is
/// 0.0057; the bound 0.02 is 3.5 of them.
#[test]
fn noise_is_uncorrelated_across_pixels_and_channels() {
    let (w, h) = (512u32, 96u32);
    let img = flat(w, h, 128);
    for (spec, hit) in [
        ("gaussian_noise:sigma=0.1", false),
        ("speckle_noise:sigma=0.2", false),
        ("shot_noise:lambda=12", false),
        // Salt and pepper as two indicators: whether a value was hit, and whether by salt.
        ("impulse_noise:amount=0.3", true),
    ] {
        let out = run_cpu(&img, spec);
        let value = |x: u32, y: u32, c: usize| -> f64 {
            let v = out[(4 * (y * w + x)) as usize + c];
            if hit {
                f64::from(u8::from(v != 128) + u8::from(v == 255))
            } else {
                f64::from(v)
            }
        };
        let series = |dx: u32, c: usize| -> Vec<f64> {
            (0..h)
                .flat_map(|y| (0..w - 192).map(move |x| (x + dx, y)))
                .map(|(x, y)| value(x, y, c))
                .collect()
        };
        let base = series(0, 0);
        for (what, other) in [
            ("the next pixel", series(1, 0)),
            ("the pixel 64 on (same group)", series(64, 0)),
            ("the pixel 128 on (same group)", series(128, 0)),
            ("the pixel 192 on (same group)", series(192, 0)),
            ("the green channel", series(0, 1)),
            ("the blue channel", series(0, 2)),
            ("the next pixel's blue channel", series(1, 2)),
        ] {
            let r = correlation(&base, &other);
            assert!(r.abs() < 0.02, "{spec}: red and {what} correlate, r = {r}");
        }
    }
}

#[test]
fn distance_from_the_clean_frame_grows_with_severity() {
    let img = sample("ccrs", 320, 180);
    let rgb = |v: &[u8]| -> Vec<f64> {
        v.chunks(4)
            .flat_map(|p| p[..3].iter().map(|&b| f64::from(b)))
            .collect()
    };
    let clean = rgb(&img.rgba);
    // Mean absolute difference (0–255); for frost, whose blend brightens a bright frame less at
    // higher severities (as in the original), 100·(1 − correlation with the clean frame).
    let distance = |c: Corruption, s: u8| {
        let chain = [Perturbation::at_severity(c, s)];
        let out = rgb(&cpu::perturb(&[frame(&img, &chain, "severity")]).unwrap()[0]);
        if c == Corruption::Frost {
            let n = out.len() as f64;
            let (ma, mb) = (out.iter().sum::<f64>() / n, clean.iter().sum::<f64>() / n);
            let cov: f64 = out
                .iter()
                .zip(&clean)
                .map(|(a, b)| (a - ma) * (b - mb))
                .sum();
            let va: f64 = out.iter().map(|a| (a - ma).powi(2)).sum();
            let vb: f64 = clean.iter().map(|b| (b - mb).powi(2)).sum();
            100.0 * (1.0 - cov / (va * vb).sqrt())
        } else {
            out.iter()
                .zip(&clean)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / out.len() as f64
        }
    };
    for c in Corruption::ALL {
        let d: Vec<f64> = (1..=5).map(|s| distance(c, s)).collect();
        eprintln!("{}: {d:.2?}", c.name());
        assert!(
            d[4] > d[0],
            "{}: severity 5 is no farther than 1: {d:?}",
            c.name()
        );
        // Tables that are not monotone in strength (as in imagecorruptions): saturate goes from
        // desaturating to saturating, spatter from water to mud, pixelate's factors alias with
        // the image content, zoom blur adds fewer, larger zooms at severity 3 and fog's strength
        // and decay change together.
        let monotone = !matches!(
            c,
            Corruption::Saturate
                | Corruption::Spatter
                | Corruption::Pixelate
                | Corruption::ZoomBlur
                | Corruption::Fog
        );
        if monotone {
            for s in 1..5 {
                assert!(
                    d[s] >= d[s - 1] * 0.98,
                    "{}: severity {} is closer than {}: {d:?}",
                    c.name(),
                    s + 1,
                    s
                );
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_batching_order_or_device_runs() {
    let a = sample("ccrs", 96, 64);
    let b = sample("cpna", 96, 64);
    let noise = [
        parse_spec("gaussian_noise:3").unwrap(),
        parse_spec("glass_blur:2").unwrap(),
    ];
    let fog = [parse_spec("fog:4").unwrap()];
    let alone = cpu::perturb(&[frame(&a, &noise, "x/a.png")]).unwrap();
    let batch = [
        frame(&b, &fog, "x/b.png"),
        frame(&a, &noise, "x/a.png"),
        frame(&b, &noise, "x/c.png"),
    ];
    let in_batch = cpu::perturb(&batch).unwrap();
    assert_eq!(
        alone[0], in_batch[1],
        "a frame's result depends on its batch"
    );
    // Same chain, other name: other noise.
    assert_ne!(
        in_batch[1],
        cpu::perturb(&[frame(&a, &noise, "x/d.png")]).unwrap()[0]
    );
    // Same name, other seed: other noise.
    let mut seeded = frame(&a, &noise, "x/a.png");
    seeded.key = FrameKey::new(8, "x/a.png");
    assert_ne!(alone[0], cpu::perturb(&[seeded]).unwrap()[0]);
    // The GPU: reruns identical, batching irrelevant, the CPU within 1/255.
    let mut engine = gpu();
    let g1 = engine.apply(&batch).unwrap();
    let g2 = engine.apply(&batch).unwrap();
    assert_eq!(g1, g2, "GPU reruns differ");
    let g_alone = engine.apply(&[frame(&a, &noise, "x/a.png")]).unwrap();
    assert_eq!(g_alone[0], g1[1]);
    for (g, c) in g1.iter().zip(&in_batch) {
        assert_eq!(differences(g, c).0, 0);
    }
    // The command's engine on the CPU device is the CPU reference.
    let mut cpu_engine = Perturber::new(DeviceChoice::Cpu).unwrap();
    assert_eq!(cpu_engine.describe(), "cpu");
    assert_eq!(cpu_engine.apply(&batch).unwrap(), in_batch);
}

/// Frames of different sizes (odd widths and heights among them) in one batch: each comes back
/// at its own size, equal to its result alone and within 1/255 of the CPU reference, so the
/// engine's upload and readback place every frame where the plan says. Batches of other sizes
/// before and after reuse the engine's buffers.
#[test]
fn frames_of_different_sizes_in_one_batch() {
    // Widths that are multiples of 4 take the kernels' 16-byte paths where a block lies inside
    // the frame (160×90 and 100×60 have partial blocks at the bottom and right edges); the
    // others take the word-by-word paths.
    let sizes = [
        (97, 61),
        (256, 144),
        (33, 45),
        (160, 90),
        (37, 32),
        (100, 60),
        // Past one run of 256 pixels, with groups cut short by the row's end.
        (331, 33),
    ];
    let images: Vec<files::Image> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| sample(if i % 2 == 0 { "ccrs" } else { "cpna" }, w, h))
        .collect();
    let chain = [
        parse_spec("contrast:2").unwrap(),
        parse_spec("gaussian_noise:1").unwrap(),
        parse_spec("jpeg_compression:2").unwrap(),
        parse_spec("gaussian_blur:2").unwrap(),
        parse_spec("elastic_transform:2").unwrap(),
        parse_spec("snow:2").unwrap(),
        parse_spec("impulse_noise:1").unwrap(),
        parse_spec("spatter:2").unwrap(),
    ];
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("sizes/{i}.png")).collect();
    let frames: Vec<FrameIn> = images
        .iter()
        .zip(&names)
        .map(|(img, name)| frame(img, &chain, name))
        .collect();
    let mut engine = gpu();
    let small = engine.apply(&frames[2..3]).expect("gpu");
    let together = engine.apply(&frames).expect("gpu");
    let on_cpu = cpu::perturb(&frames).expect("cpu");
    assert_eq!(together.len(), frames.len());
    for (i, ((g, c), &(w, h))) in together.iter().zip(&on_cpu).zip(&sizes).enumerate() {
        assert_eq!(g.len(), (4 * w * h) as usize, "frame {i}: {w}×{h}");
        assert_eq!(
            differences(g, c).0,
            0,
            "frame {i} ({w}×{h}) differs from the CPU"
        );
        let alone = engine.apply(&frames[i..i + 1]).expect("gpu");
        assert_eq!(&alone[0], g, "frame {i} ({w}×{h}) depends on its batch");
    }
    assert_eq!(small[0], together[2]);
}

/// Frost and fog on narrow frames: frost's random offset once made the fractal's lattice
/// outgrow its two planes on them (the CPU reference panicked, the GPU wrote past the frame).
#[test]
fn narrow_frames_take_frost_and_fog() {
    // Four of each (four offsets): with the former offsets at least one of them overflowed.
    let sizes = [(32, 2048), (2048, 32)].repeat(4);
    let images: Vec<files::Image> = sizes.iter().map(|&(w, h)| sample("ccrs", w, h)).collect();
    let chain = [parse_spec("frost:5").unwrap(), parse_spec("fog:5").unwrap()];
    let names: Vec<String> = (0..sizes.len())
        .map(|i| format!("narrow/{i}.png"))
        .collect();
    let frames: Vec<FrameIn> = images
        .iter()
        .zip(&names)
        .map(|(img, name)| frame(img, &chain, name))
        .collect();
    let on_gpu = gpu().apply(&frames).expect("gpu");
    let on_cpu = cpu::perturb(&frames).expect("cpu");
    for (i, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        assert_eq!(differences(g, c).0, 0, "frame {i} {:?} differs", sizes[i]);
    }
}

/// `apply_into` reuses the caller's outputs: entries left from a larger batch of other sizes
/// are resized or dropped, and the frames equal `apply`'s.
#[test]
fn apply_into_reused_outputs_gives_the_same_frames() {
    let mut engine = gpu();
    let images = [sample("ccrs", 97, 61), sample("cpna", 64, 36)];
    let chain = [parse_spec("gaussian_noise:2").unwrap()];
    let frames: Vec<FrameIn> = images
        .iter()
        .enumerate()
        .map(|(i, img)| frame(img, &chain, &format!("reuse/{i}.png")))
        .collect();
    let fresh = engine.apply(&frames).expect("gpu");
    let mut out = vec![vec![7u8; 10], vec![1u8; 100_000], vec![3u8; 5]];
    engine.apply_into(&frames, &mut out).expect("gpu");
    assert_eq!(out, fresh);
    engine.apply_into(&frames[1..], &mut out).expect("gpu");
    assert_eq!(out, fresh[1..]);
}

/// The two ways frames move in and out of the device give the same frames: on a CPU adapter
/// (CI's lavapipe) the engine maps its data store itself (`Memory::HostMapped`); the path of
/// discrete GPUs (`Memory::Staged`: upload and staging buffers, copies on the GPU) is forced
/// here on the same adapter. Odd sizes, so that frames start at unaligned pixel counts, and
/// two batches, so that the second reuses the buffers.
#[test]
fn host_mapped_and_staged_memory_give_the_same_frames() {
    use gauntlet::gpu::MemoryChoice;
    let mut auto = PerturbEngine::new(common::gpu_context(MemoryChoice::Auto)).expect("engine");
    let mut staged = PerturbEngine::new(common::gpu_context(MemoryChoice::Staged)).expect("engine");
    let sizes = [(97, 61), (33, 45), (160, 90)];
    let images: Vec<files::Image> = sizes.iter().map(|&(w, h)| sample("ccrs", w, h)).collect();
    let chains = [
        vec![parse_spec("jpeg_compression:2").unwrap()],
        vec![
            parse_spec("fog:2").unwrap(),
            parse_spec("shot_noise:1").unwrap(),
        ],
        vec![
            parse_spec("defocus_blur:3").unwrap(),
            parse_spec("defocus_blur:radius_px=9,working_radius_px=4").unwrap(),
        ],
    ];
    let names: Vec<String> = (0..sizes.len())
        .map(|i| format!("memory/{i}.png"))
        .collect();
    let frames: Vec<FrameIn> = images
        .iter()
        .zip(&chains)
        .zip(&names)
        .map(|((img, chain), name)| frame(img, chain, name))
        .collect();
    for batch in [&frames[..], &frames[1..]] {
        let a = auto.apply(batch).expect("gpu");
        let b = staged.apply(batch).expect("gpu");
        assert_eq!(a, b, "the memory set-up changed a frame");
        let c = cpu::perturb(batch).expect("cpu");
        for (i, (g, c)) in a.iter().zip(&c).enumerate() {
            assert_eq!(differences(g, c).0, 0, "frame {i} differs from the CPU");
        }
    }
}

/// A batch whose lookup tables exceed the uniform table buffer (`gpu::UNIFORM_TABLE_WORDS`)
/// runs the kernels' storage-table variant: the same frames as the CPU reference, and a frame's
/// result the same as in a batch that fits the uniform buffer.
#[test]
fn tables_too_large_for_the_uniform_buffer_give_the_same_frames() {
    let (w, h) = (128, 72);
    let a = sample("ccrs", w, h);
    let b = sample("cpna", w, h);
    let large = [parse_spec("shot_noise:lambda=100").unwrap()];
    let motion = [parse_spec("motion_blur:3").unwrap()];
    let batch = [frame(&a, &large, "t/a.png"), frame(&b, &motion, "t/b.png")];
    let words = gauntlet::perturb::plan::build(&batch, 1).tables.len();
    assert!(
        words > gauntlet::gpu::UNIFORM_TABLE_WORDS,
        "the test needs tables over the uniform buffer: {words} words"
    );
    let mut engine = gpu();
    let on_gpu = engine.apply(&batch).expect("gpu");
    let on_cpu = cpu::perturb(&batch).expect("cpu");
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        let (bad, worst) = differences(g, c);
        assert!(
            bad <= allowed(Corruption::ShotNoise, 3 * (w * h) as usize),
            "{bad} values differ by more than 1/255 (largest {worst})"
        );
    }
    let alone = engine.apply(&[frame(&b, &motion, "t/b.png")]).expect("gpu");
    assert_eq!(alone[0], on_gpu[1], "storage and uniform tables differ");
}

/// A large batch (1280×720 and 640×360 frames, about 70 MB of data store: more than half of
/// the 128 MiB a software driver binds): every frame comes out as when it is perturbed alone,
/// and as the CPU reference makes it. (Until 2026-12-07 the store was a texture of 4096²-word
/// layers and this batch straddled a layer boundary.)
#[test]
fn a_large_batch_gives_the_same_frames() {
    let big = sample("ccrs", 1280, 720);
    let small = sample("cpna", 640, 360);
    let jpeg = [parse_spec("jpeg_compression:3").unwrap()];
    let bright = [parse_spec("brightness:3").unwrap()];
    let batch = [
        frame(&big, &jpeg, "l/0.png"),
        frame(&big, &jpeg, "l/1.png"),
        frame(&small, &jpeg, "l/2.png"),
        frame(&small, &jpeg, "l/3.png"),
        frame(&small, &jpeg, "l/4.png"),
        frame(&big, &bright, "l/5.png"),
    ];
    let plan = gauntlet::perturb::plan::build(&batch, 1);
    assert!(
        4 * plan.data_words > 64 << 20,
        "the batch's store is {} bytes",
        4 * plan.data_words
    );
    let mut engine = gpu();
    let on_gpu = engine.apply(&batch).expect("gpu");
    let on_cpu = cpu::perturb(&batch).expect("cpu");
    for (i, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        let (bad, worst) = differences(g, c);
        assert!(
            bad <= allowed(Corruption::JpegCompression, g.len() / 4 * 3),
            "frame {i}: {bad} values differ by more than 1/255 (largest {worst})"
        );
    }
    for i in [0, 5] {
        let alone = engine.apply(&batch[i..=i]).expect("gpu");
        assert_eq!(alone[0], on_gpu[i], "frame {i} differs from its batch's");
    }
}

#[test]
fn bad_frames_are_refused_with_their_index() {
    let img = flat(16, 16, 0);
    let chain = [parse_spec("contrast:1").unwrap()];
    let e = cpu::perturb(&[frame(&img, &chain, "small")]).unwrap_err();
    assert!(e.to_string().contains("frame 0 is 16×16 px"), "{e}");
    let mut short = frame(&img, &chain, "short");
    short.width_px = 32;
    short.height_px = 32;
    let e = cpu::perturb(&[short]).unwrap_err();
    assert!(e.to_string().contains("bytes of pixels"), "{e}");
    // A rendered frame's depth must cover its pixels.
    let big = flat(32, 32, 0);
    let depth = vec![10.0f32; 31 * 32];
    let mut with_depth = frame(&big, &chain, "depth");
    with_depth.depth_m = Some(&depth);
    let e = cpu::perturb(&[with_depth]).unwrap_err();
    assert!(e.to_string().contains("992 depth values for 32×32"), "{e}");
    let depth = vec![10.0f32; 32 * 32];
    with_depth.depth_m = Some(&depth);
    assert!(cpu::perturb(&[with_depth]).is_ok());
}

/// A batch whose data store exceeds one storage binding of the adapter (128 MiB on lavapipe)
/// is split into several submissions: every frame comes out as when it is perturbed alone and
/// as the CPU reference makes it. On an adapter that binds so much that the batch would need
/// more than 16 frames of 1280×720, the split is not exercised (said on stderr); CI's lavapipe
/// always exercises it.
#[test]
fn a_batch_larger_than_one_binding_is_split() {
    let ctx = match gauntlet::gpu::acquire(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => ctx,
        _ => panic!("no GPU adapter: these tests need one (see scripts/test.sh)"),
    };
    let max_bytes = ctx
        .limits
        .max_storage_buffer_binding_size
        .min(ctx.limits.max_buffer_size);
    let big = sample("ccrs", 1280, 720);
    let jpeg = [parse_spec("jpeg_compression:3").unwrap()];
    let per_frame = 4 * gauntlet::perturb::plan::frame_words(1280, 720, &jpeg);
    let n = (max_bytes / per_frame + 1) as usize;
    if n > 16 {
        eprintln!(
            "the adapter binds {max_bytes} bytes: a split would need {n} frames of 1280×720; not exercised"
        );
        return;
    }
    let names: Vec<String> = (0..n).map(|i| format!("split/{i}.png")).collect();
    let batch: Vec<FrameIn> = names.iter().map(|k| frame(&big, &jpeg, k)).collect();
    let plan = gauntlet::perturb::plan::build(&batch, 1);
    assert!(
        4 * plan.data_words > max_bytes,
        "the batch fits one binding"
    );
    let mut engine = PerturbEngine::new(ctx).expect("engine");
    let on_gpu = engine.apply(&batch).expect("gpu");
    assert_eq!(on_gpu.len(), n);
    let on_cpu = cpu::perturb(&batch[n - 2..]).expect("cpu");
    for (i, c) in (n - 2..n).zip(&on_cpu) {
        assert_eq!(
            differences(&on_gpu[i], c).0,
            0,
            "frame {i} differs from the CPU"
        );
    }
    let last_alone = engine.apply(&batch[n - 1..]).expect("gpu");
    assert_eq!(
        last_alone[0],
        on_gpu[n - 1],
        "the split changed the last frame"
    );
}
