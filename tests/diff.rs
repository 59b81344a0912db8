//! `gauntlet diff`: exit 0 for identical reports and for noise-level verdict flips, 1 for a real
//! regression and for a new collision, 2 for reports that cannot be compared or read; the
//! Markdown names the changes, the test and the Euro NCAP points.

mod common;
use common::{gauntlet, tempdir};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;

/// Runs `gauntlet run` into `out`; panics unless it finished (exit 0 or 1).
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

/// Real runs shared by the tests: CCRs with `aeb` (60 of 75 pass) and `careful-driver` (75).
struct Runs {
    ccrs_aeb: PathBuf,
    ccrs_careful: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempdir("diff-runs");
        Runs {
            ccrs_aeb: run_suite(
                &["scenarios/euro-ncap/ccrs.toml"],
                "builtin:aeb",
                &dir.join("aeb"),
            ),
            ccrs_careful: run_suite(
                &["scenarios/euro-ncap/ccrs.toml"],
                "builtin:careful-driver",
                &dir.join("careful"),
            ),
        }
    })
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read report")).expect("JSON")
}

fn write(dir: &Path, name: &str, report: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(report).expect("JSON")).expect("write");
    path
}

fn diff(base: &Path, new: &Path) -> Output {
    gauntlet(&[
        "diff",
        base.to_str().expect("utf-8"),
        new.to_str().expect("utf-8"),
    ])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// IDs of the cases with this verdict.
fn ids_with(report: &Value, verdict: &str) -> Vec<String> {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

fn case_mut<'a>(report: &'a mut Value, id: &str) -> &'a mut Value {
    report["cases"]
        .as_array_mut()
        .expect("cases")
        .iter_mut()
        .find(|c| c["id"] == id)
        .expect("case")
}

/// Sets a case's verdict (case and runs), as a changed system would have it.
fn set_verdict(report: &mut Value, id: &str, verdict: &str) {
    let case = case_mut(report, id);
    case["verdict"] = Value::from(verdict);
    for run in case["runs"].as_array_mut().expect("runs") {
        run["verdict"] = Value::from(verdict);
    }
}

/// Whether the case collided in any run.
fn collided(report: &Value, id: &str) -> bool {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .expect("case")["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .any(|r| r["metrics"]["collision"] == true)
}

#[test]
fn identical_reports_are_no_regression() {
    let r = &runs().ccrs_aeb;
    let o = diff(r, r);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.contains("✅ no significant regression"), "{md}");
    assert!(md.contains("No case changed its verdict."), "{md}");
    assert!(md.contains("No metric changed."), "{md}");
    // One pack: one group, tested at α itself.
    assert!(
        md.contains("Significant: p < 0.05 (α = 0.05, one-sided)"),
        "{md}"
    );
    assert!(
        md.contains(
            "| euro-ncap-2026 v1.1.0 | 75 | 60 (80.0 %) | 60 (80.0 %) | 0 pp | 0 | 0 | 1 | no |"
        ),
        "{md}"
    );
}

#[test]
fn noise_level_flips_are_not_significant() {
    let dir = tempdir("diff-noise");
    let base = read(&runs().ccrs_aeb);
    let pass = ids_with(&base, "pass");
    let fail = ids_with(&base, "fail");
    // Two cases flip to fail, one the other way: p = P(X ≥ 2 | n = 3) = 0.5.
    let mut new = base.clone();
    set_verdict(&mut new, &pass[0], "fail");
    set_verdict(&mut new, &pass[1], "fail");
    set_verdict(&mut new, &fail[0], "pass");
    let b = write(&dir, "base.json", &base);
    let n = write(&dir, "new.json", &new);
    let o = diff(&b, &n);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let md = stdout(&o);
    assert!(md.contains("#### Newly failing (2)"), "{md}");
    assert!(md.contains("#### Newly passing (1)"), "{md}");
    assert!(
        md.contains(&format!("`{}` pass → **fail**", pass[0])),
        "{md}"
    );
    assert!(
        md.contains("| euro-ncap-2026 v1.1.0 | 75 | 60 (80.0 %) | 59 (78.7 %) | −1.3 pp | 2 | 1 | 0.5 | no |"),
        "{md}"
    );
    // Three losses and no gain: p = 1/8, still noise at α = 0.05.
    let mut new = base.clone();
    for id in &pass[..3] {
        set_verdict(&mut new, id, "fail");
    }
    let n = write(&dir, "new3.json", &new);
    let o = diff(&b, &n);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("| 3 | 0 | 0.125 | no |"),
        "{}",
        stdout(&o)
    );
    // A stricter reader can ask for another level: at α = 0.2, 1/8 is significant.
    let o = gauntlet(&[
        "diff",
        b.to_str().expect("utf-8"),
        n.to_str().expect("utf-8"),
        "--alpha",
        "0.2",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// A real regression: `always-brake` brakes for the targets that UN R152's false-reaction tests
/// put beside the path; `aeb` does not. All 12 cases flip: p = 2^-12.
#[test]
fn a_real_regression_exits_1_and_the_reverse_does_not() {
    let dir = tempdir("diff-regression");
    let paths = [
        "scenarios/un-r152/false-reaction-adjacent.toml",
        "scenarios/un-r152/false-reaction-turning.toml",
    ];
    let aeb = run_suite(&paths, "builtin:aeb", &dir.join("aeb"));
    let faulty = run_suite(&paths, "builtin:always-brake", &dir.join("faulty"));
    let md_file = dir.join("diff.md");
    let o = gauntlet(&[
        "diff",
        aeb.to_str().expect("utf-8"),
        dir.join("faulty").to_str().expect("utf-8"),
        "--md",
        md_file.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = stdout(&o);
    assert_eq!(
        std::fs::read_to_string(&md_file).expect("--md file"),
        md,
        "--md holds what the terminal shows"
    );
    assert!(
        md.contains(
            "## Gauntlet diff: `builtin:aeb` → `builtin:always-brake`, seed 0: ❌ regression"
        ),
        "{md}"
    );
    assert!(
        md.contains("| un-r152-m1 v1.0.0 | 12 | 12 (100.0 %) | 0 (0.0 %) | −100 pp | 12 | 0 | 2.44e-4 | ❌ yes |"),
        "{md}"
    );
    assert!(md.contains("#### Newly failing (12)"), "{md}");
    assert!(md.contains("emergency braking events"), "{md}");
    assert!(!md.contains("### New collisions"), "{md}");
    assert!(md.contains("| `emergency_braking_events` | 12 |"), "{md}");
    // The other way round is an improvement.
    let o = diff(&faulty, &aeb);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("#### Newly passing (12)"));
}

/// One case collides where it did not before; its verdict stays `pass` (a low-speed collision
/// can be within Euro NCAP's limits) and no pass rate moves, yet the diff is a regression.
#[test]
fn a_new_collision_exits_1() {
    let dir = tempdir("diff-collision");
    let base = read(&runs().ccrs_aeb);
    let id = ids_with(&base, "pass")
        .into_iter()
        .find(|id| !collided(&base, id))
        .expect("a passing case without collision");
    let mut new = base.clone();
    {
        let case = case_mut(&mut new, &id);
        case["metrics"]["collision"] = Value::from(true);
        case["metrics"]["relative_impact_speed_kph"] = Value::from(3.5);
        let run = &mut case["runs"][0];
        run["metrics"]["collision"] = Value::from(true);
        run["metrics"]["relative_impact_speed_kph"] = Value::from(3.5);
        run["sim"]["collision_actor"] = Value::from("gvt");
        run["sim"]["collision_time_s"] = Value::from(3.9);
        case["reasons"] = Value::from(vec![
            "collision with `gvt` at 3.9 s: relative impact speed 3.5 km/h (ego 3.5 km/h)",
        ]);
    }
    let b = write(&dir, "base.json", &base);
    let n = write(&dir, "new.json", &new);
    let o = diff(&b, &n);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(
        md.contains("### New collisions (1): a collision where BASE had none"),
        "{md}"
    );
    assert!(
        md.contains(&format!("- `{id}` (pass): collision with `gvt`")),
        "{md}"
    );
    assert!(md.contains("No case changed its verdict."), "{md}");
    assert!(md.contains("| 0 | 0 | 1 | no |"), "{md}");
    assert!(md.contains("| `relative_impact_speed_kph` | 1 |"), "{md}");
}

/// CCRs with the careful driver (all 75 pass, 1.35 points) against `aeb` (15 red cells at
/// 70–80 km/h, 1.2 points): colours, points and the significant drop.
#[test]
fn euro_ncap_colours_and_points() {
    let o = diff(&runs().ccrs_careful, &runs().ccrs_aeb);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(
        md.contains("### euro-ncap-2026 v1.1.0: Euro NCAP points"),
        "{md}"
    );
    assert!(md.contains("| 1.35 | 1.2 | −0.15 |"), "{md}");
    assert!(md.contains("| **total before gates** |"), "{md}");
    assert!(md.contains("### Colour changes ("), "{md}");
    assert!(
        md.contains("`euro-ncap/ccrs/overlap_pct=100,vut_speed_kph=80` 🟩 green → 🟥 red"),
        "{md}"
    );
    assert!(md.contains("#### Newly failing (15)"), "{md}");
    assert!(md.contains("| 15 | 0 | 3.05e-5 | ❌ yes |"), "{md}");
}

#[test]
fn incomparable_reports_exit_2_with_the_reason() {
    let dir = tempdir("diff-incomparable");
    let base = read(&runs().ccrs_aeb);
    let b = write(&dir, "base.json", &base);
    let check = |name: &str, new: &Value, expect: &str| {
        let n = write(&dir, name, new);
        let o = diff(&b, &n);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains("cannot compare"), "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: nothing on stdout");
    };
    let mut seed = base.clone();
    seed["seed"] = Value::from(7);
    check(
        "seed.json",
        &seed,
        "BASE was run with seed 0, NEW with seed 7",
    );
    // Another suite (CCRm), run for real.
    let ccrm = run_suite(
        &["scenarios/euro-ncap/ccrm.toml"],
        "builtin:aeb",
        &dir.join("ccrm"),
    );
    check(
        "ccrm.json",
        &read(&ccrm),
        "they ran different suites (suite hash",
    );
    let mut packs = base.clone();
    packs["packs"][0]["version"] = Value::from("9.9.9");
    check(
        "packs.json",
        &packs,
        "different threshold packs (BASE: euro-ncap-2026 v1.1.0; NEW: euro-ncap-2026 v9.9.9)",
    );
    let mut fewer = base.clone();
    let removed = fewer["cases"].as_array_mut().expect("cases").remove(0);
    check(
        "fewer.json",
        &fewer,
        &format!(
            "1 case(s) only in BASE ({})",
            removed["id"].as_str().expect("id")
        ),
    );
    let mut params = base.clone();
    params["cases"][0]["params"]["vut_speed_kph"] = Value::from(99);
    check(
        "params.json",
        &params,
        "has other parameters in BASE and NEW",
    );
    // Reports without a suite hash (older harness) are compared case by case, with a warning.
    let mut old = base.clone();
    old["suite_hash"] = Value::from("");
    let n = write(&dir, "old.json", &old);
    let o = diff(&b, &n);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("> ⚠️ a report has no suite hash"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn unreadable_inputs_exit_2_with_a_located_message() {
    let dir = tempdir("diff-bad");
    let good = runs().ccrs_aeb.to_str().expect("utf-8").to_string();
    let missing = dir.join("nope").join("report.json");
    let o = gauntlet(&["diff", &good, missing.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}: cannot read", missing.display())),
        "{}",
        stderr(&o)
    );
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"schema_version\": 2,\n  \"seed\": }\n").expect("write");
    let o = gauntlet(&["diff", broken.to_str().expect("utf-8"), &good]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "{}:3:11: error: not a Gauntlet report",
            broken.display()
        )),
        "{}",
        stderr(&o)
    );
    let old = dir.join("old.json");
    std::fs::write(&old, "{\"schema_version\": 1}").expect("write");
    let o = gauntlet(&["diff", &good, old.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("schema version 2, found 1"),
        "{}",
        stderr(&o)
    );
    let o = gauntlet(&["diff", &good, &good, "--alpha", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--alpha 1.5"), "{}", stderr(&o));
}
