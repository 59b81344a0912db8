//! `builtin:careful-driver`: the UN R157 "careful and competent human driver" reference model,
//! after esmini's `ControllerALKS_R157SM` reference driver (protocols.md [F]), as a state machine
//! over the observation history.
//!
//! Phases: `Idle` → (a danger appears) → `Perceiving` for the perception time (0.4 s) →
//! `Reacting` for the reaction time (0.75 s) → `Ready`: the driver has taken the danger in and
//! brakes at once if the situation is critical, otherwise watches until it is or the danger has
//! passed → `Braking`: the brake ramps up with a jerk of 12.65 m/s³ to 0.774 g and is held until
//! the situation is resolved or the car stops → `Holding` at standstill while an obstacle is
//! close in front. The driver leaves the pedals to the test driver in every phase but the last
//! two, and never steers or warns.
//!
//! A danger appears (the perception clock starts) when:
//! - cut-in: a vehicle in an adjacent lane moving towards the ego's lane has left the lateral
//!   wandering band of its own lane, i.e. its centre is more than 0.375 m from its lane centre
//!   towards the ego lane (R157 lane wandering; the crossing time is interpolated within the
//!   step from its lateral speed);
//! - lead deceleration: the nearest vehicle in the path brakes harder than 1 m/s² (our choice:
//!   beyond coasting, where brake lights come on), estimated from successive object lists;
//! - hazard in the path: an object overlapping the ego's corridor now (pedestrians and cyclists:
//!   at the moment of contact, from their lateral motion) with a time to contact of at most 4 s
//!   — this is how a stationary obstacle revealed by a cut-out, or any closing object, is noticed.
//!
//! The situation is critical when the most urgent object in the predicted path has a time to
//! contact below 2.0 s (esmini's critical TTC) or avoiding it needs a deceleration of at least
//! 4 m/s² (our choice). Braking ends when nothing in the path is being closed in on, the lead is
//! not braking, and the gap is at least R157's minimum following distance.

use super::common::{
    Corridor, G_MPS2, STANDSTILL_SPEED_MPS, StepClock, Threat, TrackMemory, default_setup,
    ego_speed_mps, finite_or, most_urgent_threat, nearest_in_path, object_is_usable,
    required_decel_mps2, standstill_hold_needed,
};
use crate::sut::{Command, ObjectClass, Observation, RunSetup, SutError, System, TrackedObject};

/// Tolerance on time comparisons, s (time stamps are sums of floating-point steps).
const TIME_EPS_S: f64 = 1e-9;

/// Parameters of [`CarefulDriver`]. See `docs/reference-systems.md` for where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct CarefulDriverConfig {
    /// Time from the appearance of a danger to its perception, s.
    pub perception_time_s: f64,
    /// Time from perception to the start of braking, s.
    pub reaction_time_s: f64,
    /// Full braking deceleration (positive), m/s²; never more than the ego's maximum.
    pub brake_decel_mps2: f64,
    /// Rate at which the deceleration builds up, m/s³.
    pub brake_jerk_mps3: f64,
    /// Lateral wandering a vehicle shows within its lane without changing lanes, m.
    pub wandering_threshold_m: f64,
    /// A vehicle moves towards the ego lane when its lateral speed that way exceeds this, m/s.
    pub min_cut_in_lateral_speed_mps: f64,
    /// A lead braking harder than this is a danger, m/s² (positive).
    pub lead_decel_onset_mps2: f64,
    /// An object in the path with a time to contact at or below this is a danger, s.
    pub hazard_ttc_s: f64,
    /// Critical when the time to contact is below this, s ...
    pub critical_ttc_s: f64,
    /// ... or when avoiding the object needs at least this deceleration, m/s².
    pub critical_required_decel_mps2: f64,
    /// Added to each side of the ego's half-width to form the path corridor, m.
    pub path_margin_m: f64,
    /// Lateral motion of objects is extrapolated at most this far ahead, s.
    pub prediction_horizon_s: f64,
    /// Time constant of the filter on objects' estimated accelerations, s.
    pub accel_filter_tau_s: f64,
    /// Lane width assumed when the lane is not observed, m.
    pub assumed_lane_width_m: f64,
    /// R157 minimum following distance: time gap = base + per_kph · v[km/h] (v taken ≥ 10 km/h),
    /// the base part in s ...
    pub min_time_gap_base_s: f64,
    /// ... and the part per km/h of the ego's speed, s per km/h ...
    pub min_time_gap_per_kph_s: f64,
    /// ... and never less than this distance, m.
    pub min_following_distance_m: f64,
    /// At standstill the brake stays on while an object in the path is closer than this, m ...
    pub hold_gap_m: f64,
    /// ... and is not driving away faster than this, m/s.
    pub hold_recede_speed_mps: f64,
}

impl Default for CarefulDriverConfig {
    fn default() -> Self {
        CarefulDriverConfig {
            perception_time_s: 0.4,
            reaction_time_s: 0.75,
            brake_decel_mps2: 0.774 * G_MPS2,
            brake_jerk_mps3: 12.65,
            wandering_threshold_m: 0.375,
            min_cut_in_lateral_speed_mps: 0.1,
            lead_decel_onset_mps2: 1.0,
            hazard_ttc_s: 4.0,
            critical_ttc_s: 2.0,
            critical_required_decel_mps2: 4.0,
            path_margin_m: 0.2,
            prediction_horizon_s: 3.0,
            accel_filter_tau_s: 0.1,
            assumed_lane_width_m: 3.5,
            min_time_gap_base_s: 1.0,
            min_time_gap_per_kph_s: 0.01,
            min_following_distance_m: 2.0,
            hold_gap_m: 10.0,
            hold_recede_speed_mps: 0.5,
        }
    }
}

/// Phase of the [`CarefulDriver`] state machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CarefulDriverPhase {
    /// Nothing noticed.
    Idle,
    /// A danger appeared at `onset_s`; not yet perceived.
    Perceiving { onset_s: f64 },
    /// Perceived; the foot is on its way to the brake pedal.
    Reacting { onset_s: f64 },
    /// Aware of the danger; brakes as soon as it is critical.
    Ready,
    /// Braking with the ramped deceleration.
    Braking,
    /// Stopped behind an obstacle, brake held.
    Holding,
}

/// The careful-driver model. One instance drives one run.
pub struct CarefulDriver {
    cfg: CarefulDriverConfig,
    setup: RunSetup,
    clock: StepClock,
    tracks: TrackMemory,
    phase: CarefulDriverPhase,
    /// The acceleration requested in the previous step while braking (ramp state), m/s².
    brake_accel_mps2: f64,
}

impl CarefulDriver {
    pub fn new(cfg: CarefulDriverConfig) -> CarefulDriver {
        CarefulDriver {
            cfg,
            setup: default_setup(),
            clock: StepClock::default(),
            tracks: TrackMemory::default(),
            phase: CarefulDriverPhase::Idle,
            brake_accel_mps2: 0.0,
        }
    }

    pub fn phase(&self) -> CarefulDriverPhase {
        self.phase
    }

    /// The earliest moment, within the last step, at which a vehicle in an adjacent lane moving
    /// towards the ego lane left its wandering band; `None` if no vehicle is cutting in.
    fn cut_in_onset_s(&self, obs: &Observation<'_>, corridor: &Corridor, dt_s: f64) -> Option<f64> {
        let cfg = &self.cfg;
        let v_mps = ego_speed_mps(obs);
        let (offset_m, heading_rad, curvature_per_m, width_m) = match &obs.lane {
            Some(l) if l.width_m.is_finite() && l.width_m > 0.0 => (
                finite_or(l.offset_m, 0.0),
                finite_or(l.heading_rad, 0.0),
                finite_or(l.curvature_per_m, 0.0),
                l.width_m,
            ),
            _ => (0.0, 0.0, 0.0, cfg.assumed_lane_width_m),
        };
        let mut onset: Option<f64> = None;
        for o in obs
            .objects
            .iter()
            .filter(|o| object_is_usable(o) && is_vehicle(o.class) && o.gap_m() > 0.0)
        {
            if corridor.overlaps_at(o, 0.0) {
                continue;
            }
            let [x_m, y_m] = o.pos_in_ego_m;
            // Centre of the object relative to the centre of the ego's lane (first order in the
            // ego's heading relative to the lane, lane centre bent by its curvature).
            let y_lane_m = offset_m + y_m + x_m * heading_rad - 0.5 * curvature_per_m * x_m * x_m;
            if y_lane_m.abs() <= 0.5 * width_m || y_lane_m.abs() > 1.5 * width_m {
                continue;
            }
            let side = y_lane_m.signum();
            let lat_speed_lane_mps =
                o.rel_vel_in_ego_mps[1] + (v_mps + o.rel_vel_in_ego_mps[0]) * heading_rad;
            let towards_mps = -side * lat_speed_lane_mps;
            // How far the centre is from its own lane's centre, towards the ego lane.
            let wander_m = width_m - y_lane_m.abs();
            if towards_mps >= cfg.min_cut_in_lateral_speed_mps
                && wander_m > cfg.wandering_threshold_m
            {
                let since_s = ((wander_m - cfg.wandering_threshold_m) / towards_mps).min(dt_s);
                let t = obs.time_s - since_s;
                onset = Some(onset.map_or(t, |e: f64| e.min(t)));
            }
        }
        onset
    }

    /// Whether the nearest object in the path brakes harder than the onset threshold.
    fn lead_decelerating(&self, lead: Option<&TrackedObject>) -> bool {
        lead.is_some_and(|o| -self.tracks.accel_x_mps2(o.track_id) > self.cfg.lead_decel_onset_mps2)
    }

    fn is_critical(&self, threat: Option<&Threat>, v_mps: f64) -> bool {
        threat.is_some_and(|t| {
            t.ttc_s < self.cfg.critical_ttc_s
                || required_decel_mps2(t.gap_m, v_mps, t.obj_speed_mps, -t.obj_accel_mps2)
                    >= self.cfg.critical_required_decel_mps2
        })
    }

    /// R157 minimum following distance at speed `v_mps`, m.
    fn min_following_distance_m(&self, v_mps: f64) -> f64 {
        let cfg = &self.cfg;
        let time_gap_s =
            cfg.min_time_gap_base_s + cfg.min_time_gap_per_kph_s * (v_mps * 3.6).max(10.0);
        (v_mps * time_gap_s).max(cfg.min_following_distance_m)
    }
}

/// Vehicles change lanes; pedestrians and obstacles do not.
fn is_vehicle(class: ObjectClass) -> bool {
    matches!(
        class,
        ObjectClass::Car | ObjectClass::Motorcycle | ObjectClass::Cyclist
    )
}

/// Vulnerable road users whose crossing a driver anticipates from their motion.
fn is_vulnerable(class: ObjectClass) -> bool {
    matches!(class, ObjectClass::Pedestrian | ObjectClass::Cyclist)
}

impl System for CarefulDriver {
    fn name(&self) -> &str {
        "careful-driver"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
        self.clock = StepClock::default();
        self.tracks.clear();
        self.phase = CarefulDriverPhase::Idle;
        self.brake_accel_mps2 = 0.0;
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let dt_s = self.clock.dt_s(obs.time_s, self.setup.dt_s);
        self.tracks.update(obs, self.cfg.accel_filter_tau_s);
        let cfg = &self.cfg;
        let t = obs.time_s;
        let v_mps = ego_speed_mps(obs);
        let corridor = Corridor::new(obs, self.setup.ego_width_m, cfg.path_margin_m);
        // What an attentive driver expects: every object's lateral motion extrapolated.
        let threat = most_urgent_threat(obs, &corridor, &self.tracks, |_| cfg.prediction_horizon_s);
        // What catches an inattentive driver's eye: objects in the path now, and pedestrians and
        // cyclists heading into it.
        let horizon = cfg.prediction_horizon_s;
        let hazard = most_urgent_threat(obs, &corridor, &self.tracks, |o| {
            if is_vulnerable(o.class) { horizon } else { 0.0 }
        })
        .filter(|h| h.ttc_s <= cfg.hazard_ttc_s);
        let lead = nearest_in_path(obs, &corridor);
        let lead_decelerating = self.lead_decelerating(lead);
        let cut_in_onset_s = self.cut_in_onset_s(obs, &corridor, dt_s);
        let danger = hazard.is_some() || lead_decelerating || cut_in_onset_s.is_some();

        if self.phase == CarefulDriverPhase::Idle && danger {
            self.phase = CarefulDriverPhase::Perceiving {
                onset_s: cut_in_onset_s.unwrap_or(t).min(t),
            };
        }
        if let CarefulDriverPhase::Perceiving { onset_s } = self.phase {
            if t >= onset_s + cfg.perception_time_s - TIME_EPS_S {
                self.phase = CarefulDriverPhase::Reacting { onset_s };
            }
        }
        if let CarefulDriverPhase::Reacting { onset_s } = self.phase {
            if t >= onset_s + cfg.perception_time_s + cfg.reaction_time_s - TIME_EPS_S {
                self.phase = CarefulDriverPhase::Ready;
            }
        }
        if self.phase == CarefulDriverPhase::Ready {
            if self.is_critical(threat.as_ref(), v_mps) {
                self.phase = CarefulDriverPhase::Braking;
                self.brake_accel_mps2 = 0.0;
            } else if !danger && threat.is_none_or(|t| t.ttc_s > cfg.hazard_ttc_s) {
                // The danger has passed; attention returns to normal.
                self.phase = CarefulDriverPhase::Idle;
            }
        }
        if self.phase == CarefulDriverPhase::Braking {
            if v_mps < STANDSTILL_SPEED_MPS {
                self.phase = CarefulDriverPhase::Holding;
            } else {
                let gap_ok = lead.is_none_or(|o| o.gap_m() >= self.min_following_distance_m(v_mps));
                if threat.is_none() && !lead_decelerating && gap_ok {
                    self.phase = CarefulDriverPhase::Idle;
                }
            }
        }
        if self.phase == CarefulDriverPhase::Holding
            && !standstill_hold_needed(obs, &corridor, cfg.hold_gap_m, cfg.hold_recede_speed_mps)
        {
            self.phase = CarefulDriverPhase::Idle;
        }

        let max_decel_mps2 = cfg
            .brake_decel_mps2
            .min(self.setup.ego_max_decel_mps2.max(0.0));
        let accel_mps2 = match self.phase {
            CarefulDriverPhase::Braking => {
                self.brake_accel_mps2 =
                    (self.brake_accel_mps2 - cfg.brake_jerk_mps3 * dt_s).max(-max_decel_mps2);
                Some(finite_or(self.brake_accel_mps2, -max_decel_mps2))
            }
            CarefulDriverPhase::Holding => Some(-max_decel_mps2),
            _ => {
                self.brake_accel_mps2 = 0.0;
                None
            }
        };
        Ok(Command {
            accel_mps2,
            steer_rad: None,
            warning: false,
            detections: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{Actor, World, setup};
    use super::*;

    fn kph(v: f64) -> f64 {
        v / 3.6
    }

    /// Steps the world with the driver until `until_s`, calling `at` before each step.
    fn drive(
        world: &mut World,
        driver: &mut CarefulDriver,
        until_s: f64,
        mut at: impl FnMut(&mut World),
    ) -> Vec<(f64, Command)> {
        driver.reset(&setup());
        let mut log = Vec::new();
        while world.time_s < until_s - 1e-9 && world.impact_speed_mps.is_none() {
            at(world);
            let o = world.observe();
            let t = o.time_s;
            let cmd = driver.step(&o).expect("steps");
            world.advance(&cmd);
            log.push((t, cmd));
        }
        log
    }

    fn first_brake_s(log: &[(f64, Command)]) -> Option<f64> {
        log.iter()
            .find(|(_, c)| c.accel_mps2.is_some())
            .map(|(t, _)| *t)
    }

    /// A car in the left lane (centre at 3.5 m) starts moving into the ego lane at 1 m/s at t = 1 s.
    fn cut_in_world() -> World {
        let mut cutter = Actor::car(43.25 + 2.25, 3.5, 10.0);
        cutter.vy_mps = -1.0;
        cutter.lateral_from_s = 1.0;
        cutter.lateral_to_m = 0.0;
        World::new(20.0, vec![cutter])
    }

    #[test]
    fn careful_driver_brakes_perception_plus_reaction_after_the_cut_in_is_noticeable() {
        let mut world = cut_in_world();
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 8.0, |_| {});
        // The car leaves its wandering band (0.375 m) at t = 1.375 s; braking starts 0.4 + 0.75 s later.
        let expected_s = 1.0 + 0.375 + 0.4 + 0.75;
        let first = first_brake_s(&log).expect("brakes");
        assert!(
            first >= expected_s - 1e-9 && first - expected_s < 0.05 + 1e-9,
            "first brake at {first}, expected {expected_s}"
        );
        // Nothing before: no throttle lift, no warning, no steering.
        assert!(log.iter().all(|(_, c)| !c.warning && c.steer_rad.is_none()));
    }

    #[test]
    fn careful_driver_brake_ramp_follows_the_jerk_to_0_774_g() {
        let mut world = cut_in_world();
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 8.0, |_| {});
        // The first braking manoeuvre (the driver may brake again later, after releasing).
        let brakes: Vec<f64> = log
            .iter()
            .skip_while(|(_, c)| c.accel_mps2.is_none())
            .map_while(|(_, c)| c.accel_mps2)
            .collect();
        assert!(brakes.len() > 12, "{}", brakes.len());
        assert!((brakes[0] + 12.65 * 0.05).abs() < 1e-9, "{}", brakes[0]);
        for w in brakes.windows(2) {
            assert!(
                w[1] <= w[0] + 1e-12 && w[0] - w[1] <= 12.65 * 0.05 + 1e-9,
                "{w:?}"
            );
        }
        let full = 0.774 * G_MPS2;
        assert!(brakes.iter().any(|&a| (a + full).abs() < 1e-9));
        assert!(brakes.iter().all(|&a| a >= -full - 1e-9));
        // 0.774 g is reached after 0.6 s (12.65 m/s³ × 0.6 s = 0.774 × 9.81 m/s²; with standard
        // gravity a hair later, in the 13th step of 0.05 s).
        assert!(
            (brakes[12] + full).abs() < 1e-9 && brakes[11] > -full,
            "{brakes:?}"
        );
    }

    #[test]
    fn careful_driver_ignores_a_cut_in_that_is_not_critical() {
        // The same manoeuvre by a car that is faster than the ego: perceived, not braked for.
        let mut world = cut_in_world();
        world.actors[0].vx_mps = 24.0;
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 8.0, |_| {});
        assert_eq!(first_brake_s(&log), None);
    }

    #[test]
    fn careful_driver_ignores_a_car_that_stays_in_the_next_lane() {
        let mut world = World::new(20.0, vec![Actor::car(30.0, 3.5, 0.0)]);
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 4.0, |_| {});
        assert_eq!(first_brake_s(&log), None);
        assert_eq!(driver.phase(), CarefulDriverPhase::Idle);
    }

    #[test]
    fn careful_driver_reacts_to_a_braking_lead() {
        // R157 deceleration: both at 60 km/h, 25 m apart; the lead brakes at 6 m/s² from t = 1 s.
        let v = kph(60.0);
        let mut lead = Actor::car(25.0 + 2.25, 0.0, v);
        lead.ax_mps2 = -6.0;
        lead.accel_from_s = 1.0;
        let mut world = World::new(v, vec![lead]);
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 10.0, |_| {});
        // The deceleration shows in the object list at t = 1.05 s.
        let expected_s = 1.05 + 0.4 + 0.75;
        let first = first_brake_s(&log).expect("brakes");
        assert!(
            (first - expected_s).abs() < 0.05 + 1e-9,
            "{first} vs {expected_s}"
        );
        assert_eq!(world.impact_speed_mps, None);
    }

    #[test]
    fn careful_driver_reacts_to_an_obstacle_revealed_by_a_cut_out() {
        // A lead at 60 km/h leaves the lane at t = 0.2 s; at t = 1 s a stationary car appears in the
        // object list 50 m ahead (TTC 3 s), until then hidden behind the lead.
        let v = kph(60.0);
        let mut lead = Actor::car(20.0 + 2.25, 0.0, v);
        lead.vy_mps = 3.0;
        lead.lateral_from_s = 0.2;
        lead.lateral_to_m = 3.5;
        let mut world = World::new(v, vec![lead]);
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 10.0, |w| {
            if (w.time_s - 1.0).abs() < 1e-9 {
                let ego_x = w.ego_x_m;
                w.actors.push(Actor::car(ego_x + 50.0 + 2.25, 0.0, 0.0));
            }
        });
        let first = first_brake_s(&log).expect("brakes");
        assert!((first - 2.15).abs() < 0.05 + 1e-9, "{first}");
        assert_eq!(world.impact_speed_mps, None);
        assert!(world.ego_speed_mps < 0.1);
        assert_eq!(driver.phase(), CarefulDriverPhase::Holding);
    }

    #[test]
    fn careful_driver_notices_a_closing_stationary_car_at_the_hazard_ttc() {
        // CCRs at 100 km/h from TTC 6 s: noticed at TTC 4 s, braking 1.15 s later (by then
        // avoiding the car needs more than 4 m/s²).
        let v = kph(100.0);
        let mut world = World::new(v, vec![Actor::car(6.0 * v + 2.25, 0.0, 0.0)]);
        let mut driver = CarefulDriver::new(CarefulDriverConfig::default());
        let log = drive(&mut world, &mut driver, 12.0, |_| {});
        let first = first_brake_s(&log).expect("brakes");
        assert!((first - (2.0 + 1.15)).abs() < 0.05 + 1e-9, "{first}");
        assert_eq!(world.impact_speed_mps, None);
    }
}
