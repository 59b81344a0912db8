//! Geodesy on the CGCS2000 ellipsoid (BeiDou's frame): geodetic ↔ ECEF ↔ local ENU, azimuth
//! and elevation, time scales (BDT, GPST, UTC).

/// CGCS2000 semi-major axis (m).
pub const CGCS2000_A_M: f64 = 6_378_137.0;
/// CGCS2000 flattening.
pub const CGCS2000_F: f64 = 1.0 / 298.257_222_101;
/// CGCS2000 gravitational constant GM (m³/s²), BDS-OS-ICD.
pub const GM_M3PS2: f64 = 3.986_004_418e14;
/// Earth rotation rate (rad/s), BDS-OS-ICD.
pub const OMEGA_E_RADPS: f64 = 7.292_115_0e-5;
/// Speed of light (m/s).
pub const C_MPS: f64 = 299_792_458.0;
/// Seconds in a week.
pub const WEEK_S: f64 = 604_800.0;
/// BDT − UTC since 2017 (s): BDT = GPST − 14 s and GPST = UTC + 18 s.
pub const BDT_MINUS_UTC_S: f64 = 4.0;

/// A geodetic position: latitude and longitude in radians, height above the ellipsoid in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geodetic {
    pub lat_rad: f64,
    pub lon_rad: f64,
    pub h_m: f64,
}

impl Geodetic {
    pub fn from_deg(lat_deg: f64, lon_deg: f64, h_m: f64) -> Geodetic {
        Geodetic {
            lat_rad: lat_deg.to_radians(),
            lon_rad: lon_deg.to_radians(),
            h_m,
        }
    }
}

/// Geodetic → Earth-centred, Earth-fixed (m).
pub fn ecef_from_geodetic(g: &Geodetic) -> [f64; 3] {
    let e2 = CGCS2000_F * (2.0 - CGCS2000_F);
    let (sin_lat, cos_lat) = g.lat_rad.sin_cos();
    let (sin_lon, cos_lon) = g.lon_rad.sin_cos();
    let n_m = CGCS2000_A_M / (1.0 - e2 * sin_lat * sin_lat).sqrt();
    [
        (n_m + g.h_m) * cos_lat * cos_lon,
        (n_m + g.h_m) * cos_lat * sin_lon,
        (n_m * (1.0 - e2) + g.h_m) * sin_lat,
    ]
}

/// ECEF (m) → geodetic, by fixed-point iteration on the latitude (converges to < 1e-12 rad).
pub fn geodetic_from_ecef(pos_ecef_m: &[f64; 3]) -> Geodetic {
    let e2 = CGCS2000_F * (2.0 - CGCS2000_F);
    let [x, y, z] = *pos_ecef_m;
    let p_m = x.hypot(y);
    if p_m < 1e-9 {
        // On the polar axis (or at the centre): latitude ±90°.
        let b_m = CGCS2000_A_M * (1.0 - CGCS2000_F);
        let lat_rad = if z >= 0.0 {
            std::f64::consts::FRAC_PI_2
        } else {
            -std::f64::consts::FRAC_PI_2
        };
        return Geodetic {
            lat_rad,
            lon_rad: 0.0,
            h_m: z.abs() - b_m,
        };
    }
    let mut lat_rad = z.atan2(p_m * (1.0 - e2));
    let mut h_m = 0.0;
    for _ in 0..8 {
        let sin_lat = lat_rad.sin();
        let n_m = CGCS2000_A_M / (1.0 - e2 * sin_lat * sin_lat).sqrt();
        h_m = p_m / lat_rad.cos() - n_m;
        lat_rad = z.atan2(p_m * (1.0 - e2 * n_m / (n_m + h_m)));
    }
    Geodetic {
        lat_rad,
        lon_rad: y.atan2(x),
        h_m,
    }
}

/// Rows of the rotation `enu_from_ecef` at a site: east, north and up unit vectors in ECEF.
pub fn enu_axes(site: &Geodetic) -> [[f64; 3]; 3] {
    let (sl, cl) = site.lat_rad.sin_cos();
    let (so, co) = site.lon_rad.sin_cos();
    [
        [-so, co, 0.0],
        [-sl * co, -sl * so, cl],
        [cl * co, cl * so, sl],
    ]
}

/// A vector in ECEF (m) expressed in the site's local east-north-up frame.
pub fn enu_from_ecef_vector(site: &Geodetic, d_ecef_m: &[f64; 3]) -> [f64; 3] {
    let axes = enu_axes(site);
    axes.map(|row| row[0] * d_ecef_m[0] + row[1] * d_ecef_m[1] + row[2] * d_ecef_m[2])
}

/// Azimuth (from north, clockwise) and elevation of a satellite seen from a receiver, both in
/// radians; azimuth in [0, 2π).
pub fn azimuth_elevation_rad(
    rx: &Geodetic,
    rx_ecef_m: &[f64; 3],
    sat_ecef_m: &[f64; 3],
) -> (f64, f64) {
    let d = [
        sat_ecef_m[0] - rx_ecef_m[0],
        sat_ecef_m[1] - rx_ecef_m[1],
        sat_ecef_m[2] - rx_ecef_m[2],
    ];
    let [e, n, u] = enu_from_ecef_vector(rx, &d);
    let horiz = e.hypot(n);
    let az = e.atan2(n).rem_euclid(std::f64::consts::TAU);
    (az, u.atan2(horiz))
}

/// Geometric range with the Sagnac (Earth rotation) correction, in metres.
pub fn range_with_sagnac_m(sat_ecef_m: &[f64; 3], rx_ecef_m: &[f64; 3]) -> f64 {
    let d = [
        sat_ecef_m[0] - rx_ecef_m[0],
        sat_ecef_m[1] - rx_ecef_m[1],
        sat_ecef_m[2] - rx_ecef_m[2],
    ];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
        + OMEGA_E_RADPS * (sat_ecef_m[0] * rx_ecef_m[1] - sat_ecef_m[1] * rx_ecef_m[0]) / C_MPS
}

/// A civil date and time of day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CivilTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// Seconds within the minute, fractional.
    pub second: f64,
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date from days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// Days from 1970-01-01 to the BDT epoch, 2006-01-01 00:00:00.
const BDT_EPOCH_DAYS: i64 = 13_149;

/// Seconds since the BDT epoch of a civil time given in BDT.
pub fn bdt_s_from_civil(t: &CivilTime) -> f64 {
    let days = days_from_civil(t.year, t.month, t.day) - BDT_EPOCH_DAYS;
    days as f64 * 86_400.0 + f64::from(t.hour) * 3600.0 + f64::from(t.minute) * 60.0 + t.second
}

/// BDS week and seconds of week of a time in seconds since the BDT epoch.
pub fn bdt_week_sow(t_bdt_s: f64) -> (u32, f64) {
    let week = (t_bdt_s / WEEK_S).floor();
    (week as u32, t_bdt_s - week * WEEK_S)
}

/// UTC civil time of a BDT instant (UTC = BDT − 4 s, valid since 2017).
pub fn utc_from_bdt(t_bdt_s: f64) -> CivilTime {
    let t_utc_s = t_bdt_s - BDT_MINUS_UTC_S;
    let day = (t_utc_s / 86_400.0).floor();
    let sod = t_utc_s - day * 86_400.0;
    let (year, month, d) = civil_from_days(day as i64 + BDT_EPOCH_DAYS);
    let hour = (sod / 3600.0).floor();
    let minute = ((sod - hour * 3600.0) / 60.0).floor();
    CivilTime {
        year,
        month,
        day: d,
        hour: hour as u32,
        minute: minute as u32,
        second: sod - hour * 3600.0 - minute * 60.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecef_round_trip() {
        for (lat, lon, h) in [
            (30.52, 114.36, 40.0),
            (-60.0, -170.0, 1200.0),
            (89.9, 10.0, -20.0),
        ] {
            let g = Geodetic::from_deg(lat, lon, h);
            let back = geodetic_from_ecef(&ecef_from_geodetic(&g));
            assert!((back.lat_rad - g.lat_rad).abs() < 1e-11);
            assert!((back.lon_rad - g.lon_rad).abs() < 1e-11);
            assert!((back.h_m - g.h_m).abs() < 1e-5);
        }
    }

    #[test]
    fn zenith_is_ninety_degrees() {
        let g = Geodetic::from_deg(30.0, 114.0, 0.0);
        let p = ecef_from_geodetic(&g);
        let up = ecef_from_geodetic(&Geodetic { h_m: 20_000e3, ..g });
        let (_, el) = azimuth_elevation_rad(&g, &p, &up);
        assert!((el.to_degrees() - 90.0).abs() < 1e-9);
    }

    #[test]
    fn bdt_epoch_and_week() {
        // 2021-01-01 00:00:00 BDT is BDS week 782, 432000 s of week (Friday).
        let t = bdt_s_from_civil(&CivilTime {
            year: 2021,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0.0,
        });
        let (w, sow) = bdt_week_sow(t);
        assert_eq!(w, 782);
        assert_eq!(sow, 432_000.0);
        let utc = utc_from_bdt(t);
        assert_eq!(
            (utc.year, utc.month, utc.day, utc.hour, utc.minute),
            (2020, 12, 31, 23, 59)
        );
        assert!((utc.second - 56.0).abs() < 1e-9);
    }
}
