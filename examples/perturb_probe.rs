//! A timing probe of the perturbation engine: applies each corruption at severity 3 to a batch
//! of the sample dataset's frames (scaled to the size) through `gauntlet::gpu::PerturbEngine`
//! for a while and prints the process CPU time and the wall time per frame, with a checksum of
//! the output (equal checksums, equal frames). Process CPU time counts lavapipe's threads; CPU
//! time well above the wall time × cores in use means idle cores (serial work or an unbalanced
//! split), which is what this probe is for: `benches/perturb.rs` gives the figures to publish.
//!
//! `cargo run --release --example perturb_probe` (`ONLY=fog,snow`; `PROBE_BATCH`, default 8;
//! `PROBE_SIZE`, default `640x360`; `MIN_S`, seconds per corruption, default 1.5;
//! `PROBE_COMPARE=1` also counts the channel values that differ from the CPU reference).

use std::time::Instant;

use gauntlet::gpu::{DeviceChoice, PerturbEngine};
use gauntlet::perturb::{Corruption, Perturbation};

#[path = "../benches/common/perturb_frames.rs"]
mod perturb_frames;
use perturb_frames::{batch as frame_batch, frames, keys};

/// CPU time of this process (all threads), seconds.
fn process_cpu_s() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` only writes the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let batch: usize = env_or("PROBE_BATCH", 8);
    let min_s: f64 = env_or("MIN_S", 1.5);
    let (w, h) = std::env::var("PROBE_SIZE")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((640u32, 360u32));
    let only = std::env::var("ONLY").ok();
    let images = frames(batch, w, h);
    let keys = keys("probe", batch);
    let ctx = gauntlet::gpu::acquire(DeviceChoice::Gpu)
        .expect("device")
        .expect("a GPU adapter");
    eprintln!("adapter: {}", ctx.adapter);
    let mut engine = PerturbEngine::new(ctx).expect("engine");
    println!("| corruption | ms CPU/frame | ms wall/frame | cores busy | checksum |");
    println!("|---|---:|---:|---:|---|");
    for c in Corruption::ALL {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|n| n == c.name()))
        {
            continue;
        }
        // PROBE_PARAMS (e.g. `angle_deg=0`) is appended to severity 3 where the corruption
        // has such parameters; where it has not, the row says so.
        let chain = [match std::env::var("PROBE_PARAMS") {
            Ok(p) => {
                gauntlet::perturb::parse_spec(&format!("{}:3,{p}", c.name())).unwrap_or_else(|e| {
                    eprintln!("{}: PROBE_PARAMS not applied ({e}); severity 3", c.name());
                    Perturbation::at_severity(c, 3)
                })
            }
            Err(_) => Perturbation::at_severity(c, 3),
        }];
        let frames = frame_batch(&images, &keys, &chain);
        let mut out = Vec::new();
        engine.apply_into(&frames, &mut out).expect("perturb");
        let checksum = out
            .iter()
            .flatten()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        if std::env::var("PROBE_COMPARE").is_ok() {
            // How far the GPU path's frames are from the CPU reference's: channel values that
            // differ, and the largest difference.
            let reference = gauntlet::perturb::cpu::perturb(&frames).expect("cpu reference");
            let (mut differ, mut worst, mut values) = (0usize, 0u8, 0usize);
            for (a, b) in out.iter().zip(&reference) {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    if i % 4 != 3 {
                        values += 1;
                        differ += usize::from(x != y);
                        worst = worst.max(x.abs_diff(*y));
                    }
                }
            }
            eprintln!(
                "{}: {differ} of {values} channel values differ from the CPU reference, at most by {worst}",
                c.name()
            );
        }
        let (c0, t0) = (process_cpu_s(), Instant::now());
        let mut runs = 0;
        while t0.elapsed().as_secs_f64() < min_s || runs < 2 {
            engine.apply_into(&frames, &mut out).expect("perturb");
            std::hint::black_box(&out);
            runs += 1;
        }
        let cpu_ms = (process_cpu_s() - c0) * 1e3 / (runs * batch) as f64;
        let wall_ms = t0.elapsed().as_secs_f64() * 1e3 / (runs * batch) as f64;
        println!(
            "| {} | {cpu_ms:.2} | {wall_ms:.2} | {:.2} | {checksum:016x} |",
            c.name(),
            cpu_ms / wall_ms
        );
    }
}
