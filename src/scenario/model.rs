//! The domain model of one expanded case: plain types in SI units and the road frame, built
//! from the file types with every derived decision settled (placements, lane-change timing).
//!
//! Conversion also performs the semantic checks that make a set-up impossible (overlapping
//! actors at t = 0, a cut-in that would have to start before t = 0, …); each problem names the
//! JSON pointer of the field responsible.

use super::format as f;
use crate::gnss::Profile;
use crate::gnss::environment::EnvironmentKind;
use crate::gnss::geodesy::Geodetic;
use crate::perturb::{Perturbation, parse_spec};
use crate::render::{Camera, Light, Lighting};
use crate::sim::collision::{Footprint, Touching, overlap_with};

pub use super::FieldError as ModelError;

fn err(pointer: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError::new(pointer, message)
}

const KPH: f64 = 1.0 / 3.6;

/// Most actors in one scenario: placement checks compare every pair (protocols use a handful).
pub const MAX_ACTORS: usize = 256;

/// One case, ready to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub protocol: Option<String>,
    pub judge: Option<JudgeRef>,
    pub odd_tags: Vec<String>,
    /// The object-list sensor (perfect unless the scenario says otherwise).
    pub object_sensor: ObjectSensor,
    pub runs: u32,
    pub retries: u32,
    pub timing: Timing,
    pub road: Road,
    pub ego: Ego,
    pub actors: Vec<Actor>,
    /// Cameras declared with `[[sensors.camera]]`, in file order; empty if none (the renderer
    /// then uses [`Camera::front`]).
    pub cameras: Vec<Camera>,
    /// Light of the scene (`[lighting]`; day with the default sun if omitted).
    pub lighting: Lighting,
    /// The satellite-positioning receiver of `[sensors.gnss]`, if any.
    pub gnss: Option<GnssReceiver>,
    /// The perturbation chain of each camera of [`Scenario::cameras`], in the same order
    /// (`[perturbations]`; empty chains when none).
    pub camera_chains: Vec<Vec<Perturbation>>,
}

impl Scenario {
    /// The perturbation chain of camera `camera` (an index into [`Scenario::cameras`]).
    pub fn camera_chain(&self, camera: usize) -> &[Perturbation] {
        self.camera_chains.get(camera).map_or(&[], Vec::as_slice)
    }

    /// Whether any camera's frames are perturbed.
    pub fn is_perturbed(&self) -> bool {
        self.camera_chains.iter().any(|c| !c.is_empty())
    }
}

/// Where the road frame lies on the Earth: station 0 of the reference line and the direction
/// of the world frame's x axis (the road's start direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoFrame {
    pub origin: Geodetic,
    /// Azimuth of the world x axis, clockwise from north, rad.
    pub heading_rad: f64,
}

impl GeoFrame {
    /// The default: Wuhan (30.52°N, 114.36°E, 40 m), the road pointing north.
    pub fn default_china() -> GeoFrame {
        GeoFrame {
            origin: crate::gnss::default_site(),
            heading_rad: 0.0,
        }
    }
}

/// The environment between two stations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GnssSegment {
    pub from_m: f64,
    pub to_m: f64,
    pub environment: EnvironmentKind,
}

/// The receiver of `[sensors.gnss]`, settled: whole physics steps, the geographic frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GnssReceiver {
    pub profile: Profile,
    /// Environment outside the segments.
    pub environment: EnvironmentKind,
    /// Sorted by station, not overlapping.
    pub segments: Vec<GnssSegment>,
    /// A fix every this many physics steps.
    pub every_n_steps: u32,
    /// Age of a fix when the system receives it, in physics steps.
    pub latency_steps: u32,
    /// Antenna in the ego frame (x forward, y left, z up from the ground under the footprint's
    /// centre), m.
    pub lever_arm_m: [f64; 3],
    /// Epochs simulated at the start position before t = 0.
    pub warm_up_epochs: u32,
    /// Horizontal alert limit of the Stanford counts, m.
    pub alert_limit_m: f64,
    pub frame: GeoFrame,
}

impl GnssReceiver {
    /// The environment at a station of the reference line.
    pub fn environment_at(&self, station_m: f64) -> EnvironmentKind {
        self.segments
            .iter()
            .find(|s| station_m >= s.from_m && station_m < s.to_m)
            .map_or(self.environment, |s| s.environment)
    }
}

/// The object-list sensor model: what a radar/fusion stage delivers to the system under test.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSensor {
    /// Full horizontal field of view, rad.
    pub fov_rad: f64,
    pub range_m: f64,
    /// Age of a measurement when it reaches the system, in physics steps.
    pub latency_steps: u32,
    /// A new measurement every this many physics steps (sample and hold in between).
    pub every_n_steps: u32,
    pub pos_noise_sd_m: f64,
    pub vel_noise_sd_mps: f64,
    /// Probability that an object is missing from one measurement.
    pub dropout_probability: f64,
}

impl ObjectSensor {
    /// A perfect sensor: everything within 250 m, all around, no delay, no noise.
    pub fn perfect() -> ObjectSensor {
        ObjectSensor {
            fov_rad: std::f64::consts::TAU,
            range_m: 250.0,
            latency_steps: 0,
            every_n_steps: 1,
            pos_noise_sd_m: 0.0,
            vel_noise_sd_mps: 0.0,
            dropout_probability: 0.0,
        }
    }
}

/// The pack and rule that judge a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeRef {
    pub pack: String,
    pub rule: String,
}

/// Timing in whole physics steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub duration_s: f64,
    pub dt_s: f64,
    /// Number of physics steps in a run.
    pub n_steps: u64,
    /// The system under test is called every `sut_every_n_steps` steps.
    pub sut_every_n_steps: u32,
    /// Its command takes effect `sut_latency_steps` steps after the observation.
    pub sut_latency_steps: u32,
}

/// The road in its own frame: x = station along the centre line of the ego's lane, y left.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    /// Signed curvature of the reference line, 1/m (positive turns left; 0 = straight).
    pub curvature_per_m: f64,
    pub length_m: f64,
    pub friction: f64,
    pub lanes: Vec<Lane>,
    /// Boundaries from the right edge of lane 1 leftwards (lanes + 1 of them).
    pub markings: Vec<MarkingLine>,
    pub marking_width_m: f64,
    pub edge_right: Edge,
    pub edge_left: Edge,
}

/// One lane, placed in the road frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub width_m: f64,
    pub centre_y_m: f64,
    pub oncoming: bool,
}

/// A painted boundary line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkingLine {
    pub y_m: f64,
    pub kind: f::Marking,
}

/// The edge of the paved road.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub kind: f::EdgeKind,
    /// Where the paved surface ends, in the road frame.
    pub y_m: f64,
}

/// A pose in the road frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoadPose {
    pub station_m: f64,
    pub y_m: f64,
    /// Heading relative to the road direction at the station, rad (positive to the left).
    pub heading_rad: f64,
}

/// The vehicle under test.
#[derive(Debug, Clone, PartialEq)]
pub struct Ego {
    pub pose: RoadPose,
    pub speed_mps: f64,
    pub lane: usize,
    pub length_m: f64,
    pub width_m: f64,
    pub wheelbase_m: f64,
    pub mass_kg: f64,
    pub max_accel_mps2: f64,
    pub max_decel_mps2: f64,
    pub max_jerk_mps3: f64,
    pub max_steer_rad: f64,
    pub max_steer_rate_radps: f64,
    pub actuator_lag_s: f64,
    /// UN vehicle category (`M1` unless the file says otherwise); matched against the
    /// `vehicle_categories` of threshold-pack rules.
    pub category: f::VehicleCategory,
}

/// Kinds of actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Car,
    Pedestrian { child: bool },
    Cyclist,
    Motorcycle,
    Cone,
    Barrier,
    Box,
    OverturnedCar,
}

impl ActorKind {
    /// Default length, width and height in metres (Euro NCAP targets where they exist).
    pub fn default_size_m(self) -> (f64, f64, f64) {
        match self {
            ActorKind::Car => (4.02, 1.71, 1.4),
            ActorKind::Pedestrian { child: false } => (0.3, 0.5, 1.8),
            ActorKind::Pedestrian { child: true } => (0.25, 0.35, 1.15),
            ActorKind::Cyclist => (1.8, 0.6, 1.8),
            ActorKind::Motorcycle => (2.1, 0.8, 1.4),
            ActorKind::Cone => (0.35, 0.35, 0.7),
            ActorKind::Barrier => (0.3, 2.0, 1.0),
            ActorKind::Box => (0.5, 0.5, 0.5),
            ActorKind::OverturnedCar => (4.5, 1.8, 1.5),
        }
    }
    pub fn is_static_object(self) -> bool {
        matches!(
            self,
            ActorKind::Cone | ActorKind::Barrier | ActorKind::Box | ActorKind::OverturnedCar
        )
    }
}

/// Another road user or obstacle.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub id: String,
    pub kind: ActorKind,
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
    pub pose: RoadPose,
    pub speed_mps: f64,
    pub behaviour: Behaviour,
}

/// What starts a behaviour. `actor` indexes `Scenario::actors`.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Time { at_s: f64 },
    EgoStation { at_m: f64 },
    Distance { below_m: f64, actor: usize },
    Ttc { below_s: f64, actor: usize },
    Headway { below_s: f64, actor: usize },
}

/// What an actor does.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    Stationary,
    ConstantSpeed,
    Braking {
        trigger: Trigger,
        decel_mps2: f64,
        jerk_mps3: Option<f64>,
        to_speed_mps: f64,
    },
    LaneChange {
        trigger: Trigger,
        /// Lateral position at the end, road frame.
        to_y_m: f64,
        to_lane: usize,
        /// Duration of the lateral movement (sinusoidal lateral acceleration).
        duration_s: f64,
        target_speed_mps: f64,
    },
    /// Walks or rides at right angles to the road towards `to_y_m` at `speed_mps`,
    /// accelerating from rest over `accel_distance_m`.
    Crossing {
        direction_y: f64,
        speed_mps: f64,
        accel_distance_m: f64,
        impact_y_m: f64,
        impact_time_s: f64,
    },
}

/// Duration of a lateral move of `distance_m` with a sinusoidal lateral-acceleration profile
/// of peak `accel_mps2`: d = a·T²/(2π).
pub fn lane_change_duration_s(distance_m: f64, accel_mps2: f64) -> f64 {
    (std::f64::consts::TAU * distance_m.abs() / accel_mps2).sqrt()
}

/// Half of a footprint's extent along the road for a heading relative to the road.
fn half_extent_x(length_m: f64, width_m: f64, heading_rad: f64) -> f64 {
    0.5 * (length_m * heading_rad.cos().abs() + width_m * heading_rad.sin().abs())
}

impl Road {
    /// Position in the world frame (x east along the start direction, y left) of a road-frame
    /// point, and the road heading there.
    pub fn world_from_road(&self, station_m: f64, y_m: f64) -> (f64, f64, f64) {
        let k = self.curvature_per_m;
        if k.abs() < 1e-12 {
            return (station_m, y_m, 0.0);
        }
        let r = 1.0 / k; // signed radius; centre at (0, r)
        let theta = station_m * k;
        let rho = r - y_m;
        (rho * theta.sin(), r - rho * theta.cos(), theta)
    }
}

impl Road {
    /// Road-frame coordinates (station, lateral y) of a world point, and the road heading there.
    pub fn road_from_world(&self, x_m: f64, y_m: f64) -> (f64, f64, f64) {
        let k = self.curvature_per_m;
        if k.abs() < 1e-12 {
            return (x_m, y_m, 0.0);
        }
        let r = 1.0 / k;
        // Angle around the centre (0, r), measured so that station 0 is at the origin.
        let dx = x_m;
        let dy = y_m - r;
        let theta = if r > 0.0 { dx.atan2(-dy) } else { dx.atan2(dy) };
        let rho = (dx * dx + dy * dy).sqrt();
        let lateral = if r > 0.0 { r - rho } else { r + rho };
        (theta / k.abs(), lateral, theta * k.signum())
    }

    /// Curvature of the line at lateral offset `y_m` from the reference line (1/m, signed).
    pub fn curvature_at(&self, y_m: f64) -> f64 {
        let k = self.curvature_per_m;
        if k.abs() < 1e-12 {
            0.0
        } else {
            k / (1.0 - k * y_m)
        }
    }

    /// The lane (0-based index) whose span contains lateral position `y_m`, if any.
    pub fn lane_at(&self, y_m: f64) -> Option<usize> {
        self.lanes
            .iter()
            .position(|l| (y_m - l.centre_y_m).abs() <= l.width_m / 2.0)
    }
}

/// Converts a substituted, schema-valid file into the model of one case.
pub fn build(file: &f::ScenarioFile) -> Result<Scenario, Vec<ModelError>> {
    let mut errors = Vec::new();

    // Timing.
    let t = &file.timing;
    let physics_hz = 1.0 / t.step_s;
    let every = physics_hz / t.sut_rate_hz;
    let sut_every_n_steps = every.round();
    if (every - sut_every_n_steps).abs() > 1e-6 || sut_every_n_steps < 1.0 {
        errors.push(err(
            "/timing/sut_rate_hz",
            format!(
                "{} Hz does not divide the physics rate of {} Hz (step {} s){}",
                t.sut_rate_hz,
                round6(physics_hz),
                t.step_s,
                dividing_rates_hint(physics_hz, t.sut_rate_hz)
            ),
        ));
    }
    let latency_steps = t.sut_latency_s / t.step_s;
    if (latency_steps - latency_steps.round()).abs() > 1e-6 {
        errors.push(err(
            "/timing/sut_latency_s",
            format!(
                "{} s is not a whole number of physics steps of {} s",
                t.sut_latency_s, t.step_s
            ),
        ));
    }
    let n_steps = (t.duration_s / t.step_s - 1e-9).ceil().max(1.0) as u64;
    let timing = Timing {
        duration_s: t.duration_s,
        dt_s: t.step_s,
        n_steps,
        sut_every_n_steps: sut_every_n_steps.max(1.0) as u32,
        sut_latency_steps: latency_steps.round().max(0.0) as u32,
    };

    // Road.
    let r = &file.road;
    let curvature_per_m = match (r.shape, r.radius_m, r.turn) {
        (f::RoadShape::Straight, None, None) => 0.0,
        (f::RoadShape::Straight, _, _) => {
            let field = if r.radius_m.is_some() {
                "/road/radius_m"
            } else {
                "/road/turn"
            };
            errors.push(err(
                field,
                "a straight road has no radius or turn; set `shape = \"curve\"` or remove it",
            ));
            0.0
        }
        (f::RoadShape::Curve, Some(radius), Some(turn)) => match turn {
            f::Turn::Left => 1.0 / radius,
            f::Turn::Right => -1.0 / radius,
        },
        (f::RoadShape::Curve, radius, turn) => {
            if radius.is_none() {
                errors.push(err("/road", "a curve needs `radius_m`"));
            }
            if turn.is_none() {
                errors.push(err("/road", "a curve needs `turn` (`left` or `right`)"));
            }
            0.0
        }
    };
    if r.markings.len() != r.lanes.len() + 1 {
        errors.push(err(
            "/road/markings",
            format!(
                "expected {} markings for {} lane(s) (one per lane boundary, right to left), found {}",
                r.lanes.len() + 1,
                r.lanes.len(),
                r.markings.len()
            ),
        ));
    }
    let ego_lane = file.ego.lane as usize;
    if ego_lane == 0 || ego_lane > r.lanes.len() {
        errors.push(err(
            "/ego/lane",
            format!(
                "lane {ego_lane} does not exist; the road has lanes 1 to {}",
                r.lanes.len()
            ),
        ));
        return Err(errors);
    }
    // The reference line (y = 0) is the centre of the ego's lane.
    let mut right_edge_y = -r.lanes[ego_lane - 1].width_m / 2.0;
    for lane in &r.lanes[..ego_lane - 1] {
        right_edge_y -= lane.width_m;
    }
    let mut lanes = Vec::new();
    let mut boundaries = vec![right_edge_y];
    let mut y = right_edge_y;
    for lane in &r.lanes {
        lanes.push(Lane {
            width_m: lane.width_m,
            centre_y_m: y + lane.width_m / 2.0,
            oncoming: lane.direction == f::LaneDirection::Oncoming,
        });
        y += lane.width_m;
        boundaries.push(y);
    }
    let markings = boundaries
        .iter()
        .zip(&r.markings)
        .map(|(&y_m, &kind)| MarkingLine { y_m, kind })
        .collect();
    if curvature_per_m != 0.0 {
        let radius = 1.0 / curvature_per_m.abs();
        let outer = boundaries.iter().map(|b| b.abs()).fold(0.0, f64::max)
            + r.edge_left.shoulder_m.max(r.edge_right.shoulder_m);
        if outer >= radius {
            errors.push(err(
                "/road/radius_m",
                format!("radius {radius} m is smaller than the road's half-width {outer} m"),
            ));
        }
    }
    let road = Road {
        curvature_per_m,
        length_m: r.length_m,
        friction: r.friction,
        lanes,
        markings,
        marking_width_m: r.marking_width_m,
        edge_right: Edge {
            kind: r.edge_right.kind,
            y_m: boundaries[0] - r.edge_right.shoulder_m,
        },
        edge_left: Edge {
            kind: r.edge_left.kind,
            y_m: boundaries[boundaries.len() - 1] + r.edge_left.shoulder_m,
        },
    };

    // Ego.
    let e = &file.ego;
    let ego = Ego {
        pose: RoadPose {
            station_m: e.station_m,
            y_m: e.lateral_offset_m,
            heading_rad: 0.0,
        },
        speed_mps: e.speed_kph * KPH,
        lane: ego_lane,
        length_m: e.length_m,
        width_m: e.width_m,
        wheelbase_m: e.wheelbase_m,
        mass_kg: e.mass_kg,
        max_accel_mps2: e.limits.max_accel_mps2,
        max_decel_mps2: e.limits.max_decel_mps2,
        max_jerk_mps3: e.limits.max_jerk_mps3,
        max_steer_rad: e.limits.max_steer_rad,
        max_steer_rate_radps: e.limits.max_steer_rate_radps,
        actuator_lag_s: e.actuator_lag_s,
        category: e.category,
    };
    if e.wheelbase_m >= e.length_m {
        errors.push(err(
            "/ego/wheelbase_m",
            format!(
                "wheelbase {} m is not shorter than the length {} m",
                e.wheelbase_m, e.length_m
            ),
        ));
    }
    if e.station_m - e.length_m / 2.0 < 0.0 {
        errors.push(err(
            "/ego/station_m",
            format!(
                "the ego's rear at station {} m is before the road's start at 0 m",
                e.station_m - e.length_m / 2.0
            ),
        ));
    }
    if e.station_m > road.length_m {
        errors.push(err(
            "/ego/station_m",
            format!(
                "station {} m is beyond the road's end at {} m",
                e.station_m, road.length_m
            ),
        ));
    }
    let ego_front_m = ego.pose.station_m + ego.length_m / 2.0;

    // Actors: ids first, so triggers can refer to any of them.
    if file.actors.len() > MAX_ACTORS {
        errors.push(err(
            "/actors",
            format!("{} actors; the limit is {MAX_ACTORS}", file.actors.len()),
        ));
        return Err(errors);
    }
    let ids: Vec<&str> = file.actors.iter().map(|a| a.id.as_str()).collect();
    for (i, a) in file.actors.iter().enumerate() {
        if a.id == "ego" {
            errors.push(err(
                format!("/actors/{i}/id"),
                "`ego` is reserved for the vehicle under test",
            ));
        } else if ids[..i].contains(&a.id.as_str()) {
            errors.push(err(
                format!("/actors/{i}/id"),
                format!("actor id `{}` is used twice", a.id),
            ));
        }
    }
    let mut actors = Vec::new();
    for (i, a) in file.actors.iter().enumerate() {
        let p = format!("/actors/{i}");
        match build_actor(a, i, &p, &ids, &road, &ego, ego_front_m) {
            Ok(actor) => actors.push(actor),
            Err(mut es) => errors.append(&mut es),
        }
    }

    if errors.is_empty() {
        check_overlaps(&road, &ego, &actors, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let object_sensor = match file.sensors.as_ref().and_then(|s| s.object_list.as_ref()) {
        None => ObjectSensor::perfect(),
        Some(o) => {
            let every = o.rate_hz.map_or(1.0, |hz| 1.0 / (hz * timing.dt_s));
            if (every - every.round()).abs() > 1e-6 || every.round() < 1.0 {
                errors.push(err(
                    "/sensors/object_list/rate_hz",
                    format!(
                        "{} Hz does not divide the physics rate of {} Hz",
                        o.rate_hz.unwrap_or(0.0),
                        round6(1.0 / timing.dt_s)
                    ),
                ));
            }
            let latency = o.latency_s / timing.dt_s;
            if (latency - latency.round()).abs() > 1e-6 {
                errors.push(err(
                    "/sensors/object_list/latency_s",
                    format!(
                        "{} s is not a whole number of physics steps of {} s",
                        o.latency_s, timing.dt_s
                    ),
                ));
            }
            ObjectSensor {
                fov_rad: o.fov_deg.to_radians(),
                range_m: o.range_m,
                latency_steps: latency.round().max(0.0) as u32,
                every_n_steps: every.round().max(1.0) as u32,
                pos_noise_sd_m: o.pos_noise_sd_m,
                vel_noise_sd_mps: o.vel_noise_sd_mps,
                dropout_probability: o.dropout_probability,
            }
        }
    };
    let cameras = build_cameras(file, &ego, timing.dt_s, &mut errors);
    let gnss = build_gnss(file, timing.dt_s, &mut errors);
    let camera_chains = build_camera_chains(file, &cameras, &mut errors);
    let lighting = file
        .lighting
        .as_ref()
        .map_or_else(Lighting::default, |l| Lighting {
            light: match l.light {
                f::LightKind::Day => Light::Day,
                f::LightKind::Night => Light::Night,
            },
            sun_elevation_rad: l.sun_elevation_deg.to_radians(),
            sun_azimuth_rad: l.sun_azimuth_deg.to_radians(),
        });
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut odd_tags = Vec::new();
    if let Some(odd) = &file.odd {
        for tag in odd
            .scenery
            .iter()
            .chain(&odd.environment)
            .chain(&odd.dynamic)
        {
            odd_tags.push(tag.0.clone());
        }
    }
    Ok(Scenario {
        name: file.name.clone(),
        description: file.description.clone(),
        protocol: file.protocol.clone(),
        judge: file.judge.as_ref().map(|j| JudgeRef {
            pack: j.pack.clone(),
            rule: j.rule.clone(),
        }),
        odd_tags,
        object_sensor,
        runs: file.repeats.runs,
        retries: file.repeats.retries,
        timing,
        road,
        ego,
        actors,
        cameras,
        lighting,
        gnss,
        camera_chains,
    })
}

/// One chain of `[perturbations]` specs at `pointer`; `none` (or `none:…`) is the empty
/// perturbation and is dropped, so that a sweep's clean partner reads `none`.
fn build_chain(specs: &[String], pointer: &str, errors: &mut Vec<ModelError>) -> Vec<Perturbation> {
    let mut chain = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let name = spec.split(':').next().unwrap_or("").trim();
        if name == "none" {
            continue;
        }
        match parse_spec(spec) {
            Ok(p) => chain.push(p),
            Err(e) => errors.push(err(format!("{pointer}/{i}"), e.to_string())),
        }
    }
    chain
}

/// The chain of each camera: its own `[[perturbations.camera]]` entry, else the default
/// `chain`. Every id must name a declared camera, once.
fn build_camera_chains(
    file: &f::ScenarioFile,
    cameras: &[Camera],
    errors: &mut Vec<ModelError>,
) -> Vec<Vec<Perturbation>> {
    let Some(p) = &file.perturbations else {
        return vec![Vec::new(); cameras.len()];
    };
    let default = build_chain(&p.chain, "/perturbations/chain", errors);
    let mut chains = vec![default; cameras.len()];
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in p.camera.iter().enumerate() {
        let pointer = format!("/perturbations/camera/{i}");
        let chain = build_chain(&c.chain, &format!("{pointer}/chain"), errors);
        if seen.contains(&c.id.as_str()) {
            errors.push(err(
                format!("{pointer}/id"),
                format!("camera `{}` has two chains", c.id),
            ));
        }
        seen.push(&c.id);
        match cameras.iter().position(|cam| cam.id == c.id) {
            Some(k) => chains[k] = chain,
            None => {
                let known: Vec<&str> = cameras.iter().map(|c| c.id.as_str()).collect();
                errors.push(err(
                    format!("{pointer}/id"),
                    format!(
                        "no camera `{}` in [[sensors.camera]] (cameras: {})",
                        c.id,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    // The engine takes frames of 32 px and more on each side: refused here, not mid-run.
    for (k, (chain, cam)) in chains.iter().zip(cameras).enumerate() {
        let min = crate::perturb::MIN_FRAME_EDGE_PX;
        if !chain.is_empty() && (cam.width_px < min || cam.height_px < min) {
            errors.push(err(
                format!("/sensors/camera/{k}/width_px"),
                format!(
                    "camera `{}` is {}×{} px; perturbed frames must be at least {min} px on each side",
                    cam.id, cam.width_px, cam.height_px
                ),
            ));
        }
    }
    chains
}

fn env_kind(e: f::GnssEnvironment) -> EnvironmentKind {
    match e {
        f::GnssEnvironment::OpenSky => EnvironmentKind::OpenSky,
        f::GnssEnvironment::Suburban => EnvironmentKind::Suburban,
        f::GnssEnvironment::UrbanCanyon => EnvironmentKind::UrbanCanyon,
        f::GnssEnvironment::Tunnel => EnvironmentKind::Tunnel,
    }
}

/// The receiver of `[sensors.gnss]`: rate and latency in whole physics steps, segments
/// ordered and disjoint, the road's geographic origin.
fn build_gnss(
    file: &f::ScenarioFile,
    dt_s: f64,
    errors: &mut Vec<ModelError>,
) -> Option<GnssReceiver> {
    let g = file.sensors.as_ref()?.gnss.as_ref()?;
    let every = 1.0 / (g.rate_hz * dt_s);
    if (every - every.round()).abs() > 1e-6 || every.round() < 1.0 {
        errors.push(err(
            "/sensors/gnss/rate_hz",
            format!(
                "{} Hz does not divide the physics rate of {} Hz",
                g.rate_hz,
                round6(1.0 / dt_s)
            ),
        ));
    }
    let latency = g.latency_s / dt_s;
    if (latency - latency.round()).abs() > 1e-6 {
        errors.push(err(
            "/sensors/gnss/latency_s",
            format!(
                "{} s is not a whole number of physics steps of {} s",
                g.latency_s, dt_s
            ),
        ));
    }
    let mut segments: Vec<GnssSegment> = Vec::new();
    for (i, s) in g.segments.iter().enumerate() {
        if s.to_m <= s.from_m {
            errors.push(err(
                format!("/sensors/gnss/segments/{i}/to_m"),
                format!(
                    "the segment ends at {} m, not after its start at {} m",
                    s.to_m, s.from_m
                ),
            ));
            continue;
        }
        if let Some(other) = segments
            .iter()
            .position(|o| s.from_m < o.to_m && o.from_m < s.to_m)
        {
            errors.push(err(
                format!("/sensors/gnss/segments/{i}"),
                format!(
                    "the segment {} m to {} m overlaps segment {other} ({} m to {} m)",
                    s.from_m, s.to_m, segments[other].from_m, segments[other].to_m
                ),
            ));
            continue;
        }
        segments.push(GnssSegment {
            from_m: s.from_m,
            to_m: s.to_m,
            environment: env_kind(s.environment),
        });
    }
    segments.sort_by(|a, b| a.from_m.total_cmp(&b.from_m));
    let frame = file
        .road
        .origin
        .as_ref()
        .map_or_else(GeoFrame::default_china, |o| GeoFrame {
            origin: Geodetic::from_deg(o.lat_deg, o.lon_deg, o.height_m),
            heading_rad: o.heading_deg.to_radians(),
        });
    Some(GnssReceiver {
        profile: match g.profile {
            f::GnssProfile::Spp => Profile::Spp,
            f::GnssProfile::Sbas => Profile::Sbas,
            f::GnssProfile::PppB2b => Profile::PppB2b,
            f::GnssProfile::Rtk => Profile::Rtk,
        },
        environment: env_kind(g.environment),
        segments,
        every_n_steps: every.round().max(1.0) as u32,
        latency_steps: latency.round().max(0.0) as u32,
        lever_arm_m: g.lever_arm_m,
        warm_up_epochs: (g.warm_up_s * g.rate_hz).round() as u32,
        alert_limit_m: g.alert_limit_m,
        frame,
    })
}

/// The cameras of `[[sensors.camera]]`: ids unique, rates dividing the physics rate, mounts
/// defaulting to behind the windscreen.
fn build_cameras(
    file: &f::ScenarioFile,
    ego: &Ego,
    dt_s: f64,
    errors: &mut Vec<ModelError>,
) -> Vec<Camera> {
    let Some(sensors) = &file.sensors else {
        return Vec::new();
    };
    let physics_hz = 1.0 / dt_s;
    let mut cameras: Vec<Camera> = Vec::new();
    for (i, c) in sensors.camera.iter().enumerate() {
        let p = format!("/sensors/camera/{i}");
        if cameras.iter().any(|other| other.id == c.id) {
            errors.push(err(
                format!("{p}/id"),
                format!("camera id `{}` is used twice", c.id),
            ));
        }
        let every = physics_hz / c.rate_hz;
        if (every - every.round()).abs() > 1e-6 || every.round() < 1.0 {
            errors.push(err(
                format!("{p}/rate_hz"),
                format!(
                    "{} Hz does not divide the physics rate of {} Hz (step {} s){}",
                    c.rate_hz,
                    round6(physics_hz),
                    dt_s,
                    dividing_rates_hint(physics_hz, c.rate_hz)
                ),
            ));
        }
        let front = Camera::front(ego.length_m);
        cameras.push(Camera {
            id: c.id.clone(),
            width_px: c.width_px,
            height_px: c.height_px,
            hfov_rad: c.hfov_deg.to_radians(),
            position_in_ego_m: c.position_m.unwrap_or(front.position_in_ego_m),
            yaw_rad: c.yaw_deg.to_radians(),
            pitch_rad: c.pitch_deg.to_radians(),
            roll_rad: c.roll_deg.to_radians(),
            k1: c.k1,
            k2: c.k2,
            rate_hz: c.rate_hz,
        });
    }
    cameras
}

/// "; the nearest that do: 25 Hz, 50 Hz" — whole-number rates that divide the physics rate.
fn dividing_rates_hint(physics_hz: f64, wanted_hz: f64) -> String {
    let mut below = None;
    let mut above = None;
    for k in 1..=10_000u32 {
        let rate = physics_hz / f64::from(k);
        if (rate - rate.round()).abs() > 1e-9 {
            continue;
        }
        if rate > wanted_hz {
            above = Some(rate);
        } else {
            below = Some(rate);
            break;
        }
    }
    let found: Vec<String> = [below, above]
        .into_iter()
        .flatten()
        .map(|r| format!("{} Hz", round6(r)))
        .collect();
    if found.is_empty() {
        String::new()
    } else {
        format!("; the nearest that do: {}", found.join(", "))
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn actor_kind(a: &f::Actor, p: &str, errors: &mut Vec<ModelError>) -> ActorKind {
    let kind = match a.actor_type {
        f::ActorType::Car => ActorKind::Car,
        f::ActorType::Pedestrian => ActorKind::Pedestrian {
            child: a.variant == Some(f::PedestrianVariant::Child),
        },
        f::ActorType::Cyclist => ActorKind::Cyclist,
        f::ActorType::Motorcycle => ActorKind::Motorcycle,
        f::ActorType::Cone => ActorKind::Cone,
        f::ActorType::Barrier => ActorKind::Barrier,
        f::ActorType::Box => ActorKind::Box,
        f::ActorType::OverturnedCar => ActorKind::OverturnedCar,
    };
    if a.variant.is_some() && !matches!(kind, ActorKind::Pedestrian { .. }) {
        errors.push(err(
            format!("{p}/variant"),
            "only pedestrians have a variant (`adult` or `child`)",
        ));
    }
    kind
}

#[allow(clippy::too_many_arguments)]
fn build_actor(
    a: &f::Actor,
    index: usize,
    p: &str,
    ids: &[&str],
    road: &Road,
    ego: &Ego,
    ego_front_m: f64,
) -> Result<Actor, Vec<ModelError>> {
    let mut errors = Vec::new();
    let kind = actor_kind(a, p, &mut errors);
    let (dl, dw, dh) = kind.default_size_m();
    let (length_m, width_m, height_m) = (
        a.length_m.unwrap_or(dl),
        a.width_m.unwrap_or(dw),
        a.height_m.unwrap_or(dh),
    );
    let speed_mps = a.speed_kph * KPH;
    if kind.is_static_object() && a.speed_kph != 0.0 {
        errors.push(err(
            format!("{p}/speed_kph"),
            format!(
                "a {:?} cannot move; found {} km/h",
                a.actor_type, a.speed_kph
            )
            .to_lowercase(),
        ));
    }
    let resolve =
        |actor: &Option<String>, pointer: String, errors: &mut Vec<ModelError>| -> usize {
            match actor {
                None => index,
                Some(name) => match ids.iter().position(|id| id == name) {
                    Some(i) => i,
                    None => {
                        let known: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
                        let hint = match super::schema::suggest(name, &known) {
                            Some(s) => format!("; did you mean `{s}`?"),
                            None => format!(
                                "; actors: {}",
                                known
                                    .iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        errors.push(err(pointer, format!("no actor with id `{name}`{hint}")));
                        index
                    }
                },
            }
        };
    let trigger = |t: &f::Trigger, tp: String, errors: &mut Vec<ModelError>| -> Trigger {
        match t {
            f::Trigger::Time { at_s } => Trigger::Time { at_s: *at_s },
            f::Trigger::EgoStation { at_m } => Trigger::EgoStation { at_m: *at_m },
            f::Trigger::Distance { below_m, actor } => Trigger::Distance {
                below_m: *below_m,
                actor: resolve(actor, format!("{tp}/actor"), errors),
            },
            f::Trigger::Ttc { below_s, actor } => Trigger::Ttc {
                below_s: *below_s,
                actor: resolve(actor, format!("{tp}/actor"), errors),
            },
            f::Trigger::Headway { below_s, actor } => Trigger::Headway {
                below_s: *below_s,
                actor: resolve(actor, format!("{tp}/actor"), errors),
            },
        }
    };

    let heading_rad = a.heading_deg.to_radians();
    let lane_y = |lane: u32, pointer: String, errors: &mut Vec<ModelError>| -> f64 {
        match road.lanes.get((lane as usize).wrapping_sub(1)) {
            Some(l) => l.centre_y_m,
            None => {
                errors.push(err(
                    pointer,
                    format!(
                        "lane {lane} does not exist; the road has lanes 1 to {}",
                        road.lanes.len()
                    ),
                ));
                0.0
            }
        }
    };

    // Crossing actors are placed by their crossing; everyone else by `placement`.
    if let f::Behaviour::Crossing(c) = &a.behaviour {
        if a.placement.is_some() {
            errors.push(err(
                format!("{p}/placement"),
                "a crossing actor is placed by its crossing; remove `placement`",
            ));
        }
        if speed_mps <= 0.0 {
            errors.push(err(
                format!("{p}/speed_kph"),
                "a crossing actor needs a speed above 0",
            ));
        }
        if ego.speed_mps <= 0.0 {
            errors.push(err(
                "/ego/speed_kph",
                "a crossing needs a moving ego (the impact point is placed from its speed)",
            ));
        }
        if a.heading_deg != 0.0 {
            errors.push(err(
                format!("{p}/heading_deg"),
                "a crossing actor's heading comes from its crossing; remove `heading_deg`",
            ));
        }
        if c.accel_distance_m > c.start_distance_m {
            errors.push(err(
                format!("{p}/behaviour/accel_distance_m"),
                format!(
                    "acceleration distance {} m is longer than the start distance {} m",
                    c.accel_distance_m, c.start_distance_m
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let direction_y = match c.from {
            f::Side::Right => 1.0,
            f::Side::Left => -1.0,
        };
        let from_edge = ego.pose.y_m - direction_y * ego.width_m / 2.0;
        let impact_y_m = from_edge + direction_y * ego.width_m * c.impact_point_pct / 100.0;
        let t_accel = if c.accel_distance_m > 0.0 {
            2.0 * c.accel_distance_m / speed_mps
        } else {
            0.0
        };
        let impact_time_s = t_accel + (c.start_distance_m - c.accel_distance_m) / speed_mps;
        let heading = direction_y * std::f64::consts::FRAC_PI_2;
        // At impact the ego's front touches the actor, whose extent along x is its width.
        let station_m =
            ego_front_m + ego.speed_mps * impact_time_s + half_extent_x(length_m, width_m, heading);
        let pose = RoadPose {
            station_m,
            y_m: impact_y_m - direction_y * c.start_distance_m,
            heading_rad: heading,
        };
        if station_m > road.length_m {
            errors.push(err(format!("{p}/behaviour"), format!("the crossing point at station {station_m:.1} m lies beyond the road's end at {} m", road.length_m)));
            return Err(errors);
        }
        return Ok(Actor {
            id: a.id.clone(),
            kind,
            length_m,
            width_m,
            height_m,
            pose,
            speed_mps: if c.accel_distance_m > 0.0 {
                0.0
            } else {
                speed_mps
            },
            behaviour: Behaviour::Crossing {
                direction_y,
                speed_mps,
                accel_distance_m: c.accel_distance_m,
                impact_y_m,
                impact_time_s,
            },
        });
    }

    let Some(pl) = &a.placement else {
        errors.push(err(p, "missing required field `placement`"));
        return Err(errors);
    };
    let pp = format!("{p}/placement");
    // Lateral.
    let y_m = match (pl.overlap_pct, pl.lane, pl.lateral_offset_m) {
        (Some(o), lane, off) => {
            if lane.is_some() || off.is_some() {
                errors.push(err(
                    &pp,
                    "give either `overlap_pct` or `lane`/`lateral_offset_m`, not both",
                ));
            }
            if o == 0.0 {
                errors.push(err(
                    format!("{pp}/overlap_pct"),
                    "0 % overlap means no overlap; use a value in ±(0, 100]",
                ));
            }
            let sign = if o < 0.0 { -1.0 } else { 1.0 };
            let offset = if o.abs() >= 100.0 {
                0.0
            } else {
                sign * (width_m / 2.0 - ego.width_m * (o.abs() - 50.0) / 100.0)
            };
            ego.pose.y_m + offset
        }
        (None, lane, off) => {
            let base = match lane {
                Some(l) => lane_y(l, format!("{pp}/lane"), &mut errors),
                None => road.lanes[ego.lane - 1].centre_y_m,
            };
            base + off.unwrap_or(0.0)
        }
    };
    // Longitudinal.
    let given: Vec<&str> = [
        pl.gap_m.map(|_| "gap_m"),
        pl.ttc_s.map(|_| "ttc_s"),
        pl.headway_s.map(|_| "headway_s"),
        pl.station_m.map(|_| "station_m"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let half_x = half_extent_x(length_m, width_m, heading_rad);
    let station_m = if given.len() != 1 {
        errors.push(err(
            &pp,
            if given.is_empty() {
                "missing a longitudinal position: give one of `gap_m`, `ttc_s`, `headway_s`, `station_m`".to_string()
            } else {
                format!("give exactly one longitudinal position, found {}", given.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", "))
            },
        ));
        0.0
    } else if let Some(s) = pl.station_m {
        s
    } else {
        let gap_m = if let Some(g) = pl.gap_m {
            g
        } else if let Some(ttc) = pl.ttc_s {
            let closing = ego.speed_mps - speed_mps * heading_rad.cos();
            if closing <= 0.0 {
                errors.push(err(
                    format!("{pp}/ttc_s"),
                    format!(
                        "time to collision is undefined: the ego ({} km/h) does not close on the actor ({} km/h)",
                        round6(ego.speed_mps / KPH),
                        round6(speed_mps / KPH)
                    ),
                ));
            }
            ttc * closing
        } else {
            let h = pl.headway_s.unwrap_or(0.0);
            if ego.speed_mps <= 0.0 {
                errors.push(err(
                    format!("{pp}/headway_s"),
                    "time headway is undefined for a stationary ego",
                ));
            }
            h * ego.speed_mps
        };
        ego_front_m + gap_m + half_x
    };
    if station_m - half_x < 0.0 || station_m > road.length_m {
        errors.push(err(
            &pp,
            format!(
                "places the actor at station {:.2} m, outside the road (0 to {} m)",
                station_m, road.length_m
            ),
        ));
    }
    let pose = RoadPose {
        station_m,
        y_m,
        heading_rad,
    };

    let behaviour = match &a.behaviour {
        f::Behaviour::Stationary {} => {
            if a.speed_kph != 0.0 && !kind.is_static_object() {
                errors.push(err(
                    format!("{p}/speed_kph"),
                    format!("a stationary actor has speed 0, found {} km/h", a.speed_kph),
                ));
            }
            Behaviour::Stationary
        }
        f::Behaviour::ConstantSpeed {} => Behaviour::ConstantSpeed,
        f::Behaviour::Braking {
            trigger: t,
            decel_mps2,
            jerk_mps3,
            to_speed_kph,
        } => {
            if *to_speed_kph >= a.speed_kph && a.speed_kph > 0.0 {
                errors.push(err(
                    format!("{p}/behaviour/to_speed_kph"),
                    format!(
                        "braking to {to_speed_kph} km/h from {} km/h is not braking",
                        a.speed_kph
                    ),
                ));
            }
            if a.speed_kph == 0.0 {
                errors.push(err(
                    format!("{p}/behaviour"),
                    "a braking actor needs an initial speed above 0",
                ));
            }
            Behaviour::Braking {
                trigger: trigger(t, format!("{p}/behaviour/trigger"), &mut errors),
                decel_mps2: *decel_mps2,
                jerk_mps3: *jerk_mps3,
                to_speed_mps: to_speed_kph * KPH,
            }
        }
        f::Behaviour::LaneChange(lc) | f::Behaviour::CutIn(lc) | f::Behaviour::CutOut(lc) => {
            let bp = format!("{p}/behaviour");
            let from_lane = road
                .lanes
                .iter()
                .enumerate()
                .min_by(|(_, l1), (_, l2)| {
                    (l1.centre_y_m - y_m)
                        .abs()
                        .total_cmp(&(l2.centre_y_m - y_m).abs())
                })
                .map_or(1, |(i, _)| i + 1);
            let to_lane = match (&a.behaviour, lc.to_lane) {
                (_, Some(l)) => l as usize,
                (f::Behaviour::CutIn(_), None) => ego.lane,
                (f::Behaviour::CutOut(_), None) => {
                    if from_lane < road.lanes.len() {
                        from_lane + 1
                    } else {
                        from_lane.saturating_sub(1)
                    }
                }
                _ => {
                    errors.push(err(&bp, "a lane change needs `to_lane`"));
                    from_lane
                }
            };
            match &a.behaviour {
                f::Behaviour::CutIn(_) if to_lane != ego.lane => errors.push(err(
                    format!("{bp}/to_lane"),
                    format!(
                        "a cut-in ends in the ego's lane {}, found lane {to_lane}",
                        ego.lane
                    ),
                )),
                f::Behaviour::CutIn(_) if from_lane == ego.lane => errors.push(err(
                    pp.clone(),
                    "a cut-in starts outside the ego's lane; place the actor in an adjacent lane",
                )),
                f::Behaviour::CutOut(_) if from_lane != ego.lane => errors.push(err(
                    pp.clone(),
                    format!(
                        "a cut-out starts in the ego's lane {}, found lane {from_lane}",
                        ego.lane
                    ),
                )),
                _ => {}
            }
            let to_y_m = match road.lanes.get(to_lane.wrapping_sub(1)) {
                Some(l) => l.centre_y_m,
                None => {
                    errors.push(err(
                        format!("{bp}/to_lane"),
                        format!(
                            "lane {to_lane} does not exist; the road has lanes 1 to {}",
                            road.lanes.len()
                        ),
                    ));
                    y_m
                }
            };
            if to_lane == from_lane && errors.is_empty() {
                errors.push(err(
                    format!("{bp}/to_lane"),
                    format!("the actor is already in lane {to_lane}"),
                ));
            }
            let duration_s = match (lc.lateral_accel_mps2, lc.duration_s) {
                (Some(acc), None) => lane_change_duration_s(to_y_m - y_m, acc),
                (None, Some(d)) => d,
                _ => {
                    errors.push(err(
                        &bp,
                        "give exactly one of `lateral_accel_mps2` and `duration_s`",
                    ));
                    1.0
                }
            };
            let target_speed_mps = lc.speed_kph.map_or(speed_mps, |v| v * KPH);
            let trigger = match (&lc.trigger, lc.end_ttc_s) {
                (Some(t), None) => trigger(t, format!("{bp}/trigger"), &mut errors),
                (None, Some(end_ttc_s)) => {
                    // Gap and speeds at the initial values: the change ends when TTC = end_ttc_s.
                    let closing = ego.speed_mps - speed_mps;
                    let gap0 = station_m - half_x - ego_front_m;
                    if closing <= 0.0 {
                        errors.push(err(
                            format!("{bp}/end_ttc_s"),
                            "the ego does not close on the actor, so the time to collision never reaches this value",
                        ));
                        Trigger::Time { at_s: 0.0 }
                    } else {
                        let t_end = (gap0 - end_ttc_s * closing) / closing;
                        let t_start = t_end - duration_s;
                        if t_start < 0.0 {
                            errors.push(err(
                                format!("{bp}/end_ttc_s"),
                                format!(
                                    "the lane change would have to start at t = {t_start:.2} s (it lasts {duration_s:.2} s and must end when TTC = {end_ttc_s} s); place the actor further ahead"
                                ),
                            ));
                        }
                        Trigger::Time {
                            at_s: round6(t_start.max(0.0)),
                        }
                    }
                }
                _ => {
                    errors.push(err(&bp, "give exactly one of `trigger` and `end_ttc_s`"));
                    Trigger::Time { at_s: 0.0 }
                }
            };
            Behaviour::LaneChange {
                trigger,
                to_y_m,
                to_lane,
                duration_s,
                target_speed_mps,
            }
        }
        f::Behaviour::Crossing(_) => unreachable!("handled above"),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Actor {
        id: a.id.clone(),
        kind,
        length_m,
        width_m,
        height_m,
        pose,
        speed_mps,
        behaviour,
    })
}

/// A footprint in the world frame, from its road-frame pose.
fn footprint(road: &Road, pose: RoadPose, length_m: f64, width_m: f64) -> Footprint {
    let (x_m, y_m, road_heading) = road.world_from_road(pose.station_m, pose.y_m);
    Footprint {
        x_m,
        y_m,
        heading_rad: road_heading + pose.heading_rad,
        length_m,
        width_m,
    }
}

fn check_overlaps(road: &Road, ego: &Ego, actors: &[Actor], errors: &mut Vec<ModelError>) {
    let mut shapes = vec![(
        "ego".to_string(),
        "/ego".to_string(),
        footprint(road, ego.pose, ego.length_m, ego.width_m),
    )];
    for (i, a) in actors.iter().enumerate() {
        shapes.push((
            a.id.clone(),
            format!("/actors/{i}"),
            footprint(road, a.pose, a.length_m, a.width_m),
        ));
    }
    for j in 1..shapes.len() {
        for i in 0..j {
            if overlap_with(&shapes[i].2, &shapes[j].2, Touching::IsClear) {
                errors.push(err(
                    format!("{}/placement", shapes[j].1),
                    format!("`{}` overlaps `{}` at t = 0", shapes[j].0, shapes[i].0),
                ));
            }
        }
    }
}
