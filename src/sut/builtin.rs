//! Built-in reference systems: documented baselines that every suite can be run against
//! (see `docs/reference-systems.md`).
//!
//! Each system lives in its own submodule with its parameters in a config struct whose
//! `Default` holds the documented values. All of them are deterministic (no randomness, no
//! clocks, no hash maps), allocate nothing per step once warmed up, keep their whole state in
//! their struct so that `reset` starts a clean run, and never return a non-finite number.

mod acc;
mod aeb;
mod aeb_vision;
mod careful_driver;
mod common;
mod lka;
mod lka_gnss;
mod rss;

pub use acc::{Acc, AccConfig};
pub use aeb::{Aeb, AebConfig, AebStage};
pub use aeb_vision::{AebVision, AebVisionConfig, Sighting, find_obstacle, guess_class};
pub use careful_driver::{CarefulDriver, CarefulDriverConfig, CarefulDriverPhase};
pub use lka::{Lka, LkaConfig};
pub use lka_gnss::{LkaGnss, LkaGnssConfig};
pub use rss::{Rss, RssConfig, rss_safe_distance_m};

use super::{Command, Observation, RunSetup, SutError, System};

/// The built-in systems, by `--sut builtin:NAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinKind {
    /// No intervention: the test driver drives.
    None,
    /// TTC-based forward-collision warning and staged emergency braking.
    Aeb,
    /// The same braking logic on an obstacle found in camera frames alone.
    AebVision,
    /// Adaptive cruise control with a constant time gap.
    Acc,
    /// Lane-keeping assistance that steers back when a lane boundary comes close.
    Lka,
    /// Lane keeping located by satellite fixes and the road map (no lane camera).
    LkaGnss,
    /// The UN R157 careful and competent human driver.
    CarefulDriver,
    /// Braking to keep the RSS safe longitudinal distance.
    Rss,
    /// A deliberately faulty system: warns and brakes hard at every step, whatever it sees
    /// (the false-reaction tests must catch it).
    AlwaysBrake,
}

impl BuiltinKind {
    pub const ALL: &'static [BuiltinKind] = &[
        BuiltinKind::None,
        BuiltinKind::Aeb,
        BuiltinKind::AebVision,
        BuiltinKind::Acc,
        BuiltinKind::Lka,
        BuiltinKind::LkaGnss,
        BuiltinKind::CarefulDriver,
        BuiltinKind::Rss,
        BuiltinKind::AlwaysBrake,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinKind::None => "none",
            BuiltinKind::Aeb => "aeb",
            BuiltinKind::AebVision => "aeb-vision",
            BuiltinKind::Acc => "acc",
            BuiltinKind::Lka => "lka",
            BuiltinKind::LkaGnss => "lka-gnss",
            BuiltinKind::CarefulDriver => "careful-driver",
            BuiltinKind::Rss => "rss",
            BuiltinKind::AlwaysBrake => "always-brake",
        }
    }

    pub fn from_name(name: &str) -> Option<BuiltinKind> {
        BuiltinKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Whether the system sees through cameras (frames are rendered for it).
    pub fn wants_frames(self) -> bool {
        matches!(self, BuiltinKind::AebVision)
    }
}

/// A fresh instance of a built-in system with its documented default parameters.
pub fn make(kind: BuiltinKind) -> Box<dyn System> {
    match kind {
        BuiltinKind::None => Box::new(NoIntervention),
        BuiltinKind::Aeb => Box::new(Aeb::new(AebConfig::default())),
        BuiltinKind::AebVision => Box::new(AebVision::new(AebVisionConfig::default())),
        BuiltinKind::Acc => Box::new(Acc::new(AccConfig::default())),
        BuiltinKind::Lka => Box::new(Lka::new(LkaConfig::default())),
        BuiltinKind::LkaGnss => Box::new(LkaGnss::new(LkaGnssConfig::default())),
        BuiltinKind::CarefulDriver => Box::new(CarefulDriver::new(CarefulDriverConfig::default())),
        BuiltinKind::Rss => Box::new(Rss::new(RssConfig::default())),
        BuiltinKind::AlwaysBrake => Box::new(AlwaysBrake),
    }
}

/// `builtin:none`: never intervenes.
pub struct NoIntervention;

impl System for NoIntervention {
    fn name(&self) -> &str {
        "none"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, _obs: &Observation<'_>) -> Result<Command, SutError> {
        Ok(Command::default())
    }
}

/// Braking request of `builtin:always-brake`, m/s² (an emergency braking demand by UN R152's
/// 4 m/s² threshold).
pub const ALWAYS_BRAKE_ACCEL_MPS2: f64 = -6.0;

/// `builtin:always-brake`: warns and requests emergency braking at every step.
pub struct AlwaysBrake;

impl System for AlwaysBrake {
    fn name(&self) -> &str {
        "always-brake"
    }
    fn reset(&mut self, _setup: &RunSetup) {}
    fn step(&mut self, _obs: &Observation<'_>) -> Result<Command, SutError> {
        Ok(Command {
            accel_mps2: Some(ALWAYS_BRAKE_ACCEL_MPS2),
            warning: true,
            ..Command::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::common::testkit::{car, obs_with, setup};
    use super::*;
    use crate::sut::{LaneObservation, ObjectClass, SutSpec, TrackedObject, check_command};

    #[test]
    fn names_round_trip_and_parse() {
        for &kind in BuiltinKind::ALL {
            assert_eq!(BuiltinKind::from_name(kind.name()), Some(kind));
            assert_eq!(
                SutSpec::parse(&format!("builtin:{}", kind.name())),
                Ok(SutSpec::Builtin(kind))
            );
            assert_eq!(make(kind).name(), kind.name());
        }
        assert_eq!(BuiltinKind::from_name("careful_driver"), None);
    }

    /// A lane observation for an ego `offset_m` left of the centre of a 3.5 m lane.
    fn lane(offset_m: f64, heading_rad: f64) -> LaneObservation {
        let half_gap_m = 0.5 * (3.5 - 1.8);
        LaneObservation {
            offset_m,
            heading_rad,
            curvature_per_m: 0.0,
            width_m: 3.5,
            left_boundary_m: half_gap_m - offset_m,
            right_boundary_m: half_gap_m + offset_m,
            right_road_edge_m: half_gap_m + offset_m + 0.5,
            left_road_edge_m: half_gap_m - offset_m + 3.5,
        }
    }

    /// A fixed, varied sequence of inputs: a closing target that cuts in and brakes, drift
    /// towards the lane edge, and a few steps of garbage (NaN and infinite values).
    fn mixed_sequence(step: usize) -> (f64, Vec<TrackedObject>, Option<LaneObservation>) {
        let t = step as f64 * 0.05;
        let speed_mps = (20.0 - 0.2 * t).max(0.0);
        let mut target = car(
            1,
            40.0 - 6.0 * t,
            (3.5 - 0.8 * t).max(0.0),
            -6.0 - 0.5 * t,
            if t < 4.4 { -0.8 } else { 0.0 },
        );
        target.measured_at_s = t;
        let mut objects = vec![target];
        let mut pedestrian = car(
            2,
            25.0 - speed_mps * t * 0.5,
            -4.0 + 1.4 * t,
            -speed_mps,
            1.4,
        );
        pedestrian.class = ObjectClass::Pedestrian;
        pedestrian.length_m = 0.5;
        pedestrian.width_m = 0.6;
        pedestrian.measured_at_s = t;
        objects.push(pedestrian);
        if (40..43).contains(&step) {
            objects[0].pos_in_ego_m[0] = f64::NAN;
            objects[1].rel_vel_in_ego_mps[1] = f64::INFINITY;
        }
        let lane = if step % 17 == 5 {
            None
        } else {
            Some(lane(0.3 + 0.01 * t, 0.01))
        };
        (speed_mps, objects, lane)
    }

    fn run_mixed(system: &mut dyn System) -> Vec<Command> {
        system.reset(&setup());
        let mut out = Vec::new();
        for step in 0..160 {
            let (speed_mps, objects, lane) = mixed_sequence(step);
            let mut o = obs_with(step as f64 * 0.05, speed_mps, &objects, lane);
            if step == 90 {
                o.ego.speed_mps = f64::NAN;
                o.ego.accel_mps2 = f64::NEG_INFINITY;
                o.set_speed_mps = f64::NAN;
            }
            let cmd = system.step(&o).expect("built-in systems do not fail");
            assert_eq!(
                check_command(&cmd),
                Ok(()),
                "{} step {step}: {cmd:?}",
                system.name()
            );
            out.push(cmd);
        }
        out
    }

    #[test]
    fn every_system_is_finite_deterministic_and_reset_starts_clean() {
        for &kind in BuiltinKind::ALL {
            let mut a = make(kind);
            let first = run_mixed(a.as_mut());
            // The same instance after `reset` repeats the run exactly.
            let again = run_mixed(a.as_mut());
            assert_eq!(
                first,
                again,
                "{}: reset did not give a clean run",
                kind.name()
            );
            // A fresh instance gives the same run too.
            let mut b = make(kind);
            assert_eq!(
                first,
                run_mixed(b.as_mut()),
                "{}: not deterministic",
                kind.name()
            );
        }
    }
}
