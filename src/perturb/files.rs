//! The files of `gauntlet perturb`: finding PNG and JPEG frames under a directory, reading them
//! as RGBA8, writing PNGs under the same relative paths, and the contact sheet (`--grid`).

use std::path::{Path, PathBuf};

/// An image file to perturb: its path and its path relative to the input directory (with `/`
/// separators; it names the frame's random stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputImage {
    pub path: PathBuf,
    pub relative: String,
}

/// Problems with the files of `gauntlet perturb`.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Every PNG and JPEG under `dir` (recursively), sorted by relative path.
pub fn find_images(dir: &Path) -> Result<Vec<InputImage>, FileError> {
    if !dir.is_dir() {
        return Err(FileError::Read {
            path: dir.into(),
            message: "not a directory".into(),
        });
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|e| FileError::Read {
            path: e.path().unwrap_or(dir).into(),
            message: e.to_string(),
        })?;
        if entry.file_type().is_file() && is_image(entry.path()) {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(InputImage {
                path: entry.path().into(),
                relative: rel,
            });
        }
    }
    out.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(out)
}

/// A decoded frame.
#[derive(Clone, Debug)]
pub struct Image {
    pub width_px: u32,
    pub height_px: u32,
    pub rgba: Vec<u8>,
}

/// Reads a PNG or JPEG as RGBA8, checking its size against the engine's limits.
pub fn read_image(path: &Path) -> Result<Image, FileError> {
    let err = |message: String| FileError::Read {
        path: path.into(),
        message,
    };
    let img = image::ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?
        .decode()
        .map_err(|e| err(format!("not a readable PNG or JPEG image ({e})")))?;
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let ok = |v: u32| (super::MIN_FRAME_EDGE_PX..=super::MAX_FRAME_EDGE_PX).contains(&v);
    if !ok(w) || !ok(h) {
        return Err(err(format!(
            "{w}×{h} px; frames must be {} to {} px on each side",
            super::MIN_FRAME_EDGE_PX,
            super::MAX_FRAME_EDGE_PX
        )));
    }
    Ok(Image {
        width_px: w,
        height_px: h,
        rgba: rgba.into_raw(),
    })
}

/// The output path of an input: `out/<relative path with .png>`.
pub fn output_path(out: &Path, relative: &str) -> PathBuf {
    let mut p = out.join(relative);
    p.set_extension("png");
    p
}

/// Writes an RGB PNG (alpha dropped), creating its directory.
pub fn write_png(path: &Path, width_px: u32, height_px: u32, rgba: &[u8]) -> Result<(), FileError> {
    let err = |message: String| FileError::Write {
        path: path.into(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    image::save_buffer(
        path,
        &rgb,
        width_px,
        height_px,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| err(e.to_string()))
}

/// A contact sheet: `rows` rows of `cols` cells, each cell an image scaled (box filter) to
/// `cell_w` pixels wide, separated by 4-pixel gutters. Cells are given row by row.
pub fn contact_sheet(cells: &[Image], cols: usize, cell_w: u32) -> Image {
    let gutter = 4u32;
    let first = &cells[0];
    let cell_h =
        (u64::from(first.height_px) * u64::from(cell_w) / u64::from(first.width_px)).max(1) as u32;
    let rows = cells.len().div_ceil(cols);
    let width = cols as u32 * (cell_w + gutter) + gutter;
    let height = rows as u32 * (cell_h + gutter) + gutter;
    let mut rgba = vec![255u8; (4 * width * height) as usize];
    for (i, cell) in cells.iter().enumerate() {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        let ox = gutter + c * (cell_w + gutter);
        let oy = gutter + r * (cell_h + gutter);
        let src = image::RgbaImage::from_raw(cell.width_px, cell.height_px, cell.rgba.clone())
            .expect("cell pixels match its size");
        let small =
            image::imageops::resize(&src, cell_w, cell_h, image::imageops::FilterType::Triangle);
        for y in 0..cell_h {
            for x in 0..cell_w {
                let p = small.get_pixel(x, y).0;
                let at = (4 * ((oy + y) * width + ox + x)) as usize;
                rgba[at..at + 4].copy_from_slice(&[p[0], p[1], p[2], 255]);
            }
        }
    }
    Image {
        width_px: width,
        height_px: height,
        rgba,
    }
}
