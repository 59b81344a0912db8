//! The command line as users and CI scripts see it: outputs and exit codes.

mod common;
use common::gauntlet;

use std::process::Output;

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

#[test]
fn validate_exit_codes() {
    let ok = gauntlet(&["validate", "tests/corpus/valid"]);
    assert_eq!(code(&ok), 0, "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: 3 scenario file(s)"));

    let bad = gauntlet(&["validate", "tests/corpus/invalid/unknown-fields.toml"]);
    assert_eq!(code(&bad), 2);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("tests/corpus/invalid/unknown-fields.toml:3:1: error: descripton: unknown field `descripton`; did you mean `description`?"), "{stderr}");

    // Valid and invalid together: still 2, and every invalid file is reported.
    let mixed = gauntlet(&["validate", "tests/corpus/valid", "tests/corpus/invalid"]);
    assert_eq!(code(&mixed), 2);
    let stderr = String::from_utf8_lossy(&mixed.stderr);
    for entry in std::fs::read_dir("tests/corpus/invalid").expect("dir") {
        let p = entry.expect("entry").path();
        assert!(
            stderr.contains(&p.display().to_string()),
            "{} not reported",
            p.display()
        );
    }

    assert_eq!(code(&gauntlet(&["validate", "no/such/path.toml"])), 2);
    assert_eq!(
        code(&gauntlet(&["validate", "src"])),
        2,
        "a directory without .toml files is an error"
    );
    assert_eq!(code(&gauntlet(&["validate"])), 2, "no paths: a usage error");
}

#[test]
fn strict_turns_warnings_into_errors() {
    let dir = std::env::temp_dir().join(format!("gauntlet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("adapter-kind.toml");
    std::fs::write(&file, "kind = \"adapter\"\n").expect("write");
    let path = file.to_str().expect("utf-8 path");
    let lenient = gauntlet(&["validate", path]);
    assert_eq!(code(&lenient), 0);
    assert!(
        String::from_utf8_lossy(&lenient.stderr).contains("warning: kind:"),
        "{}",
        String::from_utf8_lossy(&lenient.stderr)
    );
    assert_eq!(code(&gauntlet(&["validate", "--strict", path])), 2);
}

#[test]
fn perturbation_chains_are_checked_with_their_place() {
    let dir = std::env::temp_dir().join(format!("gauntlet-cli-perturb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("with-perturbations.toml");
    let base = std::fs::read_to_string("scenarios/camera/ccrs-perturbed.toml").expect("read");
    let bad = base.replace("\"fog\"", "\"fgo\"");
    assert_ne!(bad, base, "the library file sweeps over fog");
    std::fs::write(&file, &bad).expect("write");
    let out = gauntlet(&["validate", file.to_str().expect("utf-8 path")]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("with-perturbations.toml:"), "{stderr}");
    assert!(stderr.contains("unknown corruption \"fgo\""), "{stderr}");
    assert!(stderr.contains("perturbations.chain"), "{stderr}");
    let ok = gauntlet(&[
        "validate",
        "--strict",
        "scenarios/camera/ccrs-perturbed.toml",
    ]);
    assert_eq!(code(&ok), 0, "{}", String::from_utf8_lossy(&ok.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_prints_one_case_per_line() {
    let out = gauntlet(&["list", "tests/corpus/valid/expressions.toml"]);
    assert_eq!(code(&out), 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("corpus/expressions/vut_speed_kph=20\t"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("corpus/expressions/vut_speed_kph=50.5\t"),
        "{}",
        lines[1]
    );
    assert_eq!(
        code(&gauntlet(&["list", "tests/corpus/invalid/syntax.toml"])),
        2
    );
}

#[test]
fn schema_is_json_and_matches_the_docs() {
    let out = gauntlet(&["schema"]);
    assert_eq!(code(&out), 0);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["title"], "Gauntlet scenario file");
    assert_eq!(
        out.stdout,
        std::fs::read("docs/scenario.schema.json").expect("committed schema")
    );
}
