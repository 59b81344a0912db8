//! A timing probe of the renderer's shader: renders the frames of `benches/render.rs` (a day
//! CCRs approach, 640×360, 64 frames) with each WGSL variant named on the command line (or
//! `builtin` for `shaders/render.wgsl`) and with the CPU reference, alternately, and prints the
//! process CPU time and the wall time per frame of each. Process CPU time counts lavapipe's
//! threads and is less disturbed by other work on a shared machine than wall time, so variants
//! compared in one run of this probe are comparable even under load. Each variant's frames are
//! also compared with the CPU reference's (pixels whose colour differs by more than 1/255).
//!
//! `cargo run --release --example render_probe -- builtin /tmp/variant.wgsl`
//! (`PROBE_REPS`, default 3; `PROBE_FRAMES`, default 64; `PROBE_SIZE`, default `640x360`).

use std::time::Instant;

use gauntlet::gpu::{DeviceChoice, GpuRenderer, RENDER_WGSL};
use gauntlet::render::Frame;

#[path = "../benches/common/render_scenes.rs"]
mod render_scenes;
use render_scenes::scenes;

/// CPU time of this process (all threads), seconds.
fn process_cpu_s() -> f64 {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// Pixels whose colour differs by more than 1/255 in a channel, and whose instance differs.
fn differing(a: &[Frame], b: &[Frame]) -> (usize, usize) {
    let mut colour = 0;
    let mut instance = 0;
    for (x, y) in a.iter().zip(b) {
        colour += x
            .rgba
            .chunks(4)
            .zip(y.rgba.chunks(4))
            .filter(|(p, q)| (0..3).any(|c| p[c].abs_diff(q[c]) > 1))
            .count();
        instance += x
            .instance
            .iter()
            .zip(&y.instance)
            .filter(|(p, q)| p != q)
            .count();
    }
    (colour, instance)
}

/// FNV-1a over every frame's colour, depth, instance and coverage: equal hashes, equal frames.
fn frames_hash(frames: &[Frame]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in frames {
        eat(&f.rgba);
        for d in &f.depth_m {
            eat(&d.to_le_bytes());
        }
        for i in f.instance.iter().chain(&f.coverage) {
            eat(&i.to_le_bytes());
        }
    }
    h
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = std::env::var("PROBE_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let n: usize = std::env::var("PROBE_FRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let (w, h) = std::env::var("PROBE_SIZE")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((640, 360));
    let ctx = gauntlet::gpu::acquire(DeviceChoice::Gpu)
        .expect("device")
        .expect("a GPU adapter");
    eprintln!(
        "adapter: {} (uniform binding ≤ {} B, offsets aligned to {} B; storage offsets to {} B)",
        ctx.adapter,
        ctx.limits.max_uniform_buffer_binding_size,
        ctx.limits.min_uniform_buffer_offset_alignment,
        ctx.limits.min_storage_buffer_offset_alignment
    );
    let names: Vec<String> = if args.is_empty() {
        vec!["builtin".into()]
    } else {
        args
    };
    let mut variants: Vec<(String, GpuRenderer)> = names
        .iter()
        .map(|name| {
            let src = if name == "builtin" {
                RENDER_WGSL.to_owned()
            } else {
                std::fs::read_to_string(name).unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            let r =
                GpuRenderer::with_wgsl(ctx.share(), &src).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.clone(), r)
        })
        .collect();
    let batch = scenes(n, w, h);
    let reference = gauntlet::render::cpu::render_scenes(&batch);
    eprintln!(
        "cpu reference frames: hash {:016x}",
        frames_hash(&reference)
    );
    for (name, r) in &mut variants {
        let frames = r.render(&batch).expect("render");
        let (c, i) = differing(&frames, &reference);
        eprintln!(
            "{name}: {c} colour and {i} instance pixels of {} differ from the CPU reference",
            n * (w * h) as usize
        );
    }
    let mut cpu_ms = vec![Vec::new(); variants.len() + 1];
    let mut wall_ms = vec![Vec::new(); variants.len() + 1];
    for _ in 0..reps {
        for (k, (_, r)) in variants.iter_mut().enumerate() {
            let (c0, t0) = (process_cpu_s(), Instant::now());
            std::hint::black_box(r.render(&batch).expect("render"));
            cpu_ms[k].push((process_cpu_s() - c0) * 1e3 / n as f64);
            wall_ms[k].push(t0.elapsed().as_secs_f64() * 1e3 / n as f64);
        }
        let (c0, t0) = (process_cpu_s(), Instant::now());
        std::hint::black_box(gauntlet::render::cpu::render_scenes(&batch));
        let k = variants.len();
        cpu_ms[k].push((process_cpu_s() - c0) * 1e3 / n as f64);
        wall_ms[k].push(t0.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
    let cpu_ref_wall = median(&mut wall_ms[variants.len()].clone());
    println!("| variant | ms CPU/frame (median of {reps}) | ms wall/frame | CPU-ref wall ÷ wall |");
    println!("|---|---:|---:|---:|");
    for (k, name) in names
        .iter()
        .map(String::as_str)
        .chain(["cpu reference"])
        .enumerate()
    {
        let wall = median(&mut wall_ms[k]);
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} |",
            median(&mut cpu_ms[k]),
            wall,
            cpu_ref_wall / wall
        );
    }
}
