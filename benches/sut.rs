//! Systems under test as processes: the protocol round trip of one step with an object-list
//! observation (goal: at most 50 µs), beside the same system built in, batched steps, and the
//! Euro NCAP CCR grid through a process. The Rust reference client (`examples/rust/sut_aeb.rs`)
//! is compiled into this binary and serves when started with `--serve-sut-aeb`, so the client is
//! always the current one; the Python client runs too when `python3` is there.
//!
//! Camera-frame throughput to a process (goal: at least 1 GB/s through shared memory on a
//! 2-core machine): `rgb8` frames of 640×360 and 1280×720 through `shm` and `inline`, to a
//! client (this binary, `--serve-frame-sum`) that reads every byte of every frame (a sum of
//! its 8-byte words) before it answers. The harness's side includes the RGBA → RGB conversion.

#[path = "../examples/rust/sut_aeb.rs"]
mod sut_aeb;

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use gauntlet::run::{self, RunConfig};
use gauntlet::scenario;
use gauntlet::sim::SimOptions;
use gauntlet::sut::manifest::{self, CameraTransport, ProcessSut};
use gauntlet::sut::protocol::{FrameDelivery, FrameFormat};
use gauntlet::sut::{
    CameraFrame, EgoSignals, LaneObservation, ObjectClass, Observation, RunSetup, SutSpec, System,
    TrackedObject, process,
};

const SERVE: &str = "--serve-sut-aeb";
const SERVE_FRAME_SUM: &str = "--serve-frame-sum";

/// This binary as the Rust reference client.
fn rust_client() -> ProcessSut {
    let exe = std::env::current_exe().expect("bench binary");
    ProcessSut {
        args: vec![SERVE.into()],
        label: "rust-aeb".into(),
        ..manifest::exec_sut(exe.to_str().expect("utf-8 path")).expect("executable")
    }
}

/// The Python reference client, if `python3` runs.
fn python_client() -> Option<ProcessSut> {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("python3 not found: the Python client is not measured");
        return None;
    }
    Some(ProcessSut {
        label: "python-aeb".into(),
        ..manifest::exec_sut("examples/python/sut_aeb.py").expect("executable")
    })
}

fn setup() -> RunSetup {
    RunSetup {
        dt_s: 0.05,
        ego_length_m: 4.6,
        ego_width_m: 1.8,
        ego_wheelbase_m: 2.7,
        ego_max_decel_mps2: 10.0,
        cameras: Vec::new(),
    }
}

/// `n` cars spread ahead and beside, as an object list reports them at `time_s`.
fn objects(n: usize, time_s: f64) -> Vec<TrackedObject> {
    (0..n)
        .map(|i| TrackedObject {
            track_id: i as u32 + 1,
            class: ObjectClass::Car,
            pos_in_ego_m: [20.0 + 7.3 * i as f64, -3.5 + 3.5 * (i % 3) as f64],
            rel_vel_in_ego_mps: [-2.0 - 0.1 * i as f64, 0.05],
            heading_in_ego_rad: 0.01 * i as f64,
            length_m: 4.5,
            width_m: 1.8,
            measured_at_s: time_s,
        })
        .collect()
}

fn observation(objects: &[TrackedObject], time_s: f64) -> Observation<'_> {
    Observation {
        time_s,
        ego: EgoSignals {
            speed_mps: 50.0 / 3.6,
            accel_mps2: -0.01,
            yaw_rate_radps: 0.001,
            steer_rad: 0.0,
            length_m: 4.6,
            width_m: 1.8,
            wheelbase_m: 2.7,
        },
        objects,
        lane: Some(LaneObservation {
            offset_m: 0.1,
            heading_rad: 0.0,
            curvature_per_m: 0.0,
            width_m: 3.5,
            left_boundary_m: 0.75,
            right_boundary_m: 0.95,
            right_road_edge_m: 1.45,
            left_road_edge_m: 4.25,
        }),
        set_speed_mps: 50.0 / 3.6,
        gnss: None,
        frames: &[],
    }
}

/// Steps `system` through `iters` observations with `n` objects; time advances every step.
fn step_many(system: &mut dyn System, n: usize, iters: u64, clock: &mut f64) {
    for _ in 0..iters {
        *clock += 0.05;
        let objs = objects(n, *clock);
        let cmd = system.step(&observation(&objs, *clock)).expect("command");
        std::hint::black_box(cmd);
    }
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("sut_round_trip");
    group.throughput(Throughput::Elements(1));
    let mut clients: Vec<(&str, SutSpec)> = vec![
        ("builtin_aeb", SutSpec::parse("builtin:aeb").expect("spec")),
        (
            "process_rust_aeb",
            SutSpec::Process(Arc::new(rust_client())),
        ),
    ];
    if let Some(p) = python_client() {
        clients.push(("process_python_aeb", SutSpec::Process(Arc::new(p))));
    }
    for n in [0usize, 8, 32] {
        for (name, spec) in &clients {
            let mut system = spec.instantiate();
            system.reset(&setup());
            let mut clock = 0.0;
            group.bench_with_input(
                BenchmarkId::new(*name, format!("objects={n}")),
                &n,
                |b, &n| {
                    b.iter_custom(|iters| {
                        // Building the observation is part of every variant alike.
                        let start = std::time::Instant::now();
                        step_many(system.as_mut(), n, iters, &mut clock);
                        start.elapsed()
                    })
                },
            );
        }
    }
    group.finish();
}

/// 16 runs held by one process, their observations in one `step` message.
fn batched(c: &mut Criterion) {
    const RUNS: usize = 16;
    let mut group = c.benchmark_group("sut_round_trip_batched");
    group.throughput(Throughput::Elements(RUNS as u64));
    let sut = Arc::new(ProcessSut {
        batch_size: RUNS,
        ..rust_client()
    });
    let pool = process::Pool::new(sut);
    let mut lease = pool.lease();
    let mut systems: Vec<Box<dyn System>> =
        (0..RUNS).map(|i| lease.system("bench", i as u32)).collect();
    for s in &mut systems {
        s.reset(&setup());
    }
    let n = 8;
    let mut clock = 0.0;
    group.bench_function(
        BenchmarkId::new("process_rust_aeb_16_runs", format!("objects={n}")),
        |b| {
            b.iter(|| {
                clock += 0.05;
                let objs = objects(n, clock);
                let obs = observation(&objs, clock);
                for s in &mut systems {
                    match s.submit(&obs).expect("submit") {
                        gauntlet::sut::Step::Pending => {}
                        gauntlet::sut::Step::Done(_) => unreachable!("a process answers later"),
                    }
                }
                for s in &mut systems {
                    std::hint::black_box(s.collect().expect("command"));
                }
            })
        },
    );
    group.finish();
    drop(systems);
    lease.finish(&[]);
}

/// The whole CCR grid, judged, with the system built in and through a process.
fn ccr_grid(c: &mut Criterion) {
    let paths: Vec<PathBuf> = ["ccrs", "ccrm", "ccrb"]
        .iter()
        .map(|n| PathBuf::from(format!("scenarios/euro-ncap/{n}.toml")))
        .collect();
    let loaded = scenario::load_paths(&paths);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    let cases = loaded.cases;
    let mut group = c.benchmark_group("sut_ccr_grid");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.sample_size(10);
    for (name, sut) in [
        ("builtin_aeb", SutSpec::parse("builtin:aeb").expect("spec")),
        (
            "process_rust_aeb",
            SutSpec::Process(Arc::new(rust_client())),
        ),
    ] {
        let config = RunConfig {
            sut,
            sim: SimOptions::default(),
            jobs: 0,
            batch_size: 16,
            packs: gauntlet::eval::judge::Packs::builtin().expect("built-in packs"),
            metrics: gauntlet::eval::metrics::MetricsConfig::default(),
            detection: Default::default(),
            renderers: Default::default(),
        };
        group.bench_function(BenchmarkId::new(name, cases.len()), |b| {
            b.iter(|| run::run_suite(&cases, &config, &|_, _| {}))
        });
    }
    group.finish();
}

/// The bench's frame client: answers every step after summing the 8-byte words of each of
/// its frames (so that every byte is read), from the payload after the line or the mapped
/// shared-memory file. Serde for the lines, nothing else.
fn serve_frame_sum() {
    use std::io::{BufRead, Read, Write};
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut line = Vec::new();
    let mut payload = Vec::new();
    let mut shm: Option<gauntlet::sut::shm::ShmView> = None;
    let mut total = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_or(true, |n| n == 0) {
            break;
        }
        let v: serde_json::Value = serde_json::from_slice(&line).expect("a line of JSON");
        let reply = match v["type"].as_str() {
            Some("hello") => r#"{"type":"ready","protocol":1,"max_batch":1024}"#.to_string(),
            Some("begin") => {
                if let Some(s) = v.get("shm") {
                    let path = s["path"].as_str().expect("path");
                    let bytes = s["bytes"].as_u64().expect("bytes") as usize;
                    drop(shm.take());
                    shm = Some(
                        gauntlet::sut::shm::ShmView::open(std::path::Path::new(path), bytes)
                            .expect("map"),
                    );
                }
                continue;
            }
            Some("step") => {
                let source: &[u8] = match v["payload_bytes"].as_u64() {
                    Some(n) => {
                        payload.resize(n as usize, 0);
                        input.read_exact(&mut payload).expect("payload");
                        &payload
                    }
                    None => shm.as_ref().map_or(&[][..], |s| s.bytes()),
                };
                let mut commands = Vec::new();
                for o in v["observations"].as_array().expect("observations") {
                    for f in o["frames"].as_array().into_iter().flatten() {
                        let at = f["offset"].as_u64().expect("offset") as usize;
                        let n = f["bytes"].as_u64().expect("bytes") as usize;
                        let words = source[at..at + n].chunks_exact(8);
                        let rest = words.remainder();
                        total = words.fold(total, |acc, w| {
                            let mut word = [0u8; 8];
                            word.copy_from_slice(w);
                            acc.wrapping_add(u64::from_le_bytes(word))
                        });
                        total = rest
                            .iter()
                            .fold(total, |acc, &b| acc.wrapping_add(u64::from(b)));
                    }
                    commands.push(format!("{{\"run\":{}}}", o["run"]));
                }
                format!(
                    "{{\"type\":\"commands\",\"seq\":{},\"commands\":[{}]}}",
                    v["seq"],
                    commands.join(",")
                )
            }
            _ => continue,
        };
        writeln!(out, "{reply}")
            .and_then(|()| out.flush())
            .expect("write");
    }
    eprintln!("frame sum {total:x}");
}

/// `rgb8` frames to a process through shared memory and inline, in bytes per second.
fn frame_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("sut_frames");
    for (w, h) in [(640u32, 360u32), (1280, 720)] {
        let camera = gauntlet::render::Camera {
            width_px: w,
            height_px: h,
            ..gauntlet::render::Camera::front(4.6)
        };
        // A frame whose bytes are not all alike (the sum sees them all).
        let rgba: Vec<u8> = (0..w as usize * h as usize * 4)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut frames = vec![CameraFrame {
            camera: camera.clone(),
            frame_index: 0,
            exposed_at_s: 0.0,
            width_px: w,
            height_px: h,
            rgba,
        }];
        group.throughput(Throughput::Bytes(FrameFormat::Rgb8.frame_bytes(w, h) as u64));
        for transport in [CameraTransport::Shm, CameraTransport::Inline] {
            let exe = std::env::current_exe().expect("bench binary");
            let sut = Arc::new(ProcessSut {
                args: vec![SERVE_FRAME_SUM.into()],
                label: "frame-sum".into(),
                frames: Some(FrameDelivery {
                    format: FrameFormat::Rgb8,
                    transport,
                }),
                offer: manifest::camera_offer(),
                ..manifest::exec_sut(exe.to_str().expect("utf-8 path")).expect("executable")
            });
            let pool = process::Pool::new(sut);
            let mut lease = pool.lease();
            let mut system = lease.system("bench", 0);
            system.reset(&RunSetup {
                cameras: vec![camera.clone()],
                ..setup()
            });
            let mut clock = 0.0;
            group.bench_function(
                BenchmarkId::new(format!("{}_rgb8", transport.name()), format!("{w}x{h}")),
                |b| {
                    b.iter(|| {
                        clock += 0.05;
                        frames[0].frame_index += 1;
                        frames[0].exposed_at_s = clock;
                        let obs = Observation {
                            frames: &frames,
                            ..observation(&[], clock)
                        };
                        std::hint::black_box(system.step(&obs).expect("command"));
                    })
                },
            );
            system.end();
            drop(system);
            lease.finish(&[]);
        }
    }
    group.finish();
}

criterion_group!(benches, round_trip, batched, ccr_grid, frame_throughput);

fn main() {
    if std::env::args().any(|a| a == SERVE) {
        sut_aeb::main();
        return;
    }
    if std::env::args().any(|a| a == SERVE_FRAME_SUM) {
        serve_frame_sum();
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
