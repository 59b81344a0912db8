//! `gauntlet render` end to end (issue 5): files and their sizes, KITTI depth encoding, KITTI and
//! COCO labels that agree, byte-identical output of two CPU runs, the dataset manifest, and
//! errors for bad `--case`, `--times` and `--device gpu` without an adapter. Everything renders
//! with `--device cpu` so these tests need no GPU.

mod common;

use std::path::{Path, PathBuf};

use common::{gauntlet, gauntlet_env, tempdir};
use serde_json::Value;

/// A car 20 m ahead in the ego's lane, two cameras (front 160×90 and a narrow one looking
/// slightly right), night light from a word parameter.
const SCENARIO: &str = r#"kind = "scenario"
name = "render-cli/two-cameras"
[sweep.grid]
light = ["day", "night"]
[timing]
duration_s = 3
[road]
lanes = [{ width_m = 3.5 }, { width_m = 3.5 }]
markings = ["solid", "dashed", "solid"]
[ego]
speed_kph = 20
[[actors]]
id = "lead"
type = "car"
behaviour = { type = "stationary" }
placement = { gap_m = 20 }
[[sensors.camera]]
width_px = 160
height_px = 90
[[sensors.camera]]
id = "narrow"
width_px = 120
height_px = 80
hfov_deg = 30
yaw_deg = -5
pitch_deg = 2
k1 = -0.05
[lighting]
light = "${light}"
"#;

fn scenario_file(dir: &Path) -> PathBuf {
    let path = dir.join("two-cameras.toml");
    std::fs::write(&path, SCENARIO).expect("write scenario");
    path
}

fn run_ok(args: &[&str]) -> String {
    let out = gauntlet(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "gauntlet {args:?} failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn scenario_cameras_and_lighting_reach_the_model() {
    let dir = tempdir("model");
    let loaded = gauntlet::scenario::load_paths(&[scenario_file(&dir)]);
    assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
    assert_eq!(loaded.cases.len(), 2);
    let night = loaded
        .cases
        .iter()
        .find(|c| c.id.ends_with("light=night"))
        .expect("night case");
    let m = &night.model();
    assert_eq!(m.lighting.light, gauntlet::render::Light::Night);
    assert!((m.lighting.sun_elevation_rad - 45f64.to_radians()).abs() < 1e-12);
    assert_eq!(m.cameras.len(), 2);
    let front = &m.cameras[0];
    assert_eq!(
        (front.id.as_str(), front.width_px, front.height_px),
        ("front", 160, 90)
    );
    let expected = gauntlet::render::Camera::front(m.ego.length_m).position_in_ego_m;
    assert_eq!(front.position_in_ego_m, expected);
    assert_eq!(front.rate_hz, 20.0);
    let narrow = &m.cameras[1];
    assert!((narrow.hfov_rad - 30f64.to_radians()).abs() < 1e-12);
    assert!((narrow.yaw_rad + 5f64.to_radians()).abs() < 1e-12);
    assert_eq!(narrow.k1, -0.05);
}

#[test]
fn render_writes_frames_depth_and_labels_that_agree() {
    let dir = tempdir("frames");
    let scenario = scenario_file(&dir);
    let out = dir.join("out");
    let stderr = run_ok(&[
        "render",
        s(&scenario),
        "--case",
        "render-cli/two-cameras/light=day",
        "--times",
        "0,1.5",
        "--device",
        "cpu",
        "--out",
        s(&out),
    ]);
    assert!(stderr.contains("rendering on cpu"), "{stderr}");

    // Colour PNGs are RGB at each camera's size; depth PNGs 16-bit grey.
    for (camera, w, h) in [("front", 160, 90), ("narrow", 120, 80)] {
        for t in ["0000.000", "0001.500"] {
            let colour = image::open(out.join(camera).join(format!("{t}.png"))).expect("png");
            assert_eq!((colour.width(), colour.height()), (w, h));
            assert_eq!(colour.color(), image::ColorType::Rgb8);
            let depth = image::open(out.join(camera).join(format!("{t}.depth.png"))).expect("png");
            assert_eq!(depth.color(), image::ColorType::L16);
            assert_eq!((depth.width(), depth.height()), (w, h));
        }
    }
    let sheet = image::open(out.join("contact-sheet.png")).expect("sheet");
    assert!(sheet.width() > 2 * 120 && sheet.height() > 2 * 80);

    // COCO: 4 images; every annotation matches a line of the frame's KITTI file.
    let coco: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("coco.json")).expect("coco"))
            .expect("json");
    let images = coco["images"].as_array().expect("images");
    assert_eq!(images.len(), 4);
    let categories = coco["categories"].as_array().expect("categories");
    assert!(
        categories
            .iter()
            .any(|c| c["id"] == 1 && c["name"] == "car")
    );
    let annotations = coco["annotations"].as_array().expect("annotations");
    assert!(!annotations.is_empty());
    for image in images {
        let id = &image["id"];
        let file = image["file_name"].as_str().expect("file name");
        let kitti_text =
            std::fs::read_to_string(out.join(image["kitti_file"].as_str().expect("kitti")))
                .expect("kitti");
        let kitti: Vec<Vec<&str>> = kitti_text.lines().map(|l| l.split(' ').collect()).collect();
        let anns: Vec<&Value> = annotations
            .iter()
            .filter(|a| &a["image_id"] == id)
            .collect();
        assert_eq!(kitti.len(), anns.len(), "{file}: {kitti_text}");
        for (k, a) in kitti.iter().zip(&anns) {
            assert_eq!(k.len(), 15, "{k:?}");
            assert_eq!(k[0], "Car");
            assert_eq!(a["category_id"], 1);
            assert_eq!(a["actor_id"], "lead");
            let num = |i: usize| k[i].parse::<f64>().expect("number");
            let bbox: Vec<f64> = a["bbox"]
                .as_array()
                .expect("bbox")
                .iter()
                .map(|v| v.as_f64().expect("f"))
                .collect();
            let (x1, y1, x2, y2) = (num(4), num(5), num(6), num(7));
            for (kv, cv) in [
                (x1, bbox[0]),
                (y1, bbox[1]),
                (x2, bbox[0] + bbox[2]),
                (y2, bbox[1] + bbox[3]),
            ] {
                assert!((kv - cv).abs() <= 0.011, "{file}: KITTI {kv} vs COCO {cv}");
            }
            assert!(a["area"].as_u64().expect("area") > 0);
            let vf = a["visible_fraction"].as_f64().expect("vf");
            assert!(vf > 0.0 && vf <= 1.0);
            // Distance to the box centre vs KITTI location (bottom centre, camera frame; the
            // narrow camera is pitched 2°, so "up" is only nearly −y).
            let (x, y, z, h) = (num(11), num(12), num(13), num(8));
            let d = (x * x + (y - 0.5 * h).powi(2) + z * z).sqrt();
            assert!(
                (d - a["distance_m"].as_f64().expect("d")).abs() < 0.05,
                "{d} vs {}",
                a["distance_m"]
            );
        }
    }

    // Depth round trip: at the centre of the lead car's box in the front camera, the depth PNG
    // says about the distance to its rear face (KITTI z minus half its length).
    let front0 = images
        .iter()
        .find(|i| i["file_name"] == "front/0000.000.png")
        .expect("front 0");
    let ann = annotations
        .iter()
        .find(|a| a["image_id"] == front0["id"])
        .expect("lead visible");
    let b: Vec<f64> = ann["bbox"]
        .as_array()
        .expect("bbox")
        .iter()
        .map(|v| v.as_f64().expect("f"))
        .collect();
    let (u, v) = ((b[0] + 0.5 * b[2]) as u32, (b[1] + 0.5 * b[3]) as u32);
    let depth = image::open(out.join("front/0000.000.depth.png"))
        .expect("png")
        .into_luma16();
    let raw = depth.get_pixel(u, v).0[0];
    let metres = gauntlet::render::output::decode_depth_kitti(raw).expect("depth at the car");
    let kitti_text = std::fs::read_to_string(out.join("front/0000.000.txt")).expect("kitti");
    let k: Vec<f64> = kitti_text
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().expect("n"))
        .collect();
    let rear_face_m = k[12] - 0.5 * k[9];
    assert!(
        (metres - rear_face_m).abs() < 0.3,
        "depth {metres} m vs rear face {rear_face_m} m"
    );
    // Sky (top row) has no depth.
    assert_eq!(depth.get_pixel(80, 0).0[0], 0);
}

fn read_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(root).expect("inside").to_path_buf(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn two_cpu_runs_write_identical_files_and_the_manifest_lists_them() {
    let dir = tempdir("determinism");
    let scenario = scenario_file(&dir);
    for run in ["a", "b"] {
        let root = dir.join(run);
        for case in ["light=day", "light=night"] {
            run_ok(&[
                "render",
                s(&scenario),
                "--case",
                &format!("render-cli/two-cameras/{case}"),
                "--times",
                "1,2",
                "--device",
                "cpu",
                "--out",
                s(&root),
                "--dataset",
                "demo",
            ]);
        }
    }
    let a = read_tree(&dir.join("a"));
    let b = read_tree(&dir.join("b"));
    assert_eq!(a.len(), b.len());
    for ((pa, da), (pb, db)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(da == db, "{} differs between two runs", pa.display());
    }

    let root = dir.join("a/datasets/demo");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["format"], "gauntlet-dataset");
    assert_eq!(manifest["devices"], serde_json::json!(["cpu"]));
    let cases = manifest["cases"].as_array().expect("cases");
    let ids: Vec<&str> = cases
        .iter()
        .map(|c| c["case_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "render-cli/two-cameras/light=day",
            "render-cli/two-cameras/light=night"
        ]
    );
    assert_eq!(cases[1]["light"], "night");
    assert_eq!(cases[0]["frames"].as_array().expect("frames").len(), 4);
    let files = manifest["files"].as_array().expect("files");
    // 2 cases × (2 cameras × 2 times × 3 files + coco + sheet).
    assert_eq!(files.len(), 2 * (2 * 2 * 3 + 2));
    let mut last = String::new();
    for f in files {
        let path = f["path"].as_str().expect("path");
        assert!(path > last.as_str(), "files sorted by path");
        last = path.to_string();
        let bytes = std::fs::read(root.join(path)).expect("listed file exists");
        assert_eq!(f["bytes"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(
            f["fnv1a64"].as_str(),
            Some(format!("{:016x}", gauntlet::rng::fnv1a64(&bytes)).as_str())
        );
    }
    for frame in cases[0]["frames"].as_array().expect("frames") {
        assert!(root.join(frame["image"].as_str().expect("image")).is_file());
    }

    // Rendering a case again replaces it: its old frames go, the other case stays.
    run_ok(&[
        "render",
        s(&scenario),
        "--case",
        "render-cli/two-cameras/light=day",
        "--times",
        "2",
        "--device",
        "cpu",
        "--out",
        s(&dir.join("a")),
        "--dataset",
        "demo",
    ]);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let cases = manifest["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["frames"].as_array().expect("frames").len(), 2);
    assert_eq!(
        manifest["files"].as_array().expect("files").len(),
        (2 * 3 + 2) + (2 * 2 * 3 + 2)
    );
    let day = root.join("render-cli/two-cameras/light=day");
    assert!(!day.join("front/0001.000.png").exists(), "stale frame left");
    assert!(day.join("front/0002.000.png").is_file());
    assert!(
        root.join("render-cli/two-cameras/light=night/front/0001.000.png")
            .is_file()
    );
}

#[test]
fn bad_case_times_and_missing_adapter_are_usage_errors() {
    let dir = tempdir("errors");
    let scenario = scenario_file(&dir);
    let out = dir.join("out");
    let base = ["render", s(&scenario), "--device", "cpu", "--out", s(&out)];
    for (extra, needle) in [
        (
            vec!["--case", "render-cli/two-cameras/light=dusk"],
            "no such case",
        ),
        (vec!["--times", "0,abc"], "--times"),
        (vec!["--times", "3.5"], "--times"),
        (vec!["--times=-1"], "--times"),
        (vec!["--size", "0x10"], "--size"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let o = gauntlet(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let o = gauntlet_env(
        &["render", s(&scenario), "--device", "gpu", "--out", s(&out)],
        &[
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no GPU adapter"), "{stderr}");
    assert!(!out.join("coco.json").exists());
}
