//! The frames `benches/perturb.rs` measures and `examples/perturb_probe.rs` times: the sample
//! dataset's rendered frames scaled to the size, and one batch of them under one chain.

use std::path::PathBuf;

use gauntlet::perturb::{FrameIn, FrameKey, Perturbation, files};

/// `n` frames of the sample dataset at `w`×`h` (its first 8 colour frames in turn).
pub fn frames(n: usize, w: u32, h: u32) -> Vec<files::Image> {
    let all = files::find_images(&PathBuf::from("datasets/sample")).expect("sample dataset");
    let sources: Vec<files::Image> = all
        .iter()
        .filter(|i| !i.relative.contains("depth") && !i.relative.contains("contact"))
        .take(8)
        .map(|i| {
            let img = files::read_image(&i.path).expect("sample frame");
            let src = image::RgbaImage::from_raw(img.width_px, img.height_px, img.rgba)
                .expect("a whole frame");
            let scaled = image::imageops::resize(&src, w, h, image::imageops::FilterType::Triangle);
            files::Image {
                width_px: w,
                height_px: h,
                rgba: scaled.into_raw(),
            }
        })
        .collect();
    (0..n).map(|i| sources[i % sources.len()].clone()).collect()
}

/// Every image under `chain`, each with its key (seed 0).
pub fn batch<'a>(
    images: &'a [files::Image],
    keys: &'a [String],
    chain: &'a [Perturbation],
) -> Vec<FrameIn<'a>> {
    images
        .iter()
        .zip(keys)
        .map(|(img, key)| FrameIn {
            width_px: img.width_px,
            height_px: img.height_px,
            rgba: &img.rgba,
            depth_m: None,
            chain,
            key: FrameKey::new(0, key),
        })
        .collect()
}

/// The keys [`batch`] takes: `{prefix}/0.png`, `{prefix}/1.png`, …
pub fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}/{i}.png")).collect()
}
