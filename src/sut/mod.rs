//! Systems under test: what they receive each step (an [`Observation`]), what they return (a
//! [`Command`]), and the built-in reference systems.
//!
//! The observation is what a real system would see: vehicle-bus signals, an object list as a
//! radar/fusion stage delivers it (produced by the sensor model, perfect by default), and the
//! lane as a lane-marking camera reports it, satellite-positioning fixes where the scenario
//! has a receiver, and — for systems that ask for them ([`System::wants_frames`]) — the latest
//! colour frame of each camera of the scenario with the time it was exposed. Ground truth never
//! reaches a system directly.
//!
//! Systems run in the harness (`builtin:NAME`) or as programs of their own (`exec:PATH`, a
//! manifest `FILE.toml`) that speak the process protocol of `docs/sut-protocol.md`.

pub mod builtin;
pub mod manifest;
pub mod process;
pub mod protocol;
pub mod shm;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

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

/// A satellite-positioning fix as the receiver of `[sensors.gnss]` delivers it (after its
/// latency). Positions are of the antenna, whose mount is `antenna_in_ego_m`.
#[derive(Clone, Debug, PartialEq)]
pub struct GnssFix {
    /// Time of validity: the run time at which the fix was measured, s.
    pub valid_at_s: f64,
    pub fix_type: crate::gnss::FixType,
    /// Geodetic position (CGCS2000): latitude and longitude in degrees, ellipsoidal height.
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub height_m: f64,
    /// The same position in the road frame: station along the reference line, lateral
    /// position (left positive), m.
    pub pos_in_road_m: [f64; 2],
    /// Velocity east, north, up, m/s.
    pub vel_enu_mps: [f64; 3],
    /// Velocity in the road frame at the fix's position: along the road, to the left, m/s.
    pub vel_in_road_mps: [f64; 2],
    /// Curvature of the reference line at the fix's position, from the road map, 1/m.
    pub map_curvature_per_m: f64,
    /// 1-σ horizontal and vertical accuracy the receiver estimates, m.
    pub sigma_h_m: f64,
    pub sigma_v_m: f64,
    /// Horizontal and vertical protection levels, m.
    pub hpl_m: f64,
    pub vpl_m: f64,
    pub n_sats_used: u32,
    /// Horizontal dilution of precision (`None` with fewer than 4 satellites tracked).
    pub hdop: Option<f64>,
    /// Antenna mount in the ego frame (x forward, y left, z up from the ground under the
    /// centre of the footprint), m.
    pub antenna_in_ego_m: [f64; 3],
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
    /// The newest fix of the scenario's receiver that has arrived; `None` without a receiver,
    /// before the first fix arrives, and when the newest epoch gave no position.
    pub gnss: Option<&'a GnssFix>,
    /// The latest frame of each camera of the scenario, in `[[sensors.camera]]` order, borrowed
    /// from the simulation (not copied per step). Empty for systems that do not ask for frames
    /// ([`System::wants_frames`]) and before a camera's first frame.
    pub frames: &'a [CameraFrame],
}

/// The latest frame of one camera as a system sees it: colour pixels only (no depth, no
/// instance ids, no labels), the camera's mount and intrinsics, and when it was exposed.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraFrame {
    /// The camera (id, resolution, field of view, mount in the ego frame, rate).
    pub camera: crate::render::Camera,
    /// Counts this camera's frames in the run from 0; a new number is a new frame.
    pub frame_index: u64,
    /// Simulation time at which the frame was exposed, s (the step at which it was rendered).
    pub exposed_at_s: f64,
    pub width_px: u32,
    pub height_px: u32,
    /// RGBA8, row-major from the top-left pixel.
    pub rgba: Vec<u8>,
}

/// A detection a system reports. Detections with a box are scored against the renderer's
/// labels of the frame they name (`eval::detection`; `docs/metrics.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub class: ObjectClass,
    /// Depth along the camera's optical axis to the object's nearest visible surface, m.
    pub distance_m: f64,
    /// 0–1.
    pub confidence: f64,
    /// Index of the camera (into [`Observation::frames`]) whose latest frame the box is in.
    pub camera: usize,
    /// `x0, y0, x1, y1` in pixels (edges, as labels have them); `None`: no box (not scored).
    pub bbox_px: Option<[f64; 4]>,
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
    /// The cameras whose frames the system will be handed ([`Observation::frames`], in this
    /// order); empty for systems that do not see through cameras.
    pub cameras: Vec<crate::render::Camera>,
}

/// A misbehaving system: the case ends in an `error` verdict with this reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SutError {
    #[error("system returned a non-finite {what}: {value}")]
    NonFinite { what: &'static str, value: f64 },
    #[error("system failed: {0}")]
    Failed(String),
    /// An out-of-process system misbehaved (crashed, exited, hung, answered late or with
    /// garbage, spoke another protocol version): the reason says what it did.
    #[error("system process {0}")]
    Process(String),
}

/// What [`System::submit`] did with an observation.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The command, at once.
    Done(Command),
    /// The command comes from [`System::collect`], after every run of the batch has submitted
    /// its observation (a process receives them together).
    Pending,
}

/// A system under test. One instance drives one run; the harness calls `reset` before a run.
pub trait System: Send {
    /// Short name as given to `--sut`.
    fn name(&self) -> &str;
    fn reset(&mut self, setup: &RunSetup);
    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError>;
    /// The first half of a step in a lockstep batch: the simulation submits the observations
    /// of every due run, then collects their commands, so that systems sharing a process
    /// receive them in one message. By default the command is computed at once.
    fn submit(&mut self, obs: &Observation<'_>) -> Result<Step, SutError> {
        self.step(obs).map(Step::Done)
    }
    /// The command of a submitted observation that answered [`Step::Pending`].
    fn collect(&mut self) -> Result<Command, SutError> {
        Err(SutError::Failed(
            "no observation is waiting for its command".into(),
        ))
    }
    /// The run has ended (the system may forget it).
    fn end(&mut self) {}
    /// Whether the system sees through cameras: only then are frames rendered for its runs
    /// and handed over in [`Observation::frames`] (a system without camera needs pays nothing).
    fn wants_frames(&self) -> bool {
        false
    }
}

/// Which system to test, as parsed from `--sut`.
#[derive(Clone, Debug, PartialEq)]
pub enum SutSpec {
    Builtin(builtin::BuiltinKind),
    /// A program speaking the process protocol (`exec:PATH` or a manifest).
    Process(Arc<manifest::ProcessSut>),
}

impl fmt::Display for SutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SutSpec::Builtin(k) => write!(f, "builtin:{}", k.name()),
            SutSpec::Process(p) => f.write_str(&p.label),
        }
    }
}

/// Why `--sut` could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SutSpecError {
    #[error("unknown built-in system `{name}`; built-in systems: {known}")]
    UnknownBuiltin { name: String, known: String },
    #[error("`exec:{path}`: cannot start the system: {error}")]
    Program {
        path: String,
        error: manifest::ProgramError,
    },
    /// The manifest has problems (each with its file, line and column).
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<String>().trim_end())]
    Manifest(Vec<crate::diag::Diagnostic>),
    #[error(
        "`{0}`: systems are given as `builtin:NAME`, `exec:PATH` or a manifest `FILE.toml` (ONNX models come later)"
    )]
    Unsupported(String),
}

impl SutSpec {
    /// Parses `--sut`. Programs are checked here: a program that does not exist or cannot be
    /// executed is an error before anything runs.
    pub fn parse(s: &str) -> Result<SutSpec, SutSpecError> {
        if let Some(name) = s.strip_prefix("builtin:") {
            return builtin::BuiltinKind::from_name(name)
                .map(SutSpec::Builtin)
                .ok_or_else(|| SutSpecError::UnknownBuiltin {
                    name: name.to_string(),
                    known: builtin::BuiltinKind::ALL
                        .iter()
                        .map(|k| format!("builtin:{}", k.name()))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
        }
        if let Some(path) = s.strip_prefix("exec:") {
            return manifest::exec_sut(path)
                .map(|p| SutSpec::Process(Arc::new(p)))
                .map_err(|error| SutSpecError::Program {
                    path: path.to_string(),
                    error,
                });
        }
        let path = Path::new(s);
        if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("toml"))
        {
            return manifest::load(path)
                .map(|p| SutSpec::Process(Arc::new(p)))
                .map_err(SutSpecError::Manifest);
        }
        Err(SutSpecError::Unsupported(s.to_string()))
    }

    /// The same system with per-case logs of failed runs written under `dir` (process systems;
    /// built-in systems write none).
    pub fn with_log_dir(&self, dir: &Path) -> SutSpec {
        match self {
            SutSpec::Process(p) => SutSpec::Process(Arc::new(manifest::ProcessSut {
                log_dir: Some(dir.to_path_buf()),
                ..(**p).clone()
            })),
            other => other.clone(),
        }
    }

    /// What identifies the system for `--resume`: the `--sut` text, and for a manifest a hash
    /// of its contents.
    pub fn identity(&self) -> String {
        match self {
            SutSpec::Process(p) if p.manifest_hash != 0 => {
                format!("{}#{:016x}", p.label, p.manifest_hash)
            }
            other => other.to_string(),
        }
    }

    /// The rate the system asks to be stepped at, overriding the scenarios' (manifests only).
    pub fn rate_hz(&self) -> Option<f64> {
        match self {
            SutSpec::Process(p) => p.rate_hz,
            SutSpec::Builtin(_) => None,
        }
    }

    /// Whether the system sees through cameras (see [`System::wants_frames`]): a suite it runs
    /// on needs a camera in every scenario.
    pub fn wants_frames(&self) -> bool {
        match self {
            SutSpec::Builtin(k) => k.wants_frames(),
            SutSpec::Process(p) => p.frames.is_some(),
        }
    }

    /// A fresh instance for one run (a process system gets a process of its own, closed when
    /// the instance is dropped; suites share processes through [`Systems`]).
    pub fn instantiate(&self) -> Box<dyn System> {
        match self {
            SutSpec::Builtin(k) => builtin::make(*k),
            SutSpec::Process(p) => process::solo_system(p.clone()),
        }
    }
}

/// Makes the systems of a suite's runs: built-in instances, or handles onto a pool of
/// processes (one per worker; a process holds up to its batch size of runs at once).
pub struct Systems {
    spec: SutSpec,
    pool: Option<process::Pool>,
}

impl Systems {
    pub fn new(spec: &SutSpec) -> Systems {
        Systems {
            spec: spec.clone(),
            pool: match spec {
                SutSpec::Process(p) => Some(process::Pool::new(p.clone())),
                SutSpec::Builtin(_) => None,
            },
        }
    }

    /// How many runs may be simulated together in one lockstep batch.
    pub fn runs_at_once(&self) -> usize {
        match &self.pool {
            Some(pool) => pool.sut().batch_size.max(1),
            None => usize::MAX,
        }
    }

    /// Whether the systems see through cameras (frames are rendered for them).
    pub fn wants_frames(&self) -> bool {
        self.spec.wants_frames()
    }

    /// The systems of one lockstep batch of at most [`Systems::runs_at_once`] runs.
    pub fn group(&self) -> SystemGroup<'_> {
        SystemGroup {
            spec: &self.spec,
            lease: self.pool.as_ref().map(process::Pool::lease),
        }
    }
}

/// The systems of one lockstep batch (see [`Systems::group`]).
pub struct SystemGroup<'s> {
    spec: &'s SutSpec,
    lease: Option<process::Lease<'s>>,
}

impl SystemGroup<'_> {
    /// The system of one run of a case.
    pub fn system(&mut self, case_id: &str, run_index: u32) -> Box<dyn System> {
        match &mut self.lease {
            Some(lease) => lease.system(case_id, run_index),
            None => self.spec.instantiate(),
        }
    }

    /// After the batch: `results` in the order the systems were made. A process that faulted
    /// is let go (the next group starts a fresh one) and the logs of failed runs are written.
    pub fn finish(self, results: &[crate::sim::RunResult]) {
        if let Some(lease) = self.lease {
            lease.finish(results);
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
    for d in &cmd.detections {
        let numbers = [d.distance_m, d.confidence]
            .into_iter()
            .chain(d.bbox_px.into_iter().flatten());
        for value in numbers {
            if !value.is_finite() {
                return Err(SutError::NonFinite {
                    what: "detection",
                    value,
                });
            }
        }
    }
    Ok(())
}
