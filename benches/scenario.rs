//! Scenario loading throughput: validating and expanding the protocol library, and a large
//! random sweep (cases per second).

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::scenario;

fn library(c: &mut Criterion) {
    let paths = [PathBuf::from("scenarios")];
    let n_cases = scenario::load_paths(&paths).cases.len() as u64;
    let mut group = c.benchmark_group("scenario_load");
    group.throughput(Throughput::Elements(n_cases));
    group.bench_function("library", |b| b.iter(|| scenario::load_paths(&paths)));
    group.finish();
}

fn random_sweep(c: &mut Criterion) {
    let text = std::fs::read_to_string("tests/corpus/valid/grid-and-random.toml")
        .expect("corpus file")
        .replace("count = 3", "count = 2000")
        // Finer rounding, so that 2000 samples give 2000 distinct case IDs.
        .replace("round_to = 0.1 }", "round_to = 0.000001 }")
        .replace("round_to = 0.01 }", "round_to = 0.000001 }");
    let n_cases = match scenario::load_bytes(Path::new("bench.toml"), text.as_bytes()) {
        scenario::FileResult::Scenario { cases, .. } => cases.len() as u64,
        _ => panic!("bench input must be a valid scenario"),
    };
    assert_eq!(
        n_cases, 12_000,
        "the bench input must expand without errors"
    );
    let mut group = c.benchmark_group("scenario_load");
    group.throughput(Throughput::Elements(n_cases));
    group.sample_size(10);
    group.bench_function("random_sweep_12000_cases", |b| {
        b.iter(|| scenario::load_bytes(Path::new("bench.toml"), text.as_bytes()))
    });
    group.finish();
}

criterion_group!(benches, library, random_sweep);
criterion_main!(benches);
