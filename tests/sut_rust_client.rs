//! The Rust reference client (`examples/rust/sut_aeb.rs`) against `builtin:aeb` on the Euro NCAP
//! CCR grid: through the process protocol its report equals the built-in system's, verdicts,
//! reasons and metrics alike.
//!
//! A test without the libtest harness (`harness = false`): this binary is also the client
//! (started with `--serve-sut-aeb`), so the client under test is always built from the current
//! source, and no second binary has to be found.

#[path = "../examples/rust/sut_aeb.rs"]
mod sut_aeb;

mod common;

use std::path::Path;

const SERVE: &str = "--serve-sut-aeb";
const NAME: &str = "rust_client_matches_builtin_aeb_on_the_ccr_grid";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == SERVE) {
        sut_aeb::main();
        return;
    }
    // Like libtest: a name filter that does not match runs nothing.
    if args
        .iter()
        .any(|a| !a.starts_with('-') && !NAME.contains(a.as_str()))
    {
        println!("running 0 tests");
        return;
    }
    println!("running 1 test");
    rust_client_matches_builtin_aeb_on_the_ccr_grid();
    println!("test {NAME} ... ok");
}

fn run_grid(sut: &str, out: &Path) -> std::process::Output {
    common::gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "scenarios/euro-ncap/ccrm.toml",
        "scenarios/euro-ncap/ccrb.toml",
        "--sut",
        sut,
        "--out",
        out.to_str().expect("utf-8 path"),
    ])
}

fn rust_client_matches_builtin_aeb_on_the_ccr_grid() {
    let dir = common::tempdir("rust-client");
    let builtin = dir.join("builtin");
    let o = run_grid("builtin:aeb", &builtin);
    let code = o.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want = common::report_without_sut(&builtin);
    assert!(want.contains("\"verdict\": \"pass\"") && want.contains("\"verdict\": \"fail\""));

    let exe = std::env::current_exe().expect("this test binary");
    for batch_size in [1, 16] {
        let manifest = dir.join(format!("rust-{batch_size}.toml"));
        std::fs::write(
            &manifest,
            format!(
                "kind = \"sut\"\ncommand = {:?}\nargs = [\"{SERVE}\"]\nbatch_size = {batch_size}\n",
                exe.display().to_string()
            ),
        )
        .expect("write manifest");
        let out = dir.join(format!("rust-{batch_size}"));
        let o = run_grid(manifest.to_str().expect("utf-8"), &out);
        assert_eq!(
            o.status.code(),
            code,
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            common::report_without_sut(&out),
            want,
            "batch_size {batch_size}"
        );
        assert!(!out.join("sut-logs").exists(), "no run failed");
    }
}
