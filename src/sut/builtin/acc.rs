//! `builtin:acc`: adaptive cruise control with a constant time gap.
//!
//! The system takes over the longitudinal axis for good (it always returns an acceleration) and
//! never steers. It asks for the smaller of two accelerations:
//! - cruise: a_set = k_v · (v_set − v), towards the driver's set speed;
//! - following, when a lead vehicle is in the path: a_gap = k_p · (gap − d_des) + k_d · (v_lead − v),
//!   with the desired gap d_des = d_0 + T · v (constant time-gap policy);
//!
//! and clamps it to the ISO 15622 comfort band [−3.5, +2.0] m/s². With instantaneous actuation
//! the gap error obeys a stable second-order system whose characteristic polynomial is
//! s² + (k_d + T·k_p)·s + k_p; the default gains put both poles on the real axis (≈ −0.3 and
//! −1.3 1/s), so the ego settles on the gap without overshoot. The lead is the nearest object
//! whose footprint overlaps the ego's corridor now (no prediction of cut-ins); oncoming objects
//! are ignored.

use super::common::{Corridor, default_setup, ego_speed_mps, finite_or, object_is_usable};
use crate::sut::{Command, Observation, RunSetup, SutError, System};

/// Parameters of [`Acc`]. See `docs/reference-systems.md` for where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct AccConfig {
    /// Time gap to the lead vehicle, s.
    pub time_gap_s: f64,
    /// Gap kept at standstill, m.
    pub standstill_gap_m: f64,
    /// Gain on the gap error, (m/s²) per m.
    pub gap_gain_per_s2: f64,
    /// Gain on the speed difference to the lead, (m/s²) per (m/s).
    pub speed_difference_gain_per_s: f64,
    /// Gain on the difference to the set speed, (m/s²) per (m/s).
    pub set_speed_gain_per_s: f64,
    /// Largest acceleration asked for, m/s².
    pub max_accel_mps2: f64,
    /// Largest deceleration asked for (positive), m/s².
    pub max_decel_mps2: f64,
    /// Added to each side of the ego's half-width to form the path corridor, m.
    pub path_margin_m: f64,
    /// Objects whose speed over ground is below this (oncoming traffic) are not followed, m/s.
    pub min_lead_speed_mps: f64,
}

impl Default for AccConfig {
    fn default() -> Self {
        AccConfig {
            time_gap_s: 1.8,
            standstill_gap_m: 4.0,
            gap_gain_per_s2: 0.4,
            speed_difference_gain_per_s: 0.9,
            set_speed_gain_per_s: 0.5,
            max_accel_mps2: 2.0,
            max_decel_mps2: 3.5,
            path_margin_m: 0.2,
            min_lead_speed_mps: -1.0,
        }
    }
}

/// The ACC system. One instance drives one run.
pub struct Acc {
    cfg: AccConfig,
    setup: RunSetup,
}

impl Acc {
    pub fn new(cfg: AccConfig) -> Acc {
        Acc {
            cfg,
            setup: default_setup(),
        }
    }

    /// The acceleration the system asks for in this observation, m/s².
    fn accel_mps2(&self, obs: &Observation<'_>) -> f64 {
        let cfg = &self.cfg;
        let v_mps = ego_speed_mps(obs);
        let set_mps = finite_or(obs.set_speed_mps, 0.0).max(0.0);
        let mut accel_mps2 = cfg.set_speed_gain_per_s * (set_mps - v_mps);
        let corridor = Corridor::new(obs, self.setup.ego_width_m, cfg.path_margin_m);
        let lead = obs
            .objects
            .iter()
            .filter(|o| {
                object_is_usable(o)
                    && o.pos_in_ego_m[0] > 0.0
                    && v_mps + o.rel_vel_in_ego_mps[0] >= cfg.min_lead_speed_mps
                    && corridor.overlaps_at(o, 0.0)
            })
            .min_by(|a, b| {
                a.gap_m()
                    .total_cmp(&b.gap_m())
                    .then(a.track_id.cmp(&b.track_id))
            });
        if let Some(lead) = lead {
            let desired_gap_m = cfg.standstill_gap_m + cfg.time_gap_s * v_mps;
            let follow_mps2 = cfg.gap_gain_per_s2 * (lead.gap_m() - desired_gap_m)
                + cfg.speed_difference_gain_per_s * lead.rel_vel_in_ego_mps[0];
            accel_mps2 = accel_mps2.min(follow_mps2);
        }
        finite_or(accel_mps2, 0.0).clamp(
            -cfg.max_decel_mps2
                .min(self.setup.ego_max_decel_mps2.max(0.0)),
            cfg.max_accel_mps2,
        )
    }
}

impl System for Acc {
    fn name(&self) -> &str {
        "acc"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        Ok(Command {
            accel_mps2: Some(self.accel_mps2(obs)),
            steer_rad: None,
            warning: false,
            detections: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{Actor, World, car, obs_with, setup};
    use super::*;

    #[test]
    fn acc_converges_to_the_time_gap_behind_a_slower_lead() {
        // Ego at 30 m/s (set speed), lead at 20 m/s 100 m ahead.
        let mut world = World::new(30.0, vec![Actor::car(100.0 + 2.25, 0.0, 20.0)]);
        let mut acc = Acc::new(AccConfig::default());
        let log = world.run(&mut acc, 90.0);
        assert_eq!(world.impact_speed_mps, None);
        let gap_m = world.actors[0].x_m - 2.25 - world.ego_x_m;
        let desired_m = 4.0 + 1.8 * 20.0;
        assert!(
            (gap_m - desired_m).abs() < 0.02 * desired_m,
            "gap {gap_m:.2} m, desired {desired_m} m"
        );
        assert!(
            (world.ego_speed_mps - 20.0).abs() < 0.05,
            "{}",
            world.ego_speed_mps
        );
        // Always in control of the longitudinal axis, never of steering, within comfort limits.
        for (_, c) in &log {
            let a = c.accel_mps2.expect("ACC always commands an acceleration");
            assert!((-3.5..=2.0).contains(&a), "{a}");
            assert_eq!(c.steer_rad, None);
        }
    }

    #[test]
    fn acc_closes_up_to_a_faraway_lead_without_overshooting_the_gap() {
        // Lead at 25 m/s, ego slower (20 m/s) with a set speed of 30 m/s, 150 m behind.
        let mut world = World::new(20.0, vec![Actor::car(150.0 + 2.25, 0.0, 25.0)]);
        world.set_speed_mps = 30.0;
        let log = world.run(&mut Acc::new(AccConfig::default()), 120.0);
        assert_eq!(world.impact_speed_mps, None);
        assert!(log.iter().any(|(_, c)| c.accel_mps2 == Some(2.0)));
        let desired_m = 4.0 + 1.8 * 25.0;
        let gap_m = world.actors[0].x_m - 2.25 - world.ego_x_m;
        assert!(
            (gap_m - desired_m).abs() < 0.02 * desired_m,
            "gap {gap_m:.2} m"
        );
    }

    #[test]
    fn acc_holds_the_set_speed_without_a_lead() {
        let mut acc = Acc::new(AccConfig::default());
        acc.reset(&setup());
        let parked_next_lane = [car(1, 30.0, 3.5, -25.0, 0.0)];
        let mut o = obs_with(0.0, 25.0, &parked_next_lane, None);
        o.set_speed_mps = 25.0;
        assert_eq!(acc.step(&o).expect("steps").accel_mps2, Some(0.0));
        o.set_speed_mps = 30.0;
        assert_eq!(acc.step(&o).expect("steps").accel_mps2, Some(2.0));
        o.set_speed_mps = 20.0;
        assert_eq!(acc.step(&o).expect("steps").accel_mps2, Some(-2.5));
    }

    #[test]
    fn acc_stops_behind_a_stopping_lead() {
        // Following at 15 m/s; the lead brakes gently to a stop.
        let v = 15.0;
        let mut lead = Actor::car(4.0 + 1.8 * v + 2.25, 0.0, v);
        lead.ax_mps2 = -1.5;
        lead.accel_from_s = 2.0;
        let mut world = World::new(v, vec![lead]);
        let mut acc = Acc::new(AccConfig::default());
        acc.reset(&setup());
        for _ in 0..(60.0 / world.dt_s) as usize {
            let o = world.observe();
            let cmd = acc.step(&o).expect("steps");
            world.advance(&cmd);
        }
        assert_eq!(world.impact_speed_mps, None);
        assert!(world.ego_speed_mps < 0.05);
        let gap_m = world.actors[0].x_m - 2.25 - world.ego_x_m;
        assert!((gap_m - 4.0).abs() < 0.5, "{gap_m}");
    }
}
