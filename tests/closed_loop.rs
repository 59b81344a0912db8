//! Closed-loop simulation against closed forms, collision geometry, determinism across thread
//! counts, and the exit codes of `gauntlet run`.

mod common;
use common::{gauntlet, tempdir};

use std::path::{Path, PathBuf};

use gauntlet::scenario::{self, Case};
use gauntlet::sim::{self, EndReason, RunSpec, SimOptions};
use gauntlet::sut::{Command, Observation, RunSetup, SutError, System};

/// A test system that brakes at a constant deceleration from the first step.
struct ConstantBrake {
    decel_mps2: f64,
}

impl System for ConstantBrake {
    fn name(&self) -> &str {
        "constant-brake"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, _obs: &Observation<'_>) -> Result<Command, SutError> {
        Ok(Command {
            accel_mps2: Some(-self.decel_mps2),
            ..Command::default()
        })
    }
}

/// A system that panics: its run must end in an error, never the harness.
struct Panics;

impl System for Panics {
    fn name(&self) -> &str {
        "panics"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        if obs.time_s > 1.0 {
            panic!("deliberate failure");
        }
        Ok(Command {
            accel_mps2: Some(f64::NAN).filter(|_| obs.time_s > 2.0),
            ..Command::default()
        })
    }
}

fn cases(path: &str) -> Vec<Case> {
    let loaded = scenario::load_paths(&[PathBuf::from(path)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    loaded.cases
}

fn run_one(case: &Case, system: Box<dyn System>, record_trace: bool) -> sim::RunResult {
    let options = SimOptions {
        record_trace,
        ..SimOptions::default()
    };
    let mut results = sim::run_batch(
        vec![RunSpec {
            scenario: &case.model(),
            case_id: &case.id,
            run_index: 0,
            system,
        }],
        &options,
    );
    results.remove(0)
}

#[test]
fn stopping_distance_matches_v2_over_2a() {
    let cases = cases("tests/corpus/sim/brake-to-stop.toml");
    for decel in [3.0, 6.0, 9.0] {
        let r = run_one(
            &cases[0],
            Box::new(ConstantBrake { decel_mps2: decel }),
            true,
        );
        assert_eq!(r.end_reason, EndReason::EgoStopped);
        let trace = r.trace.expect("trace");
        let start = cases[0].model().ego.pose.station_m;
        let stop = trace.rows.last().expect("rows").ego_station_m;
        let v: f64 = 20.0;
        let expected = v * v / (2.0 * decel);
        // A 10000 m/s³ jerk limit reaches the deceleration within the first step.
        assert!(
            (stop - start - expected).abs() < 0.2,
            "decel {decel}: {} vs {expected}",
            stop - start
        );
        // Time to stop: v / a.
        assert!(
            (r.end_time_s - v / decel).abs() < 0.03,
            "decel {decel}: {}",
            r.end_time_s
        );
    }
}

#[test]
fn impact_speed_matches_sqrt_v2_minus_2ad() {
    for case in cases("tests/corpus/sim/brake-into-target.toml") {
        let scenario::expr::Param::Number(decel) = case.params()["decel_mps2"] else {
            panic!()
        };
        let r = run_one(&case, Box::new(ConstantBrake { decel_mps2: decel }), false);
        let v: f64 = 20.0;
        let d = 20.0;
        let expected_kph = (v * v - 2.0 * decel * d).max(0.0).sqrt() * 3.6;
        if expected_kph == 0.0 {
            assert_eq!(r.end_reason, EndReason::EgoStopped, "{}", case.id);
            continue;
        }
        let c = r.collision.expect("collision");
        let (ego_kph, rel_kph) = sim::impact_speeds_kph(&c);
        assert!(
            (ego_kph - expected_kph).abs() < 0.1,
            "{}: {ego_kph} vs {expected_kph}",
            case.id
        );
        assert!(
            (rel_kph - ego_kph).abs() < 1e-9,
            "stationary target: relative = ego speed"
        );
        // Contact on the front bumper, at the lateral centre.
        assert!(
            c.impact_point_in_ego_m.0.abs() < 1e-6 && c.impact_point_in_ego_m.1.abs() < 1e-6,
            "{:?}",
            c.impact_point_in_ego_m
        );
    }
}

#[test]
fn no_intervention_hits_at_the_placement_ttc_with_the_closing_speed() {
    // CCRs places the target at TTC 4 s: without a system the ego hits it at 4 s, and the
    // relative impact speed equals the closing speed computed from the scenario.
    for case in cases("scenarios/euro-ncap/ccrs.toml") {
        let r = run_one(
            &case,
            gauntlet::sut::SutSpec::parse("builtin:none")
                .expect("spec")
                .instantiate(),
            false,
        );
        let c = r.collision.expect("collision");
        let scenario::expr::Param::Number(v_kph) = case.params()["vut_speed_kph"] else {
            panic!()
        };
        assert!((c.time_s - 4.0).abs() < 1e-6, "{}: {}", case.id, c.time_s);
        assert!(
            (sim::impact_speeds_kph(&c).1 - v_kph).abs() < 1e-6,
            "{}",
            case.id
        );
    }
}

#[test]
fn a_panicking_system_ends_its_run_in_an_error() {
    let cases = cases("tests/corpus/sim/brake-to-stop.toml");
    let r = run_one(&cases[0], Box::new(Panics), false);
    assert_eq!(r.end_reason, EndReason::SutError);
    assert!(
        r.sut_error
            .as_deref()
            .unwrap_or("")
            .contains("deliberate failure"),
        "{:?}",
        r.sut_error
    );
}

#[test]
fn report_is_byte_identical_for_any_thread_count() {
    let dir = tempdir("jobs");
    let mut reports = Vec::new();
    for jobs in ["1", "2", "7"] {
        let out = dir.join(format!("out-{jobs}"));
        let o = gauntlet(&[
            "run",
            "scenarios/euro-ncap",
            "--sut",
            "builtin:aeb",
            "--jobs",
            jobs,
            "--seed",
            "3",
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        reports.push(std::fs::read(out.join("report.json")).expect("report.json"));
        let lines = std::fs::read_to_string(out.join("cases.jsonl")).expect("cases.jsonl");
        let report: serde_json::Value =
            serde_json::from_slice(reports.last().expect("report")).expect("JSON");
        assert_eq!(
            lines.lines().count(),
            report["cases"].as_array().expect("cases").len()
        );
    }
    assert!(
        reports[0] == reports[1] && reports[1] == reports[2],
        "report.json differs between --jobs 1, 2 and 7"
    );
}

#[test]
fn run_exit_codes_and_outputs() {
    let dir = tempdir("exit");
    let out = dir.join("out");
    let out_s = out.to_str().expect("utf-8");
    // Collisions: exit 1, with reports written.
    let o = gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--sut",
        "builtin:none",
        "--out",
        out_s,
        "--traces",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("JSON");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["summary"]["fail"], report["summary"]["cases"]);
    let first = &report["cases"][0];
    assert_eq!(first["verdict"], "fail");
    assert!(
        first["reasons"][0]
            .as_str()
            .expect("reason")
            .starts_with("collision with `gvt`")
    );
    assert_eq!(first["metrics"]["collision"], true);
    assert!(out.join("run.json").exists());
    let id = first["id"].as_str().expect("id");
    let trace =
        std::fs::read_to_string(out.join("traces").join(format!("{id}.csv"))).expect("trace");
    assert!(trace.starts_with("run,time_s,ego_station_m"));
    // All pass: exit 0 (a low-speed case that the reference AEB avoids).
    let o = gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--sut",
        "builtin:aeb",
        "--filter",
        "*overlap_pct=100,vut_speed_kph=20",
        "--out",
        out_s,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Usage errors: exit 2.
    assert_eq!(
        gauntlet(&[
            "run",
            "scenarios/euro-ncap/ccrs.toml",
            "--filter",
            "nothing*",
            "--out",
            out_s
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        gauntlet(&[
            "run",
            "scenarios/euro-ncap/ccrs.toml",
            "--sut",
            "builtin:nope",
            "--out",
            out_s
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        gauntlet(&["run", "tests/corpus/invalid/syntax.toml", "--out", out_s])
            .status
            .code(),
        Some(2)
    );
    assert!(Path::new(out_s).exists());
}

/// Object lists seen, with the time each was seen.
type Seen = Vec<(f64, Vec<gauntlet::sut::TrackedObject>)>;

/// Records what it is shown.
struct Recorder {
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
}

impl System for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((obs.time_s, obs.objects.to_vec()));
        }
        Ok(Command::default())
    }
}

fn observe(
    case: &Case,
    seed: u64,
    run_index: u32,
) -> Vec<(f64, Vec<gauntlet::sut::TrackedObject>)> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let options = SimOptions {
        seed,
        ..SimOptions::default()
    };
    sim::run_batch(
        vec![RunSpec {
            scenario: &case.model(),
            case_id: &case.id,
            run_index,
            system: Box::new(Recorder { seen: seen.clone() }),
        }],
        &options,
    );
    seen.lock().expect("lock").clone()
}

#[test]
fn object_list_sensor_models_range_latency_rate_noise_and_dropouts() {
    let cases = cases("tests/corpus/sim/noisy-sensor.toml");
    let case = &cases[0];
    let a = observe(case, 1, 0);
    // Same key, same numbers; another seed or run index, other numbers.
    assert_eq!(a, observe(case, 1, 0));
    assert_ne!(a, observe(case, 2, 0));
    assert_ne!(a, observe(case, 1, 1));
    let mut shown = 0;
    let mut errors = Vec::new();
    for (time_s, objects) in &a {
        for o in objects {
            shown += 1;
            // Only the near car is within 80 m; the far one never appears.
            assert_eq!(o.track_id, 1, "the far car is out of range");
            // Latency 0.1 s, updates at 10 Hz: the measurement is 0.1–0.15 s old.
            let age = time_s - o.measured_at_s;
            assert!((0.1 - 1e-9..=0.15 + 1e-9).contains(&age), "age {age}");
            // True position at the measurement time: the ego moves at 10 m/s towards it.
            let true_x = 60.0 + 4.02 / 2.0 - 10.0 * o.measured_at_s;
            errors.push(o.pos_in_ego_m[0] - true_x);
        }
    }
    let n_steps = a.len();
    assert!(
        shown > n_steps / 2 && shown < n_steps,
        "dropouts: shown {shown} of {n_steps}"
    );
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / errors.len() as f64).sqrt();
    assert!(
        mean.abs() < 0.3 && (sd - 0.5).abs() < 0.25,
        "noise mean {mean} sd {sd}"
    );
}

#[test]
fn reference_systems_on_the_protocols_they_target() {
    let run = |path: &str, sut: &str| -> Vec<(String, bool)> {
        cases(path)
            .iter()
            .map(|case| {
                let system = gauntlet::sut::SutSpec::parse(sut)
                    .expect("spec")
                    .instantiate();
                (
                    case.id.clone(),
                    run_one(case, system, false).collision.is_some(),
                )
            })
            .collect()
    };
    // AEB avoids every CCRs collision up to 50 km/h (and mitigates above).
    for (id, hit) in run("scenarios/euro-ncap/ccrs.toml", "builtin:aeb") {
        let v: f64 = id
            .rsplit('=')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("speed");
        if v <= 50.0 {
            assert!(!hit, "{id}: builtin:aeb should avoid this collision");
        }
    }
    // AEB never brakes into a collision in the false-reaction tests.
    for path in [
        "scenarios/un-r152/false-reaction-adjacent.toml",
        "scenarios/un-r152/false-reaction-turning.toml",
    ] {
        for (id, hit) in run(path, "builtin:aeb") {
            assert!(!hit, "{id}");
        }
    }
    // The UN R157 careful driver avoids every cut-in of the R157 library.
    for (id, hit) in run("scenarios/un-r157/cut-in.toml", "builtin:careful-driver") {
        assert!(!hit, "{id}: the careful driver should avoid this cut-in");
    }
}
