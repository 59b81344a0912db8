//! Systems under test as processes: the protocol round trip of one step with an object-list
//! observation (goal: at most 50 µs), beside the same system built in, batched steps, and the
//! Euro NCAP CCR grid through a process. The Rust reference client (`examples/rust/sut_aeb.rs`)
//! is compiled into this binary and serves when started with `--serve-sut-aeb`, so the client is
//! always the current one; the Python client runs too when `python3` is there.
//!
//! Camera-frame throughput through shared memory is not measured: frames are not in the loop
//! yet (the protocol reserves them).

#[path = "../examples/rust/sut_aeb.rs"]
mod sut_aeb;

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use gauntlet::run::{self, RunConfig};
use gauntlet::scenario;
use gauntlet::sim::SimOptions;
use gauntlet::sut::manifest::{self, ProcessSut};
use gauntlet::sut::{
    EgoSignals, LaneObservation, ObjectClass, Observation, RunSetup, SutSpec, System,
    TrackedObject, process,
};

const SERVE: &str = "--serve-sut-aeb";

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

criterion_group!(benches, round_trip, batched, ccr_grid);

fn main() {
    if std::env::args().any(|a| a == SERVE) {
        sut_aeb::main();
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
