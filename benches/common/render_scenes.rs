//! The frames `benches/render.rs` measures and `examples/render_probe.rs` times: a day CCRs
//! approach (CCRs 50 km/h, 100 % overlap, the target in view) at successive times.

use gauntlet::render::scene::{FrameScene, build_frame, test_driver_states};
use gauntlet::render::{Camera, Lighting};

#[path = "ccrs_case.rs"]
mod ccrs_case;
use ccrs_case::ccrs_50_full_overlap;

/// `n` frames of the CCRs 50 km/h, 100 % overlap case, spread over its 4 s approach.
pub fn scenes(n: usize, width_px: u32, height_px: u32) -> Vec<FrameScene> {
    let case = ccrs_50_full_overlap();
    let times: Vec<f64> = (0..n).map(|i| 3.9 * i as f64 / n as f64).collect();
    let camera = Camera {
        width_px,
        height_px,
        ..Camera::front(case.model.ego.length_m)
    };
    test_driver_states(&case.model, &case.id, &times)
        .iter()
        .map(|s| build_frame(&case.model, &Lighting::default(), &camera, s))
        .collect()
}
