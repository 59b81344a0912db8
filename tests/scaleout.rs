//! Scale-out and crash safety (issue 9): shards of the library merge to the unsharded reports
//! byte for byte, merge refuses what does not belong together, and a run killed with SIGKILL
//! and resumed ends with the same `report.json` as an uninterrupted run.

mod common;
use common::{gauntlet, tempdir};

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FILES: [&str; 3] = ["report.json", "junit.xml", "summary.md"];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `gauntlet run <inputs> --sut builtin:aeb --out OUT <extra>`; exit 0 or 1 expected.
fn run_ok(inputs: &[&str], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = vec!["run"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["--sut", "builtin:aeb", "--out", s(out)]);
    args.extend_from_slice(extra);
    let o = gauntlet(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    o
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(&dir.join("report.json"))).expect("report.json")
}

/// Runs every shard of N and merges them; the merged reports must equal `whole`'s bytes.
fn check_shards_merge(inputs: &[&str], whole: &Path, dir: &Path, n: u32) {
    let total = report(whole)["total_cases"].as_u64().expect("total_cases");
    let mut shard_dirs = Vec::new();
    let mut sum = 0;
    for k in 1..=n {
        let out = dir.join(format!("shard-{k}-of-{n}"));
        run_ok(inputs, &out, &["--shard", &format!("{k}/{n}")]);
        let r = report(&out);
        assert_eq!(r["shard"], serde_json::json!({ "k": k, "n": n }));
        assert_eq!(r["total_cases"].as_u64(), Some(total));
        sum += r["cases"].as_array().expect("cases").len() as u64;
        shard_dirs.push(out);
    }
    assert_eq!(sum, total, "the shards of {n} partition the cases");
    let merged = dir.join(format!("merged-{n}"));
    let mut args = vec!["merge"];
    // In reverse, report.json files and directories mixed: the order must not matter.
    let files: Vec<_> = shard_dirs.iter().map(|d| d.join("report.json")).collect();
    for (i, d) in shard_dirs.iter().enumerate().rev() {
        args.push(if i % 2 == 0 { s(d) } else { s(&files[i]) });
    }
    args.extend_from_slice(&["--out", s(&merged)]);
    let o = gauntlet(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    for f in FILES {
        assert!(
            read(&whole.join(f)) == read(&merged.join(f)),
            "merged {f} of {n} shards differs from the unsharded run's"
        );
    }
}

#[test]
fn shards_of_the_library_merge_to_the_unsharded_reports() {
    let dir = tempdir("library");
    let inputs = ["scenarios"];
    let whole = dir.join("whole");
    run_ok(&inputs, &whole, &[]);
    let r = report(&whole);
    assert_eq!(r["shard"], serde_json::Value::Null);
    // Exactly the files of the contract (conventions.md), no scratch or resume file.
    assert_eq!(
        files_in(&whole),
        [
            "cases.jsonl",
            "junit.xml",
            "report.json",
            "run.json",
            "summary.md"
        ]
    );
    assert!(r["total_cases"].as_u64().expect("total") > 400);
    assert_eq!(r["inputs_hash"].as_str().map(str::len), Some(16));
    for n in [2, 3, 7] {
        check_shards_merge(&inputs, &whole, &dir, n);
    }
    // `gauntlet judge` still reads and rewrites a report with the new fields.
    let before: Vec<Vec<u8>> = FILES.iter().map(|f| read(&whole.join(f))).collect();
    let o = gauntlet(&["judge", s(&whole)]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let after: Vec<Vec<u8>> = FILES.iter().map(|f| read(&whole.join(f))).collect();
    assert!(
        before == after,
        "judge with the same packs rewrites the same bytes"
    );
    let merged = dir.join("merged-3");
    assert_eq!(
        files_in(&merged),
        ["junit.xml", "report.json", "summary.md"],
        "merge leaves no scratch file"
    );
    let o = gauntlet(&["judge", s(&merged)]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(read(&whole.join("report.json")) == read(&merged.join("report.json")));
    assert_eq!(
        files_in(&merged),
        ["junit.xml", "report.json", "summary.md"],
        "judge leaves no scratch file"
    );
}

/// The names in a directory, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_empty_shard_is_a_valid_empty_result() {
    let dir = tempdir("empty");
    let inputs = [
        "scenarios/euro-ncap/ccrs.toml",
        "--filter",
        "*overlap_pct=-50,vut_speed_kph=1[05]",
    ];
    let whole = dir.join("whole");
    run_ok(&inputs, &whole, &[]);
    assert_eq!(report(&whole)["total_cases"], 2);
    // Two cases among 8 shards: at least 6 shards are empty.
    let mut empty = 0;
    let mut dirs = Vec::new();
    for k in 1..=8 {
        let out = dir.join(format!("s{k}"));
        let o = run_ok(&inputs, &out, &["--shard", &format!("{k}/8")]);
        let r = report(&out);
        if r["cases"].as_array().expect("cases").is_empty() {
            empty += 1;
            assert_eq!(o.status.code(), Some(0), "an empty shard passes");
            assert_eq!(r["summary"]["cases"], 0);
            assert!(out.join("junit.xml").exists() && out.join("summary.md").exists());
        }
        dirs.push(out);
    }
    assert!(empty >= 6);
    let merged = dir.join("merged");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend_from_slice(&["--out", s(&merged)]);
    let o = gauntlet(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    for f in FILES {
        assert!(read(&whole.join(f)) == read(&merged.join(f)), "{f}");
    }
}

#[test]
fn bad_shard_arguments_exit_2() {
    let dir = tempdir("bad-shard");
    for (spec, expect) in [
        ("0/4", "K must be"),
        ("5/4", "does not exist"),
        ("1/0", "N must be"),
        ("two/4", "K must be"),
        ("3", "expected K/N"),
    ] {
        let o = gauntlet(&[
            "run",
            "scenarios/euro-ncap/ccrs.toml",
            "--out",
            s(&dir),
            "--shard",
            spec,
        ]);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        assert!(stderr(&o).contains(expect), "{spec}: {}", stderr(&o));
    }
    let auto = |env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
        c.args(["run", "scenarios/euro-ncap/ccrs.toml", "--filter", "*=10"])
            .args(["--out", s(&dir.join("auto")), "--shard", "auto/3"])
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_MIN");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run gauntlet")
    };
    let o = auto(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("JOB_COMPLETION_INDEX"),
        "{}",
        stderr(&o)
    );
    let o = auto(&[("JOB_COMPLETION_INDEX", "3")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard 4 does not exist among 3"),
        "{}",
        stderr(&o)
    );
    let o = auto(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_MIN", "0")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a whole number"), "{}", stderr(&o));
    // Kubernetes: 0-based index 1 is shard 2.
    let o = auto(&[("JOB_COMPLETION_INDEX", "1")]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(
        report(&dir.join("auto"))["shard"],
        serde_json::json!({"k": 2, "n": 3})
    );
    // Slurm: task 7 of an array starting at 5 is shard 3.
    let o = auto(&[("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "5")]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(
        report(&dir.join("auto"))["shard"],
        serde_json::json!({"k": 3, "n": 3})
    );
}

#[test]
fn merge_refuses_what_does_not_belong_together() {
    let dir = tempdir("refuse");
    let inputs = ["scenarios/euro-ncap/ccrs.toml"];
    let shard = |k: u32, n: u32, extra: &[&str]| {
        let out = dir.join(format!("s{k}-{n}{}", extra.join("")));
        let mut args = vec!["--shard".to_string(), format!("{k}/{n}")];
        args.extend(extra.iter().map(|e| e.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&inputs, &out, &args);
        out
    };
    let (a, b, c) = (shard(1, 3, &[]), shard(2, 3, &[]), shard(3, 3, &[]));
    let other_seed = shard(3, 3, &["--seed", "7"]);
    let other_inputs = shard(3, 3, &["--filter", "*=1*"]);
    let two = shard(2, 2, &[]);
    let out = dir.join("out");
    let merge = |parts: &[&Path]| {
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(|p| s(p)));
        args.extend_from_slice(&["--out", s(&out)]);
        gauntlet(&args)
    };
    for (parts, expect) in [
        (vec![&a, &b], "shard(s) 3/3 missing"),
        (vec![&a, &b, &b, &c], "shard 2/3 is given twice"),
        (vec![&a, &b, &other_seed], "seed 7 but"),
        (vec![&a, &b, &other_inputs], "inputs hash"),
        (vec![&a, &b, &two], "shards of different N"),
    ] {
        let parts: Vec<&Path> = parts.iter().map(|p| p.as_path()).collect();
        let o = merge(&parts);
        assert_eq!(o.status.code(), Some(2), "{expect}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{expect}: {}", stderr(&o));
        assert!(!out.exists(), "nothing written on refusal");
    }
    let o = merge(&[&a, &b, &dir.join("missing")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = merge(&[&a, &b, &c]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
}

/// A small, seedable generator for the kill moments (printed, so a failure can be replayed).
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Starts `gauntlet run` and SIGKILLs it once `cases.jsonl` has `after` lines (or it ends).
fn run_and_kill(args: &[&str], log: &Path, after: usize) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gauntlet");
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if line_count(log) >= after || start.elapsed() > Duration::from_secs(120) {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_report() {
    let dir = tempdir("kill");
    let inputs = ["scenarios/euro-ncap", "scenarios/un-r152"];
    let whole = dir.join("whole");
    run_ok(&inputs, &whole, &["--jobs", "1"]);
    let total = report(&whole)["total_cases"].as_u64().expect("total") as usize;
    assert!(total > 200);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    eprintln!("kill moments from seed {seed}");
    let mut cut_short = 0;
    for round in 0..3 {
        let out = dir.join(format!("killed-{round}"));
        let log = out.join("cases.jsonl");
        let mut args: Vec<&str> = vec!["run"];
        args.extend_from_slice(&inputs);
        args.extend_from_slice(&["--sut", "builtin:aeb", "--jobs", "1", "--out", s(&out)]);
        // First kill: somewhere in the first half.
        let first = 1 + next(&mut seed) as usize % (total / 2);
        let killed = run_and_kill(&args, &log, first);
        let lines_after_kill = line_count(&log);
        if killed {
            assert!(!out.join("report.json").exists(), "killed before the end");
            if lines_after_kill < total {
                cut_short += 1;
            }
        }
        eprintln!("round {round}: killed={killed} at {lines_after_kill} of {total} lines");
        // A second kill during the resumed run, further on.
        args.push("--resume");
        let second = lines_after_kill + 1 + next(&mut seed) as usize % (total / 4);
        run_and_kill(&args, &log, second);
        if round == 1 {
            // A torn write: half a line at the end.
            let mut bytes = read(&log);
            let tail = br#"{"id":"euro-ncap/ccrs/overlap_pct=-50,vut_spe"#;
            bytes.extend_from_slice(tail);
            std::fs::write(&log, bytes).expect("tear");
        }
        let o = gauntlet(&args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        if round == 1 {
            assert!(stderr(&o).contains("torn last line"), "{}", stderr(&o));
        }
        assert!(
            read(&whole.join("report.json")) == read(&out.join("report.json")),
            "round {round}: resumed report.json differs (kills after {first} and {second} lines)"
        );
        // Every case once in cases.jsonl, no torn remains.
        let text = String::from_utf8(read(&log)).expect("utf-8");
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("whole lines");
                v["id"].as_str().expect("id").to_string()
            })
            .collect();
        ids.sort();
        let n_lines = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), total, "round {round}");
        assert_eq!(n_lines, total, "round {round}: a case ran twice");
    }
    assert!(cut_short > 0, "no kill landed before the end of a run");
    // Resuming a finished run runs nothing and writes the same report.
    let out = dir.join("killed-0");
    let o = gauntlet(&[
        "run",
        inputs[0],
        inputs[1],
        "--sut",
        "builtin:aeb",
        "--out",
        s(&out),
        "--resume",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(stderr(&o).contains("running 0 case(s)"), "{}", stderr(&o));
    assert!(read(&whole.join("report.json")) == read(&out.join("report.json")));
}

#[test]
fn resume_refuses_changed_inputs() {
    let dir = tempdir("changed");
    let scenario = dir.join("ccrs.toml");
    std::fs::copy("scenarios/euro-ncap/ccrs.toml", &scenario).expect("copy");
    let out = dir.join("out");
    run_ok(&[s(&scenario)], &out, &["--filter", "*=10"]);
    // Unchanged: resumes.
    let resume = |extra: &[&str]| {
        let mut args = vec![
            "run",
            s(&scenario),
            "--sut",
            "builtin:aeb",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        args.push("--resume");
        gauntlet(&args)
    };
    let o = resume(&["--filter", "*=10"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    // What resume checks is in every line of cases.jsonl, not in a file of its own.
    let log = out.join("cases.jsonl");
    let lines = String::from_utf8(read(&log)).expect("utf-8");
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("line");
        let key = &v["resume"];
        assert_eq!(key["inputs_hash"], report(&out)["inputs_hash"], "{line}");
        assert_eq!(key["seed"], 0);
        assert_eq!(key["shard"], serde_json::Value::Null);
        assert!(key["harness_version"].is_string() && key["scenario_file_hash"].is_string());
    }
    assert!(
        !String::from_utf8(read(&out.join("report.json")))
            .expect("utf-8")
            .contains("\"resume\"")
    );
    // Another filter, another seed, an edited scenario file: refused, saying what changed.
    let o = resume(&["--filter", "*=15"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the inputs changed"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is no longer among the cases (another --filter"),
        "{}",
        stderr(&o)
    );
    let o = resume(&["--filter", "*=10", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("was run with seed 0"), "{}", stderr(&o));
    assert!(stderr(&o).contains("now seed 3"), "{}", stderr(&o));
    let mut text = std::fs::read_to_string(&scenario).expect("read");
    text.push_str("\n# edited\n");
    std::fs::write(&scenario, text).expect("edit");
    let o = resume(&["--filter", "*=10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the inputs changed"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{} was edited", s(&scenario))),
        "{}",
        stderr(&o)
    );
    std::fs::copy("scenarios/euro-ncap/ccrs.toml", &scenario).expect("restore");
    // Lines of another harness version, or without a resume record: refused.
    let edit_lines = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut text = String::new();
        for line in lines.lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("line");
            f(&mut v);
            text.push_str(&serde_json::to_string(&v).expect("json"));
            text.push('\n');
        }
        std::fs::write(&log, text).expect("write");
    };
    edit_lines(&|v| v["resume"]["harness_version"] = "0.0.1".into());
    let o = resume(&["--filter", "*=10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("was run by harness version 0.0.1"),
        "{}",
        stderr(&o)
    );
    edit_lines(&|v| {
        v.as_object_mut().expect("object").remove("resume");
    });
    let o = resume(&["--filter", "*=10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no `resume` record"), "{}", stderr(&o));
    // A cases.jsonl with a broken line in the middle is refused, not silently rerun.
    std::fs::write(out.join("cases.jsonl"), "not json\n{}\n").expect("write");
    let o = resume(&["--filter", "*=10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("only the last line may be torn"),
        "{}",
        stderr(&o)
    );
}
