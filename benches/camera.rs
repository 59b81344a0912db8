//! A camera suite in closed loop, wall time per suite: `builtin:aeb-vision` on the CCRs camera
//! grid (`scenarios/camera/ccrs.toml`: one 640×360 camera at 20 Hz), frames rendered by the
//! GPU path (`gauntlet::gpu` on whatever adapter there is; lavapipe on a machine without a GPU)
//! and by the CPU reference, side by side in one group, with the suite's simulated time and
//! frame count printed so that the wall time reads as a multiple of real time.
//!
//! The whole grid (12 cases) is measured with `--bench`; `GAUNTLET_BENCH_CAMERA_CASES=GLOB`
//! picks other cases. `cargo test --all-targets` (which runs each bench once, without
//! `--bench`) runs one case only, to keep the test run short.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::eval::judge::Packs;
use gauntlet::gpu::{DeviceChoice, FrameRenderer};
use gauntlet::run::{self, Renderers, RunConfig};
use gauntlet::scenario::{self, Case};
use gauntlet::sim::SimOptions;
use gauntlet::sut::SutSpec;

fn suite(glob: &str) -> Vec<Case> {
    let loaded = scenario::load_paths(&[PathBuf::from("scenarios/camera/ccrs.toml")]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    let matcher = globset::Glob::new(glob).expect("glob").compile_matcher();
    loaded
        .cases
        .into_iter()
        .filter(|c| matcher.is_match(&c.id))
        .collect()
}

fn config(renderer: FrameRenderer, device: DeviceChoice) -> RunConfig {
    RunConfig {
        sut: SutSpec::parse("builtin:aeb-vision").expect("sut"),
        sim: SimOptions::default(),
        jobs: 0,
        batch_size: 16,
        packs: Packs::builtin().expect("packs"),
        metrics: Default::default(),
        detection: Default::default(),
        renderers: Arc::new(Renderers::starting_with(device, renderer)),
    }
}

fn camera_suite(c: &mut Criterion) {
    let benching = std::env::args().any(|a| a == "--bench");
    let glob = std::env::var("GAUNTLET_BENCH_CAMERA_CASES").unwrap_or_else(|_| {
        if benching {
            "*".into()
        } else {
            "*light=day,overlap_pct=100,vut_speed_kph=20".into()
        }
    });
    let cases = suite(&glob);
    assert!(!cases.is_empty(), "no case matches {glob}");
    // The suite's simulated time and frames, from one run (the same every time).
    let probe = run::run_suite(
        &cases,
        &config(FrameRenderer::Cpu, DeviceChoice::Cpu),
        &|_, _| {},
    );
    let simulated_s: f64 = probe
        .iter()
        .flat_map(|r| &r.runs)
        .map(|r| r.result.end_time_s)
        .sum();
    let frames: f64 = probe
        .iter()
        .flat_map(|r| &r.runs)
        .filter_map(|r| r.metrics.0.get("detection_frames").copied().flatten())
        .sum();
    eprintln!(
        "camera bench: {} case(s) `{glob}`, {simulated_s:.2} s simulated, {frames} frames",
        cases.len()
    );
    let mut group = c.benchmark_group("camera_suite");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(frames as u64));
    let id = format!("ccrs_640x360_20hz/{}_cases", cases.len());
    match FrameRenderer::new(DeviceChoice::Gpu) {
        Ok(gpu) => {
            eprintln!("camera bench: GPU path on {}", gpu.describe());
            let cfg = config(gpu, DeviceChoice::Gpu);
            group.bench_function(BenchmarkId::new("gpu", &id), |b| {
                b.iter(|| run::run_suite(&cases, &cfg, &|_, _| {}))
            });
        }
        Err(e) => eprintln!("camera bench: no GPU path ({e}); measuring the CPU reference only"),
    }
    let cfg = config(FrameRenderer::Cpu, DeviceChoice::Cpu);
    group.bench_function(BenchmarkId::new("cpu_reference", &id), |b| {
        b.iter(|| run::run_suite(&cases, &cfg, &|_, _| {}))
    });
    group.finish();
}

criterion_group!(benches, camera_suite);
criterion_main!(benches);
