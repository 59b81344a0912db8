//! Simulation speed: physics steps per second of one run, and the whole Euro NCAP CCR grid
//! with `builtin:aeb` (the goal: over 100 cases in under 2 s on a 2-core machine).

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::run::{self, RunConfig};
use gauntlet::scenario;
use gauntlet::sim::{self, RunSpec, SimOptions};
use gauntlet::sut::SutSpec;

#[path = "common/ccrs_case.rs"]
mod ccrs_case;
use ccrs_case::ccrs_50_full_overlap;

fn steps_per_second(c: &mut Criterion) {
    // The 50 km/h, 100 % overlap case: with no intervention it runs 4 s = 400 steps.
    let case = ccrs_50_full_overlap();
    let none = SutSpec::parse("builtin:none").expect("spec");
    let steps = sim::run_batch(
        vec![RunSpec {
            scenario: &case.model,
            case_id: &case.id,
            run_index: 0,
            system: none.instantiate(),
        }],
        &SimOptions::default(),
    )[0]
    .end_time_s
        / case.model.timing.dt_s;
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(steps.round() as u64));
    group.bench_function("one_run_steps", |b| {
        b.iter(|| {
            sim::run_batch(
                vec![RunSpec {
                    scenario: &case.model,
                    case_id: &case.id,
                    run_index: 0,
                    system: none.instantiate(),
                }],
                &SimOptions::default(),
            )
        })
    });
    group.finish();
}

fn ccr_grid(c: &mut Criterion) {
    let paths: Vec<PathBuf> = ["ccrs", "ccrm", "ccrb"]
        .iter()
        .map(|n| PathBuf::from(format!("scenarios/euro-ncap/{n}.toml")))
        .collect();
    let loaded = scenario::load_paths(&paths);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    let cases = loaded.cases;
    let config = RunConfig {
        sut: SutSpec::parse("builtin:aeb").expect("spec"),
        sim: SimOptions::default(),
        jobs: 0,
        batch_size: 16,
        packs: gauntlet::eval::judge::Packs::builtin().expect("built-in packs"),
        metrics: gauntlet::eval::metrics::MetricsConfig::default(),
        detection: Default::default(),
        renderers: Default::default(),
    };
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.sample_size(10);
    group.bench_function(
        format!("euro_ncap_ccr_grid_{}_cases_aeb_judged", cases.len()),
        |b| b.iter(|| run::run_suite(&cases, &config, &|_, _| {})),
    );
    // Loading and validating the grid, which a real run also pays.
    group.bench_function("euro_ncap_ccr_grid_load", |b| {
        b.iter(|| scenario::load_paths(&paths))
    });
    group.finish();
}

criterion_group!(benches, steps_per_second, ccr_grid);
criterion_main!(benches);
