//! Satellite positions: the nominal BDS-3 constellation (3 GEO, 3 IGSO, 24 MEO Walker
//! 24/3/1) propagated from orbital elements, and broadcast ephemerides (BDS-SIS-ICD
//! user algorithm, with the GEO rotation).

use std::f64::consts::TAU;

use super::geodesy::{GM_M3PS2, OMEGA_E_RADPS, WEEK_S};

/// The orbit class of a BeiDou satellite (it sets the signal-in-space error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrbitClass {
    Geo,
    Igso,
    Meo,
}

/// Keplerian elements of a nominal satellite at the reference time `t0_bdt_s`, in an inertial
/// frame aligned with ECEF at t0 (so ECEF = R3(ω_E·(t − t0))·inertial).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NominalElements {
    pub semi_major_axis_m: f64,
    pub inclination_rad: f64,
    /// Right ascension of the ascending node at t0, in the frame above.
    pub raan_rad: f64,
    /// Argument of latitude at t0 (circular orbits).
    pub arg_latitude_rad: f64,
}

/// One broadcast BDS ephemeris (D1/D2 navigation message), as read from RINEX.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BroadcastEphemeris {
    pub prn: u8,
    /// Reference time of ephemeris, seconds since the BDT epoch.
    pub toe_bdt_s: f64,
    pub sqrt_a: f64,
    pub e: f64,
    pub i0_rad: f64,
    pub omega0_rad: f64,
    pub omega_rad: f64,
    pub m0_rad: f64,
    pub delta_n_radps: f64,
    pub omega_dot_radps: f64,
    pub idot_radps: f64,
    pub cuc_rad: f64,
    pub cus_rad: f64,
    pub crc_m: f64,
    pub crs_m: f64,
    pub cic_rad: f64,
    pub cis_rad: f64,
    /// Seconds of week of toe (as broadcast).
    pub toe_sow_s: f64,
}

/// How a satellite's position is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Orbit {
    /// Nominal circular orbit from elements.
    Nominal(NominalElements),
    /// A geostationary satellite fixed at a longitude (rad) on the equator.
    Geostationary { lon_rad: f64, radius_m: f64 },
    /// A broadcast ephemeris.
    Broadcast(BroadcastEphemeris),
}

/// A satellite: PRN (C01–C63), orbit class and how to propagate it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Satellite {
    pub prn: u8,
    pub class: OrbitClass,
    pub orbit: Orbit,
}

/// The nominal constellation's reference: the time at which the inertial frame of the elements
/// coincides with ECEF.
#[derive(Clone, Debug, PartialEq)]
pub struct Constellation {
    pub t0_bdt_s: f64,
    pub satellites: Vec<Satellite>,
}

/// MEO semi-major axis (m), BDS-OS-PS-3.0.
pub const MEO_A_M: f64 = 27_906.1e3;
/// Geosynchronous semi-major axis (m): 35,786 km altitude + 6,378 km.
pub const GEO_A_M: f64 = 42_164.2e3;

/// PRNs of the 24 MEO satellites of BDS-3 (C19–C30, C32–C37, C41–C46).
const MEO_PRNS: [u8; 24] = [
    19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
];

/// The nominal BDS-3 constellation at `t0_bdt_s`:
/// - GEO C59, C60, C61 at 80°E, 110.5°E, 140°E;
/// - IGSO C38, C39, C40: inclination 55°, three planes 120° apart in right ascension, phased so
///   that all three follow one ground track whose node crossing is at 118°E;
/// - MEO Walker 24/3/1: three planes 120° apart, 8 satellites 45° apart per plane, adjacent
///   planes phased by F·360°/24 = 15°, inclination 55°, a = 27,906.1 km.
///
/// The phase of the whole constellation at t0 is a choice (plane 1's node at 0° in the inertial
/// frame aligned with ECEF at t0); the geometry statistics over a day do not depend on it.
pub fn nominal_bds3(t0_bdt_s: f64) -> Constellation {
    let mut satellites = Vec::with_capacity(30);
    for (prn, lon_deg) in [(59u8, 80.0f64), (60, 110.5), (61, 140.0)] {
        satellites.push(Satellite {
            prn,
            class: OrbitClass::Geo,
            orbit: Orbit::Geostationary {
                lon_rad: lon_deg.to_radians(),
                radius_m: GEO_A_M,
            },
        });
    }
    // IGSO k crosses the ascending node at 118°E at time k·T_sid/3 after t0: in the inertial
    // frame its node is then at 118° + ω_E·t_k, and its argument of latitude at t0 is −n·t_k.
    let n_geo = (GM_M3PS2 / GEO_A_M.powi(3)).sqrt();
    for (k, prn) in [38u8, 39, 40].into_iter().enumerate() {
        let t_k = k as f64 * TAU / n_geo / 3.0;
        satellites.push(Satellite {
            prn,
            class: OrbitClass::Igso,
            orbit: Orbit::Nominal(NominalElements {
                semi_major_axis_m: GEO_A_M,
                inclination_rad: 55f64.to_radians(),
                raan_rad: 118f64.to_radians() + OMEGA_E_RADPS * t_k,
                arg_latitude_rad: -n_geo * t_k,
            }),
        });
    }
    for (idx, prn) in MEO_PRNS.into_iter().enumerate() {
        let plane = idx / 8;
        let slot = idx % 8;
        satellites.push(Satellite {
            prn,
            class: OrbitClass::Meo,
            orbit: Orbit::Nominal(NominalElements {
                semi_major_axis_m: MEO_A_M,
                inclination_rad: 55f64.to_radians(),
                raan_rad: (plane as f64 * 120.0).to_radians(),
                arg_latitude_rad: (slot as f64 * 45.0 + plane as f64 * 15.0).to_radians(),
            }),
        });
    }
    Constellation {
        t0_bdt_s,
        satellites,
    }
}

impl Satellite {
    /// ECEF position (m) at `t_bdt_s`; `t0_bdt_s` is the constellation's reference time (used
    /// only by nominal orbits).
    pub fn position_ecef_m(&self, t_bdt_s: f64, t0_bdt_s: f64) -> [f64; 3] {
        match &self.orbit {
            Orbit::Geostationary { lon_rad, radius_m } => {
                [radius_m * lon_rad.cos(), radius_m * lon_rad.sin(), 0.0]
            }
            Orbit::Nominal(el) => nominal_position_ecef_m(el, t_bdt_s - t0_bdt_s),
            Orbit::Broadcast(eph) => broadcast_position_ecef_m(eph, t_bdt_s),
        }
    }
}

/// Position of a nominal circular orbit `dt_s` after its reference time.
pub fn nominal_position_ecef_m(el: &NominalElements, dt_s: f64) -> [f64; 3] {
    let n = (GM_M3PS2 / el.semi_major_axis_m.powi(3)).sqrt();
    let u = el.arg_latitude_rad + n * dt_s;
    // Node longitude in ECEF: inertial node minus Earth rotation since t0.
    let node = el.raan_rad - OMEGA_E_RADPS * dt_s;
    orbital_plane_to_ecef(
        el.semi_major_axis_m * u.cos(),
        el.semi_major_axis_m * u.sin(),
        el.inclination_rad,
        node,
    )
}

fn orbital_plane_to_ecef(xp: f64, yp: f64, i_rad: f64, node_rad: f64) -> [f64; 3] {
    let (sin_o, cos_o) = node_rad.sin_cos();
    let (sin_i, cos_i) = i_rad.sin_cos();
    [
        xp * cos_o - yp * cos_i * sin_o,
        xp * sin_o + yp * cos_i * cos_o,
        yp * sin_i,
    ]
}

/// Whether a BDS PRN is a GEO satellite (BDS-2 C01–C05, BDS-3 C59–C63), as RTKLIB decides.
pub fn is_geo_prn(prn: u8) -> bool {
    prn <= 5 || prn >= 59
}

/// ECEF position (m) from a broadcast BDS ephemeris (BDS-SIS-ICD-B1I 3.0 §5.2.4.12).
pub fn broadcast_position_ecef_m(eph: &BroadcastEphemeris, t_bdt_s: f64) -> [f64; 3] {
    let a_m = eph.sqrt_a * eph.sqrt_a;
    let tk_s = {
        let mut tk = t_bdt_s - eph.toe_bdt_s;
        // Week crossover, as the ICD prescribes.
        if tk > WEEK_S / 2.0 {
            tk -= WEEK_S;
        } else if tk < -WEEK_S / 2.0 {
            tk += WEEK_S;
        }
        tk
    };
    let n = (GM_M3PS2 / a_m.powi(3)).sqrt() + eph.delta_n_radps;
    let m = eph.m0_rad + n * tk_s;
    let mut ecc_anom = m;
    for _ in 0..30 {
        let next = m + eph.e * ecc_anom.sin();
        if (next - ecc_anom).abs() < 1e-14 {
            ecc_anom = next;
            break;
        }
        ecc_anom = next;
    }
    let (sin_e, cos_e) = ecc_anom.sin_cos();
    let nu = ((1.0 - eph.e * eph.e).sqrt() * sin_e).atan2(cos_e - eph.e);
    let phi = nu + eph.omega_rad;
    let (sin2p, cos2p) = (2.0 * phi).sin_cos();
    let u = phi + eph.cus_rad * sin2p + eph.cuc_rad * cos2p;
    let r = a_m * (1.0 - eph.e * cos_e) + eph.crs_m * sin2p + eph.crc_m * cos2p;
    let i = eph.i0_rad + eph.idot_radps * tk_s + eph.cis_rad * sin2p + eph.cic_rad * cos2p;
    let (xp, yp) = (r * u.cos(), r * u.sin());
    if is_geo_prn(eph.prn) {
        // GEO: positions in the user-defined inertial system, then rotate by −5° about X and
        // by ω_E·tk about Z.
        let node = eph.omega0_rad + eph.omega_dot_radps * tk_s - OMEGA_E_RADPS * eph.toe_sow_s;
        let g = orbital_plane_to_ecef(xp, yp, i, node);
        let (sin5, cos5) = (-5f64.to_radians()).sin_cos();
        let rx = [g[0], cos5 * g[1] + sin5 * g[2], -sin5 * g[1] + cos5 * g[2]];
        let (sz, cz) = (OMEGA_E_RADPS * tk_s).sin_cos();
        [cz * rx[0] + sz * rx[1], -sz * rx[0] + cz * rx[1], rx[2]]
    } else {
        let node = eph.omega0_rad + (eph.omega_dot_radps - OMEGA_E_RADPS) * tk_s
            - OMEGA_E_RADPS * eph.toe_sow_s;
        orbital_plane_to_ecef(xp, yp, i, node)
    }
}

/// Orbit class of a broadcast ephemeris from its semi-major axis and inclination.
pub fn class_of(eph: &BroadcastEphemeris) -> OrbitClass {
    let a_m = eph.sqrt_a * eph.sqrt_a;
    if a_m < 35_000e3 {
        OrbitClass::Meo
    } else if eph.i0_rad.abs() < 0.2 || is_geo_prn(eph.prn) {
        OrbitClass::Geo
    } else {
        OrbitClass::Igso
    }
}

/// The MEO orbital period (s) of the nominal constellation.
pub fn meo_period_s() -> f64 {
    TAU / (GM_M3PS2 / MEO_A_M.powi(3)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnss::geodesy::{Geodetic, geodetic_from_ecef};

    fn norm(v: [f64; 3]) -> f64 {
        (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
    }

    #[test]
    fn nominal_constellation_shape() {
        let c = nominal_bds3(0.0);
        assert_eq!(c.satellites.len(), 30);
        // MEO period ≈ 12.887 h.
        assert!(
            (meo_period_s() / 3600.0 - 12.887).abs() < 0.01,
            "{}",
            meo_period_s() / 3600.0
        );
        for s in &c.satellites {
            let p = s.position_ecef_m(3600.0, 0.0);
            let r = norm(p);
            let expect = if s.class == OrbitClass::Meo {
                MEO_A_M
            } else {
                GEO_A_M
            };
            assert!((r - expect).abs() < 1.0);
        }
    }

    #[test]
    fn igso_crosses_the_equator_at_118e() {
        let c = nominal_bds3(0.0);
        for s in c.satellites.iter().filter(|s| s.class == OrbitClass::Igso) {
            // Scan a sidereal day for the ascending node crossing.
            let mut prev = s.position_ecef_m(0.0, 0.0);
            for k in 1..=86_164 {
                let p = s.position_ecef_m(f64::from(k), 0.0);
                if prev[2] < 0.0 && p[2] >= 0.0 {
                    let g: Geodetic = geodetic_from_ecef(&p);
                    assert!(
                        (g.lon_rad.to_degrees() - 118.0).abs() < 0.05,
                        "prn {} {}",
                        s.prn,
                        g.lon_rad.to_degrees()
                    );
                }
                prev = p;
            }
        }
    }
}
