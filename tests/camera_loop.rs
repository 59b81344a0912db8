//! Cameras in the closed loop (issue 6): frames reach a system with the right timing and only
//! systems that ask for them pay for rendering; `builtin:aeb-vision`'s distance estimate on
//! clean frames against the renderer's ground truth; its refusal of camera-less scenarios; a
//! camera suite's `report.json` byte-identical across reruns and `--jobs` on the software
//! driver, with detection scoring in it.

mod common;
use common::{gauntlet, tempdir};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gauntlet::render::{self, ActorState, Camera, Light, WorldState};
use gauntlet::scenario::{self, Case};
use gauntlet::sim::{self, RunSpec, SimOptions};
use gauntlet::sut::builtin::{AebVisionConfig, find_obstacle};
use gauntlet::sut::{CameraFrame, Command, Observation, RunSetup, SutError, System};

fn cases(path: &str) -> Vec<Case> {
    let loaded = scenario::load_paths(&[PathBuf::from(path)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    loaded.cases
}

/// What a recording system saw at one of its steps: its time and, per camera, (id, frame
/// index, exposure time, width, height, bytes).
type Seen = (f64, Vec<(String, u64, f64, u32, u32, usize)>);

/// A system that records the frames it is handed.
struct Recorder {
    wants: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl System for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn wants_frames(&self) -> bool {
        self.wants
    }
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let frames = obs
            .frames
            .iter()
            .map(|f| {
                (
                    f.camera.id.clone(),
                    f.frame_index,
                    f.exposed_at_s,
                    f.width_px,
                    f.height_px,
                    f.rgba.len(),
                )
            })
            .collect();
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((obs.time_s, frames));
        }
        Ok(Command::default())
    }
}

fn record(case: &Case, wants: bool) -> (Vec<Seen>, sim::RunResult) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let model = case.model();
    let mut results = sim::run_batch(
        vec![RunSpec {
            scenario: &model,
            case_id: &case.id,
            run_index: 0,
            system: Box::new(Recorder {
                wants,
                seen: seen.clone(),
            }),
        }],
        &SimOptions::default(),
    );
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (seen, results.remove(0))
}

#[test]
fn frames_reach_the_system_at_each_cameras_rate_with_their_exposure_times() {
    let cases = cases("tests/corpus/camera/timing.toml");
    let (seen, result) = record(&cases[0], true);
    // The system runs at 50 Hz for 1 s: 50 steps, every one of them with both cameras' frames.
    assert_eq!(seen.len(), 50);
    for (time_s, frames) in &seen {
        assert_eq!(frames.len(), 2, "t = {time_s}");
        for (k, (id, index, exposed_s, w, h, bytes)) in frames.iter().enumerate() {
            let (want_id, period_s, size) = [("front", 0.05, (64, 36)), ("slow", 0.1, (48, 27))][k];
            assert_eq!(id, want_id);
            assert_eq!((*w, *h), size);
            assert_eq!(*bytes, (w * h * 4) as usize);
            // The latest frame: exposed at the last multiple of the camera's period at or
            // before the step, counted from 0.
            let expected_index = ((time_s + 1e-9) / period_s).floor();
            assert_eq!(*index as f64, expected_index, "{id} at t = {time_s}");
            assert!(
                (exposed_s - expected_index * period_s).abs() < 1e-9,
                "{id} at t = {time_s}: exposed at {exposed_s}"
            );
            assert!(*exposed_s <= time_s + 1e-9);
        }
    }
    // Every frame handed over is scored once (no detections: nothing matched).
    let scored = result.frames_scored.expect("frames were scored");
    assert_eq!(scored.len(), 20 + 10);
    assert!(scored.iter().all(|f| f.detections.is_empty()));
    // The stationary car 80 m ahead is labelled in the front camera's frames.
    assert!(scored.iter().any(|f| f.camera == 0 && !f.truths.is_empty()));
}

#[test]
fn a_system_without_camera_needs_gets_no_frames() {
    let cases = cases("tests/corpus/camera/timing.toml");
    let (seen, result) = record(&cases[0], false);
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|(_, frames)| frames.is_empty()));
    assert!(result.frames_scored.is_none());
}

/// The front camera of the library's camera scenarios.
fn camera() -> Camera {
    Camera {
        width_px: 640,
        height_px: 360,
        ..Camera::front(4.6)
    }
}

/// Renders the ego at station 0 with the scenario's first actor `gap_m` ahead (bumper to
/// bumper) and returns the frame as the system sees it with the truth's nearest depth.
fn frame_at(case: &Case, gap_m: f64, light: Light) -> (CameraFrame, f64, [f64; 4]) {
    let mut model = case.model();
    model.lighting.light = light;
    let cam = camera();
    let ego_front_m = 0.5 * model.ego.length_m;
    let actor = &model.actors[0];
    let state = WorldState {
        time_s: 0.0,
        ego: ActorState::default(),
        actors: vec![ActorState {
            station_m: ego_front_m + gap_m + 0.5 * actor.length_m,
            y_m: 0.0,
            heading_rad: actor.pose.heading_rad,
        }],
    };
    let scene = render::build_frame(&model, &model.lighting, &cam, &state);
    let frame = render::cpu::render_scenes(std::slice::from_ref(&scene)).remove(0);
    let truths = sim::camera::truth_boxes(&scene, &frame, Some(1));
    let (truth_m, truth_box) = truths
        .iter()
        .find(|t| t.instance == 1)
        .map(|t| (t.distance_m, t.bbox_px))
        .expect("the target is in view");
    (
        CameraFrame {
            camera: cam,
            frame_index: 0,
            exposed_at_s: 0.0,
            width_px: frame.width_px,
            height_px: frame.height_px,
            rgba: frame.rgba,
        },
        truth_m,
        truth_box,
    )
}

#[test]
fn vision_distance_estimate_matches_ground_truth_on_clean_frames() {
    let cases = cases("scenarios/camera/ccrs.toml");
    let case = cases
        .iter()
        .find(|c| c.id.contains("overlap_pct=100") && c.id.contains("light=day"))
        .expect("a centred CCRs case");
    let cfg = AebVisionConfig::default();
    let cam = camera();
    for light in [Light::Day, Light::Night] {
        for gap_m in [5.0, 8.0, 15.0, 25.0, 40.0] {
            let (frame, truth_m, truth_box) = frame_at(case, gap_m, light);
            let s = find_obstacle(&frame, 4.6, 1.1, 0.0, &cfg)
                .unwrap_or_else(|| panic!("{light:?}: nothing found {gap_m} m ahead"));
            // One image row at this depth spans this much ground.
            let row_m = truth_m * truth_m / (cam.focal_px() * cam.position_in_ego_m[2]);
            let err_m = s.depth_m - truth_m;
            match light {
                // By day the shadow under the target marks its contact line.
                Light::Day => assert!(
                    err_m.abs() <= 0.05 * truth_m + row_m,
                    "day, gap {gap_m} m: estimated {:.2} m, truth {truth_m:.2} m (row {row_m:.2} m)",
                    s.depth_m
                ),
                // At night the headlights light the road under the target as well: the lowest
                // departing row is the bumper's lower edge, above the ground, so the estimate is
                // long (by the bumper's height over the camera's: under 25 %), never short.
                Light::Night => assert!(
                    err_m >= -row_m && err_m <= 0.25 * truth_m + row_m,
                    "night, gap {gap_m} m: estimated {:.2} m, truth {truth_m:.2} m (row {row_m:.2} m)",
                    s.depth_m
                ),
            }
            // The bumper-to-bumper gap the braking logic reads, by day.
            if light == Light::Day {
                assert!(
                    (s.gap_m - gap_m).abs() <= 0.05 * gap_m + row_m + 0.3,
                    "day: gap {:.2} m for {gap_m} m",
                    s.gap_m
                );
            }
            // The box matches the renderer's label (the detection is scored at IoU 0.5).
            let iou = gauntlet::eval::detection::iou(s.bbox_px, truth_box);
            assert!(iou >= 0.6, "{light:?}, gap {gap_m} m: IoU {iou:.2}");
        }
    }
}

#[test]
fn vision_finds_nothing_on_an_empty_road() {
    let cases = cases("scenarios/camera/ccrs.toml");
    let mut model = cases[0].model();
    let cam = camera();
    for light in [Light::Day, Light::Night] {
        model.lighting.light = light;
        let state = WorldState {
            time_s: 0.0,
            ego: ActorState::default(),
            // The target far behind the ego: out of view.
            actors: vec![ActorState {
                station_m: -100.0,
                y_m: 0.0,
                heading_rad: 0.0,
            }],
        };
        let scene = render::build_frame(&model, &model.lighting, &cam, &state);
        let frame = render::cpu::render_scenes(std::slice::from_ref(&scene)).remove(0);
        let frame = CameraFrame {
            camera: cam.clone(),
            frame_index: 0,
            exposed_at_s: 0.0,
            width_px: frame.width_px,
            height_px: frame.height_px,
            rgba: frame.rgba,
        };
        assert_eq!(
            find_obstacle(&frame, 4.6, 1.1, 0.0, &AebVisionConfig::default()),
            None,
            "{light:?}"
        );
    }
}

#[test]
fn aeb_vision_refuses_a_scenario_without_camera() {
    let out = tempdir("no-camera");
    let o = gauntlet(&[
        "run",
        "scenarios/euro-ncap/ccrs.toml",
        "--sut",
        "builtin:aeb-vision",
        "--filter",
        "*vut_speed_kph=20*",
        "--out",
        out.to_str().unwrap_or_default(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sees the road only through a camera")
            && stderr
                .contains("5 case(s) have no `[[sensors.camera]]`: euro-ncap/ccrs/overlap_pct="),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_camera_suite_is_byte_identical_across_reruns_and_jobs() {
    let dir = tempdir("determinism");
    let run = |name: &str, jobs: &str| -> (Vec<u8>, String, String) {
        let out = dir.join(name);
        let o = gauntlet(&[
            "run",
            "tests/corpus/camera/ccrs-small.toml",
            "--sut",
            "builtin:aeb-vision",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap_or_default(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
        let report = std::fs::read(out.join("report.json")).expect("report.json");
        let run_json = std::fs::read_to_string(out.join("run.json")).expect("run.json");
        (report, run_json, stderr)
    };
    let (first, run_json, stderr) = run("a", "1");
    let (again, _, _) = run("b", "1");
    let (two_jobs, _, _) = run("c", "2");
    assert!(first == again, "report.json differs between reruns");
    assert!(
        first == two_jobs,
        "report.json differs between --jobs 1 and 2"
    );
    // The renderer is named on stderr and in run.json.
    assert!(stderr.contains("gauntlet: rendering on "), "{stderr}");
    let device = stderr
        .lines()
        .find_map(|l| l.strip_prefix("gauntlet: rendering on "))
        .unwrap_or_default();
    assert!(run_json.contains(&serde_json::to_string(device).unwrap_or_default()));
    // Detection scoring is in the report, per run and over the suite.
    let report: serde_json::Value = serde_json::from_slice(&first).expect("json");
    let runs = report["cases"][0]["runs"][0]["metrics"].clone();
    assert!(
        runs["detection_frames"].as_u64().is_some_and(|n| n > 0),
        "{runs}"
    );
    assert!(runs.get("detection_recall").is_some());
    let agg = &report["aggregates"]["detection"];
    assert_eq!(agg["runs"].as_u64(), Some(4), "{agg}");
    // The vision system sees the centred target in clean day frames.
    assert!(agg["tp"].as_u64().is_some_and(|n| n > 0), "{agg}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A system that records an FNV-1a 64 of every frame it is handed.
struct PixelRecorder {
    hashes: Arc<Mutex<Vec<u64>>>,
}

impl System for PixelRecorder {
    fn name(&self) -> &str {
        "pixel-recorder"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn wants_frames(&self) -> bool {
        true
    }
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        if let Ok(mut hashes) = self.hashes.lock() {
            hashes.extend(obs.frames.iter().map(|f| gauntlet::rng::fnv1a64(&f.rgba)));
        }
        Ok(Command::default())
    }
}

/// The frame hashes of each case, all cases simulated in one lockstep batch or one at a time.
fn frame_hashes(cases: &[Case], together: bool) -> Vec<Vec<u64>> {
    let models: Vec<_> = cases.iter().map(Case::model).collect();
    let stores: Vec<Arc<Mutex<Vec<u64>>>> = cases.iter().map(|_| Arc::default()).collect();
    let spec = |k: usize| RunSpec {
        scenario: &models[k],
        case_id: &cases[k].id,
        run_index: 0,
        system: Box::new(PixelRecorder {
            hashes: stores[k].clone(),
        }),
    };
    if together {
        sim::run_batch((0..cases.len()).map(spec).collect(), &SimOptions::default());
    } else {
        for k in 0..cases.len() {
            sim::run_batch(vec![spec(k)], &SimOptions::default());
        }
    }
    stores
        .iter()
        .map(|s| s.lock().map(|h| h.clone()).unwrap_or_default())
        .collect()
}

#[test]
fn perturbation_chains_reach_the_system_and_do_not_depend_on_batching() {
    let cases = cases("tests/corpus/camera/ccrs-perturbed-small.toml");
    assert_eq!(cases.len(), 6);
    let alone = frame_hashes(&cases, false);
    let together = frame_hashes(&cases, true);
    assert_eq!(alone, together, "perturbed frames depend on the batch");
    let by_id = |id: &str| {
        let k = cases.iter().position(|c| c.id.ends_with(id)).expect(id);
        alone[k].clone()
    };
    let clean_1 = by_id("corruption=none,severity=1");
    assert!(!clean_1.is_empty());
    // `none` is the empty chain, whatever the severity.
    assert_eq!(clean_1, by_id("corruption=none,severity=5"));
    for corrupted in [
        "corruption=fog,severity=1",
        "corruption=fog,severity=5",
        "corruption=gaussian_noise,severity=5",
    ] {
        let hashes = by_id(corrupted);
        assert_eq!(hashes.len(), clean_1.len(), "{corrupted}");
        assert!(
            hashes.iter().zip(&clean_1).all(|(a, b)| a != b),
            "{corrupted}: every frame must differ from the clean one"
        );
    }
    // Severity changes the frames.
    assert_ne!(
        by_id("corruption=fog,severity=5"),
        by_id("corruption=fog,severity=1")
    );
}

#[test]
fn a_perturbed_camera_suite_is_byte_identical_across_jobs() {
    let dir = tempdir("perturbed-determinism");
    let run = |name: &str, jobs: &str| -> Vec<u8> {
        let out = dir.join(name);
        let o = gauntlet(&[
            "run",
            "tests/corpus/camera/ccrs-perturbed-small.toml",
            "--sut",
            "builtin:aeb-vision",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap_or_default(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
        std::fs::read(out.join("report.json")).expect("report.json")
    };
    let one = run("a", "1");
    let two = run("b", "2");
    assert!(one == two, "report.json differs between --jobs 1 and 2");
    // The robustness entry: the clean partner first, then 2 corruptions × 2 severities.
    let report: serde_json::Value = serde_json::from_slice(&one).expect("json");
    let r = &report["aggregates"]["robustness"][0];
    let cells = r["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 5, "{r}");
    assert_eq!(cells[0]["corruption"], "none");
    assert_eq!(cells[0]["cases"], 2);
    assert_eq!(cells[1]["severity"], "1");
    let recall = &r["scores"][0];
    assert_eq!(recall["measure"], "recall");
    assert!(recall["clean"].as_f64().is_some_and(|p| p > 0.5), "{r}");
    assert!(recall["mpc"].as_f64().is_some(), "{r}");
    let summary = std::fs::read_to_string(dir.join("a").join("summary.md")).expect("summary");
    assert!(summary.contains("### Robustness of"), "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}
