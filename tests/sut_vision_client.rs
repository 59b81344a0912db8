//! Camera frames for systems under test that are processes (`docs/sut-protocol.md`, "Camera
//! frames"): frames reach a process byte for byte as a built-in system receives them, with the
//! same frame indices, exposure times and camera intrinsics, through both transports and both
//! formats; the Rust vision client (`examples/rust/sut_aeb_vision.rs`) gives the report of
//! `builtin:aeb-vision`, detection scores included, on camera suites; a client asking for what
//! is not offered, a manifest asking for frames on a case without a camera and detections that
//! make no sense are refused; the shared-memory files are removed.
//!
//! A test without the libtest harness (`harness = false`): this binary is also the clients
//! (started with `--serve-…`), so the client under test is always built from the current
//! source. Names given on the command line filter the tests, like libtest.

#[path = "../examples/rust/sut_aeb_vision.rs"]
mod sut_aeb_vision;

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gauntlet::scenario::model::Scenario;
use gauntlet::scenario::{self, Case};
use gauntlet::sim::{self, RunSpec, SimOptions};
use gauntlet::sut::{
    Command, Detection, ObjectClass, Observation, RunSetup, SutError, SutSpec, System,
};

const SERVE_VISION: &str = "--serve-aeb-vision";
const SERVE_LOG: &str = "--serve-frame-log";
const SERVE_BAD_BOX: &str = "--serve-bad-box";

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "frames_reach_a_process_byte_for_byte_with_their_timing",
        frames_reach_a_process_byte_for_byte_with_their_timing,
    ),
    (
        "vision_client_matches_builtin_aeb_vision",
        vision_client_matches_builtin_aeb_vision,
    ),
    (
        "clients_asking_for_what_is_not_offered_are_refused",
        clients_asking_for_what_is_not_offered_are_refused,
    ),
    (
        "frames_on_a_case_without_a_camera_are_refused",
        frames_on_a_case_without_a_camera_are_refused,
    ),
    (
        "a_box_outside_the_frame_is_an_error_verdict",
        a_box_outside_the_frame_is_an_error_verdict,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = sut_aeb_vision::want_from_args(&args);
    if args.iter().any(|a| a == SERVE_VISION) {
        sut_aeb_vision::main();
        return;
    }
    if let Some(k) = args.iter().position(|a| a == SERVE_LOG) {
        let file = PathBuf::from(&args[k + 1]);
        serve_or_exit(want, &mut || -> Box<dyn System> {
            Box::new(FrameLog::to_file(&file))
        });
        return;
    }
    if args.iter().any(|a| a == SERVE_BAD_BOX) {
        serve_or_exit(want, &mut || -> Box<dyn System> { Box::new(BadBox) });
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("running {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, test) in chosen {
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(101);
    }
}

fn serve_or_exit(want: Option<(String, String)>, make: &mut dyn FnMut() -> Box<dyn System>) {
    if let Err(e) = sut_aeb_vision::serve(want, make) {
        eprintln!("test client: {e}");
        std::process::exit(1);
    }
}

fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A system that records, per step and frame: the time, the camera (all of its fields), the
/// frame's index, exposure time and size, and FNV-1a 64 hashes of its RGB bytes and of its
/// RGBA bytes.
struct FrameLog {
    sink: Arc<Mutex<Vec<String>>>,
    file: Option<PathBuf>,
}

impl FrameLog {
    fn to_file(file: &Path) -> FrameLog {
        FrameLog {
            sink: Arc::default(),
            file: Some(file.to_path_buf()),
        }
    }
}

impl System for FrameLog {
    fn name(&self) -> &str {
        "frame-log"
    }
    fn reset(&mut self, setup: &RunSetup) {
        let line = format!("begin cameras={:?}", setup.cameras);
        if let Ok(mut s) = self.sink.lock() {
            s.push(line);
        }
    }
    fn wants_frames(&self) -> bool {
        true
    }
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let mut lines = vec![format!("t={:?} frames={}", obs.time_s, obs.frames.len())];
        for (k, f) in obs.frames.iter().enumerate() {
            let rgb = fnv(f.rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]));
            lines.push(format!(
                "  {k} {:?} index={} exposed={:?} {}x{} rgb={rgb:016x} rgba={:016x}",
                f.camera,
                f.frame_index,
                f.exposed_at_s,
                f.width_px,
                f.height_px,
                fnv(f.rgba.iter().copied())
            ));
        }
        if let Ok(mut s) = self.sink.lock() {
            s.extend(lines);
        }
        Ok(Command::default())
    }
    fn end(&mut self) {
        let Some(file) = &self.file else {
            return;
        };
        let lines = self.sink.lock().map(|mut s| std::mem::take(&mut *s));
        let mut text = lines.unwrap_or_default().join("\n");
        text.push('\n');
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            eprintln!("frame log: {e}");
        }
    }
}

/// A system that reports a detection with a box wider than any frame.
struct BadBox;

impl System for BadBox {
    fn name(&self) -> &str {
        "bad-box"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, _obs: &Observation<'_>) -> Result<Command, SutError> {
        Ok(Command {
            detections: vec![Detection {
                class: ObjectClass::Car,
                distance_m: 20.0,
                confidence: 0.9,
                camera: 0,
                bbox_px: Some([0.0, 0.0, 100_000.0, 10.0]),
            }],
            ..Command::default()
        })
    }
}

fn cases(path: &str) -> Vec<Case> {
    let loaded = scenario::load_paths(&[PathBuf::from(path)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    loaded.cases
}

/// Writes a manifest that starts this binary with `args`, asking for frames as `camera` says
/// (a TOML inline table, or nothing), with `extra` lines.
fn manifest(dir: &Path, name: &str, args: &[&str], camera: Option<&str>, extra: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("this test binary");
    let file = dir.join(format!("{name}.toml"));
    let mut body = format!(
        "kind = \"sut\"\ncommand = {:?}\nargs = {:?}\n{extra}\n",
        exe.display().to_string(),
        args
    );
    if let Some(camera) = camera {
        body += &format!("[receive]\ncamera = {camera}\n");
    }
    std::fs::write(&file, body).expect("write manifest");
    file
}

const SHM_RGB8: &str = "{ format = \"rgb8\", transport = \"shm\" }";

/// Shared-memory files of the process `pid`.
fn shm_files_of(pid: u32) -> Vec<PathBuf> {
    let dir = gauntlet::sut::shm::shm_dir();
    let prefix = format!("gauntlet-{pid}-");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `gauntlet` and checks that it left no shared-memory file behind.
fn gauntlet_run(args: &[&str]) -> std::process::Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start gauntlet");
    let pid = child.id();
    let out = child.wait_with_output().expect("run gauntlet");
    assert!(
        shm_files_of(pid).is_empty(),
        "shared-memory files left behind: {:?}",
        shm_files_of(pid)
    );
    out
}

fn frames_reach_a_process_byte_for_byte_with_their_timing() {
    let dir = common::tempdir("frame-log");
    // Two cameras at 20 and 10 Hz, the system at 50 Hz: frames repeat between exposures.
    let cases = cases("tests/corpus/camera/timing.toml");
    let model = cases[0].model();
    let reference = FrameLog {
        sink: Arc::default(),
        file: None,
    };
    let sink = reference.sink.clone();
    let results = run_once(&model, &cases[0].id, Box::new(reference));
    assert!(results[0].sut_error.is_none());
    let want: Vec<String> = sink.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(want.iter().filter(|l| l.starts_with("t=")).count(), 50);
    assert!(
        want.iter()
            .any(|l| l.contains(" 1 ") && l.contains("index=9"))
    );
    for (format, transport) in [
        ("rgb8", "shm"),
        ("rgb8", "inline"),
        ("rgba8", "shm"),
        ("rgba8", "inline"),
    ] {
        let log = dir.join(format!("{format}-{transport}.log"));
        let picked = format!("{format}/{transport}");
        let m = manifest(
            &dir,
            &picked.replace('/', "-"),
            &[SERVE_LOG, log.to_str().expect("utf-8"), "--want", &picked],
            Some(SHM_RGB8),
            "",
        );
        let spec = SutSpec::parse(m.to_str().expect("utf-8")).expect("manifest");
        assert!(spec.wants_frames());
        let results = run_once(&model, &cases[0].id, spec.instantiate());
        assert_eq!(results[0].sut_error, None, "{picked}");
        let got = std::fs::read_to_string(&log).expect("frame log");
        let got: Vec<&str> = got.lines().collect();
        assert_eq!(got.len(), want.len(), "{picked}");
        for (g, w) in got.iter().zip(&want) {
            // `rgb8` carries no alpha: the client makes it opaque.
            let (g, w) = if format == "rgb8" {
                (
                    g.split(" rgba=").next().unwrap_or(g),
                    w.split(" rgba=").next().unwrap_or(w),
                )
            } else {
                (*g, w.as_str())
            };
            assert_eq!(g, w, "{picked}");
        }
        // The frames were scored like a built-in system's.
        let scored = results[0].frames_scored.as_ref().expect("scored");
        assert_eq!(scored.len(), 20 + 10, "{picked}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One run of a case with `system`, in the library (no process of the harness around it).
fn run_once(model: &Scenario, case_id: &str, system: Box<dyn System>) -> Vec<sim::RunResult> {
    sim::run_batch(
        vec![RunSpec {
            scenario: model,
            case_id,
            run_index: 0,
            system,
        }],
        &SimOptions::default(),
    )
}

fn vision_client_matches_builtin_aeb_vision() {
    let dir = common::tempdir("vision-client");
    let suites: [&[&str]; 2] = [
        &["tests/corpus/camera/ccrs-small.toml"],
        &[
            "scenarios/camera/ccrs.toml",
            "--filter",
            "*overlap_pct=100,vut_speed_kph=40",
        ],
    ];
    for (s, suite) in suites.iter().enumerate() {
        let run = |sut: &str, out: &Path, jobs: &str| {
            let mut args = vec!["run"];
            args.extend_from_slice(suite);
            // The frames are rendered on the GPU path (lavapipe in CI): no adapter is exit 2.
            args.extend_from_slice(&[
                "--device",
                "gpu",
                "--sut",
                sut,
                "--jobs",
                jobs,
                "--out",
                out.to_str().expect("utf-8"),
            ]);
            gauntlet_run(&args)
        };
        let builtin = dir.join(format!("{s}-builtin"));
        let o = run("builtin:aeb-vision", &builtin, "1");
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let want = common::report_without_sut(&builtin);
        assert!(want.contains("\"detection_frames\""), "detections scored");
        let variants: [(&str, Option<&str>, &str, &str); 3] = [
            ("shm-rgb8", None, "", "1"),
            ("inline-rgba8", Some("rgba8/inline"), "", "1"),
            ("shm-batch", Some("rgba8/shm"), "batch_size = 4", "2"),
        ];
        let mut first_report = None;
        for (name, pick, extra, jobs) in variants {
            let mut args = vec![SERVE_VISION];
            if let Some(p) = pick {
                args.extend_from_slice(&["--want", p]);
            }
            let m = manifest(&dir, &format!("{s}-{name}"), &args, Some(SHM_RGB8), extra);
            let out = dir.join(format!("{s}-{name}"));
            let o = run(m.to_str().expect("utf-8"), &out, jobs);
            assert_eq!(
                o.status.code(),
                code,
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(common::report_without_sut(&out), want, "suite {s}, {name}");
            assert!(!out.join("sut-logs").exists(), "{name}: no run failed");
            if name == "shm-rgb8" {
                first_report = Some(std::fs::read(out.join("report.json")).expect("report"));
            }
        }
        // Determinism: the same system again, on two workers: the same bytes.
        let m = dir.join(format!("{s}-shm-rgb8.toml"));
        let again = dir.join(format!("{s}-again"));
        let o = run(m.to_str().expect("utf-8"), &again, "2");
        assert_eq!(o.status.code(), code);
        assert!(
            Some(std::fs::read(again.join("report.json")).expect("report")) == first_report,
            "report.json differs between reruns"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the small camera suite's first case against `sut`; its verdict and reasons.
fn verdict_of(sut: &str, out: &Path) -> (Option<i32>, String, Vec<String>, String) {
    let o = gauntlet_run(&[
        "run",
        "tests/corpus/camera/ccrs-small.toml",
        "--filter",
        "*light=day,vut_speed_kph=30",
        "--sut",
        sut,
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let Ok(report) = std::fs::read_to_string(out.join("report.json")) else {
        return (o.status.code(), String::new(), Vec::new(), stderr);
    };
    let v: serde_json::Value = serde_json::from_str(&report).expect("json");
    let case = &v["cases"][0];
    let reasons = case["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    (
        o.status.code(),
        case["verdict"].as_str().unwrap_or_default().to_string(),
        reasons,
        stderr,
    )
}

fn clients_asking_for_what_is_not_offered_are_refused() {
    let dir = common::tempdir("refusals");
    for (name, pick, camera, reason) in [
        (
            "format",
            "yuv420/shm",
            Some(SHM_RGB8),
            "system process asks for camera frames in format `yuv420`, which is not offered (offered: rgb8, rgba8)",
        ),
        (
            "transport",
            "rgb8/tcp",
            Some(SHM_RGB8),
            "system process asks for camera frames over transport `tcp`, which is not offered (offered: inline, shm)",
        ),
        (
            "unasked",
            "rgb8/shm",
            None,
            "system process asks for camera frames, which are offered only to a system whose manifest asks for them (`[receive] camera`)",
        ),
    ] {
        let m = manifest(&dir, name, &[SERVE_VISION, "--want", pick], camera, "");
        let (code, verdict, reasons, stderr) =
            verdict_of(m.to_str().expect("utf-8"), &dir.join(name));
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert_eq!(verdict, "error", "{name}");
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{name}: {reasons:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn frames_on_a_case_without_a_camera_are_refused() {
    let dir = common::tempdir("no-camera");
    let m = manifest(&dir, "vision", &[SERVE_VISION], Some(SHM_RGB8), "");
    // Before anything runs, through the command line: exit 2.
    let o = gauntlet_run(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--filter",
        "*overlap_pct=100,vut_speed_kph=20",
        "--sut",
        m.to_str().expect("utf-8"),
        "--out",
        dir.join("out").to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("asks for camera frames (its manifest's `[receive] camera`), but 1 case(s) have no `[[sensors.camera]]`: euro-ncap/ccrs/overlap_pct=100,vut_speed_kph=20"),
        "{stderr}"
    );
    assert!(!dir.join("out").join("report.json").exists());
    // Where only the run finds out (the library, one run): an error verdict.
    let cases = cases("scenarios/euro-ncap/ccrs.toml");
    let model = cases[0].model();
    let spec = SutSpec::parse(m.to_str().expect("utf-8")).expect("manifest");
    let results = run_once(&model, &cases[0].id, spec.instantiate());
    assert_eq!(
        results[0].sut_error.as_deref(),
        Some(
            "system process asks for camera frames, but the case has no camera (`[[sensors.camera]]`)"
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_box_outside_the_frame_is_an_error_verdict() {
    let dir = common::tempdir("bad-box");
    let m = manifest(&dir, "bad-box", &[SERVE_BAD_BOX], Some(SHM_RGB8), "");
    let (code, verdict, reasons, stderr) = verdict_of(m.to_str().expect("utf-8"), &dir.join("o"));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(verdict, "error");
    assert!(
        reasons.iter().any(|r| r.contains(
            "system process sent an invalid command: detection 0: `bbox_px` [0, 0, 100000, 10] is outside camera 0's 320×180 frame"
        )),
        "{reasons:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
