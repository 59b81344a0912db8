//! The evaluator through `gauntlet run` and `gauntlet judge`: verdicts against the scenario's
//! own kinematics, false reactions, UN R157's careful-driver rule, re-judging without
//! simulating (identical, or by a user's draft pack), bad packs, and a golden report.

mod common;
use common::{gauntlet, tempdir};

use serde_json::Value;

fn read_report(out: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
        .expect("JSON")
}

fn run(args: &[&str], out: &std::path::Path) -> std::process::Output {
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().expect("utf-8")]);
    gauntlet(&all)
}

/// `builtin:none` never brakes: every case of a rear-end scenario collides at the closing speed
/// the scenario's kinematics give (VUT speed − target speed), and fails with a reason that
/// quotes that speed, the limit and the rule.
#[test]
fn none_fails_every_collision_case_at_the_closing_speed() {
    let dir = tempdir("eval-none");
    let out = dir.join("out");
    let o = run(
        &[
            "scenarios/un-r152/car-stationary.toml",
            "scenarios/un-r152/car-moving.toml",
            "scenarios/euro-ncap/ccrm.toml",
            "--sut",
            "builtin:none",
        ],
        &out,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = read_report(&out);
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 9 + 7 + 55);
    for c in cases {
        let id = c["id"].as_str().expect("id");
        let vut = c["params"]["vut_speed_kph"].as_f64().expect("vut speed");
        let target = c["params"]
            .get("target_speed_kph")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        assert_eq!(c["verdict"], "fail", "{id}: {:?}", c["reasons"]);
        for run in c["runs"].as_array().expect("runs") {
            let rel = run["metrics"]["relative_impact_speed_kph"]
                .as_f64()
                .expect("an impact speed");
            assert!(
                (rel - (vut - target)).abs() < 0.05,
                "{id}: relative impact speed {rel} km/h, closing speed {} km/h",
                vut - target
            );
            assert_eq!(run["metrics"]["collision"], true);
        }
        let reasons = c["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().expect("text"))
            .collect::<Vec<_>>()
            .join(" | ");
        let rule = c["judged_by"]["rule"].as_str().expect("rule");
        assert!(
            reasons.contains(&format!("rule {rule})")),
            "{id}: {reasons}"
        );
        assert!(reasons.contains("relative impact speed"), "{id}: {reasons}");
        if id.starts_with("un-r152/") {
            // e.g. "relative impact speed 50 km/h > 0 km/h allowed at 50 km/h (un-r152-m1 v1.0.0, …)"
            assert!(reasons.contains("km/h allowed at"), "{id}: {reasons}");
            assert_eq!(c["judged_by"]["pack"], "un-r152-m1");
        } else {
            assert!(
                reasons.contains(": red (euro-ncap-2026 v"),
                "{id}: {reasons}"
            );
            assert_eq!(c["colour"], "red");
        }
    }
    // UN R152 categories: every case failed, so every category fails its 10 % share.
    let repeats = &report["aggregates"]["repeats"][0];
    assert_eq!(repeats["pack"], "un-r152-m1");
    assert_eq!(repeats["verdict"], "fail");
    for g in repeats["groups"].as_array().expect("groups") {
        assert_eq!(g["failure_share"], 1.0);
    }
}

/// A system that brakes hard at every step fails UN R152's false-reaction tests; the
/// reference AEB passes them.
#[test]
fn always_braking_fails_the_false_reaction_tests() {
    let dir = tempdir("eval-false");
    for (sut, verdict) in [("builtin:always-brake", "fail"), ("builtin:aeb", "pass")] {
        let out = dir.join(sut.replace(':', "-"));
        let o = run(
            &[
                "scenarios/un-r152/false-reaction-adjacent.toml",
                "scenarios/un-r152/false-reaction-turning.toml",
                "--sut",
                sut,
            ],
            &out,
        );
        assert!(matches!(o.status.code(), Some(0 | 1)));
        let report = read_report(&out);
        for c in report["cases"].as_array().expect("cases") {
            assert_eq!(
                c["verdict"], verdict,
                "{sut} {}: {:?}",
                c["id"], c["reasons"]
            );
            if verdict == "fail" {
                let first = c["reasons"][0].as_str().expect("reason");
                assert!(
                    first.contains("emergency braking events 1 > 0 allowed (un-r152-m1 v"),
                    "{first}"
                );
                assert!(first.contains("rule false-reaction)"), "{first}");
            }
        }
    }
}

/// UN R157: the careful driver runs on the same case; a collision it cannot avoid either is
/// not failed, one it avoids is.
#[test]
fn r157_judges_collisions_against_the_careful_driver() {
    let dir = tempdir("eval-r157");
    let out = dir.join("out");
    let o = run(
        &[
            "scenarios/un-r157/deceleration.toml",
            "--sut",
            "builtin:none",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(1));
    let report = read_report(&out);
    let (mut unavoidable, mut avoidable) = (0, 0);
    for c in report["cases"].as_array().expect("cases") {
        let careful = c["facts"]["reference_collision"]["careful-driver"]
            .as_bool()
            .expect("the careful driver ran on every case");
        let collided = c["metrics"]["collision"].as_bool().expect("bool");
        let text = c["reasons"].to_string();
        match (collided, careful) {
            (true, true) => {
                unavoidable += 1;
                assert_eq!(c["verdict"], "pass", "{text}");
                assert!(text.contains("unavoidable"), "{text}");
            }
            (true, false) => {
                avoidable += 1;
                assert_eq!(c["verdict"], "fail", "{text}");
                assert!(text.contains("`careful-driver` avoids it"), "{text}");
            }
            (false, _) => assert_eq!(c["verdict"], "pass", "{text}"),
        }
    }
    assert!(
        avoidable > 0 && unavoidable > 0,
        "{avoidable} {unavoidable}"
    );
}

/// `gauntlet judge` reproduces the run's reports byte for byte with the same packs, and judges
/// by a user's draft pack with `--thresholds` (without simulating).
#[test]
fn judge_reproduces_and_rejudges_by_a_draft() {
    let dir = tempdir("eval-judge");
    let out = dir.join("out");
    let o = run(
        &[
            "scenarios/un-r152/car-stationary.toml",
            "scenarios/euro-ncap/ccrs.toml",
            "--sut",
            "builtin:none",
            "--filter",
            "*vut_speed_kph=[1-6]0",
        ],
        &out,
    );
    let code = o.status.code();
    let files = ["report.json", "junit.xml", "summary.md"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).expect("report"))
        .collect();
    let o = gauntlet(&["judge", out.to_str().expect("utf-8")]);
    assert_eq!(
        o.status.code(),
        code,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for (f, b) in files.iter().zip(&before) {
        assert!(
            std::fs::read(out.join(f)).expect("rewritten") == *b,
            "{f} differs after re-judging with the same packs"
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("0 changed verdict or colour"), "{stdout}");

    // A committee's draft: car-stationary tolerates impacts up to 40 km/h up to 40 km/h.
    let pack = std::fs::read_to_string("scenarios/thresholds/un-r152-m1.toml").expect("pack");
    let draft = dir.join("draft.toml");
    let lenient = pack
        .replace("id = \"un-r152-m1\"", "id = \"my-draft\"")
        .replace(
            "{ ego_speed_kph = 10, max = 0 }",
            "{ ego_speed_kph = 10, max = 40 }",
        )
        .replace(
            "{ ego_speed_kph = 40, max = 0 }",
            "{ ego_speed_kph = 40, max = 40 }",
        );
    std::fs::write(&draft, &lenient).expect("write");
    let o = gauntlet(&[
        "judge",
        out.to_str().expect("utf-8"),
        "--thresholds",
        draft.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = read_report(&out);
    for c in report["cases"].as_array().expect("cases") {
        let id = c["id"].as_str().expect("id");
        if id.starts_with("un-r152/") {
            assert_eq!(c["judged_by"]["pack"], "my-draft", "{id}");
            let speed = c["params"]["vut_speed_kph"].as_f64().expect("speed");
            let expected = if speed <= 40.0 { "pass" } else { "fail" };
            assert_eq!(c["verdict"], expected, "{id}: {:?}", c["reasons"]);
        } else {
            // The draft has no rule `ccrs`: those cases cannot be judged by it.
            assert_eq!(c["verdict"], "error", "{id}");
            assert!(
                c["reasons"][0]
                    .as_str()
                    .expect("r")
                    .contains("has no rule `ccrs`")
            );
        }
    }
    assert_eq!(report["packs"][0]["id"], "my-draft");

    // A broken draft: exit 2, file:line:column, nothing rewritten.
    let before = std::fs::read(out.join("report.json")).expect("report");
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        lenient.replace(
            "type = \"max_by_speed_table\"",
            "type = \"max_by_speed_tabel\"",
        ),
    )
    .expect("write");
    let o = gauntlet(&[
        "judge",
        out.to_str().expect("utf-8"),
        "--thresholds",
        broken.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("broken.toml:"), "{stderr}");
    assert!(stderr.contains("error"), "{stderr}");
    assert!(std::fs::read(out.join("report.json")).expect("report") == before);
}

/// Not a report: exit 2 with the file, line and column.
#[test]
fn judge_refuses_what_is_not_a_report() {
    let dir = tempdir("eval-judge-bad");
    std::fs::write(
        dir.join("report.json"),
        "{\"schema_version\": 2, \"cases\": [1,]}",
    )
    .expect("write");
    let o = gauntlet(&["judge", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("report.json:1:"), "{stderr}");
    std::fs::write(dir.join("report.json"), "{\"schema_version\": 1}").expect("write");
    let o = gauntlet(&["judge", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("schema version 2, found 1"));
    let o = gauntlet(&["judge", dir.join("missing").to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
}

/// A small suite across the four packs, as a golden `report.json` and `summary.md`.
#[test]
fn golden_reports_of_a_small_suite() {
    let dir = tempdir("eval-golden");
    let out = dir.join("out");
    let o = run(
        &[
            "scenarios/un-r152/car-stationary.toml",
            "scenarios/euro-ncap/ccrs.toml",
            "scenarios/cn-cdas-draft/cut-in.toml",
            "scenarios/un-r157/cut-out.toml",
            "--sut",
            "builtin:aeb",
            "--filter",
            "*=[4-6]0*",
        ],
        &out,
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut report = read_report(&out);
    // The harness version moves with every release; the rest is the golden file.
    report["harness_version"] = Value::from("(version)");
    // The inputs hash changes with any byte of the scenario files, comments included.
    assert_eq!(report["inputs_hash"].as_str().map(str::len), Some(16));
    report["inputs_hash"] = Value::from("(hash)");
    assert_eq!(report["suite_hash"].as_str().map(str::len), Some(16));
    report["suite_hash"] = Value::from("(hash)");
    let text = serde_json::to_string_pretty(&report).expect("JSON");
    insta::assert_snapshot!("golden_report_small_suite", text);
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    insta::assert_snapshot!("golden_summary_small_suite", summary);
}
