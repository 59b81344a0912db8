//! Systems under test: what they receive each step (an [`Observation`]), what they return (a
//! [`Command`]), and the built-in reference systems.
//!
//! The observation is what a real system would see: vehicle-bus signals, an object list as a
//! radar/fusion stage delivers it (produced by the sensor model, perfect by default), and the
//! lane as a lane-marking camera reports it. Ground truth never reaches a system directly.
//! Later sensor work (camera frames, satellite fixes, out-of-process systems) adds fields here.

pub mod builtin;

use std::fmt;

/// Class of a detected object, as perception stacks report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectClass {
    Car,
    Pedestrian,
    Cyclist,
    Motorcycle,
    /// Cones, barriers, boxes, overturned vehicles.
    StaticObstacle,
}

/// One object in the object list. Ego frame: origin at the centre of the ego's front bumper,
/// x forward, y left.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedObject {
    /// Stable track id within a run.
    pub track_id: u32,
    pub class: ObjectClass,
    /// Centre of the object's footprint.
    pub pos_in_ego_m: [f64; 2],
    /// Velocity relative to the ego (the rate of change of `pos_in_ego_m`).
    pub rel_vel_in_ego_mps: [f64; 2],
    /// Heading relative to the ego's, rad.
    pub heading_in_ego_rad: f64,
    pub length_m: f64,
    pub width_m: f64,
    /// Time at which this measurement was taken (object lists arrive with latency).
    pub measured_at_s: f64,
}

impl TrackedObject {
    /// Longitudinal distance from the ego's front bumper to the nearest point of the object's
    /// footprint along x (negative if the footprint reaches behind the bumper).
    pub fn gap_m(&self) -> f64 {
        let (c, s) = (
            self.heading_in_ego_rad.cos().abs(),
            self.heading_in_ego_rad.sin().abs(),
        );
        self.pos_in_ego_m[0] - 0.5 * (self.length_m * c + self.width_m * s)
    }
    /// Lateral extent of the footprint in the ego frame: (right-most y, left-most y).
    pub fn lateral_extent_m(&self) -> (f64, f64) {
        let (c, s) = (
            self.heading_in_ego_rad.cos().abs(),
            self.heading_in_ego_rad.sin().abs(),
        );
        let half = 0.5 * (self.length_m * s + self.width_m * c);
        (self.pos_in_ego_m[1] - half, self.pos_in_ego_m[1] + half)
    }
}

/// The ego's own signals from the vehicle bus.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EgoSignals {
    pub speed_mps: f64,
    /// Longitudinal acceleration (negative when braking).
    pub accel_mps2: f64,
    pub yaw_rate_radps: f64,
    /// Road-wheel steering angle.
    pub steer_rad: f64,
    pub length_m: f64,
    pub width_m: f64,
    pub wheelbase_m: f64,
}

/// The ego's lane as a lane-marking camera reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaneObservation {
    /// Lateral offset of the ego's centre from its lane's centre (positive: ego left of centre).
    pub offset_m: f64,
    /// Heading of the ego relative to the lane (positive: pointing left).
    pub heading_rad: f64,
    /// Curvature of the lane ahead (positive: turns left), 1/m.
    pub curvature_per_m: f64,
    pub width_m: f64,
    /// Distance from the ego's left side to the left lane boundary (negative when crossed).
    pub left_boundary_m: f64,
    /// Distance from the ego's right side to the right lane boundary (negative when crossed).
    pub right_boundary_m: f64,
    /// Distance from the ego's right side to the edge of the paved road.
    pub right_road_edge_m: f64,
    /// Distance from the ego's left side to the left edge of the paved road.
    pub left_road_edge_m: f64,
}

/// Everything a system under test receives at one of its steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation<'a> {
    pub time_s: f64,
    pub ego: EgoSignals,
    pub objects: &'a [TrackedObject],
    pub lane: Option<LaneObservation>,
    /// Set speed of the driver (what the test driver holds), for ACC-like systems.
    pub set_speed_mps: f64,
}

/// A detection a system reports (scored by the camera work; optional for others).
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub class: ObjectClass,
    pub distance_m: f64,
    pub confidence: f64,
}

/// What a system under test asks for. `None` leaves that axis to the test driver.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    /// Longitudinal acceleration request (negative = braking), m/s².
    pub accel_mps2: Option<f64>,
    /// Road-wheel steering angle request, rad.
    pub steer_rad: Option<f64>,
    /// A forward-collision or lane-departure warning is active.
    pub warning: bool,
    pub detections: Vec<Detection>,
}

/// Fixed facts of a run given to a system before its first step.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSetup {
    /// Time between the system's steps.
    pub dt_s: f64,
    pub ego_length_m: f64,
    pub ego_width_m: f64,
    pub ego_wheelbase_m: f64,
    pub ego_max_decel_mps2: f64,
}

/// A misbehaving system: the case ends in an `error` verdict with this reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SutError {
    #[error("system returned a non-finite {what}: {value}")]
    NonFinite { what: &'static str, value: f64 },
    #[error("system failed: {0}")]
    Failed(String),
}

/// A system under test. One instance drives one run; the harness calls `reset` before a run.
pub trait System: Send {
    /// Short name as given to `--sut`.
    fn name(&self) -> &str;
    fn reset(&mut self, setup: &RunSetup);
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError>;
}

/// Which system to test, as parsed from `--sut`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SutSpec {
    Builtin(builtin::BuiltinKind),
}

impl fmt::Display for SutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SutSpec::Builtin(k) => write!(f, "builtin:{}", k.name()),
        }
    }
}

/// Why `--sut` could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SutSpecError {
    #[error("unknown built-in system `{name}`; built-in systems: {known}")]
    UnknownBuiltin { name: String, known: String },
    #[error(
        "`{0}`: systems are given as `builtin:NAME` in this version (process, manifest and ONNX systems come later)"
    )]
    Unsupported(String),
}

impl SutSpec {
    pub fn parse(s: &str) -> Result<SutSpec, SutSpecError> {
        match s.strip_prefix("builtin:") {
            Some(name) => builtin::BuiltinKind::from_name(name)
                .map(SutSpec::Builtin)
                .ok_or_else(|| SutSpecError::UnknownBuiltin {
                    name: name.to_string(),
                    known: builtin::BuiltinKind::ALL
                        .iter()
                        .map(|k| format!("builtin:{}", k.name()))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            None => Err(SutSpecError::Unsupported(s.to_string())),
        }
    }

    /// A fresh instance for one run.
    pub fn instantiate(&self) -> Box<dyn System> {
        match self {
            SutSpec::Builtin(k) => builtin::make(*k),
        }
    }
}

/// Checks a command for non-finite numbers before the harness uses it.
pub fn check_command(cmd: &Command) -> Result<(), SutError> {
    if let Some(a) = cmd.accel_mps2 {
        if !a.is_finite() {
            return Err(SutError::NonFinite {
                what: "acceleration request",
                value: a,
            });
        }
    }
    if let Some(s) = cmd.steer_rad {
        if !s.is_finite() {
            return Err(SutError::NonFinite {
                what: "steering request",
                value: s,
            });
        }
    }
    Ok(())
}
