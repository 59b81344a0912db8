//! The camera renderer: the GPU path (`shaders/render.wgsl` through `gauntlet::gpu`) against its
//! CPU reference on frames of library scenarios, day and night, straight and curved roads,
//! with a distorting lens; batches split by the adapter's limits; labels.
//!
//! A missing GPU adapter fails these tests: CI installs Mesa's software Vulkan driver
//! (`scripts/test.sh`). A failing comparison writes both images and a difference image under
//! `target/render-diff/` for a person to look at.

use std::path::PathBuf;

mod common;

use gauntlet::gpu::{DeviceChoice, FrameRenderer, GpuRenderer};
use gauntlet::render::scene::{FrameScene, build_frame, test_driver_states};
use gauntlet::render::{Camera, Frame, Light, Lighting, labels};
use gauntlet::scenario::{self, BuiltCase};

fn case(path: &str, id_part: &str) -> BuiltCase {
    let loaded = scenario::load_paths(&[PathBuf::from(path)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    loaded
        .cases
        .into_iter()
        .find(|c| c.id.contains(id_part))
        .unwrap_or_else(|| panic!("no case {id_part} in {path}"))
        .build()
}

/// Scenes of a case at the given times (closed loop with `builtin:none`).
fn scenes(case: &BuiltCase, times: &[f64], light: Light, camera: &Camera) -> Vec<FrameScene> {
    let lighting = Lighting {
        light,
        ..Lighting::default()
    };
    test_driver_states(&case.model, &case.id, times)
        .iter()
        .map(|s| build_frame(&case.model, &lighting, camera, s))
        .collect()
}

fn camera(w: u32, h: u32) -> Camera {
    Camera {
        width_px: w,
        height_px: h,
        ..Camera::front(4.6)
    }
}

fn gpu() -> GpuRenderer {
    match gauntlet::gpu::acquire(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => {
            eprintln!("GPU adapter: {}", ctx.adapter);
            GpuRenderer::new(ctx).expect("renderer")
        }
        Ok(None) | Err(_) => panic!(
            "no GPU adapter: these tests need one (CI installs Mesa's software Vulkan driver; see scripts/test.sh)"
        ),
    }
}

/// Writes the two frames and their difference for a person to look at.
fn dump(name: &str, a: &Frame, b: &Frame) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render-diff");
    std::fs::create_dir_all(&dir).expect("dir");
    let save = |suffix: &str, rgba: &[u8]| {
        image::save_buffer(
            dir.join(format!("{name}-{suffix}.png")),
            rgba,
            a.width_px,
            a.height_px,
            image::ExtendedColorType::Rgba8,
        )
        .expect("png");
    };
    save("gpu", &a.rgba);
    save("cpu", &b.rgba);
    let diff: Vec<u8> = a
        .rgba
        .iter()
        .zip(&b.rgba)
        .enumerate()
        .map(|(i, (x, y))| {
            if i % 4 == 3 {
                255
            } else {
                (x.abs_diff(*y)).saturating_mul(32)
            }
        })
        .collect();
    save("diff", &diff);
    dir
}

/// Colour within 1/255 on ≥ 99.9 % of pixels (at least 4 may differ), depth relative error
/// ≤ 1e-4 on ≥ 99.9 %, the same instance id on ≥ 99.9 %, coverage counts within 0.1 %.
fn assert_close(name: &str, gpu: &Frame, cpu: &Frame) {
    assert_eq!((gpu.width_px, gpu.height_px), (cpu.width_px, cpu.height_px));
    let n = (gpu.width_px * gpu.height_px) as usize;
    let colour_bad = (0..n)
        .filter(|&i| (0..3).any(|c| gpu.rgba[4 * i + c].abs_diff(cpu.rgba[4 * i + c]) > 1))
        .count();
    let depth_bad = (0..n)
        .filter(|&i| {
            let (a, b) = (gpu.depth_m[i], cpu.depth_m[i]);
            (a - b).abs() > 1e-4 * b.abs().max(1e-3)
        })
        .count();
    let id_bad = (0..n)
        .filter(|&i| gpu.instance[i] != cpu.instance[i])
        .count();
    // 0.1 % of the pixels, and at least 4. The pixels that may differ lie where f32 rounding
    // (fused multiply-adds on the GPU, none on the CPU) decides between two surfaces:
    // silhouettes, seams between an actor's parts, shadow edges and texture cells near the
    // horizon; in a tiny frame one such cell is already more than 0.1 %. A failure writes the
    // images (see `dump`).
    let allowed = (n / 1000).max(4);
    if colour_bad > allowed || depth_bad > allowed || id_bad > allowed {
        let dir = dump(name, gpu, cpu);
        panic!(
            "{name}: {colour_bad} colour, {depth_bad} depth, {id_bad} instance pixels of {n} differ (allowed {allowed}); images in {}",
            dir.display()
        );
    }
    assert_eq!(gpu.coverage.len(), cpu.coverage.len());
    for (id, (a, b)) in gpu.coverage.iter().zip(&cpu.coverage).enumerate() {
        assert!(
            a.abs_diff(*b) as f64 <= 2.0 + 0.001 * f64::from(*b),
            "{name}: coverage of instance {id}: gpu {a}, cpu {b}"
        );
    }
}

#[test]
fn gpu_frames_match_the_cpu_reference() {
    let mut gpu = gpu();
    let mut all = Vec::new();
    let mut names = Vec::new();
    let cam = camera(320, 180);
    for (path, id, times) in [
        (
            "scenarios/euro-ncap/ccrs.toml",
            "overlap_pct=50,vut_speed_kph=50",
            vec![0.5, 3.0],
        ),
        (
            "scenarios/euro-ncap/cpna.toml",
            "impact_point_pct=25,light=day,vut_speed_kph=40",
            vec![2.0, 3.5],
        ),
        (
            "scenarios/euro-ncap/cbla.toml",
            "vut_speed_kph=40",
            vec![2.0],
        ),
        (
            "scenarios/cn-cdas-draft/cones.toml",
            "v_smaxset_kph=80",
            vec![3.0],
        ),
        (
            "scenarios/cn-cdas-draft/overturned-car.toml",
            "light=night,v_smaxset_kph=80",
            vec![3.0],
        ),
        (
            "scenarios/un-r157/cut-in.toml",
            "ego_speed_kph=60",
            vec![1.0],
        ),
    ] {
        let c = case(path, id);
        for light in [Light::Day, Light::Night] {
            for s in scenes(&c, &times, light, &cam) {
                names.push(format!(
                    "{}-{light:?}-{}",
                    c.id.replace(['/', '=', ','], "_"),
                    all.len()
                ));
                all.push(s);
            }
        }
    }
    // A lens with barrel distortion.
    let mut fisheye = camera(256, 160);
    fisheye.k1 = -0.25;
    fisheye.k2 = 0.05;
    fisheye.hfov_rad = 100f64.to_radians();
    let c = case(
        "scenarios/euro-ncap/ccrm.toml",
        "overlap_pct=100,vut_speed_kph=50",
    );
    for s in scenes(&c, &[2.0], Light::Day, &fisheye) {
        names.push("ccrm-fisheye".into());
        all.push(s);
    }
    let on_gpu = gpu.render(&all).expect("gpu render");
    let on_cpu = gauntlet::render::cpu::render_scenes(&all);
    assert_eq!(on_gpu.len(), all.len());
    for ((name, g), c) in names.iter().zip(&on_gpu).zip(&on_cpu) {
        assert_close(name, g, c);
    }
    // The frames show something: actors in view, and day brighter than night.
    let mean = |f: &Frame| {
        let rgb: Vec<f64> = f
            .rgba
            .chunks(4)
            .flat_map(|p| p[..3].iter().map(|&b| f64::from(b)))
            .collect();
        rgb.iter().sum::<f64>() / rgb.len() as f64
    };
    assert!(
        mean(&on_cpu[0]) > 2.0 * mean(&on_cpu[2]),
        "day {} night {}",
        mean(&on_cpu[0]),
        mean(&on_cpu[2])
    );
    assert!(
        on_cpu[1].instance.iter().any(|&i| i > 0),
        "the target is in view"
    );
}

#[test]
fn frames_of_several_sizes_in_one_batch_and_the_cpu_device() {
    let c = case(
        "scenarios/euro-ncap/ccrs.toml",
        "overlap_pct=100,vut_speed_kph=30",
    );
    let mut batch = scenes(&c, &[1.0], Light::Day, &camera(64, 48));
    batch.extend(scenes(&c, &[2.0], Light::Night, &camera(97, 33)));
    batch.extend(scenes(&c, &[3.0], Light::Day, &camera(8, 8)));
    let mut gpu = gpu();
    let g = gpu.render(&batch).expect("gpu");
    let mut cpu = FrameRenderer::new(DeviceChoice::Cpu).expect("cpu");
    assert_eq!(cpu.describe(), "cpu");
    let c = cpu.render(&batch).expect("cpu");
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        assert_close(&format!("mixed-{i}"), a, b);
    }
}

/// On a CPU adapter (CI's lavapipe) the renderer reads its outputs where they lie
/// (`Memory::HostMapped`); the path of discrete GPUs (`Memory::Staged`: copies into a staging
/// buffer) is forced here on the same adapter. Both give the same frames, colour, depth,
/// instance ids and coverage alike, over two batches of several sizes.
#[test]
fn host_mapped_and_staged_readback_give_the_same_frames() {
    use gauntlet::gpu::MemoryChoice;
    let mut auto = GpuRenderer::new(common::gpu_context(MemoryChoice::Auto)).expect("renderer");
    let mut staged = GpuRenderer::new(common::gpu_context(MemoryChoice::Staged)).expect("renderer");
    let c = case(
        "scenarios/euro-ncap/ccrs.toml",
        "overlap_pct=100,vut_speed_kph=30",
    );
    let mut batch = scenes(&c, &[1.0, 2.5], Light::Day, &camera(64, 48));
    batch.extend(scenes(&c, &[2.0], Light::Night, &camera(97, 33)));
    for part in [&batch[..], &batch[1..]] {
        let a = auto.render(part).expect("gpu");
        let b = staged.render(part).expect("gpu");
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x.rgba, y.rgba, "frame {i}: colour");
            assert_eq!(x.depth_m, y.depth_m, "frame {i}: depth");
            assert_eq!(x.instance, y.instance, "frame {i}: instance ids");
            assert_eq!(x.coverage, y.coverage, "frame {i}: coverage");
        }
    }
}

#[test]
fn labels_name_the_visible_actors() {
    let c = case(
        "scenarios/euro-ncap/ccrs.toml",
        "overlap_pct=100,vut_speed_kph=50",
    );
    let s = scenes(&c, &[2.0], Light::Day, &camera(640, 360));
    let frame = &gauntlet::render::cpu::render_scenes(&s)[0];
    let l = labels(&s[0], frame);
    assert_eq!(l.len(), 1, "{l:?}");
    let target = &l[0];
    assert_eq!(target.class.name(), "car");
    assert!(target.visible_fraction > 0.95, "{target:?}");
    assert_eq!(target.truncated, 0.0);
    // The target is straight ahead: its box straddles the image centre.
    assert!(
        target.bbox_px[0] < 320.0 && target.bbox_px[2] > 320.0,
        "{target:?}"
    );
    // Depth at the box centre is the distance to the target's rear, within 0.5 m.
    let (u, v) = (
        ((target.bbox_px[0] + target.bbox_px[2]) / 2.0) as usize,
        ((target.bbox_px[1] + target.bbox_px[3]) / 2.0) as usize,
    );
    let depth = f64::from(frame.depth_m[v * 640 + u]);
    assert!(
        (depth - (target.location_in_camera_m[2] - 0.5 * target.dims_m[2])).abs() < 0.5,
        "{depth} {target:?}"
    );
}

/// The bounding spheres (`SHAPE_BOUND`) only skip ray tests that would miss: the CPU reference
/// draws every library family's frames byte for byte the same with them and without them.
#[test]
fn bounds_skip_tests_but_change_no_pixel() {
    use gauntlet::render::SHAPE_BOUND;
    let cam = camera(200, 120);
    for (path, id, light) in [
        (
            "scenarios/euro-ncap/ccrs.toml",
            "overlap_pct=50,vut_speed_kph=50",
            Light::Day,
        ),
        (
            "scenarios/euro-ncap/cpna.toml",
            "impact_point_pct=25,light=day,vut_speed_kph=40",
            Light::Day,
        ),
        (
            "scenarios/euro-ncap/cbla.toml",
            "vut_speed_kph=40",
            Light::Night,
        ),
        (
            "scenarios/cn-cdas-draft/cones.toml",
            "v_smaxset_kph=80",
            Light::Day,
        ),
        (
            "scenarios/cn-cdas-draft/overturned-car.toml",
            "light=night,v_smaxset_kph=80",
            Light::Night,
        ),
        (
            "scenarios/un-r157/cut-in.toml",
            "ego_speed_kph=60",
            Light::Day,
        ),
    ] {
        let c = case(path, id);
        let bounded = scenes(&c, &[0.5, 2.0, 3.5], light, &cam);
        assert!(
            bounded
                .iter()
                .all(|s| s.prims.iter().any(|p| p.ids[2] == SHAPE_BOUND))
        );
        let unbounded: Vec<FrameScene> = bounded
            .iter()
            .map(|s| FrameScene {
                prims: s
                    .prims
                    .iter()
                    .filter(|p| p.ids[2] != SHAPE_BOUND)
                    .copied()
                    .collect(),
                ..s.clone()
            })
            .collect();
        let a = gauntlet::render::cpu::render_scenes(&bounded);
        let b = gauntlet::render::cpu::render_scenes(&unbounded);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                x.rgba == y.rgba
                    && x.depth_m == y.depth_m
                    && x.instance == y.instance
                    && x.coverage == y.coverage,
                "{id} frame {i}: culling changed the frame"
            );
        }
    }
}

/// A frame whose scene block exceeds a uniform binding (64 KiB: here about 1,300 primitives)
/// renders through the storage-binding variant of the shader, in a batch with an ordinary
/// frame, and still matches the CPU reference.
#[test]
fn frames_with_more_primitives_than_a_uniform_block_holds() {
    let c = case(
        "scenarios/euro-ncap/ccrs.toml",
        "overlap_pct=100,vut_speed_kph=50",
    );
    let mut batch = scenes(&c, &[3.5, 3.5], Light::Day, &camera(160, 96));
    let group = batch[1].prims.clone();
    assert!(!group.is_empty());
    // The target's bound and primitives again and again in the second frame, each copy a
    // little further left.
    for copy in 1..=130 {
        batch[1].prims.extend(group.iter().map(|p| {
            let mut q = *p;
            q.centre[1] += 0.05 * copy as f32;
            q
        }));
    }
    assert!(batch[1].prims.len() * std::mem::size_of::<gauntlet::render::Prim>() > 65536);
    let on_gpu = gpu().render(&batch).expect("gpu render");
    let on_cpu = gauntlet::render::cpu::render_scenes(&batch);
    for (i, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        assert_close(&format!("many-prims-{i}"), g, c);
    }
    assert!(
        on_cpu[1].instance.iter().filter(|&&i| i > 0).count()
            > on_cpu[0].instance.iter().filter(|&&i| i > 0).count()
    );
}
