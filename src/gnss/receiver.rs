//! Receivers: weighted least-squares single-point positioning (SPP) with DOPs and protection
//! levels, and the statistical profiles driven by the same visibility (PPP-B2B convergence,
//! RTK fixed/float with time to fix, dead reckoning through outages).

use nalgebra::{Matrix3, Matrix4, Vector4};

use super::geodesy::{Geodetic, enu_axes, geodetic_from_ecef, range_with_sagnac_m};

/// One pseudorange as the positioning engine receives it: satellite position, pseudorange
/// after the receiver's own corrections (satellite clock, broadcast ionosphere, troposphere),
/// and its σ from the receiver's error model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub sat_pos_ecef_m: [f64; 3],
    pub pseudorange_m: f64,
    pub sigma_m: f64,
}

/// Dilutions of precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dops {
    pub gdop: f64,
    pub pdop: f64,
    pub hdop: f64,
    pub vdop: f64,
}

/// Protection-level multipliers: HPL = k_h · (major semi-axis of the horizontal error
/// ellipse), VPL = k_v · σ_up. The defaults are RTCA DO-229's precision-approach factors
/// (6.0 and 5.33): with a σ model that overbounds the errors, the error exceeds the PL on at
/// most ~1e-7 of epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProtectionConfig {
    pub k_h: f64,
    pub k_v: f64,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        ProtectionConfig {
            k_h: 6.0,
            k_v: 5.33,
        }
    }
}

/// An SPP solution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SppSolution {
    pub pos_ecef_m: [f64; 3],
    /// Receiver clock bias (m).
    pub clock_bias_m: f64,
    pub dops: Dops,
    /// Position covariance in the local ENU frame (m²) from the weighted normal equations.
    pub cov_enu_m2: [[f64; 3]; 3],
    pub hpl_m: f64,
    pub vpl_m: f64,
    pub n_used: usize,
    pub iterations: usize,
    /// Σ (residual/σ)² at the solution, and the index of the largest normalised residual.
    pub weighted_sse: f64,
    pub worst_index: usize,
    /// Observations excluded by fault detection and exclusion (indices into the input).
    pub n_excluded: usize,
}

/// Why no SPP solution came out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SppError {
    #[error("{0} satellites: at least 4 are needed")]
    TooFewSatellites(usize),
    #[error("singular geometry")]
    Singular,
    #[error("no convergence after {0} iterations")]
    NoConvergence(usize),
}

/// Weighted least squares on pseudoranges (Gauss–Newton), starting from `initial`
/// (x, y, z, clock bias in m; zeros work, the previous fix converges in 2–3 iterations).
pub fn solve_spp(
    obs: &[Observation],
    initial: [f64; 4],
    pl: &ProtectionConfig,
) -> Result<SppSolution, SppError> {
    if obs.len() < 4 {
        return Err(SppError::TooFewSatellites(obs.len()));
    }
    let mut x = Vector4::from(initial);
    const MAX_ITER: usize = 12;
    for iter in 1..=MAX_ITER {
        let rx = [x[0], x[1], x[2]];
        let mut n = Matrix4::<f64>::zeros();
        let mut b = Vector4::<f64>::zeros();
        for o in obs {
            let d = [
                o.sat_pos_ecef_m[0] - rx[0],
                o.sat_pos_ecef_m[1] - rx[1],
                o.sat_pos_ecef_m[2] - rx[2],
            ];
            let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            let h = Vector4::new(-d[0] / r, -d[1] / r, -d[2] / r, 1.0);
            let v = o.pseudorange_m - (range_with_sagnac_m(&o.sat_pos_ecef_m, &rx) + x[3]);
            let w = 1.0 / (o.sigma_m * o.sigma_m);
            n += h * h.transpose() * w;
            b += h * (w * v);
        }
        let chol = n.cholesky().ok_or(SppError::Singular)?;
        let dx = chol.solve(&b);
        x += dx;
        if dx.fixed_rows::<3>(0).norm() < 1e-4 {
            let q = chol.inverse();
            let pos = [x[0], x[1], x[2]];
            let g = geodetic_from_ecef(&pos);
            let axes = enu_axes(&g);
            let r = Matrix3::from_fn(|i, j| axes[i][j]);
            let q_pos = q.fixed_view::<3, 3>(0, 0).into_owned();
            let cov = r * q_pos * r.transpose();
            let (hpl_m, vpl_m) = protection_levels(&cov, pl);
            let dops = dops_at(&g, &pos, obs.iter().map(|o| &o.sat_pos_ecef_m))
                .ok_or(SppError::Singular)?;
            let mut weighted_sse = 0.0;
            let mut worst = (0, 0.0);
            for (k, o) in obs.iter().enumerate() {
                let z = (o.pseudorange_m - (range_with_sagnac_m(&o.sat_pos_ecef_m, &pos) + x[3]))
                    / o.sigma_m;
                weighted_sse += z * z;
                if z.abs() > worst.1 {
                    worst = (k, z.abs());
                }
            }
            return Ok(SppSolution {
                pos_ecef_m: pos,
                clock_bias_m: x[3],
                dops,
                cov_enu_m2: [
                    [cov[(0, 0)], cov[(0, 1)], cov[(0, 2)]],
                    [cov[(1, 0)], cov[(1, 1)], cov[(1, 2)]],
                    [cov[(2, 0)], cov[(2, 1)], cov[(2, 2)]],
                ],
                hpl_m,
                vpl_m,
                n_used: obs.len(),
                iterations: iter,
                weighted_sse,
                worst_index: worst.0,
                n_excluded: 0,
            });
        }
    }
    Err(SppError::NoConvergence(MAX_ITER))
}

/// Fault detection and exclusion (receiver autonomous integrity monitoring, RAIM-FDE): a
/// χ² test on the weighted residuals with false-alarm probability `p_fa`; while it fails and
/// more than `min_remaining` satellites are left, the satellite with the largest normalised
/// residual is excluded and the solution recomputed (at most `max_exclusions`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FdeConfig {
    /// Standard normal quantile of the false-alarm probability (3.09: p_fa = 1e-3).
    pub z_fa: f64,
    pub max_exclusions: usize,
    pub min_remaining: usize,
}

impl Default for FdeConfig {
    fn default() -> Self {
        FdeConfig {
            z_fa: 3.09,
            max_exclusions: 4,
            min_remaining: 5,
        }
    }
}

/// χ² quantile with `dof` degrees of freedom at the normal quantile `z` (Wilson–Hilferty).
pub fn chi2_quantile(dof: usize, z: f64) -> f64 {
    let k = dof as f64;
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

/// [`solve_spp`] with fault detection and exclusion.
pub fn solve_spp_fde(
    obs: &[Observation],
    initial: [f64; 4],
    pl: &ProtectionConfig,
    fde: &FdeConfig,
) -> Result<SppSolution, SppError> {
    let mut sol = solve_spp(obs, initial, pl)?;
    if sol.n_used <= 4 || sol.weighted_sse <= chi2_quantile(sol.n_used - 4, fde.z_fa) {
        return Ok(sol);
    }
    let mut kept: Vec<Observation> = obs.to_vec();
    for n_excluded in 1..=fde.max_exclusions {
        if kept.len() <= fde.min_remaining {
            break;
        }
        kept.remove(sol.worst_index);
        sol = solve_spp(&kept, initial, pl)?;
        sol.n_excluded = n_excluded;
        if sol.weighted_sse <= chi2_quantile(sol.n_used - 4, fde.z_fa) {
            break;
        }
    }
    Ok(sol)
}

/// HPL and VPL from an ENU covariance.
pub fn protection_levels(cov_enu: &Matrix3<f64>, pl: &ProtectionConfig) -> (f64, f64) {
    let (dee, dnn, den) = (cov_enu[(0, 0)], cov_enu[(1, 1)], cov_enu[(0, 1)]);
    let d_major = ((dee + dnn) / 2.0 + (((dee - dnn) / 2.0).powi(2) + den * den).sqrt()).sqrt();
    (pl.k_h * d_major, pl.k_v * cov_enu[(2, 2)].max(0.0).sqrt())
}

fn dops_at<'a>(
    site: &Geodetic,
    pos_ecef_m: &[f64; 3],
    sats: impl Iterator<Item = &'a [f64; 3]>,
) -> Option<Dops> {
    let az_el = sats.map(|s| super::geodesy::azimuth_elevation_rad(site, pos_ecef_m, s));
    dops_from_azimuth_elevation(az_el)
}

/// DOPs of a geometry given as (azimuth, elevation) pairs in radians (unweighted, ENU).
pub fn dops_from_azimuth_elevation(az_el: impl Iterator<Item = (f64, f64)>) -> Option<Dops> {
    let mut n = Matrix4::<f64>::zeros();
    for (az, el) in az_el {
        let (sa, ca) = az.sin_cos();
        let (se, ce) = el.sin_cos();
        let h = Vector4::new(-ce * sa, -ce * ca, -se, 1.0);
        n += h * h.transpose();
    }
    let q = n.try_inverse()?;
    Some(Dops {
        gdop: q.trace().sqrt(),
        pdop: (q[(0, 0)] + q[(1, 1)] + q[(2, 2)]).sqrt(),
        hdop: (q[(0, 0)] + q[(1, 1)]).sqrt(),
        vdop: q[(2, 2)].sqrt(),
    })
}

/// PPP-B2B convergence: the error σ per axis decays from the SPP level to the converged level,
/// σ(t) = σ_conv + (σ_0 − σ_conv)·exp(−t/τ). Defaults: converged 0.075 m horizontal per axis
/// and 0.14 m up (95 % ≈ 0.18 m H, 0.27 m V, inside the measured < 0.20 m / < 0.35 m), start
/// 1.0 m / 1.5 m, τ = 330 s (within 0.2 m 95 % H after ≈ 28 min, the measured BDS-only
/// convergence).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PppConfig {
    pub converged_sigma_h_m: f64,
    pub converged_sigma_v_m: f64,
    pub initial_sigma_h_m: f64,
    pub initial_sigma_v_m: f64,
    pub convergence_tau_s: f64,
    /// Correlation time of the remaining error (s).
    pub error_tau_s: f64,
    /// An outage longer than this restarts convergence (s).
    pub reconvergence_after_outage_s: f64,
    /// Satellites needed.
    pub min_sats: usize,
    /// Rate (per second) of events that restart convergence while tracking (cycle slips on
    /// most satellites at once, NLOS-corrupted ambiguities): 0 in open sky.
    pub restart_rate_per_s: f64,
    /// Converged σ multiplier for the environment's multipath.
    pub multipath_factor: f64,
}

impl PppConfig {
    /// Defaults by environment (our choice, no measured source: canyons restart convergence
    /// every few minutes and triple the converged error).
    pub fn for_environment(kind: super::environment::EnvironmentKind) -> PppConfig {
        use super::environment::EnvironmentKind as K;
        let (restart_rate_per_s, multipath_factor) = match kind {
            K::OpenSky | K::Tunnel => (0.0, 1.0),
            K::Suburban => (1.0 / 1800.0, 1.5),
            K::UrbanCanyon => (1.0 / 300.0, 3.0),
        };
        PppConfig {
            restart_rate_per_s,
            multipath_factor,
            ..PppConfig::default()
        }
    }
}

impl Default for PppConfig {
    fn default() -> Self {
        PppConfig {
            converged_sigma_h_m: 0.075,
            converged_sigma_v_m: 0.14,
            initial_sigma_h_m: 1.0,
            initial_sigma_v_m: 1.5,
            convergence_tau_s: 330.0,
            error_tau_s: 300.0,
            reconvergence_after_outage_s: 5.0,
            min_sats: 5,
            restart_rate_per_s: 0.0,
            multipath_factor: 1.0,
        }
    }
}

impl PppConfig {
    /// (σ_h per axis, σ_v) after `t_s` of convergence.
    pub fn sigma_m(&self, t_s: f64) -> (f64, f64) {
        let k = (-t_s / self.convergence_tau_s).exp();
        let (ch, cv) = (
            self.converged_sigma_h_m * self.multipath_factor,
            self.converged_sigma_v_m * self.multipath_factor,
        );
        (
            ch + (self.initial_sigma_h_m - ch).max(0.0) * k,
            cv + (self.initial_sigma_v_m - cv).max(0.0) * k,
        )
    }
}

/// RTK statistical profile. Fixed: per-axis σ = HDOP/VDOP-scaled phase single-difference σ
/// (RTKLIB: a = b = 3 mm) — centimetres. Float: decimetres, shrinking while the ambiguities
/// converge. Time to fix: log-normal with a median per environment; fix lost when fewer than
/// `min_sats` are tracked or on a cycle slip (rate per second per environment).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RtkConfig {
    pub phase_a_m: f64,
    pub phase_b_m: f64,
    pub float_sigma_start_m: f64,
    pub float_sigma_end_m: f64,
    pub float_tau_s: f64,
    pub ttf_median_s: f64,
    pub ttf_log_sigma: f64,
    pub slip_rate_per_s: f64,
    pub error_tau_s: f64,
    pub min_sats: usize,
}

impl RtkConfig {
    /// Defaults by environment: the more multipath, the longer to fix and the more slips.
    pub fn for_environment(kind: super::environment::EnvironmentKind) -> RtkConfig {
        use super::environment::EnvironmentKind as K;
        let (ttf_median_s, slip_rate_per_s) = match kind {
            K::OpenSky | K::Tunnel => (8.0, 1.0 / 3600.0),
            K::Suburban => (20.0, 1.0 / 600.0),
            K::UrbanCanyon => (60.0, 1.0 / 120.0),
        };
        RtkConfig {
            phase_a_m: 0.003,
            phase_b_m: 0.003,
            float_sigma_start_m: 0.6,
            float_sigma_end_m: 0.15,
            float_tau_s: 60.0,
            ttf_median_s,
            ttf_log_sigma: 0.7,
            slip_rate_per_s,
            error_tau_s: 30.0,
            min_sats: 5,
        }
    }
}

/// Dead reckoning (odometry + gyro) through an outage: the horizontal error grows as
/// e(t) = e0 + v·t + ½·a·t² with per-outage random v (m/s) and a (m/s²) of the given σ per
/// axis; vertical as the horizontal σ × `vertical_ratio`. Gives up after `max_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeadReckoningConfig {
    pub velocity_sigma_mps: f64,
    pub accel_sigma_mps2: f64,
    pub vertical_ratio: f64,
    pub max_s: f64,
}

impl Default for DeadReckoningConfig {
    fn default() -> Self {
        DeadReckoningConfig {
            velocity_sigma_mps: 0.05,
            accel_sigma_mps2: 0.004,
            vertical_ratio: 0.5,
            max_s: 120.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_quantile_is_close_to_tables() {
        // χ²(0.999) for 1 and 10 degrees of freedom: 10.83 and 29.59.
        assert!((chi2_quantile(10, 3.09) - 29.59).abs() < 0.3);
        assert!((chi2_quantile(1, 3.09) - 10.83).abs() < 0.6);
    }

    #[test]
    fn ppp_converges() {
        let c = PppConfig::default();
        assert!(c.sigma_m(0.0).0 > 0.9);
        assert!(c.sigma_m(1680.0).0 * 2.45 < 0.2);
    }
}
