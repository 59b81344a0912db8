//! GNSS speed: SPP fixes per second on one core with 10+ satellites in view (the goal:
//! ≥ 100,000), beside the whole simulated epoch (orbits, error sources, reception, fix).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gauntlet::gnss::environment::EnvironmentKind;
use gauntlet::gnss::receiver::{
    FdeConfig, Observation, ProtectionConfig, solve_spp, solve_spp_fde,
};
use gauntlet::gnss::{self, GnssConfig, Profile, Simulator};

/// The observations of one open-sky epoch at the default site with at least `min_sats`
/// satellites tracked, and the solution of the epoch before (the receiver's starting point).
fn epoch_observations(min_sats: usize) -> (Vec<Observation>, [f64; 4]) {
    let cfg = GnssConfig::new(Profile::Spp, EnvironmentKind::OpenSky);
    let site = gnss::default_site();
    let start = cfg.start_bdt_s;
    let mut sim = Simulator::new(cfg);
    for k in 0..3600 {
        let e = sim.step(start + f64::from(k), &site);
        if let Some(obs) = sim
            .last_observations()
            .filter(|o| o.len() >= min_sats && e.fix.is_some())
        {
            let initial = sim.last_solution().expect("solution");
            return (obs.to_vec(), initial);
        }
    }
    panic!("no epoch with {min_sats} satellites");
}

fn spp_fixes(c: &mut Criterion) {
    let mut group = c.benchmark_group("gnss");
    let (all, initial) = epoch_observations(12);
    for n in [10usize, 12] {
        // The n highest-ranked observations of the epoch (sizes swept as 10 and 12).
        let obs = all[..n].to_vec();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("spp_fix_wls", n), &obs, |b, obs| {
            b.iter(|| {
                solve_spp(
                    std::hint::black_box(obs),
                    initial,
                    &ProtectionConfig::default(),
                )
                .expect("fix")
            })
        });
        group.bench_with_input(BenchmarkId::new("spp_fix_wls_fde", n), &obs, |b, obs| {
            b.iter(|| {
                solve_spp_fde(
                    std::hint::black_box(obs),
                    initial,
                    &ProtectionConfig::default(),
                    &FdeConfig::default(),
                )
                .expect("fix")
            })
        });
    }
    // The whole epoch: satellite positions, error sources, reception, tracking, fix.
    group.throughput(Throughput::Elements(600));
    group.bench_function("simulated_epochs_open_sky_600", |b| {
        b.iter(|| {
            gnss::simulate_static(
                GnssConfig::new(Profile::Spp, EnvironmentKind::OpenSky),
                &gnss::default_site(),
                600.0,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, spp_fixes);
criterion_main!(benches);
