//! The one case the simulation and render benches (and the render probe) measure: Euro NCAP
//! CCRs at 50 km/h, 100 % overlap, from `scenarios/euro-ncap/ccrs.toml`.

use std::path::PathBuf;

use gauntlet::scenario::{self, BuiltCase};

/// CCRs 50 km/h, 100 % overlap: with no intervention it runs 4 s (400 steps of 0.01 s).
pub fn ccrs_50_full_overlap() -> BuiltCase {
    let loaded = scenario::load_paths(&[PathBuf::from("scenarios/euro-ncap/ccrs.toml")]);
    loaded
        .cases
        .iter()
        .find(|c| c.id.ends_with("overlap_pct=100,vut_speed_kph=50"))
        .expect("case")
        .build()
}
