//! `builtin:aeb`: forward-collision warning and staged autonomous emergency braking driven by
//! time to collision (TTC), the way production AEB is usually described.
//!
//! Each step the system picks the most urgent object on its predicted path (see
//! [`most_urgent_threat`]: lateral overlap with the ego's width plus a margin, predicted at the
//! moment of contact from the relative lateral velocity), computes its TTC (constant ego speed;
//! the object's braking, estimated from successive object lists, is extrapolated until it stops)
//! and escalates through three stages: warning, partial braking, full braking. Once braking it
//! holds the highest stage reached until the threat is gone or the ego stops; at standstill it
//! keeps the brakes on while the obstacle stays in front.

use super::common::{
    Corridor, STANDSTILL_SPEED_MPS, TrackMemory, default_setup, ego_speed_mps, most_urgent_threat,
    standstill_hold_needed,
};
use crate::sut::{Command, Observation, RunSetup, SutError, System};

/// Parameters of [`Aeb`]. See `docs/reference-systems.md` for where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct AebConfig {
    /// The forward-collision warning comes on at or below this TTC, s.
    pub warning_ttc_s: f64,
    /// Partial braking starts at or below this TTC, s.
    pub partial_brake_ttc_s: f64,
    /// Full braking starts at or below this TTC, s.
    pub full_brake_ttc_s: f64,
    /// Deceleration of partial braking (positive), m/s².
    pub partial_decel_mps2: f64,
    /// Deceleration of full braking (positive), m/s²; never more than the ego's maximum.
    pub full_decel_mps2: f64,
    /// Partial braking waits until the warning has been on this long (UN R152: warning at least
    /// 0.8 s before emergency braking); full braking never waits, s.
    pub min_warning_lead_s: f64,
    /// Braking ends when the TTC rises above this (hysteresis above the warning threshold), s ...
    pub release_ttc_s: f64,
    /// ... but only while the ego is faster than this; slower, it brakes to a stop, m/s.
    pub release_min_speed_mps: f64,
    /// Added to each side of the ego's half-width to form the path corridor, m.
    pub path_margin_m: f64,
    /// Lateral motion of objects is extrapolated at most this far ahead, s.
    pub prediction_horizon_s: f64,
    /// The system is inactive below this speed, m/s.
    pub min_speed_mps: f64,
    /// Time constant of the filter on objects' estimated accelerations, s.
    pub accel_filter_tau_s: f64,
    /// At standstill the brakes stay on while an object in the path is closer than this, m.
    pub hold_gap_m: f64,
    /// ... and is not driving away faster than this, m/s.
    pub hold_recede_speed_mps: f64,
}

impl Default for AebConfig {
    fn default() -> Self {
        AebConfig {
            warning_ttc_s: 2.6,
            partial_brake_ttc_s: 1.4,
            full_brake_ttc_s: 0.8,
            partial_decel_mps2: 4.0,
            full_decel_mps2: 9.0,
            min_warning_lead_s: 0.8,
            release_ttc_s: 3.0,
            release_min_speed_mps: 15.0 / 3.6,
            path_margin_m: 0.2,
            prediction_horizon_s: 3.0,
            min_speed_mps: 5.0 / 3.6,
            accel_filter_tau_s: 0.15,
            hold_gap_m: 10.0,
            hold_recede_speed_mps: 0.5,
        }
    }
}

/// Braking stage of [`Aeb`], in escalation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AebStage {
    Off,
    Partial,
    Full,
}

/// The AEB system. One instance drives one run.
pub struct Aeb {
    cfg: AebConfig,
    setup: RunSetup,
    tracks: TrackMemory,
    /// When the current warning came on.
    warning_since_s: Option<f64>,
    stage: AebStage,
}

impl Aeb {
    pub fn new(cfg: AebConfig) -> Aeb {
        Aeb {
            cfg,
            setup: default_setup(),
            tracks: TrackMemory::default(),
            warning_since_s: None,
            stage: AebStage::Off,
        }
    }

    /// The current braking stage.
    pub fn stage(&self) -> AebStage {
        self.stage
    }

    fn decel_mps2(&self, stage: AebStage) -> f64 {
        let max_mps2 = self.setup.ego_max_decel_mps2.max(0.0);
        match stage {
            AebStage::Off => 0.0,
            AebStage::Partial => self.cfg.partial_decel_mps2.min(max_mps2),
            AebStage::Full => self.cfg.full_decel_mps2.min(max_mps2),
        }
    }
}

impl System for Aeb {
    fn name(&self) -> &str {
        "aeb"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
        self.tracks.clear();
        self.warning_since_s = None;
        self.stage = AebStage::Off;
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let cfg = &self.cfg;
        self.tracks.update(obs, cfg.accel_filter_tau_s);
        let v_mps = ego_speed_mps(obs);
        let corridor = Corridor::new(obs, self.setup.ego_width_m, cfg.path_margin_m);
        let ttc_s = most_urgent_threat(obs, &corridor, &self.tracks, |_| cfg.prediction_horizon_s)
            .map_or(f64::INFINITY, |t| t.ttc_s);

        if self.stage != AebStage::Off {
            if v_mps < STANDSTILL_SPEED_MPS {
                // Standstill: keep the car where it is while the obstacle is still there.
                if !standstill_hold_needed(
                    obs,
                    &corridor,
                    cfg.hold_gap_m,
                    cfg.hold_recede_speed_mps,
                ) {
                    self.stage = AebStage::Off;
                }
            } else if !ttc_s.is_finite()
                || (ttc_s > cfg.release_ttc_s && v_mps > cfg.release_min_speed_mps)
            {
                // The threat is gone: no longer in the path, no longer closing, or far enough.
                self.stage = AebStage::Off;
            } else if ttc_s <= cfg.full_brake_ttc_s {
                self.stage = AebStage::Full;
            }
        } else if v_mps >= cfg.min_speed_mps {
            let warned_s = self.warning_since_s.map_or(0.0, |since| obs.time_s - since);
            if ttc_s <= cfg.full_brake_ttc_s {
                self.stage = AebStage::Full;
            } else if ttc_s <= cfg.partial_brake_ttc_s && warned_s >= cfg.min_warning_lead_s - 1e-9
            {
                self.stage = AebStage::Partial;
            }
        }

        // The warning accompanies every braking stage and otherwise follows the TTC.
        let warn = self.stage != AebStage::Off
            || (v_mps >= cfg.min_speed_mps && ttc_s <= cfg.warning_ttc_s);
        if warn {
            self.warning_since_s.get_or_insert(obs.time_s);
        } else {
            self.warning_since_s = None;
        }

        let accel_mps2 = match self.stage {
            AebStage::Off => None,
            stage => Some(-self.decel_mps2(stage)),
        };
        Ok(Command {
            accel_mps2,
            steer_rad: None,
            warning: warn,
            detections: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{Actor, World, car, obs_with, setup};
    use super::*;
    use crate::sut::ObjectClass;

    fn kph(v: f64) -> f64 {
        v / 3.6
    }

    /// CCRs: a stationary car dead ahead at TTC 4 s.
    fn ccrs(speed_kph: f64) -> World {
        let v = kph(speed_kph);
        World::new(v, vec![Actor::car(4.0 * v + 2.25, 0.0, 0.0)])
    }

    fn first_time(log: &[(f64, Command)], pred: impl Fn(&Command) -> bool) -> Option<f64> {
        log.iter().find(|(_, c)| pred(c)).map(|(t, _)| *t)
    }

    #[test]
    fn aeb_warns_before_braking_and_stages_in_order() {
        let mut world = ccrs(50.0);
        let mut aeb = Aeb::new(AebConfig::default());
        let log = world.run(&mut aeb, 10.0);
        let warn = first_time(&log, |c| c.warning).expect("warns");
        let partial = first_time(&log, |c| c.accel_mps2.is_some()).expect("brakes");
        let full = first_time(&log, |c| c.accel_mps2 == Some(-9.0)).expect("brakes fully");
        assert_eq!(
            log.iter()
                .find(|(t, _)| *t == partial)
                .and_then(|(_, c)| c.accel_mps2),
            Some(-4.0)
        );
        assert!(
            warn < partial && partial < full,
            "warn {warn} partial {partial} full {full}"
        );
        // UN R152: the warning comes at least 0.8 s before emergency braking.
        assert!(
            partial - warn >= 0.8 - 1e-9,
            "warning only {} s ahead",
            partial - warn
        );
        // Warning at TTC 2.6 s of the 4 s start: within one step of 1.4 s.
        assert!((warn - 1.4).abs() <= 0.05 + 1e-9, "{warn}");
        // Once braking, the stage never drops until the stop, and the warning stays on.
        let braking: Vec<_> = log.iter().filter(|(t, _)| *t >= partial).collect();
        assert!(
            braking
                .iter()
                .all(|(_, c)| c.accel_mps2.is_some() && c.warning)
        );
        assert!(
            braking
                .windows(2)
                .all(|w| w[1].1.accel_mps2 <= w[0].1.accel_mps2)
        );
        assert_eq!(world.impact_speed_mps, None);
    }

    #[test]
    fn aeb_avoids_ccrs_up_to_50_kph() {
        for speed_kph in [10.0, 20.0, 30.0, 40.0, 45.0, 50.0] {
            let mut world = ccrs(speed_kph);
            let log = world.run(&mut Aeb::new(AebConfig::default()), 12.0);
            assert_eq!(
                world.impact_speed_mps, None,
                "collision at {speed_kph} km/h"
            );
            assert!(
                world.ego_speed_mps == 0.0,
                "not stopped at {speed_kph} km/h"
            );
            assert!(log.iter().any(|(_, c)| c.warning));
        }
    }

    #[test]
    fn aeb_mitigates_ccrs_above_its_avoidance_range() {
        let mut collided_at = Vec::new();
        for speed_kph in [60.0, 70.0, 80.0] {
            let mut world = ccrs(speed_kph);
            world.run(&mut Aeb::new(AebConfig::default()), 12.0);
            if let Some(impact_mps) = world.impact_speed_mps {
                collided_at.push(speed_kph);
                // Mitigation: the impact speed is at most 60 % of the initial speed, and within
                // UN R152's limit where it has one (60 km/h: 35 km/h).
                assert!(
                    impact_mps < 0.6 * kph(speed_kph),
                    "{speed_kph} km/h: impact {:.1} km/h",
                    impact_mps * 3.6
                );
                if speed_kph == 60.0 {
                    assert!(impact_mps <= kph(35.0));
                }
            }
        }
        // A decent but not perfect system: at 80 km/h it no longer avoids the collision.
        assert!(collided_at.contains(&80.0), "{collided_at:?}");
    }

    #[test]
    fn aeb_ignores_stationary_car_in_adjacent_lane() {
        let v = kph(50.0);
        for y_m in [3.5, -3.5, 2.2] {
            let mut world = World::new(v, vec![Actor::car(4.0 * v, y_m, 0.0)]);
            let log = world.run(&mut Aeb::new(AebConfig::default()), 6.0);
            assert!(
                log.iter()
                    .all(|(_, c)| !c.warning && c.accel_mps2.is_none()),
                "y = {y_m}"
            );
        }
        // A car half overlapping the ego (Euro NCAP −50 % overlap) is a threat.
        let mut world = World::new(v, vec![Actor::car(4.0 * v, 0.9, 0.0)]);
        let log = world.run(&mut Aeb::new(AebConfig::default()), 6.0);
        assert!(log.iter().any(|(_, c)| c.accel_mps2.is_some()));
    }

    #[test]
    fn aeb_brakes_for_a_pedestrian_crossing_into_the_path() {
        // Adult crossing from the right at 5 km/h into the ego's path at 40 km/h (impact at the
        // ego's centre after 4 s if nobody brakes).
        let v = kph(40.0);
        let walk = kph(5.0);
        let mut ped = Actor::car(4.0 * v + 0.25, -4.0 * walk, 0.0);
        ped.class = ObjectClass::Pedestrian;
        ped.length_m = 0.5;
        ped.width_m = 0.6;
        ped.vy_mps = walk;
        ped.lateral_to_m = 20.0;
        let mut world = World::new(v, vec![ped.clone()]);
        let log = world.run(&mut Aeb::new(AebConfig::default()), 8.0);
        assert!(log.iter().any(|(_, c)| c.accel_mps2 == Some(-9.0)));
        assert_eq!(world.impact_speed_mps, None);
        // The same pedestrian starting 4 m further right is still outside the path when the ego
        // arrives: no braking (a warning may come, as the prediction is only linear).
        ped.y_m -= 4.0;
        let mut world = World::new(v, vec![ped]);
        let log = world.run(&mut Aeb::new(AebConfig::default()), 8.0);
        assert!(log.iter().all(|(_, c)| c.accel_mps2.is_none()));
    }

    #[test]
    fn aeb_uses_the_lead_vehicles_braking() {
        // CCRb: both at 50 km/h, 12 m apart, the lead brakes at 6 m/s² after 1 s.
        let v = kph(50.0);
        let mut lead = Actor::car(12.0 + 2.25, 0.0, v);
        lead.ax_mps2 = -6.0;
        lead.accel_from_s = 1.0;
        let mut world = World::new(v, vec![lead.clone()]);
        let log = world.run(&mut Aeb::new(AebConfig::default()), 10.0);
        let with_estimate = world.impact_speed_mps.unwrap_or(0.0);
        // Without the deceleration estimate (an extremely slow filter) the system reacts later.
        let slow = AebConfig {
            accel_filter_tau_s: 1e6,
            ..AebConfig::default()
        };
        let mut world2 = World::new(v, vec![lead]);
        let log2 = world2.run(&mut Aeb::new(slow), 10.0);
        let first_brake = |log: &[(f64, Command)]| {
            first_time(log, |c| c.accel_mps2.is_some()).unwrap_or(f64::INFINITY)
        };
        assert!(first_brake(&log) < first_brake(&log2));
        assert!(with_estimate <= world2.impact_speed_mps.unwrap_or(0.0));
    }

    #[test]
    fn aeb_never_exceeds_the_ego_maximum_deceleration() {
        let mut aeb = Aeb::new(AebConfig::default());
        aeb.reset(&RunSetup {
            ego_max_decel_mps2: 6.5,
            ..setup()
        });
        let objects = [car(1, 5.0, 0.0, -14.0, 0.0)];
        let cmd = aeb
            .step(&obs_with(0.0, 14.0, &objects, None))
            .expect("steps");
        assert_eq!(cmd.accel_mps2, Some(-6.5));
        assert_eq!(aeb.stage(), AebStage::Full);
        assert!(cmd.warning);
    }

    #[test]
    fn aeb_sudden_threat_waits_for_the_warning_before_partial_braking() {
        // A car appears at TTC 1.3 s: warning at once; partial braking would have to wait 0.8 s,
        // so the system brakes only when the TTC reaches the full-braking threshold.
        let mut aeb = Aeb::new(AebConfig::default());
        aeb.reset(&setup());
        let objects = [car(1, 2.25 + 13.0, 0.0, -10.0, 0.0)];
        let cmd = aeb
            .step(&obs_with(0.0, 10.0, &objects, None))
            .expect("steps");
        assert!(cmd.warning && cmd.accel_mps2.is_none());
        let objects = [car(1, 2.25 + 8.5, 0.0, -10.0, 0.0)];
        let cmd = aeb
            .step(&obs_with(0.45, 10.0, &objects, None))
            .expect("steps");
        assert!(
            cmd.warning && cmd.accel_mps2.is_none(),
            "TTC 0.85 s: warning only"
        );
        let objects = [car(1, 2.25 + 7.5, 0.0, -10.0, 0.0)];
        let cmd = aeb
            .step(&obs_with(0.55, 10.0, &objects, None))
            .expect("steps");
        assert_eq!(cmd.accel_mps2, Some(-9.0));
    }

    #[test]
    fn aeb_releases_when_the_threat_leaves_the_path() {
        let mut aeb = Aeb::new(AebConfig::default());
        aeb.reset(&setup());
        let objects = [car(1, 2.25 + 8.0, 0.0, -10.0, 0.0)];
        aeb.step(&obs_with(0.0, 20.0, &objects, None))
            .expect("steps");
        assert_eq!(aeb.stage(), AebStage::Full);
        let objects = [car(1, 2.25 + 7.5, 3.5, -10.0, 0.0)];
        let cmd = aeb
            .step(&obs_with(0.05, 20.0, &objects, None))
            .expect("steps");
        assert_eq!(aeb.stage(), AebStage::Off);
        assert_eq!(cmd, Command::default());
    }
}
