//! `builtin:lka-gnss`: lane keeping that locates itself from satellite fixes and the road map,
//! never from the lane camera or ground truth, so that positioning error becomes lateral error
//! and lane departures.
//!
//! The map is the road frame: the lane to keep is the ego's starting lane, whose centre line is
//! the reference line y = 0, and each fix carries its road-frame position and the map's
//! curvature there. The system keeps an estimate of the footprint centre's lateral position y
//! and heading ψ relative to the road:
//! - between fixes it dead-reckons from the vehicle bus, ẏ = v·sin ψ, ψ̇ = ω − v·κ;
//! - a new fix (newer time of validity) is moved from the antenna to the footprint centre
//!   with the lever arm, propagated over its latency with the same equations, and blended in
//!   by a scalar Kalman update of y (variance P grows by `process_var_m2_per_s`·Δt, the fix's
//!   variance is its σ_h²) and a fixed-gain update of ψ from the course over ground
//!   (atan2 of the road-frame velocity, above `min_course_speed_mps`).
//!
//! It steers continuously with the law of `builtin:lka` (curvature feed-forward plus
//! speed-scheduled offset and heading feedback, limited in angle, lateral acceleration, jerk
//! and rate) towards y = 0. With no fix for `max_coast_s` it hands back to the driver: no
//! steering request, the warning raised as a take-over request. Longitudinal control stays
//! with the driver.

use super::common::{StepClock, default_setup, ego_speed_mps, finite_or};
use super::lka::{CentringLaw, LaneState, lane_centring_steer_rad};
use crate::sut::{Command, GnssFix, Observation, RunSetup, SutError, System};

/// Parameters of [`LkaGnss`]; `docs/reference-systems.md` gives where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct LkaGnssConfig {
    /// Closed-loop natural frequency of the lateral offset, rad/s.
    pub natural_freq_radps: f64,
    /// Closed-loop damping ratio.
    pub damping_ratio: f64,
    /// Below this speed the gains stay at their value for this speed, m/s.
    pub min_schedule_speed_mps: f64,
    /// The system is inactive below this speed, m/s.
    pub min_active_speed_mps: f64,
    /// Largest road-wheel angle requested, rad.
    pub max_steer_rad: f64,
    /// Largest lateral acceleration the feedback part may ask for, m/s².
    pub max_lat_accel_mps2: f64,
    /// Largest lateral jerk from steering changes, m/s³.
    pub max_lat_jerk_mps3: f64,
    /// Largest road-wheel steering rate, rad/s.
    pub max_steer_rate_radps: f64,
    /// Growth of the lateral estimate's variance while dead-reckoning, m²/s.
    pub process_var_m2_per_s: f64,
    /// Gain of the heading update from the course over ground.
    pub heading_gain: f64,
    /// The course over ground is used above this speed, m/s.
    pub min_course_speed_mps: f64,
    /// Hand back to the driver after this long without a fix, s.
    pub max_coast_s: f64,
}

impl Default for LkaGnssConfig {
    fn default() -> Self {
        LkaGnssConfig {
            natural_freq_radps: 0.8,
            damping_ratio: 0.9,
            min_schedule_speed_mps: 30.0 / 3.6,
            min_active_speed_mps: 30.0 / 3.6,
            max_steer_rad: 0.1,
            max_lat_accel_mps2: 3.0,
            max_lat_jerk_mps3: 5.0,
            max_steer_rate_radps: 0.2,
            process_var_m2_per_s: 0.01,
            heading_gain: 0.2,
            min_course_speed_mps: 2.0,
            max_coast_s: 10.0,
        }
    }
}

/// The estimate of the footprint centre in the road frame.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Estimate {
    y_m: f64,
    heading_rad: f64,
    var_y_m2: f64,
    curvature_per_m: f64,
    /// Time of validity of the newest fix used.
    fix_valid_at_s: f64,
}

/// The lka-gnss system. One instance drives one run.
pub struct LkaGnss {
    cfg: LkaGnssConfig,
    setup: RunSetup,
    clock: StepClock,
    estimate: Option<Estimate>,
    last_steer_rad: f64,
    steering: bool,
}

impl LkaGnss {
    pub fn new(cfg: LkaGnssConfig) -> LkaGnss {
        LkaGnss {
            cfg,
            setup: default_setup(),
            clock: StepClock::default(),
            estimate: None,
            last_steer_rad: 0.0,
            steering: false,
        }
    }

    /// The current estimate of the lateral position and heading relative to the road, if any.
    pub fn estimate(&self) -> Option<(f64, f64)> {
        self.estimate.map(|e| (e.y_m, e.heading_rad))
    }

    /// Propagates a road-frame lateral position and heading over `dt_s`.
    fn propagate(
        y_m: f64,
        heading_rad: f64,
        v_mps: f64,
        yaw_rate_radps: f64,
        kappa: f64,
        dt_s: f64,
    ) -> (f64, f64) {
        (
            y_m + v_mps * heading_rad.sin() * dt_s,
            heading_rad + (yaw_rate_radps - v_mps * kappa) * dt_s,
        )
    }

    /// A fix as a measurement of the footprint centre's (y, ψ) now.
    fn measure(
        &self,
        fix: &GnssFix,
        now_s: f64,
        v_mps: f64,
        yaw_rate_radps: f64,
        prior_heading_rad: f64,
    ) -> (f64, f64) {
        let [vx, vy] = fix.vel_in_road_mps;
        let heading_rad = if vx.hypot(vy) >= self.cfg.min_course_speed_mps {
            vy.atan2(vx)
        } else {
            prior_heading_rad
        };
        let [lx, ly, _] = fix.antenna_in_ego_m;
        let (s, c) = heading_rad.sin_cos();
        let y_centre_m = fix.pos_in_road_m[1] - (lx * s + ly * c);
        let age_s = (now_s - fix.valid_at_s).max(0.0);
        Self::propagate(
            y_centre_m,
            heading_rad,
            v_mps,
            yaw_rate_radps,
            finite_or(fix.map_curvature_per_m, 0.0),
            age_s,
        )
    }

    fn update(&mut self, obs: &Observation<'_>, dt_s: f64) {
        let v_mps = ego_speed_mps(obs);
        let w = finite_or(obs.ego.yaw_rate_radps, 0.0);
        if let Some(e) = &mut self.estimate {
            let (y, h) = Self::propagate(e.y_m, e.heading_rad, v_mps, w, e.curvature_per_m, dt_s);
            e.y_m = y;
            e.heading_rad = h;
            e.var_y_m2 += self.cfg.process_var_m2_per_s * dt_s;
        }
        let Some(fix) = obs.gnss else { return };
        let usable = fix.pos_in_road_m.iter().all(|x| x.is_finite())
            && fix.vel_in_road_mps.iter().all(|x| x.is_finite())
            && fix.sigma_h_m.is_finite();
        if !usable
            || self
                .estimate
                .is_some_and(|e| fix.valid_at_s <= e.fix_valid_at_s)
        {
            return;
        }
        let prior_heading = self.estimate.map_or(0.0, |e| e.heading_rad);
        let (y_meas, heading_meas) = self.measure(fix, obs.time_s, v_mps, w, prior_heading);
        let var_meas = fix.sigma_h_m.max(0.01).powi(2);
        let kappa = finite_or(fix.map_curvature_per_m, 0.0);
        match &mut self.estimate {
            None => {
                self.estimate = Some(Estimate {
                    y_m: y_meas,
                    heading_rad: heading_meas,
                    var_y_m2: var_meas,
                    curvature_per_m: kappa,
                    fix_valid_at_s: fix.valid_at_s,
                });
            }
            Some(e) => {
                let k = e.var_y_m2 / (e.var_y_m2 + var_meas);
                e.y_m += k * (y_meas - e.y_m);
                e.var_y_m2 *= 1.0 - k;
                e.heading_rad += self.cfg.heading_gain * (heading_meas - e.heading_rad);
                e.curvature_per_m = kappa;
                e.fix_valid_at_s = fix.valid_at_s;
            }
        }
    }

    /// The unlimited steering law towards y = 0 (`builtin:lka`'s), rad.
    fn steer_law_rad(&self, e: &Estimate, v_mps: f64, wheelbase_m: f64) -> f64 {
        let cfg = &self.cfg;
        lane_centring_steer_rad(
            &CentringLaw {
                natural_freq_radps: cfg.natural_freq_radps,
                damping_ratio: cfg.damping_ratio,
                min_schedule_speed_mps: cfg.min_schedule_speed_mps,
                max_lat_accel_mps2: cfg.max_lat_accel_mps2,
            },
            &LaneState {
                offset_m: e.y_m,
                heading_rad: e.heading_rad,
                curvature_per_m: e.curvature_per_m,
            },
            v_mps,
            wheelbase_m,
        )
    }
}

impl System for LkaGnss {
    fn name(&self) -> &str {
        "lka-gnss"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
        self.clock = StepClock::default();
        self.estimate = None;
        self.last_steer_rad = 0.0;
        self.steering = false;
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let dt_s = self.clock.dt_s(obs.time_s, self.setup.dt_s);
        self.update(obs, dt_s);
        let cfg = &self.cfg;
        let v_mps = ego_speed_mps(obs);
        let Some(e) = self.estimate else {
            return Ok(Command::default());
        };
        if obs.time_s - e.fix_valid_at_s > cfg.max_coast_s {
            // Lost: hand back to the driver.
            self.steering = false;
            return Ok(Command {
                warning: true,
                ..Command::default()
            });
        }
        if v_mps < cfg.min_active_speed_mps {
            self.steering = false;
            return Ok(Command::default());
        }
        if !self.steering {
            self.steering = true;
            self.last_steer_rad = finite_or(obs.ego.steer_rad, 0.0);
        }
        let wheelbase_m = if self.setup.ego_wheelbase_m > 0.0 {
            self.setup.ego_wheelbase_m
        } else {
            2.7
        };
        let target_rad = self
            .steer_law_rad(&e, v_mps, wheelbase_m)
            .clamp(-cfg.max_steer_rad, cfg.max_steer_rad);
        let v_s = v_mps.max(cfg.min_schedule_speed_mps);
        let max_rate_radps = cfg
            .max_steer_rate_radps
            .min(cfg.max_lat_jerk_mps3 * wheelbase_m / (v_s * v_s));
        let max_step_rad = max_rate_radps * dt_s;
        let steer_rad = self.last_steer_rad
            + (target_rad - self.last_steer_rad).clamp(-max_step_rad, max_step_rad);
        let steer_rad = finite_or(steer_rad, 0.0).clamp(-cfg.max_steer_rad, cfg.max_steer_rad);
        self.last_steer_rad = steer_rad;
        Ok(Command {
            accel_mps2: None,
            steer_rad: Some(steer_rad),
            warning: false,
            detections: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{obs_with, setup};
    use super::*;
    use crate::gnss::FixType;

    fn fix(valid_at_s: f64, y_m: f64, heading_rad: f64, speed_mps: f64) -> GnssFix {
        GnssFix {
            valid_at_s,
            fix_type: FixType::RtkFixed,
            lat_deg: 30.0,
            lon_deg: 114.0,
            height_m: 40.0,
            pos_in_road_m: [100.0, y_m],
            vel_enu_mps: [0.0, speed_mps, 0.0],
            vel_in_road_mps: [speed_mps * heading_rad.cos(), speed_mps * heading_rad.sin()],
            map_curvature_per_m: 0.0,
            sigma_h_m: 0.02,
            sigma_v_m: 0.03,
            hpl_m: 0.12,
            vpl_m: 0.16,
            n_sats_used: 12,
            hdop: Some(0.8),
            antenna_in_ego_m: [0.0, 0.0, 1.5],
        }
    }

    #[test]
    fn without_fixes_it_does_nothing() {
        let mut s = LkaGnss::new(LkaGnssConfig::default());
        s.reset(&setup());
        let o = obs_with(0.0, 25.0, &[], None);
        assert_eq!(s.step(&o).unwrap(), Command::default());
    }

    #[test]
    fn steers_towards_the_lane_centre_from_the_fix_alone() {
        let mut s = LkaGnss::new(LkaGnssConfig::default());
        s.reset(&setup());
        // The fix says 0.8 m left of the lane centre, parallel to the road.
        let f = fix(0.0, 0.8, 0.0, 25.0);
        let mut o = obs_with(0.05, 25.0, &[], None);
        o.gnss = Some(&f);
        let c = s.step(&o).unwrap();
        assert!(c.steer_rad.unwrap() < 0.0, "{c:?}");
        // And to the left from the other side.
        let mut s = LkaGnss::new(LkaGnssConfig::default());
        s.reset(&setup());
        let f = fix(0.0, -0.8, 0.0, 25.0);
        o.gnss = Some(&f);
        assert!(s.step(&o).unwrap().steer_rad.unwrap() > 0.0);
    }

    #[test]
    fn the_lever_arm_and_latency_are_compensated() {
        let mut s = LkaGnss::new(LkaGnssConfig::default());
        s.reset(&setup());
        // Antenna 0.5 m left of the centre line, heading 0.01 rad, fix 0.2 s old at 20 m/s:
        // the centre is at 1.0 − 0.5·cos 0.01 + 20 · sin(0.01) · 0.2 ≈ 0.54 m.
        let mut f = fix(1.0, 1.0, 0.01, 20.0);
        f.antenna_in_ego_m = [0.0, 0.5, 1.5];
        let mut o = obs_with(1.2, 20.0, &[], None);
        o.gnss = Some(&f);
        s.step(&o).unwrap();
        let (y, h) = s.estimate().unwrap();
        let expected = 1.0 - 0.5 * 0.01f64.cos() + 20.0 * 0.01f64.sin() * 0.2;
        assert!((y - expected).abs() < 1e-6, "{y} vs {expected}");
        assert!((h - 0.01).abs() < 1e-9);
    }

    #[test]
    fn hands_back_after_coasting_too_long() {
        let mut s = LkaGnss::new(LkaGnssConfig::default());
        s.reset(&setup());
        let f = fix(0.0, 0.0, 0.0, 25.0);
        let mut o = obs_with(0.0, 25.0, &[], None);
        o.gnss = Some(&f);
        assert!(s.step(&o).unwrap().steer_rad.is_some());
        let mut t = 0.0;
        let mut last = Command::default();
        while t < 11.0 {
            t += 0.05;
            last = s.step(&obs_with(t, 25.0, &[], None)).unwrap();
        }
        assert_eq!(last.steer_rad, None);
        assert!(last.warning);
    }
}
