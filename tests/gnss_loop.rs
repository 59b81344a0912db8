//! Satellite positioning in the closed loop (issue 10): the fix stream's timing and latency as
//! a system sees it, road-frame errors of a moving receiver against the static model, the
//! localization metrics in the reports, `builtin:lka-gnss`, and determinism across `--jobs`
//! and shards.

mod common;
use common::{gauntlet, tempdir};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gauntlet::gnss::environment::EnvironmentKind;
use gauntlet::gnss::{self, FixType, GnssConfig, Profile};
use gauntlet::rng::fnv1a64;
use gauntlet::scenario::{self, Case};
use gauntlet::sim::{self, RunSpec, SimOptions};
use gauntlet::sut::{Command, GnssFix, Observation, RunSetup, SutError, System};

fn cases(path: &str) -> Vec<Case> {
    let loaded = scenario::load_paths(&[PathBuf::from(path)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    loaded.cases
}

/// (observation time, the fix it carried) of every step.
type Seen = Arc<Mutex<Vec<(f64, Option<GnssFix>)>>>;

/// Records what the system saw at every step.
struct Recorder(Seen);

impl System for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        if let Ok(mut v) = self.0.lock() {
            v.push((obs.time_s, obs.gnss.cloned()));
        }
        Ok(Command::default())
    }
}

fn run(case: &Case, system: Box<dyn System>, seed: u64) -> sim::RunResult {
    let options = SimOptions {
        seed,
        record_trace: true,
        ..SimOptions::default()
    };
    sim::run_batch(
        vec![RunSpec {
            scenario: &case.model(),
            case_id: &case.id,
            run_index: 0,
            system,
        }],
        &options,
    )
    .remove(0)
}

#[test]
fn fixes_arrive_at_the_receiver_rate_after_their_latency() {
    let cases = cases("tests/corpus/gnss/lane-keeping.toml");
    let rtk = cases
        .iter()
        .find(|c| c.id.contains("rtk"))
        .expect("rtk case");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let result = run(rtk, Box::new(Recorder(seen.clone())), 0);
    let seen = seen.lock().expect("lock").clone();
    // The system runs at 20 Hz for 20 s.
    assert_eq!(seen.len(), 400);
    let (rate_hz, latency_s) = (10.0, 0.1);
    let mut fixes = 0;
    let mut in_tunnel_without_fix = 0;
    for (t, fix) in &seen {
        // The newest epoch that has arrived: the last multiple of 0.1 s at or before t − 0.1 s.
        let newest_epoch_s = ((t - latency_s + 1e-9) * rate_hz).floor() / rate_hz;
        match fix {
            None if *t < latency_s - 1e-9 => {}
            None => in_tunnel_without_fix += 1,
            Some(f) => {
                fixes += 1;
                assert!(
                    (f.valid_at_s - newest_epoch_s).abs() < 1e-9,
                    "at {t} s the fix is valid at {} s, expected {newest_epoch_s} s",
                    f.valid_at_s
                );
                assert!(t - f.valid_at_s >= latency_s - 1e-9);
                assert!(t - f.valid_at_s < latency_s + 1.0 / rate_hz);
                // The antenna mount travels with the fix, and the positions agree.
                assert_eq!(f.antenna_in_ego_m, [-0.5, 0.2, 1.4]);
                assert!(f.sigma_h_m > 0.0 && f.hpl_m >= f.sigma_h_m);
                assert!((f.lat_deg - 30.52).abs() < 0.01 && (f.lon_deg - 114.36).abs() < 0.01);
                // The road points north: the station is the northward distance.
                assert!((f.pos_in_road_m[0] - (t - (t - f.valid_at_s)) * 20.0 - 20.0).abs() < 5.0);
                assert!(
                    (f.vel_in_road_mps[0] - 20.0).abs() < 1.0,
                    "{:?}",
                    f.vel_in_road_mps
                );
            }
        }
    }
    assert!(fixes > 300, "{fixes} fixes");
    // Inside the tunnel (about 9.5–13.5 s) no position arrives once dead reckoning gives up,
    // or positions are dead-reckoned; either way every epoch is accounted for.
    let samples = result.localization.expect("samples");
    assert_eq!(samples.len(), 200, "one sample per epoch, 0 s to 19.9 s");
    for (k, s) in samples.iter().enumerate() {
        assert!((s.t_s - k as f64 / rate_hz).abs() < 1e-9);
    }
    let tunnel: Vec<_> = samples
        .iter()
        .filter(|s| s.environment == EnvironmentKind::Tunnel)
        .collect();
    assert!(tunnel.len() >= 35, "{} tunnel epochs", tunnel.len());
    assert!(tunnel.iter().all(|s| s.sats_received == 0));
    assert!(
        tunnel
            .iter()
            .all(|s| s.error.is_none_or(|e| e.fix_type == FixType::DeadReckoning))
    );
    let _ = in_tunnel_without_fix;
}

#[test]
fn a_moving_receiver_has_the_static_model_statistics_in_the_road_frame() {
    let cases = cases("tests/corpus/gnss/moving.toml");
    let case = &cases[0];
    let result = run(case, Box::new(gauntlet::sut::builtin::NoIntervention), 0);
    let samples = result.localization.expect("samples");
    assert_eq!(samples.len(), 300);
    // The static model at the road's origin with the same keys (seed, case, run 0).
    let mut config = GnssConfig::new(Profile::Spp, EnvironmentKind::OpenSky);
    config.case_hash = fnv1a64(case.id.as_bytes());
    let epochs = gnss::simulate_static(config, &gnss::default_site(), 300.0);
    let p = |mut v: Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        gnss::percentile(&v, q)
    };
    let moving_lat: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.error)
        .map(|e| e.lateral_m.abs())
        .collect();
    let moving_along: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.error)
        .map(|e| e.along_m.abs())
        .collect();
    let moving_h: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.error)
        .map(|e| e.horizontal_m)
        .collect();
    let fixes: Vec<_> = epochs.iter().filter_map(|e| e.fix).collect();
    // Road north: lateral (left) is west, along is north.
    let static_east: Vec<f64> = fixes.iter().map(|f| f.err_enu_m[0].abs()).collect();
    let static_north: Vec<f64> = fixes.iter().map(|f| f.err_enu_m[1].abs()).collect();
    let static_h: Vec<f64> = fixes.iter().map(|f| f.horiz_err_m()).collect();
    assert_eq!(
        moving_h.len(),
        static_h.len(),
        "same availability in open sky"
    );
    for (name, a, b) in [
        ("lateral vs east", &moving_lat, &static_east),
        ("along vs north", &moving_along, &static_north),
        ("horizontal", &moving_h, &static_h),
    ] {
        for q in [50.0, 95.0] {
            let (pa, pb) = (p(a.clone(), q), p(b.clone(), q));
            assert!(
                (pa / pb - 1.0).abs() < 0.25,
                "{name} p{q}: moving {pa:.3} m, static {pb:.3} m"
            );
        }
    }
    // Epoch by epoch the same random draws give nearly the same errors: the lateral error is
    // minus the east error (6 km of travel changes the geometry only a little).
    let mut close = 0;
    for (s, f) in samples.iter().zip(&fixes) {
        let e = s.error.expect("fix");
        if (e.lateral_m + f.err_enu_m[0]).abs() < 0.5 && (e.along_m - f.err_enu_m[1]).abs() < 0.5 {
            close += 1;
        }
    }
    assert!(close > 200, "{close} of 300 epochs agree within 0.5 m");
}

#[test]
fn the_seed_and_the_case_drive_the_noise_and_nothing_else() {
    let cases = cases("tests/corpus/gnss/lane-keeping.toml");
    let spp = cases
        .iter()
        .find(|c| c.id.contains("spp"))
        .expect("spp case");
    let a = run(spp, Box::new(gauntlet::sut::builtin::NoIntervention), 1);
    let b = run(spp, Box::new(gauntlet::sut::builtin::NoIntervention), 1);
    let c = run(spp, Box::new(gauntlet::sut::builtin::NoIntervention), 2);
    assert_eq!(a.localization, b.localization);
    assert_ne!(a.localization, c.localization);
}

#[test]
fn run_reports_localization_and_lka_gnss_is_deterministic_across_jobs_and_shards() {
    let dir = tempdir("gnss-run");
    let input = "tests/corpus/gnss/lane-keeping.toml";
    let run_to = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let out_s = out.to_str().expect("utf-8").to_string();
        let mut args = vec![
            "run",
            input,
            "--sut",
            "builtin:lka-gnss",
            "--out",
            &out_s,
            "--seed",
            "7",
        ];
        args.extend_from_slice(extra);
        let o = gauntlet(&args);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let one = run_to("jobs-1", &["--jobs", "1", "--traces"]);
    let two = run_to("jobs-2", &["--jobs", "2"]);
    let report = std::fs::read(one.join("report.json")).expect("report");
    assert_eq!(
        report,
        std::fs::read(two.join("report.json")).expect("report")
    );
    let s1 = run_to("shard-1", &["--shard", "1/2"]);
    let s2 = run_to("shard-2", &["--shard", "2/2"]);
    let merged = dir.join("merged");
    let o = gauntlet(&[
        "merge",
        s1.join("report.json").to_str().expect("utf-8"),
        s2.join("report.json").to_str().expect("utf-8"),
        "--out",
        merged.to_str().expect("utf-8"),
    ]);
    // Exit 1: a case fails, as in the whole run.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        report,
        std::fs::read(merged.join("report.json")).expect("merged")
    );

    let r: serde_json::Value = serde_json::from_slice(&report).expect("json");
    for case in r["cases"].as_array().expect("cases") {
        let m = &case["runs"][0]["metrics"];
        for name in gauntlet::eval::localization::LOCALIZATION_METRIC_NAMES {
            assert!(m.get(*name).is_some(), "{name} missing in {}", case["id"]);
        }
        assert!(m["loc_epochs"].as_u64() == Some(200), "{m}");
        assert!(
            m["loc_outages"].as_u64() >= Some(1),
            "the tunnel is an outage: {m}"
        );
        let avail = m["loc_availability"].as_f64().expect("availability");
        assert!(avail > 0.7 && avail <= 1.0, "{avail}");
        // The first satellite fix comes a few seconds after the tunnel's exit.
        let ttff = m["loc_ttff_after_outage_s"].as_f64().expect("ttff");
        assert!(ttff > 0.0 && ttff < 10.0, "{ttff}");
        assert_eq!(case["judged_by"]["pack"], "lane-level-positioning");
    }
    // RTK keeps the lane; SPP's metre-level errors are judged against the lane-level limits.
    let by_id = |p: &str| {
        r["cases"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["id"].as_str().is_some_and(|id| id.contains(p)))
            })
            .expect("case")
            .clone()
    };
    let rtk = by_id("rtk");
    let spp = by_id("spp");
    let lat = |c: &serde_json::Value| {
        c["runs"][0]["metrics"]["loc_lateral_p50_m"]
            .as_f64()
            .expect("lat")
    };
    assert!(lat(&rtk) < 0.1, "{}", lat(&rtk));
    assert!(lat(&spp) > 0.2, "{}", lat(&spp));
    assert_eq!(spp["verdict"], "fail");
    let summary = std::fs::read_to_string(one.join("summary.md")).expect("summary");
    assert!(
        summary.contains("### Localization (2 cases with a receiver)"),
        "{summary}"
    );
    let gnss_csv = std::fs::read_to_string(
        one.join("traces")
            .join(format!("{}.gnss.csv", rtk["id"].as_str().expect("id"))),
    )
    .expect("gnss trace");
    assert_eq!(gnss_csv.lines().count(), 201);
    assert!(gnss_csv.starts_with("run,time_s,environment,fix_type,"));
    // A case without a receiver has no localization metrics.
    let plain = dir.join("plain");
    let o = gauntlet(&[
        "run",
        "tests/corpus/sim/brake-to-stop.toml",
        "--sut",
        "builtin:none",
        "--out",
        plain.to_str().expect("utf-8"),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)));
    let text = std::fs::read_to_string(plain.join("report.json")).expect("report");
    assert!(!text.contains("loc_"), "no loc_ metric without a receiver");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_receiver_that_never_fixes_fails_the_lane_level_pack() {
    let dir = tempdir("gnss-never");
    let file = dir.join("buried.toml");
    std::fs::write(
        &file,
        r#"kind = "scenario"
name = "gnss-loop/buried"

[judge]
pack = "lane-level-positioning"
rule = "freeway"

[timing]
duration_s = 3

[road]
lanes = [{ width_m = 3.5 }]
markings = ["solid", "solid"]

[ego]
speed_kph = 50

[sensors.gnss]
profile = "rtk"
environment = "tunnel"
"#,
    )
    .expect("write");
    let out = dir.join("out");
    let o = gauntlet(&[
        "run",
        file.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("json");
    let case = &r["cases"][0];
    assert_eq!(case["verdict"], "fail");
    let m = &case["runs"][0]["metrics"];
    assert_eq!(m["loc_availability"].as_f64(), Some(0.0));
    assert!(m["loc_lateral_p95_m"].is_null());
    let reasons = case["reasons"].to_string();
    assert!(reasons.contains("has-positions"), "{reasons}");
    let _ = std::fs::remove_dir_all(&dir);
}
