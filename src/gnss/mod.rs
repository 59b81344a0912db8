//! BeiDou positioning model: satellites (nominal BDS-3 or broadcast ephemerides), error
//! sources per satellite and epoch, reception environments and receiver profiles, stepped one
//! epoch at a time with the receiver's true position as an input (so a moving receiver is a
//! caller that passes a different position each epoch). No I/O; every random number comes
//! from `rng.rs`, keyed by (seed, case, stream, epoch, satellite), so the result does not
//! depend on threads or on which other receivers are simulated.
//!
//! Random streams (`StreamKey::new(seed, case_hash, NAME, run_index)`, step = epoch index,
//! element = PRN unless said otherwise):
//! - `gnss/sise`: signal-in-space error (Gauss–Markov per satellite);
//! - `gnss/iono`: per-satellite ionosphere factor; element 0: the regional common factor;
//! - `gnss/tropo`: element 0: zenith troposphere residual;
//! - `gnss/code`: thermal code noise (white);
//! - `gnss/multipath`: line-of-sight multipath (Gauss–Markov);
//! - `gnss/nlos`: the diffuse NLOS delay's log-normal driver (Gauss–Markov);
//! - `gnss/nlos-state`: step = index of the 60 s block: whether a masked satellite is
//!   received by a diffuse reflection;
//! - `gnss/reacq`: reacquisition delay of a satellite; element 0: the navigation delay after a
//!   total outage;
//! - `gnss/clock`: element 0: initial bias and drift (step 0), drift random walk;
//! - `gnss/ppp`, `gnss/rtk`: elements 0, 1, 2: east/north/up error drivers; element 3:
//!   convergence restarts / cycle slips; `gnss/rtk` element 4: time to fix;
//! - `gnss/dr`: step = epoch where the outage began, elements 0–5: velocity and acceleration
//!   error per axis.

pub mod environment;
pub mod errors;
pub mod geodesy;
pub mod nmea;
pub mod orbits;
pub mod receiver;
pub mod rinex;

use std::fmt::Write as _;

use crate::rng::{StreamKey, fnv1a64};
use environment::{Environment, EnvironmentKind, NLOS_BLOCK_S, Reception};
use errors::{
    GaussMarkov, KlobucharParams, code_sigma_m, klobuchar_bds, lognormal_delay_m, saastamoinen,
    saastamoinen_sigma_m, single_difference_sigma_m,
};
use geodesy::{
    C_MPS, Geodetic, WEEK_S, azimuth_elevation_rad, ecef_from_geodetic, enu_axes,
    enu_from_ecef_vector, geodetic_from_ecef, range_with_sagnac_m,
};
use orbits::{BroadcastEphemeris, Constellation, OrbitClass, Satellite, class_of};
use receiver::{
    DeadReckoningConfig, Dops, FdeConfig, Observation, PppConfig, ProtectionConfig, RtkConfig,
    solve_spp_fde,
};

/// Receiver profiles of `gauntlet gnss --profile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Spp,
    Sbas,
    PppB2b,
    Rtk,
}

impl Profile {
    pub const NAMES: [&'static str; 4] = ["spp", "sbas", "ppp-b2b", "rtk"];

    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "spp" => Some(Profile::Spp),
            "sbas" => Some(Profile::Sbas),
            "ppp-b2b" => Some(Profile::PppB2b),
            "rtk" => Some(Profile::Rtk),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Spp => "spp",
            Profile::Sbas => "sbas",
            Profile::PppB2b => "ppp-b2b",
            Profile::Rtk => "rtk",
        }
    }
}

/// The kind of a fix, as the CSV's `fix_type` column writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FixType {
    None,
    Spp,
    Sbas,
    Ppp,
    RtkFloat,
    RtkFixed,
    DeadReckoning,
}

impl FixType {
    pub const ALL: [FixType; 7] = [
        FixType::None,
        FixType::Spp,
        FixType::Sbas,
        FixType::Ppp,
        FixType::RtkFloat,
        FixType::RtkFixed,
        FixType::DeadReckoning,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FixType::None => "none",
            FixType::Spp => "spp",
            FixType::Sbas => "sbas",
            FixType::Ppp => "ppp",
            FixType::RtkFloat => "rtk-float",
            FixType::RtkFixed => "rtk-fixed",
            FixType::DeadReckoning => "dr",
        }
    }

    /// NMEA GGA quality (PPP is reported as float, quality 5, as many PPP receivers do).
    pub fn nmea_quality(self) -> nmea::Quality {
        match self {
            FixType::None => nmea::Quality::NoFix,
            FixType::Spp => nmea::Quality::Autonomous,
            FixType::Sbas => nmea::Quality::Differential,
            FixType::Ppp | FixType::RtkFloat => nmea::Quality::RtkFloat,
            FixType::RtkFixed => nmea::Quality::RtkFixed,
            FixType::DeadReckoning => nmea::Quality::DeadReckoning,
        }
    }
}

/// Magnitudes of the error sources. Gauss–Markov processes marked "unit" are scaled where used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorModel {
    /// Signal-in-space range error σ (m) for GEO, IGSO, MEO, and its correlation time.
    pub sise_sigma_geo_m: f64,
    pub sise_sigma_igso_m: f64,
    pub sise_sigma_meo_m: f64,
    pub sise_tau_s: f64,
    /// The true ionosphere is model × (1 + common + per-satellite): σ of the two fractions and
    /// their correlation time.
    pub iono_common_fraction_sigma: f64,
    pub iono_sat_fraction_sigma: f64,
    pub iono_tau_s: f64,
    /// Zenith troposphere residual after Saastamoinen (m) and its correlation time.
    pub tropo_zenith_sigma_m: f64,
    pub tropo_tau_s: f64,
    /// Thermal code noise = this × RTKLIB's code σ (1.0: as RTKLIB models it).
    pub code_noise_scale: f64,
    /// Receiver clock: initial bias uniform in ±this (s), initial drift σ (m/s), drift random
    /// walk (m/s per √s).
    pub clock_bias_max_s: f64,
    pub clock_drift_sigma_mps: f64,
    pub clock_drift_walk_mps_per_sqrt_s: f64,
    /// Reacquisition: delay after a brief masking (≤ `brief_mask_s`) and the range (uniform)
    /// after a longer one; navigation delay (uniform range) before the first fix after a total
    /// outage.
    pub reacq_brief_s: f64,
    pub brief_mask_s: f64,
    pub reacq_long_s: (f64, f64),
    pub first_fix_delay_s: (f64, f64),
    /// SBAS residuals: vertical ionosphere σ (m, scaled by the obliquity) and SISE σ (m).
    pub sbas_iono_vertical_sigma_m: f64,
    pub sbas_sise_sigma_m: f64,
}

impl Default for ErrorModel {
    fn default() -> Self {
        ErrorModel {
            sise_sigma_geo_m: 0.6,
            sise_sigma_igso_m: 0.45,
            sise_sigma_meo_m: 0.35,
            sise_tau_s: 600.0,
            iono_common_fraction_sigma: 0.2,
            iono_sat_fraction_sigma: 0.2,
            iono_tau_s: 1800.0,
            tropo_zenith_sigma_m: 0.04,
            tropo_tau_s: 3600.0,
            code_noise_scale: 1.0,
            clock_bias_max_s: 1e-3,
            clock_drift_sigma_mps: 1.0,
            clock_drift_walk_mps_per_sqrt_s: 0.01,
            reacq_brief_s: 0.3,
            brief_mask_s: 2.0,
            reacq_long_s: (2.0, 3.0),
            first_fix_delay_s: (1.0, 2.0),
            sbas_iono_vertical_sigma_m: 0.35,
            sbas_sise_sigma_m: 0.2,
        }
    }
}

impl ErrorModel {
    fn sise_sigma_m(&self, class: OrbitClass) -> f64 {
        match class {
            OrbitClass::Geo => self.sise_sigma_geo_m,
            OrbitClass::Igso => self.sise_sigma_igso_m,
            OrbitClass::Meo => self.sise_sigma_meo_m,
        }
    }
}

/// Where satellite positions come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Ephemeris {
    Nominal(Constellation),
    /// Broadcast ephemerides; at each epoch each PRN uses the record with the nearest toe
    /// within `max_age_s`.
    Broadcast {
        records: Vec<BroadcastEphemeris>,
        max_age_s: f64,
    },
}

/// Everything a simulation needs, settled before it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct GnssConfig {
    pub profile: Profile,
    pub environment: Environment,
    /// Start time (s since the BDT epoch).
    pub start_bdt_s: f64,
    /// Epochs per second.
    pub rate_hz: f64,
    pub seed: u64,
    /// FNV-1a 64 of the case ID (the CLI uses `gnss`).
    pub case_hash: u64,
    /// The repeat index of the run within its case (0 for the CLI and the first run).
    pub run_index: u32,
    pub ephemeris: Ephemeris,
    /// Broadcast BDS Klobuchar parameters (the receiver's model, and the centre of the truth).
    pub klobuchar: KlobucharParams,
    pub errors: ErrorModel,
    pub protection: ProtectionConfig,
    /// Fault detection and exclusion in SPP/SBAS; `None`: all tracked satellites are used.
    pub fde: Option<FdeConfig>,
    pub ppp: PppConfig,
    pub rtk: RtkConfig,
    /// Dead reckoning through outages; `None`: no position during outages.
    pub dead_reckoning: Option<DeadReckoningConfig>,
}

/// The default site: Wuhan, a mid-latitude site in China (30.52°N, 114.36°E, 40 m).
pub fn default_site() -> Geodetic {
    Geodetic::from_deg(30.52, 114.36, 40.0)
}

/// 2021-01-01 00:00:00 BDT (BDS week 782, 432000 s), the default start.
pub const DEFAULT_START_BDT_S: f64 = 782.0 * WEEK_S + 432_000.0;

impl GnssConfig {
    /// Defaults for a profile and environment: nominal constellation, 1 Hz, seed 0.
    pub fn new(profile: Profile, environment: EnvironmentKind) -> GnssConfig {
        GnssConfig {
            profile,
            environment: Environment::preset(environment),
            start_bdt_s: DEFAULT_START_BDT_S,
            rate_hz: 1.0,
            seed: 0,
            case_hash: fnv1a64(b"gnss"),
            run_index: 0,
            ephemeris: Ephemeris::Nominal(orbits::nominal_bds3(DEFAULT_START_BDT_S)),
            klobuchar: KlobucharParams::BDS_2021_001,
            errors: ErrorModel::default(),
            protection: ProtectionConfig::default(),
            fde: Some(FdeConfig::default()),
            ppp: PppConfig::for_environment(environment),
            rtk: RtkConfig::for_environment(environment),
            dead_reckoning: Some(DeadReckoningConfig::default()),
        }
    }
}

/// One satellite as seen in one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SatView {
    pub prn: u8,
    pub azimuth_rad: f64,
    pub elevation_rad: f64,
    pub reception: Reception,
    /// Tracked and used in the solution.
    pub used: bool,
    pub cn0_dbhz: f64,
}

/// A position fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fix {
    pub fix_type: FixType,
    pub pos: Geodetic,
    /// Error (fix − truth) in the truth's ENU frame (m).
    pub err_enu_m: [f64; 3],
    pub hpl_m: f64,
    pub vpl_m: f64,
    pub n_sats: usize,
    /// DOPs of the tracked satellites (`None` with fewer than 4).
    pub dops: Option<Dops>,
}

impl Fix {
    pub fn horiz_err_m(&self) -> f64 {
        self.err_enu_m[0].hypot(self.err_enu_m[1])
    }
}

/// The result of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochResult {
    /// Seconds since the start.
    pub t_s: f64,
    pub t_bdt_s: f64,
    pub truth: Geodetic,
    pub fix: Option<Fix>,
    pub sats: Vec<SatView>,
    /// DOPs of the tracked satellites, also when no fix came out.
    pub dops: Option<Dops>,
}

#[derive(Clone, Copy, Debug, Default)]
struct SatState {
    sise: Option<f64>,
    iono: Option<f64>,
    multipath: Option<f64>,
    nlos: Option<f64>,
    /// Received (LOS or NLOS) at the previous epoch.
    received: bool,
    /// When the current masking began.
    masked_since_s: Option<f64>,
    /// Tracking (re)starts at this time.
    tracking_from_s: f64,
}

#[derive(Clone, Copy, Debug)]
enum RtkState {
    Off,
    Float { since_s: f64, ttf_s: f64 },
    Fixed,
}

#[derive(Clone, Copy, Debug)]
struct DrState {
    start_s: f64,
    start_epoch: u32,
    err0_enu_m: [f64; 3],
    sigma0_h_m: f64,
}

struct Keys {
    sise: StreamKey,
    iono: StreamKey,
    tropo: StreamKey,
    code: StreamKey,
    multipath: StreamKey,
    nlos: StreamKey,
    nlos_state: StreamKey,
    reacq: StreamKey,
    clock: StreamKey,
    ppp: StreamKey,
    rtk: StreamKey,
    dr: StreamKey,
}

/// The simulation of one receiver, stepped one epoch at a time.
pub struct Simulator {
    pub config: GnssConfig,
    keys: Keys,
    sats: Vec<SatState>,
    iono_common: Option<f64>,
    tropo_zenith: Option<f64>,
    clock_bias_m: f64,
    clock_drift_mps: f64,
    last_t_s: Option<f64>,
    last_solution: Option<[f64; 4]>,
    /// Time at which the navigation may fix again after a total outage.
    nav_ready_s: f64,
    outage_total: bool,
    ppp_since_s: Option<f64>,
    ppp_err: [Option<f64>; 3],
    rtk_state: RtkState,
    rtk_err: [Option<f64>; 3],
    last_gnss_fix: Option<(f64, [f64; 3], f64)>,
    dr: Option<DrState>,
    broadcast_by_prn: Vec<Vec<BroadcastEphemeris>>,
    last_obs: Vec<Observation>,
}

impl Simulator {
    pub fn new(config: GnssConfig) -> Simulator {
        let k = |name: &str| StreamKey::new(config.seed, config.case_hash, name, config.run_index);
        let keys = Keys {
            sise: k("gnss/sise"),
            iono: k("gnss/iono"),
            tropo: k("gnss/tropo"),
            code: k("gnss/code"),
            multipath: k("gnss/multipath"),
            nlos: k("gnss/nlos"),
            nlos_state: k("gnss/nlos-state"),
            reacq: k("gnss/reacq"),
            clock: k("gnss/clock"),
            ppp: k("gnss/ppp"),
            rtk: k("gnss/rtk"),
            dr: k("gnss/dr"),
        };
        let w = keys.clock.words(0, 0);
        let u = f64::from(w[0]) / 4_294_967_296.0;
        let clock_bias_m = (2.0 * u - 1.0) * config.errors.clock_bias_max_s * C_MPS;
        let clock_drift_mps =
            keys.clock.normal_pair_f64(0, 1).0 * config.errors.clock_drift_sigma_mps;
        let mut broadcast_by_prn = vec![Vec::new(); 64];
        if let Ephemeris::Broadcast { records, .. } = &config.ephemeris {
            for r in records {
                broadcast_by_prn[usize::from(r.prn.min(63))].push(*r);
            }
            for v in &mut broadcast_by_prn {
                v.sort_by(|a, b| a.toe_bdt_s.total_cmp(&b.toe_bdt_s));
            }
        }
        Simulator {
            config,
            keys,
            sats: vec![SatState::default(); 64],
            iono_common: None,
            tropo_zenith: None,
            clock_bias_m,
            clock_drift_mps,
            last_t_s: None,
            last_solution: None,
            nav_ready_s: 0.0,
            outage_total: false,
            ppp_since_s: None,
            ppp_err: [None; 3],
            rtk_state: RtkState::Off,
            rtk_err: [None; 3],
            last_gnss_fix: None,
            dr: None,
            broadcast_by_prn,
            last_obs: Vec::new(),
        }
    }

    /// The corrected pseudoranges of the last epoch, as the positioning engine received them
    /// (for benchmarks and diagnostics).
    pub fn last_observations(&self) -> Option<&[Observation]> {
        (!self.last_obs.is_empty()).then_some(self.last_obs.as_slice())
    }

    /// The last SPP solution (x, y, z, clock bias in m).
    pub fn last_solution(&self) -> Option<[f64; 4]> {
        self.last_solution
    }

    /// Satellites (PRN, class, ECEF position) at a time.
    fn satellites_at(&self, t_bdt_s: f64) -> Vec<(u8, OrbitClass, [f64; 3])> {
        match &self.config.ephemeris {
            Ephemeris::Nominal(c) => c
                .satellites
                .iter()
                .map(|s: &Satellite| (s.prn, s.class, s.position_ecef_m(t_bdt_s, c.t0_bdt_s)))
                .collect(),
            Ephemeris::Broadcast { max_age_s, .. } => self
                .broadcast_by_prn
                .iter()
                .filter_map(|recs| {
                    let best = recs.iter().min_by(|a, b| {
                        (a.toe_bdt_s - t_bdt_s)
                            .abs()
                            .total_cmp(&(b.toe_bdt_s - t_bdt_s).abs())
                    })?;
                    ((best.toe_bdt_s - t_bdt_s).abs() <= *max_age_s).then(|| {
                        (
                            best.prn,
                            class_of(best),
                            orbits::broadcast_position_ecef_m(best, t_bdt_s),
                        )
                    })
                })
                .collect(),
        }
    }

    /// Simulate the epoch at `t_bdt_s` for a receiver whose true position is `truth`.
    /// Epochs must come in increasing time order.
    pub fn step(&mut self, t_bdt_s: f64, truth: &Geodetic) -> EpochResult {
        let cfg = &self.config;
        let em = cfg.errors;
        let t_s = t_bdt_s - cfg.start_bdt_s;
        let epoch = (t_s * cfg.rate_hz).round().max(0.0) as u32;
        let dt_s = self.last_t_s.map_or(0.0, |p| t_s - p);
        let first = self.last_t_s.is_none();
        let truth_ecef_m = ecef_from_geodetic(truth);
        let sow_s = t_bdt_s.rem_euclid(WEEK_S);
        let keys = &self.keys;

        // Receiver clock.
        if !first {
            self.clock_bias_m += self.clock_drift_mps * dt_s;
            self.clock_drift_mps +=
                em.clock_drift_walk_mps_per_sqrt_s * dt_s.sqrt() * keys.clock.normal_f64(epoch, 0);
        }
        // Common processes.
        let gm = |sigma, tau_s| GaussMarkov { sigma, tau_s };
        let unit_iono = gm(1.0, em.iono_tau_s);
        self.iono_common =
            Some(unit_iono.step(self.iono_common, dt_s, keys.iono.normal_f64(epoch, 0)));
        self.tropo_zenith = Some(gm(em.tropo_zenith_sigma_m, em.tropo_tau_s).step(
            self.tropo_zenith,
            dt_s,
            keys.tropo.normal_f64(epoch, 0),
        ));
        let iono_common = self.iono_common.unwrap_or(0.0);
        let tropo_zenith_resid_m = self.tropo_zenith.unwrap_or(0.0);
        let tropo_zenith_model_m =
            saastamoinen(truth.lat_rad, truth.h_m, std::f64::consts::FRAC_PI_2).total_m();
        let env = cfg.environment;
        let nlos_block = (t_s / NLOS_BLOCK_S).floor().max(0.0) as u32;

        let mut views = Vec::new();
        let mut obs = Vec::new();
        for (prn, class, sat_ecef_m) in self.satellites_at(t_bdt_s) {
            let st = &mut self.sats[usize::from(prn)];
            let element = u32::from(prn);
            let (az, el) = azimuth_elevation_rad(truth, &truth_ecef_m, &sat_ecef_m);
            if el <= 0.0 {
                *st = SatState::default();
                continue;
            }
            let sise_sigma_m = em.sise_sigma_m(class);
            st.sise = Some(gm(1.0, em.sise_tau_s).step(
                st.sise,
                dt_s,
                keys.sise.normal_f64(epoch, element),
            ));
            st.iono = Some(unit_iono.step(st.iono, dt_s, keys.iono.normal_f64(epoch, element)));
            let reception = env.reception(
                t_s,
                az,
                el,
                keys.nlos_state.uniform_f64(nlos_block, element),
            );
            // Reacquisition after masking.
            let received = reception != Reception::Blocked;
            if received && !st.received {
                let delay_s = match st.masked_since_s {
                    None if first => 0.0,
                    Some(since) if t_s - since <= em.brief_mask_s => em.reacq_brief_s,
                    _ => {
                        let u = keys.reacq.uniform_f64(epoch, element);
                        em.reacq_long_s.0 + u * (em.reacq_long_s.1 - em.reacq_long_s.0)
                    }
                };
                st.tracking_from_s = t_s + delay_s;
                st.masked_since_s = None;
            } else if !received && (st.received || st.masked_since_s.is_none()) {
                st.masked_since_s = Some(t_s);
            }
            st.received = received;
            let tracked = received && t_s >= st.tracking_from_s - 1e-9;
            let sin_e = el.sin().max(5f64.to_radians().sin());
            st.multipath = Some(gm(1.0, env.multipath.tau_s).step(
                st.multipath,
                dt_s,
                keys.multipath.normal_f64(epoch, element),
            ));
            st.nlos = Some(gm(1.0, env.multipath.tau_s).step(
                st.nlos,
                dt_s,
                keys.nlos.normal_f64(epoch, element),
            ));
            let nlos_delay_m = match reception {
                Reception::Nlos { extra_path_m } => {
                    extra_path_m
                        + lognormal_delay_m(
                            env.multipath.nlos_median_m,
                            env.multipath.nlos_log_sigma,
                            st.nlos.unwrap_or(0.0),
                        )
                }
                _ => 0.0,
            };
            let cn0_dbhz = 35.0 + 15.0 * el.sin() - if nlos_delay_m > 0.0 { 8.0 } else { 0.0 };
            views.push(SatView {
                prn,
                azimuth_rad: az,
                elevation_rad: el,
                reception,
                used: tracked,
                cn0_dbhz,
            });
            if !tracked {
                continue;
            }
            // The pseudorange as it arrives.
            let iono_model_m =
                klobuchar_bds(&cfg.klobuchar, truth.lat_rad, truth.lon_rad, az, el, sow_s)
                    .delay_b1i_m;
            let iono_fraction = em.iono_common_fraction_sigma * iono_common
                + em.iono_sat_fraction_sigma * st.iono.unwrap_or(0.0);
            let iono_true_m = (iono_model_m * (1.0 + iono_fraction)).max(0.0);
            let tropo = saastamoinen(truth.lat_rad, truth.h_m, el).total_m();
            let tropo_true_m = tropo + tropo_zenith_resid_m * tropo / tropo_zenith_model_m;
            let sise_m = sise_sigma_m * st.sise.unwrap_or(0.0);
            let code_m =
                em.code_noise_scale * code_sigma_m(el) * keys.code.normal_f64(epoch, element);
            let multipath_m =
                env.multipath.los_sigma_zenith_m / sin_e * st.multipath.unwrap_or(0.0);
            let pseudorange_m = range_with_sagnac_m(&sat_ecef_m, &truth_ecef_m)
                + self.clock_bias_m
                + iono_true_m
                + tropo_true_m
                + sise_m
                + code_m
                + multipath_m
                + nlos_delay_m;
            // The receiver's corrections and σ model.
            let obliquity = iono_model_m
                / klobuchar_bds(
                    &cfg.klobuchar,
                    truth.lat_rad,
                    truth.lon_rad,
                    az,
                    std::f64::consts::FRAC_PI_2,
                    sow_s,
                )
                .delay_b1i_m
                .max(1e-9);
            let (corrected_m, iono_var_m2, sise_var_m2) = match cfg.profile {
                Profile::Sbas => {
                    // BDSBAS: grid ionosphere and clock/orbit corrections; what remains is the
                    // corrections' own error, drawn from the same drivers.
                    let iono_resid_m = obliquity
                        * em.sbas_iono_vertical_sigma_m
                        * (0.6 * iono_common + 0.8 * st.iono.unwrap_or(0.0));
                    let sise_resid_m = em.sbas_sise_sigma_m * st.sise.unwrap_or(0.0);
                    (
                        pseudorange_m
                            - (iono_true_m - iono_resid_m)
                            - tropo
                            - (sise_m - sise_resid_m),
                        (obliquity * 2.0 * em.sbas_iono_vertical_sigma_m).powi(2),
                        (2.0 * em.sbas_sise_sigma_m).powi(2),
                    )
                }
                _ => (
                    pseudorange_m - iono_model_m - tropo,
                    (0.5 * iono_model_m).powi(2),
                    sise_sigma_m.powi(2),
                ),
            };
            let sigma_m = (code_sigma_m(el).powi(2)
                + iono_var_m2
                + sise_var_m2
                + saastamoinen_sigma_m(el).powi(2) * 0.25)
                .sqrt();
            obs.push(Observation {
                sat_pos_ecef_m: sat_ecef_m,
                pseudorange_m: corrected_m,
                sigma_m,
            });
        }
        self.last_t_s = Some(t_s);

        let n_tracked = obs.len();
        // Total outage → the navigation needs a moment once enough satellites are back.
        if n_tracked == 0 {
            self.outage_total = true;
        } else if self.outage_total && n_tracked >= 4 {
            self.outage_total = false;
            let u = keys.reacq.uniform_f64(epoch, 0);
            self.nav_ready_s = t_s
                + em.first_fix_delay_s.0
                + u * (em.first_fix_delay_s.1 - em.first_fix_delay_s.0);
        }
        let nav_ready = !self.outage_total && t_s >= self.nav_ready_s - 1e-9;
        let initial = self.last_solution.unwrap_or([0.0; 4]);
        let no_fde = FdeConfig {
            max_exclusions: 0,
            ..FdeConfig::default()
        };
        let spp = if nav_ready {
            solve_spp_fde(
                &obs,
                initial,
                &cfg.protection,
                cfg.fde.as_ref().unwrap_or(&no_fde),
            )
            .ok()
        } else {
            None
        };
        let dops = spp.map(|s| s.dops);
        let err_of = |pos_ecef_m: &[f64; 3]| {
            let d = [
                pos_ecef_m[0] - truth_ecef_m[0],
                pos_ecef_m[1] - truth_ecef_m[1],
                pos_ecef_m[2] - truth_ecef_m[2],
            ];
            enu_from_ecef_vector(truth, &d)
        };
        let mut fix = None;
        if let Some(s) = &spp {
            self.last_solution = Some([
                s.pos_ecef_m[0],
                s.pos_ecef_m[1],
                s.pos_ecef_m[2],
                s.clock_bias_m,
            ]);
            let spp_type = if cfg.profile == Profile::Sbas {
                FixType::Sbas
            } else {
                FixType::Spp
            };
            fix = Some(Fix {
                fix_type: spp_type,
                pos: geodetic_from_ecef(&s.pos_ecef_m),
                err_enu_m: err_of(&s.pos_ecef_m),
                hpl_m: s.hpl_m,
                vpl_m: s.vpl_m,
                n_sats: s.n_used,
                dops: Some(s.dops),
            });
        }
        // Precise profiles, driven by the same tracking.
        let hdop = dops.map_or(f64::NAN, |d| d.hdop);
        let vdop = dops.map_or(f64::NAN, |d| d.vdop);
        match cfg.profile {
            Profile::PppB2b => {
                let p = cfg.ppp;
                if spp.is_some() && n_tracked >= p.min_sats {
                    if keys.ppp.uniform_f64(epoch, 3) < p.restart_rate_per_s * dt_s {
                        self.ppp_since_s = Some(t_s);
                    }
                    let since = *self.ppp_since_s.get_or_insert(t_s);
                    let (sh, sv) = p.sigma_m(t_s - since);
                    let g = gm(1.0, p.error_tau_s);
                    for (axis, slot) in self.ppp_err.iter_mut().enumerate() {
                        *slot = Some(g.step(*slot, dt_s, keys.ppp.normal_f64(epoch, axis as u32)));
                    }
                    let e = [
                        sh * self.ppp_err[0].unwrap_or(0.0),
                        sh * self.ppp_err[1].unwrap_or(0.0),
                        sv * self.ppp_err[2].unwrap_or(0.0),
                    ];
                    fix = Some(statistical_fix(
                        FixType::Ppp,
                        truth,
                        e,
                        sh,
                        sv,
                        &cfg.protection,
                        n_tracked,
                        dops,
                    ));
                } else if self
                    .last_gnss_fix
                    .is_none_or(|(t, _, _)| t_s - t > p.reconvergence_after_outage_s)
                {
                    self.ppp_since_s = None;
                }
            }
            Profile::Rtk => {
                let r = cfg.rtk;
                if spp.is_some() && n_tracked >= r.min_sats {
                    if let RtkState::Off = self.rtk_state {
                        self.rtk_state = RtkState::Float {
                            since_s: t_s,
                            ttf_s: draw_ttf(&keys.rtk, epoch, &r),
                        };
                    }
                    if let RtkState::Float { since_s, ttf_s } = self.rtk_state {
                        if t_s - since_s >= ttf_s {
                            self.rtk_state = RtkState::Fixed;
                        }
                    } else if keys.rtk.uniform_f64(epoch, 3) < r.slip_rate_per_s * dt_s {
                        self.rtk_state = RtkState::Float {
                            since_s: t_s,
                            ttf_s: draw_ttf(&keys.rtk, epoch, &r),
                        };
                    }
                    let g = gm(1.0, r.error_tau_s);
                    for (axis, slot) in self.rtk_err.iter_mut().enumerate() {
                        *slot = Some(g.step(*slot, dt_s, keys.rtk.normal_f64(epoch, axis as u32)));
                    }
                    let (fix_type, sh, sv) = match self.rtk_state {
                        RtkState::Fixed => {
                            let mean_sd_m = views
                                .iter()
                                .filter(|v| v.used)
                                .map(|v| {
                                    single_difference_sigma_m(
                                        r.phase_a_m,
                                        r.phase_b_m,
                                        v.elevation_rad,
                                    )
                                })
                                .sum::<f64>()
                                / n_tracked as f64;
                            (
                                FixType::RtkFixed,
                                hdop / std::f64::consts::SQRT_2 * mean_sd_m,
                                vdop * mean_sd_m,
                            )
                        }
                        RtkState::Float { since_s, .. } => {
                            let s = r.float_sigma_end_m
                                + (r.float_sigma_start_m - r.float_sigma_end_m)
                                    * (-(t_s - since_s) / r.float_tau_s).exp();
                            (FixType::RtkFloat, s, 1.6 * s)
                        }
                        RtkState::Off => (
                            FixType::RtkFloat,
                            r.float_sigma_start_m,
                            1.6 * r.float_sigma_start_m,
                        ),
                    };
                    let e = [
                        sh * self.rtk_err[0].unwrap_or(0.0),
                        sh * self.rtk_err[1].unwrap_or(0.0),
                        sv * self.rtk_err[2].unwrap_or(0.0),
                    ];
                    fix = Some(statistical_fix(
                        fix_type,
                        truth,
                        e,
                        sh,
                        sv,
                        &cfg.protection,
                        n_tracked,
                        dops,
                    ));
                } else {
                    self.rtk_state = RtkState::Off;
                }
            }
            Profile::Spp | Profile::Sbas => {}
        }
        // Dead reckoning through outages.
        match &fix {
            Some(f) => {
                self.last_gnss_fix = Some((t_s, f.err_enu_m, f.hpl_m / cfg.protection.k_h));
                self.dr = None;
            }
            None => {
                if let (Some(dr_cfg), Some((t_fix, err0, sigma0))) =
                    (cfg.dead_reckoning, self.last_gnss_fix)
                {
                    let dr = *self.dr.get_or_insert(DrState {
                        start_s: t_fix,
                        start_epoch: epoch,
                        err0_enu_m: err0,
                        sigma0_h_m: sigma0,
                    });
                    let tau = t_s - dr.start_s;
                    if tau <= dr_cfg.max_s {
                        let mut e = [0.0; 3];
                        for (axis, slot) in e.iter_mut().enumerate() {
                            let v = dr_cfg.velocity_sigma_mps
                                * keys.dr.normal_f64(dr.start_epoch, axis as u32);
                            let a = dr_cfg.accel_sigma_mps2
                                * keys.dr.normal_f64(dr.start_epoch, 3 + axis as u32);
                            let scale = if axis == 2 {
                                dr_cfg.vertical_ratio
                            } else {
                                1.0
                            };
                            *slot = dr.err0_enu_m[axis] + scale * (v * tau + 0.5 * a * tau * tau);
                        }
                        let sh = (dr.sigma0_h_m.powi(2)
                            + (dr_cfg.velocity_sigma_mps * tau).powi(2)
                            + (0.5 * dr_cfg.accel_sigma_mps2 * tau * tau).powi(2))
                        .sqrt();
                        let mut f = statistical_fix(
                            FixType::DeadReckoning,
                            truth,
                            e,
                            sh,
                            sh * dr_cfg.vertical_ratio.max(1.0),
                            &cfg.protection,
                            n_tracked,
                            dops,
                        );
                        f.n_sats = n_tracked;
                        fix = Some(f);
                    }
                }
            }
        }
        self.last_obs = obs;
        EpochResult {
            t_s,
            t_bdt_s,
            truth: *truth,
            fix,
            sats: views,
            dops,
        }
    }
}

fn draw_ttf(key: &StreamKey, epoch: u32, r: &RtkConfig) -> f64 {
    r.ttf_median_s * (r.ttf_log_sigma * key.normal_f64(epoch, 4)).exp()
}

/// A fix from a statistical profile: truth plus an ENU error, with PLs from its σ.
#[allow(clippy::too_many_arguments)]
fn statistical_fix(
    fix_type: FixType,
    truth: &Geodetic,
    err_enu_m: [f64; 3],
    sigma_h_m: f64,
    sigma_v_m: f64,
    pl: &ProtectionConfig,
    n_sats: usize,
    dops: Option<Dops>,
) -> Fix {
    let axes = enu_axes(truth);
    let t = ecef_from_geodetic(truth);
    let mut p = t;
    for (k, axis) in axes.iter().enumerate() {
        for i in 0..3 {
            p[i] += axis[i] * err_enu_m[k];
        }
    }
    Fix {
        fix_type,
        pos: geodetic_from_ecef(&p),
        err_enu_m,
        hpl_m: pl.k_h * sigma_h_m,
        vpl_m: pl.k_v * sigma_v_m,
        n_sats,
        dops,
    }
}

/// Simulate a static receiver at `site` for `duration_s`.
pub fn simulate_static(config: GnssConfig, site: &Geodetic, duration_s: f64) -> Vec<EpochResult> {
    let n = (duration_s * config.rate_hz).floor() as u64;
    let start = config.start_bdt_s;
    let rate = config.rate_hz;
    let mut sim = Simulator::new(config);
    (0..n)
        .map(|k| sim.step(start + k as f64 / rate, site))
        .collect()
}

/// Statistics of a run, as `gauntlet gnss` prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub n_epochs: usize,
    /// Share of epochs with any position (dead reckoning included).
    pub availability: f64,
    /// Horizontal error percentiles 50/95/99 (m) over epochs with a position.
    pub horiz_p50_m: f64,
    pub horiz_p95_m: f64,
    pub horiz_p99_m: f64,
    pub vert_p95_m: f64,
    /// (fix type, share of all epochs).
    pub fix_shares: Vec<(FixType, f64)>,
    /// Share of fixes whose horizontal error is within the HPL.
    pub hpl_bound_rate: f64,
    /// Fixes whose horizontal error exceeds the HPL (misleading information).
    pub n_misleading: usize,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

pub fn summarize(epochs: &[EpochResult]) -> Summary {
    let fixes: Vec<&Fix> = epochs.iter().filter_map(|e| e.fix.as_ref()).collect();
    let mut h: Vec<f64> = fixes.iter().map(|f| f.horiz_err_m()).collect();
    h.sort_by(f64::total_cmp);
    let mut v: Vec<f64> = fixes.iter().map(|f| f.err_enu_m[2].abs()).collect();
    v.sort_by(f64::total_cmp);
    let n = epochs.len().max(1) as f64;
    let fix_shares = FixType::ALL
        .iter()
        .map(|ft| {
            let count = epochs
                .iter()
                .filter(|e| e.fix.map_or(FixType::None, |f| f.fix_type) == *ft)
                .count();
            (*ft, count as f64 / n)
        })
        .filter(|(_, s)| *s > 0.0)
        .collect();
    let n_misleading = fixes.iter().filter(|f| f.horiz_err_m() > f.hpl_m).count();
    Summary {
        n_epochs: epochs.len(),
        availability: fixes.len() as f64 / n,
        horiz_p50_m: percentile(&h, 50.0),
        horiz_p95_m: percentile(&h, 95.0),
        horiz_p99_m: percentile(&h, 99.0),
        vert_p95_m: percentile(&v, 95.0),
        fix_shares,
        hpl_bound_rate: if fixes.is_empty() {
            f64::NAN
        } else {
            1.0 - n_misleading as f64 / fixes.len() as f64
        },
        n_misleading,
    }
}

/// The CSV header line (with newline).
pub const CSV_HEADER: &str = "t_s,lat_deg,lon_deg,h_m,east_err_m,north_err_m,up_err_m,horiz_err_m,hpl_m,vpl_m,fix_type,n_sats,hdop,vdop,pdop\n";

/// One CSV row (with newline); empty fields where there is no value.
pub fn csv_row(e: &EpochResult) -> String {
    let mut s = String::with_capacity(160);
    let opt = |x: Option<f64>, d: usize| {
        x.filter(|v| v.is_finite())
            .map_or(String::new(), |v| format!("{v:.d$}"))
    };
    let dops = e.fix.and_then(|f| f.dops).or(e.dops);
    let _ = write!(s, "{:.3},", e.t_s);
    match &e.fix {
        Some(f) => {
            let _ = write!(
                s,
                "{:.9},{:.9},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},",
                f.pos.lat_rad.to_degrees(),
                f.pos.lon_rad.to_degrees(),
                f.pos.h_m,
                f.err_enu_m[0],
                f.err_enu_m[1],
                f.err_enu_m[2],
                f.horiz_err_m(),
                f.hpl_m,
                f.vpl_m,
                f.fix_type.name(),
                f.n_sats
            );
        }
        None => {
            let n = e.sats.iter().filter(|v| v.used).count();
            let _ = write!(s, ",,,,,,,,,none,{n},");
        }
    }
    let _ = writeln!(
        s,
        "{},{},{}",
        opt(dops.map(|d| d.hdop), 3),
        opt(dops.map(|d| d.vdop), 3),
        opt(dops.map(|d| d.pdop), 3)
    );
    s
}

/// The NMEA sentences of one epoch.
pub fn nmea_sentences(e: &EpochResult) -> Vec<String> {
    let used: Vec<u8> = e.sats.iter().filter(|v| v.used).map(|v| v.prn).collect();
    let in_view: Vec<nmea::SatInView> = e
        .sats
        .iter()
        .map(|v| nmea::SatInView {
            prn: v.prn,
            elevation_deg: v.elevation_rad.to_degrees(),
            azimuth_deg: v.azimuth_rad.to_degrees(),
            cn0_dbhz: v.used.then_some(v.cn0_dbhz),
        })
        .collect();
    let dops = e.fix.and_then(|f| f.dops).or(e.dops);
    nmea::epoch_sentences(&nmea::NmeaEpoch {
        utc: geodesy::utc_from_bdt(e.t_bdt_s),
        position: e.fix.map(|f| f.pos),
        quality: e
            .fix
            .map_or(nmea::Quality::NoFix, |f| f.fix_type.nmea_quality()),
        used_prns: &used,
        pdop: dops.map_or(99.99, |d| d.pdop),
        hdop: dops.map_or(99.99, |d| d.hdop),
        vdop: dops.map_or(99.99, |d| d.vdop),
        in_view: &in_view,
    })
}
