//! Camera frames per second: the GPU path (`shaders/render.wgsl` through `gauntlet::gpu`) and
//! the multi-threaded CPU reference (`render::cpu`) side by side in one group, for batches of
//! 1, 16, 64 and 256 frames at 640×360 and 1280×720. The frames are a day CCRs approach (the
//! target in view) at successive times, so every frame differs.
//!
//! Without a GPU adapter only the CPU reference is measured (and a line says so). Set
//! `GAUNTLET_BENCH_RENDER_QUICK=1` to measure 640×360 batch 64 only (`=720`: 1280×720 batch 16
//! only; `=640`: 640×360, every batch size); `cargo test --all-targets` (which runs each bench once, without `--bench`) measures
//! 640×360 batch 64, to keep the test run short.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::gpu::{DeviceChoice, GpuRenderer};

#[path = "common/render_scenes.rs"]
mod render_scenes;
use render_scenes::scenes;

fn render(c: &mut Criterion) {
    let mut gpu = match gauntlet::gpu::acquire(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => {
            eprintln!("render bench: GPU adapter {}", ctx.adapter);
            Some(GpuRenderer::new(ctx).expect("renderer"))
        }
        _ => {
            eprintln!("render bench: no GPU adapter; measuring the CPU reference only");
            None
        }
    };
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = std::env::var("GAUNTLET_BENCH_RENDER_QUICK").ok();
    let (sizes, batches): (&[(u32, u32)], &[usize]) = match quick.as_deref() {
        Some("720") => (&[(1280, 720)], &[16]),
        Some("640") => (&[(640, 360)], &[1, 16, 64, 256]),
        Some(_) => (&[(640, 360)], &[64]),
        None if !benching => (&[(640, 360)], &[64]),
        None => (&[(640, 360), (1280, 720)], &[1, 16, 64, 256]),
    };
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for &(w, h) in sizes {
        for &n in batches {
            let batch = scenes(n, w, h);
            group.throughput(Throughput::Elements(n as u64));
            let id = format!("{w}x{h}/batch_{n}");
            if let Some(g) = gpu.as_mut() {
                group.bench_with_input(BenchmarkId::new("gpu", &id), &batch, |b, batch| {
                    b.iter(|| g.render(batch).expect("gpu render"))
                });
            }
            group.bench_with_input(
                BenchmarkId::new("cpu_reference", &id),
                &batch,
                |b, batch| b.iter(|| gauntlet::render::cpu::render_scenes(batch)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
