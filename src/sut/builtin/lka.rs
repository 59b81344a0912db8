//! `builtin:lka`: lane-keeping assistance from the lane-marking camera's lane observation.
//!
//! The system watches the distance from the ego's sides to the lane boundaries and the time to
//! line crossing (TLC = boundary distance ÷ lateral speed towards it, lateral speed v·sin ψ). It
//! intervenes when a boundary is closer than 0.3 m or will be crossed within 1 s, and releases
//! with hysteresis once both boundaries are at least 0.6 m away and neither will be crossed
//! within 2 s. While intervening it requests a road-wheel angle (and raises the warning):
//!
//! δ = atan(L·κ) + k_y·(−offset) + k_ψ·(−ψ)
//!
//! — curvature feed-forward plus lateral-offset and heading feedback. For a kinematic bicycle
//! (ψ̇ = v·δ/L − v·κ, ẏ = v·ψ) this gives ÿ = −(v²·k_y/L)·y − (v·k_ψ/L)·ẏ, so the gains are
//! scheduled with speed, k_y = L·ω²/v² and k_ψ = 2·ζ·ω·L/v, to keep the same closed-loop
//! natural frequency ω and damping ζ over 30–130 km/h. The feedback part is limited to the
//! lateral acceleration a_lat,max (δ ≤ a_lat,max·L/v²), the whole angle to a small absolute
//! value, and its rate to the lateral jerk j_max (δ̇ ≤ j_max·L/v²) and an absolute rate.
//! Longitudinal control stays with the driver.

use super::common::{StepClock, default_setup, ego_speed_mps, finite_or};
use crate::sut::{Command, LaneObservation, Observation, RunSetup, SutError, System};

/// Parameters of [`Lka`]. See `docs/reference-systems.md` for where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct LkaConfig {
    /// Intervene when a side of the ego is closer than this to its lane boundary, m.
    pub intervene_boundary_m: f64,
    /// ... or when the time to line crossing falls below this, s.
    pub intervene_tlc_s: f64,
    /// Release once both boundaries are at least this far away, m ...
    pub release_boundary_m: f64,
    /// ... and neither will be crossed within this time, s.
    pub release_tlc_s: f64,
    /// Closed-loop natural frequency of the lateral offset, rad/s.
    pub natural_freq_radps: f64,
    /// Closed-loop damping ratio of the lateral offset.
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
    /// Lateral speeds below this do not count as drifting towards a boundary, m/s.
    pub min_drift_speed_mps: f64,
}

impl Default for LkaConfig {
    fn default() -> Self {
        LkaConfig {
            intervene_boundary_m: 0.3,
            intervene_tlc_s: 1.0,
            release_boundary_m: 0.6,
            release_tlc_s: 2.0,
            natural_freq_radps: 1.2,
            damping_ratio: 0.9,
            min_schedule_speed_mps: 30.0 / 3.6,
            min_active_speed_mps: 30.0 / 3.6,
            max_steer_rad: 0.1,
            max_lat_accel_mps2: 3.0,
            max_lat_jerk_mps3: 5.0,
            max_steer_rate_radps: 0.2,
            min_drift_speed_mps: 0.05,
        }
    }
}

/// The LKA system. One instance drives one run.
pub struct Lka {
    cfg: LkaConfig,
    setup: RunSetup,
    clock: StepClock,
    active: bool,
    /// The angle requested in the previous step (the start of the rate limit).
    last_steer_rad: f64,
}

impl Lka {
    pub fn new(cfg: LkaConfig) -> Lka {
        Lka {
            cfg,
            setup: default_setup(),
            clock: StepClock::default(),
            active: false,
            last_steer_rad: 0.0,
        }
    }

    /// Whether the system is steering.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Time to crossing the left and the right boundary (infinite when not drifting towards it).
    fn tlc_s(&self, lane: &LaneObservation, v_mps: f64) -> (f64, f64) {
        let lat_mps = v_mps * finite_or(lane.heading_rad, 0.0).sin();
        let left = if lat_mps > self.cfg.min_drift_speed_mps {
            lane.left_boundary_m.max(0.0) / lat_mps
        } else {
            f64::INFINITY
        };
        let right = if lat_mps < -self.cfg.min_drift_speed_mps {
            lane.right_boundary_m.max(0.0) / -lat_mps
        } else {
            f64::INFINITY
        };
        (left, right)
    }

    /// The unlimited steering law (feed-forward plus speed-scheduled feedback), rad.
    fn steer_law_rad(&self, lane: &LaneObservation, v_mps: f64, wheelbase_m: f64) -> f64 {
        let cfg = &self.cfg;
        lane_centring_steer_rad(
            &CentringLaw {
                natural_freq_radps: cfg.natural_freq_radps,
                damping_ratio: cfg.damping_ratio,
                min_schedule_speed_mps: cfg.min_schedule_speed_mps,
                max_lat_accel_mps2: cfg.max_lat_accel_mps2,
            },
            &LaneState {
                offset_m: finite_or(lane.offset_m, 0.0),
                heading_rad: finite_or(lane.heading_rad, 0.0),
                curvature_per_m: finite_or(lane.curvature_per_m, 0.0),
            },
            v_mps,
            wheelbase_m,
        )
    }
}

/// Gains of the lane-centring steering law shared by `builtin:lka` and `builtin:lka-gnss`.
pub(super) struct CentringLaw {
    pub natural_freq_radps: f64,
    pub damping_ratio: f64,
    pub min_schedule_speed_mps: f64,
    pub max_lat_accel_mps2: f64,
}

/// Where the ego is in its lane, as a centring law sees it (finite values).
pub(super) struct LaneState {
    /// Lateral offset from the lane centre (positive: left), m.
    pub offset_m: f64,
    /// Heading relative to the lane (positive: left), rad.
    pub heading_rad: f64,
    pub curvature_per_m: f64,
}

/// The unlimited steering law towards the lane centre: curvature feed-forward plus
/// speed-scheduled feedback on offset and heading, the feedback bounded by a lateral
/// acceleration, rad.
pub(super) fn lane_centring_steer_rad(
    law: &CentringLaw,
    lane: &LaneState,
    v_mps: f64,
    wheelbase_m: f64,
) -> f64 {
    let v_s = v_mps.max(law.min_schedule_speed_mps).max(0.1);
    let k_y_rad_per_m = wheelbase_m * law.natural_freq_radps * law.natural_freq_radps / (v_s * v_s);
    let k_psi = 2.0 * law.damping_ratio * law.natural_freq_radps * wheelbase_m / v_s;
    let feed_forward_rad = (wheelbase_m * lane.curvature_per_m).atan();
    let feedback_rad = -k_y_rad_per_m * lane.offset_m - k_psi * lane.heading_rad;
    let max_feedback_rad = law.max_lat_accel_mps2 * wheelbase_m / (v_s * v_s);
    feed_forward_rad + feedback_rad.clamp(-max_feedback_rad, max_feedback_rad)
}

impl System for Lka {
    fn name(&self) -> &str {
        "lka"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
        self.clock = StepClock::default();
        self.active = false;
        self.last_steer_rad = 0.0;
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let dt_s = self.clock.dt_s(obs.time_s, self.setup.dt_s);
        let v_mps = ego_speed_mps(obs);
        let lane = match &obs.lane {
            Some(lane)
                if v_mps >= self.cfg.min_active_speed_mps
                    && lane.left_boundary_m.is_finite()
                    && lane.right_boundary_m.is_finite() =>
            {
                lane
            }
            _ => {
                self.active = false;
                return Ok(Command::default());
            }
        };
        let cfg = &self.cfg;
        let (tlc_left_s, tlc_right_s) = self.tlc_s(lane, v_mps);
        let nearest_m = lane.left_boundary_m.min(lane.right_boundary_m);
        let tlc_s = tlc_left_s.min(tlc_right_s);
        if !self.active && (nearest_m < cfg.intervene_boundary_m || tlc_s < cfg.intervene_tlc_s) {
            self.active = true;
            // The rate limit starts from where the wheels are now.
            self.last_steer_rad = finite_or(obs.ego.steer_rad, 0.0);
        } else if self.active && nearest_m >= cfg.release_boundary_m && tlc_s >= cfg.release_tlc_s {
            self.active = false;
        }
        if !self.active {
            return Ok(Command::default());
        }

        let wheelbase_m = if self.setup.ego_wheelbase_m > 0.0 {
            self.setup.ego_wheelbase_m
        } else {
            2.7
        };
        let target_rad = self
            .steer_law_rad(lane, v_mps, wheelbase_m)
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
            warning: true,
            detections: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{obs_with, setup};
    use super::*;

    const LANE_WIDTH_M: f64 = 3.5;
    const EGO_WIDTH_M: f64 = 1.8;
    const WHEELBASE_M: f64 = 2.7;

    /// A lateral test world: the ego's offset and heading relative to its lane on a road of
    /// constant curvature; the driver holds the steering angle `driver_steer_rad`; actual
    /// steering follows requests at up to 1 rad/s (like the harness's vehicle model).
    struct LaneWorld {
        time_s: f64,
        speed_mps: f64,
        offset_m: f64,
        heading_rad: f64,
        curvature_per_m: f64,
        steer_rad: f64,
        driver_steer_rad: f64,
    }

    impl LaneWorld {
        fn lane(&self) -> LaneObservation {
            let half_gap_m = 0.5 * (LANE_WIDTH_M - EGO_WIDTH_M);
            LaneObservation {
                offset_m: self.offset_m,
                heading_rad: self.heading_rad,
                curvature_per_m: self.curvature_per_m,
                width_m: LANE_WIDTH_M,
                left_boundary_m: half_gap_m - self.offset_m,
                right_boundary_m: half_gap_m + self.offset_m,
                right_road_edge_m: half_gap_m + self.offset_m + 0.5,
                left_road_edge_m: half_gap_m - self.offset_m + LANE_WIDTH_M,
            }
        }

        fn step(&mut self, lka: &mut Lka) -> Command {
            let mut o = obs_with(self.time_s, self.speed_mps, &[], Some(self.lane()));
            o.ego.steer_rad = self.steer_rad;
            let cmd = lka.step(&o).expect("steps");
            let dt = 0.05;
            let request = cmd.steer_rad.unwrap_or(self.driver_steer_rad);
            self.steer_rad += (request - self.steer_rad).clamp(-dt, dt);
            let v = self.speed_mps;
            self.heading_rad +=
                (v * self.steer_rad.tan() / WHEELBASE_M - v * self.curvature_per_m) * dt;
            self.offset_m += v * self.heading_rad.sin() * dt;
            self.time_s += dt;
            cmd
        }
    }

    fn drifting(speed_mps: f64, drift_mps: f64) -> LaneWorld {
        LaneWorld {
            time_s: 0.0,
            speed_mps,
            offset_m: 0.0,
            heading_rad: (drift_mps / speed_mps).asin(),
            curvature_per_m: 0.0,
            steer_rad: 0.0,
            driver_steer_rad: 0.0,
        }
    }

    #[test]
    fn lka_does_nothing_in_the_middle_of_the_lane() {
        let mut lka = Lka::new(LkaConfig::default());
        lka.reset(&setup());
        let mut world = drifting(25.0, 0.0);
        for _ in 0..200 {
            assert_eq!(world.step(&mut lka), Command::default());
        }
        // A slow drift far from the boundaries does not trigger either.
        let mut world = drifting(25.0, 0.1);
        world.offset_m = -0.4;
        for _ in 0..40 {
            assert_eq!(world.step(&mut lka), Command::default());
        }
    }

    #[test]
    fn lka_steers_back_towards_the_centre_without_crossing_the_line() {
        for (speed_kph, drift_mps) in [(30.0, 0.3), (72.0, 0.5), (100.0, 0.5), (130.0, 0.4)] {
            let mut lka = Lka::new(LkaConfig::default());
            lka.reset(&setup());
            let mut world = drifting(speed_kph / 3.6, drift_mps);
            let mut first = None;
            let mut released = false;
            let mut min_boundary_m = f64::INFINITY;
            for k in 0..400 {
                let cmd = world.step(&mut lka);
                min_boundary_m = min_boundary_m.min(world.lane().left_boundary_m);
                match (cmd.steer_rad, first) {
                    (Some(s), None) => {
                        first = Some(k);
                        // Drifting left: the first correction steers right.
                        assert!(s < 0.0, "{speed_kph} km/h: {s}");
                        assert!(cmd.warning && cmd.accel_mps2.is_none());
                    }
                    (None, Some(_)) => released = true,
                    _ => {}
                }
                if released {
                    break;
                }
            }
            assert!(first.is_some(), "{speed_kph} km/h: never intervened");
            assert!(released, "{speed_kph} km/h: never released");
            assert!(
                min_boundary_m > -0.3,
                "{speed_kph} km/h: crossed by {:.2} m",
                -min_boundary_m
            );
            // Back towards the centre and heading there or straight.
            assert!(
                world.offset_m < 0.25 && world.heading_rad < 0.01,
                "{speed_kph} km/h: {} {}",
                world.offset_m,
                world.heading_rad
            );
        }
    }

    #[test]
    fn lka_respects_its_angle_and_rate_limits() {
        let cfg = LkaConfig::default();
        let mut lka = Lka::new(cfg.clone());
        lka.reset(&setup());
        // Far off to the right with a steep heading: the law asks for a lot.
        let mut world = drifting(10.0, -1.5);
        world.offset_m = -0.7;
        let mut last = 0.0;
        let mut max_left_rad = f64::NEG_INFINITY;
        for _ in 0..60 {
            let cmd = world.step(&mut lka);
            let s = cmd.steer_rad.expect("intervenes");
            assert!(s.abs() <= cfg.max_steer_rad + 1e-12);
            let v_s = world.speed_mps.max(cfg.min_schedule_speed_mps);
            let rate = cfg
                .max_steer_rate_radps
                .min(cfg.max_lat_jerk_mps3 * WHEELBASE_M / (v_s * v_s));
            assert!((s - last).abs() <= rate * 0.05 + 1e-12, "{s} after {last}");
            max_left_rad = max_left_rad.max(s);
            last = s;
            if world.lane().right_boundary_m > 0.7 {
                break;
            }
        }
        // It steered left, back into the lane, at up to the lateral-acceleration limit.
        let limit_rad = cfg.max_lat_accel_mps2 * WHEELBASE_M / (world.speed_mps * world.speed_mps);
        assert!(
            max_left_rad > 0.9 * limit_rad && max_left_rad <= limit_rad + 1e-12,
            "{max_left_rad}"
        );
    }

    #[test]
    fn lka_adds_curvature_feed_forward() {
        let mut lka = Lka::new(LkaConfig::default());
        lka.reset(&setup());
        // A left curve of 400 m radius; the ego sits close to the right boundary, parallel to the lane.
        let lane = LaneObservation {
            curvature_per_m: 1.0 / 400.0,
            ..LaneWorld {
                time_s: 0.0,
                speed_mps: 25.0,
                offset_m: -0.6,
                heading_rad: 0.0,
                curvature_per_m: 0.0,
                steer_rad: 0.0,
                driver_steer_rad: 0.0,
            }
            .lane()
        };
        let straight = LaneObservation {
            curvature_per_m: 0.0,
            ..lane.clone()
        };
        let with = lka.steer_law_rad(&lane, 25.0, WHEELBASE_M);
        let without = lka.steer_law_rad(&straight, 25.0, WHEELBASE_M);
        assert!((with - without - (WHEELBASE_M / 400.0).atan()).abs() < 1e-12);
        // Closed loop in the curve: the ego is kept in its lane.
        let mut world = LaneWorld {
            time_s: 0.0,
            speed_mps: 25.0,
            offset_m: -0.6,
            heading_rad: 0.0,
            curvature_per_m: 1.0 / 400.0,
            steer_rad: 0.0,
            driver_steer_rad: 0.0,
        };
        let mut min_right_m = f64::INFINITY;
        for _ in 0..200 {
            world.step(&mut lka);
            min_right_m = min_right_m.min(world.lane().right_boundary_m);
        }
        assert!(min_right_m > -0.3, "{min_right_m}");
    }

    #[test]
    fn lka_stays_off_without_a_lane_or_below_its_speed() {
        let mut lka = Lka::new(LkaConfig::default());
        lka.reset(&setup());
        let world = LaneWorld {
            time_s: 0.0,
            speed_mps: 5.0,
            offset_m: 0.8,
            heading_rad: 0.05,
            curvature_per_m: 0.0,
            steer_rad: 0.0,
            driver_steer_rad: 0.0,
        };
        assert_eq!(
            lka.step(&obs_with(0.0, 5.0, &[], Some(world.lane())))
                .expect("steps"),
            Command::default()
        );
        assert_eq!(
            lka.step(&obs_with(0.05, 25.0, &[], None)).expect("steps"),
            Command::default()
        );
        assert!(!lka.is_active());
    }
}
