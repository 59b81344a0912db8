//! Reception environments: what the antenna sees of each satellite. Open sky; suburban
//! (trees and low buildings in some directions); an urban canyon (buildings of a given height
//! along a street of a given width → an elevation mask per azimuth, with reflections off the
//! opposite façade received as non-line-of-sight signals); and a road with periodic tunnels
//! (total blockage).

use std::f64::consts::{FRAC_PI_2, PI};

use super::errors::reflection_extra_path_m;

/// The environments `gauntlet gnss --environment` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvironmentKind {
    OpenSky,
    Suburban,
    UrbanCanyon,
    Tunnel,
}

impl EnvironmentKind {
    pub const NAMES: [&'static str; 4] = ["open-sky", "suburban", "urban-canyon", "tunnel"];

    pub fn parse(s: &str) -> Option<EnvironmentKind> {
        match s {
            "open-sky" => Some(EnvironmentKind::OpenSky),
            "suburban" => Some(EnvironmentKind::Suburban),
            "urban-canyon" => Some(EnvironmentKind::UrbanCanyon),
            "tunnel" => Some(EnvironmentKind::Tunnel),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EnvironmentKind::OpenSky => "open-sky",
            EnvironmentKind::Suburban => "suburban",
            EnvironmentKind::UrbanCanyon => "urban-canyon",
            EnvironmentKind::Tunnel => "tunnel",
        }
    }
}

/// A street between two rows of buildings; the receiver is on the street's centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Canyon {
    pub building_height_m: f64,
    pub street_width_m: f64,
    /// Direction of the street (from north, clockwise).
    pub street_azimuth_rad: f64,
    /// Antenna height above the street (m).
    pub antenna_height_m: f64,
    /// Share of the street's sides lined by façades (1: a continuous canyon; suburban rows of
    /// houses with gaps less). Façades stand in the 30° azimuth sectors that
    /// [`sector_has_facade`] picks.
    pub facade_coverage: f64,
}

/// Whether the 30° azimuth sector holding `azimuth_rad` has a façade, for a coverage share:
/// a fixed permutation of the 12 sectors (k·5 mod 12) spreads the gaps around the horizon.
pub fn sector_has_facade(azimuth_rad: f64, coverage: f64) -> bool {
    let k = ((azimuth_rad.rem_euclid(std::f64::consts::TAU) / (PI / 6.0)) as usize).min(11);
    (((k * 5) % 12) as f64) < coverage * 12.0
}

/// Periodic total blockage: a tunnel passage of `length_s` every `period_s`, the first one
/// starting at `first_entry_s` after the start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tunnels {
    pub period_s: f64,
    pub length_s: f64,
    pub first_entry_s: f64,
}

/// Multipath and NLOS magnitudes of an environment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultipathConfig {
    /// σ of line-of-sight multipath at zenith (m); it grows as 1/sin E.
    pub los_sigma_zenith_m: f64,
    /// Correlation time of multipath (s).
    pub tau_s: f64,
    /// Probability that a masked satellite above 5° is received by a diffuse reflection
    /// (besides geometric specular reflections), drawn per satellite per `nlos_block_s`.
    pub diffuse_nlos_probability: f64,
    /// Median (m) and log-σ of the heavy-tailed diffuse part of an NLOS delay.
    pub nlos_median_m: f64,
    pub nlos_log_sigma: f64,
}

/// An environment: elevation mask, obstacles and multipath.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    pub kind: EnvironmentKind,
    pub elevation_mask_rad: f64,
    pub canyon: Option<Canyon>,
    pub tunnels: Option<Tunnels>,
    pub multipath: MultipathConfig,
}

/// How a satellite's signal reaches the antenna.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reception {
    Blocked,
    LineOfSight,
    /// Only a reflection arrives; its geometric extra path (m), 0 for a diffuse reflection whose
    /// delay is drawn.
    Nlos {
        extra_path_m: f64,
    },
}

/// Length of the blocks within which a satellite's diffuse-NLOS state is held (s).
pub const NLOS_BLOCK_S: f64 = 60.0;

impl Environment {
    /// The default set-up of each kind.
    pub fn preset(kind: EnvironmentKind) -> Environment {
        let open = MultipathConfig {
            los_sigma_zenith_m: 0.15,
            tau_s: 15.0,
            diffuse_nlos_probability: 0.0,
            nlos_median_m: 0.0,
            nlos_log_sigma: 0.0,
        };
        let mask = 10f64.to_radians();
        match kind {
            EnvironmentKind::OpenSky => Environment {
                kind,
                elevation_mask_rad: mask,
                canyon: None,
                tunnels: None,
                multipath: open,
            },
            EnvironmentKind::Suburban => Environment {
                kind,
                elevation_mask_rad: mask,
                // Low buildings (10 m) 12 m from the road's centre line.
                canyon: Some(Canyon {
                    building_height_m: 10.0,
                    street_width_m: 24.0,
                    street_azimuth_rad: 0.0,
                    antenna_height_m: 1.5,
                    facade_coverage: 0.5,
                }),
                tunnels: None,
                multipath: MultipathConfig {
                    los_sigma_zenith_m: 0.4,
                    tau_s: 10.0,
                    diffuse_nlos_probability: 0.2,
                    nlos_median_m: 3.0,
                    nlos_log_sigma: 0.8,
                },
            },
            EnvironmentKind::UrbanCanyon => Environment {
                kind,
                elevation_mask_rad: mask,
                // 30 m buildings on a 20 m street running north–south.
                canyon: Some(Canyon {
                    building_height_m: 30.0,
                    street_width_m: 20.0,
                    street_azimuth_rad: 0.0,
                    antenna_height_m: 1.5,
                    facade_coverage: 1.0,
                }),
                tunnels: None,
                multipath: MultipathConfig {
                    los_sigma_zenith_m: 0.8,
                    tau_s: 5.0,
                    diffuse_nlos_probability: 0.4,
                    nlos_median_m: 5.0,
                    nlos_log_sigma: 1.0,
                },
            },
            EnvironmentKind::Tunnel => Environment {
                kind,
                elevation_mask_rad: mask,
                canyon: None,
                tunnels: Some(Tunnels {
                    period_s: 300.0,
                    length_s: 30.0,
                    first_entry_s: 120.0,
                }),
                multipath: open,
            },
        }
    }

    /// Whether the receiver is inside a tunnel `t_s` after the start.
    pub fn in_tunnel(&self, t_s: f64) -> bool {
        self.tunnels.is_some_and(|tn| {
            let since = t_s - tn.first_entry_s;
            since >= 0.0 && since.rem_euclid(tn.period_s) < tn.length_s
        })
    }

    /// The building mask (rad) at an azimuth: 0 without buildings.
    pub fn building_mask_rad(&self, azimuth_rad: f64) -> f64 {
        match self.canyon {
            None => 0.0,
            Some(c) if !sector_has_facade(azimuth_rad, c.facade_coverage) => 0.0,
            Some(c) => {
                let across = (azimuth_rad - c.street_azimuth_rad).sin().abs();
                // Horizontal distance to the façade along this azimuth is (W/2)/|sin Δaz|.
                ((c.building_height_m - c.antenna_height_m) * across).atan2(c.street_width_m / 2.0)
            }
        }
    }

    /// How a satellite at (azimuth, elevation) is received `t_s` after the start.
    /// `diffuse_draw` is a uniform number held per satellite per [`NLOS_BLOCK_S`].
    pub fn reception(
        &self,
        t_s: f64,
        azimuth_rad: f64,
        elevation_rad: f64,
        diffuse_draw: f64,
    ) -> Reception {
        if elevation_rad < self.elevation_mask_rad || self.in_tunnel(t_s) {
            return Reception::Blocked;
        }
        let mask_rad = self.building_mask_rad(azimuth_rad);
        if elevation_rad >= mask_rad {
            return Reception::LineOfSight;
        }
        let Some(c) = self.canyon else {
            return Reception::LineOfSight;
        };
        // Specular reflection off the opposite façade: in the vertical plane across the street
        // the ray meets the opposite wall at height (W/2)·tan E⊥ above the antenna, which must be
        // below its roof, and must have cleared the near roof, W further on: 1.5·W·tan E⊥ ≥ H.
        let across = (azimuth_rad - c.street_azimuth_rad).sin().abs().max(1e-9);
        let tan_perp = elevation_rad.tan() / across;
        let h_m = c.building_height_m - c.antenna_height_m;
        let extra_path_m = reflection_extra_path_m(
            c.street_width_m / 2.0,
            elevation_rad,
            FRAC_PI_2 - (azimuth_rad - c.street_azimuth_rad).rem_euclid(PI),
        );
        let opposite_facade = sector_has_facade(azimuth_rad + PI, c.facade_coverage);
        if opposite_facade
            && tan_perp * c.street_width_m / 2.0 <= h_m
            && tan_perp * 1.5 * c.street_width_m >= h_m
        {
            return Reception::Nlos { extra_path_m };
        }
        if diffuse_draw < self.multipath.diffuse_nlos_probability {
            return Reception::Nlos { extra_path_m: 0.0 };
        }
        Reception::Blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canyon_mask_is_high_across_the_street_and_zero_along_it() {
        let env = Environment::preset(EnvironmentKind::UrbanCanyon);
        assert!(env.building_mask_rad(0.0) < 1e-9);
        // Across: atan(28.5 / 10) ≈ 70.7°.
        assert!((env.building_mask_rad(FRAC_PI_2).to_degrees() - 70.67).abs() < 0.1);
        assert_eq!(env.reception(0.0, FRAC_PI_2, 0.5, 1.0), Reception::Blocked);
        assert_eq!(env.reception(0.0, 0.0, 0.5, 1.0), Reception::LineOfSight);
        // 60° across the street: the reflection off the opposite façade arrives.
        assert!(
            matches!(env.reception(0.0, FRAC_PI_2, 60f64.to_radians(), 1.0), Reception::Nlos { extra_path_m } if extra_path_m > 0.0)
        );
    }

    #[test]
    fn tunnels_block_everything_periodically() {
        let env = Environment::preset(EnvironmentKind::Tunnel);
        assert!(!env.in_tunnel(119.0));
        assert!(env.in_tunnel(120.0) && env.in_tunnel(149.9));
        assert!(!env.in_tunnel(150.0));
        assert!(env.in_tunnel(420.0));
        assert_eq!(env.reception(130.0, 0.0, 1.5, 0.0), Reception::Blocked);
    }
}
