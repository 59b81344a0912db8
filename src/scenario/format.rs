//! The scenario file format (`kind = "scenario"`): the serde and JSON Schema types at the file edge.
//!
//! These types are a compatibility promise to users: a field renamed here breaks their files.
//! They hold numbers after `${…}` substitution; the schema printed for editors additionally
//! accepts an expression string wherever a number or an enumerated word goes (see `schema.rs`).
//! Inside the harness nothing uses these types directly: `model.rs` converts them to plain
//! domain types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Pattern of a scenario name: the first part of every case ID.
pub const NAME_PATTERN: &str = r"^[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*$";
/// Pattern of an identifier (parameter names, actor ids).
pub const IDENT_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
/// Pattern of a threshold pack or rule id.
pub const PACK_ID_PATTERN: &str = r"^[a-z0-9][a-z0-9._-]*$";
/// Pattern of an ODD tag: dotted lower-case words, e.g. `scenery.road.motorway`.
pub const ODD_TAG_PATTERN: &str = r"^[a-z0-9_]+(\.[a-z0-9_<>=+-]+)+$";

/// A Gauntlet scenario: one test set-up and the parameter sweep that turns it into cases.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Gauntlet scenario file")]
pub struct ScenarioFile {
    /// What this file is. Always `"scenario"` for scenario files.
    pub kind: ScenarioKind,
    /// Scenario name: the first part of every case ID, unique across all inputs
    /// (letters, digits and `._+-`, parts separated by `/`), e.g. `euro-ncap/ccrs`.
    #[schemars(regex(pattern = NAME_PATTERN), length(min = 1, max = 120))]
    pub name: String,
    /// What the scenario tests, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// Protocol tag, e.g. `euro-ncap-2026/ccrs` or `un-r152/car-stationary`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Where the numbers of this file come from (document, section, table).
    #[serde(default)]
    pub source: Option<String>,
    /// The threshold pack and rule that judge the cases of this scenario.
    #[serde(default)]
    pub judge: Option<Judge>,
    /// Operational design domain tags (ISO 34503 style).
    #[serde(default)]
    pub odd: Option<Odd>,
    /// Named constants and derived values, usable as `${name}` anywhere a value goes.
    /// A value may itself be an expression over other parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, ParamValue>,
    /// Parameter sweep: the grid and random samples that expand this scenario into cases.
    #[serde(default)]
    pub sweep: Option<Sweep>,
    /// Repeated runs inside one case (UN R152: 2 runs and 1 retry).
    #[serde(default)]
    pub repeats: Repeats,
    /// Duration, physics step and the rate of the system under test.
    pub timing: Timing,
    /// The road: straight or constant-radius curve, lanes, markings, edges, friction.
    pub road: Road,
    /// The vehicle under test.
    pub ego: Ego,
    /// Other road users and obstacles.
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Sensors of the vehicle under test: the object list, cameras and a satellite-positioning
    /// receiver.
    #[serde(default)]
    pub sensors: Option<Sensors>,
    /// Light of the scene as the camera renderer draws it: day or night, and the sun.
    #[serde(default)]
    pub lighting: Option<Lighting>,
    /// Image corruptions applied to camera frames between the renderer and the system: a
    /// chain for every camera, and chains for cameras by id.
    #[serde(default)]
    pub perturbations: Option<Perturbations>,
}

/// `[perturbations]`: ordered chains of `NAME:SEVERITY` / `NAME:PARAM=VALUE[,…]` specs (the
/// corruptions of `docs/perturbations.md`; `none` is the empty perturbation, for clean sweep
/// partners).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Perturbations {
    /// The chain of every camera without its own `[[perturbations.camera]]` entry.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub chain: Vec<String>,
    /// Chains for cameras by id (replacing `chain` for that camera).
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub camera: Vec<CameraPerturbations>,
}

/// The chain of one camera.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraPerturbations {
    /// The camera's id (`[[sensors.camera]] id`).
    #[schemars(regex(pattern = IDENT_PATTERN), length(min = 1, max = 64))]
    pub id: String,
    /// Its chain, applied in order.
    #[schemars(length(max = 16))]
    pub chain: Vec<String>,
}

/// Sensors of the vehicle under test.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sensors {
    /// The object list a radar/fusion stage delivers. Omitted: a perfect sensor.
    #[serde(default)]
    pub object_list: Option<ObjectListSensor>,
    /// Cameras on the vehicle under test (`[[sensors.camera]]`, several allowed), as the
    /// renderer draws them. Omitted: one front camera with the defaults.
    #[serde(default)]
    pub camera: Vec<CameraSensor>,
    /// A BeiDou positioning receiver moving with the ego (`[sensors.gnss]`): its fixes reach
    /// the system under test and localization is scored. Omitted: no receiver, no fixes.
    #[serde(default)]
    pub gnss: Option<GnssSensor>,
}

/// A satellite-positioning receiver on the ego (`docs/gnss.md`, closed loop).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GnssSensor {
    /// Receiver profile: `spp`, `sbas`, `ppp-b2b` or `rtk`.
    pub profile: GnssProfile,
    /// Reception environment wherever `segments` say nothing else.
    #[serde(default)]
    pub environment: GnssEnvironment,
    /// Environments along the road by station, e.g. an urban canyon from 800 m to 1400 m and a
    /// tunnel from 2000 m to 2600 m; segments must not overlap.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub segments: Vec<GnssSegment>,
    /// Fixes per second; must divide the physics rate.
    #[serde(default = "default_gnss_rate_hz")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 100))]
    pub rate_hz: f64,
    /// Age of a fix when the system receives it, seconds (whole physics steps).
    #[serde(default = "default_gnss_latency_s")]
    #[schemars(range(min = 0, max = 2))]
    pub latency_s: f64,
    /// Antenna position `[x, y, z]` in metres from the ground under the centre of the ego's
    /// footprint (x forward, y left, z up); fixes are of the antenna.
    #[serde(default = "default_lever_arm_m")]
    pub lever_arm_m: [f64; 3],
    /// Seconds the receiver runs at the start position before the run starts (PPP converges
    /// in minutes, RTK needs time to fix), at `rate_hz`.
    #[serde(default)]
    #[schemars(range(min = 0, max = 3600))]
    pub warm_up_s: f64,
    /// Horizontal alert limit of the Stanford-diagram counts, metres (default: Reid et al.
    /// 2019 freeway lateral limit 0.57 m; local streets 0.29 m).
    #[serde(default = "default_alert_limit_m")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub alert_limit_m: f64,
}

fn default_gnss_rate_hz() -> f64 {
    10.0
}
fn default_gnss_latency_s() -> f64 {
    0.05
}
fn default_lever_arm_m() -> [f64; 3] {
    [0.0, 0.0, 1.5]
}
fn default_alert_limit_m() -> f64 {
    0.57
}

/// A receiver profile (`gauntlet gnss --profile`).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GnssProfile {
    Spp,
    Sbas,
    #[serde(rename = "ppp-b2b")]
    PppB2b,
    Rtk,
}

/// A reception environment. In a scenario `tunnel` means inside a tunnel (every signal
/// blocked); `gauntlet gnss --environment tunnel` is a road with periodic tunnels.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GnssEnvironment {
    #[default]
    OpenSky,
    Suburban,
    UrbanCanyon,
    Tunnel,
}

/// The environment between two stations of the road.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GnssSegment {
    /// Start station, metres.
    #[schemars(range(min = 0, max = 100000))]
    pub from_m: f64,
    /// End station, metres (greater than `from_m`).
    #[schemars(range(min = 0, max = 100000))]
    pub to_m: f64,
    pub environment: GnssEnvironment,
}

/// Where the road frame is on the Earth (CGCS2000).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoOrigin {
    /// Latitude of station 0 on the reference line, degrees north.
    #[schemars(range(min = -89, max = 89))]
    pub lat_deg: f64,
    /// Longitude, degrees east.
    #[schemars(range(min = -180, max = 180))]
    pub lon_deg: f64,
    /// Ellipsoidal height, metres.
    #[serde(default)]
    #[schemars(range(min = -500, max = 9000))]
    pub height_m: f64,
    /// Direction of the road at station 0, degrees clockwise from north.
    #[serde(default)]
    #[schemars(range(min = 0, max = 360))]
    pub heading_deg: f64,
}

/// An object-list sensor model. Defaults describe a perfect sensor.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectListSensor {
    /// Full horizontal field of view, degrees.
    #[serde(default = "default_fov_deg")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 360))]
    pub fov_deg: f64,
    /// Range, metres.
    #[serde(default = "default_range_m")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub range_m: f64,
    /// Age of a measurement when the system receives it, seconds (whole physics steps).
    #[serde(default)]
    #[schemars(range(min = 0, max = 2))]
    pub latency_s: f64,
    /// Update rate, Hz (must divide the physics rate); omitted: every physics step.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub rate_hz: Option<f64>,
    /// Standard deviation of position noise, metres.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub pos_noise_sd_m: f64,
    /// Standard deviation of velocity noise, m/s.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub vel_noise_sd_mps: f64,
    /// Probability that an object is missing from one measurement.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub dropout_probability: f64,
}

/// A camera on the ego: a pinhole with optional radial distortion, mounted in the ego frame
/// (x forward, y left, z up from the ground under the centre of the footprint).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraSensor {
    /// Names the camera in file names and labels; unique within the scenario.
    #[serde(default = "default_camera_id")]
    #[schemars(regex(pattern = IDENT_PATTERN), length(min = 1, max = 64))]
    pub id: String,
    /// Image width, pixels.
    #[serde(default = "default_width_px")]
    #[schemars(range(min = 1, max = 4096))]
    pub width_px: u32,
    /// Image height, pixels.
    #[serde(default = "default_height_px")]
    #[schemars(range(min = 1, max = 4096))]
    pub height_px: u32,
    /// Horizontal field of view of the undistorted pinhole, degrees.
    #[serde(default = "default_hfov_deg")]
    #[schemars(range(min = 10, max = 170))]
    pub hfov_deg: f64,
    /// Mount position `[x, y, z]` in the ego frame, metres. Omitted: behind the windscreen,
    /// `[length/2 - 1.9, 0, 1.3]`.
    #[serde(default)]
    pub position_m: Option<[f64; 3]>,
    /// Yaw to the left, degrees.
    #[serde(default)]
    #[schemars(range(min = -180, max = 180))]
    pub yaw_deg: f64,
    /// Pitch, down positive, degrees.
    #[serde(default)]
    #[schemars(range(min = -90, max = 90))]
    pub pitch_deg: f64,
    /// Roll, clockwise seen from behind, degrees.
    #[serde(default)]
    #[schemars(range(min = -180, max = 180))]
    pub roll_deg: f64,
    /// Radial distortion coefficient k1 (Brown–Conrady, on normalised coordinates).
    #[serde(default)]
    #[schemars(range(min = -1, max = 1))]
    pub k1: f64,
    /// Radial distortion coefficient k2.
    #[serde(default)]
    #[schemars(range(min = -1, max = 1))]
    pub k2: f64,
    /// Frame rate, Hz (must divide the physics rate); for the closed loop with camera systems.
    #[serde(default = "default_camera_rate_hz")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub rate_hz: f64,
}

fn default_camera_id() -> String {
    "front".into()
}
fn default_width_px() -> u32 {
    1280
}
fn default_height_px() -> u32 {
    720
}
fn default_hfov_deg() -> f64 {
    60.0
}
fn default_camera_rate_hz() -> f64 {
    20.0
}

/// Light of the scene (`[lighting]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lighting {
    /// `day` (sun and sky) or `night` (about 1 lux ambient, the ego's headlights, lit tail
    /// lights). May be a word parameter: `light = "${light}"`.
    #[serde(default)]
    pub light: LightKind,
    /// Sun elevation above the horizon, degrees (day only).
    #[serde(default = "default_sun_elevation_deg")]
    #[schemars(range(min = 0, max = 90))]
    pub sun_elevation_deg: f64,
    /// Sun azimuth from the road's initial direction towards the left (counter-clockwise seen
    /// from above), degrees.
    #[serde(default = "default_sun_azimuth_deg")]
    #[schemars(range(min = -360, max = 360))]
    pub sun_azimuth_deg: f64,
}

fn default_sun_elevation_deg() -> f64 {
    45.0
}
fn default_sun_azimuth_deg() -> f64 {
    135.0
}

/// Day or night.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LightKind {
    #[default]
    Day,
    Night,
}

fn default_fov_deg() -> f64 {
    360.0
}
fn default_range_m() -> f64 {
    250.0
}

/// The `kind` of a scenario file.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    Scenario,
}

/// A parameter value: a number, a word, or an expression string over other parameters.
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum ParamValue {
    Number(f64),
    Text(String),
}

/// The threshold pack and rule that judge a case.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Judge {
    /// Threshold pack id, e.g. `un-r152-m1`, `euro-ncap-2026`, `cn-cdas-draft-2025`.
    #[schemars(regex(pattern = PACK_ID_PATTERN))]
    pub pack: String,
    /// Rule id inside the pack, e.g. `car-stationary`.
    #[schemars(regex(pattern = PACK_ID_PATTERN))]
    pub rule: String,
}

/// ODD tags in the three ISO 34503 groups, as dotted words (`scenery.road.motorway`,
/// `environment.illumination.night`, `dynamic.target.pedestrian`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Odd {
    /// Static elements: road type, geometry, lanes, surface, road edge.
    #[serde(default)]
    pub scenery: Vec<OddTag>,
    /// Weather, illumination, positioning and connectivity conditions.
    #[serde(default)]
    pub environment: Vec<OddTag>,
    /// Traffic participants and their manoeuvres; subject vehicle speed range.
    #[serde(default)]
    pub dynamic: Vec<OddTag>,
}

/// One ODD tag.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OddTag(#[schemars(regex(pattern = ODD_TAG_PATTERN))] pub String);

/// Parameter sweep: every combination of the grid values, each crossed with every random sample.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Grid dimensions: a list of values, or a range `{ from, to, step }` (both ends included).
    #[serde(default)]
    pub grid: BTreeMap<String, GridValues>,
    /// Seeded random samples.
    #[serde(default)]
    pub random: Option<RandomSweep>,
}

/// The values of one grid dimension.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum GridValues {
    /// Explicit values: numbers or words.
    List(Vec<ParamValue>),
    /// An inclusive range.
    Range(GridRange),
}

/// An inclusive range of numbers; values are `from + i·step`, rounded to 1e-9.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GridRange {
    pub from: f64,
    pub to: f64,
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub step: f64,
}

/// Random samples of some parameters, reproducible from the seed in the file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomSweep {
    /// Number of samples.
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
    /// Seed of the sampling (independent of `--seed`, so `list` knows every case).
    pub seed: u64,
    /// The distribution of each sampled parameter.
    pub params: BTreeMap<String, Distribution>,
}

/// A sampling distribution.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform on `[min, max]`.
    Uniform {
        min: f64,
        max: f64,
        /// Samples are rounded to a multiple of this (keeps case IDs readable).
        #[serde(default = "default_round_to")]
        #[schemars(extend("exclusiveMinimum" = 0))]
        round_to: f64,
    },
    /// Normal with mean and standard deviation, optionally truncated to `[min, max]`
    /// (samples outside are redrawn).
    Normal {
        mean: f64,
        #[schemars(extend("exclusiveMinimum" = 0))]
        sd: f64,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default = "default_round_to")]
        #[schemars(extend("exclusiveMinimum" = 0))]
        round_to: f64,
    },
}

fn default_round_to() -> f64 {
    0.001
}

/// Runs inside one case.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeats {
    /// Runs per case.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub runs: u32,
    /// Extra runs allowed when a run fails (UN R152 allows 1).
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub retries: u32,
}

impl Default for Repeats {
    fn default() -> Self {
        Repeats {
            runs: 1,
            retries: 0,
        }
    }
}

fn one() -> u32 {
    1
}

/// Timing of the simulation and of the system under test.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Longest simulated time of one run, in seconds.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 3600))]
    pub duration_s: f64,
    /// Physics step in seconds (at most 0.05 s; protocols log at ≥ 100 Hz).
    #[serde(default = "default_step_s")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 0.05))]
    pub step_s: f64,
    /// Rate at which the system under test is called, in Hz; must divide the physics rate.
    #[serde(default = "default_sut_rate_hz")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1000))]
    pub sut_rate_hz: f64,
    /// Delay between an observation and its command taking effect, in seconds
    /// (a whole number of physics steps).
    #[serde(default)]
    #[schemars(range(min = 0, max = 2))]
    pub sut_latency_s: f64,
}

fn default_step_s() -> f64 {
    0.01
}
fn default_sut_rate_hz() -> f64 {
    20.0
}

/// The road. Road frame: x along the centre line of the ego's lane (station), y to the left, z up.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Road {
    /// `straight` or `curve` (constant radius).
    #[serde(default)]
    pub shape: RoadShape,
    /// Radius of a curve in metres, measured to the centre line of the ego's lane.
    #[serde(default)]
    #[schemars(range(min = 10, max = 100000))]
    pub radius_m: Option<f64>,
    /// Direction of a curve.
    #[serde(default)]
    pub turn: Option<Turn>,
    /// Length of the road in metres, from station 0.
    #[serde(default = "default_road_length_m")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 100000))]
    pub length_m: f64,
    /// Tyre–road friction coefficient.
    #[serde(default = "default_friction")]
    #[schemars(range(min = 0.05, max = 1.5))]
    pub friction: f64,
    /// Lanes from right to left; lane numbers count from 1 on the right.
    #[schemars(length(min = 1, max = 8))]
    pub lanes: Vec<Lane>,
    /// Lane markings from the right edge of lane 1 to the left edge of the last lane
    /// (one more than there are lanes).
    pub markings: Vec<Marking>,
    /// Width of painted lines in metres.
    #[serde(default = "default_marking_width_m")]
    #[schemars(range(min = 0.05, max = 0.5))]
    pub marking_width_m: f64,
    /// What lies beyond the right-most marking.
    #[serde(default)]
    pub edge_right: RoadEdge,
    /// What lies beyond the left-most marking.
    #[serde(default)]
    pub edge_left: RoadEdge,
    /// Where station 0 is on the Earth and where the road points, for satellite positioning.
    /// Omitted: Wuhan (30.52°N, 114.36°E, 40 m), the road pointing north.
    #[serde(default)]
    pub origin: Option<GeoOrigin>,
}

fn default_road_length_m() -> f64 {
    1000.0
}
fn default_friction() -> f64 {
    1.0
}
fn default_marking_width_m() -> f64 {
    0.15
}

/// Road shape.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoadShape {
    #[default]
    Straight,
    Curve,
}

/// Direction of a curve, seen from the ego.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    Left,
    Right,
}

/// One lane.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    /// Width in metres.
    #[schemars(range(min = 2, max = 6))]
    pub width_m: f64,
    /// Direction of travel relative to the ego's.
    #[serde(default)]
    pub direction: LaneDirection,
}

/// Direction of travel of a lane.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LaneDirection {
    #[default]
    Same,
    Oncoming,
}

/// A lane marking.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Marking {
    None,
    Solid,
    Dashed,
    DoubleSolid,
}

/// The road edge beyond the outermost marking.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoadEdge {
    /// What is there: `grass` (a verge), `gravel`, `curb`, `barrier`.
    #[serde(default)]
    pub kind: EdgeKind,
    /// Paved shoulder between the marking and the edge, in metres.
    #[serde(default = "default_shoulder_m")]
    #[schemars(range(min = 0, max = 5))]
    pub shoulder_m: f64,
}

impl Default for RoadEdge {
    fn default() -> Self {
        RoadEdge {
            kind: EdgeKind::default(),
            shoulder_m: default_shoulder_m(),
        }
    }
}

fn default_shoulder_m() -> f64 {
    0.5
}

/// Kind of road edge.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    #[default]
    Grass,
    Gravel,
    Curb,
    Barrier,
}

/// The vehicle under test.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ego {
    /// Initial speed in km/h; the test driver holds it until the system under test intervenes.
    #[schemars(range(min = 0, max = 250))]
    pub speed_kph: f64,
    /// Lane number (1 = right-most).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 8))]
    pub lane: u32,
    /// Lateral offset from the lane centre in metres (positive to the left).
    #[serde(default)]
    #[schemars(range(min = -3, max = 3))]
    pub lateral_offset_m: f64,
    /// Initial station of the footprint centre, in metres.
    #[serde(default = "default_ego_station_m")]
    #[schemars(range(min = 0))]
    pub station_m: f64,
    /// Length in metres.
    #[serde(default = "default_ego_length_m")]
    #[schemars(range(min = 1, max = 20))]
    pub length_m: f64,
    /// Width in metres (without mirrors).
    #[serde(default = "default_ego_width_m")]
    #[schemars(range(min = 0.5, max = 3))]
    pub width_m: f64,
    /// Wheelbase in metres.
    #[serde(default = "default_wheelbase_m")]
    #[schemars(range(min = 0.5, max = 10))]
    pub wheelbase_m: f64,
    /// Mass in kilograms.
    #[serde(default = "default_mass_kg")]
    #[schemars(range(min = 100, max = 60000))]
    pub mass_kg: f64,
    /// Actuator and comfort limits.
    #[serde(default)]
    pub limits: EgoLimits,
    /// First-order lag of the actuators (time constant), in seconds.
    #[serde(default = "default_actuator_lag_s")]
    #[schemars(range(min = 0, max = 2))]
    pub actuator_lag_s: f64,
    /// UN vehicle category (UN R.E.3): `M1` (cars), `N1` (light goods vehicles), `M2`, `M3`
    /// (buses and coaches), `N2`, `N3` (heavy goods vehicles). Threshold-pack rules restricted
    /// by `vehicle_categories` apply only to egos of a listed category.
    #[serde(default)]
    pub category: VehicleCategory,
}

/// A UN vehicle category (Consolidated Resolution R.E.3): `M1` passenger cars (at most 8
/// seats besides the driver's), `M2` and `M3` buses (more than 8 passenger seats, up to and over
/// 5 t), `N1` goods vehicles up to 3.5 t, `N2` over 3.5 t up to 12 t, `N3` over 12 t.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum VehicleCategory {
    #[default]
    M1,
    N1,
    M2,
    M3,
    N2,
    N3,
}

impl VehicleCategory {
    /// The category as written in files and in threshold packs' `vehicle_categories`.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleCategory::M1 => "M1",
            VehicleCategory::N1 => "N1",
            VehicleCategory::M2 => "M2",
            VehicleCategory::M3 => "M3",
            VehicleCategory::N2 => "N2",
            VehicleCategory::N3 => "N3",
        }
    }
}

fn default_ego_station_m() -> f64 {
    20.0
}
fn default_ego_length_m() -> f64 {
    4.6
}
fn default_ego_width_m() -> f64 {
    1.8
}
fn default_wheelbase_m() -> f64 {
    2.7
}
fn default_mass_kg() -> f64 {
    1600.0
}
fn default_actuator_lag_s() -> f64 {
    0.15
}

/// Limits of the ego's actuators.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgoLimits {
    /// Largest forward acceleration, m/s².
    #[serde(default = "default_max_accel_mps2")]
    #[schemars(range(min = 0, max = 15))]
    pub max_accel_mps2: f64,
    /// Largest deceleration (positive), m/s²; friction may limit it further.
    #[serde(default = "default_max_decel_mps2")]
    #[schemars(range(min = 0, max = 15))]
    pub max_decel_mps2: f64,
    /// Largest rate of change of acceleration, m/s³.
    #[serde(default = "default_max_jerk_mps3")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 10000))]
    pub max_jerk_mps3: f64,
    /// Largest road-wheel steering angle, rad.
    #[serde(default = "default_max_steer_rad")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 1.2))]
    pub max_steer_rad: f64,
    /// Largest steering rate, rad/s.
    #[serde(default = "default_max_steer_rate_radps")]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 10))]
    pub max_steer_rate_radps: f64,
}

impl Default for EgoLimits {
    fn default() -> Self {
        EgoLimits {
            max_accel_mps2: default_max_accel_mps2(),
            max_decel_mps2: default_max_decel_mps2(),
            max_jerk_mps3: default_max_jerk_mps3(),
            max_steer_rad: default_max_steer_rad(),
            max_steer_rate_radps: default_max_steer_rate_radps(),
        }
    }
}

fn default_max_accel_mps2() -> f64 {
    3.0
}
fn default_max_decel_mps2() -> f64 {
    10.0
}
fn default_max_jerk_mps3() -> f64 {
    50.0
}
fn default_max_steer_rad() -> f64 {
    0.6
}
fn default_max_steer_rate_radps() -> f64 {
    1.0
}

/// Another road user or an obstacle.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// Unique id within the scenario (not `ego`), used by triggers.
    #[schemars(regex(pattern = IDENT_PATTERN), length(max = 64))]
    pub id: String,
    /// What it is: `car` (a Euro NCAP global vehicle target), `pedestrian`, `cyclist`,
    /// `motorcycle`, or a static object: `cone`, `barrier`, `box` (the China draft's 50 cm box),
    /// `overturned_car`.
    #[serde(rename = "type")]
    pub actor_type: ActorType,
    /// Pedestrian size: `adult` or `child` (pedestrians only).
    #[serde(default)]
    pub variant: Option<PedestrianVariant>,
    /// Length in metres (default per type).
    #[serde(default)]
    #[schemars(range(min = 0.1, max = 25))]
    pub length_m: Option<f64>,
    /// Width in metres (default per type).
    #[serde(default)]
    #[schemars(range(min = 0.1, max = 5))]
    pub width_m: Option<f64>,
    /// Height in metres (default per type).
    #[serde(default)]
    #[schemars(range(min = 0.1, max = 5))]
    pub height_m: Option<f64>,
    /// Initial speed in km/h along its heading.
    #[serde(default)]
    #[schemars(range(min = 0, max = 250))]
    pub speed_kph: f64,
    /// Heading relative to the road direction at its station, in degrees (positive to the left);
    /// 180 for a vehicle coming the other way. Crossing actors get theirs from the crossing
    /// (giving one is an error).
    #[serde(default)]
    #[schemars(range(min = -180, max = 180))]
    pub heading_deg: f64,
    /// Where it starts. Required except for crossing actors, which are placed by their crossing.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// What it does.
    #[serde(default)]
    pub behaviour: Behaviour,
}

/// Kind of actor.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    Car,
    Pedestrian,
    Cyclist,
    Motorcycle,
    Cone,
    Barrier,
    Box,
    OverturnedCar,
}

/// Pedestrian size.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PedestrianVariant {
    Adult,
    Child,
}

/// Initial placement of an actor. Longitudinal position by one of `gap_m`, `ttc_s`,
/// `headway_s` (relative to the ego) or `station_m` (absolute); lateral position by `lane`
/// and `lateral_offset_m`, or by `overlap_pct` with the ego.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Gap from the ego's front to the actor's rear along the road, in metres.
    #[serde(default)]
    pub gap_m: Option<f64>,
    /// Gap given as time to collision at the initial speeds, in seconds.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub ttc_s: Option<f64>,
    /// Gap given as time headway at the ego's initial speed, in seconds.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub headway_s: Option<f64>,
    /// Absolute station of the footprint centre, in metres.
    #[serde(default)]
    pub station_m: Option<f64>,
    /// Lane number (1 = right-most); defaults to the ego's lane.
    #[serde(default)]
    #[schemars(range(min = 1, max = 8))]
    pub lane: Option<u32>,
    /// Lateral offset from the lane centre in metres (positive to the left).
    #[serde(default)]
    #[schemars(range(min = -20, max = 20))]
    pub lateral_offset_m: Option<f64>,
    /// Euro NCAP overlap with the ego in percent of the ego's width: ±(0, 100];
    /// positive shifts the actor to the left of the ego, negative to the right.
    #[serde(default)]
    #[schemars(range(min = -100, max = 100))]
    pub overlap_pct: Option<f64>,
}

/// What an actor does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// Does not move.
    Stationary {},
    /// Keeps its initial speed and lane.
    ConstantSpeed {},
    /// Keeps its speed until the trigger, then brakes.
    Braking {
        /// When braking starts.
        trigger: Trigger,
        /// Deceleration (positive), m/s².
        #[schemars(extend("exclusiveMinimum" = 0), range(max = 15))]
        decel_mps2: f64,
        /// Jerk of the brake build-up, m/s³; omitted means a step.
        #[serde(default)]
        #[schemars(extend("exclusiveMinimum" = 0))]
        jerk_mps3: Option<f64>,
        /// Speed at which braking ends, km/h.
        #[serde(default)]
        #[schemars(range(min = 0))]
        to_speed_kph: f64,
    },
    /// Changes lane. Start by `trigger`, or by `end_ttc_s` (the change ends when the time to
    /// collision with the ego reaches this value, as UN R157 and the China draft define
    /// cut-ins); shape by `lateral_accel_mps2` or `duration_s`.
    LaneChange(LaneChange),
    /// A lane change into the ego's lane from another lane.
    CutIn(LaneChange),
    /// A lane change out of the ego's lane.
    CutOut(LaneChange),
    /// Crosses the ego's path at right angles, placed so that it would hit the ego's front at
    /// `impact_point_pct` if the ego kept its speed.
    Crossing(Crossing),
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour::ConstantSpeed {}
    }
}

/// A lane change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneChange {
    /// Target lane; a cut-in defaults to the ego's lane, a cut-out to the adjacent lane on the
    /// left if there is one, else on the right.
    #[serde(default)]
    #[schemars(range(min = 1, max = 8))]
    pub to_lane: Option<u32>,
    /// When the lane change starts.
    #[serde(default)]
    pub trigger: Option<Trigger>,
    /// Alternatively: time to collision with the ego at the end of the lane change, seconds.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub end_ttc_s: Option<f64>,
    /// Peak lateral acceleration of the (symmetric) lateral profile, m/s².
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 10))]
    pub lateral_accel_mps2: Option<f64>,
    /// Alternatively: duration of the lateral movement, seconds.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 30))]
    pub duration_s: Option<f64>,
    /// Speed to reach during the lane change, km/h (default: keep speed).
    #[serde(default)]
    #[schemars(range(min = 0, max = 250))]
    pub speed_kph: Option<f64>,
}

/// A crossing manoeuvre (Euro NCAP pedestrian and cyclist tests).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crossing {
    /// Side it comes from, seen from the ego: `right` (nearside in right-hand traffic) or `left`.
    pub from: Side,
    /// Impact point on the ego's front, in percent of its width measured from the side the
    /// actor comes from (Euro NCAP; 50 = centre).
    #[schemars(range(min = 0, max = 100))]
    pub impact_point_pct: f64,
    /// Distance travelled from the start to the impact point, in metres.
    #[schemars(extend("exclusiveMinimum" = 0), range(max = 100))]
    pub start_distance_m: f64,
    /// Distance over which it accelerates from rest to its speed, in metres (Euro NCAP:
    /// 1 m for pedestrians).
    #[serde(default)]
    #[schemars(range(min = 0, max = 50))]
    pub accel_distance_m: f64,
}

/// A side seen from the ego.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

/// A condition that starts a behaviour. Distance, TTC and headway conditions are measured
/// between the ego and `actor` (default: the actor that owns the behaviour).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// At a simulation time.
    Time {
        #[schemars(range(min = 0))]
        at_s: f64,
    },
    /// When the ego reaches a station.
    EgoStation {
        #[schemars(range(min = 0))]
        at_m: f64,
    },
    /// When the bumper-to-bumper gap falls below a distance.
    Distance {
        #[schemars(extend("exclusiveMinimum" = 0))]
        below_m: f64,
        #[serde(default)]
        actor: Option<String>,
    },
    /// When the time to collision falls below a value.
    Ttc {
        #[schemars(extend("exclusiveMinimum" = 0))]
        below_s: f64,
        #[serde(default)]
        actor: Option<String>,
    },
    /// When the ego's time headway to the actor falls below a value.
    Headway {
        #[schemars(extend("exclusiveMinimum" = 0))]
        below_s: f64,
        #[serde(default)]
        actor: Option<String>,
    },
}
