//! Frames per second of every corruption at severity 3: the GPU path (`shaders/perturb_*.wgsl`
//! through `gauntlet::gpu`, one submission per batch where the adapter's limits allow, results
//! read back) and the multi-threaded CPU reference (`perturb::cpu`) side by side in one group,
//! at 640×360 and 1280×720, batch 64. The frames are the sample dataset's rendered frames
//! (`datasets/sample/`), scaled to the size.
//!
//! The baseline, imagecorruptions (single image, one thread), is measured by
//! `../shared/bench/imagecorruptions_speed.py` on the same machine; `docs/benchmarks.md` puts
//! the two side by side. Without a GPU adapter only the CPU reference is measured (and a line
//! says so).
//!
//! Knobs: `GAUNTLET_BENCH_PERTURB_QUICK=1` measures 640×360 only; `GAUNTLET_BENCH_PERTURB_BATCH=N`
//! changes the batch; `cargo test --all-targets` (which runs each bench once, without
//! `--bench`) uses 640×360 and batch 2 to keep the test run short. Filter corruptions as usual
//! (`cargo bench --bench perturb -- fog`).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::gpu::{DeviceChoice, PerturbEngine};
use gauntlet::perturb::{Corruption, Perturbation, cpu};

#[path = "common/perturb_frames.rs"]
mod perturb_frames;
use perturb_frames::{batch as frame_batch, frames, keys};

fn perturb(c: &mut Criterion) {
    let mut gpu = match gauntlet::gpu::acquire(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => {
            eprintln!("perturb bench: GPU adapter {}", ctx.adapter);
            let mut e = PerturbEngine::new(ctx).expect("engine");
            e.compile_all().expect("kernels");
            Some(e)
        }
        _ => {
            eprintln!("perturb bench: no GPU adapter; measuring the CPU reference only");
            None
        }
    };
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = std::env::var_os("GAUNTLET_BENCH_PERTURB_QUICK").is_some() || !benching;
    let sizes: &[(u32, u32)] = if quick {
        &[(640, 360)]
    } else {
        &[(640, 360), (1280, 720)]
    };
    let batch: usize = match std::env::var("GAUNTLET_BENCH_PERTURB_BATCH") {
        Ok(v) => v.parse().expect("GAUNTLET_BENCH_PERTURB_BATCH: a number"),
        Err(_) if !benching => 2,
        Err(_) => 64,
    };
    let mut group = c.benchmark_group("perturb");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(2));
    for &(w, h) in sizes {
        let images = frames(batch, w, h);
        for corruption in Corruption::ALL {
            let chain = [Perturbation::at_severity(corruption, 3)];
            let keys = keys("bench", batch);
            let batch_frames = frame_batch(&images, &keys, &chain);
            group.throughput(Throughput::Elements(batch as u64));
            let id = format!("{}/{w}x{h}/batch_{batch}", corruption.name());
            if let Some(g) = gpu.as_mut() {
                // Batch after batch into the same outputs, as `gauntlet perturb` does.
                let mut out = Vec::new();
                group.bench_with_input(BenchmarkId::new("gpu", &id), &batch_frames, |b, f| {
                    b.iter(|| g.apply_into(f, &mut out).expect("gpu perturb"))
                });
            }
            group.bench_with_input(
                BenchmarkId::new("cpu_reference", &id),
                &batch_frames,
                |b, f| b.iter(|| cpu::perturb(f).expect("cpu perturb")),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, perturb);
criterion_main!(benches);
