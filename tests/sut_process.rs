//! Systems under test as processes (`--sut exec:PATH`, `--sut FILE.toml`), through the
//! command line: every fault of a deliberately faulty system (`tests/fixtures/sut/faulty.sh`)
//! is an `error` verdict with its reason and a per-case log, the process is restarted and the
//! suite goes on; missing programs and bad manifests are exit 2 before anything runs; the
//! Python reference client's verdicts equal `builtin:aeb`'s on the Euro NCAP CCR grid.

mod common;
use common::{gauntlet, tempdir};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sut")
        .join(name)
}

/// Writes a manifest for `faulty.sh MODE AFTER` with the given extra TOML lines.
fn faulty_manifest(dir: &Path, mode: &str, after: u32, extra: &str) -> PathBuf {
    let file = dir.join(format!("{mode}.toml"));
    let body = format!(
        "kind = \"sut\"\ncommand = {:?}\nargs = [\"{mode}\", \"{after}\"]\n{extra}\n",
        fixture("faulty.sh").display().to_string()
    );
    std::fs::write(&file, body).expect("write manifest");
    file
}

/// Case ID → (verdict, reasons) of a run's report.json.
fn verdicts(out: &Path) -> BTreeMap<String, (String, Vec<String>)> {
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("json");
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let reasons = c["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r.as_str().expect("reason").to_string())
                .collect();
            (
                c["id"].as_str().expect("id").to_string(),
                (c["verdict"].as_str().expect("verdict").to_string(), reasons),
            )
        })
        .collect()
}

/// Two CCRs cases (10 and 20 km/h, full overlap), one worker.
fn run_two(sut: &str, out: &Path) -> Output {
    gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--filter",
        "*overlap_pct=100,vut_speed_kph=[12]0",
        "--sut",
        sut,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--jobs",
        "1",
    ])
}

/// Runs two cases against `faulty.sh MODE AFTER` and checks that both end in `error` with a
/// reason containing `reason` and a log holding the system's standard error.
fn check_fault(mode: &str, after: u32, extra: &str, reason: &str) {
    let dir = tempdir(mode);
    let manifest = faulty_manifest(&dir, mode, after, extra);
    let out = dir.join("out");
    let o = run_two(manifest.to_str().expect("utf-8"), &out);
    assert_eq!(code(&o), 1, "{mode}: {}", text(&o.stderr));
    let v = verdicts(&out);
    assert_eq!(v.len(), 2, "{mode}: both cases are in the report");
    for (id, (verdict, reasons)) in &v {
        assert_eq!(verdict, "error", "{mode}: {id}: {reasons:?}");
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{mode}: {id}: {reasons:?} lacks {reason:?}"
        );
        let log = std::fs::read_to_string(out.join("sut-logs").join(format!("{id}.log")))
            .unwrap_or_else(|e| panic!("{mode}: log of {id}: {e}"));
        assert!(log.contains(&format!("case: {id}")), "{log}");
        assert!(log.contains(reason), "{mode}: {log}");
        // What the system wrote on its standard error while it held the case (a process that
        // did not fault goes on with the next case and does not start again).
        assert!(
            log.contains(&format!("faulty.sh: started in mode {mode}"))
                || log.contains(&format!("faulty.sh: {mode} at step")),
            "{mode}: the log holds the system's standard error: {log}"
        );
    }
}

const STEP_TIMEOUT: &str = "[timeouts]\nstep_s = 0.5";

#[test]
fn a_crash_is_an_error_verdict() {
    check_fault(
        "crash",
        3,
        "",
        "system process was killed by signal 11 (SIGSEGV)",
    );
}

#[test]
fn an_exit_is_an_error_verdict() {
    check_fault("exit", 3, "", "system process exited with status 3");
}

#[test]
fn a_hang_is_an_error_verdict() {
    // The hanging step sleeps in a child process: it is killed with the system.
    check_fault(
        "hang",
        3,
        STEP_TIMEOUT,
        "system process did not reply within the step time-out of 0.5 s",
    );
}

#[test]
fn a_late_answer_is_an_error_verdict() {
    check_fault(
        "late",
        3,
        STEP_TIMEOUT,
        "system process did not reply within the step time-out of 0.5 s",
    );
    // An answer to an earlier step is late too.
    check_fault(
        "stale",
        3,
        "",
        "system process answered an earlier step than the one asked",
    );
}

#[test]
fn a_slow_system_exceeds_the_case_time_out() {
    check_fault(
        "slow",
        0,
        "[timeouts]\ncase_s = 0.3",
        "system process exceeded the case time-out of 0.3 s",
    );
}

#[test]
fn garbage_is_an_error_verdict() {
    check_fault(
        "garbage",
        3,
        "",
        "system process sent a line that is not a protocol reply",
    );
    check_fault(
        "wrong-run",
        3,
        "",
        "system process answered with 1 command(s) for other runs than the 1 it was asked for",
    );
}

#[test]
fn another_protocol_version_is_an_error_verdict() {
    check_fault(
        "version",
        0,
        "",
        "system process speaks protocol version 2; this harness speaks version 1",
    );
}

#[test]
fn errors_the_system_reports_are_error_verdicts() {
    check_fault(
        "error",
        3,
        "",
        "system process reported an error: model weights missing",
    );
    check_fault(
        "run-error",
        3,
        "",
        "system failed: the system gave this run up: cannot handle this run",
    );
}

#[test]
fn a_program_that_echoes_its_input_fails_the_handshake() {
    let dir = tempdir("echo");
    let out = dir.join("out");
    let sut = format!("exec:{}", fixture("echo.sh").display());
    let o = run_two(&sut, &out);
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    for (id, (verdict, reasons)) in verdicts(&out) {
        assert_eq!(verdict, "error", "{id}");
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("sent a `hello` message") && r.contains("echo its input")),
            "{reasons:?}"
        );
        assert!(
            out.join("sut-logs").join(format!("{id}.log")).is_file(),
            "{id}"
        );
    }
}

/// Case entries of a report.json without the field naming the system.
fn entries_without_sut(out: &Path) -> BTreeMap<String, Value> {
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("json");
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.as_object_mut().expect("object").remove("sut");
            (c["id"].as_str().expect("id").to_string(), c)
        })
        .collect()
}

#[test]
fn a_crash_ends_only_its_case_the_process_restarts_and_the_suite_goes_on() {
    let dir = tempdir("crash-above");
    // Crashes in the 30 km/h cases (8.3 m/s > 6 m/s), behaves like builtin:none at 10 km/h;
    // in ID order every crash is followed by a case that needs a fresh process.
    let manifest = faulty_manifest(&dir, "crash-above", 6, "");
    let run = |sut: &str, out: &Path, jobs: &str| {
        gauntlet(&[
            "run",
            "scenarios/euro-ncap/ccrs.toml",
            "--filter",
            "*vut_speed_kph=[13]0",
            "--sut",
            sut,
            "--out",
            out.to_str().expect("utf-8"),
            "--jobs",
            jobs,
        ])
    };
    let faulty = dir.join("faulty");
    let o = run(manifest.to_str().expect("utf-8"), &faulty, "1");
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    let none = dir.join("none");
    assert_eq!(code(&run("builtin:none", &none, "1")), 1);

    let got = entries_without_sut(&faulty);
    let want = entries_without_sut(&none);
    assert_eq!(got.len(), 10);
    for (id, entry) in &got {
        if id.ends_with("vut_speed_kph=30") {
            assert_eq!(entry["verdict"], "error", "{id}");
            assert!(
                entry["reasons"][0]
                    .as_str()
                    .is_some_and(|r| r.contains("killed by signal 11")),
                "{entry}"
            );
            let log = std::fs::read_to_string(faulty.join("sut-logs").join(format!("{id}.log")))
                .expect("log");
            assert!(log.contains("faulty.sh: crashing at 8 m/s"), "{log}");
        } else {
            // The restarted process gives exactly the result of the system it imitates.
            assert_eq!(entry, &want[id], "{id}");
            assert!(!faulty.join("sut-logs").join(format!("{id}.log")).exists());
        }
    }
    // Same report with two workers (two processes).
    let two = dir.join("two");
    assert_eq!(code(&run(manifest.to_str().expect("utf-8"), &two, "2")), 1);
    assert_eq!(
        std::fs::read(faulty.join("report.json")).expect("report"),
        std::fs::read(two.join("report.json")).expect("report"),
    );
}

#[test]
fn missing_or_non_executable_programs_are_exit_2_before_anything_runs() {
    let dir = tempdir("missing");
    let out = dir.join("out");
    for sut in [
        "exec:tests/fixtures/sut/no-such-program".to_string(),
        format!("exec:{}", fixture("not-executable.sh").display()),
        "exec:tests/fixtures/sut".to_string(),
    ] {
        let o = run_two(&sut, &out);
        assert_eq!(code(&o), 2, "{sut}: {}", text(&o.stderr));
        let stderr = text(&o.stderr);
        assert!(
            stderr.contains("cannot start the system"),
            "{sut}: {stderr}"
        );
        assert!(!out.join("cases.jsonl").exists(), "{sut}: nothing ran");
    }
    let o = run_two(
        &format!("exec:{}", fixture("not-executable.sh").display()),
        &out,
    );
    assert!(text(&o.stderr).contains("is not executable"));

    // A manifest whose program is missing: located in the manifest.
    let manifest = dir.join("sut.toml");
    std::fs::write(&manifest, "kind = \"sut\"\ncommand = \"./nowhere/sut\"\n").expect("write");
    let o = run_two(manifest.to_str().expect("utf-8"), &out);
    assert_eq!(code(&o), 2);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("sut.toml:2:11: error: command: cannot start the system: `")
            && stderr.contains("no such file"),
        "{stderr}"
    );
    // A bare name is looked up in PATH.
    std::fs::write(
        &manifest,
        "kind = \"sut\"\ncommand = \"no-such-sut-program\"\n",
    )
    .expect("write");
    let o = run_two(manifest.to_str().expect("utf-8"), &out);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("is not found in PATH"));
    // Not a manifest at all.
    std::fs::write(&manifest, "kind = \"sut\"\ncommand = [\n").expect("write");
    let o = run_two(manifest.to_str().expect("utf-8"), &out);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("sut.toml:2:"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.join("cases.jsonl").exists(), "nothing ran");
}

#[test]
fn validate_checks_system_manifests_by_kind() {
    let ok = gauntlet(&["validate", "examples/python/sut.toml"]);
    assert_eq!(code(&ok), 0, "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("1 system manifest(s)"),
        "{}",
        text(&ok.stdout)
    );
    let dir = tempdir("validate");
    std::fs::write(
        dir.join("bad.toml"),
        "kind = \"sut\"\ncommand = \"sh\"\n[timeouts]\nstep_s = 0\n",
    )
    .expect("write");
    let bad = gauntlet(&["validate", dir.to_str().expect("utf-8")]);
    assert_eq!(code(&bad), 2);
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("bad.toml:4:10: error: timeouts.step_s"),
        "{stderr}"
    );
}

#[test]
fn a_manifest_rate_replaces_the_scenario_rate_and_must_divide_the_physics_rate() {
    let dir = tempdir("rate");
    // At 10 Hz the fourth step is at 0.3 s (at the scenario's 20 Hz it is at 0.15 s).
    let manifest = faulty_manifest(&dir, "exit", 3, "rate_hz = 10");
    let out = dir.join("out");
    assert_eq!(code(&run_two(manifest.to_str().expect("utf-8"), &out)), 1);
    for (id, (_, reasons)) in verdicts(&out) {
        assert!(
            reasons[0].starts_with("system under test error at 0.3 s"),
            "{id}: {reasons:?}"
        );
    }
    // 30 Hz does not divide the 100 Hz physics rate: exit 2, located in the manifest.
    let manifest = faulty_manifest(&dir, "ok", 0, "rate_hz = 30");
    let out = dir.join("out30");
    let o = run_two(manifest.to_str().expect("utf-8"), &out);
    assert_eq!(code(&o), 2);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(
            "ok.toml:4:11: error: rate_hz: 30 Hz does not divide the physics rate of 100 Hz"
        ),
        "{stderr}"
    );
    assert!(!out.join("cases.jsonl").exists());
}

/// `python3`, or a failure saying that it is needed (scripts/test.sh installs it).
fn require_python() {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "python3 is needed to test the Python reference client (scripts/test.sh installs it)"
    );
}

const CCR_GRID: [&str; 3] = [
    "scenarios/euro-ncap/ccrs.toml",
    "scenarios/euro-ncap/ccrm.toml",
    "scenarios/euro-ncap/ccrb.toml",
];

fn run_grid(sut: &str, out: &Path) -> Output {
    let mut args = vec!["run"];
    args.extend(CCR_GRID);
    args.extend(["--sut", sut, "--out", out.to_str().expect("utf-8")]);
    gauntlet(&args)
}

#[test]
fn the_python_reference_client_matches_builtin_aeb_on_the_ccr_grid() {
    require_python();
    let dir = tempdir("python");
    let builtin = dir.join("builtin");
    let o = run_grid("builtin:aeb", &builtin);
    assert!(code(&o) <= 1, "{}", text(&o.stderr));
    let want = common::report_without_sut(&builtin);
    assert!(want.contains("\"verdict\": \"pass\"") && want.contains("\"verdict\": \"fail\""));

    let python = dir.join("python");
    let o = run_grid("examples/python/sut.toml", &python);
    assert_eq!(
        code(&o),
        code(&run_grid("builtin:aeb", &builtin)),
        "{}",
        text(&o.stderr)
    );
    // Every verdict, reason and metric: the same bytes.
    assert_eq!(common::report_without_sut(&python), want);
    assert!(!python.join("sut-logs").exists(), "no run failed");

    // Batched: eight runs per process, their observations in one message per step.
    let batched = dir.join("batched.toml");
    std::fs::write(
        &batched,
        format!(
            "kind = \"sut\"\ncommand = {:?}\nbatch_size = 8\n",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/python/sut_aeb.py")
                .display()
                .to_string()
        ),
    )
    .expect("write");
    let out = dir.join("batched");
    let o = run_grid(batched.to_str().expect("utf-8"), &out);
    assert!(code(&o) <= 1, "{}", text(&o.stderr));
    assert_eq!(common::report_without_sut(&out), want);
}

#[test]
fn process_systems_receive_fixes_in_scenarios_with_a_receiver() {
    let dir = tempdir("gnss-process");
    // Step 10 (0.5 s at 20 Hz) must carry a fix: the first arrives at 0.1 s.
    let run = |manifest: &Path, out: &str| {
        let out = dir.join(out);
        let o = gauntlet(&[
            "run",
            "tests/corpus/gnss/lane-keeping.toml",
            "--filter",
            "*rtk",
            "--sut",
            manifest.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--jobs",
            "1",
        ]);
        assert!(matches!(code(&o), 0 | 1), "{}", text(&o.stderr));
        verdicts(&out)
    };
    let wants = faulty_manifest(&dir, "need-gnss", 10, "");
    let v = run(&wants, "with");
    assert_eq!(v.len(), 1);
    for (id, (verdict, reasons)) in &v {
        assert_ne!(verdict, "error", "{id}: {reasons:?}");
    }
    // A manifest that turns fixes off gets none.
    let file = dir.join("no-gnss.toml");
    let body = std::fs::read_to_string(&wants).expect("manifest") + "[receive]\ngnss = false\n";
    std::fs::write(&file, body).expect("write");
    let v = run(&file, "without");
    for (id, (verdict, reasons)) in &v {
        assert_eq!(verdict, "error", "{id}");
        assert!(
            reasons.iter().any(|r| r.contains("no satellite fix")),
            "{reasons:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Python frame client (`examples/python/sut_frames.py`) reads every frame through shared
/// memory (its manifest) and inline (picked in its `ready`): a blank or wrongly sized frame
/// would end its run in `error`; the frames handed over are scored.
#[test]
fn the_python_frame_client_reads_frames_through_both_transports() {
    require_python();
    let dir = tempdir("python-frames");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/sut_frames.py");
    for (name, env) in [
        ("shm", ""),
        ("inline", "SUT_FRAMES_WANT = \"rgba8/inline\"\n"),
    ] {
        let manifest = dir.join(format!("{name}.toml"));
        std::fs::write(
            &manifest,
            format!(
                "kind = \"sut\"\ncommand = {:?}\n[env]\nPYTHONUNBUFFERED = \"1\"\n{env}[receive]\ncamera = {{ format = \"rgb8\", transport = \"shm\" }}\n",
                script.display().to_string()
            ),
        )
        .expect("manifest");
        let out = dir.join(name);
        let o = gauntlet(&[
            "run",
            "tests/corpus/camera/ccrs-small.toml",
            "--filter",
            "*light=day*",
            "--sut",
            manifest.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(matches!(code(&o), 0 | 1), "{name}: {}", text(&o.stderr));
        let v = verdicts(&out);
        assert_eq!(v.len(), 2, "{name}");
        for (id, (verdict, reasons)) in &v {
            assert_ne!(verdict, "error", "{name}: {id}: {reasons:?}");
        }
        assert!(!out.join("sut-logs").exists(), "{name}: no run failed");
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("report.json")).expect("report"),
        )
        .expect("json");
        let frames = &report["cases"][0]["runs"][0]["metrics"]["detection_frames"];
        assert!(
            frames.as_u64().is_some_and(|n| n > 10),
            "{name}: frames were scored: {frames}"
        );
    }
    // The shipped manifest is valid.
    let ok = gauntlet(&["validate", "examples/python/sut_frames.toml"]);
    assert_eq!(code(&ok), 0, "{}", text(&ok.stderr));
}
