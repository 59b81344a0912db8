//! Files of `gauntlet render`: colour PNGs, KITTI depth PNGs (16-bit, metres × 256), KITTI label
//! text, one COCO JSON, a contact sheet, and the manifest of a dataset (`--dataset NAME`).
//!
//! Unlike the rest of `render`, this module does I/O; it encodes with the `image` crate and
//! serde_json only. Everything it writes is a function of the frames and labels it is given, so
//! the same frames give byte-identical files.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Camera, Class, Frame, Label, Light, Lighting};

/// Version of `manifest.json`; bump it when a field changes meaning.
pub const MANIFEST_VERSION: u32 = 1;

/// Widest tile of the contact sheet, pixels.
pub const SHEET_TILE_MAX_PX: u32 = 320;
/// Gap between tiles of the contact sheet, pixels.
pub const SHEET_GAP_PX: u32 = 4;

/// One rendered frame with its labels.
#[derive(Clone, Debug)]
pub struct RenderedFrame {
    /// Index into [`CaseFrames::cameras`].
    pub camera_index: usize,
    pub time_s: f64,
    pub frame: Frame,
    pub labels: Vec<Label>,
}

/// Everything rendered for one case.
#[derive(Clone, Debug)]
pub struct CaseFrames {
    pub case_id: String,
    /// The scenario file, as named on the command line.
    pub scenario: String,
    pub cameras: Vec<Camera>,
    pub lighting: Lighting,
    /// What rendered (`FrameRenderer::describe`).
    pub device: String,
    /// Camera-major, then by time.
    pub frames: Vec<RenderedFrame>,
}

/// A file written, relative to the directory it was written under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    /// FNV-1a 64 of the contents, 16 lower-case hex digits.
    pub fnv1a64: String,
}

/// The stem of a frame's files: the time in seconds with three decimals, zero-padded so that
/// names sort by time (`0002.500`).
pub fn time_stem(time_s: f64) -> String {
    format!("{time_s:08.3}")
}

/// Paths of one frame's files, relative to the case directory.
pub fn frame_paths(camera_id: &str, time_s: f64) -> (String, String, String) {
    let stem = time_stem(time_s);
    (
        format!("{camera_id}/{stem}.png"),
        format!("{camera_id}/{stem}.depth.png"),
        format!("{camera_id}/{stem}.txt"),
    )
}

/// KITTI depth encoding: metres × 256, rounded, clamped to 1..=65535; 0 where there is no data
/// (sky, or a non-finite depth).
pub fn encode_depth_kitti(depth_m: &[f32]) -> Vec<u16> {
    depth_m
        .iter()
        .map(|&d| {
            if d.is_finite() && d > 0.0 {
                (f64::from(d) * 256.0).round().clamp(1.0, 65535.0) as u16
            } else {
                0
            }
        })
        .collect()
}

/// Depth in metres of a KITTI depth value (`None`: no data).
pub fn decode_depth_kitti(v: u16) -> Option<f64> {
    (v > 0).then(|| f64::from(v) / 256.0)
}

/// The KITTI `type` of a class: its label name with a capital first letter (`Car`,
/// `Overturned_car`).
pub fn kitti_type(class: Class) -> String {
    let name = class.name();
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// KITTI object label text of one frame: one line per visible actor,
/// `type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y`.
pub fn kitti_labels(labels: &[Label]) -> String {
    let mut out = String::new();
    for l in labels {
        let [x1, y1, x2, y2] = l.bbox_px;
        let [h, w, len] = l.dims_m;
        let [x, y, z] = l.location_in_camera_m;
        out.push_str(&format!(
            "{} {:.2} {} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2}\n",
            kitti_type(l.class),
            l.truncated,
            l.kitti_occluded(),
            l.alpha_rad,
            x1,
            y1,
            x2,
            y2,
            h,
            w,
            len,
            x,
            y,
            z,
            l.rotation_y_rad
        ));
    }
    out
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let s = 10f64.powi(decimals);
    let r = (x * s).round() / s;
    if r == 0.0 { 0.0 } else { r }
}

/// The COCO categories: one per [`Class`], with its id.
pub fn coco_categories() -> Value {
    Value::Array(
        Class::ALL
            .iter()
            .map(|c| {
                let sup = match c {
                    Class::Car | Class::Pedestrian | Class::Cyclist | Class::Motorcycle => {
                        "road_user"
                    }
                    _ => "obstacle",
                };
                json!({"id": *c as u32, "name": c.name(), "supercategory": sup})
            })
            .collect(),
    )
}

/// One COCO JSON for all frames of a case. Image ids count from 1 in frame order; annotation
/// ids from 1. `bbox` is `[x, y, w, h]` of the projected box clipped to the image, `area` the
/// actor's visible pixels; extra fields: `visible_fraction`, `distance_m`, `truncated`,
/// `occluded` (KITTI's 0/1/2), `actor_id`, `instance_id`.
pub fn coco(case: &CaseFrames) -> Value {
    let mut images = Vec::new();
    let mut annotations = Vec::new();
    for (i, f) in case.frames.iter().enumerate() {
        let image_id = i + 1;
        let camera = &case.cameras[f.camera_index];
        let (colour, depth, kitti) = frame_paths(&camera.id, f.time_s);
        images.push(json!({
            "id": image_id,
            "file_name": colour,
            "width": f.frame.width_px,
            "height": f.frame.height_px,
            "depth_file": depth,
            "kitti_file": kitti,
            "camera": camera.id,
            "time_s": f.time_s,
            "case_id": case.case_id,
        }));
        for l in &f.labels {
            let [x0, y0, x1, y1] = l.bbox_px;
            annotations.push(json!({
                "id": annotations.len() + 1,
                "image_id": image_id,
                "category_id": l.class as u32,
                "bbox": [round_to(x0, 2), round_to(y0, 2), round_to(x1 - x0, 2), round_to(y1 - y0, 2)],
                "area": l.visible_px,
                "iscrowd": 0,
                "visible_fraction": round_to(l.visible_fraction, 4),
                "distance_m": round_to(l.distance_m, 3),
                "truncated": round_to(l.truncated, 4),
                "occluded": l.kitti_occluded(),
                "actor_id": l.actor_id,
                "instance_id": l.instance,
            }));
        }
    }
    json!({
        "info": {
            "description": format!("Gauntlet render of {}", case.case_id),
            "version": crate::report::HARNESS_VERSION,
            "device": case.device,
        },
        "licenses": [],
        "categories": coco_categories(),
        "images": images,
        "annotations": annotations,
    })
}

/// All frames tiled in a grid (as square as it gets, camera-major order) with a small gap, each
/// scaled down to at most [`SHEET_TILE_MAX_PX`] wide.
pub fn contact_sheet(frames: &[RenderedFrame]) -> image::RgbImage {
    let tiles: Vec<image::RgbImage> = frames.iter().map(|f| scaled_tile(&f.frame)).collect();
    let n = tiles.len().max(1) as u32;
    let cols = (f64::from(n).sqrt().ceil() as u32).max(1);
    let rows = n.div_ceil(cols);
    let tile_w = tiles.iter().map(|t| t.width()).max().unwrap_or(1);
    let tile_h = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let width = cols * tile_w + (cols + 1) * SHEET_GAP_PX;
    let height = rows * tile_h + (rows + 1) * SHEET_GAP_PX;
    let mut sheet = image::RgbImage::from_pixel(width, height, image::Rgb([24, 24, 24]));
    for (i, tile) in tiles.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        let x = SHEET_GAP_PX + c * (tile_w + SHEET_GAP_PX);
        let y = SHEET_GAP_PX + r * (tile_h + SHEET_GAP_PX);
        image::imageops::replace(&mut sheet, tile, i64::from(x), i64::from(y));
    }
    sheet
}

fn scaled_tile(frame: &Frame) -> image::RgbImage {
    let rgb = rgb_image(frame);
    if frame.width_px <= SHEET_TILE_MAX_PX {
        return rgb;
    }
    let h = (u64::from(frame.height_px) * u64::from(SHEET_TILE_MAX_PX))
        .div_ceil(u64::from(frame.width_px))
        .max(1) as u32;
    image::imageops::resize(
        &rgb,
        SHEET_TILE_MAX_PX,
        h,
        image::imageops::FilterType::Triangle,
    )
}

/// The frame's colour without alpha.
pub fn rgb_image(frame: &Frame) -> image::RgbImage {
    let rgb: Vec<u8> = frame
        .rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    image::RgbImage::from_raw(frame.width_px, frame.height_px, rgb)
        .unwrap_or_else(|| image::RgbImage::new(frame.width_px, frame.height_px))
}

/// The frame's depth as a KITTI 16-bit PNG image.
pub fn depth_image(frame: &Frame) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    image::ImageBuffer::from_raw(
        frame.width_px,
        frame.height_px,
        encode_depth_kitti(&frame.depth_m),
    )
    .unwrap_or_else(|| image::ImageBuffer::new(frame.width_px, frame.height_px))
}

fn image_error(e: image::ImageError) -> io::Error {
    io::Error::other(e)
}

fn write_file(dir: &Path, rel: &str, bytes: &[u8], files: &mut Vec<FileEntry>) -> io::Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, bytes)?;
    files.push(FileEntry {
        path: rel.to_string(),
        bytes: bytes.len() as u64,
        fnv1a64: format!("{:016x}", crate::rng::fnv1a64(bytes)),
    });
    Ok(())
}

fn png_bytes<P, C>(img: &image::ImageBuffer<P, C>) -> io::Result<Vec<u8>>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let mut out = io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(image_error)?;
    Ok(out.into_inner())
}

/// Writes every file of a case under `dir`: per camera and time `<camera>/<time>.png` (RGB),
/// `<camera>/<time>.depth.png` (KITTI depth) and `<camera>/<time>.txt` (KITTI labels); then
/// `coco.json` and `contact-sheet.png`. Returns the files written, sorted by path.
pub fn write_case(dir: &Path, case: &CaseFrames) -> io::Result<Vec<FileEntry>> {
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for f in &case.frames {
        let camera = &case.cameras[f.camera_index];
        let (colour, depth, kitti) = frame_paths(&camera.id, f.time_s);
        write_file(dir, &colour, &png_bytes(&rgb_image(&f.frame))?, &mut files)?;
        write_file(dir, &depth, &png_bytes(&depth_image(&f.frame))?, &mut files)?;
        write_file(dir, &kitti, kitti_labels(&f.labels).as_bytes(), &mut files)?;
    }
    let mut coco_text = serde_json::to_string_pretty(&coco(case)).map_err(io::Error::other)?;
    coco_text.push('\n');
    write_file(dir, "coco.json", coco_text.as_bytes(), &mut files)?;
    write_file(
        dir,
        "contact-sheet.png",
        &png_bytes(&contact_sheet(&case.frames))?,
        &mut files,
    )?;
    files.sort();
    Ok(files)
}

/// The directory of a case inside a dataset: its ID as a relative path (`/` nests), with any
/// `.` or `..` part replaced by `_`.
pub fn case_dir(case_id: &str) -> PathBuf {
    case_id
        .split('/')
        .map(|p| {
            if p == "." || p == ".." || p.is_empty() {
                "_"
            } else {
                p
            }
        })
        .collect()
}

/// A camera as the manifest describes it (degrees, as the scenario file writes them, plus the
/// pinhole intrinsics in pixels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestCamera {
    pub id: String,
    pub width_px: u32,
    pub height_px: u32,
    pub hfov_deg: f64,
    pub position_m: [f64; 3],
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    pub k1: f64,
    pub k2: f64,
    /// `fx, fy, cx, cy`, pixels.
    pub intrinsics_px: [f64; 4],
}

impl ManifestCamera {
    pub fn of(c: &Camera) -> ManifestCamera {
        let r = |x: f64| round_to(x, 6);
        let f = r(c.focal_px());
        ManifestCamera {
            id: c.id.clone(),
            width_px: c.width_px,
            height_px: c.height_px,
            hfov_deg: r(c.hfov_rad.to_degrees()),
            position_m: c.position_in_ego_m.map(r),
            yaw_deg: r(c.yaw_rad.to_degrees()),
            pitch_deg: r(c.pitch_rad.to_degrees()),
            roll_deg: r(c.roll_rad.to_degrees()),
            k1: c.k1,
            k2: c.k2,
            intrinsics_px: [
                f,
                f,
                0.5 * f64::from(c.width_px),
                0.5 * f64::from(c.height_px),
            ],
        }
    }
}

/// One frame as the manifest lists it; paths relative to the dataset root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestFrame {
    pub camera: String,
    pub time_s: f64,
    pub image: String,
    /// KITTI depth PNG (16-bit, metres × 256, 0 = no data).
    pub depth: String,
    /// KITTI label text.
    pub kitti: String,
    /// The image's id in the case's `coco` file.
    pub coco_image_id: u64,
}

/// One case of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestCase {
    pub case_id: String,
    pub scenario: String,
    /// The case's directory, relative to the dataset root.
    pub dir: String,
    /// What rendered it.
    pub device: String,
    /// `day` or `night`.
    pub light: String,
    pub sun_elevation_deg: f64,
    pub sun_azimuth_deg: f64,
    pub times_s: Vec<f64>,
    pub cameras: Vec<ManifestCamera>,
    /// The COCO file of the case, relative to the dataset root.
    pub coco: String,
    pub contact_sheet: String,
    pub frames: Vec<ManifestFrame>,
}

/// `manifest.json` of a dataset: every case rendered into it and every file with its size and
/// hash. Cases sorted by ID, files by path, so the same contents give the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `gauntlet-dataset`.
    pub format: String,
    pub manifest_version: u32,
    pub name: String,
    /// Harness version and git commit of the last render into this dataset.
    pub harness_version: String,
    pub git_commit: String,
    /// Every device that rendered a case, sorted.
    pub devices: Vec<String>,
    /// Every scenario file, sorted.
    pub scenarios: Vec<String>,
    /// Class ids and names (as COCO `category_id` and KITTI `type`).
    pub categories: Vec<ManifestCategory>,
    /// Depth PNG encoding.
    pub depth_encoding: String,
    pub cases: Vec<ManifestCase>,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestCategory {
    pub id: u32,
    pub name: String,
    pub kitti_type: String,
}

/// The manifest entry of a case written under `dir` (relative to the dataset root).
pub fn manifest_case(case: &CaseFrames, dir: &str, times_s: &[f64]) -> ManifestCase {
    let join = |rel: &str| format!("{dir}/{rel}");
    ManifestCase {
        case_id: case.case_id.clone(),
        scenario: case.scenario.clone(),
        dir: dir.to_string(),
        device: case.device.clone(),
        light: match case.lighting.light {
            Light::Day => "day",
            Light::Night => "night",
        }
        .into(),
        sun_elevation_deg: round_to(case.lighting.sun_elevation_rad.to_degrees(), 6),
        sun_azimuth_deg: round_to(case.lighting.sun_azimuth_rad.to_degrees(), 6),
        times_s: times_s.to_vec(),
        cameras: case.cameras.iter().map(ManifestCamera::of).collect(),
        coco: join("coco.json"),
        contact_sheet: join("contact-sheet.png"),
        frames: case
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let camera = &case.cameras[f.camera_index].id;
                let (colour, depth, kitti) = frame_paths(camera, f.time_s);
                ManifestFrame {
                    camera: camera.clone(),
                    time_s: f.time_s,
                    image: join(&colour),
                    depth: join(&depth),
                    kitti: join(&kitti),
                    coco_image_id: i as u64 + 1,
                }
            })
            .collect(),
    }
}

/// Errors of reading or writing a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}:{column}: not a Gauntlet dataset manifest: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads `root/manifest.json`; `Ok(None)` when there is none.
pub fn read_manifest(root: &Path) -> Result<Option<Manifest>, ManifestError> {
    let path = root.join("manifest.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ManifestError::Io { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ManifestError::Parse {
            path,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
}

/// Removes the files an earlier render of `case_id` listed in the manifest of the dataset at
/// `root` (so that a case rendered again at fewer times leaves no stale frames). Files of other
/// cases are never touched, even where a case's directory nests inside another's.
pub fn remove_case_files(root: &Path, case_id: &str) -> Result<(), ManifestError> {
    let Some(manifest) = read_manifest(root)? else {
        return Ok(());
    };
    let Some(old) = manifest.cases.iter().find(|c| c.case_id == case_id) else {
        return Ok(());
    };
    let prefix = format!("{}/", old.dir);
    let others: Vec<String> = manifest
        .cases
        .iter()
        .filter(|c| c.case_id != case_id)
        .map(|c| format!("{}/", c.dir))
        .collect();
    for f in &manifest.files {
        let other = others
            .iter()
            .any(|o| o.len() > prefix.len() && f.path.starts_with(o.as_str()));
        if f.path.starts_with(&prefix) && !other {
            let path = root.join(&f.path);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(ManifestError::Io { path, source }),
            }
        }
    }
    Ok(())
}

/// Adds a case (replacing an earlier render of the same case ID and its files) to the manifest
/// of the dataset at `root`, and writes it. `files` are relative to the case's directory.
pub fn update_manifest(
    root: &Path,
    name: &str,
    case: ManifestCase,
    files: &[FileEntry],
) -> Result<Manifest, ManifestError> {
    let mut manifest = read_manifest(root)?.unwrap_or_else(|| Manifest {
        format: "gauntlet-dataset".into(),
        manifest_version: MANIFEST_VERSION,
        name: name.into(),
        harness_version: String::new(),
        git_commit: String::new(),
        devices: Vec::new(),
        scenarios: Vec::new(),
        categories: Vec::new(),
        depth_encoding: String::new(),
        cases: Vec::new(),
        files: Vec::new(),
    });
    let prefix = format!("{}/", case.dir);
    manifest.cases.retain(|c| c.case_id != case.case_id);
    let others: Vec<String> = manifest
        .cases
        .iter()
        .filter(|c| c.case_id != case.case_id)
        .map(|c| format!("{}/", c.dir))
        .collect();
    manifest.files.retain(|f| {
        !f.path.starts_with(&prefix)
            || others
                .iter()
                .any(|o| o.len() > prefix.len() && f.path.starts_with(o.as_str()))
    });
    manifest.files.extend(files.iter().map(|f| FileEntry {
        path: format!("{prefix}{}", f.path),
        ..f.clone()
    }));
    manifest.cases.push(case);
    manifest.cases.sort_by(|a, b| a.case_id.cmp(&b.case_id));
    manifest.files.sort();
    manifest.format = "gauntlet-dataset".into();
    manifest.manifest_version = MANIFEST_VERSION;
    manifest.name = name.into();
    manifest.harness_version = crate::report::HARNESS_VERSION.into();
    manifest.git_commit = env!("GAUNTLET_GIT_COMMIT").into();
    let uniq = |xs: Vec<String>| {
        xs.into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    manifest.devices = uniq(manifest.cases.iter().map(|c| c.device.clone()).collect());
    manifest.scenarios = uniq(manifest.cases.iter().map(|c| c.scenario.clone()).collect());
    manifest.categories = Class::ALL
        .iter()
        .map(|c| ManifestCategory {
            id: *c as u32,
            name: c.name().into(),
            kitti_type: kitti_type(*c),
        })
        .collect();
    manifest.depth_encoding =
        "16-bit grey PNG, value = round(depth along the optical axis in m × 256), 0 = no data"
            .into();
    let path = root.join("manifest.json");
    let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| ManifestError::Parse {
        path: path.clone(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    text.push('\n');
    std::fs::create_dir_all(root)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|source| ManifestError::Io { path, source })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_encoding_round_trips_within_half_a_step_and_marks_no_data() {
        let enc = encode_depth_kitti(&[0.0, 12.34, 300.0, f32::NAN, 1e-5]);
        assert_eq!(enc[0], 0);
        assert_eq!(enc[1], 3159);
        assert!((decode_depth_kitti(enc[1]).unwrap() - 12.34).abs() <= 0.5 / 256.0);
        assert_eq!(enc[2], 65535);
        assert_eq!(enc[3], 0);
        assert_eq!(enc[4], 1);
        assert_eq!(decode_depth_kitti(0), None);
    }

    #[test]
    fn names_sort_by_time_and_case_dirs_stay_inside() {
        assert_eq!(time_stem(2.5), "0002.500");
        assert!(time_stem(9.0) < time_stem(10.0));
        assert_eq!(case_dir("a/../b/x=1"), PathBuf::from("a/_/b/x=1"));
        assert_eq!(kitti_type(Class::OverturnedCar), "Overturned_car");
    }
}
