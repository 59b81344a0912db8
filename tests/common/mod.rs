//! Helpers shared by the integration tests: running the binary, scratch directories and GPU
//! contexts with a chosen memory set-up.
#![allow(dead_code)] // Each test crate uses the helpers it needs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `gauntlet` binary built for these tests.
pub fn gauntlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .output()
        .expect("run gauntlet")
}

/// A fresh, empty scratch directory for one test of one test crate.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gauntlet-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}

/// Runs the `gauntlet` binary with extra environment variables.
pub fn gauntlet_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run gauntlet")
}

/// `report.json` of a run in `out` without the lines that name the system (`sut`, and
/// `inputs_hash`, which hashes the system's name): for comparing two systems' reports.
pub fn report_without_sut(out: &Path) -> String {
    std::fs::read_to_string(out.join("report.json"))
        .expect("report.json")
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("\"sut\":") && !l.starts_with("\"inputs_hash\":")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A GPU context with the given memory set-up (`gpu::MemoryChoice`), for the tests comparing
/// the host-mapped and the staged path on one adapter. A missing adapter fails the test (CI
/// installs Mesa's software Vulkan driver; see scripts/test.sh). On a CPU adapter the
/// automatic choice must be the host-mapped path, so that those tests compare two paths.
pub fn gpu_context(memory: gauntlet::gpu::MemoryChoice) -> gauntlet::gpu::GpuContext {
    use gauntlet::gpu::{AcquireConfig, DeviceChoice, Memory, MemoryChoice};
    let ctx = gauntlet::gpu::acquire_with(AcquireConfig {
        device: DeviceChoice::Gpu,
        memory,
    })
    .expect("device")
    .expect("a GPU adapter: these tests need one (see scripts/test.sh)");
    match memory {
        MemoryChoice::Staged => assert_eq!(ctx.memory, Memory::Staged),
        MemoryChoice::Auto if ctx.adapter.device_type == "Cpu" => {
            assert_eq!(
                ctx.memory,
                Memory::HostMapped,
                "a CPU adapter maps its buffers"
            );
        }
        MemoryChoice::Auto => {}
    }
    eprintln!("{memory:?}: {:?} on {}", ctx.memory, ctx.adapter);
    ctx
}
