//! `gauntlet perturb` end to end: outputs under the same relative paths, results keyed by the
//! relative path (not by batching or order), unreadable images named with exit 2 while the
//! others are still written, bad specs refused before anything runs, the contact sheet.

use std::path::{Path, PathBuf};
use std::process::Command;

fn gauntlet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("perturb-cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 64×48 test pattern that differs per `seed`.
fn write_frame(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            (x * 4 + seed) as u8,
            (y * 5) as u8,
            ((x ^ y) * 3 + seed * 7) as u8,
        ])
    });
    img.save(path).unwrap();
}

fn read(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_rgb8().into_raw()
}

#[test]
fn frames_keep_their_relative_paths_and_noise_follows_the_path() {
    let input = tmp("in");
    for i in 0..20 {
        write_frame(&input.join(format!("seq/{i:02}.png")), i);
    }
    write_frame(&input.join("cam/0000.jpg"), 3);
    let out = tmp("out");
    let o = gauntlet()
        .args(["perturb"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args([
            "-p",
            "shot_noise:2",
            "-p",
            "jpeg_compression:quality=30",
            "--seed",
            "5",
        ])
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("perturbing on cpu"), "{stderr}");
    assert!(
        out.join("cam/0000.png").is_file(),
        "a JPEG comes out as PNG"
    );
    assert!(out.join("seq/19.png").is_file());
    // The same file alone (same relative path) gives the same bytes: no dependence on the
    // batch (16 frames at a time) or the order.
    let alone_in = tmp("alone-in");
    std::fs::create_dir_all(alone_in.join("seq")).unwrap();
    std::fs::copy(input.join("seq/17.png"), alone_in.join("seq/17.png")).unwrap();
    let alone_out = tmp("alone-out");
    let o = gauntlet()
        .args(["perturb"])
        .arg(&alone_in)
        .arg("--out")
        .arg(&alone_out)
        .args([
            "-p",
            "shot_noise:2",
            "-p",
            "jpeg_compression:quality=30",
            "--seed",
            "5",
        ])
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        read(&out.join("seq/17.png")),
        read(&alone_out.join("seq/17.png"))
    );
    // Two identical inputs at different paths get different noise.
    let (a, b) = (
        read(&out.join("cam/0000.png")),
        read(&out.join("seq/03.png")),
    );
    assert_ne!(a, b);
}

#[test]
fn an_unreadable_image_is_named_the_others_are_written_and_the_exit_code_is_2() {
    let input = tmp("bad-in");
    write_frame(&input.join("a.png"), 1);
    std::fs::write(input.join("b.png"), b"not a png").unwrap();
    write_frame(&input.join("c/d.png"), 2);
    let tiny = image::RgbImage::new(8, 8);
    tiny.save(input.join("tiny.png")).unwrap();
    let out = tmp("bad-out");
    let o = gauntlet()
        .arg("perturb")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["-p", "contrast:3", "--device", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("b.png: not a readable PNG or JPEG image"),
        "{stderr}"
    );
    assert!(stderr.contains("tiny.png: 8×8 px"), "{stderr}");
    assert!(out.join("a.png").is_file() && out.join("c/d.png").is_file());
    assert!(!out.join("b.png").exists());
}

#[test]
fn bad_specs_and_inputs_are_refused_before_anything_is_written() {
    let input = tmp("spec-in");
    write_frame(&input.join("a.png"), 1);
    let out = tmp("spec-out");
    for (args, expect) in [
        (vec!["-p", "fogg:2"], "did you mean \"fog\""),
        (vec!["-p", "fog:9"], "SEVERITY (1 to 5)"),
        (vec!["-p", "fog:strength=x"], "PARAM=VALUE"),
        (vec!["-p", "gaussian_noise:sigma=-2"], "outside"),
    ] {
        let o = gauntlet()
            .arg("perturb")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
    assert!(!out.join("a.png").exists());
    let empty = tmp("empty");
    let o = gauntlet()
        .arg("perturb")
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .args(["-p", "fog:1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no PNG or JPEG files"));
}

#[test]
fn the_grid_is_a_contact_sheet_of_corruptions_by_severity_on_the_gpu() {
    let input = tmp("grid-in");
    write_frame(&input.join("a.png"), 1);
    let out = tmp("grid-out");
    let o = gauntlet()
        .arg("perturb")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args([
            "-p",
            "fog:1",
            "-p",
            "pixelate:2",
            "--grid",
            "--device",
            "gpu",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("perturbing on") && !stderr.contains("on cpu"),
        "{stderr}"
    );
    // 2 rows × 6 cells of 64×48 with 4-pixel gutters.
    let sheet = image::open(out.join("grid.png")).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (6 * 68 + 4, 2 * 52 + 4));
}
