//! `builtin:rss`: braking to restore the Responsibility-Sensitive Safety (RSS) safe longitudinal
//! distance to the object ahead in the ego's path.
//!
//! d_safe = max(0, v_r·ρ + ½·a_acc·ρ² + (v_r + ρ·a_acc)²/(2·b_min) − v_f²/(2·b_max))
//! (protocols.md [G]), with v_r the ego's speed and v_f the lead's speed over ground. While the
//! gap is below d_safe the system brakes with at least b_min, rising linearly to b_max as the
//! violation (d_safe − gap)/d_safe grows to 1 (never more than the ego's maximum deceleration);
//! as soon as the gap is back at or above d_safe it releases. Only the longitudinal rule is
//! implemented: objects count when their footprint overlaps the ego's corridor now. RSS is a
//! braking rule, not a warning system: the warning flag stays off.

use super::common::{Corridor, default_setup, ego_speed_mps, nearest_in_path};
use crate::sut::{Command, Observation, RunSetup, SutError, System};

/// Parameters of [`Rss`]. See `docs/reference-systems.md` for where each value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct RssConfig {
    /// Response time ρ of the ego, s.
    pub response_time_s: f64,
    /// Largest acceleration of the ego during its response time, a_acc, m/s².
    pub max_accel_mps2: f64,
    /// Smallest braking the ego is guaranteed to apply, b_min (positive), m/s².
    pub min_brake_mps2: f64,
    /// Largest braking the lead may apply, b_max (positive), m/s²; also the ego's strongest response.
    pub max_brake_mps2: f64,
    /// Added to each side of the ego's half-width to form the path corridor, m.
    pub path_margin_m: f64,
}

impl Default for RssConfig {
    fn default() -> Self {
        RssConfig {
            response_time_s: 1.0,
            max_accel_mps2: 3.5,
            min_brake_mps2: 4.0,
            max_brake_mps2: 8.0,
            path_margin_m: 0.2,
        }
    }
}

/// The RSS safe longitudinal distance (protocols.md [G]) for an ego at `v_rear_mps` behind an
/// object moving at `v_front_mps` (clamped to ≥ 0: an oncoming object counts as standing), m.
pub fn rss_safe_distance_m(cfg: &RssConfig, v_rear_mps: f64, v_front_mps: f64) -> f64 {
    let rho = cfg.response_time_s.max(0.0);
    let v_r = v_rear_mps.max(0.0);
    let v_f = v_front_mps.max(0.0);
    let v_after_mps = v_r + rho * cfg.max_accel_mps2;
    let d = v_r * rho
        + 0.5 * cfg.max_accel_mps2 * rho * rho
        + v_after_mps * v_after_mps / (2.0 * cfg.min_brake_mps2)
        - v_f * v_f / (2.0 * cfg.max_brake_mps2);
    if d.is_finite() { d.max(0.0) } else { 0.0 }
}

/// The RSS system. One instance drives one run.
pub struct Rss {
    cfg: RssConfig,
    setup: RunSetup,
}

impl Rss {
    pub fn new(cfg: RssConfig) -> Rss {
        Rss {
            cfg,
            setup: default_setup(),
        }
    }
}

impl System for Rss {
    fn name(&self) -> &str {
        "rss"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        let cfg = &self.cfg;
        let v_mps = ego_speed_mps(obs);
        let corridor = Corridor::new(obs, self.setup.ego_width_m, cfg.path_margin_m);
        let mut cmd = Command::default();
        if let Some(lead) = nearest_in_path(obs, &corridor) {
            let gap_m = lead.gap_m();
            let d_safe_m = rss_safe_distance_m(cfg, v_mps, v_mps + lead.rel_vel_in_ego_mps[0]);
            if gap_m < d_safe_m {
                let violation = ((d_safe_m - gap_m) / d_safe_m).clamp(0.0, 1.0);
                let decel_mps2 =
                    cfg.min_brake_mps2 + (cfg.max_brake_mps2 - cfg.min_brake_mps2) * violation;
                let decel_mps2 = decel_mps2.min(self.setup.ego_max_decel_mps2.max(0.0));
                cmd.accel_mps2 = Some(if decel_mps2.is_finite() {
                    -decel_mps2
                } else {
                    -cfg.min_brake_mps2
                });
            }
        }
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testkit::{Actor, World, car, obs_with, setup};
    use super::*;

    #[test]
    fn rss_safe_distance_matches_the_formula() {
        let cfg = RssConfig::default();
        // v_r = 20, v_f = 20: 20 + 1.75 + 23.5²/8 − 400/16.
        let expected = 20.0 + 1.75 + 23.5 * 23.5 / 8.0 - 400.0 / 16.0;
        assert!((rss_safe_distance_m(&cfg, 20.0, 20.0) - expected).abs() < 1e-12);
        // A much faster lead: no distance needed.
        assert_eq!(rss_safe_distance_m(&cfg, 5.0, 40.0), 0.0);
        // Standstill behind a stopped object: ½·a_acc·ρ² + (ρ·a_acc)²/(2·b_min).
        assert!((rss_safe_distance_m(&cfg, 0.0, 0.0) - (1.75 + 12.25 / 8.0)).abs() < 1e-12);
    }

    #[test]
    fn rss_brakes_exactly_when_the_gap_is_below_the_safe_distance() {
        // Ego at 25 m/s closing on a lead at 15 m/s from 120 m; test driver holds speed otherwise.
        let cfg = RssConfig::default();
        let mut world = World::new(25.0, vec![Actor::car(120.0 + 2.25, 0.0, 15.0)]);
        let mut rss = Rss::new(cfg.clone());
        rss.reset(&setup());
        let mut braked = false;
        for _ in 0..400 {
            let o = world.observe();
            let lead = &o.objects[0];
            let d_safe = rss_safe_distance_m(
                &cfg,
                o.ego.speed_mps,
                o.ego.speed_mps + lead.rel_vel_in_ego_mps[0],
            );
            let unsafe_now = lead.gap_m() < d_safe;
            let cmd = rss.step(&o).expect("steps");
            assert_eq!(
                cmd.accel_mps2.is_some(),
                unsafe_now,
                "t = {:.2}: gap {:.2}, d_safe {:.2}",
                o.time_s,
                lead.gap_m(),
                d_safe
            );
            if let Some(a) = cmd.accel_mps2 {
                assert!((-8.0..=-4.0).contains(&a), "{a}");
                braked = true;
            }
            world.advance(&cmd);
        }
        assert!(braked);
        assert_eq!(world.impact_speed_mps, None);
    }

    #[test]
    fn rss_braking_grows_with_the_violation() {
        let cfg = RssConfig::default();
        let mut rss = Rss::new(cfg.clone());
        rss.reset(&setup());
        let d_safe = rss_safe_distance_m(&cfg, 20.0, 0.0);
        let decel_at = |rss: &mut Rss, gap_m: f64| {
            let objects = [car(1, gap_m + 2.25, 0.0, -20.0, 0.0)];
            rss.step(&obs_with(0.0, 20.0, &objects, None))
                .expect("steps")
                .accel_mps2
        };
        assert_eq!(decel_at(&mut rss, d_safe + 0.01), None);
        let slight = decel_at(&mut rss, d_safe - 0.01).expect("brakes");
        assert!((slight + 4.0).abs() < 1e-3, "{slight}");
        let half = decel_at(&mut rss, 0.5 * d_safe).expect("brakes");
        assert!((half + 6.0).abs() < 1e-9, "{half}");
        assert_eq!(decel_at(&mut rss, 0.0), Some(-8.0));
        // Never beyond the ego's limit.
        rss.reset(&RunSetup {
            ego_max_decel_mps2: 7.0,
            ..setup()
        });
        assert_eq!(decel_at(&mut rss, 0.0), Some(-7.0));
    }

    #[test]
    fn rss_ignores_objects_outside_the_path() {
        let mut rss = Rss::new(RssConfig::default());
        rss.reset(&setup());
        let objects = [car(1, 10.0, 3.5, -20.0, 0.0), car(2, -8.0, 0.0, 5.0, 0.0)];
        assert_eq!(
            rss.step(&obs_with(0.0, 20.0, &objects, None))
                .expect("steps"),
            Command::default()
        );
    }
}
