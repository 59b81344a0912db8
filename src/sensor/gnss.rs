//! The satellite-positioning receiver in the closed loop: the `gnss` model stepped once per
//! fix epoch with the antenna's true position as the ego moves along the road, the
//! environment of the road segment the antenna is in, fixes delayed by the receiver's latency,
//! and the localization error of every epoch in the road frame (for `eval::localization`).
//!
//! The road frame is placed on the Earth by its [`GeoFrame`]: the world frame's x axis points
//! along the road's start direction (azimuth `heading_rad`), y to its left, z up, with station
//! 0 of the reference line at the origin. No I/O.
//!
//! Random streams: those of `gnss` (keyed by seed, FNV-1a 64 of the case ID and the run's
//! repeat index), and `gnss/velocity` (step = epoch index counted from the first warm-up
//! epoch, elements 0–2: east, north, up velocity noise).

use std::collections::VecDeque;

use crate::gnss::environment::{Environment, EnvironmentKind, Reception, Tunnels};
use crate::gnss::geodesy::{
    Geodetic, ecef_from_geodetic, enu_axes, enu_from_ecef_vector, geodetic_from_ecef,
};
use crate::gnss::receiver::{PppConfig, RtkConfig};
use crate::gnss::{DEFAULT_START_BDT_S, EpochResult, FixType, GnssConfig, Simulator};
use crate::rng::{StreamKey, fnv1a64};
use crate::scenario::model::{GeoFrame, GnssReceiver, Road};
use crate::sut::GnssFix;

/// σ of the receiver's velocity (Doppler) per axis, m/s, by fix type.
fn velocity_sigma_mps(fix_type: FixType) -> f64 {
    match fix_type {
        FixType::None => 0.0,
        FixType::Spp | FixType::Sbas => 0.1,
        FixType::Ppp | FixType::RtkFloat | FixType::RtkFixed => 0.03,
        FixType::DeadReckoning => 0.2,
    }
}

impl GeoFrame {
    /// East, north, up (m, relative to the origin's ENU axes) of a world-frame point.
    pub fn enu_from_world(&self, x_m: f64, y_m: f64, z_m: f64) -> [f64; 3] {
        let (s, c) = self.heading_rad.sin_cos();
        [x_m * s - y_m * c, x_m * c + y_m * s, z_m]
    }

    /// World-frame x, y of an ENU offset from the origin.
    pub fn world_from_enu(&self, enu_m: &[f64; 3]) -> (f64, f64) {
        let (s, c) = self.heading_rad.sin_cos();
        (enu_m[0] * s + enu_m[1] * c, -enu_m[0] * c + enu_m[1] * s)
    }

    /// The geodetic position of a world-frame point (z up from the reference line's height).
    pub fn geodetic_from_world(&self, x_m: f64, y_m: f64, z_m: f64) -> Geodetic {
        let enu = self.enu_from_world(x_m, y_m, z_m);
        let origin = ecef_from_geodetic(&self.origin);
        let axes = enu_axes(&self.origin);
        let mut p = origin;
        for (k, axis) in axes.iter().enumerate() {
            for i in 0..3 {
                p[i] += enu[k] * axis[i];
            }
        }
        geodetic_from_ecef(&p)
    }

    /// The world-frame position (x, y, z) of a geodetic position.
    pub fn world_from_geodetic(&self, g: &Geodetic) -> [f64; 3] {
        let p = ecef_from_geodetic(g);
        let o = ecef_from_geodetic(&self.origin);
        let d = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
        let enu = enu_from_ecef_vector(&self.origin, &d);
        let (x, y) = self.world_from_enu(&enu);
        [x, y, enu[2]]
    }
}

/// The true state of the ego at a fix epoch (world frame, centre of the footprint).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EgoPose {
    pub x_m: f64,
    pub y_m: f64,
    pub heading_rad: f64,
    pub speed_mps: f64,
    pub yaw_rate_radps: f64,
}

/// The localization error of one fix epoch, in the road frame at the antenna's true position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixError {
    pub fix_type: FixType,
    /// Fix minus truth along the road (m).
    pub along_m: f64,
    /// Fix minus truth across the road, left positive (m).
    pub lateral_m: f64,
    /// Horizontal error (m).
    pub horizontal_m: f64,
    pub hpl_m: f64,
}

/// One fix epoch of a run, as the localization metrics need it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalizationSample {
    /// Time of validity, s since the run's start.
    pub t_s: f64,
    /// `None`: no position at this epoch.
    pub error: Option<FixError>,
    /// Satellites whose signal reaches the antenna (line of sight or reflected).
    pub sats_received: u32,
    /// The environment of the antenna's station.
    pub environment: EnvironmentKind,
}

/// The environment of a scenario segment: a tunnel is a total blockage for as long as the
/// antenna is inside; a canyon's street runs along the road (`street_azimuth_rad`).
pub fn segment_environment(kind: EnvironmentKind, street_azimuth_rad: f64) -> Environment {
    let mut env = Environment::preset(kind);
    if kind == EnvironmentKind::Tunnel {
        env.tunnels = Some(Tunnels {
            period_s: 1e15,
            length_s: 1e15,
            first_entry_s: -1e12,
        });
    }
    if let Some(c) = &mut env.canyon {
        c.street_azimuth_rad = street_azimuth_rad;
    }
    env
}

/// The receiver of one run.
pub struct Receiver {
    model: GnssReceiver,
    sim: Simulator,
    velocity_key: StreamKey,
    /// Physics step, s.
    dt_s: f64,
    /// Epoch index from the first warm-up epoch.
    epoch: u32,
    environment: Option<EnvironmentKind>,
    /// Fixes on their way to the system: (physics step at which they arrive, fix).
    in_flight: VecDeque<(u64, Option<GnssFix>)>,
    latest: Option<GnssFix>,
    samples: Vec<LocalizationSample>,
}

impl Receiver {
    /// A receiver for one run of a case, with its warm-up epochs (if any) simulated at the
    /// ego's start pose `start`.
    pub fn new(
        model: &GnssReceiver,
        road: &Road,
        dt_s: f64,
        seed: u64,
        case_id: &str,
        run_index: u32,
        start: &EgoPose,
    ) -> Receiver {
        let rate_hz = 1.0 / (f64::from(model.every_n_steps) * dt_s);
        let case_hash = fnv1a64(case_id.as_bytes());
        let mut config = GnssConfig::new(model.profile, model.environment);
        config.rate_hz = rate_hz;
        config.seed = seed;
        config.case_hash = case_hash;
        config.run_index = run_index;
        // The simulator counts time from its first epoch, the first warm-up epoch.
        config.start_bdt_s = DEFAULT_START_BDT_S - f64::from(model.warm_up_epochs) / rate_hz;
        let mut receiver = Receiver {
            model: model.clone(),
            sim: Simulator::new(config),
            velocity_key: StreamKey::new(seed, case_hash, "gnss/velocity", run_index),
            dt_s,
            epoch: 0,
            environment: None,
            in_flight: VecDeque::new(),
            latest: None,
            samples: Vec::new(),
        };
        for k in 0..model.warm_up_epochs {
            let t_s = -f64::from(model.warm_up_epochs - k) / rate_hz;
            receiver.epoch_at(t_s, start, road);
        }
        receiver
    }

    /// The model this receiver was built from.
    pub fn model(&self) -> &GnssReceiver {
        &self.model
    }

    /// Physics step `step` with the ego at `pose`: simulates the epoch if one is due, then
    /// delivers the fixes whose latency has passed.
    pub fn step(&mut self, step: u64, pose: &EgoPose, road: &Road) {
        if step % u64::from(self.model.every_n_steps) == 0 {
            let t_s = step as f64 * self.dt_s;
            let (fix, sample) = self.epoch_at(t_s, pose, road);
            self.samples.push(sample);
            self.in_flight
                .push_back((step + u64::from(self.model.latency_steps), fix));
        }
        while self.in_flight.front().is_some_and(|(at, _)| *at <= step) {
            if let Some((_, fix)) = self.in_flight.pop_front() {
                self.latest = fix;
            }
        }
    }

    /// The newest fix that has arrived (`None` before the first, or when the newest epoch
    /// gave no position).
    pub fn latest(&self) -> Option<&GnssFix> {
        self.latest.as_ref()
    }

    /// The localization record of every epoch since t = 0.
    pub fn into_samples(self) -> Vec<LocalizationSample> {
        self.samples
    }

    /// Simulates one epoch at run time `t_s` (negative while warming up).
    fn epoch_at(
        &mut self,
        t_s: f64,
        pose: &EgoPose,
        road: &Road,
    ) -> (Option<GnssFix>, LocalizationSample) {
        let frame = self.model.frame;
        let [lx, ly, lz] = self.model.lever_arm_m;
        let (s, c) = pose.heading_rad.sin_cos();
        let (rx, ry) = (lx * c - ly * s, lx * s + ly * c);
        let (ax, ay) = (pose.x_m + rx, pose.y_m + ry);
        let (station_m, lateral_m, road_heading_rad) = road.road_from_world(ax, ay);
        let kind = self.model.environment_at(station_m);
        let street_azimuth_rad = frame.heading_rad - road_heading_rad;
        let cfg = &mut self.sim.config;
        cfg.environment = segment_environment(kind, street_azimuth_rad);
        if self.environment != Some(kind) {
            cfg.ppp = PppConfig::for_environment(kind);
            cfg.rtk = RtkConfig::for_environment(kind);
            self.environment = Some(kind);
        }
        let truth = frame.geodetic_from_world(ax, ay, lz);
        let result: EpochResult = self.sim.step(DEFAULT_START_BDT_S + t_s, &truth);
        let epoch = self.epoch;
        self.epoch += 1;
        let sats_received = result
            .sats
            .iter()
            .filter(|v| v.reception != Reception::Blocked)
            .count() as u32;
        let mut sample = LocalizationSample {
            t_s,
            error: None,
            sats_received,
            environment: kind,
        };
        let Some(f) = result.fix else {
            return (None, sample);
        };
        let [fx, fy, _] = frame.world_from_geodetic(&f.pos);
        let (fix_station_m, fix_lateral_m, fix_road_heading_rad) = road.road_from_world(fx, fy);
        let along_m = fix_station_m - station_m;
        let err_lateral_m = fix_lateral_m - lateral_m;
        sample.error = Some(FixError {
            fix_type: f.fix_type,
            along_m,
            lateral_m: err_lateral_m,
            horizontal_m: along_m.hypot(err_lateral_m),
            hpl_m: f.hpl_m,
        });
        // Velocity of the antenna (rigid body: v + ω × r), measured with white noise.
        let vx = pose.speed_mps * c - pose.yaw_rate_radps * ry;
        let vy = pose.speed_mps * s + pose.yaw_rate_radps * rx;
        let sigma = velocity_sigma_mps(f.fix_type);
        let mut vel_enu_mps = frame.enu_from_world(vx, vy, 0.0);
        for (k, v) in vel_enu_mps.iter_mut().enumerate() {
            *v += sigma * self.velocity_key.normal_f64(epoch, k as u32);
        }
        let (mvx, mvy) = frame.world_from_enu(&vel_enu_mps);
        let (hs, hc) = fix_road_heading_rad.sin_cos();
        let protection = self.sim.config.protection;
        let fix = GnssFix {
            valid_at_s: t_s,
            fix_type: f.fix_type,
            lat_deg: f.pos.lat_rad.to_degrees(),
            lon_deg: f.pos.lon_rad.to_degrees(),
            height_m: f.pos.h_m,
            pos_in_road_m: [fix_station_m, fix_lateral_m],
            vel_enu_mps,
            vel_in_road_mps: [mvx * hc + mvy * hs, -mvx * hs + mvy * hc],
            map_curvature_per_m: road.curvature_at(fix_lateral_m),
            sigma_h_m: f.hpl_m / protection.k_h,
            sigma_v_m: f.vpl_m / protection.k_v,
            hpl_m: f.hpl_m,
            vpl_m: f.vpl_m,
            n_sats_used: f.n_sats as u32,
            hdop: f.dops.map(|d| d.hdop).filter(|h| h.is_finite()),
            antenna_in_ego_m: self.model.lever_arm_m,
        };
        (Some(fix), sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_road_frame_is_placed_on_the_earth_by_its_origin_and_heading() {
        // A road pointing north: world x is north, world y (left) is west.
        let north = GeoFrame::default_china();
        assert_eq!(north.enu_from_world(10.0, 2.0, 1.5), [-2.0, 10.0, 1.5]);
        // Pointing east: world y (left) is north.
        let east = GeoFrame {
            heading_rad: std::f64::consts::FRAC_PI_2,
            ..north
        };
        let enu = east.enu_from_world(10.0, 2.0, 0.0);
        assert!((enu[0] - 10.0).abs() < 1e-12 && (enu[1] - 2.0).abs() < 1e-12);
        // Geodetic round trip 3 km out, to a micrometre.
        for frame in [north, east] {
            let g = frame.geodetic_from_world(3000.0, -40.0, 1.5);
            let back = frame.world_from_geodetic(&g);
            for (a, b) in back.iter().zip([3000.0, -40.0, 1.5]) {
                assert!((a - b).abs() < 1e-6, "{back:?}");
            }
        }
        // 1 km north of Wuhan is about 0.009° of latitude.
        let g = north.geodetic_from_world(1000.0, 0.0, 0.0);
        let dlat = g.lat_rad.to_degrees() - 30.52;
        assert!((dlat - 0.00902).abs() < 0.0001, "{dlat}");
    }

    #[test]
    fn a_tunnel_segment_blocks_everything_and_a_canyon_follows_the_road() {
        let t = segment_environment(EnvironmentKind::Tunnel, 0.0);
        assert!(t.in_tunnel(0.0) && t.in_tunnel(1e6));
        let c = segment_environment(EnvironmentKind::UrbanCanyon, 1.0);
        assert_eq!(c.canyon.map(|c| c.street_azimuth_rad), Some(1.0));
        assert!(!segment_environment(EnvironmentKind::OpenSky, 0.0).in_tunnel(5.0));
    }
}
