//! Error sources of one pseudorange: broadcast ionosphere (GPS and BDS Klobuchar),
//! Saastamoinen troposphere, code noise, Gauss–Markov processes for correlated errors, and
//! heavy-tailed multipath / NLOS delays. Pure functions; the random draws come from the caller.

use std::f64::consts::PI;

use super::geodesy::C_MPS;

/// BDS B1I carrier frequency (Hz).
pub const F_B1I_HZ: f64 = 1_561.098e6;
/// BDS B1C carrier frequency (Hz).
pub const F_B1C_HZ: f64 = 1_575.42e6;
/// BDS B2a carrier frequency (Hz).
pub const F_B2A_HZ: f64 = 1_176.45e6;
/// BDS B2b carrier frequency (Hz).
pub const F_B2B_HZ: f64 = 1_207.14e6;
/// BDS B3I carrier frequency (Hz).
pub const F_B3I_HZ: f64 = 1_268.52e6;

/// The eight broadcast Klobuchar coefficients (α in s, s/semicircle…; β in s, s/semicircle…).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KlobucharParams {
    pub alpha: [f64; 4],
    pub beta: [f64; 4],
}

impl KlobucharParams {
    /// RTKLIB's GPS defaults, used when a file broadcasts all zeros.
    pub const GPS_RTKLIB_DEFAULT: KlobucharParams = KlobucharParams {
        alpha: [0.1118e-7, -0.7451e-8, -0.5961e-7, 0.1192e-6],
        beta: [0.1167e6, -0.2294e6, -0.1311e6, 0.1049e7],
    };
    /// BDS parameters broadcast on 2021-01-01 (header of `CBW100NLD_R_20210010000_01D_MN.rnx`);
    /// the default of the nominal constellation.
    pub const BDS_2021_001: KlobucharParams = KlobucharParams {
        alpha: [1.1176e-8, 2.9802e-8, -4.1723e-7, 6.5565e-7],
        beta: [1.4131e5, -5.2429e5, 1.6384e6, -4.5875e5],
    };
    /// GPS parameters of the same file.
    pub const GPS_2021_001: KlobucharParams = KlobucharParams {
        alpha: [7.4506e-9, -1.4901e-8, -5.9605e-8, 1.1921e-7],
        beta: [9.0112e4, -6.5536e4, -1.3107e5, 4.5875e5],
    };

    fn is_zero(&self) -> bool {
        self.alpha.iter().chain(self.beta.iter()).all(|v| *v == 0.0)
    }
}

/// GPS L1 Klobuchar delay (m), exactly as RTKLIB 2.4.3 `ionmodel`. `lat_rad`, `lon_rad` of the
/// receiver; `tow_s` GPS time of week.
pub fn klobuchar_gps_m(
    params: &KlobucharParams,
    lat_rad: f64,
    lon_rad: f64,
    azimuth_rad: f64,
    elevation_rad: f64,
    tow_s: f64,
) -> f64 {
    if elevation_rad <= 0.0 {
        return 0.0;
    }
    let p = if params.is_zero() {
        &KlobucharParams::GPS_RTKLIB_DEFAULT
    } else {
        params
    };
    let el_sc = elevation_rad / PI;
    let psi = 0.0137 / (el_sc + 0.11) - 0.022;
    let phi_i = (lat_rad / PI + psi * azimuth_rad.cos()).clamp(-0.416, 0.416);
    let lam_i = lon_rad / PI + psi * azimuth_rad.sin() / (phi_i * PI).cos();
    let phi_m = phi_i + 0.064 * ((lam_i - 1.617) * PI).cos();
    let t_s = (43_200.0 * lam_i + tow_s).rem_euclid(86_400.0);
    let f = 1.0 + 16.0 * (0.53 - el_sc).powi(3);
    let amp = poly3(&p.alpha, phi_m).max(0.0);
    let per = poly3(&p.beta, phi_m).max(72_000.0);
    let x = 2.0 * PI * (t_s - 50_400.0) / per;
    let iz = if x.abs() < 1.57 {
        5e-9 + amp * (1.0 + x * x * (-0.5 + x * x / 24.0))
    } else {
        5e-9
    };
    C_MPS * f * iz
}

fn poly3(c: &[f64; 4], x: f64) -> f64 {
    c[0] + x * (c[1] + x * (c[2] + x * c[3]))
}

/// Intermediate quantities of the BDS Klobuchar model (for tests and documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BdsKlobuchar {
    /// Geographic latitude of the ionospheric pierce point (rad).
    pub pierce_lat_rad: f64,
    /// Amplitude A2 (s).
    pub a2_s: f64,
    /// Period A4 (s).
    pub a4_s: f64,
    /// Obliquity factor F.
    pub obliquity: f64,
    /// Slant delay on B1I (m).
    pub delay_b1i_m: f64,
}

/// BDS B1I Klobuchar delay (BDS-SIS-ICD variant: 375 km shell, geographic pierce latitude).
/// `sow_s` is the BDS second of week.
pub fn klobuchar_bds(
    params: &KlobucharParams,
    lat_rad: f64,
    lon_rad: f64,
    azimuth_rad: f64,
    elevation_rad: f64,
    sow_s: f64,
) -> BdsKlobuchar {
    const R_M: f64 = 6_378e3;
    const H_M: f64 = 375e3;
    let ratio_cos_e = R_M / (R_M + H_M) * elevation_rad.cos();
    let psi = PI / 2.0 - elevation_rad - ratio_cos_e.asin();
    let (sin_psi, cos_psi) = psi.sin_cos();
    let pierce_lat_rad =
        (lat_rad.sin() * cos_psi + lat_rad.cos() * sin_psi * azimuth_rad.cos()).asin();
    let pierce_lon_rad = lon_rad + (sin_psi * azimuth_rad.sin() / pierce_lat_rad.cos()).asin();
    let t_s = (sow_s + pierce_lon_rad * 43_200.0 / PI).rem_euclid(86_400.0);
    let phi_sc = (pierce_lat_rad / PI).abs();
    let a2_s = poly3(&params.alpha, phi_sc).max(0.0);
    let a4_s = poly3(&params.beta, phi_sc).clamp(72_000.0, 172_800.0);
    let iz = if (t_s - 50_400.0).abs() < a4_s / 4.0 {
        5e-9 + a2_s * (2.0 * PI * (t_s - 50_400.0) / a4_s).cos()
    } else {
        5e-9
    };
    let obliquity = 1.0 / (1.0 - ratio_cos_e * ratio_cos_e).sqrt();
    BdsKlobuchar {
        pierce_lat_rad,
        a2_s,
        a4_s,
        obliquity,
        delay_b1i_m: C_MPS * obliquity * iz,
    }
}

/// Scale a B1I ionospheric delay to another carrier: (f_B1I / f)².
pub fn iono_scale_from_b1i(f_hz: f64) -> f64 {
    (F_B1I_HZ / f_hz).powi(2)
}

/// Saastamoinen troposphere delay split into its parts (m).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Troposphere {
    pub dry_m: f64,
    pub wet_m: f64,
}

impl Troposphere {
    pub fn total_m(&self) -> f64 {
        self.dry_m + self.wet_m
    }
}

/// Saastamoinen with the standard atmosphere and 70 % humidity, as RTKLIB `tropmodel`.
pub fn saastamoinen(lat_rad: f64, h_m: f64, elevation_rad: f64) -> Troposphere {
    if !(-100.0..=1e4).contains(&h_m) || elevation_rad <= 0.0 {
        return Troposphere {
            dry_m: 0.0,
            wet_m: 0.0,
        };
    }
    let hgt_m = h_m.max(0.0);
    let pres_hpa = 1013.25 * (1.0 - 2.2557e-5 * hgt_m).powf(5.2568);
    let temp_k = 15.0 - 6.5e-3 * hgt_m + 273.16;
    let e_hpa = 6.108 * 0.7 * ((17.15 * temp_k - 4684.0) / (temp_k - 38.45)).exp();
    let cos_z = (PI / 2.0 - elevation_rad).cos();
    Troposphere {
        dry_m: 0.0022768 * pres_hpa
            / (1.0 - 0.00266 * (2.0 * lat_rad).cos() - 0.00028 * hgt_m / 1e3)
            / cos_z,
        wet_m: 0.002277 * (1255.0 / temp_k + 0.05) * e_hpa / cos_z,
    }
}

/// RTKLIB's error σ of the Saastamoinen model (m): 0.3 / (sin E + 0.1).
pub fn saastamoinen_sigma_m(elevation_rad: f64) -> f64 {
    0.3 / (elevation_rad.sin() + 0.1)
}

/// Code noise σ (m) of RTKLIB `pntpos.c` `varerr`: σ² = 100²·(0.003² + 0.003²/sin E), E ≥ 5°.
pub fn code_sigma_m(elevation_rad: f64) -> f64 {
    let sin_e = elevation_rad.max(5f64.to_radians()).sin();
    100.0 * (0.003f64.powi(2) + 0.003f64.powi(2) / sin_e).sqrt()
}

/// RTK single-difference σ (m) of RTKLIB `rtkpos.c`: σ² = 2(a² + b²/sin²E).
pub fn single_difference_sigma_m(a_m: f64, b_m: f64, elevation_rad: f64) -> f64 {
    let sin_e = elevation_rad.max(5f64.to_radians()).sin();
    (2.0 * (a_m * a_m + b_m * b_m / (sin_e * sin_e))).sqrt()
}

/// A first-order Gauss–Markov process: x[k+1] = φ·x[k] + w, var(w) = σ²(1 − φ²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussMarkov {
    /// Stationary standard deviation.
    pub sigma: f64,
    /// Correlation time (s).
    pub tau_s: f64,
}

impl GaussMarkov {
    /// (φ, σ_w) for a step of `dt_s`.
    pub fn coefficients(&self, dt_s: f64) -> (f64, f64) {
        let phi = (-dt_s / self.tau_s).exp();
        (phi, self.sigma * (1.0 - phi * phi).sqrt())
    }

    /// The next value from the previous one (`None`: start from the stationary distribution)
    /// and a standard normal draw.
    pub fn step(&self, previous: Option<f64>, dt_s: f64, normal: f64) -> f64 {
        match previous {
            None => self.sigma * normal,
            Some(x) => {
                let (phi, sigma_w) = self.coefficients(dt_s);
                phi * x + sigma_w * normal
            }
        }
    }
}

/// Extra path (m) of a signal reflected by a vertical wall at `wall_distance_m` across the
/// street (specular, image method): 2·d·cos E·|cos(azimuth − wall normal)|.
pub fn reflection_extra_path_m(
    wall_distance_m: f64,
    elevation_rad: f64,
    azimuth_from_normal_rad: f64,
) -> f64 {
    2.0 * wall_distance_m * elevation_rad.cos() * azimuth_from_normal_rad.cos().abs()
}

/// A positive, heavy-tailed delay (m): log-normal with median `median_m` and log-σ
/// `log_sigma`, from a standard normal draw. Log-normal has the heavy right tail measured for
/// diffuse multipath and NLOS excess delays.
pub fn lognormal_delay_m(median_m: f64, log_sigma: f64, normal: f64) -> f64 {
    median_m * (log_sigma * normal).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_markov_is_stationary() {
        let gm = GaussMarkov {
            sigma: 2.0,
            tau_s: 10.0,
        };
        let key = crate::rng::StreamKey::new(3, 4, "gm", 0);
        let mut x = None;
        let mut sum2 = 0.0;
        let n = 50_000;
        for k in 0..n {
            let v = gm.step(x, 1.0, key.normal_f64(k, 0));
            sum2 += v * v;
            x = Some(v);
        }
        let sd = (sum2 / f64::from(n)).sqrt();
        assert!((sd - 2.0).abs() < 0.15, "sd {sd}");
    }

    #[test]
    fn reflection_path_is_largest_facing_the_wall() {
        assert!((reflection_extra_path_m(10.0, 0.0, 0.0) - 20.0).abs() < 1e-12);
        assert!(reflection_extra_path_m(10.0, 1.0, 1.5) < 2.0);
    }
}
