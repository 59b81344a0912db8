//! `gauntlet calibrate`: on reports whose metrics are known, the pass-rate curve of each system
//! and the crossing value are the ones worked out by hand; at the pack's own value the re-judged
//! verdicts are the run's; bad input exits 2 with a message that says where.

mod common;
use common::{gauntlet, tempdir};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;

fn run_suite(paths: &[&str], sut: &str, out: &Path) -> PathBuf {
    let mut args = vec!["run"];
    args.extend_from_slice(paths);
    args.extend_from_slice(&["--sut", sut, "--out", out.to_str().expect("utf-8")]);
    let o = gauntlet(&args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join("report.json")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read report")).expect("JSON")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// UN R152 pedestrian (VUT 20 … 60 km/h in steps of 5, 9 cases) run with `builtin:none` and
/// `builtin:aeb`, and with `builtin:acc`.
struct Runs {
    none: PathBuf,
    aeb: PathBuf,
    acc: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempdir("calibrate-runs");
        let p = ["scenarios/un-r152/pedestrian.toml"];
        Runs {
            none: run_suite(&p, "builtin:none", &dir.join("none")),
            aeb: run_suite(&p, "builtin:aeb", &dir.join("aeb")),
            acc: run_suite(&p, "builtin:acc", &dir.join("acc")),
        }
    })
}

/// The maxima of the UN R152 pedestrian table at 20, 25, … 60 km/h (25 lies between the rows
/// 20 and 30, both 0).
const MAX_KPH: [f64; 9] = [0.0, 0.0, 0.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0];

/// A report of the `none` run with every run's relative impact speed set to
/// `MAX_KPH[i] + excess[i]` for the case at `20 + 5 i` km/h, as system `sut`.
fn with_impacts(base: &Value, sut: &str, excess: [f64; 9]) -> Value {
    let mut r = base.clone();
    r["sut"] = Value::from(sut);
    for case in r["cases"].as_array_mut().expect("cases") {
        let speed = case["params"]["vut_speed_kph"].as_f64().expect("speed");
        let i = ((speed - 20.0) / 5.0).round() as usize;
        let impact = MAX_KPH[i] + excess[i];
        case["sut"] = Value::from(sut);
        case["metrics"]["relative_impact_speed_kph"] = Value::from(impact);
        for run in case["runs"].as_array_mut().expect("runs") {
            assert_eq!(run["metrics"]["collision"], true, "none collides");
            run["metrics"]["relative_impact_speed_kph"] = Value::from(impact);
        }
    }
    r
}

fn write(dir: &Path, name: &str, report: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(report).expect("JSON")).expect("write");
    path
}

/// Two systems with known impact speeds: `exact` exceeds every maximum by 3 km/h, so it passes
/// all 9 cases from an offset of 3 on; `graded` exceeds the maximum at the i-th speed by i km/h,
/// so at offset o it passes o + 1 cases (0 … 9). Every system passes from 8 on; half of them
/// (1 of 2) from 3 on.
#[test]
fn known_metrics_give_the_expected_curve_and_crossing() {
    let dir = tempdir("calibrate-known");
    let base = read(&runs().none);
    let exact = write(
        &dir,
        "exact.json",
        &with_impacts(&base, "test:exact", [3.0; 9]),
    );
    let graded = write(
        &dir,
        "graded.json",
        &with_impacts(
            &base,
            "test:graded",
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        ),
    );
    let out = dir.join("out");
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "-2..10",
        "--step",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
        exact.to_str().expect("utf-8"),
        graded.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The curve, from the CSV.
    let csv = std::fs::read_to_string(out.join("calibration.csv")).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("value,sut,cases,pass,pass_rate"));
    let mut expect = Vec::new();
    for offset in -2..=10 {
        let exact_pass = if offset >= 3 { 9 } else { 0 };
        let graded_pass = (offset + 1).clamp(0, 9);
        expect.push(format!(
            "{offset},test:exact,9,{exact_pass},{}",
            gauntlet_rate(exact_pass)
        ));
        expect.push(format!(
            "{offset},test:graded,9,{graded_pass},{}",
            gauntlet_rate(graded_pass)
        ));
    }
    assert_eq!(lines.map(str::to_string).collect::<Vec<_>>(), expect);
    // Every system must pass: the crossing is 8 km/h.
    let md = stdout(&o);
    assert!(
        md.contains("at least 2 of the 2 systems (100 %) pass every case: **8 km/h**"),
        "{md}"
    );
    assert!(
        md.contains("| 8 (crossing) | 100.0 % | 100.0 % | 2 of 2 |"),
        "{md}"
    );
    assert!(md.contains("| 0 (now) | 0.0 % | 11.1 % | 0 of 2 |"), "{md}");
    assert!(md.contains("`test:exact` 0/9, `test:graded` 1/9"), "{md}");
    assert_eq!(
        std::fs::read_to_string(out.join("calibration.md")).expect("md"),
        md.split("\ncalibration.md, ").next().expect("table")
    );
    let svg = std::fs::read_to_string(out.join("calibration.svg")).expect("svg");
    assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
    assert!(svg.contains(">test:exact (9)</text>"), "{svg}");
    assert!(svg.contains("100 % of systems pass: 8 km/h"), "{svg}");
    // Half of the systems: from 3 km/h on.
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "-2..10",
        "--step",
        "1",
        "--share",
        "50%",
        "--out",
        out.to_str().expect("utf-8"),
        exact.to_str().expect("utf-8"),
        graded.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("(50 %) pass every case: **3 km/h**"),
        "{}",
        stdout(&o)
    );
    // A system passes with 2 of 3 cases … and `graded` reaches 66.7 % at offset 5.
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "0..8",
        "--step",
        "0.5",
        "--min-pass-rate",
        "0.6",
        "--out",
        out.to_str().expect("utf-8"),
        graded.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // 6 of 9 cases pass from offset 5 on (0.6 × 9 = 5.4 cases needed).
    assert!(
        stdout(&o).contains("pass at least 60.0 % of their cases: **5 km/h**"),
        "{}",
        stdout(&o)
    );
}

/// The pass rate as the CSV writes it (6 decimals, trailing zeros dropped).
fn gauntlet_rate(passes: i32) -> String {
    let s = format!("{:.6}", passes as f64 / 9.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// At the pack's own value the re-judged verdicts are the run's own: `aeb` passes all 9
/// pedestrian cases, `acc` none; `none` is not calibrated twice for being given twice.
#[test]
fn at_the_packs_value_the_verdicts_are_the_runs() {
    let dir = tempdir("calibrate-real");
    let out = dir.join("out");
    let (aeb, acc) = (read(&runs().aeb), read(&runs().acc));
    let count = |r: &Value| {
        r["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter(|c| c["verdict"] == "pass")
            .count()
    };
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "-10..30",
        "--step",
        "10",
        "--out",
        out.to_str().expect("utf-8"),
        runs().aeb.parent().expect("dir").to_str().expect("utf-8"),
        runs().acc.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(
        md.contains(&format!(
            "`builtin:aeb` {}/9, `builtin:acc` {}/9",
            count(&aeb),
            count(&acc)
        )),
        "{md}"
    );
    assert_eq!((count(&aeb), count(&acc)), (9, 0));
    // Re-judging goes through the pack's table: at −10 km/h the rows that allow no impact
    // (20, 25 and 30 km/h) allow less than none, so `aeb` fails those 3 of its 9 cases although
    // it avoids every impact; the rows from 35 km/h on still allow 10 km/h or more.
    assert!(md.contains("| −10 | 66.7 % | 0.0 % | 0 of 2 |"), "{md}");
    // The same case given twice for one system is refused.
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "0..1",
        "--step",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
        runs().aeb.to_str().expect("utf-8"),
        runs().aeb.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is also in"), "{}", stderr(&o));
}

#[test]
fn bad_inputs_exit_2_with_a_located_message() {
    let dir = tempdir("calibrate-bad");
    let out = dir.join("out");
    let report = runs().aeb.to_str().expect("utf-8").to_string();
    let calibrate = |rule: &str, range: &str, step: &str, input: &str| {
        gauntlet(&[
            "calibrate",
            "--rule",
            rule,
            "--range",
            range,
            "--step",
            step,
            "--out",
            out.to_str().expect("utf-8"),
            input,
        ])
    };
    let check = |o: Output, expect: &str| {
        assert_eq!(o.status.code(), Some(2), "{expect}: {}", stdout(&o));
        assert!(stderr(&o).contains(expect), "{expect}: {}", stderr(&o));
    };
    check(
        calibrate("un-r152-m1:pedestrain", "0..5", "1", &report),
        "threshold pack `un-r152-m1` v1.0.0 has no rule `pedestrain` (did you mean `pedestrian`?)",
    );
    check(
        calibrate("un-r153-m1:pedestrian", "0..5", "1", &report),
        "threshold pack `un-r153-m1` is neither built in nor read by these runs (did you mean `un-r152-m1`?)",
    );
    check(
        calibrate("pedestrian", "0..5", "1", &report),
        "--rule \"pedestrian\": expected PACK:RULE",
    );
    check(
        calibrate("un-r152-m1:repeats", "0..5", "1", &report),
        "rule `repeats` has no single threshold to calibrate",
    );
    check(
        calibrate("euro-ncap-2026:ccrs", "0..5", "1", &report),
        "calibrate `euro-ncap-2026:relative-impact-speed-bands`",
    );
    check(
        calibrate("un-r157:min-time-gap", "0..5", "1", &report),
        "no case of these reports is judged by it",
    );
    check(
        calibrate("un-r152-m1:pedestrian", "5..0", "1", &report),
        "--range \"5..0\": A must not be above B",
    );
    check(
        calibrate("un-r152-m1:pedestrian", "0-5", "1", &report),
        "--range \"0-5\": expected A..B",
    );
    check(
        calibrate("un-r152-m1:pedestrian", "0..5", "-1", &report),
        "--step \"-1\": expected a number above 0",
    );
    let missing = dir.join("missing.json");
    check(
        calibrate(
            "un-r152-m1:pedestrian",
            "0..5",
            "1",
            missing.to_str().expect("utf-8"),
        ),
        &format!("{}: cannot read", missing.display()),
    );
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"schema_version\": 2,\n\"cases\": [}").expect("write");
    check(
        calibrate(
            "un-r152-m1:pedestrian",
            "0..5",
            "1",
            broken.to_str().expect("utf-8"),
        ),
        &format!("{}:2:11: error: not a Gauntlet report", broken.display()),
    );
    let o = gauntlet(&[
        "calibrate",
        "--rule",
        "un-r152-m1:pedestrian",
        "--range",
        "0..5",
        "--step",
        "1",
        "--share",
        "120%",
        &report,
    ]);
    check(
        o,
        "--share \"120%\": expected a share above 0 and at most 1",
    );
}
